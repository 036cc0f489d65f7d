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

/*
 * Creates the server on `listen` ("host:port", "[v6]:port", "unix:/path"),
 * registers every method of ps, starts it, starts `threads` workers (one
 * completion queue each) and posts their first requests.  Returns the
 * server, or NULL after logging why ("listen ADDRESS: cannot bind" when the
 * address is taken).  Call after grpc_init; ps must outlive the server.
 */
host_server *host_server_start(const host_plugins *ps, const char *listen, size_t threads);

/*
 * Stops accepting calls, cancels those in flight, waits until every call
 * record is freed (so every handler has returned and every call was
 * finished), then closes the queues, joins the workers and frees s.
 */
void host_server_stop(host_server *s);

#endif /* HOST_SERVER_H */
