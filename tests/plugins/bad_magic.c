/*
 * bad_magic.c -- test plugin: a well-formed echo plugin except that its
 * entry symbol carries the wrong magic.  rpcrest-host must refuse it, naming
 * the magic it found and the one it expected, without running any of it.
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
    "NOTRPC!", RPCREST_ABI_VERSION, sizeof(rpcrest_plugin), "bad_magic", services, 1, NULL,
    NULL, NULL, NULL};
