/* test_compare.c - compare, gate and merge on synthetic result documents. */
#include "testutil.h"
#include "testjson.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "report.h"

/* A document with i2_s and f16 runs of 5 samples each; i2_s scaled by `slow`. */
static json_t *doc(double slow, const char *host)
{
    double i2s[5] = {80, 82, 79, 81, 80}, f16[5] = {20, 20.5, 19.8, 20.2, 20};
    json_t *a = json_array(), *b = json_array();
    for (int i = 0; i < 5; i++) {
        json_array_append_new(a, json_real(i2s[i] * slow));
        json_array_append_new(b, json_real(f16[i]));
    }
    json_t *runs = json_pack(
        "[{s:s, s:s, s:s, s:i, s:{s:f, s:n, s:o}, s:s}, {s:s, s:s, s:s, s:i, s:{s:f, s:n, s:o}, s:s}]",
        "model", "dummy:700M:i2_s", "format", "i2_s", "test", "tg32", "threads", 2, "tokens_per_s",
        "median", 80 * slow, "ci95", "samples", a, "energy_unavailable", "none",
        "model", "dummy:700M:f16", "format", "f16", "test", "tg32", "threads", 2, "tokens_per_s",
        "median", 20.0, "ci95", "samples", b, "energy_unavailable", "none");
    json_t *comps = json_pack("[{s:s, s:i, s:s, s:s, s:s, s:s, s:{s:f, s:n}, s:n}]", "test", "tg32",
                              "threads", 2, "model", "dummy:700M:i2_s", "baseline_model",
                              "dummy:700M:f16", "format", "i2_s", "baseline_format", "f16",
                              "speedup", "median", 4.0 * slow, "ci95", "energy_reduction");
    return json_pack("{s:s, s:{s:{s:s, s:s, s:i, s:I}}, s:o, s:o}", "schema", "ternbench.result/1",
                     "machine", "cpu", "model", "Test CPU", "hostname", host, "logical_cpus", 2,
                     "memory_bytes", (json_int_t)1 << 34, "runs", runs, "comparisons", comps);
}

/* Gives every run of d an ISA and, unless ipt is 0, instructions per token
 * (5 samples around ipt), as bench writes them on a machine with a PMU. */
static json_t *with_counters(json_t *d, const char *isa, double ipt)
{
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(d, "runs"), i, run) {
        json_object_set_new(run, "isa", json_string(isa));
        if (ipt == 0)
            continue;
        json_t *x = json_array();
        for (int k = 0; k < 5; k++)
            json_array_append_new(x, json_real(ipt * (1 + 0.001 * (k - 2))));
        json_object_set_new(run, "counters",
                            json_pack("{s:{s:b, s:{s:f, s:o}}}", "hardware", "available", 1,
                                      "instructions_per_token", "median", ipt, "samples", x));
    }
    return d;
}

/* Gives every run of d a token count and run-queue waits: 40 % of the f16
 * run's two threads' time in its third repetition, 1 % elsewhere. */
static json_t *with_waits(json_t *d)
{
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(d, "runs"), i, run) {
        json_object_set_new(run, "tokens", json_integer(32));
        json_t *tps = json_object_get(json_object_get(run, "tokens_per_s"), "samples"), *w = json_array();
        for (size_t r = 0; r < json_array_size(tps); r++) {
            double secs = 32 / json_number_value(json_array_get(tps, r));
            json_array_append_new(w, json_real((i == 1 && r == 2 ? 0.40 : 0.01) * secs * 2));
        }
        json_object_set_new(run, "counters", json_pack("{s:{s:o}}", "runqueue_wait_seconds", "samples", w));
    }
    return d;
}

static char *save(const char *dir, const char *name, json_t *d)
{
    static char paths[4][1200];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, 1200, "%s/%s", dir, name);
    assert_int_equal(json_dump_file(d, p, 0), 0);
    json_decref(d);
    return p;
}

/* A bench document of this build beside another build of ternbench run as
 * its peer "base" on the same dummy model; this build's samples scaled by
 * `slow`. */
