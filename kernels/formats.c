/* formats.c - the format table, quantizers, dequantizers, activations. */
#include "formats.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_impl.h"

/* ---- quantizers (the reference for every file ternbench writes) ---- */

static int q_f32(const float *src, int rows, int k, uint8_t *dst, tb_error *err)
{
    (void)err;
    memcpy(dst, src, (size_t)rows * k * sizeof(float));
    return TB_OK;
}

static int q_f16(const float *src, int rows, int k, uint8_t *dst, tb_error *err)
{
    (void)err;
    tb_f16 *o = (tb_f16 *)dst;
    for (size_t i = 0; i < (size_t)rows * k; i++)
        o[i] = tb_f32_to_f16(src[i]);
    return TB_OK;
}

static int q_bf16(const float *src, int rows, int k, uint8_t *dst, tb_error *err)
{
    (void)err;
    tb_bf16 *o = (tb_bf16 *)dst;
    for (size_t i = 0; i < (size_t)rows * k; i++)
        o[i] = tb_f32_to_bf16(src[i]);
    return TB_OK;
}

/* The per-token steps that run on one thread while the others wait (absmax,
 * int8 rounding, block sums) get AVX2 and AVX-512 clones as well as the
 * baseline one, picked at load time: the arithmetic is the same IEEE
 * operations at any width (no contraction under -std=c11), so every clone
 * gives the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TB_SERIAL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TB_SERIAL_CLONES
#endif

/* max |x| ignoring NaNs. Compared as integers (the bits of non-negative
 * floats order as the values do), signed so that baseline x86-64 (SSE2, no
 * unsigned 32-bit compare or max) has the instruction, in eight lanes so that
 * it vectorises: a float compare-and-select does not under the default
 * -ftrapping-math, and this runs before every matrix product of a decoded
 * token. */
TB_SERIAL_CLONES static float absmax(const float *x, size_t n)
{
    int32_t lane[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) {
            int32_t u = (int32_t)(tb_f32_bits(x[i + j]) & 0x7fffffffu);
            u = u > 0x7f800000 ? 0 : u; /* NaN */
            lane[j] = u > lane[j] ? u : lane[j];
        }
    int32_t m = 0;
    for (int j = 0; j < 8; j++)
        m = lane[j] > m ? lane[j] : m;
    for (; i < n; i++) {
        int32_t u = (int32_t)(tb_f32_bits(x[i]) & 0x7fffffffu);
        u = u > 0x7f800000 ? 0 : u;
        m = u > m ? u : m;
    }
    return tb_bits_f32((uint32_t)m);
}

/* roundf (halves away from zero) for |v| <= 128, in a form that vectorises:
 * adding the float just below 0.5 and truncating gives roundf's integer for
 * every float of that range (checked exhaustively). roundf itself is a libm
 * call per value, which made quantising the q8_0 activations 7% of a 700M
 * q4_0 decoded token. */
static inline int round_away(float v)
{
    return (int)(v + copysignf(0.49999997f, v));
}

static void q8_0_block(const float *x, tb_block_q8_0 *b)
{
    float amax = absmax(x, TB_QK8_0);
    float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
    b->d = tb_f32_to_f16(d);
    for (int j = 0; j < TB_QK8_0; j++)
        b->qs[j] = (int8_t)round_away(x[j] * id);
}

/* The value of largest magnitude in x[0..n), its sign kept (the first of equals);
 * 0 when there is none. llama.cpp's K-quants scale by it. */
static float max_magnitude(const float *x, int n)
{
    float amax = 0, v = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            v = x[i];
        }
    return v;
}

/* llama.cpp's q8_K rule: the value of largest magnitude maps to -127, each
 * value rounds half to even, and the codes are summed per 16 for the K-quants'
 * offsets. An all-zero block has d = 0 and zero codes. */
static void q8_K_block(const float *x, tb_block_q8_K *b)
{
    float max = max_magnitude(x, TB_QK_K);
    memset(b, 0, sizeof *b);
    if (max == 0)
        return;
    float iscale = -127.0f / max;
    for (int j = 0; j < TB_QK_K; j++) {
        float v = tb_round_half_even(iscale * x[j]); /* |v| <= 127 */
        b->qs[j] = (int8_t)(v > 127.0f ? 127.0f : v);
    }
    for (int s = 0; s < TB_QK_K / 16; s++)
        for (int j = 0; j < 16; j++)
            b->bsums[s] = (int16_t)(b->bsums[s] + b->qs[16 * s + j]);
    b->d = 1.0f / iscale;
}

static int q_q8_0(const float *src, int rows, int k, uint8_t *dst, tb_error *err)
{
    (void)err;
    tb_block_q8_0 *b = (tb_block_q8_0 *)dst;
    for (size_t i = 0; i < (size_t)rows * k / TB_QK8_0; i++)
        q8_0_block(src + i * TB_QK8_0, &b[i]);
    return TB_OK;
}

/* One Q6_K block the way llama.cpp's reference quantiser sets it up: each
 * 16-value sub-block's scale from a least-squares search weighted by x^2
 * (tb_fit_scale_sym), the scales quantised to int8 against the largest, then
 * each value rounded against its quantised scale. */
