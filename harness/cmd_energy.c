/*
 * cmd_energy.c - `ternbench energy [options] -- CMD ARGS...`
 *
 * Runs any command N times and reports, per run, seconds, joules (gross and,
 * with an idle baseline, net), average watts and the command's exit status;
 * then the median of each with its 95 % interval. Like `perf stat -e power/..`
 * but with INA219 sensors, counter-wrap handling, idle subtraction and
 * labelled estimates. The report goes to stderr so the command's own stdout
 * stays clean; --json FILE writes the runs atomically. The command's exit
 * status (of the last failing run, else 0) is ternbench's.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "estimate.h"
#include "meters.h"
#include "sampler.h"
#include "stats.h"
#include "tb_file.h"

extern char **environ;

enum { MAX_REPS = 1000 };

typedef struct energy_opts {
    tb_meter_choice m;          /* m.name: a meter, an estimate, or NULL: the first that works */
    long reps;
    double idle_s;
    double interval_ms;         /* 0: the meter's default */
    const char *json_path;
    tb_estimate_model est;
    bool est_set[3];            /* idle, core, proxy watts given */
    char **cmd;
} energy_opts;

typedef struct run_record {
    double seconds, cpu_s;
    int status;                 /* exit status, or 128 + signal */
    bool have_energy;
    tb_energy_result e;         /* measured */
    double est_j, est_idle_j;   /* estimated */
} run_record;

static void help(void)
{
    printf("usage: ternbench energy [options] -- CMD [ARGS...]\n\n"
           "Runs CMD and reports the energy it took, like `perf stat -e power/...`.\n\n"
           TB_CLI_METER_HELP
           "                     (or estimate | estimate:bitnet-proxy: labelled estimates)\n"
           "  -r, --repetitions N run CMD N times (default 1)\n"
           "  --idle SECONDS      measure idle power for SECONDS first; report net energy\n"
           "  --interval-ms MS    sampling interval (default: 5 ms RAPL, 50 ms perf-power,\n"
           "                      the conversion time for INA219)\n"
           "  --json FILE         write every run as JSON (atomically)\n"
           "  estimates:          --est-idle-watts W (10) --est-core-watts W (10) per busy CPU;\n"
           "                      --est-proxy-watts W (200) for estimate:bitnet-proxy\n"
           "  -h, --help          this text\n\n"
           "Exit status: CMD's (the last failing run's), or 2 for a usage error.\n");
}

