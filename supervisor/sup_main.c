/*
 * sup_main.c -- rpcrestd: reads the config, starts rpcrest-host and, once
 * the host is ready, rpcrest-gateway; restarts whichever ends (restart
 * policy, backoff, FATAL), hands each over to a new process on reload
 * (SIGHUP, rpcrestctl) and stops both, gateway first, on SIGTERM/SIGINT.
 *
 * Owns the command line, the signals (blocked, read from one signalfd),
 * reaping, the order of the two children and the event loop.  What happens
 * to one child is sup_child.c's; to the processes rpcrestd adopts,
 * sup_adopt.c's; requests are sup_cmd.c's, and the reload sup_reload.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rp_nofile.h"
#include "rp_notify.h"
#include "rp_priv.h"
#include "rp_time.h"
#include "rp_tls.h"
#include "sup.h"
#include "sup_reload_view.h"

#define SUP_DEFAULT_CONFIG "conf/rpcrest.ini"
#define MAX_POLL 64 /* signals, log, control socket (1 + 8), then 2 per process */

/* Started in this order, stopped in the reverse one. */
static const char *const child_names[RP_N_CHILDREN] = {
    [RP_CHILD_HOST] = "rpcrest-host",
    [RP_CHILD_GATEWAY] = "rpcrest-gateway",
};

int64_t sup_now_ms(void)
{
    return rp_monotonic_ms();
}

static int64_t earliest(int64_t a, int64_t b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rpcrestd [-c FILE]\n"
            "  -c FILE  the configuration (default: " SUP_DEFAULT_CONFIG ")\n"
            "  -h       print this help\n"
            "Signals: TERM/INT stop, HUP reloads FILE, USR1 reopens [supervisor] log_file.\n"
            "rpcrestctl talks to it over [supervisor] control_socket.\n");
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
            return RP_EX_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rpcrestd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return RP_EX_USAGE;
    }
    return -1;
}

/* The folder of the running rpcrestd, into dir[size].  Returns 0 or -1
 * (reported). */
