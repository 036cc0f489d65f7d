/*
 * sup_reload.c -- a reload (SIGHUP, rpcrestctl reload): the new INI is
 * loaded and checked, the children it changes (sup_reload_view.c) are
 * replaced, and the answer waits for the replacements.
 *
 * A reload that replaces a serving host or gateway takes effect, and is
 * answered, once the new process is ready; when the host's part changed, in
 * two stages: the new host, then the new gateway (which talks to it, and
 * may have a part of its own that changed).  If a new process fails, the
 * reload is undone: the old configuration is in force again and, in the
 * second stage, the old host (parked until then) serves again.  The loop in
 * sup_main.c calls sup_reload_progress as processes get ready or end.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp_notify.h"
#include "rp_priv.h"
#include "rp_tls.h"
#include "sup.h"

static int same_path(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int prepare(sup_state *s, const rp_config *n, sup_reload_prep *prep, char *err,
                   size_t errlen)
{
    const rp_config *o = s->cfg;
    char why[1024], where[PATH_MAX + 32];
    prep->listen_fd = -1;
    prep->lock.fd = -1;
    prep->lock.path = NULL;
    prep->log_fd = -1;
    sup_ctl_init(&prep->ctl);
    if (strcmp(o->gateway.listen, n->gateway.listen) != 0) {
        prep->listen_fd = rp_notify_listen_tcp(n->gateway.listen, why, sizeof(why));
        if (prep->listen_fd < 0) {
            rp_config_where(n, "gateway", "listen", where, sizeof(where));
            snprintf(err, errlen, "%s: [gateway] listen: %s", where, why);
            return -1;
        }
    }
    if (!rp_config_gateway_alone(n) && !sup_same_address(o->host.listen, n->host.listen) &&
        sup_lock_take(&prep->lock, n->host.listen, why, sizeof(why)) < 0) {
        rp_config_where(n, "host", "listen", where, sizeof(where));
        snprintf(err, errlen, "%s: [host] listen: %s", where, why);
        return -1;
    }
    if (!rp_config_gateway_alone(n) && sup_host_ports_free(n, o, err, errlen) < 0)
        return -1;
    if (!same_path(o->supervisor.control_socket, n->supervisor.control_socket) &&
        sup_ctl_open(&prep->ctl, n->supervisor.control_socket, why, sizeof(why)) < 0) {
        rp_config_where(n, "supervisor", "control_socket", where, sizeof(where));
        snprintf(err, errlen, "%s: [supervisor] control_socket: %s", where, why);
        return -1;
    }
    if (n->supervisor.log_file && !same_path(o->supervisor.log_file, n->supervisor.log_file) &&
        (prep->log_fd = sup_log_open(n->supervisor.log_file)) < 0) {
        rp_config_where(n, "supervisor", "log_file", where, sizeof(where));
        snprintf(err, errlen, "%s: [supervisor] log_file: cannot open %s: %s", where,
                 n->supervisor.log_file, sup_log_open_error(prep->log_fd));
        prep->log_fd = -1;
        return -1;
    }
    return 0;
}

static void unprepare(sup_reload_prep *prep)
{
    if (prep->log_fd >= 0)
        close(prep->log_fd);
    if (prep->listen_fd >= 0)
        close(prep->listen_fd);
    sup_lock_release(&prep->lock);
    sup_ctl_close(&prep->ctl);
}

/* Logs a refused or failed reload, with its event line, and says so in
 * reply.  `result` is "refused" or "failed". */
static void reload_not_done(sup_state *s, const char *result, char *err, rp_text *reply)
{
    sup_log(&s->log, "reload %s: %s; carrying on with the running configuration", result, err);
    for (char *q = err; *q; q++)
        if (*q == '"' || *q == '\\')
            *q = '\'';
    sup_log(&s->log, "event=reload result=%s error=\"%s\"", result, err);
    rp_text_printf(reply, "reload %s: %s\n", result, err);
}

/* Loads, checks and prepares the new configuration.  Returns it, or NULL
 * with the reason in err[errlen]. */
