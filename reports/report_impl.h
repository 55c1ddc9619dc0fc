/*
 * report_impl.h - what the report's parts share: report.c (the answer, the
 * flagged runs, the order of the page), report_tables.c (the detail tables)
 * and plots.c (gnuplot). Not a public header.
 */
#ifndef TB_REPORT_IMPL_H
#define TB_REPORT_IMPL_H

#include <stdbool.h>

#include "claims.h"
#include "report_out.h"
#include "results.h"

/* How far a measured speedup may lie from a published one and still be
 * called a match: the interval must lie within published x (1 +- this). */
#define TB_MATCH_TOLERANCE 0.10

/* What the report shows of each machine: its largest thread count and its
 * decoding test (tgN; else the first test). */
typedef struct tb_mview {
    int threads;
    char test[32];
} tb_mview;

/* The report's reading of a result document. */
typedef struct tb_report {
    const tb_results *r;
    tb_mview *view;            /* per machine */
    const char *dir;
} tb_report;

bool tb_fmt_ternary(const char *fmt);

/* The published figure a machine's speedups are set beside: x86 or ARM by
 * its architecture; 0 where none was published for the size. */
double tb_published_speedup(const tb_rmachine *m, const tb_claim *c);
const char *tb_published_where(const tb_rmachine *m);

/* Prompts at batch 1 and decoding are what bitnet.cpp published. */
bool tb_test_comparable(const tb_rrun *run);

/* A verdict on a speedup against a published figure: "above", "below",
 * "matches (within +-10 %)", or why there is none ("inconclusive ..."). */
void tb_verdict(const tb_rcomp *c, double published, char *buf, size_t cap);

/* "3.91x [3.80, 4.02]" */
void tb_ratio_text(const tb_ratio *q, char *buf, size_t cap);

/* The comparison of machine m, threads and test between the ternary model
 * and a baseline chosen by `pick` (see report.c), or NULL. */

/* plots.c: writes the .dat files, plots.gp, and (with gnuplot) .png and .svg
 * into dir; says which charts have data. */
typedef struct tb_plots {
    int gnuplot;               /* 0 rendered, -1 gnuplot failed, -2 no gnuplot */
    bool speedup, tokens, roofline, threads, energy;
} tb_plots;
int tb_plots_write(const tb_report *rep, tb_plots *p, tb_error *err);

/* report_tables.c: the detail sections. */
void tb_report_speedups(const tb_report *rep, tb_rout *o);
void tb_report_tokens(const tb_report *rep, tb_rout *o);
void tb_report_energy(const tb_report *rep, tb_rout *o);
void tb_report_machines(const tb_report *rep, tb_rout *o);
/* --quality: speedups over the f16 twin and q4_k beside perplexity and KL
 * (nothing without quality entries). */
void tb_report_quality(const tb_report *rep, tb_rout *o);
/* Each engine's tokens/s side by side, when peers ran (else nothing). */
void tb_report_engines(const tb_report *rep, tb_rout *o);

#endif
