/* test_counters.c - per-run hardware counting over a pool's threads, with a fake perf_event. */
#include "testutil.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>
#include <unistd.h>

#include "counters.h"
#include "threadpool.h"

typedef struct fake {
    int opened, closed, enabled, disabled;
} fake;

static int f_open(void *ctx, int event, const tb_hw_event *ev, int tid)
{
    fake *f = ctx;
    assert_true(ev == &tb_hw_events()[event]); /* the resolved encoding is what gets opened */
    if (event == 2 && tid == 12)
        return -ENOENT; /* LLC misses cannot be opened on one thread */
    f->opened++;
    return tid * 10 + event;
}

/* Counts fd x 100 over 1000 ns enabled; cycles (event 1) on thread 12
 * ran on the PMU for a quarter of that (multiplexed), branch misses (3) on
 * thread 12 never did when `starve` is set. */
static bool starve;
static int f_read(void *ctx, int fd, uint64_t v[3])
{
    (void)ctx;
    v[0] = (uint64_t)fd * 100;
    v[1] = 1000;
    v[2] = fd == 121 ? 250 : starve && fd == 123 ? 0 : 1000;
    return 0;
}

static void f_control(void *ctx, int fd, bool enable)
{
    (void)fd;
    fake *f = ctx;
    if (enable)
        f->enabled++;
    else
        f->disabled++;
}

static void f_close(void *ctx, int fd)
{
    (void)fd;
    ((fake *)ctx)->closed++;
}

static void test_sums_over_threads_and_all_or_nothing(void **state)
{
    (void)state;
    fake f = {0};
    tb_hw_io io = {f_open, f_read, f_control, f_close, &f};
    int tids[2] = {11, 12};
    tb_hw_counters c;
    assert_int_equal(tb_hw_open(&c, tids, 2, &io), 3); /* LLC misses unusable */
    assert_false(c.ok[2]);
    assert_non_null(strstr(c.why[2], "no hardware PMU"));
    assert_int_equal(f.closed, 1); /* the LLC fd opened on thread 11 was given back */
    tb_hw_start(&c);
    assert_int_equal(f.enabled, 6);
    uint64_t v[TB_HW_EVENTS];
    tb_hw_stop(&c, v);
    assert_int_equal(v[0], (110 + 120) * 100);     /* instructions, both threads */
    assert_int_equal(v[1], (111 + 121 * 4) * 100); /* cycles: thread 12's scaled by 1000/250 */
    assert_double_equal(c.running[1], 0.25, 0);
    assert_double_equal(c.running[0], 1, 0);
    assert_int_equal(v[2], 0);                     /* unavailable: not a measured zero */
    assert_int_equal(v[3], (113 + 123) * 100);     /* branch misses */
    starve = true; /* an event that never ran on the PMU is not a count of 0 */
    tb_hw_start(&c);
    tb_hw_stop(&c, v);
    starve = false;
    assert_false(c.ok[3]);
    assert_non_null(strstr(c.why[3], "never scheduled"));
    assert_int_equal(v[3], 0);
    tb_hw_close(&c);
    assert_int_equal(f.closed, 1 + 6);
    assert_string_equal(tb_hw_event_names[2], "llc_misses");
}

static void test_pool_reports_its_threads(void **state)
{
    (void)state;
    tb_pool *p;
    tb_error err;
    assert_int_equal(tb_pool_create(3, false, &p, &err), TB_OK);
    int tids[8];
    assert_int_equal(tb_pool_tids(p, tids, 8), 3);
    assert_true(tids[0] > 0 && tids[1] > 0 && tids[2] > 0);
    assert_true(tids[0] != tids[1] && tids[1] != tids[2]);
    tb_pool_destroy(p);
}

static void test_this_machine_says_why(void **state)
{
    (void)state;
    char buf[512];
    const char *why = tb_hw_counters_unavailable(buf, sizeof buf);
    if (why) /* a VM without a PMU: the reason names the fix */
        assert_true(strstr(why, "PMU") || strstr(why, "perf_event_paranoid") || strstr(why, "perf_event"));
    tb_usage u;
    tb_usage_now(&u, NULL, 0);
    assert_true(u.cpu_s > 0);
}

/* Each event is a libpfm4 encoding of a native name (when built in and the
 * CPU is known) or the kernel's generic event, never left unset. */
