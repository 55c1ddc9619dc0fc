/*
 * test_kernels.c - formats and kernels: byte layouts, round trips, every SIMD
 * variant against the scalar reference (ternary bit-exact, the others within
 * a stated error), edge values, threading.
 *
 * Weight buffers are malloc'd at their exact size so AddressSanitizer catches
 * any kernel that reads past its input.
 */
#include "testutil.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu.h"
#include "formats.h"
#include "threadpool.h"
#include "tb_time.h"

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static float rnd_normal(void)
{
    float u = (rnd() % 1000000 + 1) / 1000001.0f, v = (rnd() % 1000000) / 1000000.0f;
    return sqrtf(-2 * logf(u)) * cosf(6.2831853f * v);
}

/* A ternary matrix in {-1, 0, 1} * scale (scale f16-exact). */
static float *ternary_matrix(int rows, int k, float scale)
{
    float *m = malloc(sizeof(float) * rows * k);
    for (int i = 0; i < rows * k; i++)
        m[i] = ((int)(rnd() % 3) - 1) * scale;
    return m;
}

static uint8_t *quantize(tb_format fmt, const float *src, int rows, int k, tb_matrix *w)
{
    size_t bytes = tb_format_bytes(fmt, rows, k);
    uint8_t *buf = malloc(bytes); /* exact size: ASan guards the end */
    tb_error err;
    assert_int_equal(tb_format_get(fmt)->quantize(src, rows, k, buf, &err), TB_OK);
    assert_int_equal(tb_matrix_init(w, fmt, rows, k, buf, bytes, &err), TB_OK);
    return buf;
}

static void test_i2s_layout_by_hand(void **state)
{
    (void)state;
    /* 1 x 128: w[j] = pattern, scale 0.5. Byte p must hold codes of values
     * p, p+32, p+64, p+96 in bits 7-6, 5-4, 3-2, 1-0; then the scale; then zeros. */
    float x[128];
    int wv[128];
    for (int j = 0; j < 128; j++) {
        wv[j] = (j * 7 + j / 5) % 3 - 1;
        x[j] = wv[j] * 0.5f;
    }
    x[5] = 0.5f; /* make sure the scale is 0.5 */
    wv[5] = 1;
    tb_matrix w;
    uint8_t *buf = quantize(TB_FMT_I2_S, x, 1, 128, &w);
    assert_int_equal(tb_format_bytes(TB_FMT_I2_S, 1, 128), 128 / 4 + 32);
    for (int p = 0; p < 32; p++) {
        uint8_t want = (uint8_t)((wv[p] + 1) << 6 | (wv[p + 32] + 1) << 4 | (wv[p + 64] + 1) << 2 |
                                 (wv[p + 96] + 1));
        assert_int_equal(buf[p], want);
    }
    float scale;
    memcpy(&scale, buf + 32, 4);
    assert_true(scale == 0.5f);
    for (int i = 36; i < 64; i++)
        assert_int_equal(buf[i], 0);
    assert_true(w.scale == 0.5f);
    /* A concrete byte: values 0, 32, 64, 96 = -1, 0, +1, -1 -> 0b00_01_10_00 */
    float y[128] = {0};
    y[0] = -1, y[32] = 0, y[64] = 1, y[96] = -1, y[1] = 1;
    tb_matrix w2;
    uint8_t *b2 = quantize(TB_FMT_I2_S, y, 1, 128, &w2);
    assert_int_equal(b2[0], 0x18);
    assert_int_equal(b2[1], 0x95); /* value 1 = +1 -> 2<<6, others 0 -> 1 */
    free(buf);
    free(b2);
}

static void test_tq_layouts(void **state)
{
    (void)state;
    float x[256] = {0};
    x[0] = 1;   /* tq2_0: byte 0 bits 1-0 = 2 */
    x[32] = -1; /* byte 0 bits 3-2 = 0 */
    x[128] = 1; /* byte 32 bits 1-0 */
    tb_matrix w;
    uint8_t *b = quantize(TB_FMT_TQ2_0, x, 1, 256, &w);
    assert_int_equal(b[0], 2 | 0 << 2 | 1 << 4 | 1 << 6);
    assert_int_equal(b[32], 2 | 1 << 2 | 1 << 4 | 1 << 6);
    tb_f16 d;
    memcpy(&d, b + 64, 2);
    assert_true(tb_f16_to_f32(d) == 1.0f);
    free(b);
    /* tq1_0: all zeros encode digit 1 everywhere: 11111 base 3 = 121 -> ceil(121*256/243) */
    float z[256] = {0};
    z[0] = 0.25f;
    b = quantize(TB_FMT_TQ1_0, z, 1, 256, &w);
    assert_int_equal(b[1], (121 * 256 + 242) / 243);
    assert_int_equal(b[0], ((2 * 81 + 40) * 256 + 242) / 243); /* first digit 2 */
    free(b);
    /* tl2, row 17 of 18: group 0 = (1, -1, 0) -> idx 6; group 1 = (-1, -1, -1) -> -13 */
    float *t = calloc(18 * 128, sizeof(float));
    t[17 * 128 + 0] = 1, t[17 * 128 + 1] = -1;
    t[17 * 128 + 3] = t[17 * 128 + 4] = t[17 * 128 + 5] = -1;
    b = quantize(TB_FMT_TL2, t, 18, 128, &w);
    assert_int_equal(tb_format_bytes(TB_FMT_TL2, 18, 128), 43 * 20 + 32); /* one tile, 43 groups */
    assert_int_equal(b[1], 6 << 4);             /* row 17: byte 1, high nibble */
    assert_int_equal(b[20 + 1], 13 << 4);       /* group 1 */
    uint16_t sw0, sw1;
    memcpy(&sw0, b + 20 + 16, 2);               /* word 0 holds rows 0-7 and 16-23 */
    memcpy(&sw1, b + 16, 2);
    assert_int_equal(sw0, 1u << 9);             /* row 17 = second of 16-23 -> bit 9 */
    assert_int_equal(sw1, 0);
    float scale;
    memcpy(&scale, b + 43 * 20, 4);
    assert_true(scale == 1.0f);
    free(b);
    free(t);
}

