#!/usr/bin/env node
"use strict";
/**
 * idx's lookups against the C floor, side by side in one process and one thread, by that
 * thread's CPU time (CLOCK_THREAD_CPUTIME_ID: what the scheduler gives other processes on this
 * shared machine does not count), in rotating rounds; the figure is the median of the per-round
 * ratios. The C floor (bench/floor/inproc.c) maps the same file and probes it with the fastest
 * C we can write: a loop of single lookups, and a batch that prefetches each home slot 16 keys
 * ahead. getMany and the C batch are timed alone (their answers are compared after each round);
 * Map.get is timed in rounds of its own against idx get, the only time the Map is alive. "A loop
 * shared by two readers" has called another reader's get before it is timed: what a call site
 * that has seen two get closures pays (a function that looks up in two indexes, or any loop
 * once its reader has followed a replaced file, which makes new ones).
 *
 *   node bench/get-ratio.js [--n 1000000,10000000] [--rounds 9] [--lookups 1000000]
 *                           [--queries hits,misses,mix] [--idx DIST] [--before DIST] [--no-map]
 *                           [--values random|low|high] [--json FILE]
 *
 * --before DIST times that build of idx (a dist/idx.js) too, its get, has, getOr and shared-loop
 * get in the same rounds through loops of their own: the change between two builds, which a
 * shared machine's drift between two runs would hide. (The role leans: with the same build as
 * both, get at 10 M entries read 0.83-0.84x as idx; run each build as either, or each alone
 * with --idx, and compare the ratios to the C floor.)
 *
 * --values low takes each value's top 31 bits (--value-bits 31 says the same): values V8 never
 * boxes; --values high sets each value's top bit: values V8 always boxes. An answer of 2^31 or
 * more is a heap number, and on random values (the default) the branch between the two goes
 * either way: low and high show what that branch costs get, apart from the boxing itself.
 *
 * Files: bench/work/ratio-random-N.idx (-v31.idx, -high.idx), built once from the random data
 * set of bench/lib/common.js (a bijection of the row number). Writes bench/GET.md (one section
 * per n and kind of values, the last run of each) unless --json is given, which writes the raw
 * figures there instead.
 */
const fs = require("node:fs");
const path = require("node:path");
const { BENCH_DIR, ROOT_DIR, dataset, median } = require("./lib/common");
const { floorModule, runMeta } = require("./lib/floor");
const { VALUE_KINDS, indexOf, queriesOf, valueAt } = require("./lib/ratio-data");

function parseArgs(argv) {
  const o = { n: [1_000_000], rounds: 9, lookups: 1_000_000, queries: ["hits", "misses", "mix"], idx: path.join(ROOT_DIR, "dist", "idx.js"), before: null, map: true, json: null, values: "random" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === "--n") o.n = next().split(",").map(Number);
    else if (a === "--rounds") o.rounds = Number(next());
    else if (a === "--lookups") o.lookups = Number(next());
    else if (a === "--queries") o.queries = next().split(",");
    else if (a === "--idx") o.idx = path.resolve(next());
    else if (a === "--before") o.before = path.resolve(next());
    else if (a === "--no-map") o.map = false;
    else if (a === "--values") {
      o.values = next();
      if (!VALUE_KINDS.includes(o.values)) throw new Error(`--values takes ${VALUE_KINDS.join(", ")}`);
    } else if (a === "--value-bits") {
      const bits = next();
      if (bits !== "32" && bits !== "31") throw new Error("--value-bits takes 32 or 31 (or say --values random|low|high)");
      o.values = bits === "31" ? "low" : "random";
    }
    else if (a === "--json") o.json = path.resolve(next());
    else if (a === "--help" || a === "-h") {
      console.log(require("./lib/common").helpText(__filename));
      process.exit(0);
    } else throw new Error(`unknown option ${a} (try --help)`);
  }
  return o;
}

const opt = parseArgs(process.argv.slice(2));
const idx = require(opt.idx);
const before = opt.before ? require(opt.before) : null;

