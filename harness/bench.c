/*
 * bench.c - the runner behind `ternbench bench` and `ternbench reproduce`:
 * loads models, feeds them identical token sequences in rounds (every model
 * once per test per round, the order reversed every other round so that
 * neither of a pair always runs first), and measures each try beside what
 * the machine did meanwhile. bench_doc.c turns the measurements into the
 * tables and the result document.
 *
 * Tests: tgN generates N tokens from an empty cache, one at a time; ppN
 * processes an N-token prompt in batches (GEMM kernels; batch 1 feeds it one
 * token at a time, as bitnet.cpp's published benchmark did). Beside each try:
 * the bytes it read per second (weights and KV cache) as a fraction of a
 * read-only stream probed on the model's threads just before and after it;
 * joules from the first energy meter that works (none: each run says why);
 * CPU time, context switches and page faults from getrusage; hardware events
 * where the kernel has a PMU; and the time lost to others: the hypervisor's
 * steal and the pool's threads waiting for a CPU.
 *
 * Trust: a try that lost more than max_lost (5 %) of its time is redone, at
 * most `retries` (3) extra tries per cell; past that the cell is tainted, its
 * disturbed tries left out, and every verdict on it withheld. With a
 * precision, rounds are added until every comparison's interval is tight.
 *
 * The walk of tb_bench_run: open the models -> the tokens -> the engines
 * (ternbench's, and each peer on each file it can run) -> the meters -> per
 * thread count: warm up, measure rounds, report -> the workload.
 */
#include "bench_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bandwidth.h"
#include "dummy.h"
#include "sampler.h"
#include "stats.h"
#include "tb_file.h"
#include "tb_time.h"
#include "threadpool.h"
#include "tokenizer.h"

const loss_kind bench_loss_kinds[LOSSES] = {
    {"steal_seconds", "steal", "the hypervisor ran something else", "this guest's CPU time",
     "the host was busy"},
    {"runqueue_wait_seconds", "runqueue_wait", "the pool's threads waited for a CPU",
     "their time", "other processes ran on this machine's CPUs"},
};

#define DEFAULT_MAX_LOST 0.05 /* a share of 1 (everything) is never "more than" --max-lost 100% */
#define DEFAULT_RETRIES 3
/* ---- models and their tests ---- */

const char *bench_model_format(const tb_model *m)
{
    return tb_format_get(m->layers[0].wq.fmt)->name;
}

bool bench_model_ternary(const tb_model *m)
{
    return tb_format_get(m->layers[0].wq.fmt)->ternary;
}

bool bench_same_shape(const tb_model *a, const tb_model *b)
{
    return a->cfg.dim == b->cfg.dim && a->cfg.ffn == b->cfg.ffn && a->cfg.layers == b->cfg.layers &&
           a->cfg.vocab == b->cfg.vocab && a->cfg.heads == b->cfg.heads;
}

/* The ternary model of ternbench's that the others of its shape are set
 * against: the first one listed (-1 for none). */
static int ternary_reference(const bench *b, int x)
{
    for (int i = 0; i < b->nengines; i++) {
        const engine *e = &b->engines[i];
        if (!e->peer && !e->ternbench && bench_model_ternary(e->model) &&
            bench_same_shape(e->model, b->engines[x].model))
            return i;
    }
    return -1;
}

bool bench_compares(const bench *b, int x, int y)
{
    const engine *a = &b->engines[x], *c = &b->engines[y];
    if (a->ternbench || c->ternbench) /* A/B: this build over the other, model by model */
        return !a->peer && c->ternbench && a->index == c->index;
    if (!bench_model_ternary(a->model) || !bench_same_shape(a->model, c->model))
        return false;
    if (bench_model_ternary(c->model)) /* ternary layouts: each of ternbench's over the first */
        return !a->peer && x != y && y == ternary_reference(b, x);
    bool same_engine = (!a->peer && !c->peer) || (a->peer && c->peer && !strcmp(a->peer, c->peer));
    return same_engine || !a->peer || !strcmp(bench_model_format(c->model), "f16");
}

const char *bench_model_size(const tb_model *m)
{
    return m->preset;
}

int tb_bench_test_batch(const tb_bench_test *t, long batch)
{
    if (t->batch)
        batch = t->batch;
    return t->prompt ? (int)(batch < t->tokens ? batch : t->tokens) : 1;
}

void tb_bench_name_tests(tb_bench_opts *o)
{
    for (int i = 0; i < o->ntests; i++) {
        tb_bench_test *t = &o->tests[i];
        int b = tb_bench_test_batch(t, o->batch);
        if (!t->prompt || strchr(t->name, '@'))
            continue;
        if (b < t->tokens) {
            size_t n = strlen(t->name);
            snprintf(t->name + n, sizeof t->name - n, "@b%d", b);
        }
    }
}

double bench_kv_bytes(const tb_model *m, const tb_bench_test *t)
{
    const tb_config *c = &m->cfg;
    double per_pos = 2.0 * c->layers * c->kv_heads * c->head_dim *
                     (m->rs.kv_type == TB_KV_F16 ? 2 : 4); /* K and V */
    /* decoding (or the generated part of a pg test) from position `first`:
     * the token at position p attends to p + 1 positions */
    int first = t->gen ? t->tokens : 0, count = t->gen ? t->gen : t->tokens;
    return per_pos * (first + 1 + first + count) / 2.0;
}

