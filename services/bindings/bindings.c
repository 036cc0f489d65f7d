/*
 * bindings.c -- the bindings service plugin (bindings.proto): every method
 * but Whoami answers with the request it received and its own gRPC method
 * name, which shows how rpcrest-gateway bound a REST call.  One handler
 * serves them all; Whoami answers with the host's process id.
 */
#include <rpcrest/rpcrest.h>
#include <unistd.h>

#include "bindings.pb-c.h"

/* Echoed { method, request }.  The request belongs to the host and the
 * reply is serialized before rpcrest_call_reply returns, so the reply may
 * point into both. */
static void echo_request(rpcrest_call *call, const ProtobufCMessage *request, void *data)
{
    (void)data;
    Rpcrest__Bindings__Echoed out = RPCREST__BINDINGS__ECHOED__INIT;
    out.method = (char *)rpcrest_call_method(call);
    out.request = (Rpcrest__Bindings__BindRequest *)request;
    rpcrest_call_reply(call, &out.base);
}

static void whoami(rpcrest_call *call, const ProtobufCMessage *request, void *data)
{
    (void)request;
    (void)data;
    Rpcrest__Bindings__WhoamiReply out = RPCREST__BINDINGS__WHOAMI_REPLY__INIT;
    out.pid = (int64_t)getpid();
    rpcrest_call_reply(call, &out.base);
}

static const rpcrest_method bindings_methods[] = {
    {"GetBook", RPCREST_UNARY, echo_request},
    {"GetByName", RPCREST_UNARY, echo_request},
    {"UpdateByName", RPCREST_UNARY, echo_request},
    {"GetFile", RPCREST_UNARY, echo_request},
    {"Undelete", RPCREST_UNARY, echo_request},
    {"Echo", RPCREST_UNARY, echo_request},
    {"CreateBook", RPCREST_UNARY, echo_request},
    {"UpdateBook", RPCREST_UNARY, echo_request},
    {"PatchBook", RPCREST_UNARY, echo_request},
    {"DeleteBook", RPCREST_UNARY, echo_request},
    {"PurgeShelf", RPCREST_UNARY, echo_request},
    {"GetRequest", RPCREST_UNARY, echo_request},
    {"Search", RPCREST_UNARY, echo_request},
    {"Whoami", RPCREST_UNARY, whoami},
    {"Unannotated", RPCREST_UNARY, echo_request},
};

static const rpcrest_service bindings_services[] = {
    {&rpcrest__bindings__bindings__descriptor, bindings_methods,
     RPCREST_COUNTOF(bindings_methods)},
};

RPCREST_PLUGIN("bindings", bindings_services, RPCREST_COUNTOF(bindings_services), NULL, NULL);
