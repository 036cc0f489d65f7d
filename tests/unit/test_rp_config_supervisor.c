/*
 * test_rp_config_supervisor.c -- common/rp_config.c: what rpcrestd reads:
 * the restart policy ([supervisor] defaults, [host]/[gateway] overrides),
 * control_socket, log_file, the raw keys a reload compares, and the
 * "FILE:LINE: what is wrong" of each error.
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

static void expect_policy_defaults(const rp_child_policy *p)
{
    assert_int_equal(p->restart, RP_RESTART_ALWAYS);
    assert_true(p->backoff_initial == 0.1);
    assert_true(p->backoff_max == 5.0);
    assert_true(p->backoff_multiplier == 2.0);
    assert_true(p->backoff_jitter == 0.1);
    assert_true(p->start_seconds == 10.0);
    assert_int_equal(p->start_retries, 5);
    assert_true(p->ready_timeout == 30.0);
    assert_true(p->stop_timeout == 10.0);
}

/* ---- defaults ------------------------------------------------------------ */

static void test_defaults(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_ok(f, "");
    for (int i = 0; i < RP_N_CHILDREN; i++)
        expect_policy_defaults(&cfg->supervisor.child[i]);
    assert_true(cfg->supervisor.stop_timeout == 10.0);
    char want[PATH_MAX + 32];
    snprintf(want, sizeof(want), "%s/rpcrestd.sock", f->dir);
    assert_string_equal(cfg->supervisor.control_socket, want);
    assert_int_equal(cfg->supervisor.control_socket_line, 0);
    assert_null(cfg->supervisor.log_file);
    assert_int_equal(cfg->n_raw, 0);
    rp_config_free(cfg);
}

/* ---- [supervisor] values and per-child overrides ---------------------------- */

static void test_supervisor_values_apply_to_both(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_ok(f, "[supervisor]\n"
                                "restart = on-failure\n"
                                "backoff_initial = 0.25\n"
                                "backoff_max = 30\n"
                                "backoff_multiplier = 1.5\n"
                                "backoff_jitter = 0\n"
                                "start_seconds = 2\n"
                                "start_retries = 0\n"
                                "ready_timeout = 7.5\n"
                                "stop_timeout = 9\n");
    for (int i = 0; i < RP_N_CHILDREN; i++) {
        const rp_child_policy *p = &cfg->supervisor.child[i];
        assert_int_equal(p->restart, RP_RESTART_ON_FAILURE);
        assert_true(p->backoff_initial == 0.25);
        assert_true(p->backoff_max == 30.0);
        assert_true(p->backoff_multiplier == 1.5);
        assert_true(p->backoff_jitter == 0.0);
        assert_true(p->start_seconds == 2.0);
        assert_int_equal(p->start_retries, 0);
        assert_true(p->ready_timeout == 7.5);
        assert_true(p->stop_timeout == 9.0);
    }
    assert_true(cfg->supervisor.stop_timeout == 9.0);
    rp_config_free(cfg);
}

static void test_child_sections_override_their_child_only(void **state)
{
    fixture *f = *state;
    /* [host] before [supervisor]: the order of sections does not matter */
    rp_config *cfg = load_ok(f, "[host]\n"
                                "restart = never\n"
                                "start_retries = 2\n"
                                "[supervisor]\n"
                                "restart = on-failure\n"
                                "start_retries = 9\n"
                                "ready_timeout = 3\n"
                                "[gateway]\n"
                                "stop_timeout = 1.5\n"
                                "backoff_max = 60\n");
    const rp_child_policy *h = &cfg->supervisor.child[RP_CHILD_HOST];
    const rp_child_policy *g = &cfg->supervisor.child[RP_CHILD_GATEWAY];
    assert_int_equal(h->restart, RP_RESTART_NEVER);
    assert_int_equal(h->start_retries, 2);
    assert_true(h->ready_timeout == 3.0);   /* from [supervisor] */
    assert_true(h->stop_timeout == 10.0);    /* the default */
    assert_int_equal(g->restart, RP_RESTART_ON_FAILURE);
    assert_int_equal(g->start_retries, 9);
    assert_true(g->stop_timeout == 1.5);
    assert_true(g->backoff_max == 60.0);
    assert_true(h->backoff_max == 5.0);
    assert_true(cfg->supervisor.stop_timeout == 10.0); /* [supervisor]'s own */
    rp_config_free(cfg);
}