static void q6_K_block(const float *x, tb_block_q6_K *b)
{
    float sc[16], w[16];
    for (int s = 0; s < 16; s++) {
        for (int i = 0; i < 16; i++)
            w[i] = x[16 * s + i] * x[16 * s + i];
        sc[s] = tb_fit_scale_sym(x + 16 * s, w, 16, 32);
    }
    float max_scale = max_magnitude(sc, 16);
    memset(b, 0, sizeof *b);
    if (max_scale == 0)
        return;
    float iscale = -128.0f / max_scale;
    b->d = tb_f32_to_f16(1.0f / iscale);
    for (int s = 0; s < 16; s++) {
        int q = tb_nearest_int(iscale * sc[s]);
        b->scales[s] = (int8_t)(q > 127 ? 127 : q < -128 ? -128 : q);
    }
    float d = tb_f16_to_f32(b->d);
    for (int v = 0; v < TB_QK_K; v++) {
        float dd = d * b->scales[tb_q6_K_scale_index(v)];
        int l = dd != 0 ? tb_nearest_int(x[v] / dd) : 0;
        int u = (l > 31 ? 31 : l < -32 ? -32 : l) + 32;
        int h = v / 128, q = (v % 128) / 32, i = v % 32;
        b->ql[64 * h + 32 * (q & 1) + i] |= (uint8_t)((u & 0xf) << (q >= 2 ? 4 : 0));
        b->qh[32 * h + i] |= (uint8_t)((u >> 4) << (2 * q));
    }
}

static int q_q6_K(const float *src, int rows, int k, uint8_t *dst, tb_error *err)
{
    (void)err;
    tb_block_q6_K *b = (tb_block_q6_K *)(void *)dst;
    for (size_t i = 0; i < (size_t)rows * k / TB_QK_K; i++)
        q6_K_block(src + i * TB_QK_K, &b[i]);
    return TB_OK;
}

static int q_q4_0(const float *src, int rows, int k, uint8_t *dst, tb_error *err)
{
    (void)err;
    tb_block_q4_0 *b = (tb_block_q4_0 *)dst;
    for (size_t i = 0; i < (size_t)rows * k / TB_QK4_0; i++) {
        const float *x = src + i * TB_QK4_0;
        float amax = 0, max = 0;
        for (int j = 0; j < TB_QK4_0; j++)
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        float d = max / -8.0f, id = d ? 1.0f / d : 0.0f;
        b[i].d = tb_f32_to_f16(d);
        for (int j = 0; j < TB_QK4_0 / 2; j++) {
            int lo = (int)(int8_t)(x[j] * id + 8.5f), hi = (int)(int8_t)(x[j + 16] * id + 8.5f);
            lo = lo > 15 ? 15 : lo;
            hi = hi > 15 ? 15 : hi;
            b[i].qs[j] = (uint8_t)(lo | hi << 4);
        }
    }
    return TB_OK;
}

/* Ternary code (w + 1 in {0, 1, 2}) of x at inverse scale id: round half
 * away from zero (as llama.cpp's lroundf), clamped to [-1, 1]; comparisons
 * rather than libm calls, so that quantizing a 2B-parameter model is fast. */
static int trit(float x, float id)
{
    float v = x * id;
    return (v >= 0.5f) - (v <= -0.5f) + 1;
}

static int q_i2_s(const float *src, int rows, int k, uint8_t *dst, tb_error *err)
{
    (void)err;
    size_t n = (size_t)rows * k;
    float amax = absmax(src, n);
    float id = amax ? 1.0f / amax : 0.0f;
    for (size_t blk = 0; blk < n / TB_I2S_BLOCK; blk++) {
        const float *x = src + blk * TB_I2S_BLOCK;
        uint8_t *o = dst + blk * 32;
        for (int p = 0; p < 32; p++)
            o[p] = (uint8_t)(trit(x[p], id) << 6 | trit(x[p + 32], id) << 4 |
                             trit(x[p + 64], id) << 2 | trit(x[p + 96], id));
    }
    uint8_t *tail = dst + n / 4;
    memset(tail, 0, TB_I2S_TAIL); /* bitnet.cpp leaves the pad uninitialised; we zero it */
    memcpy(tail, &amax, sizeof amax);
    return TB_OK;
}

static int q_tq2_0(const float *src, int rows, int k, uint8_t *dst, tb_error *err)
{
    (void)err;
    tb_block_tq2_0 *b = (tb_block_tq2_0 *)dst;
    for (size_t i = 0; i < (size_t)rows * k / TB_QK_K; i++) {
        const float *x = src + i * TB_QK_K;
        float amax = absmax(x, TB_QK_K);
        float id = amax ? 1.0f / amax : 0.0f;
        b[i].d = tb_f32_to_f16(amax);
        for (int h = 0; h < 2; h++)
            for (int m = 0; m < 32; m++) {
                const float *xh = x + h * 128;
                b[i].qs[h * 32 + m] = (uint8_t)(trit(xh[m], id) | trit(xh[m + 32], id) << 2 |
                                                trit(xh[m + 64], id) << 4 |
                                                trit(xh[m + 96], id) << 6);
            }
    }
    return TB_OK;
}

/* Packs n base-3 digits (most significant first) the way llama.cpp does. */
static uint8_t pack_trits(const int *digits, int n)
{
    unsigned q = 0;
    for (int i = 0; i < n; i++)
        q = q * 3 + (unsigned)digits[i];
    for (int i = n; i < 5; i++)
        q *= 3;
    return (uint8_t)((q * 256 + 242) / 243);
}

static int q_tq1_0(const float *src, int rows, int k, uint8_t *dst, tb_error *err)
{
    (void)err;
    tb_block_tq1_0 *b = (tb_block_tq1_0 *)dst;
    for (size_t i = 0; i < (size_t)rows * k / TB_QK_K; i++) {
        const float *x = src + i * TB_QK_K;
        float amax = absmax(x, TB_QK_K);
        float id = amax ? 1.0f / amax : 0.0f;
        b[i].d = tb_f32_to_f16(amax);
        int d5[5];
        for (int m = 0; m < 32; m++) { /* values 0..159: byte m, digit n -> m + 32 n */
            for (int n = 0; n < 5; n++)
                d5[n] = trit(x[m + 32 * n], id);
            b[i].qs[m] = pack_trits(d5, 5);
        }
        for (int m = 0; m < 16; m++) { /* values 160..239 */
            for (int n = 0; n < 5; n++)
                d5[n] = trit(x[160 + m + 16 * n], id);
            b[i].qs[32 + m] = pack_trits(d5, 5);
        }
        for (int j = 0; j < 4; j++) { /* values 240..255, 4 digits per byte */
            for (int n = 0; n < 4; n++)
                d5[n] = trit(x[240 + j + 4 * n], id);
            b[i].qh[j] = pack_trits(d5, 4);
        }
    }
    return TB_OK;
}

