/*
 * host_server.c -- the gRPC server and its worker threads.
 *
 * Each worker drains its own completion queue and hands every event to the
 * module that owns the tag (host_call, host_unknown, host_bidi for the
 * built-in reflection and health services).  Shutdown follows the order
 * gRPC needs: drain (health NOT_SERVING, shutdown_and_notify, wait for the
 * tag up to drain_timeout), then cancel_all_calls, wait for the tag, wait
 * for the last record, destroy the server, then close the queues.
 */
#include "host_server.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "host_bidi.h"
#include "host_call.h"
#include "host_health.h"
#include "rp_addr.h"
#include "rp_log.h"
#include "rp_time.h"
#include "rp_trim.h"
#include "host_queue.h"
#include "host_reflection.h"
#include "host_unknown.h"

#define MAX_BUILTIN 8 /* methods of the built-in services */
#define MIN_BUFFERED_BYTES ((size_t)64 << 20) /* what gRPC core may hold of requests */
#define BUFFERED_MESSAGES 8 /* ... or this many messages of max_message_bytes, if more */
#define OWED_RETRY_MS 1000 /* how often a worker tries to post what its queue owes */

typedef struct host_worker {
    host_queue q;
    host_owed_list owed;  /* q.owed */
    host_queue_calls calls; /* q.calls */
    int64_t owed_try_ms;  /* when to post it next; 0: not scheduled */
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
    size_t max_message_bytes;
    int cancel_grace_ms;    /* host_server_conf's */
    int bound;              /* a port was added: gRPC wants a shutdown before destroy */
    int started;
    host_tag shutdown_tag;  /* HOST_TAG_SERVER_SHUTDOWN, on shutdown_cq */
    int shutdown_started;   /* grpc_server_shutdown_and_notify was called */
    int shutdown_done;      /* and its tag came back */
    host_reflection *reflection;
    host_health *health;
    host_bidi_method *builtin[MAX_BUILTIN]; /* their methods */
    size_t n_builtin;
};

/* ---- workers -------------------------------------------------------------- */

static void dispatch(host_tag *tag, int ok)
{
    switch (tag->kind) {
    case HOST_TAG_CALL_NEW:
    case HOST_TAG_CALL_CLOSED:
    case HOST_TAG_CALL_SENT:
    case HOST_TAG_CALL_MESSAGE:
        host_call_on_event(tag, ok);
        break;
    case HOST_TAG_UNKNOWN_NEW:
    case HOST_TAG_UNKNOWN_DONE:
        host_unknown_on_event(tag, ok);
        break;
    case HOST_TAG_BIDI_NEW:
    case HOST_TAG_BIDI_READ:
    case HOST_TAG_BIDI_SENT:
    case HOST_TAG_BIDI_CLOSED:
        host_bidi_on_event(tag, ok);
        break;
    case HOST_TAG_SERVER_SHUTDOWN:
        rp_log("dispatch: shutdown tag on a worker queue");
        break;
    }
}

