/*
 * host_call.c -- the call record and the rpcrest_call_* functions.
 *
 * Batches of one call: sends, one at a time: for a server-streaming call
 * each queued message ([initial metadata +] message, tag on_message), and
 * last the final batch ([initial metadata] [+ unary reply] + status, tag
 * on_sent), started only once no message is in flight; and
 * RECV_CLOSE_ON_SERVER, which tells of a client's cancel.  A unary call
 * finished before its handler returns (the common case) sends its final
 * batch when the handler returns, with RECV_CLOSE_ON_SERVER in it: one batch
 * and one completion per call instead of two.  Otherwise
 * RECV_CLOSE_ON_SERVER goes alone (tag on_closed): when a server-streaming
 * call arrives, or when a unary handler returns without having finished the
 * call.  (A handler runs on its queue's only thread, so a cancel could not
 * reach it before it returns anyway.)  A record is freed when three things
 * are done, counted in `refs`: the handler returned, the final batch
 * completed, and RECV_CLOSE_ON_SERVER completed.  Whoever may start the
 * final batch (finish, on_message) and a running writable callback hold an
 * extra reference meanwhile, since the batch can complete and drop the last
 * one on another thread before they unlock.  `lock` guards the send side and
 * serializes grpc_call_start_batch, since plugins call in from any thread.
 * It is never held while plugin code runs, nor when a reference is dropped.
 * The host's own streaming services (health, reflection) have their own
 * state machine (host_bidi.c) over the same gRPC events: a fix to
 * cancellation or batching here is likely due there too.
 */
#include "host_call.h"

#include <grpc/byte_buffer.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host_message.h"
#include "host_metrics.h"
#include "host_status.h"
#include "host_strings.h"
#include "rp_log.h"
#include "rp_metadata.h"
#include "rp_pb_depth.h"
#include "rp_pb_wire.h"
#include "rp_time.h"

/* The per-call send queue of a server-streaming call: messages waiting plus
 * the one in flight.  The writable callback runs at half of both. */
#define QUEUE_MAX_MESSAGES 64
#define QUEUE_MAX_BYTES ((size_t)1 << 20)

#define DETAILS_KEY "grpc-status-details-bin"
#define ANY_URL_PREFIX "type.googleapis.com/"

enum { REF_HANDLER, REF_CLOSE, REF_SEND, N_REFS };

/* Response metadata the plugin added; key and value slices are ours. */
typedef struct md_list {
    grpc_metadata *v;
    size_t n, cap;
    size_t plugin_bytes; /* of the plugin's entries, as HPACK counts a block */
} md_list;

/* What a plugin may add: an entry whose key and value take more than 64 KiB
 * on the wire is more than HTTP/2 libraries decode (nghttp2, the gateway's
 * client, closes the connection with every call on it), and a block over
 * 1 MiB more than the gateway takes. */
#define MD_ENTRY_WIRE_MAX 65536
#define MD_BLOCK_MAX (1u << 20)

/* One streamed message, serialized. */
typedef struct send_item {
    struct send_item *next;
    grpc_byte_buffer *bb;
    size_t bytes;
} send_item;

struct rpcrest_call {
    host_tag on_new;     /* the request matched a call */
    host_tag on_closed;  /* RECV_CLOSE_ON_SERVER completed */
    host_tag on_sent;    /* the final batch completed */
    host_tag on_message; /* a streamed message's batch completed */
    const host_queue *q;
    const host_method *method;
    void *registered;
    atomic_int refs;      /* N_REFS once the call arrived */
    atomic_int cancelled; /* RECV_CLOSE_ON_SERVER said so, or a send failed */
    int close_cancelled;  /* written by gRPC; read when on_closed fires */
    int arrived;          /* counted in q->live's calls */
    uint64_t start_us;    /* CLOCK_MONOTONIC when it arrived */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload;
    ProtobufCMessage *request;
    _Atomic(char *) peer; /* grpc_call_get_peer, on first use */
    _Atomic(char *) request_id; /* rpcrest_call_request_id, on first use ("" for none) */

    pthread_mutex_t lock; /* guards everything below */
    int finished;         /* reply, fail or finish claimed the call */
    int initial_sent;     /* the initial metadata went out (or is going) */
    md_list initial, trailing;
    send_item *head, *tail; /* streamed messages not yet started */
    send_item *in_flight;   /* the streamed message being sent */
    size_t queued_n, queued_bytes; /* waiting + in flight */
    int want_writable;      /* rpcrest_call_send returned RPCREST_EAGAIN */
    rpcrest_writable_cb writable_cb;
    void *writable_arg;
    int final_pending;       /* finished; the final batch waits for the queue
                                (or for the handler to return) */
    int in_handler;          /* on_new is running the handler */
    int close_started;       /* RECV_CLOSE_ON_SERVER was started (alone or in
                                the final batch) */
    int close_in_final;      /* ... in the final batch: on_sent is on_closed too */
    grpc_status_code status; /* of the final batch */
    char *status_message;    /* of the final batch, or NULL */
    grpc_byte_buffer *reply; /* the unary reply of the final batch, or NULL */
};

/* ---- small helpers ---------------------------------------------------------- */

static void md_free(md_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        grpc_slice_unref(l->v[i].key);
        grpc_slice_unref(l->v[i].value);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Appends a copy of key[klen] = value[vlen].  0 or RPCREST_ENOMEM. */
static int md_add(md_list *l, const char *key, size_t klen, const void *value, size_t vlen)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        grpc_metadata *grown = realloc(l->v, cap * sizeof(*grown));
        if (!grown)
            return RPCREST_ENOMEM;
        l->v = grown;
        l->cap = cap;
    }
    grpc_metadata *m = &l->v[l->n++];
    memset(m, 0, sizeof(*m));
    m->key = grpc_slice_from_copied_buffer(key, klen);
    m->value = grpc_slice_from_copied_buffer(value, vlen);
    return 0;
}

