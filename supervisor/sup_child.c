/*
 * sup_child.c -- a supervised program's processes: starting one (the clean
 * slate between fork and exec), listening to it (readiness, log lines),
 * stopping it by process group, and deciding what its end means under the
 * child's restart policy.
 *
 * Owns no signals and no waiting: sup_main.c reaps and hands each exit to
 * sup_child_exited.
 */
#include "sup_child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rp_notify.h"
#include "sup_adopt.h"
#include "sup_backoff.h"

#define SUP_EXEC_FAILED 127    /* the child's exit status when it cannot exec */
#define READ_BUDGET (64 * 1024) /* log bytes read from one process per turn */

static const char *const state_names[] = {
    [SUP_STOPPED] = "STOPPED", [SUP_STARTING] = "STARTING", [SUP_RUNNING] = "RUNNING",
    [SUP_BACKOFF] = "BACKOFF", [SUP_STOPPING] = "STOPPING", [SUP_FATAL] = "FATAL",
};

const char *const sup_exit_kind_names[SUP_N_EXITS] = {
    [SUP_EXIT_OK] = "ok", [SUP_EXIT_ERROR] = "error", [SUP_EXIT_CONFIG_ERROR] = "config_error",
    [SUP_EXIT_SIGNAL] = "signal"};

/* "status=N" or "signal=NAME" of a wait status, for event lines. */
static void status_fields(int status, char *buf, size_t size)
{
    if (WIFEXITED(status))
        snprintf(buf, size, "status=%d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status) && sigabbrev_np(WTERMSIG(status)))
        snprintf(buf, size, "signal=SIG%s", sigabbrev_np(WTERMSIG(status)));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "signal=%d", WTERMSIG(status));
    else
        snprintf(buf, size, "wait_status=0x%x", (unsigned)status);
}

static sup_exit_kind exit_kind(int status)
{
    if (!WIFEXITED(status))
        return SUP_EXIT_SIGNAL;
    if (WEXITSTATUS(status) == 0)
        return SUP_EXIT_OK;
    return WEXITSTATUS(status) == RP_EX_CONFIG ? SUP_EXIT_CONFIG_ERROR : SUP_EXIT_ERROR;
}

const char *sup_phase_name(sup_phase st)
{
    return state_names[st];
}

int sup_child_init(sup_child *c, int which, const char *name, const char *dir,
                   const rp_child_policy *policy, sup_logger *lg, int64_t now)
{
    memset(c, 0, sizeof(*c));
    c->which = which;
    c->name = name;
    c->policy = *policy;
    c->wanted = 1;
    c->next_start_ms = now;
    c->delay_ms = sup_backoff_first(policy);
    c->last_status = -1;
    c->listen_fd = -1;
    if (asprintf(&c->path, "%s/%s", dir, name) < 0) {
        c->path = NULL;
        sup_log(lg, "%s: out of memory", name);
        return -ENOMEM;
    }
    return 0;
}

static void proc_free(sup_proc *p)
{
    if (!p)
        return;
    if (p->notify_fd >= 0)
        close(p->notify_fd);
    if (p->log_fd >= 0)
        close(p->log_fd);
    free(p);
}

void sup_child_free(sup_child *c)
{
    proc_free(c->cur);
    proc_free(c->next);
    while (c->retiring) {
        sup_proc *p = c->retiring;
        c->retiring = p->next_retiring;
        proc_free(p);
    }
    if (c->listen_fd >= 0)
        close(c->listen_fd);
    free(c->path);
    memset(c, 0, sizeof(*c));
    c->listen_fd = -1;
}

sup_phase sup_child_state(const sup_child *c, int64_t now)
{
    if (c->cur) {
        if (c->cur->term_ms >= 0)
            return SUP_STOPPING;
        return c->cur->ready_ms >= 0 ? SUP_RUNNING : SUP_STARTING;
    }
    if (c->fatal)
        return SUP_FATAL;
    if (!c->wanted || c->next_start_ms < 0)
        return c->retiring || c->next ? SUP_STOPPING : SUP_STOPPED;
    return c->next_start_ms > now ? SUP_BACKOFF : SUP_STARTING;
}

