/*
 * fuzz_common.h -- what the codec fuzz targets share: reading the input a
 * byte at a time, the descriptor sets the build made (tests/unit/types.proto,
 * tests/unit/wkt.proto, the testkit service), and a random schema built from
 * input bytes (messages, fields of every type and label, maps, oneofs,
 * enums, well-known type names) and loaded as the gateway loads a
 * FileDescriptorSet.  Header-only: each target is one program.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/gw_json.h"
#include "../../gateway/gw_schema.h"
#include "google/protobuf/descriptor.pb-c.h"

#ifndef BUILD_DIR
#define BUILD_DIR "build"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the input ------------------------------------------------------------------ */

typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in;

/* The next byte, 0 once the input is used up. */
static inline uint8_t fuzz_byte(fuzz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* A copy of the rest of the input, NUL-terminated (free it). */
static inline char *fuzz_rest(fuzz_in *in, size_t *len)
{
    char *s = malloc(in->n + 1);
    if (!s)
        abort();
    memcpy(s, in->p, in->n);
    s[in->n] = '\0';
    *len = in->n;
    in->p += in->n;
    in->n = 0;
    return s;
}

static inline gw_json_options fuzz_options(uint8_t bits)
{
    gw_json_options o = {.ignore_unknown_fields = bits & 1, .emit_defaults = (bits >> 1) & 1,
                         .proto_names = (bits >> 2) & 1, .enum_numbers = (bits >> 3) & 1};
    return o;
}

/* ---- the build's descriptor sets ----------------------------------------------- */

static inline gw_schema *fuzz_load_schema(const char *rel)
{
    char path[512], err[512];
    snprintf(path, sizeof(path), "%s/%s", BUILD_DIR, rel);
    const char *paths[] = {path};
    gw_schema *s = gw_schema_load(paths, 1, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "fuzz: %s (run from the repository's top folder)\n", err);
        abort();
    }
    return s;
}

static const char *const FUZZ_MESSAGES[] = {
    "unit.AllTypes", "unit.Node", "unit.Thing", "unit.ThingRequest", "unit.Nested",
    "wkt.Everything", "wkt.Scalars", "wkt.Inner", "wkt.Timestamp",
    "google.protobuf.Value", "google.protobuf.Struct", "google.protobuf.ListValue",
    "google.protobuf.Any", "google.protobuf.Timestamp", "google.protobuf.Duration",
    "google.protobuf.FieldMask", "google.protobuf.Int64Value", "google.protobuf.UInt64Value",
    "google.protobuf.BytesValue", "google.protobuf.FloatValue", "google.protobuf.Empty",
    "rpcrest.testkit.AllTypes", "rpcrest.testkit.FailRequest", "rpcrest.testkit.MetadataRequest",
};
#define FUZZ_N_MESSAGES (sizeof(FUZZ_MESSAGES) / sizeof(FUZZ_MESSAGES[0]))

/* The message of the build's sets that byte `pick` chooses. */
static inline const gw_message *fuzz_known_message(uint8_t pick)
{
    static gw_schema *sets[3];
    if (!sets[0]) {
        sets[0] = fuzz_load_schema("tests/types.pb");
        sets[1] = fuzz_load_schema("tests/wkt.pb");
        sets[2] = fuzz_load_schema("services/testkit.pb");
    }
    const char *name = FUZZ_MESSAGES[pick % FUZZ_N_MESSAGES];
    for (int i = 0; i < 3; i++) {
        const gw_message *m = gw_schema_message(sets[i], name);
        if (m)
            return m;
    }
    fprintf(stderr, "fuzz: no message %s in the build's descriptor sets\n", name);
    abort();
}

/* ---- a random schema ------------------------------------------------------------ */

#define FZ_MAX_MSGS 4
#define FZ_MAX_FIELDS 8
#define FZ_MAX_VALUES 4

typedef Google__Protobuf__FieldDescriptorProto FieldProto_;

/* Every object of one random FileDescriptorSet, so nothing is malloc'd. */
typedef struct fuzz_schema_build {
    Google__Protobuf__FileDescriptorSet set;
    Google__Protobuf__FileDescriptorProto file, *files[1];
    Google__Protobuf__DescriptorProto msgs[FZ_MAX_MSGS], *msg_ptrs[FZ_MAX_MSGS];
    Google__Protobuf__MessageOptions msg_opts[FZ_MAX_MSGS];
    FieldProto_ fields[FZ_MAX_MSGS][FZ_MAX_FIELDS], *field_ptrs[FZ_MAX_MSGS][FZ_MAX_FIELDS];
    Google__Protobuf__FieldOptions field_opts[FZ_MAX_MSGS][FZ_MAX_FIELDS];
    Google__Protobuf__OneofDescriptorProto oneofs[2], *oneof_ptrs[2];
    Google__Protobuf__EnumDescriptorProto enm, *enum_ptrs[1];
    Google__Protobuf__EnumValueDescriptorProto values[FZ_MAX_VALUES], *value_ptrs[FZ_MAX_VALUES];
    char type_names[FZ_MAX_MSGS + 1][64];
} fuzz_schema_build;

