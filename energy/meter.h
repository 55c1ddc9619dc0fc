/*
 * meter.h - one interface over every energy source.
 *
 * A meter has one or more domains (package-0, dram, psys, board, ...). It is
 * either
 *   - an energy counter (RAPL, perf power PMU): sample() returns, per domain,
 *     the joules accumulated since the meter was opened, with counter wrap
 *     already unfolded; or
 *   - a power sensor (INA219): sample() returns, per domain, watts now; the
 *     sampler turns those into joules by trapezoid integration over its own
 *     timestamps.
 * Some domains lie inside others (RAPL core inside package); `in_total` says
 * which domains add up to the meter's total without double counting.
 *
 * Life cycle: tb_meter_open_*() -> tb_meter_sample() ... -> tb_meter_close().
 * Estimates are not meters: see estimate.h.
 */
#ifndef TB_METER_H
#define TB_METER_H

#include <stdbool.h>
#include <stdint.h>

#include "tb_error.h"

enum { TB_METER_MAX_DOMAINS = 16 };

typedef enum tb_meter_kind {
    TB_METER_RAPL,
    TB_METER_PERF_POWER,
    TB_METER_INA219,       /* hwmon ina2xx driver */
    TB_METER_INA219_I2C,   /* raw /dev/i2c-N */
    TB_METER_KIND_COUNT
} tb_meter_kind;

const char *tb_meter_kind_name(tb_meter_kind k);
/* Parses "rapl", "perf-power", "ina219", "ina219-i2c". */
int tb_meter_kind_parse(const char *s, tb_meter_kind *out);

typedef struct tb_meter_domain {
    char name[32];
    bool in_total;          /* counted in the meter's total */
} tb_meter_domain;

/* What one sample() call says about each domain. */
typedef struct tb_meter_sample {
    double value[TB_METER_MAX_DOMAINS];  /* joules so far, or watts now */
    bool valid[TB_METER_MAX_DOMAINS];    /* false: this domain had no fresh, usable value */
    uint32_t flags[TB_METER_MAX_DOMAINS];
} tb_meter_sample;

enum tb_sample_flag {
    TB_SAMPLE_WRAPPED = 1u << 0,       /* the counter wrapped since the last sample */
    TB_SAMPLE_WRAP_UNSURE = 1u << 1,   /* so long since the last sample that a second wrap may be hidden */
    TB_SAMPLE_OVERFLOW = 1u << 2,      /* the sensor reported a math overflow: value unusable */
    TB_SAMPLE_NOT_READY = 1u << 3,     /* the sensor had no new conversion */
};

typedef struct tb_meter tb_meter;

typedef struct tb_meter_ops {
    /* now_s: the sampler's monotonic time, for wrap and rate checks. */
    int (*sample)(tb_meter *m, double now_s, tb_meter_sample *out, tb_error *err);
    void (*close)(tb_meter *m);
} tb_meter_ops;

struct tb_meter {
    const tb_meter_ops *ops;
    tb_meter_kind kind;
    bool is_power;              /* samples are watts (integrate) rather than joules */
    int ndomains;
    tb_meter_domain domain[TB_METER_MAX_DOMAINS];
    double resolution_j;        /* smallest energy step (counters) or 0 */
    double resolution_w;        /* smallest power step (sensors) or 0 */
    double default_interval_s;  /* how often the sampler should read it */
    char source[256];           /* where it reads from, for the report */
    void *impl;
};

static inline int tb_meter_sample_now(tb_meter *m, double now_s, tb_meter_sample *out,
                                      tb_error *err)
{
    return m->ops->sample(m, now_s, out, err);
}

/* Frees everything; m itself too. NULL is fine. */
void tb_meter_close(tb_meter *m);

/* Allocates a meter with no domains yet; used by the back ends. */
tb_meter *tb_meter_new(tb_meter_kind kind, const tb_meter_ops *ops, void *impl);
int tb_meter_add_domain(tb_meter *m, const char *name, bool in_total);

/* ---- the back ends ---------------------------------------------------- */

/* RAPL through powercap under sysfs_root (NULL: TERNBENCH_SYSFS_ROOT or /sys). */
int tb_meter_open_rapl(const char *sysfs_root, tb_meter **out, tb_error *err);

/* The perf power PMU. The syscall is injectable for tests (NULL: the real one). */
typedef struct tb_perf_io {
    int (*open)(void *ctx, uint32_t type, uint64_t config, int cpu);  /* fd or -errno */
    int (*read)(void *ctx, int fd, uint64_t *count);                  /* 0 or -errno */
    void (*close)(void *ctx, int fd);
    void *ctx;
} tb_perf_io;
int tb_meter_open_perf_power(const char *sysfs_root, const tb_perf_io *io, tb_meter **out,
                             tb_error *err);

/* INA219 behind the hwmon ina2xx driver; device NULL: the first one found. */
int tb_meter_open_ina219_hwmon(const char *sysfs_root, const char *device, tb_meter **out,
                               tb_error *err);

/* Register access to an INA219 on a bus; injectable for tests. */
typedef struct tb_i2c_io {
    int (*read_reg)(void *ctx, uint8_t reg, uint16_t *value);   /* 0 or -errno */
    int (*write_reg)(void *ctx, uint8_t reg, uint16_t value);   /* 0 or -errno */
    void (*close)(void *ctx);
    void *ctx;
} tb_i2c_io;

typedef struct tb_ina219_config {
    double shunt_ohms;        /* e.g. 0.1 on common breakout boards */
    double max_current_a;     /* the largest current expected, sets the LSB */
    double bus_volts_max;     /* 16 or 32: the bus voltage range */
    int adc_samples;          /* averaging: 1, 2, 4, ... 128 */
} tb_ina219_config;

/* The calibration the datasheet's procedure gives for cfg. */
typedef struct tb_ina219_calibration {
    double current_lsb_a;
    double power_lsb_w;
    uint16_t calibration;     /* register 0x05 */
    uint16_t config;          /* register 0x00 */
    double conversion_s;      /* time for one bus + shunt conversion */
} tb_ina219_calibration;
int tb_ina219_calibrate(const tb_ina219_config *cfg, tb_ina219_calibration *cal, tb_error *err);

/* Opens /dev/i2c-BUS (under dev_root, NULL: /dev) at address 0x40-0x4F, or
 * uses io when not NULL. Programs configuration and calibration. */
int tb_meter_open_ina219_i2c(const char *dev_root, int bus, int address,
                             const tb_ina219_config *cfg, const tb_i2c_io *io,
                             tb_meter **out, tb_error *err);

/* Opens the first source that works in the order of preference:
 * rapl, perf-power, ina219 (hwmon). Raw I2C is never opened automatically:
 * writing configuration to an unknown bus device is not safe. On failure err
 * explains every source's problem. */
int tb_meter_open_auto(const char *sysfs_root, tb_meter **out, tb_error *err);

#endif
