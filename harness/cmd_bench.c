/*
 * cmd_bench.c - `ternbench bench`: the command line of the benchmark runner
 * (harness/bench.c does the work): models, tests (-n, -p, -pg), batch,
 * thread counts, repetitions, and the result document written atomically.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "cpu.h"
#include "peer.h"
#include "cli.h"
#include "count.h"
#include "tb_file.h"

static void help(void)
{
    printf("usage: ternbench bench -m MODEL[,MODEL...] [options]\n\n"
           "Runs each model under identical token sequences, repetitions interleaved, and\n"
           "compares each ternary format with each baseline (median speedup, 95%% CI).\n\n"
           "  -m, --model LIST   GGUF files or dummy:PRESET[:FORMAT[:EMBEDDING]] (e.g.\n"
           "                     dummy:700M:i2_s,dummy:700M:f16, dummy:2B4T:i2_s:q8_0);\n"
           "                     presets: 125M 350M 700M 1B 1.5B 2.7B 3.8B 7B 13B 30B 70B\n"
           "                     100B 2B4T\n"
           "  -n LIST            generation tests, tokens (default 64; 0: none)\n"
           "  -p LIST            prompt tests, tokens (default none; 0: none)\n"
           "  -pg P,N            prompt P tokens then generate N (llama-bench's -pg; t/s over all)\n"
           "  -b, --batch N      prompt batch size (default 512; 1 = one token at a time)\n"
           "  -t, --threads LIST thread counts, e.g. 1,2 (default: the CPUs this process may use)\n"
           "  -r, --repetitions R  repetitions, the least with --precision (default 6: the\n"
           "                     fewest whose median interval covers 95 %%; fewer still give\n"
           "                     one, and its coverage is printed beside it)\n"
           TB_CLI_TRUST_HELP
           "  --warmup N         warm-up tokens per model before measuring (default 8)\n"
           "  --seed S           token sequence seed (default 1)\n"
           "  --prompt-file F    feed F as each model's vocabulary tokenizes it instead of\n"
           "                     seeded ids (GGUF models with a vocabulary; repeated when\n"
           "                     shorter than the longest test)\n"
           "  --idle SECONDS     with an energy meter: measure idle power first, report net J/token\n"
           TB_CLI_METER_HELP
           "  --count WHAT       also count each model's instructions per token under valgrind\n"
           "                     (instructions; cache: with simulated last-level misses): one\n"
           "                     thread, AVX2 kernels, exact; what `gate` compares tightly\n"
           "  --profile          after measuring, one more run of each test with a clock\n"
           "                     around each phase of a token (norms, quantisation, each\n"
           "                     weight group, attention, lm_head): where the time goes,\n"
           "                     and each weight phase's GB/s against the roof\n"
           TB_CLI_QUALITY_HELP
           "  --json FILE        write the result document (ternbench.result/1) atomically\n"
           "  --peer NAME=PATH   also run an external llama-bench (llama.cpp's or bitnet.cpp's)\n"
           "                     on every GGUF file among -m: one invocation per repetition and\n"
           "                     test, interleaved with ternbench's, compared like any run;\n"
           "                     repeatable (a peer that cannot run a file says why)\n"
           "  --peer-model FILE  add FILE to -m (ternbench and the peers run it)\n"
           "  -h, --help         this text\n");
}

static int add_tests(const char *cmd, const char *list, bool prompt, tb_bench_opts *o)
{
    tb_error err;
    if (tb_bench_add_tests(o, list, prompt, &err) != TB_OK)
        return tb_cli_usage_error(cmd, "%s", err.text);
    return TB_EXIT_OK;
}

static int parse(int argc, char **argv, tb_bench_opts *o, const char **json, char *models_buf,
                 size_t cap)
{
    enum { O_WARM = 256, O_SEED, O_JSON, O_PEER, O_PEER_MODEL, O_IDLE, O_PROMPT_FILE, O_COUNT, O_PROFILE };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"threads", required_argument, NULL, 't'},
        {"batch", required_argument, NULL, 'b'}, {"pg", required_argument, NULL, 'G'},
        {"repetitions", required_argument, NULL, 'r'}, {"warmup", required_argument, NULL, O_WARM},
        {"seed", required_argument, NULL, O_SEED}, {"json", required_argument, NULL, O_JSON},
        {"prompt-file", required_argument, NULL, O_PROMPT_FILE},
        {"peer", required_argument, NULL, O_PEER}, {"peer-model", required_argument, NULL, O_PEER_MODEL},
        {"idle", required_argument, NULL, O_IDLE},
        TB_CLI_TRUST_OPTIONS, TB_CLI_METER_OPTIONS, TB_CLI_QUALITY_OPTIONS, {"count", required_argument, NULL, O_COUNT},
        {"profile", no_argument, NULL, O_PROFILE},
        {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *cmd = "bench";
    int rc = TB_EXIT_OK;
    bool have_n = false;
    opterr = 0;
    optind = 1;
    for (int c; rc == TB_EXIT_OK && (c = getopt_long(argc, argv, ":m:n:p:t:r:b:h", opts, NULL)) != -1;) {
        switch (c) {
        case 'm':
            snprintf(models_buf, cap, "%s", optarg);
            o->nmodels = 0;
            for (char *tok = strtok(models_buf, ","); tok; tok = strtok(NULL, ",")) {
                if (o->nmodels == TB_BENCH_MAX_MODELS) {
                    rc = tb_cli_usage_error(cmd, "-m: at most %d models", TB_BENCH_MAX_MODELS);
                    break;
                }
                o->specs[o->nmodels++] = tok;
            }
            break;
        case 'n': rc = add_tests(cmd, optarg, false, o); have_n = true; break;
        case 'p': rc = add_tests(cmd, optarg, true, o); break;
        case 't': {
            char buf[128];
            snprintf(buf, sizeof buf, "%s", optarg);
            o->nthreads = 0;
            for (char *tok = strtok(buf, ","); tok && rc == TB_EXIT_OK; tok = strtok(NULL, ",")) {
                if (o->nthreads == 8) {
                    rc = tb_cli_usage_error(cmd, "--threads: at most 8 counts");
                    break;
                }
                rc = tb_cli_parse_int(cmd, "--threads", tok, 1, 1024, &o->thread_list[o->nthreads++]);
            }
            if (rc == TB_EXIT_OK && o->nthreads == 0)
                rc = tb_cli_usage_error(cmd, "--threads: no count given");
            o->threads = o->thread_list[0];
            break;
        }
        case 'b': rc = tb_cli_parse_int(cmd, "--batch", optarg, 1, 4096, &o->batch); break;
        case 'G':
            rc = tb_cli_add_pg(cmd, optarg, o);
            have_n = true; /* a pg test replaces the default tg */
            break;
        case 'r': rc = tb_cli_parse_int(cmd, "-r", optarg, 1, TB_BENCH_MAX_REPS, &o->reps); break;
        case O_WARM: rc = tb_cli_parse_int(cmd, "--warmup", optarg, 0, 4096, &o->warmup); break;
        case O_SEED: rc = tb_cli_parse_int(cmd, "--seed", optarg, 0, 1L << 30, &o->seed); break;
        case O_PROMPT_FILE: o->prompt_file = optarg; break;
        case O_PROFILE: o->profile = true; break;
        case O_COUNT: {
            tb_count_kind k;
            tb_error e;
            if (tb_count_parse(optarg, &k, &e) != TB_OK)
                rc = tb_cli_usage_error(cmd, "%s", e.text);
            o->count = (int)k;
            break;
        }
        case O_JSON: *json = optarg; break;
        case O_PEER: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1])
                rc = tb_cli_usage_error(cmd, "--peer: '%s' is not NAME=/path/to/llama-bench", optarg);
            else if (o->npeers == TB_BENCH_MAX_PEERS)
                rc = tb_cli_usage_error(cmd, "--peer: at most %d peers", TB_BENCH_MAX_PEERS);
            else {
                *eq = '\0';
                o->peer_names[o->npeers] = optarg;
                o->peer_paths[o->npeers++] = eq + 1;
            }
            break;
        }
        case O_PEER_MODEL: /* a file for ternbench and the peers alike */
            if (o->nmodels == TB_BENCH_MAX_MODELS)
                rc = tb_cli_usage_error(cmd, "--peer-model: at most %d models", TB_BENCH_MAX_MODELS);
            else
                o->specs[o->nmodels++] = optarg;
            break;
        case O_IDLE: rc = tb_cli_parse_double(cmd, "--idle", optarg, 0, 3600, &o->idle_s); break;
        case 'h': help(); return -1;
        default:
            if (c >= TB_CLI_METER_FIRST && c <= TB_CLI_METER_LAST)
                rc = tb_cli_meter_option(cmd, c, optarg, &o->meter);
            else if (c >= TB_CLI_TRUST_FIRST && c <= TB_CLI_TRUST_LAST)
                rc = tb_cli_trust_option(cmd, c, optarg, o);
            else if (c >= TB_CLI_QUALITY_FIRST && c <= TB_CLI_QUALITY_LAST)
                rc = tb_cli_quality_option(cmd, c, optarg, o);
            else
                return tb_cli_bad_option(cmd, argv, optind, optopt, c);
        }
    }
    if (rc != TB_EXIT_OK)
        return rc;
    if (optind < argc)
        return tb_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (o->nmodels == 0)
        return tb_cli_usage_error(cmd, "no model: give -m, e.g. -m dummy:125M:i2_s,dummy:125M:f16");
    if (!have_n && o->ntests == 0)
        add_tests(cmd, "64", false, o);
    if (o->ntests == 0)
        return tb_cli_usage_error(cmd, "no test left to run (-n 0 and -p 0): give a token count");
    tb_bench_name_tests(o);
    return TB_EXIT_OK;
}

