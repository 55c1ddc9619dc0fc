/*
 * test_report.c - result documents into reports: the answer first, verdicts
 * that are withheld when the figures cannot carry them, models told apart
 * by their lm_head, merged machines kept apart, energy (measured and the
 * proxy), plots, validation, and reproduce end to end.
 */
#include "testutil.h"
#include "testjson.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claims.h"
#include "report.h"

static char *slurp(const char *dir, const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char bufs[2][1 << 20];
    static int next;
    char *buf = bufs[next++ % 2];
    size_t n = fread(buf, 1, sizeof bufs[0] - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Samples around tps: tps x (1 + spread x k), k = -2..2 (five repetitions). */
static json_t *samples(double tps, double spread)
{
    json_t *a = json_array();
    for (int k = -2; k <= 2; k++)
        json_array_append_new(a, json_real(tps * (1 + spread * k)));
    return a;
}

static json_t *run_of(const char *model, const char *fmt, const char *embd, const char *test,
                      int batch, double tps, double spread)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:{s:f, s:o}, s:f, s:f, s:s}", "model",
                     model, "format", fmt, "embd_format", embd, "test", test, "threads", 2, "batch",
                     batch, "tokens", 32, "tokens_per_s", "median", tps, "samples",
                     samples(tps, spread), "weight_bytes", 2.7e8, "params", 7.3e8,
                     "energy_unavailable", "no energy meter on this machine (test)");
}

static json_t *comp_of(const char *test, const char *a, const char *b, const char *fa,
                       const char *fb)
{
    return json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:{s:f}, s:n}", "test", test, "threads", 2,
                     "model", a, "baseline_model", b, "format", fa, "baseline_format", fb,
                     "speedup", "estimate", 1.0, "energy_reduction");
}

static json_t *doc_of(json_t *runs, json_t *comps, const char *host)
{
    return json_pack("{s:s, s:{s:{s:s, s:s, s:s, s:i, s:I}, s:{s:s}, s:{s:s, s:s}}, s:o, s:o}",
                     "schema", "ternbench.result/2", "machine", "cpu", "model", "Test CPU", "arch",
                     "x86_64", "hostname", host, "logical_cpus", 2, "memory_bytes",
                     (json_int_t)1 << 34, "isa", "selected", "avx512", "build", "version", "0",
                     "git_commit", "test", "runs", runs, "comparisons", comps);
}

/* 700M i2_s at `speedup` over f16 in decode (spread as given) and 2.5x in a
 * batched prompt. */
static json_t *document(double speedup, double spread)
{
    json_t *runs = json_pack("[o, o, o, o]",
                             run_of("dummy:700M:i2_s", "i2_s", "f16", "tg32", 1, 20 * speedup, spread),
                             run_of("dummy:700M:f16", "f16", "f16", "tg32", 1, 20, 0.001),
                             run_of("dummy:700M:i2_s", "i2_s", "f16", "pp128", 128, 300, 0.001),
                             run_of("dummy:700M:f16", "f16", "f16", "pp128", 128, 120, 0.001));
    json_t *comps = json_pack("[o, o]", comp_of("tg32", "dummy:700M:i2_s", "dummy:700M:f16", "i2_s", "f16"),
                              comp_of("pp128", "dummy:700M:i2_s", "dummy:700M:f16", "i2_s", "f16"));
    return doc_of(runs, comps, "h");
}

static char *write_report(json_t *doc, char *dir)
{
    tb_error err;
    if (tb_report_write(doc, dir, &err) != TB_OK)
        fail_msg("%s", err.text);
    json_decref(doc);
    return slurp(dir, "report.md");
}

/* The answer comes first: a sentence and a table per size with the
 * published figure, the measured one with its interval and the verdict;
 * then the flagged runs, then the charts, then the details. */
