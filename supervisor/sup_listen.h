/*
 * sup_listen.h -- what rpcrestd holds on its children's behalf: the
 * gateway's listening socket (created once, inherited by every gateway
 * generation, so a hand-over never closes it) and the lock that makes one
 * rpcrestd the only one serving a [host] listen address (the host binds with
 * SO_REUSEPORT during hand-overs, so the kernel no longer refuses a second
 * instance).
 */
#ifndef SUP_LISTEN_H
#define SUP_LISTEN_H

#include <stddef.h>

typedef struct sup_lock {
    int fd;     /* the locked file, or -1 */
    char *path; /* owned */
} sup_lock;

/* Takes the lock for host listen address `addr`: a file in
 * $XDG_RUNTIME_DIR, or else /tmp/rpcrest-UID (created 0700).  Returns 0, or
 * -1 with the reason in err[errlen] (EWOULDBLOCK: another rpcrestd holds
 * it). */
int sup_lock_take(sup_lock *lock, const char *addr, char *err, size_t errlen);

/* Unlocks and removes the file; a no-op for a lock not held. */
void sup_lock_release(sup_lock *lock);

#endif /* SUP_LISTEN_H */
