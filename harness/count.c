/* count.c - instructions per token under callgrind; see count.h. */
#include "count.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "dummy.h"
#include "gguf.h"
#include "machine.h"
#include "model.h"
#include "tb_file.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define HAVE_CALLGRIND 0
#define RUNNING_ON_VALGRIND 0
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_TOGGLE_COLLECT
#define CALLGRIND_DUMP_STATS_AT(label) ((void)(label))
#endif

extern char **environ;

int tb_count_parse(const char *text, tb_count_kind *out, tb_error *err)
{
    if (!strcmp(text, "instructions"))
        *out = TB_COUNT_INSTRUCTIONS;
    else if (!strcmp(text, "cache"))
        *out = TB_COUNT_CACHE;
    else
        return tb_error_set(err, TB_EINVAL, "--count: '%s' is not instructions or cache", text);
    return TB_OK;
}

/* ---- the parent: files, valgrind, dumps ---- */

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Writes the dummy spec to dir/model.gguf when it can (tl2 and t1_67 have no
 * GGUF type: then the child synthesises it, slowly); the model the child is to load. */
static int model_file(const char *spec, const char *dir, char *path, size_t cap, tb_error *err)
{
    const tb_preset *p;
    tb_format fmt, embd;
    if (strncmp(spec, "dummy:", 6) != 0 || tb_dummy_parse(spec, &p, &fmt, &embd, err) != TB_OK ||
        !tb_format_in_files(fmt)) {
        snprintf(path, cap, "%s", spec);
        return TB_OK;
    }
    snprintf(path, cap, "%s/model.gguf", dir);
    return tb_dummy_save(p, fmt, embd, TB_DUMMY_SEED, NULL, path, err);
}

/* What callgrind's dump file says: the test index of its trigger (-1: not
 * one of ours) and the counts of its events. */
static int read_dump(const char *path, double *ir, double *ll)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[4096], events[1024] = "";
    int test = -1;
    *ir = *ll = 0;
    while (fgets(line, sizeof line, f)) {
        int k;
        if (sscanf(line, "desc: Trigger: Client Request: test=%d", &k) == 1)
            test = k;
        else if (!strncmp(line, "events:", 7))
            snprintf(events, sizeof events, "%s", line + 7);
        else if (!strncmp(line, "summary:", 8) || !strncmp(line, "totals:", 7)) {
            /* the values in the order of the events line */
            char *v = strchr(line, ':') + 1, *ev = events, *vsave = NULL, *esave = NULL;
            *ir = *ll = 0;
            for (char *e = strtok_r(ev, " \n", &esave), *x = strtok_r(v, " \n", &vsave); e && x;
                 e = strtok_r(NULL, " \n", &esave), x = strtok_r(NULL, " \n", &vsave)) {
                double val = strtod(x, NULL);
                if (!strcmp(e, "Ir"))
                    *ir = val;
                else if (!strcmp(e, "ILmr") || !strcmp(e, "DLmr") || !strcmp(e, "DLmw"))
                    *ll += val;
            }
            break;
        }
    }
    fclose(f);
    return test;
}

void tb_count_model(const char *spec, const tb_bench_opts *o, const int *ids, int max_tokens,
                    tb_count_kind kind, tb_count_result *out)
{
    memset(out, 0, sizeof *out);
    for (int t = 0; t < TB_BENCH_MAX_TESTS; t++)
        out->ll_misses[t] = -1;
    char dir[] = "/tmp/tb_count_XXXXXX", model[4200], idpath[4200], tests[512] = "", self[4096];
    char log[4200], outpath[4200], arg_tokens[32], outfile[4200];
    tb_error err;
    if (!mkdtemp(dir)) {
        snprintf(out->why, sizeof out->why, "cannot make a temporary directory: %s", strerror(errno));
        return;
    }
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    snprintf(idpath, sizeof idpath, "%s/ids.bin", dir);
    snprintf(log, sizeof log, "%s/valgrind.log", dir);
    snprintf(outpath, sizeof outpath, "%s/cg.%%p", dir);
    snprintf(outfile, sizeof outfile, "--callgrind-out-file=%s", outpath);
    snprintf(arg_tokens, sizeof arg_tokens, "%d", max_tokens);
    for (int t = 0; t < o->ntests; t++) {
        size_t k = strlen(tests);
        snprintf(tests + k, sizeof tests - k, "%s%d:%d:%d", t ? "," : "", o->tests[t].tokens,
                 tb_bench_test_batch(&o->tests[t], o->batch), o->tests[t].gen);
    }
    if (model_file(spec, dir, model, sizeof model, &err) != TB_OK ||
        tb_file_write_atomic(idpath, ids, (size_t)max_tokens * sizeof *ids, &err) != TB_OK) {
        snprintf(out->why, sizeof out->why, "%s", err.text);
        remove_dir(dir);
        return;
    }
    char *argv[] = {"valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no", outfile,
                    kind == TB_COUNT_CACHE ? "--cache-sim=yes" : "--cache-sim=no", self, "count-run",
                    "--model", model, "--ids", idpath, "--tokens", arg_tokens, "--tests", tests, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, "valgrind", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        snprintf(out->why, sizeof out->why, "valgrind could not be run (%s): install it "
                 "(apt-get install valgrind) to count instructions", strerror(rc));
        remove_dir(dir);
        return;
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char tail[300];
        tb_file_tail(log, tail, sizeof tail);
        snprintf(out->why, sizeof out->why, "valgrind --tool=callgrind failed on %s: %s", spec, tail);
        remove_dir(dir);
        return;
    }
    /* the child's answer ("isa=avx2") is in the log; the counts in the dumps */
    char *text = NULL;
    size_t len;
    if (tb_file_read_all(log, 1 << 20, &text, &len, &err) == TB_OK) {
        char *isa = strstr(text, "isa=");
        if (isa)
            sscanf(isa + 4, "%15s", out->isa);
        free(text);
    }
    int found = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, "cg.", 3) != 0)
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        double ir, ll;
        int t = read_dump(path, &ir, &ll);
        if (t < 0 || t >= o->ntests)
            continue;
        int tokens = o->tests[t].tokens + o->tests[t].gen;
        out->instructions[t] = ir / tokens;
        if (kind == TB_COUNT_CACHE)
            out->ll_misses[t] = ll / tokens;
        found++;
    }
    if (d)
        closedir(d);
    out->ok = found == o->ntests;
    if (!out->ok)
        snprintf(out->why, sizeof out->why, "callgrind wrote %d of %d tests' counts (built without "
                 "valgrind's headers? install valgrind and rebuild)", found, o->ntests);
    remove_dir(dir);
}

