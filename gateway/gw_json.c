/*
 * gw_json.c -- proto3 JSON <-> protobuf wire format over a gw_schema.
 *
 * JSON -> wire walks a jansson tree and writes wire bytes straight into a
 * gw_buf (a nested message is written in place and its length prefix
 * inserted afterwards).  Wire -> JSON scans a message once into a list of
 * field occurrences, groups them by field (last one wins for singular
 * fields, as protobuf parsers do) and prints fields in field-number order.
 */
#include "gw_json.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_base64.h"

#define MAX_DEPTH 100 /* nested messages, as protobuf's own parsers allow */

enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LEN = 2, WIRE_SGROUP = 3, WIRE_EGROUP = 4,
       WIRE_FIXED32 = 5 };

/* A conversion in progress: options, error text and the JSON path of the
 * value being converted ("items[2].name"), for error messages. */
typedef struct conv {
    const gw_json_options *opt;
    char *err;
    size_t errlen;
    int depth;
    char path[256];
    size_t path_len;
} conv;

static int conv_fail(conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int conv_fail(conv *c, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (c->path_len)
        snprintf(c->err, c->errlen, "field '%s': %s", c->path, what);
    else
        snprintf(c->err, c->errlen, "%s", what);
    return -1;
}

static size_t path_push(conv *c, const char *name, long index)
{
    size_t saved = c->path_len;
    int n;
    if (index >= 0)
        n = snprintf(c->path + saved, sizeof(c->path) - saved, "[%ld]", index);
    else
        n = snprintf(c->path + saved, sizeof(c->path) - saved, "%s%s", saved ? "." : "", name);
    if (n > 0)
        c->path_len = saved + (size_t)n < sizeof(c->path) ? saved + (size_t)n
                                                          : sizeof(c->path) - 1;
    return saved;
}

static void path_pop(conv *c, size_t saved)
{
    c->path_len = saved;
    c->path[saved] = '\0';
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static int wire_type_of(int type)
{
    switch (type) {
    case GW_TYPE_DOUBLE: case GW_TYPE_FIXED64: case GW_TYPE_SFIXED64: return WIRE_FIXED64;
    case GW_TYPE_FLOAT: case GW_TYPE_FIXED32: case GW_TYPE_SFIXED32: return WIRE_FIXED32;
    case GW_TYPE_STRING: case GW_TYPE_BYTES: case GW_TYPE_MESSAGE: return WIRE_LEN;
    case GW_TYPE_GROUP: return WIRE_SGROUP;
    default: return WIRE_VARINT;
    }
}

/* ======================= JSON -> wire ======================================= */

/* Integer text: optional sign, then digits only. */
static int parse_int_text(const char *s, int is_signed, int64_t *sv, uint64_t *uv)
{
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (*p < '0' || *p > '9')
        return -1;
    uint64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (*p)
        return -1;
    if (!is_signed) {
        if (neg && v != 0)
            return -1;
        *uv = v;
        return 0;
    }
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
        return -1;
    *sv = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* The integer value of a JSON number or numeric string, range-checked for
 * field type `type`.  Signed results go to *sv, unsigned to *uv. */
static int integer_value(conv *c, int type, const json_t *v, int64_t *sv, uint64_t *uv)
{
    int is_signed = type == GW_TYPE_INT32 || type == GW_TYPE_INT64 || type == GW_TYPE_SINT32 ||
                    type == GW_TYPE_SINT64 || type == GW_TYPE_SFIXED32 ||
                    type == GW_TYPE_SFIXED64 || type == GW_TYPE_ENUM;
    int is_32 = type == GW_TYPE_INT32 || type == GW_TYPE_SINT32 || type == GW_TYPE_SFIXED32 ||
                type == GW_TYPE_UINT32 || type == GW_TYPE_FIXED32 || type == GW_TYPE_ENUM;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (is_signed)
            *sv = i;
        else if (i < 0)
            return conv_fail(c, "%lld is out of range for an unsigned integer", (long long)i);
        else
            *uv = (uint64_t)i;
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d != floor(d) || !(d >= -9223372036854775808.0 && d < 18446744073709551616.0))
            return conv_fail(c, "%g is not an integer", d);
        if (is_signed) {
            if (d >= 9223372036854775808.0)
                return conv_fail(c, "%g is out of range", d);
            *sv = (int64_t)d;
        } else {
            if (d < 0)
                return conv_fail(c, "%g is out of range for an unsigned integer", d);
            *uv = (uint64_t)d;
        }
    } else if (json_is_string(v)) {
        if (parse_int_text(json_string_value(v), is_signed, sv, uv) < 0)
            return conv_fail(c, "'%s' is not a valid integer", json_string_value(v));
    } else {
        return conv_fail(c, "expected an integer, got %s", json_kind(v));
    }
    if (is_32 && is_signed && (*sv < INT32_MIN || *sv > INT32_MAX))
        return conv_fail(c, "%" PRId64 " is out of range for a 32-bit integer", *sv);
    if (is_32 && !is_signed && *uv > UINT32_MAX)
        return conv_fail(c, "%" PRIu64 " is out of range for a 32-bit unsigned integer", *uv);
    return 0;
}

static int json_float_value(conv *c, int type, const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        if (strcmp(s, "NaN") == 0)
            *out = NAN;
        else if (strcmp(s, "Infinity") == 0)
            *out = INFINITY;
        else if (strcmp(s, "-Infinity") == 0)
            *out = -INFINITY;
        else if (*s && !strpbrk(s, "nNiIxX \t") && (*out = strtod(s, &end), *end == '\0'))
            ; /* a plain numeric string */
        else
            return conv_fail(c, "'%s' is not a number", s);
    } else {
        return conv_fail(c, "expected a number, got %s", json_kind(v));
    }
    if (type == GW_TYPE_FLOAT && isfinite(*out) && fabs(*out) > FLT_MAX)
        return conv_fail(c, "%g is out of range for a float", *out);
    return 0;
}

