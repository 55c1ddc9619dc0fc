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

/* The one-token paths, defined below with the note on why they differ. */
static void i2s_gemv(const tb_matrix *w, const tb_act *a, float *y, int r0, int r1);
static void i2s_gemv4(const tb_matrix *w, const tb_act *a, float *y, int r0, int r1);
static void tq2_gemv(const tb_matrix *w, const tb_act *a, float *y, int r0, int r1);
static inline void q_gemv(const tb_matrix *w, const tb_act *a, float *y, int r0, int r1,
                          const int fmt);

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

/* Requests every cache line of a tile's rows before computing on them, so
 * the misses overlap instead of arriving one chunk at a time. Decoding is
 * memory-bound; this took i2_s GEMV on one thread from 7.8 to ~18 GB/s. */
INLINE void prefetch_rows(const uint8_t *const *rows, size_t bytes, const int R)
{
    uint8_t sink = 0;
    for (int i = 0; i < R; i++)
        for (size_t off = 0; off < bytes; off += 64)
            sink |= rows[i][off];
    __asm__ volatile("" : : "r"(sink));
}

#define I2S_SHIFT_LO _mm512_set_epi64(4, 4, 4, 4, 6, 6, 6, 6)
#define I2S_SHIFT_HI _mm512_set_epi64(0, 0, 0, 0, 2, 2, 2, 2)

/* stride: tb_i2s_pair_stride(w), as a constant (a stride read from w cost
 * the plain layout's GEMM 2 % at k = 1536) */
INLINE void i2s_tile(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r, int t,
                     const int R, const int T, const size_t stride)
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
    /* One chunk per call: with a constant chunk count GCC keeps acc in
     * registers (a variable count made it spill every iteration: 3x slower). */
    int nc = w->k / 128, c = 0;
    for (; c + 2 <= nc; c += 2) {
        const uint8_t *rc[4];
        const int8_t *qc[4];
        for (int i = 0; i < R; i++)
            rc[i] = rows[i] + (size_t)(c / 2) * stride;
        for (int j = 0; j < T; j++)
            qc[j] = q[j] + c * 128;
        ternary_chunks(rc, qc, 2, 32, I2S_SHIFT_LO, I2S_SHIFT_HI, R, T, acc);
    }
    if (c < nc) {
        const uint8_t *rc[4];
        const int8_t *qc[4];
        for (int i = 0; i < R; i++)
            rc[i] = rows[i] + (size_t)(c / 2) * stride;
        for (int j = 0; j < T; j++)
            qc[j] = q[j] + c * 128;
        ternary_chunks(rc, qc, 1, 32, I2S_SHIFT_LO, I2S_SHIFT_HI, R, T, acc);
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) {
            int32_t isum = _mm512_reduce_add_epi32(acc[i][j]) - a->i8_sum[t + j];
            y[(size_t)(t + j) * ldy + r + i] = tb_ternary_out1(isum, a->i8_scale[t + j], w->scale);
        }
}

#define I2S_TILE(r, t, R, T) i2s_tile(w, a, y, ldy, r, t, R, T, 64)
#define I2S_TILE4(r, t, R, T) i2s_tile(w, a, y, ldy, r, t, R, T, 64 * TB_I2S_INTERLEAVE)

void tb_gemm_i2_s_avx512(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    /* i2s_gemv reads plain rows only; the tiles read both layouts */
    if (a->n == 1 && !w->interleave)
        i2s_gemv(w, a, y, r0, r1);
    else if (a->n == 1 && r0 % TB_I2S_INTERLEAVE == 0 && r1 % TB_I2S_INTERLEAVE == 0)
        i2s_gemv4(w, a, y, r0, r1);
    else if (w->interleave)
        TILED(4, 4, I2S_TILE4);
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
    tb_tsum out[4][4];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++)
            out[i][j] = tb_tsum_new();
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
                tb_tsum_add(&out[i][j], f16(dh), _mm512_reduce_add_epi32(acc[i][j]) - qs);
            }
        }
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++)
            y[(size_t)(t + j) * ldy + r + i] = tb_tsum_out(&out[i][j], a->i8_scale[t + j]);
}

#define TQ2_TILE(r, t, R, T) tq2_tile(w, a, y, ldy, r, t, R, T)

void tb_gemm_tq2_0_avx512(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    if (a->n == 1)
        tq2_gemv(w, a, y, r0, r1);
    else
        TILED(4, 4, TQ2_TILE);
}

/* ---- tq1_0: five base-3 digits per byte, decoded with byte adds and compares ----
 *
 * Digit n of a packed byte q is ((q * 3^n) mod 256) * 3 >> 8 (kernels_impl.h).
 * Times 3 modulo 256 is two byte adds, and (v * 3) >> 8 is (v >= 86) +
 * (v >= 171): no multiplies at all. A block's 256 codes (digit = weight + 1)
 * come out as four vectors whose activations are contiguous but for the last:
 * values 0-63, 64-127, 160-223, and 128-159 followed by 224-255. */
INLINE __m512i times3(__m512i v)
{
    return _mm512_add_epi8(v, _mm512_add_epi8(v, v));
}

INLINE __m128i times3_128(__m128i v)
{
    return _mm_add_epi8(v, _mm_add_epi8(v, v));
}

INLINE __m512i top_digit(__m512i v)
{
    __m512i d = _mm512_maskz_mov_epi8(_mm512_cmpge_epu8_mask(v, _mm512_set1_epi8(86)),
                                      _mm512_set1_epi8(1));
    return _mm512_mask_mov_epi8(d, _mm512_cmpge_epu8_mask(v, _mm512_set1_epi8((char)171)),
                                _mm512_set1_epi8(2));
}

INLINE void tq1_codes(const tb_block_tq1_0 *b, __m512i c[4])
{
    /* qs[0..31]: digit n of byte j is value 32 n + j; two digits per vector */
    __m256i lo = _mm256_loadu_si256((const __m256i *)b->qs);
    __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(lo),
                                   _mm256_add_epi8(lo, _mm256_add_epi8(lo, lo)), 1);
    c[0] = top_digit(v); /* digits 0 | 1 */
    v = times3(times3(v));
    c[1] = top_digit(v); /* digits 2 | 3 */
    v = times3(times3(v)); /* digit 4 in the low half */
    /* qs[32..47]: digit n of byte j is value 160 + 16 n + j */
    __m128i m0 = _mm_loadu_si128((const __m128i *)(b->qs + 32));
    __m128i m1 = times3_128(m0), m2 = times3_128(m1), m3 = times3_128(m2);
    __m512i mid = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_set_m128i(m1, m0)), _mm256_set_m128i(m3, m2), 1);
    c[2] = top_digit(mid);
    /* qh: digit n of byte j is value 240 + 4 n + j */
    uint32_t qh;
    memcpy(&qh, b->qh, 4);
    __m128i h0 = _mm_set1_epi32((int)qh), h1 = times3_128(h0), h2 = times3_128(h1);
    __m128i h = _mm_blend_epi32(_mm_blend_epi32(h0, h1, 0x2), h2, 0x4);
    h = _mm_blend_epi32(h, times3_128(h2), 0x8);
    __m256i tail = _mm256_set_m128i(h, times3_128(m3)); /* values 224-239 | 240-255 */
    c[3] = top_digit(_mm512_inserti64x4(v, tail, 1));
}