static int parse(int argc, char **argv, energy_opts *o)
{
    enum { O_IDLE = 256, O_INTERVAL, O_JSON, O_EIDLE, O_ECORE, O_EPROXY };
    static const struct option opts[] = {
        TB_CLI_METER_OPTIONS,
        {"repetitions", required_argument, NULL, 'r'},
        {"idle", required_argument, NULL, O_IDLE},
        {"interval-ms", required_argument, NULL, O_INTERVAL},
        {"json", required_argument, NULL, O_JSON},
        {"est-idle-watts", required_argument, NULL, O_EIDLE},
        {"est-core-watts", required_argument, NULL, O_ECORE},
        {"est-proxy-watts", required_argument, NULL, O_EPROXY},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    const char *cmd = "energy";
    int rc = TB_EXIT_OK;
    opterr = 0;
    optind = 1;
    /* '+': stop at the first non-option, so CMD's own options stay CMD's. */
    for (int c; rc == TB_EXIT_OK && (c = getopt_long(argc, argv, "+:r:h", opts, NULL)) != -1;) {
        switch (c) {
        case 'r': rc = tb_cli_parse_int(cmd, "-r", optarg, 1, MAX_REPS, &o->reps); break;
        case O_IDLE: rc = tb_cli_parse_double(cmd, "--idle", optarg, 0, 3600, &o->idle_s); break;
        case O_INTERVAL:
            rc = tb_cli_parse_double(cmd, "--interval-ms", optarg, 0.1, 10000, &o->interval_ms);
            break;
        case O_JSON: o->json_path = optarg; break;
        case O_EIDLE:
            rc = tb_cli_parse_double(cmd, "--est-idle-watts", optarg, 0, 1e5, &o->est.idle_w);
            o->est_set[0] = true;
            break;
        case O_ECORE:
            rc = tb_cli_parse_double(cmd, "--est-core-watts", optarg, 0, 1e5, &o->est.core_w);
            o->est_set[1] = true;
            break;
        case O_EPROXY:
            rc = tb_cli_parse_double(cmd, "--est-proxy-watts", optarg, 0, 1e5, &o->est.proxy_w);
            o->est_set[2] = true;
            break;
        case 'h': help(); return -1;
        default:
            if (c < TB_CLI_METER_FIRST || c > TB_CLI_METER_LAST)
                return tb_cli_bad_option(cmd, argv, optind, optopt, c);
            rc = tb_cli_meter_option(cmd, c, optarg, &o->m);
        }
    }
    if (rc != TB_EXIT_OK)
        return rc;
    if (optind >= argc)
        return tb_cli_usage_error(cmd, "no command to measure: put it after '--', "
                                       "e.g. ternbench energy -- sleep 1");
    o->cmd = argv + optind;
    return TB_EXIT_OK;
}

static bool is_estimate(const char *meter, tb_estimate_kind *kind)
{
    if (!meter)
        return false;
    if (strcmp(meter, "estimate") == 0) {
        *kind = TB_ESTIMATE_LINEAR;
        return true;
    }
    if (strcmp(meter, "estimate:bitnet-proxy") == 0) {
        *kind = TB_ESTIMATE_BITNET_PROXY;
        return true;
    }
    return false;
}

static int open_meter(const energy_opts *o, tb_meter **m, tb_error *err)
{
    int rc = tb_meter_open_chosen(&o->m, m, err);
    if (rc == TB_EINVAL && o->m.name && !strstr(err->text, "estimate"))
        tb_error_set(err, TB_EINVAL, "--meter %s: unknown meter; use rapl, perf-power, ina219, "
                     "ina219-i2c, estimate or estimate:bitnet-proxy", o->m.name);
    return rc;
}

static double timeval_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

/* Spawns cmd, waits; fills seconds, cpu_s and status. */
static int run_command(char **cmd, run_record *r, tb_error *err)
{
    double t0 = tb_now();
    pid_t pid;
    int rc = posix_spawnp(&pid, cmd[0], NULL, NULL, cmd, environ);
    if (rc != 0)
        return tb_error_set(err, TB_EINVAL, "cannot run '%s': %s", cmd[0], strerror(rc));
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR)
            return tb_error_set(err, TB_EIO, "waiting for '%s': %s", cmd[0], strerror(errno));
    }
    r->seconds = tb_now() - t0;
    r->cpu_s = timeval_s(ru.ru_utime) + timeval_s(ru.ru_stime);
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return TB_OK;
}

static int measure_idle(tb_meter *m, double interval_s, double seconds, tb_energy_result *idle,
                        tb_error *err)
{
    tb_sampler *s = tb_sampler_new(m, interval_s);
    if (!s)
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    int rc = tb_sampler_start(s, err);
    if (rc == TB_OK) {
        struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        rc = tb_sampler_stop(s, idle, err);
    }
    tb_sampler_free(s);
    return rc;
}

static double idle_watts(const tb_energy_result *idle, int d)
{
    return idle && idle->seconds > 0 ? idle->joules[d] / idle->seconds : 0;
}

static double idle_total_watts(const tb_energy_result *idle)
{
    return idle && idle->seconds > 0 ? idle->total_j / idle->seconds : 0;
}

