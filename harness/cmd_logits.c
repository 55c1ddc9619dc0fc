/*
 * cmd_logits.c - `ternbench logits -m MODEL --tokens ID,ID,...`: the logits
 * after each token, decoding one token at a time from an empty cache, one
 * line per position: `POS TOKEN_ID v0 v1 ...` (%.6g). This is how a user
 * checks ternbench against another engine (bitnet.cpp's tests print the same).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cpu.h"
#include "dummy.h"

static void help(void)
{
    printf("usage: ternbench logits -m MODEL --tokens ID,ID,... [-t T] [--kv f16|f32] [--batch]\n\n"
           "Prints, for each position, `POS TOKEN_ID` and all logits (%%.6g), feeding the\n"
           "tokens one at a time from an empty cache.\n\n"
           "  -m, --model M      a GGUF model (bitnet-b1.58, bitnet or llama architecture) or\n"
           "                     dummy:PRESET[:FORMAT[:EMBEDDING]]\n"
           "  --tokens LIST      comma-separated token ids\n"
           "  -t, --threads T    threads (default 1)\n"
           "  --kv TYPE          KV cache: f16 (default, as ggml computes) or f32\n"
           "  --batch            feed the whole sequence as one batch (the GEMM kernels)\n"
           "  -h, --help         this text\n");
}

int tb_cmd_logits(int argc, char **argv)
{
    enum { O_TOKENS = 256, O_KV, O_BATCH };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"tokens", required_argument, NULL, O_TOKENS},
        {"threads", required_argument, NULL, 't'}, {"kv", required_argument, NULL, O_KV},
        {"batch", no_argument, NULL, O_BATCH},
        {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *model = NULL, *tokens = NULL;
    long threads = 1;
    tb_kv_type kv = TB_KV_F16;
    bool batch = false;
    int rc = TB_EXIT_OK;
    opterr = 0;
    optind = 1;
    for (int c; rc == TB_EXIT_OK && (c = getopt_long(argc, argv, ":m:t:h", opts, NULL)) != -1;) {
        switch (c) {
        case 'm': model = optarg; break;
        case O_TOKENS: tokens = optarg; break;
        case 't': rc = tb_cli_parse_int("logits", "--threads", optarg, 1, 1024, &threads); break;
        case O_KV: rc = tb_cli_parse_kv("logits", optarg, &kv); break;
        case O_BATCH: batch = true; break;
        case 'h': help(); return TB_EXIT_OK;
        default: return tb_cli_bad_option("logits", argv, optind, optopt, c);
        }
    }
    if (rc != TB_EXIT_OK)
        return rc;
    if (optind < argc)
        return tb_cli_usage_error("logits", "unexpected argument '%s'", argv[optind]);
    if (!model || !tokens)
        return tb_cli_usage_error("logits", "both -m MODEL and --tokens are required");

    tb_cpu_info cpu;
    tb_cpu_detect(&cpu);
    tb_isa isa;
    tb_error err;
    if (tb_isa_select(cpu.features, getenv("TERNBENCH_ISA"), &isa, &err) != TB_OK) {
        fprintf(stderr, "ternbench logits: %s\n", err.text);
        return TB_EXIT_USAGE;
    }
    tb_model *m;
    if (tb_model_open(model, (int)threads, isa, 0, kv, &m, &err) != TB_OK) {
        fprintf(stderr, "ternbench logits: %s\n", err.text);
        return TB_EXIT_USAGE;
    }
    int n = 0, *ids = malloc((strlen(tokens) / 2 + 1) * sizeof *ids);
    rc = ids ? TB_EXIT_OK : TB_EXIT_FAIL;
    for (const char *p = tokens; ids && *p && rc == TB_EXIT_OK;) {
        char *end;
        long id = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || id < 0 || id >= m->cfg.vocab)
            rc = tb_cli_usage_error("logits", "--tokens: '%.*s' is not a token id below %d",
                                    (int)strcspn(p, ","), p, m->cfg.vocab);
        ids[n++] = (int)id;
        p = *end ? end + 1 : end;
    }
    if (rc == TB_EXIT_OK && n > m->cfg.ctx)
        rc = tb_cli_usage_error("logits", "--tokens: %d tokens, more than the context (%d)", n,
                                m->cfg.ctx);
    float *all = NULL;
    if (rc == TB_EXIT_OK && batch) {
        all = malloc((size_t)n * m->cfg.vocab * sizeof *all);
        if (!all || tb_model_set_batch(m, n, &err) != TB_OK ||
            tb_model_forward_all(m, ids, n, all) != TB_OK) {
            fprintf(stderr, "ternbench logits: out of memory for a batch of %d\n", n);
            rc = TB_EXIT_FAIL;
        }
    }
    for (int pos = 0; rc == TB_EXIT_OK && pos < n; pos++) {
        const float *logits = batch ? all + (size_t)pos * m->cfg.vocab : tb_model_forward(m, ids[pos]);
        printf("%d %d", pos, ids[pos]);
        for (int i = 0; i < m->cfg.vocab; i++)
            printf(" %.6g", logits[i]);
        putchar('\n');
    }
    free(all);
    free(ids);
    tb_model_free(m);
    return rc;
}
