/*
 * rp_log_grpc.c -- gRPC core's log lines through rp_log.  A file of its own
 * so that programs without gRPC (rpcrestd) do not link it.
 */
#include <grpc/support/log.h>

#include "rp_log.h"

static void log_from_grpc(gpr_log_func_args *args)
{
    rp_log("grpc %s %s:%d: %s", gpr_log_severity_string(args->severity), args->file,
           args->line, args->message);
}

void rp_log_route_grpc(void)
{
    gpr_set_log_function(log_from_grpc);
}
