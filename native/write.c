/*
 * The writer's stores into a writable mapping (src/writer/), as primitives that take only int32
 * arguments. Why not typed arrays and Atomics in JS: an 8-byte store from JS is an
 * Atomics.store of a BigInt, and a block's checksum a CRC over a new Uint8Array view; both
 * allocate, and an allocation inside the operation bracket (spec §11.2) can start a garbage
 * collection while seq is odd, which readers then wait out (measured: hundreds of windows of
 * 100 us or more in 15 s of sets). int32 arguments are never boxed, so a bracket made of these
 * calls allocates nothing. Word positions come as (hi, lo) = (index >> 30, index & (2^30 - 1)),
 * both small, for mappings past 16 GiB.
 */
#include <string.h>

#include "idx.h"
#include "stores.h"

/* A writable mapping's byte at word index hi * 2^30 + lo (checked against its length). */
static uint8_t *word_at(napi_env env, napi_value *argv, const char *fn, size_t words, idx_mapping **out) {
  idx_mapping *m = idx_mapping_get(env, argv[0], fn);
  int32_t hi, lo;
  if (m == NULL || !idx_arg_int32(env, argv[1], fn, "hi", &hi) || !idx_arg_int32(env, argv[2], fn, "lo", &lo)) return NULL;
  if (!idx_mapping_writable(m)) {
    idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: the mapping is not writable", fn);
    return NULL;
  }
  if (hi < 0 || lo < 0 || lo >= (1 << 30)) {
    idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: bad word position", fn);
    return NULL;
  }
  uint64_t index = ((uint64_t)hi << 30) | (uint64_t)lo;
  if ((index + words) * 4 > idx_mapping_length(m)) {
    idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: past the end of the mapping", fn);
    return NULL;
  }
  if (out) *out = m;
  return (uint8_t *)idx_mapping_base(m) + index * 4;
}

/* store8(id, hi, lo, word0, word1): words index, index+1 := word0, word1, in one aligned 8-byte store. */
static napi_value Store8(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t w0, w1;
  uint8_t *p = word_at(env, argv, "store8", 2, NULL);
  if (p == NULL || !idx_arg_int32(env, argv[3], "store8", "word0", &w0) || !idx_arg_int32(env, argv[4], "store8", "word1", &w1)) return NULL;
  if (((uintptr_t)p & 7) != 0) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "store8: not 8-byte aligned");
  uint64_t v = (uint64_t)(uint32_t)w0 | ((uint64_t)(uint32_t)w1 << 32);
  __atomic_store_n((uint64_t *)p, v, __ATOMIC_SEQ_CST);
  return NULL;
}

/*
 * storeCell(id, offset, word): the header cell at byte `offset` := word and its check, the CRC-32
 * of (offset, word) (spec §3), in one aligned 8-byte store.
 */
static napi_value StoreCell(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  idx_mapping *m = idx_mapping_get(env, argv[0], "storeCell");
  int32_t offset, word;
  if (m == NULL || !idx_arg_int32(env, argv[1], "storeCell", "offset", &offset) ||
      !idx_arg_int32(env, argv[2], "storeCell", "word", &word))
    return NULL;
  if (!idx_mapping_writable(m)) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "storeCell: the mapping is not writable");
  if (offset < IDX_CELL_STATE || offset > IDX_HEADER_V2 - 8 || (offset & 7) != 0 || (size_t)offset + 8 > idx_mapping_length(m))
    return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "storeCell: %d is not a cell's offset", offset);
  uint8_t bytes[8];
  uint32_t o = (uint32_t)offset, w = (uint32_t)word;
  memcpy(bytes, &o, 4);
  memcpy(bytes + 4, &w, 4);
  uint64_t v = (uint64_t)w | ((uint64_t)idx_crc32(bytes, 8) << 32);
  __atomic_store_n((uint64_t *)(idx_mapping_base(m) + offset), v, __ATOMIC_SEQ_CST);
  return NULL;
}

/* store4(id, hi, lo, word): one aligned 4-byte store. */
static napi_value Store4(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t w;
  uint8_t *p = word_at(env, argv, "store4", 1, NULL);
  if (p == NULL || !idx_arg_int32(env, argv[3], "store4", "word", &w)) return NULL;
  __atomic_store_n((uint32_t *)p, (uint32_t)w, __ATOMIC_SEQ_CST);
  return NULL;
}

/* copy8(id, toHi, toLo, fromHi, fromLo): 8 bytes from one word position to another, one load, one store. */
static napi_value Copy8(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *to = word_at(env, argv, "copy8", 2, NULL);
  if (to == NULL) return NULL;
  napi_value from_args[3] = {argv[0], argv[3], argv[4]};
  uint8_t *from = word_at(env, from_args, "copy8", 2, NULL);
  if (from == NULL) return NULL;
  if ((((uintptr_t)to | (uintptr_t)from) & 7) != 0) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "copy8: not 8-byte aligned");
  __atomic_store_n((uint64_t *)to, __atomic_load_n((uint64_t *)from, __ATOMIC_SEQ_CST), __ATOMIC_SEQ_CST);
  return NULL;
}

