/*
 * test_gw_wkt.c -- the well-known types of the proto3 JSON mapping
 * (gateway/gw_wkt.c), the JSON reader's exact integers (gw_json_loadb) and
 * the parts of gateway/gw_json.c they rely on, on build/tests/wkt.pb.
 * Exact expected text for the key cases; a clean error that names the
 * field for bad input.  Every JSON input goes through gw_json_loadb, as a
 * request body does.
 *
 * JSON here is written with single quotes for readability: q() turns every
 * ' into " before use.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_check.h"

#ifndef BUILD_DIR /* the Makefile passes its build folder */
#define BUILD_DIR "build"
#endif
#define WKT_PB BUILD_DIR "/tests/wkt.pb"

static gw_schema *schema;
static const gw_message *EV;     /* wkt.Everything */
static const gw_message *TS;     /* google.protobuf.Timestamp */
static const gw_message *VALUE;  /* google.protobuf.Value */
static const gw_message *I64;    /* google.protobuf.Int64Value */
static const gw_message *ANY;    /* google.protobuf.Any */
static const gw_message *LOOKALIKE; /* wkt.Timestamp: not a well-known type */
static const gw_message *INNER;  /* wkt.Inner */

static const gw_json_options IGNORE_UNKNOWN = {.ignore_unknown_fields = 1};
static const gw_json_options EMIT_DEFAULTS = {.emit_defaults = 1};
static const gw_json_options ENUM_NUMBERS = {.enum_numbers = 1};

/* ---- fixture ------------------------------------------------------------ */

static int load_schema(void **state)
{
    (void)state;
    char err[512];
    const char *paths[] = {WKT_PB};
    schema = gw_schema_load(paths, 1, err, sizeof(err));
    if (!schema) {
        fprintf(stderr, "cannot load %s (run from the repository root after make tests): %s\n",
                WKT_PB, err);
        return -1;
    }
    EV = gw_schema_message(schema, "wkt.Everything");
    TS = gw_schema_message(schema, "google.protobuf.Timestamp");
    VALUE = gw_schema_message(schema, "google.protobuf.Value");
    I64 = gw_schema_message(schema, "google.protobuf.Int64Value");
    ANY = gw_schema_message(schema, "google.protobuf.Any");
    LOOKALIKE = gw_schema_message(schema, "wkt.Timestamp");
    INNER = gw_schema_message(schema, "wkt.Inner");
    return EV && TS && VALUE && I64 && ANY && LOOKALIKE && INNER ? 0 : -1;
}

static int free_schema(void **state)
{
    (void)state;
    gw_schema_free(schema);
    return 0;
}

/* ---- the schema --------------------------------------------------------- */

static void test_schema_tags(void **state)
{
    (void)state;
    assert_int_equal(TS->wkt, GW_WKT_TIMESTAMP);
    assert_int_equal(VALUE->wkt, GW_WKT_VALUE);
    assert_int_equal(I64->wkt, GW_WKT_WRAPPER);
    assert_int_equal(ANY->wkt, GW_WKT_ANY);
    assert_int_equal(gw_schema_message(schema, "google.protobuf.Duration")->wkt, GW_WKT_DURATION);
    assert_int_equal(gw_schema_message(schema, "google.protobuf.FieldMask")->wkt,
                     GW_WKT_FIELD_MASK);
    assert_int_equal(gw_schema_message(schema, "google.protobuf.Struct")->wkt, GW_WKT_STRUCT);
    assert_int_equal(gw_schema_message(schema, "google.protobuf.ListValue")->wkt,
                     GW_WKT_LIST_VALUE);
    assert_int_equal(gw_schema_message(schema, "google.protobuf.BytesValue")->wkt,
                     GW_WKT_WRAPPER);
    assert_int_equal(gw_schema_message(schema, "google.protobuf.Empty")->wkt, GW_WKT_NONE);
    assert_int_equal(LOOKALIKE->wkt, GW_WKT_NONE);
    assert_int_equal(EV->wkt, GW_WKT_NONE);
    assert_ptr_equal(EV->schema, schema);
    const gw_field *f = gw_message_field_by_name(EV, "nullValue", 9);
    assert_non_null(f);
    assert_true(f->enumeration->null_value);
    assert_false(gw_message_field_by_name(EV, "fKind", 5)->enumeration->null_value);
}

/* ---- Timestamp ---------------------------------------------------------- */

static void test_timestamp(void **state)
{
    (void)state;
    RT_SAME(EV, "{'timestamp':'1972-01-01T10:00:20.021Z'}");
    RT_SAME(EV, "{'timestamp':'1970-01-01T00:00:00Z'}");
    RT_SAME(EV, "{'timestamp':'0001-01-01T00:00:00Z'}");
    RT_SAME(EV, "{'timestamp':'9999-12-31T23:59:59.999999999Z'}");
    RT_SAME(EV, "{'timestamp':'2000-02-29T12:00:00Z'}");
    RT_SAME(EV, "{'timestamp':'1969-12-31T23:59:59.999Z'}");
    /* 0, 3, 6 or 9 fractional digits out; 1 to 9 in */
    RT(EV, "{'timestamp':'1972-01-01T10:00:20.1Z'}", "{'timestamp':'1972-01-01T10:00:20.100Z'}");
    RT(EV, "{'timestamp':'1972-01-01T10:00:20.00034Z'}",
       "{'timestamp':'1972-01-01T10:00:20.000340Z'}");
    RT(EV, "{'timestamp':'1972-01-01T10:00:20.000000001Z'}",
       "{'timestamp':'1972-01-01T10:00:20.000000001Z'}");
    RT(EV, "{'timestamp':'1972-01-01T10:00:20.000Z'}", "{'timestamp':'1972-01-01T10:00:20Z'}");
    /* any offset in, UTC out */
    RT(EV, "{'timestamp':'1972-01-01T10:00:20.021+01:30'}",
       "{'timestamp':'1972-01-01T08:30:20.021Z'}");
    RT(EV, "{'timestamp':'1972-01-01T20:00:00-08:00'}", "{'timestamp':'1972-01-02T04:00:00Z'}");
    RT(EV, "{'timestamp':'0001-01-01T01:00:00+01:00'}", "{'timestamp':'0001-01-01T00:00:00Z'}");
    /* exact wire: seconds 1, nanos 500000000; a top-level Timestamp is a string */
    WIRE(TS, "'1970-01-01T00:00:01.5Z'", "\x08\x01\x10\x80\xca\xb5\xee\x01");
    WIRE(TS, "'0001-01-01T00:00:00Z'", "\x08\x80\x92\xb8\xc3\x98\xfe\xff\xff\xff\x01");
    WIRE(TS, "'1970-01-01T00:00:00Z'", "");
    DEC(TS, "", "'1970-01-01T00:00:00Z'");
    DEC(TS, "\x08\x01\x10\x80\xca\xb5\xee\x01", "'1970-01-01T00:00:01.500Z'");
    RT(EV, "{'timestamp':null}", "{}");
    RT(EV, "{'rTimestamp':['1972-01-01T10:00:20Z','1970-01-01T00:00:00Z']}",
       "{'rTimestamp':['1972-01-01T10:00:20Z','1970-01-01T00:00:00Z']}");
    RT_SAME(EV, "{'mTimestamp':{'k':'2024-06-11T00:00:00.123456Z'}}");
    RT_SAME(EV, "{'cTimestamp':'1970-01-01T00:00:00Z'}");
}