sup_proc *sup_child_find(sup_child *c, pid_t pid)
{
    if (c->cur && c->cur->pid == pid)
        return c->cur;
    if (c->next && c->next->pid == pid)
        return c->next;
    for (sup_proc *p = c->retiring; p; p = p->next_retiring)
        if (p->pid == pid)
            return p;
    return NULL;
}

void sup_describe_status(int status, char *buf, size_t size)
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

/* ---- in the child, between fork and exec -------------------------------- */

/* Says on stderr (by then the log pipe) why the child cannot become `path`
 * and exits 127.  Only write(2): rpcrestd is single-threaded, but keep the
 * child's work small anyway. */
static void __attribute__((noreturn)) child_fail(const char *path, const char *step, int err)
{
    char line[4096];
    int n = snprintf(line, sizeof(line), "cannot start %s: %s: %s\n", path, step, strerror(err));
    if (n > 0)
        (void)!write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
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

/* Puts fds[i] at 3 + i and closes every other fd above stderr.  Copies
 * first to numbers above the targets, so no fd is overwritten before it is
 * placed. */
static int child_place_fds(const int *fds, int n)
{
    int tmp[4];
    for (int i = 0; i < n; i++) {
        tmp[i] = fcntl(fds[i], F_DUPFD, 3 + n);
        if (tmp[i] < 0)
            return -1;
    }
    for (int i = 0; i < n; i++)
        if (dup2(tmp[i], 3 + i) < 0)
            return -1;
    if (close_range(3 + (unsigned)n, ~0u, 0) < 0) {
        long max = sysconf(_SC_OPEN_MAX); /* kernels before 5.9 */
        for (long fd = 3 + n; fd < max; fd++)
            (void)close((int)fd);
    }
    return 0;
}

static void __attribute__((noreturn)) child_exec(const sup_child *c, const char *cfg_path,
                                                 int cfg_fd, pid_t supervisor, int log_w,
                                                 int notify_w)
{
    /* from here on, whatever goes wrong is said through the log pipe */
    if (dup2(log_w, STDOUT_FILENO) < 0 || dup2(log_w, STDERR_FILENO) < 0)
        _exit(SUP_EXEC_FAILED);
    if (setpgid(0, 0) < 0)
        child_fail(c->path, "setpgid", errno);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        child_fail(c->path, "prctl(PR_SET_PDEATHSIG)", errno);
    if (getppid() != supervisor)
        _exit(SUP_EXEC_FAILED); /* rpcrestd died before the line above */
    if (child_reset_signals() < 0)
        child_fail(c->path, "sigprocmask", errno);
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, STDIN_FILENO) < 0)
        child_fail(c->path, "/dev/null", errno);

    int fds[3], n = 0;
    if (c->listen_fd >= 0)
        fds[n++] = c->listen_fd;
    int notify_at = 3 + n;
    fds[n++] = notify_w;
    int cfg_at = 3 + n;
    fds[n++] = cfg_fd;
    if (child_place_fds(fds, n) < 0)
        child_fail(c->path, "placing fds", errno);

    char num[16];
    snprintf(num, sizeof(num), "%d", notify_at);
    setenv(RP_NOTIFY_FD_ENV, num, 1);
    snprintf(num, sizeof(num), "%d", cfg_at);
    setenv(RP_CONFIG_FD_ENV, num, 1);
    if (c->listen_fd >= 0) {
        snprintf(num, sizeof(num), "%d", (int)getpid());
        setenv("LISTEN_FDS", "1", 1);
        setenv("LISTEN_PID", num, 1);
    } else {
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_PID");
    }
    unsetenv("LISTEN_FDNAMES");
    unsetenv("NOTIFY_SOCKET"); /* rpcrestd speaks to systemd for both */
    if (c->handover)
        setenv(RP_HANDOVER_ENV, "1", 1);
    else
        unsetenv(RP_HANDOVER_ENV);

    char *const argv[] = {c->path, "-c", (char *)cfg_path, NULL};
    execv(c->path, argv);
    child_fail(c->path, "exec", errno);
}

