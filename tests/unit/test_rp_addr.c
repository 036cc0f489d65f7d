/*
 * test_rp_addr.c -- common/rp_addr.c's unix socket addresses: a path that
 * fits, one byte too many, an abstract name; each one bound and connected
 * to with the length given; and systemd's NOTIFY_SOCKET reached through
 * them (common/rp_notify.c); a target's DNS server (dns://SERVER/).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/rp_addr.h"
#include "../../common/rp_notify.h"

/* Binds a listening socket to sun (slen) and connects to it: 0 when both
 * work. */
static int bind_and_connect(const struct sockaddr_un *sun, socklen_t slen)
{
    int l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(l >= 0 && c >= 0);
    int rc = bind(l, (const struct sockaddr *)sun, slen) == 0 && listen(l, 1) == 0 &&
                     connect(c, (const struct sockaddr *)sun, slen) == 0
                 ? 0
                 : -1;
    close(c);
    close(l);
    return rc;
}

static void test_path(void **state)
{
    (void)state;
    char dir[] = "/tmp/rpcrest-addr-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/s.sock", dir);
    struct sockaddr_un sun;
    socklen_t slen;
    assert_int_equal(rp_addr_unix(path, 1, &sun, &slen), 0);
    assert_int_equal(sun.sun_family, AF_UNIX);
    assert_string_equal(sun.sun_path, path);
    assert_int_equal(slen, offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
    assert_int_equal(bind_and_connect(&sun, slen), 0);
    unlink(path);
    rmdir(dir);
}

static void test_longest_path_and_one_byte_more(void **state)
{
    (void)state;
    char path[RP_ADDR_UNIX_PATH_MAX + 2];
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    struct sockaddr_un sun;
    socklen_t slen;
    assert_int_equal(rp_addr_unix(path, 0, &sun, &slen), -1); /* 108 bytes: no room for NUL */
    path[sizeof(path) - 2] = '\0';
    assert_int_equal(rp_addr_unix(path, 0, &sun, &slen), 0);  /* 107 bytes */
    assert_int_equal(sun.sun_path[RP_ADDR_UNIX_PATH_MAX], '\0');
    assert_int_equal(slen, sizeof(sun));
    assert_int_equal(rp_addr_unix("", 0, &sun, &slen), -1);
}

static void test_abstract_name(void **state)
{
    (void)state;
    char name[64];
    snprintf(name, sizeof(name), "@rpcrest-test-addr-%ld", (long)getpid());
    struct sockaddr_un sun;
    socklen_t slen;
    assert_int_equal(rp_addr_unix(name, 1, &sun, &slen), 0);
    assert_int_equal(sun.sun_path[0], '\0');
    assert_memory_equal(sun.sun_path + 1, name + 1, strlen(name) - 1);
    assert_int_equal(slen, offsetof(struct sockaddr_un, sun_path) + strlen(name)); /* no NUL */
    assert_int_equal(bind_and_connect(&sun, slen), 0);
    /* without abstract_at, "@..." is a path like any other */
    assert_int_equal(rp_addr_unix(name, 0, &sun, &slen), 0);
    assert_string_equal(sun.sun_path, name);
}

/* rp_notify_systemd to NOTIFY_SOCKET=name, received on a datagram socket
 * bound to sun (slen). */
static void notified(const char *name, const struct sockaddr_un *sun, socklen_t slen)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (const struct sockaddr *)sun, slen), 0);
    setenv("NOTIFY_SOCKET", name, 1);
    assert_int_equal(rp_notify_systemd("READY=1"), 1);
    char got[16] = {0};
    assert_int_equal(recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT), 7);
    assert_string_equal(got, "READY=1");
    close(fd);
}

static void test_notify_socket(void **state)
{
    (void)state;
    char dir[] = "/tmp/rpcrest-addr-XXXXXX", path[64], name[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/notify", dir);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    notified(path, &sun, sizeof(sun));
    unlink(path);
    rmdir(dir);
    snprintf(name, sizeof(name), "@rpcrest-test-notify-%ld", (long)getpid());
    memset(sun.sun_path, 0, sizeof(sun.sun_path));
    memcpy(sun.sun_path + 1, name + 1, strlen(name) - 1); /* abstract: no NUL counted */
    notified(name, &sun, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name)));
    char longest[RP_ADDR_UNIX_PATH_MAX + 2];
    memset(longest, 'a', sizeof(longest) - 1);
    longest[0] = '/';
    longest[sizeof(longest) - 1] = '\0';
    setenv("NOTIFY_SOCKET", longest, 1);
    assert_int_equal(rp_notify_systemd("READY=1"), -ENAMETOOLONG);
    setenv("NOTIFY_SOCKET", "relative", 1);
    assert_int_equal(rp_notify_systemd("READY=1"), -EINVAL);
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(rp_notify_systemd("READY=1"), 0);
}

/* dns://SERVER/: an IP address, with port 53 unless given. */
static void test_dns_server(void **state)
{
    (void)state;
    static const struct {
        const char *server;
        int family, port;
        const char *ip;
    } good[] = {{"8.8.8.8", AF_INET, 53, "8.8.8.8"},
                {"127.0.0.1:8600", AF_INET, 8600, "127.0.0.1"},
                {"[::1]", AF_INET6, 53, "::1"},
                {"[::1]:5353", AF_INET6, 5353, "::1"},
                {"fe80::1", AF_INET6, 53, "fe80::1"}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct sockaddr_storage ss;
        socklen_t len = 0;
        assert_int_equal(rp_addr_dns_server(good[i].server, &ss, &len), 0);
        assert_int_equal(ss.ss_family, good[i].family);
        char ip[64];
        const void *a = good[i].family == AF_INET
                            ? (const void *)&((struct sockaddr_in *)&ss)->sin_addr
                            : (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
        in_port_t port = good[i].family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                   : ((struct sockaddr_in6 *)&ss)->sin6_port;
        assert_non_null(inet_ntop(good[i].family, a, ip, sizeof(ip)));
        assert_string_equal(ip, good[i].ip);
        assert_int_equal(ntohs(port), good[i].port);
        assert_int_equal(len, good[i].family == AF_INET ? sizeof(struct sockaddr_in)
                                                        : sizeof(struct sockaddr_in6));
    }
    static const char *const bad[] = {"", "ns.example", "8.8.8.8:", "8.8.8.8:0",
                                      "8.8.8.8:65536", "[::1", "::1]:53", "1.2.3.4.5",
                                      "localhost"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (rp_addr_dns_server(bad[i], &ss, &len) == 0)
            fail_msg("'%s' was taken", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_longest_path_and_one_byte_more),
        cmocka_unit_test(test_abstract_name),
        cmocka_unit_test(test_notify_socket),
        cmocka_unit_test(test_dns_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