static json_t *run_json(const run_record *r, const char *label, const tb_energy_result *idle,
                        const char *unavailable)
{
    json_t *o = json_pack("{s:f, s:f, s:i, s:s}", "seconds", r->seconds, "cpu_seconds", r->cpu_s,
                          "exit_status", r->status, "meter", label);
    if (r->have_energy) {
        const tb_energy_result *e = &r->e;
        json_object_set_new(o, "joules", json_real(e->total_j));
        json_object_set_new(o, "joules_net", idle ? json_real(e->total_j - idle_total_watts(idle) *
                                                                               e->seconds)
                                                  : json_null());
        json_object_set_new(o, "watts", json_real(e->seconds > 0 ? e->total_j / e->seconds : 0));
        json_object_set_new(o, "estimate", json_false());
        json_t *doms = json_object();
        for (int i = 0; i < e->ndomains; i++) {
            json_t *d = json_pack("{s:f, s:f, s:b, s:i, s:i, s:i, s:i}", "joules", e->joules[i],
                                  "watts", e->seconds > 0 ? e->joules[i] / e->seconds : 0,
                                  "in_total", e->domain[i].in_total, "readings", e->used[i],
                                  "wraps", e->wraps[i], "wrap_unsure", e->wrap_unsure[i],
                                  "overflows", e->overflows[i]);
            json_object_set_new(d, "joules_net", idle ? json_real(e->joules[i] - idle_watts(idle, i) *
                                                                                 e->seconds)
                                                      : json_null());
            json_object_set_new(doms, e->domain[i].name, d);
        }
        json_object_set_new(o, "domains", doms);
        json_object_set_new(o, "samples", json_integer(e->samples));
        char warn[2048];
        json_t *w = json_array();
        if (tb_energy_result_warnings(e, warn, sizeof warn) > 0)
            for (char *line = strtok(warn, "\n"); line; line = strtok(NULL, "\n"))
                json_array_append_new(w, json_string(line));
        json_object_set_new(o, "warnings", w);
    } else if (!unavailable) { /* an estimate */
        json_object_set_new(o, "joules", json_real(r->est_j));
        json_object_set_new(o, "joules_net", json_real(r->est_j - r->est_idle_j));
        json_object_set_new(o, "watts", json_real(r->seconds > 0 ? r->est_j / r->seconds : 0));
        json_object_set_new(o, "estimate", json_true());
    } else {
        json_object_set_new(o, "joules", json_null());
        json_object_set_new(o, "joules_net", json_null());
        json_object_set_new(o, "watts", json_null());
        json_object_set_new(o, "energy_unavailable", json_string(unavailable));
    }
    return o;
}

/* Pulls one number out of every run for the summary. */
static int column(const run_record *runs, int n, int which, const tb_energy_result *idle,
                  double *out)
{
    for (int i = 0; i < n; i++) {
        const run_record *r = &runs[i];
        double j = r->have_energy ? r->e.total_j : r->est_j;
        double jn = r->have_energy ? j - idle_total_watts(idle) * r->e.seconds : j - r->est_idle_j;
        double secs = r->have_energy ? r->e.seconds : r->seconds;
        switch (which) {
        case 0: out[i] = r->seconds; break;
        case 1: out[i] = j; break;
        case 2: out[i] = jn; break;
        default: out[i] = secs > 0 ? j / secs : 0; break;
        }
    }
    return n;
}

static void print_summary_line(FILE *f, const char *name, const char *unit, const double *x, int n)
{
    tb_summary s;
    tb_summarize(x, n, &s);
    fprintf(f, "  %-10s %12.4f %-2s", name, s.median, unit);
    char ci[96];
    tb_ci_text(&s, 4, ci, sizeof ci);
    if (s.has_ci)
        fprintf(f, "  CI %s", ci);
    else if (n > 1)
        fprintf(f, "  (no CI with %d runs; use -r 2 or more)", n);
    fprintf(f, "  min %.4f  max %.4f  sd %.4f\n", s.min, s.max, s.stddev);
}

