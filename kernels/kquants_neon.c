/*
 * kquants_neon.c - NEON kernels for llama.cpp's Q2_K, Q3_K, Q4_K, Q5_K,
 * IQ4_NL and IQ4_XS (layouts: formats.h), with SDOT where the CPU has it
 * (the same two paths as gemm_neon.c: plain widening multiplies, or SDOT
 * compiled by function attribute and chosen at run time).
 *
 * Each sub-block's codes are unpacked to int8 sixteen at a time and dotted
 * with the q8_K (IQ4_NL: q8_0) activations; the block's integer sums (codes
 * times activations, and the minimum or offset times the activations'
 * sums) and the float step after them are the scalar reference's, so the
 * results are bit for bit the same (kquants.c has the reasons).
 */
#include "kernels_impl.h"
#include "neon_impl.h"

/* Bits [sh, sh + width) of each byte (sh in 0..7). */
static inline uint8x16_t bits(uint8x16_t b, int sh, int width)
{
    return vandq_u8(vshlq_u8(b, vdupq_n_s8((int8_t)-sh)), vdupq_n_u8((uint8_t)((1 << width) - 1)));
}

static inline int8x16_t s8(uint8x16_t v)
{
    return vreinterpretq_s8_u8(v);
}

/* Codes of values 16 s .. 16 s + 15 (Q2_K, Q3_K: sixteen sub-blocks of 16):
 * byte 32 (s / 8) + 16 (s % 2) + i of qs, at bit 2 ((s % 8) / 2). */
static inline int8x16_t q2k_codes(const tb_block_q2_K *b, int s)
{
    return s8(bits(vld1q_u8(b->qs + 32 * (s / 8) + 16 * (s % 2)), 2 * ((s % 8) / 2), 2));
}

static inline int8x16_t q3k_codes(const tb_block_q3_K *b, int s)
{
    uint8x16_t low = bits(vld1q_u8(b->qs + 32 * (s / 8) + 16 * (s % 2)), 2 * ((s % 8) / 2), 2);
    uint8x16_t high = bits(vld1q_u8(b->hmask + 16 * (s % 2)), 4 * (s / 8) + (s % 8) / 2, 1);
    return s8(vorrq_u8(low, vshlq_n_u8(high, 2)));
}

/* Q4_K, Q5_K: values 32 j + 16 h .. + 15 (sub-block j of 32, half h). */
static inline int8x16_t q4k_codes(const uint8_t *qs, int j, int h)
{
    return s8(bits(vld1q_u8(qs + 32 * (j / 2) + 16 * h), 4 * (j % 2), 4));
}

/* Q5_K's fifth bits (qh), or none for Q4_K (qh NULL) */
static inline int8x16_t k45_codes(const uint8_t *qs, const uint8_t *qh, int j, int h)
{
    if (!qh)
        return q4k_codes(qs, j, h);
    uint8x16_t high = bits(vld1q_u8(qh + 16 * h), j, 1);
    return vorrq_s8(q4k_codes(qs, j, h), s8(vshlq_n_u8(high, 4)));
}

/* IQ4: values 16 h .. 16 h + 15 of a 32-value group: the nibbles of its 16
 * bytes (low for h 0, high for h 1) looked up in tb_iq4_values. */
static inline int8x16_t iq4_values(const uint8_t *qs, int h, int8x16_t table)
{
    uint8x16_t b = vld1q_u8(qs);
    return vqtbl1q_s8(table, h ? vshrq_n_u8(b, 4) : vandq_u8(b, vdupq_n_u8(0xf)));
}

/* Rows r0..r1 of every token over q8_K activations. Per block, the body
 * (the arguments after type) adds each sub-block's scale x (codes .
 * activations) to acc's lanes and sets off (an integer added to their sum:
 * Q3_K's offset), msum (minimum x the activations' sums) and dmin; the float
 * step after it is the scalar reference's. */
