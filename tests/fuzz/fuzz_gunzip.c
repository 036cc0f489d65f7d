/*
 * fuzz_gunzip.c -- libFuzzer target: request bodies sent gzip-compressed
 * (gateway/gw_gunzip.c).
 *
 * Input: one byte of choices (the size of the pieces, the limit), then
 * BYTES.  BYTES is fed as gzip data in pieces of two sizes: both must be
 * taken or both refused, with the same bytes when taken, and never more
 * than the limit inflated.  BYTES
 * gzip-compressed must inflate back to exactly BYTES in pieces when it fits
 * the limit, and be refused as too large when it does not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../gateway/gw_gunzip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gw_gunzip_status inflate_in_pieces(const uint8_t *in, size_t len, size_t step,
                                          size_t limit, gw_buf *out)
{
    gw_gunzip *g = gw_gunzip_new();
    if (!g)
        abort();
    gw_gunzip_status s = GW_GUNZIP_OK;
    for (size_t at = 0; at < len && s == GW_GUNZIP_OK; at += step)
        s = gw_gunzip_piece(g, in + at, len - at < step ? len - at : step, out, limit);
    if (s == GW_GUNZIP_OK)
        s = gw_gunzip_end(g);
    if (s == GW_GUNZIP_NOMEM || (s == GW_GUNZIP_MALFORMED && !*gw_gunzip_error(g)))
        abort();
    if (out->len > limit + 1)
        abort();
    gw_gunzip_free(g);
    return s;
}

static void check_any_bytes(const uint8_t *data, size_t size, size_t step, size_t limit)
{
    gw_buf a = GW_BUF_INIT, b = GW_BUF_INIT;
    gw_gunzip_status sa = inflate_in_pieces(data, size, step, limit, &a);
    gw_gunzip_status sb = inflate_in_pieces(data, size, size ? size : 1, limit, &b);
    /* which error a body both malformed and too large meets first may
     * depend on where its pieces end; whether it is taken may not */
    if ((sa == GW_GUNZIP_OK) != (sb == GW_GUNZIP_OK))
        abort();
    if (sa == GW_GUNZIP_OK && (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len))))
        abort();
    gw_buf_free(&a);
    gw_buf_free(&b);
}

static void check_round_trip(const uint8_t *data, size_t size, size_t step, size_t limit)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    size_t cap = deflateBound(&z, size);
    uint8_t *packed = malloc(cap);
    if (!packed)
        abort();
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)size;
    z.next_out = packed;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        abort();
    size_t packed_len = z.total_out;
    deflateEnd(&z);
    gw_buf out = GW_BUF_INIT;
    gw_gunzip_status s = inflate_in_pieces(packed, packed_len, step, limit, &out);
    if (size <= limit && packed_len <= limit) {
        if (s != GW_GUNZIP_OK || out.len != size || (size && memcmp(out.data, data, size)))
            abort();
    } else if (s != GW_GUNZIP_TOO_LARGE) {
        abort();
    }
    gw_buf_free(&out);
    free(packed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = 1 + (data[0] & 0x0f) * 7;
    size_t limit = (data[0] & 0x30) == 0x30 ? 64 : (size_t)1 << (10 + ((data[0] >> 4) & 3) * 4);
    check_any_bytes(data + 1, size - 1, step, limit);
    check_round_trip(data + 1, size - 1, step, limit);
    return 0;
}
