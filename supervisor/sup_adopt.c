/*
 * sup_adopt.c -- the processes rpcrestd adopts as a child subreaper:
 * finding them, telling whose orphans they are, and stopping them.
 *
 * Whose is an adoptee?  The kernel does not say where an orphan came from,
 * so this goes by when it appeared.  A process that ends hands its children
 * to rpcrestd in the same step (under the kernel's tasklist lock) as it
 * becomes a zombie, so a list of rpcrestd's children read while none of
 * them is an unreaped zombie holds no orphan of an end rpcrestd has not
 * reaped yet.  rpcrestd reads it at every turn of its loop (at least every
 * SUP_ADOPT_LOOK_MS) and after every round of reaping: what is new after a
 * round in which processes of ours ended is theirs and is killed; what is
 * new at any other moment is kept, owner unknown, until rpcrestd stops.
 *
 * Where this can still misattribute:
 * - a process orphaned elsewhere in the tree (a daemon that a running
 *   child double-forked, whose middle process exits) in the same interval
 *   as a process of ours, or an orphan rpcrestd killed, ends -- since the
 *   last look: one turn of the loop, at most SUP_ADOPT_LOOK_MS when idle --
 *   is taken for that process's orphan and killed;
 * - the orphans of a kept adoptee that ends in the same round as a process
 *   of ours are taken for that process's;
 * - when several processes of ours end in one round, their orphans are
 *   said to be left by all of them.
 * Exact attribution needs a cgroup per child (systemd's way), which
 * rpcrestd cannot count on being given.  Making each child a subreaper of
 * its own descendants would be exact too, but then the child would have to
 * reap them, which neither the programs nor their plugins do.
 */
#include "sup_adopt.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup_backoff.h"
#include "sup_child.h"

#define LIST_TEXT_MAX 1024 /* the pids one log line names */
#define RETRY_LOOK_MS 10   /* a look not taken (an end to reap first) is tried again */

#define PF_EXITING 0x4 /* of a process's flags in /proc/PID/stat (linux/sched.h) */

/* What /proc/PID/stat says of a process. */
typedef struct proc_stat {
    char comm[16];
    char state; /* R, S, D, Z … */
    pid_t ppid;
    pid_t pgrp;
    unsigned flags;
} proc_stat;

/* Appends to the string buf[size]; what does not fit is left out. */
static void __attribute__((format(printf, 3, 4))) append(char *buf, size_t size,
                                                         const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
}

static const char *plural(int n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* Returns 0, or -1 if pid is gone. */
static int read_stat(pid_t pid, proc_stat *st)
{
    char path[32], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* the name may hold anything, ")" and spaces included: it ends at the last ")" */
    char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
    if (!open_paren || !close_paren || close_paren < open_paren)
        return -1;
    size_t len = (size_t)(close_paren - open_paren - 1);
    if (len >= sizeof(st->comm))
        len = sizeof(st->comm) - 1;
    memcpy(st->comm, open_paren + 1, len);
    st->comm[len] = '\0';
    for (char *c = st->comm; *c; c++) /* a name is the process's to choose: no line breaks */
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    char state;
    int ppid, pgrp, session, tty, tpgid;
    if (sscanf(close_paren + 1, " %c %d %d %d %d %d %u", &state, &ppid, &pgrp, &session, &tty,
               &tpgid, &st->flags) != 7)
        return -1;
    st->state = state;
    st->ppid = (pid_t)ppid;
    st->pgrp = (pid_t)pgrp;
    return 0;
}

/* 1 if pid is on its way out: exiting, or SIGKILL pending (a member of a
 * group rpcrestd has just killed, handed to rpcrestd before it acted on
 * the signal).  Killing or stopping it again would only say so twice.
 * When in doubt, 0: a process taken for a dying one is never stopped. */
static int is_dying(pid_t pid, const proc_stat *st)
{
    char path[32], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ESRCH; /* gone already; else (EMFILE) who knows */
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    /* the flags are the main thread's: one that called pthread_exit() is
     * exiting while the process runs on in its other threads */
    const char *threads = strstr(buf, "\nThreads:");
    if ((st->flags & PF_EXITING) && threads && strtol(threads + 9, NULL, 10) <= 1)
        return 1;
    static const char *const masks[] = {"\nSigPnd:", "\nShdPnd:"};
    for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
        const char *at = strstr(buf, masks[i]);
        if (at && (strtoull(at + strlen(masks[i]), NULL, 16) & (1ull << (SIGKILL - 1))))
            return 1;
    }
    return 0;
}

