/*
 * test_gw_bind.c -- gateway/gw_bind.c: building the JSON form of a request
 * message from the body, the path variables and the query string, for the
 * bindings of unit.ThingService in build/tests/types.pb.
 *
 * Requests are written "VERB /path?query"; the query is split on '&' and
 * the first '=' and handed over still percent-encoded, as the HTTP layer
 * does.  Expected JSON uses single quotes (q() makes them double) and is
 * compared with sorted keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../gateway/gw_bind.h"
#include "../../gateway/gw_json.h"
#include "../../gateway/gw_route.h"
#include "../../gateway/gw_schema.h"

#ifndef BUILD_DIR /* the Makefile passes its build folder */
#define BUILD_DIR "build"
#endif
#define TYPES_PB BUILD_DIR "/tests/types.pb"
#define MAX_PARAMS 32

static gw_schema *schema;
static gw_router router;
static int ignore_unknown_query; /* passed to gw_bind_request; set by one test */
static gw_json_options json_options; /* the body's: set by one test */

/* ---- helpers ------------------------------------------------------------- */

static char *q(const char *s)
{
    char *out = strdup(s);
    assert_non_null(out);
    for (char *p = out; *p; p++)
        if (*p == '\'')
            *p = '"';
    return out;
}

/* A request split the way the HTTP layer splits it. */
typedef struct request {
    char verb[16];
    char path[1024];
    char query[1024];
    gw_query_param params[MAX_PARAMS];
    size_t n_params;
} request;

static void split_request(const char *line_text, request *r)
{
    memset(r, 0, sizeof(*r));
    const char *sp = strchr(line_text, ' ');
    assert_non_null(sp);
    snprintf(r->verb, sizeof(r->verb), "%.*s", (int)(sp - line_text), line_text);
    const char *target = sp + 1;
    const char *qm = strchr(target, '?');
    snprintf(r->path, sizeof(r->path), "%.*s", (int)(qm ? qm - target : (long)strlen(target)),
             target);
    if (!qm)
        return;
    snprintf(r->query, sizeof(r->query), "%s", qm + 1);
    for (char *p = r->query; p && *p;) {
        char *amp = strchr(p, '&');
        if (amp)
            *amp = '\0';
        char *eq = strchr(p, '=');
        if (eq)
            *eq = '\0';
        assert_true(r->n_params < MAX_PARAMS);
        r->params[r->n_params++] = (gw_query_param){p, eq ? eq + 1 : NULL};
        p = amp ? amp + 1 : NULL;
    }
}

/* The bytes the last bind() gave to append to the encoding (a PATCH's
 * FieldMask), and what gw_bind_request returned. */
static gw_buf tail = GW_BUF_INIT;
static gw_result bind_rc;

/* Routes and binds; returns the object or NULL with err set. */
static json_t *bind(const char *line_text, const char *body, size_t body_len, char *err,
                    size_t errlen, int line)
{
    request r;
    split_request(line_text, &r);
    const gw_route *route = NULL;
    gw_path_span spans[GW_ROUTE_MAX_VARS];
    if (gw_router_match(&router, r.verb, r.path, &route, spans) != GW_ROUTE_FOUND)
        fail_msg("line %d: no route for %s", line, line_text);
    /* the body in a buffer of exactly body_len bytes: no terminating NUL */
    char *copy = malloc(body_len ? body_len : 1);
    assert_non_null(copy);
    memcpy(copy, body ? body : "", body_len);
    err[0] = '\0';
    gw_buf_free(&tail);
    tail = (gw_buf)GW_BUF_INIT;
    gw_bind_options opt = {ignore_unknown_query, &json_options, NULL};
    json_t *json = NULL;
    bind_rc = gw_bind_request(route, r.path, spans, copy, body_len, r.params, r.n_params, &opt,
                              &json, &tail, err, errlen);
    free(copy);
    return json;
}

/* A check's failure report.  Helpers write it, free what they hold, then
 * settle(): so a failing test does not show up as a leak under valgrind. */
