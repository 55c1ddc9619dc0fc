/* cpu.c - processor feature detection and ISA selection; see cpu.h. */
#include "cpu.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_file.h"

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#endif

const tb_cpu_feature_name tb_cpu_feature_names[] = {
    {TB_CPU_SSE42, "sse4.2", true},         {TB_CPU_AVX, "avx", true},
    {TB_CPU_AVX2, "avx2", true},            {TB_CPU_FMA, "fma", true},
    {TB_CPU_F16C, "f16c", true},            {TB_CPU_AVX512F, "avx512f", true},
    {TB_CPU_AVX512BW, "avx512bw", true},    {TB_CPU_AVX512VL, "avx512vl", true},
    {TB_CPU_AVX512DQ, "avx512dq", true},    {TB_CPU_AVX512VNNI, "avx512vnni", true},
    {TB_CPU_AVX512BF16, "avx512bf16", true}, {TB_CPU_AVX512VBMI, "avx512vbmi", true},
    {TB_CPU_AVXVNNI, "avx-vnni", true},     {TB_CPU_NEON, "neon", false},
    {TB_CPU_DOTPROD, "dotprod", false},     {TB_CPU_I8MM, "i8mm", false},
    {TB_CPU_FP16, "fp16", false},
};
const int tb_cpu_feature_count = sizeof tb_cpu_feature_names / sizeof tb_cpu_feature_names[0];

#define BIT(v, n) (((v) >> (n)) & 1u)

uint32_t tb_cpu_features_from_cpuid(const tb_cpuid_regs *r)
{
    uint32_t f = 0;
    if (r->max_leaf < 1)
        return 0;
    /* The OS must save a register file's state on context switch before its
     * instructions are usable: XCR0 bits 1-2 for XMM/YMM, 5-7 for ZMM. */
    bool osxsave = BIT(r->l1_ecx, 27);
    bool ymm_ok = osxsave && (r->xcr0 & 0x6) == 0x6;
    bool zmm_ok = ymm_ok && (r->xcr0 & 0xe0) == 0xe0;

    if (BIT(r->l1_ecx, 20))
        f |= TB_CPU_SSE42;
    if (ymm_ok) {
        if (BIT(r->l1_ecx, 28))
            f |= TB_CPU_AVX;
        if (BIT(r->l1_ecx, 12))
            f |= TB_CPU_FMA;
        if (BIT(r->l1_ecx, 29))
            f |= TB_CPU_F16C;
    }
    if (r->max_leaf < 7)
        return f;
    if (ymm_ok && BIT(r->l7_ebx, 5))
        f |= TB_CPU_AVX2;
    if (ymm_ok && BIT(r->l7s1_eax, 4))
        f |= TB_CPU_AVXVNNI;
    if (zmm_ok) {
        if (BIT(r->l7_ebx, 16))
            f |= TB_CPU_AVX512F;
        if (BIT(r->l7_ebx, 17))
            f |= TB_CPU_AVX512DQ;
        if (BIT(r->l7_ebx, 30))
            f |= TB_CPU_AVX512BW;
        if (BIT(r->l7_ebx, 31))
            f |= TB_CPU_AVX512VL;
        if (BIT(r->l7_ecx, 1))
            f |= TB_CPU_AVX512VBMI;
        if (BIT(r->l7_ecx, 11))
            f |= TB_CPU_AVX512VNNI;
        if (BIT(r->l7s1_eax, 5))
            f |= TB_CPU_AVX512BF16;
    }
    return f;
}

uint32_t tb_cpu_features_from_hwcap(unsigned long hwcap, unsigned long hwcap2)
{
    /* Bit positions from the Linux arm64 ABI (asm/hwcap.h). */
    uint32_t f = 0;
    if (hwcap & (1ul << 1))
        f |= TB_CPU_NEON;     /* HWCAP_ASIMD */
    if (hwcap & (1ul << 10))
        f |= TB_CPU_FP16;     /* HWCAP_ASIMDHP */
    if (hwcap & (1ul << 20))
        f |= TB_CPU_DOTPROD;  /* HWCAP_ASIMDDP */
    if (hwcap2 & (1ul << 13))
        f |= TB_CPU_I8MM;     /* HWCAP2_I8MM */
    return f;
}

/* True if the space-separated list `line` holds the word `word`. */
static bool has_word(const char *line, size_t len, const char *word)
{
    size_t wl = strlen(word);
    for (size_t i = 0; i + wl <= len; i++) {
        bool starts = i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t' || line[i - 1] == ':';
        bool ends = i + wl == len || line[i + wl] == ' ' || line[i + wl] == '\t';
        if (starts && ends && memcmp(line + i, word, wl) == 0)
            return true;
    }
    return false;
}

