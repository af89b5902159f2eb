/*
 * idx's native addon: what Node has no API for.
 *
 *  flock(fd, op, wait)      the writer lock (src/lock.ts): flock(2), released by the kernel
 *                           when its holder dies.
 *  map, sync                the file mapping (src/mmap.ts): mmap(2) of the whole file as an
 *                           ArrayBuffer (native/unaccounted.cc), and msync(2);
 *  adjustExternalMemory     and the memory V8 counts for a mapping src/mmap.ts released.
 *  getMany(...)             the batch lookup of src/reader.ts over the mapped slots, with
 *                           software prefetch, which JS cannot express: the probe of
 *                           spec/FORMAT.md §5.3 and the seq check of §11.7, per chunk of keys.
 *  hashSort(k, v, n, r)     the builder's hashing, stable radix sort and deduplication of
 *  placeSorted(...)         the pairs, and their placement (spec §7): the same results as
 *                           src/encode.ts and src/table.ts compute in JS, several times faster.
 *  parseLines(...)          the text parser of src/parse.ts, the same grammar, over bytes.
 */
#include <node_api.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>

static napi_value Flock(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1, op = 0;
  bool wait = false;
  napi_get_value_int32(env, argv[0], &fd);
  napi_get_value_int32(env, argv[1], &op);
  napi_get_value_bool(env, argv[2], &wait);
  int how = op == 0 ? LOCK_UN : (op == 1 ? LOCK_SH : LOCK_EX);
  if (!wait && op != 0) how |= LOCK_NB;
  int rc;
  do { rc = flock(fd, how); } while (rc != 0 && errno == EINTR);
  napi_value result;
  napi_create_int32(env, rc == 0 ? 0 : errno, &result);
  return result;
}

/* native/unaccounted.cc: an ArrayBuffer over the mapping that V8 does not count as memory. */
napi_status idx_mapping_arraybuffer(napi_env env, void *data, size_t length, napi_finalize unmap, void *hint,
                                    napi_value *result);
int idx_mappings_uncounted(void);

/* Unmaps when the ArrayBuffer is collected; it only calls munmap, whichever thread runs it. */
static void unmap_finalizer(napi_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char code[32];
  snprintf(code, sizeof code, "errno %d", err);
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_throw_error(env, code, message);
  return NULL;
}

/*
 * map(fd, length, writable, sequential) -> ArrayBuffer over mmap(fd, 0..length), MAP_SHARED,
 * unmapped when V8 frees the buffer. The length is a double, so any size a file can have
 * arrives intact (the mmap-io binding read it as an int32 and wrapped).
 */
static napi_value Map(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  double lengthD = 0;
  bool writable = false, sequential = false;
  napi_get_value_int32(env, argv[0], &fd);
  napi_get_value_double(env, argv[1], &lengthD);
  napi_get_value_bool(env, argv[2], &writable);
  napi_get_value_bool(env, argv[3], &sequential);
  if (!(lengthD >= 1) || lengthD > 9007199254740991.0 || lengthD != (double)(size_t)lengthD) {
    napi_throw_range_error(env, NULL, "map: length must be a whole number of bytes, at least 1");
    return NULL;
  }
  size_t length = (size_t)lengthD;
  void *addr = mmap(NULL, length, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) return throw_errno(env, "mmap", errno);
  madvise(addr, length, sequential ? MADV_SEQUENTIAL : MADV_RANDOM);
  /* A lookup touches one page. Where the page cache holds the file in 2 MB folios, the kernel
   * maps the whole folio on the first touch (with huge pages allowed), so one answer made 4 MB
   * of a 9 MB index resident in the reader; the lookups measured no faster for it. */
  if (!sequential) madvise(addr, length, MADV_NOHUGEPAGE);
  napi_value buffer;
  if (idx_mapping_arraybuffer(env, addr, length, unmap_finalizer, (void *)(uintptr_t)length, &buffer) != napi_ok) {
    munmap(addr, length);
    napi_throw_error(env, NULL, "map: cannot wrap the mapping in an ArrayBuffer");
    return NULL;
  }
  return buffer;
}

/* adjustExternalMemory(bytes): tells V8 that much more (or, negative, less) memory is held
 * outside its heap; src/mmap.ts counts a mapping it no longer uses until it is collected. */
static napi_value AdjustExternalMemory(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t change = 0, total = 0;
  if (argc < 1 || napi_get_value_int64(env, argv[0], &change) != napi_ok) {
    napi_throw_type_error(env, NULL, "adjustExternalMemory: expects a number of bytes");
    return NULL;
  }
  napi_adjust_external_memory(env, change, &total);
  return NULL;
}

