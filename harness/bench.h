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
#include "meters.h"
#include "tb_error.h"

enum {
    TB_BENCH_MAX_MODELS = 16,
    TB_BENCH_MAX_PEERS = 4,
    TB_BENCH_MAX_ENGINES = TB_BENCH_MAX_MODELS * (1 + TB_BENCH_MAX_PEERS),
    TB_BENCH_MAX_TESTS = 8,
    TB_BENCH_MAX_REPS = 100,   /* rounds at most */
    TB_BENCH_MAX_RETRIES = 20, /* extra tries per cell at most */
};

/* The repetitions bench runs by default: the fewest whose median interval
 * covers 95 % (order statistics; stats.h). */
#define TB_BENCH_DEFAULT_REPS 6

typedef struct tb_bench_test {
    char name[24];             /* tg64, pp128, pp32@b1, pp512+tg128 */
    int tokens;                /* prompt tokens (pp, pg) or generated tokens (tg) */
    bool prompt;
    int batch;                 /* prompt batch; 0 = the options' */
    int gen;                   /* pg: tokens generated after the prompt */
} tb_bench_test;

/* Stand-ins for the engine's timing, the energy meter, the machine's losses
 * and the clock, for tests of the runner's statistics and of its decisions
 * (redoing disturbed repetitions, stopping at a precision or a time limit).
 * run() gives the seconds try `attempt` (0 the first, then the retries) of
 * test t on model i in round `round` takes (the models still load, but do
 * not run); energy(), when set, the joules it takes, reported as meter
 * `meter_name`; losses(), when set, the seconds it lost to the hypervisor
 * (steal, all CPUs) and to run-queue waits (the pool's threads), instead of
 * /proc's; now(), when set, the clock --max-time is counted on. */
typedef struct tb_bench_hooks {
    double (*run)(void *ctx, int model, int test, int round, int attempt);
    double (*energy)(void *ctx, int model, int test, int round, double seconds);
    const char *meter_name;
    void *ctx;
    void (*losses)(void *ctx, int model, int test, int round, int attempt, double seconds,
                   double lost[2]);
    double (*now)(void *ctx);
} tb_bench_hooks;

typedef struct tb_bench_opts {
    const char *specs[TB_BENCH_MAX_MODELS]; /* GGUF paths or dummy:PRESET:FORMAT */
    int nmodels;
    tb_bench_test tests[TB_BENCH_MAX_TESTS];
    int ntests;
    long threads, reps, warmup, seed, batch;
    double idle_s;             /* measure idle power this long first; 0: no net energy */
    double idle_w;             /* idle power measured before (idle_given): subtracted as is */
    bool idle_given;
    tb_meter_choice meter;     /* meter.name NULL: the first that works */
    long thread_list[8];       /* several thread counts, each run in turn (nthreads > 0) */
    int nthreads;
    const char *prompt_file;   /* tokenized by each model's vocabulary; NULL: seeded ids */
    /* Trust: a repetition that lost more than max_lost of its time (steal or
     * run-queue wait) is redone, at most `retries` extra tries per cell; a
     * cell that runs out of tries is marked tainted and its verdicts withheld. */
    double max_lost;           /* 0: the default, 5 % */
    long retries;              /* -1: the default, 3 */
    /* Precision: with precision > 0, rounds are added after `reps` until every
     * comparison's 95 % interval lies within +-precision of its estimate, or
     * max_time seconds (0: no limit) or TB_BENCH_MAX_REPS rounds are spent. */
    double precision, max_time;
    int count;                 /* tb_count_kind: also count instructions under valgrind */
    bool profile;              /* one more run of each test timing each phase of a token */
    /* Quality: after the speed runs, each of ternbench's models scores a text
     * (`seeded`: seeded ids) as llama-perplexity does, and every model with an
     * f16 twin (same shapes and vocabulary) its KL divergence from it. */
    const char *quality;       /* a text file, "seeded", or NULL: not measured */
    long quality_ctx;          /* tokens per chunk (0: 512) */
    long quality_chunks;       /* chunks at most (0: all of a text; 4 of seeded ids) */
    /* Peers: external llama-bench binaries (NAME=PATH), each run on every GGUF
     * file among specs, interleaved with ternbench's runs (peer.h). */
    const char *peer_names[TB_BENCH_MAX_PEERS], *peer_paths[TB_BENCH_MAX_PEERS];
    int npeers;
    const char *progress;      /* what the terminal's progress line calls this run, or NULL */
    const char *label;         /* the machine's name (--label), or NULL */
    const tb_bench_hooks *hooks; /* NULL: the real engine and meters */
} tb_bench_opts;

/* What a run adds to a result document: one run per (engine, test,
 * threads), one comparison per ternary/baseline pair, the workload, the
 * weather per thread count, each peer's status per file. */
typedef struct tb_bench_doc {
    json_t *runs, *comps, *workload, *weather, *peers, *quality;
} tb_bench_doc;

/* Empty arrays (workload NULL); tb_bench_doc_free releases what is left. */
void tb_bench_doc_init(tb_bench_doc *d);
void tb_bench_doc_free(tb_bench_doc *d);

/* Adds "tgN"/"ppN" tests from a comma-separated list of token counts;
 * returns TB_EINVAL with a message for a bad one. A count of 0 adds nothing
 * (llama-bench's "-p 0": skip). */
int tb_bench_add_tests(tb_bench_opts *o, const char *list, bool prompt, tb_error *err);

/* Adds a prompt-then-generate test ppP+tgN (llama-bench's -pg P,N): tokens/s
 * counts all P + N tokens over the whole time. */
int tb_bench_add_pg(tb_bench_opts *o, int prompt, int gen, tb_error *err);

/* The batch a test runs with under the options' default batch: a prompt's
 * batches hold min(batch, tokens) tokens, decoding one. */
int tb_bench_test_batch(const tb_bench_test *t, long batch);

/* Names prompt tests by what they run: "ppN" when the prompt goes in one
 * batch, "ppN@bB" when it takes several of B tokens (so that results of
 * different batch sizes never share a name). Call once the batch is known. */
void tb_bench_name_tests(tb_bench_opts *o);

/* The token sequence every model is fed: seeded, valid for every vocabulary
 * (ids below vocab, the smallest vocabulary of the run). */
void tb_bench_tokens(int *ids, int n, long seed, int vocab);

struct tb_model;
/* Feeds n tokens from an empty cache in batches of `batch`, then `gen` more
 * one at a time; seconds, or -1 when the model refused a token. */
double tb_bench_feed(struct tb_model *m, const int *ids, int n, int batch, int gen);

/* Loads and runs the models (and peers); prints a llama-bench-like table to
 * out and adds to doc (ternbench.result/2). doc->workload is replaced. */
int tb_bench_run(const tb_bench_opts *o, const tb_machine *mach, FILE *out, tb_bench_doc *doc,
                 tb_error *err);

/* Idle power with the meter c chooses: 1 s windows, at least five, until the
 * mean's 95 % interval is within +-2 % or max_s seconds are spent. TB_OK with
 * *watts and *doc ({meter, watts: {mean, ci, windows}, window_s}); an error
 * when there is no meter (nothing to subtract: no net energy). */
int tb_bench_idle(const tb_meter_choice *c, double max_s, double *watts, json_t **doc, tb_error *err);

/* The ternbench.result/2 document around doc's parts (steals them; doc is
 * left empty); settings describes how they were measured, or NULL. */
json_t *tb_result_document(const tb_machine *mach, tb_bench_doc *doc, const tb_bench_opts *settings);

#endif
