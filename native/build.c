/*
 * The builder's loops (src/core/encode.ts, src/core/parse.ts have the JS twins; the tests run
 * both and compare): hashing, a stable radix sort and deduplication of the pairs; their
 * placement (spec §7); and the text parser.
 */
#include <stdlib.h>
#include <string.h>

#include "idx.h"
#include "sort.h"


/* Counts the digits of a packed (hash << 32 | value) pair for sort_unique's three passes. */
static inline void count_digits(uint32_t counts[3][RADIX], uint32_t h) {
  counts[0][h & MASK]++;
  counts[1][(h >> BITS) & MASK]++;
  counts[2][h >> (2 * BITS)]++;
}

/*
 * Sorts the packed pairs a[0..n) by hash, stably (LSD radix over the hash's 32 bits, with t as
 * scratch and the digits counted by count_digits), and writes one pair per hash, the last of
 * its run (the key's last pair), to hashes and values. Returns how many. Frees a and t.
 */
static uint32_t sort_unique(uint64_t *a, uint64_t *t, uint32_t n, uint32_t counts[3][RADIX], uint32_t *hashes, uint32_t *values) {
  for (int p = 0; p < 3; p++) {
    uint32_t sum = 0;
    for (int d = 0; d < RADIX; d++) {
      uint32_t c = counts[p][d];
      counts[p][d] = sum;
      sum += c;
    }
  }
  uint64_t *src = a, *dst = t;
  for (int p = 0; p < 3; p++) {
    int shift = 32 + p * BITS;
    uint32_t *c = counts[p];
    for (uint32_t i = 0; i < n; i++) {
      uint64_t x = src[i];
      dst[c[(x >> shift) & MASK]++] = x;
    }
    uint64_t *tmp = src;
    src = dst;
    dst = tmp;
  }
  uint32_t m = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (i + 1 < n && (src[i + 1] >> 32) == (src[i] >> 32)) continue;
    hashes[m] = (uint32_t)(src[i] >> 32);
    values[m] = (uint32_t)src[i];
    m++;
  }
  big_free(a);
  big_free(t);
  return m;
}

/*
 * hashSort(keys u32[], values u32[], n, result f64[3]) -> undefined
 * Replaces keys[0..n) with their hashes, sorted, one per distinct key with the value of its last
 * pair, and values to match. The escaped key (hash EMPTY) is left out. result = [distinct
 * hashes, escaped key present (0/1), its value]. The pairs are sorted packed as
 * (hash << 32 | value), one array, as the C floor does: half the scattered writes of two arrays.
 */
static napi_value HashSort(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t *keys, *values, n;
  double *result;
  size_t kl, vl, rl;
  if (!idx_arg_own(env, argv[0], "hashSort", "keys", napi_uint32_array, 0, (void **)&keys, &kl) ||
      !idx_arg_own(env, argv[1], "hashSort", "values", napi_uint32_array, 0, (void **)&values, &vl) ||
      !idx_arg_u32(env, argv[2], "hashSort", "n", &n) ||
      !idx_arg_own(env, argv[3], "hashSort", "result", napi_float64_array, 0, (void **)&result, &rl))
    return NULL;
  if (n > kl || n > vl || rl < 3) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "hashSort: n is past the arrays, or result too short");
  uint64_t *a = big_alloc((size_t)(n ? n : 1) * 8), *t = big_alloc((size_t)(n ? n : 1) * 8);
  if (!a || !t) {
    big_free(a);
    big_free(t);
    return idx_throw(env, "ENOMEM", "hashSort: out of memory for %u pairs", n);
  }
  uint32_t counts[3][RADIX]; /* 24 KiB of stack, not static: worker threads may sort at once */
  memset(counts, 0, sizeof counts);
  uint32_t m = 0, escaped = 0, escapedValue = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t h = idx_hash32(keys[i]);
    if (h == IDX_EMPTY_HASH) {
      escaped = 1;
      escapedValue = values[i];
      continue;
    }
    a[m++] = (uint64_t)h << 32 | values[i];
    count_digits(counts, h);
  }
  uint32_t unique = sort_unique(a, t, m, counts, keys, values);
  result[0] = unique;
  result[1] = escaped;
  result[2] = escapedValue;
  return idx_undefined(env);
}

/*
 * placeSorted(slots u32[]|null, hashes u32[], values u32[], n, capacity, result f64[2])
 * Places hashes[0..n) (sorted, distinct) at `capacity`: each at max(home, previous + 1). With
 * slots null, only measures; else writes them and fills every other slot of `slots` with EMPTY.
 * result = [the slot after the last entry, the largest slot - home].
 */
static napi_value PlaceSorted(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t *slots, *h, *v, n;
  double capD, *result;
  size_t sl, hl, vl, rl;
  if (!idx_arg_own(env, argv[0], "placeSorted", "slots", napi_uint32_array, 1, (void **)&slots, &sl) ||
      !idx_arg_own(env, argv[1], "placeSorted", "hashes", napi_uint32_array, 0, (void **)&h, &hl) ||
      !idx_arg_own(env, argv[2], "placeSorted", "values", napi_uint32_array, 0, (void **)&v, &vl) ||
      !idx_arg_u32(env, argv[3], "placeSorted", "n", &n) ||
      !idx_arg_whole(env, argv[4], "placeSorted", "capacity", 1, IDX_MAX_SLOTS_V2, &capD) ||
      !idx_arg_own(env, argv[5], "placeSorted", "result", napi_float64_array, 0, (void **)&result, &rl))
    return NULL;
  if (n > hl || n > vl || rl < 2) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "placeSorted: n is past the arrays, or result too short");
  uint64_t capacity = (uint64_t)capD, next = 0, reach = 0;
  size_t total = slots ? sl / 2 : 0;
  for (uint32_t j = 0; j < n; j++) {
    uint64_t home = idx_home(h[j], capacity);
    uint64_t pos = home > next ? home : next;
    if (slots) {
      if (pos >= total) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "placeSorted: the slots are too short for the entries");
      for (; next < pos; next++) {
        slots[2 * next] = IDX_EMPTY_HASH;
        slots[2 * next + 1] = 0;
      }
      slots[2 * pos] = h[j];
      slots[2 * pos + 1] = v[j];
    }
    if (pos - home > reach) reach = pos - home;
    next = pos + 1;
  }
  result[0] = (double)next;
  result[1] = (double)reach;
  if (slots)
    for (; next < total; next++) {
      slots[2 * next] = IDX_EMPTY_HASH;
      slots[2 * next + 1] = 0;
    }
  return idx_undefined(env);
}

