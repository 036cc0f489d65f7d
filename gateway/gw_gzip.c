/*
 * gw_gzip.c -- gzip for answers (gw_gzip.h).
 */
#include "gw_gzip.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* zlib's fastest setting: answers go out at once; the text of JSON
 * shrinks most at any level. */
#define GZIP_LEVEL 1

/* 1 if the parameters after a coding (";q=0", ";q=0.000") refuse it. */
static int q_zero(const char *params, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if ((params[i] == 'q' || params[i] == 'Q') && params[i + 1] == '=') {
            const char *v = params + i + 2;
            size_t n = len - i - 2;
            if (!n || v[0] != '0')
                return 0;
            for (size_t k = 1; k < n; k++)
                if (v[k] != '.' && v[k] != '0' && v[k] != ' ' && v[k] != '\t')
                    return 0;
            return 1;
        }
    }
    return 0;
}

int gw_gzip_accepted(const char *accept)
{
    int named = -1, star = -1; /* gzip (or x-gzip) listed, * listed: taken or not */
    while (accept && *accept) {
        size_t skip = strspn(accept, " \t,");
        accept += skip;
        size_t len = strcspn(accept, ",");
        size_t name = strcspn(accept, ";, \t");
        if (name > len)
            name = len;
        int taken = !q_zero(accept + name, len - name);
        if ((name == 4 && strncasecmp(accept, "gzip", 4) == 0) ||
            (name == 6 && strncasecmp(accept, "x-gzip", 6) == 0))
            named = named > taken ? named : taken;
        else if (name == 1 && accept[0] == '*')
            star = star > taken ? star : taken;
        accept += len;
    }
    /* * stands only for the codings not listed (RFC 9110 12.5.3) */
    return named >= 0 ? named : star > 0;
}

int gw_gzip_worth(const char *type)
{
    return type && (strncasecmp(type, "application/json", 16) == 0 ||
                    strncasecmp(type, "text/", 5) == 0);
}

int gw_gzip_body(gw_buf *body)
{
    if (body->oom || body->len == 0 || body->len > UINT32_MAX)
        return 0;
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    /* no more room than the body takes: what does not fit is not worth it */
    uint8_t *out = malloc(body->len);
    int done = 0;
    if (out) {
        z.next_in = body->data;
        z.avail_in = (uInt)body->len;
        z.next_out = out;
        z.avail_out = (uInt)body->len;
        done = deflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out < body->len;
    }
    size_t len = z.total_out;
    deflateEnd(&z);
    if (!done) {
        free(out);
        return 0;
    }
    gw_buf_free(body); /* the buffer takes the compressed bytes over */
    body->data = out;
    body->len = len;
    body->cap = body->len;
    return 1;
}

/* A stream's window and memory: 2^11 bytes of history, memLevel 5 (zlib's
 * deflate state is about 2^(11+2) + 2^(5+9) bytes, plus its own record). */
#define STREAM_WINDOW_BITS 11
#define STREAM_MEM_LEVEL 5

struct gw_gzip_stream {
    z_stream z;
    int failed;
};

gw_gzip_stream *gw_gzip_stream_new(void)
{
    gw_gzip_stream *g = calloc(1, sizeof(*g));
    if (g && deflateInit2(&g->z, GZIP_LEVEL, Z_DEFLATED, STREAM_WINDOW_BITS + 16,
                          STREAM_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(g);
        g = NULL;
    }
    return g;
}

int gw_gzip_stream_piece(gw_gzip_stream *g, gw_buf *piece, int last)
{
    if (g->failed || piece->oom || piece->len > UINT32_MAX) {
        piece->oom = 1;
        return -1;
    }
    gw_buf out = GW_BUF_INIT;
    g->z.next_in = piece->data;
    g->z.avail_in = (uInt)piece->len;
    int rc;
    do { /* deflateBound is for a whole input; a flush may need a little more */
        if (gw_buf_reserve(&out, deflateBound(&g->z, g->z.avail_in) + 64) < 0) {
            rc = Z_MEM_ERROR;
            break;
        }
        size_t room = out.cap - out.len;
        g->z.next_out = out.data + out.len;
        g->z.avail_out = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
        rc = deflate(&g->z, last ? Z_FINISH : Z_SYNC_FLUSH);
        out.len = (size_t)(g->z.next_out - out.data);
    } while (rc == Z_OK && (g->z.avail_out == 0 || (last && rc != Z_STREAM_END)));
    if (rc != (last ? Z_STREAM_END : Z_OK) && !(rc == Z_BUF_ERROR && !last)) {
        gw_buf_free(&out);
        g->failed = 1;
        piece->oom = 1;
        return -1;
    }
    gw_buf_free(piece);
    *piece = out;
    return 0;
}

void gw_gzip_stream_free(gw_gzip_stream *g)
{
    if (!g)
        return;
    deflateEnd(&g->z);
    free(g);
}
