/*
 * host_type_names.c -- the full names of the messages and enums every
 * plugin's descriptor set defines, sorted, and clashes between files; see
 * host_type_names.h.
 */
#include "host_type_names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "host_protos.h"
#include "rp_log.h"

typedef Google__Protobuf__FileDescriptorSet file_set;
typedef Google__Protobuf__DescriptorProto message_proto;

typedef struct type_name {
    char *name;       /* "package.Outer.Inner" (malloc'ed) */
    const char *file; /* the .proto that defines it (in sets[plugin]) */
    size_t plugin;    /* index in ps->plugins */
} type_name;

typedef struct names {
    type_name *v;
    size_t n, cap;
    int oom;
} names;

static void add(names *ns, const char *scope, const char *name, const char *file, size_t plugin)
{
    if (ns->oom || !name)
        return;
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 64;
        type_name *grown = realloc(ns->v, cap * sizeof(*grown));
        if (!grown) {
            ns->oom = 1;
            return;
        }
        ns->v = grown, ns->cap = cap;
    }
    size_t len = strlen(scope) + strlen(name) + 2;
    char *full = malloc(len);
    if (!full) {
        ns->oom = 1;
        return;
    }
    snprintf(full, len, "%s%s%s", scope, *scope ? "." : "", name);
    ns->v[ns->n++] = (type_name){full, file, plugin};
}

/* m and what it nests (descriptor sets are at most RP_PB_MAX_DEPTH deep:
 * the host only loads sets it could unpack). */
static void add_message(names *ns, const char *scope, const message_proto *m, const char *file,
                        size_t plugin)
{
    add(ns, scope, m->name, file, plugin);
    if (ns->oom || !m->name)
        return;
    const char *full = ns->v[ns->n - 1].name;
    for (size_t i = 0; i < m->n_enum_type; i++)
        add(ns, full, m->enum_type[i]->name, file, plugin);
    for (size_t i = 0; i < m->n_nested_type; i++)
        add_message(ns, full, m->nested_type[i], file, plugin);
}

static int by_name(const void *a, const void *b)
{
    const type_name *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->plugin > y->plugin) - (x->plugin < y->plugin);
}

/* Logs the first clash in the sorted ns; 1 if there is one.  Names from
 * plugin index ps->n_plugins are the host's own (host_protos), which sort
 * after every plugin's. */
static int report_clash(const names *ns, const host_plugins *ps, const rp_config *cfg)
{
    for (size_t i = 1; i < ns->n; i++) {
        const type_name *a = &ns->v[i - 1], *b = &ns->v[i];
        if (strcmp(a->name, b->name) != 0 || strcmp(a->file, b->file) == 0)
            continue;
        const host_plugin *pa = &ps->plugins[a->plugin];
        if (b->plugin == ps->n_plugins) {
            rp_log("%s:%d: [service.%s] plugin %s: type %s (in %s) is also defined by the "
                   "host's own %s, which it serves (reflection, health): give your .proto a "
                   "package of its own", cfg->path, cfg->services[a->plugin].line,
                   pa->section, pa->path, a->name, a->file, b->file);
            return 1;
        }
        const host_plugin *pb = &ps->plugins[b->plugin];
        rp_log("%s:%d: [service.%s] plugin %s: type %s (in %s) is also defined by "
               "[service.%s] plugin %s (in %s): two .proto files may not define one full "
               "name (give the copy a package of its own)", cfg->path,
               cfg->services[b->plugin].line, pb->section, pb->path, b->name, b->file,
               pa->section, pa->path, a->file);
        return 1;
    }
    return 0;
}

/* The names of every file in set (NULL: none) as plugin index pi's. */
static void add_set(names *ns, const file_set *set, size_t pi)
{
    for (size_t fi = 0; set && fi < set->n_file; fi++) {
        const Google__Protobuf__FileDescriptorProto *f = set->file[fi];
        const char *pkg = f->package ? f->package : "";
        const char *file = f->name ? f->name : "(unnamed)";
        for (size_t i = 0; i < f->n_message_type; i++)
            add_message(ns, pkg, f->message_type[i], file, pi);
        for (size_t i = 0; i < f->n_enum_type; i++)
            add(ns, pkg, f->enum_type[i]->name, file, pi);
    }
}

/* One plugin's copy of a .proto file. */
typedef struct file_copy {
    const Google__Protobuf__FileDescriptorProto *f;
    size_t plugin; /* index in ps->plugins; ps->n_plugins: the host's own */
} file_copy;

static int by_file_name(const void *a, const void *b)
{
    const file_copy *x = a, *y = b;
    int c = strcmp(x->f->name, y->f->name);
    return c ? c : (x->plugin > y->plugin) - (x->plugin < y->plugin);
}

/* f as protoc wrote it, without its comments and their places and without
 * its file options (go_package, java_package …): two builds of one file
 * may differ there and serve alike; malloc'ed, NULL if out of memory. */
static uint8_t *packed_definitions(const Google__Protobuf__FileDescriptorProto *f, size_t *len)
{
    Google__Protobuf__FileDescriptorProto copy = *f;
    copy.source_code_info = NULL;
    copy.options = NULL;
    *len = google__protobuf__file_descriptor_proto__get_packed_size(&copy);
    uint8_t *out = malloc(*len ? *len : 1);
    if (out)
        google__protobuf__file_descriptor_proto__pack(&copy, out);
    return out;
}

