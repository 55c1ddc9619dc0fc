/* cmd_info.c - `ternbench info [--json]`: what this machine offers. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "cli.h"
#include "machine.h"

static void help(void)
{
    printf("usage: ternbench info [--json]\n\n"
           "Describes this machine as ternbench sees it: CPU, memory and ISA features, the\n"
           "kernel variant that will run (TERNBENCH_ISA=scalar|avx2|avx512|neon forces one),\n"
           "hardware counter back ends, energy meters (with the fix for each missing one)\n"
           "and external tools.\n\n"
           "  --json      one JSON object on stdout (keys: cpu, isa, counters, energy, tools, build)\n"
           "  -h, --help  this text\n\n"
           "environment: TERNBENCH_ISA, TERNBENCH_SYSFS_ROOT (read sysfs below another root)\n");
}

int tb_cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    int json = 0;
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1;) {
        switch (c) {
        case 'j': json = 1; break;
        case 'h': help(); return TB_EXIT_OK;
        default: return tb_cli_bad_option("info", argv, optind, optopt, c);
        }
    }
    if (optind < argc)
        return tb_cli_usage_error("info", "unexpected argument '%s'", argv[optind]);

    tb_machine m;
    tb_machine_probe(&m);
    if (json) {
        json_t *doc = tb_machine_to_json(&m);
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(doc);
    } else {
        tb_machine_print(&m, stdout);
    }
    if (!m.isa_ok) {
        fprintf(stderr, "ternbench info: %s\n", m.isa_error);
        return TB_EXIT_USAGE;
    }
    return TB_EXIT_OK;
}
