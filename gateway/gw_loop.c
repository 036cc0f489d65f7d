/*
 * gw_loop.c -- one HTTP thread: epoll_wait on the daemon's epoll set, the
 * sources' fds and an eventfd for wake-ups, then the sources' ticks and
 * MHD_run, for as long as the loop lives.  The wait ends at the earliest of
 * libmicrohttpd's next connection deadline and the sources' (and, once,
 * the rp_trim that gives memory back after a burst), so an idle gateway
 * sleeps; with busy polling on (one connection open), a loop polls for a
 * few microseconds before each sleep (gw_loop_busy_poll).  It also watches
 * the connections of suspended requests for the client going away
 * (gw_loop_watch), which libmicrohttpd does not.
 */
#include "gw_loop.h"

#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "rp_log.h"
#include "rp_time.h"
#include "rp_trim.h"

#define SPIN_ROUNDS 64   /* see mhd_asks_now */
#define SPIN_PAUSE_MS 10

struct gw_loop {
    struct MHD_Daemon *daemon;
    gw_loop_source *sources[GW_LOOP_MAX_SOURCES];
    size_t n_sources;
    int epoll_fd;
    int wake_fd;      /* readable: run the daemon now (or end, with `ending`) */
    atomic_int ending;
    /* woken from its own thread: run the daemon (run_again) or tick the
     * sources (tick_again) before sleeping; each is cleared just before
     * the step that serves it, so that a request that step serves costs no
     * second round */
    int run_again;
    int tick_again;
    gw_loop_watch *pending_head, *pending_tail; /* watches not begun yet, by due_ms */
    rp_trim trim;
    gw_loop_busy_poll busy_poll;
    /* libmicrohttpd asks to run again at once while it has work (a
     * response it sends piece by piece: over TLS a record a round, or from
     * a file), and also, for good, for a connection that can never go on
     * (libmicrohttpd 0.9.75 with a chunk-size line longer than the
     * connection's buffer: neither read further nor refused).  After
     * SPIN_ROUNDS rounds in a row that it asked for and that brought no
     * request progress, while `stalled` says a connection looks stuck that
     * way (gw_conns, which shuts it down within a second), its "at once"
     * is SPIN_PAUSE_MS */
    int mhd_asks_now;     /* the last wait_ms: libmicrohttpd's timeout was 0 */
    int progressed;       /* gw_loop_progress since the last wait */
    unsigned spin_rounds;
    int (*stalled)(void *arg);
    void *stalled_arg;
    atomic_ulong rounds;  /* times round the loop (gw_loop_rounds) */
    pthread_t thread; /* once `running` */
    int running;      /* gw_loop_run started the thread */
};

int64_t gw_loop_now_ms(void)
{
    return rp_monotonic_ms();
}

/* The earlier of two waits in ms (-1: forever). */
static int64_t earlier(int64_t a, int64_t b)
{
    return a < 0 || (b >= 0 && b < a) ? b : a;
}

/* How long the loop may sleep: until libmicrohttpd's or the source's next
 * deadline, or the trim's. */
static int wait_ms(gw_loop *l, int64_t now)
{
    l->mhd_asks_now = 0;
    if (l->run_again || l->tick_again)
        return 0;
    MHD_UNSIGNED_LONG_LONG timeout;
    int64_t ms = MHD_get_timeout(l->daemon, &timeout) == MHD_YES
                     ? (timeout > INT_MAX ? INT_MAX : (int64_t)timeout)
                     : -1;
    if (ms == 0) {
        l->mhd_asks_now = 1;
        if (l->spin_rounds >= SPIN_ROUNDS && l->stalled && l->stalled(l->stalled_arg))
            ms = SPIN_PAUSE_MS;
    }
    if (l->pending_head) {
        int64_t left = l->pending_head->due_ms - now;
        ms = earlier(ms, left < 0 ? 0 : left);
    }
    for (size_t i = 0; i < l->n_sources; i++) {
        if (l->sources[i]->deadline_ms >= 0) {
            int64_t left = l->sources[i]->deadline_ms - now;
            ms = earlier(ms, left < 0 ? 0 : left > INT_MAX ? INT_MAX : left);
        }
    }
    return (int)earlier(ms, rp_trim_wait_ms(&l->trim, now));
}

/* epoll data of source i's fd; the loop's own fds carry their fd number,
 * which is below 2^31. */
#define SOURCE_TAG(i) ((UINT64_C(1) << 32) + (uint64_t)(i))

