/*
 * test_gw_openapi.c -- gateway/gw_openapi.c on tests/unit/openapi.proto: a
 * message that refers to itself (directly, through a map, a oneof and a
 * nested message), an enum, comments, multi-segment path variables, a body
 * field, a response_body and a server stream, and on the proto2 shapes of
 * tests/unit/proto2.proto.  Checks the document's structure;
 * tests/e2e/test_openapi.py checks it with an OpenAPI validator.  And the
 * operation ids of 30,000 methods of one name (one service name in as many
 * packages), numbered in turn without trying each number taken.
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
#include <unistd.h>

#include "../../gateway/gw_gen.h"
#include "../../gateway/gw_openapi.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "rp_pb_wire.h"

#ifndef BUILD_DIR /* the Makefile passes its build folder */
#define BUILD_DIR "build"
#endif
#define OPENAPI_PB BUILD_DIR "/tests/openapi.pb"
#define PROTO2_PB BUILD_DIR "/tests/proto2.pb"
#define PACKED_PB BUILD_DIR "/tests/behavior_packed.pb"

#define FIELD_BEHAVIOR 1052u /* google.api.field_behavior on FieldOptions */

/* The field_behavior values among opts' unknown fields made one packed
 * field (protoc writes one varint field per value). */
static void pack_behaviors(Google__Protobuf__FieldOptions *opts)
{
    uint8_t values[64];
    size_t len = 0, kept = 0;
    for (size_t i = 0; i < opts->base.n_unknown_fields; i++) {
        ProtobufCMessageUnknownField *u = &opts->base.unknown_fields[i];
        if (u->tag == FIELD_BEHAVIOR && u->wire_type == PROTOBUF_C_WIRE_TYPE_VARINT &&
            len + u->len <= sizeof(values)) {
            memcpy(values + len, u->data, u->len);
            len += u->len;
            free(u->data);
        } else {
            opts->base.unknown_fields[kept++] = *u;
        }
    }
    if (!len)
        return;
    gw_buf packed = GW_BUF_INIT;
    gw_buf_varint(&packed, len);
    gw_buf_append(&packed, values, len);
    assert_false(packed.oom);
    opts->base.unknown_fields[kept] = (ProtobufCMessageUnknownField){
        FIELD_BEHAVIOR, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, packed.len, packed.data};
    opts->base.n_unknown_fields = kept + 1;
}

/* A copy of the descriptor set `from`, package bh's field options packed,
 * written to `to` (a mkstemp template, filled in). */
static int write_packed_copy(const char *from, char *to)
{
    gw_buf in = GW_BUF_INIT;
    if (gw_buf_read_file(&in, from) < 0)
        return -1;
    Google__Protobuf__FileDescriptorSet *set =
        google__protobuf__file_descriptor_set__unpack(NULL, in.len, in.data);
    gw_buf_free(&in);
    if (!set)
        return -1;
    for (size_t f = 0; f < set->n_file; f++) {
        if (!set->file[f]->package || strcmp(set->file[f]->package, "bh") != 0)
            continue;
        for (size_t m = 0; m < set->file[f]->n_message_type; m++) {
            Google__Protobuf__DescriptorProto *msg = set->file[f]->message_type[m];
            for (size_t i = 0; i < msg->n_field; i++)
                if (msg->field[i]->options)
                    pack_behaviors(msg->field[i]->options);
        }
    }
    size_t len = google__protobuf__file_descriptor_set__get_packed_size(set);
    uint8_t *out = malloc(len);
    int fd = mkstemps(to, 3);
    int ok = out && fd >= 0;
    if (ok) {
        google__protobuf__file_descriptor_set__pack(set, out);
        ok = write(fd, out, len) == (ssize_t)len;
    }
    if (fd >= 0)
        close(fd);
    free(out);
    google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
    return ok ? 0 : -1;
}

static gw_gen gen;
static json_t *doc;
static char built_log[4096]; /* what the gateway logged while building doc */