static void test_restart_names(void **state)
{
    (void)state;
    assert_string_equal(rp_config_restart_name(RP_RESTART_ALWAYS), "always");
    assert_string_equal(rp_config_restart_name(RP_RESTART_ON_FAILURE), "on-failure");
    assert_string_equal(rp_config_restart_name(RP_RESTART_NEVER), "never");
    assert_true(rp_config_is_policy_key("restart"));
    assert_true(rp_config_is_policy_key("backoff_jitter"));
    assert_true(rp_config_is_policy_key("stop_timeout"));
    assert_false(rp_config_is_policy_key("listen"));
    assert_false(rp_config_is_policy_key("control_socket"));
}

/* ---- errors ---------------------------------------------------------------------- */

static void test_bad_values_name_file_and_line(void **state)
{
    fixture *f = *state;
    expect_error_at(f, "[supervisor]\nrestart = sometimes\n", 2,
                    "restart: 'sometimes' is not always, on-failure or never");
    expect_error_at(f, "[host]\nlisten = 127.0.0.1:1\nrestart = Always\n", 3,
                    "restart: 'Always' is not always, on-failure or never");
    expect_error_at(f, "[gateway]\n\nbackoff_initial = -1\n", 3,
                    "backoff_initial: '-1' is not a number of seconds in 0..3600");
    expect_error_at(f, "[supervisor]\nbackoff_max = 1h\n", 2,
                    "backoff_max: '1h' is not a number of seconds in 0..3600");
    expect_error_at(f, "[supervisor]\nbackoff_multiplier = 0.5\n", 2,
                    "backoff_multiplier: '0.5' is not a number in 1..100");
    expect_error_at(f, "[supervisor]\nbackoff_jitter = 1.5\n", 2,
                    "backoff_jitter: '1.5' is not a number in 0..1");
    expect_error_at(f, "[host]\nstart_seconds = soon\n", 2,
                    "start_seconds: 'soon' is not a number of seconds in 0..86400");
    expect_error_at(f, "[gateway]\nstart_retries = 2.5\n", 2,
                    "start_retries: '2.5' is not a whole number in 0..100000");
    expect_error_at(f, "[supervisor]\nready_timeout = 0\n", 2,
                    "ready_timeout: '0' is not a number of seconds in 0.01..3600");
    expect_error_at(f, "[gateway]\nstop_timeout = 0\n", 2,
                    "stop_timeout: '0' is not a number of seconds in 0.01..3600");
    expect_error_at(f, "[host]\nrestart = never\nrestart = always\n", 3,
                    "key 'restart' appears twice in [host]");
}

static void test_backoff_initial_above_max(void **state)
{
    fixture *f = *state;
    /* in one section: the later of the two lines */
    expect_error_at(f, "[supervisor]\nbackoff_max = 1\nbackoff_initial = 2\n", 3,
                    "[supervisor] backoff_initial (2 s) is above backoff_max (1 s)");
    /* an override that clashes with the default: its own line, its section,
     * and the other key's value as no section's */
    expect_error_at(f, "[supervisor]\n[gateway]\n\nbackoff_initial = 6\n", 4,
                    "[gateway] backoff_initial (6 s) is above backoff_max (5 s, the default)");
    expect_error_at(f, "[host]\nbackoff_max = 0.05\n", 2,
                    "backoff_initial (0.1 s, the default) is above [host] backoff_max (0.05 s)");
    /* in two sections: each key's own */
    expect_error_at(f, "[host]\nbackoff_initial = 10\n[supervisor]\nbackoff_max = 5\n", 4,
                    "[host] backoff_initial (10 s) is above [supervisor] backoff_max (5 s)");
    expect_error_at(f, "[supervisor]\nbackoff_initial = 2\n[gateway]\nbackoff_max = 1\n", 4,
                    "[supervisor] backoff_initial (2 s) is above [gateway] backoff_max (1 s)");
    expect_error_at(f, "[gateway]\nbackoff_max = 1\n[supervisor]\nbackoff_initial = 2\n", 4,
                    "[supervisor] backoff_initial (2 s) is above [gateway] backoff_max (1 s)");
    /* fine for the child whose section fixes it */
    rp_config *cfg = load_ok(f, "[supervisor]\nbackoff_initial = 1\nbackoff_max = 2\n"
                                "[gateway]\nbackoff_max = 1\n");
    assert_true(cfg->supervisor.child[RP_CHILD_GATEWAY].backoff_max == 1.0);
    rp_config_free(cfg);
}

