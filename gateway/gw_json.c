/*
 * gw_json.c -- proto3 JSON <-> protobuf wire format over a gw_schema.
 *
 * JSON -> wire walks a jansson tree and writes wire bytes straight into a
 * gw_buf (a nested message is written in place and its length prefix
 * inserted afterwards).  Wire -> JSON scans a message once into a list of
 * field occurrences, groups them by field (last one wins for singular
 * fields, maps and oneofs, as protobuf parsers do) and prints fields in
 * field-number order.  Well-known types have JSON forms of their own, in
 * gw_wkt.c; this file also reads JSON text (gw_json_loadb).
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
#include "gw_wkt.h"
#include "rp_pb_wire.h"
#include "rp_utf8.h"

#define MAX_DEPTH 100 /* nested messages, as protobuf's own parsers allow */

/* The smallest magnitude that rounds to infinity as a float:
 * FLT_MAX plus half a unit in the last place. */
#define FLOAT_OVERFLOW 0x1.ffffffp+127

typedef gw_conv conv;

/* ======================= conversion state ================================= */

int gw_conv_fail(gw_conv *c, const char *fmt, ...)
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
    c->oom = 0;
    return -1;
}

int gw_conv_oom(gw_conv *c)
{
    gw_conv_fail(c, "%s", GW_ERR_OOM);
    c->oom = 1;
    return -1;
}

/* What an entry point returns for the conversion's result rc (0, or -1
 * with the reason written and c->oom saying whether it is the want of
 * memory). */
static gw_result conv_result(const gw_conv *c, int rc)
{
    return rc == 0 ? GW_OK : c->oom ? GW_NOMEM : GW_REFUSED;
}

/* Appends text[0..n) to the field path, cut at its end (the path only
 * names the field in messages).  No printf: this runs for every field and
 * every array element converted. */
static void path_append(gw_conv *c, const char *text, size_t n)
{
    size_t room = sizeof(c->path) - 1 - c->path_len;
    if (n > room)
        n = room;
    memcpy(c->path + c->path_len, text, n);
    c->path_len += n;
    c->path[c->path_len] = '\0';
}

size_t gw_conv_push(gw_conv *c, const char *name, long index)
{
    size_t saved = c->path_len;
    if (index >= 0) {
        char text[GW_DECIMAL_MAX + 2] = "[";
        size_t n = 1 + gw_decimal(text + 1, (uint64_t)index);
        text[n++] = ']';
        path_append(c, text, n);
    } else {
        if (saved)
            path_append(c, ".", 1);
        path_append(c, name, strlen(name));
    }
    return saved;
}

void gw_conv_pop(gw_conv *c, size_t saved)
{
    c->path_len = saved;
    c->path[saved] = '\0';
}

static void conv_init(conv *c, const gw_json_options *opt, char *err, size_t errlen)
{
    static const gw_json_options defaults = {0};
    memset(c, 0, sizeof(*c));
    c->opt = opt ? opt : &defaults;
    c->err = err;
    c->errlen = errlen;
}

/* ======================= reading JSON text ================================ */

/*
 * Integer literals jansson cannot hold.  jansson keeps integers in an
 * int64 and refuses a literal outside that range ("too big integer"), yet
 * uint64 fields need 9223372036854775808..18446744073709551615 exactly.
 * JSON_DECODE_INT_AS_REAL would round every such integer through a double,
 * and quoting the literal before parsing would make a number a string (a
 * google.protobuf.Value would become string_value, a string field would
 * take a number).  A literal with a fraction or an exponent becomes a
 * double, which for an integer field may be another integer
 * (9007199254740993.0 reads as ...992, 1.0000000000000001 as 1, 1e-400
 * as 0).  So gw_json_loadb keeps such literals as text:
 *
 *   1. a scan of the text finds each integer literal out of int64 range
 *      (and "-0", which jansson would read as the integer 0, losing the
 *      sign a double field keeps), and each literal with a fraction or an
 *      exponent that a double may not hold exactly enough, or that may
 *      underflow to 0 (real_needs_keeping), and blanks it to "0" padded
 *      with spaces, so the text keeps its length and error columns stay
 *      right;
 *   2. jansson parses the blanked copy;
 *   3. a walk of the tree in document order replaces the n-th number node
 *      for each blanked n-th literal by a "kept literal": a string node
 *      holding the byte 0xFF and then the literal's text.
 *
 * The n-th number node is the n-th number literal because jansson keeps
 * object members in insertion order and duplicate keys are refused.  0xFF
 * never occurs in UTF-8 and jansson validates every string it reads, so no
 * JSON text can forge a kept literal; the codec reads one as a number.
 */
#define LITERAL_MARK 0xff

typedef struct kept_literal {
    size_t at, len; /* where in the text */
    size_t ordinal; /* how many number literals come before it */
} kept_literal;

typedef struct literal_list {
    kept_literal *items;
    size_t n, cap;
} literal_list;

static int is_number_char(char ch)
{
    return (ch >= '0' && ch <= '9') || ch == '-' || ch == '+' || ch == '.' || ch == 'e' ||
           ch == 'E';
}

static int real_needs_keeping(const char *s, size_t len); /* with the decimals, below */

/* 1 if s[0..len) is a number literal jansson would not hold exactly: an
 * integer out of int64 range, "-0", or a literal with a fraction or an
 * exponent that a double could turn into another integer
 * (real_needs_keeping). */
static int needs_keeping(const char *s, size_t len)
{
    static const char max[] = "9223372036854775807", min[] = "9223372036854775808";
    int neg = s[0] == '-';
    const char *d = s + neg;
    size_t n = len - (size_t)neg, digits = 0;
    while (digits < n && d[digits] >= '0' && d[digits] <= '9')
        digits++;
    if (digits == 0 || (digits > 1 && d[0] == '0'))
        return 0; /* not JSON: jansson reports it */
    if (digits < n)
        return real_needs_keeping(s, len);
    if (neg && n == 1 && d[0] == '0')
        return 1;
    if (n != 19)
        return n > 19;
    return memcmp(d, neg ? min : max, 19) > 0;
}

static int add_literal(literal_list *list, size_t at, size_t len, size_t ordinal)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 8;
        kept_literal *grown = realloc(list->items, cap * sizeof(*grown));
        if (!grown)
            return -1;
        list->items = grown;
        list->cap = cap;
    }
    list->items[list->n++] = (kept_literal){at, len, ordinal};
    return 0;
}

/* Step 1: the literals of text[0..len) to keep.  Returns 0, or -1 when out
 * of memory. */
static int find_kept_literals(const char *text, size_t len, literal_list *list)
{
    size_t ordinal = 0, i = 0;
    while (i < len) {
        if (text[i] == '"') {
            for (i++; i < len && text[i] != '"'; i++)
                if (text[i] == '\\')
                    i++;
            i++;
        } else if (text[i] == '-' || (text[i] >= '0' && text[i] <= '9')) {
            size_t start = i;
            while (i < len && is_number_char(text[i]))
                i++;
            if (needs_keeping(text + start, i - start) &&
                add_literal(list, start, i - start, ordinal) < 0)
                return -1;
            ordinal++;
        } else {
            i++;
        }
    }
    return 0;
}

typedef struct literal_walk {
    const char *text;
    const literal_list *list;
    size_t next;    /* the next list item to place */
    size_t ordinal; /* number nodes seen so far */
    int oom;
} literal_walk;

/* For the number node just reached: its kept literal (a new reference),
 * or NULL if it is an ordinary number. */
static json_t *kept_node(literal_walk *w)
{
    size_t ordinal = w->ordinal++;
    if (w->next >= w->list->n || w->list->items[w->next].ordinal != ordinal)
        return NULL;
    const kept_literal *k = &w->list->items[w->next++];
    char *s = malloc(k->len + 1);
    json_t *node = NULL;
    if (s) {
        s[0] = (char)LITERAL_MARK;
        memcpy(s + 1, w->text + k->at, k->len);
        node = json_stringn_nocheck(s, k->len + 1);
        free(s);
    }
    w->oom |= !node;
    return node;
}

