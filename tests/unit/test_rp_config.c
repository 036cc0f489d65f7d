/*
 * test_rp_config.c -- common/rp_config.c: defaults, a full file, path
 * resolution, and the "FILE:LINE: what is wrong" of every error it knows.
 *
 * Each test gets its own mkdtemp folder holding the INI and the files it
 * names; the folder is removed and the working directory restored after.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rp_config.h"

#include "ini_fixture.h"
#include "rp_addr.h"

/* ---- fixture ------------------------------------------------------------ */

/* ini_fixture.h's folder, with svc.so and svc.pb (empty regular files: the
 * loader only checks that they exist) and an empty sub-folder "folder". */
static int setup_files(void **state)
{
    if (setup(state) < 0)
        return -1;
    fixture *f = *state;
    put_file(f, "svc.so", "");
    put_file(f, "svc.pb", "");
    make_dir(f, "folder");
    return 0;
}

/* ---- loading ------------------------------------------------------------ */

/* The same for an INI that has one [section] and `key = value` at line 2. */
static void expect_value_error(fixture *f, const char *section, const char *key,
                               const char *value, const char *what)
{
    char text[512];
    bprintf(text, sizeof(text), "[%s]\n%s = %s\n", section, key, value);
    expect_error_at(f, text, 2, what);
}

/* Loads "[section]\nkey = value\n" and returns the config (caller frees). */
static rp_config *load_value(fixture *f, const char *section, const char *key,
                             const char *value)
{
    char text[512];
    bprintf(text, sizeof(text), "[%s]\n%s = %s\n", section, key, value);
    return load_ok(f, text);
}

/* ---- valid files ---------------------------------------------------------- */

static void test_defaults_for_an_empty_file(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_ok(f, "");
    assert_string_equal(cfg->path, f->ini);
    assert_string_equal(cfg->dir, f->dir);
    assert_true(cfg->supervisor.stop_timeout == 10.0);
    assert_string_equal(cfg->host.listen, "127.0.0.1:5505");
    assert_int_equal(cfg->host.threads, 0);
    assert_int_equal(cfg->host.max_message_bytes, 4 * 1024 * 1024);
    assert_int_equal(cfg->host.max_concurrent_streams, 100);
    assert_true(cfg->host.drain_timeout == 5.0);
    assert_string_equal(cfg->gateway.listen, "127.0.0.1:8080");
    assert_null(cfg->gateway.upstream);
    assert_true(cfg->gateway.timeout == 10.0);
    assert_true(cfg->gateway.max_timeout == 300.0);
    assert_int_equal(cfg->gateway.max_body_bytes, 4 * 1024 * 1024);
    assert_int_equal(cfg->gateway.threads, 0);
    assert_int_equal(cfg->gateway.ignore_unknown_query_parameters, 0);
    assert_int_equal(cfg->gateway.json_ignore_unknown_fields, 0);
    assert_int_equal(cfg->gateway.json_emit_defaults, 0);
    assert_int_equal(cfg->gateway.json_proto_names, 0);
    assert_int_equal(cfg->gateway.json_enum_numbers, 0);
    assert_int_equal(cfg->n_services, 0);
    assert_null(cfg->services);
    rp_config_free(cfg);
}

static void test_defaults_for_empty_sections_and_comments(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_ok(f, "; comment\n# another\n\n[supervisor]\n[host]\n  \n[gateway]\n");
    assert_true(cfg->supervisor.stop_timeout == 10.0);
    assert_string_equal(cfg->host.listen, "127.0.0.1:5505");
    assert_string_equal(cfg->gateway.listen, "127.0.0.1:8080");
    assert_true(cfg->gateway.timeout == 10.0);
    assert_int_equal(cfg->gateway.max_body_bytes, 4 * 1024 * 1024);
    rp_config_free(cfg);
}

static void test_full_file(void **state)
{
    fixture *f = *state;
    char text[2048];
    bprintf(text, sizeof(text),
            "; rpcrest configuration\n"                /* 1 */
            "[supervisor]\n"                           /* 2 */
            "stop_timeout = 2.5\n"                     /* 3 */
            "\n"                                       /* 4 */
            "[host]\n"                                 /* 5 */
            "listen = [::1]:6000\n"                    /* 6 */
            "threads = 4\n"                            /* 7 */
            "\n"                                       /* 8 */
            "[gateway]\n"                              /* 9 */
            "listen = localhost:9090\n"                /* 10 */
            "upstream = dns:///localhost:6000\n"       /* 11 */
            "timeout = 0.25\n"                         /* 12 */
            "max_timeout = 60\n"                       /* 13 */
            "max_body_bytes = 64k\n"                   /* 14 */
            "threads = 8\n"                            /* 15 */
            "ignore_unknown_query_parameters = on\n"   /* 16 */
            "json_ignore_unknown_fields = yes\n"       /* 17 */
            "json_emit_defaults = TRUE\n"              /* 18 */
            "json_proto_names = 1\n"                   /* 19 */
            "\n"                                       /* 20 */
            "[service.echo]\n"                         /* 21 */
            "plugin = svc.so\n"                        /* 22 */
            "descriptors = svc.pb\n"                   /* 23 */
            "greeting = hello world  ; a comment\n"    /* 24 */
            "# a comment line\n"                       /* 25 */
            "max_items = 10\n"                         /* 26 */
            "\n"                                       /* 27 */
            "[service.other_2-B]\n"                    /* 28 */
            "plugin = %s/svc.so\n",                    /* 29 */
            f->dir);
    rp_config *cfg = load_ok(f, text);
    assert_true(cfg->supervisor.stop_timeout == 2.5);
    assert_string_equal(cfg->host.listen, "[::1]:6000");
    assert_int_equal(cfg->host.threads, 4);
    assert_string_equal(cfg->gateway.listen, "localhost:9090");
    assert_string_equal(cfg->gateway.upstream, "dns:///localhost:6000");
    assert_true(cfg->gateway.timeout == 0.25);
    assert_true(cfg->gateway.max_timeout == 60);
    assert_int_equal(cfg->gateway.max_body_bytes, 64 * 1024);
    assert_int_equal(cfg->gateway.threads, 8);
    assert_int_equal(cfg->gateway.ignore_unknown_query_parameters, 1);
    assert_int_equal(cfg->gateway.json_ignore_unknown_fields, 1);
    assert_int_equal(cfg->gateway.json_emit_defaults, 1);
    assert_int_equal(cfg->gateway.json_proto_names, 1);

    assert_int_equal(cfg->n_services, 2);
    const rp_service_conf *echo = &cfg->services[0];
    assert_string_equal(echo->name, "echo");
    assert_int_equal(echo->line, 21);
    assert_string_equal(echo->plugin, in_dir(f, "svc.so"));
    assert_int_equal(echo->plugin_line, 22);
    assert_string_equal(echo->descriptors, in_dir(f, "svc.pb"));
    assert_int_equal(echo->descriptors_line, 23);
    assert_int_equal(echo->n_settings, 2);
    assert_string_equal(echo->settings[0].key, "greeting");
    assert_string_equal(echo->settings[0].value, "hello world");
    assert_int_equal(echo->settings[0].line, 24);
    assert_string_equal(echo->settings[1].key, "max_items");
    assert_string_equal(echo->settings[1].value, "10");
    assert_int_equal(echo->settings[1].line, 26);

    const rp_service_conf *other = &cfg->services[1];
    assert_string_equal(other->name, "other_2-B");
    assert_int_equal(other->line, 28);
    assert_string_equal(other->plugin, in_dir(f, "svc.so"));
    assert_int_equal(other->plugin_line, 29);
    assert_null(other->descriptors);
    assert_int_equal(other->n_settings, 0);
    rp_config_free(cfg);
}

