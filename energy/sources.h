/*
 * sources.h - what energy sources this machine exposes, and why not.
 *
 * A probe walks the places Linux publishes energy and power readings:
 *   rapl        /sys/class/powercap/<zone>/energy_uj   (Intel and AMD RAPL)
 *   perf-power  /sys/bus/event_source/devices/power/   (the perf power PMU)
 *   ina219      /sys/class/hwmon/hwmonN, name ina2xx    (Linux ina2xx driver)
 *   ina219-i2c  /dev/i2c-N                              (raw INA219 on an I2C bus)
 * and reports every source it finds with a state, or one "absent" entry per
 * kind with what would make it appear. Nothing here reads energy; the meters
 * do. The sysfs and /dev roots are parameters so tests can use fake trees.
 */
#ifndef TB_ENERGY_SOURCES_H
#define TB_ENERGY_SOURCES_H

#include <stddef.h>
#include <stdint.h>

typedef enum tb_source_state {
    TB_SOURCE_PRESENT,        /* found and readable */
    TB_SOURCE_ABSENT,         /* not on this machine */
    TB_SOURCE_NO_PERMISSION,  /* found, but this user may not read it */
    TB_SOURCE_BROKEN,         /* found, but what it holds makes no sense */
} tb_source_state;

typedef struct tb_energy_source {
    char kind[16];     /* "rapl", "perf-power", "ina219", "ina219-i2c" */
    char name[64];     /* "package-0", "energy-pkg", "hwmon2 (ina219)", "i2c-1" */
    char path[512];    /* the file or directory it lives at; "" when absent */
    tb_source_state state;
    char detail[512];  /* why it is absent or unreadable, and the fix */
} tb_energy_source;

/* Where to look. NULL members mean the defaults: TERNBENCH_SYSFS_ROOT or
 * "/sys"; "/dev"; /proc/sys/kernel/perf_event_paranoid. */
typedef struct tb_probe_roots {
    const char *sysfs;
    const char *dev;
    const char *paranoid_file;
} tb_probe_roots;

/* The sysfs root in force: TERNBENCH_SYSFS_ROOT if set, else "/sys". */
const char *tb_sysfs_root(void);

/* Fills up to cap entries and returns how many were written. */
int tb_energy_probe(const tb_probe_roots *roots, tb_energy_source *out, int cap);

const char *tb_source_state_name(tb_source_state s);

/* The perf_event_paranoid level, or -100 if it cannot be read. */
int tb_perf_paranoid(const char *paranoid_file);

/* perf_event_open(2) for one counter. A system-wide counter (the power PMU)
 * takes pid -1 and a cpu; a thread's counter takes its tid and cpu -1, and
 * starts disabled, counting user space only. Returns the fd or -errno. */
int tb_perf_event_open(uint32_t type, uint64_t config, uint64_t config1, int pid, int cpu);

/* A thread's counter as above whose read(2) gives three values: the count,
 * and the nanoseconds it was enabled and running (PERF_FORMAT_TOTAL_TIME_*),
 * so that a multiplexed count can be scaled. */
int tb_perf_event_open_timed(uint32_t type, uint64_t config, uint64_t config1, int tid);

#endif
