/*
 * sup_main.c -- rpcrestd: reads the config, starts rpcrest-host and then
 * rpcrest-gateway, restarts whichever ends, and stops both on SIGTERM/SIGINT.
 *
 * Owns the command line, the signals (blocked, read from one signalfd),
 * reaping and the event loop.  How a child is started and when it is due to
 * restart belongs to sup_child.c.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rp_config.h"
#include "sup_child.h"
#include "sup_log.h"

#define SUP_DEFAULT_CONFIG "conf/rpcrest.ini"
#define SUP_EX_USAGE 64 /* sysexits.h EX_USAGE */

enum { SUP_HOST, SUP_GATEWAY, SUP_N_CHILDREN };

/* Started in this order, stopped in the reverse one. */
static const char *const sup_child_names[SUP_N_CHILDREN] = {
    [SUP_HOST] = "rpcrest-host",
    [SUP_GATEWAY] = "rpcrest-gateway",
};

typedef struct sup_state {
    rp_config *cfg;                     /* owned */
    sup_child children[SUP_N_CHILDREN]; /* owned */
    int sigfd;                          /* signalfd: CHLD, TERM, INT, HUP */
    int stop_signal;                    /* 0, or the signal that asked us to stop */
} sup_state;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rpcrestd [-c FILE]\n"
            "  -c FILE  the configuration (default: " SUP_DEFAULT_CONFIG ")\n"
            "  -h       print this help\n");
}

/* Returns -1 to go on with *cfg_path set, or the status to exit with. */
static int parse_args(int argc, char **argv, const char **cfg_path)
{
    int opt;
    *cfg_path = SUP_DEFAULT_CONFIG;
    while ((opt = getopt(argc, argv, "c:h")) != -1) {
        switch (opt) {
        case 'c':
            *cfg_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return SUP_EX_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rpcrestd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return SUP_EX_USAGE;
    }
    return -1;
}

/* The folder of the running rpcrestd, into dir[size].  Returns 0 or -1
 * (reported). */
static int exe_dir(char *dir, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", dir, size - 1);
    if (n < 0) {
        sup_log("readlink /proc/self/exe: %s", strerror(errno));
        return -1;
    }
    if ((size_t)n == size - 1) {
        sup_log("readlink /proc/self/exe: path longer than %zu bytes", size - 2);
        return -1;
    }
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (!slash) {
        sup_log("readlink /proc/self/exe: '%s' is not an absolute path", dir);
        return -1;
    }
    if (slash == dir)
        slash[1] = '\0'; /* a program in "/" */
    else
        *slash = '\0';
    return 0;
}

/* Blocks the signals the loop handles and returns a signalfd for them, or
 * -1 (reported).  Their dispositions go back to the default: a SIGCHLD
 * ignored by whoever started rpcrestd would have the kernel reap the
 * children behind our back.  SIGPIPE is ignored so a closed log pipe is an
 * EPIPE, not the end of rpcrestd. */
static int open_signals(void)
{
    static const int handled[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP};
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
        sigaddset(&set, handled[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
        sup_log("sigprocmask: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++) {
        if (signal(handled[i], SIG_DFL) == SIG_ERR) {
            sup_log("signal(SIG%s): %s", sigabbrev_np(handled[i]), strerror(errno));
            return -1;
        }
    }
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        sup_log("signal(SIGPIPE): %s", strerror(errno));
        return -1;
    }
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        sup_log("signalfd: %s", strerror(errno));
    return fd;
}

/* ---- the loop ----------------------------------------------------------- */

static sup_child *find_child(sup_state *s, pid_t pid)
{
    for (int i = 0; i < SUP_N_CHILDREN; i++)
        if (s->children[i].pid == pid)
            return &s->children[i];
    return NULL;
}

static int any_running(const sup_state *s)
{
    for (int i = 0; i < SUP_N_CHILDREN; i++)
        if (s->children[i].pid != 0)
            return 1;
    return 0;
}

/* Collects every child that has ended; restarts them unless stopping. */
static void reap(sup_state *s)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid == 0)
            return;
        if (pid < 0) {
            if (errno != ECHILD)
                sup_log("waitpid: %s", strerror(errno));
            return;
        }
        sup_child *c = find_child(s, pid);
        if (c)
            sup_child_exited(c, status, now_ms(), s->stop_signal == 0);
        else
            sup_log("reaped pid %d, which is not one of ours", (int)pid);
    }
}

static void on_signal(sup_state *s, int sig)
{
    switch (sig) {
    case SIGCHLD:
        reap(s);
        break;
    case SIGTERM:
    case SIGINT:
        if (s->stop_signal) {
            sup_log("received SIG%s; already stopping", sigabbrev_np(sig));
            break;
        }
        sup_log("received SIG%s; stopping", sigabbrev_np(sig));
        s->stop_signal = sig;
        break;
    case SIGHUP:
        sup_log("received SIGHUP; reload is not supported by this version, carrying on");
        break;
    default:
        sup_log("received unexpected signal %d", sig);
        break;
    }
}

/* Handles every signal queued on the signalfd.  Returns 0, or -1 if the
 * signalfd cannot be read (reported). */
