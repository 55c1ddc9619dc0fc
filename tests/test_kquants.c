/*
 * test_kquants.c - the K-quant and IQ4 formats against llama.cpp's own
 * output (tests/data/llamacpp-kquants: a tiny llama quantised by
 * llama-quantize into nine mixes, with llama.cpp's dequantisation of every
 * tensor's first two rows and every row's sum).
 *
 *  - dequantisation: the first rows bit for bit, every row sum to float64
 *    rounding, for every quantised tensor of every mix;
 *  - quantisation: ternbench's quantiser on the F16 weights against the
 *    file llama.cpp wrote from them, as RMSE per format.
 */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "formats.h"
#include "tb_file.h"
#include "gguf.h"
#include "model.h"

#define DIR TB_TEST_DATA "/llamacpp-kquants"

static const char *mixes[] = {"Q2_K",   "Q3_K_M", "Q4_K_S", "Q4_K_M", "Q5_K_S",
                              "Q5_K_M", "Q6_K",   "IQ4_NL", "IQ4_XS"};

static json_t *load_index(void)
{
    json_error_t jerr;
    json_t *index = json_load_file(DIR "/dequant-index.json", 0, &jerr);
    if (!index)
        fail_msg("dequant-index.json: %s (line %d)", jerr.text, jerr.line);
    return index;
}

static tb_gguf *open_mix(const char *mix)
{
    char path[512];
    snprintf(path, sizeof path, DIR "/tiny-llama-%s.gguf", mix);
    tb_gguf *g;
    tb_error err;
    if (tb_gguf_open(path, &g, &err) != TB_OK)
        fail_msg("%s", err.text);
    return g;
}

/* Points w at tensor name of g. */
static void tensor_matrix(tb_gguf *g, const char *name, tb_matrix *w)
{
    const tb_gguf_tensor *t = tb_gguf_tensor_find(g, name);
    assert_non_null(t);
    tb_format f;
    tb_error err;
    if (!tb_ggml_type_format(t->type, false, &f))
        fail_msg("%s: %s is %s, not a format ternbench reads", g->path, name, t->type_name);
    if (tb_matrix_init(w, f, (int)t->ne[1], (int)t->ne[0], t->data, t->size, &err) != TB_OK)
        fail_msg("%s", err.text);
}

static void test_dequantisation_matches_llama_cpp(void **state)
{
    (void)state;
    json_t *index = load_index();
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, DIR "/dequant-%s.f32", mixes[i]);
        size_t size;
        char *first;
        tb_error err;
        if (tb_file_read_all(path, 1 << 20, &first, &size, &err) != TB_OK)
            fail_msg("%s", err.text);
        tb_gguf *g = open_mix(mixes[i]);
        json_t *tensors = json_object_get(index, mixes[i]), *e;
        size_t j;
        int checked = 0;
        double worst = 0;
        json_array_foreach(tensors, j, e) {
            const char *name = json_string_value(json_object_get(e, "name"));
            int rows = (int)json_integer_value(json_object_get(e, "rows"));
            int cols = (int)json_integer_value(json_object_get(e, "cols"));
            size_t off = (size_t)json_integer_value(json_object_get(e, "first_rows_offset"));
            json_t *sums = json_object_get(e, "row_sums");
            tb_matrix w;
            tensor_matrix(g, name, &w);
            assert_int_equal(w.rows, rows);
            assert_int_equal(w.k, cols);
            assert_true(off + 2 * (size_t)cols * sizeof(float) <= size);
            float *row = malloc((size_t)cols * sizeof *row);
            for (int r = 0; r < rows; r++) {
                tb_format_get(w.fmt)->dequantize_row(&w, r, row);
                if (r < 2 && memcmp(row, first + off + (size_t)r * cols * sizeof(float),
                                    (size_t)cols * sizeof(float)) != 0)
                    fail_msg("%s %s (%s) row %d: not llama.cpp's values", mixes[i], name,
                             tb_format_get(w.fmt)->name, r);
                double sum = 0, mag = 0;
                for (int c = 0; c < cols; c++) {
                    sum += row[c];
                    mag += fabs(row[c]);
                }
                double want = json_real_value(json_array_get(sums, (size_t)r));
                double diff = fabs(sum - want) / (mag + 1e-300);
                worst = diff > worst ? diff : worst;
                if (diff > 1e-12)
                    fail_msg("%s %s row %d: sum %.17g, llama.cpp %.17g", mixes[i], name, r, sum, want);
            }
            free(row);
            checked++;
        }
        print_message("%-6s: %d tensors, first rows bit for bit, row sums within %.1e\n", mixes[i],
                      checked, worst);
        assert_true(checked > 0);
        tb_gguf_close(g);
        free(first);
    }
    json_decref(index);
}