/*
 * parseLines(buf u8[], start, end, keys u32[], values u32[], count, result f64[4]) -> undefined
 * Parses the whole lines in buf[start..end) (the last one ends in LF) by the grammar of
 * src/core/parse.ts, appending pairs at keys/values[count..]. result = [count after, lines
 * consumed, status, offset]: status 0 = all parsed; 1 = the line starting at offset is bad (not
 * consumed); 2 = the columns are full, resume at offset after growing them.
 */
static napi_value ParseLines(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *buf;
  uint32_t start, end, count, *keys, *values;
  double *result;
  size_t bl, kl, vl, rl;
  if (!idx_arg_own(env, argv[0], "parseLines", "buf", napi_uint8_array, 0, (void **)&buf, &bl) ||
      !idx_arg_u32(env, argv[1], "parseLines", "start", &start) || !idx_arg_u32(env, argv[2], "parseLines", "end", &end) ||
      !idx_arg_own(env, argv[3], "parseLines", "keys", napi_uint32_array, 0, (void **)&keys, &kl) ||
      !idx_arg_own(env, argv[4], "parseLines", "values", napi_uint32_array, 0, (void **)&values, &vl) ||
      !idx_arg_u32(env, argv[5], "parseLines", "count", &count) ||
      !idx_arg_own(env, argv[6], "parseLines", "result", napi_float64_array, 0, (void **)&result, &rl))
    return NULL;
  if (end > bl || start > end || count > kl || kl != vl || rl < 4 || (end > start && buf[end - 1] != '\n'))
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "parseLines: bad range, columns or result");
  size_t capacity = kl;
  uint32_t i = start, lines = 0, status = 0, offset = end;
  /* Every scan below stops at the LF that ends buf[start..end), checked above. */
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
    while (c >= '0' && c <= '9') {
      if (key <= 0xffffffffu) key = key * 10 + (c - '0');
      c = buf[++i];
    }
    uint32_t keyDigits = i - keyStart;
    int separated = 0;
    while (c == ' ' || c == '\t') {
      c = buf[++i];
      separated = 1;
    }
    if (c == ',') {
      c = buf[++i];
      separated = 1;
      while (c == ' ' || c == '\t') c = buf[++i];
    }
    uint32_t valueStart = i;
    while (c >= '0' && c <= '9') {
      if (value <= 0xffffffffu) value = value * 10 + (c - '0');
      c = buf[++i];
    }
    uint32_t valueDigits = i - valueStart;
    while (c == ' ' || c == '\t') c = buf[++i];
    if (c == '\r') c = buf[++i];
    if (c != '\n' || keyDigits == 0 || valueDigits == 0 || !separated || key > 0xffffffffu || value > 0xffffffffu) {
      status = 1;
      offset = lineStart;
      break;
    }
    if (count == capacity) {
      status = 2;
      offset = lineStart;
      break;
    }
    keys[count] = (uint32_t)key;
    values[count] = (uint32_t)value;
    count++;
    lines++;
    i++;
  }
  result[0] = count;
  result[1] = lines;
  result[2] = status;
  result[3] = offset;
  return idx_undefined(env);
}


/*
 * scatterPairs(keys u32[], values u32[], n, out u32[2n], counts u32[256], result f64[2])
 *   The builder's spill step (src/build.ts): hashes keys[0..n), and writes the pairs as
 *   (hash, value) into `out`, grouped by the hash's top byte in that order, keeping input order
 *   within a group (so the last of a key's pairs is still last); counts[p] = pairs of group p.
 *   The escaped key (hash EMPTY) is left out: result = [present (0/1), its last value].
 * scatterHashed(pairs u32[2n], n, shift, out u32[2n], counts u32[256])
 *   The same grouping of (hash, value) pairs already hashed, by bits shift..shift+7 of the hash.
 */
static void scatter(const uint32_t *h, const uint32_t *v, const uint32_t *pairs, uint32_t n, int shift, uint32_t *out,
                    uint32_t *counts, double *result) {
  uint32_t starts[256];
  memset(counts, 0, 256 * sizeof *counts);
  uint32_t escaped = 0, escapedValue = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t hash = pairs ? pairs[2 * i] : idx_hash32(h[i]);
    if (!pairs && hash == IDX_EMPTY_HASH) continue;
    counts[(hash >> shift) & 0xff]++;
  }
  uint32_t sum = 0;
  for (int p = 0; p < 256; p++) {
    starts[p] = sum;
    sum += counts[p];
  }
  for (uint32_t i = 0; i < n; i++) {
    uint32_t hash, value;
    if (pairs) {
      hash = pairs[2 * i];
      value = pairs[2 * i + 1];
    } else {
      hash = idx_hash32(h[i]);
      value = v[i];
      if (hash == IDX_EMPTY_HASH) {
        escaped = 1;
        escapedValue = value;
        continue;
      }
    }
    uint32_t at = starts[(hash >> shift) & 0xff]++;
    out[2 * at] = hash;
    out[2 * at + 1] = value;
  }
  if (result) {
    result[0] = escaped;
    result[1] = escapedValue;
  }
}

