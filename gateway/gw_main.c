/*
 * gw_main.c -- rpcrest-gateway: reads the INI, starts the gRPC client and
 * the HTTP server, loads the API (descriptor files named in the INI, and
 * the upstream's server reflection for services without one), keeps it in
 * step with the upstream, and runs until SIGTERM/SIGINT.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_access.h"
#include "gw_discovery.h"
#include "gw_gen.h"
#include "gw_http.h"
#include "gw_https.h"
#include "gw_metrics.h"
#include "gw_refresh.h"
#include "gw_resolve.h"
#include "gw_upstream.h"
#include "rp_config.h"
#include "rp_log.h"
#include "rp_nofile.h"
#include "rp_notify.h"
#include "rp_priv.h"
#include "rp_private.h"
#include "rp_thread_room.h"
#include "rp_tls.h"
#include "rp_trim.h"

#define PROG "rpcrest-gateway"

/* The API console's files ([gateway] docs): Swagger UI and rpcrest's index
 * page, which make installs into the build folder (CONSOLE_DIR). */
#ifndef RPCREST_CONSOLE_DIR
#define RPCREST_CONSOLE_DIR "/usr/share/rpcrest/console"
#endif

static void usage(FILE *out)
{
    fprintf(out, "usage: " PROG " -c FILE\n"
                 "  Serves REST/JSON on [gateway] listen and transcodes each request to\n"
                 "  a gRPC call on the upstream ([gateway] upstream, else [host] listen).\n");
}

static int cpu_count(int configured)
{
    if (configured > 0)
        return configured;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* [gateway] busy_poll_us, or 0 when this process may run on one CPU only:
 * polling there would take the CPU the upstream needs for its answer. */
static unsigned busy_poll_us(const rp_config *cfg)
{
    cpu_set_t allowed;
    if (cfg->gateway.busy_poll_us > 0 && sched_getaffinity(0, sizeof(allowed), &allowed) == 0 &&
        CPU_COUNT(&allowed) < 2) {
        rp_log("busy_poll_us: off: this process may run on one CPU only");
        return 0;
    }
    return (unsigned)cfg->gateway.busy_poll_us;
}

/* Descriptor files from the INI ([gateway] descriptors, and each
 * [service.*] descriptors); server reflection when some service has none,
 * or when the INI names no descriptors at all (the upstream says what it
 * serves). */
static const char **api_source(const rp_config *cfg, gw_gen_source *src)
{
    size_t cap = cfg->n_services + cfg->gateway.n_descriptors;
    const char **files = calloc(cap ? cap : 1, sizeof(*files));
    if (!files)
        return NULL;
    memset(src, 0, sizeof(*src));
    src->files = files;
    for (size_t i = 0; i < cfg->gateway.n_descriptors; i++)
        files[src->n_files++] = cfg->gateway.descriptors[i];
    src->use_reflection = cfg->n_services == 0 && cfg->gateway.n_descriptors == 0;
    for (size_t i = 0; i < cfg->n_services; i++) {
        if (cfg->services[i].descriptors)
            files[src->n_files++] = cfg->services[i].descriptors;
        else
            src->use_reflection = 1;
    }
    src->reflection_timeout_ms = (int64_t)(cfg->gateway.timeout * 1000);
    src->routes.services = (const char *const *)cfg->gateway.services;
    src->routes.n_services = cfg->gateway.n_services;
    src->routes.auto_map = cfg->gateway.auto_map;
    src->routes.grpc_web = cfg->gateway.grpc_web;
    src->routes.config_path = cfg->path;
    src->routes.services_line = cfg->gateway.services_line;
    src->routes.n_own_paths =
        gw_http_own_paths(cfg->gateway.metrics, cfg->gateway.docs, src->routes.own_paths);
    return files;
}

static void log_routes(const gw_gen *g)
{
    for (size_t i = 0; i < g->router.n_routes; i++)
        rp_log("route %s %s -> %s", g->router.routes[i].binding->verb,
                g->router.routes[i].binding->path_template, g->router.routes[i].method->path);
    if (g->router.n_web_routes)
        rp_log("gRPC-Web: %zu methods, at POST /package.Service/Method",
               g->router.n_web_routes);
}

/*
 * The signals, taken by one thread from before gRPC starts (every thread
 * blocks them: main()) until the first SIGTERM or SIGINT, so that a stop
 * is seen at any point of the start too.  SIGUSR1 reopens the access log
 * file (logrotate), SIGHUP is ignored (rpcrestd replaces the process
 * instead), and so is SIGUSR2 (the host's, sent to a whole unit).  A stop
 * signal sets `stopping`, which cuts short the wait for the first API, and
 * wakes gw_signals_wait.
 */
typedef struct gw_signals {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t stopped;
    int sig;              /* under lock: the stop signal, -1 if sigwait failed, 0 before */
    atomic_int stopping;  /* set with sig */
    gw_access *access;    /* under lock: what SIGUSR1 reopens, or NULL */
} gw_signals;

static void handled_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGUSR2);
}