static void test_the_answer_comes_first(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char *md = write_report(document(4.4, 0.005), dir);
    assert_non_null(md);
    char *answer = strstr(md, "**Decoding (tg32, 2 threads), ternary (i2_s) ran 4.40x as fast as f16 at "
                              "700M (bitnet.cpp published 3.88x on x86 (i7-13700H) for the same "
                              "sizes): 1 above");
    assert_non_null(answer);
    char *row = strstr(md, "| 700M | 3.88x (x86) | 4.40x [");
    assert_non_null(row);
    assert_non_null(strstr(row, "i2_s | above |"));
    char *flagged = strstr(md, "## Runs the machine disturbed"), *charts = strstr(md, "## Charts");
    char *details = strstr(md, "## Details");
    assert_true(answer < row && row < flagged && flagged < charts && charts < details);
    /* a batched prompt is in the details, with nothing published beside it */
    assert_non_null(strstr(md, "| 700M | pp128 | 2 | dummy:700M:i2_s | dummy:700M:f16 | 2.50x ["));
    assert_non_null(strstr(md, "no energy meter on this machine (test)"));
    assert_non_null(strstr(md, "(the document has no date)")); /* never today's date as if measured */
    assert_null(strstr(md, "Transparent huge pages are off")); /* no thp in this document */
    assert_non_null(strstr(slurp(dir, "published.dat"), "0.7 3.88 1.7"));
    char *html = slurp(dir, "report.html");
    assert_non_null(strstr(html, "<meta name=\"viewport\""));
    assert_non_null(strstr(html, "<details>"));
    assert_non_null(strstr(html, "</html>"));
    assert_null(strstr(html, "http://") == NULL ? NULL : strstr(html, "src=\"http")); /* no requests */
    tb_rmtree(dir);
    free(dir);
}

/* A verdict needs an interval that can carry it: one as wide as the
 * distance to the published figure is "inconclusive", a run whose retries
 * ran out is "inconclusive: the machine was busy", and an interval within
 * 10 % of the published figure "matches". */
static void test_verdicts_are_withheld_when_unsure(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char *md = write_report(document(3.9, 0.15), dir); /* +-15 % a repetition */
    assert_non_null(strstr(md, "| inconclusive (±"));
    assert_null(strstr(md, "| matches"));
    md = write_report(document(3.9, 0.004), dir);
    assert_non_null(strstr(md, "| matches (within ±10 %) |"));
    json_t *d = document(3.9, 0.004);
    json_t *ternary = json_array_get(json_object_get(d, "runs"), 0);
    json_object_set_new(ternary, "taint", json_pack("{s:b, s:i, s:f, s:s}", "tainted", 1, "redone", 3,
                                                    "worst_share", 0.42, "worst_kind", "runqueue_wait"));
    md = write_report(d, dir);
    assert_non_null(strstr(md, "inconclusive: the machine was busy (42 % of a repetition's time lost"));
    assert_non_null(strstr(md, "dummy:700M:i2_s tg32 at 2 threads: other processes took 42 % of a "
                               "repetition's time, and its retries ran out"));
    tb_rmtree(dir);
    free(dir);
}

/* Models differ by their lm_head: a ternary model with a q4_0 lm_head is
 * not "i2_s" beside the published figure; plain i2_s is, and the quantised
 * one is the practical best beside it. */
static void test_lm_head_formats_are_told_apart(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    json_t *runs = json_pack("[o, o, o]",
                             run_of("dummy:125M:i2_s:q4_0", "i2_s", "q4_0", "tg32", 1, 419, 0.002),
                             run_of("dummy:125M:i2_s", "i2_s", "f16", "tg32", 1, 292, 0.002),
                             run_of("dummy:125M:f16", "f16", "f16", "tg32", 1, 100, 0.002));
    json_t *comps = json_pack("[o, o]",
                              comp_of("tg32", "dummy:125M:i2_s:q4_0", "dummy:125M:f16", "i2_s", "f16"),
                              comp_of("tg32", "dummy:125M:i2_s", "dummy:125M:f16", "i2_s", "f16"));
    char *md = write_report(doc_of(runs, comps, "h"), dir);
    char *row = strstr(md, "| 125M | 2.37x (x86) | 2.92x [");
    assert_non_null(row);
    assert_non_null(strstr(row, "i2_s + q4_0 lm_head: 4.19x ["));
    assert_null(strstr(md, "Every model's tied lm_head is F16"));
    assert_non_null(strstr(md, "dummy:125M:i2_s:q4_0 (q4_0 lm_head)"));
    tb_rmtree(dir);
    free(dir);
}

/* Two machines, one report: each machine's figures beside its own, never the
 * first machine's for both ("report A.json B.json" showed A's 3.16x only). */
