/*
 * gw_conns.c -- connection limits of the HTTP front end (see gw_conns.h).
 *
 * Every open connection has a record (MHD's socket context) on one list.
 * A record's deadline is set when the connection opens and when a request
 * on it ends (for the next header); when a header is complete it starts
 * again for the body, and each piece of the body moves it on by what that
 * piece is worth at GW_CONNS_BODY_MIN_RATE; it is cleared once the body is
 * complete (the call's time is the call's deadline's); a
 * thread walks the list a few times a second and shuts down (shutdown(2),
 * not close: the fd stays MHD's) each connection whose deadline passed.
 * MHD then sees the connection end and closes it in its own thread.  A
 * record leaves the list in MHD's CLOSED notification, which MHD sends
 * before it closes the fd, under the list's lock: the thread never shuts
 * down an fd that has been closed (and maybe reused).
 *
 * The same thread looks, once a second, whether the client of a
 * connection still sending its request has closed it: a client's last
 * bytes and its FIN that arrive together leave MHD (in edge-triggered
 * epoll) without the edge that would show it the end, and the connection
 * would wait out connection_timeout.  It is shut down when two looks a
 * second apart find the client gone and the request no further: a client
 * that closes its side after a complete request is answered (MHD may not
 * have reached the request at the first look).
 *
 * And it looks, at each sweep, for a body that libmicrohttpd has stopped
 * reading for good (body_stalled): such a connection is shut down within a
 * second instead of at its deadline.
 */
#include "gw_conns.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "gw_buf.h"
#include "gw_loop.h"
#include "rp_log.h"
#include "rp_time.h"

#define SWEEP_MS 200 /* how often deadlines are checked */
#define PEEK_MS 1000 /* how often a waiting connection is checked for its client's close */
#define STALLED_LOOKS 4 /* looks in a row that find a body unread while its loop goes round */

typedef struct conn_rec {
    struct conn_rec *prev, *next;
    gw_conns *owner;
    const struct gw_loop *loop; /* runs the connection's daemon */
    int fd;
    atomic_llong deadline_ms; /* CLOCK_MONOTONIC; 0 = none (a request is in) */
    int64_t next_peek_ms;     /* when to look for the client's close (under lock) */
    int64_t closed_at_deadline; /* the deadline when the last look found it closed */
    atomic_int in_body;       /* its request's header is in, its body is not */
    atomic_ulong body_bytes;  /* of the body read so far */
    /* the last look for a body libmicrohttpd has stopped reading (under lock) */
    unsigned long seen_rounds, seen_bytes;
    int stalled_looks;        /* > 0: counted in the owner's `suspects` */
    int shut;                 /* shut down already */
} conn_rec;

struct gw_conns {
    unsigned max;
    int64_t header_timeout_ms;
    atomic_uint open;        /* connections now */
    atomic_ulong refused;    /* closed at accept: max reached */
    unsigned long timed_out; /* shut down by the deadline (under lock) */
    unsigned long stalled;   /* shut down with a body stalled inside MHD (under lock) */
    atomic_uint suspects;    /* connections with a stalled look or more (gw_conns_suspects) */
    int loops_gone;          /* gw_conns_forget_loops (under lock) */
    pthread_mutex_t lock;    /* the list, timed_out, stop */
    pthread_cond_t wake;
    conn_rec *head;
    int stop;
    pthread_t thread;
};

/* 1 when the client has closed its side and every byte it sent has been
 * read: it will send no more of the request. */
