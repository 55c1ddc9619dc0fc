/* results.c - reading result documents; see results.h. */
#include "results.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tb_json_str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

int tb_json_numbers(json_t *arr, double *x, int cap)
{
    int n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (n < cap && json_is_number(v))
            x[n++] = json_number_value(v);
    return n;
}

void tb_model_size(const char *model, char *out, size_t cap)
{
    if (!strncmp(model, "dummy:", 6)) {
        const char *p = model + 6, *c = strchr(p, ':');
        snprintf(out, cap, "%.*s", (int)(c ? c - p : (long)strlen(p)), p);
    } else {
        const char *base = strrchr(model, '/');
        snprintf(out, cap, "%s", base ? base + 1 : model);
    }
}

/* ---- validation ---- */

static int expect(bool ok, const char *path, const char *what, tb_error *err)
{
    return ok ? TB_OK : tb_error_set(err, TB_EINVAL, "%s: expected %s", path, what);
}

static bool is_pair(json_t *ci)
{
    return json_is_array(ci) && json_array_size(ci) == 2 && json_is_number(json_array_get(ci, 0)) &&
           json_is_number(json_array_get(ci, 1));
}

/* A summary or ratio: its point figure ("median", or "estimate") and an
 * interval ("ci95" in /1, "ci" in /2), null or [lo, hi]. */
static int check_summary(json_t *s, const char *path, const char *point, tb_error *err)
{
    char p[256];
    int rc = expect(json_is_object(s), path, "an object {median, ci, samples, ...}", err);
    json_t *samples = json_object_get(s, "samples");
    bool none = json_is_array(samples) && json_array_size(samples) == 0; /* nothing kept */
    if (rc == TB_OK) {
        snprintf(p, sizeof p, "%s.%s", path, point);
        rc = expect(json_is_number(json_object_get(s, point)) ||
                    (none && json_is_null(json_object_get(s, point))), p,
                    none ? "a number or null" : "a number", err);
    }
    static const char *const keys[2] = {"ci95", "ci"};
    for (int k = 0; k < 2 && rc == TB_OK; k++) {
        json_t *ci = json_object_get(s, keys[k]);
        snprintf(p, sizeof p, "%s.%s", path, keys[k]);
        if (ci)
            rc = expect(json_is_null(ci) || is_pair(ci), p, "null or [lo, hi]", err);
    }
    return rc;
}

static int check_run(json_t *r, size_t i, tb_error *err)
{
    char p[256];
    snprintf(p, sizeof p, "runs[%zu]", i);
    int rc = expect(json_is_object(r), p, "an object", err);
    static const char *const strs[] = {"model", "format", "test"};
    for (size_t k = 0; rc == TB_OK && k < 3; k++) {
        snprintf(p, sizeof p, "runs[%zu].%s", i, strs[k]);
        rc = expect(json_is_string(json_object_get(r, strs[k])), p, "a string", err);
    }
    if (rc == TB_OK) {
        snprintf(p, sizeof p, "runs[%zu].threads", i);
        rc = expect(json_is_integer(json_object_get(r, "threads")), p, "an integer", err);
    }
    json_t *tps = json_object_get(r, "tokens_per_s");
    if (rc == TB_OK) {
        snprintf(p, sizeof p, "runs[%zu].tokens_per_s", i);
        rc = check_summary(tps, p, "median", err);
    }
    json_t *samples = json_object_get(tps, "samples"), *rounds = json_object_get(r, "rounds");
    if (rc == TB_OK && samples) {
        snprintf(p, sizeof p, "runs[%zu].tokens_per_s.samples", i);
        rc = expect(json_is_array(samples), p, "an array of numbers", err);
    }
    if (rc == TB_OK && rounds) {
        snprintf(p, sizeof p, "runs[%zu].rounds", i);
        rc = expect(json_is_array(rounds) && json_array_size(rounds) == json_array_size(samples), p,
                    "an array of round numbers, one per sample", err);
        size_t k;
        json_t *v;
        json_array_foreach(rounds, k, v)
            if (rc == TB_OK)
                rc = expect(json_is_integer(v) && json_integer_value(v) >= 0, p,
                            "an array of round numbers, one per sample", err);
    }
    if (rc == TB_OK && !json_object_get(r, "energy") && !json_object_get(r, "energy_unavailable")) {
        snprintf(p, sizeof p, "runs[%zu]", i);
        rc = tb_error_set(err, TB_EINVAL, "%s: expected energy or energy_unavailable", p);
    }
    return rc;
}

