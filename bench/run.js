#!/usr/bin/env node
"use strict";
/**
 * `npm run bench`: idx against a JS Map, LMDB (lmdb npm package), tinycdb and a C floor that
 * writes and probes the same file layout. See bench/README.md.
 *
 *   npm run bench                       n = 1,000,000
 *   npm run bench -- --n 10000000       the large run
 *   npm run bench -- --quick            a smoke run (n = 100,000; results to bench/work/)
 *   options: --n N  --reps R (lookup loops, default 5)  --lookups L (keys a loop, default 2M)
 *            --batch B (getMany batch, default 4096)  --build-reps R (peers' builds)
 *            --pair-reps R (idx and C floor builds, alternately, default 5)  --proc-reps R
 *            --readers R (concurrent readers, default 8)  --datasets random,sequential,strided
 *            --no-install (never npm/apt-get install peers)  --no-write (print only)
 */
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawn, spawnSync } = require("node:child_process");
const { BENCH_DIR, ROOT_DIR, WORK_DIR, dataset, rng, median, nowNs, msSince } = require("./lib/common");

// ------------------------------------------------------------------ options

function parseArgs(argv) {
  const o = {
    n: 1_000_000, reps: 5, lookups: 2_000_000, batch: 4096, buildReps: null, pairReps: null, procReps: null,
    readers: 8, datasets: ["random", "sequential", "strided"], install: true, write: true, quick: false,
  };
  const num = (i) => {
    const v = Number(String(argv[i]).replace(/_/g, ""));
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${argv[i - 1]} needs a positive integer, got ${argv[i]}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--n") o.n = num(++i);
    else if (a === "--reps") o.reps = num(++i);
    else if (a === "--lookups") o.lookups = num(++i);
    else if (a === "--batch") o.batch = num(++i);
    else if (a === "--build-reps") o.buildReps = num(++i);
    else if (a === "--pair-reps") o.pairReps = num(++i);
    else if (a === "--proc-reps") o.procReps = num(++i);
    else if (a === "--readers") o.readers = num(++i);
    else if (a === "--datasets") o.datasets = argv[++i].split(",");
    else if (a === "--no-install") o.install = false;
    else if (a === "--no-write") o.write = false;
    else if (a === "--quick") o.quick = true;
    else if (a === "--help" || a === "-h") {
      console.log(require("./lib/common").helpText(__filename));
      process.exit(0);
    } else throw new Error(`unknown option ${a} (try --help)`);
  }
  if (o.quick) {
    if (!argv.includes("--n")) o.n = 100_000;
    if (!argv.includes("--reps")) o.reps = 3;
    if (!argv.includes("--lookups")) o.lookups = 200_000;
  }
  if (o.buildReps === null) o.buildReps = o.quick ? 1 : o.n > 2_000_000 ? 2 : 3;
  if (o.pairReps === null) o.pairReps = o.quick ? 1 : 5;
  if (o.procReps === null) o.procReps = o.quick ? 3 : 11;
  if (!o.datasets.includes("random")) o.datasets.unshift("random");
  if (o.n > 2 ** 31) throw new Error("--n above 2^31 is not supported");
  return o;
}

const opt = parseArgs(process.argv.slice(2));
const N = opt.n;
const started = Date.now();
// 1-minute load averages sampled at each step (before the concurrent-readers test, which loads
// the CPUs itself): other work on the machine shows up here.
const loadSamples = [];
let sampleLoad = true;
const log = (msg) => (sampleLoad && loadSamples.push(os.loadavg()[0]), process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`));
const commandLine = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;

// ------------------------------------------------------------------ processes

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 28, ...options });
  if (r.error) throw r.error;
  if (r.status !== 0 && !options.allowFail) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}\n${r.stderr || ""}${r.stdout || ""}`.slice(0, 4000));
  }
  return r;
}

/** Wall time of a command that must succeed, in ms. */
function wall(cmd, args, options = {}) {
  const t0 = nowNs();
  const r = run(cmd, args, options);
  return { ms: msSince(t0), stdout: r.stdout, stderr: r.stderr };
}

const NODE = process.execPath;
const MAP_NODE_ARGS = [`--max-old-space-size=${Math.max(4096, Math.ceil(N / 1e6) * 400)}`];

