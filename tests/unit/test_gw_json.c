/*
 * test_gw_json.c -- gateway/gw_json.c: the proto3 JSON mapping over a
 * gw_schema, both ways, on build/tests/types.pb (every field kind) and
 * build/services/echo.pb (the echo service's StringMessage).
 *
 * JSON in these tests is written with single quotes for readability: q()
 * turns every ' into " before use (a real apostrophe is \u0027).  Error
 * checks match a substring of the one-line reason, usually all of it.
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

#include "google/protobuf/descriptor.pb-c.h"
#include "json_check.h"
#include "rp_utf8.h"

#ifndef BUILD_DIR /* the Makefile passes its build folder */
#define BUILD_DIR "build"
#endif
#define TYPES_PB BUILD_DIR "/tests/types.pb"
#define ECHO_PB BUILD_DIR "/services/echo.pb"

static gw_schema *types_schema;
static gw_schema *echo_schema;
static const gw_message *ALL;    /* unit.AllTypes */
static const gw_message *NODE;   /* unit.Node (recursive) */
static const gw_message *NESTED; /* unit.Nested */
static const gw_message *THING;  /* unit.Thing */
static const gw_message *STRMSG; /* example.StringMessage */

static const gw_json_options IGNORE_UNKNOWN = {.ignore_unknown_fields = 1};
static const gw_json_options EMIT_DEFAULTS = {.emit_defaults = 1};
static const gw_json_options PROTO_NAMES = {.proto_names = 1};
static const gw_json_options PROTO_NAMES_DEFAULTS = {.proto_names = 1, .emit_defaults = 1};
static const gw_json_options ENUM_NUMBERS = {.enum_numbers = 1};

/* ---- fixture ------------------------------------------------------------ */

static int load_schemas(void **state)
{
    (void)state;
    char err[512];
    const char *types[] = {TYPES_PB};
    const char *echo[] = {ECHO_PB};
    types_schema = gw_schema_load(types, 1, err, sizeof(err));
    if (!types_schema) {
        fprintf(stderr, "cannot load %s (run from the repository root after make tests): %s\n",
                TYPES_PB, err);
        return -1;
    }
    echo_schema = gw_schema_load(echo, 1, err, sizeof(err));
    if (!echo_schema) {
        fprintf(stderr, "cannot load %s: %s\n", ECHO_PB, err);
        return -1;
    }
    ALL = gw_schema_message(types_schema, "unit.AllTypes");
    NODE = gw_schema_message(types_schema, "unit.Node");
    NESTED = gw_schema_message(types_schema, "unit.Nested");
    THING = gw_schema_message(types_schema, "unit.Thing");
    STRMSG = gw_schema_message(echo_schema, "example.StringMessage");
    return ALL && NODE && NESTED && THING && STRMSG ? 0 : -1;
}

static int free_schemas(void **state)
{
    (void)state;
    gw_schema_free(types_schema);
    gw_schema_free(echo_schema);
    return 0;
}

/* ---- the schema as the codec sees it -------------------------------------- */

static void test_schema_names(void **state)
{
    (void)state;
    const gw_field *f = gw_message_field_by_name(ALL, "user_id", 7);
    assert_non_null(f);
    assert_int_equal(f->number, 30);
    assert_string_equal(f->json_name, "userId");
    assert_ptr_equal(gw_message_field_by_name(ALL, "userId", 6), f);
    f = gw_message_field_by_name(ALL, "customName", 10);
    assert_non_null(f);
    assert_string_equal(f->name, "custom");
    assert_ptr_equal(gw_message_field_by_name(ALL, "custom", 6), f);
    assert_null(gw_message_field_by_name(ALL, "userI", 5));
    assert_null(gw_message_field_by_name(ALL, "userIdx", 7));
    /* len bounds the name: "fInt32xyz" with len 6 is "fInt32" */
    f = gw_message_field_by_name(ALL, "fInt32xyz", 6);
    assert_non_null(f);
    assert_int_equal(f->number, 3);
    f = gw_message_field_by_number(ALL, 28);
    assert_non_null(f);
    assert_string_equal(f->name, "opt_int32");
    assert_true(f->presence);
    assert_true(gw_message_field_by_number(ALL, 18)->packed);
    assert_false(gw_message_field_by_number(ALL, 31)->packed);
    assert_true(gw_message_field_by_number(ALL, 23)->message->map_entry);
    assert_null(gw_message_field_by_number(ALL, 33));

    char err[256];
    const char *missing[] = {"build/tests/no-such-file.pb"};
    assert_null(gw_schema_load(missing, 1, err, sizeof(err)));
    assert_string_equal(err, "build/tests/no-such-file.pb: No such file or directory");
    const uint8_t junk[] = {0xff, 0xff, 0xff};
    const uint8_t *bufs[] = {junk};
    size_t lens[] = {sizeof(junk)};
    assert_null(gw_schema_load_buffers(bufs, lens, 1, "junk", err, sizeof(err)));
    assert_non_null(strstr(err, "junk: not a FileDescriptorSet"));

    /* set.file (1) > file.message_type (4) > nested_type (3) × 200,000:
     * protobuf-c's unpacker would recurse 200,000 times */
    size_t levels = 200000, len = 0;
    uint8_t *deep = malloc(levels * 4 + 16);
    assert_non_null(deep);
    size_t *inner = malloc((levels + 3) * sizeof(*inner)); /* each level's body size */
    assert_non_null(inner);
    inner[levels + 2] = 0;
    for (size_t i = levels + 2; i > 0; i--) {
        size_t v = inner[i], n = 1;
        while (v >= 0x80)
            v >>= 7, n++;
        inner[i - 1] = 1 + n + inner[i];
    }
    for (size_t i = 1; i <= levels + 2; i++) {
        deep[len++] = i == 1 ? 0x0a : i == 2 ? 0x22 : 0x1a;
        for (size_t v = inner[i]; ; v >>= 7) {
            deep[len++] = (uint8_t)(v < 0x80 ? v : (v & 0x7f) | 0x80);
            if (v < 0x80)
                break;
        }
    }
    free(inner);
    bufs[0] = deep;
    lens[0] = len;
    assert_null(gw_schema_load_buffers(bufs, lens, 1, "deep.pb", err, sizeof(err)));
    assert_string_equal(err, "deep.pb: messages nested more than 100 deep");
    free(deep);
}

/* A descriptor set of one file (package p, message M with field f, service S
 * with method Get(M) returns (M)), with one name replaced: what names
 * which ("file", "package", "message", "field", "json_name", "enum value",
 * "service", "method").  Loaded; the error text in err, or "" when it
 * loaded. */
static void load_named(const char *what, const char *name, char *err, size_t errlen)
{
    Google__Protobuf__FieldDescriptorProto field = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__INIT;
    field.name = "f";
    field.number = 1;
    field.has_number = 1;
    field.type = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING;
    field.has_type = 1;
    Google__Protobuf__FieldDescriptorProto *fields[] = {&field};
    Google__Protobuf__DescriptorProto msg = GOOGLE__PROTOBUF__DESCRIPTOR_PROTO__INIT;
    msg.name = "M";
    msg.n_field = 1;
    msg.field = fields;
    Google__Protobuf__DescriptorProto *msgs[] = {&msg};
    Google__Protobuf__EnumValueDescriptorProto value =
        GOOGLE__PROTOBUF__ENUM_VALUE_DESCRIPTOR_PROTO__INIT;
    value.name = "E_UNSPECIFIED";
    Google__Protobuf__EnumValueDescriptorProto *values[] = {&value};
    Google__Protobuf__EnumDescriptorProto enumeration = GOOGLE__PROTOBUF__ENUM_DESCRIPTOR_PROTO__INIT;
    enumeration.name = "E";
    enumeration.n_value = 1;
    enumeration.value = values;
    Google__Protobuf__EnumDescriptorProto *enums[] = {&enumeration};
    Google__Protobuf__MethodDescriptorProto method = GOOGLE__PROTOBUF__METHOD_DESCRIPTOR_PROTO__INIT;
    method.name = "Get";
    method.input_type = ".p.M";
    method.output_type = ".p.M";
    Google__Protobuf__MethodDescriptorProto *methods[] = {&method};
    Google__Protobuf__ServiceDescriptorProto service =
        GOOGLE__PROTOBUF__SERVICE_DESCRIPTOR_PROTO__INIT;
    service.name = "S";
    service.n_method = 1;
    service.method = methods;
    Google__Protobuf__ServiceDescriptorProto *services[] = {&service};
    Google__Protobuf__FileDescriptorProto file = GOOGLE__PROTOBUF__FILE_DESCRIPTOR_PROTO__INIT;
    file.name = "named.proto";
    file.package = "p";
    file.syntax = "proto3";
    file.n_message_type = 1;
    file.message_type = msgs;
    file.n_enum_type = 1;
    file.enum_type = enums;
    file.n_service = 1;
    file.service = services;
    Google__Protobuf__FileDescriptorProto *files[] = {&file};
    Google__Protobuf__FileDescriptorSet set = GOOGLE__PROTOBUF__FILE_DESCRIPTOR_SET__INIT;
    set.n_file = 1;
    set.file = files;

    char **slot = !strcmp(what, "file") ? &file.name
                  : !strcmp(what, "package") ? &file.package
                  : !strcmp(what, "message") ? &msg.name
                  : !strcmp(what, "field") ? &field.name
                  : !strcmp(what, "json_name") ? &field.json_name
                  : !strcmp(what, "enum value") ? &value.name
                  : !strcmp(what, "service") ? &service.name
                  : &method.name;
    *slot = (char *)name;
    uint8_t buf[1024];
    assert_true(google__protobuf__file_descriptor_set__get_packed_size(&set) <= sizeof(buf));
    size_t len = google__protobuf__file_descriptor_set__pack(&set, buf);
    const uint8_t *bufs[] = {buf};
    gw_schema *schema = gw_schema_load_buffers(bufs, &len, 1, "named.pb", err, errlen);
    if (schema)
        err[0] = '\0';
    gw_schema_free(schema);
}

/* Names are protobuf identifiers, as protoc makes them: a reflection answer
 * may hold anything, and names reach logs, metric labels and the OpenAPI
 * document. */
