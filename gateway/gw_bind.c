/*
 * gw_bind.c -- HTTP request parts -> the JSON form of the request message.
 *
 * Path variables and query parameters arrive as text; each is converted by
 * the type of the field it names (bool, enum number, string…) and stored at
 * its dotted field path, so the JSON codec sees one ordinary object.  Path
 * variables override body fields of the same name, as in grpc-gateway.
 */
#include "gw_bind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_buf.h"
#include "gw_json.h"
#include "gw_wkt.h"

/*
 * A FieldMask's text in a query parameter or path variable, as grpc-gateway
 * takes it: comma-separated proto field paths ("page_size,origin.author"),
 * to the JSON form the codec reads ("pageSize,origin.author").  A
 * lowerCamelCase path is taken as it is (it already is the JSON form).  An
 * empty path is refused, and so is a '_' not followed by a lowercase letter
 * ("line_1"), which the JSON form cannot carry.  "" is a mask with no paths.
 */
static json_t *mask_value(const gw_field *f, const char *text, size_t len, char *err,
                          size_t errlen)
{
    gw_buf b = GW_BUF_INIT;
    for (size_t start = 0, i = 0; len > 0 && i <= len; i++) {
        if (i < len && text[i] != ',')
            continue;
        const char *path = text + start;
        int plen = (int)(i - start > 64 ? 64 : i - start);
        if (i == start) {
            snprintf(err, errlen, "field '%s': an empty path in the mask '%.*s'", f->name,
                     (int)(len > 64 ? 64 : len), text);
            gw_buf_free(&b);
            return NULL;
        }
        const char *why = memchr(path, '\0', i - start)
                              ? "has a NUL byte"
                              : gw_wkt_camel_path((const uint8_t *)path, i - start, 1, &b);
        if (why) {
            snprintf(err, errlen, "field '%s': path '%.*s' %s", f->name, plen, path, why);
            gw_buf_free(&b);
            return NULL;
        }
        if (i < len)
            gw_buf_putc(&b, ',');
        start = i + 1;
    }
    json_t *v = b.oom ? NULL : json_stringn(b.data ? (char *)b.data : "", b.len);
    if (!v && b.oom)
        snprintf(err, errlen, "%s", GW_ERR_OOM);
    else if (!v)
        snprintf(err, errlen, "field '%s': value is not valid UTF-8", f->name);
    gw_buf_free(&b);
    return v;
}

/* Text -> JSON value for enum field f: a name or a number it declares.
 * Checked here, not left to the body's encoder: json_ignore_unknown_fields
 * is about a body's keys, and a path or query value the enum lacks is
 * refused, as grpc-gateway does (even for a proto3 enum, which takes any
 * number in a body). */
static json_t *enum_value(const gw_field *f, const char *text, size_t len, char *err,
                          size_t errlen)
{
    int shown = (int)(len > 100 ? 100 : len);
    char small[128], *name = small; /* text is not NUL-terminated */
    if (len >= sizeof(small) && !(name = malloc(len + 1))) {
        snprintf(err, errlen, "%s", GW_ERR_OOM);
        return NULL;
    }
    memcpy(name, text, len);
    name[len] = '\0';
    json_t *v = NULL;
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
            v = json_integer(number);
    } else if (!memchr(text, '\0', len) && gw_enum_by_name(f->enumeration, name)) {
        v = json_stringn(text, len);
    } else {
        snprintf(err, errlen, "field '%s': '%.*s%s' is not a value of enum %s", f->name, shown,
                 text, len > (size_t)shown ? "..." : "", f->enumeration->full_name);
    }
    if (name != small)
        free(name);
    return v;
}

