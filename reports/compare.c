/* compare.c - see compare.h. */
#include "compare.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"
#include "stats.h"

enum { MAX_BASES = 64 };
/* One-sided false-alarm rate of the history rule, per metric. */
#define HISTORY_ALPHA 0.001

/* The samples of one configuration in one document. */
typedef struct set {
    const double *x;
    int n;
    bool tainted;
    double lost;
} set;

/* A configuration's samples in every baseline and in the new document. */
typedef struct config {
    char what[320];
    const char *metric;
    bool cost;                 /* fewer is better (instructions): change = base / new */
    bool counted;              /* counts, not timings */
    set base[MAX_BASES];
    int nbase;
    set cur;
} config;

static double geomean(const double *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += log(x[i]);
    return exp(s / n);
}

static bool constant(const double *x, int n)
{
    for (int i = 1; i < n; i++)
        if (x[i] != x[0])
            return false;
    return true;
}

static void row(FILE *out, const config *c, double change, const char *ci, double thr,
                const char *verdict)
{
    fprintf(out, "| %s | %s | %+.1f%% | %s | %.1f%% | %s |\n", c->what, c->metric, 100 * (change - 1),
            ci, 100 * thr, verdict);
}

/* The least relative drop one more run would show with probability
 * HISTORY_ALPHA, from the spread of the baselines' own estimates. */
static double history_threshold(const config *c, double *center)
{
    double l[MAX_BASES], mean = 0, var = 0;
    int k = 0;
    for (int i = 0; i < c->nbase; i++)
        if (c->base[i].n > 0)
            l[k++] = log(geomean(c->base[i].x, c->base[i].n));
    for (int i = 0; i < k; i++)
        mean += l[i] / k;
    for (int i = 0; i < k; i++)
        var += (l[i] - mean) * (l[i] - mean) / (k - 1);
    *center = exp(mean);
    double t = tb_t_quantile(k - 1, 2 * HISTORY_ALPHA);
    return -expm1(-t * sqrt(var * (1 + 1.0 / k)));
}

/* The verdict on one configuration: change (new/base) with its interval q,
 * against the threshold thr (history: thr came from the baselines' spread,
 * and change must pass it too); exact counts need no interval. */
static void decide(FILE *out, const config *c, const tb_ratio *q, double change, double thr,
                   bool history, bool exact, bool tainted, double lost, tb_compare_summary *sum)
{
    char ci[64] = "-", v[160];
    if (q->has_ci)
        snprintf(ci, sizeof ci, "[%+.1f%%, %+.1f%%]", 100 * (q->lo - 1), 100 * (q->hi - 1));
    else if (exact)
        snprintf(ci, sizeof ci, "exact (counted)");
    if (tainted) {
        snprintf(v, sizeof v, "inconclusive: tainted (the machine took %.0f %% of a repetition; "
                 "its retries ran out)", 100 * lost);
        sum->inconclusive++;
    } else if (!q->has_ci && !exact) {
        snprintf(v, sizeof v, "inconclusive (n = %d): no interval, no verdict", q->n);
        sum->inconclusive++;
    } else {
        double lo = exact ? change : q->lo, hi = exact ? change : q->hi;
        bool below = hi < 1 - thr && (!history || (change < 1 - thr && hi < 1));
        bool above = lo > 1 + thr && (!history || change > 1 + thr);
        if (below) {
            snprintf(v, sizeof v, "REGRESSION (beyond the threshold%s)",
                     exact ? "" : ", the whole interval below it");
            sum->regressions++;
        } else if (above) {
            snprintf(v, sizeof v, "improvement");
            sum->improvements++;
        } else if (lo > 1 - thr || exact) {
            snprintf(v, sizeof v, "no regression beyond the threshold");
        } else {
            snprintf(v, sizeof v, "no clear regression (the interval reaches above the threshold)");
        }
    }
    row(out, c, change, ci, thr, v);
}

