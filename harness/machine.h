/*
 * machine.h - everything ternbench knows about the machine it runs on.
 *
 * Gathered once by tb_machine_probe(); printed by `ternbench info` and
 * recorded as the `machine` object of every result document, so a number
 * always travels with the hardware, kernel and build that produced it.
 */
#ifndef TB_MACHINE_H
#define TB_MACHINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "counters.h"
#include "cpu.h"
#include "sources.h"

enum { TB_MACHINE_MAX_SOURCES = 64 };

typedef struct tb_machine {
    tb_cpu_info cpu;
    tb_isa isa;                 /* the kernels' ISA (valid when isa_ok) */
    bool isa_ok;
    char isa_forced[32];        /* TERNBENCH_ISA's value, "" if unset */
    char isa_error[512];        /* why TERNBENCH_ISA cannot be honoured */
    char hostname[64];
    char kernel[128];           /* uname -sr */
    char governor[32];          /* cpufreq governor of cpu0, "" if none */
    char thp[16];               /* transparent huge pages: always/madvise/never, "" if unknown */
    char label[64];             /* what the user calls this machine (--label), "" if unnamed */
    tb_counters_report counters;
    tb_energy_source energy[TB_MACHINE_MAX_SOURCES];
    int energy_count;
    int energy_usable;          /* sources in state "present" */
    bool gnuplot;
    char gnuplot_version[128];  /* or why it is missing */
} tb_machine;

void tb_machine_probe(tb_machine *m);

/* The selected mode in /sys/kernel/mm/transparent_hugepage/enabled's text
 * ("always [madvise] never" -> "madvise"); "" when there is none. */
void tb_thp_mode(const char *text, char *out, size_t n);

/* Probes m for a command that runs kernels: 0, or 2 after printing
 * "ternbench CMD: <why TERNBENCH_ISA cannot be honoured>". */
int tb_machine_probe_for(const char *cmd, tb_machine *m);
json_t *tb_machine_to_json(const tb_machine *m);
void tb_machine_print(const tb_machine *m, FILE *out);

#endif
