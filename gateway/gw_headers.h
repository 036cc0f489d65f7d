/*
 * gw_headers.h -- HTTP headers <-> gRPC metadata, the way grpc-gateway maps
 * them: request headers become metadata ("Grpc-Metadata-" prefix stripped,
 * permanent HTTP headers as "grpcgateway-NAME", Authorization also as is,
 * X-Forwarded-For / X-Forwarded-Host added, and the headers the
 * configuration names under their own names) and Grpc-Timeout becomes the
 * deadline; response metadata comes back as "Grpc-Metadata-" headers and
 * trailers as "Grpc-Trailer-" fields.
 */
#ifndef GW_HEADERS_H
#define GW_HEADERS_H

#include <stddef.h>
#include <stdint.h>

#include "gw_arena.h"
#include "gw_buf.h"
#include "gw_result.h"
#include "gw_upstream.h"

/* One request header as received. */
typedef struct gw_header {
    const char *name;
    const char *value;
} gw_header;

/* Outgoing metadata built from a request.  The items and their strings
 * live in `arena` (the request's): nothing to free one by one. */
typedef struct gw_metadata_list {
    gw_arena *arena;
    gw_metadata *items;
    size_t n;
    size_t cap;
} gw_metadata_list;

/* Header names taken as they are ([gateway] forward_headers: request
 * headers sent on as metadata, in lower case; reply_headers: response
 * metadata sent as plain headers, spelt as configured).  rp_config checked
 * each (rp_metadata_forward_refusal, rp_metadata_reply_refusal). */
typedef struct gw_header_names {
    char *const *names;
    size_t n;
} gw_header_names;

/* The entry of `names` (NULL: none) that is name[len] in any case, as
 * spelt there, or NULL. */
const char *gw_header_names_find(const gw_header_names *names, const char *name, size_t len);

/*
 * Maps headers[0..n) of a request from client address `peer` (an IP
 * address, or NULL) into `out`, with those `fwd` names (NULL: none) sent
 * as they are, and a Grpc-Timeout header into *timeout_ms
 * (left alone when absent, or zero, which asks for no deadline).  Returns
 * GW_OK, or GW_REFUSED with a reason for a 400 in err[errlen] (a malformed
 * Grpc-Timeout or -bin value), or GW_NOMEM (the reason ends in GW_ERR_OOM).
 */
gw_result gw_headers_to_metadata(const gw_header *headers, size_t n, const char *peer,
                                 const gw_header_names *fwd, gw_metadata_list *out,
                                 int64_t *timeout_ms, char *err, size_t errlen);

/* The same for a gRPC-Web call, whose headers are its metadata: each one
 * rp_metadata_web_request_key names, under its name in lower case (a text
 * value gRPC cannot carry is left out; a -bin one is base64-decoded), then
 * X-Forwarded-Host and X-Forwarded-For as above; grpc-timeout into
 * *timeout_ms, 0 for a zero (a deadline passed already, as gRPC reads it).
 * Returns as gw_headers_to_metadata. */
gw_result gw_headers_web_to_metadata(const gw_header *headers, size_t n, const char *peer,
                                     gw_metadata_list *out, int64_t *timeout_ms, char *err,
                                     size_t errlen);

/* Appends key (lower case, [0-9a-z-_.]) = value (printable ASCII).
 * GW_OK, or GW_REFUSED with a reason in err[errlen], or GW_NOMEM. */
gw_result gw_metadata_list_add(gw_metadata_list *list, const char *key, const char *value,
                               char *err, size_t errlen);

/* Parses a gRPC timeout ("100m", "5S", "1H"); returns milliseconds or -1. */
int64_t gw_headers_parse_grpc_timeout(const char *text);

/* strlen(value) without the blanks (space, tab) at its end, which are not
 * part of a field value (RFC 9110 5.5) but which libmicrohttpd keeps. */
size_t gw_headers_value_len(const char *value);

/* 1 if s[0..len) is an HTTP token (a field name): not empty, RFC 9110's
 * tchar only. */
int gw_headers_token_ok(const char *s, size_t len);

/* 1 if the bytes value[0..len) may be an HTTP field value: no control
 * characters but tab (NUL, CR and LF included), no DEL. */
int gw_headers_value_ok(const char *value, size_t len);

/* The HTTP header for response metadata md: *name is `prefix`
 * ("Grpc-Metadata-" or "Grpc-Trailer-") + the key, *value the value
 * (base64 for "-bin" keys), both NUL-terminated strings in arena.
 * 0; 1 when the key is not an HTTP token or the value not an HTTP field
 * value (an upstream that breaks gRPC's rules: the caller leaves the field
 * out); -1 when out of memory. */
int gw_headers_from_metadata(gw_arena *arena, const char *prefix, const gw_metadata *md,
                             char **name, char **value);

/* Bytes md[0..n) take as "PREFIXkey: value\r\n" header lines, as
 * gw_headers_from_metadata writes them. */
size_t gw_headers_metadata_size(const char *prefix, const gw_metadata *md, size_t n);

/* Bytes the names of those lines take in a list ("PREFIXkey, "). */
size_t gw_headers_metadata_names_size(const char *prefix, const gw_metadata *md, size_t n);

#endif /* GW_HEADERS_H */
