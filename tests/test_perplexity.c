/*
 * test_perplexity.c - perplexity and KL divergence (perplexity.h) on the tiny
 * llama of tests/data/llamacpp-kquants: the perplexity against the same
 * quantity computed here from the engine's token-at-a-time logits, and the
 * base file written, checked field by field, read back and refused when it
 * is damaged.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perplexity.h"
#include "tokenizer.h"

#define DIR TB_TEST_DATA "/llamacpp-kquants"
enum { CTX = 32 };

static tb_model *load(const char *mix)
{
    char path[512];
    snprintf(path, sizeof path, DIR "/tiny-llama-%s.gguf", mix);
    tb_model *m;
    tb_error err;
    if (tb_model_load(path, 2, TB_ISA_SCALAR, 256, TB_KV_F32, &m, &err) != TB_OK)
        fail_msg("%s", err.text);
    return m;
}

/* 200 pseudo-random tokens of the model's vocabulary. */
static int *some_tokens(int n, int vocab)
{
    int *t = malloc((size_t)n * sizeof *t);
    unsigned s = 12345;
    for (int i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        t[i] = 3 + (int)((s >> 16) % (unsigned)(vocab - 3));
    }
    return t;
}

static void test_perplexity_by_hand(void **state)
{
    (void)state;
    tb_model *m = load("f16");
    int n = 200, vocab = m->cfg.vocab, *tok = some_tokens(n, vocab);
    tb_ppl_opts o = {.ctx = CTX, .batch = 8, .bos = 1};
    tb_ppl_result r;
    tb_error err;
    assert_int_equal(tb_perplexity(m, tok, n, &o, &r, &err), TB_OK);
    assert_int_equal(r.chunks, n / CTX);
    assert_int_equal(r.count, r.chunks * (CTX - 1 - CTX / 2));
    /* the same: one token at a time, the log-softmax in double */
    double nll = 0, nll2 = 0;
    int count = 0;
    for (int c = 0; c < n / CTX; c++) {
        tb_model_reset(m);
        for (int j = 0; j < CTX - 1; j++) {
            const float *l = tb_model_forward(m, j == 0 ? 1 : tok[c * CTX + j]);
            if (j < CTX / 2)
                continue;
            double max = l[0], sum = 0;
            for (int i = 1; i < vocab; i++)
                max = fmax(max, l[i]);
            for (int i = 0; i < vocab; i++)
                sum += exp(l[i] - max);
            double v = max + log(sum) - l[tok[c * CTX + j + 1]];
            nll += v;
            nll2 += v * v;
            count++;
        }
    }
    assert_int_equal(count, r.count);
    double mean = nll / count, ppl = exp(mean), err_want = ppl * sqrt((nll2 / count - mean * mean) / (count - 1));
    print_message("PPL %.6f +/- %.6f, by hand %.6f +/- %.6f\n", r.ppl, r.ppl_err, ppl, err_want);
    assert_true(fabs(r.ppl - ppl) < 1e-5 * ppl);
    assert_true(fabs(r.ppl_err - err_want) < 1e-3 * err_want);
    /* too short a text for two chunks */
    assert_int_equal(tb_perplexity(m, tok, 2 * CTX - 1, &o, &r, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "two chunks"));
    free(tok);
    tb_model_free(m);
}

