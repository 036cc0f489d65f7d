/*
 * rp_grpc_status.h -- the names of gRPC's status codes ("OK", "NOT_FOUND",
 * …), as metrics labels, access logs and error messages write them.
 * Shared by the host and the gateway; what a code becomes in HTTP is the
 * gateway's (gw_status.c).
 */
#ifndef RP_GRPC_STATUS_H
#define RP_GRPC_STATUS_H

/* The name of gRPC status code `code` (a static string); "UNKNOWN" outside
 * 0..16, as gRPC has clients take a code they do not know. */
const char *rp_grpc_code_name(int code);

#endif /* RP_GRPC_STATUS_H */
