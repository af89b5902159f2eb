/*
 * spec §1's CRC-32 (zlib's), for the writer's cells and the builder's 4 KiB blocks: by the CPU's
 * own instructions where it has them (x86-64 carry-less multiply, arm64's CRC32), else 8 bytes a
 * step from tables. A build of 10 M 64-bit pairs checksums 183 MB; zlib.crc32 (Node's build of
 * zlib does not turn on its SIMD path for crc32 alone) took 50 ms of it, one JS call a block.
 */
#include <string.h>

#include "idx.h"

/* ---- slicing-by-8: any CPU ---- */

static uint32_t crc_tables[8][256];
static int crc_ready; /* set once the tables are whole; a thread that races fills them the same */

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    crc_tables[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++) crc_tables[t][i] = (crc_tables[t - 1][i] >> 8) ^ crc_tables[0][crc_tables[t - 1][i] & 0xff];
  __atomic_store_n(&crc_ready, 1, __ATOMIC_RELEASE);
}

/* The register c (not inverted in or out) after p[0..n). */
static uint32_t crc_tables_update(uint32_t c, const uint8_t *p, size_t n) {
  if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE)) crc_init();
  while (n >= 8) {
    uint32_t a, b;
    memcpy(&a, p, 4);
    memcpy(&b, p + 4, 4);
    a ^= c;
    c = crc_tables[7][a & 0xff] ^ crc_tables[6][(a >> 8) & 0xff] ^ crc_tables[5][(a >> 16) & 0xff] ^ crc_tables[4][a >> 24] ^
        crc_tables[3][b & 0xff] ^ crc_tables[2][(b >> 8) & 0xff] ^ crc_tables[1][(b >> 16) & 0xff] ^ crc_tables[0][b >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = crc_tables[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

/* ---- x86-64: folding by carry-less multiply (Intel's "Fast CRC Computation for Generic
   Polynomials Using PCLMULQDQ", its constants for the reflected 0xEDB88320, as Linux's
   crc32-pclmul and Chromium's zlib use them) ---- */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>

static int cpu_has_clmul(void) {
  static int known = -1;
  int v = __atomic_load_n(&known, __ATOMIC_RELAXED);
  if (v >= 0) return v;
  unsigned a, b, c, d;
  v = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 1)) && (c & (1u << 19)); /* PCLMULQDQ, SSE4.1 */
  __atomic_store_n(&known, v, __ATOMIC_RELAXED);
  return v;
}

/* The register c after p[0..n), n a multiple of 16 and at least 64. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t crc_clmul(uint32_t c, const uint8_t *p, size_t n) {
  const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
  const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
  const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124);
  const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641);
  const __m128i low32 = _mm_setr_epi32(~0, 0, ~0, 0);
  __m128i x1 = _mm_loadu_si128((const __m128i *)p), x2 = _mm_loadu_si128((const __m128i *)(p + 16));
  __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 32)), x4 = _mm_loadu_si128((const __m128i *)(p + 48));
  x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)c));
  p += 64;
  n -= 64;
  while (n >= 64) { /* four lanes folded 64 bytes ahead */
    __m128i x5 = _mm_clmulepi64_si128(x1, k1k2, 0x00), x6 = _mm_clmulepi64_si128(x2, k1k2, 0x00);
    __m128i x7 = _mm_clmulepi64_si128(x3, k1k2, 0x00), x8 = _mm_clmulepi64_si128(x4, k1k2, 0x00);
    x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k1k2, 0x11), x5), _mm_loadu_si128((const __m128i *)p));
    x2 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x2, k1k2, 0x11), x6), _mm_loadu_si128((const __m128i *)(p + 16)));
    x3 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x3, k1k2, 0x11), x7), _mm_loadu_si128((const __m128i *)(p + 32)));
    x4 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x4, k1k2, 0x11), x8), _mm_loadu_si128((const __m128i *)(p + 48)));
    p += 64;
    n -= 64;
  }
  /* The four lanes into one, then 16 bytes at a time. */
  x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), _mm_clmulepi64_si128(x1, k3k4, 0x00)), x2);
  x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), _mm_clmulepi64_si128(x1, k3k4, 0x00)), x3);
  x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), _mm_clmulepi64_si128(x1, k3k4, 0x00)), x4);
  while (n >= 16) {
    x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), _mm_clmulepi64_si128(x1, k3k4, 0x00)),
                       _mm_loadu_si128((const __m128i *)p));
    p += 16;
    n -= 16;
  }
  /* 128 bits to 64, then Barrett's reduction to 32. */
  __m128i x2b = _mm_clmulepi64_si128(x1, k3k4, 0x10);
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2b);
  x2b = _mm_srli_si128(x1, 4);
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, low32), k5, 0x00), x2b);
  x2b = _mm_clmulepi64_si128(_mm_and_si128(x1, low32), poly, 0x10);
  x2b = _mm_clmulepi64_si128(_mm_and_si128(x2b, low32), poly, 0x00);
  x1 = _mm_xor_si128(x1, x2b);
  return (uint32_t)_mm_extract_epi32(x1, 1);
}
#endif

