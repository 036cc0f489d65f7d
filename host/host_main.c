/*
 * host_main.c -- rpcrest-host: the command line, the configuration, and the
 * order of startup and shutdown (signals, plugins, gRPC, server, plugins).
 *
 * Serving is host_server's, plugins are host_plugin's; this file only says
 * what happens when, and with which exit status.
 */
#include <getopt.h>
#include <grpc/grpc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rp_log.h"
#include "host_metrics.h"
#include "host_plugin.h"
#include "host_server.h"
#include "rp_metrics_http.h"
#include "rp_absl.h"
#include "rp_config.h"
#include "rp_notify.h"
#include "rp_priv.h"
#include "rp_private.h"
#include "rp_tls.h"

#define EX_USAGE 64
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
            *status = EX_USAGE;
            return NULL;
        }
    }
    if (!conf || optind != argc) {
        usage(stderr);
        *status = EX_USAGE;
        return NULL;
    }
    return conf;
}

/* The signals main waits for; blocked in every thread (gRPC's too, since
 * they inherit the mask).  SIGPIPE stays blocked for good. */
static int block_signals(sigset_t *wait_set)
{
    sigset_t all;
    sigemptyset(&all);
    sigaddset(&all, SIGTERM);
    sigaddset(&all, SIGINT);
    sigaddset(&all, SIGHUP);
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
    return 0;
}

/* Returns the signal that asks us to stop. */
static int wait_for_stop(const sigset_t *set)
{
    for (;;) {
        int sig;
        int rc = sigwait(set, &sig);
        if (rc) {
            rp_log("sigwait: %s", strerror(rc));
            return SIGTERM;
        }
        if (sig == SIGTERM || sig == SIGINT)
            return sig;
        /* SIGHUP: nothing to reload yet */
    }
}

