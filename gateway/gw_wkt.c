/*
 * gw_wkt.c -- the proto3 JSON forms of the well-known types, both ways:
 * Timestamp (RFC 3339 text), Duration ("1.5s"), FieldMask (comma-joined
 * lowerCamel paths), the wrappers (the bare value), Struct / Value /
 * ListValue (any JSON) and Any ("@type" plus the packed message).  Values
 * nested inside them (a Struct's members, an Any's fields) go back through
 * the general codec in gw_json.c; Empty needs nothing of its own.
 */
#include "gw_wkt.h"
#include "rp_utf8.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_SECONDS (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define MAX_SECONDS 253402300799LL   /* 9999-12-31T23:59:59Z */
#define MAX_DURATION 315576000000LL  /* 10000 years, in seconds */
#define NANOS 1000000000

#define ABSENT 0xff /* rp_pb_field.wire of a field not on the wire */

static int malformed(gw_conv *c, const gw_message *m)
{
    return gw_conv_fail(c, "malformed %s message", m->full_name);
}

/* Reads a message with fields 1 and 2 of wire type `wire` (Timestamp,
 * Duration, Any), keeping the last occurrence of each in got[1], got[2]. */
static int read_pair(gw_conv *c, const gw_message *m, const uint8_t *data, size_t len, int wire,
                     rp_pb_field got[3])
{
    const uint8_t *p = data, *end = data + len;
    got[1].wire = got[2].wire = ABSENT;
    while (p < end) {
        rp_pb_field f;
        if (gw_wire_next(&p, end, &f, c->depth) < 0)
            return malformed(c, m);
        if (f.number > 2)
            continue;
        if (f.wire != wire)
            return malformed(c, m);
        got[f.number] = f;
    }
    return 0;
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* The value of the n digits at s, or -1. */
static int fixed_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* ".f" with 1 to 9 digits at s[*i] (nothing there is 0 ns), advancing *i.
 * Returns 0, or -1 if malformed. */
static int parse_fraction(const char *s, size_t len, size_t *i, int32_t *nanos)
{
    *nanos = 0;
    if (*i >= len || s[*i] != '.')
        return 0;
    size_t start = ++*i;
    int32_t v = 0;
    while (*i < len && is_digit(s[*i]) && *i - start < 9)
        v = v * 10 + (s[(*i)++] - '0');
    size_t n = *i - start;
    if (n == 0 || (*i < len && is_digit(s[*i])))
        return -1;
    for (; n < 9; n++)
        v *= 10;
    *nanos = v;
    return 0;
}

/* ".021", ".000340", ".000000001": 3, 6 or 9 digits, nothing for 0. */
static void write_fraction(gw_buf *out, int32_t nanos)
{
    if (nanos == 0)
        return;
    if (nanos % 1000000 == 0)
        gw_buf_printf(out, ".%03" PRId32, nanos / 1000000);
    else if (nanos % 1000 == 0)
        gw_buf_printf(out, ".%06" PRId32, nanos / 1000);
    else
        gw_buf_printf(out, ".%09" PRId32, nanos);
}

/* ======================= Timestamp ======================================== */

typedef struct civil_time {
    int year, month, day, hour, minute, second;
} civil_time;

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, civil_time *t)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    t->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    t->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    t->year = (int)(yoe + era * 400 + (t->month <= 2));
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return days[month - 1] + (month == 2 && leap);
}

/* "YYYY-MM-DDTHH:MM:SS" at s (19 bytes); returns 0, or -1. */
static int parse_civil(const char *s, civil_time *t)
{
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return -1;
    t->year = fixed_digits(s, 4);
    t->month = fixed_digits(s + 5, 2);
    t->day = fixed_digits(s + 8, 2);
    t->hour = fixed_digits(s + 11, 2);
    t->minute = fixed_digits(s + 14, 2);
    t->second = fixed_digits(s + 17, 2);
    if (t->year < 1 || t->month < 1 || t->month > 12 || t->day < 1 || t->hour < 0 ||
        t->hour > 23 || t->minute < 0 || t->minute > 59 || t->second < 0 || t->second > 59)
        return -1;
    return t->day <= days_in_month(t->year, t->month) ? 0 : -1;
}

