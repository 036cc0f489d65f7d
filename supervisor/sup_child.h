/*
 * sup_child.h -- one supervised program: its record, how it is started, and
 * what happens when it ends (the restart delay).
 *
 * Does not wait for processes or read signals: the loop in sup_main.c reaps
 * and hands each exit status to sup_child_exited.
 */
#ifndef SUP_CHILD_H
#define SUP_CHILD_H

#include <stdint.h>
#include <sys/types.h>

#define SUP_BACKOFF_MIN_MS 100     /* delay after the first quick exit */
#define SUP_BACKOFF_MAX_MS 5000    /* cap; also the delay after an exit 78 */
#define SUP_BACKOFF_RESET_MS 10000 /* up this long: the backoff starts over */

typedef struct sup_child {
    const char *name;      /* "rpcrest-host"; a string constant, not owned */
    char *path;            /* absolute path of the program; owned */
    pid_t pid;             /* the running process, or 0 */
    pid_t pgid;            /* its process group (== pid), or 0 */
    int64_t started_ms;    /* monotonic ms of the last start */
    int64_t backoff_ms;    /* delay after the next quick exit */
    int64_t next_start_ms; /* when pid == 0: monotonic ms the next start is
                              due, or -1 for "do not start again" */
} sup_child;

/* Sets up c for the program `name` in folder `dir`, due to start at `now`.
 * Returns 0, or -ENOMEM (reported).  Free with sup_child_free. */
int sup_child_init(sup_child *c, const char *name, const char *dir, int64_t now);

void sup_child_free(sup_child *c);

/* Starts `c->path -c cfg_path` in its own process group.  Returns 0, or a
 * negative errno if fork failed; the failure is logged and a retry scheduled
 * after the backoff.  A failing exec shows up later as an exit with status
 * 127. */
int sup_child_start(sup_child *c, const char *cfg_path, int64_t now);

/* Records that c's process ended with wait status `status` at `now` and logs
 * it.  With `restart`, also picks the delay before the next start (the
 * backoff, or the cap after exit 78) and logs it; without, c will not be
 * started again. */
void sup_child_exited(sup_child *c, int status, int64_t now, int restart);

/* Milliseconds until c is due to start: 0 when due, -1 when no start is
 * pending (running, or not to be started again). */
int64_t sup_child_due_in(const sup_child *c, int64_t now);

/* Sends sig to c's process group if c is running.  Returns 0 or a negative
 * errno (reported; a group that is already gone is not an error). */
int sup_child_signal(const sup_child *c, int sig);

#endif /* SUP_CHILD_H */
