/*
 * fuzz_json_to_proto.c -- libFuzzer target: JSON text -> protobuf wire bytes
 * (gw_json_loadb + gw_json_to_proto), as the gateway converts a request
 * body, for a message of the build's descriptor sets or of a random schema.
 *
 * Input: [options byte][message choice: even = a known message (next bits
 * pick it), odd = a random schema built from the bytes that follow (see
 * fuzz_common.h)][JSON text...].  Whatever the encoder accepts must decode
 * again (gw_proto_to_json of its output); a failure there aborts.
 */
#include <jansson.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    gw_json_options opt = fuzz_options(fuzz_byte(&in));
    gw_schema *owned;
    const gw_message *m = fuzz_pick_message(&in, &owned);
    if (!m)
        return 0;
    size_t len;
    char *text = fuzz_rest(&in, &len);
    json_error_t jerr;
    json_t *json = gw_json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    if (json) {
        gw_buf wire = GW_BUF_INIT, back = GW_BUF_INIT;
        char err[512];
        if (gw_json_to_proto(m, json, &opt, &wire, err, sizeof(err)) == GW_OK &&
            gw_proto_to_json(m, wire.data ? wire.data : (const uint8_t *)"", wire.len, &opt,
                             &back, err, sizeof(err)) != GW_OK) {
            fprintf(stderr, "fuzz: %s: the encoder's own output does not decode: %s\n",
                    m->full_name, err);
            abort();
        }
        gw_buf_free(&wire);
        gw_buf_free(&back);
        json_decref(json);
    }
    free(text);
    gw_schema_free(owned);
    return 0;
}
