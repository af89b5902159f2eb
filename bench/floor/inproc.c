/*
 * The C floor inside the benchmark's own process (a Node-API module, built by bench/floor/
 * binding.gyp; not part of idx): the same file, mapped by its own mmap, probed by the fastest
 * C we can write, so that bench/get-ratio.js times idx's lookups and these side by side in one
 * thread by that thread's CPU time (CLOCK_THREAD_CPUTIME_ID: time the scheduler gives another
 * process does not count).
 *
 *   open(path) -> id                      maps an idx 2.x or 3.x file (checked only as far as the
 *                                         probe needs)
 *   single(id, keys u32[]) -> [sum, hits] one lookup a key, in order (the CPU overlaps the misses
 *                                         of independent keys as far as it can on its own); sum:
 *                                         the values found, mod 2^32. A 2.x file. The first four
 *                                         slots from home are compared without a branch (below).
 *   batch(id, keys u32[], values u32[]) -> hits
 *                                         each key's home slot prefetched AHEAD keys before it is
 *                                         probed; values of absent keys 0. A 2.x file.
 *   single64(id, keys BigUint64Array) -> [sum bigint, hits]
 *                                         single for a 3.x file of 64-bit keys (spec §16), values of
 *                                         32 or 64 bits; sum: the values found, mod 2^64; the four
 *                                         slots from home counted as single's are
 *   batch64(id, keys BigUint64Array, values Uint32Array | BigUint64Array) -> hits
 *                                         batch for the same files; values of the file's width
 *   threadNs() -> ns                      this thread's CPU time
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EMPTY 0xffffffffu
#define EMPTY64 0xffffffffffffffffull
#define AHEAD 16
#define MAX_FILES 16

typedef struct {
  const uint32_t *slots;
  uint64_t capacity;
  uint32_t escaped;
  /* 2 or 3; a 3.x file's widths (§16.1): 32 or 64 each. */
  uint32_t major, keyBits, valueBits;
  uint64_t escapedValue;
  /* The file's reach and spill slots let a probe read four slots from home unchecked. */
  uint32_t near;
} floor_file;

static floor_file files[MAX_FILES];
static int nfiles;

static inline uint32_t fmix32(uint32_t x) {
  x ^= x >> 16; x *= 0x85ebca6bu; x ^= x >> 13; x *= 0xc2b2ae35u; x ^= x >> 16;
  return x;
}

static inline uint64_t home_of(uint32_t h, uint64_t capacity) {
  return (uint64_t)h * (capacity >> 32) + (((uint64_t)h * (uint32_t)capacity) >> 32);
}

/* §16.3: four Feistel rounds of fmix32; the home from the hash's high half. */
static inline uint64_t hash64(uint64_t k) {
  uint32_t hi = (uint32_t)(k >> 32), lo = (uint32_t)k;
  lo ^= fmix32(hi ^ 0x9e3779b9u);
  hi ^= fmix32(lo ^ 0x85ebca77u);
  lo ^= fmix32(hi ^ 0xc2b2ae3du);
  hi ^= fmix32(lo ^ 0x27d4eb2fu);
  return (uint64_t)hi << 32 | lo;
}

static inline uint64_t home64_of(uint64_t h, uint64_t capacity) {
  return home_of((uint32_t)(h >> 32), capacity);
}

static napi_value fail(napi_env env, const char *what) {
  napi_throw_error(env, NULL, what);
  return NULL;
}

static napi_value number(napi_env env, double x) {
  napi_value v;
  napi_create_double(env, x, &v);
  return v;
}

static int typed_u32(napi_env env, napi_value v, uint32_t **data, size_t *len) {
  bool is = false;
  napi_typedarray_type t;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &t, len, (void **)data, NULL, NULL) != napi_ok || t != napi_uint32_array) return 0;
  return 1;
}

static int typed_u64(napi_env env, napi_value v, uint64_t **data, size_t *len) {
  bool is = false;
  napi_typedarray_type t;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &t, len, (void **)data, NULL, NULL) != napi_ok || t != napi_biguint64_array) return 0;
  return 1;
}

