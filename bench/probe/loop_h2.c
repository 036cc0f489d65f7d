/*
 * loop_h2.c -- a measurement probe, not part of rpcrest: the gateway's
 * request path on one event loop per thread, with nothing else, which
 * measured that design before the gateway was rebuilt on it (gw_loop.c,
 * gw_h2.c); kept to compare the gateway with the leanest form of it.
 *
 * Each thread owns a libmicrohttpd daemon in external-epoll mode (all of
 * them on one port, SO_REUSEPORT) and one HTTP/2 connection, made with
 * nghttp2, to rpcrest-host's private unix socket.  A request is read,
 * parsed with jansson, encoded as the echo service's StringMessage, sent as
 * a gRPC call on that connection, and the connection is suspended; when the
 * reply arrives on the same thread's loop, the connection is resumed and
 * answered from the same thread.  No completion-queue thread, no
 * cross-thread wake-up, no gRPC core in this process.
 *
 * It serves POST /v1/example/echo only (the echo plugin's route), with the
 * metadata the gateway sends; anything else gets 404, a body that is not
 * {"value": string} 400.  It exits if the upstream connection closes.
 *   usage: loop_h2 PORT HOST_UNIX_SOCKET THREADS
 */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_BODY 65536
#define MAX_THREADS 64

typedef struct probe_request {
    struct MHD_Connection *conn;
    uint8_t *body; /* request body, then the gRPC frame sent */
    size_t len, cap, sent;
    uint8_t *reply; /* gRPC frame received */
    size_t reply_len, reply_cap;
    int started, grpc_ok, failed;
} probe_request;

typedef struct probe_loop {
    const char *socket_path;
    uint16_t port;
    struct MHD_Daemon *mhd;
    nghttp2_session *h2;
    int epoll_fd, upstream_fd;
    uint8_t read_buf[65536];
} probe_loop;

static void die(const char *what)
{
    fprintf(stderr, "loop_h2: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(1);
}

static int buf_append(uint8_t **buf, size_t *len, size_t *cap, const void *data, size_t n)
{
    if (*len + n > *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        while (c < *len + n)
            c *= 2;
        uint8_t *p = realloc(*buf, c);
        if (!p)
            return -1;
        *buf = p;
        *cap = c;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    return 0;
}

/* ---- upstream (nghttp2) --------------------------------------------------- */

static ssize_t read_request_body(nghttp2_session *s, int32_t stream, uint8_t *out, size_t max,
                                 uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)s, (void)stream, (void)user;
    probe_request *r = src->ptr;
    size_t n = r->len - r->sent < max ? r->len - r->sent : max;
    memcpy(out, r->body + r->sent, n);
    r->sent += n;
    if (r->sent == r->len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int on_reply_data(nghttp2_session *s, uint8_t flags, int32_t stream, const uint8_t *data,
                         size_t len, void *user)
{
    (void)flags, (void)user;
    probe_request *r = nghttp2_session_get_stream_user_data(s, stream);
    if (r && buf_append(&r->reply, &r->reply_len, &r->reply_cap, data, len) < 0)
        r->failed = 1;
    return 0;
}

static int on_reply_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                           size_t name_len, const uint8_t *value, size_t value_len, uint8_t flags,
                           void *user)
{
    (void)flags, (void)user;
    probe_request *r = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (r && name_len == 11 && memcmp(name, "grpc-status", 11) == 0)
        r->grpc_ok = value_len == 1 && value[0] == '0';
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t stream, uint32_t error, void *user)
{
    (void)error, (void)user;
    probe_request *r = nghttp2_session_get_stream_user_data(s, stream);
    if (r)
        MHD_resume_connection(r->conn); /* answered on this thread's next MHD_run */
    return 0;
}

static void upstream_flush(probe_loop *l)
{
    const uint8_t *data;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(l->h2, &data)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t k = write(l->upstream_fd, data + off, (size_t)(n - off));
            if (k < 0 && errno != EINTR)
                die("write to the upstream");
            off += k > 0 ? k : 0;
        }
    }
    if (n < 0)
        die("nghttp2_session_mem_send");
}