static json_t *ab_doc(double slow)
{
    double own[5] = {80, 82, 79, 81, 80}, other[5] = {81, 80, 80, 82, 79};
    json_t *a = json_array(), *b = json_array();
    for (int i = 0; i < 5; i++) {
        json_array_append_new(a, json_real(own[i] * slow));
        json_array_append_new(b, json_real(other[i]));
    }
    json_t *runs = json_pack(
        "[{s:s, s:s, s:s, s:i, s:{s:f, s:n, s:o}, s:s}, "
        "{s:s, s:s, s:s, s:i, s:{s:f, s:n, s:o}, s:s, s:s, s:{s:s}}]",
        "model", "dummy:125M:i2_s", "format", "i2_s", "test", "tg32", "threads", 2, "tokens_per_s",
        "median", 80 * slow, "ci95", "samples", a, "energy_unavailable", "none",
        "model", "peer:base:dummy:125M:i2_s", "format", "i2_s", "test", "tg32", "threads", 2,
        "tokens_per_s", "median", 80.0, "ci95", "samples", b, "energy_unavailable", "a peer", "peer",
        "base", "peer_info", "file", "dummy:125M:i2_s");
    json_t *comps = json_pack("[{s:s, s:i, s:s, s:s, s:s, s:s, s:{s:f, s:n}, s:n}]", "test", "tg32",
                              "threads", 2, "model", "dummy:125M:i2_s", "baseline_model",
                              "peer:base:dummy:125M:i2_s", "format", "i2_s", "baseline_format", "i2_s",
                              "speedup", "median", slow, "ci95", "energy_reduction");
    return json_pack("{s:s, s:{s:{s:s, s:s, s:i, s:I}}, s:o, s:o}", "schema", "ternbench.result/1",
                     "machine", "cpu", "model", "Test CPU", "hostname", "h", "logical_cpus", 2,
                     "memory_bytes", (json_int_t)1 << 34, "runs", runs, "comparisons", comps);
}

/* --ab: one document, this build over the other build in the same run. */
static void test_ab_gate(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char *same = save(dir, "same.json", ab_doc(1.0));
    char *slow = save(dir, "slow.json", ab_doc(0.85));
    char *plain = save(dir, "plain.json", doc(1.0, "h"));
    tb_run_result r = tb_run_ternbench(NULL, "gate", "--ab", same, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "| dummy:125M:i2_s over base's, tg32, 2 threads | "));
    assert_non_null(strstr(r.out, "gate: pass"));
    tb_run_free(&r);
    r = tb_run_ternbench(NULL, "gate", "--ab", slow, "--max-regression", "5%", NULL);
    assert_int_equal(r.status, 1); /* 15 % slower, the whole interval below -5 % */
    assert_non_null(strstr(r.out, "REGRESSION"));
    tb_run_free(&r);
    r = tb_run_ternbench(NULL, "compare", "--ab", slow, NULL);
    assert_int_equal(r.status, 0); /* compare reports; only gate fails */
    assert_non_null(strstr(r.out, "REGRESSION"));
    tb_run_free(&r);
    r = tb_run_ternbench(NULL, "gate", "--ab", plain, NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "no A/B comparison"));
    tb_run_free(&r);
    r = tb_run_ternbench(NULL, "gate", "--ab", "--baseline", plain, same, NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--ab takes no baseline"));
    tb_run_free(&r);
    tb_rmtree(dir);
    free(dir);
}

static void test_gate_exit_statuses(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char *base = save(dir, "base.json", doc(1.0, "h"));
    char *same = save(dir, "same.json", doc(1.0, "h"));
    char *slow = save(dir, "slow.json", doc(0.8, "h"));
    tb_run_result r = tb_run_ternbench(NULL, "gate", "--baseline", base, same, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "gate: pass"));
    tb_run_free(&r);
    r = tb_run_ternbench(NULL, "gate", "--baseline", base, slow, "--max-regression", "5%", NULL);
    assert_int_equal(r.status, 1); /* 20 % slower, clearly beyond 5 % */
    assert_non_null(strstr(r.out, "REGRESSION"));
    assert_non_null(strstr(r.out, "-20.0%"));
    tb_run_free(&r);
    r = tb_run_ternbench(NULL, "gate", "--baseline", base, slow, "--max-regression", "30%", NULL);
    assert_int_equal(r.status, 0); /* within a 30 % allowance */
    tb_run_free(&r);
    r = tb_run_ternbench(NULL, "gate", "--baseline", base, slow, "--max-regression", "lots", NULL);
    assert_int_equal(r.status, 2);
    tb_run_free(&r);
    tb_rmtree(dir);
    free(dir);
}

