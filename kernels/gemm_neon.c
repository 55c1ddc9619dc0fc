/*
 * gemm_neon.c - NEON kernels for aarch64 (any ARMv8-A), with the dot-product
 * extension (SDOT, ARMv8.2+) used when the CPU has it: this file holds both
 * paths, the SDOT ones compiled for +dotprod by function attribute and only
 * called when HWCAP says so.
 *
 * Ternary codes become signed weights (code - 1) and multiply the int8
 * activations directly: sum(w q) is the same integer the reference gets from
 * sum(code q) - sum(q), so results stay bit-exact.
 */
#include <stdbool.h>
#include <string.h>

#include "kernels_impl.h"
#include "neon_impl.h"
#include "tiles.h"

/* Signed weights of value group g (0..3) from 16 packed bytes, at shift sh. */
static inline int8x16_t trits(uint8x16_t b, int sh)
{
    uint8x16_t c;
    switch (sh) {
    case 0: c = vandq_u8(b, vdupq_n_u8(3)); break;
    case 2: c = vandq_u8(vshrq_n_u8(b, 2), vdupq_n_u8(3)); break;
    case 4: c = vandq_u8(vshrq_n_u8(b, 4), vdupq_n_u8(3)); break;
    default: c = vshrq_n_u8(b, 6); break;
    }
    return vsubq_s8(vreinterpretq_s8_u8(c), vdupq_n_s8(1));
}

/* Integer dot of one 128-value chunk: byte p of the 32 holds value 32 g + p
 * at shift sh[g]. */
#define CHUNK_DOT(NAME, DOT, ATTR)                                                      \
    ATTR static inline int32x4_t NAME(int32x4_t acc, const uint8_t *p, const int8_t *q, \
                                      const int *sh)                                    \
    {                                                                                   \
        uint8x16_t b0 = vld1q_u8(p), b1 = vld1q_u8(p + 16);                             \
        for (int g = 0; g < 4; g++) {                                                   \
            acc = DOT(acc, trits(b0, sh[g]), vld1q_s8(q + 32 * g));                     \
            acc = DOT(acc, trits(b1, sh[g]), vld1q_s8(q + 32 * g + 16));                \
        }                                                                               \
        return acc;                                                                     \
    }
CHUNK_DOT(chunk_plain, dot16_plain, )
CHUNK_DOT(chunk_sdot, dot16_sdot, DOTPROD)

static const int i2s_shifts[4] = {6, 4, 2, 0};
static const int tq2_shifts[4] = {0, 2, 4, 6};

#define TERNARY_GEMMS(SUFFIX, CHUNK, ATTR)                                                       \
    ATTR static void i2s_##SUFFIX(const tb_matrix *w, const tb_act *a, float *y, int ldy,     \
                                  int r0, int r1)                                              \
    {                                                                                          \
        for (int t = 0; t < a->n; t++)                                                         \
            for (int r = r0; r < r1; r++) {                                                    \
                const uint8_t *p = tb_i2s_row(w, r);                                           \
                const int8_t *q = a->i8 + (size_t)t * w->k;                                    \
                int32x4_t acc = vdupq_n_s32(0);                                                \
                for (int c = 0; c < w->k / 128; c++)                                           \
                    acc = CHUNK(acc, tb_i2s_group(w, p, c), q + 128 * c, i2s_shifts);          \
                y[(size_t)t * ldy + r] =                                                       \
                    tb_ternary_out1(vaddvq_s32(acc), a->i8_scale[t], w->scale);                \
            }                                                                                  \
    }                                                                                          \
    ATTR static void tq2_##SUFFIX(const tb_matrix *w, const tb_act *a, float *y, int ldy,     \
                                  int r0, int r1)                                              \
    {                                                                                          \
        int nb = w->k / TB_QK_K;                                                               \
        for (int t = 0; t < a->n; t++)                                                         \
            for (int r = r0; r < r1; r++) {                                                    \
                const tb_block_tq2_0 *b =                                                      \
                    (const tb_block_tq2_0 *)(w->data + (size_t)r * w->row_bytes);              \
                const int8_t *q = a->i8 + (size_t)t * w->k;                                    \
                tb_tsum out = tb_tsum_new();                                                   \
                for (int i = 0; i < nb; i++) {                                                 \
                    int32x4_t acc = CHUNK(vdupq_n_s32(0), b[i].qs, q + 256 * i, tq2_shifts);   \
                    acc = CHUNK(acc, b[i].qs + 32, q + 256 * i + 128, tq2_shifts);             \
                    tb_tsum_add(&out, tb_f16_to_f32(b[i].d), vaddvq_s32(acc));                 \
                }                                                                              \
                y[(size_t)t * ldy + r] = tb_tsum_out(&out, a->i8_scale[t]);                    \
            }                                                                                  \
    }
