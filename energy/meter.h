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
 * Life cycle: tb_meter_open_*() (meters.h) -> tb_meter_sample() ... ->
 * tb_meter_close(). This header is the interface alone: the back ends build
 * on it, and meters.h opens them. Estimates are not meters: see estimate.h.
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

#endif
