/*
 * fuzz_schema.c -- libFuzzer target: FileDescriptorSet bytes as the gateway
 * gets them from a descriptors file or from the upstream's reflection
 * service (gw_schema_load_buffers), then the route table built from them
 * (gw_router_build), its OpenAPI document (gw_openapi_build, which must be
 * valid JSON) and an empty request and reply of each method converted
 * both ways.
 *
 * Input: the set's bytes.
 */
#include <stdlib.h>

#include "../../gateway/gw_openapi.h"
#include "../../gateway/gw_route.h"
#include "fuzz_common.h"

/* The OpenAPI document of the schema and routes, both ways of naming
 * fields; anything but JSON text (or running out of memory) is a bug. */
static void openapi(gw_schema *s, const gw_router *router)
{
    gw_gen gen = {.schema = s, .router = *router, .origin = "fuzz"};
    for (int proto_names = 0; proto_names < 2; proto_names++) {
        gw_openapi_options opt = {.proto_names = proto_names};
        gw_buf doc = GW_BUF_INIT;
        if (gw_openapi_build(&gen, &opt, &doc) == 0) {
            json_error_t error;
            json_t *parsed = json_loadb((const char *)doc.data, doc.len, 0, &error);
            if (!parsed || !json_object_get(parsed, "paths"))
                abort();
            json_decref(parsed);
        }
        gw_buf_free(&doc);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    const uint8_t *bufs[] = {data};
    gw_schema *s = gw_schema_load_buffers(bufs, &size, 1, "fuzz", err, sizeof(err));
    if (!s)
        return 0;
    size_t n;
    const gw_method *methods = gw_schema_methods(s, &n);
    gw_router router;
    if (gw_router_build(&router, methods, n, err, sizeof(err)) == 0) {
        openapi(s, &router);
        gw_router_free(&router);
    }
    gw_json_options opt = {.emit_defaults = 1};
    for (size_t i = 0; i < n && i < 8; i++) {
        const gw_message *types[] = {methods[i].input, methods[i].output};
        for (int k = 0; k < 2; k++) {
            gw_buf out = GW_BUF_INIT;
            json_t *empty = json_object();
            gw_json_to_proto(types[k], empty, &opt, &out, err, sizeof(err));
            json_decref(empty);
            gw_buf_free(&out);
            gw_proto_to_json(types[k], (const uint8_t *)"", 0, &opt, &out, err, sizeof(err));
            gw_buf_free(&out);
        }
    }
    gw_schema_free(s);
    return 0;
}
