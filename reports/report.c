/*
 * report.c - the report: the answer first, then what disturbed it, then the
 * charts, then the details. See report.h for the order and why.
 *
 * The walk of tb_report_write: read the document -> choose what each
 * machine's summary shows (its largest thread count, its decode test) ->
 * one line per machine and size (the headline comparison, the strongest
 * baseline, a quantised lm_head) -> the page: answer, flagged runs, charts,
 * details.
 */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report_impl.h"

/* ---- what the parts share ---- */

bool tb_fmt_ternary(const char *fmt)
{
    static const char *const ternary[] = {"i2_s", "t1_67", "tl2", "tq2_0", "tq1_0", "TQ2_0", "TQ1_0", "I2_S"};
    for (size_t i = 0; i < sizeof ternary / sizeof ternary[0]; i++)
        if (!strcmp(fmt, ternary[i]))
            return true;
    return false;
}

static bool arm(const tb_rmachine *m)
{
    return !strcmp(m->arch, "aarch64") || !strcmp(m->arch, "arm64");
}

double tb_published_speedup(const tb_rmachine *m, const tb_claim *c)
{
    return !c ? 0 : arm(m) ? c->arm_speedup : c->x86_speedup;
}

const char *tb_published_where(const tb_rmachine *m)
{
    return arm(m) ? "ARM (M2 Ultra)" : "x86 (i7-13700H)";
}

bool tb_test_comparable(const tb_rrun *run)
{
    return run->batch <= 1 && (run->test[0] == 't' || strstr(run->test, "@b1"));
}

void tb_ratio_text(const tb_ratio *q, char *buf, size_t cap)
{
    if (q->n == 0)
        snprintf(buf, cap, "- (no repetition kept)");
    else if (q->has_ci)
        snprintf(buf, cap, "%.2fx [%.2f, %.2f]", q->estimate, q->lo, q->hi);
    else
        snprintf(buf, cap, "%.2fx (n = %d, no interval)", q->estimate, q->n);
}

void tb_verdict(const tb_rcomp *c, double published, char *buf, size_t cap)
{
    const tb_ratio *q = &c->speedup;
    if (published <= 0)
        snprintf(buf, cap, "no published figure");
    else if (c->tainted)
        snprintf(buf, cap, "inconclusive: the machine was busy (%.0f %% of a repetition's time "
                 "lost, retries ran out)", 100 * c->lost_share);
    else if (!q->has_ci)
        snprintf(buf, cap, "inconclusive (n = %d)", q->n);
    else if (q->lo > published)
        snprintf(buf, cap, "above");
    else if (q->hi < published)
        snprintf(buf, cap, "below");
    else if (q->lo >= published / (1 + TB_MATCH_TOLERANCE) && q->hi <= published * (1 + TB_MATCH_TOLERANCE))
        snprintf(buf, cap, "matches (within ±%.0f %%)", 100 * TB_MATCH_TOLERANCE);
    else
        snprintf(buf, cap, "inconclusive (±%.0f %%)", 100 * q->half_width);
}

/* ---- what each machine's summary shows ---- */

static void choose_views(const tb_results *r, tb_mview *v)
{
    for (int m = 0; m < r->nmachines; m++) {
        v[m].threads = 0;
        v[m].test[0] = '\0';
        for (int i = 0; i < r->nruns; i++)
            if (r->runs[i].machine == m && r->runs[i].threads > v[m].threads)
                v[m].threads = r->runs[i].threads;
        for (int pass = 0; pass < 2 && !v[m].test[0]; pass++) /* a decode test, else any */
            for (int i = 0; i < r->nruns && !v[m].test[0]; i++) {
                const tb_rrun *x = &r->runs[i];
                if (x->machine == m && x->threads == v[m].threads && (pass || x->test[0] == 't'))
                    snprintf(v[m].test, sizeof v[m].test, "%s", x->test);
            }
    }
}

/* One machine and one model size of the summary. */
typedef struct line {
    int machine;
    char size[96];
    double params;
    const tb_rcomp *headline;  /* the preferred ternary format over f16, both with F16 lm_heads */
    const tb_rcomp *strongest; /* the same ternary model over its fastest other baseline */
    const tb_rcomp *practical; /* a ternary model with a quantised lm_head over f16 */
    const tb_rcomp *claim;     /* the claim itself: one peer's ternary over another's f16 */
} line;

