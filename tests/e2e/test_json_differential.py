"""Differential test of the gateway's proto3 JSON codec (gateway/gw_json.c,
gateway/gw_wkt.c) against Google's own implementation, Python protobuf's
json_format (Debian python3-protobuf), over tests/unit/wkt.proto:

  (a) json_format must parse OUR output (wire -> JSON) to the same message;
  (b) OUR parser (JSON -> wire) must accept what json_format prints and give
      the same message;

for a rich hand-built message, for hundreds of random messages (fixed
seed), under every output option, and for hand-written inputs in the forms
json_format accepts or refuses.  Messages are compared with protobuf
equality after canonicalizing Any payloads (see canonical()).

Our side runs as build/tests/json_tool, one process per batch.

Where json_format itself cannot read its own output, the random messages
avoid the case and test_json_format_gaps pins down what we do instead:
  - -0.0: we print -0 (as protobuf's C++ does); Python's json module reads
    the integer 0 and loses the sign;
  - float 3.4028235e+38 (FLT_MAX): json_format prints it, then refuses it
    as "too large";
  - a Value holding NaN or Infinity: json_format prints a string (which
    reads back as string_value); we refuse to print it;
  - null in a repeated NullValue or as a map<_, NullValue> value:
    json_format prints it and refuses it.
NaN is not equal to itself, so it is checked field by field.  And where
json_format accepts input only through the leniency of Python's int(),
float(), strptime() or base64 ("\t5", "1_000", " 1.5s", "1972-1-1T1:0:0Z"),
we refuse it, as the proto3 JSON spec and protobuf's C++ parser do:
test_inputs_only_python_accepts lists them.
"""
import contextlib
import base64
import json
import math
import os
import random
import struct
import subprocess
import unittest

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, symbol_database
from google.protobuf.descriptor import FieldDescriptor as FD

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("RPCREST_BUILD") or "build")
TOOL = os.path.join(BUILD, "tests", "json_tool")
SCHEMA = os.path.join(BUILD, "tests", "wkt.pb")
SEED = 20240611
N_RANDOM = 600

FLT_MAX = struct.unpack("<f", struct.pack("<I", 0x7F7FFFFF))[0]
MIN_SECONDS, MAX_SECONDS = -62135596800, 253402300799
MAX_DURATION = 315576000000


# ---- the schema, in the default pool next to the well-known types ----------

def load_schema():
    pool = descriptor_pool.Default()
    with open(SCHEMA, "rb") as f:
        files = descriptor_pb2.FileDescriptorSet.FromString(f.read()).file
    for fdp in files:
        try:
            pool.FindFileByName(fdp.name)  # google/protobuf/*: already there
        except KeyError:
            pool.Add(fdp)
    return pool


POOL = load_schema() if os.path.exists(SCHEMA) else None


def message_class(full_name):
    return symbol_database.Default().GetPrototype(POOL.FindMessageTypeByName(full_name))


# ---- our codec --------------------------------------------------------------

