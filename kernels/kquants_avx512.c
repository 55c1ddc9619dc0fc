/*
 * kquants_avx512.c - AVX-512 (VNNI) kernels for llama.cpp's Q2_K, Q3_K,
 * Q4_K, Q5_K, IQ4_NL and IQ4_XS.
 *
 * The pattern of the q6_k kernel: per 256-value block, four steps of 64
 * values in value order, each one VPDPBUSD of unsigned codes against the
 * int8 activations into 16 int32 lanes of four values (so a 32-value
 * sub-block is 8 lanes and a 16-value one 4), multiplied by the sub-block
 * scales spread over those lanes. Minimums and code offsets come off with
 * the q8_K block's sums per 16. The IQ4 levels go in offset by 128 (1..241,
 * unsigned) and 128 x the activation sums come off. Integer sums per block
 * are exact; the float scaling runs in lanes, so outputs differ from the
 * scalar reference only in rounding.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels_impl.h"
#include "tiles.h"

enum { MAX_T = 4 }; /* tokens a row's blocks are unpacked for at once */

INLINE __m256i load256(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

INLINE __m512i load512(const void *p)
{
    return _mm512_loadu_si512(p);
}

/* lanes i of v -> lane idx[i] (a step's sub-block scales spread over lanes) */
INLINE __m512i spread(__m512i v, __m512i idx)
{
    return _mm512_permutexvar_epi32(idx, v);
}

/* lane i = base + i / 8 (two 32-value sub-blocks per step) */
INLINE __m512i per8(int base)
{
    return _mm512_add_epi32(_mm512_set1_epi32(base),
                            _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0));
}

/* lane i = base + i / 2 (the two sums per 16 of each 32-value sub-block) */
INLINE __m512i per2(int base)
{
    return _mm512_add_epi32(_mm512_set1_epi32(base),
                            _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0));
}

/* lane i = base + i / 4 (four 16-value sub-blocks per step) */
INLINE __m512i per4(int base)
{
    return _mm512_add_epi32(_mm512_set1_epi32(base),
                            _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0));
}

INLINE __m512i bsums32(const tb_block_q8_K *x)
{
    return _mm512_cvtepi16_epi32(load256(x->bsums));
}

/* Four words as a vector, built in registers: storing them and loading 16
 * bytes back defeats store-to-load forwarding (a stall per block that held
 * q3_k at 13 GB/s against q2_k's 21). */
INLINE __m128i words(const uint32_t o[4])
{
    return _mm_setr_epi32((int)o[0], (int)o[1], (int)o[2], (int)o[3]);
}

/* Q4_K/Q5_K's twelve bytes of 6-bit pairs as 16 bytes: the eight scales,
 * then the eight minimums (the same unpacking as tb_k4_scale_min, four
 * at a time in 32-bit words). */
INLINE __m512i k4_unpack(const uint8_t *q)
{
    uint32_t w[3], o[4];
    memcpy(w, q, 12);
    const uint32_t low6 = 0x3f3f3f3f, low4 = 0x0f0f0f0f, top2 = 0x03030303;
    o[0] = w[0] & low6;                                            /* scales 0-3 */
    o[1] = (w[2] & low4) | ((w[0] >> 6) & top2) << 4;              /* scales 4-7 */
    o[2] = w[1] & low6;                                            /* mins 0-3 */
    o[3] = ((w[2] >> 4) & low4) | ((w[1] >> 6) & top2) << 4;       /* mins 4-7 */
    return _mm512_cvtepu8_epi32(words(o));
}

/* Q3_K's sixteen 6-bit scales minus 32, as int32 lanes. */
INLINE __m512i q3_scales(const uint8_t *s)
{
    uint32_t w[3], o[4];
    memcpy(w, s, 12);
    const uint32_t low4 = 0x0f0f0f0f, top2 = 0x03030303;
    o[0] = (w[0] & low4) | (w[2] & top2) << 4;
    o[1] = (w[1] & low4) | ((w[2] >> 2) & top2) << 4;
    o[2] = ((w[0] >> 4) & low4) | ((w[2] >> 4) & top2) << 4;
    o[3] = ((w[1] >> 4) & low4) | ((w[2] >> 6) & top2) << 4;
    return _mm512_sub_epi32(_mm512_cvtepu8_epi32(words(o)), _mm512_set1_epi32(32));
}

