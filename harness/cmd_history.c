/*
 * cmd_history.c - `ternbench history FILES... [-o DIR]`: where a series of
 * result documents (e.g. the main branch's gate runs) changed for good
 * (reports/history.h).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "history.h"
#include "results.h"

static void help(void)
{
    printf("usage: ternbench history DOC.json... [--alpha 0.05] [-o DIR]\n\n"
           "Change points in a series of result documents: every speedup, tokens/s and\n"
           "counted instructions per token becomes a series (documents in order of their\n"
           "`created` date, oldest first), split where E-divisive means finds a change that a\n"
           "permutation test holds significant at --alpha. Prints a table; with -o, writes\n"
           "history.dat, history.gp and (with gnuplot) history.png/.svg into DIR.\n");
}

typedef struct entry {
    json_t *doc;
    const char *name;
} entry;

static int by_created(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    return strcmp(tb_json_str(x->doc, "created"), tb_json_str(y->doc, "created"));
}

int tb_cmd_history(int argc, char **argv)
{
    static const struct option opts[] = {
        {"alpha", required_argument, NULL, 'a'}, {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *cmd = "history", *dir = NULL;
    double alpha = 0.05;
    int rc = TB_EXIT_OK;
    opterr = 0;
    optind = 1;
    for (int c; rc == TB_EXIT_OK && (c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1;) {
        switch (c) {
        case 'a': rc = tb_cli_parse_double(cmd, "--alpha", optarg, 0.001, 0.5, &alpha); break;
        case 'o': dir = optarg; break;
        case 'h': help(); return TB_EXIT_OK;
        default: return tb_cli_bad_option(cmd, argv, optind, optopt, c);
        }
    }
    int n = argc - optind;
    if (rc != TB_EXIT_OK)
        return rc;
    if (n < 1 || n > TB_HISTORY_MAX)
        return tb_cli_usage_error(cmd, "give 1 to %d result documents", TB_HISTORY_MAX);
    entry *e = calloc((size_t)n, sizeof *e);
    json_t **docs = calloc((size_t)n, sizeof *docs);
    const char **names = calloc((size_t)n, sizeof *names);
    if (!e || !docs || !names)
        rc = tb_cli_usage_error(cmd, "out of memory");
    for (int i = 0; i < n && rc == TB_EXIT_OK; i++) {
        json_error_t jerr;
        tb_error err;
        e[i].name = argv[optind + i];
        if (!(e[i].doc = json_load_file(e[i].name, 0, &jerr))) {
            fprintf(stderr, "ternbench %s: %s: line %d, column %d: %s\n", cmd, e[i].name, jerr.line,
                    jerr.column, jerr.text);
            rc = TB_EXIT_USAGE;
        } else if (tb_result_validate(e[i].doc, &err) != TB_OK) {
            fprintf(stderr, "ternbench %s: %s: %s\n", cmd, e[i].name, err.text);
            rc = TB_EXIT_USAGE;
        }
    }
    if (rc == TB_EXIT_OK && dir && mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "ternbench %s: cannot create %s: %s\n", cmd, dir, strerror(errno));
        rc = TB_EXIT_USAGE;
    }
    if (rc == TB_EXIT_OK) {
        qsort(e, (size_t)n, sizeof *e, by_created); /* stable enough: dates differ */
        for (int i = 0; i < n; i++) {
            docs[i] = e[i].doc;
            names[i] = e[i].name;
        }
        int changes;
        tb_error err;
        if (tb_history_report(docs, names, n, alpha, stdout, dir, &changes, &err) != TB_OK) {
            fprintf(stderr, "ternbench %s: %s\n", cmd, err.text);
            rc = TB_EXIT_USAGE;
        }
    }
    for (int i = 0; e && i < n; i++)
        json_decref(e[i].doc);
    free(e);
    free(docs);
    free(names);
    return rc;
}
