/*
 * kquants.c - llama.cpp's Q2_K, Q3_K, Q4_K, Q5_K, IQ4_NL and IQ4_XS:
 * quantisers, dequantisers and the scalar reference kernels.
 *
 * The dequantisers follow llama.cpp's float operations step for step, so
 * that a file quantised by llama.cpp reads back bit for bit
 * (tests/test_kquants.c checks them against llama.cpp's own output). The
 * quantisers search scales the way llama.cpp's reference quantisers do: a
 * weighted least-squares fit per sub-block, over a sweep of starting scales,
 * then the sub-block scales quantised against the block's largest.
 */
#include <math.h>
#include <string.h>

#include "kernels_impl.h"

const int8_t tb_iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                  1,    13,   25,  38,  53,  69,  89,  113};

/* ---- code accessors (value v of a block) ---- */

static inline int q2_code(const tb_block_q2_K *b, int v)
{
    return (b->qs[32 * (v / 128) + v % 32] >> (2 * ((v % 128) / 32))) & 3;
}

/* 0..7; the value is this - 4 */
static inline int q3_code(const tb_block_q3_K *b, int v)
{
    int n = v / 128, j = (v % 128) / 32, l = v % 32;
    int low = (b->qs[32 * n + l] >> (2 * j)) & 3;
    return low | ((b->hmask[l] >> (4 * n + j)) & 1) << 2;
}

static inline int q4_code(const uint8_t *qs, int v)
{
    uint8_t byte = qs[32 * (v / 64) + v % 32];
    return v % 64 < 32 ? byte & 0xf : byte >> 4;
}

static inline int q5_code(const tb_block_q5_K *b, int v)
{
    return q4_code(b->qs, v) | ((b->qh[v % 32] >> (v / 32)) & 1) << 4;
}

/* IQ4 nibble of value v (0..31) of a 16-byte group */
static inline int iq4_code(const uint8_t *qs, int v)
{
    return v < 16 ? qs[v] & 0xf : qs[v - 16] >> 4;
}

/* ---- scale search ---- */

static inline int nearest(float v)
{
    return tb_nearest_int(v);
}

static inline int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* x[i] ~ scale * L[i] - m with L in 0..nmax and m >= 0, minimising the
 * weighted squared error: start from the range's end points, then for
 * each of nstep + 1 trial scales (nmax + rmin + rdelta * is) / range take
 * the codes it gives and fit scale and offset to them by least squares,
 * keeping the best. Returns the scale (0 for a constant block), *m the offset. */
static float fit_scale_min(const float *x, const float *w, int n, int nmax, float rmin,
                           float rdelta, int nstep, uint8_t *L, float *m)
{
    float lo = x[0], hi = x[0], sum_w = 0, sum_x = 0;
    for (int i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (lo > 0)
        lo = 0;
    if (hi == lo) {
        memset(L, 0, (size_t)n);
        *m = -lo;
        return 0;
    }
    float iscale = nmax / (hi - lo), scale = 1 / iscale, best = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clampi(nearest(iscale * (x[i] - lo)), 0, nmax);
        float diff = scale * L[i] + lo - x[i];
        best += w[i] * diff * diff;
    }
    uint8_t trial[32];
    for (int is = 0; is <= nstep; is++) {
        float its = (rmin + rdelta * is + nmax) / (hi - lo);
        float sl = 0, sl2 = 0, sxl = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest(its * (x[i] - lo)), 0, nmax);
            trial[i] = (uint8_t)l;
            sl += w[i] * l;
            sl2 += w[i] * l * l;
            sxl += w[i] * l * x[i];
        }
        float det = sum_w * sl2 - sl * sl;
        if (det <= 0)
            continue;
        float s = (sum_w * sxl - sum_x * sl) / det, mn = (sl2 * sum_x - sl * sxl) / det;
        if (mn > 0) {
            mn = 0;
            s = sxl / sl2;
        }
        float err = 0;
        for (int i = 0; i < n; i++) {
            float diff = s * trial[i] + mn - x[i];
            err += w[i] * diff * diff;
        }
        if (err < best) {
            memcpy(L, trial, (size_t)n);
            best = err;
            scale = s;
            lo = mn;
        }
    }
    *m = -lo;
    return scale;
}

/* x[i] ~ scale * l with integer l in -nmax..nmax-1: trial inverse scales
 * around nmax / max (the value of largest magnitude, sign kept, maps to
 * -nmax), each refitted by least squares; the best weighted fit wins. */