static void test_timestamp_errors(void **state)
{
    (void)state;
    const char *bad = "is not an RFC 3339 timestamp";
    ENC_ERR(EV, "{'timestamp':'1972-01-01T10:00:20'}",
            "field 'timestamp': '1972-01-01T10:00:20' is not an RFC 3339 timestamp");
    ENC_ERR(EV, "{'timestamp':'1972-02-30T10:00:00Z'}", bad);
    ENC_ERR(EV, "{'timestamp':'1973-02-29T10:00:00Z'}", bad);
    ENC_ERR(EV, "{'timestamp':'1972-13-01T10:00:00Z'}", bad);
    ENC_ERR(EV, "{'timestamp':'1972-01-01 10:00:20Z'}", bad);
    ENC_ERR(EV, "{'timestamp':'1972-01-01t10:00:20Z'}", bad);
    ENC_ERR(EV, "{'timestamp':'1972-01-01T10:00:20z'}", bad);
    ENC_ERR(EV, "{'timestamp':'1972-01-01T24:00:00Z'}", bad);
    ENC_ERR(EV, "{'timestamp':'1972-01-01T10:60:00Z'}", bad);
    ENC_ERR(EV, "{'timestamp':'1972-01-01T10:00:60Z'}", bad); /* no leap seconds */
    ENC_ERR(EV, "{'timestamp':'1972-01-01T10:00:20.Z'}", bad);
    ENC_ERR(EV, "{'timestamp':'1972-01-01T10:00:20.1234567890Z'}", bad);
    ENC_ERR(EV, "{'timestamp':'1972-01-01T10:00:20+01'}", bad);
    ENC_ERR(EV, "{'timestamp':'1972-01-01T10:00:20+0100'}", bad);
    ENC_ERR(EV, "{'timestamp':'1972-01-01T10:00:20+24:00'}", bad);
    ENC_ERR(EV, "{'timestamp':'1972-01-01T10:00:20Z '}", bad);
    ENC_ERR(EV, "{'timestamp':'72-01-01T10:00:20Z'}", bad);
    ENC_ERR(EV, "{'timestamp':'0000-12-31T23:59:59Z'}", bad);
    ENC_ERR(EV, "{'timestamp':''}", bad);
    ENC_ERR(EV, "{'timestamp':'1972-01-01T10:00:20\\u0000Z'}",
            "field 'timestamp': '1972-01-01T10:00:20\\u0000Z' is not an RFC 3339 timestamp");
    ENC_ERR(EV, "{'timestamp':'0001-01-01T00:00:00+00:01'}",
            "field 'timestamp': '0001-01-01T00:00:00+00:01' is outside "
            "0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z");
    ENC_ERR(EV, "{'timestamp':'9999-12-31T23:59:59-00:01'}", "is outside");
    ENC_ERR(EV, "{'timestamp':12}",
            "field 'timestamp': expected an RFC 3339 timestamp string, got an integer");
    ENC_ERR(EV, "{'timestamp':{}}", "expected an RFC 3339 timestamp string, got an object");
    ENC_ERR(EV, "{'rTimestamp':['1972-01-01T10:00:20Z','x']}", "field 'rTimestamp[1]': 'x' is");
    ENC_ERR(EV, "{'rTimestamp':[null]}", "field 'rTimestamp[0]': null is not allowed");
    /* out of range on the wire */
    DEC_ERR(TS, "\x08\xff\x82\xd1\xff\xaf\x07\x10\x80\x94\xeb\xdc\x03",
            "Timestamp of 253402300799 s 1000000000 ns: nanos must be in 0 .. 999999999");
    DEC_ERR(TS, "\x08\x80\x83\xd1\xff\xaf\x07", "Timestamp of 253402300800 s 0 ns is outside");
    DEC_ERR(TS, "\x10\xff\xff\xff\xff\x0f", "Timestamp of 0 s -1 ns: nanos must be in");
    DEC_ERR(EV, "\x82\x07\x02\x10\x80", "field 'timestamp': malformed google.protobuf.Timestamp");
    DEC_ERR(EV, "\x82\x07\x02\x0a\x00", "malformed google.protobuf.Timestamp message");
}

/* ---- Duration ----------------------------------------------------------- */

static void test_duration(void **state)
{
    (void)state;
    RT_SAME(EV, "{'duration':'1.000340012s'}");
    RT_SAME(EV, "{'duration':'-3s'}");
    RT_SAME(EV, "{'duration':'0.001s'}");
    RT_SAME(EV, "{'duration':'315576000000.999999999s'}");
    RT_SAME(EV, "{'duration':'-315576000000.999999999s'}");
    RT(EV, "{'duration':'1.5s'}", "{'duration':'1.500s'}");
    RT(EV, "{'duration':'-0.5s'}", "{'duration':'-0.500s'}");
    RT(EV, "{'duration':'0.000001s'}", "{'duration':'0.000001s'}");
    RT(EV, "{'duration':'0.0000010s'}", "{'duration':'0.000001s'}");
    RT(EV, "{'duration':'0s'}", "{'duration':'0s'}"); /* a set message prints */
    RT(EV, "{'duration':'-0s'}", "{'duration':'0s'}");
    RT(EV, "{'duration':'007s'}", "{'duration':'7s'}");
    /* seconds and nanos share the sign */
    WIRE(gw_schema_message(schema, "google.protobuf.Duration"), "'-1.5s'",
         "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"
         "\x10\x80\xb6\xca\x91\xfe\xff\xff\xff\xff\x01");
    RT_SAME(EV, "{'mDuration':{'a':'1s','b':'-0.000000001s'}}");
    RT(EV, "{'any':{'@type':'type.googleapis.com/google.protobuf.Duration','value':'3s'}}",
       "{'any':{'@type':'type.googleapis.com/google.protobuf.Duration','value':'3s'}}");
}

static void test_duration_errors(void **state)
{
    (void)state;
    const char *bad = "is not a duration";
    ENC_ERR(EV, "{'duration':'1.5'}", "field 'duration': '1.5' is not a duration");
    ENC_ERR(EV, "{'duration':'s'}", bad);
    ENC_ERR(EV, "{'duration':'1\\u0000s'}", "field 'duration': '1\\u0000s' is not a duration");
    ENC_ERR(EV, "{'duration':'-s'}", bad);
    ENC_ERR(EV, "{'duration':'.5s'}", bad);
    ENC_ERR(EV, "{'duration':'1.s'}", bad);
    ENC_ERR(EV, "{'duration':'+1s'}", bad);
    ENC_ERR(EV, "{'duration':'--1s'}", bad);
    ENC_ERR(EV, "{'duration':'1e3s'}", bad);
    ENC_ERR(EV, "{'duration':' 1s'}", bad);
    ENC_ERR(EV, "{'duration':'1.0000000001s'}", bad);
    ENC_ERR(EV, "{'duration':'1S'}", bad);
    ENC_ERR(EV, "{'duration':'315576000001s'}",
            "field 'duration': '315576000001s' is beyond +-315576000000 seconds");
    ENC_ERR(EV, "{'duration':'-99999999999999999999999999s'}", "is beyond");
    ENC_ERR(EV, "{'duration':3}", "field 'duration': expected a duration string like");
    ENC_ERR(EV, "{'duration':true}", "got a boolean");
    DEC_ERR(EV, "\x8a\x07\x0d\x08\x01\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
            "field 'duration': Duration of 1 s -1 ns is out of range");
}

