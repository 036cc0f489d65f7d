/*
 * rp_logfile.c -- log lines' time stamps and log files' opening; see
 * rp_logfile.h.
 */
#include "rp_logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

size_t rp_logfile_stamp(const struct timespec *ts, char *out)
{
    static __thread time_t cached_sec = -1;
    static __thread char cached[RP_LOGFILE_STAMP_MAX - 5]; /* room for ".123Z" */
    static __thread size_t cached_len;
    if (ts->tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts->tv_sec, &tm);
        cached_len = strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = ts->tv_sec;
    }
    long ms = ts->tv_nsec / 1000000 % 1000;
    char *p = out + cached_len;
    memcpy(out, cached, cached_len);
    *p++ = '.';
    *p++ = (char)('0' + ms / 100);
    *p++ = (char)('0' + ms / 10 % 10);
    *p++ = (char)('0' + ms % 10);
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - out);
}

int rp_logfile_open(const char *path, int nonblocking)
{
    int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY;
    int fd = open(path, flags | (nonblocking ? O_NONBLOCK : 0), 0640);
    return fd < 0 ? -errno : fd;
}
