/* test_cmd_bench.c - `ternbench bench`: the document it writes and its usage errors. */
#include "testutil.h"
#include "testjson.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tb_file.h"

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
    /* 64 tokens: at ~500 t/s (i2_s since 2026-11-25) 32 timed only ~60 ms,
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

/* Ternary layouts of one model: each of ternbench's ternary models over the
 * first one listed (bitnet.cpp's tiny file and the same file re-encoded in
 * t1_67 at load), beside each over the f16 baseline; never the reverse. */
static void test_ternary_layouts(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char path[1200], models[1200];
    snprintf(path, sizeof path, "%s/r.json", dir);
    snprintf(models, sizeof models, "%s/bitnet-cpp-tiny/tiny-i2_s.gguf,%s/bitnet-cpp-tiny/"
             "tiny-i2_s.gguf@t1_67,%s/bitnet-cpp-tiny/tiny-f16.gguf", TB_TEST_DATA, TB_TEST_DATA,
             TB_TEST_DATA);
    tb_run_result r = bench("-m", models, "-n", "4", "-p", "0", "-t", "1", "-r", "2", "--warmup", "1",
                            "--max-lost", "100%", "--json", path);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "| tg4 | 1 | tiny-i2_s.gguf@t1_67 | tiny-i2_s.gguf | "));
    tb_run_free(&r);
    json_t *doc = tb_test_json_load(path);
    json_t *comps = json_object_get(doc, "comparisons"), *c;
    size_t i;
    int layouts = 0;
    json_array_foreach(comps, i, c) {
        const char *f = json_string_value(json_object_get(c, "format"));
        const char *bf = json_string_value(json_object_get(c, "baseline_format"));
        if (!strcmp(bf, "f16"))
            continue;
        assert_string_equal(f, "t1_67");
        assert_string_equal(bf, "i2_s");
        layouts++;
    }
    assert_int_equal(layouts, 1);
    assert_int_equal(json_array_size(comps), 3); /* i2_s and t1_67 over f16; t1_67 over i2_s */
    json_decref(doc);
    tb_rmtree(dir);
    free(dir);
}

/* A stand-in llama-bench: appends its arguments to a log, prints llama-bench's
 * -o json row for the one test it was given (50 t/s decoding, 200 t/s a
 * prompt), and fails like a loader on a file whose name has "bad" in it,
 * telling why only under -v, as llama-bench does. */
static void fake_llama_bench(const char *script, const char *log)
{
    FILE *f = fopen(script, "w");
    fprintf(f, "#!/bin/sh\necho \"$@\" >> %s\n"
               "case \"$*\" in *bad*)\n"
               "  case \"$*\" in *-v*) echo 'llama_model_load: error loading model: unknown model "
               "architecture: bitnet-b1.58' >&2;; esac\n"
               "  exit 1;;\nesac\n"
               "p=0; n=0\n"
               "while [ $# -gt 0 ]; do case \"$1\" in -p) p=$2; shift;; -n) n=$2; shift;; esac; shift; done\n"
               "if [ \"$p\" != 0 ]; then ts=200; else ts=50; fi\n"
               "echo \"[{\\\"build_commit\\\": \\\"abc1234\\\", \\\"build_number\\\": 7, "
               "\\\"cpu_info\\\": \\\"Fake CPU\\\", \\\"backends\\\": \\\"CPU\\\", "
               "\\\"model_type\\\": \\\"bitnet 2B I2_S - 2 bpw ternary\\\", \\\"n_threads\\\": 2, "
               "\\\"n_prompt\\\": $p, \\\"n_gen\\\": $n, \\\"avg_ts\\\": $ts, "
               "\\\"samples_ts\\\": [$ts]}]\"\n", log);
    fclose(f);
    chmod(script, 0755);
}

/* Peers are engines: one invocation per repetition and test, every test's
 * flags passed, their rows compared like ternbench's, a peer that cannot run
 * a file reported with its loader's message before anything is measured. */
