/*
 * sup_reload_view.c -- which child a new version of the INI changes.
 *
 * Each child's view of a configuration is a sorted list of
 * "[section] key" = value entries (the keys it depends on, policy keys left
 * out) plus "[service.NAME] plugin file" = dev:inode:size:mtime for the
 * files it loads.  Two views differ if the lists do.  A view is taken when
 * its configuration is loaded, so that the running one keeps the files'
 * identities from then: a file rebuilt in place since is a change.
 */
#include "sup_reload_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct entry {
    char *label; /* "[section] key" */
    char *value;
} entry;

typedef struct sup_reload_view {
    entry *items;
    size_t n;
    int oom;
} view;

static void add(view *v, const char *section, const char *key, const char *value)
{
    entry *grown = realloc(v->items, (v->n + 1) * sizeof(*grown));
    if (!grown) {
        v->oom = 1;
        return;
    }
    v->items = grown;
    entry *e = &v->items[v->n];
    if (asprintf(&e->label, "[%s] %s", section, key) < 0) {
        v->oom = 1;
        return;
    }
    e->value = strdup(value);
    if (!e->value) {
        free(e->label);
        v->oom = 1;
        return;
    }
    v->n++;
}

/* A file by identity, so that a rebuilt .so or .pb counts as a change. */
static void add_file(view *v, const char *section, const char *what, const char *path)
{
    if (!path)
        return;
    char key[64], id[160];
    struct stat st;
    snprintf(key, sizeof(key), "%s file", what);
    if (stat(path, &st) < 0)
        snprintf(id, sizeof(id), "%s (missing)", path);
    else
        snprintf(id, sizeof(id), "%lu:%lu:%lld:%lld.%09ld", (unsigned long)st.st_dev,
                 (unsigned long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec);
    add(v, section, key, id);
}

static int by_label(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int d = strcmp(x->label, y->label);
    return d ? d : strcmp(x->value, y->value);
}

static int is_service(const char *section)
{
    return strncmp(section, "service.", 8) == 0;
}

static void build(const rp_config *cfg, int which, view *v)
{
    const char *own = which == RP_CHILD_HOST ? "host" : "gateway";
    /* the gateway alone in front of another upstream: no host runs, and
     * the gateway does not use [host] listen */
    int alone = rp_config_gateway_alone(cfg);
    if (alone && which == RP_CHILD_HOST)
        return;
    for (size_t i = 0; i < cfg->n_raw; i++) {
        const rp_raw_key *r = &cfg->raw[i];
        int take = is_service(r->section) ||
                   (strcmp(r->section, own) == 0 && !rp_config_is_policy_key(r->key)) ||
                   (strcmp(r->section, "supervisor") == 0 &&
                    (strcmp(r->key, "user") == 0 || strcmp(r->key, "group") == 0)) ||
                   (which == RP_CHILD_GATEWAY && !alone && strcmp(r->section, "host") == 0 &&
                    strcmp(r->key, "listen") == 0);
        if (take)
            add(v, r->section, r->key, r->value);
    }
    /* the one restart-policy key a child reads: it plans its own stop to
     * end before the SIGKILL stop_timeout brings (from [supervisor] or its
     * own section), so a new value needs a new process, as supervisord's
     * stopwaitsecs does */
    /* labelled with the child's section wherever it is set: a value moved
     * from [supervisor] to the child's section unchanged is no change */
    char stop[32];
    snprintf(stop, sizeof(stop), "%g", cfg->supervisor.child[which].stop_timeout);
    add(v, own, "stop_timeout", stop);
    /* renewed certificates (same paths, new files) replace the child too */
    const rp_tls_conf *tls[2] = {which == RP_CHILD_HOST ? &cfg->host.tls : &cfg->gateway.tls,
                                 which == RP_CHILD_HOST ? NULL : &cfg->gateway.upstream_tls};
    for (int t = 0; t < 2; t++) {
        if (!tls[t])
            continue;
        add_file(v, own, t ? "upstream cert" : "cert", tls[t]->cert);
        add_file(v, own, t ? "upstream key" : "key", tls[t]->key);
        add_file(v, own, t ? "upstream ca" : "ca", tls[t]->ca);
    }
    for (size_t i = 0; i < cfg->n_services; i++) {
        const rp_service_conf *svc = &cfg->services[i];
        char section[300];
        snprintf(section, sizeof(section), "service.%s", svc->name);
        if (which == RP_CHILD_HOST)
            add_file(v, section, "plugin", svc->plugin);
        add_file(v, section, "descriptors", svc->descriptors);
    }
    for (size_t i = 0; which == RP_CHILD_GATEWAY && i < cfg->gateway.n_descriptors; i++)
        add_file(v, "gateway", "descriptors", cfg->gateway.descriptors[i]);
    if (v->items)
        qsort(v->items, v->n, sizeof(*v->items), by_label);
}

static void free_view(view *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free(v->items[i].label);
        free(v->items[i].value);
    }
    free(v->items);
}

/* 1 if any entry of v is in section "[name]". */
static int has_section(const view *v, const char *label)
{
    size_t n = strcspn(label, "]") + 1;
    for (size_t i = 0; i < v->n; i++)
        if (strncmp(v->items[i].label, label, n) == 0)
            return 1;
    return 0;
}

/* "[service.b] added" or "[gateway] listen added" for an entry only in one. */
static void describe_lonely(const entry *e, const view *other, const char *verb, char *why,
                            size_t whylen)
{
    if (has_section(other, e->label))
        snprintf(why, whylen, "%s %s", e->label, verb);
    else
        snprintf(why, whylen, "%.*s %s", (int)(strcspn(e->label, "]") + 1), e->label, verb);
}

sup_reload_view *sup_reload_view_of(const rp_config *cfg, int which)
{
    view *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    build(cfg, which, v);
    if (v->oom) {
        sup_reload_view_free(v);
        return NULL;
    }
    return v;
}

void sup_reload_view_free(sup_reload_view *v)
{
    if (!v)
        return;
    free_view(v);
    free(v);
}

int sup_reload_changed(const sup_reload_view *a, const sup_reload_view *b, char *why,
                       size_t whylen)
{
    if (!a || !b) {
        snprintf(why, whylen, "out of memory comparing the configurations");
        return 1;
    }
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        int d = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->items[i].label, b->items[j].label);
        if (d < 0) {
            describe_lonely(&a->items[i], b, "removed", why, whylen);
            return 1;
        }
        if (d > 0) {
            describe_lonely(&b->items[j], a, "added", why, whylen);
            return 1;
        }
        if (strcmp(a->items[i].value, b->items[j].value) != 0) {
            snprintf(why, whylen, "%s changed", a->items[i].label);
            return 1;
        }
        i++;
        j++;
    }
    return 0;
}
