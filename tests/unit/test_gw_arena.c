/*
 * test_gw_arena.c -- gateway/gw_arena.c (a request's bump allocator) and
 * what is built on it in gateway/gw_headers.c: alignment, the first block
 * used before any malloc, spill-over into blocks of their own (small and
 * larger than a block), release back to the first block, and request
 * metadata / response headers made in an arena.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdalign.h>
#include <string.h>

#include "../../gateway/gw_arena.h"
#include "../../gateway/gw_headers.h"

#define FIRST 256

typedef struct fixture {
    gw_arena arena;
    alignas(max_align_t) unsigned char first[FIRST];
} fixture;

static void start(fixture *f)
{
    gw_arena_init(&f->arena, f->first, sizeof(f->first));
}

static int in_first(const fixture *f, const void *p)
{
    return (const unsigned char *)p >= f->first && (const unsigned char *)p < f->first + FIRST;
}

static void test_first_block_then_spill(void **state)
{
    (void)state;
    fixture f;
    start(&f);
    void *a = gw_arena_alloc(&f.arena, 1), *b = gw_arena_alloc(&f.arena, 3);
    assert_true(in_first(&f, a) && in_first(&f, b));
    assert_true(a != b);
    assert_int_equal((uintptr_t)b % alignof(max_align_t), 0);
    assert_int_equal(f.arena.allocated, 0); /* nothing malloc'ed yet */
    void *big = gw_arena_alloc(&f.arena, 300); /* more than the first block holds */
    assert_non_null(big);
    assert_false(in_first(&f, big));
    assert_int_equal((uintptr_t)big % alignof(max_align_t), 0);
    memset(big, 0xab, 300);
    void *after = gw_arena_alloc(&f.arena, 16); /* from the new block */
    assert_false(in_first(&f, after));
    size_t one_block = f.arena.allocated;
    void *huge = gw_arena_alloc(&f.arena, 100000); /* a block of its own size */
    assert_non_null(huge);
    memset(huge, 0xcd, 100000);
    assert_true(f.arena.allocated >= one_block + 100000);
    gw_arena_release(&f.arena);
    assert_int_equal(f.arena.allocated, 0);
    assert_true(in_first(&f, gw_arena_alloc(&f.arena, 8))); /* back on the first block */
    gw_arena_release(&f.arena);
}

static void test_no_first_block(void **state)
{
    (void)state;
    gw_arena a;
    gw_arena_init(&a, NULL, 0);
    char *s = gw_arena_strndup(&a, "hello, arena", 5);
    assert_string_equal(s, "hello");
    assert_true(a.allocated > 0);
    assert_null(gw_arena_alloc(&a, SIZE_MAX - 4)); /* too large: NULL, no wrap */
    gw_arena_release(&a);
}

static void test_metadata_in_arena(void **state)
{
    (void)state;
    fixture f;
    start(&f);
    gw_metadata_list md = {.arena = &f.arena};
    gw_header headers[] = {
        {"Host", "example.com"},
        {"Grpc-Metadata-Trace-Bin", "AAEC"}, /* base64 of 00 01 02 */
        {"User-Agent", "curl/7.88"},
        {"Grpc-Timeout", "250m"},
        {"X-User-ID", "alice"}, /* forwarded as it is: named below */
        {"X-Other", "no"},      /* not named: left out */
    };
    char *names[] = {"x-user-id"};
    gw_header_names fwd = {names, 1};
    int64_t timeout = 0;
    char err[200];
    assert_int_equal(gw_headers_to_metadata(headers, 6, "127.0.0.1", &fwd, &md, &timeout, err,
                                            sizeof(err)), GW_OK);
    for (int i = 0; i < 20; i++) /* grows the item array past its first size */
        assert_int_equal(gw_metadata_list_add(&md, "x-n", "v", err, sizeof(err)), GW_OK);
    assert_int_equal(timeout, 250);
    assert_true(md.n == 26);
    assert_string_equal(md.items[3].key, "x-user-id");
    assert_string_equal(md.items[3].value, "alice");
    for (size_t i = 0; i < md.n; i++)
        assert_string_not_equal(md.items[i].key, "x-other");
    assert_string_equal(md.items[0].key, "grpcgateway-host");
    assert_string_equal(md.items[1].key, "trace-bin");
    assert_int_equal(md.items[1].value_len, 3);
    assert_memory_equal(md.items[1].value, "\0\1\2", 3);
    assert_string_equal(md.items[2].key, "grpcgateway-user-agent");
    assert_string_equal(md.items[4].key, "x-forwarded-host");
    assert_string_equal(md.items[5].key, "x-forwarded-for");
    assert_string_equal(md.items[5].value, "127.0.0.1");
    assert_string_equal(md.items[25].key, "x-n");
    /* a refused header leaves the list as it was */
    assert_int_equal(gw_metadata_list_add(&md, "Bad Key", "v", err, sizeof(err)), GW_REFUSED);
    assert_non_null(strstr(err, "cannot be sent"));
    assert_int_equal(md.n, 26);

    char *name, *value;
    gw_metadata text = {"x-a", "b c", 3}, bin = {"x-b-bin", "\xff\0", 2};
    assert_int_equal(gw_headers_from_metadata(&f.arena, "Grpc-Metadata-", &text, &name, &value),
                     0);
    assert_string_equal(name, "Grpc-Metadata-x-a");
    assert_string_equal(value, "b c");
    assert_int_equal(gw_headers_from_metadata(&f.arena, "Grpc-Trailer-", &bin, &name, &value), 0);
    assert_string_equal(name, "Grpc-Trailer-x-b-bin");
    assert_string_equal(value, "/wA=");
    /* what an upstream that breaks gRPC's rules may send is left out, never
     * written into the answer's head: control characters, NUL, CR, LF, DEL
     * in a value; a key that is not an HTTP token */
    static const gw_metadata bad[] = {
        {"x-ctl", "a\x01b", 3}, {"x-nul", "a\0b", 3},       {"x-crlf", "a\r\nX-Evil: 1", 13},
        {"x-del", "a\x7f", 2},   {"x:a", "v", 1},            {"x a", "v", 1},
        {"", "v", 1},            {"x-\xc3\xa9", "v", 1},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(
            gw_headers_from_metadata(&f.arena, "Grpc-Metadata-", &bad[i], &name, &value), 1);
    gw_metadata tab = {"x-tab", "a\tb", 3}, high = {"X-Up", "caf\xc3\xa9", 5};
    assert_int_equal(gw_headers_from_metadata(&f.arena, "Grpc-Metadata-", &tab, &name, &value),
                     0);
    assert_int_equal(gw_headers_from_metadata(&f.arena, "Grpc-Metadata-", &high, &name, &value),
                     0); /* obs-text is an HTTP field value; upper case an HTTP name */
    gw_arena_release(&f.arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_block_then_spill),
        cmocka_unit_test(test_no_first_block),
        cmocka_unit_test(test_metadata_in_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
