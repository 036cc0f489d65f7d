/*
 * json_check.h -- the checks the proto3 JSON unit tests share
 * (test_gw_json.c, test_gw_wkt.c): JSON -> wire -> JSON round trips, exact
 * wire bytes, decoding and the errors of both directions.  Header-only;
 * include it once per test program, after cmocka.h.
 *
 * JSON in these checks is written with single quotes for readability: q()
 * turns every ' into " before use (a real apostrophe is \u0027).  Every
 * JSON input goes through gw_json_loadb, as a request body does.  Error
 * checks match a substring of the one-line reason.
 */
#ifndef JSON_CHECK_H
#define JSON_CHECK_H

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/gw_buf.h"
#include "../../gateway/gw_json.h"
#include "../../gateway/gw_schema.h"

/* A malloc'd copy of s with every ' replaced by ". */
static inline char *q(const char *s)
{
    char *out = strdup(s);
    assert_non_null(out);
    for (char *p = out; *p; p++)
        if (*p == '\'')
            *p = '"';
    return out;
}

static inline void hex(const uint8_t *p, size_t n, char *out, size_t outlen)
{
    size_t w = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && w + 4 < outlen; i++)
        w += (size_t)snprintf(out + w, outlen - w, "%02x ", p[i]);
}

/* A check's failure report.  Checks write it, free what they hold, then
 * settle(): so that a failing test does not also show up as a leak under
 * valgrind.  The first failure is the one to read. */
static char why[4096];

static inline void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline void note(const char *fmt, ...)
{
    if (why[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
}

static inline void settle(void)
{
    if (why[0]) {
        char copy[sizeof(why)];
        memcpy(copy, why, sizeof(why));
        why[0] = '\0';
        fail_msg("%s", copy);
    }
}

/* JSON text (single-quote form) -> wire, as the gateway reads a body:
 * 0, -1 (gw_json_to_proto's error) or -2 (not JSON); the reason in err. */
static inline int encode(const gw_message *m, const char *sq_json, const gw_json_options *opt,
                         gw_buf *wire, char *err, size_t errlen)
{
    char *text = q(sq_json);
    json_error_t jerr;
    json_t *json = gw_json_loadb(text, strlen(text), JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    free(text);
    if (!json) {
        snprintf(err, errlen, "JSON: %s (column %d)", jerr.text, jerr.column);
        return -2;
    }
    int rc = gw_json_to_proto(m, json, opt, wire, err, errlen);
    json_decref(json);
    return rc;
}

static inline void text_is(const gw_buf *got, const char *want_sq, const char *what, int line)
{
    char *want = q(want_sq);
    if (got->len != strlen(want) || memcmp(got->data, want, got->len) != 0)
        note("line %d: %s\n   got: %.*s\n  want: %.1500s", line, what,
             (int)(got->len > 1500 ? 1500 : got->len), got->data ? (char *)got->data : "", want);
    free(want);
}

/* JSON -> wire -> JSON must print `want`. */
static inline void roundtrip(const gw_message *m, const char *in, const gw_json_options *in_opt,
                             const gw_json_options *out_opt, const char *want, int line)
{
    char err[512] = "";
    gw_buf wire = GW_BUF_INIT, text = GW_BUF_INIT;
    if (encode(m, in, in_opt, &wire, err, sizeof(err)) != 0)
        note("line %d: encoding %s failed: %s", line, in, err);
    else if (gw_proto_to_json(m, wire.data, wire.len, out_opt, &text, err, sizeof(err)) != GW_OK)
        note("line %d: decoding failed after encoding %s: %s", line, in, err);
    else
        text_is(&text, want, in, line);
    gw_buf_free(&wire);
    gw_buf_free(&text);
    settle();
}

#define RT(m, in, want) roundtrip(m, in, NULL, NULL, want, __LINE__)
#define RT_SAME(m, in) roundtrip(m, in, NULL, NULL, in, __LINE__)
#define RT_OPT(m, in, ein, eout, want) roundtrip(m, in, ein, eout, want, __LINE__)

/* JSON -> wire must fail with a reason containing `want`. */
static inline void encode_fails(const gw_message *m, const char *in, const gw_json_options *opt,
                                const char *want, int line)
{
    char err[512] = "";
    gw_buf wire = GW_BUF_INIT;
    int rc = encode(m, in, opt, &wire, err, sizeof(err));
    gw_buf_free(&wire);
    if (rc == 0)
        fail_msg("line %d: encoding %s succeeded; want an error (\"%s\")", line, in, want);
    if (!strstr(err, want))
        fail_msg("line %d: encoding %s\n   error: %s\n  want: %s", line, in, err, want);
}

#define ENC_ERR(m, in, want) encode_fails(m, in, NULL, want, __LINE__)

/* JSON -> wire must give exactly want[0..n). */
static inline void wire_is(const gw_message *m, const char *in, const char *want, size_t n,
                           int line)
{
    char err[512] = "";
    gw_buf wire = GW_BUF_INIT;
    if (encode(m, in, NULL, &wire, err, sizeof(err)) != 0) {
        note("line %d: encoding %s failed: %s", line, in, err);
    } else if (wire.len != n || (n > 0 && memcmp(wire.data, want, n) != 0)) {
        char got_hex[1024], want_hex[1024];
        hex(wire.data, wire.len, got_hex, sizeof(got_hex));
        hex((const uint8_t *)want, n, want_hex, sizeof(want_hex));
        note("line %d: wire bytes of %s\n   got: %s\n  want: %s", line, in, got_hex, want_hex);
    }
    gw_buf_free(&wire);
    settle();
}

#define WIRE(m, in, bytes) wire_is(m, in, bytes, sizeof(bytes) - 1, __LINE__)

/* A malloc'd copy of the bytes, so that valgrind sees reads past the end. */
static inline uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, p, n);
    return copy;
}

/* wire -> JSON must print `want`. */
static inline void decodes_to(const gw_message *m, const char *bytes, size_t n,
                              const gw_json_options *opt, const char *want, int line)
{
    char err[512] = "";
    gw_buf text = GW_BUF_INIT;
    uint8_t *data = dup_bytes(bytes, n);
    if (gw_proto_to_json(m, data, n, opt, &text, err, sizeof(err)) != GW_OK)
        note("line %d: decoding failed: %s", line, err);
    else
        text_is(&text, want, "decoding", line);
    free(data);
    gw_buf_free(&text);
    settle();
}

#define DEC(m, bytes, want) decodes_to(m, bytes, sizeof(bytes) - 1, NULL, want, __LINE__)
#define DEC_OPT(m, bytes, opt, want) decodes_to(m, bytes, sizeof(bytes) - 1, opt, want, __LINE__)

/* wire -> JSON must fail with a reason containing `want`. */
static inline void decode_fails(const gw_message *m, const char *bytes, size_t n,
                                const char *want, int line)
{
    char err[512] = "";
    gw_buf text = GW_BUF_INIT;
    uint8_t *data = dup_bytes(bytes, n);
    gw_result rc = gw_proto_to_json(m, data, n, NULL, &text, err, sizeof(err));
    free(data);
    gw_buf_free(&text);
    if (rc != GW_REFUSED)
        fail_msg("line %d: decoding returned %d, want GW_REFUSED (\"%s\")", line, rc, want);
    if (!strstr(err, want))
        fail_msg("line %d: decoding\n   error: %s\n  want: %s", line, err, want);
}

#define DEC_ERR(m, bytes, want) decode_fails(m, bytes, sizeof(bytes) - 1, want, __LINE__)

#endif
