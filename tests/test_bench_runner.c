/*
 * test_bench_runner.c - the runner behind `bench` and `reproduce`, driven by
 * a fake engine (scripted seconds per repetition) and a fake meter (scripted
 * joules), so that every statistic and every comparison in the document can
 * be checked against arithmetic done here.
 */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

enum { REPS = 5 };

/* seconds per repetition: model 0 (ternary) and model 1 (its f16 twin) */
static const double secs[2][REPS] = {{0.10, 0.11, 0.09, 0.12, 0.10}, {0.30, 0.33, 0.27, 0.31, 0.35}};
static const double watts[2] = {12.0, 10.0};

static double fake_run(void *ctx, int model, int test, int rep)
{
    (void)ctx;
    (void)test;
    return secs[model][rep];
}

static double fake_energy(void *ctx, int model, int test, int rep, double seconds)
{
    (void)ctx;
    (void)test;
    assert_true(seconds == secs[model][rep]); /* the runner passes the run's seconds */
    return watts[model] * seconds;
}

/* model 1's fourth repetition waited on the hypervisor for a quarter of the
 * CPUs' time, model 0's second on a run queue for 40 % of its one thread's;
 * every other run lost 1 % of each */
static int ncpus;
static void fake_losses(void *ctx, int model, int test, int rep, double seconds, double lost[2])
{
    (void)ctx;
    (void)test;
    lost[0] = (model == 1 && rep == 3 ? 0.25 : 0.01) * seconds * ncpus;
    lost[1] = (model == 0 && rep == 1 ? 0.40 : 0.01) * seconds;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double num(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

static void check_summary(json_t *s, const double *want, int n)
{
    double v[REPS], mean = 0, var = 0;
    memcpy(v, want, sizeof v);
    for (int i = 0; i < n; i++)
        mean += want[i] / n;
    for (int i = 0; i < n; i++)
        var += (want[i] - mean) * (want[i] - mean) / (n - 1);
    json_t *samples = json_object_get(s, "samples");
    assert_int_equal(json_array_size(samples), n);
    for (int i = 0; i < n; i++)
        assert_double_equal(json_number_value(json_array_get(samples, (size_t)i)), want[i], 1e-12);
    assert_double_equal(num(s, "median"), median(v, n), 1e-12);
    assert_double_equal(num(s, "mean"), mean, 1e-12);
    assert_double_equal(num(s, "stddev"), sqrt(var), 1e-12);
    assert_double_equal(num(s, "min"), v[0], 1e-12);
    assert_double_equal(num(s, "max"), v[n - 1], 1e-12);
    json_t *ci = json_object_get(s, "ci95"); /* a bootstrap interval of the median */
    double lo = json_number_value(json_array_get(ci, 0)), hi = json_number_value(json_array_get(ci, 1));
    assert_true(lo <= num(s, "median") && num(s, "median") <= hi);
    assert_true(lo >= v[0] && hi <= v[n - 1]);
}

static void test_statistics_and_comparison(void **state)
{
    (void)state;
    tb_bench_hooks hooks = {fake_run, fake_energy, "fake", NULL, fake_losses};
    tb_bench_opts o = {.specs = {"dummy:125M:i2_s", "dummy:125M:f16"}, .nmodels = 2, .threads = 1,
                       .reps = REPS, .warmup = 1, .seed = 1, .batch = 512, .hooks = &hooks};
    tb_error err;
    assert_int_equal(tb_bench_add_tests(&o, "4", false, &err), TB_OK); /* tg4 */
    tb_machine mach;
    tb_machine_probe(&mach);
    ncpus = mach.cpu.logical_cpus;
    json_t *runs = json_array(), *comps = json_array(), *workload = NULL;
    FILE *out = tmpfile();
    if (tb_bench_run(&o, &mach, out, runs, comps, &workload, &err) != TB_OK)
        fail_msg("%s", err.text);
    char text[8192];
    rewind(out);
    text[fread(text, 1, sizeof text - 1, out)] = '\0';
    fclose(out);
    /* the one run above 5 % of each kind is named, with its share */
    assert_non_null(strstr(text, "lost time: the hypervisor ran something else for 25 % of this "
                                 "guest's CPU time in a repetition of dummy:125M:f16 tg4 at 1 "
                                 "thread (1 run above 5 %)"));
    assert_non_null(strstr(text, "lost time: the pool's threads waited for a CPU for 40 % of their "
                                 "time in a repetition of dummy:125M:i2_s tg4 at 1 thread"));
    for (int m = 0; m < 2; m++) {
        json_t *ctr = json_object_get(json_array_get(runs, (size_t)m), "counters");
        double want[2][REPS];
        for (int r = 0; r < REPS; r++) {
            double lost[2];
            fake_losses(NULL, m, 0, r, secs[m][r], lost);
            want[0][r] = lost[0];
            want[1][r] = lost[1];
        }
        check_summary(json_object_get(ctr, "steal_seconds"), want[0], REPS);
        check_summary(json_object_get(ctr, "runqueue_wait_seconds"), want[1], REPS);
    }
    assert_int_equal(json_array_size(runs), 2);
    for (int m = 0; m < 2; m++) {
        json_t *run = json_array_get(runs, (size_t)m);
        double tps[REPS], jpt[REPS], w[REPS];
        for (int r = 0; r < REPS; r++) {
            tps[r] = 4 / secs[m][r];
            jpt[r] = watts[m] * secs[m][r] / 4;
            w[r] = watts[m];
        }
        check_summary(json_object_get(run, "tokens_per_s"), tps, REPS);
        json_t *e = json_object_get(run, "energy");
        assert_string_equal(json_string_value(json_object_get(e, "meter")), "fake");
        check_summary(json_object_get(e, "joules_per_token"), jpt, REPS);
        assert_double_equal(num(json_object_get(e, "watts"), "median"), w[0], 1e-12);
    }
    /* the comparison pairs repetitions: speedup r = tps_i2s[r] / tps_f16[r] */
    assert_int_equal(json_array_size(comps), 1);
    json_t *c = json_array_get(comps, 0);
    assert_string_equal(json_string_value(json_object_get(c, "format")), "i2_s");
    assert_string_equal(json_string_value(json_object_get(c, "baseline_format")), "f16");
    double speed[REPS], red[REPS];
    for (int r = 0; r < REPS; r++) {
        speed[r] = secs[1][r] / secs[0][r];
        red[r] = 1 - (watts[0] * secs[0][r]) / (watts[1] * secs[1][r]);
    }
    /* 3, 3, 3, 2.583, 3.5 -> 3; reductions 0.6, 0.6, 0.6, 0.535, 0.657 -> 0.6 */
    assert_double_equal(num(json_object_get(c, "speedup"), "median"), median(speed, REPS), 1e-12);
    assert_double_equal(num(json_object_get(c, "speedup"), "median"), 3.0, 1e-12);
    assert_double_equal(num(json_object_get(c, "energy_reduction"), "median"), median(red, REPS), 1e-12);
    assert_double_equal(num(json_object_get(c, "energy_reduction"), "median"), 0.6, 1e-12);
    json_decref(runs);
    json_decref(comps);
    json_decref(workload);
}

/* The machine description records the transparent-huge-page mode, which
 * moves decode speed (dummy weights ask for huge pages). */
static void test_thp_mode(void **state)
{
    (void)state;
    char m[16];
    tb_thp_mode("always [madvise] never\n", m, sizeof m);
    assert_string_equal(m, "madvise");
    tb_thp_mode("[always] madvise never", m, sizeof m);
    assert_string_equal(m, "always");
    tb_thp_mode("always madvise never", m, sizeof m); /* no selection */
    assert_string_equal(m, "");
    tb_thp_mode("[unterminated", m, sizeof m);
    assert_string_equal(m, "");
    tb_thp_mode("[a-mode-name-far-too-long-for-it]", m, sizeof m);
    assert_string_equal(m, "");
    tb_machine mach;
    tb_machine_probe(&mach);
    json_t *j = tb_machine_to_json(&mach);
    assert_non_null(json_object_get(json_object_get(j, "cpu"), "thp"));
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statistics_and_comparison),
        cmocka_unit_test(test_thp_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
