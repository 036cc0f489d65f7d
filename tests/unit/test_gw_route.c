/*
 * test_gw_route.c -- gateway/gw_route.c: path template parsing and matching,
 * the percent-decoding of path variables, and the route table built from
 * the HTTP bindings of build/tests/types.pb (and the broken bindings of
 * build/tests/badroute.pb, which the router must refuse by method, and
 * build/tests/nested_bindings.pb, which the schema must refuse); and tables
 * of methods made here: which services get routes ([gateway] services, the
 * upstream's list), which pair of twins a conflict names, 100,000
 * methods with as many routes (the most an API may have), and the route
 * index, which must name every route that matches a path (checked against
 * trying every route, on every short path over a small alphabet).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/gw_route.h"
#include "../../gateway/gw_schema.h"
#include "route_reference.h"

#ifndef BUILD_DIR /* the Makefile passes its build folder */
#define BUILD_DIR "build"
#endif
#define TYPES_PB BUILD_DIR "/tests/types.pb"
#define BADROUTE_PB BUILD_DIR "/tests/badroute.pb"
#define NESTED_PB BUILD_DIR "/tests/nested_bindings.pb"

/* ---- template parsing ------------------------------------------------------- */

/* Parses text, which must be valid; the caller frees t. */
static void parse_ok(const char *text, gw_template *t, int line)
{
    char err[256] = "";
    if (gw_template_parse(text, t, err, sizeof(err)) != 0)
        fail_msg("line %d: gw_template_parse(\"%s\") failed: %s", line, text, err);
}

#define PARSE_OK(text, t) parse_ok(text, t, __LINE__)

/* A compact picture of a compiled template: segments as "lit", "*", "**";
 * variables as "{path:first-end}"; then ":verb". */
static void describe(const gw_template *t, char *out, size_t n)
{
    size_t w = 0;
    out[0] = '\0';
    for (size_t i = 0; i < t->n_segs; i++) {
        const gw_segment *s = &t->segs[i];
        w += (size_t)snprintf(out + w, n - w, "/%s",
                              s->kind == GW_SEG_LITERAL ? s->literal
                              : s->kind == GW_SEG_STAR  ? "*"
                                                        : "**");
    }
    for (size_t i = 0; i < t->n_vars; i++)
        w += (size_t)snprintf(out + w, n - w, " {%s:%zu-%zu}", t->vars[i].field_path,
                              t->vars[i].first, t->vars[i].end);
    if (t->verb)
        snprintf(out + w, n - w, " :%s", t->verb);
}

static void parses_as(const char *text, const char *want, int line)
{
    gw_template t;
    char got[512];
    parse_ok(text, &t, line);
    describe(&t, got, sizeof(got));
    gw_template_free(&t);
    if (strcmp(got, want) != 0)
        fail_msg("line %d: gw_template_parse(\"%s\")\n   got: %s\n  want: %s", line, text, got,
                 want);
}

#define PARSES_AS(text, want) parses_as(text, want, __LINE__)

static void parse_fails(const char *text, const char *want, int line)
{
    gw_template t;
    char err[256] = "";
    if (gw_template_parse(text, &t, err, sizeof(err)) != -1)
        fail_msg("line %d: gw_template_parse(\"%s\") succeeded, want an error (%s)", line, text,
                 want);
    if (!strstr(err, want))
        fail_msg("line %d: gw_template_parse(\"%s\")\n   error: %s\n  want: %s", line, text, err,
                 want);
    /* a failed parse leaves nothing to free */
    assert_null(t.segs);
    assert_null(t.vars);
    assert_null(t.verb);
    assert_int_equal(t.n_segs, 0);
    assert_int_equal(t.n_vars, 0);
}

#define PARSE_FAILS(text, want) parse_fails(text, want, __LINE__)

static void test_parse_valid(void **state)
{
    (void)state;
    PARSES_AS("/v1", "/v1");
    PARSES_AS("/v1/things", "/v1/things");
    PARSES_AS("/v1/*", "/v1/*");
    PARSES_AS("/v1/**", "/v1/**");
    PARSES_AS("/v1/*/x/**", "/v1/*/x/**");
    PARSES_AS("/v1/things/{id}", "/v1/things/* {id:2-3}");
    PARSES_AS("/v1/{x=*}", "/v1/* {x:1-2}");
    PARSES_AS("/v1/{name=shelves/*/books/*}", "/v1/shelves/*/books/* {name:1-5}");
    PARSES_AS("/{x.y=a/*/b/**}", "/a/*/b/** {x.y:0-4}");
    PARSES_AS("/v1/files/{path=**}", "/v1/files/** {path:2-3}");
    PARSES_AS("/v1/{a}/{b.c_d}/{e=x/*}", "/v1/*/*/x/* {a:1-2} {b.c_d:2-3} {e:3-5}");
    PARSES_AS("/v1/things/{id}:activate", "/v1/things/* {id:2-3} :activate");
    PARSES_AS("/v1/things:batchGet", "/v1/things :batchGet");
    PARSES_AS("/v1/{name=**}:undelete", "/v1/** {name:1-2} :undelete");
    PARSES_AS("/v1/*:do", "/v1/* :do");
    /* a ':' before a later '/' is part of a literal, not a verb */
    PARSES_AS("/v1/a:b/c", "/v1/a:b/c");
    PARSES_AS("/a:b:c", "/a:b :c");
    PARSES_AS("/v1/with-dash_under.dot~", "/v1/with-dash_under.dot~");
    PARSES_AS("/_x/{A9_b}", "/_x/* {A9_b:1-2}");
    /* the root (Envoy and grpc-gateway take it) */
    PARSES_AS("/", "/");
    PARSES_AS("/:ping", "/ :ping");
}