static void *take_signals(void *arg)
{
    gw_signals *sg = arg;
    sigset_t set;
    handled_signals(&set);
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            sig = -1;
        if (sig == SIGHUP) {
            rp_log("SIGHUP ignored: this version does not reload");
            continue;
        }
        if (sig == SIGUSR2) {
            rp_log("SIGUSR2 ignored: the gateway has no use for it");
            continue;
        }
        if (sig == SIGUSR1) {
            pthread_mutex_lock(&sg->lock);
            int rc = sg->access ? gw_access_reopen(sg->access) : 0;
            pthread_mutex_unlock(&sg->lock);
            if (rc < 0)
                rp_log("SIGUSR1: cannot reopen the access log: %s; still writing the old file",
                       strerror(-rc));
            continue;
        }
        pthread_mutex_lock(&sg->lock);
        sg->sig = sig;
        atomic_store(&sg->stopping, 1);
        pthread_cond_broadcast(&sg->stopped);
        pthread_mutex_unlock(&sg->lock);
        return NULL;
    }
}

/* Starts the signal thread.  Returns 0 or a negative errno. */
static int gw_signals_start(gw_signals *sg)
{
    memset(sg, 0, sizeof(*sg));
    atomic_init(&sg->stopping, 0);
    pthread_mutex_init(&sg->lock, NULL);
    pthread_cond_init(&sg->stopped, NULL);
    int rc = pthread_create(&sg->thread, NULL, take_signals, sg);
    if (rc != 0) {
        pthread_cond_destroy(&sg->stopped);
        pthread_mutex_destroy(&sg->lock);
        return -rc;
    }
    return 0;
}

/* SIGUSR1 reopens `access` from now on (NULL: nothing); the caller closes
 * it only after setting NULL here. */
static void gw_signals_set_access(gw_signals *sg, gw_access *access)
{
    pthread_mutex_lock(&sg->lock);
    sg->access = access;
    pthread_mutex_unlock(&sg->lock);
}

/* Waits for SIGTERM or SIGINT; returns it (-1 if sigwait failed). */
static int gw_signals_wait(gw_signals *sg)
{
    pthread_mutex_lock(&sg->lock);
    while (!sg->sig)
        pthread_cond_wait(&sg->stopped, &sg->lock);
    int sig = sg->sig;
    pthread_mutex_unlock(&sg->lock);
    return sig;
}

/* Ends the signal thread (a SIGTERM of its own if no stop signal came) and
 * waits for it. */
static void gw_signals_stop(gw_signals *sg)
{
    pthread_mutex_lock(&sg->lock);
    int running = !sg->sig;
    pthread_mutex_unlock(&sg->lock);
    if (running)
        pthread_kill(sg->thread, SIGTERM); /* taken by its sigwait: blocked everywhere */
    pthread_join(sg->thread, NULL);
    pthread_cond_destroy(&sg->stopped);
    pthread_mutex_destroy(&sg->lock);
}

static void log_stop(int sig)
{
    rp_log("%s: stopping", sig > 0 ? strsignal(sig) : "sigwait failed");
}

/* What the gateway holds from before it gave up root. */
typedef struct gw_start {
    int listen_fd;         /* rpcrestd's socket, one bound here, or -1 */
    rp_tls_pem https;      /* [gateway] cert, key */
    rp_tls_pem upstream;   /* [gateway] upstream_ca, upstream_cert, upstream_key */
} gw_start;