/* Quantises the F16 file's tensor with ternbench and compares the RMSE
 * against the original with that of llama.cpp's own quantisation. */
static void test_quantiser_beside_llama_cpp(void **state)
{
    (void)state;
    json_t *index = load_index();
    tb_gguf *f16 = open_mix("f16");
    static const struct { const char *mix; tb_format fmt; } cases[] = {
        {"Q2_K", TB_FMT_Q2_K},     {"Q3_K_M", TB_FMT_Q3_K},   {"Q4_K_S", TB_FMT_Q4_K},
        {"Q5_K_S", TB_FMT_Q5_K},   {"Q6_K", TB_FMT_Q6_K},     {"IQ4_NL", TB_FMT_IQ4_NL},
        {"IQ4_XS", TB_FMT_IQ4_XS},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tb_gguf *g = open_mix(cases[c].mix);
        const tb_format_traits *tr = tb_format_get(cases[c].fmt);
        double se_ours = 0, se_theirs = 0;
        size_t n = 0;
        json_t *tensors = json_object_get(index, cases[c].mix), *e;
        size_t j;
        json_array_foreach(tensors, j, e) {
            const char *name = json_string_value(json_object_get(e, "name"));
            tb_matrix theirs, orig;
            tensor_matrix(g, name, &theirs);
            if (theirs.fmt != cases[c].fmt)
                continue;
            tensor_matrix(f16, name, &orig);
            size_t count = (size_t)orig.rows * orig.k;
            float *x = malloc(count * sizeof *x), *back = malloc((size_t)orig.k * sizeof *back);
            for (int r = 0; r < orig.rows; r++)
                tb_format_get(orig.fmt)->dequantize_row(&orig, r, x + (size_t)r * orig.k);
            size_t bytes = tb_format_bytes(cases[c].fmt, orig.rows, orig.k);
            uint8_t *q = malloc(bytes);
            tb_matrix ours;
            tb_error err;
            assert_int_equal(tr->quantize(x, orig.rows, orig.k, q, &err), TB_OK);
            assert_int_equal(tb_matrix_init(&ours, cases[c].fmt, orig.rows, orig.k, q, bytes, &err), TB_OK);
            for (int r = 0; r < orig.rows; r++) {
                const float *xr = x + (size_t)r * orig.k;
                tr->dequantize_row(&ours, r, back);
                for (int i = 0; i < orig.k; i++)
                    se_ours += ((double)back[i] - xr[i]) * (back[i] - xr[i]);
                tr->dequantize_row(&theirs, r, back);
                for (int i = 0; i < orig.k; i++)
                    se_theirs += ((double)back[i] - xr[i]) * (back[i] - xr[i]);
            }
            n += count;
            free(x);
            free(back);
            free(q);
        }
        assert_true(n > 0);
        double ours = sqrt(se_ours / n), theirs = sqrt(se_theirs / n);
        print_message("%-6s: RMSE ternbench %.3e, llama.cpp %.3e (ratio %.3f) over %zu weights\n",
                      tr->name, ours, theirs, ours / theirs, n);
        /* the same scale searches as llama.cpp's, not the same code: within 5 % */
        assert_true(ours <= 1.05 * theirs);
        tb_gguf_close(g);
    }
    tb_gguf_close(f16);
    json_decref(index);
}

