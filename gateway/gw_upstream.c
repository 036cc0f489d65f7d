/*
 * gw_upstream.c -- gRPC core's channel to the upstream, which discovery
 * (server reflection), its connectivity watch (gw_refresh.c) and the
 * metrics' upstream state use; and the results of the calls the HTTP
 * threads make on their own connections (gw_h2.c), freed here.
 *
 * gRPC core 1.51 moves a channel's connection along only while some
 * thread waits on a completion queue: the channel's thread waits on its
 * own, for changes of the channel's state (and asks an idle channel to
 * connect), so that the state stays true with no call on the channel.
 */
#include "gw_upstream.h"

#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_limits.h"

/* What the channel may hold at once, all calls together.  gRPC core reads a
 * reply message whole, as long as its prefix says (up to 4 GiB), before it
 * compares it with GW_REPLY_MAX_BYTES: an upstream declaring a huge message
 * would make the gateway hold all it sends.  Beyond the quota gRPC core
 * resets streams (ENHANCE_YOUR_CALM) instead of reading on.  Twice the
 * largest reply, so that one of those still fits beside the others. */
#define QUOTA_BYTES (2 * (size_t)GW_REPLY_MAX_BYTES)
/* What the channel reads ahead of each stream, with BDP probing off. */
#define STREAM_WINDOW_BYTES (64 << 10)
/* A connection with calls on it and nothing read for this long is pinged:
 * the shortest interval servers (gRPC core's, grpc-go's) accept by default;
 * pings more often than that count against the client. */
#define KEEPALIVE_PING_MS (5 * 60 * 1000)

struct gw_upstream {
    grpc_channel *channel;
    char *target, *tls_name;
    grpc_channel_credentials *creds;
    grpc_completion_queue *cq; /* the channel's thread's */
    pthread_t thread;
    pthread_mutex_t lock;      /* held while the thread uses the channel */
    int stop;                  /* under lock: the channel is gone */
};

/* The channel's thread: waits for each change of its state, and asks an
 * idle channel to connect again. */
static void *channel_thread(void *arg)
{
    gw_upstream *up = arg;
    for (;;) {
        pthread_mutex_lock(&up->lock);
        if (up->stop) {
            pthread_mutex_unlock(&up->lock);
            return NULL;
        }
        grpc_connectivity_state state = grpc_channel_check_connectivity_state(up->channel, 1);
        grpc_channel_watch_connectivity_state(up->channel, state,
                                              gpr_inf_future(GPR_CLOCK_MONOTONIC), up->cq, up);
        pthread_mutex_unlock(&up->lock);
        /* the change, or the channel's end (gw_upstream_stop destroys it) */
        (void)grpc_completion_queue_next(up->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    }
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

/* The channel, with connections of its own (not gRPC core's global
 * subchannel pool). */
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

/* Frees what gw_upstream_start made, the channel and its thread excepted. */
static void upstream_free(gw_upstream *up)
{
    if (up->cq)
        grpc_completion_queue_destroy(up->cq);
    pthread_mutex_destroy(&up->lock);
    if (up->creds)
        grpc_channel_credentials_release(up->creds);
    free(up->target);
    free(up->tls_name);
    free(up);
}

gw_upstream *gw_upstream_start(const char *target, const rp_tls_pem *tls, const char *tls_name,
                               char *err, size_t errlen)
{
    gw_upstream *up = calloc(1, sizeof(*up));
    if (!up) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&up->lock, NULL);
    up->target = strdup(target);
    up->tls_name = tls && tls->ca && tls_name ? strdup(tls_name) : NULL;
    up->creds = channel_credentials(tls);
    if (!up->target || (tls && tls->ca && tls_name && !up->tls_name) || !up->creds ||
        !(up->channel = create_channel(up))) {
        snprintf(err, errlen, "upstream %s: cannot create the channel or its TLS credentials",
                 target);
        upstream_free(up);
        return NULL;
    }
    up->cq = grpc_completion_queue_create_for_next(NULL);
    if (pthread_create(&up->thread, NULL, channel_thread, up) != 0) {
        snprintf(err, errlen, "upstream: cannot start a thread");
        grpc_channel_destroy(up->channel);
        grpc_completion_queue_shutdown(up->cq);
        upstream_free(up);
        return NULL;
    }
    return up;
}

grpc_channel *gw_upstream_channel(gw_upstream *up)
{
    return up->channel;
}

void gw_upstream_stop(gw_upstream *up)
{
    if (!up)
        return;
    pthread_mutex_lock(&up->lock);
    up->stop = 1;
    grpc_channel_destroy(up->channel); /* ends the thread's watch */
    pthread_mutex_unlock(&up->lock);
    pthread_join(up->thread, NULL);
    grpc_completion_queue_shutdown(up->cq);
    while (grpc_completion_queue_next(up->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    upstream_free(up);
}

void gw_metadata_free(gw_metadata *md, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        gpr_free(md[i].key);
        gpr_free(md[i].value);
    }
    free(md);
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
