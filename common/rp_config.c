/*
 * rp_config.c -- conf/rpcrest.ini parsing, defaults and validation.
 *
 * inih does the tokenizing; this file counts lines (through its own line
 * reader, so every message can say FILE:LINE), knows every section and key,
 * converts and range-checks values and resolves paths against the INI's
 * folder.  Nothing here starts or opens anything but the INI file itself.
 */
#include "rp_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rp_addr.h"
#include "rp_metadata.h"
#include "rp_utf8.h"

#define SERVICE_PREFIX "service."

typedef struct parse_ctx {
    rp_config *cfg;
    const char *at, *end;   /* the rest of cfg->text, for read_line */
    int line;               /* line the reader returned last */
    int err_line;           /* line of the reported error */
    int section_line;       /* line of the last section header */
    int listen_line[2];     /* lines of [host] and [gateway] listen, or 0 */
    int timeout_line;       /* line of [gateway] timeout or max_timeout, or 0 */
    int metrics_line;       /* line of [host] metrics_listen, or 0 */
    int in_service;         /* index into cfg->services, or -1 */
    char *err;
    size_t errlen;
    int failed;
    int lines_only;         /* rp_config_raw_value: sections are not checked */
    /* which fixed sections and keys were already seen (duplicates) */
    char seen_sections[3];
    char seen_keys[64][48];
    int n_seen_keys;
    /* restart-policy keys of [supervisor], [host], [gateway] (in that
     * order): values, which were set, and on which line */
    rp_child_policy policy[3];
    unsigned policy_set[3];
    int policy_line[3][16];
} parse_ctx;

static void fail(parse_ctx *ctx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(parse_ctx *ctx, int line, const char *fmt, ...)
{
    if (ctx->failed)
        return; /* the first error is the one worth reading */
    ctx->failed = 1;
    ctx->err_line = line;
    int n = snprintf(ctx->err, ctx->errlen, "%s:%d: ", ctx->cfg->path, line);
    if (n < 0 || (size_t)n >= ctx->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err + n, ctx->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* ---- value conversion -------------------------------------------------- */

static int parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_seconds(const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !(v >= min && v <= max))
        return -1;
    *out = v;
    return 0;
}

/* on/off, true/false, yes/no, 1/0 */
static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"on", "true", "yes", "1"};
    static const char *const no[] = {"off", "false", "no", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(s, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

/* "4194304", "64k", "4M", "1G" (powers of 1024). */
static int parse_size(const char *s, size_t min, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return -1;
    unsigned long long mul = 1;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': mul = 1ull << 10; end++; break;
    case 'm': case 'M': mul = 1ull << 20; end++; break;
    case 'g': case 'G': mul = 1ull << 30; end++; break;
    default: return -1;
    }
    if (*end != '\0' || v > max / mul || v * mul < min || v * mul > max)
        return -1;
    *out = (size_t)(v * mul);
    return 0;
}

/* A TCP listen address: an IP literal (or "localhost") and a port 1-65535. */
static int valid_tcp_listen(const char *addr)
{
    char host[INET6_ADDRSTRLEN + 1];
    int port;
    unsigned char buf[sizeof(struct in6_addr)];
    if (rp_addr_split(addr, host, sizeof(host), &port) < 0)
        return 0;
    if (strcmp(host, "localhost") == 0)
        return 1;
    if (addr[0] == '[')
        return inet_pton(AF_INET6, host, buf) == 1;
    return inet_pton(AF_INET, host, buf) == 1;
}

/* NAME:PORT or [IPV6]:PORT (NAME a host name or IP address), port 1-65535,
 * at s[0..len); with `family` AF_INET, an IPv4 address and a port; with
 * AF_INET6, [an IPv6 address] and a port (what gRPC's ipv4: and ipv6:
 * schemes take). */
static int valid_target_address(const char *s, size_t len, int family)
{
    char addr[300], host[256];
    unsigned char buf[sizeof(struct in6_addr)];
    int port;
    if (len == 0 || len >= sizeof(addr))
        return 0;
    memcpy(addr, s, len);
    addr[len] = '\0';
    if (rp_addr_split(addr, host, sizeof(host), &port) < 0)
        return 0;
    if (family == AF_INET6)
        return addr[0] == '[' && inet_pton(AF_INET6, host, buf) == 1;
    if (family == AF_INET)
        return addr[0] != '[' && inet_pton(AF_INET, host, buf) == 1;
    return 1;
}

/* A gRPC target rpcrest can dial: ipv4:/ipv6: address lists, unix: and
 * unix-abstract: paths, dns:[//SERVER/]NAME:PORT, or NAME:PORT.  gRPC
 * core takes more (and a port past 65535 modulo 65536): these are the
 * forms the README gives, each with a port it would dial as written. */
static int valid_upstream(const char *value)
{
    if (value[0] == '\0' || strpbrk(value, " \t"))
        return 0;
    if (strncmp(value, "unix:", 5) == 0)
        return value[5] != '\0';
    if (strncmp(value, "unix-abstract:", 14) == 0)
        return value[14] != '\0';
    if (strncmp(value, "ipv4:", 5) == 0 || strncmp(value, "ipv6:", 5) == 0) {
        int family = value[3] == '4' ? AF_INET : AF_INET6;
        const char *p = value + 5;
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            if (!valid_target_address(p, len, family))
                return 0;
            if (!comma)
                return 1;
            p = comma + 1;
        }
    }
    const char *name = value;
    if (strncmp(value, "dns:", 4) == 0) {
        name = value + 4;
        if (strncmp(name, "//", 2) == 0) { /* an authority (the DNS server), then / */
            const char *slash = strchr(name + 2, '/');
            char server[80];
            struct sockaddr_storage ss;
            socklen_t sslen;
            if (!slash || (size_t)(slash - name - 2) >= sizeof(server))
                return 0;
            memcpy(server, name + 2, (size_t)(slash - name - 2));
            server[slash - name - 2] = '\0';
            if (server[0] && rp_addr_dns_server(server, &ss, &sslen) < 0)
                return 0; /* the server is an IP address, as gRPC's resolver takes it */
            name = slash + 1;
        }
    } else if (strstr(value, "://") || strchr(value, ',')) {
        return 0; /* a URL, or a list without ipv4:/ipv6: */
    }
    return valid_target_address(name, strlen(name), AF_UNSPEC);
}

int rp_config_is_loopback(const char *listen)
{
    char host[INET6_ADDRSTRLEN + 1];
    int port;
    unsigned char buf[sizeof(struct in6_addr)];
    if (rp_addr_split(listen, host, sizeof(host), &port) < 0)
        return 0;
    if (strcmp(host, "localhost") == 0)
        return 1;
    if (listen[0] == '[')
        return inet_pton(AF_INET6, host, buf) == 1 &&
               IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)buf);
    return inet_pton(AF_INET, host, buf) == 1 && buf[0] == 127;
}

void rp_config_gateway_target(const rp_config *cfg, char *out, size_t outlen)
{
    if (cfg->gateway.upstream)
        snprintf(out, outlen, "%s", cfg->gateway.upstream);
    else
        rp_config_grpc_target(cfg->host.listen, out, outlen);
}

void rp_config_grpc_target(const char *listen, char *out, size_t outlen)
{
    if (strncmp(listen, "unix:", 5) == 0)
        snprintf(out, outlen, "%s", listen);
    else if (strncmp(listen, "localhost:", 10) == 0)
        snprintf(out, outlen, "ipv4:127.0.0.1:%s", listen + 10);
    else if (listen[0] == '[')
        snprintf(out, outlen, "ipv6:%s", listen);
    else
        snprintf(out, outlen, "ipv4:%s", listen);
}

/* `path` (absolute; freed) with its folder's symlinks, "." and ".."
 * resolved, for a file that does not exist (yet): the same string realpath
 * gives once it does.  Left as it is when the folder cannot be resolved
 * either; NULL on ENOMEM. */
static char *resolve_missing(char *path)
{
    char *slash = strrchr(path, '/');
    const char *base = slash + 1;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return path;
    *slash = '\0';
    char *dir = realpath(slash == path ? "/" : path, NULL);
    *slash = '/';
    if (!dir)
        return path;
    char *joined;
    int n = asprintf(&joined, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, base);
    free(dir);
    free(path);
    return n < 0 ? NULL : joined;
}

/* Absolute path for `value` relative to the INI's folder, with no symlink,
 * "." or ".." in it, whether the file exists yet or not (a control socket
 * or log file created at start must compare equal when a reload reads the
 * same INI); NULL on ENOMEM. */
static char *resolve_path(const rp_config *cfg, const char *value)
{
    char *joined;
    if (value[0] == '/')
        joined = strdup(value);
    else if (asprintf(&joined, "%s/%s", cfg->dir, value) < 0)
        joined = NULL;
    if (!joined)
        return NULL;
    char *real = realpath(joined, NULL);
    if (real) {
        free(joined);
        return real;
    }
    return resolve_missing(joined); /* the caller reports a missing file it needs */
}

/* Sets *slot to the resolved path of `value`, which must name a readable
 * regular file. */