static int check_comparison(json_t *c, size_t i, tb_error *err)
{
    char p[256];
    snprintf(p, sizeof p, "comparisons[%zu]", i);
    int rc = expect(json_is_object(c), p, "an object", err);
    static const char *const strs[] = {"test", "format", "baseline_format", "model", "baseline_model"};
    for (size_t k = 0; rc == TB_OK && k < 5; k++) {
        snprintf(p, sizeof p, "comparisons[%zu].%s", i, strs[k]);
        rc = expect(json_is_string(json_object_get(c, strs[k])), p, "a string", err);
    }
    if (rc == TB_OK) {
        snprintf(p, sizeof p, "comparisons[%zu].threads", i);
        rc = expect(json_is_integer(json_object_get(c, "threads")), p, "an integer", err);
    }
    json_t *speedup = json_object_get(c, "speedup");
    if (rc == TB_OK) { /* /1 wrote the median of the ratios, /2 their geometric mean */
        snprintf(p, sizeof p, "comparisons[%zu].speedup", i);
        rc = check_summary(speedup, p, json_object_get(speedup, "estimate") ? "estimate" : "median",
                           err);
    }
    return rc;
}

/* An {estimate, stderr} figure. */
static int check_estimate(json_t *e, const char *path, tb_error *err)
{
    return expect(json_is_object(e) && json_is_number(json_object_get(e, "estimate")) &&
                  json_is_number(json_object_get(e, "stderr")), path, "{estimate, stderr}: numbers",
                  err);
}

/* A quality entry (bench --quality): why it is missing, or its perplexity,
 * and its KL against the f16 twin where there is one. */
static int check_quality(json_t *q, size_t i, tb_error *err)
{
    char p[256];
    snprintf(p, sizeof p, "quality[%zu]", i);
    int rc = expect(json_is_object(q), p, "an object", err);
    static const char *const strs[] = {"model", "format"};
    for (size_t k = 0; rc == TB_OK && k < 2; k++) {
        snprintf(p, sizeof p, "quality[%zu].%s", i, strs[k]);
        rc = expect(json_is_string(json_object_get(q, strs[k])), p, "a string", err);
    }
    if (rc != TB_OK || json_object_get(q, "unavailable"))
        return rc;
    snprintf(p, sizeof p, "quality[%zu].threads", i);
    rc = expect(json_is_integer(json_object_get(q, "threads")), p, "an integer", err);
    if (rc == TB_OK) {
        snprintf(p, sizeof p, "quality[%zu].ppl", i);
        rc = check_estimate(json_object_get(q, "ppl"), p, err);
    }
    json_t *kl = json_object_get(q, "kl");
    if (rc != TB_OK || json_is_null(kl) || !kl)
        return rc;
    snprintf(p, sizeof p, "quality[%zu].kl", i);
    rc = expect(json_is_object(kl), p, "null or an object", err);
    static const char *const ests[] = {"ppl_ratio", "same_top"};
    for (size_t k = 0; rc == TB_OK && k < 2; k++) {
        snprintf(p, sizeof p, "quality[%zu].kl.%s", i, ests[k]);
        rc = check_estimate(json_object_get(kl, ests[k]), p, err);
    }
    if (rc == TB_OK) {
        snprintf(p, sizeof p, "quality[%zu].kl.kld.mean", i);
        rc = expect(json_is_number(json_object_get(json_object_get(kl, "kld"), "mean")), p,
                    "a number", err);
    }
    return rc;
}

