/*
 * test_model.c - the BitNet b1.58 forward pass against bitnet.cpp itself.
 *
 * tests/data/bitnet-cpp-tiny holds a tiny bitnet-b1.58 model that bitnet.cpp
 * quantised to I2_S, its F16 original, and the logits bitnet.cpp computed
 * for a 16-token sequence (its README says how). Matching them proves that
 * ternbench reads bitnet.cpp's I2_S bytes and computes its W1.58A8
 * arithmetic. The bounds are 2e-2 (I2_S) and 5e-3 (F16); measured
 * 2.7e-4 and 1.2e-3, so the tests hold tighter bounds that catch a drift
 * long before it would cross those.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert.h"
#include "dummy.h"
#include "model.h"
#include "softmax.h"

#define TINY TB_TEST_DATA "/bitnet-cpp-tiny/"
enum { NPOS = 16, VOCAB = 512 };

typedef struct ref_logits {
    int token[NPOS];
    float v[NPOS][VOCAB];
} ref_logits;

static void load_ref(const char *path, ref_logits *r)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    for (int p = 0; p < NPOS; p++) {
        int pos;
        assert_int_equal(fscanf(f, "%d %d", &pos, &r->token[p]), 2);
        assert_int_equal(pos, p);
        for (int i = 0; i < VOCAB; i++)
            assert_int_equal(fscanf(f, "%f", &r->v[p][i]), 1);
    }
    fclose(f);
}

/* Runs the sequence; returns the largest |ours - ref|. */
static double run(const char *model, const ref_logits *r, int threads, tb_isa isa, tb_kv_type kv,
                  float (*out)[VOCAB])
{
    tb_model *m;
    tb_error err;
    if (tb_model_load(model, threads, isa, 0, kv, &m, &err) != TB_OK)
        fail_msg("%s", err.text);
    assert_int_equal(m->cfg.vocab, VOCAB);
    double worst = 0;
    for (int p = 0; p < NPOS; p++) {
        const float *l = tb_model_forward(m, r->token[p]);
        assert_non_null(l);
        for (int i = 0; i < VOCAB; i++) {
            worst = fmax(worst, fabs((double)l[i] - r->v[p][i]));
            if (out)
                out[p][i] = l[i];
        }
    }
    tb_model_free(m);
    return worst;
}

static tb_isa best_isa(void)
{
    tb_cpu_info cpu;
    tb_cpu_detect(&cpu);
    return tb_isa_best(cpu.features);
}

static void test_i2s_matches_bitnet_cpp(void **state)
{
    (void)state;
    static ref_logits r;
    load_ref(TINY "logits-i2_s.txt", &r);
    double d = run(TINY "tiny-i2_s.gguf", &r, 1, best_isa(), TB_KV_F16, NULL);
    print_message("I2_S: max |ternbench - bitnet.cpp| = %.3g\n", d);
    assert_true(d < 2e-3);
    /* an f32 KV cache computes attention differently from ggml: ~0.04 away */
    double d32 = run(TINY "tiny-i2_s.gguf", &r, 1, best_isa(), TB_KV_F32, NULL);
    print_message("I2_S, f32 KV cache: %.3g\n", d32);
    assert_true(d32 < 0.1);
}

static void test_f16_matches_bitnet_cpp(void **state)
{
    (void)state;
    static ref_logits r;
    load_ref(TINY "logits-f16.txt", &r);
    double d = run(TINY "tiny-f16.gguf", &r, 1, best_isa(), TB_KV_F16, NULL);
    print_message("F16: max |ternbench - bitnet.cpp| = %.3g\n", d);
    assert_true(d < 5e-3);
}

static void test_threads_and_isas_agree(void **state)
{
    (void)state;
    static ref_logits r;
    static float a[NPOS][VOCAB], b[NPOS][VOCAB], c[NPOS][VOCAB];
    load_ref(TINY "logits-i2_s.txt", &r);
    run(TINY "tiny-i2_s.gguf", &r, 1, best_isa(), TB_KV_F16, a);
    run(TINY "tiny-i2_s.gguf", &r, 2, best_isa(), TB_KV_F16, b);
    assert_memory_equal(a, b, sizeof a); /* threads split rows: the same arithmetic */
    run(TINY "tiny-i2_s.gguf", &r, 1, TB_ISA_SCALAR, TB_KV_F16, c);
    /* ternary layers are bit-exact across ISAs; the f16 lm_head sums in another order */
    double worst = 0;
    for (int p = 0; p < NPOS; p++)
        for (int i = 0; i < VOCAB; i++)
            worst = fmax(worst, fabs((double)a[p][i] - c[p][i]));
    print_message("scalar vs %s: %.3g\n", tb_isa_name(best_isa()), worst);
    assert_true(worst < 1e-4);
}

