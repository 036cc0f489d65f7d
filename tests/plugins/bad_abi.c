/*
 * bad_abi.c -- test plugin: the right magic but ABI version 999.
 * rpcrest-host must refuse it, naming both versions.
 */
#include <rpcrest/rpcrest.h>

#include "echo.pb-c.h"

static void echo(rpcrest_call *call, const ProtobufCMessage *request, void *service_data)
{
    (void)service_data;
    rpcrest_call_reply(call, request);
}

static const rpcrest_method methods[] = {{"Echo", RPCREST_UNARY, echo}};
static const rpcrest_service services[] = {{&example__my_service__descriptor, methods, 1}};

__attribute__((visibility("default"))) const rpcrest_plugin RPCREST_ENTRY = {
    RPCREST_MAGIC, 999, sizeof(rpcrest_plugin), "bad_abi", services, 1, NULL, NULL, NULL, NULL};
