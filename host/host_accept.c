/*
 * host_accept.c -- accept4 at the open-files limit: the listener stays
 * watched (see host_accept.h).
 *
 * The reserve descriptor and its lock are this file's own: a wrapper of a
 * libc function has no context to carry them.
 */
#include "host_accept.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "rp_log.h"

#define SHED_MAX 256 /* connections closed per failed accept, at most */

/* guards reserve_fd: gRPC core may accept on several threads at once */
static pthread_mutex_t reserve_lock = PTHREAD_MUTEX_INITIALIZER;
static int reserve_fd = -1; /* /dev/null, held to be closed when accept4 finds no fd */
/* the line about connections shed, which a flood of them would repeat
 * without end: at most RP_LOG_BURST a second (rp_log.h) */
static rp_log_limit shed_log = RP_LOG_LIMIT_INIT;

int __real_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

int host_accept_keep_reserve(void)
{
    pthread_mutex_lock(&reserve_lock);
    if (reserve_fd < 0)
        reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int ok = reserve_fd >= 0;
    pthread_mutex_unlock(&reserve_lock);
    if (!ok)
        rp_log("cannot keep a file descriptor in reserve: %s (at the open-files limit "
               "a listener may stop accepting until the host restarts)", strerror(errno));
    return ok ? 0 : -1;
}

/* Closes what waits on listener fd with the reserve freed; the number
 * closed.  With reserve_lock held. */
static unsigned long shed_waiting(int fd)
{
    unsigned long shed = 0;
    if (reserve_fd < 0)
        reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC); /* taken back since? */
    if (reserve_fd < 0)
        return 0;
    close(reserve_fd);
    reserve_fd = -1;
    for (int c; shed < SHED_MAX && (c = __real_accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0;) {
        close(c);
        shed++;
    }
    reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC); /* -1 if another thread took it */
    return shed;
}

int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    int s = __real_accept4(fd, addr, len, flags);
    if (s >= 0 || (errno != EMFILE && errno != ENFILE))
        return s;
    int why = errno;
    pthread_mutex_lock(&reserve_lock);
    unsigned long shed = shed_waiting(fd);
    pthread_mutex_unlock(&reserve_lock);
    rp_log_limited(&shed_log, "out of file descriptors (%s): %lu new connection%s closed at "
                   "once, and the port stays open", strerror(why), shed, shed == 1 ? "" : "s");
    errno = EAGAIN; /* gRPC core watches the listener again */
    return -1;
}
