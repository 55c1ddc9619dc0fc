/*
 * compare.h - result documents side by side: `ternbench compare` prints
 * every configuration's change with its interval, `ternbench gate` turns it
 * into an exit status for CI, `ternbench merge` combines documents from
 * several machines. Reads JSON only (through results.h).
 *
 * A configuration is one machine's comparison or run: (machine, model[,
 * baseline], test, batch, threads). Two single-machine documents pair their
 * machines whatever their names (a CI runner against a baseline made
 * elsewhere); merged documents pair machine with machine by key.
 *
 * What is compared, preferring quantities that survive a change of machine:
 *   - each comparison's speedup (ternary over baseline, from the paired
 *     repetitions of one run), always;
 *   - each run's tokens/s, only between the same machine (and not with
 *     ratios_only);
 *   - each run's instructions per token, wherever both documents counted
 *     them with the same kernels (valgrind's callgrind, or a PMU): counted,
 *     not timed, so the machine's weather does not move them.
 *
 * Against one baseline document the change is new / base with a two-sample
 * t interval on the logs (stats.h); a regression is called when the whole
 * interval lies below 1 - threshold. Against several (a history of the main
 * branch) each metric's threshold is also derived from the baselines'
 * spread: the lower bound of a 99.9 % prediction interval for one more
 * run, so that the weather seen between those runs is not called a
 * regression; the threshold given is then the least one used.
 *
 * A/B (ab): one document, no baseline. bench ran this build and another
 * build of ternbench (as a peer) interleaved, round by round; each model's
 * paired ratio this/other, with its interval, is judged against the
 * threshold. The machine's drift falls on both builds alike, so the
 * threshold need not allow for it.
 *
 * No verdict is drawn where there is nothing to draw it from: a figure with
 * one repetition ("inconclusive (n = 1)") or a run the machine disturbed
 * ("inconclusive: tainted").
 */
#ifndef TB_COMPARE_H
#define TB_COMPARE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "tb_error.h"

typedef struct tb_compare_opts {
    double max_regression;     /* timed metrics (speedups, tokens/s) */
    double max_counted;        /* counted metrics (instructions per token) */
    bool ratios_only;          /* never absolute tokens/s */
    bool ab;                   /* no baselines: the new document's comparisons of this build
                                * over another build of ternbench, run as a peer in the same
                                * run (bench --peer NAME=OTHER/ternbench) */
} tb_compare_opts;

typedef struct tb_compare_summary {
    int compared;        /* configurations found in both */
    int regressions;     /* clearly worse than the threshold allows */
    int improvements;    /* clearly better by more than the threshold */
    int inconclusive;    /* no verdict: too few repetitions or a tainted run */
    int counted;         /* of the compared, on counted instructions */
    bool same_machine;
} tb_compare_summary;

/* Prints one line per configuration to out (a markdown table) and the notes
 * under it; bases[0..nbases) are the baseline documents (one, or a history;
 * none with ab). */
int tb_compare_docs(json_t *const *bases, int nbases, json_t *cur, const tb_compare_opts *o,
                    FILE *out, tb_compare_summary *sum, tb_error *err);

/* Combines documents: runs and comparisons concatenated, each run and
 * comparison keeping its machine (a "machine" member added); the top-level
 * machine lists them all. Steals nothing. */
json_t *tb_merge_docs(json_t *const *docs, int n, tb_error *err);

#endif