int sup_group_has_live_members(pid_t pgid)
{
    DIR *dir = opendir("/proc");
    if (!dir)
        return 1; /* cannot tell: as if it had */
    int live = 0;
    struct dirent *de;
    while (!live && (de = readdir(dir))) {
        proc_stat st;
        pid_t pid = isdigit((unsigned char)de->d_name[0]) ? (pid_t)atoi(de->d_name) : 0;
        if (pid > 0 && read_stat(pid, &st) == 0)
            live = st.pgrp == pgid && st.state != 'Z' && st.state != 'X' && !is_dying(pid, &st);
    }
    closedir(dir);
    return live;
}

/* ---- the records ------------------------------------------------------------ */

/* Where pid is in a->list (*found set), or where it would go. */
static size_t find_index(const sup_adopted *a, pid_t pid, int *found)
{
    size_t lo = 0, hi = a->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->list[mid].pid < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < a->n && a->list[lo].pid == pid;
    return lo;
}

static sup_adoptee *find(sup_adopted *a, pid_t pid)
{
    int found;
    size_t i = find_index(a, pid, &found);
    return found ? &a->list[i] : NULL;
}

/* A new zeroed record for pid, or NULL (out of memory: reported). */
static sup_adoptee *insert(sup_adopted *a, pid_t pid)
{
    int found;
    size_t i = find_index(a, pid, &found);
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 16;
        sup_adoptee *list = realloc(a->list, cap * sizeof(*list));
        if (!list) {
            sup_log(a->log, "adopted process pid %d: out of memory; not followed", (int)pid);
            return NULL;
        }
        a->list = list;
        a->cap = cap;
    }
    memmove(&a->list[i + 1], &a->list[i], (a->n - i) * sizeof(*a->list));
    a->n++;
    memset(&a->list[i], 0, sizeof(a->list[i]));
    a->list[i].pid = pid;
    return &a->list[i];
}

static void forget(sup_adopted *a, sup_adoptee *rec)
{
    if (rec->guarded)
        sup_guard_remove_process(a->guard, a->log, rec->pid);
    size_t i = (size_t)(rec - a->list);
    memmove(&a->list[i], &a->list[i + 1], (a->n - i - 1) * sizeof(*a->list));
    a->n--;
}

/* Sends sig to rec and, if it leads a process group (the setsid() of a
 * daemon took it and its own children into one), to that group.  Returns 0,
 * or -1 if it was refused (an adoptee that runs as another user): logged,
 * and rec is left alone from then on.  rec's name is taken again first: a
 * look may have seen it before an exec (a forked copy of its parent), and
 * not reaped yet, its pid is still its own. */
static int signal_adoptee(sup_adopted *a, sup_adoptee *rec, int sig)
{
    proc_stat st;
    if (read_stat(rec->pid, &st) == 0)
        memcpy(rec->comm, st.comm, sizeof(rec->comm));
    int rc = getpgid(rec->pid) == rec->pid ? kill(-rec->pid, sig) : kill(rec->pid, sig);
    if (rc == 0 || errno == ESRCH)
        return 0;
    sup_log(a->log, "cannot send SIG%s to adopted process pid %d (%s): %s; leaving it alone",
            sigabbrev_np(sig), (int)rec->pid, rec->comm, strerror(errno));
    rec->untouchable = 1;
    return -1;
}

