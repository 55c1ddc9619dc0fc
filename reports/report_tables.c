/*
 * report_tables.c - the report's details, each a collapsible section in
 * HTML: every speedup, every run's tokens/s, energy (measured, and
 * bitnet.cpp's proxy beside it, never in one column), and the machines.
 */
#include "report_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *machine_label(const tb_report *rep, int m)
{
    return rep->r->machines[m].label;
}

static void model_text(const tb_rrun *x, char *buf, size_t cap)
{
    if (strcmp(x->embd, "f16"))
        snprintf(buf, cap, "%s (%s lm_head)", x->model, x->embd);
    else
        snprintf(buf, cap, "%s", x->model);
}

/* A row with or without its machine column. */
static void row(const tb_report *rep, tb_rout *o, int n, const char **cells)
{
    bool several = rep->r->nmachines > 1;
    tb_rout_row(o, several ? n : n - 1, several ? cells : cells + 1);
}

static void table(const tb_report *rep, tb_rout *o, int n, const char **header, const char *align)
{
    bool several = rep->r->nmachines > 1;
    tb_rout_table(o, several ? n : n - 1, several ? header : header + 1, several ? align : align + 1);
}

void tb_report_speedups(const tb_report *rep, tb_rout *o)
{
    const tb_results *r = rep->r;
    tb_rout_details(o, "Every speedup (each ternary model over each baseline of its shape)");
    const char *h[] = {"machine", "size", "test", "threads", "ternary", "baseline",
                       "speedup [95% CI]", "pairs", "published", "verdict"};
    table(rep, o, 10, h, "lllrllrrrl");
    for (int i = 0; i < r->ncomps; i++) {
        const tb_rcomp *c = &r->comps[i];
        char th[16], a[200], b[200], sp[96], pairs[16], pub[32] = "-", v[200] = "-";
        const char *size = c->a->size;
        snprintf(th, sizeof th, "%d", c->a->threads);
        model_text(c->a, a, sizeof a);
        model_text(c->b, b, sizeof b);
        tb_ratio_text(&c->speedup, sp, sizeof sp);
        snprintf(pairs, sizeof pairs, "%d", c->npairs);
        const tb_rmachine *m = &r->machines[c->machine];
        bool like = !strcmp(c->b->format, "f16") && !strcmp(c->a->embd, "f16") &&
                    !strcmp(c->b->embd, "f16") && tb_test_comparable(c->a);
        double p = like ? tb_published_speedup(m, tb_claim_find(size)) : 0;
        if (p > 0) {
            snprintf(pub, sizeof pub, "%.2fx", p);
            tb_verdict(c, p, v, sizeof v);
        } else if (c->tainted) {
            snprintf(v, sizeof v, "tainted: no verdict");
        }
        const char *cells[] = {machine_label(rep, c->machine), size, c->a->test, th, a, b, sp, pairs, pub, v};
        row(rep, o, 10, cells);
    }
    tb_rout_table_end(o);
    tb_rout_para(o, "Published figures apply to decoding and to prompts fed one token at a time "
                    "(@b1), which is how bitnet.cpp measured, and to f16 baselines with F16 lm_heads "
                    "on both sides; a batched prompt has no published counterpart.");
    tb_rout_details_end(o);
}

