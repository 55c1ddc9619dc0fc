/* history.c - change points in a series of documents; see history.h. */
#include "history.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "results.h"

extern char **environ;

enum { PERMUTATIONS = 199, MAX_METRICS = 512, MAX_CHANGES = 16 };

/* ---- E-divisive means ---- */

/* The energy statistic of splitting x[0..n) at tau (alpha = 1):
 * m k / (m + k) x (2 mean|a - b| - mean|a - a'| - mean|b - b'|). */
static double q_at(const double *x, int n, int tau)
{
    int m = tau, k = n - tau;
    double between = 0, left = 0, right = 0;
    for (int i = 0; i < m; i++)
        for (int j = m; j < n; j++)
            between += fabs(x[i] - x[j]);
    for (int i = 0; i < m; i++)
        for (int j = i + 1; j < m; j++)
            left += fabs(x[i] - x[j]);
    for (int i = m; i < n; i++)
        for (int j = i + 1; j < n; j++)
            right += fabs(x[i] - x[j]);
    double e = 2 * between / ((double)m * k) - (m > 1 ? left / (m * (m - 1) / 2.0) : 0) -
               (k > 1 ? right / (k * (k - 1) / 2.0) : 0);
    return (double)m * k / (m + k) * e;
}

static double best_split(const double *x, int n, int min_size, int *at)
{
    double best = -INFINITY;
    *at = -1;
    for (int tau = min_size; tau <= n - min_size; tau++) {
        double q = q_at(x, n, tau);
        if (q > best) {
            best = q;
            *at = tau;
        }
    }
    return best;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double mean(const double *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    return n ? s / n : 0;
}

/* Splits x[lo, hi) where significant, then each side. */
static void split(const double *x, int lo, int hi, double alpha, int min_size, tb_change *out,
                  int cap, int *found)
{
    int n = hi - lo, at;
    if (n < 2 * min_size || *found >= cap)
        return;
    double q = best_split(x + lo, n, min_size, &at);
    if (at < 0)
        return;
    double perm[TB_HISTORY_MAX];
    uint64_t s = 0x9e3779b97f4a7c15ull ^ (uint64_t)(lo * 7919 + hi);
    int as_large = 0, dummy;
    for (int r = 0; r < PERMUTATIONS; r++) {
        memcpy(perm, x + lo, (size_t)n * sizeof *perm);
        for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
            int j = (int)(next_rand(&s) % (uint64_t)(i + 1));
            double t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        as_large += best_split(perm, n, min_size, &dummy) >= q;
    }
    double p = (as_large + 1.0) / (PERMUTATIONS + 1.0);
    if (p >= alpha)
        return;
    split(x, lo, lo + at, alpha, min_size, out, cap, found);
    if (*found < cap) {
        out[*found] = (tb_change){lo + at, p, mean(x + lo, at), mean(x + lo + at, n - at)};
        (*found)++;
    }
    split(x, lo + at, hi, alpha, min_size, out, cap, found);
}

int tb_history_changes(const double *x, int n, double alpha, int min_size, tb_change *out, int cap)
{
    int found = 0;
    if (n > TB_HISTORY_MAX)
        n = TB_HISTORY_MAX;
    split(x, 0, n, alpha, min_size < 1 ? 1 : min_size, out, cap, &found);
    /* in index order */
    for (int i = 1; i < found; i++)
        for (int j = i; j > 0 && out[j].at < out[j - 1].at; j--) {
            tb_change t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return found;
}

/* ---- over documents ---- */

typedef struct metric {
    char name[400];
    double v[TB_HISTORY_MAX];  /* per document; NAN where it has none */
} metric;

typedef struct series_set {
    metric *m;
    int n, ndocs;
} series_set;

static metric *metric_for(series_set *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->m[i].name, name))
            return &s->m[i];
    if (s->n == MAX_METRICS)
        return NULL;
    metric *m = &s->m[s->n++];
    snprintf(m->name, sizeof m->name, "%s", name);
    for (int d = 0; d < TB_HISTORY_MAX; d++)
        m->v[d] = NAN;
    return m;
}

