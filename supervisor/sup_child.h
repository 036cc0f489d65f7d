/*
 * sup_child.h -- one supervised program (rpcrest-host or rpcrest-gateway):
 * its processes, its state, and its restart policy.
 *
 * A child has at most one current process (starting or serving), at most
 * one next process (a replacement getting ready during a hand-over) and any
 * number of retiring ones (told to stop, draining).  This module starts
 * processes (fork/exec with the notification fd, the log pipe and the
 * inherited listener), reads what they say, decides what an exit means
 * (restart after a backoff, FATAL, or nothing) and enforces the ready and
 * stop deadlines.  It does not reap, read signals, or order the two
 * children: sup_main.c does.
 */
#ifndef SUP_CHILD_H
#define SUP_CHILD_H

#include <stdint.h>
#include <sys/types.h>

#include "rp_config.h"
#include "sup_guard.h"
#include "sup_log.h"

typedef enum sup_phase {
    SUP_STOPPED,
    SUP_STARTING,
    SUP_RUNNING,
    SUP_BACKOFF,
    SUP_STOPPING,
    SUP_FATAL,
} sup_phase;

typedef enum sup_role {
    SUP_ROLE_CURRENT,  /* the child's process: starting or serving */
    SUP_ROLE_NEXT,     /* a replacement that is not ready yet */
    SUP_ROLE_RETIRING, /* replaced or abandoned: told to stop */
} sup_role;

typedef struct sup_proc {
    struct sup_proc *next_retiring;
    pid_t pid;          /* also its process group */
    sup_role role;
    int64_t started_ms; /* monotonic */
    int64_t ready_ms;   /* when it said READY, or -1 */
    int64_t term_ms;    /* when SIGTERM was sent, or -1 */
    int64_t kill_ms;    /* when SIGKILL is due (term_ms + stop_timeout), or -1 */
    double stop_timeout; /* its configuration's, by which it plans its own stop
                          * (a reload may change the child's since) */
    int killed;         /* SIGKILL sent */
    int failed;         /* stopped by rpcrestd for not being ready in time */
    int on_trial;       /* took over in a reload not applied yet: its end fails the
                         * reload (sup_reload.c), and is no failure of the child */
    int notify_fd;      /* read end of its notification pipe, or -1 */
    int log_fd;         /* read end of its stdout+stderr pipe, or -1 */
    size_t log_len;     /* bytes of an unfinished line in log_line */
    char log_line[SUP_LOG_LINE_MAX];
    char last_line[200]; /* the last non-empty line it wrote, cut short: why it refused
                          * its configuration, for the note */
} sup_proc;

/* What starting a process needs from rpcrestd. */
typedef struct sup_ctx {
    sup_logger *log;
    sup_guard *guard;
    const rp_config *cfg; /* the child's: its path is -c, its text the fd it reads
                           * (RP_CONFIG_FD_ENV) */
    uint64_t *rng;        /* jitter */
} sup_ctx;

/* How a process ended, for rpcrest_supervisor_child_exits_total. */
typedef enum sup_exit_kind {
    SUP_EXIT_OK,           /* status 0 */
    SUP_EXIT_ERROR,        /* another status */
    SUP_EXIT_CONFIG_ERROR, /* status 78: configuration refused, or a plugin not loaded */
    SUP_EXIT_SIGNAL,       /* killed by a signal */
    SUP_N_EXITS
} sup_exit_kind;

extern const char *const sup_exit_kind_names[SUP_N_EXITS];

typedef struct sup_child {
    const char *name;       /* "rpcrest-host"; a string constant */
    int which;              /* RP_CHILD_HOST or RP_CHILD_GATEWAY */
    char *path;             /* the program; owned */
    rp_child_policy policy;
    int wanted;             /* 0: stopped on purpose (rpcrestctl stop, restart = never) */
    int fatal;              /* gave up: start_retries fast failures, or config_refused */
    int config_refused;     /* its last process exited 78 before it was ready */
    int handover_pending;   /* a reload or restart asked for a new process */
    int start_after_retired; /* start only once no retiring process is left */
    int64_t next_start_ms;  /* no current process: when the next start is due, or -1 */
    int64_t delay_ms;       /* the next backoff delay, before jitter */
    int fast_failures;      /* failures in a row, each before a good start */
    unsigned starts;        /* processes started */
    unsigned restarts;      /* restarts scheduled after a process ended on its own */
    unsigned fatals;        /* times it was declared FATAL */
    unsigned exits[SUP_N_EXITS]; /* processes that ended, by sup_exit_kind */
    int last_status;        /* wait status of the last process that ended, or -1 */
    pid_t last_pid;         /* that process, or 0 */
    int listen_fd;          /* given to new processes as fd 3 (LISTEN_FDS=1), or -1 */
    int handover;           /* tell new processes RPCREST_HANDOVER=1 */
    sup_proc *cur;
    sup_proc *next;
    sup_proc *retiring;     /* list */
    char note[512];         /* for status: why it is in its state */
} sup_child;

