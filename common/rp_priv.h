/*
 * rp_priv.h -- least privilege: running as [supervisor] user/group, and
 * refusing files that other users could have changed (sshd's StrictModes).
 *
 * rpcrestd stays root (it binds the gateway's port again on a reload); the
 * host and the gateway switch to the service user themselves once their
 * TCP ports are bound, before they accept anything.  The host loads its
 * plugins with the service user's effective ids (rp_priv_lower), is root
 * again only to start gRPC's server, then switches for good.
 * Owns no state.
 */
#ifndef RP_PRIV_H
#define RP_PRIV_H

#include <stddef.h>

#include "rp_config.h"

/*
 * Whether this process can run as cfg's [supervisor] user: it is root, or
 * it already is that user (and group).  Returns 0 (also when no user is
 * set), or -1 with "FILE:LINE: user = NAME: why" in err[errlen].
 */
int rp_priv_check(const rp_config *cfg, char *err, size_t errlen);

/*
 * Takes on cfg's user and group as effective ids only (and the user's
 * supplementary groups), keeping root as the saved user, so that what the
 * process opens and creates from now on is checked and owned as that user,
 * until rp_priv_drop.  For what must still happen as root afterwards (the
 * host: gRPC binds more sockets on its port when the server starts).  Not a
 * security boundary by itself: code running now could switch back.  Unsets
 * XDG_RUNTIME_DIR (root's).  A no-op (0) when no user is set or the process
 * runs as that user already; 1 when it switched; -1 with err[errlen].
 */
int rp_priv_lower(const rp_config *cfg, char *err, size_t errlen);

/* Undoes rp_priv_lower (root's effective ids again).  Returns 0 (also when
 * nothing was lowered), or -1 with err[errlen]. */
int rp_priv_raise(char *err, size_t errlen);

/*
 * Switches this process for good to cfg's user and group: supplementary
 * groups (initgroups), then the group, then the user (real, effective and
 * saved; after rp_priv_lower it becomes root again first), then checks
 * that root cannot be regained.  Re-arms the
 * parent-death signal (a change of user clears it) and unsets
 * XDG_RUNTIME_DIR (the previous user's).  A no-op when no user is set or
 * the process runs as that user already.  Returns 1 when it switched, 0 for
 * a no-op, -1 with the reason in err[errlen].
 */
int rp_priv_drop(const rp_config *cfg, char *err, size_t errlen);

/*
 * sshd's StrictModes for `path` (absolute, without symlinks): the file and
 * every folder above it must be owned by root or by this process's
 * effective user, and must not be writable by group or others; a folder
 * owned by root with the sticky bit (such as /tmp) may be, since nobody
 * else can rename or replace what is in it.  Returns 0, or -1 with
 * "PATH: why" (PATH the offending file or folder) in err[errlen].
 */
int rp_priv_check_path(const char *path, char *err, size_t errlen);

#endif /* RP_PRIV_H */
