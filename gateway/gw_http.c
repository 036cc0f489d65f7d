/*
 * gw_http.c -- libmicrohttpd front end of the gateway.
 *
 * Per request (see the access handler's state machine below): route on the
 * headers, collect the body, bind + encode the request, suspend the
 * connection and start the gRPC call (the loop watches the suspended
 * connection: a client that closes it cancels the call); the upstream
 * thread stores the result and resumes; the next handler call writes the
 * JSON answer.  Every request
 * gets a request id, is counted (gw_metrics.h) and logged (gw_access.h) when
 * it completes; GET /metrics is answered here, before routing.  The request
 * record is freed only in the completion callback.
 */
#include "gw_http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "gw_accept.h"
#include "gw_bind.h"
#include "gw_http_int.h"
#include "gw_gunzip.h"
#include "gw_gzip.h"
#include "gw_h2.h"
#include "gw_headers.h"
#include "gw_httpbody.h"
#include "gw_limits.h"
#include "gw_loop.h"
#include "gw_health.h"
#include "gw_status.h"
#include "rp_addr.h"
#include "rp_config.h"
#include "rp_log.h"
#include "rp_metadata.h"
#include "rp_notify.h"
#include "rp_time.h"
#include "rp_utf8.h"

#define MAX_QUERY_PARAMS 256
#define MAX_HEADERS 256
#define CONNECTION_TIMEOUT_S 30u /* [gateway] connection_timeout's default */
#define MAX_CONNECTIONS 2048u    /* [gateway] max_connections' default */
#define CONNECTION_SLACK 64u     /* MHD's own limit: max_connections + this (accept_policy decides) */
/* Memory per connection (request line and headers, MHD's bookkeeping).
 * Above 32 KiB MHD maps each connection's pool with mmap and unmaps it when
 * the connection closes, so a burst of connections gives its memory back
 * (malloc'ed pools stay in the heap): 8 MB less RSS after 256 connections. */
#define CONNECTION_MEMORY ((size_t)36 * 1024)
/* Of that, what a request's line and headers may take (431 beyond; see
 * gw_http_metadata_room), and what an answer needs besides its metadata:
 * its other headers, and the buffer a chunked body is written through */
#define REQUEST_HEAD_MAX ((size_t)28 * 1024)
#define ANSWER_RESERVE ((size_t)4 * 1024)
/* The body buffer is sized by Content-Length up to this much before the
 * body arrives (beyond it, it grows as the body comes) */
#define BODY_PRESIZE_MAX ((size_t)64 * 1024)
#define DRAIN_LINGER_MS 1000 /* stopping: how long idle keep-alive connections get to close */
/* A refused request's body is read and dropped, so that the client sees
 * the answer rather than a reset (a client that sends its whole body before
 * it reads, as most do, fails on a connection closed under it), up to
 * max_body_bytes and this much more; beyond it the gateway answers and
 * closes.  It bounds what one request can make the gateway read in vain. */
#define DROP_MORE ((size_t)64 * 1024 * 1024)
#define METRICS_PATH "/metrics"
/* GET /healthz asks the upstream within [gateway] timeout, at most this:
 * a probe wants a quick answer, not the API's deadline */
#define HEALTH_TIMEOUT_MAX_MS 5000
/* The most one read of an answer's body (read_buffer) hands libmicrohttpd */
#define BODY_BLOCK_BYTES (64 * 1024)

/* ---- responses ------------------------------------------------------------------ */

/* A finished body served from memory as a chunked response, which is what
 * lets MHD send trailers (footers) after it. */
typedef struct body_reader {
    gw_buf body;
    struct gw_loop *loop; /* the request's, told of each piece (gw_loop_progress) */
} body_reader;

static ssize_t read_buffer(void *cls, uint64_t pos, char *buf, size_t max)
{
    body_reader *r = cls;
    gw_loop_progress(r->loop);
    if (pos >= r->body.len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = r->body.len - (size_t)pos < max ? r->body.len - (size_t)pos : max;
    memcpy(buf, r->body.data + pos, n);
    return (ssize_t)n;
}

static void free_buffer(void *cls)
{
    body_reader *r = cls;
    gw_buf_free(&r->body);
    free(r);
}

static struct MHD_Response *make_response(gw_request *req, gw_buf *body, int chunked)
{
    if (!chunked) {
        size_t len;
        uint8_t *data = gw_buf_steal(body, &len);
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            free(data);
        return resp;
    }
    body_reader *owned = malloc(sizeof(*owned));
    if (!owned)
        return NULL;
    owned->body = *body;
    owned->loop = req->thread->loop;
    memset(body, 0, sizeof(*body));
    struct MHD_Response *resp = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, BODY_BLOCK_BYTES, read_buffer, owned, free_buffer);
    if (!resp)
        free_buffer(owned);
    return resp;
}

void gw_http_add_metadata_headers(gw_request *req, struct MHD_Response *resp,
                                  const char *prefix, const gw_header_names *plain,
                                  const gw_metadata *md, size_t n)
{
    const char *status_key = req->http->cfg.status_metadata;
    for (size_t i = 0; i < n; i++) {
        if (status_key && strcmp(md[i].key, status_key) == 0)
            continue; /* it is the answer's status (reply_status) */
        const char *as = gw_header_names_find(plain, md[i].key, strlen(md[i].key));
        char *name, *value;
        if (gw_headers_from_metadata(&req->arena, as ? "" : prefix, &md[i], &name, &value) == 0)
            MHD_add_response_header(resp, as ? as : name, value);
    }
}

/* Response metadata as Grpc-Metadata-* headers; trailers as Grpc-Trailer-*
 * footers when the client asked for them (TE: trailers) and the answer has
 * a body to end with them. */
static void add_metadata(gw_request *req, struct MHD_Response *resp, int trailers)
{
    gw_upstream_result *r = req->result;
    if (!r)
        return;
    gw_http_add_metadata_headers(req, resp, "Grpc-Metadata-", &req->http->cfg.reply, r->initial,
                                 r->n_initial);
    if (!trailers)
        return;
    for (size_t i = 0; i < r->n_trailing; i++) {
        char *name, *value;
        if (gw_headers_from_metadata(&req->arena, "Grpc-Trailer-", &r->trailing[i], &name,
                                     &value) == 0) {
            MHD_add_response_header(resp, MHD_HTTP_HEADER_TRAILER, name);
            MHD_add_response_footer(resp, name, value);
        }
    }
}

/* The prepared out-of-memory answer (no per-request headers: it is shared). */
static enum MHD_Result send_out_of_memory(gw_http *h, gw_request *req, struct MHD_Connection *conn)
{
    if (req) {
        req->grpc_code = GRPC_STATUS_INTERNAL;
        req->http_status = 500;
        req->bytes_out = sizeof(GW_OOM_BODY) - 1;
    }
    return MHD_queue_response(conn, 500, h->oom_response);
}

size_t gw_http_metadata_fields_size(const gw_request *req, const gw_metadata *md, size_t n)
{
    const char *prefix = gw_request_is_web(req) ? "" : "Grpc-Metadata-";
    size_t bytes = gw_headers_metadata_size(prefix, md, n);
    if (req->cors_origin) /* Access-Control-Expose-Headers names each header again */
        bytes += gw_headers_metadata_names_size(prefix, md, n);
    return bytes;
}

/* Bytes the result's metadata takes in the answer's headers: trailers
 * twice (named in Trailer:, then sent), and WWW-Authenticate on a 401. */
static size_t response_metadata_size(const gw_request *req, unsigned status)
{
    const gw_upstream_result *r = req->result;
    if (!r)
        return 0;
    size_t bytes = gw_http_metadata_fields_size(req, r->initial, r->n_initial);
    if (req->wants_trailers)
        bytes += 2 * gw_headers_metadata_size("Grpc-Trailer-", r->trailing, r->n_trailing);
    if (status == MHD_HTTP_UNAUTHORIZED && r->message)
        bytes += sizeof(MHD_HTTP_HEADER_WWW_AUTHENTICATE ": \r\n") + strlen(r->message);
    return bytes;
}

size_t gw_http_metadata_room(const gw_request *req)
{
    size_t avail = CONNECTION_MEMORY - ANSWER_RESERVE;
    return req->head_bytes < avail ? avail - req->head_bytes : 0;
}

enum MHD_Result gw_http_send_metadata_too_large(gw_request *req, size_t bytes)
{
    char msg[240];
    snprintf(msg, sizeof(msg),
             "the upstream's response metadata takes %zu bytes as HTTP headers; after this "
             "request's own headers the gateway has room for %zu", bytes,
             gw_http_metadata_room(req));
    if (gw_request_is_web(req))
        return gw_http_web_send_error(req, GRPC_STATUS_INTERNAL, msg);
    req->grpc_code = GRPC_STATUS_INTERNAL;
    gw_buf body = GW_BUF_INIT;
    gw_status_error_body(&body, GRPC_STATUS_INTERNAL, msg, NULL, 0, NULL, NULL);
    if (body.oom) {
        gw_buf_free(&body);
        return send_out_of_memory(req->http, req, req->conn);
    }
    size_t len = body.len;
    struct MHD_Response *resp = make_response(req, &body, 0);
    if (!resp)
        return MHD_NO;
    return gw_http_queue(req, resp, MHD_HTTP_BAD_GATEWAY, "application/json", len);
}

