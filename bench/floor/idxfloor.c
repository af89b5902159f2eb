/*
 * idxfloor: the C floor of the idx benchmark. It writes the same file layout as idx
 * (spec/FORMAT.md version 2.0; src/core/ is the truth in code) and probes it through its own
 * mmap, so its figures are what the hardware allows for this format, at any size.
 *
 *   idxfloor build IN OUT.idx [--binary]   parse (or read binary pairs), fmix32, radix sort,
 *                                          place, CRC32, write (temp file, fsync, rename, fsync
 *                                          dir, like idx); prints one JSON line of phase timings
 *   idxfloor get FILE KEY [--stats]        open, map, check the header, answer one key;
 *                                          prints the value (or "not found", exit 1);
 *                                          --stats prints a JSON line instead
 *   idxfloor bench FILE REPS BATCH Q1.u32 [Q2.u32 ...]
 *                                          for each query file (little-endian uint32 keys):
 *                                          warm-up, then REPS timed single-get loops and
 *                                          REPS batch loops (software prefetch, BATCH keys a
 *                                          call); prints one JSON line per file with medians
 *
 * Build: cc -O2 -o idxfloor idxfloor.c -lz      (or -DNO_ZLIB for the table CRC32)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef NO_ZLIB
#include <zlib.h>
static uint32_t crc32_bytes(const uint8_t *p, size_t n) { return (uint32_t)crc32(0L, p, (uInt)n); }
#else
static uint32_t crc_table[256];
static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}
static uint32_t crc32_bytes(const uint8_t *p, size_t n) {
  if (!crc_table[1]) crc_init();
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}
#endif

/* spec §3: a 128-byte header: fixed fields (0..31, their CRC-32 at 12 over bytes 0..11 and
 * 16..31) and eight cells, each a u32 word and its check = CRC-32 of (offset, word). */
static const uint8_t MAGIC[8] = {0x89, 0x49, 0x44, 0x58, 0x0d, 0x0a, 0x1a, 0x0a};
enum {
  HEADER_BYTES = 128, SLOT_BYTES = 8, BLOCK_BYTES = 4096, SPILL_SLOTS = 8,
  H_MAJOR = 8, H_MINOR = 10, H_CRC = 12, H_CAPACITY = 16, H_SLOTCOUNT = 24,
  H_STATE = 32, H_ESCAPED = 40, H_SEQ = 48, H_ENTRIES = 56, H_REACH = 64, H_DIRTY_FIRST = 72,
  H_DIRTY_COUNT = 80, H_RESERVED = 88,
};
#define EMPTY_HASH 0xffffffffu
#define STATE_ESCAPED (1u << 28)

static inline uint32_t fmix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x85ebca6bu;
  x ^= x >> 13;
  x *= 0xc2b2ae35u;
  x ^= x >> 16;
  return x;
}

/* spec §4 home: floor(hash * capacity / 2^32), exact for a capacity past 2^32 */
static inline uint64_t home_slot(uint32_t hash, uint64_t capacity) {
  return (uint64_t)hash * (capacity >> 32) + (((uint64_t)hash * (uint32_t)capacity) >> 32);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A timed run is kept when its wall time stayed within 15% of the CPU time: one that lost the
 * CPU to another process is run again (up to 4 * reps tries), as bench/lib/common.js timeReps. */
static int keep_run(double wall, double cpu, int tries, int max_tries, int kept, int reps) {
  return wall <= cpu * 1.15 + 0.2 || max_tries - tries <= reps - kept;
}

static void die(const char *what, const char *path) {
  fprintf(stderr, "idxfloor: %s %s: %s\n", what, path ? path : "", strerror(errno));
  exit(2);
}

static inline void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); } /* little-endian host */
static inline void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint32_t cell_check(uint32_t offset, uint32_t word) {
  uint8_t b[8];
  put32(b, offset);
  put32(b + 4, word);
  return crc32_bytes(b, 8);
}

