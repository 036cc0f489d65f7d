/*
 * rp_hash.c -- SipHash-2-4 (Aumasson and Bernstein, 2012), as its reference
 * implementation computes it, and random keys for it.
 */
#include "rp_hash.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void rp_hash_key_new(rp_hash_key *key)
{
    if (getrandom(key->k, sizeof(key->k), GRND_NONBLOCK) == (ssize_t)sizeof(key->k))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t seed[3] = {(uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30),
                        (uint64_t)getpid(), /* and where the stack and the code are */
                        (uint64_t)(uintptr_t)key ^ (uint64_t)(uintptr_t)&rp_hash_key_new};
    const rp_hash_key mix = {{0x9e3779b97f4a7c15ull, 0xd1b54a32d192ed03ull}};
    key->k[0] = rp_hash(&mix, seed, sizeof(seed));
    seed[0] ^= key->k[0];
    key->k[1] = rp_hash(&mix, seed, sizeof(seed));
}

static inline uint64_t rotl(uint64_t x, int b)
{
    return x << b | x >> (64 - b);
}

/* The eight bytes at p, little-endian. */
static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

#define SIPROUND(v)                                                                        \
    do {                                                                                   \
        v[0] += v[1]; v[1] = rotl(v[1], 13); v[1] ^= v[0]; v[0] = rotl(v[0], 32);         \
        v[2] += v[3]; v[3] = rotl(v[3], 16); v[3] ^= v[2];                                 \
        v[0] += v[3]; v[3] = rotl(v[3], 21); v[3] ^= v[0];                                 \
        v[2] += v[1]; v[1] = rotl(v[1], 17); v[1] ^= v[2]; v[2] = rotl(v[2], 32);         \
    } while (0)

uint64_t rp_hash(const rp_hash_key *key, const void *p, size_t len)
{
    const uint8_t *in = p;
    uint64_t v[4] = {0x736f6d6570736575ull ^ key->k[0], 0x646f72616e646f6dull ^ key->k[1],
                     0x6c7967656e657261ull ^ key->k[0], 0x7465646279746573ull ^ key->k[1]};
    size_t whole = len & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = load64(in + i);
        v[3] ^= m;
        SIPROUND(v);
        SIPROUND(v);
        v[0] ^= m;
    }
    uint8_t last[8] = {0};
    if (len > whole)
        memcpy(last, in + whole, len - whole);
    uint64_t b = (uint64_t)len << 56 | load64(last);
    v[3] ^= b;
    SIPROUND(v);
    SIPROUND(v);
    v[0] ^= b;
    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++)
        SIPROUND(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}
