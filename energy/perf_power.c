/*
 * perf_power.c - RAPL through the perf_event `power` PMU.
 *
 * sysfs describes the PMU: power/type (the perf type number), power/cpumask
 * (one CPU per package to open package-wide events on), and for each event
 * events/energy-X (its config, "event=0x02"), events/energy-X.scale (joules
 * per count) and events/energy-X.unit ("Joules"). The counts are 64-bit and
 * cumulative since open, so no wrap handling is needed here.
 */
#include <errno.h>
#include <dirent.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "meters.h"
#include "sources.h"
#include "tb_file.h"

typedef struct perf_counter {
    int fd;
    double scale;   /* joules per count */
    uint64_t first;
    bool started;
} perf_counter;

typedef struct perf_impl {
    tb_perf_io io;
    int n;
    perf_counter c[TB_METER_MAX_DOMAINS];
} perf_impl;

static int real_open(void *ctx, uint32_t type, uint64_t config, int cpu)
{
    (void)ctx;
    return tb_perf_event_open(type, config, 0, -1, cpu);
}

static int real_read(void *ctx, int fd, uint64_t *count)
{
    (void)ctx;
    /* read(), not pread(): a perf event fd has no file position and pread()
     * fails with ESPIPE (seen on the first machine with a power PMU) */
    ssize_t got = read(fd, count, sizeof *count);
    return got == (ssize_t)sizeof *count ? 0 : -(got < 0 ? errno : EIO);
}

static void real_close(void *ctx, int fd)
{
    (void)ctx;
    close(fd);
}

static const tb_perf_io real_io = {real_open, real_read, real_close, NULL};

static int perf_sample(tb_meter *m, double now_s, tb_meter_sample *out, tb_error *err)
{
    (void)now_s;
    perf_impl *p = m->impl;
    for (int i = 0; i < p->n; i++) {
        uint64_t count;
        int rc = p->io.read(p->io.ctx, p->c[i].fd, &count);
        if (rc < 0)
            return tb_error_set(err, TB_EIO, "reading perf power event %s: %s",
                                m->domain[i].name, strerror(-rc));
        if (!p->c[i].started) {
            p->c[i].first = count;
            p->c[i].started = true;
        }
        out->value[i] = (double)(count - p->c[i].first) * p->c[i].scale;
        out->valid[i] = true;
        out->flags[i] = 0;
    }
    return TB_OK;
}

static void perf_close(tb_meter *m)
{
    perf_impl *p = m->impl;
    for (int i = 0; i < p->n; i++)
        p->io.close(p->io.ctx, p->c[i].fd);
    free(p);
}

static const tb_meter_ops perf_ops = {perf_sample, perf_close};

/* Parses "event=0x02" (optionally followed by ",umask=..") into a config. */
static bool parse_event_config(const char *text, uint64_t *config)
{
    const char *p = strstr(text, "event=");
    if (!p)
        return false;
    char *end;
    *config = strtoull(p + 6, &end, 0);
    return end != p + 6;
}

/* Parses a cpumask list such as "0" or "0,18" or "0-1". */
static int parse_cpus(const char *text, int *cpus, int cap)
{
    int n = 0;
    for (const char *p = text; *p && n < cap;) {
        char *end;
        long a = strtol(p, &end, 10);
        if (end == p)
            break;
        long b = a;
        if (*end == '-')
            b = strtol(end + 1, &end, 10);
        for (long c = a; c <= b && n < cap; c++)
            cpus[n++] = (int)c;
        p = *end == ',' ? end + 1 : end;
        if (*end != ',')
            break;
    }
    return n;
}