static void write_header(uint8_t *file, uint64_t capacity, uint64_t slot_count, uint32_t entries,
                         int escaped, uint32_t escaped_value, uint32_t reach) {
  memset(file, 0, HEADER_BYTES);
  memcpy(file, MAGIC, 8);
  put16(file + H_MAJOR, 2);
  put16(file + H_MINOR, 0);
  put64(file + H_CAPACITY, capacity);
  put64(file + H_SLOTCOUNT, slot_count);
  uint8_t fixed[28];
  memcpy(fixed, file, 12);
  memcpy(fixed + 12, file + 16, 16);
  put32(file + H_CRC, crc32_bytes(fixed, 28));
  uint32_t cells[8][2] = {
    {H_STATE, escaped ? STATE_ESCAPED : 0}, {H_ESCAPED, escaped ? escaped_value : 0}, {H_SEQ, 0}, {H_ENTRIES, entries},
    {H_REACH, reach}, {H_DIRTY_FIRST, 0}, {H_DIRTY_COUNT, 0}, {H_RESERVED, 0},
  };
  for (int c = 0; c < 8; c++) {
    put32(file + cells[c][0], cells[c][1]);
    put32(file + cells[c][0] + 4, cell_check(cells[c][0], cells[c][1]));
  }
}

/* ---------------------------------------------------------------- build */

/* LSD radix sort of packed (hash << 32 | value) by the hash, 11 bits a pass; stable. */
static uint64_t *radix_sort(uint64_t *a, uint64_t *tmp, size_t n) {
  enum { BITS = 11, R = 1 << BITS, MASK = R - 1 };
  static uint32_t count[3][R];
  memset(count, 0, sizeof count);
  for (size_t i = 0; i < n; i++) {
    uint32_t h = (uint32_t)(a[i] >> 32);
    count[0][h & MASK]++;
    count[1][(h >> BITS) & MASK]++;
    count[2][h >> (2 * BITS)]++;
  }
  for (int p = 0; p < 3; p++) {
    uint32_t sum = 0;
    for (int d = 0; d < R; d++) { uint32_t c = count[p][d]; count[p][d] = sum; sum += c; }
  }
  uint64_t *src = a, *dst = tmp;
  for (int p = 0; p < 3; p++) {
    int shift = 32 + p * BITS;
    uint32_t *c = count[p];
    for (size_t i = 0; i < n; i++) {
      uint64_t x = src[i];
      dst[c[(x >> shift) & MASK]++] = x;
    }
    uint64_t *t = src; src = dst; dst = t;
  }
  return src;
}

