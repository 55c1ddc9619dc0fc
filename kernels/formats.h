/*
 * formats.h - weight and activation formats: their byte layouts, a
 * type-traits table, and the matrix-vector (GEMV) and matrix-matrix (GEMM)
 * entry points per format and ISA.
 *
 * Weights (rows x k, row-major, k a multiple of the block size):
 *   f32, f16, bf16   plain
 *   q8_0             llama.cpp: 32 values = fp16 d + 32 int8           (8.5 bits)
 *   q4_0             llama.cpp: 32 values = fp16 d + 16 bytes of nibbles (4.5 bits)
 *   i2_s             bitnet.cpp: 128 values in 32 bytes, byte p holding values
 *                    p, p+32, p+64, p+96 in bits 7-6, 5-4, 3-2, 1-0 as code w+1;
 *                    after all rows one float32 scale and 28 pad bytes  (2 bits)
 *   tq2_0            llama.cpp: 256 values = 64 bytes (byte m of each 32-byte
 *                    half holds values m, m+32, m+64, m+96 in bits 1-0, 3-2,
 *                    5-4, 7-6) + fp16 d                                 (2.06 bits)
 *   tq1_0            llama.cpp: 256 values = 48 bytes of 5 trits + 4 bytes of
 *                    4 trits + fp16 d                                   (1.69 bits)
 *   tl2              ternbench's lookup-table format in the spirit of bitnet.cpp's
 *                    TL2: each 3 weights (w0 w1 w2) of a row become idx = 9 w0 +
 *                    3 w1 + w2 in -13..13, stored as |idx| in 4 bits plus a sign
 *                    bit. Rows are stored in tiles of 32: per group of 3 columns,
 *                    16 bytes of magnitudes (byte i: row i low nibble, row i+16
 *                    high) and two 16-bit sign words (word 0: rows 0-7 and 16-23,
 *                    word 1: rows 8-15 and 24-31, bit b for the b-th row listed).
 *                    Rows pad to a multiple of 32 and columns to one of 3 with
 *                    zeros; after the tiles, a float32 scale and 28 zero bytes.
 *                    20 bytes per 96 weights                            (1.67 bits)
 *   t1_67            ternbench's decode format: 192 weights in 40 bytes, three per
 *                    5-bit code. Code j (0..63) of a block = 9 c0 + 3 c1 + c2 for
 *                    the block's weights j, j + 64, j + 128 (c = w + 1), at bits
 *                    5j..5j+4 of the block read as one little-endian number. A
 *                    row's last k % 192 weights (k is a multiple of 128) follow as
 *                    16-byte chunks of 64, byte p holding weights p, p+16, p+32,
 *                    p+48 in bits 1-0, 3-2, 5-4, 7-6 as codes w + 1. Rows are
 *                    stored in tiles of four (the last padded with unused rows):
 *                    block 0 of the tile's four rows in row order, block 1, ...,
 *                    then tail chunk 0 of the four rows, chunk 1; so a kernel
 *                    reads four rows as one forward stream. After the tiles one
 *                    float32 scale and 28 zero bytes, as i2_s.      (1.67 bits)
 *   q6_k, q2_k, q3_k, q4_k, q5_k, iq4_nl, iq4_xs
 *                    llama.cpp's K-quants and 4-bit non-linear formats, bit for
 *                    bit (layouts below)                     (6.56 ... 2.63 bits)
 * Activations, quantised once per token and shared by every row:
 *   TB_ACT_F32       f32/f16/bf16 weights multiply float activations
 *   TB_ACT_Q8_0      q8_0/q4_0/iq4_nl weights: llama.cpp's q8_0 blocks
 *   TB_ACT_Q8_K      K-quant and iq4_xs weights: llama.cpp's q8_K blocks (256 values, float
 *                    d = max / -127 for the value of largest magnitude, int8
 *                    codes and their sums per 16)
 *   TB_ACT_I8        ternary weights (W1.58A8): per-token absmax int8,
 *                    s = 127 / max(max|x|, 1e-5), q = clamp(rne(x s), -128, 127),
 *                    with sum(q) kept for the code offset.
 *   TB_ACT_I8_LUT    the same int8 activations plus, for tl2, a table per group
 *                    of 3: entry m (0..13) = the dot product of the weights that
 *                    magnitude m encodes with the 3 activations (int16, exact).
 *
 * Ternary results are exact: integer sums per scale block, combined in double
 * (exact for any realistic k), divided by s and rounded to float once. So
 *   y[r] = (float)( sum_b d_b * sum_{k in b} w[r,k] q[k] / s )
 * holds bit for bit in every ISA, and i2_s, tq2_0 and tq1_0 holding the same
 * ternary matrix with the same scale give identical outputs.
 */