static void test_duration_wire_errors(void **state)
{
    (void)state;
    const gw_message *dur = gw_schema_message(schema, "google.protobuf.Duration");
    DEC_ERR(dur, "\x08\x01\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
            "Duration of 1 s -1 ns is out of range");
    DEC_ERR(dur, "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x10\x01",
            "Duration of -1 s 1 ns is out of range");
    DEC_ERR(dur, "\x10\x80\x94\xeb\xdc\x03", "Duration of 0 s 1000000000 ns is out of range");
    DEC_ERR(dur, "\x08\x81\xbc\xae\xce\x97\x09", "Duration of 315576000001 s 0 ns is out of range");
    DEC(dur, "\x08\x80\xbc\xae\xce\x97\x09", "'315576000000s'");
    DEC(dur, "", "'0s'");
}

/* ---- wrappers ----------------------------------------------------------- */

static void test_wrappers(void **state)
{
    (void)state;
    /* the bare value; 64-bit integers as strings */
    RT_SAME(EV, "{'doubleValue':1.5,'floatValue':-0.25,'int64Value':'-9223372036854775808',"
                "'uint64Value':'18446744073709551615','int32Value':-2147483648,"
                "'uint32Value':4294967295,'boolValue':true,'stringValue':'s',"
                "'bytesValue':'AAE='}");
    /* a set wrapper holding the default prints its default */
    RT_SAME(EV, "{'doubleValue':0,'floatValue':0,'int64Value':'0','uint64Value':'0',"
                "'int32Value':0,'uint32Value':0,'boolValue':false,'stringValue':'',"
                "'bytesValue':''}");
    RT(EV, "{'int64Value':5,'uint64Value':18446744073709551615,'floatValue':'NaN'}",
       "{'floatValue':'NaN','int64Value':'5','uint64Value':'18446744073709551615'}");
    RT(EV, "{'doubleValue':'-Infinity','int32Value':'7','bytesValue':'-_8'}",
       "{'doubleValue':'-Infinity','int32Value':7,'bytesValue':'+/8='}");
    RT(EV, "{'int64Value':null}", "{}");
    RT_SAME(EV, "{'rInt64Value':['1','-2'],'rBoolValue':[false,true],'rStringValue':['']}");
    RT_SAME(EV, "{'mInt64Value':{'a':'0'}}");
    RT_SAME(EV, "{'cInt32Value':0}");
    /* top level: a bare JSON value */
    WIRE(I64, "'5'", "\x08\x05");
    WIRE(I64, "5", "\x08\x05");
    WIRE(gw_schema_message(schema, "google.protobuf.UInt64Value"), "18446744073709551615",
         "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
    DEC(I64, "", "'0'");
    DEC(I64, "\x08\x7f", "'127'");
    DEC(gw_schema_message(schema, "google.protobuf.StringValue"), "", "''");
    DEC(gw_schema_message(schema, "google.protobuf.BoolValue"), "\x08\x01", "true");
}

static void test_wrapper_errors(void **state)
{
    (void)state;
    ENC_ERR(EV, "{'int32Value':'x'}", "field 'int32Value': 'x' is not a valid integer");
    ENC_ERR(EV, "{'int32Value':true}", "field 'int32Value': expected an integer, got a boolean");
    ENC_ERR(EV, "{'int32Value':2147483648}", "2147483648 is out of range for a 32-bit integer");
    ENC_ERR(EV, "{'int32Value':1e-400}", "field 'int32Value': 1e-400 is not an integer");
    ENC_ERR(EV, "{'uint32Value':-1}", "-1 is out of range for an unsigned integer");
    ENC_ERR(EV, "{'int64Value':{}}", "field 'int64Value': expected an integer, got an object");
    ENC_ERR(EV, "{'uint64Value':[1]}", "expected an integer, got an array");
    ENC_ERR(EV, "{'boolValue':'true'}", "field 'boolValue': expected true or false, got a string");
    ENC_ERR(EV, "{'boolValue':1}", "expected true or false, got an integer");
    ENC_ERR(EV, "{'stringValue':1}", "field 'stringValue': expected a string, got an integer");
    ENC_ERR(EV, "{'stringValue':{'value':'x'}}", "expected a string, got an object");
    ENC_ERR(EV, "{'bytesValue':5}", "field 'bytesValue': expected a base64 string, got an integer");
    ENC_ERR(EV, "{'bytesValue':'A'}", "field 'bytesValue': not valid base64");
    ENC_ERR(EV, "{'doubleValue':'abc'}", "field 'doubleValue': 'abc' is not a number");
    ENC_ERR(EV, "{'floatValue':1e39}", "1e39 is out of range for a float");
    ENC_ERR(EV, "{'rInt32Value':[1,null]}", "field 'rInt32Value[1]': null is not allowed");
    ENC_ERR(I64, "{'value':'5'}", "expected an integer, got an object");
}

/* ---- Struct, Value, ListValue, NullValue --------------------------------- */

static void test_struct_and_list(void **state)
{
    (void)state;
    RT_SAME(EV, "{'struct':{'a':1,'b':'x','c':true,'d':null,'e':[1,'two',[],{}],"
                "'f':{'g':{'h':[null]}},'i':-2.5,'j':1e+300}}");
    RT_SAME(EV, "{'struct':{}}");
    RT_SAME(EV, "{'listValue':[]}");
    RT_SAME(EV, "{'listValue':[null,false,0,'',[[]],{'k':{}}]}");
    RT(EV, "{'struct':null,'listValue':null}", "{}");
    RT_SAME(EV, "{'rStruct':[{},{'a':null}],'rListValue':[[1],[]]}");
    RT_SAME(EV, "{'mStruct':{'k':{'v':[]}}}");
    /* exact wire: Struct{fields{"a": Value{list_value{1, null}}}} */
    WIRE(EV, "{'struct':{'a':[1,null]}}",
         "\x9a\x07\x18\x0a\x16\x0a\x01\x61\x12\x11\x32\x0f\x0a\x09\x11\x00\x00\x00\x00\x00\x00"
         "\xf0\x3f\x0a\x02\x08\x00");
    /* keys keep their text; a key twice on the wire: the last wins */
    RT_SAME(EV, "{'struct':{'':1,'a.b':2,'\xc3\xa9\\\"':3}}");
    DEC(EV, "\x9a\x07\x1d\x0a\x0c\x0a\x01\x61\x12\x07\x1a\x05\x66\x69\x72\x73\x74"
            "\x0a\x0d\x0a\x01\x61\x12\x08\x1a\x06\x73\x65\x63\x6f\x6e\x64",
        "{'struct':{'a':'second'}}");
    ENC_ERR(EV, "{'struct':[1]}",
            "field 'struct': expected an object (google.protobuf.Struct), got an array");
    ENC_ERR(EV, "{'struct':'x'}", "expected an object (google.protobuf.Struct), got a string");
    ENC_ERR(EV, "{'listValue':{}}",
            "field 'listValue': expected an array (google.protobuf.ListValue), got an object");
    ENC_ERR(EV, "{'rStruct':[1]}", "field 'rStruct[0]': expected an object");
}

static void test_value(void **state)
{
    (void)state;
    /* null means NullValue for a Value, not "unset" */
    RT_SAME(EV, "{'value':null}");
    WIRE(EV, "{'value':null}", "\xa2\x07\x02\x08\x00");
    RT_SAME(EV, "{'value':1.5}");
    RT_SAME(EV, "{'value':'s'}");
    RT_SAME(EV, "{'value':false}");
    RT_SAME(EV, "{'value':{}}");
    RT_SAME(EV, "{'value':[]}");
    RT_SAME(EV, "{'value':{'a':[{'b':null}]}}");
    RT(EV, "{'value':7}", "{'value':7}");
    RT(EV, "{'value':1e21}", "{'value':1e+21}");
    RT(EV, "{'value':123456789012345678}", "{'value':1.2345678901234568e+17}");
    RT(EV, "{'value':1.0000000000000001}", "{'value':1}");
    RT(EV, "{'value':[12345678901234567.5]}", "{'value':[12345678901234568]}");
    RT(EV, "{'value':[1e-400,-1e-400]}", "{'value':[0,-0]}");
    RT_SAME(EV, "{'value':[5e-324,-1e-310]}");
    RT_SAME(EV, "{'doubleValue':5e-324,'floatValue':1e-45}");
    RT_SAME(EV, "{'rValue':[null,1,null]}");
    RT_SAME(EV, "{'mValue':{'a':null,'b':{'c':null}}}");
    RT_SAME(EV, "{'cValue':null}");
    RT_SAME(EV, "{'cValue':[]}");
    /* a top-level Value is any JSON */
    WIRE(VALUE, "null", "\x08\x00");
    WIRE(VALUE, "true", "\x20\x01");
    WIRE(VALUE, "'x'", "\x1a\x01x");
    DEC(VALUE, "", "null");              /* no kind set: null, as json_format prints */
    DEC(VALUE, "\x08\x00", "null");
    DEC(VALUE, "\x1a\x01x\x20\x01", "true"); /* the oneof member set last wins */
    DEC(VALUE, "\x2a\x00\x1a\x01x", "'x'");
    DEC(VALUE, "\x2a\x05\x0a\x03\x0a\x01\x61\x1a\x01x\x2a\x07\x0a\x05\x0a\x01\x62\x12\x00",
        "{'b':null}"); /* struct_value after another member starts afresh */
    DEC_ERR(VALUE, "\x11\x00\x00\x00\x00\x00\x00\xf8\x7f",
            "a Value's number_value is NaN, which JSON cannot hold as a number");
    DEC_ERR(EV, "\xa2\x07\x09\x11\x00\x00\x00\x00\x00\x00\xf0\x7f",
            "field 'value': a Value's number_value is infinite");
    DEC_ERR(VALUE, "\x10\x01", "malformed google.protobuf.Value message");
    ENC_ERR(EV, "{'value':{'a':1,'b':[1,'x',{'c':true,'d':[{'e':{}},1e308,'\\ud800']}]}}",
            "JSON:");
}

static void test_null_value(void **state)
{
    (void)state;
    /* a singular NullValue holds its only value: the default, not printed */
    RT(EV, "{'nullValue':null}", "{}");
    RT(EV, "{'nullValue':'NULL_VALUE'}", "{}");
    RT(EV, "{'nullValue':0}", "{}");
    /* with presence it prints, as null */
    RT_SAME(EV, "{'oNull':null}");
    WIRE(EV, "{'oNull':null}", "\x98\x03\x00");
    RT_SAME(EV, "{'cNull':null}");
    /* repeated and map values (json_format prints these but cannot read them) */
    RT_SAME(EV, "{'rNull':[null,null]}");
    WIRE(EV, "{'rNull':[null,null]}", "\xda\x08\x02\x00\x00");
    RT_SAME(EV, "{'mNull':{'a':null}}");
    RT(EV, "{'rNull':['NULL_VALUE',0]}", "{'rNull':[null,null]}");
    DEC(EV, "\xda\x08\x01\x05", "{'rNull':[null]}"); /* an unknown number: still null */
    /* json_enum_numbers leaves null as null: it is a NullValue's JSON form */
    DEC_OPT(EV, "\xda\x08\x02\x00\x00", &ENUM_NUMBERS, "{'rNull':[null,null]}");
    RT_OPT(EV, "{'oNull':null,'mNull':{'a':null}}", NULL, &ENUM_NUMBERS,
           "{'oNull':null,'mNull':{'a':null}}");
    ENC_ERR(EV, "{'nullValue':'NULL'}",
            "field 'nullValue': 'NULL' is not a value of enum google.protobuf.NullValue");
    ENC_ERR(EV, "{'nullValue':{}}", "expected an enum name or number, got an object");
}

static void test_emit_defaults(void **state)
{
    (void)state;
    char err[256];
    gw_buf text = GW_BUF_INIT;
    assert_int_equal(gw_proto_to_json(EV, NULL, 0, &EMIT_DEFAULTS, &text, err, sizeof(err)), GW_OK);
    char *s = strndup((const char *)text.data, text.len);
    assert_non_null(strstr(s, "\"nullValue\":null"));
    assert_non_null(strstr(s, "\"rNull\":[]"));
    assert_non_null(strstr(s, "\"mTimestamp\":{}"));
    assert_non_null(strstr(s, "\"customJsonName\":\"\""));
    /* message fields, wrappers included, and oneofs stay out */
    assert_null(strstr(s, "\"timestamp\""));
    assert_null(strstr(s, "\"int64Value\""));
    assert_null(strstr(s, "\"value\""));
    assert_null(strstr(s, "\"cNull\""));
    assert_null(strstr(s, "\"oNull\""));
    free(s);
    gw_buf_free(&text);
    /* inside a map value and an Any, defaults print too */
    DEC_OPT(INNER, "\x2a\x05\x0a\x01\x6b\x12\x00", &EMIT_DEFAULTS,
            "{'id':0,'label':'','kinds':[],'children':{'k':{'id':0,'label':'','kinds':[],"
            "'children':{}}}}");
    RT_OPT(ANY, "{'@type':'t/wkt.Inner','id':0}", NULL, &EMIT_DEFAULTS,
           "{'@type':'t/wkt.Inner','id':0,'label':'','kinds':[],'children':{}}");
}

/* ---- FieldMask ---------------------------------------------------------- */

static void test_field_mask(void **state)
{
    (void)state;
    RT_SAME(EV, "{'fieldMask':'a.bC,dE'}");
    WIRE(EV, "{'fieldMask':'a.bC,dE'}",
         "\x92\x07\x0c\x0a\x05\x61\x2e\x62\x5f\x63\x0a\x03\x64\x5f\x65");
    RT_SAME(EV, "{'fieldMask':''}");
    WIRE(EV, "{'fieldMask':''}", "\x92\x07\x00");
    RT_SAME(EV, "{'fieldMask':'fooBarBaz.qux1,x'}");
    /* each path is dotted field names, as protojson and the query form
     * want */
    ENC_ERR(EV, "{'fieldMask':'a,,b'}",
            "field 'fieldMask': '' is not a field path (names separated by dots)");
    ENC_ERR(EV, "{'fieldMask':','}", "'' is not a field path");
    ENC_ERR(EV, "{'fieldMask':'a.'}", "'a.' is not a field path");
    ENC_ERR(EV, "{'fieldMask':'.a'}", "'.a' is not a field path");
    ENC_ERR(EV, "{'fieldMask':'a b'}", "'a b' is not a field path");
    ENC_ERR(EV, "{'fieldMask':'1a'}", "'1a' is not a field path");
    ENC_ERR(EV, "{'fieldMask':'a.2'}", "'a.2' is not a field path");
    ENC_ERR(EV, "{'fieldMask':'a\\u0000b'}", "'a\\u0000b' is not a field path");
    RT_SAME(EV, "{'rFieldMask':['','a.b']}");
    DEC(EV, "\x92\x07\x0b\x0a\x09\x66\x6f\x6f\x5f\x62\x61\x72\x2e\x78", "{'fieldMask':'fooBar.x'}");
    ENC_ERR(EV, "{'fieldMask':'a_b'}",
            "field 'fieldMask': path 'a_b' has a '_' (JSON paths are lowerCamelCase)");
    ENC_ERR(EV, "{'fieldMask':'ok,bad_one'}", "path 'bad_one' has a '_'");
    ENC_ERR(EV, "{'fieldMask':7}",
            "field 'fieldMask': expected a string of comma-separated field paths, got an integer");
    ENC_ERR(EV, "{'fieldMask':['a']}", "got an array");
    /* proto paths with no lowerCamel form */
    DEC_ERR(EV, "\x92\x07\x04\x0a\x02\x61\x42",
            "field 'fieldMask': path 'aB' has an uppercase letter");
    DEC_ERR(EV, "\x92\x07\x05\x0a\x03\x61\x5f\x42", "path 'a_B' has a '_' not followed");
    DEC_ERR(EV, "\x92\x07\x05\x0a\x03\x61\x5f\x31",
            "path 'a_1' has a '_' not followed by a lowercase letter");
    DEC_ERR(EV, "\x92\x07\x04\x0a\x02\x61\x5f", "path 'a_' has a '_' not followed");
    DEC_ERR(EV, "\x92\x07\x06\x0a\x04\x61\x5f\x5f\x62", "path 'a__b' has a '_' not followed");
    /* proto paths that would not read back as themselves */
    DEC_ERR(EV, "\x92\x07\x05\x0a\x01\x61\x0a\x00",
            "field 'fieldMask': path '' is not a field path (names separated by dots)");
    DEC_ERR(EV, "\x92\x07\x02\x0a\x00", "path '' is not a field path");
    DEC_ERR(EV, "\x92\x07\x05\x0a\x03\x61\x2c\x62", "path 'a,b' is not a field path");
    DEC_ERR(EV, "\x92\x07\x05\x0a\x03\x61\x20\x62", "path 'a b' is not a field path");
    DEC_ERR(EV, "\x92\x07\x06\x0a\x04\x61\x2e\x2e\x62", "path 'a..b' is not a field path");
    DEC_ERR(EV, "\x92\x07\x04\x0a\x02\x61\x2e", "path 'a.' is not a field path");
    DEC_ERR(EV, "\x92\x07\x04\x0a\x02\x31\x61", "path '1a' is not a field path");
    DEC_ERR(EV, "\x92\x07\x05\x0a\x03\x61\x00\x62", "path 'a\\u0000b' is not a field path");
    DEC_ERR(EV, "\x92\x07\x07\x0a\x05\x40\x74\x79\x70\x65",
            "path '@type' is not a field path");
    DEC(EV, "\x92\x07\x0b\x0a\x04\x5f\x61\x2e\x62\x0a\x03\x63\x5f\x64",
        "{'fieldMask':'A.b,cD'}");
    RT_SAME(EV, "{'fieldMask':'A.b,cD'}");
    DEC_ERR(EV, "\x92\x07\x03\x0a\x01\xff", "field 'fieldMask': path is not valid UTF-8");
    DEC_ERR(EV, "\x92\x07\x02\x08\x01", "malformed google.protobuf.FieldMask message");
}

/* ---- Empty -------------------------------------------------------------- */

static void test_empty(void **state)
{
    (void)state;
    RT_SAME(EV, "{'empty':{}}");
    WIRE(EV, "{'empty':{}}", "\xb2\x07\x00");
    RT(EV, "{'empty':null}", "{}");
    RT_SAME(EV, "{'rEmpty':[{},{}]}");
    ENC_ERR(EV, "{'empty':{'x':1}}", "field 'empty.x': no such field in google.protobuf.Empty");
    ENC_ERR(EV, "{'empty':[]}", "expected an object (google.protobuf.Empty), got an array");
}

/* ---- Any ---------------------------------------------------------------- */

static void test_any(void **state)
{
    (void)state;
    /* an ordinary message: "@type" first, then its fields */
    RT_SAME(EV, "{'any':{'@type':'type.googleapis.com/wkt.Inner','id':5,'label':'x'}}");
    WIRE(EV, "{'any':{'@type':'type.googleapis.com/wkt.Inner','id':5}}",
         "\xfa\x06\x23\x0a\x1d" "type.googleapis.com/wkt.Inner" "\x12\x02\x08\x05");
    RT(EV, "{'any':{'id':5,'@type':'type.googleapis.com/wkt.Inner','kinds':['KIND_A',9]}}",
       "{'any':{'@type':'type.googleapis.com/wkt.Inner','id':5,'kinds':['KIND_A',9]}}");
    /* a well-known type: "value" holds its JSON */
    RT_SAME(EV, "{'any':{'@type':'type.googleapis.com/google.protobuf.Timestamp',"
                "'value':'1972-01-01T10:00:20.021Z'}}");
    RT_SAME(EV, "{'any':{'@type':'type.googleapis.com/google.protobuf.Value','value':null}}");
    RT_SAME(EV, "{'any':{'@type':'type.googleapis.com/google.protobuf.Struct',"
                "'value':{'a':[1]}}}");
    RT_SAME(EV, "{'any':{'@type':'type.googleapis.com/google.protobuf.Int64Value',"
                "'value':'-1'}}");
    RT_SAME(EV, "{'any':{'@type':'type.googleapis.com/google.protobuf.FieldMask','value':'aB'}}");
    /* Empty is an ordinary message; an Any in an Any */
    RT_SAME(EV, "{'any':{'@type':'type.googleapis.com/google.protobuf.Empty'}}");
    /* ... though Go's protojson writes it with "value":{}, read as well */
    RT(EV, "{'any':{'@type':'type.googleapis.com/google.protobuf.Empty','value':{}}}",
       "{'any':{'@type':'type.googleapis.com/google.protobuf.Empty'}}");
    ENC_ERR(EV, "{'any':{'@type':'type.googleapis.com/google.protobuf.Empty','value':{'a':1}}}",
            "field 'any.value.a': no such field in google.protobuf.Empty");
    RT_SAME(EV, "{'any':{'@type':'type.googleapis.com/google.protobuf.Any',"
                "'value':{'@type':'type.googleapis.com/wkt.Inner','label':'deep'}}}");
    /* the empty Any; a type URL without a host */
    RT_SAME(EV, "{'any':{}}");
    WIRE(EV, "{'any':{}}", "\xfa\x06\x00");
    RT_SAME(EV, "{'any':{'@type':'wkt.Inner'}}");
    RT_SAME(EV, "{'rAny':[{},{'@type':'x/wkt.Scalars','fInt64':'1'}]}");
    RT_SAME(EV, "{'mAny':{'k':{'@type':'a/wkt.Everything','any':{'@type':'a/wkt.Inner'}}}}");
    /* an ordinary message named like a well-known type is ordinary */
    RT_SAME(EV, "{'any':{'@type':'t/wkt.Timestamp','seconds':'5'}}");
    WIRE(LOOKALIKE, "{'seconds':5}", "\x08\x05");
}

static void test_any_errors(void **state)
{
    (void)state;
    ENC_ERR(EV, "{'any':{'@type':'type.googleapis.com/google.protobuf.Duration\\u0000junk'}}",
            "field 'any.@type': unknown type "
            "'type.googleapis.com/google.protobuf.Duration\\u0000junk' (no such");
    ENC_ERR(EV, "{'any':{'@type':'type.googleapis.com/nope.Missing'}}",
            "field 'any.@type': unknown type 'type.googleapis.com/nope.Missing' (no such "
            "message in the descriptor sets)");
    ENC_ERR(EV, "{'any':{'@type':'type.googleapis.com/'}}", "unknown type");
    ENC_ERR(EV, "{'any':{'@type':'type.googleapis.com/wkt.Kind'}}", "unknown type"); /* an enum */
    ENC_ERR(EV, "{'any':{'id':1}}",
            "field 'any': an Any needs \"@type\" (like type.googleapis.com/pkg.Message)");
    ENC_ERR(EV, "{'any':{'@type':5}}", "field 'any.@type': expected a type URL string, got an "
                                       "integer");
    ENC_ERR(EV, "{'any':{'@type':null,'id':1}}", "expected a type URL string, got null");
    ENC_ERR(EV, "{'any':[]}",
            "field 'any': expected an object (google.protobuf.Any), got an array");
    ENC_ERR(EV, "{'any':{'@type':'t/wkt.Inner','label':1}}",
            "field 'any.label': expected a string, got an integer");
    ENC_ERR(EV, "{'any':{'@type':'t/wkt.Inner','nope':1}}",
            "field 'any.nope': no such field in wkt.Inner");
    ENC_ERR(EV, "{'any':{'@type':'t/google.protobuf.Duration'}}",
            "field 'any': an Any holding google.protobuf.Duration needs a \"value\"");
    ENC_ERR(EV, "{'any':{'@type':'t/google.protobuf.Duration','value':'1s','x':1}}",
            "field 'any.x': no such field in an Any holding google.protobuf.Duration");
    ENC_ERR(EV, "{'any':{'@type':'t/google.protobuf.Duration','value':'x'}}",
            "field 'any.value': 'x' is not a duration");
    encode_fails(EV, "{'any':{'@type':'t/nope.X','value':1}}", &IGNORE_UNKNOWN, "unknown type",
                 __LINE__);
    RT_OPT(EV, "{'any':{'@type':'t/google.protobuf.Duration','value':'1s','x':1}}",
           &IGNORE_UNKNOWN, NULL, "{'any':{'@type':'t/google.protobuf.Duration','value':'1s'}}");
    RT_OPT(EV, "{'any':{'@type':'t/wkt.Inner','x':1,'id':2}}", &IGNORE_UNKNOWN, NULL,
           "{'any':{'@type':'t/wkt.Inner','id':2}}");
    /* on the wire */
    DEC_ERR(ANY, "\x0a\x05\x61\x2f\x6e\x6f\x70",
            "unknown type 'a/nop' in an Any (no such message in the descriptor sets)");
    DEC_ERR(ANY, "\x12\x02\x08\x01", "an Any with a value has no type URL");
    DEC_ERR(ANY, "\x0a\x00\x12\x02\x08\x01", "an Any with a value has no type URL");
    DEC_ERR(ANY, "\x0a\x02\x61\xff", "an Any's type URL is not valid UTF-8");
    DEC_ERR(ANY, "\x08\x01", "malformed google.protobuf.Any message");
    DEC_ERR(EV, "\xfa\x06\x11\x0a\x0b\x61\x2f\x77\x6b\x74\x2e\x49\x6e\x6e\x65\x72\x12\x02\x12\x80",
            "field 'any': malformed wkt.Inner message");
    DEC(ANY, "\x0a\x0b\x61\x2f\x77\x6b\x74\x2e\x49\x6e\x6e\x65\x72", "{'@type':'a/wkt.Inner'}");
}

/* ---- numbers beyond what jansson holds ----------------------------------- */

static void test_big_integers(void **state)
{
    (void)state;
    WIRE(EV, "{'fUint64':18446744073709551615}", "\x30\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
    RT(EV, "{'fUint64':9223372036854775808,'fFixed64':18446744073709551615}",
       "{'fUint64':'9223372036854775808','fFixed64':'18446744073709551615'}");
    RT(EV, "{'rUint64':[1,18446744073709551615,2],'mUint64':{'1':'x'}}",
       "{'rUint64':['1','18446744073709551615','2'],'mUint64':{'1':'x'}}");
    RT(EV, "{'fSint64':-9223372036854775808}", "{'fSint64':'-9223372036854775808'}");
    ENC_ERR(EV, "{'fUint64':18446744073709551616}",
            "field 'fUint64': 18446744073709551616 is out of range for a 64-bit unsigned integer");
    ENC_ERR(EV, "{'fInt64':9223372036854775808}",
            "9223372036854775808 is out of range for a 64-bit integer");
    ENC_ERR(EV, "{'fInt64':-9223372036854775809}", "is out of range for a 64-bit integer");
    ENC_ERR(EV, "{'fUint64':-18446744073709551615}",
            "-18446744073709551615 is out of range for an unsigned integer");
    ENC_ERR(EV, "{'fInt32':99999999999999999999999}", "is out of range for a 32-bit integer");
    /* a big number is a number: not a string, and a double where one is due */
    ENC_ERR(EV, "{'fString':18446744073709551615}",
            "field 'fString': expected a string, got an integer");
    ENC_ERR(EV, "{'fBytes':18446744073709551615}", "expected a base64 string, got an integer");
    ENC_ERR(EV, "{'fieldMask':18446744073709551615}", "got an integer");
    RT(EV, "{'fDouble':18446744073709551615,'value':18446744073709551616}",
       "{'fDouble':1.8446744073709552e+19,'value':1.8446744073709552e+19}");
    RT(EV, "{'struct':{'n':-100000000000000000000}}", "{'struct':{'n':-1e+20}}");
    ENC_ERR(EV, "{'fFloat':1000000000000000000000000000000000000000}",
            "is out of range for a float");
    WIRE(VALUE, "18446744073709551615", "\x11\x00\x00\x00\x00\x00\x00\xf0\x43");
    /* -0 keeps its sign where a double holds it */
    WIRE(EV, "{'fDouble':-0}", "\x09\x00\x00\x00\x00\x00\x00\x00\x80");
    RT(EV, "{'fDouble':-0,'fFloat':-0.0,'fInt32':-0,'fUint64':-0}", "{'fDouble':-0,'fFloat':-0}");
    WIRE(VALUE, "-0", "\x11\x00\x00\x00\x00\x00\x00\x00\x80");
    WIRE(VALUE, "[-0,0]", "\x32\x16\x0a\x09\x11\x00\x00\x00\x00\x00\x00\x00\x80"
                          "\x0a\x09\x11\x00\x00\x00\x00\x00\x00\x00\x00");
}

/* The kept literals as jansson trees: positions, errors, forgery. */
static void test_loader(void **state)
{
    (void)state;
    json_error_t jerr;
    const char *text = "[1, {\"a\": 18446744073709551615, \"b\": [-0, 2]}, 3]";
    json_t *v = gw_json_loadb(text, strlen(text), 0, &jerr);
    assert_non_null(v);
    assert_int_equal(json_integer_value(json_array_get(v, 0)), 1);
    json_t *obj = json_array_get(v, 1);
    assert_true(json_is_string(json_object_get(obj, "a")));
    assert_string_equal(json_string_value(json_object_get(obj, "a")) + 1, "18446744073709551615");
    assert_int_equal((unsigned char)json_string_value(json_object_get(obj, "a"))[0], 0xff);
    assert_string_equal(json_string_value(json_array_get(json_object_get(obj, "b"), 0)) + 1,
                        "-0");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(obj, "b"), 1)), 2);
    assert_int_equal(json_integer_value(json_array_get(v, 2)), 3);
    json_decref(v);
    /* a top-level literal */
    v = gw_json_loadb("-99999999999999999999", 21, JSON_DECODE_ANY, &jerr);
    assert_non_null(v);
    assert_string_equal(json_string_value(v) + 1, "-99999999999999999999");
    json_decref(v);
    /* digits inside strings are not numbers */
    text = "{\"s\": \"18446744073709551615\", \"t\": \"\\\"99999999999999999999\"}";
    v = gw_json_loadb(text, strlen(text), 0, &jerr);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "s")), "18446744073709551615");
    json_decref(v);
    /* errors point at the same place as in the text given */
    text = "{\"a\": 18446744073709551615, \"b\": x}";
    assert_null(gw_json_loadb(text, strlen(text), 0, &jerr));
    const char *same_length = "{\"a\": -1000000000000000000, \"b\": x}";
    json_error_t plain;
    assert_null(json_loads(same_length, 0, &plain));
    assert_int_equal(jerr.column, plain.column);
    assert_int_equal(jerr.position, plain.position);
    /* duplicate keys refused; NUL allowed in strings */
    assert_null(gw_json_loadb("{\"a\":1,\"a\":2}", 13, 0, &jerr));
    assert_non_null(strstr(jerr.text, "duplicate"));
    v = gw_json_loadb("[\"a\\u0000b\"]", 12, 0, &jerr);
    assert_non_null(v);
    assert_int_equal(json_string_length(json_array_get(v, 0)), 3);
    json_decref(v);
    /* no JSON text makes a kept literal: U+00FF is two bytes in UTF-8 */
    v = gw_json_loadb("\"\\u00ff5\"", 9, JSON_DECODE_ANY, &jerr);
    assert_non_null(v);
    assert_int_equal((unsigned char)json_string_value(v)[0], 0xc3);
    json_decref(v);
    ENC_ERR(EV, "{'fUint64':'\\u00ff5'}", "is not a valid integer");
}