/* A run that lost time to others is named under the verdicts; the verdicts stand. */
static void test_lost_time_is_named(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char *base = save(dir, "base.json", doc(1.0, "h"));
    char *waited = save(dir, "waited.json", with_waits(doc(1.0, "h")));
    tb_run_result r = tb_run_ternbench(NULL, "gate", "--baseline", base, waited, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "lost time in the new document: dummy:700M:f16, tg32, 2 threads "
                                  "lost 40 % of its time waiting for a CPU in a repetition"));
    assert_null(strstr(r.out, "lost time in the baseline"));
    assert_null(strstr(r.out, "dummy:700M:i2_s, tg32, 2 threads lost")); /* 1 %: not named */
    tb_run_free(&r);
    tb_rmtree(dir);
    free(dir);
}

static void test_machines_decide_what_is_compared(void **state)
{
    (void)state;
    json_t *a = doc(1.0, "h1"), *b = doc(1.0, "h1"), *c = doc(1.0, "h2");
    tb_compare_summary sum;
    tb_error err;
    FILE *devnull = fopen("/dev/null", "w");
    tb_compare_opts o = {.max_regression = 0.05, .max_counted = 0.01},
                    ratios = {.max_regression = 0.05, .max_counted = 0.01, .ratios_only = true};
    assert_int_equal(tb_compare_docs(&a, 1, b, &o, devnull, &sum, &err), TB_OK);
    assert_true(sum.same_machine);
    assert_int_equal(sum.compared, 3); /* the speedup and both runs' tokens/s */
    assert_int_equal(tb_compare_docs(&a, 1, c, &o, devnull, &sum, &err), TB_OK);
    assert_false(sum.same_machine);
    assert_int_equal(sum.compared, 1); /* the speedup only */
    assert_int_equal(tb_compare_docs(&a, 1, b, &ratios, devnull, &sum, &err), TB_OK);
    assert_int_equal(sum.compared, 1);
    assert_int_equal(sum.regressions, 0);
    fclose(devnull);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void test_instructions_per_token(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    /* other machines, same kernels: counted instructions still compare */
    char *base = save(dir, "base.json", with_counters(doc(1.0, "h1"), "avx512", 2.0e9));
    char *same = save(dir, "same.json", with_counters(doc(1.0, "h2"), "avx512", 2.0e9));
    char *more = save(dir, "more.json", with_counters(doc(1.0, "h2"), "avx512", 2.4e9));
    char *avx2 = save(dir, "avx2.json", with_counters(doc(1.0, "h2"), "avx2", 2.4e9));
    tb_run_result r = tb_run_ternbench(NULL, "gate", "--baseline", base, same, "--max-regression",
                                       "5%", "--ratios-only", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "instructions/token"));
    tb_run_free(&r);
    r = tb_run_ternbench(NULL, "gate", "--baseline", base, more, "--max-regression", "5%",
                         "--ratios-only", NULL);
    assert_int_equal(r.status, 1); /* 20 % more instructions per token: base/new = 0.833 */
    assert_non_null(strstr(r.out, "-16.7%"));
    assert_non_null(strstr(r.out, "REGRESSION"));
    tb_run_free(&r);
    r = tb_run_ternbench(NULL, "gate", "--baseline", base, avx2, "--max-regression", "5%", NULL);
    assert_int_equal(r.status, 0); /* other kernels: not compared, and said so */
    assert_non_null(strstr(r.out, "instructions per token: not compared"));
    tb_run_free(&r);
    tb_rmtree(dir);
    free(dir);
}

static void test_merge_keeps_each_machine(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char *a = save(dir, "a.json", doc(1.0, "pi"));
    char *b = save(dir, "b.json", doc(1.1, "epyc"));
    char out[1300];
    snprintf(out, sizeof out, "%s/all.json", dir);
    tb_run_result r = tb_run_ternbench(NULL, "merge", a, b, "-o", out, NULL);
    assert_int_equal(r.status, 0);
    tb_run_free(&r);
    json_t *all = tb_test_json_load(out);
    tb_error err;
    assert_int_equal(tb_result_validate(all, &err), TB_OK);
    json_t *runs = json_object_get(all, "runs");
    assert_int_equal(json_array_size(runs), 4);
    const char *h0 = json_string_value(json_object_get(json_object_get(json_object_get(
        json_array_get(runs, 0), "machine"), "cpu"), "hostname"));
    const char *h3 = json_string_value(json_object_get(json_object_get(json_object_get(
        json_array_get(runs, 3), "machine"), "cpu"), "hostname"));
    assert_string_equal(h0, "pi");
    assert_string_equal(h3, "epyc");
    assert_int_equal(json_array_size(json_object_get(json_object_get(all, "machine"), "merged_from")), 2);
    json_decref(all);
    r = tb_run_ternbench(NULL, "merge", a, "-o", out, NULL);
    assert_int_equal(r.status, 2);
    tb_run_free(&r);
    tb_rmtree(dir);
    free(dir);
}

