/* report.c - the reproduction report; see report.h. */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "claims.h"

extern char **environ;

/* ---- reading the document ---- */

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

json_t *tb_result_find_run(json_t *runs, const char *model, const char *test, json_int_t threads)
{
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
        if (!strcmp(tb_json_str(r, "model"), model) && !strcmp(tb_json_str(r, "test"), test) &&
            json_integer_value(json_object_get(r, "threads")) == threads)
            return r;
    return NULL;
}

static double num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

/* "dummy:700M:i2_s" -> "700M"; a file's name stays whole. */
static void size_of(const char *model, char *out, size_t cap)
{
    if (!strncmp(model, "dummy:", 6)) {
        const char *p = model + 6, *c = strchr(p, ':');
        snprintf(out, cap, "%.*s", (int)(c ? c - p : (long)strlen(p)), p);
    } else {
        snprintf(out, cap, "%s", model);
    }
}

static bool is_ternary(const char *fmt)
{
    return !strcmp(fmt, "i2_s") || !strcmp(fmt, "tq2_0") || !strcmp(fmt, "tq1_0") ||
           !strcmp(fmt, "tl2");
}

/* ---- writing markdown and HTML side by side ---- */

typedef struct out {
    FILE *md, *html;
} out;

static void md(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void md(out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(o->md, fmt, ap);
    va_end(ap);
}

static void html(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void html(out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(o->html, fmt, ap);
    va_end(ap);
}

static void heading(out *o, int level, const char *text)
{
    md(o, "\n%.*s %s\n\n", level, "######", text);
    html(o, "<h%d>%s</h%d>\n", level, text, level);
}

static void para(out *o, const char *text)
{
    md(o, "%s\n\n", text);
    html(o, "<p>%s</p>\n", text);
}

static void row(out *o, int n, const char *const *cells, bool header)
{
    md(o, "|");
    for (int i = 0; i < n; i++)
        md(o, " %s |", cells[i]);
    md(o, "\n");
    if (header) {
        md(o, "|");
        for (int i = 0; i < n; i++)
            md(o, " --- |");
        md(o, "\n");
        html(o, "<table>\n<tr>");
        for (int i = 0; i < n; i++)
            html(o, "<th>%s</th>", cells[i]);
        html(o, "</tr>\n");
    } else {
        html(o, "<tr>");
        for (int i = 0; i < n; i++)
            html(o, "<td>%s</td>", cells[i]);
        html(o, "</tr>\n");
    }
}

static void end_table(out *o)
{
    md(o, "\n");
    html(o, "</table>\n");
}

static void fmt_ci(json_t *s, char *buf, size_t cap)
{
    json_t *ci = json_object_get(s, "ci95");
    if (json_is_array(ci))
        snprintf(buf, cap, "%.2f [%.2f, %.2f]", num(s, "median"),
                 json_number_value(json_array_get(ci, 0)), json_number_value(json_array_get(ci, 1)));
    else
        snprintf(buf, cap, "%.2f", num(s, "median"));
}

/* Where a measured ratio with its interval falls against a published one. */
static const char *verdict(json_t *s, double published)
{
    if (published <= 0)
        return "no published figure";
    json_t *ci = json_object_get(s, "ci95");
    double lo = num(s, "median"), hi = lo;
    if (json_is_array(ci)) {
        lo = json_number_value(json_array_get(ci, 0));
        hi = json_number_value(json_array_get(ci, 1));
    }
    return hi < published ? "below" : lo > published ? "above" : "matches (within the interval)";
}

/* ---- plots ---- */

/* 0: rendered; -1: gnuplot failed (its messages are in plots.log); -2: no gnuplot. */
static int run_gnuplot(const char *dir, const char *script)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, dir);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "plots.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char *argv[] = {"gnuplot", (char *)script, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -2; /* not installed */
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static FILE *open_in(const char *dir, const char *name, tb_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        tb_error_set(err, TB_EIO, "cannot write %s: %s", path, strerror(errno));
    return f;
}

#define MAX_FMTS 16
#define MAX_SIZES 32

typedef struct table {
    char fmts[MAX_FMTS][16];
    int nf;
    char sizes[MAX_SIZES][32];
    double params[MAX_SIZES];
    int ns;
    int threads[8];            /* thread counts measured, ascending */
    int nt;
    json_int_t main_threads;   /* the largest: the tables and plots use it */
} table;

static int index_of(char (*list)[16], int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i], s))
            return i;
    return -1;
}