static char why[4096];

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void note(const char *fmt, ...)
{
    if (why[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
}

static void settle(void)
{
    if (why[0])
        fail_msg("%s", why);
}

static const gw_route *route_of(const char *line_text)
{
    request r;
    split_request(line_text, &r);
    const gw_route *route = NULL;
    gw_path_span spans[GW_ROUTE_MAX_VARS];
    gw_router_match(&router, r.verb, r.path, &route, spans);
    return route;
}

/* The binder's object, printed compactly with sorted keys, must be `want`. */
static void binds_to(const char *line_text, const char *body, const char *want, int line)
{
    char err[512];
    why[0] = '\0';
    json_t *json = bind(line_text, body, body ? strlen(body) : 0, err, sizeof(err), line);
    if (!json)
        fail_msg("line %d: %s: gw_bind_request failed: %s", line, line_text, err);
    char *got = json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    char *expected = q(want);
    json_decref(json);
    if (strcmp(got, expected) != 0)
        note("line %d: %s (body %s)\n   got: %s\n  want: %s", line, line_text,
             body ? body : "none", got, expected);
    free(got);
    free(expected);
    settle();
}

#define BIND(req, body, want) binds_to(req, body, want, __LINE__)

/* The whole request path: bind, encode as the method's input
 * (gw_bind_encode), print back as canonical proto3 JSON. */
static void transcodes_to(const char *line_text, const char *body, const char *want, int line)
{
    char err[512];
    why[0] = '\0';
    json_t *json = bind(line_text, body, body ? strlen(body) : 0, err, sizeof(err), line);
    if (!json)
        fail_msg("line %d: %s: gw_bind_request failed: %s", line, line_text, err);
    const gw_route *route = route_of(line_text);
    const gw_message *input = route->method->input;
    gw_buf wire = GW_BUF_INIT, text = GW_BUF_INIT;
    char *expected = q(want);
    gw_result rc = gw_bind_encode(route, json, NULL, &wire, err, sizeof(err));
    if (rc == GW_OK)
        gw_buf_append(&wire, tail.data, tail.len); /* a PATCH's FieldMask */
    if (rc != GW_OK)
        note("line %d: %s: gw_bind_encode failed: %s", line, line_text, err);
    else if (gw_proto_to_json(input, wire.data, wire.len, NULL, &text, err, sizeof(err)) != GW_OK)
        note("line %d: %s: gw_proto_to_json failed: %s", line, line_text, err);
    else if (text.len != strlen(expected) || memcmp(text.data, expected, text.len) != 0)
        note("line %d: %s\n   got: %.*s\n  want: %s", line, line_text, (int)text.len,
             (char *)text.data, expected);
    json_decref(json);
    free(expected);
    gw_buf_free(&wire);
    gw_buf_free(&text);
    settle();
}

#define TRANSCODE(req, body, want) transcodes_to(req, body, want, __LINE__)

/* Binding must refuse the request (GW_REFUSED, not GW_NOMEM) with a
 * reason containing `want`. */
static void bind_fails(const char *line_text, const char *body, const char *want, int line)
{
    char err[GW_BIND_ERR_SIZE];
    why[0] = '\0';
    json_t *json = bind(line_text, body, body ? strlen(body) : 0, err, sizeof(err), line);
    if (json) {
        char *got = json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS);
        note("line %d: %s: bound to %s; want an error (%s)", line, line_text, got, want);
        free(got);
        json_decref(json);
    } else if (bind_rc != GW_REFUSED) {
        note("line %d: %s: returned %d (%s); want GW_REFUSED (%s)", line, line_text, bind_rc, err,
             want);
    } else if (!strstr(err, want)) {
        note("line %d: %s\n   error: %s\n  want: %s", line, line_text, err, want);
    }
    settle();
}

#define BIND_ERR(req, body, want) bind_fails(req, body, want, __LINE__)

/* Binding succeeds, but the request is not a valid message: the codec
 * refuses it with a reason containing `want` (or the binder already did). */
static void transcode_fails(const char *line_text, const char *body, const char *want, int line)
{
    char err[512];
    why[0] = '\0';
    json_t *json = bind(line_text, body, body ? strlen(body) : 0, err, sizeof(err), line);
    if (!json) {
        if (!strstr(err, want))
            note("line %d: %s\n   bind error: %s\n  want: %s", line, line_text, err, want);
        settle();
        return;
    }
    gw_buf wire = GW_BUF_INIT;
    err[0] = '\0';
    gw_result rc = gw_bind_encode(route_of(line_text), json, NULL, &wire, err, sizeof(err));
    char *got = json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS);
    if (rc != GW_REFUSED)
        note("line %d: %s: transcoded (as %s); want an error (%s)", line, line_text, got, want);
    else if (!strstr(err, want))
        note("line %d: %s\n   error: %s\n  want: %s", line, line_text, err, want);
    free(got);
    json_decref(json);
    gw_buf_free(&wire);
    settle();
}

#define TRANSCODE_ERR(req, body, want) transcode_fails(req, body, want, __LINE__)

/* ---- fixture -------------------------------------------------------------- */

static int load(void **state)
{
    (void)state;
    char err[512];
    const char *paths[] = {TYPES_PB, BUILD_DIR "/tests/proto2.pb"};
    schema = gw_schema_load(paths, 2, err, sizeof(err));
    if (!schema) {
        fprintf(stderr, "cannot load %s (run from the repository root after make tests): %s\n",
                TYPES_PB, err);
        return -1;
    }
    size_t n;
    const gw_method *methods = gw_schema_methods(schema, &n);
    if (gw_router_build(&router, methods, n, err, sizeof(err)) != 0) {
        fprintf(stderr, "gw_router_build: %s\n", err);
        return -1;
    }
    return 0;
}

static int unload(void **state)
{
    (void)state;
    gw_router_free(&router);
    gw_buf_free(&tail);
    gw_schema_free(schema);
    return 0;
}

/* proto2: a group is a message to dotted query parameters and to a PATCH's
 * mask; a closed enum takes only its own numbers there too. */
static void test_proto2_groups_and_closed_enums(void **state)
{
    (void)state;
    BIND("GET /v2/p2?mygroup.g=3", NULL, "{'mygroup':{'g':'3'}}");
    TRANSCODE("GET /v2/p2?mygroup.g=3&c=GREEN", NULL, "{'c':'GREEN','mygroup':{'g':3}}");
    TRANSCODE_ERR("GET /v2/p2?c=99", NULL, "99 is not a value of enum unit2.P2.Color");
    TRANSCODE("PATCH /v2/p2", "{\"mygroup\":{\"g\":1},\"req\":2}",
              "{'p2':{'req':2,'mygroup':{'g':1}},'mask':'mygroup.g,req'}");
    /* a Struct's (or Value's) keys are its fields: one path each, as
     * grpc-gateway makes them; an empty object or another value is a leaf */
    TRANSCODE("PATCH /v2/p2", "{\"attrs\":{\"a\":1,\"b\":{\"c\":2,\"d\":{}}},\"req\":2}",
              "{'p2':{'req':2,'attrs':{'a':1,'b':{'c':2,'d':{}}}},"
              "'mask':'attrs.a,attrs.b.c,attrs.b.d,req'}");
    TRANSCODE("PATCH /v2/p2", "{\"extra\":{\"k\":[1]},\"attrs\":{}}",
              "{'p2':{'attrs':{},'extra':{'k':[1]}},'mask':'extra.k,attrs'}");
    TRANSCODE("PATCH /v2/p2", "{\"extra\":5}", "{'p2':{'extra':5},'mask':'extra'}");
}

/* ---- body "*" ----------------------------------------------------------------- */

static void test_body_star(void **state)
{
    (void)state;
    BIND("POST /v1/things", "{\"id\":\"a\",\"name\":\"n\"}", "{'id':'a','name':'n'}");
    BIND("POST /v1/things", "{\"thing\":{\"tags\":[\"x\"]},\"nums\":[1,2]}",
         "{'nums':[1,2],'thing':{'tags':['x']}}");
    BIND("POST /v1/things", "  {}\n", "{}");
    BIND("POST /v1/things", NULL, "{}"); /* no body: the empty message */
    BIND("POST /v1/things", "", "{}");
    /* JSON's whitespace alone is no body either, as grpc-gateway reads it */
    BIND("POST /v1/things", " \r\n\t\n", "{}");
    BIND("POST /v1/things/abc:activate", "\n", "{'id':'abc'}");
    /* with body "*", the query string does not take part */
    BIND("POST /v1/things?name=fromquery&nope=1", "{\"id\":\"a\"}", "{'id':'a'}");
    TRANSCODE("POST /v1/things", "{\"user_id\":5,\"page_size\":\"7\",\"color\":\"RED\"}",
              "{'color':'RED','pageSize':7,'userId':'5'}");
}

