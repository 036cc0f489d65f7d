/*
 * rp_utf8.h -- UTF-8 as RFC 3629 has it (no overlong forms, no surrogates,
 * nothing past U+10FFFF): what proto3 strings, gRPC status messages and
 * JSON text must be.  Shared by the host and the gateway.
 */
#ifndef RP_UTF8_H
#define RP_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The length of the UTF-8 character at s[0..n) (n >= 1), or 0 when the
 * bytes there are not one; then *bad is the length of the maximal part of
 * a character they start (1-3), which a replacement (U+FFFD) stands for as
 * a whole, as Unicode recommends. */
size_t rp_utf8_char(const uint8_t *s, size_t n, size_t *bad);

/* 1 if s[0..len) is all UTF-8 characters. */
int rp_utf8_valid(const uint8_t *s, size_t len);

#endif /* RP_UTF8_H */
