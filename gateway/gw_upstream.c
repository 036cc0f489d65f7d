/*
 * gw_upstream.c -- the control connection: a gw_h2 client, a lock, and a
 * thread that drives the client while nobody holds it.
 *
 * The thread asks the client to stay connected (gw_h2_connectivity) and
 * waits in gw_h2_poll for its events: without a deadline while it is
 * READY (an idle gateway does not wake for it), else a second at most, so
 * that an address whose backoff has passed is tried again.  A thread that
 * wants the client (gw_upstream_hold) wakes it through an eventfd and
 * waits until it has stopped polling; the state is noted after every
 * round, the holder's included, and a change is broadcast.
 */
#include "gw_upstream.h"

#include "rp_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define NOT_READY_POLL_MS 1000 /* while not READY: the longest wait for an event */

struct gw_upstream {
    gw_h2 *client;
    int wake_fd;            /* tells the thread to stop polling */
    pthread_t thread;
    pthread_mutex_t lock;   /* the fields below */
    pthread_cond_t changed; /* held, polling or state changed */
    int held;               /* a thread holds the client */
    int polling;            /* the thread is in gw_h2_poll */
    int wanted;             /* a thread waits to hold it */
    int stop;
    atomic_int state;       /* gw_h2_state */
};

/* Under up->lock, the client free: its state, noted (and broadcast when it
 * changed). */
static gw_h2_state note_state(gw_upstream *up)
{
    gw_h2_state now = gw_h2_connectivity(up->client, 1);
    if ((int)now != atomic_exchange(&up->state, (int)now))
        pthread_cond_broadcast(&up->changed);
    return now;
}

static void *drive(void *arg)
{
    gw_upstream *up = arg;
    pthread_mutex_lock(&up->lock);
    while (!up->stop) {
        if (up->held || up->wanted) {
            pthread_cond_wait(&up->changed, &up->lock);
            continue;
        }
        gw_h2_state state = note_state(up);
        up->polling = 1;
        pthread_mutex_unlock(&up->lock);
        gw_h2_poll(up->client, state == GW_H2_READY ? -1 : NOT_READY_POLL_MS, up->wake_fd);
        uint64_t n;
        (void)!read(up->wake_fd, &n, sizeof(n)); /* drained: EAGAIN when not woken */
        pthread_mutex_lock(&up->lock);
        up->polling = 0;
        note_state(up);
        pthread_cond_broadcast(&up->changed);
    }
    pthread_mutex_unlock(&up->lock);
    return NULL;
}

gw_upstream *gw_upstream_start(gw_resolver *resolver, const rp_tls_pem *tls,
                               const char *tls_name, char *err, size_t errlen)
{
    gw_upstream *up = calloc(1, sizeof(*up));
    if (!up) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    up->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (up->wake_fd < 0) {
        snprintf(err, errlen, "upstream: eventfd: %s", strerror(errno));
        free(up);
        return NULL;
    }
    if (!(up->client = gw_h2_new(resolver, tls, tls_name, err, errlen))) {
        close(up->wake_fd);
        free(up);
        return NULL;
    }
    gw_h2_quiet(up->client); /* discovery, the refresh and the metrics say it */
    pthread_mutex_init(&up->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&up->changed, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&up->state, GW_H2_IDLE);
    int rc = pthread_create(&up->thread, NULL, drive, up);
    if (rc != 0) {
        snprintf(err, errlen, "upstream: cannot start a thread: %s", strerror(rc));
        gw_h2_free(up->client);
        pthread_cond_destroy(&up->changed);
        pthread_mutex_destroy(&up->lock);
        close(up->wake_fd);
        free(up);
        return NULL;
    }
    return up;
}

/* Tells the thread to stop polling. */
static void wake(gw_upstream *up)
{
    uint64_t one = 1;
    if (write(up->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        abort(); /* cannot be: an eventfd of its own */
}

gw_h2 *gw_upstream_hold(gw_upstream *up)
{
    pthread_mutex_lock(&up->lock);
    up->wanted++;
    while (up->held || up->polling) {
        if (up->polling)
            wake(up);
        pthread_cond_wait(&up->changed, &up->lock);
    }
    up->wanted--;
    up->held = 1;
    pthread_mutex_unlock(&up->lock);
    return up->client;
}

void gw_upstream_release(gw_upstream *up)
{
    pthread_mutex_lock(&up->lock);
    up->held = 0;
    note_state(up);
    pthread_cond_broadcast(&up->changed);
    pthread_mutex_unlock(&up->lock);
}

gw_h2_state gw_upstream_state(gw_upstream *up)
{
    return (gw_h2_state)atomic_load(&up->state);
}

gw_h2_state gw_upstream_wait_change(gw_upstream *up, gw_h2_state from, int64_t timeout_ms)
{
    struct timespec until = rp_monotonic_timespec(rp_monotonic_ms() + timeout_ms);
    pthread_mutex_lock(&up->lock);
    while (atomic_load(&up->state) == (int)from && !up->stop)
        if (pthread_cond_timedwait(&up->changed, &up->lock, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&up->lock);
    return gw_upstream_state(up);
}

void gw_upstream_stop(gw_upstream *up)
{
    if (!up)
        return;
    pthread_mutex_lock(&up->lock);
    up->stop = 1;
    wake(up);
    pthread_cond_broadcast(&up->changed);
    pthread_mutex_unlock(&up->lock);
    pthread_join(up->thread, NULL);
    gw_h2_free(up->client);
    pthread_cond_destroy(&up->changed);
    pthread_mutex_destroy(&up->lock);
    close(up->wake_fd);
    free(up);
}