static void test_body_star_path_overrides(void **state)
{
    (void)state;
    BIND("POST /v1/things/abc:activate", "{\"id\":\"body\",\"name\":\"n\"}",
         "{'id':'abc','name':'n'}");
    BIND("POST /v1/things/abc:activate", NULL, "{'id':'abc'}");
    BIND("POST /v1/things/a%2Fb:activate", "{}", "{'id':'a/b'}");
    TRANSCODE("POST /v1/things/abc:activate", "{\"id\":\"body\",\"flag\":true}",
              "{'id':'abc','flag':true}");
    /* the body's value must still be valid for its field (grpc-gateway
     * decodes the body first) */
    BIND_ERR("POST /v1/things/abc:activate", "{\"id\":5}", "expected a string");
    BIND_ERR("POST /v1/things/abc:activate", "{\"id\":{\"a\":1}}", "expected a string");
    BIND("POST /v1/things/abc:activate", "{\"id\":null}", "{'id':'abc'}");
}

static void test_body_field(void **state)
{
    (void)state;
    /* body "thing": the body is that field; the path variable goes inside it */
    BIND("PATCH /v1/things/t1", "{\"name\":\"x\",\"id\":\"other\"}",
         "{'thing':{'id':'t1','name':'x'}}");
    BIND("PATCH /v1/things/t1", NULL, "{'thing':{'id':'t1'}}");
    BIND("PATCH /v1/things/t1", "\n", "{'thing':{'id':'t1'}}");
    /* other fields come from the query string */
    BIND("PATCH /v1/things/t1?flag=true&tags=a&tags=b", "{\"name\":\"x\"}",
         "{'flag':true,'tags':['a','b'],'thing':{'id':'t1','name':'x'}}");
    TRANSCODE("PATCH /v1/things/t1?pageSize=3", "{\"count\":2,\"color\":2}",
              "{'thing':{'id':'t1','count':2,'color':'GREEN'},'pageSize':3}");
    /* body "name": a string field; any JSON value is taken as the field's */
    BIND("PUT /v1/things/x/name", "\"new name\"", "{'id':'x','name':'new name'}");
    BIND("PUT /v1/things/x/name?flag=1", "\"n\"", "{'flag':true,'id':'x','name':'n'}");
    TRANSCODE_ERR("PUT /v1/things/x/name", "5", "field 'name': expected a string, got an integer");
    TRANSCODE_ERR("PATCH /v1/things/t1", "{\"count\":\"many\"}",
                  "field 'thing.count': 'many' is not a valid integer");
}

/* A body that is not an object for a message field must not vanish when a
 * path variable is bound inside that field: the request is refused. */
static void test_body_field_not_object(void **state)
{
    (void)state;
    TRANSCODE_ERR("PATCH /v1/things/t1", "[1,2]", "field 'thing': expected an object");
    TRANSCODE_ERR("PATCH /v1/things/t1", "\"text\"", "field 'thing': expected an object");
    TRANSCODE_ERR("PATCH /v1/things/t1", "7", "field 'thing': expected an object");
}

/* ---- no body: path variables and query parameters ------------------------------- */

static void test_path_variables(void **state)
{
    (void)state;
    BIND("GET /v1/things/t1", NULL, "{'id':'t1'}");
    BIND("GET /v1/things/a%2Fb", NULL, "{'id':'a/b'}");       /* one segment: decoded */
    BIND("GET /v1/things/a%20b+c", NULL, "{'id':'a b+c'}");   /* '+' is not a space here */
    BIND("GET /v1/things/%C3%A9", NULL, "{'id':'\xc3\xa9'}");
    BIND("GET /v1/shelves/s1/books/b%201", NULL, "{'name':'shelves/s1/books/b 1'}");
    BIND("GET /v1/shelves/s%2F1/books/b", NULL, "{'name':'shelves/s%2F1/books/b'}"); /* kept */
    BIND("GET /v1/files/a/b%2Fc/d.txt", NULL, "{'path':'a/b%2Fc/d.txt'}");
    BIND("GET /v1/files", NULL, "{'path':''}");
    BIND("GET /v1/users/42/things", NULL, "{'userId':'42'}");
    BIND("GET /v1/colors/GREEN", NULL, "{'color':'GREEN'}");
    BIND("GET /v1/flags/true", NULL, "{'flag':true}");
    BIND("GET /v1/flags/F", NULL, "{'flag':false}");
    TRANSCODE("GET /v1/users/42/things", NULL, "{'userId':'42'}");
    TRANSCODE("GET /v1/colors/BLUE", NULL, "{'color':'BLUE'}");
    BIND_ERR("GET /v1/things/a%G1", NULL, "path variable 'id': malformed percent-encoding");
    BIND_ERR("GET /v1/things/abc%", NULL, "path variable 'id': malformed percent-encoding");
    BIND_ERR("GET /v1/files/a/%zz", NULL, "path variable 'path': malformed percent-encoding");
    BIND_ERR("GET /v1/things/%FF", NULL, "field 'id': value is not valid UTF-8");
    BIND_ERR("GET /v1/flags/yes", NULL, "field 'flag': 'yes' is not true or false");
    TRANSCODE_ERR("GET /v1/colors/PURPLE", NULL, "'PURPLE' is not a value of enum unit.Color");
    TRANSCODE_ERR("GET /v1/users/x1/things", NULL, "field 'userId': 'x1' is not a valid integer");
}

/* A path or query value that the enum lacks is refused while binding, so
 * that the body's json_ignore_unknown_fields, which drops unknown names in
 * the body, does not drop them here. */
