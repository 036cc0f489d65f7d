/*
 * gw_route.c -- path template compilation and matching, and the route table
 * built from every method's HTTP bindings.
 */
#include "gw_route.h"

#include "gw_httpbody.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- template parsing --------------------------------------------------------- */

typedef struct parser {
    const char *p;
    const char *end; /* where the segments end: the verb's ':' or the NUL */
    gw_template *t;
    char *err;
    size_t errlen;
} parser;

static int perr(parser *ps, const char *what)
{
    snprintf(ps->err, ps->errlen, "%s at '%s'", what, ps->p);
    return -1;
}

static int add_segment(parser *ps, gw_seg_kind kind, const char *lit, size_t len)
{
    gw_template *t = ps->t;
    gw_segment *grown = realloc(t->segs, (t->n_segs + 1) * sizeof(*grown));
    if (!grown)
        return perr(ps, "out of memory");
    t->segs = grown;
    gw_segment *s = &t->segs[t->n_segs];
    s->kind = kind;
    s->literal = NULL;
    if (kind == GW_SEG_LITERAL && !(s->literal = strndup(lit, len)))
        return perr(ps, "out of memory");
    t->n_segs++;
    return 0;
}

static int at_literal_char(const parser *ps)
{
    char c = *ps->p;
    return ps->p < ps->end && c != '/' && c != '{' && c != '}' && c != '*' && c != '=' &&
           c != '?' && c != '#';
}

/* Segment = "*" | "**" | LITERAL  (variables are handled by the caller) */
static int parse_plain_segment(parser *ps)
{
    if (ps->p[0] == '*' && ps->p[1] == '*') {
        ps->p += 2;
        return add_segment(ps, GW_SEG_STARSTAR, NULL, 0);
    }
    if (ps->p[0] == '*') {
        ps->p++;
        return add_segment(ps, GW_SEG_STAR, NULL, 0);
    }
    const char *start = ps->p;
    while (at_literal_char(ps))
        ps->p++;
    if (ps->p == start)
        return perr(ps, "expected a path segment");
    return add_segment(ps, GW_SEG_LITERAL, start, (size_t)(ps->p - start));
}

static int parse_field_path(parser *ps, char **out)
{
    const char *start = ps->p;
    for (;;) {
        if (!((*ps->p >= 'a' && *ps->p <= 'z') || (*ps->p >= 'A' && *ps->p <= 'Z') ||
              *ps->p == '_'))
            return perr(ps, "expected a field name");
        while ((*ps->p >= 'a' && *ps->p <= 'z') || (*ps->p >= 'A' && *ps->p <= 'Z') ||
               (*ps->p >= '0' && *ps->p <= '9') || *ps->p == '_')
            ps->p++;
        if (*ps->p != '.')
            break;
        ps->p++;
    }
    if (!(*out = strndup(start, (size_t)(ps->p - start))))
        return perr(ps, "out of memory");
    return 0;
}

/* Variable = "{" FieldPath [ "=" Segments ] "}" */
static int parse_variable(parser *ps)
{
    gw_template *t = ps->t;
    ps->p++; /* '{' */
    gw_template_var var = {NULL, t->n_segs, 0};
    if (parse_field_path(ps, &var.field_path) < 0)
        return -1;
    int rc = 0;
    if (*ps->p == '=') {
        ps->p++;
        do {
            if (*ps->p == '/')
                ps->p++;
            if (*ps->p == '{')
                rc = perr(ps, "variables cannot nest");
            else
                rc = parse_plain_segment(ps);
        } while (rc == 0 && *ps->p == '/');
    } else {
        rc = add_segment(ps, GW_SEG_STAR, NULL, 0);
    }
    if (rc == 0 && *ps->p != '}')
        rc = perr(ps, "expected '}'");
    if (rc < 0) {
        free(var.field_path);
        return -1;
    }
    ps->p++;
    var.end = t->n_segs;
    gw_template_var *grown = realloc(t->vars, (t->n_vars + 1) * sizeof(*grown));
    if (!grown) {
        free(var.field_path);
        return perr(ps, "out of memory");
    }
    t->vars = grown;
    t->vars[t->n_vars++] = var;
    return 0;
}