static int encode_message(conv *c, const gw_message *m, const json_t *obj, gw_buf *out);

static void put_tag(gw_buf *out, uint32_t number, int wire)
{
    gw_buf_varint(out, (uint64_t)number << 3 | (uint64_t)wire);
}

static int encode_enum(conv *c, const gw_field *f, const json_t *v, gw_buf *out, int *skip)
{
    if (json_is_string(v)) {
        const gw_enum_value *ev = gw_enum_by_name(f->enumeration, json_string_value(v));
        if (ev) {
            gw_buf_varint(out, (uint64_t)(int64_t)ev->number);
            return 0;
        }
        if (c->opt->ignore_unknown_fields) {
            *skip = 1;
            return 0;
        }
        return conv_fail(c, "'%s' is not a value of enum %s", json_string_value(v),
                         f->enumeration->full_name);
    }
    int64_t sv = 0;
    uint64_t uv = 0;
    if (!json_is_number(v))
        return conv_fail(c, "expected an enum name or number, got %s", json_kind(v));
    if (integer_value(c, GW_TYPE_ENUM, v, &sv, &uv) < 0)
        return -1;
    gw_buf_varint(out, (uint64_t)sv);
    return 0;
}

/* Writes the value of one scalar (non-message) field, without its tag.
 * *skip is set when the value is to be dropped (unknown enum name ignored). */
static int encode_scalar(conv *c, const gw_field *f, const json_t *v, gw_buf *out, int *skip)
{
    int64_t sv = 0;
    uint64_t uv = 0;
    double d = 0;
    switch (f->type) {
    case GW_TYPE_DOUBLE:
    case GW_TYPE_FLOAT:
        if (json_float_value(c, f->type, v, &d) < 0)
            return -1;
        if (f->type == GW_TYPE_DOUBLE) {
            uint64_t bits;
            memcpy(&bits, &d, 8);
            gw_buf_fixed64(out, bits);
        } else {
            float fl = (float)d;
            uint32_t bits;
            memcpy(&bits, &fl, 4);
            gw_buf_fixed32(out, bits);
        }
        return 0;
    case GW_TYPE_BOOL:
        if (!json_is_boolean(v))
            return conv_fail(c, "expected true or false, got %s", json_kind(v));
        gw_buf_varint(out, json_is_true(v));
        return 0;
    case GW_TYPE_STRING:
        if (!json_is_string(v))
            return conv_fail(c, "expected a string, got %s", json_kind(v));
        gw_buf_varint(out, json_string_length(v));
        gw_buf_append(out, json_string_value(v), json_string_length(v));
        return 0;
    case GW_TYPE_BYTES: {
        if (!json_is_string(v))
            return conv_fail(c, "expected a base64 string, got %s", json_kind(v));
        size_t at = out->len;
        if (gw_base64_decode(out, json_string_value(v), json_string_length(v)) < 0)
            return conv_fail(c, "not valid base64");
        gw_buf_insert_varint(out, at, out->len - at);
        return 0;
    }
    case GW_TYPE_ENUM:
        return encode_enum(c, f, v, out, skip);
    default:
        break;
    }
    if (integer_value(c, f->type, v, &sv, &uv) < 0)
        return -1;
    switch (f->type) {
    case GW_TYPE_INT32: case GW_TYPE_INT64: gw_buf_varint(out, (uint64_t)sv); break;
    case GW_TYPE_UINT32: case GW_TYPE_UINT64: gw_buf_varint(out, uv); break;
    case GW_TYPE_SINT32: case GW_TYPE_SINT64:
        gw_buf_varint(out, ((uint64_t)sv << 1) ^ (uint64_t)(sv >> 63));
        break;
    case GW_TYPE_FIXED32: gw_buf_fixed32(out, (uint32_t)uv); break;
    case GW_TYPE_SFIXED32: gw_buf_fixed32(out, (uint32_t)(int32_t)sv); break;
    case GW_TYPE_FIXED64: gw_buf_fixed64(out, uv); break;
    case GW_TYPE_SFIXED64: gw_buf_fixed64(out, (uint64_t)sv); break;
    default: return conv_fail(c, "unsupported field type %d", f->type);
    }
    return 0;
}

