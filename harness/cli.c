/* cli.c - helpers every command uses to parse and reject its arguments. */
#include "cli.h"

#include "meters.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int tb_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ternbench%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'ternbench%s%s --help')\n", cmd ? " " : "", cmd ? cmd : "");
    return TB_EXIT_USAGE;
}

int tb_cli_bad_option(const char *cmd, char **argv, int optind_now, int optopt_now, int c)
{
    const char *word = argv[optind_now - 1];
    if (c == ':')
        return tb_cli_usage_error(cmd, "option '%s' needs a value", word);
    if (optopt_now && word[0] == '-' && word[1] != '-')
        return tb_cli_usage_error(cmd, "unknown option '-%c'", optopt_now);
    return tb_cli_usage_error(cmd, "unknown option '%s'", word);
}

int tb_cli_parse_double(const char *cmd, const char *opt, const char *text, double min,
                        double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || !isfinite(v))
        return tb_cli_usage_error(cmd, "%s: '%s' is not a number", opt, text);
    if (v < min || v > max)
        return tb_cli_usage_error(cmd, "%s: %s is out of range [%g, %g]", opt, text, min, max);
    *out = v;
    return TB_EXIT_OK;
}

int tb_cli_parse_int(const char *cmd, const char *opt, const char *text, long min, long max,
                     long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 0);
    if (end == text || *end != '\0' || errno != 0)
        return tb_cli_usage_error(cmd, "%s: '%s' is not an integer", opt, text);
    if (v < min || v > max)
        return tb_cli_usage_error(cmd, "%s: %s is out of range [%ld, %ld]", opt, text, min, max);
    *out = v;
    return TB_EXIT_OK;
}

int tb_cli_parse_percent(const char *cmd, const char *opt, const char *text, double min,
                         double max, double *out)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '%')
        buf[n - 1] = '\0';
    double v = 0;
    int rc = tb_cli_parse_double(cmd, opt, buf, min, max, &v);
    if (rc == TB_EXIT_OK)
        *out = v / 100.0;
    return rc;
}

int tb_cli_trust_option(const char *cmd, int code, const char *arg, tb_bench_opts *o)
{
    switch (code) {
    case TB_CLI_PRECISION: return tb_cli_parse_percent(cmd, "--precision", arg, 0.1, 50, &o->precision);
    case TB_CLI_MAX_TIME: return tb_cli_parse_double(cmd, "--max-time", arg, 1, 86400, &o->max_time);
    case TB_CLI_MAX_LOST: return tb_cli_parse_percent(cmd, "--max-lost", arg, 0.1, 100, &o->max_lost);
    case TB_CLI_RETRIES:
        return tb_cli_parse_int(cmd, "--retries", arg, 0, TB_BENCH_MAX_RETRIES, &o->retries);
    case TB_CLI_LABEL:
        if (!arg[0] || strlen(arg) >= 64)
            return tb_cli_usage_error(cmd, "--label: '%s' is not a name of 1 to 63 characters", arg);
        o->label = arg;
        return TB_EXIT_OK;
    default: return tb_cli_usage_error(cmd, "unknown option");
    }
}

int tb_cli_quality_option(const char *cmd, int code, const char *arg, tb_bench_opts *o)
{
    switch (code) {
    case TB_CLI_QUALITY: {
        FILE *f = strcmp(arg, "seeded") ? fopen(arg, "rb") : NULL;
        if (strcmp(arg, "seeded") && !f)
            return tb_cli_usage_error(cmd, "--quality: cannot read '%s': %s (give a text file, or "
                                      "`seeded`)", arg, strerror(errno));
        if (f)
            fclose(f);
        o->quality = arg;
        return TB_EXIT_OK;
    }
    case TB_CLI_QUALITY_CTX: return tb_cli_parse_int(cmd, "--quality-ctx", arg, 4, 4096, &o->quality_ctx);
    case TB_CLI_QUALITY_CHUNKS:
        return tb_cli_parse_int(cmd, "--quality-chunks", arg, 1, 1000000, &o->quality_chunks);
    default: return tb_cli_usage_error(cmd, "unknown option");
    }
}

int tb_cli_meter_option(const char *cmd, int code, const char *arg, tb_meter_choice *c)
{
    long n = 0;
    int rc = TB_EXIT_OK;
    switch (code) {
    case TB_CLI_METER: c->name = arg; break;
    case TB_CLI_SYSFS_ROOT: c->sysfs_root = arg; break;
    case TB_CLI_I2C_BUS: rc = tb_cli_parse_int(cmd, "--i2c-bus", arg, 0, 1023, &c->i2c_bus); break;
    case TB_CLI_I2C_ADDRESS:
        rc = tb_cli_parse_int(cmd, "--i2c-address", arg, 0x40, 0x4f, &c->i2c_address);
        break;
    case TB_CLI_SHUNT_OHMS:
        rc = tb_cli_parse_double(cmd, "--shunt-ohms", arg, 1e-5, 100, &c->ina.shunt_ohms);
        break;
    case TB_CLI_MAX_CURRENT:
        rc = tb_cli_parse_double(cmd, "--max-current", arg, 1e-4, 100, &c->ina.max_current_a);
        break;
    case TB_CLI_ADC_SAMPLES:
        rc = tb_cli_parse_int(cmd, "--adc-samples", arg, 1, 128, &n);
        c->ina.adc_samples = (int)n;
        break;
    default: rc = tb_cli_usage_error(cmd, "unknown option");
    }
    return rc;
}

int tb_cli_add_pg(const char *cmd, const char *text, tb_bench_opts *o)
{
    const char *comma = strchr(text, ',');
    char prompt[32];
    long pp = 0, tg = 0;
    if (!comma || (size_t)(comma - text) >= sizeof prompt)
        return tb_cli_usage_error(cmd, "-pg: '%s' is not P,N", text);
    snprintf(prompt, sizeof prompt, "%.*s", (int)(comma - text), text);
    int rc = tb_cli_parse_int(cmd, "-pg", prompt, 1, 4096, &pp);
    if (rc == TB_EXIT_OK)
        rc = tb_cli_parse_int(cmd, "-pg", comma + 1, 1, 4096, &tg);
    tb_error e;
    if (rc == TB_EXIT_OK && tb_bench_add_pg(o, (int)pp, (int)tg, &e) != TB_OK)
        rc = tb_cli_usage_error(cmd, "%s", e.text);
    return rc;
}

int tb_cli_parse_kv(const char *cmd, const char *text, tb_kv_type *out)
{
    if (!strcmp(text, "f16"))
        *out = TB_KV_F16;
    else if (!strcmp(text, "f32"))
        *out = TB_KV_F32;
    else
        return tb_cli_usage_error(cmd, "--kv: '%s' is not f16 or f32", text);
    return TB_EXIT_OK;
}
