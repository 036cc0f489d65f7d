/*
 * rp_pb_depth.c -- the nesting of a message's wire bytes, walked with a
 * fixed stack; see rp_pb_depth.h.
 */
#include "rp_pb_depth.h"

#include "rp_pb_wire.h"

int rp_pb_depth_ok(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len)
{
    struct {
        const ProtobufCMessageDescriptor *desc;
        const uint8_t *end;
    } open[RP_PB_MAX_DEPTH + 1]; /* the messages the walk is inside; [0] the whole */
    int depth = 0;
    if (!data) /* no bytes (len 0) may come as NULL: data + 0 would be UB */
        data = (const uint8_t *)"";
    const uint8_t *p = data, *end = data + len;
    open[0].desc = desc;
    open[0].end = end;
    for (;;) {
        while (depth > 0 && p >= open[depth].end)
            depth--;
        if (p >= end)
            return 1;
        rp_pb_field f;
        if (rp_pb_next_field(&p, open[depth].end, &f) != RP_PB_FIELD)
            return 1; /* groups too: protobuf-c refuses them */
        if (f.wire != RP_PB_WIRE_LEN)
            continue;
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field(open[depth].desc, f.number);
        if (fd && fd->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (depth == RP_PB_MAX_DEPTH)
                return 0;
            depth++;
            open[depth].desc = fd->descriptor;
            open[depth].end = f.data + f.len;
            p = f.data;
        }
    }
}
