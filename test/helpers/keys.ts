/**
 * Key sets for model-based tests, over the hash of spec/FORMAT.md §4 written out again in
 * spec.js, so the tests can aim keys at slots without trusting src/hash.ts.
 */
import { createRequire } from "node:module";

interface Spec {
  MAX_U32: number;
  /** unhash(0xFFFFFFFF), printed in spec/FORMAT.md §5.1. */
  SPEC_ESCAPED_KEY: number;
  /** mulberry32: a seeded generator of uint32s. */
  rng(seed: number): () => number;
  /** fmix32, as printed in spec/FORMAT.md §4. */
  specHash(key: number): number;
  /** The inverse of fmix32, as printed in spec/FORMAT.md §4. */
  specUnhash(hash: number): number;
}

export const { MAX_U32, SPEC_ESCAPED_KEY, rng, specHash, specUnhash } = createRequire(__filename)("./spec.js") as Spec;

export const range = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i) >>> 0);

/** Named structured key sets of about n keys each (fewer when the structure runs out). */
export function structuredKeySets(n: number, seed = 1): Record<string, number[]> {
  const r = rng(seed);
  const sets: Record<string, number[]> = {
    "random across the whole domain": range(n, () => r()),
    "sequential 0..n-1": range(n, (i) => i),
    "sequential ending at 4294967295": range(n, (i) => MAX_U32 - i),
    "differing only in the high byte": range(Math.min(n, 256), (i) => (i << 24) >>> 0),
    "differing only in the high 16 bits, low bits all ones": range(n, (i) => ((i << 16) | 0xffff) >>> 0),
    "hashes clustered at slot 0 (all share the first home slot)": range(n, (i) => specUnhash(i)),
    "hashes clustered at the top (share the last home slot, spill past it)": range(n, (i) => specUnhash(0xfffffffe - i)),
    "hashes clustered in the middle": range(n, (i) => specUnhash(0x80000000 + i)),
    "two dense hash clusters plus the escaped key": [
      ...range(n >> 1, (i) => specUnhash(0x40000000 + i)),
      ...range(n >> 1, (i) => specUnhash(0x40000000 + 3 * n + i)),
      SPEC_ESCAPED_KEY,
    ],
    "edges: 0, 1, max-1, max and the escaped key": [0, 1, MAX_U32 - 1, MAX_U32, SPEC_ESCAPED_KEY],
  };
  for (const k of [1, 2, 4, 8, 12, 16, 20, 24, 28, 31]) {
    sets[`strided i * 2^${k}`] = range(Math.min(n, 2 ** (32 - k)), (i) => i * 2 ** k);
  }
  return sets;
}

/**
 * Keys not in `map` that a lookup could plausibly confuse with keys that are: neighbours of
 * present keys, keys whose hashes neighbour present hashes (same or next home slot), the domain
 * edges, the escaped key, and random keys.
 */
export function missesFor(map: ReadonlyMap<number, number>, count = 200, seed = 7): number[] {
  const r = rng(seed);
  const out = new Set<number>();
  const keys = [...map.keys()];
  const candidates: number[] = [0, 1, MAX_U32, MAX_U32 - 1, SPEC_ESCAPED_KEY, specUnhash(0), specUnhash(0xfffffffe)];
  for (let i = 0; i < count && keys.length > 0; i++) {
    const k = keys[r() % keys.length];
    const h = specHash(k);
    candidates.push(k + 1, k - 1, specUnhash(h + 1), specUnhash(h - 1), specUnhash(h + 2));
  }
  for (let i = 0; i < count; i++) candidates.push(r());
  for (const c of candidates) {
    const k = c >>> 0;
    if (k === c && !map.has(k)) out.add(k);
  }
  return [...out];
}

/** The pairs of `keys` with values that are a deterministic mix of edge and random values. */
export function withValues(keys: number[], seed = 3): [number, number][] {
  const r = rng(seed);
  return keys.map((k, i) => [k, i % 7 === 0 ? 0 : i % 7 === 1 ? MAX_U32 : i % 7 === 2 ? k : r()]);
}
