/*
 * count.h - counting instead of timing: each model's forward pass run under
 * valgrind's callgrind, with collection switched on around each test only,
 * gives instructions (and, with a cache simulation, last-level misses) per
 * token. Counted, not timed: the same build, inputs and environment give the
 * same count whatever else the machine does, so a CI gate on it can be
 * tight where a gate on tokens/s cannot (the VM's bandwidth drifts ~1.6x).
 *
 * What is counted: one thread (a pool of several spins, and its spinning
 * would be counted), the kernels valgrind can run (it has no AVX-512, so the
 * dispatch picks AVX2 by itself), and the forward pass alone: loading,
 * warm-up and everything around the tests are not collected.
 *
 * How: bench (the parent) writes each dummy model to a temporary GGUF file
 * (synthesising it under valgrind would take minutes) and the token ids to
 * another, then runs `valgrind --tool=callgrind ternbench count-run` per
 * model and reads callgrind's dumps, one per test.
 */
#ifndef TB_COUNT_H
#define TB_COUNT_H

#include <stdbool.h>

#include "bench.h"

typedef enum tb_count_kind { TB_COUNT_NONE, TB_COUNT_INSTRUCTIONS, TB_COUNT_CACHE } tb_count_kind;

/* Parses "instructions" or "cache" (instructions and simulated LL misses). */
int tb_count_parse(const char *text, tb_count_kind *out, tb_error *err);

typedef struct tb_count_result {
    bool ok;
    char why[512];             /* when not ok: why, and the fix */
    char isa[16];              /* the kernels that ran under valgrind */
    double instructions[TB_BENCH_MAX_TESTS]; /* per token */
    double ll_misses[TB_BENCH_MAX_TESTS];    /* per token (TB_COUNT_CACHE), else -1 */
} tb_count_result;

/* Counts model `spec` (a GGUF path or a dummy spec) over the tests of o,
 * fed ids (max_tokens of them). */
void tb_count_model(const char *spec, const tb_bench_opts *o, const int *ids, int max_tokens,
                    tb_count_kind kind, tb_count_result *out);

/* The hidden command bench runs under valgrind. */
int tb_cmd_count_run(int argc, char **argv);

#endif
