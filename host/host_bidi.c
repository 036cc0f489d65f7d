/*
 * host_bidi.c -- the streaming-call state machine of the host's own services.
 *
 * Batches of one call: RECV_CLOSE_ON_SERVER (started with the call), one
 * RECV_MESSAGE at a time, and one send at a time ([initial metadata]
 * message, [initial metadata] message + status, or [initial metadata]
 * status).  Every started batch holds a reference; the record is freed when
 * the last one completes, which is after RECV_CLOSE_ON_SERVER, so the call
 * is over by then.  `lock` guards the state and serializes
 * grpc_call_start_batch, since host_bidi_send may come from any thread.
 * Plugins' calls have their own state machine (host_call.c), which answers
 * the same gRPC events for another API: a fix to cancellation or batching
 * in one is likely due in the other.
 */
#include "host_bidi.h"

#include <grpc/byte_buffer.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "host_message.h"
#include "rp_log.h"

typedef struct bidi_msg {
    struct bidi_msg *next;
    grpc_byte_buffer *bb;
} bidi_msg;

struct host_bidi {
    host_tag on_new;    /* the request matched a call */
    host_tag on_read;   /* a RECV_MESSAGE completed */
    host_tag on_sent;   /* a send batch completed */
    host_tag on_closed; /* RECV_CLOSE_ON_SERVER completed */
    const host_queue *q;
    host_bidi_method *m;
    pthread_mutex_t lock;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *recv;  /* RECV_MESSAGE's out-parameter */
    int close_cancelled;     /* RECV_CLOSE_ON_SERVER's out-parameter */
    /* everything below under lock */
    int refs;                /* batches in flight (+1 while a callback runs) */
    int in_callback;         /* a callback of this call is running */
    int want_read;           /* start a read once the queue is empty */
    int read_in_flight;
    int send_in_flight;
    int sent_initial_md;
    int finishing;           /* host_bidi_finish was called */
    int status_started;      /* the status batch was started */
    int over;                /* cancelled, a batch failed, or closed: send nothing */
    grpc_status_code code;
    char *details;
    bidi_msg *head, *tail;   /* replies not yet started */
    grpc_byte_buffer *sending; /* the reply of the send in flight */
    void *user;
};

static void drop_queue(host_bidi *b)
{
    while (b->head) {
        bidi_msg *n = b->head;
        b->head = n->next;
        grpc_byte_buffer_destroy(n->bb);
        free(n);
    }
    b->tail = NULL;
}

static void bidi_free(host_bidi *b, int started)
{
    host_live *live = b->q->live;
    if (started && b->m->on_done)
        b->m->on_done(b);
    drop_queue(b);
    if (b->sending)
        grpc_byte_buffer_destroy(b->sending);
    if (b->recv)
        grpc_byte_buffer_destroy(b->recv);
    free(b->details);
    grpc_metadata_array_destroy(&b->md);
    if (b->call)
        grpc_call_unref(b->call);
    pthread_mutex_destroy(&b->lock);
    free(b);
    host_live_release(live);
}

/* Drops one reference; called with the lock held, returns with it released
 * (and b possibly freed). */
static void unref_unlock(host_bidi *b)
{
    int last = --b->refs == 0;
    pthread_mutex_unlock(&b->lock);
    if (last)
        bidi_free(b, 1);
}

int host_bidi_register(host_bidi_method *m, grpc_server *server)
{
    m->registered = grpc_server_register_method(server, m->path, NULL, GRPC_SRM_PAYLOAD_NONE, 0);
    if (!m->registered) {
        rp_log("%s: grpc_server_register_method failed", m->path);
        return -1;
    }
    return 0;
}

int host_bidi_request(const host_queue *q, host_bidi_method *m)
{
    host_bidi *b = calloc(1, sizeof(*b));
    if (!b) {
        rp_log("%s: cannot request calls: out of memory", m->path);
        return -1;
    }
    int rc = pthread_mutex_init(&b->lock, NULL);
    if (rc) {
        rp_log("%s: pthread_mutex_init: %s", m->path, strerror(rc));
        free(b);
        return -1;
    }
    b->on_new.kind = HOST_TAG_BIDI_NEW;
    b->on_read.kind = HOST_TAG_BIDI_READ;
    b->on_sent.kind = HOST_TAG_BIDI_SENT;
    b->on_closed.kind = HOST_TAG_BIDI_CLOSED;
    b->q = q;
    b->m = m;
    grpc_metadata_array_init(&b->md);
    host_live_hold(q->live);
    grpc_call_error err = grpc_server_request_registered_call(
        q->server, m->registered, &b->call, &b->deadline, &b->md, NULL, q->cq, q->cq,
        &b->on_new);
    if (err != GRPC_CALL_OK) {
        rp_log("%s: grpc_server_request_registered_call: error %d", m->path, (int)err);
        bidi_free(b, 0);
        return -1;
    }
    return 0;
}