float tb_fit_scale_sym(const float *x, const float *w, int n, int nmax)
{
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax == 0)
        return 0;
    float best_scale = max / -nmax, best = INFINITY;
    for (int is = -9; is <= 9; is++) {
        float iscale = -(nmax + 0.1f * is) / max, sxl = 0, sl2 = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest(iscale * x[i]), -nmax, nmax - 1);
            sxl += w[i] * x[i] * l;
            sl2 += w[i] * l * l;
        }
        if (sl2 <= 0)
            continue;
        float s = sxl / sl2, err = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest(x[i] / s), -nmax, nmax - 1);
            float diff = s * l - x[i];
            err += w[i] * diff * diff;
        }
        if (err < best) {
            best = err;
            best_scale = s;
        }
    }
    return best_scale;
}

/* The IQ4 level nearest v. */
static int iq4_nearest(float v)
{
    int best = 0;
    for (int u = 1; u < 16; u++)
        if (fabsf(v - tb_iq4_values[u]) < fabsf(v - tb_iq4_values[best]))
            best = u;
    return best;
}

/* x[i] ~ scale * tb_iq4_values[L[i]] over 32 values: trial scales that put
 * the value of largest magnitude near either end of the levels, each refitted
 * by least squares. Returns the scale (0 for a zero block). */