static int cmd_build(const char *in, const char *out, int binary) {
  double t0 = now_ms();
  int fd = open(in, O_RDONLY);
  if (fd < 0) die("cannot open", in);
  struct stat st;
  if (fstat(fd, &st) < 0) die("cannot stat", in);
  size_t size = (size_t)st.st_size;
  const uint8_t *text = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0) : (const uint8_t *)"";
  if (text == MAP_FAILED) die("cannot map", in);
  close(fd);

  /* Parse: the syntax of src/core/parse.ts (tab, spaces or a comma between; # comments; CRLF),
     or binary pairs (u32 key, u32 value, little-endian). */
  size_t cap = binary ? size / 8 + 16 : size / 4 + 16, n = 0; /* the shortest pair line is "0 0\n" */
  uint64_t *pairs = malloc(cap * sizeof *pairs);
  uint64_t *tmp = malloc(cap * sizeof *tmp);
  if (!pairs || !tmp) die("out of memory", NULL);
  int escaped = 0;
  uint32_t escaped_value = 0;
  const uint8_t *p = text, *end = text + size;
  size_t line = 0;
  if (binary) {
    if (size % 8) { fprintf(stderr, "idxfloor: %s: not a whole number of 8-byte pairs\n", in); return 1; }
    const uint32_t *w = (const uint32_t *)text;
    for (size_t i = 0; i < size / 8; i++) {
      uint32_t h = fmix32(w[2 * i]);
      if (h == EMPTY_HASH) { escaped = 1; escaped_value = w[2 * i + 1]; continue; }
      pairs[n++] = (uint64_t)h << 32 | w[2 * i + 1];
    }
    p = end;
  }
  while (p < end) {
    line++;
    const uint8_t *ls = p;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if (p == end) break;
    if (*p == '\n' || *p == '#' || (*p == '\r' && p + 1 < end && p[1] == '\n')) {
      while (p < end && *p != '\n') p++;
      p++;
      continue;
    }
    uint64_t key = 0, value = 0;
    const uint8_t *ks = p;
    while (p < end && *p >= '0' && *p <= '9' && key <= 0xffffffffu) key = key * 10 + (*p++ - '0');
    int kd = p != ks, sep = 0;
    while (p < end && (*p == ' ' || *p == '\t')) { p++; sep = 1; }
    if (p < end && *p == ',') {
      p++; sep = 1;
      while (p < end && (*p == ' ' || *p == '\t')) p++;
    }
    const uint8_t *vs = p;
    while (p < end && *p >= '0' && *p <= '9' && value <= 0xffffffffu) value = value * 10 + (*p++ - '0');
    int vd = p != vs;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if (p < end && *p == '\r') p++;
    if ((p < end && *p != '\n') || !kd || !vd || !sep || key > 0xffffffffu || value > 0xffffffffu) {
      const uint8_t *le = ls;
      while (le < end && *le != '\n') le++;
      fprintf(stderr, "idxfloor: %s:%zu: bad line \"%.*s\"\n", in, line, (int)(le - ls > 60 ? 60 : le - ls), ls);
      return 1;
    }
    p++;
    uint32_t h = fmix32((uint32_t)key);
    if (h == EMPTY_HASH) { escaped = 1; escaped_value = (uint32_t)value; continue; }
    pairs[n++] = (uint64_t)h << 32 | (uint32_t)value;
  }
  double t1 = now_ms();

  uint64_t *sorted = radix_sort(pairs, tmp, n);
  /* Keep the last of each run of equal hashes (stable sort: the last in input order). */
  size_t unique = 0;
  for (size_t i = 0; i < n; i++) {
    if (i + 1 < n && (sorted[i + 1] >> 32) == (sorted[i] >> 32)) continue;
    sorted[unique++] = sorted[i];
  }
  double t2 = now_ms();

  uint64_t capacity = (unique * 8 + 6) / 7;
  if (capacity < 1) capacity = 1;
  size_t next = 0;
  for (size_t j = 0; j < unique; j++) {
    size_t home = home_slot((uint32_t)(sorted[j] >> 32), capacity);
    next = (home > next ? home : next) + 1;
  }
  size_t slot_count = (next > capacity ? next : capacity) + SPILL_SLOTS;
  size_t blocks = (slot_count * SLOT_BYTES + BLOCK_BYTES - 1) / BLOCK_BYTES;
  size_t crc_off = HEADER_BYTES + slot_count * SLOT_BYTES;
  size_t file_bytes = crc_off + blocks * 4;
  uint8_t *file = malloc(file_bytes);
  if (!file) die("out of memory", NULL);
  uint32_t *slots = (uint32_t *)(file + HEADER_BYTES);
  uint32_t reach = 0;
  next = 0;
  for (size_t j = 0; j < unique; j++) {
    uint32_t h = (uint32_t)(sorted[j] >> 32);
    size_t home = home_slot(h, capacity);
    size_t pos = home > next ? home : next;
    if (pos - home > reach) reach = (uint32_t)(pos - home);
    for (; next < pos; next++) { slots[2 * next] = EMPTY_HASH; slots[2 * next + 1] = 0; }
    slots[2 * pos] = h;
    slots[2 * pos + 1] = (uint32_t)sorted[j];
    next = pos + 1;
  }
  for (; next < slot_count; next++) { slots[2 * next] = EMPTY_HASH; slots[2 * next + 1] = 0; }
  double t3 = now_ms();

  for (size_t b = 0; b < blocks; b++) {
    size_t s = HEADER_BYTES + b * BLOCK_BYTES, e = s + BLOCK_BYTES;
    if (e > crc_off) e = crc_off;
    put32(file + crc_off + b * 4, crc32_bytes(file + s, e - s));
  }
  write_header(file, capacity, slot_count, (uint32_t)unique, escaped, escaped_value, reach);
  double t4 = now_ms();

  /* Like idx's replaceFile: temp file beside the target, fsync, rename, fsync the directory. */
  char tmp_path[4096];
  snprintf(tmp_path, sizeof tmp_path, "%s.%d.floor.tmp", out, (int)getpid());
  int ofd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (ofd < 0) die("cannot create", tmp_path);
  for (size_t off = 0; off < file_bytes;) {
    ssize_t w = write(ofd, file + off, file_bytes - off);
    if (w < 0) die("cannot write", tmp_path);
    off += (size_t)w;
  }
  if (fsync(ofd) < 0) die("cannot fsync", tmp_path);
  close(ofd);
  if (rename(tmp_path, out) < 0) die("cannot rename to", out);
  char dir_buf[4096];
  snprintf(dir_buf, sizeof dir_buf, "%s", out);
  int dfd = open(dirname(dir_buf), O_RDONLY);
  if (dfd >= 0) { fsync(dfd); close(dfd); }
  double t5 = now_ms();

  printf("{\"pairs\":%zu,\"count\":%zu,\"capacity\":%llu,\"slotCount\":%zu,\"fileBytes\":%zu,"
         "\"parseMs\":%.3f,\"sortMs\":%.3f,\"placeMs\":%.3f,\"crcMs\":%.3f,\"writeMs\":%.3f,\"totalMs\":%.3f}\n",
         n + escaped, unique + escaped, (unsigned long long)capacity, slot_count, file_bytes,
         t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0);
  return 0;
}