static void put(series_set *s, int doc, const char *name, double v)
{
    metric *m = metric_for(s, name);
    if (m && isfinite(v) && v > 0)
        m->v[doc] = v;
}

static void gather(const tb_results *r, int doc, series_set *s)
{
    char name[400];
    for (int i = 0; i < r->ncomps; i++) {
        const tb_rcomp *c = &r->comps[i];
        snprintf(name, sizeof name, "speedup %s over %s, %s, batch %d, %d threads [%s]", c->a->model,
                 c->b->model, c->a->test, c->a->batch, c->a->threads, r->machines[c->machine].label);
        if (!c->tainted)
            put(s, doc, name, c->speedup.estimate);
    }
    for (int i = 0; i < r->nruns; i++) {
        const tb_rrun *x = &r->runs[i];
        json_t *cg = json_object_get(json_object_get(json_object_get(x->json, "counters"), "callgrind"),
                                     "instructions_per_token");
        if (json_is_object(cg)) {
            snprintf(name, sizeof name, "instructions/token %s, %s [%s, callgrind]", x->model, x->test,
                     r->machines[x->machine].label);
            put(s, doc, name, json_number_value(json_object_get(cg, "median")));
        }
        snprintf(name, sizeof name, "tokens/s %s, %s, batch %d, %d threads [%s]", x->model, x->test,
                 x->batch, x->threads, r->machines[x->machine].label);
        if (!x->tainted && x->n > 0)
            put(s, doc, name, x->tps_summary.median);
    }
}

/* The document's name for people: its date and commit, else its file name. */
static void doc_label(json_t *doc, const char *file, char *buf, size_t cap)
{
    const char *created = tb_json_str(doc, "created");
    const char *commit = tb_json_str(json_object_get(json_object_get(doc, "machine"), "build"),
                                     "git_commit");
    if (created[0])
        snprintf(buf, cap, "%s (%s)", created, commit[0] ? commit : file);
    else
        snprintf(buf, cap, "%s", file);
}

static int write_chart(const char *dir, const series_set *s, const bool *shown, tb_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/history.dat", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return tb_error_set(err, TB_EIO, "cannot write %s: %s", path, strerror(errno));
    fprintf(f, "# each metric with a change point, over its median (index per metric): document value\n");
    int k = 0;
    for (int i = 0; i < s->n; i++) {
        if (!shown[i])
            continue;
        double vals[TB_HISTORY_MAX];
        int n = 0;
        for (int d = 0; d < s->ndocs; d++)
            if (isfinite(s->m[i].v[d]))
                vals[n++] = s->m[i].v[d];
        double med = tb_median(vals, n);
        fprintf(f, "# %s\n", s->m[i].name);
        for (int d = 0; d < s->ndocs; d++)
            if (isfinite(s->m[i].v[d]))
                fprintf(f, "%d %g\n", d + 1, s->m[i].v[d] / med);
        fprintf(f, "\n\n");
        k++;
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/history.gp", dir);
    FILE *gp = fopen(path, "w");
    if (!gp)
        return tb_error_set(err, TB_EIO, "cannot write %s: %s", path, strerror(errno));
    fprintf(gp, "# `gnuplot history.gp` in this directory writes history.png and history.svg\n"
                "set key outside below\nset grid\nset termoption noenhanced\n"
                "set xlabel 'document (oldest first)'\nset ylabel 'value / its median'\n");
    static const char *const terms[2][2] = {{"pngcairo size 900,600", "png"}, {"svg size 900,600", "svg"}};
    for (int t = 0; t < 2 && k > 0; t++) {
        fprintf(gp, "set terminal %s\nset output 'history.%s'\nplot ", terms[t][0], terms[t][1]);
        int j = 0;
        for (int i = 0; i < s->n; i++) {
            if (!shown[i])
                continue;
            char title[400];
            size_t w = 0;
            for (const char *p = s->m[i].name; *p && w < sizeof title - 1; p++)
                if (*p != '\'')
                    title[w++] = *p;
            title[w] = '\0';
            fprintf(gp, "%s'history.dat' index %d using 1:2 with linespoints lw 2 title '%s'",
                    j ? ", " : "", j, title);
            j++;
        }
        fprintf(gp, "\n");
    }
    fclose(gp);
    if (k == 0)
        return TB_OK;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, dir);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = {"gnuplot", "history.gp", NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ) == 0)
        waitpid(pid, NULL, 0);
    posix_spawn_file_actions_destroy(&fa);
    return TB_OK;
}

