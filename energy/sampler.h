/*
 * sampler.h - reads a meter at a fixed interval and turns the readings into
 * joules per domain over a window.
 *
 * Energy counters: joules = last reading - first reading (wraps are unfolded
 * by the meter; frequent sampling is what keeps a wrap from hiding).
 * Power sensors: joules = trapezoid integral of the valid samples over the
 * sampler's timestamps; samples without a new conversion are skipped and
 * overflowed ones are counted and reported, never used.
 *
 * Two ways to drive it: tb_sampler_start()/tb_sampler_stop() run a thread on
 * the monotonic clock; tb_sampler_begin()/step()/end() take the times from
 * the caller, which is how the tests script a meter exactly.
 */
#ifndef TB_SAMPLER_H
#define TB_SAMPLER_H

#include "meter.h"
#include "tb_time.h"

typedef struct tb_energy_result {
    int ndomains;
    tb_meter_domain domain[TB_METER_MAX_DOMAINS];
    double joules[TB_METER_MAX_DOMAINS];
    double total_j;            /* sum over in_total domains */
    double seconds;            /* window length */
    double interval_s;         /* requested sampling interval */
    int samples;               /* sample() calls in the window */
    int used[TB_METER_MAX_DOMAINS];        /* valid readings that entered the result */
    int wraps[TB_METER_MAX_DOMAINS];
    int wrap_unsure[TB_METER_MAX_DOMAINS]; /* intervals where a wrap may be hidden or lost */
    int overflows[TB_METER_MAX_DOMAINS];   /* INA219 samples dropped for math overflow */
    int not_ready[TB_METER_MAX_DOMAINS];
    double max_stall_s[TB_METER_MAX_DOMAINS]; /* longest time a counter did not move */
    double max_gap_s;          /* longest time between two samples */
} tb_energy_result;

typedef struct tb_sampler tb_sampler;

/* interval_s <= 0 means the meter's default. The meter stays the caller's. */
tb_sampler *tb_sampler_new(tb_meter *m, double interval_s);
void tb_sampler_free(tb_sampler *s);

int tb_sampler_begin(tb_sampler *s, double now_s, tb_error *err);
int tb_sampler_step(tb_sampler *s, double now_s, tb_error *err);
int tb_sampler_end(tb_sampler *s, double now_s, tb_energy_result *res, tb_error *err);

int tb_sampler_start(tb_sampler *s, tb_error *err);
int tb_sampler_stop(tb_sampler *s, tb_energy_result *res, tb_error *err);


/* A line per problem the result carries (wraps unsure, overflows, stalls),
 * written into buf; returns how many problems were found. */
int tb_energy_result_warnings(const tb_energy_result *r, char *buf, size_t cap);

#endif