static void compare_isas(tb_format fmt, int rows, int k, int n, const float *wsrc, const float *x);

/* t1_67, 1 x 512: two blocks and two tail chunks, in a tile of four rows
 * (blocks 160 bytes apart, chunks 64). Code j of a block packs weights j,
 * j + 64, j + 128 as 9 c0 + 3 c1 + c2 (c = w + 1) at bit 5j; tail byte p
 * holds weights 384 + 64 c + p + 16 f at bits 2f. Zeros are code 13. */
static void test_t167_layout(void **state)
{
    (void)state;
    float x[512] = {0};
    x[0] = 1;                  /* code 0: 9*2 + 3*1 + 1 = 22 */
    x[65] = -1, x[129] = 1;    /* code 1: 9*1 + 3*0 + 2 = 11 */
    x[191] = -1;               /* code 63: 9 + 3 + 0 = 12 */
    x[384 + 16 + 3] = 1;       /* chunk 0, byte 3, bits 3-2 = 2 */
    x[448 + 2] = -1;           /* chunk 1, byte 2, bits 1-0 = 0 */
    tb_matrix w;
    uint8_t *b = quantize(TB_FMT_T1_67, x, 1, 512, &w);
    assert_int_equal(w.row_bytes, 2 * 40 + 2 * 16);
    assert_int_equal(tb_format_bytes(TB_FMT_T1_67, 1, 512), 4 * 112 + 32);
    assert_int_equal(tb_format_bytes(TB_FMT_T1_67, 5, 512), 8 * 112 + 32);
    assert_int_equal(b[0] & 31, 22);
    assert_int_equal((b[0] >> 5 | b[1] << 3) & 31, 11);
    assert_int_equal(b[39] >> 3, 12);
    for (int j = 2; j < 63; j++)
        assert_int_equal(tb_t167_code(b, j), 13);
    for (int j = 0; j < 64; j++)
        assert_int_equal(tb_t167_code(b + 160, j), 13);
    for (int p = 0; p < 16; p++) {
        assert_int_equal(b[320 + p], p == 3 ? 0x59 : 0x55);
        assert_int_equal(b[384 + p], p == 2 ? 0x54 : 0x55);
    }
    float scale;
    memcpy(&scale, b + 4 * 112, 4);
    assert_true(scale == 1.0f && w.scale == 1.0f);
    float y[512];
    tb_format_get(TB_FMT_T1_67)->dequantize_row(&w, 0, y);
    assert_memory_equal(x, y, sizeof x);
    free(b);
    /* every ISA against the scalar kernel where k is not a multiple of 192:
     * a tail alone, and blocks with one and two tail chunks; one token, and
     * prompts with and without whole tiles of four tokens; a k above what
     * the AVX-512 prompt kernel stages (it then reads the rows in place) */
    static const int ks[] = {128, 256, 512, 640, 33152}, ns[] = {1, 5, 2, 6, 7};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        int rows = 11, k = ks[i], n = ns[i]; /* two whole tiles and three rows */
        float *wsrc = ternary_matrix(rows, k, 0.375f), *xs = malloc(sizeof(float) * n * k);
        for (int j = 0; j < n * k; j++)
            xs[j] = rnd_normal();
        compare_isas(TB_FMT_T1_67, rows, k, n, wsrc, xs);
        free(wsrc);
        free(xs);
    }
    /* a range that starts and ends inside tiles: rows 3-9 of 11, for one
     * token and for five, in every ISA this CPU runs */
    int rows = 11, k = 640;
    float *wsrc = ternary_matrix(rows, k, 0.375f), *xs = malloc(sizeof(float) * 5 * k);
    for (int j = 0; j < 5 * k; j++)
        xs[j] = rnd_normal();
    tb_matrix w2;
    uint8_t *buf = quantize(TB_FMT_T1_67, wsrc, rows, k, &w2);
    tb_cpu_info cpu;
    tb_cpu_detect(&cpu);
    for (int n = 1; n <= 5; n += 4) {
        tb_act a;
        tb_error err;
        assert_int_equal(tb_act_alloc(&a, TB_ACT_I8, n, k, &err), TB_OK);
        tb_act_quantize(&a, xs, n);
        float ref[5 * 11], got[5 * 11];
        tb_gemm_select(TB_FMT_T1_67, TB_ISA_SCALAR, NULL)(&w2, &a, ref, rows, 0, rows);
        for (int isa = 1; isa < TB_ISA_COUNT; isa++) {
            tb_isa used;
            tb_gemm_fn fn = tb_gemm_select(TB_FMT_T1_67, (tb_isa)isa, &used);
            if (used != (tb_isa)isa || !tb_isa_supported(used, cpu.features))
                continue;
            memset(got, 0, sizeof got);
            fn(&w2, &a, got, rows, 3, 10);
            for (int t = 0; t < n; t++) {
                assert_memory_equal(ref + t * rows + 3, got + t * rows + 3, 7 * sizeof(float));
                assert_true(got[t * rows + 2] == 0 && got[t * rows + 10] == 0);
            }
        }
        tb_act_free(&a);
    }
    free(buf);
    free(wsrc);
    free(xs);
}

/* Q6_K as llama.cpp's dequantiser walks it (two halves of 128 values; in each,
 * 32 steps giving values l, l+32, l+64, l+96 from ql[l], ql[l+32], qh[l] at
 * shifts 0, 2, 4, 6 and scales sc[l/16 + 0, 2, 4, 6]) against ours, on random
 * bytes. */
