/*
 * gw_json.h -- the proto3 JSON mapping, driven by a gw_schema: JSON values
 * (jansson) to protobuf wire bytes, and wire bytes to JSON text.  No
 * generated code: any message the schema describes can be converted.
 * Stateless; safe to call from any thread.
 */
#ifndef GW_JSON_H
#define GW_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_buf.h"
#include "gw_schema.h"

typedef struct gw_json_options {
    int ignore_unknown_fields; /* input: skip keys that name no field */
    int emit_defaults;         /* output: print fields that hold default values */
    int proto_names;           /* output: "user_id" instead of "userId" */
} gw_json_options;

/*
 * Appends the wire encoding of `json` (an object, or null for an empty
 * message) as message type `m` to `out`.  Returns 0, or -1 after writing a
 * one-line reason that names the offending field into err[errlen].
 */
int gw_json_to_proto(const gw_message *m, const json_t *json, const gw_json_options *opt,
                     gw_buf *out, char *err, size_t errlen);

/*
 * Appends the JSON text of the wire bytes data[0..len) of type `m` to `out`.
 * Returns 0, or -1 after writing a reason into err[errlen] (bytes that are
 * not a valid encoding of `m`).
 */
int gw_proto_to_json(const gw_message *m, const uint8_t *data, size_t len,
                     const gw_json_options *opt, gw_buf *out, char *err, size_t errlen);

/*
 * Like gw_proto_to_json, but prints only the value of field `f` of `m` (for
 * an HTTP rule's response_body): its JSON value, or the field's default when
 * it is absent.
 */
int gw_proto_field_to_json(const gw_message *m, const gw_field *f, const uint8_t *data,
                           size_t len, const gw_json_options *opt, gw_buf *out, char *err,
                           size_t errlen);

/* Appends `s` (len bytes) as a JSON string literal, quotes included. */
void gw_json_write_string(gw_buf *out, const char *s, size_t len);

#endif /* GW_JSON_H */