#ifndef TB_FORMATS_H
#define TB_FORMATS_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu.h"
#include "half.h"
#include "tb_error.h"

typedef enum tb_format {
    TB_FMT_F32,
    TB_FMT_F16,
    TB_FMT_BF16,
    TB_FMT_Q8_0,
    TB_FMT_Q4_0,
    TB_FMT_I2_S,
    TB_FMT_TQ2_0,
    TB_FMT_TQ1_0,
    TB_FMT_TL2,
    TB_FMT_Q6_K,
    TB_FMT_Q2_K,
    TB_FMT_Q3_K,
    TB_FMT_Q4_K,
    TB_FMT_Q5_K,
    TB_FMT_IQ4_NL,
    TB_FMT_IQ4_XS,
    TB_FMT_T1_67,
    TB_FMT_COUNT
} tb_format;

typedef enum tb_act_kind { TB_ACT_F32, TB_ACT_Q8_0, TB_ACT_I8, TB_ACT_I8_LUT, TB_ACT_Q8_K } tb_act_kind;
#define TB_ACT_KINDS 5

/* ---- block layouts ---- */

#define TB_QK8_0 32
typedef struct { tb_f16 d; int8_t qs[TB_QK8_0]; } tb_block_q8_0;
static_assert(sizeof(tb_block_q8_0) == 34, "q8_0 block is 34 bytes");

#define TB_QK4_0 32
typedef struct { tb_f16 d; uint8_t qs[TB_QK4_0 / 2]; } tb_block_q4_0;
static_assert(sizeof(tb_block_q4_0) == 18, "q4_0 block is 18 bytes");

#define TB_QK_K 256
typedef struct { uint8_t qs[TB_QK_K / 4]; tb_f16 d; } tb_block_tq2_0;
static_assert(sizeof(tb_block_tq2_0) == 66, "tq2_0 block is 66 bytes");

typedef struct { uint8_t qs[48]; uint8_t qh[4]; tb_f16 d; } tb_block_tq1_0;
static_assert(sizeof(tb_block_tq1_0) == 54, "tq1_0 block is 54 bytes");

/* llama.cpp's Q6_K: 256 values of 6 bits (low 4 in ql, high 2 in qh), one
 * int8 scale per 16 values, an f16 super-scale. Value v of the block:
 * half h = v / 128, quarter q = (v % 128) / 32, l = v % 32; its low nibble is
 * ql[64h + 32(q & 1) + l] (high nibble when q >= 2), its high bits
 * qh[32h + l] >> 2q, its scale scales[8h + 2q + l / 16] = scales[v / 16];
 * w = d * scale * (u - 32). */
typedef struct { uint8_t ql[TB_QK_K / 2]; uint8_t qh[TB_QK_K / 4]; int8_t scales[TB_QK_K / 16];
                 tb_f16 d; } tb_block_q6_K;
static_assert(sizeof(tb_block_q6_K) == 210, "q6_K block is 210 bytes");

/* llama.cpp's q8_K: the activation blocks its K-quants multiply. */
typedef struct { float d; int8_t qs[TB_QK_K]; int16_t bsums[TB_QK_K / 16]; } tb_block_q8_K;
static_assert(sizeof(tb_block_q8_K) == 292, "q8_K block is 292 bytes");

/* The 6-bit code (0..63) of value v of a Q6_K block, and its scale's index. */
static inline int tb_q6_K_code(const tb_block_q6_K *b, int v)
{
    int h = v / 128, q = (v % 128) / 32, l = v % 32;
    uint8_t lo = b->ql[64 * h + 32 * (q & 1) + l];
    return (q >= 2 ? lo >> 4 : lo & 0xf) | ((b->qh[32 * h + l] >> (2 * q)) & 3) << 4;
}
static inline int tb_q6_K_scale_index(int v)
{
    return v / 16; /* = 8h + 2q + l / 16 */
}