static rp_config *load_new(sup_state *s, sup_reload_prep *prep, char *err, size_t errlen)
{
    rp_config *n = rp_config_load(s->cfg_arg, err, errlen);
    if (n && (rp_priv_check(n, err, errlen) < 0 || rp_tls_check(n, RP_TLS_ALL, err, errlen) < 0)) {
        rp_config_free(n);
        return NULL;
    }
    if (n && rp_config_gateway_alone(s->cfg) != rp_config_gateway_alone(n)) {
        snprintf(err, errlen, "%s: %s; restart rpcrestd for that", n->path,
                 rp_config_gateway_alone(n) ? "it makes the gateway run alone (upstream, no "
                                       "[service.*])"
                                     : "it ends a gateway-only configuration");
        rp_config_free(n);
        return NULL;
    }
    if (n && prepare(s, n, prep, err, errlen) < 0) {
        unprepare(prep);
        rp_config_free(n);
        return NULL;
    }
    return n;
}

/* 1 if child `which`'s replacement for `n` is a hand-over the reload can
 * wait for: the child serves, and (the host) both configurations have it on
 * TCP. */
static int hands_over(const sup_state *s, int which, const rp_config *n)
{
    const sup_child *c = &s->children[which];
    if (!c->wanted || !c->cur || c->cur->ready_ms < 0 || c->cur->term_ms >= 0)
        return 0;
    return which == RP_CHILD_GATEWAY || (strncmp(s->cfg->host.listen, "unix:", 5) != 0 &&
                                         strncmp(n->host.listen, "unix:", 5) != 0);
}

/* Makes n the running configuration: its views, the policies and the
 * prepared resources.  Returns the configuration it replaces (the caller's
 * to free or keep). */
static rp_config *switch_config(sup_state *s, rp_config *n,
                                sup_reload_view *views[RP_N_CHILDREN], sup_reload_prep *prep)
{
    int64_t now = sup_now_ms();
    rp_config *o = s->cfg;
    s->cfg = n;
    s->ctx.cfg = n;
    for (int i = 0; i < RP_N_CHILDREN; i++) {
        sup_reload_view_free(s->running[i]);
        s->running[i] = views[i];
        views[i] = NULL;
    }
    for (int i = 0; i < RP_N_CHILDREN; i++)
        sup_child_set_policy(&s->children[i], &n->supervisor.child[i], &s->log, now);
    s->children[RP_CHILD_HOST].handover = sup_can_handover(s, RP_CHILD_HOST);
    if (prep->listen_fd >= 0) {
        sup_child *gw = &s->children[RP_CHILD_GATEWAY];
        if (gw->listen_fd >= 0)
            close(gw->listen_fd); /* serving gateways keep their own copies */
        gw->listen_fd = prep->listen_fd;
        prep->listen_fd = -1;
    }
    if (prep->lock.fd >= 0) {
        sup_lock_release(&s->host_lock);
        s->host_lock = prep->lock;
    }
    if (prep->ctl.fd >= 0) {
        sup_ctl_close(&s->ctl_next);
        s->ctl_next = prep->ctl; /* swapped in by the loop, after this request is answered */
    }
    if (!same_path(o->supervisor.log_file, n->supervisor.log_file) &&
        sup_log_use(&s->log, prep->log_fd, n->supervisor.log_file) < 0)
        sup_log(&s->log, "reload: log_file %s: out of memory; logging where it did before",
                n->supervisor.log_file);
    sup_log(&s->log, "reloaded %s", n->path);
    return o;
}

/* Replaces each changed child but those in `done` (a mask of 1 << RP_CHILD_*),
 * whose new processes run already (a gateway handed over to talk to a new
 * host, its own part unchanged, among them), and says so in reply. */
