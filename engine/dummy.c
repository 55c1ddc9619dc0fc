/* dummy.c - synthesised models; see dummy.h. */
#include "dummy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "tb_mem.h"
#include "tokenizer.h"

const tb_preset tb_presets[] = {
    {"125M", 768, 3072, 11, 12, 12, 32002, TB_ARCH_BITNET, 0},
    {"350M", 1024, 3072, 24, 16, 16, 32002, TB_ARCH_BITNET, 0},
    {"700M", 1536, 4096, 24, 16, 16, 32002, TB_ARCH_BITNET, 0},
    {"1B", 2048, 3584, 24, 32, 32, 32002, TB_ARCH_BITNET, 0},
    {"1.5B", 1536, 9216, 28, 32, 32, 32002, TB_ARCH_BITNET, 0},
    {"2.7B", 3072, 7680, 24, 32, 32, 32002, TB_ARCH_BITNET, 0},
    {"3.8B", 3840, 8192, 24, 32, 32, 32002, TB_ARCH_BITNET, 0},
    {"7B", 4096, 12032, 32, 32, 32, 32002, TB_ARCH_BITNET, 0},
    {"13B", 5120, 13824, 40, 40, 40, 32002, TB_ARCH_BITNET, 0},
    {"30B", 6656, 16384, 60, 52, 52, 32002, TB_ARCH_BITNET, 0},
    {"70B", 8192, 24576, 80, 64, 64, 32002, TB_ARCH_BITNET, 0},
    {"100B", 8192, 45568, 72, 64, 64, 32002, TB_ARCH_BITNET, 0},
    {"2B4T", 2560, 6912, 30, 20, 5, 128256, TB_ARCH_BITNET_B158, 0},
};
const int tb_preset_count = sizeof tb_presets / sizeof tb_presets[0];

const tb_preset *tb_preset_find(const char *name)
{
    for (int i = 0; i < tb_preset_count; i++)
        if (!strcmp(tb_presets[i].name, name))
            return &tb_presets[i];
    return NULL;
}

const tb_preset *tb_preset_require(const char *name, tb_error *err)
{
    const tb_preset *p = tb_preset_find(name);
    if (!p) {
        char list[256] = "";
        for (int i = 0; i < tb_preset_count; i++) {
            strcat(list, i ? ", " : "");
            strcat(list, tb_presets[i].name);
        }
        tb_error_set(err, TB_EINVAL, "unknown preset '%s' (known: %s)", name, list);
    }
    return p;
}

uint64_t tb_preset_bytes(const tb_preset *p, tb_format fmt)
{
    int hd = tb_preset_head_dim(p), kv = p->kv_heads * hd, q = p->heads * hd;
    uint64_t layer = tb_format_bytes(fmt, q, p->dim) * 2 + tb_format_bytes(fmt, kv, p->dim) * 2 +
                     tb_format_bytes(fmt, p->ffn, p->dim) * 2 + tb_format_bytes(fmt, p->dim, p->ffn);
    return layer * (uint64_t)p->layers + tb_format_bytes(TB_FMT_F16, p->vocab, p->dim);
}

/* splitmix64: one independent stream per tensor. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A rows x k ternary matrix times an f16-exact scale, quantized into fmt at dst
 * (tb_format_bytes(fmt, rows, k) bytes); scratch holds rows x k floats. */
static int synth_matrix(tb_format fmt, int rows, int k, uint64_t seed, uint8_t *dst,
                        float *scratch, int threads, tb_error *err)
{
    uint64_t s = seed;
    float scale = (float)(16 + next(&s) % 16) / 64.0f; /* 0.25 .. 0.484, exact in f16 */
    size_t n = (size_t)rows * k;
    for (size_t i = 0; i < n; i += 39) {
        uint64_t r = next(&s) >> 1; /* 39 base-3 digits of a 63-bit number (3^39 < 2^63) */
        for (size_t j = 0; j < 39 && i + j < n; j++, r /= 3)
            scratch[i + j] = (float)((int)(r % 3) - 1) * scale;
    }
    return tb_format_quantize(fmt, scratch, rows, k, dst, threads, err);
}