static void judge(FILE *out, config *c, double floor, tb_compare_summary *sum)
{
    sum->compared++;
    sum->counted += c->counted;
    /* pool the baselines' samples for the interval */
    /* a tainted baseline among several is left out; a tainted one alone, or a
     * tainted new run, leaves no verdict */
    double pooled[TB_RES_MAX_SAMPLES];
    int np = 0, nwith = 0, clean = 0;
    for (int i = 0; i < c->nbase; i++)
        clean += !c->base[i].tainted;
    bool tainted = c->cur.tainted || clean == 0;
    double lost = c->cur.lost;
    for (int i = 0; i < c->nbase; i++) {
        lost = fmax(lost, c->base[i].lost);
        if (c->base[i].tainted && clean > 0)
            c->base[i].n = 0; /* out of the pool and of the history's spread */
        for (int k = 0; k < c->base[i].n && np < TB_RES_MAX_SAMPLES; k++)
            pooled[np++] = c->base[i].x[k];
        nwith += c->base[i].n > 0;
    }
    tb_ratio q;
    if (c->cost)
        tb_ratio_welch(c->cur.x, c->cur.n, pooled, np, &q);
    else
        tb_ratio_welch(pooled, np, c->cur.x, c->cur.n, &q);
    double thr = floor, change = q.estimate, center = 0;
    if (nwith >= 2) { /* a history: the threshold its spread allows, and its center */
        thr = fmax(floor, history_threshold(c, &center));
        double g = geomean(c->cur.x, c->cur.n);
        change = c->cost ? center / g : g / center;
    }
    bool exact = c->counted && constant(c->cur.x, c->cur.n) && constant(pooled, np);
    decide(out, c, &q, change, thr, nwith >= 2, exact, tainted, lost, sum);
}

/* ---- finding a configuration in each document ---- */

/* The machine of b that machine m of a is: the only one when each document
 * has one, else the one with the same key. */
static int same_machine_in(const tb_results *a, int m, const tb_results *b)
{
    if (a->nmachines == 1 && b->nmachines == 1)
        return 0;
    return tb_results_machine(b, a->machines[m].key);
}

static const tb_rcomp *find_comp(const tb_results *r, int m, const tb_rcomp *like)
{
    for (int i = 0; i < r->ncomps; i++) {
        const tb_rcomp *c = &r->comps[i];
        if (c->machine == m && !strcmp(c->a->model, like->a->model) &&
            !strcmp(c->b->model, like->b->model) && !strcmp(c->a->test, like->a->test) &&
            c->a->batch == like->a->batch && c->a->threads == like->a->threads)
            return c;
    }
    return NULL;
}

/* Instructions per token of a run: counted under valgrind (callgrind) or by
 * a PMU; none otherwise. */
static int counted_samples(const tb_rrun *run, double *x, const char **source)
{
    json_t *ctr = json_object_get(run->json, "counters");
    json_t *cg = json_object_get(json_object_get(ctr, "callgrind"), "instructions_per_token");
    if (json_is_object(cg)) {
        *source = "callgrind";
        return tb_json_numbers(json_object_get(cg, "samples"), x, TB_RES_MAX_SAMPLES);
    }
    json_t *hw = json_object_get(json_object_get(ctr, "hardware"), "instructions_per_token");
    *source = "PMU";
    return json_is_object(hw) ? tb_json_numbers(json_object_get(hw, "samples"), x, TB_RES_MAX_SAMPLES)
                              : 0;
}

static void describe_run(const tb_results *r, const tb_rrun *run, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s, %s, %d threads", r->nmachines > 1 ? r->machines[run->machine].label : "",
             r->nmachines > 1 ? ": " : "", run->model, run->test, run->threads);
}

static set set_of(const double *x, int n, const tb_rrun *a, const tb_rrun *b)
{
    set s = {x, n, a->tainted || (b && b->tainted), fmax(a->lost_share, b ? b->lost_share : 0)};
    return s;
}

typedef struct ctx {
    const tb_results *base;
    int nbase;
    const tb_results *cur;
    const tb_compare_opts *o;
    FILE *out;
    tb_compare_summary *sum;
} ctx;

static void compare_speedups(const ctx *x)
{
    for (int i = 0; i < x->cur->ncomps; i++) {
        const tb_rcomp *c = &x->cur->comps[i];
        config cf = {.metric = "speedup", .cur = set_of(c->ratio, c->npairs, c->a, c->b)};
        for (int k = 0; k < x->nbase; k++) {
            int m = same_machine_in(x->cur, c->machine, &x->base[k]);
            const tb_rcomp *bc = m >= 0 ? find_comp(&x->base[k], m, c) : NULL;
            if (bc)
                cf.base[cf.nbase++] = set_of(bc->ratio, bc->npairs, bc->a, bc->b);
        }
        if (!cf.nbase)
            continue;
        snprintf(cf.what, sizeof cf.what, "%s%s%s over %s, %s, %d threads",
                 x->cur->nmachines > 1 ? x->cur->machines[c->machine].label : "",
                 x->cur->nmachines > 1 ? ": " : "", c->a->model, c->b->model, c->a->test,
                 c->a->threads);
        judge(x->out, &cf, x->o->max_regression, x->sum);
    }
}

