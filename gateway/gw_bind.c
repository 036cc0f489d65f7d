/*
 * gw_bind.c -- HTTP request parts -> the JSON form of the request message.
 *
 * Path variables and query parameters arrive as text; each is converted by
 * the type of the field it names (bool, enum number, string…) and stored at
 * its dotted field path, so the JSON codec sees one ordinary object.  Path
 * variables override body fields of the same name, as in grpc-gateway.  A
 * request that is a well-known type (a Timestamp, a StringValue) is such an
 * object of its own fields (seconds, value) unless the body alone is the
 * whole request, in the type's JSON form (gw_bind_by_fields).
 */
#include "gw_bind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_buf.h"
#include "gw_httpbody.h"
#include "gw_json.h"
#include "gw_wkt.h"
#include "rp_utf8.h"

/* Reasons show text the client chose (a query parameter's name, a map
 * key, a value) up to SHOWN_MAX bytes, and "..." in place of any more. */
#define SHOWN_MAX 100
#define SHOWN_SIZE (SHOWN_MAX + sizeof("..."))

/* s[0..len) as a reason shows it (up to a NUL byte), in buf[SHOWN_SIZE];
 * returns buf. */
static const char *shown(const char *s, size_t len, char *buf)
{
    snprintf(buf, SHOWN_SIZE, "%.*s%s", (int)(len > SHOWN_MAX ? SHOWN_MAX : len), s,
             len > SHOWN_MAX ? "..." : "");
    return buf;
}

static gw_result out_of_memory(char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", GW_ERR_OOM);
    return GW_NOMEM;
}

/* Why jansson made no string of text[0..len) for field f: it is not
 * UTF-8 (GW_REFUSED), or there was no memory for it (GW_NOMEM). */
static gw_result string_failed(const gw_field *f, const char *text, size_t len, char *err,
                               size_t errlen)
{
    if (rp_utf8_valid((const uint8_t *)text, len))
        return out_of_memory(err, errlen);
    snprintf(err, errlen, "field '%s': value is not valid UTF-8", f->name);
    return GW_REFUSED;
}

/*
 * A FieldMask's text in a query parameter or path variable, as grpc-gateway
 * takes it: comma-separated proto field paths ("page_size,origin.author"),
 * to the JSON form the codec reads ("pageSize,origin.author").  A
 * lowerCamelCase path is taken as it is (it already is the JSON form).  An
 * empty path is refused, and so is a '_' not followed by a lowercase letter
 * ("line_1"), which the JSON form cannot carry.  "" is a mask with no paths.
 */
static gw_result mask_value(const gw_field *f, const char *text, size_t len, json_t **v,
                            char *err, size_t errlen)
{
    gw_buf b = GW_BUF_INIT;
    char text_shown[SHOWN_SIZE];
    for (size_t start = 0, i = 0; len > 0 && i <= len; i++) {
        if (i < len && text[i] != ',')
            continue;
        const char *path = text + start;
        if (i == start) {
            snprintf(err, errlen, "field '%s': an empty path in the mask '%s'", f->name,
                     shown(text, len, text_shown));
            gw_buf_free(&b);
            return GW_REFUSED;
        }
        const char *why = memchr(path, '\0', i - start)
                              ? "has a NUL byte"
                              : gw_wkt_camel_path((const uint8_t *)path, i - start, 1, &b);
        if (why) {
            snprintf(err, errlen, "field '%s': path '%s' %s", f->name,
                     shown(path, i - start, text_shown), why);
            gw_buf_free(&b);
            return GW_REFUSED;
        }
        if (i < len)
            gw_buf_putc(&b, ',');
        start = i + 1;
    }
    const char *joined = b.data ? (char *)b.data : "";
    gw_result rc = GW_OK;
    if (b.oom)
        rc = out_of_memory(err, errlen);
    else if (!(*v = json_stringn(joined, b.len)))
        rc = string_failed(f, joined, b.len, err, errlen);
    gw_buf_free(&b);
    return rc;
}

/* Text -> JSON value for enum field f: a name or a number it declares.
 * Checked here, not left to the body's encoder: json_ignore_unknown_fields
 * is about a body's keys, and a path or query value the enum lacks is
 * refused, as grpc-gateway does (even for a proto3 enum, which takes any
 * number in a body). */