static int ternary_rank(const char *fmt)
{
    static const char *const order[] = {"i2_s", "t1_67", "tl2", "tq2_0", "tq1_0"};
    const int n = (int)(sizeof order / sizeof order[0]);
    for (int i = 0; i < n; i++)
        if (!strcmp(fmt, order[i]))
            return i;
    return n;
}

static bool in_view(const tb_report *rep, const tb_rcomp *c)
{
    const tb_mview *v = &rep->view[c->machine];
    return c->a->threads == v->threads && !strcmp(c->a->test, v->test);
}

static line *line_for(line *lines, int *n, int cap, int m, const char *size, double params)
{
    for (int i = 0; i < *n; i++)
        if (lines[i].machine == m && !strcmp(lines[i].size, size))
            return &lines[i];
    if (*n == cap)
        return NULL;
    line *l = &lines[(*n)++];
    memset(l, 0, sizeof *l);
    l->machine = m;
    snprintf(l->size, sizeof l->size, "%s", size);
    l->params = params;
    return l;
}

static int by_machine_and_size(const void *a, const void *b)
{
    const line *x = a, *y = b;
    if (x->machine != y->machine)
        return x->machine - y->machine;
    return (x->params > y->params) - (x->params < y->params);
}

static int summary_lines(const tb_report *rep, line *lines, int cap)
{
    const tb_results *r = rep->r;
    int n = 0;
    for (int i = 0; i < r->ncomps; i++) { /* the headline: like for like over f16 */
        const tb_rcomp *c = &r->comps[i];
        if (!in_view(rep, c) || !tb_fmt_ternary(c->a->format) || strcmp(c->b->format, "f16") ||
            strcmp(c->b->embd, "f16") || c->b->peer[0] || c->a->peer[0])
            continue;
        line *l = line_for(lines, &n, cap, c->machine, c->a->size, c->a->params);
        if (!l)
            continue;
        if (strcmp(c->a->embd, "f16")) {
            if (!l->practical || c->speedup.estimate > l->practical->speedup.estimate)
                l->practical = c;
        } else if (!l->headline || ternary_rank(c->a->format) < ternary_rank(l->headline->a->format)) {
            l->headline = c;
        }
    }
    for (int i = 0; i < r->ncomps; i++) { /* the strongest baseline, any engine's */
        const tb_rcomp *c = &r->comps[i];
        if (tb_fmt_ternary(c->b->format)) /* one ternary layout over another: no baseline */
            continue;
        for (int k = 0; k < n; k++) {
            line *l = &lines[k];
            if (l->headline && c->a == l->headline->a && c != l->headline &&
                (!l->strongest || c->speedup.estimate < l->strongest->speedup.estimate))
                l->strongest = c;
        }
    }
    for (int i = 0; i < r->ncomps; i++) { /* the claim: a peer's ternary over another peer's f16 */
        const tb_rcomp *c = &r->comps[i];
        if (!in_view(rep, c) || !c->a->peer[0] || !c->b->peer[0] || !strcmp(c->a->peer, c->b->peer) ||
            !tb_fmt_ternary(c->a->format) || strcmp(c->b->format, "f16"))
            continue;
        line *l = line_for(lines, &n, cap, c->machine, c->a->size, c->a->params);
        if (l && (!l->claim || ternary_rank(c->a->format) < ternary_rank(l->claim->a->format)))
            l->claim = c;
    }
    qsort(lines, (size_t)n, sizeof *lines, by_machine_and_size);
    return n;
}

/* ---- the page ---- */

static const char css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:76em;margin:auto;"
    "padding:0 1em;line-height:1.45;color:#111}"
    ".scroll{overflow-x:auto}table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #999;padding:2px 8px;vertical-align:top}th{background:#eee}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "svg{max-width:100%;height:auto}details{margin:.6em 0}summary{cursor:pointer;font-weight:bold}"
    ".answer{font-size:1.1em;border-left:4px solid #0072B2;padding-left:.8em}"
    "@media print{body{max-width:none}summary{list-style:none}}";

