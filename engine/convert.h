/*
 * convert.h - rewriting a GGUF model's weights in another format.
 *
 * The projections (blk.N.*.weight matrices) go to the chosen format; the
 * embedding and output matrices to the embedding format (or stay as they
 * are); everything else (norms, metadata, the vocabulary) is copied. Each
 * matrix is dequantised to f32 and quantised again, one tensor in memory at
 * a time, and the file is written atomically.
 *
 * A ternary-valued matrix (every nonzero weight of one magnitude, as BitNet
 * weights and the dummy models' f16 twins are) converts to a ternary format
 * losslessly. Anything else is refused for a ternary target unless forced,
 * and then ternarised with BitNet b1.58's absmean rule
 * (s = mean|W|, w = s * clamp(round(W / s), -1, 1)): accuracy is lost.
 */
#ifndef TB_CONVERT_H
#define TB_CONVERT_H

#include <stdbool.h>

#include "formats.h"
#include "tb_error.h"

/* llama.cpp's quantisation mixes (llama-quantize's names): a base format for
 * the projections, some of them raised by tensor and layer, and the output
 * matrix (the embedding when it is tied) in q6_k. */
typedef enum tb_mix {
    TB_MIX_NONE, /* every projection in the one format */
    TB_MIX_Q2_K, TB_MIX_Q3_K_S, TB_MIX_Q3_K_M, TB_MIX_Q3_K_L, TB_MIX_Q4_K_S, TB_MIX_Q4_K_M,
    TB_MIX_Q5_K_S, TB_MIX_Q5_K_M,
} tb_mix;

/* "q4_k_m" -> TB_MIX_Q4_K_M and its base q4_k; false for a name that is no mix. */
bool tb_mix_parse(const char *name, tb_mix *mix, tb_format *base);
/* The format a mix gives projection `tensor` (its name after "blk.N.") of
 * layer `layer` of `layers`, in a model with `gqa` query heads per KV head. */
tb_format tb_mix_format(tb_mix mix, tb_format base, const char *tensor, int layer, int layers, int gqa);

typedef struct tb_convert_opts {
    tb_format fmt;              /* the projections' format (a mix: its base) */
    tb_mix mix;
    bool embd_set;              /* false: keep the embedding/output types */
    tb_format embd;
    bool force;                 /* ternarise non-ternary matrices */
} tb_convert_opts;

typedef struct tb_convert_report {
    int converted, copied;      /* tensors re-encoded, tensors copied as they were */
    int ternarised;             /* matrices that were not ternary-valued (forced) */
    char first_lossy[96];       /* the first of those */
    double bytes_in, bytes_out; /* tensor data */
} tb_convert_report;

int tb_convert(const char *in, const char *out, const tb_convert_opts *o, tb_convert_report *rep,
               tb_error *err);

#endif