/* The other K-quants and the IQ4 formats, as llama.cpp lays them out. In a
 * 256-value block, value v lies in half n = v / 128, quarter j = (v % 128) / 32,
 * at l = v % 32 (Q2_K, Q3_K), or in sub-block v / 32 (Q4_K, Q5_K, IQ4_XS).
 *   Q2_K   w = d (sc & 15) u - dmin (sc >> 4), u = qs[32n + l] >> 2j & 3,
 *          sc = scales[v / 16]                                        (2.63 bits)
 *   Q3_K   w = d (s - 32) (u - 4), u = (qs[32n + l] >> 2j & 3) | 4 if bit
 *          4n + j of hmask[l] is set, s = the 6-bit scale v / 16 (tb_q3_K_scale)
 *                                                                      (3.44 bits)
 *   Q4_K   w = d sc u - dmin m, u = nibble (v % 64 < 32 ? low : high) of
 *          qs[32 (v / 64) + v % 32]; sc, m the 6-bit pair of sub-block v / 32
 *          (tb_k4_scale_min)                                           (4.5 bits)
 *   Q5_K   as Q4_K with u | 16 if bit v / 32 of qh[v % 32] is set       (5.5 bits)
 *   IQ4_NL 32 values: w = d tb_iq4_values[u], u = nibble (v < 16 ? low : high)
 *          of qs[v % 16]                                               (4.5 bits)
 *   IQ4_XS 256 values, eight IQ4_NL-like sub-blocks sharing d, each with a
 *          6-bit scale s (tb_iq4_xs_scale): w = d (s - 32) tb_iq4_values[u] (4.25 bits) */
typedef struct { uint8_t scales[16]; uint8_t qs[64]; tb_f16 d, dmin; } tb_block_q2_K;
static_assert(sizeof(tb_block_q2_K) == 84, "q2_K block is 84 bytes");
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; tb_f16 d; } tb_block_q3_K;
static_assert(sizeof(tb_block_q3_K) == 110, "q3_K block is 110 bytes");
typedef struct { tb_f16 d, dmin; uint8_t scales[12]; uint8_t qs[128]; } tb_block_q4_K;
static_assert(sizeof(tb_block_q4_K) == 144, "q4_K block is 144 bytes");
typedef struct { tb_f16 d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } tb_block_q5_K;
static_assert(sizeof(tb_block_q5_K) == 176, "q5_K block is 176 bytes");
#define TB_QK4_NL 32
typedef struct { tb_f16 d; uint8_t qs[TB_QK4_NL / 2]; } tb_block_iq4_nl;
static_assert(sizeof(tb_block_iq4_nl) == 18, "iq4_nl block is 18 bytes");
typedef struct { tb_f16 d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[TB_QK_K / 2]; } tb_block_iq4_xs;
static_assert(sizeof(tb_block_iq4_xs) == 136, "iq4_xs block is 136 bytes");

/* The sixteen levels of IQ4_NL and IQ4_XS. */
extern const int8_t tb_iq4_values[16];

/* Q4_K/Q5_K: the 6-bit scale and min of sub-block j (0..7) in the 12 bytes:
 * j < 4 in the low 6 bits of bytes j and j + 4; otherwise the low and high
 * nibbles of byte j + 4, topped by the high 2 bits of bytes j - 4 and j. */
static inline void tb_k4_scale_min(const uint8_t *q, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | (q[j - 4] >> 6) << 4;
        *m = (q[j + 4] >> 4) | (q[j] >> 6) << 4;
    }
}

/* Q3_K: scale i (0..15) as stored, 0..63 (the value is this - 32): its low 4
 * bits are nibble i / 8 of byte i % 8, its high 2 bits field i / 4 of byte
 * 8 + i % 4. */
static inline int tb_q3_K_scale(const uint8_t *s, int i)
{
    int lo = i < 8 ? s[i] & 0xf : s[i - 8] >> 4;
    return lo | ((s[8 + i % 4] >> (2 * (i / 4))) & 3) << 4;
}

