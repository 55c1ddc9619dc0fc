/*
 * history.h - change points in a series of result documents (the main
 * branch's runs, oldest first): `ternbench history`.
 *
 * A gate compares one run with another; a history shows where a metric
 * moved and stayed moved. Each metric (a comparison's speedup, a run's
 * tokens/s, a run's counted instructions per token) becomes a series of one
 * value per document, and the series is split by E-divisive means
 * (Matteson & James, 2014; as MongoDB's and Hunter's CI use): the split that
 * maximises the energy distance between the two sides, kept when a
 * permutation test (199 seeded permutations) gives p < alpha, then each side
 * again. Under no change, a series is wrongly split with probability at most
 * alpha (0.05 by default) at its first test.
 */
#ifndef TB_HISTORY_H
#define TB_HISTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "tb_error.h"

enum { TB_HISTORY_MAX = 256 };

typedef struct tb_change {
    int at;                    /* the first index after the change */
    double p;                  /* the permutation test's p-value */
    double before, after;      /* the means of the two segments around it */
} tb_change;

/* Change points of x[0..n), at most cap, in index order; segments shorter
 * than min_size are not split. Deterministic (seeded permutations). */
int tb_history_changes(const double *x, int n, double alpha, int min_size, tb_change *out, int cap);

/* Reads docs (oldest first), prints a table of every metric's change points
 * to out, and writes history.dat, history.gp and (with gnuplot) the charts
 * into dir when dir is not NULL. *changes gets how many were found. */
int tb_history_report(json_t *const *docs, const char *const *names, int n, double alpha,
                      FILE *out, const char *dir, int *changes, tb_error *err);

#endif
