/*
 * t167_avx512.c - the t1_67 kernel for AVX-512 with VBMI (Ice Lake, Zen 4
 * and later). This file alone is compiled with VBMI; tb_gemm_select picks it
 * only where the CPU has VBMI, and the AVX2 kernel otherwise.
 *
 * Decoding half a block (32 codes, 20 bytes) takes three byte shuffles:
 *   VPERMB spreads bytes 5q..5q+4 into qword q (q = 0..3);
 *   VPMULTISHIFTQB copies the 8 bits from bit 5b of qword q into byte 8q + b,
 *     so byte i holds code i in its bits 4-0 (and other codes' bits above);
 *   VPERMB looks the code up in tb_t167_codes: a 256-bit VPERMB reads only
 *     the index's bits 4-0, so the bits above need no mask.
 * The looked-up byte holds the three weights' codes (w + 1) in bits 1-0, 3-2
 * and 5-4. Masking each field in place leaves c << 2d; VPDPBUSD multiplies
 * it with the activations of weights j + 64 d, each field in its own
 * accumulators, shifted down once at the end (every term is a multiple of
 * 2^2d: exact). In 256-bit vectors: Zen 4 runs 512-bit VPERMB and
 * VPMULTISHIFTQB several times slower than two 256-bit ones (a 512-bit
 * version of this loop decoded at 21 against 70 G weights/s on one core).
 * The spreading VPERMB stays: three merge-masked loads in its place (qword q
 * loaded from p - 3q) cost more than the shuffle saved (`ternbench kernels`,
 * one thread, rows in L2: 17.0 against 20.6 GB/s).
 */
#include <immintrin.h>

#include "kernels_impl.h"
#include "tiles.h"

/* qword q takes bytes 5q..5q+4 (its bytes 5-7: unused); byte b of a qword
 * takes the 8 bits from bit 5b */
static const uint8_t spread[32] = {0,  1,  2,  3,  4,  4,  4,  4,  5,  6,  7,  8,  9,  9,  9,  9,
                                   10, 11, 12, 13, 14, 14, 14, 14, 15, 16, 17, 18, 19, 19, 19, 19};
static const uint8_t shifts[32] = {0, 5, 10, 15, 20, 25, 30, 35, 0, 5, 10, 15, 20, 25, 30, 35,
                                   0, 5, 10, 15, 20, 25, 30, 35, 0, 5, 10, 15, 20, 25, 30, 35};

typedef struct {
    __m256i spread, shifts, table, mask[3];
} t167_consts;

/* 32 codes from 20 bytes: byte i = the codes of weights i, i + 64, i + 128
 * in bits 1-0, 3-2, 5-4. A masked load: nothing past the 20 bytes is read. */
INLINE __m256i t167_decode(const uint8_t *p, const t167_consts *c)
{
    __m256i raw = _mm256_maskz_loadu_epi8(0xfffff, p);
    __m256i codes = _mm256_multishift_epi64_epi8(c->shifts, _mm256_permutexvar_epi8(c->spread, raw));
    return _mm256_permutexvar_epi8(codes, c->table);
}

enum { STRIDE = TB_T167_ROWS * TB_T167_BLOCK_BYTES }; /* from a row's block to its next */

/* A tail chunk's 64 codes (16 bytes; byte p holds weights p + 16 f at bits
 * 2f): weights 0-31 in lo, 32-63 in hi. */
INLINE void t167_chunk(const uint8_t *p, __m256i *lo, __m256i *hi)
{
    const __m256i three = _mm256_set1_epi8(3);
    __m256i bb = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p));
    *lo = _mm256_and_si256(_mm256_srlv_epi64(bb, _mm256_set_epi64x(2, 2, 0, 0)), three);
    *hi = _mm256_and_si256(_mm256_srlv_epi64(bb, _mm256_set_epi64x(6, 6, 4, 4)), three);
}

/* Field sums (field d at shift 2d) -> one vector whose lanes add to the dot. */
INLINE __m256i t167_fields(const __m256i acc[3])
{
    return _mm256_add_epi32(acc[0], _mm256_add_epi32(_mm256_srai_epi32(acc[1], 2),
                                                     _mm256_srai_epi32(acc[2], 4)));
}

