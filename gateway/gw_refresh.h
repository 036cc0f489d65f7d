/*
 * gw_refresh.h -- keeps the gateway's API in step with the upstream: a
 * thread that watches the upstream channel and, each time it becomes READY
 * (at start, and after the upstream restarted), builds a new generation
 * from the configured descriptor files and server reflection and publishes
 * it.  A failed rebuild keeps the current generation and is logged.
 */
#ifndef GW_REFRESH_H
#define GW_REFRESH_H

#include "gw_gen.h"
#include "gw_http.h"
#include "gw_upstream.h"

typedef struct gw_refresh gw_refresh;

/* Starts the watcher; `src` must outlive it.  have_api: the API published
 * already came from a READY upstream (no rebuild until it reconnects).
 * NULL if the thread cannot start. */
gw_refresh *gw_refresh_start(const gw_gen_source *src, gw_upstream *up, gw_http *http,
                             int have_api);

/* Stops the watcher and waits for it (at most about half a second, plus a
 * rebuild in progress). */
void gw_refresh_stop(gw_refresh *r);

#endif /* GW_REFRESH_H */
