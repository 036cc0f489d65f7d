/*
 * rp_notify.h -- what a child of rpcrestd inherits from it, and what it tells
 * it back: the readiness notification fd (s6 style), listening sockets
 * (systemd LISTEN_FDS style), the hand-over switch; and rpcrestd's own
 * READY=1 to systemd (NOTIFY_SOCKET).
 *
 * Owns the environment protocol only.  Does not start, stop or supervise
 * anything; a program started by hand sees none of these variables and every
 * function here is then a no-op.
 */
#ifndef RP_NOTIFY_H
#define RP_NOTIFY_H

#include <sys/socket.h>

/* The fd number a child writes "READY\n" to once it really serves. */
#define RP_NOTIFY_FD_ENV "RPCREST_NOTIFY_FD"
/* "1": another generation of this program may run on the same address
 * during a hand-over, so the listener must allow a second bind
 * (SO_REUSEPORT). */
#define RP_HANDOVER_ENV "RPCREST_HANDOVER"
/* The first inherited listening socket (sd_listen_fds: SD_LISTEN_FDS_START). */
#define RP_LISTEN_FDS_START 3

/* 1 if rpcrestd started this process (its readiness fd is in the
 * environment, not yet used by rp_notify_ready), else 0. */
int rp_notify_supervised(void);

/*
 * Tells whoever started this process that it is ready: writes "READY\n" to
 * the fd named by $RPCREST_NOTIFY_FD, closes it and unsets the variable, so
 * a second call is a no-op.  Call it once the program really serves
 * (listening, plugins loaded).  Returns 0 (also when the variable is not
 * set), or a negative errno if the fd cannot be written; the caller logs it.
 */
int rp_notify_ready(void);

/*
 * Among the listening sockets passed by the parent ($LISTEN_FDS sockets from
 * fd 3, for this process: $LISTEN_PID), the one bound to `listen`
 * ("127.0.0.1:8080", "[::1]:8080", "localhost:8080").  Returns the fd (now
 * close-on-exec, owned by the caller), or -1 if none matches or nothing was
 * passed.
 */
int rp_notify_listener(const char *listen);

/*
 * A listening TCP socket on `addr` ("127.0.0.1:8080", "[::1]:8080",
 * "localhost:8080"), SO_REUSEADDR, close-on-exec: what rpcrestd passes to
 * the gateway, and what a gateway started by hand binds before it gives up
 * root.  Returns the fd, or a negative errno with the reason in
 * err[errlen] (-EINVAL: addr is not an address).
 */
int rp_notify_listen_tcp(const char *addr, char *err, size_t errlen);

/* 1 if rp_notify_listen_tcp's (or bind's) error rc comes from the address
 * itself: not an address, in use, not one of this machine's, a port that
 * needs root, a family the kernel lacks; an error in the configuration,
 * unlike running out of descriptors or memory. */
int rp_notify_listen_error_is_config(int rc);

/* 1 if $RPCREST_HANDOVER is "1" (see RP_HANDOVER_ENV), else 0. */
int rp_notify_handover(void);

/*
 * For a program whose listener shares its port (SO_REUSEPORT) with the
 * previous generation during a hand-over: finds this process's listening
 * sockets on `listen`'s port and attaches to their SO_REUSEPORT group a
 * classic BPF program that sends every new connection to the socket that
 * joined the group second, i.e. to the newer of two generations (with one
 * socket the kernel falls back to it).  Call it once listening.  Returns
 * how many sockets it found, or a negative errno.
 */
int rp_notify_steer_to_newest(const char *listen);

/*
 * Sends `state` ("READY=1", "STOPPING=1", "STATUS=…") to systemd's
 * $NOTIFY_SOCKET (a path, or "@name" for an abstract socket).  Returns 1 if
 * sent, 0 if NOTIFY_SOCKET is not set, or a negative errno.
 */
int rp_notify_systemd(const char *state);

#endif /* RP_NOTIFY_H */
