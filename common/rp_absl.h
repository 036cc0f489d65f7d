/*
 * rp_absl.h -- one switch in the absl library under gRPC core: its mutex
 * deadlock detection, a debugging aid that Debian's absl build leaves on and
 * that every lock gRPC takes pays for.  Owns nothing else.
 */
#ifndef RP_ABSL_H
#define RP_ABSL_H

/*
 * Turns absl's deadlock detection off for the whole process (lock-order
 * cycles are then neither tracked nor reported; locking is unchanged).
 * Looked up at run time with dlsym, so an absl without the function (or
 * another build of it) is simply left as it is.  Returns 1 if it was
 * turned off, 0 if the function was not found.  Call before grpc_init.
 */
int rp_absl_no_deadlock_detection(void);

#endif /* RP_ABSL_H */