static void collect(json_t *runs, table *t)
{
    size_t i;
    json_t *r;
    memset(t, 0, sizeof *t);
    json_array_foreach(runs, i, r) {
        const char *f = tb_json_str(r, "format");
        if (index_of(t->fmts, t->nf, f) < 0 && t->nf < MAX_FMTS)
            snprintf(t->fmts[t->nf++], 16, "%s", f);
        int th = (int)json_integer_value(json_object_get(r, "threads"));
        bool seen = false;
        for (int j = 0; j < t->nt; j++)
            seen |= t->threads[j] == th;
        if (!seen && t->nt < 8) {
            int j = t->nt++;
            for (; j > 0 && t->threads[j - 1] > th; j--)
                t->threads[j] = t->threads[j - 1];
            t->threads[j] = th;
        }
        char size[32];
        size_of(tb_json_str(r, "model"), size, sizeof size);
        int k = -1;
        for (int j = 0; j < t->ns; j++)
            if (!strcmp(t->sizes[j], size))
                k = j;
        if (k < 0 && t->ns < MAX_SIZES) {
            snprintf(t->sizes[t->ns], 32, "%s", size);
            t->params[t->ns++] = num(r, "params") / 1e9;
        }
    }
    t->main_threads = t->nt ? t->threads[t->nt - 1] : 0;
    /* sizes in order of parameters (insertion sort: a handful) */
    for (int a = 1; a < t->ns; a++)
        for (int b = a; b > 0 && t->params[b] < t->params[b - 1]; b--) {
            char tmp[32];
            double p = t->params[b];
            memcpy(tmp, t->sizes[b], 32);
            memcpy(t->sizes[b], t->sizes[b - 1], 32);
            memcpy(t->sizes[b - 1], tmp, 32);
            t->params[b] = t->params[b - 1];
            t->params[b - 1] = p;
        }
}

static json_t *find_comp(json_t *comps, const char *size, const char *fmt, const char *base,
                         const char *test, json_int_t threads)
{
    size_t i;
    json_t *c;
    json_array_foreach(comps, i, c) {
        char s[32];
        size_of(tb_json_str(c, "model"), s, sizeof s);
        if (!strcmp(s, size) && !strcmp(tb_json_str(c, "format"), fmt) &&
            !strcmp(tb_json_str(c, "baseline_format"), base) &&
            !strcmp(tb_json_str(c, "test"), test) &&
            json_integer_value(json_object_get(c, "threads")) == threads)
            return c;
    }
    return NULL;
}

/* "plot 'file' index i ..., ..." for the series that have points. */
static void plot_series(FILE *gp, const char *file, const table *t, const int *count)
{
    bool first = true;
    fprintf(gp, "plot ");
    for (int fi = 0; fi < t->nf; fi++)
        if (count[fi]) {
            fprintf(gp, "%s'%s' index %d using 1:2 with linespoints lw 2 title '%s'",
                    first ? "" : ", ", file, fi, t->fmts[fi]);
            first = false;
        }
}