/* Token q's activations in tq1_codes' order. */
INLINE void tq1_acts(const int8_t *q, __m512i x[4])
{
    x[0] = _mm512_loadu_si512(q);
    x[1] = _mm512_loadu_si512(q + 64);
    x[2] = _mm512_loadu_si512(q + 160);
    x[3] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(q + 128))),
                              _mm256_loadu_si256((const __m256i *)(q + 224)), 1);
}

/* One row x T tokens: each block is decoded once for all T tokens. Four
 * accumulators per token (one per code vector) keep the VPDPBUSD chains
 * independent when T is 1. */
INLINE void tq1_tile(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r, int t,
                     const int T)
{
    const int nb = w->k / TB_QK_K;
    const tb_block_tq1_0 *row = (const tb_block_tq1_0 *)(w->data + (size_t)r * w->row_bytes);
    const int8_t *q[4];
    for (int j = 0; j < T; j++)
        q[j] = a->i8 + (size_t)(t + j) * w->k;
    tb_tsum out[4];
    for (int j = 0; j < T; j++)
        out[j] = tb_tsum_new();
    bool uniform = tq_uniform_scale((const uint8_t *)row, nb, sizeof(tb_block_tq1_0),
                                    offsetof(tb_block_tq1_0, d));
    int span = uniform ? nb : 1; /* one scale: the whole row is one integer sum */
    for (int b0 = 0; b0 < nb; b0 += span) {
        __m512i acc[4][4];
        for (int j = 0; j < T; j++)
            for (int v = 0; v < 4; v++)
                acc[j][v] = _mm512_setzero_si512();
        for (int b = b0; b < b0 + span; b++) {
            __m512i c[4];
            tq1_codes(&row[b], c);
            for (int j = 0; j < T; j++) {
                __m512i x[4];
                tq1_acts(q[j] + b * TB_QK_K, x);
                for (int v = 0; v < 4; v++)
                    acc[j][v] = _mm512_dpbusd_epi32(acc[j][v], c[v], x[v]);
            }
        }
        for (int j = 0; j < T; j++) {
            const int32_t *bsum = a->i8_bsum + (size_t)(t + j) * (w->k / 128) + 2 * b0;
            int32_t qs = 0;
            for (int c = 0; c < 2 * span; c++)
                qs += bsum[c];
            __m512i s = _mm512_add_epi32(_mm512_add_epi32(acc[j][0], acc[j][1]),
                                         _mm512_add_epi32(acc[j][2], acc[j][3]));
            tb_tsum_add(&out[j], f16(row[b0].d), _mm512_reduce_add_epi32(s) - qs);
        }
    }
    for (int j = 0; j < T; j++)
        y[(size_t)(t + j) * ldy + r] = tb_tsum_out(&out[j], a->i8_scale[t + j]);
}

#define TQ1_TILE(r, t, R, T) tq1_tile(w, a, y, ldy, r, t, T)

void tb_gemm_tq1_0_avx512(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    TILED(1, 4, TQ1_TILE);
}

/* ---- tl2: table lookups, 32 rows x 2 groups at a time ----
 *
 * As gemm_avx2.c's tl2 kernel, with each 512-bit PSHUFB serving two groups
 * (lanes 0-1 group g, lanes 2-3 group g + 1) and the signs applied by a
 * masked subtract straight from the sign words. The two groups' int16 sums
 * land in different lanes and are added when widened to int32 every 64
 * groups (so no int16 lane ever holds more than 32 groups: no overflow).
 * Zen 4 runs 512-bit shuffles as two 256-bit halves, so the GEMM, bound by
 * shuffles, gains ~2% over AVX2 there and the GEMV ~12% (fewer loads and
 * instructions); a VPERMB (VBMI) variant that skips the unpacking gained
 * another 5% on the GEMM and was not kept. */
INLINE void tl2_tiles512(const uint8_t *tile, const uint8_t *const *luts, int groups,
                         int32_t out[4][32], const int T)
{
    const __m512i low4 = _mm512_set1_epi8(0xf);
    const __m512i nib_shift = _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0);
    for (int j = 0; j < T; j++)
        memset(out[j], 0, sizeof out[j]);
    for (int g0 = 0; g0 < groups; g0 += 64) {
        __m512i acc[4][2];
        for (int j = 0; j < T; j++)
            acc[j][0] = acc[j][1] = _mm512_setzero_si512();
        int gend = g0 + 64 < groups ? g0 + 64 : groups;
        for (int g = g0; g < gend; g += 2) {
            const uint8_t *p = tile + (size_t)g * TB_TL2_GROUP_BYTES;
            bool pair = g + 1 < gend; /* the last group of an odd count goes alone */
            __m128i n0 = _mm_loadu_si128((const __m128i *)p);
            __m128i n1 = pair ? _mm_loadu_si128((const __m128i *)(p + TB_TL2_GROUP_BYTES))
                              : _mm_setzero_si128();
            /* lanes: rows 0-15 and 16-31 of group g, then of group g + 1 */
            __m512i nn = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_broadcastsi128_si256(n0)),
                                            _mm256_broadcastsi128_si256(n1), 1);
            __m512i idx = _mm512_and_si512(_mm512_srlv_epi64(nn, nib_shift), low4);
            uint32_t w0, w1 = 0;
            memcpy(&w0, p + 16, 4);
            if (pair)
                memcpy(&w1, p + TB_TL2_GROUP_BYTES + 16, 4);
            /* sign words: 0 covers rows 0-7, 16-23 (v0's lanes), 1 rows 8-15, 24-31 */
            __mmask32 k0 = (w0 & 0xffff) | (w1 << 16), k1 = (w0 >> 16) | (w1 & 0xffff0000u);
            for (int j = 0; j < T; j++) {
                const uint8_t *tab = luts[j] + (size_t)g * 32;
                __m512i t2 = pair ? _mm512_loadu_si512(tab) : _mm512_maskz_loadu_epi8(0xffffffffu, tab);
                __m512i tlo = _mm512_shuffle_i64x2(t2, t2, _MM_SHUFFLE(2, 2, 0, 0));
                __m512i thi = _mm512_shuffle_i64x2(t2, t2, _MM_SHUFFLE(3, 3, 1, 1));
                __m512i vlo = _mm512_shuffle_epi8(tlo, idx), vhi = _mm512_shuffle_epi8(thi, idx);
                __m512i v0 = _mm512_unpacklo_epi8(vlo, vhi), v1 = _mm512_unpackhi_epi8(vlo, vhi);
                v0 = _mm512_mask_sub_epi16(v0, k0, _mm512_setzero_si512(), v0);
                v1 = _mm512_mask_sub_epi16(v1, k1, _mm512_setzero_si512(), v1);
                acc[j][0] = _mm512_add_epi16(acc[j][0], v0);
                acc[j][1] = _mm512_add_epi16(acc[j][1], v1);
            }
        }
        for (int j = 0; j < T; j++) { /* widen, add the two groups' lanes, store in row order */
            __m512i s[2];
            for (int h = 0; h < 2; h++)
                s[h] = _mm512_add_epi32(_mm512_cvtepi16_epi32(_mm512_castsi512_si256(acc[j][h])),
                                        _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(acc[j][h], 1)));
            /* s[0]: rows 0-7, 16-23; s[1]: rows 8-15, 24-31 */
            __m512i r0_15 = _mm512_shuffle_i64x2(s[0], s[1], _MM_SHUFFLE(1, 0, 1, 0));
            __m512i r16_31 = _mm512_shuffle_i64x2(s[0], s[1], _MM_SHUFFLE(3, 2, 3, 2));
            _mm512_storeu_si512(out[j], _mm512_add_epi32(_mm512_loadu_si512(out[j]), r0_15));
            _mm512_storeu_si512(out[j] + 16, _mm512_add_epi32(_mm512_loadu_si512(out[j] + 16), r16_31));
        }
    }
}

