/*
 * host_plugin.c -- service plugins: dlopen, the ABI check, validation
 * against the protoc-c service descriptors and the embedded descriptor set
 * (each method's request and response types and streaming kind), init and
 * fini.
 *
 * Every error is logged here, once, with the plugin's path: this is where
 * the context is known.  The caller only learns that loading failed.
 */
#include "host_plugin.h"

#include <ctype.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "host_health.h"
#include "host_reflection.h"
#include "host_type_names.h"
#include "rp_log.h"
#include "rp_pb_depth.h"
#include "rp_priv.h"

#define INIT_ERR_MAX 512

static const char *kind_name(rpcrest_method_kind kind)
{
    switch (kind) {
    case RPCREST_UNARY: return "unary";
    case RPCREST_SERVER_STREAMING: return "server-streaming";
    case RPCREST_CLIENT_STREAMING: return "client-streaming";
    case RPCREST_BIDI_STREAMING: return "bidirectional-streaming";
    }
    return "of an unknown kind";
}

/* The found magic as a printable C string literal body, in out[outlen]. */
static void describe_magic(const char *magic, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < RPCREST_MAGIC_SIZE && n + 5 < outlen; i++) {
        unsigned char c = (unsigned char)magic[i];
        if (c == '\0' && i == RPCREST_MAGIC_SIZE - 1)
            break; /* the terminator a well-formed magic ends with */
        if (isprint(c) && c != '"' && c != '\\')
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, outlen - n, "\\x%02x", c);
        out[n] = '\0';
    }
}

/* The magic, the ABI version and the struct size, in that order, before
 * anything else of the plugin is read. */
static int check_entry(const host_plugin *p, const rpcrest_plugin *e)
{
    if (memcmp(e->magic, RPCREST_MAGIC, RPCREST_MAGIC_SIZE) != 0) {
        char found[4 * RPCREST_MAGIC_SIZE + 1];
        describe_magic(e->magic, found, sizeof(found));
        rp_log("%s: not an rpcrest plugin: %s has magic \"%s\", expected \"%s\"", p->path,
                 RPCREST_ENTRY_NAME, found, RPCREST_MAGIC);
        return -1;
    }
    if (e->abi_version != RPCREST_ABI_VERSION) {
        rp_log("%s: plugin ABI version mismatch: expected %u, found %u", p->path,
                 RPCREST_ABI_VERSION, e->abi_version);
        return -1;
    }
    if (e->struct_size < sizeof(rpcrest_plugin)) {
        rp_log("%s: plugin struct size mismatch: expected at least %zu, found %u (ABI %u)",
                 p->path, sizeof(rpcrest_plugin), e->struct_size, RPCREST_ABI_VERSION);
        return -1;
    }
    if (e->n_services == 0 || !e->services) {
        rp_log("%s: plugin '%s' provides no services", p->path, e->name ? e->name : "?");
        return -1;
    }
    if (!e->descriptor_set != !e->descriptor_set_end ||
        e->descriptor_set_end < e->descriptor_set) {
        rp_log("%s: plugin '%s' has a malformed descriptor set range", p->path,
                 e->name ? e->name : "?");
        return -1;
    }
    return 0;
}

static int plugin_open(host_plugin *p)
{
    dlerror(); /* clear any earlier error */
    p->dl = dlopen(p->path, RTLD_NOW | RTLD_LOCAL);
    if (!p->dl) {
        rp_log("%s: cannot load plugin: %s", p->path, dlerror());
        return -1;
    }
    const rpcrest_plugin *e = dlsym(p->dl, RPCREST_ENTRY_NAME);
    if (!e) {
        const char *why = dlerror();
        rp_log("%s: not an rpcrest plugin: no %s symbol: %s", p->path, RPCREST_ENTRY_NAME,
                 why ? why : "the symbol is NULL");
        return -1;
    }
    if (check_entry(p, e) < 0)
        return -1;
    p->entry = e;
    p->descriptor_set = e->descriptor_set;
    p->descriptor_set_len = (size_t)(e->descriptor_set_end - e->descriptor_set);
    return 0;
}