static void test_parse_invalid(void **state)
{
    (void)state;
    PARSE_FAILS("", "a path template starts with '/'");
    PARSE_FAILS("no leading slash", "a path template starts with '/'");
    PARSE_FAILS("v1/things", "a path template starts with '/'");
    PARSE_FAILS("/a//b", "expected a path segment");
    PARSE_FAILS("/a/", "expected a path segment");
    PARSE_FAILS("/a/**/b", "'**' must be the last segment");
    PARSE_FAILS("/**/**", "'**' must be the last segment");
    PARSE_FAILS("/a/{x=**}/b", "'**' must be the last segment");
    PARSE_FAILS("/{x", "expected '}'");
    PARSE_FAILS("/a/{x=y", "expected '}'");
    PARSE_FAILS("/{x={y}}", "variables cannot nest");
    PARSE_FAILS("/{}", "expected a field name");
    PARSE_FAILS("/{1x}", "expected a field name");
    PARSE_FAILS("/{x.}", "expected a field name");
    PARSE_FAILS("/{x-y}", "expected '}'");
    PARSE_FAILS("/{x=}", "expected a path segment");
    PARSE_FAILS("/a/{x}/{x}", "field 'x' is bound twice");
    PARSE_FAILS("/{a.b}/{a.b=c/*}", "field 'a.b' is bound twice");
    PARSE_FAILS("/a:", "bad verb");
    PARSE_FAILS("/v1/things/{id}:", "bad verb");
    PARSE_FAILS("/a:*", "bad verb");
    PARSE_FAILS("/a:{x}", "unexpected character"); /* a brace after the colon: no verb */
    PARSE_FAILS("/a/b{x}", "unexpected character");
    PARSE_FAILS("/a/{x}y", "unexpected character");
    PARSE_FAILS("/a?b=1", "unexpected character");
    PARSE_FAILS("/a#frag", "unexpected character");
    PARSE_FAILS("/a/*b", "unexpected character");
    PARSE_FAILS("/a/***", "unexpected character");
    PARSE_FAILS("/a}", "unexpected character");
    /* GW_ROUTE_MAX_VARS is the limit */
    char text[512] = "";
    for (int i = 0; i < GW_ROUTE_MAX_VARS; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "/{v%d}", i);
    gw_template t;
    PARSE_OK(text, &t);
    assert_int_equal(t.n_vars, GW_ROUTE_MAX_VARS);
    gw_template_free(&t);
    strcat(text, "/{one_more}");
    PARSE_FAILS(text, "more than 16 variables");
}

/* ---- matching --------------------------------------------------------------- */

/* Matches path against template text; with want_vars "a|b|c", each
 * variable's raw text must be as given. */
static void matches(const char *tmpl, const char *path, const char *want_vars, int line)
{
    gw_template t;
    gw_path_span spans[GW_ROUTE_MAX_VARS];
    parse_ok(tmpl, &t, line);
    if (!gw_template_match(&t, path, spans)) {
        gw_template_free(&t);
        fail_msg("line %d: \"%s\" does not match \"%s\"", line, path, tmpl);
    }
    char got[512] = "";
    for (size_t i = 0; i < t.n_vars; i++) {
        assert_true(spans[i].start <= strlen(path));
        assert_true(spans[i].start + spans[i].len <= strlen(path));
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%.*s", i ? "|" : "",
                 (int)spans[i].len, path + spans[i].start);
    }
    gw_template_free(&t);
    if (strcmp(got, want_vars) != 0)
        fail_msg("line %d: \"%s\" on \"%s\"\n   got vars: %s\n  want: %s", line, tmpl, path, got,
                 want_vars);
}

#define MATCHES(tmpl, path, vars) matches(tmpl, path, vars, __LINE__)

static void no_match(const char *tmpl, const char *path, int line)
{
    gw_template t;
    gw_path_span spans[GW_ROUTE_MAX_VARS];
    parse_ok(tmpl, &t, line);
    int m = gw_template_match(&t, path, spans);
    gw_template_free(&t);
    if (m)
        fail_msg("line %d: \"%s\" matches \"%s\", and should not", line, path, tmpl);
}

#define NO_MATCH(tmpl, path) no_match(tmpl, path, __LINE__)

static void test_match_literals_and_stars(void **state)
{
    (void)state;
    MATCHES("/v1/things", "/v1/things", "");
    NO_MATCH("/v1/things", "/v1/thing");
    NO_MATCH("/v1/things", "/v1/thingsx");
    NO_MATCH("/v1/things", "/v1/things/");
    NO_MATCH("/v1/things", "/v1");
    NO_MATCH("/v1/things", "v1/things");
    NO_MATCH("/v1/things", "");
    NO_MATCH("/v1/things", "/V1/things"); /* literals are case-sensitive */
    NO_MATCH("/v1/things", "/v1/th%69ngs"); /* and compared undecoded */
    MATCHES("/v1/*", "/v1/x", "");
    NO_MATCH("/v1/*", "/v1/");
    NO_MATCH("/v1/*", "/v1/x/y");
    MATCHES("/v1/**", "/v1/x/y/z", "");
    MATCHES("/v1/**", "/v1", "");
    MATCHES("/v1/*/x/**", "/v1/a/x/b/c", "");
    NO_MATCH("/v1/*/x/**", "/v1/a/y/b");
    MATCHES("/", "/", "");
    NO_MATCH("/", "/x");
    NO_MATCH("/", "//");
    NO_MATCH("/", "");
    MATCHES("/:ping", "/:ping", "");
    NO_MATCH("/:ping", "/");
}

static void test_match_variables(void **state)
{
    (void)state;
    MATCHES("/v1/things/{id}", "/v1/things/abc", "abc");
    MATCHES("/v1/things/{id}", "/v1/things/a%2Fb", "a%2Fb"); /* spans are raw text */
    NO_MATCH("/v1/things/{id}", "/v1/things/");
    NO_MATCH("/v1/things/{id}", "/v1/things/a/b");
    MATCHES("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/books/b2", "shelves/s1/books/b2");
    NO_MATCH("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/books");
    NO_MATCH("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/novels/b2");
    NO_MATCH("/v1/{name=shelves/*/books/*}", "/v1/shelves//books/b2");
    MATCHES("/v1/files/{path=**}", "/v1/files/a/b/c.txt", "a/b/c.txt");
    MATCHES("/v1/files/{path=**}", "/v1/files/a", "a");
    MATCHES("/v1/files/{path=**}", "/v1/files/a//b/", "a//b/");
    MATCHES("/v1/files/{path=**}", "/v1/files", ""); /* '**' matches no segment too */
    MATCHES("/{x.y=a/*/b/**}", "/a/1/b/2/3", "a/1/b/2/3");
    MATCHES("/{x.y=a/*/b/**}", "/a/1/b", "a/1/b");
    NO_MATCH("/{x.y=a/*/b/**}", "/a/1/c/2");
    MATCHES("/v1/{a}/{b}/{c=x/*}", "/v1/1/22/x/333", "1|22|x/333");
    MATCHES("/{a}/mid/{b=**}", "/A/mid/B/C", "A|B/C");
}

static void test_match_verbs(void **state)
{
    (void)state;
    MATCHES("/v1/things/{id}:activate", "/v1/things/abc:activate", "abc");
    NO_MATCH("/v1/things/{id}:activate", "/v1/things/abc");
    NO_MATCH("/v1/things/{id}:activate", "/v1/things/abc:deactivate");
    NO_MATCH("/v1/things/{id}:activate", "/v1/things/abc:activatex");
    NO_MATCH("/v1/things/{id}:activate", "/v1/things/:activate");
    NO_MATCH("/v1/things/{id}:activate", "/v1/things/abcactivate");
    MATCHES("/v1/things:batchGet", "/v1/things:batchGet", "");
    NO_MATCH("/v1/things:batchGet", "/v1/things");
    NO_MATCH("/v1/things", "/v1/things:batchGet");
    MATCHES("/v1/{name=**}:undelete", "/v1/a/b:undelete", "a/b");
    /* without a verb in the template, a ':' is part of the last segment */
    MATCHES("/v1/things/{id}", "/v1/things/abc:activate", "abc:activate");
    MATCHES("/v1/files/{path=**}", "/v1/files/a:b/c:d", "a:b/c:d");
}