void tb_gemm_tl2_avx512(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    TB_TL2_GEMM(tl2_tiles512)
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

/* 32 weights from p as two vectors, f16 and bf16 in one 64-byte load.
 * Converting from a register instead of VCVTPH2PS's memory form (two loads
 * per cache line) took a one-core f16 GEMV streaming 256 MB from 22-23 to
 * 30-31 GB/s in a throwaway program (Zen 4), the rate of a plain read. */
INLINE void load_w32(const void *p, int fmt, __m512 *lo, __m512 *hi)
{
    if (fmt == TB_FMT_F32) {
        *lo = _mm512_loadu_ps(p);
        *hi = _mm512_loadu_ps((const float *)p + 16);
        return;
    }
    __m512i v = _mm512_loadu_si512(p);
    __m256i h0 = _mm512_castsi512_si256(v), h1 = _mm512_extracti64x4_epi64(v, 1);
    if (fmt == TB_FMT_F16) {
        *lo = _mm512_cvtph_ps(h0);
        *hi = _mm512_cvtph_ps(h1);
    } else { /* bf16 */
        *lo = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h0), 16));
        *hi = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h1), 16));
    }
}

INLINE void float_tile(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r, int t,
                       const int R, const int T, const int fmt)
{
    const size_t esize = fmt == TB_FMT_F32 ? 4 : 2;
    __m512 acc[16][4]; /* R <= 16 with T = 1 (GEMV), R <= 4 with T <= 4 */
    const uint8_t *rows[16];
    const float *x[4];
    for (int i = 0; i < R; i++) {
        rows[i] = w->data + (size_t)(r + i) * w->row_bytes;
        for (int j = 0; j < T; j++)
            acc[i][j] = _mm512_setzero_ps();
    }
    for (int j = 0; j < T; j++)
        x[j] = a->f32 + (size_t)(t + j) * w->k;
    int k = w->k, kk = 0;
    for (; kk + 32 <= k; kk += 32) {
        __m512 lo[16], hi[16];
        for (int i = 0; i < R; i++)
            load_w32(rows[i] + kk * esize, fmt, &lo[i], &hi[i]);
        for (int j = 0; j < T; j++) {
            __m512 x0 = _mm512_loadu_ps(x[j] + kk), x1 = _mm512_loadu_ps(x[j] + kk + 16);
            for (int i = 0; i < R; i++)
                acc[i][j] = _mm512_fmadd_ps(hi[i], x1, _mm512_fmadd_ps(lo[i], x0, acc[i][j]));
        }
    }
    for (; kk + 16 <= k; kk += 16) {
        __m512 wv[16];
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
        __m512 wv[16];
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
        if (a->n == 1 && w->row_bytes <= GEMV_ROW_BYTES_1)                                    \
            float_gemv1(w, a, y, r0, r1, FMT_##name);                                         \
        else if (a->n == 1)                                                                   \
            TILED(16, 1, FT_##name);                                                          \
        else                                                                                  \
            TILED(4, 4, FT_##name);                                                           \
    }

/* Float GEMV: rows up to this many bytes are read one at a time with four
 * accumulators, longer ones sixteen rows at a time. Measured with ternbench
 * kernels (2 threads, f16): k = 1536 (3 KB rows) 26 -> 32 GB/s one at a time;
 * k = 6912 (14 KB rows) 26 GB/s one at a time vs 33 four at a time. Long
 * rows: the f32 activations (27 KB at k = 6912) no longer stay in L1 beside
 * the stream, so each activation load is shared by as many rows as registers
 * allow: one thread, 2560x6912 f16, 20 GB/s four rows at a time, 24 eight,
 * 27 sixteen. */
#ifndef GEMV_ROW_BYTES_1
#define GEMV_ROW_BYTES_1 8192
#endif

INLINE void float_gemv1(const tb_matrix *w, const tb_act *a, float *y, int r0, int r1, const int fmt)
{
    const size_t esize = fmt == TB_FMT_F32 ? 4 : 2;
    const int k = w->k;
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = w->data + (size_t)r * w->row_bytes;
        const float *x = a->f32;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int kk = 0;
        for (; kk + 64 <= k; kk += 64) {
            __m512 w0, w1, w2, w3;
            load_w32(row + kk * esize, fmt, &w0, &w1);
            load_w32(row + (kk + 32) * esize, fmt, &w2, &w3);
            a0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + kk), a0);
            a1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + kk + 16), a1);
            a2 = _mm512_fmadd_ps(w2, _mm512_loadu_ps(x + kk + 32), a2);
            a3 = _mm512_fmadd_ps(w3, _mm512_loadu_ps(x + kk + 48), a3);
        }
        for (; kk < k; kk += 16) {
            __mmask16 m = k - kk >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - kk)) - 1);
            a0 = _mm512_fmadd_ps(load_w16(row + kk * esize, fmt, m), _mm512_maskz_loadu_ps(m, x + kk), a0);
        }
        y[r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    }
}

