/*
 * test_gw_httpbody.c -- gateway/gw_httpbody.c: google.api.HttpBody on the
 * wire: read (the last content_type and data win, extensions and unknown
 * fields skipped, bytes that are no message refused), a message field's
 * occurrences merged, and written as a whole message or as a field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../gateway/gw_httpbody.h"

#define WIRE(s) (const uint8_t *)(s), sizeof(s) - 1

static void test_read(void **state)
{
    (void)state;
    gw_httpbody hb;
    /* content_type "a/b", data "xy", an extension (field 3), a varint field 9 */
    assert_int_equal(gw_httpbody_read(WIRE("\x0a\x03" "a/b" "\x12\x02xy" "\x1a\x00" "\x48\x01"),
                                      &hb), GW_OK);
    assert_int_equal(hb.content_type_len, 3);
    assert_memory_equal(hb.content_type, "a/b", 3);
    assert_int_equal(hb.data_len, 2);
    assert_memory_equal(hb.data, "xy", 2);
    /* the last of each wins, as parsers keep it */
    assert_int_equal(gw_httpbody_read(WIRE("\x0a\x01" "a" "\x12\x01" "1" "\x0a\x01" "b"
                                           "\x12\x02" "22"), &hb), GW_OK);
    assert_memory_equal(hb.content_type, "b", 1);
    assert_memory_equal(hb.data, "22", 2);
    /* nothing: no type, no data */
    assert_int_equal(gw_httpbody_read((const uint8_t *)"", 0, &hb), GW_OK);
    assert_int_equal(hb.content_type_len + hb.data_len, 0);
    /* not a message */
    assert_int_equal(gw_httpbody_read(WIRE("\x12\x05" "ab"), &hb), GW_REFUSED);
    assert_int_equal(gw_httpbody_read(WIRE("\x0f"), &hb), GW_REFUSED);
}

static void test_field_bytes_merge(void **state)
{
    (void)state;
    gw_buf out = GW_BUF_INIT;
    /* field 1 twice (merged), field 2 between */
    assert_int_equal(gw_httpbody_field_bytes(WIRE("\x0a\x02" "\x0a\x00" "\x12\x01" "n"
                                                  "\x0a\x03" "\x12\x01" "d"),
                                             1, &out), GW_OK);
    assert_int_equal(out.len, 5);
    assert_memory_equal(out.data, "\x0a\x00\x12\x01" "d", 5);
    gw_buf_free(&out);
    assert_int_equal(gw_httpbody_field_bytes(WIRE("\x0a\x09"), 1, &out), GW_REFUSED);
    gw_buf_free(&out);
}

static void test_write_and_read_back(void **state)
{
    (void)state;
    const uint8_t data[] = {0, 1, 2, 0xff};
    gw_buf whole = GW_BUF_INIT, field = GW_BUF_INIT;
    gw_httpbody_write(&whole, 0, "image/png", data, sizeof(data));
    gw_httpbody hb;
    assert_int_equal(gw_httpbody_read(whole.data, whole.len, &hb), GW_OK);
    assert_int_equal(hb.content_type_len, 9);
    assert_memory_equal(hb.content_type, "image/png", 9);
    assert_int_equal(hb.data_len, 4);
    assert_memory_equal(hb.data, data, 4);
    /* as field 7 of an enclosing message: its bytes are the whole form */
    gw_httpbody_write(&field, 7, "image/png", data, sizeof(data));
    gw_buf inner = GW_BUF_INIT;
    assert_int_equal(gw_httpbody_field_bytes(field.data, field.len, 7, &inner), GW_OK);
    assert_int_equal(inner.len, whole.len);
    assert_memory_equal(inner.data, whole.data, whole.len);
    /* no type and no data: an empty message, and an empty field */
    gw_buf empty = GW_BUF_INIT;
    gw_httpbody_write(&empty, 0, NULL, NULL, 0);
    assert_int_equal(empty.len, 0);
    gw_httpbody_write(&empty, 2, "", NULL, 0);
    assert_int_equal(empty.len, 2);
    assert_memory_equal(empty.data, "\x12\x00", 2);
    gw_buf_free(&whole);
    gw_buf_free(&field);
    gw_buf_free(&inner);
    gw_buf_free(&empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_field_bytes_merge),
        cmocka_unit_test(test_write_and_read_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
