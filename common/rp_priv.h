/*
 * rp_priv.h -- least privilege: running as [supervisor] user/group, and
 * refusing files that other users could have changed (sshd's StrictModes).
 *
 * rpcrestd stays root (it binds the gateway's port again on a reload); the
 * host and the gateway switch to the service user themselves, once their
 * TCP ports are bound and before they load plugins or accept anything.
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
 * Switches this process for good to cfg's user and group: supplementary
 * groups (initgroups), then the group, then the user (real, effective and
 * saved), then checks that root cannot be regained.  Re-arms the
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