static gw_http_config http_config(const rp_config *cfg, int threads, const gw_start *st,
                                  gw_metrics *metrics, gw_access *access)
{
    gw_http_config hc = {
        .listen = cfg->gateway.listen,
        .listen_fd = st->listen_fd,
        .cert = st->https.cert,
        .key = st->https.key,
        .threads = threads,
        .connection_timeout_s = (unsigned)cfg->gateway.connection_timeout,
        .max_connections = (unsigned)cfg->gateway.max_connections,
        .max_body_bytes = cfg->gateway.max_body_bytes,
        .timeout_ms = (int64_t)(cfg->gateway.timeout * 1000),
        .max_timeout_ms = (int64_t)(cfg->gateway.max_timeout * 1000),
        .ignore_unknown_query_parameters = cfg->gateway.ignore_unknown_query_parameters,
        .forward = {cfg->gateway.forward_headers, cfg->gateway.n_forward_headers},
        .reply = {cfg->gateway.reply_headers, cfg->gateway.n_reply_headers},
        .gzip = cfg->gateway.gzip,
        .grpc_web = cfg->gateway.grpc_web,
        .status_metadata = cfg->gateway.status_metadata,
        .cors = {cfg->gateway.cors_origins, cfg->gateway.n_cors_origins, cfg->gateway.cors_any,
                 cfg->gateway.cors_allow_credentials, cfg->gateway.cors_max_age},
        .json = {
            .ignore_unknown_fields = cfg->gateway.json_ignore_unknown_fields,
            .emit_defaults = cfg->gateway.json_emit_defaults,
            .proto_names = cfg->gateway.json_proto_names,
            .enum_numbers = cfg->gateway.json_enum_numbers,
        },
        .docs = cfg->gateway.docs,
        .docs_dir = RPCREST_CONSOLE_DIR,
        .openapi_title = cfg->gateway.openapi_title,
        .openapi_version = cfg->gateway.openapi_version,
        .metrics = metrics,
        .access = access,
    };
    return hc;
}

/* [gateway] docs: says where the console is, or why it is missing. */
static void log_docs(const gw_http_config *hc)
{
    if (!hc->docs)
        return;
    char index[4096];
    snprintf(index, sizeof(index), "%s/index.html", hc->docs_dir);
    const char *scheme = hc->cert ? "https" : "http";
    if (access(index, R_OK) == 0)
        rp_log("API console on %s://%s/docs, OpenAPI document on /openapi.json", scheme,
               hc->listen);
    else
        rp_log("OpenAPI document on %s://%s/openapi.json; no API console: %s: %s", scheme,
               hc->listen, index, strerror(errno));
}

/*
 * The first API: files are required to load; reflection is waited for up
 * to the call timeout (the upstream may be starting too), and if it does not
 * answer the gateway starts with what it has and the watcher retries.  A
 * stop signal (sg->stopping) ends the wait.  Returns 0 with the generation
 * in *gen (*api_source: its source_id when reflection answered or was not
 * needed, else 0), 1 when a stop
 * signal came, or -1 when the configured files are wrong (a configuration
 * error).
 */
static int load_first_api(gw_gen_source *src, gw_upstream *up, gw_metrics *metrics,
                          gw_signals *sg, gw_gen **gen, uint64_t *api_source)
{
    char err[512];
    src->reflection_flags = GW_DISCOVERY_WAIT_FOR_READY;
    src->cancel = &sg->stopping;
    int reflection_failed;
    gw_gen *g = gw_gen_build(src, up, &reflection_failed, NULL, err, sizeof(err));
    src->reflection_flags = 0;
    src->cancel = NULL;
    if (atomic_load(&sg->stopping)) {
        gw_gen_unref(g);
        return 1;
    }
    *api_source = g ? g->source_id : 0;
    if (!g && reflection_failed) {
        /* start with the files alone (a listed service may not be there yet:
         * the API is not complete); the watcher retries reflection */
        rp_log("%s; will retry when the upstream is reachable", err);
        gw_gen_source files_only = *src;
        files_only.use_reflection = 0;
        files_only.routes.allow_missing = 1;
        g = gw_gen_build(&files_only, up, NULL, NULL, err, sizeof(err));
        if (g)
            g->incomplete = 1;
    }
    if (!g) {
        rp_log("%s", err);
        gw_metrics_api_loaded(metrics, 0);
        return -1;
    }
    log_routes(g);
    rp_log("serving %zu routes from %s", g->router.n_routes, g->origin);
    *gen = g;
    return 0;
}

/* The gRPC target: [gateway] upstream; else the host's private unix socket
 * when it answers (rp_private.h: cheaper per call than TCP), else
 * [host] listen.  Returns 1 for the private socket (plaintext: it is mode
 * 0600 in a folder only the service user enters), else 0. */
static int upstream_target(const rp_config *cfg, char *out, size_t outlen)
{
    char path[256], why[400];
    if (!cfg->gateway.upstream && rp_private_path(cfg, path, sizeof(path)) == 1) {
        if (rp_private_reachable(path, why, sizeof(why))) {
            snprintf(out, outlen, "unix:%s", path);
            return 1;
        }
        if (why[0])
            rp_log("private socket not used: %s", why);
    }
    rp_config_gateway_target(cfg, out, outlen);
    return 0;
}

