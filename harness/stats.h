/*
 * stats.h - the statistics every ternbench figure is reported with.
 *
 * A summary of repeated measurements: median, mean, sample standard
 * deviation, min, max, and a 95 % confidence interval for the median by the
 * percentile bootstrap (2000 resamples, a fixed seed, so a document is
 * reproducible from its samples). With fewer than 3 samples there is no
 * interval: has_ci is false and reports show none.
 */
#ifndef TB_STATS_H
#define TB_STATS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct tb_summary {
    int n;
    double median, mean, stddev, min, max;
    bool has_ci;
    double ci_lo, ci_hi;
} tb_summary;

enum { TB_BOOTSTRAP_RESAMPLES = 2000 };

/* x is not modified. n == 0 gives an all-zero summary. */
void tb_summarize(const double *x, int n, tb_summary *out);

double tb_median(const double *x, int n);

/* {median, mean, stddev, min, max, ci95: [lo, hi] | null, samples: [...]} */
json_t *tb_summary_to_json(const tb_summary *s, const double *samples, int n);

#endif
