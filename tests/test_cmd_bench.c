/* test_cmd_bench.c - `ternbench bench`: the document it writes and its usage errors. */
#include "testutil.h"
#include "testjson.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *bench_env[2];

#define bench(...) tb_run_ternbench(bench_env[0] ? bench_env : NULL, "bench", __VA_ARGS__, NULL)

static void test_document(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char path[1200];
    snprintf(path, sizeof path, "%s/r.json", dir);
    char env[1200];
    snprintf(env, sizeof env, "TERNBENCH_SYSFS_ROOT=%s", dir); /* empty: no meter */
    bench_env[0] = env;
    /* the document's shape, not the machine's weather: keep every repetition, even
     * on a loaded machine (a parallel ctest); test_bench_runner tests the redoing */
    tb_run_result r = bench("-m", "dummy:125M:i2_s,dummy:125M:f16", "-p", "4", "-n", "4", "-r",
                            "3", "--warmup", "1", "--max-lost", "100%", "--json", path);
    bench_env[0] = NULL;
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "| dummy:125M:i2_s | i2_s |"));
    assert_non_null(strstr(r.out, "| tg4 | 2 | dummy:125M:i2_s | dummy:125M:f16 |"));
    tb_run_free(&r);
    json_t *doc = tb_test_json_load(path);
    assert_string_equal(json_string_value(json_object_get(doc, "schema")), "ternbench.result/2");
    assert_true(json_is_object(json_object_get(json_object_get(doc, "machine"), "cpu")));
    json_t *runs = json_object_get(doc, "runs");
    assert_int_equal(json_array_size(runs), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *run = json_array_get(runs, i), *tps = json_object_get(run, "tokens_per_s");
        assert_true(json_real_value(json_object_get(tps, "median")) > 0);
        assert_int_equal(json_array_size(json_object_get(tps, "samples")), 3);
        assert_int_equal(json_array_size(json_object_get(tps, "ci")), 2);
        assert_double_equal(json_real_value(json_object_get(tps, "ci_level")), 0.75, 1e-12);
        /* no meter on a machine without one (this test's fake sysfs is empty) */
        assert_non_null(strstr(json_string_value(json_object_get(run, "energy_unavailable")),
                               "no energy meter"));
        json_t *ctr = json_object_get(run, "counters");
        assert_string_equal(json_string_value(json_object_get(ctr, "source")), "getrusage");
        assert_true(json_real_value(json_object_get(json_object_get(ctr, "cpu_seconds"), "median")) > 0);
        assert_true(json_is_boolean(json_object_get(json_object_get(ctr, "hardware"), "available")));
    }
    json_t *comps = json_object_get(doc, "comparisons");
    assert_int_equal(json_array_size(comps), 2); /* pp4 and tg4: i2_s over f16 */
    json_t *c0 = json_array_get(comps, 0);
    assert_string_equal(json_string_value(json_object_get(c0, "format")), "i2_s");
    assert_string_equal(json_string_value(json_object_get(c0, "baseline_format")), "f16");
    /* the speedup is the geometric mean of the paired ratios of the samples */
    const char *test = json_string_value(json_object_get(c0, "test"));
    json_t *a = NULL, *b = NULL;
    for (size_t i = 0; i < 4; i++) {
        json_t *run = json_array_get(runs, i);
        if (strcmp(json_string_value(json_object_get(run, "test")), test))
            continue;
        if (!strcmp(json_string_value(json_object_get(run, "format")), "i2_s"))
            a = json_object_get(json_object_get(run, "tokens_per_s"), "samples");
        else
            b = json_object_get(json_object_get(run, "tokens_per_s"), "samples");
    }
    double logs = 0;
    for (int i = 0; i < 3; i++)
        logs += log(json_real_value(json_array_get(a, i)) / json_real_value(json_array_get(b, i)));
    assert_double_equal(json_real_value(json_object_get(json_object_get(c0, "speedup"), "estimate")),
                        exp(logs / 3), 1e-9);
    json_decref(doc);
    tb_rmtree(dir);
    free(dir);
}

/* With a (fake) INA219 at a constant 2 W, energy per token follows time per
 * token, so the energy reduction must equal 1 - 1 / speedup. */
