/*
 * sup_guard.c -- the guard process: kills the children's process groups
 * once rpcrestd is gone, however it went.
 *
 * The guard runs in a session of its own (so a signal to rpcrestd's process
 * group or terminal does not reach it), ignores the usual stop signals and
 * exits when its pipe from rpcrestd reaches end of file, which the kernel
 * guarantees when rpcrestd dies.
 */
#include "sup_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* ---- in the guard ---------------------------------------------------------- */

static void guard_forget(pid_t *groups, int *n, pid_t pgid)
{
    for (int i = 0; i < *n; i++) {
        if (groups[i] == pgid) {
            groups[i] = groups[--*n];
            return;
        }
    }
}

/* Reads "+PGID\n" / "-PGID\n" records until end of file, then kills what
 * is listed. */
static void __attribute__((noreturn)) guard_main(int fd, const pid_t *known, int n_known)
{
    pid_t groups[SUP_GUARD_MAX_GROUPS];
    int n = n_known;
    memcpy(groups, known, (size_t)n_known * sizeof(*groups));
    char buf[512];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof(buf) - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', len - (size_t)(start - buf)))) {
            *nl = '\0';
            pid_t pgid = (pid_t)atoi(start + 1);
            if (pgid > 1 && start[0] == '+' && n < SUP_GUARD_MAX_GROUPS)
                groups[n++] = pgid;
            else if (pgid > 1 && start[0] == '-')
                guard_forget(groups, &n, pgid);
            start = nl + 1;
        }
        len -= (size_t)(start - buf);
        memmove(buf, start, len);
        if (len == sizeof(buf))
            len = 0; /* garbage: no record is this long */
    }
    for (int i = 0; i < n; i++)
        (void)kill(-groups[i], SIGKILL);
    _exit(0);
}

static void __attribute__((noreturn)) guard_child(int rfd, const pid_t *known, int n_known)
{
    (void)setsid();
    (void)prctl(PR_SET_NAME, "rpcrestd-guard");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    static const int ignored[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE, SIGQUIT};
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        (void)sigaction(ignored[i], &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    int fd = dup2(rfd, 3) < 0 ? rfd : 3;
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        for (int i = 0; i < 3; i++)
            (void)dup2(devnull, i);
    }
    if (close_range((unsigned)fd + 1, ~0u, 0) < 0) {
        for (int i = fd + 1; i < 1024; i++)
            (void)close(i);
    }
    guard_main(fd, known, n_known);
}

/* ---- in rpcrestd ------------------------------------------------------------- */

int sup_guard_start(sup_guard *g, sup_logger *lg)
{
    int p[2];
    g->pid = 0;
    g->fd = -1;
    if (pipe2(p, O_CLOEXEC) < 0) {
        int err = errno;
        sup_log(lg, "guard: pipe: %s", strerror(err));
        return -err;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        sup_log(lg, "guard: fork: %s", strerror(err));
        close(p[0]);
        close(p[1]);
        return -err;
    }
    if (pid == 0) {
        close(p[1]);
        guard_child(p[0], g->groups, g->n_groups);
    }
    close(p[0]);
    (void)fcntl(p[1], F_SETFL, O_NONBLOCK);
    g->pid = pid;
    g->fd = p[1];
    return 0;
}

static void tell(sup_guard *g, sup_logger *lg, char op, pid_t pgid)
{
    if (g->fd < 0)
        return;
    char rec[32];
    int n = snprintf(rec, sizeof(rec), "%c%d\n", op, (int)pgid);
    if (write(g->fd, rec, (size_t)n) != n)
        sup_log(lg, "guard pid %d: cannot tell it about group %d: %s", (int)g->pid, (int)pgid,
                strerror(errno));
}

void sup_guard_add(sup_guard *g, sup_logger *lg, pid_t pgid)
{
    if (g->n_groups < SUP_GUARD_MAX_GROUPS)
        g->groups[g->n_groups++] = pgid;
    tell(g, lg, '+', pgid);
}

void sup_guard_remove(sup_guard *g, sup_logger *lg, pid_t pgid)
{
    guard_forget(g->groups, &g->n_groups, pgid);
    tell(g, lg, '-', pgid);
}

void sup_guard_restart(sup_guard *g, sup_logger *lg)
{
    if (g->fd >= 0)
        close(g->fd);
    g->fd = -1;
    if (sup_guard_start(g, lg) == 0)
        sup_log(lg, "guard restarted as pid %d", (int)g->pid);
}

void sup_guard_stop(sup_guard *g)
{
    if (g->fd >= 0)
        close(g->fd);
    g->fd = -1;
}
