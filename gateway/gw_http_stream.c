/*
 * gw_http_stream.c -- streaming methods over HTTP/1.1: client streaming
 * (the request body's JSON messages, one reply) and
 * server and bidirectional streaming (the replies as a stream).
 *
 * A streamed response is chunked: one JSON object per line, {"result":…} for each
 * message and {"error":{…}} if the stream fails midway, or Server-Sent
 * Events (data: … frames) when the client accepts text/event-stream; or,
 * for messages that are google.api.HttpBody, their data one after the
 * other, with the first one's content_type; or, for a gRPC-Web call, each
 * message's frame and then the trailer frame (gw_grpcweb.h).  With
 * [gateway] gzip, a JSON or text stream goes gzip-compressed to a client
 * that takes it, each message flushed as it goes (gw_gzip.h).  Each
 * message is written before the next one is asked for (call_next), so
 * a slow client slows the upstream instead of filling memory.  The call
 * goes on the HTTP thread's own HTTP/2 connections (gw_h2), its events on
 * this thread.  The content
 * reader suspends the connection when it has nothing to send; the event
 * that follows resumes it.  The loop watches the connection meanwhile, so that a
 * client that leaves a quiet stream cancels it.  When a line cannot be made for want of memory, a
 * static error line ends the stream, which still ends as HTTP says (the
 * last chunk), not with the connection cut.  Lock order: the stream's
 * lock, then this one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_gzip.h"
#include "gw_h2.h"
#include "gw_headers.h"
#include "gw_http_int.h"
#include "gw_httpbody.h"
#include "gw_json.h"
#include "gw_status.h"

/* The most one read of a stream (read_stream) hands libmicrohttpd */
#define STREAM_BLOCK_BYTES (16 * 1024)

typedef struct gw_http_stream {
    gw_h2_call *h2_call;        /* the call, on the thread's gw_h2; NULL before and
                                 * after it */
    pthread_mutex_t lock;       /* guards everything below */
    gw_upstream_result *pending; /* a message not yet written */
    gw_upstream_result *final;   /* the end of the stream (NULL with `ended`: no memory for it) */
    int ended;                  /* the end came */
    int suspended;              /* the connection waits for an event */
    int final_written;
    int sse;                    /* text/event-stream framing */
    gw_web_mode web;            /* gRPC-Web framing (BINARY, TEXT), or NONE */
    int raw;                    /* HttpBody messages: their data as they are */
    const gw_field *raw_field;  /* the response_body field that holds it, or NULL */
    char *raw_type;             /* the first message's content_type (malloc'd), or NULL */
    int extra_replies;          /* one reply expected, more came (each freed) */
    gw_gzip_stream *gz;         /* the answer's gzip, or NULL: none */
    gw_buf chunk;               /* text being written (compressed, with gz) */
    size_t chunk_off;
    const char *oom_line;       /* no memory for a line: this one ends the stream */
    size_t oom_len, oom_off;
} gw_http_stream;

/* The line that ends a stream when a message's line cannot be made for
 * want of memory: static, so that writing it needs none. */
static const char OOM_LINE[] = "{\"error\":" GW_OOM_BODY "}\n";
static const char OOM_SSE[] = "event: error\ndata: " GW_OOM_BODY "\n\n";
static const char OOM_WEB[] = GW_GRPCWEB_OOM_TRAILERS;
static const char OOM_WEB_TEXT[] = GW_GRPCWEB_OOM_TRAILERS_TEXT;

/* The call's operations (st->h2_call is set and released on the request's
 * thread). */
static int has_call(const gw_http_stream *st)
{
    return st->h2_call != NULL;
}

static void call_next(gw_http_stream *st)
{
    gw_h2_stream_next(st->h2_call);
}

static void call_cancel(gw_http_stream *st)
{
    if (st->h2_call)
        gw_h2_stream_cancel(st->h2_call);
}

/* An upstream event arrived: store it and wake the connection.  A method
 * with one reply is answered when the call ends; a message after its reply
 * is freed, cancels the call (nothing more is worth reading) and fails it
 * (gw_http_stream_respond). */
