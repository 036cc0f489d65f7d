/*
 * gw_upstream.h -- the gateway's gRPC client: one channel to the upstream
 * (the rpcrest-host, or any gRPC server), a registered-call handle per
 * method prepared at start, and completion-queue threads that report each
 * finished call through a callback.  Nothing blocks per request.
 */
#ifndef GW_UPSTREAM_H
#define GW_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include <grpc/grpc.h>

#include "rp_tls.h"

#include "gw_buf.h"
#include "gw_schema.h"

typedef struct gw_upstream gw_upstream;

/* One metadata entry: a lower-case key and a value of value_len bytes
 * (binary for keys ending in "-bin").  Who owns the strings depends on the
 * array they are in: a result's (initial, trailing) owns them, from
 * gpr_malloc, freed with gw_metadata_free; a request's gw_metadata_list
 * (gw_headers.h) keeps them in the request's arena, never freed one by
 * one. */
typedef struct gw_metadata {
    char *key;
    char *value;
    size_t value_len;
} gw_metadata;

/* What came back from one unary call.  Owned by the callback's receiver,
 * released with gw_upstream_result_free. */
typedef struct gw_upstream_result {
    grpc_status_code status;
    char *message;        /* status details, NUL-terminated (maybe empty) */
    const uint8_t *reply; /* the response message (status OK), or NULL */
    size_t reply_len;
    grpc_slice reply_slice; /* backs `reply` */
    gw_metadata *initial; /* response headers */
    size_t n_initial;
    gw_metadata *trailing; /* response trailers (grpc-status-details-bin among them) */
    size_t n_trailing;
} gw_upstream_result;

/* Frees md[0..n) and the array: strings from gpr_malloc, the array from
 * malloc (as results hold them). */
void gw_metadata_free(gw_metadata *md, size_t n);

/* Called once per call on an upstream thread.  Must not block. */
typedef void (*gw_upstream_done)(void *arg, gw_upstream_result *result);

/*
 * Creates the channel to `target` (a gRPC target: "ipv4:127.0.0.1:5505",
 * "unix:/path", …) and starts `threads` completion-queue threads.  With
 * `tls` (its ca set), the channel is TLS: the upstream's certificate must
 * be signed by tls->ca and name the target's host (an IP address SAN for
 * "ipv4:…", "localhost" for "unix:…"), and tls->cert/key, if set, are the
 * client certificate (mutual TLS), and tls_name, if not NULL, is the name
 * checked in the upstream's certificate instead of the target's host (and
 * sent as SNI); NULL: plaintext.  Discovery and health checks use one
 * channel; the API's calls go on channels (connections) of their own, a
 * new one each time those before it carry `per_channel` calls (the most
 * the upstream takes at once on one connection; 0: 100), up to
 * GW_CALL_CHANNELS, so that a hundred long REST streams neither hold up
 * the next call nor /healthz.  tls is read during the call only.  Returns
 * NULL with a reason in err[errlen].
 */
gw_upstream *gw_upstream_start(const char *target, int threads, int per_channel,
                               const rp_tls_pem *tls, const char *tls_name, char *err,
                               size_t errlen);

/* Registers each method's path with the channels for calls made so far
 * (method->call_handle[]), so that no call looks a method up by name.
 * Done on a fresh schema before any request can see it: the one write into
 * a schema after it is loaded. */
void gw_upstream_prepare(gw_upstream *up, const gw_method *methods, size_t n);

/* The channel of discovery and health checks, for watching its
 * connectivity. */
grpc_channel *gw_upstream_channel(gw_upstream *up);

/*
 * Starts a unary call of `method` with the serialized request in `wire`,
 * request metadata md[0..n_md) (copied) and a deadline `timeout_ms` from
 * now.  The wire bytes are moved, not copied, into the gRPC message (wire
 * is left empty, whatever happens).  `done` is called exactly once,
 * unless this returns -1 (the call could not be started).
 */
int gw_upstream_unary(gw_upstream *up, const gw_method *method, gw_buf *wire,
                      const gw_metadata *md, size_t n_md, int64_t timeout_ms,
                      gw_upstream_done done, void *arg);

/* The same for a method outside the schema, named by its path
 * ("/grpc.health.v1.Health/Check"). */
int gw_upstream_unary_path(gw_upstream *up, const char *path, gw_buf *wire, int64_t timeout_ms,
                           gw_upstream_done done, void *arg);

/* Cancels the unary call started with `arg` (any thread); done still
 * arrives, with CANCELLED.  Nothing happens if it has completed. */
void gw_upstream_cancel_unary(gw_upstream *up, void *arg);

/* ---- streaming calls (client, server, bidirectional) ------------------------ */

typedef struct gw_stream gw_stream;

/*
 * Events of one streaming call, delivered on upstream threads, one at
 * a time, in order: zero or more messages, then done.  The first event's
 * result carries the response headers (initial metadata).  Each result is
 * the receiver's, to free with gw_upstream_result_free.
 * Flow control: after a message, no further event arrives until the
 * receiver calls gw_stream_next.
 */
typedef struct gw_stream_handler {
    void (*on_message)(void *arg, gw_upstream_result *message);
    void (*on_done)(void *arg, gw_upstream_result *status);
    int read_ahead; /* read on without gw_stream_next (a method with one reply) */
} gw_stream_handler;

/* A streaming call's request messages, serialized back to back in one
 * buffer (a client-streaming body may hold a million small ones: a buffer
 * each cost hundreds of bytes a message): message i is
 * data[ends[i - 1] (0 for the first) .. ends[i]). */
typedef struct gw_request_messages {
    gw_buf data;
    size_t *ends; /* malloc'ed */
    size_t n, cap;
} gw_request_messages;

#define GW_REQUEST_MESSAGES_INIT {GW_BUF_INIT, NULL, 0, 0}

/* Ends the message being appended to m->data where data ends now; 0, or -1
 * when out of memory. */
int gw_request_messages_end(gw_request_messages *m);

void gw_request_messages_free(gw_request_messages *m);

/* Starts a streaming call of any kind: sends the messages of `requests` one
 * after another, then half-closes, while the replies arrive as events.
 * The messages are taken over (*requests is left empty), also when NULL is
 * returned.  Other arguments as for gw_upstream_unary.  Returns the stream,
 * or NULL if it could not be started (no event then). */
gw_stream *gw_upstream_stream(gw_upstream *up, const gw_method *method,
                              gw_request_messages *requests, const gw_metadata *md, size_t n_md,
                              int64_t timeout_ms, const gw_stream_handler *handler, void *arg);

/* Asks for the event after the last message delivered. */
void gw_stream_next(gw_stream *s);

/* Cancels the call (the client went away); done still arrives. */
void gw_stream_cancel(gw_stream *s);

/* The receiver is finished with the stream: after done, or to abandon it
 * (which cancels it).  No event arrives after this returns. */
void gw_stream_release(gw_stream *s);

/* Cancels every call in flight (the gateway is stopping); each callback
 * still runs, with UNAVAILABLE and GW_STOPPING_MESSAGE. */
void gw_upstream_cancel_all(gw_upstream *up);

/* Cancels what is in flight, waits for the callbacks, then destroys the
 * channel and joins the threads. */
void gw_upstream_stop(gw_upstream *up);

void gw_upstream_result_free(gw_upstream_result *result);

#endif /* GW_UPSTREAM_H */
