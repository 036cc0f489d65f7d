/*
 * rp_logfile.h -- what rpcrest's log files have in common: rpcrestd's log
 * ([supervisor] log_file) and the gateway's access log ([gateway]
 * access_log) stamp their lines with the same UTC time to the millisecond,
 * and open their files the same way, at start and again after logrotate
 * has renamed them.  Writing the lines is each one's own.
 */
#ifndef RP_LOGFILE_H
#define RP_LOGFILE_H

#include <stddef.h>
#include <time.h>

#define RP_LOGFILE_STAMP_MAX 32 /* "2026-11-25T20:50:55.123Z" and room to spare */

/* ts (CLOCK_REALTIME) as "2026-11-25T20:50:55.123Z" into
 * out[RP_LOGFILE_STAMP_MAX], NUL-terminated; returns its length.  The part
 * up to the seconds is kept per thread (gmtime_r once a second). */
size_t rp_logfile_stamp(const struct timespec *ts, char *out);

/* Opens `path` for appending lines, created mode 0640 (for logrotate's
 * `create`), close-on-exec, never as the controlling terminal.  With
 * `nonblocking`, O_NONBLOCK as well: a FIFO that no process reads is then
 * ENXIO rather than an open that waits for a reader.  Returns the fd, or a
 * negative errno. */
int rp_logfile_open(const char *path, int nonblocking);

#endif /* RP_LOGFILE_H */
