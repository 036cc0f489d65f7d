/*
 * rp_pb_wire.c -- one field of a message's wire bytes read whole; see
 * rp_pb_wire.h (the varint and fixed-width readers are inline there).
 */
#include "rp_pb_wire.h"

int rp_pb_next_field(const uint8_t **p, const uint8_t *end, rp_pb_field *f)
{
    uint64_t tag;
    if (rp_pb_read_varint(p, end, &tag) < 0 || tag >> 3 > UINT32_MAX)
        return RP_PB_BAD_TAG;
    f->number = (uint32_t)(tag >> 3);
    f->wire = (uint8_t)(tag & 7);
    f->data = NULL;
    f->len = 0;
    switch (f->wire) {
    case RP_PB_WIRE_VARINT:
        return rp_pb_read_varint(p, end, &f->value) < 0 ? RP_PB_TRUNCATED : RP_PB_FIELD;
    case RP_PB_WIRE_FIXED64:
        return rp_pb_read_fixed(p, end, 8, &f->value) < 0 ? RP_PB_TRUNCATED : RP_PB_FIELD;
    case RP_PB_WIRE_FIXED32:
        return rp_pb_read_fixed(p, end, 4, &f->value) < 0 ? RP_PB_TRUNCATED : RP_PB_FIELD;
    case RP_PB_WIRE_LEN:
        if (rp_pb_read_varint(p, end, &f->value) < 0 || f->value > (uint64_t)(end - *p))
            return RP_PB_TRUNCATED;
        f->data = *p;
        f->len = (size_t)f->value;
        *p += f->len;
        return RP_PB_FIELD;
    case RP_PB_WIRE_SGROUP:
    case RP_PB_WIRE_EGROUP:
        return RP_PB_GROUP;
    default:
        return RP_PB_BAD_WIRE_TYPE;
    }
}
