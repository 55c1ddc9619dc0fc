/*
 * gemm_avx512.c - AVX-512 (F/BW/VL/DQ + VNNI) kernels. Compiled with those
 * ISA flags for this file alone; chosen at run time only on CPUs that have
 * them (cpu.c).
 *
 * Every kernel computes a tile of R rows x T tokens at once so that a weight
 * load or unpack serves T tokens and an activation load serves R rows; the
 * tile shapes are compile-time constants so the accumulators stay in
 * registers (R * T <= 16 of the 32 zmm registers).
 *
 * Ternary: VPDPBUSD multiplies unsigned codes (w + 1, in 0..2) by signed
 * int8 activations and adds four products into each int32 lane: exact, no
 * intermediate int16 saturation (a peer using PMADDUBSW + int16 sums would
 * also be exact here, as |2 * 128 * 2| fits int16). The code offset is
 * removed once per row with the token's sum of activations.
 */
#include <immintrin.h>

#include "kernels_impl.h"
#include "tiles.h"

/* ---- ternary ---- */

/* Unpacks 32 bytes holding 128 two-bit codes into codes for values 0..63
 * (lo) and 64..127 (hi), for a layout where value 32*i + p sits in byte p
 * at bit shift sh[i]. */
INLINE void unpack128(const uint8_t *p, __m512i shift_lo, __m512i shift_hi, __m512i *lo,
                      __m512i *hi)
{
    const __m512i three = _mm512_set1_epi8(3);
    __m256i b = _mm256_loadu_si256((const __m256i *)p);
    __m512i bb = _mm512_inserti64x4(_mm512_castsi256_si512(b), b, 1);
    *lo = _mm512_and_si512(_mm512_srlv_epi64(bb, shift_lo), three);
    *hi = _mm512_and_si512(_mm512_srlv_epi64(bb, shift_hi), three);
}

/* Integer dot products of R rows x T tokens over [kb, ke) in 128-value chunks.
 * rows[i] points at row i's packed bytes for value kb; q[j] at token j's. */
INLINE void ternary_chunks(const uint8_t *const *rows, const int8_t *const *q, int nchunks,
                           size_t row_stride_chunk, __m512i shift_lo, __m512i shift_hi,
                           const int R, const int T, __m512i acc[4][4])
{
    for (int c = 0; c < nchunks; c++) {
        __m512i lo[4], hi[4];
        for (int i = 0; i < R; i++)
            unpack128(rows[i] + c * row_stride_chunk, shift_lo, shift_hi, &lo[i], &hi[i]);
        for (int j = 0; j < T; j++) {
            __m512i x0 = _mm512_loadu_si512(q[j] + c * 128);
            __m512i x1 = _mm512_loadu_si512(q[j] + c * 128 + 64);
            for (int i = 0; i < R; i++) {
                acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], lo[i], x0);
                acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], hi[i], x1);
            }
        }
    }
}

#define I2S_SHIFT_LO _mm512_set_epi64(4, 4, 4, 4, 6, 6, 6, 6)
#define I2S_SHIFT_HI _mm512_set_epi64(0, 0, 0, 0, 2, 2, 2, 2)

INLINE void i2s_tile(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r, int t,
                     const int R, const int T)
{
    __m512i acc[4][4];
    const uint8_t *rows[4];
    const int8_t *q[4];
    for (int i = 0; i < R; i++) {
        rows[i] = tb_i2s_row(w, r + i);
        for (int j = 0; j < T; j++)
            acc[i][j] = _mm512_setzero_si512();
    }
    for (int j = 0; j < T; j++)
        q[j] = a->i8 + (size_t)(t + j) * w->k;
    ternary_chunks(rows, q, w->k / 128, 32, I2S_SHIFT_LO, I2S_SHIFT_HI, R, T, acc);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) {
            int32_t isum = _mm512_reduce_add_epi32(acc[i][j]) - a->i8_sum[t + j];
            y[(size_t)(t + j) * ldy + r + i] =
                tb_ternary_out((double)w->scale * isum, a->i8_scale[t + j]);
        }
}

#define I2S_TILE(r, t, R, T) i2s_tile(w, a, y, ldy, r, t, R, T)

void tb_gemm_i2_s_avx512(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    if (a->n == 1)
        TILED(4, 1, I2S_TILE);
    else
        TILED(4, 4, I2S_TILE);
}

#define TQ2_SHIFT_LO _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0)
#define TQ2_SHIFT_HI _mm512_set_epi64(6, 6, 6, 6, 4, 4, 4, 4)

/* True when every block of the row has the same scale: then one integer sum
 * over the row is exact and cheaper than a sum per block. */
