/*
 * Stores that no crash or reader sees half done (spec §16.6), shared by the Node addon
 * (native/write.c) and the Python extension (python/src/idxmap/_native/slots.c, through a
 * byte-identical copy that the tests compare). Plain C.
 */
#ifndef IDX_STORES_H
#define IDX_STORES_H

#include <stdint.h>
#include <string.h>

/*
 * One store instruction of 16 bytes at any 4-byte-aligned address (spec §16.6): a process is
 * stopped or killed between instructions, never inside one, so whatever is stored here is
 * stored whole. Inline assembly, so that no compiler splits it: x86-64 movdqu (SSE2), arm64 a
 * 16-byte str of a vector register. Elsewhere two 8-byte stores (idx ships neither).
 */
static inline void store16_once(uint8_t *p, const uint8_t *v) {
#if defined(__x86_64__)
  __asm__ __volatile__("movdqu (%1), %%xmm0\n\tmovdqu %%xmm0, (%0)" : : "r"(p), "r"(v) : "xmm0", "memory");
#elif defined(__aarch64__)
  __asm__ __volatile__("ldr q16, [%1]\n\tstr q16, [%0]" : : "r"(p), "r"(v) : "v16", "memory");
#else
  memcpy(p, v, 16);
#endif
}

/* One 8-byte store instruction at any 4-byte-aligned address (a 64-bit value of a 12-byte slot). */
static inline void store8_once(uint8_t *p, uint64_t v) {
#if defined(__x86_64__)
  __asm__ __volatile__("movq %1, (%0)" : : "r"(p), "r"(v) : "memory");
#elif defined(__aarch64__)
  __asm__ __volatile__("str %x1, [%0]" : : "r"(p), "r"(v) : "memory");
#else
  memcpy(p, &v, 8);
#endif
}

#endif
