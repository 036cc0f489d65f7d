/*
 * rp_hash.h -- a keyed hash of byte strings (SipHash-2-4) for the hash
 * tables that take names from a peer: an upstream's descriptors, metric
 * label values.  With a key chosen at random per table, whoever picks the
 * names cannot pick names that collide, so lookups stay O(1) on average
 * whatever the names are.  Not for anything that must hash the same in
 * another process.
 */
#ifndef RP_HASH_H
#define RP_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct rp_hash_key {
    uint64_t k[2];
} rp_hash_key;

/* A new key from getrandom(2); when that fails (no entropy yet, the call
 * filtered), one mixed from the clock, the pid and addresses. */
void rp_hash_key_new(rp_hash_key *key);

/* SipHash-2-4 of p[0..len) under key. */
uint64_t rp_hash(const rp_hash_key *key, const void *p, size_t len);

#endif /* RP_HASH_H */
