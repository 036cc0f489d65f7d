/*
 * gw_gen.c -- building and reference-counting API generations.
 */
#include "gw_gen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_discovery.h"
#include "gw_metrics.h"
#include "rp_log.h"

/* Names the services the upstream serves and does not describe (no routes
 * for them), the first few one by one and the rest in one count: an
 * upstream may list thousands. */
#define UNDESCRIBED_NAMED 8
static void log_undescribed(const gw_discovery_result *listed)
{
    size_t n = listed->n_undescribed;
    for (size_t i = 0; i < n && i < UNDESCRIBED_NAMED; i++)
        rp_log("reflection: the upstream serves %s but does not describe it: no routes for it",
               listed->undescribed[i]);
    if (n > UNDESCRIBED_NAMED)
        rp_log("reflection: the upstream serves %zu more services it does not describe: no "
               "routes for them", n - UNDESCRIBED_NAMED);
}

/* Every descriptor set the source names, as buffers (files, then
 * reflection), and with reflection the services the upstream lists
 * (*listed: the caller frees it with gw_discovery_result_free). */
static int collect_sets(const gw_gen_source *src, gw_upstream *up, gw_buf *sets,
                        gw_discovery_result *listed, char *origin, size_t origin_len,
                        int *reflection_failed, char *err, size_t errlen)
{
    for (size_t i = 0; i < src->n_files; i++) {
        if (gw_buf_read_file(&sets[i], src->files[i]) < 0)
            return snprintf(err, errlen, "%s: %s", src->files[i], strerror(errno)), -1;
    }
    snprintf(origin, origin_len, "%zu descriptor file%s", src->n_files,
             src->n_files == 1 ? "" : "s");
    if (!src->use_reflection)
        return 0;
    gw_discovery_result res = {0};
    int rc = gw_discovery_fetch(gw_upstream_hold(up), src->reflection_timeout_ms,
                                src->reflection_flags, src->cancel, &res, err, errlen);
    gw_upstream_release(up);
    if (rc < 0) {
        *reflection_failed = 1;
        return -1;
    }
    size_t len;
    sets[src->n_files].data = gw_buf_steal(&res.set, &len);
    sets[src->n_files].len = len;
    snprintf(origin + strlen(origin), origin_len - strlen(origin),
             " + %s (%zu services, %zu files)", res.protocol, res.n_services, res.n_files);
    *listed = res; /* handed over, the set taken out */
    return 0;
}

/* h, FNV-1a, on through p[0..len). */
static uint64_t fnv1a(uint64_t h, const void *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211u;
    return h;
}

/* A hash of what a generation is built from: the sets (each with its
 * length) and the services the upstream listed.  Never 0. */
static uint64_t source_id(const gw_buf *sets, size_t n, const gw_discovery_result *listed)
{
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < n; i++) {
        uint64_t len = sets[i].len;
        h = fnv1a(h, &len, sizeof(len));
        h = fnv1a(h, sets[i].data, sets[i].len);
    }
    for (size_t i = 0; i < listed->n_listed; i++)
        h = fnv1a(h, listed->listed[i], strlen(listed->listed[i]) + 1);
    return h ? h : 1;
}

/* The services the upstream listed, by name, into *index.  0, or -1
 * without memory. */
static int index_listed(const gw_discovery_result *listed, gw_names *index)
{
    for (size_t i = 0; i < listed->n_listed; i++)
        if (gw_names_add(index, listed->listed[i], i) < 0)
            return -1;
    return 0;
}

/* Logs each service the API's files declare that the upstream does not
 * list (a .proto with a service no plugin registers): it gets no routes,
 * where it would only answer 501. */
static void log_unserved(const gw_method *methods, size_t n, const gw_router_options *opt)
{
    for (size_t i = 0; i < n; i++) {
        const char *slash = strrchr(methods[i].path, '/');
        size_t len = slash ? (size_t)(slash - methods[i].path) : 0;
        if (gw_router_served(&methods[i], opt) ||
            (i > 0 && strncmp(methods[i - 1].path, methods[i].path, len + 1) == 0))
            continue; /* served, or its service logged already */
        rp_log("the API declares %.*s, which the upstream does not serve: no routes for it",
               (int)(len ? len - 1 : 0), methods[i].path + 1);
    }
}

/* Logs each route that also matches a path the gateway answers itself:
 * those requests never reach the upstream. */