static int write_json(const energy_opts *o, const run_record *runs, int n, const char *label,
                      bool measured, const tb_meter *m, const tb_energy_result *idle,
                      const char *unavailable, tb_error *err)
{
    json_t *cmd = json_array();
    for (char **a = o->cmd; *a; a++)
        json_array_append_new(cmd, json_string(*a));
    json_t *meter = json_pack("{s:s, s:b}", "label", label, "measured", measured);
    if (m) {
        json_t *doms = json_array();
        for (int i = 0; i < m->ndomains; i++)
            json_array_append_new(doms, json_pack("{s:s, s:b}", "name", m->domain[i].name,
                                                  "in_total", m->domain[i].in_total));
        json_object_set_new(meter, "source", json_string(m->source));
        json_object_set_new(meter, "domains", doms);
        json_object_set_new(meter, "interval_s", json_real(n ? runs[0].e.interval_s : 0));
        json_object_set_new(meter, "resolution_j", json_real(m->resolution_j));
        json_object_set_new(meter, "resolution_w", json_real(m->resolution_w));
    } else if (!unavailable) {
        json_object_set_new(meter, "model",
                            json_pack("{s:s, s:f, s:f, s:f, s:i}", "kind",
                                      o->est.kind == TB_ESTIMATE_LINEAR ? "linear" : "bitnet-proxy",
                                      "idle_watts", o->est.idle_w, "core_watts", o->est.core_w,
                                      "proxy_watts", o->est.proxy_w, "cpus", o->est.cpus));
    }
    json_t *doc = json_pack("{s:s, s:o, s:o}", "schema", "ternbench.energy/1", "command", cmd,
                            "meter", meter);
    if (unavailable)
        json_object_set_new(doc, "energy_unavailable", json_string(unavailable));
    json_t *jidle = json_null();
    if (idle) {
        json_t *doms = json_object();
        for (int i = 0; i < idle->ndomains; i++)
            json_object_set_new(doms, idle->domain[i].name, json_real(idle_watts(idle, i)));
        jidle = json_pack("{s:f, s:f, s:o}", "seconds", idle->seconds, "watts",
                          idle_total_watts(idle), "domains", doms);
    }
    json_object_set_new(doc, "idle", jidle);
    json_t *jruns = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(jruns, run_json(&runs[i], label, idle, unavailable));
    json_object_set_new(doc, "runs", jruns);

    json_t *summary = json_object();
    double *x = malloc((size_t)n * sizeof *x);
    static const char *const names[] = {"seconds", "joules", "joules_net", "watts"};
    for (int w = 0; x && w < 4; w++) {
        if (w > 0 && unavailable)
            break;
        if (w == 2 && measured && !idle)
            continue;
        tb_summary s;
        column(runs, n, w, idle, x);
        tb_summarize(x, n, &s);
        json_object_set_new(summary, names[w], tb_summary_to_json(&s, x, n));
    }
    free(x);
    json_object_set_new(doc, "summary", summary);

    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!text)
        return tb_error_set(err, TB_ENOMEM, "out of memory writing %s", o->json_path);
    int rc = tb_file_write_atomic(o->json_path, text, strlen(text), err);
    free(text);
    return rc;
}

/* Everything one `energy` run holds. */
typedef struct erun {
    energy_opts o;
    tb_estimate_kind ekind;
    bool estimate;             /* a labelled estimate instead of a meter */
    tb_meter *m;               /* NULL: an estimate, or no meter at all */
    const char *label;
    char unavailable[1024];    /* why no meter was found */
    tb_energy_result idle_res, *idle;
    run_record *runs;
    int done, exit_status;
} erun;

/* The meter (or estimate) to measure with; TB_EXIT_USAGE when the one asked
 * for cannot be opened. Without one found automatically, time alone. */
static int choose_meter(erun *e, long cpus)
{
    tb_error err;
    e->estimate = is_estimate(e->o.m.name, &e->ekind);
    if (e->estimate) {
        tb_estimate_model d = tb_estimate_default(e->ekind, (int)cpus);
        if (!e->o.est_set[0]) e->o.est.idle_w = d.idle_w;
        if (!e->o.est_set[1]) e->o.est.core_w = d.core_w;
        if (!e->o.est_set[2]) e->o.est.proxy_w = d.proxy_w;
        e->o.est.kind = e->ekind;
        e->label = tb_estimate_label(e->ekind);
    } else if (open_meter(&e->o, &e->m, &err) == TB_OK) {
        e->label = tb_meter_kind_name(e->m->kind);
    } else if (!e->o.m.name && err.code != TB_EINVAL) {
        snprintf(e->unavailable, sizeof e->unavailable, "%s", err.text);
        e->label = "none";
        fprintf(stderr, "ternbench energy: %s\n  => measuring time only; --meter estimate gives a "
                        "labelled estimate\n\n", err.text);
    } else {
        fprintf(stderr, "ternbench energy: %s\n", err.text);
        return TB_EXIT_USAGE;
    }
    return TB_EXIT_OK;
}