static int write_plots(json_t *runs, json_t *comps, const table *t, const char *test,
                       const char *dir, int *gnuplot, bool *have_energy, tb_error *err)
{
    /* published curves: numbers, or NaN where nothing was published */
    FILE *f = open_in(dir, "published.dat", err);
    if (!f)
        return TB_EIO;
    fprintf(f, "# params_billion x86_speedup arm_speedup (bitnet.cpp, read off its charts)\n");
    for (int i = 0; i < tb_claim_count; i++) {
        fprintf(f, "%g ", tb_claims[i].params_b);
        if (tb_claims[i].x86_speedup > 0)
            fprintf(f, "%g ", tb_claims[i].x86_speedup);
        else
            fprintf(f, "NaN ");
        if (tb_claims[i].arm_speedup > 0)
            fprintf(f, "%g\n", tb_claims[i].arm_speedup);
        else
            fprintf(f, "NaN\n");
    }
    fclose(f);

    FILE *sp = open_in(dir, "speedup.dat", err), *tp = open_in(dir, "tokens.dat", err),
         *rf = open_in(dir, "roofline.dat", err);
    if (!sp || !tp || !rf) {
        if (sp) fclose(sp);
        if (tp) fclose(tp);
        if (rf) fclose(rf);
        return TB_EIO;
    }
    /* points per series, so that the script plots only series with data
     * (gnuplot refuses a plot whose every series is empty) */
    int n_sp[MAX_FMTS] = {0}, n_tp[MAX_FMTS] = {0}, n_rf[MAX_FMTS] = {0}, n_th[MAX_FMTS] = {0},
        n_en[MAX_FMTS] = {0};
    fprintf(sp, "# %s: speedup over f16 per ternary format (index per format): params median lo hi\n", test);
    fprintf(tp, "# %s: tokens/s per format (index per format): params median\n", test);
    fprintf(rf, "# %s: fraction of the triad roofline per format: params median\n", test);
    for (int fi = 0; fi < t->nf; fi++) {
        fprintf(sp, "# %s\n", t->fmts[fi]);
        fprintf(tp, "# %s\n", t->fmts[fi]);
        fprintf(rf, "# %s\n", t->fmts[fi]);
        for (int si = 0; si < t->ns; si++) {
            char model[96];
            snprintf(model, sizeof model, "dummy:%s:%s", t->sizes[si], t->fmts[fi]);
            json_t *r = tb_result_find_run(runs, model, test, t->main_threads);
            if (r) {
                json_t *tps = json_object_get(r, "tokens_per_s"), *roof = json_object_get(r, "roofline_fraction");
                fprintf(tp, "%g %g\n", t->params[si], num(tps, "median"));
                n_tp[fi]++;
                if (json_is_object(roof))
                {
                    fprintf(rf, "%g %g\n", t->params[si], num(roof, "median"));
                    n_rf[fi]++;
                }
            }
            json_t *c = is_ternary(t->fmts[fi]) ? find_comp(comps, t->sizes[si], t->fmts[fi], "f16", test,
                                                            t->main_threads) : NULL;
            if (c) {
                json_t *s = json_object_get(c, "speedup"), *ci = json_object_get(s, "ci95");
                double m = num(s, "median");
                n_sp[fi]++;
                fprintf(sp, "%g %g %g %g\n", t->params[si], m,
                        json_is_array(ci) ? json_number_value(json_array_get(ci, 0)) : m,
                        json_is_array(ci) ? json_number_value(json_array_get(ci, 1)) : m);
            }
        }
        fprintf(sp, "\n\n");
        fprintf(tp, "\n\n");
        fprintf(rf, "\n\n");
    }
    fclose(sp);
    fclose(tp);
    fclose(rf);

    /* tokens/s against threads, for the largest size, when several counts ran */
    if (t->nt > 1) {
        FILE *th = open_in(dir, "threads.dat", err);
        if (!th)
            return TB_EIO;
        fprintf(th, "# %s, %s: tokens/s per format (index per format): threads median\n",
                t->sizes[t->ns - 1], test);
        for (int fi = 0; fi < t->nf; fi++) {
            fprintf(th, "# %s\n", t->fmts[fi]);
            char model[96];
            snprintf(model, sizeof model, "dummy:%s:%s", t->sizes[t->ns - 1], t->fmts[fi]);
            for (int k = 0; k < t->nt; k++) {
                json_t *r = tb_result_find_run(runs, model, test, t->threads[k]);
                if (r) {
                    fprintf(th, "%d %g\n", t->threads[k], num(json_object_get(r, "tokens_per_s"), "median"));
                    n_th[fi]++;
                }
            }
            fprintf(th, "\n\n");
        }
        fclose(th);
    }
    /* joules per token per format, when a meter measured them */
    bool energy = false;
    FILE *en = open_in(dir, "energy.dat", err);
    if (!en)
        return TB_EIO;
    fprintf(en, "# %s: joules per token per format (index per format): params median\n", test);
    for (int fi = 0; fi < t->nf; fi++) {
        fprintf(en, "# %s\n", t->fmts[fi]);
        for (int si = 0; si < t->ns; si++) {
            char model[96];
            snprintf(model, sizeof model, "dummy:%s:%s", t->sizes[si], t->fmts[fi]);
            json_t *r = tb_result_find_run(runs, model, test, t->main_threads);
            json_t *e = r ? json_object_get(json_object_get(r, "energy"), "joules_per_token") : NULL;
            if (json_is_object(e)) {
                fprintf(en, "%g %g\n", t->params[si], num(e, "median"));
                n_en[fi]++;
                energy = true;
            }
        }
        fprintf(en, "\n\n");
    }
    fclose(en);

    FILE *gp = open_in(dir, "plots.gp", err);
    if (!gp)
        return TB_EIO;
    int any_tp = 0, any_rf = 0, any_th = 0;
    for (int fi = 0; fi < t->nf; fi++) {
        any_tp += n_tp[fi];
        any_rf += n_rf[fi];
        any_th += n_th[fi];
    }
    fprintf(gp, "# ternbench plots: `gnuplot plots.gp` in this directory writes the .png and .svg\n"
                "set key outside right\nset grid\nset logscale x\nset xlabel 'parameters (billions)'\n");
    static const char *const terms[2][2] = {{"pngcairo size 900,540", "png"}, {"svg size 900,540", "svg"}};
    for (int tr = 0; tr < 2; tr++) {
        fprintf(gp, "set terminal %s\nset termoption noenhanced\n", terms[tr][0]); /* i2_s, not i2 subscript s */
        fprintf(gp, "set output 'speedup.%s'\nset ylabel 'speedup over f16 (%s)'\nunset logscale y\n"
                    "plot 'published.dat' using 1:2 with linespoints lw 2 title 'published x86 (i7-13700H)', "
                    "'published.dat' using 1:3 with linespoints lw 2 title 'published ARM (M2 Ultra)'",
                terms[tr][1], test);
        for (int fi = 0; fi < t->nf; fi++)
            if (n_sp[fi])
                fprintf(gp, ", 'speedup.dat' index %d using 1:2:3:4 with yerrorlines lw 2 title 'measured %s'",
                        fi, t->fmts[fi]);
        if (any_tp) {
            fprintf(gp, "\nset output 'tokens.%s'\nset ylabel 'tokens/s (%s)'\nset logscale y\n",
                    terms[tr][1], test);
            plot_series(gp, "tokens.dat", t, n_tp);
        }
        if (any_rf) {
            fprintf(gp, "\nset output 'roofline.%s'\nset ylabel 'fraction of the triad roofline (%s)'\n"
                        "unset logscale y\nset yrange [0:*]\n", terms[tr][1], test);
            plot_series(gp, "roofline.dat", t, n_rf);
        }
        fprintf(gp, "\nunset logscale y\nset autoscale y\n");
        if (t->nt > 1 && any_th) {
            fprintf(gp, "unset logscale x\nset xtics 1\nset xlabel 'threads'\nset output 'threads.%s'\n"
                        "set ylabel 'tokens/s (%s, %s)'\n", terms[tr][1], t->sizes[t->ns - 1], test);
            plot_series(gp, "threads.dat", t, n_th);
            fprintf(gp, "\nset xtics autofreq\nset logscale x\nset xlabel 'parameters (billions)'\n");
        }
        if (energy) {
            fprintf(gp, "set output 'energy.%s'\nset ylabel 'joules per token (%s)'\nset logscale y\n",
                    terms[tr][1], test);
            plot_series(gp, "energy.dat", t, n_en);
            fprintf(gp, "\nunset logscale y\n");
        }
    }
    fclose(gp);
    *gnuplot = run_gnuplot(dir, "plots.gp");
    *have_energy = energy;
    return TB_OK;
}