static int exe_dir(sup_logger *lg, char *dir, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", dir, size - 1);
    if (n < 0) {
        sup_log(lg, "readlink /proc/self/exe: %s", strerror(errno));
        return -1;
    }
    if ((size_t)n == size - 1) {
        sup_log(lg, "readlink /proc/self/exe: path longer than %zu bytes", size - 2);
        return -1;
    }
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (!slash) {
        sup_log(lg, "readlink /proc/self/exe: '%s' is not an absolute path", dir);
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
 * children behind our back.  SIGPIPE is ignored so a closed log pipe or
 * control connection is an EPIPE, not the end of rpcrestd, and SIGXFSZ so
 * that a log file at the file size limit (ulimit -f) is an EFBIG, whose
 * lines are counted as lost, not the end of rpcrestd and of the service.
 * SIGUSR2 is taken and only logged: rpcrestd has no use for it, and one
 * sent to a whole unit (the host's signal) must not end the service. */
static int open_signals(sup_logger *lg)
{
    static const int handled[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
        sigaddset(&set, handled[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
        sup_log(lg, "sigprocmask: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++) {
        if (signal(handled[i], SIG_DFL) == SIG_ERR) {
            sup_log(lg, "signal(SIG%s): %s", sigabbrev_np(handled[i]), strerror(errno));
            return -1;
        }
    }
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGXFSZ, SIG_IGN) == SIG_ERR) {
        sup_log(lg, "signal: %s", strerror(errno));
        return -1;
    }
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        sup_log(lg, "signalfd: %s", strerror(errno));
    return fd;
}

/* ---- reaping and signals -------------------------------------------------- */

/* A child that refused the configuration (exit status 78 before it was
 * ready) while rpcrestd starts: the configuration will not mend itself,
 * so rpcrestd stops and exits 78 too.  The child has said why. */
static void refused_at_start(sup_state *s, const sup_child *c)
{
    if (!c->config_refused || s->told_systemd || sup_stopping(s))
        return;
    sup_log(&s->log, "%s refused the configuration at start (exit status %d, the reason is "
            "above); stopping with exit status %d", c->name, RP_EX_CONFIG, RP_EX_CONFIG);
    s->exit_status = RP_EX_CONFIG;
}

/* 1 if pid is a process rpcrestd started: the guard, or a child's (a
 * sup_is_ours_fn). */
static int started_by_us(void *arg, pid_t pid)
{
    sup_state *s = arg;
    if (pid == s->guard.pid)
        return 1;
    for (int i = 0; i < RP_N_CHILDREN; i++)
        if (sup_child_find(&s->children[i], pid))
            return 1;
    return 0;
}

void sup_host_republish(sup_state *s)
{
    const sup_proc *cur = s->children[RP_CHILD_HOST].cur;
    if (cur && cur->ready_ms >= 0 && cur->term_ms < 0 && kill(cur->pid, SIGUSR2) < 0)
        sup_log(&s->log, "SIGUSR2 to rpcrest-host pid %d: %s", (int)cur->pid, strerror(errno));
}

/* The host that a failed reload's give-back stopped has ended: its end
 * removed the private socket's path if it pointed at its own socket; the
 * serving host publishes its own again. */
static void republish_host_socket(sup_state *s, pid_t ended)
{
    if (!s->host_given_back || ended != s->host_given_back)
        return;
    s->host_given_back = 0;
    sup_host_republish(s);
}

/* pid has been reaped: the guard is started again, a child's process goes
 * to its child (and into endings), anything else is an adoptee. */
static void reaped(sup_state *s, pid_t pid, int status, sup_endings *endings)
{
    int64_t now = sup_now_ms();
    if (pid == s->guard.pid) {
        char how[128];
        sup_describe_status(status, how, sizeof(how));
        sup_log(&s->log, "guard pid %d %s", (int)pid, how);
        s->guard.pid = 0;
        sup_guard_restart(&s->guard, &s->log);
        return;
    }
    for (int i = 0; i < RP_N_CHILDREN; i++) {
        sup_child *c = &s->children[i];
        sup_proc *p = sup_child_find(c, pid);
        if (!p)
            continue;
        sup_endings_add(endings, c->name, pid);
        sup_child_exited(c, p, status, &s->ctx, now, sup_stopping(s));
        refused_at_start(s, c);
        if (i == RP_CHILD_HOST)
            republish_host_socket(s, pid);
        return;
    }
    sup_adopt_reaped(&s->adopt, pid, status, endings, now);
}

/* Reaps every child that has ended.  Returns how many. */
static int reap_round(sup_state *s, sup_endings *endings)
{
    int n = 0;
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
            if (errno != ECHILD)
                sup_log(&s->log, "waitid: %s", strerror(errno));
            return n;
        }
        pid_t pid = si.si_pid;
        if (pid == 0)
            return n;
        if (!started_by_us(s, pid))
            sup_adopt_note(&s->adopt, pid); /* its name, before reaping takes it from /proc */
        int status;
        if (waitpid(pid, &status, WNOHANG) != pid) {
            sup_log(&s->log, "waitpid %d: %s", (int)pid, strerror(errno));
            return n;
        }
        reaped(s, pid, status, endings);
        n++;
    }
}

/* Reaps every child that has ended, then looks at what their ends left to
 * rpcrestd: the orphans of processes of ours, killed with them.  The look
 * is taken once no end is left to reap (see sup_adopt.c). */
static void reap(sup_state *s)
{
    sup_endings endings;
    memset(&endings, 0, sizeof(endings));
    while (reap_round(s, &endings) > 0 &&
           sup_adopt_look(&s->adopt, &endings, sup_stopping(s), sup_now_ms()))
        ;
}

/* Passes sig on to the gateway's processes that have said READY (before
 * that, one may not handle it yet, and it would end them). */
static void forward_to_gateway(sup_state *s, int sig, const char *sig_name)
{
    sup_child *gw = &s->children[RP_CHILD_GATEWAY];
    sup_proc *procs[] = {gw->cur, gw->next};
    for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
        sup_proc *p = procs[i];
        if (p && p->ready_ms >= 0 && p->term_ms < 0 && kill(p->pid, sig) == 0)
            sup_log(&s->log, "received %s; passed on to %s pid %d", sig_name, gw->name,
                    (int)p->pid);
    }
}

static void on_signal(sup_state *s, int sig)
{
    rp_text reply = {0};
    switch (sig) {
    case SIGCHLD:
        reap(s);
        break;
    case SIGTERM:
    case SIGINT:
        if (sup_stopping(s)) {
            sup_log(&s->log, "received SIG%s; already stopping", sigabbrev_np(sig));
            break;
        }
        sup_log(&s->log, "received SIG%s; stopping", sigabbrev_np(sig));
        s->stop_signal = sig;
        if (s->told_systemd)
            (void)rp_notify_systemd("STOPPING=1");
        break;
    case SIGHUP:
        if (sup_stopping(s)) {
            sup_log(&s->log, "received SIGHUP while stopping; not reloading");
            break;
        }
        sup_log(&s->log, "received SIGHUP; reloading %s", s->cfg_arg);
        sup_reload(s, &reply);
        break;
    case SIGUSR1:
        forward_to_gateway(s, SIGUSR1, "SIGUSR1"); /* its access log, when it writes one */
        if (!s->log.path) {
            sup_log(&s->log, "received SIGUSR1; logging to stderr, nothing to reopen");
            break;
        }
        {
            char *path = strdup(s->log.path);
            int rc = path ? sup_log_set_file(&s->log, path) : -ENOMEM;
            if (rc < 0)
                sup_log(&s->log, "received SIGUSR1; cannot reopen %s: %s; still writing the old "
                        "file", s->log.path, sup_log_open_error(rc));
            else
                sup_log(&s->log, "received SIGUSR1; reopened %s", path);
            free(path);
        }
        break;
    case SIGUSR2:
        sup_log(&s->log, "received SIGUSR2; ignored (SIGHUP reloads, SIGUSR1 reopens the log)");
        break;
    default:
        sup_log(&s->log, "received unexpected signal %d", sig);
        break;
    }
    rp_text_free(&reply);
}

/* Handles every signal queued on the signalfd.  Returns 0, or -1 if the
 * signalfd cannot be read (reported). */
static int read_signals(sup_state *s)
{
    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n = read(s->sigfd, &si, sizeof(si));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        if (n < 0) {
            sup_log(&s->log, "read signalfd: %s", strerror(errno));
            return -1;
        }
        if ((size_t)n != sizeof(si)) {
            sup_log(&s->log, "read signalfd: short read of %zd bytes", n);
            return -1;
        }
        on_signal(s, (int)si.ssi_signo);
    }
}