/* How long a stop serves what is in flight before it cancels the rest:
 * [gateway] timeout, or under rpcrestd less if need be, so that cancelling
 * (up to GW_HTTP_CANCEL_WAIT_MS) and exiting fit in the gateway's
 * stop_timeout with 0.5 s to spare: a SIGKILL would cut streams without an
 * error line and lose their access log lines. */
static int64_t stop_grace_ms(const rp_config *cfg)
{
    int64_t grace = (int64_t)(cfg->gateway.timeout * 1000);
    if (!rp_notify_supervised())
        return grace;
    double stop_s = cfg->supervisor.child[RP_CHILD_GATEWAY].stop_timeout;
    int64_t room = (int64_t)(stop_s * 1000) - GW_HTTP_CANCEL_WAIT_MS - 500;
    if (room < 100)
        room = 100;
    return room < grace ? room : grace;
}

/* What serve() opens before the HTTP server; close_run closes it. */
typedef struct gw_run {
    gw_upstream *up;
    gw_metrics *metrics; /* or NULL */
    gw_access *access;   /* or NULL */
} gw_run;

static void close_run(gw_run *r, gw_signals *sg)
{
    gw_signals_set_access(sg, NULL);
    gw_access_close(r->access); /* after the last request's line */
    gw_metrics_free(r->metrics);
    gw_upstream_stop(r->up);
}

/* The metrics and the access log the INI asks for.  0, or the exit status
 * (reported). */
static int open_outputs(const rp_config *cfg, gw_run *r, gw_signals *sg)
{
    char err[512];
    if (cfg->gateway.metrics && !(r->metrics = gw_metrics_new(r->up))) {
        rp_log("out of memory");
        return 1;
    }
    if (cfg->gateway.access_log &&
        !(r->access = gw_access_open(cfg->gateway.access_log, cfg->gateway.access_log_json, err,
                                     sizeof(err)))) {
        char where[PATH_MAX + 32];
        rp_config_where(cfg, "gateway", "access_log", where, sizeof(where));
        rp_log("%s: [gateway] %s", where, err);
        return RP_EX_CONFIG;
    }
    gw_signals_set_access(sg, r->access);
    return 0;
}

/* The API first, then the port: rpcrestd's socket is shared with the
 * gateway being replaced (hand-over) and holds what came while no gateway
 * ran, so this one takes connections only once it can answer them (after a
 * wait for reflection that did not answer, with what it has).  Returns the
 * HTTP server, or NULL with *status the exit status (0: stopped while
 * starting; reported). */
static gw_http *start_http(gw_gen_source *src, const gw_http_config *hc, gw_run *r,
                           gw_signals *sg, uint64_t *api_source, int *status)
{
    char err[512];
    gw_gen *gen = NULL;
    int loaded = load_first_api(src, r->up, r->metrics, sg, &gen, api_source);
    gw_http *http = NULL;
    if (loaded == 0) {
        http = gw_http_start(hc, gen, err, sizeof(err));
        gen = NULL; /* served from the start, or freed */
        if (!http) /* not the certificate's fault: load_tls checked it */
            rp_log("%s", err);
    }
    if (!http) {
        if (loaded > 0)
            log_stop(gw_signals_wait(sg));
        gw_gen_unref(gen);
        *status = loaded > 0 ? 0 : loaded < 0 ? RP_EX_CONFIG : 1;
    }
    return http;
}