/* ---- integers and enums in their other JSON forms ------------------------ */

static void test_integer_forms(void **state)
{
    (void)state;
    RT(EV, "{'fInt64':'1e3','fInt32':'1.5e1','fUint64':'1.8446744073709551615e19'}",
       "{'fInt32':15,'fInt64':'1000','fUint64':'18446744073709551615'}");
    RT(EV, "{'fUint32':'-0','fSint32':'-0.0e5','fInt64':'+12','fFixed32':'0012'}",
       "{'fInt64':'12','fFixed32':12}");
    /* map keys are strconv.ParseInt's: digits, no exponent */
    RT(EV, "{'mInt64':{'-5':'b','007':'c'}}", "{'mInt64':{'-5':'b','7':'c'}}");
    ENC_ERR(EV, "{'mInt64':{'1e2':'a'}}", "field 'mInt64.1e2': '1e2' is not a valid integer");
    ENC_ERR(EV, "{'fInt32':'1.5'}", "field 'fInt32': '1.5' is not a valid integer");
    ENC_ERR(EV, "{'fInt32':'1e-1'}", "'1e-1' is not a valid integer");
    ENC_ERR(EV, "{'fInt64':'1e19'}", "'1e19' is not a valid integer");
    ENC_ERR(EV, "{'fInt32':'1e10'}", "'1e10' is out of range for a 32-bit integer");
    ENC_ERR(EV, "{'fInt32':'e5'}", "'e5' is not a valid integer");
    ENC_ERR(EV, "{'fInt32':'1e'}", "'1e' is not a valid integer");
    ENC_ERR(EV, "{'fInt32':'.'}", "is not a valid integer");
    ENC_ERR(EV, "{'fInt32':'1\\u00002'}", "is not a valid integer");
    ENC_ERR(EV, "{'fUint64':'1e999999999999'}", "is not a valid integer");
    RT(EV, "{'fUint64':'0e999999999999'}", "{}");
    ENC_ERR(EV, "{'fUint64':'1e-999999999999'}", "is not a valid integer");
    ENC_ERR(EV, "{'mInt32':{'1.5':'x'}}", "field 'mInt32.1.5': '1.5' is not a valid integer");
    ENC_ERR(EV, "{'mBool':{'True':'x'}}", "map key 'True' is not true or false");
    /* floats: the largest float reads back; beyond it does not */
    RT_SAME(EV, "{'fFloat':3.4028235e+38}");
    RT(EV, "{'fFloat':'-3.4028235e38'}", "{'fFloat':-3.4028235e+38}");
    ENC_ERR(EV, "{'fFloat':3.4028236e38}", "is out of range for a float");
    RT(EV, "{'fDouble':'1e-400'}", "{}");
    ENC_ERR(EV, "{'fDouble':'1e400'}", "'1e400' is not a number");
}

