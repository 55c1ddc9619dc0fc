/*
 * test_sampling.c - the sampling chain: greedy, temperature draws against
 * their expected frequencies, top-k, top-p, min-p, the repetition penalty,
 * seeds, and parameters out of range.
 */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "sampling.h"

static tb_sampling *make(tb_sampling_params p, int vocab)
{
    tb_sampling *s;
    tb_error err;
    if (tb_sampling_new(&p, vocab, &s, &err) != TB_OK)
        fail_msg("%s", err.text);
    return s;
}

static tb_sampling_params plain(float temp)
{
    return (tb_sampling_params){.temperature = temp, .top_k = 0, .top_p = 1, .min_p = 0,
                                .repeat_penalty = 1, .repeat_last_n = 64, .seed = 7};
}

/* Draws n tokens and counts them. */
static void histogram(tb_sampling *s, const float *logits, int vocab, int n, int *count)
{
    memset(count, 0, (size_t)vocab * sizeof *count);
    for (int i = 0; i < n; i++) {
        int t = tb_sampling_sample(s, logits);
        assert_true(t >= 0 && t < vocab);
        count[t]++;
    }
}

static void test_greedy(void **state)
{
    (void)state;
    float l[] = {0.5f, 2.0f, -1.0f, 2.0f, 1.9f};
    tb_sampling *s = make(plain(0), 5);
    assert_int_equal(tb_sampling_sample(s, l), 1); /* a tie goes to the lower id */
    tb_sampling_free(s);
}

/* p = 0.5, 0.3, 0.2: 200000 seeded draws land within 0.5 % of each. */
static void test_temperature_one_draws_the_softmax(void **state)
{
    (void)state;
    float l[] = {logf(0.5f), logf(0.3f), logf(0.2f)};
    int count[3];
    tb_sampling *s = make(plain(1), 3);
    histogram(s, l, 3, 200000, count);
    assert_double_equal(count[0] / 200000.0, 0.5, 0.005);
    assert_double_equal(count[1] / 200000.0, 0.3, 0.005);
    assert_double_equal(count[2] / 200000.0, 0.2, 0.005);
    tb_sampling_free(s);
    /* temperature 0.5 squares the odds: 25:9:4 */
    s = make(plain(0.5f), 3);
    histogram(s, l, 3, 200000, count);
    assert_double_equal(count[0] / 200000.0, 25.0 / 38, 0.005);
    assert_double_equal(count[2] / 200000.0, 4.0 / 38, 0.005);
    tb_sampling_free(s);
}

static void test_truncations(void **state)
{
    (void)state;
    float l[] = {logf(0.2f), logf(0.5f), logf(0.05f), logf(0.25f)};
    int count[4];
    tb_sampling_params p = plain(1);
    p.top_k = 2; /* tokens 1 and 3, renormalised 2:1 */
    tb_sampling *s = make(p, 4);
    histogram(s, l, 4, 60000, count);
    assert_int_equal(count[0] + count[2], 0);
    assert_double_equal(count[1] / 60000.0, 2.0 / 3, 0.01);
    tb_sampling_free(s);
    p = plain(1);
    p.top_p = 0.7f; /* 0.5 < 0.7 <= 0.75: tokens 1 and 3 */
    s = make(p, 4);
    histogram(s, l, 4, 20000, count);
    assert_int_equal(count[0] + count[2], 0);
    assert_true(count[1] > 0 && count[3] > 0);
    tb_sampling_free(s);
    p = plain(1);
    p.min_p = 0.39f; /* p >= 0.195: tokens 1, 3 and 0 */
    s = make(p, 4);
    histogram(s, l, 4, 20000, count);
    assert_int_equal(count[2], 0);
    assert_true(count[0] > 0 && count[1] > 0 && count[3] > 0);
    tb_sampling_free(s);
    p = plain(1);
    p.top_k = 1; /* top-k 1 is greedy at any temperature */
    s = make(p, 4);
    histogram(s, l, 4, 1000, count);
    assert_int_equal(count[1], 1000);
    tb_sampling_free(s);
}

static void test_repetition_penalty(void **state)
{
    (void)state;
    float l[] = {2.0f, 1.9f, -1.0f, -1.1f};
    tb_sampling_params p = plain(0);
    p.repeat_penalty = 1.2f;
    p.repeat_last_n = 2;
    tb_sampling *s = make(p, 4);
    tb_sampling_accept(s, 0);
    tb_sampling_accept(s, 0); /* penalised once, however often it came */
    assert_int_equal(tb_sampling_sample(s, l), 1); /* 2 / 1.2 = 1.67 < 1.9 */
    tb_sampling_accept(s, 1);
    tb_sampling_accept(s, 3); /* the window of 2 forgets token 0 */
    assert_int_equal(tb_sampling_sample(s, l), 0);
    tb_sampling_free(s);
    float neg[] = {-1.0f, -1.1f};
    s = make(p, 2);
    tb_sampling_accept(s, 0); /* a negative logit is multiplied: -1.2 < -1.1 */
    assert_int_equal(tb_sampling_sample(s, neg), 1);
    tb_sampling_free(s);
}

static void test_seeds(void **state)
{
    (void)state;
    float l[16];
    for (int i = 0; i < 16; i++)
        l[i] = (float)(i % 5) * 0.3f;
    int a[64], b[64], c[64];
    tb_sampling_params p = plain(1);
    tb_sampling *s1 = make(p, 16), *s2 = make(p, 16);
    p.seed = 8;
    tb_sampling *s3 = make(p, 16);
    for (int i = 0; i < 64; i++) {
        a[i] = tb_sampling_sample(s1, l);
        b[i] = tb_sampling_sample(s2, l);
        c[i] = tb_sampling_sample(s3, l);
    }
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    tb_sampling_free(s1);
    tb_sampling_free(s2);
    tb_sampling_free(s3);
}

static void test_bad_parameters(void **state)
{
    (void)state;
    struct { tb_sampling_params p; const char *says; } cases[] = {
        {{-1, 0, 1, 0, 1, 64, 0}, "temperature"},
        {{1, -3, 1, 0, 1, 64, 0}, "top-k"},
        {{1, 0, 0, 0, 1, 64, 0}, "top-p"},
        {{1, 0, 1, 1, 1, 64, 0}, "min-p"},
        {{1, 0, 1, 0, 0, 64, 0}, "repeat penalty"},
        {{1, 0, 1, 0, 1, -1, 0}, "repeat-last-n"},
        {{NAN, 0, 1, 0, 1, 64, 0}, "temperature"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tb_sampling *s = NULL;
        tb_error err;
        assert_int_equal(tb_sampling_new(&cases[i].p, 10, &s, &err), TB_EINVAL);
        assert_non_null(strstr(err.text, cases[i].says));
        assert_null(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_temperature_one_draws_the_softmax),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_repetition_penalty),
        cmocka_unit_test(test_seeds),
        cmocka_unit_test(test_bad_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
