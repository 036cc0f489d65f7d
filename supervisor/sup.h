/*
 * sup.h -- rpcrestd's state, shared by the loop (sup_main.c), the commands
 * it obeys (sup_cmd.c: rpcrestctl's requests), the reload (sup_reload.c)
 * and the figures of `rpcrestctl metrics` (sup_metrics.c).
 */
#ifndef SUP_H
#define SUP_H

#include <stdint.h>

#include "rp_config.h"
#include "sup_adopt.h"
#include "sup_child.h"
#include "sup_ctl.h"
#include "sup_guard.h"
#include "sup_listen.h"
#include "sup_log.h"
#include "sup_reload_view.h"

/* The resources a new configuration needs before it may take effect,
 * acquired while the reload is prepared (sup_reload.c). */
typedef struct sup_reload_prep {
    int listen_fd; /* the new [gateway] listen socket, or -1 */
    sup_lock lock; /* the lock for a new [host] listen */
    sup_ctl ctl;   /* a new control socket */
    int log_fd;    /* the new log_file, or -1 (unchanged, or stderr) */
} sup_reload_prep;

/* A reload that replaces a serving child waits for the new process to be
 * ready before it takes effect: the host when the host's part changed (and
 * it is on TCP), else the gateway when only the gateway's did.  Until then
 * the old configuration runs (the old process serves; while a new host gets
 * ready the gateway is neither handed over nor started), and if the new
 * process fails, the reload has failed and is undone.  When both parts
 * changed, the wait has two stages: once the new host has taken over (the
 * old one parked, serving the old gateway), the reload waits for the
 * gateway's new process; if that one fails, the old host takes over again
 * and nothing has changed. */
typedef struct sup_reload_wait {
    rp_config *cfg;       /* the new configuration, or NULL: no reload waits; owned */
    int which;            /* RP_CHILD_HOST or RP_CHILD_GATEWAY: the child it waits for */
    sup_reload_prep prep; /* owned */
    sup_reload_view *views[RP_N_CHILDREN]; /* cfg's, per child; owned */
    pid_t old_pid;        /* the process serving when the reload began */
    pid_t new_pid;        /* its replacement, once started (start_due), or 0 */
    int superseded;       /* a restart of the child was under way, which the reload's
                           * replacement took the place of: redone if the reload fails */
    int old_listen_fd;    /* the gateway's socket, when the new gateway got a new one
                           * (prep's); put back if the reload fails; owned; or -1 */
    int changed[RP_N_CHILDREN];
    char why[RP_N_CHILDREN][512];
    double ready_timeout; /* the child's running one, put back if the reload fails */
    pid_t host_old_pid;   /* the second stage (which is the gateway): the host that the
                           * new one, host_new_pid, took over from, parked; else 0 */
    pid_t host_new_pid;
} sup_reload_wait;

typedef struct sup_state {
    rp_config *cfg;     /* the running configuration; owned */
    sup_reload_view *running[RP_N_CHILDREN]; /* what each child's part of cfg was, files
                                              * as they were when it was loaded; owned */
    char *cfg_arg;      /* -c as given, made absolute (what a reload reads); owned */
    sup_logger log;
    sup_guard guard;
    sup_adopted adopt;  /* orphans rpcrestd adopted as a child subreaper */
    sup_ctl ctl;
    sup_ctl ctl_next;   /* a reload's new control socket, swapped in by the loop */
    sup_reload_wait reload; /* a reload waiting for a new host or gateway */
    sup_lock host_lock; /* this rpcrestd serves [host] listen */
    sup_child children[RP_N_CHILDREN];
    sup_ctx ctx;
    uint64_t rng;
    int sigfd;          /* signalfd: CHLD, TERM, INT, HUP, USR1 */
    int stop_signal;    /* 0, or the signal that asked us to stop */
    int exit_status;    /* 0, or RP_EX_CONFIG: stopping because a child refused the
                         * configuration at start */
    int told_systemd;   /* both children have run: READY=1 sent (or there is no
                         * systemd to tell) */
    unsigned reloads_ok, reloads_refused, reloads_failed;
    pid_t host_given_back; /* a host that had taken over and stops because a failed
                            * reload gave the place back to the one before, or 0: its end
                            * may remove the private socket's path, which the serving
                            * host then publishes again (sup_host_republish) */
} sup_state;

