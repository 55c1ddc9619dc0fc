/*
 * kernels_impl.h - what the per-ISA kernel files share with formats.c.
 * Not part of the public interface: include formats.h instead.
 */
#ifndef TB_KERNELS_IMPL_H
#define TB_KERNELS_IMPL_H

#include "formats.h"

/* The nearest integer, halves to even, for |v| < 2^22: adding and removing
 * 1.5 * 2^23 leaves it under the default rounding mode (and vectorises).
 * nearbyintf gives the same integers but is a libm call per value. */
static inline float tb_round_half_even(float v)
{
    return (v + 12582912.0f) - 12582912.0f;
}

/* nearbyintf's integer for any float: tb_round_half_even within its range;
 * beyond it, +-2^30 (past every code, for the caller's clamp); NaN: 0. */
static inline int tb_nearest_int(float v)
{
    if (v > -4194304.0f && v < 4194304.0f)
        return (int)tb_round_half_even(v);
    return v > 0 ? 1 << 30 : v < 0 ? -(1 << 30) : 0;
}

/* The ternary output rule, which every kernel follows so that all agree bit
 * for bit. A row's integer dot products arrive per scale block (isum_b with
 * block scale d_b; i2_s and tl2 have one block, the tensor's scale):
 *  - every block has the same scale d:  y = (float)isum / s * d
 *    (bitnet.cpp's order of float operations: matching it matters, because
 *    the next layer's int8 rounding amplifies a 1-ulp difference);
 *  - otherwise: y = (float)(sum_b d_b * isum_b / s), with the sum in double
 *    (exact for any realistic row length). */
typedef struct tb_tsum {
    int32_t isum;
    double d;
    float d0;
    bool uniform, any;
} tb_tsum;

static inline tb_tsum tb_tsum_new(void)
{
    tb_tsum t = {0, 0.0, 0.0f, true, false};
    return t;
}

static inline void tb_tsum_add(tb_tsum *t, float db, int32_t isum_b)
{
    if (!t->any) {
        t->d0 = db;
        t->any = true;
    } else if (db != t->d0) {
        t->uniform = false;
    }
    t->isum += isum_b;
    t->d += (double)db * isum_b;
}

static inline float tb_tsum_out(const tb_tsum *t, float s)
{
    return t->uniform ? (float)t->isum / s * t->d0 : (float)(t->d / (double)s);
}

/* One scale for the whole row (i2_s, tl2). */
static inline float tb_ternary_out1(int32_t isum, float s, float scale)
{
    return (float)isum / s * scale;
}

/* t1_67: where block b (0 .. k/192 - 1) of row r lies; the row's next block
 * is TB_T167_ROWS * 40 bytes on. Its tail chunks begin at tb_t167_chunk0,
 * TB_T167_ROWS * 16 bytes apart. */
static inline const uint8_t *tb_t167_block(const tb_matrix *w, int r, int b)
{
    return w->data + (size_t)(r - r % TB_T167_ROWS) * w->row_bytes +
           ((size_t)b * TB_T167_ROWS + (size_t)(r % TB_T167_ROWS)) * TB_T167_BLOCK_BYTES;
}

static inline const uint8_t *tb_t167_chunk0(const tb_matrix *w, int r)
{
    return tb_t167_block(w, r - r % TB_T167_ROWS, w->k / TB_T167_BLOCK) + (size_t)(r % TB_T167_ROWS) * 16;
}

/* i2_s: where row r's packed bytes begin. Group g (128 values, 32 bytes)
 * lies at tb_i2s_row(w, r) + g / 2 * tb_i2s_pair_stride(w) + g % 2 * 32:
 * its pairs of groups are 64 bytes apart in a plain matrix, and 4 x 64 when
 * rows are interleaved in fours (see tb_i2s_interleave). */
static inline const uint8_t *tb_i2s_row(const tb_matrix *w, int r)
{
    if (w->interleave)
        return w->data + (size_t)(r - r % TB_I2S_INTERLEAVE) * w->row_bytes +
               (size_t)(r % TB_I2S_INTERLEAVE) * 64;
    return w->data + (size_t)r * w->row_bytes;
}

static inline size_t tb_i2s_pair_stride(const tb_matrix *w)
{
    return w->interleave ? 64 * TB_I2S_INTERLEAVE : 64;
}

/* Group g of a row whose pairs of groups lie pair_stride bytes apart (a
 * kernel that knows its layout passes the stride as a constant). */
static inline const uint8_t *tb_i2s_group_at(const uint8_t *row, size_t pair_stride, int g)
{
    return row + (size_t)(g / 2) * pair_stride + (size_t)(g % 2) * 32;
}

static inline const uint8_t *tb_i2s_group(const tb_matrix *w, const uint8_t *row, int g)
{
    return tb_i2s_group_at(row, tb_i2s_pair_stride(w), g);
}