static int setup(void **state)
{
    (void)state;
    char err[512];
    char packed[] = "/tmp/rpcrest-packed-XXXXXX.pb";
    if (write_packed_copy(PACKED_PB, packed) < 0) {
        fprintf(stderr, "cannot write a packed copy of %s\n", PACKED_PB);
        return -1;
    }
    const char *paths[] = {OPENAPI_PB, PROTO2_PB, packed};
    gen.schema = gw_schema_load(paths, 3, err, sizeof(err));
    unlink(packed);
    if (!gen.schema) {
        fprintf(stderr, "gw_schema_load: %s\n", err);
        return -1;
    }
    size_t n;
    const gw_method *methods = gw_schema_methods(gen.schema, &n);
    if (gw_router_build(&gen.router, methods, n, err, sizeof(err)) != 0) {
        fprintf(stderr, "gw_router_build: %s\n", err);
        return -1;
    }
    snprintf(gen.origin, sizeof(gen.origin), "openapi.pb");
    pthread_mutex_init(&gen.openapi_lock, NULL);
    gw_openapi_options opt = {0};
    const uint8_t *text;
    size_t len;
    FILE *log = tmpfile();
    int saved = dup(STDERR_FILENO);
    if (!log || saved < 0 || dup2(fileno(log), STDERR_FILENO) < 0)
        return -1;
    int rc = gw_openapi_get(&gen, &opt, &text, &len);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(log);
    built_log[fread(built_log, 1, sizeof(built_log) - 1, log)] = '\0';
    fclose(log);
    if (rc != 0)
        return -1;
    json_error_t error;
    doc = json_loadb((const char *)text, len, 0, &error);
    if (!doc)
        fprintf(stderr, "not JSON: %s\n", error.text);
    return doc ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(doc);
    gw_router_free(&gen.router);
    gw_schema_free(gen.schema);
    free(gen.openapi);
    pthread_mutex_destroy(&gen.openapi_lock);
    return 0;
}

/* The value at a path of object keys and array indexes ("paths",
 * "/v1/nodes", "post", NULL); fails the test if it is not there. */
static json_t *at(json_t *v, ...)
{
    va_list ap;
    va_start(ap, v);
    char where[1024] = "";
    for (const char *key; (key = va_arg(ap, const char *));) {
        size_t n = strlen(where);
        snprintf(where + n, sizeof(where) - n, "/%s", key);
        char *end;
        long index = strtol(key, &end, 10);
        v = json_is_array(v) && !*end ? json_array_get(v, (size_t)index) : json_object_get(v, key);
        if (!v) {
            va_end(ap);
            fail_msg("no %s in the document", where);
        }
    }
    va_end(ap);
    return v;
}

static const char *str(json_t *v)
{
    if (!json_is_string(v))
        fail_msg("not a string");
    return json_string_value(v);
}

#define NODE_REF "#/components/schemas/oa.Node"

static void test_header(void **state)
{
    (void)state;
    assert_string_equal(str(at(doc, "openapi", NULL)), "3.0.3");
    assert_non_null(strstr(str(at(doc, "info", "description", NULL)), "openapi.pb"));
    json_t *tag = at(doc, "tags", "0", NULL);
    assert_string_equal(str(at(tag, "name", NULL)), "Trees");
    assert_string_equal(str(at(tag, "description", NULL)),
                        "The tree service.\n\ngRPC service oa.Trees");
}

static void test_recursive_message_is_one_component(void **state)
{
    (void)state;
    json_t *props = at(doc, "components", "schemas", "oa.Node", "properties", NULL);
    assert_string_equal(str(at(props, "children", "items", "$ref", NULL)), NODE_REF);
    assert_string_equal(str(at(props, "parent", "$ref", NULL)), NODE_REF);
    assert_string_equal(str(at(props, "byId", "type", NULL)), "object");
    assert_string_equal(str(at(props, "byId", "additionalProperties", "$ref", NULL)), NODE_REF);
    assert_string_equal(str(at(props, "byId", "x-map-key-type", NULL)), "integer");
    assert_string_equal(str(at(props, "inner", "$ref", NULL)),
                        "#/components/schemas/oa.Node.Inner");
    assert_string_equal(str(at(doc, "components", "schemas", "oa.Node.Inner", "properties",
                               "back", "$ref", NULL)), NODE_REF);
    /* a map entry is no component of its own */
    assert_null(json_object_get(at(doc, "components", "schemas", NULL), "oa.Node.ByIdEntry"));
}