static void log_shadowed(const gw_router *r, const gw_router_options *opt)
{
    for (size_t i = 0; i < r->n_routes; i++)
        for (size_t j = 0; j < opt->n_own_paths; j++) {
            const char *own = opt->own_paths[j];
            const gw_route *route = &r->routes[i];
            if (!gw_template_may_match(&route->tmpl, own))
                continue;
            size_t len = strlen(own);
            rp_log("route %s %s -> %s also matches %s%s, which the gateway answers itself: "
                   "those requests do not reach it",
                   route->binding->verb, route->binding->path_template, route->method->path,
                   own, len > 1 && own[len - 1] == '/' ? "*" : "");
        }
}

static gw_gen *build_from_sets(gw_buf *sets, size_t n, const char *origin,
                               const gw_router_options *routes, char *err, size_t errlen)
{
    const uint8_t **bufs = calloc(n ? n : 1, sizeof(*bufs));
    size_t *lens = calloc(n ? n : 1, sizeof(*lens));
    gw_gen *g = calloc(1, sizeof(*g));
    if (!bufs || !lens || !g) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        bufs[i] = sets[i].data ? sets[i].data : (const uint8_t *)"";
        lens[i] = sets[i].len;
    }
    g->schema = gw_schema_load_buffers(bufs, lens, n, origin, err, errlen);
    if (!g->schema)
        goto fail;
    size_t n_methods;
    const gw_method *methods = gw_schema_methods(g->schema, &n_methods);
    log_unserved(methods, n_methods, routes);
    if (gw_router_build_with(&g->router, methods, n_methods, routes, err, errlen) < 0)
        goto fail;
    log_shadowed(&g->router, routes);
    snprintf(g->origin, sizeof(g->origin), "%s", origin);
    atomic_init(&g->refs, 1);
    pthread_mutex_init(&g->openapi_lock, NULL);
    free(bufs);
    free(lens);
    return g;
fail:
    if (g)
        gw_schema_free(g->schema);
    free(g);
    free(bufs);
    free(lens);
    return NULL;
}

gw_gen *gw_gen_build(const gw_gen_source *src, gw_upstream *up, int *reflection_failed,
                     uint64_t *source, char *err, size_t errlen)
{
    uint64_t ignored_source;
    if (!source)
        source = &ignored_source;
    *source = 0;
    int ignored;
    if (!reflection_failed)
        reflection_failed = &ignored;
    *reflection_failed = 0;
    err[0] = '\0';
    size_t n = src->n_files + (src->use_reflection ? 1 : 0);
    gw_buf *sets = calloc(n ? n : 1, sizeof(*sets));
    if (!sets) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char origin[256];
    gw_gen *g = NULL;
    gw_discovery_result listed = {0};
    if (collect_sets(src, up, sets, &listed, origin, sizeof(origin), reflection_failed, err,
                     errlen) == 0) {
        uint64_t id = source_id(sets, n, &listed);
        *source = id;
        /* the sources of the API served, or of one refused: nothing to build or log, and
         * err stays "" */
        if (id != src->unless_source && id != src->unless_refused) {
            log_undescribed(&listed);
            gw_router_options routes = src->routes;
            gw_names served = GW_NAMES_INIT;
            if (src->use_reflection)
                routes.served = &served;
            if (src->use_reflection && index_listed(&listed, &served) < 0)
                snprintf(err, errlen, "out of memory");
            else
                g = build_from_sets(sets, n, origin, &routes, err, errlen);
            gw_names_free(&served);
            if (g)
                g->source_id = id;
        }
    }
    gw_discovery_result_free(&listed);
    for (size_t i = 0; i < n; i++)
        gw_buf_free(&sets[i]);
    free(sets);
    return g;
}

gw_gen *gw_gen_ref(gw_gen *g)
{
    if (g)
        atomic_fetch_add(&g->refs, 1);
    return g;
}

void gw_gen_unref(gw_gen *g)
{
    if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
        return;
    size_t n;
    const gw_method *methods = gw_schema_methods(g->schema, &n);
    for (size_t i = 0; i < n; i++) /* the last request that could count on them is done */
        gw_metrics_release(methods[i].stats);
    gw_router_free(&g->router);
    gw_schema_free(g->schema);
    pthread_mutex_destroy(&g->openapi_lock);
    free(g->openapi);
    free(g);
}
