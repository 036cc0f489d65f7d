/*
 * gw_upstream.c -- gRPC C core client for the gateway: channel, registered
 * calls, completion-queue threads, in-flight bookkeeping for shutdown.
 *
 * A unary call is two batches (send metadata, message, half-close, receive
 * metadata and message; receive the status), and a third that reads past
 * the one message: gRPC core holds the status behind a message nobody
 * reads, so a reply of two messages would otherwise wait for its deadline.
 * The CQ thread that completes the last batch turns the up_call record
 * into a gw_upstream_result and hands it over.
 */
#include "gw_upstream.h"
#include "gw_upstream_int.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/string_util.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw_limits.h"
#include "gw_status.h"
#include "rp_log.h"
#include "rp_time.h"

/* What the channel may hold at once, all calls together.  gRPC core reads a
 * reply message whole, as long as its prefix says (up to 4 GiB), before it
 * compares it with GW_REPLY_MAX_BYTES: an upstream declaring a huge message
 * would make the gateway hold all it sends.  Beyond the quota gRPC core
 * resets streams (ENHANCE_YOUR_CALM) instead of reading on.  Twice the
 * largest reply, so that one of those still fits beside the others. */
#define QUOTA_BYTES (2 * (size_t)GW_REPLY_MAX_BYTES)
/* What the channel reads ahead of each stream, with BDP probing off: gRPC
 * core otherwise widened the window of a stream whose REST client had
 * stopped reading to megabytes, and held them (3 MB a paused client; past
 * the quota it reset other clients' streams, "Buffers full").  A message
 * the gateway asks for still comes whole: the transport opens the window
 * to its size. */
#define STREAM_WINDOW_BYTES (64 << 10)
/* A connection with calls on it and nothing read for this long is pinged:
 * the shortest interval servers (gRPC core's, grpc-go's) accept by default;
 * pings more often than that count against the client. */
#define KEEPALIVE_PING_MS (5 * 60 * 1000)

typedef struct up_call {
    gw_up_tag tag;            /* the batch that sends and reads the message */
    gw_up_tag status_tag;     /* the batch that receives the status */
    gw_up_tag extra_tag;      /* the read past the message */
    atomic_int batches;       /* started and not complete; the last one frees */
    gw_upstream *up;
    grpc_call *call;
    grpc_op ops[6];
    grpc_op extra_op;
    grpc_metadata *send_md; /* request metadata; slices owned here */
    size_t n_send_md;
    grpc_metadata_array initial_md;
    grpc_metadata_array trailing_md;
    grpc_byte_buffer *send;
    grpc_byte_buffer *recv;
    grpc_byte_buffer *extra;  /* a second message, which refuses the reply */
    int status_lost;          /* the status batch failed: no status came */
    grpc_status_code status;
    grpc_slice details;
    const char *error_string;
    gw_upstream_done done;
    void *arg;
    gw_up_flight flight;
    int slot; /* of its channel in up->calls, or -1 */
} up_call;

void gw_up_track(gw_upstream *up, gw_up_flight *f, grpc_call *call)
{
    f->call = call;
    pthread_mutex_lock(&up->lock);
    f->prev = NULL;
    f->next = up->in_flight;
    if (up->in_flight)
        up->in_flight->prev = f;
    up->in_flight = f;
    pthread_mutex_unlock(&up->lock);
}

void gw_up_untrack(gw_upstream *up, gw_up_flight *f)
{
    pthread_mutex_lock(&up->lock);
    if (f->prev)
        f->prev->next = f->next;
    else
        up->in_flight = f->next;
    if (f->next)
        f->next->prev = f->prev;
    pthread_mutex_unlock(&up->lock);
}

static void call_free(up_call *c)
{
    gw_up_free_send_metadata(c->send_md, c->n_send_md);
    grpc_metadata_array_destroy(&c->initial_md);
    grpc_metadata_array_destroy(&c->trailing_md);
    if (c->send)
        grpc_byte_buffer_destroy(c->send);
    if (c->recv)
        grpc_byte_buffer_destroy(c->recv);
    if (c->extra)
        grpc_byte_buffer_destroy(c->extra);
    grpc_slice_unref(c->details);
    gpr_free((void *)c->error_string);
    if (c->call)
        grpc_call_unref(c->call);
    if (c->slot >= 0)
        gw_up_release_channel(c->up, c->slot);
    free(c);
}