TERNARY_GEMMS(plain, chunk_plain, )
TERNARY_GEMMS(sdot, chunk_sdot, DOTPROD)

void tb_gemm_i2_s_neon(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    (has_dotprod() ? i2s_sdot : i2s_plain)(w, a, y, ldy, r0, r1);
}

void tb_gemm_tq2_0_neon(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    (has_dotprod() ? tq2_sdot : tq2_plain)(w, a, y, ldy, r0, r1);
}

/* ---- tq1_0: five base-3 digits per byte ----
 *
 * Digit n of a byte q is the leading base-3 digit of v = q * 3^n mod 256
 * (one byte multiply), and that digit is (v >= 86) + (v >= 171): two
 * compares whose all-ones results count down from -1 to the signed weight. */
static inline int8x16_t tq1_weights(uint8x16_t v)
{
    int8x16_t ge86 = vreinterpretq_s8_u8(vcgeq_u8(v, vdupq_n_u8(86)));
    int8x16_t ge171 = vreinterpretq_s8_u8(vcgeq_u8(v, vdupq_n_u8(171)));
    return vsubq_s8(vsubq_s8(vdupq_n_s8(-1), ge86), ge171);
}

/* Integer dot of one block: qs[0..31] digit n is value 32 n + j, qs[32..47]
 * digit n is 160 + 16 n + j, qh[j] digit n (4 of them) is 240 + 4 n + j. */
#define TQ1_BLOCK_DOT(NAME, DOT, ATTR)                                                    \
    ATTR static inline int32_t NAME(const tb_block_tq1_0 *b, const int8_t *q)             \
    {                                                                                     \
        static const uint8_t pow3[5] = {1, 3, 9, 27, 81};                                 \
        static const uint8_t qh_pow3[16] = {1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27}; \
        uint8x16_t a0 = vld1q_u8(b->qs), a1 = vld1q_u8(b->qs + 16), m = vld1q_u8(b->qs + 32); \
        int32x4_t acc = vdupq_n_s32(0);                                                   \
        for (int n = 0; n < 5; n++) {                                                     \
            uint8x16_t p = vdupq_n_u8(pow3[n]);                                           \
            acc = DOT(acc, tq1_weights(vmulq_u8(a0, p)), vld1q_s8(q + 32 * n));           \
            acc = DOT(acc, tq1_weights(vmulq_u8(a1, p)), vld1q_s8(q + 32 * n + 16));      \
            acc = DOT(acc, tq1_weights(vmulq_u8(m, p)), vld1q_s8(q + 160 + 16 * n));      \
        }                                                                                 \
        uint32_t qh;                                                                      \
        memcpy(&qh, b->qh, 4);                                                            \
        uint8x16_t h = vmulq_u8(vreinterpretq_u8_u32(vdupq_n_u32(qh)), vld1q_u8(qh_pow3)); \
        acc = DOT(acc, tq1_weights(h), vld1q_s8(q + 240));                                \
        return vaddvq_s32(acc);                                                           \
    }                                                                                     \
    ATTR static void NAME##_gemm(const tb_matrix *w, const tb_act *a, float *y, int ldy,  \
                                 int r0, int r1)                                          \
    {                                                                                     \
        int nb = w->k / TB_QK_K;                                                          \
        for (int t = 0; t < a->n; t++)                                                    \
            for (int r = r0; r < r1; r++) {                                               \
                const tb_block_tq1_0 *b =                                                 \
                    (const tb_block_tq1_0 *)(w->data + (size_t)r * w->row_bytes);         \
                const int8_t *q = a->i8 + (size_t)t * w->k;                               \
                tb_tsum out = tb_tsum_new();                                              \
                for (int i = 0; i < nb; i++)                                              \
                    tb_tsum_add(&out, tb_f16_to_f32(b[i].d), NAME(&b[i], q + 256 * i));   \
                y[(size_t)t * ldy + r] = tb_tsum_out(&out, a->i8_scale[t]);               \
            }                                                                             \
    }