static int check_template(parser *ps)
{
    gw_template *t = ps->t;
    for (size_t i = 0; i + 1 < t->n_segs; i++)
        if (t->segs[i].kind == GW_SEG_STARSTAR) {
            snprintf(ps->err, ps->errlen, "'**' must be the last segment");
            return -1;
        }
    if (t->n_vars > GW_ROUTE_MAX_VARS) {
        snprintf(ps->err, ps->errlen, "more than %d variables", GW_ROUTE_MAX_VARS);
        return -1;
    }
    for (size_t i = 0; i < t->n_vars; i++)
        for (size_t j = i + 1; j < t->n_vars; j++)
            if (strcmp(t->vars[i].field_path, t->vars[j].field_path) == 0) {
                snprintf(ps->err, ps->errlen, "field '%s' is bound twice", t->vars[i].field_path);
                return -1;
            }
    return 0;
}

/* The verb's ':' is the last ':' when nothing but the verb follows it. */
static const char *find_verb(const char *text)
{
    const char *colon = strrchr(text, ':');
    const char *slash = strrchr(text, '/');
    const char *brace = strrchr(text, '}');
    if (!colon || (slash && slash > colon) || (brace && brace > colon))
        return NULL;
    return colon;
}

int gw_template_parse(const char *text, gw_template *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    const char *verb = find_verb(text);
    parser ps = {text, verb ? verb : text + strlen(text), t, err, errlen};
    if (*ps.p != '/') {
        snprintf(err, errlen, "a path template starts with '/'");
        return -1;
    }
    int rc = 0;
    while (rc == 0 && ps.p < ps.end && *ps.p == '/') {
        ps.p++;
        if (ps.p == ps.end && t->n_segs == 0) { /* "/": the root, one empty segment */
            rc = add_segment(&ps, GW_SEG_LITERAL, "", 0);
            break;
        }
        rc = *ps.p == '{' ? parse_variable(&ps) : parse_plain_segment(&ps);
    }
    if (rc == 0 && ps.p != ps.end)
        rc = perr(&ps, "unexpected character");
    if (rc == 0 && verb) {
        const char *v = verb + 1;
        if (!*v || strpbrk(v, "{}*=?#"))
            rc = perr(&ps, "bad verb");
        else if (!(t->verb = strdup(v)))
            rc = perr(&ps, "out of memory");
    }
    if (rc == 0)
        rc = check_template(&ps);
    if (rc < 0)
        gw_template_free(t);
    return rc;
}

void gw_template_free(gw_template *t)
{
    for (size_t i = 0; i < t->n_segs; i++)
        free(t->segs[i].literal);
    for (size_t i = 0; i < t->n_vars; i++)
        free(t->vars[i].field_path);
    free(t->segs);
    free(t->vars);
    free(t->verb);
    memset(t, 0, sizeof(*t));
}

/* ---- matching ------------------------------------------------------------------- */

int gw_template_may_match(const gw_template *t, const char *path)
{
    size_t len = strlen(path);
    if (len < 3 || path[len - 1] != '/') {
        gw_path_span spans[GW_ROUTE_MAX_VARS];
        return gw_template_match(t, path, spans);
    }
    /* below "/NAME/": the first segment takes NAME, and another follows */
    if (t->n_segs == 0)
        return 0;
    const gw_segment *first = &t->segs[0];
    if (first->kind == GW_SEG_LITERAL &&
        (strlen(first->literal) != len - 2 || memcmp(first->literal, path + 1, len - 2) != 0))
        return 0;
    return t->n_segs >= 2 || first->kind == GW_SEG_STARSTAR;
}

