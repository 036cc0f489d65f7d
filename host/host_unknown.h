/*
 * host_unknown.h -- calls to methods nobody registered: caught with
 * grpc_server_request_call and answered UNIMPLEMENTED, so that they fail at
 * once instead of hanging until the client's deadline.
 */
#ifndef HOST_UNKNOWN_H
#define HOST_UNKNOWN_H

#include "host_queue.h"

/*
 * Posts one grpc_server_request_call on q.  Returns 0, or -1 after logging.
 * The record belongs to q's event loop (host_unknown_on_event frees it) and
 * is counted in q->live until then; q must outlive it.
 */
int host_unknown_request(const host_queue *q);

/* Handles an event whose tag is HOST_TAG_UNKNOWN_*: re-posts the request and
 * answers the call, or frees the record. */
void host_unknown_on_event(host_tag *tag, int ok);

#endif /* HOST_UNKNOWN_H */