static void embed_svg(out *o, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
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
    fclose(f);
}

/* ---- the report ---- */

int tb_report_write(json_t *doc, const char *dir, tb_error *err)
{
    json_t *runs = json_object_get(doc, "runs"), *comps = json_object_get(doc, "comparisons");
    json_t *mach = json_object_get(doc, "machine");
    if (!json_is_array(runs) || !json_is_array(comps) || json_array_size(runs) == 0)
        return tb_error_set(err, TB_EINVAL, "the document has no runs to report");
    table t;
    collect(runs, &t);
    char tests[8][32];
    int ntests = 0;
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r) {
        bool seen = false;
        for (int k = 0; k < ntests; k++)
            seen |= !strcmp(tests[k], tb_json_str(r, "test"));
        if (!seen && ntests < 8)
            snprintf(tests[ntests++], 32, "%s", tb_json_str(r, "test"));
    }

    out o = {open_in(dir, "report.md", err), open_in(dir, "report.html", err)};
    if (!o.md || !o.html) {
        if (o.md) fclose(o.md);
        if (o.html) fclose(o.html);
        return TB_EIO;
    }
    json_t *cpu = json_object_get(mach, "cpu"), *build = json_object_get(mach, "build");
    char line[2048], when[96];
    const char *created = json_string_value(json_object_get(doc, "created"));
    if (created) {
        snprintf(when, sizeof when, "Measured %s", created);
    } else { /* e.g. a merged document: its parts ran at different times */
        time_t now = time(NULL);
        strftime(when, sizeof when, "Reported %Y-%m-%dT%H:%M:%SZ (the document has no date)",
                 gmtime(&now));
    }
    html(&o, "<!doctype html><html><head><meta charset='utf-8'><title>ternbench report</title>"
             "<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:"
             "collapse}td,th{border:1px solid #999;padding:2px 8px;text-align:right}"
             "svg{max-width:100%%;height:auto}</style></head><body>\n");
    heading(&o, 1, "ternbench: ternary vs fp16/int8/int4 on this machine");
    snprintf(line, sizeof line,
             "%s on %s (%s, %lld logical CPUs, %.1f GiB), kernels %s, "
             "ternbench %s (git %s). Decoding (tg) feeds one token at a time from an empty cache, "
             "as bitnet.cpp's published benchmark did; every model got the same seeded tokens and "
             "the repetitions were interleaved.",
             when, tb_json_str(cpu, "model"), tb_json_str(cpu, "arch"),
             (long long)json_integer_value(json_object_get(cpu, "logical_cpus")),
             (double)json_integer_value(json_object_get(cpu, "memory_bytes")) / (1u << 30),
             tb_json_str(json_object_get(mach, "isa"), "selected"), tb_json_str(build, "version"),
             tb_json_str(build, "git_commit"));
    para(&o, line);

    for (int k = 0; k < ntests; k++) {
        /* bitnet.cpp published one token at a time (decode, and prompts at batch 1) */
        bool comparable = tests[k][0] == 't' || strstr(tests[k], "@b1");
        snprintf(line, sizeof line, "Speedup over f16, %s, %lld threads, %s", tests[k],
                 (long long)t.main_threads, comparable ? "beside the published figures"
                            : "a batched prompt (nothing comparable was published)");
        heading(&o, 2, line);
        const char *h[] = {"size", "format", "t/s ternary", "t/s f16", "speedup [95% CI]",
                           "published x86", "published ARM", "vs x86 figure", "x86 band 2.37-6.17x"};
        row(&o, 9, h, true);
        for (int si = 0; si < t.ns; si++)
            for (int fi = 0; fi < t.nf; fi++) {
                json_t *c = is_ternary(t.fmts[fi]) ? find_comp(comps, t.sizes[si], t.fmts[fi], "f16",
                                                               tests[k], t.main_threads) : NULL;
                if (!c)
                    continue;
                json_t *s = json_object_get(c, "speedup");
                json_t *ra =
                    tb_result_find_run(runs, tb_json_str(c, "model"), tests[k], t.main_threads);
                json_t *rb = tb_result_find_run(runs, tb_json_str(c, "baseline_model"), tests[k],
                                                t.main_threads);
                const tb_claim *cl = tb_claim_find(t.sizes[si]);
                char a[64], b[64], sp[64], px[32] = "-", pa[32] = "-", band[32];
                snprintf(a, sizeof a, "%.2f", num(json_object_get(ra, "tokens_per_s"), "median"));
                snprintf(b, sizeof b, "%.2f", num(json_object_get(rb, "tokens_per_s"), "median"));
                fmt_ci(s, sp, sizeof sp);
                if (comparable && cl && cl->x86_speedup > 0)
                    snprintf(px, sizeof px, "%.2fx", cl->x86_speedup);
                if (comparable && cl && cl->arm_speedup > 0)
                    snprintf(pa, sizeof pa, "%.2fx", cl->arm_speedup);
                double m = num(s, "median");
                snprintf(band, sizeof band, "%s", !comparable ? "-"
                                                  : m < TB_CLAIM_X86_SPEEDUP_MIN ? "below"
                                                  : m > TB_CLAIM_X86_SPEEDUP_MAX ? "above" : "inside");
                const char *cells[] = {t.sizes[si], t.fmts[fi], a, b, sp, px, pa,
                                       comparable ? verdict(s, cl ? cl->x86_speedup : 0) : "-", band};
                row(&o, 9, cells, false);
            }
        end_table(&o);
    }

    heading(&o, 2, "Against llama.cpp-style quantisation");
    para(&o, "The same ternary models against q8_0 and q4_0 twins (llama.cpp's layouts, run by "
             "ternbench's kernels). No published figure exists for these pairs.");
    {
        const char *h[] = {"test", "size", "ternary", "baseline", "speedup [95% CI]"};
        row(&o, 5, h, true);
        json_t *c;
        json_array_foreach(comps, i, c) {
            const char *bf = tb_json_str(c, "baseline_format");
            if (!strcmp(bf, "f16"))
                continue;
            char size[32], sp[64];
            size_of(tb_json_str(c, "model"), size, sizeof size);
            fmt_ci(json_object_get(c, "speedup"), sp, sizeof sp);
            const char *cells[] = {tb_json_str(c, "test"), size, tb_json_str(c, "format"), bf, sp};
            row(&o, 5, cells, false);
        }
        end_table(&o);
    }

    heading(&o, 2, "Tokens per second");
    {
        const char *h[] = {"test", "size", "format", "MB/token", "t/s [95% CI]", "roofline"};
        row(&o, 6, h, true);
        json_array_foreach(runs, i, r) {
            char size[32], mb[32], tps[64], roof[32] = "- (compute-bound)";
            size_of(tb_json_str(r, "model"), size, sizeof size);
            snprintf(mb, sizeof mb, "%.1f", num(r, "weight_bytes") / 1e6);
            fmt_ci(json_object_get(r, "tokens_per_s"), tps, sizeof tps);
            json_t *rf = json_object_get(r, "roofline_fraction");
            if (json_is_object(rf))
                snprintf(roof, sizeof roof, "%.0f%%", 100 * num(rf, "median"));
            const char *cells[] = {tb_json_str(r, "test"), size, tb_json_str(r, "format"), mb,
                                   tps, roof};
            row(&o, 6, cells, false);
        }
        end_table(&o);
    }

    heading(&o, 2, "Energy");
    json_t *first = json_array_get(runs, 0);
    if (json_is_object(json_object_get(first, "energy"))) {
        const char *h[] = {"test", "size", "format", "J/token [95% CI]", "meter"};
        row(&o, 5, h, true);
        json_array_foreach(runs, i, r) {
            char size[32], j[64];
            size_of(tb_json_str(r, "model"), size, sizeof size);
            json_t *e = json_object_get(r, "energy");
            fmt_ci(json_object_get(e, "joules_per_token"), j, sizeof j);
            const char *cells[] = {tb_json_str(r, "test"), size, tb_json_str(r, "format"), j,
                                   tb_json_str(e, "meter")};
            row(&o, 5, cells, false);
        }
        end_table(&o);
        /* each pair's reduction beside the published ones (700M and 70B were published) */
        const char *h2[] = {"test", "size", "ternary", "baseline", "energy saved [95% CI]",
                            "published x86", "published ARM", "x86 band 71.9-82.2%"};
        row(&o, 8, h2, true);
        json_t *c;
        json_array_foreach(comps, i, c) {
            json_t *er = json_object_get(c, "energy_reduction");
            if (!json_is_object(er))
                continue;
            char size[32], v[96], band[16];
            size_of(tb_json_str(c, "model"), size, sizeof size);
            json_t *ci = json_object_get(er, "ci95");
            double m = num(er, "median");
            if (json_is_array(ci))
                snprintf(v, sizeof v, "%.1f%% [%.1f%%, %.1f%%]", 100 * m,
                         100 * json_number_value(json_array_get(ci, 0)),
                         100 * json_number_value(json_array_get(ci, 1)));
            else
                snprintf(v, sizeof v, "%.1f%%", 100 * m);
            bool f16 = !strcmp(tb_json_str(c, "baseline_format"), "f16");
            const char *px = f16 && !strcmp(size, "700M") ? "71.9%" : "-";
            const char *pa = f16 && !strcmp(size, "700M") ? "55.4%" : f16 && !strcmp(size, "70B") ? "70.0%" : "-";
            snprintf(band, sizeof band, "%s", !f16 ? "-" : m < TB_CLAIM_X86_ENERGY_MIN ? "below"
                                              : m > TB_CLAIM_X86_ENERGY_MAX ? "above" : "inside");
            const char *cells[] = {tb_json_str(c, "test"), size, tb_json_str(c, "format"),
                                   tb_json_str(c, "baseline_format"), v, px, pa, band};
            row(&o, 8, cells, false);
        }
        end_table(&o);
        para(&o, "Published: 55.4-70.0 % less energy on ARM, 71.9-82.2 % on x86 against fp16 "
                 "(bitnet.cpp's method is not published; its own power script multiplies CPU "
                 "utilisation by a fixed 200 W). The figures above are measured by the named "
                 "meter over each run, idle power included.");
    } else {
        snprintf(line, sizeof line,
                 "<b>Not measured.</b> %s Energy rows are omitted, not estimated. "
                 "On a machine with RAPL or an INA219 the same command measures them (README).",
                 tb_json_str(first, "energy_unavailable"));
        para(&o, line);
    }

    heading(&o, 2, "Plots");
    bool energy_plot = false;
    int gnuplot = -2;
    int prc = write_plots(runs, comps, &t, ntests ? tests[0] : "tg", dir, &gnuplot, &energy_plot, err);
    bool png = gnuplot == 0;
    if (prc != TB_OK) {
        fclose(o.md);
        fclose(o.html);
        return prc;
    }
    if (png) {
        md(&o, "![speedup](speedup.png)\n\n![tokens/s](tokens.png)\n\n![roofline](roofline.png)\n\n");
        embed_svg(&o, dir, "speedup.svg");
        embed_svg(&o, dir, "tokens.svg");
        embed_svg(&o, dir, "roofline.svg");
        if (t.nt > 1) {
            md(&o, "![tokens/s vs threads](threads.png)\n\n");
            embed_svg(&o, dir, "threads.svg");
        } else {
            para(&o, "One thread count was measured: `--threads 1,2` (or more) adds the "
                     "tokens/s-against-threads plot.");
        }
        if (energy_plot) {
            md(&o, "![joules per token](energy.png)\n\n");
            embed_svg(&o, dir, "energy.svg");
        } else {
            para(&o, "No joules-per-token plot: no energy was measured (see Energy).");
        }
    } else if (gnuplot == -1) {
        para(&o, "gnuplot could not render the plots (its messages are in plots.log); the data "
                 "(.dat) and the script (plots.gp) are in this directory.");
    } else {
        para(&o, "gnuplot is not installed: the data (.dat) and the script (plots.gp) are in this "
                 "directory; `gnuplot plots.gp` there renders them (apt-get install gnuplot-nox).");
    }

    heading(&o, 2, "What was not measured, and why");
    json_t *hw = json_object_get(json_object_get(first, "counters"), "hardware");
    snprintf(line, sizeof line, "Hardware counters: %s.",
             json_is_true(json_object_get(hw, "available"))
                 ? "available but not yet counted per run"
                 : tb_json_str(hw, "reason"));
    para(&o, line);
    const char *thp = json_string_value(json_object_get(json_object_get(mach, "cpu"), "thp"));
    if (thp && strcmp(thp, "never") == 0)
        para(&o, "Transparent huge pages are off on this machine (THP `never`): weights, KV cache "
                 "and the bandwidth probe sit in 4 KiB pages, whose TLB misses slowed decoding "
                 "8-12 % on the development machine. `echo madvise > "
                 "/sys/kernel/mm/transparent_hugepage/enabled` (as root) lets ternbench ask for "
                 "huge pages where it streams memory.");
    para(&o, "The published figures come from other machines (Apple M2 Ultra, Intel i7-13700H), "
             "read off charts: compare speedups (ratios measured in one run), not tokens/s. "
             "The baselines are ternbench's own kernels; README lists how fast they are beside "
             "llama.cpp and bitnet.cpp on the development machines. Every model's tied lm_head "
             "is F16, as in the official BitNet-b1.58-2B-4T.");
    html(&o, "</body></html>\n");
    int rc = (fclose(o.md) == 0 && fclose(o.html) == 0)
                 ? TB_OK : tb_error_set(err, TB_EIO, "writing the report in %s", dir);
    return rc;
}

