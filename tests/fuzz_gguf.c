/*
 * fuzz_gguf.c - libFuzzer target for the GGUF reader and the tokenizer it
 * feeds. Any input must parse or be rejected with an error; a vocabulary in
 * it must load or be rejected, and then encode and decode text; never crash,
 * hang or read out of bounds (built with AddressSanitizer and UBSan).
 * ci/fuzz.sh builds and runs it.
 */
#include <stddef.h>
#include <stdint.h>

#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tb_gguf *g;
    tb_error err;
    if (tb_gguf_parse(data, size, "fuzz.gguf", &g, &err) != TB_OK)
        return 0;
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) /* every tensor's bytes are readable */
        sink ^= g->tensors[i].data[0] ^ g->tensors[i].data[g->tensors[i].size - 1];
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].type == TB_GGUF_ARRAY && g->kv[i].arr_type == TB_GGUF_STRING) {
            const uint8_t *cur = g->kv[i].arr_data;
            for (uint64_t j = 0; j < g->kv[i].arr_count; j++) {
                tb_gguf_str s = tb_gguf_array_str(&g->kv[i], &cur);
                if (s.len)
                    sink ^= (uint8_t)s.ptr[s.len - 1];
            }
        }
    tb_tokenizer *t;
    if (tb_tokenizer_load(g, NULL, &t, &err) == TB_OK) {
        static const char text[] = "ab a1 22<|eot_id|> \xe2\x96\x81" "ba\xff\n\n  x";
        int *ids, n;
        if (tb_tokenizer_encode(t, text, sizeof text - 1, true, true, &ids, &n, &err) == TB_OK) {
            char piece[64];
            for (int i = 0; i < n; i++)
                if (tb_tokenizer_piece(t, ids[i], true, piece, sizeof piece) < 0)
                    abort(); /* encode gave an id outside the vocabulary */
            free(ids);
        }
        tb_tokenizer_free(t);
    }
    tb_gguf_close(g);
    return 0;
}