/* Step 3 below v (arrays and objects only; the root is the caller's). */
static void restore_literals(json_t *v, literal_walk *w)
{
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && !w->oom; i++) {
            json_t *elem = json_array_get(v, i), *kept;
            if (json_is_number(elem) && (kept = kept_node(w)))
                json_array_set_new(v, i, kept);
            else
                restore_literals(elem, w);
        }
    } else if (json_is_object(v)) {
        for (void *it = json_object_iter(v); it && !w->oom; it = json_object_iter_next(v, it)) {
            json_t *member = json_object_iter_value(it), *kept;
            if (json_is_number(member) && (kept = kept_node(w)))
                json_object_iter_set_new(v, it, kept);
            else
                restore_literals(member, w);
        }
    }
}

/* Fills *error as jansson does when it runs out of memory, code included:
 * jansson keeps the code in the text's last byte, where json_error_code
 * (and so gw_json_error_is_oom) reads it. */
static void fail_out_of_memory(json_error_t *error)
{
    error->line = error->column = -1;
    error->position = 0;
    error->source[0] = '\0';
    snprintf(error->text, sizeof(error->text) - 1, "%s", GW_ERR_OOM);
    error->text[sizeof(error->text) - 1] = (char)json_error_out_of_memory;
}

/* Steps 2 and 3, for a text with literals to keep. */
static json_t *load_keeping(const char *text, size_t len, const literal_list *list,
                            size_t flags, json_error_t *error)
{
    char *blanked = malloc(len ? len : 1);
    if (!blanked) {
        fail_out_of_memory(error);
        return NULL;
    }
    memcpy(blanked, text, len);
    for (size_t i = 0; i < list->n; i++) {
        memset(blanked + list->items[i].at, ' ', list->items[i].len);
        blanked[list->items[i].at] = '0';
    }
    json_t *root = json_loadb(blanked, len, flags, error);
    free(blanked);
    literal_walk w = {text, list, 0, 0, 0};
    json_t *kept;
    if (root && json_is_number(root) && (kept = kept_node(&w))) {
        json_decref(root);
        root = kept;
    } else if (root) {
        restore_literals(root, &w);
    }
    if (w.oom) {
        json_decref(root);
        fail_out_of_memory(error);
        return NULL;
    }
    return root;
}

int gw_json_error_is_oom(const json_error_t *error)
{
    return json_error_code(error) == json_error_out_of_memory;
}

json_t *gw_json_loadb(const char *text, size_t len, size_t flags, json_error_t *error)
{
    flags |= JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
    literal_list list = {NULL, 0, 0};
    if (find_kept_literals(text, len, &list) < 0) {
        free(list.items);
        fail_out_of_memory(error);
        return NULL;
    }
    json_t *root = list.n ? load_keeping(text, len, &list, flags, error)
                          : json_loadb(text, len, flags, error);
    free(list.items);
    return root;
}

/* ======================= JSON values ====================================== */

const char *gw_json_literal(const json_t *v)
{
    if (!json_is_string(v))
        return NULL;
    const char *s = json_string_value(v);
    return (unsigned char)s[0] == LITERAL_MARK ? s + 1 : NULL;
}

int gw_json_is_text(const json_t *v)
{
    return json_is_string(v) && !gw_json_literal(v);
}

const char *gw_json_kind(const json_t *v)
{
    const char *lit = gw_json_literal(v);
    if (lit) /* "-0" and integers beyond 64 bits, or a number no double holds exactly */
        return strpbrk(lit, ".eE") ? "a number" : "an integer";
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

/* A JSON string's text if it has no NUL byte inside (names, numbers and
 * timestamps never do), else NULL. */
static const char *plain_text(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == json_string_length(v) ? s : NULL;
}

void gw_json_quote(const char *s, size_t len, size_t max, char *buf, size_t n)
{
    size_t w = 0;
    buf[w++] = '\'';
    for (size_t i = 0; i < len && i < max; i++) {
        size_t width = s[i] ? 1 : 6;
        if (w + width + 2 > n)
            break;
        if (s[i])
            buf[w] = s[i];
        else
            memcpy(buf + w, "\\u0000", 6);
        w += width;
    }
    buf[w++] = '\'';
    buf[w] = '\0';
}

/* A JSON string's text as error messages show it (gw_json_quote). */
static void string_shown(const json_t *v, char *buf, size_t n)
{
    gw_json_quote(json_string_value(v), json_string_length(v), 100, buf, n);
}

static void shortest_text(double d, int is_float, char *text, size_t n);

/* v as shown in error messages: 12, 1.5, '12a'. */
static void value_text(const json_t *v, char *buf, size_t n)
{
    if (json_is_integer(v))
        snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        shortest_text(json_real_value(v), 0, buf, n);
    else if (gw_json_literal(v))
        snprintf(buf, n, "%.100s", gw_json_literal(v));
    else if (json_is_string(v))
        string_shown(v, buf, n);
    else
        snprintf(buf, n, "%s", gw_json_kind(v));
}

/* ======================= numbers from JSON ================================ */

/* A decimal number's text, split: [sign] digits [. digits] [e [sign] digits]. */
typedef struct decimal {
    int neg;
    const char *int_digits;
    size_t n_int;
    const char *frac_digits;
    size_t n_frac;
    long exp; /* saturates at +-1000000 */
} decimal;

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static size_t skip_digits(const char *s, size_t i, size_t len)
{
    while (i < len && is_digit(s[i]))
        i++;
    return i;
}

/* Reads "e[sign]digits" at s[*i]; returns 0, or -1 if malformed. */
static int scan_exponent(const char *s, size_t len, size_t *i, long *exp)
{
    int neg = 0;
    if (*i < len && (s[*i] == '-' || s[*i] == '+'))
        neg = s[(*i)++] == '-';
    size_t start = *i;
    for (; *i < len && is_digit(s[*i]); (*i)++)
        if (*exp < 1000000)
            *exp = *exp * 10 + (s[*i] - '0');
    if (neg)
        *exp = -*exp;
    return *i > start ? 0 : -1;
}

/* Splits s[0..len); at least one digit must come before or after the
 * point.  Returns 0, or -1 if s is not such a number (hex, "inf", spaces…). */
static int scan_decimal(const char *s, size_t len, decimal *d)
{
    size_t i = 0;
    memset(d, 0, sizeof(*d));
    if (i < len && (s[i] == '-' || s[i] == '+'))
        d->neg = s[i++] == '-';
    d->int_digits = s + i;
    i = skip_digits(s, i, len);
    d->n_int = (size_t)(s + i - d->int_digits);
    if (i < len && s[i] == '.') {
        d->frac_digits = s + ++i;
        i = skip_digits(s, i, len);
        d->n_frac = (size_t)(s + i - d->frac_digits);
    }
    if (d->n_int + d->n_frac == 0)
        return -1;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (scan_exponent(s, len, &i, &d->exp) < 0)
            return -1;
    }
    return i == len ? 0 : -1;
}

static unsigned digit_at(const decimal *d, size_t k)
{
    return (unsigned)((k < d->n_int ? d->int_digits[k] : d->frac_digits[k - d->n_int]) - '0');
}

/* 1 if the JSON literal s[0..len), which has a fraction or an exponent,
 * is not safe as a double for an integer field: read as a double, a value
 * with more than 15 significant digits, or of 2^53 or more (16 digits
 * before the point), can land on an integer it is not ("1.0000000000000001"
 * on 1, 9007199254740993.0 on ...992), and a value other than zero below
 * 1e-300 can underflow to 0 ("1e-400").  Such literals are kept as text,
 * and integer fields read them exactly (integer_text), double fields with
 * strtod, as jansson would.  A literal that is not JSON (1., 1e) is left
 * to jansson to report. */
static int real_needs_keeping(const char *s, size_t len)
{
    decimal d;
    if (scan_decimal(s, len, &d) < 0 || (d.frac_digits && d.n_frac == 0))
        return 0;
    size_t n = d.n_int + d.n_frac, first = 0, last = n;
    while (first < n && digit_at(&d, first) == 0)
        first++;
    if (first == n)
        return 0; /* zero: exact */
    while (digit_at(&d, last - 1) == 0)
        last--;
    long before_point = (long)d.n_int - (long)first + d.exp;
    return last - first > 15 || before_point >= 16 || before_point < -300;
}

/* |value| of d, exactly.  Returns 0, -1 if d has a fractional part, or -2
 * if it is 2^64 or more. */
