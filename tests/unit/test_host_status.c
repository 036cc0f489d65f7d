/*
 * test_host_status.c -- host/host_status.c: status messages made valid
 * UTF-8 (each maximal invalid part one U+FFFD, as Python's decoder does)
 * and cut to what they take on the wire, at a character boundary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../host/host_status.h"

#define FFFD "\xef\xbf\xbd"

static void expect(const char *in, const char *out)
{
    char *got = host_status_message(in);
    assert_non_null(got);
    assert_string_equal(got, out);
    char *again = host_status_message(got); /* its own result comes back unchanged */
    assert_string_equal(again, got);
    free(again);
    free(got);
}

static void test_valid_text_is_kept(void **state)
{
    (void)state;
    assert_null(host_status_message(NULL));
    expect("", "");
    expect("not found: caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80 \n\t%", /* é ☃ 😀 */
           "not found: caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80 \n\t%");
    expect("\xed\x9f\xbf \xee\x80\x80 \xf4\x8f\xbf\xbf", /* U+D7FF U+E000 U+10FFFF */
           "\xed\x9f\xbf \xee\x80\x80 \xf4\x8f\xbf\xbf");
}

static void test_each_maximal_invalid_part_is_one_replacement(void **state)
{
    (void)state;
    expect("caf\xe9!", "caf" FFFD "!");                       /* a lead byte alone */
    expect("\xff\xfe", FFFD FFFD);                            /* never valid */
    expect("\xc3(", FFFD "(");                                /* a missing continuation */
    expect("\xe2\x82 x", FFFD " x");                          /* two of three: one */
    expect("\xe2\x82", FFFD);                                 /* ... also at the end */
    expect("\xf0\x9f\x98", FFFD);                             /* three of four: one */
    expect("\xed\xa0\x80", FFFD FFFD FFFD);                   /* a surrogate */
    expect("\xe0\x80\xaf", FFFD FFFD FFFD);                   /* overlong */
    expect("\xc0\xaf", FFFD FFFD);                            /* overlong */
    expect("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);          /* past U+10FFFF */
    expect("\xf5\x80", FFFD FFFD);
    expect("\x80\xbf", FFFD FFFD);                            /* continuations alone */
}

static void test_wire_length(void **state)
{
    (void)state;
    assert_int_equal(host_status_wire_len(NULL), 0);
    assert_int_equal(host_status_wire_len("abc ~"), 5);
    assert_int_equal(host_status_wire_len("%"), 3);
    assert_int_equal(host_status_wire_len("\n"), 3);
    assert_int_equal(host_status_wire_len("\xc3\xa9"), 6);
}

/* A message of n copies of the UTF-8 character ch. */
static char *repeat(const char *ch, size_t n)
{
    size_t len = strlen(ch);
    char *s = malloc(n * len + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * len, ch, len);
    s[n * len] = '\0';
    return s;
}

static void check_cut(const char *ch, size_t n, size_t kept)
{
    char *in = repeat(ch, n);
    char *got = host_status_message(in);
    assert_non_null(got);
    size_t len = strlen(ch);
    assert_int_equal(strlen(got), kept * len + 3);
    assert_memory_equal(got, in, kept * len);
    assert_string_equal(got + kept * len, "...");
    assert_true(host_status_wire_len(got) <= HOST_STATUS_MESSAGE_MAX);
    free(got);
    free(in);
}

static void test_long_messages_are_cut_at_a_character(void **state)
{
    (void)state;
    char *fits = repeat("x", HOST_STATUS_MESSAGE_MAX);
    expect(fits, fits); /* exactly the most: whole */
    free(fits);
    check_cut("x", HOST_STATUS_MESSAGE_MAX + 1, HOST_STATUS_MESSAGE_MAX - 3);
    check_cut("x", 1 << 20, HOST_STATUS_MESSAGE_MAX - 3);
    check_cut("%", 1000, (HOST_STATUS_MESSAGE_MAX - 3) / 3);
    check_cut("\xc3\xa9", 1000, (HOST_STATUS_MESSAGE_MAX - 3) / 6);
    check_cut("\xe2\x98\x83", 1000, (HOST_STATUS_MESSAGE_MAX - 3) / 9);
    check_cut("\xf0\x9f\x98\x80", 1000, (HOST_STATUS_MESSAGE_MAX - 3) / 12);
    /* invalid bytes grow into U+FFFD, which counts as it is sent */
    char *bad = repeat("\xff", 1000);
    char *got = host_status_message(bad);
    assert_int_equal(strlen(got), (HOST_STATUS_MESSAGE_MAX - 3) / 9 * 3 + 3);
    free(got);
    free(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_text_is_kept),
        cmocka_unit_test(test_each_maximal_invalid_part_is_one_replacement),
        cmocka_unit_test(test_wire_length),
        cmocka_unit_test(test_long_messages_are_cut_at_a_character),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
