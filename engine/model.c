/* model.c - loading a GGUF model into config, weights and run state. */
#include "model.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_mem.h"

static const struct { tb_format fmt; uint32_t ggml; } ggml_types[] = {
    {TB_FMT_F32, TB_GGML_F32}, {TB_FMT_F16, TB_GGML_F16}, {TB_FMT_BF16, TB_GGML_BF16},
    {TB_FMT_Q8_0, TB_GGML_Q8_0}, {TB_FMT_Q4_0, TB_GGML_Q4_0}, {TB_FMT_TQ1_0, TB_GGML_TQ1_0},
    {TB_FMT_TQ2_0, TB_GGML_TQ2_0}, {TB_FMT_I2_S, TB_GGML_I2_S}, {TB_FMT_Q6_K, TB_GGML_Q6_K},
    {TB_FMT_Q2_K, TB_GGML_Q2_K}, {TB_FMT_Q3_K, TB_GGML_Q3_K}, {TB_FMT_Q4_K, TB_GGML_Q4_K},
    {TB_FMT_Q5_K, TB_GGML_Q5_K}, {TB_FMT_IQ4_NL, TB_GGML_IQ4_NL}, {TB_FMT_IQ4_XS, TB_GGML_IQ4_XS},
};

bool tb_ggml_type_format(uint32_t type, bool bitnet_file, tb_format *f)
{
    if (type == TB_GGML_I2_S && !bitnet_file)
        return false; /* id 36 means something else outside bitnet.cpp's family */
    for (size_t i = 0; i < sizeof ggml_types / sizeof ggml_types[0]; i++)
        if (ggml_types[i].ggml == type) {
            *f = ggml_types[i].fmt;
            return true;
        }
    return false;
}

int tb_format_file_type(tb_format f, bool bitnet_file, uint32_t *type, tb_error *err)
{
    if (f == TB_FMT_I2_S && !bitnet_file)
        return tb_error_set(err, TB_EINVAL, "i2_s is GGML type 36 only in bitnet.cpp's bitnet "
                            "architectures (upstream llama.cpp gives 36 another meaning): write "
                            "tq2_0 for a ternary llama file");
    for (size_t i = 0; i < sizeof ggml_types / sizeof ggml_types[0]; i++)
        if (ggml_types[i].fmt == f) {
            *type = ggml_types[i].ggml;
            return TB_OK;
        }
    return tb_error_set(err, TB_EINVAL, "%s has no GGUF type (ternbench builds it in memory at "
                        "load): write i2_s or tq2_0 instead, and load the file as FILE@%s",
                        tb_format_get(f)->name, tb_format_get(f)->name);
}

bool tb_format_in_files(tb_format f)
{
    for (size_t i = 0; i < sizeof ggml_types / sizeof ggml_types[0]; i++)
        if (ggml_types[i].fmt == f)
            return true;
    return false;
}

int tb_embd_format_check(tb_format f, tb_error *err)
{
    if (tb_format_get(f)->ternary)
        return tb_error_set(err, TB_EINVAL, "the embedding is read row by row and is not ternary "
                            "in BitNet: choose f16, bf16, f32, q8_0, q6_k or q4_0");
    return TB_OK;
}

static int get_matrix(tb_gguf *g, const char *name, int rows, int k, tb_matrix *w, tb_error *err)
{
    const tb_gguf_tensor *t = tb_gguf_tensor_find(g, name);
    if (!t)
        return tb_error_set(err, TB_EINVAL, "%s: tensor %s is missing", g->path, name);
    if (t->n_dims != 2 || t->ne[0] != (uint64_t)k || t->ne[1] != (uint64_t)rows)
        return tb_error_set(err, TB_EINVAL, "%s: tensor %s is %llux%llu, expected %dx%d (k x rows)",
                            g->path, name, (unsigned long long)t->ne[0],
                            (unsigned long long)t->ne[1], k, rows);
    tb_format f;
    if (!tb_ggml_type_format(t->type, g->bitnet_types, &f))
        return tb_error_set(err, TB_EINVAL, "%s: tensor %s is %s, which ternbench's kernels do not "
                            "run (they run " TB_READABLE_TYPES ")",
                            g->path, name, t->type_name);
    int rc = tb_matrix_init(w, f, rows, k, t->data, t->size, err);
    return rc == TB_OK ? rc : tb_error_prefix(err, "%s: tensor %s", g->path, name);
}

