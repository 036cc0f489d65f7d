/*
 * test_gw_names.c -- gateway/gw_names.c, the index of names the loaders of
 * descriptor files deduplicate with: every name added is found at its
 * position, across the table's growth; a name added twice keeps its first
 * position; a name not added, or a prefix of one, is not found; a part of
 * a longer string is found by its length; names removed are not found and
 * leave the others findable.  Names that an unkeyed FNV-1a
 * would put in one slot spread like any others, and each index lays the
 * same names out its own way (its key).  A name added in many scopes is
 * found in each, and only there.
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

static void test_find_len(void **state)
{
    (void)state;
    gw_names x = GW_NAMES_INIT;
    assert_int_equal(gw_names_add(&x, "pkg.Svc", 7), 0);
    const char *path = "/pkg.Svc/Method";
    assert_int_equal(gw_names_find_len(&x, path + 1, 7), 7);
    assert_true(gw_names_find_len(&x, path + 1, 6) == GW_NAMES_NONE);
    assert_true(gw_names_find_len(&x, path + 1, 8) == GW_NAMES_NONE);
    assert_true(gw_names_find_len(&x, path, 0) == GW_NAMES_NONE);
    gw_names_free(&x);
}

/* The slot FNV-1a, unkeyed, gave a name in a table of `mask` + 1 slots. */
static size_t fnv_slot(const char *name, size_t mask)
{
    uint64_t h = 14695981039346656037u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    return (size_t)(h ^ (h >> 32)) & mask;
}

/* The most slots in a row that hold a name: what a lookup may have to
 * compare at worst. */
static size_t longest_run(const gw_names *x)
{
    size_t longest = 0, run = 0;
    for (size_t i = 0; i < 2 * x->cap; i++) { /* twice round: a run may wrap */
        run = x->slots[i % x->cap].name ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    return longest < x->cap ? longest : x->cap;
}

/* 2000 names FNV-1a puts in one slot of every table up to 4096 slots (the
 * size 2000 names grow it to): with that hash they would make one run of
 * 2000, and each lookup a walk along it. */
static void test_colliding_names(void **state)
{
    (void)state;
    enum { N = 2000, MASK = 4095, NAME = 16 };
    char (*names)[NAME] = malloc(N * sizeof(*names));
    assert_non_null(names);
    size_t n = 0;
    for (unsigned i = 0; n < N; i++) {
        char name[NAME];
        snprintf(name, sizeof(name), "x.S%u", i);
        if (fnv_slot(name, MASK) == fnv_slot("x.S0", MASK))
            memcpy(names[n++], name, NAME);
    }
    gw_names x = GW_NAMES_INIT;
    for (size_t i = 0; i < N; i++)
        assert_int_equal(gw_names_add(&x, names[i], i), 0);
    assert_int_equal(x.cap, MASK + 1);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(gw_names_find(&x, names[i]), i);
    size_t run = longest_run(&x);
    if (run > 64) /* about 20 for random slots at half full */
        fail_msg("%zu names in a row out of %d", run, N);
    gw_names_free(&x);
    free(names);
}

/* The same names in two indexes: in different slots (each its own key). */
static void test_layout_per_index(void **state)
{
    (void)state;
    enum { N = 1000 };
    char (*names)[16] = malloc(N * sizeof(*names));
    assert_non_null(names);
    gw_names a = GW_NAMES_INIT, b = GW_NAMES_INIT;
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "x.S%zu", i);
        assert_int_equal(gw_names_add(&a, names[i], i), 0);
        assert_int_equal(gw_names_add(&b, names[i], i), 0);
    }
    assert_int_equal(a.cap, b.cap);
    size_t same = 0;
    for (size_t i = 0; i < a.cap; i++)
        same += a.slots[i].name && a.slots[i].name == b.slots[i].name;
    assert_true(same < N / 2);
    gw_names_free(&a);
    gw_names_free(&b);
    free(names);
}

/* The same name in many scopes is as many entries, each found in its own
 * scope only, across the table's growth; scope 0 is the plain calls'. */
static void test_scopes(void **state)
{
    (void)state;
    enum { N = 5000 };
    gw_names x = GW_NAMES_INIT;
    static const char name[] = "v1/things";
    for (size_t scope = 0; scope < N; scope++)
        assert_int_equal(gw_names_add_in(&x, scope, name, 2, scope + 7), 0); /* "v1" */
    assert_int_equal(x.n, N);
    for (size_t scope = 0; scope < N; scope++)
        assert_int_equal(gw_names_find_in(&x, scope, "v1", 2), scope + 7);
    assert_true(gw_names_find_in(&x, N, "v1", 2) == GW_NAMES_NONE);
    assert_true(gw_names_find_in(&x, 3, "v1/", 3) == GW_NAMES_NONE);
    assert_int_equal(gw_names_find(&x, "v1"), 7);           /* scope 0 */
    assert_int_equal(gw_names_add(&x, "v1", 99), 0);         /* already there */
    assert_int_equal(gw_names_find_len(&x, "v1", 2), 7);
    assert_int_equal(gw_names_add_in(&x, 1, "v1", 2, 99), 0); /* keeps its first */
    assert_int_equal(gw_names_find_in(&x, 1, "v1", 2), 8);
    assert_int_equal(x.n, N);
    gw_names_free(&x);
}

/* Names added and removed at random, as the gateway's metrics add and
 * remove the methods of changing APIs: after each step every name present
 * is found at its position and every name removed is not, and the table
 * does not grow past what the names present need. */
static void test_remove(void **state)
{
    (void)state;
    enum { N = 4000, STEPS = 200000 };
    char (*names)[16] = malloc(N * sizeof(*names));
    unsigned char *present = calloc(N, 1);
    assert_non_null(names);
    assert_non_null(present);
    gw_names x = GW_NAMES_INIT;
    gw_names_remove(&x, "absent"); /* an empty index */
    unsigned r = 12345;
    size_t n = 0;
    for (size_t i = 0; i < N; i++)
        snprintf(names[i], sizeof(names[i]), "x.S%zu", i);
    for (size_t step = 0; step < STEPS; step++) {
        r = r * 1103515245u + 12345u;
        size_t i = (r >> 8) % N;
        if (present[i]) {
            gw_names_remove(&x, names[i]);
            n--;
        } else {
            assert_int_equal(gw_names_add(&x, names[i], i), 0);
            n++;
        }
        present[i] ^= 1;
        assert_int_equal(x.n, n);
        if (step % 10000 == 0 || step == STEPS - 1)
            for (size_t j = 0; j < N; j++)
                assert_true(gw_names_find(&x, names[j]) == (present[j] ? j : GW_NAMES_NONE));
    }
    assert_true(x.cap <= 4 * N);
    gw_names_remove(&x, "absent");
    assert_int_equal(x.n, n);
    gw_names_free(&x);
    free(present);
    free(names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_first_position_kept),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_find_len),
        cmocka_unit_test(test_colliding_names),
        cmocka_unit_test(test_layout_per_index),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
