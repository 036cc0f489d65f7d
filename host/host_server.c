/*
 * host_server.c -- the gRPC server and its worker threads.
 *
 * Each worker drains its own completion queue and hands every event to the
 * module that owns the tag (host_call, host_unknown).  Shutdown follows the
 * order gRPC needs: shutdown_and_notify + cancel_all_calls, wait for the
 * tag, wait for the last record, destroy the server, then close the queues.
 */
#include "host_server.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "host_call.h"
#include "host_log.h"
#include "host_queue.h"
#include "host_unknown.h"

typedef struct host_worker {
    host_queue q;
    pthread_t thread;
    int running;
} host_worker;

struct host_server {
    grpc_server *server;
    grpc_completion_queue *shutdown_cq;
    const host_plugins *ps;
    void **registered; /* grpc handle of ps->methods[i] */
    host_worker *workers;
    size_t n_workers;
    host_live live;
    int started;
};

/* ---- workers -------------------------------------------------------------- */

static void dispatch(host_tag *tag, int ok)
{
    switch (tag->kind) {
    case HOST_TAG_CALL_NEW:
    case HOST_TAG_CALL_CLOSED:
    case HOST_TAG_CALL_SENT:
        host_call_on_event(tag, ok);
        break;
    case HOST_TAG_UNKNOWN_NEW:
    case HOST_TAG_UNKNOWN_DONE:
        host_unknown_on_event(tag, ok);
        break;
    case HOST_TAG_SERVER_SHUTDOWN:
        host_log("dispatch: shutdown tag on a worker queue");
        break;
    }
}

static void *worker_main(void *arg)
{
    host_worker *w = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(w->q.cq, gpr_inf_future(GPR_CLOCK_REALTIME),
                                                   NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return NULL;
        if (ev.type == GRPC_OP_COMPLETE)
            dispatch(ev.tag, ev.success);
    }
}

/* Every registered method and the unknown-method catcher, on w's queue. */
static int post_requests(host_server *s, host_worker *w)
{
    for (size_t i = 0; i < s->ps->n_methods; i++) {
        if (host_call_request(&w->q, &s->ps->methods[i], s->registered[i]) < 0)
            return -1;
    }
    return host_unknown_request(&w->q);
}

static int start_workers(host_server *s)
{
    for (size_t i = 0; i < s->n_workers; i++) {
        host_worker *w = &s->workers[i];
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc) {
            host_log("pthread_create: %s", strerror(rc));
            return -1;
        }
        w->running = 1;
    }
    for (size_t i = 0; i < s->n_workers; i++) {
        if (post_requests(s, &s->workers[i]) < 0)
            return -1;
    }
    return 0;
}

/* ---- setup ---------------------------------------------------------------- */

static int register_methods(host_server *s)
{
    s->registered = calloc(s->ps->n_methods + 1, sizeof(*s->registered));
    if (!s->registered) {
        host_log("out of memory");
        return -1;
    }
    for (size_t i = 0; i < s->ps->n_methods; i++) {
        const host_method *m = &s->ps->methods[i];
        s->registered[i] = grpc_server_register_method(
            s->server, m->path, NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
        if (!s->registered[i]) {
            host_log("%s: grpc_server_register_method failed", m->path);
            return -1;
        }
    }
    return 0;
}

static int create_queues(host_server *s)
{
    s->workers = calloc(s->n_workers, sizeof(*s->workers));
    if (!s->workers) {
        host_log("out of memory");
        return -1;
    }
    for (size_t i = 0; i < s->n_workers; i++) {
        host_worker *w = &s->workers[i];
        w->q.server = s->server;
        w->q.live = &s->live;
        w->q.cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(s->server, w->q.cq, NULL);
    }
    s->shutdown_cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->shutdown_cq, NULL);
    return 0;
}

static int bind_listen(host_server *s, const char *listen)
{
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    int port = grpc_server_add_http2_port(s->server, listen, creds);
    grpc_server_credentials_release(creds);
    if (port == 0) {
        host_log("listen %s: cannot bind", listen);
        return -1;
    }
    return 0;
}

/* The server, with SO_REUSEPORT off so that a taken port is an error. */
static grpc_server *create_grpc_server(void)
{
    grpc_arg arg;
    memset(&arg, 0, sizeof(arg));
    arg.type = GRPC_ARG_INTEGER;
    arg.key = GRPC_ARG_ALLOW_REUSEPORT;
    arg.value.integer = 0;
    grpc_channel_args args = {1, &arg};
    return grpc_server_create(&args, NULL);
}

host_server *host_server_start(const host_plugins *ps, const char *listen, size_t threads)
{
    host_server *s = calloc(1, sizeof(*s));
    if (!s) {
        host_log("out of memory");
        return NULL;
    }
    int rc = host_live_init(&s->live);
    if (rc) {
        host_log("pthread_mutex_init: %s", strerror(rc));
        free(s);
        return NULL;
    }
    s->ps = ps;
    s->n_workers = threads;
    s->server = create_grpc_server();
    if (!s->server) {
        host_log("grpc_server_create failed");
        goto fail;
    }
    if (register_methods(s) < 0 || create_queues(s) < 0 || bind_listen(s, listen) < 0)
        goto fail;
    grpc_server_start(s->server);
    s->started = 1;
    if (start_workers(s) < 0)
        goto fail;
    return s;
fail:
    host_server_stop(s);
    return NULL;
}

/* ---- shutdown ------------------------------------------------------------- */

/* Waits for `tag` on cq, or until cq is shut down and drained (tag NULL). */
static void wait_for_tag(grpc_completion_queue *cq, const void *tag)
{
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return;
        if (ev.type == GRPC_OP_COMPLETE && tag && ev.tag == tag)
            return;
    }
}

/* Shuts cq down, waits until it is drained (by its worker, or here), and
 * destroys it. */
static void close_queue(grpc_completion_queue *cq, host_worker *w)
{
    if (!cq)
        return;
    grpc_completion_queue_shutdown(cq);
    if (w && w->running) {
        int rc = pthread_join(w->thread, NULL);
        if (rc)
            host_log("pthread_join: %s", strerror(rc));
    } else {
        wait_for_tag(cq, NULL);
    }
    grpc_completion_queue_destroy(cq);
}

void host_server_stop(host_server *s)
{
    if (s->started) {
        host_tag done = {HOST_TAG_SERVER_SHUTDOWN};
        grpc_server_shutdown_and_notify(s->server, s->shutdown_cq, &done);
        grpc_server_cancel_all_calls(s->server);
        wait_for_tag(s->shutdown_cq, &done);
        host_live_wait_idle(&s->live);
    }
    if (s->server)
        grpc_server_destroy(s->server);
    for (size_t i = 0; s->workers && i < s->n_workers; i++)
        close_queue(s->workers[i].q.cq, &s->workers[i]);
    close_queue(s->shutdown_cq, NULL);
    host_live_destroy(&s->live);
    free(s->workers);
    free(s->registered);
    free(s);
}