/* 1 if pid, a child of rpcrestd, has ended (and is not reaped yet). */
static int has_ended(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

/* 1 if any child of rpcrestd has ended and is not reaped yet. */
static int a_child_has_ended(void)
{
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0;
}

/* ---- the log of adoptees' ends ---------------------------------------------- */

/* The count of ends that were not logged one by one. */
static void log_suppressed(sup_adopted *a, int64_t now)
{
    if (!a->log_suppressed)
        return;
    sup_log(a->log, "%u more adopted %s ended in the last %lld s, not logged one by one (at most "
            "%d a minute are)", a->log_suppressed,
            plural((int)a->log_suppressed, "process", "processes"),
            (long long)((now - a->log_window_ms + 999) / 1000), SUP_ADOPT_LOG_BURST);
    a->log_suppressed = 0;
}

static void roll_log_window(sup_adopted *a, int64_t now)
{
    if (now - a->log_window_ms < SUP_ADOPT_LOG_WINDOW_MS)
        return;
    log_suppressed(a, now);
    a->log_window_ms = now;
    a->log_count = 0;
}

/* One line per end, SUP_ADOPT_LOG_BURST a window at most: a plugin that
 * leaves an orphan per call must not flood the log. */
static void log_end(sup_adopted *a, const sup_adoptee *rec, int status, int64_t now)
{
    roll_log_window(a, now);
    if (a->log_count >= SUP_ADOPT_LOG_BURST) {
        a->log_suppressed++;
        return;
    }
    a->log_count++;
    char how[128];
    sup_describe_status(status, how, sizeof(how));
    sup_log(a->log, "%s process pid %d (%s) %s",
            rec->kind == SUP_ADOPTEE_INHERITED ? "inherited" : "adopted", (int)rec->pid,
            rec->comm, how);
}

/* ---- looking ------------------------------------------------------------------ */

/* Room for `more` bytes (and a NUL) after len in *buf.  Returns 0 or -ENOMEM. */
static int reserve(char **buf, size_t *cap, size_t len, size_t more)
{
    if (len + more + 1 <= *cap)
        return 0;
    size_t want = *cap ? *cap : 4096;
    while (want < len + more + 1)
        want *= 2;
    char *grown = realloc(*buf, want);
    if (!grown)
        return -ENOMEM;
    *buf = grown;
    *cap = want;
    return 0;
}

/* The kernel's list of rpcrestd's children into a->text.  Returns 0 or a
 * negative errno. */
static int read_children_file(sup_adopted *a)
{
    a->text_len = 0;
    for (;;) {
        if (reserve(&a->text, &a->text_cap, a->text_len, 4096) < 0)
            return -ENOMEM;
        /* at offset 0 the kernel lists them anew, so the file stays open */
        ssize_t n = pread(a->children_fd, a->text + a->text_len,
                          a->text_cap - a->text_len - 1, (off_t)a->text_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        a->text_len += (size_t)n;
    }
    a->text[a->text_len] = '\0';
    return 0;
}

/* The same list from every /proc/PID/stat (a kernel without
 * CONFIG_PROC_CHILDREN).  Returns 0 or a negative errno. */
static int scan_proc(sup_adopted *a)
{
    DIR *dir = opendir("/proc");
    if (!dir)
        return -errno;
    pid_t self = getpid();
    int rc = reserve(&a->text, &a->text_cap, 0, 0);
    a->text_len = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dir))) {
        proc_stat st;
        pid_t pid = (pid_t)atoi(de->d_name);
        if (!isdigit((unsigned char)de->d_name[0]) || read_stat(pid, &st) < 0 || st.ppid != self)
            continue;
        rc = reserve(&a->text, &a->text_cap, a->text_len, 16);
        if (rc == 0)
            a->text_len += (size_t)sprintf(a->text + a->text_len, "%d ", (int)pid);
    }
    closedir(dir);
    if (a->text)
        a->text[a->text_len] = '\0';
    return rc;
}

/* Returns 0, or -1 if the list cannot be read (reported once). */
static int read_children(sup_adopted *a)
{
    int rc = a->children_fd >= 0 ? read_children_file(a) : scan_proc(a);
    if (rc < 0) {
        if (!a->read_failing)
            sup_log(a->log, "cannot list rpcrestd's children: %s; adopted processes are not "
                    "followed until it can", strerror(-rc));
        a->read_failing = 1;
        return -1;
    }
    if (a->read_failing)
        sup_log(a->log, "rpcrestd's children can be listed again");
    a->read_failing = 0;
    return 0;
}

/* The owner in endings whose process group pgrp is: the adoptee was left
 * in that group, which kill_leftovers (sup_child.c) has killed. */
static const sup_owner *group_owner(const sup_endings *endings, pid_t pgrp)
{
    for (int i = 0; endings && i < endings->n; i++)
        if (endings->owners[i].pid == pgrp)
            return &endings->owners[i];
    return NULL;
}

/* A new adoptee: what it is, whose, and what becomes of it.  An orphan
 * outside its owner's group is killed and named in `killed`. */
