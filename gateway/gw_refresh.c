/*
 * gw_refresh.c -- the reflection watcher: the control connection's state
 * changes (gw_upstream_wait_change), looked at every half second for the
 * stop flag.
 */
#include "gw_refresh.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "rp_log.h"

#define WATCH_SLICE_MS 500 /* how often the thread looks at its stop flag */

struct gw_refresh {
    const gw_gen_source *src;
    gw_upstream *up;
    gw_http *http;
    pthread_t thread;
    uint64_t published; /* the source_id of the API published last, or 0 */
    uint64_t refused;   /* that of the last sources refused since, or 0 */
    atomic_int stop;
};

static void rebuild(gw_refresh *r)
{
    char err[512];
    gw_gen_source src = *r->src;
    src.cancel = &r->stop; /* a stop does not wait for a slow upstream's reflection */
    src.unless_source = r->published;
    src.unless_refused = r->refused;
    uint64_t source;
    gw_gen *g = gw_gen_build(&src, r->up, NULL, &source, err, sizeof(err));
    if (!g && (atomic_load(&r->stop) || !err[0]))
        return; /* stopping, or the same API as last time */
    if (!g) {
        rp_log("keeping the current API: %s", err);
        gw_http_api_failed(r->http);
        r->refused = source; /* reported once: not again while the upstream says the same */
        return;
    }
    rp_log("serving %zu routes from %s", g->router.n_routes,
            g->origin);
    r->published = g->source_id;
    r->refused = 0;
    gw_http_publish(r->http, g);
}

static void *watch(void *arg)
{
    gw_refresh *r = arg;
    gw_h2_state state = gw_upstream_state(r->up);
    int need_rebuild = !r->published; /* until a READY upstream gave us an API */
    while (!atomic_load(&r->stop)) {
        if (state == GW_H2_READY && need_rebuild) {
            rebuild(r);
            need_rebuild = 0;
        }
        gw_h2_state next = gw_upstream_wait_change(r->up, state, WATCH_SLICE_MS);
        if (next != GW_H2_READY && state == GW_H2_READY)
            need_rebuild = 1; /* the upstream went away: it may come back different */
        state = next;
    }
    return NULL;
}

gw_refresh *gw_refresh_start(const gw_gen_source *src, gw_upstream *up, gw_http *http,
                             uint64_t api_source)
{
    gw_refresh *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->src = src;
    r->up = up;
    r->http = http;
    r->published = api_source;
    if (pthread_create(&r->thread, NULL, watch, r) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

void gw_refresh_stop(gw_refresh *r)
{
    if (!r)
        return;
    atomic_store(&r->stop, 1);
    pthread_join(r->thread, NULL);
    free(r);
}
