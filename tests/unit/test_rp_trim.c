/*
 * test_rp_trim.c -- common/rp_trim.c: when an event loop gives memory back.
 * Nothing is due until the loop was busy; then the trim is due
 * RP_TRIM_IDLE_MS after the last busy moment, happens once, and the loop
 * may sleep forever again.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../common/rp_trim.h"

static void test_nothing_due_before_any_work(void **state)
{
    (void)state;
    rp_trim t = RP_TRIM_INIT;
    assert_int_equal(rp_trim_wait_ms(&t, 5000), -1);
    rp_trim_idle(&t, 5000);
    assert_int_equal(rp_trim_wait_ms(&t, 5000), -1);
}

static void test_due_a_while_after_the_last_work(void **state)
{
    (void)state;
    rp_trim t = RP_TRIM_INIT;
    rp_trim_busy(&t, 100);
    assert_int_equal(rp_trim_wait_ms(&t, 100), RP_TRIM_IDLE_MS);
    rp_trim_busy(&t, 600); /* more work moves it */
    assert_int_equal(rp_trim_wait_ms(&t, 700), RP_TRIM_IDLE_MS - 100);
    rp_trim_idle(&t, 700); /* woke early (another deadline): not yet */
    assert_int_equal(rp_trim_wait_ms(&t, 700), RP_TRIM_IDLE_MS - 100);
    assert_int_equal(rp_trim_wait_ms(&t, 600 + RP_TRIM_IDLE_MS + 50), 0); /* overdue */
}

static void test_once_then_sleep_forever(void **state)
{
    (void)state;
    rp_trim t = RP_TRIM_INIT;
    rp_trim_busy(&t, 0);
    rp_trim_idle(&t, RP_TRIM_IDLE_MS);
    assert_int_equal(rp_trim_wait_ms(&t, RP_TRIM_IDLE_MS), -1);
    assert_int_equal(rp_trim_wait_ms(&t, 10 * RP_TRIM_IDLE_MS), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_due_before_any_work),
        cmocka_unit_test(test_due_a_while_after_the_last_work),
        cmocka_unit_test(test_once_then_sleep_forever),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
