/*
 * gw_h2.c -- gRPC calls, unary and streaming, over a pool of HTTP/2
 * connections (nghttp2) driven by a gw_loop: the connections' state,
 * opening and closing, the calls' lives (queued, sent, answered, expired),
 * the gRPC mapping of a reply (length-prefixed messages, grpc-status /
 * grpc-message, Trailers-Only, -bin metadata) into gw_upstream_results, and
 * a streaming call's pace (below, "streaming calls").
 *
 * A call is queued, then submitted on the first connection taking calls
 * that has room: fewer calls open there than the upstream's
 * SETTINGS_MAX_CONCURRENT_STREAMS (until its SETTINGS come, what the
 * upstream's last ones said on another connection, or 100 as nghttp2
 * assumes).  When every one is full, a new connection opens in a free slot,
 * up to GW_H2_CONNECTIONS taking calls, as gRPC core's channels and Envoy's
 * pool do; beyond that calls wait in the queue.  nghttp2 holds no call back
 * (a fast call would wait there behind slow ones, first in first out, while
 * another connection could take it), unless SETTINGS that lower the limit
 * come while a full socket keeps calls submitted before them unsent.  A
 * call whose deadline passes in the queue fails there: it never reaches the
 * upstream.  Calls go to the first connections with room, so after a burst
 * the later ones fall idle: a connection taking calls, other than the first
 * of them, that has carried none for IDLE_CLOSE_MS is closed (GOAWAY, then
 * the socket).
 *
 * After a GOAWAY the connection takes no new call: new ones go to the
 * others, or to a new connection, at once while it finishes its streams, as
 * gRPC's and Envoy's clients do (a server rotating its connections, Go's
 * MaxConnectionAge, must not hold new calls up behind a long one), and so
 * do the calls submitted there that nghttp2 had not sent yet; the slots
 * beyond GW_H2_CONNECTIONS leave room for connections finishing theirs so.
 * A connection that has used all of its 2^30 stream ids goes the same way.
 * Streams the upstream refused are queued again, a call three times at most
 * (then it fails with UNAVAILABLE).  A connect that fails sends its calls
 * back to the queue while another connection takes calls, and fails them
 * and the queue (fail fast, as gRPC's channels do) when none does; no
 * connection opens until its backoff has passed.  Every call is in `live`,
 * ordered by deadline, whatever its state.
 *
 * conns[0]'s tick does the client's work (deadlines, the queue, closing and
 * writing); the other connections' ticks read their own.
 */
#include "gw_h2.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <grpc/status.h>
#include <nghttp2/nghttp2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/epoll.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gw_base64.h"
#include "gw_limits.h"
#include "rp_addr.h"
#include "rp_log.h"

#define READ_CHUNK 65536
#define MAX_TRIES 3 /* a call refused (REFUSED_STREAM, GOAWAY) this often fails */
#define TCP_KEEPALIVE_IDLE_S 20 /* an idle TCP connection is probed after this, */
#define TCP_KEEPALIVE_INTERVAL_S 5 /* and then this often */
#define FROM_REPLY ((grpc_status_code)-1) /* call_finish: the status the upstream sent */
#define IDLE_CLOSE_MS 2000 /* a connection beyond the first idle this long closes */
/* What the upstream may send on a stream before the gateway gives the
 * window back (SETTINGS_INITIAL_WINDOW_SIZE): the most a streaming call
 * whose client reads nothing holds here.  A unary reply's prefix that
 * declares more widens its stream's window to the message at once. */
#define STREAM_WINDOW (256 * 1024)

typedef struct gw_h2_call {
    struct gw_h2 *c;
    struct h2_conn *conn;    /* the connection it was submitted on (stream_id > 0) */
    int32_t stream_id;       /* 0: not submitted */
    nghttp2_nv *nv;          /* request headers, built at the start (strings in nv_text) */
    size_t n_nv;
    gw_buf nv_text;
    size_t timeout_slot;     /* index in nv of grpc-timeout, filled at submit */
    size_t request_id_slot;  /* index in nv of x-request-id, or 0: none */
    char timeout_text[24];
    gw_buf body;             /* the length-prefixed message */
    size_t sent;
    gw_buf reply;            /* DATA bytes received */
    int http_status;
    char content_type[48];   /* the reply's, cut short; "" until received */
    int not_grpc;            /* the reply's content-type is not application/grpc* */
    int grpc_status;         /* -1 until received */
    char *grpc_message;      /* malloc'ed, or NULL */
    gw_metadata *md[2];      /* [0] initial, [1] trailing (malloc'ed strings) */
    size_t n_md[2], cap_md[2];
    size_t md_bytes[2];      /* of each header block, as HPACK counts them */
    int in_trailers;         /* headers after the final response's (200) block */
    int interim;             /* the block being read is a 1xx response's */
    int trailers_only;       /* the response's block ended the stream */
    int reset_here;          /* nghttp2 reset the stream for what the upstream sent */
    int headers_sent;        /* its HEADERS left (nghttp2 may hold a stream back) */
    int ended_early;         /* answered before its body was sent: end_request_early */
    int failed_alloc;
    int tries;               /* times submitted */
    int64_t deadline_ms;
    gw_upstream_done done;   /* a unary call's end */
    void *arg;
    struct gw_h2_call *prev, *next;   /* `live`, by deadline */
    struct gw_h2_call *queue_next;    /* `queue` */
    int queued;
    int32_t held_stream;           /* held: the stream its CANCELLED came on */
    int held_reset;                /* held: an RST_STREAM(NO_ERROR) followed */
    struct gw_h2_call *held_next;  /* `held` */
    /* a streaming call's (gw_h2_stream): */
    int streaming;
    gw_stream_handler events;
    size_t reply_off;        /* reply bytes before it were handed over */
    size_t scan_off;         /* reply bytes before it are whole messages, checked */
    size_t n_whole;          /* whole messages in reply, not yet handed over */
    size_t held_bytes;       /* DATA whose stream window is not given back yet */
    int wants;               /* the receiver takes a message now */
    int events_begun;        /* an event went: the response headers with it */
    int ended;               /* out of the client's lists; `final` is its end */
    int cut_here;            /* the gateway ends it (cancel, deadline, stop, no memory): the
                              * messages waiting are dropped */
    gw_upstream_result *final;
    int done_sent;
    int released;            /* the receiver let go */
    int in_ending;
    struct gw_h2_call *ending_next; /* `ending` */
} h2_call;

/* A connection: down (a free slot), connecting (TCP), in its TLS handshake
 * (an upstream over TLS), up. */
typedef enum h2_state { H2_DOWN, H2_CONNECTING, H2_HANDSHAKE, H2_UP } h2_state;

/* One connection to the upstream: one taking calls, or one finishing its
 * streams after a GOAWAY; a free slot has no session. */
typedef struct h2_conn {
    gw_loop_source src;      /* first: the loop hands it back to tick */
    struct gw_h2 *c;
    h2_state state;
    int fd;
    int stale_events;        /* opened in conns[0]'s tick: the loop's events of
                              * this round are the old fd's */
    nghttp2_session *session;
    int goaway;              /* the upstream said GOAWAY, or the stream ids ran
                              * out: no new streams here */
    int request_id_indexed;  /* a call on this session sent x-request-id indexed */
    size_t n_streams;        /* calls submitted on the connection and not finished */
    int64_t idle_since_ms;   /* -1, or since when it has carried no call (a
                              * connection beyond the first taking calls) */
    gw_buf out;              /* frames to write, gathered so that one send takes them all */
    size_t out_off;          /* written of out (dropped from its front before it grows) */
    gnutls_session_t tls;    /* over TLS: the connection's session, else NULL */
    size_t tls_unsent;       /* bytes gnutls_record_send took and could not send yet (it
                              * must be called again with as many) */
    int handshake_writes;    /* H2_HANDSHAKE: the handshake waits to write, not to read */
    char tls_error[120];     /* why GnuTLS ended the connection (conn_recv) */
    int settings_seen;       /* the upstream's first SETTINGS came: it is an HTTP/2 server */
    int64_t answer_due_ms;   /* until then: when the connect has failed (GW_UPSTREAM_DEAD_AFTER_MS) */
    int addr;                /* its address in c->addrs, or -1: one the resolver no longer gives */
    gw_address peer;         /* that address */
} h2_conn;

/* One of the upstream's addresses, with its own backoff (a gRPC
 * channel's subchannel). */
typedef struct h2_addr {
    gw_address a;
    int64_t backoff_ms;      /* 0 once a connect to it succeeds */
    int64_t retry_at_ms;     /* after a failed connect: none opens to it until then */
} h2_addr;

struct gw_h2 {
    char target[160];        /* for messages */
    gw_resolver *resolver;   /* the upstream's addresses (shared) */
    unsigned addrs_generation; /* of the resolver's answer copied into addrs */
    h2_addr addrs[GW_RESOLVE_MAX_ADDRS];
    int n_addrs;             /* 0: no answer yet, or the name did not resolve */
    int next_addr;           /* round robin: the address the next call tries first */
    char resolve_error[200]; /* why the name gave no address, or "" */
    gw_resolve_waiter waiter; /* listed while calls wait for the resolver's answer */
    char authority[300];     /* gw_resolver_authority */
    h2_conn conns[GW_H2_SOURCES]; /* the connections, in the order they take calls */
    int n_slots;             /* conns[n_slots ..] have no session */
    uint32_t peer_streams;   /* the upstream's stream limit in its last SETTINGS
                              * (0: none came yet) */
    char connect_error[200]; /* why the last connect failed */
    gnutls_certificate_credentials_t tls; /* TLS to the upstream, or NULL: plaintext */
    char tls_name[256];      /* the name its certificate must carry; "": each address's own */
    int tls_sni;             /* tls_name is a DNS name: sent as SNI too */
    h2_call *live_head, *live_tail;
    h2_call *queue_head, *queue_tail;
    atomic_int cancel_all;
    int retry_shutdown_cancels; /* gw_h2_retry_shutdown_cancels */
    int quiet;               /* gw_h2_quiet: connect failures not logged */
    h2_call *held;           /* CANCELLED replies held until the read that brought
                              * them ends (resolve_held) */
    h2_call *ending;         /* streaming calls ended since conns[0]'s last tick */
    uint8_t read_buf[READ_CHUNK];
};

/* ---- call bookkeeping ------------------------------------------------------ */

static void live_insert(gw_h2 *c, h2_call *k)
{ /* deadlines mostly come in order: walk back from the tail */
    h2_call *after = c->live_tail;
    while (after && after->deadline_ms > k->deadline_ms)
        after = after->prev;
    k->prev = after;
    k->next = after ? after->next : c->live_head;
    if (k->next)
        k->next->prev = k;
    else
        c->live_tail = k;
    if (after)
        after->next = k;
    else
        c->live_head = k;
}

static void live_remove(gw_h2 *c, h2_call *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        c->live_head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    else
        c->live_tail = k->prev;
    k->prev = k->next = NULL;
}

static void queue_push(gw_h2 *c, h2_call *k)
{
    k->queued = 1;
    k->queue_next = NULL;
    if (c->queue_tail)
        c->queue_tail->queue_next = k;
    else
        c->queue_head = k;
    c->queue_tail = k;
}

static void queue_push_front(gw_h2 *c, h2_call *k)
{
    k->queued = 1;
    k->queue_next = c->queue_head;
    c->queue_head = k;
    if (!c->queue_tail)
        c->queue_tail = k;
}

static h2_call *queue_pop(gw_h2 *c)
{
    h2_call *k = c->queue_head;
    if (k) {
        c->queue_head = k->queue_next;
        if (!c->queue_head)
            c->queue_tail = NULL;
        k->queued = 0;
    }
    return k;
}