/* ---- what is due ------------------------------------------------------------ */

/* A hand-over of child c may begin: c serves, no other is under way, and
 * the gateway goes only after the host has finished its own (and after a
 * reload waiting for its new host is done: see start_due). */
static int handover_may_begin(const sup_state *s, int which)
{
    const sup_child *c = &s->children[which];
    if (!c->handover_pending || c->next || !c->cur || c->cur->ready_ms < 0 ||
        c->cur->term_ms >= 0)
        return 0;
    if (which == RP_CHILD_GATEWAY) {
        const sup_child *h = &s->children[RP_CHILD_HOST];
        return sup_host_ready(s) && !h->next && !h->handover_pending &&
               !(sup_reload_waits(s) && s->reload.which == RP_CHILD_HOST);
    }
    return 1;
}

/* Starts what is due: first starts, restarts after a backoff, hand-overs.
 * The gateway starts only while the host is ready.  Returns ms until the
 * next start is due, or -1. */
static int64_t start_due(sup_state *s, int64_t now)
{
    int64_t next = -1;
    for (int i = 0; i < RP_N_CHILDREN; i++) {
        sup_child *c = &s->children[i];
        if (!c->cur)
            c->handover_pending = 0; /* its next start gets the new configuration anyway */
        if (handover_may_begin(s, i)) {
            c->handover_pending = 0;
            if (sup_can_handover(s, i)) {
                sup_ctx ctx = s->ctx;
                ctx.cfg = sup_config_for(s, i); /* a waiting reload's, for its child */
                sup_child_spawn(c, SUP_ROLE_NEXT, &ctx, now);
                /* known from the start: its READY may come before the loop
                 * goes round again */
                if (sup_reload_waits(s) && i == s->reload.which && c->next)
                    s->reload.new_pid = c->next->pid;
            } else {
                sup_log(&s->log, "%s listens on a unix socket: stopping pid %d before starting "
                        "its replacement", c->name, (int)c->cur->pid);
                sup_child_retire(c, c->cur, now);
                c->next_start_ms = now;
                c->start_after_retired = 1;
            }
        }
        if (c->cur || !c->wanted || c->fatal || c->next_start_ms < 0)
            continue;
        if (i == RP_CHILD_GATEWAY && !sup_host_ready(s))
            continue; /* started once the host says it is ready */
        /* A new gateway would get the running configuration, which a
         * waiting reload may replace (its new host or gateway may still
         * fail): it starts once the reload is done, on the configuration
         * then in force, and meanwhile rpcrestd's socket holds its
         * connections. */
        if (i == RP_CHILD_GATEWAY && sup_reload_waits(s))
            continue;
        if (c->start_after_retired && c->retiring)
            continue;
        if (now < c->next_start_ms) {
            next = earliest(next, c->next_start_ms - now);
            continue;
        }
        c->start_after_retired = 0;
        /* the running configuration: a new host that ends in a reload's
         * second stage fails the reload (sup_reload_progress) */
        sup_child_spawn(c, SUP_ROLE_CURRENT, &s->ctx, now);
        if (!c->cur && c->next_start_ms >= 0) /* a failed fork retries later */
            next = earliest(next, c->next_start_ms > now ? c->next_start_ms - now : 0);
    }
    return next;
}

