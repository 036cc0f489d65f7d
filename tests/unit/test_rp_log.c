/*
 * test_rp_log.c -- common/rp_log.c: every message is one line on stderr,
 * with nothing in it that a terminal or a log reader would act on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../common/rp_log.h"

/* What rp_log(fmt, arg) wrote to stderr, in out[outlen]. */
static void logged(char *out, size_t outlen, const char *fmt, const char *arg)
{
    int pipefd[2], saved = dup(STDERR_FILENO);
    assert_int_equal(pipe(pipefd), 0);
    assert_true(saved >= 0);
    assert_int_equal(dup2(pipefd[1], STDERR_FILENO), STDERR_FILENO);
    close(pipefd[1]);
    rp_log(fmt, arg);
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    ssize_t n = read(pipefd[0], out, outlen - 1);
    close(pipefd[0]);
    assert_true(n > 0);
    out[n] = '\0';
}

static void test_one_line_without_control_characters(void **state)
{
    (void)state;
    char out[256], want[256];
    logged(out, sizeof(out), "route %s",
           "a\r\nb\x1b[31mc\td\x7f\x01" "caf\xc3\xa9 \xc2\x9b" "31m \xc2\xa0x\xc2");
    snprintf(want, sizeof(want), "%s: route a  b?[31mc\td??caf\xc3\xa9 ??31m \xc2\xa0x\xc2\n",
             program_invocation_short_name);
    assert_string_equal(out, want);
}

static void test_a_long_line_is_cut_and_still_ends(void **state)
{
    (void)state;
    static char big[RP_LOG_LINE_MAX * 2], out[RP_LOG_LINE_MAX * 2];
    memset(big, 'x', sizeof(big) - 1);
    logged(out, sizeof(out), "%s", big);
    assert_int_equal(strlen(out), RP_LOG_LINE_MAX - 1);
    assert_ptr_equal(strchr(out, '\n'), out + RP_LOG_LINE_MAX - 2); /* the only one */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_line_without_control_characters),
        cmocka_unit_test(test_a_long_line_is_cut_and_still_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
