/*
 * gw_names.h -- an index of names: the position of a name among those
 * added, found without comparing it with every other, for the loaders that
 * take many names from the upstream at once (reflection's answers,
 * descriptor sets, the services of an API, the route table's path
 * segments).  A name may be added within a scope, a number of the caller's
 * (the route index's trie node, say): the same name in two scopes is two
 * entries; the plain calls use scope 0.  It does not own the names: each
 * must stay where it is, unchanged, for as long as the index is used.
 */
#ifndef GW_NAMES_H
#define GW_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "rp_hash.h"

typedef struct gw_name_slot {
    const char *name; /* NULL: free */
    size_t len;
    size_t scope;
    uint64_t hash;
    size_t pos;
} gw_name_slot;

typedef struct gw_names {
    gw_name_slot *slots;
    size_t cap;       /* slots: 0, or a power of two at least twice n */
    size_t n;         /* names added */
    rp_hash_key key;  /* chosen at random when the first name is added */
} gw_names;

#define GW_NAMES_INIT {NULL, 0, 0, {{0, 0}}}

/* What gw_names_find returns for a name that was not added. */
#define GW_NAMES_NONE SIZE_MAX

/* The position `name` was added with, or GW_NAMES_NONE. */
size_t gw_names_find(const gw_names *x, const char *name);

/* The same for the len bytes at name (a part of a longer string). */
size_t gw_names_find_len(const gw_names *x, const char *name, size_t len);

/* Adds `name` (not copied) at position `pos`, which must not be
 * GW_NAMES_NONE; a name already added keeps its position.  Returns 0, or
 * -1 when out of memory (x is unchanged). */
int gw_names_add(gw_names *x, const char *name, size_t pos);

/* The position the len bytes at name were added with in `scope`, or
 * GW_NAMES_NONE. */
size_t gw_names_find_in(const gw_names *x, size_t scope, const char *name, size_t len);

/* gw_names_add for the len bytes at name, in `scope`. */
int gw_names_add_in(gw_names *x, size_t scope, const char *name, size_t len, size_t pos);

/* Takes `name` (of scope 0) out of the index (nothing if it is not there). */
void gw_names_remove(gw_names *x, const char *name);

/* Releases the index (not the names) and leaves it empty. */
void gw_names_free(gw_names *x);

#endif /* GW_NAMES_H */
