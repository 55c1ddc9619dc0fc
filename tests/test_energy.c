/*
 * test_energy.c - meters and the sampler on fake sysfs trees and a fake I2C
 * bus, with scripted readings whose true energy is known exactly.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "estimate.h"
#include "meters.h"
#include "sampler.h"

static char *root;

static int setup(void **state)
{
    (void)state;
    root = tb_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tb_rmtree(root);
    free(root);
    return 0;
}

static void put(const char *rel, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(const char *rel, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    tb_write(root, rel, text);
}

static int domain_index(const tb_energy_result *r, const char *name)
{
    for (int i = 0; i < r->ndomains; i++)
        if (strcmp(r->domain[i].name, name) == 0)
            return i;
    fail_msg("no domain %s", name);
    return -1;
}

/* A package with core and dram subzones; counters in microjoules. */
static void rapl_tree(uint64_t range)
{
    put("class/powercap/intel-rapl/enabled", "1\n");
    put("class/powercap/intel-rapl:0/name", "package-0\n");
    put("class/powercap/intel-rapl:0:0/name", "core\n");
    put("class/powercap/intel-rapl:0:1/name", "dram\n");
    const char *zones[] = {"intel-rapl:0", "intel-rapl:0:0", "intel-rapl:0:1"};
    for (int i = 0; i < 3; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "class/powercap/%s/max_energy_range_uj", zones[i]);
        if (range)
            put(rel, "%llu\n", (unsigned long long)range);
        snprintf(rel, sizeof rel, "class/powercap/%s/energy_uj", zones[i]);
        put(rel, "0\n");
    }
}

static void rapl_set(uint64_t pkg, uint64_t core, uint64_t dram)
{
    put("class/powercap/intel-rapl:0/energy_uj", "%llu\n", (unsigned long long)pkg);
    put("class/powercap/intel-rapl:0:0/energy_uj", "%llu\n", (unsigned long long)core);
    put("class/powercap/intel-rapl:0:1/energy_uj", "%llu\n", (unsigned long long)dram);
}

static void test_rapl_wraps_once_and_several_times(void **state)
{
    (void)state;
    /* range 1e6 uJ = 1 J; at the default 500 W it could wrap every 2 ms, so
     * the script samples every 1 ms. */
    rapl_tree(1000000);
    rapl_set(100000, 50000, 0);
    tb_meter *m;
    tb_error err;
    assert_int_equal(tb_meter_open_rapl(root, &m, &err), TB_OK);
    assert_int_equal(m->ndomains, 3);
    tb_sampler *s = tb_sampler_new(m, 0.001);
    assert_int_equal(tb_sampler_begin(s, 10.000, &err), TB_OK);
    /* package: 100000 -> 900000 -> (wrap) 300000 -> (wrap) 200000 -> (wrap) 50000 -> 60000 */
    uint64_t pkg[] = {900000, 300000, 200000, 50000, 60000};
    uint64_t core[] = {60000, 70000, 80000, 90000, 100000};
    uint64_t dram[] = {1000, 999000, 1000, 2000, 3000}; /* wraps once, at the third step */
    double dram_true = 1000 + 998000 + (1000000 - 999000 + 1000) + 1000 + 1000;
    for (int i = 0; i < 5; i++) {
        rapl_set(pkg[i], core[i], dram[i]);
        if (i < 4)
            assert_int_equal(tb_sampler_step(s, 10.001 + 0.001 * i, &err), TB_OK);
        else {
            tb_energy_result r;
            assert_int_equal(tb_sampler_end(s, 10.005, &r, &err), TB_OK);
            int p = domain_index(&r, "package-0"), c = domain_index(&r, "package-0/core"),
                d = domain_index(&r, "package-0/dram");
            double pkg_true = (900000 - 100000) + (1000000 - 900000 + 300000) +
                              (1000000 - 300000 + 200000) + (1000000 - 200000 + 50000) + 10000;
            assert_double_equal(r.joules[p], pkg_true * 1e-6, 1e-12);
            assert_int_equal(r.wraps[p], 3);
            assert_double_equal(r.joules[c], 50000e-6, 1e-12);
            assert_int_equal(r.wraps[c], 0);
            assert_double_equal(r.joules[d], dram_true * 1e-6, 1e-12);
            assert_int_equal(r.wraps[d], 1);
            /* core lies inside the package: not added; dram is outside: added */
            assert_true(r.domain[p].in_total && r.domain[d].in_total && !r.domain[c].in_total);
            assert_double_equal(r.total_j, r.joules[p] + r.joules[d], 1e-12);
            assert_double_equal(r.seconds, 0.005, 1e-9);
            assert_int_equal(r.samples, 6);
            assert_int_equal(r.wrap_unsure[p], 0);
        }
    }
    tb_sampler_free(s);
    tb_meter_close(m);
}

