/*
 * gw_grpcweb.h -- the gRPC-Web protocol's wire forms: which Content-Types
 * are gRPC-Web, a request body's frames (binary, or base64 text) read into
 * messages, and an answer's frames written: each message, then the trailer
 * frame with the status and trailing metadata.  The calls themselves are
 * gw_http_web.c's.
 */
#ifndef GW_GRPCWEB_H
#define GW_GRPCWEB_H

#include <stddef.h>
#include <stdint.h>

#include "gw_buf.h"
#include "gw_result.h"
#include "gw_upstream.h"

typedef enum gw_web_mode {
    GW_WEB_NONE = 0, /* not gRPC-Web */
    GW_WEB_BINARY,   /* application/grpc-web[+proto] */
    GW_WEB_TEXT,     /* application/grpc-web-text[+proto]: the frames in base64 */
    GW_WEB_OTHER     /* gRPC-Web with messages that are not protobuf (+json, …) */
} gw_web_mode;

/* The mode a request's Content-Type (NULL: none) asks for.  The type is
 * compared without case; parameters after ';' do not count. */
gw_web_mode gw_grpcweb_mode(const char *content_type);

/* The Content-Type of the answer to a request in `mode` (BINARY or TEXT). */
const char *gw_grpcweb_content_type(gw_web_mode mode);

/* Reads the request body body[len] of `mode` (BINARY or TEXT) into
 * messages appended to *out (which stays the caller's to free).  GW_OK;
 * GW_REFUSED with the gRPC status for it in *code (3: malformed framing or
 * base64; 12: a compressed message) and the reason in err; or GW_NOMEM. */
gw_result gw_grpcweb_read_body(gw_web_mode mode, const uint8_t *body, size_t len,
                               gw_request_messages *out, int *code, char *err, size_t errlen);

/* Appends the frame of one message msg[len] (TEXT: in base64, padded). */
void gw_grpcweb_add_message(gw_web_mode mode, const uint8_t *msg, size_t len, gw_buf *out);

/* Appends the trailer frame (TEXT: in base64, padded): grpc-status,
 * grpc-message (percent-encoded; left out when empty) and the trailing
 * metadata md[0..n) that may be sent (gw_grpcweb_metadata_line). */
void gw_grpcweb_add_trailers(gw_web_mode mode, int code, const char *message,
                             const gw_metadata *md, size_t n, gw_buf *out);

/* The trailer frame of grpc-status 13, grpc-message GW_ERR_OOM, in binary
 * (holding NUL bytes: its length is sizeof - 1) and in text mode, as
 * gw_grpcweb_add_trailers writes it: what ends a stream when there is no
 * memory left to write that (test_gw_grpcweb checks they agree). */
#define GW_GRPCWEB_OOM_TRAILERS \
    "\x80\x00\x00\x00\x2c" "grpc-status:13\r\ngrpc-message:" GW_ERR_OOM "\r\n"
#define GW_GRPCWEB_OOM_TRAILERS_TEXT \
    "gAAAACxncnBjLXN0YXR1czoxMw0KZ3JwYy1tZXNzYWdlOm91dCBvZiBtZW1vcnkNCg=="

/* Appends message as grpc-message carries it: bytes outside 0x20-0x7E and
 * '%' as %XX.  NUL-terminated. */
void gw_grpcweb_percent_encode(const char *message, gw_buf *out);

/* Whether response metadata entry md may go out as a header field or a
 * trailer line of a gRPC-Web answer: a key that is a field name, not
 * grpc-* (the status is the gateway's to write), not one that frames the
 * answer or that the gateway writes; a text value without control
 * characters (-bin values go out in base64). */
int gw_grpcweb_metadata_ok(const gw_metadata *md);

#endif /* GW_GRPCWEB_H */