/* Plugin keys are the plugin's business: any name, each service its own. */
static void test_plugin_settings_keep_their_lines(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_ok(f,
                             "[service.a]\n"           /* 1 */
                             "color = red\n"           /* 2 */
                             "plugin = svc.so\n"       /* 3 */
                             "threads = 3\n"           /* 4 */
                             "listen = anything\n"     /* 5 */
                             "[service.b]\n"           /* 6 */
                             "plugin = svc.so\n"       /* 7 */
                             "color = blue\n"          /* 8 */
                             "empty =\n");             /* 9 */
    assert_int_equal(cfg->n_services, 2);
    const rp_service_conf *a = &cfg->services[0];
    assert_int_equal(a->n_settings, 3);
    assert_string_equal(a->settings[0].key, "color");
    assert_string_equal(a->settings[0].value, "red");
    assert_int_equal(a->settings[0].line, 2);
    assert_string_equal(a->settings[1].key, "threads");
    assert_string_equal(a->settings[1].value, "3");
    assert_int_equal(a->settings[1].line, 4);
    assert_string_equal(a->settings[2].key, "listen");
    assert_string_equal(a->settings[2].value, "anything");
    assert_int_equal(a->settings[2].line, 5);
    assert_int_equal(a->plugin_line, 3);
    const rp_service_conf *b = &cfg->services[1];
    assert_int_equal(b->n_settings, 2);
    assert_string_equal(b->settings[0].key, "color");
    assert_string_equal(b->settings[0].value, "blue");
    assert_int_equal(b->settings[0].line, 8);
    assert_string_equal(b->settings[1].key, "empty");
    assert_string_equal(b->settings[1].value, "");
    assert_int_equal(b->settings[1].line, 9);
    rp_config_free(cfg);
}

/* The same key in two sections is not a duplicate. */
static void test_same_key_in_different_sections(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_ok(f, "[host]\nthreads = 1\n[gateway]\nthreads = 2\n");
    assert_int_equal(cfg->host.threads, 1);
    assert_int_equal(cfg->gateway.threads, 2);
    rp_config_free(cfg);
}

static void test_crlf_line_ends(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_ok(f, "[host]\r\nthreads = 3\r\n[gateway]\r\ntimeout = 7\r\n");
    assert_int_equal(cfg->host.threads, 3);
    assert_true(cfg->gateway.timeout == 7.0);
    rp_config_free(cfg);
}

/* ---- paths ---------------------------------------------------------------- */

/* conf/rpcrest.ini names ../plugins/p.so: that is DIR/plugins/p.so whatever
 * the working directory, and the config's own path comes back absolute. */
static void test_relative_paths_resolve_against_the_ini_folder(void **state)
{
    fixture *f = *state;
    make_dir(f, "conf");
    make_dir(f, "plugins");
    make_dir(f, "elsewhere");
    put_file(f, "plugins/p.so", "");
    put_file(f, "plugins/p.pb", "");
    put_file(f, "conf/rpcrest.ini",
             "[service.p]\nplugin = ../plugins/p.so\ndescriptors = ../plugins/./p.pb\n");
    char ini[PATH_MAX];
    bprintf(ini, sizeof(ini), "%s/conf/rpcrest.ini", f->dir);
    char plugin[PATH_MAX], descriptors[PATH_MAX], conf_dir[PATH_MAX];
    bprintf(plugin, sizeof(plugin), "%s/plugins/p.so", f->dir);
    bprintf(descriptors, sizeof(descriptors), "%s/plugins/p.pb", f->dir);
    bprintf(conf_dir, sizeof(conf_dir), "%s/conf", f->dir);

    /* from an unrelated folder, by absolute path */
    assert_int_equal(chdir(in_dir(f, "elsewhere")), 0);
    rp_config *cfg = rp_config_load(ini, f->err, sizeof(f->err));
    if (!cfg)
        fail_msg("load %s: %s", ini, f->err);
    assert_string_equal(cfg->services[0].plugin, plugin);
    assert_string_equal(cfg->services[0].descriptors, descriptors);
    assert_string_equal(cfg->path, ini);
    assert_string_equal(cfg->dir, conf_dir);
    rp_config_free(cfg);

    /* by a path relative to the working directory */
    assert_int_equal(chdir(f->dir), 0);
    cfg = rp_config_load("conf/rpcrest.ini", f->err, sizeof(f->err));
    if (!cfg)
        fail_msg("load conf/rpcrest.ini: %s", f->err);
    assert_string_equal(cfg->path, ini);
    assert_string_equal(cfg->dir, conf_dir);
    assert_string_equal(cfg->services[0].plugin, plugin);
    rp_config_free(cfg);

    /* a missing relative plugin is reported by its resolved path */
    assert_int_equal(chdir("/"), 0);
    put_file(f, "conf/rpcrest.ini", "[service.p]\nplugin = nope.so\n");
    assert_null(rp_config_load(ini, f->err, sizeof(f->err)));
    char expected[PATH_MAX * 2 + 64];
    bprintf(expected, sizeof(expected), "%s:2: plugin: %s/nope.so: No such file or directory",
            ini, conf_dir);
    assert_string_equal(f->err, expected);
}

static void test_unix_listen(void **state)
{
    fixture *f = *state;
    char text[PATH_MAX + 64], expected[PATH_MAX + 16];

    bprintf(text, sizeof(text), "[host]\nlisten = unix:%s/host.sock\n", f->dir);
    rp_config *cfg = load_ok(f, text);
    bprintf(expected, sizeof(expected), "unix:%s/host.sock", f->dir);
    assert_string_equal(cfg->host.listen, expected);
    rp_config_free(cfg);

    /* relative: against the INI's folder, and need not exist yet */
    assert_int_equal(chdir("/"), 0);
    cfg = load_ok(f, "[host]\nlisten = unix:run/host.sock\n");
    bprintf(expected, sizeof(expected), "unix:%s/run/host.sock", f->dir);
    assert_string_equal(cfg->host.listen, expected);
    rp_config_free(cfg);

    expect_value_error(f, "host", "listen", "unix:", "'unix:' needs a socket path");
    /* the gateway speaks HTTP over TCP only */
    expect_value_error(f, "gateway", "listen", "unix:/tmp/gw.sock",
                       "listen: 'unix:/tmp/gw.sock' is not HOST:PORT");
}

static void test_tcp_listen_accepted(void **state)
{
    fixture *f = *state;
    static const char *const good[] = {"127.0.0.1:1", "localhost:65535", "[::1]:8080",
                                       "0.0.0.0:80", "[::]:9000", "10.1.2.3:5505"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        rp_config *cfg = load_value(f, "host", "listen", good[i]);
        assert_string_equal(cfg->host.listen, good[i]);
        rp_config_free(cfg);
        cfg = load_value(f, "gateway", "listen", good[i]);
        assert_string_equal(cfg->gateway.listen, good[i]);
        rp_config_free(cfg);
    }
}

static void test_bad_listen(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {
        "127.0.0.1",       /* no port */
        "127.0.0.1:",      /* empty port */
        "127.0.0.1:0",     /* port 0 */
        "127.0.0.1:70000", /* port out of range */
        "127.0.0.1:-1",    /* negative port */
        "127.0.0.1:80x",   /* junk after the port */
        "example.com:80",  /* a host name other than localhost */
        "localhost.localdomain:80",
        ":8080",           /* no host */
        "::1:8080",        /* IPv6 without brackets */
        "[::1]8080",       /* no colon after the bracket */
        "[::1]:0",
        "[127.0.0.1]:80",  /* IPv4 in brackets */
        "[::1",            /* unclosed bracket */
        "999.1.1.1:80",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char what[128];
        bprintf(what, sizeof(what), "listen: '%s' is not HOST:PORT", bad[i]);
        expect_value_error(f, "host", "listen", bad[i], what);
        expect_value_error(f, "gateway", "listen", bad[i], what);
    }
    /* the text says what would be right */
    expect_value_error(f, "host", "listen", "127.0.0.1:0", "PORT 1-65535");
}

/* ---- numbers -------------------------------------------------------------- */