/* Refuses a service full name that the host serves itself, or that an
 * earlier service (of this plugin or of an earlier one) already provides. */
static int check_service_unique(const host_plugins *ps, size_t pi, size_t si)
{
    const host_plugin *p = &ps->plugins[pi];
    const char *name = p->entry->services[si].descriptor->name;
    if (strcmp(name, HOST_HEALTH_SERVICE) == 0 || strcmp(name, HOST_REFLECTION_V1_SERVICE) == 0 ||
        strcmp(name, HOST_REFLECTION_V1ALPHA_SERVICE) == 0) {
        rp_log("%s ([service.%s]): service %s is the host's own (it serves %s, %s and %s "
               "itself)", p->path, p->section, name, HOST_HEALTH_SERVICE,
               HOST_REFLECTION_V1_SERVICE, HOST_REFLECTION_V1ALPHA_SERVICE);
        return -1;
    }
    for (size_t i = 0; i <= pi; i++) {
        const host_plugin *q = &ps->plugins[i];
        size_t n = i == pi ? si : q->entry->n_services;
        for (size_t j = 0; j < n; j++) {
            if (strcmp(q->entry->services[j].descriptor->name, name) != 0)
                continue;
            rp_log("%s ([service.%s]): service %s is already provided by %s ([service.%s])",
                     p->path, p->section, name, q->path, q->section);
            return -1;
        }
    }
    return 0;
}

/* One rpcrest_method entry against the descriptor; counts its handler. */
static int check_method(const host_plugin *p, const rpcrest_service *svc, size_t i,
                        unsigned *handlers)
{
    const ProtobufCServiceDescriptor *d = svc->descriptor;
    const rpcrest_method *m = &svc->methods[i];
    if (!m->name || !m->handler) {
        rp_log("%s: service %s: method entry %zu has no %s", p->path, d->name, i,
                 m->name ? "handler" : "name");
        return -1;
    }
    const ProtobufCMethodDescriptor *md = protobuf_c_service_descriptor_get_method_by_name(d,
                                                                                  m->name);
    if (!md) {
        rp_log("%s: service %s has no method '%s'", p->path, d->name, m->name);
        return -1;
    }
    if (m->kind != RPCREST_UNARY && m->kind != RPCREST_SERVER_STREAMING) {
        rp_log("%s: method /%s/%s is %s; this host serves unary and server-streaming "
                 "methods only", p->path, d->name, m->name, kind_name(m->kind));
        return -1;
    }
    if (handlers[md - d->methods]++) {
        rp_log("%s: method /%s/%s has more than one handler", p->path, d->name, m->name);
        return -1;
    }
    return 0;
}

static int declared_kind(const host_plugin *p, const char *service, const char *method,
                         rpcrest_method_kind *kind);

static int message_descriptor_ok(const ProtobufCMessageDescriptor *m)
{
    return m && m->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC && m->name;
}

/* Whether everything of a (perhaps hand-built) protoc-c service descriptor
 * that the host reads is there: its name, its methods with their names and
 * message descriptors, and the by-name index that
 * protobuf_c_service_descriptor_get_method_by_name searches (each method
 * once, in name order).  If not, says what is wrong in why[whylen]. */
