/*
 * The scripted writer for the addon's copies of the §11.7 protocol (native/probe.h: version 2's
 * loop, what getMany runs, and version 3's, what getManyWide runs, in each shape: the file's
 * widths and the caller's key width). A table of two pages in memory: keys j and k share the
 * home slot just before the page boundary, j in it (the first page), k in the next slot (the
 * second page). The second page is made unreadable; the reader's load of k's slot faults, and
 * the fault handler plays a writer that deletes j then (its backward shift moves k into j's slot
 * and empties k's), and lets the load run again. So the probe saw j, then an empty slot: "k is
 * absent", which it never was. The seq check must discard that chunk. Prints one line per layout
 * and scenario; exits 1 if any is wrong.
 *
 *   cc -O2 -std=gnu11 -I native test/helpers/probe-harness.c -o harness && ./harness
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "probe.h"

#define PAGE 4096
#define FILE_ID 0x12345678u
#define MAX_KEYS 80

/* A file layout and the caller's key width. */
typedef struct {
  const char *name;
  unsigned slotBytes; /* 8: version 2; 12 or 16: version 3 (§16.1) */
  unsigned keyBits, valueBits;
  int keys64;
} layout;

static const layout LAYOUTS[] = {
  {"v2", 8, 32, 32, 0},
  {"64/32 u32 keys", 12, 64, 32, 0},
  {"64/32 u64 keys", 12, 64, 32, 1},
  {"32/64 u32 keys", 12, 32, 64, 0},
  {"32/64 u64 keys", 12, 32, 64, 1},
  {"64/64 u32 keys", 16, 64, 64, 0},
  {"64/64 u64 keys", 16, 64, 64, 1},
};

static const layout *L;
static uint8_t *mem;
static uint32_t *header;
static uint64_t slotCount, capacity, jSlot; /* j's slot, the last of the first page; k's is next */
static uint64_t kj, kk, hj, hk;             /* the keys and their hash words */
/* What the fault handler's writer does: 0 delete j (seq + 2), 1 delete j and stay mid-operation
   (seq + 1), 2 rewrite the file in place (the header checksum word changes, seq does not). */
static volatile int script, acted;

static uint64_t empty_hash(void) {
  return L->keyBits == 64 ? IDX_EMPTY_HASH64 : IDX_EMPTY_HASH;
}

static uint64_t hash_of(uint64_t key) {
  return L->keyBits == 64 ? idx_hash64(key) : idx_hash32((uint32_t)key);
}

static uint64_t home_of(uint64_t h) {
  return idx_home(L->keyBits == 64 ? (uint32_t)(h >> 32) : (uint32_t)h, capacity);
}

/* A whole slot, as the layout lays it out (§2, §16.1: the hash word, then the value, packed). */
static void put(uint64_t s, uint64_t hash, uint64_t value) {
  uint8_t *slot = mem + IDX_HEADER_V2 + s * L->slotBytes;
  memcpy(slot, &hash, L->keyBits / 8);
  memcpy(slot + L->keyBits / 8, &value, L->valueBits / 8);
}

static void reset(uint32_t seq) {
  mprotect(mem + PAGE, PAGE, PROT_READ | PROT_WRITE);
  memset(mem, 0, 2 * PAGE);
  for (uint64_t s = 0; s < slotCount; s++) put(s, empty_hash(), 0);
  put(jSlot, hj, 111);
  put(jSlot + 1, hk, 222);
  header[IDX_CELL_SEQ / 4] = seq;
  header[IDX_CHECKSUM_V2 / 4] = FILE_ID;
  acted = 0;
}

