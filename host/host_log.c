/*
 * host_log.c -- rpcrest-host's log lines on stderr.
 *
 * Formats one line into a stack buffer and writes it at once.  Not
 * async-signal-safe: signals are taken with sigwait, never in a handler.
 */
#include "host_log.h"

#include <grpc/support/log.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define HOST_LOG_LINE_MAX 2048
#define HOST_LOG_PREFIX "rpcrest-host: "

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0)
            return; /* nowhere left to report it */
        p += w;
        n -= (size_t)w;
    }
}

static void host_vlog(const char *fmt, va_list ap)
{
    char line[HOST_LOG_LINE_MAX];
    size_t n = sizeof(HOST_LOG_PREFIX) - 1;
    memcpy(line, HOST_LOG_PREFIX, n);
    int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (m < 0)
        m = 0;
    n += (size_t)m;
    if (n > sizeof(line) - 2) /* cut: keep room for the newline */
        n = sizeof(line) - 2;
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    write_all(line, n);
}

void host_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    host_vlog(fmt, ap);
    va_end(ap);
}

static void log_from_grpc(gpr_log_func_args *args)
{
    host_log("grpc %s %s:%d: %s", gpr_log_severity_string(args->severity), args->file,
             args->line, args->message);
}

void host_log_route_grpc(void)
{
    gpr_set_log_function(log_from_grpc);
}
