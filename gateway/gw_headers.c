/*
 * gw_headers.c -- request headers to gRPC metadata and back.
 */
#include "gw_headers.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>

#include "gw_base64.h"
#include "rp_metadata.h"

#define METADATA_PREFIX "grpc-metadata-"
#define PERMANENT_PREFIX "grpcgateway-"
#define MAX_GRPC_TIMEOUT_DIGITS 8

/* gRPC allows [0-9a-z-_.] in keys and printable ASCII in text values. */
size_t gw_headers_value_len(const char *value)
{
    size_t len = strlen(value);
    while (len && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    return len;
}

/* 1 if gRPC can carry value as text metadata. */
static int text_ok(const char *value)
{
    return rp_metadata_text_valid(value, gw_headers_value_len(value));
}

static int valid_metadata(const char *key, const char *value, size_t vlen, int binary)
{
    return rp_metadata_key_valid(key, strlen(key)) &&
           (binary || rp_metadata_text_valid(value, vlen));
}

static int is_bin_key(const char *key, size_t len);

static gw_result out_of_memory(char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", GW_ERR_OOM);
    return GW_NOMEM;
}

/* Appends (prefix + lower-cased name, value) in out's arena; -bin values
 * are base64-decoded.  Blanks at the end of value are not part of it
 * (RFC 9110 5.5; libmicrohttpd keeps them). */
static gw_result add(gw_metadata_list *out, const char *prefix, const char *name,
                     const char *value, char *err, size_t errlen)
{
    if (out->n == out->cap) { /* the old array stays in the arena until the request ends */
        size_t cap = out->cap ? out->cap * 2 : 8;
        gw_metadata *grown = gw_arena_alloc(out->arena, cap * sizeof(*grown));
        if (!grown)
            return out_of_memory(err, errlen);
        if (out->n)
            memcpy(grown, out->items, out->n * sizeof(*grown));
        out->items = grown;
        out->cap = cap;
    }
    size_t plen = strlen(prefix), nlen = strlen(name), klen = plen + nlen;
    char *key = gw_arena_alloc(out->arena, klen + 1);
    if (!key)
        return out_of_memory(err, errlen);
    memcpy(key, prefix, plen);
    for (size_t i = 0; i <= nlen; i++)
        key[plen + i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    int binary = klen > 4 && strcmp(key + klen - 4, "-bin") == 0;
    size_t vlen = gw_headers_value_len(value);
    if (!valid_metadata(key, value, vlen, binary)) {
        snprintf(err, errlen, "header %s cannot be sent as gRPC metadata (key characters "
                              "[0-9a-z-_.], printable ASCII values)", name);
        return GW_REFUSED;
    }
    char *copy;
    if (binary) {
        gw_buf v = GW_BUF_INIT;
        gw_result decoded = gw_base64_decode(&v, value, vlen);
        if (decoded != GW_OK) {
            gw_buf_free(&v);
            return snprintf(err, errlen, "header %s: %s", name,
                            decoded == GW_NOMEM ? GW_ERR_OOM : "not base64"), decoded;
        }
        vlen = v.len;
        copy = v.oom ? NULL : gw_arena_strndup(out->arena, v.data ? (char *)v.data : "", vlen);
        gw_buf_free(&v);
    } else {
        copy = gw_arena_strndup(out->arena, value, vlen);
    }
    if (!copy)
        return out_of_memory(err, errlen);
    out->items[out->n++] = (gw_metadata){key, copy, vlen};
    return GW_OK;
}

int64_t gw_headers_parse_grpc_timeout(const char *text)
{
    size_t n = 0;
    int64_t v = 0;
    while (text[n] >= '0' && text[n] <= '9') {
        v = v * 10 + (text[n] - '0');
        if (++n > MAX_GRPC_TIMEOUT_DIGITS)
            return -1;
    }
    if (n == 0 || text[n] == '\0' || text[n + 1 + strspn(text + n + 1, " \t")] != '\0')
        return -1; /* trailing blanks are the header's whitespace (libmicrohttpd keeps them) */
    switch (text[n]) {
    case 'H': return v * 3600 * 1000;
    case 'M': return v * 60 * 1000;
    case 'S': return v * 1000;
    case 'm': return v;
    case 'u': return (v + 999) / 1000;
    case 'n': return (v + 999999) / 1000000;
    default: return -1;
    }
}

/* The request headers X-Forwarded-For builds on. */
typedef struct forwarded {
    const char *host, *x_host, *x_for;
} forwarded;

/* X-Forwarded-Host as the client sent it, else from Host; X-Forwarded-For
 * extended with the peer. */
static gw_result add_forwarded(const forwarded *f, const char *peer, gw_metadata_list *out,
                               char *err, size_t errlen)
{
    const char *host = f->x_host && text_ok(f->x_host)
                           ? f->x_host
                           : f->host; /* one gRPC cannot carry is left out */
    gw_result rc = host ? add(out, "", "x-forwarded-host", host, err, errlen) : GW_OK;
    if (rc != GW_OK || !peer)
        return rc;
    if (!f->x_for || !text_ok(f->x_for))
        return add(out, "", "x-forwarded-for", peer, err, errlen); /* the hop it saw */
    /* the client's list and then its peer, whole: a list cut short would
     * lose the hop that the gateway itself saw (in the request's arena) */
    size_t x_len = gw_headers_value_len(f->x_for), len = x_len + 2 + strlen(peer) + 1;
    char *value = gw_arena_alloc(out->arena, len);
    if (!value)
        return out_of_memory(err, errlen);
    snprintf(value, len, "%.*s, %s", (int)x_len, f->x_for, peer);
    return add(out, "", "x-forwarded-for", value, err, errlen);
}

const char *gw_header_names_find(const gw_header_names *names, const char *name, size_t len)
{
    for (size_t i = 0; names && i < names->n; i++)
        if (strlen(names->names[i]) == len && strncasecmp(names->names[i], name, len) == 0)
            return names->names[i];
    return NULL;
}

/* The headers both mappings read alike: Grpc-Timeout into *timeout_ms
 * (a zero: no deadline asked, as grpc-gateway reads it, or, `zero_expires`,
 * one passed already, as gRPC reads it: *timeout_ms 0), X-Forwarded-Host
 * and X-Forwarded-For (the first of each) into f.  1 if name[len] is one
 * of them, with *rc GW_REFUSED and err set for a malformed Grpc-Timeout;
 * else 0. */
static int take_shared(const char *name, size_t len, const char *value, int zero_expires,
                       forwarded *f, int64_t *timeout_ms, gw_result *rc, char *err,
                       size_t errlen)
{
    if (len == 12 && strcasecmp(name, "grpc-timeout") == 0) {
        int64_t ms = gw_headers_parse_grpc_timeout(value);
        if (ms < 0) {
            snprintf(err, errlen, "Grpc-Timeout '%.40s' is not a gRPC timeout (e.g. 500m, 10S)",
                     value);
            *rc = GW_REFUSED;
        } else if (ms > 0 || zero_expires) {
            *timeout_ms = ms;
        }
    } else if (len == 16 && strcasecmp(name, "x-forwarded-host") == 0) {
        f->x_host = f->x_host ? f->x_host : value;
    } else if (len == 15 && strcasecmp(name, "x-forwarded-for") == 0) {
        f->x_for = f->x_for ? f->x_for : value;
    } else {
        return 0;
    }
    return 1;
}

gw_result gw_headers_to_metadata(const gw_header *headers, size_t n, const char *peer,
                                 const gw_header_names *fwd, gw_metadata_list *out,
                                 int64_t *timeout_ms, char *err, size_t errlen)
{
    const size_t prefix_len = strlen(METADATA_PREFIX);
    forwarded f = {0};
    for (size_t i = 0; i < n; i++) {
        const char *name = headers[i].name, *value = headers[i].value;
        size_t len = strlen(name);
        gw_result rc = GW_OK;
        if (take_shared(name, len, value, 0, &f, timeout_ms, &rc, err, errlen)) {
            /* read */
        } else if (len >= prefix_len && strncasecmp(name, METADATA_PREFIX, prefix_len) == 0) {
            const char *key = name + prefix_len;
            if (rp_metadata_transport_key(key, len - prefix_len)) {
                snprintf(err, errlen, "header %s cannot be sent as gRPC metadata: "
                                      "HTTP/2 or the gRPC transport sets it", name);
                return GW_REFUSED;
            }
            /* x-request-id: gw_http.c sends the request's id, which this
             * header gave when there was no valid X-Request-Id */
            if (strcasecmp(key, "x-request-id") != 0)
                rc = add(out, "", key, value, err, errlen);
        } else if (rp_metadata_permanent_header(name, len)) {
            /* a standard header gRPC cannot carry (a cookie in UTF-8, a tab
             * in User-Agent) is left out, as grpc-gateway leaves it out:
             * the client did not ask for it to be sent; Authorization
             * still fails the request (400) rather than vanish */
            int is_auth = len == 13 && strcasecmp(name, "authorization") == 0;
            if (!is_auth && !text_ok(value))
                continue;
            rc = add(out, PERMANENT_PREFIX, name, value, err, errlen);
            if (rc == GW_OK && is_auth)
                rc = add(out, "", "authorization", value, err, errlen);
            if (len == 4 && strcasecmp(name, "host") == 0 && !f.host)
                f.host = value;
        } else if (gw_header_names_find(fwd, name, len)) { /* names checked by rp_config */
            rc = add(out, "", name, value, err, errlen);
        }
        if (rc != GW_OK)
            return rc;
    }
    return add_forwarded(&f, peer, out, err, errlen);
}

gw_result gw_headers_web_to_metadata(const gw_header *headers, size_t n, const char *peer,
                                     gw_metadata_list *out, int64_t *timeout_ms, char *err,
                                     size_t errlen)
{
    forwarded f = {0};
    for (size_t i = 0; i < n; i++) {
        const char *name = headers[i].name, *value = headers[i].value;
        size_t len = strlen(name);
        gw_result rc = GW_OK;
        if (take_shared(name, len, value, 1, &f, timeout_ms, &rc, err, errlen)) {
            /* read */
        } else if (len == 4 && strcasecmp(name, "host") == 0) {
            f.host = f.host ? f.host : value;
        } else if (rp_metadata_web_request_key(name, len)) {
            /* a value gRPC cannot carry is left out, as a browser's own
             * headers may hold anything; a -bin one that is not base64
             * was meant as metadata, and fails the call */
            if (is_bin_key(name, len) || text_ok(value))
                rc = add(out, "", name, value, err, errlen);
        }
        if (rc != GW_OK)
            return rc;
    }
    return add_forwarded(&f, peer, out, err, errlen);
}

gw_result gw_metadata_list_add(gw_metadata_list *list, const char *key, const char *value,
                               char *err, size_t errlen)
{
    return add(list, "", key, value, err, errlen);
}

static int is_bin_key(const char *key, size_t len)
{
    return len > 4 && strcmp(key + len - 4, "-bin") == 0;
}

/* RFC 9110's tchar */
static int is_token_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

int gw_headers_token_ok(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_token_char((unsigned char)s[i]))
            return 0;
    return 1;
}

int gw_headers_value_ok(const char *value, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)value[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return 0;
    }
    return 1;
}

