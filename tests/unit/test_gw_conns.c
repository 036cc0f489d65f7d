/*
 * test_gw_conns.c -- gateway/gw_conns.c's start: what gw_conns_new says
 * when it cannot start (out of memory, a pthread call failing, named), and
 * that it says it once, to its caller, logging nothing itself.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../gateway/gw_conns.h"

/* ---- failures on cue ----------------------------------------------------------- */

static int fail_calloc, fail_cond_init, fail_create; /* the next call fails while set */

void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size)
{
    return fail_calloc ? NULL : __real_calloc(n, size);
}

int __real_pthread_cond_init(pthread_cond_t *cond, const pthread_condattr_t *attr);
int __wrap_pthread_cond_init(pthread_cond_t *cond, const pthread_condattr_t *attr);
int __wrap_pthread_cond_init(pthread_cond_t *cond, const pthread_condattr_t *attr)
{
    return fail_cond_init ? ENOMEM : __real_pthread_cond_init(cond, attr);
}

int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg)
{
    return fail_create ? EAGAIN : __real_pthread_create(t, attr, fn, arg);
}

/* gw_conns_new with stderr captured: returns what it wrote there into
 * logged[loggedlen]. */
static gw_conns *new_capturing(char *err, size_t errlen, char *logged, size_t loggedlen)
{
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    err[0] = '\0';
    gw_conns *c = gw_conns_new(100, 10, err, errlen);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    rewind(tmp);
    size_t n = fread(logged, 1, loggedlen - 1, tmp);
    logged[n] = '\0';
    fclose(tmp);
    return c;
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_starts(void **state)
{
    (void)state;
    char err[256], logged[256];
    gw_conns *c = new_capturing(err, sizeof(err), logged, sizeof(logged));
    assert_non_null(c);
    assert_int_equal(gw_conns_open(c), 0);
    assert_string_equal(logged, "");
    gw_conns_free(c);
}

static void test_thread_that_cannot_start(void **state)
{
    (void)state;
    char err[256], logged[256];
    fail_create = 1;
    gw_conns *c = new_capturing(err, sizeof(err), logged, sizeof(logged));
    fail_create = 0;
    assert_null(c);
    assert_string_equal(err, "cannot start the connection deadline thread: pthread_create: "
                             "Resource temporarily unavailable");
    assert_string_equal(logged, ""); /* the caller reports it, once */
}

static void test_condition_variable_that_cannot_start(void **state)
{
    (void)state;
    char err[256], logged[256];
    fail_cond_init = 1;
    gw_conns *c = new_capturing(err, sizeof(err), logged, sizeof(logged));
    fail_cond_init = 0;
    assert_null(c);
    assert_string_equal(err, "cannot start the connection deadline thread: pthread_cond_init: "
                             "Cannot allocate memory");
    assert_string_equal(logged, "");
}

static void test_out_of_memory(void **state)
{
    (void)state;
    char err[256], logged[256];
    fail_calloc = 1;
    gw_conns *c = new_capturing(err, sizeof(err), logged, sizeof(logged));
    fail_calloc = 0;
    assert_null(c);
    assert_string_equal(err, "out of memory"); /* not a thread failure */
    assert_string_equal(logged, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts),
        cmocka_unit_test(test_thread_that_cannot_start),
        cmocka_unit_test(test_condition_variable_that_cannot_start),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
