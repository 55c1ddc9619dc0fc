/*
 * cmd_bench.c - `ternbench bench`: llama-bench-style runs of several models
 * under identical token sequences, repetitions interleaved (A B C A B C ...)
 * so that a shared machine's drift falls on every model alike, and ternary
 * formats compared with each baseline from paired repetitions.
 *
 * Tests: tgN generates N tokens from an empty cache, one at a time; ppN
 * processes an N-token prompt in batches of -b tokens (GEMM kernels; -b 1
 * feeds it one token at a time, as bitnet.cpp's published benchmark did).
 * Beside each
 * run: weight GB/s and its fraction of a STREAM triad probed on the model's
 * threads just before the run; joules per token from the first energy meter
 * that works (none: the document says why); software counters (CPU time,
 * context switches, page faults) from getrusage, hardware ones recorded as
 * unavailable with the reason.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bandwidth.h"
#include "cli.h"
#include "counters.h"
#include "sampler.h"
#include "dummy.h"
#include "machine.h"
#include "stats.h"
#include "tb_file.h"
#include "tb_time.h"

enum { MAX_MODELS = 16, MAX_TESTS = 8, MAX_REPS = 100 };

typedef struct test { char name[16]; int tokens; bool prompt; } test;

typedef struct bench_opts {
    char *specs[MAX_MODELS];
    int nmodels;
    test tests[MAX_TESTS];
    int ntests;
    long threads, reps, warmup, seed, batch;
    const char *json;
} bench_opts;

typedef struct cell {          /* one model x one test */
    double tps[MAX_REPS], gbps[MAX_REPS], frac[MAX_REPS];
    double jpt[MAX_REPS];      /* joules per token (measured), when a meter exists */
    double cpu_s[MAX_REPS], ctxsw[MAX_REPS], faults[MAX_REPS];
    int n;
} cell;

static void help(void)
{
    printf("usage: ternbench bench -m MODEL[,MODEL...] [options]\n\n"
           "Runs each model under identical token sequences, repetitions interleaved, and\n"
           "compares each ternary format with each baseline (median speedup, 95%% CI).\n\n"
           "  -m, --model LIST   GGUF files or dummy:PRESET[:FORMAT] (e.g. dummy:700M:i2_s,\n"
           "                     dummy:700M:f16); presets: 125M 350M 700M 1B 1.5B 2.7B 3.8B\n"
           "                     7B 13B 30B 70B 100B 2B4T\n"
           "  -n LIST            generation tests, tokens (default 64)\n"
           "  -p LIST            prompt tests, tokens (default none)\n"
           "  -b, --batch N      prompt batch size (default 512; 1 = one token at a time)\n"
           "  -t, --threads T    threads (default: online CPUs)\n"
           "  -r, --repetitions R  repetitions (default 3; 3 or more give an interval)\n"
           "  --warmup N         warm-up tokens per model before measuring (default 8)\n"
           "  --seed S           token sequence seed (default 1)\n"
           "  --json FILE        write the result document (ternbench.result/1) atomically\n"
           "  -h, --help         this text\n");
}

static int add_tests(const char *cmd, const char *opt, const char *list, bool prompt, bench_opts *o)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        long n;
        int rc = tb_cli_parse_int(cmd, opt, tok, 1, 4096, &n);
        if (rc != TB_EXIT_OK)
            return rc;
        if (o->ntests == MAX_TESTS)
            return tb_cli_usage_error(cmd, "%s: at most %d tests", opt, MAX_TESTS);
        test *t = &o->tests[o->ntests++];
        t->tokens = (int)n;
        t->prompt = prompt;
        snprintf(t->name, sizeof t->name, "%s%ld", prompt ? "pp" : "tg", n);
    }
    return TB_EXIT_OK;
}

