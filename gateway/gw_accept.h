/*
 * gw_accept.h -- the gateway's listening socket, shared by its HTTP threads.
 *
 * Each loop watches the socket, accepts what waits and gives each connection
 * to the loop with the fewest open connections, itself when it is among
 * them.  So connections spread evenly over the threads, instead of piling
 * onto whichever loop woke first, which matters when requests cost CPU
 * (large JSON bodies).  A connection given to another loop waits in that
 * loop's inbox until the loop wakes and adds it to its libmicrohttpd daemon
 * (MHD_add_connection, on the daemon's own thread).
 *
 * Every watching loop wakes for an arrival, not one (no EPOLLEXCLUSIVE):
 * during a hand-over the old gateway's loops and the new one's watch the
 * same socket, and an exclusive wake-up could go to an old loop that was
 * stopping, which then stopped watching without accepting; the connection
 * waited, accepted by nobody, until another arrived (5 s and more for 1 in
 * 12 requests sent alone right after a reload).
 *
 * Owns the inboxes and the per-loop counts; not the socket (the caller
 * keeps it open until the loops have stopped) nor the daemons.
 */
#ifndef GW_ACCEPT_H
#define GW_ACCEPT_H

#include <stddef.h>

#include "gw_loop.h"

struct MHD_Daemon;
typedef struct gw_accept gw_accept;

/* For n_loops loops sharing listen_fd (non-blocking).  NULL if out of
 * memory. */
gw_accept *gw_accept_new(int listen_fd, size_t n_loops);

/* Loop i's share, to pass to gw_loop_new with the daemon it adds
 * connections to (started with MHD_USE_NO_LISTEN_SOCKET). */
gw_loop_source *gw_accept_source(gw_accept *a, size_t i, struct MHD_Daemon *daemon);

/* Loop i's daemon reports a connection started or closed (MHD's
 * NOTIFY_CONNECTION, which pairs them). */
void gw_accept_opened(gw_accept *a, size_t i);
void gw_accept_closed(gw_accept *a, size_t i);

/* Loop i's connections: those its daemon has open and those given to it
 * and not yet added.  Any thread. */
unsigned gw_accept_load(gw_accept *a, size_t i);

/* No loop accepts any more once it has woken (each is woken here): for a
 * graceful stop or a hand-over.  Any thread.  NULL is ignored. */
void gw_accept_stop(gw_accept *a);

/* 1 once, after gw_accept_stop, every loop has stopped accepting and every
 * connection accepted is in a daemon (none waits in an inbox): from then
 * on the daemons' connections are all there is to serve.  NULL: 1. */
int gw_accept_quiet(gw_accept *a);

/* After every loop has stopped: closes the connections still waiting in an
 * inbox and frees a.  NULL is ignored. */
void gw_accept_free(gw_accept *a);

#endif /* GW_ACCEPT_H */