static void update_source(gw_loop *l, size_t i)
{
    gw_loop_source *s = l->sources[i];
    if (s->registered_fd >= 0 && s->registered_fd != s->fd) {
        epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, s->registered_fd, NULL); /* may be closed */
        s->registered_fd = -1;
    }
    if (s->fd < 0)
        return;
    struct epoll_event ev = {.events = s->events, .data.u64 = SOURCE_TAG(i)};
    if (s->registered_fd < 0) {
        if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, s->fd, &ev) == 0)
            s->registered_fd = s->fd, s->registered_events = s->events;
        else
            rp_log("epoll_ctl ADD: %s", strerror(errno));
    } else if (s->registered_events != s->events) {
        if (epoll_ctl(l->epoll_fd, EPOLL_CTL_MOD, s->fd, &ev) == 0)
            s->registered_events = s->events;
        else
            rp_log("epoll_ctl MOD: %s", strerror(errno));
    }
}

void gw_loop_progress(gw_loop *l)
{
    if (l) /* none: the daemon is stopping after its loop */
        l->progressed = 1;
}

void gw_loop_set_stall_check(gw_loop *l, int (*stalled)(void *arg), void *arg)
{
    l->stalled = stalled;
    l->stalled_arg = arg;
}

unsigned long gw_loop_rounds(const gw_loop *l)
{
    return atomic_load_explicit(&l->rounds, memory_order_relaxed);
}

void gw_loop_update(gw_loop *l)
{
    if (!l)
        return; /* no loop (ended, or a source driven by hand) */
    for (size_t i = 0; i < l->n_sources; i++)
        update_source(l, i);
}

/* epoll data of a gw_loop_watch: its address with the top bit set (above
 * both the fds and SOURCE_TAG). */
#define WATCH_BIT (UINT64_C(1) << 63)

/* Events taken from one epoll_wait; more wait for the next round. */
#define MAX_EVENTS 16

int gw_loop_watch_start(gw_loop *l, gw_loop_watch *w)
{
    if (!l || w->fd < 0)
        return -1;
    if (w->state != GW_WATCH_IDLE)
        return 0;
    w->state = GW_WATCH_PENDING;
    w->due_ms = gw_loop_now_ms() + GW_LOOP_WATCH_DELAY_MS;
    w->next = NULL;
    w->prev = l->pending_tail; /* same delay for all: the list stays in due order */
    if (l->pending_tail)
        l->pending_tail->next = w;
    else
        l->pending_head = w;
    l->pending_tail = w;
    return 0;
}

static void unlink_pending(gw_loop *l, gw_loop_watch *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        l->pending_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        l->pending_tail = w->prev;
    w->prev = w->next = NULL;
}

void gw_loop_watch_stop(gw_loop *l, gw_loop_watch *w)
{
    if (w->state == GW_WATCH_PENDING && l)
        unlink_pending(l, w);
    else if (w->state == GW_WATCH_ACTIVE && l)
        epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, w->fd, NULL); /* may be closed already */
    w->state = GW_WATCH_IDLE;
}

/* The watches whose delay is over begin: their fds join the epoll set. */
static void begin_due_watches(gw_loop *l, int64_t now)
{
    while (l->pending_head && l->pending_head->due_ms <= now) {
        gw_loop_watch *w = l->pending_head;
        unlink_pending(l, w);
        struct epoll_event ev = {.events = EPOLLRDHUP, .data.u64 = WATCH_BIT | (uintptr_t)w};
        if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, w->fd, &ev) == 0) {
            w->state = GW_WATCH_ACTIVE;
        } else {
            rp_log("epoll_ctl ADD of a client connection: %s", strerror(errno));
            w->state = GW_WATCH_IDLE; /* served unwatched */
        }
    }
}

/* epoll_wait that, when busy polling applies, first polls without sleeping
 * for up to busy_poll.us; then sleeps until the deadline of wait_ms, taken
 * again since polling may have used some of it. */
static int wait_events(gw_loop *l, struct epoll_event *events, int64_t now_ms)
{
    int ms = wait_ms(l, now_ms);
    const gw_loop_busy_poll *bp = &l->busy_poll;
    if (ms != 0 && bp->us && bp->lone(bp->arg)) {
        int64_t until = rp_monotonic_us() + bp->us;
        do {
            int n = epoll_wait(l->epoll_fd, events, MAX_EVENTS, 0);
            if (n != 0)
                return n;
        } while (rp_monotonic_us() < until);
        ms = wait_ms(l, gw_loop_now_ms());
    }
    return epoll_wait(l->epoll_fd, events, MAX_EVENTS, ms);
}

static void tick_all(gw_loop *l, const uint32_t *events)
{
    for (size_t i = 0; i < l->n_sources; i++)
        l->sources[i]->tick(l->sources[i], events ? events[i] : 0);
}

/* The loop whose thread this is, if any: gw_loop_wake tells its own thread
 * by it, without reading another thread's `thread` field. */
static __thread const gw_loop *this_thread_loop;

