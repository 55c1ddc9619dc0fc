/*
 * cmd_generate.c - `ternbench generate -m MODEL -p PROMPT`: streams the
 * model's continuation of a prompt to stdout and ends, on stderr, with the
 * load time and the prompt and generation speeds, as llama.cpp's CLI does.
 * The prompt goes through the GEMM kernels in batches; each new token
 * through the GEMV kernels.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cpu.h"
#include "dummy.h"
#include "sampling.h"
#include "tb_file.h"
#include "tb_time.h"
#include "tokenizer.h"

static void help(void)
{
    tb_sampling_params d = tb_sampling_defaults();
    printf("usage: ternbench generate -m MODEL (-p PROMPT | -f FILE) [options]\n\n"
           "Streams the model's continuation of the prompt, then prints the load time and\n"
           "the prompt and generation tokens/s on stderr.\n\n"
           "  -m, --model FILE      a GGUF model with a vocabulary (dummy models have none:\n"
           "                        `gen --preset 2B4T --tokenizer tokenizer.json` makes one)\n"
           "  -p, --prompt TEXT     the prompt\n"
           "  -f, --file FILE       read the prompt from FILE\n"
           "  -n, --n-predict N     tokens to generate (default 128; stops earlier at an\n"
           "                        end-of-generation token or a full context)\n"
           "  --chat                wrap the prompt in the model's chat template (BitNet\n"
           "                        b1.58: `User: ...<|eot_id|>Assistant: `; LLaMA-3's)\n"
           "  -t, --threads T       threads (default: the CPUs this process may use)\n"
           "  -b, --batch-size B    prompt tokens per forward pass (default 64)\n"
           "  -c, --ctx-size N      context length (default: the model's, at most 4096)\n"
           "  --temp T              temperature; 0 is greedy (default %.1f)\n"
           "  --top-k K             (default %d; 0 off)\n"
           "  --top-p P             (default %.2f; 1 off)\n"
           "  --min-p P             (default %.2f; 0 off)\n"
           "  --repeat-penalty R    (default %.1f; 1 off)\n"
           "  --repeat-last-n N     (default %d)\n"
           "  --seed S              sampling seed (default %llu)\n"
           "  --kv f16|f32          KV cache type (default f16, as ggml computes)\n"
           "  --pre NAME            pre-tokenizer: llama3, default, gpt2 (see tokenize)\n"
           "  -h, --help            this text\n",
           d.temperature, d.top_k, d.top_p, d.min_p, d.repeat_penalty, d.repeat_last_n,
           (unsigned long long)d.seed);
}

typedef struct gen_opts {
    const char *model, *prompt, *file, *pre;
    long n_predict, threads, batch, ctx;
    bool chat;
    tb_kv_type kv;
    tb_sampling_params sp;
} gen_opts;

static int parse(int argc, char **argv, gen_opts *o)
{
    enum { O_CHAT = 256, O_TEMP, O_TOPK, O_TOPP, O_MINP, O_RPEN, O_RLAST, O_SEED, O_KV, O_PRE };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"prompt", required_argument, NULL, 'p'},
        {"file", required_argument, NULL, 'f'}, {"n-predict", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'}, {"batch-size", required_argument, NULL, 'b'},
        {"ctx-size", required_argument, NULL, 'c'}, {"chat", no_argument, NULL, O_CHAT},
        {"temp", required_argument, NULL, O_TEMP}, {"top-k", required_argument, NULL, O_TOPK},
        {"top-p", required_argument, NULL, O_TOPP}, {"min-p", required_argument, NULL, O_MINP},
        {"repeat-penalty", required_argument, NULL, O_RPEN},
        {"repeat-last-n", required_argument, NULL, O_RLAST},
        {"seed", required_argument, NULL, O_SEED}, {"kv", required_argument, NULL, O_KV},
        {"pre", required_argument, NULL, O_PRE}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *cmd = "generate";
    int rc = TB_EXIT_OK;
    double d;
    long v;
    opterr = 0;
    optind = 1;
    for (int c; rc == TB_EXIT_OK && (c = getopt_long(argc, argv, ":m:p:f:n:t:b:c:h", opts, NULL)) != -1;) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'p': o->prompt = optarg; break;
        case 'f': o->file = optarg; break;
        case 'n': rc = tb_cli_parse_int(cmd, "--n-predict", optarg, 0, 1 << 20, &o->n_predict); break;
        case 't': rc = tb_cli_parse_int(cmd, "--threads", optarg, 1, 1024, &o->threads); break;
        case 'b': rc = tb_cli_parse_int(cmd, "--batch-size", optarg, 1, 4096, &o->batch); break;
        case 'c': rc = tb_cli_parse_int(cmd, "--ctx-size", optarg, 1, 4096, &o->ctx); break;
        case O_CHAT: o->chat = true; break;
        case O_TEMP:
            if ((rc = tb_cli_parse_double(cmd, "--temp", optarg, 0, 100, &d)) == TB_EXIT_OK)
                o->sp.temperature = (float)d;
            break;
        case O_TOPK:
            if ((rc = tb_cli_parse_int(cmd, "--top-k", optarg, 0, 1 << 24, &v)) == TB_EXIT_OK)
                o->sp.top_k = (int)v;
            break;
        case O_TOPP:
            if ((rc = tb_cli_parse_double(cmd, "--top-p", optarg, 1e-6, 1, &d)) == TB_EXIT_OK)
                o->sp.top_p = (float)d;
            break;
        case O_MINP:
            if ((rc = tb_cli_parse_double(cmd, "--min-p", optarg, 0, 0.999, &d)) == TB_EXIT_OK)
                o->sp.min_p = (float)d;
            break;
        case O_RPEN:
            if ((rc = tb_cli_parse_double(cmd, "--repeat-penalty", optarg, 1e-3, 100, &d)) == TB_EXIT_OK)
                o->sp.repeat_penalty = (float)d;
            break;
        case O_RLAST:
            if ((rc = tb_cli_parse_int(cmd, "--repeat-last-n", optarg, 0, 1 << 20, &v)) == TB_EXIT_OK)
                o->sp.repeat_last_n = (int)v;
            break;
        case O_SEED:
            if ((rc = tb_cli_parse_int(cmd, "--seed", optarg, 0, 1L << 62, &v)) == TB_EXIT_OK)
                o->sp.seed = (uint64_t)v;
            break;
        case O_KV: rc = tb_cli_parse_kv(cmd, optarg, &o->kv); break;
        case O_PRE: o->pre = optarg; break;
        case 'h': help(); return -1;
        default: return tb_cli_bad_option(cmd, argv, optind, optopt, c);
        }
    }
    if (rc != TB_EXIT_OK)
        return rc;
    if (optind < argc)
        return tb_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!o->model || (!o->prompt == !o->file))
        return tb_cli_usage_error(cmd, "-m MODEL and one of -p PROMPT or -f FILE are required");
    if (!strncmp(o->model, "dummy:", 6))
        return tb_cli_usage_error(cmd, "%s has no vocabulary: write a model with one (`ternbench "
                                  "gen --preset 2B4T --tokenizer tokenizer.json -o m.gguf`)", o->model);
    return TB_EXIT_OK;
}

/* The prompt as the model should see it: plain, or in its chat template. */
static int build_prompt(const gen_opts *o, const tb_model *m, const tb_tokenizer *t,
                        const char *user, char **out, tb_error *err)
{
    size_t n = strlen(user) + 256;
    char *p = malloc(n);
    if (!p)
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    int bos = tb_tokenizer_bos(t);
    char bos_text[64] = "";
    if (bos >= 0 && tb_tokenizer_add_bos(t)) {
        int len = tb_tokenizer_piece(t, bos, true, bos_text, sizeof bos_text - 1);
        bos_text[len > 0 && len < (int)sizeof bos_text ? len : 0] = '\0';
    }
    if (!o->chat)
        snprintf(p, n, "%s%s", bos_text, user);
    else if (m->cfg.arch == TB_ARCH_BITNET_B158)
        snprintf(p, n, "%sUser: %s<|eot_id|>Assistant: ", bos_text, user);
    else if (!strcmp(bos_text, "<|begin_of_text|>"))
        snprintf(p, n, "%s<|start_header_id|>user<|end_header_id|>\n\n%s<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\n", bos_text, user);
    else {
        free(p);
        return tb_error_set(err, TB_EINVAL, "--chat: no chat template is known for %s (BitNet "
                            "b1.58 and LLaMA-3 vocabularies have one)", m->name);
    }
    *out = p;
    return TB_OK;
}