static void drop_waiting(rpcrest_call *c)
{
    while (c->head) {
        send_item *it = c->head;
        c->head = it->next;
        c->queued_n--;
        c->queued_bytes -= it->bytes;
        grpc_byte_buffer_destroy(it->bb);
        free(it);
    }
    c->tail = NULL;
}

static void call_free(rpcrest_call *c)
{
    host_live *live = c->q->live;
    atomic_size_t *open = &c->q->calls->open[c->method->index]; /* its counter */
    int arrived = c->arrived;
    if (arrived) /* no lock: this is the last reference */
        host_metrics_call_end(c->method->stats,
                              atomic_load(&c->cancelled) || !c->finished ? GRPC_STATUS_CANCELLED
                                                                         : (int)c->status,
                              (uint64_t)rp_monotonic_us() - c->start_us);
    if (c->request)
        protobuf_c_message_free_unpacked(c->request, NULL);
    if (c->payload)
        grpc_byte_buffer_destroy(c->payload);
    if (c->reply)
        grpc_byte_buffer_destroy(c->reply);
    drop_waiting(c);
    if (c->in_flight) {
        grpc_byte_buffer_destroy(c->in_flight->bb);
        free(c->in_flight);
    }
    md_free(&c->initial);
    md_free(&c->trailing);
    free(c->status_message);
    grpc_metadata_array_destroy(&c->md);
    gpr_free(atomic_load(&c->peer));
    free(atomic_load(&c->request_id));
    if (c->call)
        grpc_call_unref(c->call);
    pthread_mutex_destroy(&c->lock);
    free(c);
    if (arrived) {
        atomic_fetch_sub_explicit(open, 1, memory_order_relaxed);
        host_live_call_end(live);
    }
    host_live_release(live);
}

/* The call's x-request-id (set by the gateway, or by any client), for log
 * lines; "-" without one. */
static const char *request_id_or_dash(const rpcrest_call *c)
{
    const char *id = rpcrest_call_request_id(c);
    return id ? id : "-";
}

static void call_hold(rpcrest_call *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
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
        rp_log("%s: cannot request calls: out of memory", m->path);
        return -1;
    }
    int rc = pthread_mutex_init(&c->lock, NULL);
    if (rc) {
        rp_log("%s: pthread_mutex_init: %s", m->path, strerror(rc));
        free(c);
        return -1;
    }
    c->on_new.kind = HOST_TAG_CALL_NEW;
    c->on_closed.kind = HOST_TAG_CALL_CLOSED;
    c->on_sent.kind = HOST_TAG_CALL_SENT;
    c->on_message.kind = HOST_TAG_CALL_MESSAGE;
    c->q = q;
    c->method = m;
    c->registered = registered;
    grpc_metadata_array_init(&c->md);
    host_live_hold(q->live);
    grpc_call_error err = grpc_server_request_registered_call(
        q->server, registered, &c->call, &c->deadline, &c->md, &c->payload, q->cq, q->cq,
        &c->on_new);
    if (err != GRPC_CALL_OK) {
        rp_log("%s: grpc_server_request_registered_call: error %d", m->path, (int)err);
        call_free(c);
        return -1;
    }
    return 0;
}

/* One serialized message in a byte buffer; NULL if it cannot be packed. */
static grpc_byte_buffer *pack(const ProtobufCMessage *msg, size_t size)
{
    grpc_slice slice = grpc_slice_malloc(size);
    size_t packed = protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
    if (packed != size) {
        grpc_slice_unref(slice);
        return NULL;
    }
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice); /* the buffer took its own reference */
    return bb;
}

static int same_type(const ProtobufCMessage *m, const ProtobufCMessageDescriptor *d)
{
    return m && m->descriptor &&
           (m->descriptor == d || strcmp(m->descriptor->name, d->name) == 0);
}

static int no_deadline(gpr_timespec dl)
{
    return dl.tv_sec == INT64_MAX || gpr_time_cmp(dl, gpr_inf_future(dl.clock_type)) == 0;
}

/* Starts RECV_CLOSE_ON_SERVER alone.  Lock held (or c not yet shared with
 * anyone).  Returns 0, or -1 after logging: the caller then drops
 * REF_CLOSE, after unlocking. */
static int start_recv_close(rpcrest_call *c)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &c->close_cancelled;
    c->close_started = 1;
    grpc_call_error err = grpc_call_start_batch(c->call, &op, 1, &c->on_closed, NULL);
    if (err == GRPC_CALL_OK)
        return 0;
    rp_log("%s request_id=%s: grpc_call_start_batch(RECV_CLOSE_ON_SERVER): error %d",
           c->method->path, request_id_or_dash(c), (int)err);
    atomic_store(&c->cancelled, 1);
    return -1;
}

int rpcrest_call_is_cancelled(const rpcrest_call *c)
{
    if (atomic_load(&c->cancelled))
        return 1;
    if (no_deadline(c->deadline))
        return 0;
    return gpr_time_cmp(gpr_now(c->deadline.clock_type), c->deadline) >= 0;
}

/* ---- batches (lock held) ------------------------------------------------------ */

