/*
 * test_gw_h2.c -- gateway/gw_h2.c when the buffer that gathers the outgoing
 * HTTP/2 frames cannot grow: nothing is lost, the call goes through.
 *
 * The test is the loop: it polls the client's fd, ticks it, and plays the
 * upstream with an nghttp2 server session on a unix socket, which answers
 * each request with a small fixed message once its last DATA frame came.
 * nghttp2 holds the request to HTTP/2's rules as Go's gRPC server does
 * (pseudo-headers first, among others), which gRPC core does not.
 * realloc is wrapped (-Wl,--wrap=realloc) so that the client's reallocs of
 * at least `fail_from` bytes fail while the request is on its way; the reply
 * arrives with them working again.
 *
 * nghttp2_session_client_new2 is wrapped too, so that a test can start a
 * connection's stream ids near their end (2^31 - 1) and see the client
 * move to a new connection when they run out.
 *
 * The wrapped realloc also records the largest size the client asked for,
 * so that a test can see how far its buffers grew.  setsockopt is wrapped
 * so that a test can see what the client asks of a TCP socket and shorten
 * how long the kernel waits for a dead upstream.  calloc is wrapped so
 * that a test can see what gw_h2_new says when memory runs out.
 */
#include <errno.h>
#include <netdb.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "../../gateway/gw_h2.h"

/* The resolvers' interval between two answers, unless a test sets its own. */
#define INTERVAL GW_RESOLVE_INTERVAL_DEFAULT_MS

/* ---- failing realloc -------------------------------------------------------------- */

void *__real_realloc(void *p, size_t size);
static int failing;           /* reallocs of >= fail_from bytes fail while set */
static size_t fail_from;
static unsigned failed_count; /* how many did */
static size_t largest_realloc; /* the largest size asked for */

void *__wrap_realloc(void *p, size_t size);
void *__wrap_realloc(void *p, size_t size)
{
    if (size > largest_realloc)
        largest_realloc = size;
    if (failing && size >= fail_from) {
        failed_count++;
        return NULL;
    }
    return __real_realloc(p, size);
}

/* calloc fails while this is set (gw_h2_new's, to see what it says). */
void *__real_calloc(size_t n, size_t size);
static int failing_calloc;

void *__wrap_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size)
{
    return failing_calloc ? NULL : __real_calloc(n, size);
}

/* ---- stream ids near their end ---------------------------------------------------- */

int __real_nghttp2_session_client_new2(nghttp2_session **s, const nghttp2_session_callbacks *cb,
                                       void *user, const nghttp2_option *opt);
static uint32_t first_stream_id; /* odd; 0: nghttp2's own (1) */
static unsigned sessions_made;

int __wrap_nghttp2_session_client_new2(nghttp2_session **s, const nghttp2_session_callbacks *cb,
                                       void *user, const nghttp2_option *opt);
int __wrap_nghttp2_session_client_new2(nghttp2_session **s, const nghttp2_session_callbacks *cb,
                                       void *user, const nghttp2_option *opt)
{
    int rc = __real_nghttp2_session_client_new2(s, cb, user, opt);
    if (rc == 0) {
        sessions_made++;
        if (first_stream_id)
            assert_int_equal(nghttp2_session_set_next_stream_id(*s, (int32_t)first_stream_id), 0);
    }
    return rc;
}

/* ---- TCP_USER_TIMEOUT, seen and shortened ----------------------------------------- */

int __real_setsockopt(int fd, int level, int name, const void *value, socklen_t len);
static int user_timeout_asked; /* the client's TCP_USER_TIMEOUT, in ms */
static int user_timeout_given; /* what the kernel gets instead, when set */

int __wrap_setsockopt(int fd, int level, int name, const void *value, socklen_t len);
int __wrap_setsockopt(int fd, int level, int name, const void *value, socklen_t len)
{
    if (level == IPPROTO_TCP && name == TCP_USER_TIMEOUT && len == sizeof(int)) {
        user_timeout_asked = *(const int *)value;
        if (user_timeout_given)
            value = &user_timeout_given;
    }
    return __real_setsockopt(fd, level, name, value, len);
}

/* ---- a name the resolver asks for, answered here --------------------------------- */

int __real_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);
void __real_freeaddrinfo(struct addrinfo *ai);
static atomic_int name_port;   /* "name.test" resolves to 127.0.0.1:this; 0: it does not */
static atomic_int name_port2;  /* and then to 127.0.0.1:this too, unless 0 */
static atomic_int name_asked;  /* how many times it was resolved */
static struct addrinfo name_answer[2];
static struct sockaddr_in name_addr[2];

int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res)
{
    if (!node || strcmp(node, "name.test") != 0)
        return __real_getaddrinfo(node, service, hints, res);
    atomic_fetch_add(&name_asked, 1);
    int ports[2] = {atomic_load(&name_port), atomic_load(&name_port2)};
    if (!ports[0])
        return EAI_NONAME;
    for (int i = 0; i < 2; i++) {
        name_addr[i] = (struct sockaddr_in){.sin_family = AF_INET,
                                            .sin_port = htons((uint16_t)ports[i]),
                                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        name_answer[i] = (struct addrinfo){.ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
                                           .ai_addrlen = sizeof(name_addr[i]),
                                           .ai_addr = (struct sockaddr *)&name_addr[i]};
    }
    name_answer[0].ai_next = ports[1] ? &name_answer[1] : NULL;
    *res = &name_answer[0];
    return 0;
}

void __wrap_freeaddrinfo(struct addrinfo *ai);
void __wrap_freeaddrinfo(struct addrinfo *ai)
{
    if (ai != &name_answer[0])
        __real_freeaddrinfo(ai);
}

/* ---- the upstream: one connection at a time, one answer per request ------------- */

static const uint8_t REPLY[] = {0, 0, 0, 0, 3, 0x0a, 0x01, 'k'}; /* field 1 = "k" */

typedef struct upstream {
    char dir[64];
    char target[128];
    int listen_fd, fd;
    unsigned connections; /* accepted so far */
    nghttp2_session *session;
    uint8_t *got; /* the DATA bytes of the request */
    size_t got_len, got_cap;
    int request_ended;
    size_t read_limit; /* bytes read per round (0: all there are) */
    int big_windows;   /* 16 MiB flow-control windows instead of HTTP/2's 64 KiB */
    char headers[1024]; /* "name: value\n" of each request header, in order
                           (" (never indexed)" after the value, when sent so) */
} upstream;

static ssize_t up_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *arg)
{
    (void)s, (void)flags;
    upstream *u = arg;
    ssize_t w = send(u->fd, data, len, MSG_NOSIGNAL);
    if (w < 0)
        return errno == EAGAIN ? NGHTTP2_ERR_WOULDBLOCK : NGHTTP2_ERR_CALLBACK_FAILURE;
    return w;
}

