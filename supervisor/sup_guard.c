/*
 * sup_guard.c -- the guard process: kills the children's process groups,
 * and the processes rpcrestd adopted, once rpcrestd is gone, however it
 * went.
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

static void guard_forget(pid_t *list, int *n, pid_t id)
{
    for (int i = 0; i < *n; i++) {
        if (list[i] == id) {
            list[i] = list[--*n];
            return;
        }
    }
}

/* What the guard kills: process groups, and adopted processes. */
typedef struct guard_lists {
    pid_t groups[SUP_GUARD_MAX_GROUPS];
    int n_groups;
    pid_t processes[SUP_GUARD_MAX_PROCESSES];
    int n_processes;
} guard_lists;

/* One record, "+gPGID", "-gPGID", "+pPID" or "-pPID". */
static void guard_record(guard_lists *l, const char *rec)
{
    int group = rec[1] == 'g';
    pid_t *list = group ? l->groups : l->processes;
    int *n = group ? &l->n_groups : &l->n_processes;
    int max = group ? SUP_GUARD_MAX_GROUPS : SUP_GUARD_MAX_PROCESSES;
    pid_t id = (pid_t)atoi(rec + 2);
    if (id <= 1 || (rec[1] != 'g' && rec[1] != 'p'))
        return;
    if (rec[0] == '+' && *n < max)
        list[(*n)++] = id;
    else if (rec[0] == '-')
        guard_forget(list, n, id);
}

/* Reads records until end of file, then kills what is listed. */
static void __attribute__((noreturn)) guard_main(int fd, const sup_guard *known)
{
    guard_lists l;
    memcpy(l.groups, known->groups, (size_t)known->n_groups * sizeof(*l.groups));
    l.n_groups = known->n_groups;
    memcpy(l.processes, known->processes, (size_t)known->n_processes * sizeof(*l.processes));
    l.n_processes = known->n_processes;
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
            guard_record(&l, start);
            start = nl + 1;
        }
        len -= (size_t)(start - buf);
        memmove(buf, start, len);
        if (len == sizeof(buf))
            len = 0; /* garbage: no record is this long */
    }
    for (int i = 0; i < l.n_groups; i++)
        (void)kill(-l.groups[i], SIGKILL);
    /* a daemon that called setsid() leads a group of its own, its children in it */
    for (int i = 0; i < l.n_processes; i++) {
        pid_t pid = l.processes[i];
        (void)kill(getpgid(pid) == pid ? -pid : pid, SIGKILL);
    }
    _exit(0);
}

static void __attribute__((noreturn)) guard_child(int rfd, const sup_guard *known)
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
    guard_main(fd, known);
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
        guard_child(p[0], g);
    }
    close(p[0]);
    (void)fcntl(p[1], F_SETFL, O_NONBLOCK);
    g->pid = pid;
    g->fd = p[1];
    return 0;
}

static void tell(sup_guard *g, sup_logger *lg, char op, char kind, pid_t id)
{
    if (g->fd < 0)
        return;
    char rec[32];
    int n = snprintf(rec, sizeof(rec), "%c%c%d\n", op, kind, (int)id);
    if (write(g->fd, rec, (size_t)n) != n)
        sup_log(lg, "guard pid %d: cannot tell it about %s %d: %s", (int)g->pid,
                kind == 'g' ? "group" : "adopted process", (int)id, strerror(errno));
}

void sup_guard_add(sup_guard *g, sup_logger *lg, pid_t pgid)
{
    if (g->n_groups < SUP_GUARD_MAX_GROUPS)
        g->groups[g->n_groups++] = pgid;
    tell(g, lg, '+', 'g', pgid);
}

void sup_guard_remove(sup_guard *g, sup_logger *lg, pid_t pgid)
{
    guard_forget(g->groups, &g->n_groups, pgid);
    tell(g, lg, '-', 'g', pgid);
}

void sup_guard_add_process(sup_guard *g, sup_logger *lg, pid_t pid)
{
    if (g->n_processes == SUP_GUARD_MAX_PROCESSES) {
        if (!g->processes_full)
            sup_log(lg, "guard: it already knows %d adopted processes; pid %d and others beyond "
                    "them are not killed if rpcrestd is", SUP_GUARD_MAX_PROCESSES, (int)pid);
        g->processes_full = 1;
        return;
    }
    g->processes[g->n_processes++] = pid;
    tell(g, lg, '+', 'p', pid);
}

void sup_guard_remove_process(sup_guard *g, sup_logger *lg, pid_t pid)
{
    int before = g->n_processes;
    guard_forget(g->processes, &g->n_processes, pid);
    if (g->n_processes == before)
        return; /* one that did not fit */
    if (g->n_processes < SUP_GUARD_MAX_PROCESSES / 2)
        g->processes_full = 0; /* room again: say so again when it runs out */
    tell(g, lg, '-', 'p', pid);
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