static void replace_changed(sup_state *s, const int changed[RP_N_CHILDREN],
                            char why[RP_N_CHILDREN][512], unsigned done, rp_text *reply)
{
    int64_t now = sup_now_ms();
    int any = 0;
    for (int i = 0; i < RP_N_CHILDREN; i++) {
        sup_child *c = &s->children[i];
        if (!changed[i] && !(done & (1u << i)))
            continue;
        any = 1;
        if (done & (1u << i)) {
            rp_text_printf(reply, "%s: %s; handed over\n", c->name, why[i]);
            continue;
        }
        if (!c->wanted && !c->fatal) {
            sup_log(&s->log, "reload: %s: %s; it is stopped, so it will run the new "
                    "configuration when started", c->name, why[i]);
            rp_text_printf(reply, "%s: %s; stopped, not started\n", c->name, why[i]);
            continue;
        }
        sup_log(&s->log, "reload: %s: %s; %s", c->name, why[i],
                c->cur && c->cur->ready_ms >= 0 && sup_can_handover(s, i)
                    ? "handing over to a new process"
                    : "restarting it");
        rp_text_printf(reply, "%s: %s; restarting\n", c->name, why[i]);
        sup_restart_child(s, i, now);
    }
    if (!any) {
        sup_log(&s->log, "reload: no child is affected");
        rp_text_printf(reply, "reloaded; no child is affected\n");
    }
}

/* Counts and logs a reload that has taken effect: changed= names the
 * children it replaced. */
static void reload_ok(sup_state *s, const int changed[RP_N_CHILDREN], unsigned done)
{
    s->reloads_ok++;
    char names[64] = "none";
    size_t len = 0;
    for (int i = 0; i < RP_N_CHILDREN; i++) {
        if (!changed[i] && !(done & (1u << i)))
            continue;
        int n = snprintf(names + len, sizeof(names) - len, "%s%s", len ? "," : "",
                         s->children[i].name);
        if (n < 0 || (size_t)n >= sizeof(names) - len)
            break; /* cut short; the names are known and short */
        len += (size_t)n;
    }
    sup_log(&s->log, "event=reload result=ok changed=%s", names);
}

/* Makes n the running configuration and replaces each changed child but
 * those in `done` (see replace_changed).  Frees the old one. */
static void apply(sup_state *s, rp_config *n, sup_reload_view *views[RP_N_CHILDREN],
                  sup_reload_prep *prep, const int changed[RP_N_CHILDREN],
                  char why[RP_N_CHILDREN][512], unsigned done, rp_text *reply)
{
    rp_config_free(switch_config(s, n, views, prep));
    replace_changed(s, changed, why, done, reply);
    reload_ok(s, changed, done);
}

/* The child a reload to n must wait for first (RP_CHILD_*), or -1: the
 * host when its part changed and it hands over, else the gateway when only
 * its part changed and it hands over.  (When both changed, the wait for the
 * gateway follows the host's: begin_gateway_stage.) */
static int child_to_wait_for(const sup_state *s, const rp_config *n,
                             const int changed[RP_N_CHILDREN])
{
    if (changed[RP_CHILD_HOST])
        return hands_over(s, RP_CHILD_HOST, n) ? RP_CHILD_HOST : -1;
    if (changed[RP_CHILD_GATEWAY] && hands_over(s, RP_CHILD_GATEWAY, n))
        return RP_CHILD_GATEWAY;
    return -1;
}

/* Begins the wait for child `which`'s new process under n. */
static void wait_for_child(sup_state *s, int which, rp_config *n, sup_reload_prep *prep,
                           sup_reload_view *views[RP_N_CHILDREN], const int changed[RP_N_CHILDREN],
                           char why[RP_N_CHILDREN][512])
{
    sup_reload_wait *w = &s->reload;
    sup_child *c = &s->children[which];
    w->cfg = n;
    w->which = which;
    memcpy(w->views, views, sizeof(w->views));
    w->prep = *prep;
    w->old_pid = c->cur->pid; /* hands_over: there is one */
    w->new_pid = 0;
    w->superseded = c->next != NULL || c->handover_pending; /* a restart under way */
    w->old_listen_fd = -1;
    if (which == RP_CHILD_GATEWAY && w->prep.listen_fd >= 0) {
        /* the new gateway gets the new socket; the old one serves on its
         * own copy of the old, which rpcrestd keeps until the reload ends */
        w->old_listen_fd = c->listen_fd;
        c->listen_fd = w->prep.listen_fd;
        w->prep.listen_fd = -1;
    }
    memcpy(w->changed, changed, sizeof(w->changed));
    memcpy(w->why, why, sizeof(w->why));
    /* the new process gets the new ready_timeout, the one rpcrestctl waits for */
    w->ready_timeout = c->policy.ready_timeout;
    c->policy.ready_timeout = n->supervisor.child[which].ready_timeout;
    sup_log(&s->log, "reload: %s: %s; handing over to a new process; the reload takes effect "
            "once it is ready", c->name, why[which]);
    sup_restart_child(s, which, sup_now_ms());
}