uint32_t tb_cpu_features_from_cpuinfo(const char *text)
{
    static const struct { const char *word; uint32_t bit; } words[] = {
        {"sse4_2", TB_CPU_SSE42},         {"avx", TB_CPU_AVX},
        {"avx2", TB_CPU_AVX2},            {"fma", TB_CPU_FMA},
        {"f16c", TB_CPU_F16C},            {"avx512f", TB_CPU_AVX512F},
        {"avx512bw", TB_CPU_AVX512BW},    {"avx512vl", TB_CPU_AVX512VL},
        {"avx512dq", TB_CPU_AVX512DQ},    {"avx512_vnni", TB_CPU_AVX512VNNI},
        {"avx512_bf16", TB_CPU_AVX512BF16}, {"avx512vbmi", TB_CPU_AVX512VBMI},
        {"avx_vnni", TB_CPU_AVXVNNI},     {"asimd", TB_CPU_NEON},
        {"asimddp", TB_CPU_DOTPROD},      {"i8mm", TB_CPU_I8MM},
        {"asimdhp", TB_CPU_FP16},
    };
    uint32_t f = 0;
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        bool is_flags = (len > 5 && strncmp(line, "flags", 5) == 0) ||
                        (len > 8 && strncmp(line, "Features", 8) == 0);
        if (is_flags) {
            const char *colon = memchr(line, ':', len);
            if (colon) {
                size_t off = (size_t)(colon + 1 - line);
                for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
                    if (has_word(colon + 1, len - off, words[i].word))
                        f |= words[i].bit;
            }
            break; /* the first CPU's line describes them all */
        }
        line = nl ? nl + 1 : NULL;
    }
    return f;
}

#if defined(__x86_64__)
static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static uint32_t detect_features(void)
{
    tb_cpuid_regs r = {0};
    uint32_t a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d))
        return 0;
    r.max_leaf = a;
    __cpuid(1, a, b, c, d);
    r.l1_ecx = c;
    if (BIT(c, 27))
        r.xcr0 = read_xcr0();
    if (r.max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        r.l7_ebx = b;
        r.l7_ecx = c;
        if (a >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            r.l7s1_eax = a;
        }
    }
    return tb_cpu_features_from_cpuid(&r);
}
#elif defined(__aarch64__)
static uint32_t detect_features(void)
{
    return tb_cpu_features_from_hwcap(getauxval(AT_HWCAP), getauxval(AT_HWCAP2));
}
#else
static uint32_t detect_features(void)
{
    return 0;
}
#endif