static int descriptor_ok(const ProtobufCServiceDescriptor *d, size_t si, char *why,
                         size_t whylen)
{
    if (!d || d->magic != PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC) {
        snprintf(why, whylen, "service entry %zu: %s", si,
                 d ? "wrong magic" : "the descriptor is NULL");
        return 0;
    }
    if (!d->name) {
        snprintf(why, whylen, "service entry %zu: its name is NULL", si);
        return 0;
    }
    if (d->n_methods > 0 && (!d->methods || !d->method_indices_by_name)) {
        snprintf(why, whylen, "service %s: %s is NULL", d->name,
                 d->methods ? "method_indices_by_name" : "methods");
        return 0;
    }
    for (unsigned i = 0; i < d->n_methods; i++) {
        const ProtobufCMethodDescriptor *md = &d->methods[i];
        if (!md->name) {
            snprintf(why, whylen, "service %s: method %u has no name", d->name, i);
            return 0;
        }
        if (!message_descriptor_ok(md->input) || !message_descriptor_ok(md->output)) {
            snprintf(why, whylen, "service %s: method %s: its %s is not a protoc-c message "
                     "descriptor", d->name, md->name,
                     message_descriptor_ok(md->input) ? "output" : "input");
            return 0;
        }
    }
    for (unsigned i = 0; i < d->n_methods; i++) {
        unsigned at = d->method_indices_by_name[i];
        if (at >= d->n_methods ||
            (i > 0 && strcmp(d->methods[d->method_indices_by_name[i - 1]].name,
                             d->methods[at].name) >= 0)) {
            snprintf(why, whylen, "service %s: method_indices_by_name does not list its "
                     "methods in name order", d->name);
            return 0;
        }
    }
    return 1;
}

/* Every entry names a method of the descriptor with a kind the host serves,
 * and every method of the descriptor has exactly one handler. */
static int check_service(const host_plugin *p, size_t si, const rpcrest_service *svc)
{
    const ProtobufCServiceDescriptor *d = svc->descriptor;
    char why[256];
    if (!descriptor_ok(d, si, why, sizeof(why))) {
        rp_log("%s: a service has no valid protoc-c service descriptor: %s", p->path, why);
        return -1;
    }
    if (svc->n_methods > 0 && !svc->methods) {
        rp_log("%s: service %s: methods is NULL", p->path, d->name);
        return -1;
    }
    unsigned *handlers = calloc(d->n_methods + 1, sizeof(*handlers));
    if (!handlers) {
        rp_log("%s: out of memory", p->path);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < svc->n_methods && rc == 0; i++)
        rc = check_method(p, svc, i, handlers);
    for (unsigned i = 0; i < d->n_methods && rc == 0; i++) {
        if (handlers[i] != 0)
            continue;
        rpcrest_method_kind kind;
        if (declared_kind(p, d->name, d->methods[i].name, &kind) == 0 &&
            kind != RPCREST_UNARY && kind != RPCREST_SERVER_STREAMING)
            rp_log("%s: method /%s/%s is %s in its .proto; this host serves unary and "
                   "server-streaming methods only, so it cannot serve service %s (a handler "
                   "would not help: move the method to a service of its own)",
                   p->path, d->name, d->methods[i].name, kind_name(kind), d->name);
        else
            rp_log("%s: method /%s/%s has no handler", p->path, d->name, d->methods[i].name);
        rc = -1;
    }
    free(handlers);
    return rc;
}

/* Appends the methods of a checked service to the table. */
static int add_methods(host_plugins *ps, const host_plugin *p, const rpcrest_service *svc)
{
    const ProtobufCServiceDescriptor *d = svc->descriptor;
    host_method *grown = realloc(ps->methods, (ps->n_methods + svc->n_methods) * sizeof(*grown));
    if (!grown) {
        rp_log("%s: out of memory", p->path);
        return -1;
    }
    ps->methods = grown;
    for (size_t i = 0; i < svc->n_methods; i++) {
        const ProtobufCMethodDescriptor *md =
            protobuf_c_service_descriptor_get_method_by_name(d, svc->methods[i].name);
        host_method *m = &ps->methods[ps->n_methods];
        memset(m, 0, sizeof(*m)); /* realloc leaves it as it was: stats, mistake_logged */
        if (asprintf(&m->path, "/%s/%s", d->name, md->name) < 0) {
            rp_log("%s: out of memory", p->path);
            return -1;
        }
        m->input = md->input;
        m->output = md->output;
        m->handler = svc->methods[i].handler;
        m->kind = svc->methods[i].kind;
        m->plugin = p;
        m->index = ps->n_methods++;
    }
    return 0;
}