const floor = floorModule();

// The loops a user writes. Each returns [sum of values found, hits] so that nothing is dropped.
function idxGetLoop(ix, keys) {
  let sum = 0;
  let hits = 0;
  for (let i = 0; i < keys.length; i++) {
    const v = ix.get(keys[i]);
    if (v !== undefined) {
      sum = (sum + v) | 0;
      hits++;
    }
  }
  return [sum >>> 0, hits];
}

function idxGetOrLoop(ix, keys) {
  let sum = 0;
  let hits = 0;
  for (let i = 0; i < keys.length; i++) {
    const v = ix.getOr(keys[i], -1);
    if (v !== -1) {
      sum = (sum + v) | 0;
      hits++;
    }
  }
  return [sum >>> 0, hits];
}

function idxHasLoop(ix, keys) {
  let hits = 0;
  for (let i = 0; i < keys.length; i++) if (ix.has(keys[i])) hits++;
  return hits;
}

/** A full garbage collection (V8's gc(), exposed here rather than by a node flag). */
function fullGc() {
  require("node:v8").setFlagsFromString("--expose-gc");
  require("node:vm").runInNewContext("gc")();
}

/** A copy of a loop function with feedback of its own: one loop over two builds' gets would be polymorphic, and slower for both. */
function copyOf(loop) {
  return new Function(`return ${loop.toString()}`)();
}

function mapGetLoop(map, keys) {
  let sum = 0;
  let hits = 0;
  for (let i = 0; i < keys.length; i++) {
    const v = map.get(keys[i]);
    if (v !== undefined) {
      sum = (sum + v) | 0;
      hits++;
    }
  }
  return [sum >>> 0, hits];
}

const BATCH = 4096;
function idxManyLoop(ix, keys, values, found) {
  let hits = 0;
  for (let i = 0; i < keys.length; i += BATCH) {
    const end = Math.min(i + BATCH, keys.length);
    hits += ix.getMany(keys.subarray(i, end), values.subarray(i, end), found.subarray(i, end));
  }
  return hits;
}

/**
 * The batch loops are timed alone, as the C batch is (a JS pass over the answers in the timed
 * loop cost idx 1 to 5 ns a key that C was not charged): their answers are checked after, here.
 */
function checkBatch(keys, values, found, floorValues, hits) {
  let count = 0;
  for (let i = 0; i < keys.length; i++) {
    count += found[i];
    if (values[i] !== floorValues[i] || (found[i] === 0 && values[i] !== 0)) {
      throw new Error(`getMany answered ${values[i]} (found ${found[i]}) for key ${keys[i]}, the C batch ${floorValues[i]}`);
    }
  }
  if (count !== hits) throw new Error(`getMany found ${count} keys, the C floor ${hits}`);
}

function floorBatchLoop(id, keys, values) {
  let hits = 0;
  for (let i = 0; i < keys.length; i += BATCH) {
    const end = Math.min(i + BATCH, keys.length);
    hits += floor.batch(id, keys.subarray(i, end), values.subarray(i, end));
  }
  return hits;
}

/** ns per key of `fn` by this thread's CPU time, and by the wall clock. */
function timed(fn, keys) {
  const w0 = process.hrtime.bigint();
  const c0 = floor.threadNs();
  const out = fn();
  const c1 = floor.threadNs();
  const w1 = process.hrtime.bigint();
  return { cpu: (c1 - c0) / keys.length, wall: Number(w1 - w0) / keys.length, out };
}

/**
 * Rotating rounds of `loops` after 3 warm-up passes of each (the JIT settles, the pages come in):
 * each round times every loop once, starting one further along, so that no loop always runs
 * first or right after the same other. Every answer is checked against the C floor's.
 */
