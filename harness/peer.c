/* peer.c - see peer.h. */
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "meter.h"
#include "report.h"
#include "sampler.h"
#include "stats.h"
#include "tb_time.h"

extern char **environ;

static json_t *status(const char *name, const char *path, const char *model, bool ok,
                      const char *detail)
{
    return json_pack("{s:s, s:s, s:s, s:b, s:s}", "name", name, "path", path, "model", model,
                     "ok", ok, "detail", detail);
}

/* Appends "a,b,c" of the tests' token counts of one kind to buf. */
static void list(const tb_bench_opts *o, bool prompt, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (int t = 0; t < o->ntests; t++) {
        const tb_bench_test *x = &o->tests[t];
        if (x->gen || x->prompt != prompt)
            continue;
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%s%d", n ? "," : "", x->tokens);
    }
    if (!buf[0])
        snprintf(buf, cap, "0");
}

/* Runs argv, stdout into a temporary file; returns its text (caller frees) or NULL. */
static char *capture(char *const argv[], int *status_out, char *why, size_t cap)
{
    char tmp[] = "/tmp/tb_peer_XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(why, cap, "cannot create a temporary file: %s", strerror(errno));
        return NULL;
    }
    unlink(tmp);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        close(fd);
        snprintf(why, cap, "cannot run %s: %s", argv[0], strerror(rc));
        return NULL;
    }
    int st;
    waitpid(pid, &st, 0);
    *status_out = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    off_t size = lseek(fd, 0, SEEK_END);
    char *text = size >= 0 && size < (1 << 26) ? malloc((size_t)size + 1) : NULL;
    if (text && pread(fd, text, (size_t)size, 0) == size)
        text[size] = '\0';
    else {
        free(text);
        text = NULL;
        snprintf(why, cap, "cannot read %s's output", argv[0]);
    }
    close(fd);
    return text;
}

json_t *tb_peer_run(const char *name, const char *path, const char *model, const tb_bench_opts *o,
                    json_t *runs)
{
    char why[512];
    if (!model)
        return status(name, path, "", false, "no GGUF file among the models: a peer needs one "
                                             "(give -m FILE.gguf or --peer-model FILE.gguf)");
    if (access(path, X_OK) != 0) {
        snprintf(why, sizeof why, "%s is not an executable file (%s)", path, strerror(errno));
        return status(name, path, model, false, why);
    }
    char pp[128], tg[128], th[128] = "", reps[16], batch[16];
    list(o, true, pp, sizeof pp);
    list(o, false, tg, sizeof tg);
    int nthreads = o->nthreads ? o->nthreads : 1;
    for (int i = 0; i < nthreads; i++) {
        size_t n = strlen(th);
        snprintf(th + n, sizeof th - n, "%s%ld", i ? "," : "", o->nthreads ? o->thread_list[i] : o->threads);
    }
    snprintf(reps, sizeof reps, "%ld", o->reps);
    snprintf(batch, sizeof batch, "%ld", o->batch);
    /* -ub with -b: llama-bench's physical batch defaults to 512, so a larger
     * -b alone would run another configuration than ternbench's */
    char *argv[] = {(char *)path, "-m", (char *)model, "-p", pp, "-n", tg, "-t", th, "-r", reps,
                    "-b", batch, "-ub", batch, "-o", "json", NULL};

    tb_meter *meter = NULL;
    tb_sampler *sampler = NULL;
    tb_error err;
    const char *meter_kind = NULL;
    if (tb_meter_open_auto(NULL, &meter, &err) == TB_OK && (sampler = tb_sampler_new(meter, 0))) {
        meter_kind = tb_meter_kind_name(meter->kind);
        if (tb_sampler_start(sampler, &err) != TB_OK) {
            tb_sampler_free(sampler);
            sampler = NULL;
        }
    }
    int code = -1;
    double t0 = tb_now();
    char *text = capture(argv, &code, why, sizeof why);
    double secs = tb_now() - t0;
    tb_energy_result er;
    bool metered = sampler && tb_sampler_stop(sampler, &er, &err) == TB_OK;
    tb_sampler_free(sampler);
    tb_meter_close(meter);
    if (!text)
        return status(name, path, model, false, why);
    json_error_t jerr;
    json_t *rows = code == 0 ? json_loads(text, 0, &jerr) : NULL;
    free(text);
    if (code != 0) {
        snprintf(why, sizeof why, "%s exited with status %d", path, code);
        return status(name, path, model, false, why);
    }
    if (!json_is_array(rows)) {
        snprintf(why, sizeof why, "%s -o json printed no JSON array (%s)", path,
                 rows ? "not an array" : jerr.text);
        json_decref(rows);
        return status(name, path, model, false, why);
    }
    const char *base = strrchr(model, '/') ? strrchr(model, '/') + 1 : model;
    size_t i;
    json_t *row;
    int added = 0;
    json_array_foreach(rows, i, row) {
        json_int_t np = json_integer_value(json_object_get(row, "n_prompt"));
        json_int_t ng = json_integer_value(json_object_get(row, "n_gen"));
        double x[TB_BENCH_MAX_REPS];
        int n = tb_json_numbers(json_object_get(row, "samples_ts"), x, TB_BENCH_MAX_REPS);
        if (n == 0) { /* older llama-bench: per-repetition nanoseconds only */
            n = tb_json_numbers(json_object_get(row, "samples_ns"), x, TB_BENCH_MAX_REPS);
            for (int k = 0; k < n; k++)
                x[k] = x[k] > 0 ? (double)(np + ng) * 1e9 / x[k] : 0;
        }
        if (n == 0 && json_is_number(json_object_get(row, "avg_ts")))
            x[n++] = json_number_value(json_object_get(row, "avg_ts"));
        if (n == 0)
            continue;
        char test[48], mname[160];
        if (np && ng)
            snprintf(test, sizeof test, "pp%lld+tg%lld", (long long)np, (long long)ng);
        else if (np)
            snprintf(test, sizeof test, "pp%lld", (long long)np);
        else
            snprintf(test, sizeof test, "tg%lld", (long long)ng);
        snprintf(mname, sizeof mname, "peer:%s:%s", name, base);
        tb_summary s;
        tb_summarize(x, n, &s);
        const char *type = json_string_value(json_object_get(row, "model_type"));
        json_t *r = json_pack("{s:s, s:s, s:s, s:I, s:s, s:o, s:s}", "model", mname, "format",
                              type ? type : "peer", "test", test, "threads",
                              json_integer_value(json_object_get(row, "n_threads")), "peer", name,
                              "tokens_per_s", tb_summary_to_json(&s, x, n), "source",
                              "llama-bench -o json");
        if (metered)
            json_object_set_new(r, "energy_whole_invocation",
                                json_pack("{s:s, s:f, s:f}", "meter", meter_kind, "joules",
                                          er.total_j, "seconds", secs));
        json_object_set_new(r, "energy_unavailable",
                            json_string(metered ? "measured over the whole llama-bench invocation "
                                                  "(all its tests), not per test"
                                                : "no energy meter on this machine"));
        json_array_append_new(runs, r);
        added++;
    }
    json_decref(rows);
    snprintf(why, sizeof why, "%d rows from %s in %.1f s", added, path, secs);
    return status(name, path, model, added > 0, why);
}