/* ---- in rpcrestd ---------------------------------------------------------- */

static uint64_t next_random(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* A random number in [0, 1), for the jitter. */
static double jitter_unit(sup_ctx *ctx)
{
    return (double)(next_random(ctx->rng) >> 11) / (double)(1ull << 53);
}

/* The delay before the next start after a failure; c->delay_ms becomes
 * the one after it (sup_backoff.c). */
static int64_t take_backoff(sup_child *c, sup_ctx *ctx, int config_error)
{
    return sup_backoff_take(&c->policy, &c->delay_ms, config_error, jitter_unit(ctx));
}

/* A start that failed before there was a process: retry after the backoff,
 * and never in a tight loop (these retries have no end). */
static void schedule_retry(sup_child *c, sup_ctx *ctx, int64_t now)
{
    c->fast_failures++;
    c->next_start_ms = now + sup_backoff_take_retry(&c->policy, &c->delay_ms, jitter_unit(ctx));
}

/* The parent's side of a start, after fork: pid's process group, the
 * pipes' write ends closed and read ends made non-blocking (p owns them
 * from here on), p filled in and put in c as its current or next process,
 * and the start counted and logged. */
static void track_started(sup_child *c, sup_role role, sup_ctx *ctx, sup_proc *p, pid_t pid,
                          const int notify[2], const int logp[2], int64_t now)
{
    /* The child does this too; doing it on both sides means the group exists
     * before either side relies on it.  EACCES: the child has exec'd
     * already; ESRCH: it has exited already.  Both are fine. */
    (void)setpgid(pid, pid);
    close(notify[1]);
    close(logp[1]);
    (void)fcntl(notify[0], F_SETFL, O_NONBLOCK);
    (void)fcntl(logp[0], F_SETFL, O_NONBLOCK);
    p->pid = pid;
    p->role = role;
    p->started_ms = now;
    p->ready_ms = p->term_ms = p->kill_ms = -1;
    p->stop_timeout = ctx->cfg->supervisor.child[c->which].stop_timeout;
    p->notify_fd = notify[0];
    p->log_fd = logp[0];
    sup_guard_add(ctx->guard, ctx->log, pid);
    c->starts++;
    c->note[0] = '\0';
    if (role == SUP_ROLE_NEXT) {
        c->next = p;
        sup_log(ctx->log, "started %s pid %d to take over from pid %d", c->name, (int)pid,
                c->cur ? (int)c->cur->pid : 0);
        sup_log(ctx->log, "event=start child=%s pid=%d takes_over=%d", c->name, (int)pid,
                c->cur ? (int)c->cur->pid : 0);
    } else {
        c->cur = p;
        c->next_start_ms = -1;
        sup_log(ctx->log, "started %s pid %d", c->name, (int)pid);
        sup_log(ctx->log, "event=start child=%s pid=%d", c->name, (int)pid);
    }
}

/* Reports a start that failed at `step` with errno `err` before there was
 * a process; a current child is retried after the backoff, a next one
 * leaves the current serving.  Returns -err. */
static int start_failed(sup_child *c, sup_role role, sup_ctx *ctx, int64_t now,
                        const char *step, int err)
{
    if (role == SUP_ROLE_CURRENT) {
        schedule_retry(c, ctx, now);
        sup_log(ctx->log, "cannot start %s: %s: %s; retrying in %lld ms", c->name, step,
                strerror(err), (long long)(c->next_start_ms - now));
    } else {
        sup_log(ctx->log, "cannot start a new %s: %s: %s; pid %d keeps serving", c->name, step,
                strerror(err), c->cur ? (int)c->cur->pid : 0);
    }
    sup_log(ctx->log, "event=start_failed child=%s step=%s errno=%d retry_ms=%lld", c->name,
            step, err,
            role == SUP_ROLE_CURRENT ? (long long)(c->next_start_ms - now) : -1LL);
    return -err;
}

int sup_child_spawn(sup_child *c, sup_role role, sup_ctx *ctx, int64_t now)
{
    int notify[2] = {-1, -1}, logp[2] = {-1, -1}, cfg_fd = -1;
    sup_proc *p = calloc(1, sizeof(*p));
    int err = ENOMEM;
    const char *step = "malloc";
    if (!p)
        goto fail;
    step = "memfd_create"; /* the configuration's text, which the file may no longer be */
    if ((cfg_fd = rp_config_memfd(ctx->cfg)) < 0) {
        err = errno;
        goto fail;
    }
    step = "pipe";
    if (pipe2(notify, O_CLOEXEC) < 0 || pipe2(logp, O_CLOEXEC) < 0) {
        err = errno;
        goto fail;
    }
    pid_t self = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        err = errno;
        step = "fork";
        goto fail;
    }
    if (pid == 0)
        child_exec(c, ctx->cfg->path, cfg_fd, self, logp[1], notify[1]);
    close(cfg_fd);
    track_started(c, role, ctx, p, pid, notify, logp, now);
    return 0;

fail:
    if (cfg_fd >= 0)
        close(cfg_fd);
    for (int i = 0; i < 2; i++) {
        if (notify[i] >= 0)
            close(notify[i]);
        if (logp[i] >= 0)
            close(logp[i]);
    }
    free(p);
    return start_failed(c, role, ctx, now, step, err);
}