#define FMT_f32 TB_FMT_F32
#define FMT_f16 TB_FMT_F16
#define FMT_bf16 TB_FMT_BF16
#define FT_f32(r, t, R, T) float_tile(w, a, y, ldy, r, t, R, T, TB_FMT_F32)
#define FT_f16(r, t, R, T) float_tile(w, a, y, ldy, r, t, R, T, TB_FMT_F16)
#define FT_bf16(r, t, R, T) float_tile(w, a, y, ldy, r, t, R, T, TB_FMT_BF16)
FLOAT_GEMM(f32)
FLOAT_GEMM(f16)
FLOAT_GEMM(bf16)

/* ---- q8_0 / q4_0 against q8_0 activations ---- */

/* Two blocks (64 values) per step. VPDPBUSD needs an unsigned operand, so
 * weights are biased into u8 and the bias removed with a second VPDPBUSD of
 * the bias against the activations: q4_0's nibbles n (w = n - 8) are already
 * unsigned, q8_0's w + 128 is. Both products are exact in int32; the block
 * scales d_w * d_x then apply per 8-lane group in float. */
INLINE __m512i q_weights2(const uint8_t *row, int b, const int fmt)
{
    if (fmt == TB_FMT_Q8_0) {
        const tb_block_q8_0 *blk = (const tb_block_q8_0 *)row + b;
        __m256i w0 = _mm256_loadu_si256((const __m256i *)blk[0].qs);
        __m256i w1 = _mm256_loadu_si256((const __m256i *)blk[1].qs);
        __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(w0), w1, 1);
        return _mm512_xor_si512(w, _mm512_set1_epi8((char)0x80)); /* w + 128 */
    }
    const tb_block_q4_0 *blk = (const tb_block_q4_0 *)row + b;
    __m256i t = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)blk[0].qs)),
        _mm_loadu_si128((const __m128i *)blk[1].qs), 1);
    const __m256i m = _mm256_set1_epi8(0xf);
    __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(t, m)),
                                   _mm256_and_si256(_mm256_srli_epi16(t, 4), m), 1);
    /* [lo0 lo1 hi0 hi1] -> [lo0 hi0 lo1 hi1]: block b's 32 values, then b+1's */
    return _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0));
}

/* The two blocks' weight scales, each repeated over its 8 lanes: converted
 * as two values, then spread (cheaper than broadcasting the halves and
 * converting 16 lanes). */
INLINE __m512 q_wscale2(const uint8_t *row, int b, const int fmt)
{
    tb_f16 d0, d1;
    size_t bytes = fmt == TB_FMT_Q8_0 ? sizeof(tb_block_q8_0) : sizeof(tb_block_q4_0);
    memcpy(&d0, row + (size_t)b * bytes, 2);
    memcpy(&d1, row + (size_t)(b + 1) * bytes, 2);
    __m128 d = _mm_cvtph_ps(_mm_insert_epi16(_mm_cvtsi32_si128(d0), d1, 1));
    return _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
                                 _mm512_castps128_ps512(d));
}

/* One block the plain way, for an odd block count. */
INLINE float q_last_block(const uint8_t *row, const tb_block_q8_0 *xb, int b, const int fmt)
{
    int32_t isum = 0;
    float dw;
    if (fmt == TB_FMT_Q8_0) {
        const tb_block_q8_0 *wb = (const tb_block_q8_0 *)row + b;
        for (int e = 0; e < 32; e++)
            isum += wb->qs[e] * xb->qs[e];
        dw = f16(wb->d);
    } else {
        const tb_block_q4_0 *wb = (const tb_block_q4_0 *)row + b;
        for (int e = 0; e < 16; e++)
            isum += ((wb->qs[e] & 0xf) - 8) * xb->qs[e] + ((wb->qs[e] >> 4) - 8) * xb->qs[e + 16];
        dw = f16(wb->d);
    }
    return (float)isum * (dw * f16(xb->d));
}

INLINE void q_tile(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r, int t,
                   const int R, const int T, const int fmt)
{
    const int nb = w->k / 32;
    const __m512i bias = _mm512_set1_epi8(fmt == TB_FMT_Q8_0 ? (char)0x80 : 8);
    __m512 acc[4][4];
    const uint8_t *rows[4];
    for (int i = 0; i < R; i++) {
        rows[i] = w->data + (size_t)(r + i) * w->row_bytes;
        for (int j = 0; j < T; j++)
            acc[i][j] = _mm512_setzero_ps();
    }
    int b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m512i wv[4];
        __m512 ws[4];
        for (int i = 0; i < R; i++) {
            wv[i] = q_weights2(rows[i], b, fmt);
            ws[i] = q_wscale2(rows[i], b, fmt);
        }
        for (int j = 0; j < T; j++) {
            const tb_block_q8_0 *xb = a->q8 + (size_t)(t + j) * nb + b;
            __m512i xv = _mm512_inserti64x4(
                _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)xb[0].qs)),
                _mm256_loadu_si256((const __m256i *)xb[1].qs), 1);
            /* minus the bias's products: each row's sum starts from it */
            __m512i start = _mm512_sub_epi32(_mm512_setzero_si512(),
                                             _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, xv));
            __m512 xs = _mm512_loadu_ps(a->q8_d + ((size_t)(t + j) * nb + b) * 8);
            for (int i = 0; i < R; i++) {
                __m512i s = _mm512_dpbusd_epi32(start, wv[i], xv);
                acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(ws[i], xs),
                                            acc[i][j]);
            }
        }
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) {
            float s = _mm512_reduce_add_ps(acc[i][j]);
            if (b < nb)
                s += q_last_block(rows[i], a->q8 + (size_t)(t + j) * nb + b, b, fmt);
            y[(size_t)(t + j) * ldy + r + i] = s;
        }
}

/* ---- GEMV of the quantized formats: one row at a time, independent accumulators ----
 *
 * Decoding streams each weight once, so what matters is keeping enough loads
 * in flight. Findings on Zen 4 (ternbench kernels):
 *  - short rows (i2_s/tq2_0/q4_0/q8_0: 0.7-4 KB at k = 2560-6912) are best
 *    read one after another: reading 2-4 of them at once, each from its own
 *    place, confused the hardware prefetcher (i2_s 7.6 vs 15.6 GB/s on one
 *    thread). Interleaving the rows in memory instead (i2s_gemv4) computes
 *    four rows from one forward stream, and is the fastest of all;
 *  - one row then needs several independent accumulators, or the VPDPBUSD
 *    latency chain caps the rate below the memory's;
 *  - long rows (f16/f32: 5-28 KB) stream well several at a time, which the
 *    float tiles do (see GEMV_ROW_BYTES_1).
 */
