/*
 * test_rp_metrics.c -- common/rp_metrics.c: the Prometheus text exposition
 * of counters, gauges and histograms (HELP/TYPE lines, label escaping,
 * cumulative buckets, _sum and _count), series identity, bad families,
 * counting from several threads at once, a family of 100,000 series
 * (one per method of the largest API the gateway loads), each found again
 * by its values in constant time and rendered in the order they came, and
 * series dropped as an API changes, leaving what is kept bounded by the API
 * in use.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_metrics.h"

static char *render(rp_metrics *m)
{
    static rp_text out;
    rp_text_free(&out);
    rp_metrics_render(m, &out);
    assert_false(out.oom);
    return out.s ? out.s : "";
}

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("expected\n%s\nin\n%s", part, text);
}

static void test_counter_and_gauge(void **state)
{
    (void)state;
    rp_metrics *m = rp_metrics_new();
    static const char *const labels[] = {"method", "code", NULL};
    rp_family *c = rp_metrics_family(m, RP_COUNTER, "x_requests_total", "Requests.", labels,
                                     NULL, 0, 1);
    rp_family *g = rp_metrics_family(m, RP_GAUGE, "x_in_flight", "Now.", NULL, NULL, 0, 1);
    const char *v1[] = {"/a.B/C", "200"}, *v2[] = {"/a.B/C", "404"};
    rp_series *s1 = rp_family_series(c, v1);
    assert_ptr_equal(rp_family_series(c, v1), s1); /* the same series, not a new one */
    rp_series *s2 = rp_family_series(c, v2);
    assert_ptr_not_equal(s1, s2);
    rp_series_add(s1, 3);
    rp_series_add(s2, 1);
    rp_series *gs = rp_family_series(g, NULL);
    rp_series_add(gs, 5);
    rp_series_add(gs, -7);
    assert_int_equal(rp_series_value(gs), -2);
    char *text = render(m);
    assert_string_equal(text,
                        "# HELP x_requests_total Requests.\n"
                        "# TYPE x_requests_total counter\n"
                        "x_requests_total{method=\"/a.B/C\",code=\"200\"} 3\n"
                        "x_requests_total{method=\"/a.B/C\",code=\"404\"} 1\n"
                        "# HELP x_in_flight Now.\n"
                        "# TYPE x_in_flight gauge\n"
                        "x_in_flight -2\n");
    rp_series_set(gs, 9);
    assert_contains(render(m), "\nx_in_flight 9\n");
    rp_metrics_free(m);
}

