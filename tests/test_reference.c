/*
 * test_reference.c - the engine against a plain fp32 forward pass written
 * here from the architectures' definitions (REFERENCE §3): weights
 * dequantised to float, the activation rounding each format's kernels imply
 * (per-token int8 absmax for ternary, llama.cpp's q8_0 blocks for q8_0/q4_0)
 * applied as quantise-then-dequantise, attention in double with an f32 view
 * of K and V. Every architecture, every format, every ISA the CPU has; and
 * the ternary formats must agree with each other bit for bit.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "dummy.h"
#include "model.h"

enum { NTOK = 6 };
static const int tokens[NTOK] = {3, 250, 17, 299, 3, 100};

/* ---- the reference ---- */

static float *dequant(const tb_matrix *w)
{
    float *out = malloc((size_t)w->rows * w->k * sizeof *out);
    for (int r = 0; r < w->rows; r++)
        tb_format_get(w->fmt)->dequantize_row(w, r, out + (size_t)r * w->k);
    return out;
}

/* The values the kernels see for activation x under the format's scheme. */
static void act_round(tb_format fmt, float *x, int n)
{
    tb_act_kind kind = tb_format_get(fmt)->act;
    if (kind == TB_ACT_I8 || kind == TB_ACT_I8_LUT) { /* s = 127 / max|x|, round half even, clamp */
        float amax = 0;
        for (int i = 0; i < n; i++)
            amax = fmaxf(amax, fabsf(x[i]));
        float s = 127.0f / fmaxf(amax, 1e-5f);
        for (int i = 0; i < n; i++)
            x[i] = fminf(fmaxf(nearbyintf(x[i] * s), -128), 127) / s;
    } else if (kind == TB_ACT_Q8_K) { /* blocks of 256: the largest magnitude -> -127 */
        for (int b = 0; b < n; b += 256) {
            float amax = 0, max = 0;
            for (int i = b; i < b + 256; i++)
                if (fabsf(x[i]) > amax) {
                    amax = fabsf(x[i]);
                    max = x[i];
                }
            if (amax == 0)
                continue;
            float iscale = -127.0f / max, d = 1.0f / iscale;
            for (int i = b; i < b + 256; i++)
                x[i] = fminf(nearbyintf(x[i] * iscale), 127) * d;
        }
    } else if (kind == TB_ACT_Q8_0) { /* blocks of 32, d = max|x| / 127 in f16 */
        for (int b = 0; b < n; b += 32) {
            float amax = 0;
            for (int i = b; i < b + 32; i++)
                amax = fmaxf(amax, fabsf(x[i]));
            float d = amax / 127.0f, id = d ? 1.0f / d : 0;
            float d16 = tb_f16_to_f32(tb_f32_to_f16(d));
            for (int i = b; i < b + 32; i++)
                x[i] = roundf(x[i] * id) * d16;
        }
    }
}

/* y = W x, x rounded first as the kernels of fmt round it. */
static void matvec(tb_format fmt, const float *w, const float *x, float *y, int rows, int k)
{
    float *xr = malloc((size_t)k * sizeof *xr);
    memcpy(xr, x, (size_t)k * sizeof *xr);
    act_round(fmt, xr, k);
    x = xr;
    for (int r = 0; r < rows; r++) {
        double acc = 0;
        for (int i = 0; i < k; i++)
            acc += (double)w[(size_t)r * k + i] * x[i];
        y[r] = (float)acc;
    }
    free(xr);
}

static void norm(float *out, const float *x, const float *w, int n, float eps)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    double scale = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++)
        out[i] = (float)(x[i] * scale * w[i]);
}

/* Rotates pair (a, b) of each head by pos * base^(-2i/d): NeoX pairs i with
 * i + d/2, the original RoPE pairs 2i with 2i + 1. */
