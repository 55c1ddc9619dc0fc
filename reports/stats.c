/* stats.c - see stats.h. */
#include "stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_sorted(const double *s, int n)
{
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static double *sorted_copy(const double *x, int n)
{
    double *s = malloc((size_t)n * sizeof *s);
    if (s) {
        memcpy(s, x, (size_t)n * sizeof *s);
        qsort(s, (size_t)n, sizeof *s, cmp_double);
    }
    return s;
}

double tb_median(const double *x, int n)
{
    if (n <= 0)
        return 0;
    double *s = sorted_copy(x, n);
    if (!s)
        return NAN;
    double m = median_sorted(s, n);
    free(s);
    return m;
}

/* ---- the median's interval: order statistics ---- */

/* P(B <= j) for B ~ Binomial(n, 1/2), exactly enough for n up to a few hundred. */
static double binom_half_cdf(int n, int j)
{
    double term = exp(-n * log(2.0)), sum = 0; /* C(n, 0) / 2^n */
    for (int i = 0; i <= j; i++) {
        sum += term;
        term *= (double)(n - i) / (i + 1);
    }
    return sum;
}

/* [x(k), x(n+1-k)] misses the median when at most k-1 samples lie below it
 * or at most k-1 above: coverage 1 - 2 P(B <= k-1). The largest k that keeps
 * the coverage at the target gives the narrowest such interval. */
void tb_median_ci_ranks(int n, int *lo_rank, double *level)
{
    int k = 1;
    while (k + 1 <= (n + 1) / 2 && 1 - 2 * binom_half_cdf(n, k) >= TB_CI_TARGET)
        k++;
    *lo_rank = k;
    *level = 1 - 2 * binom_half_cdf(n, k - 1);
}

int tb_median_ci_min_n(void)
{
    int n = 2;
    double level;
    int k;
    for (tb_median_ci_ranks(n, &k, &level); level < TB_CI_TARGET; tb_median_ci_ranks(++n, &k, &level))
        ;
    return n;
}

void tb_summarize(const double *x, int n, tb_summary *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n <= 0)
        return;
    double *s = sorted_copy(x, n);
    if (!s) {
        out->median = NAN;
        return;
    }
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += s[i];
    out->mean = sum / n;
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (s[i] - out->mean) * (s[i] - out->mean);
    out->stddev = n > 1 ? sqrt(ss / (n - 1)) : 0;
    out->min = s[0];
    out->max = s[n - 1];
    out->median = median_sorted(s, n);
    if (n >= 2) {
        int k;
        tb_median_ci_ranks(n, &k, &out->ci_level);
        out->ci_lo = s[k - 1];
        out->ci_hi = s[n - k];
        out->has_ci = true;
    }
    free(s);
}

/* ---- Student's t ---- */

/* The continued fraction of the regularised incomplete beta function
 * (modified Lentz), converging for x < (a + 1) / (a + b + 2). */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    d = 1 / (fabs(d) < tiny ? tiny : d);
    double h = d;
    for (int m = 1; m <= 300; m++) {
        for (int step = 0; step < 2; step++) {
            double num = step == 0 ? m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
                                   : -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
            d = 1 + num * d;
            d = 1 / (fabs(d) < tiny ? tiny : d);
            c = 1 + num / c;
            c = fabs(c) < tiny ? tiny : c;
            h *= d * c;
            if (step == 1 && fabs(d * c - 1) < 1e-15)
                return h;
        }
    }
    return h;
}

/* I_x(a, b). */
static double beta_inc(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    if (x < (a + 1) / (a + b + 2))
        return front * beta_cf(a, b, x) / a;
    return 1 - front * beta_cf(b, a, 1 - x) / b;
}

/* P(|T| > t) for T ~ t(df). */
static double t_two_tail(double t, double df)
{
    return beta_inc(df / 2, 0.5, df / (df + t * t));
}

