/*
 * A build's hashing, sorting and placing (spec §7, §16.4) in C: idxmap.builder hands the checked
 * key and value columns over as bytes and writes what comes back, which is byte-identical to the
 * Node package's builds (the cross tests compare files).
 *
 * The sort is the Node addon's (sort.h, a byte-identical copy of native/sort.h: big_alloc and
 * sort_records): a pass that scatters the pairs by their hash's top 11 bits, then each bucket,
 * small enough to stay in cache, by LSD radix over the rest of the bits. Version 2's pairs are
 * sorted packed in one u64 each (hash << 32 | value), here; version 3's as records of four words
 * (hash low, hash high, value low, value high), by sort.h.
 */
#define _GNU_SOURCE
#include "native.h"
#include "sort.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- version 2: packed u64 pairs, sorted by their high 32 bits (the hash) ---- */

static void insertion_sort_packed(uint64_t *a, size_t n) {
  for (size_t i = 1; i < n; i++) {
    uint64_t x = a[i];
    size_t j = i;
    while (j > 0 && (a[j - 1] >> 32) > (x >> 32)) {
      a[j] = a[j - 1];
      j--;
    }
    a[j] = x;
  }
}

/* LSD radix over hash bits [32, 32 + bits) of n pairs from src, tmp as scratch: stable. Returns
   where the sorted pairs are. Digits the same in every pair are skipped. */
static uint64_t *lsd_packed(uint64_t *src, uint64_t *tmp, size_t n, int bits, uint32_t *counts) {
  uint64_t *dst = tmp;
  for (int shift = 32; shift < 32 + bits; shift += BITS) {
    memset(counts, 0, RADIX * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++) counts[(src[i] >> shift) & MASK]++;
    uint32_t sum = 0;
    int same = 0;
    for (uint32_t d = 0; d < RADIX; d++) {
      if (counts[d] == n) same = 1;
      uint32_t c = counts[d];
      counts[d] = sum;
      sum += c;
    }
    if (same) continue;
    for (size_t i = 0; i < n; i++) dst[counts[(src[i] >> shift) & MASK]++] = src[i];
    uint64_t *t = src;
    src = dst;
    dst = t;
  }
  return src;
}

/* sort_records's shape for packed pairs: scatter by the top 11 bits, then each bucket in cache. */
static void sort_packed(uint64_t *a, uint64_t *scratch, size_t n, uint32_t *counts) {
  const int top = 32 - BITS;
  memset(counts, 0, RADIX * sizeof(uint32_t));
  for (size_t i = 0; i < n; i++) counts[a[i] >> (32 + top)]++;
  uint32_t *starts = counts + RADIX;
  uint32_t sum = 0;
  for (uint32_t d = 0; d < RADIX; d++) {
    starts[d] = sum;
    sum += counts[d];
  }
  uint32_t *fill = counts + 2 * RADIX;
  memcpy(fill, starts, RADIX * sizeof(uint32_t));
  for (size_t i = 0; i < n; i++) scratch[fill[a[i] >> (32 + top)]++] = a[i];
  for (uint32_t d = 0; d < RADIX; d++) {
    size_t from = starts[d], count = counts[d];
    if (count == 0) continue;
    uint64_t *b = scratch + from, *back = a + from;
    if (count < 32) {
      insertion_sort_packed(b, count);
      memcpy(back, b, count * 8);
      continue;
    }
    uint64_t *sorted = lsd_packed(b, back, count, top, counts + 3 * RADIX);
    if (sorted != back) memcpy(back, sorted, count * 8);
  }
}

/* ---- the table ---- */

/* A bytearray of `bytes`, its large interior advised into huge pages before the first write. */
static PyObject *slot_region(size_t bytes, uint8_t **out) {
  PyObject *region = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)bytes);
  if (region == NULL) return NULL;
  uint8_t *p = (uint8_t *)PyByteArray_AsString(region);
#ifdef MADV_HUGEPAGE
  if (bytes >= BIG_MIN) {
    uintptr_t a = ((uintptr_t)p + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1);
    uintptr_t b = ((uintptr_t)p + bytes) & ~(uintptr_t)(HUGE_ALIGN - 1);
    if (b > a) madvise((void *)a, b - a, MADV_HUGEPAGE);
  }
#endif
  *out = p;
  return region;
}

/* A key of the column at i (u32 or u64). */
static inline uint64_t column_at(const char *c, int wide, size_t i) {
  if (wide) {
    uint64_t v;
    memcpy(&v, c + 8 * i, 8);
    return v;
  }
  uint32_t v;
  memcpy(&v, c + 4 * i, 4);
  return v;
}