static void rotate(float *v, int heads, int hd, int pos, float base, bool neox)
{
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < hd / 2; i++) {
            double th = pos * pow(base, -2.0 * i / hd);
            float *a = v + h * hd + (neox ? i : 2 * i), *b = v + h * hd + (neox ? i + hd / 2 : 2 * i + 1);
            float x = *a, y = *b;
            *a = (float)(x * cos(th) - y * sin(th));
            *b = (float)(x * sin(th) + y * cos(th));
        }
}

/* All logits after each of NTOK tokens, into out[NTOK][vocab]. */
static void reference(const tb_model *m, float *out)
{
    const tb_config *c = &m->cfg;
    int dim = c->dim, hd = c->head_dim, kvd = c->kv_heads * hd, ffn = c->ffn, qd = c->q_dim;
    float *embd = dequant(&m->embd), *head = dequant(&m->lm_head);
    float *w[64][7];
    tb_format f[64][7]; /* a llama.cpp mix gives each matrix its own format */
    for (int l = 0; l < c->layers; l++) {
        const tb_layer *L = &m->layers[l];
        const tb_matrix *mats[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++) {
            w[l][i] = dequant(mats[i]);
            f[l][i] = mats[i]->fmt;
        }
    }
    float *x = malloc(dim * sizeof *x), *n1 = malloc(dim * sizeof *x), *q = malloc(qd * sizeof *x);
    float *att = malloc((qd > dim ? qd : dim) * sizeof *x), *o = malloc(dim * sizeof *x);
    float *g = malloc(ffn * sizeof *x), *u = malloc(ffn * sizeof *x);
    float *kc = malloc((size_t)c->layers * NTOK * kvd * sizeof *x);
    float *vc = malloc((size_t)c->layers * NTOK * kvd * sizeof *x);
    bool neox = c->arch != TB_ARCH_LLAMA;
    for (int p = 0; p < NTOK; p++) {
        memcpy(x, embd + (size_t)tokens[p] * dim, dim * sizeof *x);
        for (int l = 0; l < c->layers; l++) {
            const tb_layer *L = &m->layers[l];
            float *k = kc + ((size_t)l * NTOK + p) * kvd, *v = vc + ((size_t)l * NTOK + p) * kvd;
            norm(n1, x, L->attn_norm, dim, c->eps);
            matvec(f[l][0], w[l][0], n1, q, qd, dim);
            matvec(f[l][1], w[l][1], n1, k, kvd, dim);
            matvec(f[l][2], w[l][2], n1, v, kvd, dim);
            for (int i = 0; L->bq && i < qd; i++) /* qwen2 */
                q[i] += L->bq[i];
            for (int i = 0; L->bq && i < kvd; i++) {
                k[i] += L->bk[i];
                v[i] += L->bv[i];
            }
            for (int h = 0; L->q_norm && h < c->heads; h++) /* qwen3 */
                norm(q + h * hd, q + h * hd, L->q_norm, hd, c->eps);
            for (int h = 0; L->k_norm && h < c->kv_heads; h++)
                norm(k + h * hd, k + h * hd, L->k_norm, hd, c->eps);
            rotate(q, c->heads, hd, p, c->rope_base, neox);
            rotate(k, c->kv_heads, hd, p, c->rope_base, neox);
            for (int h = 0; h < c->heads; h++) {
                int kh = h / (c->heads / c->kv_heads);
                double score[NTOK], max = -INFINITY, sum = 0;
                for (int t = 0; t <= p; t++) {
                    double d = 0;
                    for (int i = 0; i < hd; i++)
                        d += (double)q[h * hd + i] * kc[((size_t)l * NTOK + t) * kvd + kh * hd + i];
                    score[t] = d / sqrt(hd);
                    max = fmax(max, score[t]);
                }
                for (int t = 0; t <= p; t++)
                    sum += score[t] = exp(score[t] - max);
                for (int i = 0; i < hd; i++) {
                    double a = 0;
                    for (int t = 0; t <= p; t++)
                        a += score[t] / sum * vc[((size_t)l * NTOK + t) * kvd + kh * hd + i];
                    att[h * hd + i] = (float)a;
                }
            }
            if (L->attn_sub_norm)
                norm(att, att, L->attn_sub_norm, dim, c->eps);
            matvec(f[l][3], w[l][3], att, o, dim, qd);
            for (int i = 0; i < dim; i++)
                x[i] += o[i];
            norm(n1, x, L->ffn_norm, dim, c->eps);
            matvec(f[l][4], w[l][4], n1, g, ffn, dim);
            matvec(f[l][5], w[l][5], n1, u, ffn, dim);
            for (int i = 0; i < ffn; i++) {
                double a = g[i];
                g[i] = (float)(c->arch == TB_ARCH_BITNET_B158 ? (a > 0 ? a * a : 0) * u[i]
                                                              : a / (1 + exp(-a)) * u[i]);
            }
            if (L->ffn_sub_norm)
                norm(g, g, L->ffn_sub_norm, ffn, c->eps);
            matvec(f[l][6], w[l][6], g, o, dim, ffn);
            for (int i = 0; i < dim; i++)
                x[i] += o[i];
        }
        norm(n1, x, m->output_norm, dim, c->eps);
        matvec(m->lm_head.fmt, head, n1, out + (size_t)p * c->vocab, c->vocab, dim);
    }
    for (int l = 0; l < c->layers; l++)
        for (int i = 0; i < 7; i++)
            free(w[l][i]);
    free(embd), free(head), free(x), free(n1), free(q), free(att), free(o), free(g), free(u);
    free(kc), free(vc);
}

