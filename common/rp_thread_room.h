/*
 * rp_thread_room.h -- whether the kernel gives a start the threads it needs.
 *
 * Where the kernel refuses threads (RLIMIT_NPROC of the user the program
 * runs as, a cgroup's pids.max), gRPC core 1.51 does not fail cleanly: a
 * thread it could not start is either waited for at teardown for good or,
 * depending on which of its threads was refused, ends the process with an
 * assertion.  So the host checks before grpc_init that it can have, all at
 * once, the threads it and gRPC core start (and the gateway, the threads it
 * starts): each starts that many idle threads and ends them again.  A
 * limit below what the start needs is then one clear error instead of a
 * race inside gRPC core, or a start that fails halfway.
 */
#ifndef RP_THREAD_ROOM_H
#define RP_THREAD_ROOM_H

#include <stddef.h>

/* The threads gRPC core 1.51 starts by the time a server or a channel
 * serves its first call: its event engine's pool (one per CPU, 2 to 32),
 * the event engine's timer thread, the global timer thread, the default
 * and the resolver executors.  More may follow under load. */
int rp_thread_room_grpc_core(void);

/* Starts `own` + `grpc` threads (rp_thread_room_grpc_core(), or 0 for a
 * program without gRPC core) that wait, then ends them.  Returns 0 when
 * every one started; otherwise -1 with err saying how many of how many the
 * kernel gave, why, and the RLIMIT_NPROC in force. */
int rp_thread_room_check(int own, int grpc, char *err, size_t errlen);

#endif /* RP_THREAD_ROOM_H */