int tb_history_report(json_t *const *docs, const char *const *names, int n, double alpha,
                      FILE *out, const char *dir, int *changes, tb_error *err)
{
    *changes = 0;
    if (n < 1 || n > TB_HISTORY_MAX)
        return tb_error_set(err, TB_EINVAL, "give 1 to %d documents", TB_HISTORY_MAX);
    series_set s = {calloc(MAX_METRICS, sizeof(metric)), 0, n};
    bool *shown = calloc(MAX_METRICS, sizeof *shown);
    if (!s.m || !shown) {
        free(s.m);
        free(shown);
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    }
    int rc = TB_OK;
    for (int d = 0; d < n && rc == TB_OK; d++) {
        tb_results r;
        if ((rc = tb_results_read(docs[d], &r, err)) != TB_OK) {
            tb_error_prefix(err, "%s", names[d]);
            break;
        }
        gather(&r, d, &s);
        tb_results_free(&r);
    }
    if (rc == TB_OK) {
        fprintf(out, "documents, oldest first:\n");
        for (int d = 0; d < n; d++) {
            char label[300];
            doc_label(docs[d], names[d], label, sizeof label);
            fprintf(out, "  %d  %s\n", d + 1, label);
        }
        fprintf(out, "\n| metric | documents | change points (after document: before -> after, p) |\n"
                     "| --- | ---: | --- |\n");
        int short_series = 0;
        for (int i = 0; i < s.n; i++) {
            double x[TB_HISTORY_MAX];
            int idx[TB_HISTORY_MAX], k = 0;
            for (int d = 0; d < n; d++)
                if (isfinite(s.m[i].v[d])) {
                    idx[k] = d;
                    x[k++] = s.m[i].v[d];
                }
            if (k < 4) {
                short_series++;
                continue;
            }
            tb_change ch[MAX_CHANGES];
            int nc = tb_history_changes(x, k, alpha, 2, ch, MAX_CHANGES);
            char text[2048] = "none";
            size_t w = 0;
            for (int c = 0; c < nc; c++) {
                int wrote = snprintf(text + w, sizeof text - w, "%s%d: %.4g -> %.4g (%+.1f%%, p = %.3f)",
                                     c ? "; " : "", idx[ch[c].at - 1] + 1, ch[c].before, ch[c].after,
                                     100 * (ch[c].after / ch[c].before - 1), ch[c].p);
                if (wrote > 0 && (size_t)wrote < sizeof text - w)
                    w += (size_t)wrote;
            }
            fprintf(out, "| %s | %d | %s |\n", s.m[i].name, k, text);
            shown[i] = nc > 0;
            *changes += nc;
        }
        fprintf(out, "\n%d change point%s (E-divisive means, %d permutations, alpha %.3g: a series "
                "without change is split wrongly with probability at most alpha at its first test)%s\n",
                *changes, *changes == 1 ? "" : "s", PERMUTATIONS, alpha,
                short_series ? "; metrics in fewer than 4 documents are not tested" : "");
        if (dir)
            rc = write_chart(dir, &s, shown, err);
    }
    free(s.m);
    free(shown);
    return rc;
}
