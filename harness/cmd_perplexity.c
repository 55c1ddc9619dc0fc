/*
 * cmd_perplexity.c - `ternbench perplexity -m MODEL -f TEXT [-c CTX] [-b B]
 * [--kl-divergence-base FILE [--kl-divergence]]`: llama-perplexity's
 * perplexity and KL divergence over ternbench's engine (see perplexity.h),
 * with its output lines.
 */
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cpu.h"
#include "dummy.h"
#include "perplexity.h"
#include "tb_file.h"
#include "tokenizer.h"

static void help(void)
{
    printf("usage: ternbench perplexity -m MODEL -f TEXT [-c CTX] [-b B] [options]\n"
           "       ternbench perplexity -m MODEL --kl-divergence-base FILE --kl-divergence\n\n"
           "A model's perplexity over a text as llama-perplexity computes it: chunks of CTX\n"
           "tokens, each from an empty cache and opened by BOS, the second half of each\n"
           "scored; `[i]PPL,` after each chunk, then `Final estimate: PPL = X +/- Y`.\n\n"
           "  -m, --model M             a GGUF model with a vocabulary\n"
           "  -f, --file TEXT           the text (at least two chunks of tokens)\n"
           "  -c, --ctx-size N          tokens per chunk (default 512)\n"
           "  -b, --batch-size N        tokens per forward pass (default: the chunk)\n"
           "  --chunks N                score at most N chunks (default: all)\n"
           "  -t, --threads T           threads (default: the CPUs this process may use)\n"
           "  --kl-divergence-base FILE without --kl-divergence: also write the log-\n"
           "                            probabilities in llama-perplexity's base format;\n"
           "                            with it: read them (no -f), and report the KL\n"
           "                            divergence, top-token agreement and PPL ratio\n"
           "  --kl-divergence           compare with the base file\n"
           "  --kv TYPE                 KV cache: f16 (default) or f32\n"
           "  -h, --help                this text\n");
}

static void print_kld(const tb_ppl_result *r)
{
    printf("\n====== Perplexity statistics ======\n");
    printf("Mean PPL(Q)                   : %10.6f ± %10.6f\n", r->ppl, r->ppl_err);
    printf("Mean PPL(base)                : %10.6f ± %10.6f\n", r->ppl_base, r->ppl_base_err);
    printf("Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f\n", r->ln_ratio, r->ln_ratio_err);
    printf("Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f\n", exp(r->ln_ratio),
           exp(r->ln_ratio) * r->ln_ratio_err);
    printf("Mean PPL(Q)-PPL(base)         : %10.6f\n", r->ppl - r->ppl_base);
    printf("\n====== KL divergence statistics ======\n");
    printf("Mean    KLD: %10.6f ± %10.6f\n", r->kld, r->kld_err);
    for (int i = 0; i < 11; i++)
        printf("%-7s KLD: %10.6f\n", tb_ppl_kld_labels[i], r->kld_pct[i]);
    printf("\n====== Token probability statistics ======\n");
    printf("Mean    Δp: %6.3f ± %5.3f %%\n", 100 * r->dp_mean, 100 * r->dp_mean_err);
    printf("RMS Δp    : %6.3f %%\n", 100 * r->dp_rms);
    printf("Same top p: %6.3f ± %5.3f %%\n", 100 * r->same_top, 100 * r->same_top_err);
}