static void test_schema_refuses_names_protoc_would_not_make(void **state)
{
    (void)state;
    char err[512];
    load_named("package", "p", err, sizeof(err));
    assert_string_equal(err, "");
    load_named("json_name", "weird name ☺", err, sizeof(err));
    assert_string_equal(err, "");
    static const struct {
        const char *what, *name, *error;
    } bad[] = {
        {"service", "S\xff\xfe", "a service's name in named.proto is missing or not valid"},
        {"method", "Get\"</script>\x1b[31m", "a method's name in named.proto"},
        {"message", "1M", "a message's name in named.proto"},
        {"field", "a-b", "a field's name in named.proto"},
        {"field", "", "a field's name in named.proto"},
        {"json_name", "f\xff", "a field's json_name in named.proto"},
        {"json_name", "f\n", "a field's json_name in named.proto"},
        {"enum value", "E\xc3\xa9", "an enum value's name in named.proto"},
        {"package", "p..q", "the package's name in named.proto"},
        {"package", ".p", "the package's name in named.proto"},
        {"package", "p.", "the package's name in named.proto"},
        {"package", "p.1q", "the package's name in named.proto"},
        {"file", "named\x1b.proto", "named.pb: a file whose name is not UTF-8 text without "
                                    "control characters"},
        {"file", "named\xff.proto", "named.pb: a file whose name is not UTF-8 text"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        load_named(bad[i].what, bad[i].name, err, sizeof(err));
        if (!strstr(err, bad[i].error))
            fail_msg("%s \"%s\": got \"%s\"", bad[i].what, bad[i].name, err);
    }
    load_named("method", "Get.", err, sizeof(err));
    assert_string_equal(err, "named.pb: a method's name in named.proto is missing or not valid (a "
                             "name is a letter or '_', then letters, digits and '_'; a json_name "
                             "is UTF-8 text without control characters)");
    /* names as long as protoc takes them, in a package too */
    char longest[400], package[420];
    memset(longest, 'x', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    snprintf(package, sizeof(package), "a.%s._b2", longest);
    load_named("package", package, err, sizeof(err));
    assert_null(strstr(err, "not valid")); /* (its types are then not .p.M) */
    load_named("field", longest, err, sizeof(err));
    assert_string_equal(err, "");
}

/* ---- scalars ------------------------------------------------------------ */

static void test_every_scalar_roundtrip(void **state)
{
    (void)state;
    RT_SAME(ALL, "{'fDouble':1.5,'fFloat':-2.25,'fInt32':-42,'fInt64':'123','fUint32':4294967295,"
                 "'fUint64':'18446744073709551615','fSint32':-2147483648,"
                 "'fSint64':'-9223372036854775808','fFixed32':4294967295,"
                 "'fFixed64':'18446744073709551615','fSfixed32':-2147483648,"
                 "'fSfixed64':'-9223372036854775808','fBool':true,'fString':'hi',"
                 "'fBytes':'AAEC/w==','color':'GREEN','nested':{'id':7,'name':'n'}}");
    RT_SAME(ALL, "{'fInt32':2147483647,'fInt64':'9223372036854775807','fSint32':2147483647,"
                 "'fSint64':'9223372036854775807','fSfixed32':2147483647,"
                 "'fSfixed64':'9223372036854775807'}");
}

static void test_integers(void **state)
{
    (void)state;
    /* 64-bit integers print as strings, whatever form they came in */
    RT(ALL, "{'fInt64':123}", "{'fInt64':'123'}");
    RT(ALL, "{'fInt64':'-123'}", "{'fInt64':'-123'}");
    RT(ALL, "{'fUint64':5}", "{'fUint64':'5'}");
    RT(ALL, "{'fUint64':'18446744073709551615'}", "{'fUint64':'18446744073709551615'}");
    RT(ALL, "{'fFixed64':'1'}", "{'fFixed64':'1'}");
    RT(ALL, "{'fSfixed64':-1}", "{'fSfixed64':'-1'}");
    /* 32-bit integers print as numbers, and may come as strings */
    RT(ALL, "{'fUint32':'7'}", "{'fUint32':7}");
    RT(ALL, "{'fInt32':'-7'}", "{'fInt32':-7}");
    RT(ALL, "{'fInt32':'+7'}", "{'fInt32':7}");
    RT(ALL, "{'fFixed32':'4294967295'}", "{'fFixed32':4294967295}");
    /* zigzag */
    RT_SAME(ALL, "{'fSint32':-1}");
    RT_SAME(ALL, "{'fSint32':1}");
    RT_SAME(ALL, "{'fSint64':'-1'}");
    RT(ALL, "{'fSint64':-2}", "{'fSint64':'-2'}");
    RT_SAME(ALL, "{'fSfixed32':-1}");
    /* a number with an integral value is an integer */
    RT(ALL, "{'fInt32':1.0}", "{'fInt32':1}");
    RT(ALL, "{'fInt64':1e2}", "{'fInt64':'100'}");
    RT(ALL, "{'fUint32':-0.0}", "{}");
    /* exactly, whatever a double would make of them */
    RT(ALL, "{'fInt64':9007199254740993.0}", "{'fInt64':'9007199254740993'}");
    RT(ALL, "{'fInt64':1.234567890123456789e18}", "{'fInt64':'1234567890123456789'}");
    RT(ALL, "{'fUint64':12345678901234567891e0}", "{'fUint64':'12345678901234567891'}");
    RT(ALL, "{'fInt64':9223372036854775807.0}", "{'fInt64':'9223372036854775807'}");
    RT(ALL, "{'fSint64':-9223372036854775808e0}", "{'fSint64':'-9223372036854775808'}");
    RT(ALL, "{'fFixed64':123456789012345e4}", "{'fFixed64':'1234567890123450000'}");
    RT(ALL, "{'fInt32':2147483647.000000000000}", "{'fInt32':2147483647}");
    RT_SAME(ALL, "{'fBool':true}");
    RT(ALL, "{'fBool':false}", "{}");
}

static void test_integer_errors(void **state)
{
    (void)state;
    ENC_ERR(ALL, "{'fInt32':2147483648}",
            "field 'fInt32': 2147483648 is out of range for a 32-bit integer");
    ENC_ERR(ALL, "{'fInt32':-2147483649}", "-2147483649 is out of range for a 32-bit integer");
    ENC_ERR(ALL, "{'fSint32':'2147483648'}", "out of range for a 32-bit integer");
    ENC_ERR(ALL, "{'fSfixed32':3000000000}", "out of range for a 32-bit integer");
    ENC_ERR(ALL, "{'fUint32':4294967296}",
            "field 'fUint32': 4294967296 is out of range for a 32-bit unsigned integer");
    ENC_ERR(ALL, "{'fFixed32':'4294967296'}", "out of range for a 32-bit unsigned integer");
    ENC_ERR(ALL, "{'fUint32':-1}", "field 'fUint32': -1 is out of range for an unsigned integer");
    ENC_ERR(ALL, "{'fUint64':-1}", "-1 is out of range for an unsigned integer");
    ENC_ERR(ALL, "{'fUint64':'-1'}", "field 'fUint64': '-1' is not a valid integer");
    ENC_ERR(ALL, "{'fUint64':'18446744073709551616'}",
            "'18446744073709551616' is not a valid integer");
    ENC_ERR(ALL, "{'fInt64':'9223372036854775808'}",
            "'9223372036854775808' is not a valid integer");
    ENC_ERR(ALL, "{'fInt64':'-9223372036854775809'}", "is not a valid integer");
    ENC_ERR(ALL, "{'fInt64':1e19}", "is out of range");
    /* not integers */
    ENC_ERR(ALL, "{'fInt32':1.5}", "field 'fInt32': 1.5 is not an integer");
    ENC_ERR(ALL, "{'fInt64':-0.5}", "field 'fInt64': -0.5 is not an integer");
    ENC_ERR(ALL, "{'fUint64':2.5}", "2.5 is not an integer");
    ENC_ERR(ALL, "{'fInt64':1.0000000000000001}",
            "field 'fInt64': 1.0000000000000001 is not an integer"); /* 1.0 as a double */
    ENC_ERR(ALL, "{'fInt64':9007199254740993.5}", "9007199254740993.5 is not an integer");
    ENC_ERR(ALL, "{'fInt64':9223372036854775808.0}",
            "9223372036854775808.0 is out of range for a 64-bit integer");
    /* a value too small for a double is not 0 */
    ENC_ERR(ALL, "{'fInt32':1e-400}", "field 'fInt32': 1e-400 is not an integer");
    ENC_ERR(ALL, "{'fInt64':-2e-324}", "field 'fInt64': -2e-324 is not an integer");
    ENC_ERR(ALL, "{'fUint64':0.5e-320}", "0.5e-320 is not an integer");
    ENC_ERR(ALL, "{'rInt32':[1,3e-999]}", "field 'rInt32[1]': 3e-999 is not an integer");
    ENC_ERR(ALL, "{'color':1e-400}", "field 'color': 1e-400 is not an integer");
    RT(ALL, "{'fInt32':0e-400,'fInt64':-0.000e5,'fUint32':0.0,'color':-0}", "{}");
    RT(ALL, "{'fDouble':1e-400}", "{}");
    RT(ALL, "{'fDouble':-2e-324}", "{'fDouble':-0}");
    /* a number as the shortest text that reads back as it */
    ENC_ERR(ALL, "{'fUint32':1.0000001}", "field 'fUint32': 1.0000001 is not an integer");
    ENC_ERR(ALL, "{'fInt32':2147483648.5}", "field 'fInt32': 2147483648.5 is not an integer");
    ENC_ERR(ALL, "{'fInt32':123456.789e-3}", "field 'fInt32': 123.456789 is not an integer");
    /* a string whole, a NUL in it escaped */
    ENC_ERR(ALL, "{'fInt32':'1\\u00002'}", "field 'fInt32': '1\\u00002' is not a valid integer");
    ENC_ERR(ALL, "{'fInt32':'1.5'}", "field 'fInt32': '1.5' is not a valid integer");
    ENC_ERR(ALL, "{'fInt32':''}", "'' is not a valid integer");
    ENC_ERR(ALL, "{'fInt32':' 1'}", "' 1' is not a valid integer");
    ENC_ERR(ALL, "{'fInt32':'0x10'}", "'0x10' is not a valid integer");
    ENC_ERR(ALL, "{'fInt64':'12a'}", "'12a' is not a valid integer");
}

static void test_float_double(void **state)
{
    (void)state;
    RT_SAME(ALL, "{'fDouble':0.1}");
    RT_SAME(ALL, "{'fFloat':0.1}");
    RT_SAME(ALL, "{'fDouble':'NaN'}");
    RT_SAME(ALL, "{'fDouble':'Infinity'}");
    RT_SAME(ALL, "{'fDouble':'-Infinity'}");
    RT_SAME(ALL, "{'fFloat':'NaN'}");
    RT_SAME(ALL, "{'fFloat':'Infinity'}");
    RT_SAME(ALL, "{'fFloat':'-Infinity'}");
    RT_SAME(ALL, "{'fDouble':3.141592653589793}");
    RT_SAME(ALL, "{'fFloat':3.14159}");
    RT_SAME(ALL, "{'fDouble':-2.5}");
    RT(ALL, "{'fDouble':1e300}", "{'fDouble':1e+300}");
    RT(ALL, "{'fDouble':1e21}", "{'fDouble':1e+21}");
    RT(ALL, "{'fDouble':'2.5'}", "{'fDouble':2.5}");
    RT(ALL, "{'fDouble':'-1e3'}", "{'fDouble':-1000}");
    RT(ALL, "{'fDouble':7}", "{'fDouble':7}");
    RT(ALL, "{'fDouble':0}", "{}");
    RT(ALL, "{'fDouble':-0.0}", "{'fDouble':-0}"); /* -0 is not the default */
    /* literals kept as text for integer fields read as jansson reads them */
    RT(ALL, "{'fDouble':9007199254740993.0}", "{'fDouble':9007199254740992}");
    RT(ALL, "{'fDouble':0.10000000000000000555}", "{'fDouble':0.1}");
    RT(ALL, "{'fFloat':1.00000000000000000001}", "{'fFloat':1}");
    ENC_ERR(ALL, "{'fDouble':1.5e400}", "1.5e400 is out of range for a double");
    /* a float prints as the shortest text that reads back as that float */
    RT(ALL, "{'fFloat':16777217}", "{'fFloat':16777216}");
    RT(ALL, "{'fFloat':3.4028234663852886e38}", "{'fFloat':3.4028235e+38}");
    /* subnormals too, though they hold fewer digits than 15 (6 for a float) */
    RT_SAME(ALL, "{'fDouble':5e-324}");
    RT_SAME(ALL, "{'fDouble':-2.225073858507201e-308}");
    RT_SAME(ALL, "{'fDouble':1e-310}");
    RT(ALL, "{'fDouble':2.4703282292062328e-324}", "{'fDouble':5e-324}");
    RT_SAME(ALL, "{'fFloat':1e-45}");
    RT_SAME(ALL, "{'fFloat':1.1754942e-38}");
    RT_SAME(ALL, "{'fFloat':-1.04488e-40}");
    RT_SAME(ALL, "{'fFloat':1.1754944e-38}"); /* FLT_MIN, a normal float */
    RT_SAME(ALL, "{'fDouble':2.2250738585072014e-308}"); /* DBL_MIN */
    /* errors */
    ENC_ERR(ALL, "{'fFloat':1e39}", "field 'fFloat': 1e39 is out of range for a float");
    ENC_ERR(ALL, "{'fFloat':3.4028236e38}", "3.4028236e38 is out of range for a float");
    ENC_ERR(ALL, "{'fFloat':'3.4028236e38'}", "'3.4028236e38' is out of range for a float");
    ENC_ERR(ALL, "{'fFloat':'-1e39'}", "out of range for a float");
    ENC_ERR(ALL, "{'fDouble':'abc'}", "field 'fDouble': 'abc' is not a number");
    ENC_ERR(ALL, "{'fDouble':'nan'}", "'nan' is not a number");
    ENC_ERR(ALL, "{'fDouble':'inf'}", "'inf' is not a number");
    ENC_ERR(ALL, "{'fDouble':'infinity'}", "'infinity' is not a number");
    ENC_ERR(ALL, "{'fDouble':'0x10'}", "'0x10' is not a number");
    ENC_ERR(ALL, "{'fDouble':' 1'}", "' 1' is not a number");
    ENC_ERR(ALL, "{'fDouble':'1 '}", "'1 ' is not a number");
    ENC_ERR(ALL, "{'fDouble':''}", "'' is not a number");
    ENC_ERR(ALL, "{'fDouble':'1\\u00002'}", "field 'fDouble': '1\\u00002' is not a number");
    ENC_ERR(ALL, "{'fDouble':true}", "field 'fDouble': expected a number, got a boolean");
    ENC_ERR(ALL, "{'fFloat':[1]}", "field 'fFloat': expected a number, got an array");
}

/* A numeric string is held to the same rules as a JSON number: jansson
 * refuses the number 1e400 ("real number overflow"), so "1e400" must not
 * quietly become Infinity, and whitespace is not part of a number. */
static void test_double_string_overflow_and_space(void **state)
{
    (void)state;
    ENC_ERR(ALL, "{'fDouble':'1e400'}", "field 'fDouble': '1e400' is not a number");
    ENC_ERR(ALL, "{'fDouble':'-1e400'}", "'-1e400' is not a number");
    ENC_ERR(ALL, "{'fFloat':'1e400'}", "'1e400' is not a number");
    ENC_ERR(ALL, "{'fDouble':'\\n1'}", "is not a number");
    ENC_ERR(ALL, "{'fDouble':'\\r1'}", "is not a number");
}

static void test_bytes(void **state)
{
    (void)state;
    RT_SAME(ALL, "{'fBytes':'AAEC/w=='}");
    RT(ALL, "{'fBytes':'AAEC_w'}", "{'fBytes':'AAEC/w=='}");   /* URL-safe, unpadded */
    RT(ALL, "{'fBytes':'AAEC_w=='}", "{'fBytes':'AAEC/w=='}"); /* URL-safe, padded */
    RT(ALL, "{'fBytes':'-_8'}", "{'fBytes':'+/8='}");
    RT(ALL, "{'fBytes':'QQ'}", "{'fBytes':'QQ=='}");
    RT_SAME(ALL, "{'fBytes':'QUI='}");
    RT_SAME(ALL, "{'fBytes':'QUJD'}");
    RT_SAME(ALL, "{'fBytes':'AA=='}"); /* one zero byte is not the default */
    RT(ALL, "{'fBytes':''}", "{}");
    WIRE(ALL, "{'fBytes':'AAEC/w=='}", "\x7a\x04\x00\x01\x02\xff");
    ENC_ERR(ALL, "{'fBytes':'A'}", "field 'fBytes': not valid base64");
    ENC_ERR(ALL, "{'fBytes':'AAAAA'}", "not valid base64");
    ENC_ERR(ALL, "{'fBytes':'AA*A'}", "not valid base64");
    ENC_ERR(ALL, "{'fBytes':'AA==AA'}", "not valid base64");
    ENC_ERR(ALL, "{'fBytes':'AA AA'}", "not valid base64");
    ENC_ERR(ALL, "{'fBytes':'QQ==\\n'}", "not valid base64");
    ENC_ERR(ALL, "{'fBytes':5}", "field 'fBytes': expected a base64 string, got an integer");
    ENC_ERR(ALL, "{'rBytes':['AQ==','!']}", "field 'rBytes[1]': not valid base64");
    ENC_ERR(ALL, "{'rBytes':['','','','','','','','','','','','','!']}",
            "field 'rBytes[12]': not valid base64");
}

static void test_enums(void **state)
{
    (void)state;
    RT_SAME(ALL, "{'color':'GREEN'}");
    RT(ALL, "{'color':2}", "{'color':'GREEN'}");
    RT(ALL, "{'color':-2}", "{'color':'INFRARED'}");
    RT_SAME(ALL, "{'color':99}");  /* unknown numbers are kept, printed as numbers */
    RT_SAME(ALL, "{'color':-7}");
    RT(ALL, "{'color':'COLOR_UNSPECIFIED'}", "{}");
    RT(ALL, "{'color':0}", "{}");
    RT(ALL, "{'rColor':['RED',2,7,0]}", "{'rColor':['RED','GREEN',7,'COLOR_UNSPECIFIED']}");
    WIRE(ALL, "{'color':-2}", "\x80\x01\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01");
    WIRE(ALL, "{'color':'BLUE'}", "\x80\x01\x03");
    ENC_ERR(ALL, "{'color':'PURPLE'}", "field 'color': 'PURPLE' is not a value of enum unit.Color");
    ENC_ERR(ALL, "{'color':'green'}", "'green' is not a value of enum unit.Color");
    ENC_ERR(ALL, "{'color':'RED\\u0000x'}",
            "field 'color': 'RED\\u0000x' is not a value of enum unit.Color");
    ENC_ERR(ALL, "{'color':true}", "field 'color': expected an enum name or number, got a boolean");
    ENC_ERR(ALL, "{'color':{}}", "expected an enum name or number, got an object");
    ENC_ERR(ALL, "{'color':1.5}", "1.5 is not an integer");
    ENC_ERR(ALL, "{'color':2147483648}", "out of range for a 32-bit integer");
    ENC_ERR(ALL, "{'rColor':['RED','PURPLE']}", "field 'rColor[1]': 'PURPLE' is not a value");
    /* ignore_unknown_fields drops unknown enum names too */
    RT_OPT(ALL, "{'color':'PURPLE'}", &IGNORE_UNKNOWN, NULL, "{}");
    RT_OPT(ALL, "{'color':'PURPLE','fInt32':1}", &IGNORE_UNKNOWN, NULL, "{'fInt32':1}");
    RT_OPT(ALL, "{'rColor':['RED','PURPLE',3]}", &IGNORE_UNKNOWN, NULL,
           "{'rColor':['RED','BLUE']}");
    /* json_enum_numbers: every value printed as its number, singular, repeated
     * (packed or not) and as a map's value; names are still read */
    RT_OPT(ALL, "{'color':'GREEN'}", NULL, &ENUM_NUMBERS, "{'color':2}");
    RT_OPT(ALL, "{'color':'INFRARED'}", NULL, &ENUM_NUMBERS, "{'color':-2}");
    RT_OPT(ALL, "{'color':99}", NULL, &ENUM_NUMBERS, "{'color':99}");
    RT_OPT(ALL, "{'rColor':['RED',2,7,0]}", NULL, &ENUM_NUMBERS, "{'rColor':[1,2,7,0]}");
    DEC_OPT(ALL, "\xb0\x01\x01\xb0\x01\x03", &ENUM_NUMBERS, "{'rColor':[1,3]}"); /* unpacked */
    RT_OPT(ALL, "{'mStrColor':{'x':'BLUE','y':0}}", NULL, &ENUM_NUMBERS,
           "{'mStrColor':{'x':3,'y':0}}");
}

/* ---- messages, repeated, maps, oneofs ------------------------------------ */

static void test_nested_and_repeated(void **state)
{
    (void)state;
    RT_SAME(ALL, "{'nested':{}}"); /* present but empty is not absent */
    RT_SAME(ALL, "{'nested':{'id':1,'name':'x'}}");
    RT(ALL, "{'nested':null}", "{}");
    RT(ALL, "{'nested':{'id':0}}", "{'nested':{}}");
    RT_SAME(ALL, "{'rInt32':[1,-1,2147483647]}");
    RT_SAME(ALL, "{'rDouble':[0.5,'NaN','-Infinity',0]}");
    RT_SAME(ALL, "{'rString':['a','','c']}");
    RT_SAME(ALL, "{'rNested':[{'id':1},{},{'name':'z'}]}");
    RT_SAME(ALL, "{'rUnpacked':[1,2,0]}");
    RT_SAME(ALL, "{'rBytes':['AQ==','']}");
    RT(ALL, "{'rInt32':[]}", "{}");
    RT(ALL, "{'rInt32':null}", "{}");
    RT(ALL, "{'rInt32':['5','-6']}", "{'rInt32':[5,-6]}");
    ENC_ERR(ALL, "{'rInt32':5}", "field 'rInt32': expected an array, got an integer");
    ENC_ERR(ALL, "{'rNested':{}}", "field 'rNested': expected an array, got an object");
    ENC_ERR(ALL, "{'rInt32':['x']}", "field 'rInt32[0]': 'x' is not a valid integer");
    ENC_ERR(ALL, "{'rNested':[{},{'id':'q'}]}",
            "field 'rNested[1].id': 'q' is not a valid integer");
    ENC_ERR(ALL, "{'nested':5}",
            "field 'nested': expected an object (unit.Nested), got an integer");
    ENC_ERR(ALL, "{'nested':[]}", "expected an object (unit.Nested), got an array");
    ENC_ERR(ALL, "{'nested':{'bad':1}}", "field 'nested.bad': no such field in unit.Nested");
    ENC_ERR(ALL, "{'nested':{'name':1}}", "field 'nested.name': expected a string, got an integer");
}

static void test_null_in_repeated(void **state)
{
    (void)state;
    /* packed, unpacked, string and message elements go different ways */
    ENC_ERR(ALL, "{'rInt32':[1,null]}",
            "field 'rInt32[1]': null is not allowed in a repeated field");
    ENC_ERR(ALL, "{'rUnpacked':[null]}",
            "field 'rUnpacked[0]': null is not allowed in a repeated field");
    ENC_ERR(ALL, "{'rString':['a',null]}",
            "field 'rString[1]': null is not allowed in a repeated field");
    ENC_ERR(ALL, "{'rNested':[null]}",
            "field 'rNested[0]': null is not allowed in a repeated field");
    ENC_ERR(ALL, "{'rColor':[null]}", "null is not allowed in a repeated field");
}

static void test_maps(void **state)
{
    (void)state;
    RT_SAME(ALL, "{'mStrInt':{'a':1,'b':-2}}");
    RT_SAME(ALL, "{'mStrInt':{'':0}}");
    RT_SAME(ALL, "{'mInt64Nested':{'-5':{'id':1},'9223372036854775807':{}}}");
    RT_SAME(ALL, "{'mBoolStr':{'true':'yes','false':''}}");
    RT_SAME(ALL, "{'mInt32':{'-1':'a','2147483647':'b'}}");
    RT_SAME(ALL, "{'mUint32':{'4294967295':'b'}}");
    RT_SAME(ALL, "{'mUint64':{'18446744073709551615':'c'}}");
    RT_SAME(ALL, "{'mSint32':{'-3':'d','3':'e'}}");
    RT_SAME(ALL, "{'mSint64':{'-9223372036854775808':'e'}}");
    RT_SAME(ALL, "{'mFixed32':{'5':'f'}}");
    RT_SAME(ALL, "{'mFixed64':{'18446744073709551615':'g'}}");
    RT_SAME(ALL, "{'mSfixed32':{'-7':'h'}}");
    RT_SAME(ALL, "{'mSfixed64':{'-8':'i'}}");
    RT(ALL, "{'mStrColor':{'x':'BLUE','y':0,'z':42}}",
       "{'mStrColor':{'x':'BLUE','y':'COLOR_UNSPECIFIED','z':42}}");
    RT_SAME(ALL, "{'mStrBytes':{'k':'AQ==','e':''}}");
    RT(ALL, "{'mStrInt':{}}", "{}");
    RT(ALL, "{'mInt32':{'+4':'x'}}", "{'mInt32':{'4':'x'}}");
    ENC_ERR(ALL, "{'mBoolStr':{'yes':'x'}}",
            "field 'mBoolStr.yes': map key 'yes' is not true or false");
    ENC_ERR(ALL, "{'mBoolStr':{'True':'x'}}", "map key 'True' is not true or false");
    ENC_ERR(ALL, "{'mInt32':{'abc':'x'}}", "field 'mInt32.abc': 'abc' is not a valid integer");
    ENC_ERR(ALL, "{'mInt32':{'2147483648':'x'}}", "out of range for a 32-bit integer");
    ENC_ERR(ALL, "{'mUint32':{'-1':'x'}}", "'-1' is not a valid integer");
    ENC_ERR(ALL, "{'mInt64Nested':{'1.5':{}}}", "'1.5' is not a valid integer");
    /* keys are integers as text, like protojson's strconv.ParseInt: no
     * exponent, fraction or spaces, and one key in two forms is refused */
    ENC_ERR(ALL, "{'mInt64Nested':{'1e2':{}}}", "field 'mInt64Nested.1e2': '1e2' is not a valid "
                                                 "integer");
    ENC_ERR(ALL, "{'mInt32':{'1.0':'x'}}", "'1.0' is not a valid integer");
    ENC_ERR(ALL, "{'mInt32':{' 1':'x'}}", "' 1' is not a valid integer");
    ENC_ERR(ALL, "{'mInt32':{'-':'x'}}", "'-' is not a valid integer");
    RT(ALL, "{'mInt32':{'007':'x','-0':'y'}}", "{'mInt32':{'7':'x','0':'y'}}");
    ENC_ERR(ALL, "{'mInt64Nested':{'1':{},'01':{'name':'b'}}}",
            "field 'mInt64Nested': map key 1 is given twice, in different forms");
    ENC_ERR(ALL, "{'mSint32':{'+5':'a','005':'b'}}", "map key 5 is given twice");
    ENC_ERR(ALL, "{'mUint64':{'0':'a','-0':'b'}}", "map key 0 is given twice");
    ENC_ERR(ALL, "{'mStrInt':{'a':null}}", "field 'mStrInt.a': null is not allowed as a map value");
    ENC_ERR(ALL, "{'mStrInt':[]}", "field 'mStrInt': expected an object (a map), got an array");
    ENC_ERR(ALL, "{'mStrInt':{'a':'x'}}", "field 'mStrInt.a': 'x' is not a valid integer");
    ENC_ERR(ALL, "{'mInt64Nested':{'1':5}}", "expected an object (unit.Nested), got an integer");
    ENC_ERR(ALL, "{'mStrColor':{'x':'PURPLE'}}", "'PURPLE' is not a value of enum unit.Color");
}

static void test_oneof_and_optional(void **state)
{
    (void)state;
    RT_SAME(ALL, "{'oString':'x'}");
    RT_SAME(ALL, "{'oString':''}"); /* a set oneof member prints even when default */
    RT_SAME(ALL, "{'oNested':{}}");
    RT_SAME(ALL, "{'oNested':{'id':2}}");
    RT(ALL, "{'oString':null,'oNested':{'id':1}}", "{'oNested':{'id':1}}");
    RT(ALL, "{'oNested':{'id':1},'oString':null}", "{'oNested':{'id':1}}");
    ENC_ERR(ALL, "{'oString':'x','oNested':{}}",
            "field 'oNested': 'oString' of the same oneof is already set");
    ENC_ERR(ALL, "{'oNested':{},'o_string':''}", "'oNested' of the same oneof is already set");
    /* proto3 optional: explicit zero is kept and printed */
    RT_SAME(ALL, "{'optInt32':0}");
    RT_SAME(ALL, "{'optInt32':-1}");
    RT(ALL, "{'opt_int32':0}", "{'optInt32':0}");
    RT(ALL, "{'optInt32':null}", "{}");
    WIRE(ALL, "{'optInt32':0}", "\xe0\x01\x00");
    WIRE(ALL, "{'oString':''}", "\xd2\x01\x00");
    /* absent optional and oneof fields stay absent with emit_defaults */
    char err[256];
    gw_buf text = GW_BUF_INIT;
    assert_int_equal(gw_proto_to_json(ALL, NULL, 0, &EMIT_DEFAULTS, &text, err, sizeof(err)),
                     GW_OK);
    char *s = strndup((const char *)text.data, text.len);
    assert_null(strstr(s, "optInt32"));
    assert_null(strstr(s, "oString"));
    assert_null(strstr(s, "oNested"));
    assert_null(strstr(s, "\"nested\""));
    free(s);
    gw_buf_free(&text);
}

static void test_json_names(void **state)
{
    (void)state;
    RT_SAME(ALL, "{'customName':'c'}");
    RT(ALL, "{'custom':'c'}", "{'customName':'c'}");
    RT_OPT(ALL, "{'customName':'c'}", NULL, &PROTO_NAMES, "{'custom':'c'}");
    RT(ALL, "{'user_id':'5'}", "{'userId':'5'}");
    RT(ALL, "{'userId':5}", "{'userId':'5'}");
    RT_OPT(ALL, "{'userId':'5'}", NULL, &PROTO_NAMES, "{'user_id':'5'}");
    RT(ALL, "{'f_int32':1,'r_nested':[{'id':1}],'m_str_int':{'k':1}}",
       "{'fInt32':1,'rNested':[{'id':1}],'mStrInt':{'k':1}}");
    RT_OPT(ALL, "{'fInt32':1,'oNested':{'id':1},'mInt64Nested':{'1':{'name':'x'}}}", NULL,
           &PROTO_NAMES, "{'f_int32':1,'m_int64_nested':{'1':{'name':'x'}},'o_nested':{'id':1}}");
    ENC_ERR(ALL, "{'userId':'1','user_id':'2'}",
            "field 'user_id': set twice (by its JSON name and its proto name)");
    ENC_ERR(ALL, "{'custom':'a','customName':'b'}", "field 'customName': set twice");
    ENC_ERR(ALL, "{'fInt32':null,'f_int32':1}", "set twice");
    /* a JSON name matches exactly: no case folding, no lowerCamel of custom */
    ENC_ERR(ALL, "{'FInt32':1}", "field 'FInt32': no such field in unit.AllTypes");
    ENC_ERR(ALL, "{'customname':1}", "no such field in unit.AllTypes");
}

static void test_unknown_fields(void **state)
{
    (void)state;
    ENC_ERR(ALL, "{'nope':1}", "field 'nope': no such field in unit.AllTypes");
    ENC_ERR(ALL, "{'fInt32':1,'nope':null}", "field 'nope': no such field in unit.AllTypes");
    RT_OPT(ALL, "{'nope':1}", &IGNORE_UNKNOWN, NULL, "{}");
    RT_OPT(ALL, "{'nope':{'deep':[1,{}]},'fInt32':3}", &IGNORE_UNKNOWN, NULL, "{'fInt32':3}");
    RT_OPT(ALL, "{'nested':{'x':1,'id':2}}", &IGNORE_UNKNOWN, NULL, "{'nested':{'id':2}}");
    RT_OPT(ALL, "{'rNested':[{'x':1},{'id':2}]}", &IGNORE_UNKNOWN, NULL,
           "{'rNested':[{},{'id':2}]}");
    /* ignoring unknown keys does not excuse bad values of known ones */
    encode_fails(ALL, "{'nope':1,'fInt32':'x'}", &IGNORE_UNKNOWN, "'x' is not a valid integer",
                 __LINE__);
}

static void test_defaults(void **state)
{
    (void)state;
    RT(ALL, "{'fInt32':0,'fInt64':'0','fUint64':0,'fSint32':0,'fFixed64':'0','fString':'',"
            "'fBool':false,'fDouble':0,'fFloat':0,'color':'COLOR_UNSPECIFIED','fBytes':'',"
            "'rInt32':[],'mStrInt':{},'customName':'','userId':0}",
       "{}");
    DEC_OPT(ALL, "", &EMIT_DEFAULTS,
            "{'fDouble':0,'fFloat':0,'fInt32':0,'fInt64':'0','fUint32':0,'fUint64':'0',"
            "'fSint32':0,'fSint64':'0','fFixed32':0,'fFixed64':'0','fSfixed32':0,"
            "'fSfixed64':'0','fBool':false,'fString':'','fBytes':'','color':'COLOR_UNSPECIFIED',"
            "'rInt32':[],'rDouble':[],'rString':[],'rNested':[],'rColor':[],'mStrInt':{},"
            "'mInt64Nested':{},'mBoolStr':{},'customName':'','userId':'0','rUnpacked':[],"
            "'rBytes':[],'mInt32':{},'mUint32':{},'mUint64':{},'mSint32':{},'mSint64':{},"
            "'mFixed32':{},'mFixed64':{},'mSfixed32':{},'mSfixed64':{},'mStrColor':{},"
            "'mStrBytes':{}}");
    DEC_OPT(NESTED, "", &PROTO_NAMES_DEFAULTS, "{'id':0,'name':''}");
    DEC_OPT(NESTED, "\x12\x01x", &EMIT_DEFAULTS, "{'id':0,'name':'x'}");
    RT_OPT(THING, "{'nested':{}}", NULL, &PROTO_NAMES_DEFAULTS,
           "{'id':'','name':'','count':0,'active':false,'color':'COLOR_UNSPECIFIED','tags':[],"
           "'nested':{'id':0,'name':''}}");
    RT_OPT(ALL, "{'userId':'0'}", NULL, &PROTO_NAMES, "{}");
}

static void test_top_level(void **state)
{
    (void)state;
    char err[256];
    gw_buf wire = GW_BUF_INIT;
    /* null is the empty message */
    assert_int_equal(gw_json_to_proto(ALL, json_null(), NULL, &wire, err, sizeof(err)), GW_OK);
    assert_int_equal(wire.len, 0);
    gw_buf_free(&wire);
    RT(ALL, "{}", "{}");
    ENC_ERR(ALL, "[]", "expected an object (unit.AllTypes), got an array");
    ENC_ERR(ALL, "'x'", "expected an object (unit.AllTypes), got a string");
    ENC_ERR(ALL, "3", "expected an object (unit.AllTypes), got an integer");
    ENC_ERR(ALL, "true", "expected an object (unit.AllTypes), got a boolean");
}

/* Wrong JSON types, one per kind of field. */
static void test_wrong_types(void **state)
{
    (void)state;
    static const struct {
        const char *in, *err;
    } cases[] = {
        {"{'fInt32':true}", "field 'fInt32': expected an integer, got a boolean"},
        {"{'fInt64':{}}", "field 'fInt64': expected an integer, got an object"},
        {"{'fUint32':[]}", "field 'fUint32': expected an integer, got an array"},
        {"{'fUint64':false}", "field 'fUint64': expected an integer, got a boolean"},
        {"{'fSint32':true}", "field 'fSint32': expected an integer, got a boolean"},
        {"{'fSint64':[]}", "field 'fSint64': expected an integer, got an array"},
        {"{'fFixed32':{}}", "field 'fFixed32': expected an integer, got an object"},
        {"{'fFixed64':true}", "field 'fFixed64': expected an integer, got a boolean"},
        {"{'fSfixed32':[]}", "field 'fSfixed32': expected an integer, got an array"},
        {"{'fSfixed64':{}}", "field 'fSfixed64': expected an integer, got an object"},
        {"{'fDouble':{}}", "field 'fDouble': expected a number, got an object"},
        {"{'fFloat':false}", "field 'fFloat': expected a number, got a boolean"},
        {"{'fBool':'true'}", "field 'fBool': expected true or false, got a string"},
        {"{'fBool':1}", "field 'fBool': expected true or false, got an integer"},
        {"{'fString':5}", "field 'fString': expected a string, got an integer"},
        {"{'fString':1.5}", "field 'fString': expected a string, got a number"},
        /* literals kept as text: by what they are */
        {"{'fString':1e-400}", "field 'fString': expected a string, got a number"},
        {"{'fString':1.0000000000000001}", "field 'fString': expected a string, got a number"},
        {"{'fString':18446744073709551616}",
         "field 'fString': expected a string, got an integer"},
        {"{'fString':{}}", "field 'fString': expected a string, got an object"},
        {"{'fBytes':[]}", "field 'fBytes': expected a base64 string, got an array"},
        {"{'color':[]}", "field 'color': expected an enum name or number, got an array"},
        {"{'nested':'x'}", "field 'nested': expected an object (unit.Nested), got a string"},
        {"{'rString':'x'}", "field 'rString': expected an array, got a string"},
        {"{'rString':[1]}", "field 'rString[0]': expected a string, got an integer"},
        {"{'mBoolStr':'x'}", "field 'mBoolStr': expected an object (a map), got a string"},
        {"{'mBoolStr':{'true':1}}", "field 'mBoolStr.true': expected a string, got an integer"},
        {"{'oNested':1}", "field 'oNested': expected an object (unit.Nested), got an integer"},
        {"{'optInt32':'x'}", "field 'optInt32': 'x' is not a valid integer"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        encode_fails(ALL, cases[i].in, NULL, cases[i].err, __LINE__);
}

/* ---- depth ------------------------------------------------------------------ */

/* {"child":{"child":…{"value":1}…}}: `levels` objects in all. */
static json_t *nested_json(int levels)
{
    json_t *obj = json_pack("{s:i}", "value", 1);
    for (int i = 1; i < levels; i++)
        obj = json_pack("{s:o}", "child", obj);
    assert_non_null(obj);
    return obj;
}

/* The wire form of the same: Node{child: Node{… Node{value: 1}}}. */
static void nested_wire(int levels, gw_buf *out)
{
    gw_buf_free(out);
    gw_buf_append(out, "\x10\x01", 2);
    for (int i = 1; i < levels; i++) {
        gw_buf_insert_varint(out, 0, out->len);
        gw_buf_insert_varint(out, 0, 0x0a); /* tag 1, length-delimited */
    }
    assert_false(out->oom);
}

static void test_depth_limit(void **state)
{
    (void)state;
    char err[512] = ""; /* the reason follows a 255-byte field path */
    gw_buf wire = GW_BUF_INIT, text = GW_BUF_INIT;

    /* 100 levels: the limit, accepted both ways */
    json_t *ok = nested_json(100);
    assert_int_equal(gw_json_to_proto(NODE, ok, NULL, &wire, err, sizeof(err)), GW_OK);
    json_decref(ok);
    gw_buf expect = GW_BUF_INIT;
    nested_wire(100, &expect);
    assert_int_equal(wire.len, expect.len);
    assert_memory_equal(wire.data, expect.data, wire.len);
    assert_int_equal(gw_proto_to_json(NODE, wire.data, wire.len, NULL, &text, err, sizeof(err)),
                     GW_OK);
    gw_buf want = GW_BUF_INIT;
    for (int i = 1; i < 100; i++)
        gw_buf_puts(&want, "{\"child\":");
    gw_buf_puts(&want, "{\"value\":1}");
    for (int i = 1; i < 100; i++)
        gw_buf_putc(&want, '}');
    assert_int_equal(text.len, want.len);
    assert_memory_equal(text.data, want.data, want.len);
    gw_buf_free(&want);
    gw_buf_free(&wire);
    gw_buf_free(&text);

    /* 101 levels: refused both ways, cleanly */
    json_t *deep = nested_json(101);
    assert_int_equal(gw_json_to_proto(NODE, deep, NULL, &wire, err, sizeof(err)), GW_REFUSED);
    assert_non_null(strstr(err, "messages nested more than 100 deep"));
    json_decref(deep);
    gw_buf_free(&wire);
    nested_wire(101, &expect);
    err[0] = '\0';
    assert_int_equal(gw_proto_to_json(NODE, expect.data, expect.len, NULL, &text, err, sizeof(err)),
                     GW_REFUSED);
    assert_non_null(strstr(err, "messages nested more than 100 deep"));
    gw_buf_free(&text);

    /* far deeper: no stack trouble either way */
    deep = nested_json(5000);
    assert_int_equal(gw_json_to_proto(NODE, deep, NULL, &wire, err, sizeof(err)), GW_REFUSED);
    json_decref(deep);
    gw_buf_free(&wire);
    nested_wire(5000, &expect);
    assert_int_equal(gw_proto_to_json(NODE, expect.data, expect.len, NULL, &text, err, sizeof(err)),
                     GW_REFUSED);
    gw_buf_free(&text);
    gw_buf_free(&expect);
}

/* ---- wire bytes, hand-computed -------------------------------------------------- */

static void test_wire_bytes(void **state)
{
    (void)state;
    WIRE(ALL, "{}", "");
    WIRE(ALL, "{'fInt32':150}", "\x18\x96\x01");
    WIRE(ALL, "{'fInt32':-1}", "\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
    WIRE(ALL, "{'fInt64':'300'}", "\x20\xac\x02");
    WIRE(ALL, "{'fUint32':1}", "\x28\x01");
    WIRE(ALL, "{'fUint64':'18446744073709551615'}",
         "\x30\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
    WIRE(ALL, "{'fSint32':-1}", "\x38\x01");
    WIRE(ALL, "{'fSint32':1}", "\x38\x02");
    WIRE(ALL, "{'fSint32':-64}", "\x38\x7f");
    WIRE(ALL, "{'fSint64':'-9223372036854775808'}",
         "\x40\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
    WIRE(ALL, "{'fFixed32':1}", "\x4d\x01\x00\x00\x00");
    WIRE(ALL, "{'fFixed64':'258'}", "\x51\x02\x01\x00\x00\x00\x00\x00\x00");
    WIRE(ALL, "{'fSfixed32':-2}", "\x5d\xfe\xff\xff\xff");
    WIRE(ALL, "{'fSfixed64':'-1'}", "\x61\xff\xff\xff\xff\xff\xff\xff\xff");
    WIRE(ALL, "{'fDouble':1}", "\x09\x00\x00\x00\x00\x00\x00\xf0\x3f");
    WIRE(ALL, "{'fFloat':1}", "\x15\x00\x00\x80\x3f");
    WIRE(ALL, "{'fFloat':'-Infinity'}", "\x15\x00\x00\x80\xff");
    WIRE(ALL, "{'fBool':true}", "\x68\x01");
    WIRE(ALL, "{'fString':'testing'}", "\x72\x07testing");
    WIRE(ALL, "{'nested':{'id':1}}", "\x8a\x01\x02\x08\x01");
    WIRE(ALL, "{'nested':{}}", "\x8a\x01\x00");
    WIRE(ALL, "{'rInt32':[1,2,3]}", "\x92\x01\x03\x01\x02\x03");
    WIRE(ALL, "{'rInt32':[]}", "");
    WIRE(ALL, "{'rDouble':[1]}", "\x9a\x01\x08\x00\x00\x00\x00\x00\x00\xf0\x3f");
    WIRE(ALL, "{'rString':['a','b']}", "\xa2\x01\x01\x61\xa2\x01\x01\x62");
    WIRE(ALL, "{'rNested':[{},{'id':1}]}", "\xaa\x01\x00\xaa\x01\x02\x08\x01");
    WIRE(ALL, "{'rUnpacked':[1,2]}", "\xf8\x01\x01\xf8\x01\x02");
    WIRE(ALL, "{'mStrInt':{'a':1}}", "\xba\x01\x05\x0a\x01\x61\x10\x01");
    WIRE(ALL, "{'mBoolStr':{'true':'x'}}", "\xca\x01\x05\x08\x01\x12\x01\x78");
    WIRE(ALL, "{'mInt64Nested':{'-1':{}}}",
         "\xc2\x01\x0d\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x12\x00");
    WIRE(ALL, "{'userId':'1','customName':'c'}", "\xf0\x01\x01\xea\x01\x01\x63");
    /* a nested message longer than 127 bytes: two-byte length prefix */
    WIRE(NESTED, "{'name':'0123456789012345678901234567890123456789012345678901234567890123"
                 "456789012345678901234567890123456789012345678901234567890123456789'}",
         "\x12\x82\x01"
         "0123456789012345678901234567890123456789012345678901234567890123"
         "456789012345678901234567890123456789012345678901234567890123456789");
    WIRE(THING, "{'nested':{'name':'0123456789012345678901234567890123456789012345678901234567890"
                "123456789012345678901234567890123456789012345678901234567890123456789'}}",
         "\x3a\x85\x01\x12\x82\x01"
         "0123456789012345678901234567890123456789012345678901234567890123"
         "456789012345678901234567890123456789012345678901234567890123456789");
}

/* ---- wire -> JSON: what parsers must accept, and what they must refuse ------- */

static void test_wire_tolerance(void **state)
{
    (void)state;
    DEC(ALL, "", "{}");
    /* unknown fields of every wire type are skipped */
    DEC(ALL, "\xf8\x06\x01", "{}");                                /* 111: varint */
    DEC(ALL, "\xf9\x06\x01\x02\x03\x04\x05\x06\x07\x08", "{}");    /* 111: fixed64 */
    DEC(ALL, "\xfa\x06\x02hi\x18\x05", "{'fInt32':5}");            /* 111: bytes */
    DEC(ALL, "\xfd\x06\x01\x02\x03\x04", "{}");                    /* 111: fixed32 */
    DEC(ALL, "\x9b\x06\x08\x01\x9c\x06", "{}");                    /* 99: a group */
    /* nested groups */
    DEC(ALL, "\x9b\x06\xa3\x06\x08\x01\xa4\x06\x9c\x06\x18\x01", "{'fInt32':1}");
    /* singular: the last occurrence wins */
    DEC(ALL, "\x18\x01\x18\x02", "{'fInt32':2}");
    DEC(ALL, "\x72\x01\x61\x72\x01\x62", "{'fString':'b'}");
    /* a message seen twice merges */
    DEC(ALL, "\x8a\x01\x02\x08\x01\x8a\x01\x03\x12\x01x", "{'nested':{'id':1,'name':'x'}}");
    /* packed and unpacked forms are interchangeable on input */
    DEC(ALL, "\x90\x01\x05\x90\x01\x06", "{'rInt32':[5,6]}");
    DEC(ALL, "\x92\x01\x01\x07\x90\x01\x08\x92\x01\x00", "{'rInt32':[7,8]}");
    DEC(ALL, "\xfa\x01\x02\x07\x08", "{'rUnpacked':[7,8]}");
    DEC(ALL, "\x9a\x01\x08\x00\x00\x00\x00\x00\x00\xf0\x3f", "{'rDouble':[1]}");
    DEC(ALL, "\x99\x01\x00\x00\x00\x00\x00\x00\xf0\x3f", "{'rDouble':[1]}");
}

static void test_wire_tolerance_more(void **state)
{
    (void)state;
    /* fields print in field-number order, whatever the wire order */
    DEC(ALL, "\x72\x01z\x18\x03\x09\x00\x00\x00\x00\x00\x00\xe0\x3f",
        "{'fDouble':0.5,'fInt32':3,'fString':'z'}");
    /* zero values sent explicitly are still defaults */
    DEC(ALL, "\x18\x00\x72\x00\x68\x00", "{}");
    /* map entries missing their key or value get the defaults */
    DEC(ALL, "\xba\x01\x02\x10\x05", "{'mStrInt':{'':5}}");
    DEC(ALL, "\xba\x01\x03\x0a\x01\x61", "{'mStrInt':{'a':0}}");
    DEC(ALL, "\xba\x01\x00", "{'mStrInt':{'':0}}");
    DEC(ALL, "\xca\x01\x00", "{'mBoolStr':{'false':''}}");
    DEC(ALL, "\xc2\x01\x02\x08\x07", "{'mInt64Nested':{'7':{}}}");
    DEC(ALL, "\xc2\x01\x00", "{'mInt64Nested':{'0':{}}}");
    /* int32 sent as a 5-byte (non-sign-extended) varint still reads back */
    DEC(ALL, "\x18\xff\xff\xff\xff\x0f", "{'fInt32':-1}");
    /* bool: any non-zero varint is true */
    DEC(ALL, "\x68\x02", "{'fBool':true}");
    /* enum number with no name */
    DEC(ALL, "\x80\x01\x09", "{'color':9}");
}

/* The same key twice in a map: the last entry wins, as protobuf parsers do,
 * and the JSON object has each key once. */
static void test_map_duplicate_key_last_wins(void **state)
{
    (void)state;
    DEC(ALL, "\xba\x01\x05\x0a\x01\x61\x10\x01\xba\x01\x05\x0a\x01\x61\x10\x02",
        "{'mStrInt':{'a':2}}");
    DEC(ALL, "\xba\x01\x05\x0a\x01\x61\x10\x01\xba\x01\x05\x0a\x01\x62\x10\x02"
             "\xba\x01\x05\x0a\x01\x61\x10\x03",
        "{'mStrInt':{'b':2,'a':3}}");
}

/* Two members of one oneof on the wire: the last one wins (protobuf
 * parsers keep only it), so the JSON names one member -- the gateway's own
 * encoder refuses JSON that names two. */
static void test_oneof_last_member_wins(void **state)
{
    (void)state;
    DEC(ALL, "\xd2\x01\x01\x61\xda\x01\x00", "{'oNested':{}}");
    DEC(ALL, "\xda\x01\x02\x08\x01\xd2\x01\x01\x61", "{'oString':'a'}");
}

/* proto2: groups both ways, closed enums (a number they do not declare is
 * refused in, and left out, as parsers do, on the way out). */
static void test_proto2(void **state)
{
    (void)state;
    char err[512];
    const char *files[] = {BUILD_DIR "/tests/proto2.pb"};
    gw_schema *schema = gw_schema_load(files, 1, err, sizeof(err));
    assert_non_null(schema);
    const gw_message *P2 = gw_schema_message(schema, "unit2.P2");
    assert_non_null(P2);
    DEC(P2, "\x08\x01\x3b\x40\x07\x3c", "{'req':1,'mygroup':{'g':7}}");
    DEC(P2, "\x3b\x40\x07\x3c\x3b\x40\x08\x3c", "{'mygroup':{'g':8}}"); /* merged */
    DEC(P2, "\x4b\x52\x01\x61\x4c\x4b\x4c", "{'item':[{'name':'a'},{}]}");
    WIRE(P2, "{'mygroup':{'g':7}}", "\x3b\x40\x07\x3c");
    WIRE(P2, "{'item':[{'name':'a'},{}]}", "\x4b\x52\x01\x61\x4c\x4b\x4c");
    RT_SAME(P2, "{'req':1,'mygroup':{'g':7},'item':[{'name':'a'}]}");
    DEC_ERR(P2, "\x3b\x40\x07", "field 7 truncated"); /* no end tag */
    /* closed enum */
    RT(P2, "{'c':2}", "{'c':'GREEN'}");
    RT_SAME(P2, "{'c':'RED','rc':['RED','GREEN'],'ru':['GREEN']}");
    ENC_ERR(P2, "{'c':99}", "field 'c': 99 is not a value of enum unit2.P2.Color");
    ENC_ERR(P2, "{'rc':[1,99]}", "99 is not a value of enum unit2.P2.Color");
    ENC_ERR(P2, "{'c':'3'}", "3 is not a value");
    DEC(P2, "\x08\x01\x10\x63", "{'req':1}");
    DEC(P2, "\x10\x01\x10\x63", "{'c':'RED'}"); /* the last value it knows */
    DEC(P2, "\x1a\x03\x01\x63\x02", "{'rc':['RED','GREEN']}");
    DEC(P2, "\x20\x63\x20\x02", "{'ru':['GREEN']}");
    DEC(P2, "\x1a\x01\x63", "{}"); /* a packed run of undeclared numbers only */
    DEC(P2, "\x1a\x01\x63\x20\x63", "{}");
    gw_schema_free(schema);
}

static void test_malformed_wire(void **state)
{
    (void)state;
    DEC_ERR(ALL, "\x18\x80",
            "malformed unit.AllTypes message (field 3 truncated or bad wire type)");
    /* an 11-byte varint */
    DEC_ERR(ALL, "\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "field 3 truncated");
    DEC_ERR(ALL, "\x72\x05\x61\x62", "malformed unit.AllTypes message (field 14 truncated");
    DEC_ERR(ALL, "\x72\xff\xff\xff\xff\xff\xff\xff\xff\x7f", "field 14 truncated");
    DEC_ERR(ALL, "\x72", "field 14 truncated");
    DEC_ERR(ALL, "\x09\x01\x02\x03", "field 1 truncated");
    DEC_ERR(ALL, "\x15\x01\x02\x03", "field 2 truncated");
    /* a known field with another wire type (its type changed since the
     * descriptors were made): parsers keep it with the unknown fields */
    DEC(ALL, "\x75\x00\x00\x00\x00", "{}");
    DEC(ALL, "\x19\x00\x00\x00\x00\x00\x00\x00\x00\x18\x05", "{'fInt32':5}");
    DEC(ALL, "\x0a\x00", "{}");
    DEC(ALL, "\x88\x01\x01", "{}");
    DEC(ALL, "\x93\x01\x08\x01\x94\x01", "{}"); /* a group for a message field */
    DEC_ERR(ALL, "\x80", "malformed unit.AllTypes message (bad tag)");
    DEC_ERR(ALL, "\x00\x01", "(bad tag)");
    DEC_ERR(ALL, "\x1e\x01", "field 3 truncated or bad wire type");  /* wire type 6 */
    DEC_ERR(ALL, "\x1f\x01", "field 3 truncated or bad wire type");  /* wire type 7 */
    DEC_ERR(ALL, "\x1c", "field 3 truncated or bad wire type");      /* stray end-group */
    DEC_ERR(ALL, "\x9b\x06\x08\x01", "field 99 truncated or bad wire type"); /* open group */
    DEC_ERR(ALL, "\x9b\x06\xa4\x06", "field 99 truncated or bad wire type"); /* wrong end */
    /* inside a nested message, a packed field, a map entry */
    DEC_ERR(ALL, "\x8a\x01\x02\x08\x80", "field 'nested': malformed unit.Nested message");
    DEC_ERR(ALL, "\x92\x01\x02\x01\x80", "field 'rInt32': malformed packed field");
    DEC_ERR(ALL, "\x9a\x01\x03\x00\x00\x00", "malformed packed field");
    DEC_ERR(ALL, "\xba\x01\x02\x0a\x05", "malformed unit.AllTypes.MStrIntEntry message");
    DEC_ERR(ALL, "\xaa\x01\x02\x08\x80", "field 'rNested': malformed unit.Nested message");
    DEC_ERR(ALL, "\xc2\x01\x04\x08\x01\x12\x80", "mInt64Nested");
    /* strings must be UTF-8, also in map keys and values */
    DEC_ERR(ALL, "\x72\x01\xff", "field 'fString': string is not valid UTF-8");
    DEC_ERR(ALL, "\xba\x01\x03\x0a\x01\xc3", "field 'mStrInt': string is not valid UTF-8");
    DEC_ERR(ALL, "\xca\x01\x05\x08\x01\x12\x01\x80", "string is not valid UTF-8");
    DEC_ERR(ALL, "\xa2\x01\x01\x61\xa2\x01\x01\xfe", "field 'rString': string is not valid UTF-8");
}

/* Every prefix and many corruptions of a real message: each must either
 * convert or fail with a reason -- never crash or read out of bounds (run
 * under valgrind to see the latter). */
static void test_corrupt_wire_fails_cleanly(void **state)
{
    (void)state;
    char err[512];
    gw_buf wire = GW_BUF_INIT;
    if (encode(ALL,
                    "{'fDouble':1.5,'fInt32':-42,'fInt64':'-123456789','fSint64':'-5',"
                    "'fFixed32':7,'fString':'h\\u00e9llo','fBytes':'AAEC','color':'INFRARED',"
                    "'nested':{'id':7,'name':'n'},'rInt32':[1,300,-1],'rDouble':[0.5],"
                    "'rString':['a','b'],'rNested':[{'id':1},{}],'mStrInt':{'k':1},"
                    "'mInt64Nested':{'-9':{'name':'v'}},'mBoolStr':{'true':'t'},"
                    "'oNested':{'id':3},'optInt32':0,'customName':'c','rUnpacked':[4,5],"
                    "'mStrBytes':{'b':'AQ=='}}",
                    NULL, &wire, err, sizeof(err)) != 0)
        fail_msg("encode: %s", err);
    size_t ok = 0, failed = 0;
    for (size_t n = 0; n <= wire.len; n++) {
        uint8_t *prefix = dup_bytes(wire.data, n);
        gw_buf text = GW_BUF_INIT;
        err[0] = '\0';
        gw_result rc = gw_proto_to_json(ALL, prefix, n, NULL, &text, err, sizeof(err));
        assert_true(rc == GW_OK || (rc == GW_REFUSED && err[0] != '\0'));
        rc == GW_OK ? ok++ : failed++;
        gw_buf_free(&text);
        free(prefix);
    }
    assert_true(ok > 1 && failed > 1);
    static const uint8_t flips[] = {0x01, 0x07, 0x40, 0x80, 0xff};
    for (size_t i = 0; i < wire.len; i++) {
        for (size_t k = 0; k < sizeof(flips); k++) {
            uint8_t *bad = dup_bytes(wire.data, wire.len);
            bad[i] ^= flips[k];
            gw_buf text = GW_BUF_INIT;
            err[0] = '\0';
            gw_result rc = gw_proto_to_json(ALL, bad, wire.len, &EMIT_DEFAULTS, &text, err,
                                            sizeof(err));
            assert_true(rc == GW_OK || (rc == GW_REFUSED && err[0] != '\0'));
            gw_buf_free(&text);
            free(bad);
        }
    }
    gw_buf_free(&wire);
}

/* ---- example.StringMessage, the echo service's message ----------------------------- */

static void test_echo_string_message(void **state)
{
    (void)state;
    RT_SAME(STRMSG, "{'value':'this is vlaue'}");
    WIRE(STRMSG, "{'value':'this is vlaue'}", "\x0a\x0dthis is vlaue");
    RT(STRMSG, "{'value':''}", "{}");
    RT(STRMSG, "{}", "{}");
    /* escapes: JSON's short ones, \u00XX for other control characters; '/'
     * and DEL go out as they are */
    roundtrip(STRMSG,
              "{\"value\":\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\\u0000end\"}", NULL,
              NULL, "{\"value\":\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\\u0000end\"}",
              __LINE__);
    WIRE(STRMSG, "{'value':'\\u0000'}", "\x0a\x01\x00");
    /* UTF-8 goes out unescaped, from \u escapes (surrogate pairs too) or raw */
    RT(STRMSG, "{'value':'h\\u00e9llo \\u4e16\\u754c \\ud83d\\ude00'}",
       "{'value':'h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80'}");
    RT_SAME(STRMSG, "{'value':'h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80'}");
    RT_SAME(STRMSG, "{'value':'\xf4\x8f\xbf\xbf\xef\xbf\xbf\xe2\x80\xa8'}");
}

static void test_echo_invalid_utf8(void **state)
{
    (void)state;
    DEC_ERR(STRMSG, "\x0a\x02\xc3\x28", "field 'value': string is not valid UTF-8");
    DEC_ERR(STRMSG, "\x0a\x02\xc0\x80", "not valid UTF-8");         /* overlong NUL */
    DEC_ERR(STRMSG, "\x0a\x03\xe0\x80\xaf", "not valid UTF-8");     /* overlong '/' */
    DEC_ERR(STRMSG, "\x0a\x03\xed\xa0\x80", "not valid UTF-8");     /* a surrogate */
    DEC_ERR(STRMSG, "\x0a\x04\xf4\x90\x80\x80", "not valid UTF-8"); /* past U+10FFFF */
    DEC_ERR(STRMSG, "\x0a\x02\xe2\x82", "not valid UTF-8");         /* truncated */
    DEC_ERR(STRMSG, "\x0a\x01\x80", "not valid UTF-8");             /* lone continuation */
    DEC_ERR(STRMSG, "\x0a\x01\xff", "not valid UTF-8");
    DEC_ERR(STRMSG, "\x0a\x05\xf8\x88\x80\x80\x80", "not valid UTF-8"); /* 5-byte form */
    DEC(STRMSG, "\x0a\x02\xc3\xa9", "{'value':'\xc3\xa9'}");
    /* JSON that is not UTF-8 never gets as far: jansson refuses it */
    json_error_t jerr;
    assert_null(json_loads("{\"value\":\"\xc3\x28\"}", 0, &jerr));
}

static void test_echo_one_mebibyte(void **state)
{
    (void)state;
    const size_t n = 1u << 20;
    char *value = malloc(n + 1);
    assert_non_null(value);
    for (size_t i = 0; i < n; i++)
        value[i] = (char)('a' + i % 26);
    value[n] = '\0';
    json_t *json = json_pack("{s:s}", "value", value);
    assert_non_null(json);
    char err[256];
    gw_buf wire = GW_BUF_INIT, text = GW_BUF_INIT;
    assert_int_equal(gw_json_to_proto(STRMSG, json, NULL, &wire, err, sizeof(err)), GW_OK);
    assert_int_equal(wire.len, 1 + 3 + n);
    assert_memory_equal(wire.data, "\x0a\x80\x80\x40", 4);
    assert_memory_equal(wire.data + 4, value, n);
    assert_int_equal(gw_proto_to_json(STRMSG, wire.data, wire.len, NULL, &text, err, sizeof(err)),
                     GW_OK);
    assert_int_equal(text.len, n + strlen("{\"value\":\"\"}"));
    assert_memory_equal(text.data, "{\"value\":\"", 10);
    assert_memory_equal(text.data + 10, value, n);
    assert_memory_equal(text.data + 10 + n, "\"}", 2);
    json_decref(json);
    gw_buf_free(&wire);
    gw_buf_free(&text);

    /* 1 MiB of two-byte characters and quotes, escaped on the way out */
    for (size_t i = 0; i + 1 < n; i += 2)
        memcpy(value + i, i % 1024 == 0 ? "\"\\" : "\xc3\xa9", 2);
    json = json_pack("{s:s}", "value", value);
    assert_non_null(json);
    assert_int_equal(gw_json_to_proto(STRMSG, json, NULL, &wire, err, sizeof(err)), GW_OK);
    assert_int_equal(gw_proto_to_json(STRMSG, wire.data, wire.len, NULL, &text, err, sizeof(err)),
                     GW_OK);
    json_error_t jerr;
    json_t *back = json_loadb((const char *)text.data, text.len, 0, &jerr);
    assert_non_null(back);
    assert_true(json_equal(back, json));
    assert_int_equal(text.len, strlen("{\"value\":\"\"}") + n + n / 1024 * 2);
    json_decref(back);
    json_decref(json);
    gw_buf_free(&wire);
    gw_buf_free(&text);
    free(value);
}

/* ---- response_body and the string writer --------------------------------------- */

static void field_json_is(const gw_message *m, const char *field, const char *bytes, size_t n,
                          const gw_json_options *opt, const char *want, int line)
{
    const gw_field *f = gw_message_field_by_name(m, field, strlen(field));
    if (!f)
        fail_msg("line %d: no field %s", line, field);
    char err[256] = "";
    gw_buf text = GW_BUF_INIT;
    uint8_t *data = dup_bytes(bytes, n);
    if (gw_proto_field_to_json(m, f, data, n, opt, &text, err, sizeof(err)) != GW_OK)
        note("line %d: gw_proto_field_to_json(%s) failed: %s", line, field, err);
    else
        text_is(&text, want, field, line);
    free(data);
    gw_buf_free(&text);
    settle();
}

#define FIELD_JSON(m, field, bytes, want) \
    field_json_is(m, field, bytes, sizeof(bytes) - 1, NULL, want, __LINE__)

static void test_response_body_field(void **state)
{
    (void)state;
    FIELD_JSON(THING, "name", "\x12\x03\x61\x62\x63", "'abc'");
    FIELD_JSON(THING, "name", "", "''");
    FIELD_JSON(THING, "count", "\x18\x05", "5");
    FIELD_JSON(THING, "count", "", "0");
    FIELD_JSON(THING, "color", "", "'COLOR_UNSPECIFIED'");
    FIELD_JSON(THING, "tags", "\x32\x01x\x32\x01y", "['x','y']");
    FIELD_JSON(THING, "tags", "", "[]");
    FIELD_JSON(THING, "nested", "\x3a\x02\x08\x01", "{'id':1}");
    FIELD_JSON(THING, "nested", "", "{}");
    FIELD_JSON(ALL, "mStrInt", "", "{}");
    FIELD_JSON(ALL, "userId", "\xf0\x01\x07", "'7'");
    FIELD_JSON(ALL, "fBytes", "\x7a\x01\xff", "'/w=='");
    char err[256] = "";
    gw_buf text = GW_BUF_INIT;
    const gw_field *f = gw_message_field_by_name(THING, "name", 4);
    assert_int_equal(gw_proto_field_to_json(THING, f, (const uint8_t *)"\x12\x05x", 3, NULL, &text,
                                            err, sizeof(err)),
                     GW_REFUSED);
    assert_non_null(strstr(err, "malformed unit.Thing message"));
    gw_buf_free(&text);
    assert_int_equal(gw_proto_field_to_json(THING, f, (const uint8_t *)"\x12\x01\xff", 3, NULL,
                                            &text, err, sizeof(err)),
                     GW_REFUSED);
    assert_non_null(strstr(err, "not valid UTF-8"));
    gw_buf_free(&text);
}

static void test_write_string(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"", 0, "\"\""},
        {"plain", 5, "\"plain\""},
        {"a\"b\\c/d", 7, "\"a\\\"b\\\\c/d\""},
        {"\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\""},
        {"\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\""},
        {"a\0b", 3, "\"a\\u0000b\""},
        {"\xc3\xa9", 2, "\"\xc3\xa9\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gw_buf out = GW_BUF_INIT;
        gw_json_write_string(&out, cases[i].in, cases[i].len);
        text_is(&out, cases[i].out, "gw_json_write_string", __LINE__);
        gw_buf_free(&out);
        settle();
    }
}

/* Text from outside (status messages, names from a request) keeps its
 * well-formed UTF-8 and has every other byte replaced by U+FFFD. */
static void test_write_text(void **state)
{
    (void)state;
#define FFFD "\xef\xbf\xbd"
#define IN(s) s, sizeof(s) - 1
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {IN("no route for GET /caf\xc3\xa9"), "\"no route for GET /caf\xc3\xa9\""},
        {IN("/\xff\xfe"), "\"/" FFFD FFFD "\""},
        {IN("cut \xc3"), "\"cut " FFFD "\""},           /* a character cut short */
        {IN("\xe2\x82"), "\"" FFFD "\""},              /* one character cut short: one */
        {IN("\xc0\xaf"), "\"" FFFD FFFD "\""},           /* overlong '/' */
        {IN("\xed\xa0\x80"), "\"" FFFD FFFD FFFD "\""}, /* a surrogate */
        {IN("\xf4\x90\x80\x80"), "\"" FFFD FFFD FFFD FFFD "\""}, /* past U+10FFFF */
        {IN("\xf0\x9f\x98\x80\"\xff"), "\"\xf0\x9f\x98\x80\\\"" FFFD "\""},
    };
#undef IN
#undef FFFD
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gw_buf out = GW_BUF_INIT;
        gw_json_write_text(&out, cases[i].in, cases[i].len);
        text_is(&out, cases[i].out, "gw_json_write_text", __LINE__);
        assert_true(rp_utf8_valid(out.data, out.len));
        gw_buf_free(&out);
        settle();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_names),
        cmocka_unit_test(test_schema_refuses_names_protoc_would_not_make),
        cmocka_unit_test(test_every_scalar_roundtrip),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_integer_errors),
        cmocka_unit_test(test_float_double),
        cmocka_unit_test(test_double_string_overflow_and_space),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_nested_and_repeated),
        cmocka_unit_test(test_null_in_repeated),
        cmocka_unit_test(test_maps),
        cmocka_unit_test(test_oneof_and_optional),
        cmocka_unit_test(test_json_names),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_top_level),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_wire_bytes),
        cmocka_unit_test(test_wire_tolerance),
        cmocka_unit_test(test_wire_tolerance_more),
        cmocka_unit_test(test_map_duplicate_key_last_wins),
        cmocka_unit_test(test_oneof_last_member_wins),
        cmocka_unit_test(test_malformed_wire),
        cmocka_unit_test(test_proto2),
        cmocka_unit_test(test_corrupt_wire_fails_cleanly),
        cmocka_unit_test(test_echo_string_message),
        cmocka_unit_test(test_echo_invalid_utf8),
        cmocka_unit_test(test_echo_one_mebibyte),
        cmocka_unit_test(test_response_body_field),
        cmocka_unit_test(test_write_string),
        cmocka_unit_test(test_write_text),
    };
    return cmocka_run_group_tests_name("gw_json", tests, load_schemas, free_schemas);
}