static int up_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                   void *arg)
{
    (void)s, (void)flags, (void)id;
    upstream *u = arg;
    if (u->got_len + len > u->got_cap) {
        u->got_cap = (u->got_len + len) * 2;
        u->got = __real_realloc(u->got, u->got_cap);
        assert_non_null(u->got);
    }
    memcpy(u->got + u->got_len, data, len);
    u->got_len += len;
    return 0;
}

static int up_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *arg)
{
    (void)s, (void)frame, (void)flags;
    upstream *u = arg;
    size_t used = strlen(u->headers);
    snprintf(u->headers + used, sizeof(u->headers) - used, "%.*s: %.*s%s\n", (int)namelen,
             (const char *)name, (int)valuelen, (const char *)value,
             flags & NGHTTP2_NV_FLAG_NO_INDEX ? " (never indexed)" : "");
    return 0;
}

/* The reply in one piece (nghttp2 offers a frame's room, far more than 8
 * bytes), so that any number of streams can be answered at once. */
static ssize_t up_reply_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                             uint32_t *flags, nghttp2_data_source *src, void *arg)
{
    (void)src, (void)arg;
    assert_true(len >= sizeof(REPLY));
    memcpy(buf, REPLY, sizeof(REPLY));
    *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    nghttp2_nv trailer[] = {{(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, 0}};
    assert_int_equal(nghttp2_submit_trailer(s, id, trailer, 1), 0);
    return (ssize_t)sizeof(REPLY);
}

static int up_frame(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
    upstream *u = arg;
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        u->request_ended = 1;
        nghttp2_nv head[] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
                             {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0}};
        nghttp2_data_provider body = {.read_callback = up_reply_body};
        assert_int_equal(nghttp2_submit_response(s, frame->hd.stream_id, head, 2, &body), 0);
    }
    return 0;
}