char *gw_up_status_message(gw_upstream *up, grpc_status_code status, grpc_slice details,
                           const char *error_string)
{
    char *text = grpc_slice_to_c_string(details);
    char safe[512];
    /* gRPC core says "Error received from peer" of a status the upstream sent */
    if (status != GRPC_STATUS_UNAVAILABLE || !text || !error_string ||
        strstr(error_string, "Error received from peer") ||
        !gw_status_connect_failure(text, up->target, safe, sizeof(safe)))
        return text;
    int64_t now = rp_monotonic_ms();
    int64_t last = atomic_load_explicit(&up->connect_failure_logged_ms, memory_order_relaxed);
    if ((!last || now - last >= 10000) &&
        atomic_compare_exchange_strong(&up->connect_failure_logged_ms, &last, now))
        rp_log("upstream %s: %s (its calls through gRPC core fail with UNAVAILABLE until it "
               "answers)", up->target, text);
    gpr_free(text);
    return gpr_strdup(safe);
}

/* Copies received metadata into gw_metadata entries (NULL on ENOMEM). */
gw_metadata *gw_up_copy_metadata(const grpc_metadata_array *arr, size_t *n)
{
    *n = 0;
    gw_metadata *out = calloc(arr->count ? arr->count : 1, sizeof(*out));
    if (!out)
        return NULL;
    for (size_t i = 0; i < arr->count; i++) {
        const grpc_metadata *m = &arr->metadata[i];
        out[i].key = grpc_slice_to_c_string(m->key);
        out[i].value_len = GRPC_SLICE_LENGTH(m->value);
        out[i].value = gpr_malloc(out[i].value_len + 1);
        memcpy(out[i].value, GRPC_SLICE_START_PTR(m->value), out[i].value_len);
        out[i].value[out[i].value_len] = '\0';
        (*n)++;
    }
    return out;
}

void gw_metadata_free(gw_metadata *md, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        gpr_free(md[i].key);
        gpr_free(md[i].value);
    }
    free(md);
}

/* Turns a finished call into a result the receiver owns. */
static gw_upstream_result *make_result(up_call *c)
{
    gw_upstream_result *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->initial = gw_up_copy_metadata(&c->initial_md, &r->n_initial);
    r->trailing = gw_up_copy_metadata(&c->trailing_md, &r->n_trailing);
    r->status = c->status;
    r->message = gw_up_status_message(c->up, c->status, c->details, c->error_string);
    r->reply_slice = grpc_empty_slice();
    if (c->status == GRPC_STATUS_OK && c->recv) {
        grpc_byte_buffer_reader reader;
        if (grpc_byte_buffer_reader_init(&reader, c->recv)) {
            r->reply_slice = grpc_byte_buffer_reader_readall(&reader);
            grpc_byte_buffer_reader_destroy(&reader);
        }
        r->reply = GRPC_SLICE_START_PTR(r->reply_slice);
        r->reply_len = GRPC_SLICE_LENGTH(r->reply_slice);
    } else if (c->status == GRPC_STATUS_OK) {
        r->status = GRPC_STATUS_INTERNAL;
        gpr_free(r->message);
        r->message = gpr_strdup("the upstream answered OK without a message");
    }
    return r;
}

void gw_upstream_result_free(gw_upstream_result *r)
{
    if (!r)
        return;
    grpc_slice_unref(r->reply_slice);
    gpr_free(r->message);
    gw_metadata_free(r->initial, r->n_initial);
    gw_metadata_free(r->trailing, r->n_trailing);
    free(r);
}

#define UNARY_EXTRA_MESSAGE "the upstream answered a unary call with more than one message"

/* One of the unary call's batches is complete; the last one hands the
 * result over and frees the call. */