/* tl2: where row r's group g lives, and the bit of its sign. */
static void tl2_locate(int r, int g, size_t tile_bytes, size_t *nib, int *high, size_t *word,
                       int *bit)
{
    int tile = r / TB_TL2_ROWS, i = r % TB_TL2_ROWS;
    size_t base = (size_t)tile * tile_bytes + (size_t)g * TB_TL2_GROUP_BYTES;
    *nib = base + (size_t)(i % 16);
    *high = i >= 16;
    /* sign word 0: rows 0-7, 16-23; word 1: rows 8-15, 24-31 */
    *word = base + 16 + 2 * (size_t)((i / 8) % 2);
    *bit = (i % 8) + (i >= 16 ? 8 : 0);
}

static size_t tl2_tile_bytes(int k)
{
    return (size_t)((k + 2) / 3) * TB_TL2_GROUP_BYTES;
}

static int q_tl2(const float *src, int rows, int k, uint8_t *dst, tb_error *err)
{
    (void)err;
    float amax = absmax(src, (size_t)rows * k);
    float id = amax ? 1.0f / amax : 0.0f;
    int tiles = (rows + TB_TL2_ROWS - 1) / TB_TL2_ROWS, groups = (k + 2) / 3;
    size_t tb = tl2_tile_bytes(k), body = (size_t)tiles * tb;
    memset(dst, 0, body + TB_I2S_TAIL);
    for (int r = 0; r < rows; r++)
        for (int g = 0; g < groups; g++) {
            int w[3];
            for (int j = 0; j < 3; j++) {
                int c = 3 * g + j;
                w[j] = c < k ? trit(src[(size_t)r * k + c], id) - 1 : 0;
            }
            int idx = 9 * w[0] + 3 * w[1] + w[2];
            size_t nib, word;
            int high, bit;
            tl2_locate(r, g, tb, &nib, &high, &word, &bit);
            dst[nib] |= (uint8_t)((idx < 0 ? -idx : idx) << (high ? 4 : 0));
            if (idx < 0) {
                uint16_t sw;
                memcpy(&sw, dst + word, 2);
                sw |= (uint16_t)(1u << bit);
                memcpy(dst + word, &sw, 2);
            }
        }
    memcpy(dst + body, &amax, sizeof amax);
    return TB_OK;
}

const uint8_t tb_t167_codes[32] = {
#define C3(c0) (c0) | 0 << 2 | 0 << 4, (c0) | 0 << 2 | 1 << 4, (c0) | 0 << 2 | 2 << 4,       \
               (c0) | 1 << 2 | 0 << 4, (c0) | 1 << 2 | 1 << 4, (c0) | 1 << 2 | 2 << 4,       \
               (c0) | 2 << 2 | 0 << 4, (c0) | 2 << 2 | 1 << 4, (c0) | 2 << 2 | 2 << 4
    C3(0), C3(1), C3(2),
#undef C3
    0x15, 0x15, 0x15, 0x15, 0x15, /* 27-31: unused, zeros */
};

static int q_t1_67(const float *src, int rows, int k, uint8_t *dst, tb_error *err)
{
    (void)err;
    float amax = absmax(src, (size_t)rows * k);
    float id = amax ? 1.0f / amax : 0.0f;
    size_t body = tb_format_bytes(TB_FMT_T1_67, rows, k) - TB_I2S_TAIL;
    memset(dst, 0, body + TB_I2S_TAIL);
    tb_matrix w = {.fmt = TB_FMT_T1_67, .rows = rows, .k = k, .data = dst, .row_bytes = tb_t167_row_bytes(k)};
    for (int r = 0; r < rows; r++) {
        const float *x = src + (size_t)r * k;
        int b = 0;
        for (; b + TB_T167_BLOCK <= k; b += TB_T167_BLOCK) {
            uint8_t *o = (uint8_t *)tb_t167_block(&w, r, b / TB_T167_BLOCK);
            for (int j = 0; j < 64; j++) {
                unsigned c = 9u * trit(x[b + j], id) + 3u * trit(x[b + j + 64], id) +
                             trit(x[b + j + 128], id);
                unsigned v = c << (5 * j % 8);
                o[5 * j / 8] |= (uint8_t)v;
                if (v >> 8)
                    o[5 * j / 8 + 1] |= (uint8_t)(v >> 8);
            }
        }
        for (uint8_t *o = (uint8_t *)tb_t167_chunk0(&w, r); b < k; b += TB_T167_TAIL, o += TB_T167_ROWS * 16)
            for (int p = 0; p < 16; p++)
                for (int f = 0; f < 4; f++)
                    o[p] |= (uint8_t)(trit(x[b + p + 16 * f], id) << 2 * f);
    }
    memcpy(dst + body, &amax, sizeof amax);
    return TB_OK;
}

static void dq_t1_67(const tb_matrix *w, int r, float *y)
{
    int b = 0;
    for (; b + TB_T167_BLOCK <= w->k; b += TB_T167_BLOCK) {
        const uint8_t *p = tb_t167_block(w, r, b / TB_T167_BLOCK);
        for (int j = 0; j < 64; j++) {
            int c = tb_t167_codes[tb_t167_code(p, j)];
            for (int d = 0; d < 3; d++)
                y[b + j + 64 * d] = (float)(((c >> 2 * d) & 3) - 1) * w->scale;
        }
    }
    for (const uint8_t *p = tb_t167_chunk0(w, r); b < w->k; b += TB_T167_TAIL, p += TB_T167_ROWS * 16)
        for (int v = 0; v < TB_T167_TAIL; v++)
            y[b + v] = (float)(((p[v % 16] >> 2 * (v / 16)) & 3) - 1) * w->scale;
}

