/*
 * host_strings.c -- proto3 string fields checked as UTF-8 (see
 * host_strings.h), by a walk of protobuf-c's descriptors.
 */
#include "host_strings.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rp_utf8.h"

/* The walk's own bound on nesting (the depth protobuf's own parsers allow;
 * protobuf-c sets none): strings deeper than this go unchecked. */
#define MAX_DEPTH 100

static int message_valid(const ProtobufCMessage *m, int depth, char *why, size_t whylen);

/* One value of field f: a string (char *) or a message. */
static int value_valid(const ProtobufCMessage *owner, const ProtobufCFieldDescriptor *f,
                       const void *value, int depth, char *why, size_t whylen)
{
    if (!value)
        return 1;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE)
        return message_valid(value, depth + 1, why, whylen);
    const char *s = value;
    if (rp_utf8_valid((const uint8_t *)s, strlen(s)))
        return 1;
    snprintf(why, whylen, "field '%s' of %s is not UTF-8", f->name,
             owner->descriptor->name);
    return 0;
}

static int message_valid(const ProtobufCMessage *m, int depth, char *why, size_t whylen)
{
    if (depth > MAX_DEPTH)
        return 1; /* see MAX_DEPTH */
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *)m;
        const void *member = base + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            void *const *items = *(void *const *const *)member;
            for (size_t k = 0; k < n; k++)
                if (!value_valid(m, f, items[k], depth, why, whylen))
                    return 0;
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue; /* another member of its oneof is set */
        if (!value_valid(m, f, *(void *const *)member, depth, why, whylen))
            return 0;
    }
    return 1;
}

int host_strings_valid(const ProtobufCMessage *m, char *why, size_t whylen)
{
    return message_valid(m, 0, why, whylen);
}
