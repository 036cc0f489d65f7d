/*
 * gw_stream.c -- streaming calls to the upstream (server, client and bidi
 * streaming).
 *
 * Batches: one "start" batch (send metadata, receive initial metadata), a
 * chain of send batches (one request message each, the last one with the
 * half-close), one RECV_STATUS_ON_CLIENT batch, and at most one
 * RECV_MESSAGE batch at a time, started only when the receiver asks for the
 * next message: the receiver's pace is the stream's pace, so nothing piles
 * up here.  A mutex orders events; a reference count (one per outstanding
 * batch, one for the receiver) decides when the record is freed.
 */
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>
#include <grpc/support/string_util.h>
#include <stdlib.h>
#include <string.h>

#include "gw_upstream.h"
#include "gw_upstream_int.h"

struct gw_stream {
    gw_up_tag start_tag, message_tag, status_tag, send_tag;
    gw_upstream *up;
    grpc_call *call;
    gw_up_flight flight;
    gw_stream_handler handler;
    void *arg;
    pthread_mutex_t lock;
    int refs;            /* outstanding batches + the receiver */
    int released;        /* the receiver has let go: no more events */
    int first_sent;      /* the first event (with headers) was delivered */
    int reading;         /* a RECV_MESSAGE batch is outstanding */
    int ended;           /* the message stream ended */
    int have_status;
    int done_sent;
    grpc_metadata *send_md;
    size_t n_send_md;
    int slot;                   /* its channel in up->calls, or -1 */
    gw_request_messages requests; /* freed once the last is sent */
    size_t next_send;
    grpc_byte_buffer *sending;  /* the message on its way; freed once sent */
    grpc_byte_buffer *recv;
    grpc_metadata_array initial_md, trailing_md;
    grpc_status_code status;
    grpc_slice details;
    const char *error_string;
};

static void stream_free(gw_stream *s)
{
    gw_up_free_send_metadata(s->send_md, s->n_send_md);
    gw_request_messages_free(&s->requests);
    if (s->sending)
        grpc_byte_buffer_destroy(s->sending);
    if (s->recv)
        grpc_byte_buffer_destroy(s->recv);
    grpc_metadata_array_destroy(&s->initial_md);
    grpc_metadata_array_destroy(&s->trailing_md);
    grpc_slice_unref(s->details);
    gpr_free((void *)s->error_string);
    if (s->slot >= 0)
        gw_up_release_channel(s->up, s->slot);
    if (s->call)
        grpc_call_unref(s->call);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Drops one reference; the caller holds the lock, which this releases. */
static void unref_unlock(gw_stream *s)
{
    int last = --s->refs == 0;
    pthread_mutex_unlock(&s->lock);
    if (last)
        stream_free(s);
}

/* A result with the headers if this is the first event. */
static gw_upstream_result *new_result(gw_stream *s)
{
    gw_upstream_result *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->reply_slice = grpc_empty_slice();
    if (!s->first_sent) {
        r->initial = gw_up_copy_metadata(&s->initial_md, &r->n_initial);
        s->first_sent = 1;
    }
    return r;
}

/* Delivers done once the status is in and no message is left to read.
 * Called with the lock held. */
static void maybe_done(gw_stream *s)
{
    if (s->done_sent || !s->have_status || s->reading ||
        (!s->ended && s->status == GRPC_STATUS_OK))
        return;
    s->done_sent = 1;
    if (s->released)
        return;
    gw_upstream_result *r = new_result(s);
    if (r) {
        r->status = s->status;
        r->message = gw_up_status_message(s->up, s->status, s->details, s->error_string);
        r->trailing = gw_up_copy_metadata(&s->trailing_md, &r->n_trailing);
    }
    s->handler.on_done(s->arg, r);
}

static void start_read(gw_stream *s)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &s->recv;
    s->reading = 1;
    s->refs++;
    if (grpc_call_start_batch(s->call, &op, 1, &s->message_tag, NULL) != GRPC_CALL_OK) {
        s->reading = 0;
        s->ended = 1;
        s->refs--;
    }
}

