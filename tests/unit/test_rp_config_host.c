/*
 * test_rp_config_host.c -- common/rp_config.c: the [host] limits
 * (max_message_bytes, max_concurrent_streams, drain_timeout, and the
 * connection limits max_connection_idle, max_connection_age and
 * max_connection_age_grace): defaults,
 * accepted forms, ranges, and the "FILE:LINE: what is wrong" of each error.
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

/* "[host]\nkey = value\n", which must load. */
static rp_config *load_host(fixture *f, const char *key, const char *value)
{
    char text[256];
    snprintf(text, sizeof(text), "[host]\n%s = %s\n", key, value);
    rp_config *cfg = load(f, text);
    if (!cfg)
        fail_msg("expected '%s = %s' to load, got: %s", key, value, f->err);
    return cfg;
}

/* "[host]\nkey = value\n" must be refused with "INI:2: " + `what`... */
static void expect_host_error(fixture *f, const char *key, const char *value, const char *what)
{
    char text[256];
    snprintf(text, sizeof(text), "[host]\n%s = %s\n", key, value);
    rp_config *cfg = load(f, text);
    if (cfg) {
        rp_config_free(cfg);
        fail_msg("expected '%s = %s' to be refused", key, value);
    }
    char expected[sizeof(f->ini) + 300];
    snprintf(expected, sizeof(expected), "%s:2: %s", f->ini, what);
    assert_string_equal(f->err, expected);
}

/* ---- defaults ----------------------------------------------------------- */

static void test_defaults(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load(f, "");
    assert_non_null(cfg);
    assert_int_equal(cfg->host.max_message_bytes, 4 << 20);
    assert_int_equal(cfg->host.max_concurrent_streams, 100);
    assert_true(cfg->host.drain_timeout == 5.0);
    assert_int_equal(cfg->host.threads, 0);
    assert_true(cfg->host.max_connection_idle == 0); /* off */
    assert_true(cfg->host.max_connection_age == 0);
    assert_true(cfg->host.max_connection_age_grace == 300.0);
    rp_config_free(cfg);
}

static void test_all_three_together(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load(f, "[host]\nlisten = 127.0.0.1:7000\nthreads = 3\n"
                             "max_message_bytes = 16M\nmax_concurrent_streams = 7\n"
                             "drain_timeout = 2.5\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->host.threads, 3);
    assert_int_equal(cfg->host.max_message_bytes, 16 << 20);
    assert_int_equal(cfg->host.max_concurrent_streams, 7);
    assert_true(cfg->host.drain_timeout == 2.5);
    rp_config_free(cfg);
}

/* ---- max_message_bytes ----------------------------------------------------- */

static void test_max_message_bytes_forms(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *text;
        size_t bytes;
    } cases[] = {
        {"1024", 1024},         {"1k", 1024},          {"64K", 64 << 10},
        {"4M", 4 << 20},        {"4m", 4 << 20},       {"1G", (size_t)1 << 30},
        {"4194304", 4194304},   {"1048577", 1048577},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rp_config *cfg = load_host(f, "max_message_bytes", cases[i].text);
        assert_int_equal(cfg->host.max_message_bytes, cases[i].bytes);
        rp_config_free(cfg);
    }
}

static void test_max_message_bytes_refused(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {"0", "1023", "2G", "-1", "4X", "4MB", "", "k", "1.5M",
                                      "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char what[256];
        snprintf(what, sizeof(what),
                 "max_message_bytes: '%s' is not a size in 1k..1G (a number, optionally "
                 "followed by k, M or G)", bad[i]);
        expect_host_error(f, "max_message_bytes", bad[i], what);
    }
}

/* ---- max_concurrent_streams ---------------------------------------------- */

static void test_max_concurrent_streams_range(void **state)
{
    fixture *f = *state;
    static const char *const good[] = {"1", "100", "65536"};
    static const int values[] = {1, 100, 65536};
    for (size_t i = 0; i < 3; i++) {
        rp_config *cfg = load_host(f, "max_concurrent_streams", good[i]);
        assert_int_equal(cfg->host.max_concurrent_streams, values[i]);
        rp_config_free(cfg);
    }
    static const char *const bad[] = {"0", "-5", "65537", "ten", "1.5", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char what[256];
        snprintf(what, sizeof(what),
                 "max_concurrent_streams: '%s' is not a whole number in 1..65536", bad[i]);
        expect_host_error(f, "max_concurrent_streams", bad[i], what);
    }
}

/* ---- drain_timeout ------------------------------------------------------------ */

