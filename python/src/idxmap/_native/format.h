/*
 * What the addon shares with the TypeScript side: the format's numbers (spec/FORMAT.md) and the
 * hash. src/os/native.ts compares every constant exported by constants() with its own copy in
 * src/core/ when it loads the addon, and refuses an addon that disagrees. Plain C: no Node-API,
 * so test harnesses compile it (and probe.h) alone.
 */
#ifndef IDX_FORMAT_H
#define IDX_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define IDX_EMPTY_HASH 0xffffffffu
#define IDX_STATE_ESCAPED (1u << 28)
#define IDX_STATE_RETIRED (1u << 29)
/* Byte offsets of the cells both header versions have at the same place (spec §3). */
#define IDX_CELL_STATE 32
#define IDX_CELL_ESCAPED 40
#define IDX_CELL_SEQ 48
#define IDX_CELL_REACH_V2 64
#define IDX_HEADER_V1 64
#define IDX_HEADER_V2 128
/* The header checksum word, which covers version, capacity and slot count (spec §3, §14): a
   reader compares it with its value at open beside each seq check (§11.7, §11.8). */
#define IDX_CHECKSUM_V1 28
#define IDX_CHECKSUM_V2 12
#define IDX_MAX_SLOTS_V2 8589934592.0
/* Version 3 (spec §16): packed slots (the hash word, then the value: 12 or 16 bytes) after a
   128-byte header, 256 slots a checksum block, EMPTY of a 64-bit key width, the escaped key's
   high value word in the cell version 2 reserves, and 2^40 slots at most. */
#define IDX_HEADER_V3 128
#define IDX_SLOTS_PER_BLOCK_V3 256
#define IDX_EMPTY_HASH64 0xffffffffffffffffull
#define IDX_CELL_ESCAPED_HIGH 88
#define IDX_MAX_SLOTS_V3 1099511627776.0
/* hash64's round constants (§16.3). */
#define IDX_ROUND1 0x9e3779b9u
#define IDX_ROUND2 0x85ebca77u
#define IDX_ROUND3 0xc2b2ae3du
#define IDX_ROUND4 0x27d4eb2fu
/* Keys per seq check in getMany. */
#define IDX_CHUNK 64

/* The hashes are always inlined: clang left idx_hash64 a call in build.c's AVX2 hash loop, which
   then did not vectorize (10 M keys: 100 ms where gcc's inlined loop took 40). */
#define IDX_HASH_FN static inline __attribute__((always_inline))

IDX_HASH_FN uint32_t idx_hash32(uint32_t x) {
  x ^= x >> 16; x *= 0x85ebca6bu; x ^= x >> 13; x *= 0xc2b2ae35u; x ^= x >> 16;
  return x;
}

static inline uint32_t idx_unhash32(uint32_t x) {
  x ^= x >> 16; x *= 0x7ed1b41du; x ^= (x >> 13) ^ (x >> 26); x *= 0xa5cb9243u; x ^= x >> 16;
  return x;
}

/* spec §4: (h * capacity) >> 32, exact in 64-bit arithmetic for any capacity below 2^64 (the
   product needs 65 bits at version 2's 2^33 slots, 72 at version 3's 2^40). A 64-bit hash's
   home is its high half's (§16.3): idx_home(h >> 32, capacity). */
static inline uint64_t idx_home(uint32_t h, uint64_t capacity) {
  return (uint64_t)h * (capacity >> 32) + (((uint64_t)h * (uint32_t)capacity) >> 32);
}

/* §16.1: the bytes of a version 3 slot of these widths (12 or 16). */
static inline unsigned idx_slot_bytes_v3(unsigned keyBits, unsigned valueBits) {
  return (keyBits + valueBits) / 8;
}

/* A u64 at a 4-byte-aligned address (a 64-bit field of a 12-byte slot is 8-byte aligned in
   every other slot only): one load on x86-64 and arm64. */
static inline uint64_t idx_load64(const uint32_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* §16.3: a four-round Feistel network of fmix32 over the key's halves; a bijection on u64. */
IDX_HASH_FN uint64_t idx_hash64(uint64_t key) {
  uint32_t hi = (uint32_t)(key >> 32), lo = (uint32_t)key;
  lo ^= idx_hash32(hi ^ IDX_ROUND1);
  hi ^= idx_hash32(lo ^ IDX_ROUND2);
  lo ^= idx_hash32(hi ^ IDX_ROUND3);
  hi ^= idx_hash32(lo ^ IDX_ROUND4);
  return (uint64_t)hi << 32 | lo;
}

/* The rounds of idx_hash64 in reverse: each undoes itself. */
static inline uint64_t idx_unhash64(uint64_t hash) {
  uint32_t hi = (uint32_t)(hash >> 32), lo = (uint32_t)hash;
  hi ^= idx_hash32(lo ^ IDX_ROUND4);
  lo ^= idx_hash32(hi ^ IDX_ROUND3);
  hi ^= idx_hash32(lo ^ IDX_ROUND2);
  lo ^= idx_hash32(hi ^ IDX_ROUND1);
  return (uint64_t)hi << 32 | lo;
}

#endif
