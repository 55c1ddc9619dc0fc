/*
 * cmd_compare.c - `ternbench compare`, `ternbench gate` and `ternbench merge`:
 * result documents against each other (see reports/compare.h).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compare.h"
#include "report.h"
#include "tb_file.h"

/* Loads and validates a result document; prints the problem and returns NULL. */
static json_t *load(const char *cmd, const char *path)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc) {
        fprintf(stderr, "ternbench %s: %s: line %d, column %d: %s\n", cmd, path, jerr.line,
                jerr.column, jerr.text);
        return NULL;
    }
    tb_error err;
    if (tb_result_validate(doc, &err) != TB_OK) {
        fprintf(stderr, "ternbench %s: %s: %s\n", cmd, path, err.text);
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static int parse_percent(const char *cmd, const char *text, double *out)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%s", text);
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '%')
        buf[n - 1] = '\0';
    double v;
    int rc = tb_cli_parse_double(cmd, "--max-regression", buf, 0, 99, &v);
    if (rc == TB_EXIT_OK)
        *out = v / 100.0;
    return rc;
}

/* compare and gate share everything but the exit status */
static int run_compare(int argc, char **argv, bool gate)
{
    const char *cmd = gate ? "gate" : "compare";
    static const struct option opts[] = {
        {"baseline", required_argument, NULL, 'b'}, {"max-regression", required_argument, NULL, 'x'},
        {"ratios-only", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *base_path = NULL;
    double thr = 0.05;
    bool ratios_only = false;
    int rc = TB_EXIT_OK;
    opterr = 0;
    optind = 1;
    for (int c; rc == TB_EXIT_OK && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1;) {
        switch (c) {
        case 'b': base_path = optarg; break;
        case 'x': rc = parse_percent(cmd, optarg, &thr); break;
        case 'R': ratios_only = true; break;
        case 'h':
            printf(gate ? "usage: ternbench gate --baseline BASE.json NEW.json [--max-regression 5%%]\n\n"
                          "Exits 1 only when a regression beyond the threshold is statistically clear\n"
                          "(the 95%% interval of new/base lies wholly below 1 - threshold), else 0;\n"
                          "prints why for each metric. Speedups (same-run ratios) always; absolute\n"
                          "tokens/s only when both documents come from the same machine (and\n"
                          "never with --ratios-only).\n"
                        : "usage: ternbench compare BASE.json NEW.json [--max-regression 5%%]\n\n"
                          "A table of every configuration's change (new / base) with its 95%% interval.\n");
            return TB_EXIT_OK;
        default: return tb_cli_bad_option(cmd, argv, optind, optopt, c);
        }
    }
    if (rc != TB_EXIT_OK)
        return rc;
    if (gate && (!base_path || optind != argc - 1))
        return tb_cli_usage_error(cmd, "give --baseline BASE.json and one NEW.json");
    if (!gate && !base_path) {
        if (optind != argc - 2)
            return tb_cli_usage_error(cmd, "give BASE.json NEW.json");
        base_path = argv[optind++];
    }
    json_t *base = load(cmd, base_path);
    json_t *cur = base ? load(cmd, argv[optind]) : NULL;
    if (!base || !cur) {
        json_decref(base);
        return TB_EXIT_USAGE;
    }
    tb_compare_summary sum;
    tb_error err;
    rc = tb_compare_docs(base, cur, thr, ratios_only, stdout, &sum, &err);
    json_decref(base);
    json_decref(cur);
    if (rc != TB_OK) {
        fprintf(stderr, "ternbench %s: %s\n", cmd, err.text);
        return TB_EXIT_USAGE;
    }
    if (gate) {
        printf("gate: %s\n", sum.regressions ? "FAIL: a clear regression" : "pass");
        return sum.regressions ? TB_EXIT_FAIL : TB_EXIT_OK;
    }
    return TB_EXIT_OK;
}

int tb_cmd_compare(int argc, char **argv)
{
    return run_compare(argc, argv, false);
}

int tb_cmd_gate(int argc, char **argv)
{
    return run_compare(argc, argv, true);
}

int tb_cmd_merge(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *outp = NULL;
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1;) {
        switch (c) {
        case 'o': outp = optarg; break;
        case 'h':
            printf("usage: ternbench merge A.json B.json ... -o ALL.json\n\n"
                   "One document from several (e.g. several machines); every run and comparison\n"
                   "keeps its machine.\n");
            return TB_EXIT_OK;
        default: return tb_cli_bad_option("merge", argv, optind, optopt, c);
        }
    }
    int n = argc - optind;
    if (n < 2 || !outp)
        return tb_cli_usage_error("merge", "give two or more documents and -o ALL.json");
    json_t **docs = calloc((size_t)n, sizeof *docs);
    int rc = docs ? TB_EXIT_OK : TB_EXIT_USAGE;
    for (int i = 0; i < n && rc == TB_EXIT_OK; i++)
        if (!(docs[i] = load("merge", argv[optind + i])))
            rc = TB_EXIT_USAGE;
    tb_error err;
    json_t *all = rc == TB_EXIT_OK ? tb_merge_docs(docs, n, &err) : NULL;
    if (rc == TB_EXIT_OK && !all) {
        fprintf(stderr, "ternbench merge: %s\n", err.text);
        rc = TB_EXIT_USAGE;
    }
    if (all) {
        char *text = json_dumps(all, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (!text || tb_file_write_atomic(outp, text, strlen(text), &err) != TB_OK) {
            fprintf(stderr, "ternbench merge: %s\n", text ? err.text : "out of memory");
            rc = TB_EXIT_USAGE;
        } else {
            printf("wrote %s: %zu runs from %d documents\n", outp,
                   json_array_size(json_object_get(all, "runs")), n);
        }
        free(text);
        json_decref(all);
    }
    for (int i = 0; i < n; i++)
        json_decref(docs[i]);
    free(docs);
    return rc;
}
