/*
 * host_reflection.h -- gRPC server reflection (grpc.reflection.v1 and
 * v1alpha ServerReflectionInfo) over the descriptor sets the plugins embed,
 * plus the descriptors of the host's own reflection and health protos.
 *
 * Owns the index (files, symbols, extensions), built once at start and
 * read-only afterwards; the calls themselves are host_bidi's.
 */
#ifndef HOST_REFLECTION_H
#define HOST_REFLECTION_H

#include <stddef.h>

#include "host_bidi.h"
#include "host_plugin.h"

#define HOST_REFLECTION_V1_SERVICE "grpc.reflection.v1.ServerReflection"
#define HOST_REFLECTION_V1ALPHA_SERVICE "grpc.reflection.v1alpha.ServerReflection"

typedef struct host_reflection host_reflection;

/*
 * Indexes the embedded descriptor set of every plugin of ps (a plugin
 * without one is logged once and contributes nothing) and the host's own.
 * Everything is copied: ps may go away first.  Returns NULL after logging
 * (out of memory only; a broken set is logged and skipped).
 */
host_reflection *host_reflection_create(const host_plugins *ps);

/* Frees r.  Only once no call of its methods is left (host_server_stop). */
void host_reflection_destroy(host_reflection *r);

/* Its methods (v1, v1alpha), for registration and requests: *n of them. */
host_bidi_method *host_reflection_methods(host_reflection *r, size_t *n);

#endif /* HOST_REFLECTION_H */
