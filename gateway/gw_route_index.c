/*
 * gw_route_index.c -- the route table's trie.  A literal segment is an
 * edge named by its text (in the keyed name index, scoped by the parent
 * node), '*' one edge per node; a route is filed under the node where its
 * template ends, or where its '**' stands.  A lookup walks the path's
 * segments, following the literal and the '*' edge at each node, so it
 * visits each node at most once.
 */
#include "gw_route_index.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_route.h"

/* ---- building -------------------------------------------------------------------- */

/* Where a route is filed: under node, as ending there or as its '**'. */
typedef struct route_place {
    size_t node;
    int rest;
} route_place;

/* Appends a node; returns its number, or SIZE_MAX when out of memory. */
static size_t new_node(gw_route_index *x, size_t *cap)
{
    if (x->n_nodes == *cap) {
        size_t n = *cap ? *cap * 2 : 16;
        gw_route_node *nodes = realloc(x->nodes, n * sizeof(*nodes));
        if (!nodes)
            return SIZE_MAX;
        x->nodes = nodes;
        *cap = n;
    }
    x->nodes[x->n_nodes] = (gw_route_node){0};
    return x->n_nodes++;
}

/* The child of `node` for segment s, made if missing; 0 when out of memory. */
static size_t child_for(gw_route_index *x, size_t *cap, size_t node, const gw_segment *s)
{
    if (s->kind == GW_SEG_STAR) {
        if (!x->nodes[node].star) {
            size_t child = new_node(x, cap);
            if (child == SIZE_MAX)
                return 0;
            x->nodes[node].star = child;
        }
        return x->nodes[node].star;
    }
    size_t len = strlen(s->literal);
    size_t child = gw_names_find_in(&x->edges, node, s->literal, len);
    if (child != GW_NAMES_NONE)
        return child;
    child = new_node(x, cap);
    if (child == SIZE_MAX || gw_names_add_in(&x->edges, node, s->literal, len, child) < 0)
        return 0;
    return child;
}

/* 1 if node has the edge for segment s. */
static int has_child(const gw_route_index *x, size_t node, const gw_segment *s)
{
    if (s->kind == GW_SEG_STAR)
        return x->nodes[node].star != 0;
    return gw_names_find_in(&x->edges, node, s->literal, strlen(s->literal)) != GW_NAMES_NONE;
}

/* Walks t's segments from the root, making the nodes it lacks while there
 * are fewer than max_nodes, into *place; -1 when out of memory.  Where the
 * walk stops early (a '**', or no more nodes to make), t is filed as a rest:
 * a candidate for every path that gets that far. */
static int place_template(gw_route_index *x, size_t *cap, size_t max_nodes,
                          const gw_template *t, route_place *place)
{
    size_t node = 0;
    for (size_t i = 0; i < t->n_segs; i++) {
        const gw_segment *s = &t->segs[i];
        if (s->kind == GW_SEG_STARSTAR || /* always the last segment */
            (x->n_nodes >= max_nodes && !has_child(x, node, s))) {
            *place = (route_place){node, 1};
            return 0;
        }
        node = child_for(x, cap, node, s);
        if (!node)
            return -1;
    }
    *place = (route_place){node, 0};
    return 0;
}

/* Lays the routes' positions out node by node: each node's ends, then its
 * rests, each group in table order. */
static int lay_out(gw_route_index *x, const route_place *place, size_t n)
{
    x->routes = malloc((n ? n : 1) * sizeof(*x->routes));
    if (!x->routes)
        return -1;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) { /* counts first ... */
        gw_route_node *nd = &x->nodes[place[i].node];
        if (place[i].rest)
            nd->n_rests++;
        else
            nd->n_ends++;
    }
    for (size_t k = 0; k < x->n_nodes; k++) { /* ... then where each group starts */
        gw_route_node *nd = &x->nodes[k];
        nd->ends = at;
        nd->rests = at + nd->n_ends;
        at += nd->n_ends + nd->n_rests;
        nd->n_ends = nd->n_rests = 0;
    }
    for (size_t i = 0; i < n; i++) {
        gw_route_node *nd = &x->nodes[place[i].node];
        if (place[i].rest)
            x->routes[nd->rests + nd->n_rests++] = i;
        else
            x->routes[nd->ends + nd->n_ends++] = i;
    }
    x->n_routes = n;
    return 0;
}

