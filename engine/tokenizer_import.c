/*
 * tokenizer_import.c - a Hugging Face tokenizer.json (byte-level BPE) as GGUF
 * tokenizer metadata, the way llama.cpp's converter writes it.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

static const char LLAMA3_SPLIT[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* "llama-bpe" or "gpt-2" (llama.cpp's spellings) from the pre_tokenizer
 * object, or NULL. */
static const char *pre_name(json_t *pre)
{
    const char *type = json_string_value(json_object_get(pre, "type"));
    if (!type)
        return NULL;
    if (!strcmp(type, "ByteLevel"))
        return json_is_false(json_object_get(pre, "use_regex")) ? NULL : "gpt-2";
    if (strcmp(type, "Sequence"))
        return NULL;
    json_t *steps = json_object_get(pre, "pretokenizers");
    const char *regex = json_string_value(
        json_object_get(json_object_get(json_array_get(steps, 0), "pattern"), "Regex"));
    const char *second = json_string_value(json_object_get(json_array_get(steps, 1), "type"));
    if (regex && !strcmp(regex, LLAMA3_SPLIT) && second && !strcmp(second, "ByteLevel"))
        return "llama-bpe";
    return NULL;
}

typedef struct vocab {
    const char **text;
    char **owned;               /* [PAD<n>] names */
    int32_t *type;
    int n;
} vocab;

static int put_token(vocab *v, json_int_t id, const char *text, int32_t type, const char *path,
                     tb_error *err)
{
    if (id < 0 || id >= v->n)
        return tb_error_set(err, TB_EINVAL, "%s: token '%s' has id %lld, outside the model's "
                            "vocabulary of %d: choose a preset with a larger vocabulary (2B4T "
                            "has 128256)", path, text, (long long)id, v->n);
    v->text[id] = text;
    v->type[id] = type;
    return TB_OK;
}

