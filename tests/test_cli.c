/* test_cli.c - the command line's contract: exit statuses, messages, info --json. */
#include "testutil.h"

#include <jansson.h>
#include <string.h>

static tb_run_result run1(const char *a, const char *b, char *const env[])
{
    char *argv[] = {TB_BINARY, (char *)a, (char *)b, NULL};
    tb_run_result r;
    tb_run(&r, argv, env);
    return r;
}

static void test_no_command_is_usage_error(void **state)
{
    (void)state;
    tb_run_result r = run1(NULL, NULL, NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "usage: ternbench"));
    tb_run_free(&r);
}

static void test_unknown_command(void **state)
{
    (void)state;
    tb_run_result r = run1("nonsense", NULL, NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "unknown command 'nonsense'"));
    assert_non_null(strstr(r.err, "ternbench --help"));
    assert_string_equal(r.out, "");
    tb_run_free(&r);
}

static void test_unknown_option(void **state)
{
    (void)state;
    tb_run_result r = run1("info", "--bogus", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "ternbench info: unknown option '--bogus'"));
    tb_run_free(&r);
    r = run1("info", "-z", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "'-z'"));
    tb_run_free(&r);
    r = run1("info", "extra", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "unexpected argument 'extra'"));
    tb_run_free(&r);
    r = run1("--frobnicate", NULL, NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "'--frobnicate'"));
    tb_run_free(&r);
}

static void test_help_and_version(void **state)
{
    (void)state;
    tb_run_result r = run1("--help", NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "info"));
    tb_run_free(&r);
    r = run1("--version", NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "ternbench "));
    assert_non_null(strstr(r.out, "git "));
    tb_run_free(&r);
    r = run1("info", "--help", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: ternbench info"));
    tb_run_free(&r);
}

/* Every command answers --help; the model commands refuse bad input with
 * exit 2 and a message naming the file, the word or the field. */