static void test_field_types_and_comments(void **state)
{
    (void)state;
    json_t *props = at(doc, "components", "schemas", "oa.Node", "properties", NULL);
    assert_string_equal(str(at(props, "name", "description", NULL)), "the node's name");
    assert_string_equal(str(at(props, "weight", "type", NULL)), "string");
    assert_string_equal(str(at(props, "weight", "format", NULL)), "int64");
    assert_non_null(strstr(str(at(props, "weight", "description", NULL)),
                           "Only one of weight, twin can be set"));
    /* a commented $ref is wrapped, since $ref takes no siblings */
    assert_string_equal(str(at(props, "twin", "allOf", "0", "$ref", NULL)), NODE_REF);
    assert_string_equal(str(at(doc, "components", "schemas", "oa.Node.Inner", "properties", "big",
                               "items", "format", NULL)), "uint64");
    assert_string_equal(str(at(doc, "components", "schemas", "oa.Node", "description", NULL)),
                        "A tree node: refers to itself.");
    json_t *kind = at(doc, "components", "schemas", "oa.Kind", NULL);
    assert_string_equal(str(at(kind, "type", NULL)), "string");
    assert_int_equal(json_array_size(at(kind, "enum", NULL)), 3);
    assert_string_equal(str(at(kind, "enum", "1", NULL)), "LEAF");
    assert_string_equal(str(at(kind, "description", NULL)), "The kind of a node.\n- LEAF: A leaf.");
}

static void test_multi_segment_variable_and_query(void **state)
{
    (void)state;
    json_t *op = at(doc, "paths", "/v1/trees/{name-1}/nodes/{name-2}", "get", NULL);
    assert_string_equal(str(at(op, "operationId", NULL)), "Trees_Get");
    assert_string_equal(str(at(op, "summary", NULL)), "Gets a node.");
    assert_non_null(strstr(str(at(op, "description", NULL)), "Its children come with it."));
    assert_non_null(strstr(str(at(op, "description", NULL)), "gRPC method /oa.Trees/Get"));
    const char *want[] = {"name-1", "name-2", "kind", "weight", "inner.big"};
    json_t *params = at(op, "parameters", NULL);
    assert_int_equal(json_array_size(params), 5);
    for (size_t i = 0; i < 5; i++) {
        char index[8];
        snprintf(index, sizeof(index), "%zu", i);
        assert_string_equal(str(at(params, index, "name", NULL)), want[i]);
    }
    assert_string_equal(str(at(params, "0", "in", NULL)), "path");
    assert_true(json_is_true(at(params, "0", "required", NULL)));
    assert_string_equal(str(at(params, "4", "in", NULL)), "query");
    assert_string_equal(str(at(params, "4", "schema", "type", NULL)), "array");
    /* a oneof's member says so, as the body's property does */
    assert_string_equal(str(at(params, "3", "description", NULL)),
                        "Only one of weight, twin can be set (a oneof).");
    assert_null(json_object_get(op, "requestBody"));
}

/* A variable over any segments says how to send a '/'; a wildcard bound to
 * no field is a parameter too, or no client could fill the path in. */
static void test_wildcards(void **state)
{
    (void)state;
    json_t *walk = at(doc, "paths", "/v1/walk/{name}:walk", "get", "parameters", "0", NULL);
    assert_string_equal(str(at(walk, "name", NULL)), "name");
    assert_non_null(strstr(str(at(walk, "description", NULL)), "send '/' as is"));
    json_t *params = at(doc, "paths", "/v1/any/{_1}/walk/{name}/{_2}", "get", "parameters",
                        NULL);
    assert_non_null(params);
    const char *want[] = {"_1", "name", "_2"};
    for (size_t i = 0; i < 3; i++) {
        char index[8];
        snprintf(index, sizeof(index), "%zu", i);
        assert_string_equal(str(at(params, index, "name", NULL)), want[i]);
        assert_string_equal(str(at(params, index, "in", NULL)), "path");
    }
    assert_non_null(strstr(str(at(params, "2", "description", NULL)), "'/' sent as is"));
}

/* OpenAPI forbids two paths that differ only in their parameters' names:
 * a route whose path is another's for OpenAPI goes under the first path,
 * with its names; one that would take a verb already there is left out,
 * and the log says so. */
static void test_paths_openapi_cannot_tell_apart(void **state)
{
    (void)state;
    json_t *item = at(doc, "paths", "/v1/files/{name}", NULL);
    assert_string_equal(str(at(item, "get", "operationId", NULL)), "Trees_Find");
    assert_null(json_object_get(at(doc, "paths", NULL), "/v1/files/{inner.back.name}"));
    json_t *param = at(item, "delete", "parameters", "0", NULL);
    assert_string_equal(str(at(param, "name", NULL)), "name");
    assert_string_equal(str(at(param, "in", NULL)), "path");
    assert_non_null(strstr(str(at(param, "description", NULL)), "inner.back.name"));
    assert_non_null(strstr(built_log, "OpenAPI: GET /v1/files/{inner.back.name} (/oa.Trees/Find) "
                                      "is left out of the document: OpenAPI cannot tell its "
                                      "path from that of operation Trees_Find ("));
}