static void test_enum_forms(void **state)
{
    (void)state;
    RT(EV, "{'fKind':'1','rKind':['KIND_B','-3',7,2.0]}",
       "{'fKind':'KIND_A','rKind':['KIND_B','KIND_NEGATIVE',7,'KIND_B']}");
    RT_SAME(EV, "{'fKind':-100}");
    ENC_ERR(EV, "{'fKind':'KIND_C'}", "field 'fKind': 'KIND_C' is not a value of enum wkt.Kind");
    ENC_ERR(EV, "{'fKind':'KIND_A\\u0000x'}", "is not a value of enum wkt.Kind");
    ENC_ERR(EV, "{'fKind':2147483648}", "2147483648 is out of range for a 32-bit integer");
    ENC_ERR(EV, "{'fKind':true}", "expected an enum name or number, got a boolean");
    /* ignore_unknown_fields drops an unknown name: the field, the element,
     * the whole map entry */
    RT_OPT(EV, "{'fKind':'KIND_C','oKind':'KIND_C','rKind':['KIND_A','KIND_C','KIND_B'],"
               "'mKind':{'a':'KIND_C','b':'KIND_B'},'fInner':{'kinds':['NO']}}",
           &IGNORE_UNKNOWN, NULL,
           "{'fInner':{},'rKind':['KIND_A','KIND_B'],'mKind':{'b':'KIND_B'}}");
}

