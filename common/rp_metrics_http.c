/*
 * rp_metrics_http.c -- GET /metrics on a socket of its own, one connection
 * at a time.
 */
#include "rp_metrics_http.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "rp_log.h"
#include "rp_notify.h"

#define REQUEST_MAX 8192
#define CLIENT_TIMEOUT_MS 2000

struct rp_metrics_http {
    int fd;
    int wake[2]; /* a byte on wake[1] stops the thread */
    rp_metrics *metrics;
    pthread_t thread;
};

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void respond(int fd, const char *status, const char *type, const char *body,
                    size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n", status, type, len);
    if (send_all(fd, head, (size_t)n) == 0)
        send_all(fd, body, len);
}

/* Reads the request head (up to the blank line) and answers it. */
static void serve_one(rp_metrics_http *h, int fd)
{
    char req[REQUEST_MAX + 1];
    size_t len = 0;
    while (len < REQUEST_MAX) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, CLIENT_TIMEOUT_MS) <= 0)
            return;
        ssize_t r = recv(fd, req + len, REQUEST_MAX - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        len += (size_t)r;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
            break;
    }
    req[len] = '\0';
    const char *text = "text/plain; charset=utf-8";
    if (strncmp(req, "GET ", 4) != 0 && strncmp(req, "HEAD ", 5) != 0) {
        respond(fd, "405 Method Not Allowed", text, "only GET\n", 9);
        return;
    }
    const char *path = req + (req[0] == 'G' ? 4 : 5);
    size_t plen = strcspn(path, " ?\r\n");
    if (plen != 8 || strncmp(path, "/metrics", 8) != 0) {
        respond(fd, "404 Not Found", text, "GET /metrics\n", 13);
        return;
    }
    rp_mtext out = {0};
    rp_metrics_render(h->metrics, &out);
    if (out.oom)
        respond(fd, "500 Internal Server Error", text, "out of memory\n", 14);
    else
        respond(fd, "200 OK", RP_METRICS_CONTENT_TYPE, req[0] == 'G' ? out.s : "",
                req[0] == 'G' ? out.len : 0);
    rp_mtext_free(&out);
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
        int fd = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue; /* EAGAIN, ECONNABORTED, EMFILE: try again on the next event */
        struct timeval tv = {.tv_sec = CLIENT_TIMEOUT_MS / 1000};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)); /* a client that does not read */
        serve_one(h, fd);
        close(fd);
    }
}

rp_metrics_http *rp_metrics_http_start(const char *addr, rp_metrics *m, int reuseport,
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
    setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport)
        setsockopt(h->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(h->fd, (struct sockaddr *)&ss, sl) < 0 || listen(h->fd, 64) < 0) {
        snprintf(err, errlen, "metrics_listen %s: %s", addr, strerror(errno));
        goto fail;
    }
    if (pipe2(h->wake, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "metrics_listen: pipe: %s", strerror(errno));
        goto fail;
    }
    int rc = pthread_create(&h->thread, NULL, run, h);
    if (rc != 0) {
        snprintf(err, errlen, "metrics_listen: pthread_create: %s", strerror(rc));
        goto fail;
    }
    return h;
fail:
    if (h->fd >= 0)
        close(h->fd);
    if (h->wake[0] >= 0) {
        close(h->wake[0]);
        close(h->wake[1]);
    }
    free(h);
    return NULL;
}

void rp_metrics_http_stop(rp_metrics_http *h)
{
    if (!h)
        return;
    ssize_t w;
    do
        w = write(h->wake[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(h->thread, NULL);
    close(h->fd);
    close(h->wake[0]);
    close(h->wake[1]);
    free(h);
}
