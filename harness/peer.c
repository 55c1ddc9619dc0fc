/* peer.c - see peer.h. */
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "results.h"
#include "tb_file.h"
#include "tb_time.h"

extern char **environ;

int tb_peer_args(const char *path, bool ternbench, const char *file, const tb_bench_test *t, int batch,
                 long threads, char **argv, int cap, char *buf, size_t bufcap)
{
    int n = 0;
    size_t used = 0;
#define ARG(...)                                                                                  \
    do {                                                                                          \
        int w = snprintf(buf + used, bufcap - used, __VA_ARGS__);                                 \
        if (n < cap - 1 && w >= 0 && (size_t)w < bufcap - used) {                                 \
            argv[n++] = buf + used;                                                               \
            used += (size_t)w + 1;                                                                \
        }                                                                                         \
    } while (0)
    ARG("%s", path);
    if (ternbench) /* another build of ternbench: its llama-bench command */
        ARG("llama-bench");
    ARG("-m");
    ARG("%s", file);
    if (t->gen) { /* a prompt then generation: llama-bench's -pg, and nothing else */
        ARG("-pg");
        ARG("%d,%d", t->tokens, t->gen);
        ARG("-p");
        ARG("0");
        ARG("-n");
        ARG("0");
    } else {
        ARG("-p");
        ARG("%d", t->prompt ? t->tokens : 0);
        ARG("-n");
        ARG("%d", t->prompt ? 0 : t->tokens);
    }
    /* -ub with -b: llama-bench's physical batch defaults to 512, so -b alone
     * above 512 would run another configuration than ternbench's */
    ARG("-b");
    ARG("%d", batch);
    ARG("-ub");
    ARG("%d", batch);
    ARG("-t");
    ARG("%ld", threads);
    ARG("-r");
    ARG("1");
    ARG("-o");
    ARG("json");
#undef ARG
    argv[n] = NULL;
    return n;
}

/* Runs argv with stdout and stderr into files under dir; its exit status. */
static int spawn(char *const argv[], const char *out, const char *errpath, tb_error *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return tb_error_set(err, TB_EIO, "cannot run %s: %s", argv[0], strerror(rc));
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void read_info(json_t *row, tb_peer_info *info)
{
    snprintf(info->build, sizeof info->build, "%s (%lld)", tb_json_str(row, "build_commit"),
             (long long)json_integer_value(json_object_get(row, "build_number")));
    snprintf(info->backends, sizeof info->backends, "%s", tb_json_str(row, "backends"));
    snprintf(info->cpu, sizeof info->cpu, "%s", tb_json_str(row, "cpu_info"));
    snprintf(info->model_type, sizeof info->model_type, "%s", tb_json_str(row, "model_type"));
}

/* The timed run of llama-bench's one JSON row: tokens/s from samples_ts (or
 * samples_ns, which older versions alone print, or avg_ts). */
static int read_row(const char *text, const char *path, int tokens, tb_peer_sample *out,
                    tb_peer_info *info, tb_error *err)
{
    json_error_t jerr;
    json_t *rows = json_loads(text, 0, &jerr);
    json_t *row = json_array_get(rows, 0);
    int rc = TB_OK;
    double ts[4], ns[4];
    int nts = tb_json_numbers(json_object_get(row, "samples_ts"), ts, 4);
    int nns = tb_json_numbers(json_object_get(row, "samples_ns"), ns, 4);
    if (!json_is_array(rows) || !json_is_object(row))
        rc = tb_error_set(err, TB_EINVAL, "%s -o json printed no row (%s)", path,
                          rows ? "an empty or foreign document" : jerr.text);
    else if (nts > 0)
        out->tps = ts[0];
    else if (nns > 0 && ns[0] > 0)
        out->tps = tokens * 1e9 / ns[0];
    else if (json_is_number(json_object_get(row, "avg_ts")))
        out->tps = json_number_value(json_object_get(row, "avg_ts"));
    else
        rc = tb_error_set(err, TB_EINVAL, "%s -o json: a row without samples_ts, samples_ns or avg_ts",
                          path);
    if (rc == TB_OK && !(out->tps > 0))
        rc = tb_error_set(err, TB_EINVAL, "%s -o json: tokens/s %g", path, out->tps);
    if (rc == TB_OK) {
        out->seconds = tokens / out->tps;
        read_info(row, info);
    }
    json_decref(rows);
    return rc;
}

/* A temporary directory for one child's stdout and stderr. */
typedef struct scratch {
    char dir[24], out[64], err[64];
} scratch;

static int scratch_open(scratch *s, tb_error *err)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/tb_peer_XXXXXX");
    if (!mkdtemp(s->dir))
        return tb_error_set(err, TB_EIO, "cannot make a temporary directory: %s", strerror(errno));
    snprintf(s->out, sizeof s->out, "%s/out", s->dir);
    snprintf(s->err, sizeof s->err, "%s/err", s->dir);
    return TB_OK;
}

static void scratch_close(const scratch *s)
{
    unlink(s->out);
    unlink(s->err);
    rmdir(s->dir);
}

bool tb_peer_is_ternbench(const char *path)
{
    scratch s;
    tb_error err;
    char text[64] = "";
    if (access(path, X_OK) != 0 || scratch_open(&s, &err) != TB_OK)
        return false;
    char *argv[] = {(char *)path, "--version", NULL};
    bool is = spawn(argv, s.out, s.err, &err) == 0 && tb_file_read_text(s.out, text, sizeof text, NULL) > 0 &&
              !strncmp(text, "ternbench ", 10);
    scratch_close(&s);
    return is;
}

int tb_peer_once(const char *path, bool ternbench, const char *file, const tb_bench_test *t, int batch,
                 long threads, tb_peer_sample *out, tb_peer_info *info, tb_error *err)
{
    memset(out, 0, sizeof *out);
    if (access(path, X_OK) != 0)
        return tb_error_set(err, TB_EINVAL, "%s is not an executable file (%s)", path, strerror(errno));
    scratch s;
    int rc = scratch_open(&s, err);
    if (rc != TB_OK)
        return rc;
    char buf[4096], *argv[40];
    int argc = tb_peer_args(path, ternbench, file, t, batch, threads, argv, 38, buf, sizeof buf);
    double t0 = tb_now();
    int code = spawn(argv, s.out, s.err, err);
    out->wall = tb_now() - t0;
    rc = code < 0 ? code : TB_OK;
    if (rc == TB_OK && code != 0) {
        /* llama-bench prints its loader's message only with -v: run it again so */
        argv[argc] = "-v";
        argv[argc + 1] = NULL;
        spawn(argv, s.out, s.err, err);
        char tail[700];
        tb_file_tail(s.err, tail, sizeof tail);
        rc = tb_error_set(err, TB_EINVAL, "%s exited with status %d on %s: ...%s", path, code, file,
                          tail[0] ? tail : "(nothing on stderr)");
    }
    char *text = NULL;
    size_t len = 0;
    if (rc == TB_OK && (rc = tb_file_read_all(s.out, 1 << 22, &text, &len, err)) == TB_OK)
        rc = read_row(text, path, t->tokens + t->gen, out, info, err);
    free(text);
    scratch_close(&s);
    return rc;
}
