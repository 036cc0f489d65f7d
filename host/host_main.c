/*
 * host_main.c -- rpcrest-host: the command line, the configuration, and the
 * order of startup and shutdown (signals, plugins, gRPC, server, plugins).
 *
 * Serving is host_server's, plugins are host_plugin's; this file only says
 * what happens when, and with which exit status.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <grpc/grpc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host_accept.h"
#include "host_metrics.h"
#include "host_plugin.h"
#include "host_server.h"
#include "rp_absl.h"
#include "rp_bound_exit.h"
#include "rp_addr.h"
#include "rp_config.h"
#include "rp_log.h"
#include "rp_metrics_http.h"
#include "rp_nofile.h"
#include "rp_notify.h"
#include "rp_priv.h"
#include "rp_private.h"
#include "rp_thread_room.h"
#include "rp_tls.h"
#include "rp_tls_ssl.h"
#include "rp_trim.h"

#define EX_FAILURE 1

static void usage(FILE *out)
{
    fputs("usage: rpcrest-host -c FILE\n"
          "\n"
          "Serves the gRPC services of the plugins named in FILE's [service.NAME]\n"
          "sections on [host] listen, until SIGTERM or SIGINT.\n"
          "\n"
          "  -c FILE   the rpcrest INI file (conf/rpcrest.ini)\n"
          "  -h        this help\n",
          out);
}

/* The INI path from the command line, or NULL with *status set. */
static const char *parse_args(int argc, char **argv, int *status)
{
    const char *conf = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "c:h")) != -1) {
        switch (opt) {
        case 'c':
            conf = optarg;
            break;
        case 'h':
            usage(stdout);
            *status = 0;
            return NULL;
        default:
            usage(stderr);
            *status = RP_EX_USAGE;
            return NULL;
        }
    }
    if (!conf || optind != argc) {
        usage(stderr);
        *status = RP_EX_USAGE;
        return NULL;
    }
    return conf;
}

/* The signals main waits for; blocked in every thread (gRPC's too, since
 * they inherit the mask).  SIGPIPE stays blocked for good.  SIGHUP and
 * SIGUSR1 are taken and do nothing (the host has no file of its own to
 * reopen): `systemctl kill -s USR1` signals every process of the unit.
 * SIGUSR2, from rpcrestd, publishes the private socket again. */
static int block_signals(sigset_t *wait_set)
{
    sigset_t all;
    sigemptyset(&all);
    sigaddset(&all, SIGTERM);
    sigaddset(&all, SIGINT);
    sigaddset(&all, SIGHUP);
    sigaddset(&all, SIGUSR1);
    sigaddset(&all, SIGUSR2);
    sigaddset(&all, SIGPIPE);
    int rc = pthread_sigmask(SIG_BLOCK, &all, NULL);
    if (rc) {
        rp_log("pthread_sigmask: %s", strerror(rc));
        return -1;
    }
    sigemptyset(wait_set);
    sigaddset(wait_set, SIGTERM);
    sigaddset(wait_set, SIGINT);
    sigaddset(wait_set, SIGHUP);
    sigaddset(wait_set, SIGUSR1);
    sigaddset(wait_set, SIGUSR2);
    return 0;
}

/* Returns the signal that asks us to stop.  On SIGUSR2, points the private
 * socket's path (when there is one: path not NULL) at addr again: rpcrestd
 * sends it when another host process has ended, which removes the path if
 * it had pointed at that one's socket (a hand-over undone). */
static int wait_for_stop(const sigset_t *set, const char *path, const char *addr)
{
    for (;;) {
        int sig;
        char err[512];
        int rc = sigwait(set, &sig);
        if (rc) {
            rp_log("sigwait: %s", strerror(rc));
            return SIGTERM;
        }
        if (sig == SIGTERM || sig == SIGINT)
            return sig;
        if (sig == SIGUSR2 && path && rp_private_publish(path, addr, err, sizeof(err)) < 0)
            rp_log("private_listen: %s", err);
        /* SIGHUP, SIGUSR1: nothing to reload or reopen */
    }
}

/*
 * [host] threads = 0: one completion-queue thread per CPU when the host runs
 * alone; under rpcrestd, which runs the gateway on the same CPUs, half of
 * them (rounded up).  Every extra thread waiting in the completion queue
 * costs a wake-up per burst of events (gRPC core hands polling over to a
 * waiting thread each time the polling one takes events), and the gateway
 * keeps the other CPUs busy: on 2 CPUs one thread gave 9-14% more REST
 * requests/s at 1 connection and 2-7% at 64 and 256 (docs/benchmarks.md).
 */
