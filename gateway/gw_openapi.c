/*
 * gw_openapi.c -- builds the OpenAPI 3.0 document of an API generation
 * (jansson tree, then text) and keeps it with the generation.
 *
 * Every message the routes use becomes one schema under
 * components/schemas, named by its full proto name, and fields refer to it
 * with $ref: a recursive message is a component that refers to itself, so
 * nothing is expanded inline and nothing recurses on the schema.  Only the
 * query parameters walk into nested messages, bounded in depth and count.
 */
#include "gw_openapi.h"

#include "gw_bind.h"
#include "rp_log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERROR_SCHEMA "google.rpc.Status" /* the error body's shape, whatever the API */
#define MAX_QUERY_DEPTH 8    /* nested messages a query parameter goes through */
#define MAX_QUERY_PARAMS 256 /* per operation */
#define MAX_QUERY_VISITS 4096 /* fields looked at for one operation's query parameters */
#define MAX_NAME 512         /* component and parameter names longer are cut */
#define MAX_SUMMARY 240      /* bytes of an operation's summary */

typedef struct oa_ctx {
    const gw_openapi_options *opt;
    json_t *schemas;           /* components/schemas: also the set of messages seen */
    json_t *shapes;            /* path_shape() of each path written -> that path */
    const gw_message **todo;   /* messages referred to and not yet described */
    size_t n_todo, cap_todo;
    int oom;
} oa_ctx;

/* ---- small helpers ------------------------------------------------------------ */

/* Sets obj[key] = v (a new reference); a NULL v (bad UTF-8 in a hostile
 * descriptor) leaves the key out. */
static void put(json_t *obj, const char *key, json_t *v)
{
    if (v)
        json_object_set_new(obj, key, v);
}

static void put_str(json_t *obj, const char *key, const char *s)
{
    if (s)
        put(obj, key, json_string(s));
}

/* A .proto comment as a description: one leading space per line dropped
 * (protoc keeps what follows "//"), trailing blank space dropped.  Returns
 * a new string (caller frees) or NULL. */
static char *clean_doc(const char *doc)
{
    if (!doc)
        return NULL;
    size_t len = strlen(doc);
    char *out = malloc(len + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = doc; *p;) {
        if (*p == ' ')
            p++;
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
        memcpy(o, p, n);
        o += n;
        p += n;
    }
    while (o > out && (o[-1] == '\n' || o[-1] == ' ' || o[-1] == '\t' || o[-1] == '\r'))
        o--;
    *o = '\0';
    if (!*out) {
        free(out);
        return NULL;
    }
    return out;
}

static void put_doc(json_t *obj, const char *key, const char *doc)
{
    char *text = clean_doc(doc);
    put_str(obj, key, text);
    free(text);
}

/* A component name: the full name, with any byte OpenAPI does not allow in
 * one ([A-Za-z0-9._-]) made '_'. */
static void component_name(const char *full_name, char *out, size_t outlen)
{
    size_t n = 0;
    for (const char *p = full_name; *p && n + 1 < outlen; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        out[n++] = ok ? c : '_';
    }
    out[n] = '\0';
    if (!n)
        snprintf(out, outlen, "_");
}

static json_t *ref_to(const char *name)
{
    char ref[MAX_NAME + 32];
    snprintf(ref, sizeof(ref), "#/components/schemas/%s", name);
    return json_pack("{s:s}", "$ref", ref);
}

/* A $ref to message m's component, queued to be described. */
static json_t *message_ref(oa_ctx *c, const gw_message *m)
{
    char name[MAX_NAME];
    component_name(m->full_name, name, sizeof(name));
    if (!json_object_get(c->schemas, name)) {
        if (c->n_todo == c->cap_todo) {
            size_t cap = c->cap_todo ? c->cap_todo * 2 : 32;
            const gw_message **grown = realloc(c->todo, cap * sizeof(*grown));
            if (!grown) {
                c->oom = 1;
                return NULL;
            }
            c->todo = grown;
            c->cap_todo = cap;
        }
        if (json_object_set_new(c->schemas, name, json_object()) < 0) {
            c->oom = 1;
            return NULL;
        }
        c->todo[c->n_todo++] = m;
    }
    return ref_to(name);
}

static json_t *enum_ref(oa_ctx *c, const gw_enum *e)
{
    char name[MAX_NAME];
    component_name(e->full_name, name, sizeof(name));
    if (!json_object_get(c->schemas, name)) {
        json_t *s = json_object(), *values = json_array();
        put_str(s, "type", "string");
        for (size_t i = 0; i < e->n_values; i++)
            json_array_append_new(values, json_string(e->values[i].name));
        if (json_array_size(values))
            put(s, "enum", values);
        else
            json_decref(values);
        /* the description: the enum's comment, then each commented value */
        gw_buf text = GW_BUF_INIT;
        char *doc = clean_doc(e->doc);
        if (doc)
            gw_buf_puts(&text, doc);
        free(doc);
        for (size_t i = 0; i < e->n_values; i++) {
            char *vdoc = clean_doc(e->values[i].doc);
            if (vdoc)
                gw_buf_printf(&text, "%s- %s: %s", text.len ? "\n" : "", e->values[i].name,
                              vdoc);
            free(vdoc);
        }
        if (text.len) {
            gw_buf_putc(&text, '\0');
            if (!text.oom)
                put_str(s, "description", (const char *)text.data);
        }
        gw_buf_free(&text);
        if (json_object_set_new(c->schemas, name, s) < 0)
            c->oom = 1;
    }
    return ref_to(name);
}

/* ---- schemas ------------------------------------------------------------------- */

/* The schema of one value of field f by its type alone, as a path or
 * query parameter takes it (not the array of a repeated field, not the
 * object of a map): a number for a double, a string enum for an enum. */