static void test_peer(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char script[1200], args[1200], path[1200], bad[1300], peer[1300];
    snprintf(script, sizeof script, "%s/llama-bench", dir);
    snprintf(args, sizeof args, "%s/args.txt", dir);
    snprintf(path, sizeof path, "%s/r.json", dir);
    snprintf(bad, sizeof bad, "%s/bad.gguf", dir);
    fake_llama_bench(script, args);
    char cp[2600];
    snprintf(cp, sizeof cp, "cp %s/bitnet-cpp-tiny/tiny-f16.gguf %s", TB_TEST_DATA, bad);
    assert_int_equal(system(cp), 0);
    snprintf(peer, sizeof peer, "bitnet.cpp=%s", script);
    char models[3000];
    snprintf(models, sizeof models, "%s/bitnet-cpp-tiny/tiny-i2_s.gguf,%s", TB_TEST_DATA, bad);
    tb_run_result r = bench("-m", models, "-n", "8", "-p", "8", "-b", "4", "-r", "3", "-t", "2",
                            "--warmup", "1", "--max-lost", "100%", "--peer", peer, "--json", path);
    assert_int_equal(r.status, 0); /* a peer that cannot run a file is reported, not fatal */
    assert_non_null(strstr(r.err, "peer bitnet.cpp cannot run"));
    assert_non_null(strstr(r.err, "unknown model architecture: bitnet-b1.58"));
    assert_non_null(strstr(r.out, "| peer:bitnet.cpp:tiny-i2_s.gguf | i2_s |"));
    /* the peer's i2_s compared with ternbench's own f16 twin (bad.gguf is a copy of it) */
    assert_non_null(strstr(r.out, "| tg8 | 2 | peer:bitnet.cpp:tiny-i2_s.gguf | bad.gguf | "));
    tb_run_free(&r);
    /* the invocations: a probe per file, then per round tg8 and pp8@b4, each alone */
    FILE *a = fopen(args, "r");
    char line[2048];
    int calls = 0, tg = 0, pp = 0, asked = 0;
    while (fgets(line, sizeof line, a)) {
        if (!strcmp(line, "--version\n")) { /* is it another build of ternbench? once */
            asked++;
            continue;
        }
        calls++;
        assert_non_null(strstr(line, "-t 2 -r 1 -o json"));
        if (strstr(line, "-p 0 -n 8 -b 1 -ub 1"))
            tg++;
        if (strstr(line, "-p 8 -n 0 -b 4 -ub 4"))
            pp++;
    }
    fclose(a);
    assert_int_equal(tg, 3);
    assert_int_equal(pp, 3);
    assert_int_equal(asked, 1);
    assert_int_equal(calls, 2 + 1 + 6); /* two probes, one -v re-run, six repetitions */
    json_t *doc = tb_test_json_load(path);
    json_t *runs = json_object_get(doc, "runs"), *peer_run = NULL, *own = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(runs, i, x) {
        if (!strcmp(json_string_value(json_object_get(x, "model")), "peer:bitnet.cpp:tiny-i2_s.gguf") &&
            !strcmp(json_string_value(json_object_get(x, "test")), "tg8"))
            peer_run = x;
        if (!strcmp(json_string_value(json_object_get(x, "model")), "tiny-i2_s.gguf") &&
            !strcmp(json_string_value(json_object_get(x, "test")), "tg8"))
            own = x;
    }
    assert_non_null(peer_run);
    assert_non_null(own);
    assert_string_equal(json_string_value(json_object_get(peer_run, "peer")), "bitnet.cpp");
    json_t *samples = json_object_get(json_object_get(peer_run, "tokens_per_s"), "samples");
    assert_int_equal(json_array_size(samples), 3);
    assert_double_equal(json_real_value(json_array_get(samples, 0)), 50, 1e-9);
    assert_string_equal(json_string_value(json_object_get(json_object_get(peer_run, "peer_info"), "build")),
                        "abc1234 (7)");
    /* interleaved: the peer's repetition of round k starts after ternbench's of round k
     * and before ternbench's of round k + 1 */
    json_t *pa = json_object_get(peer_run, "attempts"), *oa = json_object_get(own, "attempts");
    for (size_t k = 0; k + 1 < 3; k++) {
        double p0 = json_real_value(json_object_get(json_array_get(pa, k), "started_s"));
        double o0 = json_real_value(json_object_get(json_array_get(oa, k), "started_s"));
        double o1 = json_real_value(json_object_get(json_array_get(oa, k + 1), "started_s"));
        assert_true(k % 2 ? p0 < o0 : o0 < p0); /* the order reverses every other round */
        assert_true(p0 < o1);
    }
    json_t *peers = json_object_get(doc, "peers");
    assert_int_equal(json_array_size(peers), 2);
    assert_true(json_is_true(json_object_get(json_array_get(peers, 0), "ok")));
    assert_true(json_is_false(json_object_get(json_array_get(peers, 1), "ok")));
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(peers, 1), "detail")),
                           "unknown model architecture"));
    json_decref(doc);
    /* -p 0 skips the prompt test, as in llama-bench */
    r = bench("-m", TB_TEST_DATA "/bitnet-cpp-tiny/tiny-i2_s.gguf", "-n", "4", "-p", "0", "-r", "1",
              "--max-lost", "100%");
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.out, "| pp"));
    tb_run_free(&r);
    tb_rmtree(dir);
    free(dir);
}

