/*
 * test_gw_access.c -- gateway/gw_access.c: access log lines in both
 * formats (every field, escaping of hostile paths, bounds), and the file
 * output: batched lines all written by close, reopen after a rename.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../gateway/gw_access.h"

static gw_access_entry sample(void)
{
    gw_access_entry e = {
        .start = {1795651343, 75123456}, /* 2026-11-26T00:02:23.075Z */
        .client = "127.0.0.1",
        .method = "POST",
        .path = "/v1/example/echo?x=1",
        .grpc_method = "/example.MyService/Echo",
        .status = 200,
        .grpc_code = 0,
        .bytes_in = 13,
        .bytes_out = 27,
        .duration_us = 763,
        .request_id = "abc-123",
    };
    return e;
}

static void test_text(void **state)
{
    (void)state;
    gw_access_entry e = sample();
    char line[8192];
    size_t n = gw_access_format(&e, 0, line, sizeof(line));
    assert_int_equal(n, strlen(line));
    assert_string_equal(line,
                        "2026-11-26T00:02:23.075Z client=127.0.0.1 method=POST "
                        "path=\"/v1/example/echo?x=1\" grpc_method=/example.MyService/Echo "
                        "status=200 grpc_status=OK bytes_in=13 bytes_out=27 duration_us=763 "
                        "request_id=abc-123\n");
    e.grpc_method = NULL;
    e.grpc_code = -1;
    e.status = 404;
    e.request_id = NULL;
    gw_access_format(&e, 0, line, sizeof(line));
    assert_non_null(strstr(line, " grpc_method=- status=404 grpc_status=- "));
    assert_non_null(strstr(line, " request_id=-\n"));
}

static void test_text_hostile_path(void **state)
{
    (void)state;
    gw_access_entry e = sample();
    e.path = "/a\" status=999 x=\"\n2026-01-01T00:00:00.000Z forged\\ \x01\xff";
    char line[8192];
    gw_access_format(&e, 0, line, sizeof(line));
    assert_string_equal(strchr(line, '\n'), "\n"); /* one line */
    assert_non_null(strstr(line, "path=\"/a\\\"\\x20status=999\\x20x=\\\"\\x0a"
                                 "2026-01-01T00:00:00.000Z\\x20forged\\\\\\x20\\x01\\xff\" "
                                 "grpc_method="));
    assert_non_null(strstr(line, " status=200 "));
}

static void test_json(void **state)
{
    (void)state;
    gw_access_entry e = sample();
    e.path = "/p\"q\\r\n\xc3\xa9";
    char line[8192];
    gw_access_format(&e, 1, line, sizeof(line));
    assert_string_equal(strchr(line, '\n'), "\n");
    json_error_t err;
    json_t *o = json_loads(line, 0, &err);
    if (!o)
        fail_msg("not JSON: %s: %s", err.text, line);
    assert_string_equal(json_string_value(json_object_get(o, "time")),
                        "2026-11-26T00:02:23.075Z");
    assert_string_equal(json_string_value(json_object_get(o, "client")), "127.0.0.1");
    assert_string_equal(json_string_value(json_object_get(o, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(o, "path")),
                        "/p\"q\\r\n\xc3\xa9"); /* UTF-8 read back as sent */
    assert_string_equal(json_string_value(json_object_get(o, "grpc_method")),
                        "/example.MyService/Echo");
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 200);
    assert_string_equal(json_string_value(json_object_get(o, "grpc_status")), "OK");
    assert_int_equal(json_integer_value(json_object_get(o, "grpc_code")), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "bytes_in")), 13);
    assert_int_equal(json_integer_value(json_object_get(o, "bytes_out")), 27);
    assert_int_equal(json_integer_value(json_object_get(o, "duration_us")), 763);
    assert_string_equal(json_string_value(json_object_get(o, "request_id")), "abc-123");
    json_decref(o);
    /* bytes that are not UTF-8: \ufffd, once per maximal part of a character */
    e.path = "/caf\xc3\xa9/\xff/\xe2\x82/\xc2\x9b";
    gw_access_format(&e, 1, line, sizeof(line));
    assert_non_null(strstr(line, "\"path\":\"/caf\xc3\xa9/\\ufffd/\\ufffd/\\u009b\","));
    e.grpc_method = NULL;
    e.grpc_code = -1;
    gw_access_format(&e, 1, line, sizeof(line));
    o = json_loads(line, 0, &err);
    assert_non_null(o);
    assert_true(json_is_null(json_object_get(o, "grpc_method")));
    assert_true(json_is_null(json_object_get(o, "grpc_status")));
    assert_true(json_is_null(json_object_get(o, "grpc_code")));
    json_decref(o);
}

static void test_long_path_is_bounded(void **state)
{
    (void)state;
    static char path[40000];
    memset(path, '\x01', sizeof(path) - 1); /* each byte escapes to 4 or 6 */
    gw_access_entry e = sample();
    e.path = path;
    char line[8192];
    for (int json = 0; json < 2; json++) {
        size_t n = gw_access_format(&e, json, line, sizeof(line));
        assert_true(n < sizeof(line) - 1);
        assert_int_equal(line[n - 1], '\n');
        assert_non_null(strstr(line, "...")); /* marked as cut */
        assert_non_null(strstr(line, "request_id")); /* the fields after it are all there */
        if (json) {
            json_error_t err;
            json_t *o = json_loads(line, 0, &err);
            assert_non_null(o);
            json_decref(o);
        }
    }
}

static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static void test_file_batches_and_reopen(void **state)
{
    (void)state;
    char dir[] = "/tmp/rpcrest-access-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64], rotated[64];
    snprintf(path, sizeof(path), "%s/access.log", dir);
    snprintf(rotated, sizeof(rotated), "%s/access.log.1", dir);
    char err[256];
    assert_null(gw_access_open("/nonexistent-dir/access.log", 0, err, sizeof(err)));
    assert_non_null(strstr(err, "access_log /nonexistent-dir/access.log: "));
    gw_access *a = gw_access_open(path, 0, err, sizeof(err));
    assert_non_null(a);
    gw_access_entry e = sample();
    for (int i = 0; i < 1000; i++) /* past a batch: some written before the rename */
        gw_access_log(a, &e);
    assert_int_equal(rename(path, rotated), 0);
    assert_int_equal(gw_access_reopen(a), 0); /* writes what is queued to the old file */
    for (int i = 0; i < 10; i++)
        gw_access_log(a, &e);
    gw_access_close(a);
    assert_int_equal(count_lines(rotated), 1000);
    assert_int_equal(count_lines(path), 10);
    unlink(path);
    unlink(rotated);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_text_hostile_path),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_long_path_is_bounded),
        cmocka_unit_test(test_file_batches_and_reopen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