static json_t *plain_schema(oa_ctx *c, const gw_field *f)
{
    switch (f->type) {
    case GW_TYPE_DOUBLE: return json_pack("{s:s,s:s}", "type", "number", "format", "double");
    case GW_TYPE_FLOAT: return json_pack("{s:s,s:s}", "type", "number", "format", "float");
    case GW_TYPE_INT32:
    case GW_TYPE_SINT32:
    case GW_TYPE_SFIXED32: return json_pack("{s:s,s:s}", "type", "integer", "format", "int32");
    case GW_TYPE_UINT32:
    case GW_TYPE_FIXED32:
        return json_pack("{s:s,s:s,s:i,s:I}", "type", "integer", "format", "int64", "minimum", 0,
                         "maximum", (json_int_t)4294967295u);
    case GW_TYPE_INT64:
    case GW_TYPE_SINT64:
    case GW_TYPE_SFIXED64: return json_pack("{s:s,s:s}", "type", "string", "format", "int64");
    case GW_TYPE_UINT64:
    case GW_TYPE_FIXED64: return json_pack("{s:s,s:s}", "type", "string", "format", "uint64");
    case GW_TYPE_BOOL: return json_pack("{s:s}", "type", "boolean");
    case GW_TYPE_STRING: return json_pack("{s:s}", "type", "string");
    case GW_TYPE_BYTES: return json_pack("{s:s,s:s}", "type", "string", "format", "byte");
    case GW_TYPE_ENUM:
        if (f->enumeration->null_value) /* a parameter's text: its one name */
            return json_pack("{s:s,s:[s]}", "type", "string", "enum", "NULL_VALUE");
        return enum_ref(c, f->enumeration);
    default: return message_ref(c, f->message);
    }
}

/* The JSON schema of one value of field f in a body or a reply: its
 * plain_schema, and also what proto3 JSON writes besides: "NaN",
 * "Infinity" and "-Infinity" for a double or float, and an integer for a
 * number an open (proto3) enum does not declare, which the gateway prints
 * as such (an upstream built from a newer .proto), or any enum's number
 * with json_enum_numbers.  A NullValue is null
 * alone: OpenAPI 3.0 says so with a type made nullable and an enum of
 * null. */
static json_t *value_schema(oa_ctx *c, const gw_field *f)
{
    if (f->type == GW_TYPE_ENUM && f->enumeration->null_value) /* JSON null and nothing else */
        return json_pack("{s:s,s:b,s:[n],s:s}", "type", "string", "nullable", 1, "enum",
                         "description", "null (google.protobuf.NullValue)");
    json_t *plain = plain_schema(c, f);
    if (f->type == GW_TYPE_DOUBLE || f->type == GW_TYPE_FLOAT)
        return json_pack("{s:[o,{s:s,s:[s,s,s]}]}", "oneOf", plain, "type", "string", "enum",
                         "NaN", "Infinity", "-Infinity");
    if (f->type == GW_TYPE_ENUM && (!f->enumeration->closed || c->opt->enum_numbers))
        return json_pack("{s:[o,{s:s,s:s}]}", "anyOf", plain, "type", "integer", "format",
                         "int32");
    return plain;
}

/* s taking null too: nullable beside its type, which OpenAPI 3.0 requires,
 * so for a oneOf (a double's) on its first alternative, the number. */
static json_t *nullable(json_t *s)
{
    json_t *first = json_array_get(json_object_get(s, "oneOf"), 0);
    put(first ? first : s, "nullable", json_true());
    return s;
}

/* The ranges of a Timestamp's and a Duration's fields that their JSON
 * forms can say (gw_wkt.c holds requests and replies to them). */
#define TIMESTAMP_MIN_SECONDS (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define TIMESTAMP_MAX_SECONDS 253402300799LL   /* 9999-12-31T23:59:59Z */
#define DURATION_MAX_SECONDS 315576000000LL    /* 10000 years */
#define MAX_NANOS 999999999

static json_t *integer_range(const char *format, json_int_t min, json_int_t max,
                             const char *description)
{
    return json_pack("{s:s,s:s,s:I,s:I,s:s}", "type", "integer", "format", format, "minimum",
                     min, "maximum", max, "description", description);
}

/* The schema of one value of field f of well-known type m where a request
 * is taken as the type's fields (gw_bind_by_fields): what of f's type the
 * type's JSON form allows, to which gw_bind_encode holds such a request;
 * NULL where the field's type says it all. */
static json_t *own_field_schema(const gw_message *m, const gw_field *f)
{
    int first = f->number == 1;
    switch (m->wkt) {
    case GW_WKT_TIMESTAMP:
        return first ? integer_range("int64", TIMESTAMP_MIN_SECONDS, TIMESTAMP_MAX_SECONDS,
                                     "seconds since 1970-01-01T00:00:00Z, from 0001-01-01 "
                                     "to 9999-12-31")
                     : integer_range("int32", 0, MAX_NANOS, "nanoseconds after the second");
    case GW_WKT_DURATION:
        return first ? integer_range("int64", -DURATION_MAX_SECONDS, DURATION_MAX_SECONDS,
                                     "seconds, at most 10000 years either way")
                     : integer_range("int32", -MAX_NANOS, MAX_NANOS,
                                     "nanoseconds more, of the sign of seconds");
    case GW_WKT_FIELD_MASK:
        return json_pack("{s:s,s:s}", "type", "string", "description",
                         "one of the mask's field paths: proto field names separated by "
                         "dots (author.display_name)");
    case GW_WKT_ANY:
        return first ? json_pack("{s:s,s:s}", "type", "string", "description",
                                 "type.googleapis.com/ and the full name of a message the "
                                 "API declares")
                     : json_pack("{s:s,s:s,s:s}", "type", "string", "format", "byte",
                                 "description", "that message's protobuf encoding");
    default: return NULL;
    }
}

/* The schema of field f as it appears in its message's JSON: arrays for
 * repeated fields, objects for maps. */
static json_t *field_schema(oa_ctx *c, const gw_field *f)
{
    if (f->repeated && f->message && f->message->map_entry) {
        const gw_field *key = gw_message_field_by_number(f->message, 1);
        const gw_field *value = gw_message_field_by_number(f->message, 2);
        json_t *s = json_pack("{s:s}", "type", "object");
        put(s, "additionalProperties", value ? value_schema(c, value) : json_object());
        if (key && key->type != GW_TYPE_STRING)
            put_str(s, "x-map-key-type", key->type == GW_TYPE_BOOL ? "boolean" : "integer");
        return s;
    }
    json_t *v = value_schema(c, f);
    if (!f->repeated)
        return v;
    json_t *s = json_pack("{s:s}", "type", "array");
    put(s, "items", v);
    return s;
}

/* Field f of message m as m's JSON has it: field_schema, or for a field of
 * a well-known type taken as its fields, own_field_schema (an array of
 * them for a repeated field). */