static bool tq_uniform_scale(const uint8_t *row, int nb, size_t block_bytes, size_t d_offset)
{
    tb_f16 d0;
    memcpy(&d0, row + d_offset, sizeof d0);
    for (int b = 1; b < nb; b++) {
        tb_f16 d;
        memcpy(&d, row + b * block_bytes + d_offset, sizeof d);
        if (d != d0)
            return false;
    }
    return true;
}

INLINE void tq2_tile(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r, int t,
                     const int R, const int T)
{
    int nb = w->k / TB_QK_K;
    const uint8_t *rows[4];
    const int8_t *q[4];
    bool uniform = true;
    for (int i = 0; i < R; i++) {
        rows[i] = w->data + (size_t)(r + i) * w->row_bytes;
        uniform = uniform && tq_uniform_scale(rows[i], nb, sizeof(tb_block_tq2_0),
                                              offsetof(tb_block_tq2_0, d));
    }
    for (int j = 0; j < T; j++)
        q[j] = a->i8 + (size_t)(t + j) * w->k;
    double d[4][4] = {{0}};
    __m512i acc[4][4];
    /* Uniform scales: the whole row is one block of 2 * nb chunks. */
    int span = uniform ? nb : 1;
    for (int b0 = 0; b0 < nb; b0 += span) {
        for (int i = 0; i < R; i++)
            for (int j = 0; j < T; j++)
                acc[i][j] = _mm512_setzero_si512();
        const uint8_t *rp[4];
        const int8_t *qp[4];
        for (int i = 0; i < R; i++)
            rp[i] = rows[i] + (size_t)b0 * sizeof(tb_block_tq2_0);
        for (int j = 0; j < T; j++)
            qp[j] = q[j] + b0 * TB_QK_K;
        for (int bb = 0; bb < span; bb++) {
            const uint8_t *rb[4];
            const int8_t *qb[4];
            for (int i = 0; i < R; i++)
                rb[i] = rp[i] + (size_t)bb * sizeof(tb_block_tq2_0);
            for (int j = 0; j < T; j++)
                qb[j] = qp[j] + bb * TB_QK_K;
            ternary_chunks(rb, qb, 2, 32, TQ2_SHIFT_LO, TQ2_SHIFT_HI, R, T, acc);
        }
        for (int j = 0; j < T; j++) {
            const int32_t *bsum = a->i8_bsum + (size_t)(t + j) * (w->k / 128) + 2 * b0;
            int32_t qs = 0;
            for (int c = 0; c < 2 * span; c++)
                qs += bsum[c];
            for (int i = 0; i < R; i++) {
                tb_f16 dh;
                memcpy(&dh, rp[i] + offsetof(tb_block_tq2_0, d), sizeof dh);
                d[i][j] += (double)tb_f16_to_f32(dh) *
                           (_mm512_reduce_add_epi32(acc[i][j]) - qs);
            }
        }
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++)
            y[(size_t)(t + j) * ldy + r + i] = tb_ternary_out(d[i][j], a->i8_scale[t + j]);
}

#define TQ2_TILE(r, t, R, T) tq2_tile(w, a, y, ldy, r, t, R, T)

void tb_gemm_tq2_0_avx512(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    if (a->n == 1)
        TILED(4, 1, TQ2_TILE);
    else
        TILED(4, 4, TQ2_TILE);
}

/* ---- float weights ---- */

INLINE __m512 load_w16(const void *p, int fmt, __mmask16 m)
{
    if (fmt == TB_FMT_F32)
        return _mm512_maskz_loadu_ps(m, p);
    __m256i h = _mm256_maskz_loadu_epi16(m, p);
    if (fmt == TB_FMT_F16)
        return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); /* bf16 */
}

INLINE void float_tile(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r, int t,
                       const int R, const int T, const int fmt)
{
    const size_t esize = fmt == TB_FMT_F32 ? 4 : 2;
    __m512 acc[4][4];
    const uint8_t *rows[4];
    const float *x[4];
    for (int i = 0; i < R; i++) {
        rows[i] = w->data + (size_t)(r + i) * w->row_bytes;
        for (int j = 0; j < T; j++)
            acc[i][j] = _mm512_setzero_ps();
    }
    for (int j = 0; j < T; j++)
        x[j] = a->f32 + (size_t)(t + j) * w->k;
    int k = w->k, kk = 0;
    for (; kk + 16 <= k; kk += 16) {
        __m512 wv[4];
        for (int i = 0; i < R; i++)
            wv[i] = load_w16(rows[i] + kk * esize, fmt, 0xffff);
        for (int j = 0; j < T; j++) {
            __m512 xv = _mm512_loadu_ps(x[j] + kk);
            for (int i = 0; i < R; i++)
                acc[i][j] = _mm512_fmadd_ps(wv[i], xv, acc[i][j]);
        }
    }
    if (kk < k) {
        __mmask16 m = (__mmask16)((1u << (k - kk)) - 1);
        __m512 wv[4];
        for (int i = 0; i < R; i++)
            wv[i] = load_w16(rows[i] + kk * esize, fmt, m);
        for (int j = 0; j < T; j++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x[j] + kk);
            for (int i = 0; i < R; i++)
                acc[i][j] = _mm512_fmadd_ps(wv[i], xv, acc[i][j]);
        }
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++)
            y[(size_t)(t + j) * ldy + r + i] = _mm512_reduce_add_ps(acc[i][j]);
}

