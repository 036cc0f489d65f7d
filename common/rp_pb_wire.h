/*
 * rp_pb_wire.h -- the protobuf wire format below message types, shared by
 * the host and the gateway: varints read and written, fixed-width values
 * read, and a message's bytes walked field by field.  What a field means
 * (its type, whether its number is known) is the caller's; so are groups
 * (wire types 3 and 4), which the walker refuses and the gateway's JSON
 * codec reads on top of it (gw_json.c:gw_wire_next).
 */
#ifndef RP_PB_WIRE_H
#define RP_PB_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* The wire types: the low 3 bits of a tag. */
enum { RP_PB_WIRE_VARINT = 0, RP_PB_WIRE_FIXED64 = 1, RP_PB_WIRE_LEN = 2, RP_PB_WIRE_SGROUP = 3,
       RP_PB_WIRE_EGROUP = 4, RP_PB_WIRE_FIXED32 = 5 };

#define RP_PB_VARINT_MAX 10             /* bytes of the longest varint (64 bits) */
#define RP_PB_FIELD_NUMBER_MAX 0x1fffffff /* the largest field number protoc allows */

/* Reads the varint at *p (not past end) into *out and advances *p.
 * Returns 0, or -1 if it is truncated or longer than RP_PB_VARINT_MAX
 * bytes (*p is then past what it read).  Inline: the gateway reads every
 * tag and number of every reply through it. */
static inline int rp_pb_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t byte = *(*p)++;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Reads the little-endian value of `size` bytes (4 or 8) at *p into *out
 * and advances *p; 0, or -1 (*p unmoved) if fewer are left. */
static inline int rp_pb_read_fixed(const uint8_t **p, const uint8_t *end, unsigned size,
                                   uint64_t *out)
{
    if ((size_t)(end - *p) < size)
        return -1;
    uint64_t v = 0;
    for (unsigned i = size; i > 0; i--)
        v = v << 8 | (*p)[i - 1];
    *p += size;
    *out = v;
    return 0;
}

/* How many bytes v takes as a varint (1 to RP_PB_VARINT_MAX). */
static inline size_t rp_pb_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes v as a varint at out, which has room for rp_pb_varint_size(v)
 * bytes; returns how many it wrote. */
static inline size_t rp_pb_put_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

/* One field as read off the wire. */
typedef struct rp_pb_field {
    uint32_t number;      /* as written: 0 and numbers past RP_PB_FIELD_NUMBER_MAX included */
    uint8_t wire;         /* RP_PB_WIRE_* */
    uint64_t value;       /* a varint, a fixed value's bits, or a LEN field's length */
    const uint8_t *data;  /* RP_PB_WIRE_LEN: the payload, else NULL (gw_wire_next: a group's body) */
    size_t len;           /* the length of data */
} rp_pb_field;

/* What rp_pb_next_field found. */
enum {
    RP_PB_FIELD = 0,           /* a field of wire type 0, 1, 2 or 5; *p is past it */
    RP_PB_BAD_TAG = -1,        /* the tag is truncated, too long, or numbers past 2^32 - 1 */
    RP_PB_TRUNCATED = -2,      /* the value runs past end (or is a varint that is too long) */
    RP_PB_BAD_WIRE_TYPE = -3,  /* wire type 6 or 7 */
    RP_PB_GROUP = -4,          /* wire type 3 or 4; *p is just past the tag */
};

/*
 * Reads the field at *p (not past end) into *f and advances *p.  Returns
 * RP_PB_FIELD, or one of the refusals above; after any but RP_PB_BAD_TAG,
 * f->number and f->wire are the tag's.  The field number is not checked:
 * protobuf-c keeps 0 (written in two bytes or more) and numbers past
 * RP_PB_FIELD_NUMBER_MAX as unknown fields, so a walk that must go as far
 * as it does (rp_pb_depth.c) takes them; a reader that refuses them checks
 * rp_pb_field_number_ok.
 */
int rp_pb_next_field(const uint8_t **p, const uint8_t *end, rp_pb_field *f);

/* 1 if a field may have this number (1 to RP_PB_FIELD_NUMBER_MAX). */
static inline int rp_pb_field_number_ok(uint32_t number)
{
    return number >= 1 && number <= RP_PB_FIELD_NUMBER_MAX;
}

#endif /* RP_PB_WIRE_H */
