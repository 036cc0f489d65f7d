/*
 * sup_log.h -- rpcrestd's log lines on stderr.
 *
 * Owns the line format only: "2026-11-25T20:50:55.123Z rpcrestd: text".
 * Where the lines end up (a terminal, a file, a log pipe) is the caller's.
 */
#ifndef SUP_LOG_H
#define SUP_LOG_H

/* Writes one timestamped line to stderr with a single write(2), so lines
 * from rpcrestd and its children do not interleave.  A trailing newline is
 * added; errors writing the log are ignored (there is nowhere to report
 * them). */
void sup_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* SUP_LOG_H */