/* vocab x dim values uniform with sd 0.02, rounded to f16 (the official
 * model's embedding type) and stored in fmt, scratch_n floats at a time. */
static int synth_embedding(int vocab, int dim, uint64_t seed, tb_format fmt, uint8_t *dst,
                           float *scratch, size_t scratch_n, int threads, tb_error *err)
{
    uint64_t s = seed, r = 0;
    size_t row_bytes = tb_format_bytes(fmt, 1, dim), i = 0;
    int chunk = (int)(scratch_n / (size_t)dim);
    for (int r0 = 0; r0 < vocab; r0 += chunk) {
        int rows = vocab - r0 < chunk ? vocab - r0 : chunk;
        for (size_t j = 0; j < (size_t)rows * dim; j++, i++) {
            if (i % 4 == 0)
                r = next(&s); /* four 16-bit uniforms per draw */
            float u = (float)(r & 0xffff) / 65536.0f - 0.5f;
            r >>= 16;
            scratch[j] = tb_f16_to_f32(tb_f32_to_f16(u * 0.0693f));
        }
        int rc = tb_format_quantize(fmt, scratch, rows, dim, dst + (size_t)r0 * row_bytes, threads, err);
        if (rc != TB_OK)
            return rc;
    }
    return TB_OK;
}

/* The tensors of a preset, in the order their seeds are drawn. Norm weights
 * are all ones. Both the in-memory model and `gen` (which streams the
 * tensors to a file) walk this list, so they hold the same weights. */
typedef enum { T_EMBD, T_NORM, T_BIAS, T_MATRIX } tensor_kind;

/* where a tensor goes in the model: the output norm, or a layer's field */
enum { S_EMBD, S_OUTPUT_NORM, S_ATTN_NORM, S_ATTN_SUB_NORM, S_FFN_NORM, S_FFN_SUB_NORM, S_Q_NORM,
       S_K_NORM, S_BQ, S_BK, S_BV, S_Q, S_K, S_V, S_O, S_GATE, S_UP, S_DOWN };

typedef struct dummy_tensor {
    char name[48];
    tensor_kind kind;
    int rows, k;           /* norm: rows = 1 */
    uint64_t seed;
    int layer, slot;
} dummy_tensor;

static dummy_tensor *plan(const tb_preset *p, uint64_t seed, int *count)
{
    int hd = tb_preset_head_dim(p), kv_dim = p->kv_heads * hd, q_dim = p->heads * hd;
    dummy_tensor *t = calloc(2 + (size_t)p->layers * 14, sizeof *t);
    if (!t)
        return NULL;
    int n = 0;
    uint64_t s = seed * 0x100000001b3ull + 1;
    t[n++] = (dummy_tensor){"token_embd.weight", T_EMBD, p->vocab, p->dim, next(&s), -1, S_EMBD};
    t[n++] = (dummy_tensor){"output_norm.weight", T_NORM, 1, p->dim, 0, -1, S_OUTPUT_NORM};
    for (int l = 0; l < p->layers; l++) {
        static const struct { const char *name; int slot; } norms[] = {
            {"attn_norm", S_ATTN_NORM}, {"attn_sub_norm", S_ATTN_SUB_NORM},
            {"ffn_norm", S_FFN_NORM}, {"ffn_sub_norm", S_FFN_SUB_NORM}};
        for (int i = 0; i < 4; i++) {
            if (!tb_arch_bitnet(p->arch) && (i == 1 || i == 3))
                continue; /* only BitNet has sub-norms */
            t[n] = (dummy_tensor){"", T_NORM, 1, i == 3 ? p->ffn : p->dim, 0, l, norms[i].slot};
            snprintf(t[n++].name, sizeof t->name, "blk.%d.%s.weight", l, norms[i].name);
        }
        for (int i = 0; p->arch == TB_ARCH_QWEN3 && i < 2; i++) { /* per-head norms: all ones */
            t[n] = (dummy_tensor){"", T_NORM, 1, hd, 0, l, S_Q_NORM + i};
            snprintf(t[n++].name, sizeof t->name, "blk.%d.attn_%c_norm.weight", l, "qk"[i]);
        }
        for (int i = 0; p->arch == TB_ARCH_QWEN2 && i < 3; i++) { /* biases: small, seeded */
            t[n] = (dummy_tensor){"", T_BIAS, 1, i ? kv_dim : q_dim, next(&s), l, S_BQ + i};
            snprintf(t[n++].name, sizeof t->name, "blk.%d.attn_%c.bias", l, "qkv"[i]);
        }
        struct { const char *name; int rows, k; } mats[] = {
            {"attn_q", q_dim, p->dim}, {"attn_k", kv_dim, p->dim}, {"attn_v", kv_dim, p->dim},
            {"attn_output", p->dim, q_dim}, {"ffn_gate", p->ffn, p->dim},
            {"ffn_up", p->ffn, p->dim}, {"ffn_down", p->dim, p->ffn}};
        for (int i = 0; i < 7; i++) {
            t[n] = (dummy_tensor){"", T_MATRIX, mats[i].rows, mats[i].k, next(&s), l, S_Q + i};
            snprintf(t[n++].name, sizeof t->name, "blk.%d.%s.weight", l, mats[i].name);
        }
    }
    *count = n;
    return t;
}