static void test_batch_equals_one_at_a_time(void **state)
{
    (void)state;
    static ref_logits r;
    static float seq[NPOS][VOCAB];
    load_ref(TINY "logits-i2_s.txt", &r);
    run(TINY "tiny-i2_s.gguf", &r, 2, best_isa(), TB_KV_F16, seq);
    tb_model *m;
    tb_error err;
    assert_int_equal(tb_model_load(TINY "tiny-i2_s.gguf", 2, best_isa(), 0, TB_KV_F16, &m, &err), TB_OK);
    assert_int_equal(tb_model_set_batch(m, 8, &err), TB_OK);
    /* 16 tokens as batches of 8: GEMM kernels, causal attention inside a batch */
    const float *l = tb_model_forward_batch(m, r.token, 8);
    assert_non_null(l);
    assert_memory_equal(l, seq[7], sizeof seq[7]);
    l = tb_model_forward_batch(m, r.token + 8, 8);
    assert_non_null(l);
    assert_memory_equal(l, seq[15], sizeof seq[15]); /* ternary GEMM == GEMV, bit for bit */
    assert_null(tb_model_forward_batch(m, r.token, 9)); /* beyond the batch size */
    tb_model_free(m);
}

static void test_load_errors(void **state)
{
    (void)state;
    tb_model *m;
    tb_error err;
    char *dir = tb_tmpdir();
    char path[1200];
    snprintf(path, sizeof path, "%s/llama.gguf", dir);
    tb_gguf_writer *w = tb_gguf_writer_new(32);
    tb_gguf_writer_str(w, "general.architecture", "mamba");
    assert_int_equal(tb_gguf_writer_write(w, path, NULL, NULL, &err), TB_OK);
    tb_gguf_writer_free(w);
    assert_int_equal(tb_model_load(path, 1, TB_ISA_SCALAR, 0, TB_KV_F16, &m, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "architecture 'mamba' is not supported"));
    assert_non_null(strstr(err.text, "bitnet-b1.58"));
    /* a bitnet-b1.58 header whose tensors are missing */
    w = tb_gguf_writer_new(32);
    tb_gguf_writer_str(w, "general.architecture", "bitnet-b1.58");
    tb_gguf_writer_u32(w, "bitnet-b1.58.embedding_length", 256);
    tb_gguf_writer_u32(w, "bitnet-b1.58.feed_forward_length", 768);
    tb_gguf_writer_u32(w, "bitnet-b1.58.block_count", 1);
    tb_gguf_writer_u32(w, "bitnet-b1.58.attention.head_count", 4);
    assert_int_equal(tb_gguf_writer_write(w, path, NULL, NULL, &err), TB_OK);
    tb_gguf_writer_free(w);
    assert_int_equal(tb_model_load(path, 1, TB_ISA_SCALAR, 0, TB_KV_F16, &m, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "token_embd.weight is missing"));
    tb_rmtree(dir);
    free(dir);
}

/* gen -> file -> load: the same logits as the dummy synthesised in memory,
 * bit for bit, for every architecture and for ternary and baseline formats. */