static int decimal_magnitude(const decimal *d, uint64_t *mag)
{
    size_t n = d->n_int + d->n_frac, keep = n;
    long shift = d->exp - (long)d->n_frac; /* value = (all digits) * 10^shift */
    if (shift < 0) {
        keep = (size_t)-shift < n ? n - (size_t)-shift : 0;
        for (size_t k = keep; k < n; k++)
            if (digit_at(d, k) != 0)
                return -1;
    }
    uint64_t v = 0;
    for (size_t k = 0; k < keep; k++) {
        unsigned digit = digit_at(d, k);
        if (v > (UINT64_MAX - digit) / 10)
            return -2;
        v = v * 10 + digit;
    }
    for (long i = 0; i < shift && v != 0; i++) {
        if (v > UINT64_MAX / 10)
            return -2;
        v *= 10;
    }
    *mag = v;
    return 0;
}

/* An integer as read from JSON, before range checks. */
typedef struct intval {
    int neg;
    int huge; /* |value| >= 2^64 */
    uint64_t mag;
    int from_text; /* came as a JSON string */
} intval;

/* Integer text: "12", "-3", "+7", and integral exponent forms "1e3",
 * "1.5e1", exact however many digits. */
static int integer_text(const char *s, size_t len, intval *iv)
{
    decimal d;
    if (scan_decimal(s, len, &d) < 0)
        return -1;
    int rc = decimal_magnitude(&d, &iv->mag);
    if (rc == -1)
        return -1;
    iv->neg = d.neg && (rc == -2 || iv->mag != 0);
    iv->huge = rc == -2;
    return 0;
}

/* The integer held by v: a JSON integer, an integral number, a kept
 * literal or a numeric string. */
static int integer_parts(conv *c, const json_t *v, intval *iv)
{
    const char *lit = gw_json_literal(v);
    char shown[160];
    memset(iv, 0, sizeof(*iv));
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        iv->neg = i < 0;
        iv->mag = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d != floor(d)) {
            value_text(v, shown, sizeof(shown));
            return gw_conv_fail(c, "%s is not an integer", shown);
        }
        iv->neg = d < 0;
        iv->huge = fabs(d) >= 18446744073709551616.0;
        iv->mag = iv->huge ? 0 : (uint64_t)fabs(d);
    } else if (lit) {
        if (integer_text(lit, strlen(lit), iv) < 0)
            return gw_conv_fail(c, "%.100s is not an integer", lit);
    } else if (json_is_string(v)) {
        const char *s = plain_text(v);
        if (!s || integer_text(s, strlen(s), iv) < 0) {
            string_shown(v, shown, sizeof(shown));
            return gw_conv_fail(c, "%s is not a valid integer", shown);
        }
        iv->from_text = 1;
    } else {
        return gw_conv_fail(c, "expected an integer, got %s", gw_json_kind(v));
    }
    return 0;
}

static int is_signed_type(int type)
{
    return type == GW_TYPE_INT32 || type == GW_TYPE_INT64 || type == GW_TYPE_SINT32 ||
           type == GW_TYPE_SINT64 || type == GW_TYPE_SFIXED32 || type == GW_TYPE_SFIXED64 ||
           type == GW_TYPE_ENUM;
}

static int is_32bit_type(int type)
{
    return type == GW_TYPE_INT32 || type == GW_TYPE_SINT32 || type == GW_TYPE_SFIXED32 ||
           type == GW_TYPE_UINT32 || type == GW_TYPE_FIXED32 || type == GW_TYPE_ENUM;
}

static int fits(const intval *iv, int is_signed, int is_32)
{
    uint64_t max = is_32 ? (is_signed ? INT32_MAX : UINT32_MAX)
                         : (is_signed ? INT64_MAX : UINT64_MAX);
    if (iv->huge)
        return 0;
    if (!iv->neg)
        return iv->mag <= max;
    return is_signed && iv->mag <= max + 1;
}

/* Why iv does not fit field type `type`. */
static int range_error(conv *c, int type, const json_t *v, const intval *iv)
{
    int is_signed = is_signed_type(type), is_32 = is_32bit_type(type);
    char shown[160];
    value_text(v, shown, sizeof(shown));
    if (iv->from_text && !fits(iv, is_signed, 0))
        return gw_conv_fail(c, "%s is not a valid integer", shown);
    if (iv->neg && !is_signed)
        return gw_conv_fail(c, "%s is out of range for an unsigned integer", shown);
    return gw_conv_fail(c, "%s is out of range for a %s%s integer", shown,
                        is_32 ? "32-bit" : "64-bit", is_signed ? "" : " unsigned");
}

/* The integer value of v, range-checked for field type `type`.  Signed
 * results go to *sv, unsigned to *uv. */
static int integer_value(conv *c, int type, const json_t *v, int64_t *sv, uint64_t *uv)
{
    intval iv;
    if (integer_parts(c, v, &iv) < 0)
        return -1;
    if (!fits(&iv, is_signed_type(type), is_32bit_type(type)))
        return range_error(c, type, v, &iv);
    *uv = iv.mag;
    *sv = iv.neg ? (int64_t)(0 - iv.mag) : (int64_t)iv.mag;
    return 0;
}

/* A floating-point string: "NaN", "Infinity", "-Infinity" or a decimal
 * number that does not overflow.  Returns 0, or -1. */
static int float_text(const json_t *v, double *out)
{
    const char *s = plain_text(v);
    decimal d;
    if (!s)
        return -1;
    if (strcmp(s, "NaN") == 0)
        *out = NAN;
    else if (strcmp(s, "Infinity") == 0)
        *out = INFINITY;
    else if (strcmp(s, "-Infinity") == 0)
        *out = -INFINITY;
    else if (scan_decimal(s, strlen(s), &d) < 0 || isinf(*out = strtod(s, NULL)))
        return -1;
    return 0;
}

static int float_value(conv *c, int type, const json_t *v, double *out)
{
    const char *lit = gw_json_literal(v);
    char shown[160];
    if (json_is_number(v)) {
        *out = json_number_value(v);
    } else if (lit) {
        if (isinf(*out = strtod(lit, NULL)))
            return gw_conv_fail(c, "%.100s is out of range for a double", lit);
    } else if (json_is_string(v)) {
        if (float_text(v, out) < 0) {
            string_shown(v, shown, sizeof(shown));
            return gw_conv_fail(c, "%s is not a number", shown);
        }
    } else {
        return gw_conv_fail(c, "expected a number, got %s", gw_json_kind(v));
    }
    if (type == GW_TYPE_FLOAT && isfinite(*out) && fabs(*out) >= FLOAT_OVERFLOW) {
        value_text(v, shown, sizeof(shown));
        return gw_conv_fail(c, "%s is out of range for a float", shown);
    }
    return 0;
}

/* ======================= JSON -> wire ===================================== */

void gw_wire_tag(gw_buf *out, uint32_t number, int wire)
{
    gw_buf_varint(out, (uint64_t)number << 3 | (uint64_t)wire);
}

static int wire_type_of(int type)
{
    switch (type) {
    case GW_TYPE_DOUBLE: case GW_TYPE_FIXED64: case GW_TYPE_SFIXED64: return RP_PB_WIRE_FIXED64;
    case GW_TYPE_FLOAT: case GW_TYPE_FIXED32: case GW_TYPE_SFIXED32: return RP_PB_WIRE_FIXED32;
    case GW_TYPE_STRING: case GW_TYPE_BYTES: case GW_TYPE_MESSAGE: return RP_PB_WIRE_LEN;
    case GW_TYPE_GROUP: return RP_PB_WIRE_SGROUP;
    default: return RP_PB_WIRE_VARINT;
    }
}

/* An enum value by name: the name as text, or its number as text or as a
 * JSON number (any number for a proto3 enum, which is open; one it
 * declares for a proto2 enum, which is closed).  *skip is set when an unknown name
 * is ignored (ignore_unknown_fields). */
