/*
 * gw_httpbody.c -- google.api.HttpBody on the wire (gw_httpbody.h).
 */
#include "gw_httpbody.h"

#include <string.h>

#include "gw_headers.h"
#include "rp_pb_wire.h"

#define FIELD_CONTENT_TYPE 1
#define FIELD_DATA 2

int gw_httpbody_is(const gw_message *m)
{
    return m && strcmp(m->full_name, "google.api.HttpBody") == 0;
}

gw_result gw_httpbody_read(const uint8_t *wire, size_t len, gw_httpbody *out)
{
    memset(out, 0, sizeof(*out));
    const uint8_t *p = wire, *end = wire + len;
    while (p < end) {
        rp_pb_field f;
        if (rp_pb_next_field(&p, end, &f) != RP_PB_FIELD)
            return GW_REFUSED;
        if (f.wire != RP_PB_WIRE_LEN)
            continue;
        if (f.number == FIELD_CONTENT_TYPE) {
            out->content_type = (const char *)f.data;
            out->content_type_len = f.len;
        } else if (f.number == FIELD_DATA) {
            out->data = f.data;
            out->data_len = f.len;
        }
    }
    return GW_OK;
}

int gw_httpbody_answers(const gw_message *output, const char *rb, const gw_field **field)
{
    *field = NULL;
    if (!*rb)
        return gw_httpbody_is(output);
    const gw_field *f = gw_message_field_by_name(output, rb, strlen(rb));
    if (!f || f->repeated || f->type != GW_TYPE_MESSAGE || !gw_httpbody_is(f->message))
        return 0;
    *field = f;
    return 1;
}

int gw_httpbody_taken(const gw_message *input, const char *body, uint32_t *number)
{
    *number = 0;
    if (strcmp(body, "*") == 0)
        return gw_httpbody_is(input);
    const gw_field *f = *body ? gw_message_field_by_name(input, body, strlen(body)) : NULL;
    if (!f || f->repeated || f->type != GW_TYPE_MESSAGE || !gw_httpbody_is(f->message))
        return 0;
    *number = f->number;
    return 1;
}

gw_result gw_httpbody_of_reply(const uint8_t *wire, size_t len, const gw_field *field,
                               gw_buf *held, gw_httpbody *out)
{
    if (field) {
        gw_result rc = gw_httpbody_field_bytes(wire, len, field->number, held);
        if (rc != GW_OK)
            return rc;
        wire = held->data ? held->data : (const uint8_t *)"";
        len = held->len;
    }
    gw_result rc = gw_httpbody_read(wire ? wire : (const uint8_t *)"", len, out);
    if (rc == GW_OK && out->content_type_len &&
        (out->content_type_len > GW_HTTPBODY_TYPE_MAX ||
         memchr(out->content_type, '\0', out->content_type_len) ||
         !gw_headers_value_ok(out->content_type, out->content_type_len)))
        rc = GW_REFUSED;
    return rc;
}

const char *gw_httpbody_type(const gw_httpbody *hb, size_t *len)
{
    if (hb->content_type_len) {
        *len = hb->content_type_len;
        return hb->content_type;
    }
    *len = strlen(GW_HTTPBODY_DEFAULT_TYPE);
    return GW_HTTPBODY_DEFAULT_TYPE;
}

gw_result gw_httpbody_field_bytes(const uint8_t *wire, size_t len, uint32_t number, gw_buf *out)
{
    const uint8_t *p = wire, *end = wire + len;
    while (p < end) {
        rp_pb_field f;
        if (rp_pb_next_field(&p, end, &f) != RP_PB_FIELD)
            return GW_REFUSED;
        if (f.number == number && f.wire == RP_PB_WIRE_LEN)
            gw_buf_append(out, f.data, f.len);
    }
    return out->oom ? GW_NOMEM : GW_OK;
}

/* Appends the tag of a length-delimited field and its length. */
static void put_len_field(gw_buf *out, uint32_t number, size_t len)
{
    gw_buf_varint(out, (uint64_t)number << 3 | RP_PB_WIRE_LEN);
    gw_buf_varint(out, len);
}

void gw_httpbody_write(gw_buf *out, uint32_t number, const char *content_type,
                       const uint8_t *data, size_t len)
{
    size_t ct_len = content_type ? strlen(content_type) : 0;
    if (number > 0) {
        size_t inner = (ct_len ? 1 + rp_pb_varint_size(ct_len) + ct_len : 0) +
                       (len ? 1 + rp_pb_varint_size(len) + len : 0);
        put_len_field(out, number, inner);
    }
    if (ct_len) {
        put_len_field(out, FIELD_CONTENT_TYPE, ct_len);
        gw_buf_append(out, content_type, ct_len);
    }
    if (len) {
        put_len_field(out, FIELD_DATA, len);
        gw_buf_append(out, data, len);
    }
}