static void test_escaping(void **state)
{
    (void)state;
    rp_metrics *m = rp_metrics_new();
    static const char *const labels[] = {"v", NULL};
    rp_family *c = rp_metrics_family(m, RP_COUNTER, "x_total", "Help with \\ and\nnewline.",
                                     labels, NULL, 0, 1);
    const char *v[] = {"a\"b\\c\nd"};
    rp_series_add(rp_family_series(c, v), 1);
    char *text = render(m);
    assert_contains(text, "# HELP x_total Help with \\\\ and\\nnewline.\n");
    assert_contains(text, "x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
    /* UTF-8 kept, bytes that are not UTF-8 (a hostile descriptor's name)
     * replaced: Prometheus drops a page with one of them whole */
    const char *u[] = {"caf\xc3\xa9 \xf0\x9f\x98\x88 x\xff\xfey \xe2\x82 z \xed\xa0\x80"};
    rp_series_add(rp_family_series(c, u), 1);
    text = render(m);
    assert_contains(text, "x_total{v=\"caf\xc3\xa9 \xf0\x9f\x98\x88 x\xef\xbf\xbd\xef\xbf\xbdy "
                          "\xef\xbf\xbd z \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"} 1\n");
    rp_metrics_free(m);
}

static void test_histogram(void **state)
{
    (void)state;
    rp_metrics *m = rp_metrics_new();
    static const char *const labels[] = {"method", NULL};
    static const uint64_t bounds[] = {1000, 10000, 100000}; /* µs: 1 ms, 10 ms, 100 ms */
    rp_family *h = rp_metrics_family(m, RP_HISTOGRAM, "x_seconds", "Durations.", labels,
                                     bounds, 3, 1e-6);
    const char *v[] = {"m"};
    rp_series *s = rp_family_series(h, v);
    rp_series_observe(s, 500);     /* <= 1 ms */
    rp_series_observe(s, 1000);    /* le is inclusive */
    rp_series_observe(s, 5000);    /* <= 10 ms */
    rp_series_observe(s, 2000000); /* +Inf */
    char *text = render(m);
    assert_string_equal(text,
                        "# HELP x_seconds Durations.\n"
                        "# TYPE x_seconds histogram\n"
                        "x_seconds_bucket{method=\"m\",le=\"0.001\"} 2\n"
                        "x_seconds_bucket{method=\"m\",le=\"0.01\"} 3\n"
                        "x_seconds_bucket{method=\"m\",le=\"0.1\"} 3\n"
                        "x_seconds_bucket{method=\"m\",le=\"+Inf\"} 4\n"
                        "x_seconds_sum{method=\"m\"} 2.0065\n"
                        "x_seconds_count{method=\"m\"} 4\n");
    rp_metrics_free(m);
}

static void test_bad_families(void **state)
{
    (void)state;
    rp_metrics *m = rp_metrics_new();
    static const uint64_t unordered[] = {10, 5};
    static const char *const five[] = {"a", "b", "c", "d", "e", NULL};
    assert_null(rp_metrics_family(m, RP_HISTOGRAM, "h", "", NULL, unordered, 2, 1));
    assert_null(rp_metrics_family(m, RP_HISTOGRAM, "h", "", NULL, NULL, 0, 1));
    assert_null(rp_metrics_family(m, RP_COUNTER, "c", "", five, NULL, 0, 1));
    assert_null(rp_family_series(NULL, NULL));
    rp_series_add(NULL, 1); /* updates of a missing series are no-ops */
    rp_series_observe(NULL, 1);
    assert_string_equal(render(m), "");
    rp_metrics_free(m);
}

static void collect(void *arg, rp_text *out)
{
    rp_metrics_header(out, "x_state", "A state set.", "gauge");
    static const char *const labels[] = {"state", NULL};
    const char *v[] = {(const char *)arg};
    rp_metrics_sample(out, "x_state", labels, v, 1);
    rp_metrics_sample(out, "x_ratio", NULL, NULL, 0.25);
}

static void test_collector_and_process(void **state)
{
    (void)state;
    rp_metrics *m = rp_metrics_new();
    assert_int_equal(rp_metrics_add_collector(m, collect, "ready"), 0);
    assert_int_equal(rp_metrics_add_process(m), 0);
    char *text = render(m);
    assert_contains(text, "# TYPE x_state gauge\nx_state{state=\"ready\"} 1\nx_ratio 0.25\n");
    assert_contains(text, "# TYPE process_cpu_seconds_total counter\n");
    assert_contains(text, "# TYPE process_resident_memory_bytes gauge\n");
    assert_contains(text, "# TYPE process_open_fds gauge\n");
    assert_contains(text, "# TYPE process_start_time_seconds gauge\n");
    rp_metrics_free(m);
}

typedef struct worker {
    rp_series *counter, *hist;
} worker;

static void *count(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 100000; i++) {
        rp_series_add(w->counter, 1);
        rp_series_observe(w->hist, (uint64_t)(i % 3));
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    rp_metrics *m = rp_metrics_new();
    static const uint64_t bounds[] = {1};
    worker w = {
        rp_family_series(rp_metrics_family(m, RP_COUNTER, "c_total", "", NULL, NULL, 0, 1), NULL),
        rp_family_series(rp_metrics_family(m, RP_HISTOGRAM, "h", "", NULL, bounds, 1, 1), NULL),
    };
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, count, &w);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(rp_series_value(w.counter), 400000);
    char *text = render(m);
    assert_contains(text, "h_count 400000\n");
    assert_contains(text, "h_bucket{le=\"+Inf\"} 400000\n");
    rp_metrics_free(m);
}