INLINE __m512 scaled(__m512 acc, __m512i isum, float d)
{
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d), acc);
}

/* ---- the blocks ---- */

/* Q4_K and Q5_K: 64 values per step, low nibbles then high; Q5_K's fifth
 * bits are bits 2j and 2j + 1 of qh (qh and qh >> 1 side by side, shifted
 * down by 2 per step: immediate shifts, as Zen 4's per-lane 16-bit shifts
 * cost the q2/q3 kernels a third of their speed). */
INLINE void k45_block(const uint8_t *qs, const uint8_t *qh, const uint8_t *scales, tb_f16 d,
                      tb_f16 dmin, const tb_block_q8_K *const *x, __m512 *acc, int T)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m512i one = _mm512_set1_epi8(1);
    __m512i sm = k4_unpack(scales), isum[MAX_T], h = one;
    for (int t = 0; t < T; t++)
        isum[t] = _mm512_setzero_si512();
    if (qh) {
        __m256i h0 = load256(qh);
        h = _mm512_inserti64x4(_mm512_castsi256_si512(h0), _mm256_srli_epi16(h0, 1), 1);
    }
    for (int j = 0; j < 4; j++) {
        __m256i q = load256(qs + 32 * j);
        __m512i codes = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(q, m4)),
                                           _mm256_and_si256(_mm256_srli_epi16(q, 4), m4), 1);
        if (qh) {
            codes = _mm512_or_si512(codes, _mm512_slli_epi16(_mm512_and_si512(h, one), 4));
            h = _mm512_srli_epi16(h, 2);
        }
        __m512i sc = spread(sm, per8(2 * j));
        for (int t = 0; t < T; t++) {
            __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), codes, load512(x[t]->qs + 64 * j));
            isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s, sc));
        }
    }
    /* lane i of the sums per 16 meets the minimum of sub-block i / 2 */
    __m512i mins = spread(sm, per2(8));
    for (int t = 0; t < T; t++) {
        __m512i msum = _mm512_mullo_epi32(bsums32(x[t]), mins);
        acc[t] = scaled(acc[t], isum[t], f16(d) * x[t]->d);
        acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_set1_ps(f16(dmin) * x[t]->d), acc[t]);
    }
}

INLINE void q4_k_block(const tb_block_q4_K *b, const tb_block_q8_K *const *x, __m512 *acc, int T)
{
    k45_block(b->qs, NULL, b->scales, b->d, b->dmin, x, acc, T);
}

INLINE void q5_k_block(const tb_block_q5_K *b, const tb_block_q8_K *const *x, __m512 *acc, int T)
{
    k45_block(b->qs, b->qh, b->scales, b->d, b->dmin, x, acc, T);
}

/* Q2_K and Q3_K: step c covers quarters 2(c % 2) and 2(c % 2) + 1 of half
 * c / 2, the two-bit fields of qs[32n ..] at shifts 4(c % 2) and 4(c % 2) + 2
 * (the half and the half >> 2 side by side, then >> 4 for the odd step);
 * Q3_K's third bits are bits 2c and 2c + 1 of hmask (hmask and hmask >> 1
 * side by side, shifted down by 2 per step). */
INLINE __m512i k23_low(const uint8_t *qs, int c)
{
    __m256i q = load256(qs + 32 * (c / 2));
    __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 2), 1);
    if (c % 2)
        v = _mm512_srli_epi16(v, 4);
    return _mm512_and_si512(v, _mm512_set1_epi8(3));
}