TQ1_BLOCK_DOT(tq1_plain, dot16_plain, )
TQ1_BLOCK_DOT(tq1_sdot, dot16_sdot, DOTPROD)

void tb_gemm_tq1_0_neon(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    (has_dotprod() ? tq1_sdot_gemm : tq1_plain_gemm)(w, a, y, ldy, r0, r1);
}

/* ---- t1_67: three weights per five-bit code ----
 *
 * A quarter block's 16 codes from its 10 bytes: TBL puts the byte (or two)
 * holding code i in 16-bit lane i, a per-lane shift (USHL by -(5i mod 8))
 * brings the code to the lane's bits 4-0, the narrow keeps the low bytes,
 * and TBL over the 32-entry tb_t167_codes gives the three weights' codes.
 * The 16-byte load reads 6 bytes past the quarter: in the matrix (the next
 * block, the row tail or the 32-byte tail after the rows). */
typedef struct {
    uint8x16_t pick[2];
    int16x8_t shift;
    uint8x16x2_t table;
} t167_neon_consts;

static inline t167_neon_consts t167_neon_consts_new(void)
{
    t167_neon_consts c;
    uint8_t pick[2][16];
    int16_t shift[8];
    for (int v = 0; v < 2; v++)
        for (int i = 0; i < 8; i++) {
            int bit = 5 * (8 * v + i);
            pick[v][2 * i] = (uint8_t)(bit / 8);
            pick[v][2 * i + 1] = (uint8_t)(bit / 8 + 1);
            shift[i] = (int16_t)-(bit % 8); /* the same for both halves: 40 bits apart */
        }
    c.pick[0] = vld1q_u8(pick[0]);
    c.pick[1] = vld1q_u8(pick[1]);
    c.shift = vld1q_s16(shift);
    c.table.val[0] = vld1q_u8(tb_t167_codes);
    c.table.val[1] = vld1q_u8(tb_t167_codes + 16);
    return c;
}

static inline uint8x16_t t167_decode_neon(const uint8_t *p, const t167_neon_consts *c)
{
    uint8x16_t raw = vld1q_u8(p);
    uint16x8_t lo = vshlq_u16(vreinterpretq_u16_u8(vqtbl1q_u8(raw, c->pick[0])), c->shift);
    uint16x8_t hi = vshlq_u16(vreinterpretq_u16_u8(vqtbl1q_u8(raw, c->pick[1])), c->shift);
    uint8x16_t codes = vandq_u8(vcombine_u8(vmovn_u16(lo), vmovn_u16(hi)), vdupq_n_u8(31));
    return vqtbl2q_u8(c->table, codes);
}