/* ---- starting batches (lock held) ----------------------------------------- */

/* Starts ops with `tag`, taking a reference for it.  0, or -1 after logging
 * (the call is then treated as over). */
static int start_locked(host_bidi *b, grpc_op *ops, size_t n, host_tag *tag, const char *what)
{
    grpc_call_error err = grpc_call_start_batch(b->call, ops, n, tag, NULL);
    if (err != GRPC_CALL_OK) {
        rp_log("%s: grpc_call_start_batch(%s): error %d", b->m->path, what, (int)err);
        b->over = 1;
        grpc_call_cancel(b->call, NULL); /* so that RECV_CLOSE_ON_SERVER completes */
        return -1;
    }
    b->refs++;
    return 0;
}

static void start_read_locked(host_bidi *b)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &b->recv;
    if (start_locked(b, &op, 1, &b->on_read, "RECV_MESSAGE") == 0)
        b->read_in_flight = 1;
}

/* Starts the next send if none is in flight: the next queued reply (with
 * the status if it is the last one and finish was called), or the status
 * alone; with nothing to send, the next read if one is wanted. */
static void pump_locked(host_bidi *b)
{
    if (b->over || b->in_callback || b->send_in_flight || b->status_started)
        return;
    grpc_op ops[3];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    if (b->head || b->finishing) {
        if (!b->sent_initial_md)
            ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        if (b->head) {
            bidi_msg *msg = b->head;
            b->head = msg->next;
            if (!b->head)
                b->tail = NULL;
            b->sending = msg->bb;
            free(msg);
            ops[n].op = GRPC_OP_SEND_MESSAGE;
            ops[n++].data.send_message.send_message = b->sending;
        }
        grpc_slice details = grpc_empty_slice();
        int with_status = b->finishing && !b->head;
        if (with_status) {
            if (b->details)
                details = grpc_slice_from_copied_string(b->details);
            ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
            ops[n].data.send_status_from_server.status = b->code;
            ops[n++].data.send_status_from_server.status_details = b->details ? &details : NULL;
        }
        if (start_locked(b, ops, n, &b->on_sent, "send") == 0) {
            b->send_in_flight = 1;
            b->sent_initial_md = 1;
            b->status_started = with_status;
        }
        grpc_slice_unref(details); /* the call took its own reference */
        return;
    }
    if (b->want_read && !b->read_in_flight) {
        b->want_read = 0;
        start_read_locked(b);
    }
}

/* ---- the service's side ------------------------------------------------- */

