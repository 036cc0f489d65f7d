/*
 * gw_upstream.h -- the gateway's control connection to the upstream (the
 * rpcrest-host, or any gRPC server): an HTTP/2 client of its own (gw_h2,
 * served by no HTTP thread) for discovery by server reflection, the
 * connectivity watch that starts discovery again, and the metrics'
 * upstream state.  Its thread keeps it connected while nobody holds it.
 *
 * Thread-safe.
 */
#ifndef GW_UPSTREAM_H
#define GW_UPSTREAM_H

#include <stdint.h>

#include "gw_call.h"
#include "gw_h2.h"
#include "gw_resolve.h"
#include "rp_tls.h"

typedef struct gw_upstream gw_upstream;

/* The control connection to the upstream `resolver` gives the addresses
 * of (it must outlive it), with TLS as gw_h2_new takes it (tls read during
 * the call only).  It starts connecting at once.  NULL with the reason in
 * err[errlen]. */
gw_upstream *gw_upstream_start(gw_resolver *resolver, const rp_tls_pem *tls,
                               const char *tls_name, char *err, size_t errlen);

/* The client, for the calling thread alone until gw_upstream_release
 * (which another may be waiting for): it drives the client itself with
 * gw_h2_poll, and ends every call it started before releasing it. */
gw_h2 *gw_upstream_hold(gw_upstream *up);
void gw_upstream_release(gw_upstream *up);

/* The connection's state as last seen (any thread, cheap). */
gw_h2_state gw_upstream_state(gw_upstream *up);

/* Waits up to timeout_ms for the state to be other than `from`; returns
 * it. */
gw_h2_state gw_upstream_wait_change(gw_upstream *up, gw_h2_state from, int64_t timeout_ms);

/* Closes the connection and ends the thread.  NULL is ignored. */
void gw_upstream_stop(gw_upstream *up);

#endif /* GW_UPSTREAM_H */
