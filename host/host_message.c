/*
 * host_message.c -- a received message's bytes, inflated with a bound.
 *
 * gRPC core 1.51 inflates a compressed message whole before it compares its
 * size with max_message_bytes: 48 KiB of gzip became 48 MiB in the host (and
 * 1 MiB became 1.2 GB) before the call was refused.
 * So the server turns core's inflating off (host_server.c) and readers come
 * here, where inflating stops one byte past the limit.
 */
#include "host_message.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* An inflated message being built: out[len] of room cap (at most limit). */
typedef struct inflated {
    z_stream zs;
    uint8_t *out;
    size_t cap, limit;
} inflated;

/* More room: double it, up to limit.  0, or -1 when it is at the limit
 * already (the message is too large) or out of memory (*nomem set). */
static int grow(inflated *in, int *nomem)
{
    if (in->cap == in->limit)
        return -1;
    size_t cap = in->cap > in->limit / 2 ? in->limit : in->cap * 2;
    uint8_t *grown = realloc(in->out, cap);
    if (!grown) {
        *nomem = 1;
        return -1;
    }
    in->out = grown;
    in->cap = cap;
    return 0;
}

/* Feeds data[len] to inflate.  Returns Z_OK to go on, Z_STREAM_END once the
 * stream ended (with nothing after it), Z_BUF_ERROR when out of room or
 * memory, or another zlib error. */
static int feed(inflated *in, const uint8_t *data, size_t len, int *nomem)
{
    in->zs.next_in = (Bytef *)data;
    in->zs.avail_in = (uInt)len;
    for (;;) {
        if (in->zs.total_out == in->cap && grow(in, nomem) < 0)
            return Z_BUF_ERROR;
        in->zs.next_out = in->out + in->zs.total_out;
        in->zs.avail_out = (uInt)(in->cap - in->zs.total_out);
        int r = inflate(&in->zs, Z_NO_FLUSH);
        if (r == Z_STREAM_END)
            return in->zs.avail_in == 0 ? Z_STREAM_END : Z_DATA_ERROR;
        if (r == Z_BUF_ERROR && in->zs.avail_out == 0)
            continue; /* room, not input, ran out */
        if (r != Z_OK && r != Z_BUF_ERROR)
            return r;
        if (in->zs.avail_in == 0)
            return Z_OK;
    }
}

/* Inflates every slice of bb (zlib's format for deflate, gzip's for gzip),
 * keeping at most max bytes. */
static grpc_status_code inflate_message(grpc_byte_buffer *bb, size_t max, grpc_slice *out,
                                        char *why, size_t whylen)
{
    int gzip = bb->data.raw.compression == GRPC_COMPRESS_GZIP;
    const grpc_slice_buffer *sb = &bb->data.raw.slice_buffer;
    if (sb->length == 0) { /* flagged compressed, but empty: an empty message */
        *out = grpc_empty_slice();
        return GRPC_STATUS_OK;
    }
    inflated in;
    memset(&in, 0, sizeof(in));
    /* one byte past the limit tells "too large" from "exactly max" */
    in.limit = max < UINT32_MAX ? max + 1 : UINT32_MAX;
    in.cap = sb->length < in.limit / 4 ? sb->length * 4 + 256 : in.limit;
    if (in.cap > in.limit)
        in.cap = in.limit;
    in.out = malloc(in.cap);
    if (!in.out || inflateInit2(&in.zs, 15 | (gzip ? 16 : 0)) != Z_OK) {
        free(in.out);
        snprintf(why, whylen, "out of memory");
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    }
    int r = Z_OK, nomem = 0;
    for (size_t i = 0; i < sb->count && r == Z_OK; i++)
        r = feed(&in, GRPC_SLICE_START_PTR(sb->slices[i]), GRPC_SLICE_LENGTH(sb->slices[i]),
                 &nomem);
    size_t len = in.zs.total_out;
    const char *zmsg = in.zs.msg;
    inflateEnd(&in.zs);
    if (r == Z_STREAM_END && len <= max) {
        *out = grpc_slice_new(in.out, len, free); /* the slice frees in.out */
        return GRPC_STATUS_OK;
    }
    free(in.out);
    if (r == Z_STREAM_END || (r == Z_BUF_ERROR && !nomem)) {
        snprintf(why, whylen,
                 "the request message is larger than max_message_bytes (%zu) once decompressed",
                 max);
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    }
    if (nomem) {
        snprintf(why, whylen, "out of memory");
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    }
    snprintf(why, whylen, "cannot decompress the request message (grpc-encoding %s): %s",
             gzip ? "gzip" : "deflate",
             r == Z_OK ? "it ends too early" : zmsg ? zmsg : "not valid data");
    return GRPC_STATUS_INTERNAL;
}

grpc_status_code host_message_read(grpc_byte_buffer *bb, size_t max, grpc_slice *out,
                                   char *why, size_t whylen)
{
    if (bb->type == GRPC_BB_RAW && bb->data.raw.compression != GRPC_COMPRESS_NONE) {
        if (bb->data.raw.compression == GRPC_COMPRESS_GZIP ||
            bb->data.raw.compression == GRPC_COMPRESS_DEFLATE)
            return inflate_message(bb, max, out, why, whylen);
        snprintf(why, whylen, "the request message uses an unsupported compression (%d)",
                 (int)bb->data.raw.compression);
        return GRPC_STATUS_UNIMPLEMENTED;
    }
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, bb)) {
        snprintf(why, whylen, "cannot read the request message");
        return GRPC_STATUS_INTERNAL;
    }
    *out = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    return GRPC_STATUS_OK;
}
