/*
 * bench.c - the runner behind `ternbench bench` and `ternbench reproduce`:
 * loads models, feeds them identical token sequences with repetitions
 * interleaved (A B C A B C ...) so that a shared machine's drift falls on
 * every model alike, measures, and compares each ternary format with each
 * baseline of the same shape from paired repetitions.
 *
 * Tests: tgN generates N tokens from an empty cache, one at a time; ppN
 * processes an N-token prompt in batches (GEMM kernels; batch 1 feeds it one
 * token at a time, as bitnet.cpp's published benchmark did). Beside each run:
 * weight GB/s and its fraction of a STREAM triad probed on the model's
 * threads just before and after the run (decode only; a batch is compute-bound);
 * joules per token from the first energy meter that works (none: each run
 * says why); software counters (CPU time, context switches, page faults)
 * from getrusage, hardware ones recorded as unavailable with the reason.
 */
#include "bench.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bandwidth.h"
#include "counters.h"
#include "dummy.h"
#include "tb_file.h"
#include "tokenizer.h"
#include "sampler.h"
#include "stats.h"
#include "tb_time.h"
#include "threadpool.h"

/* Time a run lost to others, per kind: the hypervisor's steal (machine-wide,
 * over all the guest's CPUs) and the pool's threads waiting on a run queue
 * inside the guest (other processes on its CPUs). A kind's worst run above
 * LOSS_WARN of the time it could have had is named under the tables. */
enum { LOSS_STEAL, LOSS_WAIT, LOSSES };
#define LOSS_WARN 0.05

static const struct loss_kind {
    const char *key;          /* in the run's counters */
    const char *who, *of;     /* "<who> for N % of <of>" */
    const char *why;
} loss_kinds[LOSSES] = {
    {"steal_seconds", "the hypervisor ran something else", "this guest's CPU time",
     "the host was busy"},
    {"runqueue_wait_seconds", "the pool's threads waited for a CPU", "their time",
     "other processes ran on this machine's CPUs"},
};

typedef struct cell {          /* one model x one test */
    double tps[TB_BENCH_MAX_REPS], gbps[TB_BENCH_MAX_REPS], frac[TB_BENCH_MAX_REPS];
    double jpt[TB_BENCH_MAX_REPS]; /* joules per token (measured), when a meter exists */
    double jpt_net[TB_BENCH_MAX_REPS], watts[TB_BENCH_MAX_REPS];
    double cpu_s[TB_BENCH_MAX_REPS], ctxsw[TB_BENCH_MAX_REPS], faults[TB_BENCH_MAX_REPS];
    double loss[LOSSES][TB_BENCH_MAX_REPS];     /* seconds lost per kind (loss_kinds) */
    bool loss_ok[LOSSES];                       /* read in every repetition */
    double hw[TB_HW_EVENTS][TB_BENCH_MAX_REPS]; /* per run, summed over the pool's threads */
    bool hw_ok[TB_HW_EVENTS];                   /* counted in every repetition */
    char hw_why[TB_HW_EVENTS][160];
    int n;
} cell;

/* The largest share of the time its repetitions could have had (tokens
 * over tokens/s, times `over`: CPUs or threads) that cell c lost to kind k. */
static double worst_share(const cell *c, int k, int tokens, double over)
{
    double worst = 0;
    for (int r = 0; r < c->n; r++) {
        double share = c->loss[k][r] * c->tps[r] / (tokens * over);
        worst = share > worst ? share : worst;
    }
    return worst;
}

/* A prompt file as model m's vocabulary tokenizes it (with its BOS), repeated
 * to n tokens when shorter; *file_n is its own length in tokens. */
