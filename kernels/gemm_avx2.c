/*
 * gemm_avx2.c - AVX2 + FMA + F16C kernels (Haswell, Zen 1 and later),
 * compiled with those flags for this file alone.
 *
 * Same tiling as the AVX-512 file. Ternary dot products use PMADDUBSW
 * (unsigned codes 0..2 times signed int8 activations, pairs summed into
 * int16: at most 2 * 2 * 128 = 512, and four such sums 2048, far from
 * saturation) and PMADDWD to widen to int32: exact.
 */
#include <immintrin.h>

#include "kernels_impl.h"
#include "tiles.h"

INLINE __m256i hsum_pairs(__m256i v16)
{
    return _mm256_madd_epi16(v16, _mm256_set1_epi16(1));
}

INLINE int32_t hsum_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* ---- ternary ---- */

/* 128 codes from 32 bytes: value 32*i + p in byte p at shift sh[i]. */
INLINE void unpack128(const uint8_t *p, const int s0, const int s1, const int s2, const int s3,
                      __m256i c[4])
{
    const __m256i three = _mm256_set1_epi8(3);
    __m256i b = _mm256_loadu_si256((const __m256i *)p);
    c[0] = _mm256_and_si256(_mm256_srli_epi16(b, s0), three);
    c[1] = _mm256_and_si256(_mm256_srli_epi16(b, s1), three);
    c[2] = _mm256_and_si256(_mm256_srli_epi16(b, s2), three);
    c[3] = _mm256_and_si256(_mm256_srli_epi16(b, s3), three);
}

INLINE void ternary_chunks(const uint8_t *const *rows, size_t pair_stride, const int8_t *const *q,
                           int nchunks, const int i2s_order, const int R, const int T,
                           __m256i acc[4][4])
{
    for (int c = 0; c < nchunks; c++) {
        __m256i codes[4][4];
        for (int i = 0; i < R; i++) {
            const uint8_t *p = tb_i2s_group_at(rows[i], pair_stride, c);
            if (i2s_order)
                unpack128(p, 6, 4, 2, 0, codes[i]);
            else
                unpack128(p, 0, 2, 4, 6, codes[i]);
        }
        for (int j = 0; j < T; j++) {
            const int8_t *qc = q[j] + c * 128;
            __m256i x0 = _mm256_loadu_si256((const __m256i *)qc);
            __m256i x1 = _mm256_loadu_si256((const __m256i *)(qc + 32));
            __m256i x2 = _mm256_loadu_si256((const __m256i *)(qc + 64));
            __m256i x3 = _mm256_loadu_si256((const __m256i *)(qc + 96));
            for (int i = 0; i < R; i++) {
                __m256i s = _mm256_add_epi16(_mm256_maddubs_epi16(codes[i][0], x0),
                                             _mm256_maddubs_epi16(codes[i][1], x1));
                s = _mm256_add_epi16(s, _mm256_maddubs_epi16(codes[i][2], x2));
                s = _mm256_add_epi16(s, _mm256_maddubs_epi16(codes[i][3], x3));
                acc[i][j] = _mm256_add_epi32(acc[i][j], hsum_pairs(s));
            }
        }
    }
}

INLINE void i2s_tile(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r, int t,
                     const int R, const int T)
{
    __m256i acc[4][4];
    const uint8_t *rows[4];
    const int8_t *q[4];
    for (int i = 0; i < R; i++) {
        rows[i] = tb_i2s_row(w, r + i);
        for (int j = 0; j < T; j++)
            acc[i][j] = _mm256_setzero_si256();
    }
    for (int j = 0; j < T; j++)
        q[j] = a->i8 + (size_t)(t + j) * w->k;
    ternary_chunks(rows, tb_i2s_pair_stride(w), q, w->k / 128, 1, R, T, acc);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) {
            int32_t isum = hsum_i32(acc[i][j]) - a->i8_sum[t + j];
            y[(size_t)(t + j) * ldy + r + i] = tb_ternary_out1(isum, a->i8_scale[t + j], w->scale);
        }
}

#define I2S_TILE(r, t, R, T) i2s_tile(w, a, y, ldy, r, t, R, T)

/* GEMV over rows interleaved in fours (tb_i2s_interleave), as gemm_avx512.c's
 * i2s_gemv4: one forward stream per four rows, each group's four activation
 * vectors loaded once for all four rows. */
static void i2s_gemv4(const tb_matrix *w, const tb_act *a, float *y, int r0, int r1)
{
    const __m128 s = _mm_set1_ps(a->i8_scale[0]), scale = _mm_set1_ps(w->scale);
    const __m128i qsum = _mm_set1_epi32(a->i8_sum[0]);
    const __m256i three = _mm256_set1_epi8(3);
    const int8_t *const q = a->i8;
    const int ngroups = w->k / 128;
    for (int r = r0; r < r1; r += TB_I2S_INTERLEAVE) {
        const uint8_t *p = tb_i2s_row(w, r);
        __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                          _mm256_setzero_si256()};
        for (int g = 0; g < ngroups; g++) {
            const int8_t *qg = q + (size_t)g * 128;
            __m256i x0 = _mm256_loadu_si256((const __m256i *)qg);
            __m256i x1 = _mm256_loadu_si256((const __m256i *)(qg + 32));
            __m256i x2 = _mm256_loadu_si256((const __m256i *)(qg + 64));
            __m256i x3 = _mm256_loadu_si256((const __m256i *)(qg + 96));
            const uint8_t *pg = tb_i2s_group_at(p, 64 * TB_I2S_INTERLEAVE, g);
            for (int i = 0; i < 4; i++) {
                __m256i b = _mm256_loadu_si256((const __m256i *)(pg + 64 * i));
                __m256i t = _mm256_add_epi16(
                    _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(b, 6), three), x0),
                    _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(b, 4), three), x1));
                t = _mm256_add_epi16(t, _mm256_maddubs_epi16(
                                            _mm256_and_si256(_mm256_srli_epi16(b, 2), three), x2));
                t = _mm256_add_epi16(t, _mm256_maddubs_epi16(_mm256_and_si256(b, three), x3));
                acc[i] = _mm256_add_epi32(acc[i], hsum_pairs(t));
            }
        }
        tb_ternary_out4(y + r, acc[0], acc[1], acc[2], acc[3], qsum, s, scale);
    }
}