static enum MHD_Result send_body(gw_request *req, unsigned status, gw_buf *body,
                                  const char *content_type)
{
    if (body->oom) {
        gw_buf_free(body);
        return send_out_of_memory(req->http, req, req->conn);
    }
    size_t metadata_bytes = response_metadata_size(req, status);
    if (metadata_bytes > gw_http_metadata_room(req)) {
        gw_buf_free(body);
        return gw_http_send_metadata_too_large(req, metadata_bytes);
    }
    /* 204, 205 and 304 end at their headers (RFC 9110 15.3.5, 15.3.6, 15.4.5),
     * and so does any answer to HEAD: no chunks, so no trailers either */
    int bodyless = status == 204 || status == 205 || status == 304 ||
                   strcmp(req->verb, "HEAD") == 0;
    int chunked = !bodyless && req->wants_trailers && req->result && req->result->n_trailing > 0;
    int gzip = req->http->cfg.gzip && body->len >= GW_GZIP_MIN_BYTES &&
               gw_gzip_worth(content_type);
    if (gzip) /* an answer that differs by Accept-Encoding, whichever this one is */
        gzip = gw_gzip_accepted(MHD_lookup_connection_value(
                   req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING)) &&
               gw_gzip_body(body) ? 2 : 1;
    size_t len = body->len;
    struct MHD_Response *resp = make_response(req, body, chunked);
    if (!resp)
        return MHD_NO;
    if (gzip)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    if (gzip == 2)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    add_metadata(req, resp, req->wants_trailers && !bodyless);
    if (status == MHD_HTTP_UNAUTHORIZED && req->result &&
        req->result->status != GRPC_STATUS_OK && req->result->message &&
        gw_headers_value_ok(req->result->message, strlen(req->result->message)))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, req->result->message);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED && req->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, req->allow);
    /* a 415 for the body's coding names the one taken (RFC 9110 12.5.3) */
    if (status == MHD_HTTP_UNSUPPORTED_MEDIA_TYPE && req->coding == GW_CODING_OTHER)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_ENCODING, "gzip");
    return gw_http_queue(req, resp, status, content_type, len);
}

void gw_http_resume(gw_request *req)
{
    struct gw_loop *loop = req->thread->loop; /* req may be gone once resumed */
    MHD_resume_connection(req->conn);
    gw_loop_wake(loop);
}

gw_result gw_http_reply_json(const gw_request *req, const uint8_t *reply, size_t len,
                             gw_buf *out, char *err, size_t errlen)
{
    const gw_message *output = req->route->method->output;
    const char *rb = req->route->binding->response_body;
    if (!*rb)
        return gw_proto_to_json(output, reply, len, &req->http->cfg.json, out, err, errlen);
    return gw_proto_field_to_json(output, gw_message_field_by_name(output, rb, strlen(rb)), reply,
                                  len, &req->http->cfg.json, out, err, errlen);
}

enum MHD_Result gw_http_queue(gw_request *req, struct MHD_Response *resp, unsigned status,
                              const char *content_type, size_t len)
{
    req->http_status = status;
    req->bytes_out = len;
    if (content_type) /* NULL: no body */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, GW_REQUEST_ID_HEADER, req->request_id);
    /* after a request whose framing was wrong, what follows on the
     * connection cannot be trusted to start a request */
    if (atomic_load(&req->http->stopping) || req->framing)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (gw_cors_enabled(&req->http->cfg.cors)) /* last: it names the headers above */
        gw_cors_add_headers(&req->http->cfg.cors, req->cors_origin, resp,
                            gw_request_is_web(req) ? "grpc-status, grpc-message" : NULL);
    enum MHD_Result rc = MHD_queue_response(req->conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result gw_http_send_json(gw_request *req, unsigned status, gw_buf *body)
{
    return send_body(req, status, body, "application/json");
}

/* An error the gateway itself decided (no upstream details). */
enum MHD_Result gw_http_send_error(gw_request *req, unsigned status, int code, const char *msg)
{
    if (gw_request_is_web(req))
        return gw_http_web_send_error(req, code, msg);
    req->grpc_code = code;
    gw_buf body = GW_BUF_INIT;
    gw_status_error_body(&body, code, msg, NULL, 0, NULL, NULL);
    return gw_http_send_json(req, status, &body);
}

enum MHD_Result gw_http_send_status(gw_request *req, const gw_upstream_result *r)
{
    if (gw_request_is_web(req))
        return gw_http_web_send_status(req, r);
    gw_buf body = GW_BUF_INIT;
    req->grpc_code = (int)r->status;
    gw_status_error_body(&body, r->status, r->message ? r->message : "", r->trailing,
                         r->n_trailing, req->gen ? req->gen->schema : NULL,
                         &req->http->cfg.json);
    return gw_http_send_json(req, (unsigned)gw_status_http_code(r->status), &body);
}

/* The HTTP status a successful reply asks for in its initial metadata
 * ([gateway] status_metadata): three digits, 200 to 599; else 200. */
static unsigned reply_status(const gw_request *req)
{
    const char *key = req->http->cfg.status_metadata;
    const gw_upstream_result *r = req->result;
    for (size_t i = 0; key && i < r->n_initial; i++) {
        const gw_metadata *md = &r->initial[i];
        if (strcmp(md->key, key) != 0)
            continue;
        const char *v = md->value;
        if (md->value_len != 3 || v[0] < '2' || v[0] > '5' || v[1] < '0' || v[1] > '9' ||
            v[2] < '0' || v[2] > '9')
            return 200;
        return (unsigned)((v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0'));
    }
    return 200;
}

/* A successful reply's answer: body of type `type` with the status
 * reply_status gives, without the body for a status that has none
 * (204, 205, 304). */
static enum MHD_Result send_reply(gw_request *req, gw_buf *body, const char *type)
{
    unsigned status = reply_status(req);
    req->grpc_code = GRPC_STATUS_OK;
    if (status == 204 || status == 205 || status == 304) {
        gw_buf_free(body);
        type = NULL;
    }
    return send_body(req, status, body, type);
}

/* A reply that is (or holds, in `field`) a google.api.HttpBody: its data
 * as the body, its content_type as the Content-Type. */
static enum MHD_Result send_http_body(gw_request *req, const gw_field *field)
{
    const gw_upstream_result *r = req->result;
    gw_buf held = GW_BUF_INIT, body = GW_BUF_INIT;
    gw_httpbody hb;
    gw_result rc = gw_httpbody_of_reply(r->reply, r->reply_len, field, &held, &hb);
    char *type = NULL;
    if (rc == GW_OK) {
        size_t len;
        const char *t = gw_httpbody_type(&hb, &len);
        type = gw_arena_strndup(&req->arena, t, len);
        gw_buf_append(&body, hb.data, hb.data_len); /* before held goes */
        if (!type || body.oom)
            rc = GW_NOMEM;
    }
    gw_buf_free(&held);
    if (rc != GW_OK) {
        gw_buf_free(&body);
        if (rc == GW_NOMEM)
            return gw_http_send_error(req, 500, GRPC_STATUS_INTERNAL, GW_ERR_OOM);
        char msg[320];
        snprintf(msg, sizeof(msg), "the reply of %s is not a google.api.HttpBody whose "
                 "content_type HTTP can carry", req->route->method->path);
        return gw_http_send_error(req, 500, GRPC_STATUS_INTERNAL, msg);
    }
    return send_reply(req, &body, type);
}

enum MHD_Result gw_http_send_result(gw_request *req)
{
    gw_upstream_result *r = req->result;
    if (req->health_service) {
        gw_buf body = GW_BUF_INIT;
        req->grpc_code = r ? (int)r->status : GRPC_STATUS_UNAVAILABLE;
        unsigned status = gw_health_response(r, req->health_service, &body);
        return gw_http_send_json(req, status, &body);
    }
    if (gw_request_is_web(req))
        return gw_http_web_send_result(req);
    if (!r)
        return gw_http_send_error(req, 503, GRPC_STATUS_UNAVAILABLE, "cannot start the upstream call");
    if (r->status != GRPC_STATUS_OK)
        return gw_http_send_status(req, r);
    const gw_method *m = req->route->method;
    if (req->route->raw_reply)
        return send_http_body(req, req->route->raw_reply_field);
    gw_buf body = GW_BUF_INIT;
    char err[256];
    gw_result rc = gw_http_reply_json(req, r->reply, r->reply_len, &body, err, sizeof(err));
    if (rc != GW_OK) {
        gw_buf_free(&body);
        char msg[320];
        snprintf(msg, sizeof(msg), "cannot convert the reply of %s to JSON: %s", m->path, err);
        return gw_http_send_error(req, 500, GRPC_STATUS_INTERNAL, msg);
    }
    return send_reply(req, &body, "application/json");
}

/* ---- the gRPC call ---------------------------------------------------------------- */

static void on_upstream_done(void *arg, gw_upstream_result *result)
{
    gw_request *req = arg;
    req->result = result;
    atomic_store(&req->state, REQ_DONE);
    gw_http_resume(req);
}

/* The client of a call closed its connection: the call is cancelled (as
 * grpc-gateway's request context is), and answers CANCELLED to nobody. */
static void on_client_hangup(gw_loop_watch *w)
{
    gw_request *req = (gw_request *)((char *)w - offsetof(gw_request, hangup));
    if (req->stream) {
        gw_http_stream_cancel(req);
        return;
    }
    if (atomic_load(&req->state) != REQ_WAITING)
        return; /* answered already */
    req->client_left = 1;
    if (req->route || req->health_service)
        gw_h2_cancel(req->thread->h2, req);
}

void gw_http_watch_client(gw_request *req)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    req->hangup.fd = info ? info->connect_fd : -1;
    req->hangup.hangup = on_client_hangup;
    gw_loop_watch_start(req->thread->loop, &req->hangup);
}

typedef struct query_list {
    gw_query_param params[MAX_QUERY_PARAMS];
    size_t n;
    int overflow;
} query_list;

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    query_list *q = cls;
    if (!key[0] && (!value || !value[0]))
        return MHD_YES; /* an empty component ("a=1&&b=2", "?&"), which gw_bind skips */
    if (q->n == MAX_QUERY_PARAMS) {
        q->overflow = 1;
        return MHD_NO;
    }
    q->params[q->n++] = (gw_query_param){key, value};
    return MHD_YES;
}

typedef struct header_list {
    gw_header items[MAX_HEADERS];
    size_t n;
} header_list;

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    header_list *h = cls;
    if (h->n == MAX_HEADERS)
        return MHD_NO;
    h->items[h->n++] = (gw_header){key, value ? value : ""};
    return MHD_YES;
}

/* Host in h becomes `host` (one is added when there was none). */
static void replace_host(header_list *h, const char *host)
{
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->items[i].name, MHD_HTTP_HEADER_HOST) == 0) {
            h->items[i].value = host;
            return;
        }
    }
    if (h->n < MAX_HEADERS)
        h->items[h->n++] = (gw_header){MHD_HTTP_HEADER_HOST, host};
}

/* The client's IP address as text, or NULL; worked out once per request
 * (the metadata and the access log both want it). */
static const char *peer_address(gw_request *req)
{
    if (req->peer[0])
        return req->peer;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr)
        return NULL;
    const struct sockaddr *sa = info->client_addr;
    const void *addr = sa->sa_family == AF_INET6
                           ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                           : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    return inet_ntop(sa->sa_family, addr, req->peer, sizeof(req->peer));
}