static int measure_idle_first(erun *e)
{
    tb_error err;
    if (e->o.idle_s > 0 && e->m) {
        fprintf(stderr, "ternbench energy: measuring idle power for %.1f s...\n", e->o.idle_s);
        if (measure_idle(e->m, e->o.interval_ms / 1000.0, e->o.idle_s, &e->idle_res, &err) != TB_OK) {
            fprintf(stderr, "ternbench energy: idle baseline: %s\n", err.text);
            return TB_EXIT_USAGE;
        }
        e->idle = &e->idle_res;
    } else if (e->o.idle_s > 0) {
        fprintf(stderr, "ternbench energy: --idle ignored: %s\n",
                e->estimate ? "an estimate's idle share is its --est-idle-watts parameter"
                            : "there is no meter to measure idle power with");
    }
    return TB_EXIT_OK;
}

/* Runs the command --repetitions times, each inside the sampler's window. */
static int run_all(erun *e)
{
    tb_error err;
    tb_sampler *s = e->m ? tb_sampler_new(e->m, e->o.interval_ms / 1000.0) : NULL;
    if (e->m && !s) {
        fprintf(stderr, "ternbench energy: out of memory\n");
        return TB_EXIT_USAGE;
    }
    int rc = TB_OK;
    for (int i = 0; i < e->o.reps && rc == TB_OK; i++) {
        run_record *r = &e->runs[i];
        if (s && (rc = tb_sampler_start(s, &err)) != TB_OK)
            break;
        int crc = run_command(e->o.cmd, r, &err);
        if (s) {
            tb_error serr;
            int src = tb_sampler_stop(s, &r->e, &serr);
            if (crc == TB_OK && src != TB_OK) {
                err = serr;
                crc = src;
            }
            r->have_energy = src == TB_OK;
        }
        if ((rc = crc) != TB_OK)
            break;
        if (e->estimate)
            r->est_j = tb_estimate_joules(&e->o.est, r->seconds, r->cpu_s, &r->est_idle_j);
        if (r->status != 0)
            e->exit_status = r->status;
        e->done++;
    }
    tb_sampler_free(s);
    if (rc != TB_OK) {
        fprintf(stderr, "ternbench energy: %s\n", err.text);
        return TB_EXIT_USAGE;
    }
    return TB_EXIT_OK;
}

static void print_meter(const erun *e, FILE *f)
{
    const tb_meter *m = e->m;
    if (m) {
        fprintf(f, "  meter      %s, %s; sampled every %.2f ms\n", e->label, m->source,
                e->runs[0].e.interval_s * 1e3);
        fprintf(f, "  domains   ");
        for (int d = 0; d < m->ndomains; d++)
            fprintf(f, " %s%s", m->domain[d].name, m->domain[d].in_total ? "" : " (inside another, not added)");
        fprintf(f, "\n");
        if (e->idle)
            fprintf(f, "  idle       %.3f W over %.2f s (subtracted for net joules)\n",
                    idle_total_watts(e->idle), e->idle->seconds);
    } else if (e->estimate) {
        if (e->ekind == TB_ESTIMATE_LINEAR)
            fprintf(f, "  meter      ESTIMATE, not a measurement: %.1f W idle + %.1f W per busy "
                       "CPU x CPU time\n", e->o.est.idle_w, e->o.est.core_w);
        else
            fprintf(f, "  meter      ESTIMATE, not a measurement: bitnet.cpp's proxy, %.0f W x CPU "
                       "utilisation (%d CPUs)\n", e->o.est.proxy_w, e->o.est.cpus);
    } else {
        fprintf(f, "  meter      none: joules <not measured> (see above)\n");
    }
}