static void test_gen_round_trip(void **state)
{
    (void)state;
    const tb_preset presets[] = {
        {"tiny-b158", 256, 512, 2, 4, 2, 1000, TB_ARCH_BITNET_B158, 0},
        {"tiny-legacy", 256, 768, 2, 4, 4, 1000, TB_ARCH_BITNET, 0},
        {"tiny-llama", 256, 512, 2, 4, 1, 1000, TB_ARCH_LLAMA, 0},
        {"tiny-qwen2", 256, 512, 2, 4, 2, 1000, TB_ARCH_QWEN2, 0},
        {"tiny-qwen3", 256, 512, 2, 4, 2, 1000, TB_ARCH_QWEN3, 128},
    };
    const tb_format formats[] = {TB_FMT_I2_S, TB_FMT_TQ2_0, TB_FMT_F16, TB_FMT_Q4_0};
    char *dir = tb_tmpdir();
    char path[1200];
    snprintf(path, sizeof path, "%s/dummy.gguf", dir);
    const int tokens[] = {1, 500, 999, 7, 42};
    for (size_t p = 0; p < sizeof presets / sizeof presets[0]; p++)
        for (size_t f = 0; f < 4; f++) {
            tb_error err;
            tb_gguf_writer *w = tb_gguf_writer_new(32);
            int rc = tb_dummy_write(&presets[p], formats[f], TB_FMT_F16, 3, w, path, &err);
            tb_gguf_writer_free(w);
            bool qwen = presets[p].arch == TB_ARCH_QWEN2 || presets[p].arch == TB_ARCH_QWEN3;
            if (qwen && formats[f] == TB_FMT_I2_S) {
                /* type 36 means I2_S only in bitnet.cpp's family: its bitnet and llama files */
                assert_int_equal(rc, TB_EINVAL);
                assert_non_null(strstr(err.text, "write tq2_0"));
                continue;
            }
            if (rc != TB_OK)
                fail_msg("%s", err.text);
            tb_model *mem, *file;
            assert_int_equal(tb_model_dummy(&presets[p], formats[f], TB_FMT_F16, 3, 1, best_isa(), 64,
                                            TB_KV_F16, &mem, &err), TB_OK);
            if (tb_model_load(path, 1, best_isa(), 64, TB_KV_F16, &file, &err) != TB_OK)
                fail_msg("%s", err.text);
            assert_int_equal(file->cfg.arch, presets[p].arch);
            assert_true((file->layers[0].attn_sub_norm == NULL) == !tb_arch_bitnet(presets[p].arch));
            assert_true((file->layers[0].bq != NULL) == (presets[p].arch == TB_ARCH_QWEN2));
            assert_true((file->layers[0].q_norm != NULL) == (presets[p].arch == TB_ARCH_QWEN3));
            assert_int_equal(file->layers[0].wq.fmt, formats[f]);
            assert_int_equal(file->cfg.q_dim, mem->cfg.q_dim);
            assert_int_equal(file->cfg.kv_heads, presets[p].kv_heads);
            assert_true(file->cfg.rope_base == mem->cfg.rope_base);
            for (size_t t = 0; t < sizeof tokens / sizeof tokens[0]; t++) {
                const float *a = tb_model_forward(mem, tokens[t]);
                const float *b = tb_model_forward(file, tokens[t]);
                assert_non_null(a);
                assert_non_null(b);
                assert_memory_equal(a, b, 1000 * sizeof(float));
            }
            tb_model_free(mem);
            tb_model_free(file);
        }
    /* tl2 has no GGUF type: refused with the way out */
    tb_error err;
    tb_gguf_writer *w = tb_gguf_writer_new(32);
    assert_int_equal(tb_dummy_write(&presets[0], TB_FMT_TL2, TB_FMT_F16, 3, w, path, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "write i2_s or tq2_0 instead"));
    tb_gguf_writer_free(w);
    tb_rmtree(dir);
    free(dir);
}

/* Greedy generation through the CLI: the same text for 1 and 2 threads and
 * for the scalar kernels, on a dummy model given a byte vocabulary. */