static void unary_batch_done(up_call *c)
{
    if (atomic_fetch_sub(&c->batches, 1) != 1)
        return;
    gw_up_untrack(c->up, &c->flight);
    if (c->extra) { /* the status may have come before the cancel: it is OK */
        c->status = GRPC_STATUS_INTERNAL;
        grpc_slice_unref(c->details);
        c->details = grpc_slice_from_static_string(UNARY_EXTRA_MESSAGE);
    } else if (c->status_lost) {
        c->status = GRPC_STATUS_UNAVAILABLE;
        grpc_slice_unref(c->details);
        c->details = grpc_slice_from_static_string("the call to the upstream failed");
    }
    gw_upstream_result *r = make_result(c);
    gw_upstream_done done = c->done;
    void *done_arg = c->arg;
    call_free(c);
    done(done_arg, r); /* r == NULL only when out of memory */
}

/* A message came: one more read says whether it was the only one. */
static void unary_sent_and_read(gw_up_tag *tag, int success)
{
    up_call *c = (up_call *)((char *)tag - offsetof(up_call, tag));
    if (success && c->recv) {
        atomic_fetch_add(&c->batches, 1);
        c->extra_op.op = GRPC_OP_RECV_MESSAGE;
        c->extra_op.data.recv_message.recv_message = &c->extra;
        if (grpc_call_start_batch(c->call, &c->extra_op, 1, &c->extra_tag, NULL) != GRPC_CALL_OK)
            atomic_fetch_sub(&c->batches, 1);
    }
    unary_batch_done(c);
}

static void unary_read_past(gw_up_tag *tag, int success)
{
    up_call *c = (up_call *)((char *)tag - offsetof(up_call, extra_tag));
    if (success && c->extra)
        grpc_call_cancel_with_status(c->call, GRPC_STATUS_INTERNAL, UNARY_EXTRA_MESSAGE, NULL);
    unary_batch_done(c);
}

static void unary_status(gw_up_tag *tag, int success)
{
    up_call *c = (up_call *)((char *)tag - offsetof(up_call, status_tag));
    c->status_lost = !success;
    unary_batch_done(c);
}

static void *cq_thread(void *arg)
{
    gw_upstream *up = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(up->cq, gpr_inf_future(GPR_CLOCK_REALTIME),
                                                   NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE) {
            gw_up_tag *tag = ev.tag;
            tag->complete(tag, ev.success);
        }
    }
    return NULL;
}

/* TLS credentials from tls (ca, and an optional client certificate), or
 * plaintext ones. */
static grpc_channel_credentials *channel_credentials(const rp_tls_pem *tls)
{
    if (!tls || !tls->ca)
        return grpc_insecure_credentials_create();
    grpc_ssl_pem_key_cert_pair pair = {tls->key, tls->cert};
    return grpc_ssl_credentials_create(tls->ca, tls->cert ? &pair : NULL, NULL, NULL);
}

/* A channel with its own connections (not shared through gRPC core's
 * global subchannel pool with the gateway's other channels). */
static grpc_channel *create_channel(gw_upstream *up)
{
    grpc_resource_quota *quota = grpc_resource_quota_create("rpcrest-gateway");
    grpc_resource_quota_resize(quota, QUOTA_BYTES);
    grpc_arg args[] = {
        {GRPC_ARG_POINTER, GRPC_ARG_RESOURCE_QUOTA,
         {.pointer = {quota, grpc_resource_quota_arg_vtable()}}},
        {GRPC_ARG_INTEGER, GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
         {.integer = GW_RECONNECT_BACKOFF_MIN_MS}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
         {.integer = GW_RECONNECT_BACKOFF_MAX_MS}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = GW_REPLY_MAX_BYTES}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, {.integer = -1}},
        /* not gRPC core's default of 8 KiB, which fails the call with
         * RESOURCE_EXHAUSTED (429) */
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_METADATA_SIZE, {.integer = GW_REPLY_METADATA_MAX_BYTES}},
        {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS, {.integer = KEEPALIVE_PING_MS}},
        /* with keepalive on, gRPC core sets TCP_USER_TIMEOUT to this */
        {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, {.integer = GW_UPSTREAM_DEAD_AFTER_MS}},
        /* gRPC core 1.51's retry filter aborts the process when an
         * upstream's trailers lack grpc-status; without it such a call ends
         * UNKNOWN ("No status received") */
        {GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_RETRIES, {.integer = 0}},
        /* straight to the upstream, whatever http_proxy / https_proxy the
         * environment has (gRPC core would send even 127.0.0.1 through it) */
        {GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_HTTP_PROXY, {.integer = 0}},
        {GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_BDP_PROBE, {.integer = 0}},
        {GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, {.integer = STREAM_WINDOW_BYTES}},
        /* every address the target resolves to takes calls in turn */
        {GRPC_ARG_STRING, GRPC_ARG_SERVICE_CONFIG,
         {.string = "{\"loadBalancingConfig\":[{\"round_robin\":{}}]}"}},
        {GRPC_ARG_INTEGER, GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, {.integer = 1}},
        {GRPC_ARG_STRING, NULL, {.string = NULL}}, /* the TLS name, if any */
    };
    size_t n_args = sizeof(args) / sizeof(args[0]);
    if (up->tls_name) /* the last slot */
        args[n_args - 1] = (grpc_arg){GRPC_ARG_STRING, GRPC_SSL_TARGET_NAME_OVERRIDE_ARG,
                                      {.string = up->tls_name}};
    else
        n_args--;
    grpc_channel_args channel_args = {n_args, args};
    grpc_channel *ch = grpc_channel_create(up->target, up->creds, &channel_args);
    grpc_resource_quota_unref(quota); /* the channel holds its own reference */
    return ch;
}

