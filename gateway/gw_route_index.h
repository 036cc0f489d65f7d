/*
 * gw_route_index.h -- which routes of a route table may match a request
 * path, found without trying every route: a trie of the templates'
 * segments, built once with the table.  It only narrows the search: the
 * router still matches the routes it names, in table order, so the most
 * specific route wins exactly as when every route is tried.
 */
#ifndef GW_ROUTE_INDEX_H
#define GW_ROUTE_INDEX_H

#include <stddef.h>

struct gw_route;

typedef struct gw_route_node {
    size_t edges;       /* edges[edges .. edges + n_edges): its literal segments */
    size_t n_edges;
    size_t star;        /* the child for '*', or 0: none (0 is the root) */
    size_t ends;        /* routes[ends .. ends + n_ends): templates that end here */
    size_t n_ends;
    size_t rests;       /* routes[rests .. rests + n_rests): templates that may */
    size_t n_rests;     /* match any path that reaches here: a '**' next, or a
                         * template the index did not follow further */
} gw_route_node;

/* A literal segment's edge; a node's are ordered by length, then bytes. */
typedef struct gw_route_edge {
    const char *text; /* the template's literal (not owned) */
    size_t len;
    size_t child;
} gw_route_edge;

typedef struct gw_route_index {
    gw_route_node *nodes; /* nodes[0] is the root: before the first segment */
    size_t n_nodes;
    gw_route_edge *edges;
    size_t n_edges;
    size_t *routes;       /* table positions, grouped by node, ascending in each group */
    size_t n_routes;
} gw_route_index;

#define GW_ROUTE_INDEX_INIT {NULL, 0, NULL, 0, NULL, 0}

/* Indexes routes[0..n); the templates' literal text must stay where it is
 * for as long as the index is used.  The trie has at most 2n + 1024 nodes,
 * whatever the templates: a template that would need more is filed where
 * the index stops following it.  Returns 0, or -1 when out of memory (x
 * is then empty). */
int gw_route_index_build(gw_route_index *x, const struct gw_route *routes, size_t n);
void gw_route_index_free(gw_route_index *x);

/* What gw_route_index_candidates returns when more than cap routes may
 * match: the caller then tries every route. */
#define GW_ROUTE_INDEX_MANY ((size_t)-1)

/*
 * The table positions of the routes whose templates may match the raw
 * path (no query string), ascending, into out[0..cap): as far as the trie
 * follows a template, the path's segments fit it (a literal's text, with a
 * custom verb the last segment's text before its last ':'); past that (a
 * '**', or the node bound) it is a candidate for every path that gets
 * there.  Returns how many, or GW_ROUTE_INDEX_MANY.  Every route that
 * matches the path is among them.
 */
size_t gw_route_index_candidates(const gw_route_index *x, const char *path, size_t *out,
                                 size_t cap);

#endif /* GW_ROUTE_INDEX_H */