static int encode_enum(conv *c, const gw_field *f, const json_t *v, gw_buf *out, int *skip)
{
    int64_t sv = 0;
    uint64_t uv = 0;
    intval iv;
    if (json_is_null(v) && f->enumeration->null_value) {
        gw_buf_varint(out, 0);
        return 0;
    }
    if (gw_json_is_text(v)) {
        const char *name = plain_text(v);
        const gw_enum_value *ev = name ? gw_enum_by_name(f->enumeration, name) : NULL;
        if (ev) {
            gw_buf_varint(out, (uint64_t)(int64_t)ev->number);
            return 0;
        }
        if (!name || integer_text(name, strlen(name), &iv) < 0) {
            if (c->opt->ignore_unknown_fields) {
                *skip = 1;
                return 0;
            }
            char shown[160];
            string_shown(v, shown, sizeof(shown));
            return gw_conv_fail(c, "%s is not a value of enum %s", shown,
                                f->enumeration->full_name);
        }
    } else if (!json_is_number(v) && !gw_json_literal(v)) {
        return gw_conv_fail(c, "expected an enum name or number, got %s", gw_json_kind(v));
    }
    if (integer_value(c, GW_TYPE_ENUM, v, &sv, &uv) < 0)
        return -1;
    if (f->enumeration->closed && !gw_enum_by_number(f->enumeration, (int32_t)sv)) {
        if (c->opt->ignore_unknown_fields) {
            *skip = 1;
            return 0;
        }
        return gw_conv_fail(c, "%" PRId64 " is not a value of enum %s (a proto2 enum takes "
                            "only the numbers it declares)", sv, f->enumeration->full_name);
    }
    gw_buf_varint(out, (uint64_t)sv);
    return 0;
}

static int encode_floating(conv *c, const gw_field *f, const json_t *v, gw_buf *out)
{
    double d = 0;
    if (float_value(c, f->type, v, &d) < 0)
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
}

static int encode_integer(conv *c, const gw_field *f, const json_t *v, gw_buf *out)
{
    int64_t sv = 0;
    uint64_t uv = 0;
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
    default: return gw_conv_fail(c, "unsupported field type %d", f->type);
    }
    return 0;
}

/* Writes the value of one scalar (non-message) field, without its tag.
 * *skip is set when the value is to be dropped (unknown enum name ignored). */
static int encode_scalar(conv *c, const gw_field *f, const json_t *v, gw_buf *out, int *skip)
{
    switch (f->type) {
    case GW_TYPE_DOUBLE:
    case GW_TYPE_FLOAT:
        return encode_floating(c, f, v, out);
    case GW_TYPE_BOOL:
        if (!json_is_boolean(v))
            return gw_conv_fail(c, "expected true or false, got %s", gw_json_kind(v));
        gw_buf_varint(out, json_is_true(v));
        return 0;
    case GW_TYPE_STRING:
        if (!gw_json_is_text(v))
            return gw_conv_fail(c, "expected a string, got %s", gw_json_kind(v));
        gw_buf_varint(out, json_string_length(v));
        gw_buf_append(out, json_string_value(v), json_string_length(v));
        return 0;
    case GW_TYPE_BYTES: {
        if (!gw_json_is_text(v))
            return gw_conv_fail(c, "expected a base64 string, got %s", gw_json_kind(v));
        size_t at = out->len;
        gw_result decoded = gw_base64_decode(out, json_string_value(v), json_string_length(v));
        if (decoded != GW_OK)
            return decoded == GW_NOMEM ? gw_conv_oom(c) : gw_conv_fail(c, "not valid base64");
        gw_buf_insert_varint(out, at, out->len - at);
        return 0;
    }
    case GW_TYPE_ENUM:
        return encode_enum(c, f, v, out, skip);
    default:
        return encode_integer(c, f, v, out);
    }
}

/* One value of field f (a singular field, or one element of a repeated
 * one), tag included; nothing when *skip comes back set. */
static int encode_one(conv *c, const gw_field *f, const json_t *v, gw_buf *out, int *skip)
{
    size_t at = out->len;
    if (f->type == GW_TYPE_GROUP) { /* its fields between a start and an end tag */
        gw_wire_tag(out, f->number, RP_PB_WIRE_SGROUP);
        if (gw_json_encode_message(c, f->message, v, out) < 0)
            return -1;
        gw_wire_tag(out, f->number, RP_PB_WIRE_EGROUP);
        return 0;
    }
    gw_wire_tag(out, f->number, wire_type_of(f->type));
    if (f->type == GW_TYPE_MESSAGE) {
        size_t body = out->len;
        if (gw_json_encode_message(c, f->message, v, out) < 0)
            return -1;
        gw_buf_insert_varint(out, body, out->len - body);
        return 0;
    }
    if (encode_scalar(c, f, v, out, skip) < 0)
        return -1;
    if (*skip)
        out->len = at;
    return 0;
}

/* null as an element of a repeated field or a map value: refused unless
 * null is a value of the field's type. */
static int refuse_null(conv *c, const gw_field *f, const json_t *v, const char *where)
{
    if (json_is_null(v) && !gw_wkt_null_is_value(f))
        return gw_conv_fail(c, "null is not allowed %s", where);
    return 0;
}

/* Packed elements; nothing at all if none remain (unknown enum names
 * ignored). */
static int encode_packed(conv *c, const gw_field *f, const json_t *arr, gw_buf *out)
{
    size_t tag_at = out->len;
    gw_wire_tag(out, f->number, RP_PB_WIRE_LEN);
    size_t at = out->len;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        size_t saved = gw_conv_push(c, NULL, (long)i);
        int skip = 0;
        if (refuse_null(c, f, v, "in a repeated field") < 0 ||
            encode_scalar(c, f, v, out, &skip) < 0)
            return -1;
        gw_conv_pop(c, saved);
    }
    if (out->len == at)
        out->len = tag_at;
    else
        gw_buf_insert_varint(out, at, out->len - at);
    return 0;
}

static int encode_repeated(conv *c, const gw_field *f, const json_t *arr, gw_buf *out)
{
    if (!json_is_array(arr))
        return gw_conv_fail(c, "expected an array, got %s", gw_json_kind(arr));
    if (f->packed)
        return encode_packed(c, f, arr, out);
    size_t i;
    json_t *elem;
    json_array_foreach(arr, i, elem) {
        size_t saved = gw_conv_push(c, NULL, (long)i);
        int skip = 0;
        if (refuse_null(c, f, elem, "in a repeated field") < 0 ||
            encode_one(c, f, elem, out, &skip) < 0)
            return -1;
        gw_conv_pop(c, saved);
    }
    return 0;
}

/* A map<K,V> entry key: JSON object keys are strings; convert to K. */
static int encode_map_key(conv *c, const gw_field *kf, const char *key, gw_buf *out)
{
    gw_wire_tag(out, kf->number, wire_type_of(kf->type));
    if (kf->type == GW_TYPE_STRING) {
        size_t len = strlen(key);
        gw_buf_varint(out, len);
        gw_buf_append(out, key, len);
        return 0;
    }
    if (kf->type == GW_TYPE_BOOL) {
        if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
            return gw_conv_fail(c, "map key '%s' is not true or false", key);
        gw_buf_varint(out, key[0] == 't');
        return 0;
    }
    size_t i = key[0] == '-' || key[0] == '+';
    if (!key[i] || strspn(key + i, "0123456789") != strlen(key + i))
        return gw_conv_fail(c, "'%.100s' is not a valid integer", key); /* no 1e2, 1.0 */
    json_t *text = json_string(key);
    if (!text && rp_utf8_valid((const uint8_t *)key, strlen(key)))
        return gw_conv_oom(c);
    if (!text)
        return gw_conv_fail(c, "map key is not valid UTF-8");
    int skip = 0;
    int rc = encode_scalar(c, kf, text, out, &skip);
    json_decref(text);
    return rc;
}

/* One entry, tag included; nothing if its value is an ignored enum name. */
static int encode_map_entry(conv *c, const gw_field *f, const char *key, const json_t *v,
                            gw_buf *out)
{
    const gw_field *kf = gw_message_field_by_number(f->message, 1);
    const gw_field *vf = gw_message_field_by_number(f->message, 2);
    if (!kf || !vf)
        return gw_conv_fail(c, "map entry type %s has no key or value", f->message->full_name);
    size_t start = out->len;
    gw_wire_tag(out, f->number, RP_PB_WIRE_LEN);
    size_t at = out->len;
    int skip = 0;
    if (refuse_null(c, vf, v, "as a map value") < 0 || encode_map_key(c, kf, key, out) < 0 ||
        encode_one(c, vf, v, out, &skip) < 0)
        return -1;
    if (skip)
        out->len = start;
    else
        gw_buf_insert_varint(out, at, out->len - at);
    return 0;
}