function timeRounds(loops, keys, expect, afterRound, what) {
  const names = Object.keys(loops).filter((k) => loops[k] !== null);
  for (let p = 0; p < 3; p++) for (const name of names) loops[name]();
  const rounds = [];
  for (let r = 0; r < opt.rounds; r++) {
    const round = {};
    for (let j = 0; j < names.length; j++) {
      const name = names[(j + r) % names.length];
      const t = timed(loops[name], keys);
      const hits = Array.isArray(t.out) ? t.out[1] : t.out;
      if (hits !== expect[1] || (Array.isArray(t.out) && name !== "mapGet" && t.out[0] !== expect[0])) {
        throw new Error(`${name} answered ${JSON.stringify(t.out)}, the C floor ${JSON.stringify(expect)} (${what})`);
      }
      round[name] = t;
    }
    if (afterRound) afterRound();
    rounds.push(round);
  }
  return rounds;
}

async function runSize(n) {
  const file = await indexOf(idx, n, opt.values);
  const ix = idx.IdIndex.open(file);
  const ixBefore = before ? before.IdIndex.open(file) : null;
  const beforeGetLoop = copyOf(idxGetLoop);
  const beforeHasLoop = copyOf(idxHasLoop);
  const beforeGetOrLoop = copyOf(idxGetOrLoop);
  // A loop that has also called another reader's get: the call site has seen two closures, as
  // a function that looks up in two indexes does, or a reader's after it follows a replaced file
  // (which makes new closures). V8 then cannot fold the reader in.
  const ixOther = idx.IdIndex.open(file);
  const sharedGetLoop = copyOf(idxGetLoop);
  const ixBeforeOther = before ? before.IdIndex.open(file) : null;
  const beforeSharedGetLoop = copyOf(idxGetLoop);
  const id = floor.open(file);
  const rows = {};
  for (const q of opt.queries) {
    const keys = queriesOf(n, q, opt.lookups);
    const values = new Uint32Array(keys.length);
    const found = new Uint8Array(keys.length);
    const floorValues = new Uint32Array(keys.length);
    const loops = {
      idxGet: () => idxGetLoop(ix, keys),
      idxGetOr: typeof ix.getOr === "function" ? () => idxGetOrLoop(ix, keys) : null,
      idxHas: () => idxHasLoop(ix, keys),
      cSingle: () => floor.single(id, keys),
      idxMany: () => idxManyLoop(ix, keys, values, found),
      cBatch: () => floorBatchLoop(id, keys, floorValues),
      beforeGet: ixBefore ? () => beforeGetLoop(ixBefore, keys) : null,
      beforeHas: ixBefore ? () => beforeHasLoop(ixBefore, keys) : null,
      beforeGetOr: ixBefore && typeof ixBefore.getOr === "function" ? () => beforeGetOrLoop(ixBefore, keys) : null,
      idxGetShared: () => sharedGetLoop(ix, keys),
      beforeGetShared: ixBefore ? () => beforeSharedGetLoop(ixBefore, keys) : null,
    };
    for (let p = 0; p < 3; p++) {
      sharedGetLoop(ixOther, keys);
      if (ixBeforeOther) beforeSharedGetLoop(ixBeforeOther, keys);
    }
    const expect = floor.single(id, keys);
    const rounds = timeRounds(loops, keys, expect, () => checkBatch(keys, values, found, floorValues, expect[1]), `n ${n}, ${q}`);
    const ratio = (a, b) => median(rounds.map((r) => r[a].cpu / r[b].cpu));
    const ns = (a, kind = "cpu") => median(rounds.map((r) => r[a][kind]));
    const names = Object.keys(rounds[0]);
    rows[q] = {
      ns: Object.fromEntries(names.map((k) => [k, { cpu: ns(k), wall: ns(k, "wall") }])),
      getVsC: ratio("idxGet", "cSingle"),
      getOrVsC: loops.idxGetOr ? ratio("idxGetOr", "cSingle") : null,
      getOrVsGet: loops.idxGetOr ? ratio("idxGetOr", "idxGet") : null,
      hasVsC: ratio("idxHas", "cSingle"),
      sharedVsC: ratio("idxGetShared", "cSingle"),
      manyVsC: ratio("idxMany", "cBatch"),
      mapVsGet: null,
      before: ixBefore
        ? {
            getVsC: ratio("beforeGet", "cSingle"),
            hasVsC: ratio("beforeHas", "cSingle"),
            getOrVsC: loops.beforeGetOr ? ratio("beforeGetOr", "cSingle") : null,
            getVsBefore: ratio("idxGet", "beforeGet"),
            hasVsBefore: ratio("idxHas", "beforeHas"),
            getOrVsBefore: loops.beforeGetOr && loops.idxGetOr ? ratio("idxGetOr", "beforeGetOr") : null,
            sharedVsC: ratio("beforeGetShared", "cSingle"),
            sharedVsBefore: ratio("idxGetShared", "beforeGetShared"),
          }
        : null,
    };
    if (opt.map && n <= 10_000_000 && q === "hits") {
      // Map.get in rounds of its own against idx get, with the Map alive only then: a Map of n
      // entries is work for V8's collector, which the loops that allocate (get's answers of
      // 2^31 or more are heap numbers) would pay for in the rows above.
      const ds = dataset("random", n);
      const value = valueAt(ds, opt.values);
      let map = new Map();
      for (let i = 0; i < n; i++) map.set(ds.key(i), value(i));
      // A full collection now, so that neither side's rounds pay for marking the new Map: V8
      // marks a large new old generation in steps taken at allocations, and only get allocates.
      fullGc();
      const mapRounds = timeRounds({ idxGet: () => idxGetLoop(ix, keys), mapGet: () => mapGetLoop(map, keys) }, keys, expect, null, `n ${n}, Map`);
      map = null;
      rows[q].mapVsGet = median(mapRounds.map((r) => r.mapGet.cpu / r.idxGet.cpu));
      rows[q].ns.mapGet = { cpu: median(mapRounds.map((r) => r.mapGet.cpu)), wall: median(mapRounds.map((r) => r.mapGet.wall)) };
    }
  }
  ix.close();
  ixOther.close();
  if (ixBefore) ixBefore.close();
  if (ixBeforeOther) ixBeforeOther.close();
  return { n, file, fileBytes: fs.statSync(file).size, rows };
}

