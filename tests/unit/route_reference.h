/*
 * route_reference.h -- the router's answer as it was before the route
 * index: every route tried in table order.  The unit tests and the
 * template fuzzer check gw_router_match against it.
 */
#ifndef ROUTE_REFERENCE_H
#define ROUTE_REFERENCE_H

#include <string.h>

#include "../../gateway/gw_route.h"

static inline gw_route_result match_exactly(const gw_router *r, const char *verb,
                                            const char *path, const gw_route **route,
                                            gw_path_span *spans)
{
    int path_matched = 0;
    for (size_t i = 0; i < r->n_routes; i++) {
        if (!gw_template_match(&r->routes[i].tmpl, path, spans))
            continue;
        if (strcmp(r->routes[i].binding->verb, verb) == 0) {
            *route = &r->routes[i];
            return GW_ROUTE_FOUND;
        }
        path_matched = 1;
    }
    return path_matched ? GW_ROUTE_BAD_METHOD : GW_ROUTE_NOT_FOUND;
}

/* HEAD: GET's route when no HEAD route matches the path, unless it streams. */
static inline gw_route_result match_every_route(const gw_router *r, const char *verb,
                                                const char *path, const gw_route **route,
                                                gw_path_span *spans)
{
    gw_route_result rc = match_exactly(r, verb, path, route, spans);
    if (rc == GW_ROUTE_BAD_METHOD && strcmp(verb, "HEAD") == 0 &&
        match_exactly(r, "GET", path, route, spans) == GW_ROUTE_FOUND &&
        !(*route)->method->server_streaming)
        return GW_ROUTE_FOUND;
    return rc;
}

#endif /* ROUTE_REFERENCE_H */
