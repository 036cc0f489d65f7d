/*
 * fuzz_template.c -- libFuzzer target: google.api.http path templates
 * (gw_template_parse) and matching (gw_template_match, gw_route_decode_var,
 * gw_router_match).
 *
 * Input: TEMPLATE '\n' PATH: the template is compiled; if it compiles, the
 * path is matched against it and each variable's text decoded.  The path is
 * also looked up in the router of the bindings service and of
 * tests/unit/types.proto, with each verb, and the answer (which tries the
 * routes its index names) must be what trying every route gives.
 */
#include "../../gateway/gw_route.h"
#include "../unit/route_reference.h"
#include "fuzz_common.h"

static gw_router routers[2];

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
    }
    fuzz_in in = {data, size};
    size_t len;
    char *text = fuzz_rest(&in, &len);
    char *nl = memchr(text, '\n', len);
    const char *path = "/";
    if (nl) {
        *nl = '\0';
        path = nl + 1;
    }
    gw_template t;
    char err[256];
    if (gw_template_parse(text, &t, err, sizeof(err)) == 0) {
        gw_path_span spans[GW_ROUTE_MAX_VARS];
        if (gw_template_match(&t, path, spans)) {
            size_t plen = strlen(path);
            for (size_t i = 0; i < t.n_vars; i++) {
                if (spans[i].start > plen || spans[i].len > plen - spans[i].start) {
                    fprintf(stderr, "fuzz: variable %zu's span is outside the path\n", i);
                    abort();
                }
                gw_buf out = GW_BUF_INIT;
                gw_route_decode_var(&t, i, path + spans[i].start, spans[i].len, &out);
                gw_buf_free(&out);
            }
        }
        gw_template_free(&t);
    }
    static const char *const verbs[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "PURGE"};
    for (int r = 0; r < 2; r++) {
        for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++) {
            const gw_route *route = NULL, *want = NULL;
            gw_path_span spans[GW_ROUTE_MAX_VARS], want_spans[GW_ROUTE_MAX_VARS];
            gw_route_result got = gw_router_match(&routers[r], verbs[v], path, &route, spans);
            if (got != match_every_route(&routers[r], verbs[v], path, &want, want_spans) ||
                route != want ||
                (route && memcmp(spans, want_spans, route->tmpl.n_vars * sizeof(*spans)))) {
                fprintf(stderr, "fuzz: the route index and every route disagree\n");
                abort();
            }
        }
    }
    free(text);
    return 0;
}