static void test_enum_text_refused_while_binding(void **state)
{
    (void)state;
    BIND_ERR("GET /v1/colors/PURPLE", NULL,
             "field 'color': 'PURPLE' is not a value of enum unit.Color");
    BIND_ERR("GET /v1/things/t1?color=purple", NULL,
             "field 'color': 'purple' is not a value of enum unit.Color");
    BIND_ERR("GET /v1/things/t1?colors=RED&colors=NOPE", NULL,
             "field 'colors': 'NOPE' is not a value of enum unit.Color");
    BIND_ERR("GET /v1/things/t1?levels[1]=NOPE", NULL, "'NOPE' is not a value of enum unit.Color");
    BIND_ERR("GET /v1/things/t1?color=%00RED", NULL, "is not a value of enum unit.Color");
    BIND("GET /v1/things/t1?colors=RED&colors=3", NULL, "{'colors':['RED',3],'id':'t1'}");
    BIND("GET /v1/things/t1?color=-2", NULL, "{'color':-2,'id':'t1'}");
    /* a number the enum lacks: refused in the path and query, as
     * grpc-gateway does, though a proto3 body takes it */
    BIND_ERR("GET /v1/things/t1?colors=RED&colors=7", NULL,
             "field 'colors': 7 is not a value of enum unit.Color");
    BIND_ERR("GET /v1/colors/4", NULL, "field 'color': 4 is not a value of enum unit.Color");
    BIND("PUT /v1/colors/RED", "{\"thing\":{\"color\":7}}", "{'color':'RED','thing':{'color':7}}");
    /* errors name the parameter as written */
    BIND_ERR("GET /v1/things/t1?thing.color=NOPE", NULL,
             "field 'thing.color': 'NOPE' is not a value of enum unit.Color");
    BIND_ERR("GET /v1/things/t1?levels[7]=NOPE", NULL,
             "field 'levels[7]': 'NOPE' is not a value of enum unit.Color");
}

/* A body value that a path variable replaces is checked with the body's
 * options: with ignore_unknown_fields an unknown enum name is dropped, as
 * the rest of the body's are (then the path sets the field). */
static void test_replaced_body_value_checked_with_the_body_options(void **state)
{
    (void)state;
    BIND_ERR("PUT /v1/colors/RED", "{\"color\":\"NOPE\"}", "'NOPE' is not a value of enum");
    BIND_ERR("PUT /v1/colors/RED", "{\"thing\":{\"count\":\"x\"},\"color\":1}",
             "field 'thing.count'");
    json_options.ignore_unknown_fields = 1;
    BIND("PUT /v1/colors/RED", "{\"color\":\"NOPE\"}", "{'color':'RED'}");
    BIND_ERR("PUT /v1/colors/RED", "{\"color\":{}}", "color");
    json_options.ignore_unknown_fields = 0;
}

/* A numeric enum in a path variable is read from the variable's text alone.
 * (Run under valgrind, this also shows any read past the decoded text.) */
static void test_enum_path_number(void **state)
{
    (void)state;
    BIND("GET /v1/colors/2", NULL, "{'color':2}");
    BIND("GET /v1/colors/-2", NULL, "{'color':-2}");
    BIND("GET /v1/colors/12345678901", NULL, "{'color':12345678901}");
    TRANSCODE("GET /v1/colors/2", NULL, "{'color':'GREEN'}");
}

/* The same, in a child process whose malloc fills new memory with '7' and
 * has no thread cache (glibc tunables), so that bytes after the decoded
 * text are digits: the value must still be 2.  Deterministic where the
 * in-process test depends on what the heap held before. */
#define PERTURB_CHILD_ENV "GW_BIND_TEST_PERTURB_CHILD"

/* This program, to run again as the child.  From argv[0]: under valgrind,
 * /proc/self/exe is valgrind's own tool. */
static char self_path[4096] = "/proc/self/exe";

static int perturb_child(void)
{
    if (load(NULL) != 0)
        return 2;
    char err[512];
    json_t *json = bind("GET /v1/colors/2", NULL, 0, err, sizeof(err), __LINE__);
    if (!json) {
        printf("error: %s\n", err);
        return 1;
    }
    char *text = json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS);
    printf("%s\n", text);
    free(text);
    json_decref(json);
    unload(NULL);
    return 0;
}

