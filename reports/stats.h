/*
 * stats.h - the statistics every ternbench figure is reported with, and the
 * intervals behind every verdict.
 *
 * Three kinds of figure, three intervals, each chosen so that the coverage it
 * states is the coverage it has at the sample sizes a benchmark affords:
 *
 *   - one run's repetitions (tokens/s, joules per token, ...): the median and
 *     a distribution-free interval between two order statistics. Its coverage
 *     is exact for any continuous distribution, but discrete: the widest pair,
 *     [min, max], covers the median with probability 1 - 2^(1-n) only (75 % at
 *     n = 3, 93.75 % at 5), and 95 % needs n >= 6. The level achieved is
 *     stated beside the interval, never rounded up to 95 %.
 *   - a paired ratio (a speedup: ternary over baseline in the same
 *     repetitions): the geometric mean of the per-repetition ratios and a
 *     Student-t interval on their logarithms, exact when the log ratios are
 *     normal and usable from two pairs on.
 *   - the ratio of two independent sets (a figure of one document against the
 *     same figure of another): the ratio of geometric means and a two-sample
 *     t interval on the logarithms with the unpooled standard error (Welch),
 *     on 2n - 2 degrees of freedom when both sets have n values (exact under
 *     equal variances, robust to unequal ones at equal sizes), else
 *     Welch-Satterthwaite's.
 *
 * With too few samples for any interval there is none (has_ci false), and a
 * verdict that would need one is withheld.
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
    double ci_level;           /* the coverage the interval has (0.75 .. 1) */
} tb_summary;

/* The interval's target coverage. */
#define TB_CI_TARGET 0.95

/* Median, mean, sample standard deviation, min, max and the order-statistic
 * interval of the median (n >= 2). x is not modified; n == 0 gives an
 * all-zero summary. */
void tb_summarize(const double *x, int n, tb_summary *out);

double tb_median(const double *x, int n);

/* The order statistics (1-based ranks lo_rank <= hi_rank = n + 1 - lo_rank)
 * whose interval covers the median with at least TB_CI_TARGET, or [1, n]
 * when no pair does; *level gets the exact coverage. n >= 2. */
void tb_median_ci_ranks(int n, int *lo_rank, double *level);

/* The smallest n whose median interval reaches TB_CI_TARGET (6). */
int tb_median_ci_min_n(void);

/* A ratio with its interval: estimate = exp(mean of the logs). */
typedef struct tb_ratio {
    int n;                     /* pairs (paired) or the smaller set (Welch) */
    double estimate;           /* geometric mean ratio */
    double median;             /* median of the paired ratios (paired only) */
    bool has_ci;
    double lo, hi;             /* TB_CI_TARGET interval */
    double half_width;         /* relative: max(hi / estimate, estimate / lo) - 1 */
} tb_ratio;

/* a[i] / b[i] over n pairs (every value > 0). n < 2: no interval. */
void tb_ratio_paired(const double *a, const double *b, int n, tb_ratio *out);

/* The same from ratios r[i] already formed. */
void tb_ratio_of(const double *r, int n, tb_ratio *out);

/* geomean(y) / geomean(x) of two independent sets (values > 0); an interval
 * when each set has at least 2 values. */
void tb_ratio_welch(const double *x, int nx, const double *y, int ny, tb_ratio *out);

/* The mean of x with its TB_CI_TARGET Student-t interval (n >= 2; else
 * *has_ci is false). For paired differences. */
void tb_mean_t(const double *x, int n, double *mean, double *lo, double *hi, bool *has_ci);

/* Student's t: the two-sided (1 - alpha) quantile t such that
 * P(|T_df| <= t) = 1 - alpha; df > 0 need not be an integer. */
double tb_t_quantile(double df, double alpha);

/* {median, mean, stddev, min, max, n, ci: [lo, hi] | null, ci_level,
 *  ci_method: "order statistics", samples: [...]} */
json_t *tb_summary_to_json(const tb_summary *s, const double *samples, int n);

/* {estimate, median, n, ci: [lo, hi] | null, ci_level, ci_method:
 *  "t on log ratios", samples: [...]} (samples: the per-pair ratios) */
json_t *tb_ratio_to_json(const tb_ratio *r, const double *ratios, int n);

/* "[lo, hi]" with its level when it falls short of TB_CI_TARGET
 * ("[lo, hi] (75 %)"), or "-" without an interval; prec decimals. */
void tb_ci_text(const tb_summary *s, int prec, char *buf, size_t cap);

#endif
