/*
 * rp_thread_room.c -- the check that a start's threads can all exist (see
 * rp_thread_room.h).  The threads started here only wait for the word to
 * end; they run on the smallest stacks the C library allows.
 */
#include "rp_thread_room.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    int done;
} room_gate;

static void *wait_for_done(void *arg)
{
    room_gate *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->done)
        pthread_cond_wait(&g->done_cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

int rp_thread_room_grpc_core(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int pool = cpus < 2 ? 2 : cpus > 32 ? 32 : (int)cpus;
    return pool + 4;
}

/* Starts up to n waiting threads into t; returns how many started, with
 * *rc pthread_create's error for the first one refused (0 if none was). */
static int start_waiting(room_gate *g, pthread_t *t, int n, int *rc)
{
    pthread_attr_t attr;
    if ((*rc = pthread_attr_init(&attr)) != 0)
        return 0;
    pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN);
    int started = 0;
    while (started < n && (*rc = pthread_create(&t[started], &attr, wait_for_done, g)) == 0)
        started++;
    pthread_attr_destroy(&attr);
    return started;
}

static void describe_nproc(char *buf, size_t len)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NPROC, &rl) != 0)
        snprintf(buf, len, "unknown");
    else if (rl.rlim_cur == RLIM_INFINITY)
        snprintf(buf, len, "unlimited");
    else
        snprintf(buf, len, "%llu", (unsigned long long)rl.rlim_cur);
}

int rp_thread_room_check(int own, int grpc, char *err, size_t errlen)
{
    int n = own + grpc;
    pthread_t *t = calloc((size_t)n, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    room_gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    int rc = 0, started = start_waiting(&g, t, n, &rc);
    pthread_mutex_lock(&g.lock);
    g.done = 1;
    pthread_cond_broadcast(&g.done_cond);
    pthread_mutex_unlock(&g.lock);
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    free(t);
    if (started == n)
        return 0;
    char nproc[32];
    describe_nproc(nproc, sizeof(nproc));
    char parts[64] = "";
    if (grpc)
        snprintf(parts, sizeof(parts), " (%d of its own, %d of gRPC core's)", own, grpc);
    snprintf(err, errlen,
             "cannot start: the kernel gave %d of the %d threads a start needs%s: "
             "pthread_create: %s (RLIMIT_NPROC of this user: %s)",
             started, n, parts, strerror(rc), nproc);
    return -1;
}