static void test_bodies_and_replies(void **state)
{
    (void)state;
    json_t *post = at(doc, "paths", "/v1/nodes", "post", NULL);
    assert_string_equal(str(at(post, "operationId", NULL)), "Trees_Get2");
    assert_string_equal(str(at(post, "requestBody", "content", "application/json", "schema",
                               "$ref", NULL)), NODE_REF);
    assert_null(json_object_get(post, "parameters"));
    assert_string_equal(str(at(post, "responses", "default", "content", "application/json",
                               "schema", "$ref", NULL)),
                        "#/components/schemas/google.rpc.Status");
    json_t *put = at(doc, "paths", "/v1/nodes/{inner.back.name}", "put", NULL);
    assert_string_equal(str(at(put, "requestBody", "content", "application/json", "schema",
                               "$ref", NULL)), "#/components/schemas/oa.Node.Inner");
    assert_string_equal(str(at(put, "responses", "200", "content", "application/json", "schema",
                               "items", "$ref", NULL)), NODE_REF);
    /* the stream: one {result} or {error} object a line */
    json_t *walk = at(doc, "paths", "/v1/walk/{name}:walk", "get", NULL);
    json_t *line = at(walk, "responses", "200", "content", "application/json", "schema",
                      "properties", NULL);
    assert_string_equal(str(at(line, "result", "$ref", NULL)), NODE_REF);
    assert_string_equal(str(at(line, "error", "$ref", NULL)),
                        "#/components/schemas/google.rpc.Status");
    assert_non_null(at(walk, "responses", "200", "content", "text/event-stream", NULL));
    json_t *error = at(doc, "components", "schemas", "google.rpc.Status", "properties", NULL);
    assert_string_equal(str(at(error, "code", "type", NULL)), "integer");
    assert_string_equal(str(at(error, "details", "items", "$ref", NULL)),
                        "#/components/schemas/google.protobuf.Any");
}

/* What proto3 JSON writes besides a value of the type: "NaN", "Infinity"
 * and "-Infinity" for a double or float, an integer for a number an open
 * enum does not declare (the gateway prints it).  A path or query
 * parameter keeps the plain type, and a proto2 enum, which is closed,
 * stays its list of names. */
static void test_non_finite_floats_and_unknown_enum_numbers(void **state)
{
    (void)state;
    json_t *props = at(doc, "components", "schemas", "oa.Measure", "properties", NULL);
    json_t *value = at(props, "value", "oneOf", NULL);
    assert_int_equal(json_array_size(value), 2);
    assert_string_equal(str(at(value, "0", "type", NULL)), "number");
    assert_string_equal(str(at(value, "0", "format", NULL)), "double");
    assert_string_equal(str(at(value, "1", "type", NULL)), "string");
    const char *special[] = {"NaN", "Infinity", "-Infinity"};
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(json_string_value(json_array_get(at(value, "1", "enum", NULL), i)),
                            special[i]);
    assert_string_equal(str(at(props, "samples", "items", "oneOf", "0", "format", NULL)), "float");
    assert_string_equal(str(at(props, "samples", "items", "oneOf", "1", "enum", "1", NULL)),
                        "Infinity");
    /* a DoubleValue: null too, beside the number's type (OpenAPI 3.0) */
    json_t *limit = at(doc, "components", "schemas", "google.protobuf.DoubleValue", NULL);
    assert_true(json_is_true(at(limit, "oneOf", "0", "nullable", NULL)));
    assert_string_equal(str(at(limit, "oneOf", "1", "enum", "0", NULL)), "NaN");
    assert_null(json_object_get(limit, "nullable"));
    /* an open enum: its names, or any int32 */
    const char *kinds[] = {"kind", "kinds", "kindByName"};
    json_t *where[] = {at(props, "kind", NULL), at(props, "kinds", "items", NULL),
                       at(props, "kindByName", "additionalProperties", NULL)};
    for (size_t i = 0; i < 3; i++) {
        json_t *any = json_object_get(where[i], "anyOf");
        if (!any)
            fail_msg("oa.Measure.%s: no anyOf", kinds[i]);
        assert_string_equal(str(at(any, "0", "$ref", NULL)), "#/components/schemas/oa.Kind");
        assert_string_equal(str(at(any, "1", "type", NULL)), "integer");
        assert_string_equal(str(at(any, "1", "format", NULL)), "int32");
    }
    /* a query parameter takes what the type says: a number, a declared
     * enum name or number */
    json_t *params = at(doc, "paths", "/v1/measures", "get", "parameters", NULL);
    assert_string_equal(str(at(params, "0", "name", NULL)), "value");
    assert_string_equal(str(at(params, "0", "schema", "type", NULL)), "number");
    assert_string_equal(str(at(params, "2", "name", NULL)), "limit");
    assert_string_equal(str(at(params, "2", "schema", "type", NULL)), "number");
    assert_string_equal(str(at(params, "3", "name", NULL)), "kind");
    assert_string_equal(str(at(params, "3", "schema", "$ref", NULL)),
                        "#/components/schemas/oa.Kind");
    /* a closed enum prints only the numbers it declares */
    assert_string_equal(str(at(doc, "components", "schemas", "unit2.P2", "properties", "c", "$ref",
                               NULL)), "#/components/schemas/unit2.P2.Color");
}