/** Runs a worker script with a JSON spec and returns its last JSON line. */
function worker(script, spec, nodeArgs = []) {
  const r = run(NODE, [...nodeArgs, path.join(BENCH_DIR, "lib", script), JSON.stringify(spec)]);
  const lines = r.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

/** Spawns a process; resolves with the ms until its first byte of stdout and until its exit. */
function firstOutput(cmd, args) {
  return new Promise((resolve, reject) => {
    const t0 = nowNs();
    let first = null, out = "", err = "";
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    p.stdout.on("data", (d) => {
      if (first === null) first = msSince(t0);
      out += d;
    });
    p.stderr.on("data", (d) => { err += d; });
    p.on("error", reject);
    p.on("close", (code) => resolve({ firstMs: first, exitMs: msSince(t0), out, err, code }));
  });
}

function which(cmd) {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

// ------------------------------------------------------------------ setup

function newestMtime(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

function ensureDist() {
  // dist/idx.js, the package's main, is bundled last (npm run build): it is the newest file.
  const dist = path.join(ROOT_DIR, "dist", "idx.js");
  if (fs.existsSync(dist) && fs.statSync(dist).mtimeMs >= newestMtime(path.join(ROOT_DIR, "src"))) return;
  log("compiling idx (npm run build)");
  const r = run("npm", ["run", "build"], { cwd: ROOT_DIR, allowFail: true });
  if (r.status !== 0) {
    if (!fs.existsSync(dist)) throw new Error(`the build failed and there is no dist/:\n${r.stdout}${r.stderr}`);
    log(`WARNING: the build failed; benchmarking the existing dist/\n${r.stdout.slice(0, 2000)}`);
  }
}

/**
 * Copies dist/, bin/, build/ and package.json to bench/work/snap/ and points every child at the copy
 * (IDX_ROOT): the whole run then measures one build of idx even if dist/ is rebuilt meanwhile.
 */
const SNAP = path.join(WORK_DIR, "snap");
function snapshotIdx() {
  fs.rmSync(SNAP, { recursive: true, force: true });
  fs.mkdirSync(SNAP, { recursive: true });
  fs.cpSync(path.join(ROOT_DIR, "dist"), path.join(SNAP, "dist"), { recursive: true });
  for (const dir of ["bin", "build"]) { // build/: idx's native addons, found relative to dist/
    if (fs.existsSync(path.join(ROOT_DIR, dir))) fs.cpSync(path.join(ROOT_DIR, dir), path.join(SNAP, dir), { recursive: true });
  }
  fs.copyFileSync(path.join(ROOT_DIR, "package.json"), path.join(SNAP, "package.json"));
  process.env.IDX_ROOT = SNAP;
}

/** Which idx was measured: HEAD and whether src/ had uncommitted changes (read-only git). */
function idxVersion() {
  const head = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT_DIR, encoding: "utf8" });
  if (head.status !== 0) return "unknown (not a git checkout)";
  const dirty = spawnSync("git", ["status", "--porcelain", "--", "src", "bin"], { cwd: ROOT_DIR, encoding: "utf8" });
  const n = dirty.stdout.trim() ? dirty.stdout.trim().split("\n").length : 0;
  return `git ${head.stdout.trim()}${n ? ` + uncommitted changes to ${n} file(s) in src/ or bin/` : ""}`;
}

function ensureLmdb() {
  if (fs.existsSync(path.join(BENCH_DIR, "node_modules", "lmdb", "package.json"))) return true;
  if (!opt.install) return false;
  log("installing the benchmark's peers (npm install --prefix bench)");
  const r = run("npm", ["install", "--prefix", BENCH_DIR, "--no-audit", "--no-fund"], { cwd: ROOT_DIR, allowFail: true });
  if (r.status !== 0) log(`WARNING: npm install failed; LMDB skipped\n${r.stderr.slice(0, 2000)}`);
  return fs.existsSync(path.join(BENCH_DIR, "node_modules", "lmdb", "package.json"));
}

const FLOOR = path.join(BENCH_DIR, "floor", "idxfloor");
/** The same C program at -O0: lookups with about as many instructions per key as JIT code. */
const FLOOR_O0 = path.join(BENCH_DIR, "floor", "idxfloor-O0");
function ensureFloor() {
  const src = path.join(BENCH_DIR, "floor", "idxfloor.c");
  const fresh = (bin) => fs.existsSync(bin) && fs.statSync(bin).mtimeMs >= fs.statSync(src).mtimeMs;
  if (fresh(FLOOR) && fresh(FLOOR_O0)) return;
  log("compiling the C floor (make -C bench/floor)");
  if (which("make")) run("make", ["-C", path.join(BENCH_DIR, "floor"), "--no-print-directory"], { stdio: "inherit" });
  else {
    run("cc", ["-O2", "-DNO_ZLIB", "-o", FLOOR, src], { stdio: "inherit" });
    run("cc", ["-O0", "-DNO_ZLIB", "-o", FLOOR_O0, src], { stdio: "inherit" });
  }
}

function ensureCdb() {
  if (which("cdb")) return which("cdb");
  if (!opt.install || process.getuid?.() !== 0 || !which("apt-get")) return null;
  log("installing tinycdb (apt-get install -y tinycdb)");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  let r = run("apt-get", ["install", "-y", "-qq", "tinycdb"], { allowFail: true, env });
  if (r.status !== 0) {
    run("apt-get", ["update", "-qq"], { allowFail: true, env });
    r = run("apt-get", ["install", "-y", "-qq", "tinycdb"], { allowFail: true, env });
  }
  return which("cdb");
}

// ------------------------------------------------------------------ data

const work = (name) => path.join(WORK_DIR, name);
const DATA_VERSION = 1;

/** Writes `lines(i)` for i < n to `file` unless a file with the same stamp is there. */
function writeLines(file, n, stamp, line, trailer = "") {
  const stampFile = `${file}.stamp`;
  if (fs.existsSync(file) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, "utf8") === stamp) return false;
  fs.rmSync(stampFile, { force: true });
  const fd = fs.openSync(file, "w");
  const CH = 1 << 16;
  for (let i = 0; i < n; i += CH) {
    const parts = [];
    for (let j = i; j < Math.min(n, i + CH); j++) parts.push(line(j));
    fs.writeSync(fd, parts.join(""));
  }
  if (trailer) fs.writeSync(fd, trailer);
  fs.closeSync(fd);
  fs.writeFileSync(stampFile, stamp);
  return true;
}

function makeData(kind) {
  const ds = dataset(kind, N);
  ds.tsv = work(`${kind}-${N}.tsv`);
  if (writeLines(ds.tsv, N, `v${DATA_VERSION} ${kind} ${N}`, (i) => `${ds.key(i)}\t${ds.value(i)}\n`)) {
    log(`wrote ${path.relative(ROOT_DIR, ds.tsv)}`);
  }
  ds.tsvBytes = fs.statSync(ds.tsv).size;
  // Query files: L keys each, the same for every system. hits: random rows; misses: absent
  // keys; mix: 90% hits, 10% misses. The expected checksums come with them.
  const L = opt.lookups;
  const r = rng(0x9e3779b9 ^ N ^ kind.length);
  const hits = new Uint32Array(L), misses = new Uint32Array(L), mix = new Uint32Array(L);
  let hitsSum = 0, mixSum = 0, mixFound = 0;
  for (let j = 0; j < L; j++) {
    const i = r() % N;
    hits[j] = ds.key(i);
    hitsSum = (hitsSum + ds.value(i)) | 0;
    misses[j] = ds.miss(j, r());
    if (r() % 10 === 0) mix[j] = ds.miss(j, r());
    else {
      const k = r() % N;
      mix[j] = ds.key(k);
      mixSum = (mixSum + ds.value(k)) | 0;
      mixFound++;
    }
  }
  ds.queries = {};
  for (const [name, arr] of Object.entries({ hits, misses, mix })) {
    const f = work(`q-${kind}-${N}-${L}-${name}.u32`);
    fs.writeFileSync(f, Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength));
    ds.queries[name] = f;
  }
  ds.expected = {
    hits: { sum: hitsSum >>> 0, found: L },
    misses: { sum: 0, found: 0 },
    mix: { sum: mixSum >>> 0, found: mixFound },
  };
  const probeRow = N >> 1;
  ds.probeKey = ds.key(probeRow);
  ds.probeValue = ds.value(probeRow);
  return ds;
}

function makeCdbInput(ds) {
  const file = work(`${ds.kind}-${N}.cdbin`);
  writeLines(file, N, `v${DATA_VERSION} ${ds.kind} ${N}`, (i) => {
    const k = String(ds.key(i)), v = String(ds.value(i));
    return `+${k.length},${v.length}:${k}->${v}\n`;
  }, "\n");
  return file;
}

function identical(a, b) {
  const x = fs.readFileSync(a), y = fs.readFileSync(b);
  if (x.length !== y.length) return `no: ${x.length} vs ${y.length} bytes`;
  if (x.equals(y)) return "yes";
  let i = 0;
  while (x[i] === y[i]) i++;
  return `no: first difference at byte ${i}`;
}

// ------------------------------------------------------------------ measurements

const results = { options: opt, started: new Date().toISOString(), build: {}, lookups: {}, firstAnswer: {}, openGet: {}, rss: {}, share: null, notes: [] };
const note = (s) => { results.notes.push(s); log(`NOTE: ${s}`); };

function repeat(times, fn) {
  const out = [];
  for (let r = 0; r < times; r++) out.push(fn(r));
  return out;
}

function medianOf(list, key) {
  return median(list.map((x) => x[key]));
}

/** The figures of idx builds `rs` (idx-worker.js build reports) that wrote `file`. */
function idxBuilds(rs, file) {
  return { ms: medianOf(rs, "ms"), runs: rs.map((r) => r.ms), fileBytes: rs[0].fileBytes, count: rs[0].count, file };
}

function buildIdx(ds, sync = true) {
  const out = work(`${ds.kind}-${N}${sync ? "" : ".nosync"}.idx`);
  return idxBuilds(repeat(opt.buildReps, () => worker("idx-worker.js", { mode: "build", tsv: ds.tsv, out, sync })), out);
}

