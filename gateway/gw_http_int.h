/*
 * gw_http_int.h -- the HTTP front end's request record and the helpers
 * gw_http.c (unary calls) shares with gw_http_stream.c (streaming methods).
 * Not for other modules.
 */
#ifndef GW_HTTP_INT_H
#define GW_HTTP_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>

#include "gw_access.h"
#include "gw_arena.h"
#include "gw_conns.h"
#include "gw_gen.h"
#include "gw_grpcweb.h"
#include "gw_http.h"
#include "gw_loop.h"
#include "gw_metrics.h"
#include "gw_result.h"
#include "rp_log.h"
#include "rp_metadata.h"

#define GW_REQUEST_ID_HEADER "X-Request-Id"
#define GW_REQUEST_ID_MAX RP_REQUEST_ID_MAX /* a longer (or unprintable) incoming id is
                                             * replaced (rp_request_id_valid) */
/* The error body for want of memory, static so that sending it needs none
 * (the prepared 500 answer; the line that ends a stream) */
#define GW_OOM_BODY "{\"code\":13,\"message\":\"" GW_ERR_OOM "\",\"details\":[]}"
/* The request arena's first block, inside the record: a unary call with a
 * dozen headers and a few response metadata entries fits. */
#define GW_REQUEST_ARENA_BYTES 1536

/* One HTTP thread: its daemon, the loop that drives it, and the loop's own
 * upstream connection for unary calls (NULL: gw_upstream makes them). */
typedef struct gw_http_thread {
    struct gw_http *http;
    size_t index;            /* in http->threads */
    struct MHD_Daemon *mhd;
    struct gw_loop *loop;
    struct gw_h2 *h2;
} gw_http_thread;

struct gw_http {
    gw_http_thread *threads; /* cfg.threads of them */
    int n_threads;           /* started */
    gw_http_config cfg;
    int listen_fd;           /* ours until stop_accepting hands it back */
    struct gw_accept *accept; /* the loops' shares of listen_fd */
    pthread_mutex_t gen_lock; /* guards gen: published by another thread */
    gw_gen *gen;              /* the API served now, or NULL before the first */
    atomic_long in_flight; /* requests created and not yet completed */
    gw_conns *conns;       /* max_connections and the request-header deadline */
    atomic_int stopping;
    gw_metrics *metrics;   /* cfg.metrics: GET /metrics and the counting, or NULL */
    gw_access *access;     /* cfg.access: the access log, or NULL */
    gw_method_stats *no_method_stats, *health_stats, *console_stats;
    /* 500 {"code":13,"message":"out of memory"}, made at start and shared by
     * every thread: the answer when there is no memory left to make one */
    struct MHD_Response *oom_response;
    rp_log_limit mhd_lines; /* libmicrohttpd's own lines: a flood (failed
                             * handshakes, say) is cut down to a few a second */
    /* While a daemon starts (on the starting thread, before any loop runs),
     * libmicrohttpd's lines are kept here instead: the reason if it fails. */
    int starting_daemon;
    char start_lines[512];
};

typedef enum req_state {
    REQ_READING,  /* collecting the body */
    REQ_WAITING,  /* suspended: the gRPC call runs */
    REQ_DONE      /* result stored, connection resumed */
} req_state;

