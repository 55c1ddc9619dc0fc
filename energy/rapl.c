/*
 * rapl.c - RAPL energy counters through the powercap sysfs interface.
 *
 * Each zone's energy_uj is a counter in microjoules that wraps to 0 at
 * max_energy_range_uj. We unfold wraps by sampling often enough that at
 * most one can happen between two reads; when the time since the last read
 * exceeds the range divided by the zone's largest power, a second wrap could
 * hide there and the sample says so (TB_SAMPLE_WRAP_UNSURE).
 *
 * Totals without double counting: core, uncore (graphics) lie inside their
 * package; dram does not; psys covers the whole platform including the
 * packages. So the total is psys when present, else packages + dram.
 * intel-rapl-mmio zones repeat the MSR package zones and are used only when
 * the MSR ones are absent.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "meters.h"
#include "sources.h"
#include "tb_file.h"

/* Largest plausible power of a zone when it does not say (constraint_0_max_power_uw). */
#define RAPL_DEFAULT_MAX_W 500.0

typedef struct rapl_zone {
    char energy_path[600];
    uint64_t max_range_uj;      /* 0 when the file is missing */
    double wrap_guard_s;        /* min time for the counter to wrap at max power */
    uint64_t last_uj;
    double last_t;
    double acc_uj;              /* unfolded energy since open */
    bool started;
} rapl_zone;

typedef struct rapl_impl {
    int n;
    rapl_zone zone[TB_METER_MAX_DOMAINS];
} rapl_impl;

static int rapl_sample(tb_meter *m, double now_s, tb_meter_sample *out, tb_error *err)
{
    rapl_impl *r = m->impl;
    for (int i = 0; i < r->n; i++) {
        rapl_zone *z = &r->zone[i];
        uint64_t uj;
        int rc = tb_file_read_u64(z->energy_path, &uj, err);
        if (rc != TB_OK)
            return rc;
        out->flags[i] = 0;
        bool had_prev = z->started;
        if (!z->started) {
            z->started = true;
        } else if (uj >= z->last_uj) {
            z->acc_uj += (double)(uj - z->last_uj);
        } else if (z->max_range_uj > 0 && z->last_uj <= z->max_range_uj) {
            z->acc_uj += (double)(z->max_range_uj - z->last_uj) + (double)uj;
            out->flags[i] |= TB_SAMPLE_WRAPPED;
        } else {
            /* Went backwards with no known range: this interval is lost. */
            out->flags[i] |= TB_SAMPLE_WRAP_UNSURE;
        }
        if (had_prev && now_s - z->last_t > z->wrap_guard_s)
            out->flags[i] |= TB_SAMPLE_WRAP_UNSURE;
        z->last_uj = uj;
        z->last_t = now_s;
        out->value[i] = z->acc_uj * 1e-6;
        out->valid[i] = true;
    }
    return TB_OK;
}

static void rapl_close(tb_meter *m)
{
    free(m->impl);
}

static const tb_meter_ops rapl_ops = {rapl_sample, rapl_close};

typedef struct zone_entry {
    char dir[64];     /* intel-rapl:0:1 */
    char name[32];    /* core */
    int depth;        /* 0 top-level zone, 1 subzone */
    bool mmio;
} zone_entry;

static int zone_cmp(const void *a, const void *b)
{
    return strcmp(((const zone_entry *)a)->dir, ((const zone_entry *)b)->dir);
}

