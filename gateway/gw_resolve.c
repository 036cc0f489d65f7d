/*
 * gw_resolve.c -- a target's addresses: parsed once, or for a name
 * resolved by getaddrinfo on the resolver's thread when asked, the answer
 * kept under a lock and its generation in an atomic the HTTP threads read
 * on every tick.
 *
 * The thread holds a reference of its own, so that a stopping gateway
 * need not wait out a getaddrinfo that hangs on an unanswering DNS server
 * (it cannot be interrupted): gw_resolver_free drops the owner's, the
 * thread drops its own as it ends, and the last one frees.
 */
#include "gw_resolve.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <resolv.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rp_addr.h"
#include "rp_log.h"
#include "rp_time.h"

struct gw_resolver {
    char target[300];
    char authority[300];
    char name[256];            /* a name's host part; "" for addresses */
    char port[8];
    int is_name;
    char dns_server_text[80];  /* dns://SERVER/…: the server asked, "" for the system's */
    struct sockaddr_storage dns_server;
    socklen_t dns_server_len;  /* 0: the system's resolver (getaddrinfo) */
    atomic_uint generation;
    pthread_mutex_t lock;      /* the fields below */
    pthread_cond_t wake;
    gw_address addrs[GW_RESOLVE_MAX_ADDRS];
    size_t n_addrs;
    char error[200];           /* the answer's failure (no address), or "" */
    char logged[200];          /* the failure logged last, "" after an answer */
    int requested;             /* a client asked for an answer */
    int64_t interval_ms;       /* the least time from an answer to the next resolution */
    int64_t not_before_ms;     /* no resolution starts before this */
    int64_t backoff_ms;        /* 0 after an answer with addresses */
    gw_resolve_waiter *waiters;
    int stop;
    int refs;                  /* the owner's, and the thread's while it runs */
};

/* a->text and a->host from its socket address. */
static void describe(gw_address *a)
{
    if (a->sa.ss_family == AF_UNIX) {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->sa;
        snprintf(a->text, sizeof(a->text), "%s%.62s", sun->sun_path[0] ? "" : "@",
                 sun->sun_path[0] ? sun->sun_path : sun->sun_path + 1);
        snprintf(a->host, sizeof(a->host), "localhost");
        return;
    }
    int v6 = a->sa.ss_family == AF_INET6;
    const void *ip = v6 ? (const void *)&((struct sockaddr_in6 *)&a->sa)->sin6_addr
                        : (const void *)&((struct sockaddr_in *)&a->sa)->sin_addr;
    unsigned port = ntohs(v6 ? ((struct sockaddr_in6 *)&a->sa)->sin6_port
                             : ((struct sockaddr_in *)&a->sa)->sin_port);
    inet_ntop(a->sa.ss_family, ip, a->host, sizeof(a->host));
    snprintf(a->text, sizeof(a->text), v6 ? "[%s]:%u" : "%s:%u", a->host, port);
}

