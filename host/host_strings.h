/*
 * host_strings.h -- the string fields of a decoded request, checked as
 * UTF-8, which proto3 requires of them (protobuf-c does not check).  A Go
 * or C++ server refuses such a message; a plugin that echoes it would hand
 * the client bytes its own protobuf library refuses to parse.
 */
#ifndef HOST_STRINGS_H
#define HOST_STRINGS_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* 1 if every string field of m, and of the messages in it (repeated, map
 * and oneof members included), is UTF-8; else 0, with "field 'NAME' of
 * TYPE is not UTF-8" in why[whylen]. */
int host_strings_valid(const ProtobufCMessage *m, char *why, size_t whylen);

#endif /* HOST_STRINGS_H */
