"use strict";
/**
 * The file and the query keys of the lookup ratio scripts (get-ratio.js, get-instructions.js):
 * the random data set of common.js, n pairs, and keys drawn from it.
 */
const fs = require("node:fs");
const path = require("node:path");
const { WORK_DIR, dataset, rng } = require("./common");

/**
 * Row i's value: the data set's, or with valueBits 31 that value's top 31 bits (below 2^31, a
 * value V8 never boxes: get's answer of 2^31 or more is a heap number).
 */
function valueAt(ds, valueBits) {
  return valueBits === 31 ? (i) => ds.value(i) >>> 1 : ds.value;
}

/**
 * bench/work/ratio-random-N.idx (ratio-random-N-v31.idx with valueBits 31), built once with
 * `idx` (in chunks: no n-sized array in JS).
 */
async function indexOf(idx, n, valueBits = 32) {
  fs.mkdirSync(WORK_DIR, { recursive: true });
  const file = path.join(WORK_DIR, `ratio-random-${n}${valueBits === 31 ? "-v31" : ""}.idx`);
  if (fs.existsSync(file)) {
    const ix = idx.IdIndex.open(file);
    const ok = ix.size === n;
    ix.close();
    if (ok) return file;
  }
  const ds = dataset("random", n);
  const value = valueAt(ds, valueBits);
  const CHUNK = 1 << 20;
  async function* chunks() {
    for (let at = 0; at < n; at += CHUNK) {
      const m = Math.min(CHUNK, n - at);
      const keys = new Uint32Array(m);
      const values = new Uint32Array(m);
      for (let j = 0; j < m; j++) {
        keys[j] = ds.key(at + j);
        values[j] = value(at + j);
      }
      yield { keys, values };
    }
  }
  const t0 = Date.now();
  process.stderr.write(`building ${file} (${n.toLocaleString("en-US")} pairs)...`);
  await idx.build(chunks(), file, { sync: false });
  process.stderr.write(` ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return file;
}

/** Query keys: hits (random rows), misses (absent keys), mix (90% hits). */
function queriesOf(n, kind, count) {
  const ds = dataset("random", n);
  const r = rng(0x1234567 + n);
  const keys = new Uint32Array(count);
  for (let j = 0; j < count; j++) {
    const hit = kind === "hits" || (kind === "mix" && r() % 10 !== 0);
    keys[j] = hit ? ds.key(r() % n) : ds.miss(j, r());
  }
  return keys;
}

module.exports = { indexOf, queriesOf, valueAt };
