/*
 * counters.h - which hardware and software counters this machine can read.
 *
 * Three back ends, tried in order: PAPI (when built in), libpfm4 event
 * names through perf_event_open (when built in), and the kernel's generic
 * perf_event hardware/software events. The probe opens a real event of each
 * kind once and records, for each, whether it works and if not why, in
 * words a person can act on. A counter that cannot be read is reported as
 * unavailable with its reason; it is never shown as zero.
 */
#ifndef TB_COUNTERS_H
#define TB_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>

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
} tb_usage;

void tb_usage_now(tb_usage *u);

/* NULL when hardware events (instructions) open on this machine; otherwise
 * why not, with the fix, written into buf. */
const char *tb_hw_counters_unavailable(char *buf, size_t cap);

/* Why perf_event_open failed with errno e for a hardware event, and the fix. */
const char *tb_perf_open_reason(int e, int paranoid);

#endif