static int parse(int argc, char **argv, bench_opts *o, char *models_buf, size_t cap)
{
    enum { O_WARM = 256, O_SEED, O_JSON };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"threads", required_argument, NULL, 't'},
        {"batch", required_argument, NULL, 'b'},
        {"repetitions", required_argument, NULL, 'r'}, {"warmup", required_argument, NULL, O_WARM},
        {"seed", required_argument, NULL, O_SEED}, {"json", required_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *cmd = "bench";
    int rc = TB_EXIT_OK;
    bool have_n = false;
    opterr = 0;
    optind = 1;
    for (int c; rc == TB_EXIT_OK && (c = getopt_long(argc, argv, ":m:n:p:t:r:b:h", opts, NULL)) != -1;) {
        switch (c) {
        case 'm':
            snprintf(models_buf, cap, "%s", optarg);
            o->nmodels = 0;
            for (char *tok = strtok(models_buf, ","); tok; tok = strtok(NULL, ",")) {
                if (o->nmodels == MAX_MODELS) {
                    rc = tb_cli_usage_error(cmd, "-m: at most %d models", MAX_MODELS);
                    break;
                }
                o->specs[o->nmodels++] = tok;
            }
            break;
        case 'n': rc = add_tests(cmd, "-n", optarg, false, o); have_n = true; break;
        case 'p': rc = add_tests(cmd, "-p", optarg, true, o); break;
        case 't': rc = tb_cli_parse_int(cmd, "--threads", optarg, 1, 1024, &o->threads); break;
        case 'b': rc = tb_cli_parse_int(cmd, "--batch", optarg, 1, 4096, &o->batch); break;
        case 'r': rc = tb_cli_parse_int(cmd, "-r", optarg, 1, MAX_REPS, &o->reps); break;
        case O_WARM: rc = tb_cli_parse_int(cmd, "--warmup", optarg, 0, 4096, &o->warmup); break;
        case O_SEED: rc = tb_cli_parse_int(cmd, "--seed", optarg, 0, 1L << 30, &o->seed); break;
        case O_JSON: o->json = optarg; break;
        case 'h': help(); return -1;
        default: return tb_cli_bad_option(cmd, argv, optind, optopt, c);
        }
    }
    if (rc != TB_EXIT_OK)
        return rc;
    if (optind < argc)
        return tb_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (o->nmodels == 0)
        return tb_cli_usage_error(cmd, "no model: give -m, e.g. -m dummy:125M:i2_s,dummy:125M:f16");
    if (!have_n && o->ntests == 0)
        add_tests(cmd, "-n", "64", false, o);
    return TB_EXIT_OK;
}

/* The token sequence every model is fed: seeded, valid for every vocabulary
 * (ids below the smallest vocabulary of the run). */
static void make_tokens(int *ids, int n, long seed, int vocab)
{
    uint64_t s = (uint64_t)seed * 0x9e3779b97f4a7c15ull + 7;
    for (int i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ids[i] = (int)(s % (uint64_t)vocab);
    }
}

static uint64_t hash_tokens(const int *ids, int n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int i = 0; i < n; i++)
        for (int b = 0; b < 4; b++) {
            h ^= (uint64_t)((ids[i] >> (8 * b)) & 0xff);
            h *= 1099511628211ull;
        }
    return h;
}

/* Feeds n tokens from an empty cache in batches of `batch`; seconds. */
static double run_tokens(tb_model *m, const int *ids, int n, int batch)
{
    tb_model_reset(m);
    double t0 = tb_now();
    for (int i = 0; i < n; i += batch) {
        int b = n - i < batch ? n - i : batch;
        if (!tb_model_forward_batch(m, ids + i, b))
            return -1;
    }
    return tb_now() - t0;
}

/* The batch a test runs with. */
static int test_batch(const test *t, long batch)
{
    return t->prompt ? (int)(batch < t->tokens ? batch : t->tokens) : 1;
}

static const char *model_format(const tb_model *m)
{
    return tb_format_get(m->layers[0].wq.fmt)->name;
}

static bool model_ternary(const tb_model *m)
{
    return tb_format_get(m->layers[0].wq.fmt)->ternary;
}

/* Models compare when they have the same shapes (the same preset or model). */
static bool same_shape(const tb_model *a, const tb_model *b)
{
    return a->cfg.dim == b->cfg.dim && a->cfg.ffn == b->cfg.ffn && a->cfg.layers == b->cfg.layers &&
           a->cfg.vocab == b->cfg.vocab && a->cfg.heads == b->cfg.heads;
}

static json_t *summary_json(const double *x, int n)
{
    tb_summary s;
    tb_summarize(x, n, &s);
    return tb_summary_to_json(&s, x, n);
}

