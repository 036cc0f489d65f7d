/*
 * gw_bind.h -- builds the JSON form of a method's request message from the
 * parts of an HTTP request, following the route's google.api.http binding:
 * the body (whole request, one field, or none), the path variables and the
 * query parameters.  gw_bind_encode turns the result into the message.
 */
#ifndef GW_BIND_H
#define GW_BIND_H

#include <jansson.h>
#include <stddef.h>

#include "gw_buf.h"
#include "gw_json.h"
#include "gw_result.h"
#include "gw_route.h"

/* One raw (still percent-encoded) query parameter. */
typedef struct gw_query_param {
    const char *key;
    const char *value; /* NULL for a key without '=' */
} gw_query_param;

typedef struct gw_bind_options {
    int ignore_unknown_query;     /* query parameters that name no field are
                                   * dropped instead of refused */
    const gw_json_options *json;  /* the body's (may be NULL: the defaults),
                                   * with which a body value that a path
                                   * variable replaces is checked */
    const char *content_type;     /* the request's Content-Type, or NULL: what
                                   * a google.api.HttpBody body records */
} gw_bind_options;

/* Room for any reason gw_bind_request writes, whole (see there). */
#define GW_BIND_ERR_SIZE 512

/*
 * Sets *out to the request as a new JSON value for gw_bind_encode (the
 * caller json_decref's it) and returns GW_OK; or writes a one-line reason
 * into err[errlen] and returns GW_REFUSED (a 400), or GW_NOMEM (the reason
 * is GW_ERR_OOM).  A reason shows a name from
 * the request (a query parameter's, a map key) up to 100 bytes and "..."
 * in place of the rest, so that GW_BIND_ERR_SIZE bytes hold it whole
 * unless the schema's own names run long.
 * `path` is the raw request path that matched `route` with variable spans
 * `spans`.  `tail` (empty, the caller's) receives protobuf bytes to append
 * to the object's encoding: the FieldMask a PATCH fills from its body,
 * whose paths (proto names) JSON cannot always carry; nothing for other
 * requests.
 */
gw_result gw_bind_request(const gw_route *route, const char *path, const gw_path_span *spans,
                          const char *body, size_t body_len, const gw_query_param *query,
                          size_t n_query, const gw_bind_options *opt, json_t **out,
                          gw_buf *tail, char *err, size_t errlen);

/*
 * 1 when the request that route binds is a well-known type (a Timestamp, a
 * StringValue, an Any…) taken as an object of its own fields: its path
 * variables and query parameters name those fields (`seconds`, `value`,
 * `type_url`), as grpc-gateway sets them, and a body "*" beside path
 * variables is such an object too.  0 for an ordinary message, and for a
 * well-known type whose body "*" is the whole request in the type's JSON
 * form ("2026-01-02T03:04:05Z").
 */
int gw_bind_by_fields(const gw_route *route);

/*
 * Appends the wire encoding of `request`, the object gw_bind_request made
 * for route, to `out`: gw_json_to_proto, or gw_json_fields_to_proto when
 * gw_bind_by_fields, which then also refuses fields that make no value of
 * the type's JSON form (a Timestamp's nanos of -1, a FieldMask path "a b",
 * an Any of an unknown type), as a body in that form cannot say them.
 * Returns as gw_json_to_proto does.
 */
gw_result gw_bind_encode(const gw_route *route, const json_t *request,
                         const gw_json_options *opt, gw_buf *out, char *err, size_t errlen);

#endif /* GW_BIND_H */