static void test_enum_path_number_poisoned_heap(void **state)
{
    (void)state;
    int out[2];
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        setenv(PERTURB_CHILD_ENV, "1", 1);
        setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0:glibc.malloc.perturb=200", 1);
        execl(self_path, "test_gw_bind", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char buf[512];
    size_t got = 0;
    ssize_t r;
    while (got + 1 < sizeof(buf) && (r = read(out[0], buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(out[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("child exited with status %d: %s", status, buf);
    assert_string_equal(buf, "{\"color\":2}\n");
}

static void test_query_parameters(void **state)
{
    (void)state;
    BIND("GET /v1/things/t1?name=n&flag=true", NULL, "{'flag':true,'id':'t1','name':'n'}");
    /* map fields, as grpc-gateway reads them: name[key]=value */
    BIND("GET /v1/things/t1?labels[env]=prod&labels[app.k8s.io/name]=x", NULL,
         "{'id':'t1','labels':{'app.k8s.io/name':'x','env':'prod'}}");
    BIND("GET /v1/things/t1?labels%5Benv%5D=prod&labels[]=empty", NULL,
         "{'id':'t1','labels':{'':'empty','env':'prod'}}");
    TRANSCODE("GET /v1/things/t1?levels[3]=RED&levels[-1]=2", NULL,
              "{'id':'t1','levels':{'3':'RED','-1':'GREEN'}}"); /* map order as sent */
    BIND_ERR("GET /v1/things/t1?labels[env]=a&labels[env]=b", NULL,
             "query parameter 'labels[env]': given more than once");
    BIND_ERR("GET /v1/things/t1?name[x]=1", NULL,
             "query parameter 'name[x]': field 'name' is not a map");
    BIND_ERR("GET /v1/things/t1?thing.tags[0]=x", NULL, "field 'tags' is not a map");
    BIND_ERR("GET /v1/things/t1?nope[x]=1", NULL, "has no field 'nope'");
    TRANSCODE_ERR("GET /v1/things/t1?levels[abc]=RED", NULL, "'abc' is not a valid integer");
    TRANSCODE_ERR("GET /v1/things/t1?levels[1]=PINK", NULL, "'PINK' is not a value of enum");
    /* dotted paths into nested messages; proto or JSON names */
    BIND("GET /v1/things/t1?filter.id=5&filter.name=f", NULL,
         "{'filter':{'id':'5','name':'f'},'id':'t1'}");
    BIND("GET /v1/things/t1?thing.nested.name=deep&thing.count=3", NULL,
         "{'id':'t1','thing':{'count':'3','nested':{'name':'deep'}}}");
    BIND("GET /v1/things/t1?page_size=10", NULL, "{'id':'t1','pageSize':'10'}");
    BIND("GET /v1/things/t1?pageSize=10", NULL, "{'id':'t1','pageSize':'10'}");
    /* repeated fields collect repeated keys */
    BIND("GET /v1/things/t1?tags=a&tags=b&tags=c", NULL, "{'id':'t1','tags':['a','b','c']}");
    BIND("GET /v1/things/t1?nums=1&nums=-2", NULL, "{'id':'t1','nums':['1','-2']}");
    BIND("GET /v1/things/t1?thing.tags=x&thing.tags=y", NULL,
         "{'id':'t1','thing':{'tags':['x','y']}}");
    /* a singular field given twice is refused (grpc-gateway does too) */
    BIND_ERR("GET /v1/things/t1?name=a&name=b", NULL,
             "query parameter 'name': given more than once, and field 'name' is not repeated");
    /* a key without '=' is an empty value */
    BIND("GET /v1/things/t1?name", NULL, "{'id':'t1','name':''}");
    TRANSCODE("GET /v1/things/t1?filter.id=5&pageSize=10&nums=1&nums=-2&ratio=0.5&user_id=9"
              "&blob=AQ%3D%3D",
              NULL,
              "{'id':'t1','filter':{'id':5},'pageSize':10,'nums':[1,-2],'ratio':0.5,"
              "'userId':'9','blob':'AQ=='}");
    TRANSCODE("GET /v1/things/t1?ratio=NaN", NULL, "{'id':'t1','ratio':'NaN'}");
}

static void test_query_bool_and_enum(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int value;
    } bools[] = {{"true", 1}, {"True", 1}, {"TRUE", 1}, {"1", 1}, {"t", 1}, {"T", 1},
                 {"false", 0}, {"False", 0}, {"FALSE", 0}, {"0", 0}, {"f", 0}, {"F", 0}};
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        char req[128];
        snprintf(req, sizeof(req), "GET /v1/things/t1?flag=%s", bools[i].text);
        binds_to(req, NULL, bools[i].value ? "{'flag':true,'id':'t1'}" : "{'flag':false,'id':'t1'}",
                 __LINE__);
    }
    BIND_ERR("GET /v1/things/t1?flag=yes", NULL, "field 'flag': 'yes' is not true or false");
    BIND_ERR("GET /v1/things/t1?flag=", NULL, "field 'flag': '' is not true or false");
    BIND_ERR("GET /v1/things/t1?flag=2", NULL, "'2' is not true or false");
    BIND_ERR("GET /v1/things/t1?flag=truex", NULL, "'truex' is not true or false");
    /* enums by name or number */
    BIND("GET /v1/things/t1?color=BLUE", NULL, "{'color':'BLUE','id':'t1'}");
    BIND("GET /v1/things/t1?color=2", NULL, "{'color':2,'id':'t1'}");
    BIND("GET /v1/things/t1?color=-2", NULL, "{'color':-2,'id':'t1'}");
    BIND("GET /v1/things/t1?colors=RED&colors=1", NULL, "{'colors':['RED',1],'id':'t1'}");
    TRANSCODE("GET /v1/things/t1?color=2&colors=RED&colors=3&colors=-2", NULL,
              "{'id':'t1','color':'GREEN','colors':['RED','BLUE','INFRARED']}");
    TRANSCODE_ERR("GET /v1/things/t1?color=PURPLE", NULL,
                  "field 'color': 'PURPLE' is not a value of enum unit.Color");
    TRANSCODE_ERR("GET /v1/things/t1?color=-", NULL, "'-' is not a value of enum unit.Color");
}

static void test_query_decoding(void **state)
{
    (void)state;
    BIND("GET /v1/things/t1?name=a+b%2Bc%26d%3De", NULL, "{'id':'t1','name':'a b+c&d=e'}");
    BIND("GET /v1/things/t1?name=%C3%A9t%C3%A9", NULL, "{'id':'t1','name':'\xc3\xa9t\xc3\xa9'}");
    BIND("GET /v1/things/t1?name=x%2fy", NULL, "{'id':'t1','name':'x/y'}");
    BIND("GET /v1/things/t1?na%6De=k", NULL, "{'id':'t1','name':'k'}"); /* keys decode too */
    BIND("GET /v1/things/t1?filter%2Eid=5", NULL, "{'filter':{'id':'5'},'id':'t1'}");
    BIND("GET /v1/things/t1?name=a=b", NULL, "{'id':'t1','name':'a=b'}");
    BIND_ERR("GET /v1/things/t1?name=%G1", NULL,
             "query parameter 'name': malformed percent-encoding");
    BIND_ERR("GET /v1/things/t1?name=abc%", NULL,
             "query parameter 'name': malformed percent-encoding");
    BIND_ERR("GET /v1/things/t1?name=abc%4", NULL, "malformed percent-encoding");
    BIND_ERR("GET /v1/things/t1?na%G1me=x", NULL,
             "query parameter 'na%G1me': malformed percent-encoding");
    BIND_ERR("GET /v1/things/t1?name=%FF", NULL, "field 'name': value is not valid UTF-8");
}

static void test_query_errors(void **state)
{
    (void)state;
    BIND_ERR("GET /v1/things/t1?nope=1", NULL,
             "query parameter 'nope': unit.ThingRequest has no field 'nope'");
    BIND_ERR("GET /v1/things/t1?name=x&bogus=1", NULL, "query parameter 'bogus'");
    BIND_ERR("GET /v1/things/t1?filter.nope=1", NULL,
             "query parameter 'filter.nope': unit.Nested has no field 'nope'");
    BIND_ERR("GET /v1/things/t1?Name=x", NULL, "query parameter 'Name'"); /* case matters */
    BIND_ERR("GET /v1/things/t1?thing=x", NULL,
             "field 'thing' is a message and cannot be set from text");
    BIND_ERR("GET /v1/things/t1?name.x=1", NULL, "'name' is not a singular message field");
    BIND_ERR("GET /v1/things/t1?tags.x=1", NULL, "'tags' is not a singular message field");
}

/* Binds `query` (on GET /v1/things/t1), which must be refused (GW_REFUSED)
 * with exactly the reason `want`. */
static void query_refused_whole(const char *query, const char *want, int line)
{
    char line_text[1024], err[GW_BIND_ERR_SIZE];
    snprintf(line_text, sizeof(line_text), "GET /v1/things/t1?%s", query);
    json_t *json = bind(line_text, NULL, 0, err, sizeof(err), line);
    json_decref(json);
    if (json || bind_rc != GW_REFUSED || strcmp(err, want) != 0)
        fail_msg("line %d: returned %d\n   error: %s\n  want: %s", line, bind_rc,
                 json ? "(none)" : err, want);
}

/* A query parameter's name is the client's, however it reads: one that
 * names no field is refused (-1), not taken for the gateway running out of
 * memory for ending in "out of memory".  The reason is whole: it shows the
 * name (or value) up to 100 bytes and then "...", and is not cut. */
static void test_query_long_names(void **state)
{
    (void)state;
    char x100[101], query[512], want[GW_BIND_ERR_SIZE];
    memset(x100, 'x', 100);
    x100[100] = '\0';
    snprintf(query, sizeof(query), "%s%sout+of+memory=1", x100, x100);
    snprintf(want, sizeof(want), "query parameter '%s...': unit.ThingRequest has no field "
             "'%s...'", x100, x100);
    query_refused_whole(query, want, __LINE__);
    query_refused_whole("bogus%20out%20of%20memory=1",
                        "query parameter 'bogus out of memory': unit.ThingRequest has no field "
                        "'bogus out of memory'", __LINE__);
    snprintf(query, sizeof(query), "filter.%s%s=1", x100, x100);
    snprintf(want, sizeof(want), "query parameter 'filter.%.93s...': unit.Nested has no field "
             "'%s...'", x100, x100);
    query_refused_whole(query, want, __LINE__);
    snprintf(query, sizeof(query), "labels[%sout+of+memory]=a&labels[%sout+of+memory]=b", x100,
             x100);
    snprintf(want, sizeof(want), "query parameter 'labels[%s...]': given more than once", x100);
    query_refused_whole(query, want, __LINE__);
    snprintf(query, sizeof(query), "flag=%s%sout+of+memory", x100, x100); /* values too */
    snprintf(want, sizeof(want), "query parameter field 'flag': '%s...' is not true or false",
             x100);
    query_refused_whole(query, want, __LINE__);
}

/* Empty components of the query string are nothing (Go's url.ParseQuery);
 * an empty name with a value still names no field. */
static void test_query_empty_components(void **state)
{
    (void)state;
    BIND("GET /v1/things/t1?&tags=a", NULL, "{'id':'t1','tags':['a']}");
    BIND("GET /v1/things/t1?tags=a&&tags=b&", NULL, "{'id':'t1','tags':['a','b']}");
    BIND("GET /v1/things/t1?&&", NULL, "{'id':'t1'}");
    BIND("GET /v1/things/t1?=&name=n", NULL, "{'id':'t1','name':'n'}");
    BIND_ERR("GET /v1/things/t1?=x", NULL,
             "query parameter '': unit.ThingRequest has no field ''");
}

/* A field that is not repeated takes one value from the query string,
 * whichever of its names the parameters use. */
static void test_query_singular_field_twice(void **state)
{
    (void)state;
    BIND_ERR("GET /v1/things/t1?flag=true&flag=false", NULL,
             "query parameter 'flag': given more than once, and field 'flag' is not repeated");
    BIND_ERR("GET /v1/things/t1?page_size=1&pageSize=2", NULL,
             "query parameter 'pageSize': given more than once, and field 'page_size' is not "
             "repeated");
    BIND_ERR("GET /v1/things/t1?filter.id=1&filter.id=2", NULL,
             "query parameter 'filter.id': given more than once");
    BIND_ERR("GET /v1/things/t1?filter.mask=name&filter.mask=flag", NULL,
             "query parameter 'filter.mask': given more than once");
    BIND_ERR("GET /v1/things/t1?name=&name=b", NULL, "query parameter 'name': given more");
    /* different fields of one message, and repeated fields, are fine */
    BIND("GET /v1/things/t1?filter.id=1&filter.name=n&tags=a&tags=a", NULL,
         "{'filter':{'id':'1','name':'n'},'id':'t1','tags':['a','a']}");
    /* the path variable's field is still ignored, not counted */
    BIND("GET /v1/things/t1?id=x&id=y", NULL, "{'id':'t1'}");
}

/* A NUL byte (%00) in a name is refused: the name is not cut short there.
 * In a value it stays for a string, and does not pass for anything else. */
static void test_query_nul_byte(void **state)
{
    (void)state;
    BIND_ERR("GET /v1/things/t1?tags%00junk=x", NULL,
             "query parameter 'tags%00junk': the name has a NUL byte");
    BIND_ERR("GET /v1/things/t1?%00=x", NULL, "query parameter '%00': the name has a NUL byte");
    BIND_ERR("GET /v1/things/t1?filter.id%00=x", NULL, "the name has a NUL byte");
    TRANSCODE("GET /v1/things/t1?name=a%00b", NULL, "{'id':'t1','name':'a\\u0000b'}");
    TRANSCODE_ERR("GET /v1/things/t1?page_size=1%00", NULL, "is not a valid integer");
    TRANSCODE_ERR("GET /v1/things/t1?color=RED%00", NULL, "is not a value of enum unit.Color");
    BIND_ERR("GET /v1/things/t1?flag=1%00", NULL, "is not true or false");
    BIND_ERR("GET /v1/things/t1?filter.mask=name%00", NULL, "field 'filter.mask': path 'name");
}

/* A FieldMask in the query string holds proto field paths, comma-separated
 * (grpc-gateway); lowerCamelCase paths are taken too.  The JSON body keeps
 * the proto3 JSON form (lowerCamelCase only). */
static void test_query_field_mask(void **state)
{
    (void)state;
    BIND("GET /v1/things/t1?filter.mask=page_size,thing.nested.name,user_id", NULL,
         "{'filter':{'mask':'pageSize,thing.nested.name,userId'},'id':'t1'}");
    TRANSCODE("GET /v1/things/t1?filter.mask=page_size", NULL,
              "{'id':'t1','filter':{'mask':'pageSize'}}");
    TRANSCODE("GET /v1/things/t1?filter.mask=pageSize,name", NULL,
              "{'id':'t1','filter':{'mask':'pageSize,name'}}");
    TRANSCODE("GET /v1/things/t1?filter.mask=filter.id%2Cuser_id", NULL,
              "{'id':'t1','filter':{'mask':'filter.id,userId'}}");
    TRANSCODE("GET /v1/things/t1?filter.mask=", NULL, "{'id':'t1','filter':{'mask':''}}");
    BIND_ERR("GET /v1/things/t1?filter.mask=name,,flag", NULL,
             "field 'filter.mask': an empty path in the mask 'name,,flag'");
    BIND_ERR("GET /v1/things/t1?filter.mask=name,", NULL, "an empty path in the mask");
    BIND_ERR("GET /v1/things/t1?filter.mask=,name", NULL, "an empty path in the mask");
    BIND_ERR("GET /v1/things/t1?filter.mask=line_1", NULL,
             "field 'filter.mask': path 'line_1' has a '_' not followed by a lowercase letter");
    BIND_ERR("GET /v1/things/t1?filter.mask=a_", NULL, "path 'a_' has a '_'");
    /* the proto3 JSON form in a body: lowerCamelCase, as before */
    TRANSCODE("POST /v1/things", "{\"filter\":{\"mask\":\"pageSize,thing.nested.name\"}}",
              "{'filter':{'mask':'pageSize,thing.nested.name'}}");
    TRANSCODE_ERR("POST /v1/things", "{\"filter\":{\"mask\":\"page_size\"}}",
                  "path 'page_size' has a '_' (JSON paths are lowerCamelCase)");
}

static int ignore_query_on(void **state)
{
    (void)state;
    ignore_unknown_query = 1;
    return 0;
}

static int ignore_query_off(void **state)
{
    (void)state;
    ignore_unknown_query = 0;
    return 0;
}

/* With ignore_unknown_query, parameters that name no field are dropped;
 * the others are bound and checked as usual. */
static void test_query_ignore_unknown(void **state)
{
    (void)state;
    BIND("GET /v1/things/t1?nope=1&name=n", NULL, "{'id':'t1','name':'n'}");
    BIND("GET /v1/things/t1?filter.nope=1&filter.id=2", NULL, "{'filter':{'id':'2'},'id':'t1'}");
    BIND("GET /v1/things/t1?Name=x&name.x=1&utm_source=mail", NULL, "{'id':'t1'}");
    BIND_ERR("GET /v1/things/t1?nope=1&flag=maybe", NULL,
             "field 'flag': 'maybe' is not true or false");
    BIND_ERR("GET /v1/things/t1?nope=%G1", NULL,
             "query parameter 'nope': malformed percent-encoding");
    BIND_ERR("GET /v1/things/t1?thing=x", NULL,
             "field 'thing' is a message and cannot be set from text");
}

/* A field whose json_name holds a '.' is a query parameter by its proto
 * name: the dotted name is a path to a nested field. */
static void test_query_dotted_json_name(void **state)
{
    (void)state;
    BIND("GET /v1/things/t1?dotted=x", NULL, "{'a.b':'x','id':'t1'}");
    TRANSCODE("GET /v1/things/t1?dotted=x", NULL, "{'id':'t1','a.b':'x'}");
    BIND_ERR("GET /v1/things/t1?a.b=x", NULL, "unit.ThingRequest has no field 'a'");
}

/* A query parameter that names a path variable is ignored: the path wins. */
static void test_query_cannot_override_path(void **state)
{
    (void)state;
    BIND("GET /v1/things/t1?id=other", NULL, "{'id':'t1'}");
    BIND("GET /v1/users/42/things?user_id=7", NULL, "{'userId':'42'}");
    BIND("PATCH /v1/things/t1?thing.id=t2", "{}", "{'thing':{'id':'t1'}}");
    /* the same field by its JSON name */
    BIND("GET /v1/users/42/things?userId=7", NULL, "{'userId':'42'}");
}

/* ---- the body's own errors -------------------------------------------------------- */

static void test_malformed_body(void **state)
{
    (void)state;
    BIND_ERR("POST /v1/things", "{\"id\": }", "malformed JSON body: ");
    BIND_ERR("POST /v1/things", "{\"id\": }", "(line 1, column 8)");
    BIND_ERR("POST /v1/things", "{\n  \"id\": \"a\",\n  oops\n}", "(line 3, column ");
    BIND_ERR("POST /v1/things", "{\"id\":\"a\"", "malformed JSON body: ");
    BIND_ERR("POST /v1/things", "{\"id\":\"a\"} trailing", "malformed JSON body: ");
    BIND_ERR("POST /v1/things", "{'id':'a'}", "malformed JSON body: ");
    BIND_ERR("POST /v1/things", "{\"id\":\"a\",\"id\":\"b\"}", "malformed JSON body: duplicate");
    BIND_ERR("POST /v1/things", "\xff", "malformed JSON body: ");
    BIND_ERR("POST /v1/things", "{\"id\":\"\xc3\x28\"}", "malformed JSON body: ");
    BIND_ERR("POST /v1/things", " x", "malformed JSON body: ");
    BIND_ERR("PATCH /v1/things/t1", "{", "malformed JSON body: ");
    BIND_ERR("PUT /v1/things/x/name", "\"unterminated", "malformed JSON body: ");
    /* body "*" takes an object and nothing else */
    BIND_ERR("POST /v1/things", "[1,2]", "the body must be a JSON object (unit.ThingRequest)");
    BIND_ERR("POST /v1/things", "\"str\"", "the body must be a JSON object (unit.ThingRequest)");
    BIND_ERR("POST /v1/things", "42", "the body must be a JSON object");
    BIND_ERR("POST /v1/things", "null", "the body must be a JSON object");
    BIND_ERR("POST /v1/things/abc:activate", "[]", "the body must be a JSON object");
    /* ... unless the request is a well-known type whose JSON form is not
     * one, and no path variable joins it */
    TRANSCODE("PUT /v1/label", "\"hello\"", "'hello'");
    TRANSCODE("PUT /v1/label", "\"\"", "''");
    TRANSCODE_ERR("PUT /v1/label", "{\"value\":\"hello\"}", "expected a string");
    TRANSCODE_ERR("PUT /v1/label", "7", "expected a string");
    BIND_ERR("PUT /v1/clock/5", "\"2020-01-01T00:00:00Z\"",
             "the body must be a JSON object (google.protobuf.Timestamp)");
    /* no body: the default message, also for such a request */
    TRANSCODE("PUT /v1/label", NULL, "''");
    TRANSCODE("PUT /v1/label", " \n", "''");
    /* a body cut short after a valid prefix is not taken as that prefix */
    char err[256];
    assert_null(bind("POST /v1/things", "{\"id\":\"a\"}", 5, err, sizeof(err), __LINE__));
}

/* A request that is a well-known type, bound without body "*", is an
 * object of its own fields, which the path and the query set (as
 * grpc-gateway sets them); with none given, it is the default message. */
static void test_well_known_request_without_body(void **state)
{
    (void)state;
    TRANSCODE("GET /v1/clock", NULL, "'1970-01-01T00:00:00Z'");
    TRANSCODE("GET /v1/clock?seconds=1&nanos=500000000", NULL, "'1970-01-01T00:00:01.500Z'");
    TRANSCODE_ERR("GET /v1/clock?seconds=x", NULL, "field 'seconds'");
    BIND_ERR("GET /v1/clock?nope=1", NULL, "google.protobuf.Timestamp has no field 'nope'");
    TRANSCODE("GET /v1/label", NULL, "''");
    TRANSCODE("GET /v1/label?value=x", NULL, "'x'");
    TRANSCODE("GET /v1/label/abc", NULL, "'abc'");
    TRANSCODE("GET /v1/label/abc?value=x", NULL, "'abc'"); /* the path wins */
    TRANSCODE("POST /v1/label:set", "\"hello\"", "'hello'");
    TRANSCODE("POST /v1/label:set", NULL, "''");
    TRANSCODE("GET /v1/mask", NULL, "''");
    TRANSCODE("GET /v1/mask?paths=a.b&paths=c_d", NULL, "'a.b,cD'");
    TRANSCODE("GET /v1/any?typeUrl=type.googleapis.com/google.protobuf.StringValue"
              "&value=CgJoaQ%3D%3D", NULL,
              "{'@type':'type.googleapis.com/google.protobuf.StringValue','value':'hi'}");
    TRANSCODE("GET /v1/value?numberValue=1.5", NULL, "1.5");
    TRANSCODE("GET /v1/value?nullValue=NULL_VALUE", NULL, "null");
    TRANSCODE_ERR("GET /v1/value?numberValue=1&stringValue=x", NULL, "oneof");
    /* fields that make no value of the type's JSON form: refused, as a
     * body cannot say them */
    TRANSCODE_ERR("GET /v1/clock?nanos=-1", NULL,
                  "not a valid google.protobuf.Timestamp: ");
    TRANSCODE_ERR("GET /v1/clock?seconds=253402300800", NULL,
                  "not a valid google.protobuf.Timestamp: ");
    TRANSCODE_ERR("GET /v1/mask?paths=a%20b", NULL, "not a valid google.protobuf.FieldMask: ");
    TRANSCODE_ERR("GET /v1/any?typeUrl=nope", NULL, "not a valid google.protobuf.Any: ");
    TRANSCODE_ERR("GET /v1/value?numberValue=NaN", NULL, "not a valid google.protobuf.Value: ");
    TRANSCODE("GET /v1/any", NULL, "{}");
    /* body "*" beside a path variable: an object of the fields too */
    TRANSCODE("PUT /v1/clock/5", "{\"nanos\":3}", "'1970-01-01T00:00:05.000000003Z'");
    TRANSCODE("PUT /v1/clock/5", NULL, "'1970-01-01T00:00:05Z'");
    TRANSCODE_ERR("PUT /v1/clock/5", "{\"nope\":3}", "nope");
}

/* JSON strings may hold U+0000 (RFC 8259), and so may proto3 strings. */
static void test_body_with_nul_escape(void **state)
{
    (void)state;
    TRANSCODE("POST /v1/things", "{\"name\":\"a\\u0000b\"}", "{'name':'a\\u0000b'}");
}

int main(int argc, char **argv)
{
    if (getenv(PERTURB_CHILD_ENV))
        return perturb_child();
    if (argc > 0 && strchr(argv[0], '/') && !realpath(argv[0], self_path))
        snprintf(self_path, sizeof(self_path), "/proc/self/exe");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_star),
        cmocka_unit_test(test_body_star_path_overrides),
        cmocka_unit_test(test_body_field),
        cmocka_unit_test(test_proto2_groups_and_closed_enums),
        cmocka_unit_test(test_body_field_not_object),
        cmocka_unit_test(test_path_variables),
        cmocka_unit_test(test_enum_path_number),
        cmocka_unit_test(test_enum_text_refused_while_binding),
        cmocka_unit_test(test_replaced_body_value_checked_with_the_body_options),
        cmocka_unit_test(test_enum_path_number_poisoned_heap),
        cmocka_unit_test(test_query_parameters),
        cmocka_unit_test(test_query_bool_and_enum),
        cmocka_unit_test(test_query_decoding),
        cmocka_unit_test(test_query_errors),
        cmocka_unit_test(test_query_long_names),
        cmocka_unit_test(test_query_empty_components),
        cmocka_unit_test(test_query_singular_field_twice),
        cmocka_unit_test(test_query_nul_byte),
        cmocka_unit_test(test_query_field_mask),
        cmocka_unit_test_setup_teardown(test_query_ignore_unknown, ignore_query_on,
                                        ignore_query_off),
        cmocka_unit_test(test_query_dotted_json_name),
        cmocka_unit_test(test_query_cannot_override_path),
        cmocka_unit_test(test_malformed_body),
        cmocka_unit_test(test_body_with_nul_escape),
        cmocka_unit_test(test_well_known_request_without_body),
    };
    return cmocka_run_group_tests_name("gw_bind", tests, load, unload);
}