/**
 * idx's build and the C floor's, alternately, opt.pairReps times each: both then meet the same
 * spells of disk and CPU contention (an fsync of 91 MB took 70 to 260 ms from one run to the
 * next on the benchmark machine), which a run of one after a run of the other does not give.
 */
function buildIdxAndFloor(ds) {
  const idxOut = work(`${ds.kind}-${N}.idx`);
  const floorOut = work(`${ds.kind}-${N}.floor.idx`);
  const ir = [], fr = [];
  for (let r = 0; r < opt.pairReps; r++) {
    ir.push(worker("idx-worker.js", { mode: "build", tsv: ds.tsv, out: idxOut, sync: true }));
    const w = wall(FLOOR, ["build", ds.tsv, floorOut]);
    fr.push({ ...JSON.parse(w.stdout), wallMs: w.ms });
  }
  return {
    idx: idxBuilds(ir, idxOut),
    floor: {
      ms: medianOf(fr, "totalMs"), wallMs: medianOf(fr, "wallMs"), runs: fr.map((r) => r.totalMs),
      phases: fr[fr.length - 1], fileBytes: fr[0].fileBytes, count: fr[0].count, file: floorOut,
    },
  };
}

function buildCli(ds, bin) {
  const out = work(`${ds.kind}-${N}.cli.idx`);
  const rs = repeat(opt.buildReps, () => wall(NODE, [bin, "build", ds.tsv, "-o", out], { cwd: ROOT_DIR }));
  return { ms: medianOf(rs, "ms"), runs: rs.map((r) => r.ms), fileBytes: fs.statSync(out).size, file: out };
}

function checkLookups(ds, name, r, sumKey, foundKey) {
  const e = ds.expected[name];
  return r[sumKey] === e.sum && r[foundKey] === e.found;
}

function lookupsIdx(ds, file) {
  const r = worker("idx-worker.js", { mode: "lookups", file, queries: ds.queries, reps: opt.reps, batch: opt.batch });
  for (const name of Object.keys(r)) {
    r[name].ok = checkLookups(ds, name, r[name], "getSum", "getFound") && checkLookups(ds, name, r[name], "manySum", "manyFound") &&
      r[name].manyFoundFlags === ds.expected[name].found;
  }
  return r;
}

function lookupsFloor(ds, file, bin = FLOOR) {
  const q = Object.entries(ds.queries);
  const w = run(bin, ["bench", file, String(opt.reps), String(opt.batch), ...q.map(([, f]) => f)]);
  const lines = w.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const r = {};
  q.forEach(([name], i) => {
    r[name] = lines[i];
    r[name].ok = checkLookups(ds, name, lines[i], "getSum", "getFound") && checkLookups(ds, name, lines[i], "manySum", "manyFound");
  });
  return r;
}

/**
 * idx's lookups and the C floor's in alternate rounds (each round a fresh process of each), and
 * per query and figure the median over the rounds: a shared machine's speed drifts by up to 2x
 * over tens of seconds (measured here), and a ratio of two figures taken a minute apart
 * measures that drift as much as the code.
 */
const LOOKUP_ROUNDS = 3;
function lookupsIdxAndFloor(ds, idxFile, floorFile) {
  const rounds = { idx: [], floor: [] };
  for (let r = 0; r < LOOKUP_ROUNDS; r++) {
    rounds.idx.push(lookupsIdx(ds, idxFile));
    rounds.floor.push(lookupsFloor(ds, floorFile));
  }
  const merge = (list) => {
    const out = {};
    for (const name of Object.keys(list[0])) {
      out[name] = { ...list[0][name], ok: list.every((x) => x[name].ok), rounds: list.length };
      for (const k of ["getNs", "manyNs"]) out[name][k] = median(list.map((x) => x[name][k]));
    }
    return out;
  };
  return { idx: merge(rounds.idx), floor: merge(rounds.floor) };
}

function lookupsPeer(script, ds, spec, nodeArgs) {
  const r = worker(script, { mode: "lookups", queries: ds.queries, reps: opt.reps, ...spec }, nodeArgs);
  for (const name of Object.keys(r)) r[name].ok = checkLookups(ds, name, r[name], "getSum", "getFound");
  return r;
}

/**
 * Each process of `list` `reps` times (or its own `reps`), in rounds: one of each a round, so
 * that every system, bare node included, meets the same spells of contention.
 */
async function firstAnswers(list, reps) {
  const out = {};
  for (const s of list) await firstOutput(s.cmd, s.args); // warm the page cache
  const runs = new Map(list.map((s) => [s, []]));
  const rounds = Math.max(...list.map((s) => s.reps ?? reps));
  for (let r = 0; r < rounds; r++) {
    for (const s of list) if (r < (s.reps ?? reps)) runs.get(s).push(await firstOutput(s.cmd, s.args));
  }
  for (const s of list) {
    const rs = runs.get(s);
    const answer = rs[0].out.trim().split(/\s+/).pop();
    out[s.name] = {
      firstMs: medianOf(rs, "firstMs"), exitMs: medianOf(rs, "exitMs"), answer,
      ok: s.expect === undefined || answer === String(s.expect), label: s.label, reps: rs.length,
    };
    if (!out[s.name].ok) note(`${s.label}: answered ${JSON.stringify(rs[0].out.trim())}${rs[0].err ? ` (stderr ${rs[0].err.trim().slice(0, 200)})` : ""}, expected ${s.expect}`);
  }
  return out;
}

async function shareTest(ds, file) {
  const procs = [];
  for (let r = 0; r < opt.readers; r++) {
    const p = spawn(NODE, [path.join(BENCH_DIR, "lib", "idx-worker.js"), JSON.stringify({ mode: "share", file, kind: ds.kind, n: N })],
      { stdio: ["pipe", "pipe", "inherit"] });
    const lines = [];
    let buf = "";
    const waiters = [];
    p.stdout.on("data", (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        lines.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
        while (waiters.length && waiters[0].count <= lines.length) waiters.shift().resolve();
      }
    });
    const waitLines = (count) => new Promise((resolve, reject) => {
      if (lines.length >= count) return resolve();
      waiters.push({ count, resolve });
      p.on("exit", (code) => { if (lines.length < count) reject(new Error(`reader exited ${code}`)); });
    });
    procs.push({ p, lines, waitLines });
  }
  await Promise.all(procs.map((x) => x.waitLines(1)));
  const exits = procs.map((x) => new Promise((resolve) => x.p.on("exit", resolve)));
  for (const x of procs) x.p.stdin.write("go\n");
  await Promise.all(procs.map((x) => x.waitLines(2)));
  await Promise.all(exits);
  const fileBytes = fs.statSync(file).size;
  const readers = procs.map(({ lines: [ready, rep] }) => {
    const m = rep.mapping;
    const priv = (o) => (o.Private_Clean ?? 0) + (o.Private_Dirty ?? 0);
    const shared = (o) => (o.Shared_Clean ?? 0) + (o.Shared_Dirty ?? 0);
    return {
      found: ready.found,
      mapRssKb: m.Rss, mapSharedKb: shared(m), mapPrivateKb: priv(m), mapPssKb: m.Pss,
      privateKb: priv(rep.after), sharedKb: shared(rep.after),
      privateDeltaKb: priv(rep.after) - priv(rep.before), rssKb: rep.after.Rss,
    };
  });
  const sum = (k) => readers.reduce((s, r) => s + r[k], 0);
  return {
    readers, fileBytes,
    sumMapPrivateKb: sum("mapPrivateKb"), sumPrivateDeltaKb: sum("privateDeltaKb"), sumPrivateKb: sum("privateKb"),
    sumMapPssKb: sum("mapPssKb"), allFound: readers.every((r) => r.found === N),
  };
}

