/*
 * rp_metrics.h -- counters, gauges and histograms, rendered in the
 * Prometheus text exposition format (version 0.0.4).
 *
 * A registry owns families (a name, a help text, a type, label names); a
 * family owns series, one per set of label values, created on first use and
 * kept until the registry is freed or the caller drops them (the series of
 * a method that left the API).  Updating a series is one relaxed atomic
 * add: callers look a series up when they prepare (per method, at load) and
 * keep the pointer, so nothing on a request's path compares strings.
 * Rendering takes each family's lock and may run on any thread.  Shared by
 * the three programs; what they count is theirs.
 */
#ifndef RP_METRICS_H
#define RP_METRICS_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "rp_text.h"

#define RP_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define RP_METRICS_MAX_LABELS 4
#define RP_METRICS_MAX_BUCKETS 24

typedef enum rp_metric_type { RP_COUNTER, RP_GAUGE, RP_HISTOGRAM } rp_metric_type;

typedef struct rp_metrics rp_metrics;
typedef struct rp_family rp_family;
typedef struct rp_series rp_series;

/* A collector appends text of its own (values read at render time: a
 * connectivity state, /proc figures) after the registered families. */
typedef void (*rp_metrics_collector)(void *arg, rp_text *out);

/* NULL on ENOMEM. */
rp_metrics *rp_metrics_new(void);
void rp_metrics_free(rp_metrics *m);

/*
 * Registers a family.  `labels` is NULL or a NULL-terminated list of at
 * most RP_METRICS_MAX_LABELS label names.  A histogram takes `bounds`, the
 * upper bounds of its buckets in increasing order (at most
 * RP_METRICS_MAX_BUCKETS; +Inf is implied), in the unit of the values it
 * observes, and `scale`: what one unit is in the exposed unit (1e-6 for
 * values observed in microseconds and exposed as seconds).  Returns NULL on
 * ENOMEM or a bad argument.  Names and help must outlive the registry.
 */
rp_family *rp_metrics_family(rp_metrics *m, rp_metric_type type, const char *name,
                             const char *help, const char *const *labels,
                             const uint64_t *bounds, size_t n_bounds, double scale);

/* The series of `f` with these label values (as many as the family has
 * labels; NULL for none), created on first use.  Returns NULL on ENOMEM.
 * Takes a lock and hashes strings (O(1) on average, however many series
 * the family has): call it when preparing, not per event. */
rp_series *rp_family_series(rp_family *f, const char *const *values);

/*
 * The series of `f` with these label values, kept in *slot: looked up
 * (rp_family_series) the first time and read with one atomic load after.
 * Threads that race on an empty slot find the same series.  For label
 * sets known only when they first occur (a status code per method).
 * Returns NULL on ENOMEM (and tries again next time).
 */
rp_series *rp_series_cached(_Atomic(rp_series *) *slot, rp_family *f,
                            const char *const *values);

/*
 * Removes s from its family (the next render leaves it out; the others keep
 * their order) and frees it.  The caller must know that no thread uses s
 * any more nor will: every pointer to it (a prepared method's, a
 * rp_series_cached slot) is gone, and no thread can find it again through
 * rp_family_series before this returns (the caller serializes the two).
 * s may be NULL.
 */
void rp_series_drop(rp_series *s);

/* The series f has now. */
size_t rp_family_size(rp_family *f);

/* Counter or gauge: adds n (a gauge may go down: n < 0). */
static inline void rp_series_add(rp_series *s, int64_t n);
/* Gauge: sets the value. */
static inline void rp_series_set(rp_series *s, int64_t v);
/* Histogram: one observation of v units. */
void rp_series_observe(rp_series *s, uint64_t v);
/* Counter or gauge: the value now. */
int64_t rp_series_value(const rp_series *s);

/* Adds a collector, run by each render after the families. 0 or -1. */
int rp_metrics_add_collector(rp_metrics *m, rp_metrics_collector fn, void *arg);

/* Appends every family and collector to out. */
void rp_metrics_render(rp_metrics *m, rp_text *out);

/* Helpers for collectors: the # HELP and # TYPE lines; one sample line
 * ("name{l1="v1",…} value"), label values escaped. */
void rp_metrics_header(rp_text *out, const char *name, const char *help, const char *type);
void rp_metrics_sample(rp_text *out, const char *name, const char *const *labels,
                      const char *const *values, double value);

/* A label value escaped as the format wants (\\, \", \n), and UTF-8 as it
 * must be: a byte that is not part of a UTF-8 character becomes U+FFFD. */
void rp_metrics_label_value(rp_text *out, const char *value);

/* process_cpu_seconds_total, process_resident_memory_bytes,
 * process_open_fds, process_start_time_seconds (from /proc/self), added as
 * a collector.  0 or -1. */
int rp_metrics_add_process(rp_metrics *m);

/* The same figures, appended to out now, each name after `prefix`
 * ("rpcrest_supervisor_": node_exporter's textfile collector, which takes
 * rpcrestd's figures, has process_* of its own). */
void rp_metrics_render_process(rp_text *out, const char *prefix);

/* ---- inline updates ------------------------------------------------------------------ */

struct rp_series {
    struct rp_series *next, *prev; /* the family's list, in the order they came */
    struct rp_series *index_next;  /* the family's index: the same hash bucket */
    uint64_t hash;                 /* of the label values (the family's key) */
    rp_family *family;
    const char *values[RP_METRICS_MAX_LABELS]; /* owned copies */
    atomic_int_fast64_t value;                 /* counter, gauge; histogram: the sum */
    atomic_uint_fast64_t *buckets;             /* histogram: n_bounds + 1 (+Inf), not cumulative */
};

static inline void rp_series_add(rp_series *s, int64_t n)
{
    if (s)
        atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

static inline void rp_series_set(rp_series *s, int64_t v)
{
    if (s)
        atomic_store_explicit(&s->value, v, memory_order_relaxed);
}

#endif /* RP_METRICS_H */
