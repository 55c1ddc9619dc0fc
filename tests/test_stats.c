/*
 * test_stats.c - the summary statistics, checked against hand-computed
 * values, and every interval's coverage checked by simulation against the
 * level it states.
 */
#include "testutil.h"

#include <math.h>
#include <stdint.h>

#include "stats.h"

static void test_odd_and_even_medians(void **state)
{
    (void)state;
    double a[] = {3, 1, 2};
    assert_double_equal(tb_median(a, 3), 2, 0);
    double b[] = {4, 1, 3, 2};
    assert_double_equal(tb_median(b, 4), 2.5, 0);
    assert_double_equal(a[0], 3, 0); /* input untouched */
}

static void test_summary_values(void **state)
{
    (void)state;
    double x[] = {2, 4, 4, 4, 5, 5, 7, 9};
    tb_summary s;
    tb_summarize(x, 8, &s);
    assert_int_equal(s.n, 8);
    assert_double_equal(s.mean, 5.0, 1e-12);
    assert_double_equal(s.median, 4.5, 1e-12);
    assert_double_equal(s.stddev, sqrt(32.0 / 7.0), 1e-12); /* sample (n-1) deviation */
    assert_double_equal(s.min, 2, 0);
    assert_double_equal(s.max, 9, 0);
    /* n = 8: [x(1), x(8)] covers 1 - 2/256 = 99.2 %; [x(2), x(7)] 1 - 2 * 9/256 = 93.0 %,
     * short of 95 %: the interval stays at the extremes */
    assert_true(s.has_ci);
    assert_double_equal(s.ci_lo, 2, 0);
    assert_double_equal(s.ci_hi, 9, 0);
    assert_double_equal(s.ci_level, 1 - 2.0 / 256, 1e-12);
}

static void test_order_statistic_ranks(void **state)
{
    (void)state;
    static const struct { int n, k; double level; } want[] = {
        {2, 1, 0.5},        {3, 1, 0.75},          {4, 1, 0.875},     {5, 1, 0.9375},
        {6, 1, 0.96875},    {8, 1, 1 - 2.0 / 256}, {9, 2, 1 - 2 * 10.0 / 512},
        {10, 2, 1 - 2 * 11.0 / 1024},              {20, 6, 1 - 2 * 21700.0 / 1048576},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int k;
        double level;
        tb_median_ci_ranks(want[i].n, &k, &level);
        assert_int_equal(k, want[i].k);
        assert_double_equal(level, want[i].level, 1e-12);
    }
    assert_int_equal(tb_median_ci_min_n(), 6);
}

static void test_constant_and_small_samples(void **state)
{
    (void)state;
    double c[] = {7, 7, 7, 7, 7};
    tb_summary s;
    tb_summarize(c, 5, &s);
    assert_double_equal(s.ci_lo, 7, 0);
    assert_double_equal(s.ci_hi, 7, 0);
    assert_double_equal(s.stddev, 0, 0);
    double one[] = {3};
    tb_summarize(one, 1, &s);
    assert_false(s.has_ci);
    assert_double_equal(s.median, 3, 0);
    tb_summarize(NULL, 0, &s);
    assert_int_equal(s.n, 0);
    tb_ratio r;
    tb_ratio_of(one, 1, &r); /* one pair: a figure, no interval */
    assert_false(r.has_ci);
    assert_double_equal(r.estimate, 3, 1e-12);
    tb_ratio_welch(one, 1, c, 5, &r);
    assert_false(r.has_ci);
    assert_double_equal(r.estimate, 7.0 / 3, 1e-12);
}

static void test_t_quantiles(void **state)
{
    (void)state;
    /* two-sided 95 % points of Student's t, from the tables */
    static const double df[] = {1, 2, 3, 4, 5, 9, 10, 30, 1e6}, t[] = {12.7062, 4.3027, 3.1824,
                                                                        2.7764, 2.5706, 2.2622,
                                                                        2.2281, 2.0423, 1.9600};
    for (int i = 0; i < 9; i++)
        assert_double_equal(tb_t_quantile(df[i], 0.05), t[i], 5e-4);
    assert_double_equal(tb_t_quantile(4, 0.01), 4.6041, 5e-4);
    /* fractional df (Welch): 3.57465 by numerical integration of the density */
    assert_double_equal(tb_t_quantile(2.5, 0.05), 3.57465, 1e-4);
}

static void test_ratio_values(void **state)
{
    (void)state;
    double a[] = {4, 9, 1}, b[] = {1, 1, 1};
    tb_ratio r;
    tb_ratio_paired(a, b, 3, &r);
    assert_double_equal(r.estimate, cbrt(36.0), 1e-12); /* geometric mean */
    assert_double_equal(r.median, 4, 0);
    double l[3] = {log(4), log(9), 0}, m = (l[0] + l[1] + l[2]) / 3, v = 0;
    for (int i = 0; i < 3; i++)
        v += (l[i] - m) * (l[i] - m) / 2;
    double h = tb_t_quantile(2, 0.05) * sqrt(v / 3);
    assert_double_equal(r.lo, exp(m - h), 1e-9);
    assert_double_equal(r.hi, exp(m + h), 1e-9);
    assert_double_equal(r.half_width, expm1(h), 1e-9);
    double x[] = {2, 2}, y[] = {3, 3};
    tb_ratio_welch(x, 2, y, 2, &r); /* no spread: the ratio, known exactly */
    assert_true(r.has_ci);
    assert_double_equal(r.lo, 1.5, 1e-12);
    assert_double_equal(r.hi, 1.5, 1e-12);
}

