/*
 * gw_access.c -- access log lines, batched writes, reopen on request.
 */
#include "gw_access.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw_buf.h"
#include "rp_grpc_status.h"
#include "rp_log.h"
#include "rp_logfile.h"
#include "rp_text.h"
#include "rp_time.h"

/* Each free-form field is kept to a bounded number of output bytes (the
 * path to PATH_FIELD_MAX, marked "..." when cut), so a line always fits
 * LINE_MAX_BYTES whole and stays well-formed. */
#define LINE_MAX_BYTES 8192
#define PATH_FIELD_MAX 4096       /* escaped bytes of the path kept */
#define BUFFER_BYTES (64 * 1024)  /* queued output */
#define BATCH_BYTES (16 * 1024)   /* the thread that queues past this writes the batch */
#define FLUSH_MS 200              /* the longest a line waits for the flusher */

/*
 * Two buffers: lines are appended to `buf` under `lock`; a batch is written
 * by taking `buf` and putting `spare` in its place, so that the write(2)
 * happens outside `lock`: a request thread waits on the disk only when
 * its line takes the queue past BATCH_BYTES and it writes the batch.
 * While a batch is out (spare == NULL) nobody else takes one, which keeps
 * the lines in order; `write_lock` serializes the writes and the fd.
 */
struct gw_access {
    pthread_mutex_t lock;  /* guards buf, len, spare, stopping */
    pthread_cond_t wake;     /* the flusher's timer; stop */
    pthread_cond_t returned; /* the spare is back */
    char *buf;
    size_t len;
    char *spare;           /* NULL while a batch is being written */
    int stopping;
    pthread_mutex_t write_lock; /* guards fd and pipe_like */
    int fd;
    int pipe_like; /* not a regular file: write at most PIPE_BUF at a time, at line ends */
    char *path;    /* NULL: stderr */
    int json;
    pthread_t flusher;
};

/* ---- formatting -------------------------------------------------------------------- */

typedef struct line {
    char *p;
    size_t len, cap; /* cap excludes the newline's room */
} line;