/* "Z", "+HH:MM" or "-HH:MM" (all of s): seconds east of UTC. */
static int parse_offset(const char *s, size_t len, int *offset)
{
    if (len == 1 && s[0] == 'Z') {
        *offset = 0;
        return 0;
    }
    if (len != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':')
        return -1;
    int h = fixed_digits(s + 1, 2), m = fixed_digits(s + 4, 2);
    if (h < 0 || m < 0 || h > 23 || m > 59)
        return -1;
    *offset = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
    return 0;
}

/* RFC 3339 text to seconds and nanos since the epoch.  Returns 0, -1 if
 * malformed, -2 if outside 0001-01-01 .. 9999-12-31 once in UTC. */
static int parse_timestamp(const char *s, size_t len, int64_t *seconds, int32_t *nanos)
{
    civil_time t;
    size_t i = 19;
    int offset;
    if (len < 20 || parse_civil(s, &t) < 0 || parse_fraction(s, len, &i, nanos) < 0 ||
        parse_offset(s + i, len - i, &offset) < 0)
        return -1;
    *seconds = days_from_civil(t.year, t.month, t.day) * 86400 + t.hour * 3600 + t.minute * 60 +
               t.second - offset;
    return *seconds < MIN_SECONDS || *seconds > MAX_SECONDS ? -2 : 0;
}

static void put_seconds_nanos(gw_buf *out, int64_t seconds, int32_t nanos)
{
    if (seconds) {
        gw_wire_tag(out, 1, RP_PB_WIRE_VARINT);
        gw_buf_varint(out, (uint64_t)seconds);
    }
    if (nanos) {
        gw_wire_tag(out, 2, RP_PB_WIRE_VARINT);
        gw_buf_varint(out, (uint64_t)(int64_t)nanos);
    }
}

/* A JSON string's first 64 bytes as error messages show them. */
static void string_shown(const json_t *v, char *buf, size_t n)
{
    gw_json_quote(json_string_value(v), json_string_length(v), 64, buf, n);
}

/* A JSON string without NUL bytes inside, or NULL. */
static const char *plain_string(const json_t *v)
{
    if (!gw_json_is_text(v))
        return NULL;
    const char *s = json_string_value(v);
    return strlen(s) == json_string_length(v) ? s : NULL;
}

static int encode_timestamp(gw_conv *c, const json_t *v, gw_buf *out)
{
    int64_t seconds = 0;
    int32_t nanos = 0;
    if (!gw_json_is_text(v))
        return gw_conv_fail(c, "expected an RFC 3339 timestamp string, got %s", gw_json_kind(v));
    const char *s = plain_string(v);
    int rc = s ? parse_timestamp(s, strlen(s), &seconds, &nanos) : -1;
    char shown[100];
    string_shown(v, shown, sizeof(shown));
    if (rc == -1)
        return gw_conv_fail(c, "%s is not an RFC 3339 timestamp "
                               "(like 1972-01-01T10:00:20.021Z or with an offset, +01:00)",
                            shown);
    if (rc == -2)
        return gw_conv_fail(c, "%s is outside 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z",
                            shown);
    put_seconds_nanos(out, seconds, nanos);
    return 0;
}

static int decode_timestamp(gw_conv *c, const gw_message *m, const uint8_t *data, size_t len,
                            gw_buf *out)
{
    rp_pb_field got[3];
    if (read_pair(c, m, data, len, RP_PB_WIRE_VARINT, got) < 0)
        return -1;
    int64_t seconds = got[1].wire == ABSENT ? 0 : (int64_t)got[1].value;
    int32_t nanos = got[2].wire == ABSENT ? 0 : (int32_t)got[2].value;
    if (nanos < 0 || nanos >= NANOS)
        return gw_conv_fail(c, "Timestamp of %" PRId64 " s %" PRId32 " ns: nanos must be in "
                               "0 .. 999999999", seconds, nanos);
    if (seconds < MIN_SECONDS || seconds > MAX_SECONDS)
        return gw_conv_fail(c, "Timestamp of %" PRId64 " s %" PRId32 " ns is outside "
                               "0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z",
                            seconds, nanos);
    int64_t days = (seconds >= 0 ? seconds : seconds - 86399) / 86400;
    int64_t rest = seconds - days * 86400;
    civil_time t;
    civil_from_days(days, &t);
    gw_buf_printf(out, "\"%04d-%02d-%02dT%02d:%02d:%02d", t.year, t.month, t.day,
                  (int)(rest / 3600), (int)(rest / 60 % 60), (int)(rest % 60));
    write_fraction(out, nanos);
    gw_buf_puts(out, "Z\"");
    return 0;
}

