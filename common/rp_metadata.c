/*
 * rp_metadata.c -- gRPC's rules for metadata keys and text values
 * (rp_metadata.h).
 */
#include "rp_metadata.h"

#include <string.h>

int rp_metadata_key_valid(const char *key, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = key[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
              ch == '.'))
            return 0;
    }
    return 1;
}

int rp_metadata_key_binary(const char *key, size_t len)
{
    return len > 4 && memcmp(key + len - 4, "-bin", 4) == 0;
}

size_t rp_metadata_base64_len(size_t n, int padded)
{
    return padded ? (n + 2) / 3 * 4 : (4 * n + 2) / 3;
}

int rp_metadata_text_valid(const void *value, size_t len)
{
    const unsigned char *v = value;
    for (size_t i = 0; i < len; i++)
        if (v[i] < 0x20 || v[i] > 0x7e)
            return 0;
    return 1;
}

int rp_request_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > RP_REQUEST_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (id[i] <= 0x20 || id[i] >= 0x7f || id[i] == '"' || id[i] == '\\')
            return 0;
    return 1;
}