/* One row x T tokens, the weights read as they lie: the rows outside whole
 * tiles, and prompts whose k is too long to stage (t167_gemm_staged): each
 * half block is decoded once for the T tokens. */
INLINE void t167_tile(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r, int t,
                      const t167_consts *c, const int T)
{
    const int k = w->k;
    const uint8_t *p = tb_t167_block(w, r, 0);
    const int8_t *q[4];
    __m256i acc[4][3];
    for (int j = 0; j < T; j++) {
        q[j] = a->i8 + (size_t)(t + j) * k;
        for (int d = 0; d < 3; d++)
            acc[j][d] = _mm256_setzero_si256();
    }
    int b = 0;
    for (; b + TB_T167_BLOCK <= k; b += TB_T167_BLOCK, p += STRIDE)
        for (int h = 0; h < 2; h++) {
            __m256i v = t167_decode(p + 20 * h, c);
            __m256i f[3];
            for (int d = 0; d < 3; d++)
                f[d] = _mm256_and_si256(v, c->mask[d]);
            for (int j = 0; j < T; j++)
                for (int d = 0; d < 3; d++) {
                    __m256i x = _mm256_loadu_si256((const __m256i *)(q[j] + b + 32 * h + 64 * d));
                    acc[j][d] = _mm256_dpbusd_epi32(acc[j][d], f[d], x);
                }
        }
    p = tb_t167_chunk0(w, r);
    for (; b < k; b += TB_T167_TAIL, p += TB_T167_ROWS * 16) {
        __m256i lo, hi;
        t167_chunk(p, &lo, &hi);
        for (int j = 0; j < T; j++) {
            acc[j][0] = _mm256_dpbusd_epi32(acc[j][0], lo, _mm256_loadu_si256((const __m256i *)(q[j] + b)));
            acc[j][0] = _mm256_dpbusd_epi32(acc[j][0], hi, _mm256_loadu_si256((const __m256i *)(q[j] + b + 32)));
        }
    }
    for (int j = 0; j < T; j++) {
        __m256i s = t167_fields(acc[j]);
        __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
        int32_t isum = _mm_cvtsi128_si32(h) - a->i8_sum[t + j]; /* codes are w + 1 */
        y[(size_t)(t + j) * ldy + r] = tb_ternary_out1(isum, a->i8_scale[t + j], w->scale);
    }
}

/* One token: a half block's three fields into acc (x: its activations). */
INLINE void t167_half_dot(const uint8_t *p, const __m256i x[3], const t167_consts *c, __m256i acc[3])
{
    __m256i v = t167_decode(p, c);
    for (int d = 0; d < 3; d++)
        acc[d] = _mm256_dpbusd_epi32(acc[d], _mm256_and_si256(v, c->mask[d]), x[d]);
}

/* One token over whole tiles: the four rows of a tile are one forward
 * stream, and each activation vector, loaded once, serves all four (twelve
 * VPDPBUSD chains), and four rows share one horizontal sum. Against one row
 * at a time with the same decode, one thread (ternbench kernels, 6912 x
 * 2560): 14.1-15.3 -> 15.1-19.3 GB/s; about the same at k = 6912. Reading
 * two rows at once from their own places (rows not tiled) fell to 6 GB/s. */
