/*
 * gw_buf.c -- growable byte buffer, and protobuf wire values appended to
 * one (the varint encoding itself is rp_pb_wire.h's).
 */
#include "gw_buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_pb_wire.h"

int gw_buf_reserve(gw_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->cap - b->len >= extra)
        return 0;
    size_t need = b->len + extra;
    if (need < b->len) { /* overflow */
        b->oom = 1;
        return -1;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap * 2 > cap ? cap * 2 : need;
    uint8_t *data = realloc(b->data, cap);
    if (!data) {
        b->oom = 1;
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

void gw_buf_printf(gw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || gw_buf_reserve(b, (size_t)n + 1) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

size_t gw_decimal(char *out, uint64_t v)
{
    char tmp[GW_DECIMAL_MAX];
    size_t at = sizeof(tmp);
    do
        tmp[--at] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    memcpy(out, tmp + at, sizeof(tmp) - at);
    return sizeof(tmp) - at;
}

void gw_buf_varint(gw_buf *b, uint64_t v)
{
    uint8_t tmp[RP_PB_VARINT_MAX];
    gw_buf_append(b, tmp, rp_pb_put_varint(tmp, v));
}

void gw_buf_fixed32(gw_buf *b, uint32_t v)
{
    uint8_t tmp[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    gw_buf_append(b, tmp, 4);
}

void gw_buf_fixed64(gw_buf *b, uint64_t v)
{
    gw_buf_fixed32(b, (uint32_t)v);
    gw_buf_fixed32(b, (uint32_t)(v >> 32));
}

gw_result gw_query_decode(const char *s, gw_buf *out)
{
    for (; *s; s++) {
        if (*s == '+') {
            gw_buf_putc(out, ' ');
        } else if (*s == '%') {
            int hi = gw_hex_digit(s[1]), lo = hi >= 0 ? gw_hex_digit(s[2]) : -1;
            if (lo < 0)
                return GW_REFUSED;
            gw_buf_putc(out, (uint8_t)(hi << 4 | lo));
            s += 2;
        } else {
            gw_buf_putc(out, (uint8_t)*s);
        }
    }
    gw_buf_putc(out, '\0');
    return out->oom ? GW_NOMEM : GW_OK;
}

void gw_buf_insert_varint(gw_buf *b, size_t at, uint64_t v)
{
    uint8_t tmp[RP_PB_VARINT_MAX];
    size_t n = rp_pb_put_varint(tmp, v);
    if (gw_buf_reserve(b, n) < 0)
        return;
    memmove(b->data + at + n, b->data + at, b->len - at);
    memcpy(b->data + at, tmp, n);
    b->len += n;
}

int gw_buf_read_file(gw_buf *b, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        gw_buf_append(b, chunk, n);
    int failed = ferror(f) || b->oom;
    fclose(f);
    if (failed)
        errno = b->oom ? ENOMEM : EIO;
    return failed ? -1 : 0;
}

uint8_t *gw_buf_steal(gw_buf *b, size_t *len)
{
    uint8_t *data = b->data;
    *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return data;
}

void gw_buf_free(gw_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void gw_buf_free_all(gw_buf *bufs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        gw_buf_free(&bufs[i]);
}