int sup_child_read_notify(sup_child *c, sup_proc *p, sup_logger *lg, int64_t now)
{
    char buf[64];
    for (;;) {
        ssize_t n = read(p->notify_fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n > 0 && !memchr(buf, '\n', (size_t)n))
            continue; /* a line in pieces: READY when it ends */
        close(p->notify_fd);
        p->notify_fd = -1;
        if (n > 0 && p->ready_ms < 0 && p->term_ms < 0) {
            p->ready_ms = now;
            sup_log(lg, "event=ready child=%s pid=%d after_ms=%lld", c->name, (int)p->pid,
                    (long long)(now - p->started_ms));
            sup_log(lg, "%s pid %d is ready after %lld ms", c->name, (int)p->pid,
                    (long long)(now - p->started_ms));
            return 1;
        }
        if (n <= 0 && p->ready_ms < 0 && p->term_ms < 0)
            sup_log(lg, "%s pid %d closed its notification fd without saying it is ready",
                    c->name, (int)p->pid);
        return 0;
    }
}

/* Logs log_line[0..len) and shifts what follows to the front. */
static void emit_line(sup_child *c, sup_proc *p, sup_logger *lg, size_t len, size_t skip)
{
    sup_log_child(lg, c->name, p->pid, p->log_line, len);
    if (len > 0) {
        size_t keep = len < sizeof(p->last_line) ? len : sizeof(p->last_line) - 1;
        memcpy(p->last_line, p->log_line, keep);
        p->last_line[keep] = '\0';
    }
    p->log_len -= len + skip;
    memmove(p->log_line, p->log_line + len + skip, p->log_len);
}

void sup_child_read_log(sup_child *c, sup_proc *p, sup_logger *lg)
{
    size_t budget = READ_BUDGET;
    while (p->log_fd >= 0 && budget > 0) {
        size_t room = sizeof(p->log_line) - p->log_len;
        ssize_t n = read(p->log_fd, p->log_line + p->log_len, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            if (p->log_len > 0)
                emit_line(c, p, lg, p->log_len, 0); /* the last line had no newline */
            close(p->log_fd);
            p->log_fd = -1;
            return;
        }
        size_t scanned = p->log_len;
        p->log_len += (size_t)n;
        budget -= (size_t)n < budget ? (size_t)n : budget;
        char *nl;
        while ((nl = memchr(p->log_line + scanned, '\n', p->log_len - scanned))) {
            emit_line(c, p, lg, (size_t)(nl - p->log_line), 1);
            scanned = 0;
        }
        if (p->log_len == sizeof(p->log_line))
            emit_line(c, p, lg, p->log_len, 0); /* too long: split */
    }
}

