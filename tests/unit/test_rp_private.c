/*
 * test_rp_private.c -- common/rp_private.c and [host] private_listen: the
 * path both programs derive, publishing it as a symlink to the newest
 * host's socket, withdrawing it only when it is still ours, and the probe
 * the gateway makes before it prefers the socket.
 *
 * Each test works in its own mkdtemp folder (also $XDG_RUNTIME_DIR),
 * removed after.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rp_config.h"
#include "rp_private.h"

typedef struct fixture {
    char dir[PATH_MAX];
    char ini[PATH_MAX + 16];
    char err[PATH_MAX + 512];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char tmpl[] = "/tmp/test_rp_private-XXXXXX";
    if (!f || !mkdtemp(tmpl) || !realpath(tmpl, f->dir)) {
        fprintf(stderr, "setup: %s\n", strerror(errno));
        free(f);
        return -1;
    }
    snprintf(f->ini, sizeof(f->ini), "%s/rpcrest.ini", f->dir);
    setenv("XDG_RUNTIME_DIR", f->dir, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    int rc = system(cmd) == 0 ? 0 : -1;
    unsetenv("XDG_RUNTIME_DIR");
    free(f);
    return rc;
}

static rp_config *load(fixture *f, const char *text)
{
    FILE *fp = fopen(f->ini, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return rp_config_load(f->ini, f->err, sizeof(f->err));
}

/* ---- the path ----------------------------------------------------------- */

static void test_default_path_is_in_the_runtime_folder(void **state)
{
    fixture *f = *state;
    rp_config *a = load(f, "[host]\nlisten = 127.0.0.1:5505\n");
    assert_non_null(a);
    char pa[256], pb[256];
    assert_int_equal(rp_private_path(a, pa, sizeof(pa)), 1);
    assert_int_equal(strncmp(pa, f->dir, strlen(f->dir)), 0);
    assert_string_equal(pa + strlen(pa) - 5, ".sock");
    assert_non_null(strstr(pa, "/host-"));
    /* the same address gives the same path: both programs agree */
    assert_int_equal(rp_private_path(a, pb, sizeof(pb)), 1);
    assert_string_equal(pa, pb);
    rp_config_free(a);
    /* another address, another path */
    rp_config *b = load(f, "[host]\nlisten = 127.0.0.1:5506\n");
    assert_non_null(b);
    assert_int_equal(rp_private_path(b, pb, sizeof(pb)), 1);
    assert_string_not_equal(pa, pb);
    rp_config_free(b);
}

static void test_off_and_unix_listen_have_none(void **state)
{
    fixture *f = *state;
    char p[256];
    rp_config *cfg = load(f, "[host]\nprivate_listen = off\n");
    assert_non_null(cfg);
    assert_int_equal(rp_private_path(cfg, p, sizeof(p)), 0);
    rp_config_free(cfg);
    cfg = load(f, "[host]\nlisten = unix:h.sock\n");
    assert_non_null(cfg);
    assert_int_equal(rp_private_path(cfg, p, sizeof(p)), 0);
    rp_config_free(cfg);
}

static void test_explicit_path_resolves_against_the_ini(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load(f, "[host]\nprivate_listen = unix:run/gw.sock\n");
    assert_non_null(cfg);
    char p[256], want[PATH_MAX + 32];
    snprintf(want, sizeof(want), "%s/run/gw.sock", f->dir);
    assert_int_equal(rp_private_path(cfg, p, sizeof(p)), 1);
    assert_string_equal(p, want);
    rp_config_free(cfg);
}

static void test_bad_values_are_refused(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {"on", "unix:", "127.0.0.1:1", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[128], want[PATH_MAX + 128];
        snprintf(text, sizeof(text), "[host]\nprivate_listen = %s\n", bad[i]);
        assert_null(load(f, text));
        snprintf(want, sizeof(want), "%s:2: private_listen: '%s' is not off or unix:PATH",
                 f->ini, bad[i]);
        assert_string_equal(f->err, want);
    }
}

static void test_too_long_a_path_is_reported(void **state)
{
    fixture *f = *state;
    char text[400];
    snprintf(text, sizeof(text), "[host]\nprivate_listen = unix:/%0100d/x.sock\n", 0);
    rp_config *cfg = load(f, text);
    assert_non_null(cfg);
    char p[256];
    assert_int_equal(rp_private_path(cfg, p, sizeof(p)), -1);
    rp_config_free(cfg);
}

/* ---- publishing ----------------------------------------------------------- */

static int listen_unix(const char *path)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

