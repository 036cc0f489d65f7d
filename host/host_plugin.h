/*
 * host_plugin.h -- service plugins: loading, ABI check, validation, init and
 * fini, the table of methods they provide, and their embedded descriptor
 * sets (for the reflection service).
 *
 * Owns the dlopen handles and the method table; knows nothing of gRPC.
 */
#ifndef HOST_PLUGIN_H
#define HOST_PLUGIN_H

#include <rpcrest/rpcrest.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "rp_config.h"

/* One [service.NAME] section's plugin. */
typedef struct host_plugin {
    const char *path;            /* absolute path of the .so (the config's) */
    const char *section;         /* NAME of [service.NAME] (the config's) */
    void *dl;                    /* dlopen handle, or NULL */
    const rpcrest_plugin *entry; /* its RPCREST_ENTRY, once checked */
    void *service_data;          /* what init() stored */
    int inited;                  /* init() succeeded: fini() is due */
    const uint8_t *descriptor_set; /* embedded FileDescriptorSet, or NULL */
    size_t descriptor_set_len;
    struct ProtobufCMessage *parsed_set; /* descriptor_set unpacked once at load (a
                                          * Google__Protobuf__FileDescriptorSet,
                                          * owned), or NULL */
} host_plugin;

/* One method the host serves. */
typedef struct host_method {
    char *path; /* "/package.Service/Method", owned by the table */
    const ProtobufCMessageDescriptor *input;
    const ProtobufCMessageDescriptor *output;
    rpcrest_handler handler;
    rpcrest_method_kind kind;  /* RPCREST_UNARY or RPCREST_SERVER_STREAMING */
    const host_plugin *plugin; /* for its service_data */
    struct host_method_stats *stats; /* its metrics (host_metrics.h), or NULL */
    atomic_int mistake_logged;  /* the plugin's first misuse of a call of this
                                 * method was logged (host_call.c) */
    size_t index;               /* in host_plugins.methods: its slot in per-method
                                 * tables (host_queue_calls.open) */
} host_method;

/* One plugin's embedded FileDescriptorSet: the serialized bytes of its
 * .proto files and everything they import (google/api, well-known types). */
typedef struct host_descriptor_set {
    const char *plugin;  /* path of the .so, for logs */
    const uint8_t *data; /* in the plugin's memory: valid until unload */
    size_t len;
    const struct ProtobufCMessage *parsed; /* the plugin's parsed_set */
} host_descriptor_set;

typedef struct host_plugins {
    host_plugin *plugins; /* one per cfg->services[i], in order */
    size_t n_plugins;
    host_method *methods; /* every method of every service */
    size_t n_methods;
    host_descriptor_set *sets; /* see host_plugins_descriptor_sets */
    size_t n_sets;
} host_plugins;

/*
 * Opens, checks and validates the plugin of every [service.NAME] of cfg in
 * order, then calls each init().  Returns 0, or -1 after logging one line
 * that names the plugin file and the reason; on -1 every plugin is already
 * finalized and closed.  cfg must outlive ps.
 */
int host_plugins_load(host_plugins *ps, const rp_config *cfg);

/*
 * Calls fini() of every initialized plugin (last first), dlcloses every
 * plugin and frees the table.  Call it only after the last call finished.
 */
void host_plugins_unload(host_plugins *ps);

/*
 * The embedded descriptor sets of the loaded plugins, in [service.NAME]
 * order, one per plugin that has one (every plugin built by rpcrest's
 * Makefile has); *n gets their number.  The array and the bytes belong to ps
 * and stay valid until host_plugins_unload.  Each set was parsed once at
 * load time (its nesting checked, the method kinds checked against it), so
 * it is a valid FileDescriptorSet that names every service of its plugin;
 * `parsed` is that parse, for readers that need the messages.
 */
const host_descriptor_set *host_plugins_descriptor_sets(const host_plugins *ps, size_t *n);

#endif /* HOST_PLUGIN_H */
