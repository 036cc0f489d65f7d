/*
 * test_gw_grpcweb.c -- gateway/gw_grpcweb.c: which Content-Types are
 * gRPC-Web, request bodies read into messages (binary, base64 text in one
 * or several padded pieces) and every malformed one refused with its gRPC
 * status, and the frames of an answer (messages, the trailer frame with a
 * percent-encoded grpc-message and the metadata that may be sent).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../gateway/gw_base64.h"
#include "../../gateway/gw_grpcweb.h"

static void test_mode(void **state)
{
    (void)state;
    static const struct {
        const char *type;
        gw_web_mode mode;
    } cases[] = {
        {"application/grpc-web", GW_WEB_BINARY},
        {"application/grpc-web+proto", GW_WEB_BINARY},
        {"Application/GRPC-Web+Proto", GW_WEB_BINARY},
        {"application/grpc-web+proto; charset=utf-8", GW_WEB_BINARY},
        {"application/grpc-web ;x=y", GW_WEB_BINARY},
        {"application/grpc-web-text", GW_WEB_TEXT},
        {"application/grpc-web-text+proto", GW_WEB_TEXT},
        {"application/grpc-web+json", GW_WEB_OTHER},
        {"application/grpc-web-text+json", GW_WEB_OTHER},
        {"application/grpc-web+thrift", GW_WEB_OTHER},
        {"application/grpc", GW_WEB_NONE},
        {"application/grpc-webx", GW_WEB_NONE},
        {"application/grpc-web-textual", GW_WEB_NONE},
        {"application/json", GW_WEB_NONE},
        {"", GW_WEB_NONE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (gw_grpcweb_mode(cases[i].type) != cases[i].mode)
            fail_msg("'%s': mode %d, expected %d", cases[i].type, gw_grpcweb_mode(cases[i].type),
                     cases[i].mode);
    assert_int_equal(gw_grpcweb_mode(NULL), GW_WEB_NONE);
    assert_string_equal(gw_grpcweb_content_type(GW_WEB_BINARY), "application/grpc-web+proto");
    assert_string_equal(gw_grpcweb_content_type(GW_WEB_TEXT), "application/grpc-web-text+proto");
}

/* Appends a frame (flag, msg) to b. */
static void frame(gw_buf *b, uint8_t flag, const char *msg, size_t len)
{
    uint8_t prefix[5] = {flag, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                         (uint8_t)len};
    gw_buf_append(b, prefix, 5);
    gw_buf_append(b, msg, len);
}

static void assert_message(const gw_request_messages *m, size_t i, const char *want, size_t len)
{
    size_t start = i ? m->ends[i - 1] : 0;
    assert_int_equal(m->ends[i] - start, len);
    assert_memory_equal(m->data.data + start, want, len);
}

static void test_read_binary(void **state)
{
    (void)state;
    gw_buf body = GW_BUF_INIT;
    frame(&body, 0, "abc", 3);
    frame(&body, 0, "", 0);
    frame(&body, 0, "\0\1\2\3", 4);
    gw_request_messages m = GW_REQUEST_MESSAGES_INIT;
    int code = -1;
    char err[200];
    assert_int_equal(gw_grpcweb_read_body(GW_WEB_BINARY, body.data, body.len, &m, &code, err,
                                          sizeof(err)),
                     GW_OK);
    assert_int_equal(m.n, 3);
    assert_message(&m, 0, "abc", 3);
    assert_message(&m, 1, "", 0);
    assert_message(&m, 2, "\0\1\2\3", 4);
    gw_request_messages_free(&m);
    /* an empty body holds no message */
    assert_int_equal(gw_grpcweb_read_body(GW_WEB_BINARY, NULL, 0, &m, &code, err, sizeof(err)),
                     GW_OK);
    assert_int_equal(m.n, 0);
    gw_request_messages_free(&m);
    gw_buf_free(&body);
}

static void test_read_text(void **state)
{
    (void)state;
    gw_buf one = GW_BUF_INIT, two = GW_BUF_INIT, text = GW_BUF_INIT;
    frame(&one, 0, "hello", 5); /* 10 bytes: base64 ends in "==" */
    frame(&two, 0, "x", 1);     /* 6 bytes: no padding */
    gw_base64_encode(&text, one.data, one.len);
    gw_base64_encode(&text, two.data, two.len);
    gw_base64_encode(&text, one.data, one.len);
    gw_request_messages m = GW_REQUEST_MESSAGES_INIT;
    int code = -1;
    char err[200];
    assert_int_equal(gw_grpcweb_read_body(GW_WEB_TEXT, text.data, text.len, &m, &code, err,
                                          sizeof(err)),
                     GW_OK);
    assert_int_equal(m.n, 3);
    assert_message(&m, 0, "hello", 5);
    assert_message(&m, 1, "x", 1);
    assert_message(&m, 2, "hello", 5);
    gw_request_messages_free(&m);
    /* the last piece may be unpadded */
    text.len -= 2;
    assert_int_equal(gw_grpcweb_read_body(GW_WEB_TEXT, text.data, text.len, &m, &code, err,
                                          sizeof(err)),
                     GW_OK);
    assert_int_equal(m.n, 3);
    gw_request_messages_free(&m);
    gw_buf_free(&one);
    gw_buf_free(&two);
    gw_buf_free(&text);
}