static int has_processes(const sup_child *c)
{
    return c->cur || c->next || c->retiring;
}

/* One step of stopping: the gateway's processes first, then the host's.
 * Returns 1 once nothing is left. */
static int stop_step(sup_state *s, int64_t now)
{
    for (int i = 0; i < RP_N_CHILDREN; i++) {
        sup_child *c = &s->children[i];
        c->wanted = 0;
        c->handover_pending = 0;
        c->next_start_ms = -1;
    }
    for (int i = RP_N_CHILDREN - 1; i >= 0; i--) {
        sup_child *c = &s->children[i];
        if (!has_processes(c))
            continue;
        sup_child_terminate_all(c, now);
        return 0;
    }
    return 1;
}

/* A new host is ready (hand-over): it becomes the host.  The old one keeps
 * serving the old gateway, which is handed over too (its new generation
 * connects to the new host: rp_notify_steer_to_newest), and is told to stop
 * once the old gateway has gone, so no call of ours meets its shutdown. */
static void host_took_over(sup_state *s, sup_proc *p, int64_t now)
{
    sup_child *h = &s->children[RP_CHILD_HOST];
    sup_child *gw = &s->children[RP_CHILD_GATEWAY];
    int gw_serving = gw->wanted && gw->cur && gw->cur->ready_ms >= 0 && gw->cur->term_ms < 0;
    sup_child_take_over(h, p, gw_serving, &s->log, now);
    if (gw_serving && !gw->handover_pending && !gw->next) {
        sup_log(&s->log, "%s: handing over too, so that it talks to the new %s", gw->name,
                h->name);
        gw->handover_pending = 1;
    }
}

/* 1 if pid, a child of ours, has ended but is not reaped yet (reap, later
 * in this turn of the loop, collects it). */
static int has_ended(sup_logger *lg, pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
        sup_log(lg, "waitid pid %d: %s", (int)pid, strerror(errno));
        return 0;
    }
    return si.si_pid == pid;
}

/* p, c's next process, said it is ready: it takes over, unless it has
 * ended already (READY and then its end, both seen in one turn of the
 * loop).  Reaping it then fails the hand-over, and the current process,
 * which nothing has told to stop, keeps serving. */
static void take_over(sup_state *s, sup_child *c, sup_proc *p, int64_t now)
{
    if (has_ended(&s->log, p->pid)) {
        sup_log(&s->log, "%s pid %d has ended since it said it is ready: it does not take over",
                c->name, (int)p->pid);
        return;
    }
    if (c == &s->children[RP_CHILD_HOST])
        host_took_over(s, p, now);
    else
        sup_child_take_over(c, p, 0, &s->log, now);
}

/* Parked old hosts stop once no gateway hand-over is under way, and no
 * reload may still give the place back to one (its second stage). */