static void upstream_start(upstream *u)
{
    memset(u, 0, sizeof(*u));
    u->fd = -1;
    snprintf(u->dir, sizeof(u->dir), "/tmp/test_gw_h2.XXXXXX");
    assert_non_null(mkdtemp(u->dir));
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s/up.sock", u->dir);
    snprintf(u->target, sizeof(u->target), "unix:%s", a.sun_path);
    u->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(u->listen_fd >= 0);
    assert_int_equal(bind(u->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(u->listen_fd, 4), 0);
}

/* The upstream on a TCP port of 127.0.0.1 instead of its unix socket;
 * returns the port. */
static int upstream_listen_tcp(upstream *u)
{
    close(u->listen_fd);
    u->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    assert_int_equal(bind(u->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(u->listen_fd, 4), 0);
    assert_int_equal(getsockname(u->listen_fd, (struct sockaddr *)&a, &alen), 0);
    return ntohs(a.sin_port);
}

/* A TCP port of 127.0.0.1 that nothing listens on (a connect is refused). */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* What nghttp2 found wrong with what the client sent (the test then fails
 * on the call's status; this says why). */
static int up_error(nghttp2_session *s, int code, const char *msg, size_t len, void *arg)
{
    (void)s, (void)code, (void)arg;
    fprintf(stderr, "upstream: %.*s\n", (int)len, msg);
    return 0;
}

static void upstream_accept(upstream *u)
{
    u->fd = accept4(u->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (u->fd < 0)
        return;
    u->connections++;
    nghttp2_session_callbacks *cb;
    assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
    nghttp2_session_callbacks_set_send_callback(cb, up_send);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, up_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, up_frame);
    nghttp2_session_callbacks_set_on_header_callback(cb, up_header);
    nghttp2_session_callbacks_set_error_callback2(cb, up_error);
    assert_int_equal(nghttp2_session_server_new(&u->session, cb, u), 0);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry window = {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 16 << 20};
    assert_int_equal(nghttp2_submit_settings(u->session, NGHTTP2_FLAG_NONE, &window,
                                             u->big_windows ? 1 : 0), 0);
    if (u->big_windows)
        assert_int_equal(nghttp2_session_set_local_window_size(u->session, NGHTTP2_FLAG_NONE, 0,
                                                               16 << 20), 0);
}

/* Reads what the client sent and writes what the session has to send; a
 * connection the client closed is dropped (the next one is accepted). */
static void upstream_serve(upstream *u)
{
    uint8_t buf[65536];
    size_t want = u->read_limit && u->read_limit < sizeof(buf) ? u->read_limit : sizeof(buf);
    ssize_t n;
    while ((n = recv(u->fd, buf, want, 0)) > 0) {
        assert_int_equal(nghttp2_session_mem_recv(u->session, buf, (size_t)n), n);
        if (u->read_limit)
            break; /* the rest waits for the next round */
    }
    if (n == 0) {
        nghttp2_session_del(u->session);
        u->session = NULL;
        close(u->fd);
        u->fd = -1;
        return;
    }
    assert_int_equal(nghttp2_session_send(u->session), 0);
}

static void upstream_stop(upstream *u)
{
    nghttp2_session_del(u->session);
    if (u->fd >= 0)
        close(u->fd);
    close(u->listen_fd);
    char path[128];
    snprintf(path, sizeof(path), "%s/up.sock", u->dir);
    unlink(path);
    rmdir(u->dir);
    free(u->got);
}

/* ---- the client, driven by the test as its loop ------------------------------------- */

typedef struct outcome {
    int done;
    grpc_status_code status;
    char message[128];
    uint8_t reply[16];
    size_t reply_len;
} outcome;

static void on_done(void *arg, gw_upstream_result *r)
{
    outcome *o = arg;
    o->done = 1;
    o->status = r->status;
    snprintf(o->message, sizeof(o->message), "%s", r->message ? r->message : "");
    if (r->reply && r->reply_len <= sizeof(o->reply)) {
        memcpy(o->reply, r->reply, r->reply_len);
        o->reply_len = r->reply_len;
    }
    gw_upstream_result_free(r);
}

/* What poll said of a source's fd, as epoll would say it. */
static uint32_t epoll_events(const struct pollfd *p)
{
    return (p->revents & POLLIN ? EPOLLIN : 0) | (p->revents & POLLOUT ? EPOLLOUT : 0) |
           (p->revents & POLLERR ? EPOLLERR : 0) | (p->revents & POLLHUP ? EPOLLHUP : 0);
}

static short poll_events(const gw_loop_source *src)
{
    return (short)((src->events & EPOLLIN ? POLLIN : 0) | (src->events & EPOLLOUT ? POLLOUT : 0));
}

/* One round: wait up to 10 ms for the client's and the upstreams' fds,
 * then tick the client's connections and serve the upstreams. */
static void round_trip_all(gw_h2 *c, upstream *const *us, int n_us)
{
    gw_loop_source *src[GW_H2_SOURCES];
    gw_h2_sources(c, src);
    struct pollfd p[GW_H2_SOURCES + 2];
    assert_true(n_us <= 2);
    for (int i = 0; i < GW_H2_SOURCES; i++)
        p[i] = (struct pollfd){.fd = src[i]->fd, .events = poll_events(src[i])};
    for (int k = 0; k < n_us; k++) {
        upstream *u = us[k];
        p[GW_H2_SOURCES + k] = (struct pollfd){.fd = u->fd >= 0 ? u->fd : u->listen_fd,
                                               .events = POLLIN};
        if (u->session && nghttp2_session_want_write(u->session))
            p[GW_H2_SOURCES + k].events |= POLLOUT;
    }
    assert_true(poll(p, (nfds_t)(GW_H2_SOURCES + n_us), 10) >= 0);
    for (int i = 0; i < GW_H2_SOURCES; i++)
        src[i]->tick(src[i], src[i]->fd >= 0 && p[i].fd >= 0 ? epoll_events(&p[i]) : 0);
    for (int k = 0; k < n_us; k++) {
        if (us[k]->fd < 0)
            upstream_accept(us[k]);
        if (us[k]->fd >= 0)
            upstream_serve(us[k]);
    }
}

static void round_trip(gw_h2 *c, upstream *u)
{
    round_trip_all(c, &u, 1);
}

/* Metadata as the gateway sends it: what it adds to every call, a -bin
 * value (base64 on the wire), a forwarded standard header. */
static const gw_metadata METADATA[] = {
    {(char *)"x-request-id", (char *)"0123456789abcdef0123456789abcdef", 32},
    {(char *)"x-forwarded-for", (char *)"127.0.0.1", 9},
    {(char *)"grpcgateway-user-agent", (char *)"curl/7.88.1", 11},
    {(char *)"trace-bin", (char *)"\x00\x01\xff", 3},
};

/* One call on c with a message of msg_len bytes, sent while reallocs of at
 * least fail_at bytes fail (SIZE_MAX: none); checks what the upstream got
 * and the answer.  Returns how many reallocs failed. */
static unsigned one_call(gw_h2 *c, upstream *u, size_t msg_len, size_t fail_at)
{
    u->got_len = 0, u->request_ended = 0, u->headers[0] = '\0';
    gw_buf wire = {0};
    assert_int_equal(gw_buf_reserve(&wire, msg_len), 0);
    for (size_t i = 0; i < msg_len; i++)
        wire.data[i] = (uint8_t)(i * 7 + i / 251);
    wire.len = msg_len;
    uint8_t *expect = malloc(msg_len);
    assert_non_null(expect);
    memcpy(expect, wire.data, msg_len);
    outcome o = {0};
    assert_int_equal(gw_h2_unary(c, "/t.S/M", &wire, METADATA,
                                 sizeof(METADATA) / sizeof(METADATA[0]), 5000, on_done, &o),
                     0);
    failed_count = 0;
    fail_from = fail_at;
    failing = 1;
    for (int i = 0; i < 500 && !o.done; i++) {
        round_trip(c, u);
        if (u->request_ended)
            failing = 0; /* the reply is read with memory to spare */
    }
    failing = 0;
    assert_true(o.done);
    if (o.status != GRPC_STATUS_OK)
        fail_msg("status %d: %s", (int)o.status, o.message);
    assert_int_equal(o.reply_len, 3);
    assert_memory_equal(o.reply, REPLY + 5, 3);
    /* the upstream got the message whole: prefix, then the bytes */
    assert_int_equal(u->got_len, 5 + msg_len);
    assert_int_equal(u->got[0], 0);
    assert_int_equal(((size_t)u->got[1] << 24) | ((size_t)u->got[2] << 16) |
                         ((size_t)u->got[3] << 8) | u->got[4],
                     msg_len);
    assert_memory_equal(u->got + 5, expect, msg_len);
    const char *want = ":method: POST\n:scheme: http\n:authority: localhost\n:path: /t.S/M\n"
                       "content-type: application/grpc\nte: trailers\n";
    assert_memory_equal(u->headers, want, strlen(want));
    /* the call's 5 s, less what passed before it was sent, in ms */
    const char *timeout = strstr(u->headers, "\ngrpc-timeout: ");
    assert_non_null(timeout);
    char unit = 0, end = 0;
    int ms = 0;
    assert_int_equal(sscanf(timeout, "\ngrpc-timeout: %d%c%c", &ms, &unit, &end), 3);
    assert_true(ms > 4000 && ms <= 5000 && unit == 'm' && end == '\n');
    assert_non_null(strstr(u->headers, "\ntrace-bin: AAH/\n"));
    free(expect);
    return failed_count;
}

/* The resolvers of the clients a test made, freed with them. */
static struct {
    gw_h2 *c;
    gw_resolver *r;
} clients[8];

static gw_h2 *new_client_every(const char *target, int64_t interval_ms)
{
    char err[256];
    gw_resolver *r = gw_resolver_new(target, interval_ms, err, sizeof(err));
    if (!r)
        fail_msg("gw_resolver_new: %s", err);
    gw_h2 *c = gw_h2_new(r, NULL, NULL, err, sizeof(err));
    if (!c)
        fail_msg("gw_h2_new: %s", err);
    for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
        if (!clients[i].c) {
            clients[i].c = c;
            clients[i].r = r;
            return c;
        }
    }
    fail_msg("more than 8 clients at once");
    return NULL;
}

static gw_h2 *new_client(const char *target)
{
    return new_client_every(target, INTERVAL);
}

static gw_resolver *resolver_of(gw_h2 *c)
{
    for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++)
        if (clients[i].c == c)
            return clients[i].r;
    fail_msg("not a client of new_client");
    return NULL;
}

static void free_client(gw_h2 *c)
{
    gw_h2_free(c);
    for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
        if (clients[i].c == c) {
            gw_resolver_free(clients[i].r);
            clients[i].c = NULL;
        }
    }
}