void tb_gemm_i2_s_avx2(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    if (a->n == 1 && w->interleave && r0 % TB_I2S_INTERLEAVE == 0 && r1 % TB_I2S_INTERLEAVE == 0)
        i2s_gemv4(w, a, y, r0, r1);
    else if (a->n == 1)
        TILED(1, 1, I2S_TILE); /* short rows: one at a time (see gemm_avx512.c) */
    else
        TILED(2, 4, I2S_TILE);
}

INLINE void tq2_tile(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r, int t,
                     const int R, const int T)
{
    int nb = w->k / TB_QK_K;
    tb_tsum out[4][4];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++)
            out[i][j] = tb_tsum_new();
    for (int b = 0; b < nb; b++) {
        __m256i acc[4][4];
        const uint8_t *rows[4];
        const int8_t *q[4];
        for (int i = 0; i < R; i++) {
            rows[i] = w->data + (size_t)(r + i) * w->row_bytes + (size_t)b * sizeof(tb_block_tq2_0);
            for (int j = 0; j < T; j++)
                acc[i][j] = _mm256_setzero_si256();
        }
        for (int j = 0; j < T; j++)
            q[j] = a->i8 + (size_t)(t + j) * w->k + b * TB_QK_K;
        ternary_chunks(rows, 64, q, 2, 0, R, T, acc);
        for (int j = 0; j < T; j++) {
            const int32_t *bsum = a->i8_bsum + (size_t)(t + j) * (w->k / 128) + 2 * b;
            for (int i = 0; i < R; i++) {
                tb_f16 dh;
                memcpy(&dh, rows[i] + offsetof(tb_block_tq2_0, d), sizeof dh);
                tb_tsum_add(&out[i][j], f16(dh), hsum_i32(acc[i][j]) - bsum[0] - bsum[1]);
            }
        }
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++)
            y[(size_t)(t + j) * ldy + r + i] = tb_tsum_out(&out[i][j], a->i8_scale[t + j]);
}

#define TQ2_TILE(r, t, R, T) tq2_tile(w, a, y, ldy, r, t, R, T)

void tb_gemm_tq2_0_avx2(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    if (a->n == 1)
        TILED(1, 1, TQ2_TILE); /* short rows: one at a time (see gemm_avx512.c) */
    else
        TILED(2, 4, TQ2_TILE);
}

/* ---- float weights ---- */

INLINE __m256 load_w8(const uint8_t *p, const int fmt)
{
    if (fmt == TB_FMT_F32)
        return _mm256_loadu_ps((const float *)p);
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (fmt == TB_FMT_F16)
        return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

INLINE float w_scalar(const uint8_t *row, int i, const int fmt)
{
    if (fmt == TB_FMT_F32)
        return ((const float *)row)[i];
    uint16_t h;
    memcpy(&h, row + 2 * i, 2);
    return fmt == TB_FMT_F16 ? tb_f16_to_f32(h) : tb_bf16_to_f32(h);
}

INLINE void float_tile(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r, int t,
                       const int R, const int T, const int fmt)
{
    const size_t esize = fmt == TB_FMT_F32 ? 4 : 2;
    __m256 acc[4][4];
    const uint8_t *rows[4];
    const float *x[4];
    for (int i = 0; i < R; i++) {
        rows[i] = w->data + (size_t)(r + i) * w->row_bytes;
        for (int j = 0; j < T; j++)
            acc[i][j] = _mm256_setzero_ps();
    }
    for (int j = 0; j < T; j++)
        x[j] = a->f32 + (size_t)(t + j) * w->k;
    int k = w->k, kk = 0;
    for (; kk + 8 <= k; kk += 8) {
        __m256 wv[4];
        for (int i = 0; i < R; i++)
            wv[i] = load_w8(rows[i] + kk * esize, fmt);
        for (int j = 0; j < T; j++) {
            __m256 xv = _mm256_loadu_ps(x[j] + kk);
            for (int i = 0; i < R; i++)
                acc[i][j] = _mm256_fmadd_ps(wv[i], xv, acc[i][j]);
        }
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) {
            float s = hsum_ps(acc[i][j]);
            for (int e = kk; e < k; e++)
                s += w_scalar(rows[i], e, fmt) * x[j][e];
            y[(size_t)(t + j) * ldy + r + i] = s;
        }
}

#define FT_f32(r, t, R, T) float_tile(w, a, y, ldy, r, t, R, T, TB_FMT_F32)
#define FT_f16(r, t, R, T) float_tile(w, a, y, ldy, r, t, R, T, TB_FMT_F16)
#define FT_bf16(r, t, R, T) float_tile(w, a, y, ldy, r, t, R, T, TB_FMT_BF16)

#define FLOAT_GEMM(name)                                                                      \
    void tb_gemm_##name##_avx2(const tb_matrix *w, const tb_act *a, float *y, int ldy,       \
                               int r0, int r1)                                                \
    {                                                                                         \
        if (a->n == 1)                                                                        \
            TILED(4, 1, FT_##name);                                                           \
        else                                                                                  \
            TILED(3, 4, FT_##name);                                                           \
    }
FLOAT_GEMM(f32)
FLOAT_GEMM(f16)
FLOAT_GEMM(bf16)

/* ---- q8_0 / q4_0 ---- */

INLINE __m256i dot32_s8(__m256i w, __m256i x)
{
    return hsum_pairs(_mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w)));
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
                dw[i] = f16(blk->d);
            } else {
                const tb_block_q4_0 *blk = (const tb_block_q4_0 *)row + b;
                wv[i] = q4_unpack(blk->qs);
                dw[i] = f16(blk->d);
            }
        }
        for (int j = 0; j < T; j++) {
            const tb_block_q8_0 *xb = a->q8 + (size_t)(t + j) * nb + b;
            __m256i xv = _mm256_loadu_si256((const __m256i *)xb->qs);
            float dx = f16(xb->d);
            for (int i = 0; i < R; i++)
                acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot32_s8(wv[i], xv)),
                                            _mm256_set1_ps(dw[i] * dx), acc[i][j]);
        }
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++)
            y[(size_t)(t + j) * ldy + r + i] = hsum_ps(acc[i][j]);
}

/* Block b of a q8_0 or q4_0 row against the activations' block b: its 8 lanes
 * of integer sums, scaled by both block scales, added to acc. */
