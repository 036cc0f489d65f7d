/*
 * test_rp_config_observability.c -- common/rp_config.c: [gateway] metrics,
 * access_log and access_log_format, [host] metrics_listen: defaults,
 * accepted values, and the "FILE:LINE: what is wrong" of each error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ini_fixture.h"

static rp_config *must_load(fixture *f, const char *text)
{
    rp_config *cfg = load(f, text);
    if (!cfg)
        fail_msg("expected to load:\n%s\ngot: %s", text, f->err);
    return cfg;
}

/* `text` must be refused at `line` with `what`. */
static void expect_error(fixture *f, const char *text, int line, const char *what)
{
    rp_config *cfg = load(f, text);
    if (cfg) {
        rp_config_free(cfg);
        fail_msg("expected to be refused:\n%s", text);
    }
    char expected[sizeof(f->ini) + 400];
    snprintf(expected, sizeof(expected), "%s:%d: %s", f->ini, line, what);
    assert_string_equal(f->err, expected);
}

static void test_defaults(void **state)
{
    fixture *f = *state;
    rp_config *cfg = must_load(f, "");
    assert_int_equal(cfg->gateway.metrics, 1);
    assert_null(cfg->gateway.access_log);
    assert_int_equal(cfg->gateway.access_log_json, 0);
    assert_null(cfg->host.metrics_listen);
    rp_config_free(cfg);
}

static void test_metrics_switch(void **state)
{
    fixture *f = *state;
    rp_config *cfg = must_load(f, "[gateway]\nmetrics = off\n");
    assert_int_equal(cfg->gateway.metrics, 0);
    rp_config_free(cfg);
    cfg = must_load(f, "[gateway]\nmetrics = on\n");
    assert_int_equal(cfg->gateway.metrics, 1);
    rp_config_free(cfg);
    expect_error(f, "[gateway]\nmetrics = maybe\n", 2, "metrics: 'maybe' is not on or off");
}

static void test_access_log_targets(void **state)
{
    fixture *f = *state;
    rp_config *cfg = must_load(f, "[gateway]\naccess_log = stderr\n");
    assert_string_equal(cfg->gateway.access_log, "-");
    rp_config_free(cfg);
    cfg = must_load(f, "[gateway]\naccess_log = off\n");
    assert_null(cfg->gateway.access_log);
    rp_config_free(cfg);
    /* a relative path resolves against the INI's folder; the file need not exist */
    cfg = must_load(f, "[gateway]\naccess_log = logs/access.log\n");
    char expected[sizeof(f->dir) + 32];
    snprintf(expected, sizeof(expected), "%s/logs/access.log", f->dir);
    assert_string_equal(cfg->gateway.access_log, expected);
    rp_config_free(cfg);
    cfg = must_load(f, "[gateway]\naccess_log = /var/log/rpcrest/access.log\n");
    assert_string_equal(cfg->gateway.access_log, "/var/log/rpcrest/access.log");
    rp_config_free(cfg);
    expect_error(f, "[gateway]\n\naccess_log =\n", 3,
                 "access_log: expected off, stderr or a file path");
}

static void test_access_log_format(void **state)
{
    fixture *f = *state;
    rp_config *cfg = must_load(f, "[gateway]\naccess_log_format = json\n");
    assert_int_equal(cfg->gateway.access_log_json, 1);
    rp_config_free(cfg);
    cfg = must_load(f, "[gateway]\naccess_log_format = text\n");
    assert_int_equal(cfg->gateway.access_log_json, 0);
    rp_config_free(cfg);
    expect_error(f, "[gateway]\naccess_log_format = JSON\n", 2,
                 "access_log_format: 'JSON' is not text or json");
    expect_error(f, "[gateway]\naccess_log_format = logfmt\n", 2,
                 "access_log_format: 'logfmt' is not text or json");
}

static void test_host_metrics_listen(void **state)
{
    fixture *f = *state;
    rp_config *cfg = must_load(f, "[host]\nmetrics_listen = 127.0.0.1:9105\n");
    assert_string_equal(cfg->host.metrics_listen, "127.0.0.1:9105");
    rp_config_free(cfg);
    cfg = must_load(f, "[host]\nmetrics_listen = [::1]:9105\n");
    assert_string_equal(cfg->host.metrics_listen, "[::1]:9105");
    rp_config_free(cfg);
    cfg = must_load(f, "[host]\nmetrics_listen = off\n");
    assert_null(cfg->host.metrics_listen);
    rp_config_free(cfg);
    expect_error(f, "[host]\nmetrics_listen = 9105\n", 2,
                 "metrics_listen: '9105' is not off, HOST:PORT or [IPV6]:PORT (HOST an IP "
                 "address or localhost, PORT 1-65535)");
    expect_error(f, "[host]\nmetrics_listen = unix:/tmp/m.sock\n", 2,
                 "metrics_listen: 'unix:/tmp/m.sock' is not off, HOST:PORT or [IPV6]:PORT "
                 "(HOST an IP address or localhost, PORT 1-65535)");
}

static void test_metrics_listen_clashes(void **state)
{
    fixture *f = *state;
    expect_error(f, "[host]\nlisten = 127.0.0.1:7000\nmetrics_listen = 127.0.0.1:7000\n", 3,
                 "[host] metrics_listen 127.0.0.1:7000 is also the host's listen address");
    expect_error(f, "[gateway]\nlisten = 127.0.0.1:7001\n[host]\nmetrics_listen = "
                    "localhost:7001\n", 4,
                 "[host] metrics_listen localhost:7001 is also the gateway's listen address");
}

static void test_unknown_gateway_key_lists_the_new_ones(void **state)
{
    fixture *f = *state;
    expect_error(f, "[gateway]\naccesslog = stderr\n", 2,
                 "unknown key 'accesslog' in [gateway]: did you mean 'access_log'? (known: "
                 "listen, upstream, descriptors, services, auto_map, docs, timeout, "
                 "max_timeout, max_body_bytes, threads, connection_timeout, max_connections, "
                 "busy_poll_us, cors_origins, cors_allow_credentials, cors_max_age, "
                 "forward_headers, reply_headers, status_metadata, gzip, grpc_web, "
                 "ignore_unknown_query_parameters, "
                 "json_ignore_unknown_fields, "
                 "json_emit_defaults, json_proto_names, json_enum_numbers, metrics, access_log, "
                 "access_log_format, "
                 "cert, key, upstream_ca, upstream_cert, upstream_key, upstream_name, "
                 "upstream_dns_interval, openapi_title, openapi_version, restart, "
                 "backoff_initial, backoff_max, backoff_multiplier, backoff_jitter, "
                 "start_seconds, start_retries, ready_timeout, stop_timeout)");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_metrics_switch),
        T(test_access_log_targets),
        T(test_access_log_format),
        T(test_host_metrics_listen),
        T(test_metrics_listen_clashes),
        T(test_unknown_gateway_key_lists_the_new_ones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