static void page_head(tb_rout *o)
{
    tb_rout_html(o, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                    "<title>ternbench report</title><style>%s</style>"
                    "<script>window.addEventListener('beforeprint',function(){"
                    "document.querySelectorAll('details').forEach(function(d){d.open=true;});});"
                    "</script></head><body>\n", css);
}

static void when_text(json_t *doc, char *buf, size_t cap)
{
    const char *created = json_string_value(json_object_get(doc, "created"));
    if (created) {
        snprintf(buf, cap, "Measured %s", created);
    } else { /* e.g. a merged document: its parts ran at different times */
        time_t now = time(NULL);
        strftime(buf, cap, "Reported %Y-%m-%dT%H:%M:%SZ (the document has no date)", gmtime(&now));
    }
}

static void describe_setting(const tb_report *rep, tb_rout *o)
{
    const tb_results *r = rep->r;
    char text[2048], when[96];
    when_text(r->doc, when, sizeof when);
    json_t *build = json_object_get(r->machines[0].json, "build");
    if (r->nmachines == 1) {
        json_t *cpu = json_object_get(r->machines[0].json, "cpu");
        snprintf(text, sizeof text, "%s on %s (%s, %lld logical CPUs, %.1f GiB), kernels %s, "
                 "ternbench %s (git %s).", when, r->machines[0].cpu, r->machines[0].arch,
                 (long long)json_integer_value(json_object_get(cpu, "logical_cpus")),
                 (double)json_integer_value(json_object_get(cpu, "memory_bytes")) / (1u << 30),
                 r->machines[0].isa, tb_json_str(build, "version"), tb_json_str(build, "git_commit"));
    } else {
        snprintf(text, sizeof text, "%s, %d machines (see Machines below).", when, r->nmachines);
    }
    tb_rout_para(o, text);
}

/* "2.37x", or "2.37x-3.88x" */
static void span(double lo, double hi, char *buf, size_t cap)
{
    if (fabs(hi - lo) < 0.005)
        snprintf(buf, cap, "%.2fx", lo);
    else
        snprintf(buf, cap, "%.2fx-%.2fx", lo, hi);
}

/* The answer for one machine, in words. */
static void answer_machine(const tb_report *rep, tb_rout *o, const line *lines, int n, int m)
{
    const tb_rmachine *mach = &rep->r->machines[m];
    double lo = INFINITY, hi = 0, plo = INFINITY, phi = 0, slo = INFINITY, shi = 0;
    int verdicts[5] = {0}; /* above, below, matches, inconclusive, none */
    const char *fmt = NULL, *strongest = NULL, *first = NULL, *last = NULL;
    int sizes = 0, empty = 0;
    for (int i = 0; i < n; i++) {
        const line *l = &lines[i];
        if (l->machine != m || !l->headline)
            continue;
        double pub = tb_published_speedup(mach, tb_claim_find(l->size));
        if (l->headline->npairs == 0) { /* nothing kept: a verdict of "busy", no figure */
            empty++;
            verdicts[3] += pub > 0;
            continue;
        }
        sizes++;
        first = first ? first : l->size;
        last = l->size;
        fmt = fmt ? fmt : l->headline->a->format;
        double e = l->headline->speedup.estimate;
        lo = fmin(lo, e);
        hi = fmax(hi, e);
        if (pub > 0) {
            plo = fmin(plo, pub);
            phi = fmax(phi, pub);
        }
        char v[200];
        tb_verdict(l->headline, pub, v, sizeof v);
        verdicts[!strncmp(v, "above", 5) ? 0 : !strncmp(v, "below", 5) ? 1 : !strncmp(v, "matches", 7) ? 2
                 : !strncmp(v, "inconclusive", 12) ? 3 : 4]++;
        if (l->strongest) {
            strongest = strongest ? strongest : l->strongest->b->format;
            slo = fmin(slo, l->strongest->speedup.estimate);
            shi = fmax(shi, l->strongest->speedup.estimate);
        }
    }
    char text[2048];
    int w = 0;
    if (rep->r->nmachines > 1)
        w += snprintf(text + w, sizeof text - w, "%s: ", mach->label);
    if (!sizes) {
        snprintf(text + w, sizeof text - w, "%s", empty
                 ? "no speedup could be measured: the machine was busy in every repetition (see the "
                   "runs below); run again on a quiet machine."
                 : "no ternary model was measured beside an f16 twin, so there is no speedup to set "
                   "beside the published one.");
        tb_rout_para(o, text);
        return;
    }
    w += snprintf(text + w, sizeof text - w, "Decoding (%s, %d thread%s), ternary (%s) ran ",
                  rep->view[m].test, rep->view[m].threads, rep->view[m].threads == 1 ? "" : "s", fmt);
    char range[64];
    span(lo, hi, range, sizeof range);
    if (sizes == 1)
        w += snprintf(text + w, sizeof text - w, "%s as fast as f16 at %s", range, first);
    else
        w += snprintf(text + w, sizeof text - w, "%s as fast as f16 across %s-%s", range, first, last);
    if (phi > 0) {
        span(plo, phi, range, sizeof range);
        w += snprintf(text + w, sizeof text - w, " (bitnet.cpp published %s on %s for the same "
                      "sizes): %d above, %d matching, %d below, %d inconclusive.", range,
                      tb_published_where(mach), verdicts[0], verdicts[2], verdicts[1], verdicts[3]);
    } else {
        w += snprintf(text + w, sizeof text - w, "; no published figure exists for these sizes.");
    }
    if (strongest) {
        span(slo, shi, range, sizeof range);
        snprintf(text + w, sizeof text - w, " Against the strongest llama.cpp-style baseline here "
                 "(%s), ternary decoded %s as fast.", strongest, range);
    }
    tb_rout_md(o, "**");
    tb_rout_html(o, "<p class=\"answer\">");
    tb_rout_md(o, "%s", text);
    tb_rout_html_text(o, text);
    tb_rout_md(o, "**\n\n");
    tb_rout_html(o, "</p>\n");
}