static int64_t monotonic_ms(void)
{
    gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
    return now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* The requests w's queue owes (host_queue_owe): posted again OWED_RETRY_MS
 * after they were first owed, and every OWED_RETRY_MS while posts fail
 * (each failure logged by the request's module: a line a second per method
 * at most, while memory is short; a method is back within a second of
 * memory being back).  Not once shutdown has begun. */
static void post_owed(host_worker *w, int64_t now)
{
    if (!w->owed.n) {
        w->owed_try_ms = 0;
        return;
    }
    if (!w->owed_try_ms) { /* newly owed: the failure was just logged */
        w->owed_try_ms = now + OWED_RETRY_MS;
        return;
    }
    if (now < w->owed_try_ms)
        return;
    w->owed_try_ms = now + OWED_RETRY_MS;
    if (!host_live_begin_posts(w->q.live))
        return;
    size_t kept = 0;
    for (size_t i = 0; i < w->owed.n; i++) {
        host_owed o = w->owed.items[i];
        int rc = o.kind == HOST_OWED_CALL   ? host_call_request(&w->q, o.method, o.registered)
                 : o.kind == HOST_OWED_BIDI ? host_bidi_request(&w->q, o.method)
                                            : host_unknown_request(&w->q);
        if (rc < 0)
            w->owed.items[kept++] = o;
    }
    w->owed.n = kept;
    if (!kept)
        w->owed_try_ms = 0;
    host_live_end_posts(w->q.live);
}

/* ms until w should try its owed requests again, or -1: nothing owed. */
static int64_t owed_due_in_ms(const host_worker *w, int64_t now)
{
    if (!w->owed.n)
        return -1;
    return w->owed_try_ms > now ? w->owed_try_ms - now : 0;
}

/* One worker: its queue's events, the requests it owes, and (rp_trim) the
 * memory a burst of events left behind given back once the queue has been
 * quiet for a while. */
static void *worker_main(void *arg)
{
    host_worker *w = arg;
    rp_trim trim = RP_TRIM_INIT;
    int64_t now = monotonic_ms();
    for (;;) {
        int64_t wait = rp_trim_wait_ms(&trim, now); /* a relative deadline, or none */
        int64_t owed = owed_due_in_ms(w, now);
        if (owed >= 0 && (wait < 0 || owed < wait))
            wait = owed;
        gpr_timespec deadline = wait < 0 ? gpr_inf_future(GPR_CLOCK_MONOTONIC)
                                         : gpr_time_from_millis(wait, GPR_TIMESPAN);
        grpc_event ev = grpc_completion_queue_next(w->q.cq, deadline, NULL);
        now = monotonic_ms();
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return NULL;
        if (ev.type == GRPC_QUEUE_TIMEOUT) {
            rp_trim_idle(&trim, now);
        } else {
            rp_trim_busy(&trim, now);
            if (ev.type == GRPC_OP_COMPLETE)
                dispatch(ev.tag, ev.success);
        }
        post_owed(w, now);
    }
}

/* Every registered method and the unknown-method catcher, on w's queue. */
static int post_requests(host_server *s, host_worker *w)
{
    for (size_t i = 0; i < s->ps->n_methods; i++) {
        if (host_call_request(&w->q, &s->ps->methods[i], s->registered[i]) < 0)
            return -1;
    }
    for (size_t i = 0; i < s->n_builtin; i++) {
        if (host_bidi_request(&w->q, s->builtin[i]) < 0)
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
            rp_log("pthread_create: %s", strerror(rc));
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
        rp_log("out of memory");
        return -1;
    }
    for (size_t i = 0; i < s->ps->n_methods; i++) {
        const host_method *m = &s->ps->methods[i];
        s->registered[i] = grpc_server_register_method(
            s->server, m->path, NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
        if (!s->registered[i]) {
            rp_log("%s: grpc_server_register_method failed", m->path);
            return -1;
        }
    }
    return 0;
}

static void add_builtin(host_server *s, host_bidi_method *m, size_t n)
{
    for (size_t i = 0; i < n && s->n_builtin < MAX_BUILTIN; i++)
        s->builtin[s->n_builtin++] = &m[i];
}

/* Reflection and health: their state, and their methods registered. */
static int register_builtin(host_server *s)
{
    size_t n;
    s->reflection = host_reflection_create(s->ps);
    s->health = host_health_create(s->ps);
    if (!s->reflection || !s->health)
        return -1;
    host_bidi_method *m = host_reflection_methods(s->reflection, &n);
    add_builtin(s, m, n);
    m = host_health_methods(s->health, &n);
    add_builtin(s, m, n);
    for (size_t i = 0; i < s->n_builtin; i++) {
        if (host_bidi_register(s->builtin[i], s->server) < 0)
            return -1;
    }
    return 0;
}

static int create_queues(host_server *s)
{
    s->workers = calloc(s->n_workers, sizeof(*s->workers));
    if (!s->workers) {
        rp_log("out of memory");
        return -1;
    }
    size_t n_requests = s->ps->n_methods + s->n_builtin + 1; /* + the unknown catcher */
    for (size_t i = 0; i < s->n_workers; i++) {
        host_worker *w = &s->workers[i];
        w->owed.items = calloc(n_requests, sizeof(*w->owed.items));
        if (!w->owed.items) {
            rp_log("out of memory");
            return -1;
        }
        w->owed.cap = n_requests;
        w->q.owed = &w->owed;
        w->calls.open = calloc(s->ps->n_methods + 1, sizeof(*w->calls.open));
        if (!w->calls.open) {
            rp_log("out of memory");
            return -1;
        }
        w->q.calls = &w->calls;
        w->q.server = s->server;
        w->q.live = &s->live;
        w->q.max_message_bytes = s->max_message_bytes;
        w->q.cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(s->server, w->q.cq, NULL);
    }
    return 0;
}

static int is_unix(const char *listen)
{
    return strncmp(listen, "unix:", 5) == 0;
}

/* Whether the unix socket at `path` can be bound, tried with a bind(2) of
 * our own, undone at once: gRPC core says no more than that it cannot, in
 * lines of its own.  0 when it can, or when a socket file is there (gRPC
 * core replaces one); else -1 with the reason in why[whylen]. */
static int unix_bind_check(const char *path, char *why, size_t whylen)
{
    struct sockaddr_un sun;
    socklen_t slen;
    struct stat st;
    if (rp_addr_unix(path, 0, &sun, &slen) < 0) {
        snprintf(why, whylen, "longer than a unix socket path may be (%zu bytes)",
                 RP_ADDR_UNIX_PATH_MAX);
        return -1;
    }
    int exists = lstat(path, &st) == 0;
    if (exists && S_ISSOCK(st.st_mode))
        return 0;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0; /* gRPC core tries, and says why itself */
    int rc = bind(fd, (struct sockaddr *)&sun, slen);
    int e = errno;
    close(fd);
    if (rc == 0) {
        unlink(path);
        return 0;
    }
    if (exists && e == EADDRINUSE)
        snprintf(why, whylen, "the path exists and is not a socket");
    else
        snprintf(why, whylen, "%s", strerror(e));
    return -1;
}

/* Binds `listen`, the setting [host] `key`: TLS when conf gives a
 * certificate and this is the public address, plaintext otherwise (the
 * private unix socket).  Returns 0, or -1 with the reason in err[errlen]. */
static int bind_listen(host_server *s, const char *key, const char *listen,
                       const host_server_conf *tls, char *err, size_t errlen)
{
    char why[128];
    if (is_unix(listen) && unix_bind_check(listen + 5, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "[host] %s: cannot bind %s: %s", key, listen, why);
        return -1;
    }
    grpc_server_credentials *creds;
    if (tls && tls->cert) {
        grpc_ssl_pem_key_cert_pair pair = {tls->key, tls->cert};
        creds = grpc_ssl_server_credentials_create_ex(
            tls->client_ca, &pair, 1,
            tls->client_ca ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                           : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            NULL);
    } else {
        creds = grpc_insecure_server_credentials_create();
    }
    if (!creds) {
        snprintf(err, errlen, "[host] %s: %s: cannot create the TLS credentials", key, listen);
        return -1;
    }
    int port = grpc_server_add_http2_port(s->server, listen, creds);
    grpc_server_credentials_release(creds);
    if (port == 0) {
        snprintf(err, errlen, "[host] %s: cannot bind %s; gRPC core's line above says why",
                 key, listen);
        return -1;
    }
    return 0;
}

static grpc_arg int_arg(const char *key, int value)
{
    grpc_arg arg;
    memset(&arg, 0, sizeof(arg));
    arg.type = GRPC_ARG_INTEGER;
    arg.key = (char *)key;
    arg.value.integer = value;
    return arg;
}

/* The server, with SO_REUSEPORT off so that a taken port is an error
 * (unless rpcrestd hands the port over between two hosts, and guards it), and
 * the configured limits: a larger request gets RESOURCE_EXHAUSTED from gRPC
 * before any plugin sees it.  Compressed requests reach the host as they
 * were sent: gRPC core would inflate them whole, however large, before
 * comparing them with the limit; host_message_read inflates them with a
 * bound.  Channelz is off: nothing reads its per-call and per-message
 * counters here, and keeping them costs every call a few atomic updates.
 *
 * gRPC core also reads a request message whole, as long as the client says
 * it is, before it compares it with max_message_bytes: one client that
 * declares a gigabyte and sends it would make the host hold a gigabyte.  A
 * memory quota bounds what it may hold across all calls (64 MiB, or eight
 * messages of max_message_bytes if more); beyond it, gRPC core resets
 * streams (ENHANCE_YOUR_CALM) instead of reading on.
 *
 * Keepalive PINGs from clients: one that comes sooner than
 * min_ping_interval_ms after the last (2 hours on a connection without
 * calls, unless ping_without_calls) is a strike, and after about the
 * third the connection ends with GOAWAY ENHANCE_YOUR_CALM "too_many_pings"
 * (gRPC core's policy).
 *
 * Request metadata: gRPC core 1.51 answers a header block over
 * grpc.max_metadata_size (8 KiB by default) with RESOURCE_EXHAUSTED, but
 * then fails the same stream again ("Missing :method header") and, in a
 * good share of cases, closes the whole connection without GOAWAY, failing
 * the client's other calls on it with UNAVAILABLE.  Its limit is set to
 * GRPC_METADATA_MAX, twice the HOST_REQUEST_METADATA_MAX that host_call
 * enforces per call, so that only a block over GRPC_METADATA_MAX takes
 * that path.  It is also what the server advertises as
 * SETTINGS_MAX_HEADER_LIST_SIZE, and what each of a connection's
 * max_concurrent_streams streams may hold until its request message
 * arrives (host_call checks the metadata only then): a client that sends
 * full blocks and no message pins about 2.8 MiB per connection at 16 KiB
 * (1.9 at core's 8 KiB, 7.9 at 64 KiB), freed when it closes.
 *
 * Connection limits: one without calls for max_connection_idle_ms, or older
 * than max_connection_age_ms (gRPC core adds up to 10% either way, so that
 * connections opened together do not all end together), gets GOAWAY; its
 * calls then have max_connection_age_grace_ms to finish before gRPC core
 * closes it.  No other limit here ends a connection stuck inside a header
 * block (no call exists until the block ends, so the connection is idle),
 * or one whose zero-window streams have no deadline (only the age ends it). */
#define HANDSHAKE_TIMEOUT_MS 10000
#define GRPC_METADATA_MAX (16 * 1024)
_Static_assert(GRPC_METADATA_MAX > HOST_REQUEST_METADATA_MAX, "host_call refuses first");

static grpc_server *create_grpc_server(const host_server_conf *conf)
{
    size_t quota_bytes = conf->max_message_bytes > MIN_BUFFERED_BYTES / BUFFERED_MESSAGES
                             ? conf->max_message_bytes * BUFFERED_MESSAGES
                             : MIN_BUFFERED_BYTES;
    grpc_resource_quota *quota = grpc_resource_quota_create("rpcrest-host");
    grpc_resource_quota_resize(quota, quota_bytes);
    grpc_arg args[13];
    args[0] = int_arg(GRPC_ARG_ALLOW_REUSEPORT, conf->reuseport);
    args[1] = int_arg(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                      conf->max_message_bytes > INT_MAX ? INT_MAX
                                                        : (int)conf->max_message_bytes);
    args[2] = int_arg(GRPC_ARG_MAX_CONCURRENT_STREAMS, conf->max_concurrent_streams);
    args[3] = int_arg(GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, 0);
    args[4] = int_arg(GRPC_ARG_ENABLE_CHANNELZ, 0);
    /* a connection that has not finished its handshake (TLS, then the
     * HTTP/2 preface and SETTINGS) in this long is closed: 120 s by
     * default, while each holds a file descriptor */
    args[5] = int_arg(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, HANDSHAKE_TIMEOUT_MS);
    args[6] = int_arg(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                      conf->min_ping_interval_ms);
    args[7] = int_arg(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, conf->ping_without_calls);
    memset(&args[8], 0, sizeof(args[8]));
    args[8].type = GRPC_ARG_POINTER;
    args[8].key = (char *)GRPC_ARG_RESOURCE_QUOTA;
    args[8].value.pointer.p = quota;
    args[8].value.pointer.vtable = grpc_resource_quota_arg_vtable();
    args[9] = int_arg(GRPC_ARG_MAX_METADATA_SIZE, GRPC_METADATA_MAX);
    size_t n = 10;
    /* off: left out, so gRPC core keeps its own "never" */
    if (conf->max_connection_idle_ms > 0)
        args[n++] = int_arg(GRPC_ARG_MAX_CONNECTION_IDLE_MS, conf->max_connection_idle_ms);
    if (conf->max_connection_age_ms > 0)
        args[n++] = int_arg(GRPC_ARG_MAX_CONNECTION_AGE_MS, conf->max_connection_age_ms);
    if (conf->max_connection_age_grace_ms >= 0)
        args[n++] = int_arg(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                            conf->max_connection_age_grace_ms);
    grpc_channel_args list = {n, args};
    grpc_server *server = grpc_server_create(&list, NULL);
    grpc_resource_quota_unref(quota); /* the server holds its own reference */
    return server;
}

host_server *host_server_create(const host_server_conf *conf)
{
    host_server *s = calloc(1, sizeof(*s));
    if (!s) {
        rp_log("out of memory");
        return NULL;
    }
    int rc = host_live_init(&s->live);
    if (rc) {
        rp_log("pthread_mutex_init: %s", strerror(rc));
        free(s);
        return NULL;
    }
    s->n_workers = conf->threads;
    s->max_message_bytes = conf->max_message_bytes;
    s->cancel_grace_ms = conf->cancel_grace_ms;
    s->shutdown_tag.kind = HOST_TAG_SERVER_SHUTDOWN;
    s->server = create_grpc_server(conf);
    if (!s->server) {
        rp_log("grpc_server_create failed");
        goto fail;
    }
    /* the queue for the shutdown tag, which a server that has bound a port
     * needs even if it never starts */
    s->shutdown_cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->shutdown_cq, NULL);
    /* gRPC binds (and listens) here; accepting waits for grpc_server_start */
    if (!is_unix(conf->listen)) {
        char err[512];
        if (bind_listen(s, "listen", conf->listen, conf, err, sizeof(err)) < 0) {
            rp_log("%s", err);
            goto fail;
        }
        s->bound = 1;
    }
    return s;
fail:
    (void)host_server_stop(s); /* no call has begun */
    return NULL;
}

int host_server_prepare(host_server *s, const host_plugins *ps, const host_server_conf *conf,
                        const char *private_listen)
{
    s->ps = ps;
    if (register_methods(s) < 0 || register_builtin(s) < 0 || create_queues(s) < 0)
        return -1;
    /* unix sockets are bound by the user that serves them, so that they are
     * its own (a gateway running as that user can connect) */
    char err[512];
    if (is_unix(conf->listen)) {
        if (bind_listen(s, "listen", conf->listen, NULL, err, sizeof(err)) < 0) {
            rp_log("%s", err);
            return -1;
        }
        s->bound = 1;
    }
    /* the gateway's way in; without it the gateway uses conf->listen */
    if (!private_listen)
        return 0;
    if (bind_listen(s, "private_listen", private_listen, NULL, err, sizeof(err)) < 0) {
        rp_log("%s; the gateway will use %s", err, conf->listen);
        return 0;
    }
    if (chmod(private_listen + 5, 0600) < 0)
        rp_log("chmod %s: %s", private_listen + 5, strerror(errno));
    return 1;
}

void host_server_start(host_server *s)
{
    grpc_server_start(s->server);
    s->started = 1;
}

int host_server_serve(host_server *s)
{
    return start_workers(s);
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

/* Waits for the shutdown tag until `deadline`; 1 if it came. */
static int wait_shutdown_until(host_server *s, gpr_timespec deadline)
{
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(s->shutdown_cq, deadline, NULL);
        if (ev.type == GRPC_QUEUE_TIMEOUT || ev.type == GRPC_QUEUE_SHUTDOWN)
            return 0;
        if (ev.type == GRPC_OP_COMPLETE && ev.tag == &s->shutdown_tag)
            return 1;
    }
}

/* Calls that have arrived but are not matched with a requested call yet
 * (each queue keeps one request per method: the others wait inside gRPC
 * core for the next) are cancelled by grpc_server_shutdown_and_notify, and
 * their clients see CANCELLED, which they do not retry.  Requested now, so
 * many more per method and queue, they are matched at once (gRPC core
 * matches a new request with a waiting call when it is made) and served
 * like the calls in flight; the requests left over fail at the shutdown and
 * are freed. */
#define DRAIN_REQUESTS_PER_METHOD 128 /* at most, */
#define DRAIN_REQUESTS_PER_QUEUE 1024 /* and at least 4 per method */
#define DRAIN_CLOSE_MS 250 /* for connections to close, once their calls are done */

static void request_waiting_calls(host_server *s)
{
    size_t n = s->ps->n_methods ? DRAIN_REQUESTS_PER_QUEUE / s->ps->n_methods : 0;
    n = n > DRAIN_REQUESTS_PER_METHOD ? DRAIN_REQUESTS_PER_METHOD : n < 4 ? 4 : n;
    for (size_t w = 0; w < s->n_workers; w++)
        for (size_t i = 0; i < s->ps->n_methods; i++)
            for (size_t k = 0; k < n; k++)
                if (host_call_request(&s->workers[w].q, &s->ps->methods[i], s->registered[i]) <
                    0)
                    return; /* logged; the rest is what it would have been */
}

void host_server_drain(host_server *s, double seconds)
{
    if (!s->started || s->shutdown_started)
        return;
    /* Health first, so that health checkers hear NOT_SERVING while the
     * calls in flight finish. */
    host_health_set_draining(s->health);
    request_waiting_calls(s);
    host_live_close_posts(&s->live);
    s->shutdown_started = 1;
    grpc_server_shutdown_and_notify(s->server, s->shutdown_cq, &s->shutdown_tag);
    if (seconds <= 0)
        return;
    /* Done once no call or request of the server is left.  gRPC core's
     * shutdown tag also waits for every client connection to close: one
     * whose client reads closes within a round trip of its last call, but
     * a client that reads nothing while it has no call (grpcio) leaves its
     * connection open, the GOAWAY's PING unanswered, until
     * host_server_stop closes it. */
    int64_t ms = (int64_t)(seconds * 1000.0 + 0.5);
    int64_t deadline_ms = monotonic_ms() + ms;
    if (host_live_wait_idle(&s->live, (long)ms)) {
        int64_t close_ms = deadline_ms - monotonic_ms();
        if (close_ms > DRAIN_CLOSE_MS)
            close_ms = DRAIN_CLOSE_MS;
        gpr_timespec until = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                          gpr_time_from_millis(close_ms, GPR_TIMESPAN));
        s->shutdown_done = wait_shutdown_until(s, until);
        return;
    }
    size_t left = host_live_calls(&s->live);
    if (left)
        rp_log("drain: %zu call%s still running after %g s: cancelling %s", left,
               left == 1 ? "" : "s", seconds, left == 1 ? "it" : "them");
    else
        rp_log("drain: no plugin call still running after %g s, but others are (reflection "
               "streams, or calls not yet handed to a plugin): cancelling them", seconds);
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
            rp_log("pthread_join: %s", strerror(rc));
    } else {
        wait_for_tag(cq, NULL);
    }
    grpc_completion_queue_destroy(cq);
}

