/*
 * gw_health.h -- GET /healthz[?service=NAME]: the gateway asks the
 * upstream's grpc.health.v1.Health/Check and answers 200 while it is
 * SERVING, 503 otherwise or when the upstream cannot be reached, 404 for a
 * service the upstream does not know.
 */
#ifndef GW_HEALTH_H
#define GW_HEALTH_H

#include "gw_buf.h"
#include "gw_upstream.h"

#define GW_HEALTH_PATH "/healthz"
#define GW_HEALTH_METHOD "/grpc.health.v1.Health/Check"

/* The HealthCheckRequest for `service` ("" for the whole server). */
void gw_health_request(const char *service, gw_buf *out);

/* The HTTP status and JSON body for a Check result (NULL: out of memory). */
unsigned gw_health_response(const gw_upstream_result *r, const char *service, gw_buf *body);

#endif /* GW_HEALTH_H */