/* What a gRPC server takes in a request's metadata by default
 * (grpc.max_metadata_size: 8 KiB, counted as HPACK counts, name + value +
 * 32 per entry), less room for the other fields of the call's header
 * block (:method, :scheme, :authority, te, content-type, user-agent,
 * grpc-timeout); its :path, which a method's name can make long, is
 * counted with the metadata.  gRPC core 1.51 answers a larger
 * block with RESOURCE_EXHAUSTED and then mostly closes the whole connection,
 * failing every other call on it (rpcrest-host raises that limit and
 * refuses over 8 KiB per call itself; another upstream may not), so the
 * gateway refuses such a request before sending it. */
#define REQUEST_METADATA_MAX_BYTES (8192 - 1024)

/* md and the :path of a call to `path`, as HPACK counts them. */
static size_t metadata_size(const gw_metadata_list *md, const char *path)
{
    size_t size = strlen(":path") + strlen(path) + 32;
    for (size_t i = 0; i < md->n; i++) {
        size_t klen = strlen(md->items[i].key), vlen = md->items[i].value_len;
        if (rp_metadata_key_binary(md->items[i].key, klen))
            vlen = rp_metadata_base64_len(vlen, RP_BASE64_PADDED); /* as gw_h2 sends it */
        size += klen + vlen + 32;
    }
    return size;
}

/* Request headers -> metadata and deadline; GW_OK, or GW_REFUSED with err
 * for a 400, GW_NOMEM (err: GW_ERR_OOM), or GW_TOO_LARGE with err for a
 * 431 (more metadata than the upstream takes). */
static gw_result request_metadata(gw_request *req, gw_metadata_list *md, int64_t *timeout_ms,
                                  char *err, size_t errlen)
{
    header_list headers; /* on the stack and not zeroed: no malloc per request */
    header_list *h = &headers;
    h->n = 0;
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_header, h);
    if (req->authority) /* an absolute-form target's host is the Host */
        replace_host(h, req->authority);
    /* a stream may run long: without Grpc-Timeout it gets the cap */
    *timeout_ms = req->route->method->server_streaming ? req->http->cfg.max_timeout_ms
                                                       : req->http->cfg.timeout_ms;
    gw_result rc = gw_request_is_web(req)
                       ? gw_headers_web_to_metadata(h->items, h->n, peer_address(req), md,
                                                    timeout_ms, err, errlen)
                       : gw_headers_to_metadata(h->items, h->n, peer_address(req),
                                                &req->http->cfg.forward, md, timeout_ms, err,
                                                errlen);
    if (rc == GW_OK)
        rc = gw_metadata_list_add(md, "x-request-id", req->request_id, err, errlen);
    if (*timeout_ms > req->http->cfg.max_timeout_ms)
        *timeout_ms = req->http->cfg.max_timeout_ms;
    size_t size = rc == GW_OK ? metadata_size(md, req->route->method->path) : 0;
    if (size > REQUEST_METADATA_MAX_BYTES) {
        snprintf(err, errlen,
                 "the headers sent on as gRPC metadata take %zu bytes with the call's :path, "
                 "more than %d",
                 size, REQUEST_METADATA_MAX_BYTES);
        return GW_TOO_LARGE;
    }
    return rc;
}

/* s[0..len) NUL-terminated in req's arena, as it is: a form's field names
 * and values are escaped as a query's are, and gw_bind decodes them alike
 * (once).  NULL for want of memory. */
static char *form_copy(gw_request *req, const char *s, size_t len)
{
    char *out = gw_arena_alloc(&req->arena, len + 1);
    if (out) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    return out;
}

/* A form POST's fields (form_fallback), after the query's in q.  GW_OK, or
 * GW_REFUSED or GW_NOMEM with err. */
static gw_result collect_form(gw_request *req, query_list *q, char *err, size_t errlen)
{
    const char *p = (const char *)req->body.data, *end = p + req->body.len;
    for (const char *c = p; c && c < end; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) /* a NUL would cut a field short */
            return snprintf(err, errlen, "the form body has a raw control character (0x%02x): "
                            "escape it", (unsigned char)*c), GW_REFUSED;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        char *key = form_copy(req, p, (size_t)((eq ? eq : stop) - p));
        char *value = key && eq ? form_copy(req, eq + 1, (size_t)(stop - eq - 1)) : NULL;
        if (!key || (eq && !value))
            return snprintf(err, errlen, "%s", GW_ERR_OOM), GW_NOMEM;
        p = amp ? amp + 1 : end;
        if (!key[0] && (!value || !value[0]))
            continue; /* an empty field ("a=1&&b=2"), as in a query */
        if (q->n == MAX_QUERY_PARAMS)
            return snprintf(err, errlen, "more than %d query parameters and form fields",
                            MAX_QUERY_PARAMS), GW_REFUSED;
        q->params[q->n++] = (gw_query_param){key, value};
    }
    return GW_OK;
}

/* The request message in wire form, from the body, path and query.  GW_OK,
 * or GW_REFUSED with err for a 400, or GW_NOMEM. */
static gw_result encode_request(gw_request *req, gw_buf *wire, char *err, size_t errlen)
{
    gw_http *h = req->http;
    query_list query; /* on the stack and not zeroed: no malloc per request */
    query_list *q = &query;
    q->n = 0;
    q->overflow = 0;
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_query, q);
    if (q->overflow) {
        snprintf(err, errlen, "more than %d query parameters", MAX_QUERY_PARAMS);
        return GW_REFUSED;
    }
    gw_result form = req->form_query ? collect_form(req, q, err, errlen) : GW_OK;
    if (form != GW_OK)
        return form;
    json_t *json = NULL;
    gw_buf tail = GW_BUF_INIT; /* a PATCH's FieldMask, in wire form */
    gw_bind_options bind = {
        h->cfg.ignore_unknown_query_parameters, &h->cfg.json,
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)};
    /* a form's body is its fields, above; the route binds no body */
    size_t body_len = req->form_query ? 0 : req->body.len;
    gw_result rc = gw_bind_request(req->route, req->path, req->spans,
                                   (const char *)req->body.data, body_len, q->params, q->n,
                                   &bind, &json, &tail, err, errlen);
    if (rc == GW_OK) {
        rc = gw_bind_encode(req->route, json, &h->cfg.json, wire, err, errlen);
        json_decref(json);
    }
    if (rc == GW_OK && tail.len) {
        gw_buf_append(wire, tail.data, tail.len);
        if (wire->oom)
            rc = GW_NOMEM, snprintf(err, errlen, "%s", GW_ERR_OOM);
    }
    gw_buf_free(&tail);
    return rc;
}

/* A request that could not be transcoded (rc from encode_request and the
 * like): the client's fault (GW_REFUSED: 400), unless the gateway ran out
 * of memory on the way (GW_NOMEM: 500).  By the value, never err's text,
 * which may hold what the client sent. */
static enum MHD_Result send_transcode_error(gw_request *req, gw_result rc, const char *err)
{
    if (rc == GW_NOMEM)
        return gw_http_send_error(req, 500, GRPC_STATUS_INTERNAL, err);
    return gw_http_send_error(req, 400, GRPC_STATUS_INVALID_ARGUMENT, err);
}

/* The request's messages, encoded: a client-streaming body's lines, or
 * the one message of the body, path and query.  GW_OK, or GW_REFUSED or
 * GW_NOMEM with the reason, as encode_request. */
static gw_result encode_requests(gw_request *req, gw_request_messages *out, char *err,
                                 size_t errlen)
{
    if (req->route->method->client_streaming) /* JSON messages one after another, or an array */
        return gw_http_stream_encode_messages(req, out, err, errlen);
    gw_result rc = encode_request(req, &out->data, err, errlen);
    if (rc != GW_OK)
        return rc;
    if (gw_request_messages_end(out) < 0)
        return snprintf(err, errlen, "%s", GW_ERR_OOM), GW_NOMEM;
    return GW_OK;
}

/* Body complete: transcode and start the call, or answer an error. */
static enum MHD_Result start_call(gw_request *req)
{
    const gw_method *m = req->route->method;
    char err[GW_BIND_ERR_SIZE];
    int streaming = m->server_streaming || m->client_streaming;
    gw_request_messages requests = GW_REQUEST_MESSAGES_INIT; /* streaming */
    gw_buf wire = GW_BUF_INIT;                                /* unary */
    gw_result rc = streaming ? encode_requests(req, &requests, err, sizeof(err))
                             : encode_request(req, &wire, err, sizeof(err));
    gw_buf_free(&req->body); /* no longer needed */
    if (rc != GW_OK) {
        gw_request_messages_free(&requests);
        gw_buf_free(&wire);
        return send_transcode_error(req, rc, err);
    }
    return gw_http_start_upstream(req, &wire, &requests);
}

enum MHD_Result gw_http_start_upstream(gw_request *req, gw_buf *wire,
                                       gw_request_messages *requests)
{
    gw_http *h = req->http;
    const gw_method *m = req->route->method;
    int streaming = m->server_streaming || m->client_streaming;
    char err[GW_BIND_ERR_SIZE];
    if (atomic_load(&h->stopping) > 1) { /* 1: draining, still served (Connection: close) */
        gw_request_messages_free(requests);
        gw_buf_free(wire);
        return gw_http_send_error(req, 503, GRPC_STATUS_UNAVAILABLE, "the gateway is shutting down");
    }
    gw_metadata_list md = {.arena = &req->arena};
    int64_t timeout_ms;
    gw_result mrc = request_metadata(req, &md, &timeout_ms, err, sizeof(err));
    if (mrc != GW_OK) {
        gw_request_messages_free(requests);
        gw_buf_free(wire);
        return mrc == GW_TOO_LARGE
                   ? gw_http_send_error(req, 431, GRPC_STATUS_RESOURCE_EXHAUSTED, err)
                   : send_transcode_error(req, mrc, err);
    }
    if (timeout_ms <= 0) { /* a gRPC-Web grpc-timeout of 0: passed before the call */
        gw_request_messages_free(requests);
        gw_buf_free(wire);
        return gw_http_send_error(req, 504, GRPC_STATUS_DEADLINE_EXCEEDED, "Deadline Exceeded");
    }
    if (streaming)
        return gw_http_stream_start(req, requests, md.items, md.n, timeout_ms);
    atomic_store(&req->state, REQ_WAITING);
    MHD_suspend_connection(req->conn);
    /* -1: the call could not be started (no done) */
    int started = gw_h2_unary(req->thread->h2, m->path, wire, md.items, md.n, timeout_ms,
                              on_upstream_done, req);
    if (started < 0) {
        req->result = NULL;
        atomic_store(&req->state, REQ_DONE);
        gw_http_resume(req);
    } else {
        gw_http_watch_client(req);
    }
    return MHD_YES;
}