/* Sums code * q over a row of two-bit codes in 128-value groups of 32 bytes,
 * where value 32*f + p of a group sits in byte p at bit shift sh_f (f = 0..3).
 * Groups come in pairs, pair_stride bytes apart (i2_s: 64; tq2_0: one 66-byte
 * block). Masking a field in place instead of shifting it down leaves
 * code << sh_f in the byte, so each field keeps its own accumulators, divided
 * by 2^sh_f (exactly: every term is a multiple) once at the end. In 256-bit
 * vectors: Zen 4 runs a 512-bit VPDPBUSD as two halves anyway, and a 32-byte
 * group then needs no lane shuffle; one load, four ANDs and four VPDPBUSD per
 * group took i2_s GEMV on one core from 21.5-24.5 to 26-28 GB/s (ternbench
 * kernels, three alternating pairs). Leaner loops (VPDPBUSD through asm, one
 * 64-byte load per pair) were faster in cache but fell to 10-12 GB/s from
 * DRAM on one thread here (README, kernels).
 * Each lane adds at most 4 * 2^7 * 2^7 = 2^16 per group: exact for k < 2^22. */
INLINE void ternary_group(const uint8_t *p, const int8_t *q, const __m256i mask[4], __m256i acc[4])
{
    __m256i b = _mm256_loadu_si256((const __m256i *)p);
    for (int f = 0; f < 4; f++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(q + 32 * f));
        acc[f] = _mm256_dpbusd_epi32(acc[f], _mm256_and_si256(b, mask[f]), x);
    }
}

INLINE int32_t ternary_row_dot(const uint8_t *p, size_t pair_stride, int ngroups,
                               const int8_t *q, const int sh0, const int sh1, const int sh2,
                               const int sh3)
{
    const int sh[4] = {sh0, sh1, sh2, sh3};
    __m256i mask[4], acc[2][4];
    for (int f = 0; f < 4; f++) {
        mask[f] = _mm256_set1_epi8((char)(3 << sh[f]));
        acc[0][f] = acc[1][f] = _mm256_setzero_si256();
    }
    /* two chains per field (VPDPBUSD's latency), indexed by constants:
     * an index computed from g made GCC keep acc on the stack */
    int g = 0;
    for (; g + 2 <= ngroups; g += 2)
        for (int h = 0; h < 2; h++)
            ternary_group(p + (size_t)(g / 2) * pair_stride + 32 * h, q + (size_t)(g + h) * 128,
                          mask, acc[h]);
    if (g < ngroups)
        ternary_group(p + (size_t)(g / 2) * pair_stride, q + (size_t)g * 128, mask, acc[0]);
    __m256i s = _mm256_setzero_si256();
    for (int f = 0; f < 4; f++)
        s = _mm256_add_epi32(s, _mm256_srai_epi32(_mm256_add_epi32(acc[0][f], acc[1][f]), sh[f]));
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
    return _mm_cvtsi128_si32(t);
}

/* The plain layout's GEMV (tq2_0's shares its row loop; i2_s takes it where
 * rows cannot be interleaved). Fragile on the development VM (Zen 4, no PMU
 * to say why): adding a second, untaken path to this function left the row
 * loop's instructions unchanged yet took one thread from 27-28 to 10-13 GB/s
 * at k >= 4096 (ternbench kernels); so did every leaner loop tried (README).
 * The file is now built with 64-byte aligned functions (CMakeLists.txt), so
 * code added elsewhere no longer moves this loop within its fetch windows.
 * After touching it, re-measure `ternbench kernels --format i2_s,tq2_0 --op
 * gemv -t 1 --shape 1538x4096,2562x6912` (row counts that keep i2_s plain)
 * against the previous binary. */
static void i2s_gemv(const tb_matrix *w, const tb_act *a, float *y, int r0, int r1)
{
    /* loaded once: re-reading them per row (y might alias them, for all the
     * compiler knows) took GEMV from 34 to 26 GB/s (ternbench kernels) */
    const float s = a->i8_scale[0], scale = w->scale;
    const int32_t qsum = a->i8_sum[0];
    const int8_t *q = a->i8;
    const int nchunks = w->k / 128;
    for (int r = r0; r < r1; r++) {
        int32_t dot = ternary_row_dot(tb_i2s_row(w, r), 64, nchunks, q, 6, 4, 2, 0);
        y[r] = tb_ternary_out1(dot - qsum, s, scale);
    }
}

static void tq2_gemv(const tb_matrix *w, const tb_act *a, float *y, int r0, int r1)
{
    /* read everything the row loop needs once: y may alias nothing here, but
     * the compiler cannot know, and reloading per row cost 25% (measured) */
    const int nb = w->k / TB_QK_K;
    const int8_t *const qa = a->i8;
    const int32_t *const bsum = a->i8_bsum;
    const int32_t qsum = a->i8_sum[0];
    const float sa = a->i8_scale[0];
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = w->data + (size_t)r * w->row_bytes;
        tb_tsum out = tb_tsum_new();
        if (tq_uniform_scale(row, nb, sizeof(tb_block_tq2_0), offsetof(tb_block_tq2_0, d))) {
            /* one scale: the integer sum over the row is exact */
            int32_t dot = ternary_row_dot(row, sizeof(tb_block_tq2_0), 2 * nb, qa, 0, 2, 4, 6);
            tb_f16 dh;
            memcpy(&dh, row + offsetof(tb_block_tq2_0, d), sizeof dh);
            tb_tsum_add(&out, f16(dh), dot - qsum);
        } else {
            for (int b = 0; b < nb; b++) {
                const uint8_t *p = row + (size_t)b * sizeof(tb_block_tq2_0);
                __m512i lo0, hi0, lo1, hi1;
                unpack128(p, TQ2_SHIFT_LO, TQ2_SHIFT_HI, &lo0, &hi0);
                unpack128(p + 32, TQ2_SHIFT_LO, TQ2_SHIFT_HI, &lo1, &hi1);
                const int8_t *q = qa + b * TB_QK_K;
                __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo0, _mm512_loadu_si512(q));
                s = _mm512_dpbusd_epi32(s, hi0, _mm512_loadu_si512(q + 64));
                s = _mm512_dpbusd_epi32(s, lo1, _mm512_loadu_si512(q + 128));
                s = _mm512_dpbusd_epi32(s, hi1, _mm512_loadu_si512(q + 192));
                tb_f16 dh;
                memcpy(&dh, p + offsetof(tb_block_tq2_0, d), sizeof dh);
                tb_tsum_add(&out, f16(dh),
                            _mm512_reduce_add_epi32(s) - bsum[2 * b] - bsum[2 * b + 1]);
            }
        }
        y[r] = tb_tsum_out(&out, sa);
    }
}

