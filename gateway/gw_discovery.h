/*
 * gw_discovery.h -- the gateway's server-reflection client: asks the
 * upstream gRPC server which services it serves and fetches their
 * descriptors (with every import) as one FileDescriptorSet, so the schema
 * can come from the upstream instead of from .pb files.  It does not build
 * the schema (gw_schema_load_buffers does) and keeps no state between calls.
 */
#ifndef GW_DISCOVERY_H
#define GW_DISCOVERY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_buf.h"
#include "gw_h2.h"

/* Flags for gw_discovery_fetch. */
enum {
    /* Also describe grpc.reflection.* and grpc.health.v1.Health, which are
     * left out by default. */
    GW_DISCOVERY_INTERNAL = 1u << 0,
    /* Wait (within the timeout) for the upstream to become reachable instead
     * of failing at once with UNAVAILABLE: for an upstream that is starting
     * at the same time as the gateway. */
    GW_DISCOVERY_WAIT_FOR_READY = 1u << 1,
};

/* The most files one fetch takes (each counted once, imports included):
 * far more than an API has, and the bound on the work an upstream's answers
 * can ask of the gateway.  An upstream that sends more fails the fetch. */
#define GW_DISCOVERY_MAX_FILES 10000

/* What a fetch found.  The caller owns it and releases it with
 * gw_discovery_result_free. */
typedef struct gw_discovery_result {
    gw_buf set;           /* serialized google.protobuf.FileDescriptorSet */
    size_t n_files;       /* files in `set`, each once, imports before importers */
    char **services;      /* full names of the services described, in the
                           * order the upstream listed them */
    size_t n_services;
    char **undescribed;   /* "NAME (why)" of each service the upstream lists
                           * but whose file it says it does not have
                           * (NOT_FOUND): left out, the others served */
    size_t n_undescribed;
    char **listed;        /* every service the upstream listed, the internal ones (which
                           * `services` leaves out unless asked for) and the
                           * undescribed ones too: what it serves */
    size_t n_listed;
    const char *protocol; /* "grpc.reflection.v1" or "grpc.reflection.v1alpha"
                           * (static) */
} gw_discovery_result;

/*
 * Fetches over server reflection the descriptors of every service the
 * upstream lists (except the reflection and health services, unless
 * GW_DISCOVERY_INTERNAL), with all their transitive imports, into res->set
 * as one FileDescriptorSet (files deduplicated by name; each file's bytes
 * exactly as the server sent them, so options such as google.api.http are
 * kept).  Speaks grpc.reflection.v1 and falls back to v1alpha when the
 * upstream answers UNIMPLEMENTED.
 *
 * Makes its calls on `client` (a client no loop serves, which the calling
 * thread drives with gw_h2_poll; not consumed), one stream a request, and
 * blocks the calling thread for about timeout_ms at most (timeout_ms <= 0:
 * no limit).  With GW_DISCOVERY_WAIT_FOR_READY a request that cannot
 * connect is sent again as the client's backoff allows.  When `cancel`
 * (may be NULL) becomes nonzero, the call is cancelled within about 50 ms
 * and the fetch fails ("reflection: cancelled …").
 *
 * The timeout and `cancel` also hold while the files received are taken
 * apart; more than GW_DISCOVERY_MAX_FILES files fail the fetch ("reflection:
 * the upstream sent more than 10000 files"), and so does a list of more
 * services than an API may have (GW_SCHEMA_MAX_SERVICES, gw_schema.h).
 *
 * Returns 0 with *res filled (an upstream with no service of its own gives
 * an empty set), or -1 with *res empty and "reflection: …" in err[errlen]
 * (the gRPC status name and the server's message included).
 */
int gw_discovery_fetch(gw_h2 *client, int64_t timeout_ms, unsigned flags,
                       const atomic_int *cancel, gw_discovery_result *res, char *err,
                       size_t errlen);

/*
 * The same on a client of its own to `target` (a gRPC target such as
 * "127.0.0.1:5505" or "unix:/path"; plaintext), closed before returning.
 */
int gw_discovery_fetch_target(const char *target, int64_t timeout_ms, unsigned flags,
                              gw_discovery_result *res, char *err, size_t errlen);

/* Releases what a successful fetch put in res and leaves it empty; safe on
 * an empty result. */
void gw_discovery_result_free(gw_discovery_result *res);

#endif /* GW_DISCOVERY_H */
