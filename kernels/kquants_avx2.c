/*
 * kquants_avx2.c - AVX2 kernels for llama.cpp's Q2_K, Q3_K, Q4_K, Q5_K,
 * IQ4_NL and IQ4_XS (compiled with AVX2, FMA and F16C; AVX-512 machines run
 * them too).
 *
 * Per 256-value block, eight steps of 32 values in value order (the codes
 * unpacked once for up to two tokens: see the kernels below): the codes as
 * unsigned bytes, PMADDUBSW against the int8 activations (pairs into int16:
 * at most 31 x 127 x 2 = 7874, or 127 x 127 x 2 for the IQ4 levels with the
 * signs moved onto the activations, whose q8 codes lie in -127..127), then
 * PMADDWD with the sub-block scales (int16) into eight int32 lanes. The
 * block's integer sums are exactly the scalar reference's; their float
 * scaling runs in lanes, so outputs differ from scalar only in rounding.
 */
#include <immintrin.h>

#include "kernels_impl.h"
#include "tiles.h"

INLINE __m256i load(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

/* One scale for all 32 values, or one per 16 (low and high 128 bits). */
INLINE __m256i scale32(int s)
{
    return _mm256_set1_epi16((short)s);
}
INLINE __m256i scale16(int lo, int hi)
{
    return _mm256_setr_m128i(_mm_set1_epi16((short)lo), _mm_set1_epi16((short)hi));
}

/* codes (unsigned) . x, scaled per sub-block, added to eight int32 lanes */
INLINE __m256i dot_scaled(__m256i acc, __m256i codes, const int8_t *x, __m256i scales)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(codes, load(x)), scales));
}

/* the 16 activation sums of a q8_K block against 16 int16 factors */
INLINE __m256i bsum_dot(const tb_block_q8_K *x, __m256i f16s)
{
    return _mm256_madd_epi16(load(x->bsums), f16s);
}

/* The 6-bit scales and mins of a Q4_K/Q5_K block as 8 int16 each. */
INLINE void k4_scales(const uint8_t *q, int16_t sc[8], int16_t m[8])
{
    for (int j = 0; j < 8; j++) {
        int s, mm;
        tb_k4_scale_min(q, j, &s, &mm);
        sc[j] = (int16_t)s;
        m[j] = (int16_t)mm;
    }
}

/* ---- the blocks ----
 *
 * Each takes one block of a row and the same block of T <= MAX_T tokens
 * (x[t]), unpacks the codes and scales once, and adds d_x (d_w isum - dmin_w
 * msum) to each token's acc[t] in lanes. */
enum { MAX_T = 2 }; /* 4 ran prompts faster but spilled: q5_k decode lost ~15 % */

#define FOR_T for (int t = 0; t < T; t++)

/* acc[t] += d_w d_x isum[t], then - dmin_w d_x (bsums . mins) for the
 * formats with minimums (mins NULL: none) */
INLINE void k_finish(__m256 *acc, const __m256i *isum, const tb_block_q8_K *const *x, int T, float d,
                     float dmin, const __m256i *mins)
{
    FOR_T {
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * x[t]->d), acc[t]);
        if (mins)
            acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(bsum_dot(x[t], *mins)),
                                      _mm256_set1_ps(dmin * x[t]->d), acc[t]);
    }
}

/* Q4_K and Q5_K (qh: Q5_K's fifth bits, or NULL): sub-blocks 2j and 2j + 1
 * are the low and high nibbles of 32 bytes, and bits 2j and 2j + 1 of qh. */