// ------------------------------------------------------------------ report

const fmt = (x, d = 1) => (x === undefined || x === null || Number.isNaN(x) ? "—" : x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
const ratio = (a, b) => (a == null || b == null || !b ? "—" : `${(a / b).toFixed(2)}x`);
const mb = (bytes) => (bytes == null ? "—" : `${(bytes / 1048576).toFixed(1)} MB`);
const int = (x) => (x == null ? "—" : Math.round(x).toLocaleString("en-US"));

function table(head, rows) {
  const out = [`| ${head.join(" | ")} |`, `| ${head.map((h, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`];
  for (const r of rows) out.push(`| ${r.map((c) => (c === undefined || c === null ? "—" : String(c))).join(" | ")} |`);
  return out.join("\n");
}

function machineLine() {
  const cpu = (fs.readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.*)$/m) || [])[1] || os.cpus()[0]?.model || "unknown CPU";
  const mem = `${Math.round(os.totalmem() / 2 ** 30)} GiB`;
  return `${cpu.trim()}, ${os.cpus().length} cores, ${mem} RAM, ${os.type()} ${os.release()}, node ${process.version}`;
}

// ------------------------------------------------------------------ main

async function main() {
  fs.mkdirSync(WORK_DIR, { recursive: true });
  log(`n = ${N.toLocaleString("en-US")}, reps ${opt.reps}, ${opt.lookups.toLocaleString("en-US")} lookups a loop, batch ${opt.batch}, build reps ${opt.buildReps}, process reps ${opt.procReps}`);
  ensureDist();
  snapshotIdx();
  results.idxVersion = idxVersion();
  ensureFloor();
  const haveLmdb = ensureLmdb();
  if (!haveLmdb) note("LMDB skipped: bench/node_modules/lmdb is missing and could not be installed");
  const cdb = ensureCdb();
  if (!cdb) note("tinycdb skipped: `cdb` is not installed and apt-get could not install it");
  const cliBin = path.join(SNAP, "bin", "idx.js");
  const haveCli = fs.existsSync(cliBin);
  if (!haveCli) note("bin/idx.js does not exist yet: the CLI rows are skipped");

  const data = {};
  for (const kind of opt.datasets) {
    log(`data set ${kind}`);
    data[kind] = makeData(kind);
  }
  const rnd = data.random;
  const cdbIn = cdb ? makeCdbInput(rnd) : null;

  // ---- builds
  for (const kind of opt.datasets) {
    const ds = data[kind];
    const b = {};
    log(`build ${kind}: idx buildFromText and the C floor, alternately, x${opt.pairReps}`);
    Object.assign(b, buildIdxAndFloor(ds));
    b.identical = identical(b.idx.file, b.floor.file);
    if (b.identical !== "yes") note(`${kind}: the C floor's file differs from idx's (${b.identical})`);
    if (haveCli) {
      log(`build ${kind}: idx CLI x${opt.buildReps}`);
      try {
        b.cli = buildCli(ds, cliBin);
        b.cliIdentical = identical(b.idx.file, b.cli.file);
      } catch (e) {
        note(`idx build CLI failed: ${String(e.message).split("\n").slice(0, 3).join(" ")}`);
      }
    }
    if (kind === "random") {
      log(`build random: idx buildFromText {sync:false} x${opt.buildReps}`);
      b.idxNoSync = buildIdx(ds, false);
      log(`build random: Map x${opt.buildReps}`);
      b.map = (() => {
        const rs = repeat(opt.buildReps, () => worker("map-worker.js", { mode: "build", tsv: ds.tsv }, MAP_NODE_ARGS));
        return { ms: medianOf(rs, "ms"), runs: rs.map((r) => r.ms), heapUsed: rs[0].heapUsed, count: rs[0].count };
      })();
      if (haveLmdb) {
        log(`build random: LMDB x${opt.buildReps}`);
        const out = work(`random-${N}.lmdb`);
        const rs = repeat(opt.buildReps, () => worker("lmdb-worker.js", { mode: "build", tsv: ds.tsv, out }));
        b.lmdb = { ms: medianOf(rs, "ms"), runs: rs.map((r) => r.ms), fileBytes: rs[0].fileBytes, allocatedBytes: rs[0].allocatedBytes, count: rs[0].count, file: out };
      }
      if (cdb) {
        log(`build random: tinycdb cdb -c x${opt.buildReps}`);
        const out = work(`random-${N}.cdb`);
        const rs = repeat(opt.buildReps, () => wall(cdb, ["-c", out, cdbIn]));
        b.cdb = { ms: medianOf(rs, "ms"), runs: rs.map((r) => r.ms), fileBytes: fs.statSync(out).size, file: out };
      }
    }
    results.build[kind] = b;
  }

  // ---- lookups
  for (const kind of opt.datasets) {
    const ds = data[kind];
    const l = {};
    log(`lookups ${kind}: idx and the C floor, alternately, x${LOOKUP_ROUNDS}`);
    ({ idx: l.idx, floor: l.floor } = lookupsIdxAndFloor(ds, results.build[kind].idx.file, results.build[kind].floor.file));
    if (kind === "random") {
      log(`lookups ${kind}: C floor at -O0 (reference)`);
      l.floorO0 = lookupsFloor(ds, results.build[kind].floor.file, FLOOR_O0);
    }
    if (kind === "random") {
      log("lookups random: Map");
      l.map = lookupsPeer("map-worker.js", ds, { tsv: ds.tsv }, MAP_NODE_ARGS);
      if (haveLmdb) {
        log("lookups random: LMDB");
        l.lmdb = lookupsPeer("lmdb-worker.js", ds, { file: results.build.random.lmdb.file });
      }
    }
    for (const [sys, r] of Object.entries(l)) {
      for (const [q, x] of Object.entries(r)) if (!x.ok) note(`${kind} ${sys} ${q}: WRONG ANSWERS (checksum or count differs from the expected one)`);
    }
    results.lookups[kind] = l;
  }
  {
    let discarded = 0;
    for (const l of Object.values(results.lookups)) for (const r of Object.values(l)) for (const x of Object.values(r)) discarded += x.discarded ?? 0;
    results.discardedRuns = discarded;
    if (discarded) note(`${discarded} timed lookup loop(s) lost the CPU to another process (wall time > 1.15x CPU time) and were run again`);
  }

  // ---- a new process's first answer (random data)
  log("new process, first answer");
  const B = results.build.random;
  const key = String(rnd.probeKey);
  const answers = [
    { name: "bare", label: "bare node (`node -e` printing 0)", cmd: NODE, args: ["-e", "process.stdout.write('0\\n')"] },
    haveCli && { name: "idxCli", label: "idx CLI: `node bin/idx.js get FILE KEY`", cmd: NODE, args: [cliBin, "get", B.idx.file, key], expect: rnd.probeValue },
    { name: "idxLib", label: "idx library: node script, require + open + get", cmd: NODE, args: [path.join(BENCH_DIR, "lib", "answer-idx.js"), B.idx.file, key], expect: rnd.probeValue },
    haveLmdb && { name: "lmdb", label: "LMDB: node script, require + open + get", cmd: NODE, args: [path.join(BENCH_DIR, "lib", "answer-lmdb.js"), B.lmdb.file, key], expect: rnd.probeValue },
    { name: "map", label: "Map: node script, parse TSV + insert + get", cmd: NODE, args: [...MAP_NODE_ARGS, path.join(BENCH_DIR, "lib", "answer-map.js"), rnd.tsv, key], expect: rnd.probeValue, reps: N > 2e6 ? 3 : undefined },
    { name: "floor", label: "C floor: `idxfloor get FILE KEY`", cmd: FLOOR, args: ["get", B.floor.file, key], expect: rnd.probeValue },
    cdb && { name: "cdb", label: "tinycdb: `cdb -q FILE KEY`", cmd: cdb, args: ["-q", B.cdb.file, key], expect: rnd.probeValue },
  ].filter(Boolean);
  results.firstAnswer = await firstAnswers(answers, opt.procReps);

  // ---- open + first get inside a process
  log("open + first get in process");
  {
    const rs = repeat(opt.procReps, () => worker("idx-worker.js", { mode: "open", file: B.idx.file, key: rnd.probeKey }));
    results.openGet.idx = {
      coldMs: medianOf(rs, "coldMs"), warmMs: medianOf(rs, "warmMs"), ok: rs.every((r) => r.value === rnd.probeValue),
      gcCount: medianOf(rs, "gcCount"), gcMs: medianOf(rs, "gcMs"), externalDelta: rs[0].externalDelta,
    };
    if (haveLmdb) {
      const ls = repeat(opt.procReps, () => worker("lmdb-worker.js", { mode: "open", file: B.lmdb.file, key: rnd.probeKey }));
      results.openGet.lmdb = { coldMs: medianOf(ls, "coldMs"), ok: ls.every((r) => r.value === rnd.probeValue) };
    }
    const requireMs = (mod) => median(repeat(opt.procReps, () => Number(run(NODE, ["-e",
      `const t = process.hrtime.bigint(); require(${JSON.stringify(mod)}); process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6))`]).stdout)));
    results.openGet.idxRequireMs = requireMs(SNAP);
    if (haveLmdb) results.openGet.lmdbRequireMs = requireMs(path.join(BENCH_DIR, "node_modules", "lmdb"));
    const fs_ = repeat(opt.procReps, () => JSON.parse(run(FLOOR, ["get", B.floor.file, key, "--stats"]).stdout));
    results.openGet.floor = { coldMs: medianOf(fs_, "openGetMs"), ok: fs_.every((r) => r.value === rnd.probeValue) };
  }

  // ---- reader RSS after the first answer
  log("reader RSS");
  {
    const rssJs = JSON.stringify(path.join(BENCH_DIR, "lib", "rss.js"));
    const rssOf = (args, reps = 3) => {
      const rs = repeat(reps, () => JSON.parse(run(NODE, args).stdout.trim().split("\n").pop()));
      return { rss: medianOf(rs, "rss"), anon: medianOf(rs, "anon"), file: medianOf(rs, "file"), mapped: rs[0].mapped ?? null };
    };
    results.rss.bare = rssOf(["-e", `process.stdout.write(JSON.stringify(require(${rssJs}).rssParts()) + "\\n")`]);
    results.rss.idx = rssOf([path.join(BENCH_DIR, "lib", "answer-idx.js"), B.idx.file, key, "--rss"]);
    if (haveLmdb) results.rss.lmdb = rssOf([path.join(BENCH_DIR, "lib", "answer-lmdb.js"), B.lmdb.file, key, "--rss"]);
    results.rss.map = rssOf([...MAP_NODE_ARGS, path.join(BENCH_DIR, "lib", "answer-map.js"), rnd.tsv, key, "--rss"], 1);
    const f = JSON.parse(run(FLOOR, ["get", B.floor.file, key, "--stats"]).stdout);
    results.rss.floor = { rss: f.rssKb * 1024, anon: f.anonKb * 1024, file: f.fileKb * 1024, mapped: null };
  }

  // ---- concurrent readers share one copy
  log(`${opt.readers} concurrent idx readers`);
  sampleLoad = false;
  results.loadavg = [loadSamples[0], Math.max(...loadSamples), loadSamples[loadSamples.length - 1]];
  results.share = await shareTest(rnd, B.idx.file);
  if (!results.share.allFound) note("share test: a reader did not find every key");

  if (results.loadavg.some((l) => l > os.cpus().length * 0.75)) note(`the load average reached ${Math.max(...results.loadavg).toFixed(2)} on ${os.cpus().length} CPUs: other processes competed with this run`);
  results.finished = new Date().toISOString();
  results.seconds = (Date.now() - started) / 1000;
  const md = render(data);
  process.stdout.write(`${md}\n`);
  if (opt.write) writeResults(md);
  ratioScripts();
}