static void release_parked_hosts(sup_state *s, int64_t now)
{
    const sup_child *gw = &s->children[RP_CHILD_GATEWAY];
    int gw_serving = gw->cur && gw->cur->ready_ms >= 0 && gw->cur->term_ms < 0;
    if (gw->next || gw->retiring || (gw->handover_pending && gw_serving) ||
        s->reload.host_old_pid)
        return;
    sup_child_release(&s->children[RP_CHILD_HOST], &s->log, now);
}

/* READY=1 to systemd once both children first run. */
static void tell_systemd(sup_state *s, int64_t now)
{
    if (s->told_systemd)
        return;
    for (int i = 0; i < RP_N_CHILDREN; i++)
        if (sup_child_runs(s, i) && sup_child_state(&s->children[i], now) != SUP_RUNNING)
            return;
    s->told_systemd = 1;
    sup_log_start_done(&s->log, 0); /* started: the log file alone from now on */
    int alone = !sup_child_runs(s, RP_CHILD_HOST);
    int rc = rp_notify_systemd(alone ? "READY=1\nSTATUS=rpcrest-gateway is running"
                                     : "READY=1\nSTATUS=rpcrest-host and rpcrest-gateway are "
                                       "running");
    if (rc > 0)
        sup_log(&s->log, "%s ready; told systemd READY=1",
                alone ? "the gateway (alone) is" : "both children are");
    else if (rc < 0)
        sup_log(&s->log, "NOTIFY_SOCKET %s: %s", getenv("NOTIFY_SOCKET"), strerror(-rc));
}

/* ---- the loop ----------------------------------------------------------------- */

typedef struct watch {
    sup_child *child;
    sup_proc *proc;
    int is_log; /* else the notification fd */
} watch;

static void add_proc_fds(sup_child *c, sup_proc *p, struct pollfd *pfd, watch *w, size_t *n)
{
    if (!p)
        return;
    if (p->log_fd >= 0 && *n < MAX_POLL) { /* first: what it said before it was ready */
        pfd[*n] = (struct pollfd){.fd = p->log_fd, .events = POLLIN};
        w[(*n)++] = (watch){c, p, 1};
    }
    if (p->notify_fd >= 0 && *n < MAX_POLL) {
        pfd[*n] = (struct pollfd){.fd = p->notify_fd, .events = POLLIN};
        w[(*n)++] = (watch){c, p, 0};
    }
}

/* A reload's new control socket takes over once the old one has answered. */
static void swap_control_socket(sup_state *s)
{
    if (s->ctl_next.fd < 0)
        return;
    if (s->ctl.fd >= 0) {
        close(s->ctl.fd);
        (void)unlink(s->ctl.path);
    }
    free(s->ctl.path);
    s->ctl.fd = s->ctl_next.fd;
    s->ctl.path = s->ctl_next.path;
    sup_ctl_init(&s->ctl_next);
    sup_log(&s->log, "control socket now %s", s->ctl.path);
}

/* Runs until stopped and every process is gone.  Returns 0, or -1 on an
 * error (reported). */