INLINE __m256 q_block_fma(const uint8_t *row, const tb_act *a, int b, __m256 acc, const int fmt)
{
    const tb_block_q8_0 *b8 = (const tb_block_q8_0 *)row + b;
    const tb_block_q4_0 *b4 = (const tb_block_q4_0 *)row + b;
    __m256i wv = fmt == TB_FMT_Q8_0 ? _mm256_loadu_si256((const __m256i *)b8->qs) : q4_unpack(b4->qs);
    tb_f16 d = fmt == TB_FMT_Q8_0 ? b8->d : b4->d;
    __m256i s = dot32_s8(wv, _mm256_loadu_si256((const __m256i *)a->q8[b].qs));
    __m256 sc = _mm256_mul_ps(_mm256_cvtph_ps(_mm_set1_epi16((short)d)), _mm256_loadu_ps(a->q8_d + (size_t)b * 8));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), sc, acc);
}

/* GEMV: one row at a time, four blocks per step into four accumulators (the
 * tile's single chain of multiply-adds allowed one block per FMA latency),
 * the activation scale read as the 8 floats tb_act keeps per block instead
 * of converted per row. As Zen 4 runs it (TERNBENCH_ISA=avx2): q4_0 12.0 ->
 * 13.5 GB/s on one thread, 23.5 -> 26.5 on two; q8_0 unchanged (at bandwidth). */
INLINE void q_gemv(const tb_matrix *w, const tb_act *a, float *y, int r0, int r1, const int fmt)
{
    const int nb = w->k / 32;
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = w->data + (size_t)r * w->row_bytes;
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                         _mm256_setzero_ps()};
        int b = 0;
        for (; b + 4 <= nb; b += 4)
            for (int u = 0; u < 4; u++)
                acc[u] = q_block_fma(row, a, b + u, acc[u], fmt);
        for (; b < nb; b++)
            acc[0] = q_block_fma(row, a, b, acc[0], fmt);
        y[r] = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    }
}

/* q4_0 GEMV by block pairs, as q4_gemv_table in gemm_avx512.c: the nibbles of
 * blocks b and b + 1 unpack into one vector per half ([b | b + 1] low nibbles,
 * then high), so the work that depends only on the activations is done once
 * per call into a table: per pair, the activations in that order, minus 8
 * times the sums each int32 lane will cover (the nibbles' offset, exact), and
 * the activation scales as the lanes need them. The table (16 KB) stays in
 * L1 for rows up to Q4_PAIRS2 pairs; longer ones take q_gemv. As Zen 4 runs
 * AVX2 code: 13.4 -> 17.8 GB/s on one thread, 26.4 -> 35 on two (2560x6912,
 * 6912x2560, 2560x2560, two alternating pairs). */
#define Q4_PAIRS2 128

INLINE void q4_gemv_pairs(const tb_matrix *w, const tb_act *a, float *y, int r0, int r1)
{
    static _Thread_local uint8_t table[Q4_PAIRS2 * 128] __attribute__((aligned(32)));
    const int nb = w->k / 32, np = nb / 2;
    const __m256i m4 = _mm256_set1_epi8(0xf), ones = _mm256_set1_epi16(1), eight = _mm256_set1_epi8(8);
    for (int p = 0; p < np; p++) {
        const int8_t *x0 = a->q8[2 * p].qs, *x1 = a->q8[2 * p + 1].qs;
        __m256i xl = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)x0)),
                                             _mm_loadu_si128((const __m128i *)x1), 1);
        __m256i xh = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(x0 + 16))),
                                             _mm_loadu_si128((const __m128i *)(x1 + 16)), 1);
        __m256i off = _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(eight, xl),
                                                         _mm256_maddubs_epi16(eight, xh)), ones);
        uint8_t *e = table + (size_t)p * 128;
        _mm256_store_si256((__m256i *)e, xl);
        _mm256_store_si256((__m256i *)(e + 32), xh);
        _mm256_store_si256((__m256i *)(e + 64), _mm256_sub_epi32(_mm256_setzero_si256(), off));
        __m256 dx = _mm256_set_m128(_mm_set1_ps(a->q8_d[(size_t)(2 * p + 1) * 8]),
                                    _mm_set1_ps(a->q8_d[(size_t)(2 * p) * 8]));
        _mm256_store_ps((float *)(e + 96), dx);
    }
    const __m256i lanes = _mm256_set_epi32(1, 1, 1, 1, 0, 0, 0, 0);
    for (int r = r0; r < r1; r++) {
        const tb_block_q4_0 *blk = (const tb_block_q4_0 *)(w->data + (size_t)r * w->row_bytes);
        __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        for (int p = 0; p < np; p++) {
            const tb_block_q4_0 *b = blk + 2 * p;
            const uint8_t *e = table + (size_t)p * 128;
            __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)b[0].qs)),
                                                _mm_loadu_si128((const __m128i *)b[1].qs), 1);
            __m256i lo = _mm256_and_si256(t, m4), hi = _mm256_and_si256(_mm256_srli_epi16(t, 4), m4);
            __m256i p16 = _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_load_si256((const __m256i *)e)),
                                           _mm256_maddubs_epi16(hi, _mm256_load_si256((const __m256i *)(e + 32))));
            __m256i s = _mm256_add_epi32(_mm256_madd_epi16(p16, ones), _mm256_load_si256((const __m256i *)(e + 64)));
            __m128 d = _mm_cvtph_ps(_mm_insert_epi16(_mm_cvtsi32_si128(b[0].d), b[1].d, 1));
            __m256 sc = _mm256_mul_ps(_mm256_permutevar8x32_ps(_mm256_castps128_ps256(d), lanes),
                                      _mm256_load_ps((const float *)(e + 96)));
            acc[p & 1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), sc, acc[p & 1]);
        }
        float sum = hsum_ps(_mm256_add_ps(acc[0], acc[1]));
        if (2 * np < nb)
            sum += hsum_ps(q_block_fma((const uint8_t *)blk, a, nb - 1, _mm256_setzero_ps(), TB_FMT_Q4_0));
        y[r] = sum;
    }
}

#define QT_q8_0(r, t, R, T) q_tile(w, a, y, ldy, r, t, R, T, TB_FMT_Q8_0)
#define QT_q4_0(r, t, R, T) q_tile(w, a, y, ldy, r, t, R, T, TB_FMT_Q4_0)

/* ---- q8_0 / q4_0 GEMM with one row per lane ----
 *
 * As in gemm_avx512.c (q_gemm_lanes): 8 rows are laid out side by side per
 * stretch of k, four values of a row per 32-bit lane, and every token of the
 * call runs over them, so each row's integer sum stays in its lane and one
 * multiply-add per token and block scales all 8 rows. Without VPDPBUSD the
 * products go through VPMADDUBSW: q4_0 keeps its unsigned nibbles (a pair is
 * at most 2 x 15 x 127, so eight of them still fit int16) and starts from
 * minus 8 times the block's activation sum; q8_0 needs the sign trick (|w|
 * against x with w's sign; q8_0 activations never hold -128) and widens after
 * every product. q_tile's tiles reduced 8 partial sums per row, token and
 * block instead (4x slower here). */