static void on_fault(int sig, siginfo_t *si, void *ctx) {
  (void)sig;
  (void)ctx;
  uint8_t *a = si->si_addr;
  if (acted || a < mem + PAGE || a >= mem + 2 * PAGE) _exit(3);
  mprotect(mem + PAGE, PAGE, PROT_READ | PROT_WRITE);
  if (script == 2) {
    header[IDX_CHECKSUM_V2 / 4] = FILE_ID ^ 1; /* another file's header over the same pages */
    put(jSlot, hk, 999);
    put(jSlot + 1, empty_hash(), 0);
  } else {
    header[IDX_CELL_SEQ / 4] += 1; /* odd: the operation */
    put(jSlot, hk, 222);           /* the backward shift */
    put(jSlot + 1, empty_hash(), 0);
    if (script == 0) header[IDX_CELL_SEQ / 4] += 1; /* even: done */
  }
  acted = 1;
}

/* Looks up keys[0..n) through the layout's loop; returns the index it stopped at. */
static uint32_t lookup(const uint64_t *keys, uint32_t n, uint64_t dead, uint64_t reach, uint64_t *values, uint64_t *hits) {
  idx_table t = {
    .header = header, .slots = (const uint32_t *)(mem + IDX_HEADER_V2), .capacity = capacity, .slotCount = slotCount,
    .reach = reach, .dead = dead, .idWord = IDX_CHECKSUM_V2 / 4, .fileId = FILE_ID,
  };
  uint32_t keys32[MAX_KEYS], values32[MAX_KEYS];
  for (uint32_t i = 0; i < n; i++) keys32[i] = (uint32_t)keys[i];
  const void *in = L->keys64 ? (const void *)keys : (const void *)keys32;
  void *out = L->valueBits == 64 ? (void *)values : (void *)values32;
  uint32_t stop;
  *hits = 0;
  if (L->slotBytes == 8)
    stop = idx_probe_chunks(&t, keys32, values32, NULL, 7, 0, n, hits);
  else
    stop = idx_probe_chunks_wide(&t, L->keyBits, L->valueBits, in, L->keys64, out, NULL, 7, 0, n, hits);
  if (L->valueBits == 32)
    for (uint32_t i = 0; i < n; i++) values[i] = values32[i];
  return stop;
}

/* Two keys of the caller's width whose hashes share home slot jSlot: kj's the smaller. */
static int pick_keys(void) {
  uint64_t base = L->keys64 && L->keyBits == 64 ? 1ull << 40 : 0, found[2];
  int n = 0;
  for (uint64_t i = 0; i < 100000000 && n < 2; i++)
    if (home_of(hash_of(base + i)) == jSlot) found[n++] = base + i;
  if (n < 2) return 0;
  int swap = hash_of(found[0]) > hash_of(found[1]);
  kj = found[swap];
  kk = found[!swap];
  hj = hash_of(kj);
  hk = hash_of(kk);
  return 1;
}

static int wrong;

static void report(const char *scenario, int ok, uint32_t stop, uint64_t hits, uint64_t value) {
  printf("%s %s: stop %u, hits %llu, value %llu%s\n", L->name, scenario, stop, (unsigned long long)hits,
         (unsigned long long)value, ok ? "" : "  WRONG");
  wrong |= !ok;
}

/* A write at the load of k's slot, by `how`; returns the stop. */
static uint32_t overlapped(int how, const uint64_t *keys, uint32_t n, uint64_t *values, uint64_t *hits) {
  reset(2);
  script = how;
  mprotect(mem + PAGE, PAGE, PROT_NONE);
  return lookup(keys, n, UINT64_MAX, 1, values, hits);
}

