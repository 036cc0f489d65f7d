/*
 * rp_log_grpc.c -- gRPC core's log lines through rp_log.  A file of its own
 * so that programs without gRPC (rpcrestd) do not link it.
 */
#include <grpc/support/log.h>

#include "rp_log.h"

/* a line per failed handshake, for one: limited (rp_log.h) */
static rp_log_limit grpc_lines = RP_LOG_LIMIT_INIT;

static void log_from_grpc(gpr_log_func_args *args)
{
    rp_log_limited(&grpc_lines, "grpc %s %s:%d: %s", gpr_log_severity_string(args->severity),
                   args->file, args->line, args->message);
}

void rp_log_route_grpc(void)
{
    gpr_set_log_function(log_from_grpc);
}
