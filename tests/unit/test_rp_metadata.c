/*
 * test_rp_metadata.c -- common/rp_metadata.c: gRPC's rules for metadata
 * keys, binary keys, text values and request ids, and the base64 length of
 * a -bin value as the host and the gateway count it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../common/rp_metadata.h"

#define KEY_VALID(s) rp_metadata_key_valid(s, strlen(s))
#define KEY_BINARY(s) rp_metadata_key_binary(s, strlen(s))

static void test_key_valid(void **state)
{
    (void)state;
    assert_true(KEY_VALID("x-request-id"));
    assert_true(KEY_VALID("a.b_c-0"));
    assert_false(KEY_VALID(""));
    assert_false(KEY_VALID("X-Upper"));
    assert_false(KEY_VALID("a b"));
    assert_false(KEY_VALID("a:b"));
    assert_false(rp_metadata_key_valid("ab\0c", 4)); /* the length counts, not a NUL */
}

static void test_key_binary(void **state)
{
    (void)state;
    assert_true(KEY_BINARY("trace-bin"));
    assert_true(KEY_BINARY("x-bin"));
    assert_false(KEY_BINARY("-bin")); /* the suffix alone names nothing */
    assert_false(KEY_BINARY("bin"));
    assert_false(KEY_BINARY("trace-bim"));
    assert_false(KEY_BINARY("trace-bin-x"));
    assert_true(rp_metadata_key_binary("trace-binXYZ", 9)); /* only the first len bytes */
}

static void test_text_valid(void **state)
{
    (void)state;
    assert_true(rp_metadata_text_valid("", 0));
    assert_true(rp_metadata_text_valid(" ~printable~ ", 13));
    assert_false(rp_metadata_text_valid("a\tb", 3));
    assert_false(rp_metadata_text_valid("a\x7f", 2));
    assert_false(rp_metadata_text_valid("caf\xc3\xa9", 5));
    assert_false(rp_metadata_text_valid("a\0b", 3));
}

static void test_request_id_valid(void **state)
{
    (void)state;
    char id[RP_REQUEST_ID_MAX + 1];
    memset(id, 'a', sizeof(id));
    assert_true(rp_request_id_valid(id, RP_REQUEST_ID_MAX));
    assert_false(rp_request_id_valid(id, RP_REQUEST_ID_MAX + 1));
    assert_false(rp_request_id_valid(id, 0));
    assert_true(rp_request_id_valid("bd8c-86_98:15a7", 15));
    assert_false(rp_request_id_valid("two words", 9));
    assert_false(rp_request_id_valid("a\"b", 3));
    assert_false(rp_request_id_valid("a\\b", 3));
    assert_false(rp_request_id_valid("a\nb", 3));
}

/* Every length against the encoded length a base64 encoder writes. */
static void test_base64_len(void **state)
{
    (void)state;
    static const size_t unpadded[] = {0, 2, 3, 4, 6, 7, 8, 10, 11, 12};
    static const size_t padded[] = {0, 4, 4, 4, 8, 8, 8, 12, 12, 12};
    for (size_t n = 0; n < sizeof(unpadded) / sizeof(unpadded[0]); n++) {
        assert_int_equal(rp_metadata_base64_len(n, RP_BASE64_UNPADDED), unpadded[n]);
        assert_int_equal(rp_metadata_base64_len(n, RP_BASE64_PADDED), padded[n]);
    }
    /* 8 KiB of bytes: what the host's metadata limit counts for a -bin value */
    assert_int_equal(rp_metadata_base64_len(6144, RP_BASE64_UNPADDED), 8192);
    assert_int_equal(rp_metadata_base64_len(6145, RP_BASE64_UNPADDED), 8194);
    assert_int_equal(rp_metadata_base64_len(6145, RP_BASE64_PADDED), 8196);
}

/* gRPC-Web: which request headers go on as metadata, which response
 * metadata goes out as header fields or trailer lines. */
static void test_web_keys(void **state)
{
    (void)state;
    const char *goes_on[] = {"x-custom", "Authorization", "Cookie", "X-User-Agent", "trace-bin",
                             "Origin", "x.y_z"};
    for (size_t i = 0; i < sizeof(goes_on) / sizeof(goes_on[0]); i++)
        if (!rp_metadata_web_request_key(goes_on[i], strlen(goes_on[i])))
            fail_msg("request header %s should go on", goes_on[i]);
    const char *stays[] = {"Host", "Content-Type", "Content-Length", "Connection", "TE",
                           "grpc-timeout", "Grpc-Foo", "X-Grpc-Web", "Accept", "Accept-Encoding",
                           "User-Agent", "X-Forwarded-For", "X-Request-Id", "a b", "", "x:y",
                           "Proxy-Authorization", "proxy-foo"};
    for (size_t i = 0; i < sizeof(stays) / sizeof(stays[0]); i++)
        if (rp_metadata_web_request_key(stays[i], strlen(stays[i])))
            fail_msg("request header '%s' should not go on", stays[i]);
    const char *goes_out[] = {"x-one", "trace-bin", "grpc-status-details-bin", "location"};
    for (size_t i = 0; i < sizeof(goes_out) / sizeof(goes_out[0]); i++)
        if (!rp_metadata_web_reply_key(goes_out[i], strlen(goes_out[i])))
            fail_msg("reply metadata %s should go out", goes_out[i]);
    const char *held[] = {"grpc-status", "grpc-message", "grpc-foo", "content-type",
                          "content-length", "x-request-id", "vary", "access-control-allow-origin",
                          "transfer-encoding", ""};
    for (size_t i = 0; i < sizeof(held) / sizeof(held[0]); i++)
        if (rp_metadata_web_reply_key(held[i], strlen(held[i])))
            fail_msg("reply metadata '%s' should not go out", held[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_valid),
        cmocka_unit_test(test_key_binary),
        cmocka_unit_test(test_text_valid),
        cmocka_unit_test(test_request_id_valid),
        cmocka_unit_test(test_base64_len),
        cmocka_unit_test(test_web_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
