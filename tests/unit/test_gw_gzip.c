/*
 * test_gw_gzip.c -- gateway/gw_gzip.c: which Accept-Encoding values take
 * gzip (q=0 refuses, * stands for it), which media types are compressed,
 * and a body compressed in place that inflates back to itself, or kept
 * when gzip would not make it shorter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../gateway/gw_gzip.h"

static void test_accepted(void **state)
{
    (void)state;
    const char *yes[] = {"gzip", "GZIP", "deflate, gzip", "gzip;q=0.5", "x-gzip", "*",
                         "br, *;q=1", " gzip ; q=1 ", "identity,gzip", "gzip;q=0.01"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!gw_gzip_accepted(yes[i]))
            fail_msg("'%s' should take gzip", yes[i]);
    const char *no[] = {"", "identity", "deflate, br", "gzip;q=0", "gzip; q=0.000", "gzipx",
                        "*;q=0", "xgzip", "gzi", ",,,",
                        /* * stands only for codings not listed (RFC 9110 12.5.3) */
                        "gzip;q=0, *", "*, gzip;q=0", "x-gzip;q=0, *;q=1"};
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (gw_gzip_accepted(no[i]))
            fail_msg("'%s' should not take gzip", no[i]);
    assert_false(gw_gzip_accepted(NULL));
}

static void test_worth(void **state)
{
    (void)state;
    assert_true(gw_gzip_worth("application/json"));
    assert_true(gw_gzip_worth("text/plain; version=0.0.4"));
    assert_true(gw_gzip_worth("text/csv"));
    assert_false(gw_gzip_worth("image/png"));
    assert_false(gw_gzip_worth("application/octet-stream"));
    assert_false(gw_gzip_worth(NULL));
}

static void test_body_round_trip(void **state)
{
    (void)state;
    gw_buf body = GW_BUF_INIT;
    for (int i = 0; i < 500; i++)
        gw_buf_puts(&body, "{\"value\":\"repeated\"},");
    size_t len = body.len;
    char *copy = malloc(len);
    memcpy(copy, body.data, len);
    assert_int_equal(gw_gzip_body(&body), 1);
    assert_true(body.len < len / 10);
    assert_int_equal(body.data[0], 0x1f); /* gzip's magic */
    assert_int_equal(body.data[1], 0x8b);
    uint8_t *back = malloc(len);
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = body.data;
    z.avail_in = (uInt)body.len;
    z.next_out = back;
    z.avail_out = (uInt)len;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, len);
    inflateEnd(&z);
    assert_memory_equal(back, copy, len);
    free(back);
    free(copy);
    gw_buf_free(&body);
}

static void test_incompressible_body_is_kept(void **state)
{
    (void)state;
    gw_buf body = GW_BUF_INIT;
    uint32_t x = 2463534242u;
    for (int i = 0; i < 4096; i++) { /* xorshift: no redundancy for deflate */
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        gw_buf_putc(&body, (uint8_t)x);
    }
    uint8_t first = body.data[0];
    assert_int_equal(gw_gzip_body(&body), 0);
    assert_int_equal(body.len, 4096);
    assert_int_equal(body.data[0], first);
    gw_buf_free(&body);
    assert_int_equal(gw_gzip_body(&body), 0); /* empty */
}

/* Inflates in[len] into out (whatever is complete so far); returns zlib's code. */
static int inflate_some(z_stream *z, const uint8_t *in, size_t len, char *out, size_t cap,
                        size_t *got)
{
    z->next_in = (uint8_t *)in;
    z->avail_in = (uInt)len;
    z->next_out = (uint8_t *)out + *got;
    z->avail_out = (uInt)(cap - *got);
    int rc = inflate(z, Z_SYNC_FLUSH);
    *got = (size_t)((char *)z->next_out - out);
    return rc;
}

/* A stream's pieces: each one's text comes out of the inflater whole as
 * soon as the piece is read (no waiting for the next), and the last piece
 * ends the gzip data. */
static void test_stream_pieces(void **state)
{
    (void)state;
    gw_gzip_stream *g = gw_gzip_stream_new();
    assert_non_null(g);
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    char out[200000];
    size_t got = 0, want = 0;
    for (int i = 0; i < 50; i++) {
        char line[4000];
        int n = snprintf(line, sizeof(line), "{\"result\":{\"index\":%d,\"payload\":\"%0*d\"}}\n", i,
                         i * 60, 0);
        gw_buf piece = GW_BUF_INIT;
        gw_buf_append(&piece, line, (size_t)n);
        assert_int_equal(gw_gzip_stream_piece(g, &piece, 0), 0);
        int rc = inflate_some(&z, piece.data, piece.len, out, sizeof(out), &got);
        assert_true(rc == Z_OK || rc == Z_BUF_ERROR);
        assert_int_equal(got, want + (size_t)n); /* all of it, now */
        assert_memory_equal(out + want, line, (size_t)n);
        want = got;
        gw_buf_free(&piece);
    }
    gw_buf last = GW_BUF_INIT; /* nothing more: the end alone */
    assert_int_equal(gw_gzip_stream_piece(g, &last, 1), 0);
    assert_true(last.len > 0);
    assert_int_equal(inflate_some(&z, last.data, last.len, out, sizeof(out), &got), Z_STREAM_END);
    assert_int_equal(got, want);
    gw_buf_free(&last);
    inflateEnd(&z);
    gw_gzip_stream_free(g);
    gw_gzip_stream_free(NULL);
}

/* A large piece (more than any first guess of room) comes out whole. */
static void test_stream_large_piece(void **state)
{
    (void)state;
    gw_gzip_stream *g = gw_gzip_stream_new();
    size_t n = 3 << 20;
    gw_buf piece = GW_BUF_INIT;
    assert_int_equal(gw_buf_reserve(&piece, n), 0);
    uint32_t x = 1;
    for (size_t i = 0; i < n; i++) { /* incompressible: deflate's output exceeds its input */
        x = x * 1103515245u + 12345u;
        piece.data[i] = (uint8_t)(x >> 16);
    }
    piece.len = n;
    gw_buf copy = GW_BUF_INIT;
    gw_buf_append(&copy, piece.data, n);
    assert_int_equal(gw_gzip_stream_piece(g, &piece, 1), 0);
    uLongf len = (uLongf)n;
    char *out = malloc(n);
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    size_t got = 0;
    assert_int_equal(inflate_some(&z, piece.data, piece.len, out, n, &got), Z_STREAM_END);
    assert_int_equal(got, (size_t)len);
    assert_memory_equal(out, copy.data, n);
    inflateEnd(&z);
    free(out);
    gw_buf_free(&piece);
    gw_buf_free(&copy);
    gw_gzip_stream_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_worth),
        cmocka_unit_test(test_body_round_trip),
        cmocka_unit_test(test_incompressible_body_is_kept),
        cmocka_unit_test(test_stream_pieces),
        cmocka_unit_test(test_stream_large_piece),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