/* body[len] in mode is refused with code and a reason containing why. */
static void assert_refused(gw_web_mode mode, const void *body, size_t len, int code,
                           const char *why)
{
    gw_request_messages m = GW_REQUEST_MESSAGES_INIT;
    int got = -1;
    char err[200] = "";
    gw_result rc = gw_grpcweb_read_body(mode, body, len, &m, &got, err, sizeof(err));
    gw_request_messages_free(&m);
    if (rc != GW_REFUSED || got != code || !strstr(err, why))
        fail_msg("body of %zu bytes: rc %d code %d '%s', expected code %d with '%s'", len, rc, got,
                 err, code, why);
}

static void test_read_refused(void **state)
{
    (void)state;
    assert_refused(GW_WEB_BINARY, "\0\0\0", 3, 3, "5-byte prefix");
    assert_refused(GW_WEB_BINARY, "\0\0\0\0\4abc", 8, 3, "longer than the rest");
    assert_refused(GW_WEB_BINARY, "\0\xff\xff\xff\xff", 5, 3, "longer than the rest");
    assert_refused(GW_WEB_BINARY, "\1\0\0\0\1a", 6, 12, "compressed");
    assert_refused(GW_WEB_BINARY, "\x81\0\0\0\1a", 6, 12, "compressed");
    assert_refused(GW_WEB_BINARY, "\x80\0\0\0\1a", 6, 3, "message frames only");
    assert_refused(GW_WEB_BINARY, "\2\0\0\0\0", 5, 3, "message frames only");
    /* a good frame, then a bad one */
    assert_refused(GW_WEB_BINARY, "\0\0\0\0\1a\0\0", 8, 3, "5-byte prefix");
    assert_refused(GW_WEB_TEXT, "AAAAAAFh!", 9, 3, "not base64");
    assert_refused(GW_WEB_TEXT, "AAAAAAFh=", 9, 3, "not base64");   /* '=' after a full group */
    assert_refused(GW_WEB_TEXT, "AAAAAAE===", 10, 3, "not base64"); /* three '=' */
    assert_refused(GW_WEB_TEXT, "A", 1, 3, "not base64");
    assert_refused(GW_WEB_TEXT, "AAAAAAH_", 8, 3, "not base64"); /* URL-safe alphabet */
    assert_refused(GW_WEB_TEXT, "AAAAAAH-", 8, 3, "not base64");
    assert_refused(GW_WEB_TEXT, "AAAA", 4, 3, "5-byte prefix"); /* base64 of 3 bytes */
}

static void test_frames_out(void **state)
{
    (void)state;
    gw_buf out = GW_BUF_INIT;
    gw_grpcweb_add_message(GW_WEB_BINARY, (const uint8_t *)"\x0a\x01z", 3, &out);
    assert_int_equal(out.len, 8);
    assert_memory_equal(out.data, "\0\0\0\0\3\x0a\x01z", 8);
    out.len = 0;
    gw_metadata md[] = {
        {"x-one", "1", 1},
        {"trace-bin", "\0\1\xff", 3},
        {"grpc-status-details-bin", "\x08\x05", 2},
        {"grpc-status", "0", 1},           /* the gateway writes its own */
        {"content-type", "text/plain", 10}, /* frames the answer */
        {"x-bad", "a\r\nb", 4},             /* not a field value */
    };
    gw_grpcweb_add_trailers(GW_WEB_BINARY, 5, "not found: caf\xc3\xa9 100%", md,
                            sizeof(md) / sizeof(md[0]), &out);
    const char want[] = "grpc-status:5\r\n"
                        "grpc-message:not found: caf%C3%A9 100%25\r\n"
                        "x-one:1\r\n"
                        "trace-bin:AAH/\r\n"
                        "grpc-status-details-bin:CAU=\r\n";
    size_t n = sizeof(want) - 1;
    assert_int_equal(out.len, 5 + n);
    assert_int_equal(out.data[0], 0x80);
    assert_int_equal(out.data[4], n);
    assert_memory_equal(out.data + 5, want, n);
    /* OK without a message: no grpc-message line; text mode: base64 of the frame */
    out.len = 0;
    gw_grpcweb_add_trailers(GW_WEB_TEXT, 0, "", NULL, 0, &out);
    gw_buf_putc(&out, '\0');
    assert_string_equal((const char *)out.data, "gAAAAA9ncnBjLXN0YXR1czowDQo=");
    /* the static frames that end a stream out of memory are what it writes */
    out.len = 0;
    gw_grpcweb_add_trailers(GW_WEB_BINARY, 13, GW_ERR_OOM, NULL, 0, &out);
    assert_int_equal(out.len, sizeof(GW_GRPCWEB_OOM_TRAILERS) - 1);
    assert_memory_equal(out.data, GW_GRPCWEB_OOM_TRAILERS, out.len);
    out.len = 0;
    gw_grpcweb_add_trailers(GW_WEB_TEXT, 13, GW_ERR_OOM, NULL, 0, &out);
    assert_int_equal(out.len, sizeof(GW_GRPCWEB_OOM_TRAILERS_TEXT) - 1);
    assert_memory_equal(out.data, GW_GRPCWEB_OOM_TRAILERS_TEXT, out.len);
    gw_buf_free(&out);
}

static void test_percent_encode(void **state)
{
    (void)state;
    gw_buf out = GW_BUF_INIT;
    gw_grpcweb_percent_encode("plain text ~!", &out);
    assert_string_equal((const char *)out.data, "plain text ~!");
    out.len = 0;
    gw_grpcweb_percent_encode("%\t\x7f\n", &out);
    assert_string_equal((const char *)out.data, "%25%09%7F%0A");
    gw_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode),
        cmocka_unit_test(test_read_binary),
        cmocka_unit_test(test_read_text),
        cmocka_unit_test(test_read_refused),
        cmocka_unit_test(test_frames_out),
        cmocka_unit_test(test_percent_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
