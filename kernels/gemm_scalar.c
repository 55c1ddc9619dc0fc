/*
 * gemm_scalar.c - the reference kernels: plain C, one output at a time.
 *
 * These are the specification. Every SIMD variant must give bit-identical
 * results for the ternary formats and the integer parts of q8_0/q4_0, and
 * agree within the stated float error for the float formats (tests/).
 */
#include "kernels_impl.h"

#define FOR_OUTPUTS                                  \
    for (int t = 0; t < a->n; t++)                   \
        for (int r = r0; r < r1; r++)

void tb_gemm_f32_scalar(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    FOR_OUTPUTS {
        const float *wr = (const float *)(w->data + (size_t)r * w->row_bytes);
        const float *x = a->f32 + (size_t)t * w->k;
        float s = 0;
        for (int i = 0; i < w->k; i++)
            s += wr[i] * x[i];
        y[(size_t)t * ldy + r] = s;
    }
}

void tb_gemm_f16_scalar(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    FOR_OUTPUTS {
        const tb_f16 *wr = (const tb_f16 *)(w->data + (size_t)r * w->row_bytes);
        const float *x = a->f32 + (size_t)t * w->k;
        float s = 0;
        for (int i = 0; i < w->k; i++)
            s += tb_f16_to_f32(wr[i]) * x[i];
        y[(size_t)t * ldy + r] = s;
    }
}

void tb_gemm_bf16_scalar(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    FOR_OUTPUTS {
        const tb_bf16 *wr = (const tb_bf16 *)(w->data + (size_t)r * w->row_bytes);
        const float *x = a->f32 + (size_t)t * w->k;
        float s = 0;
        for (int i = 0; i < w->k; i++)
            s += tb_bf16_to_f32(wr[i]) * x[i];
        y[(size_t)t * ldy + r] = s;
    }
}

void tb_gemm_q8_0_scalar(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    int nb = w->k / TB_QK8_0;
    FOR_OUTPUTS {
        const tb_block_q8_0 *wb = (const tb_block_q8_0 *)(w->data + (size_t)r * w->row_bytes);
        const tb_block_q8_0 *xb = a->q8 + (size_t)t * nb;
        float s = 0;
        for (int b = 0; b < nb; b++) {
            int32_t isum = 0;
            for (int j = 0; j < TB_QK8_0; j++)
                isum += wb[b].qs[j] * xb[b].qs[j];
            s += (float)isum * (tb_f16_to_f32(wb[b].d) * tb_f16_to_f32(xb[b].d));
        }
        y[(size_t)t * ldy + r] = s;
    }
}

void tb_gemm_q4_0_scalar(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    int nb = w->k / TB_QK4_0;
    FOR_OUTPUTS {
        const tb_block_q4_0 *wb = (const tb_block_q4_0 *)(w->data + (size_t)r * w->row_bytes);
        const tb_block_q8_0 *xb = a->q8 + (size_t)t * nb;
        float s = 0;
        for (int b = 0; b < nb; b++) {
            int32_t isum = 0;
            for (int j = 0; j < 16; j++)
                isum += ((wb[b].qs[j] & 0xf) - 8) * xb[b].qs[j] +
                        ((wb[b].qs[j] >> 4) - 8) * xb[b].qs[j + 16];
            s += (float)isum * (tb_f16_to_f32(wb[b].d) * tb_f16_to_f32(xb[b].d));
        }
        y[(size_t)t * ldy + r] = s;
    }
}

/* Q6_K x q8_0 activations: an integer sum per 16-value sub-block, scaled by
 * the block's super-scale, the sub-block's scale and the activation block's d. */
/* q6_k x q8_K as llama.cpp computes it: per block an exact integer sum of
 * scale_s * (sum_{16 values} u q - 32 sum q) over the 16 sub-blocks, then
 * y += (d_w d_x) * isum in float. */
void tb_gemm_q6_k_scalar(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    int nb = w->k / TB_QK_K;
    FOR_OUTPUTS {
        const tb_block_q6_K *wb = (const tb_block_q6_K *)(const void *)(w->data + (size_t)r * w->row_bytes);
        const tb_block_q8_K *xb = a->q8k + (size_t)t * nb;
        float s = 0;
        for (int b = 0; b < nb; b++) {
            int32_t isum = 0;
            for (int sub = 0; sub < 16; sub++) {
                int32_t sum16 = 0;
                for (int i = 0; i < 16; i++)
                    sum16 += tb_q6_K_code(&wb[b], 16 * sub + i) * xb[b].qs[16 * sub + i];
                isum += wb[b].scales[tb_q6_K_scale_index(16 * sub)] * (sum16 - 32 * xb[b].bsums[sub]);
            }
            s += tb_f16_to_f32(wb[b].d) * xb[b].d * (float)isum;
        }
        y[(size_t)t * ldy + r] = s;
    }
}

void tb_gemm_i2_s_scalar(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    FOR_OUTPUTS {
        const uint8_t *row = tb_i2s_row(w, r);
        const int8_t *q = a->i8 + (size_t)t * w->k;
        int32_t isum = 0;
        for (int blk = 0; blk < w->k / TB_I2S_BLOCK; blk++, q += TB_I2S_BLOCK) {
            const uint8_t *p = tb_i2s_group(w, row, blk);
            for (int j = 0; j < 32; j++)
                isum += ((p[j] >> 6) & 3) * q[j] + ((p[j] >> 4) & 3) * q[j + 32] +
                        ((p[j] >> 2) & 3) * q[j + 64] + (p[j] & 3) * q[j + 96];
        }
        isum -= a->i8_sum[t]; /* codes are w + 1 */
        y[(size_t)t * ldy + r] = tb_ternary_out1(isum, a->i8_scale[t], w->scale);
    }
}