static void test_match_long_paths(void **state)
{
    (void)state;
    /* more segments than the matcher keeps track of: no match, no overrun */
    char path[2048] = "/v1/files";
    for (int i = 0; i < 200; i++)
        strcat(path, "/s");
    NO_MATCH("/v1/files/{path=**}", path);
    NO_MATCH("/v1/*", path);
    char ok[1024] = "/v1/files";
    for (int i = 0; i < 100; i++)
        strcat(ok, "/s");
    gw_template t;
    gw_path_span spans[GW_ROUTE_MAX_VARS];
    PARSE_OK("/v1/files/{path=**}", &t);
    assert_int_equal(gw_template_match(&t, ok, spans), 1);
    assert_int_equal(spans[0].start, strlen("/v1/files/"));
    assert_int_equal(spans[0].len, 100 * 2 - 1);
    gw_template_free(&t);

    /* a '**' that takes nothing after the most segments a path may have:
     * the matcher reads no boundary past the path's (the sanitizer build
     * saw a read past its array here) */
    char full[1024] = "", tmpl[1024] = "";
    for (int i = 0; i < GW_ROUTE_MAX_PATH_SEGMENTS; i++) {
        strcat(full, "/s");
        strcat(tmpl, "/s");
    }
    strcat(tmpl, "/**");
    PARSE_OK(tmpl, &t);
    assert_int_equal(gw_template_match(&t, full, spans), 1);
    gw_template_free(&t);
    PARSE_OK("/s/**", &t);
    assert_int_equal(gw_template_match(&t, "/s", spans), 1);
    gw_template_free(&t);
}

/* ---- percent-decoding of path variables ---------------------------------------- */

static void decodes(const char *tmpl, const char *text, const char *want, int line)
{
    gw_template t;
    parse_ok(tmpl, &t, line);
    gw_buf out = GW_BUF_INIT;
    gw_result rc = gw_route_decode_var(&t, 0, text, strlen(text), &out);
    gw_template_free(&t);
    if (rc != GW_OK)
        fail_msg("line %d: decoding \"%s\" for %s failed", line, text, tmpl);
    if (out.len != strlen(want) || (out.len && memcmp(out.data, want, out.len) != 0))
        fail_msg("line %d: decoding \"%s\" for %s\n   got: %.*s\n  want: %s", line, text, tmpl,
                 (int)out.len, out.data ? (char *)out.data : "", want);
    gw_buf_free(&out);
}

#define DECODES(tmpl, text, want) decodes(tmpl, text, want, __LINE__)

static void decode_fails(const char *tmpl, const char *text, int line)
{
    gw_template t;
    parse_ok(tmpl, &t, line);
    gw_buf out = GW_BUF_INIT;
    /* a copy of exactly strlen(text) bytes: reading past it shows in valgrind */
    size_t n = strlen(text);
    char *copy = malloc(n ? n : 1);
    memcpy(copy, text, n);
    gw_result rc = gw_route_decode_var(&t, 0, copy, n, &out);
    free(copy);
    gw_template_free(&t);
    gw_buf_free(&out);
    if (rc != GW_REFUSED)
        fail_msg("line %d: decoding \"%s\" for %s succeeded; want GW_REFUSED", line, text, tmpl);
}

#define DECODE_FAILS(tmpl, text) decode_fails(tmpl, text, __LINE__)

static void test_decode_single_segment(void **state)
{
    (void)state;
    DECODES("/t/{x}", "plain", "plain");
    DECODES("/t/{x}", "", "");
    DECODES("/t/{x}", "a%2Fb", "a/b"); /* one segment: decoded whole (http.proto) */
    DECODES("/t/{x}", "a%2fb", "a/b");
    DECODES("/t/{x}", "a%252Fb", "a%2Fb");
    DECODES("/t/{x}", "%41%62c", "Abc");
    DECODES("/t/{x}", "%41", "A");
    DECODES("/t/{x}", "a%20b%25c", "a b%c");
    DECODES("/t/{x}", "a+b", "a+b"); /* '+' is a space only in query strings */
    DECODES("/t/{x}", "%C3%A9", "\xc3\xa9");
    DECODES("/t/{x=*}", "a%2Fb", "a/b");
    DECODES("/t/{x=**}", "a%2Fb", "a%2Fb"); /* may span segments: an escaped '/' stays */
    DECODE_FAILS("/t/{x}", "%G1");
    DECODE_FAILS("/t/{x}", "%1G");
    DECODE_FAILS("/t/{x}", "%");
    DECODE_FAILS("/t/{x}", "abc%");
    DECODE_FAILS("/t/{x}", "abc%4");
    DECODE_FAILS("/t/{x}", "%%41");
}

static void test_decode_multi_segment(void **state)
{
    (void)state;
    /* several segments: an escaped '/' stays escaped, as http.proto says */
    DECODES("/v1/{name=shelves/*}", "shelves/a%2Fb", "shelves/a%2Fb");
    DECODES("/v1/{name=shelves/*}", "shelves/a%2fb", "shelves/a%2fb");
    DECODES("/v1/{name=shelves/*}", "shelves/a%20b%41", "shelves/a bA");
    DECODES("/v1/{path=**}", "a/b%2Fc/d", "a/b%2Fc/d");
    DECODES("/v1/{path=**}", "%7Euser%2F", "~user%2F");
    DECODES("/{x.y=a/*/b/**}", "a/%31/b/%2F%2f", "a/1/b/%2F%2f");
    DECODE_FAILS("/v1/{path=**}", "a/%G1");
    DECODE_FAILS("/v1/{path=**}", "a/b%");
    DECODE_FAILS("/v1/{path=**}", "a/b%2");
}

/* ---- the route table ------------------------------------------------------------ */

typedef struct router_fixture {
    gw_schema *schema;
    gw_router router;
} router_fixture;

static int router_setup(void **state)
{
    static router_fixture f;
    char err[512];
    const char *paths[] = {TYPES_PB};
    f.schema = gw_schema_load(paths, 1, err, sizeof(err));
    if (!f.schema) {
        fprintf(stderr, "cannot load %s (run from the repository root after make tests): %s\n",
                TYPES_PB, err);
        return -1;
    }
    size_t n;
    const gw_method *methods = gw_schema_methods(f.schema, &n);
    if (gw_router_build(&f.router, methods, n, err, sizeof(err)) != 0) {
        fprintf(stderr, "gw_router_build: %s\n", err);
        return -1;
    }
    *state = &f;
    return 0;
}

static int router_teardown(void **state)
{
    router_fixture *f = *state;
    gw_router_free(&f->router);
    gw_schema_free(f->schema);
    return 0;
}

/* Routes (verb, path); want_method "" expects NOT_FOUND, "405" BAD_METHOD,
 * else the method path, the binding's template, and the variables. */