static void test_generate_is_deterministic(void **state)
{
    (void)state;
    const tb_preset p = {"tiny-chat", 256, 512, 2, 4, 2, 259, TB_ARCH_BITNET_B158, 0};
    const char *tokens[259];
    int32_t types[259];
    static char names[256][8];
    tokens[0] = "<unk>", tokens[1] = "<s>", tokens[2] = "</s>";
    types[0] = 2, types[1] = types[2] = 3;
    for (int b = 0; b < 256; b++) {
        snprintf(names[b], sizeof names[b], "<0x%02X>", b);
        tokens[3 + b] = names[b];
        types[3 + b] = 6;
    }
    char *dir = tb_tmpdir(), path[1200];
    snprintf(path, sizeof path, "%s/chat.gguf", dir);
    tb_gguf_writer *w = tb_gguf_writer_new(32);
    tb_gguf_writer_str(w, "tokenizer.ggml.model", "llama");
    tb_gguf_writer_arr_str(w, "tokenizer.ggml.tokens", tokens, 259);
    tb_gguf_writer_arr(w, "tokenizer.ggml.token_type", TB_GGUF_INT32, types, 259);
    tb_gguf_writer_u32(w, "tokenizer.ggml.bos_token_id", 1);
    tb_gguf_writer_u32(w, "tokenizer.ggml.eos_token_id", 2);
    tb_error err;
    if (tb_dummy_write(&p, TB_FMT_I2_S, TB_FMT_F16, 1, w, path, &err) != TB_OK)
        fail_msg("%s", err.text);
    tb_gguf_writer_free(w);
    char *scalar[] = {"TERNBENCH_ISA=scalar", NULL};
    tb_run_result a = tb_run_ternbench(NULL, "generate", "-m", path, "-p", "Hello", "--temp", "0",
                                       "-n", "40", "-t", "1", NULL);
    tb_run_result b = tb_run_ternbench(NULL, "generate", "-m", path, "-p", "Hello", "--temp", "0",
                                       "-n", "40", "-t", "2", "-b", "2", NULL);
    tb_run_result c = tb_run_ternbench(scalar, "generate", "-m", path, "-p", "Hello", "--temp", "0",
                                       "-n", "40", "-t", "2", NULL);
    assert_int_equal(a.status, 0);
    assert_int_equal(b.status, 0);
    assert_int_equal(c.status, 0);
    assert_true(strncmp(a.out, "Hello", 5) == 0 && strlen(a.out) > 6);
    assert_string_equal(a.out, b.out);
    assert_string_equal(a.out, c.out);
    assert_non_null(strstr(a.err, "generation: "));
    assert_non_null(strstr(a.err, "load: "));
    /* sampling with a seed repeats itself */
    tb_run_result d = tb_run_ternbench(NULL, "generate", "-m", path, "-p", "Hi", "--seed", "5",
                                       "-n", "20", NULL);
    tb_run_result e = tb_run_ternbench(NULL, "generate", "-m", path, "-p", "Hi", "--seed", "5",
                                       "-n", "20", NULL);
    assert_string_equal(d.out, e.out);
    /* refused: a dummy spec (no vocabulary), a bad sampling value, --chat without a template */
    tb_run_result f = tb_run_ternbench(NULL, "generate", "-m", "dummy:125M", "-p", "x", NULL);
    assert_int_equal(f.status, 2);
    assert_non_null(strstr(f.err, "has no vocabulary"));
    tb_run_result g = tb_run_ternbench(NULL, "generate", "-m", path, "-p", "x", "--top-p", "0", NULL);
    assert_int_equal(g.status, 2);
    assert_non_null(strstr(g.err, "--top-p"));
    tb_run_result h = tb_run_ternbench(NULL, "generate", "-m", path, "-p", "x", "--chat", NULL);
    assert_int_equal(h.status, 0); /* bitnet-b1.58: BitNet's template */
    tb_run_result results[] = {a, b, c, d, e, f, g, h};
    for (size_t i = 0; i < sizeof results / sizeof results[0]; i++)
        tb_run_free(&results[i]);
    tb_rmtree(dir);
    free(dir);
}

/* Logits of n tokens from a model spec or file, into out (vocab * n). */
static void logits_of(const char *spec, int vocab, int n, float *out)
{
    tb_model *m;
    tb_error err;
    if (tb_model_open(spec, 1, best_isa(), 64, TB_KV_F16, &m, &err) != TB_OK)
        fail_msg("%s", err.text);
    for (int t = 0; t < n; t++) {
        const float *l = tb_model_forward(m, (t * 37 + 1) % vocab);
        assert_non_null(l);
        memcpy(out + (size_t)t * vocab, l, (size_t)vocab * sizeof *out);
    }
    tb_model_free(m);
}

/* convert: ternary-valued weights go to ternary formats losslessly (the
 * result computes exactly what the ternary model computes); others are
 * refused unless forced; formats without a GGUF type are refused. */
