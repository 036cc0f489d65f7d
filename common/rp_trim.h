/*
 * rp_trim.h -- giving memory back to the system once a thread falls idle.
 *
 * glibc keeps what a burst of requests freed (in every thread's arena, and
 * above its raised mmap threshold after large bodies) for the next burst;
 * an idle server then holds its peak.  Each event loop of the host and the
 * gateway keeps one rp_trim: busy after handling events, and once it has
 * had none for RP_TRIM_IDLE_MS it calls malloc_trim, once, which returns
 * the free pages of every arena.  A loop that stays idle wakes for nothing.
 *
 * Owns that policy only; the loops own their clocks and waits.
 */
#ifndef RP_TRIM_H
#define RP_TRIM_H

#include <stdint.h>

#define RP_TRIM_IDLE_MS 1000

typedef struct rp_trim {
    int64_t due_ms; /* when to trim if nothing happens meanwhile; -1: nothing to do */
} rp_trim;

#define RP_TRIM_INIT {-1}

/* The loop handled events at now_ms. */
static inline void rp_trim_busy(rp_trim *t, int64_t now_ms)
{
    t->due_ms = now_ms + RP_TRIM_IDLE_MS;
}

/* How long the loop may sleep before the trim is due: -1 (forever) when
 * none is, else 0 or more milliseconds. */
static inline int64_t rp_trim_wait_ms(const rp_trim *t, int64_t now_ms)
{
    if (t->due_ms < 0)
        return -1;
    return t->due_ms > now_ms ? t->due_ms - now_ms : 0;
}

/* The loop woke with nothing to do at now_ms: trims if it is due. */
void rp_trim_idle(rp_trim *t, int64_t now_ms);

/* Once, at start, before any thread: blocks of RP_TRIM_MMAP_BYTES or more
 * (a message of megabytes, its JSON) get pages of their own, given back as
 * they are freed.  glibc's default raises its mmap threshold to the largest
 * block freed so far (up to 32 MiB), after which such blocks come from a
 * thread's arena, whose top malloc_trim cannot give back: 4 × 16 MiB
 * messages streamed left the pair 85–90 MB instead of 31.  Bodies below it
 * (64 KiB, 1 MiB) are served as before. */
void rp_trim_setup(void);

#define RP_TRIM_MMAP_BYTES (4 << 20)

#endif /* RP_TRIM_H */
