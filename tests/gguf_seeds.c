/*
 * gguf_seeds.c - writes small, valid GGUF files with ternbench's writer into
 * a directory: the seed corpus for fuzz_gguf (ci/fuzz.sh), each with a small
 * vocabulary (SentencePiece-style or byte-level BPE) for the tokenizer.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gguf.h"

static int fill(void *ctx, int tensor, uint8_t *dst, size_t size, tb_error *err)
{
    (void)ctx;
    (void)err;
    for (size_t i = 0; i < size; i++)
        dst[i] = (uint8_t)(i * 31 + (size_t)tensor);
    return TB_OK;
}

static int write_seed(const char *dir, const char *name, const char *arch, size_t align,
                      uint32_t type, bool bitnet)
{
    char path[1024], key[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tb_gguf_writer *w = tb_gguf_writer_new(align);
    tb_gguf_writer_str(w, "general.architecture", arch);
    snprintf(key, sizeof key, "%s.block_count", arch);
    tb_gguf_writer_u32(w, key, 1);
    snprintf(key, sizeof key, "%s.rope.freq_base", arch);
    tb_gguf_writer_f32(w, key, 10000.0f);
    if (bitnet) { /* a SentencePiece-style vocabulary */
        const char *toks[] = {"<unk>", "<s>", "</s>", "a", "b", "<0x20>", "\xe2\x96\x81" "a"};
        float scores[] = {0, 0, 0, -1, -2, 0, -3};
        int32_t types[] = {2, 3, 3, 1, 1, 6, 1};
        tb_gguf_writer_str(w, "tokenizer.ggml.model", "llama");
        tb_gguf_writer_arr_str(w, "tokenizer.ggml.tokens", toks, 7);
        tb_gguf_writer_arr(w, "tokenizer.ggml.scores", TB_GGUF_FLOAT32, scores, 7);
        tb_gguf_writer_arr(w, "tokenizer.ggml.token_type", TB_GGUF_INT32, types, 7);
        tb_gguf_writer_u32(w, "tokenizer.ggml.bos_token_id", 1);
        tb_gguf_writer_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    } else { /* a byte-level BPE vocabulary with merges and a special token */
        const char *toks[] = {"a", "b", "\xc4\xa0", "ab", "\xc4\xa0" "a", "<|eot_id|>", "1", "2"};
        const char *merges[] = {"a b", "\xc4\xa0 a"};
        int32_t types[] = {1, 1, 1, 1, 1, 3, 1, 1};
        tb_gguf_writer_str(w, "tokenizer.ggml.model", "gpt2");
        tb_gguf_writer_str(w, "tokenizer.ggml.pre", align == 64 ? "default" : "llama-bpe");
        tb_gguf_writer_arr_str(w, "tokenizer.ggml.tokens", toks, 8);
        tb_gguf_writer_arr(w, "tokenizer.ggml.token_type", TB_GGUF_INT32, types, 8);
        tb_gguf_writer_arr_str(w, "tokenizer.ggml.merges", merges, 2);
        tb_gguf_writer_u32(w, "tokenizer.ggml.eos_token_id", 5);
        tb_gguf_writer_u32(w, "tokenizer.ggml.unknown_token_id", 0); /* bytes it lacks */
    }
    tb_gguf_writer_bool(w, "tokenizer.ggml.add_bos_token", true);
    uint64_t n1[1] = {128}, n2[2] = {128, 2}, n3[2] = {256, 1};
    tb_gguf_writer_tensor(w, "output_norm.weight", 0, bitnet, 1, n1);
    tb_gguf_writer_tensor(w, "token_embd.weight", 1, bitnet, 2, n2);
    tb_gguf_writer_tensor(w, "blk.0.attn_q.weight", type, bitnet, 2, n3);
    tb_error err;
    int rc = tb_gguf_writer_write(w, path, fill, NULL, &err);
    if (rc != TB_OK)
        fprintf(stderr, "gguf_seeds: %s\n", err.text);
    tb_gguf_writer_free(w);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gguf_seeds DIR\n");
        return 2;
    }
    int rc = write_seed(argv[1], "bitnet-i2s.gguf", "bitnet-b1.58", 32, TB_GGML_I2_S, true);
    rc |= write_seed(argv[1], "llama-q8_0.gguf", "llama", 32, TB_GGML_Q8_0, false);
    rc |= write_seed(argv[1], "llama-q4_0-align64.gguf", "llama", 64, TB_GGML_Q4_0, false);
    rc |= write_seed(argv[1], "bitnet-tq2_0.gguf", "bitnet", 32, TB_GGML_TQ2_0, true);
    return rc ? 1 : 0;
}