/*
 * A version 3 slot of `words` words (3 or 4: spec §16.1) stored whole with one 16-byte store:
 * a 12-byte slot's store carries the 4 bytes after it, read just before and stored back as
 * they were (the writer alone stores into the file).
 */
static void store_slot(uint8_t *p, const uint8_t *slot, int32_t words) {
  uint8_t bytes[16];
  memcpy(bytes, slot, (size_t)words * 4);
  if (words < 4) memcpy(bytes + 12, p + 12, 4);
  store16_once(p, bytes);
}

/* The words argument of storeSlot and copySlot: 3 or 4. */
static int slot_words(napi_env env, napi_value v, const char *fn, int32_t *words) {
  if (!idx_arg_int32(env, v, fn, "words", words)) return 0;
  if (*words != 3 && *words != 4) {
    idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: a slot is 3 or 4 words, not %d", fn, *words);
    return 0;
  }
  return 1;
}

/*
 * storeSlot(id, hi, lo, words, w0, w1, w2, w3): the version 3 slot at that word position :=
 * w0..w(words-1), with one store (store_slot). The 16 bytes stored must lie in the mapping.
 */
static napi_value StoreSlot(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t words, w[4];
  uint8_t *p = word_at(env, argv, "storeSlot", 4, NULL);
  if (p == NULL || !slot_words(env, argv[3], "storeSlot", &words)) return NULL;
  for (int i = 0; i < 4; i++)
    if (!idx_arg_int32(env, argv[4 + i], "storeSlot", "word", &w[i])) return NULL;
  store_slot(p, (const uint8_t *)w, words);
  return NULL;
}

/* copySlot(id, toHi, toLo, fromHi, fromLo, words): a version 3 slot copied to another, stored with one store. */
static napi_value CopySlot(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t words;
  uint8_t *to = word_at(env, argv, "copySlot", 4, NULL);
  if (to == NULL) return NULL;
  napi_value from_args[3] = {argv[0], argv[3], argv[4]};
  uint8_t *from = word_at(env, from_args, "copySlot", 4, NULL);
  if (from == NULL || !slot_words(env, argv[5], "copySlot", &words)) return NULL;
  uint8_t slot[16];
  memcpy(slot, from, (size_t)words * 4);
  store_slot(to, slot, words);
  return NULL;
}

/* store8u(id, hi, lo, word0, word1): words index, index+1 := word0, word1, in one 8-byte store at a 4-byte-aligned position. */
static napi_value Store8u(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t w0, w1;
  uint8_t *p = word_at(env, argv, "store8u", 2, NULL);
  if (p == NULL || !idx_arg_int32(env, argv[3], "store8u", "word0", &w0) || !idx_arg_int32(env, argv[4], "store8u", "word1", &w1)) return NULL;
  store8_once(p, (uint64_t)(uint32_t)w0 | ((uint64_t)(uint32_t)w1 << 32));
  return NULL;
}

/* crc(id, hi, lo, words) -> the CRC-32 of `words` words from that position, as an int32. */
static napi_value Crc(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t words;
  if (!idx_arg_int32(env, argv[3], "crc", "words", &words)) return NULL;
  if (words < 0 || words > (1 << 20)) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "crc: words out of range");
  uint8_t *p = word_at(env, argv, "crc", (size_t)words, NULL);
  if (p == NULL) return NULL;
  napi_value r;
  napi_create_int32(env, (int32_t)idx_crc32(p, (size_t)words * 4), &r);
  return r;
}

/*
 * touch(id, hi, lo, words): makes the pages of `words` words from that position present and
 * writable without changing a byte (an atomic add of 0 per page), so that an operation's
 * stores take no page fault between its odd and even seq (a first write to a page measured
 * about 100 us).
 */
static napi_value Touch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t words;
  if (!idx_arg_int32(env, argv[3], "touch", "words", &words)) return NULL;
  if (words < 1 || words > (1 << 28)) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "touch: words out of range");
  uint8_t *p = word_at(env, argv, "touch", (size_t)words, NULL);
  if (p == NULL) return NULL;
  const uintptr_t page = 4096;
  uint8_t *end = p + (size_t)words * 4;
  for (uintptr_t a = (uintptr_t)p & ~(uintptr_t)3; a < (uintptr_t)end; a = (a + page) & ~(page - 1))
    __atomic_fetch_add((uint32_t *)a, 0, __ATOMIC_RELAXED);
  __atomic_fetch_add((uint32_t *)(((uintptr_t)end - 1) & ~(uintptr_t)3), 0, __ATOMIC_RELAXED);
  return NULL;
}

napi_status idx_write_init(napi_env env, napi_value exports) {
  IDX_EXPORT(env, exports, "store8", Store8);
  IDX_EXPORT(env, exports, "storeCell", StoreCell);
  IDX_EXPORT(env, exports, "store4", Store4);
  IDX_EXPORT(env, exports, "copy8", Copy8);
  IDX_EXPORT(env, exports, "storeSlot", StoreSlot);
  IDX_EXPORT(env, exports, "copySlot", CopySlot);
  IDX_EXPORT(env, exports, "store8u", Store8u);
  IDX_EXPORT(env, exports, "crc", Crc);
  IDX_EXPORT(env, exports, "touch", Touch);
  return napi_ok;
}
