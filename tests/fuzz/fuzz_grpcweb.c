/*
 * fuzz_grpcweb.c -- libFuzzer target: gRPC-Web bodies and the answer's
 * frames (gateway/gw_grpcweb.c).
 *
 * Input: one byte of choices, then BYTES.  BYTES is read as a request body
 * in binary and in text mode; what binary mode takes must frame back to
 * exactly BYTES, and text mode must take the base64 of BYTES as binary
 * mode took BYTES.  BYTES is also the Content-Type asked about, a status
 * message percent-encoded (it must decode back to itself) and the value
 * of trailing metadata in a trailer frame (which must be one whole frame).
 */
#include "../../gateway/gw_base64.h"
#include "../../gateway/gw_grpcweb.h"
#include "fuzz_common.h"

/* The messages of body[len] read in mode, or -1 if it is refused. */
static long read_body(gw_web_mode mode, const uint8_t *body, size_t len,
                      gw_request_messages *out)
{
    int code = -1;
    char err[256];
    gw_result rc = gw_grpcweb_read_body(mode, body, len, out, &code, err, sizeof(err));
    if (rc == GW_NOMEM)
        abort();
    if (rc == GW_REFUSED && (code != 3 && code != 12))
        abort();
    return rc == GW_OK ? (long)out->n : -1;
}

static void check_body(const uint8_t *data, size_t size)
{
    gw_request_messages bin = GW_REQUEST_MESSAGES_INIT, text = GW_REQUEST_MESSAGES_INIT;
    long n = read_body(GW_WEB_BINARY, data, size, &bin);
    if (n >= 0) { /* the messages frame back to the body */
        gw_buf again = GW_BUF_INIT;
        const uint8_t *all = bin.data.data ? bin.data.data : (const uint8_t *)""; /* all empty */
        for (size_t i = 0; i < bin.n; i++) {
            size_t start = i ? bin.ends[i - 1] : 0;
            gw_grpcweb_add_message(GW_WEB_BINARY, all + start, bin.ends[i] - start, &again);
        }
        if (again.len != size || (size && memcmp(again.data, data, size) != 0))
            abort();
        gw_buf_free(&again);
    }
    gw_buf b64 = GW_BUF_INIT;
    gw_base64_encode(&b64, data, size);
    if (read_body(GW_WEB_TEXT, b64.data, b64.len, &text) != n)
        abort();
    if (n > 0 && (text.data.len != bin.data.len ||
                  (bin.data.len && memcmp(text.data.data, bin.data.data, bin.data.len) != 0)))
        abort();
    gw_request_messages_free(&text);
    read_body(GW_WEB_TEXT, data, size, &text); /* the bytes as text: anything but a crash */
    gw_buf_free(&b64);
    gw_request_messages_free(&bin);
    gw_request_messages_free(&text);
}

/* message (NUL-terminated) percent-encoded decodes back to itself. */
static void check_percent(const char *message)
{
    gw_buf enc = GW_BUF_INIT;
    gw_grpcweb_percent_encode(message, &enc);
    size_t j = 0;
    for (size_t i = 0; i < enc.len; i++, j++) {
        char c = (char)enc.data[i];
        if (c < 0x20 || c > 0x7e)
            abort();
        if (c == '%') {
            if (i + 2 >= enc.len)
                abort();
            int hi = gw_hex_digit((char)enc.data[i + 1]), lo = gw_hex_digit((char)enc.data[i + 2]);
            if (hi < 0 || lo < 0)
                abort();
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (c != message[j])
            abort();
    }
    if (message[j] != '\0')
        abort();
    gw_buf_free(&enc);
}

/* A trailer frame is one whole frame of flag 0x80. */
static void check_trailers(gw_web_mode mode, const char *message, const char *value, size_t len)
{
    gw_metadata md[] = {{"x-fuzz", (char *)value, len}, {"x-fuzz-bin", (char *)value, len}};
    gw_buf out = GW_BUF_INIT;
    gw_grpcweb_add_trailers(mode, 13, message, md, 2, &out);
    gw_buf wire = GW_BUF_INIT;
    if (mode == GW_WEB_TEXT && gw_base64_decode(&wire, (const char *)out.data, out.len) != GW_OK)
        abort();
    const gw_buf *f = mode == GW_WEB_TEXT ? &wire : &out;
    if (f->len < 5 || f->data[0] != 0x80)
        abort();
    size_t n = (size_t)f->data[1] << 24 | (size_t)f->data[2] << 16 | (size_t)f->data[3] << 8 |
               f->data[4];
    if (n != f->len - 5 || memchr(f->data + 5, '\0', n))
        abort();
    gw_buf_free(&wire);
    gw_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    uint8_t choice = fuzz_byte(&in);
    size_t len;
    char *rest = fuzz_rest(&in, &len);
    check_body((const uint8_t *)rest, len);
    gw_grpcweb_mode(rest);
    check_percent(rest);
    check_trailers(choice & 1 ? GW_WEB_TEXT : GW_WEB_BINARY, rest, rest, len);
    free(rest);
    return 0;
}