static napi_value ScatterPairs(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t *keys, *values, n, *out, *counts;
  double *result;
  size_t kl, vl, ol, cl, rl;
  if (!idx_arg_own(env, argv[0], "scatterPairs", "keys", napi_uint32_array, 0, (void **)&keys, &kl) ||
      !idx_arg_own(env, argv[1], "scatterPairs", "values", napi_uint32_array, 0, (void **)&values, &vl) ||
      !idx_arg_u32(env, argv[2], "scatterPairs", "n", &n) ||
      !idx_arg_own(env, argv[3], "scatterPairs", "out", napi_uint32_array, 0, (void **)&out, &ol) ||
      !idx_arg_own(env, argv[4], "scatterPairs", "counts", napi_uint32_array, 0, (void **)&counts, &cl) ||
      !idx_arg_own(env, argv[5], "scatterPairs", "result", napi_float64_array, 0, (void **)&result, &rl))
    return NULL;
  if (n > kl || n > vl || (size_t)n * 2 > ol || cl < 256 || rl < 2)
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "scatterPairs: n is past the arrays, or out, counts or result too short");
  scatter(keys, values, NULL, n, 24, out, counts, result);
  return idx_undefined(env);
}

static napi_value ScatterHashed(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t *pairs, n, shift, *out, *counts;
  size_t pl, ol, cl;
  if (!idx_arg_own(env, argv[0], "scatterHashed", "pairs", napi_uint32_array, 0, (void **)&pairs, &pl) ||
      !idx_arg_u32(env, argv[1], "scatterHashed", "n", &n) || !idx_arg_u32(env, argv[2], "scatterHashed", "shift", &shift) ||
      !idx_arg_own(env, argv[3], "scatterHashed", "out", napi_uint32_array, 0, (void **)&out, &ol) ||
      !idx_arg_own(env, argv[4], "scatterHashed", "counts", napi_uint32_array, 0, (void **)&counts, &cl))
    return NULL;
  if ((size_t)n * 2 > pl || (size_t)n * 2 > ol || cl < 256 || shift > 24 || out == pairs)
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "scatterHashed: n is past the arrays, shift above 24, or counts too short");
  scatter(NULL, NULL, pairs, n, (int)shift, out, counts, NULL);
  return idx_undefined(env);
}

/*
 * sortHashed(pairs u32[2n], n, hashes u32[], values u32[], result f64[1]) -> undefined
 * (hash, value) pairs in input order -> hashes[0..m), values[0..m): sorted by hash, one per
 * hash, with the value of its last pair (a stable sort keeps input order among equals).
 * result[0] = m.
 */
static napi_value SortHashed(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t *pairs, n, *hashes, *values;
  double *result;
  size_t pl, hl, vl, rl;
  if (!idx_arg_own(env, argv[0], "sortHashed", "pairs", napi_uint32_array, 0, (void **)&pairs, &pl) ||
      !idx_arg_u32(env, argv[1], "sortHashed", "n", &n) ||
      !idx_arg_own(env, argv[2], "sortHashed", "hashes", napi_uint32_array, 0, (void **)&hashes, &hl) ||
      !idx_arg_own(env, argv[3], "sortHashed", "values", napi_uint32_array, 0, (void **)&values, &vl) ||
      !idx_arg_own(env, argv[4], "sortHashed", "result", napi_float64_array, 0, (void **)&result, &rl))
    return NULL;
  if ((size_t)n * 2 > pl || n > hl || n > vl || rl < 1)
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "sortHashed: n is past the arrays, or result too short");
  uint64_t *a = big_alloc((size_t)(n ? n : 1) * 8), *t = big_alloc((size_t)(n ? n : 1) * 8);
  if (!a || !t) {
    big_free(a);
    big_free(t);
    return idx_throw(env, "ENOMEM", "sortHashed: out of memory for %u pairs", n);
  }
  uint32_t counts[3][RADIX];
  memset(counts, 0, sizeof counts);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t h = pairs[2 * i];
    a[i] = (uint64_t)h << 32 | pairs[2 * i + 1];
    count_digits(counts, h);
  }
  uint32_t m = sort_unique(a, t, n, counts, hashes, values);
  result[0] = m;
  return idx_undefined(env);
}

/* ---- version 3 (spec §16): records of four words (hash low, hash high, value low, value high) ---- */



/* The four columns a version 3 record loop takes, from argv[0..3]: keys' and values' low words,
   and their high words or null. */
typedef struct {
  uint32_t *kl, *kh, *vl, *vh;
  size_t kll, khl, vll, vhl;
} columns_arg;

static int get_columns(napi_env env, napi_value *argv, const char *fn, columns_arg *c) {
  return idx_arg_own(env, argv[0], fn, "keysLow", napi_uint32_array, 0, (void **)&c->kl, &c->kll) &&
         idx_arg_own(env, argv[1], fn, "keysHigh", napi_uint32_array, 1, (void **)&c->kh, &c->khl) &&
         idx_arg_own(env, argv[2], fn, "valuesLow", napi_uint32_array, 0, (void **)&c->vl, &c->vll) &&
         idx_arg_own(env, argv[3], fn, "valuesHigh", napi_uint32_array, 1, (void **)&c->vh, &c->vhl);
}

/* A record loop's result: records, 1 when the escaped key was seen, its last value's low and high words. */
static void put_result(double *result, double records, uint32_t escaped, uint32_t low, uint32_t high) {
  result[0] = records;
  result[1] = escaped;
  result[2] = low;
  result[3] = high;
}

/*
 * hashRecords(keysLow u32[], keysHigh u32[]|null, valuesLow u32[], valuesHigh u32[]|null, from, n,
 *             keyBits, out u32[], result f64[4])
 * Pairs from..from+n of the columns as records in out (4n words at least): the key's hash at
 * keyBits (hash32, high word 0; or hash64), then the value's words (high 0 when valuesHigh is
 * null). A key wider than 32-bit keys is refused (the caller chose keyBits to hold every key).
 * The escaped key's pairs are left out: result = [records written, 1 when the escaped key was
 * seen, its last value's low word, its high word].
 */