/* Runs the gateway; returns the process exit status. */
static int serve(const rp_config *cfg, gw_gen_source *src, gw_start *st, gw_signals *sg)
{
    char target[600], err[512];
    int64_t stop_grace = stop_grace_ms(cfg); /* before rp_notify_ready forgets rpcrestd */
    int private = upstream_target(cfg, target, sizeof(target));
    if (!private && !cfg->gateway.upstream && cfg->host.tls.cert && !st->upstream.ca) {
        /* plaintext to a TLS port would fail every call, looking healthy */
        rp_log("the host's port speaks TLS ([host] cert) and [gateway] upstream_ca is not "
               "set: the gateway can reach the host only over its private socket, which "
               "it cannot use");
        return 1;
    }
    const rp_tls_pem *tls = !private && st->upstream.ca ? &st->upstream : NULL;
    const char *tls_name = tls ? cfg->gateway.upstream_name : NULL;
    int threads = cpu_count(cfg->gateway.threads);
    gw_resolver *resolver = gw_resolver_new(target, (int64_t)(cfg->gateway.upstream_dns_interval * 1000), err,
                                             sizeof(err));
    if (!resolver) {
        rp_log("%s", err);
        return 1;
    }
    /* the API's calls go over the HTTP threads' own connections; discovery
     * over the control connection, which connects now so that its state
     * (the metrics' upstream_ready) says whether the upstream is there */
    gw_run run = {0};
    run.up = gw_upstream_start(resolver, tls, tls_name, err, sizeof(err));
    if (!run.up) {
        rp_log("%s", err);
        gw_resolver_free(resolver);
        return 1;
    }
    int status = open_outputs(cfg, &run, sg);
    if (status) {
        close_run(&run, sg);
        gw_resolver_free(resolver);
        return status;
    }
    gw_http_config hc = http_config(cfg, threads, st, run.metrics, run.access);
    hc.busy_poll_us = busy_poll_us(cfg);
    hc.loop_upstream = resolver;
    hc.loop_upstream_tls = tls;
    hc.loop_upstream_name = tls_name;
    hc.loop_upstream_is_host = !cfg->gateway.upstream;
    uint64_t api_source;
    gw_http *http = start_http(src, &hc, &run, sg, &api_source, &status);
    if (!http) {
        close_run(&run, sg);
        gw_resolver_free(resolver);
        return status;
    }
    if (st->listen_fd >= 0)
        st->listen_fd = -1; /* the HTTP server's now */
    gw_refresh *refresh = src->use_reflection ? gw_refresh_start(src, run.up, http, api_source)
                                              : NULL;
    rp_log("listening on %s://%s with %d threads, upstream %s%s", hc.cert ? "https" : "http",
           cfg->gateway.listen, threads, target, tls ? " (TLS)" : "");
    const char *dns_server = gw_resolver_dns_server(resolver);
    rp_log("calls: on each HTTP thread's own HTTP/2 connections to %s%s%s%s", target,
           tls ? " (TLS)" : "",
           !gw_resolver_name(resolver) ? ""
           : dns_server                ? ", its name resolved by the DNS server "
                                       : ", its name resolved by the system's resolver",
           gw_resolver_name(resolver) && dns_server ? dns_server : "");
    log_docs(&hc);
    int ready = rp_notify_ready(); /* to rpcrestd: listening, API loaded */
    if (ready < 0)
        rp_log("cannot tell rpcrestd it is ready: %s", strerror(-ready));
    log_stop(gw_signals_wait(sg));
    gw_refresh_stop(refresh);
    gw_http_stop(http, stop_grace);
    close_run(&run, sg);
    gw_resolver_free(resolver);
    return 0;
}

/* The TLS files, read (often readable by root only) and checked, the
 * HTTPS ones with GnuTLS too, which serves them.  Returns 0, or the exit
 * status after logging why. */
static int load_tls(const rp_config *cfg, gw_start *st)
{
    char err[1024];
    if (rp_tls_check(cfg, RP_TLS_GATEWAY, err, sizeof(err)) < 0 ||
        rp_tls_pem_load(cfg, &cfg->gateway.tls, &st->https, err, sizeof(err)) < 0 ||
        rp_tls_pem_load(cfg, &cfg->gateway.upstream_tls, &st->upstream, err, sizeof(err)) < 0) {
        rp_log("%s", err);
        return RP_EX_CONFIG;
    }
    int rc = st->https.cert ? gw_https_check(st->https.cert, st->https.key, err, sizeof(err))
                            : 0;
    if (rc == -EINVAL) { /* refused: the configuration's to change */
        rp_log("%s:%d: cert: %s: %s", cfg->path, cfg->gateway.tls.cert_line,
               cfg->gateway.tls.cert, err);
        return RP_EX_CONFIG;
    }
    if (rc < 0) {
        rp_log("%s", err);
        return 1;
    }
    rp_tls_warn_dates(cfg, &cfg->gateway.tls, &st->https, "cert");
    rp_tls_warn_dates(cfg, &cfg->gateway.upstream_tls, &st->upstream, "upstream_cert");
    return 0;
}

/*
 * What needs root, if any: the TLS files (load_tls) and the listening
 * socket (rpcrestd's, else bound here: a port below 1024 needs root).
 * Then the [supervisor] user for good.  Returns 0, or the exit status
 * after logging why.
 */