function fmt(x, digits = 1) {
  return x === null || x === undefined ? "" : x.toFixed(digits);
}

function sectionOf(result, meta) {
  const lines = [`## n = ${result.n.toLocaleString("en-US")}${HEADING_TAIL[opt.values]}`, ""];
  lines.push(`- Command: \`${meta.command}\``);
  lines.push(`- Date: ${meta.date}; idx ${meta.commit}; node ${process.version}; ${meta.cpu}`);
  lines.push(`- File: ${result.fileBytes.toLocaleString("en-US")} bytes; ${opt.lookups.toLocaleString("en-US")} keys a loop, ${opt.rounds} rotating rounds after 3 warm-up passes; getMany and the C batch in calls of ${BATCH} keys`);
  lines.push("");
  lines.push("Ratios: median over the rounds of (this thread's CPU time of one loop / of the other, same round).", "");
  lines.push("| queries | idx get / C single | idx has / C single | idx getOr / C single | idx get, a loop shared by two readers / C single | idx getMany / C batch (prefetch 16 ahead) | Map.get / idx get |");
  lines.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const [q, r] of Object.entries(result.rows)) {
    lines.push(`| ${q} | ${fmt(r.getVsC, 2)}x | ${fmt(r.hasVsC, 2)}x | ${r.getOrVsC === null ? "" : `${fmt(r.getOrVsC, 2)}x`} | ${fmt(r.sharedVsC, 2)}x | ${fmt(r.manyVsC, 2)}x | ${r.mapVsGet === null ? "" : `${fmt(r.mapVsGet, 2)}x`} |`);
  }
  lines.push("");
  if (opt.before) {
    lines.push(`Against an earlier build in the same rounds (\`--before ${opt.before}\`):`, "");
    lines.push("| queries | before get / C single | before has / C single | before getOr / C single | before get, shared loop / C single | idx get / before get | idx has / before has | idx getOr / before getOr | idx get / before get, shared loops |");
    lines.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const [q, r] of Object.entries(result.rows)) {
      const b = r.before;
      const x = (v, digits) => (v === null ? "" : `${fmt(v, digits)}x`);
      lines.push(`| ${q} | ${x(b.getVsC, 2)} | ${x(b.hasVsC, 2)} | ${x(b.getOrVsC, 2)} | ${x(b.sharedVsC, 2)} | ${x(b.getVsBefore, 3)} | ${x(b.hasVsBefore, 3)} | ${x(b.getOrVsBefore, 3)} | ${x(b.sharedVsBefore, 3)} |`);
    }
    lines.push("");
  }
  lines.push("ns per key, median over the rounds: thread CPU time (wall clock).", "");
  const names = ["idxGet", "idxHas", "idxGetOr", "idxGetShared", "cSingle", "idxMany", "cBatch", "mapGet", ...(opt.before ? ["beforeGet", "beforeHas", "beforeGetOr", "beforeGetShared"] : [])];
  const labels = { idxGet: "idx get", idxHas: "idx has", idxGetOr: "idx getOr", cSingle: "C single", idxMany: "idx getMany", cBatch: "C batch", mapGet: "Map.get", beforeGet: "before get", beforeHas: "before has", beforeGetOr: "before getOr", idxGetShared: "idx get, shared loop", beforeGetShared: "before get, shared loop" };
  lines.push(`| queries | ${names.map((k) => labels[k]).join(" | ")} |`);
  lines.push(`| --- | ${names.map(() => "---:").join(" | ")} |`);
  for (const [q, r] of Object.entries(result.rows)) {
    lines.push(`| ${q} | ${names.map((k) => (r.ns[k] ? `${fmt(r.ns[k].cpu)} (${fmt(r.ns[k].wall)})` : "")).join(" | ")} |`);
  }
  lines.push("");
  return lines.join("\n");
}

