/*
 * sup_listen.h -- what rpcrestd holds on its children's behalf: the
 * gateway's listening socket (created once, inherited by every gateway
 * generation, so a hand-over never closes it), and what keeps a second
 * instance off the host's ports, which the host binds with SO_REUSEPORT for
 * hand-overs, so that the kernel no longer refuses a second binder: a lock
 * per [host] listen address, and a check that nobody listens on the host's
 * TCP ports before a host of ours binds them.
 */
#ifndef SUP_LISTEN_H
#define SUP_LISTEN_H

#include <stddef.h>

#include "rp_config.h"

typedef struct sup_lock {
    int fd;     /* the locked file, or -1 */
    char *path; /* owned */
} sup_lock;

/* Takes the lock for host listen address `addr` (a TCP address by its
 * numbers, so that localhost:P and 127.0.0.1:P share one): a file in
 * $XDG_RUNTIME_DIR, or else /tmp/rpcrest-UID (created 0700).  Returns 0, or
 * a negative errno with the reason in err[errlen]: -EWOULDBLOCK when
 * another rpcrestd holds it. */
int sup_lock_take(sup_lock *lock, const char *addr, char *err, size_t errlen);

/* 1 if listen addresses a and b are the same (TCP: the same socket address,
 * however spelled), else 0. */
int sup_same_address(const char *a, const char *b);

/* Checks that cfg's host can bind its addresses ([host] listen and
 * metrics_listen): each TCP one by binding it without SO_REUSEPORT for a
 * moment (another process listening there, an address that is not this
 * machine's, a port that needs root), the folder of a unix one.
 * Addresses of `running`'s host (the configuration whose host runs now, or
 * NULL) are ours and skipped.  Returns 0, or a negative errno with
 * "FILE:LINE: [host] KEY: ADDR is in use by another process" (or "cannot
 * bind ADDR: WHY", or "ADDR: folder F: WHY") in err[errlen].  Errors that
 * are not the address's (out of descriptors) are left to the host. */
int sup_host_ports_free(const rp_config *cfg, const rp_config *running, char *err,
                        size_t errlen);

/* Unlocks and removes the file; a no-op for a lock not held. */
void sup_lock_release(sup_lock *lock);

#endif /* SUP_LISTEN_H */
