/* counters.c - counter back-end discovery; see counters.h. */
#include "counters.h"

#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sources.h"
#include "tb_file.h"

#ifdef TB_HAVE_PAPI
#include <papi.h>
#endif
#ifdef TB_HAVE_LIBPFM
#include <perfmon/pfmlib.h>
#include <perfmon/pfmlib_perf_event.h>
#endif

/* Opens a counter on this thread, counts a little work, returns errno or 0. */
static int perf_try(uint32_t type, uint64_t config, uint64_t *value)
{
    int fd = tb_perf_event_open(type, config, 0, 0, -1);
    if (fd < 0)
        return -fd;
    ioctl(fd, PERF_EVENT_IOC_RESET, 0);
    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
    volatile uint64_t sink = 0;
    for (int i = 0; i < 100000; i++)
        sink += (uint64_t)i;
    ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
    ssize_t got = read(fd, value, sizeof *value);
    close(fd);
    return got == (ssize_t)sizeof *value ? 0 : EIO;
}

const char *tb_perf_open_reason(int e, int paranoid)
{
    static char text[400];
    switch (e) {
    case ENOENT:
    case ENODEV:
    case EOPNOTSUPP:
        snprintf(text, sizeof text,
                 "the kernel has no hardware PMU for this CPU (%s): virtual machines often "
                 "hide it; on KVM start the guest with a virtual PMU (e.g. -cpu host,pmu=on)",
                 strerror(e));
        break;
    case EACCES:
    case EPERM:
        snprintf(text, sizeof text,
                 "permission denied (perf_event_paranoid is %d): "
                 "`sudo sysctl kernel.perf_event_paranoid=1` or grant CAP_PERFMON", paranoid);
        break;
    case ENOSYS:
        snprintf(text, sizeof text, "this kernel was built without perf_event support");
        break;
    default:
        snprintf(text, sizeof text, "perf_event_open failed: %s", strerror(e));
    }
    return text;
}

static void probe_perf(tb_counters_report *rep)
{
    tb_counter_backend *hw = &rep->backend[2], *sw = &rep->backend[3];
    hw->name = "perf_event-hw";
    sw->name = "perf_event-sw";
    hw->built = sw->built = true;
    uint64_t v = 0;
    int e = perf_try(PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS, &v);
    hw->available = e == 0;
    if (e == 0)
        snprintf(hw->detail, sizeof hw->detail, "instructions counted (%llu in a test loop)",
                 (unsigned long long)v);
    else
        snprintf(hw->detail, sizeof hw->detail, "%s", tb_perf_open_reason(e, rep->perf_event_paranoid));

    e = perf_try(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK, &v);
    sw->available = e == 0;
    if (e == 0)
        snprintf(sw->detail, sizeof sw->detail,
                 "task-clock, context-switches, page-faults, cpu-migrations");
    else
        snprintf(sw->detail, sizeof sw->detail, "%s", tb_perf_open_reason(e, rep->perf_event_paranoid));
}

static void probe_papi(tb_counter_backend *b)
{
    b->name = "papi";
#ifdef TB_HAVE_PAPI
    b->built = true;
    int ver = PAPI_library_init(PAPI_VER_CURRENT);
    if (ver != PAPI_VER_CURRENT) {
        snprintf(b->detail, sizeof b->detail, "PAPI_library_init failed: %s",
                 ver > 0 ? "library version mismatch" : PAPI_strerror(ver));
        return;
    }
    const PAPI_component_info_t *cmp = PAPI_get_component_info(0);
    if (cmp && cmp->disabled) {
        snprintf(b->detail, sizeof b->detail, "PAPI %d.%d component %s disabled: %s",
                 PAPI_VERSION_MAJOR(ver), PAPI_VERSION_MINOR(ver), cmp->name,
                 cmp->disabled_reason);
        return;
    }
    bool ins = PAPI_query_event(PAPI_TOT_INS) == PAPI_OK;
    bool cyc = PAPI_query_event(PAPI_TOT_CYC) == PAPI_OK;
    b->available = ins && cyc;
    snprintf(b->detail, sizeof b->detail, "PAPI %d.%d, component %s, %d counters; "
             "PAPI_TOT_INS %s, PAPI_TOT_CYC %s%s",
             PAPI_VERSION_MAJOR(ver), PAPI_VERSION_MINOR(ver), cmp ? cmp->name : "?",
             cmp ? cmp->num_cntrs : 0, ins ? "available" : "not available",
             cyc ? "available" : "not available",
             b->available ? "" : " (PAPI's presets need the kernel's hardware events: see perf_event-hw)");
#else
    snprintf(b->detail, sizeof b->detail,
             "not built in: install libpapi-dev and rebuild (scripts/setup.sh does)");
#endif
}

