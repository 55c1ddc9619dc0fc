/*
 * bench_doc.c - the runner's measurements as a person and a program read
 * them: per thread count a llama-bench-like table of runs and a table of
 * paired speedups, the runs and comparisons of the ternbench.result/2
 * document, and what the machine did meanwhile; at the end, the notes on
 * what was not measured and on the repetitions the machine disturbed.
 */
#include "bench_impl.h"

#include <math.h>
#include <string.h>

#include "stats.h"

static json_t *summary_json(const double *x, int n)
{
    tb_summary s;
    tb_summarize(x, n, &s);
    return tb_summary_to_json(&s, x, n);
}

static bool batched(const bench *b, int t)
{
    return tb_bench_test_batch(&b->o->tests[t], b->o->batch) > 1;
}

/* "6", "7 (1 redone)", "tainted (5 kept, 3 redone)" */
static void tries_text(const cell *c, char *buf, size_t cap)
{
    if (c->tainted)
        snprintf(buf, cap, "tainted (%d kept, %d redone)", c->n, c->redone);
    else if (c->redone)
        snprintf(buf, cap, "%d (%d redone)", c->n, c->redone);
    else
        snprintf(buf, cap, "%d", c->n);
}

static json_t *attempts_json(const cell *c)
{
    json_t *arr = json_array();
    for (int k = 0; k < c->ntries; k++) {
        const attempt *a = &c->tries[k];
        json_t *o = json_pack("{s:i, s:f, s:f, s:f, s:b}", "round", a->round, "started_s", a->started,
                              "seconds", a->seconds, "tokens_per_s", a->tps, "kept", a->kept);
        for (int l = 0; l < LOSSES; l++) {
            char key[48];
            snprintf(key, sizeof key, "%s_share", bench_loss_kinds[l].name);
            json_object_set_new(o, key, json_real(a->share[l]));
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *rounds_json(const cell *c)
{
    json_t *arr = json_array();
    for (int k = 0; k < c->n; k++)
        json_array_append_new(arr, json_integer(c->round[k]));
    return arr;
}

static json_t *energy_json(const bench *b, const cell *c)
{
    json_t *idle = b->idle_ok ? json_real(b->idle_w) : json_null();
    json_t *e = json_pack("{s:s, s:o, s:o, s:o, s:o}", "meter", b->meter_name, "joules_per_token",
                          summary_json(c->jpt, c->n), "joules_per_token_net",
                          b->idle_ok ? summary_json(c->jpt_net, c->n) : json_null(), "watts",
                          summary_json(c->watts, c->n), "idle_watts", idle);
    if (b->idle_why[0])
        json_object_set_new(e, "idle_unavailable", json_string(b->idle_why));
    return e;
}

static json_t *hardware_json(const bench *b, const cell *c, int tokens)
{
    json_t *hw = json_pack("{s:b}", "available", b->hw_why == NULL), *evs = json_object();
    for (int e = 0; e < TB_HW_EVENTS; e++) /* what each event is asked as */
        json_object_set_new(evs, tb_hw_event_names[e], json_string(tb_hw_events()[e].name));
    json_object_set_new(hw, "events", evs);
    if (b->hw_why) {
        json_object_set_new(hw, "reason", json_string(b->hw_why));
        return hw;
    }
    /* perf_event, per thread of the pool, summed; derived per token */
    json_object_set_new(hw, "source", json_string(tb_hw_events()[0].libpfm4 ? "libpfm4+perf_event"
                                                                           : "perf_event"));
    for (int e = 0; e < TB_HW_EVENTS; e++) {
        char k[64];
        if (!c->hw_ok[e]) {
            snprintf(k, sizeof k, "%s_unavailable", tb_hw_event_names[e]);
            json_object_set_new(hw, k, json_string(c->hw_why[e][0] ? c->hw_why[e] : "not counted"));
            continue;
        }
        double per[TB_BENCH_MAX_REPS];
        for (int r = 0; r < c->n; r++)
            per[r] = c->hw[e][r] / tokens;
        snprintf(k, sizeof k, "%s_per_token", tb_hw_event_names[e]);
        json_object_set_new(hw, tb_hw_event_names[e], summary_json(c->hw[e], c->n));
        json_object_set_new(hw, k, summary_json(per, c->n));
        snprintf(k, sizeof k, "%s_running_share", tb_hw_event_names[e]);
        json_object_set_new(hw, k, json_real(c->hw_running[e]));
    }
    if (c->hw_ok[0] && c->hw_ok[1]) {
        double ipc[TB_BENCH_MAX_REPS];
        for (int r = 0; r < c->n; r++)
            ipc[r] = c->hw[1][r] > 0 ? c->hw[0][r] / c->hw[1][r] : 0;
        json_object_set_new(hw, "ipc", summary_json(ipc, c->n));
    }
    return hw;
}

/* Instructions (and LL misses) per token counted under callgrind, one
 * thread, one count per test: exact, so its one sample is the figure. */
static json_t *callgrind_json(const bench *b, int i, int t)
{
    const tb_count_result *r = &b->counts[i];
    if (!r->ok)
        return json_pack("{s:s}", "reason", r->why);
    json_t *o = json_pack("{s:[f], s:s, s:i, s:s}", "instructions_per_token",
                          r->instructions[t], "isa", r->isa, "threads", 1, "tool",
                          "valgrind --tool=callgrind, the forward pass only");
    /* as a summary: the readers take samples */
    json_t *arr = json_object_get(o, "instructions_per_token");
    json_object_set_new(o, "instructions_per_token", json_pack("{s:f, s:i, s:O}", "median",
                                                               r->instructions[t], "n", 1, "samples", arr));
    if (r->ll_misses[t] >= 0)
        json_object_set_new(o, "ll_misses_per_token", json_pack("{s:f, s:i, s:[f]}", "median",
                                                                r->ll_misses[t], "n", 1, "samples",
                                                                r->ll_misses[t]));
    return o;
}

static json_t *counters_json(const bench *b, const cell *c, int tokens)
{
    json_t *ctr = json_pack("{s:s, s:o, s:o, s:o, s:o}", "source", "getrusage", "cpu_seconds",
                            summary_json(c->cpu_s, c->n), "context_switches",
                            summary_json(c->ctxsw, c->n), "page_faults", summary_json(c->faults, c->n),
                            "hardware", hardware_json(b, c, tokens));
    for (int k = 0; k < LOSSES; k++)
        json_object_set_new(ctr, bench_loss_kinds[k].key,
                            c->loss_ok[k] ? summary_json(c->loss[k], c->n) : json_null());
    return ctr;
}

static json_t *taint_json(const bench *b, const cell *c)
{
    return json_pack("{s:b, s:i, s:i, s:f, s:s, s:f}", "tainted", c->tainted, "redone", c->redone,
                     "retries", b->retries, "worst_share", c->taint_share, "worst_kind",
                     c->taint_share > 0 ? bench_loss_kinds[c->taint_kind].name : "", "max_lost",
                     b->max_lost);
}

/* What a peer's run says instead of energy: llama-bench times its tests
 * itself, so a meter could only bracket the whole invocation. */
static json_t *peer_json(const engine *e)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", e->peer, "path", e->peer_path, "file",
                     e->file, "build", e->info.build, "backends", e->info.backends, "model_type",
                     e->info.model_type);
}

static json_t *run_json(const bench *b, int i, int t)
{
    const engine *e = &b->engines[i];
    const tb_model *m = e->model;
    const tb_bench_test *tt = &b->o->tests[t];
    const cell *c = &b->cells[i * b->o->ntests + t];
    int tokens = tt->tokens + tt->gen;
    bool batch = batched(b, t);
    json_t *run = json_pack(
        "{s:s, s:s, s:s, s:I, s:f, s:I, s:s, s:s, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o}",
        "model", e->name, "format", bench_model_format(m), "embd_format",
        tb_format_get(m->lm_head.fmt)->name, "weight_bytes", (json_int_t)m->weight_bytes,
        "kv_bytes_per_token", bench_kv_bytes(m, tt), "threads", (json_int_t)b->threads, "isa",
        tb_isa_name(b->mach->isa), "test", tt->name, "tokens", tokens, "batch",
        tb_bench_test_batch(tt, b->o->batch), "rounds", rounds_json(c), "tokens_per_s",
        summary_json(c->tps, c->n), "weight_gbps", summary_json(c->wgbps, c->n), "memory_gbps",
        summary_json(c->mgbps, c->n), "roof_gbps", summary_json(c->roof, c->n),
        "roofline_fraction", batch ? json_null() : summary_json(c->frac, c->n));
    json_object_set_new(run, "roof", json_string("read-only stream on the run's threads, probed "
                                                 "before and after each repetition"));
    if (bench_model_size(m)[0])
        json_object_set_new(run, "size", json_string(bench_model_size(m)));
    json_object_set_new(run, "taint", taint_json(b, c));
    json_object_set_new(run, "attempts", attempts_json(c));
    if (e->peer)
        json_object_set_new(run, "energy_unavailable",
                            json_string("a peer: llama-bench times its tests itself, and a meter could "
                                        "only bracket the whole invocation (model load and warm-up "
                                        "included)"));
    else if (b->meter_name && !b->energy_why[0])
        json_object_set_new(run, "energy", energy_json(b, c));
    else
        json_object_set_new(run, "energy_unavailable", json_string(b->energy_why));
    json_object_set_new(run, "params", json_real(m->params));
    if (c->profiled) {
        json_t *ph = json_object();
        for (int p = 0; p < TB_PHASES; p++)
            json_object_set_new(ph, tb_phase_name(p), json_real(c->profile[p]));
        json_object_set_new(run, "profile", json_pack("{s:s, s:f, s:f, s:o}", "source",
                                                      "one more run with a clock around each phase",
                                                      "seconds_per_token", c->profile_s, "roof_gbps",
                                                      c->profile_roof, "phases", ph));
    }
    json_object_set_new(run, "counters", counters_json(b, c, tokens));
    if (e->peer) {
        json_object_set_new(run, "peer", json_string(e->peer));
        json_object_set_new(run, "peer_info", peer_json(e));
        json_object_set_new(run, "source", json_string("llama-bench -o json, -r 1 per repetition"));
        if (e->failed)
            json_object_set_new(run, "peer_failed", json_string(e->why));
    } else if (b->o->count) {
        json_object_set_new(json_object_get(run, "counters"), "callgrind",
                            callgrind_json(b, e->index, t));
    }
    return run;
}

static void runs_table(bench *b, FILE *out, json_t *runs)
{
    const tb_bench_opts *o = b->o;
    fprintf(out, "| model | format | lm_head | size | threads | isa | test | batch | t/s | CI | "
                 "GB/s | roofline | repetitions |\n"
                 "| --- | --- | --- | ---: | ---: | --- | --- | ---: | ---: | --- | ---: | ---: | --- |\n");
    for (int i = 0; i < b->nengines; i++)
        for (int t = 0; t < o->ntests; t++) {
            const tb_model *m = b->engines[i].model;
            const cell *c = bench_cell(b, i, t);
            tb_summary s, g, f;
            tb_summarize(c->tps, c->n, &s);
            tb_summarize(c->mgbps, c->n, &g);
            tb_summarize(c->frac, c->n, &f);
            char ci[64], roof[32] = "-", tries[64], tps[32] = "-";
            tb_ci_text(&s, 2, ci, sizeof ci);
            tries_text(c, tries, sizeof tries);
            if (c->n)
                snprintf(tps, sizeof tps, "%.2f", s.median);
            /* a batch reads each weight once for many tokens: compute-bound, so no
             * bandwidth roofline applies (GB/s there is bytes x tokens/s) */
            if (!batched(b, t) && c->n)
                snprintf(roof, sizeof roof, "%.0f%%", 100 * f.median);
            fprintf(out, "| %s | %s | %s | %.1f MB | %ld | %s | %s | %d | %s | %s | %.1f | %s | %s |\n",
                    b->engines[i].name, bench_model_format(m), tb_format_get(m->lm_head.fmt)->name,
                    (double)m->weight_bytes / 1e6, b->threads, tb_isa_name(b->mach->isa),
                    o->tests[t].name, tb_bench_test_batch(&o->tests[t], o->batch), tps, ci, g.median,
                    roof, tries);
            json_array_append_new(runs, run_json(b, i, t));
        }
}

/* Paired figures of two cells: speedup (and energy reduction) over the
 * rounds both kept; the median gap between the pair's starts. */
static json_t *comparison_json(bench *b, int x, int y, int t, FILE *out, double *gap_sum, int *gaps)
{
    const tb_model *ma = b->engines[x].model, *mb = b->engines[y].model;
    cell *ca = bench_cell(b, x, t), *cb = bench_cell(b, y, t);
    int ia[TB_BENCH_MAX_REPS], ib[TB_BENCH_MAX_REPS];
    int n = bench_pairs(ca, cb, ia, ib);
    double r[TB_BENCH_MAX_REPS];
    for (int k = 0; k < n; k++)
        r[k] = ca->tps[ia[k]] / cb->tps[ib[k]];
    tb_ratio q;
    tb_ratio_of(r, n, &q);
    /* how far apart in time a pair's runs started: drift slower than this cancels */
    for (int k = 0; k < ca->ntries; k++)
        for (int j = 0; j < cb->ntries; j++)
            if (ca->tries[k].kept && cb->tries[j].kept && ca->tries[k].round == cb->tries[j].round) {
                *gap_sum += fabs(ca->tries[k].started - cb->tries[j].started);
                (*gaps)++;
            }
    bool tainted = ca->tainted || cb->tainted;
    char ci[64] = "-", pm[32] = "-";
    if (q.has_ci) {
        snprintf(ci, sizeof ci, "[%.2f, %.2f]", q.lo, q.hi);
        snprintf(pm, sizeof pm, "±%.1f%%", 100 * q.half_width);
    }
    char est[32] = "-";
    if (n)
        snprintf(est, sizeof est, "%.2fx", q.estimate);
    fprintf(out, "| %s | %ld | %s | %s | %s | %s | %s | %d | %s |\n", b->o->tests[t].name,
            b->threads, b->engines[x].name, b->engines[y].name, est, ci, pm, n,
            tainted ? "tainted: no verdict" : "");
    json_t *c = json_pack("{s:s, s:i, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:f}",
                          "test", b->o->tests[t].name, "batch",
                          tb_bench_test_batch(&b->o->tests[t], b->o->batch), "threads",
                          (json_int_t)b->threads, "model", b->engines[x].name, "baseline_model",
                          b->engines[y].name,
                          "format", bench_model_format(ma), "baseline_format", bench_model_format(mb),
                          "embd_format", tb_format_get(ma->lm_head.fmt)->name,
                          "baseline_embd_format", tb_format_get(mb->lm_head.fmt)->name, "speedup",
                          tb_ratio_to_json(&q, r, n), "precision",
                          q.has_ci ? json_real(q.half_width) : json_null(), "tainted", tainted,
                          "lost_share", fmax(ca->taint_share, cb->taint_share));
    json_t *saving = json_null();
    if (b->meter_name && !b->energy_why[0] && n > 0) {
        /* paired: 1 - (J/token ternary / J/token baseline); the interval is the
         * ratio's, mirrored */
        double e[TB_BENCH_MAX_REPS];
        for (int k = 0; k < n; k++)
            e[k] = ca->jpt[ia[k]] / cb->jpt[ib[k]];
        tb_ratio er;
        tb_ratio_of(e, n, &er);
        saving = json_pack("{s:f, s:s}", "estimate", 1 - er.estimate, "ci_method",
                           "1 - the t interval of the paired J/token ratios");
        json_object_set_new(saving, "ci", er.has_ci ? json_pack("[f, f]", 1 - er.hi, 1 - er.lo)
                                                   : json_null());
    }
    json_object_set_new(c, "energy_reduction", saving);
    return c;
}

static void comparisons_table(bench *b, FILE *out, json_t *comps, double *gap)
{
    const tb_bench_opts *o = b->o;
    bool header = false;
    double gap_sum = 0;
    int gaps = 0;
    for (int x = 0; x < b->nengines; x++)
        for (int y = 0; y < b->nengines; y++) {
            if (!bench_compares(b, x, y))
                continue;
            for (int t = 0; t < o->ntests; t++) {
                if (!header)
                    fprintf(out, "\n| test | threads | ternary | baseline | speedup | 95%% CI | "
                                 "precision | pairs | |\n"
                                 "| --- | ---: | --- | --- | ---: | --- | ---: | ---: | --- |\n");
                header = true;
                json_array_append_new(comps, comparison_json(b, x, y, t, out, &gap_sum, &gaps));
            }
        }
    *gap = gaps ? gap_sum / gaps : 0;
}

/* What the machine did while this thread count ran: the spread of the
 * bandwidth probes (its drift) and how far apart the paired runs started. */
static json_t *weather_json(const bench *b, double gap)
{
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < b->nengines * b->o->ntests; i++)
        for (int k = 0; k < b->cells[i].n; k++) {
            lo = fmin(lo, b->cells[i].roof[k]);
            hi = fmax(hi, b->cells[i].roof[k]);
        }
    int redone = 0, tainted = 0;
    for (int i = 0; i < b->nengines * b->o->ntests; i++) {
        redone += b->cells[i].redone;
        tainted += b->cells[i].tainted;
    }
    return json_pack("{s:I, s:i, s:f, s:f, s:f, s:f, s:i, s:i}", "threads", (json_int_t)b->threads,
                     "rounds", b->rounds, "roof_min_gbps", isfinite(lo) ? lo : 0,
                     "roof_max_gbps", hi, "drift", hi > 0 && isfinite(lo) ? hi / lo : 1,
                     "pair_gap_s", gap, "redone", redone, "tainted_cells", tainted);
}

