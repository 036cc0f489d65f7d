/*
 * rp_addr.h -- TCP addresses as the INI writes them: "HOST:PORT" and
 * "[IPV6]:PORT", parsed in one place for every program (listen addresses,
 * upstream targets, the metrics endpoints); and the socket address of a
 * unix socket's path.
 */
#ifndef RP_ADDR_H
#define RP_ADDR_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

/* The longest path a unix socket address holds (107 bytes on Linux). */
#define RP_ADDR_UNIX_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/*
 * Splits "HOST:PORT", "[V6]:PORT" into host[hostlen] (brackets removed) and
 * *port (1-65535).  Returns 0, or -1 if the address has no valid port or
 * the host does not fit.
 */
int rp_addr_split(const char *addr, char *host, size_t hostlen, int *port);

/*
 * The socket address of "IP:PORT", "[IPV6]:PORT" or, if `localhost` is 1,
 * "localhost:PORT" (as 127.0.0.1).  Returns 0, or -1 if it is none of
 * those (a name to resolve included).
 */
int rp_addr_tcp(const char *addr, int localhost, struct sockaddr_storage *ss, socklen_t *len);

/*
 * The socket address of a DNS server as a gRPC target's authority writes
 * it (dns://SERVER/NAME:PORT): "IP", "IP:PORT", "[IPV6]", "[IPV6]:PORT",
 * or a bare IPv6 address; port 53 unless given.  Returns 0, or -1 if
 * `server` is none of those (a name included).
 */
int rp_addr_dns_server(const char *server, struct sockaddr_storage *ss, socklen_t *len);

/*
 * The socket address of the unix socket at `path`, and its length for
 * bind(2) or connect(2).  With `abstract_at`, "@NAME" is NAME in the
 * abstract namespace (as systemd's NOTIFY_SOCKET writes it).  Returns 0,
 * or -1 if path is empty or longer than RP_ADDR_UNIX_PATH_MAX bytes.
 */
int rp_addr_unix(const char *path, int abstract_at, struct sockaddr_un *sun, socklen_t *len);

#endif /* RP_ADDR_H */
