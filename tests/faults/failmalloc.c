/*
 * failmalloc.c -- an LD_PRELOAD library for the out-of-memory tests
 * (tests/e2e/test_oom.py): it makes malloc, calloc, realloc, strdup and
 * strndup fail when the main program's own code calls them, while a switch
 * file exists.  Calls from libraries are never failed: how gRPC core,
 * jansson or libmicrohttpd meet a failed allocation is their own policy
 * (gRPC core aborts), not the program's error paths under test.
 *
 * RPCREST_FAILMALLOC_PROGRAM=NAME  only in the program of that name (e.g.
 *                                  rpcrest-gateway; others run unchanged)
 * RPCREST_FAILMALLOC_SWITCH=PATH   fail only while PATH exists: then every
 *                                  Nth eligible call fails, N being PATH's
 *                                  size in bytes (empty: every call)
 * RPCREST_FAILMALLOC_MIN_BYTES=K   only calls for at least K bytes are
 *                                  eligible (a large buffer fails, the small
 *                                  allocations around it do not)
 *
 * The program's code is the executable segment of the main program, found
 * once at load; a call counts as the program's when its return address
 * lies there.  So the programs under test must load gRPC core as a shared
 * library (the build's own link it in; the tests run copies that do not,
 * build/tests/oom/).  Counting is per process, across threads.
 */
#include <errno.h>
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

static uintptr_t program_text_start, program_text_end;
static const char *switch_path;
static size_t min_bytes;
static atomic_ulong eligible_calls;

static int find_program_text(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size, (void)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            program_text_start = info->dlpi_addr + ph->p_vaddr;
            program_text_end = program_text_start + ph->p_memsz;
            break;
        }
    }
    return 1; /* the first entry is the main program */
}

__attribute__((constructor)) static void failmalloc_init(void)
{
    const char *program = getenv("RPCREST_FAILMALLOC_PROGRAM");
    if (program && strcmp(program, program_invocation_short_name) != 0)
        return; /* not the program under test: never fail */
    switch_path = getenv("RPCREST_FAILMALLOC_SWITCH");
    const char *min = getenv("RPCREST_FAILMALLOC_MIN_BYTES");
    min_bytes = min ? (size_t)strtoull(min, NULL, 10) : 0;
    dl_iterate_phdr(find_program_text, NULL);
}

static int should_fail(const void *caller, size_t size)
{
    uintptr_t at = (uintptr_t)caller;
    if (!switch_path || size < min_bytes || at < program_text_start || at >= program_text_end)
        return 0;
    struct stat st;
    if (stat(switch_path, &st) != 0)
        return 0;
    unsigned long every = st.st_size > 0 ? (unsigned long)st.st_size : 1;
    if (atomic_fetch_add(&eligible_calls, 1) % every != 0)
        return 0;
    errno = ENOMEM;
    return 1;
}

void *malloc(size_t size)
{
    return should_fail(__builtin_return_address(0), size) ? NULL : __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    size_t bytes = n && size > SIZE_MAX / n ? SIZE_MAX : n * size;
    return should_fail(__builtin_return_address(0), bytes) ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    return should_fail(__builtin_return_address(0), size) ? NULL : __libc_realloc(p, size);
}

char *strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    if (should_fail(__builtin_return_address(0), n))
        return NULL;
    char *copy = __libc_malloc(n);
    return copy ? memcpy(copy, s, n) : NULL;
}

char *strndup(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    if (should_fail(__builtin_return_address(0), n + 1))
        return NULL;
    char *copy = __libc_malloc(n + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}
