/*
 * forward.c - one token through the transformer, top to bottom:
 *
 *   x = embed(token)
 *   per layer:  n = rmsnorm(x)          q, k, v = Wq n, Wk n, Wv n
 *               rope(q, k)              cache k, v
 *               a = attention(q, cache) x += Wo subnorm(a)
 *               m = rmsnorm(x)          h = relu(Wgate m)^2 * (Wup m)
 *               x += Wdown subnorm(h)
 *   (legacy bitnet: silu(Wgate m) * (Wup m); llama: the same without the
 *   sub-norms, and RoPE on adjacent pairs instead of NeoX's halves; qwen2:
 *   llama with biases on q, k, v and NeoX RoPE; qwen3: llama with each head
 *   of q and k RMS-normed before NeoX RoPE)
 *   logits = lm_head rmsnorm(x)
 *
 * The weight format hides behind linear(): it quantizes the input the way the
 * format's kernels want it (per-token int8 for ternary: W1.58A8) and runs the
 * kernel over the thread pool. Attention computes as ggml does with an f16
 * KV cache: K and V stored as f16, q and the softmax probabilities rounded
 * to f16 before their dot products, sums in f32 -- the arithmetic bitnet.cpp's
 * logits come from (tests/test_model.c checks against them).
 */
#include <math.h>
#include <string.h>

#include "model.h"
#include "softmax.h"
#include "tb_time.h"

static void rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    /* the sum of squares in double, as ggml's; eight partial sums in a fixed
     * order so it vectorises (one chain of dependent adds cost ~1% of a
     * 2B4T token) and stays the same on every thread count and ISA */
    double part[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            part[j] += (double)(x[i + j] * x[i + j]);
    double ss = 0;
    for (int j = 0; j < 8; j++)
        ss += part[j];
    for (; i < n; i++)
        ss += (double)(x[i] * x[i]);
    float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    for (i = 0; i < n; i++)
        out[i] = x[i] * scale * w[i];
}

/* The residual stream: x += y. */
static void add_into(float *restrict x, const float *restrict y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] += y[i];
}

/* The gated activations in place: g = relu(g)^2 * up (bitnet-b1.58) or
 * silu(g) * up. relu clears the bits of values with the sign bit set: GCC
 * will not vectorise a float compare under the default -ftrapping-math, and
 * the branch it compiled mispredicted on half the values (~2% of a decoded
 * 2B4T token). Same results, but a NaN gate now stays NaN. */
static void relu2_gate(float *restrict g, const float *restrict up, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t b = tb_f32_bits(g[i]);
        float v = tb_bits_f32(b & ~(0u - (b >> 31))); /* negative (or -0) -> +0 */
        g[i] = v * v * up[i];
    }
}

/* silu(x) = x / (1 + e^-x), through e = e^-|x| (softmax.h's exp, which the
 * compiler vectorises; libm's expf is a call per value): x / (1 + e) for
 * x >= 0, x e / (1 + e) below, chosen by the sign bit. */
static void silu_gate(float *restrict g, const float *restrict up, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = tb_f32_bits(g[i]), neg = 0u - (bits >> 31);
        float e = tb_exp_nonpos(tb_bits_f32(bits | 0x80000000u));
        float num = tb_bits_f32((bits & ~neg) | (tb_f32_bits(g[i] * e) & neg));
        g[i] = num / (1.0f + e) * up[i];
    }
}

static tb_act *act_for(tb_model *m, const tb_matrix *w)
{
    tb_act_kind kind = tb_format_get(w->fmt)->act;
    return w->k == m->cfg.dim ? &m->rs.act_dim[kind]
         : w->k == m->cfg.ffn ? &m->rs.act_ffn[kind] : &m->rs.act_q[kind];
}

/* With a profile kept (rs.profile), adds the time since *t to phase p and
 * starts the next phase's clock; else nothing. */
static void lap(tb_model *m, tb_phase p, double *t)
{
    if (!m->rs.profile)
        return;
    double now = tb_now();
    m->rs.profile[p] += now - *t;
    *t = now;
}

/* lap() for a phase that ran a parallel-for: the pool's synchronisation
 * since sync0 (tb_pool_time_sync) goes to a phase of its own. */
static void lap_pooled(tb_model *m, tb_phase p, double *t, double sync0)
{
    lap(m, p, t);
    if (m->rs.profile) {
        m->rs.profile[p] -= m->rs.pool_sync - sync0;
        m->rs.profile[TB_PHASE_SYNC] += m->rs.pool_sync - sync0;
    }
}

/* Y = X W^T for `tokens` rows of X, for each of nw matrices that share the
 * input (q, k, v; gate, up), in one parallel-for. One token is a GEMV,
 * several a GEMM. The profile's clock t: quantisation, then phase p. */