static void deliver(gw_request *req, gw_upstream_result *r, int is_final)
{
    gw_http_stream *st = req->stream;
    int one_reply = !req->route->method->server_streaming;
    pthread_mutex_lock(&st->lock);
    if (is_final) {
        st->final = r;
        st->ended = 1;
    } else if (one_reply && st->pending) {
        gw_upstream_result_free(r);
        if (!st->extra_replies)
            call_cancel(st); /* done still arrives */
        st->extra_replies = 1;
    } else {
        st->pending = r;
    }
    if (!is_final && one_reply) {
        pthread_mutex_unlock(&st->lock);
        return;
    }
    int wake = st->suspended;
    st->suspended = 0;
    if (atomic_load(&req->state) == REQ_WAITING) {
        req->result = NULL; /* the first event stays in pending/final */
        atomic_store(&req->state, REQ_DONE);
    }
    if (wake)
        gw_http_resume(req);
    pthread_mutex_unlock(&st->lock);
}

static void on_message(void *arg, gw_upstream_result *message)
{
    deliver(arg, message, 0);
}

static void on_done(void *arg, gw_upstream_result *status)
{
    deliver(arg, status, 1);
}

/* JSON's whitespace (RFC 8259 2). */
static int is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Where the JSON value that starts at p (not whitespace) ends: after its
 * closing brace or bracket, counting those inside strings out, or at the
 * next whitespace or opening brace or bracket for anything else.  Only the
 * extent: the parse that follows says whether the value is valid.  A value
 * left open ends at `end`. */
static const char *json_value_end(const char *p, const char *end)
{
    if (*p != '{' && *p != '[') {
        while (p < end && !is_json_space(*p) && *p != '{' && *p != '[')
            p++;
        return p;
    }
    size_t depth = 0;
    for (int in_string = 0; p < end; p++) {
        if (in_string) {
            if (*p == '\\' && p + 1 < end)
                p++;
            else if (*p == '"')
                in_string = 0;
        } else if (*p == '"') {
            in_string = 1;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if ((*p == '}' || *p == ']') && --depth == 0) {
            return p + 1;
        }
    }
    return end;
}

/* Appends the message that the JSON object json is to out; the reason in
 * err (after `where`) if it is not one. */
static gw_result add_request_message(gw_request *req, json_t *json, const char *where,
                                     gw_request_messages *out, char *err, size_t errlen)
{
    if (!json_is_object(json))
        return snprintf(err, errlen, "%s: each message must be a JSON object", where),
               GW_REFUSED;
    char why[300];
    gw_result rc = gw_json_to_proto(req->route->method->input, json, &req->http->cfg.json,
                                    &out->data, why, sizeof(why));
    if (rc != GW_OK)
        return snprintf(err, errlen, "%s: %s", where, why), rc;
    if (gw_request_messages_end(out) < 0)
        return snprintf(err, errlen, "%s", GW_ERR_OOM), GW_NOMEM;
    return GW_OK;
}

/* Parses text[0..len) as one JSON value; NULL with err (after `where`) set
 * if it is none. */
static json_t *load_value(const char *text, size_t len, const char *where, gw_result *rc,
                          char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *json = gw_json_loadb(text, len, 0, &jerr);
    if (!json) {
        *rc = gw_json_error_is_oom(&jerr) ? GW_NOMEM : GW_REFUSED;
        snprintf(err, errlen, "%s: %s", where, *rc == GW_NOMEM ? GW_ERR_OOM : jerr.text);
    }
    return json;
}

/* A body that is one JSON array: its elements are the messages. */
static gw_result encode_array(gw_request *req, const char *text, size_t len,
                              gw_request_messages *out, char *err, size_t errlen)
{
    gw_result rc = GW_OK;
    json_t *array = load_value(text, len, "the JSON array", &rc, err, errlen);
    if (!array)
        return rc;
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item) {
        char where[48];
        snprintf(where, sizeof(where), "message %zu", i + 1);
        if ((rc = add_request_message(req, item, where, out, err, errlen)) != GW_OK)
            break;
    }
    json_decref(array);
    return rc;
}

