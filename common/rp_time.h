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

static inline int64_t rp_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif /* RP_TIME_H */