#define QL_ROWS 8
#define QL_STRETCH 256

INLINE size_t ql_block_bytes(const int fmt)
{
    return (fmt == TB_FMT_Q8_0 ? 16 : 8) * 32 + QL_ROWS * 4; /* vectors, then 8 scales */
}

/* Rows r .. r + 7's block b into dst (ql_block_bytes). q4_0: vector c holds
 * each row's nibbles of values 4c .. 4c + 3; q8_0: vector 2c their absolute
 * values, vector 2c + 1 the signed ones. */
INLINE void ql_pack_block(const tb_matrix *w, int r, int b, uint8_t *dst, const int fmt)
{
    size_t vectors = fmt == TB_FMT_Q8_0 ? 16 : 8;
    for (int i = 0; i < QL_ROWS; i++) {
        const uint8_t *row = w->data + (size_t)(r + i) * w->row_bytes;
        int32_t g[8], ga[8];
        float d;
        if (fmt == TB_FMT_Q8_0) {
            const tb_block_q8_0 *blk = (const tb_block_q8_0 *)row + b;
            __m256i v = _mm256_loadu_si256((const __m256i *)blk->qs);
            _mm256_storeu_si256((__m256i *)g, v);
            _mm256_storeu_si256((__m256i *)ga, _mm256_abs_epi8(v));
            d = f16(blk->d);
        } else {
            const tb_block_q4_0 *blk = (const tb_block_q4_0 *)row + b;
            __m128i q = _mm_loadu_si128((const __m128i *)blk->qs);
            const __m128i m = _mm_set1_epi8(0xf);
            _mm256_storeu_si256((__m256i *)g, _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(q, m)),
                                                                      _mm_and_si128(_mm_srli_epi16(q, 4), m), 1));
            d = f16(blk->d);
        }
        for (int c = 0; c < 8; c++)
            if (fmt == TB_FMT_Q8_0) {
                memcpy(dst + 64 * c + 4 * i, &ga[c], 4);
                memcpy(dst + 64 * c + 32 + 4 * i, &g[c], 4);
            } else {
                memcpy(dst + 32 * c + 4 * i, &g[c], 4);
            }
        memcpy(dst + 32 * vectors + 4 * i, &d, 4);
    }
}

/* Blocks [b0, b1) of tokens t .. t + T - 1 against the 8 packed rows at r:
 * stored into y, or added to it when `add` (a later stretch of a long k). */
INLINE void ql_tokens(const uint8_t *pack, const tb_act *a, float *y, int ldy, int r, int t, int nb,
                      int b0, int b1, bool add, const int T, const int fmt)
{
    const size_t bb = ql_block_bytes(fmt), vectors = fmt == TB_FMT_Q8_0 ? 16 : 8;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4];
    for (int j = 0; j < T; j++)
        acc[j] = add ? _mm256_loadu_ps(y + (size_t)(t + j) * ldy + r) : _mm256_setzero_ps();
    for (int b = b0; b < b1; b++) {
        const uint8_t *p = pack + (size_t)(b - b0) * bb;
        __m256 dw = _mm256_loadu_ps((const float *)(p + 32 * vectors));
        for (int j = 0; j < T; j++) {
            size_t xi = (size_t)(t + j) * nb + b;
            const int8_t *xq = a->q8[xi].qs;
            __m256i s;
            if (fmt == TB_FMT_Q8_0) {
                s = _mm256_setzero_si256();
                for (int c = 0; c < 8; c++) {
                    int32_t x4;
                    memcpy(&x4, xq + 4 * c, 4);
                    __m256i wa = _mm256_loadu_si256((const __m256i *)(p + 64 * c));
                    __m256i ws = _mm256_loadu_si256((const __m256i *)(p + 64 * c + 32));
                    __m256i pr = _mm256_maddubs_epi16(wa, _mm256_sign_epi8(_mm256_set1_epi32(x4), ws));
                    s = _mm256_add_epi32(s, _mm256_madd_epi16(pr, ones));
                }
            } else {
                __m256i s16 = _mm256_setzero_si256();
                for (int c = 0; c < 8; c++) {
                    int32_t x4;
                    memcpy(&x4, xq + 4 * c, 4);
                    s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)(p + 32 * c)),
                                                                     _mm256_set1_epi32(x4)));
                }
                s = _mm256_add_epi32(_mm256_madd_epi16(s16, ones), _mm256_set1_epi32(-8 * a->q8_sum[xi]));
            }
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(a->q8_d[xi * 8])),
                                     acc[j]);
        }
    }
    for (int j = 0; j < T; j++)
        _mm256_storeu_ps(y + (size_t)(t + j) * ldy + r, acc[j]);
}

/* Rows r0 .. r0 + 8m - 1 for every token (the most whole groups of 8 in
 * [r0, r1)); returns how many rows that was. The caller finishes the rest
 * with q_tile. */
INLINE int q_gemm_lanes(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1,
                        const int fmt)
{
    static _Thread_local uint8_t pack[QL_STRETCH * (16 * 32 + QL_ROWS * 4)] __attribute__((aligned(32)));
    const int nb = w->k / 32;
    const size_t bb = ql_block_bytes(fmt);
    int r = r0;
#define PACK(r, b, i) ql_pack_block(w, r, b, pack + (size_t)(i) * bb, fmt)
#define TOKENS(r, t, b0, b1, T) ql_tokens(pack, a, y, ldy, r, t, nb, b0, b1, b0 > 0, T, fmt)
    ROW_LANES(r, QL_ROWS, QL_STRETCH, nb, 4, PACK, TOKENS);
#undef PACK
#undef TOKENS
    return r - r0;
}

void tb_gemm_q8_0_avx2(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    if (a->n == 1) {
        q_gemv(w, a, y, r0, r1, TB_FMT_Q8_0); /* short rows: one at a time (see gemm_avx512.c) */
    } else {
        r0 += q_gemm_lanes(w, a, y, ldy, r0, r1, TB_FMT_Q8_0);
        TILED(2, 4, QT_q8_0);
    }
}