def run_tool(message, direction, records, *options):
    """Runs json_tool once over records (bytes); returns a list of
    (True, bytes) or (False, reason)."""
    lines = b"".join(base64.b64encode(r) + b"\n" for r in records)
    proc = subprocess.run([TOOL, SCHEMA, message, direction] + list(options), input=lines,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if proc.returncode != 0:
        raise AssertionError("json_tool failed (%d): %s" % (proc.returncode, proc.stderr))
    out = []
    for line in proc.stdout.decode("utf-8").splitlines():
        status, _, rest = line.partition(" ")
        out.append((True, base64.b64decode(rest)) if status == "ok" else (False, rest))
    if len(out) != len(records):
        raise AssertionError("json_tool answered %d of %d records" % (len(out), len(records)))
    return out


# ---- comparing messages -------------------------------------------------------

def is_map(field):
    return (field.type == FD.TYPE_MESSAGE and field.message_type.has_options and
            field.message_type.GetOptions().map_entry)


def canonicalize(msg):
    """In place: every Any below msg holds its payload re-serialized
    deterministically.  Python's message equality cannot unpack payload
    types added to the pool at run time and compares an Any's bytes, while
    equal payloads may be encoded differently (field order, explicit zeros,
    map order)."""
    if msg.DESCRIPTOR.full_name == "google.protobuf.Any":
        if msg.type_url:
            inner = message_class(msg.type_url.split("/")[-1])()
            inner.ParseFromString(msg.value)
            canonicalize(inner)
            msg.value = inner.SerializeToString(deterministic=True)
        return
    for field, value in msg.ListFields():
        if field.type != FD.TYPE_MESSAGE:
            continue
        if is_map(field):
            if field.message_type.fields_by_name["value"].type == FD.TYPE_MESSAGE:
                for key in value:
                    canonicalize(value[key])
        elif field.label == FD.LABEL_REPEATED:
            for item in value:
                canonicalize(item)
        else:
            canonicalize(value)


def canonical(msg):
    copy = msg.__class__()
    copy.CopyFrom(msg)
    canonicalize(copy)
    return copy


@contextlib.contextmanager
def quiet_stderr():
    """Silences file descriptor 2: protobuf's C++ MessageDifferencer logs
    "Proto type 'wkt.Inner' not found" (INFO) for every Any it cannot
    unpack, which canonical() has made harmless."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def same_message(a, b):
    with quiet_stderr():
        return canonical(a) == canonical(b)


def short(text, n=1500):
    text = str(text)
    return text if len(text) <= n else text[:n] + "…"


# ---- random messages ----------------------------------------------------------

INT_RANGES = {
    FD.TYPE_INT32: (-2**31, 2**31 - 1), FD.TYPE_SINT32: (-2**31, 2**31 - 1),
    FD.TYPE_SFIXED32: (-2**31, 2**31 - 1), FD.TYPE_UINT32: (0, 2**32 - 1),
    FD.TYPE_FIXED32: (0, 2**32 - 1), FD.TYPE_INT64: (-2**63, 2**63 - 1),
    FD.TYPE_SINT64: (-2**63, 2**63 - 1), FD.TYPE_SFIXED64: (-2**63, 2**63 - 1),
    FD.TYPE_UINT64: (0, 2**64 - 1), FD.TYPE_FIXED64: (0, 2**64 - 1),
}

CHARS = (["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x00", "\x01", "\x1f", "\x7f",
          "é", "ß", "漢", "\u2028", "\ufeff", "\U0001F600", "\U0010FFFF"] +
         [chr(c) for c in range(0x20, 0x7f)])

# json_format cannot read back null in these (see the module docstring)
SKIPPED_FIELDS = {"r_null", "m_null"}

ANY_PAYLOADS = ["wkt.Inner", "wkt.Scalars", "wkt.Everything", "wkt.Timestamp",
                "google.protobuf.Timestamp", "google.protobuf.Duration",
                "google.protobuf.FieldMask", "google.protobuf.Struct", "google.protobuf.Value",
                "google.protobuf.ListValue", "google.protobuf.Empty", "google.protobuf.Any",
                "google.protobuf.Int64Value", "google.protobuf.UInt64Value",
                "google.protobuf.DoubleValue", "google.protobuf.FloatValue",
                "google.protobuf.BoolValue", "google.protobuf.StringValue",
                "google.protobuf.BytesValue", "google.protobuf.Int32Value",
                "google.protobuf.UInt32Value"]


class Generator:
    """Random message instances of any type of the schema."""

    MAX_DEPTH = 3

    def __init__(self, seed):
        self.rnd = random.Random(seed)

    def integer(self, lo, hi):
        r = self.rnd
        if r.random() < 0.3:
            return r.choice([lo, hi, 0, 1, max(lo, -1), hi // 2, lo // 2])
        bits = r.randint(1, (hi - lo).bit_length())
        value = r.getrandbits(bits) * r.choice([1, -1] if lo < 0 else [1])
        return min(max(value, lo), hi)

    def double(self):
        """Finite or infinite, never NaN or -0.0 (see the docstring)."""
        r = self.rnd
        if r.random() < 0.3:
            return r.choice([0.0, 1.5, -2.25, 0.1, 1e300, -1e-300, 5e-324, 2.0**53 + 2,
                             1e21, 123456789.125, float("inf"), float("-inf"),
                             1.7976931348623157e308])
        while True:
            value = struct.unpack("<d", struct.pack("<Q", r.getrandbits(64)))[0]
            if not math.isnan(value) and not (value == 0 and math.copysign(1, value) < 0):
                return value

    def float32(self):
        """A float's value, never NaN, -0.0 or +-FLT_MAX (see the docstring)."""
        r = self.rnd
        if r.random() < 0.3:
            return r.choice([0.0, 0.1, -1.5, 3.4028233e38, 1.17549435e-38, 1e-45,
                             float("inf"), float("-inf"), 16777216.0])
        while True:
            value = struct.unpack("<f", struct.pack("<I", r.getrandbits(32)))[0]
            if (not math.isnan(value) and abs(value) != FLT_MAX and
                    not (value == 0 and math.copysign(1, value) < 0)):
                return value

    def text(self, key=False):
        chars = [c for c in CHARS if not (key and c == "\x00")]  # jansson: no NUL in keys
        return "".join(self.rnd.choice(chars) for _ in range(self.rnd.randint(0, 8)))

    def blob(self):
        return bytes(self.rnd.getrandbits(8) for _ in range(self.rnd.randint(0, 12)))

    def enum(self, enum_type):
        if enum_type.full_name == "google.protobuf.NullValue":
            return 0
        numbers = [v.number for v in enum_type.values] + [7, -100, 2**31 - 1, -2**31]
        return self.rnd.choice(numbers)

    def scalar(self, field, key=False):
        t = field.type
        if t in INT_RANGES:
            return self.integer(*INT_RANGES[t])
        if t == FD.TYPE_DOUBLE:
            return self.double()
        if t == FD.TYPE_FLOAT:
            return self.float32()
        if t == FD.TYPE_BOOL:
            return self.rnd.random() < 0.5
        if t == FD.TYPE_STRING:
            return self.text(key)
        if t == FD.TYPE_BYTES:
            return self.blob()
        return self.enum(field.enum_type)

    # -- well-known types

    def nanos(self):
        unit = self.rnd.choice([0, 1000000, 1000, 1])
        return self.rnd.randrange(0, 10**9, unit) if unit else 0

    def timestamp(self, msg, depth):
        msg.seconds = self.rnd.choice([MIN_SECONDS, MAX_SECONDS, 0, -1,
                                       self.rnd.randint(MIN_SECONDS, MAX_SECONDS)])
        msg.nanos = self.nanos()

    def duration(self, msg, depth):
        seconds = self.rnd.choice([MAX_DURATION, -MAX_DURATION, 0,
                                   self.rnd.randint(-MAX_DURATION, MAX_DURATION)])
        nanos = self.nanos()
        negative = seconds < 0 or (seconds == 0 and self.rnd.random() < 0.5)
        msg.seconds, msg.nanos = seconds, -nanos if negative else nanos

    def path(self):
        words = ["".join(self.rnd.choice("abcxyz") for _ in range(self.rnd.randint(1, 3))) +
                 self.rnd.choice(["", "1", "22"]) for _ in range(self.rnd.randint(1, 3))]
        return "_".join(words)

    def field_mask(self, msg, depth):
        for _ in range(self.rnd.randint(0, 3)):
            msg.paths.append(".".join(self.path() for _ in range(self.rnd.randint(1, 3))))

    def value(self, msg, depth):
        kinds = ["null", "number", "string", "bool"] + (["struct", "list"] if depth < 4 else [])
        kind = self.rnd.choice(kinds)
        if kind == "null":
            msg.null_value = 0
        elif kind == "number":
            value = self.double()
            msg.number_value = value if math.isfinite(value) else 2.5
        elif kind == "string":
            msg.string_value = self.text()
        elif kind == "bool":
            msg.bool_value = self.rnd.random() < 0.5
        elif kind == "struct":
            self.struct(msg.struct_value, depth + 1)
        else:
            self.list_value(msg.list_value, depth + 1)

    def struct(self, msg, depth):
        msg.Clear()
        for _ in range(self.rnd.randint(0, 3)):
            self.value(msg.fields[self.text(key=True)], depth + 1)

    def list_value(self, msg, depth):
        msg.Clear()
        for _ in range(self.rnd.randint(0, 3)):
            self.value(msg.values.add(), depth + 1)

    def any(self, msg, depth):
        if self.rnd.random() < 0.1:
            return  # the empty Any: {}
        names = ANY_PAYLOADS if depth < self.MAX_DEPTH else ANY_PAYLOADS[3:]
        payload = message_class(self.rnd.choice(names))()
        self.fill(payload, depth + 1)
        msg.Pack(payload)

    def wrapper(self, msg, depth):
        msg.value = self.scalar(msg.DESCRIPTOR.fields_by_name["value"])

    WELL_KNOWN = {
        "google.protobuf.Timestamp": timestamp, "google.protobuf.Duration": duration,
        "google.protobuf.FieldMask": field_mask, "google.protobuf.Value": value,
        "google.protobuf.Struct": struct, "google.protobuf.ListValue": list_value,
        "google.protobuf.Any": any, "google.protobuf.Empty": lambda self, m, d: None,
    }

    # -- messages

    def fill(self, msg, depth=0):
        d = msg.DESCRIPTOR
        if d.file.name == "google/protobuf/wrappers.proto":
            return self.wrapper(msg, depth)
        if d.full_name in self.WELL_KNOWN:
            return self.WELL_KNOWN[d.full_name](self, msg, depth)
        chosen = {o.name: self.rnd.choice(list(o.fields) + [None]) for o in d.oneofs
                  if not o.name.startswith("_")}
        for field in d.fields:
            oneof = field.containing_oneof
            if field.name in SKIPPED_FIELDS:
                continue
            if oneof is not None and oneof.name in chosen:
                if chosen[oneof.name] is field:
                    self.set_field(msg, field, depth)
            elif self.rnd.random() < (0.35 if depth == 0 else 0.2):
                self.set_field(msg, field, depth)

    def set_field(self, msg, field, depth):
        deep = depth >= self.MAX_DEPTH
        if is_map(field):
            key_field = field.message_type.fields_by_name["key"]
            value_field = field.message_type.fields_by_name["value"]
            entries = getattr(msg, field.name)
            for _ in range(0 if deep else self.rnd.randint(0, 3)):
                key = self.scalar(key_field, key=True)
                if value_field.type == FD.TYPE_MESSAGE:
                    self.fill(entries[key], depth + 1)
                else:
                    entries[key] = self.scalar(value_field)
        elif field.label == FD.LABEL_REPEATED:
            items = getattr(msg, field.name)
            for _ in range(0 if deep else self.rnd.randint(0, 3)):
                if field.type == FD.TYPE_MESSAGE:
                    self.fill(items.add(), depth + 1)
                else:
                    items.append(self.scalar(field))
        elif field.type == FD.TYPE_MESSAGE:
            sub = getattr(msg, field.name)
            sub.SetInParent()
            if not deep or field.message_type.full_name == "google.protobuf.Value":
                self.fill(sub, depth + 1)
        else:
            setattr(msg, field.name, self.scalar(field))


# ---- the rich message -------------------------------------------------------

def rich_message():
    """Every field of wkt.Everything set, with edge values."""
    E = message_class("wkt.Everything")
    Inner = message_class("wkt.Inner")
    m = E(f_double=-2.5e-300, f_float=1.5, f_int32=-2**31, f_int64=-2**63, f_uint32=2**32 - 1,
          f_uint64=2**64 - 1, f_sint32=2**31 - 1, f_sint64=2**63 - 1, f_fixed32=2**32 - 1,
          f_fixed64=2**64 - 1, f_sfixed32=-2**31, f_sfixed64=-2**63, f_bool=True,
          f_string="q\"uo\\te\x00\n漢\U0001F600", f_bytes=b"\x00\xff\xfe", f_kind=-3)
    m.f_inner.id = 1
    m.f_inner.kinds.extend([1, 2, -3, 9])
    m.f_inner.child.label = "c"
    m.f_inner.children["x"].id = 2
    m.f_scalars.f_uint64 = 12345678901234567890
    m.f_scalars.f_float = float("-inf")
    m.r_double.extend([0.0, 1e308, float("inf"), 5e-324])
    m.r_float.extend([0.1, 3.4028233e38])
    m.r_int32.extend([0, -1, 2**31 - 1])
    m.r_int64.extend([-2**63, 2**63 - 1])
    m.r_uint32.extend([2**32 - 1])
    m.r_uint64.extend([2**64 - 1, 0])
    m.r_sint32.extend([-2**31])
    m.r_sint64.extend([-2**63, 1])
    m.r_fixed32.extend([7])
    m.r_fixed64.extend([2**64 - 1])
    m.r_sfixed32.extend([-5])
    m.r_sfixed64.extend([-2**63])
    m.r_bool.extend([True, False])
    m.r_string.extend(["", "a,b", "\u2028"])
    m.r_bytes.extend([b"", b"\x01"])
    m.r_kind.extend([0, 2, 42])
    m.r_inner.add(id=3)
    m.r_inner.add()
    m.r_unpacked.extend([1, -1])
    m.o_double, m.o_float, m.o_int32, m.o_int64, m.o_uint64 = 0.0, 0.0, 0, 0, 0
    m.o_bool, m.o_string, m.o_bytes, m.o_kind, m.o_null = False, "", b"", 0, 0
    m.o_inner.SetInParent()
    m.m_int32[-1] = "a"
    m.m_int64[-2**63] = "b"
    m.m_uint32[2**32 - 1] = "c"
    m.m_uint64[2**64 - 1] = "d"
    m.m_sint32[-7] = "e"
    m.m_sint64[2**63 - 1] = "f"
    m.m_fixed32[0] = "g"
    m.m_fixed64[2**64 - 1] = "h"
    m.m_sfixed32[-2**31] = "i"
    m.m_sfixed64[-1] = "j"
    m.m_bool[True] = "k"
    m.m_bool[False] = "l"
    m.m_string[""] = "m"
    m.m_string["é\""] = "n"
    m.m_inner["o"].label = "p"
    m.m_kind["q"] = 17
    m.m_bytes["r"] = b"\x00"
    m.m_double["s"] = float("-inf")
    m.m_int64_int64[5] = -5
    m.m_timestamp["t"].seconds = MAX_SECONDS
    m.m_value["u"].struct_value["v"] = None
    m.m_any["w"].Pack(Inner(id=9))
    m.m_int64_value["x"].value = -1
    m.m_duration["y"].nanos = -1
    m.m_struct["z"].SetInParent()
    m.c_value.list_value.extend([None, 1, "two", True])
    m.x_double = -0.5
    m.renamed = "json name"
    m.any.Pack(m.m_duration["y"])
    m.timestamp.seconds, m.timestamp.nanos = MIN_SECONDS, 1000
    m.duration.seconds, m.duration.nanos = -MAX_DURATION, -999999999
    m.field_mask.paths.extend(["a_b.c_d", "x", "foo1.bar_baz"])
    m.struct.update({"n": 1.5, "s": "x", "b": False, "z": None, "l": [1, [2, {}]],
                     "o": {"deep": {"er": []}}, "big": 1e19})
    m.value.string_value = "a Value"
    m.list_value.extend([{}, [], None])
    m.empty.SetInParent()
    m.null_value = 0
    m.double_value.value = float("inf")
    m.float_value.value = -0.25
    m.int64_value.value = -2**63
    m.uint64_value.value = 2**64 - 1
    m.int32_value.value = -2**31
    m.uint32_value.value = 2**32 - 1
    m.bool_value.value = False
    m.string_value.value = "w"
    m.bytes_value.value = b"\xff"
    m.r_any.add().Pack(message_class("google.protobuf.Value")(bool_value=True))
    m.r_any.add()
    packed = message_class("google.protobuf.Any")()
    packed.Pack(Inner(label="in an Any in an Any"))
    m.r_any.add().Pack(packed)
    m.r_timestamp.add(seconds=1, nanos=1)
    m.r_duration.add(seconds=1, nanos=10**8)
    m.r_field_mask.add()
    m.r_struct.add().update({"k": "v"})
    m.r_value.add(number_value=1e-7)
    m.r_value.add(null_value=0)
    m.r_list_value.add()
    m.r_empty.add()
    m.r_double_value.add(value=2.5)
    m.r_float_value.add(value=0.5)
    m.r_int64_value.add(value=5)
    m.r_uint64_value.add(value=6)
    m.r_int32_value.add(value=-7)
    m.r_uint32_value.add(value=8)
    m.r_bool_value.add(value=True)
    m.r_string_value.add(value="")
    m.r_bytes_value.add(value=b"z")
    m.recursive.recursive.f_string = "two levels down"
    return m


# ---- the tests ----------------------------------------------------------------

@unittest.skipUnless(os.path.exists(TOOL) and POOL is not None,
                     "build/tests/json_tool and wkt.pb are built by make tests")
class JsonDifferential(unittest.TestCase):
    MESSAGE = "wkt.Everything"

    @classmethod
    def setUpClass(cls):
        cls.Everything = message_class(cls.MESSAGE)
        gen = Generator(SEED)
        cls.random_messages = []
        for _ in range(N_RANDOM):
            msg = cls.Everything()
            gen.fill(msg)
            cls.random_messages.append(msg)

    def assertSameMessage(self, got, want, context):
        if not same_message(got, want):
            self.fail("%s\n--- got:\n%s\n--- want:\n%s" % (context, short(got), short(want)))

    # (a) json_format reads what we print
    def check_ours_read_by_json_format(self, messages, *options):
        results = run_tool(self.MESSAGE, "pb2json", [m.SerializeToString() for m in messages],
                           *options)
        for i, (msg, (ok, out)) in enumerate(zip(messages, results)):
            self.assertTrue(ok, "message %d: we could not print it: %s\n%s" % (i, out, short(msg)))
            text = out.decode("utf-8")
            try:
                parsed = json_format.Parse(text, self.Everything())
            except json_format.ParseError as e:
                self.fail("message %d %s: json_format refused our JSON: %s\n%s" %
                          (i, options, e, short(text)))
            self.assertSameMessage(parsed, msg, "message %d %s: our JSON %s" %
                                   (i, options, short(text, 3000)))

    # (b) we read what json_format prints
    def check_json_format_read_by_ours(self, messages, **printer_options):
        texts = [json_format.MessageToJson(m, **printer_options) for m in messages]
        results = run_tool(self.MESSAGE, "json2pb", [t.encode("utf-8") for t in texts])
        for i, (msg, text, (ok, out)) in enumerate(zip(messages, texts, results)):
            self.assertTrue(ok, "message %d %s: we refused json_format's JSON: %s\n%s" %
                            (i, printer_options, out, short(text, 3000)))
            self.assertSameMessage(self.Everything.FromString(out), msg,
                                   "message %d %s: json_format's JSON %s" %
                                   (i, printer_options, short(text, 3000)))

    def test_rich_message_ours_to_json_format(self):
        for options in ([], ["emit-defaults"], ["proto-names"], ["emit-defaults", "proto-names"]):
            self.check_ours_read_by_json_format([rich_message()], *options)

    def test_rich_message_json_format_to_ours(self):
        for options in ({}, {"preserving_proto_field_name": True},
                        {"including_default_value_fields": True}, {"indent": None}):
            self.check_json_format_read_by_ours([rich_message()], **options)

    def test_random_messages_ours_to_json_format(self):
        self.check_ours_read_by_json_format(self.random_messages)

    def test_random_messages_json_format_to_ours(self):
        self.check_json_format_read_by_ours(self.random_messages)

    def test_random_messages_with_options(self):
        subset = self.random_messages[:150]
        self.check_ours_read_by_json_format(subset, "emit-defaults", "proto-names")
        self.check_json_format_read_by_ours(subset, preserving_proto_field_name=True,
                                            including_default_value_fields=True)

    def test_random_messages_of_other_types(self):
        """Top-level well-known types and the small messages, as request and
        response bodies would be."""
        gen = Generator(SEED + 1)
        for name in ["wkt.Inner", "wkt.Scalars", "google.protobuf.Timestamp",
                     "google.protobuf.Value", "google.protobuf.Any", "google.protobuf.Struct",
                     "google.protobuf.Int64Value", "google.protobuf.FieldMask"]:
            cls = message_class(name)
            messages = []
            for _ in range(40):
                msg = cls()
                gen.fill(msg)
                messages.append(msg)
            ours = run_tool(name, "pb2json", [m.SerializeToString() for m in messages])
            theirs = run_tool(name, "json2pb",
                              [json_format.MessageToJson(m).encode("utf-8") for m in messages])
            for msg, (ok1, text), (ok2, wire) in zip(messages, ours, theirs):
                self.assertTrue(ok1 and ok2, "%s: %s / %s" % (name, text, wire))
                self.assertSameMessage(json_format.Parse(text.decode("utf-8"), cls()), msg,
                                       "%s: our JSON %s" % (name, text))
                self.assertSameMessage(cls.FromString(wire), msg, name)

    def test_ignore_unknown_fields(self):
        """Unknown keys, at the top and inside a nested message, are
        skipped by both with the option and refused by both without."""
        texts = []
        for msg in self.random_messages[:100]:
            obj = json.loads(json_format.MessageToJson(msg))
            obj["noSuchField"] = {"deep": [1, {"x": None}]}
            obj.setdefault("fInner", {})["alsoUnknown"] = 1.5
            texts.append(json.dumps(obj))
        results = run_tool(self.MESSAGE, "json2pb", [t.encode() for t in texts],
                           "ignore-unknown")
        for text, (ok, wire) in zip(texts, results):
            want = json_format.Parse(text, self.Everything(), ignore_unknown_fields=True)
            self.assertTrue(ok, wire)
            self.assertSameMessage(self.Everything.FromString(wire), want, text)
        for ok, reason in run_tool(self.MESSAGE, "json2pb", [t.encode() for t in texts]):
            self.assertFalse(ok)
            self.assertIn("no such field", reason)

    # inputs json_format accepts, in every form it accepts them
    ACCEPTED = [
        '{"f_int32": 1, "r_inner": [{"id": 2}], "m_string": {"k": "v"}}',
        '{"customJsonName": "x"}', '{"renamed": "x"}',
        '{"fInt64": 5, "fUint64": "18446744073709551615", "fSint64": -9223372036854775808}',
        '{"fUint64": 18446744073709551615, "fFixed64": 18446744073709551615}',
        '{"fInt32": 1e2, "fUint32": 4294967295.0, "fInt64": -1.0, "fSint32": "-5"}',
        '{"fInt32": "+5", "fSfixed32": "0", "fUint64": "007"}',
        '{"fDouble": "1.5", "fFloat": "-Infinity", "rDouble": ["Infinity", "-1e-300", 7]}',
        '{"fDouble": 1e308, "fFloat": "3.4e38", "rFloat": [1e-45, 3.4028234e38]}',
        '{"fBytes": "-_8", "rBytes": ["AQI", "AQI=", "AQ==", "+/8="]}',
        '{"fKind": 1, "rKind": ["KIND_B", 7, -3, "2"]}',
        '{"fInt32": null, "fString": null, "fInner": null, "rInt32": null, "mInt32": null}',
        '{"fString": "a\\u0000b\\ud83d\\ude00\\u00e9"}',
        '{"value": null}', '{"nullValue": null}', '{"nullValue": "NULL_VALUE"}',
        '{"nullValue": 0}', '{"oNull": null}', '{"cNull": null}', '{"cValue": null}',
        '{"timestamp": "1972-01-01T10:00:20.021+05:30"}',
        '{"timestamp": "1972-01-01T10:00:20-08:00"}',
        '{"timestamp": "2000-02-29T23:59:59.999999999Z"}',
        '{"timestamp": "0001-01-01T00:00:00Z", "rTimestamp": ["9999-12-31T23:59:59.1Z"]}',
        '{"duration": "-0.5s", "rDuration": ["1.000000001s", "0s", "-315576000000s"]}',
        '{"duration": "315576000000.999999999s"}',
        '{"fieldMask": "fooBar,baz.quxQuux", "rFieldMask": ["", "a"]}',
        '{"any": {}}', '{"cAny": {}}',
        '{"any": {"@type": "type.googleapis.com/google.protobuf.Value", '
        '"value": [1, {"a": null}]}}',
        '{"any": {"@type": "type.googleapis.com/google.protobuf.Empty"}}',
        '{"any": {"@type": "type.googleapis.com/google.protobuf.Int64Value", "value": "5"}}',
        '{"any": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "1s"}}',
        '{"any": {"@type": "type.googleapis.com/wkt.Inner", "id": 5, "kinds": ["KIND_A"]}}',
        '{"any": {"@type": "type.googleapis.com/wkt.Timestamp", "seconds": "5"}}',
        '{"any": {"id": 1, "@type": "type.googleapis.com/wkt.Inner"}}',
        '{"any": {"@type": "type.googleapis.com/google.protobuf.Any", '
        '"value": {"@type": "type.googleapis.com/google.protobuf.Struct", "value": {"a": 1}}}}',
        '{"mValue": {"a": null, "b": 1}, "rValue": [null, 1, "x", [], {}]}',
        '{"struct": {"a": 18446744073709551616, "b": -0.0, "c": -18446744073709551616}}',
        '{"listValue": [1, [2, [3, [4]]]]}',
        '{"mBool": {"true": "x", "false": "y"}, "mInt64": {"-5": "x", "007": "y"}}',
        '{"mUint64": {"18446744073709551615": "x"}, "mSfixed64": {"-9223372036854775808": "y"}}',
        '{"mInt32": {"+3": "x"}, "mFixed32": {"4294967295": "y"}}',
        '{"oInt32": 0, "oString": "", "oKind": "KIND_UNSPECIFIED"}',
        '{"cString": null, "cInt64": "5"}', '{"cInt32Value": 0}', '{"cTimestamp": null}',
        '{"int64Value": 5, "uint64Value": "18446744073709551615", "floatValue": "Infinity"}',
        '{"bytesValue": "AAEC", "boolValue": false, "stringValue": ""}',
        '{"doubleValue": null, "rInt64Value": [1, "2"]}',
        '{"recursive": {"recursive": {"fInner": {"child": {"child": {}}}}}}',
    ]

    def test_inputs_json_format_accepts(self):
        results = run_tool(self.MESSAGE, "json2pb", [t.encode() for t in self.ACCEPTED])
        for text, (ok, wire) in zip(self.ACCEPTED, results):
            try:
                want = json_format.Parse(text, self.Everything())
            except json_format.ParseError as e:
                self.fail("json_format refused %s: %s" % (text, e))
            self.assertTrue(ok, "%s: %s" % (text, wire))
            self.assertSameMessage(self.Everything.FromString(wire), want, text)

    # inputs both must refuse
    REFUSED = [
        '{"timestamp": "1972-01-01T10:00:20"}', '{"timestamp": "1972-02-30T10:00:20Z"}',
        '{"timestamp": "1972-01-01t10:00:20Z"}', '{"timestamp": "1972-01-01T10:00:20.1234567890Z"}',
        '{"timestamp": "1972-01-01T24:00:00Z"}', '{"timestamp": 12}', '{"timestamp": {}}',
        '{"timestamp": "1972-01-01T10:00:20+0100"}',
        '{"duration": "1.5"}', '{"duration": "315576000001s"}', '{"duration": 3}',
        '{"duration": "s"}', '{"duration": "1e3s"}',
        '{"any": {"@type": "type.googleapis.com/no.Such"}}', '{"any": {"id": 1}}',
        '{"any": {"@type": "type.googleapis.com/wkt.Inner", "nope": 1}}',
        '{"any": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "x"}}',
        '{"any": []}',
        '{"int32Value": "abc"}', '{"boolValue": "true"}', '{"stringValue": 1}',
        '{"int64Value": {}}', '{"bytesValue": 5}', '{"uint32Value": -1}', '{"floatValue": 1e39}',
        '{"fieldMask": "a_b"}', '{"fieldMask": 7}', '{"struct": [1]}', '{"struct": 1}',
        '{"listValue": {}}', '{"empty": 1}',
        '{"fInt32": 2147483648}', '{"fUint64": -1}', '{"fInt64": "9223372036854775808"}',
        '{"fUint64": 18446744073709551616}', '{"fInt64": -9223372036854775809}',
        '{"fFloat": 3.5e38}', '{"fBool": "true"}', '{"fBool": 1}', '{"fInt32": 1.5}',
        '{"fInt32": "1 "}', '{"fInt32": true}', '{"fString": 5}', '{"fBytes": "A"}',
        '{"fDouble": NaN}', '{"fDouble": Infinity}', '{"fDouble": [1]}',
        '{"rInt32": [null]}', '{"rInner": [null]}', '{"rInt32": 1}', '{"mInt32": []}',
        '{"cString": "a", "cInt64": "1"}', '{"xBool": true, "xDouble": 1}',
        '{"fInt32": 1, "fInt32": 2}', '{"nope": 1}', '{"fKind": "KIND_C"}', '{"fKind": 2147483648}',
        '{"fString": "\\ud800"}', '{"mBool": {"yes": "x"}}', '{"mInt32": {"1.5": "x"}}',
        '{"mInt32": {"a": "x"}}', '{"mInner": {"a": null}}', '{"fInner": 1}', '"x"', '1',
        '{"recursive": "x"}', '{"fInt32": 1} x',
    ]

    def test_inputs_both_refuse(self):
        results = run_tool(self.MESSAGE, "json2pb", [t.encode() for t in self.REFUSED])
        for text, (ok, reason) in zip(self.REFUSED, results):
            # (json_format raises TypeError for some, such as a bare 1)
            with self.assertRaises((json_format.ParseError, TypeError),
                                   msg="json_format accepted " + text):
                json_format.Parse(text, self.Everything())
            self.assertFalse(ok, "we accepted %s" % text)

    # inputs json_format accepts only through Python's leniency; we refuse
    ONLY_PYTHON_ACCEPTS = [
        '{"fInt32": "\\t5"}', '{"fInt32": "1_000"}', '{"fInt32": "\u0661\u0662"}',
        '{"fDouble": " 1.5"}', '{"fDouble": "inf"}', '{"fDouble": "1_0"}',
        '{"fBytes": "AQ I="}', '{"fBytes": "AQ==AQ=="}', '{"fKind": true}',
        '{"duration": "1.5 s"}', '{"duration": "+1s"}', '{"duration": "1.s"}',
        '{"duration": " 1s"}', '{"duration": "1.0000000001s"}',
        '{"timestamp": "1972-1-1T1:0:0Z"}', '{"timestamp": "1972-01-01T10:00:20.Z"}',
        '{"value": 1e400}', '{"struct": {"c": -1e400}}', '{"empty": []}', '[]', '{"fKind": 1.5}',
        '{"any": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "1s", '
        '"extra": 1}}',
    ]

    def test_inputs_only_python_accepts(self):
        results = run_tool(self.MESSAGE, "json2pb", [t.encode() for t in self.ONLY_PYTHON_ACCEPTS])
        for text, (ok, reason) in zip(self.ONLY_PYTHON_ACCEPTS, results):
            json_format.Parse(text, self.Everything())
            self.assertFalse(ok, "we accepted %s" % text)

    def test_nan_both_ways(self):
        msg = self.Everything(f_double=float("nan"), f_float=float("nan"))
        msg.r_double.append(float("nan"))
        msg.double_value.value = float("nan")
        (ok, text), = run_tool(self.MESSAGE, "pb2json", [msg.SerializeToString()])
        self.assertTrue(ok, text)
        self.assertEqual(json.loads(text), {"fDouble": "NaN", "fFloat": "NaN",
                                            "rDouble": ["NaN"], "doubleValue": "NaN"})
        (ok, wire), = run_tool(self.MESSAGE, "json2pb", [json_format.MessageToJson(msg).encode()])
        self.assertTrue(ok, wire)
        for parsed in (json_format.Parse(text.decode(), self.Everything()),
                       self.Everything.FromString(wire)):
            self.assertTrue(math.isnan(parsed.f_double) and math.isnan(parsed.f_float))
            self.assertTrue(math.isnan(parsed.r_double[0]))
            self.assertTrue(math.isnan(parsed.double_value.value))

    def test_json_format_gaps(self):
        """Where json_format cannot read its own output, what we do."""
        # -0.0: json_format prints -0.0, we read it with its sign; we print
        # -0 and read that with its sign too (Python's json module does not)
        msg = self.Everything(f_double=-0.0, f_float=-0.0)
        msg.value.number_value = -0.0
        texts = [json_format.MessageToJson(msg).encode(), b'{"fDouble": -0, "fFloat": -0,'
                                                           b' "value": -0}']
        for ok, wire in run_tool(self.MESSAGE, "json2pb", texts):
            self.assertTrue(ok, wire)
            back = self.Everything.FromString(wire)
            for x in (back.f_double, back.f_float, back.value.number_value):
                self.assertEqual(math.copysign(1, x), -1.0)
        (ok, text), = run_tool(self.MESSAGE, "pb2json", [msg.SerializeToString()])
        self.assertEqual(json.loads(text, parse_int=float),
                         {"fDouble": -0.0, "fFloat": -0.0, "value": -0.0})
        # FLT_MAX: json_format prints 3.4028235e+38 and then refuses it
        msg = self.Everything(f_float=FLT_MAX)
        printed = json_format.MessageToJson(msg)
        with self.assertRaises(json_format.ParseError):
            json_format.Parse(printed, self.Everything())
        (ok, wire), = run_tool(self.MESSAGE, "json2pb", [printed.encode()])
        self.assertTrue(ok, wire)
        self.assertEqual(self.Everything.FromString(wire), msg)
        # a Value holding NaN or Infinity: json_format prints a string
        for x in (float("nan"), float("inf")):
            msg = self.Everything()
            msg.value.number_value = x
            self.assertIsInstance(json.loads(json_format.MessageToJson(msg))["value"], str)
            (ok, reason), = run_tool(self.MESSAGE, "pb2json", [msg.SerializeToString()])
            self.assertFalse(ok)
            self.assertIn("field 'value': a Value's number_value is", reason)
        # null as a repeated NullValue or a map<_, NullValue> value
        msg = self.Everything()
        msg.r_null.extend([0, 0])
        msg.m_null["k"] = 0
        printed = json_format.MessageToJson(msg)
        with self.assertRaises(json_format.ParseError):
            json_format.Parse(printed, self.Everything())
        (ok, wire), = run_tool(self.MESSAGE, "json2pb", [printed.encode()])
        self.assertTrue(ok, wire)
        self.assertEqual(self.Everything.FromString(wire), msg)

    def test_duplicate_map_keys_and_oneof_members_on_the_wire(self):
        """Wire input protobuf parsers resolve (last wins): our JSON names
        the same message json_format gets from parsing the same bytes."""
        E = self.Everything
        parts = [E(m_string={"a": "1", "b": "2"}), E(m_string={"a": "3"}),
                 E(c_string="x"), E(c_inner={"id": 1}), E(c_inner={"label": "y"}),
                 E(c_int64=5), E(c_inner={"id": 2})]
        wire = b"".join(p.SerializeToString() for p in parts)
        (ok, text), = run_tool(self.MESSAGE, "pb2json", [wire])
        self.assertTrue(ok, text)
        self.assertEqual(json.loads(text), {"mString": {"b": "2", "a": "3"}, "cInner": {"id": 2}})
        from_wire = E.FromString(wire)
        self.assertEqual(dict(from_wire.m_string), {"a": "3", "b": "2"})
        self.assertEqual(from_wire.WhichOneof("choice"), "c_inner")
        want = E(m_string={"a": "3", "b": "2"}, c_inner={"id": from_wire.c_inner.id})
        self.assertSameMessage(json_format.Parse(text.decode(), E()), want, text.decode())


if __name__ == "__main__":
    unittest.main()