static void queue_remove(gw_h2 *c, h2_call *k)
{
    h2_call **p = &c->queue_head, *last = NULL;
    while (*p && *p != k)
        last = *p, p = &(*p)->queue_next;
    if (!*p)
        return;
    *p = k->queue_next;
    if (c->queue_tail == k)
        c->queue_tail = last;
    k->queued = 0;
}

static void call_free(h2_call *k)
{
    free(k->nv);
    gw_buf_free(&k->nv_text);
    gw_buf_free(&k->body);
    gw_buf_free(&k->reply);
    free(k->grpc_message);
    gw_metadata_free(k->md[0], k->n_md[0]);
    gw_metadata_free(k->md[1], k->n_md[1]);
    gw_upstream_result_free(k->final);
    free(k);
}

/* ---- results ---------------------------------------------------------------- */

/* The length in the gRPC message prefix at p (5 bytes). */
static size_t prefix_length(const uint8_t *p)
{
    return (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
}

/* The length in the gRPC message prefix at the start of buf (5 bytes or more). */
static size_t declared_length(const gw_buf *buf)
{
    return prefix_length(buf->data);
}

/* The reply's one message as a slice (the buffer moves into it). */
static int take_message(h2_call *k, gw_upstream_result *r)
{
    const uint8_t *p = k->reply.data;
    if (k->reply.len < 5)
        return -1;
    if (p[0] != 0)
        return -2; /* compressed: this client accepts identity only */
    size_t len = declared_length(&k->reply);
    if (len != k->reply.len - 5)
        return -1;
    size_t total;
    uint8_t *data = gw_buf_steal(&k->reply, &total);
    r->reply_block = data;
    r->reply = data + 5;
    r->reply_len = len;
    return 0;
}

/* The HTTP status of a reply without grpc-status, as gRPC maps it. */
static grpc_status_code status_from_http(int http)
{
    switch (http) {
    case 400: return GRPC_STATUS_INTERNAL;
    case 401: return GRPC_STATUS_UNAUTHENTICATED;
    case 403: return GRPC_STATUS_PERMISSION_DENIED;
    case 404: return GRPC_STATUS_UNIMPLEMENTED;
    case 429: case 502: case 503: case 504: return GRPC_STATUS_UNAVAILABLE;
    default: return GRPC_STATUS_UNKNOWN;
    }
}

/* (The message is NULL when there was no memory for it.) */
static void set_status(gw_upstream_result *r, grpc_status_code code, const char *message)
{
    r->status = code;
    free(r->message);
    r->message = strdup(message);
}

/* Takes k out of the client: its lists, its connection's count, its
 * stream's record. */
static void call_unlink(h2_call *k)
{
    gw_h2 *c = k->c;
    live_remove(c, k);
    if (k->queued)
        queue_remove(c, k);
    if (k->stream_id > 0) {
        h2_conn *n = k->conn;
        n->n_streams--;
        if (n->session)
            nghttp2_session_set_stream_user_data(n->session, k->stream_id, NULL);
        k->stream_id = 0;
        k->conn = NULL;
    }
}

/* k's result, with `code` and `message`, or FROM_REPLY: what the upstream
 * sent.  A unary call's holds its reply's one message and the response
 * headers; a streaming call's none of its messages, and its headers stay
 * for the first event (stream_deliver_end).  NULL when out of memory. */
static gw_upstream_result *build_result(h2_call *k, grpc_status_code code, const char *message)
{
    gw_upstream_result *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    if (!k->streaming) {
        r->initial = k->md[0], r->n_initial = k->n_md[0];
        k->md[0] = NULL, k->n_md[0] = 0;
    }
    r->trailing = k->md[1], r->n_trailing = k->n_md[1];
    k->md[1] = NULL, k->n_md[1] = 0;
    if (!r->initial)
        r->initial = calloc(1, sizeof(*r->initial));
    if (!r->trailing)
        r->trailing = calloc(1, sizeof(*r->trailing));
    if (code != FROM_REPLY) {
        set_status(r, code, message);
    } else if (k->failed_alloc) {
        set_status(r, GRPC_STATUS_INTERNAL, GW_ERR_OOM);
    } else if (k->http_status == 0) { /* RST_STREAM(NO_ERROR), as gRPC core reads it */
        set_status(r, GRPC_STATUS_INTERNAL, "the upstream reset the stream (NO_ERROR) "
                                            "before answering");
    } else if (k->http_status != 200 && !(k->trailers_only && k->grpc_status >= 0)) {
        /* gRPC's rule: a grpc-status beside the HTTP status (Trailers-Only)
         * wins; otherwise the HTTP status says what went wrong */
        char text[80];
        snprintf(text, sizeof(text), "the upstream answered HTTP %d", k->http_status);
        set_status(r, status_from_http(k->http_status), text);
    } else if (k->not_grpc) {
        char text[120];
        snprintf(text, sizeof(text), "the upstream's reply is not gRPC (content-type %s)",
                 k->content_type);
        set_status(r, GRPC_STATUS_INTERNAL, text);
    } else if (k->grpc_status < 0) {
        set_status(r, GRPC_STATUS_INTERNAL,
                   "the upstream answered HTTP 200 without a gRPC status");
    } else {
        r->status = (grpc_status_code)k->grpc_status;
        r->message = k->grpc_message ? k->grpc_message : strdup("");
        k->grpc_message = NULL;
        if (r->status == GRPC_STATUS_OK && k->streaming) {
            if (k->reply.len > k->scan_off)
                set_status(r, GRPC_STATUS_INTERNAL, "the upstream's reply ended inside a message");
        } else if (r->status == GRPC_STATUS_OK) {
            int rc = take_message(k, r);
            if (rc == -2)
                set_status(r, GRPC_STATUS_INTERNAL, "the upstream sent a compressed message "
                                                    "without the encoding being agreed");
            else if (rc < 0)
                set_status(r, GRPC_STATUS_INTERNAL,
                           "the upstream answered OK without exactly one message");
        }
    }
    if (!r->message || !r->initial || !r->trailing) {
        gw_upstream_result_free(r);
        return NULL;
    }
    return r;
}

static void stream_end(h2_call *k, gw_upstream_result *final);

/* Removes k everywhere and hands its result over: a unary call's to its
 * `done`, which the call does not outlive; a streaming call's to its
 * receiver, after the messages before it (stream_end). */
static void call_finish(h2_call *k, grpc_status_code code, const char *message)
{
    call_unlink(k);
    gw_upstream_result *r = build_result(k, code, message);
    if (k->streaming) {
        stream_end(k, r);
        return;
    }
    gw_upstream_done done = k->done;
    void *arg = k->arg;
    call_free(k);
    done(arg, r); /* NULL only when out of memory */
}

/* ---- streaming calls: handing the messages over ---------------------------------
 *
 * A streaming call's DATA is kept in k->reply; scan_off walks the message
 * prefixes as they come (each one checked: a compressed, malformed or too
 * large message ends the call at once), and a message that has come whole
 * is handed to the receiver when it wants one: at once for a call read
 * ahead (one reply), else after gw_h2_stream_next.  The receiver's pace is
 * the upstream's: the stream's window (SETTINGS_INITIAL_WINDOW_SIZE) is
 * given back only while no whole message waits for the receiver, so a
 * slow client holds at most a window of unread replies here, while the
 * connection's window is given back at once (one slow stream must not
 * hold up the calls beside it).  The end comes after the messages that
 * came whole before it, whatever ended it (a status, a reset, a refused
 * message, the connection lost), unless the gateway cut the call itself
 * (cut_here: cancelled, expired, stopped, out of memory): those are then
 * dropped.  Ends reach the receiver from conns[0]'s
 * tick or from gw_h2_stream_next, never from inside gw_h2_stream_cancel
 * or gw_h2_stream_release, which the receiver may call holding its own
 * lock. */

static void stream_drop_messages(h2_call *k)
{
    gw_buf_free(&k->reply);
    k->reply_off = k->scan_off = 0;
    k->n_whole = 0;
}

/* The ended call's end waits in `ending` for the tick that hands it over
 * (NULL: no memory for it). */
static void stream_end(h2_call *k, gw_upstream_result *final)
{
    gw_h2 *c = k->c;
    k->ended = 1;
    k->final = final;
    k->held_bytes = 0;
    if (k->cut_here || !final)
        stream_drop_messages(k);
    if (!k->in_ending) {
        k->in_ending = 1;
        k->ending_next = c->ending;
        c->ending = k;
    }
    gw_loop_tick_soon(c->conns[0].src.loop);
}

/* Out of memory for a message: the call fails (INTERNAL), with none of
 * the messages that wait. */
static void stream_out_of_memory(h2_call *k)
{
    if (!k->ended) {
        if (k->stream_id > 0 && k->conn->session)
            nghttp2_submit_rst_stream(k->conn->session, NGHTTP2_FLAG_NONE, k->stream_id,
                                      NGHTTP2_CANCEL);
        k->cut_here = 1;
        call_finish(k, GRPC_STATUS_INTERNAL, GW_ERR_OOM);
        return;
    }
    gw_upstream_result_free(k->final);
    k->final = NULL; /* the receiver reads NULL as out of memory */
    stream_drop_messages(k);
}

/* Checks the prefixes of the messages that came since the last scan and
 * counts those that came whole.  -1 when one is refused: the call has
 * ended. */
static int stream_scan(h2_call *k)
{
    while (k->reply.len - k->scan_off >= 5) {
        const uint8_t *p = k->reply.data + k->scan_off;
        size_t len = prefix_length(p);
        const char *refusal = NULL;
        grpc_status_code code = GRPC_STATUS_INTERNAL;
        if (p[0] == 1) {
            refusal = "the upstream sent a compressed message without the encoding being agreed";
        } else if (p[0] > 1) {
            refusal = "the upstream's reply is not a gRPC message";
        } else if (len > GW_REPLY_MAX_BYTES) {
            refusal = "a message of the upstream's reply is larger than 64 MiB";
            code = GRPC_STATUS_RESOURCE_EXHAUSTED;
        }
        if (refusal) {
            nghttp2_submit_rst_stream(k->conn->session, NGHTTP2_FLAG_NONE, k->stream_id,
                                      NGHTTP2_CANCEL);
            call_finish(k, code, refusal);
            return -1;
        }
        if (k->reply.len - k->scan_off - 5 < len)
            break;
        k->scan_off += 5 + len;
        k->n_whole++;
    }
    return 0;
}

/* The first event carries the response headers. */
static void stream_give_headers(h2_call *k, gw_upstream_result *r)
{
    if (!k->events_begun && k->md[0]) {
        gw_metadata_free(r->initial, r->n_initial);
        r->initial = k->md[0], r->n_initial = k->n_md[0];
        k->md[0] = NULL, k->n_md[0] = 0;
    }
    k->events_begun = 1;
}

/* Hands the next whole message over: the reply buffer itself when it holds
 * that message alone (the common case: a message a read), else a copy. */
static void stream_deliver_message(h2_call *k)
{
    const uint8_t *p = k->reply.data + k->reply_off;
    size_t len = prefix_length(p), total;
    gw_upstream_result *r = calloc(1, sizeof(*r));
    uint8_t *data = NULL;
    if (r && k->reply_off == 0 && 5 + len == k->reply.len) {
        data = gw_buf_steal(&k->reply, &total);
        k->scan_off = 0;
    } else if (r && (data = malloc(5 + len))) {
        memcpy(data, p, 5 + len);
        k->reply_off += 5 + len;
        if (k->reply_off == k->reply.len) {
            k->reply.len = k->reply_off = k->scan_off = 0;
        } else if (k->reply_off >= READ_CHUNK && k->reply_off * 2 >= k->reply.len) {
            memmove(k->reply.data, k->reply.data + k->reply_off, k->reply.len - k->reply_off);
            k->reply.len -= k->reply_off;
            k->scan_off -= k->reply_off;
            k->reply_off = 0;
        }
    }
    if (!data) {
        free(r);
        stream_out_of_memory(k);
        return;
    }
    r->reply_block = data;
    r->reply = data + 5;
    r->reply_len = len;
    stream_give_headers(k, r);
    k->n_whole--;
    k->wants = k->events.read_ahead;
    k->events.on_message(k->arg, r);
}

static void stream_deliver_end(h2_call *k)
{
    gw_upstream_result *r = k->final;
    k->final = NULL;
    k->done_sent = 1;
    if (r)
        stream_give_headers(k, r);
    k->events.on_done(k->arg, r); /* last: the receiver may release k from within */
}

/* Gives the receiver what it is ready for, in order: the messages that
 * came whole, while it wants them, then the end once none waits; gives the
 * stream's window back once no whole message waits.  k may be freed when
 * this returns. */
static void stream_pump(h2_call *k)
{
    while (k->wants && k->n_whole > 0 && !k->released)
        stream_deliver_message(k);
    if (k->n_whole == 0 && k->held_bytes && k->stream_id > 0 && k->conn->session) {
        nghttp2_session_consume_stream(k->conn->session, k->stream_id, k->held_bytes);
        gw_loop_tick_soon(k->c->conns[0].src.loop); /* its WINDOW_UPDATE goes out */
    }
    if (k->n_whole == 0)
        k->held_bytes = 0;
    if (k->ended && k->n_whole == 0 && !k->done_sent && !k->released)
        stream_deliver_end(k);
}

/* DATA for a streaming call (its connection's window is given back). */
static void stream_data(nghttp2_session *s, h2_call *k, const uint8_t *data, size_t len)
{
    if (k->http_status != 200 || k->not_grpc) { /* an error page: nothing gRPC reads */
        nghttp2_session_consume_stream(s, k->stream_id, len);
        return;
    }
    gw_buf_append(&k->reply, data, len);
    if (k->reply.oom) {
        k->reply.oom = 0;
        stream_out_of_memory(k);
        return;
    }
    if (stream_scan(k) < 0)
        return;
    k->held_bytes += len;
    stream_pump(k);
}

/* Hands over the ends of the streaming calls that ended since the last
 * tick, and frees those the receiver has let go. */
static void serve_endings(gw_h2 *c)
{
    h2_call *k;
    while ((k = c->ending)) {
        c->ending = k->ending_next;
        k->in_ending = 0;
        if (k->released)
            call_free(k);
        else
            stream_pump(k);
    }
}

/* ---- nghttp2 callbacks ------------------------------------------------------ */

/* A call goes out again as it first did (refused, or cancelled by a stopping
 * host before any plugin had it): what came of it so far is dropped. */
static void reset_for_retry(h2_call *k)
{
    k->sent = 0;
    gw_buf_free(&k->reply);
    free(k->grpc_message);
    k->grpc_message = NULL;
    k->grpc_status = -1;
    k->http_status = 0;
    k->trailers_only = 0;
    k->in_trailers = 0;
    k->content_type[0] = '\0';
    k->not_grpc = 0;
    k->interim = 0;
    k->reset_here = 0;
    k->headers_sent = 0;
    k->ended_early = 0;
    k->failed_alloc = 0;
    k->reply_off = k->scan_off = k->n_whole = k->held_bytes = 0;
    for (int i = 0; i < 2; i++) {
        gw_metadata_free(k->md[i], k->n_md[i]);
        k->md[i] = NULL;
        k->n_md[i] = k->cap_md[i] = 0;
        k->md_bytes[i] = 0;
    }
}

static h2_call *stream_call(nghttp2_session *s, int32_t stream_id)
{
    return nghttp2_session_get_stream_user_data(s, stream_id);
}

static ssize_t read_body(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t max,
                         uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)s, (void)stream_id, (void)user;
    h2_call *k = src->ptr;
    size_t n = k->body.len - k->sent < max ? k->body.len - k->sent : max;
    if (n) /* (a client-streaming call may send no message) */
        memcpy(buf, k->body.data + k->sent, n);
    k->sent += n;
    if (k->sent == k->body.len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* A reply over the limit: the stream is reset and the call fails. */
static void refuse_large_reply(nghttp2_session *s, h2_call *k)
{
    nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, k->stream_id, NGHTTP2_CANCEL);
    call_finish(k, GRPC_STATUS_RESOURCE_EXHAUSTED, "the upstream's reply is larger than 64 MiB");
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data,
                   size_t len, void *user)
{
    (void)flags, (void)user;
    h2_call *k = stream_call(s, stream_id);
    if (k && k->streaming) {
        nghttp2_session_consume_connection(s, len);
        stream_data(s, k, data, len);
        return 0;
    }
    nghttp2_session_consume(s, stream_id, len); /* read whole at once: the window goes back */
    if (!k || k->http_status != 200 || k->not_grpc)
        return 0; /* an error page or the like: its body says nothing gRPC reads */
    if (k->reply.len + len > GW_REPLY_MAX_BYTES + 5) {
        refuse_large_reply(s, k);
        return 0;
    }
    gw_buf_append(&k->reply, data, len);
    k->failed_alloc |= k->reply.oom;
    int prefix_complete = !k->reply.oom && k->reply.len >= 5 && k->reply.len - len < 5;
    if (prefix_complete && k->reply.data[0] > 1) { /* the flag byte is 0 or 1 */
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, k->stream_id, NGHTTP2_CANCEL);
        call_finish(k, GRPC_STATUS_INTERNAL, "the upstream's reply is not a gRPC message");
    } else if (prefix_complete && declared_length(&k->reply) > GW_REPLY_MAX_BYTES) {
        refuse_large_reply(s, k); /* its prefix says so: no need to wait for it all */
    } else if (prefix_complete && declared_length(&k->reply) + 5 > STREAM_WINDOW) {
        /* read whole at once, as its window goes back: the rest may come */
        nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, stream_id,
                                              (int32_t)(declared_length(&k->reply) + 5));
    }
    return 0;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
    (void)user;
    h2_call *k = stream_call(s, frame->hd.stream_id);
    if (!k)
        return 0;
    k->interim = 0;
    /* nghttp2 files a final response after a 1xx under HEADERS too */
    if (frame->headers.cat == NGHTTP2_HCAT_HEADERS && k->http_status >= 200)
        k->in_trailers = 1;
    return 0;
}

