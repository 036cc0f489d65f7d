/*
 * host_metrics.h -- what rpcrest-host counts: calls to plugin methods by
 * method and gRPC status, their duration, calls in flight, plugins loaded;
 * served on [host] metrics_listen (common/rp_metrics_http.c).  Each method
 * gets its stats once, when the plugins are loaded (host_method.stats), so
 * a call touches only atomics.
 */
#ifndef HOST_METRICS_H
#define HOST_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "host_plugin.h"
#include "rp_metrics.h"

typedef struct host_metrics host_metrics;

/* NULL on ENOMEM. */
host_metrics *host_metrics_new(void);

/* Frees the registry; the methods' stats pointers dangle afterwards. */
void host_metrics_free(host_metrics *m);

/* Gives each method of ps its stats and records how many plugins are
 * loaded.  0, or -1 on ENOMEM. */
int host_metrics_prepare(host_metrics *m, host_plugins *ps);

rp_metrics *host_metrics_registry(host_metrics *m);

/* A call of a method arrived / ended with gRPC status `code` after
 * duration_us.  st (host_method.stats) may be NULL: not counted. */
void host_metrics_call_begin(struct host_method_stats *st);
void host_metrics_call_end(struct host_method_stats *st, int code, uint64_t duration_us);

#endif /* HOST_METRICS_H */
