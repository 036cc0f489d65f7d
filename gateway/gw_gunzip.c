/*
 * gw_gunzip.c -- a gzip request body inflated piece by piece (gw_gunzip.h).
 */
#include "gw_gunzip.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* gzip only (16), with the 32 KiB window gzip's encoders may use (15) */
#define GUNZIP_WINDOW_BITS (15 + 16)
/* at most this much output room is added at a time: a body that stops
 * early takes no more than it inflated to */
#define GUNZIP_STEP (64 * 1024)

struct gw_gunzip {
    z_stream z;
    size_t in_total;       /* compressed bytes given so far */
    int started;           /* a member began and has not ended */
    int members;           /* members that ended */
    gw_gunzip_status done; /* once not OK, what every later call returns */
    const char *error;
};

gw_coding gw_gunzip_coding(const char *ce)
{
    int gzip = 0;
    while (ce && *ce) {
        size_t skip = strspn(ce, " \t,"), len = strcspn(ce + skip, " \t,");
        const char *name = ce + skip;
        ce += skip + len;
        if (!len || (len == 8 && strncasecmp(name, "identity", 8) == 0))
            continue;
        if (((len == 4 && strncasecmp(name, "gzip", 4) == 0) ||
             (len == 6 && strncasecmp(name, "x-gzip", 6) == 0)) && !gzip)
            gzip = 1;
        else
            return GW_CODING_OTHER;
    }
    return gzip ? GW_CODING_GZIP : GW_CODING_NONE;
}

gw_gunzip *gw_gunzip_new(void)
{
    gw_gunzip *g = calloc(1, sizeof(*g));
    if (g && inflateInit2(&g->z, GUNZIP_WINDOW_BITS) != Z_OK) {
        free(g);
        g = NULL;
    }
    return g;
}

static gw_gunzip_status fail(gw_gunzip *g, gw_gunzip_status status, const char *error)
{
    g->done = status;
    g->error = error;
    return status;
}

/* Inflates what z holds as input onto out; the same results as
 * gw_gunzip_piece. */
static gw_gunzip_status inflate_input(gw_gunzip *g, gw_buf *out, size_t limit)
{
    while (g->z.avail_in > 0) {
        if (!g->started) { /* a member begins: the first, or one more after another */
            if (g->members && inflateReset(&g->z) != Z_OK)
                return fail(g, GW_GUNZIP_NOMEM, NULL);
            g->started = 1;
        }
        /* one byte of room past the limit tells a body at the limit from
         * one over it */
        size_t want = limit - out->len + 1;
        if (want > GUNZIP_STEP)
            want = GUNZIP_STEP;
        if (gw_buf_reserve(out, want) < 0)
            return fail(g, GW_GUNZIP_NOMEM, NULL);
        size_t room = out->cap - out->len < want ? out->cap - out->len : want;
        g->z.next_out = out->data + out->len;
        g->z.avail_out = (uInt)room;
        int rc = inflate(&g->z, Z_NO_FLUSH);
        out->len += room - g->z.avail_out;
        if (out->len > limit)
            return fail(g, GW_GUNZIP_TOO_LARGE, NULL);
        if (rc == Z_STREAM_END) {
            g->started = 0;
            g->members++;
        } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
            return fail(g, GW_GUNZIP_MALFORMED,
                        g->z.msg ? g->z.msg : "the body is not gzip data");
        } else if (rc == Z_MEM_ERROR) {
            return fail(g, GW_GUNZIP_NOMEM, NULL);
        } else if (rc != Z_OK && g->z.avail_out > 0) { /* no progress, room left */
            return fail(g, GW_GUNZIP_MALFORMED, "the body is not gzip data");
        }
    }
    return GW_GUNZIP_OK;
}

gw_gunzip_status gw_gunzip_piece(gw_gunzip *g, const void *in, size_t n, gw_buf *out,
                                 size_t limit)
{
    if (g->done != GW_GUNZIP_OK)
        return g->done;
    if (out->oom)
        return fail(g, GW_GUNZIP_NOMEM, NULL);
    if (n > limit - (g->in_total < limit ? g->in_total : limit) || out->len > limit)
        return fail(g, GW_GUNZIP_TOO_LARGE, NULL);
    g->in_total += n;
    const uint8_t *p = in;
    while (n > 0) { /* zlib counts input in uInt */
        size_t take = n > UINT_MAX ? UINT_MAX : n;
        g->z.next_in = (Bytef *)(uintptr_t)p;
        g->z.avail_in = (uInt)take;
        gw_gunzip_status s = inflate_input(g, out, limit);
        if (s != GW_GUNZIP_OK)
            return s;
        p += take;
        n -= take;
    }
    return GW_GUNZIP_OK;
}

gw_gunzip_status gw_gunzip_end(gw_gunzip *g)
{
    if (g->done != GW_GUNZIP_OK)
        return g->done;
    if (g->started || !g->members)
        return fail(g, GW_GUNZIP_MALFORMED, "the gzip data is cut short");
    return GW_GUNZIP_OK;
}

const char *gw_gunzip_error(const gw_gunzip *g)
{
    return g->error ? g->error : "";
}

void gw_gunzip_free(gw_gunzip *g)
{
    if (!g)
        return;
    inflateEnd(&g->z);
    free(g);
}
