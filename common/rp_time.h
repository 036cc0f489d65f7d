/*
 * rp_time.h -- CLOCK_MONOTONIC in the units the programs count in: the
 * clock of every deadline, timeout and duration (never the wall clock,
 * which jumps).
 */
#ifndef RP_TIME_H
#define RP_TIME_H

#include <stdint.h>
#include <time.h>

static inline int64_t rp_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The CLOCK_MONOTONIC time at_ms (in rp_monotonic_ms's count) as a
 * timespec, for pthread_cond_timedwait on a condition set to that clock. */
static inline struct timespec rp_monotonic_timespec(int64_t at_ms)
{
    return (struct timespec){(time_t)(at_ms / 1000), (long)(at_ms % 1000) * 1000000L};
}

static inline int64_t rp_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif /* RP_TIME_H */