static int add_metadata(h2_call *k, int which, const uint8_t *name, size_t name_len,
                        const uint8_t *value, size_t value_len)
{
    if (k->n_md[which] == k->cap_md[which]) {
        size_t cap = k->cap_md[which] ? k->cap_md[which] * 2 : 4;
        gw_metadata *grown = realloc(k->md[which], cap * sizeof(*grown));
        if (!grown)
            return -1;
        k->md[which] = grown, k->cap_md[which] = cap;
    }
    gw_metadata *m = &k->md[which][k->n_md[which]];
    m->key = malloc(name_len + 1);
    if (!m->key)
        return -1;
    memcpy(m->key, name, name_len);
    m->key[name_len] = '\0';
    if (name_len > 4 && memcmp(name + name_len - 4, "-bin", 4) == 0) {
        gw_buf decoded = GW_BUF_INIT;
        if (gw_base64_decode(&decoded, (const char *)value, value_len) != GW_OK || decoded.oom) {
            gw_buf_free(&decoded);
            free(m->key);
            return 0; /* not base64: dropped, as gRPC core does */
        }
        m->value_len = decoded.len;
        m->value = malloc(decoded.len + 1);
        if (m->value && decoded.len)
            memcpy(m->value, decoded.data, decoded.len);
        gw_buf_free(&decoded);
    } else {
        m->value_len = value_len;
        m->value = malloc(value_len + 1);
        if (m->value)
            memcpy(m->value, value, value_len);
    }
    if (!m->value) {
        free(m->key);
        return -1;
    }
    m->value[m->value_len] = '\0';
    k->n_md[which]++;
    return 0;
}

static int hex_value(uint8_t ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
}

/* grpc-message is percent-encoded; a malformed escape stays as it is, and
 * so does %00, which would end the message where it is read as a C
 * string. */
static char *percent_decode(const uint8_t *s, size_t len)
{
    char *out = malloc(len + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = hex_value(s[i + 1])) >= 0 &&
            (lo = hex_value(s[i + 2])) >= 0 && (hi | lo) != 0) {
            *o++ = (char)(hi << 4 | lo);
            i += 2;
        } else {
            *o++ = (char)s[i];
        }
    }
    *o = '\0';
    return out;
}

/* grpc-status as gRPC reads it: a decimal number (up to 2^31 - 1), else UNKNOWN
 * (never 0, OK, as atoi would make of "abc"). */
static int parse_status(const uint8_t *value, size_t len)
{
    uint64_t n = 0;
    if (len == 0 || len > 10)
        return GRPC_STATUS_UNKNOWN;
    for (size_t i = 0; i < len; i++) {
        if (value[i] < '0' || value[i] > '9')
            return GRPC_STATUS_UNKNOWN;
        n = n * 10 + (uint64_t)(value[i] - '0');
    }
    return n > INT32_MAX ? GRPC_STATUS_UNKNOWN : (int)n;
}

static int name_is(const uint8_t *name, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* A header block over the limit (HPACK makes much of little: a byte can
 * repeat a 4 KB field): the stream is reset and the call fails, with none
 * of the metadata. */
static void refuse_large_metadata(nghttp2_session *s, h2_call *k)
{
    nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, k->stream_id, NGHTTP2_CANCEL);
    for (int i = 0; i < 2; i++) {
        gw_metadata_free(k->md[i], k->n_md[i]);
        k->md[i] = NULL, k->n_md[i] = k->cap_md[i] = 0;
    }
    call_finish(k, GRPC_STATUS_RESOURCE_EXHAUSTED, "the upstream's metadata is larger than 1 MiB");
}

/* application/grpc, application/grpc+proto, application/grpc;... are gRPC. */
static void note_content_type(h2_call *k, const uint8_t *value, size_t len)
{
    static const char grpc[] = "application/grpc";
    size_t glen = sizeof(grpc) - 1;
    k->not_grpc = !(len >= glen && strncasecmp((const char *)value, grpc, glen) == 0 &&
                    (len == glen || value[glen] == '+' || value[glen] == ';'));
    size_t n = len < sizeof(k->content_type) - 1 ? len : sizeof(k->content_type) - 1;
    for (size_t i = 0; i < n; i++) /* for a message: printable ASCII only */
        k->content_type[i] = value[i] >= 0x20 && value[i] < 0x7f ? (char)value[i] : '?';
    k->content_type[n] = '\0';
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                     size_t name_len, const uint8_t *value, size_t value_len, uint8_t flags,
                     void *user)
{
    (void)flags, (void)user;
    h2_call *k = stream_call(s, frame->hd.stream_id);
    if (!k)
        return 0;
    /* Trailers-Only: the first block ends the stream and carries the status */
    int trailing = k->in_trailers || (frame->hd.flags & NGHTTP2_FLAG_END_STREAM);
    k->md_bytes[trailing] += name_len + value_len + 32;
    if (k->md_bytes[trailing] > GW_REPLY_METADATA_MAX_BYTES) {
        refuse_large_metadata(s, k);
        return 0;
    }
    if (name_is(name, name_len, ":status")) {
        k->http_status = atoi((const char *)value); /* a 1xx block's is replaced */
        k->interim = k->http_status < 200;
        k->trailers_only = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    } else if (k->interim) {
        /* a 1xx response's fields are not the reply's metadata */
    } else if (name_is(name, name_len, "grpc-status") || name_is(name, name_len, "grpc-message")) {
        if (trailing && name_len == strlen("grpc-status")) { /* only the last block's count */
            k->grpc_status = parse_status(value, value_len);
        } else if (trailing) {
            free(k->grpc_message);
            if (!(k->grpc_message = percent_decode(value, value_len)))
                k->failed_alloc = 1;
        }
    } else if (name_is(name, name_len, "content-type")) {
        note_content_type(k, value, value_len);
    } else if (name[0] == ':' || name_is(name, name_len, "grpc-encoding") ||
               name_is(name, name_len, "grpc-accept-encoding")) {
        /* the transport's, not the application's */
    } else if (add_metadata(k, trailing, name, name_len, value, value_len) < 0) {
        k->failed_alloc = 1;
    }
    return 0;
}

