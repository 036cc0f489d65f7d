/*
 * host_bidi.h -- streaming calls of the host's own services (reflection,
 * health): a read loop, a FIFO of replies with one send in flight, the final
 * status, and the record's life from the posted request to the last free.
 *
 * Knows nothing of protobuf or of what a service does with its messages; the
 * service gets bytes in and queues bytes out through the functions below.
 */
#ifndef HOST_BIDI_H
#define HOST_BIDI_H

#include <grpc/grpc.h>
#include <grpc/status.h>
#include <stddef.h>
#include <stdint.h>

#include "host_queue.h"

typedef struct host_bidi host_bidi;

/*
 * One method of a built-in service.  The service fills in everything but
 * `registered` and keeps the struct alive until the server is stopped.
 * Callbacks run on completion-queue threads without any lock held, and never
 * two at a time for the same call.
 */
typedef struct host_bidi_method {
    const char *path;      /* "/grpc.health.v1.Health/Watch" */
    int stream_requests;   /* 1: read requests until the client half-closes,
                            * each once the replies to the previous one were
                            * sent; 0: read exactly one request */
    /* A request message (len may be 0).  Valid during the call only. */
    void (*on_request)(host_bidi *b, const uint8_t *msg, size_t len);
    /* The client half-closed (stream_requests only).  NULL: finish with OK. */
    void (*on_half_close)(host_bidi *b);
    /* A send batch completed (ok or not).  May be NULL. */
    void (*on_sent)(host_bidi *b);
    /* The call is over and nothing of it is in flight: release what the
     * service keeps for it (host_bidi_user).  Called once, just before the
     * record is freed.  May be NULL. */
    void (*on_done)(host_bidi *b);
    void *ctx;             /* the service's; host_bidi_ctx() */
    void *registered;      /* set by host_bidi_register */
} host_bidi_method;

/* Registers m on the server (before grpc_server_start).  0, or -1 after
 * logging. */
int host_bidi_register(host_bidi_method *m, grpc_server *server);

/*
 * Posts one request for calls to m on q.  Returns 0, or -1 after logging.
 * The record belongs to q's event loop from then on (host_bidi_on_event
 * frees it) and is counted in q->live until freed; q and m must outlive it.
 */
int host_bidi_request(const host_queue *q, host_bidi_method *m);

/* Handles an event whose tag is one of HOST_TAG_BIDI_*.  May free the record. */
void host_bidi_on_event(host_tag *tag, int ok);

/*
 * Queues one reply message (copied).  The first send also sends the initial
 * metadata.  From inside a callback of this call, sending starts when the
 * callback returns (so a reply and the status can share one batch); from
 * any other thread it starts at once.  Returns 0, or -1 if the call is over,
 * being finished or broken, or if there was no memory for the message, in
 * which case the call is finished with RESOURCE_EXHAUSTED (either way the
 * message is dropped).  Thread-safe.
 */
int host_bidi_send(host_bidi *b, const uint8_t *msg, size_t len);

/*
 * Finishes the call with `code` and `details` (may be NULL; copied) after
 * the queued replies.  Returns 0, or -1 if finish was already called or the
 * call is over.  Thread-safe.
 */
int host_bidi_finish(host_bidi *b, grpc_status_code code, const char *details);

/* m->ctx of the call's method. */
void *host_bidi_ctx(const host_bidi *b);

/* A slot the service may use for its per-call state (NULL at first); free
 * what it points to in on_done. */
void **host_bidi_user(host_bidi *b);

/* 1 while a reply or the status is queued or being sent.  Thread-safe. */
int host_bidi_sending(host_bidi *b);

#endif /* HOST_BIDI_H */
