/*
 * sup_ctl.h -- rpcrestd's control socket, the server side of rpcrestctl.
 *
 * A unix stream socket (mode 0600; peers other than our own user and root
 * are refused) taking one request line per connection and answering with
 * "STATUS\n" followed by text, then closing.  Owns the socket, its file and
 * the connections, all non-blocking; what a request means is the handler's
 * (sup_main.c).
 */
#ifndef SUP_CTL_H
#define SUP_CTL_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "rp_text.h"
#include "sup_log.h"

#define SUP_CTL_MAX_CLIENTS 8 /* served at once; more wait in the listen queue */
#define SUP_CTL_BACKLOG 64
#define SUP_CTL_REQUEST_MAX 512
#define SUP_CTL_TIMEOUT_MS 5000 /* a client that neither asks nor reads is dropped */
#define SUP_CTL_ACCEPT_PAUSE_MS 100 /* after accept failed for want of files or memory */

/* A handler's "the answer comes later" (sup_ctl_answer_waiting). */
#define SUP_CTL_LATER (-1)

/* Answers `request` (the line, without its newline) in *reply and returns
 * the exit status rpcrestctl is to end with, or SUP_CTL_LATER: the client
 * then waits, with no deadline, for sup_ctl_answer_waiting. */
typedef int (*sup_ctl_handler)(void *arg, const char *request, rp_text *reply);

typedef struct sup_ctl_client {
    int fd; /* -1: a free slot */
    char in[SUP_CTL_REQUEST_MAX];
    size_t in_len;
    rp_text out;
    size_t out_off;
    int64_t deadline_ms;
    int denied; /* another user: its request is read, then refused */
    int too_long; /* the request outgrew in[]: read on to its newline, then refused */
    int waiting; /* its handler said SUP_CTL_LATER */
} sup_ctl_client;

typedef struct sup_ctl {
    int fd;     /* the listening socket, or -1 */
    char *path; /* its file; owned */
    sup_ctl_client clients[SUP_CTL_MAX_CLIENTS];
    int64_t accept_resume_ms; /* > 0: accept failed (EMFILE, ...); not polled until then */
    int accept_failing;       /* ... and that was logged; a connection accepted clears it */
} sup_ctl;

/* A closed control socket (sup_ctl_close is then a no-op). */
void sup_ctl_init(sup_ctl *ctl);

/* Listens on `path`.  A stale socket file left by a killed rpcrestd is
 * replaced; one that another rpcrestd answers on, or a file that is not a
 * socket, is an error.  Returns 0, or -ENAMETOOLONG (a path longer than a
 * unix socket's) or -1, with the reason, which starts with the path, in
 * err[errlen]. */
int sup_ctl_open(sup_ctl *ctl, const char *path, char *err, size_t errlen);

/* Closes the socket and its connections and removes the file. */
void sup_ctl_close(sup_ctl *ctl);

/* Fills pfd[0..) with what to poll (at most 1 + SUP_CTL_MAX_CLIENTS);
 * returns how many. */
size_t sup_ctl_pollfds(const sup_ctl *ctl, struct pollfd *pfd);

/* Serves what poll reported for the n entries sup_ctl_pollfds filled. */
void sup_ctl_serve(sup_ctl *ctl, const struct pollfd *pfd, size_t n, sup_ctl_handler handler,
                   void *arg, sup_logger *lg, int64_t now);

/* Answers every waiting client with `status` and `text`. */
void sup_ctl_answer_waiting(sup_ctl *ctl, int status, const char *text, int64_t now);

/* Drops clients past their deadline and ends a pause of accepting that is
 * over; returns ms until the next of these, or -1. */
int64_t sup_ctl_deadlines(sup_ctl *ctl, int64_t now);

#endif /* SUP_CTL_H */