/* The call cannot send any more: fail what waits, let RECV_CLOSE_ON_SERVER
 * complete.  Lock held.  INTERNAL, not CANCELLED: the gateway takes a
 * CANCELLED that gRPC core writes itself for a call no plugin saw
 * (gw_h2_retry_shutdown_cancels), and a plugin has seen this one. */
static void break_call(rpcrest_call *c)
{
    atomic_store(&c->cancelled, 1);
    drop_waiting(c);
    grpc_call_cancel_with_status(c->call, GRPC_STATUS_INTERNAL, "the host could not send the "
                                 "reply", NULL);
}

/* Fills ops[0] with the initial metadata if it has not gone out yet; returns
 * the number of ops used.  Lock held. */
static size_t initial_op(rpcrest_call *c, grpc_op *ops)
{
    if (c->initial_sent)
        return 0;
    c->initial_sent = 1;
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = c->initial.n;
    ops[0].data.send_initial_metadata.metadata = c->initial.v;
    return 1;
}

/* Starts the next waiting message.  Lock held; nothing in flight. */
static void start_message(rpcrest_call *c)
{
    send_item *it = c->head;
    c->head = it->next;
    if (!c->head)
        c->tail = NULL;
    c->in_flight = it;
    grpc_op ops[2];
    memset(ops, 0, sizeof(ops));
    size_t n = initial_op(c, ops);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = it->bb;
    grpc_call_error err = grpc_call_start_batch(c->call, ops, n, &c->on_message, NULL);
    if (err == GRPC_CALL_OK)
        return;
    rp_log("%s request_id=%s: grpc_call_start_batch(SEND_MESSAGE): error %d", c->method->path,
           request_id_or_dash(c), (int)err);
    c->in_flight = NULL;
    c->queued_n--;
    c->queued_bytes -= it->bytes;
    grpc_byte_buffer_destroy(it->bb);
    free(it);
    break_call(c);
}

/* Starts the final batch.  Lock held; nothing in flight.  Returns 0, or -1
 * after logging: the caller then drops REF_SEND, after unlocking. */
static int start_final(rpcrest_call *c)
{
    grpc_op ops[4];
    memset(ops, 0, sizeof(ops));
    size_t n = initial_op(c, ops);
    int with_close = !c->close_started; /* it rides along (see the top) */
    if (with_close) {
        ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        ops[n++].data.recv_close_on_server.cancelled = &c->close_cancelled;
    }
    if (c->reply) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->reply;
    }
    grpc_slice details = grpc_empty_slice();
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = c->status;
    ops[n].data.send_status_from_server.trailing_metadata_count = c->trailing.n;
    ops[n].data.send_status_from_server.trailing_metadata = c->trailing.v;
    if (c->status_message) {
        details = grpc_slice_from_copied_string(c->status_message);
        ops[n].data.send_status_from_server.status_details = &details;
    }
    n++;
    /* set before the batch starts: its completion (on_sent, on a worker
     * thread) reads them */
    c->close_in_final = with_close;
    c->close_started = 1;
    grpc_call_error err = grpc_call_start_batch(c->call, ops, n, &c->on_sent, NULL);
    grpc_slice_unref(details); /* the call took its own reference */
    if (err == GRPC_CALL_OK)
        return 0;
    c->close_in_final = 0;
    c->close_started = !with_close; /* as it was */
    rp_log("%s request_id=%s: cannot send the reply: grpc_call_start_batch: error %d",
           c->method->path, request_id_or_dash(c), (int)err);
    break_call(c);
    return -1;
}

/* After a streamed message went out or the call was cancelled: start what
 * comes next.  Lock held.  Returns 1 if REF_SEND must be dropped (after
 * unlocking). */
static int advance(rpcrest_call *c)
{
    if (c->in_flight)
        return 0;
    if (c->head) {
        start_message(c);
        if (c->in_flight)
            return 0;
    }
    if (c->final_pending && !c->head && !c->in_handler) {
        c->final_pending = 0;
        return start_final(c) < 0;
    }
    return 0;
}

/* 1 if the writable callback is due now (and disarms it).  Lock held. */
static int take_writable(rpcrest_call *c)
{
    if (!c->want_writable || c->finished || !c->writable_cb)
        return 0;
    int room = c->queued_n <= QUEUE_MAX_MESSAGES / 2 && c->queued_bytes <= QUEUE_MAX_BYTES / 2;
    if (!room && !atomic_load(&c->cancelled))
        return 0;
    c->want_writable = 0;
    return 1;
}

/* Plugin code of c's method runs on c's queue's worker from now
 * (callback: a writable callback, else the handler) until plugin_returned:
 * named if it never returns (host_queue_calls). */
static void plugin_runs(const rpcrest_call *c, int callback, int64_t since_us)
{
    host_queue_calls *qc = c->q->calls;
    atomic_store_explicit(&qc->running_callback, callback, memory_order_relaxed);
    atomic_store_explicit(&qc->running_since_us, since_us, memory_order_relaxed);
    atomic_store_explicit(&qc->running, c->method, memory_order_release);
}

static void plugin_returned(const rpcrest_call *c)
{
    atomic_store_explicit(&c->q->calls->running, NULL, memory_order_release);
}

/* Unlocks c, then runs the writable callback if `fire` (holding a reference
 * meanwhile) and drops REF_SEND if `release`. */
static void unlock_and_notify(rpcrest_call *c, int fire, int release)
{
    rpcrest_writable_cb cb = c->writable_cb;
    void *arg = c->writable_arg;
    if (fire)
        call_hold(c);
    pthread_mutex_unlock(&c->lock);
    if (fire) { /* on c's worker: completions fire it, never a plugin's send */
        plugin_runs(c, 1, rp_monotonic_us());
        cb(c, arg);
        plugin_returned(c);
        call_release(c);
    }
    if (release)
        call_release(c); /* REF_SEND */
}