static void adopt(sup_adopted *a, pid_t pid, const sup_endings *endings, int stopping,
                  sup_adoptee_kind fresh, char *killed, size_t size, int *n_killed)
{
    proc_stat st;
    if (read_stat(pid, &st) < 0)
        st = (proc_stat){.comm = "?", .ppid = 0, .pgrp = 0, .flags = 0};
    const sup_owner *in_group = group_owner(endings, st.pgrp);
    int ended = endings && endings->n > 0;
    int dying = fresh == SUP_ADOPTEE_KEPT && is_dying(pid, &st);
    sup_adoptee_kind kind = fresh;
    if (fresh == SUP_ADOPTEE_KEPT && (in_group || dying || (ended && !stopping)))
        kind = SUP_ADOPTEE_ORPHAN;
    sup_adoptee *rec = insert(a, pid);
    sup_adoptee lost = {.pid = pid};
    if (!rec)
        rec = &lost; /* not followed, but killed if it must be */
    rec->kind = kind;
    rec->seen = 1;
    rec->pgrp = st.pgrp;
    memcpy(rec->comm, st.comm, sizeof(rec->comm));
    if (kind == SUP_ADOPTEE_KEPT && rec != &lost) {
        sup_guard_add_process(a->guard, a->log, pid);
        rec->guarded = 1;
    }
    if (kind != SUP_ADOPTEE_ORPHAN)
        return;
    if (in_group)
        rec->owner = *in_group;
    else if (ended)
        rec->owner = endings->owners[0];
    rec->killed = 1;
    /* one left in the owner's group was killed with it, unless that kill
     * could not reach it (another user's): signalled again, to know which */
    if (dying || signal_adoptee(a, rec, SIGKILL) < 0 || in_group)
        return;
    append(killed, size, "%spid %d (%s)", *n_killed ? ", " : "", (int)pid, rec->comm);
    ++*n_killed;
}

/* "rpcrest-host pid 12" or "rpcrest-host pid 12, rpcrest-gateway pid 13":
 * the processes of ours that ended if any did, else the owners of the
 * orphans that ended (whose own orphans these are).  Returns how many. */
static int describe_owners(const sup_endings *e, char *buf, size_t size)
{
    int any_direct = 0, named = 0;
    for (int i = 0; i < e->n; i++)
        any_direct |= e->direct[i];
    buf[0] = '\0';
    for (int i = 0; i < e->n; i++) {
        if (any_direct && !e->direct[i])
            continue;
        append(buf, size, "%s%s pid %d", named++ ? ", " : "", e->owners[i].name,
               (int)e->owners[i].pid);
    }
    if (e->more)
        append(buf, size, " and %d more", e->more);
    return named + e->more;
}

/* Reads a->text: follows what it has not seen yet, forgets what has gone. */
static void take_look(sup_adopted *a, const sup_endings *endings, int stopping,
                      sup_adoptee_kind fresh)
{
    char killed[LIST_TEXT_MAX] = "";
    int n_killed = 0;
    for (size_t i = 0; i < a->n; i++)
        a->list[i].seen = 0;
    char *end;
    for (const char *p = a->text; p; p = end) {
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        if (pid <= 0 || a->is_ours(a->is_ours_arg, (pid_t)pid))
            continue;
        sup_adoptee *rec = find(a, (pid_t)pid);
        if (rec)
            rec->seen = 1;
        else
            adopt(a, (pid_t)pid, endings, stopping, fresh, killed, sizeof(killed), &n_killed);
    }
    /* gone without being reaped here: nothing should reap them elsewhere,
     * but a record of a process that is not there would hold up the stop */
    for (size_t i = a->n; i-- > 0;)
        if (!a->list[i].seen)
            forget(a, &a->list[i]);
    if (!n_killed)
        return;
    char owners[256];
    int one = describe_owners(endings, owners, sizeof(owners)) == 1;
    sup_log(a->log, "%s left %d %s behind outside %s: %s; killed %s", owners, n_killed,
            plural(n_killed, "process", "processes"),
            one ? "its process group" : "their process groups", killed,
            plural(n_killed, "it", "them"));
}

/* The list just read becomes the last one taken. */
static void commit(sup_adopted *a, int64_t now)
{
    char *text = a->last_text;
    size_t cap = a->last_cap;
    a->last_text = a->text;
    a->last_len = a->text_len;
    a->last_cap = a->text_cap;
    a->text = text;
    a->text_cap = cap;
    a->text_len = 0;
    a->last_valid = 1;
    a->next_look_ms = now + SUP_ADOPT_LOOK_MS;
}