/* Names the handler (or writable callback) of method m that has not
 * returned on worker w: it holds w's thread, and the `others` calls of w's
 * queue with it. */
static void name_held_thread(const host_server *s, size_t w, const host_method *m,
                             size_t others)
{
    const host_queue_calls *qc = &s->workers[w].calls;
    double secs = (double)(rp_monotonic_us() - atomic_load(&qc->running_since_us)) / 1e6;
    char held[64] = "";
    if (others)
        snprintf(held, sizeof(held), " and the %zu other call%s on it", others,
                 others == 1 ? "" : "s");
    rp_log("stop: %s: a %s never returned: it has run for %.1f s (plugin %s), holding "
           "completion-queue thread %zu of %zu ([host] threads)%s", m->path,
           atomic_load(&qc->running_callback) ? "writable callback" : "handler", secs,
           m->plugin->path, w + 1, s->n_workers, held);
}

/* Adds the calls of worker w's queue to returned[] (their handler returned)
 * or, if plugin code that never returned holds w, to held[] (per method),
 * and names that code. */
static void count_open_calls(const host_server *s, size_t w, size_t *returned, size_t *held)
{
    const host_queue_calls *qc = &s->workers[w].calls;
    const host_method *running = atomic_load_explicit(&qc->running, memory_order_acquire);
    size_t others = 0;
    for (size_t i = 0; i < s->ps->n_methods; i++) {
        size_t open = atomic_load_explicit(&qc->open[i], memory_order_relaxed);
        if (running && i == running->index && open)
            open--; /* the call whose code runs */
        if (running)
            held[i] += open;
        else
            returned[i] += open;
        others += open;
    }
    if (running)
        name_held_thread(s, w, running, others);
}