void sup_child_terminate(sup_proc *p, int64_t now)
{
    if (p->term_ms >= 0)
        return;
    if (kill(-p->pid, SIGTERM) < 0 && errno == ESRCH) {
        (void)kill(p->pid, SIGTERM); /* it left its group */
        (void)kill(p->pid, SIGCONT);
    } else {
        /* a stopped process (SIGSTOP, a debugger let go) handles its
         * SIGTERM only once it runs, as systemd and s6 do it */
        (void)kill(-p->pid, SIGCONT);
    }
    p->term_ms = now;
    p->kill_ms = now + sup_seconds_ms(p->stop_timeout);
}

void sup_child_retire(sup_child *c, sup_proc *p, int64_t now)
{
    if (c->cur == p)
        c->cur = NULL;
    if (c->next == p)
        c->next = NULL;
    p->role = SUP_ROLE_RETIRING;
    p->next_retiring = c->retiring;
    c->retiring = p;
    sup_child_terminate(p, now);
}

void sup_child_take_over(sup_child *c, sup_proc *p, int park, sup_logger *lg, int64_t now)
{
    sup_proc *old = c->cur;
    c->next = NULL;
    c->cur = p;
    p->role = SUP_ROLE_CURRENT;
    if (!old)
        return;
    sup_log(lg, "%s pid %d took over from pid %d, which %s", c->name, (int)p->pid,
            (int)old->pid, park ? "stops once the gateway has moved to the new one" : "now stops");
    if (park) {
        old->role = SUP_ROLE_RETIRING;
        old->next_retiring = c->retiring;
        c->retiring = old;
    } else {
        sup_child_retire(c, old, now);
    }
}

int sup_child_take_back(sup_child *c, pid_t pid, sup_logger *lg, int64_t now)
{
    sup_proc **link = &c->retiring;
    while (*link && (*link)->pid != pid)
        link = &(*link)->next_retiring;
    sup_proc *old = *link;
    if (!old || old->term_ms >= 0)
        return -1;
    *link = old->next_retiring;
    old->next_retiring = NULL;
    if (c->next)
        sup_child_retire(c, c->next, now);
    sup_proc *cur = c->cur;
    c->cur = old;
    old->role = SUP_ROLE_CURRENT;
    if (cur) {
        sup_log(lg, "%s pid %d serves again; pid %d, which had taken over from it, now stops",
                c->name, (int)old->pid, (int)cur->pid);
        sup_child_retire(c, cur, now);
    }
    return 0;
}

int sup_child_release(sup_child *c, sup_logger *lg, int64_t now)
{
    int n = 0;
    for (sup_proc *p = c->retiring; p; p = p->next_retiring) {
        if (p->term_ms >= 0)
            continue;
        sup_log(lg, "stopping %s pid %d", c->name, (int)p->pid);
        sup_child_terminate(p, now);
        n++;
    }
    return n;
}

void sup_child_terminate_all(sup_child *c, int64_t now)
{
    if (c->cur)
        sup_child_terminate(c->cur, now);
    if (c->next)
        sup_child_terminate(c->next, now);
    for (sup_proc *p = c->retiring; p; p = p->next_retiring)
        sup_child_terminate(p, now);
}

void sup_child_set_policy(sup_child *c, const rp_child_policy *policy, sup_logger *lg,
                          int64_t now)
{
    c->policy = *policy;
    int64_t max = sup_seconds_ms(policy->backoff_max);
    if (c->delay_ms > max)
        c->delay_ms = max;
    if (c->cur || c->next_start_ms < 0 || c->next_start_ms <= now + max)
        return; /* running, not to be started, or due within the new maximum */
    sup_log(lg, "%s: the restart waiting %lld ms more now waits backoff_max (%lld ms)", c->name,
            (long long)(c->next_start_ms - now), (long long)max);
    c->next_start_ms = now + max;
}

