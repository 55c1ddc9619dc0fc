/*
 * cmd_gen.c - `ternbench gen --preset P --format F [--seed S] -o FILE`: writes
 * a dummy model as a GGUF file, streamed one tensor at a time. The file holds
 * exactly the weights `dummy:P:F` synthesises in memory, so results on the
 * file and on the spec agree. --tokenizer gives it a real vocabulary.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "dummy.h"
#include "tb_time.h"
#include "tokenizer.h"

static void help(void)
{
    printf("usage: ternbench gen --preset P [--format F] [--embd-format E] [--seed S]\n"
           "                     [--tokenizer FILE] -o FILE\n"
           "       ternbench gen --tokenizer FILE --vocab-only -o FILE\n\n"
           "Writes a dummy model (random ternary weights, as the paper's benchmarks used)\n"
           "as a GGUF file; `dummy:P:F` is the same model synthesised in memory. With\n"
           "--vocab-only, a GGUF file holding only the vocabulary (for `tokenize`).\n\n"
           "  --preset P         125M 350M 700M 1B 1.5B 2.7B 3.8B 7B 13B 30B 70B 100B 2B4T\n"
           "  --format F         i2_s tq2_0 tq1_0 f16 bf16 f32 q8_0 q4_0 (default i2_s)\n"
           "  --embd-format E    the tied embedding / lm_head: f16 (default, as the official\n"
           "                     model), bf16, f32, q8_0, q6_k, q4_0\n"
           "  --seed S           weight seed (default 1, the seed dummy: specs use)\n"
           "  --tokenizer FILE   a Hugging Face tokenizer.json (BPE) whose vocabulary the\n"
           "                     model gets (its size must not exceed the preset's vocabulary);\n"
           "                     without it, a placeholder SentencePiece vocabulary of the\n"
           "                     preset's size (byte tokens), as bitnet.cpp's dummy models have\n"
           "  --vocab-only       write the vocabulary only (no --preset)\n"
           "  -o, --output FILE  where to write (atomically: temporary file, then rename)\n"
           "  -h, --help         this text\n");
}

int tb_cmd_gen(int argc, char **argv)
{
    enum { O_PRESET = 256, O_FORMAT, O_SEED, O_TOKENIZER, O_VOCAB_ONLY, O_EMBD };
    static const struct option opts[] = {
        {"preset", required_argument, NULL, O_PRESET}, {"format", required_argument, NULL, O_FORMAT},
        {"seed", required_argument, NULL, O_SEED}, {"tokenizer", required_argument, NULL, O_TOKENIZER},
        {"vocab-only", no_argument, NULL, O_VOCAB_ONLY},
        {"embd-format", required_argument, NULL, O_EMBD},
        {"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *preset = NULL, *format = "i2_s", *embd_name = "f16", *out = NULL, *tokenizer = NULL;
    long seed = 1;
    bool vocab_only = false;
    int rc = TB_EXIT_OK;
    opterr = 0;
    optind = 1;
    for (int c; rc == TB_EXIT_OK && (c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1;) {
        switch (c) {
        case O_PRESET: preset = optarg; break;
        case O_FORMAT: format = optarg; break;
        case O_SEED: rc = tb_cli_parse_int("gen", "--seed", optarg, 0, 1L << 40, &seed); break;
        case O_TOKENIZER: tokenizer = optarg; break;
        case O_VOCAB_ONLY: vocab_only = true; break;
        case O_EMBD: embd_name = optarg; break;
        case 'o': out = optarg; break;
        case 'h': help(); return TB_EXIT_OK;
        default: return tb_cli_bad_option("gen", argv, optind, optopt, c);
        }
    }
    if (rc != TB_EXIT_OK)
        return rc;
    if (optind < argc)
        return tb_cli_usage_error("gen", "unexpected argument '%s'", argv[optind]);
    if (vocab_only ? !tokenizer || preset || !out : !preset || !out)
        return tb_cli_usage_error("gen", vocab_only ? "--vocab-only takes --tokenizer and -o, and no "
                                                      "--preset"
                                                    : "both --preset and -o FILE are required");
    tb_error err;
    const tb_preset *p = vocab_only ? NULL : tb_preset_require(preset, &err);
    tb_format fmt = TB_FMT_I2_S, embd = TB_FMT_F16;
    if (!vocab_only && (!p || tb_format_parse(format, &fmt, &err) != TB_OK ||
                        tb_format_parse(embd_name, &embd, &err) != TB_OK))
        return tb_cli_usage_error("gen", "%s", err.text);

    double t0 = tb_now();
    if (vocab_only) {
        tb_gguf_writer *w = tb_gguf_writer_new(32);
        rc = !w ? tb_error_set(&err, TB_ENOMEM, "out of memory")
                : tb_tokenizer_import_hf(tokenizer, 0, w, &err);
        if (rc == TB_OK)
            rc = tb_gguf_writer_write(w, out, NULL, NULL, &err);
        tb_gguf_writer_free(w);
    } else {
        rc = tb_dummy_save(p, fmt, embd, (uint64_t)seed, tokenizer, out, &err);
    }
    if (rc != TB_OK) {
        fprintf(stderr, "ternbench gen: %s\n", err.text);
        return rc == TB_ENOMEM || rc == TB_EIO ? TB_EXIT_FAIL : TB_EXIT_USAGE;
    }
    struct stat st;
    double mb = stat(out, &st) == 0 ? (double)st.st_size / 1e6 : 0;
    if (vocab_only)
        printf("wrote %s: the vocabulary of %s, %.1f MB in %.1f s\n", out, tokenizer, mb,
               tb_now() - t0);
    else
        printf("wrote %s: dummy %s in %s (seed %ld, %s%s), %.1f MB in %.1f s\n", out, p->name,
               tb_format_get(fmt)->name, seed, tokenizer ? "vocabulary from " : "placeholder vocabulary",
               tokenizer ? tokenizer : "", mb, tb_now() - t0);
    return TB_EXIT_OK;
}
