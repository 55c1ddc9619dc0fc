/*
 * half.h - IEEE binary16 and bfloat16 conversions, exact and portable.
 *
 * fp32 -> fp16/bf16 round to nearest, ties to even (as F16C's VCVTPS2PH with
 * rounding mode 0 and as ggml does); NaN stays NaN. These are the scalar
 * references the SIMD conversions must equal.
 */
#ifndef TB_HALF_H
#define TB_HALF_H

#include <stdint.h>
#include <string.h>

typedef uint16_t tb_f16;
typedef uint16_t tb_bf16;

static inline uint32_t tb_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float tb_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline float tb_f16_to_f32(tb_f16 h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) /* inf or NaN */
        return tb_bits_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) { /* zero or subnormal: man * 2^-24 */
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return tb_bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

static inline tb_f16 tb_f32_to_f16(float f)
{
    uint32_t u = tb_f32_bits(f);
    uint32_t sign = (u >> 16) & 0x8000;
    uint32_t a = u & 0x7fffffffu;
    /* normal: drop 13 mantissa bits with round-to-nearest-even; a carry out of
     * the largest finite half lands on 0x7c00, infinity */
    uint32_t normal = (a + 0xfff + ((a >> 13) & 1) - 0x38000000u) >> 13;
    /* below 2^-14: adding 0.5 aligns the value so the FPU rounds it at 2^-24
     * (ties to even) and leaves the half's bits at the bottom */
    uint32_t sub = tb_f32_bits(tb_bits_f32(a) + 0.5f) - 0x3f000000u;
    uint32_t nonfinite = 0x7c00 | (uint32_t)(a > 0x7f800000u) << 9; /* NaN stays NaN */
    /* masks, not branches: a third of a ternary matrix is zero (the subnormal
     * path), so branches here mispredict and the loop cannot vectorise */
    uint32_t is_sub = 0u - (uint32_t)(a < 0x38800000u);
    uint32_t is_big = 0u - (uint32_t)(a >= 0x477ff000u);
    uint32_t h = (sub & is_sub) | (nonfinite & is_big) | (normal & ~(is_sub | is_big));
    return (tb_f16)(sign | h);
}

static inline float tb_bf16_to_f32(tb_bf16 h)
{
    return tb_bits_f32((uint32_t)h << 16);
}

static inline tb_bf16 tb_f32_to_bf16(float f)
{
    uint32_t u = tb_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep quiet NaN */
        return (tb_bf16)((u >> 16) | 0x40);
    u += 0x7fff + ((u >> 16) & 1);
    return (tb_bf16)(u >> 16);
}

#endif
