/*
 * discovery_tool.c -- a command-line driver of gateway/gw_discovery.c for
 * tests/e2e/test_gateway_discovery.py: fetches the schema of a gRPC server
 * over reflection, loads it with gw_schema_load_buffers and prints what the
 * gateway would route.  Not a cmocka suite.
 *
 *   discovery_tool [-t TIMEOUT_MS] [-i] [-w] [-c] [-o FILE] TARGET
 *
 *   -t  the timeout (default 5000 ms)     -i  GW_DISCOVERY_INTERNAL
 *   -w  GW_DISCOVERY_WAIT_FOR_READY       -c  gw_discovery_fetch on a control
 *   -o  write the FileDescriptorSet to FILE   connection (gw_upstream.h)
 *
 * Output, on success (exit 0):
 *   protocol grpc.reflection.v1
 *   files 4
 *   service example.MyService
 *   method /example.MyService/Echo POST /v1/example/echo
 * (a method without HTTP binding prints "-" instead of verb and path).
 * On failure: "discovery_tool: reflection: …" on stderr, exit 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../gateway/gw_discovery.h"
#include "../../gateway/gw_schema.h"
#include "../../gateway/gw_upstream.h"

#define PROG "discovery_tool"

static int usage(void)
{
    fprintf(stderr, "usage: " PROG " [-t TIMEOUT_MS] [-i] [-w] [-c] [-o FILE] TARGET\n");
    return 2;
}

static int write_file(const char *path, const gw_buf *b)
{
    FILE *f = fopen(path, "wb");
    if (!f || (b->len && fwrite(b->data, 1, b->len, f) != b->len)) {
        perror(path);
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* Discovery on a control connection, as the gateway makes it. */
static int fetch_on_own_channel(const char *target, int64_t timeout_ms, unsigned flags,
                                gw_discovery_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof(*res));
    gw_resolver *resolver = gw_resolver_new(target, GW_RESOLVE_INTERVAL_DEFAULT_MS, err, errlen);
    if (!resolver)
        return -1;
    gw_upstream *up = gw_upstream_start(resolver, NULL, NULL, err, errlen);
    int rc = -1;
    if (up) {
        rc = gw_discovery_fetch(gw_upstream_hold(up), timeout_ms, flags, NULL, res, err, errlen);
        gw_upstream_release(up);
        gw_upstream_stop(up);
    }
    gw_resolver_free(resolver);
    return rc;
}

static void print_schema(const gw_discovery_result *res, const gw_schema *schema)
{
    printf("protocol %s\n", res->protocol);
    printf("files %zu\n", res->n_files);
    for (size_t i = 0; i < res->n_services; i++)
        printf("service %s\n", res->services[i]);
    for (size_t i = 0; i < res->n_undescribed; i++)
        printf("undescribed %s\n", res->undescribed[i]);
    size_t n;
    const gw_method *m = gw_schema_methods(schema, &n);
    for (size_t i = 0; i < n; i++) {
        if (m[i].n_bindings == 0)
            printf("method %s -\n", m[i].path);
        for (size_t j = 0; j < m[i].n_bindings; j++)
            printf("method %s %s %s\n", m[i].path, m[i].bindings[j].verb,
                   m[i].bindings[j].path_template);
    }
}

int main(int argc, char **argv)
{
    int64_t timeout_ms = 5000;
    unsigned flags = 0;
    int own_channel = 0;
    const char *out_path = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "t:iwco:")) != -1) {
        switch (opt) {
        case 't': timeout_ms = strtoll(optarg, NULL, 10); break;
        case 'i': flags |= GW_DISCOVERY_INTERNAL; break;
        case 'w': flags |= GW_DISCOVERY_WAIT_FOR_READY; break;
        case 'c': own_channel = 1; break;
        case 'o': out_path = optarg; break;
        default: return usage();
        }
    }
    if (optind + 1 != argc)
        return usage();
    const char *target = argv[optind];

    char err[1024];
    gw_discovery_result res;
    int rc = own_channel ? fetch_on_own_channel(target, timeout_ms, flags, &res, err, sizeof(err))
                         : gw_discovery_fetch_target(target, timeout_ms, flags, &res, err,
                                                     sizeof(err));
    if (rc < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    int status = 0;
    if (out_path && write_file(out_path, &res.set) < 0)
        status = 1;
    const uint8_t *bufs[1] = {res.set.data};
    size_t lens[1] = {res.set.len};
    gw_schema *schema = gw_schema_load_buffers(bufs, lens, 1, target, err, sizeof(err));
    if (!schema) {
        fprintf(stderr, PROG ": %s\n", err);
        status = 1;
    } else {
        print_schema(&res, schema);
        gw_schema_free(schema);
    }
    gw_discovery_result_free(&res);
    return status;
}
