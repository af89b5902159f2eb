"use strict";
/**
 * Shared by bench/run.js and its workers: the data sets (keys and values as pure functions of
 * the row number, so every process can regenerate them without reading the TSV), the query
 * files, a TSV parser for the peers, timing and /proc readers.
 */
const fs = require("node:fs");
const path = require("node:path");

const BENCH_DIR = path.resolve(__dirname, "..");
const ROOT_DIR = path.resolve(BENCH_DIR, "..");
const WORK_DIR = path.join(BENCH_DIR, "work");

/** A bijection on uint32 (Wellons' lowbias32), with constants unrelated to idx's fmix32. */
function lowbias32(x) {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

const KEY_SEED = 0x2545f491;

/** The largest power-of-two stride s with n * s <= 2^32: i * s is then distinct for i < n. */
function strideFor(n) {
  let s = 1;
  while (s * 2 * n <= 2 ** 32) s *= 2;
  return s;
}

/**
 * A data set: `key(i)` for row i < n, distinct by construction; `value(i)` random-looking;
 * `miss(j)` the j-th key that is certainly absent.
 *  random:     lowbias32(i + seed): spread over the whole uint32 domain, in random order
 *  sequential: i
 *  strided:    i * stride, stride the largest power of two with n * stride <= 2^32
 *              (4096 at n = 1M, 256 at n = 10M)
 */
function dataset(kind, n) {
  const value = (i) => lowbias32(Math.imul(i, 0x9e3779b9) ^ 0x5bd1e995);
  if (kind === "random") {
    return {
      kind, n, value,
      key: (i) => lowbias32((i + KEY_SEED) >>> 0),
      // rows n, n+1, ... of the same bijection: never equal to a key of rows < n
      miss: (j, r) => lowbias32((n + (r % (2 ** 32 - n - 1)) + KEY_SEED) >>> 0),
      describe: "random uint32 keys (a bijection of the row number), random values",
    };
  }
  if (kind === "sequential") {
    return {
      kind, n, value,
      key: (i) => i,
      miss: (j, r) => n + (r % (2 ** 32 - n)),
      describe: "keys 0..n-1 in order, random values",
    };
  }
  if (kind === "strided") {
    const stride = strideFor(n);
    if (stride < 2) throw new Error(`no strided set of ${n} distinct keys with a stride >= 2`);
    return {
      kind, n, value, stride,
      key: (i) => (i * stride) >>> 0,
      // not a multiple of the stride: absent
      miss: (j, r) => (r | 1) >>> 0,
      describe: `keys i * ${stride} (2^${Math.log2(stride)}), random values`,
    };
  }
  throw new Error(`unknown data set ${kind}`);
}

/** xorshift32 PRNG: deterministic query streams. */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

function median(xs) {
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

function nowNs() {
  return process.hrtime.bigint();
}

function msSince(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function readU32(file) {
  const b = fs.readFileSync(file);
  return new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);
}

/**
 * Parses a whole TSV of "key<TAB>value" lines (space, comma and # comments too) into two
 * columns. The peers' parse step: as simple and fast as plain JS allows.
 */
function parseTsv(buf) {
  let cap = 1 << 16, n = 0;
  let keys = new Uint32Array(cap), values = new Uint32Array(cap);
  const len = buf.length;
  let i = 0;
  while (i < len) {
    let c = buf[i];
    while (c === 32 || c === 9) c = buf[++i];
    if (c === 10 || c === 13 || c === 35) {
      while (i < len && buf[i] !== 10) i++;
      i++;
      continue;
    }
    let k = 0;
    while (c >= 48 && c <= 57) { k = k * 10 + c - 48; c = buf[++i]; }
    while (c === 32 || c === 9 || c === 44) c = buf[++i];
    let v = 0;
    while (c >= 48 && c <= 57) { v = v * 10 + c - 48; c = buf[++i]; }
    while (i < len && buf[i] !== 10) i++;
    i++;
    if (n === cap) {
      cap *= 2;
      const nk = new Uint32Array(cap), nv = new Uint32Array(cap);
      nk.set(keys); nv.set(values);
      keys = nk; values = nv;
    }
    keys[n] = k;
    values[n] = v;
    n++;
  }
  return { keys: keys.subarray(0, n), values: values.subarray(0, n), n };
}

/** Sums of /proc/self/smaps_rollup fields, in kB. */
function smapsRollup() {
  const out = {};
  for (const line of fs.readFileSync("/proc/self/smaps_rollup", "utf8").split("\n")) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** The smaps fields (kB) of this process's mappings of `file`, summed. */
function smapsOf(file) {
  const real = fs.realpathSync(file);
  const out = { Size: 0, Rss: 0, Pss: 0, Shared_Clean: 0, Shared_Dirty: 0, Private_Clean: 0, Private_Dirty: 0 };
  let inFile = false;
  for (const line of fs.readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      inFile = head[1] === real;
      continue;
    }
    if (!inFile) continue;
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m && m[1] in out) out[m[1]] += Number(m[2]);
  }
  return out;
}

/**
 * Runs `pass()` until the JIT has settled: at least `minPasses` passes and `minMs` of running,
 * at most `maxPasses`. A single warm-up pass leaves V8 in a lower tier for the first timed reps.
 */
function warmUp(pass, minPasses = 3, minMs = 500, maxPasses = 12) {
  const t0 = process.hrtime.bigint();
  for (let p = 0; p < maxPasses; p++) {
    pass();
    if (p + 1 >= minPasses && Number(process.hrtime.bigint() - t0) / 1e6 >= minMs) return p + 1;
  }
  return maxPasses;
}

/**
 * Times `reps` runs of `fn` (ns per item, wall clock: process.hrtime.bigint). A run whose wall
 * time exceeds this process's CPU time by more than 15% lost the CPU to another process (a
 * 2-core machine shared with other work): it is discarded and run again, up to 4 * reps tries;
 * the last tries are kept whatever they show, so there are always `reps` figures.
 */
function timeReps(reps, items, fn) {
  const ns = [];
  let discarded = 0, last;
  const maxTries = reps * 4;
  for (let tries = 0; ns.length < reps; tries++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    last = fn();
    const wall = Number(process.hrtime.bigint() - t0);
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) * 1000;
    if (wall <= cpu * 1.15 + 200_000 || maxTries - tries <= reps - ns.length) ns.push(wall / items);
    else discarded++;
  }
  return { ns, discarded, last };
}

/** Sends one JSON line to the parent and keeps the process alive until it is written. */
function report(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

/**
 * A bench script's --help: the doc comment at the top of `file` (its usage and what it measures),
 * without the comment's marks.
 */
function helpText(file) {
  const source = require("node:fs").readFileSync(file, "utf8");
  const comment = /\/\*\*([\s\S]*?)\*\//.exec(source);
  return comment === null ? "" : comment[1].split("\n").map((l) => l.replace(/^\s*\* ?/, "")).join("\n").trim();
}

module.exports = {
  helpText, BENCH_DIR, ROOT_DIR, WORK_DIR, lowbias32, strideFor, dataset, rng, median, nowNs, msSince,
  readU32, parseTsv, smapsRollup, smapsOf, report, warmUp, timeReps, rssParts: require("./rss").rssParts,
};