static json_t *member_schema(oa_ctx *c, const gw_message *m, const gw_field *f)
{
    json_t *own = m->wkt ? own_field_schema(m, f) : NULL;
    if (!own)
        return field_schema(c, f);
    return f->repeated ? json_pack("{s:s,s:o}", "type", "array", "items", own) : own;
}

/* obj's description: doc (a .proto comment), then the note (either may
 * be NULL); none when both are. */
static void describe(json_t *obj, const char *doc, const char *note)
{
    char *text = clean_doc(doc);
    gw_buf d = GW_BUF_INIT;
    if (text)
        gw_buf_puts(&d, text);
    if (note)
        gw_buf_printf(&d, "%s%s", text ? "\n\n" : "", note);
    gw_buf_putc(&d, '\0');
    if (!d.oom && (text || note))
        put_str(obj, "description", (const char *)d.data);
    gw_buf_free(&d);
    free(text);
}

/* A field's marks in its schema: its GW_BEHAVIOR_* bits and this one. */
#define MARK_DEPRECATED 0x80

static unsigned field_marks(const gw_field *f)
{
    return f->behavior | (f->deprecated ? MARK_DEPRECATED : 0);
}

/* Field f's schema with its comment, a note (or NULL) and its marks
 * (field_marks: deprecated, readOnly for OUTPUT_ONLY, writeOnly for
 * INPUT_ONLY): a $ref takes no sibling keys in OpenAPI 3.0, so such a
 * reference is wrapped in allOf. */
static json_t *documented(json_t *schema, const char *doc, const char *extra, unsigned marks)
{
    marks &= MARK_DEPRECATED | GW_BEHAVIOR_OUTPUT_ONLY | GW_BEHAVIOR_INPUT_ONLY;
    char *text = clean_doc(doc);
    int bare = !text && !extra && !marks;
    free(text);
    if (!schema || bare)
        return schema;
    if (json_object_get(schema, "$ref")) {
        json_t *wrapped = json_object();
        json_t *all = json_array();
        json_array_append_new(all, schema);
        put(wrapped, "allOf", all);
        schema = wrapped;
    }
    describe(schema, doc, extra);
    if (marks & MARK_DEPRECATED)
        put(schema, "deprecated", json_true());
    if (marks & GW_BEHAVIOR_OUTPUT_ONLY)
        put(schema, "readOnly", json_true());
    if (marks & GW_BEHAVIOR_INPUT_ONLY)
        put(schema, "writeOnly", json_true());
    return schema;
}

/* How the document names a field: in a body or reply by its JSON name
 * (or proto name, json_proto_names), as a query parameter by query_name. */
enum naming { NAMES_JSON, NAMES_PROTO, NAMES_QUERY };

/* The name of field f in a query parameter: its JSON name, unless that
 * holds a '.' or a '[' (json_name = "x.y"), which the query syntax reads
 * as a nested field or a map key: then its proto name, which the binder
 * takes as well. */
static const char *query_name(const gw_field *f)
{
    return strpbrk(f->json_name, ".[") ? f->name : f->json_name;
}

static const char *name_of(const gw_field *f, enum naming naming)
{
    return naming == NAMES_QUERY ? query_name(f) : naming == NAMES_PROTO ? f->name : f->json_name;
}

/* "Only one of a, b, c can be set (a oneof)." for field f of m when it is
 * in a oneof, in out[outlen]; NULL otherwise.  The members are named as
 * the document names them: `prefix` (a query parameter's path to m, with
 * its '.', or "") and their names by `naming`. */
static const char *oneof_note(const gw_message *m, const gw_field *f, const char *prefix,
                              enum naming naming, char *out, size_t outlen)
{
    if (f->oneof_index < 0)
        return NULL;
    gw_buf b = GW_BUF_INIT;
    gw_buf_puts(&b, "Only one of ");
    int n = 0;
    for (size_t i = 0; i < m->n_fields; i++) {
        if (m->fields[i].oneof_index != f->oneof_index)
            continue;
        gw_buf_printf(&b, "%s%s%s", n++ ? ", " : "", prefix, name_of(&m->fields[i], naming));
    }
    gw_buf_puts(&b, " can be set (a oneof).");
    gw_buf_putc(&b, '\0');
    if (b.oom || n < 2) {
        gw_buf_free(&b);
        return NULL;
    }
    snprintf(out, outlen, "%s", (const char *)b.data);
    gw_buf_free(&b);
    return out;
}

/* The component of a well-known type whose JSON form is not an object of
 * its fields; NULL for any other message. */
static json_t *well_known_schema(oa_ctx *c, const gw_message *m)
{
    switch (m->wkt) {
    case GW_WKT_ANY:
        return json_pack("{s:s,s:{s:{s:s,s:s}},s:b,s:s}", "type", "object", "properties", "@type",
                         "type", "string", "description",
                         "the type of the message, as type.googleapis.com/package.Message",
                         "additionalProperties", 1, "description",
                         "Any message: \"@type\" names its type, the other keys are its "
                         "fields (or \"value\" for a well-known type).");
    case GW_WKT_TIMESTAMP:
        return json_pack("{s:s,s:s,s:s}", "type", "string", "format", "date-time", "description",
                         "RFC 3339: 1972-01-01T10:00:20.021Z, in UTC in replies; a request may "
                         "give an offset (+01:00). Narrower than date-time, as protobuf's "
                         "parsers are: T and Z in upper case, no leap second (:60), at most 9 "
                         "fractional digits, years 0001 to 9999.");
    case GW_WKT_DURATION:
        return json_pack("{s:s,s:s,s:s}", "type", "string", "pattern",
                         "^-?[0-9]+(\\.[0-9]{1,9})?s$", "description",
                         "seconds with up to 9 decimals and an 's': 1.5s");
    case GW_WKT_FIELD_MASK:
        return json_pack("{s:s,s:s}", "type", "string", "description",
                         "comma-separated field paths in lowerCamelCase: user.displayName,photo");
    case GW_WKT_STRUCT:
        return json_pack("{s:s,s:b,s:s}", "type", "object", "additionalProperties", 1,
                         "description", "any JSON object");
    case GW_WKT_VALUE:
        /* no type: OpenAPI 3.0 gives nullable meaning only beside one */
        return json_pack("{s:s}", "description", "any JSON value, null too");
    case GW_WKT_LIST_VALUE:
        return json_pack("{s:s,s:{},s:s}", "type", "array", "items", "description",
                         "any JSON array");
    case GW_WKT_WRAPPER: {
        const gw_field *inner = gw_message_field_by_number(m, 1);
        return nullable(inner ? value_schema(c, inner) : json_object());
    }
    default: return NULL;
    }
}

