/*
 * rp_addr.c -- "HOST:PORT" and "[IPV6]:PORT" into their parts and socket
 * addresses; unix socket paths into theirs.
 */
#include "rp_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rp_addr_split(const char *addr, char *host, size_t hostlen, int *port)
{
    const char *colon;
    const char *hstart = addr;
    size_t hlen;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return -1;
        hstart = addr + 1;
        hlen = (size_t)(close - hstart);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return -1;
        hlen = (size_t)(colon - addr);
    }
    if (hlen == 0 || hlen >= hostlen)
        return -1;
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end != '\0' || p < 1 || p > 65535)
        return -1;
    memcpy(host, hstart, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}

int rp_addr_tcp(const char *addr, int localhost, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + 1];
    int port;
    if (rp_addr_split(addr, host, sizeof(host), &port) < 0)
        return -1;
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (localhost && strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (addr[0] != '[' && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *len = sizeof(*sin);
        return 0;
    }
    if (addr[0] == '[' && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*sin6);
        return 0;
    }
    return -1;
}

int rp_addr_dns_server(const char *server, struct sockaddr_storage *ss, socklen_t *len)
{
    char with_port[INET6_ADDRSTRLEN + 16];
    size_t n = strlen(server);
    if (n == 0 || n > INET6_ADDRSTRLEN + 8)
        return -1;
    if (rp_addr_tcp(server, 0, ss, len) == 0)
        return 0;
    int bare_v6 = server[0] != '[' && strchr(server, ':');
    snprintf(with_port, sizeof(with_port), bare_v6 ? "[%s]:53" : "%s:53", server);
    return rp_addr_tcp(with_port, 0, ss, len);
}

int rp_addr_unix(const char *path, int abstract_at, struct sockaddr_un *sun, socklen_t *len)
{
    size_t plen = strlen(path);
    if (plen == 0 || plen > RP_ADDR_UNIX_PATH_MAX)
        return -1;
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, plen);
    int abstract = abstract_at && path[0] == '@';
    if (abstract)
        sun->sun_path[0] = '\0'; /* the name is every byte after it: no NUL counted */
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + (abstract ? 0 : 1));
    return 0;
}
