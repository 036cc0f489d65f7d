/*
 * gw_accept.c -- the gateway's listening socket, shared by its HTTP threads:
 * accepting, and giving each connection to the least busy loop (see
 * gw_accept.h).
 */
#include "gw_accept.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rp_log.h"

#define ACCEPT_BATCH 16 /* connections taken per wake-up: requests are not kept waiting */
#define PAUSE_MS 100    /* no accepting for this long after running out of fds or memory */

/* A connection accepted by one loop for another. */
typedef struct pending {
    int fd;
    socklen_t addr_len;
    struct sockaddr_storage addr;
} pending;

/* One loop's share. */
typedef struct slot {
    gw_loop_source src; /* first: the loop hands it back to tick */
    struct gw_accept *a;
    struct MHD_Daemon *daemon;
    atomic_uint handed; /* given to this loop, not yet added to its daemon */
    atomic_uint open;   /* libmicrohttpd's: reported started, not yet closed */
    pthread_mutex_t lock; /* guards the inbox */
    pending *inbox;
    size_t n_inbox, cap_inbox;
    atomic_int inbox_full; /* n_inbox > 0, for a look without the lock */
    int failing;           /* accept failed last time (logged once per episode) */
    int quiet;             /* has seen `stopping` and accepts no more (its loop's) */
} slot;

struct gw_accept {
    int listen_fd;
    atomic_int stopping;
    atomic_size_t n_quiet; /* slots whose loop has seen `stopping` */
    size_t n;
    slot slots[];
};

/* MHD closes the socket when it refuses it (max_connections, memory).  It
 * may refuse after reporting the connection started and then closed (when
 * epoll_ctl fails), so `open` follows its reports alone and this only ends
 * the hand-over, whatever the answer. */
static void add(slot *s, int fd, const struct sockaddr *addr, socklen_t addr_len)
{
    MHD_add_connection(s->daemon, fd, addr, addr_len);
    atomic_fetch_sub(&s->handed, 1);
}

/* The connections other loops gave this one. */
static void take_inbox(slot *s)
{
    if (!atomic_load_explicit(&s->inbox_full, memory_order_acquire))
        return;
    pthread_mutex_lock(&s->lock);
    pending *list = s->inbox;
    size_t n = s->n_inbox;
    s->inbox = NULL;
    s->n_inbox = s->cap_inbox = 0;
    atomic_store_explicit(&s->inbox_full, 0, memory_order_relaxed);
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < n; i++)
        add(s, list[i].fd, (const struct sockaddr *)&list[i].addr, list[i].addr_len);
    free(list);
}

/* 0, or -1 if the inbox cannot grow. */
static int post(slot *to, int fd, const struct sockaddr_storage *addr, socklen_t addr_len)
{
    pthread_mutex_lock(&to->lock);
    if (to->n_inbox == to->cap_inbox) {
        size_t cap = to->cap_inbox ? to->cap_inbox * 2 : 8;
        pending *grown = realloc(to->inbox, cap * sizeof(*grown));
        if (!grown) {
            pthread_mutex_unlock(&to->lock);
            return -1;
        }
        to->inbox = grown;
        to->cap_inbox = cap;
    }
    pending *p = &to->inbox[to->n_inbox++];
    p->fd = fd;
    p->addr = *addr;
    p->addr_len = addr_len;
    atomic_store_explicit(&to->inbox_full, 1, memory_order_release);
    pthread_mutex_unlock(&to->lock);
    gw_loop_wake(to->src.loop);
    return 0;
}

static unsigned load_of(slot *s)
{
    return atomic_load(&s->handed) + atomic_load(&s->open);
}

/* The loop with the fewest connections; `self` among equals. */
static slot *least_busy(gw_accept *a, slot *self)
{
    slot *best = self;
    unsigned fewest = load_of(self);
    for (size_t i = 0; i < a->n; i++) {
        unsigned load = load_of(&a->slots[i]);
        if (load < fewest) {
            best = &a->slots[i];
            fewest = load;
        }
    }
    return best;
}