static floor_file *file_of(napi_env env, napi_value v) {
  int32_t id;
  if (napi_get_value_int32(env, v, &id) != napi_ok || id < 0 || id >= nfiles) return NULL;
  return &files[id];
}

static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[4096];
  size_t n;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &n) != napi_ok) return fail(env, "open(path)");
  if (nfiles == MAX_FILES) return fail(env, "too many files");
  int fd = open(path, O_RDONLY);
  if (fd < 0) return fail(env, "cannot open");
  struct stat st;
  fstat(fd, &st);
  const uint8_t *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (base == MAP_FAILED) return fail(env, "cannot map");
  madvise((void *)base, (size_t)st.st_size, MADV_RANDOM);
  uint16_t major;
  memcpy(&major, base + 8, 2);
  if (major != 2 && major != 3) return fail(env, "not an idx 2.x or 3.x file");
  floor_file *f = &files[nfiles];
  f->major = major;
  f->keyBits = major == 3 ? base[96] : 32;
  f->valueBits = major == 3 ? base[97] : 32;
  memcpy(&f->capacity, base + 16, 8);
  uint32_t state, low, high;
  memcpy(&state, base + 32, 4);
  f->escaped = (state >> 28) & 1;
  memcpy(&low, base + 40, 4);
  memcpy(&high, base + 88, 4); /* escapedHigh: 64-bit values only (§16.2) */
  f->escapedValue = low | (f->valueBits == 64 ? (uint64_t)high << 32 : 0);
  f->slots = (const uint32_t *)(base + 128);
  {
    /* The reach cell and the slot count sit where they do in 2.x for 3.x too (§16.2). */
    uint32_t reach;
    uint64_t slotCount;
    memcpy(&reach, base + 64, 4);
    memcpy(&slotCount, base + 24, 8);
    f->near = reach >= 3 && slotCount >= f->capacity + 3;
  }
  return number(env, nfiles++);
}

/*
 * §5.3 for one key at a time. With `near`, the first four slots from home are counted without
 * a branch (how many hold a smaller hash, stopping at the first that does not): the scan's
 * stop, which a loop's exit branch can only guess, is then not a branch at all for the 72% of
 * hits within four slots at 87.5% load, so the CPU runs on to the next keys' loads while this
 * one's miss is out. Measured against the loop alone on the same file, six runs: 0.83-0.94x its
 * time at 1 M entries but for two at 1.17x and 1.22x (one beside an npm test), 0.62-0.69x at 10 M, 0.75x at 100 K; counting two or
 * eight slots was slower than four.
 */
static inline __attribute__((always_inline)) uint32_t single_loop(const floor_file *f, const uint32_t *keys, size_t n, uint32_t *hits_out, int near) {
  const uint32_t *slots = f->slots;
  const uint64_t capacity = f->capacity;
  uint32_t sum = 0, hits = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t h = fmix32(keys[i]);
    if (__builtin_expect(h == EMPTY, 0)) {
      if (f->escaped) { sum += (uint32_t)f->escapedValue; hits++; }
      continue;
    }
    const uint32_t *s = slots + 2 * home_of(h, capacity);
    if (near) {
      uint32_t c0 = s[0] < h, c1 = c0 & (s[2] < h), c2 = c1 & (s[4] < h), c3 = c2 & (s[6] < h);
      /* Keep the compares as values: a branch on them is what the count replaces. */
      __asm__("" : "+r"(c0), "+r"(c1), "+r"(c2), "+r"(c3));
      s += 2 * (c0 + c1 + c2 + c3);
    }
    while (*s < h) s += 2;
    if (*s == h) { sum += s[1]; hits++; }
  }
  *hits_out = hits;
  return sum;
}

static napi_value Single(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  floor_file *f = argc == 2 ? file_of(env, argv[0]) : NULL;
  uint32_t *keys;
  size_t n;
  if (f == NULL || !typed_u32(env, argv[1], &keys, &n)) return fail(env, "single(id, keys)");
  if (f->major != 2) return fail(env, "single: a 3.x file: use single64");
  uint32_t hits;
  uint32_t sum = f->near ? single_loop(f, keys, n, &hits, 1) : single_loop(f, keys, n, &hits, 0);
  napi_value out;
  napi_create_array_with_length(env, 2, &out);
  napi_set_element(env, out, 0, number(env, sum));
  napi_set_element(env, out, 1, number(env, hits));
  return out;
}

