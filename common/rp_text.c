/*
 * rp_text.c -- the growing text buffer, and JSON strings; see rp_text.h.
 */
#include "rp_text.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_utf8.h"

int rp_text_reserve(rp_text *t, size_t more)
{
    if (t->oom)
        return -1;
    if (t->len + more + 1 <= t->cap)
        return 0;
    size_t cap = t->cap ? t->cap : 1024;
    while (cap < t->len + more + 1)
        cap *= 2;
    char *grown = realloc(t->s, cap);
    if (!grown) {
        t->oom = 1;
        return -1;
    }
    t->s = grown;
    t->cap = cap;
    return 0;
}

void rp_text_printf(rp_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->oom = 1;
        return;
    }
    if (rp_text_reserve(t, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

void rp_text_puts(rp_text *t, const char *s)
{
    size_t n = strlen(s);
    if (rp_text_reserve(t, n) < 0)
        return;
    memcpy(t->s + t->len, s, n + 1);
    t->len += n;
}

void rp_text_free(rp_text *t)
{
    free(t->s);
    memset(t, 0, sizeof(*t));
}

/* ---- JSON strings ------------------------------------------------------------ */

#define ESCAPE_MAX 6 /* the most one byte of input becomes: \u001f, \ufffd */

/* A byte a JSON string holds as it is, and that needs no look further. */
static int plain_ascii(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* \u00XX for the code point c (< 0x100) into esc; returns 6. */
static size_t unicode_escape(char *esc, unsigned c)
{
    static const char hex[] = "0123456789abcdef";
    memcpy(esc, "\\u00", 4);
    esc[4] = hex[c >> 4];
    esc[5] = hex[c & 15];
    return 6;
}

/* What the character or stray part at p (not plain ASCII, not the NUL)
 * becomes: *out points at it (esc, or p itself), its length is returned,
 * *used is the bytes of p it stands for. */
static size_t escape_one(const unsigned char *p, char *esc, const char **out, size_t *used)
{
    size_t bad, n;
    *out = esc;
    *used = 1;
    if (*p == '"' || *p == '\\') {
        esc[0] = '\\';
        esc[1] = (char)*p;
        return 2;
    }
    if (*p < 0x80)
        return unicode_escape(esc, *p);
    /* p is NUL-terminated, and a NUL ends any character: 4 bytes are safe */
    if (!(n = rp_utf8_char(p, 4, &bad))) {
        *used = bad;
        memcpy(esc, "\\ufffd", 6);
        return 6;
    }
    *used = n;
    if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) /* a C1 control */
        return unicode_escape(esc, p[1]);
    *out = (const char *)p;
    return n;
}

size_t rp_json_escape(char *out, size_t room, const char *s, size_t *taken)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 0, i = 0;
    for (;;) {
        size_t run = 0;
        while (run < room - w && plain_ascii(p[i + run]))
            run++;
        memcpy(out + w, p + i, run);
        w += run;
        i += run;
        if (!p[i] || w == room)
            break;
        char esc[ESCAPE_MAX];
        const char *what;
        size_t used, n = escape_one(p + i, esc, &what, &used);
        if (n > room - w)
            break;
        memcpy(out + w, what, n);
        w += n;
        i += used;
    }
    *taken = i;
    return w;
}

void rp_text_json_string(rp_text *t, const char *s)
{
    size_t len = strlen(s), taken;
    if (len > (SIZE_MAX - 2) / ESCAPE_MAX) {
        t->oom = 1;
        return;
    }
    if (rp_text_reserve(t, len * ESCAPE_MAX + 2) < 0)
        return;
    t->s[t->len++] = '"';
    t->len += rp_json_escape(t->s + t->len, len * ESCAPE_MAX, s, &taken);
    t->s[t->len++] = '"';
    t->s[t->len] = '\0';
}
