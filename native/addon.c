/*
 * idx's native addon (Node-API only: one binary serves every Node version). What Node has no
 * API for, and the loops JS cannot make fast:
 *
 *  constants()             the format's numbers as compiled here (src/os/native.ts checks them)
 *  flock(fd, op, wait)     the writer lock (src/os/lock.ts): released by the kernel when its
 *                          holder dies
 *  map, window, release,   file mappings (mapping.c): an arena of address space, SIGBUS
 *  sync, state, watch      survival, and a watcher for files replaced behind a reader's back
 *  getMany, formatPairs    batch lookup with software prefetch; dump's formatting (lookup.c);
 *  getManyWide,            the same for version 3 files (64-bit keys or values, spec §16)
 *  formatPairsWide
 *  hashSort, placeSorted,  the builder's loops (build.c)
 *  parseLines
 *
 * Every argument is checked here, whatever the JS side checked: no JS value can make the addon
 * read or write memory it should not.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

#include "idx.h"

napi_value idx_throw(napi_env env, const char *code, const char *fmt, ...) {
  char message[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, code, message);
  return NULL;
}

napi_value idx_undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

napi_value idx_number(napi_env env, double x) {
  napi_value v;
  napi_create_double(env, x, &v);
  return v;
}

static int number_of(napi_env env, napi_value v, const char *fn, const char *name, double *out) {
  napi_valuetype t;
  if (v == NULL || napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: %s must be a number", fn, name);
    return 0;
  }
  napi_get_value_double(env, v, out);
  return 1;
}

int idx_arg_whole(napi_env env, napi_value v, const char *fn, const char *name, double min, double max, double *out) {
  double x;
  if (!number_of(env, v, fn, name, &x)) return 0;
  if (!(x >= min && x <= max) || x != (double)(int64_t)x) {
    idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: %s must be a whole number from %.0f to %.0f", fn, name, min, max);
    return 0;
  }
  *out = x;
  return 1;
}

int idx_arg_u32(napi_env env, napi_value v, const char *fn, const char *name, uint32_t *out) {
  double x;
  if (!idx_arg_whole(env, v, fn, name, 0, 4294967295.0, &x)) return 0;
  *out = (uint32_t)x;
  return 1;
}

int idx_arg_int32(napi_env env, napi_value v, const char *fn, const char *name, int32_t *out) {
  double x;
  if (!idx_arg_whole(env, v, fn, name, -2147483648.0, 2147483647.0, &x)) return 0;
  *out = (int32_t)x;
  return 1;
}

int idx_arg_bool(napi_env env, napi_value v, const char *fn, const char *name, bool *out) {
  napi_valuetype t;
  if (v == NULL || napi_typeof(env, v, &t) != napi_ok || t != napi_boolean) {
    idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: %s must be a boolean", fn, name);
    return 0;
  }
  napi_get_value_bool(env, v, out);
  return 1;
}

static const char *type_name(napi_typedarray_type t) {
  switch (t) {
    case napi_uint8_array: return "Uint8Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float64_array: return "Float64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "typed array";
  }
}

/* v's typed array if it is one of `a` or `b` (b = a for one type); 0 after throwing if not. */
static int typed_of(napi_env env, napi_value v, const char *fn, const char *name, napi_typedarray_type a,
                    napi_typedarray_type b, void **data, size_t *len, napi_typedarray_type *actual) {
  bool is = false;
  if (v == NULL || napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, actual, len, data, NULL, NULL) != napi_ok || (*actual != a && *actual != b)) {
    if (a == b)
      idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: %s must be a %s", fn, name, type_name(a));
    else
      idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: %s must be a %s or a %s", fn, name, type_name(a), type_name(b));
    return 0;
  }
  /* An empty (or detached) array has no data: point at a word that is never read. */
  static uint64_t nothing;
  if (*data == NULL) *data = &nothing;
  return 1;
}

int idx_arg_typed(napi_env env, napi_value v, const char *fn, const char *name, napi_typedarray_type type, int nullable,
                  void **data, size_t *len) {
  *data = NULL;
  *len = 0;
  napi_valuetype t = napi_undefined;
  if (v != NULL) napi_typeof(env, v, &t);
  if (nullable && (t == napi_null || t == napi_undefined)) return 1;
  napi_typedarray_type actual;
  return typed_of(env, v, fn, name, type, type, data, len, &actual);
}