static int get_vector(tb_gguf *g, const char *name, int n, const float **out, tb_error *err)
{
    const tb_gguf_tensor *t = tb_gguf_tensor_find(g, name);
    if (!t)
        return tb_error_set(err, TB_EINVAL, "%s: tensor %s is missing", g->path, name);
    if (t->type != TB_GGML_F32 || t->ne[0] != (uint64_t)n || t->ne[1] * t->ne[2] * t->ne[3] != 1)
        return tb_error_set(err, TB_EINVAL, "%s: tensor %s must be %d F32 values", g->path, name, n);
    if ((uintptr_t)t->data % sizeof(float))
        return tb_error_set(err, TB_EINVAL, "%s: tensor %s is not 4-byte aligned", g->path, name);
    *out = (const float *)(const void *)t->data;
    return TB_OK;
}

static int arch_u32(tb_gguf *g, const char *arch, const char *suffix, uint32_t *v, bool required,
                    uint32_t dflt, tb_error *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (!tb_gguf_find(g, key) && !required) {
        *v = dflt;
        return TB_OK;
    }
    return tb_gguf_get_u32(g, key, v, err);
}

static int arch_f32(tb_gguf *g, const char *arch, const char *suffix, float *v, float dflt,
                    tb_error *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (!tb_gguf_find(g, key)) {
        *v = dflt;
        return TB_OK;
    }
    return tb_gguf_get_f32(g, key, v, err);
}