/* A request that is a well-known type, bound without body "*" or beside
 * path variables, is taken as an object of its fields: the parameters are
 * those fields, and such a body is an object of them.  Alone, body "*" is
 * the type's JSON form. */
/* The query parameters of a oneof's members, and of the fields of a
 * member that is a message, name the oneof's other members. */
static void test_oneof_query_parameters(void **state)
{
    (void)state;
    json_t *params = at(doc, "paths", "/v1/measures", "get", "parameters", NULL);
    const char *note = "Only one of unitName, unitRef can be set (a oneof).";
    int seen = 0;
    for (size_t i = 0; i < json_array_size(params); i++) {
        json_t *p = json_array_get(params, i);
        const char *name = str(at(p, "name", NULL));
        if (strcmp(name, "unitName") == 0) {
            assert_string_equal(str(at(p, "description", NULL)),
                                "a unit by name\n\nOnly one of unitName, unitRef can be set "
                                "(a oneof).");
            seen++;
        } else if (strcmp(name, "source") == 0 || strcmp(name, "sensor") == 0) {
            assert_string_equal(str(at(p, "description", NULL)),
                                "Only one of source, sensor can be set (a oneof).");
            seen++;
        } else if (strcmp(name, "note") == 0) {
            seen++;
        } else if (strcmp(name, "unitRef.code") == 0) {
            assert_string_equal(str(at(p, "description", NULL)), note);
            seen++;
        } else {
            assert_null(json_object_get(p, "description"));
        }
    }
    assert_int_equal(seen, 5);
}

/* A json_name with a '.' or a '[', which the query syntax reads as a
 * nested field or a map key, is a query parameter by its proto name (the
 * binder takes both); the body keeps the JSON name. */
static void test_query_names_the_binder_takes(void **state)
{
    (void)state;
    json_t *params = at(doc, "paths", "/v1/measures", "get", "parameters", NULL);
    for (size_t i = 0; i < json_array_size(params); i++) {
        const char *name = str(at(json_array_get(params, i), "name", NULL));
        if (strchr(name, '[') || strcmp(name, "note.text") == 0)
            fail_msg("query parameter %s", name);
    }
    json_t *props = at(doc, "components", "schemas", "oa.Measure", "properties", NULL);
    assert_non_null(at(props, "note.text", NULL));
    assert_string_equal(str(at(props, "src[0]", "description", NULL)),
                        "Only one of src[0], sensor can be set (a oneof).");
}

/* A NullValue is JSON null in a body or reply, and its one name as a
 * query parameter. */
static void test_null_value(void **state)
{
    (void)state;
    json_t *items = at(doc, "components", "schemas", "oa.Measure", "properties", "gaps", "items",
                       NULL);
    assert_string_equal(str(at(items, "type", NULL)), "string");
    assert_true(json_is_true(at(items, "nullable", NULL)));
    assert_int_equal(json_array_size(at(items, "enum", NULL)), 1);
    assert_true(json_is_null(at(items, "enum", "0", NULL)));
    json_t *params = at(doc, "paths", "/v1/measures", "get", "parameters", NULL);
    json_t *gaps = NULL;
    for (size_t i = 0; i < json_array_size(params); i++)
        if (strcmp(str(at(json_array_get(params, i), "name", NULL)), "gaps") == 0)
            gaps = json_array_get(params, i);
    assert_non_null(gaps);
    json_t *text = at(gaps, "schema", "items", NULL);
    assert_string_equal(str(at(text, "type", NULL)), "string");
    assert_int_equal(json_array_size(at(text, "enum", NULL)), 1);
    assert_string_equal(str(at(text, "enum", "0", NULL)), "NULL_VALUE");
    assert_null(json_object_get(text, "nullable"));
}