static size_t tensor_bytes(const dummy_tensor *t, tb_format fmt, tb_format embd)
{
    switch (t->kind) {
    case T_EMBD: return tb_format_bytes(embd, t->rows, t->k);
    case T_NORM:
    case T_BIAS: return (size_t)t->k * sizeof(float);
    default: return tb_format_bytes(fmt, t->rows, t->k);
    }
}

static int synth(const dummy_tensor *t, tb_format fmt, tb_format embd, uint8_t *dst,
                 float *scratch, size_t scratch_n, int threads, tb_error *err)
{
    switch (t->kind) {
    case T_EMBD:
        return synth_embedding(t->rows, t->k, t->seed, embd, dst, scratch, scratch_n, threads, err);
    case T_NORM:
        for (int i = 0; i < t->k; i++)
            ((float *)(void *)dst)[i] = 1.0f;
        return TB_OK;
    case T_BIAS: { /* uniform in [-0.05, 0.05) */
        uint64_t st = t->seed;
        for (int i = 0; i < t->k; i++)
            ((float *)(void *)dst)[i] = (float)((double)(next(&st) >> 11) / 9007199254740992.0 - 0.5) * 0.1f;
        return TB_OK;
    }
    default: return synth_matrix(fmt, t->rows, t->k, t->seed, dst, scratch, threads, err);
    }
}

static int check_fit(const tb_preset *p, tb_format fmt, tb_format embd, tb_error *err)
{
    if (tb_embd_format_check(embd, err) != TB_OK)
        return tb_error_prefix(err, "embedding format %s", tb_format_get(embd)->name);
    if (p->dim % tb_format_get(embd)->block)
        return tb_error_set(err, TB_EINVAL, "dummy:%s: its width %d does not fit %s's blocks of %d",
                            p->name, p->dim, tb_format_get(embd)->name, tb_format_get(embd)->block);
    const tb_format_traits *tr = tb_format_get(fmt);
    if (p->dim % tr->block || p->ffn % tr->block ||
        (tr->act != TB_ACT_F32 && tr->act != TB_ACT_Q8_0 && (p->dim % 128 || p->ffn % 128)))
        return tb_error_set(err, TB_EINVAL, "dummy:%s: its shapes (%d, %d) do not fit %s's blocks",
                            p->name, p->dim, p->ffn, tr->name);
    return TB_OK;
}

