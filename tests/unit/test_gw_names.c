/*
 * test_gw_names.c -- gateway/gw_names.c, the index of names the loaders of
 * descriptor files deduplicate with: every name added is found at its
 * position, across the table's growth; a name added twice keeps its first
 * position; a name not added, or a prefix of one, is not found.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/gw_names.h"

static void test_empty(void **state)
{
    (void)state;
    gw_names x = GW_NAMES_INIT;
    assert_true(gw_names_find(&x, "a.proto") == GW_NAMES_NONE);
    assert_true(gw_names_find(&x, "") == GW_NAMES_NONE);
    gw_names_free(&x);
    gw_names_free(&x); /* safe twice */
}

static void test_first_position_kept(void **state)
{
    (void)state;
    gw_names x = GW_NAMES_INIT;
    assert_int_equal(gw_names_add(&x, "a.proto", 0), 0);
    assert_int_equal(gw_names_add(&x, "", 1), 0);
    assert_int_equal(gw_names_add(&x, "a.proto", 2), 0);
    assert_int_equal(x.n, 2);
    assert_int_equal(gw_names_find(&x, "a.proto"), 0);
    assert_int_equal(gw_names_find(&x, ""), 1);
    assert_true(gw_names_find(&x, "a.prot") == GW_NAMES_NONE);
    assert_true(gw_names_find(&x, "a.proto2") == GW_NAMES_NONE);
    gw_names_free(&x);
    assert_int_equal(x.n, 0);
    assert_true(gw_names_find(&x, "a.proto") == GW_NAMES_NONE);
}

/* Enough names for the table to double many times over. */
static void test_many(void **state)
{
    (void)state;
    enum { N = 100000 };
    char (*names)[24] = malloc(N * sizeof(*names));
    assert_non_null(names);
    gw_names x = GW_NAMES_INIT;
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "pkg/f%zu.proto", i);
        assert_int_equal(gw_names_add(&x, names[i], i), 0);
        assert_true(x.cap >= 2 * x.n);
    }
    assert_int_equal(x.n, N);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(gw_names_find(&x, names[i]), i);
    char other[32];
    for (size_t i = N; i < N + 1000; i++) {
        snprintf(other, sizeof(other), "pkg/f%zu.proto", i);
        assert_true(gw_names_find(&x, other) == GW_NAMES_NONE);
    }
    gw_names_free(&x);
    free(names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_first_position_kept),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
