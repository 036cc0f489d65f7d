/*
 * rp_bound_exit.h -- a failed start ends in bounded time.
 *
 * Tearing gRPC core down after a start that failed can wait for good: when
 * the kernel refused threads (RLIMIT_NPROC), gRPC core's own timer thread
 * may never have started, and its shutdown waits for it (the host hung
 * there, deaf to SIGTERM, as the gateway did while it linked gRPC core;
 * under rpcrestd each try cost ready_timeout and stop_timeout, then
 * SIGKILL).  Before such a teardown a
 * program arms an alarm; if it fires, the handler says so and _exits with
 * the status the program meant to end with.
 */
#ifndef RP_BOUND_EXIT_H
#define RP_BOUND_EXIT_H

#define RP_BOUND_EXIT_S 5 /* seconds a teardown after a failed start may take */

/* From now on the process ends with `status` at most RP_BOUND_EXIT_S
 * seconds later (SIGALRM; one alarm per process: arming again moves it). */
void rp_bound_exit_arm(int status);

/* The start succeeded after all: no alarm. */
void rp_bound_exit_disarm(void);

#endif /* RP_BOUND_EXIT_H */
