/*
 * rpcrest/rpcrest.h -- the service plugin ABI, version 1.
 *
 * A plugin is a shared object that exports one data symbol, RPCREST_ENTRY
 * (declare it with RPCREST_PLUGIN).  rpcrest-host dlopen()s the file, checks
 * the magic and the ABI version before it touches anything else, then calls
 * init() once, registers every method of every service, and calls the
 * handlers from its completion-queue threads.  The rpcrest_call_* functions
 * below are provided by the host process; a plugin calls them, never defines
 * them.  docs/writing-a-service.md is the guide; this header is the contract.
 *
 * Methods: unary and server-streaming.  Client-streaming and bidirectional
 * methods are refused when the plugin is loaded (the host names the method).
 *
 * How the ABI changes: RPCREST_ABI_VERSION goes up when a layout below or
 * the meaning of a function changes, and a host refuses a plugin built for
 * another version (or whose rpcrest_plugin is smaller than its own:
 * struct_size).  Within a version the structs never change; functions may
 * be added (a plugin that calls one an older host lacks fails to load
 * there, the missing symbol named).  Messages cross
 * between plugin and host as protoc-c structs, so both use the system's
 * libprotobuf-c (libprotobuf-c1), never a copy linked into the plugin.
 *
 * Ownership, in one place:
 *  - The request message passed to a handler belongs to the host.  It stays
 *    valid until the handler has returned AND the call has been finished,
 *    whichever is later.  Don't free it; don't keep pointers into it after.
 *  - Messages given to rpcrest_call_reply and rpcrest_call_send stay the
 *    caller's: the host serializes them before returning, so they may live
 *    on the stack and may be reused or freed at once.
 *  - Metadata keys and values given to rpcrest_call_add_*_metadata, and the
 *    message and details given to rpcrest_call_fail*, are copied before the
 *    function returns.
 *  - Strings and metadata returned by rpcrest_call_* accessors belong to the
 *    call: valid until the call is finished (and, inside the handler, until
 *    it returns).
 *  - The rpcrest_call itself belongs to the host; once the plugin has
 *    finished it, the plugin must not pass it to any function again.
 *
 * Finishing: every call must be finished exactly once, with
 * rpcrest_call_reply, rpcrest_call_fail, rpcrest_call_fail_details or
 * rpcrest_call_finish -- also after the client cancelled (the host frees the
 * call only then, and waits for it when stopping).  A second finish made
 * while the call is still held -- inside its handler or its writable
 * callback -- returns RPCREST_EFINISHED and does nothing; anywhere else the
 * first finish may already have freed the call, and a second one is a
 * use after free.
 *
 * Threads: handlers run on host threads and must not block for long (one
 * that does holds every other call of its thread, of any plugin, until it
 * returns: docs/writing-a-service.md section 6); a handler that waits on
 * I/O, a timer or another service returns at once and finishes the call
 * later, from any thread.  Every rpcrest_call_* function is
 * thread-safe, but a call's messages go out in the order the calls to
 * rpcrest_call_send return, so send from one thread at a time.
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

/*
 * What the rpcrest_call_* functions that return int return: 0 on success,
 * or one of these.  rpcrest_call_strerror names them.
 */
enum {
    RPCREST_EFINISHED = -1,  /* the call was already finished: nothing done */
    RPCREST_EAGAIN = -2,     /* the send queue is full: nothing was queued;
                              * see rpcrest_call_on_writable */
    RPCREST_ECANCELLED = -3, /* the client cancelled, the deadline passed or the
                              * host is stopping: stop sending, finish the call */
    RPCREST_EINVAL = -4,     /* a bad argument: NULL, a reserved or malformed
                              * metadata key, a text value with control bytes */
    RPCREST_ESTATE = -5,     /* not now, or not for this method: initial metadata
                              * after the first message, send on a unary method,
                              * finish without a reply on a unary method */
    RPCREST_ETYPE = -6,      /* not the method's output type, not serializable, or
                              * a string field that is not UTF-8 */
    RPCREST_ENOMEM = -7      /* out of memory */
};

/* How a method streams.  The host serves RPCREST_UNARY and
 * RPCREST_SERVER_STREAMING; a plugin that declares another kind, or a kind
 * that its embedded descriptor set contradicts, is refused at load time with
 * a message naming the method. */
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
 * protoc-c generated struct).  `service_data` is what init() stored.  A
 * unary handler finishes the call now or later with rpcrest_call_reply or
 * rpcrest_call_fail*; a server-streaming handler sends messages with
 * rpcrest_call_send and ends with rpcrest_call_finish or rpcrest_call_fail*.
 */
