/*
 * gw_base64.h -- base64 for the proto3 JSON mapping of bytes fields (and,
 * later, binary metadata): RFC 4648 standard alphabet on output; standard
 * or URL-safe alphabet, padded or not, on input.
 */
#ifndef GW_BASE64_H
#define GW_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "gw_buf.h"
#include "gw_result.h"

/* Appends the padded standard-alphabet encoding of data[0..len). */
void gw_base64_encode(gw_buf *out, const uint8_t *data, size_t len);

/* Appends the decoding of text[0..len); returns GW_OK, GW_REFUSED if it
 * is not base64 (either alphabet, padding optional), or GW_NOMEM. */
gw_result gw_base64_decode(gw_buf *out, const char *text, size_t len);

#endif /* GW_BASE64_H */