static gw_result enum_value(const gw_field *f, const char *text, size_t len, json_t **v,
                            char *err, size_t errlen)
{
    char small[128], *name = small; /* text is not NUL-terminated */
    if (len >= sizeof(small) && !(name = malloc(len + 1)))
        return out_of_memory(err, errlen);
    memcpy(name, text, len);
    name[len] = '\0';
    gw_result rc = GW_REFUSED;
    size_t i = name[0] == '-' ? 1 : 0;
    while (i < len && name[i] >= '0' && name[i] <= '9')
        i++;
    if (len > (name[0] == '-' ? 1u : 0u) && i == len && len < 12) {
        long long number = strtoll(name, NULL, 10); /* the encoder checks the range */
        if (number >= INT32_MIN && number <= INT32_MAX &&
            !gw_enum_by_number(f->enumeration, (int32_t)number))
            snprintf(err, errlen, "field '%s': %lld is not a value of enum %s", f->name, number,
                     f->enumeration->full_name);
        else
            rc = (*v = json_integer(number)) ? GW_OK : out_of_memory(err, errlen);
    } else if (!memchr(text, '\0', len) && gw_enum_by_name(f->enumeration, name)) {
        /* a name: ASCII */
        rc = (*v = json_stringn(text, len)) ? GW_OK : out_of_memory(err, errlen);
    } else {
        char text_shown[SHOWN_SIZE];
        snprintf(err, errlen, "field '%s': '%s' is not a value of enum %s", f->name,
                 shown(text, len, text_shown), f->enumeration->full_name);
    }
    if (name != small)
        free(name);
    return rc;
}

/* Text -> true or false (which allocate nothing), or NULL when it is
 * neither. */
static json_t *bool_value(const char *text, size_t len)
{
    if ((len == 4 && strncasecmp(text, "true", 4) == 0) ||
        (len == 1 && (text[0] == '1' || text[0] == 't' || text[0] == 'T')))
        return json_true();
    if ((len == 5 && strncasecmp(text, "false", 5) == 0) ||
        (len == 1 && (text[0] == '0' || text[0] == 'f' || text[0] == 'F')))
        return json_false();
    return NULL;
}

/* Struct, Value and ListValue from text: the text is their JSON, as
 * grpc-gateway reads them ('{"a":1}', '[1,"x"]', '"x"', '1', 'null'); what
 * the JSON must be for the type is the codec's to say. */
static gw_result json_text_value(const gw_field *f, const char *text, size_t len, json_t **v,
                                 char *err, size_t errlen)
{
    json_error_t jerr;
    if ((*v = gw_json_loadb(text, len, JSON_DECODE_ANY, &jerr)))
        return GW_OK;
    if (gw_json_error_is_oom(&jerr))
        return out_of_memory(err, errlen);
    char text_shown[SHOWN_SIZE];
    snprintf(err, errlen, "field '%s' (%s) takes JSON text: '%s': %s", f->name,
             f->message->full_name, shown(text, len, text_shown), jerr.text);
    return GW_REFUSED;
}

/* Text -> JSON value *v for field f (a path variable or query parameter).
 * GW_OK, or GW_REFUSED (the text is no value of f) or GW_NOMEM with the
 * reason in err. */
static gw_result text_value(const gw_field *f, const char *text, size_t len, json_t **v,
                            char *err, size_t errlen)
{
    char text_shown[SHOWN_SIZE];
    switch (f->type) {
    case GW_TYPE_BOOL:
        if ((*v = bool_value(text, len)))
            return GW_OK;
        snprintf(err, errlen, "field '%s': '%s' is not true or false", f->name,
                 shown(text, len, text_shown));
        return GW_REFUSED;
    case GW_TYPE_ENUM:
        return enum_value(f, text, len, v, err, errlen);
    case GW_TYPE_MESSAGE:
    case GW_TYPE_GROUP: {
        /* the well-known types whose JSON form is a scalar: a wrapper
         * takes its value's text, Timestamp and Duration a string, and
         * FieldMask proto paths (mask_value) */
        const gw_message *m = f->message;
        const gw_field *inner = m && m->wkt == GW_WKT_WRAPPER ? gw_message_field_by_number(m, 1)
                                                              : NULL;
        if (inner) {
            gw_field as_outer = *inner;
            as_outer.name = f->name;
            as_outer.json_name = f->json_name;
            return text_value(&as_outer, text, len, v, err, errlen);
        }
        if (m && m->wkt == GW_WKT_FIELD_MASK)
            return mask_value(f, text, len, v, err, errlen);
        if (m && (m->wkt == GW_WKT_TIMESTAMP || m->wkt == GW_WKT_DURATION))
            break;
        if (m && (m->wkt == GW_WKT_STRUCT || m->wkt == GW_WKT_VALUE ||
                  m->wkt == GW_WKT_LIST_VALUE))
            return json_text_value(f, text, len, v, err, errlen);
        snprintf(err, errlen, "field '%s' is a message and cannot be set from text", f->name);
        return GW_REFUSED;
    }
    default:
        break;
    }
    *v = json_stringn(text, len);
    return *v ? GW_OK : string_failed(f, text, len, err, errlen);
}