/* one_call on a connection of its own. */
static unsigned call_while_failing(size_t msg_len, size_t fail_at)
{
    upstream u;
    upstream_start(&u);
    gw_h2 *c = new_client(u.target);
    assert_non_null(c);
    unsigned failed = one_call(c, &u, msg_len, fail_at);
    free_client(c);
    upstream_stop(&u);
    return failed;
}

/* gw_h2_new and gw_resolver_new say why they made nothing: a target the
 * gateway cannot call is not out of memory. */
static void test_new_says_why_it_failed(void **state)
{
    (void)state;
    char err[256];
    assert_null(gw_resolver_new("http://upstream.example:50051", INTERVAL, err, sizeof(err)));
    assert_string_equal(err, "upstream http://upstream.example:50051: not a target the gateway "
                             "can call (unix:PATH, unix-abstract:NAME, ipv4:ADDR:PORT[,…], "
                             "ipv6:[ADDR]:PORT[,…], [dns:[//SERVER/]]NAME:PORT)");
    assert_null(gw_resolver_new("ipv4:127.0.0.1:1,", INTERVAL, err, sizeof(err)));
    assert_null(gw_resolver_new("upstream.example", INTERVAL, err, sizeof(err)));
    gw_resolver *r = gw_resolver_new("unix:/tmp/x.sock", INTERVAL, err, sizeof(err));
    assert_non_null(r);
    failing_calloc = 1;
    gw_h2 *c = gw_h2_new(r, NULL, NULL, err, sizeof(err));
    failing_calloc = 0;
    assert_null(c);
    assert_string_equal(err, "out of memory");
    /* TLS files GnuTLS cannot read (OpenSSL checked them at start) */
    rp_tls_pem junk = {.ca = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n"
                             "-----END CERTIFICATE-----\n"};
    assert_null(gw_h2_new(r, &junk, NULL, err, sizeof(err)));
    assert_true(strncmp(err, "upstream TLS: GnuTLS refuses upstream_ca", 40) == 0);
    rp_tls_pem none = {.ca = "no PEM at all\n"};
    assert_null(gw_h2_new(r, &none, NULL, err, sizeof(err)));
    assert_true(strncmp(err, "upstream TLS: GnuTLS refuses upstream_ca", 40) == 0);
    gw_resolver_free(r);
    c = new_client("127.0.0.1:1");
    free_client(c);
}

/* A call to a name that does not resolve fails at once, saying so; once it
 * resolves (asked again after the resolver's backoff), calls reach its
 * address, with the name as their :authority. */
static void test_a_name_that_resolves_later(void **state)
{
    (void)state;
    upstream u;
    upstream_start(&u);
    int port = upstream_listen_tcp(&u);
    char target[64];
    snprintf(target, sizeof(target), "dns:///name.test:%d", port);
    atomic_store(&name_port, 0);
    atomic_store(&name_port2, 0);
    atomic_store(&name_asked, 0);
    gw_h2 *c = new_client(target);

    outcome o = {0};
    gw_buf wire = {0};
    assert_int_equal(gw_h2_unary(c, "/t.S/M", &wire, NULL, 0, 5000, on_done, &o), 0);
    for (int i = 0; i < 300 && !o.done; i++)
        round_trip(c, &u);
    assert_true(o.done);
    assert_int_equal(o.status, GRPC_STATUS_UNAVAILABLE);
    assert_string_equal(o.message, "cannot connect to the upstream: its name does not resolve: "
                                   "Name or service not known");
    assert_int_equal(atomic_load(&name_asked), 1);

    atomic_store(&name_port, port);
    int64_t start = gw_loop_now_ms();
    int failed = 0;
    do {
        o = (outcome){0};
        assert_int_equal(gw_h2_unary(c, "/t.S/M", &wire, NULL, 0, 5000, on_done, &o), 0);
        for (int i = 0; i < 300 && !o.done; i++)
            round_trip(c, &u);
        assert_true(o.done);
        failed += o.status != GRPC_STATUS_OK;
    } while (o.status != GRPC_STATUS_OK && gw_loop_now_ms() - start < 5000);
    assert_int_equal(o.status, GRPC_STATUS_OK);
    assert_true(failed > 0); /* the resolver waited out its backoff (1 s) first */
    assert_true(gw_loop_now_ms() - start >= GW_RESOLVE_BACKOFF_MIN_MS - 100);
    assert_int_equal(atomic_load(&name_asked), 2);
    char want[96];
    snprintf(want, sizeof(want), "\n:authority: name.test:%d\n", port);
    assert_non_null(strstr(u.headers, want));
    free_client(c);
    upstream_stop(&u);
}