/* GET /healthz[?service=NAME]: ask the upstream's health service. */
static enum MHD_Result start_health_check(gw_request *req)
{
    const char *raw = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "service");
    gw_buf name = GW_BUF_INIT, msg = GW_BUF_INIT;
    gw_result decoded = gw_query_decode(raw ? raw : "", &name);
    if (decoded != GW_OK) {
        gw_buf_free(&name);
        return decoded == GW_NOMEM
                   ? gw_http_send_error(req, 500, GRPC_STATUS_INTERNAL, GW_ERR_OOM)
                   : gw_http_send_error(req, 400, GRPC_STATUS_INVALID_ARGUMENT,
                                        "service: malformed percent-encoding");
    }
    size_t n = name.len - 1; /* gw_query_decode ends it with a NUL */
    if (memchr(name.data, '\0', n) || !rp_utf8_valid(name.data, n)) {
        gw_buf_free(&name);
        return gw_http_send_error(req, 400, GRPC_STATUS_INVALID_ARGUMENT,
                                  "service: not a valid UTF-8 name");
    }
    size_t len;
    req->health_service = (char *)gw_buf_steal(&name, &len);
    gw_health_request(req->health_service, &msg);
    atomic_store(&req->state, REQ_WAITING);
    MHD_suspend_connection(req->conn);
    int64_t timeout = req->http->cfg.timeout_ms < HEALTH_TIMEOUT_MAX_MS ? req->http->cfg.timeout_ms
                                                                        : HEALTH_TIMEOUT_MAX_MS;
    int rc = gw_h2_unary(req->thread->h2, GW_HEALTH_METHOD, &msg, NULL, 0, timeout,
                         on_upstream_done, req);
    if (rc < 0) {
        atomic_store(&req->state, REQ_DONE);
        gw_http_resume(req);
    } else {
        gw_http_watch_client(req);
    }
    return MHD_YES;
}

/* ---- request ids, time, /metrics -------------------------------------------------------- */

/* A per-thread xorshift128+ generator seeded from getrandom: ids are unique
 * in practice and cost no syscall or lock per request. */
static void new_request_id(char out[33])
{
    static __thread uint64_t s[2];
    static const char hex[] = "0123456789abcdef";
    if (!s[0] && !s[1]) {
        if (getrandom(s, sizeof(s), 0) != (ssize_t)sizeof(s)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            s[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)pthread_self();
            s[1] = (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 32);
        }
        s[1] |= 1;
    }
    for (int half = 0; half < 2; half++) {
        uint64_t x = s[0], y = s[1];
        s[0] = y;
        x ^= x << 23;
        s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
        uint64_t v = s[1] + y;
        for (int i = 0; i < 16; i++)
            out[half * 16 + i] = hex[(v >> (60 - 4 * i)) & 15];
    }
    out[32] = '\0';
}

/* The length of an incoming X-Request-Id to keep (its trailing spaces and
 * tabs are not part of it, RFC 9110 5.5), or 0: it is kept when
 * rp_request_id_valid (it goes into log lines and metadata as it is). */
static size_t valid_request_id(const char *id)
{
    size_t len = gw_headers_value_len(id);
    return rp_request_id_valid(id, len) ? len : 0;
}

/* GET /metrics: the exposition, rendered now. */
static enum MHD_Result send_metrics(gw_request *req)
{
    rp_text text = {0};
    gw_metrics_render(req->http->metrics, &text);
    gw_buf body = GW_BUF_INIT;
    if (!text.oom)
        gw_buf_append(&body, text.s, text.len);
    rp_text_free(&text);
    if (body.oom || !body.len) {
        gw_buf_free(&body);
        return gw_http_send_error(req, 500, GRPC_STATUS_INTERNAL, GW_ERR_OOM);
    }
    return send_body(req, 200, &body, RP_METRICS_CONTENT_TYPE);
}

/* ---- the access handler --------------------------------------------------------------- */

/* libmicrohttpd's record of each header, cookie and query argument, in the
 * connection's pool next to the bytes (an estimate on the safe side) */
#define POOL_ENTRY_BYTES 64

/* What a request's head takes: pool bytes, and its header fields. */
typedef struct head_size {
    size_t bytes;
    size_t n_headers;
} head_size;

static enum MHD_Result count_head_entry(void *cls, enum MHD_ValueKind kind, const char *key,
                                        size_t key_size, const char *value, size_t value_size)
{
    (void)key, (void)value;
    head_size *hs = cls;
    hs->bytes += key_size + 2 + value_size + 2 + POOL_ENTRY_BYTES;
    hs->n_headers += kind == MHD_HEADER_KIND;
    return MHD_YES;
}

/* What the request line, headers, cookies and query take of the pool. */
static head_size request_head_size(struct MHD_Connection *conn, const char *method,
                                   const char *url)
{
    head_size hs = {strlen(method) + 1 + strlen(url) + sizeof(" HTTP/1.1\r\n"), 0};
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND | MHD_COOKIE_KIND | MHD_GET_ARGUMENT_KIND,
                                count_head_entry, &hs);
    return hs;
}

typedef struct framing_headers {
    int n_length, lengths_differ, n_coding, n_host;
    const char *length, *coding, *host;
    const char *bad; /* the first field that breaks RFC 9110's syntax, and how */
} framing_headers;

/* What is wrong with one header field as libmicrohttpd parsed it, or NULL.
 * Its parser keeps what RFC 9110 forbids: a space before the colon stays
 * in the name ("Content-Length " is not Content-Length to anyone who
 * compares names), a lone CR stays in the value.  (A NUL ends the value
 * before anyone here can see it: SECURITY.md.) */
static const char *field_syntax_error(const char *key, size_t key_size, const char *value,
                                      size_t value_size)
{
    if (!gw_headers_token_ok(key, key_size))
        return "a header field name that is empty or has a character HTTP does not allow (a "
               "space before the colon, a control character)";
    if (!gw_headers_value_ok(value, value_size))
        return "a header field value with a control character (CR, DEL)";
    return NULL;
}

/* A Host value RFC 3986 allows: a reg-name or IPv4 address, or an IPv6
 * literal in brackets, and an optional port; the blanks around it are not
 * part of it (libmicrohttpd keeps those at the end). */
static int valid_host(const char *host)
{
    host += strspn(host, " \t");
    size_t len = gw_headers_value_len(host);
    for (size_t i = 0; i < len; i++) { /* an empty one is allowed (no authority) */
        unsigned char ch = (unsigned char)host[i];
        if (!isalnum(ch) && !strchr("-._~%!$&'()*+,;=:[]", ch))
            return 0;
    }
    return 1;
}

static enum MHD_Result collect_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                       size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    framing_headers *f = cls;
    if (!value)
        value = "";
    if (!f->bad)
        f->bad = field_syntax_error(key, key_size, value, value_size);
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        f->lengths_differ |= f->n_length++ > 0 && strcmp(value, f->length) != 0;
        f->length = value;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->n_coding++;
        f->coding = value;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) {
        f->n_host++;
        f->host = value;
    }
    return MHD_YES;
}

/* 1 if s has a byte no request target may carry as it is (RFC 9112 3.2,
 * RFC 3986: a control character, DEL, and with `space` a space); a
 * percent-escape of one is the path's or the query's business. */
static int has_raw_control(const char *s, int space)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || (space && *s == ' '))
            return 1;
    return 0;
}

/* libmicrohttpd has made each '+' of the query a space already: a raw
 * space there cannot be told from one. */
static enum MHD_Result check_query_text(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    (void)kind;
    int *bad = cls;
    *bad = has_raw_control(key, 0) || (value && has_raw_control(value, 0));
    return *bad ? MHD_NO : MHD_YES;
}

/* What is wrong with the request line as libmicrohttpd split it, or NULL:
 * a method that is not a token (RFC 9110 9.1), a target with a raw space
 * in its path or a control character (libmicrohttpd takes the last space
 * as the end of the target and keeps the rest). */
static const char *request_line_error(struct MHD_Connection *conn, const char *method,
                                      const char *url)
{
    if (!gw_headers_token_ok(method, strlen(method)))
        return "a method that is not an HTTP token";
    int bad = has_raw_control(url, 1);
    if (!bad)
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, check_query_text, &bad);
    return bad ? "a request target with a space or a control character" : NULL;
}

/* What makes the request's body impossible to delimit safely (RFC 9112
 * 6.1, 6.3), as an HTTP status (*why says it), or 0: a Transfer-Encoding
 * other than chunked (501: libmicrohttpd would read to the end of the
 * connection), Transfer-Encoding with Content-Length or two different
 * Content-Lengths (400: a proxy in front may have framed it otherwise,
 * which is how requests are smuggled), Transfer-Encoding in an HTTP/1.0
 * request, a header field RFC 9110 does not allow, or HTTP/1.1 without
 * exactly one valid Host (400: RFC 9112 3.2). */
static int framing_status(struct MHD_Connection *conn, const char *version, const char **why)
{
    framing_headers f = {0};
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, collect_framing, &f);
    if (f.bad) {
        *why = f.bad;
        return 400;
    }
    if (f.coding && version && strcmp(version, MHD_HTTP_VERSION_1_0) == 0) {
        *why = "Transfer-Encoding in an HTTP/1.0 request";
        return 400;
    }
    if (f.n_coding > 1 || (f.coding && strcasecmp(f.coding, "chunked") != 0)) {
        *why = "a Transfer-Encoding other than chunked is not supported";
        return 501;
    }
    if (f.coding && f.n_length) {
        *why = "Transfer-Encoding and Content-Length together";
        return 400;
    }
    if (f.lengths_differ) {
        *why = "Content-Length given twice with different values";
        return 400;
    }
    /* libmicrohttpd takes HTTP/1.2 and on as 1.1 */
    if (!f.host && version && strcmp(version, MHD_HTTP_VERSION_1_0) != 0) {
        *why = "an HTTP/1.1 request without Host";
        return 400;
    }
    if (f.n_host > 1) {
        *why = "Host given more than once";
        return 400;
    }
    if (f.host && !valid_host(f.host)) {
        *why = "a Host that is not a host name or address and port";
        return 400;
    }
    return 0;
}