void tb_gemm_q4_0_avx2(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    if (a->n == 1 && w->k / 64 <= Q4_PAIRS2) {
        q4_gemv_pairs(w, a, y, r0, r1);
    } else if (a->n == 1) {
        q_gemv(w, a, y, r0, r1, TB_FMT_Q4_0); /* short rows: one at a time (see gemm_avx512.c) */
    } else {
        r0 += q_gemm_lanes(w, a, y, ldy, r0, r1, TB_FMT_Q4_0);
        TILED(2, 4, QT_q4_0);
    }
}

/* ---- tl2: table lookups, 32 rows at a time ----
 *
 * The lane dimension is rows: one group's 16-entry table serves the 32 rows
 * of a tile through PSHUFB (low and high bytes of the int16 entries looked
 * up separately), signs flip the entries, and int16 sums widen to int32
 * every 64 groups (64 * 3 * 128 < 2^15: no overflow). gemm_avx512.c has the
 * 512-bit version (two groups per shuffle). */
/* T tokens (1..4) over one tile: each group's indices and signs are decoded
 * once and looked up in every token's table (the weights' decode and their
 * bytes are shared across the batch). out[j][i]: token j, row i of the tile. */
INLINE void tl2_tiles(const uint8_t *tile, const uint8_t *const *luts, int groups,
                      int32_t out[4][32], const int T)
{
    const __m128i low4 = _mm_set1_epi8(0xf);
    const __m256i bits = _mm256_setr_epi16(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048,
                                           4096, 8192, 16384, (short)32768);
    for (int j = 0; j < T; j++)
        memset(out[j], 0, sizeof out[j]);
    for (int g0 = 0; g0 < groups; g0 += 64) {
        __m256i acc[4][2];
        for (int j = 0; j < T; j++)
            acc[j][0] = acc[j][1] = _mm256_setzero_si256();
        int gend = g0 + 64 < groups ? g0 + 64 : groups;
        for (int g = g0; g < gend; g++) {
            const uint8_t *p = tile + (size_t)g * TB_TL2_GROUP_BYTES;
            __m128i n = _mm_loadu_si128((const __m128i *)p);
            __m256i idx = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(n, 4), low4),
                                           _mm_and_si128(n, low4));
            uint16_t s0, s1;
            memcpy(&s0, p + 16, 2);
            memcpy(&s1, p + 18, 2);
            __m256i m0 = _mm256_cmpeq_epi16(_mm256_and_si256(_mm256_set1_epi16((short)s0), bits), bits);
            __m256i m1 = _mm256_cmpeq_epi16(_mm256_and_si256(_mm256_set1_epi16((short)s1), bits), bits);
            for (int j = 0; j < T; j++) {
                const uint8_t *tab = luts[j] + (size_t)g * 32;
                __m256i tlo = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)tab));
                __m256i thi = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(tab + 16)));
                __m256i vlo = _mm256_shuffle_epi8(tlo, idx), vhi = _mm256_shuffle_epi8(thi, idx);
                __m256i v0 = _mm256_unpacklo_epi8(vlo, vhi); /* rows 0-7, 16-23 */
                __m256i v1 = _mm256_unpackhi_epi8(vlo, vhi); /* rows 8-15, 24-31 */
                acc[j][0] = _mm256_add_epi16(acc[j][0], _mm256_sub_epi16(_mm256_xor_si256(v0, m0), m0));
                acc[j][1] = _mm256_add_epi16(acc[j][1], _mm256_sub_epi16(_mm256_xor_si256(v1, m1), m1));
            }
        }
        for (int j = 0; j < T; j++) { /* widen before the int16 sums could overflow */
            __m256i *o = (__m256i *)(void *)out[j];
            const __m256i parts[4] = {
                _mm256_cvtepi16_epi32(_mm256_castsi256_si128(acc[j][0])),      /* rows 0-7 */
                _mm256_cvtepi16_epi32(_mm256_castsi256_si128(acc[j][1])),      /* 8-15 */
                _mm256_cvtepi16_epi32(_mm256_extracti128_si256(acc[j][0], 1)), /* 16-23 */
                _mm256_cvtepi16_epi32(_mm256_extracti128_si256(acc[j][1], 1))};/* 24-31 */
            for (int q = 0; q < 4; q++)
                _mm256_storeu_si256(o + q, _mm256_add_epi32(_mm256_loadu_si256(o + q), parts[q]));
        }
    }
}

void tb_gemm_tl2_avx2(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    TB_TL2_GEMM(tl2_tiles)
}

/* ---- t1_67 without VBMI ----
 *
 * Half a block's 32 five-bit codes come out of its 20 bytes in 16-bit lanes:
 * PSHUFB puts the byte (or two) holding code i in lane i, a 16-bit multiply
 * by 2^(8 - s) (s = 5i mod 8) lifts the code's bits s..s+7 into the lane's
 * high byte, and PACKUSWB gathers the high bytes. One vector takes codes 0-7
 * and 16-23, the other 8-15 and 24-31, so that the pack leaves them in
 * order. The 32-entry table tb_t167_codes is two PSHUFB and a blend on the
 * code's bit 4 (t167_avx512.c does all this in three VBMI shuffles). */
typedef struct {
    __m256i pick[2], mul, low5, table[2];
} t167_avx2_consts;

INLINE t167_avx2_consts t167_avx2_consts_new(void)
{
    /* lane 0 reads bytes 0-15 of the half, lane 1 bytes 4-19 */
    uint8_t pick[2][32];
    int16_t mul[16];
    for (int v = 0; v < 2; v++)
        for (int lane = 0; lane < 2; lane++)
            for (int i = 0; i < 8; i++) {
                int code = 16 * lane + 8 * v + i, bit = 5 * code, sh = bit % 8;
                int at = bit / 8 - 4 * lane;
                pick[v][16 * lane + 2 * i] = (uint8_t)at;
                pick[v][16 * lane + 2 * i + 1] = sh > 3 ? (uint8_t)(at + 1) : 0x80;
                mul[8 * lane + i] = (int16_t)(1 << (8 - sh));
            }
    t167_avx2_consts c = {.mul = _mm256_loadu_si256((const __m256i *)mul),
                          .low5 = _mm256_set1_epi8(31)};
    for (int v = 0; v < 2; v++) {
        c.pick[v] = _mm256_loadu_si256((const __m256i *)pick[v]);
        c.table[v] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(tb_t167_codes + 16 * v)));
    }
    return c;
}

/* 32 codes from 20 bytes: byte i = the codes of weights i, i + 64, i + 128
 * in bits 1-0, 3-2, 5-4 (reads only the 20 bytes). */
