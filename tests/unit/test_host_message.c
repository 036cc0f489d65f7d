/*
 * test_host_message.c -- host/host_message.c: a received message's bytes,
 * inflated (gzip or deflate) but never past the limit, and what is said
 * about data that does not inflate.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../host/host_message.h"

/* data[len] compressed as `algorithm` into a byte buffer of `pieces`
 * slices (the transport hands messages over in several). */
static grpc_byte_buffer *compressed(grpc_compression_algorithm algorithm, const void *data,
                                    size_t len, size_t pieces)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    int bits = 15 | (algorithm == GRPC_COMPRESS_GZIP ? 16 : 0);
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    uLong room = deflateBound(&zs, (uLong)len);
    uint8_t *out = malloc(room);
    assert_non_null(out);
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)room;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t n = zs.total_out;
    deflateEnd(&zs);
    grpc_slice slices[8];
    size_t at = 0;
    for (size_t i = 0; i < pieces; i++) {
        size_t part = i + 1 == pieces ? n - at : n / pieces;
        slices[i] = grpc_slice_from_copied_buffer((const char *)out + at, part);
        at += part;
    }
    free(out);
    grpc_byte_buffer *bb = grpc_raw_compressed_byte_buffer_create(slices, pieces, algorithm);
    for (size_t i = 0; i < pieces; i++)
        grpc_slice_unref(slices[i]);
    return bb;
}

static grpc_byte_buffer *raw(grpc_compression_algorithm algorithm, const void *data, size_t len)
{
    grpc_slice s = grpc_slice_from_copied_buffer(data, len);
    grpc_byte_buffer *bb = grpc_raw_compressed_byte_buffer_create(&s, 1, algorithm);
    grpc_slice_unref(s);
    return bb;
}

/* Reads bb with `max`; expects `status`, and on OK the bytes want[len]. */
static void expect(grpc_byte_buffer *bb, size_t max, grpc_status_code status, const void *want,
                   size_t len, const char *why_part)
{
    grpc_slice out;
    char why[256] = "";
    assert_int_equal(host_message_read(bb, max, &out, why, sizeof(why)), status);
    if (status == GRPC_STATUS_OK) {
        assert_int_equal(GRPC_SLICE_LENGTH(out), len);
        assert_memory_equal(GRPC_SLICE_START_PTR(out), want, len);
        grpc_slice_unref(out);
    } else {
        assert_non_null(strstr(why, why_part));
    }
    grpc_byte_buffer_destroy(bb);
}

static void test_uncompressed_as_sent(void **state)
{
    (void)state;
    expect(raw(GRPC_COMPRESS_NONE, "hello", 5), 4, GRPC_STATUS_OK, "hello", 5, NULL);
    expect(raw(GRPC_COMPRESS_NONE, "", 0), 4, GRPC_STATUS_OK, "", 0, NULL);
}

static void test_gzip_and_deflate_up_to_the_limit(void **state)
{
    (void)state;
    size_t n = 100000;
    uint8_t *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)(i * 7 + i / 300);
    grpc_compression_algorithm algorithms[] = {GRPC_COMPRESS_GZIP, GRPC_COMPRESS_DEFLATE};
    for (size_t a = 0; a < 2; a++) {
        expect(compressed(algorithms[a], data, n, 1), n, GRPC_STATUS_OK, data, n, NULL);
        expect(compressed(algorithms[a], data, n, 5), n, GRPC_STATUS_OK, data, n, NULL);
        expect(compressed(algorithms[a], data, n, 3), n - 1, GRPC_STATUS_RESOURCE_EXHAUSTED,
               NULL, 0, "larger than max_message_bytes (99999)");
        expect(compressed(algorithms[a], "", 0, 1), 0, GRPC_STATUS_OK, "", 0, NULL);
    }
    free(data);
    /* flagged compressed but empty: an empty message, as gRPC core had it */
    expect(raw(GRPC_COMPRESS_GZIP, "", 0), 10, GRPC_STATUS_OK, "", 0, NULL);
}

static void test_a_bomb_stops_at_the_limit(void **state)
{
    (void)state;
    size_t n = 64 << 20; /* 64 MiB of zeros, about 64 KiB compressed */
    uint8_t *zeros = calloc(n, 1);
    assert_non_null(zeros);
    grpc_byte_buffer *bb = compressed(GRPC_COMPRESS_GZIP, zeros, n, 2);
    free(zeros);
    assert_true(grpc_byte_buffer_length(bb) < 100000);
    expect(bb, 4 << 20, GRPC_STATUS_RESOURCE_EXHAUSTED, NULL, 0, "once decompressed");
}

static void test_data_that_does_not_inflate(void **state)
{
    (void)state;
    expect(raw(GRPC_COMPRESS_GZIP, "not gzip at all", 15), 100, GRPC_STATUS_INTERNAL, NULL, 0,
           "cannot decompress the request message (grpc-encoding gzip)");
    grpc_byte_buffer *whole = compressed(GRPC_COMPRESS_DEFLATE, "hello hello hello", 17, 1);
    grpc_slice s = grpc_slice_buffer_take_first(&whole->data.raw.slice_buffer);
    /* cut short */
    expect(raw(GRPC_COMPRESS_DEFLATE, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s) - 3), 100,
           GRPC_STATUS_INTERNAL, NULL, 0, "ends too early");
    /* with bytes after its end */
    uint8_t more[64];
    memcpy(more, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s));
    memcpy(more + GRPC_SLICE_LENGTH(s), "xyz", 3);
    expect(raw(GRPC_COMPRESS_DEFLATE, more, GRPC_SLICE_LENGTH(s) + 3), 100, GRPC_STATUS_INTERNAL,
           NULL, 0, "grpc-encoding deflate");
    grpc_slice_unref(s);
    grpc_byte_buffer_destroy(whole);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uncompressed_as_sent),
        cmocka_unit_test(test_gzip_and_deflate_up_to_the_limit),
        cmocka_unit_test(test_a_bomb_stops_at_the_limit),
        cmocka_unit_test(test_data_that_does_not_inflate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
