#!/usr/bin/env node
/**
 * idx at scale (issue 12): build, verify and lookups past the version 1 limit, against the C
 * floor on the same file. Not part of npm test; it needs tens of GB of disk and minutes.
 *
 *   node bench/scale.js --n 300000000            build from a binary pairs file, then measure
 *   node bench/scale.js --n 1000000000
 *   node bench/scale.js --domain                 every uint32 key, built from a generator
 *   node bench/scale.js --n 1000000000 --key-bits 64
 *                                                random 64-bit keys, 32-bit values (spec §16)
 *   options: --dir DIR (default bench/work/scale), --queries N (1,000,000), --reps N (5),
 *            --keep (keep the files), --skip-floor
 *
 * Measured: the pairs file's generation; the build (wall time, pairs per second, the build
 * process's peak RSS, its peak temp disk, the file's size and bytes per entry); opening in a
 * new process; ns per get and per key of getMany (batches of 4096) for present and absent keys,
 * idx and the C floor (bench/floor/idxfloor) on the same file and queries; idx verify. With
 * --key-bits 64 the pairs file holds 12-byte pairs (u64 key, u32 value), the keys random and
 * distinct (each half a lowbias32 of the row, the low half a bijection below 2^32 rows), get
 * takes them as bigints and getMany as a BigUint64Array, and the C floor is bench/floor/inproc.c's
 * single64 and batch64 (an in-process floor for version 3 files).
 * Prints a markdown table and appends it, with the command, to bench/SCALE.md.
 */