typedef void (*rpcrest_handler)(rpcrest_call *call, const ProtobufCMessage *request,
                                void *service_data);

/* A method: `name` as written in the .proto ("Echo"), matched against the
 * service descriptor, how it streams, and its handler. */
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
 * fini: called once at shutdown after the last call was finished and the
 * last handler and callback returned: join your threads here.
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
     * one self-describing file: the host checks each method's streaming
     * kind against it and serves it through reflection. */
    const uint8_t *descriptor_set;
    const uint8_t *descriptor_set_end;
} rpcrest_plugin;

/* Defined by the build when it embeds the descriptor set into the plugin
 * (rpcrest's Makefile does for every services/NAME/); NULL otherwise. */
extern const uint8_t rpcrest_descriptor_set_start[] __attribute__((weak));
extern const uint8_t rpcrest_descriptor_set_end[] __attribute__((weak));

/* The number of elements of an array (for RPCREST_PLUGIN's N_SERVICES and a
 * service's n_methods). */
#define RPCREST_COUNTOF(a) (sizeof(a) / sizeof((a)[0]))

/* Declares the entry symbol: RPCREST_PLUGIN("echo", services, n, init, fini);
 * (in C++ too: a const there would otherwise be internal, and unnamed) */
#ifdef __cplusplus
#define RPCREST_ENTRY_LINKAGE extern "C"
#else
#define RPCREST_ENTRY_LINKAGE
#endif
#define RPCREST_PLUGIN(NAME, SERVICES, N_SERVICES, INIT, FINI)                        \
    RPCREST_ENTRY_LINKAGE __attribute__((visibility("default")))                      \
    const rpcrest_plugin RPCREST_ENTRY = {                                             \
        RPCREST_MAGIC, RPCREST_ABI_VERSION, sizeof(rpcrest_plugin), (NAME), (SERVICES),   \
        (N_SERVICES), (INIT), (FINI), rpcrest_descriptor_set_start,                      \
        rpcrest_descriptor_set_end}

/* ==== functions the host provides ====================================== */

/* ---- finishing a call ---------------------------------------------------- */

/*
 * Unary: finishes with status OK and `reply` as the one reply message.
 * Server-streaming: queues `reply` as the last message (even when the queue
 * is full) and finishes with OK once every message is out.
 * Returns 0; RPCREST_EFINISHED; or RPCREST_ETYPE if reply is NULL, not of
 * the method's output type, cannot be serialized, or has a string field
 * that is not UTF-8 (proto3 requires it; clients refuse to parse such a
 * message) -- the call is then failed with INTERNAL, naming the field.
 */
int rpcrest_call_reply(rpcrest_call *call, const ProtobufCMessage *reply);

/*
 * Finishes with a non-OK status and a message (may be NULL).  A code that
 * is not a failure (RPCREST_OK, out of range) becomes RPCREST_UNKNOWN.  On a
 * server-streaming call the messages already queued go out first.  Returns
 * 0 or RPCREST_EFINISHED.
 * The message goes out as UTF-8 (gRPC clients decode it so): each invalid
 * sequence becomes U+FFFD.  gRPC clients refuse a status over 8 KiB, and
 * gRPC sends each byte outside printable ASCII (and '%') as three, so a
 * message that would take more than 2048 bytes that way is cut at a
 * character boundary and ends with "...": the client still gets the code.
 */
int rpcrest_call_fail(rpcrest_call *call, rpcrest_code code, const char *message);

/*
 * One entry of google.rpc.Status.details (a google.protobuf.Any).  Either
 * `message` (the host packs it; the type URL is
 * "type.googleapis.com/" + its full type name), or, with message NULL,
 * `type_url` and the already serialized `value[value_len]`.
 */
typedef struct rpcrest_detail {
    const ProtobufCMessage *message;
    const char *type_url;
    const void *value;
    size_t value_len;
} rpcrest_detail;

