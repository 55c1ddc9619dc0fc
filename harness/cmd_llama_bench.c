/*
 * cmd_llama_bench.c - `ternbench llama-bench`: llama.cpp's llama-bench
 * command line over ternbench's engine.
 *
 * Anything that drives llama-bench drives ternbench this way; above all
 * `ternbench bench --peer base=OLD/ternbench`, which runs another build of
 * ternbench as a peer, interleaved with this one, for an A/B comparison of
 * two builds in one run (ci/gate.sh's timed gate). The options are
 * llama-bench's (a subset), the JSON rows carry the fields peer.c reads
 * (and llama-bench's names for the rest), and the tokens fed are bench's
 * seeded ids, so that the work is the same as bench's own.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "build_info.h"
#include "cli.h"
#include "model.h"
#include "machine.h"
#include "stats.h"

static void help(void)
{
    printf("usage: ternbench llama-bench -m MODEL [-p N[,N...]] [-n N[,N...]] [-pg P,N]\n"
           "                             [-b B] [-ub B] [-t T] [-r R] [-o md|json] [-v]\n\n"
           "llama.cpp's llama-bench command line over ternbench's engine: one row per test\n"
           "with tokens/s of each repetition, as llama-bench prints them. For tools that\n"
           "drive llama-bench, and for `bench --peer NAME=OTHER/ternbench` (two builds of\n"
           "ternbench interleaved in one run: an A/B comparison).\n\n"
           "  -m FILE      a GGUF file or dummy:PRESET[:FORMAT[:EMBEDDING]]\n"
           "  -p LIST      prompt tests, tokens (default 512; 0: none)\n"
           "  -n LIST      generation tests, tokens (default 128; 0: none)\n"
           "  -pg P,N      a prompt of P tokens then N generated (t/s over all)\n"
           "  -b, -ub B    prompt batch (the smaller of the two; default 2048 and 512)\n"
           "  -t T         threads (default: the CPUs this process may use)\n"
           "  -r R         repetitions (default 5), after one warm-up run\n"
           "  -o md|json   output (default md)\n"
           "  -v           say what is loaded on stderr\n");
}

typedef struct lb_opts {
    const char *model;
    tb_bench_opts tests;       /* the tests, parsed as bench parses them */
    long batch, ubatch, threads, reps;
    bool json, verbose;
    int max_tokens, max_batch; /* over the tests: what the model is opened for */
} lb_opts;