static bool any_claim(const line *lines, int n)
{
    for (int i = 0; i < n; i++)
        if (lines[i].claim)
            return true;
    return false;
}

/* "3.91x [3.80, 4.02] i2_s" and its verdict against pub. */
static void measured_cells(const tb_rcomp *c, double pub, char *meas, size_t mcap, char *v, size_t vcap)
{
    if (!c) {
        snprintf(meas, mcap, "-");
        snprintf(v, vcap, "-");
        return;
    }
    tb_ratio_text(&c->speedup, meas, mcap);
    size_t k = strlen(meas);
    snprintf(meas + k, mcap - k, " %s", c->a->format);
    tb_verdict(c, pub, v, vcap);
}

static void answer_table(const tb_report *rep, tb_rout *o, const line *lines, int n)
{
    bool several = rep->r->nmachines > 1, peers = any_claim(lines, n);
    enum { COLS = 10 };
    const char *h[COLS];
    char align[COLS + 1];
    int nc = 0;
#define COL(text, a) (h[nc] = (text), align[nc++] = (a))
    if (several)
        COL("machine", 'l');
    COL("size", 'l');
    COL("published", 'r');
    if (peers) {
        COL("measured: bitnet.cpp's ternary over llama.cpp's f16 [95% CI]", 'l');
        COL("verdict", 'l');
    }
    COL(peers ? "ternbench: ternary over f16 [95% CI]" : "measured: ternary over f16 [95% CI]", 'l');
    COL("verdict", 'l');
    COL(peers ? "ternbench's ternary over the strongest baseline (any engine)"
              : "strongest baseline: ternary over it", 'l');
    COL("with a quantised lm_head", 'l');
#undef COL
    align[nc] = '\0';
    tb_rout_table(o, nc, h, align);
    for (int i = 0; i < n; i++) {
        const line *l = &lines[i];
        if (!l->headline && !l->claim)
            continue;
        const tb_rmachine *m = &rep->r->machines[l->machine];
        double pub = tb_published_speedup(m, tb_claim_find(l->size));
        char p[64] = "-", meas[96], v[200], cmeas[96], cv[200], s[200] = "-", q[160] = "-";
        if (pub > 0)
            snprintf(p, sizeof p, "%.2fx (%s)", pub, arm(m) ? "ARM" : "x86");
        measured_cells(l->headline, pub, meas, sizeof meas, v, sizeof v);
        measured_cells(l->claim, pub, cmeas, sizeof cmeas, cv, sizeof cv);
        if (l->strongest) {
            char t[96];
            tb_ratio_text(&l->strongest->speedup, t, sizeof t);
            snprintf(s, sizeof s, "%s%s%s: %s", l->strongest->b->peer[0] ? l->strongest->b->peer : "",
                     l->strongest->b->peer[0] ? " " : "", l->strongest->b->format, t);
        }
        if (l->practical) {
            char t[96];
            tb_ratio_text(&l->practical->speedup, t, sizeof t);
            snprintf(q, sizeof q, "%s + %s lm_head: %s", l->practical->a->format, l->practical->a->embd, t);
        }
        const char *cells[COLS];
        int k = 0;
        if (several)
            cells[k++] = m->label;
        cells[k++] = l->size;
        cells[k++] = p;
        if (peers) {
            cells[k++] = cmeas;
            cells[k++] = cv;
        }
        cells[k++] = meas;
        cells[k++] = v;
        cells[k++] = s;
        cells[k++] = q;
        tb_rout_row(o, k, cells);
    }
    tb_rout_table_end(o);
    tb_rout_para(o, "Published: bitnet.cpp over llama.cpp f16 on dummy models, read off its charts "
                    "(x86: Intel i7-13700H, ARM: Apple M2 Ultra). Measured: the same ratio here, "
                    "ternbench's ternary kernels over its f16 kernels in the same forward pass, both "
                    "with an F16 lm_head (like for like), the geometric mean of paired repetitions "
                    "with a 95 % t interval. A verdict needs the interval to clear the published "
                    "figure (above, below) or to lie within ±10 % of it (matches); otherwise it is "
                    "inconclusive. \"With a quantised lm_head\" is the practical best: the same ternary "
                    "weights with the tied embedding quantised, over the same f16 baseline.");
    if (peers)
        tb_rout_para(o, "With peers, the claim itself is measured too: the peers' own llama-bench "
                        "runs on the same GGUF files, one invocation per repetition interleaved with "
                        "ternbench's, the ternary peer's run over the other peer's f16 run.");
}