int tb_result_validate(json_t *doc, tb_error *err)
{
    if (!json_is_object(doc))
        return tb_error_set(err, TB_EINVAL, "(document): expected an object");
    const char *schema = json_string_value(json_object_get(doc, "schema"));
    int version = schema && !strcmp(schema, "ternbench.result/2") ? 2
                  : schema && !strcmp(schema, "ternbench.result/1") ? 1 : 0;
    if (!version)
        return tb_error_set(err, TB_EINVAL, "schema: expected \"ternbench.result/2\" (or /1), "
                            "found %s%s%s", schema ? "\"" : "", schema ? schema : "none",
                            schema ? "\"" : "");
    int rc = expect(json_is_object(json_object_get(doc, "machine")), "machine", "an object", err);
    json_t *created = json_object_get(doc, "created");
    if (rc == TB_OK && created)
        rc = expect(json_is_string(created), "created", "a string (ISO 8601 UTC)", err);
    json_t *runs = json_object_get(doc, "runs"), *comps = json_object_get(doc, "comparisons");
    if (rc == TB_OK)
        rc = expect(json_is_array(runs), "runs", "an array", err);
    if (rc == TB_OK)
        rc = expect(json_is_array(comps), "comparisons", "an array", err);
    size_t i;
    json_t *x;
    json_array_foreach(runs, i, x)
        if (rc == TB_OK)
            rc = check_run(x, i, err);
    json_array_foreach(comps, i, x)
        if (rc == TB_OK)
            rc = check_comparison(x, i, err);
    json_t *quality = json_object_get(doc, "quality");
    if (rc == TB_OK && quality)
        rc = expect(json_is_array(quality), "quality", "an array", err);
    json_array_foreach(quality, i, x)
        if (rc == TB_OK)
            rc = check_quality(x, i, err);
    return rc;
}

/* ---- machines ---- */

void tb_machine_key(json_t *machine, char *key, size_t cap)
{
    json_t *cpu = json_object_get(machine, "cpu");
    const char *label = tb_json_str(machine, "label");
    if (label[0])
        snprintf(key, cap, "label=%s", label);
    else
        snprintf(key, cap, "%s|%s|%lld|%s", tb_json_str(cpu, "hostname"), tb_json_str(cpu, "model"),
                 (long long)json_integer_value(json_object_get(cpu, "logical_cpus")),
                 tb_json_str(json_object_get(machine, "isa"), "selected"));
}

int tb_results_machine(const tb_results *r, const char *key)
{
    for (int i = 0; i < r->nmachines; i++)
        if (!strcmp(r->machines[i].key, key))
            return i;
    return -1;
}

/* The index of machine object m, added when new. */
static int add_machine(tb_results *r, json_t *m)
{
    char key[320];
    tb_machine_key(m, key, sizeof key);
    int i = tb_results_machine(r, key);
    if (i >= 0)
        return i;
    tb_rmachine *x = &r->machines[r->nmachines];
    memset(x, 0, sizeof *x);
    x->json = m;
    snprintf(x->key, sizeof x->key, "%s", key);
    json_t *cpu = json_object_get(m, "cpu");
    x->arch = tb_json_str(cpu, "arch");
    x->cpu = tb_json_str(cpu, "model");
    x->host = tb_json_str(cpu, "hostname");
    x->isa = tb_json_str(json_object_get(m, "isa"), "selected");
    const char *label = tb_json_str(m, "label");
    snprintf(x->label, sizeof x->label, "%s (%s, %s)", label[0] ? label : x->host[0] ? x->host : "machine",
             x->cpu, x->isa);
    return r->nmachines++;
}

/* ---- runs ---- */

/* The taint of a /2 run, or, for a /1 run, the largest share of a
 * repetition's time its counters say it lost. */