static int parse(int argc, char **argv, lb_opts *o)
{
    enum { O_PG = 256, O_UB };
    static const struct option opts[] = {
        {"pg", required_argument, NULL, O_PG}, {"ub", required_argument, NULL, O_UB},
        {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *cmd = "llama-bench";
    bool have_p = false, have_n = false;
    int rc = TB_EXIT_OK;
    tb_error err;
    opterr = 0;
    optind = 1;
    for (int c; rc == TB_EXIT_OK && (c = getopt_long(argc, argv, ":m:p:n:b:t:r:o:vh", opts, NULL)) != -1;) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'p':
        case 'n':
            if (tb_bench_add_tests(&o->tests, optarg, c == 'p', &err) != TB_OK)
                rc = tb_cli_usage_error(cmd, "-%c: %s", c, err.text);
            *(c == 'p' ? &have_p : &have_n) = true;
            break;
        case O_PG: rc = tb_cli_add_pg(cmd, optarg, &o->tests); break;
        case 'b': rc = tb_cli_parse_int(cmd, "-b", optarg, 1, 1 << 20, &o->batch); break;
        case O_UB: rc = tb_cli_parse_int(cmd, "-ub", optarg, 1, 1 << 20, &o->ubatch); break;
        case 't': rc = tb_cli_parse_int(cmd, "-t", optarg, 1, 1024, &o->threads); break;
        case 'r': rc = tb_cli_parse_int(cmd, "-r", optarg, 1, 1000, &o->reps); break;
        case 'o':
            if (strcmp(optarg, "md") && strcmp(optarg, "json"))
                rc = tb_cli_usage_error(cmd, "-o %s: give md or json (the formats ternbench "
                                        "writes as llama-bench does)", optarg);
            o->json = !strcmp(optarg, "json");
            break;
        case 'v': o->verbose = true; break;
        case 'h': help(); return -1;
        default: return tb_cli_bad_option(cmd, argv, optind, optopt, c);
        }
    }
    if (rc != TB_EXIT_OK)
        return rc;
    if (optind < argc)
        return tb_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!o->model)
        return tb_cli_usage_error(cmd, "no model: give -m FILE (or dummy:125M:i2_s)");
    if (!have_p && tb_bench_add_tests(&o->tests, "512", true, &err) != TB_OK)
        return tb_cli_usage_error(cmd, "%s", err.text);
    if (!have_n && tb_bench_add_tests(&o->tests, "128", false, &err) != TB_OK)
        return tb_cli_usage_error(cmd, "%s", err.text);
    if (o->tests.ntests == 0)
        return tb_cli_usage_error(cmd, "no test left to run (-p 0 and -n 0): give a token count");
    o->tests.batch = o->batch < o->ubatch ? o->batch : o->ubatch;
    tb_bench_name_tests(&o->tests);
    o->max_tokens = o->max_batch = 1;
    for (int i = 0; i < o->tests.ntests; i++) {
        const tb_bench_test *t = &o->tests.tests[i];
        if (t->tokens + t->gen > o->max_tokens)
            o->max_tokens = t->tokens + t->gen;
        if (tb_bench_test_batch(t, o->tests.batch) > o->max_batch)
            o->max_batch = tb_bench_test_batch(t, o->tests.batch);
    }
    return TB_EXIT_OK;
}

/* What one test measured: nanoseconds per repetition. */
typedef struct lb_row {
    const tb_bench_test *t;
    double ns[1000];
    int n;
} lb_row;

/* The row's tokens/s per repetition into ts, and their mean and spread. */
static void rates(const lb_row *row, double *ts, tb_summary *s)
{
    for (int k = 0; k < row->n; k++)
        ts[k] = (row->t->tokens + row->t->gen) * 1e9 / row->ns[k];
    tb_summarize(ts, row->n, s);
}

static void print_json(const lb_opts *o, const tb_machine *mach, const tb_model *m, const lb_row *rows,
                       int nrows)
{
    json_t *out = json_array();
    for (int r = 0; r < nrows; r++) {
        const tb_bench_test *t = rows[r].t;
        double ts[1000];
        tb_summary ns, tps;
        tb_summarize(rows[r].ns, rows[r].n, &ns);
        rates(&rows[r], ts, &tps);
        json_t *sns = json_array(), *sts = json_array();
        for (int k = 0; k < rows[r].n; k++) {
            json_array_append_new(sns, json_integer((json_int_t)llround(rows[r].ns[k])));
            json_array_append_new(sts, json_real(ts[k]));
        }
        char backends[64], type[160];
        snprintf(backends, sizeof backends, "ternbench %s", tb_isa_name(mach->isa));
        snprintf(type, sizeof type, "%s %s", m->preset[0] ? m->preset : m->name,
                 tb_format_get(m->layers[0].wq.fmt)->name);
        json_array_append_new(
            out, json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                           "s:f, s:f, s:o, s:o}",
                           "build_commit", tb_build_git_commit(), "build_number", 0, "cpu_info",
                           mach->cpu.model, "backends", backends, "model_filename", o->model,
                           "model_type", type, "model_size", (json_int_t)m->weight_bytes,
                           "n_batch", (json_int_t)o->batch, "n_ubatch", (json_int_t)o->ubatch,
                           "n_threads", (json_int_t)o->threads, "n_prompt",
                           (json_int_t)(t->prompt ? t->tokens : 0), "n_gen",
                           (json_int_t)(t->prompt ? t->gen : t->tokens), "avg_ns",
                           (json_int_t)llround(ns.mean), "stddev_ns", (json_int_t)llround(ns.stddev),
                           "avg_ts", tps.mean, "stddev_ts", tps.stddev, "samples_ns", sns,
                           "samples_ts", sts));
    }
    char *text = json_dumps(out, JSON_INDENT(2));
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(out);
}

