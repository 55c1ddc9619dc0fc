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
#include "cli.h"
#include "tb_file.h"

static void help(void)
{
    printf("usage: ternbench bench -m MODEL[,MODEL...] [options]\n\n"
           "Runs each model under identical token sequences, repetitions interleaved, and\n"
           "compares each ternary format with each baseline (median speedup, 95%% CI).\n\n"
           "  -m, --model LIST   GGUF files or dummy:PRESET[:FORMAT] (e.g. dummy:700M:i2_s,\n"
           "                     dummy:700M:f16); presets: 125M 350M 700M 1B 1.5B 2.7B 3.8B\n"
           "                     7B 13B 30B 70B 100B 2B4T\n"
           "  -n LIST            generation tests, tokens (default 64)\n"
           "  -p LIST            prompt tests, tokens (default none)\n"
           "  -pg P,N            prompt P tokens then generate N (llama-bench's -pg; t/s over all)\n"
           "  -b, --batch N      prompt batch size (default 512; 1 = one token at a time)\n"
           "  -t, --threads LIST thread counts, e.g. 1,2 (default: online CPUs)\n"
           "  -r, --repetitions R  repetitions (default 3; 3 or more give an interval)\n"
           "  --warmup N         warm-up tokens per model before measuring (default 8)\n"
           "  --seed S           token sequence seed (default 1)\n"
           "  --json FILE        write the result document (ternbench.result/1) atomically\n"
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
    enum { O_WARM = 256, O_SEED, O_JSON };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"threads", required_argument, NULL, 't'},
        {"batch", required_argument, NULL, 'b'}, {"pg", required_argument, NULL, 'G'},
        {"repetitions", required_argument, NULL, 'r'}, {"warmup", required_argument, NULL, O_WARM},
        {"seed", required_argument, NULL, O_SEED}, {"json", required_argument, NULL, O_JSON},
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
        case 'G': {
            char *comma = strchr(optarg, ',');
            long pp, tg;
            if (!comma)
                rc = tb_cli_usage_error(cmd, "-pg: '%s' is not P,N", optarg);
            else {
                *comma = '\0';
                rc = tb_cli_parse_int(cmd, "-pg", optarg, 1, 4096, &pp);
                if (rc == TB_EXIT_OK)
                    rc = tb_cli_parse_int(cmd, "-pg", comma + 1, 1, 4096, &tg);
                tb_error e;
                if (rc == TB_EXIT_OK && tb_bench_add_pg(o, (int)pp, (int)tg, &e) != TB_OK)
                    rc = tb_cli_usage_error(cmd, "%s", e.text);
                have_n = true; /* a pg test replaces the default tg */
            }
            break;
        }
        case 'r': rc = tb_cli_parse_int(cmd, "-r", optarg, 1, TB_BENCH_MAX_REPS, &o->reps); break;
        case O_WARM: rc = tb_cli_parse_int(cmd, "--warmup", optarg, 0, 4096, &o->warmup); break;
        case O_SEED: rc = tb_cli_parse_int(cmd, "--seed", optarg, 0, 1L << 30, &o->seed); break;
        case O_JSON: *json = optarg; break;
        case 'h': help(); return -1;
        default: return tb_cli_bad_option(cmd, argv, optind, optopt, c);
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
    return TB_EXIT_OK;
}

int tb_cmd_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) /* llama-bench spells it -pg: accept that */
        if (!strcmp(argv[i], "-pg"))
            argv[i] = "--pg";
    tb_bench_opts o = {.threads = sysconf(_SC_NPROCESSORS_ONLN), .reps = 3, .warmup = 8, .seed = 1,
                       .batch = 512};
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
    json_t *runs = json_array(), *comps = json_array(), *workload = NULL;
    tb_error err;
    if (tb_bench_run(&o, &mach, stdout, runs, comps, &workload, &err) != TB_OK) {
        fprintf(stderr, "ternbench bench: %s\n", err.text);
        json_decref(runs);
        json_decref(comps);
        return TB_EXIT_USAGE;
    }
    json_t *doc = tb_result_document(&mach, runs, comps, workload);
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
