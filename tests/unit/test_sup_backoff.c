/*
 * test_sup_backoff.c -- supervisor/sup_backoff.c: the restart delays of a
 * run of failures under each policy.  The first delay is backoff_initial
 * (0: at once); each later one is the previous times backoff_multiplier,
 * at least SUP_BACKOFF_FLOOR_MS and at most backoff_max; jitter scales the
 * delay given, never the one the next grows from.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../supervisor/sup_backoff.h"

#define NO_JITTER 0.5 /* the unit that gives a jitter factor of exactly 1 */

/* The shipped defaults ([supervisor] of an empty INI). */
static rp_child_policy defaults(void)
{
    rp_child_policy p = {
        .restart = RP_RESTART_ALWAYS, .backoff_initial = 0.1, .backoff_max = 5.0,
        .backoff_multiplier = 2.0, .backoff_jitter = 0.1, .start_seconds = 10.0,
        .start_retries = 5, .ready_timeout = 30.0, .stop_timeout = 5.0,
    };
    return p;
}

/* The first n delays of a run of failures, without jitter, against want. */
static void expect_run(const rp_child_policy *p, const int64_t *want, int n)
{
    int64_t next = sup_backoff_first(p);
    for (int i = 0; i < n; i++) {
        int64_t got = sup_backoff_take(p, &next, 0, NO_JITTER);
        if (got != want[i])
            fail_msg("delay %d of the run: %lld ms, expected %lld ms", i + 1, (long long)got,
                     (long long)want[i]);
    }
}

static void test_seconds_to_milliseconds(void **state)
{
    (void)state;
    assert_int_equal(sup_seconds_ms(0), 0);
    assert_int_equal(sup_seconds_ms(0.0001), 1); /* above 0 is never "no delay" */
    assert_int_equal(sup_seconds_ms(0.0014), 1);
    assert_int_equal(sup_seconds_ms(0.0015), 2);
    assert_int_equal(sup_seconds_ms(0.1), 100);
    assert_int_equal(sup_seconds_ms(3600), 3600000);
}

static void test_defaults_double_up_to_backoff_max(void **state)
{
    (void)state;
    rp_child_policy p = defaults();
    static const int64_t want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
    expect_run(&p, want, 9);
}

static void test_zero_initial_restarts_at_once_then_grows_from_the_floor(void **state)
{
    (void)state;
    rp_child_policy p = defaults();
    p.backoff_initial = 0;
    static const int64_t want[] = {0, 100, 200, 400, 800, 1600, 3200, 5000, 5000};
    expect_run(&p, want, 9);
    /* with jitter too: 0 stays 0, the next ones are jittered around the floor */
    int64_t next = sup_backoff_first(&p);
    assert_int_equal(sup_backoff_take(&p, &next, 0, 0.0), 0);
    assert_int_equal(sup_backoff_take(&p, &next, 0, 0.0), 90);
    assert_int_equal(sup_backoff_take(&p, &next, 0, 0.999999), 220);
}

static void test_multiplier_1_keeps_a_zero_or_small_delay_at_the_floor(void **state)
{
    (void)state;
    rp_child_policy p = defaults();
    p.backoff_multiplier = 1;
    p.backoff_initial = 0;
    static const int64_t from_zero[] = {0, 100, 100, 100, 100};
    expect_run(&p, from_zero, 5);
    p.backoff_initial = 0.001;
    static const int64_t from_1ms[] = {1, 100, 100, 100};
    expect_run(&p, from_1ms, 4);
    p.backoff_initial = 0.3; /* above the floor: the constant delay asked for */
    static const int64_t constant[] = {300, 300, 300, 300};
    expect_run(&p, constant, 4);
}

static void test_small_initial_reaches_the_floor_at_its_second_delay(void **state)
{
    (void)state;
    rp_child_policy p = defaults();
    p.backoff_initial = 0.01;
    static const int64_t want[] = {10, 100, 200, 400};
    expect_run(&p, want, 4);
    p.backoff_initial = 0.06; /* 120 ms is above the floor: plain doubling */
    static const int64_t doubling[] = {60, 120, 240, 480};
    expect_run(&p, doubling, 4);
}

