/*
 * The batch lookup's loop (spec §5.3 probes under the §11.7 protocol), apart from Node-API so
 * that a test harness drives it over memory it changes at a chosen load (test/helpers/
 * probe-harness.c): each copy of the protocol is tested by a scripted writer.
 *
 * Two copies: version 2's loop (idx_probe_chunks), and version 3's (idx_probe_chunks_wide), a
 * template over the file's widths and the caller's arrays. Version 2's is not an instance of the
 * wide template: that instance compiled to other register allocation and measured about 5%
 * slower on a 73 MB file; version 2's has its own shapes (with or without `found`, a capacity
 * below 2^32 or not) and its own scan, the C floor's loop plus the reach bound.
 */
#ifndef IDX_PROBE_H
#define IDX_PROBE_H

#include "format.h"

/* A mapped table as the loop reads it. */
typedef struct {
  const volatile uint32_t *header;
  /* Slot 0: 8-byte slots in version 2, 12- or 16-byte in version 3. */
  const uint32_t *slots;
  uint64_t capacity;
  uint64_t slotCount;
  uint64_t reach;
  /* A seq value the reader found its writer dead at (treated as even), or UINT64_MAX. */
  uint64_t dead;
  /* The header checksum word's index and its value at open (§11.7, §11.8). */
  uint32_t idWord;
  uint32_t fileId;
} idx_table;

/* How many keys ahead of its probe a key's home slot is prefetched: the misses of that many
   keys overlap (16 measured best of 8, 16, 32 on a 10 M-entry file). */
#define IDX_AHEAD 16

/* Functions of a shape that is a constant where they are called: always inlined, each call site
   compiles to one loop with the other shapes' branches folded away (a template, in C). */
#define IDX_TEMPLATE static inline __attribute__((always_inline))

/* §4's home slot for a capacity below 2^32: one multiply (idx_home takes two, for any capacity). */
IDX_TEMPLATE uint64_t idx_home_narrow(uint32_t h, uint64_t capacity) {
  return ((uint64_t)h * capacity) >> 32;
}

/*
 * §5.3 from slot pointer p (8-byte slots: hash word, value word) for hash h: the slot holding h,
 * or the slot where the scan stopped, no further than the reach bound or the last slot. When
 * eight slots past p lie within both (p <= fast, which the caller sets from the reach and the
 * table's end), they are scanned with no bound check (most probes end sooner); past them, or
 * otherwise, the bound is computed and checked a slot at a time. A scan within eight slots costs
 * what the C floor's does.
 */
IDX_TEMPLATE const uint32_t *idx_scan(const uint32_t *p, const uint32_t *fast, const uint32_t *lastSlot, uint64_t reachWords,
                                      uint32_t h) {
  if (p[0] >= h) return p;
  const uint32_t *home = p;
  if (p <= fast) {
#define IDX_STEP \
  p += 2;        \
  if (p[0] >= h) return p;
    IDX_STEP IDX_STEP IDX_STEP IDX_STEP IDX_STEP IDX_STEP IDX_STEP IDX_STEP
#undef IDX_STEP
  }
  const uint32_t *limit = (uint64_t)(lastSlot - home) > reachWords ? home + reachWords : lastSlot;
  while (p < limit) {
    p += 2;
    if (p[0] >= h) return p;
  }
  return p;
}