/* The schema of message m as an object of its fields, whatever its JSON
 * form: an ordinary message's, and a well-known type's where the request
 * is taken as its fields (gw_bind_by_fields). */
static json_t *fields_schema(oa_ctx *c, const gw_message *m)
{
    json_t *s = json_pack("{s:s}", "type", "object");
    put_doc(s, "description", m->doc);
    json_t *props = json_object(), *required = json_array();
    enum naming naming = c->opt->proto_names ? NAMES_PROTO : NAMES_JSON;
    for (size_t i = 0; i < m->n_fields; i++) {
        const gw_field *f = &m->fields[i];
        char note[1024];
        json_t *fs = documented(member_schema(c, m, f), f->doc,
                                oneof_note(m, f, "", naming, note, sizeof(note)), field_marks(f));
        put(props, name_of(f, naming), fs);
        if (f->behavior & GW_BEHAVIOR_REQUIRED)
            json_array_append_new(required, json_string(name_of(f, naming)));
    }
    put(s, "properties", props);
    if (json_array_size(required))
        put(s, "required", required);
    else
        json_decref(required);
    return s;
}

/* Fills the component of message m (queued by message_ref). */
static void describe_message(oa_ctx *c, const gw_message *m)
{
    char name[MAX_NAME];
    component_name(m->full_name, name, sizeof(name));
    json_t *s = json_object_get(c->schemas, name);
    if (!s || json_object_size(s)) /* a name taken by another (sanitised) type */
        return;
    json_t *wk = well_known_schema(c, m);
    json_t *described = wk ? wk : fields_schema(c, m);
    json_object_update(s, described);
    json_decref(described);
}

static json_t *error_schema(void)
{
    return json_pack(
        "{s:s,s:s,s:{s:{s:s,s:s,s:s},s:{s:s,s:s},s:{s:s,s:{s:s}}}}", "type", "object",
        "description", "An error: the gRPC status code, its message and details "
                       "(from the grpc-status-details-bin trailer).",
        "properties", "code", "type", "integer", "format", "int32", "description",
        "the gRPC status code (3 INVALID_ARGUMENT, 5 NOT_FOUND, 14 UNAVAILABLE, ...)",
        "message", "type", "string", "description", "what went wrong", "details", "type",
        "array", "items", "$ref", "#/components/schemas/google.protobuf.Any");
}

/* ---- operations --------------------------------------------------------------- */

/* The field at dotted path `fpath` of m, or NULL; the message it is a
 * field of in *owner (when owner is not NULL). */
static const gw_field *field_at(const gw_message *m, const char *fpath,
                                const gw_message **owner)
{
    const gw_field *f = NULL;
    for (const char *p = fpath; m;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        f = gw_message_field_by_name(m, p, len);
        if (owner)
            *owner = m;
        if (!f || !dot)
            return f;
        m = f->type == GW_TYPE_MESSAGE && !f->repeated ? f->message : NULL;
        p = dot + 1;
    }
    return NULL;
}

/* The schema of a value given as text (a path or query parameter) for
 * field f of message m: its scalar type, or the scalar a well-known type
 * takes; for a field of a well-known type, what that type allows. */
static json_t *text_schema(oa_ctx *c, const gw_message *m, const gw_field *f)
{
    json_t *own = m->wkt ? own_field_schema(m, f) : NULL;
    if (own)
        return own;
    if (f->type == GW_TYPE_MESSAGE && f->message && f->message->wkt == GW_WKT_WRAPPER) {
        const gw_field *inner = gw_message_field_by_number(f->message, 1);
        return inner ? plain_schema(c, inner) : json_pack("{s:s}", "type", "string");
    }
    return plain_schema(c, f); /* Timestamp, Duration, FieldMask: their string components */
}

/* Whether dotted path `fpath` (by JSON or proto names) is the path of a
 * path variable or the body field, or lies below one of them. */
static int bound_elsewhere(const gw_route *r, const gw_message *in, const char *fpath)
{
    const gw_field *f = field_at(in, fpath, NULL);
    for (size_t i = 0; i <= r->tmpl.n_vars; i++) {
        const char *bound = i < r->tmpl.n_vars ? r->tmpl.vars[i].field_path : r->binding->body;
        if (!*bound || strcmp(bound, "*") == 0)
            continue;
        if (field_at(in, bound, NULL) == f)
            return 1;
    }
    return 0;
}

typedef struct query_walk {
    oa_ctx *c;
    const gw_route *route;
    json_t *params;
    const gw_message *stack[MAX_QUERY_DEPTH];
    size_t visits; /* wide messages nested deep would otherwise take forever */
    char prefix[MAX_NAME];
} query_walk;

/* The query parameters of message m's fields below `prefix`.  outer_notes:
 * the oneof notes of the fields on the way to m, which its parameters
 * carry too (NULL if none); in_deprecated: one of those fields is
 * deprecated, and so are its parameters. */