/* sync(arrayBuffer): msync(MS_SYNC) of the whole mapping: on disk when it returns. */
static napi_value Sync(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data = NULL;
  size_t length = 0;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "sync: expects the ArrayBuffer of a mapping");
    return NULL;
  }
  if (length > 0 && msync(data, length, MS_SYNC) != 0) return throw_errno(env, "msync", errno);
  return NULL;
}

/*
 * The data of a typed array argument, and its length in elements; NULL if it is not one. An
 * empty array has no data: it gets a pointer to a dummy word, never read (its length is 0).
 */
static uint32_t no_data;
static void *typed(napi_env env, napi_value v, size_t *length) {
  bool is = false;
  *length = 0;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return NULL;
  napi_typedarray_type type;
  void *data = NULL;
  napi_get_typedarray_info(env, v, &type, length, &data, NULL, NULL);
  return data != NULL ? data : (void *)&no_data;
}

#define EMPTY_HASH 0xffffffffu
#define STATE_ESCAPED (1u << 28)
#define W_STATE 8
#define W_ESCAPED 10
#define W_SEQ 12
#define CHUNK 64

static inline uint32_t hash32(uint32_t x) {
  x ^= x >> 16; x *= 0x85ebca6bu; x ^= x >> 13; x *= 0xc2b2ae35u; x ^= x >> 16;
  return x;
}

/*
 * getMany(header u32[16], slots u32[], capacity, keys u32[], values u32[], found u8[]|null,
 *         missing, from, to, result f64[2]) -> undefined
 * Answers keys[from..to) a chunk of 64 at a time, each chunk between two reads of the seq word.
 * Stops before the first chunk that a write overlapped (seq odd, or changed): result[0] = hits,
 * result[1] = the index it stopped at (to when done). The caller answers that chunk the slow way.
 */
static napi_value GetMany(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 10) { napi_throw_type_error(env, NULL, "getMany: 10 arguments"); return NULL; }
  size_t headerLen = 0, slotsLen = 0, keysLen = 0, valuesLen = 0, foundLen = 0, resultLen = 0;
  const uint32_t *header = typed(env, argv[0], &headerLen);
  const uint32_t *slots = typed(env, argv[1], &slotsLen);
  uint32_t capacity = 0, missing = 0, from = 0, to = 0;
  napi_get_value_uint32(env, argv[2], &capacity);
  const uint32_t *keys = typed(env, argv[3], &keysLen);
  uint32_t *values = typed(env, argv[4], &valuesLen);
  uint8_t *found = typed(env, argv[5], &foundLen);
  napi_get_value_uint32(env, argv[6], &missing);
  napi_get_value_uint32(env, argv[7], &from);
  napi_get_value_uint32(env, argv[8], &to);
  double *result = typed(env, argv[9], &resultLen);
  if (!header || headerLen < 16 || !slots || !keys || !values || !result || resultLen < 2 ||
      to > keysLen || to > valuesLen || (found && to > foundLen) || from > to || capacity == 0 ||
      (uint64_t)capacity * 2 > slotsLen) {
    napi_throw_range_error(env, NULL, "getMany: bad arguments");
    return NULL;
  }
  const volatile uint32_t *seqWord = header + W_SEQ;
  uint64_t hits = 0;
  uint32_t base = from;
  uint32_t homes[CHUNK];
  for (; base < to; base += CHUNK) {
    uint32_t end = to - base < CHUNK ? to : base + CHUNK;
    uint32_t seq = __atomic_load_n(seqWord, __ATOMIC_ACQUIRE);
    if (seq & 1) break;
    for (uint32_t k = base; k < end; k++) {
      uint32_t h = hash32(keys[k]);
      uint32_t home = (uint32_t)(((uint64_t)h * capacity) >> 32) * 2;
      homes[k - base] = home;
      __builtin_prefetch(slots + home);
    }
    uint64_t chunkHits = 0;
    for (uint32_t k = base; k < end; k++) {
      uint32_t h = hash32(keys[k]);
      uint32_t value = missing, hit = 0;
      if (h == EMPTY_HASH) {
        if (header[W_STATE] & STATE_ESCAPED) { value = header[W_ESCAPED]; hit = 1; }
      } else {
        size_t i = homes[k - base];
        /* The last slot is EMPTY (checked at open), so the scan stops; the bound is for a file
           damaged after open. */
        while (i < slotsLen && slots[i] < h) i += 2;
        if (i < slotsLen && slots[i] == h) { value = slots[i + 1]; hit = 1; }
      }
      values[k] = value;
      if (found) found[k] = (uint8_t)hit;
      chunkHits += hit;
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (*seqWord != seq) break;
    hits += chunkHits;
  }
  result[0] = (double)hits;
  result[1] = (double)(base < to ? base : to);
  return NULL;
}