/* r->addrs from "ADDR:PORT[,ADDR:PORT…]" (IPv4, or [IPv6]).  0, or -1. */
static int parse_list(gw_resolver *r, const char *list)
{
    const char *p = list;
    int left_out = 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char one[80];
        if (len == 0 || len >= sizeof(one))
            return -1;
        memcpy(one, p, len);
        one[len] = '\0';
        if (r->n_addrs < GW_RESOLVE_MAX_ADDRS) {
            gw_address *a = &r->addrs[r->n_addrs];
            if (rp_addr_tcp(one, 0, &a->sa, &a->len) < 0)
                return -1;
            describe(a);
            r->n_addrs++;
        } else if (!left_out++) {
            rp_log("upstream %s: only its first %d addresses are used", r->target,
                   GW_RESOLVE_MAX_ADDRS);
        }
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* r's addresses, or its name to resolve, from r->target.  0, or -1. */
static int parse_target(gw_resolver *r)
{
    const char *t = r->target;
    if (strncmp(t, "unix:", 5) == 0 || strncmp(t, "unix-abstract:", 14) == 0) {
        char path[RP_ADDR_UNIX_PATH_MAX + 2];
        int abstract = t[4] == '-';
        snprintf(path, sizeof(path), "%s%s", abstract ? "@" : "", t + (abstract ? 14 : 5));
        gw_address *a = &r->addrs[0];
        if (rp_addr_unix(path, abstract, (struct sockaddr_un *)&a->sa, &a->len) < 0)
            return -1;
        describe(a);
        r->n_addrs = 1;
        snprintf(r->authority, sizeof(r->authority), "localhost");
        return 0;
    }
    if (strncmp(t, "ipv4:", 5) == 0 || strncmp(t, "ipv6:", 5) == 0) {
        if (parse_list(r, t + 5) < 0)
            return -1;
    } else {
        const char *name = t;
        if (strncmp(t, "dns:", 4) == 0) {
            name = t + 4;
            if (strncmp(name, "//", 2) == 0) {
                const char *slash = strchr(name + 2, '/');
                size_t len = slash ? (size_t)(slash - name - 2) : 0;
                if (!slash || len >= sizeof(r->dns_server_text))
                    return -1;
                memcpy(r->dns_server_text, name + 2, len);
                r->dns_server_text[len] = '\0';
                if (len && rp_addr_dns_server(r->dns_server_text, &r->dns_server,
                                              &r->dns_server_len) < 0)
                    return -1;
                name = slash + 1;
            }
        }
        if (strchr(name, ','))
            return -1;
        gw_address *a = &r->addrs[0];
        if (rp_addr_tcp(name, 0, &a->sa, &a->len) == 0) { /* an address already */
            describe(a);
            r->n_addrs = 1;
        } else {
            int port;
            if (rp_addr_split(name, r->name, sizeof(r->name), &port) < 0 ||
                r->name[strspn(r->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789.-_")] != '\0')
                return -1; /* not a host name (a URL, say) */
            snprintf(r->port, sizeof(r->port), "%d", port);
            snprintf(r->authority, sizeof(r->authority), "%s", name);
            r->is_name = 1;
            return 0;
        }
    }
    snprintf(r->authority, sizeof(r->authority), "%s", r->addrs[0].text);
    return 0;
}

/* ---- dns://SERVER/: the target's own DNS server, asked over UDP ------------------ */

#define DNS_SERVER_TIMEOUT_MS 2000 /* per try */
#define DNS_SERVER_TRIES 2

/* Sends the query q[qlen] to r's server and waits for the answer with its
 * id: its length in ans[anslen], or -1 with the reason in err. */
static int ask_dns_server(const gw_resolver *r, const unsigned char *q, int qlen,
                          unsigned char *ans, size_t anslen, char *err, size_t errlen)
{
    int fd = socket(r->dns_server.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)&r->dns_server, r->dns_server_len) < 0) {
        snprintf(err, errlen, "cannot ask the DNS server %s: %s", r->dns_server_text,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int got = -1, why = ETIMEDOUT;
    for (int t = 0; t < DNS_SERVER_TRIES && got < 0 && why == ETIMEDOUT; t++) {
        if (send(fd, q, (size_t)qlen, 0) < 0) {
            why = errno;
            break;
        }
        int64_t deadline = rp_monotonic_ms() + DNS_SERVER_TIMEOUT_MS;
        for (int64_t left; got < 0 && (left = deadline - rp_monotonic_ms()) > 0;) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, (int)left) <= 0)
                continue;
            ssize_t n = recv(fd, ans, anslen, 0);
            if (n < 0 && errno != EINTR && errno != EAGAIN) {
                why = errno; /* ECONNREFUSED: nothing listens there */
                break;
            }
            if (n >= 12 && ans[0] == q[0] && ans[1] == q[1])
                got = (int)n; /* else a stray or late datagram: wait on */
        }
    }
    close(fd);
    if (got < 0)
        snprintf(err, errlen, "the DNS server %s does not answer: %s", r->dns_server_text,
                 strerror(why));
    return got;
}

/* Appends the addresses of r's name of `type` (ns_t_a or ns_t_aaaa) from
 * its DNS server to addrs[*n].  0 (none is not an error: the server may
 * have only the other type); -1 when the server cannot be asked or does not
 * answer, -2 when its answer says no, each with the reason in err. */
static int query_dns_server(const gw_resolver *r, int type, gw_address *addrs, size_t *n,
                            char *err, size_t errlen)
{
    unsigned char q[NS_PACKETSZ], ans[4096];
    int qlen = res_mkquery(ns_o_query, r->name, ns_c_in, type, NULL, 0, NULL, q, sizeof(q));
    if (qlen < 12) {
        snprintf(err, errlen, "its name does not resolve: not a DNS name");
        return -2;
    }
    int len = ask_dns_server(r, q, qlen, ans, sizeof(ans), err, errlen);
    if (len < 0)
        return -1;
    ns_msg msg;
    if (ns_initparse(ans, len, &msg) < 0) {
        snprintf(err, errlen, "the DNS server %s's answer cannot be read", r->dns_server_text);
        return -2;
    }
    int rcode = ns_msg_getflag(msg, ns_f_rcode);
    if (rcode != ns_r_noerror) {
        snprintf(err, errlen, "its name does not resolve: the DNS server %s answers %s",
                 r->dns_server_text, rcode == ns_r_nxdomain ? "that there is no such name"
                                     : rcode == ns_r_servfail ? "SERVFAIL" : "an error");
        return -2;
    }
    uint16_t port = (uint16_t)atoi(r->port);
    for (int i = 0; i < ns_msg_count(msg, ns_s_an) && *n < GW_RESOLVE_MAX_ADDRS; i++) {
        ns_rr rr;
        if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
            break;
        if (ns_rr_class(rr) != ns_c_in || (int)ns_rr_type(rr) != type) /* a CNAME, say */
            continue;
        gw_address a = {0};
        if (type == ns_t_a && ns_rr_rdlen(rr) == 4) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&a.sa;
            sin->sin_family = AF_INET;
            sin->sin_port = htons(port);
            memcpy(&sin->sin_addr, ns_rr_rdata(rr), 4);
            a.len = sizeof(*sin);
        } else if (type == ns_t_aaaa && ns_rr_rdlen(rr) == 16) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.sa;
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons(port);
            memcpy(&sin6->sin6_addr, ns_rr_rdata(rr), 16);
            a.len = sizeof(*sin6);
        } else {
            continue;
        }
        int seen = 0;
        for (size_t k = 0; k < *n && !seen; k++)
            seen = addrs[k].len == a.len && memcmp(&addrs[k].sa, &a.sa, a.len) == 0;
        if (!seen) {
            describe(&a);
            addrs[(*n)++] = a;
        }
    }
    return 0;
}