/* One call to /t.S/M while both upstreams are served; its status. */
static grpc_status_code call_both(gw_h2 *c, upstream *u1, upstream *u2)
{
    upstream *const us[2] = {u1, u2};
    outcome o = {0};
    gw_buf wire = {0};
    assert_int_equal(gw_h2_unary(c, "/t.S/M", &wire, NULL, 0, 5000, on_done, &o), 0);
    for (int i = 0; i < 500 && !o.done; i++)
        round_trip_all(c, us, 2);
    assert_true(o.done);
    if (o.status != GRPC_STATUS_OK)
        fail_msg("status %d: %s", (int)o.status, o.message);
    return o.status;
}

/* Serves both upstreams until the resolver's generation is no longer gen
 * (at most 5 s). */
static void await_generation_after(gw_h2 *c, upstream *u1, upstream *u2, unsigned gen)
{
    upstream *const us[2] = {u1, u2};
    int64_t start = gw_loop_now_ms();
    while (gw_resolver_generation(resolver_of(c)) == gen && gw_loop_now_ms() - start < 5000)
        round_trip_all(c, us, 2);
    assert_int_not_equal(gw_resolver_generation(resolver_of(c)), gen);
}

/* A name is resolved again when a connection to one of its addresses
 * fails (no sooner than the interval after the last answer), not only once
 * all have: a dead address in the first answer has the name asked again,
 * and calls reach the upstream the next answer adds while the other still
 * serves.  A name that stops resolving keeps its addresses; a connection to
 * an address the answer no longer gives takes no new call and is closed. */
static void test_a_name_whose_answer_changes(void **state)
{
    (void)state;
    upstream u1, u2;
    upstream_start(&u1);
    upstream_start(&u2);
    int p1 = upstream_listen_tcp(&u1), p2 = upstream_listen_tcp(&u2);
    atomic_store(&name_port, dead_port());
    atomic_store(&name_port2, p1);
    atomic_store(&name_asked, 0);
    gw_h2 *c = new_client_every("dns:///name.test:1", 1000);
    gw_resolver *r = resolver_of(c);
    await_generation_after(c, &u1, &u2, 0); /* the first answer, before any call asks */

    /* the dead address first: refused, the call goes to u1; the next
     * resolution, 1 s after the first, is asked for by that failure alone */
    call_both(c, &u1, &u2);
    assert_true(u1.request_ended);
    assert_int_equal(atomic_load(&name_asked), 1);
    unsigned gen = gw_resolver_generation(r);
    atomic_store(&name_port, p1);
    atomic_store(&name_port2, p2);
    await_generation_after(c, &u1, &u2, gen); /* asked again: the dead address failed */
    u1.request_ended = u2.request_ended = 0;
    for (int i = 0; i < 4; i++)
        call_both(c, &u1, &u2);
    assert_true(u1.request_ended && u2.request_ended); /* in turn */

    /* the name stops resolving: both addresses stay */
    atomic_store(&name_port, 0);
    int asked = atomic_load(&name_asked);
    gw_resolver_refresh(r, NULL);
    upstream *const us[2] = {&u1, &u2};
    int64_t start = gw_loop_now_ms();
    while (atomic_load(&name_asked) == asked && gw_loop_now_ms() - start < 5000)
        round_trip_all(c, us, 2);
    assert_int_equal(atomic_load(&name_asked), asked + 1);
    for (int i = 0; i < 50; i++)
        round_trip_all(c, us, 2); /* the failed answer published */
    gw_address a[GW_RESOLVE_MAX_ADDRS];
    char err[256];
    assert_int_equal(gw_resolver_get(r, a, &gen, err, sizeof(err)), 2);
    assert_string_equal(err, "");
    u1.request_ended = u2.request_ended = 0;
    for (int i = 0; i < 4; i++)
        call_both(c, &u1, &u2);
    assert_true(u1.request_ended && u2.request_ended);

    /* an answer without u1 (after the resolver's 1 s backoff) */
    atomic_store(&name_port, p2);
    atomic_store(&name_port2, 0);
    gw_resolver_refresh(r, NULL);
    await_generation_after(c, &u1, &u2, gen);
    unsigned u1_connections = u1.connections;
    u1.request_ended = u2.request_ended = 0;
    for (int i = 0; i < 4; i++)
        call_both(c, &u1, &u2);
    assert_false(u1.request_ended);
    assert_true(u2.request_ended);
    start = gw_loop_now_ms();
    while (u1.fd >= 0 && gw_loop_now_ms() - start < 5000)
        round_trip_all(c, us, 2);
    assert_true(u1.fd < 0); /* the client closed it */
    assert_int_equal(u1.connections, u1_connections);

    free_client(c);
    atomic_store(&name_port, 0);
    upstream_stop(&u1);
    upstream_stop(&u2);
}

/* ---- a DNS server of the test's own (dns://SERVER/NAME:PORT) ---------------------- */

/* Answers "svc.test" A with 127.0.0.1 and AAAA with nothing, "bare.test"
 * with no record at all, "broken.test" with SERVFAIL, "garbled.test" with
 * an answer record cut short, "silent.test" not at all, any other name
 * with NXDOMAIN; counts the questions. */
typedef struct dns_server {
    int fd, port;
    pthread_t thread;
    atomic_int stop, asked_a, asked_aaaa;
} dns_server;

/* The reply to the query q[n] in r (n_r bytes), or 0 to ignore it. */
static size_t dns_reply(dns_server *d, const uint8_t *q, size_t n, uint8_t *r)
{
    char name[256];
    size_t at = 12, used = 0;
    if (n < 12)
        return 0;
    while (at < n && q[at] && q[at] < 64 && at + 1 + q[at] < n && used + q[at] + 1 < sizeof(name)) {
        if (used)
            name[used++] = '.';
        memcpy(name + used, q + at + 1, q[at]);
        used += q[at];
        at += 1u + q[at];
    }
    if (at + 5 > n || q[at] != 0)
        return 0;
    name[used] = '\0';
    int type = (q[at + 1] << 8) | q[at + 2];
    size_t qend = at + 5;
    atomic_fetch_add(type == 1 ? &d->asked_a : &d->asked_aaaa, 1);
    if (strcmp(name, "silent.test") == 0)
        return 0;
    memcpy(r, q, qend);
    int known = strcmp(name, "svc.test") == 0 || strcmp(name, "bare.test") == 0 ||
                strcmp(name, "garbled.test") == 0;
    int answers = (strcmp(name, "svc.test") == 0 && type == 1) || strcmp(name, "garbled.test") == 0;
    r[2] = 0x81; /* QR, RD */
    r[3] = strcmp(name, "broken.test") == 0 ? 0x82 /* RA; SERVFAIL */
           : known                          ? 0x80 /* RA */
                                            : 0x83; /* RA; NXDOMAIN */
    r[6] = 0, r[7] = (uint8_t)answers;
    r[8] = r[9] = r[10] = r[11] = 0;
    if (!answers)
        return qend;
    if (strcmp(name, "garbled.test") == 0)
        return qend + 3; /* the record's name and half its type */
    static const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 127, 0, 0, 1};
    memcpy(r + qend, rr, sizeof(rr));
    return qend + sizeof(rr);
}