/* Copies the value after "key<spaces>: " on the first matching line. */
static bool cpuinfo_value(const char *text, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len > kl && strncmp(line, key, kl) == 0 && (line[kl] == ' ' || line[kl] == '\t' || line[kl] == ':')) {
            const char *colon = memchr(line, ':', len);
            if (colon) {
                const char *v = colon + 1;
                while (*v == ' ')
                    v++;
                size_t vl = (size_t)(line + len - v);
                if (vl >= cap)
                    vl = cap - 1;
                memcpy(out, v, vl);
                out[vl] = '\0';
                return true;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

static int count_physical_cores(int ncpu)
{
    /* A (package, core) pair per physical core; sysfs may hide it (containers). */
    enum { MAX = 4096 };
    static long seen[MAX];
    int n = 0;
    for (int cpu = 0; cpu < ncpu && cpu < MAX; cpu++) {
        char path[128];
        uint64_t pkg, core;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
        if (tb_file_read_u64(path, &pkg, NULL) != 0)
            return 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
        if (tb_file_read_u64(path, &core, NULL) != 0)
            return 0;
        long key = (long)(pkg << 20 | core);
        bool dup = false;
        for (int i = 0; i < n && !dup; i++)
            dup = seen[i] == key;
        if (!dup)
            seen[n++] = key;
    }
    return n;
}

static uint64_t meminfo_kib(const char *text, const char *key)
{
    char v[64];
    return cpuinfo_value(text, key, v, sizeof v) ? strtoull(v, NULL, 10) * 1024ull : 0;
}

/* The quota a cgroup directory sets, in CPUs (rounded up), or 0 for none. */
static int dir_quota(const char *dir, char *why, size_t cap)
{
    char path[1200], text[128];
    long long quota = -1, period = 0;
    snprintf(path, sizeof path, "%s/cpu.max", dir);
    if (tb_file_read_text(path, text, sizeof text, NULL) >= 0) {
        if (sscanf(text, "%lld %lld", &quota, &period) != 2) /* "max 100000" */
            return 0;
    } else {
        uint64_t p;
        snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
        if (tb_file_read_text(path, text, sizeof text, NULL) < 0 || sscanf(text, "%lld", &quota) != 1)
            return 0;
        char ppath[1200];
        snprintf(ppath, sizeof ppath, "%s/cpu.cfs_period_us", dir);
        if (tb_file_read_u64(ppath, &p, NULL) != 0)
            return 0;
        period = (long long)p;
    }
    if (quota <= 0 || period <= 0)
        return 0;
    snprintf(why, cap, "cgroup CPU quota %lld us per %lld us in %s", quota, period, path);
    long long cpus = (quota + period - 1) / period;
    return cpus > 4096 ? 4096 : (int)cpus;
}

/* The tightest quota on cgroup rel (in the hierarchy mounted at root) and its
 * ancestors, tightened into *best (0: none yet), with why. */
static void walk_up(const char *root, char *rel, int *best, char *why, size_t cap)
{
    for (;;) { /* the cgroup, then each ancestor */
        char dir[1200], w[512];
        snprintf(dir, sizeof dir, "%s%s", root, rel);
        int q = dir_quota(dir, w, sizeof w);
        if (q > 0 && (*best == 0 || q < *best)) {
            *best = q;
            snprintf(why, cap, "%s", w);
        }
        char *slash = strrchr(rel, '/');
        if (!slash || !strcmp(rel, "/"))
            return;
        slash[slash == rel] = '\0'; /* "/a/b" -> "/a" -> "/" */
    }
}

/* Whether a v1 controller list ("cpu,cpuacct") names the cpu controller. */
static bool lists_cpu(const char *ctl)
{
    for (const char *t = ctl; *t; t += strcspn(t, ","), t += *t == ',')
        if (strcspn(t, ",") == 3 && !strncmp(t, "cpu", 3))
            return true;
    return false;
}

int tb_cpu_quota_limit(const char *proc_cgroup_text, const char *cgroup_root, char *why,
                       size_t cap)
{
    int best = 0;
    for (const char *line = proc_cgroup_text, *next; line && *line; line = next) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        next = nl ? nl + 1 : NULL;
        /* "0::/path" (v2) or "4:cpu,cpuacct:/path" (v1) */
        char entry[1200], *c1, *c2;
        if (len >= sizeof entry)
            continue;
        memcpy(entry, line, len);
        entry[len] = '\0';
        if (!(c1 = strchr(entry, ':')) || !(c2 = strchr(c1 + 1, ':')))
            continue;
        *c2 = '\0';
        const char *ctl = c1 + 1;
        if (!ctl[0]) { /* v2: one hierarchy at the root */
            walk_up(cgroup_root, c2 + 1, &best, why, cap);
        } else if (lists_cpu(ctl)) { /* v1: the cpu controller's own mount */
            char root[1200];
            snprintf(root, sizeof root, "%s/%s", cgroup_root, ctl);
            walk_up(root, c2 + 1, &best, why, cap);
        }
    }
    return best;
}

int tb_cpu_usable(char *why, size_t cap)
{
    char w[512] = "";
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int n = online > 0 ? (int)online : 1;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0 && CPU_COUNT(&set) < n) {
        n = CPU_COUNT(&set);
        snprintf(w, sizeof w, "the affinity mask allows %d of %ld online CPUs", n, online);
    }
    char text[4096]; /* a line per hierarchy */
    if (tb_file_read_text("/proc/self/cgroup", text, sizeof text, NULL) >= 0) {
        char qw[512];
        int q = tb_cpu_quota_limit(text, "/sys/fs/cgroup", qw, sizeof qw);
        if (q > 0 && q < n) {
            n = q;
            snprintf(w, sizeof w, "%s", qw);
        }
    }
    if (why)
        snprintf(why, cap, "%s", w);
    return n;
}

