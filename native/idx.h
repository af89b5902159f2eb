/*
 * What the addon shares with the TypeScript side: the format's numbers (spec/FORMAT.md) and the
 * hash. src/os/native.ts compares every constant exported by constants() with its own copy in
 * src/core/ when it loads the addon, and refuses an addon that disagrees.
 */
#ifndef IDX_H
#define IDX_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

#define IDX_EMPTY_HASH 0xffffffffu
#define IDX_STATE_ESCAPED (1u << 28)
#define IDX_STATE_RETIRED (1u << 29)
/* Byte offsets of the cells both header versions have at the same place (spec §3). */
#define IDX_CELL_STATE 32
#define IDX_CELL_ESCAPED 40
#define IDX_CELL_SEQ 48
#define IDX_CELL_REACH_V2 64
#define IDX_HEADER_V1 64
#define IDX_HEADER_V2 128
/* The header checksum word, which covers version, capacity and slot count (spec §3, §14): a
   reader compares it with its value at open beside each seq check (§11.7, §11.8). */
#define IDX_CHECKSUM_V1 28
#define IDX_CHECKSUM_V2 12
#define IDX_MAX_SLOTS_V2 8589934592.0
/* Keys per seq check in getMany. */
#define IDX_CHUNK 64

static inline uint32_t idx_hash32(uint32_t x) {
  x ^= x >> 16; x *= 0x85ebca6bu; x ^= x >> 13; x *= 0xc2b2ae35u; x ^= x >> 16;
  return x;
}

static inline uint32_t idx_unhash32(uint32_t x) {
  x ^= x >> 16; x *= 0x7ed1b41du; x ^= (x >> 13) ^ (x >> 26); x *= 0xa5cb9243u; x ^= x >> 16;
  return x;
}

/* spec §4: (h * capacity) >> 32 for capacity up to 2^33, exact in 64-bit arithmetic. */
static inline uint64_t idx_home(uint32_t h, uint64_t capacity) {
  return (uint64_t)h * (capacity >> 32) + (((uint64_t)h * (uint32_t)capacity) >> 32);
}

/* ---- arguments: every value from JS is checked here before it is used ---- */

napi_value idx_throw(napi_env env, const char *code, const char *fmt, ...);
int idx_arg_u32(napi_env env, napi_value v, const char *fn, const char *name, uint32_t *out);
int idx_arg_int32(napi_env env, napi_value v, const char *fn, const char *name, int32_t *out);
/* A whole number in [min, max] (a double, for sizes past 2^32). */
int idx_arg_whole(napi_env env, napi_value v, const char *fn, const char *name, double min, double max, double *out);
int idx_arg_bool(napi_env env, napi_value v, const char *fn, const char *name, bool *out);
/* A typed array of exactly `type`; *len in elements. null/undefined allowed when nullable (data NULL). */
int idx_arg_typed(napi_env env, napi_value v, const char *fn, const char *name, napi_typedarray_type type, int nullable,
                  void **data, size_t *len);
int idx_arg_string(napi_env env, napi_value v, const char *fn, const char *name, char *buf, size_t size);
napi_value idx_undefined(napi_env env);
napi_value idx_number(napi_env env, double x);

/* ---- mapping.c ---- */

typedef struct idx_mapping idx_mapping;
/* The live mapping with this id, or NULL (after throwing). */
idx_mapping *idx_mapping_get(napi_env env, napi_value id, const char *fn);
const uint8_t *idx_mapping_base(const idx_mapping *m);
size_t idx_mapping_length(const idx_mapping *m);
int idx_mapping_writable(const idx_mapping *m);
uint32_t idx_crc32(const uint8_t *p, size_t n);
napi_status idx_mapping_init(napi_env env, napi_value exports);

/* ---- lookup.c, build.c ---- */

napi_status idx_lookup_init(napi_env env, napi_value exports);
napi_status idx_build_init(napi_env env, napi_value exports);
napi_status idx_write_init(napi_env env, napi_value exports);

#define IDX_EXPORT(env, exports, name, fn)                                                  \
  do {                                                                                     \
    napi_value f_;                                                                         \
    if (napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f_) != napi_ok ||     \
        napi_set_named_property(env, exports, name, f_) != napi_ok)                        \
      return napi_generic_failure;                                                         \
  } while (0)

#endif
