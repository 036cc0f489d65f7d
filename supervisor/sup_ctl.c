/*
 * sup_ctl.c -- the control socket: accept, read one request line, answer,
 * close; never blocking the supervisor's loop.
 */
#include "sup_ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rp_addr.h"

void sup_ctl_init(sup_ctl *ctl)
{
    memset(ctl, 0, sizeof(*ctl));
    ctl->fd = -1;
    for (int i = 0; i < SUP_CTL_MAX_CLIENTS; i++)
        ctl->clients[i].fd = -1;
}

/* A socket file already at path (whose address is sun, slen): 0 if it is
 * stale (removed), -1 if it is in use or not a socket (err set). */
static int clear_stale(const char *path, const struct sockaddr_un *sun, socklen_t slen,
                       char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s: exists and is not a socket", path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "%s: socket: %s", path, strerror(errno));
        return -1;
    }
    int rc = connect(fd, (const struct sockaddr *)sun, slen);
    int e = errno;
    close(fd);
    if (rc == 0) {
        snprintf(err, errlen, "%s: another rpcrestd answers on it", path);
        return -1;
    }
    if (e != ECONNREFUSED) {
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -1;
    }
    (void)unlink(path); /* left by an rpcrestd that was killed */
    return 0;
}

int sup_ctl_open(sup_ctl *ctl, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sun;
    socklen_t slen;
    if (rp_addr_unix(path, 0, &sun, &slen) < 0) {
        snprintf(err, errlen, "%s: longer than a unix socket path may be (%zu bytes)", path,
                 RP_ADDR_UNIX_PATH_MAX);
        return -ENAMETOOLONG;
    }
    if (clear_stale(path, &sun, slen, err, errlen) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "%s: socket: %s", path, strerror(errno));
        return -1;
    }
    mode_t old = umask(077); /* never reachable by others, not even for a moment */
    int rc = bind(fd, (struct sockaddr *)&sun, slen);
    int e = errno;
    umask(old);
    const char *step = "bind";
    if (rc == 0) {
        step = "chmod";
        rc = chmod(path, 0600);
        e = errno;
    }
    if (rc == 0) {
        step = "listen";
        rc = listen(fd, SUP_CTL_BACKLOG);
        e = errno;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s: %s", path, step, strerror(e));
        if (strcmp(step, "bind") != 0)
            (void)unlink(path);
        close(fd);
        return -1;
    }
    char *copy = strdup(path);
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        (void)unlink(path);
        close(fd);
        return -1;
    }
    ctl->fd = fd;
    ctl->path = copy;
    return 0;
}

static void drop(sup_ctl_client *cl)
{
    if (cl->fd >= 0)
        close(cl->fd);
    rp_text_free(&cl->out);
    cl->fd = -1;
    cl->in_len = 0;
    cl->out_off = 0;
    cl->waiting = 0;
    cl->too_long = 0;
}

void sup_ctl_close(sup_ctl *ctl)
{
    for (int i = 0; i < SUP_CTL_MAX_CLIENTS; i++)
        drop(&ctl->clients[i]);
    if (ctl->fd >= 0) {
        close(ctl->fd);
        (void)unlink(ctl->path);
    }
    free(ctl->path);
    sup_ctl_init(ctl);
}

/* The index of a free client place, or -1. */
static int free_slot(const sup_ctl *ctl)
{
    for (int i = 0; i < SUP_CTL_MAX_CLIENTS; i++)
        if (ctl->clients[i].fd < 0)
            return i;
    return -1;
}

size_t sup_ctl_pollfds(const sup_ctl *ctl, struct pollfd *pfd)
{
    size_t n = 0;
    if (ctl->fd < 0)
        return 0;
    /* with every place taken, or accept failing, new connections wait in
     * the listen queue */
    int accepting = free_slot(ctl) >= 0 && ctl->accept_resume_ms == 0;
    pfd[n++] = (struct pollfd){.fd = accepting ? ctl->fd : -1, .events = POLLIN};
    for (int i = 0; i < SUP_CTL_MAX_CLIENTS; i++) {
        const sup_ctl_client *cl = &ctl->clients[i];
        if (cl->fd >= 0 && !cl->waiting)
            pfd[n++] = (struct pollfd){.fd = cl->fd, .events = cl->out.s ? POLLOUT : POLLIN};
    }
    return n;
}

static void accept_clients(sup_ctl *ctl, sup_logger *lg, int64_t now)
{
    for (int i; (i = free_slot(ctl)) >= 0;) {
        sup_ctl_client *slot = &ctl->clients[i];
        int fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED) {
                /* out of files or memory: the connection stays queued, and
                 * polling for it again at once would spin */
                if (!ctl->accept_failing)
                    sup_log(lg, "control socket: accept: %s; trying again every %d ms",
                            strerror(errno), SUP_CTL_ACCEPT_PAUSE_MS);
                ctl->accept_failing = 1;
                ctl->accept_resume_ms = now + SUP_CTL_ACCEPT_PAUSE_MS;
            }
            return;
        }
        ctl->accept_failing = 0;
        struct ucred cred = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
        socklen_t len = sizeof(cred);
        int denied = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
                     (cred.uid != geteuid() && cred.uid != 0);
        if (denied)
            sup_log(lg, "control socket: refused a connection from uid %d", (int)cred.uid);
        slot->fd = fd;
        slot->in_len = 0;
        slot->too_long = 0;
        slot->out_off = 0;
        slot->deadline_ms = now + SUP_CTL_TIMEOUT_MS;
        slot->denied = denied;
    }
}

