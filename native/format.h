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
/* Keys per seq check in getMany. */
#define IDX_CHUNK 64

static inline uint32_t idx_hash32(uint32_t x) {
  x ^= x >> 16; x *= 0x85ebca6bu; x ^= x >> 13; x *= 0xc2b2ae35u; x ^= x >> 16;
  return x;
}

static inline uint32_t idx_unhash32(uint32_t x) {
  x ^= x >> 16; x *= 0x7ed1b41du; x ^= (x >> 13) ^ (x >> 26); x *= 0xa5cb9243u; x ^= x >> 16;
  return x;
}

/* spec §4: (h * capacity) >> 32 for capacity up to 2^33, exact in 64-bit arithmetic. */
static inline uint64_t idx_home(uint32_t h, uint64_t capacity) {
  return (uint64_t)h * (capacity >> 32) + (((uint64_t)h * (uint32_t)capacity) >> 32);
}

#endif
