/*
 * rp_trim.c -- giving memory back to the system once a thread falls idle
 * (the policy is in rp_trim.h).
 */
#include "rp_trim.h"

#include <malloc.h>

void rp_trim_idle(rp_trim *t, int64_t now_ms)
{
    if (t->due_ms < 0 || now_ms < t->due_ms)
        return;
    t->due_ms = -1;
    malloc_trim(0);
}