int gw_template_match(const gw_template *t, const char *path, gw_path_span *spans)
{
    if (path[0] != '/')
        return 0;
    size_t len = strlen(path);
    if (t->verb) {
        size_t vlen = strlen(t->verb);
        if (len < vlen + 2 || path[len - vlen - 1] != ':' ||
            memcmp(path + len - vlen, t->verb, vlen) != 0)
            return 0;
        len -= vlen + 1;
    }
    /* segment boundaries: seg i is path[start[i] .. start[i+1]-1) */
    size_t start[GW_ROUTE_MAX_PATH_SEGMENTS + 1];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (path[i] == '/') {
            if (n == GW_ROUTE_MAX_PATH_SEGMENTS)
                return 0;
            start[n++] = i + 1;
        }
    }
    start[n] = len + 1;
    int tail = t->n_segs && t->segs[t->n_segs - 1].kind == GW_SEG_STARSTAR;
    if (tail ? n + 1 < t->n_segs : n != t->n_segs)
        return 0;
    for (size_t i = 0; i < t->n_segs - tail; i++) { /* '**' takes what is left */
        const gw_segment *s = &t->segs[i];
        size_t slen = start[i + 1] - 1 - start[i];
        if (s->kind == GW_SEG_LITERAL &&
            (strlen(s->literal) != slen || memcmp(s->literal, path + start[i], slen) != 0))
            return 0;
        if (s->kind == GW_SEG_STAR && slen == 0)
            return 0;
    }
    for (size_t v = 0; v < t->n_vars; v++) {
        const gw_template_var *var = &t->vars[v];
        size_t last = var->end;
        if (var->end == t->n_segs && tail)
            last = n; /* '**' takes the rest */
        if (var->first >= n) {
            spans[v].start = len;
            spans[v].len = 0;
            continue;
        }
        spans[v].start = start[var->first];
        spans[v].len = last > var->first ? start[last] - 1 - start[var->first] : 0;
    }
    return 1;
}

gw_result gw_route_decode_var(const gw_template *t, size_t var, const char *text,
                              size_t len, gw_buf *out)
{
    const gw_template_var *v = &t->vars[var];
    int keep_slash = v->end - v->first != 1 || t->segs[v->first].kind == GW_SEG_STARSTAR;
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '%') {
            gw_buf_putc(out, (uint8_t)text[i]);
            continue;
        }
        if (i + 2 >= len)
            return GW_REFUSED;
        int hi = gw_hex_digit(text[i + 1]), lo = gw_hex_digit(text[i + 2]);
        if (hi < 0 || lo < 0)
            return GW_REFUSED;
        int c = hi << 4 | lo;
        if (c == '/' && keep_slash)
            gw_buf_append(out, text + i, 3); /* not a segment boundary: stays escaped */
        else
            gw_buf_putc(out, (uint8_t)c);
        i += 2;
    }
    return out->oom ? GW_NOMEM : GW_OK;
}

/* ---- the route table --------------------------------------------------------------- */

/* A path variable's field path must lead through singular messages to a
 * field that text can set (a scalar, or a wrapper, Timestamp, Duration or
 * FieldMask, as for query parameters). */
static int check_field_path(const gw_message *m, const char *fpath, char *why, size_t n)
{
    const char *comp = fpath;
    for (;;) {
        const char *dot = strchr(comp, '.');
        size_t clen = dot ? (size_t)(dot - comp) : strlen(comp);
        const gw_field *f = gw_message_field_by_name(m, comp, clen);
        if (!f) {
            snprintf(why, n, "%s has no field '%.*s' (in '%s')", m->full_name, (int)clen, comp,
                     fpath);
            return -1;
        }
        if (!dot) {
            if (!gw_field_takes_text(f)) {
                snprintf(why, n, "path variable '%s' names a message field", fpath);
                return -1;
            }
            return 0;
        }
        if ((f->type != GW_TYPE_MESSAGE && f->type != GW_TYPE_GROUP) || f->repeated) {
            snprintf(why, n, "'%s' in '%s' is not a singular message field", f->name, fpath);
            return -1;
        }
        m = f->message;
        comp = dot + 1;
    }
}

