/*
 * The addon's Node-API helpers and its modules' entry points. The format's numbers and the hash
 * are in format.h (no Node-API: a test harness compiles it alone).
 */
#ifndef IDX_H
#define IDX_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

#include "format.h"

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
/* A typed array of type a or b; *actual says which. */
/* idx_arg_typed that refuses an array over a SharedArrayBuffer (build.c's loops). */
int idx_arg_own(napi_env env, napi_value v, const char *fn, const char *name, napi_typedarray_type type, int nullable,
                void **data, size_t *len);
int idx_arg_typed2(napi_env env, napi_value v, const char *fn, const char *name, napi_typedarray_type a,
                   napi_typedarray_type b, void **data, size_t *len, napi_typedarray_type *actual);
/* A bigint from 0 to 2^64 - 1, exactly. */
int idx_arg_u64(napi_env env, napi_value v, const char *fn, const char *name, uint64_t *out);
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
/* Not lost, not replaced: what it shows is the file's (a reader's getMany checks it around its loop). */
int idx_mapping_ok(const idx_mapping *m);
napi_status idx_mapping_init(napi_env env, napi_value exports);

/* ---- lookup.c, build.c ---- */

napi_status idx_lookup_init(napi_env env, napi_value exports);
napi_status idx_build_init(napi_env env, napi_value exports);
napi_status idx_write_init(napi_env env, napi_value exports);
/* Whether v is a whole Uint32Array from build.c's words() (its data and length in words then, else NULL). */
uint32_t *idx_words_of(napi_env env, napi_value v, size_t *length);

/* ---- writeback.c ---- */

napi_status idx_writeback_init(napi_env env, napi_value exports);
/* Returns once no write behind reads `memory` (an array of words()), before it is freed. */
void idx_writeback_wait_for(const void *memory);

/* ---- crc32.c: spec §1's CRC-32 of p[0..n) ---- */

uint32_t idx_crc32(const uint8_t *p, size_t n);
/* The checksum of each blockBytes of data[0..n) (the last block the rest), little-endian at out[4b..4b + 4). */
void idx_block_checksums(const uint8_t *data, size_t n, size_t blockBytes, uint8_t *out);
napi_status idx_crc_init(napi_env env, napi_value exports);

#define IDX_EXPORT(env, exports, name, fn)                                                  \
  do {                                                                                     \
    napi_value f_;                                                                         \
    if (napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f_) != napi_ok ||     \
        napi_set_named_property(env, exports, name, f_) != napi_ok)                        \
      return napi_generic_failure;                                                         \
  } while (0)

#endif
