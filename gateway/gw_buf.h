/*
 * gw_buf.h -- a growable byte buffer, the one output type of the gateway's
 * encoders (protobuf wire bytes, JSON text).  A buffer owns its memory;
 * gw_buf_free releases it, gw_buf_steal hands it to the caller.
 */
#ifndef GW_BUF_H
#define GW_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gw_result.h"

typedef struct gw_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int oom; /* set once an allocation failed; later appends are dropped */
} gw_buf;

#define GW_BUF_INIT {NULL, 0, 0, 0}

/* Makes room for `extra` more bytes; returns 0, or -1 (and sets oom). */
int gw_buf_reserve(gw_buf *b, size_t extra);

static inline void gw_buf_append(gw_buf *b, const void *data, size_t len)
{
    if (len == 0 || gw_buf_reserve(b, len) < 0)
        return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static inline void gw_buf_putc(gw_buf *b, uint8_t c)
{
    if (b->len < b->cap || gw_buf_reserve(b, 1) == 0)
        b->data[b->len++] = c;
}

static inline void gw_buf_puts(gw_buf *b, const char *s)
{
    gw_buf_append(b, s, strlen(s));
}

void gw_buf_printf(gw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* v in decimal into out (no NUL; at most GW_DECIMAL_MAX digits); returns
 * how many digits.  For the request path, where printf's cost shows. */
#define GW_DECIMAL_MAX 20
size_t gw_decimal(char *out, uint64_t v);

/* Protobuf wire values appended (reading them: rp_pb_wire.h). */
void gw_buf_varint(gw_buf *b, uint64_t v);
void gw_buf_fixed32(gw_buf *b, uint32_t v);
void gw_buf_fixed64(gw_buf *b, uint64_t v);

/* The value of a hex digit, or -1. */
static inline int gw_hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Appends the query-string decoding of s (%XX escapes, '+' for space) and
 * a NUL; returns GW_OK, GW_REFUSED for a malformed escape, or GW_NOMEM. */
gw_result gw_query_decode(const char *s, gw_buf *out);

/* Inserts the varint `v` at offset `at`, shifting what follows. */
void gw_buf_insert_varint(gw_buf *b, size_t at, uint64_t v);

/* Appends the whole file at path; 0, or -1 with errno set. */
int gw_buf_read_file(gw_buf *b, const char *path);

/* Returns the data (caller frees with free()) and empties the buffer. */
uint8_t *gw_buf_steal(gw_buf *b, size_t *len);

void gw_buf_free(gw_buf *b);

/* gw_buf_free on each of bufs[0..n) (the array itself is the caller's). */
void gw_buf_free_all(gw_buf *bufs, size_t n);

#endif /* GW_BUF_H */