/* ---- wire input protobuf parsers resolve ------------------------------- */

static void test_wire_last_wins(void **state)
{
    (void)state;
    /* oneof: the member set last; a message member merges only what came
     * after the last other member */
    DEC(EV, "\xda\x05\x01x\xe0\x05\x05", "{'cInt64':'5'}");
    DEC(EV, "\xea\x05\x02\x08\x01\xda\x05\x01x\xea\x05\x04\x12\x02hi",
        "{'cInner':{'label':'hi'}}");
    DEC(EV, "\xea\x05\x02\x08\x01\xea\x05\x04\x12\x02hi", "{'cInner':{'id':1,'label':'hi'}}");
    DEC(EV, "\xda\x05\x01x\x90\x06\x00", "{'cNull':null}");
    /* two oneofs do not interfere */
    DEC(EV, "\xa8\x06\x01\xda\x05\x01x", "{'cString':'x','xBool':true}");
    /* a map key twice */
    DEC(EV, "\xc2\x04\x06\x0a\x01\x61\x12\x01\x31\xc2\x04\x06\x0a\x01\x61\x12\x01\x32",
        "{'mString':{'a':'2'}}");
    /* an empty packed run is no elements */
    DEC(EV, "\xba\x01\x00\xba\x01\x00", "{}");
    DEC(EV, "\xba\x01\x00\xba\x01\x01\x07", "{'rInt32':[7]}");
    DEC(EV, "\xea\x04\x04\x08\x05\x10\x01\xea\x04\x04\x08\x05\x10\x02", /* m_int64_int64 */
        "{'mInt64Int64':{'5':'2'}}");
}