static void test_q6_k_layout(void **state)
{
    (void)state;
    tb_block_q6_K b;
    uint8_t *raw = (uint8_t *)&b;
    for (size_t i = 0; i < sizeof b; i++)
        raw[i] = (uint8_t)(rnd() >> 7);
    b.d = tb_f32_to_f16(0.01f);
    float want[256], got[256];
    const uint8_t *ql = b.ql, *qh = b.qh;
    const int8_t *sc = b.scales;
    float *yy = want;
    for (int n = 0; n < 256; n += 128, ql += 64, qh += 32, sc += 8, yy += 128)
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = ((ql[l] & 0xf) | ((qh[l] & 3) << 4)) - 32;
            int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            float d = tb_f16_to_f32(b.d);
            yy[l] = d * sc[is] * q1;
            yy[l + 32] = d * sc[is + 2] * q2;
            yy[l + 64] = d * sc[is + 4] * q3;
            yy[l + 96] = d * sc[is + 6] * q4;
        }
    tb_matrix w;
    tb_error err;
    assert_int_equal(tb_matrix_init(&w, TB_FMT_Q6_K, 1, 256, raw, sizeof b, &err), TB_OK);
    tb_format_get(TB_FMT_Q6_K)->dequantize_row(&w, 0, got);
    assert_memory_equal(got, want, sizeof got);
}

static void test_round_trips(void **state)
{
    (void)state;
    int rows = 3, k = 512;
    float *t = ternary_matrix(rows, k, 0.75f);
    float out[512];
    for (int f = 0; f < TB_FMT_COUNT; f++) {
        tb_matrix w;
        uint8_t *buf = quantize((tb_format)f, t, rows, k, &w);
        /* lossless except q8_0 (d = amax/127 rounded to f16), q4_0 (levels -8..7
         * with d = max/-8: the far end clips by one step), q6_k (levels -32..31,
         * int8 sub-block scales against the largest: a few hundredths of a
         * step), q3_k (6-bit scales: an eighth of a step), q4_k/q5_k (the
         * 6-bit scales and mins in f16), iq4 (the non-uniform levels, up to
         * 24 of 127 apart, at the fitted scale: over 300 seeded matrices the
         * worst value was 0.75/11.8 off), q2_k (its fit
         * weighs each value by |x|, as llama.cpp's does: zeros weigh nothing
         * and land a third of the range away) */
        double tol = f == TB_FMT_Q8_0 ? 0.75 / 127 : f == TB_FMT_Q4_0 ? 0.75 / 8 * 1.001
                   : f == TB_FMT_Q6_K ? 0.75 / 128 : f == TB_FMT_Q3_K ? 0.75 / 32
                   : f == TB_FMT_Q4_K || f == TB_FMT_Q5_K ? 0.75 / 2048
                   : f == TB_FMT_IQ4_NL || f == TB_FMT_IQ4_XS ? 0.75 / 10
                   : f == TB_FMT_Q2_K ? 0.75 / 3 : 0;
        for (int r = 0; r < rows; r++) {
            tb_format_get((tb_format)f)->dequantize_row(&w, r, out);
            for (int i = 0; i < k; i++)
                if (fabs(out[i] - t[r * k + i]) > tol)
                    fail_msg("%s: row %d value %d: %g != %g", tb_format_get((tb_format)f)->name,
                             r, i, out[i], t[r * k + i]);
        }
        free(buf);
    }
    free(t);
}

/* The hardware's own fp32 -> fp16 (round to nearest even): an oracle that
 * shares no code with half.h. Returns false where there is none. */
#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("f16c"))) static uint16_t hw_f16(float f)
{
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}
static bool have_hw_f16(void)
{
    return __builtin_cpu_supports("f16c");
}
#elif defined(__aarch64__)
static uint16_t hw_f16(float f)
{
    __fp16 h = (__fp16)f;
    uint16_t u;
    memcpy(&u, &h, sizeof u);
    return u;
}
static bool have_hw_f16(void)
{
    return true;
}
#else
static uint16_t hw_f16(float f)
{
    (void)f;
    return 0;
}
static bool have_hw_f16(void)
{
    return false;
}
#endif