static int client_closed(int fd)
{
    char byte;
    return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* 1 when r's body has stopped for good inside libmicrohttpd: bytes wait in
 * the socket, and its loop went round again and again without reading
 * them or passing on any of the body (libmicrohttpd 0.9.75 with a
 * chunk-size line longer than the connection's buffer: it neither reads
 * on nor refuses it, and has its loop run again at once for as long as
 * the connection lives).  A loop busy elsewhere does not go round, and a
 * connection that can take bytes takes them in the round they arrive, so
 * neither looks stalled. */
static int body_stalled(conn_rec *r)
{
    unsigned long rounds = r->loop ? gw_loop_rounds(r->loop) : 0,
                  bytes = atomic_load(&r->body_bytes);
    int unread = 0;
    int waiting = atomic_load(&r->in_body) && ioctl(r->fd, FIONREAD, &unread) == 0 && unread > 0;
    int was = r->stalled_looks;
    if (waiting && rounds > r->seen_rounds + 1 && bytes == r->seen_bytes)
        r->stalled_looks++;
    else
        r->stalled_looks = 0;
    if (!was != !r->stalled_looks)
        atomic_fetch_add(&r->owner->suspects, r->stalled_looks ? 1u : (unsigned)-1);
    r->seen_rounds = rounds;
    r->seen_bytes = bytes;
    return r->stalled_looks >= STALLED_LOOKS;
}

static void sweep(gw_conns *c)
{
    int64_t now = rp_monotonic_ms();
    for (conn_rec *r = c->head; r; r = r->next) {
        int64_t deadline = atomic_load(&r->deadline_ms);
        if (r->shut || !deadline || r->fd < 0)
            continue;
        if (body_stalled(r)) {
            r->shut = 1;
            (void)shutdown(r->fd, SHUT_RDWR);
            if (++c->stalled % 1000 == 1)
                rp_log("closed a connection whose request body libmicrohttpd stopped reading "
                       "(a chunk-size line longer than the connection's buffer) (%lu so far)",
                       c->stalled);
            continue;
        }
        if (now < deadline) {
            if (now >= r->next_peek_ms) {
                r->next_peek_ms = now + PEEK_MS;
                if (!client_closed(r->fd)) {
                    r->closed_at_deadline = 0;
                } else if (r->closed_at_deadline != deadline) {
                    r->closed_at_deadline = deadline; /* look again: no progress since? */
                } else {
                    r->shut = 1;
                    (void)shutdown(r->fd, SHUT_RDWR);
                }
            }
            continue;
        }
        r->shut = 1;
        (void)shutdown(r->fd, SHUT_RDWR);
        if (++c->timed_out % 1000 == 1)
            rp_log("closed a connection that did not send a complete request header within "
                   "connection_timeout (%lld s), or its body at %d bytes/s after that (%lu "
                   "so far)", (long long)(c->header_timeout_ms / 1000), GW_CONNS_BODY_MIN_RATE,
                   c->timed_out);
    }
}

static void *deadline_main(void *arg)
{
    gw_conns *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        struct timespec until = rp_monotonic_timespec(rp_monotonic_ms() + SWEEP_MS);
        (void)pthread_cond_timedwait(&c->wake, &c->lock, &until);
        if (!c->stop)
            sweep(c);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

gw_conns *gw_conns_new(unsigned max_connections, unsigned header_timeout_s, char *err,
                       size_t errlen)
{
    gw_conns *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "%s", GW_ERR_OOM);
        return NULL;
    }
    c->max = max_connections;
    c->header_timeout_ms = (int64_t)header_timeout_s * 1000;
    const char *call; /* the one that failed */
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);
    if (rc != 0) {
        call = "pthread_condattr_init";
        goto fail_attr;
    }
    if ((rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) != 0) {
        call = "pthread_condattr_setclock";
        goto fail_cond;
    }
    if ((rc = pthread_cond_init(&c->wake, &attr)) != 0) {
        call = "pthread_cond_init";
        goto fail_cond;
    }
    if ((rc = pthread_mutex_init(&c->lock, NULL)) != 0) {
        call = "pthread_mutex_init";
        goto fail_mutex;
    }
    if ((rc = pthread_create(&c->thread, NULL, deadline_main, c)) != 0) {
        call = "pthread_create";
        goto fail_thread;
    }
    pthread_condattr_destroy(&attr);
    return c;
fail_thread:
    pthread_mutex_destroy(&c->lock);
fail_mutex:
    pthread_cond_destroy(&c->wake);