int sup_reload(sup_state *s, rp_text *reply)
{
    char err[2 * PATH_MAX + 512];
    if (sup_reload_waits(s)) {
        snprintf(err, sizeof(err), "the previous reload is under way (its new %s is getting "
                 "ready); try again once it is done", s->children[s->reload.which].name);
        s->reloads_refused++;
        reload_not_done(s, "refused", err, reply);
        return 1;
    }
    sup_reload_prep prep = {.listen_fd = -1, .lock = {.fd = -1, .path = NULL}, .log_fd = -1};
    rp_config *n = load_new(s, &prep, err, sizeof(err));
    if (!n) {
        s->reloads_refused++;
        reload_not_done(s, "refused", err, reply);
        return 1;
    }
    char why[RP_N_CHILDREN][512];
    int changed[RP_N_CHILDREN];
    sup_reload_view *views[RP_N_CHILDREN];
    for (int i = 0; i < RP_N_CHILDREN; i++) {
        views[i] = sup_reload_view_of(n, i);
        changed[i] = sup_reload_changed(s->running[i], views[i], why[i], sizeof(why[i]));
    }
    int which = child_to_wait_for(s, n, changed);
    if (which < 0) {
        apply(s, n, views, &prep, changed, why, 0, reply);
        return 0;
    }
    wait_for_child(s, which, n, &prep, views, changed, why);
    return SUP_CTL_LATER;
}

const rp_config *sup_config_for(const sup_state *s, int which)
{
    return sup_reload_holds(s, which) ? s->reload.cfg : s->cfg;
}

/* Why the waiting reload's new process p (NULL once it has ended) did not
 * take over, into why[size]. */
static void wait_failure(const sup_state *s, const sup_proc *p, char *why, size_t size)
{
    const sup_reload_wait *w = &s->reload;
    const sup_child *c = &s->children[w->which];
    char how[128];
    if (sup_stopping(s)) {
        snprintf(why, size, "rpcrestd is stopping");
    } else if (!w->new_pid) {
        snprintf(why, size, "%s: the hand-over to a new process did not begin", c->name);
    } else if (strncmp(c->note, "hand-over", 9) == 0) { /* it ended, or timed out, as next */
        snprintf(why, size, "%s: %s", c->name, c->note);
    } else if (p && p->failed) { /* it had taken an ended old process's place */
        snprintf(why, size, "%s: the new pid %d was not ready within %g s (ready_timeout)",
                 c->name, (int)w->new_pid, c->policy.ready_timeout);
    } else if (!p && c->last_pid == w->new_pid) {
        sup_describe_status(c->last_status, how, sizeof(how));
        snprintf(why, size, "%s: the new pid %d %s before it was ready", c->name,
                 (int)w->new_pid, how);
    } else {
        snprintf(why, size, "%s: the new pid %d was stopped before it was ready", c->name,
                 (int)w->new_pid);
    }
}

/* 1 while the waiting reload's new process p may still take over: it is
 * about to start, it is the next process, or it has taken the place of an
 * old one that ended and is not ready yet. */
static int new_getting_ready(const sup_child *c, const sup_proc *p)
{
    if (c->handover_pending)
        return 1;
    if (!p)
        return 0;
    return p == c->next || (p == c->cur && p->ready_ms < 0 && p->term_ms < 0);
}

/* Puts back the gateway's socket of the running configuration, if the
 * waiting reload had given the new gateway a new one. */
