/*
 * gw_names.c -- the index of names: open addressing with linear probing in
 * a table kept at most half full and doubled as it fills, so that adding n
 * names and finding them costs O(n) on average.  The hash is keyed
 * (rp_hash) with a key of the index's own, chosen at random: names an
 * upstream picks to collide under a known hash spread like any others.
 * A scope other than 0 is mixed into the key, so that one name in many
 * scopes spreads too.
 */
#include "gw_names.h"

#include <stdlib.h>
#include <string.h>

#define FIRST_CAP 64

/* The slot holding the name name[0..len) of scope and hash h, or the free
 * slot where it would go. */
static gw_name_slot *slot_for(gw_name_slot *slots, size_t cap, size_t scope, const char *name,
                              size_t len, uint64_t h)
{
    size_t mask = cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        gw_name_slot *s = &slots[i];
        if (!s->name || (s->hash == h && s->len == len && s->scope == scope &&
                         memcmp(s->name, name, len) == 0))
            return s;
    }
}

static uint64_t scoped_hash(const gw_names *x, size_t scope, const char *name, size_t len)
{
    rp_hash_key key = x->key;
    key.k[0] ^= (uint64_t)scope;
    return rp_hash(&key, name, len);
}

size_t gw_names_find_in(const gw_names *x, size_t scope, const char *name, size_t len)
{
    if (!x->cap)
        return GW_NAMES_NONE;
    const gw_name_slot *s =
        slot_for(x->slots, x->cap, scope, name, len, scoped_hash(x, scope, name, len));
    return s->name ? s->pos : GW_NAMES_NONE;
}

size_t gw_names_find_len(const gw_names *x, const char *name, size_t len)
{
    return gw_names_find_in(x, 0, name, len);
}

size_t gw_names_find(const gw_names *x, const char *name)
{
    return gw_names_find_len(x, name, strlen(name));
}

/* Moves every name into a table of twice the size (the first table: with
 * a new key). */
static int grow(gw_names *x)
{
    size_t cap = x->cap ? x->cap * 2 : FIRST_CAP;
    gw_name_slot *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -1;
    if (!x->cap)
        rp_hash_key_new(&x->key);
    for (size_t i = 0; i < x->cap; i++) {
        const gw_name_slot *s = &x->slots[i];
        if (s->name)
            *slot_for(slots, cap, s->scope, s->name, s->len, s->hash) = *s;
    }
    free(x->slots);
    x->slots = slots;
    x->cap = cap;
    return 0;
}

int gw_names_add_in(gw_names *x, size_t scope, const char *name, size_t len, size_t pos)
{
    if ((x->n + 1) * 2 > x->cap && grow(x) < 0)
        return -1;
    uint64_t h = scoped_hash(x, scope, name, len);
    gw_name_slot *s = slot_for(x->slots, x->cap, scope, name, len, h);
    if (!s->name) {
        *s = (gw_name_slot){name, len, scope, h, pos};
        x->n++;
    }
    return 0;
}

int gw_names_add(gw_names *x, const char *name, size_t pos)
{
    return gw_names_add_in(x, 0, name, strlen(name), pos);
}

/* The slot freed, each name after it in its run moves back into the hole
 * when the hole lies between its home slot and it, so that every name
 * stays reachable from its home without a gap (no tombstones). */
void gw_names_remove(gw_names *x, const char *name)
{
    if (!x->cap)
        return;
    size_t len = strlen(name), mask = x->cap - 1;
    gw_name_slot *s = slot_for(x->slots, x->cap, 0, name, len, scoped_hash(x, 0, name, len));
    if (!s->name)
        return;
    size_t hole = (size_t)(s - x->slots);
    for (size_t i = (hole + 1) & mask; x->slots[i].name; i = (i + 1) & mask) {
        size_t home = (size_t)x->slots[i].hash & mask;
        if (((i - home) & mask) >= ((i - hole) & mask)) { /* hole in [home, i) */
            x->slots[hole] = x->slots[i];
            hole = i;
        }
    }
    x->slots[hole] = (gw_name_slot){0};
    x->n--;
}

void gw_names_free(gw_names *x)
{
    free(x->slots);
    x->slots = NULL;
    x->cap = 0;
    x->n = 0;
}
