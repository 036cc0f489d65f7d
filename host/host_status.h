/*
 * host_status.h -- the message of a call's status as the host sends it:
 * valid UTF-8, and short enough that gRPC clients take the status at all.
 *
 * Knows nothing of calls; host_call applies it to what plugins give.
 */
#ifndef HOST_STATUS_H
#define HOST_STATUS_H

#include <stddef.h>

/* The most a status message takes on the wire (see host_status_wire_len). */
#define HOST_STATUS_MESSAGE_MAX 2048

/* The most the message (on the wire) and the serialized google.rpc.Status
 * details (base64, as gRPC sends a -bin trailer) take together.  gRPC
 * clients refuse a status header block over 8 KiB; the rest is left to the
 * other trailers. */
#define HOST_STATUS_BUDGET 6144

/*
 * A malloc'd copy of `message` (NULL: none) to send as a status message:
 * each invalid UTF-8 sequence (each maximal invalid part, as Unicode
 * recommends) becomes U+FFFD, and a message that would take more than
 * HOST_STATUS_MESSAGE_MAX bytes on the wire is cut at a character boundary
 * and ends with "...".  NULL when message is NULL or out of memory.
 * Applied to its own result, it returns the same text.
 */
char *host_status_message(const char *message);

/* The bytes s takes in a grpc-message header: gRPC percent-encodes every
 * byte outside printable ASCII, and '%', into three. */
size_t host_status_wire_len(const char *s);

#endif /* HOST_STATUS_H */