static void linear(tb_model *m, const float *x, int tokens, int nw, const tb_matrix *const *w,
                   float *const *y, tb_phase p, double *t)
{
    tb_act *done[TB_POOL_GEMM_MAX] = {NULL};
    const tb_act *acts[TB_POOL_GEMM_MAX];
    tb_gemm_fn fns[TB_POOL_GEMM_MAX];
    int ndone = 0;
    for (int i = 0; i < nw; i++) {
        tb_act *a = act_for(m, w[i]);
        bool have = false;
        for (int d = 0; d < ndone; d++)
            have |= done[d] == a;
        if (!have) { /* quantize x once per activation kind */
            tb_act_quantize(a, x, tokens);
            done[ndone++] = a;
        }
        acts[i] = a;
        fns[i] = tb_gemm_select(w[i]->fmt, m->isa, NULL);
    }
    lap(m, TB_PHASE_QUANT, t);
    double sync = m->rs.pool_sync;
    tb_pool_gemm_n(m->pool, nw, fns, w, acts, y);
    lap_pooled(m, p, t, sync);
}

/* Rotary embedding: NeoX style rotates pairs (i, i + d/2) of each head, the
 * original (llama) style pairs (2i, 2i + 1). The angle
 * steps as ggml's does (theta *= base^(-2/d) in float), so that the int8
 * activation rounding downstream sees the same values bitnet.cpp does. */
static void rope(float *v, int nheads, int head_dim, int pos, float base, bool neox)
{
    int half = head_dim / 2;
    float theta_scale = powf(base, -2.0f / (float)head_dim), theta = (float)pos;
    for (int i = 0; i < half; i++, theta *= theta_scale) {
        float c = cosf(theta), s = sinf(theta);
        int i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
        for (int h = 0; h < nheads; h++) {
            float *p = v + h * head_dim;
            float a = p[i0], b = p[i1];
            p[i0] = a * c - b * s;
            p[i1] = a * s + b * c;
        }
    }
}

static float round_f16(float x)
{
    return tb_f16_to_f32(tb_f32_to_f16(x));
}

/* Where the cache holds (layer, kv head, position): head-major, so that one
 * head's keys (and values) over all positions are one contiguous stream
 * (position-major made each head read 128 bytes every kv_dim * 2: in the
 * 700M decode that strided, cache-missing walk took 9% of the time). */
static size_t cache_at(const tb_config *c, int layer, int kv_head, int pos)
{
    return (((size_t)layer * c->kv_heads + kv_head) * c->ctx + pos) * c->head_dim;
}

typedef struct attn_job {
    tb_model *m;
    int layer, pos0, tokens;   /* the batch holds positions pos0 .. pos0 + tokens - 1 */
} attn_job;

/* Heads [h0, h1) of one layer's attention for every token of the batch, run
 * on the pool's threads; token i sees positions 0 .. pos0 + i (causal). With
 * the f16 cache it computes as ggml does: q rounded to f16, K and V in f16,
 * the softmax probabilities rounded to f16, sums in f32. */
static void attention_heads(void *ctx, int h0, int h1, int thread)
{
    (void)thread;
    attn_job *j = ctx;
    tb_model *m = j->m;
    const tb_config *c = &m->cfg;
    tb_run_state *s = &m->rs;
    int hd = c->head_dim, group = c->heads / c->kv_heads;
    bool f16 = s->kv_type == TB_KV_F16;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = h0; h < h1; h++)
    for (int tok = 0; tok < j->tokens; tok++) {
        int pos = j->pos0 + tok;
        float *q = s->q + (size_t)tok * c->q_dim + h * hd, *att = s->att + (size_t)h * c->ctx;
        float *out = s->xb + (size_t)tok * c->q_dim + h * hd;
        size_t off = cache_at(c, j->layer, h / group, 0);
        if (f16) {
            for (int i = 0; i < hd; i++) /* q as f16 (q is not needed after this) */
                q[i] = round_f16(q[i]);
            m->vec.scores_f16(q, (const tb_f16 *)s->kcache + off, (size_t)hd, pos + 1, hd, att);
        } else {
            for (int t = 0; t <= pos; t++) {
                const float *kt = (const float *)s->kcache + off + (size_t)t * hd;
                float dot = 0;
                for (int i = 0; i < hd; i++)
                    dot += q[i] * kt[i];
                att[t] = dot;
            }
        }
        tb_softmax(att, pos + 1, scale, f16);
        if (f16) {
            m->vec.wsum_f16(att, (const tb_f16 *)s->vcache + off, (size_t)hd, pos + 1, hd, out);
        } else {
            memset(out, 0, (size_t)hd * sizeof *out);
            for (int t = 0; t <= pos; t++) {
                const float *vt = (const float *)s->vcache + off + (size_t)t * hd;
                for (int i = 0; i < hd; i++)
                    out[i] += att[t] * vt[i];
            }
        }
    }
}

