/*
 * sup_child.c -- start a supervised program and decide when to restart it.
 *
 * Owns fork/exec (the child's clean slate: process group, parent-death
 * signal, default signals, no inherited fds) and the restart backoff.  Owns
 * no signals or waiting: sup_main.c reaps and reports exits here.
 */
#include "sup_child.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rp_config.h"
#include "sup_log.h"

#define SUP_EXEC_FAILED 127 /* the child's exit status when it cannot exec */

int sup_child_init(sup_child *c, const char *name, const char *dir, int64_t now)
{
    memset(c, 0, sizeof(*c));
    c->name = name;
    if (asprintf(&c->path, "%s/%s", dir, name) < 0) {
        c->path = NULL;
        sup_log("%s: out of memory", name);
        return -ENOMEM;
    }
    c->backoff_ms = SUP_BACKOFF_MIN_MS;
    c->next_start_ms = now;
    return 0;
}

void sup_child_free(sup_child *c)
{
    free(c->path);
    c->path = NULL;
}

/* ---- in the child, between fork and exec -------------------------------- */

/* Logs why the child cannot become `path` and exits 127.  (sup_log is
 * safe here: rpcrestd is single-threaded, so no lock was held at fork.) */
static void __attribute__((noreturn)) child_fail(const char *path, const char *step, int err)
{
    sup_log("cannot start %s: %s: %s", path, step, strerror(err));
    _exit(SUP_EXEC_FAILED);
}

/* Default dispositions and an empty mask: what a freshly started daemon
 * expects, whatever rpcrestd blocked or ignored. */
static int child_reset_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        (void)sigaction(sig, &sa, NULL); /* EINVAL for KILL, STOP, libc's own */
    sigset_t none;
    sigemptyset(&none);
    return sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Closes every fd above stderr: the signalfd and whatever rpcrestd itself
 * inherited. */
static void child_close_fds(void)
{
    if (close_range(3, ~0u, 0) == 0)
        return;
    long max = sysconf(_SC_OPEN_MAX); /* kernels before 5.9 */
    for (long fd = 3; fd < max; fd++)
        (void)close((int)fd);
}

static void __attribute__((noreturn)) child_exec(const char *path, const char *cfg_path,
                                                 pid_t supervisor)
{
    if (setpgid(0, 0) < 0)
        child_fail(path, "setpgid", errno);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        child_fail(path, "prctl(PR_SET_PDEATHSIG)", errno);
    if (getppid() != supervisor)
        _exit(SUP_EXEC_FAILED); /* rpcrestd died before the line above */
    if (child_reset_signals() < 0)
        child_fail(path, "sigprocmask", errno);
    child_close_fds();
    char *const argv[] = {(char *)path, "-c", (char *)cfg_path, NULL};
    execv(path, argv);
    child_fail(path, "exec", errno);
}

/* ---- in rpcrestd ---------------------------------------------------------- */

/* Returns the delay before the next start and doubles the backoff for the
 * one after.  uptime_ms: how long the process ran (0 if it never did). */
static int64_t take_backoff(sup_child *c, int64_t uptime_ms, int config_error)
{
    if (uptime_ms >= SUP_BACKOFF_RESET_MS)
        c->backoff_ms = SUP_BACKOFF_MIN_MS;
    int64_t delay = config_error ? SUP_BACKOFF_MAX_MS : c->backoff_ms;
    c->backoff_ms = delay > SUP_BACKOFF_MAX_MS / 2 ? SUP_BACKOFF_MAX_MS : delay * 2;
    return delay;
}

int sup_child_start(sup_child *c, const char *cfg_path, int64_t now)
{
    pid_t self = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        int64_t delay = take_backoff(c, 0, 0);
        c->next_start_ms = now + delay;
        sup_log("cannot start %s: fork: %s; retrying in %lld ms", c->name, strerror(err),
                (long long)delay);
        return -err;
    }
    if (pid == 0)
        child_exec(c->path, cfg_path, self);

    /* The child does this too; doing it on both sides means the group exists
     * before either side relies on it.  EACCES: the child has exec'd
     * already; ESRCH: it has exited already.  Both are fine. */
    (void)setpgid(pid, pid);
    c->pid = pid;
    c->pgid = pid;
    c->started_ms = now;
    c->next_start_ms = -1;
    sup_log("started %s pid %d", c->name, (int)pid);
    return 0;
}

/* "exited with status 1", "killed by signal SIGKILL (Killed)". */
static void describe_status(int status, char *buf, size_t size)
{
    if (WIFEXITED(status)) {
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *abbrev = sigabbrev_np(sig);
        const char *core = WCOREDUMP(status) ? ", core dumped" : "";
        if (abbrev)
            snprintf(buf, size, "killed by signal SIG%s (%s)%s", abbrev, strsignal(sig), core);
        else
            snprintf(buf, size, "killed by signal %d (%s)%s", sig, strsignal(sig), core);
    } else {
        snprintf(buf, size, "ended with wait status 0x%x", (unsigned)status);
    }
}

void sup_child_exited(sup_child *c, int status, int64_t now, int restart)
{
    char how[128];
    describe_status(status, how, sizeof(how));
    pid_t pid = c->pid;
    int64_t uptime = now - c->started_ms;
    c->pid = 0;
    c->pgid = 0;
    if (!restart) {
        c->next_start_ms = -1;
        sup_log("%s pid %d %s after %lld ms", c->name, (int)pid, how, (long long)uptime);
        return;
    }
    int config_error = WIFEXITED(status) && WEXITSTATUS(status) == RP_EX_CONFIG;
    int64_t delay = take_backoff(c, uptime, config_error);
    c->next_start_ms = now + delay;
    sup_log("%s pid %d %s after %lld ms; restarting in %lld ms%s", c->name, (int)pid, how,
            (long long)uptime, (long long)delay,
            config_error ? " (configuration error)" : "");
}

int64_t sup_child_due_in(const sup_child *c, int64_t now)
{
    if (c->pid != 0 || c->next_start_ms < 0)
        return -1;
    return c->next_start_ms > now ? c->next_start_ms - now : 0;
}

int sup_child_signal(const sup_child *c, int sig)
{
    if (c->pgid == 0)
        return 0;
    if (kill(-c->pgid, sig) < 0 && errno != ESRCH) {
        int err = errno;
        sup_log("kill(-%d, SIG%s) for %s: %s", (int)c->pgid, sigabbrev_np(sig), c->name,
                strerror(err));
        return -err;
    }
    return 0;
}