/* One value of field f (a singular field, or one element of a repeated
 * one), tag included. */
static int encode_one(conv *c, const gw_field *f, const json_t *v, gw_buf *out)
{
    if (f->type == GW_TYPE_MESSAGE) {
        put_tag(out, f->number, WIRE_LEN);
        size_t at = out->len;
        if (encode_message(c, f->message, v, out) < 0)
            return -1;
        gw_buf_insert_varint(out, at, out->len - at);
        return 0;
    }
    if (f->type == GW_TYPE_GROUP)
        return conv_fail(c, "proto2 groups are not supported");
    size_t at = out->len;
    int skip = 0;
    put_tag(out, f->number, wire_type_of(f->type));
    if (encode_scalar(c, f, v, out, &skip) < 0)
        return -1;
    if (skip)
        out->len = at;
    return 0;
}

static int encode_packed(conv *c, const gw_field *f, const json_t *arr, gw_buf *out)
{
    if (json_array_size(arr) == 0)
        return 0;
    put_tag(out, f->number, WIRE_LEN);
    size_t at = out->len;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        size_t saved = path_push(c, NULL, (long)i);
        int skip = 0;
        if (json_is_null(v)) {
            path_pop(c, saved);
            return conv_fail(c, "null is not allowed in a repeated field");
        }
        if (encode_scalar(c, f, v, out, &skip) < 0)
            return -1;
        path_pop(c, saved);
    }
    gw_buf_insert_varint(out, at, out->len - at);
    return 0;
}

/* A map<K,V> entry key: JSON object keys are strings; convert to K. */
static int encode_map_key(conv *c, const gw_field *kf, const char *key, gw_buf *out)
{
    put_tag(out, kf->number, wire_type_of(kf->type));
    if (kf->type == GW_TYPE_STRING) {
        size_t len = strlen(key);
        gw_buf_varint(out, len);
        gw_buf_append(out, key, len);
        return 0;
    }
    if (kf->type == GW_TYPE_BOOL) {
        if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
            return conv_fail(c, "map key '%s' is not true or false", key);
        gw_buf_varint(out, key[0] == 't');
        return 0;
    }
    json_t *text = json_string(key);
    if (!text)
        return conv_fail(c, "map key is not valid UTF-8");
    int skip = 0;
    int rc = encode_scalar(c, kf, text, out, &skip);
    json_decref(text);
    return rc;
}

static int encode_map(conv *c, const gw_field *f, const json_t *obj, gw_buf *out)
{
    if (!json_is_object(obj))
        return conv_fail(c, "expected an object (a map), got %s", json_kind(obj));
    const gw_field *kf = gw_message_field_by_number(f->message, 1);
    const gw_field *vf = gw_message_field_by_number(f->message, 2);
    if (!kf || !vf)
        return conv_fail(c, "map entry type %s has no key or value", f->message->full_name);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        size_t saved = path_push(c, key, -1);
        if (json_is_null(v))
            return conv_fail(c, "null is not allowed as a map value");
        put_tag(out, f->number, WIRE_LEN);
        size_t at = out->len;
        if (encode_map_key(c, kf, key, out) < 0 || encode_one(c, vf, v, out) < 0)
            return -1;
        gw_buf_insert_varint(out, at, out->len - at);
        path_pop(c, saved);
    }
    return 0;
}