/* r's name from its own DNS server: its IPv4 addresses, then its IPv6 ones
 * (not asked for when the server did not answer the first question). */
static size_t resolve_with_server(const gw_resolver *r, gw_address *addrs, char *err,
                                  size_t errlen)
{
    size_t n = 0;
    char err6[200] = "";
    int rc4 = query_dns_server(r, ns_t_a, addrs, &n, err, errlen);
    int rc6 = rc4 == -1 ? -1 : query_dns_server(r, ns_t_aaaa, addrs, &n, err6, sizeof(err6));
    if (n > 0)
        return n;
    if (rc4 == 0 && rc6 < 0)
        snprintf(err, errlen, "%s", err6);
    else if (rc4 == 0)
        snprintf(err, errlen, "its name does not resolve: the DNS server %s has no IPv4 or "
                 "IPv6 address for it", r->dns_server_text);
    return 0;
}

/* One resolution of r's name into addrs (each once, in getaddrinfo's
 * order, or the server's).  Returns how many, or 0 with the reason in
 * err[errlen]. */
static size_t resolve_name(const gw_resolver *r, gw_address *addrs, char *err, size_t errlen)
{
    if (r->dns_server_len)
        return resolve_with_server(r, addrs, err, errlen);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG};
    struct addrinfo *list = NULL;
    int rc = getaddrinfo(r->name, r->port, &hints, &list);
    if (rc != 0) {
        snprintf(err, errlen, "its name does not resolve: %s",
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return 0;
    }
    size_t n = 0;
    for (struct addrinfo *ai = list; ai && n < GW_RESOLVE_MAX_ADDRS; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(addrs[n].sa))
            continue;
        int seen = 0;
        for (size_t i = 0; i < n && !seen; i++)
            seen = addrs[i].len == ai->ai_addrlen && memcmp(&addrs[i].sa, ai->ai_addr,
                                                             ai->ai_addrlen) == 0;
        if (seen)
            continue;
        memset(&addrs[n].sa, 0, sizeof(addrs[n].sa));
        memcpy(&addrs[n].sa, ai->ai_addr, ai->ai_addrlen);
        addrs[n].len = ai->ai_addrlen;
        describe(&addrs[n]);
        n++;
    }
    freeaddrinfo(list);
    if (n == 0)
        snprintf(err, errlen, "its name does not resolve: no IPv4 or IPv6 address");
    return n;
}

