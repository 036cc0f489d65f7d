/*
 * sup_cmd.c -- what rpcrestd does when asked: rpcrestctl's status, start,
 * stop, restart and reload (carried out by sup_reload.c).
 *
 * Decides and records; the loop in sup_main.c carries hand-overs out and
 * reaps.  Every request is answered at once (a hand-over in progress shows
 * in `status`) but a reload that replaces a serving host or gateway: see
 * sup_reload.c.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup.h"

#define MAX_WORDS 4

/* ---- restarts ----------------------------------------------------------- */

int sup_can_handover(const sup_state *s, int which)
{
    return which == RP_CHILD_GATEWAY || strncmp(s->cfg->host.listen, "unix:", 5) != 0;
}

void sup_restart_child(sup_state *s, int which, int64_t now)
{
    sup_child *c = &s->children[which];
    sup_proc *cur = c->cur;
    if (cur && cur->ready_ms >= 0 && cur->term_ms < 0) {
        if (c->next) { /* a replacement for an older request: start over */
            sup_log(&s->log, "%s: pid %d, getting ready to take over for an earlier request "
                    "(restart or reload), gives way to a new process", c->name,
                    (int)c->next->pid);
            sup_child_retire(c, c->next, now);
        }
        c->handover_pending = 1;
        c->wanted = 1;
        return;
    }
    if (c->next)
        sup_child_retire(c, c->next, now);
    if (cur)
        sup_child_retire(c, cur, now); /* not serving yet: no hand-over to wait for */
    sup_child_forgive(c, now);
    c->start_after_retired = !sup_can_handover(s, which);
}

/* ---- status ------------------------------------------------------------------ */

/* "1:02:03", "3d 1:02:03" */
static void format_uptime(int64_t ms, char *buf, size_t size)
{
    long long s = ms / 1000;
    if (s >= 86400)
        snprintf(buf, size, "%lldd %lld:%02lld:%02lld", s / 86400, s % 86400 / 3600,
                 s % 3600 / 60, s % 60);
    else
        snprintf(buf, size, "%lld:%02lld:%02lld", s / 3600, s % 3600 / 60, s % 60);
}

