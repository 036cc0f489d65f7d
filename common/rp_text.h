/*
 * rp_text.h -- a growing NUL-terminated text buffer: what rpcrestd's
 * control replies and the Prometheus exposition are written into.  A
 * zeroed rp_text is empty; after a failed allocation `oom` is set and
 * further text is dropped, so callers check once, at the end.
 *
 * Also how text from outside (paths, names) becomes a JSON string, here
 * and in the gateway's access log lines (rp_json_escape).
 */
#ifndef RP_TEXT_H
#define RP_TEXT_H

#include <stddef.h>

typedef struct rp_text {
    char *s;      /* NULL until something is written; NUL-terminated after */
    size_t len, cap;
    int oom;
} rp_text;

void rp_text_printf(rp_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rp_text_puts(rp_text *t, const char *s);
/* Makes room for `more` bytes (and the NUL).  0, or -1 (oom set). */
int rp_text_reserve(rp_text *t, size_t more);
void rp_text_free(rp_text *t);

/*
 * The NUL-terminated s as the inside of a JSON string (no quotes), into
 * out[0..room): UTF-8 characters as they are, but '"' and '\\' after a
 * backslash, and control characters (U+0001-U+001F, U+007F, U+0080-U+009F,
 * which a terminal may act on) as \u00XX; each maximal part of a character
 * that is not UTF-8 (rp_utf8.h: a stray byte, an overlong form, a
 * surrogate) is \ufffd, the replacement character, written as that escape
 * so that the raw line tells it from a U+FFFD that was sent.  Writes whole
 * characters and escapes only, stopping before the first that does not fit.
 * Returns the bytes written (at most 6 per byte of s); *taken is how many
 * bytes of s they stand for: s[*taken] is the NUL when all of s is in.
 */
size_t rp_json_escape(char *out, size_t room, const char *s, size_t *taken);

/* s as a JSON string, quotes included (rp_json_escape). */
void rp_text_json_string(rp_text *t, const char *s);

#endif /* RP_TEXT_H */
