/*
 * sup_listen.c -- the gateway's listening socket, the host address lock and
 * the check that the host's ports are free.
 *
 * Opens sockets and lock files; never accepts a connection (the gateway
 * does) and never decides when to open or drop them (sup_main.c and
 * sup_reload.c do).
 */
#include "sup_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rp_addr.h"
#include "rp_notify.h"
#include "sup_reload_view.h"

/* "127.0.0.1:5505", "[::1]:5505": a TCP listen address by its numbers into
 * out[size].  Returns 0, or -1 if addr is not a TCP address. */
static int numeric_address(const char *addr, char *out, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char ip[INET6_ADDRSTRLEN];
    if (rp_addr_tcp(addr, 1, &ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
        snprintf(out, size, "%s:%d", ip, ntohs(sin->sin_port));
    } else {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
        snprintf(out, size, "[%s]:%d", ip, ntohs(sin6->sin6_port));
    }
    return 0;
}

int sup_same_address(const char *a, const char *b)
{
    char na[INET6_ADDRSTRLEN + 16], nb[INET6_ADDRSTRLEN + 16];
    if (!a || !b)
        return 0;
    if (numeric_address(a, na, sizeof(na)) < 0 || numeric_address(b, nb, sizeof(nb)) < 0)
        return strcmp(a, b) == 0;
    return strcmp(na, nb) == 0;
}

/* ---- the host address lock ------------------------------------------------ */

/* The folder for lock files into dir[size]: $XDG_RUNTIME_DIR, or
 * /tmp/rpcrest-UID, which must be ours and closed to others. */
static int lock_dir(char *dir, size_t size, char *err, size_t errlen)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    struct stat st;
    if (xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(dir, size, "%s", xdg);
        return 0;
    }
    snprintf(dir, size, "/tmp/rpcrest-%u", (unsigned)geteuid());
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        int e = errno;
        snprintf(err, errlen, "mkdir %s: %s", dir, strerror(e));
        return -e;
    }
    if (lstat(dir, &st) < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", dir, strerror(e));
        return -e;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
        snprintf(err, errlen, "%s: not a folder of our own closed to others", dir);
        return -EPERM;
    }
    return 0;
}

/* "host-127.0.0.1:5505.lock"; a long address (a unix path) by its hash. */
static void lock_name(const char *addr, char *name, size_t size)
{
    char numeric[INET6_ADDRSTRLEN + 16];
    const char *listen = numeric_address(addr, numeric, sizeof(numeric)) == 0 ? numeric : addr;
    size_t n = strlen(listen);
    if (n > 180) {
        uint64_t h = 1469598103934665603ull; /* FNV-1a */
        for (const char *p = listen; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
        snprintf(name, size, "host-%016llx.lock", (unsigned long long)h);
        return;
    }
    snprintf(name, size, "host-%s.lock", listen);
    for (char *p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == ':' || *p == '-' || *p == '[' || *p == ']'))
            *p = '_';
    }
}