static int check_binding(const gw_method *m, const gw_http_binding *b, const gw_template *t,
                         char *why, size_t n)
{
    /* a DELETE may have one (Envoy takes it; grpc-gateway with
     * allow_delete_body) */
    if (*b->body && strcmp(b->verb, "GET") == 0) {
        snprintf(why, n, "a %s binding cannot have a body", b->verb);
        return -1;
    }
    if (*b->body && strcmp(b->body, "*") != 0 &&
        !gw_message_field_by_name(m->input, b->body, strlen(b->body))) {
        snprintf(why, n, "body: %s has no field '%s'", m->input->full_name, b->body);
        return -1;
    }
    if (*b->response_body &&
        !gw_message_field_by_name(m->output, b->response_body, strlen(b->response_body))) {
        snprintf(why, n, "response_body: %s has no field '%s'", m->output->full_name,
                 b->response_body);
        return -1;
    }
    for (size_t i = 0; i < t->n_vars; i++)
        if (check_field_path(m->input, t->vars[i].field_path, why, n) < 0)
            return -1;
    return 0;
}

/* Orders routes so that the first match is the most specific: a custom
 * verb first, then segment by segment literal before '*' before '**', then
 * longer templates first. */
static int compare_specificity(const void *pa, const void *pb)
{
    const gw_template *a = &((const gw_route *)pa)->tmpl, *b = &((const gw_route *)pb)->tmpl;
    if (!a->verb != !b->verb)
        return a->verb ? -1 : 1;
    for (size_t i = 0; i < a->n_segs && i < b->n_segs; i++)
        if (a->segs[i].kind != b->segs[i].kind)
            return (int)a->segs[i].kind - (int)b->segs[i].kind;
    return a->n_segs > b->n_segs ? -1 : a->n_segs < b->n_segs;
}

/* Two templates match exactly the same requests when they have the same
 * verb and the same segments (variable names aside). */
static int same_shape(const gw_route *x, const gw_route *y)
{
    const gw_template *a = &x->tmpl, *b = &y->tmpl;
    if (strcmp(x->binding->verb, y->binding->verb) != 0 || a->n_segs != b->n_segs ||
        !a->verb != !b->verb || (a->verb && strcmp(a->verb, b->verb) != 0))
        return 0;
    for (size_t i = 0; i < a->n_segs; i++) {
        if (a->segs[i].kind != b->segs[i].kind)
            return 0;
        if (a->segs[i].kind == GW_SEG_LITERAL && strcmp(a->segs[i].literal, b->segs[i].literal))
            return 0;
    }
    return 1;
}

/* A total order of route shapes (verb, segments, custom verb) in which two
 * routes compare equal exactly when same_shape says so; the order of the
 * routes (their address in the table) after that. */
static int compare_shapes(const void *pa, const void *pb)
{
    const gw_route *x = *(const gw_route *const *)pa, *y = *(const gw_route *const *)pb;
    const gw_template *a = &x->tmpl, *b = &y->tmpl;
    int c = strcmp(x->binding->verb, y->binding->verb);
    if (c)
        return c;
    if (a->n_segs != b->n_segs)
        return a->n_segs < b->n_segs ? -1 : 1;
    if (!a->verb != !b->verb)
        return a->verb ? 1 : -1;
    if (a->verb && (c = strcmp(a->verb, b->verb)))
        return c;
    for (size_t i = 0; i < a->n_segs; i++) {
        if (a->segs[i].kind != b->segs[i].kind)
            return (int)a->segs[i].kind - (int)b->segs[i].kind;
        if (a->segs[i].kind == GW_SEG_LITERAL &&
            (c = strcmp(a->segs[i].literal, b->segs[i].literal)))
            return c;
    }
    return x < y ? -1 : x > y;
}

/* Two routes that match the same requests are an error naming both: the
 * first route that has such a twin, and the first of its twins.  Sorted by
 * shape, twins are neighbours, so this takes n log n, not n * n. */