static void run_layout(void) {
  slotCount = (2 * PAGE - IDX_HEADER_V2) / L->slotBytes; /* the table fills two pages exactly */
  capacity = slotCount - 8;
  jSlot = (PAGE - IDX_HEADER_V2) / L->slotBytes - 1;
  if (!pick_keys()) {
    printf("%s: no keys found\n", L->name);
    wrong = 1;
    return;
  }
  uint64_t values[MAX_KEYS], hits;
  uint32_t stop;
  const uint64_t k[1] = {kk};

  /* Control: nothing changes, k is found. */
  reset(2);
  stop = lookup(k, 1, UINT64_MAX, 1, values, &hits);
  report("quiet table", stop == 1 && hits == 1 && values[0] == 222, stop, hits, values[0]);

  /* A delete overlaps the probe: the chunk must be discarded (stop 0), not answered "absent". */
  stop = overlapped(0, k, 1, values, &hits);
  report("write overlapped", acted && stop == 0 && hits == 0, stop, hits, values[0]);
  /* The same, the writer still mid-operation (seq odd) when the chunk ends. */
  stop = overlapped(1, k, 1, values, &hits);
  report("write mid-operation", acted && stop == 0 && hits == 0, stop, hits, values[0]);
  /* The file is rewritten in place under the probe, seq unchanged: the header checksum word
     check must discard the chunk. */
  stop = overlapped(2, k, 1, values, &hits);
  report("rewritten in place", acted && stop == 0 && hits == 0, stop, hits, values[0]);

  /* 70 lookups of j (no load of the second page), then k: the first chunk stands, the second,
     which the write overlapped, is discarded. */
  uint64_t many[71];
  for (int i = 0; i < 70; i++) many[i] = kj;
  many[70] = kk;
  reset(2);
  stop = lookup(many, 71, UINT64_MAX, 1, values, &hits);
  report("two chunks, quiet", stop == 71 && hits == 71 && values[70] == 222, stop, hits, values[70]);
  stop = overlapped(0, many, 71, values, &hits);
  report("second chunk overlapped", acted && stop == 64 && hits == 64 && values[63] == 111, stop, hits, values[63]);

  /* An odd seq stops the loop at once, unless it is the dead writer's. */
  reset(5);
  stop = lookup(k, 1, UINT64_MAX, 1, values, &hits);
  report("odd seq", stop == 0, stop, hits, 0);
  reset(5);
  stop = lookup(k, 1, 5, 1, values, &hits);
  report("odd seq of a dead writer", stop == 1 && values[0] == 222, stop, hits, values[0]);

  /* k sits one slot past its home: a reach of 0 leaves its probe undecided. */
  reset(2);
  stop = lookup(k, 1, UINT64_MAX, 0, values, &hits);
  report("reach used up", stop == 0 && hits == 0, stop, hits, 0);

  /* The escaped key: its value from the header (escapedHigh too for 64-bit values). */
  reset(2);
  header[IDX_CELL_STATE / 4] = IDX_STATE_ESCAPED;
  header[IDX_CELL_ESCAPED / 4] = 0x89abcdefu;
  header[IDX_CELL_ESCAPED_HIGH / 4] = 0x01234567u;
  const uint64_t escaped[1] = {L->keyBits == 64 ? idx_unhash64(IDX_EMPTY_HASH64) : idx_unhash32(IDX_EMPTY_HASH)};
  if (L->keys64 || escaped[0] <= IDX_EMPTY_HASH) {
    uint64_t want = L->valueBits == 64 ? 0x0123456789abcdefull : 0x89abcdefu;
    stop = lookup(escaped, 1, UINT64_MAX, 1, values, &hits);
    report("escaped key", stop == 1 && hits == 1 && values[0] == want, stop, hits, values[0]);
  }

  /* A u64 key above a file's 32-bit keys whose low half is k: absent, with no probe. */
  if (L->keys64 && L->keyBits == 32) {
    const uint64_t wide[1] = {(1ull << 32) | kk};
    reset(2);
    mprotect(mem + PAGE, PAGE, PROT_NONE);
    script = 0;
    stop = lookup(wide, 1, UINT64_MAX, 1, values, &hits);
    report("key wider than the file's", !acted && stop == 1 && hits == 0 && values[0] == 7, stop, hits, values[0]);
  }
}

int main(void) {
  mem = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return 2;
  header = (uint32_t *)mem;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  for (size_t i = 0; i < sizeof LAYOUTS / sizeof *LAYOUTS; i++) {
    L = &LAYOUTS[i];
    run_layout();
  }
  printf(wrong ? "WRONG\n" : "ok\n");
  return wrong;
}