/* The largest share a kept try lost per kind, for the note under the tables. */
static void gather_losses(bench *b)
{
    const tb_bench_opts *o = b->o;
    for (int i = 0; i < b->nengines; i++)
        for (int t = 0; t < o->ntests; t++) {
            const cell *c = bench_cell(b, i, t);
            b->redone_total += c->ntries - c->n;
            b->tainted_cells += c->tainted;
            for (int k = 0; k < c->ntries; k++)
                for (int l = 0; l < LOSSES; l++)
                    if (c->tries[k].share[l] > b->worst[l]) {
                        b->worst[l] = c->tries[k].share[l];
                        b->worst_run[l].engine = i;
                        b->worst_run[l].test = t;
                        b->worst_run[l].threads = b->threads;
                    }
        }
}

/* --profile: where a token's time went, phase by phase, and each weight
 * phase's bytes over its time against the profile run's own roof. */
static void profile_table(const bench *b, FILE *out)
{
    fprintf(out, "\nprofile: one more run of each test with a clock around each phase; per token "
                 "(the pool's fork and join around the weights' products and attention: the time "
                 "outside the busiest thread's work); of the roof: against the read-only stream "
                 "probed just before and after this run\n\n"
                 "| model | test | phase | us/token | share | weights GB/s | of the roof |\n"
                 "| --- | --- | --- | ---: | ---: | ---: | ---: |\n");
    bool over = false; /* a phase read faster than the probes around its run */
    for (int i = 0; i < b->nengines; i++) {
        for (int t = 0; t < b->o->ntests; t++) {
            const cell *c = &b->cells[i * b->o->ntests + t];
            if (!c->profiled)
                continue;
            double roof = c->profile_roof, rest = c->profile_s;
            for (int p = 0; p <= TB_PHASES; p++) {
                double s = p < TB_PHASES ? c->profile[p] : rest;
                size_t bytes = p < TB_PHASES ? tb_phase_weight_bytes(b->engines[i].model, p) : 0;
                char gbps[32] = "", frac[32] = "";
                if (bytes && s > 0 && !batched(b, t)) {
                    snprintf(gbps, sizeof gbps, "%.1f", bytes / s / 1e9);
                    if (roof > 0)
                        snprintf(frac, sizeof frac, "%.0f%%", 100 * bytes / s / 1e9 / roof);
                    over |= roof > 0 && bytes / s / 1e9 > roof;
                }
                if (p < TB_PHASES)
                    rest -= s;
                fprintf(out, "| %s | %s | %s | %.1f | %.1f%% | %s | %s |\n", b->engines[i].name,
                        b->o->tests[t].name, p < TB_PHASES ? tb_phase_name(p) : "(outside the phases)",
                        1e6 * s, 100 * s / c->profile_s, gbps, frac);
            }
        }
    }
    if (over)
        fprintf(out, "\nabove 100 %% of the roof: the probe, one read stream, understated what the "
                     "memory gave that phase (a product reading several rows at once can draw more "
                     "while the machine's bandwidth is high); its GB/s stands, its fraction is no "
                     "ceiling\n");
}

