/*
 * bad_init.c -- test plugin: init() refuses to start.  The reason is the
 * value of its `reason` setting, so a test also sees that the keys of
 * [service.NAME] reach init().  Its service, rpcrest.test.BadInit (one
 * method, Echo, on echo.proto's StringMessage), is described by hand so that
 * it can be loaded next to a plugin serving example.MyService.
 */
#include <rpcrest/rpcrest.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "echo.pb-c.h"

static const ProtobufCMethodDescriptor bad_init_methods[] = {
    {"Echo", &example__string_message__descriptor, &example__string_message__descriptor},
};
static const unsigned bad_init_method_indices[] = {0};
static const ProtobufCServiceDescriptor bad_init_descriptor = {
    PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC, "rpcrest.test.BadInit", "BadInit",
    "Rpcrest__Test__BadInit", "rpcrest.test", 1, bad_init_methods, bad_init_method_indices};

static void echo(rpcrest_call *call, const ProtobufCMessage *request, void *service_data)
{
    (void)service_data;
    rpcrest_call_reply(call, request);
}

static int refuse(const rpcrest_setting *settings, size_t n_settings, void **service_data,
                  char *err, size_t errlen)
{
    (void)service_data;
    const char *reason = "no 'reason' setting";
    long delay_ms = 0;
    for (size_t i = 0; i < n_settings; i++) {
        if (strcmp(settings[i].key, "reason") == 0)
            reason = settings[i].value;
        else if (strcmp(settings[i].key, "delay_ms") == 0)
            delay_ms = strtol(settings[i].value, NULL, 10);
    }
    struct timespec delay = {delay_ms / 1000, delay_ms % 1000 * 1000000};
    if (delay_ms > 0)
        nanosleep(&delay, NULL);
    snprintf(err, errlen, "refusing to start: %s", reason);
    return -1;
}

static const rpcrest_method methods[] = {{"Echo", RPCREST_UNARY, echo}};
static const rpcrest_service services[] = {{&bad_init_descriptor, methods, 1}};

RPCREST_PLUGIN("bad_init", services, 1, refuse, NULL);