/* ---- the comparisons ---- */

static const tb_preset presets[] = {
    {"b158", 256, 512, 2, 4, 2, 300, TB_ARCH_BITNET_B158, 0},
    {"legacy", 256, 768, 2, 4, 4, 300, TB_ARCH_BITNET, 0},
    {"llama", 256, 512, 2, 4, 1, 300, TB_ARCH_LLAMA, 0},
    {"qwen2", 256, 512, 2, 4, 2, 300, TB_ARCH_QWEN2, 0},
    {"qwen3", 256, 512, 2, 4, 2, 300, TB_ARCH_QWEN3, 128}, /* heads of 128: q is 512 wide */
};

static void engine_logits(const tb_preset *p, tb_format fmt, tb_isa isa, int threads, tb_kv_type kv,
                          float *out, tb_model **keep)
{
    tb_model *m;
    tb_error err;
    if (tb_model_dummy(p, fmt, TB_FMT_F16, 5, threads, isa, 32, kv, &m, &err) != TB_OK)
        fail_msg("%s", err.text);
    for (int t = 0; t < NTOK; t++) {
        const float *l = tb_model_forward(m, tokens[t]);
        assert_non_null(l);
        memcpy(out + (size_t)t * p->vocab, l, p->vocab * sizeof *out);
    }
    if (keep)
        *keep = m;
    else
        tb_model_free(m);
}

/* max |a - b| over max |b|: the error relative to the logits' scale */
static double rel_error(const float *a, const float *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        s = fmax(s, fabs((double)b[i]));
    }
    return d / s;
}

/* Which (architecture, format) pairs to run, to keep the suite's time
 * (under the sanitizers it passed five minutes with all of them): every
 * format on the BitNet architectures and llama; the K-quants and IQ4
 * formats on llama only (their kernels' arithmetic does not depend on the
 * graph, and llama.cpp's own files of them run in test_llama_cpp_mixes);
 * qwen2 and qwen3 in a float, an int8, a ternary and a K-quant format. */
static bool wanted(const tb_preset *p, tb_format f)
{
    bool kquant = f >= TB_FMT_Q2_K && f <= TB_FMT_IQ4_XS;
    if (p->arch == TB_ARCH_QWEN2 || p->arch == TB_ARCH_QWEN3)
        return f == TB_FMT_F32 || f == TB_FMT_Q8_0 || f == TB_FMT_I2_S || f == TB_FMT_Q4_K;
    return !kquant || p->arch == TB_ARCH_LLAMA;
}