/*
 * idx_arg_typed for the build's loops (build.c), which read an array more than once and index
 * memory by what they read: one over a SharedArrayBuffer, which another thread may write during
 * the call, is refused (a count pass and a scatter pass that disagree would write past a bucket).
 * Any other array cannot change while a call runs.
 */
int idx_arg_own(napi_env env, napi_value v, const char *fn, const char *name, napi_typedarray_type type, int nullable,
                void **data, size_t *len) {
  if (!idx_arg_typed(env, v, fn, name, type, nullable, data, len)) return 0;
  napi_valuetype t = napi_undefined;
  if (v != NULL) napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) return 1;
  napi_value buffer;
  bool plain = false;
  if (napi_get_typedarray_info(env, v, NULL, NULL, NULL, &buffer, NULL) != napi_ok || napi_is_arraybuffer(env, buffer, &plain) != napi_ok || !plain) {
    idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: %s must not be over a SharedArrayBuffer", fn, name);
    return 0;
  }
  return 1;
}

int idx_arg_typed2(napi_env env, napi_value v, const char *fn, const char *name, napi_typedarray_type a,
                   napi_typedarray_type b, void **data, size_t *len, napi_typedarray_type *actual) {
  *data = NULL;
  *len = 0;
  return typed_of(env, v, fn, name, a, b, data, len, actual);
}

int idx_arg_u64(napi_env env, napi_value v, const char *fn, const char *name, uint64_t *out) {
  napi_valuetype t;
  bool lossless = false;
  if (v == NULL || napi_typeof(env, v, &t) != napi_ok || t != napi_bigint ||
      napi_get_value_bigint_uint64(env, v, out, &lossless) != napi_ok || !lossless) {
    idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: %s must be a bigint from 0n to 18446744073709551615n", fn, name);
    return 0;
  }
  return 1;
}

int idx_arg_string(napi_env env, napi_value v, const char *fn, const char *name, char *buf, size_t size) {
  napi_valuetype t;
  size_t n = 0;
  if (v == NULL || napi_typeof(env, v, &t) != napi_ok || t != napi_string ||
      napi_get_value_string_utf8(env, v, buf, size, &n) != napi_ok || n + 1 >= size || strlen(buf) != n) {
    idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: %s must be a string without NUL of fewer than %zu bytes", fn, name, size);
    return 0;
  }
  return 1;
}

/* flock(fd, op, wait) -> 0 or errno: op 0 unlock, 1 shared, 2 exclusive; wait false = LOCK_NB. */
static napi_value Flock(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3] = {NULL, NULL, NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, op;
  bool wait;
  if (!idx_arg_int32(env, argv[0], "flock", "fd", &fd) || !idx_arg_int32(env, argv[1], "flock", "op", &op) ||
      !idx_arg_bool(env, argv[2], "flock", "wait", &wait))
    return NULL;
  if (fd < 0 || op < 0 || op > 2) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "flock: bad fd %d or op %d", fd, op);
  int how = op == 0 ? LOCK_UN : (op == 1 ? LOCK_SH : LOCK_EX);
  if (!wait && op != 0) how |= LOCK_NB;
  int rc;
  do { rc = flock(fd, how); } while (rc != 0 && errno == EINTR);
  return idx_number(env, rc == 0 ? 0 : errno);
}

static napi_status set_number(napi_env env, napi_value obj, const char *name, double x) {
  return napi_set_named_property(env, obj, name, idx_number(env, x));
}

static napi_status set_bigint(napi_env env, napi_value obj, const char *name, uint64_t x) {
  napi_value v;
  napi_status st = napi_create_bigint_uint64(env, x, &v);
  return st != napi_ok ? st : napi_set_named_property(env, obj, name, v);
}

/* constants() -> the numbers this addon was compiled with, for the load-time check (64-bit
   words as bigints). */