/* Names a fuzzed message or field may get: ordinary ones, ones whose
 * lowerCamelCase collides, and the well-known types' own. */
static const char *const FZ_FIELD_NAMES[] = {
    "a", "b", "a_b", "aB", "value", "key", "values", "fields", "seconds", "nanos",
    "paths", "type_url", "kind", "x_1", "null_value", "list_value",
};
static const char *const FZ_WKT_NAMES[] = {
    "Value", "Struct", "ListValue", "Any", "Timestamp", "Duration", "FieldMask",
    "Int64Value", "StringValue", "BytesValue", "DoubleValue", "BoolValue", "Empty", "NullValue",
};
static const int32_t FZ_NUMBERS[] = {1, 2, 3, 4, 5, 6, 15, 16, 2047, 2048, 536870911, 19000,
                                     0, -1, 100, 7};

/*
 * Builds a schema from the input's next bytes: its messages are fz.M0.. (or
 * google.protobuf.NAME for well-known names), one enum, up to 4 messages of
 * up to 8 fields.  Layout (tests/fuzz/make_corpus.py writes it too):
 *   head: bits 0-1 messages - 1, bit 2 proto2, bit 3 package google.protobuf
 *   enum: values - 1 (mod 4), then each value's number (int8)
 *   per message: a name byte (bits 4-7 pick a well-known name)
 *   per message: flags (bit 0 map entry, bits 1-4 fields (mod 9), bit 6
 *   two oneofs), then per field: type (bits 0-4: type - 1 mod 18, bits 5-7:
 *   which message it refers to), label (bit 0 repeated, bits 1-2 packed
 *   unset/true/false, bit 3 in a oneof, bit 4 which, bit 5 proto3
 *   optional, bit 6 json_name), number (bit 7: from FZ_NUMBERS, else the
 *   value), name (bits 0-3 name, 4-7 json_name)
 *   last: which message to return.  Returns the schema (free with gw_schema_free) and its
 * message *pick, or NULL when the gateway refuses the set -- which it may:
 * only a crash is a finding.
 */