INLINE void q_gemv(const tb_matrix *w, const tb_act *a, float *y, int r0, int r1, const int fmt)
{
    const int nb = w->k / 32;
    const tb_block_q8_0 *const xq = a->q8;
    const float *const xd = a->q8_d;
    const __m512i bias = _mm512_set1_epi8(fmt == TB_FMT_Q8_0 ? (char)0x80 : 8);
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = w->data + (size_t)r * w->row_bytes;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0;
        int b = 0;
        for (; b + 2 <= nb; b += 2) {
            const tb_block_q8_0 *xb = xq + b;
            __m512i xv = _mm512_inserti64x4(
                _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)xb[0].qs)),
                _mm256_loadu_si256((const __m256i *)xb[1].qs), 1);
            __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q_weights2(row, b, fmt), xv);
            s = _mm512_sub_epi32(s, _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, xv));
            __m512 sc = _mm512_mul_ps(q_wscale2(row, b, fmt), _mm512_loadu_ps(xd + (size_t)b * 8));
            if (b & 2)
                a1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), sc, a1);
            else
                a0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), sc, a0);
        }
        float sum = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
        if (b < nb)
            sum += q_last_block(row, xq + b, b, fmt);
        y[r] = sum;
    }
}

/* q4_0 GEMV. Unpacking the nibbles is what bounds it (not memory), so the
 * work that depends only on the activations is done once per call instead of
 * once per row: per block pair, the activations in the order the unpacked
 * nibbles come out ([b lo, b+1 lo, b hi, b+1 hi] in 16-value quarters, which
 * saves the weights' lane shuffle) and minus 8 times their sums (the
 * nibbles' offset, exact in int32, as the accumulator's starting value); the
 * scales stay two floats per pair, spread over the lanes per row.
 * The table must stay in L1 beside the streaming weights: with the offsets
 * as int32 vectors it is 128 bytes per pair, and from k = 4096 on they are
 * kept as int16 (96 bytes per pair) at the price of one widening per pair.
 * Measured against the plain q_gemv (ternbench kernels, 2 threads,
 * alternating binaries): 2560x2560 0.13-0.15 -> 0.12 ms, 6912x2560
 * 0.36-0.41 -> 0.31, 128256x2560 6.7 -> 5.8; 2560x6912 0.38-0.41 -> 0.31-0.37
 * with int16 offsets (int32 there: unchanged; scale vectors in the table
 * instead of two floats: 30% slower). Rows longer than Q4_PAIRS pairs take
 * q_gemv. */
#define Q4_PAIRS 512
#define Q4_COMPACT_PAIRS 64

/* Lanes of a block pair's scales: element e (block b) for lanes 0-3 and 8-11,
 * e + 1 (block b + 1) for lanes 4-7 and 12-15, the order the unpacked nibbles
 * come out in. */
#define Q4_LANES(e)                                                                          \
    _mm512_set_epi32((e) + 1, (e) + 1, (e) + 1, (e) + 1, (e), (e), (e), (e), (e) + 1, (e) + 1, \
                     (e) + 1, (e) + 1, (e), (e), (e), (e))

/* A pair of blocks' integer dot products (16 lanes) against their table entry. */
INLINE __m512i q4_pair_dot(const tb_block_q4_0 *b, const uint8_t *e, __m256i m4, const bool compact)
{
    __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)b[0].qs)),
                                        _mm_loadu_si128((const __m128i *)b[1].qs), 1);
    __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(t, m4)),
                                   _mm256_and_si256(_mm256_srli_epi16(t, 4), m4), 1);
    __m512i start = compact ? _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(e + 64)))
                            : _mm512_loadu_si512(e + 64);
    return _mm512_dpbusd_epi32(start, z, _mm512_loadu_si512(e));
}

INLINE void q4_gemv_table(const tb_matrix *w, const tb_act *a, float *y, int r0, int r1,
                          const bool compact)
{
    /* per pair: 64 activation bytes, then the offsets (64 bytes as int32 or
     * 32 as int16), side by side so that they share cache lines and sets */
    static _Thread_local uint8_t table[Q4_PAIRS * 128] __attribute__((aligned(64)));
    static _Thread_local float dx[2 * Q4_PAIRS]; /* the blocks' activation scales */
    const size_t stride = compact ? 96 : 128;
    const int nb = w->k / 32, np = nb / 2;
    const __m512i eight = _mm512_set1_epi8(8);
    for (int p = 0; p < np; p++) {
        const tb_block_q8_0 *xb = a->q8 + 2 * p;
        __m512i xv = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)xb[0].qs)),
            _mm256_loadu_si256((const __m256i *)xb[1].qs), 1);
        __m512i x = _mm512_shuffle_i64x2(xv, xv, _MM_SHUFFLE(3, 1, 2, 0));
        __m512i neg = _mm512_sub_epi32(_mm512_setzero_si512(),
                                       _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, x));
        uint8_t *e = table + p * stride;
        _mm512_storeu_si512(e, x);
        if (compact) /* |8 * 4 * 128| fits int16 */
            _mm256_storeu_si256((__m256i *)(e + 64), _mm512_cvtepi32_epi16(neg));
        else
            _mm512_storeu_si512(e + 64, neg);
        dx[2 * p] = a->q8_d[(size_t)p * 16];
        dx[2 * p + 1] = a->q8_d[(size_t)p * 16 + 8];
    }
    const __m256i m4 = _mm256_set1_epi8(0xf);
    for (int r = r0; r < r1; r++) {
        const tb_block_q4_0 *blk = (const tb_block_q4_0 *)(w->data + (size_t)r * w->row_bytes);
        __m512 a0 = _mm512_setzero_ps(), a1 = a0;
        int p = 0;
        /* two pairs per step: their four block scales converted and
         * multiplied as one vector of four floats, then spread over the
         * lanes (d0 x4, d1 x4, twice per pair) */
        for (; p + 2 <= np; p += 2) {
            const tb_block_q4_0 *b = blk + 2 * p;
            __m512i s0 = q4_pair_dot(b, table + p * stride, m4, compact);
            __m512i s1 = q4_pair_dot(b + 2, table + (p + 1) * stride, m4, compact);
            __m128i d = _mm_insert_epi16(_mm_cvtsi32_si128(b[0].d), b[1].d, 1);
            d = _mm_insert_epi16(_mm_insert_epi16(d, b[2].d, 2), b[3].d, 3);
            __m128 d4 = _mm_mul_ps(_mm_cvtph_ps(d), _mm_loadu_ps(dx + 2 * p));
            __m512 d4z = _mm512_castps128_ps512(d4);
            a0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_permutexvar_ps(Q4_LANES(0), d4z), a0);
            a1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1), _mm512_permutexvar_ps(Q4_LANES(2), d4z), a1);
        }
        if (p < np) {
            const tb_block_q4_0 *b = blk + 2 * p;
            __m512i s0 = q4_pair_dot(b, table + p * stride, m4, compact);
            __m128i d = _mm_insert_epi16(_mm_cvtsi32_si128(b[0].d), b[1].d, 1);
            __m128 d2 = _mm_mul_ps(_mm_cvtph_ps(d), _mm_castpd_ps(_mm_load_sd((const double *)(dx + 2 * p))));
            a0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0),
                                 _mm512_permutexvar_ps(Q4_LANES(0), _mm512_castps128_ps512(d2)), a0);
        }
        float sum = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
        if (2 * np < nb)
            sum += q_last_block((const uint8_t *)blk, a->q8 + 2 * np, 2 * np, TB_FMT_Q4_0);
        y[r] = sum;
    }
}