static int run(sup_state *s)
{
    for (;;) {
        int64_t now = sup_now_ms();
        int64_t timeout = -1;
        sup_reload_progress(s, now);
        swap_control_socket(s);
        if (sup_stopping(s)) {
            /* the children first: what rpcrestd adopted may be serving them */
            if (stop_step(s, now) &&
                sup_adopt_stop(&s->adopt, s->cfg->supervisor.stop_timeout, now))
                return 0;
        } else {
            timeout = start_due(s, now);
            release_parked_hosts(s, now);
        }
        timeout = earliest(timeout, sup_adopt_tick(&s->adopt, sup_stopping(s), now));
        for (int i = 0; i < RP_N_CHILDREN; i++)
            timeout = earliest(timeout, sup_child_deadlines(&s->children[i], &s->log, now));
        timeout = earliest(timeout, sup_ctl_deadlines(&s->ctl, now));
        tell_systemd(s, now);

        struct pollfd pfd[MAX_POLL];
        watch w[MAX_POLL];
        size_t n = 0;
        pfd[n++] = (struct pollfd){.fd = s->sigfd, .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = sup_log_pending(&s->log) ? s->log.fd : -1,
                                   .events = POLLOUT};
        size_t ctl_at = n;
        n += sup_ctl_pollfds(&s->ctl, pfd + n);
        size_t procs_at = n;
        /* the serving and starting processes first: they always fit; the
         * retiring ones that do not (dozens of hand-overs within a stop
         * timeout) are read once some of those before them have ended */
        for (int i = 0; i < RP_N_CHILDREN; i++) {
            add_proc_fds(&s->children[i], s->children[i].cur, pfd, w, &n);
            add_proc_fds(&s->children[i], s->children[i].next, pfd, w, &n);
        }
        for (int i = 0; i < RP_N_CHILDREN; i++)
            for (sup_proc *p = s->children[i].retiring; p; p = p->next_retiring)
                add_proc_fds(&s->children[i], p, pfd, w, &n);
        int ms = timeout > INT_MAX ? INT_MAX : (int)timeout;
        if (sup_log_pending(&s->log) && (ms < 0 || ms > 100))
            ms = 100; /* a slow log output is retried even if poll cannot tell */
        if (poll(pfd, (nfds_t)n, ms) < 0) {
            if (errno == EINTR)
                continue;
            sup_log(&s->log, "poll: %s", strerror(errno));
            return -1;
        }
        now = sup_now_ms();
        /* children's words first, so that their last lines come before the
         * news of their end; reaping (which frees them) last */
        for (size_t i = procs_at; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            if (w[i].is_log)
                sup_child_read_log(w[i].child, w[i].proc, &s->log);
            else if (sup_child_read_notify(w[i].child, w[i].proc, &s->log, now) &&
                     w[i].proc->role == SUP_ROLE_NEXT)
                take_over(s, w[i].child, w[i].proc, now);
        }
        sup_log_flush(&s->log);
        sup_ctl_serve(&s->ctl, pfd + ctl_at, procs_at - ctl_at, sup_command, s, &s->log, now);
        if (pfd[0].revents && read_signals(s) < 0)
            return -1;
    }
}

/* ---- setup ---------------------------------------------------------------- */

/* fds 0-2 open (on /dev/null if need be), so that no pipe or socket of ours
 * lands on them and is mistaken for stdio. */
static void ensure_stdio(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int null = open("/dev/null", O_RDWR);
            if (null >= 0 && null != fd) {
                dup2(null, fd);
                close(null);
            }
        }
    }
}

/* The -c path made absolute without resolving symlinks, so that a reload
 * follows a symlink that was re-pointed. */
static char *absolute(const char *path)
{
    char cwd[PATH_MAX];
    char *out;
    if (path[0] == '/')
        return strdup(path);
    if (!getcwd(cwd, sizeof(cwd)) || asprintf(&out, "%s/%s", cwd, path) < 0)
        return NULL;
    return out;
}

/* [supervisor] log_file, opened before anything else is logged.  Returns 0,
 * or RP_EX_CONFIG (reported). */
static int open_log_file(sup_state *s)
{
    const char *path = s->cfg->supervisor.log_file;
    if (!path)
        return 0;
    int fd = sup_log_open(path);
    int rc = fd < 0 ? fd : sup_log_use(&s->log, fd, path);
    if (rc < 0) {
        char where[PATH_MAX + 32];
        rp_config_where(s->cfg, "supervisor", "log_file", where, sizeof(where));
        sup_log(&s->log, "%s: [supervisor] log_file: cannot open %s: %s", where, path,
                sup_log_open_error(rc));
        return RP_EX_CONFIG;
    }
    return 0;
}

/* The control socket.  The default one (no control_socket key) may be too
 * long a path, and rpcrestd then runs without it.  Returns 0, or
 * RP_EX_CONFIG (reported). */
static int open_control_socket(sup_state *s)
{
    char err[PATH_MAX + 512], where[PATH_MAX + 32];
    int rc = sup_ctl_open(&s->ctl, s->cfg->supervisor.control_socket, err, sizeof(err));
    if (rc == 0)
        return 0;
    if (!s->cfg->supervisor.control_socket_line && rc == -ENAMETOOLONG) {
        sup_log(&s->log, "control socket %s; set [supervisor] control_socket; running without "
                "a control socket", err);
        return 0;
    }
    rp_config_where(s->cfg, "supervisor", "control_socket", where, sizeof(where));
    sup_log(&s->log, "%s: [supervisor] control_socket: %s", where, err);
    return RP_EX_CONFIG;
}

