/*
 * gw_status.h -- gRPC status -> HTTP error response: the status code table
 * grpc-gateway uses and its error body {"code":N,"message":"…","details":[…]},
 * with details taken from the grpc-status-details-bin trailer (a
 * google.rpc.Status) and rendered as Any JSON through the schema.
 */
#ifndef GW_STATUS_H
#define GW_STATUS_H

#include <stddef.h>

#include "gw_buf.h"
#include "gw_json.h"
#include "gw_schema.h"
#include "gw_upstream.h"

/* The HTTP status for a gRPC status code (500 for codes out of range). */
int gw_status_http_code(int grpc_code);

/*
 * Appends the error body for (code, message) to out.  When trailing
 * metadata holds grpc-status-details-bin, its details become the "details"
 * array: each Any whose type the schema knows as {"@type": URL, fields…},
 * others as {"@type": URL, "value": "<base64>"}, their fields printed with
 * `opt` (the replies' JSON options).  `schema` and `opt` may be NULL.
 */
void gw_status_error_body(gw_buf *out, int code, const char *message,
                          const gw_metadata *trailing, size_t n_trailing,
                          const gw_schema *schema, const gw_json_options *opt);

#endif /* GW_STATUS_H */