/* A field nghttp2 finds invalid but can skip (a value with a control
 * character, a name with one): left out, and the call goes on, instead of
 * nghttp2's default of resetting the stream for one bad metadata entry.
 * (A name with upper case still resets it: nghttp2 allows no callback.) */
static int on_invalid_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                             size_t name_len, const uint8_t *value, size_t value_len,
                             uint8_t flags, void *user)
{
    (void)s, (void)frame, (void)name, (void)name_len, (void)value, (void)value_len;
    (void)flags, (void)user;
    return 0;
}

/* The status gRPC gives a stream its peer reset with `error` (gRPC's
 * PROTOCOL-HTTP2 mapping, as gRPC core's transport applies it). */
static grpc_status_code status_from_reset(uint32_t error)
{
    switch (error) {
    case NGHTTP2_REFUSED_STREAM: return GRPC_STATUS_UNAVAILABLE;
    case NGHTTP2_CANCEL: return GRPC_STATUS_CANCELLED;
    case NGHTTP2_ENHANCE_YOUR_CALM: return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case NGHTTP2_INADEQUATE_SECURITY: return GRPC_STATUS_PERMISSION_DENIED;
    default: return GRPC_STATUS_INTERNAL;
    }
}

static int on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error, void *user)
{
    h2_conn *n = user;
    gw_h2 *c = n->c;
    h2_call *k = stream_call(s, stream_id);
    if (!k)
        return 0;
    /* REFUSED_STREAM says the upstream did nothing with the call; once it
     * has begun to answer, the call is not sent again (gRPC core's rule) */
    int refused_unanswered = error == NGHTTP2_REFUSED_STREAM && k->http_status == 0;
    if (refused_unanswered && k->tries < MAX_TRIES) {
        k->stream_id = 0; /* never processed: send it again */
        k->conn = NULL;
        n->n_streams--;
        reset_for_retry(k);
        queue_push(c, k);
        return 0;
    }
    /* (not one closed by end_request_early's reset, which closes it as the
     * reset is sent, after the read whose end resolve_held waits for) */
    if (c->retry_shutdown_cancels && error == NGHTTP2_NO_ERROR && !k->ended_early &&
        k->trailers_only &&
        k->http_status == 200 && k->grpc_status == GRPC_STATUS_CANCELLED &&
        k->reply.len == 0 && k->tries < MAX_TRIES) {
        k->held_stream = stream_id; /* answered or sent again once the read ends */
        k->held_reset = 0;
        k->stream_id = 0;
        k->conn = NULL;
        n->n_streams--;
        k->held_next = c->held;
        c->held = k;
        return 0;
    }
    if (error != NGHTTP2_NO_ERROR && k->grpc_status < 0) {
        char text[80];
        if (refused_unanswered)
            snprintf(text, sizeof(text), "the upstream refused the call %d times", k->tries);
        else if (k->reset_here)
            snprintf(text, sizeof(text), "the upstream's reply broke HTTP/2 (%s)",
                     nghttp2_http2_strerror(error));
        else
            snprintf(text, sizeof(text), "the upstream reset the stream (%s)",
                     nghttp2_http2_strerror(error));
        call_finish(k, status_from_reset(error), text);
        return 0;
    }
    call_finish(k, FROM_REPLY, NULL);
    return 0;
}

/* A call's HEADERS went out; or a RST_STREAM the gateway did not ask for
 * (its own are CANCEL, or REFUSED_STREAM for a call it takes back):
 * nghttp2 found the upstream's frames on that stream malformed. */
static int on_frame_send(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
    h2_conn *n = user;
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR)
        rp_log("upstream %s: the gateway ends the connection: it broke HTTP/2 (%s%s); the "
               "calls on it fail with UNAVAILABLE", n->c->target,
               nghttp2_http2_strerror(frame->goaway.error_code),
               frame->goaway.error_code == NGHTTP2_COMPRESSION_ERROR
                   ? ", or sent a header field over 64 KiB, more than the gateway decodes"
                   : "");
    h2_call *k = stream_call(s, frame->hd.stream_id);
    if (k && frame->hd.type == NGHTTP2_HEADERS)
        k->headers_sent = 1;
    else if (k && frame->hd.type == NGHTTP2_RST_STREAM &&
             frame->rst_stream.error_code != NGHTTP2_CANCEL &&
             frame->rst_stream.error_code != NGHTTP2_REFUSED_STREAM)
        k->reset_here = 1;
    return 0;
}

/* The upstream's answer is complete (END_STREAM) while the request's body
 * is not all sent: the answer stands (RFC 9113 8.1, a Trailers-Only error
 * for a body too large, a proxy's 503), and the rest of the body is not
 * sent: the stream is reset with NO_ERROR, which closes it at once and
 * finishes the call as answered.  (The stream would otherwise stay open
 * until the body was sent, behind a window the upstream need not open.) */
static void end_request_early(nghttp2_session *s, const nghttp2_frame *frame)
{
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return;
    h2_call *k = stream_call(s, frame->hd.stream_id);
    if (k && k->sent < k->body.len && !k->ended_early) {
        k->ended_early = 1;
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, k->stream_id, NGHTTP2_NO_ERROR);
    }
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
    h2_conn *n = user;
    end_request_early(s, frame);
    if (frame->hd.type == NGHTTP2_GOAWAY)
        n->goaway = 1;
    if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
        n->settings_seen = 1; /* connected: the backoff starts again from its least */
        if (n->addr >= 0)
            n->c->addrs[n->addr].backoff_ms = 0;
    }
    if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK))
        n->c->peer_streams =
            nghttp2_session_get_remote_settings(s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    if (frame->hd.type == NGHTTP2_RST_STREAM && frame->rst_stream.error_code == NGHTTP2_NO_ERROR)
        for (h2_call *k = n->c->held; k; k = k->held_next)
            if (k->held_stream == frame->hd.stream_id)
                k->held_reset = 1;
    return 0;
}

/* ---- the connection ----------------------------------------------------------- */

static ssize_t conn_recv(h2_conn *n, void *buf, size_t len);
static ssize_t conn_send(h2_conn *n, const void *data, size_t len);

/* nghttp2's frames, gathered in n->out for flush (the HEADERS and DATA of
 * the calls started in one round go out in one send, and the host wakes
 * once for them).  When out cannot grow, nothing is lost: nghttp2 keeps a
 * frame it was told would block, so out is written first, and then the
 * frame straight from nghttp2's buffer.  While the socket stays full, out
 * never drains: what was written is dropped from its front before it
 * grows, so that it stays one send's worth instead of everything sent. */
static ssize_t on_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    (void)s, (void)flags;
    h2_conn *n = user;
    size_t pending = n->out.len - n->out_off;
    if (pending >= READ_CHUNK)
        return NGHTTP2_ERR_WOULDBLOCK; /* enough for one send: flush writes it first */
    if (n->out_off && n->out.cap - n->out.len < len) {
        memmove(n->out.data, n->out.data + n->out_off, pending);
        n->out.len = pending;
        n->out_off = 0;
    }
    if (gw_buf_reserve(&n->out, len) == 0) {
        memcpy(n->out.data + n->out.len, data, len);
        n->out.len += len;
        return (ssize_t)len;
    }
    n->out.oom = 0; /* out of memory: out is intact, and may grow later */
    if (pending || n->tls_unsent)
        return NGHTTP2_ERR_WOULDBLOCK;
    ssize_t w = conn_send(n, data, len);
    if (w < 0 && n->tls_unsent) /* GnuTLS holds part of nghttp2's buffer: too late to say no */
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if (w >= 0)
        return w; /* nghttp2 offers the rest again */
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
               ? NGHTTP2_ERR_WOULDBLOCK
               : NGHTTP2_ERR_CALLBACK_FAILURE;
}

/* Fails the calls submitted on connection `on` (NULL: on any), and with
 * `queued` those waiting for one too. */
static void fail_calls(gw_h2 *c, const h2_conn *on, int queued, grpc_status_code code,
                       const char *message)
{
    for (h2_call *k = c->live_head, *next; k; k = next) {
        next = k->next;
        if (k->stream_id > 0 ? !on || k->conn == on : queued)
            call_finish(k, code, message);
    }
}

static void close_connection(h2_conn *n)
{
    n->src.fd = -1;
    if (n->fd >= 0) /* out of the loop's epoll set before the number is reused */
        gw_loop_update(n->src.loop);
    if (n->session) {
        nghttp2_session *s = n->session;
        /* streams it had: never answered now */
        fail_calls(n->c, n, 0, GRPC_STATUS_UNAVAILABLE, "the connection to the upstream closed");
        n->session = NULL;
        nghttp2_session_del(s);
    }
    if (n->tls)
        gnutls_deinit(n->tls);
    n->tls = NULL;
    n->tls_unsent = 0;
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
    n->goaway = 0;
    n->state = H2_DOWN;
    gw_buf_free(&n->out); /* a slot may stay free for long */
    n->out_off = 0;
    gw_h2 *c = n->c;
    while (c->n_slots > 0 && !c->conns[c->n_slots - 1].session)
        c->n_slots--;
}

/* A TCP upstream whose machine went away without a reset (powered off,
 * cut off) would otherwise hold the connection, and fail every call sent on
 * it at its deadline, until TCP gives up retransmitting (about 15 minutes):
 * the kernel closes it once what was sent stays unacknowledged, or unsent
 * behind a window the upstream keeps closed (a process that stopped
 * reading: stopped, stuck), for GW_UPSTREAM_DEAD_AFTER_MS, and probes it while idle
 * so that an idle one goes the same way.  Calls then fail with UNAVAILABLE
 * and the next one reconnects.
 * Kernel-level probes, not HTTP/2 PINGs: servers count PINGs against a
 * client (gRPC's GOAWAY "too_many_pings"); they never see these. */
static void set_tcp_options(int fd)
{
    int one = 1, dead_after = GW_UPSTREAM_DEAD_AFTER_MS, idle = TCP_KEEPALIVE_IDLE_S,
        interval = TCP_KEEPALIVE_INTERVAL_S;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &dead_after, sizeof(dead_after));
}

/* n->fd: a new socket (non-blocking, with the TCP options) connecting to
 * its address.  Returns 0 if it is connected, 1 if the connect is still in
 * progress, or -1 (errno; n->fd stays -1) if it failed. */