/* idx_probe_chunks for one shape: with or without `found`, a capacity below 2^32 or not. */
IDX_TEMPLATE uint32_t idx_chunks_v2(const idx_table *t, const uint32_t *restrict keys, uint32_t *restrict values,
                                    uint8_t *restrict found, uint32_t missing, uint32_t from, uint32_t to, uint64_t *hits,
                                    const int withFound, const int narrow) {
  const volatile uint32_t *header = t->header;
  const uint32_t *slots = t->slots;
  const uint32_t *lastSlot = slots + 2 * (t->slotCount - 1);
  const uint64_t capacity = t->capacity;
  const uint64_t reachWords = 2 * t->reach;
  /* The last home slot from which eight slots are within the table and the reach (idx_scan). */
  const uint32_t *fast = t->reach >= 8 && t->slotCount > 9 ? lastSlot - 16 : NULL;
  const uint64_t dead = t->dead;
  const uint32_t idWord = t->idWord, fileId = t->fileId;
  uint32_t ringHash[IDX_AHEAD];
  const uint32_t *ringSlot[IDX_AHEAD];
#define IDX_AHEAD_KEY(i)                                                                       \
  do {                                                                                         \
    uint32_t h_ = idx_hash32(keys[i]);                                                         \
    const uint32_t *p_ = slots + 2 * (narrow ? idx_home_narrow(h_, capacity) : idx_home(h_, capacity)); \
    ringHash[(i) % IDX_AHEAD] = h_;                                                            \
    ringSlot[(i) % IDX_AHEAD] = p_;                                                            \
    __builtin_prefetch(p_);                                                                    \
  } while (0)
  uint32_t next = from; /* the next key to hash and prefetch */
  for (; next < to && next - from < IDX_AHEAD; next++) IDX_AHEAD_KEY(next);
  uint32_t chunk = from;
  for (; chunk < to; chunk += IDX_CHUNK) {
    uint32_t end = to - chunk < IDX_CHUNK ? to : chunk + IDX_CHUNK;
    uint32_t seq = __atomic_load_n(&header[IDX_CELL_SEQ / 4], __ATOMIC_ACQUIRE);
    if ((seq & 1) && seq != dead) break;
    uint32_t chunkHits = 0;
    int undecided = 0;
    for (uint32_t k = chunk; k < end; k++) {
      uint32_t h = ringHash[k % IDX_AHEAD];
      const uint32_t *p = ringSlot[k % IDX_AHEAD];
      if (next < to) {
        IDX_AHEAD_KEY(next);
        next++;
      }
      uint32_t value = missing, hit = 0;
      if (__builtin_expect(h == IDX_EMPTY_HASH, 0)) {
        if (header[IDX_CELL_STATE / 4] & IDX_STATE_ESCAPED) {
          value = header[IDX_CELL_ESCAPED / 4];
          hit = 1;
        }
      } else {
        p = idx_scan(p, fast, lastSlot, reachWords, h);
        if (p[0] == h) {
          value = p[1];
          hit = 1;
        } else if (p[0] < h) {
          undecided = 1;
          break;
        }
      }
      values[k] = value;
      if (withFound) found[k] = (uint8_t)hit;
      chunkHits += hit;
    }
#undef IDX_AHEAD_KEY
    if (undecided) break;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (header[IDX_CELL_SEQ / 4] != seq || header[idWord] != fileId) break;
    *hits += chunkHits;
  }
  return chunk < to ? chunk : to;
}

/*
 * Answers keys[from..to) a chunk of IDX_CHUNK at a time, each chunk between two loads of the seq
 * word, probing at most reach + 1 slots a key. Each key is hashed once, IDX_AHEAD keys before
 * its probe, and its home slot prefetched then, across chunk boundaries. Stops before the first
 * chunk that a write overlapped (seq odd and not `dead`, or changed), after which the header
 * checksum word is not fileId, or in which a probe used up its reach: adds the hits of the
 * chunks that stood to *hits and returns the index it stopped at (to when done). values and
 * found of the chunk it stopped in may have been written: the caller answers that chunk again.
 */
static inline uint32_t idx_probe_chunks(const idx_table *t, const uint32_t *keys, uint32_t *values, uint8_t *found,
                                        uint32_t missing, uint32_t from, uint32_t to, uint64_t *hits) {
  const int narrow = t->capacity < ((uint64_t)1 << 32);
  if (found != NULL) {
    return narrow ? idx_chunks_v2(t, keys, values, found, missing, from, to, hits, 1, 1)
                  : idx_chunks_v2(t, keys, values, found, missing, from, to, hits, 1, 0);
  }
  return narrow ? idx_chunks_v2(t, keys, values, found, missing, from, to, hits, 0, 1)
                : idx_chunks_v2(t, keys, values, found, missing, from, to, hits, 0, 0);
}

/* ---- version 3 (spec §16): packed 12- or 16-byte slots, keys and values of 32 or 64 bits ---- */

/* A wide loop's shape: what the file and the caller's arrays hold. */
#define IDX_HASH64 1u   /* 64-bit keys: u64 hash words, the home from the high half (§16.3) */
#define IDX_KEYS64 2u   /* the caller's keys are u64 (else u32) */
#define IDX_VALUES64 4u /* 64-bit values: u64 value fields and answers (else u32) */

/* The "hash" of a u64 key above a file's 32-bit keys: it has none, and is in no slot. Above
   every 32-bit hash word, so no such key is taken for one of the file's. */
#define IDX_NO_HASH 0xffffffffffffffffull

/* keys[i]'s hash word at the file's key width, or IDX_NO_HASH. */
IDX_TEMPLATE uint64_t idx_wide_hash(const void *keys, uint32_t i, const unsigned shape) {
  uint64_t key = (shape & IDX_KEYS64) ? ((const uint64_t *)keys)[i] : ((const uint32_t *)keys)[i];
  if (shape & IDX_HASH64) return idx_hash64(key);
  if ((shape & IDX_KEYS64) && key > IDX_EMPTY_HASH) return IDX_NO_HASH;
  return idx_hash32((uint32_t)key);
}

