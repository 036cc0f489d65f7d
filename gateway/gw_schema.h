/*
 * gw_schema.h -- the gateway's view of the protobuf schema: messages, enums
 * and service methods loaded from FileDescriptorSet files, with every type
 * reference resolved to a pointer and the google.api.http rule of each
 * method extracted.  Built once at start; read-only afterwards, so any
 * thread may read it.  The schema owns every object it hands out.
 */
#ifndef GW_SCHEMA_H
#define GW_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

/* Field types, numbered as in google.protobuf.FieldDescriptorProto.Type. */
enum gw_type {
    GW_TYPE_DOUBLE = 1,
    GW_TYPE_FLOAT = 2,
    GW_TYPE_INT64 = 3,
    GW_TYPE_UINT64 = 4,
    GW_TYPE_INT32 = 5,
    GW_TYPE_FIXED64 = 6,
    GW_TYPE_FIXED32 = 7,
    GW_TYPE_BOOL = 8,
    GW_TYPE_STRING = 9,
    GW_TYPE_GROUP = 10,
    GW_TYPE_MESSAGE = 11,
    GW_TYPE_BYTES = 12,
    GW_TYPE_UINT32 = 13,
    GW_TYPE_ENUM = 14,
    GW_TYPE_SFIXED32 = 15,
    GW_TYPE_SFIXED64 = 16,
    GW_TYPE_SINT32 = 17,
    GW_TYPE_SINT64 = 18
};

typedef struct gw_message gw_message;
struct gw_schema;

/* The well-known types whose proto3 JSON form is not an object of fields
 * (gw_wkt.c); tagged at load by full name when the fields have the
 * expected numbers and types. */
enum gw_wkt {
    GW_WKT_NONE = 0,
    GW_WKT_ANY,        /* google.protobuf.Any */
    GW_WKT_TIMESTAMP,  /* google.protobuf.Timestamp */
    GW_WKT_DURATION,   /* google.protobuf.Duration */
    GW_WKT_FIELD_MASK, /* google.protobuf.FieldMask */
    GW_WKT_STRUCT,     /* google.protobuf.Struct */
    GW_WKT_VALUE,      /* google.protobuf.Value */
    GW_WKT_LIST_VALUE, /* google.protobuf.ListValue */
    GW_WKT_WRAPPER     /* google.protobuf.DoubleValue … BytesValue: field 1 "value" */
};

/* `doc` members hold the comment written above (else after) the element in
 * its .proto, when the descriptor set has source info
 * (protoc --include_source_info), else NULL; the text is protoc's, one
 * leading space per line included. */

typedef struct gw_enum_value {
    const char *name;
    int32_t number;
    const char *doc;
} gw_enum_value;

typedef struct gw_enum {
    char *full_name;
    gw_enum_value *values; /* declaration order */
    size_t n_values;
    int null_value;        /* google.protobuf.NullValue: JSON null */
    int closed;            /* proto2: only the numbers it declares are its values */
    const char *doc;
} gw_enum;

/* What a field's google.api.field_behavior option says (bits of
 * gw_field.behavior); the OpenAPI document shows them. */
enum {
    GW_BEHAVIOR_REQUIRED = 1,    /* REQUIRED */
    GW_BEHAVIOR_OUTPUT_ONLY = 2, /* OUTPUT_ONLY */
    GW_BEHAVIOR_INPUT_ONLY = 4,  /* INPUT_ONLY */
    GW_BEHAVIOR_IMMUTABLE = 8,   /* IMMUTABLE */
};

typedef struct gw_field {
    const char *name;      /* as in the .proto: "user_id" */
    const char *json_name; /* lowerCamelCase: "userId" */
    uint32_t number;
    uint8_t type;          /* enum gw_type */
    uint8_t repeated;
    uint8_t packed;        /* encode repeated scalars packed */
    uint8_t presence;      /* explicit presence: emitted even when default */
    uint8_t deprecated;    /* [deprecated = true] (FieldOptions) */
    uint8_t behavior;      /* GW_BEHAVIOR_* of its google.api.field_behavior option */
    int32_t oneof_index;   /* -1 if not in a oneof */
    const gw_message *message; /* GW_TYPE_MESSAGE / GW_TYPE_GROUP */
    const gw_enum *enumeration; /* GW_TYPE_ENUM */
    const char *doc;
} gw_field;

