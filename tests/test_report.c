/* test_report.c - result documents into reports: validation, verdicts, plots, reproduce. */
#include "testutil.h"
#include "testjson.h"

#include <jansson.h>
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
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static json_t *summary(double med, double lo, double hi)
{
    return json_pack("{s:f, s:[f, f], s:[f, f, f]}", "median", med, "ci95", lo, hi, "samples", lo,
                     med, hi);
}

static json_t *run(const char *model, const char *fmt, const char *test, double tps)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:o, s:f, s:f, s:s}", "model", model, "format", fmt,
                     "test", test, "threads", 2, "tokens_per_s", summary(tps, tps * 0.98, tps * 1.02),
                     "weight_bytes", 2.7e8, "params", 7.3e8, "energy_unavailable",
                     "no energy meter on this machine (test)");
}

static json_t *comparison(const char *test, double med, double lo, double hi)
{
    return json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:o, s:n}", "test", test, "threads", 2,
                     "model", "dummy:700M:i2_s", "baseline_model", "dummy:700M:f16", "format",
                     "i2_s", "baseline_format", "f16", "speedup", summary(med, lo, hi),
                     "energy_reduction");
}

static json_t *document(void)
{
    json_t *runs = json_pack("[o, o, o, o]", run("dummy:700M:i2_s", "i2_s", "tg32", 80),
                             run("dummy:700M:f16", "f16", "tg32", 20),
                             run("dummy:700M:i2_s", "i2_s", "pp128", 300),
                             run("dummy:700M:f16", "f16", "pp128", 120));
    json_t *comps = json_pack("[o, o]", comparison("tg32", 4.0, 3.9, 4.1),
                              comparison("pp128", 2.5, 2.4, 2.6));
    return json_pack("{s:s, s:{s:{s:s, s:s, s:i, s:I}, s:{s:s}, s:{s:s, s:s}}, s:o, s:o}",
                     "schema", "ternbench.result/1", "machine", "cpu", "model", "Test CPU", "arch",
                     "x86_64", "logical_cpus", 2, "memory_bytes", (json_int_t)1 << 34, "isa",
                     "selected", "avx512", "build", "version", "0", "git_commit", "test", "runs",
                     runs, "comparisons", comps);
}

static void test_report_sets_figures_beside_the_claims(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    json_t *doc = document();
    tb_error err;
    assert_int_equal(tb_result_validate(doc, &err), TB_OK);
    if (tb_report_write(doc, dir, &err) != TB_OK)
        fail_msg("%s", err.text);
    char *md = slurp(dir, "report.md");
    assert_non_null(md);
    /* 4.0 [3.9, 4.1] against the published 3.88x for 700M on x86: above */
    assert_non_null(strstr(md, "| 700M | i2_s | 80.00 | 20.00 | 4.00 [3.90, 4.10] | 3.88x | 1.70x | above | inside |"));
    /* a batched prompt has nothing comparable published */
    assert_non_null(strstr(md, "pp128, 2 threads, a batched prompt"));
    assert_non_null(strstr(md, "| 700M | i2_s | 300.00 | 120.00 | 2.50 [2.40, 2.60] | - | - | - | - |"));
    assert_non_null(strstr(md, "**Not measured.**") || strstr(md, "<b>Not measured.</b>"));
    assert_non_null(strstr(md, "no energy meter on this machine (test)"));
    assert_non_null(strstr(md, "(the document has no date)")); /* never today's date as if measured */
    assert_null(strstr(md, "Transparent huge pages are off")); /* no thp in this document */
    assert_non_null(slurp(dir, "plots.gp"));
    assert_non_null(strstr(slurp(dir, "published.dat"), "0.7 3.88 1.7"));
    char *html = slurp(dir, "report.html");
    assert_non_null(strstr(html, "<table>"));
    assert_non_null(strstr(html, "</html>"));
    json_decref(doc);
    tb_rmtree(dir);
    free(dir);
}

