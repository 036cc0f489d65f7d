/*
 * gw_gzip.h -- gzip for answers ([gateway] gzip): whether a client takes
 * it (Accept-Encoding), a body compressed in place, and a stream's pieces
 * compressed as they go out, with zlib.
 */
#ifndef GW_GZIP_H
#define GW_GZIP_H

#include "gw_buf.h"

/* Answers shorter than this go as they are: gzip's own bytes and the CPU
 * would cost more than they save. */
#define GW_GZIP_MIN_BYTES 1024

/* 1 if the Accept-Encoding value `accept` (NULL: none) takes gzip: gzip
 * or x-gzip without q=0, or, when neither is listed, * without q=0. */
int gw_gzip_accepted(const char *accept);

/* 1 if an answer of media type `type` is worth compressing: JSON or text. */
int gw_gzip_worth(const char *type);

/* Replaces body with its gzip form if that is shorter.  Returns 1 if it
 * did, 0 if body is left as it was (not shorter, or out of memory). */
int gw_gzip_body(gw_buf *body);

/* A streamed answer's gzip: each piece is flushed as it is added, so that
 * a client inflates every message as soon as it has its bytes.  A small
 * window (2 KiB: a stream's messages repeat their field names from one to
 * the next) keeps it to about 24 KiB a stream. */
typedef struct gw_gzip_stream gw_gzip_stream;

/* A new stream, or NULL when out of memory. */
gw_gzip_stream *gw_gzip_stream_new(void);

/* Replaces piece's bytes with their gzip form, the bytes that end the
 * gzip data after them when `last`; an empty piece with `last` gives those
 * alone.  Returns 0, or -1 (piece->oom set) when out of memory, after
 * which the stream can only be freed. */
int gw_gzip_stream_piece(gw_gzip_stream *z, gw_buf *piece, int last);

void gw_gzip_stream_free(gw_gzip_stream *z);

#endif /* GW_GZIP_H */