static void test_drain_timeout_range(void **state)
{
    fixture *f = *state;
    static const char *const good[] = {"0", "0.25", "4", "3600"};
    static const double values[] = {0, 0.25, 4, 3600};
    for (size_t i = 0; i < 4; i++) {
        rp_config *cfg = load_host(f, "drain_timeout", good[i]);
        assert_true(cfg->host.drain_timeout == values[i]);
        rp_config_free(cfg);
    }
    static const char *const bad[] = {"-1", "3601", "soon", "5s", "", "nan", "inf"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char what[256];
        snprintf(what, sizeof(what),
                 "drain_timeout: '%s' is not a number of seconds in 0..3600", bad[i]);
        expect_host_error(f, "drain_timeout", bad[i], what);
    }
}

/* ---- max_connection_idle, max_connection_age, max_connection_age_grace ------- */

static void test_connection_limits_range(void **state)
{
    fixture *f = *state;
    static const char *const keys[] = {"max_connection_idle", "max_connection_age",
                                       "max_connection_age_grace"};
    static const double off[] = {0, 0, -1}; /* how each stores off */
    static const char *const good[] = {"1", "2.5", "86400", "2073600"};
    static const double values[] = {1, 2.5, 86400, 2073600};
    for (size_t k = 0; k < 3; k++) {
        for (size_t i = 0; i < 5; i++) {
            rp_config *cfg = load_host(f, keys[k], i < 4 ? good[i] : "off");
            double *got = k == 0   ? &cfg->host.max_connection_idle
                          : k == 1 ? &cfg->host.max_connection_age
                                   : &cfg->host.max_connection_age_grace;
            assert_true(*got == (i < 4 ? values[i] : off[k]));
            rp_config_free(cfg);
        }
        static const char *const bad[] = {"-1", "2073601", "soon", "5s", "", "nan", "inf",
                                          "never"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            char what[256];
            snprintf(what, sizeof(what),
                     "%s: '%s' is not off or a number of seconds in %d..2073600", keys[k],
                     bad[i], k == 2 ? 0 : 1);
            expect_host_error(f, keys[k], bad[i], what);
        }
    }
    /* 0: refused for the idle time and the age (off says it), a grace */
    expect_host_error(f, "max_connection_idle", "0",
                      "max_connection_idle: '0' is not off or a number of seconds in 1..2073600");
    expect_host_error(f, "max_connection_age", "0.5",
                      "max_connection_age: '0.5' is not off or a number of seconds in 1..2073600");
    rp_config *cfg = load_host(f, "max_connection_age_grace", "0");
    assert_true(cfg->host.max_connection_age_grace == 0);
    rp_config_free(cfg);
}

/* ---- the section as a whole ------------------------------------------------- */

static void test_unknown_host_key_lists_the_new_ones(void **state)
{
    fixture *f = *state;
    expect_host_error(f, "max_message_size", "4M",
                      "unknown key 'max_message_size' in [host] (known: listen, threads, "
                      "max_message_bytes, max_concurrent_streams, drain_timeout, "
                      "min_ping_interval, ping_without_calls, max_connection_idle, "
                      "max_connection_age, max_connection_age_grace, private_listen, "
                      "metrics_listen, cert, key, client_ca, restart, backoff_initial, "
                      "backoff_max, backoff_multiplier, backoff_jitter, start_seconds, "
                      "start_retries, ready_timeout, stop_timeout)");
}

static void test_duplicate_key_is_refused(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load(f, "[host]\ndrain_timeout = 1\n; again\ndrain_timeout = 2\n");
    assert_null(cfg);
    char expected[sizeof(f->ini) + 128];
    snprintf(expected, sizeof(expected), "%s:4: key 'drain_timeout' appears twice in [host]",
             f->ini);
    assert_string_equal(f->err, expected);
}

static void test_error_names_the_right_line(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load(f, "; limits\n[host]\nthreads = 2\n\nmax_concurrent_streams = 0\n");
    assert_null(cfg);
    char expected[sizeof(f->ini) + 128];
    snprintf(expected, sizeof(expected),
             "%s:5: max_concurrent_streams: '0' is not a whole number in 1..65536", f->ini);
    assert_string_equal(f->err, expected);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_all_three_together),
        T(test_max_message_bytes_forms),
        T(test_max_message_bytes_refused),
        T(test_max_concurrent_streams_range),
        T(test_drain_timeout_range),
        T(test_connection_limits_range),
        T(test_unknown_host_key_lists_the_new_ones),
        T(test_duplicate_key_is_refused),
        T(test_error_names_the_right_line),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
