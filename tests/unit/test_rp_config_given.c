/*
 * test_rp_config_given.c -- common/rp_config.c: the configuration text
 * rpcrestd hands its children.  rp_config_load keeps the bytes it parsed,
 * rp_config_memfd puts them in a sealed memfd, and rp_config_load_given
 * reads them from the fd named by RPCREST_CONFIG_FD as if they were the
 * file at the given path (its folder for relative paths, its name in
 * errors), whatever that file holds now; without the variable it reads the
 * file.  Also the size limit of an INI.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rp_config.h"

#include "ini_fixture.h"

#define APPLIED "[host]\nlisten = 127.0.0.1:5001\n[service.svc]\nplugin = svc.so\n"
#define EDITED "[host]\nlisten = 127.0.0.1:5002\n[service.svc]\nplugin = svc.so\n"

static int setup_files(void **state)
{
    if (setup(state) < 0)
        return -1;
    fixture *f = *state;
    put_file(f, "svc.so", "");
    unsetenv(RP_CONFIG_FD_ENV);
    return 0;
}

/* The fd rpcrestd would give for APPLIED, in the environment. */
static int give(fixture *f)
{
    rp_config *cfg = load_ok(f, APPLIED);
    int fd = rp_config_memfd(cfg);
    assert_true(fd >= 3);
    rp_config_free(cfg);
    char num[16];
    snprintf(num, sizeof(num), "%d", fd);
    setenv(RP_CONFIG_FD_ENV, num, 1);
    return fd;
}

static void test_the_text_read_is_kept(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_ok(f, APPLIED);
    assert_int_equal(cfg->text_len, strlen(APPLIED));
    assert_memory_equal(cfg->text, APPLIED, strlen(APPLIED));
    rp_config_free(cfg);
}

static void test_the_given_text_wins_over_the_edited_file(void **state)
{
    fixture *f = *state;
    int fd = give(f);
    put_file(f, "rpcrest.ini", EDITED); /* edited after rpcrestd applied it */
    rp_config *cfg = rp_config_load_given(f->ini, f->err, sizeof(f->err));
    if (!cfg)
        fail_msg("%s", f->err);
    assert_string_equal(cfg->host.listen, "127.0.0.1:5001");
    assert_string_equal(cfg->path, f->ini);
    assert_string_equal(cfg->services[0].plugin, in_dir(f, "svc.so")); /* path's folder */
    rp_config_free(cfg);
    assert_null(getenv(RP_CONFIG_FD_ENV));      /* not for plugins' children */
    assert_int_equal(fcntl(fd, F_GETFD), -1); /* closed */
    assert_int_equal(errno, EBADF);
}

static void test_the_given_text_when_the_file_is_gone(void **state)
{
    fixture *f = *state;
    give(f);
    assert_int_equal(unlink(f->ini), 0);
    rp_config *cfg = rp_config_load_given(f->ini, f->err, sizeof(f->err));
    if (!cfg)
        fail_msg("%s", f->err);
    assert_string_equal(cfg->host.listen, "127.0.0.1:5001");
    rp_config_free(cfg);
}

static void test_errors_in_the_given_text_name_the_path(void **state)
{
    fixture *f = *state;
    put_file(f, "bad.ini", "[host]\nthreads = many\n");
    char bad[PATH_MAX + 16];
    bprintf(bad, sizeof(bad), "%s/bad.ini", f->dir);
    int fd = open(bad, O_RDONLY); /* a regular file's fd serves as well as a memfd */
    assert_true(fd >= 3);
    char num[16];
    snprintf(num, sizeof(num), "%d", fd);
    setenv(RP_CONFIG_FD_ENV, num, 1);
    assert_null(rp_config_load_given(f->ini, f->err, sizeof(f->err)));
    char want[PATH_MAX + 100];
    bprintf(want, sizeof(want), "%s:2: threads: 'many'", f->ini);
    assert_true(strncmp(f->err, want, strlen(want)) == 0);
}

static void test_without_the_variable_the_file_is_read(void **state)
{
    fixture *f = *state;
    put_file(f, "rpcrest.ini", EDITED);
    rp_config *cfg = rp_config_load_given(f->ini, f->err, sizeof(f->err));
    if (!cfg)
        fail_msg("%s", f->err);
    assert_string_equal(cfg->host.listen, "127.0.0.1:5002");
    rp_config_free(cfg);
}