/* ======================= Duration ========================================= */

/* "[-]S[.f]s" to seconds and nanos (both negative for a negative
 * duration).  Returns 0, -1 if malformed, -2 if beyond +-315576000000 s. */
static int parse_duration(const char *s, size_t len, int64_t *seconds, int32_t *nanos)
{
    size_t i = 0;
    int neg = 0;
    int64_t secs = 0;
    if (len < 2 || s[len - 1] != 's')
        return -1;
    len--;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
    }
    size_t start = i;
    for (; i < len && is_digit(s[i]); i++)
        secs = secs > MAX_DURATION ? secs : secs * 10 + (s[i] - '0');
    if (i == start || parse_fraction(s, len, &i, nanos) < 0 || i != len)
        return -1;
    if (secs > MAX_DURATION)
        return -2;
    *seconds = neg ? -secs : secs;
    *nanos = neg ? -*nanos : *nanos;
    return 0;
}

static int encode_duration(gw_conv *c, const json_t *v, gw_buf *out)
{
    int64_t seconds = 0;
    int32_t nanos = 0;
    if (!gw_json_is_text(v))
        return gw_conv_fail(c, "expected a duration string like \"1.5s\", got %s",
                            gw_json_kind(v));
    const char *s = plain_string(v);
    int rc = s ? parse_duration(s, strlen(s), &seconds, &nanos) : -1;
    char shown[100];
    string_shown(v, shown, sizeof(shown));
    if (rc == -1)
        return gw_conv_fail(c, "%s is not a duration (seconds with up to 9 decimals and "
                               "an 's', like \"1.000340012s\" or \"-3s\")",
                            shown);
    if (rc == -2)
        return gw_conv_fail(c, "%s is beyond +-315576000000 seconds", shown);
    put_seconds_nanos(out, seconds, nanos);
    return 0;
}

static int duration_valid(int64_t seconds, int32_t nanos)
{
    return seconds >= -MAX_DURATION && seconds <= MAX_DURATION && nanos > -NANOS &&
           nanos < NANOS && !(seconds > 0 && nanos < 0) && !(seconds < 0 && nanos > 0);
}

static int decode_duration(gw_conv *c, const gw_message *m, const uint8_t *data, size_t len,
                           gw_buf *out)
{
    rp_pb_field got[3];
    if (read_pair(c, m, data, len, RP_PB_WIRE_VARINT, got) < 0)
        return -1;
    int64_t seconds = got[1].wire == ABSENT ? 0 : (int64_t)got[1].value;
    int32_t nanos = got[2].wire == ABSENT ? 0 : (int32_t)got[2].value;
    if (!duration_valid(seconds, nanos))
        return gw_conv_fail(c, "Duration of %" PRId64 " s %" PRId32 " ns is out of range "
                               "(+-315576000000 s, nanos of the same sign)",
                            seconds, nanos);
    int neg = seconds < 0 || nanos < 0;
    gw_buf_printf(out, "\"%s%" PRId64, neg ? "-" : "", neg ? -seconds : seconds);
    write_fraction(out, neg ? -nanos : nanos);
    gw_buf_puts(out, "s\"");
    return 0;
}

/* ======================= FieldMask ======================================== */

/* 1 if p[0..n) is dotted field names ("a.b_c"), each a letter or '_' and
 * then letters, digits and '_'. */
