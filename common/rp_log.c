/*
 * rp_log.c -- one log line, one write(2); control characters in it made
 * harmless (a line break becomes a blank, any other '?').
 */
#include "rp_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void rp_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere left to report it */
        p += w;
        n -= (size_t)w;
    }
}

void rp_log_clean(char *text, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n' || c == '\r') {
            text[i] = ' ';
        } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
            text[i] = '?';
        } else if (c == 0xc2 && i + 1 < n && (unsigned char)text[i + 1] >= 0x80 &&
                   (unsigned char)text[i + 1] <= 0x9f) {
            text[i] = text[i + 1] = '?'; /* U+0080..U+009F: C1 controls (CSI among them) */
            i++;
        }
    }
}

void rp_vlog(const char *fmt, va_list ap)
{
    char line[RP_LOG_LINE_MAX];
    int m = snprintf(line, sizeof(line), "%s: ", program_invocation_short_name);
    size_t n = m > 0 ? (size_t)m : 0;
    m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    n += m > 0 ? (size_t)m : 0;
    if (n > sizeof(line) - 2) /* cut: keep room for the newline */
        n = sizeof(line) - 2;
    rp_log_clean(line, n);
    line[n++] = '\n';
    rp_write_all(STDERR_FILENO, line, n);
}

void rp_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rp_vlog(fmt, ap);
    va_end(ap);
}

void rp_log_limited(rp_log_limit *lim, const char *fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    pthread_mutex_lock(&lim->lock);
    if (ts.tv_sec != lim->second) {
        lim->second = ts.tv_sec;
        lim->lines = 0;
    }
    int write_it = lim->lines < RP_LOG_BURST;
    unsigned long dropped = 0;
    if (write_it) {
        lim->lines++;
        dropped = lim->dropped;
        lim->dropped = 0;
    } else {
        lim->dropped++;
    }
    pthread_mutex_unlock(&lim->lock);
    if (!write_it)
        return;
    if (dropped)
        rp_log("(%lu more lines like the next were dropped: at most %d a second)", dropped,
               RP_LOG_BURST);
    va_list ap;
    va_start(ap, fmt);
    rp_vlog(fmt, ap);
    va_end(ap);
}
