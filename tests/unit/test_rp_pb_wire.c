/*
 * test_rp_pb_wire.c -- common/rp_pb_wire.{h,c}: varints read and written,
 * fixed-width values, and fields of every wire type read off the wire,
 * with what is refused (truncation, varints past 10 bytes, groups, wire
 * types 6 and 7) and what is left to the caller (field number 0).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../common/rp_pb_wire.h"

/* rp_pb_next_field over all of data[0..len); *f the field, *used how far
 * the reader went. */
static int next(const uint8_t *data, size_t len, rp_pb_field *f, size_t *used)
{
    const uint8_t *p = data;
    int rc = rp_pb_next_field(&p, data + len, f);
    *used = (size_t)(p - data);
    return rc;
}

static void test_varints_read(void **state)
{
    (void)state;
    static const struct {
        uint8_t bytes[11];
        size_t len;
        uint64_t value;
    } ok[] = {
        {{0x00}, 1, 0},
        {{0x7f}, 1, 127},
        {{0x80, 0x01}, 2, 128},
        {{0xac, 0x02}, 2, 300},
        {{0x80, 0x80, 0x00}, 3, 0}, /* longer than it needs: still 0 */
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10, UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        const uint8_t *p = ok[i].bytes;
        uint64_t v = 1234;
        assert_int_equal(rp_pb_read_varint(&p, ok[i].bytes + ok[i].len, &v), 0);
        assert_true(v == ok[i].value);
        assert_ptr_equal(p, ok[i].bytes + ok[i].len);
    }
}

static void test_varints_refused(void **state)
{
    (void)state;
    uint64_t v;
    static const uint8_t cut[] = {0xff, 0xff};
    const uint8_t *p = cut;
    assert_int_equal(rp_pb_read_varint(&p, cut + sizeof(cut), &v), -1);
    p = cut;
    assert_int_equal(rp_pb_read_varint(&p, cut, &v), -1); /* nothing at all */
    /* 11 bytes: no 64-bit value is written that long */
    static const uint8_t overlong[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                       0x80, 0x80, 0x80, 0x80, 0x00};
    p = overlong;
    assert_int_equal(rp_pb_read_varint(&p, overlong + sizeof(overlong), &v), -1);
}

static void test_varints_written(void **state)
{
    (void)state;
    static const uint64_t values[] = {0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX,
                                      (uint64_t)1 << 63, UINT64_MAX};
    static const size_t sizes[] = {1, 1, 1, 2, 2, 2, 3, 5, 10, 10};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        uint8_t buf[RP_PB_VARINT_MAX + 1];
        memset(buf, 0xee, sizeof(buf));
        size_t n = rp_pb_put_varint(buf, values[i]);
        assert_int_equal(n, sizes[i]);
        assert_int_equal(rp_pb_varint_size(values[i]), sizes[i]);
        assert_int_equal(buf[n], 0xee); /* nothing written past what it says */
        const uint8_t *p = buf;
        uint64_t v;
        assert_int_equal(rp_pb_read_varint(&p, buf + n, &v), 0);
        assert_true(v == values[i]);
    }
    uint8_t buf[2];
    assert_int_equal(rp_pb_put_varint(buf, 300), 2);
    assert_memory_equal(buf, "\xac\x02", 2);
}

static void test_fixed_values(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    const uint8_t *p = bytes;
    uint64_t v;
    assert_int_equal(rp_pb_read_fixed(&p, bytes + 8, 4, &v), 0);
    assert_true(v == 0x04030201);
    assert_ptr_equal(p, bytes + 4);
    p = bytes;
    assert_int_equal(rp_pb_read_fixed(&p, bytes + 8, 8, &v), 0);
    assert_true(v == 0x0807060504030201);
    p = bytes;
    assert_int_equal(rp_pb_read_fixed(&p, bytes + 7, 8, &v), -1);
    assert_ptr_equal(p, bytes); /* unmoved */
    assert_int_equal(rp_pb_read_fixed(&p, bytes + 3, 4, &v), -1);
}

static void test_every_wire_type(void **state)
{
    (void)state;
    static const uint8_t msg[] = {
        0x08, 0x96, 0x01,                                     /* 1: varint 150 */
        0x11, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* 2: fixed64 */
        0x1a, 0x03, 'a', 'b', 'c',                            /* 3: "abc" */
        0x25, 0xff, 0xff, 0xff, 0xff,                         /* 4: fixed32 */
        0xa2, 0x06, 0x00,                                     /* 100: empty bytes */
    };
    static const struct {
        uint32_t number;
        uint8_t wire;
        uint64_t value;
        size_t len;
    } want[] = {
        {1, RP_PB_WIRE_VARINT, 150, 0},
        {2, RP_PB_WIRE_FIXED64, 0x0807060504030201, 0},
        {3, RP_PB_WIRE_LEN, 3, 3},
        {4, RP_PB_WIRE_FIXED32, 0xffffffff, 0},
        {100, RP_PB_WIRE_LEN, 0, 0},
    };
    const uint8_t *p = msg, *end = msg + sizeof(msg);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        rp_pb_field f;
        assert_int_equal(rp_pb_next_field(&p, end, &f), RP_PB_FIELD);
        assert_int_equal(f.number, want[i].number);
        assert_int_equal(f.wire, want[i].wire);
        assert_true(f.value == want[i].value);
        assert_int_equal(f.len, want[i].len);
        if (f.wire == RP_PB_WIRE_LEN)
            assert_ptr_equal(f.data + f.len, p); /* the payload ends where the next field starts */
        else
            assert_null(f.data);
    }
    assert_ptr_equal(p, end);
    assert_memory_equal(msg + 14, "abc", 3);
}