/**
 * The ratio scripts, as their own processes: bench/get-ratio.js (get, getOr and getMany against
 * the in-process C floor, by thread CPU time) and bench/wide.js (64-bit IDs: size, build,
 * lookups against their C floor, the JS maps and LMDB). They write bench/GET.md and
 * bench/WIDE.md (a quick run, bench/work/*.json).
 */
function ratioScripts() {
  const quick = opt.quick ? ["--rounds", "3", "--lookups", "200000"] : [];
  const runs = [
    ["get-ratio.js", ["--n", String(N), ...quick, ...(opt.quick || !opt.write ? ["--json", work("get-ratio-quick.json")] : [])]],
    ["wide.js", ["--n", String(N), ...quick, ...(opt.quick ? ["--builds", "1"] : []), ...(opt.install ? [] : ["--no-install"]),
      ...(opt.quick || !opt.write ? ["--json", work("wide-quick.json")] : [])]],
  ];
  for (const [script, args] of runs) {
    log(`${script} ${args.join(" ")}`);
    const r = spawnSync(NODE, ["--expose-gc", path.join(BENCH_DIR, script), ...args], { stdio: ["ignore", "inherit", "inherit"] });
    if (r.status !== 0) note(`${script} failed (exit ${r.status})`);
  }
}

// ------------------------------------------------------------------ render

