/*
 * The scripted writer for the addon's copy of the §11.7 protocol (native/probe.h, what getMany
 * runs). A table of two pages in memory: keys j and k share home slot 495, j in slot 495 (the
 * first page), k in slot 496 (the second). The second page is made unreadable; the reader's
 * load of slot 496 faults, and the fault handler plays a writer that deletes j then (its
 * backward shift moves k to slot 495 and empties 496), stores the even seq after, and lets the
 * load run again. So the probe saw j, then an empty slot: "k is absent", which it never was.
 * The seq check must discard that chunk. Prints one line per scenario; exits 1 if any is wrong.
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
#define CAPACITY 1000
#define SLOTS ((2 * PAGE - IDX_HEADER_V2) / 8) /* 1008: the table fills two pages exactly */
#define FILE_ID 0x12345678u

static uint8_t *mem;
static uint32_t *header, *slots;
static uint32_t hj, hk;
/* What the fault handler's writer does: 0 delete j (seq + 2), 1 rewrite the file in place (the
   header checksum word changes, seq does not). */
static volatile int script, acted;

static void put(uint32_t s, uint32_t hash, uint32_t value) {
  slots[2 * s] = hash;
  slots[2 * s + 1] = value;
}

static void reset(uint32_t seq) {
  mprotect(mem + PAGE, PAGE, PROT_READ | PROT_WRITE);
  memset(mem, 0, 2 * PAGE);
  for (uint32_t s = 0; s < SLOTS; s++) put(s, IDX_EMPTY_HASH, 0);
  put(495, hj, 111);
  put(496, hk, 222);
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
  if (script == 0) {
    header[IDX_CELL_SEQ / 4] += 1; /* odd: the operation */
    put(495, hk, 222);             /* the backward shift */
    put(496, IDX_EMPTY_HASH, 0);
    header[IDX_CELL_SEQ / 4] += 1; /* even: done */
  } else {
    header[IDX_CHECKSUM_V2 / 4] = FILE_ID ^ 1; /* another file's header over the same pages */
    put(495, hk, 999);
    put(496, IDX_EMPTY_HASH, 0);
  }
  acted = 1;
}

/* One lookup of k; returns the index the loop stopped at (0: the chunk was discarded). */
static uint32_t lookup(uint32_t key, uint64_t dead, uint32_t *value, uint64_t *hits) {
  idx_table t = {
    .header = header, .slots = slots, .capacity = CAPACITY, .slotCount = SLOTS, .reach = 1,
    .dead = dead, .idWord = IDX_CHECKSUM_V2 / 4, .fileId = FILE_ID,
  };
  *hits = 0;
  *value = 7;
  return idx_probe_chunks(&t, &key, value, NULL, 0, 0, 1, hits);
}

int main(void) {
  mem = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return 2;
  header = (uint32_t *)mem;
  slots = (uint32_t *)(mem + IDX_HEADER_V2);
  /* Two hashes whose home (h * CAPACITY) >> 32 is 495. */
  hj = (uint32_t)((495ull << 32) / CAPACITY + 1);
  hk = hj + 1;
  if (idx_home(hj, CAPACITY) != 495 || idx_home(hk, CAPACITY) != 495) return 2;
  uint32_t k = idx_unhash32(hk);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  int wrong = 0;
  uint32_t value, stop;
  uint64_t hits;

  /* Control: nothing changes, k is found. */
  reset(2);
  stop = lookup(k, UINT64_MAX, &value, &hits);
  printf("quiet table: stop %u, hits %llu, value %u\n", stop, (unsigned long long)hits, value);
  wrong |= !(stop == 1 && hits == 1 && value == 222);

  /* A delete overlaps the probe: the chunk must be discarded (stop 0), not answered "absent". */
  reset(2);
  script = 0;
  mprotect(mem + PAGE, PAGE, PROT_NONE);
  stop = lookup(k, UINT64_MAX, &value, &hits);
  printf("write overlapped: stop %u, hits %llu, acted %d\n", stop, (unsigned long long)hits, acted);
  wrong |= !(acted && stop == 0 && hits == 0);

  /* The file is rewritten in place under the probe, seq unchanged: the header checksum word
     check must discard the chunk. */
  reset(2);
  script = 1;
  mprotect(mem + PAGE, PAGE, PROT_NONE);
  stop = lookup(k, UINT64_MAX, &value, &hits);
  printf("rewritten in place: stop %u, hits %llu, acted %d\n", stop, (unsigned long long)hits, acted);
  wrong |= !(acted && stop == 0 && hits == 0);

  /* An odd seq stops the loop at once, unless it is the dead writer's. */
  reset(5);
  stop = lookup(k, UINT64_MAX, &value, &hits);
  printf("odd seq: stop %u\n", stop);
  wrong |= stop != 0;
  reset(5);
  stop = lookup(k, 5, &value, &hits);
  printf("odd seq of a dead writer: stop %u, value %u\n", stop, value);
  wrong |= !(stop == 1 && value == 222);

  printf(wrong ? "WRONG\n" : "ok\n");
  return wrong;
}