static void query_params(query_walk *q, const gw_message *m, size_t depth,
                         const char *outer_notes, int in_deprecated)
{
    for (size_t i = 0; i < depth; i++)
        if (q->stack[i] == m) /* a recursive message: once is enough */
            return;
    q->stack[depth] = m;
    size_t plen = strlen(q->prefix);
    char parent[MAX_NAME + 1]; /* the prefix as a oneof note names members with it */
    snprintf(parent, sizeof(parent), "%s%s", q->prefix, plen ? "." : "");
    for (size_t i = 0; i < m->n_fields; i++) {
        if (json_array_size(q->params) >= MAX_QUERY_PARAMS || ++q->visits > MAX_QUERY_VISITS)
            return;
        const gw_field *f = &m->fields[i];
        int n = snprintf(q->prefix + plen, sizeof(q->prefix) - plen, "%s%s", plen ? "." : "",
                         query_name(f));
        if (n < 0 || (size_t)n >= sizeof(q->prefix) - plen)
            continue;
        if (bound_elsewhere(q->route, q->route->method->input, q->prefix)) {
            q->prefix[plen] = '\0';
            continue;
        }
        char note[1024], notes[2048];
        const char *own = oneof_note(m, f, parent, NAMES_QUERY, note, sizeof(note));
        if (own && outer_notes)
            snprintf(notes, sizeof(notes), "%s %s", own, outer_notes);
        const char *all = own && outer_notes ? notes : own ? own : outer_notes;
        int json_text = f->message && (f->message->wkt == GW_WKT_STRUCT ||
                                       f->message->wkt == GW_WKT_VALUE ||
                                       f->message->wkt == GW_WKT_LIST_VALUE);
        if (gw_field_takes_text(f) || json_text) {
            json_t *p = json_pack("{s:s,s:s}", "name", q->prefix, "in", "query");
            describe(p, f->doc, all);
            if (in_deprecated || f->deprecated)
                put(p, "deprecated", json_true());
            if (depth == 0 && (f->behavior & GW_BEHAVIOR_REQUIRED))
                put(p, "required", json_true());
            if (json_text) { /* the value is JSON text: a parameter with content */
                json_t *media = json_object(), *content = json_object();
                put(media, "schema", member_schema(q->c, m, f));
                put(content, "application/json", media);
                put(p, "content", content);
            } else {
                json_t *schema = text_schema(q->c, m, f);
                if (f->repeated) {
                    json_t *arr = json_pack("{s:s}", "type", "array");
                    put(arr, "items", schema);
                    schema = arr;
                }
                put(p, "schema", schema);
            }
            json_array_append_new(q->params, p);
        } else if (f->type == GW_TYPE_MESSAGE && !f->repeated && f->message &&
                   !f->message->wkt && depth + 1 < MAX_QUERY_DEPTH) {
            query_params(q, f->message, depth + 1, all, in_deprecated || f->deprecated);
        }
        q->prefix[plen] = '\0';
    }
}

/* The variable of template t that starts at segment i, or NULL. */
static const gw_template_var *var_at(const gw_template *t, size_t i)
{
    for (size_t v = 0; v < t->n_vars; v++)
        if (t->vars[v].first == i && t->vars[v].end > i)
            return &t->vars[v];
    return NULL;
}

/* Wildcard s, bound to no field, as path parameter _N (N = ++*unbound):
 * a parameter all the same, or no client could fill the path in. */
static void unbound_param(const gw_segment *s, size_t *unbound, gw_buf *path, json_t *params)
{
    char name[32];
    snprintf(name, sizeof(name), "_%zu", ++*unbound);
    gw_buf_printf(path, "/{%s}", name);
    json_t *p = json_pack("{s:s,s:s,s:b}", "name", name, "in", "path", "required", 1);
    put(p, "schema", json_pack("{s:s}", "type", "string"));
    put_str(p, "description", s->kind == GW_SEG_STAR
                                  ? "any one segment; not part of the request"
                                  : "any segments, '/' sent as is; not part of the "
                                    "request");
    json_array_append_new(params, p);
}

/* The description of p, path parameter number `wild` of variable var
 * written out segment by segment (s its segment): which segment of the
 * variable it is. */
static void describe_var_segment(json_t *p, const gw_template *t, const gw_template_var *var,
                                 size_t wild, const gw_segment *s)
{
    gw_buf d = GW_BUF_INIT;
    gw_buf_printf(&d, "segment %zu of %s (", wild, var->field_path);
    for (size_t j = var->first; j < var->end; j++)
        gw_buf_printf(&d, "%s%s", j > var->first ? "/" : "",
                      t->segs[j].kind == GW_SEG_LITERAL ? t->segs[j].literal
                      : t->segs[j].kind == GW_SEG_STAR ? "*" : "**");
    gw_buf_printf(&d, ")%s", s->kind == GW_SEG_STARSTAR
                                 ? "; send '/' as is (a %2F stays %2F in the value)"
                                 : "");
    gw_buf_putc(&d, '\0');
    if (!d.oom)
        put_str(p, "description", (const char *)d.data);
    gw_buf_free(&d);
}

/* The description of p, the one path parameter of a variable that is a
 * wildcard alone (s), bound to field f: the field's. */
static void describe_var_field(json_t *p, const gw_field *f, const gw_segment *s)
{
    if (s->kind == GW_SEG_STARSTAR) {
        /* several segments: a '/' escaped (%2F) stays escaped in the
         * value, as google.api.http has it for such variables */
        gw_buf d = GW_BUF_INIT;
        gw_buf_printf(&d, "%s%ssegments: send '/' as is (a %%2F stays %%2F in the value)",
                      f->doc ? f->doc : "", f->doc ? "\n\n" : "");
        gw_buf_putc(&d, '\0');
        if (!d.oom)
            put_str(p, "description", (const char *)d.data);
        gw_buf_free(&d);
    } else {
        put_doc(p, "description", f->doc);
    }
}

/* Variable var of template t in path: its literals as they are, and a
 * parameter for each wildcard, named after the field when the variable is
 * one wildcard alone, else FIELD-1, FIELD-2… */
static void var_params(oa_ctx *c, const gw_template *t, const gw_template_var *var,
                       const gw_message *in, gw_buf *path, json_t *params)
{
    const gw_message *owner = in;
    const gw_field *f = field_at(in, var->field_path, &owner);
    int single = var->end - var->first == 1 && t->segs[var->first].kind != GW_SEG_LITERAL;
    for (size_t k = var->first, wild = 0; k < var->end; k++) {
        const gw_segment *s = &t->segs[k];
        if (s->kind == GW_SEG_LITERAL) {
            gw_buf_printf(path, "/%s", s->literal);
            continue;
        }
        char name[MAX_NAME];
        if (single)
            snprintf(name, sizeof(name), "%s", var->field_path);
        else
            snprintf(name, sizeof(name), "%s-%zu", var->field_path, ++wild);
        gw_buf_printf(path, "/{%s}", name);
        json_t *p = json_pack("{s:s,s:s,s:b}", "name", name, "in", "path", "required", 1);
        put(p, "schema", single && f ? text_schema(c, owner, f)
                                     : json_pack("{s:s}", "type", "string"));
        if (single && f)
            describe_var_field(p, f, s);
        else
            describe_var_segment(p, t, var, wild, s);
        json_array_append_new(params, p);
    }
}

