/* test_cpu.c - CPU feature decoding and ISA selection, on made-up CPUs. */
#include "testutil.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu.h"

enum {
    L1_SSE42 = 1u << 20, L1_FMA = 1u << 12, L1_OSXSAVE = 1u << 27,
    L1_AVX = 1u << 28, L1_F16C = 1u << 29,
    L7B_AVX2 = 1u << 5, L7B_F = 1u << 16, L7B_DQ = 1u << 17,
    L7B_BW = 1u << 30, L7B_VL = 1u << 31,
    L7C_VBMI = 1u << 1, L7C_VNNI = 1u << 11,
    L71A_AVXVNNI = 1u << 4, L71A_BF16 = 1u << 5,
};

/* x86 variants exist only in the x86-64 build; elsewhere x86 bits pick scalar. */
#if defined(__x86_64__)
#define ASSERT_BEST(f, isa) assert_int_equal(tb_isa_best(f), (isa))
#else
#define ASSERT_BEST(f, isa) assert_int_equal(tb_isa_best(f), TB_ISA_SCALAR)
#endif

static tb_cpuid_regs zen4(void)
{
    tb_cpuid_regs r = {
        .max_leaf = 16,
        .l1_ecx = L1_SSE42 | L1_FMA | L1_OSXSAVE | L1_AVX | L1_F16C,
        .l7_ebx = L7B_AVX2 | L7B_F | L7B_DQ | L7B_BW | L7B_VL,
        .l7_ecx = L7C_VBMI | L7C_VNNI,
        .l7s1_eax = L71A_BF16,
        .xcr0 = 0xe7,
    };
    return r;
}

static void test_zen4_features(void **state)
{
    (void)state;
    tb_cpuid_regs r = zen4();
    uint32_t f = tb_cpu_features_from_cpuid(&r);
    uint32_t want = TB_CPU_SSE42 | TB_CPU_AVX | TB_CPU_AVX2 | TB_CPU_FMA | TB_CPU_F16C |
                    TB_CPU_AVX512F | TB_CPU_AVX512BW | TB_CPU_AVX512VL | TB_CPU_AVX512DQ |
                    TB_CPU_AVX512VNNI | TB_CPU_AVX512BF16 | TB_CPU_AVX512VBMI;
    assert_int_equal(f, want);
    assert_false(f & TB_CPU_AVXVNNI);
    ASSERT_BEST(f, TB_ISA_AVX512);
}

static void test_os_without_zmm_state(void **state)
{
    (void)state;
    /* The CPU has AVX-512 but the OS does not save ZMM registers. */
    tb_cpuid_regs r = zen4();
    r.xcr0 = 0x7;
    uint32_t f = tb_cpu_features_from_cpuid(&r);
    assert_true(f & TB_CPU_AVX2);
    assert_false(f & (TB_CPU_AVX512F | TB_CPU_AVX512VNNI | TB_CPU_AVX512BF16));
    ASSERT_BEST(f, TB_ISA_AVX2);
}

static void test_no_osxsave_means_no_avx(void **state)
{
    (void)state;
    tb_cpuid_regs r = zen4();
    r.l1_ecx &= ~(uint32_t)L1_OSXSAVE;
    uint32_t f = tb_cpu_features_from_cpuid(&r);
    assert_int_equal(f, TB_CPU_SSE42);
    ASSERT_BEST(f, TB_ISA_SCALAR);
}

static void test_alder_lake_avx_vnni(void **state)
{
    (void)state;
    tb_cpuid_regs r = {.max_leaf = 32,
                       .l1_ecx = L1_SSE42 | L1_FMA | L1_OSXSAVE | L1_AVX | L1_F16C,
                       .l7_ebx = L7B_AVX2,
                       .l7s1_eax = L71A_AVXVNNI,
                       .xcr0 = 0x7};
    uint32_t f = tb_cpu_features_from_cpuid(&r);
    assert_true(f & TB_CPU_AVXVNNI);
    assert_false(f & TB_CPU_AVX512F);
    ASSERT_BEST(f, TB_ISA_AVX2);
}