/* convert's mixes give each tensor the type llama-quantize gives it (the
 * plain formats with --embd-format q6_k, as llama.cpp puts a tied output). */
static void test_mixes_match_llama_quantize(void **state)
{
    (void)state;
    static const struct { const char *mix, *ours; } cases[] = {
        {"Q2_K", "q2_k_mix"}, {"Q3_K_M", "q3_k_m"}, {"Q4_K_S", "q4_k_s"}, {"Q4_K_M", "q4_k_m"},
        {"Q5_K_S", "q5_k_s"}, {"Q5_K_M", "q5_k_m"}, {"Q6_K", "q6_k"},     {"IQ4_NL", "iq4_nl"},
        {"IQ4_XS", "iq4_xs"},
    };
    char *dir = tb_tmpdir(), out[1100];
    snprintf(out, sizeof out, "%s/mix.gguf", dir);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tb_convert_opts o = {0};
        if (!tb_mix_parse(cases[c].ours, &o.mix, &o.fmt)) {
            tb_error perr;
            assert_int_equal(tb_format_parse(cases[c].ours, &o.fmt, &perr), TB_OK);
            o.embd_set = true;
            o.embd = TB_FMT_Q6_K;
        }
        tb_convert_report rep;
        tb_error err;
        if (tb_convert(DIR "/tiny-llama-f16.gguf", out, &o, &rep, &err) != TB_OK)
            fail_msg("%s: %s", cases[c].ours, err.text);
        tb_gguf *theirs = open_mix(cases[c].mix), *ours;
        assert_int_equal(tb_gguf_open(out, &ours, &err), TB_OK);
        assert_int_equal(ours->n_tensors, theirs->n_tensors);
        for (uint64_t i = 0; i < theirs->n_tensors; i++) {
            const tb_gguf_tensor *t = &theirs->tensors[i], *u = tb_gguf_tensor_find(ours, t->name);
            assert_non_null(u);
            if (u->type != t->type)
                fail_msg("%s: %s is %s, llama-quantize made it %s", cases[c].ours, t->name,
                         u->type_name, t->type_name);
        }
        tb_gguf_close(ours);
        tb_gguf_close(theirs);
    }
    tb_rmtree(dir);
    free(dir);
}

/* Quantising on several threads gives the bytes one call gives, for the
 * row-local formats (split by rows) and the ternary ones (not split). */
static void test_threaded_quantiser_is_exact(void **state)
{
    (void)state;
    const int rows = 37, k = 2048;
    float *x = malloc(sizeof *x * rows * k);
    uint64_t s = 7;
    for (int i = 0; i < rows * k; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((int)(s >> 40) % 2001 - 1000) / 3000.0f;
    }
    const tb_format fmts[] = {TB_FMT_Q4_K, TB_FMT_Q2_K, TB_FMT_IQ4_XS, TB_FMT_Q6_K, TB_FMT_Q8_0, TB_FMT_I2_S};
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        size_t bytes = tb_format_bytes(fmts[f], rows, k);
        uint8_t *one = calloc(1, bytes), *many = calloc(1, bytes);
        tb_error err;
        assert_int_equal(tb_format_get(fmts[f])->quantize(x, rows, k, one, &err), TB_OK);
        assert_int_equal(tb_format_quantize(fmts[f], x, rows, k, many, 5, &err), TB_OK);
        if (memcmp(one, many, bytes))
            fail_msg("%s: 5 threads wrote other bytes than one call", tb_format_get(fmts[f])->name);
        free(one);
        free(many);
    }
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dequantisation_matches_llama_cpp),
        cmocka_unit_test(test_quantiser_beside_llama_cpp),
        cmocka_unit_test(test_mixes_match_llama_quantize),
        cmocka_unit_test(test_threaded_quantiser_is_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