static void test_kl_divergence_base_file(void **state)
{
    (void)state;
    tb_model *f16 = load("f16"), *q4 = load("Q4_K_M");
    int n = 200, vocab = f16->cfg.vocab, *tok = some_tokens(n, vocab);
    char *dir = tb_tmpdir(), path[1200];
    snprintf(path, sizeof path, "%s/base.kld", dir);
    tb_ppl_opts o = {.ctx = CTX, .bos = 1, .base_path = path};
    tb_ppl_result base, r;
    tb_error err;
    assert_int_equal(tb_perplexity(f16, tok, n, &o, &base, &err), TB_OK);
    /* the layout: header, tokens, then per scored position nv uint16 */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char magic[8];
    int32_t head[3], first_tok;
    assert_int_equal(fread(magic, 1, 8, f), 8);
    assert_memory_equal(magic, "_logits_", 8);
    assert_int_equal(fread(head, 4, 3, f), 3);
    assert_int_equal(head[0], CTX);
    assert_int_equal(head[1], vocab);
    assert_int_equal(head[2], n / CTX);
    assert_int_equal(fread(&first_tok, 4, 1, f), 1);
    assert_int_equal(first_tok, tok[0]); /* as in the text, BOS not substituted */
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    int nv = 2 * ((vocab + 1) / 2) + 4, chunks = n / CTX;
    assert_int_equal(size, 20 + 4L * chunks * CTX + 2L * nv * (CTX - 1 - CTX / 2) * chunks);
    /* read back by the same model: no divergence beyond the 16-bit coding */
    o.kld = true;
    o.ctx = 0;
    assert_int_equal(tb_perplexity(f16, NULL, 0, &o, &r, &err), TB_OK);
    print_message("f16 vs its own base: KLD %.2e, same top %.2f %%, PPL %.4f vs %.4f\n", r.kld,
                  100 * r.same_top, r.ppl, r.ppl_base);
    assert_true(r.kld < 1e-6 && r.same_top > 0.99);
    assert_true(fabs(r.ppl - base.ppl) < 1e-6 * base.ppl); /* the base rounds its log-sum to float */
    assert_true(fabs(r.ppl_base - base.ppl) < 1e-3 * base.ppl);
    /* a quantised twin diverges, a little */
    assert_int_equal(tb_perplexity(q4, NULL, 0, &o, &r, &err), TB_OK);
    print_message("Q4_K_M vs f16: KLD %.4f +/- %.4f, same top %.2f %%, ln ratio %.5f\n", r.kld,
                  r.kld_err, 100 * r.same_top, r.ln_ratio);
    assert_true(r.kld > 1e-4 && r.kld < 0.5 && r.kld_pct[0] >= r.kld && r.kld_pct[10] <= r.kld);
    /* damaged files are refused, naming the file */
    FILE *g = fopen(path, "r+b");
    assert_int_equal(ftruncate(fileno(g), size / 2), 0);
    fclose(g);
    assert_int_equal(tb_perplexity(f16, NULL, 0, &o, &r, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "truncated"));
    assert_non_null(strstr(err.text, "base.kld"));
    tb_write(dir, "base.kld", "not logits at all");
    assert_int_equal(tb_perplexity(f16, NULL, 0, &o, &r, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "_logits_"));
    o.base_path = "/nonexistent/base.kld";
    assert_int_equal(tb_perplexity(f16, NULL, 0, &o, &r, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "/nonexistent/base.kld"));
    tb_rmtree(dir);
    free(dir);
    free(tok);
    tb_model_free(f16);
    tb_model_free(q4);
}

/* Logits from a given token on are those of the whole batch's from there
 * (the lm_head runs over the later tokens only); a first past the batch is
 * refused. */
static void test_logits_from(void **state)
{
    (void)state;
    tb_model *m = load("Q4_K_M");
    int n = 12, first = 5, vocab = m->cfg.vocab, *tok = some_tokens(n, vocab);
    float *all = malloc(sizeof(float) * n * vocab), *part = malloc(sizeof(float) * n * vocab);
    tb_error err;
    assert_int_equal(tb_model_set_batch(m, n, &err), TB_OK);
    tb_model_reset(m);
    assert_int_equal(tb_model_forward_all(m, tok, n, all), TB_OK);
    tb_model_reset(m);
    assert_int_equal(tb_model_forward_from(m, tok, n, first, part), TB_OK);
    for (int i = 0; i < (n - first) * vocab; i++)
        assert_double_equal(part[i], all[(size_t)first * vocab + i], 1e-6);
    tb_model_reset(m);
    assert_int_equal(tb_model_forward_from(m, tok, n, n + 1, part), TB_EINVAL);
    free(all);
    free(part);
    free(tok);
    tb_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perplexity_by_hand),
        cmocka_unit_test(test_logits_from),
        cmocka_unit_test(test_kl_divergence_base_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