static void *loop_main(void *arg)
{
    gw_loop *l = arg;
    this_thread_loop = l;
    while (!atomic_load(&l->ending)) {
        struct epoll_event events[MAX_EVENTS];
        int64_t before = gw_loop_now_ms();
        begin_due_watches(l, before);
        int n = wait_events(l, events, before);
        if (n < 0 && errno != EINTR) {
            rp_log("epoll_wait: %s", strerror(errno));
            break;
        }
        int64_t now = gw_loop_now_ms();
        l->spin_rounds = l->mhd_asks_now && !l->progressed ? l->spin_rounds + 1 : 0;
        l->progressed = 0;
        if (n > 0 || l->run_again || l->tick_again)
            rp_trim_busy(&l->trim, now);
        else /* a deadline: libmicrohttpd's, the source's, or the trim's */
            rp_trim_idle(&l->trim, now);
        uint32_t source_events[GW_LOOP_MAX_SOURCES] = {0};
        for (int i = 0; i < n; i++) {
            uint64_t count;
            uint64_t tag = events[i].data.u64;
            if (tag & WATCH_BIT) { /* at most once per wait: the hangup stops it */
                gw_loop_watch *w = (gw_loop_watch *)(uintptr_t)(tag & ~WATCH_BIT);
                gw_loop_watch_stop(l, w);
                w->hangup(w);
            } else if (tag >= SOURCE_TAG(0) && tag < SOURCE_TAG(l->n_sources))
                source_events[tag - SOURCE_TAG(0)] = events[i].events;
            else if (events[i].data.u64 == (uint64_t)l->wake_fd &&
                     read(l->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
                rp_log("eventfd read: %s", strerror(errno));
        }
        l->tick_again = 0;
        tick_all(l, source_events);
        l->run_again = 0; /* resumed by the ticks: this run serves them */
        if (MHD_run(l->daemon) != MHD_YES && !atomic_load(&l->ending))
            rp_log("MHD_run failed");
        l->tick_again = 0; /* queued by the requests: this tick sends them */
        tick_all(l, NULL);
        atomic_fetch_add_explicit(&l->rounds, 1, memory_order_relaxed);
    }
    return NULL;
}

static int watch(int epoll_fd, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)fd};
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

gw_loop *gw_loop_new(struct MHD_Daemon *daemon, gw_loop_source *const *sources,
                     size_t n_sources, const gw_loop_busy_poll *busy_poll, char *err,
                     size_t errlen)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_EPOLL_FD);
    gw_loop *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->trim = (rp_trim)RP_TRIM_INIT;
    l->daemon = daemon;
    if (busy_poll && busy_poll->us && busy_poll->lone)
        l->busy_poll = *busy_poll;
    l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!info || l->epoll_fd < 0 || l->wake_fd < 0 || watch(l->epoll_fd, info->epoll_fd) < 0 ||
        watch(l->epoll_fd, l->wake_fd) < 0) {
        snprintf(err, errlen, "cannot set up an HTTP thread's event loop: %s", strerror(errno));
        if (l->epoll_fd >= 0)
            close(l->epoll_fd);
        if (l->wake_fd >= 0)
            close(l->wake_fd);
        free(l);
        return NULL;
    }
    /* the sources point at a loop that is whole */
    for (size_t i = 0; i < n_sources && i < GW_LOOP_MAX_SOURCES; i++) {
        l->sources[l->n_sources++] = sources[i];
        sources[i]->loop = l;
        sources[i]->registered_fd = -1;
    }
    return l;
}

int gw_loop_run(gw_loop *l, char *err, size_t errlen)
{
    int rc = pthread_create(&l->thread, NULL, loop_main, l);
    if (rc) {
        snprintf(err, errlen, "cannot start an HTTP thread: %s", strerror(rc));
        return -1;
    }
    l->running = 1;
    return 0;
}

void gw_loop_wake(gw_loop *l)
{
    if (!l)
        return; /* the loop has ended (a call failed while stopping) */
    if (this_thread_loop == l) {
        l->run_again = 1; /* no need to write: the loop looks before it sleeps */
        return;
    }
    uint64_t one = 1;
    if (write(l->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        rp_log("gw_loop_wake: eventfd write: %s", strerror(errno));
}

void gw_loop_tick_soon(gw_loop *l)
{
    if (l)
        l->tick_again = 1;
}

void gw_loop_stop(gw_loop *l)
{
    if (!l)
        return;
    if (l->running) {
        atomic_store(&l->ending, 1);
        gw_loop_wake(l);
        pthread_join(l->thread, NULL);
        l->running = 0;
    }
}

void gw_loop_free(gw_loop *l)
{
    if (!l)
        return;
    gw_loop_stop(l);
    for (size_t i = 0; i < l->n_sources; i++)
        l->sources[i]->loop = NULL;
    close(l->epoll_fd);
    close(l->wake_fd);
    free(l);
}