struct gw_message {
    char *full_name;       /* "example.StringMessage" */
    gw_field *fields;      /* sorted by number */
    size_t n_fields;
    const gw_field **by_name; /* sorted by name; holds json_name and name */
    const char **names;       /* the key of each by_name entry */
    size_t n_names;
    int map_entry;         /* a synthesized map<K,V> entry: key = 1, value = 2 */
    uint8_t wkt;           /* enum gw_wkt */
    const struct gw_schema *schema; /* the schema it belongs to (to resolve Any types) */
    const char *doc;
};

/* An HTTP binding of a method (from google.api.http, including each of its
 * additional_bindings). */
typedef struct gw_http_binding {
    const char *verb;          /* "GET", "POST", … or a custom verb */
    const char *path_template; /* the template text: "/v1/{name}" */
    const char *body;          /* "", "*" or a field name */
    const char *response_body; /* "" or a field name */
} gw_http_binding;

typedef struct gw_method {
    char *path;                /* "/example.MyService/Echo" */
    const gw_message *input;
    const gw_message *output;
    int client_streaming;
    int server_streaming;
    int deprecated;            /* option deprecated = true (MethodOptions) */
    gw_http_binding *bindings;
    size_t n_bindings;
    const char *doc;
    const char *service_doc;   /* the comment of its service */
    /* its metrics (gw_http_publish; released by gw_gen_unref), or NULL */
    struct gw_method_stats *stats;
} gw_method;

typedef struct gw_schema gw_schema;

/* The most services, methods and HTTP bindings (google.api.http rules, each
 * of their additional_bindings counted) that one API may declare, all its
 * files together: far more than an API has, and the bound on the work an
 * upstream's descriptors can ask of the gateway, which keeps a route, a
 * metrics series and a registered gRPC call for each method.  An API past
 * one is refused ("the API declares 100001 methods, more than the 100000
 * an API may have"). */
#define GW_SCHEMA_MAX_SERVICES 100000
#define GW_SCHEMA_MAX_METHODS 100000
#define GW_SCHEMA_MAX_BINDINGS 100000

/*
 * Loads the FileDescriptorSet files in paths[0..n) (files that appear in
 * several sets are read once).  Returns a schema the caller frees with
 * gw_schema_free, or NULL after writing "PATH: what is wrong" into err
 * (or what is wrong with the API as a whole, such as more methods than
 * GW_SCHEMA_MAX_METHODS).
 */
gw_schema *gw_schema_load(const char *const *paths, size_t n, char *err, size_t errlen);

/* The same from FileDescriptorSet bytes already in memory; `origin` names
 * them in error messages. */
gw_schema *gw_schema_load_buffers(const uint8_t *const *bufs, const size_t *lens, size_t n,
                                  const char *origin, char *err, size_t errlen);

void gw_schema_free(gw_schema *schema);

/* Every method of every service, in file order. */
const gw_method *gw_schema_methods(const gw_schema *schema, size_t *n);

/* A message type by full name ("pkg.Msg", no leading dot), or NULL. */
const gw_message *gw_schema_message(const gw_schema *schema, const char *full_name);

/* Field lookup by number (binary search), or NULL. */
const gw_field *gw_message_field_by_number(const gw_message *m, uint32_t number);

/* Field lookup by JSON name or proto name (len bytes, not NUL-terminated),
 * or NULL. */
const gw_field *gw_message_field_by_name(const gw_message *m, const char *name, size_t len);

/* 1 if a path variable or query parameter can set field f from text: a
 * scalar or enum, or a message whose JSON form is a string or scalar (a
 * wrapper, Timestamp, Duration, FieldMask). */
int gw_field_takes_text(const gw_field *f);

/* Enum value by name, or NULL; by number, or NULL. */
const gw_enum_value *gw_enum_by_name(const gw_enum *e, const char *name);
const gw_enum_value *gw_enum_by_number(const gw_enum *e, int32_t number);

#endif /* GW_SCHEMA_H */
