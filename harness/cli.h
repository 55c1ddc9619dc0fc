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

#include "bench.h"
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

/* A percentage, "5%" or "5", within [min, max] percent, as a fraction (0.05). */
int tb_cli_parse_percent(const char *cmd, const char *opt, const char *text, double min,
                         double max, double *out);

/* -pg P,N (llama-bench's prompt-then-generate test) added to o's tests,
 * else a usage error naming the value. */
int tb_cli_add_pg(const char *cmd, const char *text, tb_bench_opts *o);

/* --kv: "f16" or "f32" into *out, else a usage error naming the value. */
int tb_cli_parse_kv(const char *cmd, const char *text, tb_kv_type *out);

/* The options `bench` and `reproduce` share on how far to trust a run:
 * TB_CLI_TRUST_OPTIONS in their long-option tables, TB_CLI_TRUST_HELP in
 * their help, and tb_cli_trust_option() for the codes between
 * TB_CLI_TRUST_FIRST and TB_CLI_TRUST_LAST. */
enum { TB_CLI_TRUST_FIRST = 400, TB_CLI_PRECISION = TB_CLI_TRUST_FIRST, TB_CLI_MAX_TIME,
       TB_CLI_MAX_LOST, TB_CLI_RETRIES, TB_CLI_LABEL, TB_CLI_TRUST_LAST = TB_CLI_LABEL };
#define TB_CLI_TRUST_OPTIONS                                                                      \
    {"precision", required_argument, NULL, TB_CLI_PRECISION},                                     \
        {"max-time", required_argument, NULL, TB_CLI_MAX_TIME},                                   \
        {"max-lost", required_argument, NULL, TB_CLI_MAX_LOST},                                   \
        {"retries", required_argument, NULL, TB_CLI_RETRIES},                                     \
        {"label", required_argument, NULL, TB_CLI_LABEL}
#define TB_CLI_TRUST_HELP                                                                         \
    "  --precision P      add rounds until every speedup's 95%% interval is within\n"            \
    "                     +-P (e.g. 2%%) of its estimate, or --max-time runs out\n"              \
    "  --max-time S       with --precision: stop adding rounds after S seconds\n"                \
    "  --max-lost P       redo a repetition that lost more than P of its time to the\n"          \
    "                     hypervisor (steal) or to other processes (default 5%%)\n"              \
    "  --retries N        redo at most N repetitions per run; past that the run is\n"            \
    "                     tainted and gets no verdict (default 3)\n"                             \
    "  --label NAME       this machine's name in the document (a fleet's host name): what\n"    \
    "                     reports of several machines tell them apart by\n"
int tb_cli_trust_option(const char *cmd, int code, const char *arg, tb_bench_opts *o);

/* The quality options `bench` and `reproduce` share, the same way:
 * TB_CLI_QUALITY_OPTIONS, TB_CLI_QUALITY_HELP, tb_cli_quality_option(). A
 * text that cannot be read is refused here, before anything is measured. */
enum { TB_CLI_QUALITY_FIRST = 440, TB_CLI_QUALITY = TB_CLI_QUALITY_FIRST, TB_CLI_QUALITY_CTX,
       TB_CLI_QUALITY_CHUNKS, TB_CLI_QUALITY_LAST = TB_CLI_QUALITY_CHUNKS };
#define TB_CLI_QUALITY_OPTIONS                                                                    \
    {"quality", required_argument, NULL, TB_CLI_QUALITY},                                         \
        {"quality-ctx", required_argument, NULL, TB_CLI_QUALITY_CTX},                             \
        {"quality-chunks", required_argument, NULL, TB_CLI_QUALITY_CHUNKS}
#define TB_CLI_QUALITY_HELP                                                                       \
    "  --quality TEXT     after measuring speed, score TEXT with each model as\n"                 \
    "                     llama-perplexity does (PPL), and each model with an f16 twin\n"         \
    "                     among the models against it (KL divergence, same top token,\n"         \
    "                     PPL ratio); `seeded`: seeded ids instead of a text (models\n"           \
    "                     without a vocabulary, dummy:, always score seeded ids)\n"              \
    "  --quality-ctx N    tokens per chunk (default 512)\n"                                       \
    "  --quality-chunks N score at most N chunks (default: all of the text; 4 of seeded ids)\n"
int tb_cli_quality_option(const char *cmd, int code, const char *arg, tb_bench_opts *o);

/* The energy meter options `energy`, `bench` and `reproduce` share, the same
 * way: TB_CLI_METER_OPTIONS, TB_CLI_METER_HELP, tb_cli_meter_option() for
 * the codes between TB_CLI_METER_FIRST and TB_CLI_METER_LAST; call
 * tb_cli_meter_done() after parsing. */
enum { TB_CLI_METER_FIRST = 420, TB_CLI_METER = TB_CLI_METER_FIRST, TB_CLI_SYSFS_ROOT, TB_CLI_I2C_BUS,
       TB_CLI_I2C_ADDRESS, TB_CLI_SHUNT_OHMS, TB_CLI_MAX_CURRENT, TB_CLI_ADC_SAMPLES,
       TB_CLI_METER_LAST = TB_CLI_ADC_SAMPLES };
#define TB_CLI_METER_OPTIONS                                                                      \
    {"meter", required_argument, NULL, TB_CLI_METER},                                             \
        {"sysfs-root", required_argument, NULL, TB_CLI_SYSFS_ROOT},                               \
        {"i2c-bus", required_argument, NULL, TB_CLI_I2C_BUS},                                     \
        {"i2c-address", required_argument, NULL, TB_CLI_I2C_ADDRESS},                             \
        {"shunt-ohms", required_argument, NULL, TB_CLI_SHUNT_OHMS},                               \
        {"max-current", required_argument, NULL, TB_CLI_MAX_CURRENT},                             \
        {"adc-samples", required_argument, NULL, TB_CLI_ADC_SAMPLES}
#define TB_CLI_METER_HELP                                                                         \
    "  --meter M          rapl | perf-power | ina219 | ina219-i2c (default: the first that\n"     \
    "                     works of rapl, perf-power, ina219; raw I2C only on request)\n"          \
    "  --sysfs-root DIR   read powercap/hwmon/event_source below DIR (TERNBENCH_SYSFS_ROOT)\n"    \
    "  INA219 on raw I2C: --i2c-bus N (1) --i2c-address A (0x40) --shunt-ohms R (0.1)\n"          \
    "                     --max-current A (3.2) --adc-samples N (1: 12-bit, ~1.1 ms)\n"
struct tb_meter_choice;
int tb_cli_meter_option(const char *cmd, int code, const char *arg, struct tb_meter_choice *c);

/* The commands, each in its own cmd_*.c file. */
int tb_cmd_info(int argc, char **argv);
int tb_cmd_energy(int argc, char **argv);
int tb_cmd_kernels(int argc, char **argv);
int tb_cmd_logits(int argc, char **argv);
int tb_cmd_perplexity(int argc, char **argv);
int tb_cmd_bench(int argc, char **argv);
int tb_cmd_reproduce(int argc, char **argv);
int tb_cmd_report(int argc, char **argv);
int tb_cmd_compare(int argc, char **argv);
int tb_cmd_gate(int argc, char **argv);
int tb_cmd_merge(int argc, char **argv);
int tb_cmd_history(int argc, char **argv);
int tb_cmd_gen(int argc, char **argv);
int tb_cmd_tokenize(int argc, char **argv);
int tb_cmd_generate(int argc, char **argv);
int tb_cmd_convert(int argc, char **argv);
int tb_cmd_llama_bench(int argc, char **argv);

#endif
