"use strict";
/**
 * The rows of bench/wide.js and bench/build-fresh.js: keys and values as pure functions of the
 * row number, and a layout's columns for build().
 */
const { lowbias32 } = require("./common");

const TWO_32 = 4294967296;

/** Row i's key, below 2^53 (a number: exact). */
const keyOf = (i) => (lowbias32((i ^ 0x6a09e667) >>> 0) & 0x1fffff) * TWO_32 + lowbias32((i + 0x3c6ef372) >>> 0);
const value32Of = (i) => lowbias32(Math.imul(i, 0x9e3779b9) ^ 0x5bd1e995);
/** Row i's 64-bit value's high word (its low word is value32Of(i)). */
const value64HighOf = (i) => lowbias32((i ^ 0x510e527f) >>> 0);
/** Row i's 32-bit key for the 32/32 reference build: a bijection, as bench/lib/common.js's random set. */
const key32Of = (i) => lowbias32((i + 0x2545f491) >>> 0);

/** Rows [at, at + m) as columns for build(): keys a BigUint64Array (or Uint32Array for 32/32). */
function columns(at, m, layout) {
  if (layout === "32/32") {
    const keys = new Uint32Array(m);
    const values = new Uint32Array(m);
    for (let j = 0; j < m; j++) {
      keys[j] = key32Of(at + j);
      values[j] = value32Of(at + j);
    }
    return { keys, values };
  }
  const words = new Uint32Array(2 * m);
  for (let j = 0; j < m; j++) {
    const k = keyOf(at + j);
    words[2 * j] = k % TWO_32;
    words[2 * j + 1] = Math.floor(k / TWO_32);
  }
  const keys = new BigUint64Array(words.buffer);
  if (layout === "64/32") return { keys, values: Uint32Array.from({ length: m }, (_, j) => value32Of(at + j)) };
  // Written as words: a bigint a value would leave the collector work to do during the build.
  const valueWords = new Uint32Array(2 * m);
  for (let j = 0; j < m; j++) {
    valueWords[2 * j] = value32Of(at + j);
    valueWords[2 * j + 1] = value64HighOf(at + j);
  }
  return { keys, values: new BigUint64Array(valueWords.buffer) };
}

const CHUNK = 1 << 20;

/** The layout's columns of n rows, made before a build is timed (making them is not the build's work). */
function allColumns(n, layout) {
  const all = [];
  for (let at = 0; at < n; at += CHUNK) all.push(columns(at, Math.min(CHUNK, n - at), layout));
  return all;
}

async function* chunks(all) {
  yield* all;
}

module.exports = { TWO_32, keyOf, value32Of, value64HighOf, key32Of, columns, allColumns, chunks };
