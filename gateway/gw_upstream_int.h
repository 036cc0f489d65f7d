/*
 * gw_upstream_int.h -- what gw_upstream.c (channel, threads, unary calls)
 * shares with gw_stream.c (streaming calls).  Not for other modules.
 */
#ifndef GW_UPSTREAM_INT_H
#define GW_UPSTREAM_INT_H

#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "gw_upstream.h"

/* Every tag handed to grpc_call_start_batch starts with one of these; the
 * completion-queue threads call `complete` with the event's success bit. */
typedef struct gw_up_tag {
    void (*complete)(struct gw_up_tag *tag, int success);
} gw_up_tag;

/* A call in flight, listed so that shutdown (or its caller) can cancel it. */
typedef struct gw_up_flight {
    grpc_call *call;
    void *arg;               /* a unary call's done argument, else NULL */
    struct gw_up_flight *prev, *next;
} gw_up_flight;

struct gw_upstream {
    grpc_channel *channel; /* discovery, health checks, connectivity */
    /* the API's calls (streams, and unary calls gw_h2 does not make), on
     * connections of their own: created when the ones before are full */
    grpc_channel *calls[GW_CALL_CHANNELS];
    int active[GW_CALL_CHANNELS]; /* calls on each */
    int per_channel;              /* calls one connection takes at once */
    pthread_mutex_t calls_lock;   /* guards calls[] and active[] */
    char *target, *tls_name;      /* for channels made later */
    grpc_channel_credentials *creds;
    grpc_completion_queue *cq;
    pthread_t *threads;
    int n_threads;
    pthread_mutex_t lock; /* guards the in-flight list */
    gw_up_flight *in_flight;
    _Atomic int64_t connect_failure_logged_ms; /* gw_up_status_message's last line, or 0 */
};

void gw_up_track(gw_upstream *up, gw_up_flight *f, grpc_call *call);
void gw_up_untrack(gw_upstream *up, gw_up_flight *f);

/* A call of `method` with a deadline, on the first channel for calls with
 * room (*slot says which; give it back with gw_up_release_channel once the
 * call is freed): its registered call when prepared, else one made from
 * its path.  NULL (nothing to give back) when it cannot be made. */
grpc_call *gw_up_create_call(gw_upstream *up, const gw_method *method, int64_t timeout_ms,
                             int *slot);
void gw_up_release_channel(gw_upstream *up, int slot);

/* A byte buffer holding wire's bytes, moved (not copied) into a slice
 * unless they are few enough to sit inside it; wire is left empty.  NULL
 * when out of memory. */
grpc_byte_buffer *gw_up_byte_buffer_take(gw_buf *wire);

/* Request metadata as gRPC slices (copied); free with gw_up_free_send_metadata. */
grpc_metadata *gw_up_send_metadata(const gw_metadata *md, size_t n);
void gw_up_free_send_metadata(grpc_metadata *md, size_t n);

/* A finished call's status message for the client (gpr_malloc'd, or NULL
 * on ENOMEM): details as received, but gRPC core's own text for a call it
 * could not connect (error_string, gRPC core's, does not say the upstream
 * sent it), which names the upstream's address, is replaced by
 * gw_status_connect_failure's and logged whole (at most once in 10 s). */
char *gw_up_status_message(gw_upstream *up, grpc_status_code status, grpc_slice details,
                           const char *error_string);

/* Received metadata copied out of the call; free with gw_metadata_free. */
gw_metadata *gw_up_copy_metadata(const grpc_metadata_array *arr, size_t *n);

#endif /* GW_UPSTREAM_INT_H */
