/*
 * host_call.c -- the call record and the rpcrest_call_* functions.
 *
 * A record is freed when three things are done, counted in `refs`: the
 * handler returned, the final send batch completed, and the
 * RECV_CLOSE_ON_SERVER batch completed.  `finished` makes the reply or the
 * failure happen exactly once, from whichever thread comes first.
 */
#include "host_call.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_log.h"

enum { REF_HANDLER, REF_CLOSE, REF_SEND, N_REFS };

struct rpcrest_call {
    host_tag on_new;    /* the request matched a call */
    host_tag on_closed; /* RECV_CLOSE_ON_SERVER completed */
    host_tag on_sent;   /* the final send batch completed */
    const host_queue *q;
    const host_method *method;
    void *registered;
    atomic_int refs;      /* N_REFS once the call arrived */
    atomic_int finished;  /* 1 once reply or fail claimed the call */
    atomic_int cancelled; /* backs rpcrest_call_is_cancelled */
    int close_cancelled;  /* written by gRPC; read when on_closed fires */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload;
    ProtobufCMessage *request;
    grpc_byte_buffer *reply;
    _Atomic(char *) peer; /* grpc_call_get_peer, on first use */
};

static void call_free(rpcrest_call *c)
{
    host_live *live = c->q->live;
    if (c->request)
        protobuf_c_message_free_unpacked(c->request, NULL);
    if (c->payload)
        grpc_byte_buffer_destroy(c->payload);
    if (c->reply)
        grpc_byte_buffer_destroy(c->reply);
    grpc_metadata_array_destroy(&c->md);
    gpr_free(atomic_load(&c->peer));
    if (c->call)
        grpc_call_unref(c->call);
    free(c);
    host_live_release(live);
}

static void call_release(rpcrest_call *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        call_free(c);
}

int host_call_request(const host_queue *q, const host_method *m, void *registered)
{
    rpcrest_call *c = calloc(1, sizeof(*c));
    if (!c) {
        host_log("%s: cannot request calls: out of memory", m->path);
        return -1;
    }
    c->on_new.kind = HOST_TAG_CALL_NEW;
    c->on_closed.kind = HOST_TAG_CALL_CLOSED;
    c->on_sent.kind = HOST_TAG_CALL_SENT;
    c->q = q;
    c->method = m;
    c->registered = registered;
    grpc_metadata_array_init(&c->md);
    host_live_hold(q->live);
    grpc_call_error err = grpc_server_request_registered_call(
        q->server, registered, &c->call, &c->deadline, &c->md, &c->payload, q->cq, q->cq,
        &c->on_new);
    if (err != GRPC_CALL_OK) {
        host_log("%s: grpc_server_request_registered_call: error %d", m->path, (int)err);
        call_free(c);
        return -1;
    }
    return 0;
}

/* ---- finishing a call --------------------------------------------------- */

/* Starts the final send batch; the REF_SEND reference goes with it. */
static int send_final(rpcrest_call *c, grpc_op *ops, size_t n)
{
    grpc_call_error err = grpc_call_start_batch(c->call, ops, n, &c->on_sent, NULL);
    if (err == GRPC_CALL_OK)
        return 0; /* c may be freed already: don't touch it */
    host_log("%s: cannot send the reply: grpc_call_start_batch: error %d", c->method->path,
             (int)err);
    call_release(c);
    return -1;
}

/* Sends initial metadata and a non-OK status.  The caller claimed c. */
static int send_status(rpcrest_call *c, rpcrest_code code, const char *message)
{
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[2];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[1].data.send_status_from_server.status = (grpc_status_code)code;
    if (message) {
        details = grpc_slice_from_copied_string(message);
        ops[1].data.send_status_from_server.status_details = &details;
    }
    int rc = send_final(c, ops, 2);
    grpc_slice_unref(details); /* the call took its own reference */
    return rc;
}

static int claim(rpcrest_call *c)
{
    return atomic_exchange_explicit(&c->finished, 1, memory_order_acq_rel) == 0;
}

/* The reply as one slice in a byte buffer in c->reply; 0 or -1. */
static int pack_reply(rpcrest_call *c, const ProtobufCMessage *reply)
{
    size_t size = protobuf_c_message_get_packed_size(reply);
    grpc_slice slice = grpc_slice_malloc(size);
    size_t packed = protobuf_c_message_pack(reply, GRPC_SLICE_START_PTR(slice));
    if (packed != size) {
        grpc_slice_unref(slice);
        return -1;
    }
    c->reply = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    return 0;
}

static int same_type(const ProtobufCMessage *m, const ProtobufCMessageDescriptor *d)
{
    return m && m->descriptor &&
           (m->descriptor == d || strcmp(m->descriptor->name, d->name) == 0);
}

int rpcrest_call_reply(rpcrest_call *c, const ProtobufCMessage *reply)
{
    if (!claim(c))
        return -1;
    const ProtobufCMessageDescriptor *out = c->method->output;
    if (!same_type(reply, out)) {
        char why[512];
        snprintf(why, sizeof(why), "%s: the handler replied with %s instead of %s",
                 c->method->path, reply && reply->descriptor ? reply->descriptor->name : "NULL",
                 out->name);
        send_status(c, RPCREST_INTERNAL, why);
        return -1;
    }
    if (pack_reply(c, reply) < 0) {
        send_status(c, RPCREST_INTERNAL, "cannot serialize the reply");
        return -1;
    }
    grpc_op ops[3];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = c->reply;
    ops[2].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[2].data.send_status_from_server.status = GRPC_STATUS_OK;
    return send_final(c, ops, 3);
}