double tb_t_quantile(double df, double alpha)
{
    double lo = 0, hi = 1;
    while (t_two_tail(hi, df) > alpha && hi < 1e12)
        hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (t_two_tail(mid, df) > alpha)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

void tb_mean_t(const double *x, int n, double *mean, double *lo, double *hi, bool *has_ci)
{
    double m = 0, ss = 0;
    for (int i = 0; i < n; i++)
        m += x[i];
    m = n > 0 ? m / n : 0;
    for (int i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    *mean = m;
    *has_ci = n >= 2;
    double h = n >= 2 ? tb_t_quantile(n - 1, 1 - TB_CI_TARGET) * sqrt(ss / (n - 1) / n) : 0;
    *lo = m - h;
    *hi = m + h;
}

/* ---- ratios ---- */

static void mean_var_logs(const double *r, int n, double *mean, double *var)
{
    double m = 0, ss = 0;
    for (int i = 0; i < n; i++)
        m += log(r[i]);
    m /= n;
    for (int i = 0; i < n; i++)
        ss += (log(r[i]) - m) * (log(r[i]) - m);
    *mean = m;
    *var = n > 1 ? ss / (n - 1) : 0;
}

static void set_interval(tb_ratio *out, double log_est, double half_log)
{
    out->estimate = exp(log_est);
    out->lo = exp(log_est - half_log);
    out->hi = exp(log_est + half_log);
    out->half_width = expm1(half_log);
    out->has_ci = true;
}

void tb_ratio_of(const double *r, int n, tb_ratio *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n <= 0)
        return;
    double mean, var;
    mean_var_logs(r, n, &mean, &var);
    out->estimate = exp(mean);
    out->median = tb_median(r, n);
    if (n >= 2)
        set_interval(out, mean, tb_t_quantile(n - 1, 1 - TB_CI_TARGET) * sqrt(var / n));
}

void tb_ratio_paired(const double *a, const double *b, int n, tb_ratio *out)
{
    double *r = malloc((size_t)(n > 0 ? n : 1) * sizeof *r);
    if (!r) {
        memset(out, 0, sizeof *out);
        return;
    }
    for (int i = 0; i < n; i++)
        r[i] = a[i] / b[i];
    tb_ratio_of(r, n, out);
    free(r);
}

void tb_ratio_welch(const double *x, int nx, const double *y, int ny, tb_ratio *out)
{
    memset(out, 0, sizeof *out);
    out->n = nx < ny ? nx : ny;
    if (nx <= 0 || ny <= 0)
        return;
    double mx, vx, my, vy;
    mean_var_logs(x, nx, &mx, &vx);
    mean_var_logs(y, ny, &my, &vy);
    out->estimate = exp(my - mx);
    if (nx < 2 || ny < 2)
        return;
    double sx = vx / nx, sy = vy / ny, se2 = sx + sy;
    if (se2 <= 0) { /* two constant sets: a point, known exactly */
        set_interval(out, my - mx, 0);
        return;
    }
    /* Equal sizes: the pooled degrees of freedom, exact under equal variances
     * and robust to unequal ones when the sizes match (Welch's own are
     * conservative there: 96.7 % at n = 3 where 95 % is printed). */
    double df = nx == ny ? 2.0 * (nx - 1) : se2 * se2 / (sx * sx / (nx - 1) + sy * sy / (ny - 1));
    set_interval(out, my - mx, tb_t_quantile(df, 1 - TB_CI_TARGET) * sqrt(se2));
}

/* ---- documents and text ---- */

static json_t *samples_json(const double *x, int n)
{
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_real(x[i]));
    return arr;
}

json_t *tb_summary_to_json(const tb_summary *s, const double *samples, int n)
{
    if (s->n == 0) /* nothing was kept: no figure, not a zero */
        return json_pack("{s:n, s:i, s:n, s:[]}", "median", "n", 0, "ci", "samples");
    json_t *o = json_pack("{s:f, s:f, s:f, s:f, s:f, s:i}", "median", s->median, "mean", s->mean,
                          "stddev", s->stddev, "min", s->min, "max", s->max, "n", s->n);
    json_object_set_new(o, "ci", s->has_ci ? json_pack("[f, f]", s->ci_lo, s->ci_hi) : json_null());
    json_object_set_new(o, "ci_level", s->has_ci ? json_real(s->ci_level) : json_null());
    json_object_set_new(o, "ci_method", json_string("order statistics"));
    json_object_set_new(o, "samples", samples_json(samples, n));
    return o;
}

json_t *tb_ratio_to_json(const tb_ratio *r, const double *ratios, int n)
{
    if (r->n == 0)
        return json_pack("{s:n, s:i, s:n, s:[]}", "estimate", "n", 0, "ci", "samples");
    json_t *o = json_pack("{s:f, s:f, s:i}", "estimate", r->estimate, "median", r->median, "n", r->n);
    json_object_set_new(o, "ci", r->has_ci ? json_pack("[f, f]", r->lo, r->hi) : json_null());
    json_object_set_new(o, "ci_level", r->has_ci ? json_real(TB_CI_TARGET) : json_null());
    json_object_set_new(o, "ci_method", json_string("t on log ratios"));
    json_object_set_new(o, "samples", samples_json(ratios, n));
    return o;
}

void tb_ci_text(const tb_summary *s, int prec, char *buf, size_t cap)
{
    if (!s->has_ci) {
        snprintf(buf, cap, "-");
        return;
    }
    int w = snprintf(buf, cap, "[%.*f, %.*f]", prec, s->ci_lo, prec, s->ci_hi);
    if (w > 0 && (size_t)w < cap && s->ci_level < TB_CI_TARGET - 1e-9)
        snprintf(buf + w, cap - (size_t)w, " (%.0f %%)", 100 * s->ci_level);
}