static void test_skylake_x_lacks_vnni(void **state)
{
    (void)state;
    /* AVX-512 F/BW/VL/DQ without VNNI: our avx512 kernels need VNNI. */
    tb_cpuid_regs r = zen4();
    r.l7_ecx = 0;
    r.l7s1_eax = 0;
    uint32_t f = tb_cpu_features_from_cpuid(&r);
    assert_true(f & TB_CPU_AVX512F);
    assert_false(tb_isa_supported(TB_ISA_AVX512, f));
    ASSERT_BEST(f, TB_ISA_AVX2);
}

static void test_old_cpu_low_max_leaf(void **state)
{
    (void)state;
    tb_cpuid_regs r = {.max_leaf = 5, .l1_ecx = L1_SSE42, .l7_ebx = L7B_AVX2};
    assert_int_equal(tb_cpu_features_from_cpuid(&r), TB_CPU_SSE42);
    tb_cpuid_regs none = {0};
    assert_int_equal(tb_cpu_features_from_cpuid(&none), 0);
}

static void test_hwcap(void **state)
{
    (void)state;
    uint32_t f = tb_cpu_features_from_hwcap((1ul << 1) | (1ul << 20) | (1ul << 10), 1ul << 13);
    assert_int_equal(f, TB_CPU_NEON | TB_CPU_DOTPROD | TB_CPU_FP16 | TB_CPU_I8MM);
    assert_int_equal(tb_cpu_features_from_hwcap(1ul << 1, 0), TB_CPU_NEON);
#if defined(__aarch64__)
    assert_int_equal(tb_isa_best(f), TB_ISA_NEON);
#endif
}

static void test_cpuinfo_x86(void **state)
{
    (void)state;
    const char *text =
        "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n"
        "flags\t\t: fpu sse4_1 sse4_2 avx f16c fma avx2 avx512f avx512dq avx512bw avx512vl "
        "avx512_bf16 avx512vbmi avx512_vbmi2 avx512_vnni avx512fp16x\n"
        "processor\t: 1\nflags\t\t: fpu\n";
    uint32_t f = tb_cpu_features_from_cpuinfo(text);
    assert_int_equal(f, TB_CPU_SSE42 | TB_CPU_AVX | TB_CPU_F16C | TB_CPU_FMA | TB_CPU_AVX2 |
                            TB_CPU_AVX512F | TB_CPU_AVX512DQ | TB_CPU_AVX512BW |
                            TB_CPU_AVX512VL | TB_CPU_AVX512BF16 | TB_CPU_AVX512VBMI |
                            TB_CPU_AVX512VNNI);
}

static void test_cpuinfo_aarch64(void **state)
{
    (void)state;
    const char *text = "processor\t: 0\nBogoMIPS\t: 108.00\n"
                       "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp "
                       "asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\n";
    assert_int_equal(tb_cpu_features_from_cpuinfo(text), TB_CPU_NEON | TB_CPU_FP16 | TB_CPU_DOTPROD);
    assert_int_equal(tb_cpu_features_from_cpuinfo(""), 0);
    assert_int_equal(tb_cpu_features_from_cpuinfo("flags\t: avx2x avx51\n"), 0);
}

static void test_isa_select(void **state)
{
    (void)state;
    tb_cpuid_regs r = zen4();
    uint32_t f = tb_cpu_features_from_cpuid(&r);
    tb_isa isa;
    tb_error err;
    assert_int_equal(tb_isa_select(f, NULL, &isa, &err), 0);
#if defined(__x86_64__)
    assert_int_equal(isa, TB_ISA_AVX512);
    assert_int_equal(tb_isa_select(f, "avx2", &isa, &err), 0);
    assert_int_equal(isa, TB_ISA_AVX2);
    assert_int_equal(tb_isa_select(f, "neon", &isa, &err), TB_ENOTSUP);
    assert_non_null(strstr(err.text, "TERNBENCH_ISA=neon"));
    /* A CPU with only AVX2, asked for avx512: refused, naming what is missing. */
    r.xcr0 = 0x7;
    assert_int_equal(tb_isa_select(tb_cpu_features_from_cpuid(&r), "avx512", &isa, &err),
                     TB_ENOTSUP);
    assert_non_null(strstr(err.text, "AVX512-VNNI"));
    assert_non_null(strstr(err.text, "avx2"));
#endif
    assert_int_equal(tb_isa_select(f, "scalar", &isa, &err), 0);
    assert_int_equal(isa, TB_ISA_SCALAR);
    assert_int_equal(tb_isa_select(f, "sse9", &isa, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "sse9"));
}