void tb_report_tokens(const tb_report *rep, tb_rout *o)
{
    const tb_results *r = rep->r;
    tb_rout_details(o, "Tokens per second (every run)");
    const char *h[] = {"machine", "model", "format", "lm_head", "test", "batch", "threads",
                       "t/s [CI]", "roofline", "repetitions"};
    table(rep, o, 10, h, "llllrrrrrl");
    for (int i = 0; i < r->nruns; i++) {
        const tb_rrun *x = &r->runs[i];
        char batch[16], th[16], tps[96], ci[64], roof[48] = "-", reps[64];
        snprintf(batch, sizeof batch, "%d", x->batch);
        snprintf(th, sizeof th, "%d", x->threads);
        tb_ci_text(&x->tps_summary, 2, ci, sizeof ci);
        if (x->n)
            snprintf(tps, sizeof tps, "%.2f %s", x->tps_summary.median, ci);
        else
            snprintf(tps, sizeof tps, "- (no repetition kept)");
        json_t *rf = json_object_get(x->json, "roofline_fraction");
        if (json_is_object(rf))
            snprintf(roof, sizeof roof, "%.0f%%", 100 * json_number_value(json_object_get(rf, "median")));
        else if (x->batched)
            snprintf(roof, sizeof roof, "- (batched: compute-bound)");
        json_t *taint = json_object_get(x->json, "taint");
        int redone = (int)json_integer_value(json_object_get(taint, "redone"));
        if (x->tainted)
            snprintf(reps, sizeof reps, "%d, tainted", x->n);
        else if (redone)
            snprintf(reps, sizeof reps, "%d (%d redone)", x->n, redone);
        else
            snprintf(reps, sizeof reps, "%d", x->n);
        const char *cells[] = {machine_label(rep, x->machine), x->model, x->format, x->embd, x->test,
                               batch, th, tps, roof, reps};
        row(rep, o, 10, cells);
    }
    tb_rout_table_end(o);
    tb_rout_para(o, "t/s: the median of the repetitions with a distribution-free interval (order "
                    "statistics; its coverage in brackets where it falls short of 95 %). Roofline: "
                    "bytes read per second (weights and KV cache) over a read-only stream probed on the "
                    "same threads just before and after each repetition.");
    tb_rout_details_end(o);
}

/* "-55.2% [-58.0%, -52.1%]" of a ratio r: reduction 1 - r. */
static void reduction_text(const tb_ratio *q, char *buf, size_t cap)
{
    if (q->has_ci)
        snprintf(buf, cap, "%.1f%% [%.1f%%, %.1f%%]", 100 * (1 - q->estimate), 100 * (1 - q->hi),
                 100 * (1 - q->lo));
    else
        snprintf(buf, cap, "%.1f%% (n = %d)", 100 * (1 - q->estimate), q->n);
}

/* The energy figures of every run: measured J/token and the proxy's, in
 * their own columns. */
static void energy_per_token(const tb_report *rep, tb_rout *o)
{
    const tb_results *r = rep->r;
    const char *h[] = {"machine", "model", "test", "threads", "measured J/token [CI]", "meter",
                       "bitnet.cpp proxy J/token (not measured)"};
    table(rep, o, 7, h, "lllrrll");
    for (int i = 0; i < r->nruns; i++) {
        const tb_rrun *x = &r->runs[i];
        if (!x->has_energy && !x->has_cpu)
            continue;
        char th[16], meas[96] = "-", proxy[64] = "-";
        snprintf(th, sizeof th, "%d", x->threads);
        if (x->has_energy) {
            tb_summary s;
            tb_summarize(x->jpt, x->n, &s);
            char ci[64];
            tb_ci_text(&s, 4, ci, sizeof ci);
            snprintf(meas, sizeof meas, "%.4f %s", s.median, ci);
        }
        double cpus = json_number_value(json_object_get(json_object_get(r->machines[x->machine].json,
                                                                        "cpu"), "logical_cpus"));
        if (x->has_cpu && cpus > 0 && x->tokens > 0)
            snprintf(proxy, sizeof proxy, "~%.4f", 200 * tb_median(x->cpu_s, x->n) / cpus / x->tokens);
        const char *cells[] = {machine_label(rep, x->machine), x->model, x->test, th, meas,
                               x->has_energy ? x->meter : "-", proxy};
        row(rep, o, 7, cells);
    }
    tb_rout_table_end(o);
}