/* 100,000 series of two labels, each found again by its values; the same
 * values in the other order are another series.  Finding one takes a hash,
 * not a walk along the others: the whole test takes a fraction of a
 * second of CPU, where comparing with every series took over 30 s. */
static void test_many_series(void **state)
{
    (void)state;
    enum { N = 100000 };
    rp_metrics *m = rp_metrics_new();
    static const char *const labels[] = {"method", "code", NULL};
    rp_family *f = rp_metrics_family(m, RP_COUNTER, "many_total", "Many.", labels, NULL, 0, 1);
    rp_series **made = malloc(N * sizeof(*made));
    assert_non_null(made);
    char method[32];
    for (int i = 0; i < N; i++) {
        snprintf(method, sizeof(method), "/x.S/M%d", i);
        const char *v[] = {method, "200"};
        made[i] = rp_family_series(f, v);
        assert_non_null(made[i]);
        rp_series_add(made[i], i);
    }
    for (int i = 0; i < N; i++) {
        snprintf(method, sizeof(method), "/x.S/M%d", i);
        const char *v[] = {method, "200"};
        assert_ptr_equal(rp_family_series(f, v), made[i]);
    }
    const char *swapped[] = {"200", "/x.S/M7"}, *straight[] = {"/x.S/M7", "200"};
    assert_ptr_not_equal(rp_family_series(f, swapped), rp_family_series(f, straight));
    char *text = render(m);
    const char *first = strstr(text, "many_total{method=\"/x.S/M0\",code=\"200\"} 0\n");
    const char *last = strstr(text, "many_total{method=\"/x.S/M99999\",code=\"200\"} 99999\n");
    const char *after = strstr(text, "many_total{method=\"200\",code=\"/x.S/M7\"} 0\n");
    assert_non_null(first);
    assert_true(first < last && last < after); /* in the order they came */
    free(made);
    rp_metrics_free(m);
}

/* The series of one API generation: a counter and a histogram per method. */
enum { GENERATIONS = 200, METHODS = 500 };
typedef struct generation {
    rp_series *count[METHODS], *time[METHODS];
} generation;

static void make_generation(generation *g, rp_family *c, rp_family *h, int n)
{
    char method[32];
    for (int i = 0; i < METHODS; i++) {
        snprintf(method, sizeof(method), "/g%d.S/M%d", n, i);
        const char *v[] = {method, "200"};
        g->count[i] = rp_family_series(c, v);
        g->time[i] = rp_family_series(h, v);
        assert_non_null(g->count[i]);
        assert_non_null(g->time[i]);
        rp_series_add(g->count[i], 1);
        rp_series_observe(g->time[i], 3);
    }
}

static void drop_generation(generation *g)
{
    for (int i = 0; i < METHODS; i++) {
        rp_series_drop(g->count[i]);
        rp_series_drop(g->time[i]);
    }
}

/* An upstream that renames its methods at each reconnect: 200 generations
 * of 500 methods, each generation's series dropped once the next one's are
 * made.  The families hold one generation's (and the series kept
 * throughout), the rendering stays as long as one generation's, a series
 * kept keeps its value and its place before the others, the series left
 * are found by their values after their neighbours in the index went, and
 * a dropped one asked for again starts from zero. */