/* The key under which `obj` holds field f, preferring what is there. */
static const char *field_key(const json_t *obj, const gw_field *f)
{
    if (strcmp(f->name, f->json_name) != 0 && json_object_get(obj, f->name))
        return f->name;
    return f->json_name;
}

/* Stores text as the value of map field f under map_key, in obj.  fpath
 * is the parameter's field path as a reason shows it (see shown()). */
static gw_result bind_map_entry(json_t *obj, const gw_field *f, const char *fpath,
                                const char *map_key, const char *text, size_t len, int once,
                                char *err, size_t errlen)
{
    const gw_field *vf = f->repeated && f->message && f->message->map_entry
                             ? gw_message_field_by_number(f->message, 2)
                             : NULL;
    char key_shown[SHOWN_SIZE];
    shown(map_key, strlen(map_key), key_shown);
    if (!vf) {
        snprintf(err, errlen, "'%s[%s]': field '%s' is not a map", fpath, key_shown, f->name);
        return GW_REFUSED;
    }
    gw_field as_field = *vf; /* errors name the parameter ("a.m[k]"), not "value" */
    char name[2 * SHOWN_SIZE + 2];
    snprintf(name, sizeof(name), "%s[%s]", fpath, key_shown);
    as_field.name = name;
    as_field.json_name = f->json_name;
    json_t *v = NULL;
    gw_result rc = text_value(&as_field, text, len, &v, err, errlen);
    if (rc != GW_OK)
        return rc;
    const char *key = field_key(obj, f);
    json_t *map = json_object_get(obj, key);
    if (!json_is_object(map)) {
        map = json_object();
        if (!map || json_object_set_new(obj, key, map) < 0) {
            json_decref(v);
            return out_of_memory(err, errlen);
        }
    }
    if (once && json_object_get(map, map_key)) {
        json_decref(v);
        snprintf(err, errlen, "'%s': given more than once", name);
        return GW_REFUSED;
    }
    if (json_object_set_new(map, map_key, v) < 0) {
        if (rp_utf8_valid((const uint8_t *)map_key, strlen(map_key)))
            return out_of_memory(err, errlen);
        snprintf(err, errlen, "'%s': the key is not valid UTF-8", name);
        return GW_REFUSED;
    }
    return GW_OK;
}

/* Stores v (which it takes) as the value of field f, under key in obj: an
 * element more when f is repeated.  once: see bind_text. */
static gw_result bind_value(json_t *obj, const gw_field *f, const char *key, json_t *v,
                            int once, const char *fpath, char *err, size_t errlen)
{
    if (!f->repeated && once && json_object_get(obj, key)) {
        json_decref(v);
        snprintf(err, errlen, "'%s': given more than once, and field '%s' is not repeated",
                 fpath, f->name);
        return GW_REFUSED;
    }
    if (!f->repeated) /* key is a field's name, UTF-8: only memory can fail */
        return json_object_set_new(obj, key, v) < 0 ? out_of_memory(err, errlen) : GW_OK;
    json_t *arr = json_object_get(obj, key);
    if (!json_is_array(arr)) {
        arr = json_array();
        if (json_object_set_new(obj, key, arr) < 0) { /* refuses a NULL arr too */
            json_decref(v);
            return out_of_memory(err, errlen);
        }
    }
    return json_array_append_new(arr, v) < 0 ? out_of_memory(err, errlen) : GW_OK;
}

