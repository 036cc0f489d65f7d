/*
 * host_queue.h -- what every record that waits on a completion queue shares:
 * the tag that says which handler an event goes to, the queue a worker
 * thread drains, the count of live records that shutdown waits for, and
 * the plugin calls of each queue with the plugin code running on it (which
 * a stop that cannot end names).  The worker loop and the dispatch itself
 * live in host_server.c.
 */
#ifndef HOST_QUEUE_H
#define HOST_QUEUE_H

#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct host_method; /* host_plugin.h */

/* Which handler a completion-queue event goes to.  Every tag passed to gRPC
 * points at a host_tag embedded in its record (see HOST_RECORD_OF). */
typedef enum host_tag_kind {
    HOST_TAG_CALL_NEW,       /* a registered method's request matched a call */
    HOST_TAG_CALL_CLOSED,    /* RECV_CLOSE_ON_SERVER of a call completed */
    HOST_TAG_CALL_SENT,      /* the final send batch of a call completed */
    HOST_TAG_CALL_MESSAGE,   /* a streamed message's send batch completed */
    HOST_TAG_UNKNOWN_NEW,    /* a call to a method nobody registered */
    HOST_TAG_UNKNOWN_DONE,   /* its UNIMPLEMENTED answer completed */
    HOST_TAG_BIDI_NEW,       /* a call to a built-in service (host_bidi) */
    HOST_TAG_BIDI_READ,      /* its RECV_MESSAGE completed */
    HOST_TAG_BIDI_SENT,      /* one of its send batches completed */
    HOST_TAG_BIDI_CLOSED,    /* its RECV_CLOSE_ON_SERVER completed */
    HOST_TAG_SERVER_SHUTDOWN /* grpc_server_shutdown_and_notify completed */
} host_tag_kind;

typedef struct host_tag {
    host_tag_kind kind;
} host_tag;

/* The record that embeds `tag` as its member `member`. */
#define HOST_RECORD_OF(tag, type, member) \
    ((type *)(void *)((char *)(tag) - offsetof(type, member)))

/* Live records of one server: every posted request and every call not yet
 * freed.  Shutdown waits until it reaches zero before the queues close.
 * `calls` counts the plugin calls among them that arrived (for the drain's
 * log line). */
typedef struct host_live {
    atomic_size_t n;
    atomic_size_t calls;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    pthread_mutex_t posts_lock; /* held while a worker posts an owed request */
    int posts_closed;           /* shutdown has begun: no more of those */
} host_live;

/* A request that could not be posted again when its call arrived (out of
 * memory): its method would wait on this queue for calls that never match.
 * The worker posts it again later (host_server.c). */
typedef enum host_owed_kind {
    HOST_OWED_CALL,   /* host_call_request(q, method, registered) */
    HOST_OWED_BIDI,   /* host_bidi_request(q, method) */
    HOST_OWED_UNKNOWN /* host_unknown_request(q) */
} host_owed_kind;

typedef struct host_owed {
    host_owed_kind kind;
    void *method;     /* host_method or host_bidi_method; NULL for unknown */
    void *registered; /* HOST_OWED_CALL: the method's registration */
} host_owed;

/* What one queue owes: at most one entry per method, so `cap` (every
 * method, the built-in ones and the unknown-method catcher) is allocated
 * with the queue and an entry never needs memory.  Only the queue's worker
 * touches it. */
typedef struct host_owed_list {
    host_owed *items;
    size_t n, cap;
} host_owed_list;

/* The plugin calls of one queue, for a stop that finds calls never finished
 * (host_server.c): a handler or writable callback that never returns holds
 * the queue's worker, and every other call of the queue with it (their
 * cancellations and final batches complete on that queue).  `running` is
 * written by the worker only; `open` by whichever thread frees a call. */
typedef struct host_queue_calls {
    _Atomic(const struct host_method *) running; /* whose handler or writable
                                                  * callback runs now, or NULL */
    atomic_int running_callback;     /* it is a writable callback */
    _Atomic int64_t running_since_us; /* since when (rp_monotonic_us) */
    atomic_size_t *open; /* per method (host_method.index): calls that arrived
                          * on this queue and are not freed yet */
} host_queue_calls;

/* One worker's queue.  Records keep a pointer to it; it outlives them. */
typedef struct host_queue {
    grpc_server *server;
    grpc_completion_queue *cq; /* bound to the calls and notified of them */
    host_live *live;
    size_t max_message_bytes;  /* [host] max_message_bytes, for host_message_read */
    host_owed_list *owed;      /* requests to post again (host_queue_owe) */
    host_queue_calls *calls;   /* its plugin calls */
} host_queue;

/* Notes that the request for `method` could not be posted again on q (on
 * q's worker thread, after the post failed and was logged). */
void host_queue_owe(const host_queue *q, host_owed_kind kind, void *method, void *registered);

/* 0, or a positive errno from pthread. */
int host_live_init(host_live *live);
void host_live_destroy(host_live *live);

/* A record was created (hold) or freed (release).  Thread-safe. */
void host_live_hold(host_live *live);
void host_live_release(host_live *live);

/* Blocks until no record is live, or for `ms` at most.  Returns 1 once
 * none is, 0 when the time is up. */
int host_live_wait_idle(host_live *live, long ms);

/* A worker posts the requests its queue owes between begin (which returns
 * 0, and needs no end, once shutdown has begun) and end; after
 * host_live_close_posts returns, none is posted any more, so that shutdown
 * never meets a request posted behind its back. */
int host_live_begin_posts(host_live *live);
void host_live_end_posts(host_live *live);
void host_live_close_posts(host_live *live);

/* A plugin call arrived (begin) or its record was freed (end); the number
 * in between.  Thread-safe. */
void host_live_call_begin(host_live *live);
void host_live_call_end(host_live *live);
size_t host_live_calls(host_live *live);

#endif /* HOST_QUEUE_H */
