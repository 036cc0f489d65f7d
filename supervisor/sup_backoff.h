/*
 * sup_backoff.h -- the restart delays of one child under its policy: the
 * delay before each restart in a run of failures, and the one after it.
 *
 * Pure arithmetic on rp_child_policy: no clock, no process, and no random
 * source of its own (the caller draws the jitter), so that the rules can
 * be tested alone (tests/unit/test_sup_backoff.c).
 */
#ifndef SUP_BACKOFF_H
#define SUP_BACKOFF_H

#include <stdint.h>

#include "rp_config.h"

/* From the second restart of a run of failures on, the delay is at least
 * this (or backoff_max, if that is lower), whatever backoff_initial and
 * backoff_multiplier say: a delay of 0 grows, and a run of failures never
 * restarts a child as fast as the machine can fork. */
#define SUP_BACKOFF_FLOOR_MS 100

/* Seconds of a policy value in whole milliseconds, rounded; any value
 * above 0 is at least 1 ms, so that only 0 means "no delay". */
int64_t sup_seconds_ms(double seconds);

/* The delay (ms, before jitter) before the first restart of a run of
 * failures: backoff_initial.  What a run starts over from. */
int64_t sup_backoff_first(const rp_child_policy *pol);

/*
 * The delay (ms) before this restart, and the next one (ms, before jitter)
 * in *next_ms, which holds this one's on entry (sup_backoff_first, then
 * what the previous call left).  at_max: wait backoff_max this time (a
 * process that had been ready exited 78).  unit: a random number in
 * [0, 1) that picks the jitter factor in [1 - jitter, 1 + jitter].
 */
int64_t sup_backoff_take(const rp_child_policy *pol, int64_t *next_ms, int at_max, double unit);

/*
 * The same for retrying a start that failed before there was a process
 * (no memory, descriptors or processes left for rpcrestd): never under
 * SUP_BACKOFF_FLOOR_MS, not even with a lower backoff_max or jitter, as
 * start_retries does not end these retries (the failure is not the
 * child's).
 */
int64_t sup_backoff_take_retry(const rp_child_policy *pol, int64_t *next_ms, double unit);

#endif /* SUP_BACKOFF_H */
