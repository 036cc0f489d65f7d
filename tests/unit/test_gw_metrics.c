/*
 * test_gw_metrics.c -- gateway/gw_metrics.c, the per-method stats of the
 * APIs the gateway serves: held by each generation that has the method and
 * freed, series and all, with the last; a method kept across generations
 * keeps its counters; one that comes back starts from zero; what /metrics
 * holds after many generations of renamed methods (an upstream that renames
 * them at each reconnect) is one generation's.  The upstream (read at
 * render time) is a channel to a port where nothing listens.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/gw_metrics.h"

static gw_resolver *resolver;
static gw_upstream *up;

static int setup(void **state)
{
    (void)state;
    char err[256];
    resolver = gw_resolver_new("127.0.0.1:1", GW_RESOLVE_INTERVAL_DEFAULT_MS, err, sizeof(err));
    up = resolver ? gw_upstream_start(resolver, NULL, NULL, err, sizeof(err)) : NULL;
    if (!up)
        fprintf(stderr, "%s\n", err);
    return up ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    gw_upstream_stop(up);
    gw_resolver_free(resolver);
    return 0;
}

static char *render(gw_metrics *m)
{
    static rp_text out;
    rp_text_free(&out);
    gw_metrics_render(m, &out);
    assert_false(out.oom);
    return out.s ? out.s : "";
}

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("expected\n%s\nin\n%s", part, text);
}

static void assert_lacks(const char *text, const char *part)
{
    if (strstr(text, part))
        fail_msg("did not expect\n%s\nin\n%s", part, text);
}

enum { GENERATIONS = 200, METHODS = 500 };

/* One generation's stats: METHODS methods of new names, and /k.S/Kept,
 * each answered once (a 200, and a status with no slot of its own). */
static void hold_generation(gw_metrics *m, gw_method_stats **held, int n)
{
    char method[32];
    for (int i = 0; i < METHODS; i++) {
        snprintf(method, sizeof(method), "/g%d.S/M%d", n, i);
        held[i] = gw_metrics_method(m, method);
        assert_non_null(held[i]);
        gw_metrics_request(held[i], 200, 0, 700);
        gw_metrics_request(held[i], 418, 2, 700);
    }
    held[METHODS] = gw_metrics_method(m, "/k.S/Kept");
    assert_non_null(held[METHODS]);
    gw_metrics_request(held[METHODS], 200, 0, 700);
}

static void release_generation(gw_method_stats **held)
{
    for (int i = 0; i <= METHODS; i++)
        gw_metrics_release(held[i]);
}

static void test_generations(void **state)
{
    (void)state;
    gw_metrics *m = gw_metrics_new(up);
    assert_non_null(m);
    gw_method_stats *none = gw_metrics_method(m, GW_METRICS_NO_METHOD);
    gw_metrics_request(none, 404, 5, 100);
    gw_method_stats **a = calloc(METHODS + 1, sizeof(*a)), **b = calloc(METHODS + 1, sizeof(*b));
    assert_non_null(a);
    assert_non_null(b);
    hold_generation(m, a, 0);
    size_t first_len = strlen(render(m));
    for (int n = 1; n < GENERATIONS; n++) {
        hold_generation(m, b, n); /* published before the old one is released */
        release_generation(a);
        gw_method_stats **t = a;
        a = b;
        b = t;
    }
    char *text = render(m);
    size_t len = strlen(text);
    if (len > first_len + first_len / 10) /* longer names: "g199" for "g0" */
        fail_msg("/metrics is %zu bytes after %d generations, %zu after one", len, GENERATIONS,
                 first_len);
    assert_lacks(text, "/g0.S/");
    assert_lacks(text, "/g198.S/");
    assert_contains(text, "rpcrest_gateway_requests_total{method=\"/g199.S/M499\",code=\"200\","
                          "grpc_code=\"OK\"} 1\n");
    assert_contains(text, "rpcrest_gateway_requests_total{method=\"/g199.S/M499\",code=\"418\","
                          "grpc_code=\"UNKNOWN\"} 1\n");
    assert_contains(text, "rpcrest_gateway_request_duration_seconds_count{method=\"/g199.S/M0\"} "
                          "2\n");
    /* kept throughout: counted by every generation, in its place */
    const char *kept = strstr(text, "rpcrest_gateway_requests_total{method=\"/k.S/Kept\","
                                    "code=\"200\",grpc_code=\"OK\"} 200\n");
    const char *newest = strstr(text, "rpcrest_gateway_requests_total{method=\"/g199.S/M0\"");
    assert_non_null(kept);
    assert_true(kept < newest);
    assert_contains(text, "rpcrest_gateway_requests_total{method=\"none\",code=\"404\","
                          "grpc_code=\"NOT_FOUND\"} 1\n");
    /* gone, then back: from zero */
    release_generation(a);
    text = render(m);
    assert_lacks(text, "/g199.S/");
    assert_lacks(text, "/k.S/Kept");
    gw_method_stats *back = gw_metrics_method(m, "/k.S/Kept");
    gw_metrics_request(back, 200, 0, 700);
    assert_contains(render(m), "rpcrest_gateway_requests_total{method=\"/k.S/Kept\","
                               "code=\"200\",grpc_code=\"OK\"} 1\n");
    gw_metrics_release(back);
    gw_metrics_release(none);
    free(a);
    free(b);
    gw_metrics_free(m);
}

