/*
 * gw_names.c -- the index of names: open addressing with linear probing in
 * a table kept at most half full and doubled as it fills, so that adding n
 * names and finding them costs O(n) on average.  The hash (FNV-1a) is not
 * keyed: names chosen to collide make lookups linear again, which is why a
 * caller taking names from a peer also bounds how many it takes.
 */
#include "gw_names.h"

#include <stdlib.h>
#include <string.h>

struct gw_name_slot {
    const char *name; /* NULL: free */
    size_t pos;
};

#define FIRST_CAP 64

static size_t hash(const char *name)
{
    uint64_t h = 14695981039346656037u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    return (size_t)(h ^ (h >> 32));
}

/* The slot holding `name`, or the free slot where it would go. */
static gw_name_slot *slot_for(gw_name_slot *slots, size_t cap, const char *name)
{
    size_t mask = cap - 1;
    for (size_t i = hash(name) & mask;; i = (i + 1) & mask)
        if (!slots[i].name || strcmp(slots[i].name, name) == 0)
            return &slots[i];
}

size_t gw_names_find(const gw_names *x, const char *name)
{
    if (!x->cap)
        return GW_NAMES_NONE;
    const gw_name_slot *s = slot_for(x->slots, x->cap, name);
    return s->name ? s->pos : GW_NAMES_NONE;
}

/* Moves every name into a table of twice the size. */
static int grow(gw_names *x)
{
    size_t cap = x->cap ? x->cap * 2 : FIRST_CAP;
    gw_name_slot *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i < x->cap; i++)
        if (x->slots[i].name)
            *slot_for(slots, cap, x->slots[i].name) = x->slots[i];
    free(x->slots);
    x->slots = slots;
    x->cap = cap;
    return 0;
}

int gw_names_add(gw_names *x, const char *name, size_t pos)
{
    if ((x->n + 1) * 2 > x->cap && grow(x) < 0)
        return -1;
    gw_name_slot *s = slot_for(x->slots, x->cap, name);
    if (!s->name) {
        s->name = name;
        s->pos = pos;
        x->n++;
    }
    return 0;
}

void gw_names_free(gw_names *x)
{
    free(x->slots);
    x->slots = NULL;
    x->cap = 0;
    x->n = 0;
}
