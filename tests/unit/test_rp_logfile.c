/*
 * test_rp_logfile.c -- common/rp_logfile.c: the time stamp of log lines
 * (UTC, milliseconds, right across the seconds it caches) and how log
 * files are opened (appended, created 0640, FIFOs without a reader).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/rp_logfile.h"

static const char *stamp(time_t sec, long nsec)
{
    static char out[RP_LOGFILE_STAMP_MAX];
    struct timespec ts = {sec, nsec};
    size_t n = rp_logfile_stamp(&ts, out);
    assert_int_equal(n, strlen(out));
    return out;
}

static void test_stamp(void **state)
{
    (void)state;
    assert_string_equal(stamp(1795651343, 75123456), "2026-11-26T00:02:23.075Z");
    assert_string_equal(stamp(1795651343, 999999999), "2026-11-26T00:02:23.999Z");
    assert_string_equal(stamp(1795651344, 0), "2026-11-26T00:02:24.000Z"); /* the next second */
    assert_string_equal(stamp(1795651343, 5000000), "2026-11-26T00:02:23.005Z"); /* and back */
    assert_string_equal(stamp(0, 0), "1970-01-01T00:00:00.000Z");
    assert_string_equal(stamp(951782400, 123000000), "2000-02-29T00:00:00.123Z");
}

static void test_open_appends_and_creates_0640(void **state)
{
    (void)state;
    char dir[] = "/tmp/rpcrest-logfile-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/x.log", dir);
    mode_t old = umask(022);
    int fd = rp_logfile_open(path, 0);
    umask(old);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_int_equal(write(fd, "one\n", 4), 4);
    close(fd);
    fd = rp_logfile_open(path, 1); /* again, as after logrotate: appended */
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(write(fd, "two\n", 4), 4);
    close(fd);
    char text[16] = {0};
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fread(text, 1, sizeof(text) - 1, f), 8);
    fclose(f);
    assert_string_equal(text, "one\ntwo\n");
    unlink(path);

    assert_int_equal(mkfifo(path, 0600), 0); /* no reader: an error, not a wait */
    assert_int_equal(rp_logfile_open(path, 1), -ENXIO);
    unlink(path);
    snprintf(path, sizeof(path), "%s/no/x.log", dir);
    assert_int_equal(rp_logfile_open(path, 0), -ENOENT);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stamp),
        cmocka_unit_test(test_open_appends_and_creates_0640),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