/* Everything but the config, which the caller has loaded into s->cfg, and
 * the log file.  Returns 0, or the status to exit with (reported); sup_free
 * undoes a partial setup too. */
static int sup_init(sup_state *s)
{
    char dir[PATH_MAX], err[PATH_MAX + 512];
    if (exe_dir(&s->log, dir, sizeof(dir)) < 0)
        return EXIT_FAILURE;
    int64_t now = sup_now_ms();
    for (int i = 0; i < RP_N_CHILDREN; i++) {
        sup_child *c = &s->children[i];
        if (sup_child_init(c, i, child_names[i], dir, &s->cfg->supervisor.child[i], &s->log,
                           now) <
            0)
            return EXIT_FAILURE;
        if (access(c->path, X_OK) < 0) {
            sup_log(&s->log, "%s: %s", c->path, strerror(errno));
            return EXIT_FAILURE;
        }
    }
    for (int i = 0; i < RP_N_CHILDREN; i++) {
        if (!(s->running[i] = sup_reload_view_of(s->cfg, i))) {
            sup_log(&s->log, "out of memory");
            return EXIT_FAILURE;
        }
    }
    s->children[RP_CHILD_HOST].handover = sup_can_handover(s, RP_CHILD_HOST);
    if (rp_config_gateway_alone(s->cfg)) {
        char target[PATH_MAX + 64];
        rp_config_gateway_target(s->cfg, target, sizeof(target));
        sup_log(&s->log, "[gateway] upstream and no [service.*]: running %s alone, in front of %s",
                s->children[RP_CHILD_GATEWAY].name, target);
        s->children[RP_CHILD_HOST].wanted = 0;
        s->children[RP_CHILD_HOST].next_start_ms = -1;
    }
    /* the host's address is this rpcrestd's (a gateway alone has none: two
     * of them in front of different upstreams must not collide on the
     * default [host] listen) */
    int rc = rp_config_gateway_alone(s->cfg)
                 ? 0
                 : sup_lock_take(&s->host_lock, s->cfg->host.listen, err, sizeof(err));
    if (rc < 0) {
        char where[PATH_MAX + 32];
        rp_config_where(s->cfg, "host", "listen", where, sizeof(where));
        sup_log(&s->log, "%s: [host] listen: %s", where, err);
        return rc == -EWOULDBLOCK ? RP_EX_CONFIG : EXIT_FAILURE;
    }
    /* no host of ours runs yet: whoever listens there is someone else */
    if (!rp_config_gateway_alone(s->cfg) && sup_host_ports_free(s->cfg, NULL, err, sizeof(err)) < 0) {
        sup_log(&s->log, "%s", err);
        return RP_EX_CONFIG;
    }
    int fd = rp_notify_listen_tcp(s->cfg->gateway.listen, err, sizeof(err));
    if (fd < 0) {
        char where[PATH_MAX + 32];
        rp_config_where(s->cfg, "gateway", "listen", where, sizeof(where));
        sup_log(&s->log, "%s: [gateway] listen: %s", where, err);
        return rp_notify_listen_error_is_config(fd) ? RP_EX_CONFIG : EXIT_FAILURE;
    }
    s->children[RP_CHILD_GATEWAY].listen_fd = fd;
    rc = open_control_socket(s);
    if (rc)
        return rc;
    s->sigfd = open_signals(&s->log);
    if (s->sigfd < 0)
        return EXIT_FAILURE;
    /* before the first fork: what rpcrestd has as children by then, it
     * inherited */
    sup_adopt_start(&s->adopt, &s->log, &s->guard, started_by_us, s, now);
    /* an inherited child that had ended already sent its SIGCHLD to the
     * program that exec'd rpcrestd: no signal will come for it */
    reap(s);
    sup_guard_start(&s->guard, &s->log);
    return 0;
}

