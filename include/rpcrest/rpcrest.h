/*
 * rpcrest/rpcrest.h -- the service plugin ABI, version 1.
 *
 * A plugin is a shared object that exports one data symbol, RPCREST_ENTRY
 * (declare it with RPCREST_PLUGIN).  rpcrest-host dlopen()s the file, checks
 * the magic and the ABI version before it touches anything else, then calls
 * init() once, registers every method of every service, and calls the
 * handlers from its completion-queue threads.  The rpcrest_call_* functions
 * below are provided by the host process; a plugin calls them, never defines
 * them.
 *
 * Ownership, in one place:
 *  - The request message passed to a handler belongs to the host.  It stays
 *    valid until the handler has returned AND the call has been finished
 *    (rpcrest_call_reply or rpcrest_call_fail), whichever is later.
 *  - The reply given to rpcrest_call_reply stays the caller's: the host
 *    serializes it before returning, so it may live on the stack.
 *  - Strings returned by rpcrest_call_* accessors belong to the call and are
 *    valid until the call is finished.
 *  - The rpcrest_call itself belongs to the host; after finishing it, the
 *    plugin must not touch it again.
 *
 * Threads: handlers run on host threads and must not block for long; a
 * handler that waits on I/O or another service returns at once and finishes
 * the call later, from any thread.  Every call must be finished exactly once.
 */
#ifndef RPCREST_RPCREST_H
#define RPCREST_RPCREST_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RPCREST_ABI_VERSION 1u
#define RPCREST_MAGIC "RPCREST"          /* 7 characters + NUL = 8 bytes */
#define RPCREST_MAGIC_SIZE 8
#define RPCREST_ENTRY rpcrest_plugin_entry
#define RPCREST_ENTRY_NAME "rpcrest_plugin_entry"

/* gRPC status codes, with the numbers every gRPC implementation uses. */
typedef enum rpcrest_code {
    RPCREST_OK = 0,
    RPCREST_CANCELLED = 1,
    RPCREST_UNKNOWN = 2,
    RPCREST_INVALID_ARGUMENT = 3,
    RPCREST_DEADLINE_EXCEEDED = 4,
    RPCREST_NOT_FOUND = 5,
    RPCREST_ALREADY_EXISTS = 6,
    RPCREST_PERMISSION_DENIED = 7,
    RPCREST_RESOURCE_EXHAUSTED = 8,
    RPCREST_FAILED_PRECONDITION = 9,
    RPCREST_ABORTED = 10,
    RPCREST_OUT_OF_RANGE = 11,
    RPCREST_UNIMPLEMENTED = 12,
    RPCREST_INTERNAL = 13,
    RPCREST_UNAVAILABLE = 14,
    RPCREST_DATA_LOSS = 15,
    RPCREST_UNAUTHENTICATED = 16
} rpcrest_code;

/* How a method streams.  ABI v1 hosts serve RPCREST_UNARY; a plugin that
 * declares any other kind is refused at load time with a message naming the
 * method. */
typedef enum rpcrest_method_kind {
    RPCREST_UNARY = 0,
    RPCREST_SERVER_STREAMING = 1,
    RPCREST_CLIENT_STREAMING = 2,
    RPCREST_BIDI_STREAMING = 3
} rpcrest_method_kind;

/* One call in progress.  Opaque; owned by the host. */
typedef struct rpcrest_call rpcrest_call;

/*
 * A method handler.  `request` has the method's input type (cast it to the
 * protoc-c generated struct).  `service_data` is what init() stored.  The
 * handler finishes the call now or later with rpcrest_call_reply or
 * rpcrest_call_fail.
 */
typedef void (*rpcrest_handler)(rpcrest_call *call, const ProtobufCMessage *request,
                                void *service_data);

/* A method: `name` as written in the .proto ("Echo"), matched against the
 * service descriptor, and its handler. */
typedef struct rpcrest_method {
    const char *name;
    rpcrest_method_kind kind;
    rpcrest_handler handler;
} rpcrest_method;

