/* sampler.c - see sampler.h. */
#include "sampler.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A counter that does not move for longer than this is reported as stalled. */
#define STALL_WARN_S 0.25
/* A meter none of whose counters moved for this long measured nothing at all
 * (seen: a VM's perf power PMU whose energy-psys reads a constant). */
#define FROZEN_S 0.5

struct tb_sampler {
    tb_meter *m;
    double interval_s;
    tb_energy_result res;
    double t0, t_last;
    double first[TB_METER_MAX_DOMAINS];   /* counters: first valid reading */
    double last[TB_METER_MAX_DOMAINS];    /* last valid reading */
    double last_t[TB_METER_MAX_DOMAINS];  /* when it was taken */
    double moved_t[TB_METER_MAX_DOMAINS]; /* counters: when the value last changed */
    bool have[TB_METER_MAX_DOMAINS];
    pthread_t thread;
    pthread_mutex_t lock;      /* one reading at a time: the thread's or the caller's */
    pthread_cond_t wake;       /* stop() wakes the thread from its sleep */
    bool stop;
    bool running;
    int thread_rc;
    tb_error thread_err;
};

tb_sampler *tb_sampler_new(tb_meter *m, double interval_s)
{
    tb_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->m = m;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* tb_now's clock */
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    s->interval_s = interval_s > 0 ? interval_s : m->default_interval_s;
    if (s->interval_s <= 0)
        s->interval_s = 0.005;
    return s;
}

void tb_sampler_free(tb_sampler *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(s);
}

static int take(tb_sampler *s, double now_s, tb_error *err)
{
    tb_meter_sample smp;
    memset(&smp, 0, sizeof smp);
    int rc = tb_meter_sample_now(s->m, now_s, &smp, err);
    if (rc != TB_OK)
        return rc;
    tb_energy_result *r = &s->res;
    r->samples++;
    if (r->samples > 1 && now_s - s->t_last > r->max_gap_s)
        r->max_gap_s = now_s - s->t_last;
    s->t_last = now_s;
    for (int i = 0; i < s->m->ndomains; i++) {
        uint32_t f = smp.flags[i];
        r->wraps[i] += (f & TB_SAMPLE_WRAPPED) != 0;
        r->wrap_unsure[i] += (f & TB_SAMPLE_WRAP_UNSURE) != 0;
        r->overflows[i] += (f & TB_SAMPLE_OVERFLOW) != 0;
        r->not_ready[i] += (f & TB_SAMPLE_NOT_READY) != 0;
        if (!smp.valid[i])
            continue;
        double v = smp.value[i];
        if (!s->have[i]) {
            s->first[i] = v;
            s->moved_t[i] = now_s;
            s->have[i] = true;
        } else if (s->m->is_power) {
            r->joules[i] += 0.5 * (s->last[i] + v) * (now_s - s->last_t[i]);
        } else if (v != s->last[i]) {
            s->moved_t[i] = now_s;
        }
        if (!s->m->is_power && now_s - s->moved_t[i] > r->max_stall_s[i])
            r->max_stall_s[i] = now_s - s->moved_t[i];
        s->last[i] = v;
        s->last_t[i] = now_s;
        r->used[i]++;
    }
    return TB_OK;
}

int tb_sampler_begin(tb_sampler *s, double now_s, tb_error *err)
{
    memset(&s->res, 0, sizeof s->res);
    memset(s->have, 0, sizeof s->have);
    s->res.ndomains = s->m->ndomains;
    memcpy(s->res.domain, s->m->domain, sizeof s->res.domain);
    s->res.interval_s = s->interval_s;
    s->t0 = now_s;
    return take(s, now_s, err);
}

int tb_sampler_step(tb_sampler *s, double now_s, tb_error *err)
{
    return take(s, now_s, err);
}