/* ---- finishing a call ------------------------------------------------------ */

/*
 * Claims c and finishes it with `code` / `message` (copied as
 * host_status_message makes it safe to send), after `last` (a serialized
 * message, taken; may be NULL) and what is queued.  Returns 0 or
 * RPCREST_EFINISHED (then `last` is destroyed).
 */
static int finish(rpcrest_call *c, grpc_status_code code, const char *message,
                  grpc_byte_buffer *last, size_t last_bytes)
{
    /* A handler that saw rpcrest_call_is_cancelled after the deadline and
     * gave up with CANCELLED: the client is owed DEADLINE_EXCEEDED, which
     * gRPC core would have sent had it ended the call first. */
    if (code == GRPC_STATUS_CANCELLED && !atomic_load(&c->cancelled) &&
        !no_deadline(c->deadline) &&
        gpr_time_cmp(gpr_now(c->deadline.clock_type), c->deadline) >= 0) {
        code = GRPC_STATUS_DEADLINE_EXCEEDED;
        message = "Deadline Exceeded";
    }
    char *copy = host_status_message(message); /* NULL on ENOMEM: no message */
    call_hold(c);
    pthread_mutex_lock(&c->lock);
    if (c->finished) {
        pthread_mutex_unlock(&c->lock);
        call_release(c);
        free(copy);
        if (last)
            grpc_byte_buffer_destroy(last);
        return RPCREST_EFINISHED;
    }
    c->finished = 1;
    c->want_writable = 0;
    c->status = code;
    c->status_message = copy;
    if (last && c->method->kind == RPCREST_UNARY) {
        c->reply = last;
    } else if (last) {
        send_item *it = malloc(sizeof(*it));
        if (it) {
            it->next = NULL;
            it->bb = last;
            it->bytes = last_bytes;
            if (c->tail)
                c->tail->next = it;
            else
                c->head = it;
            c->tail = it;
            c->queued_n++;
            c->queued_bytes += last_bytes;
        } else {
            grpc_byte_buffer_destroy(last);
            c->status = GRPC_STATUS_RESOURCE_EXHAUSTED;
            free(c->status_message);
            c->status_message = strdup("out of memory");
        }
    }
    if (atomic_load(&c->cancelled))
        drop_waiting(c);
    c->final_pending = 1;
    int release = advance(c);
    unlock_and_notify(c, 0, release);
    call_release(c);
    return 0;
}

/* Logs the plugin's first misuse of a call of c's method (the client only
 * sees INTERNAL, or the plugin an error code it may ignore); later ones go
 * unlogged, so a plugin that errs on every call cannot flood the log. */
static void log_mistake(rpcrest_call *c, const char *why)
{
    host_method *m = (host_method *)c->method;
    if (atomic_exchange(&m->mistake_logged, 1) == 0)
        rp_log("%s request_id=%s: %s (the plugin's first such mistake on this method; later "
               "ones are not logged)", m->path, request_id_or_dash(c), why);
}

/* Fails c with INTERNAL `why` because of the plugin's mistake; returns `rc`
 * (or RPCREST_EFINISHED if c was already finished). */
static int failed_instead(rpcrest_call *c, const char *why, int rc)
{
    log_mistake(c, why);
    return finish(c, GRPC_STATUS_INTERNAL, why, NULL, 0) == 0 ? rc : RPCREST_EFINISHED;
}

int rpcrest_call_reply(rpcrest_call *c, const ProtobufCMessage *reply)
{
    const ProtobufCMessageDescriptor *out = c->method->output;
    if (!same_type(reply, out)) {
        char why[512];
        snprintf(why, sizeof(why), "the handler replied with %s instead of %s",
                 reply && reply->descriptor ? reply->descriptor->name : "NULL", out->name);
        return failed_instead(c, why, RPCREST_ETYPE);
    }
    char why[300] = "the handler's reply: ";
    size_t at = strlen(why);
    if (!host_strings_valid(reply, why + at, sizeof(why) - at)) /* as a Go server refuses */
        return failed_instead(c, why, RPCREST_ETYPE);
    size_t size = protobuf_c_message_get_packed_size(reply);
    grpc_byte_buffer *bb = pack(reply, size);
    if (!bb)
        return failed_instead(c, "cannot serialize the reply", RPCREST_ETYPE);
    return finish(c, GRPC_STATUS_OK, NULL, bb, size);
}

static grpc_status_code failure_code(rpcrest_code code)
{
    if (code <= RPCREST_OK || code > RPCREST_UNAUTHENTICATED)
        return GRPC_STATUS_UNKNOWN; /* not a failure code: still fail the call */
    return (grpc_status_code)code;
}

int rpcrest_call_fail(rpcrest_call *c, rpcrest_code code, const char *message)
{
    return finish(c, failure_code(code), message, NULL, 0);
}

int rpcrest_call_finish(rpcrest_call *c)
{
    if (c->method->kind == RPCREST_UNARY)
        return failed_instead(c, "the handler finished without a reply", RPCREST_ESTATE);
    return finish(c, GRPC_STATUS_OK, NULL, NULL, 0);
}

/* ---- google.rpc.Status ---------------------------------------------------- */

/* A length-delimited field's size on the wire (one-byte tag). */
static size_t ld_size(size_t len)
{
    return 1 + rp_pb_varint_size(len) + len;
}