static int start_connect(h2_conn *n)
{
    n->fd = socket(n->peer.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (n->fd < 0)
        return -1;
    if (n->peer.sa.ss_family != AF_UNIX)
        set_tcp_options(n->fd);
    if (connect(n->fd, (struct sockaddr *)&n->peer.sa, n->peer.len) == 0)
        return 0;
    if (errno == EINPROGRESS)
        return 1;
    int e = errno;
    close(n->fd);
    n->fd = -1;
    errno = e;
    return -1;
}

/* n->session: a new client session with this file's callbacks, and the
 * per-session state of n reset.  Returns 0, or -1 if nghttp2 could not
 * make one (out of memory). */
static int new_session(h2_conn *n)
{
    gw_h2 *c = n->c;
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_invalid_header_callback(cb, on_invalid_header);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_send_callback(cb, on_send);
    n->request_id_indexed = 0;
    n->idle_since_ms = -1;
    n->settings_seen = 0;
    n->answer_due_ms = gw_loop_now_ms() + GW_UPSTREAM_DEAD_AFTER_MS;
    /* a header block up to GW_REPLY_METADATA_MAX_BYTES in 16 KiB frames (nghttp2's
     * default allows 8: a block of 144 KB ended the whole connection) */
    nghttp2_option *opt = NULL;
    int rc = nghttp2_option_new(&opt);
    if (rc == 0) {
        nghttp2_option_set_max_continuations(opt, GW_REPLY_METADATA_MAX_BYTES / 16384 + 8);
        /* gRPC allows spaces at either end of a value (" lead", and a
         * grpc-message "not found "); RFC 9113's check would reset the
         * stream or drop the field */
        nghttp2_option_set_no_rfc9113_leading_and_trailing_ws_validation(opt, 1);
        /* the windows go back as replies are read (on_data): a streaming
         * call's at the receiver's pace */
        nghttp2_option_set_no_auto_window_update(opt, 1);
        /* until its own SETTINGS come, what the others' said (a burst
         * would put up to 100 calls on a new connection to an upstream
         * that takes 4) */
        if (c->peer_streams)
            nghttp2_option_set_peer_max_concurrent_streams(opt, c->peer_streams);
        rc = nghttp2_session_client_new2(&n->session, cb, n, opt);
        nghttp2_option_del(opt);
    }
    nghttp2_session_callbacks_del(cb);
    return rc != 0 ? -1 : 0;
}

/* The gateway's SETTINGS and connection window, queued on n's session to
 * go out first. */
static void submit_settings(h2_conn *n)
{
    /* the header list a call may carry (its metadata limit).  One field
     * over 64 KiB is more than nghttp2 decodes, and ends the connection
     * (HTTP/2 has no setting to ask for less): the host refuses a
     * plugin's; another upstream's fails every call on the connection
     * (on_frame_send logs the GOAWAY that ends it) */
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, GW_REPLY_METADATA_MAX_BYTES},
    };
    nghttp2_submit_settings(n->session, NGHTTP2_FLAG_NONE, settings,
                            sizeof(settings) / sizeof(settings[0]));
    nghttp2_session_set_local_window_size(n->session, NGHTTP2_FLAG_NONE, 0, 16 << 20);
}

static void connected(h2_conn *n);

/* Starts connecting (a TCP connect may finish later: H2_CONNECTING until
 * the socket is writable; a TLS handshake follows: H2_HANDSHAKE); the
 * session exists from the start, so calls can be submitted at once and go
 * out once connected. */
static int open_connection(h2_conn *n)
{
    gw_h2 *c = n->c;
    int pending = start_connect(n);
    if (pending < 0)
        return -1;
    if (new_session(n) < 0) {
        close(n->fd);
        n->fd = -1;
        errno = ENOMEM;
        return -1;
    }
    submit_settings(n);
    n->state = H2_CONNECTING;
    if (c->n_slots <= n - c->conns)
        c->n_slots = (int)(n - c->conns) + 1;
    if (!pending)
        connected(n);
    return 0;
}

/* The calls submitted on n that nghttp2 has not sent (after a GOAWAY, or a
 * connect that failed), which the upstream never saw, are taken back, their
 * HEADERS cancelled, and queued again ahead of the others, in deadline
 * order. */
static void take_back_unsent(h2_conn *n)
{
    gw_h2 *c = n->c;
    for (h2_call *k = c->live_tail, *prev; k; k = prev) {
        prev = k->prev;
        if (k->conn != n || k->stream_id <= 0 || k->headers_sent)
            continue;
        nghttp2_session_set_stream_user_data(n->session, k->stream_id, NULL);
        nghttp2_submit_rst_stream(n->session, NGHTTP2_FLAG_NONE, k->stream_id,
                                  NGHTTP2_REFUSED_STREAM);
        k->stream_id = 0;
        k->conn = NULL;
        k->tries--; /* not a refusal: it never left */
        n->n_streams--;
        reset_for_retry(k);
        queue_push_front(c, k);
    }
}

/* Whether address a is in its backoff at `now`: no connection opens to it. */
static int addr_waits(const h2_addr *a, int64_t now)
{
    return a->backoff_ms && now < a->retry_at_ms;
}

/* Whether a call can go elsewhere than `n`: another connection takes
 * calls, or another address may be tried now. */
static int others_take_calls(const gw_h2 *c, const h2_conn *n, int64_t now)
{
    for (int i = 0; i < c->n_slots; i++)
        if (&c->conns[i] != n && c->conns[i].session && !c->conns[i].goaway)
            return 1;
    for (int i = 0; i < c->n_addrs; i++)
        if (i != n->addr && !addr_waits(&c->addrs[i], now))
            return 1;
    return 0;
}

/* The connection could not be made: no other opens to its address until
 * that address's backoff passes.  Its calls never left: while another
 * connection takes calls, or another address may be tried, they wait for
 * room there; otherwise they fail, and so do the queued ones and those
 * that come until then (fail fast, as a gRPC channel in TRANSIENT_FAILURE
 * does), and a name is resolved again.  The first failure of a run is
 * logged with the target; clients are not told the target (a private
 * socket's path names the user and the folder). */
static void connect_failed(h2_conn *n, const char *why)
{
    gw_h2 *c = n->c;
    int64_t now = gw_loop_now_ms();
    h2_addr *a = n->addr >= 0 ? &c->addrs[n->addr] : NULL;
    int first = a && !a->backoff_ms;
    if (a) {
        a->backoff_ms = a->backoff_ms ? a->backoff_ms * 2 : GW_RECONNECT_BACKOFF_MIN_MS;
        if (a->backoff_ms > GW_RECONNECT_BACKOFF_MAX_MS)
            a->backoff_ms = GW_RECONNECT_BACKOFF_MAX_MS;
        a->retry_at_ms = now + a->backoff_ms;
    }
    int others = others_take_calls(c, n, now);
    snprintf(c->connect_error, sizeof(c->connect_error), "%s", why);
    if (c->quiet)
        ; /* the owner says why it could not reach the upstream */
    else if (first && c->n_addrs == 1 && !gw_resolver_name(c->resolver))
        rp_log("upstream %s: cannot connect: %s (%s)", c->target, c->connect_error,
               others ? "calls wait for the connections open" : "its calls fail with "
                                                                "UNAVAILABLE until it answers");
    else if (first)
        rp_log("upstream %s: cannot connect to %s: %s (%s)", c->target, n->peer.text,
               c->connect_error, others ? "calls go to the other connections and addresses"
                                        : "its calls fail with UNAVAILABLE until one answers");
    if (others) {
        take_back_unsent(n);
        gw_loop_tick_soon(c->conns[0].src.loop); /* to another address */
    } else {
        /* first: closing would tell them only that the connection closed */
        char text[240];
        snprintf(text, sizeof(text), "cannot connect to the upstream: %s", c->connect_error);
        fail_calls(c, n, 1, GRPC_STATUS_UNAVAILABLE, text);
    }
    /* a name's server may have moved: its answer is asked again (no sooner
     * than the resolver's interval after the last), as gRPC's channels do
     * when a connection to one of a name's addresses fails */
    gw_resolver_refresh(c->resolver, NULL);
    close_connection(n);
}

/* ---- TLS ------------------------------------------------------------------------
 *
 * An upstream over TLS ([gateway] upstream_ca) is reached the same way,
 * with GnuTLS (which libmicrohttpd serves HTTPS with) between nghttp2 and
 * the socket: the handshake runs on the loop like the connect (its
 * failure is the connect's, with GnuTLS's reason: the certificate's
 * verification, an alert of the upstream's), ALPN offers h2 alone, the
 * upstream's certificate must be signed by upstream_ca and carry tls_name
 * (a DNS name, also sent as SNI, or an IP address), and upstream_cert and
 * upstream_key, when set, are the gateway's own certificate. */

/* The name n's upstream certificate must carry: the one configured or
 * resolved, else its address's. */
static const char *tls_name_of(const h2_conn *n)
{
    return n->c->tls_name[0] ? n->c->tls_name : n->peer.host;
}

/* n's TLS session over its socket, ready for the handshake; NULL with the
 * reason in why[whylen] if GnuTLS could not make one. */
static gnutls_session_t tls_session(h2_conn *n, char *why, size_t whylen)
{
    gw_h2 *c = n->c;
    gnutls_session_t s;
    int rc = gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);
    if (rc < 0) {
        snprintf(why, whylen, "TLS: %s", gnutls_strerror(rc));
        return NULL;
    }
    static const gnutls_datum_t h2 = {(unsigned char *)"h2", 2};
    if ((rc = gnutls_set_default_priority(s)) < 0 ||
        (rc = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, c->tls)) < 0 ||
        (c->tls_sni && (rc = gnutls_server_name_set(s, GNUTLS_NAME_DNS, c->tls_name,
                                                    strlen(c->tls_name))) < 0) ||
        (rc = gnutls_alpn_set_protocols(s, &h2, 1, 0)) < 0) {
        snprintf(why, whylen, "TLS: %s", gnutls_strerror(rc));
        gnutls_deinit(s);
        return NULL;
    }
    gnutls_session_set_verify_cert(s, tls_name_of(n), 0);
    gnutls_transport_set_int(s, n->fd);
    return s;
}

/* Why the handshake failed: the certificate's verification, in GnuTLS's
 * words, or its error. */
static void handshake_failure(h2_conn *n, int rc, char *why, size_t whylen)
{
    gnutls_datum_t text = {NULL, 0};
    if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR &&
        gnutls_certificate_verification_status_print(
            gnutls_session_get_verify_cert_status(n->tls), GNUTLS_CRT_X509, &text, 0) == 0) {
        snprintf(why, whylen, "TLS handshake: the upstream's certificate (for %.64s): %s",
                 tls_name_of(n), (const char *)text.data);
        gnutls_free(text.data);
        return;
    }
    if (rc == GNUTLS_E_WARNING_ALERT_RECEIVED || rc == GNUTLS_E_FATAL_ALERT_RECEIVED)
        snprintf(why, whylen, "TLS handshake: the upstream sent the alert \"%s\"",
                 gnutls_alert_get_name(gnutls_alert_get(n->tls)));
    else
        snprintf(why, whylen, "TLS handshake: %s", gnutls_strerror(rc));
}

/* H2_HANDSHAKE and the socket is ready: the handshake goes on; once done,
 * the connection is up. */
static void handshake_step(h2_conn *n)
{
    int rc = gnutls_handshake(n->tls);
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
        n->handshake_writes = gnutls_record_get_direction(n->tls);
        return;
    }
    if (rc < 0) {
        char why[200];
        handshake_failure(n, rc, why, sizeof(why));
        connect_failed(n, why);
        return;
    }
    n->state = H2_UP;
}

/* The socket is connected: up, or into the TLS handshake.  (The connect
 * counts as made once the upstream's SETTINGS come: under TLS 1.3 a
 * client certificate the upstream refuses is known only then.) */
static void connected(h2_conn *n)
{
    if (!n->c->tls) {
        n->state = H2_UP;
        return;
    }
    char why[200];
    if (!(n->tls = tls_session(n, why, sizeof(why)))) {
        connect_failed(n, why);
        return;
    }
    n->state = H2_HANDSHAKE;
    n->handshake_writes = 1; /* the ClientHello first */
}