typedef struct gw_request {
    gw_http *http;
    gw_gen *gen;             /* the API generation this request was routed in */
    struct MHD_Connection *conn;
    gw_http_thread *thread;  /* the HTTP thread serving conn */
    _Atomic req_state state;
    int early_status;        /* 404/405/413/415/431 known before the body: answer after it
                              * (or at once: see on_request); 400/501: the body cannot
                              * be delimited safely, answered at once */
    const char *framing;     /* for 400/501: what is wrong with the request's framing */
    const char *allow;       /* for 405: the methods the path takes (Allow), or NULL;
                              * for a CORS preflight (204), its Allow-Methods */
    const char *cors_origin; /* Access-Control-Allow-Origin of the answer (gw_cors), or NULL */
    size_t dropped;          /* body bytes read and dropped after an early_status */
    size_t head_bytes;       /* of the pool the request line and headers take */
    const gw_route *route;
    gw_web_mode web;         /* a gRPC-Web call (BINARY, TEXT; gw_http_web.c), or NONE;
                              * OTHER: a gRPC-Web type the gateway refuses (415) */
    gw_path_span spans[GW_ROUTE_MAX_VARS];
    const char *path;        /* MHD's copy of the raw path, valid for the request */
    const char *authority;   /* an absolute-form target's host[:port] (arena), or NULL */
    gw_buf body;
    struct gw_gunzip *gunzip;   /* Content-Encoding: gzip: the body's decoder while it arrives */
    const char *body_error;  /* for 400: what is wrong with the body's gzip data */
    int coding;              /* gw_coding: what its Content-Encoding asks of the body */
    int form_query;          /* a form POST served by another method's route: the body's
                              * fields are query parameters (form_fallback) */
    int wants_trailers;      /* TE: trailers */
    gw_upstream_result *result; /* unary: the answer; stream: its first event */
    struct gw_http_stream *stream; /* streaming methods only */
    char *health_service;    /* GET /healthz: the service asked about */
    gw_loop_watch hangup;    /* its connection, watched while its call runs (gw_loop.h) */
    int console;             /* GET /openapi.json or /docs… (gw_http_console.c) */
    int is_metrics;          /* GET /metrics */
    int client_left;         /* its client closed the connection while the call ran */
    /* for the access log and the metrics */
    struct timespec start_real; /* CLOCK_REALTIME at the headers */
    uint64_t start_us;          /* CLOCK_MONOTONIC at the headers */
    uint64_t bytes_in, bytes_out;
    unsigned http_status;    /* of the response queued, 0 before */
    int grpc_code;           /* of the call or the error body, -1 before */
    char verb[16];           /* the HTTP method; one longer ends in "..." */
    char peer[48];           /* the client's address as text, once known (INET6_ADDRSTRLEN) */
    char request_id[GW_REQUEST_ID_MAX + 1];
    /* what the request allocates for its own lifetime (metadata, header
     * strings, message arrays); released with the record */
    gw_arena arena;
    /* last, so that a new record zeroes only what comes before it */
    alignas(max_align_t) unsigned char arena_first[GW_REQUEST_ARENA_BYTES];
} gw_request;

/* A request's line, headers, cookies and query arguments share the
 * connection's memory pool with its answer's headers, trailers included.
 * A request may take so much of it that an error answer still fits (431
 * beyond); an answer's metadata may take what the request left
 * (gw_http_metadata_room; 502 beyond), so that an answer that does not fit
 * is an error, not a connection closed after the call ran. */
size_t gw_http_metadata_room(const gw_request *req);

/* The 502 for an answer whose metadata takes `bytes` (more than
 * gw_http_metadata_room) as headers: the error alone, no metadata. */
enum MHD_Result gw_http_send_metadata_too_large(gw_request *req, size_t bytes);

/* Queues a JSON response with the result's metadata as headers; takes body. */
enum MHD_Result gw_http_send_json(gw_request *req, unsigned status, gw_buf *body);

/* Resumes req's suspended connection and wakes its HTTP thread (any thread). */
void gw_http_resume(gw_request *req);

/* Queues resp (len bytes of content_type) with the request id and, while
 * stopping, Connection: close; records status and length for the access
 * log and metrics, and drops the caller's reference to resp. */
enum MHD_Result gw_http_queue(gw_request *req, struct MHD_Response *resp, unsigned status,
                              const char *content_type, size_t len);

/* Queues the error body for a status the gateway decided itself. */
enum MHD_Result gw_http_send_error(gw_request *req, unsigned status, int code, const char *msg);

/* Queues the answer of a call with one reply (req->result): the reply as
 * JSON, or the error. */
enum MHD_Result gw_http_send_result(gw_request *req);

/* Queues the error response for a failed upstream result. */
enum MHD_Result gw_http_send_status(gw_request *req, const gw_upstream_result *r);

/* A reply message of req's route as JSON, whole or the field its rule's
 * response_body names; GW_OK, or GW_REFUSED (bytes that are not a valid
 * reply) or GW_NOMEM with err set. */
gw_result gw_http_reply_json(const gw_request *req, const uint8_t *reply, size_t len,
                             gw_buf *out, char *err, size_t errlen);

