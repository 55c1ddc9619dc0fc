/*
 * sampling.h - choosing the next token from logits.
 *
 * The chain, in llama.cpp's default order: repetition penalty over the last
 * repeat_last_n tokens (a positive logit divided by the penalty, a negative
 * one multiplied), top-k, top-p (nucleus), min-p (relative to the most likely
 * token), temperature, then a draw from the softmax with a seeded generator.
 * temperature <= 0 is greedy: the most likely token after the penalty (ties go
 * to the lowest id). Nothing is allocated per token.
 */
#ifndef TB_SAMPLING_H
#define TB_SAMPLING_H

#include <stdint.h>

#include "tb_error.h"

typedef struct tb_sampling_params {
    float temperature;          /* 0: greedy */
    int top_k;                  /* 0: off */
    float top_p;                /* 1: off */
    float min_p;                /* 0: off */
    float repeat_penalty;       /* 1: off */
    int repeat_last_n;          /* tokens the penalty looks back over */
    uint64_t seed;
} tb_sampling_params;

/* llama.cpp's defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05,
 * repeat penalty 1.0 over the last 64 tokens, seed 0. */
tb_sampling_params tb_sampling_defaults(void);

typedef struct tb_sampling tb_sampling;

/* Checks the parameters (a message names the bad one) and allocates. */
int tb_sampling_new(const tb_sampling_params *p, int vocab, tb_sampling **out, tb_error *err);
void tb_sampling_free(tb_sampling *s);

/* The next token for logits (vocab values, left unchanged). */
int tb_sampling_sample(tb_sampling *s, const float *logits);
/* Records a token (prompt or generated) for the repetition penalty. */
void tb_sampling_accept(tb_sampling *s, int token);

#endif