/* deprecated = true on a method or a field: the operation, the property
 * (a reference wrapped in allOf, as it takes no siblings) and the query
 * parameters, those below a deprecated message field too, say so. */
static void test_deprecated(void **state)
{
    (void)state;
    assert_true(json_is_true(at(doc, "paths", "/v1/measures:old", "get", "deprecated", NULL)));
    assert_null(json_object_get(at(doc, "paths", "/v1/measures", "get", NULL), "deprecated"));
    json_t *props = at(doc, "components", "schemas", "oa.Measure", "properties", NULL);
    assert_true(json_is_true(at(props, "oldUnit", "deprecated", NULL)));
    assert_true(json_is_true(at(props, "legacy", "deprecated", NULL)));
    assert_string_equal(str(at(props, "legacy", "allOf", "0", "$ref", NULL)),
                        "#/components/schemas/oa.Unit");
    assert_null(json_object_get(at(props, "unitRef", NULL), "deprecated"));
    json_t *params = at(doc, "paths", "/v1/measures", "get", "parameters", NULL);
    int seen = 0;
    for (size_t i = 0; i < json_array_size(params); i++) {
        json_t *p = json_array_get(params, i);
        const char *name = str(at(p, "name", NULL));
        int want = strcmp(name, "oldUnit") == 0 || strcmp(name, "legacy.code") == 0;
        seen += want;
        if (want != json_is_true(json_object_get(p, "deprecated")))
            fail_msg("query parameter %s: deprecated is %s", name, want ? "missing" : "set");
    }
    assert_int_equal(seen, 2);
}

/* name is among the "required" names of schema s, or not */
static int listed_required(json_t *s, const char *name)
{
    json_t *names = json_object_get(s, "required");
    for (size_t i = 0; i < json_array_size(names); i++)
        if (strcmp(str(json_array_get(names, i)), name) == 0)
            return 1;
    return 0;
}

static void test_field_behavior(void **state)
{
    (void)state;
    json_t *account = at(doc, "components", "schemas", "oa.Account", NULL);
    json_t *props = at(account, "properties", NULL);
    assert_int_equal(json_array_size(json_object_get(account, "required")), 2);
    assert_true(listed_required(account, "owner") && listed_required(account, "password"));
    assert_true(json_is_true(at(props, "createTime", "readOnly", NULL)));
    assert_true(json_is_true(at(props, "password", "writeOnly", NULL)));
    /* a $ref takes no siblings in OpenAPI 3.0: wrapped in allOf */
    assert_true(json_is_true(at(props, "plan", "readOnly", NULL)));
    assert_string_equal(str(at(props, "plan", "allOf", "0", "$ref", NULL)),
                        "#/components/schemas/oa.Unit");
    const char *plain[] = {"name", "owner", "region"};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        json_t *p = at(props, plain[i], NULL);
        if (json_object_get(p, "readOnly") || json_object_get(p, "writeOnly"))
            fail_msg("%s: marked read- or write-only", plain[i]);
    }
    /* a required field's query parameter is required; Struct and Value
     * parameters are JSON text: a parameter with content, not a schema */
    json_t *params = at(doc, "paths", "/v1/accounts", "get", "parameters", NULL);
    int json_params = 0;
    for (size_t i = 0; i < json_array_size(params); i++) {
        json_t *p = json_array_get(params, i);
        const char *name = str(at(p, "name", NULL));
        if (strcmp(name, "labels") == 0 || strcmp(name, "extras") == 0) {
            json_t *schema = at(p, "content", "application/json", "schema", NULL);
            assert_null(json_object_get(p, "schema"));
            if (strcmp(name, "labels") == 0)
                assert_string_equal(str(at(schema, "$ref", NULL)),
                                    "#/components/schemas/google.protobuf.Struct");
            else
                assert_string_equal(str(at(schema, "type", NULL)), "array");
            json_params++;
        }
        int want = strcmp(name, "owner") == 0 || strcmp(name, "password") == 0;
        if (want != json_is_true(json_object_get(p, "required")))
            fail_msg("query parameter %s: required is %s", name, want ? "missing" : "set");
    }
    assert_int_equal(json_params, 2);
    /* the option's values packed into one field (write_packed_copy);
     * values the document does not show (NON_EMPTY_DEFAULT) are skipped */
    json_t *packed = at(doc, "components", "schemas", "bh.Packed", NULL);
    assert_true(listed_required(packed, "id"));
    assert_false(listed_required(packed, "note"));
    assert_true(json_is_true(at(packed, "properties", "id", "readOnly", NULL)));
    assert_true(json_is_true(at(packed, "properties", "note", "writeOnly", NULL)));
}