int gw_headers_from_metadata(gw_arena *arena, const char *prefix, const gw_metadata *md,
                             char **name, char **value)
{
    size_t plen = strlen(prefix), klen = strlen(md->key);
    if (!gw_headers_token_ok(md->key, klen))
        return 1;
    if (!is_bin_key(md->key, klen) && !gw_headers_value_ok(md->value, md->value_len))
        return 1;
    *name = gw_arena_alloc(arena, plen + klen + 1);
    if (!*name)
        return -1;
    memcpy(*name, prefix, plen);
    memcpy(*name + plen, md->key, klen + 1);
    if (!is_bin_key(md->key, klen)) {
        *value = gw_arena_strndup(arena, md->value, md->value_len);
        return *value ? 0 : -1;
    }
    gw_buf encoded = GW_BUF_INIT;
    gw_base64_encode(&encoded, (const uint8_t *)md->value, md->value_len);
    *value = encoded.oom ? NULL
                         : gw_arena_strndup(arena, encoded.data ? (char *)encoded.data : "",
                                            encoded.len);
    gw_buf_free(&encoded);
    return *value ? 0 : -1;
}

size_t gw_headers_metadata_names_size(const char *prefix, const gw_metadata *md, size_t n)
{
    size_t bytes = 0, plen = strlen(prefix);
    for (size_t i = 0; i < n; i++)
        bytes += plen + strlen(md[i].key) + 2;
    return bytes;
}

size_t gw_headers_metadata_size(const char *prefix, const gw_metadata *md, size_t n)
{
    size_t bytes = 0, plen = strlen(prefix);
    for (size_t i = 0; i < n; i++) {
        size_t klen = strlen(md[i].key), vlen = md[i].value_len;
        if (is_bin_key(md[i].key, klen))
            vlen = (vlen + 2) / 3 * 4; /* base64 */
        bytes += plen + klen + 2 + vlen + 2;
    }
    return bytes;
}