static void test_rapl_long_gap_is_flagged(void **state)
{
    (void)state;
    rapl_tree(1000000);
    put("class/powercap/intel-rapl:0/constraint_0_max_power_uw", "100000000\n"); /* 100 W */
    rapl_set(0, 0, 0);
    tb_meter *m;
    tb_error err;
    assert_int_equal(tb_meter_open_rapl(root, &m, &err), TB_OK);
    tb_sampler *s = tb_sampler_new(m, 0.001);
    assert_int_equal(tb_sampler_begin(s, 0, &err), TB_OK);
    rapl_set(500000, 0, 0);
    tb_energy_result r;
    /* 1 J range at 100 W wraps in 10 ms: 50 ms between samples may hide wraps */
    assert_int_equal(tb_sampler_end(s, 0.050, &r, &err), TB_OK);
    int p = domain_index(&r, "package-0");
    assert_int_equal(r.wrap_unsure[p], 1);
    char warn[1024];
    assert_true(tb_energy_result_warnings(&r, warn, sizeof warn) >= 1);
    assert_non_null(strstr(warn, "package-0"));
    assert_non_null(strstr(warn, "wrapped more than once"));
    tb_sampler_free(s);
    tb_meter_close(m);
}

static void test_rapl_missing_range_loses_interval(void **state)
{
    (void)state;
    rapl_tree(0); /* no max_energy_range_uj */
    rapl_set(5000, 0, 0);
    tb_meter *m;
    tb_error err;
    assert_int_equal(tb_meter_open_rapl(root, &m, &err), TB_OK);
    tb_sampler *s = tb_sampler_new(m, 0.001);
    assert_int_equal(tb_sampler_begin(s, 0, &err), TB_OK);
    rapl_set(7000, 0, 0);
    assert_int_equal(tb_sampler_step(s, 0.001, &err), TB_OK);
    rapl_set(1000, 0, 0); /* backwards, range unknown: this interval is lost */
    assert_int_equal(tb_sampler_step(s, 0.002, &err), TB_OK);
    rapl_set(1500, 0, 0);
    tb_energy_result r;
    assert_int_equal(tb_sampler_end(s, 0.003, &r, &err), TB_OK);
    int p = domain_index(&r, "package-0");
    assert_double_equal(r.joules[p], (2000 + 500) * 1e-6, 1e-12);
    assert_int_equal(r.wrap_unsure[p], 1);
    assert_int_equal(r.wraps[p], 0);
    tb_sampler_free(s);
    tb_meter_close(m);
}

/* A fake RAPL tree with every counter at 100 uJ, its meter, and a 10 ms
 * sampler begun at time 0. */
static tb_sampler *rapl_sampler_at_100(tb_meter **m)
{
    rapl_tree(1u << 30);
    rapl_set(100, 100, 100);
    tb_error err;
    assert_int_equal(tb_meter_open_rapl(root, m, &err), TB_OK);
    tb_sampler *s = tb_sampler_new(*m, 0.01);
    assert_int_equal(tb_sampler_begin(s, 0, &err), TB_OK);
    return s;
}