int tb_meter_open_rapl(const char *sysfs_root, tb_meter **out, tb_error *err)
{
    const char *root = sysfs_root ? sysfs_root : tb_sysfs_root();
    char base[512];
    snprintf(base, sizeof base, "%s/class/powercap", root);
    DIR *d = opendir(base);
    if (!d)
        return tb_error_set(err, TB_ENOTSUP, "%s does not exist: the kernel exposes no RAPL "
                            "(virtual machines usually hide it)", base);
    zone_entry zones[64];
    int nz = 0;
    for (struct dirent *e; (e = readdir(d)) && nz < 64;) {
        bool msr = strncmp(e->d_name, "intel-rapl:", 11) == 0;
        bool mmio = strncmp(e->d_name, "intel-rapl-mmio:", 16) == 0;
        if (!msr && !mmio)
            continue;
        zone_entry *z = &zones[nz];
        snprintf(z->dir, sizeof z->dir, "%s", e->d_name);
        z->mmio = mmio;
        z->depth = 0;
        for (const char *p = strchr(e->d_name, ':') + 1; *p; p++)
            z->depth += *p == ':';
        char path[700];
        snprintf(path, sizeof path, "%s/%s/name", base, e->d_name);
        if (tb_file_read_text(path, z->name, sizeof z->name, NULL) < 0)
            snprintf(z->name, sizeof z->name, "%s", e->d_name);
        nz++;
    }
    closedir(d);
    if (nz == 0)
        return tb_error_set(err, TB_ENOTSUP, "no RAPL zone under %s", base);
    qsort(zones, (size_t)nz, sizeof zones[0], zone_cmp);

    bool have_psys = false;
    for (int i = 0; i < nz; i++)
        have_psys |= zones[i].depth == 0 && strcmp(zones[i].name, "psys") == 0;

    rapl_impl *r = calloc(1, sizeof *r);
    tb_meter *m = r ? tb_meter_new(TB_METER_RAPL, &rapl_ops, r) : NULL;
    if (!m) {
        free(r);
        return tb_error_set(err, TB_ENOMEM, "out of memory opening RAPL");
    }
    m->resolution_j = 1e-6;
    m->default_interval_s = 0.005;
    snprintf(m->source, sizeof m->source, "%s", base);
    for (int i = 0; i < nz && r->n < TB_METER_MAX_DOMAINS; i++) {
        zone_entry *z = &zones[i];
        if (z->mmio) { /* skip when an MSR zone of the same name exists */
            bool dup = false;
            for (int j = 0; j < nz; j++)
                dup |= !zones[j].mmio && strcmp(zones[j].name, z->name) == 0;
            if (dup)
                continue;
        }
        rapl_zone *rz = &r->zone[r->n];
        char path[700];
        snprintf(rz->energy_path, sizeof rz->energy_path, "%s/%s/energy_uj", base, z->dir);
        uint64_t probe_uj;
        int rc = tb_file_read_u64(rz->energy_path, &probe_uj, err);
        if (rc == TB_EPERM)
            tb_error_set(err, TB_EPERM,
                         "%s is not readable: energy_uj is root-only since Linux 5.10; "
                         "run as root, or `sudo chmod o+r /sys/class/powercap/*/energy_uj` "
                         "(a udev rule keeps it), or use --meter perf-power with "
                         "`sudo sysctl kernel.perf_event_paranoid=0`", rz->energy_path);
        if (rc != TB_OK) {
            tb_meter_close(m); /* frees rz: the message is already written */
            return rc;
        }
        snprintf(path, sizeof path, "%s/%s/max_energy_range_uj", base, z->dir);
        if (tb_file_read_u64(path, &rz->max_range_uj, NULL) != TB_OK)
            rz->max_range_uj = 0;
        uint64_t max_uw = 0;
        snprintf(path, sizeof path, "%s/%s/constraint_0_max_power_uw", base, z->dir);
        double max_w = tb_file_read_u64(path, &max_uw, NULL) == TB_OK && max_uw > 0
                           ? (double)max_uw * 1e-6 : RAPL_DEFAULT_MAX_W;
        rz->wrap_guard_s = rz->max_range_uj ? (double)rz->max_range_uj * 1e-6 / max_w : 1e30;

        char dname[32];
        if (z->depth == 0)
            snprintf(dname, sizeof dname, "%s", z->name);
        else { /* name it after its package: package-0/core */
            char parent[64], pname[32] = "";
            snprintf(parent, sizeof parent, "%s", z->dir);
            *strrchr(parent, ':') = '\0';
            for (int j = 0; j < nz; j++)
                if (strcmp(zones[j].dir, parent) == 0)
                    snprintf(pname, sizeof pname, "%s", zones[j].name);
            snprintf(dname, sizeof dname, "%.15s/%.15s", pname[0] ? pname : parent, z->name);
        }
        bool is_psys = strcmp(z->name, "psys") == 0;
        bool is_dram = strcmp(z->name, "dram") == 0;
        bool in_total = have_psys ? is_psys : (z->depth == 0 || is_dram);
        tb_meter_add_domain(m, dname, in_total);
        r->n++;
    }
    *out = m;
    return TB_OK;
}