static void *dns_serve(void *arg)
{
    dns_server *d = arg;
    while (!atomic_load(&d->stop)) {
        struct pollfd p = {.fd = d->fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        uint8_t q[512], r[600];
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof(from);
        ssize_t n = recvfrom(d->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fromlen);
        size_t len = n > 0 ? dns_reply(d, q, (size_t)n, r) : 0;
        if (len)
            sendto(d->fd, r, len, 0, (struct sockaddr *)&from, fromlen);
    }
    return NULL;
}

static void dns_server_start(dns_server *d)
{
    memset(d, 0, sizeof(*d));
    d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    assert_int_equal(bind(d->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(d->fd, (struct sockaddr *)&a, &alen), 0);
    d->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&d->thread, NULL, dns_serve, d), 0);
}

static void dns_server_stop(dns_server *d)
{
    atomic_store(&d->stop, 1);
    pthread_join(d->thread, NULL);
    close(d->fd);
}

/* One call to /t.S/M on c (5 s deadline), served by u, done within `rounds`
 * round trips (each waits 10 ms at most); the outcome. */
static outcome call_within(gw_h2 *c, upstream *u, int rounds)
{
    outcome o = {0};
    gw_buf wire = {0};
    assert_int_equal(gw_h2_unary(c, "/t.S/M", &wire, NULL, 0, 5000, on_done, &o), 0);
    for (int i = 0; i < rounds && !o.done; i++)
        round_trip(c, u);
    assert_true(o.done);
    return o;
}

static outcome call_once(gw_h2 *c, upstream *u)
{
    return call_within(c, u, 500);
}

/* dns://SERVER/NAME:PORT asks SERVER (A, then AAAA), not the system's
 * resolver; a name it does not know, and a server that does not answer,
 * fail the calls saying so. */
static void test_a_name_from_its_own_dns_server(void **state)
{
    (void)state;
    dns_server d;
    dns_server_start(&d);
    upstream u;
    upstream_start(&u);
    int port = upstream_listen_tcp(&u);
    atomic_store(&name_asked, 0);
    char target[96];
    snprintf(target, sizeof(target), "dns://127.0.0.1:%d/svc.test:%d", d.port, port);
    gw_h2 *c = new_client(target);
    outcome o = call_once(c, &u);
    assert_int_equal(o.status, GRPC_STATUS_OK);
    char want[96];
    snprintf(want, sizeof(want), "\n:authority: svc.test:%d\n", port);
    assert_non_null(strstr(u.headers, want));
    assert_int_equal(atomic_load(&d.asked_a), 1);
    assert_int_equal(atomic_load(&d.asked_aaaa), 1);
    assert_int_equal(atomic_load(&name_asked), 0); /* not getaddrinfo */
    free_client(c);

    snprintf(target, sizeof(target), "dns://127.0.0.1:%d/nosuch.test:%d", d.port, port);
    c = new_client(target);
    o = call_once(c, &u);
    assert_int_equal(o.status, GRPC_STATUS_UNAVAILABLE);
    char expect[200];
    snprintf(expect, sizeof(expect), "cannot connect to the upstream: its name does not resolve: "
             "the DNS server 127.0.0.1:%d answers that there is no such name", d.port);
    assert_string_equal(o.message, expect);
    free_client(c);

    static const struct {
        const char *name, *says;
    } refusals[] = {
        {"bare.test", "its name does not resolve: the DNS server %s has no IPv4 or IPv6 "
                      "address for it"},
        {"broken.test", "its name does not resolve: the DNS server %s answers SERVFAIL"},
        {"garbled.test", "the DNS server %s's answer cannot be read"},
    };
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        char server[32], says[160];
        snprintf(server, sizeof(server), "127.0.0.1:%d", d.port);
        snprintf(target, sizeof(target), "dns://%s/%s:%d", server, refusals[i].name, port);
        c = new_client(target);
        o = call_once(c, &u);
        assert_int_equal(o.status, GRPC_STATUS_UNAVAILABLE);
        snprintf(says, sizeof(says), refusals[i].says, server);
        snprintf(expect, sizeof(expect), "cannot connect to the upstream: %s", says);
        assert_string_equal(o.message, expect);
        free_client(c);
    }

    /* A server that drops the questions: the first asked twice, 2 s each,
     * the second not at all, and the call fails (within its 5 s deadline). */
    atomic_store(&d.asked_a, 0);
    atomic_store(&d.asked_aaaa, 0);
    snprintf(target, sizeof(target), "dns://127.0.0.1:%d/silent.test:%d", d.port, port);
    c = new_client(target);
    o = call_within(c, &u, 1000);
    assert_int_equal(o.status, GRPC_STATUS_UNAVAILABLE);
    snprintf(expect, sizeof(expect), "cannot connect to the upstream: the DNS server "
             "127.0.0.1:%d does not answer: Connection timed out", d.port);
    assert_string_equal(o.message, expect);
    assert_int_equal(atomic_load(&d.asked_a), 2);
    assert_int_equal(atomic_load(&d.asked_aaaa), 0);
    free_client(c);

    int dead = dead_port(); /* no UDP socket there either, as likely as not: refused */
    snprintf(target, sizeof(target), "dns://[::1]:%d/svc.test:%d", dead, port);
    c = new_client(target);
    o = call_once(c, &u);
    assert_int_equal(o.status, GRPC_STATUS_UNAVAILABLE);
    snprintf(expect, sizeof(expect), "cannot connect to the upstream: the DNS server [::1]:%d "
             "does not answer: ", dead);
    assert_memory_equal(o.message, expect, strlen(expect));
    free_client(c);

    char err[256];
    assert_null(gw_resolver_new("dns://dns.example/svc.test:1", INTERVAL, err, sizeof(err)));
    gw_resolver *r = gw_resolver_new("dns://::1/svc.test:1", INTERVAL, err, sizeof(err));
    assert_non_null(r); /* a bare IPv6 server, port 53 */
    gw_resolver_free(r);
    upstream_stop(&u);
    dns_server_stop(&d);
}

