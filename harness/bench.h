/*
 * bench.h - the benchmark runner shared by `ternbench bench` and
 * `ternbench reproduce`; see bench.c.
 */
#ifndef TB_BENCH_H
#define TB_BENCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "machine.h"
#include "tb_error.h"

enum { TB_BENCH_MAX_MODELS = 16, TB_BENCH_MAX_TESTS = 8, TB_BENCH_MAX_REPS = 100 };

typedef struct tb_bench_test {
    char name[24];             /* tg64, pp128, pp32@b1, pp512+tg128 */
    int tokens;                /* prompt tokens (pp, pg) or generated tokens (tg) */
    bool prompt;
    int batch;                 /* prompt batch; 0 = the options' */
    int gen;                   /* pg: tokens generated after the prompt */
} tb_bench_test;

/* Stand-ins for the engine's timing and the energy meter, for tests of the
 * runner's statistics: run() gives the seconds repetition rep of test t on
 * model i takes (the models still load, but do not run); energy(), when set,
 * the joules it takes, reported as meter `meter_name`; losses(), when set,
 * the seconds it lost to the hypervisor (steal, all CPUs) and to run-queue
 * waits (the pool's threads), instead of /proc's. */
typedef struct tb_bench_hooks {
    double (*run)(void *ctx, int model, int test, int rep);
    double (*energy)(void *ctx, int model, int test, int rep, double seconds);
    const char *meter_name;
    void *ctx;
    void (*losses)(void *ctx, int model, int test, int rep, double seconds, double lost[2]);
} tb_bench_hooks;

typedef struct tb_bench_opts {
    const char *specs[TB_BENCH_MAX_MODELS]; /* GGUF paths or dummy:PRESET:FORMAT */
    int nmodels;
    tb_bench_test tests[TB_BENCH_MAX_TESTS];
    int ntests;
    long threads, reps, warmup, seed, batch;
    double idle_s;             /* measure idle power this long first; 0: no net energy */
    long thread_list[8];       /* several thread counts, each run in turn (nthreads > 0) */
    int nthreads;
    const char *prompt_file;   /* tokenized by each model's vocabulary; NULL: seeded ids */
    const tb_bench_hooks *hooks; /* NULL: the real engine and meters */
} tb_bench_opts;

/* Adds "tgN"/"ppN" tests from a comma-separated list of token counts;
 * returns TB_EINVAL with a message for a bad one. */
int tb_bench_add_tests(tb_bench_opts *o, const char *list, bool prompt, tb_error *err);

/* Adds a prompt-then-generate test ppP+tgN (llama-bench's -pg P,N): tokens/s
 * counts all P + N tokens over the whole time. */
int tb_bench_add_pg(tb_bench_opts *o, int prompt, int gen, tb_error *err);

/* Loads and runs the models; prints a llama-bench-like table to out and
 * appends one object per (model, test) to runs and one per ternary/baseline
 * pair to comps (ternbench.result/1); *workload describes the tokens fed. */
int tb_bench_run(const tb_bench_opts *o, const tb_machine *mach, FILE *out, json_t *runs,
                 json_t *comps, json_t **workload, tb_error *err);

/* The ternbench.result/1 document around runs and comparisons (steals them). */
json_t *tb_result_document(const tb_machine *mach, json_t *runs, json_t *comps, json_t *workload);

#endif