static int prompt_tokens(const char *path, const tb_model *m, int *ids, int n, int *file_n,
                         tb_error *err)
{
    if (!m->gguf)
        return tb_error_set(err, TB_EINVAL, "%s has no vocabulary to read --prompt-file %s with: "
                            "use GGUF models with one (`ternbench gen --tokenizer ...`)", m->name,
                            path);
    char *text = NULL;
    size_t len;
    tb_tokenizer *t = NULL;
    int *got = NULL, count = 0;
    int rc = tb_file_read_all(path, (size_t)1 << 26, &text, &len, err);
    if (rc == TB_OK)
        rc = tb_tokenizer_load(m->gguf, NULL, &t, err);
    if (rc == TB_OK)
        rc = tb_tokenizer_encode(t, text, len, tb_tokenizer_add_bos(t), false, &got, &count, err);
    if (rc == TB_OK && count == 0)
        rc = tb_error_set(err, TB_EINVAL, "--prompt-file %s: no tokens in it", path);
    for (int i = 0; rc == TB_OK && i < count; i++)
        if (got[i] >= m->cfg.vocab)
            rc = tb_error_set(err, TB_EINVAL, "%s: token %d is outside the model's %d embeddings",
                              m->name, got[i], m->cfg.vocab);
    for (int i = 0; rc == TB_OK && i < n; i++)
        ids[i] = got[i % count];
    *file_n = count;
    free(got);
    free(text);
    tb_tokenizer_free(t);
    return rc == TB_OK ? rc : tb_error_prefix(err, "%s", m->name);
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

/* Feeds n tokens from an empty cache in batches of `batch`, then `gen` more
 * one at a time; seconds. */
static double run_tokens(tb_model *m, const int *ids, int n, int batch, int gen)
{
    tb_model_reset(m);
    double t0 = tb_now();
    for (int i = 0; i < n; i += batch) {
        int b = n - i < batch ? n - i : batch;
        if (!tb_model_forward_batch(m, ids + i, b))
            return -1;
    }
    for (int i = 0; i < gen; i++)
        if (!tb_model_forward(m, ids[n + i]))
            return -1;
    return tb_now() - t0;
}

/* The batch a test runs with. */
static int test_batch(const tb_bench_test *t, long batch)
{
    if (t->batch)
        batch = t->batch;
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

int tb_bench_run(const tb_bench_opts *o, const tb_machine *mach, FILE *out, json_t *runs,
                 json_t *comps, json_t **workload, tb_error *err)
{
    int rc = TB_OK;
    int max_tokens = (int)o->warmup;
    for (int i = 0; i < o->ntests; i++)
        max_tokens = o->tests[i].tokens + o->tests[i].gen > max_tokens
                         ? o->tests[i].tokens + o->tests[i].gen : max_tokens;

    tb_model *models[TB_BENCH_MAX_MODELS] = {0};
    tb_meter *meter = NULL;
    tb_sampler *sampler = NULL;
    char energy_why[1200] = "";
    int min_vocab = 1 << 30;
    for (int i = 0; i < o->nmodels; i++) {
        fprintf(stderr, "ternbench bench: loading %s...\n", o->specs[i]);
        double t0 = tb_now();
        if (tb_model_open(o->specs[i], (int)o->threads, mach->isa, max_tokens, TB_KV_F16, &models[i],
                          err) != TB_OK) {
            for (int j = 0; j < i; j++)
                tb_model_free(models[j]);
            return err->code;
        }
        int max_batch = 1;
        for (int t = 0; t < o->ntests; t++)
            max_batch = test_batch(&o->tests[t], o->batch) > max_batch ? test_batch(&o->tests[t], o->batch)
                                                                    : max_batch;
        if (tb_model_set_batch(models[i], max_batch, err) != TB_OK) {
            tb_error_prefix(err, "%s", o->specs[i]);
            for (int j = 0; j <= i; j++)
                tb_model_free(models[j]);
            return err->code;
        }
        fprintf(stderr, "ternbench bench: %s ready in %.1f s (%.1f MB of weights per token)\n",
                o->specs[i], tb_now() - t0, (double)models[i]->weight_bytes / 1e6);
        if (models[i]->cfg.vocab < min_vocab)
            min_vocab = models[i]->cfg.vocab;
    }
    int *ids = malloc((size_t)max_tokens * o->nmodels * sizeof *ids); /* a row per model */
    int file_tokens[TB_BENCH_MAX_MODELS] = {0};
    cell *cells = calloc((size_t)o->nmodels * o->ntests, sizeof *cells);
    tb_bandwidth *bw = NULL;
    if (!ids || !cells) {
        rc = tb_error_set(err, TB_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = tb_bandwidth_new(64u << 20, &bw, err)) != TB_OK)
        goto out;
    for (int i = 0; i < o->nmodels && rc == TB_OK; i++) {
        int *row = ids + (size_t)i * max_tokens;
        if (o->prompt_file)
            rc = prompt_tokens(o->prompt_file, models[i], row, max_tokens, &file_tokens[i], err);
        else
            make_tokens(row, max_tokens, o->seed, min_vocab);
    }
    if (rc != TB_OK)
        goto out;

    const tb_bench_hooks *fake = o->hooks;
    const char *meter_name = NULL;
    if (fake && fake->energy) {
        meter_name = fake->meter_name;
    } else if (tb_meter_open_auto(NULL, &meter, err) == TB_OK) {
        sampler = tb_sampler_new(meter, 0);
        meter_name = tb_meter_kind_name(meter->kind);
    } else {
        snprintf(energy_why, sizeof energy_why, "%s", err->text);
        for (char *p = energy_why; *p; p++)
            if (*p == '\n')
                *p = ' ';
    }
    double idle_w = 0; /* idle power, subtracted for net joules */
    if (sampler && o->idle_s > 0) {
        tb_energy_result idle;
        fprintf(stderr, "ternbench bench: measuring idle power for %.1f s...\n", o->idle_s);
        if (tb_sampler_start(sampler, err) == TB_OK) {
            struct timespec ts = {(time_t)o->idle_s, (long)((o->idle_s - (double)(time_t)o->idle_s) * 1e9)};
            nanosleep(&ts, NULL);
            if (tb_sampler_stop(sampler, &idle, err) == TB_OK && idle.seconds > 0)
                idle_w = idle.total_j / idle.seconds;
        }
    }
    char hw_buf[512];
    const char *hw_why = tb_hw_counters_unavailable(hw_buf, sizeof hw_buf);

    double worst[LOSSES] = {0}; /* per kind: the largest share above LOSS_WARN, its run, */
    char worst_run[LOSSES][400];   /* and how many runs were above */
    int lossy_runs[LOSSES] = {0};
    int nthreads = o->nthreads ? o->nthreads : 1;
    for (int ti = 0; ti < nthreads && rc == TB_OK; ti++) {
        long threads = o->nthreads ? o->thread_list[ti] : o->threads;
        for (int i = 0; i < o->nmodels && rc == TB_OK; i++)
            rc = tb_model_set_threads(models[i], (int)threads, err);
        if (rc != TB_OK)
            break;
        if (threads > mach->cpu.usable_cpus)
            fprintf(stderr, "ternbench bench: warning: %ld threads on %d usable CPU%s (%s): the pool's "
                    "threads will take turns, so these figures measure the scheduler more than the "
                    "kernels; use -t %d or fewer\n", threads, mach->cpu.usable_cpus,
                    mach->cpu.usable_cpus == 1 ? "" : "s",
                    mach->cpu.usable_why[0] ? mach->cpu.usable_why : "all online CPUs",
                    mach->cpu.usable_cpus);
        memset(cells, 0, (size_t)o->nmodels * o->ntests * sizeof *cells);
        for (int i = 0; i < o->nmodels && !fake; i++) /* warm-up: pages in, caches, clocks */
            run_tokens(models[i], ids + (size_t)i * max_tokens, (int)o->warmup, 1, 0);
        bool tty = isatty(2);
        double started = tb_now();
        int total = (int)o->reps * o->ntests * o->nmodels, done = 0;
        for (int r = 0; r < o->reps; r++)
            for (int t = 0; t < o->ntests; t++)
                for (int i = 0; i < o->nmodels; i++) {
                    tb_model *m = models[i];
                    /* bracketing probes (best of 3 each, ~15 ms): one probe alone moved
                     * the fraction by 10-30 points between runs of one binary here */
                    double triad_before = tb_bandwidth_triad(bw, m->pool, 3);
                    cell *c = &cells[i * o->ntests + t];
                    tb_usage u0, u1;
                    tb_energy_result er;
                    tb_hw_counters hc;
                    int tids[TB_HW_MAX_THREADS];
                    bool counting = !hw_why && tb_hw_open(&hc, tids, tb_pool_tids(m->pool, tids,
                                                                                   TB_HW_MAX_THREADS),
                                                          NULL) > 0;
                    bool metered = sampler && tb_sampler_start(sampler, err) == TB_OK;
                    if (counting)
                        tb_hw_start(&hc);
                    tb_usage_now(&u0);
                    const tb_bench_test *tt = &o->tests[t];
                    int all = tt->tokens + tt->gen;
                    double secs = fake ? fake->run(fake->ctx, i, t, r)
                                       : run_tokens(m, ids + (size_t)i * max_tokens, tt->tokens,
                                                    test_batch(tt, o->batch), tt->gen);
                    tb_usage_now(&u1);
                    if (counting) {
                        uint64_t v[TB_HW_EVENTS];
                        tb_hw_stop(&hc, v);
                        for (int e = 0; e < TB_HW_EVENTS; e++) {
                            if (c->n == 0)
                                c->hw_ok[e] = true;
                            c->hw_ok[e] = c->hw_ok[e] && hc.ok[e];
                            c->hw[e][c->n] = (double)v[e];
                            if (!hc.ok[e])
                                snprintf(c->hw_why[e], sizeof c->hw_why[e], "%s", hc.why[e]);
                        }
                        tb_hw_close(&hc);
                    }
                    if (fake && fake->energy) {
                        er.total_j = fake->energy(fake->ctx, i, t, r, secs);
                        er.seconds = secs;
                    }
                    if ((fake && fake->energy) || (metered && tb_sampler_stop(sampler, &er, err) == TB_OK)) {
                        c->jpt[c->n] = er.total_j / all;
                        c->watts[c->n] = er.seconds > 0 ? er.total_j / er.seconds : 0;
                        c->jpt_net[c->n] = (er.total_j - idle_w * er.seconds) / all;
                    } else if (sampler)
                        snprintf(energy_why, sizeof energy_why, "meter failed: %s", err->text);
                    c->cpu_s[c->n] = u1.cpu_s - u0.cpu_s;
                    c->ctxsw[c->n] = (double)(u1.context_switches - u0.context_switches);
                    c->faults[c->n] = (double)(u1.page_faults - u0.page_faults);
                    double lost[LOSSES] = {u1.steal_s - u0.steal_s, u1.wait_s - u0.wait_s};
                    bool known[LOSSES] = {u0.steal_s >= 0 && u1.steal_s >= 0,
                                          u0.wait_s >= 0 && u1.wait_s >= 0};
                    if (fake && fake->losses) {
                        fake->losses(fake->ctx, i, t, r, secs, lost);
                        known[LOSS_STEAL] = known[LOSS_WAIT] = true;
                    }
                    for (int k = 0; k < LOSSES; k++) {
                        c->loss_ok[k] = (c->n == 0 || c->loss_ok[k]) && known[k];
                        c->loss[k][c->n] = lost[k];
                    }
                    c->tps[c->n] = all / secs;
                    c->gbps[c->n] = (double)m->weight_bytes * c->tps[c->n] / 1e9;
                    /* after the counters and the meter have stopped */
                    double triad = (triad_before + tb_bandwidth_triad(bw, m->pool, 3)) / 2;
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

        fprintf(out, "| model | format | size | threads | isa | test | batch | t/s | 95%% CI | GB/s | roofline |\n"
               "| --- | --- | ---: | ---: | --- | --- | ---: | ---: | --- | ---: | ---: |\n");
            for (int i = 0; i < o->nmodels; i++)
            for (int t = 0; t < o->ntests; t++) {
                cell *c = &cells[i * o->ntests + t];
                tb_summary s, g, f;
                tb_summarize(c->tps, c->n, &s);
                tb_summarize(c->gbps, c->n, &g);
                tb_summarize(c->frac, c->n, &f);
                char ci[64] = "-";
                if (s.has_ci)
                    snprintf(ci, sizeof ci, "[%.2f, %.2f]", s.ci_lo, s.ci_hi);
                /* a batch reads each weight once for many tokens: compute-bound, so no
                 * bandwidth roofline applies (GB/s there is weight bytes x tokens/s) */
                bool batched = test_batch(&o->tests[t], o->batch) > 1;
                char roof[32] = "-";
                if (!batched)
                    snprintf(roof, sizeof roof, "%.0f%%", 100 * f.median);
                fprintf(out, "| %s | %s | %.1f MB | %ld | %s | %s | %d | %.2f | %s | %.1f | %s |\n",
                       models[i]->name, model_format(models[i]), (double)models[i]->weight_bytes / 1e6,
                       threads, tb_isa_name(mach->isa), o->tests[t].name,
                       test_batch(&o->tests[t], o->batch), s.median, ci, g.median, roof);
                json_t *run = json_pack("{s:s, s:s, s:s, s:I, s:i, s:s, s:s, s:i, s:i, s:o, s:o, s:o}",
                                        "model", models[i]->name, "format", model_format(models[i]),
                                        "embd_format", tb_format_get(models[i]->lm_head.fmt)->name,
                                        "weight_bytes", (json_int_t)models[i]->weight_bytes,
                                        "threads", (int)threads, "isa", tb_isa_name(mach->isa),
                                        "test", o->tests[t].name, "tokens",
                                        o->tests[t].tokens + o->tests[t].gen,
                                        "batch", test_batch(&o->tests[t], o->batch),
                                        "tokens_per_s", summary_json(c->tps, c->n), "weight_gbps",
                                        summary_json(c->gbps, c->n), "roofline_fraction",
                                        batched ? json_null() : summary_json(c->frac, c->n));
                if (meter_name && !energy_why[0])
                    json_object_set_new(run, "energy",
                                        json_pack("{s:s, s:o, s:o, s:o, s:f}", "meter",
                                                  meter_name, "joules_per_token",
                                                  summary_json(c->jpt, c->n), "joules_per_token_net",
                                                  o->idle_s > 0 ? summary_json(c->jpt_net, c->n)
                                                                : json_null(),
                                                  "watts", summary_json(c->watts, c->n),
                                                  "idle_watts", idle_w));
                else
                    json_object_set_new(run, "energy_unavailable", json_string(energy_why));
                json_t *hw = json_pack("{s:b}", "available", hw_why == NULL), *evs = json_object();
                for (int e = 0; e < TB_HW_EVENTS; e++) /* what each event is asked as */
                    json_object_set_new(evs, tb_hw_event_names[e],
                                        json_string(tb_hw_events()[e].name));
                json_object_set_new(hw, "events", evs);
                if (hw_why) {
                    json_object_set_new(hw, "reason", json_string(hw_why));
                } else { /* perf_event, per thread of the pool, summed; derived per token */
                    int all = o->tests[t].tokens + o->tests[t].gen;
                    json_object_set_new(hw, "source", json_string(tb_hw_events()[0].libpfm4
                                                                      ? "libpfm4+perf_event"
                                                                      : "perf_event"));
                    for (int e = 0; e < TB_HW_EVENTS; e++) {
                        if (!c->hw_ok[e]) {
                            char k[64];
                            snprintf(k, sizeof k, "%s_unavailable", tb_hw_event_names[e]);
                            json_object_set_new(hw, k, json_string(c->hw_why[e]));
                            continue;
                        }
                        double per[TB_BENCH_MAX_REPS];
                        for (int r = 0; r < c->n; r++)
                            per[r] = c->hw[e][r] / all;
                        char k[64];
                        snprintf(k, sizeof k, "%s_per_token", tb_hw_event_names[e]);
                        json_object_set_new(hw, tb_hw_event_names[e], summary_json(c->hw[e], c->n));
                        json_object_set_new(hw, k, summary_json(per, c->n));
                    }
                    if (c->hw_ok[0] && c->hw_ok[1]) {
                        double ipc[TB_BENCH_MAX_REPS];
                        for (int r = 0; r < c->n; r++)
                            ipc[r] = c->hw[1][r] > 0 ? c->hw[0][r] / c->hw[1][r] : 0;
                        json_object_set_new(hw, "ipc", summary_json(ipc, c->n));
                    }
                }
                json_object_set_new(run, "params", json_real(models[i]->params));
                json_object_set_new(run, "counters",
                                    json_pack("{s:s, s:o, s:o, s:o, s:o}", "source", "getrusage",
                                              "cpu_seconds", summary_json(c->cpu_s, c->n),
                                              "context_switches", summary_json(c->ctxsw, c->n),
                                              "page_faults", summary_json(c->faults, c->n),
                                              "hardware", hw));
                /* what each kind could have had: all CPUs, or the pool's threads */
                const double over[LOSSES] = {mach->cpu.logical_cpus, (double)threads};
                for (int k = 0; k < LOSSES; k++) {
                    json_object_set_new(json_object_get(run, "counters"), loss_kinds[k].key,
                                        c->loss_ok[k] ? summary_json(c->loss[k], c->n) : json_null());
                    double share = c->loss_ok[k] ? worst_share(c, k, o->tests[t].tokens +
                                                               o->tests[t].gen, over[k]) : 0;
                    if (share <= LOSS_WARN)
                        continue;
                    lossy_runs[k]++;
                    if (share > worst[k]) {
                        worst[k] = share;
                        snprintf(worst_run[k], sizeof worst_run[k], "%s %s at %ld thread%s",
                                 models[i]->name, o->tests[t].name, threads, threads == 1 ? "" : "s");
                    }
                }
                json_array_append_new(runs, run);
            }

            bool header = false;
        for (int a = 0; a < o->nmodels; a++)
            for (int b = 0; b < o->nmodels; b++) {
                if (!model_ternary(models[a]) || model_ternary(models[b]) ||
                    !same_shape(models[a], models[b]))
                    continue;
                for (int t = 0; t < o->ntests; t++) {
                    cell *ca = &cells[a * o->ntests + t], *cb = &cells[b * o->ntests + t];
                    double ratio[TB_BENCH_MAX_REPS];
                    for (int r = 0; r < ca->n; r++)
                        ratio[r] = ca->tps[r] / cb->tps[r]; /* paired: same repetition */
                    tb_summary s;
                    tb_summarize(ratio, ca->n, &s);
                    if (!header) {
                        fprintf(out, "\n| test | threads | ternary | baseline | speedup | 95%% CI |\n"
                               "| --- | ---: | --- | --- | ---: | --- |\n");
                        header = true;
                    }
                    char ci[64] = "-";
                    if (s.has_ci)
                        snprintf(ci, sizeof ci, "[%.2f, %.2f]", s.ci_lo, s.ci_hi);
                    fprintf(out, "| %s | %ld | %s | %s | %.2fx | %s |\n", o->tests[t].name, threads,
                           models[a]->name, models[b]->name, s.median, ci);
                    json_t *speed = json_pack("{s:f}", "median", s.median);
                    json_object_set_new(speed, "ci95", s.has_ci ? json_pack("[f, f]", s.ci_lo, s.ci_hi)
                                                                : json_null());
                    json_t *saving = json_null();
                    if (meter_name && !energy_why[0]) { /* paired: 1 - J/token ternary / J/token baseline */
                        double red[TB_BENCH_MAX_REPS];
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
                                         o->tests[t].name, "threads", (int)threads, "model",
                                         models[a]->name, "baseline_model", models[b]->name, "format",
                                         model_format(models[a]), "baseline_format",
                                         model_format(models[b]), "speedup", speed,
                                         "energy_reduction", saving));
                }
            }
    }
    if (rc != TB_OK)
        goto out;
    if (o->prompt_file) {
        json_t *per = json_array();
        fprintf(out, "\ntokens: the first %d tokens of %s as each model's vocabulary reads it "
                "(repeated where shorter):", max_tokens, o->prompt_file);
        for (int i = 0; i < o->nmodels; i++) {
            uint64_t hm = hash_tokens(ids + (size_t)i * max_tokens, max_tokens);
            json_array_append_new(per, json_pack("{s:s, s:i, s:I}", "model", models[i]->name,
                                                 "file_tokens", file_tokens[i], "hash",
                                                 (json_int_t)(hm >> 1)));
            fprintf(out, "%s %s %d tokens (FNV-1a %016llx)", i ? ";" : "", models[i]->name,
                    file_tokens[i], (unsigned long long)hm);
        }
        *workload = json_pack("{s:i, s:s, s:o}", "tokens", max_tokens, "prompt_file",
                              o->prompt_file, "per_model", per);
    } else {
        uint64_t h = hash_tokens(ids, max_tokens);
        *workload = json_pack("{s:i, s:I, s:i, s:i}", "tokens", max_tokens, "hash",
                              (json_int_t)(h >> 1), "seed", (int)o->seed, "vocab_bound", min_vocab);
        fprintf(out, "\ntokens: %d seeded ids (seed %ld, below %d, FNV-1a %016llx), the same for "
                "every model", max_tokens, o->seed, min_vocab, (unsigned long long)h);
    }
    fprintf(out, "; %ld repetitions interleaved; roofline = weight GB/s / the mean of STREAM "
            "triads just before and after each run\n", o->reps);

    if (energy_why[0])
        fprintf(out, "energy: not measured: %s\n", energy_why);
    if (hw_why)
        fprintf(out, "hardware counters: unavailable: %s\n", hw_why);
    for (int k = 0; k < LOSSES; k++) {
        if (worst[k] <= 0)
            continue;
        fprintf(out, "lost time: %s for %.0f %% of %s in a repetition of %s (%d run%s above "
                "%.0f %%): %s, and these figures understate this machine; see counters.%s, or "
                "run again\n", loss_kinds[k].who, 100 * worst[k], loss_kinds[k].of, worst_run[k],
                lossy_runs[k], lossy_runs[k] == 1 ? "" : "s", 100 * LOSS_WARN, loss_kinds[k].why,
                loss_kinds[k].key);
    }
out:
    tb_sampler_free(sampler);
    tb_meter_close(meter);
    tb_bandwidth_free(bw);
    free(ids);
    free(cells);
    for (int i = 0; i < o->nmodels; i++)
        tb_model_free(models[i]);
    return rc;
}

int tb_bench_add_tests(tb_bench_opts *o, const char *list, bool prompt, tb_error *err)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *end;
        long n = strtol(tok, &end, 10);
        if (end == tok || *end || n < 1 || n > 4096)
            return tb_error_set(err, TB_EINVAL, "%s: '%s' is not a token count in 1..4096",
                                prompt ? "-p" : "-n", tok);
        if (o->ntests == TB_BENCH_MAX_TESTS)
            return tb_error_set(err, TB_EINVAL, "at most %d tests", TB_BENCH_MAX_TESTS);
        tb_bench_test *t = &o->tests[o->ntests++];
        t->tokens = (int)n;
        t->prompt = prompt;
        snprintf(t->name, sizeof t->name, "%s%ld", prompt ? "pp" : "tg", n);
    }
    return TB_OK;
}

json_t *tb_result_document(const tb_machine *mach, json_t *runs, json_t *comps, json_t *workload)
{
    char created[32];
    time_t now = time(NULL);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "schema", "ternbench.result/1", "created",
                     created, "machine", tb_machine_to_json(mach), "runs", runs, "comparisons",
                     comps, "workload", workload ? workload : json_null());
}

int tb_bench_add_pg(tb_bench_opts *o, int prompt, int gen, tb_error *err)
{
    if (prompt < 1 || prompt > 4096 || gen < 1 || gen > 4096)
        return tb_error_set(err, TB_EINVAL, "-pg %d,%d: both counts must be in 1..4096", prompt, gen);
    if (o->ntests == TB_BENCH_MAX_TESTS)
        return tb_error_set(err, TB_EINVAL, "at most %d tests", TB_BENCH_MAX_TESTS);
    tb_bench_test *t = &o->tests[o->ntests++];
    memset(t, 0, sizeof *t);
    t->tokens = prompt;
    t->prompt = true;
    t->gen = gen;
    snprintf(t->name, sizeof t->name, "pp%d+tg%d", prompt, gen);
    return TB_OK;
}