static uint8_t *put_ld(uint8_t *p, unsigned field, const void *data, size_t len)
{
    *p++ = (uint8_t)(field << 3 | 2);
    p += rp_pb_put_varint(p, len);
    if (len)
        memcpy(p, data, len);
    return p + len;
}

/* One detail's type URL and packed value size; 0 or an RPCREST_E* code. */
static int detail_sizes(const rpcrest_detail *d, size_t *url_len, size_t *value_len)
{
    if (d->message) {
        if (!d->message->descriptor)
            return RPCREST_ETYPE;
        *url_len = strlen(ANY_URL_PREFIX) + strlen(d->message->descriptor->name);
        *value_len = protobuf_c_message_get_packed_size(d->message);
        return 0;
    }
    if (!d->type_url || (!d->value && d->value_len))
        return RPCREST_EINVAL;
    /* an Any's type URL ends in "/TYPE.NAME"; only the empty Any has none */
    const char *slash = strrchr(d->type_url, '/');
    if (d->type_url[0] ? !slash || slash[1] == '\0' : d->value_len != 0)
        return RPCREST_EINVAL;
    *url_len = strlen(d->type_url);
    *value_len = d->value_len;
    return 0;
}

/* One google.protobuf.Any { type_url = 1; value = 2; } at p; returns the end. */
static uint8_t *put_any(uint8_t *p, const rpcrest_detail *d, size_t url_len, size_t value_len)
{
    *p++ = 3 << 3 | 2; /* Status.details */
    p += rp_pb_put_varint(p, ld_size(url_len) + ld_size(value_len));
    *p++ = 1 << 3 | 2;
    p += rp_pb_put_varint(p, url_len);
    if (d->message) {
        size_t prefix = strlen(ANY_URL_PREFIX);
        memcpy(p, ANY_URL_PREFIX, prefix);
        memcpy(p + prefix, d->message->descriptor->name, url_len - prefix);
        p += url_len;
        *p++ = 2 << 3 | 2;
        p += rp_pb_put_varint(p, value_len);
        return p + protobuf_c_message_pack(d->message, p);
    }
    memcpy(p, d->type_url, url_len);
    return put_ld(p + url_len, 2, d->value, value_len);
}

/*
 * google.rpc.Status { int32 code = 1; string message = 2;
 * repeated google.protobuf.Any details = 3; } serialized into a malloc'ed
 * *out[*out_len].  Returns 0 or an RPCREST_E* code.
 */
static int pack_status(grpc_status_code code, const char *message, const rpcrest_detail *details,
                       size_t n, uint8_t **out, size_t *out_len)
{
    size_t mlen = message ? strlen(message) : 0;
    size_t total = (code ? 1 + rp_pb_varint_size((uint64_t)code) : 0) + (mlen ? ld_size(mlen) : 0);
    for (size_t i = 0; i < n; i++) {
        size_t url_len, value_len;
        int rc = detail_sizes(&details[i], &url_len, &value_len);
        if (rc)
            return rc;
        total += ld_size(ld_size(url_len) + ld_size(value_len));
    }
    uint8_t *buf = malloc(total ? total : 1);
    if (!buf)
        return RPCREST_ENOMEM;
    uint8_t *p = buf;
    if (code) {
        *p++ = 1 << 3 | 0;
        p += rp_pb_put_varint(p, (uint64_t)code);
    }
    if (mlen)
        p = put_ld(p, 2, message, mlen);
    for (size_t i = 0; i < n; i++) {
        size_t url_len, value_len;
        detail_sizes(&details[i], &url_len, &value_len);
        p = put_any(p, &details[i], url_len, value_len);
    }
    if ((size_t)(p - buf) != total) { /* a message packed to another size */
        free(buf);
        return RPCREST_ETYPE;
    }
    *out = buf;
    *out_len = total;
    return 0;
}

int rpcrest_call_fail_details(rpcrest_call *c, rpcrest_code code, const char *message,
                              const rpcrest_detail *details, size_t n_details)
{
    grpc_status_code status = failure_code(code);
    /* the text finish() will send, so that google.rpc.Status says the same */
    char *text = host_status_message(message);
    uint8_t *blob = NULL;
    size_t len = 0;
    int rc = n_details && !details ? RPCREST_EINVAL
                                   : pack_status(status, text, details, n_details, &blob, &len);
    /* padded: the most the details take, whichever way the base64 is sent */
    if (rc == 0 && host_status_wire_len(text) + rp_metadata_base64_len(len, RP_BASE64_PADDED) >
                       HOST_STATUS_BUDGET) {
        free(blob); /* a client would refuse the whole status: send it without */
        rc = RPCREST_EINVAL;
    }
    if (rc == 0) {
        pthread_mutex_lock(&c->lock);
        if (!c->finished)
            rc = md_add(&c->trailing, DETAILS_KEY, strlen(DETAILS_KEY), blob, len);
        pthread_mutex_unlock(&c->lock);
        free(blob);
    }
    int frc = finish(c, status, text, NULL, 0);
    free(text);
    return frc ? frc : rc;
}

/* ---- server streaming -------------------------------------------------------- */