static void q4_gemv(const tb_matrix *w, const tb_act *a, float *y, int r0, int r1)
{
    if (w->k / 64 >= Q4_COMPACT_PAIRS)
        q4_gemv_table(w, a, y, r0, r1, true);
    else
        q4_gemv_table(w, a, y, r0, r1, false);
}

/* ---- q8_0 / q4_0 GEMM with one row per lane ----
 *
 * q_tile keeps each row's partial sums in lanes and so converts, scales and
 * accumulates 16 floats per row, token and block pair: most of its
 * instructions (llama.cpp's repacked q4_0 kernels avoid that, and ran prompts
 * 1.25x faster). Here 16 rows are first laid out side by side, four values
 * of a row per 32-bit lane (a 16 x 8 transpose of 4-byte pieces per block,
 * offset to unsigned bytes), with their 16 scales as floats; then for each
 * token and block, eight VPDPBUSD against the token's values broadcast four
 * at a time leave each row's exact integer sum in its own lane, started from
 * minus the offset times the block's activation sum, and one multiply-add
 * applies both scales to all 16 rows. The layout is rebuilt per 16 rows and
 * used by every token of the call. */
#define QL_ROWS 16
#define QL_BLOCK_BYTES (8 * 64 + 16 * 4) /* 8 vectors of values, then 16 scales */
#define QL_STRETCH 256                    /* blocks packed at a time: 148 KB per thread */

/* Rows r .. r + 15's block b into dst (QL_BLOCK_BYTES). */
INLINE void ql_pack_block(const tb_matrix *w, int r, int b, uint8_t *dst, const int fmt)
{
    for (int i = 0; i < QL_ROWS; i++) {
        const uint8_t *row = w->data + (size_t)(r + i) * w->row_bytes;
        __m256i v;
        tb_f16 d;
        if (fmt == TB_FMT_Q8_0) {
            const tb_block_q8_0 *blk = (const tb_block_q8_0 *)row + b;
            v = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)blk->qs), _mm256_set1_epi8((char)0x80));
            d = blk->d;
        } else {
            const tb_block_q4_0 *blk = (const tb_block_q4_0 *)row + b;
            __m128i q = _mm_loadu_si128((const __m128i *)blk->qs);
            const __m128i m = _mm_set1_epi8(0xf);
            v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(q, m)),
                                        _mm_and_si128(_mm_srli_epi16(q, 4), m), 1);
            d = blk->d;
        }
        /* value group c (values 4c .. 4c + 3) of row i goes to vector c, lane i */
        int32_t g[8];
        _mm256_storeu_si256((__m256i *)g, v);
        for (int c = 0; c < 8; c++)
            memcpy(dst + 64 * c + 4 * i, &g[c], 4);
        float df = f16(d);
        memcpy(dst + 8 * 64 + 4 * i, &df, 4);
    }
}

/* Blocks [b0, b1) of tokens t .. t + T - 1 against the 16 packed rows at r:
 * stored into y, or added to it when `add` (a later stretch of a long k). */
INLINE void ql_tokens(const uint8_t *pack, const tb_act *a, float *y, int ldy, int r, int t, int nb,
                      int b0, int b1, bool add, const int T, const int fmt)
{
    const int32_t offset = fmt == TB_FMT_Q8_0 ? 128 : 8;
    __m512 acc[8];
    for (int j = 0; j < T; j++)
        acc[j] = add ? _mm512_loadu_ps(y + (size_t)(t + j) * ldy + r) : _mm512_setzero_ps();
    for (int b = b0; b < b1; b++) {
        const uint8_t *p = pack + (size_t)(b - b0) * QL_BLOCK_BYTES;
        __m512i wv[8];
        for (int c = 0; c < 8; c++)
            wv[c] = _mm512_loadu_si512(p + 64 * c);
        __m512 dw = _mm512_loadu_ps((const float *)(p + 8 * 64));
        for (int j = 0; j < T; j++) {
            size_t xi = (size_t)(t + j) * nb + b;
            const int8_t *xq = a->q8[xi].qs;
            __m512i s = _mm512_set1_epi32(-offset * a->q8_sum[xi]);
            for (int c = 0; c < 8; c++) {
                int32_t x4;
                memcpy(&x4, xq + 4 * c, 4);
                s = _mm512_dpbusd_epi32(s, wv[c], _mm512_set1_epi32(x4));
            }
            acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_set1_ps(a->q8_d[xi * 8])),
                                     acc[j]);
        }
    }
    for (int j = 0; j < T; j++)
        _mm512_storeu_ps(y + (size_t)(t + j) * ldy + r, acc[j]);
}

/* Rows r0 .. r0 + 16m - 1 for every token (the most whole groups of 16 in
 * [r0, r1)); returns how many rows that was. The caller finishes the rest
 * with q_tile. k is taken in stretches of QL_STRETCH blocks, so the packed
 * rows (148 KB) stay in L2 while every token passes over them. */
INLINE int q_gemm_lanes(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1,
                        const int fmt)
{
    static _Thread_local uint8_t pack[QL_STRETCH * QL_BLOCK_BYTES] __attribute__((aligned(64)));
    const int nb = w->k / 32;
    int r = r0;
#define PACK(r, b, i) ql_pack_block(w, r, b, pack + (size_t)(i) * QL_BLOCK_BYTES, fmt)
#define TOKENS(r, t, b0, b1, T) ql_tokens(pack, a, y, ldy, r, t, nb, b0, b1, b0 > 0, T, fmt)
    ROW_LANES(r, QL_ROWS, QL_STRETCH, nb, 8, PACK, TOKENS);
#undef PACK
#undef TOKENS
    return r - r0;
}

#define QT_q8_0(r, t, R, T) q_tile(w, a, y, ldy, r, t, R, T, TB_FMT_Q8_0)
#define QT_q4_0(r, t, R, T) q_tile(w, a, y, ldy, r, t, R, T, TB_FMT_Q4_0)

void tb_gemm_q8_0_avx512(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    if (a->n == 1) {
        q_gemv(w, a, y, r0, r1, TB_FMT_Q8_0);
    } else {
        r0 += q_gemm_lanes(w, a, y, ldy, r0, r1, TB_FMT_Q8_0);
        TILED(4, 4, QT_q8_0);
    }
}

