/*
 * sup_log.c -- rpcrestd's log: timestamped whole lines, queued in front of
 * stderr or the log file and written without ever blocking the supervisor.
 *
 * A pipe is written PIPE_BUF bytes at a time, and only when poll says it
 * has room, so each write is whole and quick; a terminal, which poll calls
 * writable while it has any room, is opened again non-blocking (a file
 * description of rpcrestd's own, so the shell's is left as it was); a
 * regular file takes everything at once.  A line cut short by a failed write
 * is ended by a newline before the next one.  Not async-signal-safe: call it
 * from the loop only.
 */
#include "sup_log.h"

#include "rp_log.h"
#include "rp_logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OWN_QUEUE_MAX (2 * SUP_LOG_QUEUE_MAX) /* rpcrestd's own lines may go further */

static int output_is_file(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* A terminal at fd, opened again with O_NONBLOCK, or -1 (not a terminal, or
 * it cannot be: the writes then may wait while the terminal is not read). */
static int nonblocking_terminal(int fd)
{
    if (!isatty(fd))
        return -1;
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    int nfd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (nfd < 0) {
        const char *name = ttyname(fd);
        nfd = name ? open(name, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) : -1;
    }
    return nfd;
}

/* Writes to stderr: the terminal again, non-blocking, if it is one. */
static void use_stderr(sup_logger *lg)
{
    int tty = nonblocking_terminal(STDERR_FILENO);
    lg->fd = tty >= 0 ? tty : STDERR_FILENO;
    lg->own_fd = tty >= 0;
    lg->is_file = output_is_file(lg->fd);
}

void sup_log_init(sup_logger *lg)
{
    memset(lg, 0, sizeof(*lg));
    use_stderr(lg);
}

static size_t queued(const sup_logger *lg)
{
    return lg->len - lg->off;
}

/* Room for n more bytes; 0 or -1 (out of memory: the caller drops). */
static int reserve(sup_logger *lg, size_t n)
{
    if (lg->off > 0 && (lg->off == lg->len || lg->len + n > lg->cap)) {
        memmove(lg->buf, lg->buf + lg->off, queued(lg));
        lg->len -= lg->off;
        lg->off = 0;
    }
    if (lg->len + n <= lg->cap)
        return 0;
    size_t cap = lg->cap ? lg->cap : 8192;
    while (cap < lg->len + n)
        cap *= 2;
    char *grown = realloc(lg->buf, cap);
    if (!grown)
        return -1;
    lg->buf = grown;
    lg->cap = cap;
    return 0;
}

/* Queues "STAMP who: text\n" unless the queue is past `limit`. */
static void enqueue(sup_logger *lg, size_t limit, const char *who, const char *text, size_t len)
{
    char stamp[RP_LOGFILE_STAMP_MAX];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    size_t slen = rp_logfile_stamp(&now, stamp);
    size_t wlen = strlen(who);
    int end_torn = lg->mid_line && queued(lg) == 0; /* a newline first */
    size_t total = (size_t)end_torn + slen + 1 + wlen + 2 + len + 1;
    if (queued(lg) + total > limit || reserve(lg, total) < 0) {
        lg->dropped++;
        return;
    }
    char *p = lg->buf + lg->len;
    if (end_torn)
        *p++ = '\n';
    memcpy(p, stamp, slen);
    p += slen;
    *p++ = ' ';
    memcpy(p, who, wlen);
    p += wlen;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, text, len);
    p += len;
    *p++ = '\n';
    lg->len += total;
}

/* Keeps "who: text" for stderr while rpcrestd starts with a log_file;
 * made harmless to a terminal (a child's line comes as the child wrote
 * it). */
static void keep_for_stderr(sup_logger *lg, const char *who, const char *text, size_t len)
{
    size_t wlen = strlen(who), n = wlen + 2 + len + 1;
    if (!lg->start_text || n > SUP_LOG_START_MAX) {
        lg->start_left_out++;
        return;
    }
    /* the last lines say why the start failed: the first go to make room */
    size_t drop = 0;
    while (lg->start_len - drop + n > SUP_LOG_START_MAX) {
        const char *nl = memchr(lg->start_text + drop, '\n', lg->start_len - drop);
        drop = (size_t)(nl - lg->start_text) + 1; /* every kept line ends with one */
        lg->start_left_out++;
    }
    if (drop) {
        memmove(lg->start_text, lg->start_text + drop, lg->start_len - drop);
        lg->start_len -= drop;
    }
    char *p = lg->start_text + lg->start_len;
    memcpy(p, who, wlen);
    memcpy(p + wlen, ": ", 2);
    memcpy(p + wlen + 2, text, len);
    rp_log_clean(p, n - 1);
    p[n - 1] = '\n';
    lg->start_len += n;
}

void sup_log_start_begin(sup_logger *lg)
{
    if (!lg->path || lg->keeping_start)
        return; /* the log is stderr already */
    lg->start_text = malloc(SUP_LOG_START_MAX);
    lg->start_len = 0;
    lg->start_left_out = 0;
    lg->keeping_start = 1;
}

void sup_log_start_done(sup_logger *lg, int failed)
{
    if (!lg->keeping_start)
        return;
    lg->keeping_start = 0;
    if (failed) { /* best effort: rpcrestd is about to exit */
        if (lg->start_left_out)
            dprintf(STDERR_FILENO, "rpcrestd: %lu earlier lines of the start are in %s\n",
                    lg->start_left_out, lg->path);
        rp_write_all(STDERR_FILENO, lg->start_text, lg->start_text ? lg->start_len : 0);
    }
    free(lg->start_text);
    lg->start_text = NULL;
}

