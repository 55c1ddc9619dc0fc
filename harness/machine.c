/* machine.c - the machine description; see machine.h. */
#include "machine.h"

#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "build_info.h"
#include "tb_file.h"
#include "tools.h"

void tb_machine_probe(tb_machine *m)
{
    memset(m, 0, sizeof *m);
    tb_cpu_detect(&m->cpu);

    const char *forced = getenv("TERNBENCH_ISA");
    snprintf(m->isa_forced, sizeof m->isa_forced, "%s", forced ? forced : "");
    tb_error err;
    m->isa_ok = tb_isa_select(m->cpu.features, forced, &m->isa, &err) == TB_OK;
    if (!m->isa_ok)
        snprintf(m->isa_error, sizeof m->isa_error, "%s", err.text);

    gethostname(m->hostname, sizeof m->hostname - 1);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(m->kernel, sizeof m->kernel, "%s %s", u.sysname, u.release);
    if (tb_file_read_text("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", m->governor,
                          sizeof m->governor, NULL) < 0)
        m->governor[0] = '\0';

    char thp[128];
    if (tb_file_read_text("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof thp, NULL) >= 0)
        tb_thp_mode(thp, m->thp, sizeof m->thp);

    tb_counters_probe(&m->counters);
    m->energy_count = tb_energy_probe(NULL, m->energy, TB_MACHINE_MAX_SOURCES);
    for (int i = 0; i < m->energy_count; i++)
        m->energy_usable += m->energy[i].state == TB_SOURCE_PRESENT;
    m->gnuplot = tb_tool_version("gnuplot", m->gnuplot_version, sizeof m->gnuplot_version);
}

void tb_thp_mode(const char *text, char *out, size_t n)
{
    const char *open = strchr(text, '['), *close = open ? strchr(open, ']') : NULL;
    size_t len = close ? (size_t)(close - open - 1) : 0;
    if (!close || len >= n)
        len = 0;
    memcpy(out, open ? open + 1 : "", len);
    out[len] = '\0';
}

int tb_machine_probe_for(const char *cmd, tb_machine *m)
{
    tb_machine_probe(m);
    if (m->isa_ok)
        return 0;
    fprintf(stderr, "ternbench %s: %s\n", cmd, m->isa_error);
    return 2;
}

static json_t *cpu_json(const tb_machine *m)
{
    json_t *features = json_array();
    for (int i = 0; i < tb_cpu_feature_count; i++)
        if (m->cpu.features & tb_cpu_feature_names[i].bit)
            json_array_append_new(features, json_string(tb_cpu_feature_names[i].name));
    return json_pack("{s:s, s:s, s:i, s:i, s:s, s:i, s:I, s:I, s:o, s:s, s:s, s:s, s:s}",
                     "model", m->cpu.model, "arch", m->cpu.arch,
                     "logical_cpus", m->cpu.logical_cpus, "usable_cpus", m->cpu.usable_cpus,
                     "usable_cpus_limit", m->cpu.usable_why,
                     "physical_cores", m->cpu.physical_cores,
                     "memory_bytes", (json_int_t)m->cpu.mem_total_bytes,
                     "memory_available_bytes", (json_int_t)m->cpu.mem_available_bytes,
                     "features", features, "hostname", m->hostname, "kernel", m->kernel,
                     "governor", m->governor, "thp", m->thp);
}

static json_t *isa_json(const tb_machine *m)
{
    json_t *supported = json_array();
    for (int i = 0; i < TB_ISA_COUNT; i++)
        if (tb_isa_supported((tb_isa)i, m->cpu.features))
            json_array_append_new(supported, json_string(tb_isa_name((tb_isa)i)));
    json_t *o = json_pack("{s:s, s:s, s:o}", "best", tb_isa_name(tb_isa_best(m->cpu.features)),
                          "forced", m->isa_forced, "supported", supported);
    json_object_set_new(o, "selected", m->isa_ok ? json_string(tb_isa_name(m->isa)) : json_null());
    if (!m->isa_ok)
        json_object_set_new(o, "error", json_string(m->isa_error));
    return o;
}

static json_t *counters_json(const tb_machine *m)
{
    json_t *backends = json_array();
    for (int i = 0; i < TB_COUNTER_BACKENDS; i++) {
        const tb_counter_backend *b = &m->counters.backend[i];
        json_array_append_new(backends, json_pack("{s:s, s:b, s:b, s:s}", "name", b->name,
                                                  "built", b->built, "available", b->available,
                                                  "detail", b->detail));
    }
    json_t *o = json_pack("{s:b, s:o}", "cpu_pmu_in_sysfs", m->counters.cpu_pmu_in_sysfs,
                          "backends", backends);
    json_object_set_new(o, "perf_event_paranoid", m->counters.perf_event_paranoid == -100
                                                      ? json_null()
                                                      : json_integer(m->counters.perf_event_paranoid));
    return o;
}

static json_t *energy_json(const tb_machine *m)
{
    json_t *sources = json_array();
    for (int i = 0; i < m->energy_count; i++) {
        const tb_energy_source *s = &m->energy[i];
        json_array_append_new(sources, json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", s->kind,
                                                 "name", s->name, "path", s->path, "state",
                                                 tb_source_state_name(s->state), "detail",
                                                 s->detail));
    }
    return json_pack("{s:s, s:i, s:o}", "sysfs_root", tb_sysfs_root(), "usable",
                     m->energy_usable, "sources", sources);
}

json_t *tb_machine_to_json(const tb_machine *m)
{
    json_t *build = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "version", TB_VERSION,
                              "git_commit", tb_build_git_commit(), "type", TB_BUILD_TYPE,
                              "compiler", TB_COMPILER, "papi", TB_BUILT_WITH_PAPI,
                              "libpfm4", TB_BUILT_WITH_LIBPFM);
    json_t *tools = json_pack("{s:{s:b, s:s}}", "gnuplot", "present", m->gnuplot,
                              m->gnuplot ? "version" : "reason", m->gnuplot_version);
    json_t *j = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "cpu", cpu_json(m), "isa", isa_json(m),
                          "counters", counters_json(m), "energy", energy_json(m), "tools", tools,
                          "build", build);
    if (m->label[0]) /* a fleet's name for it: what reports tell machines apart by */
        json_object_set_new(j, "label", json_string(m->label));
    return j;
}