static void test_event_encodings(void **state)
{
    (void)state;
    static const uint64_t generic[TB_HW_EVENTS] = {PERF_COUNT_HW_INSTRUCTIONS,
                                                   PERF_COUNT_HW_CPU_CYCLES,
                                                   PERF_COUNT_HW_CACHE_MISSES,
                                                   PERF_COUNT_HW_BRANCH_MISSES};
    const tb_hw_event *ev = tb_hw_events();
    for (int e = 0; e < TB_HW_EVENTS; e++) {
        print_message("%-14s %s (type %u, config %#llx)\n", tb_hw_event_names[e], ev[e].name,
                      ev[e].type, (unsigned long long)ev[e].config);
        if (ev[e].libpfm4) {
            assert_non_null(strstr(ev[e].name, "::"));
            assert_true(ev[e].type != PERF_TYPE_SOFTWARE);
        } else {
            assert_string_equal(ev[e].name, "generic");
            assert_int_equal(ev[e].type, PERF_TYPE_HARDWARE);
            assert_true(ev[e].config == generic[e]);
        }
    }
    assert_ptr_equal(tb_hw_events(), ev); /* resolved once */
}

/* Steal time is /proc/stat's eighth value of the aggregate "cpu" line, in ticks. */
static void test_steal_from_proc_stat(void **state)
{
    (void)state;
    double hz = (double)sysconf(_SC_CLK_TCK);
    assert_double_equal(tb_proc_stat_steal("cpu  3960684 0 281825 3714040 3971 0 718 4065 0 0\n"
                                           "cpu0 1980342 0 140912 1857020 1985 0 359 2032 0 0\n"),
                        4065 / hz, 1e-12);
    assert_double_equal(tb_proc_stat_steal("cpu  1 2 3 4 5 6 7 8"), 8 / hz, 1e-12);
    assert_double_equal(tb_proc_stat_steal("cpu  1 2 3 4 5 6 7\nintr 9"), -1, 0); /* no steal field */
    assert_double_equal(tb_proc_stat_steal("cpu0 1 2 3 4 5 6 7 8"), -1, 0);      /* not the total */
    assert_double_equal(tb_proc_stat_steal(""), -1, 0);
    tb_usage u;
    tb_usage_now(&u, NULL, 0);
    assert_true(u.steal_s >= 0); /* Linux has had the field since 2.6.11 */
}

/* Run-queue wait is schedstat's second value, in nanoseconds, summed over threads. */
static void test_runqueue_wait(void **state)
{
    (void)state;
    assert_double_equal(tb_schedstat_wait("931392 2500000000 17"), 2.5, 1e-12);
    assert_double_equal(tb_schedstat_wait("931392"), -1, 0);
    assert_double_equal(tb_schedstat_wait(""), -1, 0);
    tb_usage u0, u1;
    tb_usage_now(&u0, NULL, 0);
    tb_pool *p; /* more threads: their waits add up, and never go backwards */
    tb_error err;
    assert_int_equal(tb_pool_create(3, false, &p, &err), TB_OK);
    tb_usage_now(&u1, NULL, 0);
    tb_pool_destroy(p);
    assert_true(u0.wait_s >= 0 && u1.wait_s >= u0.wait_s);
}

/* The share of a run's time others took: steal over every CPU less one
 * 10 ms tick, run-queue waits over the run's threads; the larger of the two,
 * 0 where neither is known, at most 1. */
static void test_lost_share(void **state)
{
    (void)state;
    tb_usage u0 = {.steal_s = 1.0, .wait_s = 2.0}, u1 = {.steal_s = 1.21, .wait_s = 2.3};
    assert_double_equal(tb_usage_lost_share(&u0, &u1, 1.0, 2, 4), 0.15, 1e-12); /* waits: 0.3 / 2 */
    u1.wait_s = 2.0;
    assert_double_equal(tb_usage_lost_share(&u0, &u1, 1.0, 2, 4), 0.05, 1e-12);  /* steal: 0.2 / 4 */
    u1.steal_s = 1.005;
    assert_double_equal(tb_usage_lost_share(&u0, &u1, 1.0, 2, 4), 0, 0); /* within /proc/stat's tick */
    u0.wait_s = u1.wait_s = -1, u1.steal_s = 9;
    u0.steal_s = -1;
    assert_double_equal(tb_usage_lost_share(&u0, &u1, 1.0, 2, 4), 0, 0); /* neither known */
    u0 = (tb_usage){.steal_s = 0, .wait_s = 0}, u1 = (tb_usage){.steal_s = 0, .wait_s = 50};
    assert_double_equal(tb_usage_lost_share(&u0, &u1, 1.0, 2, 4), 1, 0);
    assert_double_equal(tb_usage_lost_share(&u0, &u1, 0, 2, 4), 0, 0); /* no time, no share */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sums_over_threads_and_all_or_nothing),
        cmocka_unit_test(test_pool_reports_its_threads),
        cmocka_unit_test(test_this_machine_says_why),
        cmocka_unit_test(test_event_encodings),
        cmocka_unit_test(test_steal_from_proc_stat),
        cmocka_unit_test(test_runqueue_wait),
        cmocka_unit_test(test_lost_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