/* Text -> JSON value for field f (a path variable or query parameter). */
static json_t *text_value(const gw_field *f, const char *text, size_t len, char *err,
                          size_t errlen)
{
    json_t *v = NULL;
    switch (f->type) {
    case GW_TYPE_BOOL:
        if (len == 4 && strncasecmp(text, "true", 4) == 0) v = json_true();
        else if (len == 5 && strncasecmp(text, "false", 5) == 0) v = json_false();
        else if (len == 1 && (text[0] == '1' || text[0] == 't' || text[0] == 'T')) v = json_true();
        else if (len == 1 && (text[0] == '0' || text[0] == 'f' || text[0] == 'F')) v = json_false();
        else snprintf(err, errlen, "field '%s': '%.*s' is not true or false", f->name,
                      (int)(len > 64 ? 64 : len), text);
        return v;
    case GW_TYPE_ENUM:
        return enum_value(f, text, len, err, errlen);
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
            return text_value(&as_outer, text, len, err, errlen);
        }
        if (m && m->wkt == GW_WKT_FIELD_MASK)
            return mask_value(f, text, len, err, errlen);
        if (m && (m->wkt == GW_WKT_TIMESTAMP || m->wkt == GW_WKT_DURATION))
            break;
        snprintf(err, errlen, "field '%s' is a message and cannot be set from text", f->name);
        return NULL;
    }
    default:
        break;
    }
    v = json_stringn(text, len);
    if (!v)
        snprintf(err, errlen, "field '%s': value is not valid UTF-8", f->name);
    return v;
}

/* The key under which `obj` holds field f, preferring what is there. */
static const char *field_key(const json_t *obj, const gw_field *f)
{
    if (strcmp(f->name, f->json_name) != 0 && json_object_get(obj, f->name))
        return f->name;
    return f->json_name;
}

/* Stores text as the value of map field f under map_key, in obj. */
static int bind_map_entry(json_t *obj, const gw_field *f, const char *fpath,
                          const char *map_key, const char *text, size_t len, int once, char *err,
                          size_t errlen)
{
    const gw_field *vf = f->repeated && f->message && f->message->map_entry
                             ? gw_message_field_by_number(f->message, 2)
                             : NULL;
    if (!vf) {
        snprintf(err, errlen, "'%s[%.100s]': field '%s' is not a map", fpath, map_key, f->name);
        return -1;
    }
    gw_field as_field = *vf; /* errors name the parameter ("a.m[k]"), not "value" */
    char name[256];
    snprintf(name, sizeof(name), "%s[%.100s]", fpath, map_key);
    as_field.name = name;
    as_field.json_name = f->json_name;
    json_t *v = text_value(&as_field, text, len, err, errlen);
    if (!v)
        return -1;
    const char *key = field_key(obj, f);
    json_t *map = json_object_get(obj, key);
    if (!json_is_object(map)) {
        map = json_object();
        if (!map || json_object_set_new(obj, key, map) < 0) {
            json_decref(v);
            snprintf(err, errlen, "%s", GW_ERR_OOM);
            return -1;
        }
    }
    if (once && json_object_get(map, map_key)) {
        json_decref(v);
        snprintf(err, errlen, "'%s[%.100s]': given more than once", fpath, map_key);
        return -1;
    }
    if (json_object_set_new(map, map_key, v) < 0) {
        snprintf(err, errlen, "'%s[%.100s]': the key is not valid UTF-8", fpath, map_key);
        return -1;
    }
    return 0;
}

/*
 * Stores text at dotted field path `fpath` below obj (of type m), creating
 * the objects on the way; with map_key (not NULL), as that key's value in
 * the map field fpath names ("labels[env]=prod", as grpc-gateway reads
 * query parameters).  Repeated fields collect values in an array.
 * once: a field that is not repeated and already has a value is refused (a
 * query parameter given twice); else the value replaces it (a path
 * variable over the body's field).
 */
