/*
 * cmd_convert.c - `ternbench convert IN -o OUT --format F [--embd-format E]
 * [--force]`: a GGUF model's weights in another format (see convert.h).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "convert.h"
#include "tb_time.h"

static void help(void)
{
    printf("usage: ternbench convert IN.gguf -o OUT.gguf --format F [--embd-format E] [--force]\n\n"
           "Rewrites the projections (blk.N.*.weight) in format F and, with --embd-format,\n"
           "the embedding and output matrices in E; norms, metadata and the vocabulary are\n"
           "copied. Ternary-valued weights convert to ternary formats losslessly.\n\n"
           "  --format F         i2_s (bitnet architectures), tq2_0, tq1_0, f16, bf16, f32,\n"
           "                     q8_0, q6_k, q5_k, q4_k, q3_k, q2_k, iq4_xs, iq4_nl, q4_0;\n"
           "                     or one of llama-quantize's mixes: q5_k_m, q5_k_s, q4_k_m,\n"
           "                     q4_k_s, q3_k_l, q3_k_m, q3_k_s, q2_k_mix (its Q2_K): some\n"
           "                     projections get a larger type by tensor and layer as\n"
           "                     llama.cpp gives them, the output matrix q6_k\n"
           "  --embd-format E    f16, bf16, f32 or a non-ternary quantised format (default:\n"
           "                     keep the file's; a mix: q6_k)\n"
           "  --force            ternarise weights that are not ternary-valued (BitNet's\n"
           "                     absmean rule; accuracy is lost, a warning says where)\n"
           "  -o, --output FILE  where to write (atomically)\n"
           "  -h, --help         this text\n");
}

int tb_cmd_convert(int argc, char **argv)
{
    enum { O_FORMAT = 256, O_EMBD, O_FORCE };
    static const struct option opts[] = {
        {"format", required_argument, NULL, O_FORMAT}, {"embd-format", required_argument, NULL, O_EMBD},
        {"force", no_argument, NULL, O_FORCE}, {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *format = NULL, *embd = NULL, *out = NULL;
    tb_convert_opts o = {0};
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1;) {
        switch (c) {
        case O_FORMAT: format = optarg; break;
        case O_EMBD: embd = optarg; break;
        case O_FORCE: o.force = true; break;
        case 'o': out = optarg; break;
        case 'h': help(); return TB_EXIT_OK;
        default: return tb_cli_bad_option("convert", argv, optind, optopt, c);
        }
    }
    if (argc - optind != 1 || !out || !format)
        return tb_cli_usage_error("convert", "give one input file, -o OUT and --format F");
    tb_error err;
    if (!tb_mix_parse(format, &o.mix, &o.fmt) && tb_format_parse(format, &o.fmt, &err) != TB_OK)
        return tb_cli_usage_error("convert", "--format: %s, or a mix (q5_k_m, q5_k_s, q4_k_m, "
                                  "q4_k_s, q3_k_l, q3_k_m, q3_k_s, q2_k_mix)", err.text);
    if (embd) {
        o.embd_set = true;
        if (tb_format_parse(embd, &o.embd, &err) != TB_OK)
            return tb_cli_usage_error("convert", "--embd-format: %s", err.text);
    }
    tb_convert_report rep;
    double t0 = tb_now();
    int rc = tb_convert(argv[optind], out, &o, &rep, &err);
    if (rc != TB_OK) {
        fprintf(stderr, "ternbench convert: %s\n", err.text);
        return rc == TB_ENOMEM || rc == TB_EIO ? TB_EXIT_FAIL : TB_EXIT_USAGE;
    }
    if (rep.ternarised)
        fprintf(stderr, "ternbench convert: warning: %d matrices were not ternary-valued (the first: "
                "%s) and were ternarised with --force: the model's accuracy is lost\n",
                rep.ternarised, rep.first_lossy);
    printf("wrote %s: %d tensors converted, %d copied, %.1f MB -> %.1f MB in %.1f s\n", out,
           rep.converted, rep.copied, rep.bytes_in / 1e6, rep.bytes_out / 1e6, tb_now() - t0);
    return TB_EXIT_OK;
}