/* Bytes response metadata md[0..n) takes in an answer's headers: as
 * Grpc-Metadata-* fields (a gRPC-Web answer's: under their own names), and
 * named again in Access-Control-Expose-Headers for an allowed CORS origin. */
size_t gw_http_metadata_fields_size(const gw_request *req, const gw_metadata *md, size_t n);

/* Adds resp's headers for response metadata md[0..n) with `prefix`, or
 * as the plain header `plain` names for its key (NULL: none); names and
 * values made in the request's arena. */
void gw_http_add_metadata_headers(gw_request *req, struct MHD_Response *resp,
                                  const char *prefix, const gw_header_names *plain,
                                  const gw_metadata *md, size_t n);

/* Streaming methods (gw_http_stream.c): starts the call with the encoded
 * request messages (taken over, *requests left empty); the connection is
 * suspended until its first event (for a method that answers one message:
 * until the call ends). */
enum MHD_Result gw_http_stream_start(gw_request *req, gw_request_messages *requests,
                                     const gw_metadata *md, size_t n_md, int64_t timeout_ms);

/* A client-streaming request body: JSON objects one after the other,
 * separated by any whitespace or none (one a line, pretty-printed, or
 * several on a line, as grpc-gateway reads them), or a body that is one
 * JSON array of them (as Envoy's transcoder takes); each encoded and
 * appended to *out as a message; *out stays the caller's to free (also
 * after an error).  GW_OK, or GW_REFUSED with a reason naming the line on
 * which the message starts (the element, for an array), or GW_NOMEM. */
gw_result gw_http_stream_encode_messages(gw_request *req, gw_request_messages *out, char *err,
                                      size_t errlen);

/* Called when resumed by the first event: queues the streaming response (or
 * an error response if the call failed before any message). */
enum MHD_Result gw_http_stream_respond(gw_request *req);

/* The client closed its connection: cancels the call (on the loop's thread;
 * its last event still arrives). */
void gw_http_stream_cancel(gw_request *req);

/* The HTTP request is over (completed or broken): lets go of the call. */
void gw_http_stream_free(gw_request *req);

/* Watches the connection of a request whose call has started, until it
 * completes: a client that closes it cancels the call (gw_http.c). */
void gw_http_watch_client(gw_request *req);

/* The console ([gateway] docs = on, gw_http_console.c): 1 if the raw path
 * is /openapi.json, /docs, or under /docs/. */
int gw_http_console_owns(const char *path);

/* The paths gw_http_console_owns takes, in gw_http_own_paths' form: the
 * two files and the folder ("/docs/").  Returns 3. */
size_t gw_http_console_paths(const char *out[3]);

/* Answers a console request (GET or HEAD): the OpenAPI document of
 * req->gen (503 before the first API), or a file of the console's folder
 * (404 for any other name, or when it is not installed). */
enum MHD_Result gw_http_console_respond(gw_request *req);

/* Starts req's call with its request encoded: `wire` (a method with one
 * request and one reply) or `requests` (streaming methods), both taken
 * over; or answers why it cannot start (the gateway stopping, headers that
 * cannot be metadata). */
enum MHD_Result gw_http_start_upstream(gw_request *req, gw_buf *wire,
                                       gw_request_messages *requests);

/* 1 if req is a gRPC-Web call the gateway serves. */
static inline int gw_request_is_web(const gw_request *req)
{
    return req->web == GW_WEB_BINARY || req->web == GW_WEB_TEXT;
}

/* gRPC-Web calls (gw_http_web.c), for a request whose `web` is BINARY or
 * TEXT: starts the call once the body is in; answers an error as gRPC-Web
 * does, trailers-only (gw_http_send_error and the others below come here
 * for such a request); answers a call with one reply (req->result). */
enum MHD_Result gw_http_web_start(gw_request *req);
enum MHD_Result gw_http_web_send_error(gw_request *req, int code, const char *msg);
enum MHD_Result gw_http_web_send_status(gw_request *req, const gw_upstream_result *r);
enum MHD_Result gw_http_web_send_result(gw_request *req);

/* Response metadata md[0..n) as the header fields of a gRPC-Web answer
 * (those gw_grpcweb_metadata_ok takes). */
void gw_http_web_add_metadata(gw_request *req, struct MHD_Response *resp, const gw_metadata *md,
                              size_t n);

#endif /* GW_HTTP_INT_H */