#define T167_GEMM(NAME, DOT, ATTR)                                                         \
    ATTR static void NAME(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0,  \
                          int r1)                                                          \
    {                                                                                      \
        const t167_neon_consts c = t167_neon_consts_new();                                 \
        const int k = w->k;                                                                \
        for (int t = 0; t < a->n; t++)                                                     \
            for (int r = r0; r < r1; r++) {                                                \
                const uint8_t *p = tb_t167_block(w, r, 0);                                 \
                const int8_t *q = a->i8 + (size_t)t * k;                                   \
                int32x4_t acc[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};                       \
                int b = 0;                                                                 \
                for (; b + TB_T167_BLOCK <= k; b += TB_T167_BLOCK, p += TB_T167_ROWS * TB_T167_BLOCK_BYTES) \
                    for (int h = 0; h < 4; h++) {                                          \
                        uint8x16_t v = t167_decode_neon(p + 10 * h, &c);                   \
                        for (int d = 0; d < 3; d++)                                        \
                            acc[h % 2] = DOT(acc[h % 2], trits(v, 2 * d),                  \
                                             vld1q_s8(q + b + 16 * h + 64 * d));           \
                    }                                                                      \
                p = tb_t167_chunk0(w, r);                                                  \
                for (; b < k; b += TB_T167_TAIL, p += TB_T167_ROWS * 16) {                 \
                    uint8x16_t v = vld1q_u8(p); /* byte p: weights p + 16 f at bits 2f */  \
                    for (int f = 0; f < 4; f++)                                            \
                        acc[0] = DOT(acc[0], trits(v, 2 * f), vld1q_s8(q + b + 16 * f));   \
                }                                                                          \
                y[(size_t)t * ldy + r] = tb_ternary_out1(vaddvq_s32(vaddq_s32(acc[0], acc[1])), \
                                                         a->i8_scale[t], w->scale);        \
            }                                                                              \
    }
T167_GEMM(t167_plain, dot16_plain, )
T167_GEMM(t167_sdot, dot16_sdot, DOTPROD)

void tb_gemm_t1_67_neon(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    (has_dotprod() ? t167_sdot : t167_plain)(w, a, y, ldy, r0, r1);
}

/* ---- q8_0 / q4_0 ---- */

#define Q_GEMMS(SUFFIX, DOT, ATTR)                                                               \
    ATTR static void q8_##SUFFIX(const tb_matrix *w, const tb_act *a, float *y, int ldy,      \
                                 int r0, int r1)                                               \
    {                                                                                          \
        int nb = w->k / 32;                                                                    \
        for (int t = 0; t < a->n; t++)                                                         \
            for (int r = r0; r < r1; r++) {                                                    \
                const tb_block_q8_0 *wb =                                                      \
                    (const tb_block_q8_0 *)(w->data + (size_t)r * w->row_bytes);               \
                const tb_block_q8_0 *xb = a->q8 + (size_t)t * nb;                              \
                float32x4_t acc = vdupq_n_f32(0);                                              \
                for (int b = 0; b < nb; b++) {                                                 \
                    int32x4_t s = DOT(vdupq_n_s32(0), vld1q_s8(wb[b].qs), vld1q_s8(xb[b].qs)); \
                    s = DOT(s, vld1q_s8(wb[b].qs + 16), vld1q_s8(xb[b].qs + 16));              \
                    acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s),                                   \
                                      tb_f16_to_f32(wb[b].d) * tb_f16_to_f32(xb[b].d));        \
                }                                                                              \
                y[(size_t)t * ldy + r] = vaddvq_f32(acc);                                      \
            }                                                                                  \
    }                                                                                          \
    ATTR static void q4_##SUFFIX(const tb_matrix *w, const tb_act *a, float *y, int ldy,      \
                                 int r0, int r1)                                               \
    {                                                                                          \
        int nb = w->k / 32;                                                                    \
        for (int t = 0; t < a->n; t++)                                                         \
            for (int r = r0; r < r1; r++) {                                                    \
                const tb_block_q4_0 *wb =                                                      \
                    (const tb_block_q4_0 *)(w->data + (size_t)r * w->row_bytes);               \
                const tb_block_q8_0 *xb = a->q8 + (size_t)t * nb;                              \
                float32x4_t acc = vdupq_n_f32(0);                                              \
                for (int b = 0; b < nb; b++) {                                                 \
                    uint8x16_t v = vld1q_u8(wb[b].qs);                                         \
                    int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(15))),   \
                                            vdupq_n_s8(8));                                    \
                    int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)),             \
                                            vdupq_n_s8(8));                                    \
                    int32x4_t s = DOT(vdupq_n_s32(0), lo, vld1q_s8(xb[b].qs));                 \
                    s = DOT(s, hi, vld1q_s8(xb[b].qs + 16));                                   \
                    acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s),                                   \
                                      tb_f16_to_f32(wb[b].d) * tb_f16_to_f32(xb[b].d));        \
                }                                                                              \
                y[(size_t)t * ldy + r] = vaddvq_f32(acc);                                      \
            }                                                                                  \
    }
