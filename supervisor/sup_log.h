/*
 * sup_log.h -- rpcrestd's log: its own lines and its children's, one whole
 * line at a time, to stderr or [supervisor] log_file.
 *
 * Owns the line format ("2026-11-25T20:50:55.123Z rpcrestd: text",
 * "2026-11-25T20:50:55.123Z rpcrest-host[1234]: text"), a bounded queue in
 * front of the output, and the output fd (reopened for logrotate).  Reading
 * the children's pipes is sup_child.c's; this file gets whole lines.
 */
#ifndef SUP_LOG_H
#define SUP_LOG_H

#include <stddef.h>
#include <sys/types.h>

#define SUP_LOG_LINE_MAX 16384      /* a longer child line is split */
#define SUP_LOG_QUEUE_MAX (1u << 20) /* queued bytes beyond which child lines are dropped */
#define SUP_LOG_START_MAX (64u << 10) /* the start's lines kept for stderr */

typedef struct sup_logger {
    int fd;             /* where lines go: STDERR_FILENO or the log file */
    char *path;         /* the log file, or NULL for stderr; owned */
    int is_file;        /* fd is a regular file: writes never wait */
    int own_fd;         /* fd is ours to close (the log file, or a terminal
                         * opened again non-blocking) */
    int mid_line;       /* the output's last byte written is not a newline:
                         * the rest of that line was lost */
    int keeping_start;  /* every line is also kept for stderr (while rpcrestd
                         * starts, with a log file: sup_log_start_done) */
    char *start_text;   /* the last of those lines, up to SUP_LOG_START_MAX */
    size_t start_len;
    unsigned long start_left_out; /* lines dropped before them */
    char *buf;          /* queued output: buf[off..len) */
    size_t off, len, cap;
    unsigned long dropped;     /* lines dropped since the last report */
    unsigned long write_lost;  /* bytes that could not be written (EIO, ENOSPC …) */
    int write_errno;
} sup_logger;

/* Logs to stderr until sup_log_set_file.  Cannot fail. */
void sup_log_init(sup_logger *lg);

/* Opens `path` for sup_log_use (appended, created 0640).  Returns the fd,
 * or a negative errno. */
int sup_log_open(const char *path);

/* What went wrong, for sup_log_open's (or sup_log_set_file's) negative
 * return rc. */
const char *sup_log_open_error(int rc);

/* Sends the log to fd, the file `path` opened by sup_log_open (fd is the
 * logger's from now on, closed on failure too), or to stderr for -1 and
 * NULL.  Returns 0, or -ENOMEM with the old output kept. */
int sup_log_use(sup_logger *lg, int fd, const char *path);

/* sup_log_open and sup_log_use: how SIGUSR1 reopens the same path.
 * Returns 0, or a negative errno with the old output kept (the caller logs
 * it). */
int sup_log_set_file(sup_logger *lg, const char *path);

/* Begins keeping every line for stderr (when the log goes to a file): the
 * start's story, which sup_log_start_done tells if the start fails. */
void sup_log_start_begin(sup_logger *lg);

/* The start is over: with `failed`, the lines kept since
 * sup_log_start_begin go to stderr, where rpcrestd was started (what
 * refused the start: its own reason, or a child's before it exited 78);
 * then no more are kept.  Again: nothing. */
void sup_log_start_done(sup_logger *lg, int failed);

/* One line of rpcrestd's own, timestamped; a newline is added.  Queued and
 * written as soon as the output takes it; never blocks. */
void sup_log(sup_logger *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line (without its newline) that child `name` (pid) wrote, with the
 * timestamp, "name[pid]: " and a newline added; a leading "name: " the child
 * put there itself is left out.  Dropped, and counted, while the queue is
 * over SUP_LOG_QUEUE_MAX; the count is logged once the output catches up. */
void sup_log_child(sup_logger *lg, const char *name, pid_t pid, const char *line, size_t len);

/* 1 while lines wait for the output (poll it for POLLOUT). */
int sup_log_pending(const sup_logger *lg);

/* Writes what the output takes now without blocking. */
void sup_log_flush(sup_logger *lg);

/* At exit: writes what is queued, waiting up to timeout_ms for a slow
 * output. */
void sup_log_drain(sup_logger *lg, int timeout_ms);

void sup_log_free(sup_logger *lg);

#endif /* SUP_LOG_H */
