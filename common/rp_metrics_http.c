/*
 * rp_metrics_http.c -- GET /metrics on a socket of its own, one connection
 * at a time, each within one deadline.  Owns its socket, wake pipe and
 * thread; the registry it renders is the caller's.
 */
#include "rp_metrics_http.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rp_log.h"
#include "rp_notify.h"

#define REQUEST_MAX 8192
#define CLIENT_TIMEOUT_MS 2000 /* to read the request and write the answer, in all */
#define ACCEPT_BACKOFF_MS 100  /* after accept4 ran out of fds or memory */

struct rp_metrics_http {
    int fd;
    int wake[2]; /* a byte on wake[1] stops the thread; it stays readable */
    int started; /* thread runs */
    int starved; /* accept4 failed for want of fds or memory, logged once */
    rp_metrics *metrics;
    pthread_t thread;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd has one of `events`, or the deadline passes, or the
 * endpoint is being stopped.  Returns 1 for the first (errors and hang-ups
 * count: the next recv or send reports them), 0 otherwise. */
static int wait_fd(const rp_metrics_http *h, int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p[2] = {{.fd = fd, .events = events},
                              {.fd = h->wake[0], .events = POLLIN}};
        int n = poll(p, 2, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || p[1].revents)
            return 0;
        if (p[0].revents)
            return 1;
    }
}

/* Writes all n bytes to the non-blocking fd before the deadline.  Returns 0
 * or -1 (the client went, was too slow, or the endpoint is stopping). */
static int send_all(const rp_metrics_http *h, int fd, const char *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_fd(h, fd, POLLOUT, deadline))
                return -1;
            continue;
        }
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Sends the head, with Content-Length len, and the body unless the request
 * was HEAD (which gets the same head as GET). */
static void respond(const rp_metrics_http *h, int fd, int64_t deadline, const char *status,
                    const char *extra, const char *type, const char *body, size_t len,
                    int head_only)
{
    char head[320];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %s\r\n%sContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n", status, extra, type, len);
    if (n < 0 || (size_t)n >= sizeof(head))
        return;
    if (send_all(h, fd, head, (size_t)n, deadline) == 0 && !head_only)
        send_all(h, fd, body, len, deadline);
}

/* Reads the request head (up to the blank line) from the non-blocking fd
 * and answers it, all before one deadline. */
static void serve_one(rp_metrics_http *h, int fd)
{
    int64_t deadline = now_ms() + CLIENT_TIMEOUT_MS;
    char req[REQUEST_MAX + 1];
    size_t len = 0;
    while (len < REQUEST_MAX) {
        ssize_t r = recv(fd, req + len, REQUEST_MAX - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_fd(h, fd, POLLIN, deadline))
                return;
            continue;
        }
        if (r <= 0)
            return;
        len += (size_t)r;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
            break;
    }
    req[len] = '\0';
    const char *text = "text/plain; charset=utf-8";
    int get = strncmp(req, "GET ", 4) == 0, head = strncmp(req, "HEAD ", 5) == 0;
    if (!get && !head) {
        respond(h, fd, deadline, "405 Method Not Allowed", "Allow: GET, HEAD\r\n", text,
                "only GET and HEAD\n", 18, 0);
        return;
    }
    const char *path = req + (get ? 4 : 5);
    size_t plen = strcspn(path, " ?\r\n");
    if (plen != 8 || strncmp(path, "/metrics", 8) != 0) {
        respond(h, fd, deadline, "404 Not Found", "", text, "GET /metrics\n", 13, head);
        return;
    }
    rp_text out = {0};
    rp_metrics_render(h->metrics, &out); /* for HEAD too: its Content-Length is GET's */
    if (out.oom)
        respond(h, fd, deadline, "500 Internal Server Error", "", text, "out of memory\n", 14,
                head);
    else
        respond(h, fd, deadline, "200 OK", "", RP_METRICS_CONTENT_TYPE, out.s, out.len, head);
    rp_text_free(&out);
}

/* After accept4 ran out of fds or memory: the listening socket stays
 * readable, so wait a little (or until stopped) instead of spinning. */
static void accept_backoff(rp_metrics_http *h, int err)
{
    if (!h->starved)
        rp_log("metrics: accept4: %s; retrying every %d ms", strerror(err), ACCEPT_BACKOFF_MS);
    h->starved = 1;
    struct pollfd w = {.fd = h->wake[0], .events = POLLIN};
    (void)poll(&w, 1, ACCEPT_BACKOFF_MS); /* EINTR: the loop retries sooner */
}

static void *run(void *arg)
{
    rp_metrics_http *h = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = h->fd, .events = POLLIN}, {.fd = h->wake[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            rp_log("metrics: poll: %s", strerror(errno));
            return NULL;
        }
        if (p[1].revents)
            return NULL;
        int fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_backoff(h, errno);
            continue; /* EAGAIN, ECONNABORTED, EINTR: try again on the next event */
        }
        h->starved = 0;
        serve_one(h, fd);
        close(fd);
    }
}

rp_metrics_http *rp_metrics_http_bind(const char *addr, rp_metrics *m, int reuseport,
                                      char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (rp_notify_tcp_address(addr, &ss, &sl) < 0) {
        snprintf(err, errlen, "metrics_listen %s: not an IP address and port", addr);
        return NULL;
    }
    rp_metrics_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->metrics = m;
    h->wake[0] = h->wake[1] = -1;
    h->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (h->fd < 0) {
        snprintf(err, errlen, "metrics_listen %s: socket: %s", addr, strerror(errno));
        goto fail;
    }
    /* SO_REUSEADDR: a restart binds again while the last one's
     * connections linger in TIME_WAIT */
    if (setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        (reuseport && setsockopt(h->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)) {
        snprintf(err, errlen, "metrics_listen %s: setsockopt: %s", addr, strerror(errno));
        goto fail;
    }
    if (bind(h->fd, (struct sockaddr *)&ss, sl) < 0 || listen(h->fd, 64) < 0) {
        snprintf(err, errlen, "metrics_listen %s: %s", addr, strerror(errno));
        goto fail;
    }
    if (pipe2(h->wake, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "metrics_listen: pipe: %s", strerror(errno));
        goto fail;
    }
    return h;
fail:
    rp_metrics_http_stop(h);
    return NULL;
}

int rp_metrics_http_start(rp_metrics_http *h, char *err, size_t errlen)
{
    if (h->started) {
        snprintf(err, errlen, "metrics_listen: started twice");
        return -EINVAL;
    }
    int rc = pthread_create(&h->thread, NULL, run, h);
    if (rc != 0) {
        snprintf(err, errlen, "metrics_listen: pthread_create: %s", strerror(rc));
        return -rc;
    }
    h->started = 1;
    return 0;
}

void rp_metrics_http_stop(rp_metrics_http *h)
{
    if (!h)
        return;
    if (h->started) {
        ssize_t w;
        do
            w = write(h->wake[1], "x", 1);
        while (w < 0 && errno == EINTR);
        pthread_join(h->thread, NULL);
    }
    if (h->fd >= 0)
        close(h->fd);
    if (h->wake[0] >= 0) {
        close(h->wake[0]);
        close(h->wake[1]);
    }
    free(h);
}