static napi_value HashRecords(napi_env env, napi_callback_info info) {
  static const char *fn = "hashRecords";
  size_t argc = 9;
  napi_value argv[9] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  columns_arg c;
  uint32_t *out, from, n, keyBits;
  double *result;
  size_t ol, rl;
  if (!get_columns(env, argv, fn, &c) || !idx_arg_u32(env, argv[4], fn, "from", &from) || !idx_arg_u32(env, argv[5], fn, "n", &n) ||
      !idx_arg_u32(env, argv[6], fn, "keyBits", &keyBits) ||
      !idx_arg_own(env, argv[7], fn, "out", napi_uint32_array, 0, (void **)&out, &ol) ||
      !idx_arg_own(env, argv[8], fn, "result", napi_float64_array, 0, (void **)&result, &rl))
    return NULL;
  uint64_t end = (uint64_t)from + n;
  uint32_t *kl = c.kl, *kh = c.kh, *vl = c.vl, *vh = c.vh;
  if ((keyBits != 32 && keyBits != 64) || end > c.kll || end > c.vll || (kh != NULL && end > c.khl) || (vh != NULL && end > c.vhl) ||
      (uint64_t)n * 4 > ol || rl < 4)
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: keyBits must be 32 or 64, from + n within the columns, out 4n words, result 4", fn);
  uint32_t m = 0, escaped = 0, escLow = 0, escHigh = 0;
  const uint64_t empty = keyBits == 64 ? IDX_EMPTY_HASH64 : IDX_EMPTY_HASH;
  for (uint64_t i = from; i < end; i++) {
    uint32_t high = kh != NULL ? kh[i] : 0;
    if (keyBits == 32 && high != 0) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: key %llu is wider than 32 bits", fn, (unsigned long long)i);
    uint64_t h = keyBits == 64 ? idx_hash64((uint64_t)high << 32 | kl[i]) : idx_hash32(kl[i]);
    uint32_t vhigh = vh != NULL ? vh[i] : 0;
    if (h == empty) {
      escaped = 1;
      escLow = vl[i];
      escHigh = vhigh;
      continue;
    }
    uint32_t *r = out + 4 * (size_t)m++;
    r[0] = (uint32_t)h;
    r[1] = (uint32_t)(h >> 32);
    r[2] = vl[i];
    r[3] = vhigh;
  }
  put_result(result, m, escaped, escLow, escHigh);
  return idx_undefined(env);
}

/* Marks the ArrayBuffers words() makes: discard() and hashSortRecords's release take no other. */
static const napi_type_tag WORDS_TAG = {0x6964786d61707764ULL, 0x776f7264735f7633ULL};

uint32_t *idx_words_of(napi_env env, napi_value v, size_t *length) {
  bool typed = false, ours = false;
  napi_typedarray_type type;
  size_t offset;
  void *data;
  napi_value ab;
  if (v != NULL) napi_is_typedarray(env, v, &typed);
  if (typed && napi_get_typedarray_info(env, v, &type, length, &data, &ab, &offset) == napi_ok && type == napi_uint32_array && offset == 0)
    napi_check_object_type_tag(env, ab, &WORDS_TAG, &ours);
  return ours ? data : NULL;
}

/* Words from..to of a words() array back to the kernel (the whole pages among them): they read as zeros after. */
static void release_words(uint32_t *w, size_t from, size_t to) {
  uintptr_t a = ((uintptr_t)(w + from) + 4095) & ~(uintptr_t)4095, b = (uintptr_t)(w + to) & ~(uintptr_t)4095;
  if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

enum { HASH_BLOCK = 256, RELEASE_WORDS = 1 << 19 /* 2 MiB a column */ };

/*
 * The hashes of keys 0..m (high words from kh, or 0 when it is null) at keyBits: loops with
 * nothing else in them, which the compiler vectorizes (at -O3 on x86-64's baseline SSE2, 10 M
 * 64-bit keys hashed in 52 ms where the loop that also counted took 83; with AVX2, 20 ms).
 */
static inline __attribute__((always_inline)) void hash_keys(const uint32_t *kl, const uint32_t *kh, uint32_t keyBits, uint64_t *h, uint32_t m) {
  if (keyBits == 32) {
    for (uint32_t i = 0; i < m; i++) h[i] = idx_hash32(kl[i]);
  } else if (kh == NULL) {
    for (uint32_t i = 0; i < m; i++) h[i] = idx_hash64(kl[i]);
  } else {
    for (uint32_t i = 0; i < m; i++) h[i] = idx_hash64((uint64_t)kh[i] << 32 | kl[i]);
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>

/* The same loops for x86-64 CPUs with AVX2 (chosen at run time: the binary targets baseline x86-64). */
__attribute__((target("avx2"))) static void hash_keys_avx2(const uint32_t *kl, const uint32_t *kh, uint32_t keyBits, uint64_t *h, uint32_t m) {
  hash_keys(kl, kh, keyBits, h, m);
}

/* AVX2, and an OS that saves the YMM registers. By CPUID itself: zig's compiler-rt cannot give
   __builtin_cpu_supports's __cpu_model to a shared object. */
static int cpu_has_avx2(void) {
  static int known = -1; /* -1 until asked; any thread that asks gets the same answer */
  int v = __atomic_load_n(&known, __ATOMIC_RELAXED);
  if (v >= 0) return v;
  unsigned a, b, c, d, lo, hi;
  v = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 27)) && (c & (1u << 28))) {
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) == 6 && __get_cpuid_count(7, 0, &a, &b, &c, &d)) v = (b >> 5) & 1;
  }
  __atomic_store_n(&known, v, __ATOMIC_RELAXED);
  return v;
}
#endif

static void hash_block(const uint32_t *kl, const uint32_t *kh, uint32_t keyBits, uint64_t *h, uint32_t m) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (cpu_has_avx2()) {
    hash_keys_avx2(kl, kh, keyBits, h, m);
    return;
  }
#endif
  hash_keys(kl, kh, keyBits, h, m);
}

/*
 * hashSortRecords(keysLow u32[], keysHigh u32[]|null, valuesLow u32[], valuesHigh u32[]|null, n,
 *                 keyBits, out u32[], result f64[4])
 * hashRecords, sortRecords and core/encode.ts keepLastOfEqualRecords for pairs 0..n, with the
 * same records and result (result[0]: the records kept), and no scratch as large as the records:
 * one pass counts the hashes' top bits (4 to 11 of them, by n), a second writes each record
 * straight into its bucket in out, and each bucket is sorted in cache (sort_bucket, with scratch
 * for the largest) and its duplicates dropped. The sort's n-record scratch and a pass over the
 * records were a quarter of a 10 M-pair 64-bit build, most of it the kernel's (fresh pages).
 * With release, the columns are consumed: the key columns hold hashes after, and the pages of
 * mapped columns go back to the kernel.
 */