int bench_pairs(const cell *a, const cell *b, int *ia, int *ib)
{
    int n = 0;
    for (int i = 0, j = 0; i < a->n && j < b->n;) {
        if (a->round[i] == b->round[j]) {
            ia[n] = i++;
            ib[n++] = j++;
        } else if (a->round[i] < b->round[j]) {
            i++;
        } else {
            j++;
        }
    }
    return n;
}

/* ---- opening ---- */

static int open_models(bench *b, tb_error *err)
{
    const tb_bench_opts *o = b->o;
    b->max_tokens = (int)o->warmup;
    int max_batch = 1;
    for (int i = 0; i < o->ntests; i++) {
        const tb_bench_test *t = &o->tests[i];
        if (t->tokens + t->gen > b->max_tokens)
            b->max_tokens = t->tokens + t->gen;
        if (tb_bench_test_batch(t, o->batch) > max_batch)
            max_batch = tb_bench_test_batch(t, o->batch);
    }
    b->min_vocab = 1 << 30;
    int ctx = b->max_tokens; /* --quality's chunks run in the same cache */
    if (o->quality && bench_quality_ctx(o) > ctx)
        ctx = bench_quality_ctx(o);
    for (int i = 0; i < o->nmodels; i++) {
        fprintf(stderr, "ternbench bench: loading %s...\n", o->specs[i]);
        double t0 = tb_now();
        if (tb_model_open(o->specs[i], (int)o->threads, b->mach->isa, ctx, TB_KV_F16,
                          &b->models[i], err) != TB_OK)
            return err->code;
        if (tb_model_set_batch(b->models[i], max_batch, err) != TB_OK)
            return tb_error_prefix(err, "%s", o->specs[i]);
        fprintf(stderr, "ternbench bench: %s ready in %.1f s (%.1f MB of weights per token)\n",
                o->specs[i], tb_now() - t0, (double)b->models[i]->weight_bytes / 1e6);
        if (b->models[i]->cfg.vocab < b->min_vocab)
            b->min_vocab = b->models[i]->cfg.vocab;
    }
    return TB_OK;
}

/* Ternbench on every model, then every peer on every model that is a file
 * (a ternbench peer: every model): each peer first runs the model once (one
 * decoded token), so that one that cannot run it says so, with its
 * loader's message, before anything is measured. */
static void add_engines(bench *b, json_t *peers)
{
    const tb_bench_opts *o = b->o;
    for (int i = 0; i < o->nmodels; i++) {
        engine *e = &b->engines[b->nengines++];
        memset(e, 0, sizeof *e);
        snprintf(e->name, sizeof e->name, "%s", b->models[i]->name);
        e->model = b->models[i];
        e->index = i;
    }
    tb_bench_test probe = {.name = "tg1", .tokens = 1};
    for (int p = 0; p < o->npeers; p++) {
        bool ternbench = tb_peer_is_ternbench(o->peer_paths[p]);
        for (int i = 0; i < o->nmodels; i++) {
            if (!ternbench && !strncmp(o->specs[i], "dummy:", 6))
                continue;
            engine *e = &b->engines[b->nengines];
            memset(e, 0, sizeof *e);
            const char *base = strrchr(o->specs[i], '/');
            snprintf(e->name, sizeof e->name, "peer:%s:%s", o->peer_names[p], base ? base + 1 : o->specs[i]);
            e->model = b->models[i];
            e->index = i;
            e->peer = o->peer_names[p];
            e->peer_path = o->peer_paths[p];
            e->ternbench = ternbench;
            e->file = o->specs[i];
            fprintf(stderr, "ternbench bench: can %s run %s?\n", e->peer, e->file);
            tb_peer_sample ps;
            tb_error err;
            bool ok = tb_peer_once(e->peer_path, ternbench, e->file, &probe, 1, o->threads, &ps, &e->info,
                                   &err) == TB_OK;
            json_t *st = json_pack("{s:s, s:s, s:s, s:b}", "name", e->peer, "path", e->peer_path,
                                   "file", e->file, "ok", ok);
            if (ok) {
                json_object_set_new(st, "build", json_string(e->info.build));
                json_object_set_new(st, "backends", json_string(e->info.backends));
                json_object_set_new(st, "cpu", json_string(e->info.cpu));
                json_object_set_new(st, "model_type", json_string(e->info.model_type));
                b->nengines++;
            } else {
                json_object_set_new(st, "detail", json_string(err.text));
                fprintf(stderr, "ternbench bench: peer %s cannot run %s: %s\n", e->peer, e->file, err.text);
            }
            if (peers)
                json_array_append_new(peers, st);
            else
                json_decref(st);
        }
    }
}

int bench_text_tokens(const tb_model *m, const char *path, const char *opt, bool bos, int **ids,
                      int *n, int *bos_id, tb_error *err)
{
    *ids = NULL;
    *n = 0;
    if (!m->gguf)
        return tb_error_set(err, TB_EINVAL, "%s has no vocabulary to read %s %s with: use GGUF "
                            "models with one (`ternbench gen --tokenizer ...`)", m->name, opt, path);
    char *text = NULL;
    size_t len;
    tb_tokenizer *t = NULL;
    int rc = tb_file_read_all(path, (size_t)1 << 30, &text, &len, err);
    if (rc == TB_OK)
        rc = tb_tokenizer_load(m->gguf, NULL, &t, err);
    if (rc == TB_OK)
        rc = tb_tokenizer_encode(t, text, len, bos && tb_tokenizer_add_bos(t), false, ids, n, err);
    if (rc == TB_OK && bos_id)
        *bos_id = tb_tokenizer_add_bos(t) ? tb_tokenizer_bos(t) : -1;
    if (rc == TB_OK && *n == 0)
        rc = tb_error_set(err, TB_EINVAL, "%s %s: no tokens in it", opt, path);
    for (int i = 0; rc == TB_OK && i < *n; i++)
        if ((*ids)[i] >= m->cfg.vocab)
            rc = tb_error_set(err, TB_EINVAL, "token %d is outside the model's %d embeddings",
                              (*ids)[i], m->cfg.vocab);
    free(text);
    tb_tokenizer_free(t);
    if (rc != TB_OK) {
        free(*ids);
        *ids = NULL;
        return tb_error_prefix(err, "%s", m->name);
    }
    return TB_OK;
}