int host_bidi_send(host_bidi *b, const uint8_t *msg, size_t len)
{
    bidi_msg *node = malloc(sizeof(*node));
    if (!node) {
        rp_log("%s: cannot send a reply: out of memory", b->m->path);
        host_bidi_finish(b, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return -1;
    }
    grpc_slice slice = grpc_slice_from_copied_buffer((const char *)msg, len);
    node->bb = grpc_raw_byte_buffer_create(&slice, 1);
    node->next = NULL;
    grpc_slice_unref(slice);
    pthread_mutex_lock(&b->lock);
    if (b->over || b->finishing || b->refs == 0) {
        pthread_mutex_unlock(&b->lock);
        grpc_byte_buffer_destroy(node->bb);
        free(node);
        return -1;
    }
    if (b->tail)
        b->tail->next = node;
    else
        b->head = node;
    b->tail = node;
    pump_locked(b);
    pthread_mutex_unlock(&b->lock);
    return 0;
}

int host_bidi_finish(host_bidi *b, grpc_status_code code, const char *details)
{
    char *copy = details ? strdup(details) : NULL;
    pthread_mutex_lock(&b->lock);
    if (b->over || b->finishing || b->refs == 0) {
        pthread_mutex_unlock(&b->lock);
        free(copy);
        return -1;
    }
    b->finishing = 1;
    b->code = code;
    b->details = copy;
    pump_locked(b);
    pthread_mutex_unlock(&b->lock);
    return 0;
}

void *host_bidi_ctx(const host_bidi *b)
{
    return b->m->ctx;
}

void **host_bidi_user(host_bidi *b)
{
    return &b->user;
}

int host_bidi_sending(host_bidi *b)
{
    pthread_mutex_lock(&b->lock);
    int sending = !b->over && (b->head || b->send_in_flight || (b->finishing &&
                                                                 !b->status_started));
    pthread_mutex_unlock(&b->lock);
    return sending;
}

/* ---- events ------------------------------------------------------------- */

static void on_new(host_bidi *b, int ok)
{
    if (!ok) { /* the server is shutting down: the request was cancelled */
        bidi_free(b, 0);
        return;
    }
    if (host_bidi_request(b->q, b->m) < 0) /* the replacement; failure is logged */
        host_queue_owe(b->q, HOST_OWED_BIDI, b->m, NULL);
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &b->close_cancelled;
    pthread_mutex_lock(&b->lock);
    b->refs = 1; /* this function's, until it returns */
    if (start_locked(b, &op, 1, &b->on_closed, "RECV_CLOSE_ON_SERVER") == 0)
        start_read_locked(b);
    unref_unlock(b);
}

/* Runs one callback of the call with in_callback set, then starts what it
 * queued.  The lock is held on entry and on return. */
static void run_callback_locked(host_bidi *b, grpc_byte_buffer *msg, int half_close)
{
    b->in_callback = 1;
    pthread_mutex_unlock(&b->lock);
    if (msg) {
        grpc_slice all;
        char why[256];
        grpc_status_code st = host_message_read(msg, b->q->max_message_bytes, &all, why,
                                                sizeof(why));
        if (st == GRPC_STATUS_OK) {
            b->m->on_request(b, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all));
            grpc_slice_unref(all);
        } else {
            host_bidi_finish(b, st, why);
        }
    } else if (half_close && b->m->on_half_close) {
        b->m->on_half_close(b);
    } else if (half_close) {
        host_bidi_finish(b, GRPC_STATUS_OK, NULL);
    } else {
        host_bidi_finish(b, GRPC_STATUS_INVALID_ARGUMENT, "no request message");
    }
    pthread_mutex_lock(&b->lock);
    b->in_callback = 0;
}

static void on_read(host_bidi *b, int ok)
{
    pthread_mutex_lock(&b->lock);
    grpc_byte_buffer *msg = b->recv;
    b->recv = NULL;
    b->read_in_flight = 0;
    if (!ok) {
        b->over = 1; /* cancelled or broken: RECV_CLOSE_ON_SERVER will tell */
    } else if (!b->over) {
        run_callback_locked(b, msg, b->m->stream_requests && !msg);
        if (msg && b->m->stream_requests && !b->finishing)
            b->want_read = 1;
        pump_locked(b);
    }
    unref_unlock(b);
    if (msg)
        grpc_byte_buffer_destroy(msg);
}

static void on_sent(host_bidi *b, int ok)
{
    pthread_mutex_lock(&b->lock);
    if (b->sending) /* NULL after a status-only batch */
        grpc_byte_buffer_destroy(b->sending);
    b->sending = NULL;
    b->send_in_flight = 0;
    if (!ok) { /* the client is gone */
        b->over = 1;
        drop_queue(b);
    }
    pump_locked(b);
    if (b->m->on_sent) { /* this batch's reference keeps b meanwhile */
        pthread_mutex_unlock(&b->lock);
        b->m->on_sent(b);
        pthread_mutex_lock(&b->lock);
    }
    unref_unlock(b);
}

static void on_closed(host_bidi *b)
{
    pthread_mutex_lock(&b->lock);
    b->over = 1; /* sent the status, or cancelled: nothing more goes out */
    drop_queue(b);
    unref_unlock(b);
}

void host_bidi_on_event(host_tag *tag, int ok)
{
    switch (tag->kind) {
    case HOST_TAG_BIDI_NEW:
        on_new(HOST_RECORD_OF(tag, host_bidi, on_new), ok);
        break;
    case HOST_TAG_BIDI_READ:
        on_read(HOST_RECORD_OF(tag, host_bidi, on_read), ok);
        break;
    case HOST_TAG_BIDI_SENT:
        on_sent(HOST_RECORD_OF(tag, host_bidi, on_sent), ok);
        break;
    case HOST_TAG_BIDI_CLOSED:
        on_closed(HOST_RECORD_OF(tag, host_bidi, on_closed));
        break;
    default:
        rp_log("host_bidi_on_event: unexpected tag kind %d", (int)tag->kind);
        break;
    }
}