/*
 * rpcrest_call_fail, plus rich error details: the host builds a
 * google.rpc.Status { code, message, details } from the same code and
 * message (as rpcrest_call_fail sends it) and the n_details entries, and
 * sends it serialized in the `grpc-status-details-bin` trailer, where gRPC
 * clients (grpc-status / status.FromError / StatusProto) and
 * rpcrest-gateway's JSON error body find it.  Everything is copied before
 * return.  Returns 0, RPCREST_EFINISHED, or RPCREST_EINVAL / RPCREST_ETYPE /
 * RPCREST_ENOMEM if a detail is malformed (with NULL message, a type_url
 * that does not end in "/TYPE.NAME", except "" for the empty Any with no
 * value) or cannot be packed, or (RPCREST_EINVAL) if the serialized Status, in
 * base64, and the message would take more than 6 KiB (gRPC clients would
 * refuse the whole status): the call is then failed with the code and
 * message, without details.
 */
int rpcrest_call_fail_details(rpcrest_call *call, rpcrest_code code, const char *message,
                              const rpcrest_detail *details, size_t n_details);

/*
 * Server-streaming: finishes with status OK after every queued message went
 * out.  Returns 0 or RPCREST_EFINISHED.  On a unary call (which needs a
 * reply) it fails the call with INTERNAL and returns RPCREST_ESTATE.
 */
int rpcrest_call_finish(rpcrest_call *call);

/* ---- server streaming, with flow control ------------------------------- */

/*
 * Queues one message of a server-streaming call.  The host sends one
 * message at a time, as fast as the client reads; messages wait in a
 * per-call queue of at most 64 messages and 1 MiB (a single message larger
 * than that is taken when the queue is empty).  The first message also
 * sends the response initial metadata.
 * Returns:
 *   0                   queued (and serialized: `msg` is the caller's again)
 *   RPCREST_EAGAIN      the queue is full; nothing was queued.  Try again
 *                       when the writable callback runs (below).
 *   RPCREST_ECANCELLED  the client is gone or the deadline passed: stop and
 *                       finish the call (its status will not be delivered).
 *   RPCREST_EFINISHED   the call was already finished.
 *   RPCREST_ESTATE      the method is not server-streaming.
 *   RPCREST_ETYPE       msg is NULL, not of the output type, unserializable,
 *                       or has a string field that is not UTF-8.
 *   RPCREST_ENOMEM
 * So a slow client never makes the host buffer without bound: the plugin
 * produces the next message only when there is room for it.
 */
int rpcrest_call_send(rpcrest_call *call, const ProtobufCMessage *msg);

/* The writable callback: `arg` is what rpcrest_call_on_writable was given. */
typedef void (*rpcrest_writable_cb)(rpcrest_call *call, void *arg);

/*
 * Sets the call's writable callback (replacing an earlier one; NULL
 * removes it).  After each RPCREST_EAGAIN from rpcrest_call_send, the host
 * calls cb(call, arg) exactly once, on a host thread, when the queue is at
 * most half full again -- or when the call is cancelled (then the next send
 * returns RPCREST_ECANCELLED).  Never after the call was finished, never from
 * inside rpcrest_call_send.  It may run on another thread before the send
 * that returned RPCREST_EAGAIN has returned: after RPCREST_EAGAIN, just
 * return.  The callback must not block.  The usual pattern is one "pump"
 * function that is both the callback and called from the handler:
 *
 *     static void pump(rpcrest_call *call, void *arg) {
 *         struct job *j = arg;
 *         while (j->next < j->count) {
 *             ... fill msg for j->next ...
 *             int rc = rpcrest_call_send(call, &msg.base);
 *             if (rc == RPCREST_EAGAIN) return;       // called again later
 *             if (rc != 0) { rpcrest_call_fail(call, RPCREST_CANCELLED, NULL);
 *                            free(j); return; }
 *             j->next++;
 *         }
 *         rpcrest_call_finish(call);
 *         free(j);
 *     }
 *     handler: rpcrest_call_on_writable(call, pump, j); pump(call, j);
 *
 * Returns 0, RPCREST_EFINISHED, or RPCREST_ESTATE on a unary call.
 */
int rpcrest_call_on_writable(rpcrest_call *call, rpcrest_writable_cb cb, void *arg);

/* ---- metadata ------------------------------------------------------------- */

/* One request metadata entry.  Neither key nor value is NUL-terminated.
 * Keys are lower case, of 0-9 a-z - _ . only.  For keys ending in "-bin" the
 * value is the raw bytes (gRPC has already base64-decoded them); other
 * values are printable ASCII (0x20-0x7e).  The host refuses a call whose
 * metadata breaks these rules with INVALID_ARGUMENT before any handler runs
 * (gRPC core 1.51 does not check them), and one whose entries take more than
 * 8 KiB together (key + value + 32 bytes each, a "-bin" value counted as its
 * unpadded base64) with RESOURCE_EXHAUSTED. */