/* Per run: tokens/s (absolute, same machine only) or instructions per token. */
static void compare_runs(const ctx *x, bool counted)
{
    static double bx[MAX_BASES][TB_RES_MAX_SAMPLES];
    double cx[TB_RES_MAX_SAMPLES];
    for (int i = 0; i < x->cur->nruns; i++) {
        const tb_rrun *run = &x->cur->runs[i];
        const char *source = "";
        config cf = {.cost = counted, .counted = counted};
        int nc = counted ? counted_samples(run, cx, &source) : run->n;
        if (nc == 0)
            continue;
        cf.cur = set_of(counted ? cx : run->tps, nc, run, NULL);
        for (int k = 0; k < x->nbase; k++) {
            int m = same_machine_in(x->cur, run->machine, &x->base[k]);
            const tb_rrun *br = m >= 0 ? tb_results_run(&x->base[k], m, run->model, run->test,
                                                        run->batch, run->threads) : NULL;
            const char *bsource = "";
            if (!br || (counted && strcmp(tb_json_str(br->json, "isa"), tb_json_str(run->json, "isa"))))
                continue;
            int slot = cf.nbase;
            int nb = counted ? counted_samples(br, bx[slot], &bsource) : br->n;
            if (nb == 0 || (counted && strcmp(source, bsource)))
                continue;
            cf.base[slot] = set_of(counted ? bx[slot] : br->tps, nb, br, NULL);
            cf.nbase++;
        }
        if (!cf.nbase)
            continue;
        if (counted) /* counts do not depend on the machine's weather */
            cf.cur.tainted = false;
        for (int k = 0; counted && k < cf.nbase; k++)
            cf.base[k].tainted = false;
        cf.metric = counted ? (!strcmp(source, "callgrind") ? "instructions/token (callgrind, base/new)"
                                                             : "instructions/token (PMU, base/new)")
                            : "tokens/s";
        describe_run(x->cur, run, cf.what, sizeof cf.what);
        judge(x->out, &cf, counted ? x->o->max_counted : x->o->max_regression, x->sum);
    }
}

/* A/B: this build over another build of ternbench (bench --peer
 * NAME=OTHER/ternbench), model by model, from the repetitions of one run
 * paired by round: no baseline document, so no drift between documents. */
static void compare_ab(const ctx *x)
{
    for (int i = 0; i < x->cur->ncomps; i++) {
        const tb_rcomp *c = &x->cur->comps[i];
        char other[400]; /* the peer's run of the same model, as bench names it */
        snprintf(other, sizeof other, "peer:%s:%s", c->b->peer, c->a->model);
        if (c->a->peer[0] || !c->b->peer[0] || strcmp(c->b->model, other))
            continue;
        config cf = {.metric = "speed, this build / the other"};
        snprintf(cf.what, sizeof cf.what, "%s%s%s over %s's, %s, %d threads",
                 x->cur->nmachines > 1 ? x->cur->machines[c->machine].label : "",
                 x->cur->nmachines > 1 ? ": " : "", c->a->model, c->b->peer, c->a->test, c->a->threads);
        x->sum->compared++;
        decide(x->out, &cf, &c->speedup, c->speedup.estimate, x->o->max_regression, false, false,
               c->tainted, c->lost_share, x->sum);
    }
}

/* Names, per kind, the run of a document that lost the largest share (above
 * 5 %) of a repetition's time to others. */
static void note_lost_time(FILE *out, const char *which, const tb_results *r)
{
    const tb_rrun *worst = NULL;
    for (int i = 0; i < r->nruns; i++)
        if (r->runs[i].lost_share > 0.05 && (!worst || r->runs[i].lost_share > worst->lost_share))
            worst = &r->runs[i];
    if (!worst)
        return;
    char what[400];
    describe_run(r, worst, what, sizeof what);
    fprintf(out, "lost time in %s: %s lost %.0f %% of its time %s in a repetition%s\n",
            which, what, 100 * worst->lost_share,
            !strcmp(worst->lost_kind, "steal") ? "to the hypervisor (steal)" : "waiting for a CPU",
            worst->tainted ? " and ran out of retries: no verdict on it"
                           : r->version >= 2 ? " (that try was redone, not counted)"
                                             : ": a verdict on it may be the machine's, not the code's");
}