static int encode_field(conv *c, const gw_field *f, const json_t *v, gw_buf *out)
{
    if (json_is_null(v))
        return 0; /* null means "default": nothing on the wire */
    if (f->repeated && f->message && f->message->map_entry)
        return encode_map(c, f, v, out);
    if (f->repeated) {
        if (!json_is_array(v))
            return conv_fail(c, "expected an array, got %s", json_kind(v));
        if (f->packed)
            return encode_packed(c, f, v, out);
        size_t i;
        json_t *elem;
        json_array_foreach(v, i, elem) {
            size_t saved = path_push(c, NULL, (long)i);
            if (json_is_null(elem))
                return conv_fail(c, "null is not allowed in a repeated field");
            if (encode_one(c, f, elem, out) < 0)
                return -1;
            path_pop(c, saved);
        }
        return 0;
    }
    return encode_one(c, f, v, out);
}

static int encode_message(conv *c, const gw_message *m, const json_t *obj, gw_buf *out)
{
    if (json_is_null(obj))
        return 0;
    if (!json_is_object(obj))
        return conv_fail(c, "expected an object (%s), got %s", m->full_name, json_kind(obj));
    if (++c->depth > MAX_DEPTH)
        return conv_fail(c, "messages nested more than %d deep", MAX_DEPTH);
    /* which fields were already set, to refuse duplicates and oneof clashes */
    unsigned char seen_small[256];
    unsigned char *seen = m->n_fields <= sizeof(seen_small) ? seen_small
                                                            : calloc(m->n_fields, 1);
    if (!seen)
        return conv_fail(c, "out of memory");
    memset(seen, 0, m->n_fields <= sizeof(seen_small) ? m->n_fields : 0);
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        const gw_field *f = gw_message_field_by_name(m, key, strlen(key));
        size_t saved = path_push(c, key, -1);
        if (!f) {
            if (c->opt->ignore_unknown_fields) {
                path_pop(c, saved);
                continue;
            }
            rc = conv_fail(c, "no such field in %s", m->full_name);
            break;
        }
        size_t idx = (size_t)(f - m->fields);
        if (seen[idx]) {
            rc = conv_fail(c, "set twice (by its JSON name and its proto name)");
            break;
        }
        seen[idx] = json_is_null(v) ? 1 : 2; /* 2: holds a value */
        if (seen[idx] == 2 && f->oneof_index >= 0) {
            for (size_t j = 0; j < m->n_fields && rc == 0; j++)
                if (j != idx && seen[j] == 2 && m->fields[j].oneof_index == f->oneof_index)
                    rc = conv_fail(c, "'%s' of the same oneof is already set",
                                   m->fields[j].json_name);
            if (rc < 0)
                break;
        }
        if ((rc = encode_field(c, f, v, out)) < 0)
            break;
        path_pop(c, saved);
    }
    if (seen != seen_small)
        free(seen);
    c->depth--;
    if (rc == 0 && out->oom)
        return conv_fail(c, "out of memory");
    return rc;
}

int gw_json_to_proto(const gw_message *m, const json_t *json, const gw_json_options *opt,
                     gw_buf *out, char *err, size_t errlen)
{
    static const gw_json_options defaults = {0, 0, 0};
    conv c = {.opt = opt ? opt : &defaults, .err = err, .errlen = errlen};
    c.path[0] = '\0';
    return encode_message(&c, m, json, out);
}

/* ======================= wire -> JSON ======================================= */

typedef struct occurrence {
    uint32_t field;  /* index into m->fields */
    uint8_t wire;
    uint64_t value;  /* varint / fixed value */
    const uint8_t *data; /* WIRE_LEN payload */
    size_t len;
} occurrence;

static int read_fixed(const uint8_t **p, const uint8_t *end, int size, uint64_t *out)
{
    if (end - *p < size)
        return -1;
    uint64_t v = 0;
    for (int i = size - 1; i >= 0; i--)
        v = v << 8 | (*p)[i];
    *p += size;
    *out = v;
    return 0;
}