static napi_value hash_sort_records(napi_env env, napi_callback_info info, int scatter_only) {
  const char *fn = scatter_only ? "hashScatterRecords" : "hashSortRecords";
  size_t argc = 10;
  napi_value argv[10] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  columns_arg c;
  uint32_t *out, n, keyBits, *sizes = NULL;
  bool release = false;
  double *result;
  size_t ol, rl, sl = 0;
  if (!get_columns(env, argv, fn, &c) || !idx_arg_u32(env, argv[4], fn, "n", &n) || !idx_arg_u32(env, argv[5], fn, "keyBits", &keyBits) ||
      !idx_arg_own(env, argv[6], fn, "out", napi_uint32_array, 0, (void **)&out, &ol) ||
      !idx_arg_own(env, argv[7], fn, "result", napi_float64_array, 0, (void **)&result, &rl) ||
      (argc >= 9 && !idx_arg_bool(env, argv[8], fn, "release", &release)) ||
      (scatter_only && !idx_arg_own(env, argv[9], fn, "sizes", napi_uint32_array, 0, (void **)&sizes, &sl)))
    return NULL;
  if (scatter_only && (sl < RADIX || rl < 5))
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: sizes must hold %d words and result 5", fn, RADIX);
  uint32_t *kl = c.kl, *kh = c.kh, *vl = c.vl, *vh = c.vh;
  /* The records are written while the columns are read (and, with release, given back: those
     of mapped memory, as discard() gives back, not a small one from malloc). */
  const uint32_t *columns[4] = {kl, kh, vl, vh};
  const size_t column_words[4] = {c.kll, c.khl, c.vll, c.vhl};
  if ((keyBits != 32 && keyBits != 64) || n > c.kll || n > c.vll || (kh != NULL && n > c.khl) || (vh != NULL && n > c.vhl) ||
      (uint64_t)n * 4 > ol || rl < 4)
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: keyBits must be 32 or 64, n within the columns, out 4n words, result 4", fn);
  size_t ignored;
  for (int k = 0; k < 4; k++) {
    if (columns[k] == NULL) continue;
    if ((uintptr_t)columns[k] < (uintptr_t)(out + 4 * (size_t)n) && (uintptr_t)out < (uintptr_t)(columns[k] + n))
      return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: out must not overlap a column", fn);
    if (release && idx_words_of(env, argv[k], &ignored) == NULL)
      return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: with release, the columns must be whole arrays from words()", fn);
  }
  uint32_t *counts = calloc(4 * RADIX, sizeof(uint32_t));
  if (counts == NULL) return idx_throw(env, "ENOMEM", "%s: out of memory", fn);
  const uint64_t empty = keyBits == 64 ? IDX_EMPTY_HASH64 : IDX_EMPTY_HASH;
  /* Buckets of 2^16 to 2^17 records (one to two MiB, which sort_bucket sorts in L2 or L3): at
     10 M pairs, 128 buckets took the call from 340 to 205 ms against 2048 (the scatter's stores
     to 2048 places at once missed the TLB); 30 M pairs, 256 from 820 to 630. */
  int bits = 4;
  while (bits < BITS && ((size_t)n >> (17 + bits)) != 0) bits++;
  const uint32_t buckets = 1u << bits;
  const int top = (keyBits == 64 ? 64 : 32) - bits;
  uint32_t escaped = 0, escLow = 0, escHigh = 0;
  if (keyBits == 32 && kh != NULL) {
    for (uint32_t i = 0; i < n; i++) {
      if (kh[i] != 0) {
        free(counts);
        return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: key %u is wider than 32 bits", fn, i);
      }
    }
  }
  /* With release the key columns are the build's to consume: the count pass leaves each key's
     hash in its place, and the scatter reads it there rather than hashing again (not for 64-bit
     keys without a high column, which has no room for the hash's high half). */
  const int kept_hashes = release && (keyBits == 32 || kh != NULL);
  uint64_t h[HASH_BLOCK];
  for (uint32_t from = 0; from < n; from += HASH_BLOCK) {
    uint32_t m = n - from < HASH_BLOCK ? n - from : HASH_BLOCK;
    hash_block(kl + from, kh != NULL ? kh + from : NULL, keyBits, h, m);
    if (kept_hashes) {
      for (uint32_t j = 0; j < m; j++) kl[from + j] = (uint32_t)h[j];
      if (keyBits == 64) for (uint32_t j = 0; j < m; j++) kh[from + j] = (uint32_t)(h[j] >> 32);
    }
    for (uint32_t j = 0; j < m; j++) {
      if (h[j] == empty) {
        escaped = 1;
        escLow = vl[from + j];
        escHigh = vh != NULL ? vh[from + j] : 0;
        continue;
      }
      counts[h[j] >> top]++;
    }
  }
  /* The second pass reads the columns again: they must not change meanwhile (idx_arg_own). */
  uint32_t *starts = counts + RADIX, *fill = counts + 2 * RADIX;
  uint32_t m = 0, largest = 0;
  for (uint32_t d = 0; d < buckets; d++) {
    starts[d] = fill[d] = m;
    m += counts[d];
    if (counts[d] > largest) largest = counts[d];
  }
  uint32_t *scratch = scatter_only ? NULL : big_alloc((size_t)(largest ? largest : 1) * 16);
  if (!scatter_only && scratch == NULL) {
    free(counts);
    return idx_throw(env, "ENOMEM", "%s: out of memory for %u records", fn, largest);
  }
  /* With release, the columns' pages go back to the kernel as the scatter leaves them behind,
     for the records' pages to take (when they are small pages, faulted in as written): the
     build's peak holds the records and a little of the columns, not both whole. */
  size_t released = 0;
  for (uint32_t from = 0; from < n; from += HASH_BLOCK) {
    uint32_t b = n - from < HASH_BLOCK ? n - from : HASH_BLOCK;
    if (!kept_hashes) {
      hash_block(kl + from, kh != NULL ? kh + from : NULL, keyBits, h, b);
    } else if (keyBits == 64) {
      for (uint32_t j = 0; j < b; j++) h[j] = (uint64_t)kh[from + j] << 32 | kl[from + j];
    } else {
      for (uint32_t j = 0; j < b; j++) h[j] = kl[from + j];
    }
    for (uint32_t j = 0; j < b; j++) {
      if (h[j] == empty) continue;
      uint32_t *r = out + 4 * (size_t)fill[h[j] >> top]++;
      r[0] = (uint32_t)h[j];
      r[1] = (uint32_t)(h[j] >> 32);
      r[2] = vl[from + j];
      r[3] = vh != NULL ? vh[from + j] : 0;
    }
    size_t done = (size_t)from + b;
    if (release && (done - released >= RELEASE_WORDS || done == n)) {
      for (int k = 0; k < 4; k++) {
        if (columns[k] != NULL && column_words[k] * 4 >= BIG_MIN) release_words((uint32_t *)columns[k], released, done);
      }
      released = done & ~(size_t)1023; /* whole 4 KiB pages only: the next release starts at one */
    }
  }
  if (scatter_only) {
    memcpy(sizes, counts, buckets * sizeof(uint32_t));
    free(counts);
    put_result(result, m, escaped, escLow, escHigh);
    result[4] = bits;
    return idx_undefined(env);
  }
  /* Each bucket sorted, then its records moved down to `kept`, each hash once with its last
     value (equal hashes are in one bucket, in the order they came). */
  size_t kept = 0;
  for (uint32_t d = 0; d < buckets; d++) {
    uint32_t *b = out + 4 * (size_t)starts[d];
    if (counts[d] == 0) continue;
    sort_bucket(b, scratch, b, counts[d], top, counts + 3 * RADIX);
    for (uint32_t i = 0; i < counts[d]; i++) {
      const uint32_t *r = b + 4 * (size_t)i;
      if (i + 1 < counts[d] && r[4] == r[0] && r[5] == r[1]) continue;
      if (out + 4 * kept != r) memcpy(out + 4 * kept, r, 16);
      kept++;
    }
  }
  big_free(scratch);
  free(counts);
  put_result(result, (double)kept, escaped, escLow, escHigh);
  return idx_undefined(env);
}