static void test_machines_are_reported_apart(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char a[1300], b[1300];
    snprintf(a, sizeof a, "%s/a.json", dir);
    snprintf(b, sizeof b, "%s/b.json", dir);
    json_t *da = document(3.16, 0.002), *db = document(6.32, 0.002);
    json_object_set_new(json_object_get(json_object_get(db, "machine"), "cpu"), "hostname",
                        json_string("other"));
    json_dump_file(da, a, 0);
    json_dump_file(db, b, 0);
    json_decref(da);
    json_decref(db);
    tb_run_result r = tb_run_ternbench(NULL, "report", a, b, "-o", dir, NULL);
    assert_int_equal(r.status, 0);
    tb_run_free(&r);
    char *md = slurp(dir, "report.md");
    assert_non_null(strstr(md, "| h (Test CPU, avx512) | 700M | 3.88x (x86) | 3.16x ["));
    assert_non_null(strstr(md, "| other (Test CPU, avx512) | 700M | 3.88x (x86) | 6.32x ["));
    char *sp = slurp(dir, "speedup.dat");
    assert_non_null(strstr(sp, "# h (Test CPU, avx512): i2_s"));
    assert_non_null(strstr(sp, "# other (Test CPU, avx512): i2_s"));
    tb_rmtree(dir);
    free(dir);
}

/* Energy: measured figures only where a meter measured them (a peer's row
 * without one is not "0.00"), bitnet.cpp's proxy beside them in its own
 * column, and the x86 band only for what the claim was about. */
static void test_energy_measured_and_proxied(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    json_t *d = document(4.0, 0.002);
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(d, "runs"), i, run) {
        double tps = json_number_value(json_object_get(json_object_get(run, "tokens_per_s"), "median"));
        /* a package at 30 W with the ternary run at 25 W; CPU time: both busy on 2 CPUs */
        double w = !strcmp(json_string_value(json_object_get(run, "format")), "i2_s") ? 25 : 30;
        json_t *jpt = json_array(), *cpu = json_array();
        json_t *s = json_object_get(json_object_get(run, "tokens_per_s"), "samples");
        for (size_t k = 0; k < json_array_size(s); k++) {
            double t = json_number_value(json_array_get(s, k));
            json_array_append_new(jpt, json_real(w / t));
            json_array_append_new(cpu, json_real(2 * 32 / t));
        }
        (void)tps;
        json_object_del(run, "energy_unavailable");
        json_object_set_new(run, "energy", json_pack("{s:s, s:{s:f, s:o}}", "meter", "rapl",
                                                    "joules_per_token", "median", 0.0, "samples", jpt));
        json_object_set_new(run, "counters", json_pack("{s:{s:f, s:o}}", "cpu_seconds", "median", 0.0,
                                                      "samples", cpu));
    }
    json_array_append_new(json_object_get(d, "runs"),
                          json_pack("{s:s, s:s, s:s, s:i, s:s, s:{s:f}, s:s}", "model",
                                    "peer:llama:700M.gguf", "format", "F16", "test", "tg32", "threads",
                                    2, "peer", "llama", "tokens_per_s", "median", 19.0,
                                    "energy_unavailable", "peer"));
    char *md = write_report(d, dir);
    /* measured: 1 - (25/80)/(30/20) = 79.2 %; the proxy: 1 - 1/4 = 75 % */
    char *row = strstr(md, "| 700M | tg32 | i2_s | f16 | 79.2% [");
    assert_non_null(row);
    assert_non_null(strstr(row, "| 75.0% ["));
    assert_non_null(strstr(row, "+4.2 pts"));
    assert_non_null(strstr(row, "71.9% (i7-13700H)"));
    char *pp = strstr(md, "| 700M | pp128 | i2_s | f16 |");
    assert_non_null(pp);
    char *eol = strchr(pp, '\n');
    *eol = '\0';
    assert_null(strstr(pp, "71.9")); /* a batched prompt: no published band */
    *eol = '\n';
    assert_null(strstr(md, "peer:llama:700M.gguf | tg32 | 2 | 0.00")); /* no meter: no row */
    assert_non_null(strstr(md, "bitnet.cpp's method (utils/test_power.sh) reads no meter"));
    assert_non_null(slurp(dir, "energy.dat"));
    tb_rmtree(dir);
    free(dir);
}