static void t167_gemv4(const tb_matrix *w, const tb_act *a, float *y, int r0, int r1,
                       const t167_consts *c)
{
    const int k = w->k, nb = k / TB_T167_BLOCK;
    const int8_t *const q = a->i8;
    const __m128 s = _mm_set1_ps(a->i8_scale[0]), scale = _mm_set1_ps(w->scale);
    const __m128i qsum = _mm_set1_epi32(a->i8_sum[0]);
    for (int r = r0; r < r1; r += TB_T167_ROWS) {
        const uint8_t *p = tb_t167_block(w, r, 0);
        __m256i acc[4][3];
        for (int i = 0; i < 4; i++)
            for (int d = 0; d < 3; d++)
                acc[i][d] = _mm256_setzero_si256();
        for (int b = 0; b < nb; b++, p += STRIDE)
            for (int h = 0; h < 2; h++) {
                __m256i x[3];
                for (int d = 0; d < 3; d++)
                    x[d] = _mm256_loadu_si256((const __m256i *)(q + b * TB_T167_BLOCK + 32 * h + 64 * d));
                for (int i = 0; i < 4; i++)
                    t167_half_dot(p + i * TB_T167_BLOCK_BYTES + 20 * h, x, c, acc[i]);
            }
        p = tb_t167_chunk0(w, r);
        for (int v = nb * TB_T167_BLOCK; v < k; v += TB_T167_TAIL, p += TB_T167_ROWS * 16) {
            __m256i x0 = _mm256_loadu_si256((const __m256i *)(q + v));
            __m256i x1 = _mm256_loadu_si256((const __m256i *)(q + v + 32));
            for (int i = 0; i < 4; i++) {
                __m256i lo, hi;
                t167_chunk(p + 16 * i, &lo, &hi);
                acc[i][0] = _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(acc[i][0], lo, x0), hi, x1);
            }
        }
        tb_ternary_out4(y + r, t167_fields(acc[0]), t167_fields(acc[1]), t167_fields(acc[2]),
                        t167_fields(acc[3]), qsum, s, scale);
    }
}

/* Prompt: each whole tile's four rows are decoded once into a buffer that
 * stays in L1/L2, and every token then reads them from there. A block's two
 * decoded halves side by side make one 512-bit vector whose byte i holds the
 * codes of weights i + 64 d in field d, so field d meets the 64 activations
 * from 64 d on, and a field shifted down to bits 1-0 shares one accumulator
 * per row and token. A tail chunk is staged as its 64 codes.
 * 2 threads, batch 128 (ternbench kernels --op gemm): 6912x2560 437 -> 710
 * GOP/s, 2560x6912 455 -> 743, i2_s beside it 692 and 781; 1024x14336 at
 * i2_s's speed where t167_tile alone reached half of it. Before it, four rows
 * of t167_tile at once (364-401 GOP/s) and one row staged at a time (271-344:
 * every row re-read all the tokens' activations) had lost to t167_tile;
 * after it, staging one byte per weight (no shift or mask per pass, four
 * times the buffer) ran 604-658 against i2_s's 606-790 at the same time. */
enum {
    STAGE_MAX_K = 32768, /* larger k: t167_tile (the buffer is on the stack, 44 KB) */
    STAGE_ROW_BYTES = STAGE_MAX_K / TB_T167_BLOCK * 64 + 2 * 64, /* blocks, then up to two tail chunks */
};

/* Rows r .. r + 3 (a whole tile) into st: block b of row i at 64 (4 b + i),
 * then tail chunk c of row i at 64 (4 (nb + c) + i). */
static void t167_stage(const tb_matrix *w, int r, uint8_t *st, const t167_consts *c)
{
    const int nb = w->k / TB_T167_BLOCK;
    const uint8_t *p = tb_t167_block(w, r, 0);
    for (int b = 0; b < nb * TB_T167_ROWS; b++, p += TB_T167_BLOCK_BYTES, st += 64) {
        _mm256_storeu_si256((__m256i *)st, t167_decode(p, c));
        _mm256_storeu_si256((__m256i *)(st + 32), t167_decode(p + 20, c));
    }
    p = tb_t167_chunk0(w, r);
    for (int v = nb * TB_T167_BLOCK; v < w->k; v += TB_T167_TAIL)
        for (int i = 0; i < TB_T167_ROWS; i++, p += 16, st += 64) {
            __m256i lo, hi;
            t167_chunk(p, &lo, &hi);
            _mm256_storeu_si256((__m256i *)st, lo);
            _mm256_storeu_si256((__m256i *)(st + 32), hi);
        }
}

