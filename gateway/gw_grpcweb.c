/*
 * gw_grpcweb.c -- gRPC-Web content types and framing (gw_grpcweb.h).
 *
 * A body is a run of frames: one flag byte, a 4-byte big-endian length,
 * that many bytes.  Flag 0x00 is a message, 0x80 the trailer frame (an
 * answer's last), 0x01 a compressed message.  In text mode the same bytes
 * travel in base64, which a client may send as several padded pieces one
 * after the other, and which the gateway writes a frame at a time.
 */
#include "gw_grpcweb.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gw_base64.h"
#include "gw_headers.h"
#include "rp_metadata.h"

#define FRAME_MESSAGE 0x00
#define FRAME_COMPRESSED 0x01
#define FRAME_TRAILERS 0x80
#define FRAME_PREFIX 5

gw_web_mode gw_grpcweb_mode(const char *content_type)
{
    static const char base[] = "application/grpc-web";
    const size_t base_len = sizeof(base) - 1;
    if (!content_type || strncasecmp(content_type, base, base_len) != 0)
        return GW_WEB_NONE;
    const char *rest = content_type + base_len;
    size_t len = strcspn(rest, ";");
    while (len && (rest[len - 1] == ' ' || rest[len - 1] == '\t'))
        len--;
    int text = len >= 5 && strncasecmp(rest, "-text", 5) == 0;
    if (text)
        rest += 5, len -= 5;
    if (len == 0 || (len == 6 && strncasecmp(rest, "+proto", 6) == 0))
        return text ? GW_WEB_TEXT : GW_WEB_BINARY;
    if (rest[0] == '+') /* another codec: +json, +thrift */
        return GW_WEB_OTHER;
    return GW_WEB_NONE; /* application/grpc-webfoo is some other type */
}

const char *gw_grpcweb_content_type(gw_web_mode mode)
{
    return mode == GW_WEB_TEXT ? "application/grpc-web-text+proto" : "application/grpc-web+proto";
}

/* Decodes base64 text[len] (the standard alphabet, as gRPC-Web has it)
 * into out: padded pieces one after the other, the last one maybe
 * unpadded.  GW_OK, GW_REFUSED or GW_NOMEM. */
static gw_result decode_text(const char *text, size_t len, gw_buf *out)
{
    if (len && (memchr(text, '-', len) || memchr(text, '_', len)))
        return GW_REFUSED; /* the URL-safe alphabet, which gw_base64_decode takes too */
    size_t start = 0;
    while (start < len) {
        const char *pad = memchr(text + start, '=', len - start);
        size_t data_end = pad ? (size_t)(pad - text) : len, end = data_end;
        while (end < len && text[end] == '=')
            end++;
        if (pad && ((end - start) % 4 != 0 || end - data_end > 2))
            return GW_REFUSED; /* padding that does not end a 4-character group */
        gw_result rc = gw_base64_decode(out, text + start, data_end - start);
        if (rc != GW_OK)
            return rc;
        start = end;
    }
    return out->oom ? GW_NOMEM : GW_OK;
}

static gw_result refuse(int *code, int value, char *err, size_t errlen, const char *why)
{
    *code = value;
    snprintf(err, errlen, "%s", why);
    return GW_REFUSED;
}

/* Splits the frames of wire[len] into out's messages. */
static gw_result read_frames(const uint8_t *wire, size_t len, gw_request_messages *out,
                             int *code, char *err, size_t errlen)
{
    size_t at = 0;
    while (at < len) {
        if (len - at < FRAME_PREFIX)
            return refuse(code, 3, err, errlen,
                          "malformed gRPC-Web body: it ends inside a frame's 5-byte prefix");
        uint8_t flag = wire[at];
        size_t n = (size_t)wire[at + 1] << 24 | (size_t)wire[at + 2] << 16 |
                   (size_t)wire[at + 3] << 8 | wire[at + 4];
        if (flag & FRAME_COMPRESSED)
            return refuse(code, 12, err, errlen,
                          "compressed gRPC-Web messages are not supported (send them with "
                          "no grpc-encoding)");
        if (flag != FRAME_MESSAGE)
            return refuse(code, 3, err, errlen,
                          "malformed gRPC-Web body: a request holds message frames only "
                          "(flag 0x00)");
        if (n > len - at - FRAME_PREFIX)
            return refuse(code, 3, err, errlen,
                          "malformed gRPC-Web body: a frame is longer than the rest of the body");
        gw_buf_append(&out->data, wire + at + FRAME_PREFIX, n);
        if (out->data.oom || gw_request_messages_end(out) < 0)
            return snprintf(err, errlen, "%s", GW_ERR_OOM), GW_NOMEM;
        at += FRAME_PREFIX + n;
    }
    return GW_OK;
}

