/*
 * cmd_tokenize.c - `ternbench tokenize -m MODEL [--ids-only] TEXT`: the token
 * ids of a text and the piece each stands for, as llama.cpp's tokenize tool
 * prints them. Only the vocabulary is read, so a vocabulary-only GGUF (`gen
 * --vocab-only`) serves as well as a model.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tb_file.h"
#include "tokenizer.h"

static void help(void)
{
    printf("usage: ternbench tokenize -m MODEL [options] TEXT\n"
           "       ternbench tokenize -m MODEL [options] -f FILE\n\n"
           "Prints the token ids of TEXT, one `ID -> 'PIECE'` line each.\n\n"
           "  -m, --model FILE   a GGUF model or vocabulary (gen --vocab-only)\n"
           "  -f, --file FILE    tokenize the contents of FILE instead of TEXT\n"
           "  --ids-only         print only the ids, as [id, id, ...]\n"
           "  --no-bos           do not add the BOS token the vocabulary asks for\n"
           "  --no-parse-special treat `<|eot_id|>` and the like as plain text\n"
           "  --pre NAME         pre-tokenizer: llama3, default (bitnet.cpp's for 2B4T), gpt2\n"
           "                     (default: what the file names; LLaMA-3 when it names none)\n"
           "  -h, --help         this text\n");
}

/* A piece for display: printable bytes as they are, the rest as \xNN. */
static void print_piece(const char *p, int n)
{
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\'' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

int tb_cmd_tokenize(int argc, char **argv)
{
    enum { O_IDS = 256, O_NO_BOS, O_NO_SPECIAL, O_PRE };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"file", required_argument, NULL, 'f'},
        {"ids-only", no_argument, NULL, O_IDS}, {"no-bos", no_argument, NULL, O_NO_BOS},
        {"no-parse-special", no_argument, NULL, O_NO_SPECIAL},
        {"pre", required_argument, NULL, O_PRE}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *model = NULL, *file = NULL, *pre = NULL;
    bool ids_only = false, bos = true, special = true;
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, ":m:f:h", opts, NULL)) != -1;) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'f': file = optarg; break;
        case O_IDS: ids_only = true; break;
        case O_NO_BOS: bos = false; break;
        case O_NO_SPECIAL: special = false; break;
        case O_PRE: pre = optarg; break;
        case 'h': help(); return TB_EXIT_OK;
        default: return tb_cli_bad_option("tokenize", argv, optind, optopt, c);
        }
    }
    if (!model)
        return tb_cli_usage_error("tokenize", "-m MODEL is required");
    if (!strncmp(model, "dummy:", 6))
        return tb_cli_usage_error("tokenize", "%s has no vocabulary: write a model with one "
                                  "(`ternbench gen --preset 2B4T --tokenizer tokenizer.json`)", model);
    if ((file != NULL) == (optind < argc) || argc - optind > 1)
        return tb_cli_usage_error("tokenize", "give either one TEXT argument or -f FILE");
    tb_error err;
    char *text = NULL;
    size_t len;
    if (file) {
        if (tb_file_read_all(file, (size_t)1 << 30, &text, &len, &err) != TB_OK) {
            fprintf(stderr, "ternbench tokenize: %s\n", err.text);
            return TB_EXIT_USAGE;
        }
    } else {
        text = strdup(argv[optind]);
        len = text ? strlen(text) : 0;
    }
    tb_gguf *g = NULL;
    tb_tokenizer *t = NULL;
    int *ids = NULL, n = 0;
    int rc = text ? TB_OK : tb_error_set(&err, TB_ENOMEM, "out of memory");
    if (rc == TB_OK)
        rc = tb_gguf_open(model, &g, &err);
    if (rc == TB_OK)
        rc = tb_tokenizer_load(g, pre, &t, &err);
    if (rc == TB_OK)
        rc = tb_tokenizer_encode(t, text, len, bos && tb_tokenizer_add_bos(t), special, &ids, &n,
                                 &err);
    if (rc != TB_OK) {
        fprintf(stderr, "ternbench tokenize: %s\n", err.text);
    } else if (ids_only) {
        putchar('[');
        for (int i = 0; i < n; i++)
            printf("%s%d", i ? ", " : "", ids[i]);
        puts("]");
    } else {
        char piece[256];
        for (int i = 0; i < n; i++) {
            int m = tb_tokenizer_piece(t, ids[i], true, piece, sizeof piece);
            printf("%6d -> '", ids[i]);
            print_piece(piece, m < (int)sizeof piece ? m : (int)sizeof piece);
            puts("'");
        }
    }
    free(ids);
    free(text);
    tb_tokenizer_free(t);
    tb_gguf_close(g);
    return rc == TB_OK ? TB_EXIT_OK : rc == TB_ENOMEM ? TB_EXIT_FAIL : TB_EXIT_USAGE;
}
