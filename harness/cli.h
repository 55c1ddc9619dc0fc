/*
 * cli.h - the `ternbench` command table and the helpers every command uses.
 *
 * Exit statuses, the same for every command:
 *   0  success
 *   1  the measured thing failed (e.g. `gate` found a regression)
 *   2  usage error or bad input: a message names the word, file or field
 */
#ifndef TB_CLI_H
#define TB_CLI_H

#include <stdio.h>

#include "model.h"

enum { TB_EXIT_OK = 0, TB_EXIT_FAIL = 1, TB_EXIT_USAGE = 2 };

typedef struct tb_command {
    const char *name;
    const char *summary;                 /* one line for `ternbench --help` */
    int (*run)(int argc, char **argv);   /* argv[0] is the command's name */
} tb_command;

/* Prints "ternbench CMD: <message>\n(see 'ternbench CMD --help')" to
 * stderr and returns TB_EXIT_USAGE. */
int tb_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reports what getopt_long (with an optstring starting with ':') rejected:
 * c is ':' for a missing value, '?' for an unknown option. */
int tb_cli_bad_option(const char *cmd, char **argv, int optind_now, int optopt_now, int c);

/* Strict number parsing for option values: the whole text must be a number
 * within [min, max]; otherwise a usage error naming the option. Return
 * TB_EXIT_OK or TB_EXIT_USAGE. tb_cli_parse_int accepts 0x.. too. */
int tb_cli_parse_double(const char *cmd, const char *opt, const char *text, double min,
                        double max, double *out);
int tb_cli_parse_int(const char *cmd, const char *opt, const char *text, long min, long max,
                     long *out);

/* --kv: "f16" or "f32" into *out, else a usage error naming the value. */
int tb_cli_parse_kv(const char *cmd, const char *text, tb_kv_type *out);

/* The commands, each in its own cmd_*.c file. */
int tb_cmd_info(int argc, char **argv);
int tb_cmd_energy(int argc, char **argv);
int tb_cmd_kernels(int argc, char **argv);
int tb_cmd_logits(int argc, char **argv);
int tb_cmd_bench(int argc, char **argv);
int tb_cmd_reproduce(int argc, char **argv);
int tb_cmd_report(int argc, char **argv);
int tb_cmd_compare(int argc, char **argv);
int tb_cmd_gate(int argc, char **argv);
int tb_cmd_merge(int argc, char **argv);
int tb_cmd_gen(int argc, char **argv);
int tb_cmd_tokenize(int argc, char **argv);
int tb_cmd_generate(int argc, char **argv);
int tb_cmd_convert(int argc, char **argv);

#endif