static int check_conflicts(const gw_router *r, char *err, size_t errlen)
{
    const gw_route **sorted = malloc((r->n_routes ? r->n_routes : 1) * sizeof(*sorted));
    if (!sorted) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < r->n_routes; i++)
        sorted[i] = &r->routes[i];
    qsort(sorted, r->n_routes, sizeof(*sorted), compare_shapes);
    const gw_route *a = NULL, *b = NULL;
    for (size_t i = 1; i < r->n_routes; i++) {
        const gw_route *first = sorted[i - 1]; /* the first of its shape, if i - 2 is not */
        if ((!a || first < a) && same_shape(first, sorted[i]) &&
            (i < 2 || !same_shape(sorted[i - 2], first))) {
            a = first;
            b = sorted[i];
        }
    }
    free(sorted);
    if (!a)
        return 0;
    snprintf(err, errlen, "%s %s (%s) and %s %s (%s) match the same requests",
             a->binding->verb, a->binding->path_template, a->method->path,
             b->binding->verb, b->binding->path_template, b->method->path);
    return -1;
}

/* The length of the service in m->path ("/pkg.Svc/M": "pkg.Svc", which
 * starts at m->path + 1). */
static size_t service_len(const gw_method *m)
{
    const char *slash = strrchr(m->path, '/');
    return slash && slash > m->path ? (size_t)(slash - m->path - 1) : 0;
}

int gw_router_served(const gw_method *m, const gw_router_options *opt)
{
    return !opt->served ||
           gw_names_find_len(opt->served, m->path + 1, service_len(m)) != GW_NAMES_NONE;
}

/* The services opt lists, by name (positions in opt->services).  0, or -1
 * without memory. */
static int index_services(const gw_router_options *opt, gw_names *index)
{
    for (size_t i = 0; opt->services && i < opt->n_services; i++)
        if (gw_names_add(index, opt->services[i], i) < 0)
            return -1;
    return 0;
}

/* 1 if m gets routes: its service is listed (opt->services, indexed in
 * `listed`) and served. */
static int exposed(const gw_method *m, const gw_router_options *opt, const gw_names *listed)
{
    return (!opt->services ||
            gw_names_find_len(listed, m->path + 1, service_len(m)) != GW_NAMES_NONE) &&
           gw_router_served(m, opt);
}

static int check_services(const gw_method *methods, size_t n, const gw_router_options *opt,
                          const gw_names *listed, char *err, size_t errlen)
{
    if (!opt->services || opt->allow_missing)
        return 0;
    char *found = calloc(opt->n_services ? opt->n_services : 1, 1); /* by position */
    if (!found) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t j = 0; j < n; j++) {
        size_t pos = gw_names_find_len(listed, methods[j].path + 1, service_len(&methods[j]));
        if (pos != GW_NAMES_NONE)
            found[pos] = 1;
    }
    int rc = 0;
    for (size_t i = 0; i < opt->n_services && rc == 0; i++) {
        if (found[gw_names_find(listed, opt->services[i])]) /* listed twice: the first */
            continue;
        char where[PATH_MAX + 32] = "";
        if (opt->config_path)
            snprintf(where, sizeof(where), "%s:%d: ", opt->config_path, opt->services_line);
        snprintf(err, errlen, "%s[gateway] services: %s is not a service of the API", where,
                 opt->services[i]);
        rc = -1;
    }
    free(found);
    return rc;
}

