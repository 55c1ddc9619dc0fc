/*
 * peer.h - external engines beside ternbench's own: a user's llama.cpp or
 * bitnet.cpp `llama-bench`, run on the same GGUF files as ternbench, one
 * invocation per repetition and test (`-r 1`, only that test, the same
 * threads and batch), so that its repetitions interleave with ternbench's in
 * bench's rounds and the machine's drift falls on every engine alike.
 *
 * What is read of a peer: its `-o json` row (tokens/s of the timed run,
 * which excludes model loading and llama-bench's own warm-up; its build
 * commit, backends, CPU and model type). What is not: its threads' run-queue
 * waits (they are not this process's); the share of the CPUs other
 * processes took meanwhile stands in for them. The suite never downloads or
 * builds a peer; one that cannot run a file says why (its loader's message,
 * from a verbose re-run) and the rest goes on.
 *
 * A peer may be another build of ternbench: it is run as `ternbench
 * llama-bench` (the same command line), runs dummy models too, and is
 * compared with this build model by model (an A/B run of two builds).
 */
#ifndef TB_PEER_H
#define TB_PEER_H

#include <stdbool.h>
#include <stddef.h>

#include "bench.h"

/* What a peer says about itself in its JSON rows. */
typedef struct tb_peer_info {
    char build[64];            /* build_commit (build_number) */
    char backends[64];
    char cpu[160];
    char model_type[160];      /* e.g. "bitnet 700M I2_S - 2 bpw ternary" */
} tb_peer_info;

/* One timed repetition of a peer. */
typedef struct tb_peer_sample {
    double tps;                /* tokens/s of llama-bench's timed run */
    double seconds;            /* its duration: the run's tokens / tps */
    double wall;               /* the whole invocation, load and warm-up included */
} tb_peer_sample;

/* Whether path is a ternbench binary (its --version says so). */
bool tb_peer_is_ternbench(const char *path);

/* The llama-bench arguments of one test (its own -p/-n/-pg, -b and -ub
 * together, -t) into argv (cap entries, NULL-terminated; strings point into
 * buf), after `llama-bench` for a ternbench peer; returns argc. */
int tb_peer_args(const char *path, bool ternbench, const char *file, const tb_bench_test *t, int batch,
                 long threads, char **argv, int cap, char *buf, size_t bufcap);

/* Runs one repetition. TB_OK, or an error whose text says why: the exit
 * status and the tail of llama-bench's verbose output (its loader's message)
 * when it failed, or what was wrong with its JSON. */
int tb_peer_once(const char *path, bool ternbench, const char *file, const tb_bench_test *t, int batch,
                 long threads, tb_peer_sample *out, tb_peer_info *info, tb_error *err);

#endif