static napi_value Batch(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  floor_file *f = argc == 3 ? file_of(env, argv[0]) : NULL;
  uint32_t *keys, *values;
  size_t n, nv;
  if (f == NULL || !typed_u32(env, argv[1], &keys, &n) || !typed_u32(env, argv[2], &values, &nv) || nv < n)
    return fail(env, "batch(id, keys, values)");
  if (f->major != 2) return fail(env, "batch: a 3.x file: use batch64");
  const uint32_t *slots = f->slots;
  const uint64_t capacity = f->capacity;
  const uint32_t *ring[AHEAD];
  uint32_t hashes[AHEAD];
  uint32_t hits = 0;
  size_t lead = n < AHEAD ? n : AHEAD;
  for (size_t i = 0; i < lead; i++) {
    hashes[i] = fmix32(keys[i]);
    ring[i] = slots + 2 * home_of(hashes[i], capacity);
    __builtin_prefetch(ring[i]);
  }
  for (size_t i = 0; i < n; i++) {
    size_t r = i % AHEAD;
    uint32_t h = hashes[r];
    const uint32_t *s = ring[r];
    if (i + AHEAD < n) {
      uint32_t h2 = fmix32(keys[i + AHEAD]);
      hashes[r] = h2;
      ring[r] = slots + 2 * home_of(h2, capacity);
      __builtin_prefetch(ring[r]);
    }
    uint32_t v = 0;
    if (__builtin_expect(h == EMPTY, 0)) {
      if (f->escaped) { v = (uint32_t)f->escapedValue; hits++; }
    } else {
      while (*s < h) s += 2;
      if (*s == h) { v = s[1]; hits++; }
    }
    values[i] = v;
  }
  return number(env, hits);
}

/*
 * Version 3, 64-bit keys: packed slots of a u64 hash word and a value (u64: 16 bytes, or u32: 12
 * bytes, spec §16.1), read with unaligned 8-byte loads (a 12-byte slot's u64 is 8-byte aligned
 * in every other slot). One loop per value width: the width is a constant where these are
 * inlined.
 */
static inline __attribute__((always_inline)) uint64_t load64(const uint32_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

static inline __attribute__((always_inline)) uint64_t value_of(const uint32_t *slot, int values64) {
  return values64 ? load64(slot + 2) : slot[2];
}

/* single_loop for 64-bit hash words, the four slots from home counted the same way where `near`
   (0.73x the loop's time for 64/32 at 10 M entries, 0.87x for 64/64). */
static inline __attribute__((always_inline)) uint64_t single64_loop(const floor_file *f, const uint64_t *keys, size_t n,
                                                                    uint32_t *hitsOut, int values64, int near) {
  const uint32_t *slots = f->slots;
  const uint64_t capacity = f->capacity;
  const unsigned sw = values64 ? 4 : 3;
  uint64_t sum = 0;
  uint32_t hits = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t h = hash64(keys[i]);
    if (__builtin_expect(h == EMPTY64, 0)) {
      if (f->escaped) { sum += f->escapedValue; hits++; }
      continue;
    }
    const uint32_t *s = slots + sw * home64_of(h, capacity);
    if (near) {
      uint64_t c0 = load64(s) < h, c1 = c0 & (load64(s + sw) < h), c2 = c1 & (load64(s + 2 * sw) < h), c3 = c2 & (load64(s + 3 * sw) < h);
      __asm__("" : "+r"(c0), "+r"(c1), "+r"(c2), "+r"(c3));
      s += sw * (c0 + c1 + c2 + c3);
    }
    uint64_t w;
    while ((w = load64(s)) < h) s += sw;
    if (w == h) { sum += value_of(s, values64); hits++; }
  }
  *hitsOut = hits;
  return sum;
}

