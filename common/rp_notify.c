/*
 * rp_notify.c -- the environment protocol between rpcrestd and its children
 * (readiness fd, inherited listeners, hand-over switch), and rpcrestd's
 * sd_notify.  Reads the environment and a few fds; owns no other state.
 */
#include "rp_notify.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "rp_addr.h"
#include "rp_config.h"

/* A non-negative int from the environment variable, or -1. */
static int env_int(const char *name)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < 0 || v > INT_MAX)
        return -1;
    return (int)v;
}

int rp_notify_supervised(void)
{
    return env_int(RP_NOTIFY_FD_ENV) >= 0;
}

int rp_notify_ready(void)
{
    int fd = env_int(RP_NOTIFY_FD_ENV);
    unsetenv(RP_NOTIFY_FD_ENV);
    if (fd < 0)
        return 0;
    static const char line[] = "READY\n";
    ssize_t n;
    do
        n = write(fd, line, sizeof(line) - 1);
    while (n < 0 && errno == EINTR);
    int err = n < 0 ? errno : 0;
    close(fd);
    return err ? -err : 0;
}

/* 1 if fd is a listening TCP socket bound to want. */
static int listens_on(int fd, const struct sockaddr_storage *want)
{
    int listening = 0;
    socklen_t optlen = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) < 0 || !listening)
        return 0;
    struct sockaddr_storage got;
    socklen_t len = sizeof(got);
    if (getsockname(fd, (struct sockaddr *)&got, &len) < 0 || got.ss_family != want->ss_family)
        return 0;
    if (want->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)want;
        const struct sockaddr_in *b = (const struct sockaddr_in *)&got;
        return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)want;
    const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)&got;
    return a->sin6_port == b->sin6_port &&
           memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0;
}

int rp_notify_listener(const char *listen)
{
    int n = env_int("LISTEN_FDS");
    int pid = env_int("LISTEN_PID");
    if (n <= 0 || pid != (int)getpid())
        return -1;
    struct sockaddr_storage want;
    socklen_t len;
    if (rp_addr_tcp(listen, 1, &want, &len) < 0)
        return -1;
    for (int fd = RP_LISTEN_FDS_START; fd < RP_LISTEN_FDS_START + n; fd++) {
        if (listens_on(fd, &want)) {
            (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
            return fd;
        }
    }
    return -1;
}

int rp_notify_handover(void)
{
    const char *s = getenv(RP_HANDOVER_ENV);
    return s && strcmp(s, "1") == 0;
}

/* The address of a listening TCP socket with SO_REUSEPORT into *ss, or -1. */
static int reuseport_listener(int fd, struct sockaddr_storage *ss)
{
    int on = 0;
    socklen_t optlen = sizeof(on);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &optlen) < 0 || !on)
        return -1;
    optlen = sizeof(on);
    if (getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, &optlen) < 0 || !on)
        return -1;
    socklen_t len = sizeof(*ss);
    if (getsockname(fd, (struct sockaddr *)ss, &len) < 0)
        return -1;
    return ss->ss_family == AF_INET || ss->ss_family == AF_INET6 ? 0 : -1;
}

static int port_of(const struct sockaddr_storage *ss)
{
    return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
                                          : ((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* How many sockets listen on ss's address and port, as /proc/net/tcp(6)
 * shows them (every process's, so the whole SO_REUSEPORT group). */
static int count_listeners(const struct sockaddr_storage *ss)
{
    char key[64];
    const char *table = "/proc/net/tcp";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        snprintf(key, sizeof(key), "%08X:%04X", (unsigned)sin->sin_addr.s_addr, port_of(ss));
    } else {
        uint32_t w[4];
        memcpy(w, &((const struct sockaddr_in6 *)ss)->sin6_addr, sizeof(w));
        snprintf(key, sizeof(key), "%08X%08X%08X%08X:%04X", (unsigned)w[0], (unsigned)w[1],
                 (unsigned)w[2], (unsigned)w[3], port_of(ss));
        table = "/proc/net/tcp6";
    }
    FILE *f = fopen(table, "re");
    if (!f)
        return -1;
    char line[512], local[64], state[8];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, " %*s %63s %*s %7s", local, state) == 2 &&
            strcasecmp(local, key) == 0 && strcmp(state, "0A") == 0) /* TCP_LISTEN */
            n++;
    fclose(f);
    return n;
}

int rp_notify_steer_to_newest(const char *listen)
{
    if (strncmp(listen, "unix:", 5) == 0)
        return 0;
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return -errno;
    /* Our listeners joined the group last (gRPC opens one per poller), so
     * the last index is one of ours; once the older ones have gone it is
     * out of range and the kernel falls back to its hash over ours. */
    int found = 0, err = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        int fd = atoi(e->d_name);
        struct sockaddr_storage ss;
        if (fd <= 2 || fd == dirfd(dir) || reuseport_listener(fd, &ss) < 0)
            continue;
        int n = count_listeners(&ss);
        if (n <= 0)
            continue;
        struct sock_filter code[] = {BPF_STMT(BPF_RET | BPF_K, (unsigned)(n - 1))};
        struct sock_fprog prog = {.len = 1, .filter = code};
        if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) < 0)
            err = errno;
        else
            found++;
    }
    closedir(dir);
    return err && !found ? -err : found;
}

int rp_notify_systemd(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return 0;
    struct sockaddr_un sun;
    socklen_t slen;
    if (path[0] != '/' && path[0] != '@')
        return -EINVAL;
    if (rp_addr_unix(path, 1, &sun, &slen) < 0)
        return -ENAMETOOLONG;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun, slen);
    int err = n < 0 ? errno : 0;
    close(fd);
    return err ? -err : 1;
}

int rp_notify_listen_tcp(const char *addr, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (rp_addr_tcp(addr, 1, &ss, &len) < 0) {
        snprintf(err, errlen, "'%s' is not IP:PORT, [IPV6]:PORT or localhost:PORT", addr);
        return -EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "socket: %s", strerror(e));
        return -e;
    }
    int one = 1;
    const char *step = "setsockopt(SO_REUSEADDR)";
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    step = "bind";
    if (bind(fd, (struct sockaddr *)&ss, len) < 0)
        goto fail;
    step = "listen";
    if (listen(fd, SOMAXCONN) < 0)
        goto fail;
    return fd;
fail:;
    int e = errno;
    snprintf(err, errlen, "%s %s: %s", step, addr, strerror(e));
    close(fd);
    return -e;
}

int rp_notify_listen_error_is_config(int rc)
{
    return rc == -EINVAL || rc == -EADDRINUSE || rc == -EADDRNOTAVAIL || rc == -EACCES ||
           rc == -EAFNOSUPPORT;
}
