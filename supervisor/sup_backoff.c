/*
 * sup_backoff.c -- the restart delays of one child under its policy
 * (backoff_initial, backoff_multiplier, backoff_max, backoff_jitter).
 *
 * Knows nothing of processes or time: sup_child.c asks it for each delay
 * and keeps the state (the next delay) in its sup_child.
 */
#include "sup_backoff.h"

int64_t sup_seconds_ms(double seconds)
{
    int64_t ms = (int64_t)(seconds * 1000.0 + 0.5);
    return ms == 0 && seconds > 0 ? 1 : ms;
}

int64_t sup_backoff_first(const rp_child_policy *pol)
{
    return sup_seconds_ms(pol->backoff_initial);
}

int64_t sup_backoff_take(const rp_child_policy *pol, int64_t *next_ms, int at_max, double unit)
{
    int64_t max = sup_seconds_ms(pol->backoff_max);
    int64_t base = at_max ? max : *next_ms;
    if (base > max) /* a delay from before a reload lowered backoff_max */
        base = max;
    /* multiplying 0 (or a delay of a few ms by 1) would keep the child in a
     * tight loop: the run's later delays grow from the floor at least */
    int64_t floor_ms = SUP_BACKOFF_FLOOR_MS < max ? SUP_BACKOFF_FLOOR_MS : max;
    double grown = (double)base * pol->backoff_multiplier;
    if (grown < (double)floor_ms)
        grown = (double)floor_ms;
    *next_ms = grown > (double)max ? max : (int64_t)grown;
    if (pol->backoff_jitter <= 0 || base == 0)
        return base;
    double factor = 1.0 + pol->backoff_jitter * (2.0 * unit - 1.0);
    return (int64_t)((double)base * factor + 0.5);
}

int64_t sup_backoff_take_retry(const rp_child_policy *pol, int64_t *next_ms, double unit)
{
    int64_t delay = sup_backoff_take(pol, next_ms, 0, unit);
    return delay < SUP_BACKOFF_FLOOR_MS ? SUP_BACKOFF_FLOOR_MS : delay;
}