/* recv on n, through its TLS when it has one: the bytes read, 0 at the end,
 * or -1 with errno (EAGAIN, EINTR; EPROTO for TLS, its reason in
 * n->tls_error). */
static ssize_t conn_recv(h2_conn *n, void *buf, size_t len)
{
    if (!n->tls)
        return recv(n->fd, buf, len, 0);
    ssize_t got = gnutls_record_recv(n->tls, buf, len);
    if (got >= 0 || got == GNUTLS_E_PREMATURE_TERMINATION)
        return got >= 0 ? got : 0; /* closed without a close_notify: closed all the same */
    if (got == GNUTLS_E_AGAIN || got == GNUTLS_E_INTERRUPTED) {
        errno = got == GNUTLS_E_AGAIN ? EAGAIN : EINTR;
        return -1;
    }
    if (got == GNUTLS_E_FATAL_ALERT_RECEIVED)
        snprintf(n->tls_error, sizeof(n->tls_error), "TLS: the upstream sent the alert \"%s\"",
                 gnutls_alert_get_name(gnutls_alert_get(n->tls)));
    else
        snprintf(n->tls_error, sizeof(n->tls_error), "TLS: %s", gnutls_strerror((int)got));
    errno = EPROTO;
    return -1;
}

/* send on n, through its TLS when it has one: the bytes sent, or -1 with
 * errno (EAGAIN: none now).  GnuTLS keeps a record it could not send, and
 * is then asked again for as many bytes (what follows data[0 .. len) is
 * the same, whatever len is now). */
static ssize_t conn_send(h2_conn *n, const void *data, size_t len)
{
    if (!n->tls)
        return send(n->fd, data, len, MSG_NOSIGNAL);
    size_t want = n->tls_unsent ? n->tls_unsent : len;
    ssize_t sent = gnutls_record_send(n->tls, data, want);
    if (sent >= 0) {
        n->tls_unsent = 0;
        return sent;
    }
    if (sent == GNUTLS_E_AGAIN || sent == GNUTLS_E_INTERRUPTED) {
        n->tls_unsent = want;
        errno = EAGAIN;
        return -1;
    }
    errno = EPIPE;
    return -1;
}