static void restore_listen_fd(sup_state *s)
{
    sup_reload_wait *w = &s->reload;
    sup_child *gw = &s->children[RP_CHILD_GATEWAY];
    if (w->old_listen_fd < 0)
        return;
    if (gw->listen_fd >= 0)
        close(gw->listen_fd);
    gw->listen_fd = w->old_listen_fd;
    w->old_listen_fd = -1;
}

/* Ends a waiting reload that failed with `err`: its resources are given
 * back and waiting rpcrestctl clients told. */
static void reload_undone(sup_state *s, char *err, int64_t now)
{
    sup_reload_wait *w = &s->reload;
    rp_text reply = {0};
    unprepare(&w->prep);
    rp_config_free(w->cfg);
    w->cfg = NULL;
    for (int i = 0; i < RP_N_CHILDREN; i++) {
        sup_reload_view_free(w->views[i]);
        w->views[i] = NULL;
    }
    s->reloads_failed++;
    reload_not_done(s, "failed", err, &reply);
    sup_ctl_answer_waiting(&s->ctl, 1, reply.s ? reply.s : "", now);
    rp_text_free(&reply);
}

/* The waiting reload's new process p (NULL once ended) failed: it goes,
 * and the child is left as it was.  Writes what failed, and what serves
 * now, into err[size].  Returns 1 if the old process serves on. */
static int new_process_failed(sup_state *s, sup_proc *p, char *err, size_t size, int64_t now)
{
    sup_reload_wait *w = &s->reload;
    sup_child *c = &s->children[w->which];
    char why[1024];
    wait_failure(s, p, why, sizeof(why));
    if (p && p == c->next)
        sup_child_retire(c, p, now); /* stopping: it is not wanted any more */
    c->handover_pending = 0;
    c->policy.ready_timeout = w->ready_timeout;
    restore_listen_fd(s);
    if (sup_stopping(s)) { /* everything stops: nothing serves on */
        snprintf(err, size, "%s", why);
        return 1;
    }
    if (c->cur && c->cur->pid == w->old_pid) {
        int again = w->superseded;
        if (again) /* the restart asked for before the reload, which took its place */
            sup_restart_child(s, w->which, now);
        snprintf(err, size, "%s; %s pid %d keeps serving the running configuration%s", why,
                 c->name, (int)w->old_pid,
                 again ? " (the restart asked for before the reload starts again)" : "");
        return 1;
    }
    /* the new process had taken an ended old one's place and then refused
     * the new configuration (FATAL): that says nothing of the running one */
    int again = !c->cur && c->fatal && c->config_refused && c->last_pid == w->new_pid;
    if (again)
        sup_child_forgive(c, now);
    snprintf(err, size, "%s; pid %d, which ran the running configuration, ended during the "
             "hand-over: no %s serves now%s", why, (int)w->old_pid, c->name,
             again ? " (a new one starts on the running configuration)" : "");
    return 0;
}

/* The new host of a reload's second stage: on trial (sup_proc.on_trial)
 * from the stage's start to its end. */
static void set_host_on_trial(sup_state *s, int on_trial)
{
    sup_proc *p = sup_child_find(&s->children[RP_CHILD_HOST], s->reload.host_new_pid);
    if (p)
        p->on_trial = on_trial;
}

/* The second stage failed: the host the new one took over from, parked
 * since, serves again (or, if it has ended, the host is handed over to a
 * new process on the running configuration).  Says which into note[size]. */
