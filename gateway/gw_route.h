/*
 * gw_route.h -- google.api.http path templates and the route table.
 *
 * Template grammar (from google/api/http.proto):
 *   Template = "/" Segments [ ":" Verb ] ;
 *   Segments = Segment { "/" Segment } ;
 *   Segment  = "*" | "**" | LITERAL | Variable ;
 *   Variable = "{" FieldPath [ "=" Segments ] "}" ;
 * "**" must be the last segment.  Templates are compiled once at start;
 * matching works on the raw (still percent-encoded) request path and reports
 * where each variable's text lies, so that decoding follows the variable's
 * own rules (see gw_route_decode_var).
 */
#ifndef GW_ROUTE_H
#define GW_ROUTE_H

#include <stddef.h>

#include "gw_buf.h"
#include "gw_names.h"
#include "gw_result.h"
#include "gw_route_index.h"
#include "gw_schema.h"

#define GW_ROUTE_MAX_VARS 16
/* A request path of more segments matches no template (a 404). */
#define GW_ROUTE_MAX_PATH_SEGMENTS 128
#define GW_ROUTER_MAX_OWN_PATHS 8

typedef enum gw_seg_kind { GW_SEG_LITERAL, GW_SEG_STAR, GW_SEG_STARSTAR } gw_seg_kind;

typedef struct gw_segment {
    gw_seg_kind kind;
    char *literal;
} gw_segment;

typedef struct gw_template_var {
    char *field_path; /* "book.name" */
    size_t first;     /* first segment it covers */
    size_t end;       /* one past its last segment */
} gw_template_var;

typedef struct gw_template {
    gw_segment *segs;
    size_t n_segs;
    gw_template_var *vars;
    size_t n_vars;
    char *verb; /* NULL, or the text after the final ':' */
} gw_template;

/* Compiles `text`; returns 0, or -1 with the reason in err[errlen]. */
int gw_template_parse(const char *text, gw_template *out, char *err, size_t errlen);
void gw_template_free(gw_template *t);

/* Where one variable's raw text lies in the request path. */
typedef struct gw_path_span {
    size_t start;
    size_t len;
} gw_path_span;

/* Matches the raw path (no query string); on success fills spans[0..n_vars)
 * and returns 1, else 0. */
int gw_template_match(const gw_template *t, const char *path, gw_path_span *spans);

/* 1 if t matches path, or, for a folder one level deep ("/docs/"), some
 * path below it; else 0. */
int gw_template_may_match(const gw_template *t, const char *path);

/*
 * Percent-decodes the text of variable `var` of t into out, as http.proto
 * asks: a variable of one segment ("{id}", "{id=*}") is decoded whole, so
 * "a%2Fb" is "a/b"; one that may span several ("{name=shelves/N}",
 * "{path=**}") keeps "%2F"/"%2f" as they are, so that an escaped '/' is
 * told from a segment boundary.  Returns GW_OK, GW_REFUSED for a
 * malformed escape, or GW_NOMEM.
 */
gw_result gw_route_decode_var(const gw_template *t, size_t var, const char *text,
                              size_t len, gw_buf *out);

typedef struct gw_route {
    const gw_method *method;
    const gw_http_binding *binding;
    gw_template tmpl;
    /* google.api.HttpBody, decided when the route is built (gw_httpbody.h) */
    int raw_reply;                   /* the reply is one, or its response_body field */
    const gw_field *raw_reply_field; /* that field, or NULL */
    int raw_request;                 /* the request is one (body "*"), or its body field */
    uint32_t raw_request_field;      /* that field's number, or 0 for body "*" */
} gw_route;

typedef struct gw_router {
    gw_route *routes;       /* most specific first */
    size_t n_routes;
    gw_route_index index;   /* which routes a path may match */
    gw_route *web_routes;   /* gRPC-Web: one per method, no binding, by method path */
    size_t n_web_routes;
    gw_http_binding *auto_bindings; /* owned: the auto-mapped POST bindings */
    char **auto_paths;
    size_t n_auto;
} gw_router;

/* Which methods get routes. */
typedef struct gw_router_options {
    const char *const *services; /* only these services ("pkg.Service"); NULL: all */
    size_t n_services;
    const gw_names *served;      /* the services the upstream serves (its reflection
                                  * list), by name: no routes for others; NULL: not
                                  * known */
    int auto_map;                /* unannotated methods: POST /pkg.Service/Method, body "*" */
    int grpc_web;                /* gRPC-Web routes: every method, by its gRPC path */
    int allow_missing;           /* a listed service may be absent (API not complete yet) */
    const char *config_path;     /* the INI and the line of its [gateway] services, for */
    int services_line;           /* "FILE:LINE: " before an error about it; or NULL, 0 */
    const char *own_paths[GW_ROUTER_MAX_OWN_PATHS]; /* the paths the gateway answers itself,
                                  * before routing ("/healthz"; "/docs/" for everything
                                  * below that folder): a route that also matches one is
                                  * logged (gw_gen.c), as those requests never reach it */
    size_t n_own_paths;
} gw_router_options;

/* 0 if opt says the upstream does not serve m's service (opt->served).
 * O(1): one lookup in the index. */
int gw_router_served(const gw_method *m, const gw_router_options *opt);

/* gw_router_build with options; a listed service that no method belongs to
 * is an error naming it.  Takes time in proportion to the methods, bindings
 * and listed services (and n log n to order the routes). */
int gw_router_build_with(gw_router *r, const gw_method *methods, size_t n,
                         const gw_router_options *opt, char *err, size_t errlen);

/* Compiles every HTTP binding of every method, and orders them most
 * specific first (literal segments before variables).
 * Two bindings with the same verb and the same template shape are an error
 * naming both methods.  Returns 0, or -1 with
 * "VERB TEMPLATE (/pkg.Service/Method): reason" in err[errlen]. */
int gw_router_build(gw_router *r, const gw_method *methods, size_t n, char *err, size_t errlen);
void gw_router_free(gw_router *r);

typedef enum gw_route_result {
    GW_ROUTE_FOUND,
    GW_ROUTE_NOT_FOUND,     /* no template matches the path: 404 */
    GW_ROUTE_BAD_METHOD     /* a template matches, but not with this verb: 405 */
} gw_route_result;

/* Finds the route for (verb, raw path): the first in table order that
 * matches both; for HEAD, when no HEAD route matches the path, the one GET
 * would find if gw_route_takes_head (HEAD is GET without the body, RFC 9110
 * 9.3.2; libmicrohttpd leaves the body out); spans receives its variables.  Only the routes the index
 * names for the path are tried, unless it names more than 64 (then all). */
gw_route_result gw_router_match(const gw_router *r, const char *verb, const char *path,
                                const gw_route **route, gw_path_span *spans);

/* gRPC-Web: the route of the method whose gRPC path ("/pkg.Service/Method")
 * is `path`, or NULL.  O(log n). */
const gw_route *gw_router_match_web(const gw_router *r, const char *path);

/* 1 if a HEAD request may take `route` (found for GET): a GET route of a
 * method that does not stream its replies. */
int gw_route_takes_head(const gw_route *route);

/* The verbs that raw `path` takes, "GET, HEAD, POST" (each once, in route
 * order, HEAD after GET where the first GET route takes it), into
 * out[outlen]: the Allow header of a 405. */
void gw_router_allowed(const gw_router *r, const char *path, char *out, size_t outlen);

#endif /* GW_ROUTE_H */