int sup_lock_take(sup_lock *lock, const char *addr, char *err, size_t errlen)
{
    char dir[4096], name[256];
    lock->fd = -1;
    lock->path = NULL;
    int rc = lock_dir(dir, sizeof(dir), err, errlen);
    if (rc < 0)
        return rc;
    lock_name(addr, name, sizeof(name));
    if (asprintf(&lock->path, "%s/%s", dir, name) < 0) {
        lock->path = NULL;
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    rc = -ESTALE;
    for (int attempt = 0; attempt < 5; attempt++) {
        int fd = open(lock->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            rc = -errno;
            snprintf(err, errlen, "lock %s: %s", lock->path, strerror(-rc));
            break;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            int e = errno;
            char pid[32] = "";
            ssize_t n = read(fd, pid, sizeof(pid) - 1);
            pid[n > 0 ? n : 0] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
            if (e == EWOULDBLOCK)
                snprintf(err, errlen, "another rpcrestd%s%s serves %s (it holds %s)",
                         pid[0] ? " pid " : "", pid, addr, lock->path);
            else
                snprintf(err, errlen, "flock %s: %s", lock->path, strerror(e));
            rc = -e;
            close(fd);
            break;
        }
        /* the holder before us may have removed the file as we opened it */
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(lock->path, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev) {
            if (ftruncate(fd, 0) == 0)
                dprintf(fd, "%d\n", (int)getpid());
            lock->fd = fd;
            return 0;
        }
        close(fd);
        snprintf(err, errlen, "lock %s keeps changing", lock->path);
    }
    free(lock->path);
    lock->path = NULL;
    return rc;
}

void sup_lock_release(sup_lock *lock)
{
    if (lock->fd >= 0) {
        (void)unlink(lock->path);
        close(lock->fd);
    }
    free(lock->path);
    lock->fd = -1;
    lock->path = NULL;
}

/* ---- the host's ports ------------------------------------------------------ */

/* Why the host could not bind TCP address `addr`, as a negative errno from
 * a trial bind, or 0.  Something listening there makes a bind without
 * SO_REUSEPORT fail with EADDRINUSE, even when the listener has
 * SO_REUSEPORT; SO_REUSEADDR, so that connections of an earlier host in
 * TIME_WAIT do not count.  Only errors of the address itself count
 * (rp_notify_listen_error_is_config): a machine out of descriptors is not
 * the INI's fault. */
static int tcp_bind_error(const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (rp_addr_tcp(addr, 1, &ss, &len) < 0)
        return 0; /* not TCP */
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return rp_notify_listen_error_is_config(-errno) ? -errno : 0;
    int one = 1, rc = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
        bind(fd, (struct sockaddr *)&ss, len) < 0 && rp_notify_listen_error_is_config(-errno))
        rc = -errno;
    close(fd);
    return rc;
}

/* The folder a unix socket address ("unix:PATH") needs, or 0: a negative
 * errno when it is missing or not a folder.  (Abstract names need none.) */
static int unix_folder_error(const char *addr, char *folder, size_t size)
{
    if (strncmp(addr, "unix:", 5) != 0 || addr[5] == '@')
        return 0;
    snprintf(folder, size, "%s", addr + 5);
    char *slash = strrchr(folder, '/');
    if (!slash)
        snprintf(folder, size, ".");
    else if (slash == folder)
        slash[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (stat(folder, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* The check for one address of cfg's host, [host] key. */
static int host_port_free(const rp_config *cfg, const rp_config *running, const char *key,
                          const char *addr, char *err, size_t errlen)
{
    if (!addr || (running && (sup_same_address(addr, running->host.listen) ||
                              sup_same_address(addr, running->host.metrics_listen))))
        return 0;
    char where[PATH_MAX + 32], numeric[INET6_ADDRSTRLEN + 16], folder[PATH_MAX];
    int rc = unix_folder_error(addr, folder, sizeof(folder));
    if (rc < 0) {
        rp_config_where(cfg, "host", key, where, sizeof(where));
        snprintf(err, errlen, "%s: [host] %s: %s: folder %s: %s", where, key, addr, folder,
                 strerror(-rc));
        return rc;
    }
    rc = tcp_bind_error(addr);
    if (rc == 0)
        return 0;
    rp_config_where(cfg, "host", key, where, sizeof(where));
    if (numeric_address(addr, numeric, sizeof(numeric)) < 0)
        snprintf(numeric, sizeof(numeric), "%s", addr);
    if (rc == -EADDRINUSE)
        snprintf(err, errlen, "%s: [host] %s: %s is in use by another process", where, key,
                 numeric);
    else
        snprintf(err, errlen, "%s: [host] %s: cannot bind %s: %s", where, key, numeric,
                 strerror(-rc));
    return rc;
}

int sup_host_ports_free(const rp_config *cfg, const rp_config *running, char *err,
                        size_t errlen)
{
    int rc = host_port_free(cfg, running, "listen", cfg->host.listen, err, errlen);
    if (rc == 0)
        rc = host_port_free(cfg, running, "metrics_listen", cfg->host.metrics_listen, err,
                            errlen);
    return rc;
}