static void print_md(const lb_opts *o, const tb_machine *mach, const tb_model *m, const lb_row *rows,
                     int nrows)
{
    printf("| model | size | backend | threads | test | t/s |\n"
           "| --- | ---: | --- | ---: | ---: | ---: |\n");
    for (int r = 0; r < nrows; r++) {
        double ts[1000];
        tb_summary tps;
        rates(&rows[r], ts, &tps);
        printf("| %s %s | %.2f MiB | ternbench %s | %ld | %s | %.2f ± %.2f |\n",
               m->preset[0] ? m->preset : m->name, tb_format_get(m->layers[0].wq.fmt)->name,
               (double)m->weight_bytes / (1 << 20), tb_isa_name(mach->isa), o->threads, rows[r].t->name,
               tps.mean, tps.stddev);
    }
    printf("\nbuild: %s (ternbench %s)\n", tb_build_git_commit(), TB_VERSION);
}

/* One warm-up run of each test (weights paged in, every batch's scratch
 * touched), then the repetitions. */
static int run_tests(const lb_opts *o, tb_model *m, lb_row *rows)
{
    const tb_bench_opts *to = &o->tests;
    int *ids = malloc((size_t)o->max_tokens * sizeof *ids);
    if (!ids)
        return TB_ENOMEM;
    tb_bench_tokens(ids, o->max_tokens, 1, m->cfg.vocab);
    int rc = TB_OK;
    for (int i = 0; i < to->ntests && rc == TB_OK; i++) {
        const tb_bench_test *t = &to->tests[i];
        int batch = tb_bench_test_batch(t, to->batch);
        rows[i].t = t;
        for (int k = -1; k < o->reps && rc == TB_OK; k++) {
            double s = tb_bench_feed(m, ids, t->tokens, batch, t->gen);
            if (s < 0)
                rc = TB_EINVAL;
            else if (k >= 0)
                rows[i].ns[rows[i].n++] = s * 1e9;
        }
    }
    free(ids);
    return rc;
}

int tb_cmd_llama_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) /* llama-bench's spelling: one dash */
        if (!strcmp(argv[i], "-pg") || !strcmp(argv[i], "-ub"))
            argv[i] = !strcmp(argv[i], "-pg") ? "--pg" : "--ub";
    lb_opts o = {.batch = 2048, .ubatch = 512, .threads = tb_cpu_usable(NULL, 0), .reps = 5};
    int rc = parse(argc, argv, &o);
    if (rc != TB_EXIT_OK)
        return rc < 0 ? TB_EXIT_OK : rc;
    tb_machine mach;
    if ((rc = tb_machine_probe_for("llama-bench", &mach)) != TB_EXIT_OK)
        return rc;
    tb_model *m = NULL;
    tb_error err;
    if (o.verbose)
        fprintf(stderr, "ternbench llama-bench: loading %s (%s kernels, %ld threads)\n", o.model,
                tb_isa_name(mach.isa), o.threads);
    if (tb_model_open(o.model, (int)o.threads, mach.isa, o.max_tokens, TB_KV_F16, &m, &err) != TB_OK ||
        tb_model_set_batch(m, o.max_batch, &err) != TB_OK) {
        fprintf(stderr, "ternbench llama-bench: %s\n", err.text);
        tb_model_free(m);
        return TB_EXIT_USAGE;
    }
    static lb_row rows[TB_BENCH_MAX_TESTS];
    memset(rows, 0, sizeof rows);
    if (run_tests(&o, m, rows) != TB_OK) {
        fprintf(stderr, "ternbench llama-bench: %s refused a token (a context shorter than the "
                "test?)\n", o.model);
        tb_model_free(m);
        return TB_EXIT_USAGE;
    }
    if (o.json)
        print_json(&o, &mach, m, rows, o.tests.ntests);
    else
        print_md(&o, &mach, m, rows, o.tests.ntests);
    tb_model_free(m);
    return TB_EXIT_OK;
}