/* One position's keys or values (all kv heads) into the cache. */
static void cache_store(const tb_model *m, void *cache, int layer, int pos, const float *v)
{
    const tb_config *c = &m->cfg;
    int hd = c->head_dim;
    for (int h = 0; h < c->kv_heads; h++) {
        size_t at = cache_at(c, layer, h, pos);
        const float *vh = v + (size_t)h * hd;
        if (m->rs.kv_type == TB_KV_F16)
            for (int i = 0; i < hd; i++)
                ((tb_f16 *)cache)[at + i] = tb_f32_to_f16(vh[i]);
        else
            memcpy((float *)cache + at, vh, (size_t)hd * sizeof *vh);
    }
}

const float *tb_model_forward(tb_model *m, int token)
{
    return tb_model_forward_batch(m, &token, 1);
}

/* rmsnorm of each of n rows of width w */
static void rmsnorm_rows(float *out, const float *x, const float *weight, int n, int w, float eps)
{
    for (int t = 0; t < n; t++)
        rmsnorm(out + (size_t)t * w, x + (size_t)t * w, weight, w, eps);
}

static const float *forward(tb_model *m, const int *tokens, int n, float *all, int first);

#if defined(TB_SLOWDOWN_PERCENT) && TB_SLOWDOWN_PERCENT > 0
/* Test-only (cmake -DTB_TEST_SLOWDOWN=N, ci/gate-selftest.sh): a ternary
 * model computes N % of its tokens twice, a known amount of real work the
 * performance gate must catch. Decoding redoes one token in 100/N; a batch
 * of n redoes its first n x N / 100 tokens first (a remainder carries over),
 * into the same cache slots, which the batch then writes again. Compiled out
 * of every other build. */
static void slow_down(tb_model *m, const int *tokens, int n)
{
    static long owed; /* percent-tokens not yet redone */
    if (!tb_format_get(m->layers[0].wq.fmt)->ternary)
        return;
    owed += (long)n * TB_SLOWDOWN_PERCENT;
    int redo = (int)(owed / 100) < n ? (int)(owed / 100) : n;
    if (redo == 0)
        return;
    owed -= redo * 100L;
    int pos = m->rs.pos;
    forward(m, tokens, redo, NULL, 0);
    m->rs.pos = pos;
}
#endif

const float *tb_model_forward_batch(tb_model *m, const int *tokens, int n)
{
#if defined(TB_SLOWDOWN_PERCENT) && TB_SLOWDOWN_PERCENT > 0
    if (n >= 1 && n <= m->rs.max_batch && m->rs.pos + n <= m->cfg.ctx)
        slow_down(m, tokens, n);
#endif
    return forward(m, tokens, n, NULL, 0);
}

int tb_model_forward_all(tb_model *m, const int *tokens, int n, float *out)
{
    return forward(m, tokens, n, out, 0) ? TB_OK : TB_EINVAL;
}

int tb_model_forward_from(tb_model *m, const int *tokens, int n, int first, float *out)
{
    if (first < 0 || first > n)
        return TB_EINVAL;
    return forward(m, tokens, n, out, first) ? TB_OK : TB_EINVAL;
}

/* The layers over a batch of n tokens; then the logits of the last token
 * (into the run state) or, when all is given, of tokens first..n-1 into it
 * ((n - first) x vocab). */