/* Sets up c for the program `name` in folder `dir`, wanted and due now.
 * Returns 0, or -ENOMEM (logged).  Free with sup_child_free. */
int sup_child_init(sup_child *c, int which, const char *name, const char *dir,
                   const rp_child_policy *policy, sup_logger *lg, int64_t now);

/* Frees c's records (its processes must be gone: this does not signal). */
void sup_child_free(sup_child *c);

sup_phase sup_child_state(const sup_child *c, int64_t now);
const char *sup_phase_name(sup_phase st);

/* Starts a process in `role` (CURRENT or NEXT).  Returns 0, or a negative
 * errno; a failed CURRENT start counts as a failure (backoff, FATAL). */
int sup_child_spawn(sup_child *c, sup_role role, sup_ctx *ctx, int64_t now);

/* The process of c with this pid, or NULL. */
sup_proc *sup_child_find(sup_child *c, pid_t pid);

/* Reads p's notification pipe.  Returns 1 if p just became ready. */
int sup_child_read_notify(sup_child *c, sup_proc *p, sup_logger *lg, int64_t now);

/* Reads what p wrote and logs each whole line. */
void sup_child_read_log(sup_child *c, sup_proc *p, sup_logger *lg);

/* SIGTERM to p's group (once) and SIGKILL due after p's stop_timeout (the
 * one it was started with).  A CURRENT or NEXT process stays in its role
 * until it ends; see retire. */
void sup_child_terminate(sup_proc *p, int64_t now);

/* Moves p (c's current or next process) to the retiring list and
 * terminates it.  Its end is then just logged. */
void sup_child_retire(sup_child *c, sup_proc *p, int64_t now);

/* p (c->next) is ready: it becomes the current process and the old one
 * retires: told to stop now, or with `park`, only at sup_child_release
 * (the old host serves the old gateway until that one has gone).  Logs the
 * hand-over. */
void sup_child_take_over(sup_child *c, sup_proc *p, int park, sup_logger *lg, int64_t now);

/* The parked retiring process `pid` (taken over from, not told to stop)
 * becomes c's current process again, and the current and next ones retire:
 * a hand-over undone.  Returns 0, or -1 when no such process is parked. */
int sup_child_take_back(sup_child *c, pid_t pid, sup_logger *lg, int64_t now);

/* Tells the parked retiring processes to stop.  Returns how many. */
int sup_child_release(sup_child *c, sup_logger *lg, int64_t now);

/* SIGTERM to every process of c (stopping rpcrestd). */
void sup_child_terminate_all(sup_child *c, int64_t now);

/* Records that p ended with wait status `status`, logs it, and decides
 * what happens next (nothing when `stopping`).  A current process that
 * exits 78 (RP_EX_CONFIG) before it was ready refused the configuration: no
 * restart would mend that, so c is FATAL with config_refused set; one that
 * had been ready is restarted (after backoff_max).  A current process that
 * ends on its own while a next one gets ready to take over from it leaves
 * its place to that one at once: nothing else is started.  Frees p. */
void sup_child_exited(sup_child *c, sup_proc *p, int status, sup_ctx *ctx, int64_t now,
                      int stopping);

/* Enforces ready_timeout and stop_timeout, and starts the backoff and the
 * failure count over once the current process has made a good start
 * (ready, and up for start_seconds).  Returns ms until the next deadline,
 * or -1 if none. */
int64_t sup_child_deadlines(sup_child *c, sup_logger *lg, int64_t now);

/* Gives c the policy of a reloaded configuration.  A restart that waits
 * longer than the new backoff_max is brought forward to it (logged), so
 * that lowering backoff_max takes effect for a child that is down now. */
void sup_child_set_policy(sup_child *c, const rp_child_policy *policy, sup_logger *lg,
                          int64_t now);

/* Clears FATAL and the failure count: the next failure starts the backoff
 * over.  Used by rpcrestctl start/restart and by a reload that changes c. */
void sup_child_forgive(sup_child *c, int64_t now);

/* "exited with status 1", "killed by signal SIGKILL (Killed)". */
void sup_describe_status(int status, char *buf, size_t size);

#endif /* SUP_CHILD_H */