/* Two thread counts add the threads plot's data; THP "never" is explained. */
static void test_threads_and_thp(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    json_t *runs = json_array(), *comps = json_array();
    for (int th = 1; th <= 2; th++)
        for (int f = 0; f < 2; f++) {
            json_t *r = run_of(f ? "dummy:700M:f16" : "dummy:700M:i2_s", f ? "f16" : "i2_s", "f16",
                               "tg32", 1, (f ? 20 : 80) * th, 0.001);
            json_object_set_new(r, "threads", json_integer(th));
            json_array_append_new(runs, r);
        }
    json_array_append_new(comps, comp_of("tg32", "dummy:700M:i2_s", "dummy:700M:f16", "i2_s", "f16"));
    json_t *d = doc_of(runs, comps, "h");
    json_object_set_new(json_object_get(json_object_get(d, "machine"), "cpu"), "thp", json_string("never"));
    char *md = write_report(d, dir);
    assert_non_null(strstr(md, "Transparent huge pages are off"));
    char *th = slurp(dir, "threads.dat");
    assert_non_null(th);
    assert_non_null(strstr(th, "1 80 80 80\n2 160"));
    tb_rmtree(dir);
    free(dir);
}

/* Without gnuplot the data and the script are still written, and the report says how to render them. */
static void test_without_gnuplot(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char path[1200];
    snprintf(path, sizeof path, "%s/doc.json", dir);
    json_t *d = document(4.0, 0.001);
    assert_int_equal(json_dump_file(d, path, 0), 0);
    json_decref(d);
    tb_run_result r = tb_run_ternbench((char *[]){"PATH=/nonexistent", NULL}, "report", path, "-o",
                                       dir, NULL);
    assert_int_equal(r.status, 0);
    tb_run_free(&r);
    assert_non_null(strstr(slurp(dir, "report.md"), "gnuplot is not installed"));
    assert_non_null(slurp(dir, "plots.gp"));
    assert_non_null(strstr(slurp(dir, "speedup.dat"), "0.73 4 "));
    assert_null(slurp(dir, "speedup.png"));
    tb_rmtree(dir);
    free(dir);
}

/* The paper's rows are found by the presets' names, 2.5B under its shape 2.7B. */
static void test_claims_by_preset(void **state)
{
    (void)state;
    assert_true(tb_claim_find("700M")->x86_speedup == 3.88);
    assert_string_equal(tb_claim_find("2.7B")->size, "2.5B");
    assert_true(tb_claim_find("2.7B")->x86_speedup == 4.19);
    assert_null(tb_claim_find("2.5B")); /* not a preset */
    assert_null(tb_claim_find("2B4T")); /* nothing published for this shape */
}