/*
 * Stores text at dotted field path `fpath` below obj (of type m), creating
 * the objects on the way; with map_key (not NULL), as that key's value in
 * the map field fpath names ("labels[env]=prod", as grpc-gateway reads
 * query parameters).  Repeated fields collect values in an array.
 * once: a field that is not repeated and already has a value is refused (a
 * query parameter given twice); else the value replaces it (a path
 * variable over the body's field).  GW_OK, or GW_REFUSED or GW_NOMEM with
 * the reason in err.
 */
static gw_result bind_text(json_t *obj, const gw_message *m, const char *fpath,
                           const char *map_key, const char *text, size_t len, int once,
                           char *err, size_t errlen)
{
    char path_shown[SHOWN_SIZE];
    shown(fpath, strlen(fpath), path_shown);
    const char *comp = fpath;
    for (;;) {
        const char *dot = strchr(comp, '.');
        size_t clen = dot ? (size_t)(dot - comp) : strlen(comp);
        const gw_field *f = gw_message_field_by_name(m, comp, clen);
        if (!f) {
            char comp_shown[SHOWN_SIZE];
            snprintf(err, errlen, "'%s': %s has no field '%s'", path_shown, m->full_name,
                     shown(comp, clen, comp_shown));
            return GW_REFUSED;
        }
        const char *key = field_key(obj, f);
        if (dot && f->message && f->message->wkt == GW_WKT_WRAPPER && !f->repeated &&
            strcmp(dot + 1, "value") == 0)
            dot = NULL; /* "limit.value": the wrapper itself, as grpc-gateway takes it */
        if (!dot && map_key)
            return bind_map_entry(obj, f, path_shown, map_key, text, len, once, err, errlen);
        if (!dot) {
            gw_field named = *f; /* errors name the parameter as written ("a.b") */
            named.name = path_shown;
            json_t *v = NULL;
            gw_result rc = text_value(&named, text, len, &v, err, errlen);
            return rc != GW_OK ? rc : bind_value(obj, f, key, v, once, path_shown, err, errlen);
        }
        if ((f->type != GW_TYPE_MESSAGE && f->type != GW_TYPE_GROUP) || f->repeated) {
            snprintf(err, errlen, "'%s': '%s' is not a singular message field", path_shown,
                     f->name);
            return GW_REFUSED;
        }
        if (f->message && f->message->wkt != GW_WKT_NONE) {
            /* its JSON form is not its fields: "value.string_value" would be
             * read as a Value holding {"stringValue": ...} */
            snprintf(err, errlen, "'%s': field '%s' (%s) takes a value of its own, not its "
                     "fields", path_shown, f->name, f->message->full_name);
            return GW_REFUSED;
        }
        json_t *sub = json_object_get(obj, key);
        if (sub && !json_is_object(sub) && !json_is_null(sub)) {
            snprintf(err, errlen, "field '%s': expected an object (%s)", key,
                     f->message->full_name);
            return GW_REFUSED;
        }
        if (!json_is_object(sub)) {
            sub = json_object();
            if (!sub || json_object_set_new(obj, key, sub) < 0)
                return out_of_memory(err, errlen);
        }
        obj = sub;
        m = f->message;
        comp = dot + 1;
    }
}

int gw_bind_by_fields(const gw_route *route)
{
    return route->method->input->wkt != GW_WKT_NONE &&
           (strcmp(route->binding->body, "*") != 0 || route->tmpl.n_vars > 0);
}

/* Whether wire[0..len), well-known type m set field by field, is a value
 * its JSON form can carry, as a body's must be (a Timestamp's nanos in
 * 0..999999999, a FieldMask's paths field names, an Any's type one the
 * descriptors declare): it is printed, as a reply would be.  GW_OK, or
 * GW_REFUSED or GW_NOMEM with the reason. */
static gw_result check_well_known(const gw_message *m, const uint8_t *wire, size_t len,
                                  const gw_json_options *opt, char *err, size_t errlen)
{
    gw_buf text = GW_BUF_INIT;
    char why[GW_BIND_ERR_SIZE];
    gw_result rc = gw_proto_to_json(m, wire, len, opt, &text, why, sizeof(why));
    gw_buf_free(&text);
    if (rc == GW_REFUSED)
        snprintf(err, errlen, "not a valid %s: %s", m->full_name, why);
    else if (rc == GW_NOMEM)
        out_of_memory(err, errlen);
    return rc;
}