int64_t sup_now_ms(void);

/* 1 while a reload waits for a new process (either stage). */
static inline int sup_reload_waits(const sup_state *s)
{
    return s->reload.cfg != NULL;
}

/* 1 if a waiting reload leaves child `which` alone for now: the child it
 * waits for, and the host too in the second stage. */
static inline int sup_reload_holds(const sup_state *s, int which)
{
    return s->reload.cfg &&
           (which == s->reload.which || (which == RP_CHILD_HOST && s->reload.host_old_pid));
}

/* 1 once rpcrestd is stopping: a signal asked it to, or start-up failed. */
static inline int sup_stopping(const sup_state *s)
{
    return s->stop_signal || s->exit_status;
}

/* 1 if child `which` (RP_CHILD_*) is one this configuration runs: both,
 * except the host when the gateway runs alone.  Status, metrics and
 * readiness cover only these. */
static inline int sup_child_runs(const sup_state *s, int which)
{
    return !(which == RP_CHILD_HOST && rp_config_gateway_alone(s->cfg));
}

/* 1 if the gateway may start: the host serves and is ready (or there is
 * none to wait for). */
static inline int sup_host_ready(const sup_state *s)
{
    const sup_proc *p = s->children[RP_CHILD_HOST].cur;
    return rp_config_gateway_alone(s->cfg) || (p && p->ready_ms >= 0 && p->term_ms < 0);
}

/* ---- sup_cmd.c ---- */

/* 1 if c may hand over (run two generations side by side): the gateway
 * always (its listener is inherited), the host unless it listens on a unix
 * socket (gRPC removes the socket file when the old one stops). */
int sup_can_handover(const sup_state *s, int which);

/* rpcrestctl's requests (a sup_ctl_handler; arg is the sup_state). */
int sup_command(void *arg, const char *request, rp_text *reply);

/* Replaces child `which` with a new process: a hand-over if it is serving,
 * a fresh start otherwise (also out of FATAL). */
void sup_restart_child(sup_state *s, int which, int64_t now);

/* ---- sup_reload.c ---- */

/* Re-reads and applies the INI.  Returns 0, or 1 if it was refused (the
 * running configuration stays); what happened goes to the log and reply.
 * Returns SUP_CTL_LATER when it replaces a serving host, or a serving
 * gateway alone: the reload then takes effect once the new process is
 * ready (sup_reload_progress). */
int sup_reload(sup_state *s, rp_text *reply);

/* Carries a waiting reload on: applies it once its new process has taken
 * over (or taken the place of an old one that ended meanwhile) and is
 * ready, or undoes it (result=failed) if that process ended or was stopped
 * before, or rpcrestd is stopping; waiting rpcrestctl clients get the
 * answer.  A no-op while the new process is getting ready. */
void sup_reload_progress(sup_state *s, int64_t now);

/* The configuration a new process of child `which` is to get: a waiting
 * reload's for the children it holds (sup_reload_holds), else the running
 * one's (no other gateway starts while a reload waits). */
const rp_config *sup_config_for(const sup_state *s, int which);

/* ---- sup_main.c ---- */

/* SIGUSR2 to the serving host: it points the private socket's path at its
 * own socket again (after a failed reload gave it the place back). */
void sup_host_republish(sup_state *s);

/* ---- sup_metrics.c ---- */

/* `rpcrestctl metrics`: rpcrestd's figures in the Prometheus text format. */
void sup_metrics(const sup_state *s, rp_text *reply);

#endif /* SUP_H */
