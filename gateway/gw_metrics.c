/*
 * gw_metrics.c -- the gateway's metric families and per-method slots.
 */
#include "gw_metrics.h"

#include "gw_names.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_grpc_status.h"

/* The HTTP statuses the gateway answers with, each with a slot of its own;
 * another status takes the slow path (a lookup under a lock). */
static const unsigned known_status[] = {200, 400, 401, 403, 404, 405, 408, 409, 412, 413,
                                        415, 429, 431, 499, 500, 501, 502, 503, 504};
#define N_STATUS (sizeof(known_status) / sizeof(known_status[0]))
#define N_GRPC 18 /* 0..16, and 17 for none */

/* A method's series for a status that has no slot. */
typedef struct gw_other_series {
    unsigned status;
    int grpc_code; /* -1 for none */
    rp_series *series;
} gw_other_series;

struct gw_method_stats {
    gw_metrics *metrics;
    char *label;
    size_t refs;  /* generations (and gw_http) holding it; guarded by metrics->lock */
    size_t pos;   /* in metrics->stats; likewise */
    rp_series *duration;
    _Atomic(rp_series *) by_code[N_STATUS][N_GRPC]; /* filled on first use */
    gw_other_series *others; /* statuses with no slot; guarded by metrics->lock */
    size_t n_others;
};

struct gw_metrics {
    rp_metrics *reg;
    gw_upstream *up;
    rp_family *requests, *duration, *reloads;
    rp_series *in_flight, *reloads_ok, *reloads_error, *routes;
    pthread_mutex_t lock; /* guards the three below, and each stats' refs and others */
    gw_method_stats **stats; /* the stats of every method held */
    size_t n_stats, cap_stats;
    gw_names stats_index;    /* positions in stats, by label */
};

/* Seconds, observed in microseconds: 0.5 ms to 10 s. */
static const uint64_t duration_bounds_us[] = {500,    1000,   2500,   5000,    10000,
                                              25000,  50000,  100000, 250000,  500000,
                                              1000000, 2500000, 5000000, 10000000};

/* A gRPC channel's states, as the control connection has them (never
 * "shutdown" while the gateway serves). */
static const char *const connectivity_names[] = {"idle", "connecting", "ready",
                                                 "transient_failure", "shutdown"};

static void upstream_collector(void *arg, rp_text *out)
{
    gw_metrics *m = arg;
    gw_h2_state st = gw_upstream_state(m->up);
    static const char *const state_label[] = {"state", NULL};
    rp_metrics_header(out, "rpcrest_gateway_upstream_state",
                      "Connectivity state of the gateway's control connection to the upstream: "
                      "1 for the current state, 0 for the others.", "gauge");
    for (int i = 0; i < 5; i++) {
        const char *v[] = {connectivity_names[i]};
        rp_metrics_sample(out, "rpcrest_gateway_upstream_state", state_label, v,
                          (int)st == i ? 1 : 0);
    }
    rp_metrics_header(out, "rpcrest_gateway_upstream_ready",
                      "1 while the control connection to the upstream is READY, else 0.",
                      "gauge");
    rp_metrics_sample(out, "rpcrest_gateway_upstream_ready", NULL, NULL, st == GW_H2_READY);
}