static int is_dotted_name(const uint8_t *p, size_t n)
{
    int at_start = 1;
    for (size_t i = 0; i < n; i++) {
        int alpha = (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') || p[i] == '_';
        if (p[i] == '.' && !at_start) {
            at_start = 1;
        } else if (alpha || (!at_start && p[i] >= '0' && p[i] <= '9')) {
            at_start = 0;
        } else {
            return 0;
        }
    }
    return !at_start;
}

/* A JSON FieldMask path (lowerCamelCase) as its proto path, into path;
 * like protojson, refused unless it is dotted field names ("a,,b", "a.",
 * "1a" and "a b" are not). */
static int snake_path(gw_conv *c, const char *s, size_t n, gw_buf *path)
{
    char shown[100];
    path->len = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '_') {
            gw_json_quote(s, n, 64, shown, sizeof(shown));
            return gw_conv_fail(c, "path %s has a '_' (JSON paths are lowerCamelCase)", shown);
        }
        if (s[i] >= 'A' && s[i] <= 'Z')
            gw_buf_putc(path, '_');
        gw_buf_putc(path, (uint8_t)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]));
    }
    if (path->oom)
        return gw_conv_oom(c);
    if (!is_dotted_name(path->data, path->len)) {
        gw_json_quote(s, n, 64, shown, sizeof(shown));
        return gw_conv_fail(c, "%s is not a field path (names separated by dots)", shown);
    }
    return 0;
}

static int encode_field_mask(gw_conv *c, const json_t *v, gw_buf *out)
{
    if (!gw_json_is_text(v))
        return gw_conv_fail(c, "expected a string of comma-separated field paths, got %s",
                            gw_json_kind(v));
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    gw_buf path = GW_BUF_INIT;
    int rc = 0;
    for (size_t start = 0; len > 0 && start <= len && rc == 0;) { /* "" has no paths */
        const char *comma = memchr(s + start, ',', len - start);
        size_t n = comma ? (size_t)(comma - (s + start)) : len - start;
        if ((rc = snake_path(c, s + start, n, &path)) == 0) {
            gw_wire_tag(out, 1, RP_PB_WIRE_LEN);
            gw_buf_varint(out, path.len);
            gw_buf_append(out, path.data, path.len);
        }
        start += n + 1;
    }
    gw_buf_free(&path);
    return rc;
}

static int is_lower(uint8_t ch)
{
    return ch >= 'a' && ch <= 'z';
}

const char *gw_wkt_camel_path(const uint8_t *s, size_t n, int keep_upper, gw_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z' && !keep_upper)
            return "has an uppercase letter, which its JSON form cannot keep";
        if (s[i] == '_' && (i + 1 == n || !is_lower(s[i + 1])))
            return "has a '_' not followed by a lowercase letter, which its JSON form cannot "
                   "keep";
        if (s[i] == '_')
            gw_buf_putc(out, (uint8_t)(s[++i] - 'a' + 'A'));
        else
            gw_buf_putc(out, s[i]);
    }
    return NULL;
}

/* A proto path ("foo_bar.baz") to its JSON form ("fooBar.baz"), appended.
 * Refused unless snake_path reads the JSON form back as the same path: an
 * empty path, an empty name, a name starting with a digit and any byte
 * but letters, digits, '_' and '.' ("a,b" would read back as two paths,
 * "" as none). */
static int camel_path(gw_conv *c, const uint8_t *s, size_t n, gw_buf *out)
{
    const char *why = gw_wkt_camel_path(s, n, 0, out);
    char shown[100];
    if (!why && !is_dotted_name(s, n))
        why = "is not a field path (names separated by dots)";
    if (!why)
        return 0;
    gw_json_quote((const char *)s, n, 64, shown, sizeof(shown));
    return gw_conv_fail(c, "path %s %s", shown, why);
}