static void test_half_conversions(void **state)
{
    (void)state;
    assert_int_equal(tb_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(tb_f32_to_f16(-2.0f), 0xc000);
    assert_int_equal(tb_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(tb_f32_to_f16(65520.0f), 0x7c00);     /* rounds to inf */
    assert_int_equal(tb_f32_to_f16(5.9604645e-8f), 0x0001); /* smallest subnormal */
    assert_int_equal(tb_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00); /* tie -> even */
    assert_int_equal(tb_f32_to_f16(1.0f + 3.0f / 2048), 0x3c02); /* tie -> even (up) */
    for (uint32_t h = 0; h < 0x7c00; h++) /* every finite half survives the round trip */
        assert_int_equal(tb_f32_to_f16(tb_f16_to_f32((tb_f16)h)), h);
    if (have_hw_f16()) /* every 127th fp32 bit pattern, NaNs and infinities included */
        for (uint64_t u = 0; u <= 0xffffffffu; u += 127) {
            float f = tb_bits_f32((uint32_t)u);
            uint16_t want = hw_f16(f), got = tb_f32_to_f16(f);
            if (got != want && !((want & 0x7c00) == 0x7c00 && (want & 0x3ff) && (got & 0x3ff)))
                fail_msg("fp32 %08x: fp16 %04x, the hardware says %04x", (unsigned)u, got, want);
        }
    assert_int_equal(tb_f32_to_bf16(1.0f), 0x3f80);
    assert_true(tb_bf16_to_f32(0x3f80) == 1.0f);
}

/* Sum of |w| |x| over a row: the scale the float error bound is relative to. */
static double abs_dot(const tb_matrix *w, int r, const float *x)
{
    float *row = malloc(sizeof(float) * w->k);
    assert_non_null(row);
    tb_format_get(w->fmt)->dequantize_row(w, r, row);
    double s = 0;
    for (int i = 0; i < w->k; i++)
        s += fabs((double)row[i] * x[i]);
    free(row);
    return s;
}

/* Runs every ISA this CPU and build have against scalar, on one problem. */
static void compare_isas(tb_format fmt, int rows, int k, int n, const float *wsrc, const float *x)
{
    const tb_format_traits *tr = tb_format_get(fmt);
    tb_matrix w;
    uint8_t *buf = quantize(fmt, wsrc, rows, k, &w);
    tb_act a;
    tb_error err;
    assert_int_equal(tb_act_alloc(&a, tr->act, n, k, &err), TB_OK);
    tb_act_quantize(&a, x, n);
    float *ref = malloc(sizeof(float) * n * rows), *got = malloc(sizeof(float) * n * rows);
    tr->gemm[TB_ISA_SCALAR](&w, &a, ref, rows, 0, rows);
    tb_cpu_info cpu;
    tb_cpu_detect(&cpu);
    for (int isa = 1; isa < TB_ISA_COUNT; isa++) {
        tb_isa used; /* a variant this CPU cannot run (t1_67's needs VBMI) is not chosen */
        tb_gemm_fn fn = tb_gemm_select(fmt, (tb_isa)isa, &used);
        if (used != (tb_isa)isa || !tb_isa_supported((tb_isa)isa, cpu.features))
            continue;
        memset(got, 0xff, sizeof(float) * n * rows);
        fn(&w, &a, got, rows, 0, rows);
        for (int t = 0; t < n; t++)
            for (int r = 0; r < rows; r++) {
                float g = got[t * rows + r], e = ref[t * rows + r];
                if (tr->ternary) {
                    if (memcmp(&g, &e, sizeof g) != 0)
                        fail_msg("%s %s %dx%d n=%d: out[%d][%d] = %.9g, scalar %.9g (must be "
                                 "bit-exact)", tr->name, tb_isa_name((tb_isa)isa), rows, k, n, t,
                                 r, g, e);
                } else {
                    /* float/q8_0/q4_0: summation order differs; bound relative to sum |w x| */
                    double bound = 2e-6 * abs_dot(&w, r, x + (size_t)t * k) *
                                       (tr->act == TB_ACT_Q8_0 ? 2 : 1) + 1e-30;
                    if (!(fabs((double)g - e) <= bound))
                        fail_msg("%s %s %dx%d n=%d: out[%d][%d] = %.9g, scalar %.9g, bound %g",
                                 tr->name, tb_isa_name((tb_isa)isa), rows, k, n, t, r, g, e, bound);
                }
            }
    }
    free(ref);
    free(got);
    tb_act_free(&a);
    free(buf);
}

static void test_simd_matches_scalar(void **state)
{
    (void)state;
    static const int rows_list[] = {1, 3, 4, 5, 17, 67};
    static const int n_list[] = {1, 2, 3, 4, 5, 9};
    tb_cpu_info cpu;
    tb_cpu_detect(&cpu);
    for (int f = 0; f < TB_FMT_COUNT; f++) {
        const tb_format_traits *tr = tb_format_get((tb_format)f);
        bool simd = false; /* none on this CPU: nothing to compare */
        for (int isa = 1; isa < TB_ISA_COUNT; isa++)
            simd |= tr->gemm[isa] && tb_isa_supported((tb_isa)isa, cpu.features);
        if (!simd)
            continue;
        int kmin = tr->block < 128 && tr->ternary ? 128 : tr->block;
        if (kmin < 32)
            kmin = 1; /* float formats: any k, tails included */
        int k_list[] = {kmin, kmin == 1 ? 7 : kmin * 2, kmin == 1 ? 37 : kmin * 3, 768, 2560, 4128};
        /* the K-quant and IQ4 quantisers search scales per sub-block: slow
         * under qemu, so every other row and token count (tails still hit) */
        int step = tr->act == TB_ACT_Q8_K || f == TB_FMT_IQ4_NL ? 2 : 1;
        for (size_t ki = 0; ki < sizeof k_list / sizeof k_list[0]; ki++)
            for (size_t ri = 0; ri < sizeof rows_list / sizeof rows_list[0]; ri += step)
                for (size_t ni = step - 1; ni < sizeof n_list / sizeof n_list[0]; ni += step) {
                    int k = k_list[ki], rows = rows_list[ri], n = n_list[ni];
                    if (k % tr->block)
                        continue;
                    if (tr->act == TB_ACT_I8 && k % 128)
                        continue;
                    /* ternary formats also get real-looking weights every other
                     * case: tq1_0/tq2_0 then have a different scale per block */
                    bool real = !tr->ternary || ni % 2;
                    float *wsrc = real ? malloc(sizeof(float) * rows * k) : ternary_matrix(rows, k, 0.375f);
                    if (real)
                        for (int i = 0; i < rows * k; i++)
                            wsrc[i] = rnd_normal() * 0.02f;
                    float *x = malloc(sizeof(float) * n * k);
                    for (int i = 0; i < n * k; i++)
                        x[i] = rnd_normal();
                    compare_isas((tb_format)f, rows, k, n, wsrc, x);
                    free(wsrc);
                    free(x);
                }
    }
    /* k past one stretch of the AVX-512 q8_0/q4_0 GEMM's packed rows (256
     * blocks): its second stretch adds to the first */
    int rows = 33, k = 8288, n = 9;
    float *wsrc = malloc(sizeof(float) * rows * k), *x = malloc(sizeof(float) * n * k);
    for (int i = 0; i < rows * k; i++)
        wsrc[i] = rnd_normal() * 0.02f;
    for (int i = 0; i < n * k; i++)
        x[i] = rnd_normal();
    compare_isas(TB_FMT_Q8_0, rows, k, n, wsrc, x);
    compare_isas(TB_FMT_Q4_0, rows, k, n, wsrc, x);
    free(wsrc);
    free(x);
}

/* Every row of a and b dequantises to the same floats. */
static void assert_same_rows(const tb_matrix *a, const tb_matrix *b)
{
    const tb_format_traits *tr = tb_format_get(a->fmt);
    float *ra = malloc(sizeof(float) * a->k), *rb = malloc(sizeof(float) * b->k);
    for (int r = 0; r < a->rows; r++) {
        tr->dequantize_row(a, r, ra);
        tr->dequantize_row(b, r, rb);
        assert_memory_equal(ra, rb, sizeof(float) * a->k);
    }
    free(ra);
    free(rb);
}

/* i2_s rows interleaved in fours: every ISA's kernels (scalar included) give
 * the plain layout's scalar results bit for bit, over whole and partial row
 * ranges (the AVX-512 GEMV takes ranges on tile bounds, tiles the rest). */
static void test_i2s_interleaved(void **state)
{
    (void)state;
    static const int rows_list[] = {4, 8, 36, 68}, k_list[] = {256, 512, 1536, 2560};
    static const int n_list[] = {1, 2, 5};
    tb_cpu_info cpu;
    tb_cpu_detect(&cpu);
    const tb_format_traits *tr = tb_format_get(TB_FMT_I2_S);
    tb_error err;
    for (size_t ri = 0; ri < 4; ri++)
        for (size_t ki = 0; ki < 4; ki++) {
            int rows = rows_list[ri], k = k_list[ki];
            float *wsrc = ternary_matrix(rows, k, 0.4375f);
            tb_matrix plain, il;
            uint8_t *pbuf = quantize(TB_FMT_I2_S, wsrc, rows, k, &plain);
            uint8_t *ibuf = quantize(TB_FMT_I2_S, wsrc, rows, k, &il);
            assert_int_equal(tb_matrix_preferred_interleave(&il, TB_ISA_AVX512), TB_I2S_INTERLEAVE);
            assert_int_equal(tb_i2s_interleave(&il, ibuf, &err), TB_OK); /* in place */
            assert_int_equal(tb_matrix_preferred_interleave(&il, TB_ISA_AVX512), 0); /* done */
            assert_true(il.scale == plain.scale);
            assert_same_rows(&plain, &il);
            for (size_t ni = 0; ni < 3; ni++) {
                int n = n_list[ni];
                float *x = malloc(sizeof(float) * n * k);
                for (int i = 0; i < n * k; i++)
                    x[i] = rnd_normal();
                tb_act a;
                assert_int_equal(tb_act_alloc(&a, TB_ACT_I8, n, k, &err), TB_OK);
                tb_act_quantize(&a, x, n);
                float *ref = malloc(sizeof(float) * n * rows), *got = malloc(sizeof(float) * n * rows);
                tr->gemm[TB_ISA_SCALAR](&plain, &a, ref, rows, 0, rows);
                const int ranges[3][2] = {{0, rows}, {4, rows}, {1, rows - 1}};
                for (int isa = 0; isa < TB_ISA_COUNT; isa++) {
                    if (!tr->gemm[isa] || !tb_isa_supported((tb_isa)isa, cpu.features))
                        continue;
                    for (int g = 0; g < 3; g++) {
                        int r0 = ranges[g][0], r1 = ranges[g][1];
                        memset(got, 0xff, sizeof(float) * n * rows);
                        tr->gemm[isa](&il, &a, got, rows, r0, r1);
                        for (int t = 0; t < n; t++)
                            for (int r = r0; r < r1; r++)
                                if (memcmp(&got[t * rows + r], &ref[t * rows + r], sizeof(float)))
                                    fail_msg("i2_s interleaved %s %dx%d n=%d rows [%d, %d): out[%d][%d] "
                                             "= %.9g, plain scalar %.9g", tb_isa_name((tb_isa)isa),
                                             rows, k, n, r0, r1, t, r, got[t * rows + r],
                                             ref[t * rows + r]);
                    }
                }
                free(ref);
                free(got);
                tb_act_free(&a);
                free(x);
            }
            /* into a separate buffer: the same bytes as in place */
            tb_matrix il2;
            uint8_t *cbuf = quantize(TB_FMT_I2_S, wsrc, rows, k, &il2);
            uint8_t *dst = malloc(tb_format_bytes(TB_FMT_I2_S, rows, k));
            assert_int_equal(tb_i2s_interleave(&il2, dst, &err), TB_OK);
            assert_ptr_equal(il2.data, dst);
            assert_memory_equal(dst, ibuf, tb_format_bytes(TB_FMT_I2_S, rows, k));
            free(dst);
            free(cbuf);
            free(pbuf);
            free(ibuf);
            free(wsrc);
        }
    { /* rows longer than the stack's tile buffer (k > 16384): a heap buffer per call */
        int rows = 8, k = 16640;
        float *big = ternary_matrix(rows, k, 0.25f);
        tb_matrix plain, il;
        uint8_t *pbuf = quantize(TB_FMT_I2_S, big, rows, k, &plain);
        uint8_t *ibuf = quantize(TB_FMT_I2_S, big, rows, k, &il);
        assert_int_equal(tb_i2s_interleave(&il, ibuf, &err), TB_OK);
        assert_same_rows(&plain, &il);
        free(pbuf);
        free(ibuf);
        free(big);
    }
    /* where the layout does not fit, or an ISA was not measured to gain, nothing changes */
    tb_matrix w;
    float *wsrc = ternary_matrix(12, 384, 0.5f);
    uint8_t *buf = quantize(TB_FMT_I2_S, wsrc, 12, 384, &w); /* 3 groups: an odd count */
    assert_int_equal(tb_matrix_preferred_interleave(&w, TB_ISA_AVX512), 0);
    free(buf);
    buf = quantize(TB_FMT_I2_S, wsrc, 6, 512, &w); /* 6 rows */
    assert_int_equal(tb_matrix_preferred_interleave(&w, TB_ISA_AVX512), 0);
    free(buf);
    buf = quantize(TB_FMT_I2_S, wsrc, 4, 512, &w);
    assert_int_equal(tb_matrix_preferred_interleave(&w, TB_ISA_AVX2), TB_I2S_INTERLEAVE);
    assert_int_equal(tb_matrix_preferred_interleave(&w, TB_ISA_SCALAR), 0);
    assert_int_equal(tb_matrix_preferred_interleave(&w, TB_ISA_NEON), 0);
    free(buf);
    buf = quantize(TB_FMT_TQ2_0, wsrc, 4, 512, &w);
    assert_int_equal(tb_matrix_preferred_interleave(&w, TB_ISA_AVX512), 0);
    free(buf);
    free(wsrc);
}

/* Edge values straight into the int8 activation buffer: -128 and 127. */
static void test_ternary_edges(void **state)
{
    (void)state;
    int rows = 5, k = 512, n = 3;
    for (int f = 0; f < TB_FMT_COUNT; f++) {
        const tb_format_traits *tr = tb_format_get((tb_format)f);
        if (!tr->ternary)
            continue;
        for (int pattern = 0; pattern < 3; pattern++) {
            float *wsrc = malloc(sizeof(float) * rows * k);
            for (int i = 0; i < rows * k; i++)
                wsrc[i] = pattern == 0 ? -1.0f : pattern == 1 ? 1.0f : (i % 2 ? 1.0f : -1.0f);
            tb_matrix w;
            uint8_t *buf = quantize((tb_format)f, wsrc, rows, k, &w);
            tb_act a;
            tb_error err;
            assert_int_equal(tb_act_alloc(&a, tr->act, n, k, &err), TB_OK);
            for (int t = 0; t < n; t++) {
                int8_t q[512];
                for (int i = 0; i < k; i++)
                    q[i] = t == 0 ? -128 : t == 1 ? 127 : (i % 3 ? -128 : 127);
                tb_act_set_i8(&a, t, q, 1.0f);
            }
            float ref[15], got[15];
            tr->gemm[TB_ISA_SCALAR](&w, &a, ref, rows, 0, rows);
            for (int t = 0; t < n; t++) { /* the exact integer answer */
                int64_t want = 0;
                for (int i = 0; i < k; i++)
                    want += (int64_t)wsrc[i] * a.i8[t * k + i];
                assert_true(ref[t * rows] == (float)want);
            }
            tb_cpu_info cpu;
            tb_cpu_detect(&cpu);
            for (int isa = 1; isa < TB_ISA_COUNT; isa++) {
                if (!tr->gemm[isa] || !tb_isa_supported((tb_isa)isa, cpu.features))
                    continue;
                tr->gemm[isa](&w, &a, got, rows, 0, rows);
                assert_memory_equal(got, ref, sizeof(float) * n * rows);
            }
            tb_act_free(&a);
            free(buf);
            free(wsrc);
        }
    }
}

static void test_ternary_formats_agree(void **state)
{
    (void)state;
    int rows = 9, k = 1024, n = 4;
    float *wsrc = ternary_matrix(rows, k, 0.8125f); /* f16-exact scale */
    float *x = malloc(sizeof(float) * n * k);
    for (int i = 0; i < n * k; i++)
        x[i] = rnd_normal();
    float ys[5][36];
    tb_format fmts[5] = {TB_FMT_I2_S, TB_FMT_TQ2_0, TB_FMT_TQ1_0, TB_FMT_TL2, TB_FMT_T1_67};
    for (int f = 0; f < 5; f++) {
        tb_matrix w;
        uint8_t *buf = quantize(fmts[f], wsrc, rows, k, &w);
        tb_act a;
        tb_error err;
        assert_int_equal(tb_act_alloc(&a, tb_format_get(fmts[f])->act, n, k, &err), TB_OK);
        tb_act_quantize(&a, x, n);
        tb_isa used;
        tb_gemm_select(fmts[f], TB_ISA_AVX512, &used)(&w, &a, ys[f], rows, 0, rows);
        tb_act_free(&a);
        free(buf);
    }
    assert_memory_equal(ys[0], ys[1], sizeof(float) * n * rows);
    assert_memory_equal(ys[0], ys[2], sizeof(float) * n * rows);
    assert_memory_equal(ys[0], ys[3], sizeof(float) * n * rows);
    assert_memory_equal(ys[0], ys[4], sizeof(float) * n * rows);
    free(wsrc);
    free(x);
}

static void test_i8_activation_rule(void **state)
{
    (void)state;
    float x[128] = {0};
    x[0] = 2.0f;
    x[1] = -1.0f;
    x[2] = 1.0f / 127.0f * 2.0f * 0.5f; /* exactly 0.5 after scaling: ties to even -> 0 */
    x[3] = 3.0f / 127.0f;               /* 1.5 -> 2 */
    int8_t q[128];
    int32_t sum;
    float s = tb_quantize_i8_token(x, 128, q, &sum);
    assert_true(s == 127.0f / 2.0f);
    assert_int_equal(q[0], 127);
    assert_int_equal(q[1], -64); /* -63.5 -> -64 (even) */
    assert_int_equal(q[2], 0);
    assert_int_equal(q[3], 2);
    assert_int_equal(sum, 127 - 64 + 2);
    float zero[128] = {0};
    s = tb_quantize_i8_token(zero, 128, q, &sum);
    assert_true(s == 127.0f / 1e-5f);
    assert_int_equal(sum, 0);

    /* q8_K (llama.cpp's quantize_row_q8_K): the value of largest magnitude,
     * here negative, maps to -127; the opposite sign can reach +127 only by
     * rounding; sums per 16; an all-zero block is d = 0 */
    float xk[512] = {0};
    xk[5] = -4.0f;
    xk[6] = 2.0f;                       /* 2 * 127/4 = 63.5 -> 64 (even) */
    xk[17] = -1.0f;                     /* 31.75 -> 32 */
    xk[18] = 4.0f * 0.5f / 127.0f;      /* 0.5 -> 0 (even) */
    tb_act a;
    tb_error err;
    assert_int_equal(tb_act_alloc(&a, TB_ACT_Q8_K, 1, 512, &err), TB_OK);
    tb_act_quantize(&a, xk, 1);
    const tb_block_q8_K *b = a.q8k;
    assert_true(b[0].d == 1.0f / (-127.0f / -4.0f));
    assert_int_equal(b[0].qs[5], -127);
    assert_int_equal(b[0].qs[6], 64);
    assert_int_equal(b[0].qs[17], -32);
    assert_int_equal(b[0].qs[18], 0);
    assert_int_equal(b[0].bsums[0], -127 + 64);
    assert_int_equal(b[0].bsums[1], -32);
    assert_true(b[1].d == 0.0f);
    for (int i = 0; i < 256; i++)
        assert_int_equal(b[1].qs[i], 0);
    tb_act_free(&a);
    assert_int_equal(tb_act_alloc(&a, TB_ACT_Q8_K, 1, 384, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "256"));
}

typedef struct cover_ctx {
    int *hits, *by;       /* times each index ran; the thread that ran it */
    int grain, n;
    bool slow_worker;     /* thread 1 sleeps in its first chunk */
    atomic_int misaligned, slept;
} cover_ctx;

static void cover(void *ctx, int begin, int end, int thread)
{
    cover_ctx *c = ctx;
    if (begin % c->grain || (end % c->grain && end != c->n))
        atomic_fetch_add(&c->misaligned, 1);
    if (c->slow_worker && thread == 1 && atomic_exchange(&c->slept, 1) == 0)
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    for (int i = begin; i < end; i++) {
        __atomic_fetch_add(&c->hits[i], 1, __ATOMIC_RELAXED);
        c->by[i] = thread;
    }
}

/* tb_pool_for runs every index once, in chunks on multiples of the grain;
 * with a stalled worker, the caller takes over the back of its slice. */
static void check_cover(tb_pool *p, int threads, bool slow_worker)
{
    int hits[1000] = {0}, by[1000];
    cover_ctx c = {.hits = hits, .by = by, .grain = 7, .n = 1000, .slow_worker = slow_worker};
    tb_pool_for(p, 1000, 7, cover, &c);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(hits[i], 1);
    assert_int_equal(atomic_load(&c.misaligned), 0);
    if (slow_worker && threads == 2) { /* the worker's static slice starts at unit 71 */
        int stolen = 0;
        for (int i = 71 * 7; i < 1000; i++)
            stolen += by[i] == 0;
        assert_true(stolen > 0);
    }
}

static void test_pool(void **state)
{
    (void)state;
    tb_error err;
    int rows = 301, k = 768, n = 3;
    float *wsrc = ternary_matrix(rows, k, 0.5f);
    float *x = malloc(sizeof(float) * n * k);
    for (int i = 0; i < n * k; i++)
        x[i] = rnd_normal();
    tb_matrix w;
    uint8_t *buf = quantize(TB_FMT_I2_S, wsrc, rows, k, &w);
    tb_act a;
    assert_int_equal(tb_act_alloc(&a, TB_ACT_I8, n, k, &err), TB_OK);
    tb_act_quantize(&a, x, n);
    float *ref = malloc(sizeof(float) * n * rows), *got = malloc(sizeof(float) * n * rows);
    tb_gemm_fn fn = tb_gemm_select(TB_FMT_I2_S, TB_ISA_AVX512, NULL);
    fn(&w, &a, ref, rows, 0, rows);
    for (int threads = 1; threads <= 4; threads++) {
        tb_pool *p;
        assert_int_equal(tb_pool_create(threads, threads == 2, &p, &err), TB_OK);
        for (int rep = 0; rep < 20; rep++) {
            memset(got, 0, sizeof(float) * n * rows);
            tb_pool_gemm(p, fn, &w, &a, got);
            assert_memory_equal(got, ref, sizeof(float) * n * rows);
        }
        /* three products in one parallel-for (301, 40 and 301 rows of one
         * weight matrix viewed shorter): each row as alone */
        tb_matrix w40 = w;
        w40.rows = 40;
        float *y[3] = {calloc((size_t)n * rows, sizeof(float)), calloc((size_t)n * 40, sizeof(float)),
                       calloc((size_t)n * rows, sizeof(float))};
        tb_pool_gemm_n(p, 3, (const tb_gemm_fn[]){fn, fn, fn}, (const tb_matrix *const[]){&w, &w40, &w},
                       (const tb_act *const[]){&a, &a, &a}, y);
        assert_memory_equal(y[0], ref, sizeof(float) * n * rows);
        assert_memory_equal(y[2], ref, sizeof(float) * n * rows);
        for (int t = 0; t < n; t++)
            assert_memory_equal(y[1] + (size_t)t * 40, ref + (size_t)t * rows, sizeof(float) * 40);
        for (int i = 0; i < 3; i++)
            free(y[i]);
        check_cover(p, threads, false);
        check_cover(p, threads, true);
        /* the synchronisation time: within the call's wall time, and only
         * counted while asked for */
        double sync = 0;
        tb_pool_time_sync(p, &sync);
        double t0 = tb_now();
        tb_pool_gemm(p, fn, &w, &a, got);
        double wall = tb_now() - t0;
        tb_pool_time_sync(p, NULL);
        assert_true(sync >= 0 && sync <= wall);
        if (threads == 1)
            assert_true(sync == 0);
        double before = sync;
        tb_pool_gemm(p, fn, &w, &a, got);
        assert_true(sync == before);
        tb_pool_destroy(p);
    }
    assert_int_equal(tb_pool_create(0, false, &(tb_pool *){NULL}, &err), TB_EINVAL);
    tb_act_free(&a);
    free(buf);
    free(wsrc);
    free(x);
    free(ref);
    free(got);
}

/* The attention helpers of every ISA against scalar: rows of an f16 cache
 * `stride` apart, lengths that leave every tail (d not a multiple of 8 or
 * 32, over one 128-column pass, n not of 4). Bound: 2e-6 x the sum of
 * |products|. */
static void test_attention_vectors(void **state)
{
    (void)state;
    static const int d_list[] = {1, 7, 8, 64, 96, 100, 128, 160, 256};
    static const int n_list[] = {1, 3, 4, 5, 9, 70};
    tb_vec_fns ref = tb_vec_select(TB_ISA_SCALAR);
    tb_cpu_info cpu;
    tb_cpu_detect(&cpu);
    for (size_t di = 0; di < sizeof d_list / sizeof d_list[0]; di++)
        for (size_t ni = 0; ni < sizeof n_list / sizeof n_list[0]; ni++) {
            int d = d_list[di], n = n_list[ni];
            size_t stride = (size_t)d + 3;
            tb_f16 *kv = malloc(sizeof(tb_f16) * stride * n);
            float q[256], p[70], want[256], got[256], absum[70];
            for (size_t i = 0; i < stride * n; i++)
                kv[i] = tb_f32_to_f16(rnd_normal());
            for (int i = 0; i < d; i++)
                q[i] = rnd_normal();
            for (int t = 0; t < n; t++)
                p[t] = (float)(rnd() % 1000) / 1000.0f;
            for (int isa = 1; isa < TB_ISA_COUNT; isa++) {
                if (!tb_isa_supported((tb_isa)isa, cpu.features))
                    continue;
                tb_vec_fns f = tb_vec_select((tb_isa)isa);
                ref.scores_f16(q, kv, stride, n, d, want);
                f.scores_f16(q, kv, stride, n, d, got);
                for (int t = 0; t < n; t++) {
                    absum[t] = 0;
                    for (int i = 0; i < d; i++)
                        absum[t] += fabsf(q[i] * tb_f16_to_f32(kv[t * stride + i]));
                    if (!(fabsf(got[t] - want[t]) <= 2e-6f * absum[t] + 1e-30f))
                        fail_msg("scores %s d=%d n=%d t=%d: %g vs %g", tb_isa_name((tb_isa)isa), d, n,
                                 t, got[t], want[t]);
                }
                ref.wsum_f16(p, kv, stride, n, d, want);
                got[0] = NAN; /* wsum overwrites */
                f.wsum_f16(p, kv, stride, n, d, got);
                for (int i = 0; i < d; i++) {
                    float bound = 0;
                    for (int t = 0; t < n; t++)
                        bound += fabsf(p[t] * tb_f16_to_f32(kv[t * stride + i]));
                    if (!(fabsf(got[i] - want[i]) <= 2e-6f * bound + 1e-30f))
                        fail_msg("wsum %s d=%d n=%d i=%d: %g vs %g", tb_isa_name((tb_isa)isa), d, n, i,
                                 got[i], want[i]);
                }
            }
            free(kv);
        }
}

static void test_dispatch_and_validation(void **state)
{
    (void)state;
    tb_isa used;
#if defined(__x86_64__)
    tb_gemm_select(TB_FMT_TQ1_0, TB_ISA_AVX512, &used);
    assert_int_equal(used, TB_ISA_AVX512);
    tb_gemm_select(TB_FMT_TQ1_0, TB_ISA_NEON, &used); /* not in an x86 build: scalar serves */
    assert_int_equal(used, TB_ISA_SCALAR);
    /* t1_67's AVX-512 kernel needs VBMI: without it the AVX2 one runs, and says so */
    tb_gemm_select(TB_FMT_T1_67, TB_ISA_AVX512, &used);
    assert_int_equal(used, __builtin_cpu_supports("avx512vbmi") ? TB_ISA_AVX512 : TB_ISA_AVX2);
#endif
    tb_gemm_select(TB_FMT_F16, TB_ISA_SCALAR, &used);
    assert_int_equal(used, TB_ISA_SCALAR);
    tb_format f;
    tb_error err;
    assert_int_equal(tb_format_parse("tq2_0", &f, &err), TB_OK);
    assert_int_equal(f, TB_FMT_TQ2_0);
    assert_int_equal(tb_format_parse("q5_1", &f, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "i2_s"));
    tb_matrix w;
    uint8_t dummy[64] = {0};
    assert_int_equal(tb_matrix_init(&w, TB_FMT_I2_S, 1, 100, dummy, 64, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "multiple of 128"));
    assert_int_equal(tb_matrix_init(&w, TB_FMT_I2_S, 1, 128, dummy, 63, &err), TB_EINVAL);
    assert_int_equal(tb_matrix_init(&w, TB_FMT_I2_S, 1, 128, dummy, 64, &err), TB_OK);
    float nan = NAN;
    memcpy(dummy + 32, &nan, 4);
    assert_int_equal(tb_matrix_init(&w, TB_FMT_I2_S, 1, 128, dummy, 64, &err), TB_EINVAL);
    assert_int_equal(tb_format_bytes(TB_FMT_Q4_0, 2, 64), 2 * 2 * 18);
    assert_int_equal(tb_format_bytes(TB_FMT_TQ1_0, 1, 256), 54);
    assert_int_equal(tb_format_bytes(TB_FMT_Q4_K, 3, 512), 3 * 2 * 144);
    assert_int_equal(tb_format_bytes(TB_FMT_IQ4_NL, 1, 64), 2 * 18);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_i2s_layout_by_hand), cmocka_unit_test(test_tq_layouts),
        cmocka_unit_test(test_t167_layout),
        cmocka_unit_test(test_q6_k_layout),
        cmocka_unit_test(test_round_trips),        cmocka_unit_test(test_half_conversions),
        cmocka_unit_test(test_i8_activation_rule), cmocka_unit_test(test_simd_matches_scalar),
        cmocka_unit_test(test_ternary_edges),      cmocka_unit_test(test_ternary_formats_agree),
        cmocka_unit_test(test_i2s_interleaved),
        cmocka_unit_test(test_pool),               cmocka_unit_test(test_dispatch_and_validation),
        cmocka_unit_test(test_attention_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