/* Files published with protobuf, googleapis and gRPC, which every plugin
 * may carry in its own release: they change only compatibly (fields added
 * to descriptor.proto, options), so two releases serve alike, and no
 * plugin could rename them. */
static int is_published_file(const char *name)
{
    static const char *const prefixes[] = {"google/protobuf/", "google/api/", "google/rpc/",
                                           "google/type/", "grpc/"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

/* 1 if a and b define different things; -1 if out of memory. */
static int files_differ(const file_copy *a, const file_copy *b)
{
    size_t la, lb;
    uint8_t *pa = packed_definitions(a->f, &la), *pb = packed_definitions(b->f, &lb);
    int rc = !pa || !pb ? -1 : la != lb || memcmp(pa, pb, la) != 0;
    free(pa);
    free(pb);
    return rc;
}

static void log_file_clash(const file_copy *a, const file_copy *b, const host_plugins *ps,
                           const rp_config *cfg)
{
    const host_plugin *pb = &ps->plugins[b->plugin];
    if (b->plugin == ps->n_plugins) { /* the host's own sort last */
        rp_log("%s:%d: [service.%s] plugin %s: its %s is not the host's own %s, which it "
               "serves (reflection, health): name your file otherwise",
               cfg->path, cfg->services[a->plugin].line, ps->plugins[a->plugin].section,
               ps->plugins[a->plugin].path, a->f->name, b->f->name);
        return;
    }
    const host_plugin *pa = &ps->plugins[a->plugin];
    rp_log("%s:%d: [service.%s] plugin %s: its %s is not the %s of [service.%s] plugin %s: "
           "plugins may share a .proto file only when it is the same file (reflection serves "
           "one file of a name, and the gateway reads one); give one of them another name",
           cfg->path, cfg->services[b->plugin].line, pb->section, pb->path, b->f->name,
           a->f->name, pa->section, pa->path);
}

/* Logs the first file name two plugins (or a plugin and the host) use for
 * different files; 1 if there is one, -1 if out of memory. */
static int check_files(const file_set *const *sets, size_t n_sets, const host_plugins *ps,
                       const rp_config *cfg)
{
    size_t n = 0;
    for (size_t i = 0; i < n_sets; i++)
        n += sets[i] ? sets[i]->n_file : 0;
    file_copy *v = malloc((n ? n : 1) * sizeof(*v));
    if (!v)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n_sets; i++)
        for (size_t fi = 0; sets[i] && fi < sets[i]->n_file; fi++)
            if (sets[i]->file[fi]->name)
                v[k++] = (file_copy){sets[i]->file[fi], i};
    if (k)
        qsort(v, k, sizeof(*v), by_file_name);
    int rc = 0;
    for (size_t i = 1; i < k && !rc; i++) {
        if (strcmp(v[i - 1].f->name, v[i].f->name) != 0 || v[i - 1].plugin == v[i].plugin ||
            is_published_file(v[i].f->name))
            continue;
        rc = files_differ(&v[i - 1], &v[i]);
        if (rc == 1)
            log_file_clash(&v[i - 1], &v[i], ps, cfg);
    }
    free(v);
    return rc;
}

int host_type_names_check(const host_plugins *ps, const rp_config *cfg)
{
    names ns = {0};
    for (size_t pi = 0; pi < ps->n_plugins && !ns.oom; pi++) /* parsed at load, if any */
        add_set(&ns, (const file_set *)ps->plugins[pi].parsed_set, pi);
    /* the host's own, as plugin index n_plugins */
    const uint8_t *data;
    size_t len = host_protos_descriptor_set(&data);
    file_set *own = google__protobuf__file_descriptor_set__unpack(NULL, len, data);
    if (!own)
        ns.oom = 1; /* it is built in: nothing but memory can fail it */
    add_set(&ns, own, ps->n_plugins);
    int rc = 0;
    if (ns.oom) {
        rp_log("out of memory");
        rc = -1;
    } else {
        if (ns.n) /* v is NULL for none, which qsort must not get */
            qsort(ns.v, ns.n, sizeof(*ns.v), by_name);
        rc = report_clash(&ns, ps, cfg) ? -1 : 0;
    }
    if (rc == 0) {
        const file_set **sets = malloc((ps->n_plugins + 1) * sizeof(*sets));
        int files = -1;
        if (sets) {
            for (size_t pi = 0; pi < ps->n_plugins; pi++)
                sets[pi] = (const file_set *)ps->plugins[pi].parsed_set;
            sets[ps->n_plugins] = own;
            files = check_files(sets, ps->n_plugins + 1, ps, cfg);
            free(sets);
        }
        if (files < 0)
            rp_log("out of memory");
        rc = files ? -1 : 0;
    }
    for (size_t i = 0; i < ns.n; i++)
        free(ns.v[i].name);
    free(ns.v);
    if (own)
        google__protobuf__file_descriptor_set__free_unpacked(own, NULL);
    return rc;
}