static int decode_field_mask(gw_conv *c, const gw_message *m, const uint8_t *data, size_t len,
                             gw_buf *out)
{
    const uint8_t *p = data, *end = data + len;
    gw_buf joined = GW_BUF_INIT;
    int rc = 0, n = 0;
    while (p < end && rc == 0) {
        rp_pb_field f;
        if (gw_wire_next(&p, end, &f, c->depth) < 0 ||
            (f.number == 1 && f.wire != RP_PB_WIRE_LEN)) {
            rc = malformed(c, m);
        } else if (f.number == 1 && !rp_utf8_valid(f.data, f.len)) {
            rc = gw_conv_fail(c, "path is not valid UTF-8");
        } else if (f.number == 1) {
            if (n++)
                gw_buf_putc(&joined, ',');
            rc = camel_path(c, f.data, f.len, &joined);
        }
    }
    if (rc == 0 && joined.oom)
        rc = gw_conv_oom(c); /* not a mask cut short */
    if (rc == 0)
        gw_json_write_string(out, (const char *)joined.data, joined.len);
    gw_buf_free(&joined);
    return rc;
}

/* ======================= Struct, Value, ListValue, wrappers ============== */

static const gw_field *field1(const gw_message *m)
{
    return gw_message_field_by_number(m, 1);
}

static int encode_struct(gw_conv *c, const gw_message *m, const json_t *v, gw_buf *out)
{
    if (!json_is_object(v))
        return gw_conv_fail(c, "expected an object (google.protobuf.Struct), got %s",
                            gw_json_kind(v));
    return gw_json_encode_field(c, field1(m), v, out);
}

static int encode_list(gw_conv *c, const gw_message *m, const json_t *v, gw_buf *out)
{
    if (!json_is_array(v))
        return gw_conv_fail(c, "expected an array (google.protobuf.ListValue), got %s",
                            gw_json_kind(v));
    return gw_json_encode_field(c, field1(m), v, out);
}

/* The member of Value's oneof `kind` that holds JSON of v's type. */
static uint32_t value_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL: return 1;                            /* null_value */
    case JSON_INTEGER: case JSON_REAL: return 2;         /* number_value */
    case JSON_STRING: return gw_json_literal(v) ? 2 : 3; /* string_value */
    case JSON_TRUE: case JSON_FALSE: return 4;           /* bool_value */
    case JSON_OBJECT: return 5;                          /* struct_value */
    default: return 6;                                   /* list_value */
    }
}

static int encode_value(gw_conv *c, const gw_message *m, const json_t *v, gw_buf *out)
{
    return gw_json_encode_field(c, gw_message_field_by_number(m, value_kind(v)), v, out);
}

/* The member of a Value's oneof set last, and the bits of number_value;
 * kind 0 when none is. */
static int read_value_kind(gw_conv *c, const gw_message *m, const uint8_t *data, size_t len,
                           uint32_t *kind, uint64_t *number)
{
    static const uint8_t wire[7] = {0, RP_PB_WIRE_VARINT, RP_PB_WIRE_FIXED64, RP_PB_WIRE_LEN,
                                    RP_PB_WIRE_VARINT, RP_PB_WIRE_LEN, RP_PB_WIRE_LEN};
    const uint8_t *p = data, *end = data + len;
    *kind = 0;
    while (p < end) {
        rp_pb_field f;
        if (gw_wire_next(&p, end, &f, c->depth) < 0)
            return malformed(c, m);
        if (f.number > 6)
            continue;
        if (f.wire != wire[f.number])
            return malformed(c, m);
        *kind = f.number;
        *number = f.value;
    }
    return 0;
}

static int decode_value(gw_conv *c, const gw_message *m, const uint8_t *data, size_t len,
                        gw_buf *out)
{
    uint32_t kind;
    uint64_t bits = 0;
    double d;
    if (read_value_kind(c, m, data, len, &kind, &bits) < 0)
        return -1;
    if (kind <= 1) { /* null_value, or nothing set: null as well */
        gw_buf_puts(out, "null");
        return 0;
    }
    memcpy(&d, &bits, sizeof(d));
    if (kind == 2 && !isfinite(d))
        return gw_conv_fail(c, "a Value's number_value is %s, which JSON cannot hold as a "
                               "number", isnan(d) ? "NaN" : "infinite");
    return gw_json_decode_field(c, m, gw_message_field_by_number(m, kind), data, len, out);
}

/* ======================= Any ============================================== */

/* The message type an Any's type URL names (what follows its last '/'),
 * or NULL if the schema has none. */
