/*
 * dummy.h - the paper's dummy models, synthesised in memory (no file): the
 * shapes of bitnet.cpp's generate-dummy-bitnet-model.py (legacy `bitnet`
 * architecture: multi-head attention, SiLU gate, vocabulary 32002) and the
 * shape of BitNet-b1.58-2B-4T (`2B4T`: bitnet-b1.58 architecture, GQA 20/5,
 * relu^2 gate, vocabulary 128256).
 *
 * Projections are random ternary matrices times one f16-exact scale per
 * tensor, stored in the requested format: the ternary formats hold them
 * exactly; an f16/bf16/f32 twin holds the same dequantised values, q8_0 and
 * q4_0 twins what llama.cpp's quantisers make of them. So every format
 * computes (nearly) the same function and their speeds compare like for
 * like. The tied embedding / lm_head is F16, as in the official model, unless
 * another format is asked for (`dummy:2B4T:i2_s:q8_0`): at 2B4T it is more
 * than half the bytes read per decoded token.
 * Deterministic for a seed.
 */
#ifndef TB_DUMMY_H
#define TB_DUMMY_H

#include <stdint.h>

#include "model.h"

typedef struct tb_preset {
    const char *name;
    int dim, ffn, layers, heads, kv_heads, vocab;
    tb_arch arch;
    int head_dim;               /* 0: dim / heads */
} tb_preset;

/* The preset's head size (its own, or dim / heads). */
static inline int tb_preset_head_dim(const tb_preset *p)
{
    return p->head_dim ? p->head_dim : p->dim / p->heads;
}

extern const tb_preset tb_presets[];
extern const int tb_preset_count;

const tb_preset *tb_preset_find(const char *name);
/* tb_preset_find, or NULL with an error listing the known presets. */
const tb_preset *tb_preset_require(const char *name, tb_error *err);

/* Bytes of weights a preset takes in a format (projections + F16 embedding). */
uint64_t tb_preset_bytes(const tb_preset *p, tb_format fmt);

/* The dummy model of preset p with projections in fmt and the tied
 * embedding / lm_head in embd (f16 as in the official model, or f32, bf16,
 * q8_0, q4_0). */
int tb_model_dummy(const tb_preset *p, tb_format fmt, tb_format embd, uint64_t seed, int threads,
                   tb_isa isa, int ctx_len, tb_kv_type kv, tb_model **out, tb_error *err);

/* Streams the same tensors a dummy model of (p, fmt, seed) holds into a GGUF
 * file at path, with the architecture's metadata; w may already hold other
 * metadata (a vocabulary). One tensor is in memory at a time. tl2 is refused
 * (it has no GGUF type). */
int tb_dummy_write(const tb_preset *p, tb_format fmt, tb_format embd, uint64_t seed,
                   tb_gguf_writer *w, const char *path, tb_error *err);

/* A dummy model as a GGUF file every llama.cpp-family tool opens: the
 * vocabulary of tokenizer (a Hugging Face tokenizer.json) or, when NULL, a
 * placeholder SentencePiece vocabulary of the preset's size; then the
 * weights as tb_dummy_write writes them. */
int tb_dummy_save(const tb_preset *p, tb_format fmt, tb_format embd, uint64_t seed,
                  const char *tokenizer, const char *path, tb_error *err);

/* The weight seed `dummy:` specs use. */
#define TB_DUMMY_SEED 1

/* Reads "dummy:PRESET[:FORMAT[:EMBEDDING]]" (format i2_s and embedding f16
 * when left out); TB_EINVAL naming the spec and what is wrong. */
int tb_dummy_parse(const char *spec, const tb_preset **preset, tb_format *fmt, tb_format *embd,
                   tb_error *err);

#endif
