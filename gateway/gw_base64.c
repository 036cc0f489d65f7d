/*
 * gw_base64.c -- base64 encoding and lenient decoding.
 */
#include "gw_base64.h"

static const char ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void gw_base64_encode(gw_buf *out, const uint8_t *data, size_t len)
{
    /* nothing to write, and an empty buffer may have no memory yet */
    if (len == 0 || gw_buf_reserve(out, (len + 2) / 3 * 4) < 0)
        return;
    char *w = (char *)out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        *w++ = ALPHABET[v >> 18];
        *w++ = ALPHABET[(v >> 12) & 63];
        *w++ = ALPHABET[(v >> 6) & 63];
        *w++ = ALPHABET[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0);
        *w++ = ALPHABET[v >> 18];
        *w++ = ALPHABET[(v >> 12) & 63];
        *w++ = i + 1 < len ? ALPHABET[(v >> 6) & 63] : '=';
        *w++ = '=';
    }
    out->len = (size_t)((uint8_t *)w - out->data);
}

static int sextet(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

gw_result gw_base64_decode(gw_buf *out, const char *text, size_t len)
{
    while (len > 0 && text[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return GW_REFUSED;
    if (gw_buf_reserve(out, len / 4 * 3 + 3) < 0)
        return GW_NOMEM;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int s = sextet(text[i]);
        if (s < 0)
            return GW_REFUSED;
        acc = acc << 6 | (uint32_t)s;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[out->len++] = (uint8_t)(acc >> bits);
        }
    }
    return GW_OK;
}