/* Compiles binding b of method m into the next route. */
static int add_route(gw_router *r, const gw_method *m, const gw_http_binding *b, char *err,
                     size_t errlen)
{
    gw_route *route = &r->routes[r->n_routes];
    char why[200];
    if (gw_template_parse(b->path_template, &route->tmpl, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s %s (%s): %s", b->verb, b->path_template, m->path, why);
        return -1;
    }
    route->method = m;
    route->binding = b;
    route->raw_reply = gw_httpbody_answers(m->output, b->response_body, &route->raw_reply_field);
    route->raw_request = gw_httpbody_taken(m->input, b->body, &route->raw_request_field);
    r->n_routes++;
    if (check_binding(m, b, &route->tmpl, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s %s (%s): %s", b->verb, b->path_template, m->path, why);
        return -1;
    }
    return 0;
}

/* POST /pkg.Service/Method with the whole request as the body. */
static int add_auto_route(gw_router *r, const gw_method *m, char *err, size_t errlen)
{
    gw_http_binding *b = &r->auto_bindings[r->n_auto];
    if (!(r->auto_paths[r->n_auto] = strdup(m->path))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *b = (gw_http_binding){"POST", r->auto_paths[r->n_auto], "*", ""};
    r->n_auto++;
    return add_route(r, m, b, err, errlen);
}

static int compare_web_routes(const void *pa, const void *pb)
{
    const gw_route *a = pa, *b = pb;
    return strcmp(a->method->path, b->method->path);
}

/* gRPC-Web: a route for every method of the services exposed, found by
 * its gRPC path; by path order, for gw_router_match_web. */
static int add_web_routes(gw_router *r, const gw_method *methods, size_t n,
                          const gw_router_options *opt, const gw_names *listed, char *err,
                          size_t errlen)
{
    r->web_routes = calloc(n ? n : 1, sizeof(*r->web_routes));
    if (!r->web_routes) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (exposed(&methods[i], opt, listed))
            r->web_routes[r->n_web_routes++].method = &methods[i];
    qsort(r->web_routes, r->n_web_routes, sizeof(*r->web_routes), compare_web_routes);
    return 0;
}

const gw_route *gw_router_match_web(const gw_router *r, const char *path)
{
    size_t lo = 0, hi = r->n_web_routes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(path, r->web_routes[mid].method->path);
        if (c == 0)
            return &r->web_routes[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int gw_router_build_with(gw_router *r, const gw_method *methods, size_t n,
                         const gw_router_options *opt, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += methods[i].n_bindings ? methods[i].n_bindings : 1;
    r->routes = calloc(total ? total : 1, sizeof(*r->routes));
    r->auto_bindings = calloc(n ? n : 1, sizeof(*r->auto_bindings));
    r->auto_paths = calloc(n ? n : 1, sizeof(*r->auto_paths));
    if (!r->routes || !r->auto_bindings || !r->auto_paths) {
        snprintf(err, errlen, "out of memory");
        gw_router_free(r);
        return -1;
    }
    gw_names listed = GW_NAMES_INIT;
    int rc = index_services(opt, &listed);
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    if (rc == 0)
        rc = check_services(methods, n, opt, &listed, err, errlen);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const gw_method *m = &methods[i];
        if (!exposed(m, opt, &listed))
            continue;
        for (size_t j = 0; j < m->n_bindings && rc == 0; j++)
            rc = add_route(r, m, &m->bindings[j], err, errlen);
        if (rc == 0 && m->n_bindings == 0 && opt->auto_map)
            rc = add_auto_route(r, m, err, errlen);
    }
    if (rc == 0 && opt->grpc_web)
        rc = add_web_routes(r, methods, n, opt, &listed, err, errlen);
    gw_names_free(&listed);
    if (rc == 0)
        rc = check_conflicts(r, err, errlen);
    if (rc < 0) {
        gw_router_free(r);
        return -1;
    }
    qsort(r->routes, r->n_routes, sizeof(*r->routes), compare_specificity);
    if (gw_route_index_build(&r->index, r->routes, r->n_routes) < 0) {
        snprintf(err, errlen, "out of memory");
        gw_router_free(r);
        return -1;
    }
    return 0;
}

int gw_router_build(gw_router *r, const gw_method *methods, size_t n, char *err, size_t errlen)
{
    static const gw_router_options all = {0};
    return gw_router_build_with(r, methods, n, &all, err, errlen);
}

void gw_router_free(gw_router *r)
{
    for (size_t i = 0; i < r->n_routes; i++)
        gw_template_free(&r->routes[i].tmpl);
    for (size_t i = 0; i < r->n_auto; i++)
        free(r->auto_paths[i]);
    free(r->auto_paths);
    free(r->auto_bindings);
    free(r->routes);
    free(r->web_routes);
    gw_route_index_free(&r->index);
    memset(r, 0, sizeof(*r));
}

/* At most this many candidates are taken from the index; a path that more
 * routes may match (an API of many templates of the same shape) is tried
 * against every route. */
#define ROUTE_CANDIDATES_MAX 64

/* The routes the index names for path into cand; returns how many to try,
 * with *all set when they are the whole table instead. */
static size_t route_candidates(const gw_router *r, const char *path, size_t *cand, int *all)
{
    size_t n = gw_route_index_candidates(&r->index, path, cand, ROUTE_CANDIDATES_MAX);
    *all = n == GW_ROUTE_INDEX_MANY;
    return *all ? r->n_routes : n;
}

/* gw_router_match for exactly `verb`. */
static gw_route_result match_verb(const gw_router *r, const char *verb, const char *path,
                                  const gw_route **route, gw_path_span *spans)
{
    size_t cand[ROUTE_CANDIDATES_MAX];
    int all;
    size_t n = route_candidates(r, path, cand, &all);
    int path_matched = 0;
    for (size_t i = 0; i < n; i++) {
        const gw_route *rt = &r->routes[all ? i : cand[i]];
        if (!gw_template_match(&rt->tmpl, path, spans))
            continue;
        if (strcmp(rt->binding->verb, verb) == 0) {
            *route = rt;
            return GW_ROUTE_FOUND;
        }
        path_matched = 1;
    }
    return path_matched ? GW_ROUTE_BAD_METHOD : GW_ROUTE_NOT_FOUND;
}

gw_route_result gw_router_match(const gw_router *r, const char *verb, const char *path,
                                const gw_route **route, gw_path_span *spans)
{
    gw_route_result rc = match_verb(r, verb, path, route, spans);
    const gw_route *get; /* *route is set only when HEAD takes it */
    if (rc == GW_ROUTE_BAD_METHOD && strcmp(verb, "HEAD") == 0 &&
        match_verb(r, "GET", path, &get, spans) == GW_ROUTE_FOUND && gw_route_takes_head(get)) {
        *route = get;
        return GW_ROUTE_FOUND;
    }
    return rc;
}

int gw_route_takes_head(const gw_route *route)
{
    /* a stream's answer has no length and ends when the stream does: its
     * headers alone say nothing GET would not, at the price of a call */
    return strcmp(route->binding->verb, "GET") == 0 && !route->method->server_streaming;
}

/* 1 if "GET, POST"-style list `list` names verb. */
static int verb_listed(const char *list, const char *verb)
{
    size_t n = strlen(verb);
    for (const char *p = list; (p = strstr(p, verb)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

void gw_router_allowed(const gw_router *r, const char *path, char *out, size_t outlen)
{
    gw_path_span spans[GW_ROUTE_MAX_VARS];
    size_t cand[ROUTE_CANDIDATES_MAX];
    int all;
    size_t n = route_candidates(r, path, cand, &all);
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && len < outlen; i++) {
        const gw_route *rt = &r->routes[all ? i : cand[i]];
        const char *verb = rt->binding->verb;
        if (!gw_template_match(&rt->tmpl, path, spans))
            continue;
        int get_listed = verb_listed(out, "GET"); /* the first GET route is GET's */
        for (int head = 0; head < 2 && len < outlen; head++) { /* GET takes HEAD too */
            const char *v = head ? "HEAD" : verb;
            if ((head && (get_listed || !gw_route_takes_head(rt))) || verb_listed(out, v))
                continue;
            int k = snprintf(out + len, outlen - len, "%s%s", len ? ", " : "", v);
            len += k > 0 ? (size_t)k : 0;
        }
    }
}