/* Frees what gw_upstream_start made, channels and threads excepted. */
static void upstream_free(gw_upstream *up)
{
    if (up->creds)
        grpc_channel_credentials_release(up->creds);
    pthread_mutex_destroy(&up->lock);
    pthread_mutex_destroy(&up->calls_lock);
    free(up->target);
    free(up->tls_name);
    free(up->threads);
    free(up);
}

gw_upstream *gw_upstream_start(const char *target, int threads, int per_channel,
                               const rp_tls_pem *tls, const char *tls_name, char *err,
                               size_t errlen)
{
    gw_upstream *up = calloc(1, sizeof(*up));
    if (!up || !(up->threads = calloc((size_t)threads, sizeof(*up->threads)))) {
        snprintf(err, errlen, "out of memory");
        free(up);
        return NULL;
    }
    pthread_mutex_init(&up->lock, NULL);
    pthread_mutex_init(&up->calls_lock, NULL);
    up->per_channel = per_channel > 0 ? per_channel : 100;
    up->target = strdup(target);
    up->tls_name = tls && tls->ca && tls_name ? strdup(tls_name) : NULL;
    up->creds = channel_credentials(tls);
    if (!up->target || (tls && tls->ca && tls_name && !up->tls_name) || !up->creds ||
        !(up->channel = create_channel(up)) || !(up->calls[0] = create_channel(up))) {
        snprintf(err, errlen, "upstream %s: cannot create the channel or its TLS credentials",
                 target);
        if (up->channel)
            grpc_channel_destroy(up->channel);
        upstream_free(up);
        return NULL;
    }
    up->cq = grpc_completion_queue_create_for_next(NULL);
    for (; up->n_threads < threads; up->n_threads++) {
        if (pthread_create(&up->threads[up->n_threads], NULL, cq_thread, up) != 0) {
            snprintf(err, errlen, "upstream: cannot start a thread");
            gw_upstream_stop(up);
            return NULL;
        }
    }
    return up;
}

void gw_upstream_prepare(gw_upstream *up, const gw_method *methods, size_t n)
{
    pthread_mutex_lock(&up->calls_lock);
    for (int c = 0; c < GW_CALL_CHANNELS && up->calls[c]; c++)
        for (size_t i = 0; i < n; i++)
            ((gw_method *)methods)[i].call_handle[c] =
                grpc_channel_register_call(up->calls[c], methods[i].path, NULL, NULL);
    pthread_mutex_unlock(&up->calls_lock);
}

/* The channel a new call goes on: the first with room, made when the ones
 * before it are full; the least busy when all GW_CALL_CHANNELS are.  -1 if
 * a channel cannot be made. */
static int pick_channel(gw_upstream *up)
{
    pthread_mutex_lock(&up->calls_lock);
    int pick = 0;
    for (int c = 0; c < GW_CALL_CHANNELS; c++) {
        if (!up->calls[c] && !(up->calls[c] = create_channel(up))) {
            pick = -1;
            break;
        }
        if (up->active[c] < up->per_channel) {
            pick = c;
            break;
        }
        if (up->active[c] < up->active[pick])
            pick = c;
    }
    if (pick >= 0)
        up->active[pick]++;
    pthread_mutex_unlock(&up->calls_lock);
    return pick;
}

