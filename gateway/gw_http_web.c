/*
 * gw_http_web.c -- gRPC-Web calls over HTTP/1.1 ([gateway] grpc_web).
 *
 * A gRPC-Web request (POST /pkg.Service/Method, Content-Type
 * application/grpc-web[-text][+proto]) carries its messages in gRPC's own
 * framing and its metadata as headers; the gateway passes the messages on
 * as they are, with no JSON, and answers 200 with the reply messages and a
 * trailer frame holding the status (gw_grpcweb.h).  A call that ends with
 * no message (every error, gateway-made or the upstream's) is answered
 * "trailers-only": no body, the status and metadata as header fields.
 * Streams are gw_http_stream.c's, which frames their messages the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_grpcweb.h"
#include "gw_headers.h"
#include "gw_http_int.h"
#include "gw_upstream.h"

enum MHD_Result gw_http_web_start(gw_request *req)
{
    const gw_method *m = req->route->method;
    gw_request_messages requests = GW_REQUEST_MESSAGES_INIT;
    char err[256];
    int code = GRPC_STATUS_INVALID_ARGUMENT;
    gw_result rc = gw_grpcweb_read_body(req->web, req->body.data, req->body.len, &requests,
                                        &code, err, sizeof(err));
    gw_buf_free(&req->body); /* no longer needed */
    if (rc == GW_OK && !m->client_streaming && requests.n != 1) {
        snprintf(err, sizeof(err), "%s takes one request message; the body holds %zu", m->path,
                 requests.n);
        rc = GW_REFUSED;
        code = GRPC_STATUS_INVALID_ARGUMENT;
    }
    if (rc != GW_OK) {
        gw_request_messages_free(&requests);
        return gw_http_web_send_error(req, rc == GW_NOMEM ? GRPC_STATUS_INTERNAL : code, err);
    }
    gw_buf wire = GW_BUF_INIT;
    if (!m->client_streaming && !m->server_streaming) { /* its one message is all of data */
        wire = requests.data;
        requests.data = (gw_buf)GW_BUF_INIT;
        gw_request_messages_free(&requests);
    }
    return gw_http_start_upstream(req, &wire, &requests);
}

void gw_http_web_add_metadata(gw_request *req, struct MHD_Response *resp, const gw_metadata *md,
                              size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *name, *value;
        if (gw_grpcweb_metadata_ok(&md[i]) &&
            gw_headers_from_metadata(&req->arena, "", &md[i], &name, &value) == 0)
            MHD_add_response_header(resp, name, value);
    }
}

/* What the grpc-status and grpc-message fields take besides the message,
 * named in Access-Control-Expose-Headers too. */
#define STATUS_FIELDS_BYTES 96

/* The length of percent-encoded t[len] without the escapes of a UTF-8
 * character that the end cuts short (a lead byte short of its %XX
 * continuations). */
static size_t whole_characters(const uint8_t *t, size_t len)
{
    size_t end = len, continuations = 0;
    while (end >= 3 && t[end - 3] == '%') {
        int b = gw_hex_digit((char)t[end - 2]) << 4 | gw_hex_digit((char)t[end - 1]);
        end -= 3;
        if ((b & 0xc0) == 0x80) {
            continuations++;
            continue;
        }
        size_t need = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : b >= 0xc0 ? 1 : 0;
        return need > continuations ? end : len;
    }
    return len;
}

/* message percent-encoded into text, cut at a character (never inside a
 * %XX or a UTF-8 sequence) so that it takes at most `room` bytes: a status
 * message of tens of kilobytes would not fit in the header fields the
 * answer has room for, and a message cut short says more than none. */
static void encode_message(const char *message, size_t room, gw_buf *text)
{
    gw_grpcweb_percent_encode(message, text);
    if (text->oom || text->len <= room)
        return;
    size_t len = room;
    if (len >= 1 && text->data[len - 1] == '%')
        len -= 1;
    else if (len >= 2 && text->data[len - 2] == '%')
        len -= 2;
    len = whole_characters(text->data, len);
    text->len = len;
    text->data[len] = '\0';
}

/* The trailers-only answer: no body; the status, and `initial` and
 * `trailing` metadata (NULL, 0: none), as header fields. */
static enum MHD_Result send_trailers_only(gw_request *req, int code, const char *message,
                                          const gw_metadata *initial, size_t n_initial,
                                          const gw_metadata *trailing, size_t n_trailing)
{
    req->grpc_code = code;
    size_t room = gw_http_metadata_room(req);
    size_t bytes = gw_http_metadata_fields_size(req, initial, n_initial) +
                   gw_http_metadata_fields_size(req, trailing, n_trailing) + STATUS_FIELDS_BYTES;
    if (bytes > room) /* the status alone, then */
        return gw_http_send_metadata_too_large(req, bytes);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    char status[16];
    snprintf(status, sizeof(status), "%d", code);
    MHD_add_response_header(resp, "grpc-status", status);
    if (message && *message) {
        gw_buf text = GW_BUF_INIT;
        encode_message(message, room - bytes, &text);
        MHD_add_response_header(resp, "grpc-message",
                                text.oom ? "out of memory" : (const char *)text.data);
        gw_buf_free(&text);
    }
    gw_http_web_add_metadata(req, resp, initial, n_initial);
    gw_http_web_add_metadata(req, resp, trailing, n_trailing);
    return gw_http_queue(req, resp, MHD_HTTP_OK, gw_grpcweb_content_type(req->web), 0);
}

enum MHD_Result gw_http_web_send_error(gw_request *req, int code, const char *msg)
{
    return send_trailers_only(req, code, msg, NULL, 0, NULL, 0);
}

enum MHD_Result gw_http_web_send_status(gw_request *req, const gw_upstream_result *r)
{
    return send_trailers_only(req, (int)r->status, r->message, r->initial, r->n_initial,
                              r->trailing, r->n_trailing);
}

enum MHD_Result gw_http_web_send_result(gw_request *req)
{
    const gw_upstream_result *r = req->result;
    if (!r || r->status != GRPC_STATUS_OK || !r->reply)
        return r ? gw_http_web_send_status(req, r)
                 : gw_http_web_send_error(req, GRPC_STATUS_UNAVAILABLE,
                                          "cannot start the upstream call");
    size_t bytes = gw_http_metadata_fields_size(req, r->initial, r->n_initial);
    if (bytes > gw_http_metadata_room(req))
        return gw_http_send_metadata_too_large(req, bytes);
    gw_buf body = GW_BUF_INIT;
    gw_grpcweb_add_message(req->web, r->reply, r->reply_len, &body);
    gw_grpcweb_add_trailers(req->web, GRPC_STATUS_OK, NULL, r->trailing, r->n_trailing, &body);
    if (body.oom) {
        gw_buf_free(&body);
        return gw_http_web_send_error(req, GRPC_STATUS_INTERNAL, GW_ERR_OOM);
    }
    size_t len;
    uint8_t *data = gw_buf_steal(&body, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    req->grpc_code = GRPC_STATUS_OK;
    gw_http_web_add_metadata(req, resp, r->initial, r->n_initial);
    return gw_http_queue(req, resp, MHD_HTTP_OK, gw_grpcweb_content_type(req->web), len);
}