static int read_config(tb_gguf *g, tb_config *c, tb_error *err)
{
    int rc = tb_gguf_get_str(g, "general.architecture", c->arch_name, sizeof c->arch_name, err);
    if (rc != TB_OK)
        return rc;
    if (!strcmp(c->arch_name, "bitnet-b1.58") || !strcmp(c->arch_name, "bitnet-25"))
        c->arch = TB_ARCH_BITNET_B158;
    else if (!strcmp(c->arch_name, "bitnet"))
        c->arch = TB_ARCH_BITNET;
    else if (!strcmp(c->arch_name, "llama"))
        c->arch = TB_ARCH_LLAMA;
    else if (!strcmp(c->arch_name, "qwen2"))
        c->arch = TB_ARCH_QWEN2;
    else if (!strcmp(c->arch_name, "qwen3"))
        c->arch = TB_ARCH_QWEN3;
    else
        return tb_error_set(err, TB_EINVAL, "%s: architecture '%s' is not supported (supported: "
                            "bitnet-b1.58, bitnet-25, bitnet, llama, qwen2, qwen3; bitnet.cpp's "
                            "Falcon3 and Llama3 1.58-bit files are llama)", g->path, c->arch_name);
    if (c->arch == TB_ARCH_BITNET && tb_gguf_tensor_find(g, "blk.0.attn_q.scale"))
        return tb_error_set(err, TB_EINVAL, "%s: tensor blk.0.attn_q.scale: per-tensor scale "
                            "tensors of legacy bitnet files are not supported yet; convert the "
                            "model with bitnet.cpp to I2_S (scale inside the tensor)", g->path);
    const char *a = c->arch_name;
    uint32_t dim, ffn, layers, heads, kv_heads, ctx, vocab = 0, key_len, value_len;
    if ((rc = arch_u32(g, a, "embedding_length", &dim, true, 0, err)) ||
        (rc = arch_u32(g, a, "feed_forward_length", &ffn, true, 0, err)) ||
        (rc = arch_u32(g, a, "block_count", &layers, true, 0, err)) ||
        (rc = arch_u32(g, a, "attention.head_count", &heads, true, 0, err)) ||
        (rc = arch_u32(g, a, "attention.head_count_kv", &kv_heads, false, heads, err)) ||
        (rc = arch_u32(g, a, "context_length", &ctx, false, 4096, err)) ||
        (rc = arch_f32(g, a, "rope.freq_base", &c->rope_base, 10000.0f, err)) ||
        (rc = arch_f32(g, a, "attention.layer_norm_rms_epsilon", &c->eps, 1e-5f, err)) ||
        (rc = arch_u32(g, a, "attention.key_length", &key_len, false, 0, err)) ||
        (rc = arch_u32(g, a, "attention.value_length", &value_len, false, key_len, err)))
        return rc;
    if (key_len != value_len || key_len > 1024 || key_len % 2)
        return tb_error_set(err, TB_EINVAL, "%s: attention.key_length %u and value_length %u: "
                            "ternbench needs one even head size up to 1024 for both", g->path,
                            key_len, value_len);
    const tb_gguf_tensor *embd = tb_gguf_tensor_find(g, "token_embd.weight");
    if (!embd || embd->n_dims != 2)
        return tb_error_set(err, TB_EINVAL, "%s: tensor token_embd.weight is missing", g->path);
    vocab = (uint32_t)embd->ne[1];
    if (dim == 0 || dim > 65536 || ffn == 0 || ffn > 262144 || layers == 0 || layers > 1024 ||
        heads == 0 || kv_heads == 0 || (!key_len && (dim % heads || (dim / heads) % 2)) || heads % kv_heads ||
        vocab == 0 || vocab > (1u << 24))
        return tb_error_set(err, TB_EINVAL, "%s: inconsistent shapes: dim %u, ffn %u, layers %u, "
                            "heads %u, kv heads %u, vocab %u (dim must split into an even head "
                            "size, heads into kv groups)", g->path, dim, ffn, layers, heads,
                            kv_heads, vocab);
    c->dim = (int)dim;
    c->ffn = (int)ffn;
    c->layers = (int)layers;
    c->heads = (int)heads;
    c->kv_heads = (int)kv_heads;
    c->head_dim = (int)(key_len ? key_len : dim / heads);
    c->q_dim = c->heads * c->head_dim;
    c->vocab = (int)vocab;
    c->ctx = (int)(ctx ? ctx : 4096);
    return TB_OK;
}