/* Words a slot of the shape's file: the hash word's 1 or 2, then the value's. */
#define IDX_SLOT_WORDS(shape) ((((shape) & IDX_HASH64) ? 2u : 1u) + (((shape) & IDX_VALUES64) ? 2u : 1u))
#define IDX_VALUE_WORD(shape) (((shape) & IDX_HASH64) ? 2u : 1u)

/* The hash word of the slot at p (§16.1), by a plain load: the seq check discards a torn one
   (§11.7). A u64 field of a 12-byte slot may be only 4-byte aligned (idx_load64). */
IDX_TEMPLATE uint64_t idx_wide_word(const uint32_t *p, const unsigned shape) {
  return (shape & IDX_HASH64) ? idx_load64(p) : p[0];
}

/* The value of the slot at p. */
IDX_TEMPLATE uint64_t idx_wide_value(const uint32_t *p, const unsigned shape) {
  p += IDX_VALUE_WORD(shape);
  return (shape & IDX_VALUES64) ? idx_load64(p) : p[0];
}

/* The escaped key's value; the caller loaded the state word first (§11.7, "The escaped key"). */
IDX_TEMPLATE uint64_t idx_wide_escaped(const volatile uint32_t *header, const unsigned shape) {
  uint64_t value = header[IDX_CELL_ESCAPED / 4];
  if (shape & IDX_VALUES64) value |= (uint64_t)header[IDX_CELL_ESCAPED_HIGH / 4] << 32;
  return value;
}

/* idx_scan for a version 3 shape: slots of IDX_SLOT_WORDS(shape) words, u64 or u32 hash words. */
IDX_TEMPLATE const uint32_t *idx_wide_scan(const uint32_t *p, const uint32_t *fast, const uint32_t *lastSlot,
                                           uint64_t reachWords, uint64_t h, const unsigned shape) {
  const unsigned sw = IDX_SLOT_WORDS(shape);
  if (idx_wide_word(p, shape) >= h) return p;
  const uint32_t *home = p;
  if (p <= fast) {
#define IDX_STEP \
  p += sw;       \
  if (idx_wide_word(p, shape) >= h) return p;
    IDX_STEP IDX_STEP IDX_STEP IDX_STEP IDX_STEP IDX_STEP IDX_STEP IDX_STEP
#undef IDX_STEP
  }
  const uint32_t *limit = (uint64_t)(lastSlot - home) > reachWords ? home + reachWords : lastSlot;
  while (p < limit) {
    p += sw;
    if (idx_wide_word(p, shape) >= h) return p;
  }
  return p;
}

/* idx_probe_chunks for a version 3 file of one shape (with or without `found`, a capacity below
   2^32 or not): the same protocol, chunks, stops and loop as version 2's idx_chunks_v2. */
