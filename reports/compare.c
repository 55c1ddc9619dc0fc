/* compare.c - see compare.h. */
#include "compare.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

enum { MAX_SAMPLES = 256, RESAMPLES = 2000 };

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof *x, cmp_d);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* median(b) / median(a) and a bootstrap 95 % interval; false without samples. */
static bool ratio_ci(const double *a, int na, const double *b, int nb, double *r, double *lo,
                     double *hi)
{
    if (na < 1 || nb < 1)
        return false;
    double ta[MAX_SAMPLES], tb[MAX_SAMPLES];
    memcpy(ta, a, (size_t)na * sizeof *a);
    memcpy(tb, b, (size_t)nb * sizeof *b);
    *r = median(tb, nb) / median(ta, na);
    static double rs[RESAMPLES];
    uint64_t s = 0x2545f4914f6cdd1dull;
    for (int k = 0; k < RESAMPLES; k++) {
        for (int i = 0; i < na; i++)
            ta[i] = a[next(&s) % (uint64_t)na];
        for (int i = 0; i < nb; i++)
            tb[i] = b[next(&s) % (uint64_t)nb];
        rs[k] = median(tb, nb) / median(ta, na);
    }
    qsort(rs, RESAMPLES, sizeof *rs, cmp_d);
    *lo = rs[(int)(0.025 * RESAMPLES)];
    *hi = rs[(int)(0.975 * RESAMPLES) - 1];
    return true;
}

/* A run's tokens/s, one per repetition. */
static int tps_samples(json_t *run, double *x)
{
    return tb_json_numbers(json_object_get(json_object_get(run, "tokens_per_s"), "samples"), x,
                           MAX_SAMPLES);
}

/* A run's instructions per token, one per repetition; none without a PMU. */
static int ipt_samples(json_t *run, double *x)
{
    json_t *hw = json_object_get(json_object_get(run, "counters"), "hardware");
    json_t *ipt = json_object_get(json_object_get(hw, "instructions_per_token"), "samples");
    return ipt ? tb_json_numbers(ipt, x, MAX_SAMPLES) : 0;
}

/* Per-repetition speedups of a comparison, from its two runs' samples. */
static int speedup_samples(json_t *doc, json_t *c, double *x)
{
    json_int_t th = json_integer_value(json_object_get(c, "threads"));
    json_t *runs = json_object_get(doc, "runs");
    const char *test = tb_json_str(c, "test");
    json_t *ra = tb_result_find_run(runs, tb_json_str(c, "model"), test, th);
    json_t *rb = tb_result_find_run(runs, tb_json_str(c, "baseline_model"), test, th);
    if (!ra || !rb)
        return 0;
    double a[MAX_SAMPLES], b[MAX_SAMPLES];
    int na = tps_samples(ra, a);
    int nb = tps_samples(rb, b);
    int n = na < nb ? na : nb;
    for (int i = 0; i < n; i++)
        x[i] = a[i] / b[i]; /* paired: the same repetition */
    return n;
}

static bool same_machine(json_t *a, json_t *b)
{
    json_t *ca = json_object_get(json_object_get(a, "machine"), "cpu");
    json_t *cb = json_object_get(json_object_get(b, "machine"), "cpu");
    return ca && cb && !strcmp(tb_json_str(ca, "model"), tb_json_str(cb, "model")) &&
           !strcmp(tb_json_str(ca, "hostname"), tb_json_str(cb, "hostname")) &&
           json_equal(json_object_get(ca, "logical_cpus"), json_object_get(cb, "logical_cpus")) &&
           json_equal(json_object_get(ca, "memory_bytes"), json_object_get(cb, "memory_bytes"));
}