static void test_energy_with_a_meter(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    tb_write(dir, "class/hwmon/hwmon0/name", "ina219\n");
    tb_write(dir, "class/hwmon/hwmon0/power1_input", "2000000\n");
    char env[1200], path[1200];
    snprintf(env, sizeof env, "TERNBENCH_SYSFS_ROOT=%s", dir);
    snprintf(path, sizeof path, "%s/r.json", dir);
    bench_env[0] = env;
    /* 64 tokens: at ~500 t/s (i2_s since the fourth session) 32 timed only ~60 ms,
     * which leaves the 10 % bound below little room for a scheduling delay */
    tb_run_result r = bench("-m", "dummy:125M:i2_s,dummy:125M:q8_0", "-n", "64", "-r", "3",
                            "--warmup", "1", "--idle", "0.1", "--max-lost", "100%", "--json", path);
    bench_env[0] = NULL;
    assert_int_equal(r.status, 0);
    tb_run_free(&r);
    json_t *doc = tb_test_json_load(path);
    json_t *run = json_array_get(json_object_get(doc, "runs"), 0);
    json_t *energy = json_object_get(run, "energy");
    assert_string_equal(json_string_value(json_object_get(energy, "meter")), "ina219");
    double jpt = json_real_value(json_object_get(json_object_get(energy, "joules_per_token"), "median"));
    double tps = json_real_value(json_object_get(json_object_get(run, "tokens_per_s"), "median"));
    /* the sampler's window brackets the run: up to one sampling interval (2 ms) longer
     * than the ~130 ms it times */
    assert_double_equal(jpt, 2.0 / tps, 0.1 * 2.0 / tps);
    assert_double_equal(json_real_value(json_object_get(json_object_get(energy, "watts"), "median")),
                        2.0, 1e-9);
    assert_double_equal(json_real_value(json_object_get(energy, "idle_watts")), 2.0, 1e-9);
    /* all the power is idle power here: nothing is left net */
    assert_double_equal(json_real_value(json_object_get(json_object_get(energy, "joules_per_token_net"),
                                                        "median")), 0.0, 1e-9);
    json_t *c = json_array_get(json_object_get(doc, "comparisons"), 0);
    double sp = json_real_value(json_object_get(json_object_get(c, "speedup"), "estimate"));
    double red = json_real_value(json_object_get(json_object_get(c, "energy_reduction"), "estimate"));
    /* 1 - red is the ratio of energies per token, 1 / sp the ratio of times per token:
     * equal up to the sampler's bracketing, relatively. (An absolute bound fails when
     * a loaded machine slows one model many times: CI once saw sp = 0.07, red = -13.28
     * against 1 - 1 / sp = -13.37, a 0.6 % difference.) */
    assert_double_equal((1.0 - red) * sp, 1.0, 0.05);
    json_decref(doc);
    tb_rmtree(dir);
    free(dir);
}

static void test_thread_lists_and_pg(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char path[1200];
    snprintf(path, sizeof path, "%s/r.json", dir);
    tb_run_result r = bench("-m", "dummy:125M:i2_s,dummy:125M:f16", "-pg", "8,4", "-t", "1,2",
                            "-r", "2", "--warmup", "1", "--json", path);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "| pp8+tg4 | 1 |"));
    assert_non_null(strstr(r.out, "| pp8+tg4 | 2 |"));
    tb_run_free(&r);
    json_t *doc = tb_test_json_load(path);
    json_t *runs = json_object_get(doc, "runs");
    assert_int_equal(json_array_size(runs), 4); /* 2 models x 2 thread counts */
    int threads_seen[3] = {0};
    for (size_t i = 0; i < 4; i++) {
        json_t *run = json_array_get(runs, i);
        threads_seen[json_integer_value(json_object_get(run, "threads"))]++;
        assert_int_equal(json_integer_value(json_object_get(run, "tokens")), 12); /* P + N */
        assert_string_equal(json_string_value(json_object_get(run, "test")), "pp8+tg4");
    }
    assert_int_equal(threads_seen[1], 2);
    assert_int_equal(threads_seen[2], 2);
    assert_int_equal(json_array_size(json_object_get(doc, "comparisons")), 2);
    json_decref(doc);
    tb_rmtree(dir);
    free(dir);
}