static void read_losses(tb_rrun *run, json_t *machine)
{
    json_t *taint = json_object_get(run->json, "taint");
    if (json_is_object(taint)) {
        run->tainted = json_is_true(json_object_get(taint, "tainted"));
        run->lost_share = json_number_value(json_object_get(taint, "worst_share"));
        snprintf(run->lost_kind, sizeof run->lost_kind, "%s", tb_json_str(taint, "worst_kind"));
        return;
    }
    static const char *const keys[2] = {"steal_seconds", "runqueue_wait_seconds"};
    static const char *const kinds[2] = {"steal", "runqueue_wait"};
    json_t *cpu = json_object_get(machine, "cpu");
    for (int k = 0; k < 2; k++) {
        double over = k == 0 ? json_number_value(json_object_get(cpu, "logical_cpus")) : run->threads;
        double lost[TB_RES_MAX_SAMPLES];
        json_t *l = json_object_get(json_object_get(json_object_get(run->json, "counters"), keys[k]),
                                    "samples");
        int nl = l ? tb_json_numbers(l, lost, TB_RES_MAX_SAMPLES) : 0;
        for (int i = 0; i < run->n && i < nl && run->tokens > 0 && over > 0; i++) {
            double share = run->tps[i] > 0 ? lost[i] / (run->tokens / run->tps[i] * over) : 0;
            if (share > run->lost_share) {
                run->lost_share = share;
                snprintf(run->lost_kind, sizeof run->lost_kind, "%s", kinds[k]);
            }
        }
    }
}

/* A summary's samples into x when there is one per repetition. */
static bool per_sample(json_t *summary, double *x, int n)
{
    return json_is_object(summary) &&
           tb_json_numbers(json_object_get(summary, "samples"), x, TB_RES_MAX_SAMPLES) == n;
}

static void read_run(tb_results *r, json_t *j, json_t *doc_machine, tb_rrun *run)
{
    memset(run, 0, sizeof *run);
    run->json = j;
    json_t *m = json_object_get(j, "machine"); /* merged documents */
    run->machine = add_machine(r, json_is_object(m) ? m : doc_machine);
    run->model = tb_json_str(j, "model");
    run->format = tb_json_str(j, "format");
    run->embd = json_is_string(json_object_get(j, "embd_format")) ? tb_json_str(j, "embd_format") : "f16";
    run->test = tb_json_str(j, "test");
    run->peer = tb_json_str(j, "peer");
    if (json_is_string(json_object_get(j, "size")))
        snprintf(run->size, sizeof run->size, "%s", tb_json_str(j, "size"));
    else
        tb_model_size(run->model, run->size, sizeof run->size);
    run->threads = (int)json_integer_value(json_object_get(j, "threads"));
    run->tokens = (int)json_integer_value(json_object_get(j, "tokens"));
    json_t *batch = json_object_get(j, "batch");
    run->batch = json_is_integer(batch) ? (int)json_integer_value(batch) : run->test[0] == 't' ? 1 : 0;
    run->batched = run->batch > 1;
    run->params = json_number_value(json_object_get(j, "params"));
    json_t *tps = json_object_get(j, "tokens_per_s");
    run->n = tb_json_numbers(json_object_get(tps, "samples"), run->tps, TB_RES_MAX_SAMPLES);
    if (!json_object_get(tps, "samples")) { /* a summary without samples (a peer's average): one figure */
        run->tps[0] = json_number_value(json_object_get(tps, "median"));
        run->n = 1;
    }
    json_t *rounds = json_object_get(j, "rounds");
    for (int i = 0; i < run->n; i++)
        run->round[i] = json_is_array(rounds) ? (int)json_integer_value(json_array_get(rounds, (size_t)i)) : i;
    json_t *energy = json_object_get(j, "energy");
    run->meter = tb_json_str(energy, "meter");
    run->has_energy = per_sample(json_object_get(energy, "joules_per_token"), run->jpt, run->n);
    run->has_net = per_sample(json_object_get(energy, "joules_per_token_net"), run->jpt_net, run->n);
    run->has_cpu = per_sample(json_object_get(json_object_get(j, "counters"), "cpu_seconds"),
                              run->cpu_s, run->n);
    tb_summarize(run->tps, run->n, &run->tps_summary);
    read_losses(run, json_is_object(m) ? m : doc_machine);
}

