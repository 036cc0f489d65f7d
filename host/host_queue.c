/*
 * host_queue.c -- the count of live records that shutdown waits for, and
 * of the plugin calls among them; the requests a queue owes.
 *
 * The count drops to zero once the server is shut down (until then each
 * worker has requests posted, unless it owes all of them), so the mutex is
 * taken only then, or in that rare case, for a broadcast nobody waits for.
 */
#include "host_queue.h"

#include <errno.h>
#include <time.h>

#include "rp_log.h"

int host_live_init(host_live *live)
{
    atomic_init(&live->n, 0);
    atomic_init(&live->calls, 0);
    live->posts_closed = 0;
    int rc = pthread_mutex_init(&live->lock, NULL);
    if (rc)
        return rc;
    rc = pthread_cond_init(&live->idle, NULL);
    if (rc)
        goto fail_cond;
    rc = pthread_mutex_init(&live->posts_lock, NULL);
    if (rc)
        goto fail_posts;
    return 0;
fail_posts:
    pthread_cond_destroy(&live->idle);
fail_cond:
    pthread_mutex_destroy(&live->lock);
    return rc;
}

void host_live_destroy(host_live *live)
{
    pthread_mutex_destroy(&live->posts_lock);
    pthread_cond_destroy(&live->idle);
    pthread_mutex_destroy(&live->lock);
}

void host_live_hold(host_live *live)
{
    atomic_fetch_add_explicit(&live->n, 1, memory_order_relaxed);
}

void host_live_release(host_live *live)
{
    if (atomic_fetch_sub_explicit(&live->n, 1, memory_order_acq_rel) != 1)
        return;
    pthread_mutex_lock(&live->lock);
    pthread_cond_broadcast(&live->idle);
    pthread_mutex_unlock(&live->lock);
}

int host_live_wait_idle(host_live *live, long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* the condition's clock */
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int idle = 1;
    pthread_mutex_lock(&live->lock);
    while (idle && atomic_load_explicit(&live->n, memory_order_acquire) > 0)
        idle = pthread_cond_timedwait(&live->idle, &live->lock, &until) != ETIMEDOUT;
    if (!idle && atomic_load_explicit(&live->n, memory_order_acquire) == 0)
        idle = 1; /* it went idle as the time ran out */
    pthread_mutex_unlock(&live->lock);
    return idle;
}

int host_live_begin_posts(host_live *live)
{
    pthread_mutex_lock(&live->posts_lock);
    if (!live->posts_closed)
        return 1;
    pthread_mutex_unlock(&live->posts_lock);
    return 0;
}

void host_live_end_posts(host_live *live)
{
    pthread_mutex_unlock(&live->posts_lock);
}

void host_live_close_posts(host_live *live)
{
    pthread_mutex_lock(&live->posts_lock);
    live->posts_closed = 1;
    pthread_mutex_unlock(&live->posts_lock);
}

void host_live_call_begin(host_live *live)
{
    atomic_fetch_add_explicit(&live->calls, 1, memory_order_relaxed);
}

void host_live_call_end(host_live *live)
{
    atomic_fetch_sub_explicit(&live->calls, 1, memory_order_relaxed);
}

size_t host_live_calls(host_live *live)
{
    return atomic_load_explicit(&live->calls, memory_order_relaxed);
}

void host_queue_owe(const host_queue *q, host_owed_kind kind, void *method, void *registered)
{
    host_owed_list *l = q->owed;
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].kind == kind && l->items[i].method == method)
            return; /* owed already */
    if (l->n == l->cap) { /* cannot happen: one entry per method at most */
        rp_log("a request owed is lost: the list of %zu is full", l->cap);
        return;
    }
    l->items[l->n++] = (host_owed){kind, method, registered};
}
