/*
 * rp_log.h -- the one-line log of rpcrest-host and rpcrest-gateway on
 * stderr: "PROGRAM: message", each line written with a single write(2) so
 * that lines from different threads never interleave.  (rpcrestd stamps its
 * own lines with the time; see supervisor/sup_log.h.)
 */
#ifndef RP_LOG_H
#define RP_LOG_H

#include <stdarg.h>

/* Writes "PROGRAM: MESSAGE\n" (PROGRAM: the running program's name).
 * Newlines inside MESSAGE become spaces; a line longer than RP_LOG_LINE_MAX
 * is cut.  Thread-safe; not async-signal-safe. */
void rp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rp_vlog(const char *fmt, va_list ap);

#define RP_LOG_LINE_MAX 2048

/* Sends gRPC core's own log through rp_log ("grpc E file:line: …").  Only
 * for programs linked with gRPC. */
void rp_log_route_grpc(void);

#endif /* RP_LOG_H */