/* The length of "http://" or "https://" at the start of an absolute-form
 * request target, or 0 for an origin-form one. */
static size_t absolute_form_prefix(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0    ? 7
           : strncasecmp(url, "https://", 8) == 0 ? 8
                                                  : 0;
}

/* The path of an absolute-form request target ("http://host/v1/x" ->
 * "/v1/x"), which a server must accept (RFC 9112 3.2.2); url itself
 * otherwise. */
static const char *origin_form(const char *url)
{
    size_t scheme = absolute_form_prefix(url);
    if (!scheme)
        return url;
    const char *path = strchr(url + scheme, '/');
    return path ? path : "/";
}

/* The host (and port) of an absolute-form request target, which stands
 * for the Host header (RFC 9112 3.2.2: a server ignores Host then), in
 * req's arena; NULL for an origin-form target (or out of arena).  Any
 * user information before '@' is not part of it. */
static const char *target_authority(gw_request *req, const char *url)
{
    size_t scheme = absolute_form_prefix(url);
    if (!scheme)
        return NULL;
    const char *start = url + scheme;
    size_t len = strcspn(start, "/?#");
    const char *at = memchr(start, '@', len);
    if (at) {
        len -= (size_t)(at + 1 - start);
        start = at + 1;
    }
    char *copy = gw_arena_alloc(&req->arena, len + 1);
    if (copy) {
        memcpy(copy, start, len);
        copy[len] = '\0';
    }
    return copy;
}

/* The Allow header of a 405 for url, in req's arena (NULL if out of it). */
static const char *allowed_methods(gw_request *req, const char *url)
{
    char allow[128];
    gw_router_allowed(&req->gen->router, url, allow, sizeof(allow));
    char *copy = gw_arena_alloc(&req->arena, strlen(allow) + 1);
    if (copy)
        memcpy(copy, allow, strlen(allow) + 1);
    return copy;
}

size_t gw_http_own_paths(int metrics, int docs, const char *out[GW_ROUTER_MAX_OWN_PATHS])
{
    size_t n = 0;
    out[n++] = GW_HEALTH_PATH;
    if (metrics)
        out[n++] = METRICS_PATH;
    if (docs)
        n += gw_http_console_paths(out + n);
    return n;
}

static int get_or_head(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* The Access-Control-Allow-Origin of every answer to req (gw_cors), or
 * NULL: none, from its Origin header. */
static const char *cors_origin_of(const gw_request *req, struct MHD_Connection *conn)
{
    const gw_cors *cors = &req->http->cfg.cors;
    if (!gw_cors_enabled(cors))
        return NULL;
    return gw_cors_allow_origin(cors, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                                  "Origin"));
}

/* 1 if req is a CORS preflight from an origin that may call: OPTIONS with
 * Access-Control-Request-Method. */
static int is_preflight(const gw_request *req, struct MHD_Connection *conn, const char *method)
{
    return req->cors_origin && strcmp(method, "OPTIONS") == 0 &&
           MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Access-Control-Request-Method");
}

/* req's answer when url is one of the gateway's own paths (/metrics,
 * /healthz): 1 with req set for it, or 0 for a path of the API. */
static int classify_own_path(gw_request *req, const char *url, const char *method, int preflight)
{
    int metrics = req->http->metrics && strcmp(url, METRICS_PATH) == 0;
    if (!metrics && strcmp(url, GW_HEALTH_PATH) != 0)
        return 0;
    req->is_metrics = metrics;
    req->early_status = preflight ? 204 : get_or_head(method) ? 0 : 405;
    req->allow = "GET, HEAD";
    req->health_service = NULL;
    req->route = NULL;
    return 1;
}

/* 1 if the Content-Type value ct is an HTML form's (parameters aside). */
static int is_form(const char *ct)
{
    static const char form[] = "application/x-www-form-urlencoded";
    size_t n = sizeof(form) - 1;
    return ct && strncasecmp(ct, form, n) == 0 && (!ct[n] || ct[n] == ';' || ct[n] == ' ');
}

/* grpc-gateway's path-length fallback: a POST of an HTML form to a path the
 * API serves with other methods but not POST is the call of the method
 * X-HTTP-Method-Override names, or GET's, the form's fields its query
 * parameters after the URL's (a query too long for a URL goes in the
 * body).  Only a route that binds no body is taken.  1 with req->route
 * and req->form_query set, or 0. */
static int form_fallback(gw_request *req, const char *method, const char *url)
{
    struct MHD_Connection *conn = req->conn;
    if (strcmp(method, "POST") != 0 ||
        !is_form(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                             MHD_HTTP_HEADER_CONTENT_TYPE)))
        return 0;
    const char *override =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-HTTP-Method-Override");
    char as[16] = "GET";
    if (override && *override) {
        size_t n = strlen(override);
        if (n >= sizeof(as))
            return 0;
        for (size_t i = 0; i <= n; i++)
            as[i] = (char)toupper((unsigned char)override[i]);
    }
    const gw_route *route;
    if (gw_router_match(&req->gen->router, as, url, &route, req->spans) != GW_ROUTE_FOUND ||
        (route->binding->body && route->binding->body[0]))
        return 0;
    req->route = route;
    req->form_query = 1;
    return 1;
}

/* The route of the API that serves (method, url) in req->gen: req->route,
 * or the answer known already (404; 405 with Allow; 503 while the API is
 * incomplete; a CORS preflight's 204).  A gRPC-Web call is routed by its
 * gRPC path. */
static void route_request(gw_request *req, const char *url, const char *method, int preflight)
{
    const gw_router *router = &req->gen->router;
    if (gw_request_is_web(req)) {
        if (!(req->route = gw_router_match_web(router, url)))
            req->early_status = req->gen->incomplete ? 503 : 404;
        return;
    }
    switch (gw_router_match(router, method, url, &req->route, req->spans)) {
    case GW_ROUTE_FOUND: break;
    case GW_ROUTE_NOT_FOUND: req->early_status = req->gen->incomplete ? 503 : 404; break;
    case GW_ROUTE_BAD_METHOD:
        if (!preflight && form_fallback(req, method, url))
            break;
        req->early_status = 405;
        req->allow = allowed_methods(req, url);
        break;
    }
    if (!preflight)
        return;
    if (req->early_status != 404 && req->early_status != 503) {
        req->early_status = 204; /* before any OPTIONS route the API binds, as Envoy does */
        req->allow = allowed_methods(req, url);
    } else if (req->http->cfg.grpc_web && gw_router_match_web(router, url)) {
        req->early_status = 204; /* a gRPC-Web method's path */
        req->allow = "POST";
    }
}

/* Folds one more Content-Encoding line into the gw_coding at cls: several
 * lines are one list (RFC 9110 5.3), so gzip on two lines is gzip twice. */
static enum MHD_Result fold_coding(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    gw_coding *coding = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_ENCODING) != 0)
        return MHD_YES;
    gw_coding line = gw_gunzip_coding(value);
    if (line == GW_CODING_OTHER || (line == GW_CODING_GZIP && *coding != GW_CODING_NONE))
        *coding = GW_CODING_OTHER;
    else if (line == GW_CODING_GZIP)
        *coding = GW_CODING_GZIP;
    return MHD_YES;
}

/* What the headers say of req's body: whether the client takes trailers,
 * its decoder if it comes gzip-compressed, and the early answer for a body
 * the gateway does not take (415: a Content-Encoding other than gzip; 413:
 * more than max_body_bytes). */
static void classify_body(gw_request *req, struct MHD_Connection *conn, const char *version)
{
    gw_http *h = req->http;
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TE);
    /* trailers need a chunked response, which HTTP/1.0 has not */
    req->wants_trailers = te && strcasestr(te, "trailers") != NULL && version &&
                          strcmp(version, MHD_HTTP_VERSION_1_0) != 0;
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
    /* a body in a coding the gateway does not decode would be read as
     * malformed JSON, or its bytes as JSON: RFC 9110 15.5.16 */
    int has_body = declared > 0 || MHD_lookup_connection_value(
                                       conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    gw_coding coding = GW_CODING_NONE;
    if (has_body)
        MHD_get_connection_values(conn, MHD_HEADER_KIND, fold_coding, &coding);
    req->coding = coding;
    if (!req->early_status && req->coding == GW_CODING_OTHER)
        req->early_status = 415;
    if (!req->early_status && req->coding == GW_CODING_GZIP &&
        !(req->gunzip = gw_gunzip_new()))
        req->body.oom = 1; /* answered 500 once the body is in */
    if (!req->early_status && declared > h->cfg.max_body_bytes)
        req->early_status = 413;
    else if (!req->early_status && declared) /* read into one buffer, not a doubling chain */
        gw_buf_reserve(&req->body, declared < BODY_PRESIZE_MAX ? declared : BODY_PRESIZE_MAX);
}

/* The request line and framing: a request that cannot be read safely (its
 * target, its body's length) is answered at once and its connection
 * closed, whatever else is wrong with it.  1 with req->early_status set
 * (400, 431, 501, or OPTIONS *'s 200), or 0. */
static int classify_framing(gw_request *req, struct MHD_Connection *conn, const char *url,
                            const char *method, const char *version, const head_size *head)
{
    if ((req->framing = request_line_error(conn, method, url))) {
        req->early_status = 400;
        return 1;
    }
    if (req->authority && !valid_host(req->authority)) {
        req->framing = "a request target whose host is not a host name or address and port";
        req->early_status = 400;
        return 1;
    }
    if ((req->early_status = framing_status(conn, version, &req->framing)))
        return 1;
    if (head->n_headers > MAX_HEADERS || head->bytes > REQUEST_HEAD_MAX) {
        req->early_status = 431; /* rather than forward some and drop the rest */
        return 1;
    }
    if (strcmp(url, "*") == 0) { /* asterisk-form: the server as a whole (RFC 9112 3.2.4) */
        if (strcmp(method, "OPTIONS") == 0) {
            req->early_status = 200;
        } else {
            req->framing = "a request target of * (for OPTIONS only)";
            req->early_status = 400;
        }
        return 1;
    }
    return 0;
}

