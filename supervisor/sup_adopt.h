/*
 * sup_adopt.h -- the processes rpcrestd adopts.  rpcrestd is a child
 * subreaper (PR_SET_CHILD_SUBREAPER): an orphan among its descendants (a
 * helper a plugin daemonized with setsid(), the children of a process that
 * ended) becomes rpcrestd's child, not init's, so that nothing a child
 * started outlives rpcrestd unseen.
 *
 * Owns the record of the adoptees rpcrestd knows, the look at its own
 * children that finds new ones, the decision whose they are, and stopping
 * them.  An orphan that a process of ours left behind when it ended is
 * killed with it; one adopted at any other moment (whose, nobody can tell)
 * is left alone until rpcrestd stops, then stopped once both children have
 * gone.  Reaping is sup_main.c's: it hands each adoptee's end here.
 */
#ifndef SUP_ADOPT_H
#define SUP_ADOPT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sup_guard.h"
#include "sup_log.h"

#define SUP_ADOPT_LOOK_MS 1000        /* the longest time between two looks */
#define SUP_ADOPT_LOG_BURST 10        /* adoptees' ends logged one by one per window */
#define SUP_ADOPT_LOG_WINDOW_MS 60000
#define SUP_ENDINGS_MAX 4             /* processes of ours named in one round */

/* A process of ours, named for the orphans it leaves behind. */
typedef struct sup_owner {
    const char *name; /* "rpcrest-host"; a string constant */
    pid_t pid;
} sup_owner;

/* The processes of ours that ended in one round of reaping, and the owners
 * of the orphans rpcrestd killed that were reaped in it: whatever was
 * adopted in that round is theirs. */
typedef struct sup_endings {
    sup_owner owners[SUP_ENDINGS_MAX];
    int direct[SUP_ENDINGS_MAX]; /* the owner's own process ended (not an orphan of it) */
    int n;    /* owners named */
    int more; /* owners beyond SUP_ENDINGS_MAX, only counted */
} sup_endings;

typedef enum sup_adoptee_kind {
    SUP_ADOPTEE_KEPT,      /* adopted while none of ours ended: left alone until rpcrestd stops */
    SUP_ADOPTEE_ORPHAN,    /* left behind by a process of ours that ended, or dying when
                            * adopted (in a group rpcrestd killed): killed */
    SUP_ADOPTEE_INHERITED, /* rpcrestd's child before it started anything (left by the
                            * program that exec'd it): never signalled */
} sup_adoptee_kind;

typedef struct sup_adoptee {
    pid_t pid;
    sup_adoptee_kind kind;
    sup_owner owner;   /* ORPHAN: whose (name NULL: a dying one, whose is unknown) */
    int signalled;     /* rpcrestd's stop: SIGTERM sent */
    int killed;        /* SIGKILL sent */
    int untouchable;   /* a signal was refused (EPERM): not waited for */
    int guarded;       /* the guard was told about it */
    int noted;         /* known only from its end (sup_adopt_note), not from a look */
    pid_t pgrp;        /* its process group when rpcrestd first saw it */
    int seen;          /* in the last look */
    char comm[16];     /* its name as rpcrestd last read it: seen, signalled, ended */
} sup_adoptee;

/* 1 if pid is a process rpcrestd started itself (a child's, the guard). */
typedef int (*sup_is_ours_fn)(void *arg, pid_t pid);

typedef struct sup_adopted {
    int enabled;            /* rpcrestd is a child subreaper */
    int children_fd;        /* /proc/self/task/TID/children, or -1: /proc is scanned */
    char *text, *last_text; /* the list read by this look and by the last one taken */
    size_t text_len, last_len, text_cap, last_cap;
    int last_valid;         /* last_text is what rpcrestd's children were at the last look */
    int read_failing;       /* the failure to read the list was logged */
    sup_adoptee *list;      /* known adoptees, by pid */
    size_t n, cap;
    int64_t next_look_ms;
    int64_t stop_kill_ms;   /* rpcrestd's stop: when SIGKILL is due, or -1 (not begun) */
    double stop_timeout;    /* of that stop, for the log */
    int64_t log_window_ms;  /* the start of the window of ends logged one by one */
    unsigned log_count, log_suppressed;
    sup_is_ours_fn is_ours;
    void *is_ours_arg;
    sup_logger *log;
    sup_guard *guard;       /* told about kept adoptees */
} sup_adopted;

/* An empty record that does nothing yet (sup_adopt_free is safe on it).
 * Cannot fail. */
void sup_adopt_init(sup_adopted *a);

/* Makes rpcrestd a child subreaper and takes note of the children it has
 * already (INHERITED).  Call before rpcrestd starts any process.  Returns
 * 0, or a negative errno (logged): rpcrestd then adopts nothing, and every
 * other call is a no-op. */
int sup_adopt_start(sup_adopted *a, sup_logger *lg, sup_guard *guard, sup_is_ours_fn is_ours,
                    void *arg, int64_t now);

void sup_adopt_free(sup_adopted *a);

/* Looks for processes adopted since the last look.  After a round of
 * reaping, `endings` says which processes of ours ended in it: the new
 * adoptees are their orphans and are killed (logged once), unless rpcrestd
 * is `stopping` (they are stopped with the others).  With endings NULL (a
 * turn of the loop), new adoptees are KEPT.  Returns 0, or 1 if a child of
 * rpcrestd has ended and is not reaped yet: the look is not taken (it
 * could hold that child's orphans), reap first. */
int sup_adopt_look(sup_adopted *a, const sup_endings *endings, int stopping, int64_t now);

/* pid, not a process rpcrestd started, has ended: takes note of its name
 * while /proc still shows it (an adoptee that ended before any look; one
 * a look saw may have exec'd since, and gets the name it ended with).
 * Call before reaping it. */
void sup_adopt_note(sup_adopted *a, pid_t pid);

/* pid, noted, is reaped with wait status `status`: logs its end, unless
 * it was an orphan rpcrestd killed or one left in the process group of a
 * process of ours that ended (both kills were logged), at most
 * SUP_ADOPT_LOG_BURST a minute (the others are counted), and forgets it.
 * An orphan adds its owner to `endings`: its own orphans are that owner's
 * too. */
void sup_adopt_reaped(sup_adopted *a, pid_t pid, int status, sup_endings *endings, int64_t now);

/* Adds a process of ours that ended to endings. */
void sup_endings_add(sup_endings *e, const char *name, pid_t pid);

/* A turn of the loop: looks, enforces the stop's SIGKILL deadline, logs
 * the count of ends not logged once their window is over.  Returns ms
 * until the next of these is due, or -1. */
int64_t sup_adopt_tick(sup_adopted *a, int stopping, int64_t now);

/* rpcrestd stops and its children have gone: SIGTERM to each adoptee (and
 * its process group, if it leads one), SIGKILL stop_timeout seconds after
 * the first (sup_adopt_tick).  Returns 1 once none is left. */
int sup_adopt_stop(sup_adopted *a, double stop_timeout, int64_t now);

/* 1 if a process that has not ended yet is in process group pgid: not a
 * zombie, not exiting, no SIGKILL pending (a member killed with the group
 * a moment ago, which has not acted on it yet, is no process left behind);
 * 1 too when /proc cannot be read. */
int sup_group_has_live_members(pid_t pgid);

#endif /* SUP_ADOPT_H */
