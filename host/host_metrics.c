/*
 * host_metrics.c -- the host's metric families and per-method slots.
 */
#include "host_metrics.h"

#include <stdlib.h>

#include "rp_grpc_status.h"

#define N_CODES 17

struct host_method_stats {
    host_metrics *metrics;
    const char *method;
    rp_series *duration;
    _Atomic(rp_series *) calls[N_CODES]; /* by gRPC status, filled on first use */
};

struct host_metrics {
    rp_metrics *reg;
    rp_family *calls, *duration;
    rp_series *in_flight, *plugins;
    struct host_method_stats *stats; /* one per method, freed with the registry */
    size_t n_stats;
};

/* Seconds, observed in microseconds: 0.1 ms to 10 s. */
static const uint64_t duration_bounds_us[] = {100,    250,    500,     1000,    2500,
                                              5000,   10000,  25000,   50000,   100000,
                                              250000, 500000, 1000000, 2500000, 5000000,
                                              10000000};

host_metrics *host_metrics_new(void)
{
    host_metrics *m = calloc(1, sizeof(*m));
    if (!m || !(m->reg = rp_metrics_new())) {
        free(m);
        return NULL;
    }
    static const char *const call_labels[] = {"method", "grpc_code", NULL};
    static const char *const method_label[] = {"method", NULL};
    m->calls = rp_metrics_family(m->reg, RP_COUNTER, "rpcrest_host_calls_total",
                                 "Calls to plugin methods that ended, by method and gRPC status "
                                 "(CANCELLED: the client went away or the deadline passed).",
                                 call_labels, NULL, 0, 1);
    m->duration = rp_metrics_family(
        m->reg, RP_HISTOGRAM, "rpcrest_host_call_duration_seconds",
        "Time from a call's arrival to its end (last message and status sent), by method.",
        method_label, duration_bounds_us,
        sizeof(duration_bounds_us) / sizeof(duration_bounds_us[0]), 1e-6);
    rp_family *in_flight = rp_metrics_family(m->reg, RP_GAUGE, "rpcrest_host_calls_in_flight",
                                             "Calls to plugin methods running now.", NULL, NULL,
                                             0, 1);
    rp_family *plugins = rp_metrics_family(m->reg, RP_GAUGE, "rpcrest_host_plugins_loaded",
                                           "Plugins this process loaded.", NULL, NULL, 0, 1);
    m->in_flight = rp_family_series(in_flight, NULL);
    m->plugins = rp_family_series(plugins, NULL);
    if (!m->calls || !m->duration || !m->in_flight || !m->plugins ||
        rp_metrics_add_process(m->reg) < 0) {
        host_metrics_free(m);
        return NULL;
    }
    return m;
}

void host_metrics_free(host_metrics *m)
{
    if (!m)
        return;
    rp_metrics_free(m->reg);
    free(m->stats);
    free(m);
}

int host_metrics_prepare(host_metrics *m, host_plugins *ps)
{
    m->stats = calloc(ps->n_methods ? ps->n_methods : 1, sizeof(*m->stats));
    if (!m->stats)
        return -1;
    m->n_stats = ps->n_methods;
    for (size_t i = 0; i < ps->n_methods; i++) {
        struct host_method_stats *st = &m->stats[i];
        const char *v[] = {ps->methods[i].path};
        st->metrics = m;
        st->method = ps->methods[i].path;
        if (!(st->duration = rp_family_series(m->duration, v)))
            return -1;
        ps->methods[i].stats = st;
    }
    rp_series_set(m->plugins, (int64_t)ps->n_plugins);
    return 0;
}

rp_metrics *host_metrics_registry(host_metrics *m)
{
    return m->reg;
}

void host_metrics_call_begin(struct host_method_stats *st)
{
    if (st)
        rp_series_add(st->metrics->in_flight, 1);
}

void host_metrics_call_end(struct host_method_stats *st, int code, uint64_t duration_us)
{
    if (!st)
        return;
    rp_series_observe(st->duration, duration_us);
    if (code < 0 || code >= N_CODES)
        code = 2; /* UNKNOWN */
    const char *v[] = {st->method, rp_grpc_code_name(code)};
    rp_series_add(rp_series_cached(&st->calls[code], st->metrics->calls, v), 1);
    /* last: a scrape that sees no call in flight sees every call counted */
    rp_series_add(st->metrics->in_flight, -1);
}