static void give_host_back(sup_state *s, char *note, size_t size, int64_t now)
{
    sup_reload_wait *w = &s->reload;
    sup_child *h = &s->children[RP_CHILD_HOST];
    pid_t old = w->host_old_pid, new = w->host_new_pid;
    set_host_on_trial(s, 0);
    w->host_old_pid = w->host_new_pid = 0; /* from here on the host gets the running one */
    /* the new host, or its restart after a crash, or none (in backoff) */
    pid_t serving = h->cur ? h->cur->pid : 0;
    if (sup_stopping(s)) {
        note[0] = '\0';
    } else if (sup_child_take_back(h, old, &s->log, now) == 0) {
        /* the path may point at the new host's socket, which the new host
         * removes as it ends, or at a dead one's: publish the old one's now
         * and again once the new one has ended */
        s->host_given_back = serving;
        sup_host_republish(s);
        if (serving)
            snprintf(note, size, "; %s pid %d serves again (pid %d, which had taken over from "
                     "it, stops)", h->name, (int)old, (int)serving);
        else
            snprintf(note, size, "; %s pid %d serves again (pid %d, which had taken over from "
                     "it, has ended)", h->name, (int)old, (int)new);
    } else {
        sup_log(&s->log, "%s pid %d has ended since pid %d took over from it: handing over "
                "to a new process on the running configuration", h->name, (int)old, (int)new);
        sup_restart_child(s, RP_CHILD_HOST, now);
        snprintf(note, size, "; %s is handed over to a new process on the running "
                 "configuration (pid %d, which ran it, has ended)", h->name, (int)old);
    }
}

/* The waiting reload has failed: its new process did not take over. */
static void reload_failed(sup_state *s, sup_proc *p, int64_t now)
{
    char err[2048], host[256] = "";
    int second_stage = s->reload.host_old_pid != 0;
    int old_serves = new_process_failed(s, p, err, sizeof(err), now);
    if (second_stage)
        give_host_back(s, host, sizeof(host), now);
    else if (s->reload.which == RP_CHILD_HOST && old_serves && !sup_stopping(s))
        snprintf(host, sizeof(host), ", and rpcrest-gateway is not handed over");
    size_t len = strlen(err);
    snprintf(err + len, sizeof(err) - len, "%s", host);
    reload_undone(s, err, now);
}

/* In the second stage, 1 while the new host, which the new gateway is to
 * talk to, serves. */
static int new_host_serves(const sup_state *s)
{
    const sup_proc *p = s->children[RP_CHILD_HOST].cur;
    return p && p->pid == s->reload.host_new_pid && p->ready_ms >= 0 && p->term_ms < 0;
}

/* The new host ended (or is ending) in the second stage: the reload has
 * failed as if the new gateway had, for the gateway's new process would
 * talk to a host that runs the new configuration and does not hold.  The
 * gateway's new process (gw_new, or NULL) goes, the parked host serves
 * again, and the running configuration stays. */
static void host_lost_in_gateway_stage(sup_state *s, sup_proc *gw_new, int64_t now)
{
    sup_reload_wait *w = &s->reload;
    sup_child *h = &s->children[RP_CHILD_HOST];
    sup_child *gw = &s->children[RP_CHILD_GATEWAY];
    char err[2048], how[128], host[256] = "";
    if (h->last_pid == w->host_new_pid)
        sup_describe_status(h->last_status, how, sizeof(how));
    else
        snprintf(how, sizeof(how), "was stopped");
    snprintf(err, sizeof(err), "%s: the new pid %d %s before %s was handed over to it",
             h->name, (int)w->host_new_pid, how, gw->name);
    int took_over = gw_new && gw_new == gw->cur && gw_new->pid != w->old_pid;
    if (gw_new && gw_new == gw->next)
        sup_child_retire(gw, gw_new, now);
    gw->handover_pending = 0;
    gw->policy.ready_timeout = w->ready_timeout;
    restore_listen_fd(s);
    give_host_back(s, host, sizeof(host), now);
    if (took_over) /* in the same turn: a gateway on the running configuration replaces it */
        sup_restart_child(s, RP_CHILD_GATEWAY, now);
    size_t len = strlen(err);
    if (took_over)
        snprintf(err + len, sizeof(err) - len, "; %s is handed over to a new process on the "
                 "running configuration%s", gw->name, host);
    else
        snprintf(err + len, sizeof(err) - len, "; %s pid %d keeps serving the running "
                 "configuration%s", gw->name, (int)w->old_pid, host);
    reload_undone(s, err, now);
}