static void message_complete(gw_up_tag *tag, int success)
{
    gw_stream *s = (gw_stream *)((char *)tag - offsetof(gw_stream, message_tag));
    pthread_mutex_lock(&s->lock);
    s->reading = 0;
    grpc_byte_buffer *bb = s->recv;
    s->recv = NULL;
    if (!success || !bb) {
        s->ended = 1;
        maybe_done(s);
    } else if (!s->released) {
        gw_upstream_result *r = new_result(s);
        grpc_byte_buffer_reader reader;
        if (r && grpc_byte_buffer_reader_init(&reader, bb)) {
            r->reply_slice = grpc_byte_buffer_reader_readall(&reader);
            grpc_byte_buffer_reader_destroy(&reader);
            r->reply = GRPC_SLICE_START_PTR(r->reply_slice);
            r->reply_len = GRPC_SLICE_LENGTH(r->reply_slice);
        }
        s->handler.on_message(s->arg, r);
        if (s->handler.read_ahead)
            start_read(s); /* a single reply: no pacing to do */
    }
    if (bb)
        grpc_byte_buffer_destroy(bb);
    unref_unlock(s);
}

static void status_complete(gw_up_tag *tag, int success)
{
    gw_stream *s = (gw_stream *)((char *)tag - offsetof(gw_stream, status_tag));
    gw_up_untrack(s->up, &s->flight);
    pthread_mutex_lock(&s->lock);
    s->have_status = 1;
    if (!success) {
        s->status = GRPC_STATUS_UNAVAILABLE;
        grpc_slice_unref(s->details);
        s->details = grpc_slice_from_static_string("the call to the upstream failed");
    }
    maybe_done(s);
    unref_unlock(s);
}

static void start_complete(gw_up_tag *tag, int success)
{
    gw_stream *s = (gw_stream *)((char *)tag - offsetof(gw_stream, start_tag));
    pthread_mutex_lock(&s->lock);
    if (success && !s->released)
        start_read(s);
    else
        s->ended = 1;
    maybe_done(s);
    unref_unlock(s);
}

/* Request message i as a byte buffer: the buffer itself, moved, when it
 * holds the one message; else a copy of its bytes.  NULL when out of memory. */
static grpc_byte_buffer *request_message(gw_request_messages *r, size_t i)
{
    if (r->n == 1)
        return gw_up_byte_buffer_take(&r->data);
    size_t start = i ? r->ends[i - 1] : 0;
    grpc_slice slice = grpc_slice_from_copied_buffer((const char *)r->data.data + start,
                                                     r->ends[i] - start);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice); /* the buffer holds its own reference */
    return bb;
}

/* Sends the next request message (the last one with the half-close).
 * Called with the lock held. */
static void send_next(gw_stream *s)
{
    grpc_op ops[2];
    memset(ops, 0, sizeof(ops));
    size_t n = 0;
    if (s->next_send < s->requests.n) {
        if (!(s->sending = request_message(&s->requests, s->next_send++))) {
            grpc_call_cancel(s->call, NULL);
            return;
        }
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = s->sending;
    }
    if (s->next_send == s->requests.n) {
        gw_request_messages_free(&s->requests); /* all in byte buffers now */
        ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    }
    s->refs++;
    if (grpc_call_start_batch(s->call, ops, n, &s->send_tag, NULL) != GRPC_CALL_OK) {
        s->refs--;
        grpc_call_cancel(s->call, NULL);
    }
}

static void send_complete(gw_up_tag *tag, int success)
{
    gw_stream *s = (gw_stream *)((char *)tag - offsetof(gw_stream, send_tag));
    pthread_mutex_lock(&s->lock);
    if (s->sending) { /* free what is on the wire now */
        grpc_byte_buffer_destroy(s->sending);
        s->sending = NULL;
    }
    if (success && s->next_send < s->requests.n)
        send_next(s); /* the half-close travels with the last message */
    unref_unlock(s);
}