/* The OpenAPI path of route r ("/v1/{name}"), its path parameters appended
 * to params.  A variable over several segments, or with literals in it
 * (name = "shelves/" then a wildcard), is written out segment by segment
 * (/shelves/{name-1}): a client then sends its slashes as they are, as the
 * route needs, instead of escaping them inside one parameter. */
static int openapi_path(oa_ctx *c, const gw_route *r, gw_buf *path, json_t *params)
{
    const gw_template *t = &r->tmpl;
    size_t unbound = 0;
    for (size_t i = 0; i < t->n_segs;) {
        const gw_template_var *var = var_at(t, i);
        if (var) {
            var_params(c, t, var, r->method->input, path, params);
            i = var->end;
            continue;
        }
        const gw_segment *s = &t->segs[i++];
        if (s->kind == GW_SEG_LITERAL)
            gw_buf_printf(path, "/%s", s->literal);
        else
            unbound_param(s, &unbound, path, params);
    }
    if (!t->n_segs)
        gw_buf_putc(path, '/');
    if (t->verb)
        gw_buf_printf(path, ":%s", t->verb);
    gw_buf_putc(path, '\0');
    return path->oom ? -1 : 0;
}

/* "MyService" for "/example.MyService/Echo" in out[outlen]; the method
 * name's start in *method. */
static void split_method_path(const char *path, char *service, size_t len, const char **method)
{
    const char *start = path[0] == '/' ? path + 1 : path;
    const char *slash = strchr(start, '/');
    size_t n = slash ? (size_t)(slash - start) : strlen(start);
    snprintf(service, len, "%.*s", (int)n, start);
    *method = slash ? slash + 1 : start;
}

/* The summary: the first sentence of the comment's first paragraph (its
 * lines joined, at most MAX_SUMMARY bytes), else the method's name. */
static json_t *summary(const gw_method *m, const char *method_name)
{
    char *doc = clean_doc(m->doc);
    if (!doc)
        return json_string(method_name);
    char *para_end = strstr(doc, "\n\n");
    if (para_end)
        *para_end = '\0';
    for (char *p = doc; *p; p++)
        if (*p == '\n')
            *p = ' ';
    char *stop = strstr(doc, ". ");
    size_t n = stop ? (size_t)(stop - doc + 1) : strlen(doc);
    if (n > MAX_SUMMARY) { /* cut at a space, else at a character boundary */
        size_t cut = MAX_SUMMARY;
        while (cut > MAX_SUMMARY / 2 && doc[cut] != ' ')
            cut--;
        if (doc[cut] != ' ')
            for (cut = MAX_SUMMARY; cut && ((unsigned char)doc[cut] & 0xC0) == 0x80;)
                cut--;
        n = cut;
    }
    json_t *s = json_stringn(doc, n);
    free(doc);
    return s ? s : json_string(method_name);
}

static json_t *content(json_t *schema)
{
    json_t *c = json_object(), *media = json_object();
    put(media, "schema", schema);
    put(c, "application/json", media);
    return c;
}

/* A body that a google.api.HttpBody stands for: any media type, bytes. */
static json_t *raw_content(const char *description)
{
    json_t *c = json_object(), *media = json_object();
    put(media, "schema", json_pack("{s:s,s:s,s:s}", "type", "string", "format", "binary",
                                   "description", description));
    put(c, "*/*", media);
    return c;
}

/* The reply part of an operation: 200 (one message, or a stream of them)
 * and the error body. */
static json_t *responses(oa_ctx *c, const gw_route *r)
{
    const gw_method *m = r->method;
    const char *rb = r->binding->response_body;
    int raw = r->raw_reply;
    json_t *reply;
    const gw_field *rf = *rb ? gw_message_field_by_name(m->output, rb, strlen(rb)) : NULL;
    reply = rf ? field_schema(c, rf) : message_ref(c, m->output);
    json_t *ok = json_object();
    if (raw) { /* the google.api.HttpBody's data, typed by its content_type */
        json_decref(reply);
        put_str(ok, "description", m->server_streaming
                                       ? "the data of each google.api.HttpBody message, one "
                                         "after the other, typed by the first one's content_type"
                                       : "the google.api.HttpBody's data, typed by its "
                                         "content_type");
        put(ok, "content", raw_content("the body's bytes"));
    } else if (m->server_streaming) {
        json_t *line = json_pack("{s:s,s:s}", "type", "object", "description",
                                 "one line of the stream: a reply, or the error that ended it");
        json_t *props = json_object();
        put(props, "result", reply);
        put(props, "error", ref_to(ERROR_SCHEMA));
        put(line, "properties", props);
        json_t *cont = content(line);
        json_t *sse = json_object();
        put(sse, "schema", json_pack("{s:s,s:s}", "type", "string", "description",
                                     "Server-Sent Events: one data: frame a line"));
        put(cont, "text/event-stream", sse);
        put_str(ok, "description", "a stream: one JSON object a line (chunked), or "
                                   "Server-Sent Events with Accept: text/event-stream");
        put(ok, "content", cont);
    } else {
        put_str(ok, "description", "the reply");
        put(ok, "content", content(reply));
    }
    json_t *err = json_object();
    put_str(err, "description", "an error: the HTTP status follows the gRPC code "
                                "(400 INVALID_ARGUMENT, 404 NOT_FOUND, 503 UNAVAILABLE, ...)");
    put(err, "content", content(ref_to(ERROR_SCHEMA)));
    json_t *res = json_object();
    put(res, "200", ok);
    put(res, "default", err);
    return res;
}

static json_t *request_body(oa_ctx *c, const gw_route *r)
{
    const char *body = r->binding->body;
    const gw_method *m = r->method;
    json_t *schema;
    if (strcmp(body, "*") == 0) {
        /* a well-known type beside path variables: an object of its fields */
        schema = gw_bind_by_fields(r) ? fields_schema(c, m->input) : message_ref(c, m->input);
    } else {
        const gw_field *f = gw_message_field_by_name(m->input, body, strlen(body));
        if (!f)
            return NULL;
        schema = documented(member_schema(c, m->input, f), f->doc, NULL, field_marks(f));
    }
    json_t *rb = json_object();
    if (!m->client_streaming && r->raw_request) {
        json_decref(schema); /* a google.api.HttpBody: the bytes as they are */
        put_str(rb, "description", "the body as it is, and its Content-Type: a "
                                   "google.api.HttpBody");
        put(rb, "content", raw_content("the body's bytes"));
        put(rb, "required", json_false());
        return rb;
    }
    if (m->client_streaming)
        put_str(rb, "description", "the request messages as JSON objects one after the other "
                                   "(newline-delimited, or any whitespace or none between "
                                   "them), or one JSON array of them");
    else if (strcmp(body, "*") != 0)
        put_str(rb, "description", body); /* the field the body is */
    put(rb, "content", content(schema));
    put(rb, "required", json_boolean(m->client_streaming));
    return rb;
}