/* What req is, before its body: a route of the API (req->route; a
 * gRPC-Web call when req->web says so), /metrics, /healthz or the console,
 * or an answer known already (early_status: a framing or header error,
 * 404, 405, 413, 415, 503, OPTIONS *'s 200, or a CORS preflight's 204). */
static void classify_request(gw_request *req, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version)
{
    gw_http *h = req->http;
    head_size head = request_head_size(conn, method, url);
    req->head_bytes = head.bytes;
    req->cors_origin = cors_origin_of(req, conn); /* every answer, refusals too */
    if (classify_framing(req, conn, url, method, version, &head))
        return; /* HTTP's errors, gRPC-Web or not */
    if (h->cfg.grpc_web && strcmp(method, "POST") == 0) /* from here its errors are gRPC-Web's */
        req->web = gw_grpcweb_mode(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                               MHD_HTTP_HEADER_CONTENT_TYPE));
    if (req->web == GW_WEB_OTHER) {
        req->early_status = 415;
        return;
    }
    int preflight = is_preflight(req, conn, method);
    if (!gw_request_is_web(req) && classify_own_path(req, url, method, preflight))
        return;
    pthread_mutex_lock(&h->gen_lock);
    req->gen = gw_gen_ref(h->gen);
    pthread_mutex_unlock(&h->gen_lock);
    if (!gw_request_is_web(req) && h->cfg.docs && gw_http_console_owns(url)) {
        req->console = 1; /* before the API's own routes */
        req->early_status = preflight ? 204 : get_or_head(method) ? 0 : 405;
        req->allow = "GET, HEAD";
        return;
    }
    if (!req->gen) {
        req->early_status = 503;
        return;
    }
    route_request(req, url, method, preflight);
    classify_body(req, conn, version);
}

static gw_request *new_request(gw_http_thread *t, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version)
{
    gw_http *h = t->http;
    gw_request *req = malloc(sizeof(*req));
    if (!req)
        return NULL;
    memset(req, 0, offsetof(gw_request, arena_first));
    gw_arena_init(&req->arena, req->arena_first, sizeof(req->arena_first));
    req->http = h;
    req->conn = conn;
    req->thread = t;
    req->authority = target_authority(req, url);
    url = origin_form(url);
    req->path = url;
    req->grpc_code = -1;
    req->start_us = (uint64_t)rp_monotonic_us();
    if (h->access)
        clock_gettime(CLOCK_REALTIME, &req->start_real);
    size_t verb_len = strnlen(method, sizeof(req->verb));
    if (verb_len == sizeof(req->verb)) /* cut, and says so, as the access log cuts paths */
        snprintf(req->verb, sizeof(req->verb), "%.*s...", (int)sizeof(req->verb) - 4, method);
    else
        memcpy(req->verb, method, verb_len + 1);
    /* X-Request-Id, else the same as grpc-gateway clients send metadata */
    const char *id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, GW_REQUEST_ID_HEADER);
    size_t id_len = id ? valid_request_id(id) : 0;
    if (!id_len) {
        id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                         "Grpc-Metadata-" GW_REQUEST_ID_HEADER);
        id_len = id ? valid_request_id(id) : 0;
    }
    if (id_len) {
        memcpy(req->request_id, id, id_len);
        req->request_id[id_len] = '\0';
    } else
        new_request_id(req->request_id);
    atomic_init(&req->state, REQ_READING);
    atomic_fetch_add(&h->in_flight, 1);
    gw_metrics_in_flight(h->metrics, 1);
    classify_request(req, conn, url, method, version);
    return req;
}

/* A CORS preflight from an origin that may call: 204, and what the path
 * takes (req->allow). */
static enum MHD_Result send_preflight(gw_request *req)
{
    gw_buf none = GW_BUF_INIT;
    struct MHD_Response *resp = make_response(req, &none, 0);
    if (!resp)
        return MHD_NO;
    const char *requested = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                        "Access-Control-Request-Headers");
    gw_cors_add_preflight(&req->http->cfg.cors, resp, req->allow ? req->allow : "", requested);
    return gw_http_queue(req, resp, MHD_HTTP_NO_CONTENT, NULL, 0);
}

/* OPTIONS *: 200 with no body, Allow naming the methods the gateway
 * serves some resource with (RFC 9110 9.3.7). */
static enum MHD_Result send_server_options(gw_request *req)
{
    gw_buf none = GW_BUF_INIT;
    struct MHD_Response *resp = make_response(req, &none, 0);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD, POST, PUT, PATCH, DELETE");
    return gw_http_queue(req, resp, MHD_HTTP_OK, NULL, 0);
}

static enum MHD_Result send_early_error(gw_request *req, const char *method, const char *url)
{
    char msg[300];
    switch (req->early_status) {
    case 200:
        return send_server_options(req);
    case 204:
        return send_preflight(req);
    case 404:
        if (gw_request_is_web(req)) { /* what a gRPC server answers */
            snprintf(msg, sizeof(msg), "unknown method %.200s", url);
            return gw_http_send_error(req, 404, GRPC_STATUS_UNIMPLEMENTED, msg);
        }
        snprintf(msg, sizeof(msg), "no route for %s %.200s", method, url);
        return gw_http_send_error(req, 404, GRPC_STATUS_NOT_FOUND, msg);
    case 405:
        snprintf(msg, sizeof(msg), "method %s is not allowed for %.200s", method, url);
        return gw_http_send_error(req, 405, GRPC_STATUS_UNIMPLEMENTED, msg);
    case 503:
        return gw_http_send_error(req, 503, GRPC_STATUS_UNAVAILABLE,
                                  "the gateway has not loaded the upstream's API yet");
    case 400:
        if (req->body_error) {
            snprintf(msg, sizeof(msg), "malformed request body: gzip: %s", req->body_error);
            return gw_http_send_error(req, 400, GRPC_STATUS_INVALID_ARGUMENT, msg);
        }
        /* fall through */
    case 501:
        snprintf(msg, sizeof(msg), "malformed request: %s", req->framing);
        return gw_http_send_error(req, req->early_status, req->early_status == 400
                                                              ? GRPC_STATUS_INVALID_ARGUMENT
                                                              : GRPC_STATUS_UNIMPLEMENTED,
                                  msg);
    case 415:
        if (req->web == GW_WEB_OTHER)
            return gw_http_send_error(req, 415, GRPC_STATUS_INVALID_ARGUMENT,
                                      "the gateway passes only protobuf messages through "
                                      "gRPC-Web (application/grpc-web, application/grpc-web+proto, "
                                      "application/grpc-web-text, application/grpc-web-text+proto)");
        return gw_http_send_error(req, 415, GRPC_STATUS_INVALID_ARGUMENT,
                                  "the gateway decodes request bodies sent with Content-Encoding "
                                  "gzip (or x-gzip, or identity) and no other");
    case 431:
        if (req->head_bytes > REQUEST_HEAD_MAX)
            snprintf(msg, sizeof(msg),
                     "the request line, headers and query take %zu bytes of the gateway's "
                     "memory for the request; at most %zu", req->head_bytes, REQUEST_HEAD_MAX);
        else
            snprintf(msg, sizeof(msg), "more than %d request header fields", MAX_HEADERS);
        return gw_http_send_error(req, 431, GRPC_STATUS_RESOURCE_EXHAUSTED, msg);
    default:
        snprintf(msg, sizeof(msg), "request body is larger than %zu bytes%s",
                 req->http->cfg.max_body_bytes,
                 req->coding == GW_CODING_GZIP ? ", compressed or once inflated" : "");
        return gw_http_send_error(req, 413, GRPC_STATUS_RESOURCE_EXHAUSTED, msg);
    }
}

/* How much of a refused request's body the gateway reads and drops. */
static size_t drop_budget(const gw_http *h)
{
    return h->cfg.max_body_bytes + DROP_MORE;
}

/* 1 if a request refused before its body (early_status) is answered at
 * once, without reading the body: the body cannot be delimited (400, 501),
 * the client waits for the answer (Expect: 100-continue), or the body it
 * announces is more than the gateway drops.  Otherwise the body is read
 * and dropped first (up to drop_budget): answering while the client still
 * sends closes the connection on it, and it may see a reset instead of the
 * answer. */
static int answers_at_once(const gw_request *req)
{
    if (!req->early_status)
        return 0;
    if (req->early_status == 400 || req->early_status == 501)
        return 1;
    const char *expect = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_EXPECT);
    if (expect && strcasecmp(expect, "100-continue") == 0)
        return 1;
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl && strtoull(cl, NULL, 10) > drop_budget(req->http);
}

/* Adds a piece of req's body, inflated if it comes gzip-compressed; sets
 * req->early_status past max_body_bytes (413: compressed or inflated) or
 * for gzip data that is not (400). */
static void take_body_piece(gw_request *req, const char *data, size_t n)
{
    size_t max = req->http->cfg.max_body_bytes;
    if (!req->gunzip) {
        if (req->body.len + n > max)
            req->early_status = 413;
        else
            gw_buf_append(&req->body, data, n);
        return;
    }
    int oom = 0;
    switch (gw_gunzip_piece(req->gunzip, data, n, &req->body, max)) {
    case GW_GUNZIP_OK:
        return;
    case GW_GUNZIP_TOO_LARGE:
        req->early_status = 413;
        break;
    case GW_GUNZIP_MALFORMED:
        req->early_status = 400;
        req->body_error = gw_gunzip_error(req->gunzip); /* static text */
        break;
    case GW_GUNZIP_NOMEM:
        oom = 1; /* answered 500 once the body is in */
        break;
    }
    gw_buf_free(&req->body); /* what was inflated goes unused */
    req->body.oom = oom; /* and later pieces are dropped: gw_buf_append skips */
    gw_gunzip_free(req->gunzip);
    req->gunzip = NULL;
}

/* The body is complete: its decoder, if any, says whether the gzip data
 * ended whole (400 if not), and goes. */