/* ---------------------------------------------------------------- read */

typedef struct {
  const uint8_t *base;
  const uint32_t *slots;
  size_t bytes;
  uint64_t capacity, slot_count;
  uint32_t escaped_present, escaped_value, count;
  /* The reach and the spill slots let a lookup read four slots from home unchecked (idx_get). */
  int near;
} Idx;

static int idx_open(Idx *ix, const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) die("cannot open", path);
  struct stat st;
  if (fstat(fd, &st) < 0) die("cannot stat", path);
  if (st.st_size < HEADER_BYTES) { fprintf(stderr, "idxfloor: %s: truncated\n", path); return -1; }
  ix->bytes = (size_t)st.st_size;
  ix->base = mmap(NULL, ix->bytes, PROT_READ, MAP_SHARED, fd, 0);
  if (ix->base == MAP_FAILED) die("cannot map", path);
  close(fd);
  madvise((void *)ix->base, ix->bytes, MADV_RANDOM);
  const uint8_t *h = ix->base;
  uint8_t fixed[28];
  memcpy(fixed, h, 12);
  memcpy(fixed + 12, h + 16, 16);
  if (memcmp(h, MAGIC, 8) != 0 || get32(h + H_MAJOR) % 65536 != 2 || get32(h + H_CRC) != crc32_bytes(fixed, 28)) {
    fprintf(stderr, "idxfloor: %s: not an idx 2.x file or bad header checksum\n", path);
    return -1;
  }
  for (uint32_t off = H_STATE; off <= H_RESERVED; off += 8) {
    if (get32(h + off + 4) != cell_check(off, get32(h + off))) {
      fprintf(stderr, "idxfloor: %s: header cell %u fails its check\n", path, off);
      return -1;
    }
  }
  ix->capacity = get64(h + H_CAPACITY);
  ix->slot_count = get64(h + H_SLOTCOUNT);
  ix->escaped_present = (get32(h + H_STATE) & STATE_ESCAPED) != 0;
  ix->count = get32(h + H_ENTRIES) + ix->escaped_present;
  ix->escaped_value = get32(h + H_ESCAPED);
  ix->near = get32(h + H_REACH) >= 3 && ix->slot_count >= ix->capacity + 3;
  size_t slots_end = HEADER_BYTES + (size_t)ix->slot_count * SLOT_BYTES;
  size_t expect = slots_end + (((size_t)ix->slot_count * SLOT_BYTES + BLOCK_BYTES - 1) / BLOCK_BYTES) * 4;
  if (ix->capacity < 1 || ix->slot_count <= ix->capacity || expect != ix->bytes) {
    fprintf(stderr, "idxfloor: %s: header does not match the file size\n", path);
    return -1;
  }
  ix->slots = (const uint32_t *)(h + HEADER_BYTES);
  if (ix->slots[2 * ((size_t)ix->slot_count - 1)] != EMPTY_HASH) {
    fprintf(stderr, "idxfloor: %s: last slot not empty\n", path);
    return -1;
  }
  return 0;
}