static void flagged(const tb_report *rep, tb_rout *o)
{
    const tb_results *r = rep->r;
    int shown = 0, redone = 0, short_ci = 0;
    double level = 1;
    for (int i = 0; i < r->nruns; i++) {
        const tb_rrun *x = &r->runs[i];
        json_t *taint = json_object_get(x->json, "taint");
        redone += (int)json_integer_value(json_object_get(taint, "redone"));
        if (x->tps_summary.has_ci && x->tps_summary.ci_level < TB_CI_TARGET) {
            short_ci++;
            level = fmin(level, x->tps_summary.ci_level);
        }
        if (!x->tainted && !(r->version == 1 && x->lost_share > 0.05))
            continue;
        char text[600];
        snprintf(text, sizeof text, "%s%s%s %s at %d threads: %s %.0f %% of a repetition's time%s",
                 r->nmachines > 1 ? r->machines[x->machine].label : "", r->nmachines > 1 ? ": " : "",
                 x->model, x->test, x->threads,
                 !strcmp(x->lost_kind, "steal") ? "the hypervisor took" : "other processes took",
                 100 * x->lost_share,
                 x->tainted ? ", and its retries ran out: tainted, no verdict drawn from it"
                            : " (measured before repetitions were redone): its figures may be the "
                              "machine's, not the code's");
        tb_rout_item(o, text);
        shown++;
    }
    if (redone) {
        char text[300];
        snprintf(text, sizeof text, "%d repetition%s lost more than the allowed share of %s time to "
                 "the hypervisor or to other processes and %s redone; the disturbed tries are in the "
                 "document (attempts), not in any figure.", redone, redone == 1 ? "" : "s",
                 redone == 1 ? "its" : "their", redone == 1 ? "was" : "were");
        tb_rout_item(o, text);
        shown++;
    }
    if (short_ci) {
        char text[300];
        snprintf(text, sizeof text, "%d run%s had too few repetitions for a 95 %% interval of the "
                 "median tokens/s: theirs cover %.1f %% (shown beside them); -r 6 or more reaches "
                 "95 %%.", short_ci, short_ci == 1 ? "" : "s", 100 * level);
        tb_rout_item(o, text);
        shown++;
    }
    if (!shown)
        tb_rout_para(o, "None: no repetition lost more than the allowed share of its time, and "
                        "every interval reached its 95 % coverage.");
    tb_rout_list_end(o);
}