/* A prompt file as model m's vocabulary tokenizes it (with its BOS), repeated
 * to n tokens when shorter; *file_n is its own length in tokens. */
static int prompt_tokens(const char *path, const tb_model *m, int *ids, int n, int *file_n,
                         tb_error *err)
{
    int *got, count;
    int rc = bench_text_tokens(m, path, "--prompt-file", true, &got, &count, NULL, err);
    if (rc != TB_OK)
        return rc;
    for (int i = 0; i < n; i++)
        ids[i] = got[i % count];
    *file_n = count;
    free(got);
    return TB_OK;
}

void tb_bench_tokens(int *ids, int n, long seed, int vocab)
{
    uint64_t s = (uint64_t)seed * 0x9e3779b97f4a7c15ull + 7;
    for (int i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ids[i] = (int)(s % (uint64_t)vocab);
    }
}

/* Counts each model's instructions per token under valgrind (count.h). */
static void count_models(bench *b)
{
    const tb_bench_opts *o = b->o;
    for (int i = 0; i < o->nmodels; i++) {
        fprintf(stderr, "ternbench bench: counting %s's instructions under valgrind...\n", o->specs[i]);
        double t0 = tb_now();
        tb_count_model(o->specs[i], o, b->ids + (size_t)i * b->max_tokens, b->max_tokens,
                       (tb_count_kind)o->count, &b->counts[i]);
        if (b->counts[i].ok)
            fprintf(stderr, "ternbench bench: %s counted in %.1f s (%s kernels)\n", o->specs[i],
                    tb_now() - t0, b->counts[i].isa);
        else
            fprintf(stderr, "ternbench bench: warning: %s not counted: %s\n", o->specs[i],
                    b->counts[i].why);
    }
}

static int feed_tokens(bench *b, tb_error *err)
{
    const tb_bench_opts *o = b->o;
    b->ids = malloc((size_t)b->max_tokens * o->nmodels * sizeof *b->ids);
    if (!b->ids)
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    for (int i = 0; i < o->nmodels; i++) {
        int *row = b->ids + (size_t)i * b->max_tokens;
        if (!o->prompt_file)
            tb_bench_tokens(row, b->max_tokens, o->seed, b->min_vocab);
        else if (prompt_tokens(o->prompt_file, b->models[i], row, b->max_tokens,
                               &b->file_tokens[i], err) != TB_OK)
            return err->code;
    }
    return TB_OK;
}

