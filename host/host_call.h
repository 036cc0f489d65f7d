/*
 * host_call.h -- one call to a registered method, from the posted request to
 * the last free, and the rpcrest_call_* functions plugins call on it.
 *
 * The server module posts the first request of each method on each queue
 * and hands the call's completion-queue events here; everything after that
 * (re-posting, decoding, the handler, the reply, freeing) is this module's.
 */
#ifndef HOST_CALL_H
#define HOST_CALL_H

#include <rpcrest/rpcrest.h>

#include "host_plugin.h"
#include "host_queue.h"

/* The request metadata a plugin's call may carry, counted as HPACK counts it
 * (name + value + 32 per entry, a -bin value as unpadded base64, as grpc-go
 * and grpc-java send it): gRPC's usual 8 KiB.  A call with more fails with
 * RESOURCE_EXHAUSTED before its handler runs.  gRPC core's own limit
 * (host_server.c) is twice that: core 1.51 enforcing it may close the
 * whole connection. */
#define HOST_REQUEST_METADATA_MAX 8192

/*
 * Allocates a call record and posts grpc_server_request_registered_call for
 * method m (registered as `registered`) on q.  Returns 0, or -1 after
 * logging.  The record then belongs to q's event loop: it is freed by
 * host_call_on_event, and counted in q->live until then.  q, m and
 * `registered` must outlive the record.
 */
int host_call_request(const host_queue *q, const host_method *m, void *registered);

/*
 * Handles an event whose tag is one of HOST_TAG_CALL_* (ok is the event's
 * `success`).  On a new call it first posts the replacement request, then
 * decodes the request and runs the handler.  May free the record.
 */
void host_call_on_event(host_tag *tag, int ok);

#endif /* HOST_CALL_H */