fail_cond:
    pthread_condattr_destroy(&attr);
fail_attr:
    free(c);
    snprintf(err, errlen, "cannot start the connection deadline thread: %s: %s", call,
             strerror(rc));
    return NULL;
}

void gw_conns_free(gw_conns *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    while (c->head) { /* only if MHD did not report every close */
        conn_rec *r = c->head;
        c->head = r->next;
        free(r);
    }
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->wake);
    free(c);
}

void gw_conns_forget_loops(gw_conns *c)
{
    pthread_mutex_lock(&c->lock);
    c->loops_gone = 1;
    for (conn_rec *r = c->head; r; r = r->next)
        r->loop = NULL;
    pthread_mutex_unlock(&c->lock);
}

unsigned gw_conns_suspects(gw_conns *c)
{
    return atomic_load_explicit(&c->suspects, memory_order_relaxed);
}

unsigned gw_conns_open(gw_conns *c)
{
    return atomic_load_explicit(&c->open, memory_order_relaxed);
}

enum MHD_Result gw_conns_admit(gw_conns *c)
{
    if (atomic_load(&c->open) < c->max)
        return MHD_YES;
    unsigned long n = atomic_fetch_add(&c->refused, 1) + 1;
    if (n % 1000 == 1)
        rp_log("max_connections (%u) reached: closed a new connection (%lu so far)", c->max, n);
    return MHD_NO;
}

void gw_conns_opened(gw_conns *c, struct MHD_Connection *conn, void **socket_context,
                     const struct gw_loop *loop)
{
    atomic_fetch_add(&c->open, 1);
    conn_rec *r = calloc(1, sizeof(*r));
    *socket_context = r;
    if (!r)
        return; /* no deadline for this one */
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    r->owner = c;
    r->fd = info ? info->connect_fd : -1;
    atomic_init(&r->deadline_ms, rp_monotonic_ms() + c->header_timeout_ms);
    pthread_mutex_lock(&c->lock);
    r->loop = c->loops_gone ? NULL : loop;
    r->next = c->head;
    if (c->head)
        c->head->prev = r;
    c->head = r;
    pthread_mutex_unlock(&c->lock);
}

void gw_conns_closed(gw_conns *c, void **socket_context)
{
    atomic_fetch_sub(&c->open, 1);
    conn_rec *r = *socket_context;
    if (!r)
        return;
    pthread_mutex_lock(&c->lock);
    if (r->stalled_looks)
        atomic_fetch_sub(&c->suspects, 1);
    if (r->prev)
        r->prev->next = r->next;
    else
        c->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    pthread_mutex_unlock(&c->lock);
    free(r);
    *socket_context = NULL;
}

static conn_rec *record_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

void gw_conns_header_done(struct MHD_Connection *conn)
{
    conn_rec *r = record_of(conn);
    if (!r)
        return;
    /* the body's turn: the same time to begin, more as it comes */
    atomic_store(&r->deadline_ms, rp_monotonic_ms() + r->owner->header_timeout_ms);
    atomic_store(&r->in_body, 1);
}

void gw_conns_body_read(struct MHD_Connection *conn, size_t bytes)
{
    conn_rec *r = record_of(conn);
    if (!r)
        return;
    atomic_fetch_add(&r->deadline_ms, (long long)(bytes * 1000 / GW_CONNS_BODY_MIN_RATE) + 1);
    atomic_fetch_add(&r->body_bytes, bytes);
}

void gw_conns_body_done(struct MHD_Connection *conn)
{
    conn_rec *r = record_of(conn);
    if (!r)
        return;
    atomic_store(&r->in_body, 0);
    atomic_store(&r->deadline_ms, 0);
}

void gw_conns_request_done(struct MHD_Connection *conn)
{
    conn_rec *r = record_of(conn);
    if (!r)
        return;
    atomic_store(&r->in_body, 0);
    atomic_store(&r->deadline_ms, rp_monotonic_ms() + r->owner->header_timeout_ms);
}