static void vlog_own(sup_logger *lg, const char *fmt, va_list ap)
{
    char text[SUP_LOG_LINE_MAX];
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(text))
        n = (int)sizeof(text) - 1;
    rp_log_clean(text, (size_t)n); /* paths and error texts from outside */
    enqueue(lg, OWN_QUEUE_MAX, "rpcrestd", text, (size_t)n);
    if (lg->keeping_start)
        keep_for_stderr(lg, "rpcrestd", text, (size_t)n);
}

static void log_own(sup_logger *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_own(sup_logger *lg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_own(lg, fmt, ap);
    va_end(ap);
}

void sup_log(sup_logger *lg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_own(lg, fmt, ap);
    va_end(ap);
    sup_log_flush(lg);
}

void sup_log_child(sup_logger *lg, const char *name, pid_t pid, const char *line, size_t len)
{
    size_t nlen = strlen(name);
    if (len > nlen + 1 && memcmp(line, name, nlen) == 0 && line[nlen] == ':') {
        line += nlen + 1;
        len -= nlen + 1;
        if (len > 0 && line[0] == ' ') {
            line++;
            len--;
        }
    }
    char who[64];
    snprintf(who, sizeof(who), "%s[%d]", name, (int)pid);
    enqueue(lg, SUP_LOG_QUEUE_MAX, who, line, len);
    if (lg->keeping_start)
        keep_for_stderr(lg, who, line, len);
    sup_log_flush(lg);
}

int sup_log_pending(const sup_logger *lg)
{
    return queued(lg) > 0;
}

/* After the output has caught up: says what could not be logged. */
static void report_losses(sup_logger *lg)
{
    if (lg->dropped && queued(lg) < SUP_LOG_QUEUE_MAX / 2) {
        unsigned long n = lg->dropped;
        lg->dropped = 0;
        log_own(lg, "log output too slow: dropped %lu line%s", n, n == 1 ? "" : "s");
    }
    if (lg->write_lost && lg->write_errno == 0) {
        unsigned long n = lg->write_lost;
        lg->write_lost = 0;
        log_own(lg, "%lu bytes of log could not be written", n);
    }
}

void sup_log_flush(sup_logger *lg)
{
    int wrote = 0;
    while (queued(lg) > 0) {
        size_t n = queued(lg);
        if (!lg->is_file) {
            struct pollfd p = {.fd = lg->fd, .events = POLLOUT};
            if (poll(&p, 1, 0) <= 0)
                break;
            if (!(p.revents & POLLOUT) && !(p.revents & (POLLERR | POLLHUP | POLLNVAL)))
                break;
            if (n > PIPE_BUF)
                n = PIPE_BUF; /* whole, and within the room poll promised */
        }
        ssize_t w = write(lg->fd, lg->buf + lg->off, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0) {
            /* a broken output (EIO, ENOSPC, EFBIG …): lose what is queued,
             * say so when it works again */
            lg->write_lost += queued(lg);
            lg->write_errno = w < 0 ? errno : EIO;
            lg->off = lg->len = 0;
            return;
        }
        lg->off += (size_t)w;
        lg->mid_line = lg->buf[lg->off - 1] != '\n';
        wrote = 1;
    }
    if (queued(lg) == 0)
        lg->off = lg->len = 0;
    if (wrote && lg->write_errno)
        lg->write_errno = 0;
    if (lg->dropped || (lg->write_lost && !lg->write_errno)) {
        size_t before = queued(lg);
        report_losses(lg);
        if (queued(lg) != before)
            sup_log_flush(lg);
    }
}

void sup_log_drain(sup_logger *lg, int timeout_ms)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (queued(lg) > 0) {
        sup_log_flush(lg);
        if (queued(lg) == 0)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (spent >= timeout_ms)
            break;
        struct pollfd p = {.fd = lg->fd, .events = POLLOUT};
        (void)poll(&p, 1, (int)(timeout_ms - spent));
    }
}

/* Non-blocking, so that a FIFO with no reader is an error (ENXIO) rather
 * than an open that waits for one with the supervisor stopped in it; writes
 * are non-blocking anyway (poll before each). */
int sup_log_open(const char *path)
{
    return rp_logfile_open(path, 1);
}

const char *sup_log_open_error(int rc)
{
    return rc == -ENXIO ? "it is a FIFO that no process reads" : strerror(-rc);
}

int sup_log_use(sup_logger *lg, int fd, const char *path)
{
    char *copy = NULL;
    if (fd < 0) {
        fd = STDERR_FILENO;
    } else if (!(copy = strdup(path))) {
        close(fd);
        return -ENOMEM;
    }
    sup_log_flush(lg); /* what is queued belongs to the old output */
    if (lg->own_fd)
        close(lg->fd);
    free(lg->path);
    lg->path = copy;
    lg->mid_line = 0; /* a new output */
    if (copy) {
        lg->fd = fd;
        lg->own_fd = 1;
        lg->is_file = output_is_file(fd);
    } else {
        use_stderr(lg);
    }
    return 0;
}

int sup_log_set_file(sup_logger *lg, const char *path)
{
    int fd = -1;
    if (path && (fd = sup_log_open(path)) < 0)
        return fd;
    return sup_log_use(lg, fd, path);
}

void sup_log_free(sup_logger *lg)
{
    if (lg->own_fd)
        close(lg->fd);
    free(lg->path);
    free(lg->buf);
    free(lg->start_text);
    memset(lg, 0, sizeof(*lg));
    lg->fd = STDERR_FILENO;
}
