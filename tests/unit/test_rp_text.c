/*
 * test_rp_text.c -- common/rp_text.c's JSON strings: UTF-8 as it is,
 * quotes, backslashes and control characters escaped, whatever is not
 * UTF-8 \ufffd once per maximal part of a character; bounded output never
 * cuts an escape or a character; and what a JSON parser reads back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "../../common/rp_text.h"

/* s through rp_json_escape with room enough: the whole of s is taken. */
static const char *escaped(const char *s)
{
    static char out[256];
    size_t taken, n = rp_json_escape(out, sizeof(out) - 1, s, &taken);
    out[n] = '\0';
    assert_int_equal(taken, strlen(s));
    return out;
}

static void test_ascii(void **state)
{
    (void)state;
    assert_string_equal(escaped(""), "");
    assert_string_equal(escaped("/v1/example/echo?x=1&y=2 ~"), "/v1/example/echo?x=1&y=2 ~");
    assert_string_equal(escaped("a\"b\\c/d"), "a\\\"b\\\\c/d");
}

static void test_control_characters(void **state)
{
    (void)state;
    assert_string_equal(escaped("\x01\t\n\r\x1b[2J\x1f\x7f"),
                        "\\u0001\\u0009\\u000a\\u000d\\u001b[2J\\u001f\\u007f");
    /* C1 controls (U+0080..U+009F), which terminals act on too */
    assert_string_equal(escaped("a\xc2\x80" "b\xc2\x9b" "c"), "a\\u0080b\\u009bc");
    assert_string_equal(escaped("\xc2\xa0"), "\xc2\xa0"); /* U+00A0 is no control */
}

static void test_utf8_passes_through(void **state)
{
    (void)state;
    assert_string_equal(escaped("/v1/files/caf\xc3\xa9"), "/v1/files/caf\xc3\xa9");   /* 2 bytes */
    assert_string_equal(escaped("\xe4\xb8\x96\xe7\x95\x8c"), "\xe4\xb8\x96\xe7\x95\x8c"); /* 3 */
    assert_string_equal(escaped("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");               /* 4 */
    assert_string_equal(escaped("\xef\xbf\xbd"), "\xef\xbf\xbd"); /* a U+FFFD sent as such */
    assert_string_equal(escaped("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
}

static void test_not_utf8_is_replaced_once_per_maximal_part(void **state)
{
    (void)state;
    assert_string_equal(escaped("/\xff\xfe"), "/\\ufffd\\ufffd");       /* stray bytes */
    assert_string_equal(escaped("\x80x"), "\\ufffdx");                  /* a lone continuation */
    assert_string_equal(escaped("cut \xc3"), "cut \\ufffd");            /* cut short at the end */
    assert_string_equal(escaped("\xe2\x82x"), "\\ufffdx");              /* cut short: one */
    assert_string_equal(escaped("\xf0\x9f\x98"), "\\ufffd");
    assert_string_equal(escaped("\xc0\xaf"), "\\ufffd\\ufffd");         /* overlong '/' */
    assert_string_equal(escaped("\xe0\x80\xaf"), "\\ufffd\\ufffd\\ufffd"); /* overlong, 3 */
    assert_string_equal(escaped("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd"); /* a surrogate */
    assert_string_equal(escaped("\xed\xbf\xbf"), "\\ufffd\\ufffd\\ufffd");
    assert_string_equal(escaped("\xf4\x90\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd"); /* > 10FFFF */
    assert_string_equal(escaped("\xc3\"\xc3\\"), "\\ufffd\\\"\\ufffd\\\\");
}

static void test_bounded_output_keeps_escapes_whole(void **state)
{
    (void)state;
    const char *s = "ab\xc3\xa9\x01z";
    char out[16];
    size_t taken;
    /* room for "ab", the 2 bytes of U+00E9 and 5 of the 6 of \u0001 */
    size_t n = rp_json_escape(out, 9, s, &taken);
    assert_int_equal(n, 4);
    assert_int_equal(taken, 4);
    assert_memory_equal(out, "ab\xc3\xa9", 4);
    n = rp_json_escape(out, 3, s, &taken); /* U+00E9 is not cut in two */
    assert_int_equal(n, 2);
    assert_int_equal(taken, 2);
    n = rp_json_escape(out, 10, s, &taken);
    assert_int_equal(n, 10);
    assert_int_equal(taken, 5);
    assert_memory_equal(out, "ab\xc3\xa9\\u0001", 10);
    assert_int_equal(rp_json_escape(out, 0, s, &taken), 0);
    assert_int_equal(taken, 0);
}

/* Every byte value after every other one: always a JSON string that a
 * parser takes, and the text it gives back is s where s was UTF-8. */
static void test_parsers_read_it_back(void **state)
{
    (void)state;
    char s[3] = {0};
    for (int a = 1; a < 256; a++) {
        for (int b = 1; b < 256; b++) {
            s[0] = (char)a;
            s[1] = (char)b;
            rp_text t = {0};
            rp_text_json_string(&t, s);
            assert_false(t.oom);
            json_error_t err;
            json_t *v = json_loads(t.s, JSON_DECODE_ANY, &err);
            if (!v)
                fail_msg("%02x %02x: %s: %s", a, b, t.s, err.text);
            if (a < 0x80 && b < 0x80)
                assert_string_equal(json_string_value(v), s);
            json_decref(v);
            rp_text_free(&t);
        }
    }
    rp_text t = {0};
    rp_text_json_string(&t, "caf\xc3\xa9 \xf0\x9f\x98\x80\xff");
    json_t *v = json_loads(t.s, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    assert_string_equal(json_string_value(v), "caf\xc3\xa9 \xf0\x9f\x98\x80\xef\xbf\xbd");
    json_decref(v);
    rp_text_free(&t);
}

static void test_text_json_string_appends(void **state)
{
    (void)state;
    rp_text t = {0};
    rp_text_puts(&t, "{\"config\":");
    rp_text_json_string(&t, "/etc/rpcrest/\xc3\xa9t\xc3\xa9.ini\n");
    rp_text_puts(&t, "}");
    assert_false(t.oom);
    assert_string_equal(t.s, "{\"config\":\"/etc/rpcrest/\xc3\xa9t\xc3\xa9.ini\\u000a\"}");
    assert_int_equal(t.len, strlen(t.s));
    rp_text_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii),
        cmocka_unit_test(test_control_characters),
        cmocka_unit_test(test_utf8_passes_through),
        cmocka_unit_test(test_not_utf8_is_replaced_once_per_maximal_part),
        cmocka_unit_test(test_bounded_output_keeps_escapes_whole),
        cmocka_unit_test(test_parsers_read_it_back),
        cmocka_unit_test(test_text_json_string_appends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