static void test_detect_runs(void **state)
{
    (void)state;
    tb_cpu_info info;
    tb_cpu_detect(&info);
    assert_true(info.logical_cpus >= 1);
    assert_true(info.arch[0] != '\0');
    tb_isa isa = tb_isa_best(info.features);
    assert_true(tb_isa_supported(isa, info.features));
}

/* Containers limit CPUs with a cgroup quota that sysconf() does not see. */
static void test_cgroup_quota(void **state)
{
    (void)state;
    char *root = tb_tmpdir(), why[512] = "";
    /* v2: no quota at the leaf ("max"), 1.5 CPUs at its parent, 4 at the root */
    tb_write(root, "ci.slice/job-7.scope/cpu.max", "max 100000\n");
    tb_write(root, "ci.slice/cpu.max", "150000 100000\n");
    tb_write(root, "cpu.max", "400000 100000\n");
    assert_int_equal(tb_cpu_quota_limit("0::/ci.slice/job-7.scope\n", root, why, sizeof why), 2);
    assert_non_null(strstr(why, "150000 us per 100000 us"));
    assert_non_null(strstr(why, "ci.slice/cpu.max"));
    /* a container sees its own cgroup as "/" */
    assert_int_equal(tb_cpu_quota_limit("0::/\n", root, why, sizeof why), 4);
    /* v1: the cpu controller's hierarchy, quota -1 (none) at the leaf */
    tb_write(root, "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
    tb_write(root, "cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
    tb_write(root, "cpu,cpuacct/docker/cpu.cfs_quota_us", "50000\n");
    tb_write(root, "cpu,cpuacct/docker/cpu.cfs_period_us", "100000\n");
    const char *v1 = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/\n";
    assert_int_equal(tb_cpu_quota_limit(v1, root, why, sizeof why), 1);
    assert_non_null(strstr(why, "cpu.cfs_quota_us"));
    /* no quota anywhere; a controller list without "cpu" (cpuacct alone) is not read */
    assert_int_equal(tb_cpu_quota_limit("3:cpuacct:/docker/abc\n", root, why, sizeof why), 0);
    char none[1100];
    snprintf(none, sizeof none, "%s/none", root);
    assert_int_equal(tb_cpu_quota_limit("0::/elsewhere\n", none, why, sizeof why), 0);
    assert_int_equal(tb_cpu_quota_limit("garbage", root, why, sizeof why), 0);
    tb_rmtree(root);
    free(root);
    char *odd = tb_tmpdir(); /* unreadable values are no quota */
    tb_write(odd, "a/cpu.max", "lots 100000\n");
    tb_write(odd, "cpu.max", "0 100000\n");
    assert_int_equal(tb_cpu_quota_limit("0::/a\n", odd, why, sizeof why), 0);
    tb_rmtree(odd);
    free(odd);
}

static void test_usable_cpus(void **state)
{
    (void)state;
    char why[256];
    int n = tb_cpu_usable(why, sizeof why);
    assert_true(n >= 1 && n <= sysconf(_SC_NPROCESSORS_ONLN));
    cpu_set_t one;
    CPU_ZERO(&one);
    cpu_set_t saved;
    assert_int_equal(sched_getaffinity(0, sizeof saved, &saved), 0);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &saved)) {
            CPU_SET(c, &one);
            break;
        }
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    assert_int_equal(tb_cpu_usable(why, sizeof why), 1);
    if (sysconf(_SC_NPROCESSORS_ONLN) > 1)
        assert_non_null(strstr(why, "affinity"));
    assert_int_equal(sched_setaffinity(0, sizeof saved, &saved), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zen4_features),     cmocka_unit_test(test_os_without_zmm_state),
        cmocka_unit_test(test_no_osxsave_means_no_avx), cmocka_unit_test(test_alder_lake_avx_vnni),
        cmocka_unit_test(test_skylake_x_lacks_vnni), cmocka_unit_test(test_old_cpu_low_max_leaf),
        cmocka_unit_test(test_hwcap),             cmocka_unit_test(test_cpuinfo_x86),
        cmocka_unit_test(test_cpuinfo_aarch64),   cmocka_unit_test(test_isa_select),
        cmocka_unit_test(test_detect_runs),       cmocka_unit_test(test_cgroup_quota),
        cmocka_unit_test(test_usable_cpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
