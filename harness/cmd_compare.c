/*
 * cmd_compare.c - `ternbench compare`, `ternbench gate` and `ternbench merge`:
 * result documents against each other (see reports/compare.h).
 */
#include <dirent.h>
#include <errno.h>
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

/* The .json files of a directory, in name order (a history of documents). */
static int list_history(const char *cmd, const char *dir, char **paths, int cap, int *n)
{
    struct dirent **names;
    int count = scandir(dir, &names, NULL, alphasort);
    if (count < 0)
        return tb_cli_usage_error(cmd, "--history %s: %s", dir, strerror(errno));
    for (int i = 0; i < count; i++) {
        size_t len = strlen(names[i]->d_name);
        if (len > 5 && !strcmp(names[i]->d_name + len - 5, ".json") && *n < cap) {
            size_t need = strlen(dir) + len + 2;
            if ((paths[*n] = malloc(need)))
                snprintf(paths[(*n)++], need, "%s/%s", dir, names[i]->d_name);
        }
        free(names[i]);
    }
    free(names);
    return *n ? TB_EXIT_OK : tb_cli_usage_error(cmd, "--history %s: no .json documents in it", dir);
}

static void help_compare(bool gate)
{
    if (gate)
        printf("usage: ternbench gate (--baseline BASE.json... | --history DIR | --ab) NEW.json\n"
               "                      [--max-regression 5%%] [--max-counted-regression 1%%]\n"
               "                      [--ratios-only]\n\n"
               "Exits 1 only when a regression beyond the threshold is clear (the 95%% interval\n"
               "of new/base lies wholly below 1 - threshold; counted instructions per token,\n"
               "exact, need no interval), else 0; prints why for each metric. Speedups\n"
               "(same-run ratios) always; absolute tokens/s only between the same machine (and\n"
               "never with --ratios-only); instructions per token wherever both documents\n"
               "counted them with the same kernels (bench --count instructions, or a PMU).\n"
               "With several baselines (--baseline repeated, or every .json in --history DIR,\n"
               "e.g. the main branch's last runs), each metric's threshold is raised to what\n"
               "the baselines' spread needs: the 99.9 %% prediction bound for one more run.\n"
               "With --ab, no baseline: NEW.json is one bench run of this build beside another\n"
               "build of ternbench (bench --peer base=OLD/ternbench), and each model's paired\n"
               "ratio this/other is judged; the drift between runs does not enter it.\n"
               "A figure with one repetition, or a run the machine disturbed, gets no verdict.\n");
    else
        printf("usage: ternbench compare BASE.json NEW.json [--max-regression 5%%]\n"
               "       ternbench compare --ab NEW.json\n\n"
               "A table of every configuration's change (new / base) with its 95%% interval;\n"
               "with --ab, this build over the other build of ternbench that NEW.json ran\n"
               "beside it (bench --peer NAME=OTHER/ternbench).\n");
}

/* compare and gate share everything but the exit status */
static int run_compare(int argc, char **argv, bool gate)
{
    enum { MAX_BASES = 64 };
    const char *cmd = gate ? "gate" : "compare";
    static const struct option opts[] = {
        {"baseline", required_argument, NULL, 'b'}, {"history", required_argument, NULL, 'H'},
        {"max-regression", required_argument, NULL, 'x'},
        {"max-counted-regression", required_argument, NULL, 'c'},
        {"ratios-only", no_argument, NULL, 'R'}, {"ab", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    char *paths[MAX_BASES];
    bool owned[MAX_BASES] = {false};
    int nbase = 0;
    tb_compare_opts o = {.max_regression = 0.05, .max_counted = 0.01};
    int rc = TB_EXIT_OK;
    opterr = 0;
    optind = 1;
    for (int c; rc == TB_EXIT_OK && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1;) {
        switch (c) {
        case 'b':
            if (nbase == MAX_BASES)
                rc = tb_cli_usage_error(cmd, "at most %d baselines", MAX_BASES);
            else
                paths[nbase++] = optarg;
            break;
        case 'H': {
            int before = nbase;
            rc = list_history(cmd, optarg, paths, MAX_BASES, &nbase);
            for (int i = before; i < nbase; i++)
                owned[i] = true;
            break;
        }
        case 'x': rc = tb_cli_parse_percent(cmd, "--max-regression", optarg, 0, 99, &o.max_regression); break;
        case 'c':
            rc = tb_cli_parse_percent(cmd, "--max-counted-regression", optarg, 0, 99, &o.max_counted);
            break;
        case 'R': o.ratios_only = true; break;
        case 'a': o.ab = true; break;
        case 'h': help_compare(gate); return TB_EXIT_OK;
        default: rc = tb_cli_bad_option(cmd, argv, optind, optopt, c);
        }
    }
    if (rc == TB_EXIT_OK && o.ab && nbase)
        rc = tb_cli_usage_error(cmd, "--ab takes no baseline: give one NEW.json, a bench run with "
                                "another build of ternbench as a peer");
    if (rc == TB_EXIT_OK && gate && !o.ab && (!nbase || optind != argc - 1))
        rc = tb_cli_usage_error(cmd, "give --baseline BASE.json (or --history DIR) and one NEW.json");
    if (rc == TB_EXIT_OK && !gate && !nbase && !o.ab) {
        if (optind != argc - 2)
            rc = tb_cli_usage_error(cmd, "give BASE.json NEW.json");
        else
            paths[nbase++] = argv[optind++];
    }
    if (rc == TB_EXIT_OK && optind != argc - 1)
        rc = tb_cli_usage_error(cmd, "give one NEW.json");
    json_t *docs[MAX_BASES] = {NULL}, *cur = NULL;
    for (int i = 0; i < nbase && rc == TB_EXIT_OK; i++)
        if (!(docs[i] = load(cmd, paths[i])))
            rc = TB_EXIT_USAGE;
    if (rc == TB_EXIT_OK && !(cur = load(cmd, argv[optind])))
        rc = TB_EXIT_USAGE;
    tb_compare_summary sum;
    tb_error err;
    if (rc == TB_EXIT_OK && tb_compare_docs(docs, nbase, cur, &o, stdout, &sum, &err) != TB_OK) {
        fprintf(stderr, "ternbench %s: %s\n", cmd, err.text);
        rc = TB_EXIT_USAGE;
    }
    if (rc == TB_EXIT_OK && gate) {
        printf("gate: %s\n", sum.regressions ? "FAIL: a clear regression" : "pass");
        rc = sum.regressions ? TB_EXIT_FAIL : TB_EXIT_OK;
    }
    for (int i = 0; i < nbase; i++) {
        json_decref(docs[i]);
        if (owned[i])
            free(paths[i]);
    }
    json_decref(cur);
    return rc;
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
