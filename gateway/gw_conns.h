/*
 * gw_conns.h -- the HTTP front end's connection limits: [gateway]
 * max_connections (a connection beyond it is closed as soon as it is
 * accepted; exact to within the number of HTTP threads, which may each admit
 * one at the same moment) and the request-header deadline of [gateway]
 * connection_timeout (a connection that has not sent a complete request
 * header within that many seconds of opening, or of its previous request's
 * end, is shut down: slowloris clients that trickle bytes to dodge an idle
 * timeout).  Idle and stalled connections are libmicrohttpd's own connection
 * timeout, set to the same value by gw_http.c.  Knows nothing of requests
 * beyond those points.
 */
#ifndef GW_CONNS_H
#define GW_CONNS_H

#include <microhttpd.h>

typedef struct gw_conns gw_conns;

/* Starts the deadline thread.  Returns NULL if out of memory or the
 * thread cannot start. */
gw_conns *gw_conns_new(unsigned max_connections, unsigned header_timeout_s);

/* Stops the thread and frees everything; every connection must have been
 * reported closed (MHD_stop_daemon does that). */
void gw_conns_free(gw_conns *c);

/* Connections open now (any thread: one atomic load). */
unsigned gw_conns_open(gw_conns *c);

/* MHD's accept policy: MHD_YES while fewer than max_connections are open. */
enum MHD_Result gw_conns_admit(gw_conns *c);

/* MHD's connection notifications (MHD_OPTION_NOTIFY_CONNECTION):
 * *socket_context holds the connection's record between the two. */
void gw_conns_opened(gw_conns *c, struct MHD_Connection *conn, void **socket_context);
void gw_conns_closed(gw_conns *c, void **socket_context);

/* A request's header is complete (the access handler's first call), and
 * its answer is done (the completion callback): the connection's header
 * deadline stops, and starts again for the next request. */
void gw_conns_header_done(struct MHD_Connection *conn);
void gw_conns_request_done(struct MHD_Connection *conn);

#endif /* GW_CONNS_H */