IDX_TEMPLATE uint32_t idx_wide_chunks(const idx_table *t, const void *keys, void *values, uint8_t *found,
                                      uint64_t missing, uint32_t from, uint32_t to, uint64_t *hits,
                                      const unsigned shape, const int withFound, const int narrow) {
  const volatile uint32_t *header = t->header;
  const unsigned sw = IDX_SLOT_WORDS(shape);
  const uint32_t *slots = t->slots;
  const uint32_t *lastSlot = slots + sw * (t->slotCount - 1);
  const uint64_t capacity = t->capacity;
  const uint64_t reachWords = sw * t->reach;
  /* The last home slot from which eight slots are within the table and the reach (idx_wide_scan). */
  const uint32_t *fast = t->reach >= 8 && t->slotCount > 9 ? lastSlot - 8 * sw : NULL;
  const uint64_t empty = (shape & IDX_HASH64) ? IDX_EMPTY_HASH64 : IDX_EMPTY_HASH;
  const uint64_t dead = t->dead;
  const uint32_t idWord = t->idWord, fileId = t->fileId;
  uint64_t ringHash[IDX_AHEAD];
  const uint32_t *ringSlot[IDX_AHEAD];
#define IDX_AHEAD_KEY(i)                                                                               \
  do {                                                                                                 \
    uint64_t h_ = idx_wide_hash(keys, i, shape);                                                       \
    uint32_t top_ = (shape & IDX_HASH64) ? (uint32_t)(h_ >> 32) : (uint32_t)h_;                        \
    const uint32_t *p_ = slots + sw * (narrow ? idx_home_narrow(top_, capacity) : idx_home(top_, capacity)); \
    ringHash[(i) % IDX_AHEAD] = h_;                                                                    \
    ringSlot[(i) % IDX_AHEAD] = p_;                                                                    \
    __builtin_prefetch(p_);                                                                            \
  } while (0)
  uint32_t next = from; /* the next key to hash and prefetch */
  for (; next < to && next - from < IDX_AHEAD; next++) IDX_AHEAD_KEY(next);
  uint32_t chunk = from;
  for (; chunk < to; chunk += IDX_CHUNK) {
    uint32_t end = to - chunk < IDX_CHUNK ? to : chunk + IDX_CHUNK;
    uint32_t seq = __atomic_load_n(&header[IDX_CELL_SEQ / 4], __ATOMIC_ACQUIRE);
    if ((seq & 1) && seq != dead) break;
    uint64_t chunkHits = 0;
    int undecided = 0;
    for (uint32_t k = chunk; k < end; k++) {
      /* Read before the ring's slot is refilled with key k + IDX_AHEAD's. */
      uint64_t h = ringHash[k % IDX_AHEAD];
      const uint32_t *p = ringSlot[k % IDX_AHEAD];
      if (next < to) {
        IDX_AHEAD_KEY(next);
        next++;
      }
      uint64_t value = missing;
      uint32_t hit = 0;
      if (__builtin_expect(h == empty, 0)) {
        if (header[IDX_CELL_STATE / 4] & IDX_STATE_ESCAPED) {
          value = idx_wide_escaped(header, shape);
          hit = 1;
        }
      } else if (!(shape & IDX_HASH64) && (shape & IDX_KEYS64) && h == IDX_NO_HASH) {
        /* wider than the file's keys: absent, with no probe */
      } else {
        p = idx_wide_scan(p, fast, lastSlot, reachWords, h, shape);
        uint64_t word = idx_wide_word(p, shape);
        if (word == h) {
          value = idx_wide_value(p, shape);
          hit = 1;
        } else if (word < h) {
          undecided = 1;
          break;
        }
      }
      if (shape & IDX_VALUES64)
        ((uint64_t *)values)[k] = value;
      else
        ((uint32_t *)values)[k] = (uint32_t)value;
      if (withFound) found[k] = (uint8_t)hit;
      chunkHits += hit;
    }
#undef IDX_AHEAD_KEY
    if (undecided) break;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (header[IDX_CELL_SEQ / 4] != seq || header[idWord] != fileId) break;
    *hits += chunkHits;
  }
  return chunk < to ? chunk : to;
}

/* idx_wide_chunks of one file shape, for the caller's `found` and the file's capacity. */
IDX_TEMPLATE uint32_t idx_wide_chunks_of(const idx_table *t, const void *keys, void *values, uint8_t *found,
                                         uint64_t missing, uint32_t from, uint32_t to, uint64_t *hits,
                                         const unsigned shape) {
  const int narrow = t->capacity < ((uint64_t)1 << 32);
  if (found != NULL) {
    return narrow ? idx_wide_chunks(t, keys, values, found, missing, from, to, hits, shape, 1, 1)
                  : idx_wide_chunks(t, keys, values, found, missing, from, to, hits, shape, 1, 0);
  }
  return narrow ? idx_wide_chunks(t, keys, values, found, missing, from, to, hits, shape, 0, 1)
                : idx_wide_chunks(t, keys, values, found, missing, from, to, hits, shape, 0, 0);
}

/*
 * idx_probe_chunks for a version 3 file of keyBits and valueBits (each 32 or 64, not both 32):
 * keys are u64 when keys64 (a key above a file's 32-bit keys is absent), else u32; values and
 * missing are u64 for 64-bit values, else u32. Answers nothing (returns from) for widths that no
 * version 3 file has.
 */
static inline uint32_t idx_probe_chunks_wide(const idx_table *t, unsigned keyBits, unsigned valueBits, const void *keys,
                                             int keys64, void *values, uint8_t *found, uint64_t missing, uint32_t from,
                                             uint32_t to, uint64_t *hits) {
  if ((keyBits != 32 && keyBits != 64) || (valueBits != 32 && valueBits != 64)) return from;
  const unsigned shape = (keyBits == 64 ? IDX_HASH64 : 0) | (keys64 ? IDX_KEYS64 : 0) | (valueBits == 64 ? IDX_VALUES64 : 0);
#define IDX_SHAPE(s) \
  case s: return idx_wide_chunks_of(t, keys, values, found, missing, from, to, hits, s)
  switch (shape) {
    IDX_SHAPE(IDX_HASH64);
    IDX_SHAPE(IDX_HASH64 | IDX_KEYS64);
    IDX_SHAPE(IDX_HASH64 | IDX_VALUES64);
    IDX_SHAPE(IDX_HASH64 | IDX_KEYS64 | IDX_VALUES64);
    IDX_SHAPE(IDX_VALUES64);
    IDX_SHAPE(IDX_KEYS64 | IDX_VALUES64);
    default: return from; /* 32/32: a version 2 file */
  }
#undef IDX_SHAPE
}

#endif
