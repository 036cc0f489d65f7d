/*
 * gw_bind.h -- builds the JSON form of a method's request message from the
 * parts of an HTTP request, following the route's google.api.http binding:
 * the body (whole request, one field, or none), the path variables and the
 * query parameters.  The result goes through gw_json_to_proto like any body.
 */
#ifndef GW_BIND_H
#define GW_BIND_H

#include <jansson.h>
#include <stddef.h>

#include "gw_buf.h"
#include "gw_json.h"
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
} gw_bind_options;

/*
 * Returns a new JSON object (caller json_decref's it), or NULL after writing
 * a one-line reason for a 400 into err[errlen].  `path` is the raw request
 * path that matched `route` with variable spans `spans`.  `tail` (empty, the
 * caller's) receives protobuf bytes to append to the object's encoding: the
 * FieldMask a PATCH fills from its body, whose paths (proto names) JSON
 * cannot always carry; nothing for other requests.
 */
json_t *gw_bind_request(const gw_route *route, const char *path, const gw_path_span *spans,
                        const char *body, size_t body_len, const gw_query_param *query,
                        size_t n_query, const gw_bind_options *opt, gw_buf *tail, char *err,
                        size_t errlen);

#endif /* GW_BIND_H */