static void probe_pfm(tb_counter_backend *b, bool hw_opens)
{
    b->name = "libpfm4";
#ifdef TB_HAVE_LIBPFM
    b->built = true;
    int rc = pfm_initialize();
    if (rc != PFM_SUCCESS) {
        snprintf(b->detail, sizeof b->detail, "pfm_initialize: %s", pfm_strerror(rc));
        return;
    }
    char list[400] = "";
    size_t used = 0;
    bool core = false;
    pfm_pmu_t pmu;
    pfm_for_all_pmus(pmu) {
        pfm_pmu_info_t info;
        memset(&info, 0, sizeof info);
        info.size = sizeof info;
        if (pfm_get_pmu_info(pmu, &info) != PFM_SUCCESS || !info.is_present)
            continue;
        core |= info.type == PFM_PMU_TYPE_CORE;
        int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", info.name);
        if (w > 0 && (size_t)w < sizeof list - used)
            used += (size_t)w;
    }
    /* libpfm4 recognises the core PMU from CPUID alone; its events count only
     * if the kernel can open hardware events (the perf_event-hw back end). */
    b->available = core && hw_opens;
    snprintf(b->detail, sizeof b->detail, "PMUs detected: %s%s", used ? list : "none",
             !core ? " (no core PMU: hardware event names cannot be resolved)"
             : hw_opens ? "" : "; event names resolve but cannot be counted (see perf_event-hw)");
#else
    (void)hw_opens;
    snprintf(b->detail, sizeof b->detail,
             "not built in: install libpfm4-dev and rebuild (scripts/setup.sh does)");
#endif
}

void tb_counters_probe(tb_counters_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->perf_event_paranoid = tb_perf_paranoid(NULL);
    char path[600];
    snprintf(path, sizeof path, "%s/bus/event_source/devices/cpu", tb_sysfs_root());
    rep->cpu_pmu_in_sysfs = access(path, F_OK) == 0;
    probe_perf(rep);
    probe_papi(&rep->backend[0]);
    probe_pfm(&rep->backend[1], rep->backend[2].available);
}

/* Adds thread `name`'s run-queue wait to *sum (which starts at -1: unknown). */
static void add_wait(const char *name, double *sum)
{
    char path[300], text[128];
    snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", name);
    double w = tb_file_read_text(path, text, sizeof text, NULL) > 0 ? tb_schedstat_wait(text) : -1;
    if (w >= 0) /* a thread gone since the listing just drops out */
        *sum = (*sum < 0 ? 0 : *sum) + w;
}

void tb_usage_now(tb_usage *u, const int *tids, int n)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    u->cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
               (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
    u->context_switches = ru.ru_nvcsw + ru.ru_nivcsw;
    u->page_faults = ru.ru_minflt + ru.ru_majflt;
    char text[512]; /* the aggregate line comes first */
    u->steal_s = tb_file_read_text("/proc/stat", text, sizeof text, NULL) > 0
                     ? tb_proc_stat_steal(text) : -1;
    u->wait_s = -1;
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d", tids[i]);
        add_wait(name, &u->wait_s);
    }
    if (n > 0)
        return;
    DIR *d = opendir("/proc/self/task");
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.')
            add_wait(e->d_name, &u->wait_s);
    if (d)
        closedir(d);
}

double tb_lost_share(double lost_s, double window_s, double over)
{
    if (lost_s <= 0 || window_s <= 0 || over <= 0)
        return 0;
    double share = lost_s / (window_s * over);
    return share > 1 ? 1 : share;
}

