/*
 * gw_schema.c -- loads FileDescriptorSets into gw_message / gw_enum /
 * gw_method objects with resolved references and extracted HTTP rules.
 *
 * The unpacked descriptor sets are kept alive for the schema's lifetime:
 * names and rule strings point into them.  Only load time allocates.
 */
#include "gw_schema.h"

#include "gw_buf.h"
#include "gw_names.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/api/http.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "rp_pb_depth.h"
#include "rp_pb_wire.h"
#include "rp_utf8.h"

#define HTTP_RULE_EXTENSION 72295728u /* google.api.http on MethodOptions */
#define FIELD_BEHAVIOR_EXTENSION 1052u /* google.api.field_behavior on FieldOptions */

typedef Google__Protobuf__FileDescriptorProto FileProto;
typedef Google__Protobuf__DescriptorProto MessageProto;
typedef Google__Protobuf__EnumDescriptorProto EnumProto;
typedef Google__Protobuf__FieldDescriptorProto FieldProto;

typedef struct type_entry {
    const char *name; /* full name, no leading dot */
    gw_message *message;
    gw_enum *enumeration;
    const MessageProto *proto;  /* for messages */
    const FileProto *file;
} type_entry;

struct gw_schema {
    Google__Protobuf__FileDescriptorSet **sets;
    size_t n_sets;
    const FileProto **files; /* deduplicated by name */
    size_t n_files;
    size_t cap_files;
    gw_names file_index;     /* positions in files, by name, while loading */
    type_entry *types;       /* sorted by name once loaded */
    size_t n_types;
    size_t cap_types;
    gw_method *methods;      /* allocated once: as many as the files declare */
    size_t n_methods;
    size_t n_bindings;       /* of all methods */
    Google__Api__HttpRule **rules; /* unpacked rules, owned */
    size_t n_rules;
    size_t cap_rules;
    char *err;     /* the loader's caller's buffer, only while loading */
    size_t errlen;
};

