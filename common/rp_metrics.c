/*
 * rp_metrics.c -- the metric registry and its Prometheus text rendering.
 * Series are linked lists appended (and unlinked when dropped) under the
 * family's lock, rendered in that order, and found by their label values in
 * a hash table beside the list; their values are atomics, updated without
 * it.
 */
#include "rp_metrics.h"

#include "rp_hash.h"
#include "rp_utf8.h"

#include <dirent.h>
#include <math.h> /* isnan, isinf: macros, no libm */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rp_family {
    struct rp_family *next;
    rp_metric_type type;
    const char *name, *help;
    const char *labels[RP_METRICS_MAX_LABELS];
    size_t n_labels;
    uint64_t bounds[RP_METRICS_MAX_BUCKETS];
    size_t n_bounds;
    double scale;
    pthread_mutex_t lock; /* guards the list and the index; values are atomics */
    rp_series *head, *tail;
    rp_hash_key key;      /* the registry's */
    rp_series **index;    /* chains (index_next) by hash of the label values */
    size_t index_cap;     /* buckets: 0, or a power of two */
    size_t n_series;
};

typedef struct collector {
    struct collector *next;
    rp_metrics_collector fn;
    void *arg;
} collector;

struct rp_metrics {
    pthread_mutex_t lock; /* guards the lists of families and collectors */
    rp_family *head, *tail;
    rp_hash_key key;      /* for the families' indexes: label values may be a peer's */
    collector *collectors, *collectors_tail;
};

/* ---- text --------------------------------------------------------------------------- */

void rp_metrics_label_value(rp_text *out, const char *value)
{
    size_t len = strlen(value);
    for (const char *p = value; *p; p++) {
        if (rp_text_reserve(out, 4) < 0) /* a character */
            return;
        char c = *p;
        size_t bad = 0;
        if ((unsigned char)c >= 0x80) {
            /* a label value is UTF-8, or the scraper drops the whole page */
            size_t n = rp_utf8_char((const uint8_t *)p, len - (size_t)(p - value), &bad);
            if (n) {
                memcpy(out->s + out->len, p, n);
                out->len += n;
                p += n - 1;
            } else {
                memcpy(out->s + out->len, "\xef\xbf\xbd", 3); /* U+FFFD */
                out->len += 3;
                p += bad - 1;
            }
        } else if (c == '\\' || c == '"') {
            out->s[out->len++] = '\\';
            out->s[out->len++] = c;
        } else if (c == '\n') {
            out->s[out->len++] = '\\';
            out->s[out->len++] = 'n';
        } else {
            out->s[out->len++] = c;
        }
        out->s[out->len] = '\0';
    }
}

/* HELP text: \\ and \n escaped. */
static void help_text(rp_text *out, const char *help)
{
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            rp_text_puts(out, "\\\\");
        else if (*p == '\n')
            rp_text_puts(out, "\\n");
        else
            rp_text_printf(out, "%c", *p);
    }
}

void rp_metrics_header(rp_text *out, const char *name, const char *help, const char *type)
{
    rp_text_printf(out, "# HELP %s ", name);
    help_text(out, help);
    rp_text_printf(out, "\n# TYPE %s %s\n", name, type);
}

/* A number as the format writes it: integers plainly, others with enough
 * digits to read back; NaN and the infinities by name. */
static void number(rp_text *out, double v)
{
    if (isnan(v))
        rp_text_puts(out, "NaN");
    else if (isinf(v))
        rp_text_puts(out, v > 0 ? "+Inf" : "-Inf");
    else if ((v < 0 ? -v : v) < 9e15 && v == (double)(int64_t)v) /* in range, then cast */
        rp_text_printf(out, "%lld", (long long)v);
    else
        rp_text_printf(out, "%.15g", v);
}

/* "{a="x",b="y"[,extra="v"]}" or nothing. */
static void label_set(rp_text *out, const char *const *labels, const char *const *values,
                      size_t n, const char *extra, const char *extra_value)
{
    if (n == 0 && !extra)
        return;
    rp_text_puts(out, "{");
    for (size_t i = 0; i < n; i++) {
        rp_text_printf(out, "%s%s=\"", i ? "," : "", labels[i]);
        rp_metrics_label_value(out, values[i] ? values[i] : "");
        rp_text_puts(out, "\"");
    }
    if (extra) {
        rp_text_printf(out, "%s%s=\"", n ? "," : "", extra);
        rp_metrics_label_value(out, extra_value);
        rp_text_puts(out, "\"");
    }
    rp_text_puts(out, "}");
}