INLINE void k45_block(const uint8_t *qs, const uint8_t *qh, const uint8_t *scales, tb_f16 d,
                      tb_f16 dmin, const tb_block_q8_K *const *x, __m256 *acc, int T)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    int16_t sc[8], m[8];
    k4_scales(scales, sc, m);
    __m256i isum[MAX_T], h = qh ? load(qh) : _mm256_setzero_si256();
    FOR_T isum[t] = _mm256_setzero_si256();
    for (int j = 0; j < 4; j++) { /* 64 values: low nibbles, then high */
        __m256i q = load(qs + 32 * j);
        __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if (qh) {
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(h, one), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 1), one), 4));
            h = _mm256_srli_epi16(h, 2);
        }
        __m256i s0 = scale32(sc[2 * j]), s1 = scale32(sc[2 * j + 1]);
        FOR_T {
            isum[t] = dot_scaled(isum[t], lo, x[t]->qs + 64 * j, s0);
            isum[t] = dot_scaled(isum[t], hi, x[t]->qs + 64 * j + 32, s1);
        }
    }
    __m256i mins = _mm256_setr_epi16(m[0], m[0], m[1], m[1], m[2], m[2], m[3], m[3], m[4], m[4],
                                     m[5], m[5], m[6], m[6], m[7], m[7]);
    k_finish(acc, isum, x, T, f16(d), f16(dmin), &mins);
}

INLINE void q4_k_block(const tb_block_q4_K *b, const tb_block_q8_K *const *x, __m256 *acc, int T)
{
    k45_block(b->qs, NULL, b->scales, b->d, b->dmin, x, acc, T);
}

INLINE void q5_k_block(const tb_block_q5_K *b, const tb_block_q8_K *const *x, __m256 *acc, int T)
{
    k45_block(b->qs, b->qh, b->scales, b->d, b->dmin, x, acc, T);
}

INLINE void q2_k_block(const tb_block_q2_K *b, const tb_block_q8_K *const *x, __m256 *acc, int T)
{
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256i isum[MAX_T];
    FOR_T isum[t] = _mm256_setzero_si256();
    for (int n = 0; n < 2; n++) {
        __m256i q = load(b->qs + 32 * n);
        for (int j = 0; j < 4; j++, q = _mm256_srli_epi16(q, 2)) { /* sub-blocks 8n + 2j, +1 */
            int s = 8 * n + 2 * j;
            __m256i codes = _mm256_and_si256(q, m3);
            __m256i scales = scale16(b->scales[s] & 0xf, b->scales[s + 1] & 0xf);
            FOR_T isum[t] = dot_scaled(isum[t], codes, x[t]->qs + 128 * n + 32 * j, scales);
        }
    }
    __m128i sm = _mm_loadu_si128((const __m128i *)b->scales);
    __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sm, 4), _mm_set1_epi8(0x0f)));
    k_finish(acc, isum, x, T, f16(b->d), f16(b->dmin), &mins);
}

INLINE void q3_k_block(const tb_block_q3_K *b, const tb_block_q8_K *const *x, __m256 *acc, int T)
{
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    int16_t sc[16];
    for (int s = 0; s < 16; s++)
        sc[s] = (int16_t)(tb_q3_K_scale(b->scales, s) - 32);
    __m256i isum[MAX_T], hm = load(b->hmask);
    FOR_T isum[t] = _mm256_setzero_si256();
    for (int n = 0; n < 2; n++) {
        __m256i q = load(b->qs + 32 * n);
        for (int j = 0; j < 4; j++) { /* codes u = low 2 bits | hmask bit 4n + j << 2 */
            __m256i hi = _mm256_slli_epi16(_mm256_and_si256(hm, one), 2);
            __m256i u = _mm256_or_si256(_mm256_and_si256(q, m3), hi);
            int s = 8 * n + 2 * j;
            __m256i scales = scale16(sc[s], sc[s + 1]);
            FOR_T isum[t] = dot_scaled(isum[t], u, x[t]->qs + 128 * n + 32 * j, scales);
            q = _mm256_srli_epi16(q, 2);
            hm = _mm256_srli_epi16(hm, 1);
        }
    }
    /* the codes' offset of 4: 4 sum_s scale_s bsum_s (sc read back last: by
     * then its stores have left the store buffer) */
    __m256i scales = load(sc);
    FOR_T isum[t] = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(bsum_dot(x[t], scales), 2));
    k_finish(acc, isum, x, T, f16(b->d), 0, NULL);
}