#define FLOAT_GEMM(name)                                                                      \
    void tb_gemm_##name##_avx512(const tb_matrix *w, const tb_act *a, float *y, int ldy,     \
                                 int r0, int r1)                                              \
    {                                                                                         \
        if (a->n == 1)                                                                        \
            TILED(4, 1, FT_##name);                                                           \
        else                                                                                  \
            TILED(4, 4, FT_##name);                                                           \
    }

#define FT_f32(r, t, R, T) float_tile(w, a, y, ldy, r, t, R, T, TB_FMT_F32)
#define FT_f16(r, t, R, T) float_tile(w, a, y, ldy, r, t, R, T, TB_FMT_F16)
#define FT_bf16(r, t, R, T) float_tile(w, a, y, ldy, r, t, R, T, TB_FMT_BF16)
FLOAT_GEMM(f32)
FLOAT_GEMM(f16)
FLOAT_GEMM(bf16)

/* ---- q8_0 / q4_0 against q8_0 activations ---- */

/* Signed x signed int8 dot of 32 pairs into 8 int32 lanes: VPDPBUSD wants an
 * unsigned operand, so use |w| and move w's sign onto x. */
INLINE __m256i dot32_s8(__m256i w, __m256i x, __m256i acc)
{
    return _mm256_dpbusd_epi32(acc, _mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
}

INLINE __m256i q4_unpack(const uint8_t *qs)
{
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
    return _mm256_sub_epi8(_mm256_and_si256(v, _mm256_set1_epi8(0xf)), _mm256_set1_epi8(8));
}

INLINE void q_tile(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r, int t,
                   const int R, const int T, const int fmt)
{
    int nb = w->k / 32;
    __m256 acc[4][4];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++)
            acc[i][j] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m256i wv[4];
        float dw[4];
        for (int i = 0; i < R; i++) {
            const uint8_t *row = w->data + (size_t)(r + i) * w->row_bytes;
            if (fmt == TB_FMT_Q8_0) {
                const tb_block_q8_0 *blk = (const tb_block_q8_0 *)row + b;
                wv[i] = _mm256_loadu_si256((const __m256i *)blk->qs);
                dw[i] = tb_f16_to_f32(blk->d);
            } else {
                const tb_block_q4_0 *blk = (const tb_block_q4_0 *)row + b;
                wv[i] = q4_unpack(blk->qs);
                dw[i] = tb_f16_to_f32(blk->d);
            }
        }
        for (int j = 0; j < T; j++) {
            const tb_block_q8_0 *xb = a->q8 + (size_t)(t + j) * nb + b;
            __m256i xv = _mm256_loadu_si256((const __m256i *)xb->qs);
            float dx = tb_f16_to_f32(xb->d);
            for (int i = 0; i < R; i++) {
                __m256i s = dot32_s8(wv[i], xv, _mm256_setzero_si256());
                acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(dw[i] * dx),
                                            acc[i][j]);
            }
        }
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) {
            __m128 v = _mm_add_ps(_mm256_castps256_ps128(acc[i][j]),
                                  _mm256_extractf128_ps(acc[i][j], 1));
            v = _mm_add_ps(v, _mm_movehl_ps(v, v));
            v = _mm_add_ss(v, _mm_movehdup_ps(v));
            y[(size_t)(t + j) * ldy + r + i] = _mm_cvtss_f32(v);
        }
}

#define QT_q8_0(r, t, R, T) q_tile(w, a, y, ldy, r, t, R, T, TB_FMT_Q8_0)
#define QT_q4_0(r, t, R, T) q_tile(w, a, y, ldy, r, t, R, T, TB_FMT_Q4_0)

void tb_gemm_q8_0_avx512(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    if (a->n == 1)
        TILED(4, 1, QT_q8_0);
    else
        TILED(4, 4, QT_q8_0);
}

void tb_gemm_q4_0_avx512(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    if (a->n == 1)
        TILED(4, 1, QT_q4_0);
    else
        TILED(4, 4, QT_q4_0);
}