static void set_config(const tb_preset *p, int ctx_len, tb_config *c)
{
    static const char *const names[] = {[TB_ARCH_BITNET_B158] = "bitnet-b1.58", [TB_ARCH_BITNET] = "bitnet",
                                        [TB_ARCH_LLAMA] = "llama", [TB_ARCH_QWEN2] = "qwen2",
                                        [TB_ARCH_QWEN3] = "qwen3"};
    c->arch = p->arch;
    snprintf(c->arch_name, sizeof c->arch_name, "%s", names[p->arch]);
    c->dim = p->dim;
    c->ffn = p->ffn;
    c->layers = p->layers;
    c->heads = p->heads;
    c->kv_heads = p->kv_heads;
    c->head_dim = tb_preset_head_dim(p);
    c->q_dim = c->heads * c->head_dim;
    c->vocab = p->vocab;
    c->ctx = ctx_len > 0 ? ctx_len : 4096;
    c->rope_base = p->arch == TB_ARCH_BITNET_B158 ? 500000.0f : 10000.0f;
    c->eps = 1e-5f;
}

/* Points the model's field for tensor t at its synthesised bytes. */
static int attach(tb_model *m, const dummy_tensor *t, tb_format fmt, tb_format embd,
                  const uint8_t *buf, size_t bytes, tb_error *err)
{
    const float *vec = (const float *)(const void *)buf;
    if (t->slot == S_EMBD) {
        int rc = tb_matrix_init(&m->embd, embd, t->rows, t->k, buf, bytes, err);
        m->lm_head = m->embd; /* tied */
        return rc;
    }
    if (t->slot == S_OUTPUT_NORM) {
        m->output_norm = vec;
        return TB_OK;
    }
    tb_layer *L = &m->layers[t->layer];
    switch (t->slot) {
    case S_ATTN_NORM: L->attn_norm = vec; return TB_OK;
    case S_ATTN_SUB_NORM: L->attn_sub_norm = vec; return TB_OK;
    case S_FFN_NORM: L->ffn_norm = vec; return TB_OK;
    case S_FFN_SUB_NORM: L->ffn_sub_norm = vec; return TB_OK;
    case S_Q_NORM: L->q_norm = vec; return TB_OK;
    case S_K_NORM: L->k_norm = vec; return TB_OK;
    case S_BQ: L->bq = vec; return TB_OK;
    case S_BK: L->bk = vec; return TB_OK;
    case S_BV: L->bv = vec; return TB_OK;
    default: break;
    }
    tb_matrix *mats[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
    return tb_matrix_init(mats[t->slot - S_Q], fmt, t->rows, t->k, buf, bytes, err);
}

int tb_model_dummy(const tb_preset *p, tb_format fmt, tb_format embd, uint64_t seed, int threads,
                   tb_isa isa, int ctx_len, tb_kv_type kv, tb_model **out, tb_error *err)
{
    int rc = check_fit(p, fmt, embd, err);
    if (rc != TB_OK)
        return rc;
    tb_cpu_info cpu;
    tb_cpu_detect(&cpu);
    uint64_t need = tb_preset_bytes(p, fmt) - tb_format_bytes(TB_FMT_F16, p->vocab, p->dim) +
                    tb_format_bytes(embd, p->vocab, p->dim);
    if (cpu.mem_available_bytes && need > cpu.mem_available_bytes / 10 * 9)
        return tb_error_set(err, TB_ENOTSUP, "dummy:%s:%s needs %.1f GB of weights but only %.1f GB "
                            "of memory is available: choose a smaller preset or a smaller format",
                            p->name, tb_format_get(fmt)->name, (double)need / 1e9,
                            (double)cpu.mem_available_bytes / 1e9);
    tb_model *m = calloc(1, sizeof *m);
    if (!m)
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    snprintf(m->preset, sizeof m->preset, "%s", p->name);
    snprintf(m->name, sizeof m->name, "dummy:%s:%s%s%s", p->name, tb_format_get(fmt)->name,
             embd == TB_FMT_F16 ? "" : ":", embd == TB_FMT_F16 ? "" : tb_format_get(embd)->name);
    m->isa = isa;
    set_config(p, ctx_len, &m->cfg);
    int n = 0;
    dummy_tensor *tensors = plan(p, seed, &n);
    size_t scratch_n = (size_t)p->ffn * p->dim;
    float *scratch = malloc(scratch_n * sizeof *scratch);
    m->layers = calloc((size_t)p->layers, sizeof *m->layers);
    rc = tensors && scratch && m->layers ? TB_OK : tb_error_set(err, TB_ENOMEM, "out of memory");
    /* every tensor in one arena, so that the small ones share huge pages too */
    size_t total = 0;
    for (int i = 0; tensors && i < n; i++)
        total += (tensor_bytes(&tensors[i], fmt, embd) + 63) / 64 * 64;
    uint8_t *arena = rc == TB_OK ? tb_model_own(m, total, err) : NULL;
    if (rc == TB_OK && !arena)
        rc = TB_ENOMEM;
    for (int i = 0; rc == TB_OK && i < n; i++) {
        size_t bytes = tensor_bytes(&tensors[i], fmt, embd);
        uint8_t *buf = arena;
        arena += (bytes + 63) / 64 * 64;
        rc = synth(&tensors[i], fmt, embd, buf, scratch, scratch_n, threads, err);
        if (rc == TB_OK)
            rc = attach(m, &tensors[i], fmt, embd, buf, bytes, err);
    }
    free(scratch);
    free(tensors);
    if (rc == TB_OK)
        rc = tb_model_finish(m, threads, kv, err);
    if (rc != TB_OK) {
        tb_model_free(m);
        return rc;
    }
    *out = m;
    return TB_OK;
}

/* ---- gen: the same tensors streamed to a GGUF file ---- */

typedef struct gen_ctx {
    const dummy_tensor *tensors;
    tb_format fmt, embd;
    float *scratch;
    size_t scratch_n;
    int threads;
} gen_ctx;

static int gen_fill(void *ctx, int i, uint8_t *dst, size_t size, tb_error *err)
{
    gen_ctx *g = ctx;
    (void)size;
    return synth(&g->tensors[i], g->fmt, g->embd, dst, g->scratch, g->scratch_n, g->threads, err);
}

int tb_dummy_write(const tb_preset *p, tb_format fmt, tb_format embd, uint64_t seed,
                   tb_gguf_writer *w, const char *path, tb_error *err)
{
    int rc = check_fit(p, fmt, embd, err);
    if (rc != TB_OK)
        return rc;
    /* a llama of I2_S weights is a file of bitnet.cpp's family, as its
     * Falcon3 and Llama3 1.58-bit models are */
    bool bitnet = tb_arch_bitnet(p->arch) || (p->arch == TB_ARCH_LLAMA && fmt == TB_FMT_I2_S);
    uint32_t type, embd_type;
    if (tb_format_file_type(fmt, bitnet, &type, err) != TB_OK ||
        tb_format_file_type(embd, bitnet, &embd_type, err) != TB_OK)
        return tb_error_prefix(err, "%s", path);
    tb_config c;
    set_config(p, 4096, &c);
    const char *a = c.arch_name;
    char key[96];
#define ARCH_U32(suffix, v)                                   \
    snprintf(key, sizeof key, "%s." suffix, a);               \
    tb_gguf_writer_u32(w, key, (uint32_t)(v));
    tb_gguf_writer_str(w, "general.architecture", a);
    snprintf(key, sizeof key, "ternbench dummy %s %s", p->name, tb_format_get(fmt)->name);
    tb_gguf_writer_str(w, "general.name", key);
    tb_gguf_writer_str(w, "ternbench.preset", p->name); /* what a report groups it by */
    ARCH_U32("context_length", c.ctx)
    ARCH_U32("embedding_length", c.dim)
    ARCH_U32("feed_forward_length", c.ffn)
    ARCH_U32("block_count", c.layers)
    ARCH_U32("attention.head_count", c.heads)
    ARCH_U32("attention.head_count_kv", c.kv_heads)
    ARCH_U32("vocab_size", c.vocab)
    ARCH_U32("rope.dimension_count", c.head_dim)
    if (c.q_dim != c.dim) {
        ARCH_U32("attention.key_length", c.head_dim)
        ARCH_U32("attention.value_length", c.head_dim)
    }
#undef ARCH_U32
    snprintf(key, sizeof key, "%s.rope.freq_base", a);
    tb_gguf_writer_f32(w, key, c.rope_base);
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", a);
    tb_gguf_writer_f32(w, key, c.eps);
    int n = 0;
    dummy_tensor *tensors = plan(p, seed, &n);
    size_t scratch_n = (size_t)p->ffn * p->dim;
    gen_ctx g = {tensors, fmt, embd, malloc(scratch_n * sizeof(float)), scratch_n, tb_cpu_usable(NULL, 0)};
    if (!tensors || !g.scratch)
        rc = tb_error_set(err, TB_ENOMEM, "out of memory");
    for (int i = 0; rc == TB_OK && i < n; i++) {
        const dummy_tensor *t = &tensors[i];
        bool vec = t->kind == T_NORM || t->kind == T_BIAS;
        uint32_t tt = t->kind == T_EMBD ? embd_type : vec ? TB_GGML_F32 : type;
        uint64_t ne[2] = {(uint64_t)t->k, (uint64_t)t->rows};
        tb_gguf_writer_tensor(w, t->name, tt, bitnet, vec ? 1 : 2, ne);
    }
    if (rc == TB_OK)
        rc = tb_gguf_writer_write(w, path, gen_fill, &g, err);
    free(g.scratch);
    free(tensors);
    return rc;
}

int tb_dummy_save(const tb_preset *p, tb_format fmt, tb_format embd, uint64_t seed,
                  const char *tokenizer, const char *path, tb_error *err)
{
    tb_gguf_writer *w = tb_gguf_writer_new(32);
    if (!w)
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    /* a vocabulary always: llama.cpp-family tools refuse a model without one */
    int rc = tokenizer ? tb_tokenizer_import_hf(tokenizer, p->vocab, w, err)
                       : tb_tokenizer_placeholder(p->vocab, w, err);
    if (rc == TB_OK)
        rc = tb_dummy_write(p, fmt, embd, seed, w, path, err);
    tb_gguf_writer_free(w);
    return rc;
}

int tb_dummy_parse(const char *spec, const tb_preset **preset, tb_format *fmt, tb_format *embd,
                   tb_error *err)
{
    char name[32] = "", format[16] = "i2_s", lm[16] = "f16";
    const char *p = spec + 6, *colon = strchr(p, ':');
    size_t plen = colon ? (size_t)(colon - p) : strlen(p);
    const char *colon2 = colon ? strchr(colon + 1, ':') : NULL;
    size_t flen = colon ? (colon2 ? (size_t)(colon2 - colon - 1) : strlen(colon + 1)) : 0;
    if (strncmp(spec, "dummy:", 6) != 0 || plen == 0 || plen >= sizeof name || flen >= sizeof format ||
        (colon2 && strlen(colon2 + 1) >= sizeof lm))
        return tb_error_set(err, TB_EINVAL, "%s: expected dummy:PRESET[:FORMAT[:EMBEDDING]]", spec);
    memcpy(name, p, plen);
    if (colon) {
        memcpy(format, colon + 1, flen);
        format[flen] = '\0';
    }
    if (colon2)
        snprintf(lm, sizeof lm, "%s", colon2 + 1);
    if (!(*preset = tb_preset_require(name, err)))
        return tb_error_prefix(err, "%s", spec);
    if (tb_format_parse(format, fmt, err) != TB_OK || tb_format_parse(lm, embd, err) != TB_OK)
        return tb_error_prefix(err, "%s", spec);
    return TB_OK;
}

int tb_model_open(const char *spec, int threads, tb_isa isa, int ctx_len, tb_kv_type kv,
                  tb_model **out, tb_error *err)
{
    if (strncmp(spec, "dummy:", 6) != 0)
        return tb_model_load(spec, threads, isa, ctx_len, kv, out, err);
    const tb_preset *pr;
    tb_format fmt, efmt;
    if (tb_dummy_parse(spec, &pr, &fmt, &efmt, err) != TB_OK)
        return err->code;
    int rc = tb_model_dummy(pr, fmt, efmt, TB_DUMMY_SEED, threads, isa, ctx_len, kv, out, err);
    return rc == TB_OK || strstr(err->text, spec) ? rc : tb_error_prefix(err, "%s", spec);
}