static void routes_to(const gw_router *r, const char *verb, const char *path,
                      const char *want_method, const char *want_template, const char *want_vars,
                      int line)
{
    const gw_route *route = NULL;
    gw_path_span spans[GW_ROUTE_MAX_VARS];
    gw_route_result res = gw_router_match(r, verb, path, &route, spans);
    if (res != GW_ROUTE_FOUND && route) /* the request is counted as no method's */
        fail_msg("line %d: %s %s: result %d with a route", line, verb, path, res);
    if (strcmp(want_method, "") == 0) {
        if (res != GW_ROUTE_NOT_FOUND)
            fail_msg("line %d: %s %s: result %d, want NOT_FOUND", line, verb, path, res);
        return;
    }
    if (strcmp(want_method, "405") == 0) {
        if (res != GW_ROUTE_BAD_METHOD)
            fail_msg("line %d: %s %s: result %d, want BAD_METHOD", line, verb, path, res);
        return;
    }
    if (res != GW_ROUTE_FOUND)
        fail_msg("line %d: %s %s: result %d, want FOUND (%s)", line, verb, path, res,
                 want_method);
    assert_non_null(route);
    if (strcmp(route->method->path, want_method) != 0 ||
        strcmp(route->binding->path_template, want_template) != 0 ||
        (strcmp(route->binding->verb, verb) != 0 &&
         !(strcmp(verb, "HEAD") == 0 && strcmp(route->binding->verb, "GET") == 0)))
        fail_msg("line %d: %s %s -> %s %s %s; want %s %s", line, verb, path,
                 route->binding->verb, route->binding->path_template, route->method->path,
                 want_method, want_template);
    char got[512] = "";
    for (size_t i = 0; i < route->tmpl.n_vars; i++)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s=%.*s", i ? "|" : "",
                 route->tmpl.vars[i].field_path, (int)spans[i].len, path + spans[i].start);
    if (strcmp(got, want_vars) != 0)
        fail_msg("line %d: %s %s\n   got vars: %s\n  want: %s", line, verb, path, got, want_vars);
}

#define ROUTE(verb, path, method, tmpl, vars) \
    routes_to(&f->router, verb, path, method, tmpl, vars, __LINE__)
#define NOT_FOUND(verb, path) routes_to(&f->router, verb, path, "", NULL, NULL, __LINE__)
#define BAD_METHOD(verb, path) routes_to(&f->router, verb, path, "405", NULL, NULL, __LINE__)

#define SVC "/unit.ThingService/"

static void test_router_table(void **state)
{
    router_fixture *f = *state;
    /* every binding of every method, streaming ones included; Internal has
     * no binding (and auto_map is off) */
    assert_int_equal(f->router.n_routes, 29);
    for (size_t i = 0; i < f->router.n_routes; i++)
        assert_string_not_equal(f->router.routes[i].method->path, SVC "Internal");
    /* the response_body of a binding comes along */
    const gw_route *route;
    gw_path_span spans[GW_ROUTE_MAX_VARS];
    assert_int_equal(gw_router_match(&f->router, "GET", "/v1/things/x/name", &route, spans),
                     GW_ROUTE_FOUND);
    assert_string_equal(route->binding->response_body, "name");
    assert_string_equal(route->binding->body, "");
    assert_int_equal(gw_router_match(&f->router, "PATCH", "/v1/things/x", &route, spans),
                     GW_ROUTE_FOUND);
    assert_string_equal(route->binding->body, "thing");
}

static void test_router_match(void **state)
{
    router_fixture *f = *state;
    ROUTE("GET", "/v1/things/t1", SVC "GetThing", "/v1/things/{id}", "id=t1");
    /* additional bindings */
    ROUTE("GET", "/v2/things/t1", SVC "GetThing", "/v2/things/{id}", "id=t1");
    ROUTE("DELETE", "/v1/things/t1", SVC "GetThing", "/v1/things/{id}", "id=t1");
    ROUTE("GET", "/v1/shelves/s/books/b", SVC "GetBook", "/v1/{name=shelves/*/books/*}",
          "name=shelves/s/books/b");
    ROUTE("POST", "/v1/things", SVC "CreateThing", "/v1/things", "");
    /* a rule with additional bindings and no pattern of its own */
    ROUTE("POST", "/v1/things/t1:archive", SVC "ArchiveThing", "/v1/things/{id}:archive",
          "id=t1");
    ROUTE("SEARCH", "/v1/things", SVC "Search", "/v1/things", "");                    /* custom */
    ROUTE("POST", "/v1/things/t1:activate", SVC "ActivateThing", "/v1/things/{id}:activate",
          "id=t1");
    ROUTE("PATCH", "/v1/things/t1", SVC "UpdateThing", "/v1/things/{thing.id}", "thing.id=t1");
    ROUTE("GET", "/v1/files/a/b/c", SVC "GetFile", "/v1/files/{path=**}", "path=a/b/c");
    ROUTE("GET", "/v1/files", SVC "GetFile", "/v1/files/{path=**}", "path=");
    ROUTE("GET", "/v1/things/t1/name", SVC "GetThingName", "/v1/things/{id}/name", "id=t1");
    ROUTE("PUT", "/v1/things/t1/name", SVC "RenameThing", "/v1/things/{id}/name", "id=t1");
    ROUTE("GET", "/v1/colors/RED", SVC "ListByColor", "/v1/colors/{color}", "color=RED");
    ROUTE("GET", "/v1/users/42/things", SVC "ListByColor", "/v1/users/{user_id}/things",
          "user_id=42");
    ROUTE("GET", "/v1/things/a%2Fb", SVC "GetThing", "/v1/things/{id}", "id=a%2Fb");
}

/* The most specific template matches first, whatever the order of the
 * methods and bindings in the descriptor. */
static void test_router_most_specific_first(void **state)
{
    router_fixture *f = *state;
    ROUTE("GET", "/v1/things/search", SVC "SearchThings", "/v1/things/search", "");
    ROUTE("GET", "/v1/things/searches", SVC "GetThing", "/v1/things/{id}", "id=searches");
    ROUTE("GET", "/v1/files/latest", SVC "SearchThings", "/v1/files/latest", "");
    ROUTE("GET", "/v1/files/latest/x", SVC "GetFile", "/v1/files/{path=**}", "path=latest/x");
    ROUTE("GET", "/v1/files/lates", SVC "GetFile", "/v1/files/{path=**}", "path=lates");
    BAD_METHOD("POST", "/v1/things/search");
    /* a template with a custom verb before one without */
    ROUTE("POST", "/v1/things/t1:activate", SVC "ActivateThing", "/v1/things/{id}:activate",
          "id=t1");
    /* the order is decided once, at build time */
    for (size_t i = 0; i + 1 < f->router.n_routes; i++) {
        const gw_template *a = &f->router.routes[i].tmpl, *b = &f->router.routes[i + 1].tmpl;
        assert_false(!a->verb && b->verb);
    }
}

