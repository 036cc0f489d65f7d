/*
 * test_gw_status.c -- gateway/gw_status.c: the gRPC -> HTTP status table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../gateway/gw_status.h"

static void test_http_codes(void **state)
{
    (void)state;
    const int want[] = {200, 499, 500, 400, 504, 404, 409, 403, 429,
                        400, 409, 400, 501, 500, 503, 500, 401};
    for (int code = 0; code < 17; code++)
        assert_int_equal(gw_status_http_code(code), want[code]);
    assert_int_equal(gw_status_http_code(17), 500);
    assert_int_equal(gw_status_http_code(-1), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
