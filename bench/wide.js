#!/usr/bin/env node
"use strict";
/**
 * 64-bit IDs (spec §16) at n random 64-bit keys: bytes per entry, the build's pairs per second
 * against a 32-bit build of the same n, and lookups against the C floor on the same file
 * (bench/floor/inproc.c single64 and batch64: the fastest C for these 12- and 16-byte slots), a
 * Map<bigint, number>, a Map<string, number> and LMDB with 8-byte keys. Run by `npm run bench`.
 *
 *   node bench/wide.js [--n 10000000] [--rounds 7] [--lookups 1000000] [--builds 9]
 *                      [--before DIST] [--no-peers] [--no-install] [--json FILE]
 *
 * Keys are random below 2^53 (a lowbias32 of the row for each half, the high half cut to 21
 * bits), so that one file serves `get` with safe-integer number keys and with the same keys as
 * bigints; hash64 mixes every bit, so a key's size does not change the table. Values: random
 * uint32 (64/32), random uint64 (64/64).
 *
 * Lookups as bench/get-ratio.js times them: one process, one thread, the thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID), rotating rounds, the median of per-round ratios, beside the wall
 * clock, each layout's lookups in a process of their own (--phase, run by the script itself).
 * "A loop shared by two readers" has called a second reader's get first (get-ratio.js's).
 * --before DIST (a dist/idx.js of an earlier idx) also times that idx's get and getMany on the
 * 32-bit file of the same n, in the same rounds: the 32-bit figures before and after.
 * Writes bench/WIDE.md (or --json FILE).
 */
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { BENCH_DIR, ROOT_DIR, WORK_DIR, lowbias32, median } = require("./lib/common");
const { floorModule, runMeta } = require("./lib/floor");

function parseArgs(argv) {
  const o = { n: 10_000_000, rounds: 7, lookups: 1_000_000, builds: 9, before: null, peers: true, install: true, json: null, phase: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => Number(String(argv[++i]).replace(/_/g, ""));
    if (a === "--n") o.n = num();
    else if (a === "--rounds") o.rounds = num();
    else if (a === "--lookups") o.lookups = num();
    else if (a === "--builds") o.builds = num();
    else if (a === "--before") o.before = path.resolve(argv[++i]);
    else if (a === "--no-peers") o.peers = false;
    else if (a === "--no-install") o.install = false;
    else if (a === "--json") o.json = path.resolve(argv[++i]);
    else if (a === "--phase") o.phase = argv[++i];
    else if (a === "--help" || a === "-h") {
      console.log(require("./lib/common").helpText(__filename));
      process.exit(0);
    } else throw new Error(`unknown option ${a} (try --help)`);
  }
  return o;
}

const opt = parseArgs(process.argv.slice(2));
const idx = require(path.join(ROOT_DIR, "dist", "idx.js"));
const before = opt.before ? require(opt.before) : null;
const floor = floorModule();
const { allColumns, chunks, key32Of, keyOf, value32Of } = require("./lib/wide-data");

const log = (m) => process.stderr.write(`[wide] ${m}\n`);

// ------------------------------------------------------------------ data: lib/wide-data.js

/** Builds the layout's file of n rows at `file`; returns seconds (the build alone) and the build's result. */
async function buildOnce(n, layout, file) {
  const options = { sync: false, keyBits: layout === "32/32" ? 32 : 64, valueBits: layout === "64/64" ? 64 : 32 };
  const all = allColumns(n, layout);
  collectGarbage(); // none of making the columns left to the build's time
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const result = await idx.build(chunks(all), file, options);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { seconds, user: c.user / 1e6, system: c.system / 1e6, result };
}

/** The layout's file of n rows in bench/work, built once and reused. */
async function fileOf(n, layout) {
  fs.mkdirSync(WORK_DIR, { recursive: true });
  const file = path.join(WORK_DIR, `wide-${layout.replace("/", "-")}-${n}.idx`);
  if (fs.existsSync(file)) {
    try {
      const ix = idx.IdIndex.open(file);
      const info = ix.info();
      ix.close();
      if (info.count > n * 0.999 && info.count <= n && `${info.keyBits}/${info.valueBits}` === layout) return file;
    } catch {
      // rebuilt below
    }
  }
  log(`building ${path.basename(file)}`);
  await buildOnce(n, layout, file);
  return file;
}

// ------------------------------------------------------------------ timing