static void set_file_path(parse_ctx *ctx, const char *key, const char *value, char **slot)
{
    char *path = resolve_path(ctx->cfg, value);
    if (!path) {
        fail(ctx, ctx->line, "%s: out of memory", key);
        return;
    }
    free(*slot);
    *slot = path;
    struct stat st;
    if (stat(path, &st) < 0)
        fail(ctx, ctx->line, "%s: %s: %s", key, path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        fail(ctx, ctx->line, "%s: %s: not a regular file", key, path);
}

static void set_string(parse_ctx *ctx, char **slot, const char *value)
{
    char *copy = strdup(value);
    if (!copy) {
        fail(ctx, ctx->line, "out of memory");
        return;
    }
    free(*slot);
    *slot = copy;
}

/* ---- sections ----------------------------------------------------------- */

/* The restart-policy keys: [supervisor] defaults, [host]/[gateway] overrides. */
typedef enum { PK_RESTART, PK_SECONDS, PK_NUMBER, PK_COUNT } policy_kind;
static const struct policy_key {
    const char *name;
    policy_kind kind;
    size_t offset; /* in rp_child_policy */
    double min, max;
} policy_keys[] = {
    {"restart", PK_RESTART, offsetof(rp_child_policy, restart), 0, 0},
    {"backoff_initial", PK_SECONDS, offsetof(rp_child_policy, backoff_initial), 0, 3600},
    {"backoff_max", PK_SECONDS, offsetof(rp_child_policy, backoff_max), 0, 3600},
    {"backoff_multiplier", PK_NUMBER, offsetof(rp_child_policy, backoff_multiplier), 1, 100},
    {"backoff_jitter", PK_NUMBER, offsetof(rp_child_policy, backoff_jitter), 0, 1},
    {"start_seconds", PK_SECONDS, offsetof(rp_child_policy, start_seconds), 0, 86400},
    {"start_retries", PK_COUNT, offsetof(rp_child_policy, start_retries), 0, 100000},
    {"ready_timeout", PK_SECONDS, offsetof(rp_child_policy, ready_timeout), 0.01, 3600},
    {"stop_timeout", PK_SECONDS, offsetof(rp_child_policy, stop_timeout), 0.01, 3600},
};
#define N_POLICY_KEYS (sizeof(policy_keys) / sizeof(policy_keys[0]))
enum { /* indexes into policy_keys */
    PK_BACKOFF_INITIAL = 1, PK_BACKOFF_MAX = 2, PK_START_SECONDS = 5, PK_START_RETRIES = 6
};

static const char *const restart_names[] = {
    [RP_RESTART_ALWAYS] = "always",
    [RP_RESTART_ON_FAILURE] = "on-failure",
    [RP_RESTART_NEVER] = "never",
};

const char *rp_config_restart_name(rp_restart restart)
{
    return (unsigned)restart < 3 ? restart_names[restart] : "?";
}

/* The edit distance between two key names (insertions, deletions,
 * substitutions, swaps of neighbours), or 3 if it is 3 or more. */
static int key_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 32 || lb > 32)
        return 3;
    int d[33][33];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb] < 3 ? d[la][lb] : 3;
}

static void note_nearest(const char *key, const char *name, const char **nearest, int *distance)
{
    int d = key_distance(key, name);
    if (d < *distance) {
        *distance = d;
        *nearest = name;
    }
}

/* Reports `key` as unknown in [section], whose keys are its `own`
 * (NULL-terminated) and the restart-policy keys.  A known name one or two
 * edits away is offered first. */
static void unknown_key(parse_ctx *ctx, const char *section, const char *key,
                        const char *const *own)
{
    char known[1024];
    size_t used = 0;
    const char *nearest = NULL;
    int distance = 3;
    const char *names[64];
    size_t n = 0;
    for (size_t i = 0; own[i] && n < 64; i++)
        names[n++] = own[i];
    for (size_t i = 0; i < N_POLICY_KEYS && n < 64; i++)
        names[n++] = policy_keys[i].name;
    for (size_t i = 0; i < n; i++) {
        note_nearest(key, names[i], &nearest, &distance);
        int w = snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= sizeof(known) - used)
            break;
        used += (size_t)w;
    }
    if (nearest)
        fail(ctx, ctx->line, "unknown key '%s' in [%s]: did you mean '%s'? (known: %s)", key,
             section, nearest, known);
    else
        fail(ctx, ctx->line, "unknown key '%s' in [%s] (known: %s)", key, section, known);
}

static void policy_defaults(rp_child_policy *p)
{
    p->restart = RP_RESTART_ALWAYS;
    p->backoff_initial = 0.1;
    p->backoff_max = 5.0;
    p->backoff_multiplier = 2.0;
    p->backoff_jitter = 0.1;
    p->start_seconds = 10.0;
    p->start_retries = 5;
    p->ready_timeout = 30.0;
    p->stop_timeout = 10.0;
}

static int policy_index(const char *key)
{
    for (size_t i = 0; i < N_POLICY_KEYS; i++)
        if (strcmp(key, policy_keys[i].name) == 0)
            return (int)i;
    return -1;
}

int rp_config_is_policy_key(const char *key)
{
    return policy_index(key) >= 0;
}

/* Handles `key` if it is a restart-policy key, for ctx->policy[which]
 * (0 [supervisor], 1 [host], 2 [gateway]).  Returns 1 if it was one (set or
 * reported), 0 if not. */
static int policy_key(parse_ctx *ctx, int which, const char *key, const char *value)
{
    int i = policy_index(key);
    if (i < 0)
        return 0;
    const struct policy_key *k = &policy_keys[i];
    char *field = (char *)&ctx->policy[which] + k->offset;
    long n;
    double d;
    switch (k->kind) {
    case PK_RESTART:
        for (int r = 0; r < 3; r++) {
            if (strcmp(value, restart_names[r]) == 0) {
                *(rp_restart *)(void *)field = (rp_restart)r;
                goto set;
            }
        }
        fail(ctx, ctx->line, "restart: '%s' is not always, on-failure or never", value);
        return 1;
    case PK_COUNT:
        if (parse_int(value, (long)k->min, (long)k->max, &n) < 0) {
            fail(ctx, ctx->line, "%s: '%s' is not a whole number in %g..%g", key, value,
                 k->min, k->max);
            return 1;
        }
        *(int *)(void *)field = (int)n;
        goto set;
    case PK_SECONDS:
    case PK_NUMBER:
        if (parse_seconds(value, k->min, k->max, &d) < 0) {
            fail(ctx, ctx->line, "%s: '%s' is not a number%s in %g..%g", key, value,
                 k->kind == PK_SECONDS ? " of seconds" : "", k->min, k->max);
            return 1;
        }
        *(double *)(void *)field = d;
        goto set;
    }
    return 1;
set:
    ctx->policy_set[which] |= 1u << i;
    ctx->policy_line[which][i] = ctx->line;
    return 1;
}

/* [supervisor] user = NAME (or a uid that has a passwd entry: initgroups
 * needs the name).  The user must exist when the file is read. */
static void set_user(parse_ctx *ctx, const char *value)
{
    rp_config *cfg = ctx->cfg;
    struct passwd pw, *found = NULL;
    char buf[4096];
    long n;
    int rc = getpwnam_r(value, &pw, buf, sizeof(buf), &found);
    if (!found && parse_int(value, 0, INT_MAX, &n) == 0)
        rc = getpwuid_r((uid_t)n, &pw, buf, sizeof(buf), &found);
    if (!found) {
        if (rc && rc != ENOENT && rc != ESRCH)
            fail(ctx, ctx->line, "user: cannot look up '%s': %s", value, strerror(rc));
        else
            fail(ctx, ctx->line, "user: no such user '%s'", value);
        return;
    }
    set_string(ctx, &cfg->supervisor.user, pw.pw_name);
    cfg->supervisor.user_line = ctx->line;
    cfg->supervisor.uid = (unsigned)pw.pw_uid;
    if (!cfg->supervisor.group)
        cfg->supervisor.gid = (unsigned)pw.pw_gid;
}

/* [supervisor] group = NAME or GID: instead of the user's primary group. */
static void set_group(parse_ctx *ctx, const char *value)
{
    rp_config *cfg = ctx->cfg;
    struct group gr, *found = NULL;
    char buf[8192];
    long n;
    int rc = getgrnam_r(value, &gr, buf, sizeof(buf), &found);
    if (!found && parse_int(value, 0, INT_MAX, &n) == 0)
        rc = getgrgid_r((gid_t)n, &gr, buf, sizeof(buf), &found);
    if (!found) {
        if (rc && rc != ENOENT && rc != ESRCH)
            fail(ctx, ctx->line, "group: cannot look up '%s': %s", value, strerror(rc));
        else
            fail(ctx, ctx->line, "group: no such group '%s'", value);
        return;
    }
    set_string(ctx, &cfg->supervisor.group, gr.gr_name);
    cfg->supervisor.group_line = ctx->line;
    cfg->supervisor.gid = (unsigned)gr.gr_gid;
}

/* The TLS file keys: "cert", "key", "ca" of `tls` under the names given
 * (NULL: not a key of this section).  Returns 1 if `key` was one. */
static int tls_key(parse_ctx *ctx, rp_tls_conf *tls, const char *cert, const char *keyname,
                   const char *ca, const char *key, const char *value)
{
    char **slot = NULL;
    int *line = NULL;
    if (cert && strcmp(key, cert) == 0)
        slot = &tls->cert, line = &tls->cert_line;
    else if (keyname && strcmp(key, keyname) == 0)
        slot = &tls->key, line = &tls->key_line;
    else if (ca && strcmp(key, ca) == 0)
        slot = &tls->ca, line = &tls->ca_line;
    else
        return 0;
    *line = ctx->line;
    tls->names[0] = cert, tls->names[1] = keyname, tls->names[2] = ca;
    if (value[0] == '\0')
        fail(ctx, ctx->line, "%s: a PEM file is needed", key);
    else
        set_file_path(ctx, key, value, slot);
    return 1;
}

