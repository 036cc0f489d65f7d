/*
 * gw_upstream.c -- gRPC C core client for the gateway: channel, registered
 * calls, completion-queue threads, in-flight bookkeeping for shutdown.
 *
 * A call is one batch (send metadata, message, half-close; receive
 * metadata, message, status) tagged with its up_call record; the CQ thread
 * that sees the tag turns it into a gw_upstream_result and hands it over.
 */
#include "gw_upstream.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/string_util.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECEIVE_BYTES (64 << 20)

typedef struct up_call {
    grpc_call *call;
    grpc_op ops[6];
    grpc_metadata *send_md; /* request metadata; slices owned here */
    size_t n_send_md;
    grpc_metadata_array initial_md;
    grpc_metadata_array trailing_md;
    grpc_byte_buffer *send;
    grpc_byte_buffer *recv;
    grpc_status_code status;
    grpc_slice details;
    const char *error_string;
    gw_upstream_done done;
    void *arg;
    struct up_call *prev, *next; /* in-flight list */
} up_call;

struct gw_upstream {
    grpc_channel *channel;
    grpc_completion_queue *cq;
    const gw_method *methods;
    void **handles; /* registered call per method */
    size_t n_methods;
    pthread_t *threads;
    int n_threads;
    pthread_mutex_t lock; /* guards the in-flight list */
    up_call *in_flight;
};

static void track(gw_upstream *up, up_call *c)
{
    pthread_mutex_lock(&up->lock);
    c->prev = NULL;
    c->next = up->in_flight;
    if (up->in_flight)
        up->in_flight->prev = c;
    up->in_flight = c;
    pthread_mutex_unlock(&up->lock);
}

static void untrack(gw_upstream *up, up_call *c)
{
    pthread_mutex_lock(&up->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        up->in_flight = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&up->lock);
}

static void call_free(up_call *c)
{
    for (size_t i = 0; i < c->n_send_md; i++) {
        grpc_slice_unref(c->send_md[i].key);
        grpc_slice_unref(c->send_md[i].value);
    }
    free(c->send_md);
    grpc_metadata_array_destroy(&c->initial_md);
    grpc_metadata_array_destroy(&c->trailing_md);
    if (c->send)
        grpc_byte_buffer_destroy(c->send);
    if (c->recv)
        grpc_byte_buffer_destroy(c->recv);
    grpc_slice_unref(c->details);
    gpr_free((void *)c->error_string);
    if (c->call)
        grpc_call_unref(c->call);
    free(c);
}

/* Copies received metadata into gw_metadata entries (NULL on ENOMEM). */
static gw_metadata *copy_metadata(const grpc_metadata_array *arr, size_t *n)
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

static void free_metadata(gw_metadata *md, size_t n)
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
    r->initial = copy_metadata(&c->initial_md, &r->n_initial);
    r->trailing = copy_metadata(&c->trailing_md, &r->n_trailing);
    r->status = c->status;
    r->message = grpc_slice_to_c_string(c->details);
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
    free_metadata(r->initial, r->n_initial);
    free_metadata(r->trailing, r->n_trailing);
    free(r);
}

static void *cq_thread(void *arg)
{
    gw_upstream *up = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(up->cq, gpr_inf_future(GPR_CLOCK_REALTIME),
                                                   NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        up_call *c = ev.tag;
        untrack(up, c);
        if (!ev.success) { /* the batch itself failed: no status was received */
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
    return NULL;
}

static grpc_channel *create_channel(const char *target)
{
    grpc_arg args[] = {
        {GRPC_ARG_INTEGER, GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, {.integer = 100}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, {.integer = 100}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, {.integer = 1000}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = MAX_RECEIVE_BYTES}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, {.integer = -1}},
        /* every address the target resolves to takes calls in turn */
        {GRPC_ARG_STRING, GRPC_ARG_SERVICE_CONFIG,
         {.string = "{\"loadBalancingConfig\":[{\"round_robin\":{}}]}"}},
    };
    grpc_channel_args channel_args = {sizeof(args) / sizeof(args[0]), args};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, creds, &channel_args);
    grpc_channel_credentials_release(creds);
    return ch;
}