/* A stand-in llama-bench: records its arguments and prints llama-bench's -o json rows. */
static void test_peer(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char script[1200], args[1200], path[1200], missing[1300];
    snprintf(script, sizeof script, "%s/llama-bench", dir);
    snprintf(args, sizeof args, "%s/args.txt", dir);
    snprintf(path, sizeof path, "%s/r.json", dir);
    FILE *f = fopen(script, "w");
    fprintf(f, "#!/bin/sh\necho \"$@\" > %s\n"
               "echo '[{\"model_filename\": \"m.gguf\", \"model_type\": \"bitnet 2B I2_S - 2 bpw ternary\", "
               "\"n_threads\": 2, \"n_prompt\": 0, \"n_gen\": 8, \"avg_ts\": 50.0, "
               "\"samples_ts\": [49.0, 50.0, 51.0]}]'\n", args);
    fclose(f);
    chmod(script, 0755);
    char peer[1300];
    snprintf(peer, sizeof peer, "bitnet.cpp=%s", script);
    snprintf(missing, sizeof missing, "gone=%s/nonexistent", dir);
    tb_run_result r = bench("-m", "dummy:125M:i2_s", "-n", "8", "-r", "3", "-t", "2", "--warmup", "1",
                            "--peer", peer, "--peer", missing, "--peer-model",
                            TB_TEST_DATA "/bitnet-cpp-tiny/tiny-i2_s.gguf", "--json", path);
    assert_int_equal(r.status, 0); /* a missing peer is reported, not fatal */
    assert_non_null(strstr(r.err, "peer gone:"));
    assert_non_null(strstr(r.out, "| bitnet.cpp | peer:bitnet.cpp:tiny-i2_s.gguf | tg8 | 2 | 50.00 |"));
    tb_run_free(&r);
    FILE *a = fopen(args, "r");
    char line[2048] = "";
    assert_non_null(fgets(line, sizeof line, a));
    fclose(a);
    assert_non_null(strstr(line, "-n 8 -t 2 -r 3"));
    assert_non_null(strstr(line, "-o json"));
    assert_non_null(strstr(line, "tiny-i2_s.gguf"));
    json_t *doc = tb_test_json_load(path);
    json_t *runs = json_object_get(doc, "runs");
    json_t *last = json_array_get(runs, json_array_size(runs) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "peer")), "bitnet.cpp");
    assert_int_equal(json_array_size(json_object_get(json_object_get(last, "tokens_per_s"), "samples")), 3);
    json_t *peers = json_object_get(doc, "peers");
    assert_int_equal(json_array_size(peers), 2);
    assert_true(json_is_true(json_object_get(json_array_get(peers, 0), "ok")));
    assert_true(json_is_false(json_object_get(json_array_get(peers, 1), "ok")));
    json_decref(doc);
    tb_rmtree(dir);
    free(dir);
}

/* --prompt-file: each model reads the file with its own vocabulary; the
 * document records each model's token count and hash. bitnet.cpp's tiny
 * files carry a byte-level SentencePiece vocabulary: BOS, then the text with
 * a leading space and every space as U+2581, one token per byte. */
static void test_prompt_file(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char json[1200], prompt[1200];
    snprintf(json, sizeof json, "%s/r.json", dir);
    snprintf(prompt, sizeof prompt, "%s/prompt.txt", dir);
    tb_write(dir, "prompt.txt", "Hello, ternary world");
    tb_run_result r = bench("-m", TB_TEST_DATA "/bitnet-cpp-tiny/tiny-i2_s.gguf,"
                            TB_TEST_DATA "/bitnet-cpp-tiny/tiny-f16.gguf", "--prompt-file", prompt,
                            "-p", "16", "-n", "8", "-r", "2", "--warmup", "1", "-t", "1", "--json", json);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "as each model's vocabulary reads it"));
    tb_run_free(&r);
    json_t *doc = tb_test_json_load(json);
    json_t *w = json_object_get(doc, "workload"), *per = json_object_get(w, "per_model");
    assert_string_equal(json_string_value(json_object_get(w, "prompt_file")), prompt);
    assert_int_equal(json_array_size(per), 2);
    for (size_t i = 0; i < 2; i++) /* BOS + 3 spaces x 3 bytes + 18 other bytes */
        assert_int_equal(json_integer_value(json_object_get(json_array_get(per, i), "file_tokens")), 28);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(per, 0), "hash")),
                     json_integer_value(json_object_get(json_array_get(per, 1), "hash")));
    json_decref(doc);
    /* a dummy model has no vocabulary to read it with */
    r = bench("-m", "dummy:125M:i2_s", "--prompt-file", prompt, "-p", "4", "-r", "1");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "has no vocabulary to read --prompt-file"));
    tb_run_free(&r);
    tb_rmtree(dir);
    free(dir);
}

static void test_usage_errors(void **state)
{
    (void)state;
    struct { const char *a, *b, *want; } cases[] = {
        {"-n", "-1", "-n: '-1' is not a token count"},
        {"-m", "dummy:9Q", "unknown preset '9Q'"},
        {"-m", "dummy:125M:q5_k", "unknown format 'q5_k'"},
        {"-m", "/nonexistent.gguf", "/nonexistent.gguf"},
        {"-r", "x", "-r: 'x' is not an integer"},
        {"-pg", "32", "-pg: '32' is not P,N"},
        {"-t", "1,,x", "--threads: 'x' is not an integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tb_run_result r = bench(cases[i].a, cases[i].b);
        assert_int_equal(r.status, 2);
        if (!strstr(r.err, cases[i].want))
            fail_msg("'%s %s': stderr lacks \"%s\": %s", cases[i].a, cases[i].b, cases[i].want, r.err);
        tb_run_free(&r);
    }
    tb_run_result r = bench("-n", "4");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "no model"));
    tb_run_free(&r);
    r = bench("-m", "dummy:125M:i2_s", "-n", "0", "-p", "0"); /* llama-bench's "skip", twice */
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "no test left to run"));
    tb_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document),
        cmocka_unit_test(test_energy_with_a_meter),
        cmocka_unit_test(test_thread_lists_and_pg),
        cmocka_unit_test(test_peer),
        cmocka_unit_test(test_prompt_file),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
