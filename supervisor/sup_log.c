/*
 * sup_log.c -- rpcrestd's log lines on stderr.
 *
 * Formats the ISO-8601 UTC timestamp with milliseconds and the program
 * prefix; nothing else.  Not async-signal-safe: call it from the loop only.
 */
#include "sup_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SUP_LOG_LINE_MAX 8192 /* room for a PATH_MAX path or two */

/* "2026-11-25T20:50:55.123Z" into buf; returns its length. */
static size_t format_timestamp(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    int m = snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
    return m > 0 ? n + (size_t)m : n;
}

void sup_log(const char *fmt, ...)
{
    char line[SUP_LOG_LINE_MAX];
    size_t n = format_timestamp(line, sizeof(line));
    n += (size_t)snprintf(line + n, sizeof(line) - n, " rpcrestd: ");

    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += (size_t)m;
    if (n > sizeof(line) - 2) /* truncated: keep room for the newline */
        n = sizeof(line) - 2;
    line[n++] = '\n';

    const char *p = line;
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}
