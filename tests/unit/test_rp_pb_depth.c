/*
 * test_rp_pb_depth.c -- common/rp_pb_depth.c: nesting counted from the
 * wire bytes and the type's descriptor, without recursion.  The messages
 * are google.protobuf.DescriptorProto, whose field 3 (nested_type) holds
 * DescriptorProtos and field 1 (name) is a string.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../common/rp_pb_depth.h"
#include "../../common/rp_pb_wire.h"
#include "google/protobuf/descriptor.pb-c.h"

#define DESC (&google__protobuf__descriptor_proto__descriptor)

typedef struct {
    uint8_t *data;
    size_t len;
} bytes;

/* tag + length + inner, built in place (inner is freed). */
static bytes wrap(uint8_t tag, bytes inner)
{
    bytes b = {malloc(inner.len + 11), 0};
    b.data[b.len++] = tag;
    b.len += rp_pb_put_varint(b.data + b.len, inner.len);
    memcpy(b.data + b.len, inner.data, inner.len);
    b.len += inner.len;
    free(inner.data);
    return b;
}

/* A DescriptorProto holding `levels` nested types, one inside the other,
 * written from the outside in (wrapping level by level would copy it
 * `levels` times). */
static bytes nested(size_t levels, uint8_t tag)
{
    size_t *inner = malloc((levels + 1) * sizeof(*inner)); /* inner[i]: level i's body */
    inner[levels] = 0;
    for (size_t i = levels; i > 0; i--)
        inner[i - 1] = 1 + rp_pb_varint_size(inner[i]) + inner[i];
    bytes b = {calloc(1, inner[0] + 1), 0};
    for (size_t i = 1; i <= levels; i++) {
        b.data[b.len++] = tag;
        b.len += rp_pb_put_varint(b.data + b.len, inner[i]);
    }
    free(inner);
    return b;
}

static int depth_ok(bytes b)
{
    int ok = rp_pb_depth_ok(DESC, b.data, b.len);
    free(b.data);
    return ok;
}

static void test_the_limit_is_inclusive(void **state)
{
    (void)state;
    assert_int_equal(depth_ok(nested(0, 0x1a)), 1);
    assert_int_equal(depth_ok(nested(1, 0x1a)), 1);
    assert_int_equal(depth_ok(nested(RP_PB_MAX_DEPTH, 0x1a)), 1);
    assert_int_equal(depth_ok(nested(RP_PB_MAX_DEPTH + 1, 0x1a)), 0);
}

static void test_a_million_deep_without_recursion(void **state)
{
    (void)state;
    /* 4 bytes a level at most: protobuf-c's own unpacker overflows the stack */
    assert_int_equal(depth_ok(nested(1000000, 0x1a)), 0);
}

static void test_strings_and_unknown_fields_are_not_entered(void **state)
{
    (void)state;
    /* the same bytes as field 1 (name, a string) and field 15 (unknown) */
    assert_int_equal(depth_ok(wrap(0x0a, nested(RP_PB_MAX_DEPTH + 5, 0x1a))), 1);
    assert_int_equal(depth_ok(wrap(0x7a, nested(RP_PB_MAX_DEPTH + 5, 0x1a))), 1);
}

static void test_siblings_do_not_add_up(void **state)
{
    (void)state;
    /* 3 × (nested types 60 deep) side by side in one message */
    bytes parts[3];
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        parts[i] = wrap(0x1a, nested(60, 0x1a));
        total += parts[i].len;
    }
    bytes all = {malloc(total), 0};
    for (int i = 0; i < 3; i++) {
        memcpy(all.data + all.len, parts[i].data, parts[i].len);
        all.len += parts[i].len;
        free(parts[i].data);
    }
    assert_int_equal(depth_ok(all), 1);
}

/* Prepends the field tag[0..n) holding nothing (a varint 0) to b. */
static bytes after_field(const uint8_t *tag, size_t n, bytes b)
{
    bytes out = {malloc(n + 1 + b.len), 0};
    memcpy(out.data, tag, n);
    out.data[n] = 0;
    memcpy(out.data + n + 1, b.data, b.len);
    out.len = n + 1 + b.len;
    free(b.data);
    return out;
}

static void test_fields_protobuf_c_keeps_as_unknown_are_walked_past(void **state)
{
    (void)state;
    /* field 0 written in two bytes, and field 2^32 - 1: protobuf-c unpacks
     * what follows them, so the walk must reach it too */
    static const uint8_t zero[] = {0x80, 0x00};
    static const uint8_t largest[] = {0xf8, 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(depth_ok(after_field(zero, sizeof(zero), nested(RP_PB_MAX_DEPTH + 1, 0x1a))),
                     0);
    assert_int_equal(
        depth_ok(after_field(largest, sizeof(largest), nested(RP_PB_MAX_DEPTH + 1, 0x1a))), 0);
}

static void test_malformed_bytes_are_left_to_the_unpacker(void **state)
{
    (void)state;
    bytes b = nested(RP_PB_MAX_DEPTH + 1, 0x1a);
    /* cut inside the outer length: the inner message claims more than there is */
    assert_int_equal(rp_pb_depth_ok(DESC, b.data, 10), 1);
    free(b.data);
    static const uint8_t bad_varint[] = {0x08, 0xff, 0xff};
    static const uint8_t group[] = {0x0b, 0x0c};
    static const uint8_t fixed_past_end[] = {0x09, 0x01};
    assert_int_equal(rp_pb_depth_ok(DESC, bad_varint, sizeof(bad_varint)), 1);
    assert_int_equal(rp_pb_depth_ok(DESC, group, sizeof(group)), 1);
    assert_int_equal(rp_pb_depth_ok(DESC, fixed_past_end, sizeof(fixed_past_end)), 1);
    assert_int_equal(rp_pb_depth_ok(DESC, NULL, 0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_limit_is_inclusive),
        cmocka_unit_test(test_a_million_deep_without_recursion),
        cmocka_unit_test(test_strings_and_unknown_fields_are_not_entered),
        cmocka_unit_test(test_siblings_do_not_add_up),
        cmocka_unit_test(test_fields_protobuf_c_keeps_as_unknown_are_walked_past),
        cmocka_unit_test(test_malformed_bytes_are_left_to_the_unpacker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