static void test_series_dropped_with_generations(void **state)
{
    (void)state;
    rp_metrics *m = rp_metrics_new();
    static const char *const labels[] = {"method", "code", NULL};
    static const uint64_t bounds[] = {1, 10};
    rp_family *c = rp_metrics_family(m, RP_COUNTER, "x_total", "Calls.", labels, NULL, 0, 1);
    rp_family *h = rp_metrics_family(m, RP_HISTOGRAM, "x_seconds", "Time.", labels, bounds, 2,
                                     1);
    const char *kept_v[] = {"/k.S/Kept", "200"};
    rp_series *kept = rp_family_series(c, kept_v);
    rp_series_add(kept, 7);
    generation *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    assert_non_null(a);
    assert_non_null(b);
    make_generation(a, c, h, 0);
    size_t first_len = strlen(render(m));
    for (int n = 1; n < GENERATIONS; n++) {
        make_generation(b, c, h, n);
        drop_generation(a);
        generation *t = a;
        a = b;
        b = t;
        assert_int_equal(rp_family_size(c), METHODS + 1);
        assert_int_equal(rp_family_size(h), METHODS);
    }
    char *text = render(m);
    size_t len = strlen(text);
    if (len > first_len + first_len / 10) /* longer names: "g199" for "g0" */
        fail_msg("%zu bytes rendered after %d generations, %zu after one", len, GENERATIONS,
                 first_len);
    assert_null(strstr(text, "/g0.S/"));
    assert_null(strstr(text, "/g198.S/"));
    const char *k = strstr(text, "x_total{method=\"/k.S/Kept\",code=\"200\"} 7\n");
    const char *first = strstr(text, "x_total{method=\"/g199.S/M0\",code=\"200\"} 1\n");
    const char *last = strstr(text, "x_total{method=\"/g199.S/M499\",code=\"200\"} 1\n");
    assert_non_null(k);
    assert_true(k < first && first < last);
    assert_contains(text, "x_seconds_count{method=\"/g199.S/M499\",code=\"200\"} 1\n");
    for (int i = 0; i < METHODS; i++) {
        char method[32];
        snprintf(method, sizeof(method), "/g199.S/M%d", i);
        const char *v[] = {method, "200"};
        assert_ptr_equal(rp_family_series(c, v), a->count[i]);
        assert_ptr_equal(rp_family_series(h, v), a->time[i]);
    }
    assert_ptr_equal(rp_family_series(c, kept_v), kept);
    const char *back[] = {"/g0.S/M0", "200"};
    assert_int_equal(rp_series_value(rp_family_series(c, back)), 0);
    assert_int_equal(rp_family_size(c), METHODS + 2);
    free(a);
    free(b);
    rp_metrics_free(m);
}

typedef struct churner {
    rp_family *c;
    int seed;
} churner;

/* Makes and drops series of its own, as publishing and releasing APIs do. */
static void *churn(void *arg)
{
    churner *w = arg;
    char method[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(method, sizeof(method), "/t%d.S/M%d", w->seed, i);
        const char *v[] = {method, "200"};
        rp_series *s = rp_family_series(w->c, v);
        rp_series_add(s, 1);
        rp_series_drop(s);
    }
    return NULL;
}

/* Rendering while other threads make and drop series: each render sees a
 * whole list (the sanitizer build checks that nothing freed is read). */
static void test_drop_while_rendering(void **state)
{
    (void)state;
    rp_metrics *m = rp_metrics_new();
    static const char *const labels[] = {"method", "code", NULL};
    rp_family *c = rp_metrics_family(m, RP_COUNTER, "x_total", "Calls.", labels, NULL, 0, 1);
    const char *kept_v[] = {"/k.S/Kept", "200"};
    rp_series_add(rp_family_series(c, kept_v), 1);
    churner w[3] = {{c, 0}, {c, 1}, {c, 2}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, churn, &w[i]);
    for (int i = 0; i < 200; i++)
        assert_contains(render(m), "x_total{method=\"/k.S/Kept\",code=\"200\"} 1\n");
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(rp_family_size(c), 1);
    rp_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_bad_families),
        cmocka_unit_test(test_collector_and_process),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_series_dropped_with_generations),
        cmocka_unit_test(test_drop_while_rendering),
        cmocka_unit_test(test_many_series),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