void tb_report_energy(const tb_report *rep, tb_rout *o)
{
    const tb_results *r = rep->r;
    bool measured = false, proxied = false;
    const char *why = "";
    for (int i = 0; i < r->nruns; i++) {
        measured |= r->runs[i].has_energy;
        proxied |= r->runs[i].has_cpu;
        if (!why[0] && !r->runs[i].peer[0])
            why = tb_json_str(r->runs[i].json, "energy_unavailable");
    }
    tb_rout_details(o, "Energy: measured, and bitnet.cpp's method beside it");
    if (!measured) {
        char text[1600];
        snprintf(text, sizeof text, "Not measured: %s On a machine with RAPL or an INA219 the same "
                 "command measures energy (README). The reductions below are bitnet.cpp's method "
                 "applied to the same repetitions, which is not a measurement.", why[0] ? why : "no "
                 "energy meter.");
        tb_rout_para(o, text);
    }
    tb_rout_para(o, "bitnet.cpp's method (utils/test_power.sh) reads no meter: E = 200 W x U x t with "
                    "U = CPU time / (t x CPUs), so E = 200 W x CPU time / CPUs, and its reduction is "
                    "1 - (CPU seconds per token, ternary / baseline) = 1 - (U_ternary / U_baseline) / "
                    "speedup: with both engines keeping every CPU busy, exactly 1 - 1/speedup. It "
                    "tracks the speedup by construction.");
    const char *h[] = {"machine", "size", "test", "ternary", "baseline", "measured reduction [95% CI]",
                       "net of idle", "bitnet.cpp's method (not a measurement)",
                       "measured - method [95% CI]", "published"};
    table(rep, o, 10, h, "llllrrrrrl");
    for (int i = 0; i < r->ncomps; i++) {
        const tb_rcomp *c = &r->comps[i];
        if (!c->has_energy && !c->has_proxy)
            continue;
        char meas[96] = "-", net[96] = "-", proxy[96] = "-", diff[96] = "-", pub[64] = "-";
        const char *size = c->a->size;
        if (c->has_energy)
            reduction_text(&c->energy, meas, sizeof meas);
        if (c->has_net)
            reduction_text(&c->net, net, sizeof net);
        if (c->has_proxy)
            reduction_text(&c->proxy, proxy, sizeof proxy);
        if (c->has_energy && c->has_proxy) { /* paired: (1 - e) - (1 - p) = p - e */
            double d[TB_RES_MAX_SAMPLES], mean, lo, hi;
            bool has;
            for (int k = 0; k < c->npairs; k++)
                d[k] = c->proxy_r[k] - c->energy_r[k];
            tb_mean_t(d, c->npairs, &mean, &lo, &hi, &has);
            if (has)
                snprintf(diff, sizeof diff, "%+.1f pts [%+.1f, %+.1f]", 100 * mean, 100 * lo, 100 * hi);
            else
                snprintf(diff, sizeof diff, "%+.1f pts", 100 * mean);
        }
        bool f16 = !strcmp(c->b->format, "f16") && tb_test_comparable(c->a) && !strcmp(c->a->embd, "f16") &&
                   !strcmp(c->b->embd, "f16"); /* the claim was like for like */
        const tb_claim *cl = tb_claim_find(size);
        bool isarm = !strcmp(r->machines[c->machine].arch, "aarch64");
        if (f16 && cl && !strcmp(size, "700M"))
            snprintf(pub, sizeof pub, "%s", isarm ? "55.4% (M2 Ultra)" : "71.9% (i7-13700H)");
        else if (f16)
            snprintf(pub, sizeof pub, "band %s", isarm ? "55.4-70.0%" : "71.9-82.2%");
        char a[96];
        if (strcmp(c->a->embd, "f16"))
            snprintf(a, sizeof a, "%s (%s lm_head)", c->a->format, c->a->embd);
        else
            snprintf(a, sizeof a, "%s", c->a->format);
        const char *cells[] = {machine_label(rep, c->machine), size, c->a->test, a, c->b->format, meas,
                               net, proxy, diff, pub};
        row(rep, o, 10, cells);
    }
    tb_rout_table_end(o);
    if (measured || proxied)
        energy_per_token(rep, o);
    tb_rout_para(o, "Published: 55.4-70.0 % less energy on ARM and 71.9-82.2 % on x86 against fp16 "
                    "(bitnet.cpp's headline; its method is not stated in the paper). Measured figures "
                    "are the named meter's over each repetition, idle power included (net: idle power "
                    "x duration subtracted, where --idle measured it).");
    tb_rout_details_end(o);
}