static size_t thread_count(const rp_config *cfg)
{
    if (cfg->host.threads > 0)
        return (size_t)cfg->host.threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (rp_notify_supervised())
        n = (n + 1) / 2;
    return (size_t)n;
}

/* A stop's time: drain_timeout for the calls in flight, then up to 5 s for
 * the handlers of the calls cancelled then to finish them, before the host
 * names the methods that did not (host_server_stop).  Under rpcrestd both
 * must end half a second before the host's stop_timeout does (the time to
 * say so and exit, before SIGKILL): the grace shrinks to fit, down to 1 s,
 * and then the drain does (logged once, at start). */
typedef struct stop_plan {
    double drain_s;
    int grace_ms;
} stop_plan;

static stop_plan plan_stop(const rp_config *cfg)
{
    stop_plan p = {cfg->host.drain_timeout, 5000};
    if (!rp_notify_supervised())
        return p;
    double stop = cfg->supervisor.child[RP_CHILD_HOST].stop_timeout;
    double room = stop - 0.5 - p.drain_s; /* for the grace */
    if (room < 1.0) {
        double drain = stop - 1.5 > 0 ? stop - 1.5 : 0;
        if (drain < p.drain_s)
            rp_log("drain_timeout %g s shortened to %g s: the host's stop_timeout (%g s) must "
                   "leave 1.5 s after it, to cancel the calls left and exit before SIGKILL",
                   p.drain_s, drain, stop);
        p.drain_s = drain < p.drain_s ? drain : p.drain_s;
        room = stop - 0.5 - p.drain_s;
    }
    if (room < 5.0)
        p.grace_ms = room > 0.1 ? (int)(room * 1000) : 100;
    return p;
}

/* "serving a.S (/p/a.so), b.T (/p/b.so) on ADDR with N threads" */
static void log_serving(const host_plugins *ps, const char *listen, size_t threads)
{
    char list[1536] = "";
    size_t n = 0;
    for (size_t i = 0; i < ps->n_plugins; i++) {
        const host_plugin *p = &ps->plugins[i];
        for (size_t j = 0; j < p->entry->n_services && n < sizeof(list); j++) {
            int m = snprintf(list + n, sizeof(list) - n, "%s%s (%s)", n ? ", " : "",
                             p->entry->services[j].descriptor->name, p->path);
            n += m > 0 ? (size_t)m : 0;
        }
    }
    rp_log("serving %s on %s with %zu thread%s", list, listen, threads,
             threads == 1 ? "" : "s");
}

/* The private unix socket for the gateway (rp_private.h): its stable path
 * into path[256] and this process's own address into addr[300].  Returns 1,
 * or 0 when there is none (off, or not usable: logged). */
static int private_socket(const rp_config *cfg, char *path, char *addr)
{
    char err[512];
    int rc = rp_private_path(cfg, path, 256);
    if (rc < 0)
        rp_log("private_listen: the path for %s is too long for a unix socket; set [host] "
               "private_listen", cfg->host.listen);
    if (rc <= 0)
        return 0;
    if (rp_private_prepare(path, getpid(), addr, 300, err, sizeof(err)) < 0) {
        rp_log("private_listen: %s; the gateway will use %s", err, cfg->host.listen);
        return 0;
    }
    return 1;
}

/* What a running host holds, released by host_run_free in reverse order of
 * acquisition; a zeroed host_run holds nothing. */
typedef struct host_run {
    host_server *srv;
    host_plugins ps;
    host_metrics *metrics;
    rp_metrics_http *metrics_http; /* [host] metrics_listen, or NULL */
    int have_private;              /* the private unix socket is served */
    int grpc_started;              /* grpc_init ran */
    char private_path[256], private_addr[300];
} host_run;

static void host_run_free(host_run *run)
{
    if (run->srv && host_server_stop(run->srv) < 0) { /* cancels what is left */
        /* a plugin holds calls it never finished: unloading it, or freeing
         * gRPC core under them, could crash; the process ends as it is */
        if (run->have_private)
            rp_private_withdraw(run->private_path, run->private_addr);
        rp_log("stopped without unloading the plugins");
        _exit(EX_FAILURE);
    }
    if (run->have_private)
        rp_private_withdraw(run->private_path, run->private_addr);
    rp_metrics_http_stop(run->metrics_http);
    host_metrics_free(run->metrics);
    host_plugins_unload(&run->ps);
    grpc_shutdown();
}

/* 1 if `listen` is a TCP address with a port below 1024 (binding it, and
 * the sockets gRPC adds to it at start, needs root). */
static int privileged_port(const char *listen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (!listen || rp_addr_tcp(listen, 1, &ss, &len) < 0)
        return 0;
    in_port_t port = ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port;
    return ntohs(port) < 1024;
}

