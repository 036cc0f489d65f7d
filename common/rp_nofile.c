/*
 * rp_nofile.c -- raising the soft open-files limit; see rp_nofile.h.
 */
#include "rp_nofile.h"

#include <sys/resource.h>

long rp_nofile_raise(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) < 0)
        return -1;
    if (lim.rlim_cur < lim.rlim_max) {
        struct rlimit raised = {lim.rlim_max, lim.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            lim = raised;
    }
    return lim.rlim_cur == RLIM_INFINITY ? -1 : (long)lim.rlim_cur;
}