const tb_rrun *tb_results_run(const tb_results *r, int m, const char *model, const char *test,
                              int batch, int threads)
{
    for (int i = 0; i < r->nruns; i++) {
        const tb_rrun *x = &r->runs[i];
        if (x->machine == m && x->threads == threads && (batch < 0 || x->batch == batch) &&
            !strcmp(x->model, model) && !strcmp(x->test, test))
            return x;
    }
    return NULL;
}

/* ---- comparisons ---- */

int tb_results_speedup(const tb_rrun *a, const tb_rrun *b, tb_ratio *out)
{
    double ratio[TB_RES_MAX_SAMPLES];
    int n = 0;
    for (int i = 0; i < a->n; i++)
        for (int k = 0; k < b->n; k++)
            if (a->round[i] == b->round[k] && a->tps[i] > 0 && b->tps[k] > 0)
                ratio[n++] = a->tps[i] / b->tps[k];
    tb_ratio_of(ratio, n, out);
    return n;
}

/* The machine of entry j (its own in a merged document, else the
 * document's) among those with runs, or -1. */
static int known_machine(const tb_results *r, json_t *j, json_t *doc_machine)
{
    json_t *m = json_object_get(j, "machine");
    char key[320];
    tb_machine_key(json_is_object(m) ? m : doc_machine, key, sizeof key);
    return tb_results_machine(r, key);
}

/* Pairs a's and b's repetitions by round and forms the ratios. */
static void read_comparison(tb_results *r, json_t *j, json_t *doc_machine, tb_rcomp *c)
{
    memset(c, 0, sizeof *c);
    c->json = j;
    c->machine = known_machine(r, j, doc_machine);
    json_t *batch = json_object_get(j, "batch");
    int threads = (int)json_integer_value(json_object_get(j, "threads"));
    int want_batch = json_is_integer(batch) ? (int)json_integer_value(batch) : -1;
    const char *test = tb_json_str(j, "test");
    c->a = tb_results_run(r, c->machine, tb_json_str(j, "model"), test, want_batch, threads);
    c->b = c->a ? tb_results_run(r, c->machine, tb_json_str(j, "baseline_model"), test,
                                 c->a->batch, threads) : NULL;
    if (!c->a || !c->b)
        return;
    double *e = c->energy_r, net[TB_RES_MAX_SAMPLES], *proxy = c->proxy_r;
    const tb_rrun *a = c->a, *b = c->b;
    bool energy = a->has_energy && b->has_energy, has_net = a->has_net && b->has_net;
    bool has_cpu = a->has_cpu && b->has_cpu && a->tokens > 0 && a->tokens == b->tokens;
    for (int i = 0; i < a->n; i++)
        for (int k = 0; k < b->n; k++)
            if (a->round[i] == b->round[k] && a->tps[i] > 0 && b->tps[k] > 0) {
                int p = c->npairs++;
                c->ratio[p] = a->tps[i] / b->tps[k];
                e[p] = energy && b->jpt[k] > 0 ? a->jpt[i] / b->jpt[k] : 1;
                net[p] = has_net && b->jpt_net[k] > 0 && a->jpt_net[i] > 0 ? a->jpt_net[i] / b->jpt_net[k] : 1;
                proxy[p] = has_cpu && b->cpu_s[k] > 0 && a->cpu_s[i] > 0 ? a->cpu_s[i] / b->cpu_s[k] : 1;
            }
    tb_ratio_of(c->ratio, c->npairs, &c->speedup);
    if ((c->has_energy = energy && c->npairs))
        tb_ratio_of(e, c->npairs, &c->energy);
    if ((c->has_net = has_net && c->npairs))
        tb_ratio_of(net, c->npairs, &c->net);
    if ((c->has_proxy = has_cpu && c->npairs))
        tb_ratio_of(proxy, c->npairs, &c->proxy);
    c->tainted = c->a->tainted || c->b->tainted;
    c->lost_share = fmax(c->a->lost_share, c->b->lost_share);
}