static void test_restart_loop_refused(void **state)
{
    fixture *f = *state;
    /* no delay and no end: in one section, the later of the two lines */
    expect_error_at(f, "[supervisor]\nbackoff_initial = 0\nbackoff_max = 0\nstart_retries = 0\n", 4,
                    "[supervisor] backoff_max = 0 with start_retries = 0 (never give up) would "
                    "restart a child at once, for ever, while it keeps failing: set one of them "
                    "above 0");
    /* an override and a [supervisor] value: both sections, the child named */
    expect_error_at(f, "[supervisor]\nstart_retries = 0\n[gateway]\nbackoff_initial = 0\n"
                       "backoff_max = 0\n", 5,
                    "[gateway] backoff_max = 0 with [supervisor] start_retries = 0 (never give "
                    "up) would restart the gateway at once, for ever, while it keeps failing");
    expect_error_at(f, "[host]\nbackoff_initial = 0\nbackoff_max = 0\n[supervisor]\n"
                       "start_retries = 0\n", 5,
                    "[host] backoff_max = 0 with [supervisor] start_retries = 0 (never give up) "
                    "would restart the host at once");
    expect_error_at(f, "[gateway]\nstart_retries = 0\nbackoff_initial = 0\nbackoff_max = 0\n", 4,
                    "[gateway] backoff_max = 0 with start_retries = 0 (never give up) would "
                    "restart the gateway at once");
    /* every ready start good, and each puts the delay back to 0 */
    expect_error_at(f, "[supervisor]\nbackoff_initial = 0\nstart_seconds = 0\n", 3,
                    "[supervisor] backoff_initial = 0 with start_seconds = 0 (any start that gets "
                    "ready is a good one) would restart a child at once, for ever, while it keeps "
                    "failing right after it is ready: set one of them above 0");
    expect_error_at(f, "[host]\nstart_seconds = 0\n[supervisor]\nbackoff_initial = 0\n", 4,
                    "[supervisor] backoff_initial = 0 with [host] start_seconds = 0 (any start "
                    "that gets ready is a good one) would restart the host at once");
}

static void test_restart_loop_bounded_is_fine(void **state)
{
    fixture *f = *state;
    static const char *const fine[] = {
        /* no delay, but an end: FATAL after 3 */
        "[supervisor]\nbackoff_initial = 0\nbackoff_max = 0\nstart_retries = 3\n",
        /* never give up, but the delays grow from 0 (sup_backoff.c) */
        "[supervisor]\nbackoff_initial = 0\nstart_retries = 0\n",
        /* 0.1 ms is a delay (1 ms), however short */
        "[supervisor]\nbackoff_initial = 0\nbackoff_max = 0.0001\nstart_retries = 0\n",
        "[supervisor]\nbackoff_initial = 0\nstart_seconds = 0.5\n",
        "[supervisor]\nbackoff_initial = 0.05\nstart_seconds = 0\n",
        /* nothing is restarted */
        "[supervisor]\nrestart = never\nbackoff_initial = 0\nbackoff_max = 0\nstart_retries = 0\n"
        "start_seconds = 0\n",
        /* each child's own section mends [supervisor]'s */
        "[supervisor]\nbackoff_initial = 0\nbackoff_max = 0\nstart_retries = 0\n"
        "[host]\nstart_retries = 1\n[gateway]\nbackoff_max = 1\n",
        "[supervisor]\nbackoff_initial = 0\nbackoff_max = 0\nstart_retries = 0\n"
        "[host]\nrestart = never\n[gateway]\nstart_retries = 2\n",
    };
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
        rp_config_free(load_ok(f, fine[i]));
}

static void test_unknown_supervisor_key_lists_the_known(void **state)
{
    fixture *f = *state;
    expect_error_at(f, "[supervisor]\nrestarts = always\n", 2,
                    "unknown key 'restarts' in [supervisor]: did you mean 'restart'? (known: "
                    "control_socket, log_file, user, group, restart, backoff_initial, "
                    "backoff_max, backoff_multiplier, backoff_jitter, start_seconds, "
                    "start_retries, ready_timeout, stop_timeout)");
    /* the restart-policy keys are named for the children's sections too */
    expect_error_at(f, "[host]\nrestrat = always\n", 2,
                    "unknown key 'restrat' in [host]: did you mean 'restart'? (known: listen, ");
    expect_error_at(f, "[gateway]\nstart_retrys = 3\n", 2,
                    "unknown key 'start_retrys' in [gateway]: did you mean 'start_retries'?");
    /* supervisor-only keys are not per-child */
    expect_error_at(f, "[host]\ncontrol_socket = x.sock\n", 2,
                    "unknown key 'control_socket' in [host]");
    expect_error_at(f, "[gateway]\nlog_file = x.log\n", 2, "unknown key 'log_file' in [gateway]");
}

/* ---- control_socket and log_file ------------------------------------------------ */