gw_result gw_http_stream_encode_messages(gw_request *req, gw_request_messages *out, char *err,
                                      size_t errlen)
{
    const char *p = (const char *)req->body.data, *end = p + req->body.len;
    size_t line = 1;
    int first = 1;
    while (p && p < end) {
        if (is_json_space(*p)) {
            line += *p++ == '\n';
            continue;
        }
        const char *value_end = json_value_end(p, end);
        if (first && *p == '[') { /* the whole body one array, as Envoy's transcoder takes */
            const char *rest = value_end;
            while (rest < end && is_json_space(*rest))
                rest++;
            if (rest == end)
                return encode_array(req, p, (size_t)(end - p), out, err, errlen);
        }
        first = 0;
        char where[48];
        snprintf(where, sizeof(where), "line %zu", line);
        gw_result rc = GW_OK;
        json_t *json = load_value(p, (size_t)(value_end - p), where, &rc, err, errlen);
        if (!json)
            return rc;
        rc = add_request_message(req, json, where, out, err, errlen);
        json_decref(json);
        if (rc != GW_OK)
            return rc;
        for (; p < value_end; p++)
            line += *p == '\n';
    }
    return GW_OK;
}

enum MHD_Result gw_http_stream_start(gw_request *req, gw_request_messages *requests,
                                     const gw_metadata *md, size_t n_md, int64_t timeout_ms)
{
    gw_http_stream *st = calloc(1, sizeof(*st));
    if (!st) {
        gw_request_messages_free(requests);
        return gw_http_send_error(req, 500, GRPC_STATUS_INTERNAL, GW_ERR_OOM);
    }
    pthread_mutex_init(&st->lock, NULL);
    const char *accept = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_ACCEPT);
    st->web = gw_request_is_web(req) ? req->web : GW_WEB_NONE;
    st->raw = !st->web && req->route->raw_reply;
    st->raw_field = req->route->raw_reply_field;
    st->sse = !st->web && !st->raw && accept && strcasestr(accept, "text/event-stream") != NULL;
    req->stream = st;
    static const gw_stream_handler streamed = {on_message, on_done, 0};
    static const gw_stream_handler one_reply = {on_message, on_done, 1};
    const gw_stream_handler *handler = req->route->method->server_streaming ? &streamed
                                                                            : &one_reply;
    atomic_store(&req->state, REQ_WAITING);
    st->suspended = 1;
    MHD_suspend_connection(req->conn);
    /* no event before this returns */
    st->h2_call = gw_h2_stream(req->thread->h2, req->route->method->path, requests, md, n_md,
                               timeout_ms, handler, req);
    if (!st->h2_call) {
        st->suspended = 0;
        atomic_store(&req->state, REQ_DONE);
        gw_http_resume(req);
    } else {
        gw_http_watch_client(req); /* suspended for as long as the upstream is quiet */
    }
    return MHD_YES;
}

/* One message as a line (or an SSE frame) into st->chunk; GW_OK, or
 * GW_REFUSED or GW_NOMEM with the reason in err if it cannot be turned
 * into JSON (st->chunk unchanged). */
static gw_result format_message(gw_request *req, gw_http_stream *st,
                                const gw_upstream_result *r, char *err, size_t errlen)
{
    if (st->web) { /* the message as it came */
        gw_grpcweb_add_message(st->web, r->reply, r->reply_len, &st->chunk);
        return GW_OK;
    }
    if (st->raw) { /* the data alone; the first message's content_type heads the answer */
        gw_buf held = GW_BUF_INIT;
        gw_httpbody hb;
        gw_result rc = gw_httpbody_of_reply(r->reply, r->reply_len, st->raw_field, &held, &hb);
        if (rc == GW_OK && !st->raw_type) {
            size_t len;
            const char *type = gw_httpbody_type(&hb, &len);
            if (!(st->raw_type = strndup(type, len)))
                rc = GW_NOMEM;
        }
        if (rc == GW_OK)
            gw_buf_append(&st->chunk, hb.data, hb.data_len);
        gw_buf_free(&held);
        if (rc != GW_OK)
            snprintf(err, errlen, "%s", rc == GW_NOMEM ? GW_ERR_OOM
                                        : "a message is not a google.api.HttpBody whose "
                                          "content_type HTTP can carry");
        return rc;
    }
    gw_buf json = GW_BUF_INIT;
    gw_result rc = gw_http_reply_json(req, r->reply, r->reply_len, &json, err, errlen);
    if (rc == GW_OK) {
        gw_buf_puts(&st->chunk, st->sse ? "data: " : "{\"result\":");
        gw_buf_append(&st->chunk, json.data, json.len);
        gw_buf_puts(&st->chunk, st->sse ? "\n\n" : "}\n");
    }
    gw_buf_free(&json);
    return rc;
}