void rp_metrics_sample(rp_text *out, const char *name, const char *const *labels,
                      const char *const *values, double value)
{
    size_t n = 0;
    while (labels && labels[n])
        n++;
    rp_text_puts(out, name);
    label_set(out, labels, values, n, NULL, NULL);
    rp_text_puts(out, " ");
    number(out, value);
    rp_text_puts(out, "\n");
}

/* ---- the registry ------------------------------------------------------------------- */

rp_metrics *rp_metrics_new(void)
{
    rp_metrics *m = calloc(1, sizeof(*m));
    if (m) {
        pthread_mutex_init(&m->lock, NULL);
        rp_hash_key_new(&m->key);
    }
    return m;
}

static void series_free(rp_series *s)
{
    for (size_t i = 0; i < RP_METRICS_MAX_LABELS; i++)
        free((char *)s->values[i]);
    free(s->buckets);
    free(s);
}

void rp_metrics_free(rp_metrics *m)
{
    if (!m)
        return;
    for (rp_family *f = m->head, *next; f; f = next) {
        next = f->next;
        for (rp_series *s = f->head, *snext; s; s = snext) {
            snext = s->next;
            series_free(s);
        }
        pthread_mutex_destroy(&f->lock);
        free(f->index);
        free(f);
    }
    for (collector *c = m->collectors, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

rp_family *rp_metrics_family(rp_metrics *m, rp_metric_type type, const char *name,
                             const char *help, const char *const *labels,
                             const uint64_t *bounds, size_t n_bounds, double scale)
{
    if (!m || (type == RP_HISTOGRAM && (n_bounds == 0 || n_bounds > RP_METRICS_MAX_BUCKETS)))
        return NULL;
    rp_family *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->type = type;
    f->name = name;
    f->help = help;
    for (; labels && labels[f->n_labels]; f->n_labels++) {
        if (f->n_labels == RP_METRICS_MAX_LABELS) {
            free(f);
            return NULL;
        }
        f->labels[f->n_labels] = labels[f->n_labels];
    }
    if (type == RP_HISTOGRAM) {
        for (size_t i = 0; i < n_bounds; i++) {
            if (i && bounds[i] <= bounds[i - 1]) {
                free(f);
                return NULL;
            }
            f->bounds[i] = bounds[i];
        }
        f->n_bounds = n_bounds;
    }
    f->scale = scale > 0 ? scale : 1;
    f->key = m->key;
    pthread_mutex_init(&f->lock, NULL);
    pthread_mutex_lock(&m->lock);
    if (m->tail)
        m->tail->next = f;
    else
        m->head = f;
    m->tail = f;
    pthread_mutex_unlock(&m->lock);
    return f;
}

static int same_values(const rp_series *s, const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->values[i], values[i] ? values[i] : "") != 0)
            return 0;
    return 1;
}

/* The hash of a set of label values: each value's under a key that the
 * ones before it changed, so that the same strings in another order hash
 * apart. */
static uint64_t values_hash(const rp_family *f, const char *const *values)
{
    rp_hash_key key = f->key;
    uint64_t h = 0;
    for (size_t i = 0; i < f->n_labels; i++) {
        const char *v = values[i] ? values[i] : "";
        key.k[0] ^= h;
        h = rp_hash(&key, v, strlen(v));
    }
    return h;
}

/* A new index of f's series with room for twice as many: 0, or -1 without
 * memory (the index is as it was). */
static int reindex(rp_family *f)
{
    size_t cap = f->index_cap ? f->index_cap * 2 : 8;
    rp_series **index = calloc(cap, sizeof(*index));
    if (!index)
        return -1;
    for (rp_series *s = f->head; s; s = s->next) {
        s->index_next = index[s->hash & (cap - 1)];
        index[s->hash & (cap - 1)] = s;
    }
    free(f->index);
    f->index = index;
    f->index_cap = cap;
    return 0;
}