"use strict";
const { execFileSync, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.join(__dirname, "..");
const IDX = path.join(ROOT, "dist", "idx.js");
const BIN = path.join(ROOT, "bin", "idx.js");
const FLOOR = path.join(__dirname, "floor", "idxfloor");

function args() {
  const a = process.argv.slice(2);
  const o = { n: 300_000_000, domain: false, dir: path.join(__dirname, "work", "scale"), queries: 1_000_000, reps: 5, keep: false, floor: true, keyBits: 32 };
  for (let i = 0; i < a.length; i++) {
    if (a[i] === "--n") o.n = Number(a[++i]);
    else if (a[i] === "--domain") o.domain = true;
    else if (a[i] === "--dir") o.dir = a[++i];
    else if (a[i] === "--queries") o.queries = Number(a[++i]);
    else if (a[i] === "--reps") o.reps = Number(a[++i]);
    else if (a[i] === "--keep") o.keep = true;
    else if (a[i] === "--skip-floor") o.floor = false;
    else if (a[i] === "--key-bits") o.keyBits = Number(a[++i]);
    else if (a[i] === "--help") {
      console.log(require("./lib/common").helpText(__filename));
      process.exit(0);
    } else throw new Error(`unknown option ${a[i]}`);
  }
  if (o.domain) o.n = 2 ** 32;
  if (o.keyBits !== 32 && o.keyBits !== 64) throw new Error("--key-bits takes 32 or 64");
  if (o.keyBits === 64 && o.domain) throw new Error("--domain is for 32-bit keys");
  return o;
}

/** Key i of the data set: a bijection of i (odd multiplier mod 2^32), so keys are distinct. */
const keyOf = (i) => Number((BigInt(i) * 2654435761n + 12345n) & 0xffffffffn);
function keyOfFast(i) {
  // (i * 2654435761 + 12345) mod 2^32 without BigInt: split the multiplier.
  const lo = (Math.imul(i >>> 0, 2654435761) + 12345) >>> 0;
  return i < 2 ** 32 ? lo : keyOf(i);
}

const log = (...m) => console.error(new Date().toISOString().slice(11, 19), ...m);

function freeBytes(dir) {
  const out = execFileSync("df", ["-B1", "--output=avail", dir], { encoding: "utf8" });
  return Number(out.trim().split("\n").pop());
}

const { lowbias32 } = require("./lib/common");
/** Row i's 64-bit key as [low, high]: distinct for i < 2^32 (the low half is a bijection of i). */
const wideKeyOf = (i) => [lowbias32((i + 0x3c6ef372) >>> 0), lowbias32((i ^ 0x6a09e667) >>> 0)];

/** Writes N pairs (key_i, i): 12 bytes each, a u64 key and a u32 value, little-endian. */
function writeWidePairs(file, n) {
  const fd = fs.openSync(file, "w");
  const chunk = 1 << 20;
  const buf = new Uint32Array(3 * chunk);
  for (let base = 0; base < n; base += chunk) {
    const m = Math.min(chunk, n - base);
    for (let j = 0; j < m; j++) {
      const [lo, hi] = wideKeyOf(base + j);
      buf[3 * j] = lo;
      buf[3 * j + 1] = hi;
      buf[3 * j + 2] = (base + j) >>> 0;
    }
    fs.writeSync(fd, new Uint8Array(buf.buffer, 0, 12 * m));
  }
  fs.closeSync(fd);
}

/** Writes N pairs (key_i, i) as little-endian u32 pairs. */
function writePairs(file, n) {
  const fd = fs.openSync(file, "w");
  const chunk = 1 << 20;
  const buf = new Uint32Array(2 * chunk);
  for (let base = 0; base < n; base += chunk) {
    const m = Math.min(chunk, n - base);
    for (let j = 0; j < m; j++) {
      const i = base + j;
      buf[2 * j] = keyOfFast(i);
      buf[2 * j + 1] = i >>> 0;
    }
    fs.writeSync(fd, new Uint8Array(buf.buffer, 0, 8 * m));
  }
  fs.closeSync(fd);
}

/** A build in a child process (the API, as the CLI uses it), with its peak RSS and temp disk. */
function buildIndex(o, pairsFile, out) {
  const script = o.domain
    ? `const { build } = require(${JSON.stringify(IDX)});
       async function* all() {
         const n = 1 << 22;
         for (let base = 0; base < 2 ** 32; base += n) {
           const keys = new Uint32Array(n), values = new Uint32Array(n);
           for (let j = 0; j < n; j++) { keys[j] = base + j; values[j] = (base + j) ^ 0x5a5a5a5a; }
           yield { keys, values };
         }
       }
       const t = process.hrtime.bigint();
       build(all(), ${JSON.stringify(out)}).then((r) => console.log(JSON.stringify({ ...r, ms: Number(process.hrtime.bigint() - t) / 1e6, maxRssKb: process.resourceUsage().maxRSS })));`
    : `const { buildFromBinary } = require(${JSON.stringify(IDX)});
       const t = process.hrtime.bigint();
       buildFromBinary(${JSON.stringify(pairsFile)}, ${JSON.stringify(out)}, { keyBits: ${o.keyBits} }).then((r) => console.log(JSON.stringify({ ...r, ms: Number(process.hrtime.bigint() - t) / 1e6, maxRssKb: process.resourceUsage().maxRSS })));`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

/** Query files: `count` present keys (random i < n) and `count` absent ones. */
function writeQueries(dir, n, count, domain) {
  const present = new Uint32Array(count);
  const absent = new Uint32Array(count);
  let x = 88172645463325252n;
  const next = () => {
    x ^= x << 13n; x &= 0xffffffffffffffffn; x ^= x >> 7n; x ^= x << 17n; x &= 0xffffffffffffffffn;
    return Number(x & 0xffffffffffffn);
  };
  for (let q = 0; q < count; q++) {
    present[q] = domain ? next() % 2 ** 32 : keyOfFast(next() % n);
    // Absent: keys of indexes past n (a bijection: not among the first n), or none for the domain.
    absent[q] = domain ? 0 : keyOfFast(n + (next() % Math.max(1, Math.min(2 ** 32 - n, 2 ** 31))));
  }
  const p = path.join(dir, "present.u32");
  const a = path.join(dir, "absent.u32");
  fs.writeFileSync(p, present);
  fs.writeFileSync(a, absent);
  return { present: p, absent: a, hasAbsent: !domain };
}

/** Query files of 64-bit keys (u64 each): present (random rows < n) and absent (rows past n). */
function writeWideQueries(dir, n, count) {
  const present = new Uint32Array(2 * count);
  const absent = new Uint32Array(2 * count);
  let s = 0x2545f491;
  for (let q = 0; q < count; q++) {
    s = lowbias32((s + 0x9e3779b9) >>> 0);
    const [pl, ph] = wideKeyOf(s % n);
    const [al, ah] = wideKeyOf(n + (s % Math.max(1, 2 ** 32 - n)));
    present[2 * q] = pl;
    present[2 * q + 1] = ph;
    absent[2 * q] = al;
    absent[2 * q + 1] = ah;
  }
  const p = path.join(dir, "present.u64");
  const a = path.join(dir, "absent.u64");
  fs.writeFileSync(p, present);
  fs.writeFileSync(a, absent);
  return { present: p, absent: a, hasAbsent: true };
}

/**
 * As idxLookups for a file of 64-bit keys: get of bigint keys, getMany of a BigUint64Array, and
 * (with `floor`) the in-process C floor's single64 and batch64 on the same queries, rounds
 * alternating in the one process, by the thread's CPU time.
 */
function wideLookups(file, queryFile, reps, floor) {
  const script = `
    const fs = require("node:fs");
    const { IdIndex } = require(${JSON.stringify(IDX)});
    const floor = ${floor} ? require(${JSON.stringify(path.join(__dirname, "lib", "floor.js"))}).floorModule() : null;
    const t0 = process.hrtime.bigint();
    const ix = IdIndex.open(${JSON.stringify(file)});
    const openMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const warm = [];
    for (let i = 0; i < 21; i++) {
      const t = process.hrtime.bigint();
      IdIndex.open(${JSON.stringify(file)}).close();
      warm.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const b = fs.readFileSync(${JSON.stringify(queryFile)});
    const keys = new BigUint64Array(b.buffer, b.byteOffset, b.length / 8);
    const big = Array.from(keys);
    const id = floor ? floor.open(${JSON.stringify(file)}) : -1;
    const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
    const clock = floor ? () => floor.threadNs() : () => Number(process.hrtime.bigint());
    const values = new Uint32Array(4096), found = new Uint8Array(4096), fv = new Uint32Array(4096);
    let sink = 0;
    const loops = {
      get: () => { for (let i = 0; i < big.length; i++) if (ix.get(big[i]) !== undefined) sink++; },
      many: () => { for (let i = 0; i < keys.length; i += 4096) sink += ix.getMany(keys.subarray(i, Math.min(keys.length, i + 4096)), values, found); },
      cSingle: floor ? () => { sink += floor.single64(id, keys)[1]; } : null,
      cBatch: floor ? () => { for (let i = 0; i < keys.length; i += 4096) sink += floor.batch64(id, keys.subarray(i, Math.min(keys.length, i + 4096)), fv); } : null,
    };
    const names = Object.keys(loops).filter((k) => loops[k]);
    for (const k of names) loops[k]();
    const ns = Object.fromEntries(names.map((k) => [k, []]));
    for (let r = 0; r < ${reps}; r++) {
      for (let j = 0; j < names.length; j++) {
        const k = names[(j + r) % names.length];
        const t = clock();
        loops[k]();
        ns[k].push((clock() - t) / keys.length);
      }
    }
    const ratio = (a, b) => med(ns[a].map((x, i) => x / ns[b][i]));
    console.log(JSON.stringify({ openMs, openWarmMs: med(warm), getNs: med(ns.get), getManyNs: med(ns.many),
      floorGetNs: floor ? med(ns.cSingle) : undefined, floorBatchNs: floor ? med(ns.cBatch) : undefined,
      getRatio: floor ? ratio("get", "cSingle") : undefined, getManyRatio: floor ? ratio("many", "cBatch") : undefined, sink }));`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`lookups failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

/** ns per get and per key of getMany (batches of 4096), median of reps, in a fresh process. */
function idxLookups(file, queryFile, reps) {
  const script = `
    const fs = require("node:fs");
    const { IdIndex } = require(${JSON.stringify(IDX)});
    const t0 = process.hrtime.bigint();
    const ix = IdIndex.open(${JSON.stringify(file)});
    const openMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const warm = [];
    for (let i = 0; i < 21; i++) {
      const t = process.hrtime.bigint();
      IdIndex.open(${JSON.stringify(file)}).close();
      warm.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const b = fs.readFileSync(${JSON.stringify(queryFile)});
    const keys = new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
    const med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
    let sink = 0;
    for (let i = 0; i < Math.min(keys.length, 200000); i++) sink += ix.get(keys[i]) ?? 0; // warm up
    const gets = [], many = [];
    const values = new Uint32Array(4096), found = new Uint8Array(4096);
    for (let r = 0; r < ${reps}; r++) {
      let t = process.hrtime.bigint();
      for (let i = 0; i < keys.length; i++) sink += ix.get(keys[i]) ?? 0;
      gets.push(Number(process.hrtime.bigint() - t) / keys.length);
      t = process.hrtime.bigint();
      for (let i = 0; i < keys.length; i += 4096) ix.getMany(keys.subarray(i, Math.min(keys.length, i + 4096)), values, found);
      many.push(Number(process.hrtime.bigint() - t) / keys.length);
    }
    console.log(JSON.stringify({ openMs, openWarmMs: med(warm), getNs: med(gets), getManyNs: med(many), sink }));`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`lookups failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

function floorLookups(file, queryFile, reps) {
  const r = spawnSync(FLOOR, ["bench", file, String(reps), "4096", queryFile], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`floor failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

function timeCommand(cmd, argv) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { encoding: "utf8", maxBuffer: 1 << 24 });
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, status: r.status, out: r.stdout + r.stderr };
}

async function main() {
  const o = args();
  fs.mkdirSync(o.dir, { recursive: true });
  if (o.floor && o.keyBits === 32) execFileSync("make", ["-s", "-C", path.join(__dirname, "floor")]);
  const wide = o.keyBits === 64;
  const label = o.domain ? "every uint32 key (4,294,967,296)" : `${o.n.toLocaleString("en-US")}${wide ? " (64-bit keys, 32-bit values)" : ""}`;
  log(`scale run: ${label}; free disk ${(freeBytes(o.dir) / 1e9).toFixed(1)} GB`);
  const row = { n: o.n, label };

  let pairsFile = null;
  if (!o.domain) {
    const pairBytes = wide ? 12 : 8;
    pairsFile = path.join(o.dir, `pairs-${o.n}${wide ? "-64" : ""}.bin`);
    if (!fs.existsSync(pairsFile) || fs.statSync(pairsFile).size !== o.n * pairBytes) {
      const t = Date.now();
      (wide ? writeWidePairs : writePairs)(pairsFile, o.n);
      row.generateS = (Date.now() - t) / 1000;
      log(`pairs file: ${(o.n * pairBytes / 1e9).toFixed(1)} GB in ${row.generateS} s`);
    }
  }
  const out = path.join(o.dir, `idx-${o.domain ? "domain" : o.n}${wide ? "-64" : ""}.idx`);
  const diskBefore = freeBytes(o.dir);
  log("building");
  const b = buildIndex(o, pairsFile, out);
  row.buildS = b.ms / 1000;
  row.pairsPerS = b.pairs / (b.ms / 1000);
  row.peakRssMb = b.maxRssKb / 1024;
  row.peakTempGb = b.tempBytes / 1e9;
  row.fileBytes = b.fileBytes;
  row.bytesPerEntry = b.fileBytes / b.count;
  row.count = b.count;
  log(`built: ${row.buildS.toFixed(1)} s, ${(row.pairsPerS / 1e6).toFixed(1)} M pairs/s, RSS ${row.peakRssMb.toFixed(0)} MB, temp ${row.peakTempGb.toFixed(1)} GB, ${(b.fileBytes / 1e9).toFixed(2)} GB (${row.bytesPerEntry.toFixed(3)} B/entry); disk used meanwhile ${((diskBefore - freeBytes(o.dir)) / 1e9).toFixed(1)} GB after`);
  if (pairsFile && !o.keep) fs.rmSync(pairsFile);

  const q = wide ? writeWideQueries(o.dir, o.n, o.queries) : writeQueries(o.dir, o.n, o.queries, o.domain);
  log("lookups");
  // idx and the C floor in alternate rounds, median of the rounds: a shared machine's speed
  // drifts by up to 2x over tens of seconds, which a ratio of figures taken apart would measure.
  const ROUNDS = 3;
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (wide) {
      const present = wideLookups(out, q.present, o.reps, o.floor);
      rounds.push({ present, absent: wideLookups(out, q.absent, o.reps, false), floor: o.floor ? { getNs: present.floorGetNs, manyNs: present.floorBatchNs } : undefined });
      continue;
    }
    const round = { present: idxLookups(out, q.present, o.reps) };
    if (q.hasAbsent) round.absent = idxLookups(out, q.absent, o.reps);
    if (o.floor) round.floor = floorLookups(out, q.present, o.reps);
    rounds.push(round);
  }
  const over = (pick) => med(rounds.map(pick));
  row.openMs = over((x) => x.present.openMs);
  row.openWarmMs = over((x) => x.present.openWarmMs);
  row.getHitNs = over((x) => x.present.getNs);
  row.getManyHitNs = over((x) => x.present.getManyNs);
  if (q.hasAbsent) {
    row.getMissNs = over((x) => x.absent.getNs);
    row.getManyMissNs = over((x) => x.absent.getManyNs);
  }
  if (o.floor) {
    row.floorGetNs = over((x) => x.floor.getNs);
    row.floorBatchNs = over((x) => x.floor.manyNs);
    row.getRatio = wide ? over((x) => x.present.getRatio) : row.getHitNs / row.floorGetNs;
    row.getManyRatio = wide ? over((x) => x.present.getManyRatio) : row.getManyHitNs / row.floorBatchNs;
  }
  log("verify");
  const v = timeCommand(process.execPath, [BIN, "verify", out]);
  row.verifyS = v.ms / 1000;
  row.verifyOk = v.status === 0;
  if (!o.keep) fs.rmSync(out);
  for (const f of [q.present, q.absent]) fs.rmSync(f, { force: true });

  const fmt = (x, d = 1) => (x === undefined ? "-" : Number(x).toFixed(d));
  const table = [
    `| entries | build s | M pairs/s | peak RSS MB | peak temp GB | file GB | B/entry | open ms (first in a process / warm) | get hit ns (C floor, ratio) | getMany hit ns (C floor batch, ratio) | get miss ns | getMany miss ns | verify s |`,
    `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
    `| ${label} | ${fmt(row.buildS)} | ${fmt(row.pairsPerS / 1e6)} | ${fmt(row.peakRssMb, 0)} | ${fmt(row.peakTempGb)} | ${fmt(row.fileBytes / 1e9, 2)} | ${fmt(row.bytesPerEntry, 3)} | ${fmt(row.openMs, 2)} / ${fmt(row.openWarmMs, 3)} | ${fmt(row.getHitNs)} (${fmt(row.floorGetNs)}, ${fmt(row.getRatio, 2)}x) | ${fmt(row.getManyHitNs)} (${fmt(row.floorBatchNs)}, ${fmt(row.getManyRatio, 2)}x) | ${fmt(row.getMissNs)} | ${fmt(row.getManyMissNs)} | ${fmt(row.verifyS)}${row.verifyOk ? "" : " FAILED"} |`,
  ].join("\n");
  console.log(table);
  console.log(JSON.stringify(row));
  const note = `\n## ${new Date().toISOString().slice(0, 10)}: ${label}\n\n\`node bench/scale.js ${process.argv.slice(2).join(" ")}\` (git ${gitHead()}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB)\n\n${table}\n\n<details><summary>JSON</summary>\n\n\`\`\`\n${JSON.stringify(row)}\n\`\`\`\n</details>\n`;
  fs.appendFileSync(path.join(__dirname, "SCALE.md"), note);
}

/** The commit measured; a copy of the tree outside git (a snapshot, so that a rebuild cannot
 * change the code under a long run) says so, or gives IDX_GIT_HEAD. */
function gitHead() {
  try {
    return execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return process.env.IDX_GIT_HEAD || "unknown: not a git checkout";
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
