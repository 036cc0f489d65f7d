/*
 * test_gw_gunzip.c -- gateway/gw_gunzip.c: which Content-Encoding values
 * ask for gzip decoding, and gzip bodies inflated piece by piece: whole,
 * in pieces of every size, in several members, at and over the limit
 * (compressed or inflated, a bomb included), and malformed in each way
 * (not gzip, cut short, bytes after a member, nothing at all).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../gateway/gw_gunzip.h"

/* data gzip-compressed into a new buffer (the caller frees .data) */
static gw_buf gzip_of(const void *data, size_t len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    gw_buf out = GW_BUF_INIT;
    assert_int_equal(gw_buf_reserve(&out, deflateBound(&z, len)), 0);
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = out.data;
    z.avail_out = (uInt)out.cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.len = z.total_out;
    deflateEnd(&z);
    return out;
}

/* Inflates in (pieces of `step` bytes) with `limit`; returns the status of
 * the last call (gw_gunzip_end's if every piece went in). */
static gw_gunzip_status inflate_all(const gw_buf *in, size_t step, size_t limit, gw_buf *out)
{
    gw_gunzip *g = gw_gunzip_new();
    assert_non_null(g);
    gw_gunzip_status s = GW_GUNZIP_OK;
    for (size_t at = 0; at < in->len && s == GW_GUNZIP_OK; at += step)
        s = gw_gunzip_piece(g, in->data + at, in->len - at < step ? in->len - at : step, out,
                            limit);
    if (s == GW_GUNZIP_OK)
        s = gw_gunzip_end(g);
    gw_gunzip_free(g);
    return s;
}

static void test_coding(void **state)
{
    (void)state;
    assert_int_equal(gw_gunzip_coding(NULL), GW_CODING_NONE);
    const char *none[] = {"", "identity", "IDENTITY", " , identity,", ",,"};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
        if (gw_gunzip_coding(none[i]) != GW_CODING_NONE)
            fail_msg("'%s' should ask for no decoding", none[i]);
    const char *gzip[] = {"gzip", "GZip", "x-gzip", " gzip ", "identity, gzip", "gzip,identity"};
    for (size_t i = 0; i < sizeof(gzip) / sizeof(gzip[0]); i++)
        if (gw_gunzip_coding(gzip[i]) != GW_CODING_GZIP)
            fail_msg("'%s' should ask for gzip", gzip[i]);
    const char *other[] = {"br", "deflate", "compress", "gzip, br", "br, gzip", "gzip, gzip",
                           "gzip, x-gzip", "gzipx", "gzip;q=1", "zstd"};
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        if (gw_gunzip_coding(other[i]) != GW_CODING_OTHER)
            fail_msg("'%s' should be a coding the gateway does not decode", other[i]);
}

static void test_pieces_of_every_size(void **state)
{
    (void)state;
    char text[3000];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (char)('a' + (i * 7 + i / 13) % 26);
    gw_buf in = gzip_of(text, sizeof(text));
    size_t steps[] = {1, 2, 3, 7, 10, 64, 100, in.len - 1, in.len, in.len + 5};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        gw_buf out = GW_BUF_INIT;
        assert_int_equal(inflate_all(&in, steps[i], 1 << 20, &out), GW_GUNZIP_OK);
        assert_int_equal(out.len, sizeof(text));
        assert_memory_equal(out.data, text, sizeof(text));
        gw_buf_free(&out);
    }
    gw_buf_free(&in);
}

static void test_members_one_after_another(void **state)
{
    (void)state;
    gw_buf a = gzip_of("{\"value\":\"ab", 12), b = gzip_of("cd\"}", 4);
    gw_buf both = GW_BUF_INIT;
    gw_buf_append(&both, a.data, a.len);
    gw_buf_append(&both, b.data, b.len);
    for (size_t step = 1; step <= both.len; step++) {
        gw_buf out = GW_BUF_INIT;
        assert_int_equal(inflate_all(&both, step, 100, &out), GW_GUNZIP_OK);
        assert_int_equal(out.len, 16);
        assert_memory_equal(out.data, "{\"value\":\"abcd\"}", 16);
        gw_buf_free(&out);
    }
    gw_buf_free(&a);
    gw_buf_free(&b);
    gw_buf_free(&both);
}