static napi_value HashSortRecords(napi_env env, napi_callback_info info) {
  return hash_sort_records(env, info, 0);
}

/*
 * hashScatterRecords(keysLow u32[], keysHigh u32[]|null, valuesLow u32[], valuesHigh u32[]|null,
 *                    n, keyBits, out u32[], result f64[5], release, sizes u32[2048])
 * hashSortRecords's first two passes alone: the records in out grouped by the top `bits` bits
 * of their hash (input order kept within a bucket), bucket d's size in sizes[d], result = [records
 * written, escaped seen, its value's low word, high word, bits]. The caller sorts each bucket
 * (sortBucket) and places it while it is still in cache: a 64/64 build of 10 M pairs read its
 * 160 MB of sorted records back from memory to place them (31 ms).
 */
static napi_value HashScatterRecords(napi_env env, napi_callback_info info) {
  return hash_sort_records(env, info, 1);
}

/*
 * sortBucket(records u32[], from, count, keyBits, bucketBits, scratch u32[]) -> kept
 * Records from..from+count (a bucket of hashScatterRecords, whose hashes share their top
 * bucketBits bits) sorted by hash, stably, each hash once with its last record, moved down to
 * from..from+kept: hashSortRecords's step for one bucket. scratch: 4 * count words.
 */
static napi_value SortBucket(napi_env env, napi_callback_info info) {
  static const char *fn = "sortBucket";
  size_t argc = 6;
  napi_value argv[6] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t *records, *scratch, from, count, keyBits, bucketBits;
  size_t rl, sl;
  if (!idx_arg_own(env, argv[0], fn, "records", napi_uint32_array, 0, (void **)&records, &rl) ||
      !idx_arg_u32(env, argv[1], fn, "from", &from) || !idx_arg_u32(env, argv[2], fn, "count", &count) ||
      !idx_arg_u32(env, argv[3], fn, "keyBits", &keyBits) || !idx_arg_u32(env, argv[4], fn, "bucketBits", &bucketBits) ||
      !idx_arg_own(env, argv[5], fn, "scratch", napi_uint32_array, 0, (void **)&scratch, &sl))
    return NULL;
  if ((keyBits != 32 && keyBits != 64) || bucketBits > BITS || ((uint64_t)from + count) * 4 > rl || (uint64_t)count * 4 > sl)
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: keyBits 32 or 64, bucketBits at most %d, from + count within the records, scratch 4 * count words", fn, BITS);
  uint32_t *b = records + 4 * (size_t)from;
  if ((uintptr_t)scratch < (uintptr_t)(b + 4 * (size_t)count) && (uintptr_t)b < (uintptr_t)(scratch + 4 * (size_t)count))
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: scratch must not overlap the bucket", fn);
  uint32_t counts[RADIX];
  sort_bucket(b, scratch, b, count, (keyBits == 64 ? 64 : 32) - (int)bucketBits, counts);
  uint32_t kept = 0;
  for (uint32_t i = 0; i < count; i++) {
    const uint32_t *r = b + 4 * (size_t)i;
    if (i + 1 < count && r[4] == r[0] && r[5] == r[1]) continue;
    if (b + 4 * (size_t)kept != r) memcpy(b + 4 * (size_t)kept, r, 16);
    kept++;
  }
  return idx_number(env, kept);
}

/*
 * sortRecords(records u32[], n, wideKeys, scratch u32[]|null) -> 0 or 1
 * Sorts the first n records (four words each) by hash, stably, as core/encode.ts
 * sortRecordsByHash does (any stable sort by the whole hash gives the same records): by the
 * hash's top bits into buckets, then each bucket in cache (sort_records). The records end in
 * `records` (returns 0); scratch (4n words) or, when it is null, the sort's own (in huge pages:
 * big_alloc) holds them meanwhile.
 */
