/**
 * The hash and the slot mapping of spec/FORMAT.md §4. Both are exact integer functions: a reader
 * in any language must compute the same numbers, so nothing here may depend on float rounding.
 */

const imul = Math.imul;

/**
 * MurmurHash3's 32-bit finalizer (fmix32). A bijection on uint32, so the stored hash identifies
 * its key and the key can be recovered with {@link unhash32}; its avalanche spreads sequential,
 * strided (i * 2^k) and high-bit-only key sets as evenly as random ones.
 */
export function hash32(key: number): number {
  // As few bytecodes as it takes (imul a module const): a 32-bit get inlines it once, a 64-bit
  // get twice, inside V8's inlining budget (test/inlining.test.ts).
  const x = imul(key ^ (key >>> 16), 0x85ebca6b);
  const y = imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (y ^ (y >>> 16)) >>> 0;
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
 * product is split at 16 bits: for every capacity below 2^37 (version 2 allows up to 2^33) each
 * part stays below 2^53 and every step is exact. Version 3's capacities, up to 2^40 (§16.4),
 * split the capacity at 2^20 instead, as the spec gives it.
 */
export function homeSlot(hash: number, capacity: number): number {
  if (capacity < 2 ** 37) return Math.floor(((hash >>> 16) * capacity + Math.floor(((hash & 0xffff) * capacity) / 65536)) / 65536);
  const c1 = Math.floor(capacity / 2 ** 20);
  const a = hash * c1;
  const r = a % 4096;
  return (a - r) / 4096 + Math.floor((r * 2 ** 20 + hash * (capacity - c1 * 2 ** 20)) / 2 ** 32);
}

/** §16.3's round constants (the addon's are checked against these when it loads). */
export const ROUND_1 = 0x9e3779b9;
export const ROUND_2 = 0x85ebca77;
export const ROUND_3 = 0xc2b2ae3d;
export const ROUND_4 = 0x27d4eb2f;

/**
 * §16.3: the hash of a 64-bit key, a four-round Feistel network of fmix32 over its halves, in
 * 32-bit arithmetic: no 64-bit multiply, nothing allocated. Writes the hash's halves to
 * out[0] (low) and out[1] (high), as they lie in a slot (little-endian).
 */
export function hash64Into(hi: number, lo: number, out: Uint32Array): void {
  lo = (lo ^ hash32((hi ^ ROUND_1) >>> 0)) >>> 0;
  hi = (hi ^ hash32((lo ^ ROUND_2) >>> 0)) >>> 0;
  lo = (lo ^ hash32((hi ^ ROUND_3) >>> 0)) >>> 0;
  hi = (hi ^ hash32((lo ^ ROUND_4) >>> 0)) >>> 0;
  out[0] = lo;
  out[1] = hi;
}

/** The inverse of hash64Into: the key's halves, out[0] low and out[1] high. */
export function unhash64Into(hi: number, lo: number, out: Uint32Array): void {
  hi = (hi ^ hash32((lo ^ ROUND_4) >>> 0)) >>> 0;
  lo = (lo ^ hash32((hi ^ ROUND_3) >>> 0)) >>> 0;
  hi = (hi ^ hash32((lo ^ ROUND_2) >>> 0)) >>> 0;
  lo = (lo ^ hash32((hi ^ ROUND_1) >>> 0)) >>> 0;
  out[0] = lo;
  out[1] = hi;
}

const scratch64 = new Uint32Array(2);

/** hash64Into on a bigint key: for code that is not a hot loop. */
export function hash64(key: bigint): bigint {
  hash64Into(Number(key >> 32n), Number(key & 0xffffffffn), scratch64);
  return (BigInt(scratch64[1]) << 32n) | BigInt(scratch64[0]);
}

export function unhash64(hash: bigint): bigint {
  unhash64Into(Number(hash >> 32n), Number(hash & 0xffffffffn), scratch64);
  return (BigInt(scratch64[1]) << 32n) | BigInt(scratch64[0]);
}

/** §16.3: the home slot of a 64-bit hash, from its high half (§4's formula on it). */
export function homeSlot64(hashHigh: number, capacity: number): number {
  return homeSlot(hashHigh, capacity);
}
