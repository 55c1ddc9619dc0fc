/* test_sources.c - energy source discovery on fake sysfs and /dev trees. */
#include "testutil.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sources.h"

static const tb_energy_source *find(const tb_energy_source *s, int n, const char *kind,
                                    const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s[i].kind, kind) == 0 && (!name || strcmp(s[i].name, name) == 0))
            return &s[i];
    return NULL;
}

static void test_empty_machine_says_why(void **state)
{
    (void)state;
    char *root = tb_tmpdir();
    char dev[1100];
    snprintf(dev, sizeof dev, "%s/dev", root);
    mkdir(dev, 0755);
    tb_probe_roots roots = {.sysfs = root, .dev = dev, .paranoid_file = "/nonexistent"};
    tb_energy_source src[16];
    int n = tb_energy_probe(&roots, src, 16);
    assert_int_equal(n, 4);
    const char *kinds[] = {"rapl", "perf-power", "ina219", "ina219-i2c"};
    for (int i = 0; i < 4; i++) {
        assert_string_equal(src[i].kind, kinds[i]);
        assert_int_equal(src[i].state, TB_SOURCE_ABSENT);
        assert_true(strlen(src[i].detail) > 20);
    }
    assert_non_null(strstr(src[0].detail, "powercap"));
    tb_rmtree(root);
    free(root);
}

static void test_rapl_zones_and_subzones(void **state)
{
    (void)state;
    char *root = tb_tmpdir();
    tb_write(root, "class/powercap/intel-rapl/enabled", "1\n"); /* control type, no zone */
    tb_write(root, "class/powercap/intel-rapl:0/name", "package-0\n");
    tb_write(root, "class/powercap/intel-rapl:0/energy_uj", "1000\n");
    tb_write(root, "class/powercap/intel-rapl:0:0/name", "core\n");
    tb_write(root, "class/powercap/intel-rapl:0:0/energy_uj", "500\n");
    tb_write(root, "class/powercap/intel-rapl:1/name", "psys\n");
    tb_write(root, "class/powercap/intel-rapl:1/energy_uj", "garbage\n");
    tb_probe_roots roots = {.sysfs = root, .dev = root, .paranoid_file = "/nonexistent"};
    tb_energy_source src[16];
    int n = tb_energy_probe(&roots, src, 16);
    const tb_energy_source *pkg = find(src, n, "rapl", "package-0");
    const tb_energy_source *core = find(src, n, "rapl", "core");
    const tb_energy_source *psys = find(src, n, "rapl", "psys");
    assert_non_null(pkg);
    assert_non_null(core);
    assert_non_null(psys);
    assert_int_equal(pkg->state, TB_SOURCE_PRESENT);
    assert_int_equal(core->state, TB_SOURCE_PRESENT);
    assert_int_equal(psys->state, TB_SOURCE_BROKEN);
    assert_non_null(strstr(psys->detail, "garbage"));
    tb_rmtree(root);
    free(root);
}

static void test_perf_power_and_hwmon_and_i2c(void **state)
{
    (void)state;
    char *root = tb_tmpdir();
    tb_write(root, "bus/event_source/devices/power/type", "11\n");
    tb_write(root, "bus/event_source/devices/power/events/energy-pkg", "event=0x02\n");
    tb_write(root, "bus/event_source/devices/power/events/energy-pkg.scale", "2.3283064365386962890625e-10\n");
    tb_write(root, "bus/event_source/devices/power/events/energy-pkg.unit", "Joules\n");
    tb_write(root, "class/hwmon/hwmon0/name", "k10temp\n");
    tb_write(root, "class/hwmon/hwmon3/name", "ina219\n");
    tb_write(root, "class/hwmon/hwmon3/power1_input", "2500000\n");
    tb_write(root, "dev/i2c-1", "");
    char paranoid[1100], dev[1100];
    snprintf(paranoid, sizeof paranoid, "%s/paranoid", root);
    snprintf(dev, sizeof dev, "%s/dev", root);
    tb_write(root, "paranoid", "0\n");
    tb_probe_roots roots = {.sysfs = root, .dev = dev, .paranoid_file = paranoid};
    tb_energy_source src[16];
    int n = tb_energy_probe(&roots, src, 16);
    const tb_energy_source *pkg = find(src, n, "perf-power", "energy-pkg");
    assert_non_null(pkg);
    assert_int_equal(pkg->state, TB_SOURCE_PRESENT);
    assert_null(find(src, n, "perf-power", "energy-pkg.scale"));
    const tb_energy_source *ina = find(src, n, "ina219", NULL);
    assert_non_null(ina);
    assert_string_equal(ina->name, "hwmon3 (ina219)");
    assert_int_equal(ina->state, TB_SOURCE_PRESENT);
    const tb_energy_source *bus = find(src, n, "ina219-i2c", "i2c-1");
    assert_non_null(bus);
    assert_int_equal(bus->state, TB_SOURCE_PRESENT);
    assert_int_equal(tb_perf_paranoid(paranoid), 0);
    tb_rmtree(root);
    free(root);
}

static void test_capacity_is_respected(void **state)
{
    (void)state;
    char *root = tb_tmpdir();
    tb_probe_roots roots = {.sysfs = root, .dev = root, .paranoid_file = "/nonexistent"};
    tb_energy_source src[2];
    assert_int_equal(tb_energy_probe(&roots, src, 2), 2);
    tb_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_machine_says_why),
        cmocka_unit_test(test_rapl_zones_and_subzones),
        cmocka_unit_test(test_perf_power_and_hwmon_and_i2c),
        cmocka_unit_test(test_capacity_is_respected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