static void end_gunzip(gw_request *req)
{
    if (!req->gunzip)
        return;
    if (!req->early_status && gw_gunzip_end(req->gunzip) != GW_GUNZIP_OK) {
        req->early_status = 400;
        req->body_error = gw_gunzip_error(req->gunzip);
    }
    gw_gunzip_free(req->gunzip);
    req->gunzip = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    gw_http_thread *t = cls; /* the thread whose daemon took conn */
    gw_http *h = t->http;
    gw_request *req = *con_cls;
    gw_loop_progress(t->loop);
    if (!req) { /* 1: headers are in */
        gw_conns_header_done(conn);
        req = new_request(t, conn, url, method, version);
        if (!req)
            return send_out_of_memory(h, NULL, conn);
        *con_cls = req;
        return answers_at_once(req) ? send_early_error(req, method, url) : MHD_YES;
    }
    if (*upload_data_size) { /* 2: a piece of the body */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        req->bytes_in += n;
        gw_conns_body_read(conn, n);
        if (req->http_status) /* answered already: MHD closes after the answer */
            return MHD_YES;
        if (!req->early_status)
            take_body_piece(req, upload_data, n);
        if (!req->early_status)
            return MHD_YES;
        req->dropped += n;
        return req->dropped > drop_budget(h) ? send_early_error(req, method, url) : MHD_YES;
    }
    switch (atomic_load(&req->state)) {
    case REQ_READING: /* 3: the body is complete */
        gw_conns_body_done(conn);
        end_gunzip(req);
        if (req->early_status)
            return send_early_error(req, method, url);
        if (req->body.oom)
            return gw_http_send_error(req, 500, GRPC_STATUS_INTERNAL, GW_ERR_OOM);
        if (req->console)
            return gw_http_console_respond(req);
        if (req->is_metrics)
            return send_metrics(req);
        if (!req->route)
            return start_health_check(req);
        return gw_request_is_web(req) ? gw_http_web_start(req) : start_call(req);
    case REQ_DONE: /* 4: resumed with the result (or a stream's first event) */
        if (!req->stream) /* a stream's is watched until it completes */
            gw_loop_watch_stop(req->thread->loop, &req->hangup);
        return req->stream ? gw_http_stream_respond(req) : gw_http_send_result(req);
    default:
        return MHD_YES;
    }
}

/* The request's access log line and metrics.  A request that ends
 * without a response (the client went away) is logged as 499, CANCELLED. */
static void account(gw_http *h, gw_request *req, enum MHD_RequestTerminationCode toe)
{
    if (!h->metrics && !h->access)
        return;
    if (!req->http_status) {
        req->http_status = 499;
        req->grpc_code = GRPC_STATUS_CANCELLED;
    } else if (req->grpc_code < 0 && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        req->grpc_code = GRPC_STATUS_CANCELLED;
    }
    /* an answer to a client that had left, or that did not go out in full:
     * libmicrohttpd does not say how much reached the socket, so none is
     * counted; a stream counts the chunks it wrote */
    if (!req->stream && (req->client_left || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK))
        req->bytes_out = 0;
    if (strcmp(req->verb, "HEAD") == 0) /* libmicrohttpd sends the headers alone */
        req->bytes_out = 0;
    uint64_t duration = (uint64_t)rp_monotonic_us() - req->start_us;
    const gw_method *m = req->route ? req->route->method : NULL;
    if (h->metrics && !req->is_metrics) {
        gw_method_stats *st = m                     ? m->stats
                              : req->health_service ? h->health_stats
                              : req->console        ? h->console_stats
                                                    : h->no_method_stats;
        gw_metrics_request(st, req->http_status, req->grpc_code, duration);
    }
    if (h->access) {
        gw_access_entry e = {
            .start = req->start_real,
            .client = peer_address(req),
            .method = req->verb,
            .path = req->path,
            .grpc_method = m ? m->path : req->health_service ? GW_HEALTH_METHOD : NULL,
            .status = req->http_status,
            .grpc_code = req->grpc_code,
            .bytes_in = req->bytes_in,
            .bytes_out = req->bytes_out,
            .duration_us = duration,
            .request_id = req->request_id,
        };
        gw_access_log(h->access, &e);
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    gw_http *h = cls;
    gw_request *req = *con_cls;
    gw_conns_request_done(conn); /* the next request's header deadline starts */
    if (!req)
        return;
    gw_loop_progress(req->thread->loop);
    gw_loop_watch_stop(req->thread->loop, &req->hangup);
    account(h, req, toe);
    if (req->stream)
        gw_http_stream_free(req);
    gw_upstream_result_free(req->result);
    gw_buf_free(&req->body);
    gw_gunzip_free(req->gunzip);
    free(req->health_service);
    gw_gen_unref(req->gen);
    gw_arena_release(&req->arena);
    free(req);
    *con_cls = NULL;
    gw_metrics_in_flight(h->metrics, -1);
    atomic_fetch_sub(&h->in_flight, 1);
}

/* Connections opened and closed: counted, and given a header deadline
 * (gw_conns.c); a closed one leaves its thread's share (gw_accept.c). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    gw_http_thread *t = cls;
    gw_http *h = t->http;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        gw_conns_opened(h->conns, conn, socket_context, t->loop);
        gw_accept_opened(h->accept, t->index);
    } else {
        gw_conns_closed(h->conns, socket_context);
        gw_accept_closed(h->accept, t->index);
    }
}

/* [gateway] max_connections: a connection beyond it is closed as soon as it
 * is accepted (the client sees it closed at once, rather than waiting in the
 * listen queue for a slot), and the process goes on serving the others. */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addr;
    (void)addrlen;
    gw_http *h = cls;
    return gw_conns_admit(h->conns);
}

/* Keeps the path and query escaped: decoding depends on where a value goes
 * (path variables and query parameters have different rules). */
static size_t keep_escaped(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

/* ---- start / stop ------------------------------------------------------------------------ */

void gw_http_publish(gw_http *h, gw_gen *gen)
{
    if (h->metrics && gen) { /* before any request can see gen; held until it is freed */
        size_t n;
        const gw_method *methods = gw_schema_methods(gen->schema, &n);
        for (size_t i = 0; i < n; i++)
            ((gw_method *)methods)[i].stats = gw_metrics_method(h->metrics, methods[i].path);
        gw_metrics_api_loaded(h->metrics, !gen->incomplete); /* reflection failed */
        gw_metrics_routes(h->metrics, gen->router.n_routes);
    }
    pthread_mutex_lock(&h->gen_lock);
    gw_gen *old = h->gen;
    h->gen = gen;
    pthread_mutex_unlock(&h->gen_lock);
    gw_gen_unref(old);
}

void gw_http_api_failed(gw_http *h)
{
    gw_metrics_api_loaded(h->metrics, 0);
}

/* TLS 1.2 and 1.3 only, forward secrecy only, no SHA-1 MAC: what Go's and
 * Envoy's servers allow by default. */
#define HTTPS_PRIORITIES "NORMAL:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1:-RSA:-SHA1"

/* libmicrohttpd's error lines, through the gateway's log; a client that
 * closed its connection while an answer was being written (a stream it
 * stopped following, most often) is the access log's 499, not an error. */
static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    /* a client that left (mid-request, mid-answer, mid-stream): the access
     * log and the metrics have it as 499 or CANCELLED, with its request id */
    if (strstr(line, "forcibly closed by remote peer") ||
        strstr(line, "no longer available for sending") ||
        strstr(line, "closed by remote side with incomplete request") ||
        strstr(line, "detected connection closure"))
        return;
    gw_http *h = cls;
    if (h->starting_daemon) {
        size_t used = strlen(h->start_lines);
        snprintf(h->start_lines + used, sizeof(h->start_lines) - used, "%s%s",
                 used ? "; " : "", line);
        return;
    }
    rp_log_limited(&h->mhd_lines, "libmicrohttpd: %s", line);
}

/* One HTTP thread's daemon, in external-epoll mode for its gw_loop, with
 * no listening socket: gw_accept gives it its connections. */
static struct MHD_Daemon *start_daemon(gw_http *h, gw_http_thread *t)
{
    const gw_http_config *cfg = &h->cfg;
    /* HTTPS: the key and certificate are handed over in memory (read before
     * the process gave up root); MHD sets up GnuTLS with them at start */
    struct MHD_OptionItem tls_opts[] = {
        {cfg->cert ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, (void *)cfg->key},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cfg->cert},
        /* libmicrohttpd's default is GnuTLS's NORMAL: TLS 1.0 and 1.1, RSA key
         * exchange (no forward secrecy) and SHA-1 MACs too */
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)HTTPS_PRIORITIES},
        {MHD_OPTION_END, 0, NULL},
    };
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     MHD_USE_NO_LISTEN_SOCKET | (cfg->cert ? MHD_USE_TLS : 0);
    return MHD_start_daemon(
        flags, 0, accept_policy, h, on_request, t, /* the logger first: libmicrohttpd asks it */
        MHD_OPTION_EXTERNAL_LOGGER, log_mhd, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout_s, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, t, MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections + CONNECTION_SLACK,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, MHD_OPTION_UNESCAPE_CALLBACK,
        keep_escaped, NULL, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
}

/* start_daemon, with libmicrohttpd's lines meanwhile: logged if it
 * starts, the reason in err[errlen] if not (NULL then). */
static struct MHD_Daemon *start_daemon_saying_why(gw_http *h, gw_http_thread *t, char *err,
                                                  size_t errlen)
{
    h->start_lines[0] = '\0';
    h->starting_daemon = 1;
    struct MHD_Daemon *mhd = start_daemon(h, t);
    h->starting_daemon = 0;
    if (!mhd)
        snprintf(err, errlen, "listen %s: cannot start the HTTP server: libmicrohttpd: %s",
                 h->cfg.listen, h->start_lines[0] ? h->start_lines : "no reason given");
    else if (h->start_lines[0])
        rp_log_limited(&h->mhd_lines, "libmicrohttpd: %s", h->start_lines);
    return mhd;
}

/* No loop accepts any more (once each has woken); returns the listening
 * socket, to close once the loops have stopped (closed earlier, it could
 * stay in their epoll sets: rpcrestd holds the same socket). */
static int stop_accepting(gw_http *h)
{
    gw_accept_stop(h->accept);
    int listener = h->listen_fd;
    h->listen_fd = -1;
    return listener;
}

static void close_listener(int listener)
{
    if (listener >= 0)
        close(listener);
}

/* Ends the loops (all of them before freeing any: a running loop may hand
 * a connection to another's inbox and wake it), then stops their daemons. */
