/*
 * test_rp_config_limits.c -- common/rp_config.c: the gateway's connection
 * limits, [gateway] connection_timeout and max_connections, its
 * busy_poll_us and upstream_dns_interval: their defaults, the values they take, and the "FILE:LINE: what is wrong" of
 * every value they refuse.
 *
 * Each test writes its INI into its own mkdtemp folder, removed after.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp_config.h"

#include "ini_fixture.h"

/* [gateway] with one "key = value" on line 2: must be refused with
 * "INI:2: <want>". */
static void refused(fixture *f, const char *key, const char *value, const char *want)
{
    char text[256], expected[PATH_MAX + 300];
    snprintf(text, sizeof(text), "[gateway]\n%s = %s\n", key, value);
    rp_config *cfg = load(f, text);
    if (cfg) {
        rp_config_free(cfg);
        fail_msg("%s = %s was accepted", key, value);
    }
    snprintf(expected, sizeof(expected), "%s:2: %s", f->ini, want);
    if (strcmp(f->err, expected) != 0)
        fail_msg("%s = '%s':\n  got:  %s\n  want: %s", key, value, f->err, expected);
}

/* Each of bad[n] as KEY's value is refused with "KEY: 'VALUE' RULE". */
static void refused_each(fixture *f, const char *key, const char *const *bad, size_t n,
                         const char *rule)
{
    for (size_t i = 0; i < n; i++) {
        char want[300];
        snprintf(want, sizeof(want), "%s: '%s' %s", key, bad[i], rule);
        refused(f, key, bad[i], want);
    }
}

/* ---- tests ------------------------------------------------------------- */

static void test_defaults(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load(f, "; nothing set\n[gateway]\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->gateway.connection_timeout, 30);
    assert_int_equal(cfg->gateway.max_connections, 2048);
    assert_int_equal(cfg->gateway.busy_poll_us, 50);
    assert_true(cfg->gateway.upstream_dns_interval == 30.0);
    rp_config_free(cfg);
}

static void test_values_taken(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load(f, "[gateway]\nconnection_timeout = 5\nmax_connections = 10\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->gateway.connection_timeout, 5);
    assert_int_equal(cfg->gateway.max_connections, 10);
    rp_config_free(cfg);

    /* the bounds themselves, and spaces around the value (inih strips them) */
    cfg = load(f, "[gateway]\nconnection_timeout =   1  \nmax_connections = 1\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->gateway.connection_timeout, 1);
    assert_int_equal(cfg->gateway.max_connections, 1);
    rp_config_free(cfg);
    cfg = load(f, "[gateway]\nconnection_timeout = 86400\nmax_connections = 1000000\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->gateway.connection_timeout, 86400);
    assert_int_equal(cfg->gateway.max_connections, 1000000);
    rp_config_free(cfg);
    cfg = load(f, "[gateway]\nbusy_poll_us = 0\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->gateway.busy_poll_us, 0);
    rp_config_free(cfg);
    cfg = load(f, "[gateway]\nbusy_poll_us = 1000\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->gateway.busy_poll_us, 1000);
    rp_config_free(cfg);
    cfg = load(f, "[gateway]\nupstream_dns_interval = 0.1\n");
    assert_non_null(cfg);
    assert_true(cfg->gateway.upstream_dns_interval == 0.1);
    rp_config_free(cfg);
    cfg = load(f, "[gateway]\nupstream_dns_interval = 86400\n");
    assert_non_null(cfg);
    assert_true(cfg->gateway.upstream_dns_interval == 86400.0);
    rp_config_free(cfg);
}

static void test_connection_timeout_refused(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {"0", "-1", "86401", "1.5", "30s", "", "ten", "99999999999999999999"};
    refused_each(f, "connection_timeout", bad, sizeof(bad) / sizeof(bad[0]),
                 "is not a whole number of seconds in 1..86400");
}

static void test_max_connections_refused(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {"0", "-5", "1000001", "2.0", "1k", "", "lots", "0x10"};
    refused_each(f, "max_connections", bad, sizeof(bad) / sizeof(bad[0]),
                 "is not a whole number in 1..1000000");
}

static void test_busy_poll_us_refused(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {"-1", "1001", "50us", "0.5", "", "off", "1e3"};
    refused_each(f, "busy_poll_us", bad, sizeof(bad) / sizeof(bad[0]),
                 "is not a whole number of microseconds in 0..1000");
}

static void test_upstream_dns_interval_refused(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {"0", "0.05", "-1", "86401", "30s", "", "never"};
    refused_each(f, "upstream_dns_interval", bad, sizeof(bad) / sizeof(bad[0]),
                 "is not a number of seconds in 0.1..86400");
}

static void test_set_twice_is_an_error(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load(f, "[gateway]\nmax_connections = 5\nmax_connections = 6\n");
    assert_null(cfg);
    char want[PATH_MAX + 100];
    snprintf(want, sizeof(want), "%s:3: key 'max_connections' appears twice in [gateway]", f->ini);
    assert_string_equal(f->err, want);
}

static void test_only_in_gateway(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load(f, "[host]\nmax_connections = 5\n");
    assert_null(cfg);
    char want[PATH_MAX + 100];
    snprintf(want, sizeof(want), "%s:2: unknown key 'max_connections' in [host]", f->ini);
    assert_true(strncmp(f->err, want, strlen(want)) == 0);
}

static void test_unknown_key_lists_them(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load(f, "[gateway]\nconnection_timout = 5\n");
    assert_null(cfg);
    assert_non_null(strstr(f->err, ":2: unknown key 'connection_timout' in [gateway]"));
    assert_non_null(strstr(f->err, "connection_timeout"));
    assert_non_null(strstr(f->err, "max_connections"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_timeout_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_connections_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_poll_us_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_dns_interval_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_twice_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_in_gateway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_lists_them, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