/* ---- the embedded descriptor set ---------------------------------------- */

typedef Google__Protobuf__FileDescriptorSet file_set;
typedef Google__Protobuf__ServiceDescriptorProto service_proto;
typedef Google__Protobuf__MethodDescriptorProto method_proto;

/* The service called `full` ("package.Service") in the set, or NULL. */
static const service_proto *find_service(const file_set *set, const char *full)
{
    for (size_t f = 0; f < set->n_file; f++) {
        const Google__Protobuf__FileDescriptorProto *file = set->file[f];
        const char *pkg = file->package ? file->package : "";
        size_t plen = strlen(pkg);
        const char *name = full;
        if (plen) {
            if (strncmp(full, pkg, plen) != 0 || full[plen] != '.')
                continue;
            name = full + plen + 1;
        }
        for (size_t s = 0; s < file->n_service; s++) {
            if (file->service[s]->name && strcmp(file->service[s]->name, name) == 0)
                return file->service[s];
        }
    }
    return NULL;
}

static rpcrest_method_kind proto_kind(const method_proto *m)
{
    if (m->client_streaming)
        return m->server_streaming ? RPCREST_BIDI_STREAMING : RPCREST_CLIENT_STREAMING;
    return m->server_streaming ? RPCREST_SERVER_STREAMING : RPCREST_UNARY;
}

/* The method called `name` of service sp in the set, or NULL. */
static const method_proto *find_method(const service_proto *sp, const char *name)
{
    for (size_t j = 0; j < sp->n_method; j++) {
        if (sp->method[j]->name && strcmp(sp->method[j]->name, name) == 0)
            return sp->method[j];
    }
    return NULL;
}

/* The kind the plugin's embedded set gives method of service (full name) in
 * *kind: 0, or -1 when there is no set or it lacks the method. */
static int declared_kind(const host_plugin *p, const char *service, const char *method,
                         rpcrest_method_kind *kind)
{
    const service_proto *sp =
        p->parsed_set ? find_service((const file_set *)p->parsed_set, service) : NULL;
    const method_proto *mp = sp ? find_method(sp, method) : NULL;
    if (!mp)
        return -1;
    *kind = proto_kind(mp);
    return 0;
}

/* Parses the plugin's embedded set, once, into p->parsed_set.  A plugin
 * built without a set (two NULLs) has none. */
static int parse_set(host_plugin *p)
{
    if (!p->descriptor_set)
        return 0;
    if (!rp_pb_depth_ok(&google__protobuf__file_descriptor_set__descriptor, p->descriptor_set,
                        p->descriptor_set_len)) {
        rp_log("%s: the embedded descriptor set nests messages more than %d deep", p->path,
               RP_PB_MAX_DEPTH);
        return -1;
    }
    file_set *set = google__protobuf__file_descriptor_set__unpack(
        NULL, p->descriptor_set_len, p->descriptor_set);
    if (!set) {
        rp_log("%s: the embedded descriptor set is not a valid FileDescriptorSet", p->path);
        return -1;
    }
    p->parsed_set = &set->base;
    return 0;
}

/* Whether a type name of the set (".package.Message") names message d. */
static int same_message(const char *set_type, const ProtobufCMessageDescriptor *d)
{
    return set_type && set_type[0] == '.' && strcmp(set_type + 1, d->name) == 0;
}

/* One method of service d against the .proto's, as the embedded set's
 * service sp says: the set has it, with the same request and response
 * types and the kind the plugin declares. */