/* Reads the request; once it is whole (a newline, or the client's end of
 * the connection after some bytes), builds the answer.  A request too
 * long for in[] is read to its newline (and dropped) before the answer, so
 * that closing the connection does not reset it, answer unread. */
static void read_request(sup_ctl_client *cl, sup_ctl_handler handler, void *arg)
{
    for (size_t budget = 64 * 1024;;) { /* then the loop's turn: a flood does not hold it */
        size_t room = sizeof(cl->in) - 1 - cl->in_len;
        if (room == 0) {
            cl->too_long = 1;
            cl->in_len = 0;
            room = sizeof(cl->in) - 1;
        }
        ssize_t n = read(cl->fd, cl->in + cl->in_len, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) {
            drop(cl);
            return;
        }
        cl->in_len += (size_t)n;
        cl->in[cl->in_len] = '\0';
        char *nl = memchr(cl->in, '\n', cl->in_len); /* not strchr: the line may hold a NUL */
        if (!nl && n > 0) {
            budget -= (size_t)n < budget ? (size_t)n : budget;
            if (budget == 0)
                return;
            continue;
        }
        if (!nl && !cl->too_long && cl->in_len == 0) {
            drop(cl); /* hung up without asking anything */
            return;
        }
        if (!nl)
            nl = cl->in + cl->in_len; /* the end of the connection ends the line */
        rp_text body = {0};
        int status = 1;
        if (cl->denied) {
            rp_text_printf(&body, "rpcrestd: permission denied\n");
        } else if (cl->too_long) {
            rp_text_printf(&body, "rpcrestd: request longer than %d bytes\n",
                           SUP_CTL_REQUEST_MAX - 1);
        } else if (memchr(cl->in, '\0', (size_t)(nl - cl->in))) {
            rp_text_printf(&body, "rpcrestd: a request line may not hold a NUL byte\n");
        } else {
            *nl = '\0';
            status = handler(arg, cl->in, &body);
            if (status == SUP_CTL_LATER) {
                cl->waiting = 1;
                rp_text_free(&body);
                return;
            }
        }
        rp_text_printf(&cl->out, "%d\n%.*s", status, (int)body.len, body.s ? body.s : "");
        if (body.oom || cl->out.oom) {
            rp_text_free(&cl->out);
            rp_text_printf(&cl->out, "1\nrpcrestd: out of memory\n");
        }
        rp_text_free(&body);
        return;
    }
}

static void write_answer(sup_ctl_client *cl)
{
    while (cl->out_off < cl->out.len) {
        ssize_t n = write(cl->fd, cl->out.s + cl->out_off, cl->out.len - cl->out_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0)
            break;
        cl->out_off += (size_t)n;
    }
    drop(cl);
}

void sup_ctl_serve(sup_ctl *ctl, const struct pollfd *pfd, size_t n, sup_ctl_handler handler,
                   void *arg, sup_logger *lg, int64_t now)
{
    for (size_t i = 0; i < n; i++) {
        if (!pfd[i].revents)
            continue;
        if (pfd[i].fd == ctl->fd) {
            accept_clients(ctl, lg, now);
            continue;
        }
        for (int j = 0; j < SUP_CTL_MAX_CLIENTS; j++) {
            sup_ctl_client *cl = &ctl->clients[j];
            if (cl->fd != pfd[i].fd)
                continue;
            if (!cl->out.s)
                read_request(cl, handler, arg);
            if (cl->fd >= 0 && cl->out.s)
                write_answer(cl);
            break;
        }
    }
}

void sup_ctl_answer_waiting(sup_ctl *ctl, int status, const char *text, int64_t now)
{
    for (int i = 0; i < SUP_CTL_MAX_CLIENTS; i++) {
        sup_ctl_client *cl = &ctl->clients[i];
        if (cl->fd < 0 || !cl->waiting)
            continue;
        cl->waiting = 0;
        cl->deadline_ms = now + SUP_CTL_TIMEOUT_MS; /* for the answer's write */
        rp_text_printf(&cl->out, "%d\n%s", status, text);
        if (cl->out.oom) {
            rp_text_free(&cl->out);
            rp_text_printf(&cl->out, "1\nrpcrestd: out of memory\n");
        }
        write_answer(cl);
    }
}

int64_t sup_ctl_deadlines(sup_ctl *ctl, int64_t now)
{
    int64_t next = -1;
    if (ctl->accept_resume_ms > 0 && now >= ctl->accept_resume_ms)
        ctl->accept_resume_ms = 0;
    else if (ctl->accept_resume_ms > 0)
        next = ctl->accept_resume_ms - now;
    for (int i = 0; i < SUP_CTL_MAX_CLIENTS; i++) {
        sup_ctl_client *cl = &ctl->clients[i];
        if (cl->fd < 0 || cl->waiting)
            continue;
        if (now >= cl->deadline_ms) {
            drop(cl);
            continue;
        }
        int64_t left = cl->deadline_ms - now;
        if (next < 0 || left < next)
            next = left;
    }
    return next;
}
