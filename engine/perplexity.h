/*
 * perplexity.h - a model's perplexity over a text, and its KL divergence
 * from a base model's, computed as llama.cpp's llama-perplexity computes them.
 *
 * The tokens are cut into chunks of ctx tokens (as many whole chunks as the
 * text holds); each chunk runs from an empty cache, its first token replaced
 * by BOS where the vocabulary adds one, and only the second half is scored:
 * the negative log-likelihood of token j + 1 given tokens 0..j, for j from
 * ctx/2 to ctx - 2. PPL = exp(mean NLL), with the standard error
 * PPL * sqrt(var(NLL) / (count - 1)).
 *
 * The base file is llama-perplexity's own (--kl-divergence-base), so one made
 * by llama.cpp serves here and the other way round. Little-endian:
 *   "_logits_", uint32 ctx, int32 vocab, int32 chunks,
 *   int32 tokens[chunks * ctx] (as in the text, BOS not substituted),
 *   then per chunk, per scored position, nv = 2 ((vocab + 1) / 2) + 4 uint16:
 *   float scale, float min_log_prob, vocab codes (and a zero pad when vocab
 *   is odd). The log-probabilities within 16 of the largest logit are kept:
 *   log p_i = scale * code_i + min_log_prob, code 0 at or below the floor.
 */
#ifndef TB_PERPLEXITY_H
#define TB_PERPLEXITY_H

#include <stdbool.h>
#include <stdio.h>

#include "model.h"

typedef struct tb_ppl_opts {
    int ctx;                    /* tokens per chunk (0: the file's, or 512) */
    int batch;                  /* tokens per forward call (0: ctx) */
    int chunks;                 /* at most this many chunks (0: all) */
    int bos;                    /* the token that opens each chunk; -1: none */
    const char *base_path;      /* write the base file here, or read it with kld */
    bool kld;                   /* compare with the base file instead of writing it */
    FILE *progress;             /* "[1]12.3456,[2]..." as chunks finish, or NULL */
} tb_ppl_opts;

typedef struct tb_ppl_result {
    int chunks, ctx, count;     /* count: scored tokens */
    double ppl, ppl_err;
    double seconds;             /* forward passes and scoring */
    /* with kld: */
    double ppl_base, ppl_base_err;
    double ln_ratio, ln_ratio_err;   /* mean ln(PPL(Q) / PPL(base)) */
    double kld, kld_err;
    double kld_pct[11];              /* max, 99.9, 99, 95, 90, median, 10, 5, 1, 0.1 %, min */
    double same_top, same_top_err;   /* fractions */
    double dp_mean, dp_mean_err, dp_rms;  /* p(Q) - p(base) of the right token */
} tb_ppl_result;

/* The percentile labels of tb_ppl_result.kld_pct, in order. */
extern const char *const tb_ppl_kld_labels[11];

/* Bytes of a base file of chunks chunks of ctx tokens over vocab. */
double tb_ppl_base_bytes(int vocab, int ctx, int chunks);

/* Scores n tokens of a text (tokens is NULL with kld: the base file's are
 * used). TB_EINVAL for a text too short for two chunks, a base file that is
 * not one or does not fit the model (naming the file and the field). */
int tb_perplexity(tb_model *m, const int *tokens, int n, const tb_ppl_opts *o, tb_ppl_result *r,
                  tb_error *err);

#endif