void tb_cpu_detect(tb_cpu_info *info)
{
    memset(info, 0, sizeof *info);
#if defined(__x86_64__)
    snprintf(info->arch, sizeof info->arch, "x86_64");
#elif defined(__aarch64__)
    snprintf(info->arch, sizeof info->arch, "aarch64");
#else
    snprintf(info->arch, sizeof info->arch, "unknown");
#endif
    static char text[1 << 16]; /* the first CPUs' entries are enough */
    if (tb_file_read_text("/proc/cpuinfo", text, sizeof text, NULL) >= 0) {
        if (!cpuinfo_value(text, "model name", info->model, sizeof info->model)) {
            char impl[32] = "", part[32] = "";
            cpuinfo_value(text, "CPU implementer", impl, sizeof impl);
            cpuinfo_value(text, "CPU part", part, sizeof part);
            if (impl[0])
                snprintf(info->model, sizeof info->model, "implementer %s part %s", impl, part);
        }
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    info->logical_cpus = n > 0 ? (int)n : 1;
    info->physical_cores = count_physical_cores(info->logical_cpus);
    info->usable_cpus = tb_cpu_usable(info->usable_why, sizeof info->usable_why);
    if (tb_file_read_text("/proc/meminfo", text, sizeof text, NULL) >= 0) {
        info->mem_total_bytes = meminfo_kib(text, "MemTotal");
        info->mem_available_bytes = meminfo_kib(text, "MemAvailable");
    }
    info->features = tb_cpu_features();
}

uint32_t tb_cpu_features(void)
{
    static _Atomic int64_t known = -1; /* racing threads store the same answer */
    int64_t f = atomic_load_explicit(&known, memory_order_relaxed);
    if (f < 0) {
        f = detect_features();
        atomic_store_explicit(&known, f, memory_order_relaxed);
    }
    return (uint32_t)f;
}

static const char *const isa_names[TB_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon"};

const char *tb_isa_name(tb_isa isa)
{
    return (unsigned)isa < TB_ISA_COUNT ? isa_names[isa] : "?";
}

static const uint32_t isa_needs[TB_ISA_COUNT] = {
    [TB_ISA_SCALAR] = 0,
    [TB_ISA_AVX2] = TB_CPU_AVX2 | TB_CPU_FMA | TB_CPU_F16C,
    [TB_ISA_AVX512] = TB_CPU_AVX2 | TB_CPU_FMA | TB_CPU_F16C | TB_CPU_AVX512F | TB_CPU_AVX512BW |
                      TB_CPU_AVX512VL | TB_CPU_AVX512DQ | TB_CPU_AVX512VNNI,
    [TB_ISA_NEON] = TB_CPU_NEON,
};

const char *tb_isa_requirements(tb_isa isa)
{
    static const char *const text[TB_ISA_COUNT] = {
        "nothing", "AVX2, FMA and F16C (x86-64)",
        "AVX-512 F/BW/VL/DQ and AVX512-VNNI (x86-64)", "NEON (aarch64)"};
    return (unsigned)isa < TB_ISA_COUNT ? text[isa] : "?";
}

static bool isa_built(tb_isa isa)
{
#if defined(__x86_64__)
    return isa == TB_ISA_SCALAR || isa == TB_ISA_AVX2 || isa == TB_ISA_AVX512;
#elif defined(__aarch64__)
    return isa == TB_ISA_SCALAR || isa == TB_ISA_NEON;
#else
    return isa == TB_ISA_SCALAR;
#endif
}

bool tb_isa_supported(tb_isa isa, uint32_t features)
{
    return (unsigned)isa < TB_ISA_COUNT && isa_built(isa) &&
           (features & isa_needs[isa]) == isa_needs[isa];
}

tb_isa tb_isa_best(uint32_t features)
{
    static const tb_isa order[] = {TB_ISA_AVX512, TB_ISA_AVX2, TB_ISA_NEON};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (tb_isa_supported(order[i], features))
            return order[i];
    return TB_ISA_SCALAR;
}

int tb_isa_select(uint32_t features, const char *forced, tb_isa *out, tb_error *err)
{
    if (!forced || !forced[0]) {
        *out = tb_isa_best(features);
        return TB_OK;
    }
    for (int i = 0; i < TB_ISA_COUNT; i++) {
        if (strcmp(forced, isa_names[i]) != 0)
            continue;
        if (!isa_built(i))
            return tb_error_set(err, TB_ENOTSUP,
                                "TERNBENCH_ISA=%s: this build has no %s kernels (they need %s); "
                                "unset TERNBENCH_ISA or choose scalar",
                                forced, forced, tb_isa_requirements(i));
        if (!tb_isa_supported(i, features))
            return tb_error_set(err, TB_ENOTSUP,
                                "TERNBENCH_ISA=%s: this CPU lacks what %s needs (%s); "
                                "unset TERNBENCH_ISA to use %s",
                                forced, forced, tb_isa_requirements(i),
                                tb_isa_name(tb_isa_best(features)));
        *out = i;
        return TB_OK;
    }
    return tb_error_set(err, TB_EINVAL,
                        "TERNBENCH_ISA=%s: unknown ISA; use scalar, avx2, avx512 or neon", forced);
}
