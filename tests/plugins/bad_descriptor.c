/*
 * bad_descriptor.c -- test plugins: example.MyService with a hand-built
 * protoc-c service descriptor, wrong in one way per build (the Makefile
 * builds bad_descriptor_CASE.so with -DCASE_CASE), and echo.proto's
 * descriptor set embedded.  The host must refuse each one with one line.
 *
 * Malformed (the host would crash on it): no_name, no_methods, no_index,
 * unsorted_index, no_method_name, no_input, output_not_a_message.
 * Contradicting the embedded set: other_input (Echo takes
 * google.protobuf.Empty, the set says example.StringMessage), extra_method
 * (a method Extra the set does not have).
 */
#include <rpcrest/rpcrest.h>

#include "echo.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define STRING_MESSAGE (&example__string_message__descriptor)

#if defined(CASE_output_not_a_message)
static const ProtobufCMessageDescriptor not_a_message; /* magic 0 */
#endif

/* "used": in the no_methods case only sizeof reads it */
static const ProtobufCMethodDescriptor method_descriptors[] __attribute__((used)) = {
#if defined(CASE_no_method_name)
    {NULL, STRING_MESSAGE, STRING_MESSAGE},
#elif defined(CASE_no_input)
    {"Echo", NULL, STRING_MESSAGE},
#elif defined(CASE_output_not_a_message)
    {"Echo", STRING_MESSAGE, &not_a_message},
#elif defined(CASE_other_input)
    {"Echo", &google__protobuf__empty__descriptor, STRING_MESSAGE},
#else
    {"Echo", STRING_MESSAGE, STRING_MESSAGE},
#endif
#if defined(CASE_extra_method) || defined(CASE_unsorted_index)
    {"Extra", STRING_MESSAGE, STRING_MESSAGE},
#endif
};
#define N_METHODS RPCREST_COUNTOF(method_descriptors)

#if defined(CASE_no_index)
#define BY_NAME NULL
#elif defined(CASE_unsorted_index)
static const unsigned by_name[] = {1, 0}; /* Extra, Echo */
#define BY_NAME by_name
#else
static const unsigned by_name[] = {0, 1};
#define BY_NAME by_name
#endif

static const ProtobufCServiceDescriptor service = {
    PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC,
#if defined(CASE_no_name)
    NULL,
#else
    "example.MyService",
#endif
    "MyService", "Example__MyService", "example", N_METHODS,
#if defined(CASE_no_methods)
    NULL,
#else
    method_descriptors,
#endif
    BY_NAME,
};

static void echo(rpcrest_call *call, const ProtobufCMessage *request, void *service_data)
{
    (void)service_data;
    rpcrest_call_reply(call, request);
}

static const rpcrest_method methods[] = {
    {"Echo", RPCREST_UNARY, echo},
#if defined(CASE_extra_method) || defined(CASE_unsorted_index)
    {"Extra", RPCREST_UNARY, echo},
#endif
};
static const rpcrest_service services[] = {{&service, methods, RPCREST_COUNTOF(methods)}};

RPCREST_PLUGIN("bad_descriptor", services, 1, NULL, NULL);