/* ---- quality ---- */

static double figure(json_t *o, const char *k, const char *which)
{
    return json_number_value(json_object_get(json_object_get(o, k), which));
}

static void read_quality(tb_results *r, json_t *j, json_t *doc_machine, tb_rquality *q)
{
    memset(q, 0, sizeof *q);
    q->json = j;
    q->machine = known_machine(r, j, doc_machine);
    q->model = tb_json_str(j, "model");
    q->format = tb_json_str(j, "format");
    q->embd = json_is_string(json_object_get(j, "embd_format")) ? tb_json_str(j, "embd_format") : "f16";
    tb_model_size(q->model, q->size, sizeof q->size);
    q->unavailable = tb_json_str(j, "unavailable");
    q->seeded = !strcmp(tb_json_str(j, "source"), "seeded");
    q->threads = (int)json_integer_value(json_object_get(j, "threads"));
    q->scored = (int)json_integer_value(json_object_get(j, "scored"));
    q->ppl = figure(j, "ppl", "estimate");
    q->ppl_err = figure(j, "ppl", "stderr");
    q->base = tb_json_str(j, "base_model");
    json_t *kl = json_object_get(j, "kl");
    if ((q->has_kl = json_is_object(kl))) {
        q->ppl_ratio = figure(kl, "ppl_ratio", "estimate");
        q->ppl_ratio_err = figure(kl, "ppl_ratio", "stderr");
        q->kld = figure(kl, "kld", "mean");
        q->kld_err = figure(kl, "kld", "stderr");
        q->same_top = figure(kl, "same_top", "estimate");
    }
}

int tb_results_read(json_t *doc, tb_results *r, tb_error *err)
{
    memset(r, 0, sizeof *r);
    int rc = tb_result_validate(doc, err);
    if (rc != TB_OK)
        return rc;
    r->doc = doc;
    r->version = !strcmp(tb_json_str(doc, "schema"), "ternbench.result/2") ? 2 : 1;
    json_t *runs = json_object_get(doc, "runs"), *comps = json_object_get(doc, "comparisons");
    json_t *machine = json_object_get(doc, "machine"), *quality = json_object_get(doc, "quality");
    size_t nr = json_array_size(runs), nc = json_array_size(comps), nq = json_array_size(quality);
    r->machines = calloc(nr + 1, sizeof *r->machines);
    r->runs = calloc(nr + 1, sizeof *r->runs);
    r->comps = calloc(nc + 1, sizeof *r->comps);
    r->quality = calloc(nq + 1, sizeof *r->quality);
    if (!r->machines || !r->runs || !r->comps || !r->quality) {
        tb_results_free(r);
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    }
    size_t i;
    json_t *x;
    json_array_foreach(runs, i, x)
        read_run(r, x, machine, &r->runs[r->nruns++]);
    if (r->nmachines == 0) /* no runs: the document's machine still counts */
        add_machine(r, machine);
    json_array_foreach(comps, i, x) {
        read_comparison(r, x, machine, &r->comps[r->ncomps]);
        if (r->comps[r->ncomps].a && r->comps[r->ncomps].b)
            r->ncomps++;
    }
    json_array_foreach(quality, i, x) {
        read_quality(r, x, machine, &r->quality[r->nquality]);
        if (r->quality[r->nquality].machine >= 0) /* a machine with runs */
            r->nquality++;
    }
    return TB_OK;
}

void tb_results_free(tb_results *r)
{
    free(r->machines);
    free(r->runs);
    free(r->comps);
    free(r->quality);
    memset(r, 0, sizeof *r);
}
