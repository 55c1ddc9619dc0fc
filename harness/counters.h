/*
 * counters.h - which hardware and software counters this machine can read.
 *
 * Three back ends, tried in order: PAPI (when built in), libpfm4 event
 * names through perf_event_open (when built in), and the kernel's generic
 * perf_event hardware/software events. Per-run counting uses libpfm4's
 * encodings of native event names where it can, else the generic events;
 * PAPI is probed only. The probe opens a real event of each
 * kind once and records, for each, whether it works and if not why, in
 * words a person can act on. A counter that cannot be read is reported as
 * unavailable with its reason; it is never shown as zero.
 */
#ifndef TB_COUNTERS_H
#define TB_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tb_counter_backend {
    const char *name;    /* "papi", "libpfm4", "perf_event-hw", "perf_event-sw" */
    bool built;          /* compiled into this binary */
    bool available;      /* an event opened and counted */
    char detail[512];    /* version / PMUs found, or why not and the fix */
} tb_counter_backend;

enum { TB_COUNTER_BACKENDS = 4 };

typedef struct tb_counters_report {
    int perf_event_paranoid;   /* -100 when unreadable */
    bool cpu_pmu_in_sysfs;     /* /sys/bus/event_source/devices/cpu exists */
    tb_counter_backend backend[TB_COUNTER_BACKENDS];
} tb_counters_report;

void tb_counters_probe(tb_counters_report *rep);

/* Process-wide software counters (all threads), from getrusage(2). */
typedef struct tb_usage {
    double cpu_s;              /* user + system CPU seconds */
    long context_switches;     /* voluntary + involuntary */
    long page_faults;          /* minor + major */
    double steal_s;            /* machine-wide, see tb_proc_stat_steal; -1 when unknown */
    double wait_s;             /* the threads' time on a run queue (ready, not running), summed,
                                * from /proc/self/task/N/schedstat; -1 when unknown */
} tb_usage;

/* The process's usage now; wait_s over the threads tids[0..n) (a pool's:
 * a meter's sampler thread waiting is not the pool's loss), or over every
 * thread of the process when n is 0. */
void tb_usage_now(tb_usage *u, const int *tids, int n);

/* /proc/stat counts steal in ticks of 1/USER_HZ (10 ms): one tick may be
 * rounding, so a run is charged only for steal beyond it. */
#define TB_STEAL_TICK_S 0.01

/* lost_s seconds as a share of what `over` CPUs or threads had in window_s:
 * 0 when nothing (or less than nothing) was lost, at most 1. */
double tb_lost_share(double lost_s, double window_s, double over);

/* The larger share of the time a run of `seconds` on `threads` threads (of
 * `cpus` on the machine) could have had that others took between u0 and u1:
 * the hypervisor's steal over every CPU, less one of /proc/stat's 10 ms
 * ticks, or the threads' waits for a CPU over the threads; 0 where neither
 * is known, at most 1. bench applies the same rule to its tries. */
double tb_usage_lost_share(const tb_usage *u0, const tb_usage *u1, double seconds, int threads,
                           int cpus);

/* Steal time from /proc/stat's text: the seconds, summed over all CPUs, that
 * a hypervisor ran something else while this guest's vCPUs wanted to run
 * (the aggregate "cpu" line's eighth value, in USER_HZ ticks: 10 ms steps).
 * -1 when the line or the field is missing (kernels before 2.6.11). */
double tb_proc_stat_steal(const char *text);

/* Seconds of CPU time every process used (user, nice, system, irq, softirq:
 * not idle, iowait or steal), summed over CPUs, from /proc/stat's text; -1
 * when the line is missing. */
double tb_proc_stat_busy(const char *text);

/* Run-queue wait from a /proc/.../schedstat line ("RUN_NS WAIT_NS SLICES"):
 * the seconds the thread was ready but not running. -1 when malformed. */
double tb_schedstat_wait(const char *text);

/* NULL when hardware events (instructions) open on this machine; otherwise
 * why not, with the fix, written into buf. */
const char *tb_hw_counters_unavailable(char *buf, size_t cap);

/* Hardware events counted per run over every thread of a pool (one
 * perf_event fd per event per thread, summed): instructions, cycles, LLC
 * misses (PERF_COUNT_HW_CACHE_MISSES), branch misses. The syscalls are
 * injectable for tests. An event that cannot be opened on every thread is
 * unavailable, with the reason; it is never reported as zero. */
enum { TB_HW_EVENTS = 4, TB_HW_MAX_THREADS = 64 };
extern const char *const tb_hw_event_names[TB_HW_EVENTS]; /* instructions, cycles, ... */

/* How one event is asked of the kernel: libpfm4's encoding of a native event
 * name where libpfm4 is built in and knows the CPU (RETIRED_INSTRUCTIONS on
 * AMD, INST_RETIRED:ANY_P on Intel, ...), else the kernel's generic event. */
typedef struct tb_hw_event {
    uint32_t type;
    uint64_t config, config1;
    char name[96];             /* "amd64_fam19h_zen4::RETIRED_INSTRUCTIONS" or "generic" */
    bool libpfm4;
} tb_hw_event;

/* Resolves the TB_HW_EVENTS events (once per process). */
const tb_hw_event *tb_hw_events(void);

typedef struct tb_hw_io {
    /* fd or -errno; event is the index into tb_hw_event_names */
    int (*open)(void *ctx, int event, const tb_hw_event *ev, int tid);
    /* 0 or -errno; v: the count, then the nanoseconds the event was enabled
     * and actually running on the PMU (they differ when the kernel
     * multiplexes more events than the PMU has counters) */
    int (*read)(void *ctx, int fd, uint64_t v[3]);
    void (*control)(void *ctx, int fd, bool enable);                   /* reset+enable / disable */
    void (*close)(void *ctx, int fd);
    void *ctx;
} tb_hw_io;

typedef struct tb_hw_counters {
    tb_hw_io io;
    int nthreads;
    int fd[TB_HW_MAX_THREADS][TB_HW_EVENTS];
    bool ok[TB_HW_EVENTS];
    char why[TB_HW_EVENTS][160];
    double running[TB_HW_EVENTS]; /* after stop: the smallest share of its enabled time an
                                   * event ran on the PMU over the threads (1: never
                                   * multiplexed); counts are scaled up by its inverse */
} tb_hw_counters;

/* Opens every event on every thread; returns how many events are usable. */
int tb_hw_open(tb_hw_counters *c, const int *tids, int n, const tb_hw_io *io);
void tb_hw_start(tb_hw_counters *c);
/* Stops counting and sums each usable event over the threads into v, each
 * thread's count scaled by enabled / running time where the kernel
 * multiplexed it (as perf stat does); an event that never ran on the PMU
 * becomes unavailable, with the reason. */
void tb_hw_stop(tb_hw_counters *c, uint64_t v[TB_HW_EVENTS]);
void tb_hw_close(tb_hw_counters *c);

/* Why perf_event_open failed with errno e for a hardware event, and the fix. */
const char *tb_perf_open_reason(int e, int paranoid);

#endif
