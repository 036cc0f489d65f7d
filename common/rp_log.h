/*
 * rp_log.h -- the one-line log of rpcrest-host and rpcrest-gateway on
 * stderr: "PROGRAM: message", each line written with a single write(2) so
 * that lines from different threads never interleave.  (rpcrestd stamps its
 * own lines with the time; see supervisor/sup_log.h.)
 */
#ifndef RP_LOG_H
#define RP_LOG_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Writes "PROGRAM: MESSAGE\n" (PROGRAM: the running program's name).
 * Newlines inside MESSAGE become spaces, other control characters (but tab)
 * '?' (see rp_log_clean); a line longer than RP_LOG_LINE_MAX is cut.  Thread-safe; not
 * async-signal-safe. */
void rp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rp_vlog(const char *fmt, va_list ap);

/* Makes text[0..n) one line that no terminal acts on: line breaks become
 * blanks, other control characters but tab '?', C1 controls in UTF-8
 * (U+0080..U+009F) "??" (rpcrestd's own lines are cleaned the same way). */
void rp_log_clean(char *text, size_t n);

#define RP_LOG_LINE_MAX 2048

/* Writes p[0..n) to fd, again after EINTR and short writes; gives up
 * silently at the first failure (for a log, whose failures have nowhere to
 * be reported). */
void rp_write_all(int fd, const char *p, size_t n);

/* A source of lines that outside events can repeat without end (a client
 * failing its TLS handshake a thousand times a second): at most
 * RP_LOG_BURST of its lines a second are written; the next one written
 * says how many were dropped. */
typedef struct rp_log_limit {
    pthread_mutex_t lock;
    int64_t second;        /* of CLOCK_MONOTONIC, the lines were counted in */
    unsigned lines;        /* written in that second */
    unsigned long dropped; /* since the last line written */
} rp_log_limit;

#define RP_LOG_LIMIT_INIT {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0}
#define RP_LOG_BURST 10

void rp_log_limited(rp_log_limit *lim, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sends gRPC core's own log through rp_log ("grpc E file:line: …").  Only
 * for programs linked with gRPC. */
void rp_log_route_grpc(void);

#endif /* RP_LOG_H */