static void embed_svg(tb_rout *o, const char *dir, const char *name, const char *alt)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.svg", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    tb_rout_md(o, "![%s](%s.png)\n\n", alt, name);
    tb_rout_html(o, "<figure role=\"img\" aria-label=\"%s\">\n", alt);
    char buf[8192];
    size_t n;
    bool body = false;
    while ((n = fread(buf, 1, sizeof buf - 1, f)) > 0) {
        buf[n] = '\0';
        char *p = buf;
        if (!body) { /* drop the XML prolog and DOCTYPE: inline <svg> only */
            char *s = strstr(buf, "<svg");
            if (!s)
                continue;
            p = s;
            body = true;
        }
        fputs(p, o->html);
    }
    tb_rout_html(o, "</figure>\n");
    fclose(f);
}

static void charts(const tb_report *rep, tb_rout *o, const tb_plots *p)
{
    if (p->gnuplot == -1) {
        tb_rout_para(o, "gnuplot could not render the charts (its messages are in plots.log); the "
                        "data (.dat) and the script (plots.gp) are in this directory.");
        return;
    }
    if (p->gnuplot == -2) {
        tb_rout_para(o, "gnuplot is not installed: the data (.dat) and the script (plots.gp) are in "
                        "this directory; `gnuplot plots.gp` there renders them (apt-get install "
                        "gnuplot-nox).");
        return;
    }
    embed_svg(o, rep->dir, "speedup", "ternary speedup over f16 against model size, beside the "
                                      "published x86 and ARM curves");
    if (p->tokens)
        embed_svg(o, rep->dir, "tokens", "tokens per second per format against model size");
    if (p->roofline)
        embed_svg(o, rep->dir, "roofline", "decode bandwidth as a fraction of the read roofline");
    if (p->threads)
        embed_svg(o, rep->dir, "threads", "tokens per second against threads");
    else
        tb_rout_para(o, "One thread count was measured: `--threads 1,2` (or more) adds the "
                        "tokens/s-against-threads chart.");
    if (p->energy)
        embed_svg(o, rep->dir, "energy", "joules per token against tokens per second, measured or "
                                         "bitnet.cpp's proxy, beside the published points");
}

static void not_measured(const tb_report *rep, tb_rout *o)
{
    const tb_results *r = rep->r;
    char text[1200];
    for (int m = 0; m < r->nmachines; m++) {
        const tb_rrun *first = NULL;
        for (int i = 0; i < r->nruns && !first; i++)
            if (r->runs[i].machine == m && !r->runs[i].peer[0])
                first = &r->runs[i];
        if (!first)
            continue;
        json_t *hw = json_object_get(json_object_get(first->json, "counters"), "hardware");
        const char *prefix = r->nmachines > 1 ? r->machines[m].label : "";
        snprintf(text, sizeof text, "%s%sHardware counters: %s.", prefix, prefix[0] ? ": " : "",
                 json_is_true(json_object_get(hw, "available"))
                     ? "counted per run over the pool's threads (instructions, cycles, LLC and branch "
                       "misses: counters.hardware in the document)"
                     : json_is_object(hw) ? tb_json_str(hw, "reason") : "not recorded");
        tb_rout_item(o, text);
        const char *thp = tb_json_str(json_object_get(r->machines[m].json, "cpu"), "thp");
        if (!strcmp(thp, "never")) {
            snprintf(text, sizeof text, "%s%sTransparent huge pages are off (THP `never`): weights, KV "
                     "cache and the bandwidth probe sit in 4 KiB pages, whose TLB misses slowed "
                     "decoding 8-12 %% on the development machine; `echo madvise > "
                     "/sys/kernel/mm/transparent_hugepage/enabled` (as root) lets ternbench ask for "
                     "huge pages.", prefix, prefix[0] ? ": " : "");
            tb_rout_item(o, text);
        }
    }
    bool all_f16 = true;
    for (int i = 0; i < r->nruns; i++)
        all_f16 = all_f16 && !strcmp(r->runs[i].embd, "f16");
    snprintf(text, sizeof text, "The published figures come from other machines, read off charts: "
             "compare speedups (ratios measured in one run), not tokens/s. The baselines are "
             "ternbench's own kernels over the same forward pass; peers (bitnet.cpp, llama.cpp) "
             "appear only where `--peer` ran them. %s",
             all_f16 ? "Every model's tied lm_head is F16, as in the official BitNet-b1.58-2B-4T."
                     : "Models differ in their lm_head's format (column lm_head): the headline "
                       "compares F16 with F16 only.");
    tb_rout_item(o, text);
    tb_rout_list_end(o);
}