/* H2_CONNECTING and the socket says how it went. */
static void connect_finished(h2_conn *n)
{
    int error = 0;
    socklen_t len = sizeof(error);
    if (getsockopt(n->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
        error = errno;
    if (error) {
        connect_failed(n, strerror(error));
        return;
    }
    connected(n);
}

/* grpc-timeout for ms (>= 1) into out[24]: milliseconds, or seconds past
 * the 8 digits gRPC allows.  Returns its length.  (Every call formats one:
 * no printf.) */
static size_t format_timeout(char out[24], int64_t ms)
{
    char unit = 'm';
    if (ms > 99999999)
        ms /= 1000, unit = 'S';
    size_t n = gw_decimal(out, (uint64_t)ms);
    out[n] = unit;
    out[n + 1] = '\0';
    return n + 1;
}

/* How many calls n takes at once: the upstream's
 * SETTINGS_MAX_CONCURRENT_STREAMS (see open_connection until they come). */
static uint32_t stream_limit(const h2_conn *n)
{
    return nghttp2_session_get_remote_settings(n->session,
                                               NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

/* Whether n takes a new call now, one that nghttp2 sends at once instead
 * of holding it back until a stream there ends. */
static int has_room(const h2_conn *n)
{
    return n->session && !n->goaway && n->n_streams < stream_limit(n);
}

/* Submits k on n (which has room), unless k's deadline has passed at
 * `now`: it then fails without reaching the upstream.  When the connection
 * has no stream id left (2^30 streams in, about 10 hours at 30k calls/s),
 * k goes back to the head of the queue and the connection goes away as
 * after a GOAWAY. */
static void submit(h2_conn *n, h2_call *k, int64_t now)
{
    int64_t left = k->deadline_ms - now;
    if (left < 1) {
        call_finish(k, GRPC_STATUS_DEADLINE_EXCEEDED, "Deadline Exceeded");
        return;
    }
    k->nv[k->timeout_slot].value = (uint8_t *)k->timeout_text;
    k->nv[k->timeout_slot].valuelen = format_timeout(k->timeout_text, left);
    /* x-request-id is new on every call: indexed each time, it would
     * churn both HPACK tables and push out the headers that repeat.  The
     * first call on a session puts it in the table; later ones use that
     * name and send the value as a never-indexed literal. */
    if (k->request_id_slot) {
        k->nv[k->request_id_slot].flags =
            n->request_id_indexed ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE;
        n->request_id_indexed = 1;
    }
    nghttp2_data_provider body = {.source.ptr = k, .read_callback = read_body};
    int32_t id = nghttp2_submit_request(n->session, NULL, k->nv, k->n_nv, &body, k);
    if (id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE) {
        n->goaway = 1;
        queue_push_front(n->c, k);
        return;
    }
    if (id < 0) {
        call_finish(k, GRPC_STATUS_UNAVAILABLE, "the call to the upstream could not start");
        return;
    }
    k->stream_id = id;
    k->conn = n;
    k->tries++;
    n->n_streams++;
}

/* Fails the calls waiting in the queue. */
static void fail_queued(gw_h2 *c, grpc_status_code code, const char *message)
{
    while (c->queue_head)
        call_finish(c->queue_head, code, message);
}

/* The number of connections taking calls. */
static int connections_taking(const gw_h2 *c)
{
    int taking = 0;
    for (int i = 0; i < c->n_slots; i++)
        taking += c->conns[i].session && !c->conns[i].goaway;
    return taking;
}

/* A new connection to address i, in a free slot, while fewer than
 * GW_H2_CONNECTIONS take calls; else NULL (also when the connect failed at
 * once: connect_failed has run), and the calls wait for room. */
static h2_conn *open_another(gw_h2 *c, int i)
{
    h2_conn *free_slot = c->n_slots < GW_H2_SOURCES ? &c->conns[c->n_slots] : NULL;
    for (int s = c->n_slots - 1; s >= 0; s--)
        if (!c->conns[s].session)
            free_slot = &c->conns[s];
    if (!free_slot || connections_taking(c) >= GW_H2_CONNECTIONS)
        return NULL;
    free_slot->addr = i;
    free_slot->peer = c->addrs[i].a;
    if (open_connection(free_slot) < 0) {
        connect_failed(free_slot, strerror(errno));
        return NULL;
    }
    free_slot->stale_events = free_slot != &c->conns[0];
    return free_slot;
}

/* A connection to address i that takes a call now: the first with room,
 * else a new one unless the address is in its backoff; or NULL. */
static h2_conn *connection_to(gw_h2 *c, int i, int64_t now)
{
    for (int s = 0; s < c->n_slots; s++)
        if (c->conns[s].addr == i && has_room(&c->conns[s]))
            return &c->conns[s];
    return addr_waits(&c->addrs[i], now) ? NULL : open_another(c, i);
}

/* The connection the next call goes on: the addresses take calls in turn
 * (round robin), each on its first connection with room, else a new one.
 * NULL: none takes a call now. */
static h2_conn *pick_connection(gw_h2 *c, int64_t now)
{
    for (int t = 0; t < c->n_addrs; t++) {
        int i = (c->next_addr + t) % c->n_addrs;
        h2_conn *n = connection_to(c, i, now);
        if (n) {
            c->next_addr = (i + 1) % c->n_addrs;
            return n;
        }
    }
    return NULL;
}

/* Asks the resolver for an answer, the loop to be woken when it comes. */
static void await_addresses(gw_h2 *c)
{
    c->waiter.loop = c->conns[0].src.loop;
    gw_resolver_refresh(c->resolver, &c->waiter);
}

/* Whether a call that waits now will be taken: by a connection, or an
 * address out of its backoff, or a name's first answer still to come. */
static int calls_may_wait(gw_h2 *c, int64_t now)
{
    if (c->n_addrs == 0) {
        await_addresses(c);
        return !c->resolve_error[0];
    }
    if (connections_taking(c))
        return 1;
    for (int i = 0; i < c->n_addrs; i++)
        if (!addr_waits(&c->addrs[i], now))
            return 1;
    return 0;
}

/* Queued calls go out, in order, as pick_connection says; the rest wait,
 * or fail at once when nothing could take them (fail fast). */
static void start_queued(gw_h2 *c, int64_t now)
{
    h2_conn *n;
    while (c->queue_head && (n = pick_connection(c, now)))
        submit(n, queue_pop(c), now);
    if (!c->queue_head || calls_may_wait(c, now))
        return;
    char text[240];
    snprintf(text, sizeof(text), "cannot connect to the upstream: %s",
             c->n_addrs ? c->connect_error : c->resolve_error);
    fail_queued(c, GRPC_STATUS_UNAVAILABLE, text);
}

/* After a read: each CANCELLED held by on_stream_close that an
 * RST_STREAM(NO_ERROR) followed is sent again, on another connection (this
 * one's server is going: no new stream here); the others are answered as
 * they came. */
static void resolve_held(gw_h2 *c, h2_conn *n)
{
    h2_call *k = c->held;
    c->held = NULL;
    while (k) {
        h2_call *next = k->held_next;
        k->held_next = NULL;
        if (k->held_reset) {
            n->goaway = 1;
            reset_for_retry(k);
            queue_push(c, k);
        } else {
            call_finish(k, FROM_REPLY, NULL);
        }
        k = next;
    }
}

/* The connection ended (closed, broken) for `why`.  Before the upstream's
 * first SETTINGS it was never made: a connect that failed (backoff, the
 * reason to its calls); after, its calls fail as it closes. */
static void lost(h2_conn *n, const char *why)
{
    if (!n->settings_seen) {
        connect_failed(n, why);
        return;
    }
    if (n->tls)
        rp_log("upstream %s: %s; the calls on the connection fail with UNAVAILABLE",
               n->c->target, why);
    close_connection(n);
}

static void read_available(h2_conn *n)
{
    gw_h2 *c = n->c;
    for (;;) {
        ssize_t got = conn_recv(n, c->read_buf, sizeof(c->read_buf));
        if (got > 0) {
            int had_goaway = n->goaway;
            ssize_t rc = nghttp2_session_mem_recv(n->session, c->read_buf, (size_t)got);
            resolve_held(c, n);
            if (n->goaway && !had_goaway && rc >= 0)
                take_back_unsent(n);
            if (rc < 0) {
                rp_log("upstream %s: %s; the calls on the connection fail with UNAVAILABLE",
                       c->target, nghttp2_strerror((int)rc));
                close_connection(n);
                return;
            }
            if ((size_t)got < sizeof(c->read_buf) && !n->tls)
                return; /* (GnuTLS gives a record a time, and may hold more than the socket) */
            continue;
        }
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (got < 0 && errno == EINTR)
            continue;
        lost(n, got == 0 ? "the upstream closed the connection"
                : errno == EPROTO ? n->tls_error : strerror(errno));
        return;
    }
}

static void expire(gw_h2 *c, int64_t now)
{
    while (c->live_head && c->live_head->deadline_ms <= now) {
        h2_call *k = c->live_head;
        if (k->stream_id > 0 && k->conn->session)
            nghttp2_submit_rst_stream(k->conn->session, NGHTTP2_FLAG_NONE, k->stream_id,
                                      NGHTTP2_CANCEL);
        k->cut_here = 1;
        call_finish(k, GRPC_STATUS_DEADLINE_EXCEEDED, "Deadline Exceeded");
    }
}

/* Writes what nghttp2 has to send (on_send gathers it).  0, or -1 when the
 * connection is broken. */
static int flush(h2_conn *n)
{
    for (;;) {
        if (nghttp2_session_send(n->session) != 0)
            return -1;
        if (n->out_off == n->out.len)
            return 0; /* all written, or waiting for the socket (want_write) */
        ssize_t w = conn_send(n, n->out.data + n->out_off, n->out.len - n->out_off);
        if (w < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        n->out_off += (size_t)w;
        if (n->out_off == n->out.len)
            n->out.len = n->out_off = 0;
    }
}

static int want_write(const h2_conn *n)
{
    return n->out_off < n->out.len || nghttp2_session_want_write(n->session);
}

/* Writes what n has for the upstream, closes it once neither side has
 * anything more for the other, and sets what the loop is to watch.
 * Returns whether that changed (the caller tells the loop). */
static int update(h2_conn *n)
{
    if (n->state == H2_UP && flush(n) < 0)
        close_connection(n);
    if (n->state == H2_UP && !nghttp2_session_want_read(n->session) && !want_write(n))
        close_connection(n);
    uint32_t events = n->state == H2_CONNECTING ? EPOLLOUT
                      : n->state == H2_HANDSHAKE ? (n->handshake_writes ? EPOLLOUT : EPOLLIN)
                      : EPOLLIN | (n->state == H2_UP && want_write(n) ? EPOLLOUT : 0);
    int changed = n->src.fd != n->fd || n->src.events != events;
    n->src.fd = n->fd;
    n->src.events = events;
    return changed;
}

/* The earlier of two times in ms (-1: none). */
static int64_t earlier(int64_t a, int64_t b)
{
    return a < 0 || (b >= 0 && b < a) ? b : a;
}

/* A connection's own events: its connect finished, or frames came.
 * Whether there were any (none just after it opened: see stale_events). */
static int serve_events(h2_conn *n, uint32_t events)
{
    if (n->stale_events) {
        n->stale_events = 0;
        return 0;
    }
    if (n->state == H2_CONNECTING && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        connect_finished(n);
    if (n->state == H2_HANDSHAKE && (events & (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        handshake_step(n);
        if (n->state == H2_UP)
            read_available(n); /* GnuTLS may hold what came after the handshake */
    } else if (n->state == H2_UP && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
        read_available(n);
    }
    return events != 0;
}

/* Connections whose upstream has not answered (the connect, the TLS
 * handshake, its SETTINGS) within GW_UPSTREAM_DEAD_AFTER_MS of their start
 * have failed to connect: an upstream that accepts and says nothing
 * (stopped, stuck, not HTTP/2) would otherwise take every call until it
 * closes.  Returns when the next one is due, or -1. */
static int64_t expire_connects(gw_h2 *c, int64_t now)
{
    int64_t due = -1;
    for (int i = 0; i < c->n_slots; i++) {
        h2_conn *m = &c->conns[i];
        if (!m->session || m->settings_seen)
            continue;
        if (now < m->answer_due_ms) {
            due = earlier(due, m->answer_due_ms);
            continue;
        }
        char why[120];
        snprintf(why, sizeof(why), "%s in %d s",
                 m->state == H2_CONNECTING ? "the connect had no answer"
                 : m->state == H2_HANDSHAKE ? "TLS handshake: no answer"
                                            : "no HTTP/2 SETTINGS from the upstream",
                 GW_UPSTREAM_DEAD_AFTER_MS / 1000);
        connect_failed(m, why);
    }
    return due;
}

/* Closes the connections that have finished their streams after a GOAWAY,
 * and those beyond the first taking calls to their address that have
 * carried none for IDLE_CLOSE_MS (telling the upstream with a GOAWAY),
 * unless calls wait in the queue (one of those is about to take them).
 * Returns when the next of the idle ones is due, or -1. */
static int64_t close_unneeded(gw_h2 *c, int64_t now)
{
    int64_t due = -1;
    uint32_t firsts = 0; /* the addresses whose first connection was seen */
    for (int i = 0; i < c->n_slots; i++) {
        h2_conn *m = &c->conns[i];
        if (!m->session)
            continue;
        if (m->goaway) {
            if (m->n_streams == 0)
                close_connection(m); /* drained */
            continue;
        }
        uint32_t bit = 1u << m->addr; /* addr >= 0: a connection without is in goaway */
        if (!(firsts & bit) || m->n_streams > 0 || c->queue_head) {
            firsts |= bit;
            m->idle_since_ms = -1;
            continue;
        }
        if (m->idle_since_ms < 0)
            m->idle_since_ms = now;
        if (now - m->idle_since_ms < IDLE_CLOSE_MS) {
            due = earlier(due, m->idle_since_ms + IDLE_CLOSE_MS);
            continue;
        }
        if (m->state == H2_UP) {
            nghttp2_session_terminate_session(m->session, NGHTTP2_NO_ERROR);
            flush(m);
        }
        close_connection(m);
    }
    return due;
}

/* The resolver's answer, when it changed: the addresses that stay keep
 * their backoff, and a connection to one no longer given takes no new call
 * (it finishes those it has, as after a GOAWAY). */
static void refresh_addresses(gw_h2 *c)
{
    if (gw_resolver_generation(c->resolver) == c->addrs_generation)
        return;
    h2_addr old[GW_RESOLVE_MAX_ADDRS];
    int n_old = c->n_addrs;
    memcpy(old, c->addrs, (size_t)n_old * sizeof(*old));
    gw_address got[GW_RESOLVE_MAX_ADDRS];
    size_t n = gw_resolver_get(c->resolver, got, &c->addrs_generation, c->resolve_error,
                               sizeof(c->resolve_error));
    for (size_t i = 0; i < n; i++) {
        c->addrs[i] = (h2_addr){.a = got[i]};
        for (int j = 0; j < n_old; j++)
            if (old[j].a.len == got[i].len && memcmp(&old[j].a.sa, &got[i].sa, got[i].len) == 0)
                c->addrs[i] = old[j];
    }
    c->n_addrs = (int)n;
    c->next_addr = 0;
    for (int s = 0; s < c->n_slots; s++) {
        h2_conn *m = &c->conns[s];
        if (!m->session)
            continue;
        m->addr = -1;
        for (int i = 0; i < c->n_addrs; i++)
            if (c->addrs[i].a.len == m->peer.len &&
                memcmp(&c->addrs[i].a.sa, &m->peer.sa, m->peer.len) == 0)
                m->addr = i;
        if (m->addr < 0)
            m->goaway = 1;
    }
}

/* A connection's tick serves its own events; conns[0]'s, every time (the
 * loop ticks every source each time it wakes), also the client's work:
 * deadlines, the queue, closing the connections no longer needed, and
 * writing to each what nghttp2 has for it. */
static void tick(gw_loop_source *src, uint32_t events)
{
    h2_conn *n = (h2_conn *)src;
    gw_h2 *c = n->c;
    if (n != &c->conns[0]) {
        if (n->session && serve_events(n, events) && update(n))
            gw_loop_update(src->loop);
        return;
    }
    if (n->session)
        serve_events(n, events);
    if (atomic_exchange(&c->cancel_all, 0)) {
        for (h2_call *k = c->live_head; k; k = k->next) {
            if (k->stream_id > 0 && k->conn->session)
                nghttp2_submit_rst_stream(k->conn->session, NGHTTP2_FLAG_NONE, k->stream_id,
                                          NGHTTP2_CANCEL);
            k->cut_here = 1;
        }
        fail_calls(c, NULL, 1, GRPC_STATUS_UNAVAILABLE, GW_STOPPING_MESSAGE);
    }
    int64_t now = gw_loop_now_ms();
    refresh_addresses(c);
    expire(c, now);
    int64_t idle_due = earlier(close_unneeded(c, now), expire_connects(c, now));
    start_queued(c, now);
    serve_endings(c);
    int changed = 0;
    for (int i = 0; i < c->n_slots; i++)
        if (c->conns[i].session)
            changed |= update(&c->conns[i]);
    if (changed)
        gw_loop_update(n->src.loop);
    /* next: a call's deadline, an idle connection's close, or the end of a
     * backoff that queued calls wait for (the loop reads it before it sleeps) */
    int64_t due = earlier(c->live_head ? c->live_head->deadline_ms : -1, idle_due);
    for (int i = 0; c->queue_head && i < c->n_addrs; i++)
        if (addr_waits(&c->addrs[i], now))
            due = earlier(due, c->addrs[i].retry_at_ms);
    n->src.deadline_ms = due;
}

/* ---- the API ------------------------------------------------------------------ */

/* c's TLS credentials from the PEM text, and the name to check: tls_name,
 * or the target's name, or each connection's address's ("localhost" for a
 * unix socket: tls_name_of).  0, or -1 with the
 * reason in err[errlen]. */
static int tls_setup(gw_h2 *c, const rp_tls_pem *pem, const char *tls_name, char *err,
                     size_t errlen)
{
    int rc = gnutls_certificate_allocate_credentials(&c->tls);
    if (rc < 0) {
        c->tls = NULL;
        snprintf(err, errlen, "upstream TLS: %s", gnutls_strerror(rc));
        return -1;
    }
    gnutls_datum_t ca = {(unsigned char *)pem->ca, (unsigned)strlen(pem->ca)};
    rc = gnutls_certificate_set_x509_trust_mem(c->tls, &ca, GNUTLS_X509_FMT_PEM);
    if (rc == 0)
        rc = GNUTLS_E_NO_CERTIFICATE_FOUND; /* not one certificate it can read */
    if (rc >= 0 && pem->cert && pem->key) {
        gnutls_datum_t cert = {(unsigned char *)pem->cert, (unsigned)strlen(pem->cert)};
        gnutls_datum_t key = {(unsigned char *)pem->key, (unsigned)strlen(pem->key)};
        rc = gnutls_certificate_set_x509_key_mem(c->tls, &cert, &key, GNUTLS_X509_FMT_PEM);
    }
    if (rc < 0) {
        snprintf(err, errlen, "upstream TLS: GnuTLS refuses upstream_ca, upstream_cert or "
                 "upstream_key: %s", gnutls_strerror(rc));
        return -1;
    }
    if (!tls_name)
        tls_name = gw_resolver_name(c->resolver);
    snprintf(c->tls_name, sizeof(c->tls_name), "%s", tls_name ? tls_name : "");
    struct in6_addr any;
    c->tls_sni = c->tls_name[0] && inet_pton(AF_INET, c->tls_name, &any) != 1 &&
                 inet_pton(AF_INET6, c->tls_name, &any) != 1;
    return 0;
}

gw_h2 *gw_h2_new(gw_resolver *resolver, const rp_tls_pem *tls, const char *tls_name,
                 char *err, size_t errlen)
{
    gw_h2 *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "%s", GW_ERR_OOM);
        return NULL;
    }
    c->resolver = resolver;
    snprintf(c->authority, sizeof(c->authority), "%s", gw_resolver_authority(resolver));
    if (tls && tls_setup(c, tls, tls_name, err, errlen) < 0) {
        if (c->tls)
            gnutls_certificate_free_credentials(c->tls);
        free(c);
        return NULL;
    }
    snprintf(c->target, sizeof(c->target), "%s", gw_resolver_target(resolver));
    for (int i = 0; i < GW_H2_SOURCES; i++) {
        h2_conn *n = &c->conns[i];
        n->c = c;
        n->addr = -1;
        n->fd = -1;
        n->src.fd = -1;
        n->src.deadline_ms = -1;
        n->src.tick = tick;
    }
    return c;
}

void gw_h2_retry_shutdown_cancels(gw_h2 *c, int on)
{
    c->retry_shutdown_cancels = on;
}

void gw_h2_quiet(gw_h2 *c)
{
    c->quiet = 1;
}

void gw_h2_sources(gw_h2 *c, gw_loop_source *out[GW_H2_SOURCES])
{
    for (int i = 0; i < GW_H2_SOURCES; i++)
        out[i] = &c->conns[i].src;
}

/* poll's events for a source's, and back. */
static short poll_events(uint32_t events)
{
    return (short)((events & EPOLLIN ? POLLIN : 0) | (events & EPOLLOUT ? POLLOUT : 0));
}

static uint32_t epoll_events(short revents)
{
    return (revents & POLLIN ? EPOLLIN : 0) | (revents & POLLOUT ? EPOLLOUT : 0) |
           (revents & POLLERR ? EPOLLERR : 0) | (revents & POLLHUP ? EPOLLHUP : 0);
}

void gw_h2_poll(gw_h2 *c, int64_t timeout_ms, int wake_fd)
{
    /* the client's work first, as a loop does after a call was queued
     * (gw_loop_tick_soon): calls go out, connections open, each source's
     * fd and events are up to date */
    c->conns[0].src.tick(&c->conns[0].src, 0);
    struct pollfd p[GW_H2_SOURCES + 1];
    int64_t now = gw_loop_now_ms(), due = timeout_ms < 0 ? -1 : now + timeout_ms;
    for (int i = 0; i < GW_H2_SOURCES; i++) {
        const gw_loop_source *s = &c->conns[i].src;
        p[i] = (struct pollfd){.fd = s->fd, .events = poll_events(s->events)};
        if (s->deadline_ms >= 0 && (due < 0 || s->deadline_ms < due))
            due = s->deadline_ms;
    }
    p[GW_H2_SOURCES] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
    int wait = due < 0 ? -1 : due > now ? (int)(due - now) : 0;
    if (poll(p, GW_H2_SOURCES + 1, wait) < 0)
        memset(p, 0, sizeof(p)); /* EINTR: a round without events */
    for (int i = 0; i < GW_H2_SOURCES; i++) {
        gw_loop_source *s = &c->conns[i].src;
        s->tick(s, p[i].fd >= 0 && s->fd == p[i].fd ? epoll_events(p[i].revents) : 0);
    }
}

gw_h2_state gw_h2_connectivity(gw_h2 *c, int connect)
{
    int64_t now = gw_loop_now_ms();
    refresh_addresses(c);
    int coming = 0;
    for (int i = 0; i < c->n_slots; i++) {
        const h2_conn *m = &c->conns[i];
        if (m->session && !m->goaway && m->settings_seen && m->state == H2_UP)
            return GW_H2_READY;
        coming |= m->session && !m->goaway;
    }
    if (coming)
        return GW_H2_CONNECTING;
    int waiting = 0;
    for (int i = 0; i < c->n_addrs; i++)
        waiting += addr_waits(&c->addrs[i], now);
    if (c->n_addrs == 0 && c->resolve_error[0])
        return GW_H2_TRANSIENT_FAILURE;
    if (c->n_addrs > 0 && waiting == c->n_addrs)
        return GW_H2_TRANSIENT_FAILURE;
    if (!connect)
        return GW_H2_IDLE;
    if (c->n_addrs == 0) {
        await_addresses(c);
        return GW_H2_CONNECTING;
    }
    h2_conn *n = pick_connection(c, now);
    return n ? GW_H2_CONNECTING : GW_H2_TRANSIENT_FAILURE;
}

/* The request headers, pointing into k->nv_text (grpc-timeout filled at
 * submit).  The pseudo-headers come first, as HTTP/2 requires (RFC 9113
 * 8.3): gRPC core lets them follow others, but Go's and nghttp2's servers
 * reset such a stream with PROTOCOL_ERROR. */
static int build_headers(h2_call *k, const char *path, const gw_metadata *md, size_t n_md)
{
    const char *fixed[][2] = {
        {":method", "POST"},
        {":scheme", k->c->tls ? "https" : "http"},
        {":authority", k->c->authority},
        {":path", path},
        {"content-type", "application/grpc"},
        {"te", "trailers"},
        {"grpc-accept-encoding", "identity"},
        {"user-agent", "rpcrest-gateway"},
        {"grpc-timeout", ""}, /* filled at submit */
    };
    size_t n_fixed = sizeof(fixed) / sizeof(fixed[0]);
    k->n_nv = n_fixed + n_md;
    k->nv = calloc(k->n_nv, sizeof(*k->nv));
    size_t *offsets = calloc(k->n_nv * 2, sizeof(*offsets));
    if (!k->nv || !offsets) {
        free(offsets);
        return -1;
    }
    gw_buf *t = &k->nv_text;
    size_t text_len = 0; /* one allocation for all the text (base64 takes 4/3) */
    for (size_t f = 0; f < n_fixed; f++)
        text_len += strlen(fixed[f][0]) + strlen(fixed[f][1]);
    for (size_t m = 0; m < n_md; m++)
        text_len += strlen(md[m].key) + md[m].value_len / 3 * 4 + 4;
    gw_buf_reserve(t, text_len);
    size_t i = 0;
#define ADD_TEXT(slot, s, n) (offsets[slot] = t->len, gw_buf_append(t, s, n))
    for (; i < n_fixed; i++) {
        k->nv[i].namelen = strlen(fixed[i][0]);
        k->nv[i].valuelen = strlen(fixed[i][1]);
        ADD_TEXT(2 * i, fixed[i][0], k->nv[i].namelen);
        ADD_TEXT(2 * i + 1, fixed[i][1], k->nv[i].valuelen);
    }
    k->timeout_slot = n_fixed - 1;
    for (size_t m = 0; m < n_md; m++, i++) {
        size_t klen = strlen(md[m].key);
        if (klen == 12 && memcmp(md[m].key, "x-request-id", 12) == 0)
            k->request_id_slot = i;
        k->nv[i].namelen = klen;
        ADD_TEXT(2 * i, md[m].key, klen);
        offsets[2 * i + 1] = t->len;
        if (klen > 4 && strcmp(md[m].key + klen - 4, "-bin") == 0)
            gw_base64_encode(t, (const uint8_t *)md[m].value, md[m].value_len);
        else
            gw_buf_append(t, md[m].value, md[m].value_len);
        k->nv[i].valuelen = t->len - offsets[2 * i + 1];
    }
#undef ADD_TEXT
    if (t->oom) {
        free(offsets);
        return -1;
    }
    for (i = 0; i < k->n_nv; i++) {
        k->nv[i].name = t->data + offsets[2 * i];
        if (i != k->timeout_slot)
            k->nv[i].value = t->data + offsets[2 * i + 1];
        k->nv[i].flags = NGHTTP2_NV_FLAG_NONE;
    }
    free(offsets);
    return 0;
}

/* Appends one length-prefixed message of len bytes to body. */
static void append_message(gw_buf *body, const uint8_t *data, size_t len)
{
    uint8_t prefix[5] = {0, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                         (uint8_t)len};
    gw_buf_append(body, prefix, 5);
    gw_buf_append(body, data, len);
}

/* A new call record for `arg`, its deadline timeout_ms from now. */
static h2_call *call_new(gw_h2 *c, int64_t timeout_ms, void *arg)
{
    h2_call *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->c = c;
    k->grpc_status = -1;
    k->arg = arg;
    k->deadline_ms = gw_loop_now_ms() + (timeout_ms > 0 ? timeout_ms : 1);
    return k;
}

/* Queues k, with its body and headers made, for the loop's next tick,
 * which submits it with the others of this round. */
static void call_start(h2_call *k)
{
    gw_h2 *c = k->c;
    live_insert(c, k);
    queue_push(c, k);
    gw_loop_tick_soon(c->conns[0].src.loop);
}

int gw_h2_unary(gw_h2 *c, const char *path, gw_buf *wire, const gw_metadata *md, size_t n_md,
                int64_t timeout_ms, gw_upstream_done done, void *arg)
{
    h2_call *k = call_new(c, timeout_ms, arg);
    if (!k) {
        gw_buf_free(wire);
        return -1;
    }
    k->done = done;
    gw_buf_reserve(&k->body, 5 + wire->len);
    append_message(&k->body, wire->data, wire->len);
    gw_buf_free(wire);
    if (k->body.oom || build_headers(k, path, md, n_md) < 0) {
        call_free(k);
        return -1;
    }
    call_start(k);
    return 0;
}

gw_h2_call *gw_h2_stream(gw_h2 *c, const char *path, gw_request_messages *requests,
                         const gw_metadata *md, size_t n_md, int64_t timeout_ms,
                         const gw_stream_handler *handler, void *arg)
{
    h2_call *k = call_new(c, timeout_ms, arg);
    if (!k) {
        gw_request_messages_free(requests);
        return NULL;
    }
    k->streaming = 1;
    k->events = *handler;
    k->wants = 1;
    const uint8_t *messages = requests->data.data ? requests->data.data : (const uint8_t *)"";
    gw_buf_reserve(&k->body, requests->data.len + 5 * requests->n);
    for (size_t i = 0, start = 0; i < requests->n; start = requests->ends[i++])
        append_message(&k->body, messages + start, requests->ends[i] - start);
    gw_request_messages_free(requests);
    if (k->body.oom || build_headers(k, path, md, n_md) < 0) {
        call_free(k);
        return NULL;
    }
    call_start(k);
    return k;
}

void gw_h2_stream_next(gw_h2_call *k)
{
    if (k->released || k->done_sent)
        return;
    k->wants = 1;
    stream_pump(k);
}

void gw_h2_stream_cancel(gw_h2_call *k)
{
    if (k->ended || k->released)
        return;
    if (k->stream_id > 0 && k->conn->session)
        nghttp2_submit_rst_stream(k->conn->session, NGHTTP2_FLAG_NONE, k->stream_id,
                                  NGHTTP2_CANCEL);
    k->cut_here = 1;
    call_finish(k, GRPC_STATUS_CANCELLED, "cancelled: the client went away");
}

void gw_h2_stream_release(gw_h2_call *k)
{
    if (!k->ended) {
        gw_h2_stream_cancel(k); /* its end waits in `ending`, which frees it */
        k->released = 1;
        return;
    }
    k->released = 1;
    if (!k->in_ending)
        call_free(k);
}

void gw_h2_cancel(gw_h2 *c, void *arg)
{
    h2_call *k = c->live_head;
    while (k && (k->arg != arg || k->streaming))
        k = k->next;
    if (!k)
        return;
    if (k->stream_id > 0 && k->conn->session)
        nghttp2_submit_rst_stream(k->conn->session, NGHTTP2_FLAG_NONE, k->stream_id,
                                  NGHTTP2_CANCEL);
    call_finish(k, GRPC_STATUS_CANCELLED, "cancelled: the client went away");
    gw_loop_tick_soon(c->conns[0].src.loop); /* the RST_STREAM goes out before the loop sleeps */
}

void gw_h2_cancel_all(gw_h2 *c)
{
    atomic_store(&c->cancel_all, 1);
    gw_loop_wake(c->conns[0].src.loop);
}

void gw_h2_free(gw_h2 *c)
{
    if (!c)
        return;
    for (int i = 0; i < GW_H2_SOURCES; i++)
        c->conns[i].src.loop = NULL; /* ended */
    for (h2_call *k = c->live_head; k; k = k->next)
        k->cut_here = 1;
    fail_calls(c, NULL, 1, GRPC_STATUS_UNAVAILABLE, GW_STOPPING_MESSAGE);
    for (int i = 0; i < GW_H2_SOURCES; i++)
        close_connection(&c->conns[i]);
    serve_endings(c);
    gw_resolver_unwait(c->resolver, &c->waiter);
    if (c->tls)
        gnutls_certificate_free_credentials(c->tls);
    free(c);
}