static void test_validation_names_the_path(void **state)
{
    (void)state;
    struct { const char *patch, *want; } cases[] = {
        {"schema", "schema: expected \"ternbench.result/2\" (or /1)"},
        {"runs.1.tokens_per_s.median", "runs[1].tokens_per_s.median: expected a number"},
        {"runs.0.format", "runs[0].format: expected a string"},
        {"runs.2.tokens_per_s.ci", "runs[2].tokens_per_s.ci: expected null or [lo, hi]"},
        {"runs.2.rounds", "runs[2].rounds: expected an array of round numbers"},
        {"comparisons.1.speedup", "comparisons[1].speedup: expected an object"},
        {"runs.3.energy_unavailable", "runs[3]: expected energy or energy_unavailable"},
        {"created", "created: expected a string"},
        {"quality.0.ppl", "quality[0].ppl: expected {estimate, stderr}"},
        {"quality.0.model", "quality[0].model: expected a string"},
        {"quality.0.kl.kld", "quality[0].kl.kld.mean: expected a number"},
        {"quality.0.kl.same_top", "quality[0].kl.same_top: expected {estimate, stderr}"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        json_t *doc = document(4.0, 0.01);
        json_object_set_new(doc, "created", json_string("2026-12-02T00:00:00Z"));
        json_object_set_new(doc, "quality", json_pack(
            "[{s:s, s:s, s:i, s:{s:f, s:f}, s:{s:{s:f, s:f}, s:{s:f, s:f}, s:{s:f}}}]", "model", "m",
            "format", "q4_k", "threads", 1, "ppl", "estimate", 9.5, "stderr", 0.1, "kl", "ppl_ratio",
            "estimate", 1.01, "stderr", 0.01, "same_top", "estimate", 0.9, "stderr", 0.01, "kld",
            "mean", 0.02));
        tb_error ok;
        if (tb_result_validate(doc, &ok) != TB_OK) /* whole, it is a valid document */
            fail_msg("%s", ok.text);
        /* break the field the case names */
        char path[128];
        snprintf(path, sizeof path, "%s", cases[c].patch);
        json_t *node = doc, *parent = NULL;
        char *last = NULL;
        for (char *tok = strtok(path, "."); tok; tok = strtok(NULL, ".")) {
            parent = node;
            last = tok;
            node = json_is_array(node) ? json_array_get(node, (size_t)atoi(tok))
                                       : json_object_get(node, tok);
        }
        if (!strcmp(last, "energy_unavailable"))
            json_object_del(parent, last);
        else if (!strcmp(last, "format") || !strcmp(last, "created") || !strcmp(last, "model"))
            json_object_set_new(parent, last, json_integer(7)); /* not a string */
        else if (!strcmp(last, "rounds"))
            json_object_set_new(parent, last, json_pack("[i]", 0)); /* one round, five samples */
        else
            json_object_set_new(parent, last, json_string("bad")); /* not a number/object */
        tb_error err;
        assert_int_equal(tb_result_validate(doc, &err), TB_EINVAL);
        if (!strstr(err.text, cases[c].want))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", c, err.text, cases[c].want);
        json_decref(doc);
    }
}

/* A /1 document (three repetitions, bootstrap intervals stored) still
 * renders, with intervals recomputed from its samples. */
static void test_version_1_documents_still_read(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char path[1300];
    snprintf(path, sizeof path, "%s/result-v1.json", TB_TEST_DATA);
    json_t *old = tb_test_json_load(path);
    assert_string_equal(json_string_value(json_object_get(old, "schema")), "ternbench.result/1");
    char *md = write_report(old, dir);
    assert_non_null(strstr(md, "| 125M | 2.37x (x86) |"));
    assert_non_null(strstr(md, "(75 %)")); /* three samples: the median's interval covers 75 % */
    tb_rmtree(dir);
    free(dir);
}

static void test_reproduce_end_to_end(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char out[1200];
    snprintf(out, sizeof out, "%s/out", dir);
    char *argv[] = {TB_BINARY, "reproduce", "--sizes", "125M", "--formats", "i2_s,f16", "-n", "4",
                    "-p", "4", "-r", "3", "--precision", "50%", "--out", out, NULL};
    tb_run_result r;
    tb_run(&r, argv, NULL);
    if (r.status != 0)
        fail_msg("reproduce failed: %s", r.err);
    tb_run_free(&r);
    char path[1300];
    snprintf(path, sizeof path, "%s/results.json", out);
    json_t *doc = tb_test_json_load(path);
    tb_error err;
    assert_int_equal(tb_result_validate(doc, &err), TB_OK);
    /* 2 formats and the practical best (i2_s with a q8_0 lm_head) x 3 tests */
    assert_int_equal(json_array_size(json_object_get(doc, "runs")), 9);
    const char *created = json_string_value(json_object_get(doc, "created"));
    assert_non_null(created);
    assert_int_equal(strlen(created), 20); /* 2026-11-25T16:23:05Z */
    char measured[64];
    snprintf(measured, sizeof measured, "Measured %s on ", created);
    char *md = slurp(out, "report.md");
    assert_non_null(md);
    assert_non_null(strstr(md, measured));
    json_decref(doc);
    char *row = strstr(md, "| 125M | 2.37x (x86) |"); /* the published 125M x86 figure */
    assert_non_null(row);
    assert_non_null(strstr(row, "i2_s + q8_0 lm_head: ")); /* the practical best beside it */
    /* the report command renders the same document */
    char *argv2[] = {TB_BINARY, "report", path, "-o", dir, NULL};
    tb_run(&r, argv2, NULL);
    assert_int_equal(r.status, 0);
    tb_run_free(&r);
    tb_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_answer_comes_first),
        cmocka_unit_test(test_verdicts_are_withheld_when_unsure),
        cmocka_unit_test(test_lm_head_formats_are_told_apart),
        cmocka_unit_test(test_machines_are_reported_apart),
        cmocka_unit_test(test_energy_measured_and_proxied),
        cmocka_unit_test(test_threads_and_thp),
        cmocka_unit_test(test_without_gnuplot),
        cmocka_unit_test(test_claims_by_preset),
        cmocka_unit_test(test_validation_names_the_path),
        cmocka_unit_test(test_version_1_documents_still_read),
        cmocka_unit_test(test_reproduce_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
