/*
 * gw_arena.h -- one request's memory: a bump allocator whose first block
 * lives inside the request record, so that a typical request (its gRPC
 * metadata, the response's header names and values, the array of encoded
 * messages) makes no malloc of its own.  What does not fit goes into
 * blocks of its own, malloc'ed on demand; everything is given back at
 * once by gw_arena_release when the request ends.  There is no free of
 * one allocation.  An arena is used by one thread at a time.
 */
#ifndef GW_ARENA_H
#define GW_ARENA_H

#include <stddef.h>

typedef struct gw_arena_block gw_arena_block;

typedef struct gw_arena {
    unsigned char *next;    /* first free byte of the current block */
    unsigned char *end;     /* end of the current block */
    gw_arena_block *blocks; /* the malloc'ed blocks, newest first */
    unsigned char *first;   /* the caller's block, and its size */
    size_t first_size;
    size_t allocated;       /* bytes malloc'ed beyond the first block (for tests) */
} gw_arena;

/* Starts an empty arena on first[0..size) (caller's memory, suitably
 * aligned; it may be NULL with size 0: every allocation then mallocs). */
void gw_arena_init(gw_arena *a, void *first, size_t size);

/* size bytes aligned for any type, not zeroed; NULL when out of memory. */
void *gw_arena_alloc(gw_arena *a, size_t size);

/* A copy of p[0..len) with a NUL after it; NULL when out of memory. */
char *gw_arena_strndup(gw_arena *a, const char *p, size_t len);

/* Frees the malloc'ed blocks; the arena is empty again, on its first block. */
void gw_arena_release(gw_arena *a);

#endif /* GW_ARENA_H */