/* The error line that ends a stream. */
static void format_error(gw_http_stream *st, int code, const char *message,
                         const gw_metadata *trailing, size_t n_trailing,
                         const gw_schema *schema, const gw_json_options *opt)
{
    gw_buf json = GW_BUF_INIT;
    gw_status_error_body(&json, code, message, trailing, n_trailing, schema, opt);
    gw_buf_puts(&st->chunk, st->sse ? "event: error\ndata: " : "{\"error\":");
    gw_buf_append(&st->chunk, json.data, json.len);
    gw_buf_puts(&st->chunk, st->sse ? "\n\n" : "}\n");
    gw_buf_free(&json);
}

/* The end of the stream: nothing for OK, an error line otherwise; for
 * gRPC-Web, the trailer frame either way. */
static void format_final(gw_request *req, gw_http_stream *st, const gw_upstream_result *r)
{
    req->grpc_code = r ? (int)r->status : GRPC_STATUS_INTERNAL; /* for the access log */
    if (st->web && r)
        gw_grpcweb_add_trailers(st->web, (int)r->status, r->message, r->trailing, r->n_trailing,
                                &st->chunk);
    else if (st->web)
        gw_grpcweb_add_trailers(st->web, GRPC_STATUS_INTERNAL, GW_ERR_OOM, NULL, 0, &st->chunk);
    else if (!r)
        format_error(st, GRPC_STATUS_INTERNAL, GW_ERR_OOM, NULL, 0, NULL, NULL);
    else if (r->status != GRPC_STATUS_OK)
        format_error(st, r->status, r->message ? r->message : "", r->trailing, r->n_trailing,
                     req->gen ? req->gen->schema : NULL, &req->http->cfg.json);
}

/* Compresses what was just made in st->chunk (a message's text, or the
 * stream's `last` text), when the answer is gzip. */
static void compress_chunk(gw_http_stream *st, int last)
{
    if (st->gz)
        gw_gzip_stream_piece(st->gz, &st->chunk, last); /* sets chunk.oom when it fails */
}

/* A message that cannot be turned into JSON ends the stream with an error
 * line; the call is not asked for more and is cancelled when the request
 * ends, as grpc-gateway does. */
