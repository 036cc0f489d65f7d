/*
 * host_message.h -- the bytes of a received message, inflated here when the
 * client compressed it (grpc-encoding gzip or deflate), never past [host]
 * max_message_bytes.
 *
 * Used by every reader of request messages (plugin calls and the built-in
 * services); knows nothing of protobuf or of calls.
 */
#ifndef HOST_MESSAGE_H
#define HOST_MESSAGE_H

#include <grpc/grpc.h>
#include <grpc/status.h>
#include <stddef.h>

/*
 * The bytes of bb (as the client sent them, or inflated) into *out, a slice
 * the caller unrefs.  `max`: the most bytes a message may have once
 * inflated.  Returns GRPC_STATUS_OK, or the status to fail the call with
 * (RESOURCE_EXHAUSTED when it inflates to more than max, INTERNAL when it
 * does not inflate) after writing why into why[whylen]; *out is then unset.
 * bb stays the caller's.
 */
grpc_status_code host_message_read(grpc_byte_buffer *bb, size_t max, grpc_slice *out,
                                   char *why, size_t whylen);

#endif /* HOST_MESSAGE_H */