gw_upstream *gw_upstream_start(const char *target, const gw_method *methods, size_t n,
                               int threads, char *err, size_t errlen)
{
    gw_upstream *up = calloc(1, sizeof(*up));
    if (!up || !(up->handles = calloc(n ? n : 1, sizeof(*up->handles))) ||
        !(up->threads = calloc((size_t)threads, sizeof(*up->threads)))) {
        snprintf(err, errlen, "out of memory");
        goto fail_alloc;
    }
    pthread_mutex_init(&up->lock, NULL);
    up->methods = methods;
    up->n_methods = n;
    up->channel = create_channel(target);
    if (!up->channel) {
        snprintf(err, errlen, "upstream %s: cannot create a gRPC channel", target);
        goto fail_channel;
    }
    for (size_t i = 0; i < n; i++)
        up->handles[i] = grpc_channel_register_call(up->channel, methods[i].path, NULL, NULL);
    up->cq = grpc_completion_queue_create_for_next(NULL);
    for (; up->n_threads < threads; up->n_threads++) {
        if (pthread_create(&up->threads[up->n_threads], NULL, cq_thread, up) != 0) {
            snprintf(err, errlen, "upstream: cannot start a thread");
            gw_upstream_stop(up);
            return NULL;
        }
    }
    return up;

fail_channel:
    pthread_mutex_destroy(&up->lock);
fail_alloc:
    if (up) {
        free(up->handles);
        free(up->threads);
    }
    free(up);
    return NULL;
}

/* Copies the request metadata into slices the call owns. */
static int set_send_metadata(up_call *c, const gw_metadata *md, size_t n)
{
    if (n == 0)
        return 0;
    c->send_md = calloc(n, sizeof(*c->send_md));
    if (!c->send_md)
        return -1;
    for (size_t i = 0; i < n; i++) {
        c->send_md[i].key = grpc_slice_from_copied_string(md[i].key);
        c->send_md[i].value = grpc_slice_from_copied_buffer(md[i].value, md[i].value_len);
        c->n_send_md++;
    }
    return 0;
}

int gw_upstream_unary(gw_upstream *up, const gw_method *method, const uint8_t *req, size_t len,
                      const gw_metadata *md, size_t n_md, int64_t timeout_ms,
                      gw_upstream_done done, void *arg)
{
    size_t index = (size_t)(method - up->methods);
    if (index >= up->n_methods)
        return -1;
    up_call *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->done = done;
    c->arg = arg;
    c->details = grpc_empty_slice();
    grpc_metadata_array_init(&c->initial_md);
    grpc_metadata_array_init(&c->trailing_md);
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
    c->call = grpc_channel_create_registered_call(up->channel, NULL, GRPC_PROPAGATE_DEFAULTS,
                                                  up->cq, up->handles[index], deadline, NULL);
    grpc_slice payload = grpc_slice_from_copied_buffer((const char *)req, len);
    c->send = grpc_raw_byte_buffer_create(&payload, 1);
    grpc_slice_unref(payload);
    if (!c->call || !c->send || set_send_metadata(c, md, n_md) < 0) {
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
    op->op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op->data.recv_status_on_client.status = &c->status;
    op->data.recv_status_on_client.status_details = &c->details;
    op->data.recv_status_on_client.error_string = &c->error_string;
    op->data.recv_status_on_client.trailing_metadata = &c->trailing_md;
    op++;
    track(up, c);
    if (grpc_call_start_batch(c->call, c->ops, (size_t)(op - c->ops), c, NULL) != GRPC_CALL_OK) {
        untrack(up, c);
        call_free(c);
        return -1;
    }
    return 0;
}

void gw_upstream_cancel_all(gw_upstream *up)
{
    pthread_mutex_lock(&up->lock);
    for (up_call *c = up->in_flight; c; c = c->next)
        grpc_call_cancel(c->call, NULL);
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
    grpc_completion_queue_shutdown(up->cq);
    for (int i = 0; i < up->n_threads; i++)
        pthread_join(up->threads[i], NULL);
    grpc_completion_queue_destroy(up->cq);
    pthread_mutex_destroy(&up->lock);
    free(up->threads);
    free(up->handles);
    free(up);
}
