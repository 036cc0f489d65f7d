/*
 * gw_refresh.c -- the reflection watcher: connectivity changes on the
 * upstream channel, observed on a private completion queue.
 */
#include "gw_refresh.h"

#include <grpc/support/time.h>
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
    grpc_completion_queue *cq;
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

/* Waits up to WATCH_SLICE_MS for the channel to leave `state`. */
static grpc_connectivity_state wait_change(gw_refresh *r, grpc_connectivity_state state)
{
    grpc_channel *ch = gw_upstream_channel(r->up);
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_millis(WATCH_SLICE_MS, GPR_TIMESPAN));
    grpc_channel_watch_connectivity_state(ch, state, deadline, r->cq, r);
    grpc_completion_queue_pluck(r->cq, r, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    return grpc_channel_check_connectivity_state(ch, 1);
}

static void *watch(void *arg)
{
    gw_refresh *r = arg;
    grpc_channel *ch = gw_upstream_channel(r->up);
    grpc_connectivity_state state = grpc_channel_check_connectivity_state(ch, 1);
    int need_rebuild = !r->published; /* until a READY channel gave us an API */
    while (!atomic_load(&r->stop)) {
        if (state == GRPC_CHANNEL_READY && need_rebuild) {
            rebuild(r);
            need_rebuild = 0;
        }
        grpc_connectivity_state next = wait_change(r, state);
        if (next != GRPC_CHANNEL_READY && state == GRPC_CHANNEL_READY)
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
    r->cq = grpc_completion_queue_create_for_pluck(NULL);
    if (pthread_create(&r->thread, NULL, watch, r) != 0) {
        grpc_completion_queue_shutdown(r->cq);
        grpc_completion_queue_destroy(r->cq);
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
    grpc_completion_queue_shutdown(r->cq);
    grpc_completion_queue_destroy(r->cq);
    free(r);
}