int tb_meter_open_perf_power(const char *sysfs_root, const tb_perf_io *io, tb_meter **out,
                             tb_error *err)
{
    const char *root = sysfs_root ? sysfs_root : tb_sysfs_root();
    char dir[512], path[700], text[128];
    snprintf(dir, sizeof dir, "%s/bus/event_source/devices/power", root);
    uint64_t type;
    snprintf(path, sizeof path, "%s/type", dir);
    if (tb_file_read_u64(path, &type, NULL) != TB_OK)
        return tb_error_set(err, TB_ENOTSUP, "no perf power PMU (%s is missing): the kernel's "
                            "RAPL perf driver is absent or the CPU/hypervisor hides RAPL", path);
    int cpus[64], ncpu = 1;
    cpus[0] = 0;
    snprintf(path, sizeof path, "%s/cpumask", dir);
    if (tb_file_read_text(path, text, sizeof text, NULL) > 0)
        ncpu = parse_cpus(text, cpus, 64);
    if (ncpu <= 0) {
        ncpu = 1;
        cpus[0] = 0;
    }

    static const char *const events[] = {"energy-psys", "energy-pkg", "energy-ram",
                                         "energy-cores", "energy-gpu"};
    perf_impl *p = calloc(1, sizeof *p);
    tb_meter *m = p ? tb_meter_new(TB_METER_PERF_POWER, &perf_ops, p) : NULL;
    if (!m) {
        free(p);
        return tb_error_set(err, TB_ENOMEM, "out of memory opening the perf power PMU");
    }
    p->io = io ? *io : real_io;
    m->default_interval_s = 0.05; /* 64-bit counts: only the run's ends matter */
    snprintf(m->source, sizeof m->source, "%s", dir);
    bool have_psys = false;
    for (size_t e = 0; e < sizeof events / sizeof events[0]; e++) {
        uint64_t config;
        snprintf(path, sizeof path, "%s/events/%s", dir, events[e]);
        if (tb_file_read_text(path, text, sizeof text, NULL) < 0)
            continue;
        if (!parse_event_config(text, &config)) {
            tb_meter_close(m);
            return tb_error_set(err, TB_EINVAL, "%s: expected \"event=0x..\", found \"%s\"",
                                path, text);
        }
        double scale = 1.0;
        snprintf(path, sizeof path, "%s/events/%s.scale", dir, events[e]);
        if (tb_file_read_text(path, text, sizeof text, NULL) > 0) {
            char *end;
            scale = strtod(text, &end);
            if (end == text || scale <= 0) {
                tb_meter_close(m);
                return tb_error_set(err, TB_EINVAL, "%s: expected a positive number, found \"%s\"",
                                    path, text);
            }
        }
        snprintf(path, sizeof path, "%s/events/%s.unit", dir, events[e]);
        if (tb_file_read_text(path, text, sizeof text, NULL) > 0 && strcmp(text, "Joules") != 0) {
            tb_meter_close(m);
            return tb_error_set(err, TB_EINVAL, "%s: unit \"%s\" is not Joules", path, text);
        }
        bool psys = e == 0;
        have_psys |= psys;
        for (int c = 0; c < ncpu && p->n < TB_METER_MAX_DOMAINS; c++) {
            int fd = p->io.open(p->io.ctx, (uint32_t)type, config, cpus[c]);
            if (fd < 0) {
                int e_no = -fd;
                tb_meter_close(m);
                if (e_no == EACCES || e_no == EPERM)
                    return tb_error_set(err, TB_EPERM,
                                        "opening %s on cpu %d: permission denied; power events are "
                                        "system-wide: `sudo sysctl kernel.perf_event_paranoid=0`, "
                                        "grant CAP_PERFMON, or run as root",
                                        events[e], cpus[c]);
                return tb_error_set(err, TB_EIO, "opening %s on cpu %d: %s", events[e], cpus[c],
                                    strerror(e_no));
            }
            p->c[p->n] = (perf_counter){.fd = fd, .scale = scale};
            char name[32];
            if (ncpu > 1)
                snprintf(name, sizeof name, "%s@cpu%d", events[e], cpus[c]);
            else
                snprintf(name, sizeof name, "%s", events[e]);
            bool ram = strcmp(events[e], "energy-ram") == 0;
            bool pkg = strcmp(events[e], "energy-pkg") == 0;
            tb_meter_add_domain(m, name, have_psys ? psys : (pkg || ram));
            p->n++;
        }
        if (m->resolution_j == 0 || scale < m->resolution_j)
            m->resolution_j = scale;
    }
    if (p->n == 0) {
        tb_meter_close(m);
        return tb_error_set(err, TB_ENOTSUP, "the perf power PMU at %s lists no energy events",
                            dir);
    }
    *out = m;
    return TB_OK;
}