/* The integer map key `key` (checked: [+-]digits) as its shortest text
 * in buf[size] ("+007" -> "7", "-0" -> "0"); 1 if that differs from key,
 * 0 if not (or if it is too long to be in range anyway). */
static int map_key_canonical(const char *key, char *buf, size_t size)
{
    int neg = key[0] == '-';
    const char *d = key + (key[0] == '-' || key[0] == '+');
    while (d[0] == '0' && d[1])
        d++;
    if (d[0] == '0')
        neg = 0;
    if (strlen(d) + 2 > size)
        return 0;
    snprintf(buf, size, "%s%s", neg ? "-" : "", d);
    return strcmp(buf, key) != 0;
}

typedef struct canon_key {
    char text[32];
} canon_key;

static int by_canon_text(const void *a, const void *b)
{
    return strcmp(((const canon_key *)a)->text, ((const canon_key *)b)->text);
}

/* Integer keys in other forms than the shortest ("01", "+1") may name the
 * same key twice, which JSON's duplicate-key check cannot see: refused, as
 * protojson does, rather than one entry silently replacing the other.
 * Sorted, so that a map of many such keys costs n log n. */
static int refuse_duplicate_int_keys(conv *c, const json_t *obj)
{
    size_t n = json_object_size(obj), i = 0, odd = 0;
    canon_key one;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
        odd += (size_t)map_key_canonical(key, one.text, sizeof(one.text));
    if (!odd)
        return 0;
    canon_key *keys = malloc(n * sizeof(*keys));
    if (!keys)
        return gw_conv_oom(c);
    json_object_foreach((json_t *)obj, key, v) {
        if (!map_key_canonical(key, keys[i].text, sizeof(keys[i].text)))
            snprintf(keys[i].text, sizeof(keys[i].text), "%s", key);
        i++;
    }
    qsort(keys, n, sizeof(*keys), by_canon_text);
    int rc = 0;
    for (i = 1; i < n && rc == 0; i++)
        if (strcmp(keys[i - 1].text, keys[i].text) == 0)
            rc = gw_conv_fail(c, "map key %s is given twice, in different forms", keys[i].text);
    free(keys);
    return rc;
}

static int is_integer_key(const gw_field *f)
{
    const gw_field *kf = gw_message_field_by_number(f->message, 1);
    return kf && kf->type != GW_TYPE_STRING && kf->type != GW_TYPE_BOOL;
}

static int encode_map(conv *c, const gw_field *f, const json_t *obj, gw_buf *out)
{
    if (!json_is_object(obj))
        return gw_conv_fail(c, "expected an object (a map), got %s", gw_json_kind(obj));
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        size_t saved = gw_conv_push(c, key, -1);
        if (encode_map_entry(c, f, key, v, out) < 0)
            return -1;
        gw_conv_pop(c, saved);
    }
    return is_integer_key(f) ? refuse_duplicate_int_keys(c, obj) : 0;
}

int gw_json_encode_field(gw_conv *c, const gw_field *f, const json_t *v, gw_buf *out)
{
    int skip = 0;
    if (f->repeated && f->message && f->message->map_entry)
        return json_is_null(v) ? 0 : encode_map(c, f, v, out);
    if (f->repeated)
        return json_is_null(v) ? 0 : encode_repeated(c, f, v, out);
    if (json_is_null(v) && !gw_wkt_null_is_value(f))
        return 0; /* null means "default": nothing on the wire */
    return encode_one(c, f, v, out, &skip);
}

/* Tracks which fields a JSON object set, to refuse duplicates and oneof
 * clashes.  seen[i]: 0 not named, 1 named with null, 2 holds a value. */
static int check_member(conv *c, const gw_message *m, unsigned char *seen, size_t idx,
                        const json_t *v)
{
    const gw_field *f = &m->fields[idx];
    if (seen[idx])
        return gw_conv_fail(c, "set twice (by its JSON name and its proto name)");
    seen[idx] = json_is_null(v) ? 1 : 2;
    if (seen[idx] != 2 || f->oneof_index < 0)
        return 0;
    for (size_t j = 0; j < m->n_fields; j++)
        if (j != idx && seen[j] == 2 && m->fields[j].oneof_index == f->oneof_index)
            return gw_conv_fail(c, "'%s' of the same oneof is already set",
                                m->fields[j].json_name);
    return 0;
}

/* One member of a message object: its field, or unknown. */
static int encode_member(conv *c, const gw_message *m, unsigned char *seen, const char *key,
                         const json_t *v, gw_buf *out)
{
    const gw_field *f = gw_message_field_by_name(m, key, strlen(key));
    if (!f)
        return c->opt->ignore_unknown_fields ? 0
                                             : gw_conv_fail(c, "no such field in %s", m->full_name);
    if (check_member(c, m, seen, (size_t)(f - m->fields), v) < 0)
        return -1;
    return gw_json_encode_field(c, f, v, out);
}

int gw_json_encode_fields(gw_conv *c, const gw_message *m, const json_t *obj, const char *skip,
                          gw_buf *out)
{
    unsigned char seen_small[256];
    unsigned char *seen = m->n_fields <= sizeof(seen_small) ? seen_small
                                                            : calloc(m->n_fields, 1);
    if (!seen)
        return gw_conv_oom(c);
    memset(seen, 0, m->n_fields <= sizeof(seen_small) ? m->n_fields : 0);
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (skip && strcmp(key, skip) == 0)
            continue;
        size_t saved = gw_conv_push(c, key, -1);
        if ((rc = encode_member(c, m, seen, key, v, out)) < 0)
            break;
        gw_conv_pop(c, saved);
    }
    if (seen != seen_small)
        free(seen);
    return rc;
}

int gw_json_encode_message(gw_conv *c, const gw_message *m, const json_t *v, gw_buf *out)
{
    if (c->depth >= MAX_DEPTH)
        return gw_conv_fail(c, "messages nested more than %d deep", MAX_DEPTH);
    c->depth++;
    int rc;
    if (m->wkt)
        rc = gw_wkt_encode(c, m, v, out);
    else if (json_is_null(v))
        rc = 0;
    else if (!json_is_object(v))
        rc = gw_conv_fail(c, "expected an object (%s), got %s", m->full_name, gw_json_kind(v));
    else
        rc = gw_json_encode_fields(c, m, v, NULL, out);
    c->depth--;
    if (rc == 0 && out->oom)
        return gw_conv_oom(c);
    return rc;
}

gw_result gw_json_to_proto(const gw_message *m, const json_t *json, const gw_json_options *opt,
                           gw_buf *out, char *err, size_t errlen)
{
    conv c;
    conv_init(&c, opt, err, errlen);
    return conv_result(&c, gw_json_encode_message(&c, m, json, out));
}

gw_result gw_json_fields_to_proto(const gw_message *m, const json_t *json,
                                  const gw_json_options *opt, gw_buf *out, char *err,
                                  size_t errlen)
{
    conv c;
    conv_init(&c, opt, err, errlen);
    if (!json_is_object(json))
        return conv_result(&c, gw_conv_fail(&c, "expected an object of the fields of %s, got %s",
                                            m->full_name, gw_json_kind(json)));
    c.depth++;
    int rc = gw_json_encode_fields(&c, m, json, NULL, out);
    if (rc == 0 && out->oom)
        rc = gw_conv_oom(&c);
    return conv_result(&c, rc);
}

/* ======================= reading the wire ================================= */

/* Reads past the group `number` begun before *p, up to and with its end
 * tag; *body_end is where that tag starts. */
static int skip_group(const uint8_t **p, const uint8_t *end, uint32_t number, int depth,
                      const uint8_t **body_end)
{
    if (depth > MAX_DEPTH)
        return -1;
    while (*p < end) {
        rp_pb_field f;
        uint64_t tag;
        const uint8_t *at = *p;
        if (rp_pb_read_varint(p, end, &tag) < 0)
            return -1;
        if ((tag & 7) == RP_PB_WIRE_EGROUP) {
            *body_end = at;
            return (tag >> 3) == number ? 0 : -1;
        }
        *p = at;
        if (gw_wire_next(p, end, &f, depth + 1) < 0)
            return -1;
    }
    return -1;
}