gw_result gw_grpcweb_read_body(gw_web_mode mode, const uint8_t *body, size_t len,
                               gw_request_messages *out, int *code, char *err, size_t errlen)
{
    if (mode != GW_WEB_TEXT)
        return read_frames(body, len, out, code, err, errlen);
    gw_buf wire = GW_BUF_INIT;
    gw_result rc = decode_text((const char *)body, len, &wire);
    if (rc == GW_REFUSED)
        refuse(code, 3, err, errlen, "malformed gRPC-Web body: the text is not base64");
    else if (rc == GW_NOMEM)
        snprintf(err, errlen, "%s", GW_ERR_OOM);
    else
        rc = read_frames(wire.data, wire.len, out, code, err, errlen);
    gw_buf_free(&wire);
    return rc;
}

/* Appends the frame (flag, payload[len]) in `mode`. */
static void add_frame(gw_web_mode mode, uint8_t flag, const uint8_t *payload, size_t len,
                      gw_buf *out)
{
    uint8_t prefix[FRAME_PREFIX] = {flag, (uint8_t)(len >> 24), (uint8_t)(len >> 16),
                                    (uint8_t)(len >> 8), (uint8_t)len};
    if (mode != GW_WEB_TEXT) {
        gw_buf_append(out, prefix, sizeof(prefix));
        gw_buf_append(out, payload, len);
        return;
    }
    gw_buf frame = GW_BUF_INIT; /* base64 of the whole frame, so padding ends it only */
    gw_buf_append(&frame, prefix, sizeof(prefix));
    gw_buf_append(&frame, payload, len);
    if (frame.oom)
        out->oom = 1;
    else
        gw_base64_encode(out, frame.data, frame.len);
    gw_buf_free(&frame);
}

void gw_grpcweb_add_message(gw_web_mode mode, const uint8_t *msg, size_t len, gw_buf *out)
{
    add_frame(mode, FRAME_MESSAGE, msg, len, out);
}

void gw_grpcweb_percent_encode(const char *message, gw_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)message; *p; p++) {
        if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
            gw_buf_putc(out, *p);
        } else {
            gw_buf_putc(out, '%');
            gw_buf_putc(out, (uint8_t)hex[*p >> 4]);
            gw_buf_putc(out, (uint8_t)hex[*p & 15]);
        }
    }
    gw_buf_putc(out, '\0');
    if (!out->oom)
        out->len--; /* the NUL ends the text without being part of it */
}

int gw_grpcweb_metadata_ok(const gw_metadata *md)
{
    size_t klen = strlen(md->key);
    if (!rp_metadata_web_reply_key(md->key, klen))
        return 0;
    return rp_metadata_key_binary(md->key, klen) || gw_headers_value_ok(md->value, md->value_len);
}

void gw_grpcweb_add_trailers(gw_web_mode mode, int code, const char *message,
                             const gw_metadata *md, size_t n, gw_buf *out)
{
    gw_buf lines = GW_BUF_INIT;
    gw_buf_printf(&lines, "grpc-status:%d\r\n", code);
    if (message && *message) {
        gw_buf_puts(&lines, "grpc-message:");
        gw_grpcweb_percent_encode(message, &lines);
        gw_buf_puts(&lines, "\r\n");
    }
    for (size_t i = 0; i < n; i++) {
        if (!gw_grpcweb_metadata_ok(&md[i]))
            continue;
        gw_buf_puts(&lines, md[i].key);
        gw_buf_putc(&lines, ':');
        if (rp_metadata_key_binary(md[i].key, strlen(md[i].key)))
            gw_base64_encode(&lines, (const uint8_t *)md[i].value, md[i].value_len);
        else
            gw_buf_append(&lines, md[i].value, md[i].value_len);
        gw_buf_puts(&lines, "\r\n");
    }
    if (lines.oom)
        out->oom = 1;
    else
        add_frame(mode, FRAME_TRAILERS, lines.data, lines.len, out);
    gw_buf_free(&lines);
}
