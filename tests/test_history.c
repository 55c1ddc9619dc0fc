/*
 * test_history.c - change points in a series (E-divisive means with a
 * permutation test): a known step is found where it is, a series without
 * one is split no more often than alpha says, and `ternbench history` reads
 * documents in the order they were made.
 */
#include "testutil.h"
#include "testjson.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static double normal(void)
{
    double u[2];
    for (int k = 0; k < 2; k++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        u[k] = ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* 20 runs of a speedup at 2.8 +- 2 %, then a 10 % drop: found after run 12. */
static void test_a_step_is_found_where_it_is(void **state)
{
    (void)state;
    double x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (i < 12 ? 2.8 : 2.52) * (1 + 0.02 * normal());
    tb_change ch[8];
    int n = tb_history_changes(x, 24, 0.05, 2, ch, 8);
    assert_int_equal(n, 1);
    assert_int_equal(ch[0].at, 12);
    assert_true(ch[0].p < 0.05);
    assert_double_equal(ch[0].before, 2.8, 0.05);
    assert_double_equal(ch[0].after, 2.52, 0.05);
    /* two steps: both */
    for (int i = 0; i < 24; i++)
        x[i] = (i < 8 ? 1.0 : i < 16 ? 1.2 : 0.9) * (1 + 0.02 * normal());
    n = tb_history_changes(x, 24, 0.05, 2, ch, 8);
    assert_int_equal(n, 2);
    assert_int_equal(ch[0].at, 8);
    assert_int_equal(ch[1].at, 16);
}

/* Without a change, a series is split wrongly in no more than alpha of
 * cases (200 series of 16 runs; the permutation test is exact). */
static void test_no_step_no_change_point(void **state)
{
    (void)state;
    int wrong = 0;
    for (int s = 0; s < 200; s++) {
        double x[16];
        for (int i = 0; i < 16; i++)
            x[i] = 2.8 * (1 + 0.03 * normal());
        tb_change ch[8];
        wrong += tb_history_changes(x, 16, 0.05, 2, ch, 8) > 0;
    }
    print_message("no step: %d of 200 series split (alpha 5 %%)\n", wrong);
    assert_true(wrong <= 200 * 0.05 + 8); /* 5 % and the binomial's spread */
}

/* `history` sorts documents by date and names the one after which a metric moved. */
static void test_history_command(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char *paths[8], args[8][1300];
    for (int d = 0; d < 8; d++) {
        double sp = d < 4 ? 3.0 : 2.4, a[5], b[5];
        json_t *sa = json_array(), *sb = json_array();
        for (int k = 0; k < 5; k++) {
            b[k] = 100 * (1 + 0.01 * normal());
            a[k] = b[k] * sp * (1 + 0.01 * normal());
            json_array_append_new(sa, json_real(a[k]));
            json_array_append_new(sb, json_real(b[k]));
        }
        char created[32];
        snprintf(created, sizeof created, "2026-12-0%dT00:00:00Z", d + 1);
        json_t *doc = json_pack(
            "{s:s, s:s, s:{s:{s:s, s:s}}, s:[{s:s, s:s, s:s, s:i, s:{s:f, s:o}, s:s}, "
            "{s:s, s:s, s:s, s:i, s:{s:f, s:o}, s:s}], s:[{s:s, s:i, s:s, s:s, s:s, s:s, s:{s:f}}]}",
            "schema", "ternbench.result/2", "created", created, "machine", "cpu", "model", "X",
            "hostname", "h", "runs", "model", "a", "format", "i2_s", "test", "tg32", "threads", 2,
            "tokens_per_s", "median", a[2], "samples", sa, "energy_unavailable", "none", "model", "b",
            "format", "f16", "test", "tg32", "threads", 2, "tokens_per_s", "median", b[2], "samples",
            sb, "energy_unavailable", "none", "comparisons", "test", "tg32", "threads", 2, "model", "a",
            "baseline_model", "b", "format", "i2_s", "baseline_format", "f16", "speedup", "estimate", sp);
        snprintf(args[d], sizeof args[d], "%s/doc%d.json", dir, 7 - d); /* file names in reverse */
        json_dump_file(doc, args[d], 0);
        json_decref(doc);
        paths[d] = args[d];
    }
    char out[1300];
    snprintf(out, sizeof out, "%s/chart", dir);
    tb_run_result r = tb_run_ternbench(NULL, "history", paths[7], paths[6], paths[5], paths[4], paths[3],
                                       paths[2], paths[1], paths[0], "-o", out, NULL);
    assert_int_equal(r.status, 0);
    char *row = strstr(r.out, "| speedup a over b, tg32, batch 1, 2 threads");
    assert_non_null(row);
    double before, after, pct;
    char *cell = strstr(row, "| 8 | 4: "); /* eight documents, the change after the fourth */
    assert_non_null(cell);
    assert_int_equal(sscanf(cell, "| 8 | 4: %lf -> %lf (%lf%%", &before, &after, &pct), 3);
    assert_double_equal(before, 3.0, 0.05);
    assert_double_equal(after, 2.4, 0.05);
    assert_double_equal(pct, -20, 1.5);
    assert_non_null(strstr(r.out, "  1  2026-12-01T00:00:00Z"));
    tb_run_free(&r);
    char dat[1400];
    snprintf(dat, sizeof dat, "%s/history.dat", out);
    FILE *f = fopen(dat, "r");
    assert_non_null(f);
    fclose(f);
    r = tb_run_ternbench(NULL, "history", "/nonexistent.json", NULL);
    assert_int_equal(r.status, 2);
    tb_run_free(&r);
    tb_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_step_is_found_where_it_is),
        cmocka_unit_test(test_no_step_no_change_point),
        cmocka_unit_test(test_history_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
