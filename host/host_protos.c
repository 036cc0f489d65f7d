/*
 * host_protos.c -- embeds $(G)/grpc/builtin.pb (see host_protos.h).  The
 * Makefile makes this object depend on that file and names it, with its
 * absolute path, in HOST_PROTOS_PB (an assembler include path would be
 * dropped by a link-time-optimised build, which assembles this again).
 */
#include "host_protos.h"

__asm__("    .pushsection .rodata\n"
        "    .balign 8\n"
        "    .globl host_protos_start\n"
        "    .hidden host_protos_start\n"
        "host_protos_start:\n"
        "    .incbin \"" HOST_PROTOS_PB "\"\n"
        "    .globl host_protos_end\n"
        "    .hidden host_protos_end\n"
        "host_protos_end:\n"
        "    .popsection\n");

extern const uint8_t host_protos_start[] __attribute__((visibility("hidden")));
extern const uint8_t host_protos_end[] __attribute__((visibility("hidden")));

size_t host_protos_descriptor_set(const uint8_t **data)
{
    *data = host_protos_start;
    return (size_t)(host_protos_end - host_protos_start);
}