static int read_signals(sup_state *s)
{
    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n = read(s->sigfd, &si, sizeof(si));
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n < 0) {
            sup_log("read signalfd: %s", strerror(errno));
            return -1;
        }
        if ((size_t)n != sizeof(si)) {
            sup_log("read signalfd: short read of %zd bytes", n);
            return -1;
        }
        on_signal(s, (int)si.ssi_signo);
    }
}

/* Waits up to timeout ms (-1: no limit) for signals and handles them.
 * Returns 0, or -1 on an error (reported). */
static int wait_signals(sup_state *s, int64_t timeout)
{
    struct pollfd pfd = {.fd = s->sigfd, .events = POLLIN};
    int ms = timeout > INT_MAX ? INT_MAX : (int)timeout;
    int rc = poll(&pfd, 1, ms);
    if (rc < 0) {
        sup_log("poll: %s", strerror(errno));
        return -1;
    }
    return rc > 0 ? read_signals(s) : 0;
}

/* Starts every child that is due; returns the ms until the next one is due,
 * or -1 if none is pending. */
static int64_t start_due(sup_state *s)
{
    int64_t next = -1;
    for (int i = 0; i < SUP_N_CHILDREN; i++) {
        sup_child *c = &s->children[i];
        int64_t now = now_ms();
        int64_t due = sup_child_due_in(c, now);
        if (due == 0) {
            sup_child_start(c, s->cfg->path, now);
            due = sup_child_due_in(c, now); /* a failed fork retries later */
        }
        if (due >= 0 && (next < 0 || due < next))
            next = due;
    }
    return next;
}

/* Runs until SIGTERM/SIGINT.  Returns 0, or -1 on an error (reported). */
static int run(sup_state *s)
{
    while (!s->stop_signal) {
        if (wait_signals(s, start_due(s)) < 0)
            return -1;
    }
    return 0;
}

/* SIGTERM to every child's process group, SIGKILL to those still there
 * after stop_timeout, and reaps them all. */
static void stop_children(sup_state *s)
{
    if (!s->stop_signal)
        s->stop_signal = SIGTERM; /* no restarts from here on */
    for (int i = SUP_N_CHILDREN - 1; i >= 0; i--) {
        s->children[i].next_start_ms = -1;
        sup_child_signal(&s->children[i], SIGTERM);
    }
    int64_t deadline = now_ms() + (int64_t)(s->cfg->supervisor.stop_timeout * 1000);
    while (any_running(s)) {
        int64_t left = deadline - now_ms();
        if (left <= 0 || wait_signals(s, left) < 0)
            break;
    }
    for (int i = SUP_N_CHILDREN - 1; i >= 0; i--) {
        sup_child *c = &s->children[i];
        if (c->pid == 0)
            continue;
        sup_log("%s pid %d did not stop within %g s; sending SIGKILL", c->name, (int)c->pid,
                s->cfg->supervisor.stop_timeout);
        sup_child_signal(c, SIGKILL);
    }
    for (int i = 0; i < SUP_N_CHILDREN; i++) {
        sup_child *c = &s->children[i];
        int status;
        if (c->pid == 0)
            continue;
        if (waitpid(c->pid, &status, 0) == c->pid) {
            sup_child_exited(c, status, now_ms(), 0);
        } else {
            sup_log("waitpid %s pid %d: %s", c->name, (int)c->pid, strerror(errno));
            c->pid = c->pgid = 0;
        }
    }
}

/* ---- setup ---------------------------------------------------------------- */

/* Everything but the config, which the caller has loaded into s->cfg.
 * Returns 0 or -1 (reported); sup_free undoes a partial setup too. */
static int sup_init(sup_state *s)
{
    char dir[PATH_MAX];
    if (exe_dir(dir, sizeof(dir)) < 0)
        return -1;
    int64_t now = now_ms();
    for (int i = 0; i < SUP_N_CHILDREN; i++) {
        if (sup_child_init(&s->children[i], sup_child_names[i], dir, now) < 0)
            return -1;
        if (access(s->children[i].path, X_OK) < 0) {
            sup_log("%s: %s", s->children[i].path, strerror(errno));
            return -1;
        }
    }
    s->sigfd = open_signals();
    return s->sigfd < 0 ? -1 : 0;
}

static void sup_free(sup_state *s)
{
    if (s->sigfd >= 0)
        close(s->sigfd);
    for (int i = 0; i < SUP_N_CHILDREN; i++)
        sup_child_free(&s->children[i]);
    rp_config_free(s->cfg);
}

int main(int argc, char **argv)
{
    const char *cfg_path;
    int rc = parse_args(argc, argv, &cfg_path);
    if (rc >= 0)
        return rc;

    char err[2 * PATH_MAX];
    sup_state s = {.sigfd = -1};
    s.cfg = rp_config_load(cfg_path, err, sizeof(err));
    if (!s.cfg) {
        sup_log("%s", err);
        return RP_EX_CONFIG;
    }
    if (sup_init(&s) < 0) {
        sup_free(&s);
        return EXIT_FAILURE;
    }
    sup_log("starting with %s", s.cfg->path);
    rc = run(&s);
    stop_children(&s);
    sup_log("stopped");
    sup_free(&s);
    return rc < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
