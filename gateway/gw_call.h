/*
 * gw_call.h -- what a call to the upstream takes and gives (gw_h2.h makes
 * the calls): metadata, a result (a reply, or one message of a stream, or
 * a stream's end), a streaming call's events and request messages.
 */
#ifndef GW_CALL_H
#define GW_CALL_H

#include <stddef.h>
#include <stdint.h>

#include <grpc/status.h>

#include "gw_buf.h"

/* One metadata entry: a lower-case key and a value of value_len bytes
 * (binary for keys ending in "-bin").  Who owns the strings depends on the
 * array they are in: a result's (initial, trailing) owns them, from
 * malloc, freed with gw_metadata_free; a request's gw_metadata_list
 * (gw_headers.h) keeps them in the request's arena, never freed one by
 * one. */
typedef struct gw_metadata {
    char *key;
    char *value;
    size_t value_len;
} gw_metadata;

/* What came back from one call (or one message of a stream).  Owned by the
 * callback's receiver, released with gw_upstream_result_free. */
typedef struct gw_upstream_result {
    grpc_status_code status;
    char *message;        /* status details, NUL-terminated (maybe empty; NULL
                           * when there was no memory for them) */
    const uint8_t *reply; /* the response message (status OK), or NULL */
    size_t reply_len;
    void *reply_block;    /* malloc'ed: holds `reply` */
    gw_metadata *initial; /* response headers */
    size_t n_initial;
    gw_metadata *trailing; /* response trailers (grpc-status-details-bin among them) */
    size_t n_trailing;
} gw_upstream_result;

/* Frees md[0..n) and the array, strings and array from malloc (as results
 * hold them). */
void gw_metadata_free(gw_metadata *md, size_t n);

/* Called once per unary call (gw_h2_unary), on the thread that made it.
 * Must not block. */
typedef void (*gw_upstream_done)(void *arg, gw_upstream_result *result);

/* ---- streaming calls (client, server, bidirectional) ------------------------ */

/*
 * Events of one streaming call (gw_h2_stream), one at a time, in order:
 * zero or more messages, then done.  The first event's result carries the
 * response headers (initial metadata).  Each result is the receiver's, to
 * free with gw_upstream_result_free.  Flow control: after a message, no
 * further event arrives until the receiver asks for the next.
 */
typedef struct gw_stream_handler {
    void (*on_message)(void *arg, gw_upstream_result *message);
    void (*on_done)(void *arg, gw_upstream_result *status);
    int read_ahead; /* read on without being asked (a method with one reply) */
} gw_stream_handler;

/* A streaming call's request messages, serialized back to back in one
 * buffer (a client-streaming body may hold a million small ones: a buffer
 * each cost hundreds of bytes a message): message i is
 * data[ends[i - 1] (0 for the first) .. ends[i]). */
typedef struct gw_request_messages {
    gw_buf data;
    size_t *ends; /* malloc'ed */
    size_t n, cap;
} gw_request_messages;

#define GW_REQUEST_MESSAGES_INIT {GW_BUF_INIT, NULL, 0, 0}

/* Ends the message being appended to m->data where data ends now; 0, or -1
 * when out of memory. */
int gw_request_messages_end(gw_request_messages *m);

void gw_request_messages_free(gw_request_messages *m);

void gw_upstream_result_free(gw_upstream_result *result);

#endif /* GW_CALL_H */