#if defined(__AVX2__)
#include <immintrin.h>

/* F16C's conversion: the same value as tb_f16_to_f32, in one instruction. */
static inline __attribute__((always_inline)) float f16(tb_f16 h)
{
    return _cvtsh_ss(h);
}

/* The sum of eight floats. */
static inline __attribute__((always_inline)) float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
/* Outputs r .. r + 3 of a four-row i2_s GEMV (i2s_gemv4 in the AVX2 and
 * AVX-512 files) from each row's eight int32 lane sums: the same steps as
 * tb_ternary_out1, four at a time. The token's sum, its scale and the
 * matrix's come broadcast, loaded once per call by the caller (reloading
 * them per tile took the AVX-512 GEMV at 4096x1536 from 31 to 23-24 GB/s in
 * two of three runs). */
static inline void tb_ternary_out4(float *y, __m256i r0, __m256i r1, __m256i r2, __m256i r3,
                                   __m128i qsum, __m128 s, __m128 scale)
{
    __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(r0, r1), _mm256_hadd_epi32(r2, r3));
    __m128i dot = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    __m128 out = _mm_cvtepi32_ps(_mm_sub_epi32(dot, qsum));
    _mm_storeu_ps(y, _mm_mul_ps(_mm_div_ps(out, s), scale));
}
#endif

#define TB_DECLARE_GEMMS(isa)                                                                  \
    void tb_gemm_f32_##isa(const tb_matrix *, const tb_act *, float *, int, int, int);        \
    void tb_gemm_f16_##isa(const tb_matrix *, const tb_act *, float *, int, int, int);        \
    void tb_gemm_bf16_##isa(const tb_matrix *, const tb_act *, float *, int, int, int);       \
    void tb_gemm_q8_0_##isa(const tb_matrix *, const tb_act *, float *, int, int, int);       \
    void tb_gemm_q4_0_##isa(const tb_matrix *, const tb_act *, float *, int, int, int);       \
    void tb_gemm_i2_s_##isa(const tb_matrix *, const tb_act *, float *, int, int, int);       \
    void tb_gemm_tq2_0_##isa(const tb_matrix *, const tb_act *, float *, int, int, int);      \
    void tb_gemm_tq1_0_##isa(const tb_matrix *, const tb_act *, float *, int, int, int);

void tb_gemm_tl2_scalar(const tb_matrix *, const tb_act *, float *, int, int, int);
void tb_gemm_tl2_avx2(const tb_matrix *, const tb_act *, float *, int, int, int);
void tb_gemm_tl2_avx512(const tb_matrix *, const tb_act *, float *, int, int, int);
void tb_gemm_tl2_neon(const tb_matrix *, const tb_act *, float *, int, int, int);
void tb_gemm_t1_67_scalar(const tb_matrix *, const tb_act *, float *, int, int, int);
void tb_gemm_t1_67_avx2(const tb_matrix *, const tb_act *, float *, int, int, int);
void tb_gemm_t1_67_avx512(const tb_matrix *, const tb_act *, float *, int, int, int);
void tb_gemm_t1_67_neon(const tb_matrix *, const tb_act *, float *, int, int, int);
void tb_gemm_q6_k_scalar(const tb_matrix *, const tb_act *, float *, int, int, int);
void tb_gemm_q6_k_avx512(const tb_matrix *, const tb_act *, float *, int, int, int);
void tb_gemm_q6_k_avx2(const tb_matrix *, const tb_act *, float *, int, int, int);
void tb_gemm_q6_k_neon(const tb_matrix *, const tb_act *, float *, int, int, int);

/* The scale s of a sub-block x[0..n) ~ s * l, l integer in -nmax..nmax-1,
 * that minimises the w-weighted squared error over trial scales (kquants.c). */
float tb_fit_scale_sym(const float *x, const float *w, int n, int nmax);

/* kquants.c, kquants_avx2.c, kquants_avx512.c, kquants_neon.c: llama.cpp's Q2_K, Q3_K,
 * Q4_K, Q5_K, IQ4_NL, IQ4_XS */
#define TB_DECLARE_KQUANT(name, gemm)                                                          \
    int tb_quantize_##name(const float *, int, int, uint8_t *, tb_error *);                    \
    void tb_dequantize_##name(const tb_matrix *, int, float *);                               \
    void tb_gemm_##gemm##_scalar(const tb_matrix *, const tb_act *, float *, int, int, int);  \
    void tb_gemm_##gemm##_avx2(const tb_matrix *, const tb_act *, float *, int, int, int);    \
    void tb_gemm_##gemm##_avx512(const tb_matrix *, const tb_act *, float *, int, int, int);   \
    void tb_gemm_##gemm##_neon(const tb_matrix *, const tb_act *, float *, int, int, int);