static int bind_text(json_t *obj, const gw_message *m, const char *fpath, const char *map_key,
                     const char *text, size_t len, int once, char *err, size_t errlen)
{
    const char *comp = fpath;
    for (;;) {
        const char *dot = strchr(comp, '.');
        size_t clen = dot ? (size_t)(dot - comp) : strlen(comp);
        const gw_field *f = gw_message_field_by_name(m, comp, clen);
        if (!f) {
            snprintf(err, errlen, "'%s': %s has no field '%.*s'", fpath, m->full_name,
                     (int)clen, comp);
            return -1;
        }
        const char *key = field_key(obj, f);
        if (!dot && map_key)
            return bind_map_entry(obj, f, fpath, map_key, text, len, once, err, errlen);
        if (!dot) {
            gw_field named = *f; /* errors name the parameter as written ("a.b") */
            named.name = fpath;
            json_t *v = text_value(&named, text, len, err, errlen);
            if (!v)
                return -1;
            if (!f->repeated && once && json_object_get(obj, key)) {
                json_decref(v);
                snprintf(err, errlen, "'%s': given more than once, and field '%s' is not "
                         "repeated", fpath, f->name);
                return -1;
            }
            if (!f->repeated)
                return json_object_set_new(obj, key, v);
            json_t *arr = json_object_get(obj, key);
            if (!json_is_array(arr)) {
                arr = json_array();
                json_object_set_new(obj, key, arr);
            }
            return json_array_append_new(arr, v);
        }
        if ((f->type != GW_TYPE_MESSAGE && f->type != GW_TYPE_GROUP) || f->repeated) {
            snprintf(err, errlen, "'%s': '%s' is not a singular message field", fpath, f->name);
            return -1;
        }
        json_t *sub = json_object_get(obj, key);
        if (sub && !json_is_object(sub) && !json_is_null(sub)) {
            snprintf(err, errlen, "field '%s': expected an object (%s)", key,
                     f->message->full_name);
            return -1;
        }
        if (!json_is_object(sub)) {
            sub = json_object();
            if (!sub || json_object_set_new(obj, key, sub) < 0) {
                snprintf(err, errlen, "%s", GW_ERR_OOM);
                return -1;
            }
        }
        obj = sub;
        m = f->message;
        comp = dot + 1;
    }
}