int tb_cmd_bench(int argc, char **argv)
{
    bench_opts o = {.threads = sysconf(_SC_NPROCESSORS_ONLN), .reps = 3, .warmup = 8, .seed = 1,
                    .batch = 512};
    char models_buf[2048];
    int rc = parse(argc, argv, &o, models_buf, sizeof models_buf);
    if (rc < 0)
        return TB_EXIT_OK;
    if (rc != TB_EXIT_OK)
        return rc;

    tb_machine mach;
    tb_machine_probe(&mach);
    if (!mach.isa_ok) {
        fprintf(stderr, "ternbench bench: %s\n", mach.isa_error);
        return TB_EXIT_USAGE;
    }
    int max_tokens = (int)o.warmup;
    for (int i = 0; i < o.ntests; i++)
        max_tokens = o.tests[i].tokens > max_tokens ? o.tests[i].tokens : max_tokens;

    tb_model *models[MAX_MODELS] = {0};
    tb_meter *meter = NULL;
    tb_sampler *sampler = NULL;
    char energy_why[1200] = "";
    tb_error err;
    int min_vocab = 1 << 30;
    for (int i = 0; i < o.nmodels; i++) {
        fprintf(stderr, "ternbench bench: loading %s...\n", o.specs[i]);
        double t0 = tb_now();
        if (tb_model_open(o.specs[i], (int)o.threads, mach.isa, max_tokens, TB_KV_F16, &models[i],
                          &err) != TB_OK) {
            fprintf(stderr, "ternbench bench: %s\n", err.text);
            for (int j = 0; j < i; j++)
                tb_model_free(models[j]);
            return TB_EXIT_USAGE;
        }
        int max_batch = 1;
        for (int t = 0; t < o.ntests; t++)
            max_batch = test_batch(&o.tests[t], o.batch) > max_batch ? test_batch(&o.tests[t], o.batch)
                                                                    : max_batch;
        if (tb_model_set_batch(models[i], max_batch, &err) != TB_OK) {
            fprintf(stderr, "ternbench bench: %s: %s\n", o.specs[i], err.text);
            for (int j = 0; j <= i; j++)
                tb_model_free(models[j]);
            return TB_EXIT_USAGE;
        }
        fprintf(stderr, "ternbench bench: %s ready in %.1f s (%.1f MB of weights per token)\n",
                o.specs[i], tb_now() - t0, (double)models[i]->weight_bytes / 1e6);
        if (models[i]->cfg.vocab < min_vocab)
            min_vocab = models[i]->cfg.vocab;
    }
    int *ids = malloc((size_t)max_tokens * sizeof *ids);
    cell *cells = calloc((size_t)o.nmodels * o.ntests, sizeof *cells);
    tb_bandwidth *bw = NULL;
    if (!ids || !cells || tb_bandwidth_new(64u << 20, &bw, &err) != TB_OK) {
        fprintf(stderr, "ternbench bench: out of memory\n");
        rc = TB_EXIT_USAGE;
        goto out;
    }
    make_tokens(ids, max_tokens, o.seed, min_vocab);

    if (tb_meter_open_auto(NULL, &meter, &err) == TB_OK) {
        sampler = tb_sampler_new(meter, 0);
    } else {
        snprintf(energy_why, sizeof energy_why, "%s", err.text);
        for (char *p = energy_why; *p; p++)
            if (*p == '\n')
                *p = ' ';
    }
    char hw_buf[512];
    const char *hw_why = tb_hw_counters_unavailable(hw_buf, sizeof hw_buf);

    for (int i = 0; i < o.nmodels; i++) /* warm-up: pages in, caches, clocks */
        run_tokens(models[i], ids, (int)o.warmup, 1);
    bool tty = isatty(2);
    double started = tb_now();
    int total = (int)o.reps * o.ntests * o.nmodels, done = 0;
    for (int r = 0; r < o.reps; r++)
        for (int t = 0; t < o.ntests; t++)
            for (int i = 0; i < o.nmodels; i++) {
                tb_model *m = models[i];
                double triad = tb_bandwidth_triad(bw, m->pool, 3); /* best of 3: ~15 ms */
                cell *c = &cells[i * o.ntests + t];
                tb_usage u0, u1;
                tb_energy_result er;
                bool metered = sampler && tb_sampler_start(sampler, &err) == TB_OK;
                tb_usage_now(&u0);
                double secs = run_tokens(m, ids, o.tests[t].tokens, test_batch(&o.tests[t], o.batch));
                tb_usage_now(&u1);
                if (metered && tb_sampler_stop(sampler, &er, &err) == TB_OK)
                    c->jpt[c->n] = er.total_j / o.tests[t].tokens;
                else if (sampler)
                    snprintf(energy_why, sizeof energy_why, "meter failed: %s", err.text);
                c->cpu_s[c->n] = u1.cpu_s - u0.cpu_s;
                c->ctxsw[c->n] = (double)(u1.context_switches - u0.context_switches);
                c->faults[c->n] = (double)(u1.page_faults - u0.page_faults);
                c->tps[c->n] = o.tests[t].tokens / secs;
                c->gbps[c->n] = (double)m->weight_bytes * c->tps[c->n] / 1e9;
                c->frac[c->n] = c->gbps[c->n] / triad;
                c->n++;
                done++;
                if (tty) {
                    double el = tb_now() - started;
                    fprintf(stderr, "\r  %d/%d runs, %.0f s elapsed, ETA %.0f s   ", done, total, el,
                            el / done * (total - done));
                }
            }
    if (tty)
        fprintf(stderr, "\n");

    printf("| model | format | size | threads | isa | test | batch | t/s | 95%% CI | GB/s | roofline |\n"
           "| --- | --- | ---: | ---: | --- | --- | ---: | ---: | --- | ---: | ---: |\n");
    json_t *runs = json_array();
    for (int i = 0; i < o.nmodels; i++)
        for (int t = 0; t < o.ntests; t++) {
            cell *c = &cells[i * o.ntests + t];
            tb_summary s, g, f;
            tb_summarize(c->tps, c->n, &s);
            tb_summarize(c->gbps, c->n, &g);
            tb_summarize(c->frac, c->n, &f);
            char ci[64] = "-";
            if (s.has_ci)
                snprintf(ci, sizeof ci, "[%.2f, %.2f]", s.ci_lo, s.ci_hi);
            /* a batch reads each weight once for many tokens: compute-bound, so no
             * bandwidth roofline applies (GB/s there is weight bytes x tokens/s) */
            bool batched = test_batch(&o.tests[t], o.batch) > 1;
            char roof[32] = "-";
            if (!batched)
                snprintf(roof, sizeof roof, "%.0f%%", 100 * f.median);
            printf("| %s | %s | %.1f MB | %ld | %s | %s | %d | %.2f | %s | %.1f | %s |\n",
                   models[i]->name, model_format(models[i]), (double)models[i]->weight_bytes / 1e6,
                   o.threads, tb_isa_name(mach.isa), o.tests[t].name,
                   test_batch(&o.tests[t], o.batch), s.median, ci, g.median, roof);
            json_t *run = json_pack("{s:s, s:s, s:I, s:i, s:s, s:s, s:i, s:i, s:o, s:o, s:o}", "model",
                                    models[i]->name, "format", model_format(models[i]),
                                    "weight_bytes", (json_int_t)models[i]->weight_bytes,
                                    "threads", (int)o.threads, "isa", tb_isa_name(mach.isa),
                                    "test", o.tests[t].name, "tokens", o.tests[t].tokens,
                                    "batch", test_batch(&o.tests[t], o.batch),
                                    "tokens_per_s", summary_json(c->tps, c->n), "weight_gbps",
                                    summary_json(c->gbps, c->n), "roofline_fraction",
                                    batched ? json_null() : summary_json(c->frac, c->n));
            if (meter && !energy_why[0])
                json_object_set_new(run, "energy",
                                    json_pack("{s:s, s:o}", "meter", tb_meter_kind_name(meter->kind),
                                              "joules_per_token", summary_json(c->jpt, c->n)));
            else
                json_object_set_new(run, "energy_unavailable", json_string(energy_why));
            json_t *hw = json_pack("{s:b}", "available", hw_why == NULL);
            json_object_set_new(hw, "reason", json_string(hw_why ? hw_why
                                                                 : "hardware events open, but "
                                                                   "bench does not count them yet"));
            json_object_set_new(run, "counters",
                                json_pack("{s:s, s:o, s:o, s:o, s:o}", "source", "getrusage",
                                          "cpu_seconds", summary_json(c->cpu_s, c->n),
                                          "context_switches", summary_json(c->ctxsw, c->n),
                                          "page_faults", summary_json(c->faults, c->n),
                                          "hardware", hw));
            json_array_append_new(runs, run);
        }

    json_t *comps = json_array();
    bool header = false;
    for (int a = 0; a < o.nmodels; a++)
        for (int b = 0; b < o.nmodels; b++) {
            if (!model_ternary(models[a]) || model_ternary(models[b]) ||
                !same_shape(models[a], models[b]))
                continue;
            for (int t = 0; t < o.ntests; t++) {
                cell *ca = &cells[a * o.ntests + t], *cb = &cells[b * o.ntests + t];
                double ratio[MAX_REPS];
                for (int r = 0; r < ca->n; r++)
                    ratio[r] = ca->tps[r] / cb->tps[r]; /* paired: same repetition */
                tb_summary s;
                tb_summarize(ratio, ca->n, &s);
                if (!header) {
                    printf("\n| test | threads | ternary | baseline | speedup | 95%% CI |\n"
                           "| --- | ---: | --- | --- | ---: | --- |\n");
                    header = true;
                }
                char ci[64] = "-";
                if (s.has_ci)
                    snprintf(ci, sizeof ci, "[%.2f, %.2f]", s.ci_lo, s.ci_hi);
                printf("| %s | %ld | %s | %s | %.2fx | %s |\n", o.tests[t].name, o.threads,
                       models[a]->name, models[b]->name, s.median, ci);
                json_t *speed = json_pack("{s:f}", "median", s.median);
                json_object_set_new(speed, "ci95", s.has_ci ? json_pack("[f, f]", s.ci_lo, s.ci_hi)
                                                            : json_null());
                json_t *saving = json_null();
                if (meter && !energy_why[0]) { /* paired: 1 - J/token ternary / J/token baseline */
                    double red[MAX_REPS];
                    for (int r = 0; r < ca->n; r++)
                        red[r] = 1.0 - ca->jpt[r] / cb->jpt[r];
                    tb_summary es;
                    tb_summarize(red, ca->n, &es);
                    saving = json_pack("{s:f}", "median", es.median);
                    json_object_set_new(saving, "ci95", es.has_ci ? json_pack("[f, f]", es.ci_lo, es.ci_hi)
                                                                  : json_null());
                }
                json_array_append_new(
                    comps, json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:o, s:o}", "test",
                                     o.tests[t].name, "threads", (int)o.threads, "model",
                                     models[a]->name, "baseline_model", models[b]->name, "format",
                                     model_format(models[a]), "baseline_format",
                                     model_format(models[b]), "speedup", speed,
                                     "energy_reduction", saving));
            }
        }
    uint64_t h = hash_tokens(ids, max_tokens);
    printf("\ntokens: %d seeded ids (seed %ld, below %d, FNV-1a %016llx), the same for every "
           "model; %ld repetitions interleaved; roofline = weight GB/s / STREAM triad just "
           "before each run\n", max_tokens, o.seed, min_vocab, (unsigned long long)h, o.reps);

    if (o.json) {
        json_t *doc = json_pack("{s:s, s:o, s:o, s:o, s:{s:i, s:I, s:i}}", "schema",
                                "ternbench.result/1", "machine", tb_machine_to_json(&mach), "runs",
                                runs, "comparisons", comps, "workload", "tokens", max_tokens,
                                "hash", (json_int_t)(h >> 1), "seed", (int)o.seed);
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(doc);
        if (!text || tb_file_write_atomic(o.json, text, strlen(text), &err) != TB_OK) {
            fprintf(stderr, "ternbench bench: %s\n", text ? err.text : "out of memory");
            rc = TB_EXIT_USAGE;
        }
        free(text);
    } else {
        json_decref(runs);
        json_decref(comps);
    }
    if (energy_why[0])
        printf("energy: not measured: %s\n", energy_why);
    if (hw_why)
        printf("hardware counters: unavailable: %s\n", hw_why);
out:
    tb_sampler_free(sampler);
    tb_meter_close(meter);
    tb_bandwidth_free(bw);
    free(ids);
    free(cells);
    for (int i = 0; i < o.nmodels; i++)
        tb_model_free(models[i]);
    return rc;
}
