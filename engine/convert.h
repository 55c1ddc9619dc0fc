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

typedef struct tb_convert_opts {
    tb_format fmt;              /* the projections' format */
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
