/*
 * rp_utf8.c -- UTF-8 validation (see rp_utf8.h).
 */
#include "rp_utf8.h"

size_t rp_utf8_char(const uint8_t *s, size_t n, size_t *bad)
{
    uint8_t c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        lo = c == 0xE0 ? 0xA0 : lo; /* no overlong forms */
        hi = c == 0xED ? 0x9F : hi; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        lo = c == 0xF0 ? 0x90 : lo;
        hi = c == 0xF4 ? 0x8F : hi; /* nothing past U+10FFFF */
    } else {
        *bad = 1;
        return 0;
    }
    size_t i = 1;
    if (n > 1 && s[1] >= lo && s[1] <= hi) {
        for (i = 2; i < need && i < n && s[i] >= 0x80 && s[i] <= 0xBF; i++)
            ;
    }
    if (i == need)
        return need;
    *bad = i;
    return 0;
}

int rp_utf8_valid(const uint8_t *s, size_t len)
{
    size_t bad;
    for (size_t i = 0, n; i < len; i += n)
        if (!(n = rp_utf8_char(s + i, len - i, &bad)))
            return 0;
    return 1;
}