static void test_router_not_found_and_bad_method(void **state)
{
    router_fixture *f = *state;
    NOT_FOUND("GET", "/");
    NOT_FOUND("GET", "/nope");
    NOT_FOUND("GET", "/v1");
    NOT_FOUND("GET", "/v1/things/");
    NOT_FOUND("GET", "/v1/things/a/b/c");
    NOT_FOUND("GET", "/v1/shelves/s/books");
    ROUTE("POST", "/v1/upload", SVC "Upload", "/v1/upload", ""); /* client streaming */
    ROUTE("POST", "/v1/chat", SVC "Chat", "/v1/chat", "");       /* bidi streaming */
    NOT_FOUND("GET", "/v3/things/t1");
    NOT_FOUND("GET", "v1/things/t1");
    /* the path exists, the verb does not */
    BAD_METHOD("PUT", "/v1/things/t1");
    BAD_METHOD("POST", "/v2/things/t1");
    BAD_METHOD("GET", "/v1/things");
    BAD_METHOD("DELETE", "/v1/things");
    BAD_METHOD("get", "/v1/things/t1");    /* verbs are case-sensitive */
    BAD_METHOD("DELETE", "/v1/shelves/s/books/b");
    BAD_METHOD("POST", "/v1/files/x");
    BAD_METHOD("DELETE", "/v1/things/t1/name");
    BAD_METHOD("DELETE", "/v1/colors/RED");
    /* HEAD is GET without the body: GET's route, where the path takes GET */
    ROUTE("HEAD", "/v1/things/t1", SVC "GetThing", "/v1/things/{id}", "id=t1");
    BAD_METHOD("HEAD", "/v1/things");
    /* an unknown verb is part of the id for GET /v1/things/{id}: the path
     * exists, for GET */
    BAD_METHOD("POST", "/v1/things/t1:deactivate");
    /* GET on the ActivateThing path reaches GetThing with id "t1:activate" */
    ROUTE("GET", "/v1/things/t1:activate", SVC "GetThing", "/v1/things/{id}", "id=t1:activate");
}

/* ---- router build errors ------------------------------------------------------- */

static void test_router_build_errors(void **state)
{
    (void)state;
    char err[512];
    const char *paths[] = {BADROUTE_PB};
    gw_schema *s = gw_schema_load(paths, 1, err, sizeof(err));
    if (!s)
        fail_msg("cannot load %s: %s", BADROUTE_PB, err);
    size_t n;
    const gw_method *methods = gw_schema_methods(s, &n);
    assert_int_equal(n, 13);

    static const struct {
        const char *method, *err;
    } cases[] = {
        {"/badroute.Broken/Fine", NULL},
        {"/badroute.Broken/Lookup",
         "GET /v1/lookup/{missing} (/badroute.Broken/Lookup): badroute.Req has no field "
         "'missing' (in 'missing')"},
        {"/badroute.Broken/BadBody",
         "POST /v1/badbody (/badroute.Broken/BadBody): body: badroute.Req has no field 'nope'"},
        {"/badroute.Broken/BadResponseBody",
         "GET /v1/badresponse (/badroute.Broken/BadResponseBody): response_body: badroute.Req "
         "has no field 'nope'"},
        {"/badroute.Broken/DeleteWithBody", NULL},
        {"/badroute.Broken/GetWithBody",
         "GET /v1/getbody (/badroute.Broken/GetWithBody): a GET binding cannot have a body"},
        {"/badroute.Broken/BadTemplate",
         "GET /v1/a/**/b (/badroute.Broken/BadTemplate): '**' must be the last segment"},
        {"/badroute.Broken/MessageVar",
         "GET /v1/msg/{sub} (/badroute.Broken/MessageVar): path variable 'sub' names a message "
         "field"},
        {"/badroute.Broken/WktVars", NULL},
        {"/badroute.Broken/RepeatedPath",
         "GET /v1/rep/{subs.id} (/badroute.Broken/RepeatedPath): 'subs' in 'subs.id' is not a "
         "singular message field"},
        {"/badroute.Broken/DupA", NULL},
        {"/badroute.Broken/DupB", NULL},
        {"/badroute.Broken/BadAdditional",
         "GET /v1/also/{sub.nope} (/badroute.Broken/BadAdditional): badroute.Sub has no field "
         "'nope' (in 'sub.nope')"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const gw_method *m = NULL;
        for (size_t j = 0; j < n; j++)
            if (strcmp(methods[j].path, cases[i].method) == 0)
                m = &methods[j];
        if (!m)
            fail_msg("%s is not in %s", cases[i].method, BADROUTE_PB);
        gw_router r;
        err[0] = '\0';
        int rc = gw_router_build(&r, m, 1, err, sizeof(err));
        if (!cases[i].err) {
            if (rc != 0)
                fail_msg("%s: gw_router_build failed: %s", cases[i].method, err);
            assert_int_equal(r.n_routes, m->n_bindings);
            gw_router_free(&r);
            continue;
        }
        if (rc != -1)
            fail_msg("%s: gw_router_build succeeded; want \"%s\"", cases[i].method, cases[i].err);
        if (strcmp(err, cases[i].err) != 0)
            fail_msg("%s:\n   error: %s\n  want: %s", cases[i].method, err, cases[i].err);
        /* a failed build leaves an empty router behind */
        assert_null(r.routes);
        assert_int_equal(r.n_routes, 0);
    }

    /* two methods that bind the same requests: refused, naming both */
    const gw_method *dup = NULL;
    for (size_t j = 0; j + 1 < n; j++)
        if (strcmp(methods[j].path, "/badroute.Broken/DupA") == 0)
            dup = &methods[j];
    assert_non_null(dup);
    assert_string_equal(dup[1].path, "/badroute.Broken/DupB");
    gw_router pair;
    assert_int_equal(gw_router_build(&pair, dup, 2, err, sizeof(err)), -1);
    assert_string_equal(err, "GET /v1/dup/{id} (/badroute.Broken/DupA) and GET /v1/dup/* "
                             "(/badroute.Broken/DupB) match the same requests");
    assert_int_equal(pair.n_routes, 0);

    /* all methods at once: the first bad binding stops the build */
    gw_router r;
    assert_int_equal(gw_router_build(&r, methods, n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "(/badroute.Broken/Lookup)"));
    assert_int_equal(r.n_routes, 0);
    gw_router_free(&r); /* freeing it again is harmless */
    gw_schema_free(s);
}

/* http.proto: additional bindings nest one level only */
static void test_schema_refuses_nested_additional_bindings(void **state)
{
    (void)state;
    char err[512];
    const char *paths[] = {NESTED_PB};
    assert_null(gw_schema_load(paths, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "/nested.Nested/Get: google.api.http additional_bindings may "
                                "not have additional_bindings of their own"));
}

/* ---- tables made here ---------------------------------------------------------- */

static const gw_message EMPTY_MESSAGE = {.full_name = "x.Empty"};

/* n methods; method i is paths[i] with one GET binding templates[i], or
 * none when templates is NULL or templates[i] is.  The caller frees it with
 * free_methods. */
static gw_method *make_methods(const char *const *paths, const char *const *templates, size_t n)
{
    gw_method *m = calloc(n, sizeof(*m));
    assert_non_null(m);
    for (size_t i = 0; i < n; i++) {
        m[i].path = strdup(paths[i]);
        m[i].input = m[i].output = &EMPTY_MESSAGE;
        if (templates && templates[i]) {
            m[i].bindings = calloc(1, sizeof(*m[i].bindings));
            m[i].bindings[0] = (gw_http_binding){"GET", templates[i], "", ""};
            m[i].n_bindings = 1;
        }
    }
    return m;
}

static void free_methods(gw_method *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].path);
        free(m[i].bindings);
    }
    free(m);
}