static inline int idx_get(const Idx *ix, uint32_t key, uint32_t *value) {
  uint32_t h = fmix32(key);
  if (__builtin_expect(h == EMPTY_HASH, 0)) {
    if (ix->escaped_present) { *value = ix->escaped_value; return 1; }
    return 0;
  }
  const uint32_t *s = ix->slots + 2 * (size_t)home_slot(h, ix->capacity);
  if (ix->near) {
    /* The four slots from home counted without a branch (as bench/floor/inproc.c's single):
       the CPU then runs on into the next lookups while this one's miss is out. */
    uint32_t c0 = s[0] < h, c1 = c0 & (s[2] < h), c2 = c1 & (s[4] < h), c3 = c2 & (s[6] < h);
    __asm__("" : "+r"(c0), "+r"(c1), "+r"(c2), "+r"(c3));
    s += 2 * (c0 + c1 + c2 + c3);
  }
  while (*s < h) s += 2;
  if (*s == h) { *value = s[1]; return 1; }
  return 0;
}

/* getMany: values[i] = value or 0, found[i] = 1/0; hashes and home slots of a group of G keys
 * are computed and prefetched before the group is probed. Returns the number found. */
#define G 16
static size_t idx_get_many(const Idx *ix, const uint32_t *keys, size_t n, uint32_t *values, uint8_t *found) {
  size_t hits = 0;
  uint32_t hs[G];
  const uint32_t *ps[G];
  for (size_t i = 0; i < n; i += G) {
    size_t m = n - i < G ? n - i : G;
    for (size_t j = 0; j < m; j++) {
      uint32_t h = fmix32(keys[i + j]);
      hs[j] = h;
      ps[j] = ix->slots + 2 * (size_t)home_slot(h, ix->capacity);
      __builtin_prefetch(ps[j]);
    }
    for (size_t j = 0; j < m; j++) {
      uint32_t h = hs[j], v = 0;
      uint8_t f = 0;
      if (__builtin_expect(h == EMPTY_HASH, 0)) {
        if (ix->escaped_present) { v = ix->escaped_value; f = 1; }
      } else {
        const uint32_t *s = ps[j];
        while (*s < h) s += 2;
        if (*s == h) { v = s[1]; f = 1; }
      }
      values[i + j] = v;
      found[i + j] = f;
      hits += f;
    }
  }
  return hits;
}

static long status_kb(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256], fmt[64];
  snprintf(fmt, sizeof fmt, "%s: %%ld kB", field);
  long kb = -1;
  while (fgets(line, sizeof line, f)) if (sscanf(line, fmt, &kb) == 1) break;
  fclose(f);
  return kb;
}

static int cmd_get(const char *path, const char *key_text, int stats) {
  double t0 = now_ms();
  char *e;
  errno = 0;
  unsigned long k = strtoul(key_text, &e, 10);
  if (*e || errno || k > 0xffffffffUL) { fprintf(stderr, "idxfloor: bad key %s\n", key_text); return 2; }
  Idx ix;
  if (idx_open(&ix, path) < 0) return 2;
  uint32_t v = 0;
  int found = idx_get(&ix, (uint32_t)k, &v);
  double t1 = now_ms();
  if (stats) {
    printf("{\"found\":%d,\"value\":%u,\"openGetMs\":%.6f,\"rssKb\":%ld,\"anonKb\":%ld,\"fileKb\":%ld}\n",
           found, v, t1 - t0, status_kb("VmRSS"), status_kb("RssAnon"), status_kb("RssFile"));
  } else if (found) {
    printf("%u\n", v);
  } else {
    printf("not found\n");
  }
  fflush(stdout);
  return found ? 0 : 1;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *xs, int n) {
  qsort(xs, n, sizeof *xs, cmp_double);
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

static uint32_t *read_u32_file(const char *path, size_t *n) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) die("cannot open", path);
  struct stat st;
  fstat(fd, &st);
  uint32_t *a = malloc((size_t)st.st_size + 4);
  size_t off = 0;
  while (off < (size_t)st.st_size) {
    ssize_t r = read(fd, (uint8_t *)a + off, (size_t)st.st_size - off);
    if (r <= 0) die("cannot read", path);
    off += (size_t)r;
  }
  close(fd);
  *n = (size_t)st.st_size / 4;
  return a;
}