void gw_up_release_channel(gw_upstream *up, int slot)
{
    pthread_mutex_lock(&up->calls_lock);
    up->active[slot]--;
    pthread_mutex_unlock(&up->calls_lock);
}

grpc_channel *gw_upstream_channel(gw_upstream *up)
{
    return up->channel;
}

grpc_metadata *gw_up_send_metadata(const gw_metadata *md, size_t n)
{
    grpc_metadata *out = calloc(n ? n : 1, sizeof(*out));
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        out[i].key = grpc_slice_from_copied_string(md[i].key);
        out[i].value = grpc_slice_from_copied_buffer(md[i].value, md[i].value_len);
    }
    return out;
}

void gw_up_free_send_metadata(grpc_metadata *md, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        grpc_slice_unref(md[i].key);
        grpc_slice_unref(md[i].value);
    }
    free(md);
}

static grpc_call *create_call_by_path(gw_upstream *up, grpc_channel *channel, const char *path,
                                      int64_t timeout_ms)
{
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
    grpc_slice method = grpc_slice_from_copied_string(path);
    grpc_call *call = grpc_channel_create_call(channel, NULL, GRPC_PROPAGATE_DEFAULTS, up->cq,
                                               method, NULL, deadline, NULL);
    grpc_slice_unref(method); /* needed only during the call above */
    return call;
}

grpc_call *gw_up_create_call(gw_upstream *up, const gw_method *method, int64_t timeout_ms,
                             int *slot)
{
    if ((*slot = pick_channel(up)) < 0)
        return NULL;
    grpc_channel *channel = up->calls[*slot]; /* never changes once made */
    void *handle = method->call_handle[*slot];
    grpc_call *call;
    if (!handle) {
        call = create_call_by_path(up, channel, method->path, timeout_ms);
    } else {
        gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                             gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
        call = grpc_channel_create_registered_call(channel, NULL, GRPC_PROPAGATE_DEFAULTS,
                                                   up->cq, handle, deadline, NULL);
    }
    if (!call)
        gw_up_release_channel(up, *slot);
    return call;
}

/* Up to this many bytes, copying into an inlined slice costs less than the
 * slice's refcount allocation that moving the buffer needs. */
#define INLINE_COPY_BYTES 64

grpc_byte_buffer *gw_up_byte_buffer_take(gw_buf *wire)
{
    grpc_slice payload;
    if (wire->len <= INLINE_COPY_BYTES) {
        payload = grpc_slice_from_copied_buffer((const char *)wire->data, wire->len);
        gw_buf_free(wire);
    } else {
        size_t len;
        uint8_t *data = gw_buf_steal(wire, &len);
        payload = grpc_slice_new(data, len, free); /* gRPC frees data when done with it */
    }
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&payload, 1);
    grpc_slice_unref(payload);
    return bb;
}

/* Starts the single batch of a unary call on `call` (taken over, with its
 * channel slot: -1 for none). */
