/*
 * cpu.h - what the processor can do, and which kernel variant to run.
 *
 * Feature bits come from CPUID (x86-64) or the auxiliary vector (aarch64).
 * The decoding functions are pure (raw register values in, bits out) so the
 * tests can feed them any processor; tb_cpu_detect() reads the real one.
 *
 * The ISA levels the kernels are built for, and what each requires:
 *   scalar  - always; the reference every other variant must match
 *   avx2    - AVX2 + FMA + F16C, with the OS saving YMM state
 *   avx512  - AVX-512 F/BW/VL/DQ + VNNI, with the OS saving ZMM state
 *             (Ice Lake, Sapphire Rapids, Zen 4 and later)
 *   neon    - any ARMv8-A; the dot-product extension is used when present
 * TERNBENCH_ISA=scalar|avx2|avx512|neon forces a level.
 */
#ifndef TB_CPU_H
#define TB_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "tb_error.h"

enum tb_cpu_feature {
    TB_CPU_SSE42 = 1u << 0,
    TB_CPU_AVX = 1u << 1,
    TB_CPU_AVX2 = 1u << 2,
    TB_CPU_FMA = 1u << 3,
    TB_CPU_F16C = 1u << 4,
    TB_CPU_AVX512F = 1u << 5,
    TB_CPU_AVX512BW = 1u << 6,
    TB_CPU_AVX512VL = 1u << 7,
    TB_CPU_AVX512DQ = 1u << 8,
    TB_CPU_AVX512VNNI = 1u << 9,
    TB_CPU_AVX512BF16 = 1u << 10,
    TB_CPU_AVX512VBMI = 1u << 11,
    TB_CPU_AVXVNNI = 1u << 12,
    TB_CPU_NEON = 1u << 13,
    TB_CPU_DOTPROD = 1u << 14,
    TB_CPU_I8MM = 1u << 15,
    TB_CPU_FP16 = 1u << 16, /* aarch64 half-precision arithmetic (asimdhp) */
};

/* One row per feature bit, in the order `ternbench info` prints them. */
typedef struct tb_cpu_feature_name {
    uint32_t bit;
    const char *name;
    bool x86;         /* shown on x86-64 (else on aarch64) */
} tb_cpu_feature_name;

extern const tb_cpu_feature_name tb_cpu_feature_names[];
extern const int tb_cpu_feature_count;

/* Raw CPUID/XGETBV values the x86 decoder needs. */
typedef struct tb_cpuid_regs {
    uint32_t max_leaf;        /* CPUID.0:EAX */
    uint32_t l1_ecx;          /* CPUID.1:ECX */
    uint32_t l7_ebx, l7_ecx;  /* CPUID.(7,0):EBX, ECX */
    uint32_t l7s1_eax;        /* CPUID.(7,1):EAX */
    uint64_t xcr0;            /* XGETBV(0); 0 when OSXSAVE is clear */
} tb_cpuid_regs;

uint32_t tb_cpu_features_from_cpuid(const tb_cpuid_regs *regs);
uint32_t tb_cpu_features_from_hwcap(unsigned long hwcap, unsigned long hwcap2);

/* Parses the "flags" (x86) or "Features" (aarch64) line of /proc/cpuinfo
 * text. Used as a cross-check in the tests and where CPUID is unavailable
 * (e.g. qemu-user reports the emulated CPU's flags here). */
uint32_t tb_cpu_features_from_cpuinfo(const char *cpuinfo_text);

typedef struct tb_cpu_info {
    char arch[16];            /* "x86_64" or "aarch64" */
    char model[128];          /* marketing name, or implementer/part on ARM */
    int logical_cpus;         /* online logical CPUs */
    int usable_cpus;          /* of those, what this process may use (tb_cpu_usable) */
    char usable_why[192];     /* what narrowed usable_cpus; "" when nothing did */
    int physical_cores;       /* distinct (package, core) pairs; 0 if unknown */
    uint64_t mem_total_bytes; /* 0 if unknown */
    uint64_t mem_available_bytes;
    uint32_t features;        /* TB_CPU_* bits */
} tb_cpu_info;

/* Fills info for the machine we run on. Never fails: unknown fields stay 0/"". */
void tb_cpu_detect(tb_cpu_info *info);

/* This CPU's TB_CPU_* bits (tb_cpu_detect's features), read once and then
 * remembered: cheap enough for a kernel choice made per product. */
uint32_t tb_cpu_features(void);

/* The CPUs a cgroup CPU quota allows, rounded up: v2's cpu.max ("QUOTA PERIOD",
 * or "max" for none) or v1's cpu.cfs_quota_us / cpu.cfs_period_us (-1 for
 * none), looked up for the cgroup that proc_cgroup_text (/proc/self/cgroup's
 * text) names and for each of its ancestors under cgroup_root, the tightest
 * winning. Returns 0 when no quota applies; otherwise writes the file and its
 * values into why. Pure but for reading files under cgroup_root (tests give
 * a fake tree). */
int tb_cpu_quota_limit(const char *proc_cgroup_text, const char *cgroup_root, char *why,
                       size_t cap);

/* How many threads this process can run at once: the online CPUs, narrowed by
 * its affinity mask (taskset, a container's cpuset) and by a cgroup quota (a
 * container's --cpus). A pool larger than this makes its threads wait for one
 * another. why (may be NULL) says what narrowed it, "" when nothing did. The
 * default thread count of every command. */
int tb_cpu_usable(char *why, size_t cap);

typedef enum tb_isa {
    TB_ISA_SCALAR,
    TB_ISA_AVX2,
    TB_ISA_AVX512,
    TB_ISA_NEON,
    TB_ISA_COUNT
} tb_isa;

const char *tb_isa_name(tb_isa isa);
/* Which features an ISA level needs, as a person would read them. */
const char *tb_isa_requirements(tb_isa isa);
bool tb_isa_supported(tb_isa isa, uint32_t features);
/* The best level this build and these features allow. */
tb_isa tb_isa_best(uint32_t features);
/* Chooses the ISA: `forced` (TERNBENCH_ISA's value, NULL or "" for none)
 * must name a level the CPU supports; otherwise the best one. */
int tb_isa_select(uint32_t features, const char *forced, tb_isa *out, tb_error *err);

#endif