TB_DECLARE_KQUANT(q2_K, q2_k)
TB_DECLARE_KQUANT(q3_K, q3_k)
TB_DECLARE_KQUANT(q4_K, q4_k)
TB_DECLARE_KQUANT(q5_K, q5_k)
TB_DECLARE_KQUANT(iq4_nl, iq4_nl)
TB_DECLARE_KQUANT(iq4_xs, iq4_xs)

/* The body of a q8_K GEMM (w, a, y, ldy, r0, r1 in scope) around an ISA's
 * TOKENS(row, x, nb, count, y, ldy), which runs one row of type against
 * count tokens from x (q8_K rows nb blocks apart) and writes y[t * ldy]:
 * rows outside the tokens, so a row is read once per T tokens (a constant
 * T keeps the accumulators in registers), the rest one at a time. */
#define TB_Q8K_GEMM(type, TOKENS, T)                                                          \
    const int nb = w->k / TB_QK_K;                                                            \
    for (int r = r0; r < r1; r++) {                                                           \
        const type *b = (const type *)(const void *)(w->data + (size_t)r * w->row_bytes);     \
        int t = 0;                                                                            \
        for (; t + (T) <= a->n; t += (T))                                                     \
            TOKENS(b, a->q8k + (size_t)t * nb, nb, (T), y + (size_t)t * ldy + r, ldy);       \
        for (; t < a->n; t++)                                                                 \
            TOKENS(b, a->q8k + (size_t)t * nb, nb, 1, y + (size_t)t * ldy + r, ldy);         \
    }

/* The body of a tl2 GEMM around an ISA's tile routine TILES(tile, luts,
 * groups, out, T), which sums T <= 4 tokens' lookups for one 32-row tile:
 * tokens go 4 at a time (a constant T keeps the accumulators in registers). */
#define TB_TL2_GEMM(TILES)                                                                   \
    int groups = (w->k + 2) / 3;                                                             \
    int32_t isum[4][32];                                                                     \
    for (int tile = r0 / TB_TL2_ROWS; tile * TB_TL2_ROWS < r1; tile++) {                     \
        const uint8_t *tp = w->data + (size_t)tile * w->tile_bytes;                          \
        int lo = tile * TB_TL2_ROWS, hi = lo + TB_TL2_ROWS;                                  \
        for (int t = 0; t < a->n; t += 4) {                                                  \
            int T = a->n - t < 4 ? a->n - t : 4;                                             \
            const uint8_t *luts[4];                                                          \
            for (int j = 0; j < T; j++)                                                      \
                luts[j] = a->lut + (size_t)(t + j) * groups * 32;                            \
            switch (T) {                                                                     \
            case 1: TILES(tp, luts, groups, isum, 1); break;                                 \
            case 2: TILES(tp, luts, groups, isum, 2); break;                                 \
            case 3: TILES(tp, luts, groups, isum, 3); break;                                 \
            default: TILES(tp, luts, groups, isum, 4); break;                                \
            }                                                                                \
            for (int j = 0; j < T; j++)                                                      \
                for (int r = lo > r0 ? lo : r0; r < hi && r < r1; r++)                       \
                    y[(size_t)(t + j) * ldy + r] =                                           \
                        tb_ternary_out1(isum[j][r - lo], a->i8_scale[t + j], w->scale);      \
        }                                                                                    \
    }

/* tl2 table entry m of group g (int16 stored as low byte, high byte 16 apart). */
static inline int tb_tl2_entry(const uint8_t *group_lut, int m)
{
    return (int16_t)(group_lut[m] | group_lut[16 + m] << 8);
}

void tb_scores_f16_scalar(const float *q, const tb_f16 *k, size_t stride, int n, int d, float *out);
void tb_wsum_f16_scalar(const float *p, const tb_f16 *v, size_t stride, int n, int d, float *out);
void tb_scores_f16_avx2(const float *q, const tb_f16 *k, size_t stride, int n, int d, float *out);
void tb_wsum_f16_avx2(const float *p, const tb_f16 *v, size_t stride, int n, int d, float *out);

TB_DECLARE_GEMMS(scalar)
TB_DECLARE_GEMMS(avx2)
TB_DECLARE_GEMMS(avx512)
TB_DECLARE_GEMMS(neon)

/* One tq1_0 byte holds base-3 digits; digit n (0 = most significant) is
 * ((q * 3^n) mod 256) * 3 >> 8 (llama.cpp's packing: q = ceil(v * 256 / 243)). */
static inline int tb_tq1_digit(uint8_t q, int n)
{
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    uint8_t v = (uint8_t)(q * pow3[n]);
    return (v * 3) >> 8;
}

#endif