static void test_threads(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_ok(f, "[host]\nthreads = 0\n[gateway]\nthreads = 256\n");
    assert_int_equal(cfg->host.threads, 0);
    assert_int_equal(cfg->gateway.threads, 256);
    rp_config_free(cfg);

    static const char *const bad[] = {"-1", "257", "two", "1.5", "4 cores", "0x10", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char what[128];
        bprintf(what, sizeof(what), "threads: '%s' is not a whole number in 0..256", bad[i]);
        expect_value_error(f, "host", "threads", bad[i], what);
        expect_value_error(f, "gateway", "threads", bad[i], what);
    }
}

static void test_timeout(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *text;
        double value;
    } good[] = {{"0.001", 0.001}, {"3600", 3600}, {"1e1", 10}, {"2", 2}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char text[128];
        bprintf(text, sizeof(text), "[gateway]\nmax_timeout = 3600\ntimeout = %s\n",
                good[i].text);
        rp_config *cfg = load_ok(f, text);
        assert_true(cfg->gateway.timeout == good[i].value);
        rp_config_free(cfg);
        bprintf(text, sizeof(text), "[gateway]\nmax_timeout = %s\ntimeout = 0.001\n",
                good[i].text);
        cfg = load_ok(f, text);
        assert_true(cfg->gateway.max_timeout == good[i].value);
        rp_config_free(cfg);
    }
    static const char *const bad[] = {"0", "0.0009", "-1", "3601", "abc", "10s", "nan",
                                      "inf", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char what[128];
        bprintf(what, sizeof(what), "timeout: '%s' is not a number of seconds in 0.001..3600",
                bad[i]);
        expect_value_error(f, "gateway", "timeout", bad[i], what);
        bprintf(what, sizeof(what),
                "max_timeout: '%s' is not a number of seconds in 0.001..3600", bad[i]);
        expect_value_error(f, "gateway", "max_timeout", bad[i], what);
    }
}

/* timeout may not exceed max_timeout: reported at the later of the two. */
static void test_timeout_above_max_timeout(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_ok(f, "[gateway]\ntimeout = 300\n");
    assert_true(cfg->gateway.timeout == 300);
    rp_config_free(cfg);
    expect_error_at(f, "[gateway]\nthreads = 1\ntimeout = 301\n", 3,
                    "[gateway] timeout (301 s) is above max_timeout (300 s)");
    expect_error_at(f, "[gateway]\nmax_timeout = 5\n", 2,
                    "[gateway] timeout (10 s) is above max_timeout (5 s)");
    expect_error_at(f, "[gateway]\nmax_timeout = 1\ntimeout = 1.5\n", 3,
                    "[gateway] timeout (1.5 s) is above max_timeout (1 s)");
}

static void test_stop_timeout(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_value(f, "supervisor", "stop_timeout", "0.01");
    assert_true(cfg->supervisor.stop_timeout == 0.01);
    rp_config_free(cfg);
    static const char *const bad[] = {"0", "0.001", "-5", "3601", "soon", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char what[128];
        bprintf(what, sizeof(what),
                "stop_timeout: '%s' is not a number of seconds in 0.01..3600", bad[i]);
        expect_value_error(f, "supervisor", "stop_timeout", bad[i], what);
    }
}

static void test_max_body_bytes(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *text;
        size_t value;
    } good[] = {{"1", 1},
                {"1024", 1024},
                {"64k", 64 << 10},
                {"64K", 64 << 10},
                {"4M", 4 << 20},
                {"4m", 4 << 20},
                {"1G", 1 << 30},
                {"1073741824", 1 << 30}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        rp_config *cfg = load_value(f, "gateway", "max_body_bytes", good[i].text);
        assert_int_equal(cfg->gateway.max_body_bytes, good[i].value);
        rp_config_free(cfg);
    }
    static const char *const bad[] = {"0", "0k", "-1", "2G", "1025M", "1073741825", "4X",
                                      "4MB", "k", "1.5M", "99999999999999999999999", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char what[128];
        bprintf(what, sizeof(what), "max_body_bytes: '%s' is not a size in 1..1G", bad[i]);
        expect_value_error(f, "gateway", "max_body_bytes", bad[i], what);
    }
}

static void test_host_limits(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_ok(f, "[host]\nmax_message_bytes = 16M\nmax_concurrent_streams = 1\n"
                                "drain_timeout = 0\n");
    assert_int_equal(cfg->host.max_message_bytes, 16 << 20);
    assert_int_equal(cfg->host.max_concurrent_streams, 1);
    assert_true(cfg->host.drain_timeout == 0);
    rp_config_free(cfg);
    cfg = load_ok(f, "[host]\nmax_message_bytes = 1k\nmax_concurrent_streams = 65536\n"
                     "drain_timeout = 3600\n");
    assert_int_equal(cfg->host.max_message_bytes, 1024);
    assert_int_equal(cfg->host.max_concurrent_streams, 65536);
    assert_true(cfg->host.drain_timeout == 3600);
    rp_config_free(cfg);

    static const char *const bad_size[] = {"1023", "0", "2G", "-1k", "16MB", ""};
    for (size_t i = 0; i < sizeof(bad_size) / sizeof(bad_size[0]); i++) {
        char what[128];
        bprintf(what, sizeof(what), "max_message_bytes: '%s' is not a size in 1k..1G",
                bad_size[i]);
        expect_value_error(f, "host", "max_message_bytes", bad_size[i], what);
    }
    static const char *const bad_streams[] = {"0", "65537", "-1", "many", ""};
    for (size_t i = 0; i < sizeof(bad_streams) / sizeof(bad_streams[0]); i++) {
        char what[128];
        bprintf(what, sizeof(what),
                "max_concurrent_streams: '%s' is not a whole number in 1..65536",
                bad_streams[i]);
        expect_value_error(f, "host", "max_concurrent_streams", bad_streams[i], what);
    }
    static const char *const bad_drain[] = {"-1", "3601", "soon", ""};
    for (size_t i = 0; i < sizeof(bad_drain) / sizeof(bad_drain[0]); i++) {
        char what[128];
        bprintf(what, sizeof(what),
                "drain_timeout: '%s' is not a number of seconds in 0..3600", bad_drain[i]);
        expect_value_error(f, "host", "drain_timeout", bad_drain[i], what);
    }
}

static void test_host_ping_policy(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_ok(f, "[host]\n");
    assert_true(cfg->host.min_ping_interval == 300.0);
    assert_int_equal(cfg->host.ping_without_calls, 0);
    rp_config_free(cfg);
    cfg = load_ok(f, "[host]\nmin_ping_interval = 10\nping_without_calls = on\n");
    assert_true(cfg->host.min_ping_interval == 10.0);
    assert_int_equal(cfg->host.ping_without_calls, 1);
    rp_config_free(cfg);
    static const char *const bad_interval[] = {"0", "0.5", "7201", "-1", "often", ""};
    for (size_t i = 0; i < sizeof(bad_interval) / sizeof(bad_interval[0]); i++) {
        char what[128];
        bprintf(what, sizeof(what),
                "min_ping_interval: '%s' is not a number of seconds in 1..7200", bad_interval[i]);
        expect_value_error(f, "host", "min_ping_interval", bad_interval[i], what);
    }
    expect_value_error(f, "host", "ping_without_calls", "sometimes",
                       "ping_without_calls: 'sometimes' is not on or off");
}

/* [gateway] forward_headers: names kept in lower case; a name that cannot
 * be a metadata key, or that gRPC, the transport or the gateway's own
 * mapping already owns, is refused with the reason. */