static int same_addresses(const gw_address *a, size_t na, const gw_address *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (a[i].len != b[i].len || memcmp(&a[i].sa, &b[i].sa, a[i].len) != 0)
            return 0;
    return 1;
}

/* Under r->lock: the clients waiting are woken, and unlisted. */
static void wake_waiters(gw_resolver *r)
{
    for (gw_resolve_waiter *w = r->waiters; w; w = w->next) {
        w->listed = 0;
        gw_loop_wake(w->loop);
    }
    r->waiters = NULL;
}

/* Under r->lock: a resolution failed; the next waits for the backoff. */
static void back_off(gw_resolver *r)
{
    r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : GW_RESOLVE_BACKOFF_MIN_MS;
    if (r->backoff_ms > GW_RESOLVE_BACKOFF_MAX_MS)
        r->backoff_ms = GW_RESOLVE_BACKOFF_MAX_MS;
    r->not_before_ms = rp_monotonic_ms() + r->backoff_ms;
}

/* Under r->lock: the answer (n addresses, or none for err) is r's now, and
 * the clients waiting are woken.  A name that no longer resolves keeps the
 * addresses it had: a DNS server failing for a moment must not take them
 * away. */
static void publish(gw_resolver *r, const gw_address *addrs, size_t n, const char *err)
{
    if (n == 0) {
        if (strcmp(r->logged, err) != 0) /* once a run */
            rp_log("upstream %s: %s%s", r->target, err,
                   r->n_addrs ? "; its last addresses stay" : "");
        snprintf(r->logged, sizeof(r->logged), "%s", err);
        back_off(r);
        if (!r->n_addrs) {
            int changed = strcmp(r->error, err) != 0 || atomic_load(&r->generation) == 0;
            snprintf(r->error, sizeof(r->error), "%s", err);
            if (changed)
                atomic_fetch_add(&r->generation, 1);
        }
        wake_waiters(r);
        return;
    }
    int changed = !same_addresses(r->addrs, r->n_addrs, addrs, n) || r->error[0] ||
                  atomic_load(&r->generation) == 0;
    memcpy(r->addrs, addrs, n * sizeof(*addrs));
    r->n_addrs = n;
    r->error[0] = '\0';
    r->logged[0] = '\0';
    r->backoff_ms = 0;
    r->not_before_ms = rp_monotonic_ms() + r->interval_ms;
    if (changed)
        atomic_fetch_add(&r->generation, 1);
    wake_waiters(r);
}

