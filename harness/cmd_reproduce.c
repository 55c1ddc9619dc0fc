/*
 * cmd_reproduce.c - `ternbench reproduce`: the project's main job. Runs the
 * paper's comparison on built-in dummy models (sizes x formats), interleaved
 * per size, and writes results.json, report.md, report.html and the plots
 * into --out: each measured speedup beside bitnet.cpp's published figure.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "cpu.h"
#include "dummy.h"
#include "gguf.h"
#include "report.h"
#include "tb_file.h"

static void help(void)
{
    printf("usage: ternbench reproduce [options]\n\n"
           "Measures ternary against fp16/int8/int4 on the paper's dummy models and writes a\n"
           "report that sets each speedup beside bitnet.cpp's published figure.\n\n"
           "  --sizes LIST     presets (default 125M,350M,700M,2B4T)\n"
           "  --formats LIST   formats (default i2_s,tl2,tq2_0,f16,q8_0,q4_0)\n"
           "  -t, --threads L  thread counts, e.g. 1,2 (default: the CPUs this process may use)\n"
           "  -n N             decode test tokens (default 32)\n"
           "  -p N             prompt tokens: ppN@b1 one at a time as the paper ran it, and\n"
           "                   pp(4N) in one batch (default 32)\n"
           "  -r R             repetitions, the least (default 6)\n"
           "  --out DIR        where to write (default out)\n"
           "  --lm-head FMT    also run the first ternary format with its tied lm_head in FMT\n"
           "                   (q8_0 by default; q6_k, q4_0; none: not): the practical best,\n"
           "                   reported beside the like-for-like F16 figure\n"
           "  --peer NAME=PATH also run a llama-bench (bitnet.cpp's or llama.cpp's) beside\n"
           "                   ternbench: the models are then written once as GGUF files\n"
           "                   (DIR/models) and every engine runs the same files, interleaved;\n"
           "                   the report measures the published claim itself (repeatable)\n"
           TB_CLI_TRUST_HELP
           TB_CLI_QUALITY_HELP
           TB_CLI_METER_HELP
           "                   (with a meter, idle power is measured once first and subtracted\n"
           "                   for net energy; bitnet.cpp's proxy is always computed beside it)\n"
           "                   (reproduce's defaults: --precision 5%% --max-time 120 per size)\n"
           "  --quick          125M and 350M, five formats, -n 16 -p 16: about a minute\n"
           "  -h, --help       this text\n");
}

typedef struct ropts {
    char sizes[256], formats[256], out[1024], lm_head[16];
    long threads[8];
    int nthreads;
    long n, p;
    tb_bench_opts trust;       /* reps, precision, max_time, max_lost, retries */
} ropts;

static int parse_threads(const char *cmd, const char *text, ropts *o)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", text);
    o->nthreads = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (o->nthreads == 8)
            return tb_cli_usage_error(cmd, "--threads: at most 8 counts");
        int rc = tb_cli_parse_int(cmd, "--threads", tok, 1, 1024, &o->threads[o->nthreads]);
        if (rc != TB_EXIT_OK)
            return rc;
        o->nthreads++;
    }
    return o->nthreads ? TB_EXIT_OK : tb_cli_usage_error(cmd, "--threads: no count given");
}

