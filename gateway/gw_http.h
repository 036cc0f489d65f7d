/*
 * gw_http.h -- the gateway's HTTP/1.1 front end (libmicrohttpd): reads a
 * request, routes it, transcodes it, suspends the connection while the gRPC
 * call runs, resumes and answers from the call's result.  Owns the MHD
 * daemon and every per-request record; the upstream is borrowed and must
 * outlive it.  The API it serves is a gw_gen, replaced at run time with
 * gw_http_publish.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "gw_access.h"
#include "gw_cors.h"
#include "gw_gen.h"
#include "gw_headers.h"
#include "gw_json.h"
#include "gw_metrics.h"
#include "gw_upstream.h"

typedef struct gw_http_config {
    const char *listen;     /* "127.0.0.1:8080", "[::1]:8080", "localhost:8080" */
    int listen_fd;          /* >= 0: a socket listening on `listen` (inherited from rpcrestd,
                             * or bound before giving up root), used as is and the
                             * HTTP server's once it started; else bound at start */
    const char *cert;       /* PEM certificate chain: HTTPS (GnuTLS); NULL: HTTP */
    const char *key;        /* its PEM private key; both must live until gw_http_stop */
    int threads;            /* HTTP threads (one event loop and daemon each), >= 1 */
    unsigned connection_timeout_s; /* an idle or stalled connection is closed after this */
    unsigned max_connections; /* connections at once; more are closed when accepted */
    unsigned busy_poll_us;  /* with one connection open, an HTTP thread polls this long
                             * before it sleeps (gw_loop_busy_poll); 0: never */
    size_t max_body_bytes;  /* larger bodies get 413 */
    int64_t timeout_ms;     /* deadline of a call without Grpc-Timeout */
    int64_t max_timeout_ms; /* the most a Grpc-Timeout header may ask */
    int ignore_unknown_query_parameters;
    gw_header_names forward; /* request headers sent on as metadata as they are */
    gw_header_names reply;  /* response metadata sent as these plain headers */
    gw_cors cors;           /* which browsers' origins may call */
    int gzip;               /* gzip JSON and text answers for clients that take it */
    int grpc_web;           /* also serve gRPC-Web calls (gw_http_web.c) */
    const char *status_metadata; /* reply metadata setting a success's HTTP status, or NULL */
    gw_json_options json;
    int docs;               /* serve /openapi.json and the console at /docs */
    const char *docs_dir;   /* the console's files (Swagger UI and its index page) */
    const char *openapi_title;   /* the document's info.title, or NULL: "rpcrest" */
    const char *openapi_version; /* its info.version, or NULL: "1" */
    gw_metrics *metrics;    /* borrowed: counts requests and answers GET /metrics; NULL: off */
    gw_access *access;      /* borrowed: the access log, or NULL */
    struct gw_resolver *loop_upstream; /* borrowed: the upstream's addresses; each HTTP
                             * thread makes the API's calls itself, on its own connections
                             * to them (gw_h2) */
    const struct rp_tls_pem *loop_upstream_tls; /* its TLS files (gw_h2_new), or NULL */
    const char *loop_upstream_name; /* the name its certificate must carry, or NULL */
    int loop_upstream_is_host; /* it is rpcrest-host: gw_h2_retry_shutdown_cancels */
} gw_http_config;

typedef struct gw_http gw_http;

/* The paths the HTTP listener answers itself, before the API's routes,
 * with /metrics on (metrics) and the console on (docs): /healthz always;
 * a path ending in '/' stands for everything below that folder.  Fills
 * out and returns how many. */
size_t gw_http_own_paths(int metrics, int docs, const char *out[GW_ROUTER_MAX_OWN_PATHS]);

/* Starts listening, serving `gen` (the caller's reference, taken also on
 * failure; NULL: no API yet) from the first connection on.  Returns NULL
 * with a reason in err[errlen].  cfg->cert and key must be ones GnuTLS
 * takes (gw_https_check): a failure here is not theirs. */
gw_http *gw_http_start(const gw_http_config *cfg, gw_gen *gen, char *err, size_t errlen);

/* Serves `gen` from now on (takes the caller's reference); requests already
 * routed keep the generation they started with.  Counted in the metrics. */
void gw_http_publish(gw_http *h, gw_gen *gen);

/* An API reload failed and the current one is kept: counted. */
void gw_http_api_failed(gw_http *h);

/* Stops accepting, lets requests in flight finish for up to grace_ms, then
 * cancels those left (UNAVAILABLE, GW_STOPPING_MESSAGE; a stream gets its
 * error line) and waits up to GW_HTTP_CANCEL_WAIT_MS for them to end;
 * stops the daemon and frees everything, the current generation included. */
#define GW_HTTP_CANCEL_WAIT_MS 2000
void gw_http_stop(gw_http *h, int64_t grace_ms);

#endif /* GW_HTTP_H */
