/*
 * The builders' sort, shared by the Node addon (native/build.c) and the Python extension
 * (python/src/idxmap/_native/build.c, through a byte-identical copy that the tests compare):
 * scratch memory in huge pages, and a stable radix sort of version 3's records by hash. Plain C,
 * no Node-API or Python API.
 */
#ifndef IDX_SORT_H
#define IDX_SORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/*
 * A sort's scratch: tens or hundreds of MB, written once through. Mapped with MADV_HUGEPAGE where
 * the kernel offers it, so that it faults in 2 MiB at a time: a first write to a 4 KiB page
 * measured 12-15 us on this project's VM (80 MB: 240-310 ms of faults; with huge pages 21-136).
 * A small one, or where mmap fails, comes from malloc. The size is kept before the block.
 */
#define BIG_MIN ((size_t)4 << 20)
#define HUGE_ALIGN ((size_t)2 << 20)

static void *big_alloc_as(size_t bytes, int huge) {
  if (bytes < BIG_MIN) {
    size_t *p = malloc(bytes + 16);
    if (p == NULL) return NULL;
    p[0] = 0;
    p[1] = 0;
    return (uint8_t *)p + 16;
  }
  size_t total = bytes + 2 * HUGE_ALIGN;
  uint8_t *raw = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return NULL;
  /* The block starts 2 MiB-aligned; its header (the mapping's start and size) sits just before. */
  uint8_t *block = (uint8_t *)((((uintptr_t)raw + 16) + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
#ifdef MADV_HUGEPAGE
  if (huge) madvise(block, bytes, MADV_HUGEPAGE);
#endif
  ((size_t *)block)[-2] = (size_t)(block - raw);
  ((size_t *)block)[-1] = total;
  return block;
}

static void *big_alloc(size_t bytes) {
  return big_alloc_as(bytes, 1);
}

static void big_free(void *p) {
  if (p == NULL) return;
  size_t *h = (size_t *)p;
  if (h[-1] == 0 && h[-2] == 0) {
    free((uint8_t *)p - 16);
    return;
  }
  munmap((uint8_t *)p - h[-2], h[-1]);
}

enum { BITS = 11, RADIX = 1 << BITS, MASK = RADIX - 1 };

/* A record's hash as a u64 (a 32-bit one's high word is 0). */
static inline uint64_t record_hash(const uint32_t *r) {
  return (uint64_t)r[1] << 32 | r[0];
}

/*
 * Stable insertion sort of n records by hash that gives up (returns 0) after `budget` moves,
 * leaving them in some order with records of equal hash still in the order they came.
 */
static int insertion_sort_bounded(uint32_t *r, size_t n, size_t budget) {
  for (size_t i = 1; i < n; i++) {
    uint32_t x[4];
    memcpy(x, r + 4 * i, 16);
    uint64_t h = record_hash(x);
    size_t j = i;
    while (j > 0 && record_hash(r + 4 * (j - 1)) > h) {
      if (budget-- == 0) {
        memcpy(r + 4 * j, x, 16);
        return 0;
      }
      memcpy(r + 4 * j, r + 4 * (j - 1), 16);
      j--;
    }
    memcpy(r + 4 * j, x, 16);
  }
  return 1;
}

/* Stable insertion sort of n records by hash: for the small buckets of sort_records. */
static void insertion_sort_records(uint32_t *r, size_t n) {
  insertion_sort_bounded(r, n, SIZE_MAX);
}

/*
 * LSD radix of 11-bit digits over bits from..bits of the hash, n records from src, `tmp` as
 * scratch (n records too): stable. Returns where the sorted records are (src or tmp). Digits
 * that are the same in every record are skipped.
 */
static uint32_t *lsd_records(uint32_t *src, uint32_t *tmp, size_t n, int from, int bits, uint32_t *counts) {
  uint32_t *dst = tmp;
  for (int shift = from; shift < bits; shift += BITS) {
    memset(counts, 0, RADIX * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++) counts[(record_hash(src + 4 * i) >> shift) & MASK]++;
    uint32_t sum = 0;
    int same = 0;
    for (uint32_t d = 0; d < RADIX; d++) {
      if (counts[d] == n) same = 1;
      uint32_t c = counts[d];
      counts[d] = sum;
      sum += c;
    }
    if (same) continue;
    for (size_t i = 0; i < n; i++) {
      const uint32_t *r = src + 4 * i;
      memcpy(dst + 4 * (size_t)counts[(record_hash(r) >> shift) & MASK]++, r, 16);
    }
    uint32_t *t = src;
    src = dst;
    dst = t;
  }
  return src;
}

/*
 * count records from src, sorted by the low `bits` bits of their hash, stably, into `into` (src
 * or other, scratch for count records): a bucket of sort_records, a few thousand records that
 * stay in cache. Two LSD passes by the top 22 of those bits leave random hashes sorted but for
 * the rare few that share every bit above the passes, which an insertion sort then finishes in
 * one pass that mispredicts little (one pass and an insertion sort over runs of two or three
 * took 25% longer). Hashes crafted to share more bits make it give up, and LSD over all the
 * bits sorts them (each pass stable, and the insertion sort never reorders equal hashes).
 */
static void sort_bucket(uint32_t *src, uint32_t *other, uint32_t *into, size_t count, int bits, uint32_t *counts) {
  uint32_t *sorted = src;
  if (count < 32) {
    insertion_sort_records(src, count);
  } else {
    sorted = lsd_records(src, other, count, bits > 2 * BITS ? bits - 2 * BITS : 0, bits, counts);
    if (!insertion_sort_bounded(sorted, count, 4 * count)) sorted = lsd_records(sorted, sorted == src ? other : src, count, 0, bits, counts);
  }
  if (sorted != into) memcpy(into, sorted, count * 16);
}

/*
 * Sorts n records by hash, stably, into `records` (scratch: n records): one pass that scatters
 * them by the hash's top 11 bits into scratch (each record moved once across memory), then each
 * bucket in cache, from scratch back to records (sort_bucket). counts: 4 * RADIX words.
 */
static void sort_records(uint32_t *records, uint32_t *scratch, size_t n, int hashBits, uint32_t *counts) {
  const int top = hashBits - BITS;
  memset(counts, 0, RADIX * sizeof(uint32_t));
  for (size_t i = 0; i < n; i++) counts[record_hash(records + 4 * i) >> top]++;
  uint32_t *starts = counts + RADIX;
  uint32_t sum = 0;
  for (uint32_t d = 0; d < RADIX; d++) {
    starts[d] = sum;
    sum += counts[d];
  }
  uint32_t *fill = counts + 2 * RADIX;
  memcpy(fill, starts, RADIX * sizeof(uint32_t));
  for (size_t i = 0; i < n; i++) {
    const uint32_t *r = records + 4 * i;
    memcpy(scratch + 4 * (size_t)fill[record_hash(r) >> top]++, r, 16);
  }
  for (uint32_t d = 0; d < RADIX; d++) {
    uint32_t *back = records + 4 * (size_t)starts[d];
    if (counts[d] != 0) sort_bucket(scratch + 4 * (size_t)starts[d], back, back, counts[d], top, counts + 3 * RADIX);
  }
}

#endif
