/*
 * host_accept.h -- keeps gRPC core's listeners alive at the open-files
 * limit.
 *
 * gRPC core 1.51 stops accepting on a listener for good once accept4 fails
 * with EMFILE or ENFILE: it never watches the socket again, and the host's
 * port and private socket are closed to every client until a restart,
 * while the host looks healthy.  The host's link wraps accept4
 * (-Wl,--wrap=accept4, which reaches gRPC core linked statically): at the
 * limit the wrapper frees a descriptor it keeps in reserve, accepts what
 * waits and closes it at once (its clients see the connection closed and
 * may try again, as nginx and libuv shed such connections), takes the
 * reserve back and tells gRPC core EAGAIN, so that it keeps watching.
 * Every other accept goes straight through.  (With GRPC_LINK=shared the
 * wrapper never sees gRPC core's accepts.)
 */
#ifndef HOST_ACCEPT_H
#define HOST_ACCEPT_H

#include <sys/socket.h>

/* Opens the reserve descriptor; once, at start.  0, or -1 (logged: the
 * host then runs without it, as gRPC core alone would). */
int host_accept_keep_reserve(void);

/* accept4, as gRPC core calls it through the link's --wrap. */
int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

#endif /* HOST_ACCEPT_H */
