/*
 * rp_pb_depth.c -- the nesting of a message's wire bytes, walked with a
 * fixed stack; see rp_pb_depth.h.
 */
#include "rp_pb_depth.h"

/* A varint at data[*pos..end) into *value; 0 if there is none. */
static int read_varint(const uint8_t *data, size_t end, size_t *pos, uint64_t *value)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && *pos < end; shift += 7) {
        uint8_t b = data[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *value = v;
            return 1;
        }
    }
    return 0;
}

int rp_pb_depth_ok(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len)
{
    struct {
        const ProtobufCMessageDescriptor *desc;
        size_t end;
    } open[RP_PB_MAX_DEPTH + 1]; /* the messages the walk is inside; [0] the whole */
    int depth = 0;
    size_t pos = 0;
    open[0].desc = desc;
    open[0].end = len;
    for (;;) {
        while (depth > 0 && pos >= open[depth].end)
            depth--;
        if (pos >= len)
            return 1;
        size_t end = open[depth].end;
        uint64_t tag, n;
        if (!read_varint(data, end, &pos, &tag))
            return 1;
        switch (tag & 7) {
        case 0:
            if (!read_varint(data, end, &pos, &n))
                return 1;
            break;
        case 1:
            pos += 8;
            break;
        case 5:
            pos += 4;
            break;
        case 2: {
            if (!read_varint(data, end, &pos, &n) || n > end - pos)
                return 1;
            const ProtobufCFieldDescriptor *f =
                tag >> 3 <= UINT32_MAX
                    ? protobuf_c_message_descriptor_get_field(open[depth].desc, (unsigned)(tag >> 3))
                    : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (depth == RP_PB_MAX_DEPTH)
                    return 0;
                depth++;
                open[depth].desc = f->descriptor;
                open[depth].end = pos + (size_t)n;
            } else {
                pos += (size_t)n;
            }
            break;
        }
        default: /* groups: protobuf-c refuses them */
            return 1;
        }
        if (pos > end)
            return 1;
    }
}