static void put(line *l, const char *s, size_t n)
{
    if (l->len + n > l->cap)
        n = l->cap - l->len; /* only with an outlen smaller than LINE_MAX_BYTES */
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void puts_(line *l, const char *s)
{
    put(l, s, strlen(s));
}

/* Decimal digits by hand: snprintf's cost, five times a line, showed. */
static void putu(line *l, unsigned long long v)
{
    char digits[GW_DECIMAL_MAX];
    put(l, digits, gw_decimal(digits, v));
}

static const char hex[] = "0123456789abcdef";

/* Text: printable ASCII but '"' and '\' kept, those two backslashed,
 * anything else (a space too, so a field never splits a line's words) as
 * \xHH: a hostile path cannot end the line or the field. */
static int plain_text(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* The longest run of plain bytes at p, up to `room` bytes. */
static size_t plain_run(const unsigned char *p, size_t room)
{
    size_t n = 0;
    while (n < room && p[n] && plain_text(p[n]))
        n++;
    return n;
}

/* A text field's body, at most `max` bytes of it (then "..."), escaped as
 * plain_text says, so that the line is well-formed whatever the client
 * sent. */
static void put_text(line *l, const char *s, size_t max)
{
    size_t start = l->len;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (l->len - start >= max) {
            put(l, "...", 3);
            return;
        }
        size_t run = plain_run(p, max - (l->len - start));
        if (run) {
            put(l, (const char *)p, run);
            p += run - 1;
            continue;
        }
        char esc[4] = {'\\', (char)*p};
        if (*p == '"' || *p == '\\') {
            put(l, esc, 2);
        } else {
            esc[1] = 'x';
            esc[2] = hex[*p >> 4];
            esc[3] = hex[*p & 15];
            put(l, esc, 4);
        }
    }
}

/* A JSON string's body (rp_json_escape: UTF-8 as it is), at most `max`
 * bytes of it (then "..."). */
static void put_json(line *l, const char *s, size_t max)
{
    size_t room = l->cap - l->len < max ? l->cap - l->len : max, taken;
    l->len += rp_json_escape(l->p + l->len, room, s, &taken);
    if (s[taken])
        put(l, "...", 3);
}

/* The request's time (rp_logfile_stamp). */
static void put_time(line *l, const struct timespec *ts)
{
    char stamp[RP_LOGFILE_STAMP_MAX];
    put(l, stamp, rp_logfile_stamp(ts, stamp));
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

/* {"time":…,"client":…,…,"request_id":…} */
static void format_json(line *l, const gw_access_entry *e)
{
    puts_(l, "{\"time\":\"");
    put_time(l, &e->start);
    puts_(l, "\",\"client\":\"");
    put_json(l, or_dash(e->client), 64);
    puts_(l, "\",\"method\":\"");
    put_json(l, or_dash(e->method), 32);
    puts_(l, "\",\"path\":\"");
    put_json(l, or_dash(e->path), PATH_FIELD_MAX);
    puts_(l, "\",\"grpc_method\":");
    if (e->grpc_method) {
        puts_(l, "\"");
        put_json(l, e->grpc_method, 256);
        puts_(l, "\"");
    } else {
        puts_(l, "null");
    }
    puts_(l, ",\"status\":");
    putu(l, e->status);
    puts_(l, ",\"grpc_status\":");
    if (e->grpc_code >= 0) {
        puts_(l, "\"");
        puts_(l, rp_grpc_code_name(e->grpc_code));
        puts_(l, "\",\"grpc_code\":");
        putu(l, (unsigned)e->grpc_code);
    } else {
        puts_(l, "null,\"grpc_code\":null");
    }
    puts_(l, ",\"bytes_in\":");
    putu(l, e->bytes_in);
    puts_(l, ",\"bytes_out\":");
    putu(l, e->bytes_out);
    puts_(l, ",\"duration_us\":");
    putu(l, e->duration_us);
    puts_(l, ",\"request_id\":\"");
    put_json(l, or_dash(e->request_id), 128);
    puts_(l, "\"}");
}

/* TIME client=… method=… path="…" grpc_method=… status=… … request_id=… */
static void format_text(line *l, const gw_access_entry *e)
{
    put_time(l, &e->start);
    puts_(l, " client=");
    put_text(l, or_dash(e->client), 64);
    puts_(l, " method=");
    put_text(l, or_dash(e->method), 32);
    puts_(l, " path=\"");
    put_text(l, or_dash(e->path), PATH_FIELD_MAX);
    puts_(l, "\" grpc_method=");
    put_text(l, or_dash(e->grpc_method), 256);
    puts_(l, " status=");
    putu(l, e->status);
    puts_(l, " grpc_status=");
    puts_(l, e->grpc_code >= 0 ? rp_grpc_code_name(e->grpc_code) : "-");
    puts_(l, " bytes_in=");
    putu(l, e->bytes_in);
    puts_(l, " bytes_out=");
    putu(l, e->bytes_out);
    puts_(l, " duration_us=");
    putu(l, e->duration_us);
    puts_(l, " request_id=");
    put_text(l, or_dash(e->request_id), 128);
}

size_t gw_access_format(const gw_access_entry *e, int json, char *out, size_t outlen)
{
    if (outlen < 2)
        return 0;
    line l = {.p = out, .cap = outlen - 2};
    if (json)
        format_json(&l, e);
    else
        format_text(&l, e);
    l.p[l.len++] = '\n';
    l.p[l.len] = '\0';
    return l.len;
}

/* ---- output -------------------------------------------------------------------------- */

/* Writes a batch of whole lines.  To a pipe or terminal, in pieces of at
 * most PIPE_BUF ending at a newline, so that other writers' lines (the
 * gateway's own log on stderr) never land inside one. */
static void write_batch(gw_access *a, const char *p, size_t len)
{
    pthread_mutex_lock(&a->write_lock);
    size_t off = 0;
    while (a->pipe_like && len - off > PIPE_BUF) {
        size_t n = PIPE_BUF;
        while (n > 0 && p[off + n - 1] != '\n')
            n--;
        if (n == 0)
            n = PIPE_BUF; /* one line longer than PIPE_BUF: written as it is */
        rp_write_all(a->fd, p + off, n);
        off += n;
    }
    rp_write_all(a->fd, p + off, len - off);
    pthread_mutex_unlock(&a->write_lock);
}

/* Writes what is queued.  Called and returns with `lock` held; drops it
 * during the write.  With `wait`, waits for a batch out to come back first
 * (else leaves the lines for later when one is out). */
static void flush_queued(gw_access *a, int wait)
{
    while (wait && !a->spare)
        pthread_cond_wait(&a->returned, &a->lock);
    if (!a->spare || !a->len)
        return;
    char *out = a->buf;
    size_t len = a->len;
    a->buf = a->spare;
    a->spare = NULL;
    a->len = 0;
    pthread_mutex_unlock(&a->lock);
    write_batch(a, out, len);
    pthread_mutex_lock(&a->lock);
    a->spare = out;
    pthread_cond_broadcast(&a->returned);
}

static void *flusher(void *arg)
{
    gw_access *a = arg;
    pthread_mutex_lock(&a->lock);
    while (!a->stopping) {
        struct timespec until = rp_monotonic_timespec(rp_monotonic_ms() + FLUSH_MS);
        pthread_cond_timedwait(&a->wake, &a->lock, &until);
        flush_queued(a, 0);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

static int open_file(const char *path, int *pipe_like)
{
    int fd = rp_logfile_open(path, 0);
    if (fd < 0)
        return fd;
    struct stat st;
    *pipe_like = fstat(fd, &st) == 0 && !S_ISREG(st.st_mode);
    return fd;
}

static void access_free(gw_access *a)
{
    free(a->path);
    free(a->buf);
    free(a->spare);
    free(a);
}

gw_access *gw_access_open(const char *target, int json, char *err, size_t errlen)
{
    gw_access *a = calloc(1, sizeof(*a));
    if (!a || !(a->buf = malloc(BUFFER_BYTES)) || !(a->spare = malloc(BUFFER_BYTES))) {
        if (a)
            access_free(a);
        snprintf(err, errlen, "access_log: out of memory");
        return NULL;
    }
    a->json = json;
    if (strcmp(target, "-") == 0) {
        struct stat st;
        a->fd = STDERR_FILENO;
        a->pipe_like = !(fstat(a->fd, &st) == 0 && S_ISREG(st.st_mode));
    } else {
        a->path = strdup(target);
        a->fd = a->path ? open_file(target, &a->pipe_like) : -ENOMEM;
        if (a->fd < 0) {
            snprintf(err, errlen, "access_log %s: %s", target, strerror(-a->fd));
            access_free(a);
            return NULL;
        }
    }
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->write_lock, NULL);
    pthread_cond_init(&a->returned, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->wake, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&a->flusher, NULL, flusher, a);
    if (rc != 0) {
        snprintf(err, errlen, "access_log: pthread_create: %s", strerror(rc));
        if (a->path)
            close(a->fd);
        pthread_cond_destroy(&a->wake);
        pthread_cond_destroy(&a->returned);
        pthread_mutex_destroy(&a->write_lock);
        pthread_mutex_destroy(&a->lock);
        access_free(a);
        return NULL;
    }
    return a;
}

void gw_access_log(gw_access *a, const gw_access_entry *e)
{
    char text[LINE_MAX_BYTES];
    size_t n = gw_access_format(e, a->json, text, sizeof(text));
    pthread_mutex_lock(&a->lock);
    while (a->len + n > BUFFER_BYTES) /* full while a batch is out: rare */
        flush_queued(a, 1);
    memcpy(a->buf + a->len, text, n);
    a->len += n;
    if (a->len >= BATCH_BYTES)
        flush_queued(a, 0);
    pthread_mutex_unlock(&a->lock);
}

int gw_access_reopen(gw_access *a)
{
    if (!a || !a->path)
        return 0;
    pthread_mutex_lock(&a->lock);
    flush_queued(a, 1); /* what was logged before goes to the old file */
    pthread_mutex_lock(&a->write_lock);
    int pipe_like;
    int fd = open_file(a->path, &pipe_like);
    if (fd >= 0) {
        close(a->fd);
        a->fd = fd;
        a->pipe_like = pipe_like;
    }
    pthread_mutex_unlock(&a->write_lock);
    pthread_mutex_unlock(&a->lock);
    return fd < 0 ? fd : 0;
}

void gw_access_close(gw_access *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    a->stopping = 1;
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->flusher, NULL);
    pthread_mutex_lock(&a->lock);
    flush_queued(a, 1);
    pthread_mutex_unlock(&a->lock);
    if (a->path)
        close(a->fd);
    pthread_cond_destroy(&a->wake);
    pthread_cond_destroy(&a->returned);
    pthread_mutex_destroy(&a->write_lock);
    pthread_mutex_destroy(&a->lock);
    access_free(a);
}