static json_t *parse_body(const gw_route *route, const char *body, size_t len, char *err,
                          size_t errlen)
{
    json_error_t jerr;
    json_t *json = gw_json_loadb(body, len,
                                 JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!json && gw_json_error_is_oom(&jerr)) {
        snprintf(err, errlen, "%s", GW_ERR_OOM);
        return NULL;
    }
    if (!json) {
        snprintf(err, errlen, "malformed JSON body: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        return NULL;
    }
    /* body "*" is the whole request: an object, unless the request is a
     * well-known type whose JSON form is not (a StringValue is "text", a
     * Timestamp a string, a ListValue an array), and no path variable has
     * to join it */
    const gw_message *in = route->method->input;
    if (strcmp(route->binding->body, "*") == 0 && !json_is_object(json) &&
        (in->wkt == GW_WKT_NONE || route->tmpl.n_vars > 0)) {
        json_decref(json);
        snprintf(err, errlen, "the body must be a JSON object (%s)", in->full_name);
        return NULL;
    }
    return json;
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
static int check_replaced_values(const json_t *obj, const gw_route *route,
                                 const gw_json_options *json_opt, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < route->tmpl.n_vars &&
           !body_has(obj, route->method->input, route->tmpl.vars[i].field_path))
        i++;
    if (i == route->tmpl.n_vars)
        return 0;
    gw_buf scratch = GW_BUF_INIT;
    int rc = gw_json_to_proto(route->method->input, obj, json_opt, &scratch, err, errlen);
    gw_buf_free(&scratch);
    return rc;
}

static int bind_path(json_t *obj, const gw_route *route, const char *path,
                     const gw_path_span *spans, const gw_json_options *json_opt, char *err,
                     size_t errlen)
{
    if (check_replaced_values(obj, route, json_opt, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < route->tmpl.n_vars; i++) {
        gw_buf text = GW_BUF_INIT;
        const char *fpath = route->tmpl.vars[i].field_path;
        int rc = gw_route_decode_var(&route->tmpl, i, path + spans[i].start, spans[i].len,
                                     &text);
        if (rc < 0)
            snprintf(err, errlen, "path variable '%s': %s", fpath,
                     rc == -2 ? GW_ERR_OOM : "malformed percent-encoding");
        else
            rc = bind_text(obj, route->method->input, fpath, NULL,
                           text.data ? (char *)text.data : "", text.len, 0, err, errlen);
        gw_buf_free(&text);
        if (rc < 0)
            return -1;
    }
    return 0;
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

static int bind_query(json_t *obj, const gw_route *route, const gw_query_param *query,
                      size_t n_query, int ignore_unknown, char *err, size_t errlen)
{
    for (size_t i = 0; i < n_query; i++) {
        if (!query[i].key[0] && (!query[i].value || !query[i].value[0]))
            continue; /* "a=1&&b=2", "?&a=1": nothing, as Go's url.ParseQuery has it */
        gw_buf key = GW_BUF_INIT, value = GW_BUF_INIT;
        int rc = 0;
        int decoded = gw_query_decode(query[i].key, &key);
        if (decoded == 0)
            decoded = gw_query_decode(query[i].value ? query[i].value : "", &value);
        if (decoded < 0) {
            snprintf(err, errlen, "query parameter '%.100s': %s", query[i].key,
                     decoded == -2 ? GW_ERR_OOM : "malformed percent-encoding");
            rc = -1;
        } else if (strlen((char *)key.data) != key.len - 1) {
            /* field paths are C strings from here on: "tags%00x" is not "tags" */
            snprintf(err, errlen, "query parameter '%.100s': the name has a NUL byte",
                     query[i].key);
            rc = -1;
        } else {
            char *fpath = (char *)key.data;
            const char *map_key = split_map_key(fpath, key.len - 1);
            if (ignore_unknown && names_no_field(route->method->input, fpath))
                rc = 0;
            else if (!is_path_variable(route, fpath) && !in_body_field(route, fpath))
                rc = bind_text(obj, route->method->input, fpath, map_key, (char *)value.data,
                               value.len - 1, 1, err, errlen);
            if (rc < 0) {
                char why[256];
                snprintf(why, sizeof(why), "%s", err);
                snprintf(err, errlen, "query parameter %s", why);
            }
        }
        gw_buf_free(&key);
        gw_buf_free(&value);
        if (rc < 0)
            return -1;
    }
    return 0;
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

json_t *gw_bind_request(const gw_route *route, const char *path, const gw_path_span *spans,
                        const char *body, size_t body_len, const gw_query_param *query,
                        size_t n_query, const gw_bind_options *opt, gw_buf *tail, char *err,
                        size_t errlen)
{
    const char *body_field = route->binding->body;
    json_t *parsed = NULL;
    if (*body_field && body_len > 0 && !(parsed = parse_body(route, body, body_len, err, errlen)))
        return NULL;
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
        if (obj && parsed) {
            const gw_field *f = gw_message_field_by_name(route->method->input, body_field,
                                                         strlen(body_field));
            json_object_set_new(obj, f ? f->json_name : body_field, parsed);
        }
    }
    if (!obj || mask.oom) {
        snprintf(err, errlen, "%s", GW_ERR_OOM);
        json_decref(obj);
        gw_buf_free(&mask);
        return NULL;
    }
    if (bind_path(obj, route, path, spans, opt->json, err, errlen) < 0 ||
        (strcmp(body_field, "*") != 0 &&
         bind_query(obj, route, query, n_query, opt->ignore_unknown_query, err, errlen) < 0)) {
        json_decref(obj);
        gw_buf_free(&mask);
        return NULL;
    }
    if (mask_field)
        patch_mask_tail(obj, mask_field, &mask, tail);
    gw_buf_free(&mask);
    if (tail->oom) {
        snprintf(err, errlen, "%s", GW_ERR_OOM);
        json_decref(obj);
        return NULL;
    }
    return obj;
}