static inline gw_schema *fuzz_random_schema(fuzz_in *in, const gw_message **pick)
{
    static fuzz_schema_build b; /* large; one input at a time */
    memset(&b, 0, sizeof(b));
    uint8_t head = fuzz_byte(in);
    size_t n_msgs = 1 + (head & 3);
    int proto3 = !(head & 4);
    int wkt_package = (head & 8) != 0;
    const char *package = wkt_package ? "google.protobuf" : "fz";

    google__protobuf__enum_descriptor_proto__init(&b.enm);
    size_t n_values = 1 + (fuzz_byte(in) % FZ_MAX_VALUES);
    static char value_names[FZ_MAX_VALUES][8];
    for (size_t i = 0; i < n_values; i++) {
        google__protobuf__enum_value_descriptor_proto__init(&b.values[i]);
        snprintf(value_names[i], sizeof(value_names[i]), "V%zu", i);
        b.values[i].name = value_names[i];
        b.values[i].has_number = 1;
        b.values[i].number = (int8_t)fuzz_byte(in);
        b.value_ptrs[i] = &b.values[i];
    }
    b.enm.name = wkt_package ? "NullValue" : "E";
    b.enm.n_value = n_values;
    b.enm.value = b.value_ptrs;
    b.enum_ptrs[0] = &b.enm;
    snprintf(b.type_names[FZ_MAX_MSGS], sizeof(b.type_names[0]), ".%s.%s", package, b.enm.name);

    static char msg_names[FZ_MAX_MSGS][32];
    for (size_t i = 0; i < n_msgs; i++) {
        uint8_t mb = fuzz_byte(in);
        if (wkt_package)
            snprintf(msg_names[i], sizeof(msg_names[i]), "%s",
                     FZ_WKT_NAMES[(mb >> 4) % (sizeof(FZ_WKT_NAMES) / sizeof(FZ_WKT_NAMES[0]))]);
        else
            snprintf(msg_names[i], sizeof(msg_names[i]), "M%zu", i);
        snprintf(b.type_names[i], sizeof(b.type_names[0]), ".%s.%s", package, msg_names[i]);
    }
    for (size_t i = 0; i < n_msgs; i++) {
        Google__Protobuf__DescriptorProto *m = &b.msgs[i];
        google__protobuf__descriptor_proto__init(m);
        m->name = msg_names[i];
        uint8_t flags = fuzz_byte(in);
        if (flags & 1) {
            google__protobuf__message_options__init(&b.msg_opts[i]);
            b.msg_opts[i].has_map_entry = 1;
            b.msg_opts[i].map_entry = 1;
            m->options = &b.msg_opts[i];
        }
        size_t n_fields = ((flags >> 1) & 0x0f) % (FZ_MAX_FIELDS + 1);
        for (size_t j = 0; j < n_fields; j++) {
            FieldProto_ *f = &b.fields[i][j];
            google__protobuf__field_descriptor_proto__init(f);
            uint8_t t = fuzz_byte(in), l = fuzz_byte(in), num = fuzz_byte(in),
                    nm = fuzz_byte(in);
            f->has_type = 1;
            f->type = (Google__Protobuf__FieldDescriptorProto__Type)(1 + (t & 0x1f) % 18);
            f->has_label = 1;
            f->label = l & 1 ? GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED
                             : GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_OPTIONAL;
            f->has_number = 1;
            f->number = num & 0x80 ? FZ_NUMBERS[num & 15] : num & 0x7f;
            f->name = (char *)FZ_FIELD_NAMES[nm % 16];
            if ((l >> 1) & 3) {
                google__protobuf__field_options__init(&b.field_opts[i][j]);
                b.field_opts[i][j].has_packed = 1;
                b.field_opts[i][j].packed = ((l >> 1) & 3) == 1;
                f->options = &b.field_opts[i][j];
            }
            if (l & 8) {
                f->has_oneof_index = 1;
                f->oneof_index = (l >> 4) & 1;
            }
            if (l & 32) {
                f->has_proto3_optional = 1;
                f->proto3_optional = 1;
            }
            if (l & 64)
                f->json_name = (char *)FZ_FIELD_NAMES[(nm >> 4) % 16];
            if (f->type == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM)
                f->type_name = b.type_names[FZ_MAX_MSGS];
            else if (f->type == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE ||
                     f->type == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP)
                f->type_name = b.type_names[(t >> 5) % n_msgs];
            b.field_ptrs[i][j] = f;
        }
        m->n_field = n_fields;
        m->field = b.field_ptrs[i];
        if (flags & 0x40) { /* two oneofs, which fields may name */
            for (int k = 0; k < 2; k++) {
                google__protobuf__oneof_descriptor_proto__init(&b.oneofs[k]);
                b.oneofs[k].name = k ? "o1" : "o0";
                b.oneof_ptrs[k] = &b.oneofs[k];
            }
            m->n_oneof_decl = 2;
            m->oneof_decl = b.oneof_ptrs;
        }
        b.msg_ptrs[i] = m;
    }
    google__protobuf__file_descriptor_proto__init(&b.file);
    b.file.name = "fuzz.proto";
    b.file.package = (char *)package;
    b.file.syntax = proto3 ? "proto3" : "proto2";
    b.file.n_message_type = n_msgs;
    b.file.message_type = b.msg_ptrs;
    b.file.n_enum_type = 1;
    b.file.enum_type = b.enum_ptrs;
    b.files[0] = &b.file;
    google__protobuf__file_descriptor_set__init(&b.set);
    b.set.n_file = 1;
    b.set.file = b.files;

    size_t len = google__protobuf__file_descriptor_set__get_packed_size(&b.set);
    uint8_t *bytes = malloc(len ? len : 1);
    if (!bytes)
        abort();
    google__protobuf__file_descriptor_set__pack(&b.set, bytes);
    char err[512];
    const uint8_t *bufs[] = {bytes};
    gw_schema *s = gw_schema_load_buffers(bufs, &len, 1, "fuzz", err, sizeof(err));
    free(bytes);
    if (!s)
        return NULL;
    *pick = gw_schema_message(s, b.type_names[fuzz_byte(in) % n_msgs] + 1);
    if (!*pick) {
        gw_schema_free(s);
        return NULL;
    }
    return s;
}

/* A message to convert: one of the build's (the first byte even) or one of
 * a random schema (odd); *owned is the random schema to free, or NULL. */
static inline const gw_message *fuzz_pick_message(fuzz_in *in, gw_schema **owned)
{
    uint8_t how = fuzz_byte(in);
    *owned = NULL;
    if (!(how & 1))
        return fuzz_known_message((uint8_t)(how >> 1));
    const gw_message *m = NULL;
    *owned = fuzz_random_schema(in, &m);
    return *owned ? m : NULL;
}

#endif /* FUZZ_COMMON_H */