/* A meter none of whose counters moves (a VM's perf power PMU did this)
 * measured nothing: the window fails rather than report 0 J. */
static void test_frozen_meter_fails(void **state)
{
    (void)state;
    tb_meter *m;
    tb_error err;
    tb_sampler *s = rapl_sampler_at_100(&m);
    for (int i = 1; i < 100; i++)
        assert_int_equal(tb_sampler_step(s, 0.01 * i, &err), TB_OK);
    tb_energy_result r;
    assert_int_equal(tb_sampler_end(s, 1.0, &r, &err), TB_EIO);
    assert_non_null(strstr(err.text, "none of its energy counters moved"));
    /* a short window may legitimately see no tick */
    assert_int_equal(tb_sampler_begin(s, 2.0, &err), TB_OK);
    assert_int_equal(tb_sampler_end(s, 2.1, &r, &err), TB_OK);
    tb_sampler_free(s);
    tb_meter_close(m);
}

static void test_rapl_stalled_counter_is_reported(void **state)
{
    (void)state;
    tb_meter *m;
    tb_error err;
    tb_sampler *s = rapl_sampler_at_100(&m);
    for (int i = 1; i < 50; i++) /* the package never moves; dram does */
        {
            rapl_set(100, 100 + (uint64_t)i, 100 + (uint64_t)i);
            assert_int_equal(tb_sampler_step(s, 0.01 * i, &err), TB_OK);
        }
    tb_energy_result r;
    assert_int_equal(tb_sampler_end(s, 0.5, &r, &err), TB_OK);
    int p = domain_index(&r, "package-0"), d = domain_index(&r, "package-0/dram");
    assert_true(r.max_stall_s[p] >= 0.49);
    assert_true(r.max_stall_s[d] < 0.02);
    char warn[1024];
    assert_int_equal(tb_energy_result_warnings(&r, warn, sizeof warn), 1);
    assert_non_null(strstr(warn, "package-0: the counter did not move"));
    tb_sampler_free(s);
    tb_meter_close(m);
}

static void test_rapl_garbage_and_broken_files(void **state)
{
    (void)state;
    rapl_tree(1000);
    put("class/powercap/intel-rapl:0:1/energy_uj", "12abc\n");
    tb_meter *m = NULL;
    tb_error err;
    assert_int_equal(tb_meter_open_rapl(root, &m, &err), TB_EINVAL);
    assert_null(m);
    assert_non_null(strstr(err.text, "intel-rapl:0:1/energy_uj"));
    assert_non_null(strstr(err.text, "12abc"));
}

static void test_rapl_unreadable_energy_names_the_fix(void **state)
{
    (void)state;
    rapl_tree(1000);
    char path[1100];
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl:0/energy_uj", root);
    chmod(path, 0400);
    chmod(root, 0755);
    /* Root reads anything, so check as an unprivileged user in a child. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && setresuid(65534, 65534, 65534) != 0)
            _exit(10);
        tb_meter *m = NULL;
        tb_error err;
        int rc = tb_meter_open_rapl(root, &m, &err);
        if (rc != TB_EPERM) {
            fprintf(stderr, "rc %d: %s\n", rc, err.text);
            _exit(11);
        }
        if (!strstr(err.text, "chmod o+r") || !strstr(err.text, "perf_event_paranoid") ||
            !strstr(err.text, "intel-rapl:0/energy_uj"))
            _exit(12);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_rapl_psys_and_mmio(void **state)
{
    (void)state;
    put("class/powercap/intel-rapl:0/name", "package-0\n");
    put("class/powercap/intel-rapl:0/energy_uj", "0\n");
    put("class/powercap/intel-rapl:1/name", "psys\n");
    put("class/powercap/intel-rapl:1/energy_uj", "0\n");
    put("class/powercap/intel-rapl-mmio:0/name", "package-0\n");
    put("class/powercap/intel-rapl-mmio:0/energy_uj", "0\n");
    tb_meter *m;
    tb_error err;
    assert_int_equal(tb_meter_open_rapl(root, &m, &err), TB_OK);
    assert_int_equal(m->ndomains, 2); /* the mmio copy of package-0 is skipped */
    for (int i = 0; i < m->ndomains; i++)
        assert_int_equal(m->domain[i].in_total, strcmp(m->domain[i].name, "psys") == 0);
    tb_meter_close(m);
}

