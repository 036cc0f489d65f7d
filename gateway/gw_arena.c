/*
 * gw_arena.c -- the per-request bump allocator (gw_arena.h).
 */
#include "gw_arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN alignof(max_align_t)
#define BLOCK_BYTES 4096 /* the least a new block holds */

struct gw_arena_block {
    gw_arena_block *next;
    alignas(max_align_t) unsigned char data[];
};

void gw_arena_init(gw_arena *a, void *first, size_t size)
{
    a->first = a->next = first;
    a->first_size = first ? size : 0;
    a->end = first ? a->first + size : NULL;
    a->blocks = NULL;
    a->allocated = 0;
}

static size_t round_up(size_t n)
{
    return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

void *gw_arena_alloc(gw_arena *a, size_t size)
{
    size_t need = round_up(size ? size : 1);
    if (need < size) /* wrapped */
        return NULL;
    if (a->next && (size_t)(a->end - a->next) >= need) {
        void *p = a->next;
        a->next += need;
        return p;
    }
    size_t cap = need > BLOCK_BYTES ? need : BLOCK_BYTES;
    if (cap > SIZE_MAX - sizeof(gw_arena_block))
        return NULL;
    gw_arena_block *b = malloc(sizeof(*b) + cap);
    if (!b)
        return NULL;
    b->next = a->blocks;
    a->blocks = b;
    a->allocated += cap;
    a->next = b->data + need;
    a->end = b->data + cap;
    return b->data;
}

char *gw_arena_strndup(gw_arena *a, const char *p, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *s = gw_arena_alloc(a, len + 1);
    if (!s)
        return NULL;
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

void gw_arena_release(gw_arena *a)
{
    gw_arena_block *b = a->blocks;
    while (b) {
        gw_arena_block *next = b->next;
        free(b);
        b = next;
    }
    gw_arena_init(a, a->first, a->first_size);
}