static void test_limit(void **state)
{
    (void)state;
    char text[1000];
    memset(text, 'x', sizeof(text));
    gw_buf in = gzip_of(text, sizeof(text));
    gw_buf out = GW_BUF_INIT;
    assert_int_equal(inflate_all(&in, 5, sizeof(text), &out), GW_GUNZIP_OK); /* at the limit */
    assert_int_equal(out.len, sizeof(text));
    gw_buf_free(&out);
    for (size_t step = 1; step <= in.len; step += 9) { /* one byte over it */
        assert_int_equal(inflate_all(&in, step, sizeof(text) - 1, &out), GW_GUNZIP_TOO_LARGE);
        gw_buf_free(&out);
    }
    /* the compressed bytes count too: a limit below them refuses at once */
    assert_int_equal(inflate_all(&in, in.len, in.len - 1, &out), GW_GUNZIP_TOO_LARGE);
    assert_int_equal(out.len, 0);
    gw_buf_free(&out);
    gw_buf_free(&in);
}

static void test_bomb_stops_at_the_limit(void **state)
{
    (void)state;
    size_t big = 64u << 20; /* 64 MiB of zeros: about 64 KiB of gzip */
    char *zeros = calloc(1, big);
    assert_non_null(zeros);
    gw_buf in = gzip_of(zeros, big);
    free(zeros);
    assert_true(in.len < 100000);
    gw_buf out = GW_BUF_INIT;
    size_t limit = 1u << 20;
    assert_int_equal(inflate_all(&in, 4096, limit, &out), GW_GUNZIP_TOO_LARGE);
    assert_true(out.len <= limit + 1);
    assert_true(out.cap <= 2 * (limit + 64 * 1024)); /* the memory stops with it */
    gw_buf_free(&out);
    gw_buf_free(&in);
}

static void test_malformed(void **state)
{
    (void)state;
    gw_buf good = gzip_of("{\"value\":\"x\"}", 13);
    gw_buf out = GW_BUF_INIT;

    gw_buf not_gzip = {(uint8_t *)"{\"value\":\"x\"}", 13, 13, 0};
    gw_gunzip *g = gw_gunzip_new();
    assert_int_equal(gw_gunzip_piece(g, not_gzip.data, not_gzip.len, &out, 100),
                     GW_GUNZIP_MALFORMED);
    assert_string_equal(gw_gunzip_error(g), "incorrect header check");
    /* a decoder that refused once refuses what follows */
    assert_int_equal(gw_gunzip_piece(g, good.data, good.len, &out, 100), GW_GUNZIP_MALFORMED);
    assert_int_equal(gw_gunzip_end(g), GW_GUNZIP_MALFORMED);
    gw_gunzip_free(g);
    gw_buf_free(&out);

    for (size_t cut = 0; cut < good.len; cut++) { /* cut short anywhere, nothing at all included */
        gw_buf part = {good.data, cut, cut, 0};
        assert_int_equal(inflate_all(&part, 3, 100, &out), GW_GUNZIP_MALFORMED);
        gw_buf_free(&out);
    }
    g = gw_gunzip_new();
    assert_int_equal(gw_gunzip_end(g), GW_GUNZIP_MALFORMED);
    assert_string_equal(gw_gunzip_error(g), "the gzip data is cut short");
    gw_gunzip_free(g);

    gw_buf trailing = GW_BUF_INIT; /* bytes after a whole member that start no other */
    gw_buf_append(&trailing, good.data, good.len);
    gw_buf_append(&trailing, "\n", 1);
    assert_int_equal(inflate_all(&trailing, trailing.len, 100, &out), GW_GUNZIP_MALFORMED);
    gw_buf_free(&out);

    gw_buf corrupt = GW_BUF_INIT; /* a flipped byte in the CRC */
    gw_buf_append(&corrupt, good.data, good.len);
    corrupt.data[corrupt.len - 6] ^= 0x40;
    assert_int_equal(inflate_all(&corrupt, corrupt.len, 100, &out), GW_GUNZIP_MALFORMED);
    gw_buf_free(&out);

    gw_buf_free(&trailing);
    gw_buf_free(&corrupt);
    gw_buf_free(&good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coding),
        cmocka_unit_test(test_pieces_of_every_size),
        cmocka_unit_test(test_members_one_after_another),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_bomb_stops_at_the_limit),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