void tb_gemm_q4_0_avx512(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    if (a->n == 1 && w->k / 64 <= Q4_PAIRS)
        q4_gemv(w, a, y, r0, r1);
    else if (a->n == 1)
        q_gemv(w, a, y, r0, r1, TB_FMT_Q4_0);
    else {
        r0 += q_gemm_lanes(w, a, y, ldy, r0, r1, TB_FMT_Q4_0);
        TILED(4, 4, QT_q4_0);
    }
}

/* ---- q6_k: 6-bit codes against q8_K activations ----
 *
 * 64 codes at a time in value order (a quarter of the block's low nibbles and
 * two bits of qh each), VPDPBUSD against the activations; lane j holds values
 * 4j..4j+3, so lanes 4s..4s+3 are sub-block s and take its int8 scale. The
 * block's integer sum is exact; the offset of 32 comes off with the q8_K
 * block's sums per 16. */
INLINE __m512i q6k_codes64(const uint8_t *ql, const uint8_t *qh, int part)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3);
    __m256i a = _mm256_loadu_si256((const __m256i *)ql);
    __m256i b = _mm256_loadu_si256((const __m256i *)(ql + 32));
    __m256i h = _mm256_loadu_si256((const __m256i *)qh);
    if (part) {
        a = _mm256_srli_epi16(a, 4);
        b = _mm256_srli_epi16(b, 4);
        h = _mm256_srli_epi16(h, 4);
    }
    __m256i lo = _mm256_or_si256(_mm256_and_si256(a, m4),
                                 _mm256_slli_epi16(_mm256_and_si256(h, m3), 4));
    __m256i hi = _mm256_or_si256(_mm256_and_si256(b, m4),
                                 _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m3), 4));
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* One row against T <= Q6K_T tokens (q8_K rows x, nb blocks apart): each
 * block's codes and scales unpacked once for all of them. */
enum { Q6K_T = 4 };
INLINE void q6k_tokens(const tb_block_q6_K *wb, const tb_block_q8_K *x, int nb, int T, float *y,
                       int ldy)
{
    const __m512i rep4 = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    __m512 acc[Q6K_T];
    for (int t = 0; t < T; t++)
        acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m512i isum[Q6K_T];
        /* the codes' offset of 32: 32 * sum_s scale_s * bsum_s, taken off first */
        __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)wb[b].scales));
        for (int t = 0; t < T; t++) {
            __m512i bs = _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)x[(size_t)t * nb + b].bsums));
            isum[t] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(_mm512_mullo_epi32(bs, sc), 5));
        }
        for (int c = 0; c < 4; c++) { /* 64 values: half c / 2, part c % 2 */
            __m512i codes = q6k_codes64(wb[b].ql + 64 * (c / 2), wb[b].qh + 32 * (c / 2), c % 2);
            int32_t sc4;
            memcpy(&sc4, wb[b].scales + 4 * c, 4);
            __m512i scl = _mm512_permutexvar_epi32(rep4, _mm512_cvtepi8_epi32(_mm_cvtsi32_si128(sc4)));
            for (int t = 0; t < T; t++) {
                __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), codes,
                                                _mm512_loadu_si512(x[(size_t)t * nb + b].qs + 64 * c));
                isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s, scl));
            }
        }
        for (int t = 0; t < T; t++)
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]),
                                     _mm512_set1_ps(f16(wb[b].d) * x[(size_t)t * nb + b].d), acc[t]);
    }
    for (int t = 0; t < T; t++)
        y[(size_t)t * ldy] = _mm512_reduce_add_ps(acc[t]);
}

void tb_gemm_q6_k_avx512(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    TB_Q8K_GEMM(tb_block_q6_K, q6k_tokens, Q6K_T)
}

/* GEMV over rows interleaved in fours (tb_i2s_interleave): each tile of four
 * rows is one forward stream, and each 32-byte activation vector, loaded
 * once, serves all four rows. Per row and field, one accumulator (a 64-byte
 * pair's two groups add into it in turn; four rows give the VPDPBUSD
 * latency chains enough independent work), shifted down once at the end;
 * the four row sums leave through one horizontal-add tree. One thread,
 * `ternbench kernels --format i2_s --op gemv -t 1 --shape 4096x1536,
 * 1536x4096,2560x6912`, against the plain layout's i2s_gemv, alternating:
 * 21-23 -> 26-29 GB/s at k = 1536 and 4096, 27 -> 28-29 at 6912.
 * Exact integer sums; the same float steps as tb_ternary_out1. */
static void i2s_gemv4(const tb_matrix *w, const tb_act *a, float *y, int r0, int r1)
{
    const __m256i mask[4] = {_mm256_set1_epi8((char)0xc0), _mm256_set1_epi8(0x30),
                             _mm256_set1_epi8(0x0c), _mm256_set1_epi8(0x03)};
    const __m128 s = _mm_set1_ps(a->i8_scale[0]), scale = _mm_set1_ps(w->scale);
    const __m128i qsum = _mm_set1_epi32(a->i8_sum[0]);
    const int8_t *const q = a->i8;
    const int npairs = w->k / 256;
    for (int r = r0; r < r1; r += TB_I2S_INTERLEAVE) {
        const uint8_t *p = tb_i2s_row(w, r);
        __m256i acc[4][4];
        for (int i = 0; i < 4; i++)
            for (int f = 0; f < 4; f++)
                acc[i][f] = _mm256_setzero_si256();
        for (int c = 0; c < npairs; c++, p += 256) {
            __m256i x[8]; /* the pair's two groups, four fields each */
            for (int v = 0; v < 8; v++)
                x[v] = _mm256_loadu_si256((const __m256i *)(q + (size_t)c * 256 + 32 * v));
            for (int i = 0; i < 4; i++)
                for (int h = 0; h < 2; h++) {
                    __m256i b = _mm256_loadu_si256((const __m256i *)(p + 64 * i + 32 * h));
                    for (int f = 0; f < 4; f++)
                        acc[i][f] = _mm256_dpbusd_epi32(acc[i][f], _mm256_and_si256(b, mask[f]),
                                                        x[4 * h + f]);
                }
        }
        __m256i t[4];
        for (int i = 0; i < 4; i++) /* fields 0-3 sit at shifts 6, 4, 2, 0 */
            t[i] = _mm256_add_epi32(
                _mm256_add_epi32(_mm256_srai_epi32(acc[i][0], 6), _mm256_srai_epi32(acc[i][1], 4)),
                _mm256_add_epi32(_mm256_srai_epi32(acc[i][2], 2), acc[i][3]));
        tb_ternary_out4(y + r, t[0], t[1], t[2], t[3], qsum, s, scale);
    }
}
