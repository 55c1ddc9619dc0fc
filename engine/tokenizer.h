/*
 * tokenizer.h - text to token ids and back, from a GGUF file's vocabulary.
 *
 * Two vocabulary models, as llama.cpp names them in `tokenizer.ggml.model`:
 *   gpt2   byte-level BPE (merges by rank). Pre-tokenizers:
 *            llama3   LLaMA-3's split (`llama-bpe`, and the default when the
 *                     file has no `tokenizer.ggml.pre`, as BitNet-2B4T's has
 *                     none); a word that is itself a token is not merged
 *                     further (LLaMA-3's ignore_merges)
 *            default  llama.cpp's (and so bitnet.cpp's) fallback: four
 *                     regular-expression passes (punctuation runs, the GPT-2
 *                     split without its final \s+, digit runs, ASCII digit
 *                     triples); bitnet.cpp tokenizes 2B4T this way
 *            gpt2     the GPT-2 split
 *   llama  SentencePiece-style BPE (merges by score, spaces as U+2581, a
 *          leading space, byte tokens <0xXX> for what the vocabulary lacks)
 * Control and user-defined tokens written in the text (`<|eot_id|>`) become
 * their ids when parse_special is set; longest match first.
 * The Unicode classes come from engine/unicode_tables.h (generated).
 */
#ifndef TB_TOKENIZER_H
#define TB_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>

#include "gguf.h"
#include "tb_error.h"

typedef enum tb_pre { TB_PRE_LLAMA3, TB_PRE_DEFAULT, TB_PRE_GPT2 } tb_pre;

typedef struct tb_tokenizer tb_tokenizer;

/* Reads the vocabulary from g's tokenizer.ggml.* keys. pre_override: NULL to
 * follow the file, or "llama3" / "default" / "gpt2". Errors name the key. */
int tb_tokenizer_load(const tb_gguf *g, const char *pre_override, tb_tokenizer **out,
                      tb_error *err);
void tb_tokenizer_free(tb_tokenizer *t);

/* Encodes len bytes of text into *ids (allocated, caller frees), prepending
 * BOS when add_bos and the vocabulary has one. */
int tb_tokenizer_encode(const tb_tokenizer *t, const char *text, size_t len, bool add_bos,
                        bool parse_special, int **ids, int *n, tb_error *err);

/* The pieces the pre-tokenizer cuts len bytes of text into (before BPE; no
 * special tokens): piece i is bytes [(*bounds)[2i], (*bounds)[2i+1]).
 * *bounds is allocated; the caller frees it. */
int tb_pretokenize(tb_pre pre, const char *text, size_t len, size_t **bounds, size_t *n);

/* The bytes token id stands for (byte-level and <0xXX> tokens decoded, U+2581
 * as a space); control tokens give their text only when special is set.
 * Returns the length (which may exceed cap: the output is then cut), or -1 for
 * an id outside the vocabulary. */
int tb_tokenizer_piece(const tb_tokenizer *t, int id, bool special, char *buf, size_t cap);

int tb_tokenizer_vocab_size(const tb_tokenizer *t);
int tb_tokenizer_bos(const tb_tokenizer *t);        /* -1 when none */
bool tb_tokenizer_add_bos(const tb_tokenizer *t);   /* the file's add_bos_token (default on) */
/* End of generation: EOS, EOT (`<|eot_id|>`) or EOM. */
bool tb_tokenizer_is_eog(const tb_tokenizer *t, int id);
const char *tb_tokenizer_model_name(const tb_tokenizer *t);  /* "gpt2 (llama3)" etc. */

/* Imports a Hugging Face tokenizer.json (a byte-level BPE model) as GGUF
 * metadata into w: tokens, token types, merges, BOS/EOS/EOT, the pre-tokenizer.
 * The token list is padded with unused `[PAD<n>]` tokens to vocab_size (0: the
 * file's own size); a vocabulary larger than vocab_size is refused. */
int tb_tokenizer_import_hf(const char *path, int vocab_size, tb_gguf_writer *w, tb_error *err);

/* A placeholder SentencePiece-style vocabulary of vocab_size tokens into w,
 * spelled as llama.cpp reads it (tokenizer.ggml.model "llama"): <unk>, <s>,
 * </s>, the 256 byte tokens <0x00>..<0xFF>, then filler pieces tok0, tok1,
 * ... (scores 0, 0, 0, 0..., then -i). What bitnet.cpp's dummy generator
 * gives its models (a SentencePiece vocabulary of the model's size), so that
 * every llama.cpp-family tool opens a dummy model; text is encoded byte by
 * byte. vocab_size >= 259. */
int tb_tokenizer_placeholder(int vocab_size, tb_gguf_writer *w, tb_error *err);

#endif