#define K_ROWS(type, ...)                                                                      \
    int nb = w->k / TB_QK_K;                                                                   \
    for (int t = 0; t < a->n; t++)                                                             \
        for (int r = r0; r < r1; r++) {                                                        \
            const type *wb = (const type *)(const void *)(w->data + (size_t)r * w->row_bytes);  \
            const tb_block_q8_K *xb = a->q8k + (size_t)t * nb;                                 \
            float s = 0;                                                                       \
            for (int b = 0; b < nb; b++) {                                                     \
                const int8_t *q = xb[b].qs;                                                    \
                const int16_t *bs = xb[b].bsums;                                               \
                int32x4_t acc = vdupq_n_s32(0);                                                \
                int32_t msum = 0, off = 0;                                                     \
                float dmin = 0;                                                                \
                __VA_ARGS__                                                                    \
                int32_t isum = vaddvq_s32(acc) + off;                                          \
                s += tb_f16_to_f32(wb[b].d) * xb[b].d * (float)isum -                          \
                     dmin * xb[b].d * (float)msum;                                             \
            }                                                                                  \
            y[(size_t)t * ldy + r] = s;                                                        \
        }

/* A Q4_K or Q5_K block (qh: Q5_K's fifth bits, or NULL) for K_ROWS. */
#define K45_BLOCK(DOT, QH)                                                                     \
    for (int sub = 0; sub < 8; sub++) {                                                        \
        int sc, m;                                                                             \
        tb_k4_scale_min(wb[b].scales, sub, &sc, &m);                                           \
        int32x4_t d = DOT(vdupq_n_s32(0), k45_codes(wb[b].qs, QH, sub, 0), vld1q_s8(q + 32 * sub)); \
        d = DOT(d, k45_codes(wb[b].qs, QH, sub, 1), vld1q_s8(q + 32 * sub + 16));              \
        acc = vmlaq_n_s32(acc, d, sc);                                                         \
        msum += m * (bs[2 * sub] + bs[2 * sub + 1]);                                           \
    }                                                                                          \
    dmin = tb_f16_to_f32(wb[b].dmin);

