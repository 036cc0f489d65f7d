/*
 * gw_main.c -- rpcrest-gateway: reads the INI, loads the services'
 * descriptor sets, builds the route table, starts the gRPC client and the
 * HTTP server, and runs until SIGTERM/SIGINT.
 */
#include <errno.h>
#include <grpc/grpc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_http.h"
#include "gw_route.h"
#include "gw_schema.h"
#include "gw_upstream.h"
#include "rp_config.h"

#define PROG "rpcrest-gateway"

static void usage(FILE *out)
{
    fprintf(out, "usage: " PROG " -c FILE\n"
                 "  Serves REST/JSON on [gateway] listen and transcodes each request to\n"
                 "  a gRPC call on the [host] listen address.\n");
}

static int cpu_count(int configured)
{
    if (configured > 0)
        return configured;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* The descriptor sets named by the [service.*] sections. */
static gw_schema *load_schema(const rp_config *cfg)
{
    const char **paths = calloc(cfg->n_services ? cfg->n_services : 1, sizeof(*paths));
    if (!paths) {
        fprintf(stderr, PROG ": out of memory\n");
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_services; i++) {
        const rp_service_conf *svc = &cfg->services[i];
        if (!svc->descriptors) {
            fprintf(stderr, "%s:%d: [service.%s] has no 'descriptors = FILE.pb'; the gateway "
                            "needs the service's descriptor set\n",
                    cfg->path, svc->line, svc->name);
            free(paths);
            return NULL;
        }
        paths[i] = svc->descriptors;
    }
    char err[512];
    gw_schema *schema = gw_schema_load(paths, cfg->n_services, err, sizeof(err));
    free(paths);
    if (!schema)
        fprintf(stderr, PROG ": %s\n", err);
    return schema;
}

static void log_routes(const gw_router *router, const gw_method *methods, size_t n)
{
    for (size_t i = 0; i < router->n_routes; i++)
        fprintf(stderr, PROG ": route %s %s -> %s\n", router->routes[i].binding->verb,
                router->routes[i].binding->path_template, router->routes[i].method->path);
    for (size_t i = 0; i < n; i++)
        if (methods[i].n_bindings && methods[i].client_streaming)
            fprintf(stderr, PROG ": not routed: %s streams from the client, and this version "
                            "transcodes unary and server-streaming methods only\n",
                    methods[i].path);
}

static int wait_for_stop_signal(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            return -1;
        if (sig == SIGHUP) {
            fprintf(stderr, PROG ": SIGHUP ignored: this version does not reload\n");
            continue;
        }
        return sig;
    }
}

/* Runs the gateway; returns the process exit status. */
static int serve(const rp_config *cfg, const gw_schema *schema, const gw_router *router,
                 const gw_method *methods, size_t n_methods)
{
    char target[600], err[512];
    rp_config_gateway_target(cfg, target, sizeof(target));
    int threads = cpu_count(cfg->gateway.threads);
    gw_upstream *up = gw_upstream_start(target, methods, n_methods, threads, err, sizeof(err));
    if (!up) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    gw_http_config hc = {
        .listen = cfg->gateway.listen,
        .threads = threads,
        .max_body_bytes = cfg->gateway.max_body_bytes,
        .timeout_ms = (int64_t)(cfg->gateway.timeout * 1000),
        .max_timeout_ms = (int64_t)(cfg->gateway.max_timeout * 1000),
        .ignore_unknown_query_parameters = cfg->gateway.ignore_unknown_query_parameters,
        .json = {
            .ignore_unknown_fields = cfg->gateway.json_ignore_unknown_fields,
            .emit_defaults = cfg->gateway.json_emit_defaults,
            .proto_names = cfg->gateway.json_proto_names,
        },
    };
    gw_http *http = gw_http_start(&hc, schema, router, up, err, sizeof(err));
    if (!http) {
        fprintf(stderr, PROG ": %s\n", err);
        gw_upstream_stop(up);
        return 1;
    }
    fprintf(stderr, PROG ": listening on http://%s with %d threads, %zu routes, upstream %s\n",
            cfg->gateway.listen, threads, router->n_routes, target);
    int sig = wait_for_stop_signal();
    fprintf(stderr, PROG ": %s: stopping\n", sig > 0 ? strsignal(sig) : "sigwait failed");
    gw_http_stop(http, hc.timeout_ms);
    gw_upstream_stop(up);
    return 0;
}

int main(int argc, char **argv)
{
    const char *conf = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "c:h")) != -1) {
        switch (opt) {
        case 'c': conf = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 64;
        }
    }
    if (!conf || optind != argc) {
        usage(stderr);
        return 64;
    }
    char err[1024];
    rp_config *cfg = rp_config_load(conf, err, sizeof(err));
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        return RP_EX_CONFIG;
    }
    int status = RP_EX_CONFIG;
    gw_router router = {0};
    gw_schema *schema = load_schema(cfg);
    if (!schema)
        goto out;
    size_t n_methods;
    const gw_method *methods = gw_schema_methods(schema, &n_methods);
    if (gw_router_build(&router, methods, n_methods, err, sizeof(err)) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    log_routes(&router, methods, n_methods);

    /* gRPC's threads inherit this mask; the main thread takes the signals. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    grpc_init();
    status = serve(cfg, schema, &router, methods, n_methods);
    grpc_shutdown();
out:
    gw_router_free(&router);
    gw_schema_free(schema);
    rp_config_free(cfg);
    return status;
}