double tb_usage_lost_share(const tb_usage *u0, const tb_usage *u1, double seconds, int threads,
                           int cpus)
{
    double steal = u0->steal_s >= 0 && u1->steal_s >= 0
                       ? tb_lost_share(u1->steal_s - u0->steal_s - TB_STEAL_TICK_S, seconds, cpus)
                       : 0;
    double wait = u0->wait_s >= 0 && u1->wait_s >= 0
                      ? tb_lost_share(u1->wait_s - u0->wait_s, seconds, threads)
                      : 0;
    return steal > wait ? steal : wait;
}

double tb_schedstat_wait(const char *text)
{
    unsigned long long run, wait;
    return sscanf(text, "%llu %llu", &run, &wait) == 2 ? (double)wait * 1e-9 : -1;
}

double tb_proc_stat_busy(const char *text)
{
    unsigned long long v[7];
    if (strncmp(text, "cpu ", 4) != 0 ||
        sscanf(text + 4, "%llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6]) != 7)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / (double)(hz > 0 ? hz : 100);
}

double tb_proc_stat_steal(const char *text)
{
    unsigned long long v[8];
    if (strncmp(text, "cpu ", 4) != 0 ||
        sscanf(text + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]) != 8)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (double)v[7] / (double)(hz > 0 ? hz : 100);
}

const char *tb_hw_counters_unavailable(char *buf, size_t cap)
{
    uint64_t v;
    int e = perf_try(PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS, &v);
    if (e == 0)
        return NULL;
    snprintf(buf, cap, "%s", tb_perf_open_reason(e, tb_perf_paranoid(NULL)));
    return buf;
}

/* ---- per-run hardware counting over a pool's threads ---- */

const char *const tb_hw_event_names[TB_HW_EVENTS] = {"instructions", "cycles", "llc_misses",
                                                     "branch_misses"};
static const uint64_t hw_configs[TB_HW_EVENTS] = {PERF_COUNT_HW_INSTRUCTIONS, PERF_COUNT_HW_CPU_CYCLES,
                                                  PERF_COUNT_HW_CACHE_MISSES,
                                                  PERF_COUNT_HW_BRANCH_MISSES};

/* libpfm4 names per event, tried in turn: Intel, AMD (Zen), Arm; the first
 * that encodes for this CPU wins. */
static const char *const native_names[TB_HW_EVENTS][3] = {
    {"INST_RETIRED:ANY_P", "RETIRED_INSTRUCTIONS", "INST_RETIRED"},
    {"CPU_CLK_UNHALTED:THREAD_P", "CYCLES_NOT_IN_HALT", "CPU_CYCLES"},
    {"LONGEST_LAT_CACHE:MISS", NULL, "LL_CACHE_MISS_RD"}, /* Zen counts L3 in another PMU */
    {"BR_MISP_RETIRED:ALL_BRANCHES", "RETIRED_BRANCH_INSTRUCTIONS_MISPREDICTED",
     "BR_MIS_PRED_RETIRED"},
};

static bool native_event(int e, tb_hw_event *ev)
{
#ifdef TB_HAVE_LIBPFM
    if (pfm_initialize() != PFM_SUCCESS)
        return false;
    for (int i = 0; i < 3; i++) {
        if (!native_names[e][i])
            continue;
        struct perf_event_attr attr;
        memset(&attr, 0, sizeof attr);
        char *fstr = NULL;
        pfm_perf_encode_arg_t arg;
        memset(&arg, 0, sizeof arg);
        arg.attr = &attr;
        arg.size = sizeof arg;
        arg.fstr = &fstr;
        if (pfm_get_os_event_encoding(native_names[e][i], PFM_PLM3, PFM_OS_PERF_EVENT, &arg) !=
            PFM_SUCCESS)
            continue;
        ev->type = attr.type;
        ev->config = attr.config;
        ev->config1 = attr.config1;
        ev->libpfm4 = true;
        /* "pmu::EVENT:modifiers..." -> "pmu::EVENT" */
        snprintf(ev->name, sizeof ev->name, "%s", fstr ? fstr : native_names[e][i]);
        char *sep = strstr(ev->name, "::");
        char *mods = strchr(sep ? sep + 2 : ev->name, ':');
        if (mods)
            *mods = '\0';
        free(fstr);
        return true;
    }
#else
    (void)e;
    (void)ev;
    (void)native_names;
#endif
    return false;
}

const tb_hw_event *tb_hw_events(void)
{
    static tb_hw_event ev[TB_HW_EVENTS];
    static bool done;
    if (!done) {
        for (int e = 0; e < TB_HW_EVENTS; e++)
            if (!native_event(e, &ev[e]))
                ev[e] = (tb_hw_event){PERF_TYPE_HARDWARE, hw_configs[e], 0, "generic", false};
        done = true;
    }
    return ev;
}

static int real_open(void *ctx, int event, const tb_hw_event *ev, int tid)
{
    (void)ctx;
    (void)event;
    return tb_perf_event_open_timed(ev->type, ev->config, ev->config1, tid);
}

static int real_read(void *ctx, int fd, uint64_t v[3])
{
    (void)ctx;
    return read(fd, v, 3 * sizeof *v) == (ssize_t)(3 * sizeof *v) ? 0 : -EIO;
}

static void real_control(void *ctx, int fd, bool enable)
{
    (void)ctx;
    if (enable) {
        ioctl(fd, PERF_EVENT_IOC_RESET, 0);
        ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
    } else {
        ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
    }
}

static void real_close(void *ctx, int fd)
{
    (void)ctx;
    close(fd);
}

int tb_hw_open(tb_hw_counters *c, const int *tids, int n, const tb_hw_io *io)
{
    static const tb_hw_io real = {real_open, real_read, real_control, real_close, NULL};
    memset(c, 0, sizeof *c);
    c->io = io ? *io : real;
    c->nthreads = n < TB_HW_MAX_THREADS ? n : TB_HW_MAX_THREADS;
    int usable = 0;
    for (int e = 0; e < TB_HW_EVENTS; e++) {
        c->ok[e] = true;
        for (int t = 0; t < c->nthreads; t++) {
            c->fd[t][e] = -1;
            int fd = c->ok[e] ? c->io.open(c->io.ctx, e, &tb_hw_events()[e], tids[t]) : -1;
            if (c->ok[e] && fd < 0) {
                c->ok[e] = false;
                snprintf(c->why[e], sizeof c->why[e], "%s", tb_perf_open_reason(-fd, tb_perf_paranoid(NULL)));
            }
            c->fd[t][e] = fd;
        }
        if (!c->ok[e]) /* all or nothing: a partial sum would be a lie */
            for (int t = 0; t < c->nthreads; t++)
                if (c->fd[t][e] >= 0) {
                    c->io.close(c->io.ctx, c->fd[t][e]);
                    c->fd[t][e] = -1;
                }
        usable += c->ok[e];
    }
    return usable;
}

void tb_hw_start(tb_hw_counters *c)
{
    for (int e = 0; e < TB_HW_EVENTS; e++)
        for (int t = 0; c->ok[e] && t < c->nthreads; t++)
            c->io.control(c->io.ctx, c->fd[t][e], true);
}

void tb_hw_stop(tb_hw_counters *c, uint64_t v[TB_HW_EVENTS])
{
    for (int e = 0; e < TB_HW_EVENTS; e++) {
        double sum = 0;
        c->running[e] = 1;
        for (int t = 0; c->ok[e] && t < c->nthreads; t++) {
            uint64_t x[3] = {0, 0, 0};
            c->io.control(c->io.ctx, c->fd[t][e], false);
            if (c->io.read(c->io.ctx, c->fd[t][e], x) != 0) {
                c->ok[e] = false;
                snprintf(c->why[e], sizeof c->why[e], "reading the counter failed");
            } else if (x[1] > 0 && x[2] == 0) {
                c->ok[e] = false;
                snprintf(c->why[e], sizeof c->why[e], "never scheduled on the PMU (more events "
                         "than counters, or another tool holds them): not counted");
            } else if (x[2] < x[1]) { /* multiplexed: scaled, as perf stat does */
                double share = (double)x[2] / (double)x[1];
                sum += (double)x[0] / share;
                c->running[e] = share < c->running[e] ? share : c->running[e];
            } else {
                sum += (double)x[0];
            }
        }
        v[e] = c->ok[e] ? (uint64_t)(sum + 0.5) : 0;
    }
}

void tb_hw_close(tb_hw_counters *c)
{
    for (int e = 0; e < TB_HW_EVENTS; e++)
        for (int t = 0; t < c->nthreads; t++)
            if (c->fd[t][e] >= 0)
                c->io.close(c->io.ctx, c->fd[t][e]);
}
