"use strict";
/**
 * The hash of spec/FORMAT.md §4 and its inverse, written out again from the spec so that the
 * tests can aim keys at slots without trusting src/hash.ts, and the tests' random generator.
 * Plain CommonJS: the child processes require() it; test/helpers/keys.ts re-exports it.
 */

const MAX_U32 = 0xffffffff;
/** unhash(0xFFFFFFFF), printed in spec/FORMAT.md §5.1. */
const SPEC_ESCAPED_KEY = 857579651;

/** mulberry32: a seeded generator of uint32s. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** fmix32, as printed in spec/FORMAT.md §4. */
function specHash(key) {
  let x = key >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The inverse of fmix32, as printed in spec/FORMAT.md §4. */
function specUnhash(hash) {
  let x = hash >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7ed1b41d);
  x ^= (x >>> 13) ^ (x >>> 26);
  x = Math.imul(x, 0xa5cb9243);
  x ^= x >>> 16;
  return x >>> 0;
}

module.exports = { MAX_U32, SPEC_ESCAPED_KEY, rng, specHash, specUnhash };