static void test_convert(void **state)
{
    (void)state;
    const tb_preset p = {"tiny-conv", 256, 512, 2, 4, 2, 300, TB_ARCH_BITNET_B158, 0};
    char *dir = tb_tmpdir(), f16[1200], i2s[1200], tq[1200], q4[1200], out[1200];
    snprintf(f16, sizeof f16, "%s/f16.gguf", dir);
    snprintf(i2s, sizeof i2s, "%s/i2s.gguf", dir);
    snprintf(tq, sizeof tq, "%s/tq.gguf", dir);
    snprintf(q4, sizeof q4, "%s/q4.gguf", dir);
    snprintf(out, sizeof out, "%s/out.gguf", dir);
    tb_error err;
    const struct { const char *path; tb_format fmt; } gens[] = {
        {f16, TB_FMT_F16}, {i2s, TB_FMT_I2_S}, {q4, TB_FMT_Q4_0}};
    for (int i = 0; i < 3; i++) {
        tb_gguf_writer *w = tb_gguf_writer_new(32);
        assert_int_equal(tb_dummy_write(&p, gens[i].fmt, TB_FMT_F16, 1, w, gens[i].path, &err), TB_OK);
        tb_gguf_writer_free(w);
    }
    static float want[4 * 300], got[4 * 300];
    tb_convert_report rep;
    /* f16 twin -> i2_s: the i2_s model, bit for bit */
    tb_convert_opts o = {.fmt = TB_FMT_I2_S};
    if (tb_convert(f16, out, &o, &rep, &err) != TB_OK)
        fail_msg("%s", err.text);
    assert_int_equal(rep.converted, 2 * 7);
    assert_int_equal(rep.ternarised, 0);
    logits_of(i2s, 300, 4, want);
    logits_of(out, 300, 4, got);
    assert_memory_equal(got, want, sizeof got);
    /* i2_s -> tq2_0 with a q8_0 embedding: what the tq2_0 dummy with a q8_0
     * embedding computes */
    o = (tb_convert_opts){.fmt = TB_FMT_TQ2_0, .embd_set = true, .embd = TB_FMT_Q8_0};
    assert_int_equal(tb_convert(i2s, tq, &o, &rep, &err), TB_OK);
    tb_model *m;
    assert_int_equal(tb_model_dummy(&p, TB_FMT_TQ2_0, TB_FMT_Q8_0, 1, 1, best_isa(), 64, TB_KV_F16,
                                    &m, &err), TB_OK);
    for (int t = 0; t < 4; t++)
        memcpy(want + t * 300, tb_model_forward(m, (t * 37 + 1) % 300), 300 * sizeof(float));
    tb_model_free(m);
    logits_of(tq, 300, 4, got);
    assert_memory_equal(got, want, sizeof got);
    /* q4_0 is not ternary-valued: refused, nothing written; forced, it is ternarised */
    unlink(out);
    o = (tb_convert_opts){.fmt = TB_FMT_I2_S};
    assert_int_equal(tb_convert(q4, out, &o, &rep, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "is not ternary-valued"));
    assert_non_null(strstr(err.text, "--force"));
    assert_int_equal(access(out, F_OK), -1);
    o.force = true;
    assert_int_equal(tb_convert(q4, out, &o, &rep, &err), TB_OK);
    assert_int_equal(rep.ternarised, 14);
    logits_of(out, 300, 4, got); /* it runs */
    /* refused up front */
    o = (tb_convert_opts){.fmt = TB_FMT_TL2};
    assert_int_equal(tb_convert(f16, out, &o, &rep, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "tl2 has no GGUF type"));
    assert_non_null(strstr(err.text, "load the file as FILE@tl2"));
    o = (tb_convert_opts){.fmt = TB_FMT_T1_67};
    assert_int_equal(tb_convert(f16, out, &o, &rep, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "t1_67 has no GGUF type"));
    o = (tb_convert_opts){.fmt = TB_FMT_F16, .embd_set = true, .embd = TB_FMT_I2_S};
    assert_int_equal(tb_convert(f16, out, &o, &rep, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "--embd-format i2_s"));
    assert_int_equal(tb_convert(TINY "nonexistent.gguf", out, &o, &rep, &err), TB_EINVAL);
    /* bitnet.cpp's own I2_S file to tq2_0: the same logits (ternary formats agree) */
    o = (tb_convert_opts){.fmt = TB_FMT_TQ2_0};
    assert_int_equal(tb_convert(TINY "tiny-i2_s.gguf", out, &o, &rep, &err), TB_OK);
    static float a[4 * 512], b[4 * 512];
    logits_of(TINY "tiny-i2_s.gguf", 512, 4, a);
    logits_of(out, 512, 4, b);
    assert_memory_equal(a, b, sizeof a);
    tb_rmtree(dir);
    free(dir);
}