/* The f16 run of d with only its first sample: one repetition. */
static json_t *one_sample(json_t *d)
{
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(d, "runs"), i, run) {
        json_t *x = json_object_get(json_object_get(run, "tokens_per_s"), "samples");
        while (json_array_size(x) > 1)
            json_array_remove(x, json_array_size(x) - 1);
    }
    return d;
}

/* Without an interval there is no verdict: a -r 1 run at 2.0x against a
 * 2.5x baseline was "-20.0 % [-20.0 %, -20.0 %] REGRESSION" and exit 1. */
static void test_one_sample_gets_no_verdict(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char *base = save(dir, "base.json", doc(1.0, "h"));
    char *once = save(dir, "once.json", one_sample(doc(0.8, "h")));
    tb_run_result r = tb_run_ternbench(NULL, "gate", "--baseline", base, once, "--ratios-only", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "inconclusive (n = 1)"));
    assert_null(strstr(r.out, "REGRESSION"));
    tb_run_free(&r);
    tb_rmtree(dir);
    free(dir);
}

static char *merged(const char *dir, const char *name, const char *a, const char *b)
{
    static char out[4][1300];
    static int next;
    char *p = out[next++ % 4];
    snprintf(p, 1300, "%s/%s", dir, name);
    tb_run_result r = tb_run_ternbench(NULL, "merge", a, b, "-o", p, NULL);
    assert_int_equal(r.status, 0);
    tb_run_free(&r);
    return p;
}

/* Merged documents are read machine by machine: a baseline whose second
 * machine had twice the speedup of the new one's second machine was read as
 * its first machine ("+0.0 %" four times, "pass"). */
static void test_merged_documents_are_read_per_machine(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char *b1 = save(dir, "b1.json", doc(1.0, "pi")), *b2 = save(dir, "b2.json", doc(2.0, "epyc"));
    char *n1 = save(dir, "n1.json", doc(1.0, "pi")), *n2 = save(dir, "n2.json", doc(1.0, "epyc"));
    char *base = merged(dir, "base.json", b1, b2), *cur = merged(dir, "cur.json", n1, n2);
    tb_run_result r = tb_run_ternbench(NULL, "gate", "--baseline", base, cur, "--ratios-only", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.out, "epyc (Test CPU, ): dummy:700M:i2_s over dummy:700M:f16, tg32, 2 "
                                  "threads | speedup | -50.0%"));
    assert_non_null(strstr(r.out, "pi (Test CPU, ): dummy:700M:i2_s over dummy:700M:f16, tg32, 2 "
                                  "threads | speedup | +0.0%"));
    tb_run_free(&r);
    tb_rmtree(dir);
    free(dir);
}

/* Gives every run of d a batch; a prompt run pp64 is added at `batch`. */
static json_t *with_prompt(json_t *d, int batch)
{
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(d, "runs"), i, run)
        json_object_set_new(run, "batch", json_integer(1));
    json_t *a = json_array(), *b = json_array();
    for (int k = 0; k < 5; k++) {
        json_array_append_new(a, json_real(300 + k));
        json_array_append_new(b, json_real(100 + k * (batch == 4 ? -10 : 1)));
    }
    json_array_append_new(json_object_get(d, "runs"),
                          json_pack("{s:s, s:s, s:s, s:i, s:i, s:{s:f, s:o}, s:s}", "model",
                                    "dummy:700M:i2_s", "format", "i2_s", "test", "pp64", "threads", 2,
                                    "batch", batch, "tokens_per_s", "median", 302.0, "samples", a,
                                    "energy_unavailable", "none"));
    json_array_append_new(json_object_get(d, "runs"),
                          json_pack("{s:s, s:s, s:s, s:i, s:i, s:{s:f, s:o}, s:s}", "model",
                                    "dummy:700M:f16", "format", "f16", "test", "pp64", "threads", 2,
                                    "batch", batch, "tokens_per_s", "median", 102.0, "samples", b,
                                    "energy_unavailable", "none"));
    json_array_append_new(json_object_get(d, "comparisons"),
                          json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:{s:f, s:n}, s:n}", "test", "pp64",
                                    "threads", 2, "model", "dummy:700M:i2_s", "baseline_model",
                                    "dummy:700M:f16", "format", "i2_s", "baseline_format", "f16",
                                    "speedup", "median", 3.0, "ci95", "energy_reduction"));
    return d;
}