static int start_unary(gw_upstream *up, grpc_call *call, int slot, gw_buf *wire,
                       const gw_metadata *md, size_t n_md, gw_upstream_done done, void *arg)
{
    up_call *c = calloc(1, sizeof(*c));
    if (!c) {
        gw_buf_free(wire);
        if (call)
            grpc_call_unref(call);
        if (slot >= 0)
            gw_up_release_channel(up, slot);
        return -1;
    }
    c->slot = slot;
    c->tag.complete = unary_sent_and_read;
    c->status_tag.complete = unary_status;
    c->extra_tag.complete = unary_read_past;
    c->up = up;
    c->done = done;
    c->arg = arg;
    c->details = grpc_empty_slice();
    grpc_metadata_array_init(&c->initial_md);
    grpc_metadata_array_init(&c->trailing_md);
    c->call = call;
    c->send = gw_up_byte_buffer_take(wire);
    c->send_md = gw_up_send_metadata(md, n_md);
    c->n_send_md = c->send_md ? n_md : 0;
    if (!c->call || !c->send || !c->send_md) {
        call_free(c);
        return -1;
    }
    grpc_op *op = c->ops;
    memset(c->ops, 0, sizeof(c->ops));
    op->op = GRPC_OP_SEND_INITIAL_METADATA;
    op->data.send_initial_metadata.count = c->n_send_md;
    op->data.send_initial_metadata.metadata = c->send_md;
    op++;
    op->op = GRPC_OP_SEND_MESSAGE;
    op->data.send_message.send_message = c->send;
    op++;
    op->op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    op++;
    op->op = GRPC_OP_RECV_INITIAL_METADATA;
    op->data.recv_initial_metadata.recv_initial_metadata = &c->initial_md;
    op++;
    op->op = GRPC_OP_RECV_MESSAGE;
    op->data.recv_message.recv_message = &c->recv;
    op++;
    grpc_op *status_op = op;
    op->op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op->data.recv_status_on_client.status = &c->status;
    op->data.recv_status_on_client.status_details = &c->details;
    op->data.recv_status_on_client.error_string = &c->error_string;
    op->data.recv_status_on_client.trailing_metadata = &c->trailing_md;
    c->flight.arg = arg;
    gw_up_track(up, &c->flight, c->call);
    /* the status batch first: once it is started, the call always ends
     * through the completion queue */
    atomic_init(&c->batches, 2);
    if (grpc_call_start_batch(c->call, status_op, 1, &c->status_tag, NULL) != GRPC_CALL_OK) {
        gw_up_untrack(up, &c->flight);
        call_free(c);
        return -1;
    }
    if (grpc_call_start_batch(c->call, c->ops, (size_t)(status_op - c->ops), &c->tag, NULL) !=
        GRPC_CALL_OK) {
        grpc_call_cancel_with_status(c->call, GRPC_STATUS_INTERNAL,
                                     "the gateway could not start the call", NULL);
        unary_batch_done(c);
    }
    return 0;
}

int gw_upstream_unary(gw_upstream *up, const gw_method *method, gw_buf *wire,
                      const gw_metadata *md, size_t n_md, int64_t timeout_ms,
                      gw_upstream_done done, void *arg)
{
    int slot;
    grpc_call *call = gw_up_create_call(up, method, timeout_ms, &slot);
    return start_unary(up, call, call ? slot : -1, wire, md, n_md, done, arg);
}

int gw_upstream_unary_path(gw_upstream *up, const char *path, gw_buf *wire, int64_t timeout_ms,
                           gw_upstream_done done, void *arg)
{
    grpc_call *call = create_call_by_path(up, up->channel, path, timeout_ms);
    return start_unary(up, call, -1, wire, NULL, 0, done, arg);
}

void gw_upstream_cancel_unary(gw_upstream *up, void *arg)
{
    pthread_mutex_lock(&up->lock); /* a call listed here has not completed */
    for (gw_up_flight *f = up->in_flight; f; f = f->next)
        if (f->arg == arg)
            grpc_call_cancel(f->call, NULL);
    pthread_mutex_unlock(&up->lock);
}

void gw_upstream_cancel_all(gw_upstream *up)
{
    pthread_mutex_lock(&up->lock);
    for (gw_up_flight *f = up->in_flight; f; f = f->next)
        grpc_call_cancel_with_status(f->call, GRPC_STATUS_UNAVAILABLE, GW_STOPPING_MESSAGE, NULL);
    pthread_mutex_unlock(&up->lock);
}

void gw_upstream_stop(gw_upstream *up)
{
    if (!up)
        return;
    gw_upstream_cancel_all(up);
    /* Each cancelled call still completes on the CQ; let the threads drain
     * them before the queue shuts down. */
    for (;;) {
        pthread_mutex_lock(&up->lock);
        int empty = up->in_flight == NULL;
        pthread_mutex_unlock(&up->lock);
        if (empty || up->n_threads == 0)
            break;
        gpr_sleep_until(gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                     gpr_time_from_millis(5, GPR_TIMESPAN)));
    }
    grpc_channel_destroy(up->channel);
    for (int c = 0; c < GW_CALL_CHANNELS && up->calls[c]; c++)
        grpc_channel_destroy(up->calls[c]);
    grpc_completion_queue_shutdown(up->cq);
    for (int i = 0; i < up->n_threads; i++)
        pthread_join(up->threads[i], NULL);
    grpc_completion_queue_destroy(up->cq);
    upstream_free(up);
}