static int start_batches(gw_stream *s)
{
    grpc_op ops[2];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = s->n_send_md;
    ops[0].data.send_initial_metadata.metadata = s->send_md;
    ops[1].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[1].data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
    if (grpc_call_start_batch(s->call, ops, 2, &s->start_tag, NULL) != GRPC_CALL_OK)
        return -1;
    s->refs++;
    grpc_op st;
    memset(&st, 0, sizeof(st));
    st.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    st.data.recv_status_on_client.status = &s->status;
    st.data.recv_status_on_client.status_details = &s->details;
    st.data.recv_status_on_client.error_string = &s->error_string;
    st.data.recv_status_on_client.trailing_metadata = &s->trailing_md;
    gw_up_track(s->up, &s->flight, s->call);
    if (grpc_call_start_batch(s->call, &st, 1, &s->status_tag, NULL) != GRPC_CALL_OK) {
        gw_up_untrack(s->up, &s->flight);
        grpc_call_cancel(s->call, NULL); /* the start batch still completes */
        return -1;
    }
    s->refs++;
    send_next(s); /* the request messages follow the metadata */
    return 0;
}

int gw_request_messages_end(gw_request_messages *m)
{
    if (m->data.oom)
        return -1;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        size_t *grown = realloc(m->ends, cap * sizeof(*grown));
        if (!grown)
            return -1;
        m->ends = grown;
        m->cap = cap;
    }
    m->ends[m->n++] = m->data.len;
    return 0;
}

void gw_request_messages_free(gw_request_messages *m)
{
    gw_buf_free(&m->data);
    free(m->ends);
    *m = (gw_request_messages)GW_REQUEST_MESSAGES_INIT;
}

gw_stream *gw_upstream_stream(gw_upstream *up, const gw_method *method,
                              gw_request_messages *requests, const gw_metadata *md, size_t n_md,
                              int64_t timeout_ms, const gw_stream_handler *handler, void *arg)
{
    gw_stream *s = calloc(1, sizeof(*s));
    if (!s) {
        gw_request_messages_free(requests);
        return NULL;
    }
    s->requests = *requests; /* taken over */
    *requests = (gw_request_messages)GW_REQUEST_MESSAGES_INIT;
    s->start_tag.complete = start_complete;
    s->message_tag.complete = message_complete;
    s->status_tag.complete = status_complete;
    s->send_tag.complete = send_complete;
    s->up = up;
    s->handler = *handler;
    s->arg = arg;
    s->details = grpc_empty_slice();
    pthread_mutex_init(&s->lock, NULL);
    grpc_metadata_array_init(&s->initial_md);
    grpc_metadata_array_init(&s->trailing_md);
    s->call = gw_up_create_call(up, method, timeout_ms, &s->slot);
    if (!s->call)
        s->slot = -1;
    s->send_md = gw_up_send_metadata(md, n_md);
    s->n_send_md = s->send_md ? n_md : 0;
    s->refs = 1; /* the receiver's */
    pthread_mutex_lock(&s->lock);
    if (!s->call || !s->send_md || start_batches(s) < 0) {
        s->released = 1; /* nobody is told anything */
        unref_unlock(s);
        return NULL;
    }
    pthread_mutex_unlock(&s->lock);
    return s;
}

void gw_stream_next(gw_stream *s)
{
    pthread_mutex_lock(&s->lock);
    if (!s->reading && !s->ended && !s->released)
        start_read(s);
    maybe_done(s);
    pthread_mutex_unlock(&s->lock);
}

void gw_stream_cancel(gw_stream *s)
{
    grpc_call_cancel(s->call, NULL);
}

void gw_stream_release(gw_stream *s)
{
    pthread_mutex_lock(&s->lock);
    s->released = 1;
    if (!s->done_sent)
        grpc_call_cancel(s->call, NULL);
    unref_unlock(s);
}