/* t1_67: each block's 64 codes give the weights j, j + 64, j + 128. */
void tb_gemm_t1_67_scalar(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    FOR_OUTPUTS {
        const int8_t *q = a->i8 + (size_t)t * w->k;
        int32_t isum = 0;
        int b = 0;
        for (; b + TB_T167_BLOCK <= w->k; b += TB_T167_BLOCK) {
            const uint8_t *p = tb_t167_block(w, r, b / TB_T167_BLOCK);
            for (int j = 0; j < 64; j++) {
                int c = tb_t167_codes[tb_t167_code(p, j)];
                isum += (c & 3) * q[b + j] + (c >> 2 & 3) * q[b + j + 64] + (c >> 4) * q[b + j + 128];
            }
        }
        for (const uint8_t *p = tb_t167_chunk0(w, r); b < w->k; b += TB_T167_TAIL, p += TB_T167_ROWS * 16)
            for (int v = 0; v < TB_T167_TAIL; v++)
                isum += (p[v % 16] >> 2 * (v / 16) & 3) * q[b + v];
        isum -= a->i8_sum[t]; /* codes are w + 1 */
        y[(size_t)t * ldy + r] = tb_ternary_out1(isum, a->i8_scale[t], w->scale);
    }
}

void tb_gemm_tq2_0_scalar(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    int nb = w->k / TB_QK_K;
    FOR_OUTPUTS {
        const tb_block_tq2_0 *wb = (const tb_block_tq2_0 *)(w->data + (size_t)r * w->row_bytes);
        const int8_t *q = a->i8 + (size_t)t * w->k;
        const int32_t *bsum = a->i8_bsum + (size_t)t * (w->k / 128);
        tb_tsum acc = tb_tsum_new();
        for (int b = 0; b < nb; b++, q += TB_QK_K) {
            int32_t isum = -(bsum[2 * b] + bsum[2 * b + 1]);
            for (int h = 0; h < 2; h++)
                for (int m = 0; m < 32; m++) {
                    uint8_t v = wb[b].qs[h * 32 + m];
                    const int8_t *qh = q + h * 128 + m;
                    isum += (v & 3) * qh[0] + ((v >> 2) & 3) * qh[32] + ((v >> 4) & 3) * qh[64] +
                            (v >> 6) * qh[96];
                }
            tb_tsum_add(&acc, tb_f16_to_f32(wb[b].d), isum);
        }
        y[(size_t)t * ldy + r] = tb_tsum_out(&acc, a->i8_scale[t]);
    }
}

void tb_gemm_tq1_0_scalar(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    int nb = w->k / TB_QK_K;
    FOR_OUTPUTS {
        const tb_block_tq1_0 *wb = (const tb_block_tq1_0 *)(w->data + (size_t)r * w->row_bytes);
        const int8_t *q = a->i8 + (size_t)t * w->k;
        const int32_t *bsum = a->i8_bsum + (size_t)t * (w->k / 128);
        tb_tsum acc = tb_tsum_new();
        for (int b = 0; b < nb; b++, q += TB_QK_K) {
            int32_t isum = -(bsum[2 * b] + bsum[2 * b + 1]);
            for (int n = 0; n < 5; n++) {
                for (int m = 0; m < 32; m++)
                    isum += tb_tq1_digit(wb[b].qs[m], n) * q[m + 32 * n];
                for (int m = 0; m < 16; m++)
                    isum += tb_tq1_digit(wb[b].qs[32 + m], n) * q[160 + m + 16 * n];
            }
            for (int n = 0; n < 4; n++)
                for (int j = 0; j < 4; j++)
                    isum += tb_tq1_digit(wb[b].qh[j], n) * q[240 + j + 4 * n];
            tb_tsum_add(&acc, tb_f16_to_f32(wb[b].d), isum);
        }
        y[(size_t)t * ldy + r] = tb_tsum_out(&acc, a->i8_scale[t]);
    }
}

void tb_gemm_tl2_scalar(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    int groups = (w->k + 2) / 3;
    FOR_OUTPUTS {
        const uint8_t *tile = w->data + (size_t)(r / TB_TL2_ROWS) * w->tile_bytes;
        const uint8_t *lut = a->lut + (size_t)t * groups * 32;
        int i = r % TB_TL2_ROWS;
        int32_t isum = 0;
        for (int g = 0; g < groups; g++, tile += TB_TL2_GROUP_BYTES, lut += 32) {
            int m = i < 16 ? tile[i] & 0xf : tile[i - 16] >> 4;
            uint16_t sw;
            memcpy(&sw, tile + 16 + 2 * ((i / 8) % 2), 2);
            int v = tb_tl2_entry(lut, m);
            isum += (sw >> ((i % 8) + (i >= 16 ? 8 : 0))) & 1 ? -v : v;
        }
        y[(size_t)t * ldy + r] = tb_ternary_out1(isum, a->i8_scale[t], w->scale);
    }
}

void tb_scores_f16_scalar(const float *q, const tb_f16 *k, size_t stride, int n, int d, float *out)
{
    for (int t = 0; t < n; t++) {
        const tb_f16 *kt = k + (size_t)t * stride;
        float s = 0;
        for (int i = 0; i < d; i++)
            s += q[i] * tb_f16_to_f32(kt[i]);
        out[t] = s;
    }
}

void tb_wsum_f16_scalar(const float *p, const tb_f16 *v, size_t stride, int n, int d, float *out)
{
    for (int i = 0; i < d; i++)
        out[i] = 0;
    for (int t = 0; t < n; t++)
        for (int i = 0; i < d; i++)
            out[i] += p[t] * tb_f16_to_f32(v[(size_t)t * stride + i]);
}
