/*
 * fuzz_bind.c -- libFuzzer target: the query-string (and path and body)
 * mapping of a request to its message (gw_router_match, gw_bind_request)
 * and on to wire bytes (gw_bind_encode), as the gateway does it.
 *
 * Input: [flags byte: router, verb, ignore unknown query parameters]
 * PATH['?'QUERY] '\n' BODY.  The query is split on '&' and the first '='
 * and passed still percent-encoded, as libmicrohttpd hands it over
 * (gw_http.c keeps escapes; at most 256 parameters).
 */
#include "../../gateway/gw_bind.h"
#include "../../gateway/gw_route.h"
#include "fuzz_common.h"

#define MAX_PARAMS 256 /* gw_http.c's MAX_QUERY_PARAMS */

static gw_router routers[3];

static void build_router(gw_router *r, const char *set)
{
    gw_schema *s = fuzz_load_schema(set); /* kept: the router points into it */
    size_t n;
    const gw_method *methods = gw_schema_methods(s, &n);
    char err[512];
    if (gw_router_build(r, methods, n, err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz: %s: %s\n", set, err);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!routers[0].routes) {
        build_router(&routers[0], "services/bindings.pb");
        build_router(&routers[1], "tests/types.pb");
        build_router(&routers[2], "services/testkit.pb");
    }
    static const char *const verbs[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "PURGE"};
    fuzz_in in = {data, size};
    uint8_t flags = fuzz_byte(&in);
    const gw_router *router = &routers[(flags & 3) % 3];
    const char *verb = verbs[((flags >> 2) & 7) % 6];
    int ignore_unknown = (flags >> 5) & 1;
    size_t len;
    char *text = fuzz_rest(&in, &len);
    char *nl = memchr(text, '\n', len);
    const char *body = "";
    size_t body_len = 0;
    if (nl) {
        *nl = '\0';
        body = nl + 1;
        body_len = len - (size_t)(nl + 1 - text);
    }
    gw_query_param params[MAX_PARAMS];
    size_t n_params = 0;
    char *qm = strchr(text, '?');
    if (qm) {
        *qm = '\0';
        for (char *p = qm + 1; p && n_params < MAX_PARAMS;) {
            char *amp = strchr(p, '&');
            if (amp)
                *amp = '\0';
            char *eq = strchr(p, '=');
            if (eq)
                *eq = '\0';
            params[n_params++] = (gw_query_param){p, eq ? eq + 1 : NULL};
            p = amp ? amp + 1 : NULL;
        }
    }
    const gw_route *route;
    gw_path_span spans[GW_ROUTE_MAX_VARS];
    if (gw_router_match(router, verb, text, &route, spans) == GW_ROUTE_FOUND) {
        char err[GW_BIND_ERR_SIZE];
        gw_buf tail = GW_BUF_INIT;
        gw_bind_options bind = {ignore_unknown, NULL, "application/octet-stream"};
        json_t *json = NULL;
        gw_result rc = gw_bind_request(route, text, spans, body, body_len, params, n_params,
                                       &bind, &json, &tail, err, sizeof(err));
        if (rc == GW_OK) {
            gw_json_options opt = {0};
            gw_buf wire = GW_BUF_INIT;
            rc = gw_bind_encode(route, json, &opt, &wire, err, sizeof(err));
            gw_buf_free(&wire);
            json_decref(json);
        }
        if (rc == GW_NOMEM) /* no allocation fails here: a refused request is no "out of memory" */
            abort();
        gw_buf_free(&tail);
    }
    free(text);
    return 0;
}