/* Skips a group whose start tag for `number` was just read. */
static int skip_group(const uint8_t **p, const uint8_t *end, uint32_t number, int depth)
{
    if (depth > MAX_DEPTH)
        return -1;
    while (*p < end) {
        uint64_t tag, v;
        if (gw_read_varint(p, end, &tag) < 0)
            return -1;
        switch (tag & 7) {
        case WIRE_VARINT: if (gw_read_varint(p, end, &v) < 0) return -1; break;
        case WIRE_FIXED64: if (read_fixed(p, end, 8, &v) < 0) return -1; break;
        case WIRE_FIXED32: if (read_fixed(p, end, 4, &v) < 0) return -1; break;
        case WIRE_LEN:
            if (gw_read_varint(p, end, &v) < 0 || v > (uint64_t)(end - *p)) return -1;
            *p += v;
            break;
        case WIRE_SGROUP: if (skip_group(p, end, (uint32_t)(tag >> 3), depth + 1) < 0) return -1; break;
        case WIRE_EGROUP: return (tag >> 3) == number ? 0 : -1;
        default: return -1;
        }
    }
    return -1;
}

/* Reads one field occurrence.  *occ->field is UINT32_MAX for unknown fields. */
static int scan_one(conv *c, const gw_message *m, const uint8_t **p, const uint8_t *end,
                    occurrence *occ)
{
    uint64_t tag;
    if (gw_read_varint(p, end, &tag) < 0 || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
        return conv_fail(c, "malformed %s message (bad tag)", m->full_name);
    uint32_t number = (uint32_t)(tag >> 3);
    occ->wire = (uint8_t)(tag & 7);
    int bad = 0;
    switch (occ->wire) {
    case WIRE_VARINT: bad = gw_read_varint(p, end, &occ->value); break;
    case WIRE_FIXED64: bad = read_fixed(p, end, 8, &occ->value); break;
    case WIRE_FIXED32: bad = read_fixed(p, end, 4, &occ->value); break;
    case WIRE_LEN:
        bad = gw_read_varint(p, end, &occ->value) || occ->value > (uint64_t)(end - *p);
        if (!bad) {
            occ->data = *p;
            occ->len = (size_t)occ->value;
            *p += occ->len;
        }
        break;
    case WIRE_SGROUP: bad = skip_group(p, end, number, c->depth); break;
    default: bad = 1;
    }
    if (bad)
        return conv_fail(c, "malformed %s message (field %u truncated or bad wire type)",
                         m->full_name, number);
    const gw_field *f = gw_message_field_by_number(m, number);
    occ->field = f && occ->wire != WIRE_SGROUP ? (uint32_t)(f - m->fields) : UINT32_MAX;
    if (f && occ->field != UINT32_MAX) {
        int want = wire_type_of(f->type);
        int packed_ok = f->repeated && occ->wire == WIRE_LEN && want != WIRE_LEN;
        if (occ->wire != want && !packed_ok)
            return conv_fail(c, "malformed %s message (field %s has wire type %d)",
                             m->full_name, f->name, occ->wire);
    }
    return 0;
}

/* Scans the whole message; returns occurrences grouped by field index
 * (stable), with first[i]..first[i+1] the range of field i. */
static occurrence *scan_message(conv *c, const gw_message *m, const uint8_t *data, size_t len,
                                size_t **first_out, size_t *n_out)
{
    size_t cap = 16, n = 0;
    occurrence *all = malloc(cap * sizeof(*all));
    size_t *first = calloc(m->n_fields + 1, sizeof(*first));
    if (!all || !first)
        goto oom;
    const uint8_t *p = data, *end = data + len;
    while (p < end) {
        if (n == cap) {
            occurrence *grown = realloc(all, (cap *= 2) * sizeof(*all));
            if (!grown)
                goto oom;
            all = grown;
        }
        if (scan_one(c, m, &p, end, &all[n]) < 0)
            goto fail;
        if (all[n].field != UINT32_MAX)
            n++;
    }
    /* counting sort by field index */
    occurrence *sorted = malloc((n ? n : 1) * sizeof(*sorted));
    if (!sorted)
        goto oom;
    for (size_t i = 0; i < n; i++)
        first[all[i].field + 1]++;
    for (size_t i = 0; i < m->n_fields; i++)
        first[i + 1] += first[i];
    size_t *next = calloc(m->n_fields + 1, sizeof(*next));
    if (!next) {
        free(sorted);
        goto oom;
    }
    memcpy(next, first, (m->n_fields + 1) * sizeof(*next));
    for (size_t i = 0; i < n; i++)
        sorted[next[all[i].field]++] = all[i];
    free(next);
    free(all);
    *first_out = first;
    *n_out = n;
    return sorted;
oom:
    conv_fail(c, "out of memory");
fail:
    free(all);
    free(first);
    return NULL;
}

static int valid_utf8(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((b & 0xe0) == 0xc0) { n = 1; cp = b & 0x1f; min = 0x80; }
        else if ((b & 0xf0) == 0xe0) { n = 2; cp = b & 0x0f; min = 0x800; }
        else if ((b & 0xf8) == 0xf0) { n = 3; cp = b & 0x07; min = 0x10000; }
        else return 0;
        if (len - i <= n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

void gw_json_write_string(gw_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    gw_buf_reserve(out, len + 2);
    gw_buf_putc(out, '"');
    size_t run = 0; /* bytes copied verbatim in one go */
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        gw_buf_append(out, s + run, i - run);
        run = i + 1;
        switch (ch) {
        case '"': gw_buf_append(out, "\\\"", 2); break;
        case '\\': gw_buf_append(out, "\\\\", 2); break;
        case '\n': gw_buf_append(out, "\\n", 2); break;
        case '\r': gw_buf_append(out, "\\r", 2); break;
        case '\t': gw_buf_append(out, "\\t", 2); break;
        case '\b': gw_buf_append(out, "\\b", 2); break;
        case '\f': gw_buf_append(out, "\\f", 2); break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            gw_buf_append(out, esc, 6);
        }
        }
    }
    gw_buf_append(out, s + run, len - run);
    gw_buf_putc(out, '"');
}

/* Shortest text that reads back as the same double (or float). */
static void write_float(gw_buf *out, double d, int is_float)
{
    if (isnan(d)) {
        gw_buf_puts(out, "\"NaN\"");
        return;
    }
    if (isinf(d)) {
        gw_buf_puts(out, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    char text[40];
    for (int prec = is_float ? 6 : 15; prec <= 17; prec++) {
        snprintf(text, sizeof(text), "%.*g", prec, d);
        if (is_float ? strtof(text, NULL) == (float)d : strtod(text, NULL) == d)
            break;
    }
    gw_buf_puts(out, text);
}

static int32_t zigzag32(uint64_t v)
{
    return (int32_t)((uint32_t)v >> 1) ^ -(int32_t)(v & 1);
}

static int64_t zigzag64(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static int decode_message(conv *c, const gw_message *m, const uint8_t *data, size_t len,
                          gw_buf *out);

/* Prints one scalar value of field f held in v (varint / fixed bits) or
 * data[0..len) (string, bytes). */
static int write_scalar(conv *c, const gw_field *f, uint64_t v, const uint8_t *data, size_t len,
                        gw_buf *out)
{
    switch (f->type) {
    case GW_TYPE_DOUBLE: { double d; memcpy(&d, &v, 8); write_float(out, d, 0); break; }
    case GW_TYPE_FLOAT: {
        uint32_t bits = (uint32_t)v;
        float fl;
        memcpy(&fl, &bits, 4);
        write_float(out, fl, 1);
        break;
    }
    case GW_TYPE_INT64: case GW_TYPE_SFIXED64: gw_buf_printf(out, "\"%" PRId64 "\"", (int64_t)v); break;
    case GW_TYPE_UINT64: case GW_TYPE_FIXED64: gw_buf_printf(out, "\"%" PRIu64 "\"", v); break;
    case GW_TYPE_SINT64: gw_buf_printf(out, "\"%" PRId64 "\"", zigzag64(v)); break;
    case GW_TYPE_INT32: case GW_TYPE_SFIXED32: gw_buf_printf(out, "%" PRId32, (int32_t)v); break;
    case GW_TYPE_UINT32: case GW_TYPE_FIXED32: gw_buf_printf(out, "%" PRIu32, (uint32_t)v); break;
    case GW_TYPE_SINT32: gw_buf_printf(out, "%" PRId32, zigzag32(v)); break;
    case GW_TYPE_BOOL: gw_buf_puts(out, v ? "true" : "false"); break;
    case GW_TYPE_ENUM: {
        const gw_enum_value *ev = gw_enum_by_number(f->enumeration, (int32_t)v);
        if (ev)
            gw_json_write_string(out, ev->name, strlen(ev->name));
        else
            gw_buf_printf(out, "%" PRId32, (int32_t)v);
        break;
    }
    case GW_TYPE_STRING:
        if (!valid_utf8(data, len))
            return conv_fail(c, "string is not valid UTF-8");
        gw_json_write_string(out, (const char *)data, len);
        break;
    case GW_TYPE_BYTES:
        gw_buf_putc(out, '"');
        gw_base64_encode(out, data, len);
        gw_buf_putc(out, '"');
        break;
    case GW_TYPE_MESSAGE:
        return decode_message(c, f->message, data, len, out);
    default:
        return conv_fail(c, "unsupported field type %d", f->type);
    }
    return 0;
}

static int is_default(const gw_field *f, const occurrence *o)
{
    switch (f->type) {
    case GW_TYPE_STRING: case GW_TYPE_BYTES: return o->len == 0;
    case GW_TYPE_MESSAGE: return 0;
    default: return o->value == 0; /* also +0.0; -0.0 has its sign bit set */
    }
}

/* The packed values inside one WIRE_LEN occurrence of a packable field. */
static int write_packed(conv *c, const gw_field *f, const occurrence *o, gw_buf *out,
                        int *first)
{
    const uint8_t *p = o->data, *end = o->data + o->len;
    int wire = wire_type_of(f->type);
    while (p < end) {
        uint64_t v;
        int bad = wire == WIRE_VARINT ? gw_read_varint(&p, end, &v)
                  : read_fixed(&p, end, wire == WIRE_FIXED32 ? 4 : 8, &v);
        if (bad)
            return conv_fail(c, "malformed packed field");
        if (!*first)
            gw_buf_putc(out, ',');
        *first = 0;
        if (write_scalar(c, f, v, NULL, 0, out) < 0)
            return -1;
    }
    return 0;
}

static int write_repeated(conv *c, const gw_field *f, const occurrence *o, size_t n,
                          gw_buf *out)
{
    gw_buf_putc(out, '[');
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (o[i].wire == WIRE_LEN && wire_type_of(f->type) != WIRE_LEN) {
            if (write_packed(c, f, &o[i], out, &first) < 0)
                return -1;
            continue;
        }
        if (!first)
            gw_buf_putc(out, ',');
        first = 0;
        if (write_scalar(c, f, o[i].value, o[i].data, o[i].len, out) < 0)
            return -1;
    }
    gw_buf_putc(out, ']');
    return 0;
}

/* Map keys are JSON strings whatever their proto type. */
static int write_map_key(conv *c, const gw_field *kf, const occurrence *k, gw_buf *out)
{
    if (!k) {
        gw_buf_puts(out, kf->type == GW_TYPE_BOOL ? "\"false\"" : kf->type == GW_TYPE_STRING
                                                                  ? "\"\"" : "\"0\"");
        return 0;
    }
    if (kf->type == GW_TYPE_STRING)
        return write_scalar(c, kf, k->value, k->data, k->len, out);
    gw_buf_putc(out, '"');
    size_t at = out->len;
    if (write_scalar(c, kf, k->value, k->data, k->len, out) < 0)
        return -1;
    /* 64-bit values print quoted already: drop the inner quotes */
    if (out->len > at && out->data[at] == '"') {
        memmove(out->data + at, out->data + at + 1, out->len - at - 2);
        out->len -= 2;
    }
    gw_buf_putc(out, '"');
    return 0;
}

static int write_map(conv *c, const gw_field *f, const occurrence *o, size_t n, gw_buf *out)
{
    const gw_message *entry = f->message;
    const gw_field *kf = gw_message_field_by_number(entry, 1);
    const gw_field *vf = gw_message_field_by_number(entry, 2);
    if (!kf || !vf)
        return conv_fail(c, "map entry type %s has no key or value", entry->full_name);
    gw_buf_putc(out, '{');
    for (size_t i = 0; i < n; i++) {
        size_t *first = NULL, count = 0;
        occurrence *eo = scan_message(c, entry, o[i].data, o[i].len, &first, &count);
        if (!eo)
            return -1;
        size_t ki = (size_t)(kf - entry->fields), vi = (size_t)(vf - entry->fields);
        const occurrence *k = first[ki + 1] > first[ki] ? &eo[first[ki + 1] - 1] : NULL;
        const occurrence *v = first[vi + 1] > first[vi] ? &eo[first[vi + 1] - 1] : NULL;
        if (i)
            gw_buf_putc(out, ',');
        int rc = write_map_key(c, kf, k, out);
        gw_buf_putc(out, ':');
        if (rc == 0 && v)
            rc = write_scalar(c, vf, v->value, v->data, v->len, out);
        else if (rc == 0 && vf->type == GW_TYPE_MESSAGE)
            gw_buf_puts(out, "{}");
        else if (rc == 0)
            rc = write_scalar(c, vf, 0, (const uint8_t *)"", 0, out);
        free(eo);
        free(first);
        if (rc < 0)
            return -1;
    }
    gw_buf_putc(out, '}');
    return 0;
}

/* A singular message field seen several times: the occurrences merge, which
 * for wire bytes is concatenation. */
static int write_merged_message(conv *c, const gw_field *f, const occurrence *o, size_t n,
                                gw_buf *out)
{
    gw_buf joined = GW_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        gw_buf_append(&joined, o[i].data, o[i].len);
    int rc = joined.oom ? conv_fail(c, "out of memory")
                        : decode_message(c, f->message, joined.data, joined.len, out);
    gw_buf_free(&joined);
    return rc;
}

static int write_field(conv *c, const gw_field *f, const occurrence *o, size_t n, gw_buf *out)
{
    if (f->repeated)
        return f->message && f->message->map_entry ? write_map(c, f, o, n, out)
                                                   : write_repeated(c, f, o, n, out);
    if (f->type == GW_TYPE_MESSAGE && n > 1)
        return write_merged_message(c, f, o, n, out);
    if (n == 0) { /* only when emitting defaults */
        if (f->type == GW_TYPE_MESSAGE) {
            gw_buf_puts(out, "null");
            return 0;
        }
        return write_scalar(c, f, 0, (const uint8_t *)"", 0, out);
    }
    const occurrence *last = &o[n - 1];
    return write_scalar(c, f, last->value, last->data, last->len, out);
}

static int field_is_emitted(const conv *c, const gw_field *f, const occurrence *o, size_t n)
{
    if (c->opt->emit_defaults)
        return n > 0 || !(f->presence || f->oneof_index >= 0);
    if (n == 0)
        return 0;
    if (f->repeated || f->presence)
        return 1;
    return !is_default(f, &o[n - 1]);
}

static int decode_message(conv *c, const gw_message *m, const uint8_t *data, size_t len,
                          gw_buf *out)
{
    if (++c->depth > MAX_DEPTH)
        return conv_fail(c, "messages nested more than %d deep", MAX_DEPTH);
    size_t *first = NULL, n = 0;
    occurrence *occ = scan_message(c, m, data, len, &first, &n);
    if (!occ)
        return -1;
    int rc = 0, any = 0;
    gw_buf_putc(out, '{');
    for (size_t i = 0; i < m->n_fields && rc == 0; i++) {
        const gw_field *f = &m->fields[i];
        size_t count = first[i + 1] - first[i];
        const occurrence *o = occ + first[i];
        if (!field_is_emitted(c, f, o, count))
            continue;
        if (any++)
            gw_buf_putc(out, ',');
        const char *name = c->opt->proto_names ? f->name : f->json_name;
        gw_json_write_string(out, name, strlen(name));
        gw_buf_putc(out, ':');
        size_t saved = path_push(c, name, -1);
        rc = write_field(c, f, o, count, out);
        if (rc == 0)
            path_pop(c, saved);
    }
    gw_buf_putc(out, '}');
    free(occ);
    free(first);
    c->depth--;
    if (rc == 0 && out->oom)
        return conv_fail(c, "out of memory");
    return rc;
}

int gw_proto_to_json(const gw_message *m, const uint8_t *data, size_t len,
                     const gw_json_options *opt, gw_buf *out, char *err, size_t errlen)
{
    static const gw_json_options defaults = {0, 0, 0};
    conv c = {.opt = opt ? opt : &defaults, .err = err, .errlen = errlen};
    c.path[0] = '\0';
    return decode_message(&c, m, data, len, out);
}

int gw_proto_field_to_json(const gw_message *m, const gw_field *f, const uint8_t *data,
                           size_t len, const gw_json_options *opt, gw_buf *out, char *err,
                           size_t errlen)
{
    static const gw_json_options defaults = {0, 0, 0};
    conv c = {.opt = opt ? opt : &defaults, .err = err, .errlen = errlen};
    c.path[0] = '\0';
    size_t *first = NULL, n = 0;
    occurrence *occ = scan_message(&c, m, data, len, &first, &n);
    if (!occ)
        return -1;
    size_t i = (size_t)(f - m->fields);
    size_t count = first[i + 1] - first[i];
    int rc;
    if (count == 0 && f->repeated)
        rc = (gw_buf_puts(out, f->message && f->message->map_entry ? "{}" : "[]"), 0);
    else if (count == 0 && f->type == GW_TYPE_MESSAGE)
        rc = (gw_buf_puts(out, "{}"), 0);
    else
        rc = write_field(&c, f, occ + first[i], count, out);
    free(occ);
    free(first);
    return rc;
}