static void hand_out(slot *self, int fd, const struct sockaddr_storage *addr, socklen_t addr_len)
{
    slot *to = least_busy(self->a, self);
    atomic_fetch_add(&to->handed, 1);
    if (to != self) {
        if (post(to, fd, addr, addr_len) == 0)
            return;
        atomic_fetch_sub(&to->handed, 1); /* out of memory: served here after all */
        atomic_fetch_add(&self->handed, 1);
    }
    add(self, fd, (const struct sockaddr *)addr, addr_len);
}

/* Stops watching the socket until `until_ms` (-1: for good). */
static void unwatch(slot *s, int64_t until_ms)
{
    s->src.fd = -1;
    s->src.deadline_ms = until_ms;
    gw_loop_update(s->src.loop);
}

static void accept_waiting(slot *s)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage addr;
        socklen_t addr_len = sizeof(addr);
        int fd = accept4(s->a->listen_fd, (struct sockaddr *)&addr, &addr_len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            s->failing = 0;
            hand_out(s, fd, &addr, addr_len);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return; /* another loop took it, or nothing is left */
        } else if (errno != EINTR && errno != ECONNABORTED) {
            /* out of fds or memory: retrying at once would spin on the
             * socket, which stays readable */
            if (!s->failing)
                rp_log("accept: %s (not accepting for %d ms)", strerror(errno), PAUSE_MS);
            s->failing = 1;
            unwatch(s, gw_loop_now_ms() + PAUSE_MS);
            return;
        }
    }
}

static void tick(gw_loop_source *src, uint32_t events)
{
    slot *s = (slot *)src;
    take_inbox(s);
    if (atomic_load(&s->a->stopping)) {
        if (src->fd >= 0 || src->deadline_ms >= 0)
            unwatch(s, -1);
        if (!s->quiet) {
            s->quiet = 1;
            atomic_fetch_add(&s->a->n_quiet, 1);
        }
        return;
    }
    if (src->fd < 0) { /* not watched yet, or paused */
        if (gw_loop_now_ms() < src->deadline_ms)
            return;
        src->fd = s->a->listen_fd;
        src->deadline_ms = -1;
        gw_loop_update(src->loop); /* epoll says when connections wait */
        return;
    }
    if (events & EPOLLIN)
        accept_waiting(s);
}

gw_accept *gw_accept_new(int listen_fd, size_t n_loops)
{
    gw_accept *a = calloc(1, sizeof(*a) + n_loops * sizeof(a->slots[0]));
    if (!a)
        return NULL;
    a->listen_fd = listen_fd;
    a->n = n_loops;
    for (size_t i = 0; i < n_loops; i++) {
        slot *s = &a->slots[i];
        s->a = a;
        s->src.fd = -1;
        s->src.events = EPOLLIN; /* not EPOLLEXCLUSIVE: see gw_accept.h */
        s->src.deadline_ms = 0; /* the first tick starts watching */
        s->src.tick = tick;
        pthread_mutex_init(&s->lock, NULL);
    }
    return a;
}

gw_loop_source *gw_accept_source(gw_accept *a, size_t i, struct MHD_Daemon *daemon)
{
    a->slots[i].daemon = daemon;
    return &a->slots[i].src;
}

void gw_accept_opened(gw_accept *a, size_t i)
{
    atomic_fetch_add(&a->slots[i].open, 1);
}

void gw_accept_closed(gw_accept *a, size_t i)
{
    atomic_fetch_sub(&a->slots[i].open, 1);
}

unsigned gw_accept_load(gw_accept *a, size_t i)
{
    return load_of(&a->slots[i]);
}

void gw_accept_stop(gw_accept *a)
{
    if (!a)
        return;
    atomic_store(&a->stopping, 1);
    for (size_t i = 0; i < a->n; i++)
        gw_loop_wake(a->slots[i].src.loop);
}

int gw_accept_quiet(gw_accept *a)
{
    if (!a)
        return 1;
    if (atomic_load(&a->n_quiet) < a->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (atomic_load(&a->slots[i].handed) > 0)
            return 0;
    return 1;
}

void gw_accept_free(gw_accept *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        slot *s = &a->slots[i];
        for (size_t k = 0; k < s->n_inbox; k++)
            close(s->inbox[k].fd);
        free(s->inbox);
        pthread_mutex_destroy(&s->lock);
    }
    free(a);
}