static void test_json_shape(void **state)
{
    (void)state;
    double x[] = {1, 2, 3};
    tb_summary s;
    tb_summarize(x, 3, &s);
    json_t *o = tb_summary_to_json(&s, x, 3);
    assert_double_equal(json_real_value(json_object_get(o, "median")), 2, 0);
    assert_int_equal(json_array_size(json_object_get(o, "ci")), 2);
    assert_double_equal(json_real_value(json_object_get(o, "ci_level")), 0.75, 0);
    assert_int_equal(json_array_size(json_object_get(o, "samples")), 3);
    json_decref(o);
    char text[64];
    tb_ci_text(&s, 2, text, sizeof text);
    assert_string_equal(text, "[1.00, 3.00] (75 %)"); /* short of 95 %: says so */
    tb_summarize(x, 1, &s);
    o = tb_summary_to_json(&s, x, 1);
    assert_true(json_is_null(json_object_get(o, "ci")));
    json_decref(o);
    tb_ci_text(&s, 2, text, sizeof text);
    assert_string_equal(text, "-");
}

/* ---- coverage, by simulation ---- */

static uint64_t rng = 0x853c49e6748fea9bull;

static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(void)
{
    return sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform());
}

enum { SETS = 10000 };
#define SLACK 0.015 /* the simulation's own error: 2 sigma at 10,000 sets is ~0.5 point */

/* The printed level of each interval, against how often it covered the
 * truth in 10,000 sets of normal samples, at n = 3, 5 and 10. */
static void test_coverage_is_what_is_printed(void **state)
{
    (void)state;
    static const int ns[] = {3, 5, 10};
    for (int k = 0; k < 3; k++) {
        int n = ns[k], hit_median = 0, hit_ratio = 0, hit_welch = 0, wholly_below = 0;
        tb_summary s;
        for (int set = 0; set < SETS; set++) {
            /* tokens/s of one run: true median 100 */
            double x[10], a[10], b[10], base[10], cur[10];
            for (int i = 0; i < n; i++)
                x[i] = 100 + 5 * normal();
            tb_summarize(x, n, &s);
            hit_median += s.ci_lo <= 100 && 100 <= s.ci_hi;
            /* a paired speedup whose true (geometric) value is 3: lognormal pairs */
            for (int i = 0; i < n; i++) {
                double drift = 0.2 * normal(); /* the machine's phase, shared by the pair */
                a[i] = 300 * exp(drift + 0.05 * normal());
                b[i] = 100 * exp(drift + 0.05 * normal());
            }
            tb_ratio r;
            tb_ratio_paired(a, b, n, &r);
            hit_ratio += r.lo <= 3 && 3 <= r.hi;
            /* one document against another of the same configuration: true change 1 */
            for (int i = 0; i < n; i++) {
                base[i] = 3 * exp(0.08 * normal());
                cur[i] = 3 * exp(0.08 * normal());
            }
            tb_ratio_welch(base, n, cur, n, &r);
            hit_welch += r.lo <= 1 && 1 <= r.hi;
            wholly_below += r.hi < 1;
        }
        int kk;
        double printed;
        tb_median_ci_ranks(n, &kk, &printed);
        double got = (double)hit_median / SETS;
        print_message("n = %2d: median interval printed %.2f %%, covered %.2f %%; paired ratio "
                      "95 %%, covered %.2f %%; Welch 95 %%, covered %.2f %% (wholly below 1: %.2f %%)\n",
                      n, 100 * printed, 100 * got, 100.0 * hit_ratio / SETS, 100.0 * hit_welch / SETS,
                      100.0 * wholly_below / SETS);
        assert_true(fabs(got - printed) <= SLACK);
        assert_true(fabs((double)hit_ratio / SETS - TB_CI_TARGET) <= SLACK);
        assert_true(fabs((double)hit_welch / SETS - TB_CI_TARGET) <= SLACK);
        assert_true((double)wholly_below / SETS <= (1 - TB_CI_TARGET) / 2 + SLACK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_odd_and_even_medians), cmocka_unit_test(test_summary_values),
        cmocka_unit_test(test_order_statistic_ranks), cmocka_unit_test(test_constant_and_small_samples),
        cmocka_unit_test(test_t_quantiles),          cmocka_unit_test(test_ratio_values),
        cmocka_unit_test(test_json_shape),           cmocka_unit_test(test_coverage_is_what_is_printed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
