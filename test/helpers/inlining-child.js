"use strict";
/**
 * node --trace-turbo-inlining --trace-deopt inlining-child.js DIST INDEX: the loops a user writes
 * over get and getOr, warmed up until V8 optimizes them, then run again after a marker line.
 * test/inlining.test.ts reads V8's trace: get and its probe must be inlined into the loop, and
 * no loop may deoptimize after the marker.
 */
const fs = require("node:fs");
const [dist, file] = process.argv.slice(2);
const { IdIndex } = require(dist);
const ix = IdIndex.open(file);
const n = ix.size;
const keys = new Uint32Array(100_000).map((_, i) => Math.imul(i, 2654435761) >>> 0);
function hotGetLoop(ix, keys) {
  let s = 0;
  for (let j = 0; j < keys.length; j++) {
    const v = ix.get(keys[j]);
    if (v !== undefined) s = (s + v) | 0;
  }
  return s;
}
function hotGetOrLoop(ix, keys) {
  let s = 0;
  for (let j = 0; j < keys.length; j++) s = (s + ix.getOr(keys[j], 0)) | 0;
  return s;
}
function hotHasLoop(ix, keys) {
  let s = 0;
  for (let j = 0; j < keys.length; j++) if (ix.has(keys[j])) s++;
  return s;
}
let check = 0;
for (let p = 0; p < 60; p++) check ^= hotGetLoop(ix, keys) ^ hotGetOrLoop(ix, keys) ^ hotHasLoop(ix, keys);
fs.writeSync(1, "\n--- measured from here ---\n");
for (let p = 0; p < 20; p++) check ^= hotGetLoop(ix, keys) ^ hotGetOrLoop(ix, keys) ^ hotHasLoop(ix, keys);
fs.writeSync(1, `\n--- done ${n} ${check} ---\n`);