/* Another build of ternbench as a peer (here: this very binary) runs through
 * `ternbench llama-bench`, dummy models included; the only comparisons are
 * this build over that one, model by model (A/B), and gate --ab judges them. */
static void test_ternbench_peer(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char path[1200], peer[1300], models[3000];
    snprintf(path, sizeof path, "%s/ab.json", dir);
    snprintf(peer, sizeof peer, "base=%s", TB_BINARY);
    snprintf(models, sizeof models, "%s/bitnet-cpp-tiny/tiny-i2_s.gguf,%s/bitnet-cpp-tiny/tiny-f16.gguf",
             TB_TEST_DATA, TB_TEST_DATA);
    tb_run_result r = bench("-m", models, "-n", "8", "-p", "8", "-r", "3", "-t", "1", "--warmup", "1",
                            "--max-lost", "100%", "--peer", peer, "--json", path);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "| peer:base:tiny-i2_s.gguf | i2_s |"));
    assert_non_null(strstr(r.out, "| tg8 | 1 | tiny-i2_s.gguf | peer:base:tiny-i2_s.gguf | "));
    assert_non_null(strstr(r.out, "| pp8 | 1 | tiny-f16.gguf | peer:base:tiny-f16.gguf | "));
    /* this build's own i2_s over its f16 as ever; never one build's over the other's f16 */
    assert_non_null(strstr(r.out, "| tg8 | 1 | tiny-i2_s.gguf | tiny-f16.gguf | "));
    assert_null(strstr(r.out, "| tiny-i2_s.gguf | peer:base:tiny-f16.gguf |"));
    tb_run_free(&r);
    json_t *doc = tb_test_json_load(path);
    assert_int_equal(json_array_size(json_object_get(doc, "comparisons")), 4 + 2);
    json_decref(doc);
    r = tb_run_ternbench(NULL, "gate", "--ab", path, "--max-regression", "50%", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "| tiny-i2_s.gguf over base's, tg8, 1 threads | "));
    assert_non_null(strstr(r.out, "4 configurations compared: this build over the other build"));
    assert_non_null(strstr(r.out, "gate: pass"));
    tb_run_free(&r);
    tb_rmtree(dir);
    free(dir);
}

/* llama-bench's command line over ternbench's engine: its JSON rows, and its
 * errors with exit status 2. */