int rpcrest_call_fail(rpcrest_call *c, rpcrest_code code, const char *message)
{
    if (!claim(c))
        return -1;
    if (code <= RPCREST_OK || code > RPCREST_UNAUTHENTICATED)
        code = RPCREST_UNKNOWN; /* not a failure code: still fail the call */
    send_status(c, code, message);
    return 0;
}

/* ---- a call arrives ------------------------------------------------------ */

/* The request message from the payload into c->request; 0 or -1. */
static int decode(rpcrest_call *c)
{
    grpc_byte_buffer_reader reader;
    if (!c->payload || !grpc_byte_buffer_reader_init(&reader, c->payload))
        return -1;
    grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
    c->request = protobuf_c_message_unpack(c->method->input, NULL, GRPC_SLICE_LENGTH(all),
                                           GRPC_SLICE_START_PTR(all));
    grpc_slice_unref(all);
    grpc_byte_buffer_reader_destroy(&reader);
    grpc_byte_buffer_destroy(c->payload); /* decoded: no need to hold it */
    c->payload = NULL;
    return c->request ? 0 : -1;
}

static void start_recv_close(rpcrest_call *c)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &c->close_cancelled;
    grpc_call_error err = grpc_call_start_batch(c->call, &op, 1, &c->on_closed, NULL);
    if (err != GRPC_CALL_OK) {
        host_log("%s: grpc_call_start_batch(RECV_CLOSE_ON_SERVER): error %d",
                 c->method->path, (int)err);
        atomic_store(&c->cancelled, 1);
        call_release(c);
    }
}

static void on_new(rpcrest_call *c, int ok)
{
    if (!ok) { /* the server is shutting down: the request was cancelled */
        call_free(c);
        return;
    }
    host_call_request(c->q, c->method, c->registered); /* failure is logged */
    atomic_init(&c->refs, N_REFS);
    start_recv_close(c);
    if (decode(c) == 0) {
        c->method->handler(c, c->request, c->method->plugin->service_data);
    } else if (claim(c)) {
        char why[512];
        snprintf(why, sizeof(why), "cannot decode request as %s", c->method->input->name);
        send_status(c, RPCREST_INVALID_ARGUMENT, why);
    }
    call_release(c); /* REF_HANDLER */
}

void host_call_on_event(host_tag *tag, int ok)
{
    rpcrest_call *c;
    switch (tag->kind) {
    case HOST_TAG_CALL_NEW:
        on_new(HOST_RECORD_OF(tag, rpcrest_call, on_new), ok);
        break;
    case HOST_TAG_CALL_CLOSED:
        c = HOST_RECORD_OF(tag, rpcrest_call, on_closed);
        atomic_store(&c->cancelled, !ok || c->close_cancelled);
        call_release(c); /* REF_CLOSE */
        break;
    case HOST_TAG_CALL_SENT: /* !ok: the client is gone; nothing to tell anyone */
        call_release(HOST_RECORD_OF(tag, rpcrest_call, on_sent)); /* REF_SEND */
        break;
    default:
        host_log("host_call_on_event: unexpected tag kind %d", (int)tag->kind);
        break;
    }
}

/* ---- accessors ------------------------------------------------------------ */

const char *rpcrest_call_method(const rpcrest_call *c)
{
    return c->method->path;
}

const char *rpcrest_call_peer(const rpcrest_call *call)
{
    rpcrest_call *c = (rpcrest_call *)call; /* the cache is not part of the value */
    char *peer = atomic_load_explicit(&c->peer, memory_order_acquire);
    if (peer)
        return peer;
    char *mine = grpc_call_get_peer(c->call);
    if (atomic_compare_exchange_strong(&c->peer, &peer, mine))
        return mine;
    gpr_free(mine); /* another thread cached it first */
    return peer;
}

static int no_deadline(gpr_timespec dl)
{
    return dl.tv_sec == INT64_MAX || gpr_time_cmp(dl, gpr_inf_future(dl.clock_type)) == 0;
}

int64_t rpcrest_call_deadline_ms(const rpcrest_call *c)
{
    if (no_deadline(c->deadline))
        return -1;
    gpr_timespec left = gpr_time_sub(c->deadline, gpr_now(c->deadline.clock_type));
    if (left.tv_sec < 0)
        return 0;
    if (left.tv_sec > INT64_MAX / 1000 - 1)
        return INT64_MAX / 1000 * 1000;
    return left.tv_sec * 1000 + left.tv_nsec / 1000000;
}

int rpcrest_call_is_cancelled(const rpcrest_call *c)
{
    if (atomic_load(&c->cancelled))
        return 1;
    if (no_deadline(c->deadline))
        return 0;
    return gpr_time_cmp(gpr_now(c->deadline.clock_type), c->deadline) >= 0;
}

const char *rpcrest_call_metadata(const rpcrest_call *c, const char *key, size_t *len)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i < c->md.count; i++) {
        const grpc_metadata *m = &c->md.metadata[i];
        if (GRPC_SLICE_LENGTH(m->key) != klen ||
            memcmp(GRPC_SLICE_START_PTR(m->key), key, klen) != 0)
            continue;
        if (len)
            *len = GRPC_SLICE_LENGTH(m->value);
        return (const char *)GRPC_SLICE_START_PTR(m->value);
    }
    if (len)
        *len = 0;
    return NULL;
}