INLINE void q2_k_block(const tb_block_q2_K *b, const tb_block_q8_K *const *x, __m512 *acc, int T)
{
    __m128i raw = _mm_loadu_si128((const __m128i *)b->scales);
    __m512i sc = _mm512_cvtepu8_epi32(_mm_and_si128(raw, _mm_set1_epi8(0x0f)));
    __m512i mn = _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0f)));
    __m512i isum[MAX_T];
    for (int t = 0; t < T; t++)
        isum[t] = _mm512_setzero_si512();
    for (int c = 0; c < 4; c++) {
        __m512i codes = k23_low(b->qs, c), scc = spread(sc, per4(4 * c));
        for (int t = 0; t < T; t++) {
            __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), codes, load512(x[t]->qs + 64 * c));
            isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s, scc));
        }
    }
    for (int t = 0; t < T; t++) {
        acc[t] = scaled(acc[t], isum[t], f16(b->d) * x[t]->d);
        acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(_mm512_mullo_epi32(bsums32(x[t]), mn)),
                                  _mm512_set1_ps(f16(b->dmin) * x[t]->d), acc[t]);
    }
}

INLINE void q3_k_block(const tb_block_q3_K *b, const tb_block_q8_K *const *x, __m512 *acc, int T)
{
    const __m512i one = _mm512_set1_epi8(1);
    __m256i h0 = load256(b->hmask);
    __m512i sc = q3_scales(b->scales), isum[MAX_T];
    __m512i h = _mm512_inserti64x4(_mm512_castsi256_si512(h0), _mm256_srli_epi16(h0, 1), 1);
    /* the codes' offset of 4: 4 sum_s scale_s bsum_s, taken off first */
    for (int t = 0; t < T; t++)
        isum[t] = _mm512_sub_epi32(_mm512_setzero_si512(),
                                   _mm512_slli_epi32(_mm512_mullo_epi32(bsums32(x[t]), sc), 2));
    for (int c = 0; c < 4; c++) {
        __m512i u = _mm512_or_si512(k23_low(b->qs, c), _mm512_slli_epi16(_mm512_and_si512(h, one), 2));
        __m512i scc = spread(sc, per4(4 * c));
        h = _mm512_srli_epi16(h, 2);
        for (int t = 0; t < T; t++) {
            __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, load512(x[t]->qs + 64 * c));
            isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s, scc));
        }
    }
    for (int t = 0; t < T; t++)
        acc[t] = scaled(acc[t], isum[t], f16(b->d) * x[t]->d);
}

/* 64 IQ4 levels + 128 from 32 bytes of nibbles: two 32-value groups, each
 * its 16 low nibbles then its 16 high ones. */
INLINE __m512i iq4_levels64(__m256i q)
{
    static const uint8_t shifted[16] = {1, 24, 45, 63, 79, 93, 106, 118, 129, 141, 153, 166, 181, 197, 217, 241};
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(q, m4)),
                                   _mm256_and_si256(_mm256_srli_epi16(q, 4), m4), 1);
    v = _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(3, 1, 2, 0)); /* lo0 hi0 lo1 hi1 */
    return _mm512_shuffle_epi8(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)shifted)), v);
}

INLINE void iq4_xs_block(const tb_block_iq4_xs *b, const tb_block_q8_K *const *x, __m512 *acc, int T)
{
    /* the eight 6-bit scales minus 32: low nibbles at bit 4i of scales_l, top
     * bits at 2i of scales_h */
    uint32_t lw;
    memcpy(&lw, b->scales_l, 4);
    __m256i sh4 = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28), sh2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    __m256i lo = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)lw), sh4), _mm256_set1_epi32(15));
    __m256i hi = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(b->scales_h), sh2), _mm256_set1_epi32(3));
    __m512i sc = _mm512_castsi256_si512(
        _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32)));
    /* the levels' offset of 128: lane i of the sums per 16 meets scale i / 2 */
    __m512i off = spread(sc, per2(0)), isum[MAX_T];
    for (int t = 0; t < T; t++)
        isum[t] = _mm512_sub_epi32(_mm512_setzero_si512(),
                                   _mm512_slli_epi32(_mm512_mullo_epi32(bsums32(x[t]), off), 7));
    for (int c = 0; c < 4; c++) {
        __m512i levels = iq4_levels64(load256(b->qs + 32 * c)), scc = spread(sc, per8(2 * c));
        for (int t = 0; t < T; t++) {
            __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), levels, load512(x[t]->qs + 64 * c));
            isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s, scc));
        }
    }
    for (int t = 0; t < T; t++)
        acc[t] = scaled(acc[t], isum[t], f16(b->d) * x[t]->d);
}