/* IQ4_XS: sub-block ib's scale as stored, 0..63 (the value is this - 32). */
static inline int tb_iq4_xs_scale(const tb_block_iq4_xs *b, int ib)
{
    return ((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | ((b->scales_h >> (2 * ib)) & 3) << 4;
}

#define TB_I2S_BLOCK 128     /* values per 32-byte i2_s block */
#define TB_I2S_TAIL 32       /* float scale + 28 pad bytes after the rows */

#define TB_T167_BLOCK 192    /* values per 40-byte t1_67 block */
#define TB_T167_BLOCK_BYTES 40
#define TB_T167_TAIL 64      /* values per 16-byte two-bit chunk of a row's tail */
#define TB_T167_ROWS 4       /* rows per tile */

/* Bytes of one t1_67 row of k values (k a multiple of 128); a tile holds four. */
static inline size_t tb_t167_row_bytes(int k)
{
    return (size_t)(k / TB_T167_BLOCK) * TB_T167_BLOCK_BYTES +
           (size_t)(k % TB_T167_BLOCK / TB_T167_TAIL) * 16;
}

/* Code j (0..63) of a t1_67 block. */
static inline int tb_t167_code(const uint8_t *block, int j)
{
    int bit = 5 * j, byte = bit / 8, sh = bit % 8;
    unsigned v = block[byte] | (sh > 3 ? (unsigned)block[byte + 1] << 8 : 0u);
    return (int)(v >> sh) & 31;
}

/* The codes w + 1 that t1_67 code c packs, two bits each: c0 in bits 1-0,
 * c1 in 3-2, c2 in 5-4. Codes 27-31 never occur; they read as zeros. */
extern const uint8_t tb_t167_codes[32];

#define TB_TL2_ROWS 32       /* rows per tl2 tile */
#define TB_TL2_GROUP_BYTES 20 /* 16 bytes of magnitudes + 2 sign words, per 3 columns */

/* ---- matrices and activations ---- */

typedef struct tb_matrix {
    tb_format fmt;
    int rows, k;
    const uint8_t *data;     /* rows * row_bytes (+ the i2_s tail); tl2: tiles */
    size_t row_bytes;        /* tl2: 0 (rows are interleaved in tiles); t1_67: tb_t167_row_bytes */
    size_t tile_bytes;       /* tl2: bytes per tile of 32 rows */
    float scale;             /* i2_s, tl2, t1_67: the tensor's scale, read from its tail */
    int interleave;          /* i2_s: 4 when rows are interleaved in fours (tb_i2s_interleave); 0 */
} tb_matrix;

typedef struct tb_act {
    tb_act_kind kind;
    int k, n;                /* n tokens of k values (set by tb_act_quantize) */
    int cap;                 /* tokens allocated */
    float *f32;              /* TB_ACT_F32: n * k */
    tb_block_q8_0 *q8;       /* TB_ACT_Q8_0: n * k/32 blocks */
    float *q8_d;             /* TB_ACT_Q8_0: each block's d as float, repeated 8 times
                              * (n * k/32 * 8): one load gives a SIMD lane group its scale */
    int32_t *q8_sum;         /* TB_ACT_Q8_0: each block's sum of its 32 codes (n * k/32):
                              * the bias term of kernels that offset the weights */
    tb_block_q8_K *q8k;      /* TB_ACT_Q8_K: n * k/256 blocks */
    int8_t *i8;              /* TB_ACT_I8: n * k */
    float *i8_scale;         /* s per token */
    int32_t *i8_sum;         /* sum(q) per token */
    int32_t *i8_bsum;        /* sum(q) per 128-value chunk: n * k/128 */
    uint8_t *lut;            /* TB_ACT_I8_LUT: n * ceil(k/3) groups * 32 bytes: the 16
                              * int16 entries' low bytes, then their high bytes */
} tb_act;

/* y: n tokens x rows outputs, token-major (y[t * ldy + r]); rows [r0, r1). */
typedef void (*tb_gemm_fn)(const tb_matrix *w, const tb_act *a, float *y, int ldy, int r0, int r1);

typedef struct tb_format_traits {
    const char *name;
    int block;               /* values per block; k must be a multiple */
    size_t block_bytes;
    bool ternary;
    tb_act_kind act;
    /* Quantizes rows x k floats into dst (tb_format_bytes bytes). */
    int (*quantize)(const float *src, int rows, int k, uint8_t *dst, tb_error *err);
    /* Dequantizes row r of w into k floats. */
    void (*dequantize_row)(const tb_matrix *w, int r, float *dst);
    tb_gemm_fn gemm[TB_ISA_COUNT];   /* NULL: that ISA has no variant; scalar is never NULL */
} tb_format_traits;

const tb_format_traits *tb_format_get(tb_format fmt);

/* fmt's quantize on `threads` threads: the rows split among them where each
 * row is quantised alone (every format but the ternary ones, whose scale
 * spans the tensor); the same bytes as one call. */
int tb_format_quantize(tb_format fmt, const float *src, int rows, int k, uint8_t *dst, int threads,
                       tb_error *err);
/* "q8_0" -> TB_FMT_Q8_0; TB_EINVAL (listing the names) for anything else. */
int tb_format_parse(const char *name, tb_format *out, tb_error *err);
/* Bytes a rows x k matrix takes in fmt (i2_s, tl2 and t1_67 include their 32-byte tail). */
size_t tb_format_bytes(tb_format fmt, int rows, int k);
/* Average bits per weight of the packed rows. */
double tb_format_bits(tb_format fmt);

/* Points w at size bytes of data, checking k and size; reads i2_s's scale. */
int tb_matrix_init(tb_matrix *w, tb_format fmt, int rows, int k, const void *data, size_t size,
                   tb_error *err);

/* i2_s rows interleaved in fours: in each tile of four rows, the 64-byte
 * pairs of 128-value groups alternate (pair 0 of rows 0-3, then pair 1 of
 * rows 0-3, ...), so a kernel computing four rows at once reads one forward
 * stream and loads each activation vector once for all four. The AVX-512
 * and AVX2 GEMVs read it fastest (one thread, 4096x1536: 22 -> 29 and 16 ->
 * 23 GB/s); every ISA's kernels read both layouts, with the same results.
 * Possible where rows is a multiple of 4 and k of 256 (whole pairs). */
enum { TB_I2S_INTERLEAVE = 4 };
/* The layout isa's kernels want for w: TB_I2S_INTERLEAVE, or 0 for as is. */
int tb_matrix_preferred_interleave(const tb_matrix *w, tb_isa isa);
/* Writes w's bytes interleaved (tail included) to dst, which holds
 * tb_format_bytes() bytes and may be w->data itself (in place), and points w
 * at dst. w must be a plain i2_s matrix that tb_matrix_preferred_interleave
 * allows for some ISA. TB_ENOMEM (w untouched) for a tile buffer when
 * k > 16384. */
int tb_i2s_interleave(tb_matrix *w, uint8_t *dst, tb_error *err);
/* The same in parts, for threads: the tiles of rows [r0, r1) (multiples of
 * 4) into dst, w unchanged; then, once every tile is written, _done copies
 * the tail and points w at dst. */
int tb_i2s_interleave_rows(const tb_matrix *w, uint8_t *dst, int r0, int r1, tb_error *err);
void tb_i2s_interleave_done(tb_matrix *w, uint8_t *dst);

/* Activation buffers for up to n tokens of k values (64-byte aligned). */
int tb_act_alloc(tb_act *a, tb_act_kind kind, int n, int k, tb_error *err);
void tb_act_free(tb_act *a);
/* Quantizes n tokens (n <= the allocated count) of x (n * k floats) into a,
 * and sets a->n = n: the kernels compute that many tokens. */
void tb_act_quantize(tb_act *a, const float *x, int n);

/* Sets token t of int8 activations from q (k values) and its scale s, and
 * derives the sums (and tl2's tables) the kernels need. */
void tb_act_set_i8(tb_act *a, int t, const int8_t *q, float scale);

/* The kernel for fmt at the best variant not above isa; *used says which ran. */
tb_gemm_fn tb_gemm_select(tb_format fmt, tb_isa isa, tb_isa *used);

/* Attention over an f16 KV cache, per ISA. Rows t = 0..n-1 of a cache are
 * d values each, `stride` values apart; sums in f32.
 *   scores: out[t] = sum_i q[i] * k_t[i]
 *   wsum:   out[i] = sum_t p[t] * v_t[i]   (out is overwritten) */
typedef struct tb_vec_fns {
    void (*scores_f16)(const float *q, const tb_f16 *k, size_t stride, int n, int d, float *out);
    void (*wsum_f16)(const float *p, const tb_f16 *v, size_t stride, int n, int d, float *out);
} tb_vec_fns;
tb_vec_fns tb_vec_select(tb_isa isa);

/* Per-token W1.58A8 quantization (the reference the engine and tests use). */
float tb_quantize_i8_token(const float *x, int k, int8_t *q, int32_t *sum);

#endif
