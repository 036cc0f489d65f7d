/*
 * host_server.h -- the gRPC server: listening socket, method registration,
 * one completion queue and worker thread per configured thread, the event
 * dispatch, and the shutdown order.
 *
 * What happens to one call is host_call's; what plugins are is host_plugin's.
 */
#ifndef HOST_SERVER_H
#define HOST_SERVER_H

#include <stddef.h>

#include "host_plugin.h"

typedef struct host_server host_server;

/* What the server is told by [host]. */
typedef struct host_server_conf {
    const char *listen;       /* "host:port", "[v6]:port", "unix:/path" */
    size_t threads;           /* workers, one completion queue each; >= 1 */
    size_t max_message_bytes; /* larger requests get RESOURCE_EXHAUSTED */
    int max_concurrent_streams; /* per HTTP/2 connection */
    int min_ping_interval_ms;   /* clients' PINGs closer than this are strikes */
    int ping_without_calls;     /* ... on connections without calls too (else 2 h) */
    int max_connection_idle_ms; /* GOAWAY after this long without calls; 0 = never */
    int max_connection_age_ms;  /* GOAWAY after this long; 0 = never */
    int max_connection_age_grace_ms; /* then closed after this long; -1 = never */
    int reuseport;            /* SO_REUSEPORT: a second host may bind the port (hand-over) */
    int cancel_grace_ms;      /* a stop's cancelled calls get this long to be finished */
    const char *cert;         /* PEM certificate chain for TLS on listen, or NULL */
    const char *key;          /* its PEM private key (with cert) */
    const char *client_ca;    /* PEM CAs: clients must show a certificate they signed */
} host_server_conf;

/*
 * Creates the server and, when conf->listen is a TCP address, binds it
 * (with TLS when conf->cert is set): the part that may need root, for a
 * port below 1024.  Returns the server, or NULL after logging why ("[host]
 * listen: cannot bind ADDRESS" when the address is taken).  Call after
 * grpc_init; conf is read during the call only (the PEM texts are copied by
 * gRPC).
 */
host_server *host_server_create(const host_server_conf *conf);

/*
 * Binds a unix conf->listen and `private_listen` ("unix:/path" for the
 * gateway, plaintext, made mode 0600; NULL for none; if it cannot be bound
 * that is logged, with why, and it is left out) as the current effective
 * user, and registers every method of ps.  Returns 1 when private_listen is
 * bound, 0 when it is not, or -1 after logging why; either way
 * host_server_stop frees s.  ps must outlive the server.
 */
int host_server_prepare(host_server *s, const host_plugins *ps, const host_server_conf *conf,
                        const char *private_listen);

/*
 * Starts the server: it accepts connections from now on.  gRPC binds one
 * more socket on a TCP port per completion queue here (SO_REUSEPORT), so
 * this runs as the user that bound the port.  Calls reach no plugin until
 * host_server_serve.
 */
void host_server_start(host_server *s);

/* Starts the workers and posts their first requests: calls are served.
 * Returns 0, or -1 after logging why. */
int host_server_serve(host_server *s);

/*
 * Starts draining: the health service goes NOT_SERVING, the server stops
 * accepting calls (clients get GOAWAY; new calls go elsewhere or fail with
 * UNAVAILABLE), and the calls in flight get up to `seconds` to finish.
 * Returns once they all have, or when the time is up (then logs how many
 * are left); host_server_stop cancels those.  seconds <= 0: don't wait.
 * Call once, from the thread that will call host_server_stop.
 */
void host_server_drain(host_server *s, double seconds);

/*
 * Stops accepting calls (if draining did not already), cancels those in
 * flight, waits until every call record is freed (so every handler has
 * returned and every call was finished), then closes the queues, joins the
 * workers, frees s and returns 0.  When a plugin has not finished some
 * calls 5 s after they were cancelled, returns -1 (logged) and frees
 * nothing: the process can only exit without unloading its plugins.
 */
int host_server_stop(host_server *s);

#endif /* HOST_SERVER_H */