/* ---- arm64: the CRC32 instructions (ARMv8.1 has them always; most v8.0 cores too) ---- */

#if defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#if defined(__linux__)
#include <sys/auxv.h>
#endif

static int cpu_has_crc32(void) {
#if defined(__APPLE__)
  return 1;
#elif defined(__linux__)
  return (getauxval(AT_HWCAP) & (1ul << 7)) != 0; /* HWCAP_CRC32 */
#else
  return 0;
#endif
}

static uint32_t crc_arm(uint32_t c, const uint8_t *p, size_t n) {
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    __asm__(".arch_extension crc\n\tcrc32x %w0, %w0, %x1" : "+r"(c) : "r"(v));
    p += 8;
    n -= 8;
  }
  while (n--) {
    uint32_t b = *p++;
    __asm__(".arch_extension crc\n\tcrc32b %w0, %w0, %w1" : "+r"(c) : "r"(b));
  }
  return c;
}
#endif

uint32_t idx_crc32(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (n >= 64 && cpu_has_clmul()) {
    size_t whole = n & ~(size_t)15;
    c = crc_clmul(c, p, whole);
    p += whole;
    n -= whole;
  }
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
  static int arm = -1;
  int a = __atomic_load_n(&arm, __ATOMIC_RELAXED);
  if (a < 0) __atomic_store_n(&arm, a = cpu_has_crc32(), __ATOMIC_RELAXED);
  if (a) return crc_arm(c, p, n) ^ 0xffffffffu;
#endif
  return crc_tables_update(c, p, n) ^ 0xffffffffu;
}

/* The table path alone, whatever the CPU has: the tests compare the two. */
static uint32_t crc32_tables(const uint8_t *p, size_t n) {
  return crc_tables_update(0xffffffffu, p, n) ^ 0xffffffffu;
}

static void block_checksums(const uint8_t *data, size_t n, size_t blockBytes, uint8_t *out, int tablesOnly) {
  for (size_t b = 0, at = 0; at < n; b++, at += blockBytes) {
    size_t len = n - at < blockBytes ? n - at : blockBytes;
    uint32_t c = tablesOnly ? crc32_tables(data + at, len) : idx_crc32(data + at, len);
    uint8_t *o = out + 4 * b;
    o[0] = (uint8_t)c;
    o[1] = (uint8_t)(c >> 8);
    o[2] = (uint8_t)(c >> 16);
    o[3] = (uint8_t)(c >> 24);
  }
}

void idx_block_checksums(const uint8_t *data, size_t n, size_t blockBytes, uint8_t *out) {
  block_checksums(data, n, blockBytes, out, 0);
}

/*
 * blockChecksums(data u8[], blockBytes, out u8[], tablesOnly?)
 * The CRC-32 of each blockBytes of data (the last block the rest), written little-endian (as
 * the file holds them, §6) at out[4b]: out takes 4 bytes a block.
 */
static napi_value BlockChecksums(napi_env env, napi_callback_info info) {
  static const char *fn = "blockChecksums";
  size_t argc = 4;
  napi_value argv[4] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *data, *out;
  size_t n, on;
  uint32_t blockBytes;
  bool tablesOnly = false;
  if (!idx_arg_typed(env, argv[0], fn, "data", napi_uint8_array, 0, (void **)&data, &n) ||
      !idx_arg_u32(env, argv[1], fn, "blockBytes", &blockBytes) ||
      !idx_arg_typed(env, argv[2], fn, "out", napi_uint8_array, 0, (void **)&out, &on) ||
      (argc >= 4 && argv[3] != NULL && !idx_arg_bool(env, argv[3], fn, "tablesOnly", &tablesOnly)))
    return NULL;
  if (blockBytes == 0) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: blockBytes must be at least 1", fn);
  size_t blocks = n / blockBytes + (n % blockBytes != 0);
  if (on / 4 < blocks) return idx_throw(env, "ERR_IDX_INVALID_ARGUMENT", "%s: out holds %zu checksums, not the %zu blocks of data", fn, on / 4, blocks);
  block_checksums(data, n, blockBytes, out, tablesOnly);
  return idx_undefined(env);
}

napi_status idx_crc_init(napi_env env, napi_value exports) {
  IDX_EXPORT(env, exports, "blockChecksums", BlockChecksums);
  return napi_ok;
}