int tb_cmd_perplexity(int argc, char **argv)
{
    enum { O_CHUNKS = 256, O_BASE, O_KLD, O_KV };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},     {"file", required_argument, NULL, 'f'},
        {"ctx-size", required_argument, NULL, 'c'},  {"batch-size", required_argument, NULL, 'b'},
        {"chunks", required_argument, NULL, O_CHUNKS}, {"threads", required_argument, NULL, 't'},
        {"kl-divergence-base", required_argument, NULL, O_BASE},
        {"kl-divergence", no_argument, NULL, O_KLD},  {"kv", required_argument, NULL, O_KV},
        {"help", no_argument, NULL, 'h'},            {0, 0, 0, 0}};
    const char *model = NULL, *text = NULL;
    long ctx = 0, batch = 0, chunks = 0, threads = tb_cpu_usable(NULL, 0);
    tb_ppl_opts o = {.bos = -1, .progress = stdout};
    tb_kv_type kv = TB_KV_F16;
    int rc = TB_EXIT_OK;
    opterr = 0;
    optind = 1;
    for (int c; rc == TB_EXIT_OK && (c = getopt_long(argc, argv, ":m:f:c:b:t:h", opts, NULL)) != -1;) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'f': text = optarg; break;
        case 'c': rc = tb_cli_parse_int("perplexity", "-c", optarg, 4, 4096, &ctx); break;
        case 'b': rc = tb_cli_parse_int("perplexity", "-b", optarg, 1, 4096, &batch); break;
        case O_CHUNKS: rc = tb_cli_parse_int("perplexity", "--chunks", optarg, 1, 1000000, &chunks); break;
        case 't': rc = tb_cli_parse_int("perplexity", "--threads", optarg, 1, 1024, &threads); break;
        case O_BASE: o.base_path = optarg; break;
        case O_KLD: o.kld = true; break;
        case O_KV: rc = tb_cli_parse_kv("perplexity", optarg, &kv); break;
        case 'h': help(); return TB_EXIT_OK;
        default: return tb_cli_bad_option("perplexity", argv, optind, optopt, c);
        }
    }
    if (rc != TB_EXIT_OK)
        return rc;
    if (optind < argc)
        return tb_cli_usage_error("perplexity", "unexpected argument '%s'", argv[optind]);
    if (!model)
        return tb_cli_usage_error("perplexity", "-m MODEL is required");
    if (o.kld && !o.base_path)
        return tb_cli_usage_error("perplexity", "--kl-divergence needs --kl-divergence-base FILE");
    if (!o.kld && !text)
        return tb_cli_usage_error("perplexity", "-f TEXT is required (or --kl-divergence with a base file)");
    o.ctx = (int)ctx;
    o.batch = (int)batch;
    o.chunks = (int)chunks;

    tb_cpu_info cpu;
    tb_cpu_detect(&cpu);
    tb_isa isa;
    tb_error err;
    tb_model *m = NULL;
    tb_tokenizer *t = NULL;
    char *buf = NULL;
    int *ids = NULL, n = 0;
    size_t len = 0;
    int erc = tb_isa_select(cpu.features, getenv("TERNBENCH_ISA"), &isa, &err);
    if (erc == TB_OK)
        erc = tb_model_open(model, (int)threads, isa, 4096, kv, &m, &err);
    if (erc == TB_OK)
        erc = tb_tokenizer_load(m->gguf, NULL, &t, &err);
    if (erc == TB_OK && !o.kld && (erc = tb_file_read_all(text, (size_t)1 << 30, &buf, &len, &err)) == TB_OK)
        erc = tb_tokenizer_encode(t, buf, len, false, false, &ids, &n, &err);
    if (erc == TB_OK) {
        if (tb_tokenizer_add_bos(t))
            o.bos = tb_tokenizer_bos(t);
        if (!o.kld)
            printf("perplexity: %s, %d tokens, chunks of %d, batches of %d, %ld threads\n", m->name, n,
                   o.ctx ? o.ctx : 512, o.batch ? o.batch : (o.ctx ? o.ctx : 512), threads);
        fflush(stdout);
        tb_ppl_result r;
        erc = tb_perplexity(m, ids, n, &o, &r, &err);
        if (erc == TB_OK) {
            printf("Final estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_err);
            if (o.kld)
                print_kld(&r);
            fprintf(stderr, "perplexity: %d chunks of %d tokens (%d scored) in %.1f s, %.1f tokens/s\n",
                    r.chunks, r.ctx, r.count, r.seconds, r.chunks * (double)r.ctx / r.seconds);
        }
    }
    if (erc != TB_OK) {
        fprintf(stderr, "ternbench perplexity: %s\n", err.text);
        rc = erc == TB_ENOMEM || erc == TB_EIO ? TB_EXIT_FAIL : TB_EXIT_USAGE;
    }
    free(ids);
    free(buf);
    tb_tokenizer_free(t);
    tb_model_free(m);
    return rc;
}
