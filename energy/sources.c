/* sources.c - energy source discovery; see sources.h. */
#include "sources.h"

#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tb_file.h"

const char *tb_sysfs_root(void)
{
    const char *env = getenv("TERNBENCH_SYSFS_ROOT");
    return env && env[0] ? env : "/sys";
}

const char *tb_source_state_name(tb_source_state s)
{
    switch (s) {
    case TB_SOURCE_PRESENT: return "present";
    case TB_SOURCE_ABSENT: return "absent";
    case TB_SOURCE_NO_PERMISSION: return "no-permission";
    case TB_SOURCE_BROKEN: return "broken";
    }
    return "?";
}

int tb_perf_paranoid(const char *paranoid_file)
{
    char text[32];
    const char *path = paranoid_file ? paranoid_file : "/proc/sys/kernel/perf_event_paranoid";
    if (tb_file_read_text(path, text, sizeof text, NULL) < 0)
        return -100;
    char *end;
    long v = strtol(text, &end, 10);
    return (end == text) ? -100 : (int)v;
}

static int open_event(uint32_t type, uint64_t config, uint64_t config1, int pid, int cpu,
                      uint64_t read_format)
{
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = type;
    attr.config = config;
    attr.config1 = config1;
    attr.read_format = read_format;
    if (pid >= 0) {
        attr.disabled = 1;
        attr.exclude_kernel = 1;
        attr.exclude_hv = 1;
    }
    int fd = (int)syscall(SYS_perf_event_open, &attr, pid, cpu, -1, 0);
    return fd < 0 ? -errno : fd;
}

int tb_perf_event_open(uint32_t type, uint64_t config, uint64_t config1, int pid, int cpu)
{
    return open_event(type, config, config1, pid, cpu, 0);
}

int tb_perf_event_open_timed(uint32_t type, uint64_t config, uint64_t config1, int tid)
{
    return open_event(type, config, config1, tid, -1,
                      PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING);
}

typedef struct probe {
    tb_energy_source *out;
    int cap, n;
} probe;

static tb_energy_source *add(probe *p, const char *kind, tb_source_state state)
{
    if (p->n >= p->cap)
        return NULL;
    tb_energy_source *s = &p->out[p->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->kind, sizeof s->kind, "%s", kind);
    s->state = state;
    return s;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists dir's entries whose names start with prefix, sorted; caller frees. */
static int list_dir(const char *dir, const char *prefix, char ***names)
{
    *names = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(*names, (size_t)cap * sizeof **names);
            if (!grown)
                break;
            *names = grown;
        }
        (*names)[n] = strdup(e->d_name);
        if ((*names)[n])
            n++;
    }
    closedir(d);
    if (n > 1)
        qsort(*names, (size_t)n, sizeof **names, name_cmp);
    return n;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static const char rapl_fix[] =
    "energy_uj is readable by root only (Linux 5.10+, CVE-2020-8694): run ternbench as root, "
    "or `sudo chmod o+r /sys/class/powercap/*/energy_uj` (a udev rule keeps it across boots), "
    "or use --meter perf-power with `sudo sysctl kernel.perf_event_paranoid=0`";

static void probe_rapl(probe *p, const char *sysfs)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/class/powercap", sysfs);
    char **names;
    int n = list_dir(dir, "", &names);
    int found = 0;
    for (int i = 0; i < n; i++) {
        char zone[600], file[700], name[64];
        snprintf(zone, sizeof zone, "%s/%s", dir, names[i]);
        snprintf(file, sizeof file, "%s/energy_uj", zone);
        if (access(file, F_OK) != 0)
            continue; /* a control type such as "intel-rapl", not a zone */
        found++;
        snprintf(file, sizeof file, "%s/name", zone);
        if (tb_file_read_text(file, name, sizeof name, NULL) < 0)
            snprintf(name, sizeof name, "%s", names[i]);
        uint64_t uj;
        tb_error err;
        snprintf(file, sizeof file, "%s/energy_uj", zone);
        int rc = tb_file_read_u64(file, &uj, &err);
        tb_source_state st = rc == 0 ? TB_SOURCE_PRESENT
                             : rc == TB_EPERM ? TB_SOURCE_NO_PERMISSION : TB_SOURCE_BROKEN;
        tb_energy_source *s = add(p, "rapl", st);
        if (!s)
            break;
        snprintf(s->name, sizeof s->name, "%s", name);
        snprintf(s->path, sizeof s->path, "%s", zone);
        if (st == TB_SOURCE_NO_PERMISSION)
            snprintf(s->detail, sizeof s->detail, "%s", rapl_fix);
        else if (st == TB_SOURCE_BROKEN)
            snprintf(s->detail, sizeof s->detail, "%s", err.text);
        else
            snprintf(s->detail, sizeof s->detail, "zone %s", names[i]);
    }
    free_names(names, n);
    if (found == 0) {
        tb_energy_source *s = add(p, "rapl", TB_SOURCE_ABSENT);
        if (s)
            snprintf(s->detail, sizeof s->detail,
                     "no powercap zone with energy_uj under %s: the kernel exposes no RAPL here "
                     "(virtual machines usually hide it; on bare metal load the intel_rapl_msr "
                     "module, which also serves AMD Zen)", dir);
    }
}