static int import(json_t *root, const char *path, int vocab_size, tb_gguf_writer *w, tb_error *err)
{
    json_t *model = json_object_get(root, "model");
    const char *mtype = json_string_value(json_object_get(model, "type"));
    json_t *jvocab = json_object_get(model, "vocab"), *jmerges = json_object_get(model, "merges");
    if (!mtype || strcmp(mtype, "BPE") || !json_is_object(jvocab) || !json_is_array(jmerges))
        return tb_error_set(err, TB_EINVAL, "%s: model: only BPE tokenizers (model.type \"BPE\" "
                            "with vocab and merges) can be imported", path);
    if (json_is_true(json_object_get(model, "byte_fallback")))
        return tb_error_set(err, TB_EINVAL, "%s: model.byte_fallback: SentencePiece-style BPE "
                            "files cannot be imported yet, only byte-level ones", path);
    const char *pre = pre_name(json_object_get(root, "pre_tokenizer"));
    if (!pre)
        return tb_error_set(err, TB_EINVAL, "%s: pre_tokenizer: not one ternbench implements "
                            "(LLaMA-3's split + ByteLevel, or GPT-2's ByteLevel)", path);

    if (vocab_size <= 0) { /* the file's own size: one past the largest id */
        json_int_t top = -1;
        const char *k;
        json_t *id;
        json_object_foreach(jvocab, k, id)
            top = json_integer_value(id) > top ? json_integer_value(id) : top;
        json_t *a = json_object_get(root, "added_tokens");
        for (size_t i = 0; i < json_array_size(a); i++) {
            json_int_t n = json_integer_value(json_object_get(json_array_get(a, i), "id"));
            top = n > top ? n : top;
        }
        if (top < 0 || top >= (1 << 24))
            return tb_error_set(err, TB_EINVAL, "%s: model.vocab: %lld tokens", path,
                                (long long)top + 1);
        vocab_size = (int)top + 1;
    }
    vocab v = {calloc((size_t)vocab_size, sizeof(char *)), calloc((size_t)vocab_size, sizeof(char *)),
               calloc((size_t)vocab_size, sizeof(int32_t)), vocab_size};
    size_t n_merges = json_array_size(jmerges);
    const char **merges = calloc(n_merges + 1, sizeof *merges);
    char **merge_owned = calloc(n_merges + 1, sizeof *merge_owned);
    int rc = v.text && v.owned && v.type && merges && merge_owned
                 ? TB_OK : tb_error_set(err, TB_ENOMEM, "out of memory");
    const char *key;
    json_t *val;
    void *iter = rc == TB_OK ? json_object_iter(jvocab) : NULL;
    for (; iter && rc == TB_OK; iter = json_object_iter_next(jvocab, iter)) {
        key = json_object_iter_key(iter);
        val = json_object_iter_value(iter);
        rc = json_is_integer(val) ? put_token(&v, json_integer_value(val), key, TT_NORMAL, path, err)
                                  : tb_error_set(err, TB_EINVAL, "%s: model.vocab['%s'] is not an "
                                                 "integer id", path, key);
    }
    int bos = -1, eos = -1, eot = -1;
    json_t *added = json_object_get(root, "added_tokens");
    for (size_t i = 0; rc == TB_OK && i < json_array_size(added); i++) {
        json_t *a = json_array_get(added, i);
        const char *content = json_string_value(json_object_get(a, "content"));
        json_t *id = json_object_get(a, "id");
        if (!content || !json_is_integer(id)) {
            rc = tb_error_set(err, TB_EINVAL, "%s: added_tokens[%zu] needs content and id", path, i);
            break;
        }
        json_int_t n = json_integer_value(id);
        rc = put_token(&v, n, content, json_is_true(json_object_get(a, "special")) ? TT_CONTROL
                                                                                   : TT_USER,
                       path, err);
        if (!strcmp(content, "<|begin_of_text|>") || !strcmp(content, "<s>"))
            bos = (int)n;
        else if (!strcmp(content, "<|end_of_text|>") || !strcmp(content, "</s>") ||
                 !strcmp(content, "<|endoftext|>"))
            eos = (int)n;
        else if (!strcmp(content, "<|eot_id|>"))
            eot = (int)n;
    }
    for (int id = 0; rc == TB_OK && id < vocab_size; id++) {
        if (v.text[id])
            continue;
        char name[32];
        snprintf(name, sizeof name, "[PAD%d]", id);
        if (!(v.owned[id] = strdup(name)))
            rc = tb_error_set(err, TB_ENOMEM, "out of memory");
        v.text[id] = v.owned[id];
        v.type[id] = TT_UNUSED;
    }
    for (size_t i = 0; rc == TB_OK && i < n_merges; i++) {
        json_t *m = json_array_get(jmerges, i);
        if (json_is_string(m)) {
            merges[i] = json_string_value(m);
            continue;
        }
        const char *l = json_string_value(json_array_get(m, 0));
        const char *r = json_string_value(json_array_get(m, 1));
        if (!l || !r) {
            rc = tb_error_set(err, TB_EINVAL, "%s: model.merges[%zu] is neither \"A B\" nor "
                              "[\"A\", \"B\"]", path, i);
            break;
        }
        size_t len = strlen(l) + strlen(r) + 2;
        if (!(merge_owned[i] = malloc(len)))
            rc = tb_error_set(err, TB_ENOMEM, "out of memory");
        else
            snprintf(merge_owned[i], len, "%s %s", l, r);
        merges[i] = merge_owned[i];
    }
    if (rc == TB_OK) {
        tb_gguf_writer_str(w, "tokenizer.ggml.model", "gpt2");
        tb_gguf_writer_str(w, "tokenizer.ggml.pre", pre); /* "gpt-2", as llama.cpp spells it */
        tb_gguf_writer_arr_str(w, "tokenizer.ggml.tokens", v.text, (uint64_t)vocab_size);
        tb_gguf_writer_arr(w, "tokenizer.ggml.token_type", TB_GGUF_INT32, v.type,
                           (uint64_t)vocab_size);
        tb_gguf_writer_arr_str(w, "tokenizer.ggml.merges", merges, n_merges);
        if (bos >= 0)
            tb_gguf_writer_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
        if (eos >= 0)
            tb_gguf_writer_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
        if (eot >= 0)
            tb_gguf_writer_u32(w, "tokenizer.ggml.eot_token_id", (uint32_t)eot);
        tb_gguf_writer_bool(w, "tokenizer.ggml.add_bos_token", bos >= 0);
    }
    for (int id = 0; v.owned && id < vocab_size; id++)
        free(v.owned[id]);
    for (size_t i = 0; merge_owned && i < n_merges; i++)
        free(merge_owned[i]);
    free(v.owned);
    free(v.text);
    free(v.type);
    free(merges);
    free(merge_owned);
    return rc;
}

