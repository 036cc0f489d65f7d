/*
 * rp_metrics_http.h -- a minimal HTTP/1.x endpoint that serves one
 * registry at GET /metrics, for programs that have no HTTP server of their
 * own (rpcrest-host's [host] metrics_listen).
 *
 * One thread accepts and answers one connection at a time, each with
 * "Connection: close" and a short receive timeout, so a slow or silent
 * client cannot hold it long.  Scrapes are rare; nothing here is on a
 * call's path.
 */
#ifndef RP_METRICS_HTTP_H
#define RP_METRICS_HTTP_H

#include <stddef.h>

#include "rp_metrics.h"

typedef struct rp_metrics_http rp_metrics_http;

/*
 * Listens on `listen` ("IP:PORT", "[IPV6]:PORT", "localhost:PORT";
 * SO_REUSEPORT when `reuseport`, for two processes during a hand-over) and
 * starts the thread.  `m` must outlive the endpoint.  Returns NULL with a
 * reason in err[errlen].
 */
rp_metrics_http *rp_metrics_http_start(const char *addr, rp_metrics *m, int reuseport,
                                       char *err, size_t errlen);

/* Stops the thread, closes the socket, frees. NULL is a no-op. */
void rp_metrics_http_stop(rp_metrics_http *h);

#endif /* RP_METRICS_HTTP_H */