int tb_compare_docs(json_t *const *bases, int nbases, json_t *cur, const tb_compare_opts *o,
                    FILE *out, tb_compare_summary *sum, tb_error *err)
{
    memset(sum, 0, sizeof *sum);
    if (o->ab ? nbases != 0 : nbases < 1 || nbases > MAX_BASES)
        return tb_error_set(err, TB_EINVAL, o->ab ? "A/B takes no baseline document"
                                                  : "give 1 to %d baseline documents", MAX_BASES);
    tb_results *base = calloc((size_t)(nbases ? nbases : 1), sizeof *base), now;
    if (!base)
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    int rc = tb_results_read(cur, &now, err);
    for (int k = 0; k < nbases && rc == TB_OK; k++)
        if ((rc = tb_results_read(bases[k], &base[k], err)) != TB_OK)
            tb_error_prefix(err, "baseline %d", k + 1);
    if (rc == TB_OK) {
        sum->same_machine = now.nmachines == 1;
        for (int k = 0; k < nbases; k++)
            sum->same_machine = sum->same_machine && base[k].nmachines == 1 &&
                                !strcmp(base[k].machines[0].key, now.machines[0].key);
        fprintf(out, "| configuration | metric | change | 95%% CI | threshold | verdict |\n"
                     "| --- | --- | ---: | --- | ---: | --- |\n");
        ctx x = {base, nbases, &now, o, out, sum};
        bool absolute = sum->same_machine && !o->ratios_only && !o->ab;
        if (o->ab) {
            compare_ab(&x);
        } else {
            compare_speedups(&x);
            if (absolute)
                compare_runs(&x, false);
            compare_runs(&x, true);
        }
        if (o->ab)
            fprintf(out, "\n%d configuration%s compared: this build over the other build of ternbench, "
                         "interleaved in one run, paired by round\n", sum->compared,
                    sum->compared == 1 ? "" : "s");
        else
            fprintf(out, "\n%d configuration%s compared against %d baseline document%s%s; %s\n",
                sum->compared, sum->compared == 1 ? "" : "s", nbases, nbases == 1 ? "" : "s",
                nbases > 1 ? " (thresholds: the given one, or more where the baselines' spread "
                             "needs it)" : "",
                absolute ? "same machine: speedups and absolute tokens/s"
                : sum->same_machine ? "same machine, but --ratios-only: speedups only"
                                    : "different machines: speedups only (absolute tokens/s are "
                                      "not comparable across machines)");
        if (!sum->counted && !o->ab)
            fprintf(out, "instructions per token: not compared (no run has counted instructions, "
                         "with the same ISA, in both documents)\n");
        if (sum->inconclusive)
            fprintf(out, "inconclusive: %d configuration%s without a verdict (too few repetitions, "
                         "or runs the machine disturbed)\n", sum->inconclusive,
                    sum->inconclusive == 1 ? "" : "s");
        for (int k = 0; k < nbases; k++) {
            char which[64];
            if (nbases == 1)
                snprintf(which, sizeof which, "the baseline document");
            else
                snprintf(which, sizeof which, "baseline document %d of %d", k + 1, nbases);
            note_lost_time(out, which, &base[k]);
        }
        note_lost_time(out, "the new document", &now);
        if (sum->compared == 0 && o->ab)
            rc = tb_error_set(err, TB_EINVAL, "the document holds no A/B comparison (run bench with "
                              "--peer NAME=OTHER/ternbench, another build of ternbench)");
        else if (sum->compared == 0)
            rc = tb_error_set(err, TB_EINVAL, "the documents share no configuration (same "
                              "machine, models, tests, batch and threads) to compare");
    }
    for (int k = 0; k < nbases; k++)
        tb_results_free(&base[k]);
    tb_results_free(&now);
    free(base);
    return rc;
}

json_t *tb_merge_docs(json_t *const *docs, int n, tb_error *err)
{
    json_t *runs = json_array(), *comps = json_array(), *quality = json_array(), *machines = json_array();
    for (int d = 0; d < n; d++) {
        json_t *m = json_object_get(docs[d], "machine");
        if (!json_is_object(m)) {
            json_decref(runs);
            json_decref(comps);
            json_decref(quality);
            json_decref(machines);
            tb_error_set(err, TB_EINVAL, "document %d: machine: expected an object", d + 1);
            return NULL;
        }
        json_array_append(machines, m);
        static const char *const lists[3] = {"runs", "comparisons", "quality"};
        json_t *into[3] = {runs, comps, quality};
        for (int l = 0; l < 3; l++) {
            size_t i;
            json_t *x;
            json_array_foreach(json_object_get(docs[d], lists[l]), i, x) {
                json_t *copy = json_deep_copy(x);
                if (!json_object_get(copy, "machine")) /* already merged ones keep theirs */
                    json_object_set(copy, "machine", m);
                json_array_append_new(into[l], copy);
            }
        }
    }
    json_t *first = json_object_get(docs[0], "machine");
    json_t *machine = json_deep_copy(first);
    json_object_set_new(machine, "merged_from", machines);
    json_t *merged = json_pack("{s:s, s:o, s:o, s:o}", "schema", "ternbench.result/2", "machine",
                               machine, "runs", runs, "comparisons", comps);
    if (json_array_size(quality))
        json_object_set(merged, "quality", quality);
    json_decref(quality);
    return merged;
}
