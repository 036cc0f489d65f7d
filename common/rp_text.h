/*
 * rp_text.h -- a growing NUL-terminated text buffer: what rpcrestd's
 * control replies and the Prometheus exposition are written into.  A
 * zeroed rp_text is empty; after a failed allocation `oom` is set and
 * further text is dropped, so callers check once, at the end.
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

#endif /* RP_TEXT_H */
