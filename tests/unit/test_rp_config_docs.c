/*
 * test_rp_config_docs.c -- common/rp_config.c: [gateway] docs, the switch
 * of /openapi.json and the API console: on by default for a loopback
 * listen address only, the values it takes, and the "FILE:LINE: what is
 * wrong" of the ones it refuses; rp_config_is_loopback.
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

/* docs as loaded from [gateway] with `lines` (may be empty); fails the test
 * if the file is refused. */
static int docs_of(fixture *f, const char *lines)
{
    char text[512];
    snprintf(text, sizeof(text), "[gateway]\n%s", lines);
    rp_config *cfg = load(f, text);
    if (!cfg)
        fail_msg("refused: %s", f->err);
    int docs = cfg->gateway.docs;
    rp_config_free(cfg);
    return docs;
}

static void test_default_follows_the_listen_address(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *listen;
        int docs;
    } cases[] = {
        {NULL, 1}, /* 127.0.0.1:8080 */
        {"127.0.0.1:9000", 1},
        {"127.10.20.30:9000", 1},
        {"localhost:9000", 1},
        {"[::1]:9000", 1},
        {"0.0.0.0:8080", 0},
        {"[::]:8080", 0},
        {"192.0.2.10:8080", 0},
        {"[2001:db8::1]:8080", 0},
        {"128.0.0.1:8080", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char lines[128] = "";
        if (cases[i].listen)
            snprintf(lines, sizeof(lines), "listen = %s\n", cases[i].listen);
        int docs = docs_of(f, lines);
        if (docs != cases[i].docs)
            fail_msg("listen = %s: docs %d, want %d", cases[i].listen ? cases[i].listen
                                                                      : "(default)",
                     docs, cases[i].docs);
    }
}

static void test_set_either_way(void **state)
{
    fixture *f = *state;
    /* off on loopback, on elsewhere, whichever line comes first */
    assert_int_equal(docs_of(f, "docs = off\n"), 0);
    assert_int_equal(docs_of(f, "listen = 127.0.0.1:9000\ndocs = no\n"), 0);
    assert_int_equal(docs_of(f, "docs = on\nlisten = 0.0.0.0:9000\n"), 1);
    assert_int_equal(docs_of(f, "listen = [::]:9000\ndocs = true\n"), 1);
    assert_int_equal(docs_of(f, "docs = 1\n"), 1);
    assert_int_equal(docs_of(f, "docs = ON\n"), 1);
}

static void test_refused(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {"maybe", "2", "", "loopback", "on off"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[128], want[PATH_MAX + 128];
        snprintf(text, sizeof(text), "[gateway]\n\ndocs = %s\n", bad[i]);
        rp_config *cfg = load(f, text);
        if (cfg) {
            rp_config_free(cfg);
            fail_msg("docs = %s was accepted", bad[i]);
        }
        snprintf(want, sizeof(want), "%s:3: docs: '%s' is not on or off", f->ini, bad[i]);
        assert_string_equal(f->err, want);
    }
    rp_config *cfg = load(f, "[gateway]\ndocs = on\ndocs = off\n");
    assert_null(cfg);
    char want[PATH_MAX + 100];
    snprintf(want, sizeof(want), "%s:3: key 'docs' appears twice in [gateway]", f->ini);
    assert_string_equal(f->err, want);
}

static void test_only_in_gateway(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load(f, "[host]\ndocs = on\n");
    assert_null(cfg);
    assert_non_null(strstr(f->err, ":2: unknown key 'docs' in [host]"));
    /* and the [gateway] list of known keys names it */
    cfg = load(f, "[gateway]\ndoc = on\n");
    assert_null(cfg);
    assert_non_null(strstr(f->err, ":2: unknown key 'doc' in [gateway]"));
    assert_non_null(strstr(f->err, " docs,"));
}

static void test_is_loopback(void **state)
{
    (void)state;
    assert_int_equal(rp_config_is_loopback("127.0.0.1:1"), 1);
    assert_int_equal(rp_config_is_loopback("127.255.255.254:65535"), 1);
    assert_int_equal(rp_config_is_loopback("localhost:80"), 1);
    assert_int_equal(rp_config_is_loopback("[::1]:80"), 1);
    assert_int_equal(rp_config_is_loopback("[::ffff:127.0.0.1]:80"), 0);
    assert_int_equal(rp_config_is_loopback("10.0.0.1:80"), 0);
    assert_int_equal(rp_config_is_loopback("0.0.0.0:80"), 0);
    assert_int_equal(rp_config_is_loopback("[::]:80"), 0);
    assert_int_equal(rp_config_is_loopback("unix:/tmp/x.sock"), 0);
    assert_int_equal(rp_config_is_loopback("127.0.0.1"), 0); /* no port */
    assert_int_equal(rp_config_is_loopback(""), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_follows_the_listen_address, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_set_either_way, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_in_gateway, setup, teardown),
        cmocka_unit_test(test_is_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
