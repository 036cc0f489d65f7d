/*
 * gw_gzip.h -- gzip for answers ([gateway] gzip): whether a client takes
 * it (Accept-Encoding), and a body compressed in place, with zlib.
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

#endif /* GW_GZIP_H */