static napi_value SortRecords(napi_env env, napi_callback_info info) {
  static const char *fn = "sortRecords";
  size_t argc = 4;
  napi_value argv[4] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t *records, *scratch, n, wide;
  size_t rl, sl;
  if (!idx_arg_own(env, argv[0], fn, "records", napi_uint32_array, 0, (void **)&records, &rl) ||
      !idx_arg_u32(env, argv[1], fn, "n", &n) || !idx_arg_u32(env, argv[2], fn, "wideKeys", &wide) ||
      !idx_arg_own(env, argv[3], fn, "scratch", napi_uint32_array, 1, (void **)&scratch, &sl))
    return NULL;
  if ((uint64_t)n * 4 > rl || (scratch != NULL && (uint64_t)n * 4 > sl) || wide > 1)
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: records and scratch need 4n words, wideKeys 0 or 1", fn);
  if (records == scratch) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: records and scratch must differ", fn);
  uint32_t *own = NULL;
  if (scratch == NULL) {
    own = scratch = big_alloc((size_t)(n ? n : 1) * 16);
    if (own == NULL) return idx_throw(env, "ENOMEM", "%s: out of memory for %u records", fn, n);
  }
  uint32_t *counts = malloc(4 * RADIX * sizeof(uint32_t));
  if (counts == NULL) {
    big_free(own);
    return idx_throw(env, "ENOMEM", "%s: out of memory", fn);
  }
  sort_records(records, scratch, n, wide ? 64 : 32, counts);
  free(counts);
  big_free(own);
  napi_value out;
  napi_create_uint32(env, 0, &out);
  return out;
}

/*
 * placeRecords(out u32[], records u32[], from, to, capacity, next, reach, keyBits, valueBits,
 *              result f64[4])
 * core/table.ts Placer.placeRecords in C: records[from..to) (four words each, sorted by hash)
 * placed into out, whose slot 0 is slot `next` of the table, as version 3 slots of the widths
 * (§16.1: the hash word then the value, packed), each at max(home, the slot after the last),
 * empty slots between; stops when out is full (having filled it). result = [records placed,
 * slots written, the new next, the new reach].
 */
/*
 * placeRecords's loop for one layout: keyBits and valueBits are constants where it is called, so
 * that the compiler drops the width tests and sizes the empty slots' stores (at 10 M 64/64
 * records, 48 ms with the widths read at run time).
 */
static inline __attribute__((always_inline)) uint32_t place_records(uint32_t *out, const uint32_t *records, uint32_t from, uint32_t to,
                                                                    uint64_t capacity, uint64_t start, uint64_t room, uint64_t *nextp,
                                                                    uint64_t *reachp, const uint32_t keyBits, const uint32_t valueBits) {
  const uint32_t sw = (keyBits + valueBits) / 32, vo = keyBits / 32;
  uint64_t next = *nextp, reach = *reachp;
  uint32_t j = from;
  for (; j < to; j++) {
    const uint32_t *r = records + 4 * (size_t)j;
    uint64_t home = idx_home(keyBits == 64 ? r[1] : r[0], capacity);
    uint64_t pos = home > next ? home : next;
    uint64_t stop = pos - start >= room ? start + room : pos;
    for (uint64_t s = next; s < stop; s++) {
      uint32_t *o = out + (s - start) * sw;
      memset(o, 0, sw * 4);
      o[0] = IDX_EMPTY_HASH;
      if (keyBits == 64) o[1] = IDX_EMPTY_HASH;
    }
    if (pos - start >= room) {
      next = start + room;
      break;
    }
    uint32_t *o = out + (pos - start) * sw;
    o[0] = r[0];
    if (keyBits == 64) o[1] = r[1];
    o[vo] = r[2];
    if (valueBits == 64) o[vo + 1] = r[3];
    if (pos - home > reach) reach = pos - home;
    next = pos + 1;
  }
  *nextp = next;
  *reachp = reach;
  return j;
}

static napi_value PlaceRecords(napi_env env, napi_callback_info info) {
  static const char *fn = "placeRecords";
  size_t argc = 10;
  napi_value argv[10] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t *out, *records, from, to, keyBits, valueBits;
  double capD, nextD, reachD, *result;
  size_t ol, rl, resl;
  if (!idx_arg_own(env, argv[0], fn, "out", napi_uint32_array, 0, (void **)&out, &ol) ||
      !idx_arg_own(env, argv[1], fn, "records", napi_uint32_array, 0, (void **)&records, &rl) ||
      !idx_arg_u32(env, argv[2], fn, "from", &from) || !idx_arg_u32(env, argv[3], fn, "to", &to) ||
      !idx_arg_whole(env, argv[4], fn, "capacity", 1, IDX_MAX_SLOTS_V3, &capD) ||
      !idx_arg_whole(env, argv[5], fn, "next", 0, IDX_MAX_SLOTS_V3, &nextD) ||
      !idx_arg_whole(env, argv[6], fn, "reach", 0, IDX_MAX_SLOTS_V3, &reachD) ||
      !idx_arg_u32(env, argv[7], fn, "keyBits", &keyBits) || !idx_arg_u32(env, argv[8], fn, "valueBits", &valueBits) ||
      !idx_arg_own(env, argv[9], fn, "result", napi_float64_array, 0, (void **)&result, &resl))
    return NULL;
  if (from > to || (uint64_t)to * 4 > rl || resl < 4 || (keyBits != 32 && keyBits != 64) || (valueBits != 32 && valueBits != 64) ||
      (keyBits == 32 && valueBits == 32))
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: from/to outside records, result too short, or widths not a version 3 file's", fn);
  const uint64_t capacity = (uint64_t)capD, start = (uint64_t)nextD, room = ol / ((keyBits + valueBits) / 32);
  uint64_t next = start, reach = (uint64_t)reachD;
  uint32_t j;
  if (keyBits == 64 && valueBits == 64) j = place_records(out, records, from, to, capacity, start, room, &next, &reach, 64, 64);
  else if (keyBits == 64) j = place_records(out, records, from, to, capacity, start, room, &next, &reach, 64, 32);
  else j = place_records(out, records, from, to, capacity, start, room, &next, &reach, 32, 64);
  result[0] = j - from;
  result[1] = (double)(next - start);
  result[2] = (double)next;
  result[3] = (double)reach;
  return idx_undefined(env);
}