/* The three weights that tl2 magnitude m (0..13) encodes: m = 9 w0 + 3 w1 + w2. */
static void tl2_decode(int m, int w[3])
{
    for (int j = 2; j >= 0; j--) {
        int d = ((m % 3) + 3) % 3; /* balanced ternary digit */
        w[j] = d == 2 ? -1 : d;
        m = (m - w[j]) / 3;
    }
}

/* ---- dequantizers ---- */

static void dq_f32(const tb_matrix *w, int r, float *y)
{
    memcpy(y, w->data + (size_t)r * w->row_bytes, (size_t)w->k * sizeof(float));
}

static void dq_f16(const tb_matrix *w, int r, float *y)
{
    const tb_f16 *x = (const tb_f16 *)(w->data + (size_t)r * w->row_bytes);
    for (int i = 0; i < w->k; i++)
        y[i] = tb_f16_to_f32(x[i]);
}

static void dq_bf16(const tb_matrix *w, int r, float *y)
{
    const tb_bf16 *x = (const tb_bf16 *)(w->data + (size_t)r * w->row_bytes);
    for (int i = 0; i < w->k; i++)
        y[i] = tb_bf16_to_f32(x[i]);
}

static void dq_q8_0(const tb_matrix *w, int r, float *y)
{
    const tb_block_q8_0 *b = (const tb_block_q8_0 *)(w->data + (size_t)r * w->row_bytes);
    for (int i = 0; i < w->k / TB_QK8_0; i++) {
        float d = tb_f16_to_f32(b[i].d);
        for (int j = 0; j < TB_QK8_0; j++)
            y[i * TB_QK8_0 + j] = b[i].qs[j] * d;
    }
}

static void dq_q6_K(const tb_matrix *w, int r, float *y)
{
    const tb_block_q6_K *b = (const tb_block_q6_K *)(const void *)(w->data + (size_t)r * w->row_bytes);
    for (int i = 0; i < w->k / TB_QK_K; i++, b++) {
        float d = tb_f16_to_f32(b->d);
        for (int v = 0; v < TB_QK_K; v++)
            y[i * TB_QK_K + v] = d * b->scales[tb_q6_K_scale_index(v)] * (tb_q6_K_code(b, v) - 32);
    }
}