static void one_line(char *text)
{
    for (char *p = text; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* The first meter that works, and the idle power to subtract when asked. */
static tb_sampler *open_meter(bench *b, tb_meter **meter, tb_error *err)
{
    const tb_bench_opts *o = b->o;
    if (o->hooks && o->hooks->energy) {
        b->meter_name = o->hooks->meter_name;
        b->idle_ok = o->idle_s > 0;
        return NULL;
    }
    if (tb_meter_open_chosen(&o->meter, meter, err) != TB_OK) {
        snprintf(b->energy_why, sizeof b->energy_why, "%s", err->text);
        one_line(b->energy_why);
        return NULL;
    }
    tb_sampler *s = tb_sampler_new(*meter, 0);
    if (!s) {
        snprintf(b->energy_why, sizeof b->energy_why, "out of memory for the energy sampler");
        return NULL;
    }
    b->meter_name = tb_meter_kind_name((*meter)->kind);
    if (o->idle_given) { /* measured once before (reproduce) */
        b->idle_w = o->idle_w;
        b->idle_ok = true;
        return s;
    }
    if (o->idle_s <= 0)
        return s;
    fprintf(stderr, "ternbench bench: measuring idle power for %.1f s...\n", o->idle_s);
    tb_energy_result idle;
    if (tb_sampler_start(s, err) == TB_OK) {
        sleep_s(o->idle_s);
        if (tb_sampler_stop(s, &idle, err) == TB_OK && idle.seconds > 0) {
            b->idle_w = idle.total_j / idle.seconds;
            b->idle_ok = true;
            return s;
        }
    }
    snprintf(b->idle_why, sizeof b->idle_why, "idle power could not be measured (%s): no net "
             "energy", err->text);
    one_line(b->idle_why);
    fprintf(stderr, "ternbench bench: warning: %s\n", b->idle_why);
    return s;
}

int tb_bench_idle(const tb_meter_choice *c, double max_s, double *watts, json_t **doc, tb_error *err)
{
    enum { MIN_WINDOWS = 5, MAX_WINDOWS = 120 };
    tb_meter *m = NULL;
    int rc = tb_meter_open_chosen(c, &m, err);
    tb_sampler *s = rc == TB_OK ? tb_sampler_new(m, 0) : NULL;
    if (rc == TB_OK && !s)
        rc = tb_error_set(err, TB_ENOMEM, "out of memory");
    double w[MAX_WINDOWS], mean = 0, lo = 0, hi = 0;
    bool has = false;
    int n = 0;
    double t0 = tb_now();
    while (rc == TB_OK && n < MAX_WINDOWS) {
        tb_energy_result r;
        if ((rc = tb_sampler_start(s, err)) != TB_OK)
            break;
        sleep_s(1.0);
        if ((rc = tb_sampler_stop(s, &r, err)) != TB_OK)
            break;
        w[n++] = r.seconds > 0 ? r.total_j / r.seconds : 0;
        tb_mean_t(w, n, &mean, &lo, &hi, &has);
        if (n >= MIN_WINDOWS && ((has && mean > 0 && (hi - lo) / 2 <= 0.02 * mean) || tb_now() - t0 >= max_s))
            break;
    }
    if (rc == TB_OK) {
        *watts = mean;
        *doc = json_pack("{s:s, s:{s:f, s:o, s:i}, s:f, s:s}", "meter", tb_meter_kind_name(m->kind),
                         "watts", "mean", mean, "ci", has ? json_pack("[f, f]", lo, hi) : json_null(),
                         "windows", n, "window_s", 1.0, "method",
                         "1 s windows until the mean's 95 % t interval is within +-2 %");
    }
    tb_sampler_free(s);
    tb_meter_close(m);
    return rc;
}

/* ---- measuring ---- */

double tb_bench_feed(tb_model *m, const int *ids, int n, int batch, int gen)
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

/* Pages in the weights, the scratch of every batch size the tests use, and
 * the caches, so that no measured repetition runs cold. */
static void warm_up(bench *b)
{
    const tb_bench_opts *o = b->o;
    for (int i = 0; i < o->nmodels; i++) {
        const int *ids = b->ids + (size_t)i * b->max_tokens;
        tb_bench_feed(b->models[i], ids, (int)o->warmup, 1, 0);
        for (int t = 0; t < o->ntests; t++) {
            int batch = tb_bench_test_batch(&o->tests[t], o->batch);
            if (batch > 1)
                tb_bench_feed(b->models[i], ids, batch, batch, 0);
        }
    }
}

static double bench_now(const bench *b)
{
    const tb_bench_hooks *h = b->o->hooks;
    return h && h->now ? h->now(h->ctx) : tb_now();
}

/* What one try measured beside its time. */
typedef struct sample {
    double seconds;            /* the timed run */
    double window;             /* the time the losses were counted over */
    double joules, energy_s, roof;
    bool metered;
    tb_usage u0, u1;
    bool counted;
    uint64_t hw[TB_HW_EVENTS];
    tb_hw_counters hc;
    double lost[LOSSES];
    bool lost_known[LOSSES];
} sample;

/* Times one repetition of a peer: its llama-bench's own timing; losses over
 * the whole invocation: the hypervisor's steal, and the CPU time processes
 * other than this one and the peer used (the peer's threads' run-queue
 * waits cannot be read from outside). */
static void time_peer(bench *b, tb_bandwidth *bw, engine *e, int t, sample *s, tb_error *err)
{
    const tb_bench_test *tt = &b->o->tests[t];
    memset(s, 0, sizeof *s);
    double roof_before = tb_bandwidth_read(bw, e->model->pool, 3);
    char text[512];
    struct rusage c0, c1;
    getrusage(RUSAGE_CHILDREN, &c0);
    tb_usage_now(&s->u0, NULL, 0);
    double busy0 = tb_file_read_text("/proc/stat", text, sizeof text, NULL) > 0 ? tb_proc_stat_busy(text) : -1;
    tb_peer_sample ps;
    if (tb_peer_once(e->peer_path, e->ternbench, e->file, tt, tb_bench_test_batch(tt, b->o->batch), b->threads, &ps,
                     &e->info, err) != TB_OK) {
        e->failed = true;
        snprintf(e->why, sizeof e->why, "%s", err->text);
        s->seconds = -1;
        return;
    }
    double busy1 = tb_file_read_text("/proc/stat", text, sizeof text, NULL) > 0 ? tb_proc_stat_busy(text) : -1;
    tb_usage_now(&s->u1, NULL, 0);
    getrusage(RUSAGE_CHILDREN, &c1);
    double child = (double)(c1.ru_utime.tv_sec - c0.ru_utime.tv_sec + c1.ru_stime.tv_sec - c0.ru_stime.tv_sec) +
                   (double)(c1.ru_utime.tv_usec - c0.ru_utime.tv_usec + c1.ru_stime.tv_usec - c0.ru_stime.tv_usec) * 1e-6;
    s->seconds = ps.seconds;
    s->window = ps.wall;
    s->lost[LOSS_STEAL] = s->u1.steal_s - s->u0.steal_s;
    s->lost_known[LOSS_STEAL] = s->u0.steal_s >= 0 && s->u1.steal_s >= 0;
    s->lost[LOSS_WAIT] = busy1 - busy0 - child - (s->u1.cpu_s - s->u0.cpu_s);
    s->lost_known[LOSS_WAIT] = busy0 >= 0 && busy1 >= 0;
    s->roof = (roof_before + tb_bandwidth_read(bw, e->model->pool, 3)) / 2;
}

/* Times one try of test t on engine i, with the meter, the counters and the
 * bandwidth probes around it. */
static void time_try(bench *b, tb_bandwidth *bw, tb_sampler *sampler, int i, int t, int round,
                     int try_no, sample *s, tb_error *err)
{
    const tb_bench_opts *o = b->o;
    const tb_bench_hooks *fake = o->hooks;
    engine *e = &b->engines[i];
    if (e->peer) {
        time_peer(b, bw, e, t, s, err);
        return;
    }
    tb_model *m = e->model;
    const tb_bench_test *tt = &o->tests[t];
    memset(s, 0, sizeof *s);
    /* bracketing probes (best of 3 each, ~5 ms): one probe alone moved the
     * fraction by 10-30 points between runs of one binary here */
    double roof_before = tb_bandwidth_read(bw, m->pool, 3);
    int tids[TB_HW_MAX_THREADS], ntids = tb_pool_tids(m->pool, tids, TB_HW_MAX_THREADS);
    s->counted = !b->hw_why && tb_hw_open(&s->hc, tids, ntids, NULL) > 0;
    s->metered = sampler && tb_sampler_start(sampler, err) == TB_OK;
    if (s->counted)
        tb_hw_start(&s->hc);
    tb_usage_now(&s->u0, tids, ntids);
    s->seconds = fake ? fake->run(fake->ctx, i, t, round, try_no)
                      : tb_bench_feed(m, b->ids + (size_t)e->index * b->max_tokens, tt->tokens,
                                      tb_bench_test_batch(tt, o->batch), tt->gen);
    s->window = s->seconds;
    tb_energy_result er;
    if (s->metered && tb_sampler_stop(sampler, &er, err) == TB_OK) {
        s->joules = er.total_j;
        s->energy_s = er.seconds;
    } else if (fake && fake->energy) {
        s->joules = fake->energy(fake->ctx, i, t, round, s->seconds);
        s->energy_s = s->seconds;
        s->metered = true;
    } else if (s->metered) {
        s->metered = false;
        snprintf(b->energy_why, sizeof b->energy_why, "meter failed: %s", err->text);
        one_line(b->energy_why);
    }
    tb_usage_now(&s->u1, tids, ntids);
    if (s->counted) {
        tb_hw_stop(&s->hc, s->hw);
        tb_hw_close(&s->hc);
    }
    s->lost[LOSS_STEAL] = s->u1.steal_s - s->u0.steal_s;
    s->lost[LOSS_WAIT] = s->u1.wait_s - s->u0.wait_s;
    s->lost_known[LOSS_STEAL] = s->u0.steal_s >= 0 && s->u1.steal_s >= 0;
    s->lost_known[LOSS_WAIT] = s->u0.wait_s >= 0 && s->u1.wait_s >= 0;
    if (fake && fake->losses) {
        fake->losses(fake->ctx, i, t, round, try_no, s->seconds, s->lost);
        s->lost_known[LOSS_STEAL] = s->lost_known[LOSS_WAIT] = true;
    }
    s->roof = (roof_before + tb_bandwidth_read(bw, m->pool, 3)) / 2; /* after the meter stopped */
}

/* The share of the time a try could have had that it lost, per kind. */
static void shares(const bench *b, const sample *s, double share[LOSSES])
{
    /* a peer's "wait" is other processes' CPU time: a share of every CPU */
    bool peer = s->window != s->seconds;
    double over[LOSSES] = {b->mach->cpu.logical_cpus, peer ? b->mach->cpu.logical_cpus : (double)b->threads};
    for (int k = 0; k < LOSSES; k++) {
        /* /proc/stat's ticks may be rounding: one per CPU counted over */
        double tick = k == LOSS_STEAL ? TB_STEAL_TICK_S : peer ? TB_STEAL_TICK_S * over[k] : 0;
        share[k] = s->lost_known[k] ? tb_lost_share(s->lost[k] - tick, s->window, over[k]) : 0;
    }
}

/* Files a kept try's figures into its cell. */
static void keep(bench *b, cell *c, int i, int t, int round, const sample *s)
{
    const tb_bench_test *tt = &b->o->tests[t];
    const tb_model *m = b->engines[i].model;
    int k = c->n, all = tt->tokens + tt->gen;
    c->round[k] = round;
    c->tps[k] = all / s->seconds;
    c->wgbps[k] = (double)m->weight_bytes * c->tps[k] / 1e9;
    c->mgbps[k] = ((double)m->weight_bytes + bench_kv_bytes(m, tt)) * c->tps[k] / 1e9;
    c->roof[k] = s->roof;
    c->frac[k] = c->mgbps[k] / s->roof;
    if (s->metered) {
        c->jpt[k] = s->joules / all;
        c->watts[k] = s->energy_s > 0 ? s->joules / s->energy_s : 0;
        c->jpt_net[k] = (s->joules - b->idle_w * s->energy_s) / all;
    }
    c->cpu_s[k] = s->u1.cpu_s - s->u0.cpu_s;
    c->ctxsw[k] = (double)(s->u1.context_switches - s->u0.context_switches);
    c->faults[k] = (double)(s->u1.page_faults - s->u0.page_faults);
    for (int l = 0; l < LOSSES; l++) {
        c->loss_ok[l] = (k == 0 || c->loss_ok[l]) && s->lost_known[l];
        c->loss[l][k] = s->lost[l];
    }
    for (int e = 0; e < TB_HW_EVENTS && s->counted; e++) {
        if (k == 0) {
            c->hw_ok[e] = true;
            c->hw_running[e] = 1;
        }
        c->hw_ok[e] = c->hw_ok[e] && s->hc.ok[e];
        c->hw[e][k] = (double)s->hw[e];
        if (s->hc.running[e] < c->hw_running[e])
            c->hw_running[e] = s->hc.running[e];
        if (!s->hc.ok[e])
            snprintf(c->hw_why[e], sizeof c->hw_why[e], "%s", s->hc.why[e]);
    }
    c->n++;
}

/* One round's turn of cell (i, t): tries until one is clean, or the cell's
 * retries run out (then the cell is tainted and the round left without a
 * repetition of it). TB_EINVAL when the engine refused to run. */
static int measure_cell(bench *b, tb_bandwidth *bw, tb_sampler *sampler, int i, int t, int round,
                        double t0, tb_error *err)
{
    cell *c = bench_cell(b, i, t);
    if (b->engines[i].failed)
        return TB_OK;
    for (int try_no = 0;; try_no++) {
        sample s;
        attempt *a = &c->tries[c->ntries];
        a->round = round;
        a->started = bench_now(b) - t0;
        time_try(b, bw, sampler, i, t, round, try_no, &s, err);
        if (s.seconds <= 0 && b->engines[i].peer) { /* reported; the rest goes on */
            fprintf(stderr, "ternbench bench: warning: %s stopped: %s\n", b->engines[i].name,
                    b->engines[i].why);
            return TB_OK;
        }
        if (s.seconds <= 0)
            return tb_error_set(err, TB_EINVAL, "%s: the model refused the tokens of %s",
                                b->engines[i].name, b->o->tests[t].name);
        c->ntries++;
        a->seconds = s.seconds;
        a->tps = (b->o->tests[t].tokens + b->o->tests[t].gen) / s.seconds;
        shares(b, &s, a->share);
        int kind = a->share[LOSS_STEAL] >= a->share[LOSS_WAIT] ? LOSS_STEAL : LOSS_WAIT;
        bool disturbed = a->share[kind] > b->max_lost && b->max_lost < 1;
        if (!disturbed) {
            a->kept = true;
            keep(b, c, i, t, round, &s);
            return TB_OK;
        }
        if (a->share[kind] > c->taint_share) {
            c->taint_share = a->share[kind];
            c->taint_kind = kind;
        }
        if (c->redone >= b->retries || c->ntries == (int)(sizeof c->tries / sizeof c->tries[0])) {
            c->tainted = true;
            return TB_OK;
        }
        c->redone++;
    }
}

/* Whether every comparison of this thread count is known to +-precision
 * (without comparisons: every cell's tokens/s). Tainted pairs cannot settle
 * and are not waited for: when every pair is tainted, there is nothing left
 * to wait for. */
static bool precise_enough(bench *b)
{
    const tb_bench_opts *o = b->o;
    int ia[TB_BENCH_MAX_REPS], ib[TB_BENCH_MAX_REPS];
    double r[TB_BENCH_MAX_REPS];
    bool any = false;
    for (int x = 0; x < b->nengines; x++)
        for (int y = 0; y < b->nengines; y++) {
            if (!bench_compares(b, x, y) || b->engines[x].failed || b->engines[y].failed)
                continue;
            for (int t = 0; t < o->ntests; t++) {
                cell *ca = bench_cell(b, x, t), *cb = bench_cell(b, y, t);
                any = true;
                if (ca->tainted || cb->tainted)
                    continue;
                int n = bench_pairs(ca, cb, ia, ib);
                for (int k = 0; k < n; k++)
                    r[k] = ca->tps[ia[k]] / cb->tps[ib[k]];
                tb_ratio q;
                tb_ratio_of(r, n, &q);
                if (!q.has_ci || q.half_width > o->precision)
                    return false;
            }
        }
    if (any)
        return true;
    for (int i = 0; i < b->nengines * o->ntests; i++) {
        cell *c = &b->cells[i];
        tb_summary s;
        tb_summarize(c->tps, c->n, &s);
        if (!c->tainted && (!s.has_ci || s.ci_level < TB_CI_TARGET ||
                            fmax(s.ci_hi / s.median, s.median / s.ci_lo) - 1 > o->precision))
            return false;
    }
    return true;
}

/* Rounds of every test on every model, the order reversed every other
 * round, until the repetitions (and the precision, when asked) are reached. */
/* A progress line on a terminal (nothing when stderr is not one): what runs,
 * the round, the time spent and, while the least rounds are not done, the
 * time they still need. */
static void progress(const bench *b, double elapsed, bool done)
{
    const tb_bench_opts *o = b->o;
    if (o->hooks || !isatty(2))
        return;
    char left[64] = "";
    if (!done && b->rounds < o->reps && b->rounds > 0)
        snprintf(left, sizeof left, ", ~%.0f s left", elapsed / b->rounds * (o->reps - b->rounds));
    else if (!done && o->precision > 0)
        snprintf(left, sizeof left, ", until +-%.0f %% (%.0f s at most)", 100 * o->precision, o->max_time);
    fprintf(stderr, "\r\033[K%s%s%ld thread%s: round %d of %s%ld, %.0f s%s%s", o->progress ? o->progress : "",
            o->progress ? ", " : "", b->threads, b->threads == 1 ? "" : "s", b->rounds,
            o->precision > 0 ? "at least " : "", o->reps, elapsed, left, done ? "\n" : "");
}

/* Rounds of every test on every engine, the order reversed every other
 * round, until the repetitions (and the precision, when asked) are reached. */
static int measure(bench *b, tb_bandwidth *bw, tb_sampler *sampler, tb_error *err)
{
    const tb_bench_opts *o = b->o;
    double t0 = bench_now(b), el = 0;
    int max_rounds = o->precision > 0 ? TB_BENCH_MAX_REPS : (int)o->reps;
    for (b->rounds = 0; b->rounds < max_rounds;) {
        int round = b->rounds;
        progress(b, el, false);
        for (int t = 0; t < o->ntests; t++)
            for (int k = 0; k < b->nengines; k++) {
                int i = round % 2 ? b->nengines - 1 - k : k;
                if (measure_cell(b, bw, sampler, i, t, round, t0, err) != TB_OK)
                    return err->code;
            }
        b->rounds++;
        el = bench_now(b) - t0;
        if (b->rounds >= o->reps && o->precision > 0 &&
            (precise_enough(b) || (o->max_time > 0 && el >= o->max_time)))
            break;
    }
    progress(b, el, true);
    return TB_OK;
}

/* --profile: one more run of each of ternbench's tests, after the measured
 * ones, with a clock around each phase of the forward pass (tb_phase); per
 * token. Apart from the measured runs, so that its clocks cost them nothing.
 * Its phases' bandwidth is set against probes around this run itself: the
 * measured runs' roof can be minutes old, and a VM's bandwidth drifts by
 * half within minutes. */
static void profile_cells(bench *b, tb_bandwidth *bw)
{
    const tb_bench_opts *o = b->o;
    for (int i = 0; i < b->nengines; i++) {
        const engine *e = &b->engines[i];
        if (e->peer)
            continue;
        for (int t = 0; t < o->ntests; t++) {
            const tb_bench_test *tt = &o->tests[t];
            cell *c = &b->cells[i * o->ntests + t];
            int tokens = tt->tokens + tt->gen;
            memset(c->profile, 0, sizeof c->profile);
            double roof_before = tb_bandwidth_read(bw, e->model->pool, 3);
            e->model->rs.profile = c->profile;
            double s = tb_bench_feed(e->model, b->ids + (size_t)e->index * b->max_tokens, tt->tokens,
                                     tb_bench_test_batch(tt, o->batch), tt->gen);
            e->model->rs.profile = NULL;
            c->profile_roof = (roof_before + tb_bandwidth_read(bw, e->model->pool, 3)) / 2;
            c->profiled = s > 0;
            c->profile_s = s / tokens;
            for (int p = 0; p < TB_PHASES; p++)
                c->profile[p] /= tokens;
        }
    }
}

static void warn_oversubscribed(const bench *b)
{
    const tb_cpu_info *cpu = &b->mach->cpu;
    if (b->threads <= cpu->usable_cpus)
        return;
    fprintf(stderr, "ternbench bench: warning: %ld threads on %d usable CPU%s (%s): the pool's "
            "threads will take turns, so these figures measure the scheduler more than the "
            "kernels; use -t %d or fewer\n", b->threads, cpu->usable_cpus,
            cpu->usable_cpus == 1 ? "" : "s", cpu->usable_why[0] ? cpu->usable_why : "all online CPUs",
            cpu->usable_cpus);
}

/* ---- the workload, as the document records it ---- */

static uint64_t hash_tokens(const int *ids, int n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 4; k++) {
            h ^= (uint64_t)((ids[i] >> (8 * k)) & 0xff);
            h *= 1099511628211ull;
        }
    return h;
}

static json_t *describe_workload(const bench *b, FILE *out)
{
    const tb_bench_opts *o = b->o;
    json_t *w;
    if (o->prompt_file) {
        json_t *per = json_array();
        fprintf(out, "\ntokens: the first %d tokens of %s as each model's vocabulary reads it "
                "(repeated where shorter):", b->max_tokens, o->prompt_file);
        for (int i = 0; i < o->nmodels; i++) {
            uint64_t hm = hash_tokens(b->ids + (size_t)i * b->max_tokens, b->max_tokens);
            json_array_append_new(per, json_pack("{s:s, s:i, s:I}", "model", b->models[i]->name,
                                                 "file_tokens", b->file_tokens[i], "hash",
                                                 (json_int_t)(hm >> 1)));
            fprintf(out, "%s %s %d tokens (FNV-1a %016llx)", i ? ";" : "", b->models[i]->name,
                    b->file_tokens[i], (unsigned long long)hm);
        }
        w = json_pack("{s:i, s:s, s:o}", "tokens", b->max_tokens, "prompt_file", o->prompt_file,
                      "per_model", per);
    } else {
        uint64_t h = hash_tokens(b->ids, b->max_tokens);
        w = json_pack("{s:i, s:I, s:i, s:i}", "tokens", b->max_tokens, "hash", (json_int_t)(h >> 1),
                      "seed", (int)o->seed, "vocab_bound", b->min_vocab);
        fprintf(out, "\ntokens: %d seeded ids (seed %ld, below %d, FNV-1a %016llx), the same for "
                "every model", b->max_tokens, o->seed, b->min_vocab, (unsigned long long)h);
    }
    fprintf(out, "; rounds of every model and test, the order reversed every other round; "
            "roofline = bytes read per second (weights and KV cache) / the read-only stream "
            "probed just before and after each run\n");
    return w;
}

/* ---- the run ---- */

int tb_bench_run(const tb_bench_opts *o, const tb_machine *mach, FILE *out, tb_bench_doc *doc,
                 tb_error *err)
{
    bench b = {.o = o, .mach = mach, .max_lost = o->max_lost > 0 ? o->max_lost : DEFAULT_MAX_LOST,
               .retries = o->retries >= 0 ? (int)o->retries : DEFAULT_RETRIES};
    if (b.retries > TB_BENCH_MAX_RETRIES)
        b.retries = TB_BENCH_MAX_RETRIES;
    tb_meter *meter = NULL;
    tb_sampler *sampler = NULL;
    tb_bandwidth *bw = NULL;
    int rc = open_models(&b, err);
    if (rc == TB_OK)
        rc = feed_tokens(&b, err);
    if (rc == TB_OK) {
        add_engines(&b, doc->peers);
        if (o->count && !o->hooks)
            count_models(&b);
    }
    if (rc == TB_OK && !(b.cells = calloc((size_t)b.nengines * o->ntests, sizeof *b.cells)))
        rc = tb_error_set(err, TB_ENOMEM, "out of memory");
    if (rc == TB_OK)
        rc = tb_bandwidth_new(64u << 20, &bw, err);
    if (rc == TB_OK) {
        sampler = open_meter(&b, &meter, err);
        b.hw_why = tb_hw_counters_unavailable(b.hw_buf, sizeof b.hw_buf);
    }
    int nthreads = o->nthreads ? o->nthreads : 1;
    for (int ti = 0; ti < nthreads && rc == TB_OK; ti++) {
        b.threads = o->nthreads ? o->thread_list[ti] : o->threads;
        for (int i = 0; i < o->nmodels && rc == TB_OK; i++)
            rc = tb_model_set_threads(b.models[i], (int)b.threads, err);
        if (rc != TB_OK)
            break;
        warn_oversubscribed(&b);
        memset(b.cells, 0, (size_t)b.nengines * o->ntests * sizeof *b.cells);
        if (!o->hooks)
            warm_up(&b);
        if ((rc = measure(&b, bw, sampler, err)) == TB_OK) {
            if (o->profile && !o->hooks)
                profile_cells(&b, bw);
            bench_report_threads(&b, out, doc);
        }
    }
    if (rc == TB_OK) {
        json_decref(doc->workload);
        doc->workload = describe_workload(&b, out);
        if (o->quality && !o->hooks)
            bench_quality(&b, out, doc);
        bench_report_notes(&b, out);
    }
    tb_sampler_free(sampler);
    tb_meter_close(meter);
    tb_bandwidth_free(bw);
    free(b.ids);
    free(b.cells);
    for (int i = 0; i < o->nmodels; i++)
        tb_model_free(b.models[i]);
    return rc;
}

void tb_bench_doc_init(tb_bench_doc *d)
{
    d->runs = json_array();
    d->comps = json_array();
    d->weather = json_array();
    d->peers = json_array();
    d->quality = json_array();
    d->workload = NULL;
}

void tb_bench_doc_free(tb_bench_doc *d)
{
    json_decref(d->runs);
    json_decref(d->comps);
    json_decref(d->weather);
    json_decref(d->peers);
    json_decref(d->quality);
    json_decref(d->workload);
    memset(d, 0, sizeof *d);
}

/* ---- tests and the document ---- */

int tb_bench_add_tests(tb_bench_opts *o, const char *list, bool prompt, tb_error *err)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *end;
        long n = strtol(tok, &end, 10);
        if (end == tok || *end || n < 0 || n > 4096)
            return tb_error_set(err, TB_EINVAL, "%s: '%s' is not a token count in 0..4096 (0: skip "
                                "the test)", prompt ? "-p" : "-n", tok);
        if (n == 0)
            continue;
        if (o->ntests == TB_BENCH_MAX_TESTS)
            return tb_error_set(err, TB_EINVAL, "at most %d tests", TB_BENCH_MAX_TESTS);
        tb_bench_test *t = &o->tests[o->ntests++];
        memset(t, 0, sizeof *t);
        t->tokens = (int)n;
        t->prompt = prompt;
        snprintf(t->name, sizeof t->name, "%s%ld", prompt ? "pp" : "tg", n);
    }
    return TB_OK;
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

json_t *tb_result_document(const tb_machine *mach, tb_bench_doc *doc, const tb_bench_opts *o)
{
    char created[32];
    time_t now = time(NULL);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_t *settings = json_null();
    if (o)
        settings = json_pack("{s:I, s:f, s:I, s:f, s:f, s:s}", "repetitions", (json_int_t)o->reps,
                             "max_lost", o->max_lost > 0 ? o->max_lost : DEFAULT_MAX_LOST, "retries",
                             (json_int_t)(o->retries >= 0 ? o->retries : DEFAULT_RETRIES),
                             "precision", o->precision, "max_time_s", o->max_time, "order",
                             "rounds, every model once per test, reversed every other round");
    json_t *d = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "schema",
                          "ternbench.result/2", "created", created, "machine", tb_machine_to_json(mach),
                          "settings", settings, "runs", doc->runs, "comparisons", doc->comps,
                          "workload", doc->workload ? doc->workload : json_null(), "weather",
                          doc->weather, "peers", doc->peers);
    if (json_array_size(doc->quality))
        json_object_set(d, "quality", doc->quality);
    json_decref(doc->quality);
    memset(doc, 0, sizeof *doc); /* stolen */
    return d;
}