/* ---- response_body of a well-known type ------------------------------- */

static void field_json_is(const char *field, const char *want, int line)
{
    char err[256] = "";
    gw_buf text = GW_BUF_INIT;
    const gw_field *f = gw_message_field_by_name(EV, field, strlen(field));
    assert_non_null(f);
    if (gw_proto_field_to_json(EV, f, (const uint8_t *)"", 0, NULL, &text, err, sizeof(err)) !=
        GW_OK)
        note("line %d: %s: %s", line, field, err);
    else
        text_is(&text, want, field, line);
    gw_buf_free(&text);
    settle();
}

static void test_absent_field_defaults(void **state)
{
    (void)state;
    field_json_is("timestamp", "'1970-01-01T00:00:00Z'", __LINE__);
    field_json_is("duration", "'0s'", __LINE__);
    field_json_is("value", "null", __LINE__);
    field_json_is("struct", "{}", __LINE__);
    field_json_is("listValue", "[]", __LINE__);
    field_json_is("int64Value", "'0'", __LINE__);
    field_json_is("fieldMask", "''", __LINE__);
    field_json_is("any", "{}", __LINE__);
    field_json_is("nullValue", "null", __LINE__);
    field_json_is("fInner", "{}", __LINE__);
}

/* ---- depth --------------------------------------------------------------- */