static void test_engine_matches_reference(void **state)
{
    (void)state;
    /* the tolerances, relative to the largest logit: float weights only differ
     * in summation order (seen: <= 2e-6); the int8 activation rounding of
     * q8_0/q4_0 (and ternary) turns a last-bit difference upstream into a
     * whole rounding step now and then (seen: 1e-2 for q4_0 under AVX-512,
     * whose float sums run in another order; the ternary kernels sum in
     * int32 and match to 1e-6) */
    static const struct { tb_format fmt; double tol; } formats[] = {
        {TB_FMT_F32, 1e-4}, {TB_FMT_F16, 1e-4}, {TB_FMT_BF16, 1e-4}, {TB_FMT_Q8_0, 2e-2},
        {TB_FMT_Q4_0, 2e-2}, {TB_FMT_I2_S, 2e-2}, {TB_FMT_TQ2_0, 2e-2}, {TB_FMT_TQ1_0, 2e-2},
        {TB_FMT_TL2, 2e-2}, {TB_FMT_Q6_K, 2e-2}, {TB_FMT_Q2_K, 2e-2}, {TB_FMT_Q3_K, 2e-2},
        {TB_FMT_Q4_K, 2e-2}, {TB_FMT_Q5_K, 2e-2}, {TB_FMT_IQ4_NL, 2e-2}, {TB_FMT_IQ4_XS, 2e-2},
        {TB_FMT_T1_67, 2e-2},
    };
    tb_cpu_info cpu;
    tb_cpu_detect(&cpu);
    for (size_t p = 0; p < sizeof presets / sizeof presets[0]; p++) {
        size_t n = (size_t)NTOK * presets[p].vocab;
        float *ref = malloc(n * sizeof *ref), *got = malloc(n * sizeof *got);
        for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
            if (!wanted(&presets[p], formats[f].fmt))
                continue;
            tb_model *m;
            engine_logits(&presets[p], formats[f].fmt, TB_ISA_SCALAR, 1, TB_KV_F32, got, &m);
            reference(m, ref);
            tb_model_free(m);
            for (int isa = 0; isa < TB_ISA_COUNT; isa++) {
                tb_isa chosen;
                tb_error err;
                if (tb_isa_select(cpu.features, tb_isa_name((tb_isa)isa), &chosen, &err) != TB_OK)
                    continue; /* this CPU lacks it */
                engine_logits(&presets[p], formats[f].fmt, chosen, 2, TB_KV_F32, got, NULL);
                double e = rel_error(got, ref, n);
                print_message("%-6s %-5s %-6s: %.2e (tolerance %.0e)\n", presets[p].name,
                              tb_format_get(formats[f].fmt)->name, tb_isa_name(chosen), e,
                              formats[f].tol);
                assert_true(e < formats[f].tol);
            }
        }
        free(ref);
        free(got);
    }
}

/* The ternary formats hold the same ternary matrices: identical logits. */
static void test_ternary_formats_agree(void **state)
{
    (void)state;
    const tb_format ternary[] = {TB_FMT_I2_S, TB_FMT_TQ2_0, TB_FMT_TQ1_0, TB_FMT_TL2, TB_FMT_T1_67};
    for (size_t p = 0; p < sizeof presets / sizeof presets[0]; p++) {
        size_t n = (size_t)NTOK * presets[p].vocab;
        float *first = malloc(n * sizeof *first), *got = malloc(n * sizeof *got);
        tb_cpu_info cpu;
        tb_cpu_detect(&cpu);
        tb_isa best = tb_isa_best(cpu.features);
        engine_logits(&presets[p], ternary[0], best, 2, TB_KV_F16, first, NULL);
        for (size_t f = 1; f < sizeof ternary / sizeof ternary[0]; f++) {
            engine_logits(&presets[p], ternary[f], best, 2, TB_KV_F16, got, NULL);
            assert_memory_equal(got, first, n * sizeof *got);
        }
        free(first);
        free(got);
    }
}

/* "FILE@t1_67": bitnet.cpp's own tiny I2_S file with its projections
 * re-encoded at load computes the file's logits bit for bit; a file whose
 * projections are not ternary is refused. */