static void test_backoff_max_below_the_floor_caps_it(void **state)
{
    (void)state;
    rp_child_policy p = defaults();
    p.backoff_initial = 0;
    p.backoff_max = 0.05;
    static const int64_t want[] = {0, 50, 50, 50};
    expect_run(&p, want, 4);
    /* backoff_max = 0 (allowed with start_retries > 0 only, rp_config.c):
     * no delay at all, as asked */
    p.backoff_max = 0;
    static const int64_t none[] = {0, 0, 0, 0};
    expect_run(&p, none, 4);
}

static void test_at_max_waits_backoff_max(void **state)
{
    (void)state;
    rp_child_policy p = defaults();
    int64_t next = sup_backoff_first(&p);
    assert_int_equal(sup_backoff_take(&p, &next, 1, NO_JITTER), 5000);
    assert_int_equal(next, 5000);
    p.backoff_max = 0;
    next = 0;
    assert_int_equal(sup_backoff_take(&p, &next, 1, NO_JITTER), 0);
}

static void test_a_delay_above_a_lowered_max_is_capped(void **state)
{
    (void)state;
    rp_child_policy p = defaults();
    int64_t next = 60000; /* grown under a previous configuration */
    assert_int_equal(sup_backoff_take(&p, &next, 0, NO_JITTER), 5000);
    assert_int_equal(next, 5000);
}

static void test_jitter_scales_the_delay_given_only(void **state)
{
    (void)state;
    rp_child_policy p = defaults();
    p.backoff_jitter = 0.5;
    int64_t next = sup_backoff_first(&p);
    assert_int_equal(sup_backoff_take(&p, &next, 0, 0.0), 50);       /* 100 × 0.5 */
    assert_int_equal(next, 200);
    assert_int_equal(sup_backoff_take(&p, &next, 0, 0.999999), 300); /* 200 × 1.5 */
    assert_int_equal(next, 400);
    p.backoff_jitter = 1; /* the factor's whole range, 0..2 */
    assert_int_equal(sup_backoff_take(&p, &next, 0, 0.0), 0);
    assert_int_equal(next, 800);
}

static void test_a_long_run_stays_at_the_largest_max(void **state)
{
    (void)state;
    rp_child_policy p = defaults();
    p.backoff_multiplier = 100;
    p.backoff_max = 3600;
    int64_t next = sup_backoff_first(&p);
    for (int i = 0; i < 1000; i++)
        sup_backoff_take(&p, &next, 0, NO_JITTER);
    assert_int_equal(sup_backoff_take(&p, &next, 0, NO_JITTER), 3600000);
    assert_int_equal(next, 3600000);
}

static void test_a_failed_spawn_waits_the_floor_at_least(void **state)
{
    (void)state;
    rp_child_policy p = defaults();
    p.backoff_initial = 0;
    p.backoff_max = 0; /* fine with start_retries > 0, which these retries ignore */
    int64_t next = sup_backoff_first(&p);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sup_backoff_take_retry(&p, &next, NO_JITTER), SUP_BACKOFF_FLOOR_MS);
    p = defaults();
    p.backoff_jitter = 1;
    next = sup_backoff_first(&p);
    assert_int_equal(sup_backoff_take_retry(&p, &next, 0.0), SUP_BACKOFF_FLOOR_MS);
    assert_int_equal(sup_backoff_take_retry(&p, &next, NO_JITTER), 200); /* above: unchanged */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seconds_to_milliseconds),
        cmocka_unit_test(test_defaults_double_up_to_backoff_max),
        cmocka_unit_test(test_zero_initial_restarts_at_once_then_grows_from_the_floor),
        cmocka_unit_test(test_multiplier_1_keeps_a_zero_or_small_delay_at_the_floor),
        cmocka_unit_test(test_small_initial_reaches_the_floor_at_its_second_delay),
        cmocka_unit_test(test_backoff_max_below_the_floor_caps_it),
        cmocka_unit_test(test_at_max_waits_backoff_max),
        cmocka_unit_test(test_a_delay_above_a_lowered_max_is_capped),
        cmocka_unit_test(test_jitter_scales_the_delay_given_only),
        cmocka_unit_test(test_a_long_run_stays_at_the_largest_max),
        cmocka_unit_test(test_a_failed_spawn_waits_the_floor_at_least),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
