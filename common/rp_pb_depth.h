/*
 * rp_pb_depth.h -- how deep a protobuf message's wire bytes nest, found
 * without recursion, before protobuf-c unpacks them.
 *
 * protobuf-c's unpacker recurses once per nested message and sets no bound,
 * so a few hundred kilobytes of a recursive type (a message holding itself,
 * google.protobuf.Struct, a DescriptorProto's nested types) overflow the
 * stack.  Shared by the host (requests) and the gateway (descriptors).
 */
#ifndef RP_PB_DEPTH_H
#define RP_PB_DEPTH_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* The nesting protobuf's own parsers allow (their default recursion limit). */
#define RP_PB_MAX_DEPTH 100

/* 0 if the message of type desc in data[0..len) holds messages nested more
 * than RP_PB_MAX_DEPTH deep; else 1 (bytes that are not a valid message
 * count as 1: unpacking them fails on its own). */
int rp_pb_depth_ok(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len);

#endif /* RP_PB_DEPTH_H */
