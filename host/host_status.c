/*
 * host_status.c -- status messages made safe to send.
 *
 * gRPC clients decode a grpc-message header as UTF-8, and google.rpc.Status
 * (grpc-status-details-bin) carries the same text as a proto3 string, which
 * protobuf parsers refuse when it is not UTF-8: the client then loses the
 * whole status.  And a client refuses a status header block over 8 KiB with
 * RESOURCE_EXHAUSTED instead of the code the plugin chose: a plugin that
 * quotes its input in an error message could not be heard.
 */
#include "host_status.h"

#include <stdlib.h>
#include <string.h>

#include "rp_utf8.h"

static const unsigned char replacement[3] = {0xEF, 0xBF, 0xBD}; /* U+FFFD */

static size_t byte_wire_len(unsigned char c)
{
    return c >= 0x20 && c <= 0x7E && c != '%' ? 1 : 3;
}

char *host_status_message(const char *message)
{
    if (!message)
        return NULL;
    size_t len = strlen(message);
    /* every output byte takes at least one on the wire, and an invalid
     * byte grows to at most three: this and "..." always fit */
    size_t room = len < HOST_STATUS_MESSAGE_MAX / 3 ? len * 3 : HOST_STATUS_MESSAGE_MAX;
    char *out = malloc(room + 4);
    if (!out)
        return NULL;
    const unsigned char *s = (const unsigned char *)message;
    size_t o = 0, wire = 0, cut = 0; /* cut: where "..." would still fit */
    for (size_t i = 0; i < len;) {
        size_t bad = 0, n = rp_utf8_char(s + i, len - i, &bad);
        const unsigned char *ch = n ? s + i : replacement;
        size_t chlen = n ? n : sizeof(replacement), cost = 0;
        for (size_t k = 0; k < chlen; k++)
            cost += byte_wire_len(ch[k]);
        if (wire + cost > HOST_STATUS_MESSAGE_MAX) {
            memcpy(out + cut, "...", 4);
            return out;
        }
        memcpy(out + o, ch, chlen);
        o += chlen;
        wire += cost;
        if (wire + 3 <= HOST_STATUS_MESSAGE_MAX)
            cut = o;
        i += n ? n : bad;
    }
    out[o] = '\0';
    return out;
}

size_t host_status_wire_len(const char *s)
{
    size_t wire = 0;
    for (; s && *s; s++)
        wire += byte_wire_len((unsigned char)*s);
    return wire;
}