function timed(fn, count) {
  const w0 = process.hrtime.bigint();
  const c0 = floor.threadNs();
  const out = fn();
  const c1 = floor.threadNs();
  const w1 = process.hrtime.bigint();
  return { cpu: (c1 - c0) / count, wall: Number(w1 - w0) / count, out };
}

/** Rotating rounds of `loops` (name -> fn returning a hit count); every loop must agree with `expect`. */
function rounds(loops, count, expectHits) {
  const names = Object.keys(loops).filter((k) => loops[k]);
  for (let p = 0; p < 3; p++) for (const name of names) loops[name]();
  const all = [];
  for (let r = 0; r < opt.rounds; r++) {
    const round = {};
    for (let j = 0; j < names.length; j++) {
      const name = names[(j + r) % names.length];
      const t = timed(loops[name], count);
      if (t.out !== expectHits) throw new Error(`${name} found ${t.out} keys where the C floor found ${expectHits}`);
      round[name] = t;
    }
    all.push(round);
  }
  const ns = Object.fromEntries(names.map((k) => [k, { cpu: median(all.map((r) => r[k].cpu)), wall: median(all.map((r) => r[k].wall)) }]));
  return { ns, cpu: all.map((r) => Object.fromEntries(names.map((k) => [k, r[k].cpu]))) };
}

/** The median over the rounds of a's CPU time / b's, the same round; null if either was not timed. */
function ratio(r, a, b) {
  return r.ns[a] && r.ns[b] ? median(r.cpu.map((x) => x[a] / x[b])) : null;
}

/**
 * Runs one part of the benchmark in a process of its own (this script with --phase) and returns
 * what it wrote: a process that has built, mapped and collected for the other parts times its
 * lookups slower (measured: the 32-bit get timed after the rest at 3.2-3.4x the C floor, alone
 * at 2.0-2.2x).
 */