/* The method paths of r's routes, sorted, joined by spaces. */
static void routed(const gw_router *r, char *out, size_t n)
{
    const char *paths[16];
    assert_true(r->n_routes <= 16);
    for (size_t i = 0; i < r->n_routes; i++)
        paths[i] = r->routes[i].method->path;
    for (size_t i = 1; i < r->n_routes; i++)
        for (size_t j = i; j > 0 && strcmp(paths[j - 1], paths[j]) > 0; j--) {
            const char *t = paths[j];
            paths[j] = paths[j - 1];
            paths[j - 1] = t;
        }
    size_t w = 0;
    out[0] = '\0';
    for (size_t i = 0; i < r->n_routes && w < n; i++)
        w += (size_t)snprintf(out + w, n - w, "%s%s", i ? " " : "", paths[i]);
}

/* Only the services [gateway] services lists (a name listed twice too),
 * and of those only the ones the upstream serves; a service name is the
 * whole of the path's first part, not a prefix of it. */
static void test_router_services_and_served(void **state)
{
    (void)state;
    static const char *const paths[] = {"/a.A/M", "/a.A/N", "/a.AB/M", "/a.B/M", "/b.A/M"};
    gw_method *m = make_methods(paths, NULL, 5);
    char err[512] = "", got[512];
    gw_router r;

    gw_router_options all = {.auto_map = 1};
    assert_int_equal(gw_router_build_with(&r, m, 5, &all, err, sizeof(err)), 0);
    routed(&r, got, sizeof(got));
    assert_string_equal(got, "/a.A/M /a.A/N /a.AB/M /a.B/M /b.A/M");
    gw_router_free(&r);

    gw_names served = GW_NAMES_INIT;
    assert_int_equal(gw_names_add(&served, "a.A", 0), 0);
    assert_int_equal(gw_names_add(&served, "b.A", 1), 0);
    assert_int_equal(gw_names_add(&served, "a.ABC", 2), 0);
    gw_router_options opt = {.auto_map = 1, .served = &served};
    assert_int_equal(gw_router_build_with(&r, m, 5, &opt, err, sizeof(err)), 0);
    routed(&r, got, sizeof(got));
    assert_string_equal(got, "/a.A/M /a.A/N /b.A/M");
    assert_true(gw_router_served(&m[0], &opt));
    assert_false(gw_router_served(&m[2], &opt));
    assert_false(gw_router_served(&m[3], &opt));
    gw_router_free(&r);

    static const char *const listed[] = {"a.B", "a.A", "a.B"};
    opt.services = listed;
    opt.n_services = 3;
    assert_int_equal(gw_router_build_with(&r, m, 5, &opt, err, sizeof(err)), 0);
    routed(&r, got, sizeof(got));
    assert_string_equal(got, "/a.A/M /a.A/N"); /* a.B is not served */
    gw_router_free(&r);

    static const char *const missing[] = {"a.A", "a", "c.C"};
    opt.services = missing;
    assert_int_equal(gw_router_build_with(&r, m, 5, &opt, err, sizeof(err)), -1);
    assert_string_equal(err, "[gateway] services: a is not a service of the API");
    opt.allow_missing = 1;
    assert_int_equal(gw_router_build_with(&r, m, 5, &opt, err, sizeof(err)), 0);
    routed(&r, got, sizeof(got));
    assert_string_equal(got, "/a.A/M /a.A/N");
    gw_router_free(&r);
    gw_names_free(&served);
    free_methods(m, 5);
}

/* Of several pairs of twins, the error names the first route that has a
 * twin, and the first of its twins. */
static void test_router_conflict_named_first(void **state)
{
    (void)state;
    static const char *const paths[] = {"/x.S/A", "/x.S/B", "/x.S/C", "/x.S/D",
                                        "/x.S/E", "/x.S/F"};
    static const char *const templates[] = {"/only", "/b/*", "/c", "/b/*", "/c", "/b/*"};
    gw_method *m = make_methods(paths, templates, 6);
    char err[512] = "";
    gw_router r;
    assert_int_equal(gw_router_build(&r, m, 6, err, sizeof(err)), -1);
    assert_string_equal(err, "GET /b/* (/x.S/B) and GET /b/* (/x.S/D) match the same requests");
    assert_int_equal(gw_router_build(&r, m + 2, 4, err, sizeof(err)), -1);
    assert_string_equal(err, "GET /c (/x.S/C) and GET /c (/x.S/E) match the same requests");
    free_methods(m, 6);
}

/* 100,000 methods (GW_SCHEMA_MAX_METHODS) auto-mapped, in 100,000
 * services [gateway] services lists and the upstream serves: every one
 * gets its route, and the last one's twin is found.  Comparing every
 * route with every other took 47 s of CPU here. */
static void test_router_many_methods(void **state)
{
    (void)state;
    enum { N = GW_SCHEMA_MAX_METHODS };
    char **paths = calloc(N, sizeof(*paths)), **services = calloc(N, sizeof(*services));
    assert_true(paths && services);
    gw_names served = GW_NAMES_INIT;
    for (size_t i = 0; i < N; i++) {
        assert_true(asprintf(&paths[i], "/x.S%zu/M", i) > 0);
        services[i] = strndup(paths[i] + 1, strlen(paths[i]) - 3);
        assert_int_equal(gw_names_add(&served, services[i], i), 0);
    }
    gw_method *m = make_methods((const char *const *)paths, NULL, N);
    gw_router_options opt = {.auto_map = 1, .served = &served,
                             .services = (const char *const *)services, .n_services = N};
    char err[512] = "";
    gw_router r;
    if (gw_router_build_with(&r, m, N, &opt, err, sizeof(err)) != 0)
        fail_msg("gw_router_build_with: %s", err);
    assert_int_equal(r.n_routes, N);
    gw_router_free(&r);

    free(m[N - 1].path); /* the last method's route: the first's twin */
    m[N - 1].path = strdup(paths[0]);
    opt.services = NULL;
    assert_int_equal(gw_router_build_with(&r, m, N, &opt, err, sizeof(err)), -1);
    assert_string_equal(err, "POST /x.S0/M (/x.S0/M) and POST /x.S0/M (/x.S0/M) match the "
                             "same requests");
    free_methods(m, N);
    gw_names_free(&served);
    for (size_t i = 0; i < N; i++) {
        free(paths[i]);
        free(services[i]);
    }
    free(paths);
    free(services);
}

