/* test_stats.c - the summary statistics, checked against hand-computed values. */
#include "testutil.h"

#include <math.h>

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
    assert_true(s.has_ci);
    assert_true(s.ci_lo <= s.median && s.median <= s.ci_hi);
    assert_true(s.ci_lo >= 2 && s.ci_hi <= 9);
    tb_summary again;
    tb_summarize(x, 8, &again); /* seeded: reproducible */
    assert_double_equal(again.ci_lo, s.ci_lo, 0);
    assert_double_equal(again.ci_hi, s.ci_hi, 0);
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
    double two[] = {1, 3};
    tb_summarize(two, 2, &s);
    assert_false(s.has_ci);
    assert_double_equal(s.median, 2, 0);
    tb_summarize(NULL, 0, &s);
    assert_int_equal(s.n, 0);
}

static void test_ci_narrows_with_more_samples(void **state)
{
    (void)state;
    double small[5], big[60];
    for (int i = 0; i < 60; i++) {
        double v = 100 + ((i * 37) % 11) - 5; /* a spread of +-5 around 100 */
        big[i] = v;
        if (i < 5)
            small[i] = v;
    }
    tb_summary a, b;
    tb_summarize(small, 5, &a);
    tb_summarize(big, 60, &b);
    assert_true(b.ci_hi - b.ci_lo < a.ci_hi - a.ci_lo);
}

static void test_json_shape(void **state)
{
    (void)state;
    double x[] = {1, 2, 3};
    tb_summary s;
    tb_summarize(x, 3, &s);
    json_t *o = tb_summary_to_json(&s, x, 3);
    assert_double_equal(json_real_value(json_object_get(o, "median")), 2, 0);
    assert_int_equal(json_array_size(json_object_get(o, "ci95")), 2);
    assert_int_equal(json_array_size(json_object_get(o, "samples")), 3);
    json_decref(o);
    tb_summarize(x, 1, &s);
    o = tb_summary_to_json(&s, x, 1);
    assert_true(json_is_null(json_object_get(o, "ci95")));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_odd_and_even_medians), cmocka_unit_test(test_summary_values),
        cmocka_unit_test(test_constant_and_small_samples),
        cmocka_unit_test(test_ci_narrows_with_more_samples), cmocka_unit_test(test_json_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