static int prepare(const rp_config *cfg, gw_start *st)
{
    char err[1024];
    st->listen_fd = -1;
    if (rp_priv_check(cfg, err, sizeof(err)) < 0) {
        rp_log("%s", err);
        return RP_EX_CONFIG;
    }
    int status = load_tls(cfg, st);
    if (status)
        return status;
    st->listen_fd = rp_notify_listener(cfg->gateway.listen);
    /* Started by hand and about to give up root: bind now (a port below
     * 1024 needs root).  Otherwise the HTTP server binds it when the gateway
     * is about to serve, so that the port opens when it is nearly ready. */
    int switching = cfg->supervisor.user && geteuid() == 0 && cfg->supervisor.uid != 0;
    if (st->listen_fd < 0 && switching &&
        (st->listen_fd = rp_notify_listen_tcp(cfg->gateway.listen, err, sizeof(err))) < 0) {
        rp_log("listen %s: %s", cfg->gateway.listen, err);
        return 1;
    }
    int dropped = rp_priv_drop(cfg, err, sizeof(err));
    if (dropped < 0) {
        rp_log("%s", err);
        return 1;
    }
    if (dropped)
        rp_log("running as user %s (uid %u, gid %u)", cfg->supervisor.user, cfg->supervisor.uid,
               cfg->supervisor.gid);
    return 0;
}

/* The INI's path from the command line, or NULL with *status the exit
 * status (usage printed). */
static const char *parse_args(int argc, char **argv, int *status)
{
    const char *conf = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "c:h")) != -1) {
        switch (opt) {
        case 'c': conf = optarg; break;
        case 'h': usage(stdout); *status = 0; return NULL;
        default: usage(stderr); *status = RP_EX_USAGE; return NULL;
        }
    }
    if (!conf || optind != argc) {
        usage(stderr);
        *status = RP_EX_USAGE;
        return NULL;
    }
    return conf;
}

/* Whether the kernel gives the threads this start needs (rp_thread_room.h):
 * the HTTP threads, the connection deadline thread, the resolver's (for a
 * name), the control connection's, the access log's and the API
 * refresh's.  Returns 0, or -1 after logging why. */
static int check_thread_room(const rp_config *cfg, const gw_gen_source *src)
{
    int http = cpu_count(cfg->gateway.threads);
    int own = http + 3 + (cfg->gateway.access_log != NULL) + (src->use_reflection != 0);
    char err[256];
    if (rp_thread_room_check(own, 0, err, sizeof(err)) < 0) {
        rp_log("%s", err);
        return -1;
    }
    return 0;
}

/* Blocks the signals gw_signals takes, from the start (a SIGUSR1 for the
 * access log must not kill a gateway still starting): every thread
 * inherits this mask, and the signal thread takes them once it runs.
 * Returns 0, or -1 after logging why. */
static int block_signals(void)
{
    sigset_t set;
    handled_signals(&set);
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc != 0) {
        rp_log("pthread_sigmask: %s", strerror(rc));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int status = 0;
    const char *conf = parse_args(argc, argv, &status);
    if (!conf)
        return status;
    if (block_signals() < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* an access log at ulimit -f: EFBIG, not the end */
    rp_trim_setup(); /* large bodies' memory goes back as they are freed */
    rp_nofile_raise(); /* connections (rp_nofile.h) */
    char err[1024];
    rp_config *cfg = rp_config_load_given(conf, err, sizeof(err));
    if (!cfg) {
        rp_log("%s", err);
        return RP_EX_CONFIG;
    }
    gw_start st;
    gw_gen_source src;
    gw_signals sg;
    const char **files = NULL;
    memset(&st, 0, sizeof(st));
    if ((status = prepare(cfg, &st)) != 0)
        goto out_start;
    status = 1;
    if (!(files = api_source(cfg, &src))) {
        rp_log("cannot start: %s", GW_ERR_OOM);
        goto out_start;
    }
    int rc = gw_signals_start(&sg);
    if (rc < 0) {
        rp_log("cannot start the signal thread: %s", strerror(-rc));
        goto out_files;
    }
    if (check_thread_room(cfg, &src) < 0) {
        gw_signals_stop(&sg);
        goto out_files;
    }
    status = serve(cfg, &src, &st, &sg);
    gw_signals_stop(&sg);
out_files:
    free(files);
out_start:
    if (st.listen_fd >= 0)
        close(st.listen_fd);
    rp_tls_pem_free(&st.https);
    rp_tls_pem_free(&st.upstream);
    rp_config_free(cfg);
    return status;
}