static void test_gateway_forward_headers(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_value(f, "gateway", "forward_headers", " X-User-Id ,x-tenant,, X_A.b ");
    assert_int_equal(cfg->gateway.n_forward_headers, 3);
    assert_string_equal(cfg->gateway.forward_headers[0], "x-user-id");
    assert_string_equal(cfg->gateway.forward_headers[1], "x-tenant");
    assert_string_equal(cfg->gateway.forward_headers[2], "x_a.b");
    rp_config_free(cfg);
    cfg = load_value(f, "gateway", "listen", "127.0.0.1:8080");
    assert_int_equal(cfg->gateway.n_forward_headers, 0);
    assert_null(cfg->gateway.forward_headers);
    rp_config_free(cfg);
    static const struct {
        const char *value, *what;
    } bad[] = {
        {",", "forward_headers: expected NAME[, NAME…] (X-User-Id)"},
        {"X User", "forward_headers: X User: a header name that stands for metadata takes "
                   "only letters, digits and - _ ."},
        {"a, X:b", "forward_headers: X:b: a header name"},
        {"Grpc-Trace", "forward_headers: Grpc-Trace: gRPC reserves the grpc- keys"},
        {"grpc-metadata-x", "gRPC reserves the grpc- keys"},
        {"TE", "forward_headers: TE: HTTP/2 or the gRPC transport sets it"},
        {"Content-Length", "HTTP/2 or the gRPC transport sets it"},
        {"Authorization", "forward_headers: Authorization: the gateway forwards it already, "
                          "as grpcgateway-NAME"},
        {"user-agent", "the gateway forwards it already"},
        {"X-Forwarded-For", "forward_headers: X-Forwarded-For: the gateway sends its own"},
        {"x-request-id", "the gateway sends its own"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_value_error(f, "gateway", "forward_headers", bad[i].value, bad[i].what);
}

/* [gateway] cors_origins, cors_allow_credentials, cors_max_age. */
/* [gateway] reply_headers: kept as spelt; what cannot be a plain header
 * for metadata, or frames the answer, is refused with the reason. */
static void test_gateway_reply_headers(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_value(f, "gateway", "reply_headers", "Location, X-RateLimit-Remaining");
    assert_int_equal(cfg->gateway.n_reply_headers, 2);
    assert_string_equal(cfg->gateway.reply_headers[0], "Location");
    assert_string_equal(cfg->gateway.reply_headers[1], "X-RateLimit-Remaining");
    rp_config_free(cfg);
    static const struct {
        const char *value, *what;
    } bad[] = {
        {",", "reply_headers: expected NAME[, NAME…] (Location)"},
        {"Set Cookie", "reply_headers: Set Cookie: a header name that stands for metadata"},
        {"grpc-status", "gRPC reserves the grpc- keys"},
        {"X-Sig-Bin", "reply_headers: X-Sig-Bin: binary metadata goes out as "
                      "Grpc-Metadata-NAME-bin, in base64"},
        {"Content-Length", "reply_headers: Content-Length: it frames the answer or the gateway "
                           "writes it"},
        {"Transfer-Encoding", "it frames the answer"},
        {"Content-Encoding", "it frames the answer"},
        {"Vary", "it frames the answer"},
        {"X-Request-Id", "it frames the answer"},
        {"Access-Control-Allow-Origin", "it frames the answer"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_value_error(f, "gateway", "reply_headers", bad[i].value, bad[i].what);
}

/* [gateway] status_metadata: one key, kept in lower case; off for none. */
static void test_gateway_status_metadata(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_value(f, "gateway", "status_metadata", "X-HTTP-Code");
    assert_string_equal(cfg->gateway.status_metadata, "x-http-code");
    rp_config_free(cfg);
    cfg = load_value(f, "gateway", "status_metadata", "off");
    assert_null(cfg->gateway.status_metadata);
    rp_config_free(cfg);
    expect_value_error(f, "gateway", "status_metadata", "x code",
                       "status_metadata: 'x code': a header name that stands for metadata");
    expect_value_error(f, "gateway", "status_metadata", "grpc-status",
                       "status_metadata: 'grpc-status': gRPC reserves the grpc- keys");
    expect_value_error(f, "gateway", "status_metadata", "x-code-bin",
                       "status_metadata: 'x-code-bin': a -bin key holds bytes, not a status");
}

/* [gateway] openapi_title, openapi_version: UTF-8 text for the OpenAPI
 * document's info; NULL (rpcrest's own) unless set. */
static void test_gateway_openapi_info(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_value(f, "gateway", "openapi_title", "Bücher-API (intern)");
    assert_string_equal(cfg->gateway.openapi_title, "Bücher-API (intern)");
    assert_null(cfg->gateway.openapi_version);
    rp_config_free(cfg);
    cfg = load_value(f, "gateway", "openapi_version", "2.1.0");
    assert_string_equal(cfg->gateway.openapi_version, "2.1.0");
    assert_null(cfg->gateway.openapi_title);
    rp_config_free(cfg);
    static const char *const bad[] = {"", "a\x01b", "caf\xe9", "x\x7f"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[200];
        snprintf(want, sizeof(want), "openapi_title: '%s' is not 1 to 200 bytes of UTF-8 text "
                 "without control characters", bad[i]);
        expect_value_error(f, "gateway", "openapi_title", bad[i], want);
    }
    char longest[202];
    memset(longest, 'v', 201);
    longest[201] = '\0';
    char want[400];
    snprintf(want, sizeof(want), "openapi_version: '%s' is not 1 to 200 bytes of UTF-8 text "
             "without control characters", longest);
    expect_value_error(f, "gateway", "openapi_version", longest, want);
}

static void test_gateway_cors(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_value(f, "gateway", "listen", "127.0.0.1:8080");
    assert_int_equal(cfg->gateway.n_cors_origins, 0);
    assert_int_equal(cfg->gateway.cors_any, 0);
    assert_int_equal(cfg->gateway.cors_allow_credentials, 0);
    assert_int_equal(cfg->gateway.cors_max_age, 600);
    rp_config_free(cfg);
    cfg = load_value(f, "gateway", "cors_origins",
                     "https://app.example.com, http://localhost:3000,http://[::1]:8000");
    assert_int_equal(cfg->gateway.n_cors_origins, 3);
    assert_string_equal(cfg->gateway.cors_origins[1], "http://localhost:3000");
    assert_string_equal(cfg->gateway.cors_origins[2], "http://[::1]:8000");
    assert_int_equal(cfg->gateway.cors_any, 0);
    rp_config_free(cfg);
    cfg = load_value(f, "gateway", "cors_origins", " * ");
    assert_int_equal(cfg->gateway.cors_any, 1);
    rp_config_free(cfg);
    cfg = load_value(f, "gateway", "cors_origins", "off");
    assert_int_equal(cfg->gateway.n_cors_origins + (size_t)cfg->gateway.cors_any, 0);
    rp_config_free(cfg);
    cfg = load_value(f, "gateway", "cors_max_age", "0");
    assert_int_equal(cfg->gateway.cors_max_age, 0);
    rp_config_free(cfg);
    /* each list key keeps its own list, whatever comes after it (the
     * sanitizer build checks that each is freed once) */
    cfg = load_ok(f, "[gateway]\ncors_origins = https://b.example, https://c.example\n"
                     "forward_headers = X-B\nservices = p.T, p.U\n");
    assert_int_equal(cfg->gateway.n_cors_origins, 2);
    assert_string_equal(cfg->gateway.cors_origins[0], "https://b.example");
    assert_int_equal(cfg->gateway.n_forward_headers, 1);
    assert_string_equal(cfg->gateway.forward_headers[0], "x-b");
    assert_int_equal(cfg->gateway.n_services, 2);
    assert_string_equal(cfg->gateway.services[1], "p.U");
    rp_config_free(cfg);
    static const char *const bad_origins[] = {"app.example.com", "https://", "https://a.b/",
                                              "https://a.b/path", "ftp://a.b", "*, https://a.b",
                                              "https://a b"};
    for (size_t i = 0; i < sizeof(bad_origins) / sizeof(bad_origins[0]); i++)
        expect_value_error(f, "gateway", "cors_origins", bad_origins[i], "is not an origin");
    expect_value_error(f, "gateway", "cors_origins", ",",
                       "cors_origins: expected off, * or ORIGIN[, ORIGIN…]");
    expect_value_error(f, "gateway", "cors_max_age", "86401",
                       "cors_max_age: '86401' is not a whole number of seconds in 0..86400");
    expect_value_error(f, "gateway", "cors_allow_credentials", "sure", "is not on or off");
    expect_error_at(f, "[gateway]\ncors_origins = *\ncors_allow_credentials = on\n", 2,
                    "[gateway] cors_origins = * with cors_allow_credentials = on: browsers send "
                    "no credentials to any origin; name the origins");
}

static void test_gateway_switches(void **state)
{
    fixture *f = *state;
    static const char *const keys[] = {"ignore_unknown_query_parameters",
                                       "json_ignore_unknown_fields", "json_emit_defaults",
                                       "json_proto_names", "json_enum_numbers", "gzip",
                                       "grpc_web"};
    static const struct {
        const char *text;
        int value;
    } values[] = {{"on", 1},  {"true", 1},  {"yes", 1}, {"1", 1},   {"ON", 1},  {"Yes", 1},
                  {"off", 0}, {"false", 0}, {"no", 0},  {"0", 0},   {"OFF", 0}, {"False", 0}};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
            rp_config *cfg = load_value(f, "gateway", keys[k], values[v].text);
            int got = k == 0   ? cfg->gateway.ignore_unknown_query_parameters
                      : k == 1 ? cfg->gateway.json_ignore_unknown_fields
                      : k == 2 ? cfg->gateway.json_emit_defaults
                      : k == 3 ? cfg->gateway.json_proto_names
                      : k == 4 ? cfg->gateway.json_enum_numbers
                      : k == 5 ? cfg->gateway.gzip
                               : cfg->gateway.grpc_web;
            if (got != values[v].value)
                fail_msg("%s = %s gave %d", keys[k], values[v].text, got);
            rp_config_free(cfg);
        }
        static const char *const bad[] = {"maybe", "2", "onn", "y", ""};
        for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
            char what[128];
            bprintf(what, sizeof(what), "%s: '%s' is not on or off", keys[k], bad[b]);
            expect_value_error(f, "gateway", keys[k], bad[b], what);
        }
        /* these belong to the gateway only */
        char what[128];
        bprintf(what, sizeof(what), "unknown key '%s' in [host]", keys[k]);
        expect_value_error(f, "host", keys[k], "on", what);
    }
}

static void test_upstream(void **state)
{
    fixture *f = *state;
    static const char *const good[] = {
        "dns:///rpc.internal:5505", "ipv4:127.0.0.1:6000", "unix:/run/rpcrest/host.sock",
        "localhost:5505", "ipv4:127.0.0.1:1,10.0.0.2:65535", "ipv6:[::1]:7000,[fe80::1]:7001",
        "dns://8.8.8.8:53/rpc.internal:443", "dns:rpc.internal:80", "[::1]:5505",
        "unix-abstract:rpcrest", "10.1.2.3:5505", "dns://127.0.0.1/svc.consul:50051",
        "dns://[::1]:8600/svc.consul:50051", "dns://::1/svc.consul:50051"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        rp_config *cfg = load_value(f, "gateway", "upstream", good[i]);
        assert_string_equal(cfg->gateway.upstream, good[i]);
        char target[256];
        rp_config_gateway_target(cfg, target, sizeof(target));
        assert_string_equal(target, good[i]);
        rp_config_free(cfg);
    }
    expect_value_error(f, "gateway", "upstream", "", "upstream: '' is not a gRPC target");
    expect_value_error(f, "gateway", "upstream", "ipv4:1.2.3.4:5 ipv4:1.2.3.4:6",
                       "upstream: 'ipv4:1.2.3.4:5 ipv4:1.2.3.4:6' is not a gRPC target");
    /* gRPC core would dial 99999 as 34463, a missing port as 443 or 0 */
    static const char *const bad[] = {
        "127.0.0.1:99999", "127.0.0.1", "127.0.0.1:0", "http://127.0.0.1:5505",
        "dns:///rpc.internal", "dns://8.8.8.8/", "ipv4:127.0.0.1:1,", "ipv4:", "unix:",
        /* the DNS server is an IP address, as gRPC's resolver takes it */
        "dns://ns.example/rpc.internal:443", "dns://8.8.8.8:99999/rpc.internal:443",
        "127.0.0.1:1,127.0.0.1:2", "ipv6:[::1]", "host:port", "[::1:5505",
        /* gRPC's ipv4: takes IPv4 addresses only, ipv6: [IPv6] ones only */
        "ipv6:127.0.0.1:5505", "ipv4:localhost:5505", "ipv6:::1:5505", "ipv4:[::1]:5505"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[128];
        snprintf(want, sizeof(want), "upstream: '%s' is not a gRPC target: HOST:PORT", bad[i]);
        expect_value_error(f, "gateway", "upstream", bad[i], want);
    }
}

/* Without upstream the gateway calls the host's listen address. */
static void test_gateway_target_defaults_to_the_host(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *listen;
        const char *target;
    } cases[] = {{"127.0.0.1:5505", "ipv4:127.0.0.1:5505"},
                 {"localhost:7000", "ipv4:127.0.0.1:7000"},
                 {"[::1]:7001", "ipv6:[::1]:7001"},
                 {"unix:/tmp/rpcrest-host.sock", "unix:/tmp/rpcrest-host.sock"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rp_config *cfg = load_value(f, "host", "listen", cases[i].listen);
        char target[256];
        rp_config_gateway_target(cfg, target, sizeof(target));
        assert_string_equal(target, cases[i].target);
        rp_config_free(cfg);
    }
}

/* ---- structure errors ----------------------------------------------------- */

static void test_unknown_section(void **state)
{
    fixture *f = *state;
    expect_error_at(f, "[host]\nthreads = 1\n\n[hosts]\nthreads = 2\n", 4,
                    "unknown section [hosts]");
    expect_error_at(f, "[services.echo]\nplugin = svc.so\n", 1,
                    "unknown section [services.echo]");
    expect_error_at(f, "[ host ]\n", 1, "unknown section [ host ]");
    expect_error_at(f, "[]\n", 1, "unknown section []");
}

static void test_unknown_key_in_each_fixed_section(void **state)
{
    fixture *f = *state;
    expect_error_at(f, "[supervisor]\nstop_timeout = 1\ntimeout = 2\n", 3,
                    "unknown key 'timeout' in [supervisor] (known: control_socket, log_file");
    expect_error_at(f, "[host]\nlisten = 127.0.0.1:1\n\nmax_body_bytes = 1\n", 4,
                    "unknown key 'max_body_bytes' in [host] (known: listen, threads");
    expect_error_at(f, "[gateway]\ndrain_timeout = 1\n", 2,
                    "unknown key 'drain_timeout' in [gateway] (known: listen, ");
    /* keys are case-sensitive */
    expect_error_at(f, "[host]\nListen = 127.0.0.1:1\n", 2, "unknown key 'Listen' in [host]");
}

static void test_key_outside_any_section(void **state)
{
    fixture *f = *state;
    expect_error_at(f, "; top\nlisten = 127.0.0.1:1\n[host]\n", 2,
                    "'listen' is outside any section");
}

static void test_syntax_errors(void **state)
{
    fixture *f = *state;
    const char *what = "syntax error: expected [section], key = value, or a ; comment";
    expect_error_at(f, "[host]\nthreads = 1\nthreads 2\n", 3, what);
    expect_error_at(f, "[host]\nthreads\n", 2, what);
    expect_error_at(f, "; ok\n[host\n", 2, what);
    expect_error_at(f, "[gateway]\ntimeout = 1\njust some words\n", 3, what);
}

/* A line of INI text: `head` and then `fill` up to `len` bytes, newline
 * and NUL added; the caller frees it. */
static char *long_line(const char *head, char fill, size_t len)
{
    char *line = malloc(len + 2);
    assert_non_null(line);
    memset(line, fill, len);
    memcpy(line, head, strlen(head));
    line[len] = '\n';
    line[len + 1] = '\0';
    return line;
}

/* Lines up to RP_CONFIG_MAX_LINE bytes are read whole: a list of long
 * paths fits on one line. */
static void test_long_lines(void **state)
{
    fixture *f = *state;
    make_dir(f, "descriptors-for-the-production-deployment");
    const char *names[] = {"users.pb", "orders.pb", "payments.pb"};
    char paths[3][PATH_MAX + 64], text[4 * PATH_MAX + 256];
    for (int i = 0; i < 3; i++) {
        bprintf(paths[i], sizeof(paths[i]), "descriptors-for-the-production-deployment/%s",
                names[i]);
        put_file(f, paths[i], "");
        bprintf(paths[i], sizeof(paths[i]), "%s", in_dir(f, paths[i]));
    }
    bprintf(text, sizeof(text), "[gateway]\ndescriptors = %s, %s, %s\nthreads = 2\n", paths[0],
            paths[1], paths[2]);
    assert_true(strlen(strchr(text, '\n') + 1) > 200);
    rp_config *cfg = load_ok(f, text);
    assert_int_equal(cfg->gateway.n_descriptors, 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(cfg->gateway.descriptors[i], paths[i]);
    assert_int_equal(cfg->gateway.threads, 2);
    rp_config_free(cfg);

    /* the longest line there may be: a comment, and a value */
    char *longest = long_line(";", 'x', RP_CONFIG_MAX_LINE);
    char *value = long_line("[service.a]\nplugin = svc.so\ncolor = ", 'r', RP_CONFIG_MAX_LINE + 28);
    char *both = malloc(strlen(longest) + strlen(value) + 16);
    assert_non_null(both);
    sprintf(both, "%s%s", longest, value);
    cfg = load_ok(f, both);
    assert_int_equal(cfg->services[0].n_settings, 1);
    assert_int_equal(strlen(cfg->services[0].settings[0].value), RP_CONFIG_MAX_LINE - 8);
    assert_int_equal(cfg->services[0].settings[0].line, 4);
    rp_config_free(cfg);
    free(both);

    /* the same with CRLF line ends: the CR does not count */
    char *crlf = malloc(strlen(value) + 2);
    assert_non_null(crlf);
    strcpy(crlf, value);
    strcpy(crlf + strlen(crlf) - 1, "\r\n");
    cfg = load_ok(f, crlf);
    assert_int_equal(strlen(cfg->services[0].settings[0].value), RP_CONFIG_MAX_LINE - 8);
    rp_config_free(cfg);
    free(crlf);
    free(value);
    free(longest);
}

/* A line over RP_CONFIG_MAX_LINE bytes is refused at its line. */
static void test_over_long_line(void **state)
{
    fixture *f = *state;
    char what[64];
    bprintf(what, sizeof(what), "line longer than %u bytes", RP_CONFIG_MAX_LINE);
    char *comment = long_line(";", 'x', RP_CONFIG_MAX_LINE + 1);
    char *text = malloc(strlen(comment) + 64);
    assert_non_null(text);
    sprintf(text, "[host]\nthreads = 2\n%sthreads = 3\n", comment);
    expect_error_at(f, text, 3, what);

    /* a value is not cut short to something that would pass */
    char *value = long_line("[host]\nthreads = 1", ' ', RP_CONFIG_MAX_LINE + 8);
    value[RP_CONFIG_MAX_LINE + 6] = '2';
    expect_error_at(f, value, 2, what);
    free(value);
    free(text);
    free(comment);
}

/* Nothing but a comment may follow a section header's ']'. */
static void test_text_after_a_section_header(void **state)
{
    fixture *f = *state;
    expect_error_at(f,
                    "[gateway] [host]\n"
                    "listen = 127.0.0.1:15598\n"
                    "[host] listen = 127.0.0.1:15597\n",
                    1, "'[host]' after [gateway]: only a ; or # comment may follow a section "
                       "header");
    expect_error_at(f, "[gateway]\nthreads = 2\n[host] listen = 127.0.0.1:15597\n", 3,
                    "'listen = 127.0.0.1:15597' after [host]");
    expect_error_at(f, "[host]x\n", 1, "'x' after [host]");
    expect_error_at(f, "[service.a]]\nplugin = svc.so\n", 1, "']' after [service.a]");
    rp_config *cfg = load_ok(f,
                             "[host]  \t\n"
                             "threads = 1\n"
                             "[gateway] ; the REST side\n"
                             "threads = 2\n"
                             "[supervisor]# the parent\n"
                             "stop_timeout = 3\n"
                             "[service.a];\n"
                             "plugin = svc.so\n");
    assert_int_equal(cfg->host.threads, 1);
    assert_int_equal(cfg->gateway.threads, 2);
    assert_true(cfg->supervisor.stop_timeout == 3.0);
    assert_int_equal(cfg->n_services, 1);
    rp_config_free(cfg);
}

/* Refused at `line` with `what`: the INI text[len], NUL bytes and all. */
static void expect_bytes_error_at(fixture *f, const char *text, size_t len, int line,
                                  const char *what)
{
    FILE *file = fopen(f->ini, "w");
    assert_non_null(file);
    assert_int_equal(fwrite(text, 1, len, file), len);
    assert_int_equal(fclose(file), 0);
    f->err[0] = '\0';
    rp_config *cfg = rp_config_load(f->ini, f->err, sizeof(f->err));
    if (cfg) {
        rp_config_free(cfg);
        fail_msg("expected an error at line %d (%s), but it loaded", line, what);
    }
    char expected[PATH_MAX + 128];
    bprintf(expected, sizeof(expected), "%s:%d: %s", f->ini, line, what);
    assert_string_equal(f->err, expected);
}

/* A NUL byte does not end a line early: the line is refused. */
static void test_nul_byte(void **state)
{
    fixture *f = *state;
    static const char value[] = "[supervisor]\nstop_timeout = 5\0 garbage\n";
    expect_bytes_error_at(f, value, sizeof(value) - 1, 2, "NUL byte in the line");
    static const char later[] = "; a\n\n[host]\nlisten = 127.0.0.1:15596\0junk\n";
    expect_bytes_error_at(f, later, sizeof(later) - 1, 4, "NUL byte in the line");
    static const char comment[] = "[host]\n; a comment \0 [gateway]\nthreads = 1";
    expect_bytes_error_at(f, comment, sizeof(comment) - 1, 2, "NUL byte in the line");
    static const char last[] = "[host]\nthreads = 1\n\0";
    expect_bytes_error_at(f, last, sizeof(last) - 1, 3, "NUL byte in the line");
}

static void test_duplicate_sections(void **state)
{
    fixture *f = *state;
    expect_error_at(f, "[host]\nthreads = 1\n[gateway]\n[host]\n", 4,
                    "section [host] appears twice");
    expect_error_at(f, "[supervisor]\n[supervisor]\n", 2, "section [supervisor] appears twice");
    expect_error_at(f, "[gateway]\n\n\n[gateway]\n", 4, "section [gateway] appears twice");
    expect_error_at(f,
                    "[service.a]\nplugin = svc.so\n\n[service.b]\nplugin = svc.so\n"
                    "[service.a]\nplugin = svc.so\n",
                    6, "section [service.a] appears twice (first at line 1)");
}

static void test_duplicate_keys(void **state)
{
    fixture *f = *state;
    expect_error_at(f, "[gateway]\ntimeout = 1\nthreads = 2\ntimeout = 2\n", 4,
                    "key 'timeout' appears twice in [gateway]");
    expect_error_at(f, "[host]\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:1\n", 3,
                    "key 'listen' appears twice in [host]");
    expect_error_at(f, "[supervisor]\nstop_timeout = 1\nstop_timeout = 1\n", 3,
                    "key 'stop_timeout' appears twice in [supervisor]");
    expect_error_at(f, "[service.a]\nplugin = svc.so\ncolor = red\ncolor = blue\n", 4,
                    "key 'color' appears twice in [service.a]");
    expect_error_at(f, "[service.a]\nplugin = svc.so\nplugin = svc.so\n", 3,
                    "key 'plugin' appears twice in [service.a]");
}

/* ---- services ------------------------------------------------------------- */

static void test_missing_plugin_file(void **state)
{
    fixture *f = *state;
    char what[PATH_MAX + 64];
    bprintf(what, sizeof(what), "plugin: %s/nope.so: No such file or directory", f->dir);
    expect_error_at(f, "[service.a]\n; the plugin\nplugin = nope.so\n", 3, what);
    bprintf(what, sizeof(what), "descriptors: %s/nope.pb: No such file or directory", f->dir);
    expect_error_at(f, "[service.a]\nplugin = svc.so\ndescriptors = nope.pb\n", 3, what);
}

static void test_plugin_path_is_a_folder(void **state)
{
    fixture *f = *state;
    char what[PATH_MAX + 64];
    bprintf(what, sizeof(what), "plugin: %s/folder: not a regular file", f->dir);
    expect_error_at(f, "[service.a]\nplugin = folder\n", 2, what);
    bprintf(what, sizeof(what), "descriptors: %s/folder: not a regular file", f->dir);
    expect_error_at(f, "[service.a]\nplugin = svc.so\ndescriptors = folder/\n", 3, what);
    /* an empty value names the INI's own folder */
    bprintf(what, sizeof(what), "plugin: %s: not a regular file", f->dir);
    expect_error_at(f, "[service.a]\nplugin =\n", 2, what);
}

static void test_service_without_plugin(void **state)
{
    fixture *f = *state;
    /* reported at the section header, after the whole file was read */
    expect_error_at(f,
                    "[service.a]\n"           /* 1 */
                    "plugin = svc.so\n"       /* 2 */
                    "\n"                      /* 3 */
                    "[service.b]\n"           /* 4 */
                    "descriptors = svc.pb\n"  /* 5 */
                    "color = red\n"           /* 6 */
                    "[host]\n"                /* 7 */
                    "threads = 1\n",          /* 8 */
                    4, "[service.b] has no 'plugin = PATH.so'");
    expect_error_at(f, "[host]\n[service.empty]\n", 2,
                    "[service.empty] has no 'plugin = PATH.so'");
}

static void test_invalid_service_names(void **state)
{
    fixture *f = *state;
    const char *what = "a service name is letters, digits, '_' and '-'";
    expect_error_at(f, "[host]\n[service.]\nplugin = svc.so\n", 2, what);
    expect_error_at(f, "[service.a b]\nplugin = svc.so\n", 1, what);
    expect_error_at(f, "[service.a.b]\nplugin = svc.so\n", 1, "[service.a.b]: a service name");
    expect_error_at(f, "[service.a/b]\n", 1, what);
    expect_error_at(f, "[service.caf\xc3\xa9]\n", 1, what);
}

/* ---- whole-file checks ---------------------------------------------------- */

/* Reported at the listen line that made the clash; localhost is 127.0.0.1. */
static void test_host_and_gateway_on_the_same_address(void **state)
{
    fixture *f = *state;
    const char *what = "[host] and [gateway] both listen on 127.0.0.1:8080";
    expect_error_at(f, "; c\n[host]\nlisten = 127.0.0.1:8080\n", 3, what);
    expect_error_at(f, "[gateway]\nlisten = 127.0.0.1:5505\n", 2,
                    "[host] and [gateway] both listen on 127.0.0.1:5505");
    expect_error_at(f,
                    "[gateway]\nlisten = 127.0.0.1:8080\n[host]\nthreads = 1\n"
                    "listen = 127.0.0.1:8080\n",
                    5, what);
    expect_error_at(f, "[host]\nlisten = localhost:8080\n", 2, what);
}

/* inih reports a syntax error only once the whole file is read; it still
 * comes before an error on a later line. */
static void test_syntax_error_before_a_later_error(void **state)
{
    fixture *f = *state;
    const char *what = "syntax error";
    expect_error_at(f, "; ok\n[host\nthreads = 1\n", 2, what);
    expect_error_at(f, "[host]\nthreads 2\n[gateway]\ntimeout = never\n", 2, what);
    expect_error_at(f, "[host]\nthreads = x\nthreads 2\n", 2, "threads: 'x'");
}

static void test_empty_key(void **state)
{
    fixture *f = *state;
    expect_error_at(f, "[service.a]\nplugin = svc.so\n= 1\n", 3,
                    "a key name is missing before '='");
}

/* Keys may be indented: an indented line is not a continuation. */
static void test_indented_lines(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_ok(f,
                             "  [host]\n"
                             "  listen = 127.0.0.1:7000\n"
                             "  threads = 3\n"
                             "\t[gateway]\n"
                             "\ttimeout = 2\n"
                             "\tthreads = 4\n");
    assert_string_equal(cfg->host.listen, "127.0.0.1:7000");
    assert_int_equal(cfg->host.threads, 3);
    assert_true(cfg->gateway.timeout == 2.0);
    assert_int_equal(cfg->gateway.threads, 4);
    rp_config_free(cfg);
    expect_error_at(f, "[host]\n  threads = 1\n  bogus = 2\n", 3, "unknown key 'bogus'");
}

/* A UTF-8 byte order mark does not hide the first section header. */
static void test_utf8_bom(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_ok(f, "\xEF\xBB\xBF[host]\nthreads = 3\n");
    assert_int_equal(cfg->host.threads, 3);
    rp_config_free(cfg);
    expect_error_at(f, "\xEF\xBB\xBF[hots]\nlisten = 1\n", 1, "unknown section [hots]");
    expect_error_at(f, "\xEF\xBB\xBF[service.a]\nplugin = nope.so\n", 2, "nope.so");
    expect_error_at(f, "\xEF\xBB\xBF[service.a]\ncolor = red\n", 1,
                    "[service.a] has no 'plugin = PATH.so'");
}

static void test_first_error_wins(void **state)
{
    fixture *f = *state;
    expect_error_at(f, "[host]\nthreads = many\n[gateway]\ntimeout = never\n[bogus]\n", 2,
                    "threads: 'many'");
    /* an error in the file comes before the whole-file checks */
    expect_error_at(f, "[service.a]\n[host]\nlisten = 127.0.0.1:8080\nthreads = -1\n", 4,
                    "threads: '-1'");
}

static void test_file_that_does_not_exist(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX], expected[PATH_MAX + 64];
    bprintf(path, sizeof(path), "%s/nope.ini", f->dir);
    bprintf(expected, sizeof(expected), "%s: No such file or directory", path);
    assert_null(rp_config_load(path, f->err, sizeof(f->err)));
    assert_string_equal(f->err, expected); /* no line number */

    bprintf(path, sizeof(path), "%s/no/such/folder/rpcrest.ini", f->dir);
    bprintf(expected, sizeof(expected), "%s: No such file or directory", path);
    assert_null(rp_config_load(path, f->err, sizeof(f->err)));
    assert_string_equal(f->err, expected);

    /* relative paths are reported as given */
    assert_int_equal(chdir(f->dir), 0);
    assert_null(rp_config_load("missing.ini", f->err, sizeof(f->err)));
    assert_string_equal(f->err, "missing.ini: No such file or directory");
}

static void test_config_path_is_a_folder(void **state)
{
    fixture *f = *state;
    char expected[PATH_MAX + 64];
    bprintf(expected, sizeof(expected), "%s: not a regular file", f->dir);
    assert_null(rp_config_load(f->dir, f->err, sizeof(f->err)));
    assert_string_equal(f->err, expected);
}

/* A FIFO (or a device) is refused at once: opening it must not wait for a
 * writer, or rpcrestd would hang in a reload.  SIGALRM fails the test if
 * it does. */
static void test_config_path_is_a_fifo(void **state)
{
    fixture *f = *state;
    assert_int_equal(mkfifo(f->ini, 0600), 0);
    char expected[PATH_MAX + 64];
    bprintf(expected, sizeof(expected), "%s: not a regular file", f->ini);
    alarm(5);
    assert_null(rp_config_load(f->ini, f->err, sizeof(f->err)));
    alarm(0);
    assert_string_equal(f->err, expected);
}

/* rp_config_raw_value: one key as written, from a file with errors
 * elsewhere; NULL when it is not there. */
static void test_raw_value(void **state)
{
    fixture *f = *state;
    put_file(f, "rpcrest.ini",
             "\xEF\xBB\xBF; rpcrestd\n"
             "[gateway]\n"
             "control_socket = not-this-one.sock\n"
             "[supervisor]\n"
             "  control_socket = first.sock\n"
             "control_socket = ctl/the.sock  ; the last one\n"
             "bogus key\n"
             "[host]\n"
             "threads = many\n");
    char *value = NULL;
    assert_int_equal(rp_config_raw_value(f->ini, "supervisor", "control_socket", &value, f->err,
                                         sizeof(f->err)), 0);
    assert_string_equal(value, "ctl/the.sock");
    free(value);
    assert_int_equal(rp_config_raw_value(f->ini, "host", "threads", &value, f->err,
                                         sizeof(f->err)), 0);
    assert_string_equal(value, "many");
    free(value);
    assert_int_equal(rp_config_raw_value(f->ini, "host", "listen", &value, f->err,
                                         sizeof(f->err)), 0);
    assert_null(value);
    /* a line rp_config_load refuses is not taken */
    static const char nul[] = "[supervisor]\ncontrol_socket = a.sock\0b.sock\n";
    FILE *file = fopen(f->ini, "w");
    assert_non_null(file);
    assert_int_equal(fwrite(nul, 1, sizeof(nul) - 1, file), sizeof(nul) - 1);
    assert_int_equal(fclose(file), 0);
    assert_int_equal(rp_config_raw_value(f->ini, "supervisor", "control_socket", &value, f->err,
                                         sizeof(f->err)), 0);
    assert_null(value);
}

/* A file rp_config_raw_value cannot read is an error, as for
 * rp_config_load, and a FIFO is refused at once (SIGALRM fails the test if
 * it waits for a writer). */
static void test_raw_value_of_a_file_that_cannot_be_read(void **state)
{
    fixture *f = *state;
    char *value = (char *)"unset";
    char expected[PATH_MAX + 64];
    bprintf(expected, sizeof(expected), "%s: not a regular file", f->dir);
    assert_int_equal(rp_config_raw_value(f->dir, "supervisor", "control_socket", &value, f->err,
                                         sizeof(f->err)), -1);
    assert_null(value);
    assert_string_equal(f->err, expected);

    assert_int_equal(mkfifo(f->ini, 0600), 0);
    bprintf(expected, sizeof(expected), "%s: not a regular file", f->ini);
    alarm(5);
    assert_int_equal(rp_config_raw_value(f->ini, "supervisor", "control_socket", &value, f->err,
                                         sizeof(f->err)), -1);
    alarm(0);
    assert_null(value);
    assert_string_equal(f->err, expected);

    char path[PATH_MAX + 16];
    bprintf(path, sizeof(path), "%s/nope.ini", f->dir);
    bprintf(expected, sizeof(expected), "%s: No such file or directory", path);
    assert_int_equal(rp_config_raw_value(path, "supervisor", "control_socket", &value, f->err,
                                         sizeof(f->err)), -1);
    assert_string_equal(f->err, expected);
}

/* A small err buffer truncates the message but never overflows. */
static void test_small_error_buffer(void **state)
{
    fixture *f = *state;
    put_file(f, "rpcrest.ini", "[bogus]\n");
    char err[8];
    memset(err, '#', sizeof(err));
    assert_null(rp_config_load(f->ini, err, sizeof(err)));
    assert_int_equal(strlen(err), sizeof(err) - 1);
    assert_int_equal(strncmp(err, f->ini, sizeof(err) - 1), 0);
}

/* ---- helpers exported with the loader ------------------------------------ */

static void test_split_hostport(void **state)
{
    (void)state;
    char host[64];
    int port = 0;
    assert_int_equal(rp_addr_split("127.0.0.1:5505", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 5505);
    assert_int_equal(rp_addr_split("[::1]:443", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 443);
    assert_int_equal(rp_addr_split("localhost:65535", host, sizeof(host), &port), 0);
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 65535);

    static const char *const bad[] = {"noport", "[::1]", "[::1]:", ":80", "h:0", "h:65536",
                                      "h:1x", "[::1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        port = -7;
        if (rp_addr_split(bad[i], host, sizeof(host), &port) != -1)
            fail_msg("'%s' was accepted", bad[i]);
        assert_int_equal(port, -7); /* untouched */
    }
    /* a host that does not fit the buffer */
    char small[4];
    assert_int_equal(rp_addr_split("1.2.3.4:80", small, sizeof(small), &port), -1);
    assert_int_equal(rp_addr_split("1.2:80", small, sizeof(small), &port), 0);
    assert_string_equal(small, "1.2");
}

static void test_grpc_target(void **state)
{
    (void)state;
    char out[128];
    rp_config_grpc_target("127.0.0.1:5505", out, sizeof(out));
    assert_string_equal(out, "ipv4:127.0.0.1:5505");
    rp_config_grpc_target("localhost:5505", out, sizeof(out));
    assert_string_equal(out, "ipv4:127.0.0.1:5505");
    rp_config_grpc_target("[::1]:5505", out, sizeof(out));
    assert_string_equal(out, "ipv6:[::1]:5505");
    rp_config_grpc_target("unix:/run/rpcrest/host.sock", out, sizeof(out));
    assert_string_equal(out, "unix:/run/rpcrest/host.sock");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup_files, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults_for_an_empty_file),
        T(test_defaults_for_empty_sections_and_comments),
        T(test_full_file),
        T(test_plugin_settings_keep_their_lines),
        T(test_same_key_in_different_sections),
        T(test_crlf_line_ends),
        T(test_relative_paths_resolve_against_the_ini_folder),
        T(test_unix_listen),
        T(test_tcp_listen_accepted),
        T(test_bad_listen),
        T(test_threads),
        T(test_timeout),
        T(test_timeout_above_max_timeout),
        T(test_stop_timeout),
        T(test_max_body_bytes),
        T(test_host_limits),
        T(test_host_ping_policy),
        T(test_gateway_forward_headers),
        T(test_gateway_cors),
        T(test_gateway_reply_headers),
        T(test_gateway_status_metadata),
        T(test_gateway_openapi_info),
        T(test_gateway_switches),
        T(test_upstream),
        T(test_gateway_target_defaults_to_the_host),
        T(test_unknown_section),
        T(test_unknown_key_in_each_fixed_section),
        T(test_key_outside_any_section),
        T(test_syntax_errors),
        T(test_long_lines),
        T(test_over_long_line),
        T(test_text_after_a_section_header),
        T(test_nul_byte),
        T(test_duplicate_sections),
        T(test_duplicate_keys),
        T(test_missing_plugin_file),
        T(test_plugin_path_is_a_folder),
        T(test_service_without_plugin),
        T(test_invalid_service_names),
        T(test_host_and_gateway_on_the_same_address),
        T(test_syntax_error_before_a_later_error),
        T(test_empty_key),
        T(test_indented_lines),
        T(test_utf8_bom),
        T(test_first_error_wins),
        T(test_file_that_does_not_exist),
        T(test_config_path_is_a_folder),
        T(test_raw_value),
        T(test_raw_value_of_a_file_that_cannot_be_read),
        T(test_config_path_is_a_fifo),
        T(test_small_error_buffer),
        T(test_split_hostport),
        T(test_grpc_target),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