int gw_wire_next(const uint8_t **p, const uint8_t *end, rp_pb_field *f, int depth)
{
    int rc = rp_pb_next_field(p, end, f);
    if (rc == RP_PB_BAD_TAG || !rp_pb_field_number_ok(f->number))
        return -1;
    if (rc == RP_PB_FIELD)
        return 0;
    if (rc != RP_PB_GROUP || f->wire != RP_PB_WIRE_SGROUP)
        return -2;
    const uint8_t *body = *p, *body_end = NULL;
    if (skip_group(p, end, f->number, depth, &body_end) < 0)
        return -2;
    f->data = body;
    f->len = (size_t)(body_end - body);
    return 0;
}

/* A field occurrence in a scanned message. */
typedef struct occurrence {
    uint32_t field; /* index into m->fields */
    uint8_t wire;
    size_t seq;     /* position among the message's occurrences */
    uint64_t value; /* varint / fixed value */
    const uint8_t *data; /* RP_PB_WIRE_LEN payload */
    size_t len;
} occurrence;

/* A message's occurrences grouped by field: those of field i, in wire
 * order, are occ[lo[i] .. hi[i]).  Groups are contiguous and in field
 * order, so hi[i - 1] is where field i's group began before oneof
 * resolution moved lo[i]. */
typedef struct scanned {
    occurrence *occ;
    size_t *lo, *hi;
} scanned;

static void scanned_free(scanned *s)
{
    free(s->occ);
    free(s->lo);
    s->occ = NULL;
    s->lo = s->hi = NULL;
}

/* 1 if wf is a value of field f as protobuf parsers take it: of f's wire
 * type (or packed, for repeated scalars), and for a closed enum one of its
 * numbers.  Parsers keep anything else with the unknown fields, which JSON
 * leaves out: a field whose type changed since the descriptors were made
 * does not fail the whole message. */
static int is_known_value(const gw_field *f, const rp_pb_field *wf)
{
    int want = wire_type_of(f->type);
    if (wf->wire != want)
        return f->repeated && wf->wire == RP_PB_WIRE_LEN && want != RP_PB_WIRE_LEN &&
               want != RP_PB_WIRE_SGROUP;
    if (f->type == GW_TYPE_ENUM && f->enumeration->closed)
        return gw_enum_by_number(f->enumeration, (int32_t)wf->value) != NULL;
    return 1;
}

/* Reads one occurrence.  occ->field is UINT32_MAX for unknown fields. */
static int scan_one(conv *c, const gw_message *m, const uint8_t **p, const uint8_t *end,
                    occurrence *occ)
{
    rp_pb_field wf;
    int rc = gw_wire_next(p, end, &wf, c->depth);
    if (rc == -1)
        return gw_conv_fail(c, "malformed %s message (bad tag)", m->full_name);
    if (rc < 0)
        return gw_conv_fail(c, "malformed %s message (field %u truncated or bad wire type)",
                            m->full_name, wf.number);
    occ->wire = wf.wire;
    occ->value = wf.value;
    occ->data = wf.data;
    occ->len = wf.len;
    const gw_field *f = gw_message_field_by_number(m, wf.number);
    occ->field = f && is_known_value(f, &wf) ? (uint32_t)(f - m->fields) : UINT32_MAX;
    return 0;
}

/* Reads every occurrence of known fields, in wire order.  Returns the
 * array (caller frees) and its length, or NULL after an error. */
static occurrence *scan_all(conv *c, const gw_message *m, const uint8_t *data, size_t len,
                            size_t *n_out)
{
    size_t cap = 16, n = 0;
    occurrence *all = malloc(cap * sizeof(*all));
    if (!data) /* no bytes (len 0) may come as NULL: data + 0 would be UB */
        data = (const uint8_t *)"";
    const uint8_t *p = data, *end = data + len;
    while (all && p < end) {
        if (n == cap) {
            occurrence *grown = realloc(all, (cap *= 2) * sizeof(*all));
            if (!grown)
                break;
            all = grown;
        }
        if (scan_one(c, m, &p, end, &all[n]) < 0) {
            free(all);
            return NULL;
        }
        all[n].seq = n;
        if (all[n].field != UINT32_MAX)
            n++;
    }
    if (!all || p < end) {
        free(all);
        gw_conv_oom(c);
        return NULL;
    }
    *n_out = n;
    return all;
}

/* The latest occurrence of another member of f's oneof, or 0 if none. */
static size_t oneof_cutoff(const gw_message *m, const scanned *s, size_t i)
{
    size_t cutoff = 0;
    for (size_t j = 0; j < m->n_fields; j++) {
        size_t began = j ? s->hi[j - 1] : 0;
        if (j == i || m->fields[j].oneof_index != m->fields[i].oneof_index || s->hi[j] == began)
            continue;
        size_t last = s->occ[s->hi[j] - 1].seq + 1;
        if (last > cutoff)
            cutoff = last;
    }
    return cutoff;
}

/* Setting a oneof member clears the others: keep only the occurrences of
 * each member that come after every occurrence of the other members. */
static void resolve_oneofs(const gw_message *m, scanned *s)
{
    for (size_t i = 0; i < m->n_fields; i++) {
        if (m->fields[i].oneof_index < 0 || s->lo[i] == s->hi[i])
            continue;
        size_t cutoff = oneof_cutoff(m, s, i);
        while (s->lo[i] < s->hi[i] && s->occ[s->lo[i]].seq < cutoff)
            s->lo[i]++;
    }
}

/* Scans message m into s (groups by a counting sort on field index). */
static int scan_message(conv *c, const gw_message *m, const uint8_t *data, size_t len,
                        scanned *s)
{
    size_t n = 0;
    occurrence *all = scan_all(c, m, data, len, &n);
    if (!all)
        return -1;
    s->occ = malloc((n ? n : 1) * sizeof(*s->occ));
    s->lo = calloc(2 * (m->n_fields + 1), sizeof(*s->lo));
    if (!s->occ || !s->lo) {
        free(all);
        scanned_free(s);
        return gw_conv_oom(c);
    }
    s->hi = s->lo + m->n_fields + 1;
    for (size_t i = 0; i < n; i++)
        s->hi[all[i].field]++;
    for (size_t i = 0, sum = 0; i < m->n_fields; i++) {
        s->lo[i] = sum;
        sum += s->hi[i];
        s->hi[i] = s->lo[i];
    }
    for (size_t i = 0; i < n; i++)
        s->occ[s->hi[all[i].field]++] = all[i];
    free(all);
    resolve_oneofs(m, s);
    return 0;
}

void gw_json_write_text(gw_buf *out, const char *s, size_t len)
{
    const uint8_t *u = (const uint8_t *)(s ? s : "");
    if (rp_utf8_valid(u, len)) {
        gw_json_write_string(out, s, len);
        return;
    }
    gw_buf fixed = GW_BUF_INIT;
    for (size_t i = 0, n, bad; i < len; i += n ? n : bad) {
        if ((n = rp_utf8_char(u + i, len - i, &bad)))
            gw_buf_append(&fixed, u + i, n);
        else /* U+FFFD for each maximal part of a character */
            gw_buf_append(&fixed, "\xef\xbf\xbd", 3);
    }
    if (fixed.oom) /* out's own failure shows in out->oom as usual */
        gw_json_write_string(out, "", 0), out->oom = 1;
    else
        gw_json_write_string(out, (const char *)fixed.data, fixed.len);
    gw_buf_free(&fixed);
}

/* ======================= wire -> JSON ===================================== */