static void sup_free(sup_state *s)
{
    sup_guard_stop(&s->guard);
    sup_adopt_free(&s->adopt);
    if (s->sigfd >= 0)
        close(s->sigfd);
    sup_ctl_close(&s->ctl);
    sup_ctl_close(&s->ctl_next);
    sup_lock_release(&s->host_lock);
    for (int i = 0; i < RP_N_CHILDREN; i++) {
        sup_child_free(&s->children[i]);
        sup_reload_view_free(s->running[i]);
        sup_reload_view_free(s->reload.views[i]);
    }
    rp_config_free(s->reload.cfg);
    rp_config_free(s->cfg);
    free(s->cfg_arg);
}

/* SIGHUP, SIGUSR1 and SIGUSR2 (reload, reopen the log, ignored) kill a
 * process that does not handle them: from here on they wait, blocked,
 * until open_signals takes them over, so that one sent while rpcrestd
 * starts is acted on once it runs instead of ending it.  The children
 * start with no signal blocked. */
static void hold_early_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    (void)sigprocmask(SIG_BLOCK, &set, NULL);
}

int main(int argc, char **argv)
{
    hold_early_signals();
    const char *cfg_path;
    int rc = parse_args(argc, argv, &cfg_path);
    if (rc >= 0)
        return rc;
    ensure_stdio();
    rp_nofile_raise(); /* for control clients; the children inherit it */

    char err[2 * PATH_MAX + 512];
    sup_state s;
    memset(&s, 0, sizeof(s));
    s.sigfd = -1;
    s.host_lock.fd = -1;
    s.guard.fd = -1;
    sup_log_init(&s.log);
    sup_ctl_init(&s.ctl);
    sup_ctl_init(&s.ctl_next);
    sup_adopt_init(&s.adopt);
    for (int i = 0; i < RP_N_CHILDREN; i++)
        s.children[i].listen_fd = -1;
    s.reload.old_listen_fd = -1;
    s.rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^ (uint64_t)time(NULL);
    s.cfg_arg = absolute(cfg_path);
    s.cfg = s.cfg_arg ? rp_config_load(s.cfg_arg, err, sizeof(err)) : NULL;
    if (s.cfg && (rp_priv_check(s.cfg, err, sizeof(err)) < 0 ||
                  rp_tls_check(s.cfg, RP_TLS_ALL, err, sizeof(err)) < 0)) {
        rp_config_free(s.cfg); /* what the children would refuse, refused at once */
        s.cfg = NULL;
    }
    if (!s.cfg) {
        sup_log(&s.log, "%s", s.cfg_arg ? err : "out of memory");
        sup_log_drain(&s.log, 1000);
        sup_log_free(&s.log);
        free(s.cfg_arg);
        return RP_EX_CONFIG;
    }
    s.ctx = (sup_ctx){.log = &s.log, .guard = &s.guard, .cfg = s.cfg, .rng = &s.rng};
    rc = open_log_file(&s);
    /* what refuses the start (rpcrestd's own reasons, and a child's before
     * it exits 78) is seen where rpcrestd was started, too: the lines until
     * both children run (tell_systemd) go to stderr if the start fails */
    sup_log_start_begin(&s.log);
    if (!rc)
        rc = sup_init(&s);
    if (rc)
        goto out;
    sup_log(&s.log, "starting with %s", s.cfg->path);
    rc = run(&s) < 0 ? EXIT_FAILURE : s.exit_status;
    if (rc == EXIT_FAILURE) { /* the loop broke: still take the children down */
        s.stop_signal = SIGTERM;
        for (int64_t now = sup_now_ms();
             !(stop_step(&s, now) &&
               sup_adopt_stop(&s.adopt, s.cfg->supervisor.stop_timeout, now));
             now = sup_now_ms()) {
            for (int i = 0; i < RP_N_CHILDREN; i++)
                (void)sup_child_deadlines(&s.children[i], &s.log, now);
            (void)sup_adopt_tick(&s.adopt, 1, now);
            struct timespec ts = {0, 10 * 1000000};
            nanosleep(&ts, NULL);
            reap(&s);
        }
    }
    sup_log(&s.log, "stopped");
out:
    sup_log_drain(&s.log, 2000);
    sup_log_start_done(&s.log, rc != 0); /* still starting: it failed */
    sup_free(&s);
    sup_log_free(&s.log);
    return rc;
}
