/*
 * gw_httpbody.h -- google.api.HttpBody, the message whose bytes are the
 * HTTP body itself (grpc-gateway's and Envoy's rule): a reply's `data` is
 * the answer's body, sent with its `content_type`; a request's raw body
 * and Content-Type fill one, when the request is an HttpBody (body "*")
 * or its body field is one.
 */
#ifndef GW_HTTPBODY_H
#define GW_HTTPBODY_H

#include <stddef.h>
#include <stdint.h>

#include "gw_buf.h"
#include "gw_result.h"
#include "gw_schema.h"

/* The longest content_type an answer takes: a media type with its
 * parameters is far shorter. */
#define GW_HTTPBODY_TYPE_MAX 1024

/* What an answer made of an HttpBody without content_type says it is. */
#define GW_HTTPBODY_DEFAULT_TYPE "application/octet-stream"

/* 1 if m is google.api.HttpBody (content_type = 1, data = 2). */
int gw_httpbody_is(const gw_message *m);

/* An HttpBody read off the wire: pointers into the bytes read. */
typedef struct gw_httpbody {
    const char *content_type; /* not NUL-terminated */
    size_t content_type_len;
    const uint8_t *data;
    size_t data_len;
} gw_httpbody;

/* Reads the HttpBody in wire[len] into *out: the last content_type and
 * data, as protobuf parsers keep them; other fields (extensions) are
 * skipped.  GW_OK, or GW_REFUSED when the bytes are not a message. */
gw_result gw_httpbody_read(const uint8_t *wire, size_t len, gw_httpbody *out);

/* 1 if a reply of type `output` answered with response_body `rb` ("":
 * the whole reply) is a google.api.HttpBody: the reply itself (*field
 * NULL), or its field rb (*field), singular and of that type. */
int gw_httpbody_answers(const gw_message *output, const char *rb, const gw_field **field);

/* 1 if a request of type `input` bound with body `body` ("*" or a field
 * name; "": none) takes a google.api.HttpBody: the request itself
 * (*number 0) or its field `body`, singular and of that type (*number). */
int gw_httpbody_taken(const gw_message *input, const char *body, uint32_t *number);

/* Reads the HttpBody of a reply in wire[len]: the reply itself, or its
 * `field` (gw_httpbody_answers); *out may point into wire or into `held`,
 * which the caller frees after using *out.  GW_OK, GW_REFUSED (not a
 * message, or its content_type holds what HTTP cannot carry or is longer
 * than GW_HTTPBODY_TYPE_MAX), or GW_NOMEM. */
gw_result gw_httpbody_of_reply(const uint8_t *wire, size_t len, const gw_field *field,
                               gw_buf *held, gw_httpbody *out);

/* The media type hb says: its content_type, or GW_HTTPBODY_DEFAULT_TYPE
 * when it has none; *len bytes, not NUL-terminated. */
const char *gw_httpbody_type(const gw_httpbody *hb, size_t *len);

/* Appends to out the bytes of message field `number` of the message in
 * wire[len]: every occurrence's, in order, as parsers merge them.  GW_OK,
 * or GW_REFUSED when the bytes are not a message (out may hold a part),
 * or GW_NOMEM. */
gw_result gw_httpbody_field_bytes(const uint8_t *wire, size_t len, uint32_t number, gw_buf *out);

/* Appends an HttpBody {content_type, data} to out: its fields, or, for a
 * `number` above 0, the whole message as that field of the enclosing one. */
void gw_httpbody_write(gw_buf *out, uint32_t number, const char *content_type,
                       const uint8_t *data, size_t len);

#endif /* GW_HTTPBODY_H */