int rpcrest_call_send(rpcrest_call *c, const ProtobufCMessage *msg)
{
    if (c->method->kind != RPCREST_SERVER_STREAMING)
        return RPCREST_ESTATE;
    if (!same_type(msg, c->method->output))
        return RPCREST_ETYPE;
    char why[300] = "rpcrest_call_send: ";
    size_t at = strlen(why);
    if (!host_strings_valid(msg, why + at, sizeof(why) - at)) {
        log_mistake(c, why);
        return RPCREST_ETYPE;
    }
    size_t size = protobuf_c_message_get_packed_size(msg);
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    if (c->finished) {
        rc = RPCREST_EFINISHED;
    } else if (rpcrest_call_is_cancelled(c)) {
        rc = RPCREST_ECANCELLED;
    } else if (c->queued_n > 0 && (c->queued_n >= QUEUE_MAX_MESSAGES ||
                                   c->queued_bytes + size > QUEUE_MAX_BYTES)) {
        c->want_writable = 1;
        rc = RPCREST_EAGAIN;
    }
    if (rc) {
        pthread_mutex_unlock(&c->lock);
        return rc;
    }
    send_item *it = malloc(sizeof(*it));
    grpc_byte_buffer *bb = it ? pack(msg, size) : NULL;
    if (!bb) {
        pthread_mutex_unlock(&c->lock);
        free(it);
        return it ? RPCREST_ETYPE : RPCREST_ENOMEM;
    }
    it->next = NULL;
    it->bb = bb;
    it->bytes = size;
    if (c->tail)
        c->tail->next = it;
    else
        c->head = it;
    c->tail = it;
    c->queued_n++;
    c->queued_bytes += size;
    if (!c->in_flight)
        start_message(c);
    rc = c->in_flight || c->queued_n ? 0 : RPCREST_ECANCELLED;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int rpcrest_call_on_writable(rpcrest_call *c, rpcrest_writable_cb cb, void *arg)
{
    if (c->method->kind != RPCREST_SERVER_STREAMING)
        return RPCREST_ESTATE;
    pthread_mutex_lock(&c->lock);
    int rc = c->finished ? RPCREST_EFINISHED : 0;
    if (rc == 0) {
        c->writable_cb = cb;
        c->writable_arg = arg;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* ---- response metadata ------------------------------------------------------- */

/* Keys a plugin may not send: grpc-*, the other keys gRPC core 1.51 sends
 * its own way (content-type, te, user-agent, host) or not at all
 * (content-length), or that break the connection (grpclb_client_stats), and
 * HTTP/2's connection-specific headers.  Pseudo-headers (":path") are no
 * valid key.  The load-balancing keys gRPC core parses but sends as given
 * (lb-token, endpoint-load-metrics-bin, lb-cost-bin) are a server's to
 * send; see check_metadata for lb-cost-bin. */
static int reserved_key(const char *key)
{
    static const char *const reserved[] = {
        "content-type", "te", "user-agent", "host", "grpclb_client_stats", "content-length",
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
    };
    if (strncmp(key, "grpc-", 5) == 0)
        return 1;
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (strcmp(key, reserved[i]) == 0)
            return 1;
    }
    return 0;
}

/* 1 if key[klen] = value[vlen] keeps gRPC's rules for metadata
 * (rp_metadata.h); *why_key tells whether the key broke them. */
static int metadata_valid(const char *key, size_t klen, const void *value, size_t vlen,
                          int *why_key)
{
    *why_key = !rp_metadata_key_valid(key, klen);
    if (*why_key)
        return 0;
    return rp_metadata_key_binary(key, klen) || rp_metadata_text_valid(value, vlen);
}

/* 0 if key = value[len] may be sent, else RPCREST_EINVAL. */
static int check_metadata(const char *key, const void *value, size_t len)
{
    if (!key || (!value && len))
        return RPCREST_EINVAL;
    size_t klen = strlen(key);
    int why_key;
    if (klen > 255 || reserved_key(key) ||
        !metadata_valid(key, klen, value ? value : (const void *)"", len, &why_key))
        return RPCREST_EINVAL;
    /* gRPC core reads lb-cost-bin as a double (8 bytes) and a name, and
     * sends a shorter value as eight zero bytes */
    if (strcmp(key, "lb-cost-bin") == 0 && len < 8)
        return RPCREST_EINVAL;
    return 0;
}

static int add_metadata(rpcrest_call *c, int initial, const char *key, const void *value,
                        size_t len)
{
    int rc = check_metadata(key, value, len);
    if (rc)
        return rc;
    size_t klen = strlen(key);
    int bin = klen > 4 && strcmp(key + klen - 4, "-bin") == 0;
    /* -bin: unpadded base64, which gRPC core Huffman-codes; '+' takes 11
     * bits there, so at worst 11/8 of it (other values go out as they are) */
    size_t wire = klen + (bin ? ((len * 4 + 2) / 3 * 11 + 7) / 8 : len);
    if (wire > MD_ENTRY_WIRE_MAX)
        return RPCREST_EINVAL;
    md_list *l = initial ? &c->initial : &c->trailing;
    pthread_mutex_lock(&c->lock);
    if (c->finished)
        rc = RPCREST_EFINISHED;
    else if (initial && c->initial_sent)
        rc = RPCREST_ESTATE;
    else if (l->plugin_bytes + wire + 32 > MD_BLOCK_MAX)
        rc = RPCREST_EINVAL;
    else if ((rc = md_add(l, key, klen, value, len)) == 0)
        l->plugin_bytes += wire + 32;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int rpcrest_call_add_initial_metadata(rpcrest_call *c, const char *key, const void *value,
                                      size_t value_len)
{
    return add_metadata(c, 1, key, value, value_len);
}

int rpcrest_call_add_trailing_metadata(rpcrest_call *c, const char *key, const void *value,
                                       size_t value_len)
{
    return add_metadata(c, 0, key, value, value_len);
}

/* ---- a call arrives, events ------------------------------------------------- */

/*
 * GRPC_STATUS_OK if the request metadata keeps gRPC's rules, which the ABI
 * promises handlers, and HOST_REQUEST_METADATA_MAX; else INVALID_ARGUMENT,
 * naming the entry, or RESOURCE_EXHAUSTED, in why[whylen].  gRPC core 1.51
 * lets any bytes through: a newline in x-request-id would have reached a
 * plugin's log lines.
 */
static grpc_status_code check_request_metadata(const grpc_metadata_array *md, char *why,
                                               size_t whylen)
{
    size_t size = 0;
    for (size_t i = 0; i < md->count; i++) {
        const grpc_metadata *m = &md->metadata[i];
        const unsigned char *key = GRPC_SLICE_START_PTR(m->key);
        size_t klen = GRPC_SLICE_LENGTH(m->key), vlen = GRPC_SLICE_LENGTH(m->value);
        size += klen + 32 + /* a -bin value as the unpadded base64 clients send */
                (rp_metadata_key_binary((const char *)key, klen)
                     ? rp_metadata_base64_len(vlen, RP_BASE64_UNPADDED)
                     : vlen);
        int why_key;
        if (metadata_valid((const char *)key, klen, GRPC_SLICE_START_PTR(m->value), vlen,
                           &why_key))
            continue;
        char shown[160] = ""; /* the key, its bytes outside printable ASCII as \xNN */
        size_t n = 0;
        for (size_t k = 0; k < klen && n + 5 < sizeof(shown); k++)
            n += (size_t)snprintf(shown + n, sizeof(shown) - n,
                                  key[k] >= 0x20 && key[k] <= 0x7e && key[k] != '"' &&
                                          key[k] != '\\' ? "%c" : "\\x%02x", key[k]);
        snprintf(why, whylen, "request metadata \"%s\": %s", shown,
                 why_key ? "a key takes only 0-9 a-z - _ ."
                         : "a text value takes only printable ASCII (other bytes go in a key "
                           "ending in -bin)");
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    if (size > HOST_REQUEST_METADATA_MAX) {
        snprintf(why, whylen, "request metadata takes %zu bytes (name + value + 32 per entry), "
                 "more than %d", size, HOST_REQUEST_METADATA_MAX);
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    }
    return GRPC_STATUS_OK;
}

/* The request message from the payload (set: on_new answers a call without
 * one) into c->request.  Returns GRPC_STATUS_OK, or the status to fail the
 * call with after writing why into why[whylen]. */
static grpc_status_code decode(rpcrest_call *c, char *why, size_t whylen)
{
    grpc_slice all;
    grpc_status_code st = host_message_read(c->payload, c->q->max_message_bytes, &all, why,
                                            whylen);
    grpc_byte_buffer_destroy(c->payload); /* read: no need to hold it */
    c->payload = NULL;
    if (st != GRPC_STATUS_OK)
        return st;
    if (!rp_pb_depth_ok(c->method->input, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all))) {
        grpc_slice_unref(all);
        snprintf(why, whylen, "request %s nests messages more than %d deep",
                 c->method->input->name, RP_PB_MAX_DEPTH);
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    c->request = protobuf_c_message_unpack(c->method->input, NULL, GRPC_SLICE_LENGTH(all),
                                           GRPC_SLICE_START_PTR(all));
    grpc_slice_unref(all);
    if (!c->request) {
        snprintf(why, whylen, "cannot decode request as %s", c->method->input->name);
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    return host_strings_valid(c->request, why, whylen) ? GRPC_STATUS_OK
                                                       : GRPC_STATUS_INVALID_ARGUMENT;
}

/* The handler returned: the final batch it left waiting (finished in the
 * handler or, meanwhile, on another thread) goes out now, with
 * RECV_CLOSE_ON_SERVER in it; otherwise RECV_CLOSE_ON_SERVER starts alone
 * (unless it went when the stream arrived). */
static void handler_returned(rpcrest_call *c)
{
    int drop_send = 0, drop_close = 0;
    pthread_mutex_lock(&c->lock);
    c->in_handler = 0;
    if (c->final_pending && !c->head && !c->in_flight) {
        c->final_pending = 0;
        int with_close = !c->close_started;
        if (start_final(c) < 0) {
            drop_send = 1;
            if (with_close) /* break_call cancelled the call; nothing will complete */
                drop_close = 1;
        }
    } else if (!c->close_started) {
        drop_close = start_recv_close(c) < 0;
    }
    pthread_mutex_unlock(&c->lock);
    if (drop_send)
        call_release(c); /* REF_SEND */
    if (drop_close)
        call_release(c); /* REF_CLOSE */
}

static void on_new(rpcrest_call *c, int ok)
{
    if (!ok) { /* the server is shutting down: the request was cancelled */
        call_free(c);
        return;
    }
    c->arrived = 1;
    c->start_us = (uint64_t)rp_monotonic_us();
    host_metrics_call_begin(c->method->stats);
    host_live_call_begin(c->q->live);
    atomic_fetch_add_explicit(&c->q->calls->open[c->method->index], 1, memory_order_relaxed);
    if (host_call_request(c->q, c->method, c->registered) < 0) /* logged */
        host_queue_owe(c->q, HOST_OWED_CALL, (void *)c->method, c->registered);
    atomic_init(&c->refs, N_REFS);
    c->in_handler = 1; /* before anyone else can see c */
    if (c->method->kind == RPCREST_SERVER_STREAMING && start_recv_close(c) < 0)
        call_release(c); /* REF_CLOSE; a stream cannot fold it into one batch */
    char why[512];
    grpc_status_code st;
    if (!c->payload) { /* the client half-closed without sending one */
        finish(c, GRPC_STATUS_INTERNAL,
               "the call carried no complete request message (this method takes exactly one)",
               NULL, 0);
    } else if ((st = check_request_metadata(&c->md, why, sizeof(why))) == GRPC_STATUS_OK &&
               (st = decode(c, why, sizeof(why))) == GRPC_STATUS_OK) {
        plugin_runs(c, 0, (int64_t)c->start_us);
        c->method->handler(c, c->request, c->method->plugin->service_data);
        plugin_returned(c);
    } else {
        finish(c, st, why, NULL, 0);
    }
    handler_returned(c);
    call_release(c); /* REF_HANDLER */
}

/* A streamed message's batch completed.  REF_SEND is held while a message
 * is in flight, so c is alive on entry. */
static void on_message(rpcrest_call *c, int ok)
{
    call_hold(c);
    pthread_mutex_lock(&c->lock);
    send_item *it = c->in_flight;
    c->in_flight = NULL;
    if (it) {
        c->queued_n--;
        c->queued_bytes -= it->bytes;
        grpc_byte_buffer_destroy(it->bb);
        free(it);
    }
    if (!ok) { /* the client is gone: nothing more will go out */
        atomic_store(&c->cancelled, 1);
        drop_waiting(c);
    }
    int release = advance(c);
    int fire = take_writable(c);
    unlock_and_notify(c, fire, release);
    call_release(c);
}

static void on_closed(rpcrest_call *c, int ok)
{
    int cancelled = !ok || c->close_cancelled;
    if (cancelled) {
        atomic_store(&c->cancelled, 1);
        pthread_mutex_lock(&c->lock);
        drop_waiting(c);
        int release = advance(c);
        int fire = take_writable(c);
        unlock_and_notify(c, fire, release);
    }
    call_release(c); /* REF_CLOSE */
}

/* The final batch completed.  With RECV_CLOSE_ON_SERVER in it, it also
 * says whether the client cancelled (for the call's metrics); nothing is
 * left to send then. */
static void on_sent(rpcrest_call *c, int ok)
{
    if (c->close_in_final) {
        if (!ok || c->close_cancelled)
            atomic_store(&c->cancelled, 1);
        call_release(c); /* REF_CLOSE */
    }
    call_release(c); /* REF_SEND */
}

void host_call_on_event(host_tag *tag, int ok)
{
    switch (tag->kind) {
    case HOST_TAG_CALL_NEW:
        on_new(HOST_RECORD_OF(tag, rpcrest_call, on_new), ok);
        break;
    case HOST_TAG_CALL_CLOSED:
        on_closed(HOST_RECORD_OF(tag, rpcrest_call, on_closed), ok);
        break;
    case HOST_TAG_CALL_MESSAGE:
        on_message(HOST_RECORD_OF(tag, rpcrest_call, on_message), ok);
        break;
    case HOST_TAG_CALL_SENT: /* !ok: the client is gone; nothing to tell anyone */
        on_sent(HOST_RECORD_OF(tag, rpcrest_call, on_sent), ok);
        break;
    default:
        rp_log("host_call_on_event: unexpected tag kind %d", (int)tag->kind);
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

size_t rpcrest_call_metadata_count(const rpcrest_call *c)
{
    return c->md.count;
}

int rpcrest_call_metadata_at(const rpcrest_call *c, size_t i, rpcrest_metadata *out)
{
    if (!out || i >= c->md.count)
        return RPCREST_EINVAL;
    const grpc_metadata *m = &c->md.metadata[i];
    out->key = (const char *)GRPC_SLICE_START_PTR(m->key);
    out->key_len = GRPC_SLICE_LENGTH(m->key);
    out->value = (const char *)GRPC_SLICE_START_PTR(m->value);
    out->value_len = GRPC_SLICE_LENGTH(m->value);
    return 0;
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

const char *rpcrest_call_request_id(const rpcrest_call *c)
{
    /* the metadata values are not NUL-terminated: the first id, copied once
     * into the call, if it is one word fit for log lines (the gateway's
     * rule: a client could otherwise write `x rpcrestd: event=…` into the
     * host's lines and the plugins') */
    char *id = atomic_load_explicit(&((rpcrest_call *)c)->request_id, memory_order_acquire);
    if (id)
        return *id ? id : NULL;
    size_t len = 0;
    const char *v = rpcrest_call_metadata(c, "x-request-id", &len);
    int valid = v && rp_request_id_valid(v, len);
    char *mine = malloc(valid ? len + 1 : 1);
    if (!mine)
        return NULL;
    if (valid)
        memcpy(mine, v, len);
    mine[valid ? len : 0] = '\0';
    char *expected = NULL;
    if (!atomic_compare_exchange_strong(&((rpcrest_call *)c)->request_id, &expected, mine)) {
        free(mine);
        mine = expected;
    }
    return *mine ? mine : NULL;
}

const char *rpcrest_call_strerror(int rc)
{
    switch (rc) {
    case 0: return "success";
    case RPCREST_EFINISHED: return "the call was already finished";
    case RPCREST_EAGAIN: return "the send queue is full";
    case RPCREST_ECANCELLED: return "the call was cancelled";
    case RPCREST_EINVAL: return "invalid argument";
    case RPCREST_ESTATE: return "not allowed in the call's present state or for its method";
    case RPCREST_ETYPE: return "the message is not of the method's output type or cannot be "
                               "serialized";
    case RPCREST_ENOMEM: return "out of memory";
    }
    return "unknown rpcrest error";
}