/* Counts s, the last series of f's list, and puts it into f's index, which
 * grows to keep chains one series long on average; when it cannot grow,
 * chains get longer (with no index at all, lookups walk the list). */
static void index_series(rp_family *f, rp_series *s)
{
    f->n_series++;
    if (f->n_series > f->index_cap && reindex(f) == 0)
        return; /* s included */
    if (!f->index_cap)
        return;
    rp_series **bucket = &f->index[s->hash & (f->index_cap - 1)];
    s->index_next = *bucket;
    *bucket = s;
}

/* The series of f with these values, or NULL. */
static rp_series *find_series(const rp_family *f, const char *const *values, uint64_t h)
{
    if (!f->index_cap) { /* no memory for an index yet */
        for (rp_series *s = f->head; s; s = s->next)
            if (same_values(s, values, f->n_labels))
                return s;
        return NULL;
    }
    for (rp_series *s = f->index[h & (f->index_cap - 1)]; s; s = s->index_next)
        if (s->hash == h && same_values(s, values, f->n_labels))
            return s;
    return NULL;
}

rp_series *rp_family_series(rp_family *f, const char *const *values)
{
    if (!f)
        return NULL;
    uint64_t h = values_hash(f, values);
    pthread_mutex_lock(&f->lock);
    rp_series *s = find_series(f, values, h);
    if (s)
        goto out;
    s = calloc(1, sizeof(*s));
    if (!s)
        goto out;
    s->family = f;
    s->hash = h;
    int ok = 1;
    for (size_t i = 0; i < f->n_labels; i++)
        ok &= (s->values[i] = strdup(values[i] ? values[i] : "")) != NULL;
    if (f->type == RP_HISTOGRAM)
        ok &= (s->buckets = calloc(f->n_bounds + 1, sizeof(*s->buckets))) != NULL;
    if (!ok) {
        series_free(s);
        s = NULL;
        goto out;
    }
    s->prev = f->tail;
    if (f->tail)
        f->tail->next = s;
    else
        f->head = s;
    f->tail = s;
    index_series(f, s);
out:
    pthread_mutex_unlock(&f->lock);
    return s;
}

/* Takes s out of f's index (when f has one). */
static void unindex_series(rp_family *f, const rp_series *s)
{
    if (!f->index_cap)
        return;
    rp_series **p = &f->index[s->hash & (f->index_cap - 1)];
    while (*p && *p != s)
        p = &(*p)->index_next;
    if (*p)
        *p = s->index_next;
}

void rp_series_drop(rp_series *s)
{
    if (!s)
        return;
    rp_family *f = s->family;
    pthread_mutex_lock(&f->lock);
    unindex_series(f, s);
    if (s->prev)
        s->prev->next = s->next;
    else
        f->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        f->tail = s->prev;
    f->n_series--;
    pthread_mutex_unlock(&f->lock);
    series_free(s);
}

size_t rp_family_size(rp_family *f)
{
    pthread_mutex_lock(&f->lock);
    size_t n = f->n_series;
    pthread_mutex_unlock(&f->lock);
    return n;
}

rp_series *rp_series_cached(_Atomic(rp_series *) *slot, rp_family *f,
                            const char *const *values)
{
    rp_series *s = atomic_load_explicit(slot, memory_order_acquire);
    if (!s && (s = rp_family_series(f, values)))
        atomic_store_explicit(slot, s, memory_order_release);
    return s;
}

void rp_series_observe(rp_series *s, uint64_t v)
{
    if (!s || !s->buckets)
        return;
    const rp_family *f = s->family;
    size_t i = 0;
    while (i < f->n_bounds && v > f->bounds[i])
        i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->value, (int64_t)v, memory_order_relaxed);
}

int64_t rp_series_value(const rp_series *s)
{
    return s ? atomic_load_explicit(&s->value, memory_order_relaxed) : 0;
}

