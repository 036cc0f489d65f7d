/*
 * gw_status.c -- error bodies and the gRPC -> HTTP status table.
 *
 * google.rpc.Status is small and fixed (code = 1, message = 2, repeated Any
 * details = 3; Any: type_url = 1, value = 2), so it is read straight off the
 * wire here rather than through a descriptor the schema may not hold.
 */
#include "gw_status.h"

#include <stdio.h>
#include <string.h>

#include "gw_base64.h"
#include "gw_json.h"
#include "rp_pb_wire.h"

int gw_status_http_code(int code)
{
    static const int table[] = {
        200, /* OK */
        499, /* CANCELLED */
        500, /* UNKNOWN */
        400, /* INVALID_ARGUMENT */
        504, /* DEADLINE_EXCEEDED */
        404, /* NOT_FOUND */
        409, /* ALREADY_EXISTS */
        403, /* PERMISSION_DENIED */
        429, /* RESOURCE_EXHAUSTED */
        400, /* FAILED_PRECONDITION */
        409, /* ABORTED */
        400, /* OUT_OF_RANGE */
        501, /* UNIMPLEMENTED */
        500, /* INTERNAL */
        503, /* UNAVAILABLE */
        500, /* DATA_LOSS */
        401, /* UNAUTHENTICATED */
    };
    if (code < 0 || (size_t)code >= sizeof(table) / sizeof(table[0]))
        return 500;
    return table[code];
}

/* One length-delimited field (number `want`) of a wire message, each call
 * returning the next; 1 if found, 0 at the end, -1 if malformed. */
static int next_bytes_field(const uint8_t **p, const uint8_t *end, uint32_t want,
                            const uint8_t **data, size_t *len)
{
    while (*p < end) {
        rp_pb_field f;
        if (rp_pb_next_field(p, end, &f) != RP_PB_FIELD)
            return -1;
        if (f.number == want && f.wire == RP_PB_WIRE_LEN) {
            *data = f.data;
            *len = f.len;
            return 1;
        }
    }
    return 0;
}

static void write_any(gw_buf *out, const uint8_t *any, size_t len, const gw_schema *schema,
                      const gw_json_options *opt)
{
    const uint8_t *p = any, *end = any + len, *url = NULL, *value = NULL;
    size_t url_len = 0, value_len = 0;
    if (next_bytes_field(&p, end, 1, &url, &url_len) < 0)
        url = NULL;
    p = any;
    if (next_bytes_field(&p, end, 2, &value, &value_len) < 0)
        value = NULL;
    if (!url_len && !value_len) { /* an empty Any: {} in proto3 JSON */
        gw_buf_puts(out, "{}");
        return;
    }
    gw_buf_puts(out, "{\"@type\":");
    gw_json_write_text(out, url ? (const char *)url : "", url_len);
    char name[256] = "";
    const uint8_t *slash = url ? memrchr(url, '/', url_len) : NULL;
    size_t nlen = slash ? url_len - (size_t)(slash + 1 - url) : 0;
    if (slash && nlen < sizeof(name)) {
        memcpy(name, slash + 1, nlen);
        name[nlen] = '\0';
    }
    const gw_message *m = schema && name[0] ? gw_schema_message(schema, name) : NULL;
    gw_buf fields = GW_BUF_INIT;
    char err[128];
    if (m && gw_proto_to_json(m, value ? value : (const uint8_t *)"", value_len, opt, &fields,
                              err, sizeof(err)) == GW_OK) {
        if (m->wkt != GW_WKT_NONE) { /* a JSON form of its own: under "value" */
            gw_buf_puts(out, ",\"value\":");
            gw_buf_append(out, fields.data, fields.len);
        } else if (fields.len > 2) { /* "{…}" without its braces */
            gw_buf_putc(out, ',');
            gw_buf_append(out, fields.data + 1, fields.len - 2);
        }
    } else {
        gw_buf_puts(out, ",\"value\":\"");
        gw_base64_encode(out, value ? value : (const uint8_t *)"", value_len);
        gw_buf_putc(out, '"');
    }
    gw_buf_free(&fields);
    gw_buf_putc(out, '}');
}

static void write_details(gw_buf *out, const gw_metadata *trailing, size_t n,
                          const gw_schema *schema, const gw_json_options *opt)
{
    const gw_metadata *status = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(trailing[i].key, "grpc-status-details-bin") == 0)
            status = &trailing[i];
    gw_buf_putc(out, '[');
    if (status) {
        const uint8_t *p = (const uint8_t *)status->value, *end = p + status->value_len;
        const uint8_t *any;
        size_t len;
        int first = 1;
        while (next_bytes_field(&p, end, 3, &any, &len) == 1) {
            if (!first)
                gw_buf_putc(out, ',');
            first = 0;
            write_any(out, any, len, schema, opt);
        }
    }
    gw_buf_putc(out, ']');
}

void gw_status_error_body(gw_buf *out, int code, const char *message,
                          const gw_metadata *trailing, size_t n_trailing,
                          const gw_schema *schema, const gw_json_options *opt)
{
    gw_buf_printf(out, "{\"code\":%d,\"message\":", code);
    gw_json_write_text(out, message, strlen(message));
    gw_buf_puts(out, ",\"details\":");
    write_details(out, trailing, n_trailing, schema, opt);
    gw_buf_putc(out, '}');
}