/*
 * build_table(keys, keys64, values, values64, key_bits, value_bits, capacity_of, spill)
 *   -> (slots, slot_count, reach, entries, escaped)
 * §7 for the pairs of two columns (bytes of u32, or u64 when keys64/values64; each key and value
 * fits key_bits/value_bits): hashed, sorted stably, one entry a distinct key with its last value,
 * the escaped key apart (escaped: its value, or None); capacity_of(entries) gives the capacity;
 * the entries placed (each at max(home, the slot after the last)) in a slot region of
 * max(capacity, the slot after the last entry) + spill slots (a bytearray: version 2's 8-byte
 * slots for 32-bit widths, else version 3's packed ones), EMPTY and 0 between them.
 */
static PyObject *build_table(PyObject *self, PyObject *args) {
  PyObject *keysObj, *valuesObj, *capacityOf;
  int keys64, values64;
  unsigned int keyBits, valueBits;
  Py_ssize_t spill;
  if (!PyArg_ParseTuple(args, "OpOpIIOn:build_table", &keysObj, &keys64, &valuesObj, &values64, &keyBits, &valueBits,
                        &capacityOf, &spill))
    return NULL;
  if (!(PyBytes_Check(keysObj) || PyByteArray_Check(keysObj)) || !(PyBytes_Check(valuesObj) || PyByteArray_Check(valuesObj))) {
    PyErr_SetString(PyExc_TypeError, "build_table: keys and values must be bytes or bytearrays");
    return NULL;
  }
  if ((keyBits != 32 && keyBits != 64) || (valueBits != 32 && valueBits != 64) || spill < 1) {
    PyErr_SetString(PyExc_ValueError, "build_table: widths must be 32 or 64, spill at least 1");
    return NULL;
  }
  Py_ssize_t kl, vl;
  const char *keys = idxn_bytes_of(keysObj, &kl, 0), *values = idxn_bytes_of(valuesObj, &vl, 0);
  if (keys == NULL || values == NULL) return NULL;
  if (keysObj == valuesObj && PyByteArray_Check(keysObj)) {
    PyErr_SetString(PyExc_ValueError, "build_table: keys and values must be two objects");
    return NULL;
  }
  size_t n = (size_t)kl / (keys64 ? 8 : 4);
  if ((size_t)kl % (keys64 ? 8 : 4) != 0 || (size_t)vl != n * (values64 ? 8 : 4) || n > 0xffffffffu) {
    PyErr_SetString(PyExc_ValueError, "build_table: the columns differ in length");
    return NULL;
  }
  const uint64_t maxKey = keyBits == 64 ? UINT64_MAX : 0xffffffffu, maxValue = valueBits == 64 ? UINT64_MAX : 0xffffffffu;
  const int v2 = keyBits == 32 && valueBits == 32;
  const size_t each = v2 ? 8 : 16;
  void *a = big_alloc((n ? n : 1) * each), *t = big_alloc((n ? n : 1) * each);
  uint32_t *counts = malloc(4 * RADIX * sizeof(uint32_t));
  if (a == NULL || t == NULL || counts == NULL) {
    big_free(a);
    big_free(t);
    free(counts);
    return PyErr_NoMemory();
  }
  size_t m = 0;
  int escaped = 0, bad = 0;
  uint64_t escapedValue = 0;
  const uint64_t empty = keyBits == 64 ? IDX_EMPTY_HASH64 : IDX_EMPTY_HASH;
  Py_BEGIN_ALLOW_THREADS
  for (size_t i = 0; i < n; i++) {
    uint64_t key = column_at(keys, keys64, i), value = column_at(values, values64, i);
    if (key > maxKey || value > maxValue) {
      bad = 1;
      break;
    }
    uint64_t h = keyBits == 64 ? idx_hash64(key) : idx_hash32((uint32_t)key);
    if (h == empty) {
      escaped = 1;
      escapedValue = value;
      continue;
    }
    if (v2) {
      ((uint64_t *)a)[m++] = h << 32 | value;
    } else {
      uint32_t *r = (uint32_t *)a + 4 * m++;
      r[0] = (uint32_t)h;
      r[1] = (uint32_t)(h >> 32);
      r[2] = (uint32_t)value;
      r[3] = (uint32_t)(value >> 32);
    }
  }
  if (!bad) {
    if (v2)
      sort_packed(a, t, m, counts);
    else
      sort_records(a, t, m, keyBits, counts);
  }
  Py_END_ALLOW_THREADS
  free(counts);
  big_free(t);
  if (bad) {
    big_free(a);
    PyErr_SetString(PyExc_ValueError, "build_table: a key or value is wider than its width");
    return NULL;
  }
  /* One entry a hash: the last of each run (the key's last pair; the sort is stable). */
  size_t entries = 0;
  if (v2) {
    uint64_t *p = a;
    for (size_t i = 0; i < m; i++)
      if (i + 1 == m || (p[i + 1] >> 32) != (p[i] >> 32)) p[entries++] = p[i];
  } else {
    uint32_t *r = a;
    for (size_t i = 0; i < m; i++)
      if (i + 1 == m || record_hash(r + 4 * (i + 1)) != record_hash(r + 4 * i)) memmove(r + 4 * entries++, r + 4 * i, 16);
  }
  PyObject *capObj = PyObject_CallFunction(capacityOf, "n", (Py_ssize_t)entries);
  if (capObj == NULL) {
    big_free(a);
    return NULL;
  }
  unsigned long long capacity = PyLong_AsUnsignedLongLong(capObj);
  Py_DECREF(capObj);
  if (PyErr_Occurred() || capacity == 0) {
    big_free(a);
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "build_table: capacity must be positive");
    return NULL;
  }
  /* The slot after the last entry, and the reach: placement measured first (no writes). */
  uint64_t next = 0, reach = 0;
  for (size_t j = 0; j < entries; j++) {
    uint64_t home = v2 ? idx_home((uint32_t)(((uint64_t *)a)[j] >> 32), capacity)
                       : idx_home(keyBits == 64 ? ((uint32_t *)a)[4 * j + 1] : ((uint32_t *)a)[4 * j], capacity);
    uint64_t pos = home > next ? home : next;
    if (pos - home > reach) reach = pos - home;
    next = pos + 1;
  }
  uint64_t slotCount = (capacity > next ? capacity : next) + (uint64_t)spill;
  const size_t slotBytes = v2 ? 8 : (keyBits + valueBits) / 8, words = slotBytes / 4;
  if (slotCount > (uint64_t)IDX_MAX_SLOTS_V3 || slotCount * slotBytes > (uint64_t)PY_SSIZE_T_MAX) {
    big_free(a);
    /* The caller's size check names the limit; say how many slots it would take. */
    return Py_BuildValue("(OKKnO)", Py_None, (unsigned long long)slotCount, (unsigned long long)reach, (Py_ssize_t)entries,
                         Py_None);
  }
  uint8_t *out;
  PyObject *region = slot_region((size_t)(slotCount * slotBytes), &out);
  if (region == NULL) {
    big_free(a);
    return NULL;
  }
  Py_BEGIN_ALLOW_THREADS
  uint32_t *o = (uint32_t *)out;
  uint64_t s = 0;
  for (size_t j = 0; j <= entries; j++) {
    uint64_t pos, h = 0, value = 0;
    if (j < entries) {
      if (v2) {
        uint64_t x = ((uint64_t *)a)[j];
        h = x >> 32;
        value = (uint32_t)x;
        pos = idx_home((uint32_t)h, capacity);
      } else {
        const uint32_t *r = (uint32_t *)a + 4 * j;
        h = record_hash(r);
        value = (uint64_t)r[3] << 32 | r[2];
        pos = idx_home(keyBits == 64 ? r[1] : r[0], capacity);
      }
      if (pos < s) pos = s;
    } else {
      pos = slotCount;
    }
    for (; s < pos; s++) { /* empty slots up to the entry */
      uint32_t *e = o + s * words;
      memset(e, 0, slotBytes);
      e[0] = IDX_EMPTY_HASH;
      if (keyBits == 64) e[1] = IDX_EMPTY_HASH;
    }
    if (j == entries) break;
    uint32_t *e = o + s * words;
    e[0] = (uint32_t)h;
    unsigned vw = 1;
    if (keyBits == 64) {
      e[1] = (uint32_t)(h >> 32);
      vw = 2;
    }
    e[vw] = (uint32_t)value;
    if (valueBits == 64) e[vw + 1] = (uint32_t)(value >> 32);
    s++;
  }
  Py_END_ALLOW_THREADS
  big_free(a);
  PyObject *escapedObj = escaped ? PyLong_FromUnsignedLongLong(escapedValue) : (Py_INCREF(Py_None), Py_None);
  if (escapedObj == NULL) {
    Py_DECREF(region);
    return NULL;
  }
  return Py_BuildValue("(NKKnN)", region, (unsigned long long)slotCount, (unsigned long long)reach, (Py_ssize_t)entries,
                       escapedObj);
}

PyMethodDef idxn_build_methods[] = {
    {"build_table", build_table, METH_VARARGS, "§7's hash, sort and placement of two columns: (slots, slot_count, reach, entries, escaped)"},
    {NULL},
};