Q_GEMMS(plain, dot16_plain, )
Q_GEMMS(sdot, dot16_sdot, DOTPROD)

/* ---- q8_0 / q4_0 GEMM with one row per lane (SDOT) ----
 *
 * As in gemm_avx512.c (q_gemm_lanes): 16 rows are laid out side by side per
 * stretch of k, four signed values of a row per 32-bit lane (q4_0's nibbles
 * already minus 8, so no offset term), and every token of the call runs over
 * them: SDOT by element multiplies each row's four values by the token's four
 * at the same positions, so after eight of them per block each lane holds its
 * row's exact integer sum, and one multiply-add per four rows applies both
 * scales. The per-row loops above re-read each row for every token and
 * reduced a vector per row, token and block. */
#define QL_ROWS 16
#define QL_STRETCH 256
#define QL_BLOCK_BYTES (8 * 64 + QL_ROWS * 4) /* 8 x 4 vectors of values, then 16 scales */

/* Rows r .. r + 15's block b into dst: vector 4c + v holds values 4c .. 4c + 3
 * of rows 4v .. 4v + 3. */
static void ql_pack_block(const tb_matrix *w, int r, int b, int8_t *dst, int fmt)
{
    for (int i = 0; i < QL_ROWS; i++) {
        const uint8_t *row = w->data + (size_t)(r + i) * w->row_bytes;
        int8_t v[32];
        tb_f16 d;
        if (fmt == TB_FMT_Q8_0) {
            const tb_block_q8_0 *blk = (const tb_block_q8_0 *)row + b;
            memcpy(v, blk->qs, 32);
            d = blk->d;
        } else {
            const tb_block_q4_0 *blk = (const tb_block_q4_0 *)row + b;
            for (int e = 0; e < 16; e++) {
                v[e] = (int8_t)((blk->qs[e] & 15) - 8);
                v[e + 16] = (int8_t)((blk->qs[e] >> 4) - 8);
            }
            d = blk->d;
        }
        for (int c = 0; c < 8; c++)
            memcpy(dst + 64 * c + 16 * (i / 4) + 4 * (i % 4), v + 4 * c, 4);
        float df = tb_f16_to_f32(d);
        memcpy(dst + 8 * 64 + 4 * i, &df, 4);
    }
}

/* One value group c of a block: the 16 rows' four values against token j's,
 * element c % 4 of its half x[j][c / 4]. */
#define QL_GROUP(c)                                                                           for (int v = 0; v < 4; v++) {                                                                 int8x16_t wv = vld1q_s8(p + 64 * (c) + 16 * v);                                           for (int j = 0; j < T; j++)                                                                   s[j][v] = vdotq_laneq_s32(s[j][v], wv, x[j][(c) / 4], (c) % 4);                   }

/* Blocks [b0, b1) of tokens t, t + T - 1 against the 16 packed rows at r: stored
 * into y, or added to it when `add` (a later stretch of a long k). */
