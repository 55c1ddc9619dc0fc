/*
 * fuzz_gguf.c - libFuzzer target for the GGUF reader. Any input must parse
 * or be rejected with an error; never crash, hang or read out of bounds
 * (built with AddressSanitizer and UBSan). ci/fuzz.sh builds and runs it.
 */
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

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
    tb_gguf_close(g);
    return 0;
}