static void probe_perf_power(probe *p, const char *sysfs, const char *paranoid_file)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/bus/event_source/devices/power/events", sysfs);
    char **names;
    int n = list_dir(dir, "energy-", &names);
    int paranoid = tb_perf_paranoid(paranoid_file);
    bool allowed = paranoid <= 0 || geteuid() == 0;
    int found = 0;
    for (int i = 0; i < n; i++) {
        if (strchr(names[i], '.'))
            continue; /* energy-pkg.scale, energy-pkg.unit */
        found++;
        tb_energy_source *s = add(p, "perf-power", allowed ? TB_SOURCE_PRESENT
                                                           : TB_SOURCE_NO_PERMISSION);
        if (!s)
            break;
        snprintf(s->name, sizeof s->name, "%s", names[i]);
        snprintf(s->path, sizeof s->path, "%s/%s", dir, names[i]);
        if (!allowed)
            snprintf(s->detail, sizeof s->detail,
                     "system-wide power events need CAP_PERFMON or perf_event_paranoid <= 0 "
                     "(it is %d): `sudo sysctl kernel.perf_event_paranoid=0`, or run as root",
                     paranoid);
    }
    free_names(names, n);
    if (found == 0) {
        tb_energy_source *s = add(p, "perf-power", TB_SOURCE_ABSENT);
        if (s)
            snprintf(s->detail, sizeof s->detail,
                     "no perf power PMU (%s is missing): the kernel's RAPL perf driver is not "
                     "loaded or the CPU/hypervisor does not expose RAPL", dir);
    }
}

static bool is_ina_name(const char *name)
{
    static const char *const chips[] = {"ina209", "ina219", "ina220", "ina226",
                                        "ina230", "ina231", "ina238", "ina260"};
    for (size_t i = 0; i < sizeof chips / sizeof chips[0]; i++)
        if (strcmp(name, chips[i]) == 0)
            return true;
    return false;
}

static void probe_hwmon(probe *p, const char *sysfs)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/class/hwmon", sysfs);
    char **names;
    int n = list_dir(dir, "hwmon", &names);
    int found = 0;
    for (int i = 0; i < n; i++) {
        char file[700], chip[64];
        snprintf(file, sizeof file, "%s/%s/name", dir, names[i]);
        if (tb_file_read_text(file, chip, sizeof chip, NULL) < 0 || !is_ina_name(chip))
            continue;
        found++;
        uint64_t v;
        tb_error err;
        snprintf(file, sizeof file, "%s/%s/power1_input", dir, names[i]);
        int rc = tb_file_read_u64(file, &v, &err);
        if (rc == TB_EIO) { /* no power1_input: bus voltage x current will do */
            snprintf(file, sizeof file, "%s/%s/curr1_input", dir, names[i]);
            rc = tb_file_read_u64(file, &v, &err);
        }
        tb_source_state st = rc == 0 ? TB_SOURCE_PRESENT
                             : rc == TB_EPERM ? TB_SOURCE_NO_PERMISSION : TB_SOURCE_BROKEN;
        tb_energy_source *s = add(p, "ina219", st);
        if (!s)
            break;
        snprintf(s->name, sizeof s->name, "%s (%s)", names[i], chip);
        snprintf(s->path, sizeof s->path, "%s/%s", dir, names[i]);
        if (st != TB_SOURCE_PRESENT)
            snprintf(s->detail, sizeof s->detail, "%s%s", err.text,
                     st == TB_SOURCE_NO_PERMISSION ? " (run as root or chmod o+r the file)" : "");
    }
    free_names(names, n);
    if (found == 0) {
        tb_energy_source *s = add(p, "ina219", TB_SOURCE_ABSENT);
        if (s)
            snprintf(s->detail, sizeof s->detail,
                     "no hwmon device named ina2xx under %s: wire an INA219 and bind the "
                     "ina2xx driver (README: \"Measuring with an INA219\")", dir);
    }
}

static void probe_i2c(probe *p, const char *dev)
{
    char **names;
    int n = list_dir(dev, "i2c-", &names);
    for (int i = 0; i < n; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dev, names[i]);
        bool ok = access(path, R_OK | W_OK) == 0;
        tb_energy_source *s = add(p, "ina219-i2c", ok ? TB_SOURCE_PRESENT : TB_SOURCE_NO_PERMISSION);
        if (!s)
            break;
        snprintf(s->name, sizeof s->name, "%s", names[i]);
        snprintf(s->path, sizeof s->path, "%s", path);
        snprintf(s->detail, sizeof s->detail, "%s",
                 ok ? "an I2C bus; an INA219 answers at 0x40-0x4F if wired "
                      "(--meter ina219-i2c --i2c-address 0x40)"
                    : "no read/write access: add the user to group i2c or run as root");
    }
    free_names(names, n);
    if (n == 0) {
        tb_energy_source *s = add(p, "ina219-i2c", TB_SOURCE_ABSENT);
        if (s)
            snprintf(s->detail, sizeof s->detail,
                     "no %s/i2c-* device: enable I2C (Raspberry Pi: `sudo raspi-config nonint "
                     "do_i2c 0`) and load i2c-dev", dev);
    }
}

int tb_energy_probe(const tb_probe_roots *roots, tb_energy_source *out, int cap)
{
    const char *sysfs = roots && roots->sysfs ? roots->sysfs : tb_sysfs_root();
    const char *dev = roots && roots->dev ? roots->dev : "/dev";
    probe p = {out, cap, 0};
    probe_rapl(&p, sysfs);
    probe_perf_power(&p, sysfs, roots ? roots->paranoid_file : NULL);
    probe_hwmon(&p, sysfs);
    probe_i2c(&p, dev);
    return p.n;
}
