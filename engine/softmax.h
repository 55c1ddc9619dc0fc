/*
 * softmax.h - the attention softmax in plain float arithmetic that the
 * compiler vectorises for any target, so every ISA computes the same bits.
 *
 * libm's expf is a call per element (and a slower path with errno for every
 * argument that underflows, common in a peaked softmax): in the 700M decode
 * at 512 tokens of context the scalar softmax took as long as the scores.
 */
#ifndef TB_SOFTMAX_H
#define TB_SOFTMAX_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "half.h"

/* e^x for x <= 0, within 1 ulp of the exact value wherever that is a normal
 * float (checked over every float in [-87, 0]: worst 0.86 ulp); 0 below -87,
 * where e^x < 2^-125 (its share of a softmax whose largest term is 1 is lost
 * in any f16 or f32 rounding of the probabilities). Range reduction by
 * x = n ln2 + r, |r| <= ln2/2, with ln2 split in two so n ln2 is exact, then
 * a degree-7 Taylor polynomial (truncation < 5e-9) and 2^n by the exponent
 * bits. */
static inline float tb_exp_nonpos(float x)
{
    /* selects by integer masks: a conditional float expression is control
     * flow to GCC (it may trap), and control flow stops the vectoriser */
    uint32_t under = 0u - (uint32_t)(x < -87.0f);
    float xc = tb_bits_f32((tb_f32_bits(x) & ~under) | (tb_f32_bits(-87.0f) & under));
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to integer */
    float r = xc - n * 0.693145751953125f;
    r = r - n * 1.42860682030941723212e-6f;
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    float two_n = tb_bits_f32((uint32_t)((int32_t)n + 127) << 23);
    return tb_bits_f32(tb_f32_bits(p * two_n) & ~under);
}

/* tb_f16_to_f32(tb_f32_to_f16(x)) for x in [0, 1], without branches (equal
 * for every float in that range: checked exhaustively). Normal halves keep
 * 10 mantissa bits, ties to even; below 2^-14 adding 0.5 makes the FPU round
 * to a multiple of 2^-24, the subnormal half's step. */
static inline float tb_round_f16_unit(float x)
{
    uint32_t u = tb_f32_bits(x);
    uint32_t normal = (u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu;
    uint32_t sub = tb_f32_bits((x + 0.5f) - 0.5f);
    uint32_t is_sub = 0u - (uint32_t)(x < 6.103515625e-05f);
    return tb_bits_f32((sub & is_sub) | (normal & ~is_sub));
}

/* att[0..n) <- softmax(scale * att), as ggml's soft_max: subtract the
 * largest, exponentiate, sum in double, multiply by the reciprocal of the
 * sum; with f16_probs the probabilities are rounded to f16 (ggml multiplies
 * them with an f16 V). */
static inline void tb_softmax(float *att, int n, float scale, bool f16_probs)
{
    float m[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
                  -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    for (int t = 0; t < n; t++)
        att[t] *= scale;
    int t = 0;
    for (; t + 8 <= n; t += 8) /* eight running maxima: independent chains */
        for (int j = 0; j < 8; j++)
            m[j] = att[t + j] > m[j] ? att[t + j] : m[j];
    for (; t < n; t++)
        m[0] = att[t] > m[0] ? att[t] : m[0];
    float max = m[0];
    for (int j = 1; j < 8; j++)
        max = m[j] > max ? m[j] : max;
    for (t = 0; t < n; t++)
        att[t] = tb_exp_nonpos(att[t] - max);
    double sum[4] = {0, 0, 0, 0};
    for (t = 0; t + 4 <= n; t += 4)
        for (int j = 0; j < 4; j++)
            sum[j] += att[t + j];
    for (; t < n; t++)
        sum[0] += att[t];
    float inv = (float)(1.0 / ((sum[0] + sum[1]) + (sum[2] + sum[3]))); /* ggml scales by the reciprocal */
    if (f16_probs)
        for (int i = 0; i < n; i++)
            att[i] = tb_round_f16_unit(att[i] * inv);
    else
        for (int i = 0; i < n; i++)
            att[i] *= inv;
}

#endif
