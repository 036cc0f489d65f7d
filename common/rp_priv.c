/*
 * rp_priv.c -- switching to the service user and StrictModes checks; see
 * rp_priv.h.
 */
#include "rp_priv.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* 1 if the process runs as cfg's user and group already (all three ids). */
static int already(const rp_config *cfg)
{
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
        return 0;
    uid_t u = (uid_t)cfg->supervisor.uid;
    gid_t g = (gid_t)cfg->supervisor.gid;
    return ru == u && eu == u && su == u && rg == g && eg == g && sg == g;
}

int rp_priv_check(const rp_config *cfg, char *err, size_t errlen)
{
    if (!cfg->supervisor.user || geteuid() == 0 || already(cfg))
        return 0;
    snprintf(err, errlen,
             "%s:%d: user = %s: this process runs as uid %u, not root, so it cannot switch "
             "to %s (uid %u, gid %u); start it as root, or remove user and group",
             cfg->path, cfg->supervisor.user_line, cfg->supervisor.user, (unsigned)geteuid(),
             cfg->supervisor.user, cfg->supervisor.uid, cfg->supervisor.gid);
    return -1;
}

/* A change of ids clears the parent-death signal: keep_parent_death reads
 * it (and who the parent is) first, rearm_parent_death sets it again and
 * fails if the parent died in between (its signal would have been lost). */
typedef struct parent_death {
    int sig;
    pid_t parent;
} parent_death;

static parent_death keep_parent_death(void)
{
    parent_death pd = {0, getppid()};
    (void)prctl(PR_GET_PDEATHSIG, &pd.sig, 0, 0, 0);
    return pd;
}

static int rearm_parent_death(parent_death pd, char *err, size_t errlen)
{
    if (pd.sig && prctl(PR_SET_PDEATHSIG, pd.sig, 0, 0, 0) < 0) {
        snprintf(err, errlen, "prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
        return -1;
    }
    if (pd.sig && getppid() != pd.parent) {
        snprintf(err, errlen, "the parent process (pid %d) ended while the user was switched",
                 (int)pd.parent);
        return -1;
    }
    return 0;
}

int rp_priv_lower(const rp_config *cfg, char *err, size_t errlen)
{
    if (!cfg->supervisor.user || already(cfg))
        return 0;
    if (rp_priv_check(cfg, err, errlen) < 0)
        return -1;
    const char *user = cfg->supervisor.user;
    parent_death pd = keep_parent_death();
    if (initgroups(user, (gid_t)cfg->supervisor.gid) < 0 ||
        setegid((gid_t)cfg->supervisor.gid) < 0 || seteuid((uid_t)cfg->supervisor.uid) < 0) {
        snprintf(err, errlen, "switching to %s: %s", user, strerror(errno));
        return -1;
    }
    if (rearm_parent_death(pd, err, errlen) < 0)
        return -1;
    unsetenv("XDG_RUNTIME_DIR");
    return 1;
}

int rp_priv_raise(char *err, size_t errlen)
{
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0) {
        snprintf(err, errlen, "getresuid: %s", strerror(errno));
        return -1;
    }
    if (eu == 0 || (ru != 0 && su != 0))
        return 0; /* not lowered */
    parent_death pd = keep_parent_death();
    if (seteuid(0) < 0 || setegid(rg) < 0) {
        snprintf(err, errlen, "back to root: %s", strerror(errno));
        return -1;
    }
    return rearm_parent_death(pd, err, errlen);
}

int rp_priv_drop(const rp_config *cfg, char *err, size_t errlen)
{
    if (!cfg->supervisor.user || already(cfg))
        return 0;
    if (rp_priv_raise(err, errlen) < 0 || rp_priv_check(cfg, err, errlen) < 0)
        return -1;
    const char *user = cfg->supervisor.user;
    uid_t uid = (uid_t)cfg->supervisor.uid;
    gid_t gid = (gid_t)cfg->supervisor.gid;
    parent_death pd = keep_parent_death();
    if (initgroups(user, gid) < 0 || setresgid(gid, gid, gid) < 0 ||
        setresuid(uid, uid, uid) < 0) {
        snprintf(err, errlen, "switching to %s: %s", user, strerror(errno));
        return -1;
    }
    if (!already(cfg)) {
        snprintf(err, errlen, "switching to %s: the ids did not all change", user);
        return -1;
    }
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        snprintf(err, errlen, "switching to %s: root could be regained", user);
        return -1;
    }
    if (rearm_parent_death(pd, err, errlen) < 0)
        return -1;
    unsetenv("XDG_RUNTIME_DIR");
    return 1;
}

int rp_priv_check_path(const char *path, char *err, size_t errlen)
{
    char cur[PATH_MAX];
    if (path[0] != '/' || strlen(path) >= sizeof(cur)) {
        snprintf(err, errlen, "%s: not an absolute path", path);
        return -1;
    }
    snprintf(cur, sizeof(cur), "%s", path);
    uid_t me = geteuid();
    for (int first = 1;; first = 0) {
        struct stat st;
        if (stat(cur, &st) < 0) {
            snprintf(err, errlen, "%s: %s", cur, strerror(errno));
            return -1;
        }
        const char *what = first ? "" : "folder ";
        if (st.st_uid != 0 && st.st_uid != me) {
            snprintf(err, errlen, "%s%s is owned by uid %u, neither root nor uid %u (this "
                     "process)", what, cur, (unsigned)st.st_uid, (unsigned)me);
            return -1;
        }
        int sticky_root_dir = !first && S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) &&
                              st.st_uid == 0;
        if ((st.st_mode & 022) && !sticky_root_dir) {
            snprintf(err, errlen, "%s%s is writable by %s (mode %04o); other users could "
                     "replace what runs here", what, cur,
                     (st.st_mode & 020) && (st.st_mode & 002) ? "group and others"
                     : (st.st_mode & 020)                    ? "its group"
                                                             : "others",
                     (unsigned)(st.st_mode & 07777));
            return -1;
        }
        if (strcmp(cur, "/") == 0)
            return 0;
        char *slash = strrchr(cur, '/');
        if (slash == cur)
            slash[1] = '\0';
        else
            *slash = '\0';
    }
}
