/*
 * gw_metrics.h -- what the gateway counts for GET /metrics: requests by gRPC
 * method, HTTP status and gRPC status; their duration; requests in flight;
 * the control connection's state (gw_upstream.h); API loads.  Per-method
 * figures live in a gw_method_stats found once per method when an API
 * generation is published and reached from then on through the method
 * (gw_method.stats), so a request touches only atomics.  Each generation
 * that has a method holds its stats, and releases them when it is freed
 * (after the last request that used it): a method keeps its counters across
 * the API reloads that keep it, and its series leave /metrics once no
 * generation has it, so what is kept is bounded by the APIs in use.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stdint.h>

#include "gw_upstream.h"
#include "rp_metrics.h"

typedef struct gw_metrics gw_metrics;
typedef struct gw_method_stats gw_method_stats;

/* The label of requests no method answers (no route, bad method, …). */
#define GW_METRICS_NO_METHOD "none"

/* NULL on ENOMEM.  `up` is read at render time and must outlive it. */
gw_metrics *gw_metrics_new(gw_upstream *up);
void gw_metrics_free(gw_metrics *m);

/* The stats of method label `method` ("/pkg.Service/Method",
 * GW_METRICS_NO_METHOD, "healthz"), created on first use, with one more
 * reference for the caller (gw_metrics_release); NULL on ENOMEM or when m
 * is NULL.  Takes a lock and hashes the label (O(1) however many methods
 * there are): for publishing, not per request. */
gw_method_stats *gw_metrics_method(gw_metrics *m, const char *method);

/* Gives back a reference gw_metrics_method took.  The last one frees the
 * stats and drops the method's series from /metrics: no request may use st
 * after it.  st may be NULL.  References still held when the registry is
 * freed are freed with it. */
void gw_metrics_release(gw_method_stats *st);

/* One request done: its HTTP status, its gRPC status (-1: none) and how
 * long it took.  st may be NULL (metrics off). */
void gw_metrics_request(gw_method_stats *st, unsigned status, int grpc_code,
                        uint64_t duration_us);

/* A request started (+1) or ended (-1). m may be NULL. */
void gw_metrics_in_flight(gw_metrics *m, int delta);

/* An API load (the first or a reload) succeeded, or failed. */
void gw_metrics_api_loaded(gw_metrics *m, int ok);

/* The routes of the API now served. */
void gw_metrics_routes(gw_metrics *m, size_t n_routes);

/* The whole exposition. */
void gw_metrics_render(gw_metrics *m, rp_text *out);

#endif /* GW_METRICS_H */