static void test_a_bad_variable_is_refused(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {"", "x", "2", "-1", "7x", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv(RP_CONFIG_FD_ENV, bad[i], 1);
        assert_null(rp_config_load_given(f->ini, f->err, sizeof(f->err)));
        char want[PATH_MAX + 100];
        bprintf(want, sizeof(want), "%s: " RP_CONFIG_FD_ENV "=%s is not a file descriptor",
                f->ini, bad[i]);
        assert_string_equal(f->err, want);
        assert_null(getenv(RP_CONFIG_FD_ENV));
    }
    /* a number that is no open fd, or an fd that is no file (a stale
     * variable in a shell's environment): the variable is named, not the
     * file, which is fine */
    setenv(RP_CONFIG_FD_ENV, "999", 1);
    assert_null(rp_config_load_given(f->ini, f->err, sizeof(f->err)));
    char want[PATH_MAX + 100];
    bprintf(want, sizeof(want), "%s: " RP_CONFIG_FD_ENV "=999: Bad file descriptor", f->ini);
    assert_string_equal(f->err, want);
    int p[2];
    assert_int_equal(pipe(p), 0);
    char num[16];
    snprintf(num, sizeof(num), "%d", p[0]);
    setenv(RP_CONFIG_FD_ENV, num, 1);
    assert_null(rp_config_load_given(f->ini, f->err, sizeof(f->err)));
    bprintf(want, sizeof(want), "%s: " RP_CONFIG_FD_ENV "=%d: not a regular file", f->ini, p[0]);
    assert_string_equal(f->err, want);
    close(p[1]);
    /* a relative path cannot say where relative paths start */
    give(f);
    assert_null(rp_config_load_given("rpcrest.ini", f->err, sizeof(f->err)));
    assert_string_equal(f->err, "rpcrest.ini: not an absolute path (the configuration came "
                                "from " RP_CONFIG_FD_ENV ")");
}

static void test_the_memfd_is_sealed(void **state)
{
    fixture *f = *state;
    rp_config *cfg = load_ok(f, APPLIED);
    int fd = rp_config_memfd(cfg);
    rp_config_free(cfg);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), -1);
    assert_int_equal(errno, EPERM);
    assert_int_equal(ftruncate(fd, 0), -1);
    char back[sizeof(APPLIED)] = {0};
    assert_int_equal(pread(fd, back, sizeof(back), 0), strlen(APPLIED));
    assert_string_equal(back, APPLIED);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
}

static void test_a_file_over_4_mib_is_refused(void **state)
{
    fixture *f = *state;
    size_t size = RP_CONFIG_MAX_BYTES + 1;
    char *text = malloc(size + 1);
    assert_non_null(text);
    memset(text, ';', size); /* one long comment line: refused for its size first */
    text[size] = '\0';
    put_file(f, "rpcrest.ini", text);
    free(text);
    assert_null(rp_config_load(f->ini, f->err, sizeof(f->err)));
    char want[PATH_MAX + 100];
    bprintf(want, sizeof(want), "%s: larger than 4 MiB: not a configuration file", f->ini);
    assert_string_equal(f->err, want);
}

static void test_an_empty_file_is_read(void **state)
{
    fixture *f = *state;
    put_file(f, "rpcrest.ini", "");
    rp_config *cfg = rp_config_load(f->ini, f->err, sizeof(f->err));
    if (cfg) { /* whatever validation says of no keys, the text is empty */
        assert_int_equal(cfg->text_len, 0);
        rp_config_free(cfg);
    } else {
        assert_null(strstr(f->err, "larger"));
        assert_null(strstr(f->err, "Invalid argument"));
    }
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup_files, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_the_text_read_is_kept),
        T(test_the_given_text_wins_over_the_edited_file),
        T(test_the_given_text_when_the_file_is_gone),
        T(test_errors_in_the_given_text_name_the_path),
        T(test_without_the_variable_the_file_is_read),
        T(test_a_bad_variable_is_refused),
        T(test_the_memfd_is_sealed),
        T(test_a_file_over_4_mib_is_refused),
        T(test_an_empty_file_is_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
