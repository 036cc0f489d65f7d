/*
 * host_log.h -- rpcrest-host's log lines on stderr.
 *
 * Owns the "rpcrest-host: " prefix and the one-line-per-write rule, and
 * routes gRPC's own log through the same path.  Nothing else.
 */
#ifndef HOST_LOG_H
#define HOST_LOG_H

/* Writes "rpcrest-host: MESSAGE\n" to stderr with one write(2), so lines
 * from different threads never interleave.  Newlines inside MESSAGE become
 * spaces; a line longer than HOST_LOG_LINE_MAX is cut.  Thread-safe. */
void host_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Makes gRPC log through host_log ("rpcrest-host: grpc E file:line: ..."). */
void host_log_route_grpc(void);

#endif /* HOST_LOG_H */
