/*
 * gw_gen.h -- a generation of the gateway's API: one schema (descriptor
 * files given in the INI and/or what the upstream's server reflection
 * describes), its route table, and the upstream call handles of its
 * methods.  A generation is immutable once built; requests hold a
 * reference, so a new generation can replace it while they finish.  Its
 * methods' metrics (gw_method.stats, set when it is published) are
 * released when it is freed.
 */
#ifndef GW_GEN_H
#define GW_GEN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_route.h"
#include "gw_schema.h"
#include "gw_upstream.h"

typedef struct gw_gen {
    gw_schema *schema;
    gw_router router;
    char origin[256];  /* where the schema came from, for logs */
    uint64_t source_id; /* a hash of what it was built from (the files, reflection's
                         * answer); never 0 */
    int incomplete;    /* reflection was wanted and has not answered: a
                        * request no route matches may be for the API still
                        * to come (503, not 404) */
    atomic_int refs;
    pthread_mutex_t openapi_lock; /* guards the two below (gw_openapi_get) */
    uint8_t *openapi;             /* its OpenAPI document, once asked for */
    size_t openapi_len;
} gw_gen;

/* What to build a generation from. */
typedef struct gw_gen_source {
    const char *const *files;  /* FileDescriptorSet files */
    size_t n_files;
    int use_reflection;        /* also ask the upstream */
    int64_t reflection_timeout_ms;
    unsigned reflection_flags; /* GW_DISCOVERY_* */
    const atomic_int *cancel;  /* nonzero: stop waiting for reflection; may be NULL */
    gw_router_options routes;  /* which methods get routes */
    uint64_t unless_source;    /* not 0: when the sources are what gave this
                                * source_id, build nothing (the API has not changed) */
    uint64_t unless_refused;   /* likewise, for sources refused before */
} gw_gen_source;

/*
 * Loads the schema, builds the routes and prepares the upstream calls.
 * Returns a generation with one reference, or NULL with a reason in
 * err[errlen] ("FILE: …", "reflection: …" or a route error), or NULL with
 * err[0] == '\0' when the sources are src->unless_source's or
 * src->unless_refused's; then, if reflection_failed is not NULL,
 * *reflection_failed says whether asking the upstream was what failed (the
 * files alone may still make an API).  *source (if not NULL) is set to the
 * source_id of the sources read, or 0 when they could not be read.
 */
gw_gen *gw_gen_build(const gw_gen_source *src, gw_upstream *up, int *reflection_failed,
                     uint64_t *source, char *err, size_t errlen);

gw_gen *gw_gen_ref(gw_gen *g);
void gw_gen_unref(gw_gen *g);

#endif /* GW_GEN_H */