gw_metrics *gw_metrics_new(gw_upstream *up)
{
    gw_metrics *m = calloc(1, sizeof(*m));
    if (!m || !(m->reg = rp_metrics_new())) {
        free(m);
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    m->up = up;
    static const char *const req_labels[] = {"method", "code", "grpc_code", NULL};
    static const char *const method_label[] = {"method", NULL};
    static const char *const result_label[] = {"result", NULL};
    m->requests = rp_metrics_family(m->reg, RP_COUNTER, "rpcrest_gateway_requests_total",
                                    "HTTP requests answered, by gRPC method (none: no route), "
                                    "HTTP status code and gRPC status.",
                                    req_labels, NULL, 0, 1);
    m->duration = rp_metrics_family(
        m->reg, RP_HISTOGRAM, "rpcrest_gateway_request_duration_seconds",
        "Time from a request's headers to the end of its response, by gRPC method.",
        method_label, duration_bounds_us,
        sizeof(duration_bounds_us) / sizeof(duration_bounds_us[0]), 1e-6);
    rp_family *in_flight = rp_metrics_family(m->reg, RP_GAUGE,
                                             "rpcrest_gateway_requests_in_flight",
                                             "HTTP requests being served now.", NULL, NULL, 0, 1);
    m->reloads = rp_metrics_family(m->reg, RP_COUNTER, "rpcrest_gateway_schema_reloads_total",
                                   "API (schema and routes) loads, the first one included, "
                                   "by result: ok (now served) or error (the previous API kept).",
                                   result_label, NULL, 0, 1);
    rp_family *routes = rp_metrics_family(m->reg, RP_GAUGE, "rpcrest_gateway_routes",
                                          "Routes of the API served now.", NULL, NULL, 0, 1);
    m->in_flight = rp_family_series(in_flight, NULL);
    const char *ok[] = {"ok"}, *error[] = {"error"};
    m->reloads_ok = rp_family_series(m->reloads, ok);
    m->reloads_error = rp_family_series(m->reloads, error);
    m->routes = rp_family_series(routes, NULL);
    if (!m->requests || !m->duration || !m->in_flight || !m->reloads_ok || !m->reloads_error ||
        !m->routes || rp_metrics_add_collector(m->reg, upstream_collector, m) < 0 ||
        rp_metrics_add_process(m->reg) < 0) {
        gw_metrics_free(m);
        return NULL;
    }
    return m;
}

void gw_metrics_free(gw_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_stats; i++) {
        free(m->stats[i]->label);
        free(m->stats[i]->others);
        free(m->stats[i]);
    }
    free(m->stats);
    gw_names_free(&m->stats_index);
    rp_metrics_free(m->reg);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* New stats for `method`, kept in m's array and index.  NULL without
 * memory. */
static gw_method_stats *add_stats(gw_metrics *m, const char *method)
{
    if (m->n_stats == m->cap_stats) {
        size_t cap = m->cap_stats ? m->cap_stats * 2 : 64;
        gw_method_stats **grown = realloc(m->stats, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        m->stats = grown;
        m->cap_stats = cap;
    }
    gw_method_stats *s = calloc(1, sizeof(*s));
    const char *v[] = {method};
    if (!s || !(s->label = strdup(method)) || !(s->duration = rp_family_series(m->duration, v)) ||
        gw_names_add(&m->stats_index, s->label, m->n_stats) < 0) {
        if (s)
            free(s->label);
        free(s);
        return NULL;
    }
    s->metrics = m;
    s->pos = m->n_stats;
    m->stats[m->n_stats++] = s;
    return s;
}

gw_method_stats *gw_metrics_method(gw_metrics *m, const char *method)
{
    if (!m)
        return NULL;
    pthread_mutex_lock(&m->lock);
    size_t i = gw_names_find(&m->stats_index, method);
    gw_method_stats *s = i != GW_NAMES_NONE ? m->stats[i] : add_stats(m, method);
    if (s)
        s->refs++;
    pthread_mutex_unlock(&m->lock);
    return s;
}

/* Takes st out of m's array, the last stats moving into its place, and out
 * of the index.  Under m->lock. */
static void forget_stats(gw_metrics *m, gw_method_stats *st)
{
    gw_names_remove(&m->stats_index, st->label);
    gw_method_stats *last = m->stats[--m->n_stats];
    if (last == st)
        return;
    last->pos = st->pos;
    m->stats[last->pos] = last;
    gw_names_remove(&m->stats_index, last->label);
    /* cannot fail: the index holds one name fewer than before, in as many slots */
    gw_names_add(&m->stats_index, last->label, last->pos);
}

void gw_metrics_release(gw_method_stats *st)
{
    if (!st)
        return;
    gw_metrics *m = st->metrics;
    pthread_mutex_lock(&m->lock);
    if (--st->refs > 0) {
        pthread_mutex_unlock(&m->lock);
        return;
    }
    forget_stats(m, st);
    /* under m->lock: stats made anew for the same method (gw_metrics_method)
     * must not find these series before they are gone */
    rp_series_drop(st->duration);
    for (size_t i = 0; i < N_STATUS; i++)
        for (size_t j = 0; j < N_GRPC; j++)
            rp_series_drop(atomic_load_explicit(&st->by_code[i][j], memory_order_acquire));
    for (size_t i = 0; i < st->n_others; i++)
        rp_series_drop(st->others[i].series);
    pthread_mutex_unlock(&m->lock);
    free(st->others);
    free(st->label);
    free(st);
}

/* The series of a status with no slot (status, grpc_code, label values v):
 * found in st's short list, or made and noted there, so that releasing st
 * drops it.  Without memory to note it, the series is counted all the same
 * and stays (found again next time).  NULL on ENOMEM. */
static rp_series *other_series(gw_method_stats *st, unsigned status, int grpc_code,
                               const char *const *v)
{
    gw_metrics *m = st->metrics;
    pthread_mutex_lock(&m->lock);
    rp_series *s = NULL;
    for (size_t i = 0; i < st->n_others && !s; i++)
        if (st->others[i].status == status && st->others[i].grpc_code == grpc_code)
            s = st->others[i].series;
    if (!s && (s = rp_family_series(m->requests, v))) {
        gw_other_series *grown = realloc(st->others, (st->n_others + 1) * sizeof(*grown));
        if (grown) {
            grown[st->n_others++] = (gw_other_series){status, grpc_code, s};
            st->others = grown;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return s;
}

static int status_index(unsigned status)
{
    for (size_t i = 0; i < N_STATUS; i++)
        if (known_status[i] == status)
            return (int)i;
    return -1;
}

void gw_metrics_request(gw_method_stats *st, unsigned status, int grpc_code,
                        uint64_t duration_us)
{
    if (!st)
        return;
    rp_series_observe(st->duration, duration_us);
    if (grpc_code > 16) /* an upstream's own code: named UNKNOWN, so counted as 2 */
        grpc_code = 2;
    int si = status_index(status);
    int gi = grpc_code >= 0 ? grpc_code : N_GRPC - 1;
    _Atomic(rp_series *) *slot = si >= 0 ? &st->by_code[si][gi] : NULL;
    rp_series *s = slot ? atomic_load_explicit(slot, memory_order_acquire) : NULL;
    if (!s) { /* the first of its kind, or a rare one (not cached) */
        char code[16];
        snprintf(code, sizeof(code), "%u", status);
        const char *v[] = {st->label, code,
                           grpc_code >= 0 ? rp_grpc_code_name(grpc_code) : "none"};
        s = slot ? rp_series_cached(slot, st->metrics->requests, v)
                 : other_series(st, status, grpc_code, v);
    }
    rp_series_add(s, 1);
}

void gw_metrics_in_flight(gw_metrics *m, int delta)
{
    if (m)
        rp_series_add(m->in_flight, delta);
}

void gw_metrics_api_loaded(gw_metrics *m, int ok)
{
    if (m)
        rp_series_add(ok ? m->reloads_ok : m->reloads_error, 1);
}

void gw_metrics_routes(gw_metrics *m, size_t n_routes)
{
    if (m)
        rp_series_set(m->routes, (int64_t)n_routes);
}

void gw_metrics_render(gw_metrics *m, rp_text *out)
{
    rp_metrics_render(m->reg, out);
}
