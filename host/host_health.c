/*
 * host_health.c -- grpc.health.v1.Health on top of host_bidi.
 *
 * Check: one request, one reply (or NOT_FOUND for an unknown service).
 * Watch: one request, then the current status and each change of it until
 * the client cancels.  The only change there is is draining: then every
 * Watch is sent NOT_SERVING (SERVICE_UNKNOWN ones nothing) and ended with
 * UNAVAILABLE, so that open Watch calls never hold up the drain.  A Watch
 * sends at most two messages.  `lock` guards the
 * draining flag and the list of open Watch calls; it is taken before a
 * call's own lock, never after.
 */
#include "host_health.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grpc/health/v1/health.pb-c.h"
#include "rp_log.h"
#include "host_reflection.h"

typedef Grpc__Health__V1__HealthCheckResponse__ServingStatus health_status;

#define ST_SERVING GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
#define ST_NOT_SERVING GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
#define ST_SERVICE_UNKNOWN GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN
#define DRAINING_DETAILS "the server is shutting down"

enum { M_CHECK, M_WATCH, N_METHODS };

/* One open Watch call. */
typedef struct health_watch {
    struct health_watch *prev, *next;
    host_bidi *b;
    int known;
    health_status last; /* the last status queued for it */
} health_watch;

struct host_health {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a Watch sent something or ended */
    int draining;
    health_watch *watches;
    char **names; /* the known services, "" excluded */
    size_t n_names;
    host_bidi_method methods[N_METHODS];
};

static const char *const builtin_names[] = {
    HOST_HEALTH_SERVICE,
    HOST_REFLECTION_V1_SERVICE,
    HOST_REFLECTION_V1ALPHA_SERVICE,
};

static int known(const host_health *h, const char *service)
{
    if (service[0] == '\0')
        return 1;
    for (size_t i = 0; i < h->n_names; i++) {
        if (strcmp(h->names[i], service) == 0)
            return 1;
    }
    return 0;
}

/* The status of a known service; lock held. */
static health_status status_locked(const host_health *h)
{
    return h->draining ? ST_NOT_SERVING : ST_SERVING;
}

static int send_status(host_bidi *b, health_status st)
{
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    resp.status = st;
    uint8_t buf[16]; /* field 1, varint enum: 2 bytes at most here */
    size_t len = grpc__health__v1__health_check_response__pack(&resp, buf);
    return host_bidi_send(b, buf, len);
}