static const char *openapi_method(const char *verb)
{
    static const char *const known[] = {"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD",
                                        "OPTIONS", "TRACE"};
    static const char *const lower[] = {"get", "put", "post", "delete", "patch", "head",
                                        "options", "trace"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(verb, known[i]) == 0)
            return lower[i];
    return NULL; /* a custom verb OpenAPI cannot describe */
}

/* The tag of a service: its name, or its full name when a service of
 * another package took that name first.  Adds it to tags (name -> tag
 * object) with the service's comment. */
static void service_tag(json_t *tags, const gw_method *m, const char *full, char *out,
                        size_t outlen)
{
    const char *dot = strrchr(full, '.');
    snprintf(out, outlen, "%s", dot ? dot + 1 : full);
    json_t *t = json_object_get(tags, out);
    const char *owner = json_string_value(json_object_get(t, "x-grpc-service"));
    if (t && (!owner || strcmp(owner, full) != 0)) {
        snprintf(out, outlen, "%s", full);
        t = json_object_get(tags, out);
    }
    if (t)
        return;
    t = json_pack("{s:s,s:s}", "name", out, "x-grpc-service", full);
    gw_buf d = GW_BUF_INIT;
    char *doc = clean_doc(m->service_doc);
    gw_buf_printf(&d, "%s%sgRPC service %s", doc ? doc : "", doc ? "\n\n" : "", full);
    free(doc);
    gw_buf_putc(&d, '\0');
    if (!d.oom)
        put_str(t, "description", (const char *)d.data);
    gw_buf_free(&d);
    if (t)
        json_object_set_new(tags, out, t);
}

/* path with the names of its parameters taken out (/v1/shelves/{}/books/{}),
 * malloc'd; NULL without memory.  OpenAPI calls two paths of one shape
 * identical and forbids them: GetBook's /v1/{name=shelves/x/books/x}
 * beside UpdateBook's /v1/{book.name=shelves/x/books/x}, which match the
 * same URLs, but also /v1/{path=**} beside /v1/{name}, which do not (a
 * path parameter is one segment to OpenAPI).  The second route's operation
 * goes under the first's path, with its names. */
static char *path_shape(const char *path)
{
    char *shape = malloc(strlen(path) + 1), *o = shape;
    if (!shape)
        return NULL;
    for (const char *p = path; *p; p++) {
        *o++ = *p;
        if (*p == '{')
            while (p[1] && p[1] != '}')
                p++;
    }
    *o = '\0';
    return shape;
}

/* Renames the path parameters in params (all of them, in path order) to the
 * names in path, in order; each says in its description which field it
 * stands for in this operation.  -1 when the counts differ (then nothing is
 * renamed). */
static int take_path_names(json_t *params, const char *path)
{
    size_t n = 0; /* parameters: a '{' with a '}' after it */
    for (const char *p = strchr(path, '{'); p && strchr(p, '}'); p = strchr(p + 1, '{'))
        n++;
    if (n != json_array_size(params))
        return -1;
    const char *p = path;
    for (size_t i = 0; i < n; i++) {
        const char *open = strchr(p, '{'), *close = strchr(open, '}');
        json_t *param = json_array_get(params, i);
        const char *own = json_string_value(json_object_get(param, "name"));
        const char *doc = json_string_value(json_object_get(param, "description"));
        gw_buf d = GW_BUF_INIT;
        gw_buf_printf(&d, "%s%s%s", own ? own : "", doc ? ": " : "", doc ? doc : "");
        gw_buf_putc(&d, '\0');
        if (!d.oom)
            put_str(param, "description", (const char *)d.data);
        gw_buf_free(&d);
        put(param, "name", json_stringn(open + 1, (size_t)(close - open - 1)));
        p = close;
    }
    return 0;
}

/* The path item the operation of route r goes under, found or added; its
 * path parameters in params, named as that path has them.  NULL without
 * memory or for text jansson refuses. */
static json_t *path_item(oa_ctx *c, const gw_route *r, json_t *paths, json_t *params)
{
    gw_buf path = GW_BUF_INIT;
    char *shape = NULL;
    json_t *item = NULL;
    if (openapi_path(c, r, &path, params) < 0 || !(shape = path_shape((char *)path.data))) {
        c->oom = 1;
        goto out;
    }
    const char *key = (const char *)path.data;
    const char *first = json_string_value(json_object_get(c->shapes, shape));
    if (first && strcmp(first, key) != 0 && take_path_names(params, first) == 0)
        key = first;
    item = json_object_get(paths, key);
    if (!item) {
        item = json_object();
        if (json_object_set_new(paths, key, item) < 0 ||
            json_object_set_new(c->shapes, shape, json_string(key)) < 0)
            item = NULL;
    }
out:
    free(shape);
    gw_buf_free(&path);
    return item;
}

