/*
 * host_queue.h -- what every record that waits on a completion queue shares:
 * the tag that says which handler an event goes to, the queue a worker
 * thread drains, and the count of live records that shutdown waits for.
 * The worker loop and the dispatch itself live in host_server.c.
 */
#ifndef HOST_QUEUE_H
#define HOST_QUEUE_H

#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

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
} host_live;

/* One worker's queue.  Records keep a pointer to it; it outlives them. */
typedef struct host_queue {
    grpc_server *server;
    grpc_completion_queue *cq; /* bound to the calls and notified of them */
    host_live *live;
    size_t max_message_bytes;  /* [host] max_message_bytes, for host_message_read */
} host_queue;

/* 0, or a positive errno from pthread. */
int host_live_init(host_live *live);
void host_live_destroy(host_live *live);

/* A record was created (hold) or freed (release).  Thread-safe. */
void host_live_hold(host_live *live);
void host_live_release(host_live *live);

/* Blocks until no record is live. */
void host_live_wait_idle(host_live *live);

/* A plugin call arrived (begin) or its record was freed (end); the number
 * in between.  Thread-safe. */
void host_live_call_begin(host_live *live);
void host_live_call_end(host_live *live);
size_t host_live_calls(host_live *live);

#endif /* HOST_QUEUE_H */
