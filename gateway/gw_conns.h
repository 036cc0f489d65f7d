/*
 * gw_conns.h -- the HTTP front end's connection limits: [gateway]
 * max_connections (a connection beyond it is closed as soon as it is
 * accepted; exact to within the number of HTTP threads, which may each admit
 * one at the same moment) and the request-header deadline of [gateway]
 * connection_timeout (a connection that has not sent a complete request
 * header within that many seconds of opening, or of its previous request's
 * end, is shut down: slowloris clients that trickle bytes to dodge an idle
 * timeout).  Idle and stalled connections are libmicrohttpd's own connection
 * timeout, set to the same value by gw_http.c.  And a connection whose
 * body libmicrohttpd has stopped reading for good (a chunk-size line longer
 * than its buffer: bytes wait in the socket while its loop goes round) is
 * shut down within a second.  Knows nothing of requests beyond those
 * points.
 */
#ifndef GW_CONNS_H
#define GW_CONNS_H

#include <microhttpd.h>
#include <stddef.h>

struct gw_loop;

typedef struct gw_conns gw_conns;

/* Starts the deadline thread.  Returns the limits (free with
 * gw_conns_free), or NULL with the reason in err[errlen]: GW_ERR_OOM, or
 * the pthread call that failed and its error; nothing is logged. */
gw_conns *gw_conns_new(unsigned max_connections, unsigned header_timeout_s, char *err,
                       size_t errlen);

/* Stops the thread and frees everything; every connection must have been
 * reported closed (MHD_stop_daemon does that). */
void gw_conns_free(gw_conns *c);

/* Connections open now (any thread: one atomic load). */
unsigned gw_conns_open(gw_conns *c);

/* The loops are about to be freed (their daemons, and connections, outlive
 * them a moment): no record looks at a loop any more. */
void gw_conns_forget_loops(gw_conns *c);

/* Connections whose body looks stalled inside libmicrohttpd now (shut
 * down if it stays so): any thread, one atomic load.  While there is one,
 * libmicrohttpd asks to be run again at once (gw_loop). */
unsigned gw_conns_suspects(gw_conns *c);

/* MHD's accept policy: MHD_YES while fewer than max_connections are open. */
enum MHD_Result gw_conns_admit(gw_conns *c);

/* MHD's connection notifications (MHD_OPTION_NOTIFY_CONNECTION):
 * *socket_context holds the connection's record between the two.  `loop`
 * runs the connection's daemon (for gw_loop_rounds). */
void gw_conns_opened(gw_conns *c, struct MHD_Connection *conn, void **socket_context,
                     const struct gw_loop *loop);
void gw_conns_closed(gw_conns *c, void **socket_context);

/* The slowest a request body may come once it has begun (bytes/s): a body
 * gets connection_timeout to begin and 1 s more for each this many bytes,
 * so that a client cannot hold a connection for ever by sending a byte
 * now and then (each byte restarts libmicrohttpd's idle timeout). */
#define GW_CONNS_BODY_MIN_RATE 1024

/* A request's header is complete (the access handler's first call): the
 * connection's deadline is now the body's.  body_read: a piece of the body
 * came; body_done: all of it (the call starts: no deadline of ours).
 * request_done: its answer is done (the completion callback): the
 * deadline starts again for the next request's header. */
void gw_conns_header_done(struct MHD_Connection *conn);
void gw_conns_body_read(struct MHD_Connection *conn, size_t bytes);
void gw_conns_body_done(struct MHD_Connection *conn);
void gw_conns_request_done(struct MHD_Connection *conn);

#endif /* GW_CONNS_H */