#define KQUANT_GEMMS(SUFFIX, DOT, ATTR)                                                        \
    ATTR static void q2k_##SUFFIX(const tb_matrix *w, const tb_act *a, float *y, int ldy,      \
                                  int r0, int r1)                                              \
    {                                                                                          \
        K_ROWS(tb_block_q2_K, {                                                                \
            for (int sub = 0; sub < 16; sub++) {                                               \
                int32x4_t d = DOT(vdupq_n_s32(0), q2k_codes(&wb[b], sub), vld1q_s8(q + 16 * sub)); \
                acc = vmlaq_n_s32(acc, d, wb[b].scales[sub] & 0xf);                            \
                msum += (wb[b].scales[sub] >> 4) * bs[sub];                                    \
            }                                                                                  \
            dmin = tb_f16_to_f32(wb[b].dmin);                                                  \
        })                                                                                     \
    }                                                                                          \
    ATTR static void q3k_##SUFFIX(const tb_matrix *w, const tb_act *a, float *y, int ldy,      \
                                  int r0, int r1)                                              \
    {                                                                                          \
        K_ROWS(tb_block_q3_K, { /* codes u = value + 4: the offset is 4 sum(q) */              \
            for (int sub = 0; sub < 16; sub++) {                                               \
                int32x4_t d = DOT(vdupq_n_s32(0), q3k_codes(&wb[b], sub), vld1q_s8(q + 16 * sub)); \
                int sc = tb_q3_K_scale(wb[b].scales, sub) - 32;                                \
                acc = vmlaq_n_s32(acc, d, sc);                                                 \
                off -= sc * 4 * bs[sub];                                                       \
            }                                                                                  \
        })                                                                                     \
    }                                                                                          \
    ATTR static void q4k_##SUFFIX(const tb_matrix *w, const tb_act *a, float *y, int ldy,      \
                                  int r0, int r1)                                              \
    {                                                                                          \
        K_ROWS(tb_block_q4_K, K45_BLOCK(DOT, NULL))                                            \
    }                                                                                          \
    ATTR static void q5k_##SUFFIX(const tb_matrix *w, const tb_act *a, float *y, int ldy,      \
                                  int r0, int r1)                                              \
    {                                                                                          \
        K_ROWS(tb_block_q5_K, K45_BLOCK(DOT, wb[b].qh))                                        \
    }                                                                                          \
    ATTR static void iq4xs_##SUFFIX(const tb_matrix *w, const tb_act *a, float *y, int ldy,    \
                                    int r0, int r1)                                            \
    {                                                                                          \
        int8x16_t table = vld1q_s8(tb_iq4_values);                                             \
        K_ROWS(tb_block_iq4_xs, {                                                              \
            (void)bs;                                                                          \
            for (int ib = 0; ib < 8; ib++) {                                                   \
                const uint8_t *qs = wb[b].qs + 16 * ib;                                        \
                int32x4_t d = DOT(vdupq_n_s32(0), iq4_values(qs, 0, table), vld1q_s8(q + 32 * ib)); \
                d = DOT(d, iq4_values(qs, 1, table), vld1q_s8(q + 32 * ib + 16));              \
                acc = vmlaq_n_s32(acc, d, tb_iq4_xs_scale(&wb[b], ib) - 32);                   \
            }                                                                                  \
        })                                                                                     \
    }                                                                                          \
    /* IQ4_NL pairs with q8_0 activations, block for block (32 values) */                    \
    ATTR static void iq4nl_##SUFFIX(const tb_matrix *w, const tb_act *a, float *y, int ldy,    \
                                    int r0, int r1)                                            \
    {                                                                                          \
        int8x16_t table = vld1q_s8(tb_iq4_values);                                             \
        int nb = w->k / TB_QK4_NL;                                                             \
        for (int t = 0; t < a->n; t++)                                                         \
            for (int r = r0; r < r1; r++) {                                                    \
                const tb_block_iq4_nl *wb =                                                    \
                    (const tb_block_iq4_nl *)(const void *)(w->data + (size_t)r * w->row_bytes); \
                const tb_block_q8_0 *xb = a->q8 + (size_t)t * nb;                              \
                float s = 0;                                                                   \
                for (int b = 0; b < nb; b++) {                                                 \
                    int32x4_t d = DOT(vdupq_n_s32(0), iq4_values(wb[b].qs, 0, table),          \
                                      vld1q_s8(xb[b].qs));                                     \
                    d = DOT(d, iq4_values(wb[b].qs, 1, table), vld1q_s8(xb[b].qs + 16));       \
                    s += (float)vaddvq_s32(d) *                                                \
                         (tb_f16_to_f32(wb[b].d) * tb_f16_to_f32(xb[b].d));                    \
                }                                                                              \
                y[(size_t)t * ldy + r] = s;                                                    \
            }                                                                                  \
    }
KQUANT_GEMMS(plain, dot16_plain, )
KQUANT_GEMMS(sdot, dot16_sdot, DOTPROD)

#define KQUANT_ENTRY(name, fn)                                                                  \
    void tb_gemm_##name##_neon(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, \
                               int r1)                                                          \
    {                                                                                           \
        (has_dotprod() ? fn##_sdot : fn##_plain)(w, a, y, ldy, r0, r1);                         \
    }
KQUANT_ENTRY(q2_k, q2k)
KQUANT_ENTRY(q3_k, q3k)
KQUANT_ENTRY(q4_k, q4k)
KQUANT_ENTRY(q5_k, q5k)
KQUANT_ENTRY(iq4_xs, iq4xs)
KQUANT_ENTRY(iq4_nl, iq4nl)
