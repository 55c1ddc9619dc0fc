/* cmd_report.c - `ternbench report RESULTS.json -o DIR`: the report of any result document. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "report.h"

static void help(void)
{
    printf("usage: ternbench report RESULTS.json -o DIR\n\n"
           "Writes report.md, report.html and plots for a result document (from `bench --json`\n"
           "or `reproduce`, on this machine or another) into DIR.\n");
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
    if (optind != argc - 1)
        return tb_cli_usage_error("report", "give exactly one RESULTS.json (merging several "
                                            "documents is not written yet)");
    if (!dir)
        return tb_cli_usage_error("report", "-o DIR is required");
    const char *path = argv[optind];
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc) {
        fprintf(stderr, "ternbench report: %s: line %d, column %d: %s\n", path, jerr.line,
                jerr.column, jerr.text);
        return TB_EXIT_USAGE;
    }
    tb_error err;
    int rc = TB_EXIT_OK;
    if (tb_result_validate(doc, &err) != TB_OK) {
        fprintf(stderr, "ternbench report: %s: %s\n", path, err.text);
        rc = TB_EXIT_USAGE;
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