/* A plugin holds calls that it never finished although they were
 * cancelled cancel_grace_ms ago, or plugin code that never returned holds
 * a thread, and every call of that thread with it: nothing can be freed
 * under them.  Names that code, then per method the calls never finished
 * after their handler returned apart from those held behind it. */
static int calls_never_finished(host_server *s)
{
    size_t left = host_live_calls(&s->live), n = s->ps->n_methods;
    rp_log("stop: %zu call%s never finished, %g s after %s cancelled: a plugin's handler "
           "must return, and finish every call (include/rpcrest/rpcrest.h)", left,
           left == 1 ? "" : "s", s->cancel_grace_ms / 1000.0, left == 1 ? "it was" : "they were");
    size_t *returned = calloc(2 * n + 1, sizeof(*returned)); /* and held[n] */
    if (!returned) {
        rp_log("out of memory");
        return -1;
    }
    size_t *held = returned + n;
    for (size_t w = 0; w < s->n_workers; w++)
        count_open_calls(s, w, returned, held);
    for (size_t i = 0; i < n; i++) {
        const host_method *m = &s->ps->methods[i];
        if (returned[i])
            rp_log("stop: %s: %zu call%s never finished after %s handler returned (plugin %s)",
                   m->path, returned[i], returned[i] == 1 ? "" : "s",
                   returned[i] == 1 ? "its" : "their", m->plugin->path);
        if (held[i])
            rp_log("stop: %s: %zu call%s stuck on a thread held by the code named above: %s "
                   "cancellation could not reach %s (plugin %s)", m->path, held[i],
                   held[i] == 1 ? "" : "s", held[i] == 1 ? "its" : "their",
                   held[i] == 1 ? "it" : "them", m->plugin->path);
    }
    free(returned);
    return -1;
}