/* Drops a reference under r->lock (which it releases); frees at the last. */
static void release(gw_resolver *r)
{
    int last = --r->refs == 0;
    pthread_mutex_unlock(&r->lock);
    if (!last)
        return;
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* The thread: waits for a request the interval allows, resolves, publishes. */
static void *resolve_thread(void *arg)
{
    gw_resolver *r = arg;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (!r->stop && !(r->requested && rp_monotonic_ms() >= r->not_before_ms)) {
            if (!r->requested) {
                pthread_cond_wait(&r->wake, &r->lock);
                continue;
            }
            struct timespec due = rp_monotonic_timespec(r->not_before_ms);
            pthread_cond_timedwait(&r->wake, &r->lock, &due); /* CLOCK_MONOTONIC (start_thread) */
        }
        if (r->stop)
            break;
        r->requested = 0;
        pthread_mutex_unlock(&r->lock);
        gw_address addrs[GW_RESOLVE_MAX_ADDRS];
        char err[200] = "";
        size_t n = resolve_name(r, addrs, err, sizeof(err));
        pthread_mutex_lock(&r->lock);
        if (!r->stop)
            publish(r, addrs, n, err);
    }
    release(r);
    return NULL;
}

/* r's thread, waiting on CLOCK_MONOTONIC, asked for the first answer.
 * 0, or -1 with errno. */
static int start_thread(gw_resolver *r)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&r->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return errno = rc, -1;
    r->requested = 1;
    r->refs = 2;
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&thread, &attr, resolve_thread, r);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        pthread_cond_destroy(&r->wake);
        return errno = rc, -1;
    }
    return 0;
}

gw_resolver *gw_resolver_new(const char *target, int64_t interval_ms, char *err, size_t errlen)
{
    gw_resolver *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "upstream %s: out of memory", target);
        return NULL;
    }
    r->interval_ms = interval_ms;
    snprintf(r->target, sizeof(r->target), "%s", target);
    if (strlen(target) >= sizeof(r->target) || parse_target(r) < 0) {
        snprintf(err, errlen, "upstream %s: not a target the gateway can call (unix:PATH, "
                 "unix-abstract:NAME, ipv4:ADDR:PORT[,…], ipv6:[ADDR]:PORT[,…], "
                 "[dns:[//SERVER/]]NAME:PORT)", target);
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    if (!r->is_name) {
        pthread_cond_init(&r->wake, NULL);
        r->refs = 1;
        atomic_store(&r->generation, 1);
        return r;
    }
    if (start_thread(r) < 0) {
        snprintf(err, errlen, "upstream %s: cannot start the thread that resolves its name: "
                 "%s", target, strerror(errno));
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
    }
    return r;
}

const char *gw_resolver_target(const gw_resolver *r)
{
    return r->target;
}

const char *gw_resolver_authority(const gw_resolver *r)
{
    return r->authority;
}

const char *gw_resolver_name(const gw_resolver *r)
{
    return r->is_name ? r->name : NULL;
}

const char *gw_resolver_dns_server(const gw_resolver *r)
{
    return r->is_name && r->dns_server_len ? r->dns_server_text : NULL;
}

unsigned gw_resolver_generation(const gw_resolver *r)
{
    return atomic_load(&((gw_resolver *)r)->generation);
}

size_t gw_resolver_get(gw_resolver *r, gw_address *out, unsigned *generation, char *err,
                       size_t errlen)
{
    pthread_mutex_lock(&r->lock);
    memcpy(out, r->addrs, r->n_addrs * sizeof(*out));
    size_t n = r->n_addrs;
    *generation = atomic_load(&r->generation);
    snprintf(err, errlen, "%s", r->error);
    pthread_mutex_unlock(&r->lock);
    return n;
}

void gw_resolver_refresh(gw_resolver *r, gw_resolve_waiter *w)
{
    if (!r->is_name)
        return;
    pthread_mutex_lock(&r->lock);
    if (w && !w->listed) {
        w->listed = 1;
        w->next = r->waiters;
        r->waiters = w;
    }
    if (!r->requested) {
        r->requested = 1;
        pthread_cond_signal(&r->wake);
    }
    pthread_mutex_unlock(&r->lock);
}

void gw_resolver_unwait(gw_resolver *r, gw_resolve_waiter *w)
{
    if (!r->is_name)
        return;
    pthread_mutex_lock(&r->lock);
    for (gw_resolve_waiter **p = &r->waiters; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    w->listed = 0;
    pthread_mutex_unlock(&r->lock);
}

void gw_resolver_free(gw_resolver *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    r->waiters = NULL;
    pthread_cond_signal(&r->wake);
    release(r);
}