INLINE __m256i t167_decode_avx2(const uint8_t *p, const t167_avx2_consts *c)
{
    __m256i v = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)(p + 4)),
                                 _mm_loadu_si128((const __m128i *)p));
    __m256i lo = _mm256_mullo_epi16(_mm256_shuffle_epi8(v, c->pick[0]), c->mul);
    __m256i hi = _mm256_mullo_epi16(_mm256_shuffle_epi8(v, c->pick[1]), c->mul);
    __m256i codes = _mm256_and_si256(
        _mm256_packus_epi16(_mm256_srli_epi16(lo, 8), _mm256_srli_epi16(hi, 8)), c->low5);
    return _mm256_blendv_epi8(_mm256_shuffle_epi8(c->table[0], codes),
                              _mm256_shuffle_epi8(c->table[1], codes), _mm256_slli_epi16(codes, 3));
}

/* A tail chunk's 64 codes (16 bytes; byte p holds weights p + 16 f at bits
 * 2f): weights 0-31 in lo, 32-63 in hi. */
INLINE void t167_chunk_avx2(const uint8_t *p, __m256i *lo, __m256i *hi)
{
    const __m256i three = _mm256_set1_epi8(3);
    __m256i bb = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p));
    *lo = _mm256_and_si256(_mm256_srlv_epi64(bb, _mm256_set_epi64x(2, 2, 0, 0)), three);
    *hi = _mm256_and_si256(_mm256_srlv_epi64(bb, _mm256_set_epi64x(6, 6, 4, 4)), three);
}

/* One row x T tokens; PMADDUBSW's int16 pairs (at most 2 * 2 * 128 each)
 * add six to a block before widening: no saturation. */
INLINE void t167_tile(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r, int t,
                      const t167_avx2_consts *c, const int T)
{
    const __m256i three = _mm256_set1_epi8(3);
    const int k = w->k;
    const uint8_t *p = tb_t167_block(w, r, 0);
    const int8_t *q[4];
    __m256i acc[4];
    for (int j = 0; j < T; j++) {
        q[j] = a->i8 + (size_t)(t + j) * k;
        acc[j] = _mm256_setzero_si256();
    }
    int b = 0;
    for (; b + TB_T167_BLOCK <= k; b += TB_T167_BLOCK, p += TB_T167_ROWS * TB_T167_BLOCK_BYTES) {
        __m256i f[2][3];
        for (int h = 0; h < 2; h++) {
            __m256i v = t167_decode_avx2(p + 20 * h, c);
            for (int d = 0; d < 3; d++)
                f[h][d] = _mm256_and_si256(_mm256_srli_epi16(v, 2 * d), three);
        }
        for (int j = 0; j < T; j++) {
            __m256i s = _mm256_setzero_si256();
            for (int h = 0; h < 2; h++)
                for (int d = 0; d < 3; d++)
                    s = _mm256_add_epi16(s, _mm256_maddubs_epi16(f[h][d], _mm256_loadu_si256(
                                                (const __m256i *)(q[j] + b + 32 * h + 64 * d))));
            acc[j] = _mm256_add_epi32(acc[j], hsum_pairs(s));
        }
    }
    p = tb_t167_chunk0(w, r);
    for (; b < k; b += TB_T167_TAIL, p += TB_T167_ROWS * 16) {
        __m256i lo, hi;
        t167_chunk_avx2(p, &lo, &hi);
        for (int j = 0; j < T; j++) {
            __m256i s = _mm256_add_epi16(
                _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(q[j] + b))),
                _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q[j] + b + 32))));
            acc[j] = _mm256_add_epi32(acc[j], hsum_pairs(s));
        }
    }
    for (int j = 0; j < T; j++) {
        int32_t isum = hsum_i32(acc[j]) - a->i8_sum[t + j]; /* codes are w + 1 */
        y[(size_t)(t + j) * ldy + r] = tb_ternary_out1(isum, a->i8_scale[t + j], w->scale);
    }
}

/* Prompt: rows decoded once, two at a time, into a buffer of one code per
 * weight in the weights' order, that every token then reads: two rows x
 * three tokens per pass, a PMADDUBSW per 32 weights and row and token and
 * nothing else. */
enum { STAGE_ROWS = 2, STAGE_MAX_K = 16384 }; /* larger k: t167_tile (the buffer is on the stack, 32 KB) */

static void t167_stage(const tb_matrix *w, int r, uint8_t *st, const t167_avx2_consts *c)
{
    const __m256i three = _mm256_set1_epi8(3);
    const int k = w->k, nb = k / TB_T167_BLOCK;
    for (int i = 0; i < STAGE_ROWS; i++, st += k) {
        const uint8_t *p = tb_t167_block(w, r + i, 0);
        for (int b = 0; b < nb; b++, p += TB_T167_ROWS * TB_T167_BLOCK_BYTES)
            for (int h = 0; h < 2; h++) {
                __m256i v = t167_decode_avx2(p + 20 * h, c);
                for (int d = 0; d < 3; d++)
                    _mm256_storeu_si256((__m256i *)(st + b * TB_T167_BLOCK + 32 * h + 64 * d),
                                        _mm256_and_si256(_mm256_srli_epi16(v, 2 * d), three));
            }
        p = tb_t167_chunk0(w, r + i);
        for (int v = nb * TB_T167_BLOCK; v < k; v += TB_T167_TAIL, p += TB_T167_ROWS * 16) {
            __m256i lo, hi;
            t167_chunk_avx2(p, &lo, &hi);
            _mm256_storeu_si256((__m256i *)(st + v), lo);
            _mm256_storeu_si256((__m256i *)(st + v + 32), hi);
        }
    }
}

/* The two staged rows r, r + 1 (st) x T tokens from t. Products add in
 * int16 for 32 steps (at most 32 * 2 * 2 * 128 in size) before widening. */