static void format_exit(int status, char *buf, size_t size)
{
    if (status < 0)
        snprintf(buf, size, "-");
    else if (WIFEXITED(status))
        snprintf(buf, size, "status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status) && sigabbrev_np(WTERMSIG(status)))
        snprintf(buf, size, "SIG%s", sigabbrev_np(WTERMSIG(status)));
    else
        snprintf(buf, size, "wait status 0x%x", (unsigned)status);
}

/* The note shown after a child's line: a hand-over, a delay, a reason. */
static void child_note(const sup_state *s, const sup_child *c, sup_phase st, int64_t now,
                       char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
#define NOTE(...)                                                                     \
    do {                                                                              \
        if (n < size) {                                                               \
            int m_ = snprintf(buf + n, size - n, "%s", n ? "; " : "");                \
            if (m_ > 0)                                                               \
                n += (size_t)m_;                                                      \
            if (n < size && (m_ = snprintf(buf + n, size - n, __VA_ARGS__)) > 0)      \
                n += (size_t)m_;                                                      \
        }                                                                             \
    } while (0)
    if (c->next)
        NOTE("pid %d getting ready to take over", (int)c->next->pid);
    for (const sup_proc *p = c->retiring; p; p = p->next_retiring)
        NOTE(p->term_ms >= 0 ? "pid %d stopping" : "pid %d serving until the gateway has moved",
             (int)p->pid);
    if (st == SUP_BACKOFF)
        NOTE("restarting in %.1f s", (double)(c->next_start_ms - now) / 1000.0);
    if (c->handover_pending && c->cur && c == &s->children[RP_CHILD_GATEWAY] &&
        !sup_host_ready(s))
        NOTE("restarts once rpcrest-host is ready");
    if (st == SUP_STARTING && !c->cur && c != &s->children[RP_CHILD_HOST] &&
        !rp_config_gateway_alone(s->cfg)) {
        const sup_child *h = &s->children[RP_CHILD_HOST];
        if (sup_reload_waits(s))
            NOTE("waiting for the reload under way");
        else if (h->fatal && !h->cur)
            NOTE("waiting for rpcrest-host, which has failed: 'rpcrestctl start host' tries "
                 "again");
        else if (!h->wanted && !h->cur)
            NOTE("waiting for rpcrest-host, which is stopped");
        else
            NOTE("waiting for rpcrest-host to be ready");
    }
    if (c->note[0])
        NOTE("%s", c->note);
#undef NOTE
}

static int status(sup_state *s, int json, rp_text *reply)
{
    int64_t now = sup_now_ms();
    int all_running = 1, listed = 0; /* listed: children written so far (JSON commas) */
    if (json)
        rp_text_printf(reply, "{\"pid\":%d,\"config\":", (int)getpid());
    if (json)
        rp_text_json_string(reply, s->cfg->path);
    if (json)
        rp_text_printf(reply, ",\"children\":[");
    else
        rp_text_printf(reply, "%-16s %-9s %-8s %-10s %-8s %s\n", "NAME", "STATE", "PID",
                       "UPTIME", "RESTARTS", "LAST EXIT");
    for (int i = 0; i < RP_N_CHILDREN; i++) {
        if (!sup_child_runs(s, i))
            continue;
        const sup_child *c = &s->children[i];
        sup_phase st = sup_child_state(c, now);
        all_running &= st == SUP_RUNNING;
        unsigned restarts = c->starts > 0 ? c->starts - 1 : 0;
        char note[512], last[64], pid[16] = "-", uptime[32] = "-";
        child_note(s, c, st, now, note, sizeof(note));
        format_exit(c->last_status, last, sizeof(last));
        if (c->cur) {
            snprintf(pid, sizeof(pid), "%d", (int)c->cur->pid);
            format_uptime(now - c->cur->started_ms, uptime, sizeof(uptime));
        }
        if (!json) {
            rp_text_printf(reply, "%-16s %-9s %-8s %-10s %-8u %s%s%s\n", c->name,
                           sup_phase_name(st), pid, uptime, restarts, last,
                           note[0] ? "  " : "", note);
            continue;
        }
        rp_text_printf(reply, "%s{\"name\":\"%s\",\"state\":\"%s\",", listed++ ? "," : "",
                       c->name, sup_phase_name(st));
        if (c->cur)
            rp_text_printf(reply, "\"pid\":%d,\"uptime_seconds\":%.3f,", (int)c->cur->pid,
                           (double)(now - c->cur->started_ms) / 1000.0);
        else
            rp_text_printf(reply, "\"pid\":null,\"uptime_seconds\":null,");
        rp_text_printf(reply, "\"restarts\":%u,\"last_exit\":", restarts);
        if (c->last_status < 0)
            rp_text_printf(reply, "null");
        else if (WIFEXITED(c->last_status))
            rp_text_printf(reply, "{\"code\":%d}", WEXITSTATUS(c->last_status));
        else
            rp_text_printf(reply, "{\"signal\":\"SIG%s\",\"signal_number\":%d}",
                           sigabbrev_np(WTERMSIG(c->last_status))
                               ? sigabbrev_np(WTERMSIG(c->last_status))
                               : "?",
                           WTERMSIG(c->last_status));
        rp_text_printf(reply, ",\"fast_failures\":%d,\"note\":", c->fast_failures);
        rp_text_json_string(reply, note);
        rp_text_printf(reply, "}");
    }
    if (json)
        rp_text_printf(reply, "]}\n");
    return all_running ? 0 : 3; /* LSB: "program is not running" */
}

/* ---- requests ------------------------------------------------------------------- */

static int child_index(const char *name)
{
    static const char *const short_names[RP_N_CHILDREN] = {"host", "gateway"};
    static const char *const long_names[RP_N_CHILDREN] = {"rpcrest-host", "rpcrest-gateway"};
    for (int i = 0; i < RP_N_CHILDREN; i++)
        if (strcmp(name, short_names[i]) == 0 || strcmp(name, long_names[i]) == 0)
            return i;
    return -1;
}

/* How a gateway start or restart is put off by a waiting reload (start_due),
 * for the answer: "" when none waits. */
static const char *after_reload(const sup_state *s)
{
    return sup_reload_waits(s) && s->reload.which == RP_CHILD_HOST
               ? " once the reload under way is done"
               : "";
}

static int start_child(sup_state *s, sup_child *c, rp_text *reply)
{
    if (c->cur && c->cur->term_ms >= 0) { /* its end starts a new one */
        sup_log(&s->log, "rpcrestctl: starting %s once pid %d has stopped", c->name,
                (int)c->cur->pid);
        sup_child_forgive(c, sup_now_ms());
        rp_text_printf(reply, "starting %s once pid %d has stopped\n", c->name,
                       (int)c->cur->pid);
        return 0;
    }
    if (c->cur) {
        rp_text_printf(reply, "%s is already %s (pid %d)\n", c->name,
                       sup_phase_name(sup_child_state(c, sup_now_ms())), (int)c->cur->pid);
        return 0;
    }
    sup_log(&s->log, "rpcrestctl: starting %s%s", c->name, after_reload(s));
    sup_child_forgive(c, sup_now_ms());
    c->start_after_retired = 0;
    rp_text_printf(reply, "starting %s%s\n", c->name, after_reload(s));
    return 0;
}

static int stop_child(sup_state *s, sup_child *c, rp_text *reply)
{
    int64_t now = sup_now_ms();
    c->wanted = 0;
    c->fatal = 0;
    c->handover_pending = 0;
    c->next_start_ms = -1;
    c->note[0] = '\0';
    if (c->next)
        sup_child_retire(c, c->next, now);
    if (!c->cur) {
        rp_text_printf(reply, "%s is not running\n", c->name);
        return 0;
    }
    sup_log(&s->log, "rpcrestctl: stopping %s pid %d", c->name, (int)c->cur->pid);
    rp_text_printf(reply, "stopping %s (pid %d)\n", c->name, (int)c->cur->pid);
    sup_child_terminate(c->cur, now);
    return 0;
}

int sup_command(void *arg, const char *request, rp_text *reply)
{
    sup_state *s = arg;
    char copy[SUP_CTL_REQUEST_MAX];
    char *words[MAX_WORDS + 1];
    int n = 0;
    snprintf(copy, sizeof(copy), "%s", request);
    for (char *save, *w = strtok_r(copy, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
        if (n == MAX_WORDS) {
            rp_text_printf(reply, "rpcrestd: too many words in '%s'\n", request);
            return 1;
        }
        words[n++] = w;
    }
    if (n == 0) {
        rp_text_printf(reply, "rpcrestd: empty request\n");
        return 1;
    }
    const char *cmd = words[0];
    if (strcmp(cmd, "status") == 0 && (n == 1 || (n == 2 && strcmp(words[1], "--json") == 0)))
        return status(s, n == 2, reply);
    if (strcmp(cmd, "metrics") == 0 && n == 1) {
        sup_metrics(s, reply);
        return 0;
    }
    if (strcmp(cmd, "reload") == 0 && n == 1) {
        if (sup_stopping(s)) { /* as for SIGHUP: the children are going away */
            sup_log(&s->log, "rpcrestctl: reload while stopping; not reloading");
            rp_text_printf(reply, "rpcrestd is stopping; not reloading\n");
            return 1;
        }
        sup_log(&s->log, "rpcrestctl: reload");
        return sup_reload(s, reply);
    }
    int which = n == 2 ? child_index(words[1]) : -1;
    int named = strcmp(cmd, "start") == 0 || strcmp(cmd, "stop") == 0 ||
                strcmp(cmd, "restart") == 0;
    if (named && which < 0) {
        rp_text_printf(reply,
                       "rpcrestd: %s needs a child: rpcrest-host or rpcrest-gateway%s%s%s\n",
                       cmd, n == 2 ? " (not '" : "", n == 2 ? words[1] : "", n == 2 ? "')" : "");
        return 1;
    }
    if (sup_stopping(s) && named) {
        rp_text_printf(reply, "rpcrestd is stopping\n");
        return 1;
    }
    sup_child *c = which >= 0 ? &s->children[which] : NULL;
    if (named && which == RP_CHILD_HOST && rp_config_gateway_alone(s->cfg)) {
        rp_text_printf(reply, "rpcrestd: the configuration has [gateway] upstream and no "
                               "[service.*] section: the gateway runs alone, there is no "
                               "rpcrest-host\n");
        return 1;
    }
    if (named && sup_reload_holds(s, which)) {
        /* the reload's new process is starting (or, in its second stage,
         * the host it may give back): another would outrun it */
        rp_text_printf(reply, "rpcrestd: a reload is waiting for its new %s to get ready; try "
                              "again once it is done\n", s->children[s->reload.which].name);
        return 1;
    }
    if (strcmp(cmd, "start") == 0)
        return start_child(s, c, reply);
    if (strcmp(cmd, "stop") == 0)
        return stop_child(s, c, reply);
    if (strcmp(cmd, "restart") == 0) {
        sup_restart_child(s, which, sup_now_ms());
        char when[160] = "";
        if (which == RP_CHILD_GATEWAY && c->handover_pending && !sup_host_ready(s))
            snprintf(when, sizeof(when), " once %s is ready (pid %d serves until then)",
                     s->children[RP_CHILD_HOST].name, (int)c->cur->pid);
        sup_log(&s->log, "rpcrestctl: restarting %s%s%s", c->name, when, after_reload(s));
        rp_text_printf(reply, "restarting %s%s%s\n", c->name, when, after_reload(s));
        return 0;
    }
    rp_text_printf(reply, "rpcrestd: unknown request '%s' (known: status [--json], start NAME, "
                    "stop NAME, restart NAME, reload, metrics)\n", request);
    return 1;
}