static const float *forward(tb_model *m, const int *tokens, int n, float *all, int first)
{
    const tb_config *c = &m->cfg;
    tb_run_state *s = &m->rs;
    int pos0 = s->pos, dim = c->dim, kv_dim = c->kv_heads * c->head_dim;
    if (n < 1 || n > s->max_batch || pos0 + n > c->ctx)
        return NULL;
    double clock = s->profile ? tb_now() : 0;
    tb_pool_time_sync(m->pool, s->profile ? &s->pool_sync : NULL);
    for (int t = 0; t < n; t++) {
        if (tokens[t] < 0 || tokens[t] >= c->vocab)
            return NULL;
        tb_format_get(m->embd.fmt)->dequantize_row(&m->embd, tokens[t], s->x + (size_t)t * dim);
    }
    lap(m, TB_PHASE_EMBED, &clock);

    for (int l = 0; l < c->layers; l++) {
        const tb_layer *L = &m->layers[l];
        /* attention */
        rmsnorm_rows(s->xb, s->x, L->attn_norm, n, dim, c->eps);
        lap(m, TB_PHASE_NORM, &clock);
        linear(m, s->xb, n, 3, (const tb_matrix *const[]){&L->wq, &L->wk, &L->wv},
               (float *const[]){s->q, s->k, s->v}, TB_PHASE_QKV, &clock);
        for (int t = 0; t < n; t++) {
            float *qt = s->q + (size_t)t * c->q_dim, *kt = s->k + (size_t)t * kv_dim, *vt = s->v + (size_t)t * kv_dim;
            if (L->bq) { /* qwen2 */
                add_into(qt, L->bq, (size_t)c->q_dim);
                add_into(kt, L->bk, (size_t)kv_dim);
                add_into(vt, L->bv, (size_t)kv_dim);
            }
            if (L->q_norm) { /* qwen3: each head of q and k normalised */
                rmsnorm_rows(qt, qt, L->q_norm, c->heads, c->head_dim, c->eps);
                rmsnorm_rows(kt, kt, L->k_norm, c->kv_heads, c->head_dim, c->eps);
            }
            bool neox = c->arch != TB_ARCH_LLAMA;
            rope(qt, c->heads, c->head_dim, pos0 + t, c->rope_base, neox);
            rope(kt, c->kv_heads, c->head_dim, pos0 + t, c->rope_base, neox);
            cache_store(m, s->kcache, l, pos0 + t, kt);
            cache_store(m, s->vcache, l, pos0 + t, vt);
        }
        lap(m, TB_PHASE_ROPE_KV, &clock);
        attn_job job = {m, l, pos0, n};
        double sync = s->pool_sync;
        tb_pool_for(m->pool, c->heads, 1, attention_heads, &job);
        lap_pooled(m, TB_PHASE_ATTN, &clock, sync);
        if (L->attn_sub_norm)
            rmsnorm_rows(s->xb, s->xb, L->attn_sub_norm, n, dim, c->eps);
        lap(m, TB_PHASE_NORM, &clock);
        linear(m, s->xb, n, 1, (const tb_matrix *const[]){&L->wo}, (float *const[]){s->xb2}, TB_PHASE_O,
               &clock);
        add_into(s->x, s->xb2, (size_t)n * dim);
        lap(m, TB_PHASE_ELEMENTWISE, &clock);

        /* feed-forward: gated, relu^2 (bitnet-b1.58) or SiLU (bitnet, llama) */
        rmsnorm_rows(s->xb, s->x, L->ffn_norm, n, dim, c->eps);
        lap(m, TB_PHASE_NORM, &clock);
        linear(m, s->xb, n, 2, (const tb_matrix *const[]){&L->gate, &L->up},
               (float *const[]){s->hb, s->hb2}, TB_PHASE_GATE_UP, &clock);
        size_t nf = (size_t)n * c->ffn;
        if (c->arch == TB_ARCH_BITNET_B158)
            relu2_gate(s->hb, s->hb2, nf);
        else
            silu_gate(s->hb, s->hb2, nf);
        lap(m, TB_PHASE_ELEMENTWISE, &clock);
        if (L->ffn_sub_norm)
            rmsnorm_rows(s->hb, s->hb, L->ffn_sub_norm, n, c->ffn, c->eps);
        lap(m, TB_PHASE_NORM, &clock);
        linear(m, s->hb, n, 1, (const tb_matrix *const[]){&L->down}, (float *const[]){s->xb2},
               TB_PHASE_DOWN, &clock);
        add_into(s->x, s->xb2, (size_t)n * dim);
        lap(m, TB_PHASE_ELEMENTWISE, &clock);
    }
    s->pos += n;
    if (all) { /* the asked tokens' logits: one GEMM over them */
        float *x = s->x + (size_t)first * dim;
        if (first < n) {
            rmsnorm_rows(x, x, m->output_norm, n - first, dim, c->eps);
            lap(m, TB_PHASE_NORM, &clock);
            linear(m, x, n - first, 1, (const tb_matrix *const[]){&m->lm_head}, (float *const[]){all},
                   TB_PHASE_LM_HEAD, &clock);
        }
        return all;
    }
    /* logits of the last token only, as llama.cpp computes for a prompt */
    float *last = s->x + (size_t)(n - 1) * dim;
    rmsnorm(last, last, m->output_norm, dim, c->eps);
    lap(m, TB_PHASE_NORM, &clock);
    linear(m, last, 1, 1, (const tb_matrix *const[]){&m->lm_head}, (float *const[]){s->logits},
           TB_PHASE_LM_HEAD, &clock);
    return s->logits;
}