int rp_metrics_add_collector(rp_metrics *m, rp_metrics_collector fn, void *arg)
{
    collector *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->fn = fn;
    c->arg = arg;
    pthread_mutex_lock(&m->lock);
    if (m->collectors_tail)
        m->collectors_tail->next = c;
    else
        m->collectors = c;
    m->collectors_tail = c;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* _bucket lines (cumulative), _sum and _count of one histogram series.
 * _count is the +Inf bucket, so the two always agree. */
static void render_histogram(rp_text *out, const rp_family *f, const rp_series *s)
{
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= f->n_bounds; i++) {
        cumulative += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        char le[64];
        if (i < f->n_bounds)
            snprintf(le, sizeof(le), "%.9g", (double)f->bounds[i] * f->scale);
        else
            snprintf(le, sizeof(le), "+Inf");
        rp_text_printf(out, "%s_bucket", f->name);
        label_set(out, f->labels, s->values, f->n_labels, "le", le);
        rp_text_printf(out, " %llu\n", (unsigned long long)cumulative);
    }
    rp_text_printf(out, "%s_sum", f->name);
    label_set(out, f->labels, s->values, f->n_labels, NULL, NULL);
    rp_text_puts(out, " ");
    number(out, (double)rp_series_value(s) * f->scale);
    rp_text_printf(out, "\n%s_count", f->name);
    label_set(out, f->labels, s->values, f->n_labels, NULL, NULL);
    rp_text_printf(out, " %llu\n", (unsigned long long)cumulative);
}

void rp_metrics_render(rp_metrics *m, rp_text *out)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    pthread_mutex_lock(&m->lock);
    rp_family *families = m->head;
    collector *collectors = m->collectors;
    pthread_mutex_unlock(&m->lock); /* both lists only grow: what was read stays valid */
    for (rp_family *f = families; f; f = f->next) {
        rp_metrics_header(out, f->name, f->help, type_names[f->type]);
        pthread_mutex_lock(&f->lock);
        for (const rp_series *s = f->head; s; s = s->next) {
            if (f->type == RP_HISTOGRAM) {
                render_histogram(out, f, s);
                continue;
            }
            rp_text_puts(out, f->name);
            label_set(out, f->labels, s->values, f->n_labels, NULL, NULL);
            rp_text_printf(out, " %lld\n", (long long)rp_series_value(s));
        }
        pthread_mutex_unlock(&f->lock);
    }
    for (collector *c = collectors; c; c = c->next)
        c->fn(c->arg, out);
}

/* ---- process figures ----------------------------------------------------------------- */

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

static double boot_time(void)
{
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return -1;
    char line[256];
    double btime = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "btime %lf", &btime) == 1)
            break;
    fclose(f);
    return btime;
}

static void process_collector(void *arg, rp_text *out)
{
    const char *prefix = arg ? arg : "";
    FILE *f = fopen("/proc/self/stat", "re");
    char buf[1024];
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold anything */
    unsigned long long utime, stime, start, rss;
    long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    /* fields 3.. after ") ": state is 3, utime 14, stime 15, starttime 22, rss 24 */
    if (!p || tck <= 0 || page <= 0 ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
                      "%*d %*d %llu %*u %llu", &utime, &stime, &start, &rss) != 4)
        return;
    char name[96];
    snprintf(name, sizeof(name), "%sprocess_cpu_seconds_total", prefix);
    rp_metrics_header(out, name, "User and system CPU time spent, in seconds.", "counter");
    rp_metrics_sample(out, name, NULL, NULL, (double)(utime + stime) / (double)tck);
    snprintf(name, sizeof(name), "%sprocess_resident_memory_bytes", prefix);
    rp_metrics_header(out, name, "Resident memory size in bytes.", "gauge");
    rp_metrics_sample(out, name, NULL, NULL, (double)rss * (double)page);
    int fds = open_fds();
    if (fds >= 0) {
        snprintf(name, sizeof(name), "%sprocess_open_fds", prefix);
        rp_metrics_header(out, name, "Number of open file descriptors.", "gauge");
        rp_metrics_sample(out, name, NULL, NULL, fds);
    }
    double btime = boot_time();
    if (btime > 0) {
        snprintf(name, sizeof(name), "%sprocess_start_time_seconds", prefix);
        rp_metrics_header(out, name, "Start time of the process since the Unix epoch, in seconds.",
                          "gauge");
        rp_metrics_sample(out, name, NULL, NULL, btime + (double)start / (double)tck);
    }
}

void rp_metrics_render_process(rp_text *out, const char *prefix)
{
    process_collector((void *)prefix, out);
}

int rp_metrics_add_process(rp_metrics *m)
{
    return rp_metrics_add_collector(m, process_collector, NULL);
}

