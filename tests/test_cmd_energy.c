/* test_cmd_energy.c - `ternbench energy` end to end, on fake sysfs trees. */
#include "testutil.h"
#include "testjson.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *root;
static char env_root[1200];

static int setup(void **state)
{
    (void)state;
    root = tb_tmpdir();
    snprintf(env_root, sizeof env_root, "TERNBENCH_SYSFS_ROOT=%s", root);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tb_rmtree(root);
    free(root);
    return 0;
}

/* `ternbench energy ARGS...` with the fake sysfs root */
#define energy(...) tb_run_ternbench((char *[]){env_root, NULL}, "energy", __VA_ARGS__, NULL)

static void test_no_meter_says_so_and_runs(void **state)
{
    (void)state;
    tb_run_result r = energy("--", "sh", "-c", "exit 0");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.err, "no energy meter on this machine"));
    assert_non_null(strstr(r.err, "rapl:"));
    assert_non_null(strstr(r.err, "--meter estimate"));
    assert_non_null(strstr(r.err, "<n/a>"));
    tb_run_free(&r);
}

static void test_exit_status_passed_on(void **state)
{
    (void)state;
    tb_run_result r = energy("-r", "2", "--", "sh", "-c", "exit 3");
    assert_int_equal(r.status, 3);
    tb_run_free(&r);
}

static void test_estimate_is_labelled(void **state)
{
    (void)state;
    char json[1300];
    snprintf(json, sizeof json, "%s/e.json", root);
    tb_run_result r = energy("--meter", "estimate", "-r", "3", "--json", json, "--", "true");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.err, "ESTIMATE, not a measurement"));
    tb_run_free(&r);
    json_t *doc = tb_test_json_load(json);
    json_t *run = json_array_get(json_object_get(doc, "runs"), 0);
    assert_true(json_is_true(json_object_get(run, "estimate")));
    assert_string_equal(json_string_value(json_object_get(run, "meter")), "estimate");
    assert_false(json_is_true(json_object_get(json_object_get(doc, "meter"), "measured")));
    assert_int_equal(json_array_size(json_object_get(doc, "runs")), 3);
    json_decref(doc);

    r = energy("--meter", "estimate:bitnet-proxy", "--est-proxy-watts", "100", "--json", json,
               "--", "true");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.err, "bitnet.cpp's proxy, 100 W"));
    tb_run_free(&r);
}

static void test_ina219_measures_and_subtracts_idle(void **state)
{
    (void)state;
    tb_write(root, "class/hwmon/hwmon4/name", "ina219\n");
    tb_write(root, "class/hwmon/hwmon4/power1_input", "2500000\n"); /* 2.5 W, constant */
    char json[1300];
    snprintf(json, sizeof json, "%s/ina.json", root);
    tb_run_result r = energy("--idle", "0.2", "-r", "3", "--json", json, "--", "sleep", "0.1");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.err, "ina219"));
    tb_run_free(&r);
    json_t *doc = tb_test_json_load(json);
    assert_string_equal(json_string_value(json_object_get(doc, "schema")), "ternbench.energy/1");
    json_t *idle = json_object_get(doc, "idle");
    assert_double_equal(json_real_value(json_object_get(idle, "watts")), 2.5, 1e-9);
    json_t *runs = json_object_get(doc, "runs");
    for (size_t i = 0; i < json_array_size(runs); i++) {
        json_t *run = json_array_get(runs, i);
        assert_string_equal(json_string_value(json_object_get(run, "meter")), "ina219");
        assert_double_equal(json_real_value(json_object_get(run, "watts")), 2.5, 1e-9);
        double secs = json_real_value(json_object_get(run, "seconds"));
        double j = json_real_value(json_object_get(run, "joules"));
        assert_true(secs >= 0.1);
        assert_double_equal(j, 2.5 * secs, 0.05); /* the sampler's window brackets the run */
        assert_double_equal(json_real_value(json_object_get(run, "joules_net")), 0, 1e-9);
        assert_true(json_integer_value(json_object_get(run, "samples")) >= 3);
    }
    json_t *sum = json_object_get(doc, "summary");
    assert_int_equal(json_array_size(json_object_get(json_object_get(sum, "joules"), "ci")), 2);
    json_decref(doc);
}

static void test_usage_errors(void **state)
{
    (void)state;
    tb_run_result r = tb_run_ternbench((char *[]){env_root, NULL}, "energy", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "no command to measure"));
    tb_run_free(&r);
    r = energy("-r", "0", "--", "true");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "-r: 0 is out of range"));
    tb_run_free(&r);
    r = energy("--idle", "soon", "--", "true");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--idle: 'soon' is not a number"));
    tb_run_free(&r);
    r = energy("--meter", "geiger", "--", "true");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--meter geiger: unknown meter"));
    tb_run_free(&r);
    r = energy("--meter", "rapl", "--", "true");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "powercap"));
    tb_run_free(&r);
    r = energy("--", "/nonexistent/program");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "cannot run '/nonexistent/program'"));
    tb_run_free(&r);
    r = energy("--i2c-address", "0x70", "--", "true");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--i2c-address"));
    tb_run_free(&r);
    r = energy("--json", "/nonexistent/dir/x.json", "--", "true");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "/nonexistent/dir/x.json"));
    tb_run_free(&r);
}

static void test_command_options_are_not_ours(void **state)
{
    (void)state;
    /* everything after the command belongs to it */
    tb_run_result r = energy("--", "sh", "-c", "exit 0", "-r");
    assert_int_equal(r.status, 0);
    tb_run_free(&r);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_no_meter_says_so_and_runs), T(test_exit_status_passed_on),
        T(test_estimate_is_labelled),      T(test_ina219_measures_and_subtracts_idle),
        T(test_usage_errors),              T(test_command_options_are_not_ours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