int gw_route_index_build(gw_route_index *x, const gw_route *routes, size_t n)
{
    *x = (gw_route_index)GW_ROUTE_INDEX_INIT;
    size_t cap = 0;
    route_place *place = malloc((n ? n : 1) * sizeof(*place));
    int rc = place && new_node(x, &cap) == 0 ? 0 : -1; /* the root */
    size_t max_nodes = 2 * n + 1024; /* bounds the index whatever the templates */
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = place_template(x, &cap, max_nodes, &routes[i].tmpl, &place[i]);
    if (rc == 0)
        rc = lay_out(x, place, n);
    free(place);
    if (rc < 0)
        gw_route_index_free(x);
    return rc;
}

void gw_route_index_free(gw_route_index *x)
{
    gw_names_free(&x->edges);
    free(x->nodes);
    free(x->routes);
    *x = (gw_route_index)GW_ROUTE_INDEX_INIT;
}

/* ---- lookup ---------------------------------------------------------------------- */

typedef struct route_walk {
    const gw_route_index *x;
    const char *path;
    size_t start[GW_ROUTE_MAX_PATH_SEGMENTS + 1]; /* segment i: path[start[i] ..
                                                   * start[i+1]-1), as gw_template_match */
    size_t n_segs;
    size_t verb_cut; /* the last segment's length before its last ':', or SIZE_MAX */
    size_t *out;
    size_t cap;
    size_t count; /* GW_ROUTE_INDEX_MANY once more than cap were found */
} route_walk;

/* Adds the table positions routes[first .. first+n) to the walk's answer. */
static void take(route_walk *w, size_t first, size_t n)
{
    for (size_t i = 0; i < n && w->count != GW_ROUTE_INDEX_MANY; i++) {
        if (w->count == w->cap)
            w->count = GW_ROUTE_INDEX_MANY;
        else
            w->out[w->count++] = w->x->routes[first + i];
    }
}

/* Takes the routes of node, reached by the path's first `depth` segments,
 * and of the nodes below it that the rest of the path reaches. */
static void visit(route_walk *w, size_t node, size_t depth)
{
    if (w->count == GW_ROUTE_INDEX_MANY)
        return; /* the caller tries every route */
    const gw_route_node *nd = &w->x->nodes[node];
    take(w, nd->rests, nd->n_rests); /* '**' takes the rest, however short */
    if (depth == w->n_segs) {
        take(w, nd->ends, nd->n_ends);
        return;
    }
    const char *seg = w->path + w->start[depth];
    size_t len = w->start[depth + 1] - 1 - w->start[depth];
    size_t child = gw_names_find_in(&w->x->edges, node, seg, len);
    if (child != GW_NAMES_NONE)
        visit(w, child, depth + 1);
    if (depth + 1 == w->n_segs && w->verb_cut != SIZE_MAX) { /* "name:verb" */
        child = gw_names_find_in(&w->x->edges, node, seg, w->verb_cut);
        if (child != GW_NAMES_NONE)
            visit(w, child, depth + 1);
    }
    if (nd->star)
        visit(w, nd->star, depth + 1);
}

/* Splits w->path into segments as gw_template_match does; 0 if no
 * template can match it (no leading '/', too many segments). */
static int split_path(route_walk *w)
{
    const char *p = w->path;
    if (p[0] != '/')
        return 0;
    size_t len = strlen(p), n = 0;
    for (size_t i = 0; i < len; i++)
        if (p[i] == '/') {
            if (n == GW_ROUTE_MAX_PATH_SEGMENTS)
                return 0;
            w->start[n++] = i + 1;
        }
    w->start[n] = len + 1;
    w->n_segs = n;
    const char *last = p + w->start[n - 1];
    const char *colon = memrchr(last, ':', (size_t)(p + len - last));
    w->verb_cut = colon ? (size_t)(colon - last) : SIZE_MAX;
    return 1;
}

size_t gw_route_index_candidates(const gw_route_index *x, const char *path, size_t *out,
                                 size_t cap)
{
    if (!x->nodes)
        return GW_ROUTE_INDEX_MANY; /* not built: every route may match */
    route_walk w = {.x = x, .path = path, .out = out, .cap = cap};
    if (!split_path(&w))
        return 0;
    visit(&w, 0, 0);
    if (w.count == GW_ROUTE_INDEX_MANY)
        return w.count;
    for (size_t i = 1; i < w.count; i++) /* in table order; a handful, as a rule */
        for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
            size_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return w.count;
}