static int check_method_in_set(const host_plugin *p, const ProtobufCServiceDescriptor *d,
                               const service_proto *sp, const rpcrest_method *m)
{
    const ProtobufCMethodDescriptor *md = protobuf_c_service_descriptor_get_method_by_name(d,
                                                                                  m->name);
    const method_proto *mp = find_method(sp, m->name);
    if (!mp) {
        rp_log("%s: method /%s/%s is not in the plugin's embedded descriptor set", p->path,
               d->name, m->name);
        return -1;
    }
    int input_ok = same_message(mp->input_type, md->input);
    if (!input_ok || !same_message(mp->output_type, md->output)) {
        const char *verb = input_ok ? "returns" : "takes";
        const char *in_set = input_ok ? mp->output_type : mp->input_type;
        rp_log("%s: method /%s/%s %s %s in its .proto, but the plugin's code %s %s", p->path,
               d->name, m->name, verb, in_set ? in_set + (in_set[0] == '.') : "?", verb,
               input_ok ? md->output->name : md->input->name);
        return -1;
    }
    if (proto_kind(mp) != m->kind) {
        rp_log("%s: method /%s/%s is %s in its .proto, but the plugin declares it %s", p->path,
               d->name, m->name, kind_name(proto_kind(mp)), kind_name(m->kind));
        return -1;
    }
    return 0;
}

/* Each service and method of the plugin against the .proto's, as the
 * embedded set says.  A plugin built without a set is taken at its word. */
static int check_against_set(const host_plugin *p)
{
    if (!p->parsed_set)
        return 0;
    const file_set *set = (const file_set *)p->parsed_set;
    for (size_t si = 0; si < p->entry->n_services; si++) {
        const rpcrest_service *svc = &p->entry->services[si];
        const service_proto *sp = find_service(set, svc->descriptor->name);
        if (!sp) {
            rp_log("%s: service %s is not in the plugin's embedded descriptor set", p->path,
                   svc->descriptor->name);
            return -1;
        }
        for (size_t i = 0; i < svc->n_methods; i++) {
            if (check_method_in_set(p, svc->descriptor, sp, &svc->methods[i]) < 0)
                return -1;
        }
    }
    return 0;
}

/* Opens and validates plugin pi, and adds its methods to the table. */
static int plugin_load(host_plugins *ps, size_t pi)
{
    host_plugin *p = &ps->plugins[pi];
    if (plugin_open(p) < 0 || parse_set(p) < 0) /* the set first: the checks consult it */
        return -1;
    for (size_t si = 0; si < p->entry->n_services; si++) {
        const rpcrest_service *svc = &p->entry->services[si];
        if (check_service(p, si, svc) < 0 || check_service_unique(ps, pi, si) < 0)
            return -1;
    }
    if (check_against_set(p) < 0)
        return -1;
    for (size_t si = 0; si < p->entry->n_services; si++) {
        if (add_methods(ps, p, &p->entry->services[si]) < 0)
            return -1;
    }
    return 0;
}

/* The table behind host_plugins_descriptor_sets. */
static int collect_sets(host_plugins *ps)
{
    ps->sets = calloc(ps->n_plugins + 1, sizeof(*ps->sets));
    if (!ps->sets) {
        rp_log("out of memory");
        return -1;
    }
    for (size_t i = 0; i < ps->n_plugins; i++) {
        const host_plugin *p = &ps->plugins[i];
        if (!p->descriptor_set)
            continue;
        host_descriptor_set *d = &ps->sets[ps->n_sets++];
        d->plugin = p->path;
        d->data = p->descriptor_set;
        d->len = p->descriptor_set_len;
        d->parsed = p->parsed_set;
    }
    return 0;
}

const host_descriptor_set *host_plugins_descriptor_sets(const host_plugins *ps, size_t *n)
{
    *n = ps->n_sets;
    return ps->sets;
}

/* Calls the plugin's init() with the other keys of its section (a refusal
 * is reported at the section's line of the INI at ini_path: most are about
 * those keys). */