static void dq_q4_0(const tb_matrix *w, int r, float *y)
{
    const tb_block_q4_0 *b = (const tb_block_q4_0 *)(w->data + (size_t)r * w->row_bytes);
    for (int i = 0; i < w->k / TB_QK4_0; i++) {
        float d = tb_f16_to_f32(b[i].d);
        for (int j = 0; j < 16; j++) {
            y[i * 32 + j] = ((b[i].qs[j] & 0xf) - 8) * d;
            y[i * 32 + j + 16] = ((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void dq_i2_s(const tb_matrix *w, int r, float *y)
{
    const uint8_t *row = tb_i2s_row(w, r);
    for (int blk = 0; blk < w->k / TB_I2S_BLOCK; blk++) {
        const uint8_t *p = tb_i2s_group(w, row, blk);
        for (int j = 0; j < 32; j++) {
            float *o = y + blk * TB_I2S_BLOCK + j;
            o[0] = (float)(((p[j] >> 6) & 3) - 1) * w->scale;
            o[32] = (float)(((p[j] >> 4) & 3) - 1) * w->scale;
            o[64] = (float)(((p[j] >> 2) & 3) - 1) * w->scale;
            o[96] = (float)((p[j] & 3) - 1) * w->scale;
        }
    }
}

static void dq_tq2_0(const tb_matrix *w, int r, float *y)
{
    const tb_block_tq2_0 *b = (const tb_block_tq2_0 *)(w->data + (size_t)r * w->row_bytes);
    for (int i = 0; i < w->k / TB_QK_K; i++) {
        float d = tb_f16_to_f32(b[i].d);
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 4; l++)
                for (int m = 0; m < 32; m++)
                    y[i * 256 + h * 128 + l * 32 + m] =
                        (float)(((b[i].qs[h * 32 + m] >> (2 * l)) & 3) - 1) * d;
    }
}

static void dq_tq1_0(const tb_matrix *w, int r, float *y)
{
    const tb_block_tq1_0 *b = (const tb_block_tq1_0 *)(w->data + (size_t)r * w->row_bytes);
    for (int i = 0; i < w->k / TB_QK_K; i++) {
        float d = tb_f16_to_f32(b[i].d);
        float *o = y + i * 256;
        for (int n = 0; n < 5; n++) {
            for (int m = 0; m < 32; m++)
                o[m + 32 * n] = (float)(tb_tq1_digit(b[i].qs[m], n) - 1) * d;
            for (int m = 0; m < 16; m++)
                o[160 + m + 16 * n] = (float)(tb_tq1_digit(b[i].qs[32 + m], n) - 1) * d;
        }
        for (int n = 0; n < 4; n++)
            for (int j = 0; j < 4; j++)
                o[240 + j + 4 * n] = (float)(tb_tq1_digit(b[i].qh[j], n) - 1) * d;
    }
}

static void dq_tl2(const tb_matrix *w, int r, float *y)
{
    for (int g = 0; g < (w->k + 2) / 3; g++) {
        size_t nib, word;
        int high, bit, t[3];
        tl2_locate(r, g, w->tile_bytes, &nib, &high, &word, &bit);
        int m = high ? w->data[nib] >> 4 : w->data[nib] & 0xf;
        uint16_t sw;
        memcpy(&sw, w->data + word, 2);
        tl2_decode(m, t);
        int sign = (sw >> bit) & 1 ? -1 : 1;
        for (int j = 0; j < 3 && 3 * g + j < w->k; j++)
            y[3 * g + j] = (float)(sign * t[j]) * w->scale;
    }
}

/* ---- the table ---- */

#if defined(__x86_64__)
#define X86(f) f
#else
#define X86(f) NULL
#endif
#if defined(__aarch64__)
#define ARM(f) f
#else
#define ARM(f) NULL
#endif

/* Each format's kernels per ISA; NULL where a variant does not exist (the
 * dispatcher then falls back to the next lower one, down to scalar). */
#define GEMMS(name)                                                                      \
    {[TB_ISA_SCALAR] = tb_gemm_##name##_scalar, [TB_ISA_AVX2] = X86(tb_gemm_##name##_avx2), \
     [TB_ISA_AVX512] = X86(tb_gemm_##name##_avx512), [TB_ISA_NEON] = ARM(tb_gemm_##name##_neon)}

static const tb_format_traits table[TB_FMT_COUNT] = {
    [TB_FMT_F32] = {"f32", 1, 4, false, TB_ACT_F32, q_f32, dq_f32, GEMMS(f32)},
    [TB_FMT_F16] = {"f16", 1, 2, false, TB_ACT_F32, q_f16, dq_f16, GEMMS(f16)},
    [TB_FMT_BF16] = {"bf16", 1, 2, false, TB_ACT_F32, q_bf16, dq_bf16, GEMMS(bf16)},
    [TB_FMT_Q8_0] = {"q8_0", TB_QK8_0, sizeof(tb_block_q8_0), false, TB_ACT_Q8_0, q_q8_0, dq_q8_0,
                     GEMMS(q8_0)},
    [TB_FMT_Q4_0] = {"q4_0", TB_QK4_0, sizeof(tb_block_q4_0), false, TB_ACT_Q8_0, q_q4_0, dq_q4_0,
                     GEMMS(q4_0)},
    [TB_FMT_I2_S] = {"i2_s", TB_I2S_BLOCK, 32, true, TB_ACT_I8, q_i2_s, dq_i2_s, GEMMS(i2_s)},
    [TB_FMT_TQ2_0] = {"tq2_0", TB_QK_K, sizeof(tb_block_tq2_0), true, TB_ACT_I8, q_tq2_0, dq_tq2_0,
                      GEMMS(tq2_0)},
    [TB_FMT_TQ1_0] = {"tq1_0", TB_QK_K, sizeof(tb_block_tq1_0), true, TB_ACT_I8, q_tq1_0, dq_tq1_0,
                      GEMMS(tq1_0)},
    [TB_FMT_Q6_K] = {"q6_k", TB_QK_K, sizeof(tb_block_q6_K), false, TB_ACT_Q8_K, q_q6_K, dq_q6_K,
                     {[TB_ISA_SCALAR] = tb_gemm_q6_k_scalar, [TB_ISA_AVX2] = X86(tb_gemm_q6_k_avx2),
                      [TB_ISA_AVX512] = X86(tb_gemm_q6_k_avx512), [TB_ISA_NEON] = ARM(tb_gemm_q6_k_neon)}},
    [TB_FMT_Q2_K] = {"q2_k", TB_QK_K, sizeof(tb_block_q2_K), false, TB_ACT_Q8_K, tb_quantize_q2_K,
                     tb_dequantize_q2_K, GEMMS(q2_k)},
    [TB_FMT_Q3_K] = {"q3_k", TB_QK_K, sizeof(tb_block_q3_K), false, TB_ACT_Q8_K, tb_quantize_q3_K,
                     tb_dequantize_q3_K, GEMMS(q3_k)},
    [TB_FMT_Q4_K] = {"q4_k", TB_QK_K, sizeof(tb_block_q4_K), false, TB_ACT_Q8_K, tb_quantize_q4_K,
                     tb_dequantize_q4_K, GEMMS(q4_k)},
    [TB_FMT_Q5_K] = {"q5_k", TB_QK_K, sizeof(tb_block_q5_K), false, TB_ACT_Q8_K, tb_quantize_q5_K,
                     tb_dequantize_q5_K, GEMMS(q5_k)},
    [TB_FMT_IQ4_NL] = {"iq4_nl", TB_QK4_NL, sizeof(tb_block_iq4_nl), false, TB_ACT_Q8_0,
                       tb_quantize_iq4_nl, tb_dequantize_iq4_nl, GEMMS(iq4_nl)},
    [TB_FMT_IQ4_XS] = {"iq4_xs", TB_QK_K, sizeof(tb_block_iq4_xs), false, TB_ACT_Q8_K,
                       tb_quantize_iq4_xs, tb_dequantize_iq4_xs, GEMMS(iq4_xs)},
    /* block/bytes describe the average (20 bytes per 96 weights); the layout is tiled */
    [TB_FMT_TL2] = {"tl2", 128, 0, true, TB_ACT_I8_LUT, q_tl2, dq_tl2,
                    {[TB_ISA_SCALAR] = tb_gemm_tl2_scalar, [TB_ISA_AVX2] = X86(tb_gemm_tl2_avx2),
                     [TB_ISA_AVX512] = X86(tb_gemm_tl2_avx512), [TB_ISA_NEON] = ARM(tb_gemm_tl2_neon)}},
    /* block: k's granularity (that of the int8 activations); 40 bytes per 192 weights */
    [TB_FMT_T1_67] = {"t1_67", TB_I2S_BLOCK, 0, true, TB_ACT_I8, q_t1_67, dq_t1_67,
                      {[TB_ISA_SCALAR] = tb_gemm_t1_67_scalar, [TB_ISA_AVX2] = X86(tb_gemm_t1_67_avx2),
                       [TB_ISA_AVX512] = X86(tb_gemm_t1_67_avx512),
                       [TB_ISA_NEON] = ARM(tb_gemm_t1_67_neon)}},
};

const tb_format_traits *tb_format_get(tb_format fmt)
{
    return (unsigned)fmt < TB_FMT_COUNT ? &table[fmt] : NULL;
}

int tb_format_parse(const char *name, tb_format *out, tb_error *err)
{
    for (int i = 0; i < TB_FMT_COUNT; i++)
        if (strcmp(name, table[i].name) == 0) {
            *out = (tb_format)i;
            return TB_OK;
        }
    char list[256] = "";
    for (int i = 0; i < TB_FMT_COUNT; i++) {
        strcat(list, i ? ", " : "");
        strcat(list, table[i].name);
    }
    return tb_error_set(err, TB_EINVAL, "unknown format '%s' (known: %s)", name, list);
}

size_t tb_format_bytes(tb_format fmt, int rows, int k)
{
    const tb_format_traits *t = &table[fmt];
    if (fmt == TB_FMT_TL2)
        return (size_t)((rows + TB_TL2_ROWS - 1) / TB_TL2_ROWS) * tl2_tile_bytes(k) + TB_I2S_TAIL;
    if (fmt == TB_FMT_T1_67)
        return (size_t)(rows + TB_T167_ROWS - 1) / TB_T167_ROWS * TB_T167_ROWS * tb_t167_row_bytes(k) +
               TB_I2S_TAIL;
    size_t bytes = (size_t)rows * (size_t)(k / t->block) * t->block_bytes;
    return fmt == TB_FMT_I2_S ? bytes + TB_I2S_TAIL : bytes;
}

double tb_format_bits(tb_format fmt)
{
    if (fmt == TB_FMT_TL2)
        return 8.0 * TB_TL2_GROUP_BYTES / (3 * TB_TL2_ROWS);
    if (fmt == TB_FMT_T1_67)
        return 8.0 * TB_T167_BLOCK_BYTES / TB_T167_BLOCK;
    return 8.0 * (double)table[fmt].block_bytes / table[fmt].block;
}

int tb_matrix_init(tb_matrix *w, tb_format fmt, int rows, int k, const void *data, size_t size,
                   tb_error *err)
{
    const tb_format_traits *t = tb_format_get(fmt);
    if (!t)
        return tb_error_set(err, TB_EINVAL, "format %d does not exist", (int)fmt);
    if (rows <= 0 || k <= 0 || k % t->block != 0)
        return tb_error_set(err, TB_EINVAL, "%s needs a positive row length that is a multiple "
                            "of %d, got %d x %d", t->name, t->block, rows, k);
    size_t need = tb_format_bytes(fmt, rows, k);
    if (size != need)
        return tb_error_set(err, TB_EINVAL, "%s %d x %d takes %zu bytes, got %zu", t->name, rows,
                            k, need, size);
    w->fmt = fmt;
    w->rows = rows;
    w->k = k;
    w->data = data;
    w->row_bytes = fmt == TB_FMT_T1_67 ? tb_t167_row_bytes(k) : (size_t)(k / t->block) * t->block_bytes;
    w->tile_bytes = fmt == TB_FMT_TL2 ? tl2_tile_bytes(k) : 0;
    w->scale = 1.0f;
    w->interleave = 0;
    if (fmt == TB_FMT_I2_S || fmt == TB_FMT_TL2 || fmt == TB_FMT_T1_67) {
        memcpy(&w->scale, w->data + need - TB_I2S_TAIL, sizeof w->scale);
        if (!isfinite(w->scale) || w->scale < 0)
            return tb_error_set(err, TB_EINVAL, "%s scale %g is not a finite non-negative "
                                "number", t->name, (double)w->scale);
    }
    return TB_OK;
}

int tb_matrix_preferred_interleave(const tb_matrix *w, tb_isa isa)
{
    /* where it was measured to pay: the AVX-512 and AVX2 GEMVs (i2s_gemv4) */
    bool fits = w->fmt == TB_FMT_I2_S && !w->interleave && w->rows % TB_I2S_INTERLEAVE == 0 &&
                w->k % (2 * TB_I2S_BLOCK) == 0;
    return fits && (isa == TB_ISA_AVX512 || isa == TB_ISA_AVX2) ? TB_I2S_INTERLEAVE : 0;
}

int tb_i2s_interleave_rows(const tb_matrix *w, uint8_t *dst, int r0, int r1, tb_error *err)
{
    enum { IL = TB_I2S_INTERLEAVE };
    const size_t rb = w->row_bytes, pairs = rb / 64;
    uint8_t tile[IL * 64 * 64]; /* one tile's rows, k up to 16384 */
    uint8_t *heap = IL * rb > sizeof tile ? malloc(IL * rb) : NULL;
    if (IL * rb > sizeof tile && !heap)
        return tb_error_set(err, TB_ENOMEM, "out of memory interleaving i2_s rows");
    uint8_t *buf = heap ? heap : tile;
    for (int r = r0; r < r1; r += IL) {
        const uint8_t *src = w->data + (size_t)r * rb; /* may be dst's own bytes: copy first */
        memcpy(buf, src, IL * rb);
        uint8_t *out = dst + (size_t)r * rb;
        for (size_t c = 0; c < pairs; c++)
            for (int i = 0; i < IL; i++)
                memcpy(out + (c * IL + (size_t)i) * 64, buf + (size_t)i * rb + c * 64, 64);
    }
    free(heap);
    return TB_OK;
}

void tb_i2s_interleave_done(tb_matrix *w, uint8_t *dst)
{
    size_t body = (size_t)w->rows * w->row_bytes;
    if (dst != w->data)
        memcpy(dst + body, w->data + body, TB_I2S_TAIL);
    w->data = dst;
    w->interleave = TB_I2S_INTERLEAVE;
}

int tb_i2s_interleave(tb_matrix *w, uint8_t *dst, tb_error *err)
{
    int rc = tb_i2s_interleave_rows(w, dst, 0, w->rows, err);
    if (rc == TB_OK)
        tb_i2s_interleave_done(w, dst);
    return rc;
}

/* ---- activations ---- */

static void *aligned(size_t bytes)
{
    void *p = NULL;
    return posix_memalign(&p, 64, bytes ? (bytes + 63) / 64 * 64 : 64) == 0 ? p : NULL;
}

int tb_act_alloc(tb_act *a, tb_act_kind kind, int n, int k, tb_error *err)
{
    memset(a, 0, sizeof *a);
    a->kind = kind;
    a->n = a->cap = n;
    a->k = k;
    bool ok = true;
    switch (kind) {
    case TB_ACT_F32:
        ok = (a->f32 = aligned((size_t)n * k * sizeof(float))) != NULL;
        break;
    case TB_ACT_Q8_0:
        if (k % TB_QK8_0)
            return tb_error_set(err, TB_EINVAL, "q8_0 activations need k %% 32 == 0, got %d", k);
        ok = (a->q8 = aligned((size_t)n * (k / TB_QK8_0) * sizeof(tb_block_q8_0))) &&
             (a->q8_d = aligned((size_t)n * (k / TB_QK8_0) * 8 * sizeof(float))) &&
             (a->q8_sum = aligned((size_t)n * (k / TB_QK8_0) * sizeof(int32_t)));
        break;
    case TB_ACT_Q8_K:
        if (k % TB_QK_K)
            return tb_error_set(err, TB_EINVAL, "q8_K activations need k %% 256 == 0, got %d", k);
        ok = (a->q8k = aligned((size_t)n * (k / TB_QK_K) * sizeof(tb_block_q8_K))) != NULL;
        break;
    case TB_ACT_I8:
    case TB_ACT_I8_LUT:
        if (k % TB_I2S_BLOCK)
            return tb_error_set(err, TB_EINVAL, "int8 activations need k %% 128 == 0, got %d", k);
        ok = (a->i8 = aligned((size_t)n * k)) && (a->i8_scale = aligned((size_t)n * sizeof(float))) &&
             (a->i8_sum = aligned((size_t)n * sizeof(int32_t))) &&
             (a->i8_bsum = aligned((size_t)n * (k / 128) * sizeof(int32_t)));
        if (ok && kind == TB_ACT_I8_LUT)
            ok = (a->lut = aligned((size_t)n * ((k + 2) / 3) * 32)) != NULL;
        break;
    }
    if (!ok) {
        tb_act_free(a);
        return tb_error_set(err, TB_ENOMEM, "out of memory for %d x %d activations", n, k);
    }
    return TB_OK;
}

void tb_act_free(tb_act *a)
{
    free(a->f32);
    free(a->q8);
    free(a->q8_d);
    free(a->q8_sum);
    free(a->q8k);
    free(a->i8);
    free(a->i8_scale);
    free(a->i8_sum);
    free(a->i8_bsum);
    free(a->lut);
    memset(a, 0, sizeof *a);
}

TB_SERIAL_CLONES float tb_quantize_i8_token(const float *x, int k, int8_t *q, int32_t *sum)
{
    float amax = absmax(x, (size_t)k);
    float s = 127.0f / (amax > 1e-5f ? amax : 1e-5f);
    int32_t total = 0;
    for (int i = 0; i < k; i++) {
        float v = tb_round_half_even(x[i] * s); /* |x s| <= 127 */
        v = v < -128.0f ? -128.0f : v > 127.0f ? 127.0f : v;
        q[i] = (int8_t)v;
        total += q[i];
    }
    if (sum)
        *sum = total;
    return s;
}

/* tl2's tables: for each group of 3 activations, entry m = the dot product of
 * the weights magnitude m encodes with them; |entry| <= 3 * 128 fits int16. */
static void build_lut(const int8_t *q, int k, uint8_t *lut)
{
    int decoded[14][3]; /* per call: 14 decodes cost nothing beside k / 3 groups */
    for (int m = 0; m < 14; m++)
        tl2_decode(m, decoded[m]);
    for (int g = 0; g < (k + 2) / 3; g++) {
        int a0 = q[3 * g], a1 = 3 * g + 1 < k ? q[3 * g + 1] : 0, a2 = 3 * g + 2 < k ? q[3 * g + 2] : 0;
        uint8_t *e = lut + (size_t)g * 32;
        for (int m = 0; m < 16; m++) {
            int v = m < 14 ? decoded[m][0] * a0 + decoded[m][1] * a1 + decoded[m][2] * a2 : 0;
            e[m] = (uint8_t)(v & 0xff);
            e[16 + m] = (uint8_t)((v >> 8) & 0xff);
        }
    }
}

TB_SERIAL_CLONES void tb_act_set_i8(tb_act *a, int t, const int8_t *q, float scale)
{
    int k = a->k;
    int8_t *dst = a->i8 + (size_t)t * k;
    if (dst != q)
        memcpy(dst, q, (size_t)k);
    a->i8_scale[t] = scale;
    int32_t total = 0, *bs = a->i8_bsum + (size_t)t * (k / 128);
    for (int b = 0; b < k / 128; b++) {
        int32_t sum = 0;
        for (int j = 0; j < 128; j++)
            sum += dst[b * 128 + j];
        bs[b] = sum;
        total += sum;
    }
    a->i8_sum[t] = total;
    if (a->kind == TB_ACT_I8_LUT)
        build_lut(dst, k, a->lut + (size_t)t * ((k + 2) / 3) * 32);
}

void tb_act_quantize(tb_act *a, const float *x, int n)
{
    assert(n >= 1 && n <= a->cap);
    a->n = n;
    int k = a->k;
    for (int t = 0; t < n; t++) {
        const float *xt = x + (size_t)t * k;
        switch (a->kind) {
        case TB_ACT_F32:
            memcpy(a->f32 + (size_t)t * k, xt, (size_t)k * sizeof(float));
            break;
        case TB_ACT_Q8_0:
            for (int b = 0; b < k / TB_QK8_0; b++) {
                size_t i = (size_t)t * (k / TB_QK8_0) + b;
                q8_0_block(xt + b * TB_QK8_0, &a->q8[i]);
                int32_t sum = 0;
                for (int l = 0; l < 8; l++)
                    a->q8_d[i * 8 + l] = tb_f16_to_f32(a->q8[i].d);
                for (int e = 0; e < TB_QK8_0; e++)
                    sum += a->q8[i].qs[e];
                a->q8_sum[i] = sum;
            }
            break;
        case TB_ACT_Q8_K:
            for (int b = 0; b < k / TB_QK_K; b++)
                q8_K_block(xt + b * TB_QK_K, &a->q8k[(size_t)t * (k / TB_QK_K) + b]);
            break;
        case TB_ACT_I8:
        case TB_ACT_I8_LUT: {
            int8_t *q = a->i8 + (size_t)t * k;
            float s = tb_quantize_i8_token(xt, k, q, NULL);
            tb_act_set_i8(a, t, q, s);
            break;
        }
        }
    }
}

/* Whether fmt's variant for isa can run here beyond the ISA level itself:
 * t1_67's AVX-512 kernel needs VBMI, which the avx512 level does not
 * require; without it the AVX2 kernel is chosen (and named in `used`). */
static bool variant_runs(tb_format fmt, tb_isa isa)
{
    return fmt != TB_FMT_T1_67 || isa != TB_ISA_AVX512 || (tb_cpu_features() & TB_CPU_AVX512VBMI);
}

tb_gemm_fn tb_gemm_select(tb_format fmt, tb_isa isa, tb_isa *used)
{
    const tb_format_traits *t = &table[fmt];
    static const tb_isa fallback[TB_ISA_COUNT][3] = {
        [TB_ISA_SCALAR] = {TB_ISA_SCALAR, TB_ISA_SCALAR, TB_ISA_SCALAR},
        [TB_ISA_AVX2] = {TB_ISA_AVX2, TB_ISA_SCALAR, TB_ISA_SCALAR},
        [TB_ISA_AVX512] = {TB_ISA_AVX512, TB_ISA_AVX2, TB_ISA_SCALAR},
        [TB_ISA_NEON] = {TB_ISA_NEON, TB_ISA_SCALAR, TB_ISA_SCALAR},
    };
    for (int i = 0; i < 3; i++) {
        tb_isa cand = fallback[isa][i];
        if (t->gemm[cand] && variant_runs(fmt, cand)) {
            if (used)
                *used = cand;
            return t->gemm[cand];
        }
    }
    if (used)
        *used = TB_ISA_SCALAR;
    return t->gemm[TB_ISA_SCALAR];
}

tb_vec_fns tb_vec_select(tb_isa isa)
{
    tb_vec_fns f = {tb_scores_f16_scalar, tb_wsum_f16_scalar};
#if defined(__x86_64__)
    if (isa == TB_ISA_AVX2 || isa == TB_ISA_AVX512) /* F16C; 256 bits serve both */
        f = (tb_vec_fns){tb_scores_f16_avx2, tb_wsum_f16_avx2};
#else
    (void)isa;
#endif
    return f;
}

/* ---- quantising on several threads ---- */

typedef struct quant_part {
    const tb_format_traits *tr;
    const float *src;
    int rows, k, rc;
    uint8_t *dst;
    tb_error err;
} quant_part;

static void *quant_part_run(void *arg)
{
    quant_part *q = arg;
    q->rc = q->tr->quantize(q->src, q->rows, q->k, q->dst, &q->err);
    return NULL;
}

int tb_format_quantize(tb_format fmt, const float *src, int rows, int k, uint8_t *dst, int threads,
                       tb_error *err)
{
    const tb_format_traits *tr = tb_format_get(fmt);
    enum { MAX_PARTS = 64 };
    int n = threads < MAX_PARTS ? threads : MAX_PARTS;
    if (n > rows)
        n = rows;
    if (tr->ternary || n <= 1 || (size_t)rows * k < ((size_t)1 << 16))
        return tr->quantize(src, rows, k, dst, err);
    quant_part parts[MAX_PARTS];
    pthread_t tid[MAX_PARTS];
    bool threaded[MAX_PARTS] = {false};
    size_t row_bytes = tb_format_bytes(fmt, 1, k);
    for (int i = 0; i < n; i++) {
        int r0 = (int)((long)rows * i / n), r1 = (int)((long)rows * (i + 1) / n);
        parts[i] = (quant_part){tr, src + (size_t)r0 * k, r1 - r0, k, TB_OK,
                                dst + (size_t)r0 * row_bytes, {0}};
        threaded[i] = i > 0 && pthread_create(&tid[i], NULL, quant_part_run, &parts[i]) == 0;
    }
    for (int i = 0; i < n; i++) /* the first part, and any no thread took, run here */
        if (!threaded[i])
            quant_part_run(&parts[i]);
    int rc = TB_OK;
    for (int i = 0; i < n; i++) {
        if (threaded[i])
            pthread_join(tid[i], NULL);
        if (rc == TB_OK && parts[i].rc != TB_OK) {
            rc = parts[i].rc;
            if (err)
                *err = parts[i].err;
        }
    }
    return rc;
}