static void test_publish_points_at_the_newest_and_withdraw_only_ours(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX + 32], old[PATH_MAX + 64], new[PATH_MAX + 64], link[PATH_MAX + 64];
    char why[512];
    snprintf(path, sizeof(path), "%s/host.sock", f->dir);
    assert_int_equal(rp_private_prepare(path, 100, old, sizeof(old), f->err, sizeof(f->err)), 0);
    assert_int_equal(rp_private_prepare(path, 200, new, sizeof(new), f->err, sizeof(f->err)), 0);
    assert_int_equal(strncmp(old, "unix:", 5), 0);
    assert_string_equal(old + strlen(old) - 4, ".100");
    assert_int_equal(rp_private_reachable(path, why, sizeof(why)), 0); /* nothing there yet */

    int fd_old = listen_unix(old + 5);
    assert_int_equal(rp_private_publish(path, old, f->err, sizeof(f->err)), 0);
    assert_int_equal(rp_private_reachable(path, why, sizeof(why)), 1);
    /* a second host takes over: the link follows it */
    int fd_new = listen_unix(new + 5);
    assert_int_equal(rp_private_publish(path, new, f->err, sizeof(f->err)), 0);
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    assert_true(n > 0);
    link[n] = '\0';
    assert_string_equal(link, new + 5);
    /* the old one leaving removes nothing of the new one's */
    rp_private_withdraw(path, old);
    assert_int_equal(rp_private_reachable(path, why, sizeof(why)), 1);
    close(fd_old);
    /* the new one leaving removes the link */
    rp_private_withdraw(path, new);
    struct stat st;
    assert_int_equal(lstat(path, &st), -1);
    assert_int_equal(rp_private_reachable(path, why, sizeof(why)), 0);
    close(fd_new);
}

/* A socket that answers in a folder others may enter is not the host's to
 * trust: another local user could have put it there. */
static void test_reachable_refuses_an_open_folder(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX + 32], addr[PATH_MAX + 64], why[512];
    snprintf(path, sizeof(path), "%s/host.sock", f->dir);
    assert_int_equal(rp_private_prepare(path, 300, addr, sizeof(addr), f->err, sizeof(f->err)), 0);
    int fd = listen_unix(addr + 5);
    assert_int_equal(rp_private_publish(path, addr, f->err, sizeof(f->err)), 0);
    assert_int_equal(rp_private_reachable(path, why, sizeof(why)), 1);
    assert_string_equal(why, "");
    assert_int_equal(chmod(f->dir, 0755), 0);
    assert_int_equal(rp_private_reachable(path, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "closed to others"));
    assert_int_equal(chmod(f->dir, 0700), 0);
    rp_private_withdraw(path, addr);
    close(fd);
}

static void test_prepare_makes_no_folder_it_was_not_asked_for(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX + 32], addr[PATH_MAX + 64], dir[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/missing/host.sock", f->dir);
    snprintf(dir, sizeof(dir), "%s/missing", f->dir);
    assert_int_equal(rp_private_prepare(path, 1, addr, sizeof(addr), f->err, sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, dir));
    struct stat st;
    assert_int_equal(stat(dir, &st), -1);
}

/* The socket is plaintext and asks no one who calls: its folder must be
 * this user's own and closed to everyone else. */
static void test_prepare_refuses_a_folder_others_can_enter(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX + 80], addr[PATH_MAX + 128], dir[PATH_MAX + 32], want[PATH_MAX + 128];
    snprintf(dir, sizeof(dir), "%s/open", f->dir);
    snprintf(path, sizeof(path), "%s/host.sock", dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chmod(dir, 0711), 0);
    assert_int_equal(rp_private_prepare(path, 1, addr, sizeof(addr), f->err, sizeof(f->err)), -1);
    snprintf(want, sizeof(want), "%s: not a folder of uid %u closed to others (mode 0700)", dir,
             (unsigned)geteuid());
    assert_string_equal(f->err, want);
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(rp_private_prepare(path, 1, addr, sizeof(addr), f->err, sizeof(f->err)), 0);
    /* a symlink to a good folder is not the folder */
    char link[PATH_MAX + 40];
    snprintf(link, sizeof(link), "%s/link", f->dir);
    assert_int_equal(symlink(dir, link), 0);
    snprintf(path, sizeof(path), "%s/host.sock", link);
    assert_int_equal(rp_private_prepare(path, 1, addr, sizeof(addr), f->err, sizeof(f->err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_path_is_in_the_runtime_folder, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_off_and_unix_listen_have_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_explicit_path_resolves_against_the_ini, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_values_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_long_a_path_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_points_at_the_newest_and_withdraw_only_ours,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reachable_refuses_an_open_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_makes_no_folder_it_was_not_asked_for, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_prepare_refuses_a_folder_others_can_enter, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("rp_private", tests, NULL, NULL);
}