/* Four staged rows x T tokens from token t. */
INLINE void staged_tile(const tb_matrix *w, const uint8_t *st, const tb_act *a, float *y, int ldy,
                        int r, int t, const int T)
{
    const int k = w->k, nb = k / TB_T167_BLOCK;
    const __m512i three = _mm512_set1_epi8(3);
    const int8_t *q[4];
    __m512i acc[4][4];
    for (int j = 0; j < T; j++) {
        q[j] = a->i8 + (size_t)(t + j) * k;
        for (int i = 0; i < TB_T167_ROWS; i++)
            acc[i][j] = _mm512_setzero_si512();
    }
    for (int b = 0; b < nb; b++, st += 64 * TB_T167_ROWS)
        for (int d = 0; d < 3; d++) {
            __m512i x[4];
            for (int j = 0; j < T; j++)
                x[j] = _mm512_loadu_si512(q[j] + b * TB_T167_BLOCK + 64 * d);
            for (int i = 0; i < TB_T167_ROWS; i++) {
                __m512i f = _mm512_loadu_si512(st + 64 * i);
                f = _mm512_and_si512(d ? _mm512_srli_epi16(f, 2 * d) : f, three);
                for (int j = 0; j < T; j++)
                    acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], f, x[j]);
            }
        }
    for (int v = nb * TB_T167_BLOCK; v < k; v += TB_T167_TAIL, st += 64 * TB_T167_ROWS) {
        __m512i x[4];
        for (int j = 0; j < T; j++)
            x[j] = _mm512_loadu_si512(q[j] + v);
        for (int i = 0; i < TB_T167_ROWS; i++) {
            __m512i f = _mm512_loadu_si512(st + 64 * i);
            for (int j = 0; j < T; j++)
                acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], f, x[j]);
        }
    }
    for (int i = 0; i < TB_T167_ROWS; i++)
        for (int j = 0; j < T; j++) {
            int32_t isum = _mm512_reduce_add_epi32(acc[i][j]) - a->i8_sum[t + j];
            y[(size_t)(t + j) * ldy + r + i] = tb_ternary_out1(isum, a->i8_scale[t + j], w->scale);
        }
}

#define STAGE(r) t167_stage(w, r, st, c)
#define STAGED_TILE(r, t, T) staged_tile(w, st, a, y, ldy, r, t, T)

/* Whole tiles [r0, r1) of rows, staged one at a time. */
static void t167_gemm_staged(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1,
                             const t167_consts *c)
{
    uint8_t st[TB_T167_ROWS * STAGE_ROW_BYTES] __attribute__((aligned(64)));
    STAGED(TB_T167_ROWS, 4, STAGE, STAGED_TILE);
}

#define T167_TILE(r, t, R, T) t167_tile(w, a, y, ldy, r, t, c, T)

static void t167_rows(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1,
                      const t167_consts *c)
{
    TILED(1, 4, T167_TILE);
}

void tb_gemm_t1_67_avx512(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1)
{
    t167_consts c = {.spread = _mm256_loadu_si256((const __m256i *)spread),
                     .shifts = _mm256_loadu_si256((const __m256i *)shifts),
                     .table = _mm256_loadu_si256((const __m256i *)tb_t167_codes)};
    for (int d = 0; d < 3; d++)
        c.mask[d] = _mm256_set1_epi8((char)(3 << 2 * d));
    /* whole tiles: four rows per pass for one token, staged for a prompt
     * (unless k is too long); rows outside them alone */
    int t0 = (r0 + TB_T167_ROWS - 1) / TB_T167_ROWS * TB_T167_ROWS, t1 = r1 / TB_T167_ROWS * TB_T167_ROWS;
    if (t0 >= t1 || (a->n > 1 && w->k > STAGE_MAX_K)) {
        t167_rows(w, a, y, ldy, r0, r1, &c);
        return;
    }
    t167_rows(w, a, y, ldy, r0, t0, &c);
    if (a->n == 1)
        t167_gemv4(w, a, y, t0, t1, &c);
    else
        t167_gemm_staged(w, a, y, ldy, t0, t1, &c);
    t167_rows(w, a, y, ldy, t1, r1, &c);
}