int host_server_stop(host_server *s)
{
    if (s->started || s->bound) {
        /* Health Watch calls hear NOT_SERVING and end before the rest is
         * cancelled (a no-op if host_server_drain did it already) */
        if (s->started) {
            host_health_set_draining(s->health);
            host_health_flush(s->health, 1000);
        }
        if (!s->shutdown_started) {
            host_live_close_posts(&s->live);
            s->shutdown_started = 1;
            grpc_server_shutdown_and_notify(s->server, s->shutdown_cq, &s->shutdown_tag);
        }
        gpr_timespec grace = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                          gpr_time_from_millis(s->cancel_grace_ms,
                                                               GPR_TIMESPAN));
        if (!s->shutdown_done) {
            grpc_server_cancel_all_calls(s->server);
            if (!wait_shutdown_until(s, grace)) /* a call still holds its connection */
                return calls_never_finished(s);
        }
        gpr_timespec left = gpr_time_sub(grace, gpr_now(GPR_CLOCK_MONOTONIC));
        long left_ms = left.tv_sec < 0 ? 0 : (long)gpr_time_to_millis(left);
        if (!host_live_wait_idle(&s->live, left_ms)) /* within the same grace */
            return calls_never_finished(s);
    }
    if (s->server)
        grpc_server_destroy(s->server);
    for (size_t i = 0; s->workers && i < s->n_workers; i++)
        close_queue(s->workers[i].q.cq, &s->workers[i]);
    close_queue(s->shutdown_cq, NULL);
    host_live_destroy(&s->live);
    host_reflection_destroy(s->reflection);
    host_health_destroy(s->health);
    for (size_t i = 0; s->workers && i < s->n_workers; i++) {
        free(s->workers[i].owed.items);
        free(s->workers[i].calls.open);
    }
    free(s->workers);
    free(s->registered);
    free(s);
    return 0;
}