DOTPROD static inline void ql_tokens(const int8_t *pack, const tb_act *a, float *y, int ldy, int r,
                                     int t, int nb, int b0, int b1, bool add, const int T)
{
    float32x4_t acc[2][4];
    for (int j = 0; j < T; j++)
        for (int v = 0; v < 4; v++)
            acc[j][v] = add ? vld1q_f32(y + (size_t)(t + j) * ldy + r + 4 * v) : vdupq_n_f32(0);
    for (int b = b0; b < b1; b++) {
        const int8_t *p = pack + (size_t)(b - b0) * QL_BLOCK_BYTES;
        int32x4_t s[2][4];
        int8x16_t x[2][2];
        for (int j = 0; j < T; j++) {
            const int8_t *xq = a->q8[(size_t)(t + j) * nb + b].qs;
            x[j][0] = vld1q_s8(xq);
            x[j][1] = vld1q_s8(xq + 16);
            for (int v = 0; v < 4; v++)
                s[j][v] = vdupq_n_s32(0);
        }
        QL_GROUP(0) QL_GROUP(1) QL_GROUP(2) QL_GROUP(3)
        QL_GROUP(4) QL_GROUP(5) QL_GROUP(6) QL_GROUP(7)
        const float *dw = (const float *)(p + 8 * 64);
        for (int j = 0; j < T; j++) {
            float dx = a->q8_d[((size_t)(t + j) * nb + b) * 8];
            for (int v = 0; v < 4; v++)
                acc[j][v] = vfmaq_f32(acc[j][v], vcvtq_f32_s32(s[j][v]),
                                      vmulq_n_f32(vld1q_f32(dw + 4 * v), dx));
        }
    }
    for (int j = 0; j < T; j++)
        for (int v = 0; v < 4; v++)
            vst1q_f32(y + (size_t)(t + j) * ldy + r + 4 * v, acc[j][v]);
}

/* Rows r0 .. r0 + 16m - 1 for every token (the most whole groups of 16 in
 * [r0, r1)); returns how many rows that was. */
DOTPROD static int q_gemm_lanes(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0,
                                int r1, int fmt)
{
    static _Thread_local int8_t pack[QL_STRETCH * QL_BLOCK_BYTES] __attribute__((aligned(64)));
    const int nb = w->k / 32;
    int r = r0;
#define PACK(r, b, i) ql_pack_block(w, r, b, pack + (size_t)(i) * QL_BLOCK_BYTES, fmt)
#define TOKENS(r, t, b0, b1, T) ql_tokens(pack, a, y, ldy, r, t, nb, b0, b1, b0 > 0, T)
    ROW_LANES(r, QL_ROWS, QL_STRETCH, nb, 2, PACK, TOKENS);
#undef PACK
#undef TOKENS
    return r - r0;
}

typedef void q_gemm_fn(const tb_matrix *, const tb_act *, float *, int, int, int);

/* Without SDOT the per-row loops; with it a batch goes one row per lane, and
 * the rows left over (and a one-token GEMV) take the per-row SDOT loop. */
static void q_gemm(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1, int fmt,
                   q_gemm_fn *plain, q_gemm_fn *sdot)
{
    if (!has_dotprod()) {
        plain(w, a, y, ldy, r0, r1);
        return;
    }
    if (a->n > 1)
        r0 += q_gemm_lanes(w, a, y, ldy, r0, r1, fmt);
    sdot(w, a, y, ldy, r0, r1);
}

void tb_gemm_q8_0_neon(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    q_gemm(w, a, y, ldy, r0, r1, TB_FMT_Q8_0, q8_plain, q8_sdot);
}

void tb_gemm_q4_0_neon(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    q_gemm(w, a, y, ldy, r0, r1, TB_FMT_Q4_0, q4_plain, q4_sdot);
}

/* ---- float weights ---- */

static inline float32x4_t load_w4(const uint8_t *p, int fmt)
{
    if (fmt == TB_FMT_F32)
        return vld1q_f32((const float *)p);
    uint16x4_t h = vld1_u16((const uint16_t *)p);
    if (fmt == TB_FMT_F16)
        return vcvt_f32_f16(vreinterpret_f16_u16(h));
    return vreinterpretq_f32_u32(vshll_n_u16(h, 16)); /* bf16 */
}

static inline float w_scalar(const uint8_t *row, int i, int fmt)
{
    if (fmt == TB_FMT_F32)
        return ((const float *)row)[i];
    uint16_t h;
    memcpy(&h, row + 2 * i, 2);
    return fmt == TB_FMT_F16 ? tb_f16_to_f32(h) : tb_bf16_to_f32(h);
}

