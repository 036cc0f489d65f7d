/*
 * rp_grpc_status.c -- gRPC status code names; see rp_grpc_status.h.
 */
#include "rp_grpc_status.h"

const char *rp_grpc_code_name(int code)
{
    static const char *const names[] = {
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED"};
    return code >= 0 && (unsigned)code < sizeof(names) / sizeof(names[0]) ? names[code]
                                                                          : "UNKNOWN";
}