static void test_rapl_absent(void **state)
{
    (void)state;
    tb_meter *m = NULL;
    tb_error err;
    assert_int_equal(tb_meter_open_rapl(root, &m, &err), TB_ENOTSUP);
    assert_non_null(strstr(err.text, "powercap"));
    assert_int_equal(tb_meter_open_auto(root, &m, &err), TB_ENOTSUP);
    assert_non_null(strstr(err.text, "no energy meter"));
    assert_non_null(strstr(err.text, "ina219-i2c"));
}

/* ---- INA219 via hwmon ---- */

static void test_ina219_hwmon_power_integrates(void **state)
{
    (void)state;
    put("class/hwmon/hwmon0/name", "k10temp\n");
    put("class/hwmon/hwmon2/name", "ina219\n");
    put("class/hwmon/hwmon2/power1_input", "2000000\n"); /* 2 W */
    put("class/hwmon/hwmon2/update_interval", "4\n");
    tb_meter *m;
    tb_error err;
    assert_int_equal(tb_meter_open_auto(root, &m, &err), TB_OK);
    assert_int_equal(m->kind, TB_METER_INA219);
    assert_true(m->is_power);
    assert_double_equal(m->default_interval_s, 0.004, 1e-12);
    tb_sampler *s = tb_sampler_new(m, 0);
    assert_int_equal(tb_sampler_begin(s, 0, &err), TB_OK);
    put("class/hwmon/hwmon2/power1_input", "4000000\n");
    assert_int_equal(tb_sampler_step(s, 1.0, &err), TB_OK);
    put("class/hwmon/hwmon2/power1_input", "1000000\n");
    tb_energy_result r;
    assert_int_equal(tb_sampler_end(s, 3.0, &r, &err), TB_OK);
    /* trapezoids: (2+4)/2*1 + (4+1)/2*2 = 3 + 5 */
    assert_double_equal(r.total_j, 8.0, 1e-12);
    assert_double_equal(r.seconds, 3.0, 1e-12);
    tb_sampler_free(s);
    tb_meter_close(m);
}

static void test_ina219_hwmon_voltage_times_current(void **state)
{
    (void)state;
    put("class/hwmon/hwmon1/name", "ina226\n");
    put("class/hwmon/hwmon1/in1_input", "5000\n");   /* 5 V */
    put("class/hwmon/hwmon1/curr1_input", "400\n");  /* 0.4 A */
    tb_meter *m;
    tb_error err;
    assert_int_equal(tb_meter_open_ina219_hwmon(root, "hwmon1", &m, &err), TB_OK);
    tb_sampler *s = tb_sampler_new(m, 0.01);
    assert_int_equal(tb_sampler_begin(s, 0, &err), TB_OK);
    tb_energy_result r;
    assert_int_equal(tb_sampler_end(s, 0.5, &r, &err), TB_OK);
    assert_double_equal(r.total_j, 2.0 * 0.5, 1e-12);
    tb_sampler_free(s);
    tb_meter_close(m);
    assert_int_equal(tb_meter_open_ina219_hwmon(root, "hwmon7", &m, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "hwmon7"));
}

/* ---- INA219 on a fake I2C bus ---- */