gw_result gw_bind_encode(const gw_route *route, const json_t *request,
                         const gw_json_options *opt, gw_buf *out, char *err, size_t errlen)
{
    const gw_message *in = route->method->input;
    if (!gw_bind_by_fields(route))
        return gw_json_to_proto(in, request, opt, out, err, errlen);
    size_t start = out->len;
    gw_result rc = gw_json_fields_to_proto(in, request, opt, out, err, errlen);
    if (rc == GW_OK)
        rc = check_well_known(in, out->data ? out->data + start : NULL, out->len - start, opt,
                              err, errlen);
    return rc;
}

/* The body's JSON into *out; GW_OK, GW_REFUSED or GW_NOMEM as
 * gw_bind_request. */
static gw_result parse_body(const gw_route *route, const char *body, size_t len, json_t **out,
                            char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *json = gw_json_loadb(body, len,
                                 JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!json && gw_json_error_is_oom(&jerr))
        return out_of_memory(err, errlen);
    if (!json) {
        snprintf(err, errlen, "malformed JSON body: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        return GW_REFUSED;
    }
    /* body "*" is the whole request: an object, unless the request is a
     * well-known type whose JSON form is not (a StringValue is "text", a
     * Timestamp a string, a ListValue an array), and no path variable has
     * to join it (then the body is an object of its fields) */
    const gw_message *in = route->method->input;
    if (strcmp(route->binding->body, "*") == 0 && !json_is_object(json) &&
        (in->wkt == GW_WKT_NONE || gw_bind_by_fields(route))) {
        json_decref(json);
        snprintf(err, errlen, "the body must be a JSON object (%s)", in->full_name);
        return GW_REFUSED;
    }
    *out = json;
    return GW_OK;
}

/* 1 if obj (the body, where path variables go next) holds a value, not
 * null, at the field path fpath of message m. */
static int body_has(const json_t *obj, const gw_message *m, const char *fpath)
{
    for (const char *comp = fpath;;) {
        const char *dot = strchr(comp, '.');
        size_t clen = dot ? (size_t)(dot - comp) : strlen(comp);
        const gw_field *f = gw_message_field_by_name(m, comp, clen);
        const json_t *v = f && json_is_object(obj) ? json_object_get(obj, field_key(obj, f)) : NULL;
        if (!v || json_is_null(v))
            return 0;
        if (!dot)
            return 1;
        obj = v;
        m = f->message;
        comp = dot + 1;
        if (!m)
            return 0;
    }
}

/* A body value that a path variable is about to replace must still be
 * valid where it is: grpc-gateway decodes the body before it binds the
 * path, so {"id": 5} for a string id is a 400 there whatever the path
 * says.  The whole body is checked, with the body's options, and only
 * when a variable replaces something (seldom). */
static gw_result check_replaced_values(const json_t *obj, const gw_route *route,
                                       const gw_json_options *json_opt, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < route->tmpl.n_vars &&
           !body_has(obj, route->method->input, route->tmpl.vars[i].field_path))
        i++;
    if (i == route->tmpl.n_vars)
        return GW_OK;
    gw_buf scratch = GW_BUF_INIT;
    gw_result rc = gw_bind_encode(route, obj, json_opt, &scratch, err, errlen);
    gw_buf_free(&scratch);
    return rc;
}

static gw_result bind_path(json_t *obj, const gw_route *route, const char *path,
                           const gw_path_span *spans, const gw_json_options *json_opt, char *err,
                           size_t errlen)
{
    gw_result rc = check_replaced_values(obj, route, json_opt, err, errlen);
    for (size_t i = 0; rc == GW_OK && i < route->tmpl.n_vars; i++) {
        gw_buf text = GW_BUF_INIT;
        const char *fpath = route->tmpl.vars[i].field_path;
        rc = gw_route_decode_var(&route->tmpl, i, path + spans[i].start, spans[i].len, &text);
        if (rc != GW_OK)
            snprintf(err, errlen, "path variable '%s': %s", fpath,
                     rc == GW_NOMEM ? GW_ERR_OOM : "malformed percent-encoding");
        else
            rc = bind_text(obj, route->method->input, fpath, NULL,
                           text.data ? (char *)text.data : "", text.len, 0, err, errlen);
        gw_buf_free(&text);
    }
    return rc;
}

/* Whether dotted field paths a and b name the same field of m, each
 * component by its proto or JSON name. */
