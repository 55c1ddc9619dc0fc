/*
 * plots.c - the report's charts: gnuplot data (.dat), a script (plots.gp)
 * and, when gnuplot is installed, the .png and .svg it renders.
 *
 * A series is one machine's format (with its lm_head when that is not F16):
 * one curve per machine and format, so a fleet's machines sit side by side
 * with the published x86 and ARM curves. Colours are the Okabe-Ito palette,
 * told apart under every common colour-vision deficiency, and every series
 * also has its own point shape.
 */
#include "report_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

enum { MAX_SERIES = 64, MAX_POINTS = 64 };

typedef struct point {
    double x, y, lo, hi;
} point;

typedef struct series {
    char title[200];
    point p[MAX_POINTS];
    int n;
} series;

typedef struct chart {
    series s[MAX_SERIES];
    int n;
} chart;

static const char *const palette[8] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                       "#E69F00", "#56B4E9", "#000000", "#F0E442"};

static FILE *open_in(const char *dir, const char *name, tb_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        tb_error_set(err, TB_EIO, "cannot write %s: %s", path, strerror(errno));
    return f;
}

/* The series of chart c titled for run's machine and format, made when new. */
static series *series_for(chart *c, const tb_report *rep, const tb_rrun *run)
{
    char title[200];
    const char *label = rep->r->machines[run->machine].label;
    char fmt[96];
    if (strcmp(run->embd, "f16"))
        snprintf(fmt, sizeof fmt, "%s (%s lm_head)", run->format, run->embd);
    else
        snprintf(fmt, sizeof fmt, "%s", run->peer[0] ? run->model : run->format);
    if (rep->r->nmachines > 1)
        snprintf(title, sizeof title, "%s: %s", label, fmt);
    else
        snprintf(title, sizeof title, "%s", fmt);
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->s[i].title, title))
            return &c->s[i];
    if (c->n == MAX_SERIES)
        return NULL;
    series *s = &c->s[c->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->title, sizeof s->title, "%s", title);
    return s;
}

static void add(series *s, double x, double y, double lo, double hi)
{
    if (s && s->n < MAX_POINTS && isfinite(x) && isfinite(y))
        s->p[s->n++] = (point){x, y, lo, hi};
}

static int by_x(const void *a, const void *b)
{
    double x = ((const point *)a)->x, y = ((const point *)b)->x;
    return (x > y) - (x < y);
}

/* Writes a chart's series as gnuplot data blocks, one index each; returns how
 * many points in all. */
static int write_dat(FILE *f, const char *what, chart *c)
{
    int total = 0;
    fprintf(f, "# %s (one index per series: x y lo hi)\n", what);
    for (int i = 0; i < c->n; i++) {
        series *s = &c->s[i];
        qsort(s->p, (size_t)s->n, sizeof s->p[0], by_x);
        fprintf(f, "# %s\n", s->title);
        for (int k = 0; k < s->n; k++)
            fprintf(f, "%g %g %g %g\n", s->p[k].x, s->p[k].y, s->p[k].lo, s->p[k].hi);
        fprintf(f, "\n\n");
        total += s->n;
    }
    return total;
}

/* "'file' index i using 1:2 with linespoints ls k title '...'" for each series. */
static void plot_series(FILE *gp, const char *file, const chart *c, const char *style, bool first)
{
    for (int i = 0; i < c->n; i++) {
        if (!c->s[i].n)
            continue;
        char title[200];
        size_t k = 0;
        for (const char *p = c->s[i].title; *p && k < sizeof title - 2; p++)
            if (*p != '\'')
                title[k++] = *p;
        title[k] = '\0';
        fprintf(gp, "%s'%s' index %d %s ls %d title '%s'", first ? "plot " : ", ", file, i, style,
                i % 8 + 1, title);
        first = false;
    }
}

/* ---- gathering the points ---- */

static bool in_view(const tb_report *rep, const tb_rrun *run)
{
    const tb_mview *v = &rep->view[run->machine];
    return run->threads == v->threads && !strcmp(run->test, v->test) && run->params > 0;
}

