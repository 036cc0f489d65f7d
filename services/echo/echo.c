/*
 * echo.c -- the echo service plugin: example.MyService/Echo returns its
 * request.  The whole of a minimal rpcrest plugin: the protoc-c generated
 * code for echo.proto, one handler, and the entry symbol.
 */
#include <rpcrest/rpcrest.h>

#include "echo.pb-c.h"

static void echo(rpcrest_call *call, const ProtobufCMessage *request, void *service_data)
{
    (void)service_data;
    const Example__StringMessage *in = (const Example__StringMessage *)request;
    Example__StringMessage out = EXAMPLE__STRING_MESSAGE__INIT;
    out.value = in->value;
    /* its result needs no check: a reply that cannot be sent fails the call
     * with a status the host sets, and the call is finished either way */
    rpcrest_call_reply(call, &out.base);
}

static const rpcrest_method my_service_methods[] = {
    {"Echo", RPCREST_UNARY, echo},
};

static const rpcrest_service echo_services[] = {
    {&example__my_service__descriptor, my_service_methods, RPCREST_COUNTOF(my_service_methods)},
};

RPCREST_PLUGIN("echo", echo_services, RPCREST_COUNTOF(echo_services), NULL, NULL);
