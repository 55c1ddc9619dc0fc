/*
 * model.h - a transformer loaded from GGUF: its config (shapes), its weights
 * (pointers into the mapped file, or owned conversions), and the run state
 * (every scratch buffer and the KV cache, allocated once at load).
 *
 * Architectures:
 *   bitnet-b1.58 (alias bitnet-25)  BitNet b1.58 2B4T: GQA, relu^2-gated FFN,
 *                                   attention and FFN sub-norms, NeoX RoPE, tied
 *                                   embedding as lm_head
 *   bitnet                          the paper's dummy models (legacy arch of
 *                                   bitnet.cpp's dummy generator): multi-head
 *                                   attention, SiLU-gated FFN, the same
 *                                   sub-norms; files with per-tensor `*.scale`
 *                                   tensors are refused
 *   llama                           llama.cpp's llama: SwiGLU FFN, no sub-norms,
 *                                   GQA, RoPE on adjacent pairs (the converter
 *                                   permutes Q and K for it), lm_head tied or not;
 *                                   with ternary weights, bitnet.cpp's Falcon3 and
 *                                   Llama3 1.58-bit files
 *   qwen2                           llama's graph with biases on q, k and v and
 *                                   NeoX RoPE
 *   qwen3                           llama's graph with an RMS norm over each
 *                                   head of q and k before RoPE (NeoX), and heads
 *                                   that need not divide the width
 *                                   (attention.key_length)
 */
#ifndef TB_MODEL_H
#define TB_MODEL_H

#include <stdbool.h>

#include "formats.h"
#include "gguf.h"
#include "threadpool.h"

typedef enum tb_arch { TB_ARCH_BITNET_B158, TB_ARCH_BITNET, TB_ARCH_LLAMA, TB_ARCH_QWEN2, TB_ARCH_QWEN3 } tb_arch;

/* The BitNet architectures (sub-norms, bitnet.cpp's type ids). */
static inline bool tb_arch_bitnet(tb_arch a)
{
    return a == TB_ARCH_BITNET_B158 || a == TB_ARCH_BITNET;
}

typedef struct tb_config {
    tb_arch arch;
    char arch_name[32];
    int dim, ffn, layers, heads, kv_heads, head_dim, vocab, ctx;
    int q_dim;                       /* heads x head_dim: dim, except in some qwen3 */
    float rope_base, eps;
} tb_config;

typedef struct tb_layer {
    const float *attn_norm, *attn_sub_norm, *ffn_norm, *ffn_sub_norm; /* sub-norms: NULL in llama */
    const float *bq, *bk, *bv;       /* qwen2's biases, else NULL */
    const float *q_norm, *k_norm;    /* qwen3's per-head norms (head_dim), else NULL */
    tb_matrix wq, wk, wv, wo, gate, up, down;
} tb_layer;

typedef enum tb_kv_type { TB_KV_F16, TB_KV_F32 } tb_kv_type;

/* The phases of a forward pass, for a profile of where a token's time goes
 * (tb_run_state.profile). The pool's fork and join around the weights'
 * products and attention (tb_pool_time_sync) is a phase of its own. */
typedef enum tb_phase {
    TB_PHASE_EMBED,                  /* the token's embedding row */
    TB_PHASE_NORM,                   /* RMS norms and sub-norms */
    TB_PHASE_QUANT,                  /* activations quantised for the weights' kernels */
    TB_PHASE_QKV,                    /* weights: q, k, v */
    TB_PHASE_ROPE_KV,                /* rotary embedding, the KV cache's store */
    TB_PHASE_ATTN,                   /* attention over the cache */
    TB_PHASE_O,                      /* weights: o */
    TB_PHASE_GATE_UP,                /* weights: gate, up */
    TB_PHASE_ELEMENTWISE,            /* the FFN's gate, the residual adds */
    TB_PHASE_DOWN,                   /* weights: down */
    TB_PHASE_LM_HEAD,                /* weights: the lm_head (logits) */
    TB_PHASE_SYNC,                   /* the pool's fork and join (weights' products, attention) */
    TB_PHASES
} tb_phase;

typedef struct tb_run_state {
    int max_batch;                   /* tokens per forward call the buffers hold */
    /* per token (max_batch rows each): */
    float *x, *xb, *xb2, *q, *k, *v, *hb, *hb2;
    float *att;                      /* heads x ctx attention scores */
    float *logits;                   /* vocab: the last token's */
    tb_act act_dim[TB_ACT_KINDS], act_ffn[TB_ACT_KINDS]; /* per activation kind, k = dim and ffn */
    tb_act act_q[TB_ACT_KINDS];      /* k = q_dim where that is neither (attn_output) */
    tb_kv_type kv_type;
    void *kcache, *vcache;           /* layers x kv_heads x ctx x head_dim, f16 or f32 */
    int pos;                         /* tokens in the cache */
    double *profile;                 /* when set: seconds added per tb_phase */
    double pool_sync;                /* with a profile: the pool's synchronisation seconds */
} tb_run_state;

