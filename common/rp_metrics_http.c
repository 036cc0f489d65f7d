/*
 * rp_metrics_http.c -- GET /metrics on a socket of its own, up to 16
 * connections at once (MAX_CLIENTS), each read and answered within 2 s in
 * all (CLIENT_TIMEOUT_MS).  Owns its socket, wake pipe and thread; the
 * registry it renders is the caller's.
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

#include "rp_addr.h"
#include "rp_log.h"
#include "rp_notify.h"
#include "rp_time.h"

#define REQUEST_MAX 8192
#define CLIENT_TIMEOUT_MS 2000 /* to read the request and write the answer, in all */
#define MAX_CLIENTS 16         /* served at once; more wait in the listen queue */
#define ACCEPT_BACKOFF_MS 100  /* after accept4 ran out of fds or memory */

struct rp_metrics_http {
    int fd;
    int wake[2]; /* a byte on wake[1] stops the thread; it stays readable */
    int started; /* thread runs */
    int starved; /* accept4 failed for want of fds or memory, logged once */
    rp_metrics *metrics;
    pthread_t thread;
};

/* One connection: its request head as it arrives, then its answer as it
 * goes out, all before its deadline. */
typedef struct client {
    int fd; /* -1: a free slot */
    int64_t deadline;
    char req[REQUEST_MAX + 1];
    size_t req_len;
    rp_text out; /* the answer, once the request is read */
    size_t out_off;
    int answering;
} client;

static void client_close(client *c)
{
    close(c->fd);
    rp_text_free(&c->out);
    c->fd = -1;
    c->req_len = c->out_off = 0;
    c->answering = 0;
}

/* The answer: the head, with Content-Length len, and the body unless the
 * request was HEAD (which gets the same head as GET). */
static void answer(client *c, const char *status, const char *extra, const char *type,
                   const char *body, size_t len, int head_only)
{
    rp_text_printf(&c->out,
                   "HTTP/1.1 %s\r\n%sContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n", status, extra, type, len);
    if (!head_only)
        rp_text_puts(&c->out, body); /* body holds len bytes and a NUL */
    c->answering = 1;
}

/* The whole request head is in c->req: makes its answer. */
static void answer_request(const rp_metrics_http *h, client *c)
{
    const char *req = c->req, *text = "text/plain; charset=utf-8";
    int get = strncmp(req, "GET ", 4) == 0, head = strncmp(req, "HEAD ", 5) == 0;
    if (!get && !head) {
        answer(c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n", text, "only GET and HEAD\n",
               18, 0);
        return;
    }
    const char *path = req + (get ? 4 : 5);
    size_t plen = strcspn(path, " ?\r\n");
    if (plen != 8 || strncmp(path, "/metrics", 8) != 0) {
        answer(c, "404 Not Found", "", text, "GET /metrics\n", 13, head);
        return;
    }
    rp_text body = {0};
    rp_metrics_render(h->metrics, &body); /* for HEAD too: its Content-Length is GET's */
    if (body.oom)
        answer(c, "500 Internal Server Error", "", text, "out of memory\n", 14, head);
    else
        answer(c, "200 OK", "", RP_METRICS_CONTENT_TYPE, body.s, body.len, head);
    rp_text_free(&body);
}

/* Reads what c's client sent; answers once the head is complete (or
 * REQUEST_MAX bytes came).  Returns -1 when c is done with (closed). */
static int client_read(const rp_metrics_http *h, client *c)
{
    ssize_t r = recv(c->fd, c->req + c->req_len, REQUEST_MAX - c->req_len, 0);
    if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (r <= 0)
        return -1;
    c->req_len += (size_t)r;
    c->req[c->req_len] = '\0';
    if (c->req_len == REQUEST_MAX || strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
        answer_request(h, c);
    return 0;
}

/* Writes what the socket takes of c's answer.  -1 when done (or failed). */
static int client_write(client *c)
{
    if (c->out.oom)
        return -1;
    ssize_t w = send(c->fd, c->out.s + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
    if (w < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (w <= 0)
        return -1;
    c->out_off += (size_t)w;
    return c->out_off == c->out.len ? -1 : 0;
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

/* Takes a waiting connection into a free slot of clients[]. */
static void accept_client(rp_metrics_http *h, client *clients)
{
    int fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            accept_backoff(h, errno);
        return; /* EAGAIN, ECONNABORTED, EINTR: try again on the next event */
    }
    h->starved = 0;
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (clients[i].fd < 0) {
            clients[i].fd = fd;
            clients[i].deadline = rp_monotonic_ms() + CLIENT_TIMEOUT_MS;
            return;
        }
    }
    close(fd); /* not reached: the listener is polled only with a slot free */
}

static void *run(void *arg)
{
    rp_metrics_http *h = arg;
    client clients[MAX_CLIENTS]; /* request buffers untouched until used */
    for (int i = 0; i < MAX_CLIENTS; i++) {
        clients[i].fd = -1;
        clients[i].req_len = clients[i].out_off = 0;
        clients[i].out = (rp_text){0};
        clients[i].answering = 0;
    }
    for (;;) {
        struct pollfd p[MAX_CLIENTS + 2];
        int slot_of[MAX_CLIENTS + 2], n = 0, free_slots = 0;
        int64_t now = rp_monotonic_ms(), wait = -1;
        for (int i = 0; i < MAX_CLIENTS; i++) {
            client *c = &clients[i];
            if (c->fd >= 0 && c->deadline <= now)
                client_close(c); /* too slow: reading its request and the answer, in all */
            if (c->fd < 0) {
                free_slots++;
                continue;
            }
            int64_t left = c->deadline - now;
            wait = wait < 0 || left < wait ? left : wait;
            slot_of[n] = i;
            p[n++] = (struct pollfd){.fd = c->fd, .events = c->answering ? POLLOUT : POLLIN};
        }
        int first_extra = n;
        p[n++] = (struct pollfd){.fd = h->wake[0], .events = POLLIN};
        if (free_slots) /* else connections wait in the listen queue */
            p[n++] = (struct pollfd){.fd = h->fd, .events = POLLIN};
        int ready = poll(p, (nfds_t)n, (int)wait);
        if (ready < 0 && errno != EINTR) {
            rp_log("metrics: poll: %s", strerror(errno));
            break;
        }
        if (ready <= 0)
            continue;
        if (p[first_extra].revents)
            break; /* stopping */
        for (int j = 0; j < first_extra; j++) {
            client *c = &clients[slot_of[j]];
            if (!p[j].revents)
                continue;
            int rc = c->answering ? client_write(c) : client_read(h, c);
            if (rc == 0 && c->answering && !(p[j].events & POLLOUT))
                rc = client_write(c); /* the answer was just made: try at once */
            if (rc < 0)
                client_close(c);
        }
        if (free_slots && p[first_extra + 1].revents)
            accept_client(h, clients);
    }
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (clients[i].fd >= 0)
            client_close(&clients[i]);
    return NULL;
}

rp_metrics_http *rp_metrics_http_bind(const char *addr, rp_metrics *m, int reuseport,
                                      char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (rp_addr_tcp(addr, 1, &ss, &sl) < 0) {
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