static void print_runs(const erun *e, FILE *f)
{
    fprintf(f, "\n  %4s %10s %10s %12s %12s %10s %6s\n", "run", "seconds", "cpu s", "joules",
            "net J", "watts", "exit");
    for (int i = 0; i < e->done; i++) {
        const run_record *r = &e->runs[i];
        fprintf(f, "  %4d %10.4f %10.4f", i + 1, r->seconds, r->cpu_s);
        if (r->have_energy) {
            double w = r->e.seconds > 0 ? r->e.total_j / r->e.seconds : 0;
            fprintf(f, " %12.4f", r->e.total_j);
            if (e->idle)
                fprintf(f, " %12.4f", r->e.total_j - idle_total_watts(e->idle) * r->e.seconds);
            else
                fprintf(f, " %12s", "-");
            fprintf(f, " %10.3f", w);
        } else if (e->estimate) {
            fprintf(f, " %11.4f~ %11.4f~ %9.3f~", r->est_j, r->est_j - r->est_idle_j,
                    r->seconds > 0 ? r->est_j / r->seconds : 0);
        } else {
            fprintf(f, " %12s %12s %10s", "<n/a>", "<n/a>", "<n/a>");
        }
        fprintf(f, " %6d\n", r->status);
        if (r->have_energy) {
            char warn[2048];
            if (tb_energy_result_warnings(&r->e, warn, sizeof warn) > 0)
                fprintf(f, "       warning: %s", warn);
        }
    }
    if (e->estimate)
        fprintf(f, "  (~ marks estimated values)\n");
}

static void print_medians(const erun *e, FILE *f)
{
    int done = e->done;
    fprintf(f, "\n  median over %d run%s:\n", done, done == 1 ? "" : "s");
    double *x = malloc((size_t)done * sizeof *x);
    if (!x)
        return;
    print_summary_line(f, "seconds", "s", (column(e->runs, done, 0, e->idle, x), x), done);
    if (e->m || e->estimate) {
        print_summary_line(f, e->estimate ? "joules~" : "joules", "J",
                           (column(e->runs, done, 1, e->idle, x), x), done);
        if (e->idle || e->estimate)
            print_summary_line(f, e->estimate ? "net J~" : "net J", "J",
                               (column(e->runs, done, 2, e->idle, x), x), done);
        print_summary_line(f, e->estimate ? "watts~" : "watts", "W",
                           (column(e->runs, done, 3, e->idle, x), x), done);
    }
    free(x);
}

/* The report, perf-stat style, on stderr. */
static void report(const erun *e)
{
    FILE *f = stderr;
    fprintf(f, "\n Energy of '%s", e->o.cmd[0]);
    for (char **a = e->o.cmd + 1; *a; a++)
        fprintf(f, " %s", *a);
    fprintf(f, "' (%d run%s):\n\n", e->done, e->done == 1 ? "" : "s");
    print_meter(e, f);
    print_runs(e, f);
    print_medians(e, f);
    fprintf(f, "\n");
}

/* The walk: options -> the meter (or estimate) -> idle power -> the runs ->
 * the report -> the document. */
int tb_cmd_energy(int argc, char **argv)
{
    erun e = {.o = {.m = tb_meter_choice_default(), .reps = 1}, .ekind = TB_ESTIMATE_LINEAR};
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    e.o.est = tb_estimate_default(e.ekind, (int)cpus);
    int rc = parse(argc, argv, &e.o);
    if (rc < 0)
        return TB_EXIT_OK; /* --help */
    if (rc != TB_EXIT_OK)
        return rc;
    if ((rc = choose_meter(&e, cpus)) == TB_EXIT_OK && (rc = measure_idle_first(&e)) == TB_EXIT_OK) {
        e.runs = calloc((size_t)e.o.reps, sizeof *e.runs);
        rc = e.runs ? run_all(&e) : TB_EXIT_USAGE;
    }
    if (rc == TB_EXIT_OK) {
        report(&e);
        tb_error err;
        if (e.o.json_path &&
            write_json(&e.o, e.runs, e.done, e.label, e.m != NULL, e.m, e.idle,
                       e.unavailable[0] ? e.unavailable : NULL, &err) != TB_OK) {
            fprintf(stderr, "ternbench energy: %s\n", err.text);
            e.exit_status = e.exit_status ? e.exit_status : TB_EXIT_USAGE;
        }
        rc = e.exit_status;
    }
    free(e.runs);
    tb_meter_close(e.m);
    return rc;
}