void tb_report_machines(const tb_report *rep, tb_rout *o)
{
    const tb_results *r = rep->r;
    tb_rout_details(o, "Machines");
    const char *h[] = {"machine", "CPU", "arch", "CPUs (usable)", "memory", "kernels", "kernel",
                       "THP", "energy meters", "build"};
    tb_rout_table(o, 10, h, "lllrrlllll");
    for (int m = 0; m < r->nmachines; m++) {
        json_t *j = r->machines[m].json, *cpu = json_object_get(j, "cpu");
        json_t *build = json_object_get(j, "build"), *energy = json_object_get(j, "energy");
        char cpus[48], mem[32], meters[64], b[160];
        snprintf(cpus, sizeof cpus, "%lld (%lld)",
                 (long long)json_integer_value(json_object_get(cpu, "logical_cpus")),
                 (long long)json_integer_value(json_object_get(cpu, "usable_cpus")));
        snprintf(mem, sizeof mem, "%.1f GiB",
                 (double)json_integer_value(json_object_get(cpu, "memory_bytes")) / (1u << 30));
        snprintf(meters, sizeof meters, "%lld usable",
                 (long long)json_integer_value(json_object_get(energy, "usable")));
        snprintf(b, sizeof b, "ternbench %s (git %s)", tb_json_str(build, "version"),
                 tb_json_str(build, "git_commit"));
        const char *cells[] = {r->machines[m].label, r->machines[m].cpu, r->machines[m].arch, cpus, mem,
                               r->machines[m].isa, tb_json_str(cpu, "kernel"), tb_json_str(cpu, "thp"),
                               meters, b};
        tb_rout_row(o, 10, cells);
    }
    tb_rout_table_end(o);
    tb_rout_details_end(o);
}

/* Each engine's tokens/s per size and format, side by side (with peers). */
void tb_report_engines(const tb_report *rep, tb_rout *o)
{
    const tb_results *r = rep->r;
    enum { MAX_PEERS = 6, MAX_ROWS = 128 };
    const char *peers[MAX_PEERS];
    int np = 0;
    for (int i = 0; i < r->nruns; i++) {
        const char *p = r->runs[i].peer;
        bool seen = !p[0];
        for (int k = 0; k < np && !seen; k++)
            seen = !strcmp(peers[k], p);
        if (!seen && np < MAX_PEERS)
            peers[np++] = p;
    }
    if (!np)
        return;
    const char *h[3 + MAX_PEERS] = {"machine", "size", "format", "ternbench"};
    char align[4 + MAX_PEERS] = "lllr";
    for (int k = 0; k < np; k++) {
        h[4 + k] = peers[k];
        align[4 + k] = 'r';
    }
    align[4 + np] = '\0';
    char title[160];
    snprintf(title, sizeof title, "Each engine's tokens/s (%s, %d threads), on the same files",
             rep->view[0].test, rep->view[0].threads);
    tb_rout_para(o, title);
    table(rep, o, 4 + np, h, align);
    const tb_rrun *done[MAX_ROWS];
    int nd = 0;
    for (int i = 0; i < r->nruns && nd < MAX_ROWS; i++) {
        const tb_rrun *x = &r->runs[i];
        const tb_mview *v = &rep->view[x->machine];
        bool seen = false;
        for (int k = 0; k < nd && !seen; k++)
            seen = done[k]->machine == x->machine && !strcmp(done[k]->size, x->size) &&
                   !strcmp(done[k]->format, x->format);
        if (seen || x->threads != v->threads || strcmp(x->test, v->test))
            continue;
        done[nd++] = x;
        char cell[1 + MAX_PEERS][64];
        const char *cells[4 + MAX_PEERS] = {machine_label(rep, x->machine), x->size, x->format};
        for (int e = 0; e <= np; e++) {
            snprintf(cell[e], sizeof cell[e], "-");
            for (int k = 0; k < r->nruns; k++) {
                const tb_rrun *y = &r->runs[k];
                if (y->machine == x->machine && y->threads == x->threads && !strcmp(y->test, x->test) &&
                    !strcmp(y->size, x->size) && !strcmp(y->format, x->format) &&
                    !strcmp(y->peer, e ? peers[e - 1] : "") && y->n > 0)
                    snprintf(cell[e], sizeof cell[e], "%.2f", y->tps_summary.median);
            }
            cells[3 + e] = cell[e];
        }
        row(rep, o, 4 + np, cells);
    }
    tb_rout_table_end(o);
}

/* The quality entry of machine m that is model `model`, or NULL. */
static const tb_rquality *quality_of(const tb_results *r, int m, const char *model)
{
    for (int i = 0; i < r->nquality; i++)
        if (r->quality[i].machine == m && !strcmp(r->quality[i].model, model))
            return &r->quality[i];
    return NULL;
}

/* The model of q's group (the models compared with the same f16 twin, else
 * of the same size) in format fmt, or NULL. */