static void test_well_known_request_as_its_fields(void **state)
{
    (void)state;
    json_t *params = at(doc, "paths", "/v1/clock", "get", "parameters", NULL);
    assert_int_equal(json_array_size(params), 2);
    assert_string_equal(str(at(params, "0", "name", NULL)), "seconds");
    assert_string_equal(str(at(params, "0", "in", NULL)), "query");
    assert_string_equal(str(at(params, "0", "schema", "format", NULL)), "int64");
    /* what the Timestamp's JSON form can say, which the gateway holds such
     * a request to */
    assert_int_equal(json_integer_value(at(params, "0", "schema", "minimum", NULL)),
                     -62135596800LL);
    assert_int_equal(json_integer_value(at(params, "0", "schema", "maximum", NULL)),
                     253402300799LL);
    assert_string_equal(str(at(params, "1", "name", NULL)), "nanos");
    assert_int_equal(json_integer_value(at(params, "1", "schema", "minimum", NULL)), 0);
    assert_int_equal(json_integer_value(at(params, "1", "schema", "maximum", NULL)), 999999999);
    json_t *put = at(doc, "paths", "/v1/clock/{seconds}", "put", NULL);
    assert_string_equal(str(at(put, "parameters", "0", "in", NULL)), "path");
    json_t *body = at(put, "requestBody", "content", "application/json", "schema", NULL);
    assert_string_equal(str(at(body, "type", NULL)), "object");
    assert_string_equal(str(at(body, "properties", "nanos", "format", NULL)), "int32");
    assert_int_equal(json_integer_value(at(body, "properties", "nanos", "maximum", NULL)),
                     999999999);
    assert_string_equal(str(at(doc, "paths", "/v1/clock", "post", "requestBody", "content",
                               "application/json", "schema", "$ref", NULL)),
                        "#/components/schemas/google.protobuf.Timestamp");
    json_t *label = at(doc, "paths", "/v1/labels/{value}", "get", "parameters", NULL);
    assert_int_equal(json_array_size(label), 1);
    assert_string_equal(str(at(label, "0", "schema", "type", NULL)), "string");
}

/* A Timestamp is a date-time string, and says what of date-time the
 * gateway refuses, as protobuf's parsers do. */
static void test_timestamp_says_what_it_refuses(void **state)
{
    (void)state;
    json_t *ts = at(doc, "components", "schemas", "google.protobuf.Timestamp", NULL);
    assert_string_equal(str(at(ts, "format", NULL)), "date-time");
    const char *text = str(at(ts, "description", NULL));
    assert_non_null(strstr(text, "T and Z in upper case"));
    assert_non_null(strstr(text, "no leap second (:60)"));
}

static void test_kept_with_the_generation(void **state)
{
    (void)state;
    gw_openapi_options opt = {0};
    const uint8_t *a, *b;
    size_t la, lb;
    assert_int_equal(gw_openapi_get(&gen, &opt, &a, &la), 0);
    assert_int_equal(gw_openapi_get(&gen, &opt, &b, &lb), 0);
    assert_ptr_equal(a, b);
    assert_int_equal(la, lb);
    /* with json_proto_names, properties are proto names */
    gw_openapi_options proto = {.proto_names = 1};
    gw_buf text = GW_BUF_INIT;
    assert_int_equal(gw_openapi_build(&gen, &proto, &text), 0);
    json_t *d = json_loadb((const char *)text.data, text.len, 0, NULL);
    assert_non_null(d);
    assert_non_null(at(d, "components", "schemas", "oa.Node", "properties", "by_id", NULL));
    json_decref(d);
    gw_buf_free(&text);
    /* with json_enum_numbers, a closed enum may be an integer too, as it is printed */
    gw_openapi_options numbers = {.enum_numbers = 1};
    assert_int_equal(gw_openapi_build(&gen, &numbers, &text), 0);
    d = json_loadb((const char *)text.data, text.len, 0, NULL);
    assert_non_null(d);
    json_t *c = at(d, "components", "schemas", "unit2.P2", "properties", "c", "anyOf", NULL);
    assert_string_equal(str(at(c, "0", "$ref", NULL)), "#/components/schemas/unit2.P2.Color");
    assert_string_equal(str(at(c, "1", "type", NULL)), "integer");
    json_decref(d);
    gw_buf_free(&text);
    /* info: rpcrest's own title and version, or [gateway] openapi_title/_version's */
    assert_int_equal(gw_openapi_build(&gen, &opt, &text), 0);
    d = json_loadb((const char *)text.data, text.len, 0, NULL);
    assert_string_equal(str(at(d, "info", "title", NULL)), "rpcrest");
    assert_string_equal(str(at(d, "info", "version", NULL)), "1");
    json_decref(d);
    gw_buf_free(&text);
    gw_openapi_options named = {.title = "Bücher \"API\"", .version = "2.1.0"};
    assert_int_equal(gw_openapi_build(&gen, &named, &text), 0);
    d = json_loadb((const char *)text.data, text.len, 0, NULL);
    assert_non_null(d);
    assert_string_equal(str(at(d, "info", "title", NULL)), "Bücher \"API\"");
    assert_string_equal(str(at(d, "info", "version", NULL)), "2.1.0");
    json_decref(d);
    gw_buf_free(&text);
}