int sup_adopt_look(sup_adopted *a, const sup_endings *endings, int stopping, int64_t now)
{
    if (!a->enabled || read_children(a) < 0)
        return 0;
    /* the same children as at the last look: nothing came (a pid is free
     * for another process only once reaped, and reaping clears last_valid) */
    if (!endings && a->last_valid && a->text_len == a->last_len &&
        memcmp(a->text, a->last_text, a->text_len) == 0) {
        a->next_look_ms = now + SUP_ADOPT_LOOK_MS;
        return 0;
    }
    if (a_child_has_ended()) {
        a->next_look_ms = now + RETRY_LOOK_MS;
        return 1;
    }
    take_look(a, endings, stopping, SUP_ADOPTEE_KEPT);
    commit(a, now);
    return 0;
}

/* ---- the rest of the interface ------------------------------------------------ */

void sup_adopt_init(sup_adopted *a)
{
    memset(a, 0, sizeof(*a));
    a->children_fd = -1;
    a->stop_kill_ms = -1;
}

int sup_adopt_start(sup_adopted *a, sup_logger *lg, sup_guard *guard, sup_is_ours_fn is_ours,
                    void *arg, int64_t now)
{
    a->log = lg;
    a->guard = guard;
    a->is_ours = is_ours;
    a->is_ours_arg = arg;
    a->log_window_ms = now;
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
        int err = errno;
        sup_log(lg, "prctl(PR_SET_CHILD_SUBREAPER): %s; processes that leave the children's "
                "process groups are not followed", strerror(err));
        return -err;
    }
    a->enabled = 1;
    /* rpcrestd is single-threaded: its one thread, whose id is its pid, is
     * the parent of all its children, adopted ones included */
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
    a->children_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (a->children_fd < 0)
        sup_log(lg, "%s: %s; looking for adopted processes in all of /proc instead, at most "
                "every %d ms", path, strerror(errno), SUP_ADOPT_LOOK_MS);
    if (read_children(a) == 0) {
        take_look(a, NULL, 0, SUP_ADOPTEE_INHERITED);
        commit(a, now);
    }
    return 0;
}

void sup_adopt_free(sup_adopted *a)
{
    if (a->children_fd >= 0)
        close(a->children_fd);
    free(a->text);
    free(a->last_text);
    free(a->list);
    sup_adopt_init(a);
}

void sup_adopt_note(sup_adopted *a, pid_t pid)
{
    proc_stat st;
    int have_stat = read_stat(pid, &st) == 0;
    sup_adoptee *rec = find(a, pid);
    if (rec) { /* seen by a look: its name then may be from before an exec */
        if (have_stat)
            memcpy(rec->comm, st.comm, sizeof(rec->comm));
        return;
    }
    if (!have_stat)
        st = (proc_stat){.comm = "?", .ppid = 0, .pgrp = 0};
    rec = insert(a, pid);
    if (!rec)
        return;
    rec->kind = SUP_ADOPTEE_KEPT;
    rec->seen = 1;
    rec->noted = 1;
    rec->pgrp = st.pgrp;
    memcpy(rec->comm, st.comm, sizeof(rec->comm));
}

/* Adds owner to e once; direct: its own process ended. */
static void add_owner(sup_endings *e, const char *name, pid_t pid, int direct)
{
    for (int i = 0; i < e->n; i++) {
        if (e->owners[i].pid == pid) {
            e->direct[i] |= direct;
            return;
        }
    }
    if (e->n == SUP_ENDINGS_MAX) {
        e->more++;
        return;
    }
    e->owners[e->n] = (sup_owner){name, pid};
    e->direct[e->n++] = direct;
}

void sup_endings_add(sup_endings *e, const char *name, pid_t pid)
{
    add_owner(e, name, pid, 1);
}

/* 1 if rec, which ended before any look saw it, was left in the process
 * group of a process of ours that has ended too (reaped in this round, or
 * not reaped yet): kill_leftovers killed it, or will. */