typedef struct fake_ina {
    uint16_t reg[6];
    int writes;
    uint16_t bus_script[16];  /* successive bus-register reads */
    int bus_reads;
    uint16_t power_script[16];
    int power_reads;
    bool dead;
} fake_ina;

static int fake_read(void *ctx, uint8_t reg, uint16_t *v)
{
    fake_ina *f = ctx;
    if (f->dead)
        return -5;
    if (reg == 0x02)
        *v = f->bus_script[f->bus_reads++];
    else if (reg == 0x03)
        *v = f->power_script[f->power_reads++];
    else
        *v = f->reg[reg];
    return 0;
}

static int fake_write(void *ctx, uint8_t reg, uint16_t v)
{
    fake_ina *f = ctx;
    if (f->dead)
        return -5;
    f->reg[reg] = (reg == 0x05) ? (uint16_t)(v & 0xfffe) : v;
    f->writes++;
    return 0;
}

static void test_ina219_calibration(void **state)
{
    (void)state;
    tb_ina219_calibration cal;
    tb_error err;
    /* The datasheet's worked example class: 0.1 ohm, 3.2 A -> default config 0x399F. */
    tb_ina219_config cfg = {.shunt_ohms = 0.1, .max_current_a = 3.2, .bus_volts_max = 32,
                            .adc_samples = 1};
    assert_int_equal(tb_ina219_calibrate(&cfg, &cal, &err), TB_OK);
    assert_int_equal(cal.config, 0x399f);
    assert_int_equal(cal.calibration, 4194); /* trunc(0.04096 / (3.2/32768 * 0.1)) */
    /* 2 A over 0.1 ohm: LSB 2/32768 A, CAL = trunc(6710.89) = 6710 */
    cfg.max_current_a = 2.0;
    assert_int_equal(tb_ina219_calibrate(&cfg, &cal, &err), TB_OK);
    assert_int_equal(cal.calibration, 6710);
    assert_int_equal(cal.config, 0x399f); /* 0.2 V still needs the 320 mV range */
    assert_double_equal(cal.current_lsb_a, 0.04096 / (6710 * 0.1), 1e-15);
    assert_double_equal(cal.power_lsb_w, 20 * cal.current_lsb_a, 1e-15);
    /* CAL = 4096 would need 0.32768 V across the shunt: beyond the range */
    cfg.max_current_a = 3.2768;
    assert_int_equal(tb_ina219_calibrate(&cfg, &cal, &err), TB_EINVAL);
    /* 16 V range, 0.4 A over 0.1 ohm = 40 mV: gain /1; 128-sample averaging */
    cfg = (tb_ina219_config){.shunt_ohms = 0.1, .max_current_a = 0.4, .bus_volts_max = 16,
                             .adc_samples = 128};
    assert_int_equal(tb_ina219_calibrate(&cfg, &cal, &err), TB_OK);
    assert_int_equal(cal.config, (0u << 13) | (0u << 11) | (0xfu << 7) | (0xfu << 3) | 7u);
    assert_double_equal(cal.conversion_s, 2 * 532e-6 * 128, 1e-12);
    /* too much current for the shunt range */
    cfg = (tb_ina219_config){.shunt_ohms = 0.1, .max_current_a = 5, .adc_samples = 1};
    assert_int_equal(tb_ina219_calibrate(&cfg, &cal, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "0.32 V"));
    cfg = (tb_ina219_config){.shunt_ohms = 0.1, .max_current_a = 1, .adc_samples = 3};
    assert_int_equal(tb_ina219_calibrate(&cfg, &cal, &err), TB_EINVAL);
}