static void judge(FILE *out, const char *what, const char *metric, double r, double lo, double hi,
                  double thr, tb_compare_summary *sum)
{
    const char *v;
    if (hi < 1.0 - thr) {
        v = "REGRESSION (the whole interval is below the threshold)";
        sum->regressions++;
    } else if (lo > 1.0 + thr) {
        v = "improvement";
        sum->improvements++;
    } else if (lo > 1.0 - thr) {
        v = "no regression beyond the threshold";
    } else {
        v = "no clear regression (the interval reaches above the threshold)";
    }
    fprintf(out, "| %s | %s | %+.1f%% | [%+.1f%%, %+.1f%%] | %s |\n", what, metric, 100 * (r - 1),
            100 * (lo - 1), 100 * (hi - 1), v);
    sum->compared++;
}

/* Judges a per-run metric for every run of cur with a twin in base (same
 * model, test and threads) whose samples() both give; a cost (fewer is
 * better: instructions) is compared base / new, and only between runs of the
 * same ISA. Returns how many runs were compared. */
static int judge_runs(FILE *out, json_t *base, json_t *cur, const char *metric,
                      int (*samples)(json_t *, double *), bool cost, double thr,
                      tb_compare_summary *sum)
{
    int compared = 0;
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(cur, "runs"), i, run) {
        json_t *br = tb_result_find_run(json_object_get(base, "runs"), tb_json_str(run, "model"),
                                        tb_json_str(run, "test"),
                                        json_integer_value(json_object_get(run, "threads")));
        if (!br || (cost && strcmp(tb_json_str(br, "isa"), tb_json_str(run, "isa"))))
            continue;
        double a[MAX_SAMPLES], b[MAX_SAMPLES], r, lo, hi;
        int na = samples(br, a), nb = samples(run, b);
        if (!(cost ? ratio_ci(b, nb, a, na, &r, &lo, &hi) : ratio_ci(a, na, b, nb, &r, &lo, &hi)))
            continue;
        char what[256];
        snprintf(what, sizeof what, "%s, %s, %lld threads", tb_json_str(run, "model"),
                 tb_json_str(run, "test"), (long long)json_integer_value(json_object_get(run, "threads")));
        judge(out, what, metric, r, lo, hi, thr, sum);
        compared++;
    }
    return compared;
}

/* Names, per kind, the run of doc that lost the largest share (above 5 %) of
 * its time to others in any repetition: the hypervisor's steal (over all the
 * machine's CPUs) or its threads' run-queue waits (over its threads), from
 * bench's counters. Timed figures of such a run say more about the machine
 * than about the code. */
static void note_lost_time(FILE *out, const char *which, json_t *doc)
{
    static const char *const keys[2] = {"steal_seconds", "runqueue_wait_seconds"};
    static const char *const how[2] = {"to the hypervisor (steal)", "waiting for a CPU"};
    for (int k = 0; k < 2; k++) {
        double worst = 0.05;
        char name[300] = "";
        size_t i;
        json_t *run;
        json_array_foreach(json_object_get(doc, "runs"), i, run) {
            json_t *machine = json_object_get(run, "machine"); /* merged documents */
            json_t *cpu = json_object_get(machine ? machine : json_object_get(doc, "machine"), "cpu");
            double tokens = json_number_value(json_object_get(run, "tokens"));
            double over = k == 0 ? json_number_value(json_object_get(cpu, "logical_cpus"))
                                 : json_number_value(json_object_get(run, "threads"));
            double tps[MAX_SAMPLES], lost[MAX_SAMPLES];
            json_t *l = json_object_get(json_object_get(json_object_get(run, "counters"), keys[k]),
                                        "samples");
            int n = tps_samples(run, tps), nl = l ? tb_json_numbers(l, lost, MAX_SAMPLES) : 0;
            for (int r = 0; r < n && r < nl && tokens > 0 && over > 0; r++) {
                double share = tps[r] > 0 ? lost[r] / (tokens / tps[r] * over) : 0;
                if (share > worst) {
                    worst = share;
                    snprintf(name, sizeof name, "%s, %s, %lld threads", tb_json_str(run, "model"),
                             tb_json_str(run, "test"),
                             (long long)json_integer_value(json_object_get(run, "threads")));
                }
            }
        }
        if (name[0])
            fprintf(out, "lost time in the %s document: %s lost %.0f %% of its time %s in a "
                    "repetition: a verdict on it may be the machine's, not the code's\n", which,
                    name, 100 * worst, how[k]);
    }
}