static const gw_message *any_type(const gw_message *any, const char *url)
{
    const char *slash = strrchr(url, '/');
    const char *name = slash ? slash + 1 : url;
    return *name && any->schema ? gw_schema_message(any->schema, name) : NULL;
}

/* The "value" member of an Any that packs a well-known type. */
static int encode_any_value(gw_conv *c, const gw_message *packed, const json_t *obj,
                            gw_buf *out)
{
    const json_t *value = json_object_get(obj, "value");
    const char *key;
    json_t *member;
    if (!value)
        return gw_conv_fail(c, "an Any holding %s needs a \"value\"", packed->full_name);
    json_object_foreach((json_t *)obj, key, member) {
        if (strcmp(key, "@type") != 0 && strcmp(key, "value") != 0 &&
            !c->opt->ignore_unknown_fields) {
            gw_conv_push(c, key, -1);
            return gw_conv_fail(c, "no such field in an Any holding %s (only \"@type\" and "
                                   "\"value\")", packed->full_name);
        }
    }
    size_t saved = gw_conv_push(c, "value", -1);
    if (gw_json_encode_message(c, packed, value, out) < 0)
        return -1;
    gw_conv_pop(c, saved);
    return 0;
}

static void any_type_unknown(gw_conv *c, const json_t *url)
{
    char shown[160];
    gw_json_quote(json_string_value(url), json_string_length(url), 100, shown, sizeof(shown));
    gw_conv_fail(c, "unknown type %s (no such message in the descriptor sets)", shown);
}

/* Reads "@type"; returns the packed type or NULL after an error. */
static const gw_message *any_type_of(gw_conv *c, const gw_message *m, const json_t *obj)
{
    const json_t *url = json_object_get(obj, "@type");
    if (!url) {
        gw_conv_fail(c, "an Any needs \"@type\" (like type.googleapis.com/pkg.Message)");
        return NULL;
    }
    size_t saved = gw_conv_push(c, "@type", -1);
    const char *s = plain_string(url);
    const gw_message *packed = s ? any_type(m, s) : NULL;
    if (!gw_json_is_text(url))
        gw_conv_fail(c, "expected a type URL string, got %s", gw_json_kind(url));
    else if (!packed)
        any_type_unknown(c, url);
    else
        gw_conv_pop(c, saved);
    return packed;
}

/* 1 if an Any of `packed` carries its JSON under "value": a well-known
 * type, or google.protobuf.Empty when the client put it there, as Go's
 * protojson writes it ({"@type":…Empty,"value":{}}; without "value", as
 * C++ and Python write it and rpcrest answers, it is read too). */
static int any_value_member(const gw_message *packed, const json_t *obj)
{
    return packed->wkt || (packed->n_fields == 0 && json_object_get(obj, "value") &&
                           strcmp(packed->full_name, "google.protobuf.Empty") == 0);
}

static int encode_any(gw_conv *c, const gw_message *m, const json_t *v, gw_buf *out)
{
    if (!json_is_object(v))
        return gw_conv_fail(c, "expected an object (google.protobuf.Any), got %s",
                            gw_json_kind(v));
    if (json_object_size(v) == 0)
        return 0;
    const gw_message *packed = any_type_of(c, m, v);
    if (!packed)
        return -1;
    const json_t *url = json_object_get(v, "@type");
    gw_wire_tag(out, 1, RP_PB_WIRE_LEN);
    gw_buf_varint(out, json_string_length(url));
    gw_buf_append(out, json_string_value(url), json_string_length(url));
    size_t tag_at = out->len;
    gw_wire_tag(out, 2, RP_PB_WIRE_LEN);
    size_t body = out->len;
    int rc = any_value_member(packed, v) ? encode_any_value(c, packed, v, out)
                                         : gw_json_encode_fields(c, packed, v, "@type", out);
    if (rc < 0)
        return -1;
    if (out->len == body)
        out->len = tag_at; /* an empty value is left out, as protobuf does */
    else
        gw_buf_insert_varint(out, body, out->len - body);
    return 0;
}