/* Methods p0.S/Call … and, second, q.S/Call2, each with a POST binding:
 * their ids are S_Call, S_Call2 (q's own), then S_Call3, S_Call4 … in
 * method order.  Trying 2, 3, … again for each took n * n / 2 lookups:
 * 88 s of CPU for these. */
static void test_operation_ids_of_one_name(void **state)
{
    (void)state;
    enum { N = 30000 };
    static const gw_message empty = {.full_name = "x.Empty"};
    gw_method *m = calloc(N, sizeof(*m));
    gw_http_binding *b = calloc(N, sizeof(*b));
    char (*templates)[32] = calloc(N, sizeof(*templates));
    assert_true(m && b && templates);
    for (size_t i = 0; i < N; i++) {
        assert_true(i == 1 ? asprintf(&m[i].path, "/q.S/Call2") > 0
                           : asprintf(&m[i].path, "/p%zu.S/Call", i) > 0);
        snprintf(templates[i], sizeof(templates[i]), "/p%zu/call", i);
        b[i] = (gw_http_binding){"POST", templates[i], "*", ""};
        m[i].input = m[i].output = &empty;
        m[i].bindings = &b[i];
        m[i].n_bindings = 1;
    }
    gw_gen g = {0};
    char err[512];
    assert_int_equal(gw_router_build(&g.router, m, N, err, sizeof(err)), 0);
    snprintf(g.origin, sizeof(g.origin), "test");
    gw_openapi_options opt = {0};
    gw_buf text = GW_BUF_INIT;
    assert_int_equal(gw_openapi_build(&g, &opt, &text), 0);
    json_t *d = json_loadb((const char *)text.data, text.len, 0, NULL);
    assert_non_null(d);
    char path[32], want[32];
    for (size_t i = 0; i < N; i++) {
        snprintf(path, sizeof(path), "/p%zu/call", i);
        if (i == 0)
            snprintf(want, sizeof(want), "S_Call");
        else
            snprintf(want, sizeof(want), "S_Call%zu", i + 1);
        const char *id = str(at(d, "paths", path, "post", "operationId", NULL));
        if (!id || strcmp(id, want) != 0)
            fail_msg("%s: operationId %s, want %s", path, id ? id : "(none)", want);
    }
    json_decref(d);
    gw_buf_free(&text);
    gw_router_free(&g.router);
    for (size_t i = 0; i < N; i++)
        free(m[i].path);
    free(m);
    free(b);
    free(templates);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_recursive_message_is_one_component),
        cmocka_unit_test(test_field_types_and_comments),
        cmocka_unit_test(test_multi_segment_variable_and_query),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_paths_openapi_cannot_tell_apart),
        cmocka_unit_test(test_bodies_and_replies),
        cmocka_unit_test(test_non_finite_floats_and_unknown_enum_numbers),
        cmocka_unit_test(test_oneof_query_parameters),
        cmocka_unit_test(test_query_names_the_binder_takes),
        cmocka_unit_test(test_null_value),
        cmocka_unit_test(test_deprecated),
        cmocka_unit_test(test_field_behavior),
        cmocka_unit_test(test_well_known_request_as_its_fields),
        cmocka_unit_test(test_timestamp_says_what_it_refuses),
        cmocka_unit_test(test_kept_with_the_generation),
        cmocka_unit_test(test_operation_ids_of_one_name),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