/* ---- validation ---- */

static int expect(json_t *v, bool ok, const char *path, const char *what, tb_error *err)
{
    (void)v;
    return ok ? TB_OK : tb_error_set(err, TB_EINVAL, "%s: expected %s", path, what);
}

static int check_summary(json_t *s, const char *path, tb_error *err)
{
    char p[256];
    int rc = expect(s, json_is_object(s), path, "an object {median, ci95, samples, ...}", err);
    if (rc == TB_OK) {
        snprintf(p, sizeof p, "%s.median", path);
        rc = expect(s, json_is_number(json_object_get(s, "median")), p, "a number", err);
    }
    if (rc == TB_OK) {
        json_t *ci = json_object_get(s, "ci95");
        snprintf(p, sizeof p, "%s.ci95", path);
        rc = expect(ci, json_is_null(ci) || (json_is_array(ci) && json_array_size(ci) == 2 &&
                                             json_is_number(json_array_get(ci, 0)) &&
                                             json_is_number(json_array_get(ci, 1))),
                    p, "null or [lo, hi]", err);
    }
    return rc;
}

int tb_result_validate(json_t *doc, tb_error *err)
{
    if (!json_is_object(doc))
        return tb_error_set(err, TB_EINVAL, "(document): expected an object");
    const char *schema = json_string_value(json_object_get(doc, "schema"));
    if (!schema || strcmp(schema, "ternbench.result/1"))
        return tb_error_set(err, TB_EINVAL, "schema: expected \"ternbench.result/1\", found %s%s%s",
                            schema ? "\"" : "", schema ? schema : "none", schema ? "\"" : "");
    int rc = expect(NULL, json_is_object(json_object_get(doc, "machine")), "machine", "an object", err);
    json_t *created = json_object_get(doc, "created");
    if (rc == TB_OK && created)
        rc = expect(NULL, json_is_string(created), "created", "a string (ISO 8601 UTC)", err);
    json_t *runs = json_object_get(doc, "runs"), *comps = json_object_get(doc, "comparisons");
    if (rc == TB_OK)
        rc = expect(runs, json_is_array(runs), "runs", "an array", err);
    if (rc == TB_OK)
        rc = expect(comps, json_is_array(comps), "comparisons", "an array", err);
    size_t i;
    json_t *r;
    char p[256];
    json_array_foreach(runs, i, r) {
        if (rc != TB_OK)
            break;
        snprintf(p, sizeof p, "runs[%zu]", i);
        rc = expect(r, json_is_object(r), p, "an object", err);
        static const char *const strs[] = {"model", "format", "test"};
        for (size_t k = 0; rc == TB_OK && k < 3; k++) {
            snprintf(p, sizeof p, "runs[%zu].%s", i, strs[k]);
            rc = expect(r, json_is_string(json_object_get(r, strs[k])), p, "a string", err);
        }
        if (rc == TB_OK) {
            snprintf(p, sizeof p, "runs[%zu].threads", i);
            rc = expect(r, json_is_integer(json_object_get(r, "threads")), p, "an integer", err);
        }
        if (rc == TB_OK) {
            snprintf(p, sizeof p, "runs[%zu].tokens_per_s", i);
            rc = check_summary(json_object_get(r, "tokens_per_s"), p, err);
        }
        if (rc == TB_OK && !json_object_get(r, "energy") && !json_object_get(r, "energy_unavailable")) {
            snprintf(p, sizeof p, "runs[%zu]", i);
            rc = tb_error_set(err, TB_EINVAL, "%s: expected energy or energy_unavailable", p);
        }
    }
    json_array_foreach(comps, i, r) {
        if (rc != TB_OK)
            break;
        static const char *const strs[] = {"test", "format", "baseline_format", "model", "baseline_model"};
        for (size_t k = 0; rc == TB_OK && k < 5; k++) {
            snprintf(p, sizeof p, "comparisons[%zu].%s", i, strs[k]);
            rc = expect(r, json_is_string(json_object_get(r, strs[k])), p, "a string", err);
        }
        if (rc == TB_OK) {
            snprintf(p, sizeof p, "comparisons[%zu].speedup", i);
            rc = check_summary(json_object_get(r, "speedup"), p, err);
        }
    }
    return rc;
}
