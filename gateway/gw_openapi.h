/*
 * gw_openapi.h -- the OpenAPI 3.0 description of an API generation: every
 * route the gateway serves, with its path and query parameters, request
 * body, reply and error schemas (the proto3 JSON mapping of the message
 * descriptors) and the .proto comments as descriptions.  Built from the
 * generation's schema and router only; serving it is gw_http.c's.
 */
#ifndef GW_OPENAPI_H
#define GW_OPENAPI_H

#include <stddef.h>
#include <stdint.h>

#include "gw_buf.h"
#include "gw_gen.h"

typedef struct gw_openapi_options {
    int proto_names;  /* [gateway] json_proto_names: replies use "user_id" */
    int enum_numbers; /* [gateway] json_enum_numbers: replies print enums' numbers */
    const char *title;   /* info.title ([gateway] openapi_title); NULL: "rpcrest" */
    const char *version; /* info.version ([gateway] openapi_version); NULL: "1" */
} gw_openapi_options;

/*
 * Appends the JSON text of the document describing generation g to out.
 * Any descriptor the schema accepted gives a valid document (recursive
 * messages are components referring to each other).  Returns 0, or -1 when
 * memory ran out.
 */
int gw_openapi_build(const gw_gen *g, const gw_openapi_options *opt, gw_buf *out);

/*
 * The document of g, built on its first use and kept with g (a generation
 * never changes, and a new one gets its own): *data stays valid while the
 * caller holds its reference to g.  Returns 0, or -1 when memory ran out.
 */
int gw_openapi_get(gw_gen *g, const gw_openapi_options *opt, const uint8_t **data, size_t *len);

#endif /* GW_OPENAPI_H */