static void upstream_connect(probe_loop *l)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->socket_path);
    l->upstream_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l->upstream_fd < 0 || connect(l->upstream_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die(l->socket_path);
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        die("nghttp2_session_callbacks_new");
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_reply_data);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_reply_header);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    int rc = nghttp2_session_client_new(&l->h2, cb, l);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0)
        die("nghttp2_session_client_new");
    nghttp2_settings_entry window = {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20};
    nghttp2_submit_settings(l->h2, NGHTTP2_FLAG_NONE, &window, 1);
    nghttp2_session_set_local_window_size(l->h2, NGHTTP2_FLAG_NONE, 0, 1 << 24);
    upstream_flush(l);
}

static void upstream_readable(probe_loop *l)
{
    ssize_t n = read(l->upstream_fd, l->read_buf, sizeof(l->read_buf));
    if (n == 0)
        errno = 0;
    if (n <= 0)
        die("the upstream closed the connection");
    if (nghttp2_session_mem_recv(l->h2, l->read_buf, (size_t)n) < 0)
        die("nghttp2_session_mem_recv");
    upstream_flush(l);
}

/* ---- HTTP (libmicrohttpd) -------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *json,
                             size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)json, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

#define REPLY_LITERAL(c, status, text) reply(c, status, text, sizeof(text) - 1)

/* The body {"value": "..."} as a gRPC frame of StringMessage in r->body. */
static int encode_request(probe_request *r)
{
    json_t *doc = json_loadb((const char *)r->body, r->len, 0, NULL);
    const char *value = json_string_value(json_object_get(doc, "value"));
    if (!value) {
        json_decref(doc);
        return -1;
    }
    size_t vlen = json_string_length(json_object_get(doc, "value"));
    uint8_t head[16];
    size_t h = 5, msg;
    head[h++] = 0x0a; /* field 1, length-delimited */
    for (size_t v = vlen;; v >>= 7) {
        head[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (v <= 0x7f)
            break;
    }
    msg = h - 5 + vlen;
    head[0] = 0;
    head[1] = (uint8_t)(msg >> 24), head[2] = (uint8_t)(msg >> 16);
    head[3] = (uint8_t)(msg >> 8), head[4] = (uint8_t)msg;
    r->len = 0;
    int rc = buf_append(&r->body, &r->len, &r->cap, head, h) |
             buf_append(&r->body, &r->len, &r->cap, value, vlen);
    json_decref(doc);
    return rc;
}

static enum MHD_Result start_call(probe_loop *l, probe_request *r)
{
    if (encode_request(r) < 0)
        return REPLY_LITERAL(r->conn, 400, "{\"code\":3,\"message\":\"expected {\\\"value\\\": string}\"}");
#define NV(n, v) {(uint8_t *)n, (uint8_t *)v, sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE}
    nghttp2_nv headers[] = {
        NV(":method", "POST"),
        NV(":scheme", "http"),
        NV(":path", "/example.MyService/Echo"),
        NV(":authority", "localhost"),
        NV("content-type", "application/grpc"),
        NV("te", "trailers"),
        NV("grpc-timeout", "30000m"),
        NV("user-agent", "grpc-c/29.0.0 (linux; chttp2)"),
        NV("grpcgateway-user-agent", "wrk"),
        NV("grpcgateway-content-type", "application/json"),
        NV("x-forwarded-for", "127.0.0.1"),
        NV("x-forwarded-host", "127.0.0.1:8080"),
    };
    nghttp2_data_provider body = {.source.ptr = r, .read_callback = read_request_body};
    if (nghttp2_submit_request(l->h2, NULL, headers, sizeof(headers) / sizeof(headers[0]), &body,
                               r) < 0)
        return REPLY_LITERAL(r->conn, 503, "{\"code\":14,\"message\":\"cannot start the call\"}");
    r->started = 1;
    MHD_suspend_connection(r->conn);
    upstream_flush(l);
    return MHD_YES;
}

/* The call is over (resumed): the reply's StringMessage as JSON. */
static enum MHD_Result answer(probe_request *r)
{
    const uint8_t *p = r->reply + 5, *end = r->reply + r->reply_len;
    size_t vlen = 0;
    int shift = 0;
    if (r->failed || !r->grpc_ok || r->reply_len < 7 || p[0] != 0x0a)
        return REPLY_LITERAL(r->conn, 502, "{\"code\":13,\"message\":\"bad reply\"}");
    for (p++; p < end && shift < 64; p++, shift += 7) {
        vlen |= (size_t)(*p & 0x7f) << shift;
        if (!(*p & 0x80))
            break;
    }
    if (p++ >= end || (size_t)(end - p) < vlen)
        return REPLY_LITERAL(r->conn, 502, "{\"code\":13,\"message\":\"bad reply\"}");
    json_t *doc = json_pack("{s:s%}", "value", (const char *)p, vlen);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return REPLY_LITERAL(r->conn, 500, "{\"code\":13,\"message\":\"out of memory\"}");
    enum MHD_Result rc = reply(r->conn, 200, text, strlen(text));
    free(text);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **state)
{
    (void)version;
    probe_loop *l = cls;
    probe_request *r = *state;
    if (!r) {
        if (strcmp(url, "/v1/example/echo") != 0 || strcmp(method, "POST") != 0)
            return REPLY_LITERAL(c, 404, "{\"code\":5,\"message\":\"not found\"}");
        if (!(r = calloc(1, sizeof(*r))))
            return MHD_NO;
        r->conn = c;
        *state = r;
        return MHD_YES;
    }
    if (*upload_len) {
        if (r->len + *upload_len > MAX_BODY ||
            buf_append(&r->body, &r->len, &r->cap, upload, *upload_len) < 0)
            r->failed = 1;
        *upload_len = 0;
        return MHD_YES;
    }
    if (r->failed && !r->started)
        return REPLY_LITERAL(c, 413, "{\"code\":8,\"message\":\"body too large\"}");
    return r->started ? answer(r) : start_call(l, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)c, (void)why;
    probe_request *r = *state;
    if (r) {
        free(r->body);
        free(r->reply);
        free(r);
    }
    *state = NULL;
}

static void *loop_main(void *arg)
{
    probe_loop *l = arg;
    upstream_connect(l);
    l->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, l->port,
                              NULL, NULL, on_request, l, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                              MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)36 * 1024,
                              MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (!l->mhd)
        die("MHD_start_daemon");
    int mhd_fd = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd;
    if ((l->epoll_fd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = mhd_fd};
    if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, mhd_fd, &ev) < 0)
        die("epoll_ctl");
    ev.data.fd = l->upstream_fd;
    if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->upstream_fd, &ev) < 0)
        die("epoll_ctl");
    for (;;) {
        struct epoll_event events[2];
        MHD_UNSIGNED_LONG_LONG timeout;
        int ms = MHD_get_timeout(l->mhd, &timeout) == MHD_YES ? (int)timeout : -1;
        int n = epoll_wait(l->epoll_fd, events, 2, ms);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++)
            if (events[i].data.fd == l->upstream_fd)
                upstream_readable(l);
        MHD_run(l->mhd);
        upstream_flush(l);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc == 4 ? atoi(argv[3]) : 0;
    int port = argc == 4 ? atoi(argv[1]) : 0;
    if (threads < 1 || threads > MAX_THREADS || port < 1 || port > 65535) {
        fprintf(stderr, "usage: loop_h2 PORT HOST_UNIX_SOCKET THREADS(1..%d)\n", MAX_THREADS);
        return 2;
    }
    probe_loop loops[MAX_THREADS];
    pthread_t tids[MAX_THREADS];
    memset(loops, 0, sizeof(loops));
    for (int i = 0; i < threads; i++) {
        loops[i].socket_path = argv[2];
        loops[i].port = (uint16_t)port;
        errno = pthread_create(&tids[i], NULL, loop_main, &loops[i]);
        if (errno)
            die("pthread_create");
    }
    for (int i = 0; i < threads; i++)
        pthread_join(tids[i], NULL);
    return 0;
}
