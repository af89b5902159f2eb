"use strict";
/**
 * The file and the query keys of the lookup ratio scripts (get-ratio.js, get-instructions.js):
 * the random data set of common.js, n pairs, and keys drawn from it.
 */
const fs = require("node:fs");
const path = require("node:path");
const { WORK_DIR, dataset, rng } = require("./common");

/**
 * The values of the ratio files: the data set's (random uint32s, half of them 2^31 or more),
 * "low" (each value's top 31 bits: below 2^31, a value V8 never boxes), or "high" (each value
 * with its top bit set: 2^31 or more, which V8 always boxes). get's answer of 2^31 or more is a
 * heap number; low and high take the branch between the two the same way every time.
 */
const VALUE_KINDS = ["random", "low", "high"];

/** Row i's value, of a kind of VALUE_KINDS. */
function valueAt(ds, values) {
  if (values === "low") return (i) => ds.value(i) >>> 1;
  if (values === "high") return (i) => (ds.value(i) | 0x80000000) >>> 0;
  return ds.value;
}

/** The file name's tail of a kind of values: ratio-random-N.idx, -v31.idx (low), -high.idx. */
const FILE_TAIL = { random: "", low: "-v31", high: "-high" };

/**
 * bench/work/ratio-random-N.idx (with FILE_TAIL's tail for other values), built once with `idx`
 * (in chunks: no n-sized array in JS).
 */
async function indexOf(idx, n, values = "random") {
  if (!VALUE_KINDS.includes(values)) throw new Error(`values are one of ${VALUE_KINDS.join(", ")}, not ${values}`);
  fs.mkdirSync(WORK_DIR, { recursive: true });
  const file = path.join(WORK_DIR, `ratio-random-${n}${FILE_TAIL[values]}.idx`);
  if (fs.existsSync(file)) {
    const ix = idx.IdIndex.open(file);
    const ok = ix.size === n;
    ix.close();
    if (ok) return file;
  }
  const ds = dataset("random", n);
  const value = valueAt(ds, values);
  const CHUNK = 1 << 20;
  async function* chunks() {
    for (let at = 0; at < n; at += CHUNK) {
      const m = Math.min(CHUNK, n - at);
      const keys = new Uint32Array(m);
      const vals = new Uint32Array(m);
      for (let j = 0; j < m; j++) {
        keys[j] = ds.key(at + j);
        vals[j] = value(at + j);
      }
      yield { keys, values: vals };
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

module.exports = { VALUE_KINDS, indexOf, queriesOf, valueAt };
