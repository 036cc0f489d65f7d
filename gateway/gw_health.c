/*
 * gw_health.c -- the health check request and the mapping of its answer.
 * HealthCheckRequest { string service = 1; } and HealthCheckResponse
 * { ServingStatus status = 1; } are written and read off the wire here.
 */
#include "gw_health.h"

#include <string.h>

#include "gw_json.h"
#include "gw_status.h"
#include "rp_pb_wire.h"

/* HealthCheckResponse.ServingStatus */
enum { HEALTH_UNKNOWN, HEALTH_SERVING, HEALTH_NOT_SERVING, HEALTH_SERVICE_UNKNOWN, N_HEALTH };

static const char *const status_names[N_HEALTH] = {
    [HEALTH_UNKNOWN] = "UNKNOWN",
    [HEALTH_SERVING] = "SERVING",
    [HEALTH_NOT_SERVING] = "NOT_SERVING",
    [HEALTH_SERVICE_UNKNOWN] = "SERVICE_UNKNOWN",
};

void gw_health_request(const char *service, gw_buf *out)
{
    size_t len = strlen(service);
    if (len == 0)
        return;
    gw_buf_varint(out, 1 << 3 | 2);
    gw_buf_varint(out, len);
    gw_buf_append(out, service, len);
}

/* The status field of a HealthCheckResponse (0 when absent, or when the
 * bytes are not a message).  Other fields, which a newer server may add,
 * are skipped whatever their wire type (groups aside). */
static uint64_t serving_status(const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    uint64_t status = 0;
    while (p < end) {
        rp_pb_field f;
        if (rp_pb_next_field(&p, end, &f) != RP_PB_FIELD)
            return 0;
        if (f.number == 1 && f.wire == RP_PB_WIRE_VARINT)
            status = f.value;
    }
    return status;
}

unsigned gw_health_response(const gw_upstream_result *r, const char *service, gw_buf *body)
{
    if (!r) {
        gw_status_error_body(body, GRPC_STATUS_INTERNAL, GW_ERR_OOM, NULL, 0, NULL, NULL);
        return 500;
    }
    if (r->status != GRPC_STATUS_OK) {
        /* NOT_FOUND: the server does not know the service */
        unsigned http = r->status == GRPC_STATUS_NOT_FOUND ? 404 : 503;
        gw_status_error_body(body, r->status, r->message ? r->message : "", NULL, 0, NULL, NULL);
        return http;
    }
    uint64_t status = serving_status(r->reply, r->reply_len);
    gw_buf_puts(body, "{\"service\":");
    gw_json_write_text(body, service, strlen(service));
    gw_buf_puts(body, ",\"status\":\"");
    gw_buf_puts(body, status < N_HEALTH ? status_names[status] : "UNKNOWN");
    gw_buf_puts(body, "\"}");
    return status == HEALTH_SERVING ? 200 : status == HEALTH_SERVICE_UNKNOWN ? 404 : 503;
}