/* The first stage of a reload that changed both parts is done: the new
 * host has taken over (the old one is parked, serving the old gateway).
 * The reload now waits for the gateway's new process, as wait_for_child
 * does; the new configuration takes effect once it is ready. */
static void begin_gateway_stage(sup_state *s, int64_t now)
{
    sup_reload_wait *w = &s->reload;
    sup_child *h = &s->children[RP_CHILD_HOST];
    sup_child *gw = &s->children[RP_CHILD_GATEWAY];
    h->policy.ready_timeout = w->ready_timeout; /* the running one, until applied */
    w->host_old_pid = w->old_pid;
    w->host_new_pid = w->new_pid;
    set_host_on_trial(s, 1);
    w->superseded = 0; /* the gateway's hand-over pending is the new host's, not a restart */
    w->which = RP_CHILD_GATEWAY;
    w->old_pid = gw->cur->pid; /* hands_over: there is one */
    w->new_pid = 0;
    if (w->prep.listen_fd >= 0) {
        w->old_listen_fd = gw->listen_fd;
        gw->listen_fd = w->prep.listen_fd;
        w->prep.listen_fd = -1;
    }
    w->ready_timeout = gw->policy.ready_timeout;
    gw->policy.ready_timeout = w->cfg->supervisor.child[RP_CHILD_GATEWAY].ready_timeout;
    sup_log(&s->log, "reload: %s: %s; handing over to a new process; the reload takes effect "
            "once it is ready (if it fails, %s pid %d serves again)", gw->name,
            w->why[RP_CHILD_GATEWAY], h->name, (int)w->host_old_pid);
    sup_restart_child(s, RP_CHILD_GATEWAY, now);
}

void sup_reload_progress(sup_state *s, int64_t now)
{
    sup_reload_wait *w = &s->reload;
    if (!w->cfg)
        return;
    sup_child *c = &s->children[w->which];
    sup_proc *p = w->new_pid ? sup_child_find(c, w->new_pid) : NULL;
    if (w->host_new_pid && !new_host_serves(s) && !sup_stopping(s)) {
        host_lost_in_gateway_stage(s, p, now);
        return;
    }
    int serving = p && p == c->cur && p->ready_ms >= 0 && p->term_ms < 0;
    if (!serving && new_getting_ready(c, p) && !sup_stopping(s))
        return;
    if (!serving) {
        reload_failed(s, p, now);
        return;
    }
    /* the gateway is handed over when its part changed, and when only the
     * host's did too (host_took_over: its new process talks to the new
     * host); either way the reload waits for it, so that once it is
     * answered, REST requests reach the new host as gRPC ones do */
    sup_child *gw = &s->children[RP_CHILD_GATEWAY];
    if (w->which == RP_CHILD_HOST && gw->next && !w->changed[RP_CHILD_GATEWAY] &&
        !sup_stopping(s))
        return; /* a hand-over under way (a restart): its new process takes the new host */
    if (w->which == RP_CHILD_HOST && (w->changed[RP_CHILD_GATEWAY] || gw->handover_pending) &&
        !sup_stopping(s) && hands_over(s, RP_CHILD_GATEWAY, w->cfg)) {
        if (!w->changed[RP_CHILD_GATEWAY])
            snprintf(w->why[RP_CHILD_GATEWAY], sizeof(w->why[RP_CHILD_GATEWAY]),
                     "the host it calls was handed over");
        begin_gateway_stage(s, now);
        return;
    }
    if (w->old_listen_fd >= 0) { /* the new gateway took over: the old socket is done */
        close(w->old_listen_fd);
        w->old_listen_fd = -1;
    }
    unsigned done = 1u << w->which;
    if (w->host_old_pid)
        done |= 1u << RP_CHILD_HOST;
    set_host_on_trial(s, 0);
    w->host_old_pid = w->host_new_pid = 0;
    rp_config *n = w->cfg;
    w->cfg = NULL;
    rp_text reply = {0};
    apply(s, n, w->views, &w->prep, w->changed, w->why, done, &reply);
    sup_ctl_answer_waiting(&s->ctl, 0, reply.s ? reply.s : "", now);
    rp_text_free(&reply);
}