static inline void float_gemm(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0,
                              int r1, int fmt)
{
    size_t es = fmt == TB_FMT_F32 ? 4 : 2;
    for (int t = 0; t < a->n; t++)
        for (int r = r0; r < r1; r++) {
            const uint8_t *row = w->data + (size_t)r * w->row_bytes;
            const float *x = a->f32 + (size_t)t * w->k;
            float32x4_t a0 = vdupq_n_f32(0), a1 = a0;
            int k = 0;
            for (; k + 8 <= w->k; k += 8) {
                a0 = vfmaq_f32(a0, load_w4(row + k * es, fmt), vld1q_f32(x + k));
                a1 = vfmaq_f32(a1, load_w4(row + (k + 4) * es, fmt), vld1q_f32(x + k + 4));
            }
            float s = vaddvq_f32(vaddq_f32(a0, a1));
            for (; k < w->k; k++)
                s += w_scalar(row, k, fmt) * x[k];
            y[(size_t)t * ldy + r] = s;
        }
}

void tb_gemm_f32_neon(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    float_gemm(w, a, y, ldy, r0, r1, TB_FMT_F32);
}

void tb_gemm_f16_neon(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    float_gemm(w, a, y, ldy, r0, r1, TB_FMT_F16);
}

void tb_gemm_bf16_neon(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    float_gemm(w, a, y, ldy, r0, r1, TB_FMT_BF16);
}

/* ---- tl2: table lookups, 32 rows at a time ----
 *
 * As the AVX2 kernel: one group's 16-entry table serves the 32 rows of a tile
 * through TBL (low and high bytes of the int16 entries looked up separately),
 * the sign bits flip the entries, int16 sums widen to int32 every 64 groups
 * (64 * 3 * 128 < 2^15), and each group's indices and signs are decoded once
 * for up to 4 tokens. Lanes: rows 0-7, 8-15, 16-23, 24-31. */
static inline int16x8_t tl2_signed(uint8x16_t lo, uint8x16_t hi, int half, uint16_t signs,
                                   uint16x8_t bits)
{
    int16x8_t v = vreinterpretq_s16_u8(half ? vzip2q_u8(lo, hi) : vzip1q_u8(lo, hi));
    int16x8_t m = vreinterpretq_s16_u16(vtstq_u16(vdupq_n_u16(signs), bits));
    return vsubq_s16(veorq_s16(v, m), m); /* m = -1: -v; m = 0: v */
}

static inline void tl2_tiles(const uint8_t *tile, const uint8_t *const *luts, int groups,
                             int32_t out[4][32], const int T)
{
    static const uint16_t lo_bits[8] = {1, 2, 4, 8, 16, 32, 64, 128};
    static const uint16_t hi_bits[8] = {256, 512, 1024, 2048, 4096, 8192, 16384, 32768};
    const uint16x8_t bl = vld1q_u16(lo_bits), bh = vld1q_u16(hi_bits);
    for (int j = 0; j < T; j++)
        memset(out[j], 0, sizeof out[j]);
    for (int g0 = 0; g0 < groups; g0 += 64) {
        int16x8_t acc[4][4];
        for (int j = 0; j < T; j++)
            for (int q = 0; q < 4; q++)
                acc[j][q] = vdupq_n_s16(0);
        int gend = g0 + 64 < groups ? g0 + 64 : groups;
        for (int g = g0; g < gend; g++) {
            const uint8_t *p = tile + (size_t)g * TB_TL2_GROUP_BYTES;
            uint8x16_t n = vld1q_u8(p);
            uint8x16_t idx_a = vandq_u8(n, vdupq_n_u8(0xf)), idx_b = vshrq_n_u8(n, 4);
            uint16_t s0, s1; /* word 0: rows 0-7 (bits 0-7), 16-23 (8-15); word 1: 8-15, 24-31 */
            memcpy(&s0, p + 16, 2);
            memcpy(&s1, p + 18, 2);
            for (int j = 0; j < T; j++) {
                const uint8_t *tab = luts[j] + (size_t)g * 32;
                uint8x16_t tlo = vld1q_u8(tab), thi = vld1q_u8(tab + 16);
                uint8x16_t alo = vqtbl1q_u8(tlo, idx_a), ahi = vqtbl1q_u8(thi, idx_a);
                uint8x16_t blo = vqtbl1q_u8(tlo, idx_b), bhi = vqtbl1q_u8(thi, idx_b);
                acc[j][0] = vaddq_s16(acc[j][0], tl2_signed(alo, ahi, 0, s0, bl)); /* 0-7 */
                acc[j][1] = vaddq_s16(acc[j][1], tl2_signed(alo, ahi, 1, s1, bl)); /* 8-15 */
                acc[j][2] = vaddq_s16(acc[j][2], tl2_signed(blo, bhi, 0, s0, bh)); /* 16-23 */
                acc[j][3] = vaddq_s16(acc[j][3], tl2_signed(blo, bhi, 1, s1, bh)); /* 24-31 */
            }
        }
        for (int j = 0; j < T; j++)
            for (int q = 0; q < 4; q++) {
                int32_t *o = out[j] + 8 * q;
                vst1q_s32(o, vaddw_s16(vld1q_s32(o), vget_low_s16(acc[j][q])));
                vst1q_s32(o + 4, vaddw_s16(vld1q_s32(o + 4), vget_high_s16(acc[j][q])));
            }
    }
}

