/*
 * kernels_impl.h - what the per-ISA kernel files share with formats.c.
 * Not part of the public interface: include formats.h instead.
 */
#ifndef TB_KERNELS_IMPL_H
#define TB_KERNELS_IMPL_H

#include "formats.h"

/* Exact ternary output: d = sum_b d_b * isum_b (double, exact), y = d / s. */
static inline float tb_ternary_out(double d, float s)
{
    return (float)(d / (double)s);
}

/* i2_s: the packed bytes of row r. */
static inline const uint8_t *tb_i2s_row(const tb_matrix *w, int r)
{
    return w->data + (size_t)r * w->row_bytes;
}

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

/* tl2 table entry m of group g (int16 stored as low byte, high byte 16 apart). */
static inline int tb_tl2_entry(const uint8_t *group_lut, int m)
{
    return (int16_t)(group_lut[m] | group_lut[16 + m] << 8);
}

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
