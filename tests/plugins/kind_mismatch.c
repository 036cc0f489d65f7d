/*
 * kind_mismatch.c -- test plugin: declares example.MyService/Echo, unary in
 * echo.proto, as server-streaming.  The embedded descriptor set says
 * otherwise, so the host must refuse it, naming the method and both kinds.
 */
#include <rpcrest/rpcrest.h>

#include "echo.pb-c.h"

static void echo(rpcrest_call *call, const ProtobufCMessage *request, void *service_data)
{
    (void)service_data;
    rpcrest_call_reply(call, request);
}

static const rpcrest_method methods[] = {{"Echo", RPCREST_SERVER_STREAMING, echo}};
static const rpcrest_service services[] = {{&example__my_service__descriptor, methods, 1}};

RPCREST_PLUGIN("kind_mismatch", services, 1, NULL, NULL);