function render(data) {
  const B = results.build, L = results.lookups, R = results.build.random;
  const lines = [];
  const n = N;
  const title = `## n = ${n.toLocaleString("en-US")}${opt.quick ? " (quick)" : ""}`;
  lines.push(title, "");
  lines.push(`- Command: \`${commandLine}\``);
  lines.push(`- Date: ${results.started.slice(0, 10)} (${results.started}); took ${results.seconds.toFixed(0)} s`);
  lines.push(`- Machine: ${machineLine()}`);
  const busy = results.loadavg.some((l) => l > os.cpus().length * 0.75);
  lines.push(`- Load average (1 min) at start / highest / end, sampled at each step before the readers test: ${results.loadavg.map((l) => l.toFixed(2)).join(" / ")}${busy ? " (**other work shared the CPUs during this run: figures are disturbed**)" : ""}`);
  lines.push(`- idx measured: ${results.idxVersion} (\`npm run build\`: dist/ compiled by tsc and bundled into dist/idx.js, the package's main; copied to bench/work/snap/ for the run)`);
  lines.push(`- Data: ${opt.datasets.map((k) => `${k}: ${data[k].describe}`).join("; ")}. Same TSV file for every system (${mb(data.random.tsvBytes)} for random).`);
  lines.push(`- Lookup loops: ${opt.lookups.toLocaleString("en-US")} keys a loop from a pre-generated Uint32Array, warm-up until the JIT settles (at least 3 passes and 0.5 s), median of ${opt.reps}; idx and the C floor in ${LOOKUP_ROUNDS} alternate rounds of fresh processes, median of the rounds; getMany/batch in calls of ${opt.batch} keys. Builds: idx and the C floor alternately, median of ${opt.pairReps} each; the other systems median of ${opt.buildReps}; each in a fresh process. New processes: median of ${opt.procReps}, in rounds of one of each.`);
  lines.push("");

  // Build
  const fb = R.floor;
  const perEntry = (bytes) => (bytes == null ? "—" : (bytes / n).toFixed(2));
  lines.push("### Build from the same TSV (random keys)", "");
  const brows = [
    ["idx `buildFromText` (fsync, default)", fmt(R.idx.ms), int(R.idx.fileBytes), perEntry(R.idx.fileBytes), ratio(R.idx.ms, fb.ms), "1.00x"],
    ["idx `buildFromText` {sync: false}", fmt(R.idxNoSync.ms), int(R.idxNoSync.fileBytes), perEntry(R.idxNoSync.fileBytes), ratio(R.idxNoSync.ms, fb.ms), ratio(R.idxNoSync.ms, R.idx.ms)],
    R.cli ? ["idx CLI `idx build IN -o OUT` (process wall time)", fmt(R.cli.ms), int(R.cli.fileBytes), perEntry(R.cli.fileBytes), ratio(R.cli.ms, fb.wallMs), ratio(R.cli.ms, R.idx.ms)] : ["idx CLI", "not available", "", "", "", ""],
    ["C floor (in process, fsync)", fmt(fb.ms), int(fb.fileBytes), perEntry(fb.fileBytes), "1.00x", ratio(fb.ms, R.idx.ms)],
    ["C floor (process wall time)", fmt(fb.wallMs), "", "", ratio(fb.wallMs, fb.ms), ratio(fb.wallMs, R.idx.ms)],
    ["JS Map: read + parse + set", fmt(R.map.ms), `heap ${int(R.map.heapUsed)}`, `${perEntry(R.map.heapUsed)} (heap)`, ratio(R.map.ms, fb.ms), ratio(R.map.ms, R.idx.ms)],
    R.lmdb ? ["LMDB: read + parse + putSync, one txn, flushed", fmt(R.lmdb.ms), int(R.lmdb.fileBytes), perEntry(R.lmdb.fileBytes), ratio(R.lmdb.ms, fb.ms), ratio(R.lmdb.ms, R.idx.ms)] : null,
    R.cdb ? ["tinycdb `cdb -c` (own input format, no fsync, wall)", fmt(R.cdb.ms), int(R.cdb.fileBytes), perEntry(R.cdb.fileBytes), ratio(R.cdb.ms, fb.ms), ratio(R.cdb.ms, R.idx.ms)] : null,
  ].filter(Boolean);
  lines.push(table(["system", "build ms", "file bytes", "bytes/entry", "vs C floor", "vs idx"], brows), "");
  const ph = fb.phases;
  lines.push(`C floor phases (last run): parse ${fmt(ph.parseMs)} ms, sort ${fmt(ph.sortMs)} ms, place ${fmt(ph.placeMs)} ms, CRC ${fmt(ph.crcMs)} ms, write+fsync+rename ${fmt(ph.writeMs)} ms.`, "");

  lines.push("### Build by data set (idx vs C floor)", "");
  lines.push(table(["data set", "idx ms", "C floor ms", "idx / C", "idx vs random", "file bytes", "bytes/entry", "C file identical to idx", R.cli ? "CLI file identical" : null].filter(Boolean),
    opt.datasets.map((k) => [k, fmt(B[k].idx.ms), fmt(B[k].floor.ms), ratio(B[k].idx.ms, B[k].floor.ms), ratio(B[k].idx.ms, R.idx.ms),
      int(B[k].idx.fileBytes), perEntry(B[k].idx.fileBytes), B[k].identical, R.cli ? (B[k].cliIdentical ?? "—") : null].filter((x) => x !== null))), "");

  // Lookups
  const Lr = L.random;
  const q = ["hits", "misses", "mix"];
  const ok = (r) => (Object.values(r).every((x) => x.ok) ? "ok" : "WRONG");
  lines.push("### Lookups, ns per lookup (random keys)", "");
  lines.push("hits: random present keys; misses: absent keys; mix: 90% hits, 10% misses. Single = one `get` a key; batch = `getMany` (C: prefetching batch loop).", "");
  const lrows = [
    ["idx `get`", ...q.map((x) => fmt(Lr.idx[x].getNs)), ok(Lr.idx)],
    ["idx `getMany`", ...q.map((x) => fmt(Lr.idx[x].manyNs)), ok(Lr.idx)],
    ["C floor single", ...q.map((x) => fmt(Lr.floor[x].getNs)), ok(Lr.floor)],
    ["C floor batch + prefetch", ...q.map((x) => fmt(Lr.floor[x].manyNs)), ok(Lr.floor)],
    Lr.floorO0 ? ["C floor single, compiled -O0 (reference: several times the instructions a lookup, as JIT code has)", ...q.map((x) => fmt(Lr.floorO0[x].getNs)), ok(Lr.floorO0)] : null,
    ["JS Map `get`", ...q.map((x) => fmt(Lr.map[x].getNs)), ok(Lr.map)],
    Lr.lmdb ? ["LMDB `getBinaryFast`", ...q.map((x) => fmt(Lr.lmdb[x].getNs)), ok(Lr.lmdb)] : null,
    ["*idx get / C single*", ...q.map((x) => ratio(Lr.idx[x].getNs, Lr.floor[x].getNs)), ""],
    ["*idx getMany / C batch*", ...q.map((x) => ratio(Lr.idx[x].manyNs, Lr.floor[x].manyNs)), ""],
    ["*Map get / idx get*", ...q.map((x) => ratio(Lr.map[x].getNs, Lr.idx[x].getNs)), ""],
    Lr.lmdb ? ["*LMDB get / idx get*", ...q.map((x) => ratio(Lr.lmdb[x].getNs, Lr.idx[x].getNs)), ""] : null,
  ].filter(Boolean);
  lines.push(table(["system", "hits", "misses", "90/10 mix", "answers"], lrows), "");

  lines.push("### Lookups by data set, ns per lookup (idx, and C floor for reference)", "");
  lines.push(table(["data set", "idx get hits", "idx get misses", "idx get mix", "idx getMany hits", "idx getMany misses", "C single hits", "C batch hits", "get hits vs random", "getMany hits vs random", "get misses vs random"],
    opt.datasets.map((k) => {
      const i = L[k].idx, c = L[k].floor;
      return [k, fmt(i.hits.getNs), fmt(i.misses.getNs), fmt(i.mix.getNs), fmt(i.hits.manyNs), fmt(i.misses.manyNs), fmt(c.hits.getNs), fmt(c.hits.manyNs),
        ratio(i.hits.getNs, Lr.idx.hits.getNs), ratio(i.hits.manyNs, Lr.idx.hits.manyNs), ratio(i.misses.getNs, Lr.idx.misses.getNs)];
    })), "");

  // New process
  const F = results.firstAnswer;
  lines.push("### A new process's first answer (random keys, one key)", "");
  lines.push("Time from spawn to the first byte of the answer on stdout (and to exit), median.", "");
  lines.push(table(["process", "first answer ms", "exit ms", "minus bare node", "answer"],
    Object.values(F).map((x) => [x.label, fmt(x.firstMs, 2), fmt(x.exitMs, 2), x === F.bare ? "—" : `${x.firstMs - F.bare.firstMs >= 0 ? "+" : ""}${fmt(x.firstMs - F.bare.firstMs, 2)}`, x === F.bare ? "—" : x.ok ? "ok" : `WRONG (${x.answer})`])), "");

  const O = results.openGet;
  lines.push("### Open + first get inside a process", "");
  lines.push(table(["system", "ms", "answer"], [
    ["`require` of idx (the package: dist/idx.js) in a fresh process, for reference", fmt(O.idxRequireMs, 2), ""],
    ["idx `IdIndex.open` + `get`, first in the process (loads the mmap binding)", fmt(O.idx.coldMs, 4), O.idx.ok ? "ok" : "WRONG"],
    ["idx `IdIndex.open` + `get`, again in the same process (median of 21)", fmt(O.idx.warmMs, 4), O.idx.ok ? "ok" : "WRONG"],
    [`of the first: garbage collection (median ${fmt(O.idx.gcCount, 0)} GCs; external memory V8 counted for the mapping: ${mb(O.idx.externalDelta)})`, fmt(O.idx.gcMs, 4), ""],
    O.lmdb ? ["`require` of lmdb in a fresh process, for reference", fmt(O.lmdbRequireMs, 2), ""] : null,
    O.lmdb ? ["LMDB `open` + `getBinaryFast`, first in the process (after require)", fmt(O.lmdb.coldMs, 4), O.lmdb.ok ? "ok" : "WRONG"] : null,
    ["C floor open + mmap + header check + get", fmt(O.floor.coldMs, 4), O.floor.ok ? "ok" : "WRONG"],
  ].filter(Boolean)), "");

  const S = results.rss;
  const plus = (a, b) => `${a - b >= 0 ? "+" : ""}${mb(a - b)}`;
  lines.push("### Reader RSS after the first answer", "");
  lines.push("RSS from /proc/self/status after one answer, split into anonymous (private heap) and file-backed pages (shared, clean page cache: the binary, libraries and the mapped index). \"index resident\" is the Rss of the index file's mapping (/proc/self/smaps).", "");
  const rssRow = (name, x, bare = S.bare) => [name, mb(x.rss), bare ? plus(x.rss, bare.rss) : "(not node)", mb(x.anon), bare ? plus(x.anon, bare.anon) : "", mb(x.file), bare ? plus(x.file, bare.file) : "", x.mapped == null ? "—" : mb(x.mapped)];
  lines.push(table(["process", "RSS", "minus bare node", "RssAnon", "minus bare", "RssFile", "minus bare", "index resident"], [
    ["bare node", mb(S.bare.rss), "—", mb(S.bare.anon), "—", mb(S.bare.file), "—", "—"],
    rssRow("idx (require + open + get)", S.idx),
    S.lmdb ? rssRow("LMDB (require + open + get)", S.lmdb) : null,
    rssRow("Map (parse TSV + insert + get)", S.map),
    rssRow("C floor (open + get)", S.floor, null),
  ].filter(Boolean)), "");

  const Sh = results.share;
  lines.push(`### ${opt.readers} concurrent idx readers (random keys, ${mb(Sh.fileBytes)} file)`, "");
  lines.push("Each reader maps the file, looks up all n keys (touching every slot page), then, while all are still alive, reads /proc/self/smaps (the file's mapping) and /proc/self/smaps_rollup.", "");
  lines.push(table(["reader", "mapping Rss", "mapping Shared", "mapping Private", "mapping Pss", "process Private (rollup)", "Private growth since before open", "process Shared (rollup)"],
    Sh.readers.map((r, i) => [i + 1, `${int(r.mapRssKb)} kB`, `${int(r.mapSharedKb)} kB`, `${int(r.mapPrivateKb)} kB`, `${int(r.mapPssKb)} kB`, `${int(r.privateKb)} kB`, `${int(r.privateDeltaKb)} kB`, `${int(r.sharedKb)} kB`])), "");
  lines.push(`Sum over ${opt.readers} readers: file-mapping Private ${int(Sh.sumMapPrivateKb)} kB, file-mapping Pss ${int(Sh.sumMapPssKb)} kB, process Private growth ${int(Sh.sumPrivateDeltaKb)} kB; ${opt.readers} file copies would be ${int((opt.readers * Sh.fileBytes) / 1024)} kB.`, "");

  // Targets
  const T = targets();
  results.targets = T;
  lines.push("### Targets", "");
  lines.push(table(["target", "measured", "limit", "result"], T.map((t) => [t.name, t.measured, t.limit, t.pass === null ? "n/a" : t.pass ? "PASS" : "**FAIL**"])), "");
  if (results.notes.length) {
    lines.push("Notes:", "");
    for (const s of results.notes) lines.push(`- ${s}`);
    lines.push("");
  }
  return lines.join("\n");
}