INLINE void staged_tile(const tb_matrix *w, const uint8_t *st, const tb_act *a, float *y, int ldy,
                        int r, int t, const int T)
{
    const int k = w->k;
    const int8_t *q[3];
    __m256i acc[2][3], s[2][3];
    for (int j = 0; j < T; j++) {
        q[j] = a->i8 + (size_t)(t + j) * k;
        for (int i = 0; i < 2; i++)
            acc[i][j] = _mm256_setzero_si256();
    }
    for (int v0 = 0; v0 < k; v0 += 1024) {
        int v1 = v0 + 1024 < k ? v0 + 1024 : k;
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < T; j++)
                s[i][j] = _mm256_setzero_si256();
        for (int v = v0; v < v1; v += 32) {
            __m256i f0 = _mm256_loadu_si256((const __m256i *)(st + v));
            __m256i f1 = _mm256_loadu_si256((const __m256i *)(st + k + v));
            for (int j = 0; j < T; j++) {
                __m256i x = _mm256_loadu_si256((const __m256i *)(q[j] + v));
                s[0][j] = _mm256_add_epi16(s[0][j], _mm256_maddubs_epi16(f0, x));
                s[1][j] = _mm256_add_epi16(s[1][j], _mm256_maddubs_epi16(f1, x));
            }
        }
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < T; j++)
                acc[i][j] = _mm256_add_epi32(acc[i][j], hsum_pairs(s[i][j]));
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < T; j++) {
            int32_t isum = hsum_i32(acc[i][j]) - a->i8_sum[t + j]; /* codes are w + 1 */
            y[(size_t)(t + j) * ldy + r + i] = tb_ternary_out1(isum, a->i8_scale[t + j], w->scale);
        }
}

#define STAGE(r) t167_stage(w, r, st, c)
#define STAGED_TILE(r, t, T) staged_tile(w, st, a, y, ldy, r, t, T)

/* Rows [r0, r1) two at a time (r1 - r0 even), each pair staged once. */
static void t167_gemm_staged(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1,
                             const t167_avx2_consts *c)
{
    uint8_t st[STAGE_ROWS * STAGE_MAX_K] __attribute__((aligned(64)));
    STAGED(STAGE_ROWS, 3, STAGE, STAGED_TILE);
}

#define T167_TILE(r, t, R, T) t167_tile(w, a, y, ldy, r, t, c, T)

static void t167_rows(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1,
                      const t167_avx2_consts *c)
{
    TILED(1, 4, T167_TILE);
}

void tb_gemm_t1_67_avx2(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    const t167_avx2_consts c = t167_avx2_consts_new();
    /* prompts: rows in pairs staged, a row left at either end alone */
    int p0 = r0 + r0 % 2, p1 = r1 - r1 % 2;
    if (a->n > 1 && p0 < p1 && w->k <= STAGE_MAX_K) {
        t167_rows(w, a, y, ldy, r0, p0, &c);
        t167_gemm_staged(w, a, y, ldy, p0, p1, &c);
        t167_rows(w, a, y, ldy, p1, r1, &c);
    } else {
        t167_rows(w, a, y, ldy, r0, r1, &c);
    }
}

/* ---- tq1_0: base-3 digits by byte adds and compares ----
 *
 * Digit n of a packed byte q is the leading base-3 digit of v = q * 3^n mod
 * 256, i.e. (v * 3) >> 8 = (v >= 86) + (v >= 171). Times 3 modulo 256 is two
 * byte adds; AVX2 has no unsigned byte compare, so v >= c is max(v, c) == v.
 * (Decoding with 16-bit multiplies, as before, ran at 55-60 GOP/s.) */
INLINE __m256i times3_256(__m256i v)
{
    return _mm256_add_epi8(v, _mm256_add_epi8(v, v));
}

INLINE __m256i top_digit256(__m256i v)
{
    __m256i ge86 = _mm256_cmpeq_epi8(_mm256_max_epu8(v, _mm256_set1_epi8(86)), v);
    __m256i ge171 = _mm256_cmpeq_epi8(_mm256_max_epu8(v, _mm256_set1_epi8((char)171)), v);
    return _mm256_sub_epi8(_mm256_sub_epi8(_mm256_setzero_si256(), ge86), ge171);
}

INLINE int32_t tq1_block_dot(const tb_block_tq1_0 *b, const int8_t *q)
{
    __m256i acc = _mm256_setzero_si256();
    __m256i v = _mm256_loadu_si256((const __m256i *)b->qs); /* values 32 n + j */
    for (int n = 0; n < 5; n++, v = times3_256(v))
        acc = _mm256_add_epi32(acc, hsum_pairs(_mm256_maddubs_epi16(
                                        top_digit256(v), _mm256_loadu_si256((const __m256i *)(q + 32 * n)))));
    /* qs[32..47]: values 160 + 16 n + j, digits n and n + 1 side by side */
    __m128i m = _mm_loadu_si128((const __m128i *)(b->qs + 32));
    for (int n = 0; n < 5; n += 2) {
        __m128i m3 = _mm_add_epi8(m, _mm_add_epi8(m, m));
        __m256i d = top_digit256(_mm256_set_m128i(m3, m));
        __m128i q0 = _mm_loadu_si128((const __m128i *)(q + 160 + 16 * n));
        __m128i q1 = n + 1 < 5 ? _mm_loadu_si128((const __m128i *)(q + 160 + 16 * (n + 1)))
                               : _mm_setzero_si128();
        acc = _mm256_add_epi32(acc, hsum_pairs(_mm256_maddubs_epi16(d, _mm256_set_m128i(q1, q0))));
        m = _mm_add_epi8(m3, _mm_add_epi8(m3, m3));
    }
    /* qh: values 240 + 4 n + j, for n < 4: qh times 1, 3, 9, 27 in its four dwords */
    uint32_t qh;
    memcpy(&qh, b->qh, 4);
    __m128i h0 = _mm_set1_epi32((int)qh);
    __m128i h1 = _mm_add_epi8(h0, _mm_add_epi8(h0, h0)), h2 = _mm_add_epi8(h1, _mm_add_epi8(h1, h1));
    __m128i h3 = _mm_add_epi8(h2, _mm_add_epi8(h2, h2));
    __m128i h = _mm_blend_epi32(_mm_blend_epi32(_mm_blend_epi32(h0, h1, 0x2), h2, 0x4), h3, 0x8);
    __m256i d = top_digit256(_mm256_zextsi128_si256(h));
    __m256i qv = _mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)(q + 240)));
    acc = _mm256_add_epi32(acc, hsum_pairs(_mm256_maddubs_epi16(d, qv)));
    return hsum_i32(acc);
}

void tb_gemm_tq1_0_avx2(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    int nb = w->k / TB_QK_K;
    for (int t = 0; t < a->n; t++)
        for (int r = r0; r < r1; r++) {
            const tb_block_tq1_0 *b = (const tb_block_tq1_0 *)(w->data + (size_t)r * w->row_bytes);
            const int8_t *q = a->i8 + (size_t)t * w->k;
            const int32_t *bsum = a->i8_bsum + (size_t)t * (w->k / 128);
            tb_tsum out = tb_tsum_new();
            for (int i = 0; i < nb; i++)
                tb_tsum_add(&out, f16(b[i].d),
                            tq1_block_dot(&b[i], q + i * TB_QK_K) - bsum[2 * i] - bsum[2 * i + 1]);
            y[(size_t)t * ldy + r] = tb_tsum_out(&out, a->i8_scale[t]);
        }
}

