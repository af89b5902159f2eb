/*
 * Reading a mapped index (mapping.c) in loops JS cannot make fast: the batch lookup of
 * src/reader/lookups.ts with software prefetch, and dump's formatting, for version 2 files
 * (getMany, formatPairs) and version 3's (getManyWide, formatPairsWide: spec §16). All read the
 * slots only through the mapping's registered base and length, so no argument can point them
 * elsewhere.
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

/* Writes n in decimal at p; returns the length (at most 20). */
static size_t put_decimal(uint8_t *p, uint64_t n) {
  uint8_t tmp[20];
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

/* ---- version 3 (spec §16) ---- */

/*
 * Validates (id, capacity, slotCount) at argv[0..2] as a version 3 table of the mapping: slots of
 * slotBytes after the 128-byte header, slotCount <= 2^40 (§16.4). Returns the mapping's base.
 */
static const uint8_t *wide_table_of(napi_env env, napi_value *argv, const char *fn, unsigned slotBytes, uint64_t *capacity,
                                    uint64_t *slotCount, idx_mapping **mapping) {
  idx_mapping *m = idx_mapping_get(env, argv[0], fn);
  if (mapping != NULL) *mapping = m;
  double cap, sc;
  if (m == NULL || !idx_arg_whole(env, argv[1], fn, "capacity", 1, IDX_MAX_SLOTS_V3, &cap) ||
      !idx_arg_whole(env, argv[2], fn, "slotCount", 2, IDX_MAX_SLOTS_V3, &sc))
    return NULL;
  if (cap >= sc) {
    idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: capacity %.0f must be below slotCount %.0f (spec §3)", fn, cap, sc);
    return NULL;
  }
  /* Exact in doubles: at most 128 + 2^44. */
  double bytes = IDX_HEADER_V3 + sc * slotBytes;
  if (bytes > (double)idx_mapping_length(m)) {
    idx_throw(env, "ERR_IDX_INVALID_ARGUMENT",
              "%s: a version 3 table of %.0f slots needs %.0f bytes, more than the %zu the mapping holds: pass the "
              "slot count of the header this mapping's file was opened with",
              fn, sc, bytes, idx_mapping_length(m));
    return NULL;
  }
  *capacity = (uint64_t)cap;
  *slotCount = (uint64_t)sc;
  return idx_mapping_base(m);
}

/* keyBits and valueBits: each 32 or 64, not both 32 (§16.1). */
static int widths_of(napi_env env, napi_value k, napi_value v, const char *fn, uint32_t *keyBits, uint32_t *valueBits) {
  if (!idx_arg_u32(env, k, fn, "keyBits", keyBits) || !idx_arg_u32(env, v, fn, "valueBits", valueBits)) return 0;
  if ((*keyBits != 32 && *keyBits != 64) || (*valueBits != 32 && *valueBits != 64) || (*keyBits == 32 && *valueBits == 32)) {
    idx_throw(env, "ERR_IDX_INVALID_ARGUMENT",
              "%s: keyBits %u and valueBits %u: each must be 32 or 64, and not both 32 (a 32/32 file is version 2: "
              "use getMany and formatPairs)",
              fn, *keyBits, *valueBits);
    return 0;
  }
  return 1;
}

/*
 * getManyWide(id, capacity, slotCount, reach, dead, fileId, keyBits, valueBits, keys u32[]|u64[],
 *             values u32[]|u64[], found u8[]|null, missing, from, to, result f64[2]) -> undefined
 * getMany for a version 3 file (§16) of keyBits and valueBits: the same chunks, seq checks and
 * stops, result[0] = hits, result[1] = the index it stopped at. keys may be a Uint32Array or a
 * BigUint64Array whatever the file's key width (a key above a file's 32-bit keys is absent);
 * values and missing are of the file's value width: a Uint32Array and a u32 number for 32-bit
 * values, a BigUint64Array and a bigint for 64-bit values.
 */
static napi_value GetManyWide(napi_env env, napi_callback_info info) {
  static const char *fn = "getManyWide";
  size_t argc = 15;
  napi_value argv[15] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t fileId, keyBits, valueBits, from, to;
  uint64_t capacity, slotCount;
  double reachD, deadD;
  idx_mapping *m;
  if (!widths_of(env, argv[6], argv[7], fn, &keyBits, &valueBits)) return NULL;
  const uint8_t *base = wide_table_of(env, argv, fn, idx_slot_bytes_v3(keyBits, valueBits), &capacity, &slotCount, &m);
  if (base == NULL || !idx_arg_whole(env, argv[3], fn, "reach", 0, (double)(slotCount - 1), &reachD) ||
      !idx_arg_whole(env, argv[4], fn, "dead", -1, 4294967295.0, &deadD) || !idx_arg_u32(env, argv[5], fn, "fileId", &fileId))
    return NULL;
  const int values64 = valueBits == 64;
  const size_t valueBytes = values64 ? 8 : 4;
  void *keys, *values;
  uint8_t *found;
  double *result;
  size_t keysLen, valuesLen, foundLen, resultLen;
  napi_typedarray_type keysType;
  uint64_t missing;
  uint32_t missing32;
  if (!idx_arg_typed2(env, argv[8], fn, "keys", napi_uint32_array, napi_biguint64_array, &keys, &keysLen, &keysType) ||
      !idx_arg_typed(env, argv[9], fn, values64 ? "values (for 64-bit values)" : "values (for 32-bit values)",
                     values64 ? napi_biguint64_array : napi_uint32_array, 0, &values, &valuesLen) ||
      !idx_arg_typed(env, argv[10], fn, "found", napi_uint8_array, 1, (void **)&found, &foundLen))
    return NULL;
  if (values64 ? !idx_arg_u64(env, argv[11], fn, "missing (for 64-bit values)", &missing)
               : !idx_arg_u32(env, argv[11], fn, "missing (for 32-bit values)", &missing32))
    return NULL;
  if (!values64) missing = missing32;
  if (!idx_arg_u32(env, argv[12], fn, "from", &from) || !idx_arg_u32(env, argv[13], fn, "to", &to) ||
      !idx_arg_typed(env, argv[14], fn, "result", napi_float64_array, 0, (void **)&result, &resultLen))
    return NULL;
  if (from > to || to > keysLen || to > valuesLen || (found != NULL && to > foundLen) || resultLen < 2)
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT",
                     "%s: from %u and to %u must satisfy from <= to <= the length of keys (%zu), values (%zu) and found; "
                     "result needs 2 elements (it has %zu)",
                     fn, from, to, keysLen, valuesLen, resultLen);
  const int keys64 = keysType == napi_biguint64_array;
  const size_t keysBytes = keysLen * (keys64 ? 8 : 4), valuesBytes = valuesLen * valueBytes, resultBytes = resultLen * 8;
  /* An output over the keys (or over another output) would change what is read next. */
  if (overlap(keys, keysBytes, values, valuesBytes) || overlap(result, resultBytes, keys, keysBytes) ||
      overlap(result, resultBytes, values, valuesBytes) ||
      (found != NULL && (overlap(keys, keysBytes, found, foundLen) || overlap(values, valuesBytes, found, foundLen) ||
                         overlap(result, resultBytes, found, foundLen))))
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: keys, values, found and result must not share memory", fn);

  idx_table t = {
    .header = (const volatile uint32_t *)base,
    .slots = (const uint32_t *)(base + IDX_HEADER_V3),
    .capacity = capacity,
    .slotCount = slotCount,
    .reach = (uint64_t)reachD,
    /* -1: no seq is dead; every odd seq stops the loop (an odd value never equals it). */
    .dead = deadD < 0 ? UINT64_MAX : (uint64_t)deadD,
    .idWord = IDX_CHECKSUM_V2 / 4,
    .fileId = fileId,
  };
  uint64_t hits = 0;
  /* As GetMany: a mapping lost or replaced around the loop answers nothing. */
  uint32_t stop = idx_mapping_ok(m)
                      ? idx_probe_chunks_wide(&t, keyBits, valueBits, keys, keys64, values, found, missing, from, to, &hits)
                      : from;
  if (!idx_mapping_ok(m)) {
    stop = from;
    hits = 0;
  }
  result[0] = (double)hits;
  result[1] = (double)stop;
  return idx_undefined(env);
}