static void test_model_commands(void **state)
{
    (void)state;
    const char *cmds[] = {"gen", "convert", "tokenize", "generate", "logits", "bench", "kernels",
                          "reproduce", "energy", "report", "compare", "gate", "merge", "info",
                          "perplexity"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        tb_run_result r = tb_run_ternbench(NULL, cmds[i], "--help", NULL);
        char want[64];
        snprintf(want, sizeof want, "usage: ternbench %s", cmds[i]);
        assert_int_equal(r.status, 0);
        if (!strstr(r.out, want))
            fail_msg("%s --help: no '%s'", cmds[i], want);
        tb_run_free(&r);
    }
    char *dir = tb_tmpdir(), trunc[1200];
    snprintf(trunc, sizeof trunc, "%s/truncated.gguf", dir);
    tb_write(dir, "truncated.gguf", "GGUF\x03");
    struct { const char *argv[8]; const char *says; } bad[] = {
        {{"gen", "--preset", "9B", "-o", "x.gguf", NULL}, "unknown preset '9B'"},
        {{"gen", "--preset", "125M", "--format", "q5_1", "-o", "x.gguf", NULL}, "unknown format 'q5_1'"},
        {{"gen", "--vocab-only", "-o", "x.gguf", NULL}, "--vocab-only takes --tokenizer"},
        {{"convert", trunc, "-o", "y.gguf", "--format", "i2_s", NULL}, "truncated.gguf"},
        {{"convert", trunc, "-o", "y.gguf", NULL}, "--format"},
        {{"tokenize", "-m", trunc, "hello", NULL}, "truncated.gguf"},
        {{"tokenize", "-m", "dummy:125M", "hello", NULL}, "has no vocabulary"},
        {{"generate", "-m", trunc, "-p", "hi", NULL}, "truncated.gguf"},
        {{"generate", "-m", trunc, "-p", "hi", "--temp", "nan", NULL}, "--temp"},
        {{"generate", "-m", trunc, "-p", "hi", "-n", "-5", NULL}, "--n-predict"},
        {{"perplexity", "-m", trunc, "-f", trunc, NULL}, "truncated.gguf"},
        {{"perplexity", "-m", trunc, "--kl-divergence", NULL}, "--kl-divergence-base"},
        {{"perplexity", "-m", trunc, "-f", trunc, "-c", "2", NULL}, "-c"},
        {{"convert", trunc, "-o", "y.gguf", "--format", "q4_k_x", NULL}, "or a mix"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char **a = bad[i].argv;
        tb_run_result r = tb_run_ternbench(NULL, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
        if (r.status != 2 || !strstr(r.err, bad[i].says))
            fail_msg("%s %s: status %d, '%s' does not say '%s'", a[0], a[1], r.status, r.err,
                     bad[i].says);
        tb_run_free(&r);
    }
    tb_rmtree(dir);
    free(dir);
}

static void test_info_text(void **state)
{
    (void)state;
    tb_run_result r = run1("info", NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Hardware counters"));
    assert_non_null(strstr(r.out, "Energy meters"));
    assert_non_null(strstr(r.out, "kernels"));
    tb_run_free(&r);
}

static json_t *info_json(char *const env[], int want_status)
{
    tb_run_result r = run1("info", "--json", env);
    assert_int_equal(r.status, want_status);
    json_error_t jerr;
    json_t *doc = json_loads(r.out, 0, &jerr);
    if (!doc)
        fail_msg("info --json is not JSON: %s (line %d)", jerr.text, jerr.line);
    tb_run_free(&r);
    return doc;
}

static void test_info_json_keys(void **state)
{
    (void)state;
    json_t *doc = info_json(NULL, 0);
    assert_true(json_is_object(doc));
    const char *keys[] = {"cpu", "isa", "counters", "energy", "tools", "build"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_true(json_is_object(json_object_get(doc, keys[i])));
    json_t *cpu = json_object_get(doc, "cpu");
    assert_true(json_integer_value(json_object_get(cpu, "logical_cpus")) >= 1);
    assert_true(json_is_array(json_object_get(cpu, "features")));
    assert_true(json_is_string(json_object_get(json_object_get(doc, "isa"), "selected")));
    json_t *backends = json_object_get(json_object_get(doc, "counters"), "backends");
    assert_int_equal(json_array_size(backends), 4);
    for (size_t i = 0; i < json_array_size(backends); i++) {
        json_t *b = json_array_get(backends, i);
        assert_true(json_is_boolean(json_object_get(b, "available")));
        /* every back end says why, available or not */
        assert_true(strlen(json_string_value(json_object_get(b, "detail"))) > 0);
    }
    json_t *sources = json_object_get(json_object_get(doc, "energy"), "sources");
    assert_true(json_array_size(sources) >= 4); /* at least one entry per kind */
    assert_true(json_is_boolean(
        json_object_get(json_object_get(json_object_get(doc, "tools"), "gnuplot"), "present")));
    json_decref(doc);
}

static void test_info_honours_isa(void **state)
{
    (void)state;
    char *env[] = {"TERNBENCH_ISA=scalar", NULL};
    json_t *doc = info_json(env, 0);
    json_t *isa = json_object_get(doc, "isa");
    assert_string_equal(json_string_value(json_object_get(isa, "selected")), "scalar");
    assert_string_equal(json_string_value(json_object_get(isa, "forced")), "scalar");
    json_decref(doc);

    char *bad[] = {"TERNBENCH_ISA=mmx", NULL};
    doc = info_json(bad, 2);
    isa = json_object_get(doc, "isa");
    assert_true(json_is_null(json_object_get(isa, "selected")));
    assert_non_null(strstr(json_string_value(json_object_get(isa, "error")), "mmx"));
    json_decref(doc);
}

static void test_info_reads_fake_sysfs(void **state)
{
    (void)state;
    char *root = tb_tmpdir();
    tb_write(root, "class/powercap/intel-rapl:0/name", "package-0\n");
    tb_write(root, "class/powercap/intel-rapl:0/energy_uj", "123456\n");
    char env_root[1100];
    snprintf(env_root, sizeof env_root, "TERNBENCH_SYSFS_ROOT=%s", root);
    char *env[] = {env_root, NULL};
    json_t *doc = info_json(env, 0);
    json_t *sources = json_object_get(json_object_get(doc, "energy"), "sources");
    json_t *first = json_array_get(sources, 0);
    assert_string_equal(json_string_value(json_object_get(first, "kind")), "rapl");
    assert_string_equal(json_string_value(json_object_get(first, "name")), "package-0");
    assert_string_equal(json_string_value(json_object_get(first, "state")), "present");
    json_decref(doc);
    tb_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_command_is_usage_error), cmocka_unit_test(test_unknown_command),
        cmocka_unit_test(test_unknown_option),  cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_model_commands),
        cmocka_unit_test(test_info_text),       cmocka_unit_test(test_info_json_keys),
        cmocka_unit_test(test_info_honours_isa), cmocka_unit_test(test_info_reads_fake_sysfs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
