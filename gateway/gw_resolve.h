/*
 * gw_resolve.h -- the upstream's addresses, for the HTTP threads' own
 * connections (gw_h2): a gRPC target taken apart once (unix:PATH,
 * unix-abstract:NAME, ipv4:/ipv6: lists, IP:PORT), or a name
 * (dns:///NAME:PORT, NAME:PORT) resolved by the system's resolver
 * (getaddrinfo, /etc/hosts and resolv.conf), or by SERVER alone for
 * dns://SERVER/NAME:PORT (A and AAAA queries over UDP), on a thread of
 * its own: at once, and again when a client asks (a connection to one of
 * its addresses failed), no sooner than the resolver's interval after the
 * last answer, or after a backoff when the name did not resolve.  One
 * resolver serves every HTTP thread; each copies the list when its
 * generation changes.
 *
 * Thread-safe, except gw_resolver_new and gw_resolver_free.
 */
#ifndef GW_RESOLVE_H
#define GW_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gw_loop.h"

/* The most addresses taken from a target or a name's answer (in the order
 * given; the rest are left out, logged): a thread has at most
 * GW_H2_CONNECTIONS connections taking calls, one per address at least. */
#define GW_RESOLVE_MAX_ADDRS 16

/* By default a name's answer is asked again no sooner than this after the
 * last one (gRPC's own DNS resolver waits as long between two); [gateway]
 * upstream_dns_interval sets it. */
#define GW_RESOLVE_INTERVAL_DEFAULT_MS 30000

/* A name that did not resolve is tried again, when asked, after this,
 * doubled after each failure up to the second. */
#define GW_RESOLVE_BACKOFF_MIN_MS 1000
#define GW_RESOLVE_BACKOFF_MAX_MS 30000

typedef struct gw_address {
    struct sockaddr_storage sa;
    socklen_t len;
    char text[64];   /* "IP:PORT", "[IPV6]:PORT", or the unix path (cut short) */
    char host[48];   /* the IP alone (a certificate's IP SAN), or "localhost" for unix */
} gw_address;

/* A client waiting for an answer: its loop is woken when one comes.  The
 * client owns the record; the resolver keeps it listed until then. */
typedef struct gw_resolve_waiter {
    gw_loop *loop;
    int listed;
    struct gw_resolve_waiter *next;
} gw_resolve_waiter;

typedef struct gw_resolver gw_resolver;

/* The resolver of `target`: its addresses now, or for a name its thread
 * started on the first answer; a name is resolved again no sooner than
 * interval_ms after an answer.  NULL with the reason in err[errlen]: not a
 * target it takes, no thread, out of memory. */
gw_resolver *gw_resolver_new(const char *target, int64_t interval_ms, char *err, size_t errlen);

/* The target as given, for messages. */
const char *gw_resolver_target(const gw_resolver *r);

/* The :authority of the calls: NAME:PORT for a name, the first address's
 * IP:PORT, or "localhost" for a unix socket. */
const char *gw_resolver_authority(const gw_resolver *r);

/* The name a certificate must carry for a name's target (also its SNI), or
 * NULL: each address its own (gw_address.host). */
const char *gw_resolver_name(const gw_resolver *r);

/* The DNS server a dns://SERVER/ target names (as written), or NULL: the
 * system's resolver (or no name at all). */
const char *gw_resolver_dns_server(const gw_resolver *r);

/* The generation of the current answer: 0 while the first one is awaited,
 * then one more each time the addresses change or a name fails to
 * resolve.  Cheap (an atomic load). */
unsigned gw_resolver_generation(const gw_resolver *r);

/* The current answer: its addresses into out[GW_RESOLVE_MAX_ADDRS] and its
 * generation into *generation.  Returns how many; 0 while the first is
 * awaited (err "") or when the name did not resolve (err "its name does not
 * resolve: …"). */
size_t gw_resolver_get(gw_resolver *r, gw_address *out, unsigned *generation, char *err,
                       size_t errlen);

/* Asks a name's resolver for a new answer (an address list's has none
 * other): as soon as the interval or backoff allows.  w (NULL: none) is
 * woken with the next answer, unless unlisted first. */
void gw_resolver_refresh(gw_resolver *r, gw_resolve_waiter *w);

/* w is not woken after this returns. */
void gw_resolver_unwait(gw_resolver *r, gw_resolve_waiter *w);

/* Frees the resolver once no client uses it.  A resolution in progress is
 * not waited for: its thread ends after it (getaddrinfo cannot be
 * interrupted), with the resolver's last reference.  NULL is ignored. */
void gw_resolver_free(gw_resolver *r);

#endif /* GW_RESOLVE_H */