/* "key\tvalue\n" at p; returns its length. */
static size_t put_line(uint8_t *p, uint64_t key, uint64_t value) {
  size_t n = put_decimal(p, key);
  p[n++] = '\t';
  n += put_decimal(p + n, value);
  p[n++] = '\n';
  return n;
}

/*
 * formatPairsWide(id, capacity, slotCount, keyBits, valueBits, fromSlot, marks u64[3], out u8[],
 *                 result f64[2]) -> undefined
 * formatPairs for a version 3 file (§16): writes "key\tvalue\n" (decimal) for each entry of slots
 * fromSlot.. in order into out, while the next whole line fits. An entry is a slot whose hash word
 * is not EMPTY and not its predecessor's (§5.1). marks carries the dump from call to call:
 * marks[0], the hash word of the slot before fromSlot (EMPTY of the key width for none), becomes
 * that of the last slot read; entries whose hash is <= marks[2] are skipped when marks[1] is 1 (a
 * reader that followed a replaced file goes on past the last entry it gave, §5.5), and each entry
 * written sets marks[1] = 1 and marks[2] = its hash (the marks read at the start decide the
 * skipping for the whole call, as formatPairs's `after` does). marks are changed in place: a
 * caller that formats the same slots again (a chunk a write overlapped) passes the marks it had
 * before the first try. result = [the next slot to format, bytes written].
 */