static int cmd_bench(const char *path, int reps, size_t batch, int nq, char **qpaths) {
  Idx ix;
  if (idx_open(&ix, path) < 0) return 2;
  for (int q = 0; q < nq; q++) {
    size_t n;
    uint32_t *keys = read_u32_file(qpaths[q], &n);
    uint32_t *values = malloc(n * 4 + 4);
    uint8_t *found = malloc(n + 1);
    double get_ns[64], many_ns[64];
    uint32_t get_sum = 0, many_sum = 0;
    size_t get_found = 0, many_found = 0;
    if (reps > 64) reps = 64;
    /* warm-up: faults the pages in and the caches up, like the JS side's warm-up pass */
    for (size_t i = 0; i < n; i++) { uint32_t v; idx_get(&ix, keys[i], &v); }
    int discarded = 0, kept = 0;
    for (int tries = 0; kept < reps; tries++) {
      uint32_t sum = 0;
      size_t hits = 0;
      double c0 = cpu_ms(), t0 = now_ms();
      for (size_t i = 0; i < n; i++) {
        uint32_t v;
        if (idx_get(&ix, keys[i], &v)) { sum += v; hits++; }
      }
      double t1 = now_ms(), c1 = cpu_ms();
      if (!keep_run(t1 - t0, c1 - c0, tries, 4 * reps, kept, reps)) { discarded++; continue; }
      get_ns[kept++] = (t1 - t0) * 1e6 / (double)n;
      get_sum = sum;
      get_found = hits;
    }
    kept = 0;
    for (int tries = 0; kept < reps; tries++) {
      size_t hits = 0;
      double c0 = cpu_ms(), t0 = now_ms();
      for (size_t i = 0; i < n; i += batch) {
        size_t m = n - i < batch ? n - i : batch;
        hits += idx_get_many(&ix, keys + i, m, values + i, found + i);
      }
      double t1 = now_ms(), c1 = cpu_ms();
      if (!keep_run(t1 - t0, c1 - c0, tries, 4 * reps, kept, reps)) { discarded++; continue; }
      uint32_t sum = 0;
      for (size_t i = 0; i < n; i++) sum += values[i];
      many_ns[kept++] = (t1 - t0) * 1e6 / (double)n;
      many_sum = sum;
      many_found = hits;
    }
    printf("{\"queries\":\"%s\",\"n\":%zu,\"getNs\":%.3f,\"getSum\":%u,\"getFound\":%zu,"
           "\"manyNs\":%.3f,\"manySum\":%u,\"manyFound\":%zu,\"discarded\":%d}\n",
           qpaths[q], n, median(get_ns, reps), get_sum, get_found, median(many_ns, reps), many_sum, many_found, discarded);
    fflush(stdout);
    free(keys); free(values); free(found);
  }
  return 0;
}

int main(int argc, char **argv) {
  if ((argc == 4 || argc == 5) && strcmp(argv[1], "build") == 0)
    return cmd_build(argv[2], argv[3], argc == 5 && strcmp(argv[4], "--binary") == 0);
  if ((argc == 4 || argc == 5) && strcmp(argv[1], "get") == 0)
    return cmd_get(argv[2], argv[3], argc == 5 && strcmp(argv[4], "--stats") == 0);
  if (argc >= 6 && strcmp(argv[1], "bench") == 0)
    return cmd_bench(argv[2], atoi(argv[3]), (size_t)strtoul(argv[4], NULL, 10), argc - 5, argv + 5);
  fprintf(stderr,
          "usage: idxfloor build IN OUT.idx [--binary]\n"
          "       idxfloor get FILE KEY [--stats]\n"
          "       idxfloor bench FILE REPS BATCH QUERIES.u32...\n");
  return 2;
}