static void *zalloc(size_t bytes, bool *ok)
{
    void *p = tb_alloc_streamed(bytes);
    if (!p) {
        *ok = false;
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}

static void free_batch(tb_run_state *s)
{
    free(s->x); free(s->xb); free(s->xb2); free(s->q); free(s->k); free(s->v);
    free(s->hb); free(s->hb2);
    s->x = s->xb = s->xb2 = s->q = s->k = s->v = s->hb = s->hb2 = NULL;
    for (int kind = 0; kind < TB_ACT_KINDS; kind++) {
        tb_act_free(&s->act_dim[kind]);
        tb_act_free(&s->act_ffn[kind]);
        tb_act_free(&s->act_q[kind]);
    }
}

int tb_model_set_batch(tb_model *m, int n, tb_error *err)
{
    tb_config *c = &m->cfg;
    tb_run_state *s = &m->rs;
    if (n < 1 || n > 4096)
        return tb_error_set(err, TB_EINVAL, "batch size %d is outside 1..4096", n);
    free_batch(s);
    size_t f = sizeof(float), rows = (size_t)n;
    int kv_dim = c->kv_heads * c->head_dim;
    bool ok = true;
    s->x = zalloc(rows * c->dim * f, &ok);
    s->xb = zalloc(rows * (c->q_dim > c->dim ? c->q_dim : c->dim) * f, &ok); /* also attention's out */
    s->xb2 = zalloc(rows * c->dim * f, &ok);
    s->q = zalloc(rows * c->q_dim * f, &ok);
    s->k = zalloc(rows * kv_dim * f, &ok);
    s->v = zalloc(rows * kv_dim * f, &ok);
    s->hb = zalloc(rows * c->ffn * f, &ok);
    s->hb2 = zalloc(rows * c->ffn * f, &ok);
    if (!ok)
        return tb_error_set(err, TB_ENOMEM, "out of memory for a batch of %d tokens", n);
    /* one activation buffer per kind the weights may need, for k = dim and k = ffn
     * (int8 kinds exist only where k is a multiple of 128, q8_K where of 256) */
    for (int kind = 0; kind < TB_ACT_KINDS; kind++) {
        int rc = tb_act_alloc(&s->act_dim[kind], (tb_act_kind)kind, n, c->dim, err);
        if (rc == TB_OK)
            rc = tb_act_alloc(&s->act_ffn[kind], (tb_act_kind)kind, n, c->ffn, err);
        if (rc == TB_OK && c->q_dim != c->dim && c->q_dim != c->ffn)
            rc = tb_act_alloc(&s->act_q[kind], (tb_act_kind)kind, n, c->q_dim, err);
        if (rc == TB_ENOMEM || (rc != TB_OK && (kind == TB_ACT_F32 || kind == TB_ACT_Q8_0)))
            return rc;
    }
    s->max_batch = n;
    return TB_OK;
}

static int alloc_state(tb_model *m, tb_kv_type kv, tb_error *err)
{
    tb_config *c = &m->cfg;
    tb_run_state *s = &m->rs;
    int kv_dim = c->kv_heads * c->head_dim;
    size_t f = sizeof(float);
    bool ok = true;
    s->att = zalloc((size_t)c->heads * c->ctx * f, &ok);
    s->logits = zalloc((size_t)c->vocab * f, &ok);
    s->kv_type = kv;
    size_t esz = kv == TB_KV_F16 ? 2 : 4;
    s->kcache = zalloc((size_t)c->layers * c->ctx * kv_dim * esz, &ok);
    s->vcache = zalloc((size_t)c->layers * c->ctx * kv_dim * esz, &ok);
    if (!ok)
        return tb_error_set(err, TB_ENOMEM, "out of memory for the run state (context %d)", c->ctx);
    return tb_model_set_batch(m, 1, err);
}

/* "FILE@FORMAT" (FILE not itself a file, FORMAT a ternary format without a
 * GGUF type): FILE's ternary projections are to be re-encoded in FORMAT at
 * load. false (file = path) for anything else. */
static bool split_repack(const char *path, char *file, size_t cap, tb_format *as)
{
    const char *at = strrchr(path, '@');
    tb_error ignored;
    snprintf(file, cap, "%s", path);
    if (!at || access(path, F_OK) == 0 || tb_format_parse(at + 1, as, &ignored) != TB_OK ||
        !tb_format_get(*as)->ternary || tb_format_in_files(*as) || (size_t)(at - path) >= cap)
        return false;
    file[at - path] = '\0';
    return true;
}

/* Re-encodes the ternary projections in fmt, losslessly: each is
 * dequantised and quantised again into bytes the model owns. A matrix with
 * one scale per block (tq2_0, tq1_0 with differing blocks) or not ternary
 * is refused: fmt holds one scale per tensor. */
static int repack(tb_model *m, tb_format fmt, const char *file, tb_error *err)
{
    float *buf = NULL;
    size_t cap = 0;
    int rc = TB_OK;
    for (int l = 0; rc == TB_OK && l < m->cfg.layers; l++) {
        tb_layer *L = &m->layers[l];
        tb_matrix *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (size_t i = 0; rc == TB_OK && i < sizeof ws / sizeof ws[0]; i++) {
            tb_matrix *w = ws[i];
            const tb_format_traits *from = tb_format_get(w->fmt);
            size_t n = (size_t)w->rows * w->k;
            if (!from->ternary) {
                rc = tb_error_set(err, TB_EINVAL, "%s@%s re-encodes ternary projections, and "
                                  "layer %d's are %s: convert the file to i2_s first "
                                  "(ternbench convert --format i2_s)", file,
                                  tb_format_get(fmt)->name, l, from->name);
                break;
            }
            if (n > cap) {
                free(buf);
                buf = malloc(n * sizeof *buf);
                cap = buf ? n : 0;
                if (!buf) {
                    rc = tb_error_set(err, TB_ENOMEM, "out of memory re-encoding %s", file);
                    break;
                }
            }
            for (int r = 0; r < w->rows; r++)
                from->dequantize_row(w, r, buf + (size_t)r * w->k);
            float mag = 0;
            for (size_t j = 0; j < n; j++) {
                float a = buf[j] < 0 ? -buf[j] : buf[j];
                if (a != 0 && mag == 0)
                    mag = a;
                if (a != 0 && a != mag) {
                    rc = tb_error_set(err, TB_EINVAL, "%s: layer %d's %s has more than one "
                                      "scale (%g and %g), and %s holds one per tensor", file, l,
                                      from->name, (double)mag, (double)a, tb_format_get(fmt)->name);
                    break;
                }
            }
            size_t bytes = tb_format_bytes(fmt, w->rows, w->k);
            uint8_t *dst = rc == TB_OK ? tb_model_own(m, bytes, err) : NULL;
            if (rc == TB_OK && !dst)
                rc = TB_ENOMEM;
            if (rc == TB_OK)
                rc = tb_format_quantize(fmt, buf, w->rows, w->k, dst, 1, err);
            if (rc == TB_OK)
                rc = tb_matrix_init(w, fmt, w->rows, w->k, dst, bytes, err);
        }
    }
    free(buf);
    return rc;
}

int tb_model_load(const char *path, int threads, tb_isa isa, int ctx_len, tb_kv_type kv,
                  tb_model **out, tb_error *err)
{
    tb_model *m = calloc(1, sizeof *m);
    if (!m)
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    m->isa = isa;
    const char *slash = strrchr(path, '/');
    snprintf(m->name, sizeof m->name, "%s", slash ? slash + 1 : path);
    char file[4096];
    tb_format as;
    bool re = split_repack(path, file, sizeof file, &as);
    int rc = tb_gguf_open(file, &m->gguf, err);
    tb_error ignored; /* absent from files ternbench did not write */
    if (rc == TB_OK && tb_gguf_get_str(m->gguf, "ternbench.preset", m->preset, sizeof m->preset,
                                       &ignored) != TB_OK)
        m->preset[0] = '\0';
    if (rc == TB_OK)
        rc = read_config(m->gguf, &m->cfg, err);
    tb_config *c = &m->cfg;
    if (rc == TB_OK) {
        if (ctx_len > 0)
            c->ctx = ctx_len;
        if (c->ctx > 4096)
            c->ctx = 4096;
        m->layers = calloc((size_t)c->layers, sizeof *m->layers);
        rc = m->layers ? TB_OK : tb_error_set(err, TB_ENOMEM, "out of memory");
    }
    if (rc == TB_OK)
        rc = get_matrix(m->gguf, "token_embd.weight", c->vocab, c->dim, &m->embd, err);
    if (rc == TB_OK) {
        if (tb_gguf_tensor_find(m->gguf, "output.weight"))
            rc = get_matrix(m->gguf, "output.weight", c->vocab, c->dim, &m->lm_head, err);
        else
            m->lm_head = m->embd; /* tied */
    }
    if (rc == TB_OK)
        rc = get_vector(m->gguf, "output_norm.weight", c->dim, &m->output_norm, err);
    int kv_dim = c->kv_heads * c->head_dim;
    for (int l = 0; rc == TB_OK && l < c->layers; l++) {
        tb_layer *L = &m->layers[l];
        char n[96];
#define MAT(field, suffix, rows, k)                                      \
    if (rc == TB_OK) {                                                   \
        snprintf(n, sizeof n, "blk.%d." suffix ".weight", l);            \
        rc = get_matrix(m->gguf, n, rows, k, &L->field, err);            \
    }
#define VEC(field, name, len)                                            \
    if (rc == TB_OK) {                                                   \
        snprintf(n, sizeof n, "blk.%d." name "%s", l, strchr(name, '.') ? "" : ".weight"); \
        rc = get_vector(m->gguf, n, len, &L->field, err);                \
    }
        VEC(attn_norm, "attn_norm", c->dim)
        VEC(ffn_norm, "ffn_norm", c->dim)
        if (tb_arch_bitnet(c->arch)) {
            VEC(attn_sub_norm, "attn_sub_norm", c->dim)
            VEC(ffn_sub_norm, "ffn_sub_norm", c->ffn)
        }
        if (c->arch == TB_ARCH_QWEN2) {
            VEC(bq, "attn_q.bias", c->q_dim)
            VEC(bk, "attn_k.bias", kv_dim)
            VEC(bv, "attn_v.bias", kv_dim)
        }
        if (c->arch == TB_ARCH_QWEN3) {
            VEC(q_norm, "attn_q_norm.weight", c->head_dim)
            VEC(k_norm, "attn_k_norm.weight", c->head_dim)
        }
        MAT(wq, "attn_q", c->q_dim, c->dim)
        MAT(wk, "attn_k", kv_dim, c->dim)
        MAT(wv, "attn_v", kv_dim, c->dim)
        MAT(wo, "attn_output", c->dim, c->q_dim)
        MAT(gate, "ffn_gate", c->ffn, c->dim)
        MAT(up, "ffn_up", c->ffn, c->dim)
        MAT(down, "ffn_down", c->dim, c->ffn)
#undef MAT
#undef VEC
    }
    if (rc == TB_OK && re)
        rc = repack(m, as, file, err);
    if (rc == TB_OK)
        rc = tb_model_finish(m, threads, kv, err);
    if (rc != TB_OK) {
        tb_model_free(m);
        return rc;
    }
    *out = m;
    return TB_OK;
}

/* One allocation the model frees with itself (huge pages where large: see
 * tb_alloc_streamed; the weights arena gained 23.1 -> 25.2 t/s, 2B4T i2_s). */
void *tb_model_own(tb_model *m, size_t bytes, tb_error *err)
{
    void **grown = realloc(m->owned, (size_t)(m->n_owned + 1) * sizeof *grown);
    void *p = grown ? tb_alloc_streamed(bytes) : NULL;
    if (grown)
        m->owned = grown;
    if (!p) {
        tb_error_set(err, TB_ENOMEM, "out of memory (%zu bytes) for the weights of %s", bytes,
                     m->name);
        return NULL;
    }
    m->owned[m->n_owned++] = p;
    return p;
}

typedef struct relayout_job {
    const tb_matrix *w;
    uint8_t *dst;
    _Atomic int failed;
} relayout_job;

static void relayout_tiles(void *ctx, int t0, int t1, int thread)
{
    (void)thread;
    relayout_job *j = ctx;
    tb_error e;
    if (tb_i2s_interleave_rows(j->w, j->dst, t0 * TB_I2S_INTERLEAVE, t1 * TB_I2S_INTERLEAVE, &e))
        atomic_store(&j->failed, 1);
}

/* Lays w out as m->isa's kernels read it fastest (tb_matrix_preferred_interleave),
 * on the model's threads: in place where the model owns the bytes (dummy
 * weights), else (a mapped file, read-only) into a copy the model owns.
 * Counted in the load time; with a copy, most of it is the kernel handing
 * out and zeroing fresh pages (the 2B4T file's load on two threads: 0.10-0.22
 * s before, 0.18-0.58 s with the copy, once 1.0 s when this VM's host had to
 * back the pages anew). */
static int relayout(tb_model *m, tb_matrix *w, tb_error *err)
{
    if (!tb_matrix_preferred_interleave(w, m->isa))
        return TB_OK;
    relayout_job j = {w, m->gguf ? tb_model_own(m, tb_format_bytes(w->fmt, w->rows, w->k), err)
                                 : (uint8_t *)w->data, 0};
    if (!j.dst)
        return TB_ENOMEM;
    tb_pool_for(m->pool, w->rows / TB_I2S_INTERLEAVE, 1, relayout_tiles, &j);
    if (atomic_load(&j.failed))
        return tb_error_set(err, TB_ENOMEM, "out of memory interleaving the i2_s rows of %s",
                            m->name);
    tb_i2s_interleave_done(w, j.dst);
    return TB_OK;
}

static size_t matrix_bytes(const tb_matrix *w)
{
    return tb_format_bytes(w->fmt, w->rows, w->k);
}

const char *tb_phase_name(tb_phase p)
{
    static const char *const names[TB_PHASES] = {
        "embedding", "norms", "activation quantisation", "qkv", "rope and kv store", "attention",
        "o", "gate and up", "elementwise", "down", "lm_head", "pool fork and join"};
    return p >= 0 && p < TB_PHASES ? names[p] : "?";
}

size_t tb_phase_weight_bytes(const tb_model *m, tb_phase p)
{
    size_t bytes = 0;
    for (int l = 0; l < m->cfg.layers; l++) {
        const tb_layer *L = &m->layers[l];
        if (p == TB_PHASE_QKV)
            bytes += matrix_bytes(&L->wq) + matrix_bytes(&L->wk) + matrix_bytes(&L->wv);
        else if (p == TB_PHASE_O)
            bytes += matrix_bytes(&L->wo);
        else if (p == TB_PHASE_GATE_UP)
            bytes += matrix_bytes(&L->gate) + matrix_bytes(&L->up);
        else if (p == TB_PHASE_DOWN)
            bytes += matrix_bytes(&L->down);
    }
    return p == TB_PHASE_LM_HEAD ? matrix_bytes(&m->lm_head) : bytes;
}

int tb_model_finish(tb_model *m, int threads, tb_kv_type kv, tb_error *err)
{
    m->weight_bytes = matrix_bytes(&m->lm_head);
    m->params = (double)m->embd.rows * m->embd.k;
    if (m->lm_head.data != m->embd.data)
        m->params += (double)m->lm_head.rows * m->lm_head.k;
    int rc = tb_pool_create(threads, false, &m->pool, err);
    for (int l = 0; l < m->cfg.layers; l++) {
        tb_layer *L = &m->layers[l];
        tb_matrix *w[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
            m->weight_bytes += matrix_bytes(w[i]);
            m->params += (double)w[i]->rows * w[i]->k;
            if (rc == TB_OK)
                rc = relayout(m, w[i], err);
        }
    }
    m->vec = tb_vec_select(m->isa);
    if (rc == TB_OK)
        rc = alloc_state(m, kv, err);
    return rc;
}

void tb_model_free(tb_model *m)
{
    if (!m)
        return;
    tb_run_state *s = &m->rs;
    free_batch(s);
    free(s->att); free(s->logits);
    free(s->kcache); free(s->vcache);
    tb_pool_destroy(m->pool);
    for (int i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    tb_gguf_close(m->gguf);
    free(m);
}

int tb_model_set_threads(tb_model *m, int n, tb_error *err)
{
    if (m->pool && tb_pool_threads(m->pool) == n)
        return TB_OK;
    tb_pool *p;
    int rc = tb_pool_create(n, false, &p, err);
    if (rc != TB_OK)
        return rc;
    tb_pool_destroy(m->pool);
    m->pool = p;
    return TB_OK;
}

void tb_model_reset(tb_model *m)
{
    m->rs.pos = 0;
}
