/* test_cmd_kernels.c - `ternbench kernels`: its JSON document and its usage errors. */
#include "testutil.h"

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define kernels(...) tb_run_ternbench(NULL, "kernels", __VA_ARGS__, NULL)

static void test_json_document(void **state)
{
    (void)state;
    tb_run_result r = kernels("--shape", "256x256", "--format", "i2_s,f16,tl2", "--batch", "4",
                              "--min-time", "0.01", "-t", "2", "--json");
    assert_int_equal(r.status, 0);
    json_error_t e;
    json_t *doc = json_loads(r.out, 0, &e);
    if (!doc)
        fail_msg("not JSON: %s", e.text);
    assert_true(json_real_value(json_object_get(doc, "bandwidth_gbps")) > 0);
    json_t *res = json_object_get(doc, "results");
    assert_int_equal(json_array_size(res), 6); /* 3 formats x gemv, gemm */
    const char *keys[] = {"format", "isa", "op", "m", "k", "batch", "threads", "seconds",
                          "gbps", "gops", "roofline_fraction"};
    for (size_t i = 0; i < json_array_size(res); i++) {
        json_t *row = json_array_get(res, i);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            if (!json_object_get(row, keys[k]))
                fail_msg("result %zu lacks %s", i, keys[k]);
        const char *op = json_string_value(json_object_get(row, "op"));
        assert_int_equal(json_integer_value(json_object_get(row, "batch")),
                         strcmp(op, "gemv") == 0 ? 1 : 4);
        assert_int_equal(json_integer_value(json_object_get(row, "threads")), 2);
        assert_true(json_real_value(json_object_get(row, "seconds")) > 0);
        /* what the machine took from the row, and how often it was timed */
        assert_non_null(json_object_get(row, "lost_share"));
        json_int_t tries = json_integer_value(json_object_get(row, "tries"));
        bool disturbed = json_is_true(json_object_get(row, "disturbed"));
        assert_true(tries >= 1 && tries <= 4 && (!disturbed || tries == 4));
        /* GEMV only: its rate on rows held in L2, and which limit binds it */
        json_t *cached = json_object_get(row, "cached_gbps");
        const char *bound = json_string_value(json_object_get(row, "bound"));
        if (disturbed) {
            assert_null(bound);
        } else if (strcmp(op, "gemv") == 0) {
            assert_true(json_real_value(cached) > 0);
            assert_non_null(bound);
            assert_true(strcmp(bound, "kernel") == 0 || strcmp(bound, "memory") == 0);
            assert_true((strcmp(bound, "kernel") == 0) ==
                        (json_real_value(cached) < json_real_value(json_object_get(row, "bandwidth_gbps"))));
        } else {
            assert_null(cached);
            assert_null(bound);
        }
    }
    json_decref(doc);
    tb_run_free(&r);
}

static void test_table(void **state)
{
    (void)state;
    tb_run_result r = kernels("--shape", "128x384", "--format", "q4_0", "--op", "gemv",
                              "--min-time", "0.01", "--isa", "scalar");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "| q4_0   | scalar | gemv |"));
    assert_non_null(strstr(r.out, "| L2 GB/s | bound     |"));
    assert_non_null(strstr(r.out, "STREAM triad"));
    tb_run_free(&r);
}

/* A row run while other processes keep every CPU busy loses far more than
 * 5 % of its time to them: it is timed four times, said to be disturbed, and
 * its bound withheld. */
static void test_disturbed_row(void **state)
{
    (void)state;
    if (access("/proc/self/schedstat", R_OK) != 0)
        skip(); /* no run-queue waits to read: a disturbance could not be seen */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    pid_t hogs[64];
    int nhogs = 0;
    for (long i = 0; i < cpus && i < 64; i++) {
        pid_t p = fork();
        if (p == 0) {
            alarm(60); /* never outlives a test that failed before killing it */
            for (volatile unsigned long n = 0;; n++)
                ;
        }
        if (p > 0)
            hogs[nhogs++] = p;
    }
    char threads[16];
    snprintf(threads, sizeof threads, "%ld", cpus);
    tb_run_result r = kernels("--shape", "256x256", "--format", "i2_s", "--op", "gemv", "--min-time",
                              "0.05", "-t", threads, "--json");
    tb_run_result t = kernels("--shape", "256x256", "--format", "i2_s", "--op", "gemv", "--min-time",
                              "0.05", "-t", threads);
    for (int i = 0; i < nhogs; i++) {
        kill(hogs[i], SIGKILL);
        waitpid(hogs[i], NULL, 0);
    }
    assert_int_equal(r.status, 0);
    json_t *doc = json_loads(r.out, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "rows_disturbed")), 1);
    json_t *row = json_array_get(json_object_get(doc, "results"), 0);
    assert_true(json_is_true(json_object_get(row, "disturbed")));
    assert_int_equal(json_integer_value(json_object_get(row, "tries")), 4);
    assert_true(json_real_value(json_object_get(row, "lost_share")) > 0.05);
    assert_null(json_object_get(row, "bound"));
    assert_int_equal(t.status, 0);
    assert_non_null(strstr(t.out, "| disturbed |"));
    assert_non_null(strstr(t.out, "disturbed: 1 row lost more than 5 % of the time"));
    json_decref(doc);
    tb_run_free(&r);
    tb_run_free(&t);
}

static void test_usage_errors(void **state)
{
    (void)state;
    struct { const char *a, *b, *want; } cases[] = {
        {"--shape", "12", "'12' is not MxK"},
        {"--shape", "0x128", "is not MxK"},
        {"--format", "q9_9", "unknown format 'q9_9'"},
        {"--batch", "1", "--batch: 1 is out of range"},
        {"--op", "gemx", "'gemx' is not gemv, gemm or both"},
        {"-t", "0", "--threads: 0 is out of range"},
        {"--isa", "sse9", "unknown ISA"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tb_run_result r = kernels(cases[i].a, cases[i].b);
        assert_int_equal(r.status, 2);
        if (!strstr(r.err, cases[i].want))
            fail_msg("'%s %s': stderr lacks \"%s\": %s", cases[i].a, cases[i].b, cases[i].want, r.err);
        tb_run_free(&r);
    }
    tb_run_result r = kernels("--shape", "64x100", "--format", "i2_s", "--min-time", "0.01");
    assert_int_equal(r.status, 0); /* a shape a format cannot take is skipped, and said so */
    assert_non_null(strstr(r.err, "i2_s skipped for 64x100"));
    tb_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_document),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_disturbed_row),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