function targets() {
  const B = results.build, L = results.lookups, R = B.random, Lr = L.random, F = results.firstAnswer;
  const T = [];
  const add = (name, measured, limit, pass) => T.push({ name, measured, limit, pass });
  const r = (a, b) => a / b;
  const x2 = (v) => `${v.toFixed(2)}x`;
  add("getMany random hits within 1.5x of C batch", `${fmt(Lr.idx.hits.manyNs)} vs ${fmt(Lr.floor.hits.manyNs)} ns = ${x2(r(Lr.idx.hits.manyNs, Lr.floor.hits.manyNs))}`, "<= 1.5x", r(Lr.idx.hits.manyNs, Lr.floor.hits.manyNs) <= 1.5);
  add("get random hits within 2x of C", `${fmt(Lr.idx.hits.getNs)} vs ${fmt(Lr.floor.hits.getNs)} ns = ${x2(r(Lr.idx.hits.getNs, Lr.floor.hits.getNs))}`, "<= 2x", r(Lr.idx.hits.getNs, Lr.floor.hits.getNs) <= 2);
  add("get random hits >= 4x faster than Map.get", `Map ${fmt(Lr.map.hits.getNs)} / idx ${fmt(Lr.idx.hits.getNs)} ns = ${x2(r(Lr.map.hits.getNs, Lr.idx.hits.getNs))}`, ">= 4x", r(Lr.map.hits.getNs, Lr.idx.hits.getNs) >= 4);
  if (Lr.lmdb) add("get random hits >= 15x faster than LMDB", `LMDB ${fmt(Lr.lmdb.hits.getNs)} / idx ${fmt(Lr.idx.hits.getNs)} ns = ${x2(r(Lr.lmdb.hits.getNs, Lr.idx.hits.getNs))}`, ">= 15x", r(Lr.lmdb.hits.getNs, Lr.idx.hits.getNs) >= 15);
  else add("get random hits >= 15x faster than LMDB", "LMDB not run", ">= 15x", null);
  add("get misses within 1.5x of C single", `${fmt(Lr.idx.misses.getNs)} vs ${fmt(Lr.floor.misses.getNs)} ns = ${x2(r(Lr.idx.misses.getNs, Lr.floor.misses.getNs))}`, "<= 1.5x", r(Lr.idx.misses.getNs, Lr.floor.misses.getNs) <= 1.5);
  add("getMany misses within 1.5x of C batch", `${fmt(Lr.idx.misses.manyNs)} vs ${fmt(Lr.floor.misses.manyNs)} ns = ${x2(r(Lr.idx.misses.manyNs, Lr.floor.misses.manyNs))}`, "<= 1.5x", r(Lr.idx.misses.manyNs, Lr.floor.misses.manyNs) <= 1.5);
  const proc = F.idxCli ?? F.idxLib;
  const procName = F.idxCli ? "idx CLI get" : "idx library script (CLI missing)";
  add(`new process first answer within 5 ms of bare node (${procName})`, `${fmt(proc.firstMs, 2)} vs ${fmt(F.bare.firstMs, 2)} ms = +${fmt(proc.firstMs - F.bare.firstMs, 2)} ms`, "<= +5 ms", proc.ok && proc.firstMs - F.bare.firstMs <= 5);
  if (F.idxCli) add("new process first answer within 5 ms of bare node (library script)", `+${fmt(F.idxLib.firstMs - F.bare.firstMs, 2)} ms`, "<= +5 ms", F.idxLib.ok && F.idxLib.firstMs - F.bare.firstMs <= 5);
  add("open + first get < 0.1 ms (first in the process)", `${fmt(results.openGet.idx.coldMs, 4)} ms`, "< 0.1 ms", results.openGet.idx.coldMs < 0.1);
  add("open + get < 0.1 ms (binding already loaded)", `${fmt(results.openGet.idx.warmMs, 4)} ms`, "< 0.1 ms", results.openGet.idx.warmMs < 0.1);
  add("build from TSV within 1.5x of C floor build", `${fmt(R.idx.ms)} vs ${fmt(R.floor.ms)} ms = ${x2(r(R.idx.ms, R.floor.ms))}`, "<= 1.5x", r(R.idx.ms, R.floor.ms) <= 1.5);
  if (R.cdb) {
    add("build from TSV no slower than tinycdb `cdb -c`", `${fmt(R.idx.ms)} vs ${fmt(R.cdb.ms)} ms = ${x2(r(R.idx.ms, R.cdb.ms))}`, "<= 1x", R.idx.ms <= R.cdb.ms);
    if (R.cli) add("idx CLI build (wall) no slower than tinycdb `cdb -c` (wall)", `${fmt(R.cli.ms)} vs ${fmt(R.cdb.ms)} ms = ${x2(r(R.cli.ms, R.cdb.ms))}`, "<= 1x", R.cli.ms <= R.cdb.ms);
  } else add("build from TSV no slower than tinycdb", "tinycdb not run", "<= 1x", null);
  add("<= 10 bytes/entry", `${(R.idx.fileBytes / N).toFixed(2)} B/entry`, "<= 10", R.idx.fileBytes / N <= 10);
  for (const k of opt.datasets.filter((k) => k !== "random")) {
    const worst = Math.max(r(B[k].idx.ms, R.idx.ms), r(L[k].idx.hits.getNs, Lr.idx.hits.getNs), r(L[k].idx.hits.manyNs, Lr.idx.hits.manyNs),
      r(L[k].idx.misses.getNs, Lr.idx.misses.getNs), r(L[k].idx.mix.getNs, Lr.idx.mix.getNs), r(L[k].idx.misses.manyNs, Lr.idx.misses.manyNs));
    add(`${k} within 1.2x of random (build, get and getMany: hits, misses, mix)`, `build ${x2(r(B[k].idx.ms, R.idx.ms))}, get hits ${x2(r(L[k].idx.hits.getNs, Lr.idx.hits.getNs))}, getMany hits ${x2(r(L[k].idx.hits.manyNs, Lr.idx.hits.manyNs))}, get misses ${x2(r(L[k].idx.misses.getNs, Lr.idx.misses.getNs))}; worst ${x2(worst)}`, "<= 1.2x", worst <= 1.2);
  }
  const Rs = results.rss;
  add("reader RSS within 5 MB of bare node", `+${mb(Rs.idx.rss - Rs.bare.rss)} (anon +${mb(Rs.idx.anon - Rs.bare.anon)}, file +${mb(Rs.idx.file - Rs.bare.file)}, of which index ${mb(Rs.idx.mapped)})`, "<= 5 MB", Rs.idx.rss - Rs.bare.rss <= 5 * 1048576);
  const Sh = results.share;
  add(`${opt.readers} readers share one copy (sum of file-mapping Private far below ${opt.readers} file sizes)`,
    `${int(Sh.sumMapPrivateKb)} kB private of ${int((opt.readers * Sh.fileBytes) / 1024)} kB; process Private growth ${int(Sh.sumPrivateDeltaKb)} kB`,
    "< 1 file size", Sh.sumMapPrivateKb * 1024 < Sh.fileBytes);
  const allOk = opt.datasets.every((k) => Object.values(L[k]).every((s) => Object.values(s).every((x) => x.ok)));
  add("every lookup answer correct (checksums)", allOk ? "all match" : "MISMATCH", "all match", allOk);
  return T;
}