void sup_child_forgive(sup_child *c, int64_t now)
{
    c->fatal = 0;
    c->config_refused = 0;
    c->fast_failures = 0;
    c->delay_ms = sup_backoff_first(&c->policy);
    c->wanted = 1;
    if (!c->cur)
        c->next_start_ms = now;
}

/* What is left of p's process group once p itself has ended. */
static void kill_leftovers(sup_child *c, sup_proc *p, sup_logger *lg)
{
    /* members that have ended and wait to be reaped (rpcrestd adopts
     * them) take a signal too, but are nothing to report */
    int live = sup_group_has_live_members(p->pid);
    if (kill(-p->pid, SIGKILL) == 0 && live)
        sup_log(lg, "%s pid %d left processes behind in its group; killed them", c->name,
                (int)p->pid);
}

/* Adds what p said last to c's note, when it exited 78 (its reason). */
static void append_last_line(sup_child *c, const sup_proc *p)
{
    size_t n = strlen(c->note);
    if (p->last_line[0] && n < sizeof(c->note))
        snprintf(c->note + n, sizeof(c->note) - n, "; it said: %s", p->last_line);
}

/* p exited 78 before it was ready: left down, as FATAL, until rpcrestctl
 * start (or a reload that changes c). */
static void refused_configuration(sup_child *c, sup_proc *p, sup_ctx *ctx, int64_t uptime)
{
    c->fatal = 1;
    c->config_refused = 1;
    c->fatals++;
    c->next_start_ms = -1;
    sup_log(ctx->log, "%s pid %d exited with status %d after %lld ms, before it was ready: it "
            "refused the configuration, which a restart would not mend; leaving it down "
            "(FATAL). `rpcrestctl start %s` tries again", c->name, (int)p->pid, RP_EX_CONFIG,
            (long long)uptime, c->name);
    sup_log(ctx->log, "event=fatal child=%s failures=%d start_retries=%d reason=config_error",
            c->name, c->fast_failures, c->policy.start_retries);
    snprintf(c->note, sizeof(c->note), "refused the configuration (exit status %d) before it "
             "was ready", RP_EX_CONFIG);
    append_last_line(c, p);
}

/* c's current process p ended on its own: a good start (ready, and up for
 * start_seconds) starts the backoff over, anything else is one more fast
 * failure. */
static void count_failure(sup_child *c, const sup_proc *p, int64_t now)
{
    int64_t uptime = now - p->started_ms;
    if (p->ready_ms >= 0 && !p->failed && uptime >= sup_seconds_ms(c->policy.start_seconds)) {
        c->fast_failures = 0;
        c->delay_ms = sup_backoff_first(&c->policy);
    } else {
        c->fast_failures++;
    }
}