/* ---- the child, under valgrind ---- */

int tb_cmd_count_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"ids", required_argument, NULL, 'i'},
        {"tokens", required_argument, NULL, 'n'}, {"tests", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *cmd = "count-run", *model = NULL, *idpath = NULL, *tests = NULL;
    long tokens = 0;
    int rc = TB_EXIT_OK;
    opterr = 0;
    optind = 1;
    for (int c; rc == TB_EXIT_OK && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1;) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'i': idpath = optarg; break;
        case 'n': rc = tb_cli_parse_int(cmd, "--tokens", optarg, 1, 1 << 20, &tokens); break;
        case 't': tests = optarg; break;
        case 'h':
            printf("usage: valgrind --tool=callgrind --collect-atstart=no ternbench count-run\n"
                   "           --model M --ids FILE --tokens N --tests T:B:G,...\n\n"
                   "What `bench --count` runs under valgrind, one model at a time: each test\n"
                   "(T tokens in batches of B, then G generated) collected alone and dumped.\n");
            return TB_EXIT_OK;
        default: return tb_cli_bad_option(cmd, argv, optind, optopt, c);
        }
    }
    if (rc != TB_EXIT_OK)
        return rc;
    if (!model || !idpath || !tests || !tokens)
        return tb_cli_usage_error(cmd, "give --model, --ids, --tokens and --tests");
    if (!HAVE_CALLGRIND || !RUNNING_ON_VALGRIND)
        return tb_cli_usage_error(cmd, "this command is what `bench --count` runs under valgrind's "
                                  "callgrind%s", HAVE_CALLGRIND ? "" : " (and this build has no "
                                  "valgrind headers: install valgrind and rebuild)");
    int spec[TB_BENCH_MAX_TESTS][3], ntests = 0, max_batch = 1;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", tests);
    for (char *tok = strtok(buf, ","); tok && ntests < TB_BENCH_MAX_TESTS; tok = strtok(NULL, ",")) {
        int *x = spec[ntests];
        if (sscanf(tok, "%d:%d:%d", &x[0], &x[1], &x[2]) != 3 || x[0] < 1 || x[1] < 1 || x[2] < 0 ||
            x[0] + x[2] > tokens)
            return tb_cli_usage_error(cmd, "--tests: '%s' is not TOKENS:BATCH:GEN", tok);
        max_batch = x[1] > max_batch ? x[1] : max_batch;
        ntests++;
    }
    tb_machine mach;
    if (tb_machine_probe_for(cmd, &mach) != 0)
        return TB_EXIT_USAGE;
    tb_error err;
    char *ids = NULL;
    size_t len = 0;
    tb_model *m = NULL;
    if (tb_file_read_all(idpath, (size_t)tokens * sizeof(int) + 1, &ids, &len, &err) != TB_OK ||
        len != (size_t)tokens * sizeof(int) ||
        tb_model_open(model, 1, mach.isa, (int)tokens, TB_KV_F16, &m, &err) != TB_OK ||
        tb_model_set_batch(m, max_batch, &err) != TB_OK) {
        fprintf(stderr, "ternbench %s: %s\n", cmd, len != (size_t)tokens * sizeof(int) && !m
                ? "--ids: not --tokens ids" : err.text);
        free(ids);
        tb_model_free(m);
        return TB_EXIT_USAGE;
    }
    const int *id = (const int *)ids;
    /* no warm-up: page faults and cold caches cost time, not instructions; the
     * load ran uninstrumented (--instr-atstart=no), which makes it 20x faster */
    CALLGRIND_START_INSTRUMENTATION;
    for (int t = 0; t < ntests; t++) {
        char label[32];
        snprintf(label, sizeof label, "test=%d", t);
        CALLGRIND_ZERO_STATS;
        CALLGRIND_TOGGLE_COLLECT;
        double s = tb_bench_feed(m, id, spec[t][0], spec[t][1], spec[t][2]);
        CALLGRIND_TOGGLE_COLLECT;
        CALLGRIND_DUMP_STATS_AT(label);
        if (s < 0)
            rc = TB_EXIT_USAGE;
    }
    printf("isa=%s\n", tb_isa_name(mach.isa));
    free(ids);
    tb_model_free(m);
    return rc;
}