static inline __attribute__((always_inline)) uint32_t batch64_loop(const floor_file *f, const uint64_t *keys, size_t n,
                                                                   void *values, int values64) {
  const uint32_t *slots = f->slots;
  const uint64_t capacity = f->capacity;
  const unsigned sw = values64 ? 4 : 3;
  const uint32_t *ring[AHEAD];
  uint64_t hashes[AHEAD];
  uint32_t hits = 0;
  size_t lead = n < AHEAD ? n : AHEAD;
  for (size_t i = 0; i < lead; i++) {
    hashes[i] = hash64(keys[i]);
    ring[i] = slots + sw * home64_of(hashes[i], capacity);
    __builtin_prefetch(ring[i]);
  }
  for (size_t i = 0; i < n; i++) {
    size_t r = i % AHEAD;
    uint64_t h = hashes[r];
    const uint32_t *s = ring[r];
    if (i + AHEAD < n) {
      uint64_t h2 = hash64(keys[i + AHEAD]);
      hashes[r] = h2;
      ring[r] = slots + sw * home64_of(h2, capacity);
      __builtin_prefetch(ring[r]);
    }
    uint64_t v = 0;
    if (__builtin_expect(h == EMPTY64, 0)) {
      if (f->escaped) { v = f->escapedValue; hits++; }
    } else {
      uint64_t w;
      while ((w = load64(s)) < h) s += sw;
      if (w == h) { v = value_of(s, values64); hits++; }
    }
    if (values64)
      ((uint64_t *)values)[i] = v;
    else
      ((uint32_t *)values)[i] = (uint32_t)v;
  }
  return hits;
}

/* The file of a single64/batch64 call: 3.x, 64-bit keys; else NULL. */
static floor_file *wide_file_of(napi_env env, napi_value v) {
  floor_file *f = file_of(env, v);
  return f != NULL && f->major == 3 && f->keyBits == 64 ? f : NULL;
}

static napi_value Single64(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  floor_file *f = argc == 2 ? wide_file_of(env, argv[0]) : NULL;
  uint64_t *keys;
  size_t n;
  if (f == NULL || !typed_u64(env, argv[1], &keys, &n)) return fail(env, "single64(id of a 3.x file of 64-bit keys, keys BigUint64Array)");
  uint32_t hits;
  uint64_t sum = f->valueBits == 64 ? (f->near ? single64_loop(f, keys, n, &hits, 1, 1) : single64_loop(f, keys, n, &hits, 1, 0))
                                     : (f->near ? single64_loop(f, keys, n, &hits, 0, 1) : single64_loop(f, keys, n, &hits, 0, 0));
  napi_value out, big;
  napi_create_array_with_length(env, 2, &out);
  napi_create_bigint_uint64(env, sum, &big);
  napi_set_element(env, out, 0, big);
  napi_set_element(env, out, 1, number(env, hits));
  return out;
}

static napi_value Batch64(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  floor_file *f = argc == 3 ? wide_file_of(env, argv[0]) : NULL;
  uint64_t *keys;
  size_t n, nv;
  if (f == NULL || !typed_u64(env, argv[1], &keys, &n))
    return fail(env, "batch64(id of a 3.x file of 64-bit keys, keys BigUint64Array, values)");
  if (f->valueBits == 64) {
    uint64_t *values;
    if (!typed_u64(env, argv[2], &values, &nv) || nv < n) return fail(env, "batch64: values must be a BigUint64Array as long as keys");
    return number(env, batch64_loop(f, keys, n, values, 1));
  }
  uint32_t *values;
  if (!typed_u32(env, argv[2], &values, &nv) || nv < n) return fail(env, "batch64: values must be a Uint32Array as long as keys");
  return number(env, batch64_loop(f, keys, n, values, 0));
}

static napi_value ThreadNs(napi_env env, napi_callback_info info) {
  (void)info;
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return number(env, (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec);
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor p[] = {
    {"open", NULL, Open, NULL, NULL, NULL, napi_default, NULL},
    {"single", NULL, Single, NULL, NULL, NULL, napi_default, NULL},
    {"batch", NULL, Batch, NULL, NULL, NULL, napi_default, NULL},
    {"single64", NULL, Single64, NULL, NULL, NULL, napi_default, NULL},
    {"batch64", NULL, Batch64, NULL, NULL, NULL, napi_default, NULL},
    {"threadNs", NULL, ThreadNs, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof p / sizeof *p, p);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