/* ---- attention helpers over an f16 KV cache (F16C) ---- */

/* Four rows at a time share each load of q, and their four sums are reduced
 * together (one horizontal add tree instead of four). */
void tb_scores_f16_avx2(const float *q, const tb_f16 *k, size_t stride, int n, int d, float *out)
{
    int t = 0, d8 = d / 8 * 8;
    for (; t + 4 <= n; t += 4) {
        const tb_f16 *kt = k + (size_t)t * stride;
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                         _mm256_setzero_ps()};
        for (int i = 0; i < d8; i += 8) {
            __m256 qv = _mm256_loadu_ps(q + i);
            for (int j = 0; j < 4; j++)
                acc[j] = _mm256_fmadd_ps(
                    qv, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(kt + j * stride + i))), acc[j]);
        }
        __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]), _mm256_hadd_ps(acc[2], acc[3]));
        __m128 r = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
        float sums[4];
        _mm_storeu_ps(sums, r);
        for (int j = 0; j < 4; j++) {
            for (int i = d8; i < d; i++)
                sums[j] += q[i] * f16(kt[j * stride + i]);
            out[t + j] = sums[j];
        }
    }
    for (; t < n; t++) {
        const tb_f16 *kt = k + (size_t)t * stride;
        __m256 acc = _mm256_setzero_ps();
        for (int i = 0; i < d8; i += 8)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i),
                                  _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(kt + i))), acc);
        float s = hsum_ps(acc);
        for (int i = d8; i < d; i++)
            s += q[i] * f16(kt[i]);
        out[t] = s;
    }
}

/* The output stays in registers, 32 values at a time, over all rows. */
/* out[c .. c + 8*nb) = sum over t of p[t] * v[t][c ..]: nb accumulators, one
 * pass down the rows. */
INLINE void wsum_cols(const float *p, const tb_f16 *v, size_t stride, int n, float *out, const int nb)
{
    __m256 acc[12];
    for (int c = 0; c < nb; c++)
        acc[c] = _mm256_setzero_ps();
    for (int t = 0; t < n; t++) {
        __m256 pv = _mm256_broadcast_ss(p + t);
        const tb_f16 *vt = v + (size_t)t * stride;
        for (int c = 0; c < nb; c++)
            acc[c] = _mm256_fmadd_ps(pv, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vt + 8 * c))),
                                     acc[c]);
    }
    for (int c = 0; c < nb; c++)
        _mm256_storeu_ps(out + 8 * c, acc[c]);
}

/* Up to 96 columns per pass, so that a head of 64 or 96 reads each row once,
 * front to back (three passes over 64-byte slices of a 96-wide head left the
 * loads of the first slice waiting on DRAM in the 700M decode). */
void tb_wsum_f16_avx2(const float *p, const tb_f16 *v, size_t stride, int n, int d, float *out)
{
    int i = 0;
    for (; i + 96 <= d; i += 96)
        wsum_cols(p, v + i, stride, n, out + i, 12);
    if (i + 64 <= d) {
        wsum_cols(p, v + i, stride, n, out + i, 8);
        i += 64;
    }
    if (i + 32 <= d) {
        wsum_cols(p, v + i, stride, n, out + i, 4);
        i += 32;
    }
    for (; i + 8 <= d; i += 8)
        wsum_cols(p, v + i, stride, n, out + i, 1);
    for (; i < d; i++) {
        float s = 0;
        for (int t = 0; t < n; t++)
            s += p[t] * f16(v[(size_t)t * stride + i]);
        out[i] = s;
    }
}

/* ---- q6_k: 6-bit codes against q8_K activations ----
 *
 * 32 codes at a time in value order; PMADDUBSW pairs them with the int8
 * activations (|63 * 128 * 2| < 2^15: no saturation), PMADDWD sums pairs into
 * 8 int32 lanes of 4 values, so lanes 0-3 are the first 16-value sub-block
 * and lanes 4-7 the second; the offset of 32 comes off as 32 x sum(x). */
static void q6k_gemv_avx2(const tb_matrix *w, const tb_act *a, int t, float *y, int r0, int r1)
{
    const int nb = w->k / TB_QK_K;
    const tb_block_q8_K *const xq = a->q8k + (size_t)t * nb;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3);
    for (int r = r0; r < r1; r++) {
        const tb_block_q6_K *wb = (const tb_block_q6_K *)(const void *)(w->data + (size_t)r * w->row_bytes);
        __m256 acc = _mm256_setzero_ps();
        for (int b = 0; b < nb; b++) {
            __m256i isum = _mm256_setzero_si256();
            for (int c = 0; c < 8; c++) { /* 32 values: half c / 4, quarter c % 4 */
                int h = c / 4, q = c % 4;
                __m256i lo = _mm256_loadu_si256((const __m256i *)(wb[b].ql + 64 * h + 32 * (q & 1)));
                __m256i hb = _mm256_loadu_si256((const __m256i *)(wb[b].qh + 32 * h));
                if (q >= 2)
                    lo = _mm256_srli_epi16(lo, 4);
                __m256i hi2 = _mm256_and_si256(_mm256_srlv_epi64(hb, _mm256_set1_epi64x(2 * q)), m3);
                __m256i codes = _mm256_or_si256(_mm256_and_si256(lo, m4), _mm256_slli_epi16(hi2, 4));
                __m256i p16 = _mm256_maddubs_epi16(codes, _mm256_loadu_si256((const __m256i *)(xq[b].qs + 32 * c)));
                /* each 16-value half times its sub-block's scale, pairs summed to int32 */
                __m256i sc = _mm256_setr_m128i(_mm_set1_epi16(wb[b].scales[2 * c]),
                                               _mm_set1_epi16(wb[b].scales[2 * c + 1]));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p16, sc));
            }
            /* the codes' offset of 32: 32 * sum_s scale_s * bsum_s */
            __m256i bs = _mm256_loadu_si256((const __m256i *)xq[b].bsums);
            __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wb[b].scales));
            isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16), 5));
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(f16(wb[b].d) * xq[b].d), acc);
        }
        y[r] = hsum_ps(acc);
    }
}
void tb_gemm_q6_k_avx2(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    for (int t = 0; t < a->n; t++) /* a batch runs the GEMV per token */
        q6k_gemv_avx2(w, a, t, y + (size_t)t * ldy, r0, r1);
}