static int same_field_path(const gw_message *m, const char *a, const char *b)
{
    for (;;) {
        const char *da = strchr(a, '.'), *db = strchr(b, '.');
        const gw_field *fa = gw_message_field_by_name(m, a, da ? (size_t)(da - a) : strlen(a));
        const gw_field *fb = gw_message_field_by_name(m, b, db ? (size_t)(db - b) : strlen(b));
        if (!fa || fa != fb)
            return 0;
        if (!da || !db)
            return !da && !db;
        if (!fa->message)
            return 0;
        m = fa->message;
        a = da + 1;
        b = db + 1;
    }
}

/* Whether query key `key` names the field of one of the route's path
 * variables, by whichever names: the path wins over the query. */
static int is_path_variable(const gw_route *route, const char *key)
{
    for (size_t i = 0; i < route->tmpl.n_vars; i++)
        if (same_field_path(route->method->input, route->tmpl.vars[i].field_path, key))
            return 1;
    return 0;
}

/* Whether query key `key` names the body field (body: "field") or a field
 * inside it: the body wins, and such parameters are ignored, as
 * grpc-gateway does. */
static int in_body_field(const gw_route *route, const char *key)
{
    const char *body = route->binding->body;
    if (!*body || strcmp(body, "*") == 0)
        return 0;
    const char *dot = strchr(key, '.');
    const gw_field *f = gw_message_field_by_name(route->method->input, key,
                                                 dot ? (size_t)(dot - key) : strlen(key));
    return f && f == gw_message_field_by_name(route->method->input, body, strlen(body));
}

/* 1 if the dotted field path names no field of m. */
static int names_no_field(const gw_message *m, const char *fpath)
{
    for (;;) {
        const char *dot = strchr(fpath, '.');
        size_t len = dot ? (size_t)(dot - fpath) : strlen(fpath);
        const gw_field *f = gw_message_field_by_name(m, fpath, len);
        if (!f)
            return 1;
        if (!dot)
            return 0;
        if (!f->message)
            return 1;
        m = f->message;
        fpath = dot + 1;
    }
}

/* A query parameter's name "labels[env]" (decoded, len bytes) cut into
 * the field path "labels" and the map key, which it returns ("env"; it may
 * hold dots and brackets: what lies between the first '[' and the final
 * ']'); NULL, and the name left whole, when it is not of that form. */
static const char *split_map_key(char *name, size_t len)
{
    if (len < 3 || name[len - 1] != ']')
        return NULL;
    char *open = strchr(name, '[');
    if (!open || open == name)
        return NULL;
    *open = '\0';
    name[len - 1] = '\0';
    return open + 1;
}

/* A query parameter's reason: "query parameter " and then bind_text's
 * (which names the parameter), written in place so that nothing cuts it. */
#define QUERY_PREFIX "query parameter "

/* Binds one query parameter whose name and value are decoded (NUL-ended). */
static gw_result bind_query_param(json_t *obj, const gw_route *route, char *name,
                                  size_t name_len, const gw_buf *value, int ignore_unknown,
                                  char *err, size_t errlen)
{
    const char *map_key = split_map_key(name, name_len);
    if ((ignore_unknown && names_no_field(route->method->input, name)) ||
        is_path_variable(route, name) || in_body_field(route, name))
        return GW_OK;
    size_t skip = errlen > sizeof(QUERY_PREFIX) ? sizeof(QUERY_PREFIX) - 1 : 0;
    gw_result rc = bind_text(obj, route->method->input, name, map_key, (char *)value->data,
                             value->len - 1, 1, err + skip, errlen - skip);
    if (rc == GW_REFUSED)
        memcpy(err, QUERY_PREFIX, skip);
    else if (rc == GW_NOMEM)
        out_of_memory(err, errlen);
    return rc;
}