/* [[[…1…]]] with n brackets, as a Value: 2 messages per level. */
static void nested_lists(int n, gw_buf *out)
{
    for (int i = 0; i < n; i++)
        gw_buf_putc(out, '[');
    gw_buf_putc(out, '1');
    for (int i = 0; i < n; i++)
        gw_buf_putc(out, ']');
    gw_buf_putc(out, '\0');
}

static void test_depth(void **state)
{
    (void)state;
    char err[512];
    json_error_t jerr;
    gw_buf text = GW_BUF_INIT, wire = GW_BUF_INIT, back = GW_BUF_INIT;
    nested_lists(49, &text); /* 49 ListValues + 50 Values: 99 deep */
    json_t *v = gw_json_loadb((char *)text.data, text.len - 1, JSON_DECODE_ANY, &jerr);
    assert_non_null(v);
    assert_int_equal(gw_json_to_proto(VALUE, v, NULL, &wire, err, sizeof(err)), GW_OK);
    assert_int_equal(gw_proto_to_json(VALUE, wire.data, wire.len, NULL, &back, err,
                                      sizeof(err)), GW_OK);
    assert_int_equal(back.len, text.len - 1);
    assert_memory_equal(back.data, text.data, back.len);
    json_decref(v);
    gw_buf_free(&text);
    gw_buf_free(&back);
    nested_lists(50, &text);
    v = gw_json_loadb((char *)text.data, text.len - 1, JSON_DECODE_ANY, &jerr);
    assert_int_equal(gw_json_to_proto(VALUE, v, NULL, &back, err, sizeof(err)), GW_REFUSED);
    assert_non_null(strstr(err, "messages nested more than 100 deep"));
    json_decref(v);
    gw_buf_free(&back);
    /* the same depth on the wire: one more ListValue around the 99 */
    gw_buf_insert_varint(&wire, 0, wire.len);
    gw_buf_insert_varint(&wire, 0, 0x0a);
    gw_buf_insert_varint(&wire, 0, wire.len);
    gw_buf_insert_varint(&wire, 0, 0x32);
    assert_int_equal(gw_proto_to_json(VALUE, wire.data, wire.len, NULL, &back, err,
                                      sizeof(err)), GW_REFUSED);
    assert_non_null(strstr(err, "messages nested more than 100 deep"));
    gw_buf_free(&text);
    gw_buf_free(&wire);
    gw_buf_free(&back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_tags),
        cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_timestamp_errors),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_duration_errors),
        cmocka_unit_test(test_duration_wire_errors),
        cmocka_unit_test(test_wrappers),
        cmocka_unit_test(test_wrapper_errors),
        cmocka_unit_test(test_struct_and_list),
        cmocka_unit_test(test_value),
        cmocka_unit_test(test_null_value),
        cmocka_unit_test(test_emit_defaults),
        cmocka_unit_test(test_field_mask),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_any),
        cmocka_unit_test(test_any_errors),
        cmocka_unit_test(test_big_integers),
        cmocka_unit_test(test_loader),
        cmocka_unit_test(test_integer_forms),
        cmocka_unit_test(test_enum_forms),
        cmocka_unit_test(test_wire_last_wins),
        cmocka_unit_test(test_absent_field_defaults),
        cmocka_unit_test(test_depth),
    };
    return cmocka_run_group_tests_name("gw_wkt", tests, load_schema, free_schema);
}
