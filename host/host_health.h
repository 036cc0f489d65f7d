/*
 * host_health.h -- grpc.health.v1.Health: Check and Watch for "" (the whole
 * server) and every service the host serves, SERVING until the host starts
 * draining, NOT_SERVING from then on.
 *
 * Owns the serving state and the list of open Watch calls; the calls
 * themselves are host_bidi's.
 */
#ifndef HOST_HEALTH_H
#define HOST_HEALTH_H

#include <stddef.h>

#include "host_bidi.h"
#include "host_plugin.h"

#define HOST_HEALTH_SERVICE "grpc.health.v1.Health"

typedef struct host_health host_health;

/*
 * The health service of the services of ps, plus the host's own ones
 * (health, reflection v1 and v1alpha); the names are copied.  Returns NULL
 * after logging.
 */
host_health *host_health_create(const host_plugins *ps);

/* Frees h.  Only once no call of its methods is left (host_server_stop). */
void host_health_destroy(host_health *h);

/* Its methods (Check, Watch), for registration and requests: *n of them. */
host_bidi_method *host_health_methods(host_health *h, size_t *n);

/*
 * From now on every service is NOT_SERVING: Check answers so, every open
 * Watch on a known service is sent NOT_SERVING, and every Watch then ends
 * with UNAVAILABLE ("the server is shutting down") so that none holds up the
 * drain.  Call it when the host starts draining (SIGTERM), before it stops
 * taking calls.  Idempotent; thread-safe; never blocks on the network.
 */
void host_health_set_draining(host_health *h);

/* Waits until every open Watch has sent everything it queued, or timeout_ms
 * passed.  For the shutdown order: call after host_health_set_draining and
 * before the calls are cancelled. */
void host_health_flush(host_health *h, int timeout_ms);

#endif /* HOST_HEALTH_H */