int tb_tokenizer_import_hf(const char *path, int vocab_size, tb_gguf_writer *w, tb_error *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        return tb_error_set(err, TB_EINVAL, "%s: line %d: %s", path, jerr.line, jerr.text);
    int rc = json_is_object(root) ? import(root, path, vocab_size, w, err)
                                  : tb_error_set(err, TB_EINVAL, "%s: not a JSON object", path);
    json_decref(root);
    return rc;
}

int tb_tokenizer_placeholder(int vocab_size, tb_gguf_writer *w, tb_error *err)
{
    enum { SPECIALS = 3, BYTES = 256 };
    if (vocab_size < SPECIALS + BYTES)
        return tb_error_set(err, TB_EINVAL, "a placeholder vocabulary needs at least %d tokens, "
                            "not %d", SPECIALS + BYTES, vocab_size);
    const char **text = calloc((size_t)vocab_size, sizeof *text);
    char *names = malloc((size_t)vocab_size * 16);
    float *score = calloc((size_t)vocab_size, sizeof *score);
    int32_t *type = calloc((size_t)vocab_size, sizeof *type);
    if (!text || !names || !score || !type) {
        free(text);
        free(names);
        free(score);
        free(type);
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    }
    static const char *const specials[SPECIALS] = {"<unk>", "<s>", "</s>"};
    static const int32_t special_type[SPECIALS] = {TT_UNKNOWN, TT_CONTROL, TT_CONTROL};
    for (int i = 0; i < vocab_size; i++) {
        char *name = names + (size_t)i * 16;
        if (i < SPECIALS) {
            text[i] = specials[i];
            type[i] = special_type[i];
            continue;
        }
        if (i < SPECIALS + BYTES) {
            snprintf(name, 16, "<0x%02X>", i - SPECIALS);
            type[i] = TT_BYTE;
        } else {
            snprintf(name, 16, "tok%d", i - SPECIALS - BYTES);
            type[i] = TT_NORMAL;
            score[i] = -(float)(i - SPECIALS - BYTES);
        }
        text[i] = name;
    }
    tb_gguf_writer_str(w, "tokenizer.ggml.model", "llama");
    tb_gguf_writer_arr_str(w, "tokenizer.ggml.tokens", text, (uint64_t)vocab_size);
    tb_gguf_writer_arr(w, "tokenizer.ggml.scores", TB_GGUF_FLOAT32, score, (uint64_t)vocab_size);
    tb_gguf_writer_arr(w, "tokenizer.ggml.token_type", TB_GGUF_INT32, type, (uint64_t)vocab_size);
    tb_gguf_writer_u32(w, "tokenizer.ggml.bos_token_id", 1);
    tb_gguf_writer_u32(w, "tokenizer.ggml.eos_token_id", 2);
    tb_gguf_writer_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    tb_gguf_writer_bool(w, "tokenizer.ggml.add_bos_token", true);
    tb_gguf_writer_bool(w, "tokenizer.ggml.add_eos_token", false);
    free(text);
    free(names);
    free(score);
    free(type);
    return TB_OK;
}
