/*
 * rp_text.c -- the growing text buffer; see rp_text.h.
 */
#include "rp_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