/* logits --batch (one GEMM pass, every position's logits) against one token
 * at a time: the ternary layers are bit-exact, the f16 lm_head GEMM may sum
 * in another order than its GEMV. */
static void test_logits_batch(void **state)
{
    (void)state;
    const char *toks = "1,72,101,108,108,111,300,301,302,17,499,3,250,128,64,511";
    tb_run_result a = tb_run_ternbench(NULL, "logits", "-m", TINY "tiny-i2_s.gguf", "--tokens", toks,
                                       NULL);
    tb_run_result b = tb_run_ternbench(NULL, "logits", "-m", TINY "tiny-i2_s.gguf", "--tokens", toks,
                                       "--batch", "-t", "2", NULL);
    assert_int_equal(a.status, 0);
    assert_int_equal(b.status, 0);
    char *pa = a.out, *pb = b.out;
    int lines = 0;
    double worst = 0;
    while (*pa && *pb) {
        char *ea, *eb;
        double x = strtod(pa, &ea), y = strtod(pb, &eb);
        assert_true(ea != pa && eb != pb);
        worst = fmax(worst, fabs(x - y));
        lines += *ea == '\n';
        pa = ea + 1;
        pb = eb + 1;
    }
    assert_true(!*pa && !*pb);
    assert_int_equal(lines, 16);
    print_message("--batch vs one at a time: %.3g\n", worst);
    assert_true(worst < 1e-4);
    tb_run_free(&a);
    tb_run_free(&b);
}

/* The softmax's exp within 1 ulp of the exact value (every 61st float in
 * [-87, 0]; all of them were checked once: worst 0.86 ulp), 0 below -87; its
 * f16 rounding equal to the scalar conversion pair on every 7th float in
 * [0, 1] and at the subnormal/normal boundary; and the whole softmax against
 * one computed in double. */
static void test_softmax_math(void **state)
{
    (void)state;
    double worst = 0;
    for (uint32_t u = 0x80000000u; u <= 0xc2ae0000u; u += 61) {
        float x = tb_bits_f32(u);
        double e = exp((double)x);
        double err = fabs((double)tb_exp_nonpos(x) - e) / (e * 0x1p-23);
        worst = err > worst ? err : worst;
    }
    assert_true(worst < 1.0);
    assert_true(tb_exp_nonpos(-87.5f) == 0.0f && tb_exp_nonpos(-1e30f) == 0.0f);
    assert_true(tb_exp_nonpos(0.0f) == 1.0f);
    for (uint32_t u = 0; u <= 0x3f800000u; u += 7) {
        float x = tb_bits_f32(u);
        assert_int_equal(tb_f32_bits(tb_round_f16_unit(x)), tb_f32_bits(tb_f16_to_f32(tb_f32_to_f16(x))));
    }
    for (uint32_t u = 0x38800000u - 4096; u <= 0x38800000u + 4096; u++) {
        float x = tb_bits_f32(u);
        assert_int_equal(tb_f32_bits(tb_round_f16_unit(x)), tb_f32_bits(tb_f16_to_f32(tb_f32_to_f16(x))));
    }
    float att[37];
    double ref[37], max = -INFINITY, sum = 0;
    for (int n = 1; n <= 37; n += 4) {
        for (int t = 0; t < n; t++) {
            att[t] = (float)(((t * 7919) % 23) - 11) * 1.7f;
            max = fmax(max, att[t] * 0.125);
        }
        for (int t = 0; t < n; t++)
            sum += ref[t] = exp(att[t] * 0.125 - max);
        tb_softmax(att, n, 0.125f, false);
        for (int t = 0; t < n; t++)
            assert_true(fabs(att[t] - ref[t] / sum) <= 1e-6 * ref[t] / sum + 1e-30);
        max = -INFINITY;
        sum = 0;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_i2s_matches_bitnet_cpp),
        cmocka_unit_test(test_f16_matches_bitnet_cpp),
        cmocka_unit_test(test_threads_and_isas_agree),
        cmocka_unit_test(test_batch_equals_one_at_a_time),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_gen_round_trip),
        cmocka_unit_test(test_generate_is_deterministic),
        cmocka_unit_test(test_convert),
        cmocka_unit_test(test_logits_batch),
        cmocka_unit_test(test_softmax_math),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
