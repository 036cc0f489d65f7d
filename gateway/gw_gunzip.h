/*
 * gw_gunzip.h -- request bodies sent gzip-compressed (Content-Encoding:
 * gzip), inflated with zlib as their pieces arrive, never past a limit:
 * neither the compressed bytes nor what they inflate to may exceed it, so
 * a small body that inflates to gigabytes stops at the limit.
 */
#ifndef GW_GUNZIP_H
#define GW_GUNZIP_H

#include <stddef.h>
#include <stdint.h>

#include "gw_buf.h"

/* What a request's Content-Encoding asks of its body. */
typedef enum {
    GW_CODING_NONE,  /* absent, empty, or identity only */
    GW_CODING_GZIP,  /* gzip (or x-gzip), once; identity members aside */
    GW_CODING_OTHER, /* anything else: a coding the gateway does not decode,
                      * or gzip applied twice */
} gw_coding;

gw_coding gw_gunzip_coding(const char *content_encoding);

typedef enum {
    GW_GUNZIP_OK,
    GW_GUNZIP_TOO_LARGE, /* over the limit, compressed or inflated */
    GW_GUNZIP_MALFORMED, /* not gzip data, or it ended early: gw_gunzip_error says how */
    GW_GUNZIP_NOMEM,
} gw_gunzip_status;

typedef struct gw_gunzip gw_gunzip;

/* A decoder for one body; NULL when out of memory.  About 40 KiB (zlib's
 * state and its 32 KiB window) until gw_gunzip_free. */
gw_gunzip *gw_gunzip_new(void);

/* Inflates the next n bytes of the body onto out.  One or more gzip
 * members, one after the other (RFC 1952), make the body; anything else
 * after a member is malformed.  Once a call returned other than OK, the
 * decoder takes no more. */
gw_gunzip_status gw_gunzip_piece(gw_gunzip *g, const void *in, size_t n, gw_buf *out,
                                 size_t limit);

/* The body is complete: OK if it ended where a member ends, MALFORMED if
 * it stopped inside one or had none. */
gw_gunzip_status gw_gunzip_end(gw_gunzip *g);

/* What was wrong with malformed data (static text, for the 400 answer). */
const char *gw_gunzip_error(const gw_gunzip *g);

void gw_gunzip_free(gw_gunzip *g);

#endif /* GW_GUNZIP_H */