static int plugin_init(host_plugin *p, const rp_service_conf *conf, const char *ini_path)
{
    if (!p->entry->init) {
        /* nothing reads them: a key meant for it (or mistyped) says so */
        for (size_t i = 0; i < conf->n_settings; i++)
            rp_log("%s:%d: [service.%s] %s: plugin %s has no init(), so this key is not "
                   "used", ini_path, conf->settings[i].line, p->section,
                   conf->settings[i].key, p->path);
        p->inited = 1;
        return 0;
    }
    rpcrest_setting *settings = calloc(conf->n_settings + 1, sizeof(*settings));
    if (!settings) {
        rp_log("%s: out of memory", p->path);
        return -1;
    }
    for (size_t i = 0; i < conf->n_settings; i++) {
        settings[i].key = conf->settings[i].key;
        settings[i].value = conf->settings[i].value;
    }
    char err[INIT_ERR_MAX] = "";
    int rc = p->entry->init(settings, conf->n_settings, &p->service_data, err, sizeof(err));
    free(settings);
    if (rc != 0) {
        err[sizeof(err) - 1] = '\0';
        rp_log("%s:%d: [service.%s] plugin %s: init failed: %s", ini_path, conf->line,
               p->section, p->path, err[0] ? err : "(no reason given)");
        return -1;
    }
    p->inited = 1;
    return 0;
}

int host_plugins_load(host_plugins *ps, const rp_config *cfg)
{
    memset(ps, 0, sizeof(*ps));
    if (cfg->n_services == 0) {
        rp_log("%s: no [service.NAME] section: nothing to serve", cfg->path);
        return -1;
    }
    ps->plugins = calloc(cfg->n_services, sizeof(*ps->plugins));
    if (!ps->plugins) {
        rp_log("out of memory");
        return -1;
    }
    ps->n_plugins = cfg->n_services;
    for (size_t i = 0; i < ps->n_plugins; i++) {
        ps->plugins[i].path = cfg->services[i].plugin;
        ps->plugins[i].section = cfg->services[i].name;
    }
    /* code that runs in this process: only root and this user may have
     * written it or be able to replace it (sshd's StrictModes) */
    for (size_t i = 0; i < ps->n_plugins; i++) {
        char why[PATH_MAX + 200];
        if (rp_priv_check_path(cfg->services[i].plugin, why, sizeof(why)) < 0) {
            rp_log("%s:%d: [service.%s] plugin %s refused: %s", cfg->path,
                   cfg->services[i].plugin_line, cfg->services[i].name,
                   cfg->services[i].plugin, why);
            goto fail;
        }
    }
    for (size_t i = 0; i < ps->n_plugins; i++) {
        if (plugin_load(ps, i) < 0)
            goto fail;
    }
    if (collect_sets(ps) < 0 || host_type_names_check(ps, cfg) < 0)
        goto fail;
    for (size_t i = 0; i < ps->n_plugins; i++) {
        if (plugin_init(&ps->plugins[i], &cfg->services[i], cfg->path) < 0)
            goto fail;
    }
    return 0;
fail:
    host_plugins_unload(ps);
    return -1;
}

void host_plugins_unload(host_plugins *ps)
{
    for (size_t i = ps->n_plugins; i-- > 0;) {
        host_plugin *p = &ps->plugins[i];
        if (p->inited && p->entry->fini)
            p->entry->fini(p->service_data);
        p->inited = 0;
    }
    for (size_t i = ps->n_plugins; i-- > 0;) {
        host_plugin *p = &ps->plugins[i];
        if (p->parsed_set)
            google__protobuf__file_descriptor_set__free_unpacked((file_set *)p->parsed_set,
                                                                 NULL);
        if (p->dl && dlclose(p->dl) != 0)
            rp_log("%s: dlclose: %s", p->path, dlerror());
        p->dl = NULL;
    }
    for (size_t i = 0; i < ps->n_methods; i++)
        free(ps->methods[i].path);
    free(ps->methods);
    free(ps->sets);
    free(ps->plugins);
    memset(ps, 0, sizeof(*ps));
}