int tb_cmd_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) /* llama-bench spells it -pg: accept that */
        if (!strcmp(argv[i], "-pg"))
            argv[i] = "--pg";
    tb_bench_opts o = {.threads = tb_cpu_usable(NULL, 0), .reps = TB_BENCH_DEFAULT_REPS, .warmup = 8,
                       .seed = 1, .batch = 512, .retries = -1, .max_time = 600,
                       .meter = tb_meter_choice_default()};
    const char *json = NULL;
    char models_buf[2048];
    int rc = parse(argc, argv, &o, &json, models_buf, sizeof models_buf);
    if (rc < 0)
        return TB_EXIT_OK;
    if (rc != TB_EXIT_OK)
        return rc;
    tb_machine mach;
    if (tb_machine_probe_for("bench", &mach) != 0)
        return TB_EXIT_USAGE;
    snprintf(mach.label, sizeof mach.label, "%s", o.label ? o.label : "");
    tb_bench_doc parts;
    tb_bench_doc_init(&parts);
    tb_error err;
    if (tb_bench_run(&o, &mach, stdout, &parts, &err) != TB_OK) {
        fprintf(stderr, "ternbench bench: %s\n", err.text);
        tb_bench_doc_free(&parts);
        return TB_EXIT_USAGE;
    }
    json_t *doc = tb_result_document(&mach, &parts, &o);
    if (json) {
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (!text || tb_file_write_atomic(json, text, strlen(text), &err) != TB_OK) {
            fprintf(stderr, "ternbench bench: %s\n", text ? err.text : "out of memory");
            rc = TB_EXIT_USAGE;
        }
        free(text);
    }
    json_decref(doc);
    return rc;
}