/* What a target gives: addresses in order (at most GW_RESOLVE_MAX_ADDRS),
 * the authority, the name for TLS; a name's first answer comes from its
 * thread (localhost: /etc/hosts, no DNS server asked). */
static void test_resolver_addresses(void **state)
{
    (void)state;
    char err[256];
    gw_address a[GW_RESOLVE_MAX_ADDRS];
    unsigned gen;
    gw_resolver *r = gw_resolver_new("ipv4:127.0.0.1:5,127.0.0.2:6", INTERVAL, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(gw_resolver_get(r, a, &gen, err, sizeof(err)), 2);
    assert_int_equal(gen, 1);
    assert_string_equal(a[0].text, "127.0.0.1:5");
    assert_string_equal(a[1].host, "127.0.0.2");
    assert_string_equal(gw_resolver_authority(r), "127.0.0.1:5");
    assert_null(gw_resolver_name(r));
    gw_resolver_free(r);
    r = gw_resolver_new("ipv6:[::1]:7", INTERVAL, err, sizeof(err));
    assert_int_equal(gw_resolver_get(r, a, &gen, err, sizeof(err)), 1);
    assert_string_equal(a[0].text, "[::1]:7");
    gw_resolver_free(r);
    /* an address: no thread */
    r = gw_resolver_new("dns:///10.0.0.1:8", INTERVAL, err, sizeof(err));
    assert_int_equal(gw_resolver_generation(r), 1);
    assert_null(gw_resolver_name(r));
    gw_resolver_free(r);
    r = gw_resolver_new("unix-abstract:rpcrest-test", INTERVAL, err, sizeof(err));
    assert_int_equal(gw_resolver_get(r, a, &gen, err, sizeof(err)), 1);
    assert_string_equal(a[0].text, "@rpcrest-test");
    assert_string_equal(gw_resolver_authority(r), "localhost");
    gw_resolver_free(r);
    char many[400] = "ipv4:";
    for (int i = 0; i < GW_RESOLVE_MAX_ADDRS + 2; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s127.0.0.%d:9",
                 i ? "," : "", i + 1);
    r = gw_resolver_new(many, INTERVAL, err, sizeof(err));
    assert_int_equal(gw_resolver_get(r, a, &gen, err, sizeof(err)), GW_RESOLVE_MAX_ADDRS);
    gw_resolver_free(r);

    r = gw_resolver_new("dns:///localhost:10", INTERVAL, err, sizeof(err));
    assert_non_null(r);
    assert_string_equal(gw_resolver_name(r), "localhost");
    assert_string_equal(gw_resolver_authority(r), "localhost:10");
    for (int i = 0; i < 500 && gw_resolver_generation(r) == 0; i++)
        usleep(10000);
    size_t n = gw_resolver_get(r, a, &gen, err, sizeof(err));
    assert_true(n >= 1);
    assert_int_equal(gen, 1);
    int loopback = 0;
    for (size_t i = 0; i < n; i++)
        loopback += strcmp(a[i].text, "127.0.0.1:10") == 0 || strcmp(a[i].text, "[::1]:10") == 0;
    assert_int_equal(loopback, n);
    gw_resolver_free(r);
}

/* Also: the headers pass nghttp2's checks, which are HTTP/2's. */
static void test_call_without_failures(void **state)
{
    (void)state;
    assert_int_equal(call_while_failing(100, SIZE_MAX), 0);
}

/* x-request-id, new on every call, is indexed once per connection; later
 * calls send their id as a never-indexed literal (so that the ids do not
 * push the headers that repeat out of the HPACK tables). */
static void test_request_id_indexed_once_per_connection(void **state)
{
    (void)state;
    upstream u;
    upstream_start(&u);
    gw_h2 *c = new_client(u.target);
    assert_non_null(c);
    const char *id = "\nx-request-id: 0123456789abcdef0123456789abcdef";
    char never[128];
    snprintf(never, sizeof(never), "%s (never indexed)\n", id);
    one_call(c, &u, 10, SIZE_MAX);
    assert_non_null(strstr(u.headers, id));
    assert_null(strstr(u.headers, never));
    for (int i = 0; i < 3; i++) {
        one_call(c, &u, 10, SIZE_MAX);
        assert_non_null(strstr(u.headers, never));
    }
    free_client(c);
    upstream_stop(&u);
}

/* Nothing can be gathered: every frame, the connection preface first, is
 * written straight from nghttp2's buffer. */
static void test_frames_written_from_nghttp2_when_nothing_can_be_gathered(void **state)
{
    (void)state;
    assert_true(call_while_failing(100, 0) > 0);
}

/* The preface and HEADERS are gathered; the first DATA frame cannot be:
 * what was gathered goes first, then DATA frames straight from nghttp2's
 * buffer, with the socket full now and then (1 MiB through a unix socket). */
static void test_gathered_frames_go_first_then_the_rest(void **state)
{
    (void)state;
    assert_true(call_while_failing(1 << 20, 1024) > 0);
}

/* The last stream id (2^31 - 1) is used; the call after it goes out on a
 * new connection, once the old one has finished its streams, and so do the
 * calls after that; none fails. */
static void test_new_connection_when_stream_ids_run_out(void **state)
{
    (void)state;
    upstream u;
    upstream_start(&u);
    first_stream_id = 0x7fffffffu - 4; /* three streams left: ...fb, ...fd, ...ff */
    sessions_made = 0;
    gw_h2 *c = new_client(u.target);
    assert_non_null(c);
    for (int i = 0; i < 5; i++)
        one_call(c, &u, 10, SIZE_MAX);
    assert_int_equal(sessions_made, 2);
    assert_int_equal(u.connections, 2);
    first_stream_id = 0;
    free_client(c);
    upstream_stop(&u);
}

/* An upstream that reads slower than the calls come (8 MiB of requests,
 * its windows wide open): the socket stays full, and what the client
 * gathers for it never drains completely.  The buffer that gathers the
 * frames stays about one send's worth (what was written is dropped before
 * it grows), instead of growing by everything sent meanwhile, and holding
 * that memory for as long as the connection lives. */
static void test_gathered_frames_stay_bounded_when_the_upstream_reads_slowly(void **state)
{
    (void)state;
    enum { CALLS = 32, MSG = 256 << 10 };
    upstream u;
    upstream_start(&u);
    u.big_windows = 1;
    u.read_limit = 16 << 10;
    gw_h2 *c = new_client(u.target);
    assert_non_null(c);
    static outcome o[CALLS];
    memset(o, 0, sizeof(o));
    for (int i = 0; i < CALLS; i++) {
        gw_buf wire = {0};
        assert_int_equal(gw_buf_reserve(&wire, MSG), 0);
        memset(wire.data, 'x', MSG);
        wire.len = MSG;
        assert_int_equal(gw_h2_unary(c, "/t.S/M", &wire, METADATA, 1, 60000, on_done, &o[i]), 0);
    }
    largest_realloc = 0;
    int done = 0;
    for (int round = 0; round < 20000 && done < CALLS; round++) {
        round_trip(c, &u);
        done = 0;
        for (int i = 0; i < CALLS; i++)
            done += o[i].done;
    }
    assert_int_equal(done, CALLS);
    for (int i = 0; i < CALLS; i++)
        if (o[i].status != GRPC_STATUS_OK)
            fail_msg("call %d: status %d: %s", i, (int)o[i].status, o[i].message);
    assert_int_equal(u.got_len, (size_t)CALLS * (5 + MSG));
    if (largest_realloc > (256u << 10))
        fail_msg("the client asked realloc for %zu bytes while sending %d calls of %d bytes",
                 largest_realloc, CALLS, MSG);
    free_client(c);
    upstream_stop(&u);
}

/* A TCP upstream that takes the connection and then reads nothing: its
 * window closes and the request stays unsent behind it, which the kernel
 * times out as it times out data a vanished machine never acknowledges
 * (that case needs packets dropped, which a test cannot do on loopback).
 * The connection is closed once the kernel's wait (20 s, shortened to
 * 300 ms here) has passed, and the call fails with UNAVAILABLE long before
 * its 30 s deadline.  The connection is probed while idle. */
static void test_tcp_upstream_that_takes_nothing_is_dropped(void **state)
{
    (void)state;
    int listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(listen_fd >= 0);
    int small = 4096; /* the accepted socket's window closes after a few KiB */
    assert_int_equal(setsockopt(listen_fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    assert_int_equal(bind(listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(listen_fd, 1), 0);
    assert_int_equal(getsockname(listen_fd, (struct sockaddr *)&a, &alen), 0);
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", ntohs(a.sin_port));

    user_timeout_asked = 0;
    user_timeout_given = 300;
    gw_h2 *c = new_client(target);
    assert_non_null(c);
    gw_buf wire = {0};
    assert_int_equal(gw_buf_reserve(&wire, 1 << 20), 0);
    memset(wire.data, 'x', 1 << 20);
    wire.len = 1 << 20;
    outcome o = {0};
    assert_int_equal(gw_h2_unary(c, "/t.S/M", &wire, NULL, 0, 30000, on_done, &o), 0);
    int accepted = -1, keepalive = 0;
    int64_t start = gw_loop_now_ms();
    gw_loop_source *srcs[GW_H2_SOURCES];
    gw_h2_sources(c, srcs);
    gw_loop_source *src = srcs[0]; /* the first connection */
    while (!o.done && gw_loop_now_ms() - start < 10000) {
        struct pollfd p = {.fd = src->fd, .events = poll_events(src)};
        assert_true(poll(&p, 1, 10) >= 0);
        uint32_t events = epoll_events(&p);
        if (src->fd >= 0 && !keepalive) {
            socklen_t len = sizeof(keepalive);
            assert_int_equal(getsockopt(src->fd, SOL_SOCKET, SO_KEEPALIVE, &keepalive, &len), 0);
        }
        src->tick(src, src->fd >= 0 ? events : 0);
        if (accepted < 0)
            accepted = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    }
    int64_t took = gw_loop_now_ms() - start;
    user_timeout_given = 0;
    assert_true(accepted >= 0);
    assert_true(o.done);
    if (o.status != GRPC_STATUS_UNAVAILABLE)
        fail_msg("status %d after %lld ms: %s", (int)o.status, (long long)took, o.message);
    assert_true(took < 10000);
    assert_int_equal(user_timeout_asked, 20000);
    assert_int_equal(keepalive, 1);
    free_client(c);
    close(accepted);
    close(listen_fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_says_why_it_failed),
        cmocka_unit_test(test_resolver_addresses),
        cmocka_unit_test(test_a_name_that_resolves_later),
        cmocka_unit_test(test_a_name_whose_answer_changes),
        cmocka_unit_test(test_a_name_from_its_own_dns_server),
        cmocka_unit_test(test_call_without_failures),
        cmocka_unit_test(test_request_id_indexed_once_per_connection),
        cmocka_unit_test(test_frames_written_from_nghttp2_when_nothing_can_be_gathered),
        cmocka_unit_test(test_gathered_frames_go_first_then_the_rest),
        cmocka_unit_test(test_new_connection_when_stream_ids_run_out),
        cmocka_unit_test(test_tcp_upstream_that_takes_nothing_is_dropped),
        cmocka_unit_test(test_gathered_frames_stay_bounded_when_the_upstream_reads_slowly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