/* 32 IQ4 levels from 16 bytes of nibbles (low nibbles first), as int8. */
INLINE __m256i iq4_levels(const uint8_t *qs)
{
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)tb_iq4_values));
    __m128i q = _mm_loadu_si128((const __m128i *)qs);
    __m128i lo = _mm_and_si128(q, _mm_set1_epi8(0x0f)), hi = _mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(0x0f));
    return _mm256_shuffle_epi8(table, _mm256_setr_m128i(lo, hi));
}

/* signed levels . x: the signs move onto the activations */
INLINE __m256i iq4_dot16(__m256i w, const int8_t *x)
{
    return _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(load(x), w));
}

INLINE void iq4_xs_block(const tb_block_iq4_xs *b, const tb_block_q8_K *const *x, __m256 *acc, int T)
{
    __m256i isum[MAX_T];
    FOR_T isum[t] = _mm256_setzero_si256();
    for (int ib = 0; ib < 8; ib++) {
        __m256i w = iq4_levels(b->qs + 16 * ib), sc = scale32(tb_iq4_xs_scale(b, ib) - 32);
        FOR_T isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(iq4_dot16(w, x[t]->qs + 32 * ib), sc));
    }
    k_finish(acc, isum, x, T, f16(b->d), 0, NULL);
}

/* ---- the kernels ----
 *
 * A row's blocks against up to MAX_T tokens at once (a GEMV is T = 1); rows
 * go outside the tokens, so a row is read once per group of tokens. */
#define KQUANT_GEMM(name, type)                                                                  \
    INLINE void name##_tokens(const type *b, const tb_block_q8_K *x, int nb, int T, float *y,   \
                              int ldy)                                                           \
    {                                                                                            \
        __m256 acc[MAX_T];                                                                       \
        const tb_block_q8_K *xt[MAX_T];                                                          \
        FOR_T acc[t] = _mm256_setzero_ps();                                                      \
        for (int i = 0; i < nb; i++) {                                                           \
            FOR_T xt[t] = x + (size_t)t * nb + i;                                                \
            name##_block(&b[i], xt, acc, T);                                                     \
        }                                                                                        \
        FOR_T y[(size_t)t * ldy] = hsum_ps(acc[t]);                                              \
    }                                                                                            \
    void tb_gemm_##name##_avx2(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0,    \
                               int r1)                                                           \
    {                                                                                            \
        TB_Q8K_GEMM(type, name##_tokens, MAX_T)                                                  \
    }
KQUANT_GEMM(q2_k, tb_block_q2_K)
KQUANT_GEMM(q3_k, tb_block_q3_K)
KQUANT_GEMM(q4_k, tb_block_q4_K)
KQUANT_GEMM(q5_k, tb_block_q5_K)
KQUANT_GEMM(iq4_xs, tb_block_iq4_xs)

/* IQ4_NL against q8_0 blocks: one scale d_w d_x per 32 values. */
void tb_gemm_iq4_nl_avx2(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    const int nb = w->k / TB_QK4_NL;
    const __m256i ones = _mm256_set1_epi16(1);
    for (int t = 0; t < a->n; t++) {
        const tb_block_q8_0 *x = a->q8 + (size_t)t * nb;
        for (int r = r0; r < r1; r++) {
            const tb_block_iq4_nl *b = (const tb_block_iq4_nl *)(const void *)(w->data + (size_t)r * w->row_bytes);
            __m256 acc = _mm256_setzero_ps();
            for (int i = 0; i < nb; i++) {
                __m256i s = _mm256_madd_epi16(iq4_dot16(iq4_levels(b[i].qs), x[i].qs), ones);
                acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(f16(b[i].d) * f16(x[i].d)), acc);
            }
            y[(size_t)t * ldy + r] = hsum_ps(acc);
        }
    }
}