/* The decision after c's current process p ended on its own. */
static void after_failure(sup_child *c, sup_proc *p, int status, sup_ctx *ctx, int64_t now,
                          const char *how)
{
    const rp_child_policy *pol = &c->policy;
    int64_t uptime = now - p->started_ms;
    int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0 && !p->failed;
    int config_error = WIFEXITED(status) && WEXITSTATUS(status) == RP_EX_CONFIG;
    count_failure(c, p, now);
    if (config_error && p->ready_ms < 0) {
        refused_configuration(c, p, ctx, uptime);
        return;
    }
    if (pol->restart == RP_RESTART_NEVER || (pol->restart == RP_RESTART_ON_FAILURE && clean)) {
        c->wanted = 0;
        c->next_start_ms = -1;
        sup_log(ctx->log, "%s pid %d %s after %lld ms; not restarted (restart = %s)", c->name,
                (int)p->pid, how, (long long)uptime, rp_config_restart_name(pol->restart));
        snprintf(c->note, sizeof(c->note), "not restarted (restart = %s)",
                 rp_config_restart_name(pol->restart));
        return;
    }
    if (pol->start_retries > 0 && c->fast_failures >= pol->start_retries) {
        c->fatal = 1;
        c->fatals++;
        c->next_start_ms = -1;
        sup_log(ctx->log, "%s pid %d %s after %lld ms", c->name, (int)p->pid, how,
                (long long)uptime);
        sup_log(ctx->log,
                "%s is FATAL: it failed %d times in a row, each time within start_seconds "
                "(%g s) of starting (start_retries = %d); leaving it down. "
                "`rpcrestctl start %s` tries again",
                c->name, c->fast_failures, pol->start_seconds, pol->start_retries, c->name);
        sup_log(ctx->log, "event=fatal child=%s failures=%d start_retries=%d", c->name,
                c->fast_failures, pol->start_retries);
        snprintf(c->note, sizeof(c->note), "%d fast failures in a row (start_retries = %d)",
                 c->fast_failures, pol->start_retries);
        return;
    }
    int64_t delay = take_backoff(c, ctx, config_error);
    c->next_start_ms = now + delay;
    c->restarts++;
    sup_log(ctx->log, "%s pid %d %s after %lld ms; restarting in %lld ms%s", c->name,
            (int)p->pid, how, (long long)uptime, (long long)delay,
            config_error ? " (configuration error)" : "");
    sup_log(ctx->log, "event=restart child=%s delay_ms=%lld failures=%d reason=%s", c->name,
            (long long)delay, c->fast_failures, config_error ? "config_error" : "exit");
}

/* c's current process p ended on its own while c->next was getting ready
 * to take over from it: that one takes its place now.  Starting another
 * process instead would race it (two starting at once, the new one reading
 * a file a waiting reload has not applied yet), and declaring c FATAL would
 * leave it so once the next one serves. */
static void next_takes_the_place(sup_child *c, sup_proc *p, sup_ctx *ctx, int64_t now,
                                 const char *how)
{
    sup_proc *n = c->next;
    count_failure(c, p, now);
    c->next = NULL;
    c->cur = n;
    n->role = SUP_ROLE_CURRENT;
    sup_log(ctx->log, "%s pid %d %s after %lld ms, while pid %d was getting ready to take "
            "over from it: pid %d takes its place now", c->name, (int)p->pid, how,
            (long long)(now - p->started_ms), (int)n->pid, (int)n->pid);
}

void sup_child_exited(sup_child *c, sup_proc *p, int status, sup_ctx *ctx, int64_t now,
                      int stopping)
{
    if (p->log_fd >= 0)
        sup_child_read_log(c, p, ctx->log); /* its last words come before its end */
    kill_leftovers(c, p, ctx->log);
    sup_guard_remove(ctx->guard, ctx->log, p->pid);
    c->last_status = status;
    c->last_pid = p->pid;

    char how[128], fields[64];
    sup_describe_status(status, how, sizeof(how));
    long long uptime = (long long)(now - p->started_ms);
    status_fields(status, fields, sizeof(fields));
    c->exits[exit_kind(status)]++;
    sup_log(ctx->log, "event=exit child=%s pid=%d %s uptime_ms=%lld ready=%d expected=%d",
            c->name, (int)p->pid, fields, uptime, p->ready_ms >= 0,
            stopping || !c->wanted || (p->term_ms >= 0 && !p->failed));
    if (p->role == SUP_ROLE_RETIRING) {
        for (sup_proc **pp = &c->retiring; *pp; pp = &(*pp)->next_retiring) {
            if (*pp == p) {
                *pp = p->next_retiring;
                break;
            }
        }
        sup_log(ctx->log, "%s pid %d %s after %lld ms", c->name, (int)p->pid, how, uptime);
    } else if (p->role == SUP_ROLE_NEXT) {
        c->next = NULL;
        if (stopping || !c->wanted) {
            sup_log(ctx->log, "%s pid %d %s after %lld ms", c->name, (int)p->pid, how, uptime);
        } else {
            sup_log(ctx->log, "%s pid %d %s after %lld ms, before it %s: the hand-over "
                    "failed; pid %d keeps serving", c->name, (int)p->pid, how, uptime,
                    p->ready_ms >= 0 ? "took over" : "was ready",
                    c->cur ? (int)c->cur->pid : 0);
            snprintf(c->note, sizeof(c->note), "hand-over to pid %d failed: %s", (int)p->pid,
                     how);
            if (WIFEXITED(status) && WEXITSTATUS(status) == RP_EX_CONFIG)
                append_last_line(c, p);
        }
    } else {
        c->cur = NULL;
        if (stopping || !c->wanted || (p->term_ms >= 0 && !p->failed)) {
            c->next_start_ms = stopping || !c->wanted ? -1 : now;
            sup_log(ctx->log, "%s pid %d %s after %lld ms", c->name, (int)p->pid, how, uptime);
        } else if (p->on_trial) {
            c->next_start_ms = -1; /* the reload gives back the process it took over from */
            sup_log(ctx->log, "%s pid %d %s after %lld ms, before the reload that started it "
                    "took effect", c->name, (int)p->pid, how, uptime);
        } else if (c->next && c->next->term_ms < 0) {
            next_takes_the_place(c, p, ctx, now, how);
        } else {
            after_failure(c, p, status, ctx, now, how);
        }
    }
    proc_free(p);
}