static void end_with_bad_message(gw_request *req, gw_http_stream *st, const char *why)
{
    format_error(st, GRPC_STATUS_INTERNAL, why, NULL, 0, NULL, NULL);
    req->grpc_code = GRPC_STATUS_INTERNAL; /* for the access log */
    pthread_mutex_lock(&st->lock);
    st->final_written = 1;
    pthread_mutex_unlock(&st->lock);
}

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    gw_request *req = cls;
    gw_http_stream *st = req->stream;
    gw_loop_progress(req->thread->loop);
    for (;;) {
        pthread_mutex_lock(&st->lock);
        if (st->oom_line) {
            size_t left = st->oom_len - st->oom_off, n = left < max ? left : max;
            memcpy(buf, st->oom_line + st->oom_off, n);
            st->oom_off += n;
            req->bytes_out += n;
            pthread_mutex_unlock(&st->lock);
            return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (st->chunk_off < st->chunk.len) {
            size_t n = st->chunk.len - st->chunk_off < max ? st->chunk.len - st->chunk_off : max;
            memcpy(buf, st->chunk.data + st->chunk_off, n);
            st->chunk_off += n;
            req->bytes_out += n;
            pthread_mutex_unlock(&st->lock);
            return (ssize_t)n;
        }
        st->chunk.len = st->chunk_off = 0;
        gw_upstream_result *msg = st->pending, *fin = NULL;
        st->pending = NULL;
        if (!msg && st->ended && !st->final_written) {
            fin = st->final;
            st->final_written = 1;
        } else if (!msg && st->final_written) {
            pthread_mutex_unlock(&st->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        } else if (!msg) {
            st->suspended = 1;
            MHD_suspend_connection(req->conn);
            pthread_mutex_unlock(&st->lock);
            return 0;
        }
        pthread_mutex_unlock(&st->lock);
        if (msg) {
            char why[256];
            gw_result rc = format_message(req, st, msg, why, sizeof(why));
            gw_upstream_result_free(msg);
            if (rc != GW_OK)
                end_with_bad_message(req, st, why);
            compress_chunk(st, rc != GW_OK);
            if (rc == GW_OK)
                call_next(st); /* may deliver the next message or the end right here */
        } else {
            format_final(req, st, fin);
            compress_chunk(st, 1);
        }
        if (st->chunk.oom) { /* what was made of the line is dropped: none of it went out */
            pthread_mutex_lock(&st->lock);
            gw_buf_free(&st->chunk);
            st->chunk_off = 0;
            st->oom_line = st->web == GW_WEB_TEXT ? OOM_WEB_TEXT
                         : st->web                ? OOM_WEB
                         : st->sse                ? OOM_SSE
                                                  : OOM_LINE;
            st->oom_len = st->web == GW_WEB_TEXT ? sizeof(OOM_WEB_TEXT) - 1
                        : st->web                ? sizeof(OOM_WEB) - 1
                        : st->gz                 ? 0 /* no gzip of it: the stream ends short */
                                                 : strlen(st->oom_line);
            req->grpc_code = GRPC_STATUS_INTERNAL; /* for the access log */
            pthread_mutex_unlock(&st->lock);
        }
    }
}

/* A client-streaming call's one reply (or its failure), answered like a
 * unary call's. */
static enum MHD_Result respond_single_reply(gw_request *req, gw_http_stream *st)
{
    pthread_mutex_lock(&st->lock);
    if (st->extra_replies) {
        pthread_mutex_unlock(&st->lock);
        /* as gRPC's own clients fail such a call */
        return gw_http_send_error(req, 500, GRPC_STATUS_INTERNAL,
                                  "the upstream answered a client-streaming call with more "
                                  "than one message");
    }
    if (!st->final) { /* no memory for the end: what it said is not known */
        pthread_mutex_unlock(&st->lock);
        return gw_http_send_error(req, 500, GRPC_STATUS_INTERNAL, GW_ERR_OOM);
    }
    if (st->final->status != GRPC_STATUS_OK) {
        /* a reply, then a failure: the call failed (as gRPC clients and
         * grpc-gateway's CloseAndRecv see it), its reply is dropped */
        gw_upstream_result_free(st->pending);
        st->pending = NULL;
        req->result = st->final;
        st->final = NULL;
        pthread_mutex_unlock(&st->lock);
        return gw_http_send_status(req, req->result);
    }
    req->result = st->pending;
    st->pending = NULL;
    if (req->result && st->final) { /* the trailers came with the status */
        req->result->trailing = st->final->trailing;
        req->result->n_trailing = st->final->n_trailing;
        st->final->trailing = NULL;
        st->final->n_trailing = 0;
    }
    pthread_mutex_unlock(&st->lock);
    if (!req->result)
        return gw_http_send_error(req, 500, GRPC_STATUS_INTERNAL,
                                  "the upstream answered OK without a message");
    return gw_http_send_result(req);
}

/* Whether the streamed answer of `type` is gzip ([gateway] gzip, JSON or
 * text, a client that takes it: st->gz set).  1 if the answer differs by
 * Accept-Encoding (Vary), 0 if not, -1 when out of memory. */
static int choose_gzip(gw_request *req, gw_http_stream *st, const char *type)
{
    if (st->web || !req->http->cfg.gzip || !gw_gzip_worth(type))
        return 0;
    if (!gw_gzip_accepted(MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_ACCEPT_ENCODING)))
        return 1;
    return (st->gz = gw_gzip_stream_new()) ? 1 : -1;
}

/* The start of a streamed answer: the headers (the first event's metadata)
 * and the first message's line, made now so that a message that is not
 * valid JSON is still an ordinary error instead of a stream. */
