/*
 * sup_listen.c -- the gateway's listening socket and the host address lock.
 *
 * Opens sockets and lock files; never accepts a connection (the gateway
 * does) and never decides when to open or drop them (sup_main.c does).
 */
#include "sup_listen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rp_notify.h"

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
        snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
        return -1;
    }
    if (lstat(dir, &st) < 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
        snprintf(err, errlen, "%s: not a folder of our own closed to others", dir);
        return -1;
    }
    return 0;
}

/* "host-127.0.0.1:5505.lock"; a long address (a unix path) by its hash. */
static void lock_name(const char *listen, char *name, size_t size)
{
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
    if (lock_dir(dir, sizeof(dir), err, errlen) < 0)
        return -1;
    lock_name(addr, name, sizeof(name));
    if (asprintf(&lock->path, "%s/%s", dir, name) < 0) {
        lock->path = NULL;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int attempt = 0; attempt < 5; attempt++) {
        int fd = open(lock->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            snprintf(err, errlen, "lock %s: %s", lock->path, strerror(errno));
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
    return -1;
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