/* Enforces p's deadlines; returns ms until its next one, or -1. */
static int64_t proc_deadlines(sup_child *c, sup_proc *p, sup_logger *lg, int64_t now)
{
    if (p->ready_ms < 0 && p->term_ms < 0) {
        int64_t due = p->started_ms + sup_seconds_ms(c->policy.ready_timeout);
        if (now < due)
            return due - now;
        sup_log(lg, "%s pid %d was not ready within %g s (ready_timeout); stopping it", c->name,
                (int)p->pid, c->policy.ready_timeout);
        p->failed = 1;
        sup_child_terminate(p, now);
        if (p->role == SUP_ROLE_NEXT) {
            snprintf(c->note, sizeof(c->note), "hand-over to pid %d failed: not ready within "
                     "%g s", (int)p->pid, c->policy.ready_timeout);
            sup_child_retire(c, p, now);
        }
    }
    if (p->kill_ms >= 0 && !p->killed) {
        if (now < p->kill_ms)
            return p->kill_ms - now;
        sup_log(lg, "%s pid %d did not stop within %g s; sending SIGKILL", c->name, (int)p->pid,
                p->stop_timeout);
        if (kill(-p->pid, SIGKILL) < 0 && errno == ESRCH)
            (void)kill(p->pid, SIGKILL);
        p->killed = 1;
    }
    return -1;
}

static int64_t earliest(int64_t a, int64_t b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

/* Once c's current process has made a good start (ready, and up for
 * start_seconds), the failures before it are forgiven: the backoff and the
 * count start over then, not only when it ends, since a serving process
 * may never end on its own (a hand-over replaces it).  Returns ms until
 * that is due, or -1. */
static int64_t good_start(sup_child *c, int64_t now)
{
    const sup_proc *p = c->cur;
    int64_t first = sup_backoff_first(&c->policy);
    if (!p || p->ready_ms < 0 || p->term_ms >= 0 || p->failed ||
        (c->fast_failures == 0 && c->delay_ms == first))
        return -1;
    int64_t due = p->started_ms + sup_seconds_ms(c->policy.start_seconds);
    if (now < due)
        return due - now;
    c->fast_failures = 0;
    c->delay_ms = first;
    return -1;
}

int64_t sup_child_deadlines(sup_child *c, sup_logger *lg, int64_t now)
{
    int64_t next = good_start(c, now);
    if (c->cur)
        next = earliest(next, proc_deadlines(c, c->cur, lg, now));
    if (c->next)
        next = earliest(next, proc_deadlines(c, c->next, lg, now));
    for (sup_proc *p = c->retiring; p; p = p->next_retiring)
        next = earliest(next, proc_deadlines(c, p, lg, now));
    return next;
}