/* A key without its certificate (or the reverse), and the like. */
static void check_tls(parse_ctx *ctx, const char *section, const rp_tls_conf *tls,
                      const char *cert, const char *key, const char *ca, int ca_needs_cert)
{
    if (ctx->failed)
        return;
    if (tls->cert && !tls->key)
        fail(ctx, tls->cert_line, "[%s] %s is set but %s is not", section, cert, key);
    else if (tls->key && !tls->cert)
        fail(ctx, tls->key_line, "[%s] %s is set but %s is not", section, key, cert);
    else if (ca_needs_cert && tls->ca && !tls->cert)
        fail(ctx, tls->ca_line, "[%s] %s needs %s and %s (TLS on the port)", section, ca, cert,
             key);
    else if (!ca_needs_cert && tls->cert && !tls->ca)
        fail(ctx, tls->cert_line, "[%s] %s needs %s (the CA that signed the upstream's "
             "certificate)", section, cert, ca);
}

static void key_supervisor(parse_ctx *ctx, const char *key, const char *value)
{
    rp_config *cfg = ctx->cfg;
    if (policy_key(ctx, 0, key, value))
        return;
    if (strcmp(key, "control_socket") == 0) {
        char *path = value[0] ? resolve_path(cfg, value) : NULL;
        if (!path) {
            fail(ctx, ctx->line, value[0] ? "out of memory" : "control_socket: a path is needed");
            return;
        }
        free(cfg->supervisor.control_socket);
        cfg->supervisor.control_socket = path;
        cfg->supervisor.control_socket_line = ctx->line;
        if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
            fail(ctx, ctx->line, "control_socket: '%s' is longer than a unix socket path may be "
                 "(%zu bytes)", path, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
    } else if (strcmp(key, "log_file") == 0) {
        free(cfg->supervisor.log_file);
        cfg->supervisor.log_file = NULL;
        if (value[0] == '\0')
            return; /* empty: stderr */
        cfg->supervisor.log_file = resolve_path(cfg, value);
        if (!cfg->supervisor.log_file)
            fail(ctx, ctx->line, "out of memory");
    } else if (strcmp(key, "user") == 0) {
        set_user(ctx, value);
    } else if (strcmp(key, "group") == 0) {
        set_group(ctx, value);
    } else {
        static const char *const own[] = {"control_socket", "log_file", "user", "group", NULL};
        unknown_key(ctx, "supervisor", key, own);
    }
}

/* The longest connection limit: 24 days, which gRPC core's int milliseconds
 * hold. */
#define MAX_CONNECTION_LIMIT_SECONDS 2073600.0

/* [host] max_connection_idle, max_connection_age, max_connection_age_grace:
 * off, or seconds (1 and up; the grace from 0).  Off is stored as 0 for the
 * first two and -1 for the grace, which may be 0. */
static void connection_limit_key(parse_ctx *ctx, const char *key, const char *value)
{
    rp_config *cfg = ctx->cfg;
    int grace = strcmp(key, "max_connection_age_grace") == 0;
    double *out = grace ? &cfg->host.max_connection_age_grace
                  : strcmp(key, "max_connection_idle") == 0 ? &cfg->host.max_connection_idle
                                                             : &cfg->host.max_connection_age;
    double min = grace ? 0 : 1;
    if (strcmp(value, "off") == 0)
        *out = grace ? -1 : 0;
    else if (parse_seconds(value, min, MAX_CONNECTION_LIMIT_SECONDS, out) < 0)
        fail(ctx, ctx->line, "%s: '%s' is not off or a number of seconds in %d..%.0f", key,
             value, (int)min, MAX_CONNECTION_LIMIT_SECONDS);
}

/* [host] listen = HOST:PORT, [IPV6]:PORT or unix:PATH (PATH resolved
 * against the INI's folder). */
static void host_listen(parse_ctx *ctx, const char *value)
{
    rp_config *cfg = ctx->cfg;
    ctx->listen_line[0] = ctx->line;
    if (strncmp(value, "unix:", 5) == 0) {
        if (value[5] == '\0') {
            fail(ctx, ctx->line, "listen: 'unix:' needs a socket path");
            return;
        }
        char *path = resolve_path(cfg, value + 5);
        char *addr = NULL;
        if (!path || asprintf(&addr, "unix:%s", path) < 0)
            addr = NULL;
        free(path);
        if (!addr) {
            fail(ctx, ctx->line, "out of memory");
            return;
        }
        free(cfg->host.listen);
        cfg->host.listen = addr;
    } else if (valid_tcp_listen(value)) {
        set_string(ctx, &cfg->host.listen, value);
    } else {
        fail(ctx, ctx->line,
             "listen: '%s' is not HOST:PORT, [IPV6]:PORT or unix:PATH "
             "(HOST an IP address or localhost, PORT 1-65535)", value);
    }
}

/* [host] private_listen = off or unix:PATH. */
static void host_private_listen(parse_ctx *ctx, const char *value)
{
    rp_config *cfg = ctx->cfg;
    char *addr = NULL;
    if (strcmp(value, "off") == 0) {
        addr = strdup("off");
    } else if (strncmp(value, "unix:", 5) == 0 && value[5] != '\0') {
        /* joined, not resolved: PATH is a symlink the host re-points */
        if (asprintf(&addr, "unix:%s%s%s", value[5] == '/' ? "" : cfg->dir,
                     value[5] == '/' ? "" : "/", value + 5) < 0)
            addr = NULL;
    } else {
        fail(ctx, ctx->line, "private_listen: '%s' is not off or unix:PATH", value);
        return;
    }
    if (!addr) {
        fail(ctx, ctx->line, "out of memory");
        return;
    }
    free(cfg->host.private_listen);
    cfg->host.private_listen = addr;
}

/* [host] metrics_listen = off, HOST:PORT or [IPV6]:PORT. */
static void host_metrics_listen(parse_ctx *ctx, const char *value)
{
    rp_config *cfg = ctx->cfg;
    ctx->metrics_line = ctx->line;
    free(cfg->host.metrics_listen);
    cfg->host.metrics_listen = NULL;
    if (strcmp(value, "off") == 0)
        return;
    if (!valid_tcp_listen(value))
        fail(ctx, ctx->line,
             "metrics_listen: '%s' is not off, HOST:PORT or [IPV6]:PORT "
             "(HOST an IP address or localhost, PORT 1-65535)", value);
    else
        set_string(ctx, &cfg->host.metrics_listen, value);
}

/* The [host] addresses: listen, private_listen, metrics_listen.  Returns 1
 * if `key` was one (set or reported), 0 if not. */
static int host_address_key(parse_ctx *ctx, const char *key, const char *value)
{
    if (strcmp(key, "listen") == 0)
        host_listen(ctx, value);
    else if (strcmp(key, "private_listen") == 0)
        host_private_listen(ctx, value);
    else if (strcmp(key, "metrics_listen") == 0)
        host_metrics_listen(ctx, value);
    else
        return 0;
    return 1;
}

/* The [host] server limits: threads, max_message_bytes,
 * max_concurrent_streams, drain_timeout.  Returns 1 if `key` was one. */
static int host_limit_key(parse_ctx *ctx, const char *key, const char *value)
{
    rp_config *cfg = ctx->cfg;
    long n;
    if (strcmp(key, "threads") == 0) {
        if (parse_int(value, 0, 256, &n) < 0)
            fail(ctx, ctx->line, "threads: '%s' is not a whole number in 0..256", value);
        else
            cfg->host.threads = (int)n;
    } else if (strcmp(key, "max_message_bytes") == 0) {
        if (parse_size(value, 1024, (size_t)1 << 30, &cfg->host.max_message_bytes) < 0)
            fail(ctx, ctx->line,
                 "max_message_bytes: '%s' is not a size in 1k..1G (a number, optionally "
                 "followed by k, M or G)", value);
    } else if (strcmp(key, "max_concurrent_streams") == 0) {
        if (parse_int(value, 1, 65536, &n) < 0)
            fail(ctx, ctx->line,
                 "max_concurrent_streams: '%s' is not a whole number in 1..65536", value);
        else
            cfg->host.max_concurrent_streams = (int)n;
    } else if (strcmp(key, "drain_timeout") == 0) {
        if (parse_seconds(value, 0, 3600, &cfg->host.drain_timeout) < 0)
            fail(ctx, ctx->line, "drain_timeout: '%s' is not a number of seconds in 0..3600",
                 value);
    } else {
        return 0;
    }
    return 1;
}

/* The [host] keepalive and connection-lifetime keys: min_ping_interval,
 * ping_without_calls, max_connection_idle, max_connection_age,
 * max_connection_age_grace.  Returns 1 if `key` was one. */
static int host_connection_key(parse_ctx *ctx, const char *key, const char *value)
{
    rp_config *cfg = ctx->cfg;
    if (strcmp(key, "min_ping_interval") == 0) {
        if (parse_seconds(value, 1, 7200, &cfg->host.min_ping_interval) < 0)
            fail(ctx, ctx->line,
                 "min_ping_interval: '%s' is not a number of seconds in 1..7200", value);
    } else if (strcmp(key, "ping_without_calls") == 0) {
        if (parse_bool(value, &cfg->host.ping_without_calls) < 0)
            fail(ctx, ctx->line, "ping_without_calls: '%s' is not on or off", value);
    } else if (strcmp(key, "max_connection_idle") == 0 ||
               strcmp(key, "max_connection_age") == 0 ||
               strcmp(key, "max_connection_age_grace") == 0) {
        connection_limit_key(ctx, key, value);
    } else {
        return 0;
    }
    return 1;
}

/* One [host] key: each group owns distinct names, so the order they are
 * asked in does not matter. */
static void key_host(parse_ctx *ctx, const char *key, const char *value)
{
    rp_config *cfg = ctx->cfg;
    if (host_address_key(ctx, key, value) || host_limit_key(ctx, key, value) ||
        host_connection_key(ctx, key, value) ||
        tls_key(ctx, &cfg->host.tls, "cert", "key", "client_ca", key, value) ||
        policy_key(ctx, 1, key, value))
        return;
    static const char *const own[] = {
        "listen", "threads", "max_message_bytes", "max_concurrent_streams", "drain_timeout",
        "min_ping_interval", "ping_without_calls", "max_connection_idle",
        "max_connection_age", "max_connection_age_grace", "private_listen", "metrics_listen",
        "cert", "key", "client_ca", NULL};
    unknown_key(ctx, "host", key, own);
}

/* The [gateway] keys that are on/off switches. */
static int *gateway_switch(rp_config *cfg, const char *key)
{
    if (strcmp(key, "ignore_unknown_query_parameters") == 0)
        return &cfg->gateway.ignore_unknown_query_parameters;
    if (strcmp(key, "json_ignore_unknown_fields") == 0)
        return &cfg->gateway.json_ignore_unknown_fields;
    if (strcmp(key, "json_emit_defaults") == 0)
        return &cfg->gateway.json_emit_defaults;
    if (strcmp(key, "json_proto_names") == 0)
        return &cfg->gateway.json_proto_names;
    if (strcmp(key, "json_enum_numbers") == 0)
        return &cfg->gateway.json_enum_numbers;
    if (strcmp(key, "cors_allow_credentials") == 0)
        return &cfg->gateway.cors_allow_credentials;
    if (strcmp(key, "gzip") == 0)
        return &cfg->gateway.gzip;
    if (strcmp(key, "grpc_web") == 0)
        return &cfg->gateway.grpc_web;
    if (strcmp(key, "auto_map") == 0)
        return &cfg->gateway.auto_map;
    if (strcmp(key, "docs") == 0)
        return &cfg->gateway.docs;
    if (strcmp(key, "metrics") == 0)
        return &cfg->gateway.metrics;
    return NULL;
}

static void free_list(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

/* Splits a comma-separated list into trimmed, non-empty items (*items is
 * NULL-free and freed with free_list).  Returns the count, or -1 when out
 * of memory (then *items is NULL). */
static long split_list(const char *value, char ***items)
{
    char *copy = strdup(value);
    long n = 0;
    *items = NULL;
    if (!copy)
        return -1;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        size_t len = strlen(tok);
        while (len && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
            tok[--len] = '\0';
        if (!len)
            continue;
        char **grown = realloc(*items, (size_t)(n + 1) * sizeof(*grown));
        if (grown)
            *items = grown;
        if (!grown || !(grown[n] = strdup(tok))) {
            free_list(*items, (size_t)n);
            *items = NULL;
            free(copy);
            return -1;
        }
        n++;
    }
    free(copy);
    return n;
}

/* [gateway] descriptors = FILE[, FILE…]: each resolved and checked. */
static void gateway_descriptors(parse_ctx *ctx, const char *value)
{
    rp_config *cfg = ctx->cfg;
    char **items;
    long n = split_list(value, &items);
    free_list(cfg->gateway.descriptors, cfg->gateway.n_descriptors);
    cfg->gateway.descriptors = calloc(n > 0 ? (size_t)n : 1, sizeof(char *));
    cfg->gateway.n_descriptors = 0;
    if (n < 0 || !cfg->gateway.descriptors)
        fail(ctx, ctx->line, "descriptors: out of memory");
    for (long i = 0; i < n && cfg->gateway.descriptors && !ctx->failed; i++)
        set_file_path(ctx, "descriptors", items[i],
                      &cfg->gateway.descriptors[cfg->gateway.n_descriptors++]);
    if (n == 0 && !ctx->failed)
        fail(ctx, ctx->line, "descriptors: expected FILE[, FILE…]");
    free_list(items, n > 0 ? (size_t)n : 0);
}

/* The [gateway] addresses: listen, upstream, upstream_name,
 * upstream_dns_interval.  Returns 1 if
 * `key` was one (set or reported), 0 if not. */
static int gateway_address_key(parse_ctx *ctx, const char *key, const char *value)
{
    rp_config *cfg = ctx->cfg;
    if (strcmp(key, "listen") == 0) {
        ctx->listen_line[1] = ctx->line;
        if (valid_tcp_listen(value))
            set_string(ctx, &cfg->gateway.listen, value);
        else
            fail(ctx, ctx->line,
                 "listen: '%s' is not HOST:PORT or [IPV6]:PORT "
                 "(HOST an IP address or localhost, PORT 1-65535)", value);
    } else if (strcmp(key, "upstream") == 0) {
        if (!valid_upstream(value))
            fail(ctx, ctx->line, "upstream: '%s' is not a gRPC target: HOST:PORT, "
                                 "ipv4:ADDR:PORT[,ADDR:PORT…], ipv6:[ADDR]:PORT[,…], unix:PATH "
                                 "dns:///NAME:PORT or dns://DNS_SERVER_IP[:PORT]/NAME:PORT "
                                 "(PORT 1-65535)", value);
        else
            set_string(ctx, &cfg->gateway.upstream, value);
    } else if (strcmp(key, "upstream_name") == 0) {
        cfg->gateway.upstream_name_line = ctx->line;
        if (value[0] == '\0' || strpbrk(value, " \t/:,"))
            fail(ctx, ctx->line, "upstream_name: '%s' is not a host name or IP address", value);
        else
            set_string(ctx, &cfg->gateway.upstream_name, value);
    } else if (strcmp(key, "upstream_dns_interval") == 0) {
        if (parse_seconds(value, 0.1, 86400, &cfg->gateway.upstream_dns_interval) < 0)
            fail(ctx, ctx->line, "upstream_dns_interval: '%s' is not a number of seconds in "
                                 "0.1..86400", value);
    } else {
        return 0;
    }
    return 1;
}

/* The [gateway] limits: timeout, max_timeout, max_body_bytes, threads,
 * connection_timeout, max_connections, busy_poll_us, cors_max_age.
 * Returns 1 if `key` was one. */
static int gateway_limit_key(parse_ctx *ctx, const char *key, const char *value)
{
    rp_config *cfg = ctx->cfg;
    long n;
    if (strcmp(key, "timeout") == 0 || strcmp(key, "max_timeout") == 0) {
        double *slot = key[0] == 't' ? &cfg->gateway.timeout : &cfg->gateway.max_timeout;
        ctx->timeout_line = ctx->line;
        if (parse_seconds(value, 0.001, 3600, slot) < 0)
            fail(ctx, ctx->line, "%s: '%s' is not a number of seconds in 0.001..3600", key,
                 value);
    } else if (strcmp(key, "max_body_bytes") == 0) {
        if (parse_size(value, 1, (size_t)1 << 30, &cfg->gateway.max_body_bytes) < 0)
            fail(ctx, ctx->line,
                 "max_body_bytes: '%s' is not a size in 1..1G (a number, optionally "
                 "followed by k, M or G)", value);
    } else if (strcmp(key, "threads") == 0) {
        if (parse_int(value, 0, 256, &n) < 0)
            fail(ctx, ctx->line, "threads: '%s' is not a whole number in 0..256", value);
        else
            cfg->gateway.threads = (int)n;
    } else if (strcmp(key, "connection_timeout") == 0) {
        if (parse_int(value, 1, 86400, &n) < 0)
            fail(ctx, ctx->line,
                 "connection_timeout: '%s' is not a whole number of seconds in 1..86400", value);
        else
            cfg->gateway.connection_timeout = (int)n;
    } else if (strcmp(key, "max_connections") == 0) {
        if (parse_int(value, 1, 1000000, &n) < 0)
            fail(ctx, ctx->line, "max_connections: '%s' is not a whole number in 1..1000000",
                 value);
        else
            cfg->gateway.max_connections = (int)n;
    } else if (strcmp(key, "busy_poll_us") == 0) {
        if (parse_int(value, 0, 1000, &n) < 0)
            fail(ctx, ctx->line,
                 "busy_poll_us: '%s' is not a whole number of microseconds in 0..1000", value);
        else
            cfg->gateway.busy_poll_us = (int)n;
    } else if (strcmp(key, "cors_max_age") == 0) {
        if (parse_int(value, 0, 86400, &n) < 0)
            fail(ctx, ctx->line,
                 "cors_max_age: '%s' is not a whole number of seconds in 0..86400", value);
        else
            cfg->gateway.cors_max_age = (int)n;
    } else {
        return 0;
    }
    return 1;
}

/* Replaces *items (n_items) with the comma-separated list `value` of key
 * `key`.  Returns the count, or -1 when out of memory (reported). */
static long set_list(parse_ctx *ctx, const char *key, const char *value, char ***items,
                     size_t *n_items)
{
    free_list(*items, *n_items);
    *n_items = 0;
    long count = split_list(value, items);
    if (count < 0)
        fail(ctx, ctx->line, "%s: out of memory", key);
    else
        *n_items = (size_t)count;
    return count;
}

/* [gateway] services = NAME[, NAME…]. */
static void gateway_services(parse_ctx *ctx, const char *value)
{
    rp_config *cfg = ctx->cfg;
    cfg->gateway.services_line = ctx->line;
    if (set_list(ctx, "services", value, &cfg->gateway.services, &cfg->gateway.n_services) == 0)
        fail(ctx, ctx->line, "services: expected NAME[, NAME…] (package.Service)");
}

/* [gateway] forward_headers = NAME[, NAME…]: request headers sent on as
 * metadata under their own names, in lower case. */
static void gateway_forward_headers(parse_ctx *ctx, const char *value)
{
    rp_config *cfg = ctx->cfg;
    long count = set_list(ctx, "forward_headers", value, &cfg->gateway.forward_headers,
                          &cfg->gateway.n_forward_headers);
    char **names = cfg->gateway.forward_headers;
    if (count < 0)
        return;
    if (count == 0)
        fail(ctx, ctx->line, "forward_headers: expected NAME[, NAME…] (X-User-Id)");
    for (long i = 0; i < count; i++) {
        const char *why = rp_metadata_forward_refusal(names[i]);
        if (why) {
            fail(ctx, ctx->line, "forward_headers: %s: %s", names[i], why);
            return;
        }
        for (char *p = names[i]; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
}

/* [gateway] reply_headers = NAME[, NAME…]: response metadata with these
 * keys sent as these plain headers, spelt as given, instead of
 * Grpc-Metadata-NAME. */
static void gateway_reply_headers(parse_ctx *ctx, const char *value)
{
    rp_config *cfg = ctx->cfg;
    long count = set_list(ctx, "reply_headers", value, &cfg->gateway.reply_headers,
                          &cfg->gateway.n_reply_headers);
    if (count == 0)
        fail(ctx, ctx->line, "reply_headers: expected NAME[, NAME…] (Location)");
    for (long i = 0; i < count; i++) {
        const char *why = rp_metadata_reply_refusal(cfg->gateway.reply_headers[i]);
        if (why) {
            fail(ctx, ctx->line, "reply_headers: %s: %s", cfg->gateway.reply_headers[i], why);
            return;
        }
    }
}

/* [gateway] status_metadata = KEY: the reply metadata that sets the HTTP
 * status of a successful answer; off (the default) for none. */
static void gateway_status_metadata(parse_ctx *ctx, const char *value)
{
    rp_config *cfg = ctx->cfg;
    free(cfg->gateway.status_metadata);
    cfg->gateway.status_metadata = NULL;
    if (strcmp(value, "off") == 0)
        return;
    const char *why = rp_metadata_status_refusal(value);
    if (why) {
        fail(ctx, ctx->line, "status_metadata: '%s': %s", value, why);
        return;
    }
    set_string(ctx, &cfg->gateway.status_metadata, value);
    for (char *p = cfg->gateway.status_metadata; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

/* [gateway] openapi_title, openapi_version: the OpenAPI document's
 * info.title and info.version, UTF-8 text without control characters. */
static void gateway_openapi_info(parse_ctx *ctx, const char *key, char **slot,
                                 const char *value)
{
    size_t n = strlen(value);
    int ok = n > 0 && n <= 200 && rp_utf8_valid((const uint8_t *)value, n);
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)value[i] >= 0x20 && value[i] != 0x7f;
    if (ok)
        set_string(ctx, slot, value);
    else
        fail(ctx, ctx->line, "%s: '%s' is not 1 to 200 bytes of UTF-8 text without control "
                             "characters", key, value);
}

/* 1 if s is an origin as a browser sends it in Origin: http:// or https://,
 * then a host (and port) of printable characters, without a path. */
static int origin_ok(const char *s)
{
    const char *rest = strncmp(s, "https://", 8) == 0  ? s + 8
                       : strncmp(s, "http://", 7) == 0 ? s + 7
                                                       : NULL;
    if (!rest || !*rest)
        return 0;
    for (; *rest; rest++)
        if (*rest <= ' ' || *rest > '~' || *rest == '/' || *rest == '?' || *rest == '#' ||
            *rest == ',')
            return 0;
    return 1;
}

/* [gateway] cors_origins = * | ORIGIN[, ORIGIN…]. */
static void gateway_cors_origins(parse_ctx *ctx, const char *value)
{
    rp_config *cfg = ctx->cfg;
    cfg->gateway.cors_any = 0;
    cfg->gateway.cors_origins_line = ctx->line;
    long count = set_list(ctx, "cors_origins", strcmp(value, "off") == 0 ? "" : value,
                          &cfg->gateway.cors_origins, &cfg->gateway.n_cors_origins);
    char **origins = cfg->gateway.cors_origins;
    if (count < 0 || strcmp(value, "off") == 0)
        return;
    if (count == 1 && strcmp(origins[0], "*") == 0) {
        cfg->gateway.cors_any = 1;
        return;
    }
    if (count == 0)
        fail(ctx, ctx->line, "cors_origins: expected off, * or ORIGIN[, ORIGIN…] "
             "(https://app.example.com)");
    for (long i = 0; i < count; i++) {
        if (!origin_ok(origins[i])) {
            fail(ctx, ctx->line, "cors_origins: '%s' is not an origin (scheme://host[:port], "
                 "no path; * alone for any)", origins[i]);
            return;
        }
    }
}

/* What the gateway serves: descriptors, services and the on/off switches
 * (auto_map, docs, metrics, the JSON and query options).  Returns 1 if
 * `key` was one. */
static int gateway_api_key(parse_ctx *ctx, const char *key, const char *value)
{
    int *sw = gateway_switch(ctx->cfg, key);
    if (sw) {
        if (parse_bool(value, sw) < 0)
            fail(ctx, ctx->line, "%s: '%s' is not on or off", key, value);
    } else if (strcmp(key, "descriptors") == 0) {
        gateway_descriptors(ctx, value);
    } else if (strcmp(key, "services") == 0) {
        gateway_services(ctx, value);
    } else if (strcmp(key, "forward_headers") == 0) {
        gateway_forward_headers(ctx, value);
    } else if (strcmp(key, "reply_headers") == 0) {
        gateway_reply_headers(ctx, value);
    } else if (strcmp(key, "status_metadata") == 0) {
        gateway_status_metadata(ctx, value);
    } else if (strcmp(key, "openapi_title") == 0) {
        gateway_openapi_info(ctx, key, &ctx->cfg->gateway.openapi_title, value);
    } else if (strcmp(key, "openapi_version") == 0) {
        gateway_openapi_info(ctx, key, &ctx->cfg->gateway.openapi_version, value);
    } else if (strcmp(key, "cors_origins") == 0) {
        gateway_cors_origins(ctx, value);
    } else {
        return 0;
    }
    return 1;
}

/* [gateway] access_log = off, stderr or FILE; access_log_format = text or
 * json.  Returns 1 if `key` was one. */
static int gateway_log_key(parse_ctx *ctx, const char *key, const char *value)
{
    rp_config *cfg = ctx->cfg;
    if (strcmp(key, "access_log") == 0) {
        free(cfg->gateway.access_log);
        cfg->gateway.access_log = NULL;
        if (strcmp(value, "off") == 0)
            return 1;
        if (value[0] == '\0') {
            fail(ctx, ctx->line, "access_log: expected off, stderr or a file path");
            return 1;
        }
        cfg->gateway.access_log = strcmp(value, "stderr") == 0 ? strdup("-")
                                                               : resolve_path(cfg, value);
        if (!cfg->gateway.access_log)
            fail(ctx, ctx->line, "out of memory");
    } else if (strcmp(key, "access_log_format") == 0) {
        if (strcmp(value, "text") == 0 || strcmp(value, "json") == 0)
            cfg->gateway.access_log_json = value[0] == 'j';
        else
            fail(ctx, ctx->line, "access_log_format: '%s' is not text or json", value);
    } else {
        return 0;
    }
    return 1;
}

/* One [gateway] key: each group owns distinct names, so the order they are
 * asked in does not matter. */
static void key_gateway(parse_ctx *ctx, const char *key, const char *value)
{
    rp_config *cfg = ctx->cfg;
    if (gateway_address_key(ctx, key, value) || gateway_limit_key(ctx, key, value) ||
        gateway_api_key(ctx, key, value) || gateway_log_key(ctx, key, value) ||
        tls_key(ctx, &cfg->gateway.tls, "cert", "key", NULL, key, value) ||
        tls_key(ctx, &cfg->gateway.upstream_tls, "upstream_cert", "upstream_key",
                "upstream_ca", key, value) ||
        policy_key(ctx, 2, key, value))
        return;
    static const char *const own[] = {
        "listen", "upstream", "descriptors", "services", "auto_map", "docs", "timeout",
        "max_timeout", "max_body_bytes", "threads", "connection_timeout", "max_connections",
        "busy_poll_us", "cors_origins", "cors_allow_credentials", "cors_max_age",
        "forward_headers", "reply_headers", "status_metadata", "gzip", "grpc_web",
        "ignore_unknown_query_parameters",
        "json_ignore_unknown_fields",
        "json_emit_defaults", "json_proto_names", "json_enum_numbers", "metrics", "access_log",
        "access_log_format", "cert", "key", "upstream_ca", "upstream_cert", "upstream_key",
        "upstream_name", "upstream_dns_interval", "openapi_title", "openapi_version", NULL};
    unknown_key(ctx, "gateway", key, own);
}

static void key_service(parse_ctx *ctx, rp_service_conf *svc, const char *key,
                        const char *value)
{
    if (strcmp(key, "plugin") == 0) {
        svc->plugin_line = ctx->line;
        set_file_path(ctx, "plugin", value, &svc->plugin);
    } else if (strcmp(key, "descriptors") == 0) {
        svc->descriptors_line = ctx->line;
        set_file_path(ctx, "descriptors", value, &svc->descriptors);
    } else {
        /* the plugin's own setting, handed to its init() */
        rp_setting *grown = realloc(svc->settings, (svc->n_settings + 1) * sizeof(*grown));
        if (!grown) {
            fail(ctx, ctx->line, "out of memory");
            return;
        }
        svc->settings = grown;
        rp_setting *s = &svc->settings[svc->n_settings];
        s->key = strdup(key);
        s->value = strdup(value);
        s->line = ctx->line;
        svc->n_settings++;
        if (!s->key || !s->value)
            fail(ctx, ctx->line, "out of memory");
    }
}

static int valid_service_name(const char *name)
{
    if (!*name)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return 0;
    return 1;
}

/* Called by the line reader for each "[name]" line. */
static void begin_section(parse_ctx *ctx, const char *name)
{
    static const char *const fixed[] = {"supervisor", "host", "gateway"};
    rp_config *cfg = ctx->cfg;
    ctx->section_line = ctx->line;
    ctx->in_service = -1;
    ctx->n_seen_keys = 0;
    for (int i = 0; i < 3; i++) {
        if (strcmp(name, fixed[i]) == 0) {
            if (ctx->seen_sections[i]++)
                fail(ctx, ctx->line, "section [%s] appears twice", name);
            return;
        }
    }
    if (strncmp(name, SERVICE_PREFIX, strlen(SERVICE_PREFIX)) != 0) {
        fail(ctx, ctx->line,
             "unknown section [%s] (known: [supervisor], [host], [gateway], [service.NAME])",
             name);
        return;
    }
    const char *svc_name = name + strlen(SERVICE_PREFIX);
    if (!valid_service_name(svc_name)) {
        fail(ctx, ctx->line, "[%s]: a service name is letters, digits, '_' and '-'", name);
        return;
    }
    for (size_t i = 0; i < cfg->n_services; i++) {
        if (strcmp(cfg->services[i].name, svc_name) == 0) {
            fail(ctx, ctx->line, "section [%s] appears twice (first at line %d)", name,
                 cfg->services[i].line);
            return;
        }
    }
    rp_service_conf *grown = realloc(cfg->services, (cfg->n_services + 1) * sizeof(*grown));
    if (!grown) {
        fail(ctx, ctx->line, "out of memory");
        return;
    }
    cfg->services = grown;
    rp_service_conf *svc = &cfg->services[cfg->n_services];
    memset(svc, 0, sizeof(*svc));
    svc->name = strdup(svc_name);
    svc->line = ctx->line;
    if (!svc->name) {
        fail(ctx, ctx->line, "out of memory");
        return;
    }
    ctx->in_service = (int)cfg->n_services++;
}

/* A "[NAME]" line (flush left): begins section NAME, unless something
 * other than white space and a ';' or '#' comment follows the ']' (inih
 * would drop it without a word). */
static void spot_section(parse_ctx *ctx, const char *line)
{
    const char *end = strchr(line, ']');
    if (!end)
        return; /* inih reports it */
    char name[256];
    size_t n = (size_t)(end - line - 1);
    if (n >= sizeof(name))
        n = sizeof(name) - 1;
    memcpy(name, line + 1, n);
    name[n] = '\0';
    const char *rest = end + 1;
    while (isspace((unsigned char)*rest))
        rest++;
    if (*rest && *rest != ';' && *rest != '#') {
        size_t len = strlen(rest);
        while (isspace((unsigned char)rest[len - 1]))
            len--;
        fail(ctx, ctx->line, "'%.*s' after [%s]: only a ; or # comment may follow a section "
             "header", (int)len, rest, name);
        return;
    }
    begin_section(ctx, name);
}

/* inih line reader: hands inih the next line of cfg->text (up to
 * RP_CONFIG_MAX_LINE bytes, see use_long_lines), counting lines and
 * spotting section headers, flush left (inih would read an indented line
 * as the continuation of the previous value, and a section header after a
 * UTF-8 BOM would go unseen here).  A line it refuses goes to inih blank. */
static char *read_line(char *buf, int size, void *stream)
{
    parse_ctx *ctx = stream;
    if (ctx->at >= ctx->end)
        return NULL;
    const char *line = ctx->at;
    const char *eol = memchr(line, '\n', (size_t)(ctx->end - line));
    size_t len = (size_t)((eol ? eol : ctx->end) - line); /* without the newline */
    ctx->at = eol ? eol + 1 : ctx->end;
    ctx->line++;
    buf[0] = '\0';
    size_t content = len - (len && line[len - 1] == '\r'); /* CRLF: the CR is no content */
    if (content > RP_CONFIG_MAX_LINE || len + 2 > (size_t)size) {
        fail(ctx, ctx->line, "line longer than %u bytes", RP_CONFIG_MAX_LINE);
        return buf;
    }
    if (memchr(line, '\0', len)) { /* it would end the line there */
        fail(ctx, ctx->line, "NUL byte in the line");
        return buf;
    }
    if (ctx->line == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
        line += 3, len -= 3;
    while (len && (*line == ' ' || *line == '\t'))
        line++, len--;
    if (eol)
        len++; /* the newline too */
    memcpy(buf, line, len);
    buf[len] = '\0';
    if (buf[0] == '[' && !ctx->lines_only)
        spot_section(ctx, buf);
    return buf;
}

/* Keeps the line in cfg->raw (rp_raw_key). */
static void record_raw(parse_ctx *ctx, const char *section, const char *key, const char *value)
{
    rp_config *cfg = ctx->cfg;
    rp_raw_key *grown = realloc(cfg->raw, (cfg->n_raw + 1) * sizeof(*grown));
    if (!grown) {
        fail(ctx, ctx->line, "out of memory");
        return;
    }
    cfg->raw = grown;
    rp_raw_key *r = &cfg->raw[cfg->n_raw++];
    r->section = strdup(section);
    r->key = strdup(key);
    r->value = strdup(value);
    r->line = ctx->line;
    if (!r->section || !r->key || !r->value)
        fail(ctx, ctx->line, "out of memory");
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
    parse_ctx *ctx = user;
    if (ctx->failed)
        return 1; /* keep inih going quietly; the first error is reported */
    if (key[0] == '\0') {
        fail(ctx, ctx->line, "a key name is missing before '='");
        return 1;
    }
    if (section[0] == '\0') {
        fail(ctx, ctx->line, "'%s' is outside any section", key);
        return 1;
    }
    for (int i = 0; i < ctx->n_seen_keys; i++) {
        if (strcmp(ctx->seen_keys[i], key) == 0) {
            fail(ctx, ctx->line, "key '%s' appears twice in [%s]", key, section);
            return 1;
        }
    }
    if (ctx->n_seen_keys < 64 && strlen(key) < sizeof(ctx->seen_keys[0]))
        strcpy(ctx->seen_keys[ctx->n_seen_keys++], key);
    record_raw(ctx, section, key, value);

    if (ctx->in_service >= 0)
        key_service(ctx, &ctx->cfg->services[ctx->in_service], key, value);
    else if (strcmp(section, "supervisor") == 0)
        key_supervisor(ctx, key, value);
    else if (strcmp(section, "host") == 0)
        key_host(ctx, key, value);
    else if (strcmp(section, "gateway") == 0)
        key_gateway(ctx, key, value);
    return 1;
}

static const char *const policy_section[3] = {"supervisor", "host", "gateway"};

/* Of policy keys a and b, which clash in one child's policy, the line of
 * the one set later in the file (the line that made the clash).  from[k]:
 * the section key k's value came from. */
static int later_key(const parse_ctx *ctx, const int *from, int a, int b)
{
    int line_a = ctx->policy_line[from[a]][a];
    int line_b = ctx->policy_line[from[b]][b];
    return line_a > line_b ? line_a : line_b;
}

/* Policy key k of a child's policy, worth `seconds`, as a message names
 * it, in out[outlen]: "[SECTION] KEY (N s)", without "[SECTION] " when
 * SECTION is `named` (an index into policy_section, named already), or
 * "KEY (N s, the default)" when no section set it.  Returns the section
 * named, or `named` if none was. */
static int name_seconds_key(const parse_ctx *ctx, const int *from, int k, double seconds,
                            int named, char *out, size_t outlen)
{
    const char *key = policy_keys[k].name;
    if (!(ctx->policy_set[from[k]] & (1u << k))) {
        snprintf(out, outlen, "%s (%g s, the default)", key, seconds);
        return named;
    }
    if (from[k] == named)
        snprintf(out, outlen, "%s (%g s)", key, seconds);
    else
        snprintf(out, outlen, "[%s] %s (%g s)", policy_section[from[k]], key, seconds);
    return from[k];
}

/* Refuses a child's policy whose first delay is above its longest one, at
 * the later of the two lines, naming each key's section. */
static void check_backoff(parse_ctx *ctx, const rp_child_policy *eff, const int *from)
{
    if (eff->backoff_initial <= eff->backoff_max)
        return;
    char initial[64], max[64];
    int named = name_seconds_key(ctx, from, PK_BACKOFF_INITIAL, eff->backoff_initial, -1,
                                 initial, sizeof(initial));
    name_seconds_key(ctx, from, PK_BACKOFF_MAX, eff->backoff_max, named, max, sizeof(max));
    fail(ctx, later_key(ctx, from, PK_BACKOFF_INITIAL, PK_BACKOFF_MAX), "%s is above %s",
         initial, max);
}

/* Refuses the policy of child c (RP_CHILD_*) if a child that keeps failing
 * would be restarted at once, for ever: with no delay at all (backoff_max
 * = 0) and no end (start_retries = 0); or with every start that got ready
 * counted as good (start_seconds = 0), which takes the delay back to a
 * backoff_initial of 0 after each of them.  Reported at the later of the
 * two lines, naming both keys' sections. */
static void check_restart_loop(parse_ctx *ctx, int c, const rp_child_policy *eff,
                               const int *from)
{
    int a, b;
    const char *meaning, *when;
    if (eff->restart == RP_RESTART_NEVER)
        return;
    if (eff->backoff_max == 0 && eff->start_retries == 0) {
        a = PK_BACKOFF_MAX, b = PK_START_RETRIES;
        meaning = "never give up", when = "";
    } else if (eff->backoff_initial == 0 && eff->start_seconds == 0) {
        a = PK_BACKOFF_INITIAL, b = PK_START_SECONDS;
        meaning = "any start that gets ready is a good one", when = " right after it is ready";
    } else {
        return;
    }
    char b_section[32] = ""; /* said only when it is not a's */
    if (from[b] != from[a])
        snprintf(b_section, sizeof(b_section), "[%s] ", policy_section[from[b]]);
    const char *who = from[a] == 0 && from[b] == 0 ? "a child"
                      : c == RP_CHILD_HOST         ? "the host"
                                                   : "the gateway";
    fail(ctx, later_key(ctx, from, a, b),
         "[%s] %s = 0 with %s%s = 0 (%s) would restart %s at once, for ever, while it keeps "
         "failing%s: set one of them above 0", policy_section[from[a]], policy_keys[a].name,
         b_section, policy_keys[b].name, meaning, who, when);
}

/* The effective policy of each child ([supervisor] overridden by its own
 * section), checked; and the supervisor's defaults. */
static void resolve_policies(parse_ctx *ctx)
{
    rp_config *cfg = ctx->cfg;
    cfg->supervisor.stop_timeout = ctx->policy[0].stop_timeout;
    for (int c = 0; c < RP_N_CHILDREN && !ctx->failed; c++) {
        rp_child_policy *eff = &cfg->supervisor.child[c];
        int from[N_POLICY_KEYS]; /* which section each value came from */
        *eff = ctx->policy[0];
        for (size_t i = 0; i < N_POLICY_KEYS; i++) {
            from[i] = 0;
            if (ctx->policy_set[c + 1] & (1u << i)) {
                const struct policy_key *k = &policy_keys[i];
                size_t size = k->kind == PK_RESTART ? sizeof(rp_restart)
                              : k->kind == PK_COUNT ? sizeof(int) : sizeof(double);
                memcpy((char *)eff + k->offset, (const char *)&ctx->policy[c + 1] + k->offset,
                       size);
                from[i] = c + 1;
            }
        }
        check_backoff(ctx, eff, from);
        check_restart_loop(ctx, c, eff, from);
    }
    if (!cfg->supervisor.control_socket &&
        asprintf(&cfg->supervisor.control_socket, "%s/" RP_CONTROL_SOCKET_NAME,
                 strcmp(cfg->dir, "/") == 0 ? "" : cfg->dir) < 0) {
        cfg->supervisor.control_socket = NULL;
        fail(ctx, 0, "out of memory");
    }
}

/* Checks that need the whole file. */
static void validate(parse_ctx *ctx)
{
    rp_config *cfg = ctx->cfg;
    resolve_policies(ctx);
    for (size_t i = 0; i < cfg->n_services && !ctx->failed; i++) {
        if (!cfg->services[i].plugin)
            fail(ctx, cfg->services[i].line, "[service.%s] has no 'plugin = PATH.so'",
                 cfg->services[i].name);
    }
    /* compared as gRPC targets, so localhost:P is 127.0.0.1:P; reported at
     * the later of the two listen lines, the one that made the clash */
    char host[PATH_MAX + 16], gateway[PATH_MAX + 16];
    rp_config_grpc_target(cfg->host.listen, host, sizeof(host));
    rp_config_grpc_target(cfg->gateway.listen, gateway, sizeof(gateway));
    int listen_line = ctx->listen_line[0] > ctx->listen_line[1] ? ctx->listen_line[0]
                                                                : ctx->listen_line[1];
    if (!ctx->failed && strcmp(host, gateway) == 0)
        fail(ctx, listen_line, "[host] and [gateway] both listen on %s", cfg->gateway.listen);
    if (cfg->gateway.docs < 0) /* not set: on where only this machine can reach it */
        cfg->gateway.docs = rp_config_is_loopback(cfg->gateway.listen);
    if (!ctx->failed && cfg->supervisor.group && !cfg->supervisor.user)
        fail(ctx, cfg->supervisor.group_line, "[supervisor] group needs user");
    check_tls(ctx, "host", &cfg->host.tls, "cert", "key", "client_ca", 1);
    check_tls(ctx, "gateway", &cfg->gateway.tls, "cert", "key", "(none)", 1);
    check_tls(ctx, "gateway", &cfg->gateway.upstream_tls, "upstream_cert", "upstream_key",
              "upstream_ca", 0);
    if (!ctx->failed && cfg->gateway.cors_any && cfg->gateway.cors_allow_credentials)
        fail(ctx, cfg->gateway.cors_origins_line, "[gateway] cors_origins = * with "
             "cors_allow_credentials = on: browsers send no credentials to any origin; name the "
             "origins");
    if (!ctx->failed && cfg->gateway.upstream_name && !cfg->gateway.upstream_tls.ca)
        fail(ctx, cfg->gateway.upstream_name_line, "[gateway] upstream_name needs upstream_ca "
             "(it is the name checked in the upstream's certificate)");
    if (!ctx->failed && cfg->host.tls.cert && cfg->n_services && !cfg->gateway.upstream &&
        cfg->host.private_listen && strcmp(cfg->host.private_listen, "off") == 0 &&
        !cfg->gateway.upstream_tls.ca)
        fail(ctx, cfg->host.tls.cert_line, "[host] cert with private_listen = off: the gateway "
             "would call the host's TLS port without TLS; set [gateway] upstream_ca");
    if (!ctx->failed && cfg->host.tls.cert && strncmp(cfg->host.listen, "unix:", 5) == 0)
        fail(ctx, cfg->host.tls.cert_line, "[host] cert: TLS is for a TCP listen address, "
             "and listen is %s", cfg->host.listen);
    if (!ctx->failed && cfg->host.metrics_listen) {
        char metrics[PATH_MAX + 16];
        rp_config_grpc_target(cfg->host.metrics_listen, metrics, sizeof(metrics));
        if (strcmp(metrics, host) == 0 || strcmp(metrics, gateway) == 0)
            fail(ctx, ctx->metrics_line, "[host] metrics_listen %s is also %s listen address",
                 cfg->host.metrics_listen, strcmp(metrics, host) == 0 ? "the host's"
                                                                     : "the gateway's");
    }
    if (!ctx->failed && cfg->gateway.timeout > cfg->gateway.max_timeout)
        fail(ctx, ctx->timeout_line, "[gateway] timeout (%g s) is above max_timeout (%g s)",
             cfg->gateway.timeout, cfg->gateway.max_timeout);
}

static int set_defaults(rp_config *cfg)
{
    cfg->supervisor.stop_timeout = 10.0;
    cfg->host.listen = strdup("127.0.0.1:5505");
    cfg->host.max_message_bytes = (size_t)4 << 20;
    cfg->host.max_concurrent_streams = 100;
    cfg->host.drain_timeout = 5.0;
    cfg->host.min_ping_interval = 300.0; /* gRPC core's own default, and grpc-go's */
    cfg->host.max_connection_idle = 0;   /* off: an idle connection costs little */
    cfg->host.max_connection_age = 0;    /* off, as in gRPC core, grpc-go and Envoy */
    cfg->host.max_connection_age_grace = 300.0; /* [gateway] max_timeout's default */
    cfg->gateway.listen = strdup("127.0.0.1:8080");
    cfg->gateway.timeout = 10.0;
    cfg->gateway.max_timeout = 300.0;
    cfg->gateway.max_body_bytes = (size_t)4 << 20;
    cfg->gateway.connection_timeout = 30;
    cfg->gateway.max_connections = 2048;
    cfg->gateway.busy_poll_us = 50;
    cfg->gateway.upstream_dns_interval = 30.0; /* gRPC's DNS resolver's own */
    cfg->gateway.cors_max_age = 600;
    cfg->gateway.docs = -1; /* decided by validate() from listen */
    cfg->gateway.metrics = 1;
    return cfg->host.listen && cfg->gateway.listen ? 0 : -1;
}

/* cfg->path = path (absolute) and cfg->dir its folder. */
static int set_paths(rp_config *cfg, const char *path)
{
    if (!(cfg->path = strdup(path)) || !(cfg->dir = strdup(path)))
        return -1;
    char *slash = strrchr(cfg->dir, '/');
    if (slash == cfg->dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    return 0;
}

static const char too_large[] = "larger than 4 MiB: not a configuration file";
_Static_assert(RP_CONFIG_MAX_BYTES == 4u << 20, "too_large names the limit");

/* Reads all of fd (a regular file or memfd) from offset 0 into cfg->text,
 * NUL-terminated.  NULL, or what is wrong. */
static const char *read_text(rp_config *cfg, int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return strerror(errno);
    /* a folder opens too, and reading it looks like the end of an empty
     * file: that would be a config of defaults */
    if (!S_ISREG(st.st_mode))
        return "not a regular file";
    if (st.st_size > (off_t)RP_CONFIG_MAX_BYTES)
        return too_large;
    size_t cap = (size_t)st.st_size + 1, len = 0;
    if (!(cfg->text = malloc(cap)))
        return "out of memory";
    for (;;) {
        ssize_t n;
        if (len + 1 == cap) { /* full: at the end, or the file grew since fstat */
            char probe;
            if ((n = pread(fd, &probe, 1, (off_t)len)) == 0)
                break;
            if (n > 0) {
                char *bigger = cap > RP_CONFIG_MAX_BYTES ? NULL : realloc(cfg->text, cap * 2);
                if (!bigger)
                    return cap > RP_CONFIG_MAX_BYTES ? too_large : "out of memory";
                cfg->text = bigger, cap *= 2;
                continue;
            }
        } else if ((n = pread(fd, cfg->text + len, cap - 1 - len, (off_t)len)) > 0) {
            len += (size_t)n;
            continue;
        } else if (n == 0) {
            break;
        }
        if (errno != EINTR)
            return strerror(errno);
    }
    if (len > RP_CONFIG_MAX_BYTES)
        return too_large;
    cfg->text[len] = '\0';
    cfg->text_len = len;
    return NULL;
}

/*
 * How long a line inih hands read_line: inih's settings are variables of
 * the library, process-wide, read by every ini_parse_stream, and built
 * for lines of 198 bytes.  Set once (long_lines_once) before rp_config's
 * first parse, and nothing else in rpcrest calls inih, so every program
 * that reads the INI (rpcrestd, rpcrest-host, rpcrest-gateway, rpcrestctl)
 * reads lines of up to RP_CONFIG_MAX_LINE bytes.  One buffer from the heap
 * (not 64 KiB of stack, not grown by realloc: that would call read_line
 * again in the middle of a line), with room for "\r\n" and the NUL.
 */
static pthread_once_t long_lines_once = PTHREAD_ONCE_INIT;

static void use_long_lines(void)
{
    ini_use_stack = false;
    ini_allow_realloc = false;
    ini_initial_alloc = RP_CONFIG_MAX_LINE + 3;
    ini_max_line = RP_CONFIG_MAX_LINE + 3;
}

/* inih's parse of ctx's text (read_line), calling handler(user, ...) for
 * each key: the one way rp_config calls inih.  inih's result: 0, the
 * first line with a syntax error, or -2 when out of memory. */
static int parse_lines(parse_ctx *ctx, ini_handler handler, void *user)
{
    pthread_once(&long_lines_once, use_long_lines);
    return ini_parse_stream(read_line, ctx, handler, user);
}

/* Parses and checks cfg->text; cfg->path and dir are set.  0, or -1 with
 * the reason in err[errlen]. */
static int parse_text(rp_config *cfg, char *err, size_t errlen)
{
    parse_ctx ctx = {.cfg = cfg, .at = cfg->text, .end = cfg->text + cfg->text_len,
                     .in_service = -1, .err = err, .errlen = errlen};
    for (int i = 0; i < 3; i++)
        policy_defaults(&ctx.policy[i]);
    int rc = parse_lines(&ctx, on_key, &ctx);
    if (rc > 0 && (!ctx.failed || rc < ctx.err_line)) {
        ctx.failed = 0; /* inih reports its first syntax error only at the end */
        fail(&ctx, rc, "syntax error: expected [section], key = value, or a ; comment");
    } else if (!ctx.failed && rc < 0) {
        fail(&ctx, ctx.line, "out of memory");
    }
    if (!ctx.failed)
        validate(&ctx);
    return ctx.failed ? -1 : 0;
}

/* A config holding only its path, folder and text, read from fd (-1:
 * opens `path`), for the caller to parse and free; `path` names the file
 * in errors and gives relative paths their folder.  NULL with the reason
 * in err[errlen]. */
static rp_config *read_file(const char *path, int fd, char *err, size_t errlen)
{
    rp_config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    const char *why = NULL;
    int own_fd = -1;
    if (fd < 0) {
        char *abs = realpath(path, NULL);
        /* O_NONBLOCK: a FIFO opens without waiting for a writer (and is
         * then refused), O_NOCTTY: a terminal does not become ours */
        if (!abs || set_paths(cfg, abs) < 0 ||
            (own_fd = open(abs, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) < 0)
            why = strerror(errno);
        free(abs);
        fd = own_fd;
    } else if (path[0] != '/') {
        why = "not an absolute path (the configuration came from " RP_CONFIG_FD_ENV ")";
    } else if (set_paths(cfg, path) < 0) {
        why = "out of memory";
    }
    /* what is wrong with a given fd is the variable's fault, not the file's */
    char given[sizeof(RP_CONFIG_FD_ENV) + 16] = "";
    if (!why && (why = read_text(cfg, fd)) && own_fd < 0)
        snprintf(given, sizeof(given), "%s=%d: ", RP_CONFIG_FD_ENV, fd);
    if (own_fd >= 0)
        close(own_fd);
    if (why) {
        snprintf(err, errlen, "%s: %s%s", path, given, why);
        rp_config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* Reads the text from fd (-1: opens `path`) and parses it (read_file). */
static rp_config *load(const char *path, int fd, char *err, size_t errlen)
{
    rp_config *cfg = read_file(path, fd, err, errlen);
    if (!cfg)
        return NULL;
    if (set_defaults(cfg) < 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        rp_config_free(cfg);
        return NULL;
    }
    if (parse_text(cfg, err, errlen) < 0) {
        rp_config_free(cfg);
        return NULL;
    }
    return cfg;
}

rp_config *rp_config_load(const char *path, char *err, size_t errlen)
{
    return load(path, -1, err, errlen);
}

rp_config *rp_config_load_given(const char *path, char *err, size_t errlen)
{
    const char *given = getenv(RP_CONFIG_FD_ENV);
    if (!given)
        return rp_config_load(path, err, errlen);
    char *end;
    errno = 0;
    long fd = strtol(given, &end, 10);
    int bad = errno || end == given || *end || fd < 3 || fd > INT_MAX;
    if (bad)
        snprintf(err, errlen, "%s: %s=%s is not a file descriptor", path, RP_CONFIG_FD_ENV,
                 given);
    unsetenv(RP_CONFIG_FD_ENV); /* not for the plugins' own children; `given` is gone */
    if (bad)
        return NULL;
    rp_config *cfg = load(path, (int)fd, err, errlen);
    close((int)fd);
    return cfg;
}

/* What rp_config_raw_value looks for, and the last value it found. */
typedef struct raw_query {
    const char *section, *key;
    char *value;
    int out_of_memory;
} raw_query;

static int on_raw_key(void *user, const char *section, const char *key, const char *value)
{
    raw_query *q = user;
    if (strcmp(section, q->section) == 0 && strcmp(key, q->key) == 0) {
        free(q->value);
        if (!(q->value = strdup(value)))
            q->out_of_memory = 1;
    }
    return 1;
}

int rp_config_raw_value(const char *path, const char *section, const char *key, char **value,
                        char *err, size_t errlen)
{
    *value = NULL;
    rp_config *cfg = read_file(path, -1, err, errlen);
    if (!cfg)
        return -1;
    /* read_line skips the lines rp_config_load refuses; what is wrong with
     * them is not reported here (no err buffer) */
    parse_ctx ctx = {.cfg = cfg, .at = cfg->text, .end = cfg->text + cfg->text_len,
                     .in_service = -1, .lines_only = 1};
    raw_query q = {.section = section, .key = key};
    int rc = parse_lines(&ctx, on_raw_key, &q);
    rp_config_free(cfg);
    if (rc == -2 || q.out_of_memory) {
        free(q.value);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    *value = q.value;
    return 0;
}

int rp_config_memfd(const rp_config *cfg)
{
    int fd = memfd_create("rpcrest.ini", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    for (size_t off = 0; off < cfg->text_len;) {
        ssize_t n = write(fd, cfg->text + off, cfg->text_len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        off += (size_t)n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void tls_free(rp_tls_conf *tls)
{
    free(tls->cert);
    free(tls->key);
    free(tls->ca);
}

void rp_config_free(rp_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n_services; i++) {
        rp_service_conf *svc = &cfg->services[i];
        for (size_t j = 0; j < svc->n_settings; j++) {
            free(svc->settings[j].key);
            free(svc->settings[j].value);
        }
        free(svc->settings);
        free(svc->name);
        free(svc->plugin);
        free(svc->descriptors);
    }
    free(cfg->services);
    for (size_t i = 0; i < cfg->n_raw; i++) {
        free(cfg->raw[i].section);
        free(cfg->raw[i].key);
        free(cfg->raw[i].value);
    }
    free(cfg->raw);
    free(cfg->supervisor.control_socket);
    free(cfg->supervisor.log_file);
    free(cfg->supervisor.user);
    free(cfg->supervisor.group);
    tls_free(&cfg->host.tls);
    tls_free(&cfg->gateway.tls);
    tls_free(&cfg->gateway.upstream_tls);
    free(cfg->host.listen);
    free(cfg->host.private_listen);
    free(cfg->host.metrics_listen);
    free(cfg->gateway.access_log);
    free(cfg->gateway.listen);
    free(cfg->gateway.upstream);
    free(cfg->gateway.upstream_name);
    free(cfg->gateway.openapi_title);
    free(cfg->gateway.openapi_version);
    free_list(cfg->gateway.descriptors, cfg->gateway.n_descriptors);
    free_list(cfg->gateway.services, cfg->gateway.n_services);
    free_list(cfg->gateway.forward_headers, cfg->gateway.n_forward_headers);
    free_list(cfg->gateway.reply_headers, cfg->gateway.n_reply_headers);
    free(cfg->gateway.status_metadata);
    free_list(cfg->gateway.cors_origins, cfg->gateway.n_cors_origins);
    free(cfg->path);
    free(cfg->dir);
    free(cfg->text);
    free(cfg);
}

int rp_config_key_line(const rp_config *cfg, const char *section, const char *key)
{
    for (size_t i = 0; i < cfg->n_raw; i++)
        if (strcmp(cfg->raw[i].section, section) == 0 && strcmp(cfg->raw[i].key, key) == 0)
            return cfg->raw[i].line;
    return 0;
}

void rp_config_where(const rp_config *cfg, const char *section, const char *key, char *out,
                     size_t outlen)
{
    int line = rp_config_key_line(cfg, section, key);
    if (line > 0)
        snprintf(out, outlen, "%s:%d", cfg->path, line);
    else
        snprintf(out, outlen, "%s", cfg->path);
}