static float fit_iq4(const float *x, const float *w, uint8_t *L)
{
    float amax = 0, max = 0;
    for (int i = 0; i < 32; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    memset(L, 8, 32); /* level 1: nearest zero */
    if (amax == 0)
        return 0;
    float best_scale = 0, best_score = -1;
    for (int end = 0; end < 2; end++)
        for (int itry = -7; itry <= 7; itry++) {
            float id = (end ? 113 + itry : -127 + itry) / max, sqx = 0, sq2 = 0;
            uint8_t trial[32];
            for (int i = 0; i < 32; i++) {
                trial[i] = (uint8_t)iq4_nearest(id * x[i]);
                float q = tb_iq4_values[trial[i]];
                sqx += w[i] * q * x[i];
                sq2 += w[i] * q * q;
            }
            if (sq2 > 0 && sqx * sqx > best_score * sq2) {
                best_score = sqx * sqx / sq2;
                best_scale = sqx / sq2;
                memcpy(L, trial, 32);
            }
        }
    return best_scale;
}

/* Quantises a scale against the largest: 0..qmax codes of s / step. */
static int scale_code(float s, float inv_step, int qmax)
{
    return clampi(nearest(inv_step * s), 0, qmax);
}

/* ---- quantisers ---- */

static void q2_K_block(const float *x, tb_block_q2_K *b)
{
    float scales[16], mins[16], max_scale = 0, max_min = 0, w[16];
    uint8_t L[256];
    for (int s = 0; s < 16; s++) {
        for (int i = 0; i < 16; i++)
            w[i] = fabsf(x[16 * s + i]);
        scales[s] = fit_scale_min(x + 16 * s, w, 16, 3, -0.5f, 0.1f, 15, L + 16 * s, &mins[s]);
        max_scale = scales[s] > max_scale ? scales[s] : max_scale;
        max_min = mins[s] > max_min ? mins[s] : max_min;
    }
    memset(b, 0, sizeof *b);
    float iq = max_scale > 0 ? 15 / max_scale : 0, im = max_min > 0 ? 15 / max_min : 0;
    for (int s = 0; s < 16; s++)
        b->scales[s] = (uint8_t)(scale_code(scales[s], iq, 15) | scale_code(mins[s], im, 15) << 4);
    b->d = tb_f32_to_f16(max_scale / 15);
    b->dmin = tb_f32_to_f16(max_min / 15);
    float d = tb_f16_to_f32(b->d), dmin = tb_f16_to_f32(b->dmin);
    for (int v = 0; v < TB_QK_K; v++) {
        float dl = d * (b->scales[v / 16] & 0xf), ml = dmin * (b->scales[v / 16] >> 4);
        int u = dl != 0 ? clampi(nearest((x[v] + ml) / dl), 0, 3) : 0;
        b->qs[32 * (v / 128) + v % 32] |= (uint8_t)(u << (2 * ((v % 128) / 32)));
    }
}

static void q3_K_block(const float *x, tb_block_q3_K *b)
{
    float scales[16], w[16], amax = 0, max = 0;
    for (int s = 0; s < 16; s++) {
        float sum2 = 0;
        for (int i = 0; i < 16; i++)
            sum2 += x[16 * s + i] * x[16 * s + i];
        for (int i = 0; i < 16; i++) /* favour the larger values, as llama.cpp does */
            w[i] = sqrtf(sum2 / 16) + fabsf(x[16 * s + i]);
        scales[s] = tb_fit_scale_sym(x + 16 * s, w, 16, 4);
        if (fabsf(scales[s]) > amax) {
            amax = fabsf(scales[s]);
            max = scales[s];
        }
    }
    memset(b, 0, sizeof *b);
    if (amax == 0) {
        memset(b->scales, 0, sizeof b->scales); /* codes 0 = scale -32 times d = 0 */
        return;
    }
    float iscale = -32 / max;
    for (int s = 0; s < 16; s++) {
        int l = clampi(nearest(iscale * scales[s]), -32, 31) + 32;
        b->scales[s % 8] |= (uint8_t)((l & 0xf) << (s < 8 ? 0 : 4));
        b->scales[8 + s % 4] |= (uint8_t)((l >> 4) << (2 * (s / 4)));
    }
    b->d = tb_f32_to_f16(1 / iscale);
    float d = tb_f16_to_f32(b->d);
    for (int v = 0; v < TB_QK_K; v++) {
        float dl = d * (tb_q3_K_scale(b->scales, v / 16) - 32);
        int u = (dl != 0 ? clampi(nearest(x[v] / dl), -4, 3) : 0) + 4;
        int n = v / 128, j = (v % 128) / 32, l = v % 32;
        b->qs[32 * n + l] |= (uint8_t)((u & 3) << (2 * j));
        if (u > 3)
            b->hmask[l] |= (uint8_t)(1 << (4 * n + j));
    }
}

/* Q4_K and Q5_K share everything but the code width: the 6-bit scale and
 * min pairs, then codes of nmax = 15 or 31 into L. */
static void k45_scales(const float *x, int nmax, uint8_t sc12[12], tb_f16 *dh, tb_f16 *dminh,
                       uint8_t L[256])
{
    float scales[8], mins[8], max_scale = 0, max_min = 0, w[32];
    for (int j = 0; j < 8; j++) {
        const float *xj = x + 32 * j;
        float sum2 = 0;
        for (int i = 0; i < 32; i++)
            sum2 += xj[i] * xj[i];
        for (int i = 0; i < 32; i++)
            w[i] = sqrtf(sum2 / 32) + fabsf(xj[i]);
        scales[j] = fit_scale_min(xj, w, 32, nmax, -1.0f, 0.1f, 20, L + 32 * j, &mins[j]);
        max_scale = scales[j] > max_scale ? scales[j] : max_scale;
        max_min = mins[j] > max_min ? mins[j] : max_min;
    }
    float iq = max_scale > 0 ? 63 / max_scale : 0, im = max_min > 0 ? 63 / max_min : 0;
    memset(sc12, 0, 12);
    for (int j = 0; j < 8; j++) {
        int ls = scale_code(scales[j], iq, 63), lm = scale_code(mins[j], im, 63);
        if (j < 4) {
            sc12[j] |= (uint8_t)ls;
            sc12[j + 4] |= (uint8_t)lm;
        } else {
            sc12[j + 4] = (uint8_t)((ls & 0xf) | (lm & 0xf) << 4);
            sc12[j - 4] |= (uint8_t)((ls >> 4) << 6);
            sc12[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    *dh = tb_f32_to_f16(max_scale / 63);
    *dminh = tb_f32_to_f16(max_min / 63);
    float d = tb_f16_to_f32(*dh), dmin = tb_f16_to_f32(*dminh);
    for (int j = 0; j < 8; j++) {
        int sc, m;
        tb_k4_scale_min(sc12, j, &sc, &m);
        float dl = d * sc, ml = dmin * m;
        for (int i = 0; i < 32; i++)
            L[32 * j + i] = (uint8_t)(dl != 0 ? clampi(nearest((x[32 * j + i] + ml) / dl), 0, nmax) : 0);
    }
}

static void q4_K_block(const float *x, tb_block_q4_K *b)
{
    uint8_t L[256];
    k45_scales(x, 15, b->scales, &b->d, &b->dmin, L);
    for (int j = 0; j < 4; j++)
        for (int l = 0; l < 32; l++)
            b->qs[32 * j + l] = (uint8_t)(L[64 * j + l] | L[64 * j + 32 + l] << 4);
}

static void q5_K_block(const float *x, tb_block_q5_K *b)
{
    uint8_t L[256];
    k45_scales(x, 31, b->scales, &b->d, &b->dmin, L);
    memset(b->qh, 0, sizeof b->qh);
    for (int j = 0; j < 4; j++)
        for (int l = 0; l < 32; l++)
            b->qs[32 * j + l] = (uint8_t)((L[64 * j + l] & 0xf) | (L[64 * j + 32 + l] & 0xf) << 4);
    for (int v = 0; v < TB_QK_K; v++)
        b->qh[v % 32] |= (uint8_t)((L[v] >> 4) << (v / 32));
}

static void iq4_pack(const uint8_t *L, uint8_t *qs)
{
    for (int j = 0; j < 16; j++)
        qs[j] = (uint8_t)(L[j] | L[j + 16] << 4);
}

/* weights for the IQ4 fits: larger values count more */
static void iq4_weights(const float *x, float *w)
{
    float sum2 = 0;
    for (int i = 0; i < 32; i++)
        sum2 += x[i] * x[i];
    for (int i = 0; i < 32; i++)
        w[i] = 2 * sum2 / 32 + x[i] * x[i];
}

static void iq4_nl_block(const float *x, tb_block_iq4_nl *b)
{
    float w[32];
    uint8_t L[32];
    iq4_weights(x, w);
    float s = fit_iq4(x, w, L);
    b->d = tb_f32_to_f16(s);
    float d = tb_f16_to_f32(b->d);
    for (int i = 0; i < 32 && d != 0; i++)
        L[i] = (uint8_t)iq4_nearest(x[i] / d);
    iq4_pack(L, b->qs);
}

static void iq4_xs_block(const float *x, tb_block_iq4_xs *b)
{
    float scales[8], w[32], amax = 0, max = 0;
    uint8_t L[256];
    for (int ib = 0; ib < 8; ib++) {
        iq4_weights(x + 32 * ib, w);
        scales[ib] = fit_iq4(x + 32 * ib, w, L + 32 * ib);
        if (fabsf(scales[ib]) > amax) {
            amax = fabsf(scales[ib]);
            max = scales[ib];
        }
    }
    memset(b, 0, sizeof *b);
    float d = max / -32, id = d != 0 ? 1 / d : 0;
    b->d = tb_f32_to_f16(d);
    d = tb_f16_to_f32(b->d);
    for (int ib = 0; ib < 8; ib++) {
        int l = clampi(nearest(id * scales[ib]), -32, 31) + 32;
        b->scales_l[ib / 2] |= (uint8_t)((l & 0xf) << (4 * (ib % 2)));
        b->scales_h |= (uint16_t)((l >> 4) << (2 * ib));
        float dl = d * (l - 32);
        for (int i = 0; i < 32 && dl != 0; i++)
            L[32 * ib + i] = (uint8_t)iq4_nearest(x[32 * ib + i] / dl);
        iq4_pack(L + 32 * ib, b->qs + 16 * ib);
    }
}

#define QUANTIZER(name, type, per)                                                       \
    int tb_quantize_##name(const float *src, int rows, int k, uint8_t *dst, tb_error *err) \
    {                                                                                    \
        (void)err;                                                                       \
        type *b = (type *)(void *)dst;                                                   \
        for (size_t i = 0; i < (size_t)rows * k / (per); i++)                            \
            name##_block(src + i * (per), &b[i]);                                        \
        return TB_OK;                                                                    \
    }
QUANTIZER(q2_K, tb_block_q2_K, TB_QK_K)
QUANTIZER(q3_K, tb_block_q3_K, TB_QK_K)
QUANTIZER(q4_K, tb_block_q4_K, TB_QK_K)
QUANTIZER(q5_K, tb_block_q5_K, TB_QK_K)
QUANTIZER(iq4_nl, tb_block_iq4_nl, TB_QK4_NL)
QUANTIZER(iq4_xs, tb_block_iq4_xs, TB_QK_K)

/* ---- dequantisers: llama.cpp's float steps ---- */

#define ROW(type, w, r) ((const type *)(const void *)((w)->data + (size_t)(r) * (w)->row_bytes))

void tb_dequantize_q2_K(const tb_matrix *w, int r, float *y)
{
    const tb_block_q2_K *b = ROW(tb_block_q2_K, w, r);
    for (int i = 0; i < w->k / TB_QK_K; i++, b++, y += TB_QK_K) {
        float d = tb_f16_to_f32(b->d), dmin = tb_f16_to_f32(b->dmin);
        for (int v = 0; v < TB_QK_K; v++) {
            float dl = d * (b->scales[v / 16] & 0xf), ml = dmin * (b->scales[v / 16] >> 4);
            y[v] = dl * q2_code(b, v) - ml;
        }
    }
}

void tb_dequantize_q3_K(const tb_matrix *w, int r, float *y)
{
    const tb_block_q3_K *b = ROW(tb_block_q3_K, w, r);
    for (int i = 0; i < w->k / TB_QK_K; i++, b++, y += TB_QK_K) {
        float d = tb_f16_to_f32(b->d);
        for (int v = 0; v < TB_QK_K; v++)
            y[v] = d * (tb_q3_K_scale(b->scales, v / 16) - 32) * (q3_code(b, v) - 4);
    }
}

void tb_dequantize_q4_K(const tb_matrix *w, int r, float *y)
{
    const tb_block_q4_K *b = ROW(tb_block_q4_K, w, r);
    for (int i = 0; i < w->k / TB_QK_K; i++, b++, y += TB_QK_K) {
        float d = tb_f16_to_f32(b->d), dmin = tb_f16_to_f32(b->dmin);
        for (int v = 0; v < TB_QK_K; v++) {
            int sc, m;
            tb_k4_scale_min(b->scales, v / 32, &sc, &m);
            y[v] = d * sc * q4_code(b->qs, v) - dmin * m;
        }
    }
}

void tb_dequantize_q5_K(const tb_matrix *w, int r, float *y)
{
    const tb_block_q5_K *b = ROW(tb_block_q5_K, w, r);
    for (int i = 0; i < w->k / TB_QK_K; i++, b++, y += TB_QK_K) {
        float d = tb_f16_to_f32(b->d), dmin = tb_f16_to_f32(b->dmin);
        for (int v = 0; v < TB_QK_K; v++) {
            int sc, m;
            tb_k4_scale_min(b->scales, v / 32, &sc, &m);
            y[v] = d * sc * q5_code(b, v) - dmin * m;
        }
    }
}

void tb_dequantize_iq4_nl(const tb_matrix *w, int r, float *y)
{
    const tb_block_iq4_nl *b = ROW(tb_block_iq4_nl, w, r);
    for (int i = 0; i < w->k / TB_QK4_NL; i++, b++, y += TB_QK4_NL) {
        float d = tb_f16_to_f32(b->d);
        for (int v = 0; v < 32; v++)
            y[v] = d * tb_iq4_values[iq4_code(b->qs, v)];
    }
}

void tb_dequantize_iq4_xs(const tb_matrix *w, int r, float *y)
{
    const tb_block_iq4_xs *b = ROW(tb_block_iq4_xs, w, r);
    for (int i = 0; i < w->k / TB_QK_K; i++, b++, y += TB_QK_K) {
        float d = tb_f16_to_f32(b->d);
        for (int ib = 0; ib < 8; ib++) {
            float dl = d * (tb_iq4_xs_scale(b, ib) - 32);
            for (int v = 0; v < 32; v++)
                y[32 * ib + v] = dl * tb_iq4_values[iq4_code(b->qs + 16 * ib, v)];
        }
    }
}

/* ---- scalar kernels: the reference for every ISA ----
 *
 * Per 256-value block an exact integer sum of scale x (codes . activations)
 * over the sub-blocks, and for the formats with a minimum or an offset the
 * integer sum of min (or offset) x the activations' sums per 16 (q8_K's
 * bsums); then, in float, y += d_w d_x isum - dmin_w d_x msum. */

#define FOR_OUTPUTS(type)                                                          \
    int nb = w->k / TB_QK_K;                                                       \
    for (int t = 0; t < a->n; t++)                                                 \
        for (int r = r0; r < r1; r++) {                                            \
            const type *wb = ROW(type, w, r);                                      \
            const tb_block_q8_K *xb = a->q8k + (size_t)t * nb;                     \
            float s = 0;                                                           \
            for (int b = 0; b < nb; b++) {                                         \
                const int8_t *q = xb[b].qs;                                        \
                const int16_t *bs = xb[b].bsums;                                   \
                int32_t isum = 0, msum = 0;                                        \
                float dmin = 0;
#define END_OUTPUTS(type)                                                          \
                s += tb_f16_to_f32(wb[b].d) * xb[b].d * (float)isum -              \
                     dmin * xb[b].d * (float)msum;                                 \
            }                                                                      \
            y[(size_t)t * ldy + r] = s;                                            \
        }

void tb_gemm_q2_k_scalar(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    FOR_OUTPUTS(tb_block_q2_K)
    for (int sub = 0; sub < 16; sub++) {
        int32_t dot = 0;
        for (int i = 0; i < 16; i++)
            dot += q2_code(&wb[b], 16 * sub + i) * q[16 * sub + i];
        isum += (wb[b].scales[sub] & 0xf) * dot;
        msum += (wb[b].scales[sub] >> 4) * bs[sub];
    }
    dmin = tb_f16_to_f32(wb[b].dmin);
    END_OUTPUTS(tb_block_q2_K)
}

void tb_gemm_q3_k_scalar(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    FOR_OUTPUTS(tb_block_q3_K)
    for (int sub = 0; sub < 16; sub++) { /* codes u = value + 4: the offset is 4 sum(q) */
        int32_t dot = 0;
        for (int i = 0; i < 16; i++)
            dot += q3_code(&wb[b], 16 * sub + i) * q[16 * sub + i];
        isum += (tb_q3_K_scale(wb[b].scales, sub) - 32) * (dot - 4 * bs[sub]);
    }
    END_OUTPUTS(tb_block_q3_K)
}

void tb_gemm_q4_k_scalar(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    FOR_OUTPUTS(tb_block_q4_K)
    for (int sub = 0; sub < 8; sub++) {
        int sc, m;
        int32_t dot = 0;
        tb_k4_scale_min(wb[b].scales, sub, &sc, &m);
        for (int i = 0; i < 32; i++)
            dot += q4_code(wb[b].qs, 32 * sub + i) * q[32 * sub + i];
        isum += sc * dot;
        msum += m * (bs[2 * sub] + bs[2 * sub + 1]);
    }
    dmin = tb_f16_to_f32(wb[b].dmin);
    END_OUTPUTS(tb_block_q4_K)
}

void tb_gemm_q5_k_scalar(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    FOR_OUTPUTS(tb_block_q5_K)
    for (int sub = 0; sub < 8; sub++) {
        int sc, m;
        int32_t dot = 0;
        tb_k4_scale_min(wb[b].scales, sub, &sc, &m);
        for (int i = 0; i < 32; i++)
            dot += q5_code(&wb[b], 32 * sub + i) * q[32 * sub + i];
        isum += sc * dot;
        msum += m * (bs[2 * sub] + bs[2 * sub + 1]);
    }
    dmin = tb_f16_to_f32(wb[b].dmin);
    END_OUTPUTS(tb_block_q5_K)
}

void tb_gemm_iq4_xs_scalar(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    FOR_OUTPUTS(tb_block_iq4_xs)
    (void)bs;
    for (int ib = 0; ib < 8; ib++) {
        int32_t dot = 0;
        for (int i = 0; i < 32; i++)
            dot += tb_iq4_values[iq4_code(wb[b].qs + 16 * ib, i)] * q[32 * ib + i];
        isum += (tb_iq4_xs_scale(&wb[b], ib) - 32) * dot;
    }
    END_OUTPUTS(tb_block_iq4_xs)
}

/* IQ4_NL pairs with q8_0 activations, block for block (32 values). */
void tb_gemm_iq4_nl_scalar(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    int nb = w->k / TB_QK4_NL;
    for (int t = 0; t < a->n; t++)
        for (int r = r0; r < r1; r++) {
            const tb_block_iq4_nl *wb = ROW(tb_block_iq4_nl, w, r);
            const tb_block_q8_0 *xb = a->q8 + (size_t)t * nb;
            float s = 0;
            for (int b = 0; b < nb; b++) {
                int32_t isum = 0;
                for (int i = 0; i < 32; i++)
                    isum += tb_iq4_values[iq4_code(wb[b].qs, i)] * xb[b].qs[i];
                s += (float)isum * (tb_f16_to_f32(wb[b].d) * tb_f16_to_f32(xb[b].d));
            }
            y[(size_t)t * ldy + r] = s;
        }
}