static void stop_threads(gw_http *h)
{
    for (int i = 0; i < h->n_threads; i++)
        gw_loop_stop(h->threads[i].loop);
    if (h->conns) /* its thread reads the loops' round counts */
        gw_conns_forget_loops(h->conns);
    for (int i = 0; i < h->n_threads; i++) {
        gw_loop_free(h->threads[i].loop);
        h->threads[i].loop = NULL;
        gw_h2_free(h->threads[i].h2);
        h->threads[i].h2 = NULL;
    }
    for (int i = 0; i < h->n_threads; i++) {
        if (h->threads[i].mhd)
            MHD_stop_daemon(h->threads[i].mhd);
        h->threads[i].mhd = NULL;
    }
}

static void free_http(gw_http *h)
{
    gw_gen_unref(h->gen);
    gw_accept_free(h->accept);
    if (h->oom_response)
        MHD_destroy_response(h->oom_response);
    gw_conns_free(h->conns);
    pthread_mutex_destroy(&h->gen_lock);
    pthread_mutex_destroy(&h->mhd_lines.lock);
    free(h->threads);
    free(h);
}

static unsigned current_connections(gw_http *h)
{
    unsigned n = 0;
    for (int i = 0; i < h->n_threads; i++) {
        const union MHD_DaemonInfo *di =
            MHD_get_daemon_info(h->threads[i].mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        n += di ? di->num_connections : 0;
    }
    return n;
}

/* Undoes a start that failed after new_http, at any step: the listening
 * socket is closed only if it was bound here (the caller's otherwise). */
static void fail_start(gw_http *h)
{
    int listener = stop_accepting(h);
    stop_threads(h);
    if (listener != h->cfg.listen_fd)
        close_listener(listener);
    free_http(h);
}

/* A loop's stall check (gw_loop_set_stall_check): a connection's body
 * looks stuck inside libmicrohttpd. */
static int body_stalled_somewhere(void *arg)
{
    gw_http *h = arg;
    return gw_conns_suspects(h->conns) > 0;
}

/* Busy polling applies while the gateway serves one connection: with more,
 * events arrive while the threads work and they seldom sleep, and polling
 * would take CPU time the other connections' work needs. */
static int lone_connection(void *arg)
{
    gw_http *h = arg;
    return gw_conns_open(h->conns) == 1;
}

/* Sets up HTTP thread t, the next of h's: its daemon, its HTTP/2 client to
 * the upstream and its loop, not running yet.  0, or -1 with the reason in
 * err[errlen]; what it set up is undone by stop_threads. */
static int prepare_thread(gw_http *h, gw_http_thread *t, char *err, size_t errlen)
{
    const gw_http_config *cfg = &h->cfg;
    t->http = h;
    t->index = (size_t)(t - h->threads);
    if (!(t->mhd = start_daemon_saying_why(h, t, err, errlen)))
        return -1;
    if (!(t->h2 = gw_h2_new(cfg->loop_upstream, cfg->loop_upstream_tls, cfg->loop_upstream_name,
                            err, errlen)))
        return -1;
    gw_h2_retry_shutdown_cancels(t->h2, cfg->loop_upstream_is_host);
    _Static_assert(1 + GW_H2_SOURCES <= GW_LOOP_MAX_SOURCES, "a loop takes gw_h2's sources");
    gw_loop_source *sources[GW_LOOP_MAX_SOURCES];
    size_t n_sources = 0;
    sources[n_sources++] = gw_accept_source(h->accept, t->index, t->mhd);
    gw_h2_sources(t->h2, sources + n_sources);
    n_sources += GW_H2_SOURCES;
    gw_loop_busy_poll busy_poll = {cfg->busy_poll_us, lone_connection, h};
    t->loop = gw_loop_new(t->mhd, sources, n_sources, &busy_poll, err, errlen);
    if (!t->loop)
        return -1;
    gw_loop_set_stall_check(t->loop, body_stalled_somewhere, h);
    return 0;
}

/* What gw_http_start refuses before it allocates anything: 0, or -1 with
 * the reason in err[errlen]. */
static int check_config(const gw_http_config *cfg, char *err, size_t errlen)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    if (rp_addr_tcp(cfg->listen, 1, &addr, &addr_len) < 0) {
        snprintf(err, errlen, "listen %s: not an IP address and port", cfg->listen);
        return -1;
    }
    if (cfg->cert && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errlen, "[gateway] cert: this libmicrohttpd was built without TLS");
        return -1;
    }
    return 0;
}

/* A gw_http for cfg with what it needs before it listens: its connection
 * limits, the prepared out-of-memory answer, a record for each thread; no
 * API yet.  NULL with the reason in err[errlen]; else undone by
 * fail_start. */
static gw_http *new_http(const gw_http_config *cfg, char *err, size_t errlen)
{
    gw_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "%s", GW_ERR_OOM);
        return NULL;
    }
    h->cfg = *cfg;
    h->listen_fd = -1;
    if (!h->cfg.connection_timeout_s)
        h->cfg.connection_timeout_s = CONNECTION_TIMEOUT_S;
    if (!h->cfg.max_connections)
        h->cfg.max_connections = MAX_CONNECTIONS;
    h->conns = gw_conns_new(h->cfg.max_connections, h->cfg.connection_timeout_s, err, errlen);
    if (!h->conns) {
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->gen_lock, NULL);
    pthread_mutex_init(&h->mhd_lines.lock, NULL); /* the counts are calloc's zeros */
    h->metrics = cfg->metrics;
    h->access = cfg->access;
    h->no_method_stats = gw_metrics_method(h->metrics, GW_METRICS_NO_METHOD);
    h->health_stats = gw_metrics_method(h->metrics, "healthz");
    h->console_stats = gw_metrics_method(h->metrics, "console");
    h->oom_response = MHD_create_response_from_buffer(
        sizeof(GW_OOM_BODY) - 1, (void *)GW_OOM_BODY, MHD_RESPMEM_PERSISTENT);
    h->threads = calloc((size_t)cfg->threads, sizeof(*h->threads));
    if (!h->oom_response || !h->threads ||
        MHD_add_response_header(h->oom_response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json") != MHD_YES) {
        snprintf(err, errlen, "%s", GW_ERR_OOM);
        free_http(h);
        return NULL;
    }
    return h;
}

/* h's listening socket: rpcrestd's, or one bound by gw_main before it gave
 * up root, or bound now (ours from here on if the start succeeds); made
 * non-blocking, and shared among the loops (gw_accept).  0, or -1 with the
 * reason in err[errlen]. */
static int start_listening(gw_http *h, char *err, size_t errlen)
{
    const gw_http_config *cfg = &h->cfg;
    char why[512];
    h->listen_fd = cfg->listen_fd >= 0 ? cfg->listen_fd
                                       : rp_notify_listen_tcp(cfg->listen, why, sizeof(why));
    if (h->listen_fd < 0) {
        snprintf(err, errlen, "listen %s: cannot start the HTTP server: %s", cfg->listen, why);
        return -1;
    }
    int flags = fcntl(h->listen_fd, F_GETFL);
    if (flags < 0 || fcntl(h->listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        snprintf(err, errlen, "listen %s: fcntl(O_NONBLOCK): %s", cfg->listen, strerror(errno));
        return -1;
    }
    if (!(h->accept = gw_accept_new(h->listen_fd, (size_t)cfg->threads))) {
        snprintf(err, errlen, "%s", GW_ERR_OOM);
        return -1;
    }
    return 0;
}

gw_http *gw_http_start(const gw_http_config *cfg, gw_gen *gen, char *err, size_t errlen)
{
    gw_http *h = check_config(cfg, err, errlen) == 0 ? new_http(cfg, err, errlen) : NULL;
    if (!h)
        goto fail;
    if (start_listening(h, err, errlen) < 0)
        goto fail_http;
    /* every loop is whole, and t->loop stored, before any runs: a running
     * loop takes connections at once and hands some to the others */
    for (; h->n_threads < cfg->threads; h->n_threads++) {
        if (prepare_thread(h, &h->threads[h->n_threads], err, errlen) < 0) {
            h->n_threads++; /* what it set up is undone with the others */
            goto fail_http;
        }
    }
    gw_http_publish(h, gen); /* before the first connection is taken */
    gen = NULL;
    for (int i = 0; i < h->n_threads; i++) {
        if (gw_loop_run(h->threads[i].loop, err, errlen) < 0)
            goto fail_http;
    }
    return h;
fail_http:
    fail_start(h); /* and the API, once published */
fail:
    gw_gen_unref(gen);
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void gw_http_stop(gw_http *h, int64_t grace_ms)
{
    if (!h)
        return;
    atomic_store(&h->stopping, 1);
    int listener = stop_accepting(h);
    /* Serve what is in flight and what comes on connections already open
     * (answered with Connection: close, so clients reconnect to whoever
     * accepts now) until they have closed, idle ones for DRAIN_LINGER_MS.
     * A loop may be accepting as the stop begins: until every loop has
     * stopped and what they accepted is in a daemon, no count is the last. */
    for (int64_t waited = 0, idle_at = -1; waited < grace_ms; waited += 10) {
        int lingered = idle_at >= 0 && waited - idle_at >= DRAIN_LINGER_MS;
        if (atomic_load(&h->in_flight) > 0)
            idle_at = -1;
        else if ((gw_accept_quiet(h->accept) && current_connections(h) == 0) || lingered)
            break;
        else if (idle_at < 0)
            idle_at = waited;
        sleep_ms(10);
    }
    atomic_store(&h->stopping, 2);
    /* MHD must not be stopped with suspended connections: cancel what is
     * still running, so every call completes and resumes its connection. */
    long left = atomic_load(&h->in_flight);
    if (left > 0)
        rp_log("stopping: %ld request%s still running after %" PRId64 " ms: cancelled (%s)",
               left, left == 1 ? "" : "s", grace_ms, GW_STOPPING_MESSAGE);
    for (int i = 0; i < h->n_threads; i++)
        if (h->threads[i].h2)
            gw_h2_cancel_all(h->threads[i].h2);
    for (int i = 0; i < GW_HTTP_CANCEL_WAIT_MS / 10 && atomic_load(&h->in_flight) > 0; i++)
        sleep_ms(10);
    stop_threads(h);
    close_listener(listener);
    free_http(h);
}