/* ---- the route index ------------------------------------------------------------ */

/* 1 if the "A, B, C" list names verb. */
static int in_list(const char *list, const char *verb)
{
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", list);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
        if (strcmp(tok, verb) == 0)
            return 1;
    return 0;
}

/* The index and the reference agree on (verb, path): the same result, the
 * same route, the same variables, the same Allow list. */
static void agrees(const gw_router *r, const char *verb, const char *path)
{
    const gw_route *got = NULL, *want = NULL;
    gw_path_span got_spans[GW_ROUTE_MAX_VARS], want_spans[GW_ROUTE_MAX_VARS];
    gw_route_result g = gw_router_match(r, verb, path, &got, got_spans);
    gw_route_result w = match_every_route(r, verb, path, &want, want_spans);
    if (g != w || got != want)
        fail_msg("%s %s: the router answers %d (%s), trying every route %d (%s)", verb, path, g,
                 got ? got->binding->path_template : "-", w,
                 want ? want->binding->path_template : "-");
    if (g == GW_ROUTE_FOUND)
        assert_memory_equal(got_spans, want_spans, got->tmpl.n_vars * sizeof(gw_path_span));
    char allowed[256];
    gw_router_allowed(r, path, allowed, sizeof(allowed));
    char want_allowed[256] = "";
    size_t len = 0;
    int saw_get = 0; /* HEAD follows the first GET route, when that one takes it */
    for (size_t i = 0; i < r->n_routes && len < sizeof(want_allowed); i++) {
        const char *v = r->routes[i].binding->verb;
        if (!gw_template_match(&r->routes[i].tmpl, path, want_spans))
            continue;
        if (!in_list(want_allowed, v))
            len += (size_t)snprintf(want_allowed + len, sizeof(want_allowed) - len, "%s%s",
                                    len ? ", " : "", v);
        if (strcmp(v, "GET") == 0 && !saw_get++ && !r->routes[i].method->server_streaming &&
            !in_list(want_allowed, "HEAD"))
            len += (size_t)snprintf(want_allowed + len, sizeof(want_allowed) - len, ", HEAD");
    }
    if (strcmp(allowed, want_allowed) != 0)
        fail_msg("%s: Allow \"%s\", want \"%s\"", path, allowed, want_allowed);
}

/* Methods /x.S/M<i>, method i with one binding verbs[i] templates[i]. */
static gw_method *make_bound_methods(const char *const *verbs, const char *const *templates,
                                     size_t n)
{
    gw_method *m = calloc(n, sizeof(*m));
    assert_non_null(m);
    for (size_t i = 0; i < n; i++) {
        assert_true(asprintf(&m[i].path, "/x.S/M%zu", i) > 0);
        m[i].input = m[i].output = &EMPTY_MESSAGE;
        m[i].bindings = calloc(1, sizeof(*m[i].bindings));
        m[i].bindings[0] = (gw_http_binding){verbs[i], templates[i], "", ""};
        m[i].n_bindings = 1;
    }
    return m;
}

/* Every path of up to four segments over a small alphabet, with and
 * without a custom verb, and each verb: the router, which tries only the
 * routes its index names, answers as trying every route does. */
static void test_router_index_agrees_with_every_route(void **state)
{
    (void)state;
    static const char *const templates[] = {
        "/", "/a", "/a/b", "/a/*", "/*/b", "/a/**", "/**", "/a/b:run", "/a/*:run",
        "/*:go", "/a:b/c", "/x/*/y/**", "/a/b/c", "/*/*", "/*/*/*", "/b/**:run", "/a/b",
        "/*", "/a/*/c", "/c"};
    static const char *const verbs[] = {
        "GET", "GET", "GET", "GET", "GET", "GET", "GET", "POST", "POST",
        "POST", "GET", "GET", "PUT", "PUT", "GET", "POST", "DELETE",
        "PATCH", "GET", "SEARCH"};
    enum { N = sizeof(templates) / sizeof(templates[0]) };
    gw_method *m = make_bound_methods(verbs, templates, N);
    gw_router r;
    char err[512] = "";
    if (gw_router_build(&r, m, N, err, sizeof(err)) != 0)
        fail_msg("gw_router_build: %s", err);
    static const char *const segs[] = {"a", "b", "c", "x", "y", "", "a:b", "b:run", "q:go",
                                       "a%2F", "a:b:run"};
    enum { S = sizeof(segs) / sizeof(segs[0]) };
    static const char *const tails[] = {"", ":run", ":go", ":"};
    static const char *const try_verbs[] = {"GET", "POST", "PUT", "SEARCH", "HEAD"};
    size_t tried = 0;
    for (size_t depth = 1; depth <= 4; depth++) {
        size_t count = 1;
        for (size_t d = 0; d < depth; d++)
            count *= S;
        for (size_t k = 0; k < count; k++) {
            char path[128] = "";
            size_t len = 0;
            for (size_t d = 0, c = k; d < depth; d++, c /= S)
                len += (size_t)snprintf(path + len, sizeof(path) - len, "/%s", segs[c % S]);
            for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
                char full[160];
                snprintf(full, sizeof(full), "%s%s", path, tails[t]);
                for (size_t v = 0; v < sizeof(try_verbs) / sizeof(try_verbs[0]); v++, tried++)
                    agrees(&r, try_verbs[v], full);
            }
        }
    }
    assert_true(tried > 250000);
    agrees(&r, "GET", "");
    agrees(&r, "GET", "a/b");
    gw_router_free(&r);
    free_methods(m, N);
}

/* More routes than the router takes from its index may match one path
 * (one template, 100 verbs): it tries every route, and still answers. */
static void test_router_index_many_candidates(void **state)
{
    (void)state;
    enum { N = 100 };
    const char *verbs[N], *templates[N];
    char names[N][16];
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "VERB%zu", i);
        verbs[i] = names[i];
        templates[i] = i % 2 ? "/v1/*" : "/v1/**";
    }
    gw_method *m = make_bound_methods(verbs, templates, N);
    gw_router r;
    char err[512] = "";
    if (gw_router_build(&r, m, N, err, sizeof(err)) != 0)
        fail_msg("gw_router_build: %s", err);
    size_t cand[8];
    assert_true(gw_route_index_candidates(&r.index, "/v1/x", cand, 8) == GW_ROUTE_INDEX_MANY);
    assert_int_equal(gw_route_index_candidates(&r.index, "/v2/x", cand, 8), 0);
    const gw_route *route;
    gw_path_span spans[GW_ROUTE_MAX_VARS];
    assert_int_equal(gw_router_match(&r, "VERB99", "/v1/x", &route, spans), GW_ROUTE_FOUND);
    assert_string_equal(route->method->path, "/x.S/M99");
    assert_int_equal(gw_router_match(&r, "VERB98", "/v1/x/y", &route, spans), GW_ROUTE_FOUND);
    assert_string_equal(route->method->path, "/x.S/M98");
    assert_int_equal(gw_router_match(&r, "GET", "/v1/x", &route, spans), GW_ROUTE_BAD_METHOD);
    agrees(&r, "VERB1", "/v1/x");
    agrees(&r, "VERB1", "/v1");
    gw_router_free(&r);
    free_methods(m, N);
}