static void gather(const tb_report *rep, chart *tokens, chart *roof, chart *speed, chart *threads,
                   chart *energy, chart *proxy)
{
    const tb_results *r = rep->r;
    for (int i = 0; i < r->nruns; i++) {
        const tb_rrun *run = &r->runs[i];
        double b = run->params / 1e9;
        if (run->n == 0) /* nothing kept (a tainted run): no point */
            continue;
        if (in_view(rep, run)) {
            add(series_for(tokens, rep, run), b, run->tps_summary.median, 0, 0);
            json_t *rf = json_object_get(run->json, "roofline_fraction");
            if (json_is_object(rf) && !run->batched)
                add(series_for(roof, rep, run), b, json_number_value(json_object_get(rf, "median")), 0, 0);
            if (run->has_energy)
                add(series_for(energy, rep, run), run->tps_summary.median, tb_median(run->jpt, run->n), 0, 0);
            else if (run->has_cpu && run->tokens > 0) {
                /* bitnet.cpp's proxy: 200 W x CPU time / CPUs, per token */
                double cpus = json_number_value(json_object_get(
                    json_object_get(r->machines[run->machine].json, "cpu"), "logical_cpus"));
                if (cpus > 0)
                    add(series_for(proxy, rep, run), run->tps_summary.median,
                        200 * tb_median(run->cpu_s, run->n) / cpus / run->tokens, 0, 0);
            }
        }
        /* tokens/s against threads: the largest model of each machine */
        if (!strcmp(run->test, rep->view[run->machine].test) && !run->peer[0])
            add(series_for(threads, rep, run), run->threads, run->tps_summary.median, b, 0);
    }
    for (int i = 0; i < threads->n; i++) { /* keep each series' largest model only */
        series *s = &threads->s[i];
        double big = 0;
        for (int k = 0; k < s->n; k++)
            big = fmax(big, s->p[k].lo);
        int kept = 0;
        for (int k = 0; k < s->n; k++)
            if (s->p[k].lo == big)
                s->p[kept++] = (point){s->p[k].x, s->p[k].y, s->p[k].y, s->p[k].y};
        s->n = kept;
    }
    for (int i = 0; i < r->ncomps; i++) {
        const tb_rcomp *c = &r->comps[i];
        if (!in_view(rep, c->a) || strcmp(c->b->format, "f16") || strcmp(c->b->embd, "f16") ||
            !tb_fmt_ternary(c->a->format) || c->npairs == 0)
            continue;
        const tb_ratio *q = &c->speedup;
        add(series_for(speed, rep, c->a), c->a->params / 1e9, q->estimate, q->has_ci ? q->lo : q->estimate,
            q->has_ci ? q->hi : q->estimate);
    }
}

static void write_published(const char *dir, tb_error *err, bool *ok)
{
    FILE *f = open_in(dir, "published.dat", err);
    *ok = f != NULL;
    if (!f)
        return;
    fprintf(f, "# params_billion x86_speedup arm_speedup (bitnet.cpp, read off its charts)\n");
    for (int i = 0; i < tb_claim_count; i++) {
        const tb_claim *c = &tb_claims[i];
        fprintf(f, "%g ", c->params_b);
        fprintf(f, c->x86_speedup > 0 ? "%g " : "NaN ", c->x86_speedup);
        fprintf(f, c->arm_speedup > 0 ? "%g\n" : "NaN\n", c->arm_speedup);
    }
    fprintf(f, "\n\n# published energy points: tokens/s J/token (700M fp16 and ternary; i7-13700H, "
               "then M2 Ultra)\n");
    fprintf(f, "30.73 1.367\n119.08 0.384\n\n\n114.47 0.314\n194.38 0.140\n");
    fclose(f);
}

/* 0: rendered; -1: gnuplot failed (its messages are in plots.log); -2: no gnuplot. */
static int run_gnuplot(const char *dir, const char *script)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, dir);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
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