/* ---- the kernels ----
 *
 * A row's blocks against up to MAX_T tokens at once: each block's codes and
 * scales are unpacked once for all of them (a GEMV is T = 1). Rows go
 * outside the tokens, so a row is read from memory once per group of tokens
 * rather than once per token. */
#define KQUANT_GEMM(name, type)                                                                  \
    INLINE void name##_tokens(const type *b, const tb_block_q8_K *x, int nb, int T, float *y,   \
                              int ldy)                                                           \
    {                                                                                            \
        __m512 acc[MAX_T];                                                                       \
        const tb_block_q8_K *xt[MAX_T];                                                          \
        for (int t = 0; t < T; t++)                                                              \
            acc[t] = _mm512_setzero_ps();                                                        \
        for (int i = 0; i < nb; i++) {                                                           \
            for (int t = 0; t < T; t++)                                                          \
                xt[t] = x + (size_t)t * nb + i;                                                  \
            name##_block(&b[i], xt, acc, T);                                                     \
        }                                                                                        \
        for (int t = 0; t < T; t++)                                                              \
            y[(size_t)t * ldy] = _mm512_reduce_add_ps(acc[t]);                                   \
    }                                                                                            \
    void tb_gemm_##name##_avx512(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0,  \
                                 int r1)                                                         \
    {                                                                                            \
        TB_Q8K_GEMM(type, name##_tokens, MAX_T)                                                  \
    }
KQUANT_GEMM(q2_k, tb_block_q2_K)
KQUANT_GEMM(q3_k, tb_block_q3_K)
KQUANT_GEMM(q4_k, tb_block_q4_K)
KQUANT_GEMM(q5_k, tb_block_q5_K)
KQUANT_GEMM(iq4_xs, tb_block_iq4_xs)

/* IQ4_NL against q8_0 blocks, two blocks per step (lanes 0-7 and 8-15):
 * the activation scales come from q8_d (each block's d eight times) and
 * 128 x each block's activation sum comes off as 16 x it in each of its
 * eight lanes. An odd last block goes alone, in scalar. */
void tb_gemm_iq4_nl_avx512(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    const int nb = w->k / TB_QK4_NL;
    for (int t = 0; t < a->n; t++) {
        const tb_block_q8_0 *x = a->q8 + (size_t)t * nb;
        const float *xd = a->q8_d + (size_t)t * nb * 8;
        const int32_t *xsum = a->q8_sum + (size_t)t * nb;
        for (int r = r0; r < r1; r++) {
            const tb_block_iq4_nl *b = (const tb_block_iq4_nl *)(const void *)(w->data + (size_t)r * w->row_bytes);
            __m512 acc = _mm512_setzero_ps();
            int i = 0;
            for (; i + 2 <= nb; i += 2) {
                __m256i q = _mm256_setr_m128i(_mm_loadu_si128((const __m128i *)b[i].qs),
                                              _mm_loadu_si128((const __m128i *)b[i + 1].qs));
                __m512i xv = _mm512_inserti64x4(_mm512_castsi256_si512(load256(x[i].qs)), load256(x[i + 1].qs), 1);
                __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), iq4_levels64(q), xv);
                __m512i off = spread(_mm512_castsi128_si512(_mm_loadl_epi64((const __m128i *)(xsum + i))), per8(0));
                s = _mm512_sub_epi32(s, _mm512_slli_epi32(off, 4));
                __m512 dw = _mm512_cvtph_ps(_mm256_setr_m128i(_mm_set1_epi16((short)b[i].d),
                                                              _mm_set1_epi16((short)b[i + 1].d)));
                acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_loadu_ps(xd + 8 * i)), acc);
            }
            float s = _mm512_reduce_add_ps(acc);
            if (i < nb) {
                int32_t isum = 0;
                for (int v = 0; v < 16; v++)
                    isum += tb_iq4_values[b[i].qs[v] & 0xf] * x[i].qs[v] +
                            tb_iq4_values[b[i].qs[v] >> 4] * x[i].qs[v + 16];
                s += (float)isum * (f16(b[i].d) * f16(x[i].d));
            }
            y[(size_t)t * ldy + r] = s;
        }
    }
}
