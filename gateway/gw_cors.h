/*
 * gw_cors.h -- cross-origin requests from browsers (CORS, the Fetch
 * standard): which origins may call ([gateway] cors_origins), the headers
 * of their answers, and the answer to a preflight (OPTIONS with
 * Access-Control-Request-Method).
 */
#ifndef GW_CORS_H
#define GW_CORS_H

#include <microhttpd.h>

/* The policy, from the configuration (borrowed strings). */
typedef struct gw_cors {
    char *const *origins; /* allowed origins, compared exactly with Origin */
    size_t n_origins;
    int any;              /* any origin: Access-Control-Allow-Origin: * */
    int credentials;      /* Access-Control-Allow-Credentials: true (never with any) */
    int max_age_s;        /* Access-Control-Max-Age of a preflight's answer */
} gw_cors;

/* 1 if some origin may call. */
static inline int gw_cors_enabled(const gw_cors *c)
{
    return c->any || c->n_origins > 0;
}

/* The Access-Control-Allow-Origin of the answer to a request whose Origin
 * header is `origin` (NULL: none): "*", or `origin` itself, or NULL when it
 * may not call (the answer then has no CORS headers). */
const char *gw_cors_allow_origin(const gw_cors *c, const char *origin);

/* Adds to `resp`, the answer to a request from an origin that may call
 * (allow_origin from gw_cors_allow_origin), or to any request when
 * allow_origin is NULL: Vary: Origin when the answer depends on it, and
 * for an allowed origin Access-Control-Allow-Origin, -Allow-Credentials and
 * -Expose-Headers (the answer's own header fields that a browser hides
 * otherwise, such as Grpc-Metadata-* and X-Request-Id, and the names
 * `also` lists, ", "-separated, whether the answer has them or not: NULL
 * for none).  Call it last, once every other header is in. */
void gw_cors_add_headers(const gw_cors *c, const char *allow_origin, struct MHD_Response *resp,
                         const char *also);

/* Adds a preflight answer's own headers: Access-Control-Allow-Methods
 * (`methods`, what the path takes), -Allow-Headers (the request's
 * Access-Control-Request-Headers, `requested`, when it is a list of field
 * names) and -Max-Age. */
void gw_cors_add_preflight(const gw_cors *c, struct MHD_Response *resp, const char *methods,
                           const char *requested);

#endif /* GW_CORS_H */