static void test_ina219_i2c_samples(void **state)
{
    (void)state;
    enum { CNVR = 2, OVF = 1, V5 = (5000 / 4) << 3 };
    fake_ina f = {.bus_script = {V5 | CNVR, V5 | CNVR, V5, V5 | CNVR | OVF, V5 | CNVR, V5 | CNVR},
                  .power_script = {1000, 2000, 3000, 1000}};
    tb_i2c_io io = {fake_read, fake_write, NULL, &f};
    tb_ina219_config cfg = {.shunt_ohms = 0.1, .max_current_a = 2.0, .adc_samples = 1};
    tb_meter *m;
    tb_error err;
    assert_int_equal(tb_meter_open_ina219_i2c(NULL, 1, 0x40, &cfg, &io, &m, &err), TB_OK);
    assert_int_equal(f.reg[0], 0x399f);
    assert_int_equal(f.reg[5], 6710);
    double lsb = 20 * 0.04096 / (6710 * 0.1); /* watts per power-register count */
    tb_sampler *s = tb_sampler_new(m, 0);
    assert_int_equal(tb_sampler_begin(s, 0.0, &err), TB_OK);     /* 1000 counts */
    assert_int_equal(tb_sampler_step(s, 1.0, &err), TB_OK);      /* 2000 */
    assert_int_equal(tb_sampler_step(s, 2.0, &err), TB_OK);      /* not ready: skipped */
    assert_int_equal(tb_sampler_step(s, 3.0, &err), TB_OK);      /* overflow: dropped */
    assert_int_equal(tb_sampler_step(s, 4.0, &err), TB_OK);      /* 3000 */
    tb_energy_result r;
    assert_int_equal(tb_sampler_end(s, 5.0, &r, &err), TB_OK);   /* 1000 */
    /* trapezoids in counts: (1000+2000)/2*1 + (2000+3000)/2*3 + (3000+1000)/2*1 */
    assert_double_equal(r.total_j, lsb * (1500 + 7500 + 2000), 1e-9);
    assert_int_equal(r.overflows[0], 1);
    assert_int_equal(r.not_ready[0], 1);
    assert_int_equal(r.used[0], 4);
    assert_int_equal(f.power_reads, 4); /* power is never read without a ready conversion */
    char warn[1024];
    assert_int_equal(tb_energy_result_warnings(&r, warn, sizeof warn), 1);
    assert_non_null(strstr(warn, "overflow"));
    tb_sampler_free(s);
    tb_meter_close(m);
}

static void test_ina219_i2c_errors(void **state)
{
    (void)state;
    fake_ina f = {.dead = true};
    tb_i2c_io io = {fake_read, fake_write, NULL, &f};
    tb_ina219_config cfg = {.shunt_ohms = 0.1, .max_current_a = 3.2, .adc_samples = 1};
    tb_meter *m = NULL;
    tb_error err;
    assert_int_equal(tb_meter_open_ina219_i2c(NULL, 1, 0x40, &cfg, &io, &m, &err), TB_EIO);
    assert_non_null(strstr(err.text, "no answer at 0x40"));
    assert_int_equal(tb_meter_open_ina219_i2c(NULL, 1, 0x3f, &cfg, &io, &m, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "0x40-0x4F"));
    assert_int_equal(tb_meter_open_ina219_i2c(root, 7, 0x41, &cfg, NULL, &m, &err), TB_ENOTSUP);
    assert_non_null(strstr(err.text, "i2c-7"));
    assert_null(m);
}

/* ---- perf power PMU with a fake syscall ---- */

typedef struct fake_perf {
    uint64_t count[8];
    int opened;
    int fail_errno;
    uint64_t config[8];
    int cpu[8];
} fake_perf;

static int fp_open(void *ctx, uint32_t type, uint64_t config, int cpu)
{
    fake_perf *f = ctx;
    assert_int_equal(type, 23);
    if (f->fail_errno)
        return -f->fail_errno;
    f->config[f->opened] = config;
    f->cpu[f->opened] = cpu;
    return f->opened++;
}

static int fp_read(void *ctx, int fd, uint64_t *count)
{
    *count = ((fake_perf *)ctx)->count[fd];
    return 0;
}

static void fp_close(void *ctx, int fd)
{
    (void)ctx;
    (void)fd;
}