static gw_result bind_query(json_t *obj, const gw_route *route, const gw_query_param *query,
                            size_t n_query, int ignore_unknown, char *err, size_t errlen)
{
    gw_result rc = GW_OK;
    for (size_t i = 0; rc == GW_OK && i < n_query; i++) {
        if (!query[i].key[0] && (!query[i].value || !query[i].value[0]))
            continue; /* "a=1&&b=2", "?&a=1": nothing, as Go's url.ParseQuery has it */
        gw_buf key = GW_BUF_INIT, value = GW_BUF_INIT;
        const char *raw = query[i].key;
        char raw_shown[SHOWN_SIZE];
        rc = gw_query_decode(raw, &key);
        if (rc == GW_OK)
            rc = gw_query_decode(query[i].value ? query[i].value : "", &value);
        if (rc != GW_OK) {
            snprintf(err, errlen, QUERY_PREFIX "'%s': %s", shown(raw, strlen(raw), raw_shown),
                     rc == GW_NOMEM ? GW_ERR_OOM : "malformed percent-encoding");
        } else if (strlen((char *)key.data) != key.len - 1) {
            /* field paths are C strings from here on: "tags%00x" is not "tags" */
            snprintf(err, errlen, QUERY_PREFIX "'%s': the name has a NUL byte",
                     shown(raw, strlen(raw), raw_shown));
            rc = GW_REFUSED;
        } else {
            rc = bind_query_param(obj, route, (char *)key.data, key.len - 1, &value,
                                  ignore_unknown, err, errlen);
        }
        gw_buf_free(&key);
        gw_buf_free(&value);
    }
    return rc;
}

/* Appends one FieldMask path (field 1, `repeated string paths`) to wire. */
static void put_mask_path(gw_buf *wire, const gw_buf *path)
{
    gw_buf_varint(wire, (1u << 3) | 2u);
    gw_buf_varint(wire, path->len);
    gw_buf_append(wire, path->data, path->len);
}

/* Appends a FieldMask path for every leaf of body (of type m) to wire, as
 * proto names: nested messages give dotted paths, and so do the keys of a
 * Struct's or Value's object; maps, repeated fields and the other
 * well-known types are leaves.  Proto names, not their lowerCamel JSON
 * form: that form does not always turn back into the name (line_1 ->
 * line1, fooBar -> foo_bar), so the mask goes to the wire, not through the
 * codec.  `prefix` is the dotted path so far (NULL at the top). */
static void collect_paths(const json_t *body, const gw_message *m, const gw_buf *prefix,
                          gw_buf *wire);

/* A Struct's or Value's object v at `path`: one path per key, through
 * nested objects, for the keys are the fields such a message has
 * (grpc-gateway's rule); an empty object is a leaf. */
static void collect_dynamic_paths(const json_t *v, const gw_buf *path, gw_buf *wire)
{
    if (!json_is_object(v) || json_object_size(v) == 0) {
        put_mask_path(wire, path);
        return;
    }
    const char *key;
    json_t *inner;
    json_object_foreach((json_t *)v, key, inner) {
        gw_buf deeper = GW_BUF_INIT;
        gw_buf_append(&deeper, path->data, path->len);
        gw_buf_putc(&deeper, '.');
        gw_buf_puts(&deeper, key);
        collect_dynamic_paths(inner, &deeper, wire);
        wire->oom |= deeper.oom;
        gw_buf_free(&deeper);
    }
}

static void collect_paths(const json_t *body, const gw_message *m, const gw_buf *prefix,
                          gw_buf *wire)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v) {
        const gw_field *f = gw_message_field_by_name(m, key, strlen(key));
        if (!f)
            continue; /* the codec reports it */
        gw_buf path = GW_BUF_INIT;
        if (prefix) {
            gw_buf_append(&path, prefix->data, prefix->len);
            gw_buf_putc(&path, '.');
        }
        gw_buf_puts(&path, f->name);
        int message = (f->type == GW_TYPE_MESSAGE || f->type == GW_TYPE_GROUP) && !f->repeated;
        if (message && json_is_object(v) && f->message->wkt == GW_WKT_NONE &&
            json_object_size(v) > 0)
            collect_paths(v, f->message, &path, wire);
        else if (message &&
                 (f->message->wkt == GW_WKT_STRUCT || f->message->wkt == GW_WKT_VALUE))
            collect_dynamic_paths(v, &path, wire);
        else
            put_mask_path(wire, &path);
        wire->oom |= path.oom;
        gw_buf_free(&path);
    }
}

/* The request's FieldMask field that a PATCH with body: "field" (a
 * message) fills from the body (grpc-gateway's allow_patch_feature), or
 * NULL when the binding is not such a PATCH. */
