/*
 * gw_upstream.h -- gRPC core's channel to the upstream (the rpcrest-host,
 * or any gRPC server), for discovery by server reflection, its
 * connectivity watch and the metrics' upstream state; and the types of a
 * call's request and results, which the HTTP threads' own client (gw_h2.h)
 * takes and gives.
 */
#ifndef GW_UPSTREAM_H
#define GW_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include <grpc/grpc.h>

#include "rp_tls.h"

#include "gw_buf.h"
#include "gw_schema.h"

typedef struct gw_upstream gw_upstream;

/* One metadata entry: a lower-case key and a value of value_len bytes
 * (binary for keys ending in "-bin").  Who owns the strings depends on the
 * array they are in: a result's (initial, trailing) owns them, from
 * gpr_malloc, freed with gw_metadata_free; a request's gw_metadata_list
 * (gw_headers.h) keeps them in the request's arena, never freed one by
 * one. */
typedef struct gw_metadata {
    char *key;
    char *value;
    size_t value_len;
} gw_metadata;

/* What came back from one call (or one message of a stream).  Owned by the callback's receiver,
 * released with gw_upstream_result_free. */
typedef struct gw_upstream_result {
    grpc_status_code status;
    char *message;        /* status details, NUL-terminated (maybe empty) */
    const uint8_t *reply; /* the response message (status OK), or NULL */
    size_t reply_len;
    grpc_slice reply_slice; /* backs `reply` */
    gw_metadata *initial; /* response headers */
    size_t n_initial;
    gw_metadata *trailing; /* response trailers (grpc-status-details-bin among them) */
    size_t n_trailing;
} gw_upstream_result;

/* Frees md[0..n) and the array: strings from gpr_malloc, the array from
 * malloc (as results hold them). */
void gw_metadata_free(gw_metadata *md, size_t n);

/* Called once per unary call (gw_h2_unary), on the thread that made it.
 * Must not block. */
typedef void (*gw_upstream_done)(void *arg, gw_upstream_result *result);

/*
 * Creates the channel to `target` (a gRPC target: "ipv4:127.0.0.1:5505",
 * "unix:/path", …).  With `tls` (its ca set), the channel is TLS: the
 * upstream's certificate must be signed by tls->ca and name the target's
 * host (an IP address SAN for "ipv4:…", "localhost" for "unix:…"), and
 * tls->cert/key, if set, are the client certificate (mutual TLS), and
 * tls_name, if not NULL, is the name checked in the upstream's certificate
 * instead of the target's host (and sent as SNI); NULL: plaintext.  tls is
 * read during the call only.  Returns NULL with a reason in err[errlen].
 */
gw_upstream *gw_upstream_start(const char *target, const rp_tls_pem *tls, const char *tls_name,
                               char *err, size_t errlen);

/* The channel, for discovery and watching its connectivity. */
grpc_channel *gw_upstream_channel(gw_upstream *up);

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

/* Closes the channel. */
void gw_upstream_stop(gw_upstream *up);

void gw_upstream_result_free(gw_upstream_result *result);

#endif /* GW_UPSTREAM_H */
