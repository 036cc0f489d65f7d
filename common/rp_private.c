/*
 * rp_private.c -- where the host's private unix socket is, publishing it
 * (a symlink to the newest host's own socket) and probing it.  See
 * rp_private.h.
 */
#include "rp_private.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rp_addr.h"

#define PID_SUFFIX_MAX 12 /* ".4194304" and room to spare */

/* $XDG_RUNTIME_DIR when it is a folder, else /tmp/rpcrest-UID. */
static void runtime_dir(char *out, size_t outlen)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    struct stat st;
    if (xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode))
        snprintf(out, outlen, "%s", xdg);
    else
        snprintf(out, outlen, "/tmp/rpcrest-%u", (unsigned)geteuid());
}

int rp_private_path(const rp_config *cfg, char *out, size_t outlen)
{
    const char *conf = cfg->host.private_listen;
    if ((conf && strcmp(conf, "off") == 0) || strncmp(cfg->host.listen, "unix:", 5) == 0)
        return 0;
    int n;
    if (conf) {
        n = snprintf(out, outlen, "%s", conf + 5); /* "unix:PATH", absolute */
    } else {
        uint64_t h = 1469598103934665603ull; /* FNV-1a of the public address */
        for (const char *p = cfg->host.listen; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
        char dir[256];
        runtime_dir(dir, sizeof(dir));
        n = snprintf(out, outlen, "%s/host-%016llx.sock", dir, (unsigned long long)h);
    }
    if (n < 0 || (size_t)n >= outlen || (size_t)n + PID_SUFFIX_MAX > RP_ADDR_UNIX_PATH_MAX)
        return -1;
    return 1;
}

/* The folder of `path` into dir[dirlen]. */
static void parent_of(const char *path, char *dir, size_t dirlen)
{
    snprintf(dir, dirlen, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    else
        snprintf(dir, dirlen, "/");
}

/* 0 if `dir` is a folder (not a symlink) of this process's effective user
 * that nobody else may enter, else -1 with the reason in err[errlen]. */
static int check_folder(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(dir, &st) < 0) {
        snprintf(err, errlen, "lstat %s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
        snprintf(err, errlen, "%s: not a folder of uid %u closed to others (mode 0700)", dir,
                 (unsigned)geteuid());
        return -1;
    }
    return 0;
}

int rp_private_prepare(const char *path, pid_t pid, char *addr, size_t addrlen, char *err,
                       size_t errlen)
{
    char dir[256], def[256];
    parent_of(path, dir, sizeof(dir));
    snprintf(def, sizeof(def), "/tmp/rpcrest-%u", (unsigned)geteuid());
    if (strcmp(dir, def) == 0 && mkdir(dir, 0700) < 0 && errno != EEXIST) {
        /* the default folder is ours to make */
        snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
        return -1;
    }
    /* whatever folder it is, only this user may enter it: the socket is
     * plaintext and takes calls without asking who calls */
    if (check_folder(dir, err, errlen) < 0)
        return -1;
    int n = snprintf(addr, addrlen, "unix:%s.%ld", path, (long)pid);
    if (n < 0 || (size_t)n >= addrlen || (size_t)n - 5 > RP_ADDR_UNIX_PATH_MAX) {
        snprintf(err, errlen, "%s: too long for a unix socket", path);
        return -1;
    }
    return 0;
}

int rp_private_publish(const char *path, const char *addr, char *err, size_t errlen)
{
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s.new.%ld", path, (long)getpid());
    unlink(tmp);
    if (symlink(addr + 5, tmp) < 0) {
        snprintf(err, errlen, "symlink %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

void rp_private_withdraw(const char *path, const char *addr)
{
    char target[300];
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n < 0)
        return;
    target[n] = '\0';
    if (strcmp(target, addr + 5) == 0)
        unlink(path);
}

int rp_private_reachable(const char *path, char *why, size_t whylen)
{
    why[0] = '\0';
    struct sockaddr_un sun;
    socklen_t slen;
    if (rp_addr_unix(path, 0, &sun, &slen) < 0)
        return 0;
    char dir[256];
    parent_of(path, dir, sizeof(dir));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int ok = connect(fd, (struct sockaddr *)&sun, slen) == 0;
    /* plaintext and trusted: only a host of this user, in a folder nobody
     * else can enter (else another local user could plant the socket) */
    struct ucred peer;
    socklen_t len = sizeof(peer);
    if (ok && check_folder(dir, why, whylen) < 0)
        ok = 0;
    else if (ok && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0)
        ok = 0;
    else if (ok && peer.uid != geteuid() && peer.uid != 0) {
        snprintf(why, whylen, "%s: served by uid %u, not by uid %u", path, (unsigned)peer.uid,
                 (unsigned)geteuid());
        ok = 0;
    }
    close(fd);
    return ok;
}

/* ---- what killed hosts left behind ------------------------------------------- */

#define SWEEP_MIN_AGE_S 60 /* a socket bound more recently is left alone */

/* 1 if name is a default stable path's name: "host-" 16 hex digits ".sock";
 * *len_out is its length (its sockets are that followed by ".PID"). */
static int default_name(const char *name, size_t *len_out)
{
    static const char prefix[] = "host-", suffix[] = ".sock";
    size_t p = sizeof(prefix) - 1, h = 16, x = sizeof(suffix) - 1;
    if (strncmp(name, prefix, p) != 0 || strspn(name + p, "0123456789abcdef") != h ||
        strncmp(name + p + h, suffix, x) != 0)
        return 0;
    *len_out = p + h + x;
    return 1;
}

/* 1 if name is stable_len bytes of a stable name, then ".DIGITS". */
static int pid_suffixed(const char *name, size_t stable_len)
{
    const char *d = name + stable_len;
    return d[0] == '.' && d[1] && strspn(d + 1, "0123456789") == strlen(d + 1);
}

/* 1 if the unix socket at dir/name exists, was bound a while ago (a host
 * starting right now may be between its bind and its listen) and nobody
 * accepts on it. */
static int dead_socket(const char *dir, const char *name)
{
    char path[RP_ADDR_UNIX_PATH_MAX + 2]; /* a path too long is cut to one still too long */
    struct sockaddr_un sun;
    socklen_t slen;
    struct stat st;
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || rp_addr_unix(path, 0, &sun, &slen) < 0 || lstat(path, &st) < 0 ||
        !S_ISSOCK(st.st_mode) || time(NULL) - st.st_mtime < SWEEP_MIN_AGE_S)
        return 0;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return 0;
    int dead = connect(fd, (struct sockaddr *)&sun, slen) < 0 && errno == ECONNREFUSED;
    close(fd);
    return dead;
}

void rp_private_sweep(const char *path)
{
    char dir[256];
    parent_of(path, dir, sizeof(dir));
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t base_len = strlen(base), stable_len;
    int whole = default_name(base, &stable_len) && stable_len == base_len;
    DIR *d = opendir(dir);
    if (!d)
        return;
    /* sockets first, so that links to the ones removed are dangling below */
    for (int links = 0; links < 2; links++) {
        rewinddir(d);
        for (struct dirent *e; (e = readdir(d));) {
            char full[600];
            struct stat st;
            int ours = strncmp(e->d_name, base, base_len) == 0;
            int family = ours || (whole && default_name(e->d_name, &stable_len));
            size_t len = ours ? base_len : stable_len;
            if (!family)
                continue;
            snprintf(full, sizeof(full), "%s/%s", dir, e->d_name);
            if (!links && pid_suffixed(e->d_name, len) && dead_socket(dir, e->d_name))
                unlink(full);
            else if (links && !e->d_name[len] && lstat(full, &st) == 0 &&
                     S_ISLNK(st.st_mode) && stat(full, &st) < 0 && errno == ENOENT)
                unlink(full);
        }
    }
    closedir(d);
}
