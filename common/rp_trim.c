/*
 * rp_trim.c -- giving memory back to the system once a thread falls idle
 * (the policy is in rp_trim.h).
 */
#include "rp_trim.h"

#include <dlfcn.h>
#include <malloc.h>

/* 1 if malloc is glibc's own.  malloc_trim walks glibc's arenas, which
 * are not set up when something else provides malloc (a sanitizer's
 * runtime, an allocator preloaded with LD_PRELOAD): it would crash there. */
static int glibc_malloc_in_use(void)
{
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    if (!libc)
        return 0;
    int own = dlsym(libc, "malloc") == dlsym(RTLD_DEFAULT, "malloc");
    dlclose(libc);
    return own;
}

void rp_trim_idle(rp_trim *t, int64_t now_ms)
{
    if (t->due_ms < 0 || now_ms < t->due_ms)
        return;
    t->due_ms = -1;
    if (glibc_malloc_in_use())
        malloc_trim(0);
}

void rp_trim_setup(void)
{
    if (glibc_malloc_in_use())
        mallopt(M_MMAP_THRESHOLD, RP_TRIM_MMAP_BYTES);
}
