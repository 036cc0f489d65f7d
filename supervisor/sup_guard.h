/*
 * sup_guard.h -- the guard: a small process forked by rpcrestd that outlives
 * it just long enough to SIGKILL the children's process groups, and the
 * processes rpcrestd adopted, when rpcrestd itself dies, even by SIGKILL
 * (the children's own PR_SET_PDEATHSIG does not reach their children).
 *
 * Owns the guard process and the pipe to it: rpcrestd announces each group
 * it creates ("+gPGID") and each it has finished with ("-gPGID"), and the
 * same of each adopted process it keeps ("+pPID", "-pPID"); when the pipe
 * reaches end of file, the guard kills what is still listed.
 */
#ifndef SUP_GUARD_H
#define SUP_GUARD_H

#include <sys/types.h>

#include "sup_log.h"

#define SUP_GUARD_MAX_GROUPS 64
#define SUP_GUARD_MAX_PROCESSES 1024

typedef struct sup_guard {
    pid_t pid;     /* the guard process, or 0 */
    int fd;        /* write end of its pipe, or -1 */
    /* what it was told, to tell a new guard */
    pid_t groups[SUP_GUARD_MAX_GROUPS];
    int n_groups;
    pid_t processes[SUP_GUARD_MAX_PROCESSES]; /* adopted processes */
    int n_processes;
    int processes_full; /* a process was left out for want of room (logged) */
} sup_guard;

/* Starts the guard.  Returns 0 or a negative errno (logged); rpcrestd runs
 * without one then (its children still die with it, their children may
 * not). */
int sup_guard_start(sup_guard *g, sup_logger *lg);

/* Tells the guard about a new process group / one that is gone for good. */
void sup_guard_add(sup_guard *g, sup_logger *lg, pid_t pgid);
void sup_guard_remove(sup_guard *g, sup_logger *lg, pid_t pgid);

/* Tells the guard about an adopted process rpcrestd keeps / one it has
 * reaped.  The guard kills it, and its process group if it leads one. */
void sup_guard_add_process(sup_guard *g, sup_logger *lg, pid_t pid);
void sup_guard_remove_process(sup_guard *g, sup_logger *lg, pid_t pid);

/* The guard ended (reaped by rpcrestd's loop): starts another one that
 * knows the same groups and processes. */
void sup_guard_restart(sup_guard *g, sup_logger *lg);

/* At rpcrestd's clean exit: closes the pipe; the guard then exits (every
 * group is gone by then).  Does not wait for it. */
void sup_guard_stop(sup_guard *g);

#endif /* SUP_GUARD_H */