/* A service: the protoc-c generated service descriptor (its name is the full
 * gRPC service name, "package.Service") and one entry per method. */
typedef struct rpcrest_service {
    const ProtobufCServiceDescriptor *descriptor;
    const rpcrest_method *methods;
    size_t n_methods;
} rpcrest_service;

/* One `key = value` line of the plugin's own [service.NAME] section. */
typedef struct rpcrest_setting {
    const char *key;
    const char *value;
} rpcrest_setting;

/*
 * init: called once after the ABI check, before any handler; receives the
 * keys of the plugin's [service.NAME] section other than `plugin` and
 * `descriptors` (valid during the call only).  Returns 0, or non-zero after
 * writing a one-line reason into err[errlen]; the host then refuses to start.
 * fini: called once at shutdown after the last handler has returned.
 * Both may be NULL.
 */
typedef struct rpcrest_plugin {
    char magic[RPCREST_MAGIC_SIZE];  /* RPCREST_MAGIC */
    uint32_t abi_version;            /* RPCREST_ABI_VERSION */
    uint32_t struct_size;            /* sizeof(rpcrest_plugin) */
    const char *name;                /* for logs: "echo" */
    const rpcrest_service *services;
    size_t n_services;
    int (*init)(const rpcrest_setting *settings, size_t n_settings, void **service_data,
                char *err, size_t errlen);
    void (*fini)(void *service_data);
    /* The serialized FileDescriptorSet of the plugin's .proto files and
     * everything they import ([descriptor_set, descriptor_set_end)), or two
     * NULLs.  The build embeds it (see RPCREST_PLUGIN), which makes a plugin
     * one self-describing file: the host serves it through reflection. */
    const uint8_t *descriptor_set;
    const uint8_t *descriptor_set_end;
} rpcrest_plugin;

/* Defined by the build when it embeds the descriptor set into the plugin
 * (rpcrest's Makefile does for every services/NAME/); NULL otherwise. */
extern const uint8_t rpcrest_descriptor_set_start[] __attribute__((weak));
extern const uint8_t rpcrest_descriptor_set_end[] __attribute__((weak));

/* Declares the entry symbol: RPCREST_PLUGIN("echo", services, n, init, fini); */
#define RPCREST_PLUGIN(NAME, SERVICES, N_SERVICES, INIT, FINI)                        \
    __attribute__((visibility("default"))) const rpcrest_plugin RPCREST_ENTRY = {     \
        RPCREST_MAGIC, RPCREST_ABI_VERSION, sizeof(rpcrest_plugin), (NAME), (SERVICES),   \
        (N_SERVICES), (INIT), (FINI), rpcrest_descriptor_set_start,                      \
        rpcrest_descriptor_set_end}

/* ---- functions the host provides ------------------------------------- */

/* Finish with status OK and one reply message (serialized before return).
 * Returns 0, or -1 if the call was already finished or the reply cannot be
 * serialized (the call is then failed with INTERNAL). */
int rpcrest_call_reply(rpcrest_call *call, const ProtobufCMessage *reply);

/* Finish with a non-OK status and a message (may be NULL).  Returns 0, or -1
 * if the call was already finished. */
int rpcrest_call_fail(rpcrest_call *call, rpcrest_code code, const char *message);

/* The full method path, "/package.Service/Method". */
const char *rpcrest_call_method(const rpcrest_call *call);

/* The client's address as gRPC names it ("ipv4:127.0.0.1:40112"). */
const char *rpcrest_call_peer(const rpcrest_call *call);

/* Milliseconds left before the client's deadline (0 once it has passed), or
 * -1 when the client set none. */
int64_t rpcrest_call_deadline_ms(const rpcrest_call *call);

/* 1 once the client cancelled the call or its deadline passed. */
int rpcrest_call_is_cancelled(const rpcrest_call *call);

/* The first request metadata value for `key` (lower case), or NULL.  Values
 * are not NUL-terminated in gRPC: the length is stored in *len. */
const char *rpcrest_call_metadata(const rpcrest_call *call, const char *key, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* RPCREST_RPCREST_H */
