/*
 * The batch lookup's loop (spec §5.3 probes under the §11.7 protocol), apart from Node-API so
 * that a test harness drives it over memory it changes at a chosen load (test/helpers/
 * probe-harness.c): each copy of the protocol is tested by a scripted writer.
 */
#ifndef IDX_PROBE_H
#define IDX_PROBE_H

#include "format.h"

/* A mapped table as the loop reads it. */
typedef struct {
  const volatile uint32_t *header;
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
  const volatile uint32_t *header = t->header;
  const uint32_t *slots = t->slots;
  const uint64_t lastSlot = t->slotCount - 1;
  const uint64_t capacity = t->capacity;
  uint32_t ringHash[IDX_AHEAD];
  uint64_t ringHome[IDX_AHEAD];
  uint32_t next = from; /* the next key to hash and prefetch */
  for (; next < to && next - from < IDX_AHEAD; next++) {
    uint32_t h = idx_hash32(keys[next]);
    uint64_t home = idx_home(h, capacity);
    ringHash[next % IDX_AHEAD] = h;
    ringHome[next % IDX_AHEAD] = home;
    __builtin_prefetch(slots + 2 * home);
  }
  uint32_t chunk = from;
  for (; chunk < to; chunk += IDX_CHUNK) {
    uint32_t end = to - chunk < IDX_CHUNK ? to : chunk + IDX_CHUNK;
    uint32_t seq = __atomic_load_n(&header[IDX_CELL_SEQ / 4], __ATOMIC_ACQUIRE);
    if ((seq & 1) && seq != t->dead) break;
    uint64_t chunkHits = 0;
    int undecided = 0;
    for (uint32_t k = chunk; k < end; k++) {
      uint32_t h = ringHash[k % IDX_AHEAD];
      uint64_t s = ringHome[k % IDX_AHEAD];
      if (next < to) {
        uint32_t h2 = idx_hash32(keys[next]);
        uint64_t home2 = idx_home(h2, capacity);
        ringHash[next % IDX_AHEAD] = h2;
        ringHome[next % IDX_AHEAD] = home2;
        __builtin_prefetch(slots + 2 * home2);
        next++;
      }
      uint32_t value = missing, hit = 0;
      if (h == IDX_EMPTY_HASH) {
        if (header[IDX_CELL_STATE / 4] & IDX_STATE_ESCAPED) {
          value = header[IDX_CELL_ESCAPED / 4];
          hit = 1;
        }
      } else {
        uint64_t last = s + t->reach < lastSlot ? s + t->reach : lastSlot;
        uint32_t word = slots[2 * s];
        while (word < h && s < last) word = slots[2 * ++s];
        if (word == h) {
          value = slots[2 * s + 1];
          hit = 1;
        } else if (word < h) {
          undecided = 1;
          break;
        }
      }
      values[k] = value;
      if (found != NULL) found[k] = (uint8_t)hit;
      chunkHits += hit;
    }
    if (undecided) break;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (header[IDX_CELL_SEQ / 4] != seq || header[t->idWord] != t->fileId) break;
    *hits += chunkHits;
  }
  return chunk < to ? chunk : to;
}

#endif