/* The request's service name (malloc'd), or NULL after failing the call. */
static char *decode_service(host_bidi *b, const uint8_t *msg, size_t len)
{
    Grpc__Health__V1__HealthCheckRequest *req =
        grpc__health__v1__health_check_request__unpack(NULL, len, msg);
    if (!req) {
        host_bidi_finish(b, GRPC_STATUS_INVALID_ARGUMENT,
                         "cannot decode request as grpc.health.v1.HealthCheckRequest");
        return NULL;
    }
    char *service = strdup(req->service ? req->service : "");
    grpc__health__v1__health_check_request__free_unpacked(req, NULL);
    if (!service)
        host_bidi_finish(b, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    return service;
}

/* ---- Check ---------------------------------------------------------------- */

static void check_request(host_bidi *b, const uint8_t *msg, size_t len)
{
    host_health *h = host_bidi_ctx(b);
    char *service = decode_service(b, msg, len);
    if (!service)
        return;
    if (!known(h, service)) {
        char why[512];
        snprintf(why, sizeof(why), "unknown service %s", service);
        host_bidi_finish(b, GRPC_STATUS_NOT_FOUND, why);
    } else {
        pthread_mutex_lock(&h->lock);
        health_status st = status_locked(h);
        pthread_mutex_unlock(&h->lock);
        send_status(b, st);
        host_bidi_finish(b, GRPC_STATUS_OK, NULL);
    }
    free(service);
}

/* ---- Watch ---------------------------------------------------------------- */

static void watch_request(host_bidi *b, const uint8_t *msg, size_t len)
{
    host_health *h = host_bidi_ctx(b);
    char *service = decode_service(b, msg, len);
    if (!service)
        return;
    health_watch *w = calloc(1, sizeof(*w));
    if (!w) {
        free(service);
        host_bidi_finish(b, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    w->b = b;
    w->known = known(h, service);
    free(service);
    *host_bidi_user(b) = w;
    pthread_mutex_lock(&h->lock);
    w->last = w->known ? status_locked(h) : ST_SERVICE_UNKNOWN;
    w->next = h->watches;
    if (h->watches)
        h->watches->prev = w;
    h->watches = w;
    send_status(b, w->last); /* under h->lock: ordered with set_draining */
    if (h->draining)
        host_bidi_finish(b, GRPC_STATUS_UNAVAILABLE, DRAINING_DETAILS);
    pthread_mutex_unlock(&h->lock);
}

static void watch_sent(host_bidi *b)
{
    host_health *h = host_bidi_ctx(b);
    pthread_mutex_lock(&h->lock);
    pthread_cond_broadcast(&h->changed);
    pthread_mutex_unlock(&h->lock);
}

static void watch_done(host_bidi *b)
{
    host_health *h = host_bidi_ctx(b);
    health_watch *w = *host_bidi_user(b);
    if (!w)
        return;
    pthread_mutex_lock(&h->lock);
    if (w->prev)
        w->prev->next = w->next;
    else
        h->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    pthread_cond_broadcast(&h->changed);
    pthread_mutex_unlock(&h->lock);
    free(w);
}

/* ---- the service ---------------------------------------------------------- */

void host_health_set_draining(host_health *h)
{
    pthread_mutex_lock(&h->lock);
    if (!h->draining) {
        h->draining = 1;
        for (health_watch *w = h->watches; w; w = w->next) {
            if (w->known && w->last != ST_NOT_SERVING) {
                w->last = ST_NOT_SERVING;
                send_status(w->b, ST_NOT_SERVING); /* -1 if the call is over: fine */
            }
            host_bidi_finish(w->b, GRPC_STATUS_UNAVAILABLE, DRAINING_DETAILS);
        }
    }
    pthread_mutex_unlock(&h->lock);
}

static int any_sending_locked(const host_health *h)
{
    for (health_watch *w = h->watches; w; w = w->next) {
        if (host_bidi_sending(w->b))
            return 1;
    }
    return 0;
}

void host_health_flush(host_health *h, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&h->lock);
    while (any_sending_locked(h)) {
        if (pthread_cond_timedwait(&h->changed, &h->lock, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&h->lock);
}

host_bidi_method *host_health_methods(host_health *h, size_t *n)
{
    *n = N_METHODS;
    return h->methods;
}

static int add_name(host_health *h, const char *name)
{
    if (known(h, name))
        return 0;
    char **grown = realloc(h->names, (h->n_names + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    h->names = grown;
    if (!(h->names[h->n_names] = strdup(name)))
        return -1;
    h->n_names++;
    return 0;
}

static int init_sync(host_health *h)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);
    if (rc == 0) {
        rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (rc == 0)
            rc = pthread_cond_init(&h->changed, &attr);
        pthread_condattr_destroy(&attr);
    }
    if (rc) {
        rp_log("health: pthread_cond_init: %s", strerror(rc));
        return -1;
    }
    rc = pthread_mutex_init(&h->lock, NULL);
    if (rc) {
        rp_log("health: pthread_mutex_init: %s", strerror(rc));
        pthread_cond_destroy(&h->changed);
        return -1;
    }
    return 0;
}

host_health *host_health_create(const host_plugins *ps)
{
    host_health *h = calloc(1, sizeof(*h));
    if (!h) {
        rp_log("health: out of memory");
        return NULL;
    }
    if (init_sync(h) < 0) {
        free(h);
        return NULL;
    }
    for (size_t i = 0; i < ps->n_plugins; i++) {
        const rpcrest_plugin *e = ps->plugins[i].entry;
        for (size_t j = 0; j < e->n_services; j++) {
            if (add_name(h, e->services[j].descriptor->name) < 0)
                goto oom;
        }
    }
    for (size_t i = 0; i < sizeof(builtin_names) / sizeof(builtin_names[0]); i++) {
        if (add_name(h, builtin_names[i]) < 0)
            goto oom;
    }
    h->methods[M_CHECK] = (host_bidi_method){
        .path = "/" HOST_HEALTH_SERVICE "/Check",
        .on_request = check_request,
        .ctx = h,
    };
    h->methods[M_WATCH] = (host_bidi_method){
        .path = "/" HOST_HEALTH_SERVICE "/Watch",
        .on_request = watch_request,
        .on_sent = watch_sent,
        .on_done = watch_done,
        .ctx = h,
    };
    return h;
oom:
    rp_log("health: out of memory");
    host_health_destroy(h);
    return NULL;
}

void host_health_destroy(host_health *h)
{
    if (!h)
        return;
    if (h->watches)
        rp_log("health: destroyed with Watch calls still open");
    for (size_t i = 0; i < h->n_names; i++)
        free(h->names[i]);
    free(h->names);
    pthread_cond_destroy(&h->changed);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