function writeResults(md) {
  const resultsDir = path.join(BENCH_DIR, "results");
  if (opt.quick) {
    fs.writeFileSync(work("RESULTS-quick.md"), `${md}\n`);
    fs.writeFileSync(work("results-quick.json"), JSON.stringify(results, null, 2));
    log(`quick run: wrote bench/work/RESULTS-quick.md (bench/RESULTS.md untouched)`);
    return;
  }
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, `n-${N}.md`), `${md}\n`);
  fs.writeFileSync(path.join(resultsDir, `n-${N}.json`), `${JSON.stringify(results, null, 2)}\n`);
  const sections = fs.readdirSync(resultsDir).map((f) => /^n-(\d+)\.md$/.exec(f)).filter(Boolean)
    .sort((a, b) => Number(a[1]) - Number(b[1])).map((m) => fs.readFileSync(path.join(resultsDir, m[0]), "utf8").trimEnd());
  const head = [
    "# idx benchmark results",
    "",
    "Written by `npm run bench` (bench/run.js); each section is the last run with that n, and its",
    "raw figures are in bench/results/n-N.json. How the figures are taken: bench/README.md. The same",
    "run writes bench/GET.md (get, getOr and getMany against the C floor, in one thread) and",
    "bench/WIDE.md (64-bit IDs).",
    "",
  ].join("\n");
  fs.writeFileSync(path.join(BENCH_DIR, "RESULTS.md"), `${head}\n${sections.join("\n\n")}\n`);
  log(`wrote bench/RESULTS.md and bench/results/n-${N}.{md,json}`);
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e && e.stack || e}\n`);
  process.exit(1);
});