static void test_llama_bench_command(void **state)
{
    (void)state;
    const char *model = TB_TEST_DATA "/bitnet-cpp-tiny/tiny-i2_s.gguf";
    tb_run_result r = tb_run_ternbench(NULL, "llama-bench", "-m", model, "-p", "8", "-n", "4", "-r", "2",
                                       "-t", "1", "-o", "json", NULL);
    assert_int_equal(r.status, 0);
    json_error_t jerr;
    json_t *rows = json_loads(r.out, 0, &jerr);
    assert_non_null(rows);
    assert_int_equal(json_array_size(rows), 2);
    json_t *pp = json_array_get(rows, 0), *tg = json_array_get(rows, 1);
    assert_int_equal(json_integer_value(json_object_get(pp, "n_prompt")), 8);
    assert_int_equal(json_integer_value(json_object_get(pp, "n_gen")), 0);
    assert_int_equal(json_integer_value(json_object_get(tg, "n_gen")), 4);
    assert_int_equal(json_array_size(json_object_get(tg, "samples_ts")), 2);
    assert_true(json_real_value(json_object_get(tg, "avg_ts")) > 0);
    assert_non_null(strstr(json_string_value(json_object_get(tg, "backends")), "ternbench "));
    json_decref(rows);
    tb_run_free(&r);
    struct { const char *a, *b, *want; } cases[] = {
        {"-o", "xml", "-o xml: give md or json"},
        {"-r", "0", "-r"},
        {"-pg", "8", "-pg: '8' is not P,N"},
        {"-m", "/nonexistent.gguf", "/nonexistent.gguf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        r = !strcmp(cases[i].a, "-m")
                ? tb_run_ternbench(NULL, "llama-bench", cases[i].a, cases[i].b, "-n", "1", "-p", "0", NULL)
                : tb_run_ternbench(NULL, "llama-bench", "-m", model, cases[i].a, cases[i].b, NULL);
        assert_int_equal(r.status, 2);
        if (!strstr(r.err, cases[i].want))
            fail_msg("'%s %s': stderr lacks \"%s\": %s", cases[i].a, cases[i].b, cases[i].want, r.err);
        tb_run_free(&r);
    }
    r = tb_run_ternbench(NULL, "llama-bench", "-p", "8", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "no model"));
    tb_run_free(&r);
}

/* --profile: one more run of each test timed phase by phase; the phases
 * account for the run's time per token, and the weight phases carry GB/s. */
static void test_profile(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char path[1200];
    snprintf(path, sizeof path, "%s/p.json", dir);
    tb_run_result r = bench("-m", TB_TEST_DATA "/bitnet-cpp-tiny/tiny-i2_s.gguf", "-n", "8", "-p", "8", "-r", "2",
                            "-t", "1", "--max-lost", "100%", "--profile", "--json", path);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "| tiny-i2_s.gguf | tg8 | gate and up | "));
    assert_non_null(strstr(r.out, "| tiny-i2_s.gguf | pp8 | lm_head | "));
    tb_run_free(&r);
    json_t *doc = tb_test_json_load(path);
    size_t i;
    json_t *run;
    int seen = 0;
    json_array_foreach(json_object_get(doc, "runs"), i, run) {
        json_t *prof = json_object_get(run, "profile");
        assert_non_null(prof);
        double whole = json_real_value(json_object_get(prof, "seconds_per_token")), sum = 0;
        const char *name;
        json_t *v;
        json_object_foreach(json_object_get(prof, "phases"), name, v) {
            assert_true(json_real_value(v) >= 0);
            sum += json_real_value(v);
            seen++;
        }
        assert_true(whole > 0);
        assert_true(sum <= whole * (1 + 1e-9) && sum > 0.9 * whole);
        assert_true(json_real_value(json_object_get(prof, "roof_gbps")) > 0); /* its own probes */
        /* one thread: no pool to fork and join */
        assert_true(json_real_value(json_object_get(json_object_get(prof, "phases"),
                                                    "pool fork and join")) == 0);
    }
    assert_int_equal(seen, 2 * 12); /* both tests, every phase */
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

/* --count instructions: the same build and inputs count the same, run after
 * run (the deterministic metric the CI gate relies on). Skipped, and said,
 * where valgrind is not installed. */