/* Binds the public port as whoever started us (a port below 1024 needs
 * root).  With no port below 1024 to bind, root has no further use: the
 * [supervisor] user is taken for good first, so that no plugin ever runs
 * where it could take root back.  Returns 0, or an exit status after
 * logging why. */
static int bind_port(const rp_config *cfg, host_server_conf *conf, host_run *run)
{
    char err[1024];
    rp_tls_pem pem;
    if (rp_priv_check(cfg, err, sizeof(err)) < 0 ||
        rp_tls_check(cfg, RP_TLS_HOST, err, sizeof(err)) < 0 ||
        rp_tls_pem_load(cfg, &cfg->host.tls, &pem, err, sizeof(err)) < 0) {
        rp_log("%s", err);
        return RP_EX_CONFIG;
    }
    rp_tls_warn_dates(cfg, &cfg->host.tls, &pem, "cert");
    if (pem.cert && rp_tls_ssl_accepts(pem.cert, pem.key, err, sizeof(err)) < 0) {
        /* gRPC core would refuse them and only say that the port cannot be added */
        rp_log("%s:%d: cert: %s: OpenSSL, which serves the host's TLS, refuses %s", cfg->path,
               cfg->host.tls.cert_line, cfg->host.tls.cert, err);
        rp_tls_pem_free(&pem);
        return RP_EX_CONFIG;
    }
    /* the completion-queue workers, and the metrics listener's thread */
    int own = (int)conf->threads + (cfg->host.metrics_listen != NULL);
    if (rp_thread_room_check(own, rp_thread_room_grpc_core(), err, sizeof(err)) < 0) {
        rp_log("%s", err);
        rp_tls_pem_free(&pem);
        return EX_FAILURE;
    }
    rp_absl_no_deadlock_detection(); /* a debugging aid every gRPC lock pays for */
    grpc_init();
    run->grpc_started = 1;
    int dropped = 0;
    if (!privileged_port(cfg->host.listen) && !privileged_port(cfg->host.metrics_listen) &&
        (dropped = rp_priv_drop(cfg, err, sizeof(err))) < 0) {
        rp_log("%s", err);
        rp_tls_pem_free(&pem);
        return EX_FAILURE;
    }
    if (dropped)
        rp_log("running as user %s (uid %u, gid %u) from before loading plugins",
               cfg->supervisor.user, cfg->supervisor.uid, cfg->supervisor.gid);
    conf->cert = pem.cert;
    conf->key = pem.key;
    conf->client_ca = pem.ca;
    run->srv = host_server_create(conf);
    rp_tls_pem_free(&pem); /* gRPC keeps its own copies */
    conf->cert = conf->key = conf->client_ca = NULL;
    return run->srv ? 0 : EX_FAILURE;
}

/*
 * Plugins are checked, loaded and initialised, their metrics prepared and
 * the unix sockets made as the [supervisor] user: for good already when no
 * port below 1024 is involved (bind_port), else with its effective ids
 * only (gRPC needs root once more to start the server on such a port, and
 * metrics_listen is bound then too), and then for good, before any call
 * reaches a plugin.
 * Returns 0, or an exit status after logging why.
 */
static int load_and_start(const rp_config *cfg, const host_server_conf *conf, host_run *run)
{
    char err[1024] = "";
    if (rp_priv_lower(cfg, err, sizeof(err)) < 0) {
        rp_log("%s", err);
        return EX_FAILURE;
    }
    if (host_plugins_load(&run->ps, cfg) < 0)
        return RP_EX_CONFIG;
    run->metrics = host_metrics_new();
    if (!run->metrics || host_metrics_prepare(run->metrics, &run->ps) < 0) {
        rp_log("out of memory");
        return EX_FAILURE;
    }
    run->have_private = private_socket(cfg, run->private_path, run->private_addr);
    int rc = host_server_prepare(run->srv, &run->ps, conf,
                                 run->have_private ? run->private_addr : NULL);
    run->have_private = rc == 1; /* never publish a socket that is not bound */
    if (rc >= 0)
        rc = rp_priv_raise(err, sizeof(err));
    /* metrics_listen is bound as root (a port below 1024) but served only
     * once root is gone for good; SO_REUSEPORT always: the next host binds
     * it beside this one during a hand-over, even one after a reload that
     * moved listen from unix: (no hand-over flag) to TCP */
    if (rc == 0 && cfg->host.metrics_listen &&
        !(run->metrics_http = rp_metrics_http_bind(cfg->host.metrics_listen,
                                                   host_metrics_registry(run->metrics), 1,
                                                   err, sizeof(err))))
        rc = -1;
    if (rc == 0) {
        host_server_start(run->srv);
        rc = rp_priv_drop(cfg, err, sizeof(err)); /* 0: switched already (bind_port) */
        if (rc > 0)
            rp_log("running as user %s (uid %u, gid %u) from after starting the server "
                   "(a port below 1024)", cfg->supervisor.user, cfg->supervisor.uid,
                   cfg->supervisor.gid);
    }
    if (rc >= 0 && run->metrics_http)
        rc = rp_metrics_http_start(run->metrics_http, err, sizeof(err));
    if (rc < 0 && err[0])
        rp_log("%s", err);
    return rc < 0 || host_server_serve(run->srv) < 0 ? EX_FAILURE : 0;
}