static void write_script(FILE *gp, const tb_report *rep, const chart *sp, const chart *tp,
                         const chart *rf, const chart *th, const chart *en, const chart *px,
                         const tb_plots *p)
{
    fprintf(gp, "# ternbench plots: `gnuplot plots.gp` in this directory writes the .png and .svg\n"
                "set key outside right\nset grid\nset termoption noenhanced\n");
    for (int i = 0; i < 8; i++) /* Okabe-Ito colours, a point shape and dash each */
        fprintf(gp, "set style line %d lc rgb '%s' lw 2 pt %d ps 1.2 dt %d\n", i + 1, palette[i],
                (i % 6) + 4, i / 6 + 1);
    fprintf(gp, "set style line 20 lc rgb '#000000' lw 2 dt 2 pt 1\n"
                "set style line 21 lc rgb '#777777' lw 2 dt 3 pt 2\n");
    /* noenhanced: i2_s is a name, not i2 with a subscript s */
    static const char *const terms[2][2] = {{"pngcairo noenhanced size 900,540 font ',10'", "png"},
                                            {"svg noenhanced size 900,540 dynamic font 'sans,10'", "svg"}};
    const char *test = rep->r->nmachines ? rep->view[0].test : "tg";
    for (int t = 0; t < 2; t++) {
        fprintf(gp, "\nset terminal %s\nset logscale x\nset xlabel 'parameters (billions)'\n", terms[t][0]);
        fprintf(gp, "set output 'speedup.%s'\nset ylabel 'ternary speedup over f16 (%s)'\n"
                    "unset logscale y\nset yrange [0:*]\n"
                    "plot 'published.dat' index 0 using 1:2 with linespoints ls 20 title 'published x86 "
                    "(i7-13700H)', 'published.dat' index 0 using 1:3 with linespoints ls 21 title "
                    "'published ARM (M2 Ultra)'", terms[t][1], test);
        plot_series(gp, "speedup.dat", sp, "using 1:2:3:4 with yerrorlines", false);
        if (p->tokens) {
            fprintf(gp, "\nset output 'tokens.%s'\nset ylabel 'tokens/s (%s)'\nset logscale y\n"
                        "set autoscale y\n", terms[t][1], test);
            plot_series(gp, "tokens.dat", tp, "using 1:2 with linespoints", true);
        }
        if (p->roofline) {
            fprintf(gp, "\nset output 'roofline.%s'\nset ylabel 'fraction of the read roofline (%s)'\n"
                        "unset logscale y\nset yrange [0:1.1]\n", terms[t][1], test);
            plot_series(gp, "roofline.dat", rf, "using 1:2 with linespoints", true);
        }
        if (p->threads) {
            fprintf(gp, "\nset output 'threads.%s'\nunset logscale x\nset xtics 1\nset xlabel 'threads'\n"
                        "set ylabel 'tokens/s (%s, the largest model)'\nunset logscale y\nset autoscale y\n",
                    terms[t][1], test);
            plot_series(gp, "threads.dat", th, "using 1:2 with linespoints", true);
            fprintf(gp, "\nset xtics autofreq\n");
        }
        if (p->energy) {
            fprintf(gp, "\nset output 'energy.%s'\nset logscale x\nset logscale y\nset autoscale y\n"
                        "set xlabel 'tokens/s (%s)'\nset ylabel 'joules per token'\n"
                        "plot 'published.dat' index 1 using 1:2 with linespoints ls 20 title 'published "
                        "i7-13700H 700M (f16, ternary)', 'published.dat' index 2 using 1:2 with "
                        "linespoints ls 21 title 'published M2 Ultra 700M (f16, ternary)'",
                    terms[t][1], test);
            plot_series(gp, "energy.dat", en, "using 1:2 with points", false);
            plot_series(gp, "proxy.dat", px, "using 1:2 with points", false);
        }
        fprintf(gp, "\nunset logscale y\n");
    }
}

int tb_plots_write(const tb_report *rep, tb_plots *p, tb_error *err)
{
    memset(p, 0, sizeof *p);
    p->gnuplot = -2;
    chart *c = calloc(6, sizeof *c);
    if (!c)
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    chart *tp = &c[0], *rf = &c[1], *sp = &c[2], *th = &c[3], *en = &c[4], *px = &c[5];
    gather(rep, tp, rf, sp, th, en, px);
    bool ok;
    write_published(rep->dir, err, &ok);
    static const char *const names[6] = {"tokens.dat", "roofline.dat", "speedup.dat", "threads.dat",
                                         "energy.dat", "proxy.dat"};
    static const char *const what[6] = {"tokens/s per series: params", "fraction of the read roofline: params",
                                        "ternary speedup over f16: params estimate lo hi",
                                        "tokens/s against threads: threads",
                                        "measured joules per token: tokens/s J/token",
                                        "bitnet.cpp's proxy (200 W x utilisation), not a measurement: "
                                        "tokens/s J/token"};
    int points[6] = {0};
    for (int i = 0; i < 6 && ok; i++) {
        FILE *f = open_in(rep->dir, names[i], err);
        if (!(ok = f != NULL))
            break;
        points[i] = write_dat(f, what[i], &c[i]);
        fclose(f);
    }
    bool several_threads = false;
    for (int i = 0; i < th->n; i++)
        several_threads |= th->s[i].n > 1;
    p->tokens = points[0] > 0;
    p->roofline = points[1] > 0;
    p->speedup = points[2] > 0;
    p->threads = several_threads;
    p->energy = points[4] + points[5] > 0;
    FILE *gp = ok ? open_in(rep->dir, "plots.gp", err) : NULL;
    if (gp) {
        write_script(gp, rep, sp, tp, rf, th, en, px, p);
        fclose(gp);
        p->gnuplot = run_gnuplot(rep->dir, "plots.gp");
    }
    free(c);
    return gp ? TB_OK : err->code;
}
