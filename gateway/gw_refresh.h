/*
 * gw_refresh.h -- keeps the gateway's API in step with the upstream: a
 * thread that watches the control connection (gw_upstream.h) and, each
 * time it becomes READY (at start, and after the upstream restarted),
 * builds a new generation from the configured descriptor files and server
 * reflection and publishes it.  A failed rebuild keeps the current generation and is logged.
 */
#ifndef GW_REFRESH_H
#define GW_REFRESH_H

#include "gw_gen.h"
#include "gw_http.h"
#include "gw_upstream.h"

typedef struct gw_refresh gw_refresh;

/* Starts the watcher; `src` must outlive it.  api_source: the source_id of
 * the API published already if it came from a READY upstream (no rebuild
 * until it reconnects), else 0.  A rebuild whose sources are those of the
 * API published last (the upstream only closed an idle or old connection)
 * publishes and logs nothing.  NULL if the thread cannot start. */
gw_refresh *gw_refresh_start(const gw_gen_source *src, gw_upstream *up, gw_http *http,
                             uint64_t api_source);

/* Stops the watcher and waits for it (at most about half a second, plus a
 * rebuild in progress). */
void gw_refresh_stop(gw_refresh *r);

#endif /* GW_REFRESH_H */