static int parse(int argc, char **argv, ropts *o)
{
    enum { O_SIZES = 256, O_FORMATS, O_OUT, O_QUICK, O_PEER, O_LM_HEAD };
    static const struct option opts[] = {
        {"sizes", required_argument, NULL, O_SIZES}, {"formats", required_argument, NULL, O_FORMATS},
        {"peer", required_argument, NULL, O_PEER}, TB_CLI_METER_OPTIONS,
        {"threads", required_argument, NULL, 't'}, {"out", required_argument, NULL, O_OUT},
        {"quick", no_argument, NULL, O_QUICK}, {"help", no_argument, NULL, 'h'},
        {"lm-head", required_argument, NULL, O_LM_HEAD},
        TB_CLI_TRUST_OPTIONS, TB_CLI_QUALITY_OPTIONS, {0, 0, 0, 0}};
    const char *cmd = "reproduce";
    int rc = TB_EXIT_OK;
    opterr = 0;
    optind = 1;
    for (int c; rc == TB_EXIT_OK && (c = getopt_long(argc, argv, ":t:n:p:r:h", opts, NULL)) != -1;) {
        switch (c) {
        case O_SIZES: snprintf(o->sizes, sizeof o->sizes, "%s", optarg); break;
        case O_FORMATS: snprintf(o->formats, sizeof o->formats, "%s", optarg); break;
        case O_OUT: snprintf(o->out, sizeof o->out, "%s", optarg); break;
        case O_LM_HEAD: snprintf(o->lm_head, sizeof o->lm_head, "%s", optarg); break;
        case O_QUICK:
            snprintf(o->sizes, sizeof o->sizes, "125M,350M");
            snprintf(o->formats, sizeof o->formats, "i2_s,tq2_0,f16,q8_0,q4_0");
            o->n = o->p = 16;
            break;
        case 't': rc = parse_threads(cmd, optarg, o); break;
        case O_PEER: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1])
                rc = tb_cli_usage_error(cmd, "--peer: '%s' is not NAME=/path/to/llama-bench", optarg);
            else if (o->trust.npeers == TB_BENCH_MAX_PEERS)
                rc = tb_cli_usage_error(cmd, "--peer: at most %d peers", TB_BENCH_MAX_PEERS);
            else {
                *eq = '\0';
                o->trust.peer_names[o->trust.npeers] = optarg;
                o->trust.peer_paths[o->trust.npeers++] = eq + 1;
            }
            break;
        }
        case 'n': rc = tb_cli_parse_int(cmd, "-n", optarg, 1, 1024, &o->n); break;
        case 'p': rc = tb_cli_parse_int(cmd, "-p", optarg, 1, 1024, &o->p); break;
        case 'r': rc = tb_cli_parse_int(cmd, "-r", optarg, 1, TB_BENCH_MAX_REPS, &o->trust.reps); break;
        case 'h': help(); return -1;
        default:
            if (c >= TB_CLI_METER_FIRST && c <= TB_CLI_METER_LAST)
                rc = tb_cli_meter_option(cmd, c, optarg, &o->trust.meter);
            else if (c >= TB_CLI_TRUST_FIRST && c <= TB_CLI_TRUST_LAST)
                rc = tb_cli_trust_option(cmd, c, optarg, &o->trust);
            else if (c >= TB_CLI_QUALITY_FIRST && c <= TB_CLI_QUALITY_LAST)
                rc = tb_cli_quality_option(cmd, c, optarg, &o->trust);
            else
                return tb_cli_bad_option(cmd, argv, optind, optopt, c);
        }
    }
    if (rc == TB_EXIT_OK && optind < argc)
        rc = tb_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return rc;
}

/* The dummy model as a file at path, written unless a file there already
 * holds it (ternbench.preset and the weights' bytes match). */
static int model_file(const tb_preset *p, tb_format f, const char *path)
{
    tb_gguf *g;
    tb_error err;
    if (tb_gguf_open(path, &g, &err) == TB_OK) {
        char preset[16] = "";
        tb_error ignored;
        bool same = tb_gguf_get_str(g, "ternbench.preset", preset, sizeof preset, &ignored) == TB_OK &&
                    !strcmp(preset, p->name) && g->size >= tb_preset_bytes(p, f);
        tb_gguf_close(g);
        if (same)
            return TB_EXIT_OK;
    }
    fprintf(stderr, "ternbench reproduce: writing %s\n", path);
    if (tb_dummy_save(p, f, TB_FMT_F16, TB_DUMMY_SEED, NULL, path, &err) != TB_OK) {
        fprintf(stderr, "ternbench reproduce: %s\n", err.text);
        return TB_EXIT_USAGE;
    }
    return TB_EXIT_OK;
}

static int write_doc(json_t *doc, const char *path, tb_error *err)
{
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text)
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    int rc = tb_file_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