static const gw_field *patch_mask_field(const gw_route *route)
{
    const gw_message *in = route->method->input;
    const char *body_field = route->binding->body;
    const gw_field *bf = gw_message_field_by_name(in, body_field, strlen(body_field));
    if (strcmp(route->binding->verb, "PATCH") != 0 || !bf || bf->type != GW_TYPE_MESSAGE ||
        bf->repeated)
        return NULL;
    for (size_t i = 0; i < in->n_fields; i++) {
        const gw_field *f = &in->fields[i];
        if (f->type == GW_TYPE_MESSAGE && !f->repeated && f->message->wkt == GW_WKT_FIELD_MASK)
            return f;
    }
    return NULL;
}

/* The mask field f, holding the FieldMask `paths` (its encoded paths), as
 * bytes to append to the request's encoding, unless the client set it:
 * then it is dropped, as is an empty mask the client sent (grpc-gateway
 * counts that as none). */
static void patch_mask_tail(json_t *obj, const gw_field *f, const gw_buf *paths, gw_buf *tail)
{
    const char *key = field_key(obj, f);
    const json_t *given = json_object_get(obj, key);
    if (given && !json_is_null(given) &&
        !(json_is_string(given) && json_string_length(given) == 0))
        return; /* the client said which fields */
    if (given)
        json_object_del(obj, key);
    gw_buf_varint(tail, ((uint64_t)f->number << 3) | 2u);
    gw_buf_varint(tail, paths->len);
    gw_buf_append(tail, paths->data, paths->len);
}

/* 1 if body[len] holds no JSON value: nothing, or JSON's whitespace only (a
 * file of one newline sent with curl -d @FILE), which grpc-gateway also
 * reads as no body. */
static int body_blank(const char *body, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (body[i] != ' ' && body[i] != '\t' && body[i] != '\n' && body[i] != '\r')
            return 0;
    return 1;
}

gw_result gw_bind_request(const gw_route *route, const char *path, const gw_path_span *spans,
                          const char *body, size_t body_len, const gw_query_param *query,
                          size_t n_query, const gw_bind_options *opt, json_t **out,
                          gw_buf *tail, char *err, size_t errlen)
{
    const char *body_field = route->binding->body;
    if (route->raw_request) { /* the bytes as they came, with their Content-Type */
        gw_httpbody_write(tail, route->raw_request_field, opt->content_type,
                          (const uint8_t *)body, body_len);
        body_len = 0;
    }
    json_t *parsed = NULL;
    gw_result rc = *body_field && body_len && !body_blank(body, body_len)
                       ? parse_body(route, body, body_len, &parsed, err, errlen)
                       : GW_OK;
    if (rc != GW_OK)
        return rc;
    /* the mask lists what the body holds before path variables join it */
    const gw_field *mask_field = json_is_object(parsed) ? patch_mask_field(route) : NULL;
    gw_buf mask = GW_BUF_INIT;
    if (mask_field) {
        const gw_field *bf = gw_message_field_by_name(route->method->input, body_field,
                                                      strlen(body_field));
        collect_paths(parsed, bf->message, NULL, &mask);
    }
    json_t *obj;
    if (strcmp(body_field, "*") == 0) {
        /* no body: the default message, which for a request that is a
         * well-known type with a JSON form of its own (a Timestamp's string)
         * only null says, when no path variable needs an object */
        int own_form = route->method->input->wkt != GW_WKT_NONE && route->tmpl.n_vars == 0;
        obj = parsed ? parsed : own_form ? json_null() : json_object();
    } else {
        obj = json_object();
        const gw_field *f = gw_message_field_by_name(route->method->input, body_field,
                                                     strlen(body_field));
        if (!obj) {
            json_decref(parsed);
        } else if (parsed && json_object_set_new(obj, f ? f->json_name : body_field, parsed) < 0) {
            json_decref(obj); /* a field's name is UTF-8: only memory fails */
            obj = NULL;
        }
    }
    if (!obj || mask.oom)
        rc = out_of_memory(err, errlen);
    if (rc == GW_OK)
        rc = bind_path(obj, route, path, spans, opt->json, err, errlen);
    if (rc == GW_OK && strcmp(body_field, "*") != 0)
        rc = bind_query(obj, route, query, n_query, opt->ignore_unknown_query, err, errlen);
    if (rc == GW_OK && mask_field)
        patch_mask_tail(obj, mask_field, &mask, tail);
    gw_buf_free(&mask);
    if (rc == GW_OK && tail->oom)
        rc = out_of_memory(err, errlen);
    if (rc != GW_OK)
        json_decref(obj);
    else
        *out = obj;
    return rc;
}
