/*
 * test_gw_buf.c -- gateway/gw_buf.c: the decimal digits the request path
 * writes without printf (grpc-timeout, field paths, access log numbers);
 * gateway/gw_base64.c: encoding into a buffer, the empty value included.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../gateway/gw_base64.h"
#include "../../gateway/gw_buf.h"

static void expect_decimal(uint64_t v)
{
    char want[32], got[GW_DECIMAL_MAX + 1];
    snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
    size_t n = gw_decimal(got, v);
    got[n] = '\0';
    assert_int_equal(n, strlen(want));
    assert_string_equal(got, want);
}

static void test_decimal(void **state)
{
    (void)state;
    const uint64_t values[] = {0, 1, 9, 10, 99, 100, 4999, 99999999, 100000000,
                               UINT32_MAX, (uint64_t)1 << 53, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        expect_decimal(values[i]);
    for (uint64_t v = 1; v < UINT64_MAX / 7; v = v * 7 + 3) /* every length */
        expect_decimal(v);
}

static void expect_base64(const char *data, const char *want)
{
    gw_buf out = GW_BUF_INIT;
    gw_base64_encode(&out, (const uint8_t *)data, strlen(data));
    assert_int_equal(out.len, strlen(want));
    if (out.len)
        assert_memory_equal(out.data, want, out.len);
    gw_buf_free(&out);
}

/* An empty value (a "-bin" header an upstream sent empty) into a buffer
 * that has no memory yet writes nothing and touches nothing. */
static void test_base64_encode(void **state)
{
    (void)state;
    expect_base64("", "");
    expect_base64("f", "Zg==");
    expect_base64("fo", "Zm8=");
    expect_base64("foo", "Zm9v");
    expect_base64("foobar", "Zm9vYmFy");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimal),
        cmocka_unit_test(test_base64_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