void tb_gemm_tl2_neon(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    TB_TL2_GEMM(tl2_tiles)
}

/* ---- q6_k: 6-bit codes against q8_0 activations ----
 *
 * Each 16-value sub-block's integer sum, scaled as the scalar reference scales
 * it (the same float operations in the same order). Codes - 32 fit int8, so
 * no offset sum is needed. */
static inline int8x16_t q6k_codes16(const uint8_t *ql, const uint8_t *qh, int q)
{
    uint8x16_t lo = vld1q_u8(ql);
    lo = q >= 2 ? vshrq_n_u8(lo, 4) : vandq_u8(lo, vdupq_n_u8(0xf));
    uint8x16_t hi = vandq_u8(vshlq_u8(vld1q_u8(qh), vdupq_n_s8((int8_t)(-2 * q))), vdupq_n_u8(3));
    return vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo, vshlq_n_u8(hi, 4))), vdupq_n_s8(32));
}

#define Q6K_GEMM(SUFFIX, DOT, ATTR)                                                              \
    ATTR static void q6k_##SUFFIX(const tb_matrix *w, const tb_act *a, float *y, int ldy,     \
                                  int r0, int r1)                                              \
    {                                                                                          \
        int nb = w->k / TB_QK_K;                                                               \
        for (int t = 0; t < a->n; t++)                                                         \
            for (int r = r0; r < r1; r++) {                                                    \
                const tb_block_q6_K *wb =                                                      \
                    (const tb_block_q6_K *)(const void *)(w->data + (size_t)r * w->row_bytes); \
                const tb_block_q8_K *xq = a->q8k + (size_t)t * nb;                             \
                float s = 0;                                                                   \
                for (int b = 0; b < nb; b++) {                                                 \
                    int32x4_t isum = vdupq_n_s32(0);                                           \
                    for (int sub = 0; sub < 16; sub++) { /* 16 values: quarter sub / 2 */      \
                        int c = sub / 2, h = c / 4, q = c % 4, off = 16 * (sub % 2);           \
                        int8x16_t wv = q6k_codes16(wb[b].ql + 64 * h + 32 * (q & 1) + off,     \
                                                   wb[b].qh + 32 * h + off, q);                \
                        int32x4_t d = DOT(vdupq_n_s32(0), wv, vld1q_s8(xq[b].qs + 16 * sub));  \
                        isum = vmlaq_n_s32(isum, d, wb[b].scales[sub]);                        \
                    }                                                                          \
                    s += tb_f16_to_f32(wb[b].d) * xq[b].d * (float)vaddvq_s32(isum);           \
                }                                                                              \
                y[(size_t)t * ldy + r] = s;                                                    \
            }                                                                                  \
    }
Q6K_GEMM(plain, dot16_plain, )
Q6K_GEMM(sdot, dot16_sdot, DOTPROD)

void tb_gemm_q6_k_neon(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    (has_dotprod() ? q6k_sdot : q6k_plain)(w, a, y, ldy, r0, r1);
}
