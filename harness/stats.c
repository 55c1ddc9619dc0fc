/* stats.c - see stats.h. */
#include "stats.h"

#include <math.h>
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

double tb_median(const double *x, int n)
{
    if (n <= 0)
        return 0;
    double *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return NAN;
    memcpy(s, x, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double m = median_sorted(s, n);
    free(s);
    return m;
}

/* xorshift64*: small, fast, and the same on every platform. */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ull;
}

void tb_summarize(const double *x, int n, tb_summary *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n <= 0)
        return;
    double sum = 0;
    out->min = out->max = x[0];
    for (int i = 0; i < n; i++) {
        sum += x[i];
        out->min = fmin(out->min, x[i]);
        out->max = fmax(out->max, x[i]);
    }
    out->mean = sum / n;
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (x[i] - out->mean) * (x[i] - out->mean);
    out->stddev = n > 1 ? sqrt(ss / (n - 1)) : 0;
    out->median = tb_median(x, n);
    if (n < 3)
        return;

    double *res = malloc((size_t)n * sizeof *res);
    double *meds = malloc(TB_BOOTSTRAP_RESAMPLES * sizeof *meds);
    if (!res || !meds) {
        free(res);
        free(meds);
        return;
    }
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (int b = 0; b < TB_BOOTSTRAP_RESAMPLES; b++) {
        for (int i = 0; i < n; i++)
            res[i] = x[next_u64(&state) % (uint64_t)n];
        qsort(res, (size_t)n, sizeof *res, cmp_double);
        meds[b] = median_sorted(res, n);
    }
    qsort(meds, TB_BOOTSTRAP_RESAMPLES, sizeof *meds, cmp_double);
    out->ci_lo = meds[(int)(0.025 * TB_BOOTSTRAP_RESAMPLES)];
    out->ci_hi = meds[(int)(0.975 * TB_BOOTSTRAP_RESAMPLES) - 1];
    out->has_ci = true;
    free(res);
    free(meds);
}

json_t *tb_summary_to_json(const tb_summary *s, const double *samples, int n)
{
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_real(samples[i]));
    json_t *o = json_pack("{s:f, s:f, s:f, s:f, s:f}", "median", s->median, "mean", s->mean,
                          "stddev", s->stddev, "min", s->min, "max", s->max);
    json_object_set_new(o, "ci95", s->has_ci ? json_pack("[f, f]", s->ci_lo, s->ci_hi)
                                             : json_null());
    json_object_set_new(o, "samples", arr);
    return o;
}