/* Two thread counts and measured energy add their plots' data. */
static void test_threads_and_energy_plots(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    json_t *runs = json_array(), *comps = json_array();
    for (int th = 1; th <= 2; th++)
        for (int f = 0; f < 2; f++) {
            json_t *r = run(f ? "dummy:700M:f16" : "dummy:700M:i2_s", f ? "f16" : "i2_s", "tg32",
                            (f ? 20 : 80) * th);
            json_object_set_new(r, "threads", json_integer(th));
            json_object_del(r, "energy_unavailable");
            json_object_set_new(r, "energy", json_pack("{s:s, s:o}", "meter", "ina219",
                                                      "joules_per_token", summary(f ? 0.5 : 0.1, 0.09, 0.11)));
            json_array_append_new(runs, r);
        }
    json_t *c = comparison("tg32", 4.0, 3.9, 4.1);
    json_array_append_new(comps, c);
    json_t *doc = json_pack("{s:s, s:{s:{s:s, s:s}}, s:o, s:o}", "schema", "ternbench.result/1",
                            "machine", "cpu", "model", "x", "thp", "never", "runs", runs,
                            "comparisons", comps);
    tb_error err;
    assert_int_equal(tb_result_validate(doc, &err), TB_OK);
    if (tb_report_write(doc, dir, &err) != TB_OK)
        fail_msg("%s", err.text);
    /* THP "never": the report says what that costs and how to turn it on */
    assert_non_null(strstr(slurp(dir, "report.md"), "Transparent huge pages are off on this machine"));
    char *th = slurp(dir, "threads.dat");
    assert_non_null(th);
    assert_non_null(strstr(th, "1 80\n2 160"));
    char *en = slurp(dir, "energy.dat");
    assert_non_null(strstr(en, "0.73 0.1"));
    assert_non_null(strstr(slurp(dir, "report.md"), "| J/token [95% CI] |"));
    json_decref(doc);
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
    json_t *d = document();
    assert_int_equal(json_dump_file(d, path, 0), 0);
    json_decref(d);
    tb_run_result r = tb_run_ternbench((char *[]){"PATH=/nonexistent", NULL}, "report", path, "-o",
                                       dir, NULL);
    assert_int_equal(r.status, 0);
    tb_run_free(&r);
    assert_non_null(strstr(slurp(dir, "report.md"), "gnuplot is not installed"));
    assert_non_null(slurp(dir, "plots.gp"));
    assert_non_null(strstr(slurp(dir, "speedup.dat"), "0.73 4 3.9 4.1"));
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
        {"schema", "schema: expected \"ternbench.result/1\""},
        {"runs.1.tokens_per_s.median", "runs[1].tokens_per_s.median: expected a number"},
        {"runs.0.format", "runs[0].format: expected a string"},
        {"runs.2.tokens_per_s.ci95", "runs[2].tokens_per_s.ci95: expected null or [lo, hi]"},
        {"comparisons.1.speedup", "comparisons[1].speedup: expected an object"},
        {"runs.3.energy_unavailable", "runs[3]: expected energy or energy_unavailable"},
        {"created", "created: expected a string"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        json_t *doc = document();
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
        else if (!strcmp(last, "format") || !strcmp(last, "created"))
            json_object_set_new(parent, last, json_integer(7)); /* not a string */
        else
            json_object_set_new(parent, last, json_string("bad")); /* not a number/object */
        tb_error err;
        assert_int_equal(tb_result_validate(doc, &err), TB_EINVAL);
        if (!strstr(err.text, cases[c].want))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", c, err.text, cases[c].want);
        json_decref(doc);
    }
}

static void test_reproduce_end_to_end(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char out[1200];
    snprintf(out, sizeof out, "%s/out", dir);
    char *argv[] = {TB_BINARY, "reproduce", "--sizes", "125M", "--formats", "i2_s,f16", "-n", "4",
                    "-p", "4", "-r", "3", "--out", out, NULL};
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
    assert_int_equal(json_array_size(json_object_get(doc, "runs")), 6); /* 2 formats x 3 tests */
    const char *created = json_string_value(json_object_get(doc, "created"));
    assert_non_null(created);
    assert_int_equal(strlen(created), 20); /* 2026-11-25T16:23:05Z */
    char measured[64];
    snprintf(measured, sizeof measured, "Measured %s on ", created);
    char *md = slurp(out, "report.md");
    assert_non_null(md);
    assert_non_null(strstr(md, measured));
    json_decref(doc);
    assert_non_null(strstr(md, "| 125M | i2_s |"));
    assert_non_null(strstr(md, "2.37x")); /* the published 125M x86 figure */
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
        cmocka_unit_test(test_report_sets_figures_beside_the_claims),
        cmocka_unit_test(test_threads_and_energy_plots),
        cmocka_unit_test(test_without_gnuplot),
        cmocka_unit_test(test_claims_by_preset),
        cmocka_unit_test(test_validation_names_the_path),
        cmocka_unit_test(test_reproduce_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