static size_t thread_count(const rp_config *cfg)
{
    if (cfg->host.threads > 0)
        return (size_t)cfg->host.threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
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

/* Binds the public port, loads the plugins as the service user, becomes
 * it for good, serves until a stop signal, and unwinds. */
static int serve(const rp_config *cfg, const sigset_t *stop_set)
{
    char err[1024] = "";
    rp_tls_pem pem;
    if (rp_priv_check(cfg, err, sizeof(err)) < 0 || rp_tls_check(cfg, err, sizeof(err)) < 0 ||
        rp_tls_pem_load(cfg, &cfg->host.tls, &pem, err, sizeof(err)) < 0) {
        rp_log("%s", err);
        return RP_EX_CONFIG;
    }
    rp_absl_no_deadlock_detection(); /* a debugging aid every gRPC lock pays for */
    grpc_init();
    size_t threads = thread_count(cfg);
    host_server_conf conf = {
        .listen = cfg->host.listen,
        .threads = threads,
        .max_message_bytes = cfg->host.max_message_bytes,
        .max_concurrent_streams = cfg->host.max_concurrent_streams,
        .reuseport = rp_notify_handover(), /* rpcrestd runs two during a hand-over */
        .cert = pem.cert,
        .key = pem.key,
        .client_ca = pem.ca,
    };
    /* bound as whoever started us: a port below 1024 needs root */
    host_server *srv = host_server_create(&conf);
    rp_tls_pem_free(&pem); /* gRPC keeps its own copies */
    conf.cert = conf.key = conf.client_ca = NULL;
    if (!srv) {
        grpc_shutdown();
        return EX_FAILURE;
    }
    /* Plugins are checked, loaded and initialised, and unix sockets made,
     * as the [supervisor] user (effective ids only: gRPC needs root once
     * more to start the server); then that user for good, before any call
     * reaches a plugin. */
    if (rp_priv_lower(cfg, err, sizeof(err)) < 0) {
        rp_log("%s", err);
        host_server_stop(srv);
        grpc_shutdown();
        return EX_FAILURE;
    }
    host_plugins ps;
    if (host_plugins_load(&ps, cfg) < 0) {
        host_server_stop(srv);
        grpc_shutdown();
        return RP_EX_CONFIG;
    }
    host_metrics *metrics = host_metrics_new();
    if (!metrics || host_metrics_prepare(metrics, &ps) < 0) {
        rp_log("out of memory");
        host_metrics_free(metrics);
        host_server_stop(srv);
        host_plugins_unload(&ps);
        grpc_shutdown();
        return EX_FAILURE;
    }
    char private_path[256], private_addr[300];
    int have_private = private_socket(cfg, private_path, private_addr);
    int rc = host_server_prepare(srv, &ps, &conf, have_private ? private_addr : NULL);
    int dropped = 0;
    rp_metrics_http *metrics_http = NULL;
    if (rc == 0 && (rc = rp_priv_raise(err, sizeof(err))) == 0) {
        /* [host] metrics_listen is bound as root too; SO_REUSEPORT always:
         * the next host binds it as well during a hand-over */
        if (cfg->host.metrics_listen &&
            !(metrics_http = rp_metrics_http_start(cfg->host.metrics_listen,
                                                   host_metrics_registry(metrics), 1, err,
                                                   sizeof(err))))
            rc = -1;
        if (rc == 0) {
            host_server_start(srv);
            dropped = rc = rp_priv_drop(cfg, err, sizeof(err));
        }
    }
    if (rc < 0 && err[0])
        rp_log("%s", err);
    if (rc < 0 || host_server_serve(srv) < 0) {
        host_server_stop(srv);
        rp_metrics_http_stop(metrics_http);
        host_metrics_free(metrics);
        host_plugins_unload(&ps);
        grpc_shutdown();
        return EX_FAILURE;
    }
    if (dropped)
        rp_log("running as user %s (uid %u, gid %u)", cfg->supervisor.user, cfg->supervisor.uid,
               cfg->supervisor.gid);
    log_serving(&ps, cfg->host.listen, threads);
    if (metrics_http)
        rp_log("metrics on http://%s/metrics", cfg->host.metrics_listen);
    if (have_private && rp_private_publish(private_path, private_addr, err, sizeof(err)) < 0)
        rp_log("private_listen: %s; the gateway will use %s", err, cfg->host.listen);
    if (conf.reuseport && rp_notify_steer_to_newest(cfg->host.listen) <= 0)
        rp_log("cannot steer new connections on %s to the newest host", cfg->host.listen);
    int ready = rp_notify_ready(); /* to rpcrestd: listening, plugins loaded */
    if (ready < 0)
        rp_log("cannot tell rpcrestd it is ready: %s", strerror(-ready));
    int sig = wait_for_stop(stop_set);
    rp_log("%s: stopping (draining calls for up to %g s)", sig == SIGINT ? "SIGINT" : "SIGTERM",
             cfg->host.drain_timeout);
    host_server_drain(srv, cfg->host.drain_timeout); /* health NOT_SERVING, no new calls */
    host_server_stop(srv);                           /* cancels what is left */
    if (have_private)
        rp_private_withdraw(private_path, private_addr);
    rp_metrics_http_stop(metrics_http);
    host_metrics_free(metrics);
    host_plugins_unload(&ps);
    grpc_shutdown();
    rp_log("stopped");
    return 0;
}

int main(int argc, char **argv)
{
    sigset_t stop_set;
    if (block_signals(&stop_set) < 0)
        return EX_FAILURE;
    int status = 0;
    const char *conf = parse_args(argc, argv, &status);
    if (!conf)
        return status;
    rp_log_route_grpc();
    char err[1024];
    rp_config *cfg = rp_config_load(conf, err, sizeof(err));
    if (!cfg) {
        rp_log("%s", err);
        return RP_EX_CONFIG;
    }
    status = serve(cfg, &stop_set);
    rp_config_free(cfg);
    return status;
}
