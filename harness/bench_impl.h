/*
 * bench_impl.h - what the runner's two halves share: bench.c measures
 * (models, tokens, meters, rounds of attempts) and bench_doc.c turns the
 * measurements into tables and the result document. Not a public header.
 */
#ifndef TB_BENCH_IMPL_H
#define TB_BENCH_IMPL_H

#include "bench.h"
#include "count.h"
#include "counters.h"
#include "model.h"
#include "peer.h"

/* Time a run lost to others, per kind: the hypervisor's steal (machine-wide,
 * over all the guest's CPUs) and the pool's threads waiting on a run queue
 * inside the guest (other processes on its CPUs). */
enum { LOSS_STEAL, LOSS_WAIT, LOSSES };

typedef struct loss_kind {
    const char *key;          /* in the run's counters */
    const char *name;         /* in attempts and taint records */
    const char *who, *of;     /* "<who> for N % of <of>" */
    const char *why;
} loss_kind;
extern const loss_kind bench_loss_kinds[LOSSES];

/* One timed try of a cell in a round: kept, or redone because the machine
 * took more than max_lost of its time. */
typedef struct attempt {
    int round;
    double started;           /* seconds since the measurement began */
    double seconds, tps;
    double share[LOSSES];     /* of the time it could have had */
    bool kept;
} attempt;

/* One model x one test at one thread count: its kept repetitions (one per
 * round at most; a round whose tries were all disturbed has none) and every
 * attempt. */
typedef struct cell {
    int n;                    /* kept repetitions */
    int round[TB_BENCH_MAX_REPS];
    double tps[TB_BENCH_MAX_REPS], wgbps[TB_BENCH_MAX_REPS], mgbps[TB_BENCH_MAX_REPS];
    double roof[TB_BENCH_MAX_REPS], frac[TB_BENCH_MAX_REPS];
    double jpt[TB_BENCH_MAX_REPS]; /* joules per token (measured), when a meter exists */
    double jpt_net[TB_BENCH_MAX_REPS], watts[TB_BENCH_MAX_REPS];
    double cpu_s[TB_BENCH_MAX_REPS], ctxsw[TB_BENCH_MAX_REPS], faults[TB_BENCH_MAX_REPS];
    double loss[LOSSES][TB_BENCH_MAX_REPS];     /* seconds lost per kind */
    bool loss_ok[LOSSES];                       /* read in every repetition */
    double hw[TB_HW_EVENTS][TB_BENCH_MAX_REPS]; /* per run, summed over the pool's threads */
    bool hw_ok[TB_HW_EVENTS];                   /* counted in every repetition */
    double hw_running[TB_HW_EVENTS];            /* the least share an event ran on the PMU */
    char hw_why[TB_HW_EVENTS][160];
    attempt tries[TB_BENCH_MAX_REPS + TB_BENCH_MAX_RETRIES];
    int ntries, redone;       /* attempts, and those redone */
    bool tainted;             /* a disturbed attempt after the retries ran out */
    bool profiled;            /* --profile: seconds per token by phase, from one more run */
    double profile[TB_PHASES], profile_s; /* profile_s: the whole run's, per token */
    double profile_roof;      /* GB/s: the probes just before and after the profile run */
    double taint_share;       /* the largest share lost by an attempt not kept */
    int taint_kind;
} cell;

/* What runs: ternbench on one of its models, or a peer's llama-bench on
 * that model's file (the model then gives the shapes, format and bytes). */
typedef struct engine {
    char name[200];           /* the model's name, or peer:NAME:FILE */
    tb_model *model;
    int index;                /* of the model: its row of ids */
    const char *peer;         /* the peer's name, or NULL for ternbench */
    const char *peer_path;
    bool ternbench;           /* the peer is another build of ternbench */
    const char *file;         /* the GGUF file (or dummy model) a peer runs */
    tb_peer_info info;
    bool failed;              /* a peer that stopped working: no more tries */
    char why[600];
} engine;

/* Everything one tb_bench_run holds. */
typedef struct bench {
    const tb_bench_opts *o;
    const tb_machine *mach;
    tb_model *models[TB_BENCH_MAX_MODELS];
    engine engines[TB_BENCH_MAX_ENGINES];
    int nengines;
    int *ids;                 /* max_tokens per model, a row each */
    int max_tokens, min_vocab, file_tokens[TB_BENCH_MAX_MODELS];
    cell *cells;              /* nengines x ntests, for the thread count running */
    long threads;
    int rounds;               /* rounds run at this thread count */
    double max_lost;
    int retries;
    /* energy */
    const char *meter_name;   /* NULL: none (energy_why says why) */
    char energy_why[1200];
    double idle_w;            /* idle power subtracted for net joules */
    bool idle_ok;             /* idle power was measured */
    char idle_why[300];
    /* hardware counters: NULL when they open, else why not */
    const char *hw_why;
    char hw_buf[512];
    /* instructions per token under callgrind, per model (o->count) */
    tb_count_result counts[TB_BENCH_MAX_MODELS];
    /* notes gathered over every thread count */
    double worst[LOSSES];     /* the largest share lost by a kept attempt above max_lost */
    struct {
        int engine, test;
        long threads;
    } worst_run[LOSSES];      /* the try that lost it */
    int redone_total, tainted_cells;
} bench;

static inline cell *bench_cell(bench *b, int e, int test)
{
    return &b->cells[e * b->o->ntests + test];
}

const char *bench_model_format(const tb_model *m);
bool bench_model_ternary(const tb_model *m);
/* Models compare when they have the same shapes (the same preset or model). */
bool bench_same_shape(const tb_model *a, const tb_model *b);

/* Which pairs are compared: a ternary engine over a baseline engine of the
 * same shape, when both are the same engine, or the baseline is f16 (the
 * published claim: bitnet.cpp's ternary over llama.cpp's f16), or the
 * ternary one is ternbench's (its ternary over every engine's baselines).
 * With another build of ternbench as a peer, that peer's runs are compared
 * only as the base of this build's run of the same model (A/B). */
bool bench_compares(const bench *b, int x, int y);

/* The model's preset (dummy or a file ternbench wrote), else "". */
const char *bench_model_size(const tb_model *m);

/* The rounds in which both cells kept a repetition: their indices into a's
 * and b's samples; returns how many. */
int bench_pairs(const cell *a, const cell *b, int *ia, int *ib);

/* Bytes of KV cache a token of test t reads on average (its position grows
 * over the test). */
double bench_kv_bytes(const tb_model *m, const tb_bench_test *t);

/* A text file as model m's vocabulary tokenizes it (its BOS first when bos
 * and the vocabulary adds one); opt names the option in errors. *bos_id,
 * unless NULL: the token that opens a sequence where the vocabulary adds
 * one, else -1. */
int bench_text_tokens(const tb_model *m, const char *path, const char *opt, bool bos, int **ids,
                      int *n, int *bos_id, tb_error *err);

/* --quality's tokens per chunk (the models' cache must hold them). */
int bench_quality_ctx(const tb_bench_opts *o);

/* bench_quality.c: --quality, after the speed runs: prints the quality table
 * and fills doc->quality. A model that cannot be scored says why there. */
void bench_quality(bench *b, FILE *out, tb_bench_doc *doc);

/* bench_doc.c: prints the tables of one thread count and appends its runs
 * and comparisons to the document's arrays; then, once at the end, the notes
 * under the tables. */
void bench_report_threads(bench *b, FILE *out, tb_bench_doc *doc);
void bench_report_notes(bench *b, FILE *out);

#endif