static void print_gib(FILE *out, uint64_t bytes)
{
    if (bytes)
        fprintf(out, "%.1f GiB", (double)bytes / (1024.0 * 1024.0 * 1024.0));
    else
        fprintf(out, "unknown");
}

void tb_machine_print(const tb_machine *m, FILE *out)
{
    fprintf(out, "ternbench %s (git %s, %s build, %s; PAPI %s, libpfm4 %s)\n\n", TB_VERSION,
            tb_build_git_commit(), TB_BUILD_TYPE, TB_COMPILER,
            TB_BUILT_WITH_PAPI ? "built in" : "not built in",
            TB_BUILT_WITH_LIBPFM ? "built in" : "not built in");

    fprintf(out, "CPU\n  model      %s (%s)\n", m->cpu.model[0] ? m->cpu.model : "unknown",
            m->cpu.arch);
    fprintf(out, "  cpus       %d logical", m->cpu.logical_cpus);
    if (m->cpu.physical_cores)
        fprintf(out, ", %d physical cores", m->cpu.physical_cores);
    if (m->cpu.usable_why[0])
        fprintf(out, "; %d usable by this process (%s): the default thread count",
                m->cpu.usable_cpus, m->cpu.usable_why);
    fprintf(out, "\n  memory     ");
    print_gib(out, m->cpu.mem_total_bytes);
    fprintf(out, " total, ");
    print_gib(out, m->cpu.mem_available_bytes);
    fprintf(out, " available\n  kernel     %s, governor %s\n", m->kernel,
            m->governor[0] ? m->governor : "none (no cpufreq: a VM or a fixed clock)");
    fprintf(out, "  huge pages %s\n", !m->thp[0] ? "unknown (no transparent_hugepage in sysfs)"
                                      : strcmp(m->thp, "never") == 0
                                          ? "never: dummy models' weights stay in 4 KiB pages (slower decode)"
                                          : m->thp);
    bool x86 = strcmp(m->cpu.arch, "x86_64") == 0;
    fprintf(out, "  features  ");
    for (int i = 0; i < tb_cpu_feature_count; i++)
        if (tb_cpu_feature_names[i].x86 == x86 && (m->cpu.features & tb_cpu_feature_names[i].bit))
            fprintf(out, " %s", tb_cpu_feature_names[i].name);
    fprintf(out, "\n  lacks     ");
    for (int i = 0; i < tb_cpu_feature_count; i++)
        if (tb_cpu_feature_names[i].x86 == x86 && !(m->cpu.features & tb_cpu_feature_names[i].bit))
            fprintf(out, " %s", tb_cpu_feature_names[i].name);
    fprintf(out, "\n  kernels    ");
    if (m->isa_ok)
        fprintf(out, "%s (%s)\n", tb_isa_name(m->isa),
                m->isa_forced[0] ? "forced by TERNBENCH_ISA" : "the best this CPU allows");
    else
        fprintf(out, "none: %s\n", m->isa_error);

    fprintf(out, "\nHardware counters (perf_event_paranoid ");
    if (m->counters.perf_event_paranoid == -100)
        fprintf(out, "unreadable)\n");
    else
        fprintf(out, "%d)\n", m->counters.perf_event_paranoid);
    for (int i = 0; i < TB_COUNTER_BACKENDS; i++) {
        const tb_counter_backend *b = &m->counters.backend[i];
        fprintf(out, "  %-14s %-12s %s\n", b->name,
                !b->built ? "not built" : b->available ? "available" : "unavailable", b->detail);
    }

    fprintf(out, "\nEnergy meters (sysfs root %s)\n", tb_sysfs_root());
    for (int i = 0; i < m->energy_count; i++) {
        const tb_energy_source *s = &m->energy[i];
        fprintf(out, "  %-11s %-14s %-20s %s\n", s->kind, tb_source_state_name(s->state),
                s->name[0] ? s->name : "-", s->detail);
    }
    if (m->energy_usable == 0)
        fprintf(out, "  => no usable energy meter: energy will be reported as unavailable, or as a "
                     "labelled estimate with --meter estimate\n");

    fprintf(out, "\nTools\n  gnuplot    %s\n", m->gnuplot_version);
}