/* Runs of different batch sizes are different configurations, even under one
 * test name: pp64 at -b 64 against pp64 at -b 4 was "-46.1 % REGRESSION". */
static void test_batch_is_part_of_the_configuration(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char *base = save(dir, "base.json", with_prompt(doc(1.0, "h"), 64));
    char *cur = save(dir, "cur.json", with_prompt(doc(1.0, "h"), 4));
    tb_run_result r = tb_run_ternbench(NULL, "compare", base, cur, NULL);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.out, "pp64")); /* not compared */
    assert_non_null(strstr(r.out, "tg32"));
    tb_run_free(&r);
    char *same = save(dir, "same.json", with_prompt(doc(1.0, "h"), 64));
    r = tb_run_ternbench(NULL, "compare", base, same, NULL);
    assert_non_null(strstr(r.out, "pp64"));
    tb_run_free(&r);
    tb_rmtree(dir);
    free(dir);
}

/* Several baselines: each metric's threshold is raised to what their spread
 * needs, so a change inside the spread seen between baselines is not
 * called a regression, while one far outside it still is. */
static void test_history_sets_the_threshold(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    static const double drift[5] = {1.00, 0.92, 1.07, 0.96, 1.04};
    char hist[1300];
    snprintf(hist, sizeof hist, "%s/history", dir);
    for (int i = 0; i < 5; i++) {
        char name[64];
        snprintf(name, sizeof name, "history/%d.json", i);
        tb_write(dir, name, "");
        save(dir, name, doc(drift[i], "h"));
    }
    char *slower = save(dir, "slower.json", doc(0.90, "h"));
    char *halved = save(dir, "halved.json", doc(0.50, "h"));
    char one[1300];
    snprintf(one, sizeof one, "%s/history/1.json", dir);
    /* against one baseline (0.92) at 5 %: -10 % would be... within the noise of
     * that baseline alone it is -2 %: pass; against the highest (1.07): a regression */
    char top[1300];
    snprintf(top, sizeof top, "%s/history/2.json", dir);
    tb_run_result r = tb_run_ternbench(NULL, "gate", "--baseline", top, slower, "--ratios-only", NULL);
    assert_int_equal(r.status, 1);
    tb_run_free(&r);
    r = tb_run_ternbench(NULL, "gate", "--history", hist, slower, "--ratios-only", NULL);
    assert_int_equal(r.status, 0); /* inside what the history's spread allows */
    assert_non_null(strstr(r.out, "against 5 baseline documents"));
    tb_run_free(&r);
    r = tb_run_ternbench(NULL, "gate", "--history", hist, halved, "--ratios-only", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.out, "REGRESSION"));
    tb_run_free(&r);
    r = tb_run_ternbench(NULL, "gate", "--history", dir, slower, NULL); /* no .json there but ours */
    tb_run_free(&r);
    r = tb_run_ternbench(NULL, "gate", "--history", "/nonexistent", slower, NULL);
    assert_int_equal(r.status, 2);
    tb_run_free(&r);
    (void)one;
    tb_rmtree(dir);
    free(dir);
}

static void test_bad_documents(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    tb_write(dir, "broken.json", "{\"schema\": \"ternbench.result/1\", \"runs\": [");
    tb_write(dir, "foreign.json", "{\"schema\": \"llama-bench\"}");
    char p1[1200], p2[1200];
    snprintf(p1, sizeof p1, "%s/broken.json", dir);
    snprintf(p2, sizeof p2, "%s/foreign.json", dir);
    tb_run_result r = tb_run_ternbench(NULL, "compare", p1, p2, NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "broken.json: line"));
    tb_run_free(&r);
    r = tb_run_ternbench(NULL, "compare", p2, p2, NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "schema: expected \"ternbench.result/2\" (or /1)"));
    tb_run_free(&r);
    tb_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gate_exit_statuses),
        cmocka_unit_test(test_ab_gate),
        cmocka_unit_test(test_machines_decide_what_is_compared),
        cmocka_unit_test(test_lost_time_is_named),
        cmocka_unit_test(test_instructions_per_token),
        cmocka_unit_test(test_merge_keeps_each_machine),
        cmocka_unit_test(test_bad_documents),
        cmocka_unit_test(test_one_sample_gets_no_verdict),
        cmocka_unit_test(test_merged_documents_are_read_per_machine),
        cmocka_unit_test(test_batch_is_part_of_the_configuration),
        cmocka_unit_test(test_history_sets_the_threshold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
