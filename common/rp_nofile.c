/*
 * rp_nofile.c -- raising the soft open-files limit; see rp_nofile.h.
 */
#include "rp_nofile.h"

#include <sys/resource.h>

void rp_nofile_raise(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &lim);
    }
}
