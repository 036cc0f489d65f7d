/*
 * test_gw_status.c -- gateway/gw_status.c: the gRPC -> HTTP status table,
 * and gRPC core's connect-failure texts told without the upstream's address.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../gateway/gw_status.h"

static void expect_rewritten(const char *core, const char *target, const char *want)
{
    char out[256];
    assert_int_equal(gw_status_connect_failure(core, target, out, sizeof(out)), 1);
    assert_string_equal(out, want);
}

static void test_connect_failure_loses_the_address(void **state)
{
    (void)state;
    expect_rewritten("connections to all backends failing; last error: UNKNOWN: "
                     "unix:/run/user/1000/rpcrest/host-0302236a03afbde8.sock: No such file or "
                     "directory", NULL,
                     "cannot connect to the upstream: No such file or directory");
    expect_rewritten("failed to connect to all addresses; last error: UNKNOWN: "
                     "ipv4:127.0.0.1:50051: Failed to connect to remote host: Connection refused",
                     NULL,
                     "cannot connect to the upstream: Failed to connect to remote host: "
                     "Connection refused");
    expect_rewritten("connections to all backends failing; last error: UNAVAILABLE: "
                     "ipv6:[::1]:443: Ssl handshake failed: SSL_ERROR_SSL: error:0A00010B:SSL "
                     "routines::wrong version number", NULL,
                     "cannot connect to the upstream: Ssl handshake failed: SSL_ERROR_SSL: "
                     "error:0A00010B:SSL routines::wrong version number");
    expect_rewritten("failed to connect to all addresses; last error: UNKNOWN: "
                     "unix-abstract:rpcrest: Connection refused", NULL,
                     "cannot connect to the upstream: Connection refused");
    /* no last error, or one without an address or a code */
    expect_rewritten("failed to connect to all addresses", NULL, "cannot connect to the upstream");
    expect_rewritten("connections to all backends failing; last error: Socket closed", NULL,
                     "cannot connect to the upstream: Socket closed");
    /* the target names the address where it ends, ": " in a path or not */
    expect_rewritten("failed to connect to all addresses; last error: UNKNOWN: "
                     "unix:/srv/app: staging/host.sock: No such file or directory",
                     "unix:/srv/app: staging/host.sock",
                     "cannot connect to the upstream: No such file or directory");
    expect_rewritten("connections to all backends failing; last error: UNKNOWN: "
                     "ipv4:127.0.0.1:5505: Failed to connect to remote host: Connection refused",
                     "127.0.0.1:5505",
                     "cannot connect to the upstream: Failed to connect to remote host: "
                     "Connection refused");
    /* a name that does not resolve */
    expect_rewritten("DNS resolution failed for api.internal.example:443: C-ares status is not "
                     "ARES_SUCCESS qtype=A name=api.internal.example is_balancer=0: Domain name "
                     "not found", "dns:///api.internal.example:443",
                     "cannot connect to the upstream: its name does not resolve: Domain name not "
                     "found");
    /* an address with nothing after it */
    expect_rewritten("failed to connect to all addresses; last error: UNKNOWN: unix:/x.sock",
                     NULL, "cannot connect to the upstream");
}

static void test_other_texts_are_left_alone(void **state)
{
    (void)state;
    char out[64] = "untouched";
    const char *others[] = {"", "not found", "Deadline Exceeded",
                            "the upstream said: failed to connect to all addresses",
                            "Failed to connect to all addresses"};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        assert_int_equal(gw_status_connect_failure(others[i], NULL, out, sizeof(out)), 0);
        assert_string_equal(out, "untouched");
    }
}

static void test_long_text_is_cut_to_the_buffer(void **state)
{
    (void)state;
    char core[600], out[48];
    snprintf(core, sizeof(core), "failed to connect to all addresses; last error: UNKNOWN: %0500d",
             7);
    assert_int_equal(gw_status_connect_failure(core, NULL, out, sizeof(out)), 1);
    assert_int_equal(strlen(out), sizeof(out) - 1);
    assert_memory_equal(out, "cannot connect to the upstream: 000", 35);
}

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
        cmocka_unit_test(test_connect_failure_loses_the_address),
        cmocka_unit_test(test_other_texts_are_left_alone),
        cmocka_unit_test(test_long_text_is_cut_to_the_buffer),
        cmocka_unit_test(test_http_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
