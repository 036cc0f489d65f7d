#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets, tests/fuzz/corpus/TARGET/.

    tests/fuzz/make_corpus.py [BUILD]

The seeds are committed; run this again after changing the input layout of
a target (see each tests/fuzz/fuzz_*.c) or the messages in fuzz_common.h.
Wire-format seeds are made from the JSON seeds with BUILD/tests/json_tool
(default build/, from make tests).  Every seed must also pass the replay
suite (build/tests/fuzz/TARGET, part of make test).
"""
import base64
import gzip
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, sys.argv[1] if len(sys.argv) > 1 else "build")

# Must match FUZZ_MESSAGES in fuzz_common.h (index = position).
MESSAGES = [
    "unit.AllTypes", "unit.Node", "unit.Thing", "unit.ThingRequest", "unit.Nested",
    "wkt.Everything", "wkt.Scalars", "wkt.Inner", "wkt.Timestamp",
    "google.protobuf.Value", "google.protobuf.Struct", "google.protobuf.ListValue",
    "google.protobuf.Any", "google.protobuf.Timestamp", "google.protobuf.Duration",
    "google.protobuf.FieldMask", "google.protobuf.Int64Value", "google.protobuf.UInt64Value",
    "google.protobuf.BytesValue", "google.protobuf.FloatValue", "google.protobuf.Empty",
    "rpcrest.testkit.AllTypes", "rpcrest.testkit.FailRequest", "rpcrest.testkit.MetadataRequest",
]
SETS = {"unit": "tests/types.pb", "wkt": "tests/wkt.pb", "google": "tests/wkt.pb",
        "rpcrest": "services/testkit.pb"}

JSON_SEEDS = {
    "unit.AllTypes": [
        '{"fDouble":1.5,"fFloat":-2,"fInt32":-5,"fInt64":"9223372036854775807",'
        '"fUint32":4294967295,"fUint64":18446744073709551615,"fSint32":-1,"fSint64":"-3",'
        '"fFixed32":7,"fFixed64":"8","fSfixed32":-9,"fSfixed64":-10,"fBool":true,'
        '"fString":"h\\u00e9llo\\u0000","fBytes":"AAEC","color":"BLUE","nested":{"id":1,"name":"n"},'
        '"rInt32":[1,2,3],"rDouble":[1.5,"NaN","-Infinity"],"rString":["a"],"rNested":[{"id":2}],'
        '"rColor":["RED",2,"INFRARED"],"mStrInt":{"a":1},"mInt64Nested":{"-5":{"id":1}},'
        '"mBoolStr":{"true":"t"},"oString":"x","optInt32":0,"customName":"c","userId":"12",'
        '"rUnpacked":[1,-1],"rBytes":["_-8="],"mUint64":{"18446744073709551615":"x"}}',
        '{"f_double":"1e308","f_float":"3.4028235e38","f_int32":"2147483647","oNested":{}}',
        '{"fInt64":1e3,"fUint64":"1.0","fDouble":-0,"fFloat":"Infinity","fBytes":"YQ"}',
        '{"fInt32":2147483648}', '{"fString":1}', '{"color":"PURPLE"}', '{"rInt32":[null]}',
        '{"fInt32":1,"fInt32":2}', '{"fDouble":1e400}', '{"fInt64":-99999999999999999999}',
        '{"fBool":"true"', '{"nested":{"id":', '{"mInt64Nested":{"x":{}}}', 'null', '[]',
    ],
    "unit.Node": ['{"child":{"child":{"child":{"value":1}}}}',
                  '{"child":' * 120 + '{}' + '}' * 120,
                  '[' * 3000 + ']' * 3000],
    "unit.Thing": ['{"id":"x","name":"n","count":3,"active":true,"color":"RED",'
                   '"tags":["a","b"],"nested":{"id":1}}'],
    "unit.ThingRequest": ['{"id":"1","thing":{"id":"2"},"nums":[1,2],"ratio":0.5,'
                          '"userId":"-9223372036854775808","blob":"AA==","colors":[1,"GREEN"]}'],
    "unit.Nested": ['{"id":-2147483648,"name":"\\ud83d\\ude00"}', '{"id":1.5}'],
    "wkt.Everything": [
        '{"fInner":{"id":1,"kinds":["KIND_A",-3],"child":{"label":"x"},"children":{"k":{"id":2}}},'
        '"mInt32":{"-1":"a"},"mBool":{"false":"f"},"mTimestamp":{"t":"2024-02-29T23:59:59.999Z"},'
        '"mValue":{"v":{"a":[1,"b",null,true]}},"mAny":{"a":{"@type":"type.googleapis.com/wkt.Inner","id":3}},'
        '"mInt64Value":{"w":"5"},"mDuration":{"d":"-1.5s"},"mStruct":{"s":{"x":{}}},"mNull":{"n":null},'
        '"cValue":{"deep":[[[]]]},"xDouble":"NaN","customJsonName":"r",'
        '"any":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"1s"},'
        '"timestamp":"1970-01-01T00:00:00+01:00","duration":"315576000000.999999999s",'
        '"fieldMask":"a.b,cD","struct":{"k":1},"value":null,"listValue":[1,{}],"empty":{},'
        '"nullValue":null,"doubleValue":"Infinity","floatValue":1,"int64Value":"-1",'
        '"uint64Value":"18446744073709551615","int32Value":-1,"uint32Value":1,"boolValue":false,'
        '"stringValue":"","bytesValue":"/w==","rAny":[{"@type":"type.googleapis.com/google.protobuf.Empty","value":{}}],'
        '"rTimestamp":["0001-01-01T00:00:00Z","9999-12-31T23:59:59.999999999Z"],"rDuration":["0s"],'
        '"rFieldMask":[""],"rStruct":[{}],"rValue":[1,"a"],"rListValue":[[]],"rEmpty":[{}],'
        '"rNull":[null],"recursive":{"recursive":{"fString":"x"}}}',
        '{"any":{"@type":"type.googleapis.com/google.protobuf.Any","value":{"@type":"type.googleapis.com/google.protobuf.Struct","value":{}}}}',
        '{"timestamp":"2024-13-01T00:00:00Z"}', '{"duration":"1.0000000001s"}',
        '{"any":{"value":1}}', '{"fieldMask":"a_b"}', '{"cString":"a","cInt64":1}',
    ],
    "wkt.Scalars": ['{"fDouble":2.2250738585072014e-308,"fKind":"KIND_NEGATIVE"}'],
    "wkt.Inner": ['{"children":{"a":{"children":{"b":{}}}}}'],
    "wkt.Timestamp": ['{"seconds":"1"}'],
    "google.protobuf.Value": ['{"a":[1,"x",null,true,{"b":2.5}]}', '1e308', '"s"', 'null'],
    "google.protobuf.Struct": ['{"k":{"n":null}}'],
    "google.protobuf.ListValue": ['[1,2,[3]]'],
    "google.protobuf.Any": ['{"@type":"type.googleapis.com/wkt.Inner","id":1}',
                            '{"@type":"type.googleapis.com/google.protobuf.Value","value":[1]}',
                            '{"@type":"","value":1}'],
    "google.protobuf.Timestamp": ['"2024-01-01T00:00:00.123456789Z"', '"1972-06-30T23:59:60Z"'],
    "google.protobuf.Duration": ['"-1.000000001s"', '"-0.5s"'],
    "google.protobuf.FieldMask": ['"a.b,cD,e"'],
    "google.protobuf.Int64Value": ['"123"', '-9223372036854775808'],
    "google.protobuf.UInt64Value": ['18446744073709551615', '"18446744073709551616"'],
    "google.protobuf.BytesValue": ['"aGk="', '"a-_b"'],
    "google.protobuf.FloatValue": ['"-Infinity"', '3.5e38'],
    "google.protobuf.Empty": ['{}'],
    "rpcrest.testkit.AllTypes": [
        '{"timestamp":"2020-01-01T00:00:00Z","duration":"3s",'
        '"any":{"@type":"type.googleapis.com/google.protobuf.Int32Value","value":5},'
        '"structValue":{"a":1},"value":[1],"listValue":[{}],"fieldMask":"a,b","int64Wrapper":"5",'
        '"choiceNested":{"name":"n","child":{"value":1}},"nestedMap":{"1":{"colors":["RED"]}}}'],
    "rpcrest.testkit.FailRequest": [
        '{"code":3,"message":"m","details":[{"@type":"type.googleapis.com/rpcrest.testkit.FailInfo",'
        '"reason":"r","metadata":{"a":"b"}}],"withInfo":true}'],
    "rpcrest.testkit.MetadataRequest": [
        '{"addInitial":[{"key":"a","text":"b"},{"key":"c-bin","binary":"AA=="}],"noEcho":true}'],
}

# Random schemas (fuzz_common.h's fuzz_random_schema): the program bytes, then
# the JSON text / wire bytes.  Fields are (type byte, label byte, number, name).
def program(head, values, msgs, pick):
    out = bytes([head, len(values) - 1]) + bytes(v & 0xff for v in values)
    out += bytes(name for name, _, _ in msgs)
    for _, flags, fields in msgs:
        out += bytes([flags | (len(fields) << 1)])
        for f in fields:
            out += bytes(f)
    return out + bytes([pick])

T = {"double": 0, "int64": 2, "uint64": 3, "int32": 4, "bool": 7, "string": 8, "group": 9,
     "message": 10, "bytes": 11, "enum": 13, "sint64": 17}
REP, ONEOF, OPT, JSONNAME = 1, 8, 32, 64
RANDOM = [
    # M0 {string a = 1; repeated M1 b = 2 (a map); E aB = 3 (name "a_b")}; M1 map entry
    (program(1, [0, 1, -2], [(0, 0, [(T["string"], 0, 1, 0), (T["message"] | 1 << 5, REP, 2, 1),
                                     (T["enum"], 0, 3, 2)]),
                             (0, 1, [(T["string"], 0, 1, 5), (T["int32"], 0, 2, 4)])], 0),
     '{"a":"x","b":{"k":5},"a_b":"V1"}', b"\x0a\x01x\x12\x05\x0a\x01k\x10\x05\x18\x01"),
    # proto2, packed and oneof fields, a recursive message field
    (program(4, [5], [(0, 0x40, [(T["int64"], REP | 2, 1, 6), (T["bool"], ONEOF, 2, 7),
                                 (T["bytes"], ONEOF, 3, 8), (T["message"], 0, 4, 9),
                                 (T["double"], OPT | JSONNAME, 5, 0x1a)])], 0),
     '{"values":["1",2],"fields":true,"nanos":{"seconds":[]},"paths":"NaN"}',
     b"\x0a\x02\x01\x02\x10\x01\x22\x02\x10\x00\x29" + b"\x00" * 8),
    # well-known names in package google.protobuf (head bit 8): Value, Struct, ListValue
    (program(8 | 2, [0], [(0x00, 0, [(T["enum"], ONEOF, 1, 14), (T["double"], ONEOF, 2, 15),
                                     (T["message"] | 1 << 5, ONEOF, 5, 4),
                                     (T["message"] | 2 << 5, ONEOF, 6, 15)]),
                          (0x10, 0, [(T["message"] | 3 << 5, REP, 1, 7)]),
                          (0x20, 0, [(T["message"], REP, 1, 6)])], 0),
     '{"a":[1,{"b":null}]}', b"\x2a\x00"),
    # a group field, an unknown-ish number, a self-referencing map entry
    (program(1, [0, 127], [(0, 0, [(T["group"] | 1 << 5, 0, 0x80 | 7, 3), (T["sint64"], 0, 0x88, 0)]),
                           (0, 1, [(T["message"] | 1 << 5, 0, 1, 5), (T["message"], 0, 2, 4)])], 0),
     '{"aB":{},"a":"-1"}', b"\x3b\x3c"),
]


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def to_wire(message, text):
    """JSON text -> wire bytes with json_tool, or None if it refuses."""
    pb = os.path.join(BUILD, SETS[message.split(".")[0]])
    proc = subprocess.run([os.path.join(BUILD, "tests", "json_tool"), pb, message, "json2pb"],
                          input=base64.b64encode(text.encode()) + b"\n", capture_output=True,
                          check=True)
    line = proc.stdout.decode().strip()
    return base64.b64decode(line[3:]) if line.startswith("ok ") else None


def main():
    shutil.rmtree(os.path.join(HERE, "corpus"), ignore_errors=True)
    for message, texts in JSON_SEEDS.items():
        pick = 2 * MESSAGES.index(message)
        short = message.replace("google.protobuf.", "wkt_").replace("rpcrest.testkit.", "tk_")
        for i, text in enumerate(texts):
            for opt in (0, 7) if i == 0 else (0,):
                write("json_to_proto", "%s-%d-%d" % (short, i, opt),
                      bytes([opt, pick]) + text.encode())
            wire = to_wire(message, text)
            if wire is not None:
                for opt in (0, 2) if i == 0 else (0,):
                    write("proto_to_json", "%s-%d-%d" % (short, i, opt),
                          bytes([opt, i, pick]) + wire)
    for i, (prog, text, wire) in enumerate(RANDOM):
        write("json_to_proto", "random-%d" % i, bytes([0, 1]) + prog + text.encode())
        write("proto_to_json", "random-%d" % i, bytes([2, i, 1]) + prog + wire)
    # broken wire bytes
    for i, wire in enumerate([b"\x0a\xff\xff\xff\xff\x0f", b"\x08" + b"\xff" * 10 + b"\x01",
                              b"\x0b" * 200, b"\x8a\x01\x03abc", b"\x0d\x00\x00"]):
        write("proto_to_json", "broken-%d" % i, bytes([0, 0, 2 * MESSAGES.index("wkt.Everything")]) + wire)

    templates = [
        ("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/books/b%2F2"),
        ("/v1/files/{path=**}", "/v1/files/a/b/%41c"),
        ("/v1/things/{id}:activate", "/v1/things/7:activate"),
        ("/v1/{a.b.c}/x/**", "/v1/q/x/y/z"),
        ("/{x=*}/{y=**}:verb", "/a/b/c:verb"),
        ("/v1/a/*/**", "/v1/a/b"),
        ("/v1/{a=**}/b", "/v1/x/b"),
        ("/v1/{a", "/"),
        ("//", "//"),
        ("/v1/shelves/{shelf}/books/{book.id}", "/v1/shelves/%zz/books/%"),
        ("/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}/{j}/{k}/{l}/{m}/{n}/{o}/{p}/{q}", "/" + "/".join("abcdefghijklmnopq")),
        ("/" + "/".join(["*"] * 130), "/" + "/".join(["x"] * 130)),
    ]
    for i, (t, p) in enumerate(templates):
        write("template", "t%02d" % i, t + "\n" + p)

    binds = [  # (router 0 bindings 1 types 2 testkit, verb index, ignore unknown, request, body)
        (0, 0, 0, "/v1/shelves/s1/books/b1?filter.author=a&tags=a&tags=b&genre=ESSAY&offset=9007199254740993"
                  "&ids=1&ids=2&limit=5&force=true&page_size=10&update_mask=title,genre", ""),
        (0, 0, 1, "/v1/publishers/p/books/b?pageSize=3&unknown=1&filter.year=1999", ""),
        (0, 0, 0, "/v1/files/a/b%2Fc/d", ""),
        (0, 1, 0, "/v1/shelves/s/books/b:undelete", "{}"),
        (0, 1, 0, "/v1/echo/s1?shelf=x", '{"book":{"id":"x"},"tags":["t"]}'),
        (0, 1, 0, "/v1/shelves/s1/books?tags=x&book.title=ignored", '{"id":"b","title":"t"}'),
        (0, 2, 0, "/v1/shelves/s1/books/b1", '{"shelf":"other","book":{"title":"t"}}'),
        (0, 3, 0, "/v1/shelves/s1/books/b1?force=1", '{"genre":2}'),
        (0, 4, 0, "/v1/shelves/s1/books/b1?limit=%35&genre=%", ""),
        (0, 5, 0, "/v1/shelves/s1", ""),
        (0, 0, 0, "/v1/search?limit=x&offset=1e3&ids=a", ""),
        (0, 1, 0, "/v1/search", '{"filter":{"year":"2000"}}'),
        (1, 0, 0, "/v1/things/abc?name=n&count=1&thing.id=3&nums=1&nums=2&ratio=NaN&colors=RED", ""),
        (1, 1, 0, "/v1/things", '{"id":"1","thing":{"count":2}}'),
        (1, 3, 0, "/v1/things/x", '{"id":"y","name":"z"}'),
        (1, 0, 0, "/v1/files/" + "/".join(["d"] * 60), ""),
        (2, 1, 0, "/v1/testkit/echo", '{"int64Value":"5","nested":{"child":{"child":{}}}}'),
        (2, 0, 0, "/v1/testkit/echo/hello%20world?int32Value=3&timestamp=2020-01-01T00:00:00Z"
                  "&duration=1s&int64Wrapper=9&fieldMask=a,b&color=GREEN", ""),
        (2, 0, 0, "/v1/testkit/stream?count=3&size=10&failCode=0", ""),
    ]
    for i, (router, verb, ignore, request, body) in enumerate(binds):
        write("bind", "b%02d" % i, bytes([router | verb << 2 | ignore << 5]) + (request + "\n" + body).encode())

    frame = lambda flag, msg: bytes([flag]) + len(msg).to_bytes(4, "big") + msg
    grpcweb = {
        "echo": frame(0, b"\x0a\x0dthis is vlaue"),
        "three": frame(0, b"a") + frame(0, b"") + frame(0, b"\x00\x01\x02"),
        "compressed": frame(1, b"x"),
        "trailers": frame(0x80, b"grpc-status:0\r\n"),
        "cut": frame(0, b"abcdef")[:7],
        "huge": b"\x00\xff\xff\xff\xff",
        "b64-pieces": base64.b64encode(frame(0, b"hello")) + base64.b64encode(frame(0, b"x")),
        "type": b"application/grpc-web-text+proto; charset=utf-8",
        "message": "caf\u00e9 100% \r\n\t".encode(),
    }
    for i, (name, body) in enumerate(grpcweb.items()):
        write("grpcweb", name, bytes([i & 1]) + body)

    json_body = b'{"value":"this is vlaue"}'
    gunzip = {
        "json": gzip.compress(json_body, mtime=0),
        "members": gzip.compress(b'{"value":"ab', mtime=0) + gzip.compress(b'cd"}', mtime=0),
        "cut": gzip.compress(json_body, mtime=0)[:-5],
        "zeros": gzip.compress(bytes(100000), 9, mtime=0),
        "plain": json_body,
    }
    for i, (name, body) in enumerate(gunzip.items()):
        write("gunzip", name, bytes([(i * 0x13) & 0xff]) + body)

    configs = {
        "full": "[supervisor]\nstop_timeout = 5\n\n[host]\nlisten = 127.0.0.1:5505\nthreads = 2\n"
                "max_message_bytes = 4194304\nmax_concurrent_streams = 100\ndrain_timeout = 4\n\n"
                "[gateway]\nlisten = 127.0.0.1:8080\nupstream = 127.0.0.1:5505\ntimeout = 10\n"
                "max_timeout = 60\nmax_body_bytes = 1048576\nthreads = 2\n"
                "ignore_unknown_query_parameters = on\njson_ignore_unknown_fields = off\n"
                "json_emit_defaults = off\njson_proto_names = off\n\n"
                "[service.echo]\nplugin = echo.so\ndescriptors = echo.pb\ngreeting = hi\n",
        "minimal": "[host]\nlisten = unix:/tmp/rpcrest.sock\n",
        "errors": "[gateway]\ntimeout = -1\n[host]\nlisten = [::1]:99999\n[nope]\nx=y\n",
        "bom-crlf": "\ufeff[host]\r\nlisten = 127.0.0.1:1\r\n  threads = 0\r\n",
        "long": "[service." + "x" * 300 + "]\nplugin = /" + "p" * 5000 + "\n",
        "dup": "[host]\nthreads = 1\nthreads = 2\n[host]\n",
        "noeq": "[gateway]\nlisten\n=\n;comment\n#c\n",
        "sup": "[supervisor]\nrestart = on-failure\nbackoff_initial = 0.5\nbackoff_max = 0.1\n"
               "[gateway]\nrestart = never\n",
    }
    for name, text in configs.items():
        write("config", name, text)

    for name in ("types.pb", "badroute.pb"):
        with open(os.path.join(BUILD, "tests", name), "rb") as f:
            write("schema", name, f.read())
    # small sets: the test protos without their imports (a set the gateway
    # must refuse or take, whichever it is)
    for proto in ("types.proto", "badroute.proto", "wkt.proto"):
        out = os.path.join(BUILD, "tests", "fuzz-seed.pb")
        subprocess.run(["protoc", "--descriptor_set_out=" + out, "-I" + os.path.join(ROOT, "tests/unit"),
                        "-I" + os.path.join(ROOT, "proto"), "-I/usr/include", proto], check=True)
        with open(out, "rb") as f:
            write("schema", proto.replace(".proto", "-alone.pb"), f.read())
        os.unlink(out)


if __name__ == "__main__":
    main()