/* The packed message's JSON after "@type": its fields, or "value". */
static int decode_packed(gw_conv *c, const gw_message *packed, const rp_pb_field *value,
                         gw_buf *out)
{
    const uint8_t *data = value->wire == ABSENT ? (const uint8_t *)"" : value->data;
    size_t len = value->wire == ABSENT ? 0 : value->len;
    int n = 1;
    if (!packed->wkt)
        return gw_json_decode_fields(c, packed, data, len, out, &n);
    gw_buf_puts(out, ",\"value\":");
    size_t saved = gw_conv_push(c, "value", -1);
    if (gw_json_decode_message(c, packed, data, len, out) < 0)
        return -1;
    gw_conv_pop(c, saved);
    return 0;
}

static int decode_any(gw_conv *c, const gw_message *m, const uint8_t *data, size_t len,
                      gw_buf *out)
{
    rp_pb_field got[3];
    if (read_pair(c, m, data, len, RP_PB_WIRE_LEN, got) < 0)
        return -1;
    if (got[1].wire == ABSENT && got[2].wire == ABSENT) {
        gw_buf_puts(out, "{}");
        return 0;
    }
    if (got[1].wire == ABSENT || got[1].len == 0)
        return gw_conv_fail(c, "an Any with a value has no type URL");
    if (!rp_utf8_valid(got[1].data, got[1].len) || memchr(got[1].data, 0, got[1].len))
        return gw_conv_fail(c, "an Any's type URL is not valid UTF-8");
    char *url = strndup((const char *)got[1].data, got[1].len);
    if (!url)
        return gw_conv_oom(c);
    const gw_message *packed = any_type(m, url);
    int rc = packed ? 0 : gw_conv_fail(c, "unknown type '%.100s' in an Any (no such message "
                                          "in the descriptor sets)", url);
    free(url);
    if (rc < 0)
        return -1;
    gw_buf_puts(out, "{\"@type\":");
    gw_json_write_string(out, (const char *)got[1].data, got[1].len);
    if (decode_packed(c, packed, &got[2], out) < 0)
        return -1;
    gw_buf_putc(out, '}');
    return 0;
}

/* ======================= dispatch ========================================= */

int gw_wkt_encode(gw_conv *c, const gw_message *m, const json_t *v, gw_buf *out)
{
    if (json_is_null(v) && m->wkt != GW_WKT_VALUE)
        return 0; /* null is the empty message, except for a Value */
    switch (m->wkt) {
    case GW_WKT_ANY: return encode_any(c, m, v, out);
    case GW_WKT_TIMESTAMP: return encode_timestamp(c, v, out);
    case GW_WKT_DURATION: return encode_duration(c, v, out);
    case GW_WKT_FIELD_MASK: return encode_field_mask(c, v, out);
    case GW_WKT_STRUCT: return encode_struct(c, m, v, out);
    case GW_WKT_VALUE: return encode_value(c, m, v, out);
    case GW_WKT_LIST_VALUE: return encode_list(c, m, v, out);
    case GW_WKT_WRAPPER: return gw_json_encode_field(c, field1(m), v, out);
    default: return gw_conv_fail(c, "%s has no JSON form of its own", m->full_name);
    }
}

int gw_wkt_decode(gw_conv *c, const gw_message *m, const uint8_t *data, size_t len, gw_buf *out)
{
    switch (m->wkt) {
    case GW_WKT_ANY: return decode_any(c, m, data, len, out);
    case GW_WKT_TIMESTAMP: return decode_timestamp(c, m, data, len, out);
    case GW_WKT_DURATION: return decode_duration(c, m, data, len, out);
    case GW_WKT_FIELD_MASK: return decode_field_mask(c, m, data, len, out);
    case GW_WKT_VALUE: return decode_value(c, m, data, len, out);
    case GW_WKT_STRUCT:
    case GW_WKT_LIST_VALUE:
    case GW_WKT_WRAPPER: return gw_json_decode_field(c, m, field1(m), data, len, out);
    default: return gw_conv_fail(c, "%s has no JSON form of its own", m->full_name);
    }
}

int gw_wkt_null_is_value(const gw_field *f)
{
    if (f->type == GW_TYPE_MESSAGE)
        return f->message->wkt == GW_WKT_VALUE;
    return f->type == GW_TYPE_ENUM && f->enumeration->null_value;
}
