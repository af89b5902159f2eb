/*
 * Reading a mapped index (mapping.c) in loops JS cannot make fast: the batch lookup of
 * src/reader/lookups.ts with software prefetch, and dump's formatting. Both read the slots only
 * through the mapping's registered base and length, so no argument can point them elsewhere.
 */
#include <string.h>

#include "idx.h"
#include "probe.h"

static int overlap(const void *a, size_t alen, const void *b, size_t blen) {
  uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
  return alen > 0 && blen > 0 && x < y + blen && y < x + alen;
}

/* Validates (id, headerBytes, capacity, slotCount) against the mapping; returns its base. */
static const uint8_t *table_of(napi_env env, napi_value *argv, const char *fn, uint32_t *headerBytes, uint64_t *capacity,
                               uint64_t *slotCount, idx_mapping **mapping) {
  idx_mapping *m = idx_mapping_get(env, argv[0], fn);
  if (mapping != NULL) *mapping = m;
  double hb, cap, sc;
  if (m == NULL || !idx_arg_whole(env, argv[1], fn, "headerBytes", 64, 128, &hb) ||
      !idx_arg_whole(env, argv[2], fn, "capacity", 1, IDX_MAX_SLOTS_V2, &cap) ||
      !idx_arg_whole(env, argv[3], fn, "slotCount", 2, IDX_MAX_SLOTS_V2, &sc))
    return NULL;
  if ((hb != IDX_HEADER_V1 && hb != IDX_HEADER_V2) || cap >= sc ||
      hb + sc * 8 > (double)idx_mapping_length(m)) {
    idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: the table does not fit the mapping", fn);
    return NULL;
  }
  *headerBytes = (uint32_t)hb;
  *capacity = (uint64_t)cap;
  *slotCount = (uint64_t)sc;
  return idx_mapping_base(m);
}

/*
 * getMany(id, headerBytes, capacity, slotCount, reach, dead, fileId, keys u32[], values u32[],
 *         found u8[]|null, missing, from, to, result f64[2]) -> undefined
 * Answers keys[from..to) a chunk of IDX_CHUNK at a time, each chunk between two loads of the
 * seq word (spec §11.7), probing at most reach + 1 slots a key (§5.3). Stops before the first
 * chunk that a write overlapped (seq odd, unless it is `dead`, the seq of a writer the reader
 * found dead; or seq changed), after which the header checksum word is not `fileId` (the file
 * was rewritten in place, §11.8), or in which a probe used up its reach (the writer may have
 * raised it since): result[0] = hits, result[1] = the index it stopped at (to when done). The
 * caller answers that chunk the slow way.
 */
static napi_value GetMany(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t headerBytes, missing, from, to, fileId;
  uint64_t capacity, slotCount;
  double reachD, deadD;
  idx_mapping *m;
  const uint8_t *base = table_of(env, argv, "getMany", &headerBytes, &capacity, &slotCount, &m);
  if (base == NULL || !idx_arg_whole(env, argv[4], "getMany", "reach", 0, (double)(slotCount - 1), &reachD) ||
      !idx_arg_whole(env, argv[5], "getMany", "dead", -1, 4294967295.0, &deadD) ||
      !idx_arg_u32(env, argv[6], "getMany", "fileId", &fileId))
    return NULL;
  uint64_t reach = (uint64_t)reachD;
  /* -1: no seq is dead; every odd seq stops the loop (an odd value never equals it). */
  const uint64_t dead = deadD < 0 ? UINT64_MAX : (uint64_t)deadD;
  const uint32_t idWord = (headerBytes == IDX_HEADER_V1 ? IDX_CHECKSUM_V1 : IDX_CHECKSUM_V2) / 4;
  uint32_t *keys, *values;
  uint8_t *found;
  double *result;
  size_t keysLen, valuesLen, foundLen, resultLen;
  if (!idx_arg_typed(env, argv[7], "getMany", "keys", napi_uint32_array, 0, (void **)&keys, &keysLen) ||
      !idx_arg_typed(env, argv[8], "getMany", "values", napi_uint32_array, 0, (void **)&values, &valuesLen) ||
      !idx_arg_typed(env, argv[9], "getMany", "found", napi_uint8_array, 1, (void **)&found, &foundLen) ||
      !idx_arg_u32(env, argv[10], "getMany", "missing", &missing) ||
      !idx_arg_u32(env, argv[11], "getMany", "from", &from) || !idx_arg_u32(env, argv[12], "getMany", "to", &to) ||
      !idx_arg_typed(env, argv[13], "getMany", "result", napi_float64_array, 0, (void **)&result, &resultLen))
    return NULL;
  if (from > to || to > keysLen || to > valuesLen || (found != NULL && to > foundLen) || resultLen < 2)
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "getMany: from/to outside the arrays, or result too short");
  /* An output over the keys (or over the other output) would change what is read next. */
  if (overlap(keys, keysLen * 4, values, valuesLen * 4) || (found != NULL && overlap(keys, keysLen * 4, found, foundLen)) ||
      (found != NULL && overlap(values, valuesLen * 4, found, foundLen)) || overlap(result, resultLen * 8, values, valuesLen * 4) ||
      overlap(result, resultLen * 8, keys, keysLen * 4) || (found != NULL && overlap(result, resultLen * 8, found, foundLen)))
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "getMany: keys, values, found and result must not share memory");

  idx_table t = {
    .header = (const volatile uint32_t *)base,
    .slots = (const uint32_t *)(base + headerBytes),
    .capacity = capacity,
    .slotCount = slotCount,
    .reach = reach,
    .dead = dead,
    .idWord = idWord,
    .fileId = fileId,
  };
  uint64_t hits = 0;
  /* A mapping lost or replaced before or during the loop shows zero pages, not the file: none of
     its answers stand (the caller's slow path follows the path, or says why it cannot). */
  uint32_t stop = idx_mapping_ok(m) ? idx_probe_chunks(&t, keys, values, found, missing, from, to, &hits) : from;
  if (!idx_mapping_ok(m)) {
    stop = from;
    hits = 0;
  }
  result[0] = (double)hits;
  result[1] = (double)stop;
  return idx_undefined(env);
}

