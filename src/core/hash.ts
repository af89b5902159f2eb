/**
 * The hash and the slot mapping of spec/FORMAT.md §4. Both are exact integer functions: a reader
 * in any language must compute the same numbers, so nothing here may depend on float rounding.
 */

/**
 * MurmurHash3's 32-bit finalizer (fmix32). A bijection on uint32, so the stored hash identifies
 * its key and the key can be recovered with {@link unhash32}; its avalanche spreads sequential,
 * strided (i * 2^k) and high-bit-only key sets as evenly as random ones.
 */
export function hash32(key: number): number {
  let x = key;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The inverse of {@link hash32}: unhash32(hash32(k)) === k for every uint32 k. */
export function unhash32(hash: number): number {
  let x = hash;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7ed1b41d); // 0xc2b2ae35^-1 mod 2^32
  x ^= (x >>> 13) ^ (x >>> 26);
  x = Math.imul(x, 0xa5cb9243); // 0x85ebca6b^-1 mod 2^32
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * home = floor(hash * capacity / 2^32) (§4). It is monotone in the hash, which is what lets the
 * table keep slots sorted by hash (§5). JS has no 64-bit integer multiply without BigInt, so the
 * product is split at 16 bits: for every capacity below 2^37 (the format allows up to 2^33) each
 * part stays below 2^53 and every step is exact.
 */
export function homeSlot(hash: number, capacity: number): number {
  return Math.floor(((hash >>> 16) * capacity + Math.floor(((hash & 0xffff) * capacity) / 65536)) / 65536);
}
