/*
 * gw_cors.c -- CORS answers (gw_cors.h).
 */
#include "gw_cors.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gw_buf.h"
#include "gw_headers.h"

const char *gw_cors_allow_origin(const gw_cors *c, const char *origin)
{
    if (!origin || !*origin)
        return NULL;
    if (c->any)
        return "*";
    for (size_t i = 0; i < c->n_origins; i++)
        if (strcmp(c->origins[i], origin) == 0) /* scheme and host as browsers send them */
            return origin;
    return NULL;
}

/* Response fields a script reads without Expose-Headers (the Fetch
 * standard's CORS-safelisted response headers), and those that say
 * nothing of the call. */
static int exposed_anyway(const char *name)
{
    static const char *const names[] = {
        "Cache-Control", "Content-Language", "Content-Length", "Content-Type", "Expires",
        "Last-Modified", "Pragma", "Connection", "Date", "Vary", "Allow",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i]) == 0)
            return 1;
    return strncasecmp(name, "Access-Control-", 15) == 0;
}

/* 1 if `name` is one of the ", "-separated names of list (NULL: none). */
static int listed(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; p && *p; p += strspn(p, ", ")) {
        size_t n = strcspn(p, ", ");
        if (n == len && strncasecmp(p, name, len) == 0)
            return 1;
        p += n;
    }
    return 0;
}

typedef struct exposed_list {
    gw_buf names;
    const char *also; /* named first, whatever the answer holds */
} exposed_list;

static enum MHD_Result collect_exposed(void *cls, enum MHD_ValueKind kind, const char *name,
                                       const char *value)
{
    exposed_list *exposed = cls;
    gw_buf *list = &exposed->names;
    (void)value;
    if (kind == MHD_HEADER_KIND && !exposed_anyway(name) && !listed(exposed->also, name)) {
        if (list->len)
            gw_buf_puts(list, ", ");
        gw_buf_puts(list, name);
    }
    return MHD_YES;
}

void gw_cors_add_headers(const gw_cors *c, const char *allow_origin, struct MHD_Response *resp,
                         const char *also)
{
    if (!c->any)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Origin");
    if (!allow_origin)
        return;
    exposed_list exposed = {GW_BUF_INIT, also};
    if (also)
        gw_buf_puts(&exposed.names, also);
    MHD_get_response_headers(resp, collect_exposed, &exposed);
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", allow_origin);
    if (c->credentials)
        MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
    gw_buf_putc(&exposed.names, '\0');
    if (!exposed.names.oom && exposed.names.len > 1)
        MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                                (const char *)exposed.names.data);
    gw_buf_free(&exposed.names);
}

/* 1 if s is a list of field names: tokens separated by commas and blanks. */
static int field_name_list(const char *s)
{
    size_t len = strlen(s), tokens = 0;
    for (size_t i = 0; i < len;) {
        size_t blank = strspn(s + i, ", \t");
        i += blank;
        size_t n = strcspn(s + i, ", \t");
        if (n && !gw_headers_token_ok(s + i, n))
            return 0;
        tokens += n > 0;
        i += n;
    }
    return tokens > 0;
}

void gw_cors_add_preflight(const gw_cors *c, struct MHD_Response *resp, const char *methods,
                           const char *requested)
{
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", methods);
    if (requested && field_name_list(requested))
        MHD_add_response_header(resp, "Access-Control-Allow-Headers", requested);
    char age[16];
    snprintf(age, sizeof(age), "%d", c->max_age_s);
    MHD_add_response_header(resp, "Access-Control-Max-Age", age);
}