int tb_report_write(json_t *doc, const char *dir, tb_error *err)
{
    tb_results r;
    int rc = tb_results_read(doc, &r, err);
    if (rc != TB_OK)
        return rc;
    if (r.nruns == 0) {
        tb_results_free(&r);
        return tb_error_set(err, TB_EINVAL, "the document has no runs to report");
    }
    tb_mview *view = calloc((size_t)r.nmachines, sizeof *view);
    line *lines = calloc((size_t)r.ncomps + 1, sizeof *lines);
    tb_rout o = {0};
    /* written beside, renamed over when whole: never a half-written report */
    char md_tmp[4096], html_tmp[4096], path[4200];
    snprintf(md_tmp, sizeof md_tmp, "%s/.report.md.tmp", dir);
    snprintf(html_tmp, sizeof html_tmp, "%s/.report.html.tmp", dir);
    o.md = fopen(md_tmp, "w");
    o.html = o.md ? fopen(html_tmp, "w") : NULL;
    snprintf(path, sizeof path, "%s", o.md ? html_tmp : md_tmp);
    if (!view || !lines || !o.md || !o.html) {
        rc = !view || !lines ? tb_error_set(err, TB_ENOMEM, "out of memory")
                             : tb_error_set(err, TB_EIO, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    choose_views(&r, view);
    tb_report rep = {&r, view, dir};
    tb_plots plots;
    if ((rc = tb_plots_write(&rep, &plots, err)) != TB_OK)
        goto out;
    int n = summary_lines(&rep, lines, r.ncomps + 1);

    page_head(&o);
    tb_rout_heading(&o, 1, "top", "ternbench: ternary against fp16, int8 and int4 on this machine");
    describe_setting(&rep, &o);
    for (int m = 0; m < r.nmachines; m++)
        answer_machine(&rep, &o, lines, n, m);
    answer_table(&rep, &o, lines, n);
    tb_report_engines(&rep, &o);
    tb_report_quality(&rep, &o);
    tb_rout_heading(&o, 2, "flagged", "Runs the machine disturbed");
    flagged(&rep, &o);
    tb_rout_heading(&o, 2, "charts", "Charts");
    charts(&rep, &o, &plots);
    tb_rout_heading(&o, 2, "details", "Details");
    tb_report_speedups(&rep, &o);
    tb_report_tokens(&rep, &o);
    tb_report_energy(&rep, &o);
    tb_report_machines(&rep, &o);
    tb_rout_details(&o, "What was not measured, and why");
    not_measured(&rep, &o);
    tb_rout_details_end(&o);
    tb_rout_html(&o, "</body></html>\n");
out:
    if (o.md && fclose(o.md) != 0 && rc == TB_OK)
        rc = tb_error_set(err, TB_EIO, "writing the report in %s", dir);
    if (o.html && fclose(o.html) != 0 && rc == TB_OK)
        rc = tb_error_set(err, TB_EIO, "writing the report in %s", dir);
    static const char *const finals[2] = {"report.md", "report.html"};
    const char *tmps[2] = {md_tmp, html_tmp};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, finals[i]);
        if (rc == TB_OK && rename(tmps[i], path) != 0)
            rc = tb_error_set(err, TB_EIO, "cannot write %s: %s", path, strerror(errno));
        if (rc != TB_OK)
            unlink(tmps[i]);
    }
    free(view);
    free(lines);
    tb_results_free(&r);
    return rc;
}
