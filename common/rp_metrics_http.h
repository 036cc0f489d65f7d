/*
 * rp_metrics_http.h -- a minimal HTTP/1.x endpoint that serves one
 * registry at GET /metrics, for programs that have no HTTP server of their
 * own (rpcrest-host's [host] metrics_listen).
 *
 * One thread serves up to 16 connections at once, each answered with
 * "Connection: close" within one deadline for the whole exchange (2 s), so
 * a few slow or silent clients cannot keep a scrape waiting.  Scrapes are
 * rare; nothing here is on a call's path.
 */
#ifndef RP_METRICS_HTTP_H
#define RP_METRICS_HTTP_H

#include <stddef.h>

#include "rp_metrics.h"

typedef struct rp_metrics_http rp_metrics_http;

/*
 * Listens on `addr` ("IP:PORT", "[IPV6]:PORT", "localhost:PORT";
 * SO_REUSEADDR always, SO_REUSEPORT when `reuseport`, for two processes
 * during a hand-over) but serves nothing yet: call rp_metrics_http_start,
 * e.g. once root privileges (a port below 1024) are gone.  `m` must
 * outlive the endpoint.  Returns NULL with a reason in err[errlen]; the
 * caller frees what it returns with rp_metrics_http_stop, started or not.
 */
rp_metrics_http *rp_metrics_http_bind(const char *addr, rp_metrics *m, int reuseport,
                                      char *err, size_t errlen);

/*
 * Starts the thread that serves h's socket.  Returns 0, or a negative
 * errno with a reason in err[errlen] (h stays bound and still needs
 * rp_metrics_http_stop).  Call it once.
 */
int rp_metrics_http_start(rp_metrics_http *h, char *err, size_t errlen);

/* Stops the thread if it was started (promptly: a connection being
 * served is dropped), closes the socket, frees.  NULL is a no-op. */
void rp_metrics_http_stop(rp_metrics_http *h);

#endif /* RP_METRICS_HTTP_H */