/*
 * hashSort(keys u32[], values u32[], n, result f64[3]) -> undefined
 * encodeIndex's first step (src/encode.ts): replaces keys[0..n) with their hashes, sorted, one
 * per distinct key with the value of its last pair, and values to match. The escaped key (hash
 * EMPTY_HASH) is left out. result = [distinct hashes, escaped key present (0/1), its value].
 * The pairs are sorted packed as (hash << 32 | value), one array, as the C floor does: half
 * the scattered writes of sorting two arrays.
 */
static napi_value HashSort(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  size_t kl = 0, vl = 0, rl = 0;
  uint32_t *keys = typed(env, argv[0], &kl), *values = typed(env, argv[1], &vl);
  uint32_t n = 0;
  napi_get_value_uint32(env, argv[2], &n);
  double *result = typed(env, argv[3], &rl);
  if (!keys || !values || !result || rl < 3 || n > kl || n > vl) {
    napi_throw_range_error(env, NULL, "hashSort: bad arguments");
    return NULL;
  }
  enum { BITS = 11, RADIX = 1 << BITS, MASK = RADIX - 1 };
  uint64_t *a = malloc((size_t)(n ? n : 1) * 8), *t = malloc((size_t)(n ? n : 1) * 8);
  if (!a || !t) { free(a); free(t); napi_throw_error(env, NULL, "hashSort: out of memory"); return NULL; }
  uint32_t counts[3][RADIX]; /* 24 KiB of stack, not static: worker threads may sort at once */
  memset(counts, 0, sizeof counts);
  uint32_t m = 0, escaped = 0, escapedValue = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t h = hash32(keys[i]);
    if (h == EMPTY_HASH) { escaped = 1; escapedValue = values[i]; continue; }
    a[m++] = (uint64_t)h << 32 | values[i];
    counts[0][h & MASK]++; counts[1][(h >> BITS) & MASK]++; counts[2][h >> (2 * BITS)]++;
  }
  for (int p = 0; p < 3; p++) {
    uint32_t sum = 0;
    for (int d = 0; d < RADIX; d++) { uint32_t c = counts[p][d]; counts[p][d] = sum; sum += c; }
  }
  uint64_t *src = a, *dst = t;
  for (int p = 0; p < 3; p++) {
    int shift = 32 + p * BITS;
    uint32_t *c = counts[p];
    for (uint32_t i = 0; i < m; i++) { uint64_t x = src[i]; dst[c[(x >> shift) & MASK]++] = x; }
    uint64_t *tmp = src; src = dst; dst = tmp;
  }
  /* Stable, so the last of a run of equal hashes is the key's last pair. */
  uint32_t unique = 0;
  for (uint32_t i = 0; i < m; i++) {
    if (i + 1 < m && (src[i + 1] >> 32) == (src[i] >> 32)) continue;
    keys[unique] = (uint32_t)(src[i] >> 32);
    values[unique] = (uint32_t)src[i];
    unique++;
  }
  free(a); free(t);
  result[0] = unique;
  result[1] = escaped;
  result[2] = escapedValue;
  return NULL;
}

/*
 * placeSorted(slots u32[], hashes u32[], values u32[], n, capacity) -> end
 * With end = 0: returns the slot after the last entry (the layout's end), writing nothing.
 * Otherwise writes the entries (sorted, unique hashes) and fills every other slot of `slots`
 * with EMPTY (hash 0xFFFFFFFF, value 0); returns the same end.
 */
static napi_value PlaceSorted(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  size_t sl = 0, hl = 0, vl = 0;
  uint32_t *slots = typed(env, argv[0], &sl);
  const uint32_t *h = typed(env, argv[1], &hl), *v = typed(env, argv[2], &vl);
  uint32_t n = 0, capacity = 0;
  bool write = false;
  napi_get_value_uint32(env, argv[3], &n);
  napi_get_value_uint32(env, argv[4], &capacity);
  napi_get_value_bool(env, argv[5], &write);
  if (!h || !v || n > hl || n > vl || (write && !slots)) { napi_throw_range_error(env, NULL, "placeSorted: bad arguments"); return NULL; }
  uint64_t next = 0;
  size_t total = slots ? sl / 2 : 0;
  for (uint32_t j = 0; j < n; j++) {
    uint64_t home = ((uint64_t)h[j] * capacity) >> 32;
    uint64_t pos = home > next ? home : next;
    if (write) {
      if (pos >= total) { napi_throw_range_error(env, NULL, "placeSorted: slots too short"); return NULL; }
      for (; next < pos; next++) { slots[2 * next] = EMPTY_HASH; slots[2 * next + 1] = 0; }
      slots[2 * pos] = h[j]; slots[2 * pos + 1] = v[j];
    }
    next = pos + 1;
  }
  uint64_t end = next;
  if (write) for (; next < total; next++) { slots[2 * next] = EMPTY_HASH; slots[2 * next + 1] = 0; }
  napi_value result;
  napi_create_double(env, (double)end, &result);
  return result;
}