static void perf_tree(void)
{
    put("bus/event_source/devices/power/type", "23\n");
    put("bus/event_source/devices/power/cpumask", "0,8\n");
    put("bus/event_source/devices/power/events/energy-pkg", "event=0x02\n");
    put("bus/event_source/devices/power/events/energy-pkg.scale", "2.3283064365386962890625e-10\n");
    put("bus/event_source/devices/power/events/energy-pkg.unit", "Joules\n");
    put("bus/event_source/devices/power/events/energy-cores", "event=0x01\n");
    put("bus/event_source/devices/power/events/energy-cores.scale", "2.3283064365386962890625e-10\n");
}

static void test_perf_power(void **state)
{
    (void)state;
    perf_tree();
    fake_perf f = {.count = {1000, 2000, 500, 700}};
    tb_perf_io io = {fp_open, fp_read, fp_close, &f};
    tb_meter *m;
    tb_error err;
    assert_int_equal(tb_meter_open_perf_power(root, &io, &m, &err), TB_OK);
    assert_int_equal(m->ndomains, 4); /* pkg and cores on two packages */
    assert_int_equal(f.config[0], 2);
    assert_int_equal(f.cpu[1], 8);
    assert_string_equal(m->domain[0].name, "energy-pkg@cpu0");
    tb_sampler *s = tb_sampler_new(m, 0);
    assert_int_equal(tb_sampler_begin(s, 0, &err), TB_OK);
    f.count[0] += 1ull << 32; /* 1 J on package 0 */
    f.count[1] += 1ull << 33; /* 2 J on package 1 */
    f.count[2] += 1ull << 31; /* 0.5 J of cores: inside the packages */
    tb_energy_result r;
    assert_int_equal(tb_sampler_end(s, 1.0, &r, &err), TB_OK);
    assert_double_equal(r.joules[0], 1.0, 1e-12);
    assert_double_equal(r.joules[2], 0.5, 1e-12);
    assert_double_equal(r.total_j, 3.0, 1e-12);
    tb_sampler_free(s);
    tb_meter_close(m);

    f = (fake_perf){.fail_errno = 13};
    assert_int_equal(tb_meter_open_perf_power(root, &io, &m, &err), TB_EPERM);
    assert_non_null(strstr(err.text, "perf_event_paranoid=0"));
    put("bus/event_source/devices/power/events/energy-pkg.unit", "Watts\n");
    f = (fake_perf){0};
    assert_int_equal(tb_meter_open_perf_power(root, &io, &m, &err), TB_EINVAL);
    assert_non_null(strstr(err.text, "energy-pkg.unit"));
}

/* ---- estimates ---- */

static void test_estimates(void **state)
{
    (void)state;
    tb_estimate_model lin = tb_estimate_default(TB_ESTIMATE_LINEAR, 4);
    lin.idle_w = 5;
    lin.core_w = 12;
    double idle;
    assert_double_equal(tb_estimate_joules(&lin, 2.0, 3.0, &idle), 5 * 2.0 + 12 * 3.0, 1e-12);
    assert_double_equal(idle, 10.0, 1e-12);
    tb_estimate_model proxy = tb_estimate_default(TB_ESTIMATE_BITNET_PROXY, 4);
    /* 2 s wall, 3 CPU-seconds on 4 CPUs: 37.5 % utilisation of 200 W for 2 s */
    assert_double_equal(tb_estimate_joules(&proxy, 2.0, 3.0, &idle), 200 * 0.375 * 2.0, 1e-12);
    assert_double_equal(idle, 0, 0);
    assert_string_equal(tb_estimate_label(TB_ESTIMATE_BITNET_PROXY), "estimate:bitnet-proxy");
}