void bench_report_threads(bench *b, FILE *out, tb_bench_doc *doc)
{
    double gap = 0;
    runs_table(b, out, doc->runs);
    if (b->o->profile)
        profile_table(b, out);
    comparisons_table(b, out, doc->comps, &gap);
    json_array_append_new(doc->weather, weather_json(b, gap));
    gather_losses(b);
}

void bench_report_notes(bench *b, FILE *out)
{
    for (int i = 0; i < b->nengines; i++)
        if (b->engines[i].failed)
            fprintf(out, "peer: %s stopped: %s\n", b->engines[i].name, b->engines[i].why);
    if (b->energy_why[0])
        fprintf(out, "energy: not measured: %s\n", b->energy_why);
    if (b->idle_why[0])
        fprintf(out, "energy: %s\n", b->idle_why);
    if (b->hw_why)
        fprintf(out, "hardware counters: unavailable: %s\n", b->hw_why);
    for (int k = 0; k < LOSSES; k++)
        if (b->worst[k] > b->max_lost)
            fprintf(out, "lost time: %s for %.0f %% of %s in a try of %s %s at %ld thread%s: %s\n",
                    bench_loss_kinds[k].who, 100 * b->worst[k], bench_loss_kinds[k].of,
                    b->engines[b->worst_run[k].engine].name, b->o->tests[b->worst_run[k].test].name,
                    b->worst_run[k].threads, b->worst_run[k].threads == 1 ? "" : "s", bench_loss_kinds[k].why);
    if (b->redone_total)
        fprintf(out, "redone: %d %s more than %.0f %% of %s time and %s not counted\n",
                b->redone_total, b->redone_total == 1 ? "try lost" : "tries lost", 100 * b->max_lost,
                b->redone_total == 1 ? "its" : "their", b->redone_total == 1 ? "was" : "were");
    if (b->tainted_cells)
        fprintf(out, "tainted: %d run%s kept losing time after %d retries: no verdict is given on "
                "%s (the machine was busy; run again on a quiet machine, or raise --retries)\n",
                b->tainted_cells, b->tainted_cells == 1 ? "" : "s", b->retries,
                b->tainted_cells == 1 ? "it" : "them");
}
