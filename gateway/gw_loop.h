/*
 * gw_loop.h -- one HTTP thread of the gateway: a thread running an event
 * loop (epoll) around one libmicrohttpd daemon in external-epoll mode, and
 * up to GW_LOOP_MAX_SOURCES other sources on the same thread (the
 * listening socket's share of gw_accept, the upstream connections of gw_h2),
 * so that a connection, its requests and their upstream calls never change
 * threads.
 *
 * A connection resumed from another thread needs its loop woken
 * (gw_loop_wake) to be served: libmicrohttpd's own wake-up does not reach
 * an external loop.
 */
#ifndef GW_LOOP_H
#define GW_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct MHD_Daemon;
typedef struct gw_loop gw_loop;

#define GW_LOOP_MAX_SOURCES 20 /* gw_accept's one and gw_h2's GW_H2_SOURCES */

/* Something else the loop watches.  Every callback runs on the loop's
 * thread; the source changes its own fields from there only and then
 * calls gw_loop_update. */
typedef struct gw_loop_source {
    int fd;              /* -1: none now */
    uint32_t events;     /* EPOLLIN / EPOLLOUT wanted on fd */
    int64_t deadline_ms; /* CLOCK_MONOTONIC ms for `tick`, or -1 */
    /* fd is ready (events as epoll gave them), or the deadline passed, or
     * the loop was woken (gw_loop_wake): the source looks at what it
     * needs, each time the loop wakes up */
    void (*tick)(struct gw_loop_source *s, uint32_t events);
    struct gw_loop *loop; /* set by gw_loop_new, cleared by gw_loop_free */
    int registered_fd;   /* the loop's own record of what epoll watches */
    uint32_t registered_events;
} gw_loop_source;

/* A client connection the loop watches while its request is suspended:
 * `hangup` runs on the loop's thread when the peer closes or shuts down
 * its side (or the socket fails).  The caller owns the record.  The watch
 * begins GW_LOOP_WATCH_DELAY_MS after gw_loop_watch_start: most calls are
 * over by then, and cost the loop no system call for it. */
#define GW_LOOP_WATCH_DELAY_MS 20

typedef struct gw_loop_watch {
    int fd;
    void (*hangup)(struct gw_loop_watch *w);
    /* the loop's: */
    enum { GW_WATCH_IDLE, GW_WATCH_PENDING, GW_WATCH_ACTIVE } state;
    int64_t due_ms;                      /* PENDING: when it becomes ACTIVE */
    struct gw_loop_watch *prev, *next;   /* PENDING: the loop's list, by due_ms */
} gw_loop_watch;

/* Starts and stops watching w->fd (on the loop's thread; starting one that
 * is not idle, or stopping one that is, does nothing).  Start returns 0, or
 * -1 when there is no loop or no fd: the request is then served unwatched
 * (as it is, logged, if epoll refuses the fd when the watch begins). */
int gw_loop_watch_start(struct gw_loop *loop, gw_loop_watch *w);
void gw_loop_watch_stop(struct gw_loop *loop, gw_loop_watch *w);

/* Busy polling: when `lone(arg)` says so, a loop about to sleep first
 * polls its epoll set without sleeping for up to `us` microseconds.  A
 * request that arrives, or a call's answer, then finds the thread running:
 * on a VM each wake-up of a sleeping thread costs tens of microseconds.
 * `lone` runs on the loop's thread before every sleep and must be cheap
 * (an atomic load); us = 0 never polls. */
typedef struct gw_loop_busy_poll {
    unsigned us;
    int (*lone)(void *arg);
    void *arg;
} gw_loop_busy_poll;

/* A loop that will serve `daemon` (external-epoll mode, MHD_USE_ITC) and
 * sources[0 .. n_sources) (at most GW_LOOP_MAX_SOURCES; they live as long
 * as the loop, and are ticked in that order) once gw_loop_run starts its
 * thread.  busy_poll (copied; NULL: none) says when to poll before
 * sleeping.  It may be woken before it runs (it then runs at once).  NULL
 * with a reason in err[errlen]. */
gw_loop *gw_loop_new(struct MHD_Daemon *daemon, gw_loop_source *const *sources,
                     size_t n_sources, const gw_loop_busy_poll *busy_poll, char *err,
                     size_t errlen);

/* A request on the loop's daemon went on (libmicrohttpd called its access
 * handler, a response's reader or its completion): from the loop's own
 * thread (NULL is ignored).  Without any for a few rounds, while
 * stalled(arg) says a connection looks stuck inside libmicrohttpd, a loop
 * stops taking libmicrohttpd's "run again at once" at its word (see
 * gw_loop.c).  `stalled` runs on the loop's thread and must be cheap;
 * set it before gw_loop_run. */
void gw_loop_progress(gw_loop *loop);
void gw_loop_set_stall_check(gw_loop *loop, int (*stalled)(void *arg), void *arg);

/* How many times the loop has gone round (any thread): a loop that goes
 * round and still leaves a connection's bytes unread cannot read them. */
unsigned long gw_loop_rounds(const gw_loop *loop);

/* Starts the loop's thread, which runs until gw_loop_stop.  Everything
 * written before this call is seen by that thread: make every loop (and
 * whatever a loop's thread may read of the others) before running any.
 * 0, or -1 with a reason in err[errlen]. */
int gw_loop_run(gw_loop *loop, char *err, size_t errlen);

/* A source's fd or events changed (on the loop's thread).  NULL is
 * ignored. */
void gw_loop_update(gw_loop *loop);

/* Makes the loop run its daemon and tick its sources now (any thread; from
 * the loop's own thread, before it next sleeps, at no cost).  NULL (a loop
 * already ended) is ignored. */
void gw_loop_wake(gw_loop *loop);

/* From the loop's own thread: tick the sources before it next sleeps (not
 * the daemon: a source that queued work for its own tick).  A call made
 * while the daemon runs is served by the tick that follows the daemon's
 * run, with no second round. */
void gw_loop_tick_soon(gw_loop *loop);

/* Milliseconds on CLOCK_MONOTONIC, the clock of deadline_ms. */
int64_t gw_loop_now_ms(void);

/* Ends the loop and joins its thread, if it ran.  Loops that post to one
 * another (gw_accept) are all stopped before any is freed.  NULL is
 * ignored. */
void gw_loop_stop(gw_loop *loop);

/* Stops the loop if it still runs and frees it; its sources' `loop` is
 * cleared, and the daemon is the caller's to stop afterwards.  NULL is
 * ignored. */
void gw_loop_free(gw_loop *loop);

#endif /* GW_LOOP_H */