int tb_compare_docs(json_t *base, json_t *cur, double thr, bool ratios_only, FILE *out,
                    tb_compare_summary *sum, tb_error *err)
{
    memset(sum, 0, sizeof *sum);
    sum->same_machine = same_machine(base, cur);
    bool absolute = sum->same_machine && !ratios_only;
    fprintf(out, "| configuration | metric | change | 95%% CI | verdict (threshold %.0f%%) |\n"
                 "| --- | --- | ---: | --- | --- |\n", 100 * thr);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(cur, "comparisons"), i, c) {
        size_t j;
        json_t *bc, *match = NULL;
        json_array_foreach(json_object_get(base, "comparisons"), j, bc)
            if (!strcmp(tb_json_str(bc, "model"), tb_json_str(c, "model")) &&
                !strcmp(tb_json_str(bc, "baseline_model"), tb_json_str(c, "baseline_model")) &&
                !strcmp(tb_json_str(bc, "test"), tb_json_str(c, "test")) &&
                json_equal(json_object_get(bc, "threads"), json_object_get(c, "threads")))
                match = bc;
        if (!match)
            continue;
        double a[MAX_SAMPLES], b[MAX_SAMPLES], r, lo, hi;
        int na = speedup_samples(base, match, a), nb = speedup_samples(cur, c, b);
        if (!ratio_ci(a, na, b, nb, &r, &lo, &hi))
            continue;
        char what[256];
        snprintf(what, sizeof what, "%s over %s, %s, %lld threads", tb_json_str(c, "model"),
                 tb_json_str(c, "baseline_model"), tb_json_str(c, "test"),
                 (long long)json_integer_value(json_object_get(c, "threads")));
        judge(out, what, "speedup", r, lo, hi, thr, sum);
    }
    if (absolute)
        judge_runs(out, base, cur, "tokens/s", tps_samples, false, thr, sum);
    /* Instructions per token are counted, not timed: the machine's drift does
     * not move them, and neither does its speed, so they are compared wherever
     * both runs have them and ran the same kernels (ISA), --ratios-only or not.
     * Fewer is better, so the ratio is base / new: 20 % more reads -16.7 %. */
    int counted = judge_runs(out, base, cur, "instructions/token (base/new)", ipt_samples, true,
                             thr, sum);
    fprintf(out, "\n%d configuration%s compared; %s\n", sum->compared, sum->compared == 1 ? "" : "s",
            absolute ? "same machine: speedups and absolute tokens/s"
            : sum->same_machine ? "same machine, but --ratios-only: speedups only"
                                : "different machines: speedups only (absolute tokens/s are not "
                                  "comparable across machines)");
    if (!counted)
        fprintf(out, "instructions per token: not compared (no run has hardware counters, with "
                     "the same ISA, in both documents)\n");
    note_lost_time(out, "baseline", base);
    note_lost_time(out, "new", cur);
    if (sum->compared == 0)
        return tb_error_set(err, TB_EINVAL, "the documents share no configuration (same models, "
                            "tests and threads) to compare");
    return TB_OK;
}

json_t *tb_merge_docs(json_t *const *docs, int n, tb_error *err)
{
    json_t *runs = json_array(), *comps = json_array(), *machines = json_array();
    for (int d = 0; d < n; d++) {
        json_t *m = json_object_get(docs[d], "machine");
        if (!json_is_object(m)) {
            json_decref(runs);
            json_decref(comps);
            json_decref(machines);
            tb_error_set(err, TB_EINVAL, "document %d: machine: expected an object", d + 1);
            return NULL;
        }
        json_array_append(machines, m);
        static const char *const lists[2] = {"runs", "comparisons"};
        json_t *into[2] = {runs, comps};
        for (int l = 0; l < 2; l++) {
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
    return json_pack("{s:s, s:o, s:o, s:o}", "schema", "ternbench.result/1", "machine", machine,
                     "runs", runs, "comparisons", comps);
}