/* A router of n GET routes, route i's template made by template_of(i). */
typedef struct get_table {
    size_t n;
    char **templates;
    gw_method *methods;
    gw_router router;
} get_table;

static void get_table_build(get_table *t, size_t n, char *(*template_of)(size_t))
{
    t->n = n;
    t->templates = calloc(n, sizeof(*t->templates));
    const char **verbs = calloc(n, sizeof(*verbs));
    assert_true(t->templates && verbs);
    for (size_t i = 0; i < n; i++) {
        verbs[i] = "GET";
        t->templates[i] = template_of(i);
    }
    t->methods = make_bound_methods(verbs, (const char *const *)t->templates, n);
    free(verbs);
    char err[512] = "";
    if (gw_router_build(&t->router, t->methods, n, err, sizeof(err)) != 0)
        fail_msg("gw_router_build: %s", err);
}

static void get_table_free(get_table *t)
{
    gw_router_free(&t->router);
    free_methods(t->methods, t->n);
    for (size_t i = 0; i < t->n; i++)
        free(t->templates[i]);
    free(t->templates);
}

static char *project_things(size_t i)
{
    char *s;
    assert_true(asprintf(&s, "/v1/projects/*/things%zu/*", i) > 0);
    return s;
}

/* 100,000 routes of one shape but for a literal: a path is matched against
 * the one route its index names, not the 100,000 (checked by count: the
 * candidates, not the time). */
static void test_router_index_narrows_a_large_table(void **state)
{
    (void)state;
    get_table t;
    get_table_build(&t, GW_SCHEMA_MAX_METHODS, project_things);
    const gw_router *r = &t.router;
    size_t cand[8];
    assert_int_equal(gw_route_index_candidates(&r->index, "/v1/projects/p/things77777/t", cand, 8),
                     1);
    assert_string_equal(r->routes[cand[0]].method->path, "/x.S/M77777");
    assert_int_equal(gw_route_index_candidates(&r->index, "/v1/projects/p/other/t", cand, 8), 0);
    const gw_route *route;
    gw_path_span spans[GW_ROUTE_MAX_VARS];
    assert_int_equal(gw_router_match(r, "GET", "/v1/projects/p/things99999/t", &route, spans),
                     GW_ROUTE_FOUND);
    assert_string_equal(route->method->path, "/x.S/M99999");
    get_table_free(&t);
}

static char *six_unshared(size_t i)
{
    char *s;
    assert_true(asprintf(&s, "/a%zu/b%zu/c%zu/d%zu/e%zu/f%zu", i, i, i, i, i, i) > 0);
    return s;
}

/* Templates of many literal segments, none shared: the trie stops at
 * 2n + 1024 nodes, and the routes it did not follow to their end are
 * still found (and nothing else is). */
static void test_router_index_is_bounded(void **state)
{
    (void)state;
    enum { N = 2000, SEGS = 6 };
    get_table t;
    get_table_build(&t, N, six_unshared);
    const gw_router *r = &t.router;
    assert_true(r->index.n_nodes <= 2 * N + 1024);
    assert_true(r->index.n_nodes < N * SEGS);
    for (size_t i = 0; i < N; i += 7) {
        agrees(r, "GET", t.templates[i]);
        char miss[128];
        snprintf(miss, sizeof(miss), "%.*s/x",
                 (int)(strrchr(t.templates[i], '/') - t.templates[i]), t.templates[i]);
        agrees(r, "GET", miss);
    }
    const gw_route *route;
    gw_path_span spans[GW_ROUTE_MAX_VARS];
    assert_int_equal(gw_router_match(r, "GET", t.templates[N - 1], &route, spans),
                     GW_ROUTE_FOUND);
    assert_string_equal(route->binding->path_template, t.templates[N - 1]);
    get_table_free(&t);
}

/* The table of types.proto: the index agrees with trying every route on
 * the paths the other tests use. */
static void test_router_index_agrees_on_the_types_table(void **state)
{
    router_fixture *f = *state;
    static const char *const paths[] = {
        "/v1/things/t1", "/v2/things/t1", "/v1/shelves/s/books/b", "/v1/things",
        "/v1/things/t1:archive", "/v1/things/t1:activate", "/v1/files/a/b/c", "/v1/files",
        "/v1/things/t1/name", "/v1/colors/RED", "/v1/users/42/things", "/v1/things/a%2Fb",
        "/v1/things/search", "/v1/things/searches", "/v1/files/latest", "/v1/files/latest/x",
        "/", "/nope", "/v1", "/v1/things/", "/v1/things/a/b/c", "/v1/shelves/s/books",
        "/v1/upload", "/v1/chat", "/v1/things/t1:deactivate", "v1/things/t1", "/v1/files/"};
    static const char *const verbs[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "SEARCH",
                                        "get"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
            agrees(&f->router, verbs[v], paths[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_match_literals_and_stars),
        cmocka_unit_test(test_match_variables),
        cmocka_unit_test(test_match_verbs),
        cmocka_unit_test(test_match_long_paths),
        cmocka_unit_test(test_decode_single_segment),
        cmocka_unit_test(test_decode_multi_segment),
        cmocka_unit_test_setup_teardown(test_router_table, router_setup, router_teardown),
        cmocka_unit_test_setup_teardown(test_router_match, router_setup, router_teardown),
        cmocka_unit_test_setup_teardown(test_router_not_found_and_bad_method, router_setup,
                                        router_teardown),
        cmocka_unit_test_setup_teardown(test_router_most_specific_first, router_setup,
                                        router_teardown),
        cmocka_unit_test(test_router_build_errors),
        cmocka_unit_test(test_schema_refuses_nested_additional_bindings),
        cmocka_unit_test(test_router_services_and_served),
        cmocka_unit_test(test_router_conflict_named_first),
        cmocka_unit_test(test_router_many_methods),
        cmocka_unit_test(test_router_index_agrees_with_every_route),
        cmocka_unit_test(test_router_index_many_candidates),
        cmocka_unit_test(test_router_index_narrows_a_large_table),
        cmocka_unit_test(test_router_index_is_bounded),
        cmocka_unit_test_setup_teardown(test_router_index_agrees_on_the_types_table,
                                        router_setup, router_teardown),
    };
    return cmocka_run_group_tests_name("gw_route", tests, NULL, NULL);
}
