/*
 * gw_wkt.h -- internal to the JSON codec: the JSON forms of protobuf's
 * well-known types (gw_wkt.c) and the parts of the general codec
 * (gw_json.c) they are built from.  The rest of the gateway uses gw_json.h
 * only; nothing here is a stable interface.
 */
#ifndef GW_WKT_H
#define GW_WKT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_buf.h"
#include "gw_json.h"
#include "gw_schema.h"
#include "rp_pb_wire.h"

/* ---- a conversion in progress (gw_json.c) -------------------------------- */

/* Options, error text and the JSON path of the value being converted
 * ("items[2].name"), which every error message starts with. */
typedef struct gw_conv {
    const gw_json_options *opt;
    char *err;
    size_t errlen;
    int oom; /* the error written last is the want of memory (gw_conv_oom) */
    int depth;
    char path[256];
    size_t path_len;
} gw_conv;

/* Writes "field 'PATH': WHAT" into the error text; returns -1. */
int gw_conv_fail(gw_conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes "field 'PATH': out of memory" (GW_ERR_OOM) into the error text
 * and sets c->oom, by which the entry points return GW_NOMEM; returns -1. */
int gw_conv_oom(gw_conv *c);

/* Appends ".name" (index < 0) or "[index]" to the path; returns the length
 * to give back to gw_conv_pop. */
size_t gw_conv_push(gw_conv *c, const char *name, long index);
void gw_conv_pop(gw_conv *c, size_t saved);

/* ---- JSON values (gw_json.c) ---------------------------------------------- */

/* The text of an integer literal gw_json_loadb kept exactly (see there),
 * or NULL if v is anything else. */
const char *gw_json_literal(const json_t *v);

/* 1 if v is a JSON string proper (not a kept literal). */
int gw_json_is_text(const json_t *v);

/* "an object", "a string", "an integer", … for error messages. */
const char *gw_json_kind(const json_t *v);

/* s[0..len) as error messages show a string, into buf[0..n) (n >= 3): in
 * single quotes, at most its first `max` bytes and as many as buf holds,
 * a NUL byte as \u0000 so that the text is not cut there. */
void gw_json_quote(const char *s, size_t len, size_t max, char *buf, size_t n);

/* ---- wire format (gw_json.c) ---------------------------------------------- */

/* Reads the field at *p as rp_pb_next_field does, and a group whole too
 * (data and len are what lies between its start and end tags), and
 * advances *p.  Returns 0, -1 for a bad tag (field number 0 or past
 * RP_PB_FIELD_NUMBER_MAX included), -2 for a truncated value or bad wire
 * type. */
int gw_wire_next(const uint8_t **p, const uint8_t *end, rp_pb_field *f, int depth);

void gw_wire_tag(gw_buf *out, uint32_t number, int wire);


/* ---- the general codec, for values nested in well-known types ------------- */

/* JSON -> wire of a whole message (any type, well-known or not). */
int gw_json_encode_message(gw_conv *c, const gw_message *m, const json_t *v, gw_buf *out);

/* The fields of object obj as message m, leaving out the key `skip` (an
 * Any's "@type"). */
int gw_json_encode_fields(gw_conv *c, const gw_message *m, const json_t *obj, const char *skip,
                          gw_buf *out);

/* Field f set from v, tags included (v may be a map's object or an array). */
int gw_json_encode_field(gw_conv *c, const gw_field *f, const json_t *v, gw_buf *out);

/* Wire -> JSON of a whole message. */
int gw_json_decode_message(gw_conv *c, const gw_message *m, const uint8_t *data, size_t len,
                           gw_buf *out);

/* The "name":value members of message m, each preceded by a comma when
 * *n_written (counted up) is not zero. */
int gw_json_decode_fields(gw_conv *c, const gw_message *m, const uint8_t *data, size_t len,
                          gw_buf *out, int *n_written);

/* The JSON value of field f of message m (its default when absent). */
int gw_json_decode_field(gw_conv *c, const gw_message *m, const gw_field *f,
                         const uint8_t *data, size_t len, gw_buf *out);

/* ---- well-known types (gw_wkt.c) ------------------------------------------ */

/* JSON -> wire and wire -> JSON of message m, whose m->wkt is set. */
int gw_wkt_encode(gw_conv *c, const gw_message *m, const json_t *v, gw_buf *out);
int gw_wkt_decode(gw_conv *c, const gw_message *m, const uint8_t *data, size_t len, gw_buf *out);

/* 1 if JSON null is a value of field f (a google.protobuf.Value or a
 * NullValue) rather than "not set". */
int gw_wkt_null_is_value(const gw_field *f);

/* Appends the JSON form of the FieldMask path s[0..n) ("foo_bar.baz" ->
 * "fooBar.baz").  Returns NULL, or what keeps the JSON form from carrying
 * it ("has a '_' not followed by a lowercase letter…"); an uppercase letter
 * is one too unless keep_upper (a path already in the JSON form). */
const char *gw_wkt_camel_path(const uint8_t *s, size_t n, int keep_upper, gw_buf *out);

#endif /* GW_WKT_H */