static enum MHD_Result respond_stream_start(gw_request *req, gw_http_stream *st,
                                            const gw_upstream_result *first)
{
    pthread_mutex_lock(&st->lock);
    gw_upstream_result *msg = st->pending;
    st->pending = NULL;
    pthread_mutex_unlock(&st->lock);
    char why[256];
    if (msg && format_message(req, st, msg, why, sizeof(why)) != GW_OK) {
        gw_upstream_result_free(msg);
        return gw_http_send_error(req, 500, GRPC_STATUS_INTERNAL, why);
    }
    if (st->chunk.oom) {
        gw_upstream_result_free(msg);
        return gw_http_send_error(req, 500, GRPC_STATUS_INTERNAL, GW_ERR_OOM);
    }
    const char *type = st->web ? gw_grpcweb_content_type(st->web)
                     : st->raw ? (st->raw_type ? st->raw_type : GW_HTTPBODY_DEFAULT_TYPE)
                     : st->sse ? "text/event-stream"
                               : "application/json";
    int vary = choose_gzip(req, st, type);
    compress_chunk(st, 0);
    if (vary < 0 || st->chunk.oom) {
        gw_upstream_result_free(msg);
        return gw_http_send_error(req, 500, GRPC_STATUS_INTERNAL, GW_ERR_OOM);
    }
    size_t metadata_bytes =
        first ? gw_http_metadata_fields_size(req, first->initial, first->n_initial) : 0;
    if (metadata_bytes > gw_http_metadata_room(req)) {
        gw_upstream_result_free(msg);
        return gw_http_send_metadata_too_large(req, metadata_bytes);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK_BYTES, read_stream, req,
                                          NULL);
    if (!resp) {
        gw_upstream_result_free(msg);
        return MHD_NO;
    }
    if (st->sse)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    if (vary)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    if (st->gz)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    req->grpc_code = GRPC_STATUS_CANCELLED; /* until the stream's end says otherwise */
    if (first && st->web)
        gw_http_web_add_metadata(req, resp, first->initial, first->n_initial);
    else if (first)
        gw_http_add_metadata_headers(req, resp, "Grpc-Metadata-", &req->http->cfg.reply,
                                     first->initial, first->n_initial);
    if (msg) { /* first: its headers are added, its line is made; ask for the next */
        gw_upstream_result_free(msg);
        call_next(st);
    }
    /* the length is counted as the stream is read */
    return gw_http_queue(req, resp, MHD_HTTP_OK, type, 0);
}

enum MHD_Result gw_http_stream_respond(gw_request *req)
{
    gw_http_stream *st = req->stream;
    pthread_mutex_lock(&st->lock);
    gw_upstream_result *first = st->pending ? st->pending : st->final;
    /* gRPC-Web answers a call that ends with no message trailers-only */
    int failed_early = !st->pending && (!st->final || st->final->status != GRPC_STATUS_OK ||
                                        st->web);
    pthread_mutex_unlock(&st->lock);
    if (!has_call(st))
        return gw_http_send_error(req, 503, GRPC_STATUS_UNAVAILABLE,
                                  "cannot start the upstream call");
    if (failed_early) { /* nothing streamed yet: answer like a unary call */
        if (!first)
            return gw_http_send_error(req, 500, GRPC_STATUS_INTERNAL, GW_ERR_OOM);
        /* as req->result, its headers, trailers and WWW-Authenticate go out too */
        pthread_mutex_lock(&st->lock);
        req->result = st->final;
        st->final = NULL;
        pthread_mutex_unlock(&st->lock);
        return gw_http_send_status(req, req->result);
    }
    if (!req->route->method->server_streaming)
        return respond_single_reply(req, st);
    return respond_stream_start(req, st, first);
}

void gw_http_stream_cancel(gw_request *req)
{
    /* no lock: the call's events come on this thread, never from inside
     * gw_h2_stream_cancel */
    call_cancel(req->stream);
}

void gw_http_stream_free(gw_request *req)
{
    gw_http_stream *st = req->stream;
    if (st->h2_call)
        gw_h2_stream_release(st->h2_call); /* cancels it if it is still running */
    gw_upstream_result_free(st->pending);
    gw_upstream_result_free(st->final);
    gw_buf_free(&st->chunk);
    gw_gzip_stream_free(st->gz);
    free(st->raw_type);
    pthread_mutex_destroy(&st->lock);
    free(st);
    req->stream = NULL;
}