static const tb_rquality *group_member(const tb_results *r, const tb_rquality *q, const char *fmt)
{
    for (int i = 0; i < r->nquality; i++) {
        const tb_rquality *x = &r->quality[i];
        bool same = q->base[0] ? !strcmp(x->base, q->base) : !strcmp(x->size, q->size);
        if (x->machine == q->machine && same && !strcmp(x->format, fmt) && !x->unavailable[0])
            return x;
    }
    return NULL;
}

/* "2.95x [2.80, 3.10]" of run a over the run of model b in the view, or "-". */
static void speedup_over(const tb_report *rep, const tb_rrun *a, const tb_rquality *b, char *buf,
                         size_t cap)
{
    const tb_mview *v = &rep->view[a->machine];
    const tb_rrun *y = b ? tb_results_run(rep->r, a->machine, b->model, v->test, -1, v->threads) : NULL;
    tb_ratio q;
    snprintf(buf, cap, "-");
    if (!y || y == a || tb_results_speedup(a, y, &q) == 0)
        return;
    tb_ratio_text(&q, buf, cap);
    if (a->tainted || y->tainted)
        snprintf(buf + strlen(buf), cap - strlen(buf), " (tainted)");
}

void tb_report_quality(const tb_report *rep, tb_rout *o)
{
    const tb_results *r = rep->r;
    if (r->nquality == 0)
        return;
    tb_rout_heading(o, 2, "quality", "Speed and quality");
    const char *h[] = {"machine", "model", "format", "lm_head", "speedup over f16", "over q4_k",
                       "PPL", "PPL / PPL(f16)", "mean KLD", "same top token"};
    table(rep, o, 10, h, "llllrrrrrr");
    bool seeded = false, text = false;
    for (int i = 0; i < r->nquality; i++) {
        const tb_rquality *q = &r->quality[i];
        const tb_mview *v = &rep->view[q->machine];
        char f16[96] = "-", q4k[96] = "-", ppl[64], ratio[64] = "-", kld[64] = "-", top[32] = "-";
        if (q->unavailable[0]) {
            snprintf(ppl, sizeof ppl, "not scored: %.50s", q->unavailable);
        } else {
            seeded |= q->seeded;
            text |= !q->seeded;
            snprintf(ppl, sizeof ppl, "%.4g ± %.2g", q->ppl, q->ppl_err);
            const tb_rrun *a = tb_results_run(r, q->machine, q->model, v->test, -1, v->threads);
            const tb_rquality *twin = q->base[0] ? quality_of(r, q->machine, q->base) : group_member(r, q, "f16");
            if (a) {
                speedup_over(rep, a, twin, f16, sizeof f16);
                speedup_over(rep, a, group_member(r, q, "q4_k"), q4k, sizeof q4k);
            }
            if (q->has_kl) {
                snprintf(ratio, sizeof ratio, "%.4f ± %.4f", q->ppl_ratio, q->ppl_ratio_err);
                snprintf(kld, sizeof kld, "%.5f ± %.2g", q->kld, q->kld_err);
                snprintf(top, sizeof top, "%.1f%%", 100 * q->same_top);
            } else if (twin == q) {
                snprintf(ratio, sizeof ratio, "(the f16 twin)");
            }
        }
        const char *cells[] = {machine_label(rep, q->machine), q->model, q->format, q->embd, f16, q4k,
                               ppl, ratio, kld, top};
        row(rep, o, 10, cells);
    }
    tb_rout_table_end(o);
    char note[900];
    snprintf(note, sizeof note, "Speed: decoding (%s at %d threads), paired by round, 95%% interval; "
             "q4_k stands for llama.cpp's Q4_K_M and Q4_K_S mixes too (their projections' format). "
             "Quality: perplexity as llama-perplexity computes it (chunks from an empty cache, the "
             "second half of each scored), and against the f16 twin of the same shapes and "
             "vocabulary at the same positions: PPL ratio, mean KL divergence and how often the "
             "most likely token is the same.%s%s",
             rep->view[0].test, rep->view[0].threads,
             text ? " Perplexities of models with different vocabularies are not comparable." : "",
             seeded ? " Seeded ids through dummy models' random weights: their perplexity says "
                      "nothing about language, but the KL from the f16 twin still measures how far "
                      "each format moves the function." : "");
    tb_rout_para(o, note);
}