static int left_in_a_group(sup_adopted *a, const sup_adoptee *rec, const sup_endings *endings)
{
    if (!rec->noted || rec->pgrp <= 1)
        return 0;
    return group_owner(endings, rec->pgrp) ||
           (a->is_ours(a->is_ours_arg, rec->pgrp) && has_ended(rec->pgrp));
}

void sup_adopt_reaped(sup_adopted *a, pid_t pid, int status, sup_endings *endings, int64_t now)
{
    a->last_valid = 0; /* pid may be another process's from now on */
    sup_adoptee *rec = find(a, pid);
    sup_adoptee gone = {.pid = pid, .kind = SUP_ADOPTEE_KEPT, .comm = "?"};
    if (rec) {
        gone = *rec;
        forget(a, rec);
    }
    if (gone.kind != SUP_ADOPTEE_ORPHAN) {
        if (!left_in_a_group(a, &gone, endings))
            log_end(a, &gone, status, now);
    } else if (gone.owner.name) {
        add_owner(endings, gone.owner.name, gone.owner.pid, 0);
    }
}

/* The stop's SIGKILL, stop_timeout after its SIGTERM. */
static void kill_overdue(sup_adopted *a, int64_t now)
{
    if (a->stop_kill_ms < 0 || now < a->stop_kill_ms)
        return;
    char names[LIST_TEXT_MAX] = "";
    int n = 0;
    for (size_t i = 0; i < a->n; i++) {
        sup_adoptee *rec = &a->list[i];
        if (!rec->signalled || rec->killed || rec->untouchable || has_ended(rec->pid))
            continue;
        rec->killed = 1;
        if (signal_adoptee(a, rec, SIGKILL) < 0)
            continue;
        append(names, sizeof(names), "%spid %d (%s)", n ? ", " : "", (int)rec->pid, rec->comm);
        n++;
    }
    if (n)
        sup_log(a->log, "%d adopted %s not stop within %g s; sending SIGKILL: %s", n,
                plural(n, "process did", "processes did"), a->stop_timeout, names);
}

/* 1 while an adoptee that rpcrestd stops or killed has not been reaped. */
static int waiting_for_some(const sup_adopted *a)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->list[i].kind != SUP_ADOPTEE_INHERITED && !a->list[i].untouchable)
            return 1;
    return 0;
}

int64_t sup_adopt_tick(sup_adopted *a, int stopping, int64_t now)
{
    if (!a->enabled)
        return -1;
    /* reading all of /proc costs too much for every turn */
    if (a->children_fd >= 0 || now >= a->next_look_ms)
        (void)sup_adopt_look(a, NULL, stopping, now);
    kill_overdue(a, now);
    roll_log_window(a, now);
    int64_t next = a->next_look_ms - now;
    if (a->stop_kill_ms > now && a->stop_kill_ms - now < next)
        next = a->stop_kill_ms - now;
    int64_t window_end = a->log_window_ms + SUP_ADOPT_LOG_WINDOW_MS;
    if (a->log_suppressed && window_end - now < next)
        next = window_end - now;
    return next < 0 ? 0 : next;
}

int sup_adopt_stop(sup_adopted *a, double stop_timeout, int64_t now)
{
    if (!a->enabled)
        return 1;
    if (sup_adopt_look(a, NULL, 1, now))
        return 0; /* an end to reap first: it may leave orphans */
    int n = 0;
    for (size_t i = 0; i < a->n; i++) {
        sup_adoptee *rec = &a->list[i];
        if (rec->kind != SUP_ADOPTEE_KEPT || rec->signalled || rec->untouchable)
            continue;
        rec->signalled = 1;
        if (signal_adoptee(a, rec, SIGTERM) == 0)
            n++;
    }
    if (n && a->stop_kill_ms < 0) {
        a->stop_timeout = stop_timeout;
        a->stop_kill_ms = now + sup_seconds_ms(stop_timeout);
        sup_log(a->log, "stopping %d adopted %s (SIGTERM; SIGKILL after %g s)", n,
                plural(n, "process", "processes"), stop_timeout);
    } else if (n) {
        sup_log(a->log, "stopping %d more adopted %s, adopted since (SIGTERM; SIGKILL in %lld ms)",
                n, plural(n, "process", "processes"),
                (long long)(a->stop_kill_ms > now ? a->stop_kill_ms - now : 0));
    }
    kill_overdue(a, now);
    if (waiting_for_some(a))
        return 0;
    log_suppressed(a, now);
    return 1;
}
