/*
 * rp_private.h -- the host's private unix socket, the gateway's way in.
 *
 * Besides [host] listen, the host listens on a unix socket of its own and
 * the gateway, when it calls the host (no [gateway] upstream), prefers it:
 * a unix socket costs less per call than loopback TCP.  Both programs work
 * the path out from the config alone ([host] private_listen, else a name
 * derived from [host] listen in the runtime folder), so they agree without
 * talking.  That path is a symlink that the newest host points at its own
 * socket (PATH.PID), so that a host replacing another takes new
 * connections at once and the old one's exit removes nothing of the new
 * one's.  Owns no state; the host binds, the gateway connects.
 */
#ifndef RP_PRIVATE_H
#define RP_PRIVATE_H

#include <stddef.h>
#include <sys/types.h>

#include "rp_config.h"

/*
 * The stable path into out[outlen].  Returns 1; 0 when there is none
 * ([host] private_listen = off, or [host] listen is a unix socket already);
 * -1 when it is longer than a unix socket address allows.
 */
int rp_private_path(const rp_config *cfg, char *out, size_t outlen);

/*
 * Host: creates the default runtime folder if needed (mode 0700, ours),
 * checks that the socket's folder, whichever it is, is this user's own and
 * closed to everyone else (a symlink is refused), and writes the path this process binds ("unix:PATH.PID") into
 * addr[addrlen].  Returns 0, or -1 with the reason in err[errlen].
 */
int rp_private_prepare(const char *path, pid_t pid, char *addr, size_t addrlen, char *err,
                       size_t errlen);

/* Host, once bound: points `path` at addr's socket (an atomic rename of a
 * new symlink).  Returns 0, or -1 with the reason in err[errlen]. */
int rp_private_publish(const char *path, const char *addr, char *err, size_t errlen);

/* Host, once published: removes what hosts that were killed left next to
 * `path`, sockets (PATH.PID) bound over a minute ago that nobody accepts
 * on, and links to sockets that are gone; in the default runtime folder, those of every default
 * path (host-HASH.sock), not only this one's. */
void rp_private_sweep(const char *path);

/* Host, at exit: removes `path` if it still points at addr's socket. */
void rp_private_withdraw(const char *path, const char *addr);

/*
 * Gateway: 1 if a host of this user (or root) accepts connections on
 * `path` now, in a folder of this user that nobody else may enter; else 0,
 * with why[whylen] saying what is wrong when something answers but is not
 * trusted (empty when nothing answers).
 */
int rp_private_reachable(const char *path, char *why, size_t whylen);

#endif /* RP_PRIVATE_H */
