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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_worth),
        cmocka_unit_test(test_body_round_trip),
        cmocka_unit_test(test_incompressible_body_is_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