static napi_value Constants(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value o;
  napi_create_object(env, &o);
  set_number(env, o, "emptyHash", IDX_EMPTY_HASH);
  set_number(env, o, "stateEscaped", IDX_STATE_ESCAPED);
  set_number(env, o, "stateRetired", IDX_STATE_RETIRED);
  set_number(env, o, "cellState", IDX_CELL_STATE);
  set_number(env, o, "cellEscaped", IDX_CELL_ESCAPED);
  set_number(env, o, "cellSeq", IDX_CELL_SEQ);
  set_number(env, o, "cellReachV2", IDX_CELL_REACH_V2);
  set_number(env, o, "headerV1", IDX_HEADER_V1);
  set_number(env, o, "headerV2", IDX_HEADER_V2);
  set_number(env, o, "checksumV1", IDX_CHECKSUM_V1);
  set_number(env, o, "checksumV2", IDX_CHECKSUM_V2);
  set_number(env, o, "maxSlotsV2", IDX_MAX_SLOTS_V2);
  set_number(env, o, "chunk", IDX_CHUNK);
  /* The hash and the slot mapping, at values the spec's test vectors pin down. */
  set_number(env, o, "hashOf1", idx_hash32(1));
  set_number(env, o, "unhashOfEmpty", idx_unhash32(IDX_EMPTY_HASH));
  set_number(env, o, "homeOf4294967295In4908534053", (double)idx_home(idx_hash32(4294967295u), 4908534053ull));
  set_number(env, o, "homeOfEmptyIn8589934591", (double)idx_home(IDX_EMPTY_HASH, 8589934591ull));
  /* Version 3 (§16). */
  set_number(env, o, "headerV3", IDX_HEADER_V3);
  set_number(env, o, "slotBytes64x32", idx_slot_bytes_v3(64, 32));
  set_number(env, o, "slotBytes32x64", idx_slot_bytes_v3(32, 64));
  set_number(env, o, "slotBytes64x64", idx_slot_bytes_v3(64, 64));
  set_number(env, o, "slotsPerBlockV3", IDX_SLOTS_PER_BLOCK_V3);
  set_number(env, o, "cellEscapedHigh", IDX_CELL_ESCAPED_HIGH);
  set_number(env, o, "maxSlotsV3", IDX_MAX_SLOTS_V3);
  set_bigint(env, o, "emptyHash64", IDX_EMPTY_HASH64);
  set_number(env, o, "round1", IDX_ROUND1);
  set_number(env, o, "round2", IDX_ROUND2);
  set_number(env, o, "round3", IDX_ROUND3);
  set_number(env, o, "round4", IDX_ROUND4);
  set_bigint(env, o, "hash64Of1", idx_hash64(1));
  set_bigint(env, o, "hash64OfMax", idx_hash64(UINT64_MAX));
  set_bigint(env, o, "unhash64OfEmpty", idx_unhash64(IDX_EMPTY_HASH64));
  /* §16.3's vector: key 2^64 - 2 -> 0x940e3ed9ef8228d3 -> home 4967923121 at capacity 8589934591. */
  set_number(env, o, "home64Of18446744073709551614In8589934591",
             (double)idx_home((uint32_t)(idx_hash64(UINT64_MAX - 1) >> 32), 8589934591ull));
  /* Homes at version 3's capacities, whose products need 72 bits (§16.4): the largest, and one
     that a product rounded to 53 bits puts one slot too far. */
  set_number(env, o, "homeOfEmptyIn1099511627775", (double)idx_home(IDX_EMPTY_HASH, 1099511627775ull));
  set_number(env, o, "homeOf4067499563In637433271445", (double)idx_home(4067499563u, 637433271445ull));
  return o;
}

static napi_status addon_init(napi_env env, napi_value exports) {
  IDX_EXPORT(env, exports, "constants", Constants);
  IDX_EXPORT(env, exports, "flock", Flock);
  return napi_ok;
}

static napi_value Init(napi_env env, napi_value exports) {
  if (addon_init(env, exports) != napi_ok || idx_mapping_init(env, exports) != napi_ok || idx_lookup_init(env, exports) != napi_ok || idx_write_init(env, exports) != napi_ok ||
      idx_build_init(env, exports) != napi_ok || idx_crc_init(env, exports) != napi_ok ||
      idx_writeback_init(env, exports) != napi_ok) {
    napi_throw_error(env, NULL, "idx: the native addon failed to initialize");
    return NULL;
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