static void add_operation(oa_ctx *c, const gw_route *r, json_t *paths,
                          json_t *tags, json_t *op_ids)
{
    const char *verb = openapi_method(r->binding->verb);
    if (!verb)
        return;
    json_t *params = json_array();
    json_t *item = path_item(c, r, paths, params);
    json_t *taken = item ? json_object_get(item, verb) : NULL;
    if (taken) /* a path OpenAPI cannot tell from this one's, with the same verb */
        rp_log("OpenAPI: %s %s (%s) is left out of the document: OpenAPI cannot tell its "
               "path from that of operation %s (to OpenAPI, a path parameter is one segment)",
               r->binding->verb, r->binding->path_template, r->method->path,
               json_string_value(json_object_get(taken, "operationId")));
    if (!item || taken) { /* bad text, or a path taken */
        json_decref(params);
        return;
    }

    const gw_method *m = r->method;
    char service[MAX_NAME], tag[MAX_NAME];
    const char *method_name;
    split_method_path(m->path, service, sizeof(service), &method_name);
    service_tag(tags, m, service, tag, sizeof(tag));
    json_t *op = json_object();
    put(op, "tags", json_pack("[s]", tag));
    put(op, "summary", summary(m, method_name));
    gw_buf d = GW_BUF_INIT;
    char *doc = clean_doc(m->doc);
    gw_buf_printf(&d, "%s%sgRPC method %s%s", doc ? doc : "", doc ? "\n\n" : "", m->path,
                  m->client_streaming && m->server_streaming ? " (bidirectional streaming)"
                  : m->client_streaming ? " (client streaming)"
                  : m->server_streaming ? " (server streaming)" : "");
    free(doc);
    gw_buf_putc(&d, '\0');
    if (!d.oom)
        put_str(op, "description", (const char *)d.data);
    gw_buf_free(&d);

    /* operationId: Service_Method, numbered when taken (additional bindings,
     * services of one name in several packages); op_ids keeps with each id
     * the number to try next when it is taken again, so that the numbers
     * tried before are not tried again */
    char id[MAX_NAME * 2 + 16];
    const char *sdot = strrchr(service, '.');
    snprintf(id, sizeof(id), "%s_%s", sdot ? sdot + 1 : service, method_name);
    size_t idlen = strlen(id);
    json_t *taken_id = json_object_get(op_ids, id);
    if (taken_id) {
        json_int_t n = json_integer_value(taken_id);
        for (;; n++) { /* the first free of 2..99999, else 99999 */
            snprintf(id + idlen, sizeof(id) - idlen, "%d", (int)n);
            if (n == 99999 || !json_object_get(op_ids, id))
                break;
        }
        json_integer_set(taken_id, n < 99999 ? n + 1 : n);
    }
    json_object_set_new(op_ids, id, json_integer(2));
    put_str(op, "operationId", id);
    if (m->deprecated)
        put(op, "deprecated", json_true());

    if (strcmp(r->binding->body, "*") != 0 && !m->client_streaming) {
        query_walk q = {.c = c, .route = r, .params = params};
        query_params(&q, m->input, 0, NULL, 0);
    }
    if (json_array_size(params))
        put(op, "parameters", params);
    else
        json_decref(params);
    if (*r->binding->body)
        put(op, "requestBody", request_body(c, r));
    put(op, "responses", responses(c, r));
    json_object_set_new(item, verb, op);
}

/* ---- the document ----------------------------------------------------------------- */

/* Routes in method order (the schema's methods are one array), then in the
 * order of the method's bindings (one array too; auto-mapped bindings are
 * one per method). */
static int compare_routes(const void *a, const void *b)
{
    const gw_route *x = *(const gw_route *const *)a, *y = *(const gw_route *const *)b;
    if (x->method != y->method)
        return x->method < y->method ? -1 : 1;
    return x->binding < y->binding ? -1 : x->binding > y->binding;
}

static json_t *document(const gw_gen *g, const gw_openapi_options *opt, oa_ctx *c)
{
    json_t *doc = json_object(), *paths = json_object(), *tags = json_object();
    json_t *op_ids = json_object();
    c->schemas = json_object();
    c->shapes = json_object();
    c->opt = opt;
    put_str(doc, "openapi", "3.0.3");
    json_t *info = json_pack("{s:s,s:s}", "title", opt->title ? opt->title : "rpcrest",
                             "version", opt->version ? opt->version : "1");
    gw_buf d = GW_BUF_INIT;
    gw_buf_printf(&d, "The REST/JSON API that rpcrest-gateway serves now, described from the "
                      "API it loaded (%s).  Errors answer with an HTTP status that follows the "
                      "gRPC code and a " ERROR_SCHEMA " body; int64 values are strings.",
                  g->origin);
    gw_buf_putc(&d, '\0');
    if (!d.oom)
        put_str(info, "description", (const char *)d.data);
    gw_buf_free(&d);
    put(doc, "info", info);
    json_object_set_new(c->schemas, ERROR_SCHEMA, error_schema());
    /* the error's details are Any: described even if no route uses Any */
    gw_message any = {.full_name = "google.protobuf.Any", .wkt = GW_WKT_ANY};
    json_object_set_new(c->schemas, "google.protobuf.Any", well_known_schema(c, &any));
    /* in the order of the descriptors (the router's is most specific first) */
    size_t n = g->router.n_routes;
    const gw_route **order = malloc((n ? n : 1) * sizeof(*order));
    if (!order)
        c->oom = 1;
    for (size_t i = 0; order && i < n; i++)
        order[i] = &g->router.routes[i];
    if (order && n)
        qsort(order, n, sizeof(*order), compare_routes);
    for (size_t i = 0; order && i < n && !c->oom; i++)
        add_operation(c, order[i], paths, tags, op_ids);
    free(order);
    for (size_t i = 0; i < c->n_todo && !c->oom; i++) /* grows as it goes */
        describe_message(c, c->todo[i]);
    json_t *tag_list = json_array();
    const char *key;
    json_t *value;
    json_object_foreach(tags, key, value)
        json_array_append(tag_list, value);
    put(doc, "tags", tag_list);
    put(doc, "paths", paths);
    json_t *components = json_object();
    put(components, "schemas", c->schemas);
    put(doc, "components", components);
    json_decref(tags);
    json_decref(op_ids);
    json_decref(c->shapes);
    return doc;
}

int gw_openapi_build(const gw_gen *g, const gw_openapi_options *opt, gw_buf *out)
{
    oa_ctx c = {0};
    json_t *doc = document(g, opt, &c);
    free(c.todo);
    char *text = c.oom ? NULL : json_dumps(doc, JSON_INDENT(1));
    json_decref(doc);
    if (!text)
        return -1;
    gw_buf_puts(out, text);
    gw_buf_putc(out, '\n');
    free(text);
    return out->oom ? -1 : 0;
}

int gw_openapi_get(gw_gen *g, const gw_openapi_options *opt, const uint8_t **data, size_t *len)
{
    pthread_mutex_lock(&g->openapi_lock);
    if (!g->openapi) {
        gw_buf b = GW_BUF_INIT;
        if (gw_openapi_build(g, opt, &b) == 0)
            g->openapi = gw_buf_steal(&b, &g->openapi_len);
        gw_buf_free(&b);
    }
    pthread_mutex_unlock(&g->openapi_lock);
    *data = g->openapi;
    *len = g->openapi_len;
    return g->openapi ? 0 : -1;
}