/* Stats held when the registry is freed are freed with it. */
static void test_free_with_stats_held(void **state)
{
    (void)state;
    gw_metrics *m = gw_metrics_new(up);
    assert_non_null(m);
    gw_method_stats *st = gw_metrics_method(m, "/x.S/M");
    assert_ptr_equal(gw_metrics_method(m, "/x.S/M"), st); /* two references */
    gw_metrics_request(st, 418, 2, 1);
    gw_metrics_release(st);
    assert_contains(render(m), "method=\"/x.S/M\"");
    gw_metrics_free(m);
}

/* A gRPC code past 16 (a foreign upstream's) is named UNKNOWN: it counts
 * in code 2's series, which the release drops once (it was noted as a
 * rare series too and dropped twice, a use after free). */
static void test_code_past_16_is_unknown(void **state)
{
    (void)state;
    gw_metrics *m = gw_metrics_new(up);
    assert_non_null(m);
    gw_method_stats *st = gw_metrics_method(m, "/x.S/M");
    gw_metrics_request(st, 500, 2, 1);
    gw_metrics_request(st, 500, 42, 1);
    gw_metrics_request(st, 418, 42, 1); /* a rare status too */
    gw_metrics_request(st, 418, 2, 1);
    char *text = render(m);
    assert_contains(text, "rpcrest_gateway_requests_total{method=\"/x.S/M\",code=\"500\","
                          "grpc_code=\"UNKNOWN\"} 2\n");
    assert_contains(text, "rpcrest_gateway_requests_total{method=\"/x.S/M\",code=\"418\","
                          "grpc_code=\"UNKNOWN\"} 2\n");
    gw_metrics_release(st);
    assert_lacks(render(m), "method=\"/x.S/M\"");
    gw_metrics_free(m);
}

/* Statuses with no slot of their own: each (status, gRPC code) its own
 * series, counted as often as it occurs, all dropped with their method. */
static void test_rare_statuses(void **state)
{
    (void)state;
    gw_metrics *m = gw_metrics_new(up);
    assert_non_null(m);
    gw_method_stats *st = gw_metrics_method(m, "/x.S/M");
    for (int i = 0; i < 3; i++) {
        gw_metrics_request(st, 418, 2, 1);
        gw_metrics_request(st, 418, -1, 1);
        gw_metrics_request(st, 507, 13, 1);
    }
    gw_metrics_request(st, 418, 9, 1);
    char *text = render(m);
    assert_contains(text, "{method=\"/x.S/M\",code=\"418\",grpc_code=\"UNKNOWN\"} 3\n");
    assert_contains(text, "{method=\"/x.S/M\",code=\"418\",grpc_code=\"none\"} 3\n");
    assert_contains(text, "{method=\"/x.S/M\",code=\"507\",grpc_code=\"INTERNAL\"} 3\n");
    assert_contains(text, "{method=\"/x.S/M\",code=\"418\",grpc_code=\"FAILED_PRECONDITION\"} 1\n");
    gw_metrics_release(st);
    assert_lacks(render(m), "method=\"/x.S/M\"");
    gw_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generations),
        cmocka_unit_test(test_free_with_stats_held),
        cmocka_unit_test(test_code_past_16_is_unknown),
        cmocka_unit_test(test_rare_statuses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
