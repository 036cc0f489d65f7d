/*
 * rp_nofile.h -- the open-files limit each program raises at start.
 *
 * systemd and most shells give a process a soft limit of 1024 open files
 * under a much larger hard one.  gRPC core 1.51 stops accepting on a
 * listener for good once accept4 fails with EMFILE, so a thousand idle
 * connections to the host would have closed its port until a restart.
 */
#ifndef RP_NOFILE_H
#define RP_NOFILE_H

/* Raises the soft RLIMIT_NOFILE to the hard limit (nothing happens when
 * the limits cannot be read or set: the program runs with what it has). */
void rp_nofile_raise(void);

#endif /* RP_NOFILE_H */