typedef struct rpcrest_metadata {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
} rpcrest_metadata;

/* The number of request metadata entries: the client's own entries, in the
 * order sent (a key may repeat), plus "user-agent".  Pseudo-headers,
 * content-type, te and grpc-timeout are not entries (see
 * rpcrest_call_deadline_ms), nor the keys gRPC core keeps for itself:
 * grpc-encoding and grpc-accept-encoding (a compressed request reaches the
 * handler inflated), grpc-trace-bin and grpc-tags-bin. */
size_t rpcrest_call_metadata_count(const rpcrest_call *call);

/* Entry i (0 <= i < count) into *out.  Returns 0, or RPCREST_EINVAL if i is
 * out of range or out is NULL. */
int rpcrest_call_metadata_at(const rpcrest_call *call, size_t i, rpcrest_metadata *out);

/* The first request metadata value for `key` (lower case), or NULL; its
 * length in *len (which may be NULL). */
const char *rpcrest_call_metadata(const rpcrest_call *call, const char *key, size_t *len);

/* The call's request id: its "x-request-id" metadata value (rpcrest-gateway
 * sends one with every call: the client's X-Request-Id header, or one it
 * made up), NUL-terminated, or NULL when the call has none (or one that is
 * not 1..128 bytes of printable ASCII without space, '"' or '\\', which a
 * log line could not show as one word).  Valid until the call is finished;
 * use it in log lines so they can be matched with the gateway's access
 * log.  Added after ABI
 * version 1 shipped, without changing it: a plugin that calls it needs a
 * host that has it (an older one refuses to load it, naming the symbol). */
const char *rpcrest_call_request_id(const rpcrest_call *call);

/*
 * Adds one entry to the response initial metadata (sent before the first
 * message, or with the status when there is none) or to the trailing
 * metadata (sent with the status).  `key`: NUL-terminated, 1-255 characters
 * of a-z 0-9 - _ . ; not "grpc-..." (reserved by gRPC), nor the other keys
 * gRPC core sends its own way or not at all (content-type, te, user-agent,
 * host, content-length, grpclb_client_stats), nor HTTP/2's connection
 * headers (connection, keep-alive, proxy-connection, transfer-encoding,
 * upgrade): RPCREST_EINVAL; nor an "lb-cost-bin" value shorter than the
 * 8-byte double gRPC core reads from it.
 * `value[value_len]`: any bytes when the key
 * ends in "-bin" (gRPC base64-encodes them on the wire), else printable
 * ASCII (0x20-0x7e).  Both are copied.  A key may be added more than once.
 * gRPC clients refuse metadata blocks larger than their limit (8 KiB by
 * default): keep them small.  RPCREST_EINVAL for an entry whose key and
 * value take more than 64 KiB on the wire (a -bin value as base64, and that
 * Huffman-coded at worst: 11/6 of its bytes, so up to about 35 KiB), or one
 * that would make its block (initial or trailing) more than 1 MiB, counted
 * as HTTP/2 does (key + value + 32 bytes an entry).
 * Returns 0, RPCREST_EINVAL, RPCREST_EFINISHED, RPCREST_ENOMEM, or (initial
 * only) RPCREST_ESTATE once the initial metadata was sent.
 */
int rpcrest_call_add_initial_metadata(rpcrest_call *call, const char *key, const void *value,
                                      size_t value_len);
int rpcrest_call_add_trailing_metadata(rpcrest_call *call, const char *key,
                                       const void *value, size_t value_len);

/* ---- about the call ------------------------------------------------------- */

/* The full method path, "/package.Service/Method". */
const char *rpcrest_call_method(const rpcrest_call *call);

/* The client's address as gRPC names it ("ipv4:127.0.0.1:40112"). */
const char *rpcrest_call_peer(const rpcrest_call *call);

/* Milliseconds left before the client's deadline (0 once it has passed), or
 * -1 when the client set none. */
int64_t rpcrest_call_deadline_ms(const rpcrest_call *call);

/* 1 once the client cancelled the call, its deadline passed, or the host
 * cancelled it while stopping; 0 before.  Cheap: poll it in long work. */
int rpcrest_call_is_cancelled(const rpcrest_call *call);

/* A short English name for a value the functions above return
 * ("the send queue is full"), for logs.  Never NULL. */
const char *rpcrest_call_strerror(int rc);

#ifdef __cplusplus
}
#endif

#endif /* RPCREST_RPCREST_H */