typedef struct tb_model {
    tb_config cfg;
    tb_gguf *gguf;
    tb_matrix embd;                  /* token_embd: vocab rows of dim */
    tb_matrix lm_head;               /* output.weight, or the tied embd */
    const float *output_norm;
    tb_layer *layers;
    tb_run_state rs;
    tb_pool *pool;
    tb_isa isa;
    tb_vec_fns vec;                  /* attention helpers for isa */
    void **owned;                    /* buffers the model allocated (dummy weights,
                                      * relaid-out matrices of a mapped file) */
    int n_owned;
    char name[64];                   /* file name or dummy:PRESET:FORMAT */
    char preset[16];                 /* the dummy preset it is (ternbench.preset in files
                                      * ternbench wrote), else "" */
    size_t weight_bytes;             /* bytes of all weights read per token */
    double params;                   /* weights in the projections and the embedding */
} tb_model;

/* The phase's name in tables and documents: "qkv", "attention", ... */
const char *tb_phase_name(tb_phase p);

/* Bytes of weights phase p reads per token (0 for phases without weights). */
size_t tb_phase_weight_bytes(const tb_model *m, tb_phase p);

/* The kernel format a GGML type id stands for in a file of bitnet.cpp's family
 * (bitnet_file) or another; false where ternbench has none. */
bool tb_ggml_type_format(uint32_t type, bool bitnet_file, tb_format *f);
#define TB_READABLE_TYPES                                                                    \
    "F32, F16, BF16, Q8_0, Q4_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0, I2_S"
/* The GGML type id a file stores format f as; TB_EINVAL with the way out where
 * there is none (tl2 and t1_67 are built in memory; I2_S, id 36, exists in bitnet files only). */
int tb_format_file_type(tb_format f, bool bitnet_file, uint32_t *type, tb_error *err);
/* Whether f has a GGUF type at all (tl2 and t1_67 are built in memory at load). */
bool tb_format_in_files(tb_format f);
/* TB_EINVAL unless f can hold the embedding / lm_head (read row by row; not ternary). */
int tb_embd_format_check(tb_format f, tb_error *err);

/* Allocates the run state and thread pool of a model whose config and
 * weights are set (used by the loader and by dummy.c). */
int tb_model_finish(tb_model *m, int threads, tb_kv_type kv, tb_error *err);

/* bytes the model frees with itself (huge pages where large: tb_alloc_streamed);
 * NULL with err set when memory is short. */
void *tb_model_own(tb_model *m, size_t bytes, tb_error *err);

/* Opens "dummy:PRESET[:FORMAT]" (synthesised, see dummy.h) or a GGUF path. */
int tb_model_open(const char *spec, int threads, tb_isa isa, int ctx_len, tb_kv_type kv,
                  tb_model **out, tb_error *err);

/* Loads path (GGUF) for threads threads at the given ISA; ctx_len 0 = the
 * file's context length (capped at 4096). "FILE@FORMAT" (FILE not itself a
 * file) loads FILE with its ternary projections re-encoded in FORMAT, a
 * ternary format without a GGUF type (t1_67, tl2): losslessly, or refused
 * where a projection is not ternary with one scale. */
int tb_model_load(const char *path, int threads, tb_isa isa, int ctx_len, tb_kv_type kv,
                  tb_model **out, tb_error *err);
void tb_model_free(tb_model *m);

/* Clears the KV cache. */
void tb_model_reset(tb_model *m);

/* Replaces the model's thread pool with one of n threads. */
int tb_model_set_threads(tb_model *m, int n, tb_error *err);

/* Sizes the per-token buffers for batches of up to n tokens (1 at load).
 * Call before measuring: it allocates. */
int tb_model_set_batch(tb_model *m, int n, tb_error *err);

/* Feeds one token at the next position; returns the logits (vocab floats,
 * owned by the model, valid until the next call), or NULL when the context
 * is full or the token is outside the vocabulary. */
const float *tb_model_forward(tb_model *m, int token);

/* Feeds n tokens (n <= the batch size) as one batch: every matrix product
 * runs as a GEMM over the n tokens, attention is causal within the batch.
 * Returns the last token's logits, or NULL as above. */
const float *tb_model_forward_batch(tb_model *m, const int *tokens, int n);

/* As tb_model_forward_batch, but the logits of every token of the batch go
 * to out (n x vocab floats, token-major). TB_EINVAL when the batch does not
 * fit or a token is outside the vocabulary. */
int tb_model_forward_all(tb_model *m, const int *tokens, int n, float *out);

/* As tb_model_forward_all, but only tokens first..n-1 get logits (into out,
 * (n - first) x vocab): the lm_head runs over those alone (perplexity
 * scores the second half of a chunk). */
int tb_model_forward_from(tb_model *m, const int *tokens, int n, int first, float *out);

#endif
