/*
 * peer.h - external engines beside ternbench's: runs a user's own llama.cpp or
 * bitnet.cpp `llama-bench` with the same tests, threads, repetitions and
 * batch on a GGUF file, reads its `-o json` output, and turns its rows into
 * runs of the result document (model "peer:NAME:FILE"). The suite never
 * downloads or builds a peer; a missing or failing one is reported, not fatal.
 */
#ifndef TB_PEER_H
#define TB_PEER_H

#include <jansson.h>

#include "bench.h"

/* Runs peer NAME at PATH on model (a GGUF path) with o's tests, thread counts,
 * repetitions and batch; appends runs to `runs`; returns a status object
 * {name, path, model, ok, detail} for the document's "peers" list. */
json_t *tb_peer_run(const char *name, const char *path, const char *model, const tb_bench_opts *o,
                    json_t *runs);

#endif