static void test_repacked_file(void **state)
{
    (void)state;
    const char *file = TB_TEST_DATA "/bitnet-cpp-tiny/tiny-i2_s.gguf";
    char spec[512];
    snprintf(spec, sizeof spec, "%s@t1_67", file);
    tb_model *a, *b;
    tb_error err;
    tb_cpu_info cpu;
    tb_cpu_detect(&cpu);
    tb_isa best = tb_isa_best(cpu.features);
    assert_int_equal(tb_model_open(file, 2, best, 32, TB_KV_F16, &a, &err), TB_OK);
    if (tb_model_open(spec, 2, best, 32, TB_KV_F16, &b, &err) != TB_OK)
        fail_msg("%s", err.text);
    assert_int_equal(b->layers[0].wq.fmt, TB_FMT_T1_67);
    assert_true(b->weight_bytes < a->weight_bytes);
    int vocab = a->cfg.vocab;
    float *la = malloc(sizeof(float) * vocab);
    for (int t = 0; t < 6; t++) {
        memcpy(la, tb_model_forward(a, 1 + 37 * t), sizeof(float) * vocab);
        assert_memory_equal(tb_model_forward(b, 1 + 37 * t), la, sizeof(float) * vocab);
    }
    free(la);
    tb_model_free(a);
    tb_model_free(b);
    snprintf(spec, sizeof spec, "%s/bitnet-cpp-tiny/tiny-f16.gguf@t1_67", TB_TEST_DATA);
    assert_int_equal(tb_model_open(spec, 1, best, 32, TB_KV_F16, &b, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "are f16: convert the file to i2_s first"));
}

/* Files quantised by llama.cpp itself (tests/data/llamacpp-kquants: a tiny
 * llama in nine mixes of K-quant and IQ4 types, each tensor in the type the
 * mix gives it): the engine's logits against the reference forward pass
 * over the same file, on every ISA the CPU has. */
static void test_llama_cpp_mixes(void **state)
{
    (void)state;
    static const char *mixes[] = {"Q2_K",   "Q3_K_M", "Q4_K_S", "Q4_K_M", "Q5_K_S",
                                  "Q5_K_M", "Q6_K",   "IQ4_NL", "IQ4_XS"};
    tb_cpu_info cpu;
    tb_cpu_detect(&cpu);
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/llamacpp-kquants/tiny-llama-%s.gguf", TB_TEST_DATA, mixes[i]);
        tb_model *m;
        tb_error err;
        if (tb_model_load(path, 1, TB_ISA_SCALAR, 32, TB_KV_F32, &m, &err) != TB_OK)
            fail_msg("%s", err.text);
        size_t n = (size_t)NTOK * m->cfg.vocab;
        float *ref = malloc(n * sizeof *ref), *got = malloc(n * sizeof *got);
        reference(m, ref);
        tb_model_free(m);
        for (int isa = 0; isa < TB_ISA_COUNT; isa++) {
            tb_isa chosen;
            if (tb_isa_select(cpu.features, tb_isa_name((tb_isa)isa), &chosen, &err) != TB_OK)
                continue;
            if (tb_model_load(path, 2, chosen, 32, TB_KV_F32, &m, &err) != TB_OK)
                fail_msg("%s", err.text);
            for (int t = 0; t < NTOK; t++)
                memcpy(got + (size_t)t * m->cfg.vocab, tb_model_forward(m, tokens[t]),
                       m->cfg.vocab * sizeof *got);
            tb_model_free(m);
            double e = rel_error(got, ref, n);
            print_message("%-6s %-6s: %.2e (tolerance 2e-02)\n", mixes[i], tb_isa_name(chosen), e);
            assert_true(e < 2e-2);
        }
        free(ref);
        free(got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_matches_reference),
        cmocka_unit_test(test_ternary_formats_agree),
        cmocka_unit_test(test_repacked_file),
        cmocka_unit_test(test_llama_cpp_mixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