static void test_sampler_thread(void **state)
{
    (void)state;
    put("class/hwmon/hwmon0/name", "ina219\n");
    put("class/hwmon/hwmon0/power1_input", "3000000\n"); /* a constant 3 W */
    tb_meter *m;
    tb_error err;
    assert_int_equal(tb_meter_open_ina219_hwmon(root, NULL, &m, &err), TB_OK);
    tb_sampler *s = tb_sampler_new(m, 0.002);
    assert_int_equal(tb_sampler_start(s, &err), TB_OK);
    usleep(100000);
    tb_energy_result r;
    assert_int_equal(tb_sampler_stop(s, &r, &err), TB_OK);
    assert_true(r.samples >= 5);
    assert_double_equal(r.total_j, 3.0 * r.seconds, 1e-9);
    tb_sampler_free(s);
    tb_meter_close(m);
}

/* A 100 W energy counter on the real clock: joules = 100 x seconds since it
 * was opened, whenever it is read. */
static int clock_meter_sample(tb_meter *m, double now_s, tb_meter_sample *out, tb_error *err)
{
    (void)err;
    out->value[0] = 100.0 * (now_s - *(double *)m->impl);
    out->valid[0] = true;
    return TB_OK;
}

static void clock_meter_close(tb_meter *m)
{
    free(m->impl);
}

/* The window is the run: stopping the sampler reads the meter then, not at
 * the sampler thread's next tick. A 20 ms run on a 100 W meter sampled every
 * 5 ms (RAPL's interval) and every 50 ms (perf-power's) must give 2 J over
 * 20 ms; before, the window ran on to the next tick (+0.8 ms and +31.6 ms on
 * average, up to +158 % of the joules at 50 ms). */
static void test_sampler_window_ends_with_the_run(void **state)
{
    (void)state;
    static const tb_meter_ops ops = {clock_meter_sample, clock_meter_close};
    double *t0 = malloc(sizeof *t0);
    *t0 = tb_now();
    tb_meter *m = tb_meter_new(TB_METER_RAPL, &ops, t0);
    tb_meter_add_domain(m, "package-0", true);
    tb_error err;
    static const double intervals[2] = {0.005, 0.050};
    for (int k = 0; k < 2; k++) {
        tb_sampler *s = tb_sampler_new(m, intervals[k]);
        double worst = 0, sum = 0;
        for (int rep = 0; rep < 8; rep++) {
            tb_energy_result r;
            double begin = tb_now();
            assert_int_equal(tb_sampler_start(s, &err), TB_OK);
            usleep(20000 + 1700 * rep); /* the run, ending at an arbitrary phase of the ticks */
            double end = tb_now();
            assert_int_equal(tb_sampler_stop(s, &r, &err), TB_OK);
            double over = r.seconds - (end - begin);
            worst = fabs(over) > worst ? fabs(over) : worst;
            sum += over;
            assert_double_equal(r.total_j, 100 * r.seconds, 1e-6);
        }
        print_message("interval %.0f ms: the window overran the run by %+.3f ms on average, "
                      "%.3f ms at most\n", 1e3 * intervals[k], 1e3 * sum / 8, 1e3 * worst);
        assert_true(worst < 0.002); /* the reading itself and a thread join, no tick */
        tb_sampler_free(s);
    }
    tb_meter_close(m);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_rapl_wraps_once_and_several_times), T(test_rapl_long_gap_is_flagged),
        T(test_rapl_missing_range_loses_interval), T(test_rapl_stalled_counter_is_reported), T(test_frozen_meter_fails),
        T(test_rapl_garbage_and_broken_files),     T(test_rapl_unreadable_energy_names_the_fix),
        T(test_rapl_psys_and_mmio),                T(test_rapl_absent),
        T(test_ina219_hwmon_power_integrates),     T(test_ina219_hwmon_voltage_times_current),
        T(test_ina219_calibration),                T(test_ina219_i2c_samples),
        T(test_ina219_i2c_errors),                 T(test_perf_power),
        T(test_estimates),                         T(test_sampler_thread),
        T(test_sampler_window_ends_with_the_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
