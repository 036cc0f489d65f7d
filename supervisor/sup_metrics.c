/*
 * sup_metrics.c -- rpcrestd's figures for `rpcrestctl metrics`, in the
 * Prometheus text format: rendered from the state on each request (the
 * counters live in sup_child and sup_state, updated by the one thread that
 * runs the supervisor).  Only the children the configuration runs have
 * series: no rpcrest-host when the gateway runs alone.
 */
#include <stdio.h>

#include "rp_metrics.h"
#include "sup.h"

static void per_child(rp_text *out, const sup_state *s, const char *name, const char *help,
                      const char *type, unsigned (*value)(const sup_child *))
{
    static const char *const labels[] = {"child", NULL};
    rp_metrics_header(out, name, help, type);
    for (int i = 0; i < RP_N_CHILDREN; i++) {
        if (!sup_child_runs(s, i))
            continue;
        const char *v[] = {s->children[i].name};
        rp_metrics_sample(out, name, labels, v, value(&s->children[i]));
    }
}

static unsigned starts(const sup_child *c) { return c->starts; }
static unsigned restarts(const sup_child *c) { return c->restarts; }
static unsigned fatals(const sup_child *c) { return c->fatals; }

void sup_metrics(const sup_state *s, rp_text *reply)
{
    static const char *const exit_labels[] = {"child", "outcome", NULL};
    static const char *const state_labels[] = {"child", "state", NULL};
    static const char *const result_label[] = {"result", NULL};
    static const sup_phase phases[] = {SUP_STOPPED, SUP_STARTING, SUP_RUNNING, SUP_BACKOFF,
                                       SUP_STOPPING, SUP_FATAL};
    int64_t now = sup_now_ms();
    per_child(reply, s, "rpcrest_supervisor_starts_total",
              "Processes started for each child (first start, restarts and hand-overs).",
              "counter", starts);
    per_child(reply, s, "rpcrest_supervisor_restarts_total",
              "Restarts after a child's process ended on its own (crash, exit, kill), each "
              "after its backoff delay.", "counter", restarts);
    per_child(reply, s, "rpcrest_supervisor_fatal_total",
              "Times a child was given up on (FATAL): after start_retries fast failures, or "
              "at once when it exited 78 before it was ready.",
              "counter", fatals);
    rp_metrics_header(reply, "rpcrest_supervisor_child_exits_total",
                      "Processes of each child that ended, by outcome: ok (status 0), error "
                      "(another status), config_error (status 78: the configuration was refused, "
                      "or for the host a plugin did not load), signal.", "counter");
    for (int i = 0; i < RP_N_CHILDREN; i++)
        for (int k = 0; k < SUP_N_EXITS && sup_child_runs(s, i); k++) {
            const char *v[] = {s->children[i].name, sup_exit_kind_names[k]};
            rp_metrics_sample(reply, "rpcrest_supervisor_child_exits_total", exit_labels, v,
                              s->children[i].exits[k]);
        }
    rp_metrics_header(reply, "rpcrest_supervisor_child_state",
                      "State of each child as rpcrestctl status shows it: 1 for the current "
                      "state, 0 for the others.", "gauge");
    for (int i = 0; i < RP_N_CHILDREN; i++) {
        if (!sup_child_runs(s, i))
            continue;
        sup_phase st = sup_child_state(&s->children[i], now);
        for (size_t k = 0; k < sizeof(phases) / sizeof(phases[0]); k++) {
            const char *v[] = {s->children[i].name, sup_phase_name(phases[k])};
            rp_metrics_sample(reply, "rpcrest_supervisor_child_state", state_labels, v,
                              st == phases[k]);
        }
    }
    rp_metrics_header(reply, "rpcrest_supervisor_child_up",
                      "1 while a child is RUNNING (started and ready), else 0.", "gauge");
    for (int i = 0; i < RP_N_CHILDREN; i++) {
        static const char *const labels[] = {"child", NULL};
        if (!sup_child_runs(s, i))
            continue;
        const char *v[] = {s->children[i].name};
        rp_metrics_sample(reply, "rpcrest_supervisor_child_up", labels, v,
                          sup_child_state(&s->children[i], now) == SUP_RUNNING);
    }
    rp_metrics_header(reply, "rpcrest_supervisor_reloads_total",
                      "Reloads (SIGHUP, rpcrestctl reload), by result: ok (applied), refused "
                      "(an error in the file, or a reload under way) or failed (a new host "
                      "or gateway was not ready); the running configuration stays unless ok.",
                      "counter");
    const char *ok[] = {"ok"}, *refused[] = {"refused"}, *failed[] = {"failed"};
    rp_metrics_sample(reply, "rpcrest_supervisor_reloads_total", result_label, ok, s->reloads_ok);
    rp_metrics_sample(reply, "rpcrest_supervisor_reloads_total", result_label, refused,
                      s->reloads_refused);
    rp_metrics_sample(reply, "rpcrest_supervisor_reloads_total", result_label, failed,
                      s->reloads_failed);
    rp_metrics_render_process(reply, "rpcrest_supervisor_");
}