static void test_paths_resolve_against_the_ini(void **state)
{
    fixture *f = *state;
    rp_config *cfg =
        load_ok(f, "[supervisor]\ncontrol_socket = ctl.sock\nlog_file = rpcrestd.log\n");
    char want[PATH_MAX + 32];
    snprintf(want, sizeof(want), "%s/ctl.sock", f->dir);
    assert_string_equal(cfg->supervisor.control_socket, want);
    assert_int_equal(cfg->supervisor.control_socket_line, 2);
    snprintf(want, sizeof(want), "%s/rpcrestd.log", f->dir);
    assert_string_equal(cfg->supervisor.log_file, want);
    rp_config_free(cfg);

    cfg = load_ok(f, "[supervisor]\ncontrol_socket = /run/x/ctl.sock\nlog_file =\n");
    assert_string_equal(cfg->supervisor.control_socket, "/run/x/ctl.sock");
    assert_null(cfg->supervisor.log_file); /* empty: stderr */
    rp_config_free(cfg);
}

/* A path whose file does not exist yet reads the same as once it does:
 * no ".", "..", or symlinked folder left in it. */
static void test_paths_of_missing_files_are_canonical(void **state)
{
    fixture *f = *state;
    char link[PATH_MAX + 16], text[2 * PATH_MAX + 64], want[PATH_MAX + 32];
    snprintf(link, sizeof(link), "%s/via", f->dir);
    assert_int_equal(symlink(f->dir, link), 0);
    snprintf(text, sizeof(text),
             "[supervisor]\ncontrol_socket = ./ctl.sock\nlog_file = %s/../%s/via/x.log\n",
             link, strrchr(f->dir, '/') + 1);
    rp_config *cfg = load_ok(f, text);
    snprintf(want, sizeof(want), "%s/ctl.sock", f->dir);
    assert_string_equal(cfg->supervisor.control_socket, want);
    snprintf(want, sizeof(want), "%s/x.log", f->dir);
    assert_string_equal(cfg->supervisor.log_file, want);
    rp_config_free(cfg);

    /* a folder that does not exist either: left as written */
    cfg = load_ok(f, "[supervisor]\ncontrol_socket = /nonexistent/./ctl.sock\n");
    assert_string_equal(cfg->supervisor.control_socket, "/nonexistent/./ctl.sock");
    rp_config_free(cfg);
}

static void test_control_socket_errors(void **state)
{
    fixture *f = *state;
    expect_error_at(f, "[supervisor]\n\ncontrol_socket =\n", 3,
                    "control_socket: a path is needed");
    /* relative: the INI's folder makes it too long (a line stays < 200) */
    char text[512], what[PATH_MAX + 64];
    char longname[101];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    snprintf(text, sizeof(text), "[supervisor]\ncontrol_socket = %s.sock\n", longname);
    snprintf(what, sizeof(what), "control_socket: '%s/%.20s", f->dir, longname);
    expect_error_at(f, text, 2, what);
    expect_error_at(f, text, 2, "is longer than a unix socket path may be (107 bytes)");
}

/* ---- raw keys, for reload ----------------------------------------------------------- */

static void test_raw_keys_in_file_order(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_ok(f, "[gateway]\n"
                                "  listen = 127.0.0.1:9000\n"
                                "restart = never\n"
                                "[host]\n"
                                "threads = 3\n");
    assert_int_equal(cfg->n_raw, 3);
    assert_string_equal(cfg->raw[0].section, "gateway");
    assert_string_equal(cfg->raw[0].key, "listen");
    assert_string_equal(cfg->raw[0].value, "127.0.0.1:9000");
    assert_int_equal(cfg->raw[0].line, 2);
    assert_string_equal(cfg->raw[1].key, "restart");
    assert_string_equal(cfg->raw[1].value, "never");
    assert_int_equal(cfg->raw[1].line, 3);
    assert_string_equal(cfg->raw[2].section, "host");
    assert_string_equal(cfg->raw[2].key, "threads");
    assert_int_equal(cfg->raw[2].line, 5);
    rp_config_free(cfg);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_supervisor_values_apply_to_both),
        T(test_child_sections_override_their_child_only),
        T(test_restart_names),
        T(test_bad_values_name_file_and_line),
        T(test_backoff_initial_above_max),
        T(test_restart_loop_refused),
        T(test_restart_loop_bounded_is_fine),
        T(test_unknown_supervisor_key_lists_the_known),
        T(test_paths_resolve_against_the_ini),
        T(test_paths_of_missing_files_are_canonical),
    T(test_control_socket_errors),
        T(test_raw_keys_in_file_order),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
