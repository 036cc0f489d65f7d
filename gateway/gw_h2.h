/*
 * gw_h2.h -- gRPC calls on an HTTP thread's own loop, over HTTP/2
 * connections (nghttp2) of that loop alone to the upstream's addresses
 * (gw_resolver: a unix socket, IP addresses, or a name's), as many as its
 * calls in flight need (up to GW_H2_CONNECTIONS), so a request's call is
 * sent, its reply read and the request answered on one thread, without
 * gRPC core.  Several addresses take calls in turn (round robin), each
 * with its own backoff.  Streaming calls of any kind go the same way
 * (gw_h2_stream), and so do /healthz's checks; over TLS too.  A client
 * that no loop serves (the control connection, gw_upstream.h) is driven
 * by the thread that holds it (gw_h2_poll).
 *
 * Not thread-safe: a gw_h2 belongs to its loop (or its holder); every
 * function but gw_h2_cancel_all runs on that loop's thread.
 */
#ifndef GW_H2_H
#define GW_H2_H

#include <stddef.h>
#include <stdint.h>

#include "gw_buf.h"
#include "gw_loop.h"
#include "gw_call.h"
#include "gw_resolve.h"
#include "rp_tls.h"

typedef struct gw_h2 gw_h2;

/* A client for the upstream `resolver` gives the addresses of (it must
 * outlive the client), to be given to its loop as sources (gw_h2_sources)
 * when the loop starts; connects on the first call.  With `tls` (its ca
 * set; read during the call only), over TLS: the upstream's certificate
 * must be signed by tls->ca and carry tls_name, or if NULL the target's
 * name, or else the address connected to ("localhost" for a unix socket);
 * tls->cert and tls->key, if set, are the gateway's own (mutual TLS).
 * Returns it (free with gw_h2_free), or NULL with the reason in
 * err[errlen]: GnuTLS refuses a PEM text, or memory ran out (GW_ERR_OOM). */
gw_h2 *gw_h2_new(gw_resolver *resolver, const rp_tls_pem *tls, const char *tls_name,
                 char *err, size_t errlen);

/* The most connections that take new calls at once: a new one opens when
 * those open carry as many calls as the upstream takes on one (its
 * SETTINGS_MAX_CONCURRENT_STREAMS), as gRPC's channels and Envoy's pools
 * do; beyond that, calls wait in the client. */
#define GW_H2_CONNECTIONS 16

/* The client's sources, one per connection it may have at once (those
 * taking calls, and up to three more finishing their streams after a
 * GOAWAY), into out.  The first one's tick does the client's work
 * (deadlines, the queue, writing); the others' read their own connection. */
#define GW_H2_SOURCES (GW_H2_CONNECTIONS + 3)
void gw_h2_sources(gw_h2 *c, gw_loop_source *out[GW_H2_SOURCES]);

/*
 * For an upstream that is rpcrest-host (gRPC core 1.51): a call that ends
 * CANCELLED in a headers-only reply followed, in the same read, by
 * RST_STREAM(NO_ERROR) is sent again, on a new connection.  That pair is
 * what gRPC core writes for a call it cancels itself, here when the server
 * shuts down before the call was handed to a handler (one that finishes a
 * call CANCELLED sends no RST_STREAM, and rpcrest-host never cancels a call
 * it gave to a plugin with CANCELLED); without it a stopping host's last
 * calls reach REST clients as 499.  Off by default: another server may
 * cancel a call after it has run it.
 */
void gw_h2_retry_shutdown_cancels(gw_h2 *c, int on);

/* The client's connect failures are not logged (they are, once a run, by
 * default): its owner reports them with what it was doing. */
void gw_h2_quiet(gw_h2 *c);

/* Starts a unary call of `path` as gw_upstream_unary does (wire moved in,
 * md copied, done called exactly once on this thread unless -1). */
int gw_h2_unary(gw_h2 *c, const char *path, gw_buf *wire, const gw_metadata *md, size_t n_md,
                int64_t timeout_ms, gw_upstream_done done, void *arg);

/* The unary call started with `arg` ends with CANCELLED now (done runs
 * before this returns) and its stream is reset; nothing happens if it has
 * ended. */
void gw_h2_cancel(gw_h2 *c, void *arg);

/*
 * Starts a streaming call (client, server or bidirectional) of `path`, as
 * gw_upstream_stream does: the messages of `requests` are taken over (also
 * when NULL is returned) and sent one after another, then the half-close;
 * md is copied.  The handler's events come on this thread, as that
 * describes them: from the loop's ticks, and from gw_h2_stream_next (a
 * message that had come, or the end), never from inside the other
 * functions below, so a receiver may call those holding its own lock.
 * Returns the call, or NULL when out of memory (no event then).
 */
typedef struct gw_h2_call gw_h2_call;
gw_h2_call *gw_h2_stream(gw_h2 *c, const char *path, gw_request_messages *requests,
                         const gw_metadata *md, size_t n_md, int64_t timeout_ms,
                         const gw_stream_handler *handler, void *arg);
/* Asks for the event after the last message handed over. */
void gw_h2_stream_next(gw_h2_call *k);
/* Resets the stream (the client went away); done still comes, CANCELLED. */
void gw_h2_stream_cancel(gw_h2_call *k);
/* The receiver is finished with the call: after done, or to abandon it
 * (which cancels it); no event comes after this. */
void gw_h2_stream_release(gw_h2_call *k);
/* From any thread: every call in flight ends with UNAVAILABLE (on the
 * loop, soon after). */
void gw_h2_cancel_all(gw_h2 *c);

/*
 * A client that no loop serves is driven by the thread that holds it:
 * gw_h2_poll waits up to timeout_ms (< 0: no limit; less when a deadline
 * of the client's comes sooner), or until wake_fd (-1: none) is readable,
 * for its connections, then does their work and the client's, as a loop's
 * round would.  Its calls' events come from inside it.  (gw_h2_cancel_all
 * then takes effect at the next round.)
 */
void gw_h2_poll(gw_h2 *c, int64_t timeout_ms, int wake_fd);

/* The client's state, as a gRPC channel's: a connection up (its SETTINGS
 * came), one coming, every address in its backoff (or a name that does
 * not resolve), or none.  With `connect`, an idle client opens a
 * connection (CONNECTING), as a call would. */
typedef enum gw_h2_state {
    GW_H2_IDLE,
    GW_H2_CONNECTING,
    GW_H2_READY,
    GW_H2_TRANSIENT_FAILURE,
} gw_h2_state;
gw_h2_state gw_h2_connectivity(gw_h2 *c, int connect);

/* Closes the connection and frees the client; the loop has ended and no
 * call is in flight. */
void gw_h2_free(gw_h2 *c);

#endif /* GW_H2_H */