int tb_sampler_end(tb_sampler *s, double now_s, tb_energy_result *res, tb_error *err)
{
    int rc = take(s, now_s, err);
    if (rc != TB_OK)
        return rc;
    tb_energy_result *r = &s->res;
    r->seconds = now_s - s->t0;
    r->total_j = 0;
    bool frozen = !s->m->is_power && r->ndomains > 0 && r->seconds >= FROZEN_S;
    for (int i = 0; i < r->ndomains; i++) {
        if (!s->m->is_power)
            r->joules[i] = s->have[i] ? s->last[i] - s->first[i] : 0;
        if (r->domain[i].in_total)
            r->total_j += r->joules[i];
        frozen = frozen && s->have[i] && s->last[i] == s->first[i];
    }
    if (frozen) /* 0 J would be a lie: nothing was measured */
        return tb_error_set(err, TB_EIO, "%s: none of its energy counters moved in %.2f s (a "
                            "hypervisor that exposes the counters without values?): no energy "
                            "measured; use another meter (--meter) or none", s->m->source,
                            r->seconds);
    *res = *r;
    return TB_OK;
}

/* Sleeps until monotonic time `until` or a stop(); the lock is held. */
static void wait_until(tb_sampler *s, double until)
{
    struct timespec ts = {(time_t)until, (long)((until - (double)(time_t)until) * 1e9)};
    pthread_cond_timedwait(&s->wake, &s->lock, &ts);
}

static void *sampler_main(void *arg)
{
    tb_sampler *s = arg;
    pthread_mutex_lock(&s->lock);
    double next = tb_now() + s->interval_s;
    while (!s->stop) {
        double now = tb_now();
        if (now < next) {
            wait_until(s, next);
            continue;
        }
        next += s->interval_s;
        if (next < now) /* fell behind: do not burst to catch up */
            next = now + s->interval_s;
        if (take(s, now, &s->thread_err) != TB_OK) {
            s->thread_rc = s->thread_err.code;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int tb_sampler_start(tb_sampler *s, tb_error *err)
{
    int rc = tb_sampler_begin(s, tb_now(), err);
    if (rc != TB_OK)
        return rc;
    s->stop = false;
    s->thread_rc = TB_OK;
    if (pthread_create(&s->thread, NULL, sampler_main, s) != 0)
        return tb_error_set(err, TB_EIO, "cannot start the energy sampler thread");
    s->running = true;
    return TB_OK;
}

int tb_sampler_stop(tb_sampler *s, tb_energy_result *res, tb_error *err)
{
    if (!s->running)
        return tb_error_set(err, TB_EINVAL, "the energy sampler was not started");
    /* The window ends now, with the run: the last reading is taken here, not
     * at the thread's next tick (which would add up to one interval of
     * energy and time that the run did not use). */
    pthread_mutex_lock(&s->lock);
    double end = tb_now();
    int rc = s->thread_rc;
    if (rc == TB_OK)
        rc = tb_sampler_end(s, end, res, err);
    else if (err)
        *err = s->thread_err;
    s->stop = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    s->running = false;
    return rc;
}

int tb_energy_result_warnings(const tb_energy_result *r, char *buf, size_t cap)
{
    int n = 0;
    size_t used = 0;
    buf[0] = '\0';
#define ADD(...)                                                                     \
    do {                                                                             \
        int w = snprintf(buf + used, cap - used, __VA_ARGS__);                       \
        if (w > 0 && (size_t)w < cap - used)                                         \
            used += (size_t)w;                                                       \
        n++;                                                                         \
    } while (0)
    for (int i = 0; i < r->ndomains; i++) {
        const char *d = r->domain[i].name;
        if (r->wrap_unsure[i])
            ADD("%s: %d interval(s) where the counter may have wrapped more than once or "
                "went backwards without a known range: energy may be undercounted\n", d,
                r->wrap_unsure[i]);
        if (r->overflows[i])
            ADD("%s: %d sample(s) dropped for INA219 math overflow: the current exceeded "
                "--max-current; raise it (or use a smaller shunt)\n", d, r->overflows[i]);
        if (r->max_stall_s[i] > STALL_WARN_S)
            ADD("%s: the counter did not move for %.3f s: stale or stalled readings\n", d,
                r->max_stall_s[i]);
        if (r->used[i] < 2)
            ADD("%s: fewer than two usable readings: no energy for this window\n", d);
    }
#undef ADD
    return n;
}