/* Says what is served, publishes the private socket, steers new
 * connections here and tells rpcrestd the host is ready. */
static void announce(const rp_config *cfg, const host_server_conf *conf, host_run *run)
{
    char err[512];
    log_serving(&run->ps, cfg->host.listen, conf->threads);
    if (run->metrics_http)
        rp_log("metrics on http://%s/metrics", cfg->host.metrics_listen);
    if (run->have_private &&
        rp_private_publish(run->private_path, run->private_addr, err, sizeof(err)) < 0)
        rp_log("private_listen: %s; the gateway will use %s", err, cfg->host.listen);
    else if (run->have_private)
        rp_private_sweep(run->private_path);
    if (conf->reuseport && rp_notify_steer_to_newest(cfg->host.listen) <= 0)
        rp_log("cannot steer new connections on %s to the newest host", cfg->host.listen);
    int ready = rp_notify_ready(); /* to rpcrestd: listening, plugins loaded */
    if (ready < 0)
        rp_log("cannot tell rpcrestd it is ready: %s", strerror(-ready));
}

/* Serves until a stop signal, drains, and unwinds; returns the exit status. */
static int serve(const rp_config *cfg, const sigset_t *stop_set)
{
    host_server_conf conf = {
        .listen = cfg->host.listen,
        .threads = thread_count(cfg),
        .max_message_bytes = cfg->host.max_message_bytes,
        .max_concurrent_streams = cfg->host.max_concurrent_streams,
        .min_ping_interval_ms = (int)(cfg->host.min_ping_interval * 1000),
        .ping_without_calls = cfg->host.ping_without_calls,
        .max_connection_idle_ms = (int)(cfg->host.max_connection_idle * 1000),
        .max_connection_age_ms = (int)(cfg->host.max_connection_age * 1000),
        .max_connection_age_grace_ms = cfg->host.max_connection_age_grace < 0
                                           ? -1
                                           : (int)(cfg->host.max_connection_age_grace * 1000),
        .reuseport = rp_notify_handover(), /* rpcrestd runs two during a hand-over */
    };
    stop_plan plan = plan_stop(cfg);
    conf.cancel_grace_ms = plan.grace_ms;
    host_run run;
    memset(&run, 0, sizeof(run));
    int status = bind_port(cfg, &conf, &run);
    if (status) {
        if (run.grpc_started) {
            rp_bound_exit_arm(status);
            host_run_free(&run);
        }
        return status;
    }
    status = load_and_start(cfg, &conf, &run);
    if (status) {
        rp_bound_exit_arm(status); /* gRPC core may wait for a thread it never had */
        host_run_free(&run);
        return status;
    }
    announce(cfg, &conf, &run);
    int sig = wait_for_stop(stop_set, run.have_private ? run.private_path : NULL,
                            run.private_addr);
    rp_log("%s: stopping (draining calls for up to %g s)", sig == SIGINT ? "SIGINT" : "SIGTERM",
             plan.drain_s);
    host_server_drain(run.srv, plan.drain_s); /* health NOT_SERVING, no new calls */
    host_run_free(&run);
    rp_log("stopped");
    return 0;
}

int main(int argc, char **argv)
{
    sigset_t stop_set;
    if (block_signals(&stop_set) < 0)
        return EX_FAILURE;
    signal(SIGXFSZ, SIG_IGN); /* a plugin's file at ulimit -f: EFBIG, not the end */
    int status = 0;
    const char *conf = parse_args(argc, argv, &status);
    if (!conf)
        return status;
    rp_log_route_grpc();
    rp_trim_setup(); /* large messages' memory goes back as they are freed */
    rp_nofile_raise(); /* gRPC core stops accepting for good at EMFILE, */
    host_accept_keep_reserve(); /* unless a descriptor can be freed then */
    char err[1024];
    rp_config *cfg = rp_config_load_given(conf, err, sizeof(err));
    if (!cfg) {
        rp_log("%s", err);
        return RP_EX_CONFIG;
    }
    status = serve(cfg, &stop_set);
    rp_config_free(cfg);
    return status;
}
