/*
 * fuzz_proto_to_json.c -- libFuzzer target: protobuf wire bytes -> JSON text
 * (gw_proto_to_json, gw_proto_field_to_json), as the gateway converts a
 * reply, for a message of the build's descriptor sets or of a random schema.
 *
 * Input: [options byte][field choice][message choice, as in
 * fuzz_json_to_proto.c][wire bytes...].  The JSON it writes must be valid
 * JSON (checked with jansson); a failure there aborts.
 */
#include <jansson.h>

#include "fuzz_common.h"

static void check_json(const gw_message *m, const gw_buf *out)
{
    json_error_t jerr;
    json_t *v = json_loadb(out->data ? (const char *)out->data : "", out->len,
                           JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    /* RFC 8259 allows "\u0000" in a key (a map<string, …> key may hold it);
     * jansson does not */
    if (!v && strstr(jerr.text, "NUL byte in object key"))
        return;
    if (!v) {
        fprintf(stderr, "fuzz: %s: output is not JSON (%s): %.*s\n", m->full_name, jerr.text,
                (int)(out->len > 2000 ? 2000 : out->len), out->data ? (char *)out->data : "");
        abort();
    }
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    gw_json_options opt = fuzz_options(fuzz_byte(&in));
    uint8_t field_pick = fuzz_byte(&in);
    gw_schema *owned;
    const gw_message *m = fuzz_pick_message(&in, &owned);
    if (!m)
        return 0;
    size_t len;
    char *wire = fuzz_rest(&in, &len);
    const uint8_t *bytes = (const uint8_t *)wire;
    char err[512];
    gw_buf out = GW_BUF_INIT;
    if (gw_proto_to_json(m, bytes, len, &opt, &out, err, sizeof(err)) == GW_OK)
        check_json(m, &out);
    gw_buf_free(&out);
    if (m->n_fields) {
        const gw_field *f = &m->fields[field_pick % m->n_fields];
        if (gw_proto_field_to_json(m, f, bytes, len, &opt, &out, err, sizeof(err)) == GW_OK)
            check_json(m, &out);
        gw_buf_free(&out);
    }
    free(wire);
    gw_schema_free(owned);
    return 0;
}