/** The heading's tail of a section of each kind of values (--values). */
const HEADING_TAIL = { random: "", low: ", values below 2^31", high: ", values of 2^31 or more" };

/** Sections in order of n, and for each n in VALUE_KINDS's order. */
function writeSection(text, n) {
  const file = path.join(BENCH_DIR, "GET.md");
  const head = "# idx get against the C floor, in one thread\n\nWritten by `node bench/get-ratio.js` (also run by `npm run bench`); one section per n, the last run of each. How: see the script's header.\n\n";
  let sections = {};
  if (fs.existsSync(file)) {
    const old = fs.readFileSync(file, "utf8");
    for (const part of old.split(/^(?=## n = )/m).slice(1)) {
      const m = /^## n = ([\d,]*\d)(.*)/.exec(part);
      const values = VALUE_KINDS.find((k) => HEADING_TAIL[k] === m?.[2]);
      if (m && values) sections[sectionKey(Number(m[1].replace(/,/g, "")), values)] = part.trimEnd() + "\n\n";
    }
  }
  sections[sectionKey(n, opt.values)] = text;
  const body = Object.keys(sections).map(Number).sort((a, b) => a - b).map((k) => sections[k]).join("");
  fs.writeFileSync(file, head + body);
}

function sectionKey(n, values) {
  return n * VALUE_KINDS.length + VALUE_KINDS.indexOf(values);
}

(async () => {
  const meta = runMeta("get-ratio.js");
  const results = [];
  for (const n of opt.n) {
    const result = await runSize(n);
    results.push(result);
    const text = sectionOf(result, meta);
    process.stdout.write(text + "\n");
    if (!opt.json) writeSection(text, n);
  }
  if (opt.json) fs.writeFileSync(opt.json, JSON.stringify({ meta, opt, results }, null, 2));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