/*
 * parseLines(buf u8[], start, end, keys u32[], values u32[], count, result f64[4]) -> undefined
 * Parses the whole lines in buf[start..end) (the last one ends in LF) by the grammar of
 * src/parse.ts, appending pairs at keys/values[count..]. result = [count after, lines consumed,
 * status, offset]: status 0 = all parsed; 1 = the line starting at offset is bad (not
 * consumed); 2 = the columns are full, resume at offset after growing them.
 */
static napi_value ParseLines(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  size_t bl = 0, kl = 0, vl = 0, rl = 0;
  const uint8_t *buf = typed(env, argv[0], &bl);
  uint32_t start = 0, end = 0, count = 0;
  napi_get_value_uint32(env, argv[1], &start);
  napi_get_value_uint32(env, argv[2], &end);
  uint32_t *keys = typed(env, argv[3], &kl), *values = typed(env, argv[4], &vl);
  napi_get_value_uint32(env, argv[5], &count);
  double *result = typed(env, argv[6], &rl);
  if (!buf || !keys || !values || !result || rl < 4 || end > bl || start > end || count > kl || kl != vl ||
      (end > start && buf[end - 1] != '\n')) {
    napi_throw_range_error(env, NULL, "parseLines: bad arguments");
    return NULL;
  }
  size_t capacity = kl;
  uint32_t i = start, lines = 0, status = 0, offset = end;
  while (i < end) {
    uint32_t lineStart = i;
    uint8_t c = buf[i];
    while (c == ' ' || c == '\t') c = buf[++i];
    if (c == '\n' || (c == '\r' && buf[i + 1] == '\n') || c == '#') {
      while (buf[i] != '\n') i++;
      i++;
      lines++;
      continue;
    }
    uint64_t key = 0, value = 0;
    uint32_t keyStart = i;
    while (c >= '0' && c <= '9') { if (key <= 0xffffffffu) key = key * 10 + (c - '0'); c = buf[++i]; }
    uint32_t keyDigits = i - keyStart;
    int separated = 0;
    while (c == ' ' || c == '\t') { c = buf[++i]; separated = 1; }
    if (c == ',') {
      c = buf[++i];
      separated = 1;
      while (c == ' ' || c == '\t') c = buf[++i];
    }
    uint32_t valueStart = i;
    while (c >= '0' && c <= '9') { if (value <= 0xffffffffu) value = value * 10 + (c - '0'); c = buf[++i]; }
    uint32_t valueDigits = i - valueStart;
    while (c == ' ' || c == '\t') c = buf[++i];
    if (c == '\r') c = buf[++i];
    if (c != '\n' || keyDigits == 0 || valueDigits == 0 || !separated || key > 0xffffffffu || value > 0xffffffffu) {
      status = 1; offset = lineStart; break;
    }
    if (count == capacity) { status = 2; offset = lineStart; break; }
    keys[count] = (uint32_t)key;
    values[count] = (uint32_t)value;
    count++;
    lines++;
    i++;
  }
  result[0] = count; result[1] = lines; result[2] = status; result[3] = offset;
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "flock", NAPI_AUTO_LENGTH, Flock, NULL, &fn);
  napi_set_named_property(env, exports, "flock", fn);
  napi_create_function(env, "getMany", NAPI_AUTO_LENGTH, GetMany, NULL, &fn);
  napi_set_named_property(env, exports, "getMany", fn);
  napi_create_function(env, "hashSort", NAPI_AUTO_LENGTH, HashSort, NULL, &fn);
  napi_set_named_property(env, exports, "hashSort", fn);
  napi_create_function(env, "placeSorted", NAPI_AUTO_LENGTH, PlaceSorted, NULL, &fn);
  napi_set_named_property(env, exports, "placeSorted", fn);
  napi_create_function(env, "parseLines", NAPI_AUTO_LENGTH, ParseLines, NULL, &fn);
  napi_set_named_property(env, exports, "parseLines", fn);
  napi_create_function(env, "map", NAPI_AUTO_LENGTH, Map, NULL, &fn);
  napi_set_named_property(env, exports, "map", fn);
  napi_create_function(env, "sync", NAPI_AUTO_LENGTH, Sync, NULL, &fn);
  napi_set_named_property(env, exports, "sync", fn);
  napi_create_function(env, "adjustExternalMemory", NAPI_AUTO_LENGTH, AdjustExternalMemory, NULL, &fn);
  napi_set_named_property(env, exports, "adjustExternalMemory", fn);
  napi_value uncounted;
  napi_get_boolean(env, idx_mappings_uncounted() != 0, &uncounted);
  napi_set_named_property(env, exports, "mappingsUncounted", uncounted);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