void gw_json_write_string(gw_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (!s) /* an empty string or bytes field may come as NULL: s + 0 would be UB */
        s = "";
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

/* The shortest text that reads back as the finite double d (or, if
 * is_float, as the float d holds), into text[0..n).  A normal double
 * holds 15 significant digits (a float 6), so a shorter text that reads
 * back is that many digits with the zeros %g drops; a subnormal holds
 * fewer, and the search starts at 1 digit for it alone (5e-324, not
 * 4.94065645841247e-324). */
static void shortest_text(double d, int is_float, char *text, size_t n)
{
    int subnormal = fabs(d) < (is_float ? FLT_MIN : DBL_MIN);
    for (int prec = subnormal ? 1 : is_float ? 6 : 15; prec <= 17; prec++) {
        snprintf(text, n, "%.*g", prec, d);
        if (is_float ? strtof(text, NULL) == (float)d : strtod(text, NULL) == d)
            break;
    }
}

/* Shortest text that reads back as the same double (or float); NaN and
 * the infinities as the strings the mapping names them by. */
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
    shortest_text(d, is_float, text, sizeof(text));
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

static void write_enum(const gw_json_options *opt, const gw_field *f, uint64_t v, gw_buf *out)
{
    const gw_enum_value *ev = opt->enum_numbers ? NULL : gw_enum_by_number(f->enumeration,
                                                                          (int32_t)v);
    if (f->enumeration->null_value)
        gw_buf_puts(out, "null");
    else if (ev)
        gw_json_write_string(out, ev->name, strlen(ev->name));
    else
        gw_buf_printf(out, "%" PRId32, (int32_t)v); /* asked for, or not declared */
}

static void write_number(const gw_json_options *opt, const gw_field *f, uint64_t v,
                         gw_buf *out)
{
    switch (f->type) {
    case GW_TYPE_INT64: case GW_TYPE_SFIXED64:
        gw_buf_printf(out, "\"%" PRId64 "\"", (int64_t)v);
        break;
    case GW_TYPE_UINT64: case GW_TYPE_FIXED64: gw_buf_printf(out, "\"%" PRIu64 "\"", v); break;
    case GW_TYPE_SINT64: gw_buf_printf(out, "\"%" PRId64 "\"", zigzag64(v)); break;
    case GW_TYPE_INT32: case GW_TYPE_SFIXED32: gw_buf_printf(out, "%" PRId32, (int32_t)v); break;
    case GW_TYPE_UINT32: case GW_TYPE_FIXED32: gw_buf_printf(out, "%" PRIu32, (uint32_t)v); break;
    case GW_TYPE_SINT32: gw_buf_printf(out, "%" PRId32, zigzag32(v)); break;
    case GW_TYPE_BOOL: gw_buf_puts(out, v ? "true" : "false"); break;
    case GW_TYPE_DOUBLE: { double d; memcpy(&d, &v, 8); write_float(out, d, 0); break; }
    case GW_TYPE_FLOAT: {
        uint32_t bits = (uint32_t)v;
        float fl;
        memcpy(&fl, &bits, 4);
        write_float(out, fl, 1);
        break;
    }
    default: write_enum(opt, f, v, out); break;
    }
}

/* Prints one value of field f held in v (varint / fixed bits) or
 * data[0..len) (string, bytes, message). */
static int write_scalar(conv *c, const gw_field *f, uint64_t v, const uint8_t *data, size_t len,
                        gw_buf *out)
{
    switch (f->type) {
    case GW_TYPE_STRING:
        if (!rp_utf8_valid(data, len))
            return gw_conv_fail(c, "string is not valid UTF-8");
        gw_json_write_string(out, (const char *)data, len);
        return 0;
    case GW_TYPE_BYTES:
        gw_buf_putc(out, '"');
        gw_base64_encode(out, data, len);
        gw_buf_putc(out, '"');
        return 0;
    case GW_TYPE_MESSAGE: case GW_TYPE_GROUP:
        return gw_json_decode_message(c, f->message, data, len, out);
    default:
        write_number(c->opt, f, v, out);
        return 0;
    }
}

static int is_default(const gw_field *f, const occurrence *o)
{
    switch (f->type) {
    case GW_TYPE_STRING: case GW_TYPE_BYTES: return o->len == 0;
    case GW_TYPE_MESSAGE: case GW_TYPE_GROUP: return 0;
    default: return o->value == 0; /* also +0.0; -0.0 has its sign bit set */
    }
}

/* The packed values inside one RP_PB_WIRE_LEN occurrence of a packable field. */
static int write_packed(conv *c, const gw_field *f, const occurrence *o, gw_buf *out,
                        int *first)
{
    const uint8_t *p = o->data, *end = o->data + o->len;
    int wire = wire_type_of(f->type);
    while (p < end) {
        uint64_t v;
        int bad = wire == RP_PB_WIRE_VARINT ? rp_pb_read_varint(&p, end, &v)
                  : rp_pb_read_fixed(&p, end, wire == RP_PB_WIRE_FIXED32 ? 4 : 8, &v);
        if (bad)
            return gw_conv_fail(c, "malformed packed field");
        if (f->type == GW_TYPE_ENUM && f->enumeration->closed &&
            !gw_enum_by_number(f->enumeration, (int32_t)v))
            continue; /* a parser keeps it with the unknown fields */
        if (!*first)
            gw_buf_putc(out, ',');
        *first = 0;
        write_number(c->opt, f, v, out);
    }
    return 0;
}

static int write_repeated(conv *c, const gw_field *f, const occurrence *o, size_t n,
                          gw_buf *out)
{
    gw_buf_putc(out, '[');
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (o[i].wire == RP_PB_WIRE_LEN && wire_type_of(f->type) != RP_PB_WIRE_LEN) {
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
    write_number(c->opt, kf, k->value, out);
    /* 64-bit values print quoted already: drop the inner quotes */
    if (out->len > at && out->data[at] == '"') {
        memmove(out->data + at, out->data + at + 1, out->len - at - 2);
        out->len -= 2;
    }
    gw_buf_putc(out, '"');
    return 0;
}

static int write_field(conv *c, const gw_field *f, const occurrence *o, size_t n, gw_buf *out);

/* The last occurrence of field f in a scanned message, or NULL. */
static const occurrence *last_of(const gw_message *m, const scanned *s, const gw_field *f)
{
    size_t i = (size_t)(f - m->fields);
    return s->hi[i] > s->lo[i] ? &s->occ[s->hi[i] - 1] : NULL;
}

/* The printed key of one map entry (quotes included), appended to keys. */
static int entry_key(conv *c, const gw_message *entry, const occurrence *o, gw_buf *keys)
{
    scanned s;
    if (scan_message(c, entry, o->data, o->len, &s) < 0)
        return -1;
    const gw_field *kf = gw_message_field_by_number(entry, 1);
    int rc = write_map_key(c, kf, last_of(entry, &s, kf), keys);
    scanned_free(&s);
    return rc;
}

/* The value of one map entry. */
static int entry_value(conv *c, const gw_message *entry, const occurrence *o, gw_buf *out)
{
    scanned s;
    if (scan_message(c, entry, o->data, o->len, &s) < 0)
        return -1;
    const gw_field *vf = gw_message_field_by_number(entry, 2);
    size_t i = (size_t)(vf - entry->fields);
    int rc = write_field(c, vf, s.occ + s.lo[i], s.hi[i] - s.lo[i], out);
    scanned_free(&s);
    return rc;
}

/* A printed map key: keys->data[at .. at + len), entry number `index`. */
typedef struct map_key {
    size_t at, len, index;
} map_key;

static int compare_map_keys(const void *a, const void *b, void *keys)
{
    const map_key *x = a, *y = b;
    const uint8_t *base = ((const gw_buf *)keys)->data;
    size_t n = x->len < y->len ? x->len : y->len;
    int cmp = memcmp(base + x->at, base + y->at, n);
    if (cmp == 0)
        cmp = x->len < y->len ? -1 : x->len > y->len;
    if (cmp == 0)
        cmp = x->index < y->index ? -1 : x->index > y->index;
    return cmp;
}

/* Marks shadowed[i] for each entry a later entry with the same key
 * replaces (protobuf keeps the last). */
static void find_shadowed(map_key *mk, size_t n, gw_buf *keys, unsigned char *shadowed)
{
    qsort_r(mk, n, sizeof(*mk), compare_map_keys, keys);
    for (size_t i = 0; i + 1 < n; i++)
        if (mk[i].len == mk[i + 1].len &&
            memcmp(keys->data + mk[i].at, keys->data + mk[i + 1].at, mk[i].len) == 0)
            shadowed[mk[i].index] = 1;
}

static int write_map_entries(conv *c, const gw_field *f, const occurrence *o, size_t n,
                             const gw_buf *keys, const map_key *by_index,
                             const unsigned char *shadowed, gw_buf *out)
{
    int first = 1;
    gw_buf_putc(out, '{');
    for (size_t i = 0; i < n; i++) {
        if (shadowed[i])
            continue;
        if (!first)
            gw_buf_putc(out, ',');
        first = 0;
        gw_buf_append(out, keys->data + by_index[i].at, by_index[i].len);
        gw_buf_putc(out, ':');
        if (entry_value(c, f->message, &o[i], out) < 0)
            return -1;
    }
    gw_buf_putc(out, '}');
    return 0;
}

/* The printed key of each of the n entries, into keys and in_order[]. */
static int collect_keys(conv *c, const gw_message *entry, const occurrence *o, size_t n,
                        gw_buf *keys, map_key *in_order)
{
    for (size_t i = 0; i < n; i++) {
        in_order[i] = (map_key){keys->len, 0, i};
        if (entry_key(c, entry, &o[i], keys) < 0)
            return -1;
        in_order[i].len = keys->len - in_order[i].at;
    }
    return keys->oom ? gw_conv_oom(c) : 0;
}

/* A map: its entries in wire order, each key once (the last entry wins). */
static int write_map(conv *c, const gw_field *f, const occurrence *o, size_t n, gw_buf *out)
{
    const gw_message *entry = f->message;
    if (!gw_message_field_by_number(entry, 1) || !gw_message_field_by_number(entry, 2))
        return gw_conv_fail(c, "map entry type %s has no key or value", entry->full_name);
    if (n == 0) {
        gw_buf_puts(out, "{}");
        return 0;
    }
    gw_buf keys = GW_BUF_INIT;
    map_key *in_order = malloc(n * sizeof(*in_order)), *sorted = malloc(n * sizeof(*sorted));
    unsigned char *shadowed = calloc(n, 1);
    int rc = in_order && sorted && shadowed ? 0 : gw_conv_oom(c);
    if (rc == 0)
        rc = collect_keys(c, entry, o, n, &keys, in_order);
    if (rc == 0) {
        memcpy(sorted, in_order, n * sizeof(*sorted));
        find_shadowed(sorted, n, &keys, shadowed);
        rc = write_map_entries(c, f, o, n, &keys, in_order, shadowed, out);
    }
    gw_buf_free(&keys);
    free(in_order);
    free(sorted);
    free(shadowed);
    return rc;
}

/* A singular message field seen several times: the occurrences merge, which
 * for wire bytes is concatenation. */
static int write_merged_message(conv *c, const gw_field *f, const occurrence *o, size_t n,
                                gw_buf *out)
{
    gw_buf joined = GW_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        gw_buf_append(&joined, o[i].data, o[i].len);
    int rc = joined.oom ? gw_conv_oom(c)
                        : gw_json_decode_message(c, f->message, joined.data, joined.len, out);
    gw_buf_free(&joined);
    return rc;
}

/* The JSON value of field f from its n occurrences; its default if n is 0. */
static int write_field(conv *c, const gw_field *f, const occurrence *o, size_t n, gw_buf *out)
{
    if (f->repeated)
        return f->message && f->message->map_entry ? write_map(c, f, o, n, out)
                                                   : write_repeated(c, f, o, n, out);
    if ((f->type == GW_TYPE_MESSAGE || f->type == GW_TYPE_GROUP) && n > 1)
        return write_merged_message(c, f, o, n, out);
    if (n == 0)
        return write_scalar(c, f, 0, (const uint8_t *)"", 0, out);
    const occurrence *last = &o[n - 1];
    return write_scalar(c, f, last->value, last->data, last->len, out);
}

/* 1 unless every occurrence is an empty packed run. */
/* 1 if a packed run holds a value that write_packed prints: any, but for a
 * closed enum one of its numbers. */
static int packed_has_value(const gw_field *f, const occurrence *o)
{
    if (f->type != GW_TYPE_ENUM || !f->enumeration->closed)
        return o->len > 0;
    const uint8_t *p = o->data, *end = o->data + o->len;
    uint64_t v;
    while (p < end && rp_pb_read_varint(&p, end, &v) == 0)
        if (gw_enum_by_number(f->enumeration, (int32_t)v))
            return 1;
    return 0;
}

/* 1 unless every occurrence is a packed run with nothing to print. */
static int has_elements(const gw_field *f, const occurrence *o, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (o[i].wire != RP_PB_WIRE_LEN || wire_type_of(f->type) == RP_PB_WIRE_LEN ||
            packed_has_value(f, &o[i]))
            return 1;
    return 0;
}

static int field_is_emitted(const conv *c, const gw_field *f, const occurrence *o, size_t n)
{
    if (c->opt->emit_defaults)
        return n > 0 || !(f->presence || f->oneof_index >= 0);
    if (n == 0)
        return 0;
    if (f->repeated)
        return has_elements(f, o, n);
    if (f->presence)
        return 1;
    return !is_default(f, &o[n - 1]);
}

static int write_fields(conv *c, const gw_message *m, const scanned *s, gw_buf *out,
                        int *n_written)
{
    for (size_t i = 0; i < m->n_fields; i++) {
        const gw_field *f = &m->fields[i];
        size_t count = s->hi[i] - s->lo[i];
        const occurrence *o = s->occ + s->lo[i];
        if (!field_is_emitted(c, f, o, count))
            continue;
        if ((*n_written)++)
            gw_buf_putc(out, ',');
        const char *name = c->opt->proto_names ? f->name : f->json_name;
        gw_json_write_string(out, name, strlen(name));
        gw_buf_putc(out, ':');
        size_t saved = gw_conv_push(c, name, -1);
        if (write_field(c, f, o, count, out) < 0)
            return -1;
        gw_conv_pop(c, saved);
    }
    return 0;
}

int gw_json_decode_fields(gw_conv *c, const gw_message *m, const uint8_t *data, size_t len,
                          gw_buf *out, int *n_written)
{
    scanned s;
    if (scan_message(c, m, data, len, &s) < 0)
        return -1;
    int rc = write_fields(c, m, &s, out, n_written);
    scanned_free(&s);
    return rc;
}

int gw_json_decode_message(gw_conv *c, const gw_message *m, const uint8_t *data, size_t len,
                           gw_buf *out)
{
    static const uint8_t no_bytes[1];
    if (!data) /* an empty buffer (a merged message of empty parts): data + len must be valid */
        data = no_bytes;
    if (c->depth >= MAX_DEPTH)
        return gw_conv_fail(c, "messages nested more than %d deep", MAX_DEPTH);
    c->depth++;
    int rc, n = 0;
    if (m->wkt) {
        rc = gw_wkt_decode(c, m, data, len, out);
    } else {
        gw_buf_putc(out, '{');
        rc = gw_json_decode_fields(c, m, data, len, out, &n);
        gw_buf_putc(out, '}');
    }
    c->depth--;
    if (rc == 0 && out->oom)
        return gw_conv_oom(c);
    return rc;
}

int gw_json_decode_field(gw_conv *c, const gw_message *m, const gw_field *f,
                         const uint8_t *data, size_t len, gw_buf *out)
{
    scanned s;
    if (scan_message(c, m, data, len, &s) < 0)
        return -1;
    size_t i = (size_t)(f - m->fields);
    int rc = write_field(c, f, s.occ + s.lo[i], s.hi[i] - s.lo[i], out);
    scanned_free(&s);
    return rc;
}

gw_result gw_proto_to_json(const gw_message *m, const uint8_t *data, size_t len,
                           const gw_json_options *opt, gw_buf *out, char *err, size_t errlen)
{
    conv c;
    conv_init(&c, opt, err, errlen);
    return conv_result(&c, gw_json_decode_message(&c, m, data, len, out));
}

gw_result gw_proto_field_to_json(const gw_message *m, const gw_field *f, const uint8_t *data,
                                 size_t len, const gw_json_options *opt, gw_buf *out,
                                 char *err, size_t errlen)
{
    conv c;
    conv_init(&c, opt, err, errlen);
    int rc = gw_json_decode_field(&c, m, f, data, len, out);
    if (rc == 0 && out->oom)
        rc = gw_conv_oom(&c);
    return conv_result(&c, rc);
}