int tb_cmd_reproduce(int argc, char **argv)
{
    ropts o = {.sizes = "125M,350M,700M,2B4T", .formats = "i2_s,tl2,tq2_0,f16,q8_0,q4_0",
               .out = "out", .lm_head = "q8_0", .threads = {tb_cpu_usable(NULL, 0)}, .nthreads = 1, .n = 32,
               .p = 32, .trust = {.reps = TB_BENCH_DEFAULT_REPS, .precision = 0.05,
                                  .max_time = 120, .retries = -1,
                                  .meter = tb_meter_choice_default()}};
    int rc = parse(argc, argv, &o);
    if (rc < 0)
        return TB_EXIT_OK;
    if (rc != TB_EXIT_OK)
        return rc;

    /* check every size and format before measuring anything */
    char sizes[16][32], formats[16][16];
    int ns = 0, nf = 0;
    for (char *tok = strtok(o.sizes, ","); tok && ns < 16; tok = strtok(NULL, ","))
        snprintf(sizes[ns++], 32, "%s", tok);
    for (char *tok = strtok(o.formats, ","); tok && nf < 16; tok = strtok(NULL, ","))
        snprintf(formats[nf++], 16, "%s", tok);
    tb_error err;
    for (int i = 0; i < ns; i++)
        if (!tb_preset_find(sizes[i]))
            return tb_cli_usage_error("reproduce", "--sizes: unknown preset '%s'", sizes[i]);
    const char *practical = NULL; /* the first ternary format: run with the quantised lm_head too */
    for (int i = 0; i < nf; i++) {
        tb_format f;
        if (tb_format_parse(formats[i], &f, &err) != TB_OK)
            return tb_cli_usage_error("reproduce", "--formats: %s", err.text);
        if (!practical && tb_format_get(f)->ternary)
            practical = formats[i];
    }
    tb_format lm_head = TB_FMT_F16;
    if (!strcmp(o.lm_head, "none") || !strcmp(o.lm_head, "f16"))
        practical = NULL;
    else if (tb_format_parse(o.lm_head, &lm_head, &err) != TB_OK || tb_embd_format_check(lm_head, &err) != TB_OK)
        return tb_cli_usage_error("reproduce", "--lm-head: %s", err.text);
    char models[1100];
    snprintf(models, sizeof models, "%s/models", o.out);
    if ((mkdir(o.out, 0755) != 0 && errno != EEXIST) ||
        (o.trust.npeers && mkdir(models, 0755) != 0 && errno != EEXIST)) {
        fprintf(stderr, "ternbench reproduce: cannot create %s: %s\n", o.out, strerror(errno));
        return TB_EXIT_USAGE;
    }

    tb_machine mach;
    if (tb_machine_probe_for("reproduce", &mach) != 0)
        return TB_EXIT_USAGE;
    snprintf(mach.label, sizeof mach.label, "%s", o.trust.label ? o.trust.label : "");
    tb_bench_doc parts;
    tb_bench_doc_init(&parts);
    json_t *skipped = json_array(), *idle = NULL;
    /* idle power once, with the meter every size will use */
    if (tb_bench_idle(&o.trust.meter, 30, &o.trust.idle_w, &idle, &err) == TB_OK) {
        o.trust.idle_given = true;
        fprintf(stderr, "ternbench reproduce: idle power %.2f W (%s)\n", o.trust.idle_w,
                json_string_value(json_object_get(idle, "meter")));
    } else {
        idle = json_pack("{s:s}", "unavailable", err.text);
    }
    for (int si = 0; si < ns && rc == TB_EXIT_OK; si++) {
        const tb_preset *p = tb_preset_find(sizes[si]);
        tb_bench_opts b = o.trust;
        b.threads = o.threads[0];
        b.warmup = 4;
        b.seed = 1;
        b.batch = 512;
        b.nthreads = o.nthreads;
        memcpy(b.thread_list, o.threads, sizeof b.thread_list);
        char specs[17][1200];
        uint64_t need = 0;
        for (int fi = 0; fi < nf; fi++) {
            tb_format f;
            tb_format_parse(formats[fi], &f, &err);
            need += tb_preset_bytes(p, f);
            snprintf(specs[fi], sizeof specs[fi], "dummy:%s:%s", sizes[si], formats[fi]);
            b.specs[b.nmodels++] = specs[fi];
        }
        if (practical && b.nmodels < TB_BENCH_MAX_MODELS) { /* the practical best: ternary, quantised lm_head */
            tb_format f;
            tb_format_parse(practical, &f, &err);
            need += tb_preset_bytes(p, f);
            snprintf(specs[16], sizeof specs[16], "dummy:%s:%s:%s", sizes[si], practical, o.lm_head);
            b.specs[b.nmodels++] = specs[16];
        }
        /* with peers, every engine runs the same files (tl2 and t1_67 have no GGUF type:
         * ternbench's alone) */
        for (int fi = 0; fi < nf && b.npeers && rc == TB_EXIT_OK; fi++) {
            tb_format f;
            tb_format_parse(formats[fi], &f, &err);
            if (!tb_format_in_files(f))
                continue;
            snprintf(specs[fi], sizeof specs[fi], "%s/models/%s-%s.gguf", o.out, sizes[si], formats[fi]);
            rc = model_file(p, f, specs[fi]);
        }
        if (rc != TB_EXIT_OK)
            break;
        if (mach.cpu.mem_available_bytes && need > mach.cpu.mem_available_bytes / 10 * 8) {
            char why[256];
            snprintf(why, sizeof why, "%s: its %d formats need %.1f GB together; %.1f GB is available",
                     sizes[si], nf, (double)need / 1e9, (double)mach.cpu.mem_available_bytes / 1e9);
            fprintf(stderr, "ternbench reproduce: skipping %s\n", why);
            json_array_append_new(skipped, json_string(why));
            continue;
        }
        char list[64];
        snprintf(list, sizeof list, "%ld", o.n);
        tb_bench_add_tests(&b, list, false, &err);
        snprintf(list, sizeof list, "%ld", o.p);
        tb_bench_add_tests(&b, list, true, &err); /* the paper's: one token at a time */
        b.tests[b.ntests - 1].batch = 1;
        snprintf(b.tests[b.ntests - 1].name, sizeof b.tests[0].name, "pp%ld@b1", o.p);
        snprintf(list, sizeof list, "%ld", 4 * o.p);
        tb_bench_add_tests(&b, list, true, &err); /* batched */
        tb_bench_name_tests(&b);
        char where[64];
        snprintf(where, sizeof where, "ternbench reproduce: %s (%d of %d)", sizes[si], si + 1, ns);
        b.progress = where;
        printf("\n## %s\n\n", sizes[si]);
        fflush(stdout);
        if (tb_bench_run(&b, &mach, stdout, &parts, &err) != TB_OK) {
            fprintf(stderr, "ternbench reproduce: %s\n", err.text);
            rc = TB_EXIT_USAGE;
        }
    }
    if (rc != TB_EXIT_OK || json_array_size(parts.runs) == 0) {
        if (rc == TB_EXIT_OK)
            fprintf(stderr, "ternbench reproduce: nothing could be measured\n");
        tb_bench_doc_free(&parts);
        json_decref(skipped);
        json_decref(idle);
        return TB_EXIT_USAGE;
    }
    json_t *doc = tb_result_document(&mach, &parts, &o.trust);
    json_object_set_new(doc, "skipped", skipped);
    json_object_set_new(doc, "idle", idle);
    char path[1100];
    snprintf(path, sizeof path, "%s/results.json", o.out);
    if (write_doc(doc, path, &err) != TB_OK || tb_report_write(doc, o.out, &err) != TB_OK) {
        fprintf(stderr, "ternbench reproduce: %s\n", err.text);
        json_decref(doc);
        return TB_EXIT_USAGE;
    }
    json_decref(doc);
    printf("\nwrote %s/results.json, %s/report.md, %s/report.html and plots\n", o.out, o.out, o.out);
    return TB_EXIT_OK;
}
