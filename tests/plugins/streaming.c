/*
 * streaming.c -- test plugin: declares example.MyService/Echo as
 * bidirectional-streaming.  Plugins may serve unary and server-streaming
 * methods only: the host must refuse it, naming the method.
 */
#include <rpcrest/rpcrest.h>

#include "echo.pb-c.h"

static void echo(rpcrest_call *call, const ProtobufCMessage *request, void *service_data)
{
    (void)service_data;
    rpcrest_call_reply(call, request);
}

static const rpcrest_method methods[] = {{"Echo", RPCREST_BIDI_STREAMING, echo}};
static const rpcrest_service services[] = {{&example__my_service__descriptor, methods, 1}};

RPCREST_PLUGIN("streaming", services, 1, NULL, NULL);
