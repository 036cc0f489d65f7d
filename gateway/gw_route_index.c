/*
 * gw_route_index.c -- the route table's trie.  A node's literal segments
 * are edges ordered by their text (found while building through the keyed
 * name index, scoped by the parent node; then laid out node by node, for a
 * binary search), '*' one edge per node; a route is filed under the node
 * where its template ends, or where its '**' stands.  A lookup walks the
 * path's segments, following the literal and the '*' edge at each node,
 * so it visits each node at most once.
 */
#include "gw_route_index.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_names.h"
#include "gw_route.h"

/* ---- building -------------------------------------------------------------------- */

/* What a build keeps until the trie is laid out. */
typedef struct route_build {
    gw_route_index *x;
    size_t cap;       /* of x->nodes */
    size_t max_nodes;
    gw_names by_text; /* a literal's text in the scope of its parent -> the child */
} route_build;

/* Where a route is filed: under node, as ending there or as a rest. */
typedef struct route_place {
    size_t node;
    int rest;
} route_place;

/* Appends a node; returns its number, or SIZE_MAX when out of memory. */
static size_t new_node(route_build *b)
{
    gw_route_index *x = b->x;
    if (x->n_nodes == b->cap) {
        size_t n = b->cap ? b->cap * 2 : 16;
        gw_route_node *nodes = realloc(x->nodes, n * sizeof(*nodes));
        if (!nodes)
            return SIZE_MAX;
        x->nodes = nodes;
        b->cap = n;
    }
    x->nodes[x->n_nodes] = (gw_route_node){0};
    return x->n_nodes++;
}

/* The child of `node` for segment s, or GW_NAMES_NONE. */
static size_t child_of(const route_build *b, size_t node, const gw_segment *s)
{
    if (s->kind == GW_SEG_STAR)
        return b->x->nodes[node].star ? b->x->nodes[node].star : GW_NAMES_NONE;
    return gw_names_find_in(&b->by_text, node, s->literal, strlen(s->literal));
}

/* The child of `node` for segment s, made if missing; 0 when out of memory. */
static size_t child_for(route_build *b, size_t node, const gw_segment *s)
{
    size_t child = child_of(b, node, s);
    if (child != GW_NAMES_NONE)
        return child;
    child = new_node(b);
    if (child == SIZE_MAX)
        return 0;
    if (s->kind == GW_SEG_STAR)
        b->x->nodes[node].star = child;
    else if (gw_names_add_in(&b->by_text, node, s->literal, strlen(s->literal), child) < 0)
        return 0;
    return child;
}

/* Walks t's segments from the root, making the nodes it lacks while there
 * are fewer than max_nodes, into *place; -1 when out of memory.  Where the
 * walk stops early (a '**', or no more nodes to make), t is filed as a rest:
 * a candidate for every path that gets that far. */
static int place_template(route_build *b, const gw_template *t, route_place *place)
{
    size_t node = 0;
    for (size_t i = 0; i < t->n_segs; i++) {
        const gw_segment *s = &t->segs[i];
        if (s->kind == GW_SEG_STARSTAR || /* always the last segment */
            (b->x->n_nodes >= b->max_nodes && child_of(b, node, s) == GW_NAMES_NONE)) {
            *place = (route_place){node, 1};
            return 0;
        }
        node = child_for(b, node, s);
        if (!node)
            return -1;
    }
    *place = (route_place){node, 0};
    return 0;
}

/* Lays the routes' positions out node by node: each node's ends, then its
 * rests, each group in table order. */
static int lay_out_routes(gw_route_index *x, const route_place *place, size_t n)
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

/* Orders text a[0..alen) against b[0..blen): by length, then bytes. */
static int compare_text(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return memcmp(a, b, alen);
}

static int compare_edges(const void *pa, const void *pb)
{
    const gw_route_edge *a = pa, *b = pb;
    return compare_text(a->text, a->len, b->text, b->len);
}

/* Lays the literal edges out node by node, each node's in order, from the
 * build's name index. */
static int lay_out_edges(route_build *b)
{
    gw_route_index *x = b->x;
    const gw_names *by_text = &b->by_text;
    x->edges = malloc((by_text->n ? by_text->n : 1) * sizeof(*x->edges));
    if (!x->edges)
        return -1;
    for (size_t i = 0; i < by_text->cap; i++)
        if (by_text->slots[i].name)
            x->nodes[by_text->slots[i].scope].n_edges++;
    size_t at = 0;
    for (size_t k = 0; k < x->n_nodes; k++) {
        x->nodes[k].edges = at;
        at += x->nodes[k].n_edges;
        x->nodes[k].n_edges = 0;
    }
    for (size_t i = 0; i < by_text->cap; i++) {
        const gw_name_slot *sl = &by_text->slots[i];
        if (sl->name) {
            gw_route_node *nd = &x->nodes[sl->scope];
            x->edges[nd->edges + nd->n_edges++] = (gw_route_edge){sl->name, sl->len, sl->pos};
        }
    }
    x->n_edges = by_text->n;
    for (size_t k = 0; k < x->n_nodes; k++)
        qsort(x->edges + x->nodes[k].edges, x->nodes[k].n_edges, sizeof(*x->edges),
              compare_edges);
    return 0;
}

int gw_route_index_build(gw_route_index *x, const gw_route *routes, size_t n)
{
    *x = (gw_route_index)GW_ROUTE_INDEX_INIT;
    route_build b = {x, 0, 2 * n + 1024, GW_NAMES_INIT}; /* bounded whatever the templates */
    route_place *place = malloc((n ? n : 1) * sizeof(*place));
    int rc = place && new_node(&b) == 0 ? 0 : -1; /* the root */
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = place_template(&b, &routes[i].tmpl, &place[i]);
    if (rc == 0)
        rc = lay_out_routes(x, place, n);
    if (rc == 0)
        rc = lay_out_edges(&b);
    free(place);
    gw_names_free(&b.by_text);
    if (rc < 0)
        gw_route_index_free(x);
    return rc;
}

void gw_route_index_free(gw_route_index *x)
{
    free(x->nodes);
    free(x->edges);
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

/* The child of nd for the literal text[0..len), or 0: none. */
static size_t find_edge(const gw_route_index *x, const gw_route_node *nd, const char *text,
                        size_t len)
{
    const gw_route_edge *e = x->edges + nd->edges;
    size_t lo = 0, hi = nd->n_edges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare_text(e[mid].text, e[mid].len, text, len);
        if (c == 0)
            return e[mid].child;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
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
    size_t child = find_edge(w->x, nd, seg, len);
    if (child)
        visit(w, child, depth + 1);
    if (depth + 1 == w->n_segs && w->verb_cut != SIZE_MAX) { /* "name:verb" */
        child = find_edge(w->x, nd, seg, w->verb_cut);
        if (child)
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
    route_walk w; /* not zeroed: split_path sets the segments it uses */
    w.x = x;
    w.path = path;
    w.out = out;
    w.cap = cap;
    w.count = 0;
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