static void test_truncation(void **state)
{
    (void)state;
    rp_pb_field f;
    size_t used;
    static const uint8_t tag_cut[] = {0x80};
    static const uint8_t varint_cut[] = {0x08, 0x96};
    static const uint8_t fixed64_cut[] = {0x11, 1, 2, 3, 4, 5, 6, 7};
    static const uint8_t fixed32_cut[] = {0x25, 1, 2, 3};
    static const uint8_t length_cut[] = {0x1a};
    static const uint8_t payload_cut[] = {0x1a, 0x04, 'a', 'b', 'c'};
    static const uint8_t huge_length[] = {0x1a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0x01, 'a'};
    assert_int_equal(next(tag_cut, 0, &f, &used), RP_PB_BAD_TAG);
    assert_int_equal(next(tag_cut, sizeof(tag_cut), &f, &used), RP_PB_BAD_TAG);
    assert_int_equal(next(varint_cut, sizeof(varint_cut), &f, &used), RP_PB_TRUNCATED);
    assert_int_equal(f.number, 1);
    assert_int_equal(next(fixed64_cut, sizeof(fixed64_cut), &f, &used), RP_PB_TRUNCATED);
    assert_int_equal(next(fixed32_cut, sizeof(fixed32_cut), &f, &used), RP_PB_TRUNCATED);
    assert_int_equal(next(length_cut, sizeof(length_cut), &f, &used), RP_PB_TRUNCATED);
    assert_int_equal(next(payload_cut, sizeof(payload_cut), &f, &used), RP_PB_TRUNCATED);
    assert_int_equal(next(huge_length, sizeof(huge_length), &f, &used), RP_PB_TRUNCATED);
}

static void test_overlong_varints(void **state)
{
    (void)state;
    rp_pb_field f;
    size_t used;
    /* the tag, then a value, 11 bytes long */
    static const uint8_t tag[] = {0x88, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                  0x00, 0x01};
    static const uint8_t value[] = {0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                    0x80, 0x00};
    static const uint8_t length[] = {0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                     0x80, 0x00};
    assert_int_equal(next(tag, sizeof(tag), &f, &used), RP_PB_BAD_TAG);
    assert_int_equal(next(value, sizeof(value), &f, &used), RP_PB_TRUNCATED);
    assert_int_equal(next(length, sizeof(length), &f, &used), RP_PB_TRUNCATED);
    /* a tag numbering a field past 2^32 - 1 (6 bytes) */
    static const uint8_t past_32_bits[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00};
    assert_int_equal(next(past_32_bits, sizeof(past_32_bits), &f, &used), RP_PB_BAD_TAG);
}

static void test_groups_and_bad_wire_types(void **state)
{
    (void)state;
    rp_pb_field f;
    size_t used;
    static const uint8_t group[] = {0x0b, 0x08, 0x01, 0x0c}; /* field 1 { 1: 1 } */
    assert_int_equal(next(group, sizeof(group), &f, &used), RP_PB_GROUP);
    assert_int_equal(f.number, 1);
    assert_int_equal(f.wire, RP_PB_WIRE_SGROUP);
    assert_int_equal(used, 1); /* just past the tag */
    assert_int_equal(next(group + 3, 1, &f, &used), RP_PB_GROUP);
    assert_int_equal(f.wire, RP_PB_WIRE_EGROUP);
    static const uint8_t wire6[] = {0x0e, 0x00}, wire7[] = {0x17, 0x00};
    assert_int_equal(next(wire6, sizeof(wire6), &f, &used), RP_PB_BAD_WIRE_TYPE);
    assert_int_equal(f.number, 1);
    assert_int_equal(next(wire7, sizeof(wire7), &f, &used), RP_PB_BAD_WIRE_TYPE);
    assert_int_equal(f.number, 2);
}

static void test_field_numbers_are_the_callers(void **state)
{
    (void)state;
    rp_pb_field f;
    size_t used;
    /* number 0 and 2^32 - 1 are read (protobuf-c keeps them as unknown fields) … */
    static const uint8_t zero[] = {0x00, 0x05};
    static const uint8_t largest[] = {0xf8, 0xff, 0xff, 0xff, 0x7f, 0x05};
    assert_int_equal(next(zero, sizeof(zero), &f, &used), RP_PB_FIELD);
    assert_int_equal(f.number, 0);
    assert_true(f.value == 5);
    assert_int_equal(used, 2);
    assert_int_equal(next(largest, sizeof(largest), &f, &used), RP_PB_FIELD);
    assert_int_equal(f.number, UINT32_MAX);
    /* … and rp_pb_field_number_ok says which a field may have */
    assert_false(rp_pb_field_number_ok(0));
    assert_true(rp_pb_field_number_ok(1));
    assert_true(rp_pb_field_number_ok(RP_PB_FIELD_NUMBER_MAX));
    assert_false(rp_pb_field_number_ok(RP_PB_FIELD_NUMBER_MAX + 1));
    assert_false(rp_pb_field_number_ok(UINT32_MAX));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varints_read),
        cmocka_unit_test(test_varints_refused),
        cmocka_unit_test(test_varints_written),
        cmocka_unit_test(test_fixed_values),
        cmocka_unit_test(test_every_wire_type),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_overlong_varints),
        cmocka_unit_test(test_groups_and_bad_wire_types),
        cmocka_unit_test(test_field_numbers_are_the_callers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