static int fail(gw_schema *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(gw_schema *s, const char *fmt, ...)
{
    if (!s->err)
        return -1; /* loaded: nothing reports through fail() any more */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, s->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static char *join_name(const char *prefix, const char *name)
{
    char *out;
    if (!prefix || !*prefix)
        return strdup(name);
    if (asprintf(&out, "%s.%s", prefix, name) < 0)
        return NULL;
    return out;
}

/* ---- pass 1: declare every message and enum -------------------------------- */

static int add_type(gw_schema *s, type_entry entry)
{
    if (s->n_types == s->cap_types) {
        size_t cap = s->cap_types ? s->cap_types * 2 : 64;
        type_entry *grown = realloc(s->types, cap * sizeof(*grown));
        if (!grown)
            return fail(s, "out of memory");
        s->types = grown;
        s->cap_types = cap;
    }
    s->types[s->n_types++] = entry;
    return 0;
}

static int declare_enum(gw_schema *s, const FileProto *file, const char *scope,
                        const EnumProto *ep)
{
    gw_enum *e = calloc(1, sizeof(*e));
    if (!e || !(e->full_name = join_name(scope, ep->name))) {
        free(e);
        return fail(s, "out of memory");
    }
    e->values = calloc(ep->n_value ? ep->n_value : 1, sizeof(*e->values));
    if (!e->values) {
        free(e->full_name);
        free(e);
        return fail(s, "out of memory");
    }
    for (size_t i = 0; i < ep->n_value; i++) {
        e->values[i].name = ep->value[i]->name;
        e->values[i].number = ep->value[i]->number;
    }
    e->n_values = ep->n_value;
    e->null_value = strcmp(e->full_name, "google.protobuf.NullValue") == 0;
    /* proto2's enums are closed; proto3's and editions' (by default) open */
    e->closed = !file->syntax || !*file->syntax || strcmp(file->syntax, "proto2") == 0;
    if (add_type(s, (type_entry){e->full_name, NULL, e, NULL, file}) < 0) {
        free(e->values);
        free(e->full_name);
        free(e);
        return -1;
    }
    return 0;
}

static int declare_message(gw_schema *s, const FileProto *file, const char *scope,
                           const MessageProto *mp)
{
    gw_message *m = calloc(1, sizeof(*m));
    if (!m || !(m->full_name = join_name(scope, mp->name))) {
        free(m);
        return fail(s, "out of memory");
    }
    m->map_entry = mp->options && mp->options->has_map_entry && mp->options->map_entry;
    m->schema = s;
    if (add_type(s, (type_entry){m->full_name, m, NULL, mp, file}) < 0) {
        free(m->full_name);
        free(m);
        return -1;
    }
    for (size_t i = 0; i < mp->n_enum_type; i++)
        if (declare_enum(s, file, m->full_name, mp->enum_type[i]) < 0)
            return -1;
    for (size_t i = 0; i < mp->n_nested_type; i++)
        if (declare_message(s, file, m->full_name, mp->nested_type[i]) < 0)
            return -1;
    return 0;
}

static int compare_types(const void *a, const void *b)
{
    return strcmp(((const type_entry *)a)->name, ((const type_entry *)b)->name);
}

static type_entry *find_type(const gw_schema *s, const char *name)
{
    if (name[0] == '.')
        name++;
    if (!s->n_types) /* types is NULL: bsearch must not get it */
        return NULL;
    type_entry key = {.name = name};
    return bsearch(&key, s->types, s->n_types, sizeof(key), compare_types);
}

/* ---- pass 2: fields -------------------------------------------------------- */

/* lowerCamelCase of a proto field name, as protoc computes json_name. */
static char *camel_case(const char *name)
{
    char *out = malloc(strlen(name) + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    int upper = 0;
    for (const char *p = name; *p; p++) {
        if (*p == '_') {
            upper = 1;
        } else {
            out[n++] = upper && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
            upper = 0;
        }
    }
    out[n] = '\0';
    return out;
}

static int is_packable(int type)
{
    return type != GW_TYPE_STRING && type != GW_TYPE_BYTES && type != GW_TYPE_MESSAGE &&
           type != GW_TYPE_GROUP;
}

static int compare_fields(const void *a, const void *b)
{
    uint32_t x = ((const gw_field *)a)->number, y = ((const gw_field *)b)->number;
    return x < y ? -1 : x > y;
}

/* The GW_BEHAVIOR_* bit of a google.api.FieldBehavior value (0: one the
 * document does not show). */
static uint8_t behavior_bit(uint64_t value)
{
    switch (value) {
    case 2: return GW_BEHAVIOR_REQUIRED;
    case 3: return GW_BEHAVIOR_OUTPUT_ONLY;
    case 4: return GW_BEHAVIOR_INPUT_ONLY;
    case 5: return GW_BEHAVIOR_IMMUTABLE;
    default: return 0;
    }
}

/* protobuf-c keeps google.api.field_behavior among FieldOptions' unknown
 * fields: one varint per value, or packed ones (as a proto3 file declaring
 * it without [packed = false] encodes it).  Malformed values are skipped:
 * the option only describes the field. */
static uint8_t field_behavior(const Google__Protobuf__FieldOptions *opts)
{
    uint8_t bits = 0;
    for (unsigned i = 0; opts && i < opts->base.n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &opts->base.unknown_fields[i];
        if (u->tag != FIELD_BEHAVIOR_EXTENSION)
            continue;
        const uint8_t *p = u->data, *end = u->data + u->len;
        uint64_t v;
        if (u->wire_type == PROTOBUF_C_WIRE_TYPE_VARINT) {
            if (rp_pb_read_varint(&p, end, &v) == 0)
                bits |= behavior_bit(v);
        } else if (u->wire_type == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED &&
                   rp_pb_read_varint(&p, end, &v) == 0 && v == (uint64_t)(end - p)) {
            while (p < end && rp_pb_read_varint(&p, end, &v) == 0)
                bits |= behavior_bit(v);
        }
    }
    return bits;
}

static int fill_field(gw_schema *s, const type_entry *owner, const FieldProto *fp, gw_field *f)
{
    int proto3 = owner->file->syntax && strcmp(owner->file->syntax, "proto3") == 0;
    f->name = fp->name;
    f->json_name = fp->json_name;
    f->number = (uint32_t)fp->number;
    f->type = (uint8_t)fp->type;
    f->repeated = fp->label == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED;
    f->oneof_index = fp->has_oneof_index ? fp->oneof_index : -1;
    f->deprecated = fp->options && fp->options->has_deprecated && fp->options->deprecated;
    f->behavior = field_behavior(fp->options);
    f->presence = !f->repeated && (!proto3 || f->oneof_index >= 0 || fp->proto3_optional ||
                                   f->type == GW_TYPE_MESSAGE || f->type == GW_TYPE_GROUP);
    if (f->repeated && is_packable(f->type)) {
        int explicit_packed = fp->options && fp->options->has_packed;
        f->packed = explicit_packed ? fp->options->packed : proto3;
    }
    if (f->type < GW_TYPE_DOUBLE || f->type > GW_TYPE_SINT64)
        return fail(s, "%s.%s: unknown field type %d", owner->name, fp->name, f->type);
    if (fp->number < 1 || fp->number > 536870911)
        return fail(s, "%s.%s: field number %d is not in 1..536870911", owner->name, fp->name,
                    fp->number);
    if (f->type == GW_TYPE_MESSAGE || f->type == GW_TYPE_GROUP || f->type == GW_TYPE_ENUM) {
        type_entry *t = fp->type_name ? find_type(s, fp->type_name) : NULL;
        if (!t || (f->type == GW_TYPE_ENUM ? !t->enumeration : !t->message))
            return fail(s, "%s.%s: type %s is not in the descriptor set", owner->name,
                        fp->name, fp->type_name ? fp->type_name : "(none)");
        if (t->message && t->message->map_entry &&
            (f->type != GW_TYPE_MESSAGE || !f->repeated))
            return fail(s, "%s.%s: map entry %s is the type of a field that is not a map "
                           "(repeated message)", owner->name, fp->name, t->name);
        f->message = t->message;
        f->enumeration = t->enumeration;
    }
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The by-name index: each field under its json_name and, if different, its
 * proto name.  names[i] and by_name[i] are kept in step. */
static int index_names(gw_message *m)
{
    size_t cap = m->n_fields * 2;
    const char **pairs = calloc(cap ? cap * 2 : 2, sizeof(*pairs));
    if (!pairs)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < m->n_fields; i++) {
        pairs[2 * n] = m->fields[i].json_name;
        pairs[2 * n + 1] = (const char *)&m->fields[i];
        n++;
        if (strcmp(m->fields[i].name, m->fields[i].json_name) != 0) {
            pairs[2 * n] = m->fields[i].name;
            pairs[2 * n + 1] = (const char *)&m->fields[i];
            n++;
        }
    }
    qsort(pairs, n, 2 * sizeof(*pairs), compare_names);
    m->names = malloc((n ? n : 1) * sizeof(*m->names));
    m->by_name = malloc((n ? n : 1) * sizeof(*m->by_name));
    if (!m->names || !m->by_name) {
        free(pairs);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        m->names[i] = pairs[2 * i];
        m->by_name[i] = (const gw_field *)pairs[2 * i + 1];
    }
    m->n_names = n;
    free(pairs);
    return 0;
}

static int fill_message(gw_schema *s, type_entry *t)
{
    gw_message *m = t->message;
    const MessageProto *mp = t->proto;
    m->fields = calloc(mp->n_field ? mp->n_field : 1, sizeof(*m->fields));
    if (!m->fields)
        return fail(s, "out of memory");
    m->n_fields = mp->n_field;
    for (size_t i = 0; i < mp->n_field; i++) {
        gw_field *f = &m->fields[i];
        if (fill_field(s, t, mp->field[i], f) < 0)
            return -1;
        if (!f->json_name) {
            /* protoc always sets json_name; other producers may not. */
            char *camel = camel_case(f->name);
            if (!camel)
                return fail(s, "out of memory");
            mp->field[i]->json_name = camel; /* freed with the descriptor set */
            f->json_name = camel;
        }
    }
    qsort(m->fields, m->n_fields, sizeof(*m->fields), compare_fields);
    /* protoc refuses this; a set from elsewhere may not, and the codec
     * finds a field by its number */
    for (size_t i = 1; i < m->n_fields; i++)
        if (m->fields[i].number == m->fields[i - 1].number)
            return fail(s, "%s: fields %s and %s have the same number %u", t->name,
                        m->fields[i - 1].name, m->fields[i].name, m->fields[i].number);
    if (index_names(m) < 0)
        return fail(s, "out of memory");
    return 0;
}

/* A map entry (the message protoc makes of map<K, V>) must be what protoc
 * makes, for the codec to read it as a map: key = 1 of an integer, bool or
 * string type, value = 2, nothing else.  Returns 0, or -1 with the reason. */
static int check_map_entry(gw_schema *s, const gw_message *m)
{
    const gw_field *k = gw_message_field_by_number(m, 1), *v = gw_message_field_by_number(m, 2);
    int key_ok = k && !k->repeated && k->type != GW_TYPE_DOUBLE && k->type != GW_TYPE_FLOAT &&
                 k->type != GW_TYPE_BYTES && k->type != GW_TYPE_ENUM &&
                 k->type != GW_TYPE_MESSAGE && k->type != GW_TYPE_GROUP;
    if (m->n_fields != 2 || !key_ok || !v || v->repeated)
        return fail(s, "%s: a map entry must have a scalar key = 1 and a value = 2, and nothing "
                       "else", m->full_name);
    return 0;
}

/* ---- well-known types ------------------------------------------------------ */

typedef struct wkt_field {
    uint32_t number; /* 0 ends the list */
    uint8_t type;
    uint8_t repeated;
} wkt_field;

/* The fields each well-known type must have for its JSON form to apply. */
static const struct {
    const char *name;
    uint8_t wkt;
    wkt_field fields[7];
} WELL_KNOWN[] = {
    {"google.protobuf.Any", GW_WKT_ANY, {{1, GW_TYPE_STRING, 0}, {2, GW_TYPE_BYTES, 0}}},
    {"google.protobuf.Timestamp", GW_WKT_TIMESTAMP, {{1, GW_TYPE_INT64, 0}, {2, GW_TYPE_INT32, 0}}},
    {"google.protobuf.Duration", GW_WKT_DURATION, {{1, GW_TYPE_INT64, 0}, {2, GW_TYPE_INT32, 0}}},
    {"google.protobuf.FieldMask", GW_WKT_FIELD_MASK, {{1, GW_TYPE_STRING, 1}}},
    {"google.protobuf.Struct", GW_WKT_STRUCT, {{1, GW_TYPE_MESSAGE, 1}}},
    {"google.protobuf.Value", GW_WKT_VALUE,
     {{1, GW_TYPE_ENUM, 0}, {2, GW_TYPE_DOUBLE, 0}, {3, GW_TYPE_STRING, 0}, {4, GW_TYPE_BOOL, 0},
      {5, GW_TYPE_MESSAGE, 0}, {6, GW_TYPE_MESSAGE, 0}}},
    {"google.protobuf.ListValue", GW_WKT_LIST_VALUE, {{1, GW_TYPE_MESSAGE, 1}}},
    {"google.protobuf.DoubleValue", GW_WKT_WRAPPER, {{1, GW_TYPE_DOUBLE, 0}}},
    {"google.protobuf.FloatValue", GW_WKT_WRAPPER, {{1, GW_TYPE_FLOAT, 0}}},
    {"google.protobuf.Int64Value", GW_WKT_WRAPPER, {{1, GW_TYPE_INT64, 0}}},
    {"google.protobuf.UInt64Value", GW_WKT_WRAPPER, {{1, GW_TYPE_UINT64, 0}}},
    {"google.protobuf.Int32Value", GW_WKT_WRAPPER, {{1, GW_TYPE_INT32, 0}}},
    {"google.protobuf.UInt32Value", GW_WKT_WRAPPER, {{1, GW_TYPE_UINT32, 0}}},
    {"google.protobuf.BoolValue", GW_WKT_WRAPPER, {{1, GW_TYPE_BOOL, 0}}},
    {"google.protobuf.StringValue", GW_WKT_WRAPPER, {{1, GW_TYPE_STRING, 0}}},
    {"google.protobuf.BytesValue", GW_WKT_WRAPPER, {{1, GW_TYPE_BYTES, 0}}},
};

static int has_fields(const gw_message *m, const wkt_field *want)
{
    for (; want->number; want++) {
        const gw_field *f = gw_message_field_by_number(m, want->number);
        if (!f || f->type != want->type || f->repeated != want->repeated)
            return 0;
    }
    return 1;
}

/* Sets m->wkt when m is a well-known type with the expected fields; a
 * look-alike keeps the ordinary mapping. */
static void tag_well_known(gw_message *m)
{
    for (size_t i = 0; i < sizeof(WELL_KNOWN) / sizeof(WELL_KNOWN[0]); i++)
        if (strcmp(m->full_name, WELL_KNOWN[i].name) == 0 && has_fields(m, WELL_KNOWN[i].fields))
            m->wkt = WELL_KNOWN[i].wkt;
}

/* ---- services and HTTP rules ------------------------------------------------ */

static const char *rule_verb(const Google__Api__HttpRule *r, const char **path)
{
    switch (r->pattern_case) {
    case GOOGLE__API__HTTP_RULE__PATTERN_GET: *path = r->get; return "GET";
    case GOOGLE__API__HTTP_RULE__PATTERN_PUT: *path = r->put; return "PUT";
    case GOOGLE__API__HTTP_RULE__PATTERN_POST: *path = r->post; return "POST";
    case GOOGLE__API__HTTP_RULE__PATTERN_DELETE: *path = r->delete_; return "DELETE";
    case GOOGLE__API__HTTP_RULE__PATTERN_PATCH: *path = r->patch; return "PATCH";
    case GOOGLE__API__HTTP_RULE__PATTERN_CUSTOM:
        *path = r->custom ? r->custom->path : NULL;
        return r->custom ? r->custom->kind : NULL;
    default: return NULL;
    }
}

static int add_binding(gw_schema *s, gw_method *m, const Google__Api__HttpRule *r)
{
    const char *path = NULL;
    const char *verb = rule_verb(r, &path);
    if (!verb || !*verb || !path || !*path)
        return fail(s, "%s: google.api.http rule has no verb and path", m->path);
    m->bindings[m->n_bindings++] = (gw_http_binding){verb, path, r->body ? r->body : "",
                                                     r->response_body ? r->response_body : ""};
    return 0;
}

/* A rule's own pattern may be left out when it has additional bindings
 * (grpc-gateway serves those alone); the bindings nest one level only, as
 * http.proto says. */
static int add_rule_bindings(gw_schema *s, gw_method *m, const Google__Api__HttpRule *rule)
{
    int own = rule->pattern_case != GOOGLE__API__HTTP_RULE__PATTERN__NOT_SET ||
              rule->n_additional_bindings == 0;
    size_t more = (size_t)own + rule->n_additional_bindings;
    if (more > GW_SCHEMA_MAX_BINDINGS - s->n_bindings)
        return fail(s, "the API declares more than the %d HTTP bindings (google.api.http "
                       "rules and their additional_bindings) an API may have",
                    GW_SCHEMA_MAX_BINDINGS);
    s->n_bindings += more;
    size_t n = m->n_bindings + more;
    gw_http_binding *grown = realloc(m->bindings, n * sizeof(*grown));
    if (!grown)
        return fail(s, "out of memory");
    m->bindings = grown;
    if (own && add_binding(s, m, rule) < 0)
        return -1;
    for (size_t j = 0; j < rule->n_additional_bindings; j++) {
        const Google__Api__HttpRule *extra = rule->additional_bindings[j];
        if (extra->n_additional_bindings)
            return fail(s, "%s: google.api.http additional_bindings may not have "
                           "additional_bindings of their own",
                        m->path);
        if (add_binding(s, m, extra) < 0)
            return -1;
    }
    return 0;
}

/* protobuf-c keeps the google.api.http extension among MethodOptions'
 * unknown fields, length prefix included. */
static int extract_http_rules(gw_schema *s, gw_method *m,
                              const Google__Protobuf__MethodOptions *opts)
{
    if (!opts)
        return 0;
    for (unsigned i = 0; i < opts->base.n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &opts->base.unknown_fields[i];
        if (u->tag != HTTP_RULE_EXTENSION || u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
            continue;
        const uint8_t *p = u->data, *end = u->data + u->len;
        uint64_t len;
        if (rp_pb_read_varint(&p, end, &len) < 0 || len != (uint64_t)(end - p))
            return fail(s, "%s: malformed google.api.http option", m->path);
        if (!rp_pb_depth_ok(&google__api__http_rule__descriptor, p, len))
            return fail(s, "%s: google.api.http option nested more than %d deep", m->path,
                        RP_PB_MAX_DEPTH);
        Google__Api__HttpRule *rule = google__api__http_rule__unpack(NULL, len, p);
        if (!rule)
            return fail(s, "%s: malformed google.api.http option", m->path);
        if (s->n_rules == s->cap_rules) {
            size_t cap = s->cap_rules ? s->cap_rules * 2 : 16;
            Google__Api__HttpRule **grown = realloc(s->rules, cap * sizeof(*grown));
            if (!grown) {
                google__api__http_rule__free_unpacked(rule, NULL);
                return fail(s, "out of memory");
            }
            s->rules = grown;
            s->cap_rules = cap;
        }
        s->rules[s->n_rules++] = rule;
        if (add_rule_bindings(s, m, rule) < 0)
            return -1;
    }
    return 0;
}

static int add_method(gw_schema *s, const FileProto *file,
                      const Google__Protobuf__ServiceDescriptorProto *svc,
                      const Google__Protobuf__MethodDescriptorProto *md)
{
    gw_method *m = &s->methods[s->n_methods]; /* zeroed: see alloc_methods */
    const char *pkg = file->package ? file->package : "";
    if (asprintf(&m->path, "/%s%s%s/%s", pkg, *pkg ? "." : "", svc->name, md->name) < 0)
        return fail(s, "out of memory");
    s->n_methods++;
    type_entry *in = md->input_type ? find_type(s, md->input_type) : NULL;
    type_entry *out = md->output_type ? find_type(s, md->output_type) : NULL;
    if (!in || !in->message || !out || !out->message)
        return fail(s, "%s: input or output type is not in the descriptor set", m->path);
    m->input = in->message;
    m->output = out->message;
    m->client_streaming = md->has_client_streaming && md->client_streaming;
    m->server_streaming = md->has_server_streaming && md->server_streaming;
    m->deprecated = md->options && md->options->has_deprecated && md->options->deprecated;
    return extract_http_rules(s, m, md->options);
}

/* ---- comments (SourceCodeInfo) ---------------------------------------------- */

typedef Google__Protobuf__SourceCodeInfo__Location Location;

/* Field numbers of the descriptor messages, as they appear in a
 * SourceCodeInfo location's path. */
enum {
    PATH_FILE_MESSAGE = 4, PATH_FILE_ENUM = 5, PATH_FILE_SERVICE = 6,
    PATH_MESSAGE_FIELD = 2, PATH_MESSAGE_NESTED = 3, PATH_MESSAGE_ENUM = 4,
    PATH_ENUM_VALUE = 2, PATH_SERVICE_METHOD = 2,
    MAX_DOC_DEPTH = 64 /* nesting deeper than this gets no comments */
};

/* One file's locations, sorted by path, and the path being walked. */
typedef struct doc_walk {
    const Location **locs;
    size_t n_locs;
    int32_t path[MAX_DOC_DEPTH * 2 + 4];
    size_t depth;
} doc_walk;

static int compare_paths(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    for (size_t i = 0; i < na && i < nb; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return na < nb ? -1 : na > nb;
}

static int compare_locations(const void *a, const void *b)
{
    const Location *x = *(const Location *const *)a, *y = *(const Location *const *)b;
    return compare_paths(x->path, x->n_path, y->path, y->n_path);
}

/* The comment of the element at w->path extended by (kind, index): leading,
 * else trailing, else NULL. */
static const char *doc_at(doc_walk *w, int32_t kind, size_t index)
{
    if (w->depth + 2 > sizeof(w->path) / sizeof(w->path[0]) || index > INT32_MAX)
        return NULL;
    w->path[w->depth] = kind;
    w->path[w->depth + 1] = (int32_t)index;
    size_t n = w->depth + 2, lo = 0, hi = w->n_locs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const Location *l = w->locs[mid];
        int c = compare_paths(l->path, l->n_path, w->path, n);
        if (c == 0) {
            const char *doc = l->leading_comments && *l->leading_comments
                                  ? l->leading_comments : l->trailing_comments;
            return doc && *doc ? doc : NULL;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void doc_enum(gw_schema *s, doc_walk *w, const char *scope, const EnumProto *ep,
                     int32_t kind, size_t index)
{
    char *name = join_name(scope, ep->name);
    type_entry *t = name ? find_type(s, name) : NULL;
    free(name);
    if (!t || !t->enumeration)
        return;
    t->enumeration->doc = doc_at(w, kind, index);
    w->depth += 2;
    for (size_t i = 0; i < ep->n_value && i < t->enumeration->n_values; i++)
        t->enumeration->values[i].doc = doc_at(w, PATH_ENUM_VALUE, i);
    w->depth -= 2;
}

static void doc_message(gw_schema *s, doc_walk *w, const char *scope, const MessageProto *mp,
                        int32_t kind, size_t index)
{
    char *name = join_name(scope, mp->name);
    type_entry *t = name ? find_type(s, name) : NULL;
    if (!t || !t->message || w->depth / 2 >= MAX_DOC_DEPTH) {
        free(name);
        return;
    }
    gw_message *m = t->message;
    m->doc = doc_at(w, kind, index);
    w->depth += 2;
    for (size_t i = 0; i < mp->n_field; i++) {
        gw_field *f = (gw_field *)gw_message_field_by_number(m, (uint32_t)mp->field[i]->number);
        if (f)
            f->doc = doc_at(w, PATH_MESSAGE_FIELD, i);
    }
    for (size_t i = 0; i < mp->n_enum_type; i++)
        doc_enum(s, w, name, mp->enum_type[i], PATH_MESSAGE_ENUM, i);
    for (size_t i = 0; i < mp->n_nested_type; i++)
        doc_message(s, w, name, mp->nested_type[i], PATH_MESSAGE_NESTED, i);
    w->depth -= 2;
    free(name);
}

/* Gives every element of file f its comment; *method is the index in
 * s->methods of the file's first method (they were added in file order). */
static void doc_file(gw_schema *s, const FileProto *f, size_t *method)
{
    size_t n_methods = 0;
    for (size_t i = 0; i < f->n_service; i++)
        n_methods += f->service[i]->n_method;
    const Google__Protobuf__SourceCodeInfo *info = f->source_code_info;
    doc_walk w = {0};
    if (info && info->n_location)
        w.locs = malloc(info->n_location * sizeof(*w.locs));
    if (!w.locs) { /* no source info (or no memory for it): no comments */
        *method += n_methods;
        return;
    }
    for (size_t i = 0; i < info->n_location; i++)
        w.locs[w.n_locs++] = info->location[i];
    qsort(w.locs, w.n_locs, sizeof(*w.locs), compare_locations);
    for (size_t i = 0; i < f->n_enum_type; i++)
        doc_enum(s, &w, f->package, f->enum_type[i], PATH_FILE_ENUM, i);
    for (size_t i = 0; i < f->n_message_type; i++)
        doc_message(s, &w, f->package, f->message_type[i], PATH_FILE_MESSAGE, i);
    for (size_t i = 0; i < f->n_service; i++) {
        const char *service_doc = doc_at(&w, PATH_FILE_SERVICE, i);
        w.path[0] = PATH_FILE_SERVICE;
        w.path[1] = (int32_t)i;
        w.depth = 2;
        for (size_t j = 0; j < f->service[i]->n_method && *method < s->n_methods; j++) {
            s->methods[*method].doc = doc_at(&w, PATH_SERVICE_METHOD, j);
            s->methods[*method].service_doc = service_doc;
            ++*method;
        }
        w.depth = 0;
    }
    free(w.locs);
}

/* ---- loading ---------------------------------------------------------------- */

/* The length of the protobuf identifier at name (a letter or '_', then
 * letters, digits and '_', as protoc accepts), 0 if none starts there. */
static size_t identifier_len(const char *name)
{
    if (!(isalpha((unsigned char)*name) || *name == '_') || (unsigned char)*name > 0x7f)
        return 0;
    size_t n = 1;
    while ((isalnum((unsigned char)name[n]) || name[n] == '_') && (unsigned char)name[n] <= 0x7f)
        n++;
    return n;
}

/* 1 if name is a protobuf identifier.  Whatever made a descriptor set (a
 * reflection answer above all) may put anything there, and names reach
 * logs, metric labels, documents and JSON. */
static int is_identifier(const char *name)
{
    size_t n = name ? identifier_len(name) : 0;
    return n > 0 && name[n] == '\0';
}

/* 1 if name is empty or identifiers joined by single dots (a package). */
static int is_package_name(const char *name)
{
    if (!name || !*name)
        return 1;
    for (const char *p = name;; p++) {
        size_t n = identifier_len(p);
        if (n == 0)
            return 0;
        p += n;
        if (*p == '\0')
            return 1;
        if (*p != '.')
            return 0;
    }
}

/* 1 if text is UTF-8 with no control characters (a file name, a json_name). */
static int is_clean_text(const char *text)
{
    if (!text)
        return 0;
    for (const char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
    return rp_utf8_valid((const uint8_t *)text, strlen(text));
}

static const char *misnamed_in_enum(const EnumProto *ep)
{
    if (!is_identifier(ep->name))
        return "an enum's name";
    for (size_t j = 0; j < ep->n_value; j++)
        if (!is_identifier(ep->value[j]->name))
            return "an enum value's name";
    return NULL;
}

/* The first name in a message (and its nested types) that is missing or
 * not an identifier, or a json_name that is not clean text, as "a field's
 * name", or NULL. */
static const char *misnamed_in_message(const MessageProto *mp)
{
    if (!is_identifier(mp->name))
        return "a message's name";
    for (size_t i = 0; i < mp->n_field; i++) {
        if (!is_identifier(mp->field[i]->name))
            return "a field's name";
        if (mp->field[i]->json_name && !is_clean_text(mp->field[i]->json_name))
            return "a field's json_name";
    }
    for (size_t i = 0; i < mp->n_oneof_decl; i++)
        if (!is_identifier(mp->oneof_decl[i]->name))
            return "a oneof's name";
    for (size_t i = 0; i < mp->n_enum_type; i++) {
        const char *what = misnamed_in_enum(mp->enum_type[i]);
        if (what)
            return what;
    }
    for (size_t i = 0; i < mp->n_nested_type; i++) {
        const char *what = misnamed_in_message(mp->nested_type[i]);
        if (what)
            return what;
    }
    return NULL;
}

static const char *misnamed_in_file(const FileProto *f)
{
    if (!is_package_name(f->package))
        return "the package's name";
    for (size_t i = 0; i < f->n_message_type; i++) {
        const char *what = misnamed_in_message(f->message_type[i]);
        if (what)
            return what;
    }
    for (size_t i = 0; i < f->n_enum_type; i++) {
        const char *what = misnamed_in_enum(f->enum_type[i]);
        if (what)
            return what;
    }
    for (size_t i = 0; i < f->n_service; i++) {
        if (!is_identifier(f->service[i]->name))
            return "a service's name";
        for (size_t j = 0; j < f->service[i]->n_method; j++)
            if (!is_identifier(f->service[i]->method[j]->name))
                return "a method's name";
    }
    return NULL;
}

static int add_set(gw_schema *s, const uint8_t *data, size_t len, const char *origin)
{
    if (!rp_pb_depth_ok(&google__protobuf__file_descriptor_set__descriptor, data, len))
        return fail(s, "%s: messages nested more than %d deep", origin, RP_PB_MAX_DEPTH);
    Google__Protobuf__FileDescriptorSet *set =
        google__protobuf__file_descriptor_set__unpack(NULL, len, data);
    if (!set)
        return fail(s, "%s: not a FileDescriptorSet (make it with protoc "
                       "--include_imports --descriptor_set_out)", origin);
    Google__Protobuf__FileDescriptorSet **grown =
        realloc(s->sets, (s->n_sets + 1) * sizeof(*grown));
    if (!grown) {
        google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
        return fail(s, "out of memory");
    }
    s->sets = grown;
    s->sets[s->n_sets++] = set;
    for (size_t i = 0; i < set->n_file; i++) {
        const FileProto *f = set->file[i];
        if (!is_clean_text(f->name))
            return fail(s, "%s: a file %s", origin,
                        f->name ? "whose name is not UTF-8 text without control characters"
                                : "without a name");
        const char *misnamed = misnamed_in_file(f);
        if (misnamed)
            return fail(s, "%s: %s in %s is missing or not valid (a name is a letter or '_', "
                           "then letters, digits and '_'; a json_name is UTF-8 text without "
                           "control characters)",
                        origin, misnamed, f->name);
        if (gw_names_find(&s->file_index, f->name) != GW_NAMES_NONE)
            continue;
        if (s->n_files == s->cap_files) {
            size_t cap = s->cap_files ? s->cap_files * 2 : 16;
            const FileProto **files = realloc(s->files, cap * sizeof(*files));
            if (!files)
                return fail(s, "out of memory");
            s->files = files;
            s->cap_files = cap;
        }
        if (gw_names_add(&s->file_index, f->name, s->n_files) < 0)
            return fail(s, "out of memory");
        s->files[s->n_files++] = f;
    }
    return 0;
}

/* Allocates s->methods for every method of the files, once the API is
 * known not to declare more services and methods than it may. */
static int alloc_methods(gw_schema *s)
{
    size_t n_services = 0, n_methods = 0;
    for (size_t i = 0; i < s->n_files; i++) {
        const FileProto *f = s->files[i];
        n_services += f->n_service;
        for (size_t j = 0; j < f->n_service; j++)
            n_methods += f->service[j]->n_method;
    }
    if (n_services > GW_SCHEMA_MAX_SERVICES)
        return fail(s, "the API declares %zu services, more than the %d an API may have",
                    n_services, GW_SCHEMA_MAX_SERVICES);
    if (n_methods > GW_SCHEMA_MAX_METHODS)
        return fail(s, "the API declares %zu methods, more than the %d an API may have",
                    n_methods, GW_SCHEMA_MAX_METHODS);
    if (!(s->methods = calloc(n_methods ? n_methods : 1, sizeof(*s->methods))))
        return fail(s, "out of memory");
    return 0;
}

static int build(gw_schema *s)
{
    if (alloc_methods(s) < 0)
        return -1;
    for (size_t i = 0; i < s->n_files; i++) {
        const FileProto *f = s->files[i];
        for (size_t j = 0; j < f->n_enum_type; j++)
            if (declare_enum(s, f, f->package, f->enum_type[j]) < 0)
                return -1;
        for (size_t j = 0; j < f->n_message_type; j++)
            if (declare_message(s, f, f->package, f->message_type[j]) < 0)
                return -1;
    }
    if (s->n_types) /* types is NULL for none, which qsort must not get */
        qsort(s->types, s->n_types, sizeof(*s->types), compare_types);
    for (size_t i = 1; i < s->n_types; i++)
        if (strcmp(s->types[i - 1].name, s->types[i].name) == 0)
            return fail(s, "type %s is defined twice (in %s and in %s)", s->types[i].name,
                        s->types[i - 1].file->name ? s->types[i - 1].file->name : "?",
                        s->types[i].file->name ? s->types[i].file->name : "?");
    for (size_t i = 0; i < s->n_types; i++)
        if (s->types[i].message && fill_message(s, &s->types[i]) < 0)
            return -1;
    for (size_t i = 0; i < s->n_types; i++)
        if (s->types[i].message && s->types[i].message->map_entry &&
            check_map_entry(s, s->types[i].message) < 0)
            return -1;
    for (size_t i = 0; i < s->n_types; i++)
        if (s->types[i].message)
            tag_well_known(s->types[i].message);
    for (size_t i = 0; i < s->n_files; i++) {
        const FileProto *f = s->files[i];
        for (size_t j = 0; j < f->n_service; j++)
            for (size_t k = 0; k < f->service[j]->n_method; k++)
                if (add_method(s, f, f->service[j], f->service[j]->method[k]) < 0)
                    return -1;
    }
    for (size_t i = 0, method = 0; i < s->n_files; i++)
        doc_file(s, s->files[i], &method);
    return 0;
}

/* Builds the indexes of a schema whose sets are all added, and forgets the
 * caller's error buffer.  Frees s and returns NULL on failure. */
static gw_schema *finish_load(gw_schema *s)
{
    if (build(s) < 0) {
        gw_schema_free(s);
        return NULL;
    }
    s->err = NULL;
    s->errlen = 0;
    gw_names_free(&s->file_index);
    return s;
}

gw_schema *gw_schema_load_buffers(const uint8_t *const *bufs, const size_t *lens, size_t n,
                                  const char *origin, char *err, size_t errlen)
{
    gw_schema *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->err = err;
    s->errlen = errlen;
    for (size_t i = 0; i < n; i++) {
        if (add_set(s, bufs[i], lens[i], origin) < 0) {
            gw_schema_free(s);
            return NULL;
        }
    }
    return finish_load(s);
}

gw_schema *gw_schema_load(const char *const *paths, size_t n, char *err, size_t errlen)
{
    gw_schema *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->err = err;
    s->errlen = errlen;
    for (size_t i = 0; i < n; i++) {
        gw_buf data = GW_BUF_INIT;
        if (gw_buf_read_file(&data, paths[i]) < 0) {
            fail(s, "%s: %s", paths[i], strerror(errno));
            gw_buf_free(&data);
            gw_schema_free(s);
            return NULL;
        }
        int rc = add_set(s, data.data ? data.data : (const uint8_t *)"", data.len, paths[i]);
        gw_buf_free(&data); /* protobuf-c copied what it keeps */
        if (rc < 0) {
            gw_schema_free(s);
            return NULL;
        }
    }
    return finish_load(s);
}

void gw_schema_free(gw_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_types; i++) {
        type_entry *t = &s->types[i];
        if (t->message) {
            free(t->message->fields);
            free(t->message->by_name);
            free(t->message->names);
            free(t->message->full_name);
            free(t->message);
        } else {
            free(t->enumeration->values);
            free(t->enumeration->full_name);
            free(t->enumeration);
        }
    }
    free(s->types);
    for (size_t i = 0; i < s->n_methods; i++) {
        free(s->methods[i].path);
        free(s->methods[i].bindings);
    }
    free(s->methods);
    for (size_t i = 0; i < s->n_rules; i++)
        google__api__http_rule__free_unpacked(s->rules[i], NULL);
    free(s->rules);
    /* json_name strings computed by fill_message were malloc'd into the
     * descriptors; protobuf-c frees every string field with free(). */
    for (size_t i = 0; i < s->n_sets; i++)
        google__protobuf__file_descriptor_set__free_unpacked(s->sets[i], NULL);
    free(s->sets);
    free(s->files);
    gw_names_free(&s->file_index);
    free(s);
}

const gw_method *gw_schema_methods(const gw_schema *s, size_t *n)
{
    *n = s->n_methods;
    return s->methods;
}

const gw_message *gw_schema_message(const gw_schema *s, const char *full_name)
{
    type_entry *t = find_type(s, full_name);
    return t ? t->message : NULL;
}

int gw_field_takes_text(const gw_field *f)
{
    if (f->type != GW_TYPE_MESSAGE && f->type != GW_TYPE_GROUP)
        return 1;
    int wkt = f->message ? f->message->wkt : GW_WKT_NONE;
    return wkt == GW_WKT_WRAPPER || wkt == GW_WKT_TIMESTAMP || wkt == GW_WKT_DURATION ||
           wkt == GW_WKT_FIELD_MASK;
}

const gw_field *gw_message_field_by_number(const gw_message *m, uint32_t number)
{
    size_t lo = 0, hi = m->n_fields;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->fields[mid].number == number)
            return &m->fields[mid];
        if (m->fields[mid].number < number)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const gw_field *gw_message_field_by_name(const gw_message *m, const char *name, size_t len)
{
    size_t lo = 0, hi = m->n_names;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strncmp(m->names[mid], name, len);
        if (c == 0 && m->names[mid][len] != '\0')
            c = 1; /* the stored name is longer */
        if (c == 0)
            return m->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const gw_enum_value *gw_enum_by_name(const gw_enum *e, const char *name)
{
    for (size_t i = 0; i < e->n_values; i++)
        if (strcmp(e->values[i].name, name) == 0)
            return &e->values[i];
    return NULL;
}

const gw_enum_value *gw_enum_by_number(const gw_enum *e, int32_t number)
{
    for (size_t i = 0; i < e->n_values; i++)
        if (e->values[i].number == number)
            return &e->values[i];
    return NULL;
}
