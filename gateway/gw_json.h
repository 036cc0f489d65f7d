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
#include "gw_result.h"
#include "gw_schema.h"

typedef struct gw_json_options {
    int ignore_unknown_fields; /* input: skip keys that name no field */
    int emit_defaults;         /* output: print fields that hold default values */
    int proto_names;           /* output: "user_id" instead of "userId" */
    int enum_numbers;          /* output: enum values as their numbers, not names */
} gw_json_options;

/*
 * Parses JSON text for gw_json_to_proto: json_loadb(text, len, flags) with
 * JSON_REJECT_DUPLICATES and JSON_ALLOW_NUL added (as protobuf's parsers:
 * a key twice is an error, "\u0000" is a character), and with integer
 * literals jansson cannot hold exactly -- beyond the int64 range, or "-0"
 * -- kept as their text, so that a uint64 field gets 18446744073709551615
 * exactly.  A kept literal is a string node that starts with the byte 0xFF
 * (never valid UTF-8, so no JSON text can forge one); only the codec reads
 * such trees, and json_dumps must not be used on them.  Returns a new
 * reference, or NULL with *error set.
 */
json_t *gw_json_loadb(const char *text, size_t len, size_t flags, json_error_t *error);

/* Whether gw_json_loadb failed for want of memory (jansson's or its own),
 * by the error's code (json_error_code), not its text. */
int gw_json_error_is_oom(const json_error_t *error);

/*
 * Appends the wire encoding of `json` as message type `m` to `out`: an
 * object, or null for an empty message; for the well-known types their own
 * JSON forms (a string for a Timestamp, any value for a Value…).  Returns
 * GW_OK, or GW_REFUSED after writing a one-line reason that names the
 * offending field into err[errlen], or GW_NOMEM (the reason then ends in
 * GW_ERR_OOM).
 */
gw_result gw_json_to_proto(const gw_message *m, const json_t *json, const gw_json_options *opt,
                           gw_buf *out, char *err, size_t errlen);

/*
 * Like gw_json_to_proto, but `json` is always an object of m's fields by
 * name, also when m is a well-known type (a Timestamp's "seconds" and
 * "nanos", a StringValue's "value"), as path variables and query
 * parameters set them; the fields' values are in their JSON forms.
 */
gw_result gw_json_fields_to_proto(const gw_message *m, const json_t *json,
                                  const gw_json_options *opt, gw_buf *out, char *err,
                                  size_t errlen);

/*
 * Appends the JSON text of the wire bytes data[0..len) of type `m` to `out`.
 * Returns GW_OK, or GW_REFUSED after writing a reason into err[errlen]
 * (bytes that are not a valid encoding of `m`), or GW_NOMEM (likewise).
 */
gw_result gw_proto_to_json(const gw_message *m, const uint8_t *data, size_t len,
                           const gw_json_options *opt, gw_buf *out, char *err, size_t errlen);

/*
 * Like gw_proto_to_json, but prints only the value of field `f` of `m` (for
 * an HTTP rule's response_body): its JSON value, or the field's default when
 * it is absent ("{}" for an ordinary message, "1970-01-01T00:00:00Z" for a
 * Timestamp…).
 */
gw_result gw_proto_field_to_json(const gw_message *m, const gw_field *f, const uint8_t *data,
                                 size_t len, const gw_json_options *opt, gw_buf *out,
                                 char *err, size_t errlen);

/* Appends `s` (len bytes) as a JSON string literal, quotes included.  s
 * must be valid UTF-8 (JSON text is). */
void gw_json_write_string(gw_buf *out, const char *s, size_t len);

/* gw_json_write_string for text from elsewhere (status messages, names
 * from a request or an upstream): each byte that is not part of well-formed
 * UTF-8 becomes U+FFFD, so that the JSON stays valid. */
void gw_json_write_text(gw_buf *out, const char *s, size_t len);

#endif /* GW_JSON_H */