static napi_value FormatPairsWide(napi_env env, napi_callback_info info) {
  static const char *fn = "formatPairsWide";
  size_t argc = 9;
  napi_value argv[9] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint64_t capacity, slotCount;
  uint32_t keyBits, valueBits;
  double fromD;
  if (!widths_of(env, argv[3], argv[4], fn, &keyBits, &valueBits)) return NULL;
  const unsigned slotWords = idx_slot_bytes_v3(keyBits, valueBits) / 4, valueWord = keyBits / 32;
  const uint8_t *base = wide_table_of(env, argv, fn, slotWords * 4, &capacity, &slotCount, NULL);
  if (base == NULL || !idx_arg_whole(env, argv[5], fn, "fromSlot", 0, (double)slotCount, &fromD)) return NULL;
  uint64_t *marks;
  uint8_t *out;
  double *result;
  size_t marksLen, outLen, resultLen;
  if (!idx_arg_typed(env, argv[6], fn, "marks", napi_biguint64_array, 0, (void **)&marks, &marksLen) ||
      !idx_arg_typed(env, argv[7], fn, "out", napi_uint8_array, 0, (void **)&out, &outLen) ||
      !idx_arg_typed(env, argv[8], fn, "result", napi_float64_array, 0, (void **)&result, &resultLen))
    return NULL;
  if (marksLen < 3 || resultLen < 2)
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: marks needs 3 elements (it has %zu) and result 2 (it has %zu)", fn,
                     marksLen, resultLen);
  if (overlap(marks, marksLen * 8, out, outLen) || overlap(marks, marksLen * 8, result, resultLen * 8) ||
      overlap(out, outLen, result, resultLen * 8))
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: marks, out and result must not share memory", fn);
  const int hash64 = keyBits == 64, values64 = valueBits == 64;
  const uint64_t empty = hash64 ? IDX_EMPTY_HASH64 : IDX_EMPTY_HASH;
  uint64_t previous = marks[0];
  const int skip = marks[1] == 1;
  const uint64_t after = marks[2];
  if (previous > empty || marks[1] > 1 || after > empty)
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT",
                     "%s: marks must hold a hash word of %u-bit keys, 0 or 1, and a hash word (pass back what the last call "
                     "left, or [EMPTY, 0, 0] to start)",
                     fn, keyBits);
  /* The longest line of these widths: each number 10 digits (32 bits) or 20 (64), a tab, a newline. */
  const size_t longest = (hash64 ? 20 : 10) + (values64 ? 20 : 10) + 2;
  const uint32_t *slots = (const uint32_t *)(base + IDX_HEADER_V3);
  uint64_t s = (uint64_t)fromD, last = after;
  int wrote = 0;
  size_t n = 0;
  for (; s < slotCount; s++) {
    const uint32_t *slot = slots + slotWords * s;
    uint64_t h = hash64 ? idx_load64(slot) : slot[0];
    if (h != empty && h != previous && !(skip && h <= after)) {
      uint64_t key = hash64 ? idx_unhash64(h) : idx_unhash32((uint32_t)h);
      uint64_t value = values64 ? idx_load64(slot + valueWord) : slot[valueWord];
      if (outLen - n >= longest) {
        n += put_line(out + n, key, value);
      } else {
        /* Near the end of out: the line only if it fits whole. */
        uint8_t line[42];
        size_t len = put_line(line, key, value);
        if (len > outLen - n) break;
        memcpy(out + n, line, len);
        n += len;
      }
      last = h;
      wrote = 1;
    }
    previous = h;
  }
  marks[0] = previous;
  if (wrote) {
    marks[1] = 1;
    marks[2] = last;
  }
  result[0] = (double)s;
  result[1] = (double)n;
  return idx_undefined(env);
}

napi_status idx_lookup_init(napi_env env, napi_value exports) {
  IDX_EXPORT(env, exports, "getMany", GetMany);
  IDX_EXPORT(env, exports, "formatPairs", FormatPairs);
  IDX_EXPORT(env, exports, "getManyWide", GetManyWide);
  IDX_EXPORT(env, exports, "formatPairsWide", FormatPairsWide);
  return napi_ok;
}