static void test_counted_instructions(void **state)
{
    (void)state;
#ifdef TB_SANITIZED
    print_message("skipped: an AddressSanitizer build cannot run under valgrind\n");
    skip();
#endif
    if (system("valgrind --version > /dev/null 2>&1") != 0) {
        print_message("skipped: valgrind is not installed (apt-get install valgrind)\n");
        skip();
    }
    char *dir = tb_tmpdir();
    double first[2] = {0};
    for (int k = 0; k < 2; k++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/c%d.json", dir, k);
        tb_run_result r = bench("-m", TB_TEST_DATA "/bitnet-cpp-tiny/tiny-i2_s.gguf", "-n", "4", "-p",
                                "4", "-r", "1", "-t", "1", "--max-lost", "100%", "--count",
                                "instructions", "--json", path);
        assert_int_equal(r.status, 0);
        tb_run_free(&r);
        json_t *doc = tb_test_json_load(path);
        json_t *runs = json_object_get(doc, "runs");
        assert_int_equal(json_array_size(runs), 2);
        for (size_t i = 0; i < 2; i++) {
            json_t *cg = json_object_get(json_object_get(json_array_get(runs, i), "counters"), "callgrind");
            double ipt = json_real_value(json_object_get(json_object_get(cg, "instructions_per_token"),
                                                         "median"));
            assert_true(ipt > 1000);
            assert_string_equal(json_string_value(json_object_get(cg, "isa")), "avx2");
            if (k == 0)
                first[i] = ipt;
            else
                assert_double_equal(ipt, first[i], 0); /* exactly */
        }
        json_decref(doc);
    }
    tb_run_result r = bench("-m", "dummy:125M:i2_s", "--count", "cycles");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--count: 'cycles' is not instructions or cache"));
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
        {"-m", "dummy:125M:q5_1", "unknown format 'q5_1'"},
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

/* --quality: every model's perplexity over the text (dummies: seeded ids),
 * each compared with the f16 twin of its shapes; the report's table. */
static void test_quality(void **state)
{
    (void)state;
    char *dir = tb_tmpdir();
    char json[1200], text[1200], tiny[1200], out[1200];
    snprintf(json, sizeof json, "%s/r.json", dir);
    snprintf(text, sizeof text, "%s/text.txt", dir);
    snprintf(tiny, sizeof tiny, "%s/tiny.txt", dir);
    snprintf(out, sizeof out, "%s/report", dir);
    char body[2000] = "";
    for (int i = 0; i < 20; i++) /* ~600 byte tokens of the tiny llama's vocabulary */
        strcat(body, "Ternary weights read fewer bytes. ");
    tb_write(dir, "text.txt", body);
    tb_write(dir, "tiny.txt", "Too short.");
    const char *models = TB_TEST_DATA "/llamacpp-kquants/tiny-llama-Q4_K_M.gguf,"
                         TB_TEST_DATA "/llamacpp-kquants/tiny-llama-f16.gguf";
    tb_run_result r = bench("-m", models, "-n", "4", "-r", "2", "--warmup", "1", "-t", "1",
                            "--max-lost", "100%", "--quality", text, "--quality-ctx", "64",
                            "--quality-chunks", "3", "--json", json);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "| model | scored | PPL | PPL / PPL(f16) |"));
    assert_non_null(strstr(r.out, "| tiny-llama-f16.gguf | 93 |"));
    tb_run_free(&r);
    json_t *doc = tb_test_json_load(json), *q = json_object_get(doc, "quality");
    assert_int_equal(json_array_size(q), 2);
    json_t *q4 = json_array_get(q, 0), *f16 = json_array_get(q, 1);
    json_t *kl = json_object_get(q4, "kl");
    assert_string_equal(json_string_value(json_object_get(q4, "source")), "text");
    assert_string_equal(json_string_value(json_object_get(q4, "base_model")), "tiny-llama-f16.gguf");
    assert_int_equal(json_integer_value(json_object_get(q4, "scored")), 3 * (64 - 1 - 32));
    double ppl = json_real_value(json_object_get(json_object_get(q4, "ppl"), "estimate"));
    double base = json_real_value(json_object_get(json_object_get(kl, "ppl_base"), "estimate"));
    double ratio = json_real_value(json_object_get(json_object_get(kl, "ppl_ratio"), "estimate"));
    double twin = json_real_value(json_object_get(json_object_get(f16, "ppl"), "estimate"));
    assert_double_equal(ratio, ppl / base, 1e-9 * ratio);
    assert_double_equal(base, twin, 1e-3 * twin); /* the base file keeps 16-bit log-probabilities */
    double kld = json_real_value(json_object_get(json_object_get(kl, "kld"), "mean"));
    double top = json_real_value(json_object_get(json_object_get(kl, "same_top"), "estimate"));
    assert_true(kld > 0 && kld < 0.1);
    assert_true(top > 0.3 && top <= 1);
    assert_true(json_is_null(json_object_get(f16, "kl")));
    assert_non_null(strstr(json_string_value(json_object_get(f16, "kl_unavailable")), "the f16 twin"));
    json_decref(doc);
    r = tb_run_ternbench(NULL, "report", json, "-o", out, NULL);
    assert_int_equal(r.status, 0);
    tb_run_free(&r);
    char md[1300];
    snprintf(md, sizeof md, "%s/report.md", out);
    char *page = NULL;
    size_t len;
    tb_error err;
    assert_int_equal(tb_file_read_all(md, 1 << 20, &page, &len, &err), TB_OK);
    assert_non_null(strstr(page, "## Speed and quality"));
    assert_non_null(strstr(page, "| tiny-llama-Q4_K_M.gguf | q4_k | q6_k |"));
    assert_non_null(strstr(page, "(the f16 twin)"));
    free(page);
    /* seeded ids instead of a text: the same comparison */
    r = bench("-m", models, "-n", "2", "-r", "1", "--warmup", "0", "-t", "1", "--max-lost", "100%",
              "--quality", "seeded", "--quality-ctx", "64", "--quality-chunks", "2", "--json", json);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "their PPL is no measure of language"));
    tb_run_free(&r);
    doc = tb_test_json_load(json);
    q4 = json_array_get(json_object_get(doc, "quality"), 0);
    assert_string_equal(json_string_value(json_object_get(q4, "source")), "seeded");
    assert_int_equal(json_integer_value(json_object_get(q4, "scored")), 2 * (64 - 1 - 32));
    assert_true(json_is_object(json_object_get(q4, "kl")));
    json_decref(doc);
    /* a text too short for two chunks: those models say so; a dummy model (no
     * vocabulary) scores seeded ids and has no f16 twin here */
    char three[1300];
    snprintf(three, sizeof three, "%s,dummy:125M:i2_s", models);
    r = bench("-m", three, "-n", "2", "-r", "1", "--warmup", "0", "-t", "1", "--max-lost", "100%",
              "--quality", tiny, "--quality-ctx", "64", "--quality-chunks", "2", "--json", json);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "| tiny-llama-f16.gguf | - | not scored:"));
    tb_run_free(&r);
    doc = tb_test_json_load(json);
    q = json_object_get(doc, "quality");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(q, 0), "unavailable")),
                           "two chunks"));
    json_t *i2 = json_array_get(q, 2);
    assert_string_equal(json_string_value(json_object_get(i2, "source")), "seeded");
    assert_true(json_is_null(json_object_get(i2, "kl")));
    assert_non_null(strstr(json_string_value(json_object_get(i2, "kl_unavailable")), "no f16 model"));
    json_decref(doc);
    struct { const char *opt, *val, *want; } bad[] = {
        {"--quality", "/nonexistent.txt", "--quality: cannot read '/nonexistent.txt'"},
        {"--quality-ctx", "2", "--quality-ctx"},
        {"--quality-chunks", "0", "--quality-chunks"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = bench("-m", "dummy:125M:i2_s", bad[i].opt, bad[i].val);
        assert_int_equal(r.status, 2);
        if (!strstr(r.err, bad[i].want))
            fail_msg("'%s %s': stderr lacks \"%s\": %s", bad[i].opt, bad[i].val, bad[i].want, r.err);
        tb_run_free(&r);
    }
    tb_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document),
        cmocka_unit_test(test_energy_with_a_meter),
        cmocka_unit_test(test_thread_lists_and_pg),
        cmocka_unit_test(test_ternary_layouts),
        cmocka_unit_test(test_peer),
        cmocka_unit_test(test_ternbench_peer),
        cmocka_unit_test(test_llama_bench_command),
        cmocka_unit_test(test_profile),
        cmocka_unit_test(test_prompt_file),
        cmocka_unit_test(test_quality),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_counted_instructions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