static int run(const gen_opts *o, tb_error *err)
{
    tb_cpu_info cpu;
    tb_cpu_detect(&cpu);
    tb_isa isa;
    int rc = tb_isa_select(cpu.features, getenv("TERNBENCH_ISA"), &isa, err);
    if (rc != TB_OK)
        return rc;
    double t0 = tb_now();
    tb_model *m = NULL;
    tb_tokenizer *t = NULL;
    tb_sampling *s = NULL;
    char *user = NULL, *prompt = NULL;
    int *ids = NULL, n = 0;
    size_t len;
    rc = tb_model_open(o->model, (int)o->threads, isa, (int)o->ctx, o->kv, &m, err);
    if (rc == TB_OK)
        rc = tb_tokenizer_load(m->gguf, o->pre, &t, err);
    if (rc == TB_OK)
        rc = tb_model_set_batch(m, (int)o->batch, err);
    double t_load = tb_now() - t0;
    if (rc == TB_OK)
        rc = tb_sampling_new(&o->sp, m->cfg.vocab, &s, err);
    if (rc == TB_OK && o->file)
        rc = tb_file_read_all(o->file, (size_t)1 << 26, &user, &len, err);
    else if (rc == TB_OK && !(user = strdup(o->prompt)))
        rc = tb_error_set(err, TB_ENOMEM, "out of memory");
    if (rc == TB_OK)
        rc = build_prompt(o, m, t, user, &prompt, err);
    if (rc == TB_OK)
        rc = tb_tokenizer_encode(t, prompt, strlen(prompt), false, true, &ids, &n, err);
    if (rc == TB_OK && (n == 0 || n >= m->cfg.ctx))
        rc = tb_error_set(err, TB_EINVAL, "the prompt is %d tokens; the context holds %d", n,
                          m->cfg.ctx);
    for (int i = 0; rc == TB_OK && i < n; i++)
        if (ids[i] >= m->cfg.vocab)
            rc = tb_error_set(err, TB_EINVAL, "%s: token %d is outside the model's %d embeddings",
                              o->model, ids[i], m->cfg.vocab);
    if (rc != TB_OK)
        goto done;
    fwrite(user, 1, strlen(user), stdout); /* echo the prompt, as llama.cpp does */
    fflush(stdout);
    double t1 = tb_now();
    const float *logits = NULL;
    for (int i = 0; i < n; i += (int)o->batch) {
        int b = n - i < o->batch ? n - i : (int)o->batch;
        logits = tb_model_forward_batch(m, ids + i, b);
        for (int j = 0; j < b; j++)
            tb_sampling_accept(s, ids[i + j]);
    }
    double t2 = tb_now();
    int generated = 0;
    char piece[512];
    while (logits && generated < o->n_predict) {
        int next = tb_sampling_sample(s, logits);
        generated++;
        if (tb_tokenizer_is_eog(t, next))
            break;
        int pl = tb_tokenizer_piece(t, next, false, piece, sizeof piece);
        fwrite(piece, 1, pl < (int)sizeof piece ? (size_t)pl : sizeof piece, stdout);
        fflush(stdout);
        tb_sampling_accept(s, next);
        logits = tb_model_forward(m, next); /* NULL when the context is full */
    }
    double t3 = tb_now();
    putchar('\n');
    fprintf(stderr, "\nmodel:      %s (%s, %s, %d threads)\n", m->name, m->cfg.arch_name,
            tb_isa_name(isa), tb_pool_threads(m->pool));
    fprintf(stderr, "vocabulary: %s\n", tb_tokenizer_model_name(t));
    fprintf(stderr, "load:       %.3f s\n", t_load);
    fprintf(stderr, "prompt:     %d tokens in %.3f s, %.2f tokens/s (batches of %ld)\n", n,
            t2 - t1, n / (t2 - t1), o->batch);
    fprintf(stderr, "generation: %d tokens in %.3f s, %.2f tokens/s%s\n", generated, t3 - t2,
            generated ? generated / (t3 - t2) : 0.0,
            logits ? "" : " (stopped: the context is full)");
done:
    free(ids);
    free(prompt);
    free(user);
    tb_sampling_free(s);
    tb_tokenizer_free(t);
    tb_model_free(m);
    return rc;
}

int tb_cmd_generate(int argc, char **argv)
{
    gen_opts o = {.n_predict = 128, .threads = tb_cpu_usable(NULL, 0), .batch = 64, .kv = TB_KV_F16,
                  .sp = tb_sampling_defaults()};
    int rc = parse(argc, argv, &o);
    if (rc != TB_EXIT_OK)
        return rc < 0 ? TB_EXIT_OK : rc;
    tb_error err;
    rc = run(&o, &err);
    if (rc != TB_OK) {
        fprintf(stderr, "ternbench generate: %s\n", err.text);
        return rc == TB_ENOMEM ? TB_EXIT_FAIL : TB_EXIT_USAGE;
    }
    return TB_EXIT_OK;
}