function inChild(phase) {
  const out = path.join(WORK_DIR, `wide-phase-${process.pid}.json`);
  const args = [...process.execArgv, __filename, ...process.argv.slice(2).filter((a, i, all) => a !== "--json" && all[i - 1] !== "--json"), "--phase", phase, "--json", out];
  const r = spawnSync(process.execPath, args, { stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error(`wide.js --phase ${phase} failed (${r.status ?? r.signal})`);
  const result = JSON.parse(fs.readFileSync(out, "utf8"));
  fs.rmSync(out, { force: true });
  return result;
}

/**
 * A user's loop of get, as a function of its own each time: V8 keeps feedback per function, so
 * one loop over two indexes (this idx and --before) or two kinds of key would see two get
 * functions, or two key types, at one call site, and time a loop no user writes.
 */
function freshGetLoop() {
  return new Function("ix", "keys", `
    let hits = 0;
    for (let i = 0; i < keys.length; i++) if (ix.get(keys[i]) !== undefined) hits++;
    return hits;`);
}

const BATCH = 4096;

/** Query rows: 90% present (random rows), 10% absent (rows past n). */
function queryRows(n, count) {
  const rows = new Float64Array(count);
  let s = 0x1234567;
  for (let j = 0; j < count; j++) {
    s = lowbias32((s + 0x9e3779b9) >>> 0);
    rows[j] = s % 10 === 0 ? n + (s % 1000003) : s % n;
  }
  return rows;
}

async function lookups(n, layout) {
  const file = await fileOf(n, layout);
  const ix = idx.IdIndex.open(file);
  const id = floor.open(file);
  const rows = queryRows(n, opt.lookups);
  const keysNumber = Array.from(rows, (r) => keyOf(r));
  const keysBigint = keysNumber.map((k) => BigInt(k));
  const keys64 = BigUint64Array.from(keysBigint);
  const wideValues = layout === "64/64";
  const values = wideValues ? new BigUint64Array(keys64.length) : new Uint32Array(keys64.length);
  const floorValues = wideValues ? new BigUint64Array(keys64.length) : new Uint32Array(keys64.length);
  const found = new Uint8Array(keys64.length);
  const expect = floor.single64(id, keys64)[1];
  const getLoop = (keys) => {
    const loop = freshGetLoop();
    return () => loop(ix, keys);
  };
  // A loop that has also called a second reader's get (bench/get-ratio.js's shared loop).
  const other = idx.IdIndex.open(file);
  const sharedLoop = freshGetLoop();
  for (let p = 0; p < 3; p++) sharedLoop(other, keysNumber);
  const loops = {
    idxGetNumber: getLoop(keysNumber),
    idxGetShared: () => sharedLoop(ix, keysNumber),
    idxGetBigint: getLoop(keysBigint),
    cSingle: () => floor.single64(id, keys64)[1],
    idxGetMany: () => {
      let hits = 0;
      for (let i = 0; i < keys64.length; i += BATCH) {
        const end = Math.min(i + BATCH, keys64.length);
        hits += ix.getMany(keys64.subarray(i, end), values.subarray(i, end), found.subarray(i, end));
      }
      return hits;
    },
    cBatch: () => {
      let hits = 0;
      for (let i = 0; i < keys64.length; i += BATCH) {
        const end = Math.min(i + BATCH, keys64.length);
        hits += floor.batch64(id, keys64.subarray(i, end), floorValues.subarray(i, end));
      }
      return hits;
    },
  };
  log(`timing ${layout} lookups (${opt.rounds} rounds)`);
  const r = rounds(loops, keys64.length, expect);
  let mapMemory = null;
  if (layout === "64/32") {
    // The JS maps of the same pairs (present keys only in the map; the queries are the same), in
    // rounds of their own against idx get, the only time they are alive: a map of n entries is
    // work for V8's collector, which the loops above would pay for (get's answers allocate).
    const heap0 = heapUsed();
    let mapBigint = new Map();
    for (let i = 0; i < n; i++) mapBigint.set(BigInt(keyOf(i)), value32Of(i));
    const heap1 = heapUsed();
    let mapString = new Map();
    for (let i = 0; i < n; i++) mapString.set(String(keyOf(i)), value32Of(i));
    const heap2 = heapUsed();
    mapMemory = { bigint: (heap1 - heap0) / n, string: (heap2 - heap1) / n };
    const keysString = keysNumber.map(String);
    const mapLoops = {
      idxGetNumber: loops.idxGetNumber,
      mapBigint: () => {
        let hits = 0;
        for (let i = 0; i < keysBigint.length; i++) if (mapBigint.get(keysBigint[i]) !== undefined) hits++;
        return hits;
      },
      mapString: () => {
        let hits = 0;
        for (let i = 0; i < keysString.length; i++) if (mapString.get(keysString[i]) !== undefined) hits++;
        return hits;
      },
    };
    log(`timing the JS maps against idx get (${opt.rounds} rounds)`);
    const m = rounds(mapLoops, keys64.length, expect);
    mapBigint = mapString = null;
    collectGarbage(); // the maps are gone before anything else is timed
    r.ns.mapBigint = m.ns.mapBigint;
    r.ns.mapString = m.ns.mapString;
  }
  ix.close();
  other.close();
  return { layout, file, r, mapMemory, hits: expect, queries: keys64.length };
}

/** A full garbage collection now (V8's gc(), reached without --expose-gc on the command line). */
function collectGarbage() {
  require("node:v8").setFlagsFromString("--expose-gc");
  require("node:vm").runInNewContext("gc")();
}

function heapUsed() {
  collectGarbage();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/**
 * Builds the 32/32, 64/32 and 64/64 files of n rows, `opt.builds` times each, in rotating order
 * (each layout after each other one as often): a build's kernel time depends on how much memory
 * the one before it freed just then (fresh pages cost several times reused ones on this VM).
 */
async function builds(n) {
  const dir = path.join(WORK_DIR, "wide-builds");
  fs.mkdirSync(dir, { recursive: true });
  const layouts = ["32/32", "64/32", "64/64"];
  const runs = { "32/32": [], "64/32": [], "64/64": [] };
  const cpu = { "32/32": [], "64/32": [], "64/64": [] };
  let size = {};
  for (let r = 0; r < opt.builds; r++) {
    for (let j = 0; j < layouts.length; j++) {
      const layout = layouts[(r + j) % layouts.length];
      const file = path.join(dir, `${layout.replace("/", "-")}.idx`);
      const b = await buildOnce(n, layout, file);
      runs[layout].push(b.seconds);
      cpu[layout].push({ user: b.user, system: b.system });
      size[layout] = { fileBytes: b.result.fileBytes, count: b.result.count };
      log(`build ${layout}: ${b.seconds.toFixed(2)} s (user ${b.user.toFixed(2)}, system ${b.system.toFixed(2)})`);
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const rate = (layout) => n / median(runs[layout]);
  const pairRatio = (layout) => median(runs[layout].map((s, i) => runs["32/32"][i] / s));
  const userRatio = (layout) => median(cpu[layout].map((c, i) => cpu["32/32"][i].user / c.user));
  return { runs, cpu, size, rate, pairRatio, userRatio };
}

// ------------------------------------------------------------------ LMDB

function ensureLmdb() {
  if (fs.existsSync(path.join(BENCH_DIR, "node_modules", "lmdb", "package.json"))) return true;
  if (!opt.install) return false;
  log("installing the benchmark's peers (npm install --prefix bench)");
  spawnSync("npm", ["install", "--prefix", BENCH_DIR, "--no-audit", "--no-fund"], { cwd: ROOT_DIR, stdio: "ignore" });
  return fs.existsSync(path.join(BENCH_DIR, "node_modules", "lmdb", "package.json"));
}

/** LMDB of the 64/32 pairs, 8-byte big-endian keys (so its B-tree order is the keys' order). */
async function lmdb(n) {
  if (!opt.peers || !ensureLmdb()) return null;
  const { open } = require(path.join(BENCH_DIR, "node_modules", "lmdb"));
  const file = path.join(WORK_DIR, `wide-lmdb-${n}.mdb`);
  for (const f of [file, `${file}-lock`]) fs.rmSync(f, { force: true });
  log("building LMDB (8-byte keys)");
  const t0 = process.hrtime.bigint();
  const db = open({ path: file, noSubdir: true, keyEncoding: "binary", encoding: "binary" });
  const key = Buffer.alloc(8);
  const val = Buffer.alloc(4);
  const CHUNK = 1 << 20;
  for (let at = 0; at < n; at += CHUNK) {
    db.transactionSync(() => {
      for (let i = at; i < Math.min(n, at + CHUNK); i++) {
        key.writeBigUInt64BE(BigInt(keyOf(i)));
        val.writeUInt32LE(value32Of(i));
        db.putSync(key, val);
      }
    });
  }
  await db.flushed;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const count = db.getCount();
  await db.close();
  const st = fs.statSync(file);
  const rdb = open({ path: file, noSubdir: true, keyEncoding: "binary", encoding: "binary", readOnly: true });
  const rows = queryRows(n, opt.lookups);
  const keys = Buffer.alloc(8 * rows.length);
  rows.forEach((r, j) => keys.writeBigUInt64BE(BigInt(keyOf(r)), 8 * j));
  const views = Array.from(rows, (_, j) => keys.subarray(8 * j, 8 * j + 8));
  const loop = () => {
    let hits = 0;
    for (let j = 0; j < views.length; j++) if (rdb.getBinaryFast(views[j]) !== undefined) hits++;
    return hits;
  };
  for (let p = 0; p < 3; p++) loop();
  const ns = [];
  let hits = 0;
  for (let r = 0; r < opt.rounds; r++) {
    const t = timed(loop, views.length);
    ns.push(t.cpu);
    hits = t.out;
  }
  await rdb.close();
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}-lock`, { force: true });
  return { seconds, count, fileBytes: st.size, allocatedBytes: st.blocks * 512, getNs: median(ns), hits };
}

// ------------------------------------------------------------------ 32-bit before and after

/** The 32/32 file of n rows read by this idx and by `before`, in the same rounds. */
async function narrowBeforeAfter(n) {
  const file = await fileOf(n, "32/32");
  const now = idx.IdIndex.open(file);
  const then = before.IdIndex.open(file);
  const id = floor.open(file);
  const rows = queryRows(n, opt.lookups);
  const keys = Uint32Array.from(rows, (r) => key32Of(r));
  const values = new Uint32Array(keys.length);
  const floorValues = new Uint32Array(keys.length);
  const found = new Uint8Array(keys.length);
  const getLoop = (ix) => {
    const loop = freshGetLoop();
    return () => loop(ix, keys);
  };
  const manyLoop = (ix) => () => {
    let hits = 0;
    for (let i = 0; i < keys.length; i += BATCH) {
      const end = Math.min(i + BATCH, keys.length);
      hits += ix.getMany(keys.subarray(i, end), values.subarray(i, end), found.subarray(i, end));
    }
    return hits;
  };
  const expect = floor.single(id, keys)[1];
  const loops = {
    getNow: getLoop(now), getBefore: getLoop(then), cSingle: () => floor.single(id, keys)[1],
    manyNow: manyLoop(now), manyBefore: manyLoop(then),
    cBatch: () => {
      let hits = 0;
      for (let i = 0; i < keys.length; i += BATCH) {
        const end = Math.min(i + BATCH, keys.length);
        hits += floor.batch(id, keys.subarray(i, end), floorValues.subarray(i, end));
      }
      return hits;
    },
  };
  log("timing 32/32 lookups, this idx and --before");
  const r = rounds(loops, keys.length, expect);
  now.close();
  then.close();
  return r;
}

// ------------------------------------------------------------------ report

const f1 = (x) => (x === null || x === undefined ? "" : x.toFixed(1));
const f2 = (x) => (x === null || x === undefined ? "" : x.toFixed(2));
const int = (x) => Math.round(x).toLocaleString("en-US");
const x2 = (x) => (x === null || x === undefined ? "" : `${x.toFixed(2)}x`);

function report(meta, b, looks, l, narrow) {
  const n = opt.n;
  const lines = [`## n = ${n.toLocaleString("en-US")}`, ""];
  lines.push(`- Command: \`${meta.command}\``);
  lines.push(`- Date: ${meta.date}; idx ${meta.commit}; node ${process.version}; ${meta.cpu}`);
  lines.push(`- Keys: random below 2^53; ${opt.lookups.toLocaleString("en-US")} queries a loop, 90% present; ${opt.rounds} rotating rounds after 3 warm-up passes; thread CPU time (wall clock in parentheses); getMany and the C batch in calls of ${BATCH} keys`, "");
  lines.push("### Size and build", "");
  lines.push("| widths | file bytes | bytes / entry | build s (median of " + opt.builds + ") | pairs / s | / 32-bit build's pairs / s | user CPU s | / 32-bit build's user CPU | system CPU s (min-max) |");
  lines.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const layout of ["32/32", "64/32", "64/64"]) {
    const s = b.size[layout];
    const sys = b.cpu[layout].map((c) => c.system);
    lines.push(
      `| ${layout} | ${int(s.fileBytes)} | ${f2(s.fileBytes / s.count)} | ${f2(median(b.runs[layout]))} | ${int(b.rate(layout))} | ${layout === "32/32" ? "" : x2(b.pairRatio(layout))} | ` +
        `${f2(median(b.cpu[layout].map((c) => c.user)))} | ${layout === "32/32" ? "" : x2(b.userRatio(layout))} | ${f2(Math.min(...sys))}-${f2(Math.max(...sys))} |`,
    );
  }
  lines.push("", "Builds from columns (`build()` of an async iterable of 1 Mi-pair chunks: BigUint64Array keys, or Uint32Array for 32/32; made before the clock starts), in rotating order, in one process. A ratio is the median of each round's (the 32-bit build's time or user CPU over the layout's). User CPU is the process's (V8's helper threads too); system CPU is mostly the kernel handing out fresh pages, which on this VM varies several times over between identical builds.", "");
  lines.push("### Lookups against the C floor on the same file", "");
  lines.push("| widths | idx get (number keys) / C single | idx get (bigint keys) / C single | idx get (number keys), a loop shared by two readers / C single | idx getMany / C batch |");
  lines.push("| --- | ---: | ---: | ---: | ---: |");
  for (const x of looks) lines.push(`| ${x.layout} | ${x2(ratio(x.r, "idxGetNumber", "cSingle"))} | ${x2(ratio(x.r, "idxGetBigint", "cSingle"))} | ${x2(ratio(x.r, "idxGetShared", "cSingle"))} | ${x2(ratio(x.r, "idxGetMany", "cBatch"))} |`);
  lines.push("", "ns per key:", "");
  const names = ["idxGetNumber", "idxGetBigint", "idxGetShared", "cSingle", "idxGetMany", "cBatch", "mapBigint", "mapString"];
  const labels = { idxGetNumber: "idx get (number)", idxGetBigint: "idx get (bigint)", idxGetShared: "idx get (number), shared loop", cSingle: "C single", idxGetMany: "idx getMany", cBatch: "C batch", mapBigint: "Map<bigint, number>.get", mapString: "Map<string, number>.get" };
  lines.push(`| widths | ${names.map((k) => labels[k]).join(" | ")} |`);
  lines.push(`| --- | ${names.map(() => "---:").join(" | ")} |`);
  for (const x of looks) lines.push(`| ${x.layout} | ${names.map((k) => (x.r.ns[k] ? `${f1(x.r.ns[k].cpu)} (${f1(x.r.ns[k].wall)})` : "")).join(" | ")} |`);
  const m = looks.find((x) => x.mapMemory);
  if (m) {
    lines.push("", `JS maps of the same ${n.toLocaleString("en-US")} pairs, heap bytes an entry: Map<bigint, number> ${f1(m.mapMemory.bigint)}, Map<string, number> ${f1(m.mapMemory.string)} (idx 64/32: ${f2(b.size["64/32"].fileBytes / b.size["64/32"].count)} on disk, shared by every process).`);
  }
  if (l) {
    lines.push("", "### LMDB, 8-byte keys (64/32 pairs)", "");
    lines.push("| build s | file bytes | bytes / entry | get ns | / idx get (number) |");
    lines.push("| ---: | ---: | ---: | ---: | ---: |");
    const idxGet = looks.find((x) => x.layout === "64/32").r.ns.idxGetNumber.cpu;
    lines.push(`| ${f2(l.seconds)} | ${int(l.fileBytes)} | ${f2(l.fileBytes / l.count)} | ${f1(l.getNs)} | ${x2(l.getNs / idxGet)} |`);
    lines.push("", "LMDB: `putSync` in transactions of 1 Mi pairs, then `getBinaryFast` of Buffer keys (big-endian), read-only.");
  }
  if (narrow) {
    lines.push("", `### 32-bit widths, this idx and --before (${path.relative(ROOT_DIR, opt.before)}), same rounds`, "");
    lines.push("| | get / C single | getMany / C batch | get ns | getMany ns |");
    lines.push("| --- | ---: | ---: | ---: | ---: |");
    lines.push(`| before | ${x2(ratio(narrow, "getBefore", "cSingle"))} | ${x2(ratio(narrow, "manyBefore", "cBatch"))} | ${f1(narrow.ns.getBefore.cpu)} | ${f1(narrow.ns.manyBefore.cpu)} |`);
    lines.push(`| now | ${x2(ratio(narrow, "getNow", "cSingle"))} | ${x2(ratio(narrow, "manyNow", "cBatch"))} | ${f1(narrow.ns.getNow.cpu)} | ${f1(narrow.ns.manyNow.cpu)} |`);
    lines.push("", `now / before: get ${x2(ratio(narrow, "getNow", "getBefore"))}, getMany ${x2(ratio(narrow, "manyNow", "manyBefore"))}.`);
  }
  lines.push("");
  return lines.join("\n");
}

function writeSection(text, n) {
  const file = path.join(BENCH_DIR, "WIDE.md");
  const head = "# 64-bit IDs: size, build and lookups\n\nWritten by `node bench/wide.js` (also run by `npm run bench`); one section per n, the last run of each. How: see the script's header.\n\n";
  const sections = {};
  if (fs.existsSync(file)) {
    for (const part of fs.readFileSync(file, "utf8").split(/^(?=## n = )/m).slice(1)) {
      const m = /^## n = ([\d,]+)/.exec(part);
      if (m) sections[Number(m[1].replace(/,/g, ""))] = part.trimEnd() + "\n\n";
    }
  }
  sections[n] = text;
  fs.writeFileSync(file, head + Object.keys(sections).map(Number).sort((a, b) => a - b).map((k) => sections[k]).join(""));
}

(async () => {
  const meta = runMeta("wide.js");
  if (opt.phase !== null) {
    // One part, in this process of its own (inChild), its result to --json.
    const phases = { narrow: () => narrowBeforeAfter(opt.n), "64/32": () => lookups(opt.n, "64/32"), "64/64": () => lookups(opt.n, "64/64") };
    if (!phases[opt.phase]) throw new Error(`unknown phase ${opt.phase}`);
    fs.writeFileSync(opt.json, JSON.stringify(await phases[opt.phase]()));
    return;
  }
  const narrow = before ? inChild("narrow") : null;
  const looks = [inChild("64/32"), inChild("64/64")];
  const b = await builds(opt.n);
  const l = await lmdb(opt.n);
  const text = report(meta, b, looks, l, narrow);
  process.stdout.write(text + "\n");
  if (opt.json) fs.writeFileSync(opt.json, JSON.stringify({ meta, opt, builds: b.runs, size: b.size, lookups: looks.map((x) => ({ layout: x.layout, ns: x.r.ns, mapMemory: x.mapMemory })), lmdb: l }, null, 2));
  else writeSection(text, opt.n);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
