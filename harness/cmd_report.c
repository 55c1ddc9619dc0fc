/* cmd_report.c - `ternbench report RESULTS.json -o DIR`: the report of any result document. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "compare.h"
#include "report.h"

static void help(void)
{
    printf("usage: ternbench report RESULTS.json... -o DIR\n\n"
           "Writes report.md, report.html and plots for result documents (from `bench --json`\n"
           "or `reproduce`, on this machine or others; several are merged first) into DIR.\n");
}

int tb_cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *dir = NULL;
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1;) {
        switch (c) {
        case 'o': dir = optarg; break;
        case 'h': help(); return TB_EXIT_OK;
        default: return tb_cli_bad_option("report", argv, optind, optopt, c);
        }
    }
    int n = argc - optind;
    if (n < 1)
        return tb_cli_usage_error("report", "give one or more RESULTS.json");
    if (!dir)
        return tb_cli_usage_error("report", "-o DIR is required");
    json_t *docs[64] = {0}, *doc = NULL;
    tb_error err;
    int rc = n <= 64 ? TB_EXIT_OK : tb_cli_usage_error("report", "at most 64 documents");
    for (int i = 0; i < n && rc == TB_EXIT_OK; i++) {
        const char *path = argv[optind + i];
        json_error_t jerr;
        if (!(docs[i] = json_load_file(path, 0, &jerr))) {
            fprintf(stderr, "ternbench report: %s: line %d, column %d: %s\n", path, jerr.line,
                    jerr.column, jerr.text);
            rc = TB_EXIT_USAGE;
        } else if (tb_result_validate(docs[i], &err) != TB_OK) {
            fprintf(stderr, "ternbench report: %s: %s\n", path, err.text);
            rc = TB_EXIT_USAGE;
        }
    }
    if (rc == TB_EXIT_OK) {
        doc = n == 1 ? json_incref(docs[0]) : tb_merge_docs(docs, n, &err);
        if (!doc) {
            fprintf(stderr, "ternbench report: %s\n", err.text);
            rc = TB_EXIT_USAGE;
        }
    }
    for (int i = 0; i < n && i < 64; i++)
        json_decref(docs[i]);
    if (rc != TB_EXIT_OK) {
        /* nothing more to do */
    } else if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "ternbench report: cannot create %s: %s\n", dir, strerror(errno));
        rc = TB_EXIT_USAGE;
    } else if (tb_report_write(doc, dir, &err) != TB_OK) {
        fprintf(stderr, "ternbench report: %s\n", err.text);
        rc = TB_EXIT_USAGE;
    } else {
        printf("wrote %s/report.md, %s/report.html and plots\n", dir, dir);
    }
    json_decref(doc);
    return rc;
}