static void free_words(napi_env env, void *data, void *hint) {
  idx_writeback_wait_for(data); /* a write behind may still read it (a worker torn down meanwhile) */
  big_free(data);
}


/*
 * discard(words) -> undefined
 * Gives the pages of an array from words() back to the kernel now (MADV_DONTNEED: it stays
 * mapped and reads as zeros), rather than when the collector frees it: a build's columns, once
 * sorted into records, so that the file's page cache can take pages just freed, not fresh ones
 * (on this project's VM a fresh page costs several times a reused one). Any other array is
 * refused; a small one (from malloc) is left as it is.
 */
static napi_value Discard(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  size_t length;
  uint32_t *w = idx_words_of(env, argv[0], &length);
  if (w == NULL) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "discard: words must be a whole Uint32Array from words()");
  if (length * 4 >= BIG_MIN) release_words(w, 0, length);
  return idx_undefined(env);
}

/*
 * words(n, smallPages?) -> Uint32Array
 * A zeroed Uint32Array of n words in memory from big_alloc (huge pages for a large one, freed
 * when the array is collected): the build's columns and records, which are written once through
 * and would otherwise fault in 4 KiB at a time. smallPages: 4 KiB pages, for records that
 * hashSortRecords's release lets reuse the pages of the columns it gives back.
 */
static napi_value Words(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  double nD;
  bool small = false;
  if (!idx_arg_whole(env, argv[0], "words", "n", 0, 1u << 30, &nD)) return NULL;
  if (argc >= 2 && !idx_arg_bool(env, argv[1], "words", "smallPages", &small)) return NULL;
  size_t bytes = (size_t)nD * 4;
  void *p = big_alloc_as(bytes ? bytes : 4, !small);
  if (p == NULL) return idx_throw(env, "ENOMEM", "words: out of memory for %.0f words", nD);
  /* mmap's pages are zero already; malloc's are not. */
  if (bytes < BIG_MIN) memset(p, 0, bytes);
  napi_value ab, arr;
  if (napi_create_external_arraybuffer(env, p, bytes, free_words, NULL, &ab) != napi_ok) {
    big_free(p);
    return idx_throw(env, "ENOMEM", "words: cannot wrap %.0f words", nD);
  }
  napi_type_tag_object(env, ab, &WORDS_TAG);
  napi_create_typedarray(env, napi_uint32_array, (size_t)nD, ab, 0, &arr);
  return arr;
}

/*
 * splitWords(words u32[], from, n, low u32[], high u32[]|null, at) -> undefined
 * core/pairs.ts splitWordsJs in C: elements from..from+n of a BigUint64Array, as its uint32
 * words, into low[at..] and high[at..] (high null: the low words only). A builder's wide column
 * copied in one pass that the compiler vectorizes; the JS loop took 20 ms a column of 10 M.
 */
static napi_value SplitWords(napi_env env, napi_callback_info info) {
  static const char *fn = "splitWords";
  size_t argc = 6;
  napi_value argv[6] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t *words, *low, *high, from, n, at;
  size_t wl, ll, hl;
  /* words may be a user's column over a SharedArrayBuffer: it is read once, word by word. */
  if (!idx_arg_typed(env, argv[0], fn, "words", napi_uint32_array, 0, (void **)&words, &wl) ||
      !idx_arg_u32(env, argv[1], fn, "from", &from) || !idx_arg_u32(env, argv[2], fn, "n", &n) ||
      !idx_arg_own(env, argv[3], fn, "low", napi_uint32_array, 0, (void **)&low, &ll) ||
      !idx_arg_own(env, argv[4], fn, "high", napi_uint32_array, 1, (void **)&high, &hl) ||
      !idx_arg_u32(env, argv[5], fn, "at", &at))
    return NULL;
  if (2 * ((uint64_t)from + n) > wl || (uint64_t)at + n > ll || (high != NULL && (uint64_t)at + n > hl))
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: from + n past the words, or at + n past low or high", fn);
  const uint32_t *w = words + 2 * (size_t)from;
  uint32_t *lo = low + at;
  if (high == NULL) {
    for (uint32_t i = 0; i < n; i++) lo[i] = w[2 * (size_t)i];
  } else {
    uint32_t *hi = high + at;
    for (uint32_t i = 0; i < n; i++) {
      lo[i] = w[2 * (size_t)i];
      hi[i] = w[2 * (size_t)i + 1];
    }
  }
  return idx_undefined(env);
}

napi_status idx_build_init(napi_env env, napi_value exports) {
  IDX_EXPORT(env, exports, "hashSort", HashSort);
  IDX_EXPORT(env, exports, "placeSorted", PlaceSorted);
  IDX_EXPORT(env, exports, "parseLines", ParseLines);
  IDX_EXPORT(env, exports, "scatterPairs", ScatterPairs);
  IDX_EXPORT(env, exports, "scatterHashed", ScatterHashed);
  IDX_EXPORT(env, exports, "sortHashed", SortHashed);
  IDX_EXPORT(env, exports, "hashRecords", HashRecords);
  IDX_EXPORT(env, exports, "sortRecords", SortRecords);
  IDX_EXPORT(env, exports, "hashSortRecords", HashSortRecords);
  IDX_EXPORT(env, exports, "hashScatterRecords", HashScatterRecords);
  IDX_EXPORT(env, exports, "sortBucket", SortBucket);
  IDX_EXPORT(env, exports, "splitWords", SplitWords);
  IDX_EXPORT(env, exports, "discard", Discard);
  IDX_EXPORT(env, exports, "words", Words);
  IDX_EXPORT(env, exports, "placeRecords", PlaceRecords);
  return napi_ok;
}