/* Writes n in decimal at p; returns the length (at most 10). */
static size_t put_decimal(uint8_t *p, uint32_t n) {
  uint8_t tmp[10];
  size_t len = 0;
  do {
    tmp[len++] = (uint8_t)('0' + n % 10);
    n /= 10;
  } while (n != 0);
  for (size_t i = 0; i < len; i++) p[i] = tmp[len - 1 - i];
  return len;
}

/*
 * formatPairs(id, headerBytes, capacity, slotCount, fromSlot, previousHash, after, out u8[], result f64[4])
 * Writes "key\tvalue\n" for each entry (spec §5.1) of slots fromSlot.. in order into out, while a
 * line still fits, skipping entries whose hash is not above `after` (-1: none skipped; a reader
 * that followed a replaced file goes on past the last entry it gave). previousHash is the hash
 * word of the slot before fromSlot (0xFFFFFFFF for none). result = [the next slot to format,
 * bytes written, the hash word of the last slot read, the hash of the last entry written or -1].
 */
static napi_value FormatPairs(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t headerBytes, previous;
  uint64_t capacity, slotCount;
  double fromD, afterD;
  const uint8_t *base = table_of(env, argv, "formatPairs", &headerBytes, &capacity, &slotCount, NULL);
  if (base == NULL || !idx_arg_whole(env, argv[4], "formatPairs", "fromSlot", 0, (double)slotCount, &fromD) ||
      !idx_arg_u32(env, argv[5], "formatPairs", "previousHash", &previous) ||
      !idx_arg_whole(env, argv[6], "formatPairs", "after", -1, 4294967295.0, &afterD))
    return NULL;
  uint8_t *out;
  double *result;
  size_t outLen, resultLen;
  if (!idx_arg_typed(env, argv[7], "formatPairs", "out", napi_uint8_array, 0, (void **)&out, &outLen) ||
      !idx_arg_typed(env, argv[8], "formatPairs", "result", napi_float64_array, 0, (void **)&result, &resultLen))
    return NULL;
  if (resultLen < 4) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "formatPairs: result too short");
  const int64_t after = (int64_t)afterD;
  int64_t lastEntry = -1;
  const uint32_t *slots = (const uint32_t *)(base + headerBytes);
  uint64_t s = (uint64_t)fromD;
  size_t n = 0;
  const size_t LINE = 22; /* 10 digits, tab, 10 digits, newline */
  for (; s < slotCount && outLen - n >= LINE; s++) {
    uint32_t h = slots[2 * s];
    if (h != IDX_EMPTY_HASH && h != previous && (int64_t)h > after) {
      n += put_decimal(out + n, idx_unhash32(h));
      out[n++] = '\t';
      n += put_decimal(out + n, slots[2 * s + 1]);
      out[n++] = '\n';
      lastEntry = h;
    }
    previous = h;
  }
  result[0] = (double)s;
  result[1] = (double)n;
  result[2] = (double)previous;
  result[3] = (double)lastEntry;
  return idx_undefined(env);
}

napi_status idx_lookup_init(napi_env env, napi_value exports) {
  IDX_EXPORT(env, exports, "getMany", GetMany);
  IDX_EXPORT(env, exports, "formatPairs", FormatPairs);
  return napi_ok;
}
