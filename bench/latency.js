#!/usr/bin/env node
"use strict";
/**
 * Do readers of an idx index ever wait on a healthy writer? (issue 9, item 4)
 *
 * For each phase: build a fresh index, start one reader process that times every lookup alone
 * (get of a random present key, and getMany of 64 keys per call) into log-spaced histograms,
 * and run one kind of writer in another process for the same window. Then, optionally, a
 * second pass of the same writer beside a sampler process that reads the header's seq word
 * with pread and times how long each operation keeps it odd.
 *
 *   node bench/latency.js [--idx DIR] [--seconds S] [--n N] [--out DIR] ...   (--help)
 *
 * See bench/LATENCY.md.
 */
const fs = require("node:fs");
const path = require("node:path");
const os = require("node:os");
const { fork, execFileSync } = require("node:child_process");
const { Histogram } = require("./latency/hist");
const { monoNs, machineCpu, processCpu, loadavg, nextMessage } = require("./latency/common");

const ALL_PHASES = ["none", "set", "cli-set", "update", "cli-put", "compact", "api-compact"];
const PHASE_TEXT = {
  none: "(a) no writer (baseline)",
  set: "(b) IdWriter.set loop, present + new keys",
  "cli-set": "(c) `idx set` loop, a process each",
  update: "(d) IdWriter.update, 30% batches (rewrite)",
  "cli-put": "(e) `idx put` of 30% text files (rewrite)",
  compact: "(f) `idx compact` loop",
  "api-compact": "(f') IdWriter.compact loop",
};

const USAGE = `Usage: node bench/latency.js [options]

Measures lookup latency in a reader process while another process writes the same index.
Phases (each on a freshly built index):
${ALL_PHASES.map((p) => `  ${p.padEnd(12)} ${PHASE_TEXT[p]}`).join("\n")}

Options:
  --idx DIR            the idx package to test (default: this repo, ${path.resolve(__dirname, "..")});
                       needs its dist/ and native addon built (npm install in DIR). Give it twice
                       (or more) to compare packages: each phase then runs for each package in
                       turn (A B, then B A for the next phase), under the same load
  --label NAME         name of each --idx in the output, in the same order (default:
                       idx@<git commit of DIR>)
  --n N                entries in the built index (default 1000000)
  --seconds S          length of each phase's timed window (default 15)
  --sample-seconds S   length of each phase's seq-sampler pass (default 5; 0 skips the pass)
  --phases LIST        comma-separated phases (default all: ${ALL_PHASES.join(",")})
  --out DIR            where the JSON, markdown and the indexes go (default bench/work/latency)
  --clock C            reader's clock: hrtime (process.hrtime.bigint, default) or perf
                       (performance.now: allocates nothing)
  --batch B            keys per timed getMany call (default 64)
  --slow-us U          list lookups at least this slow, with their causes (default 100)
  --max-entries M      growth phases add new keys until the index holds M (default 8 n)
  --seed S             key seed (default 1)
  --nice N             run the reader, the writer (and the CLI processes it starts) and the
                       sampler at this nice value (-20..19; below 0 needs root): on a shared
                       machine, the bench's processes then have the CPUs before other load,
                       which leaves the waits that idx itself causes
  -h, --help           this text

Output: a markdown report on stdout and in OUT/latency-LABEL.md, every figure in
OUT/latency-LABEL.json (histograms with their buckets, slow lookups, GC pauses, writer
operations, seq sampler).`;

function parseArgs(argv) {
  const o = {
    idxs: [],
    labels: [],
    n: 1_000_000,
    seconds: 15,
    sampleSeconds: 5,
    phases: ALL_PHASES,
    out: path.resolve(__dirname, "work", "latency"),
    clock: "hrtime",
    batch: 64,
    slowUs: 100,
    maxEntries: null,
    seed: 1,
    nice: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) die(`${a} needs a value`);
      return argv[++i];
    };
    const num = () => {
      const v = Number(val());
      if (!Number.isFinite(v) || v < 0) die(`${a} needs a number`);
      return v;
    };
    switch (a) {
      case "-h": case "--help": console.log(USAGE); process.exit(0);
      case "--idx": o.idxs.push(path.resolve(val())); break;
      case "--label": o.labels.push(val()); break;
      case "--n": o.n = Math.floor(num()); break;
      case "--seconds": o.seconds = num(); break;
      case "--sample-seconds": o.sampleSeconds = num(); break;
      case "--phases": o.phases = val().split(",").filter(Boolean); break;
      case "--out": o.out = path.resolve(val()); break;
      case "--clock": o.clock = val(); break;
      case "--batch": o.batch = Math.floor(num()); break;
      case "--slow-us": o.slowUs = num(); break;
      case "--max-entries": o.maxEntries = Math.floor(num()); break;
      case "--seed": o.seed = Math.floor(num()); break;
      case "--nice": {
        const v = Number(val());
        if (!Number.isInteger(v) || v < -20 || v > 19) die("--nice takes -20..19");
        o.nice = v;
        break;
      }
      default: die(`unknown option ${a} (see --help)`);
    }
  }
  for (const p of o.phases) if (!ALL_PHASES.includes(p)) die(`unknown phase ${p}: one of ${ALL_PHASES.join(", ")}`);
  if (o.clock !== "hrtime" && o.clock !== "perf") die("--clock is hrtime or perf");
  if (o.n < 1000) die("--n must be at least 1000");
  if (o.batch < 1) die("--batch must be at least 1");
  o.maxEntries ??= 8 * o.n;
  if (o.idxs.length === 0) o.idxs.push(path.resolve(__dirname, ".."));
  if (o.labels.length > o.idxs.length) die("more --label than --idx");
  o.sides = o.idxs.map((dir, i) => {
    if (!fs.existsSync(path.join(dir, "bin", "idx.js")) || !fs.existsSync(path.join(dir, "package.json"))) {
      die(`${dir} is not an idx package (no bin/idx.js)`);
    }
    const main = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).main;
    if (!fs.existsSync(path.join(dir, main))) die(`${dir}/${main} is missing: run npm install (or npm run build) there`);
    let label = o.labels[i];
    if (label === undefined) {
      let commit = "unknown";
      try {
        commit = execFileSync("git", ["-C", dir, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
      } catch {
        // not a git checkout
      }
      label = `idx@${commit}`;
    }
    return { dir, label };
  });
  if (new Set(o.sides.map((s) => s.label)).size !== o.sides.length) die("two packages have the same label: give --label for each");
  return o;
}

function die(msg) {
  console.error(`latency.js: ${msg}`);
  process.exit(2);
}

function spawnChild(script) {
  return fork(path.join(__dirname, "latency", script), [], { execArgv: [], stdio: ["ignore", "inherit", "inherit", "ipc"] });
}

async function buildIndex(o, file) {
  execFileSync(process.execPath, [path.join(__dirname, "latency", "build.js"), o.idx, file, String(o.n), String(o.seed)], { stdio: "inherit" });
}

function cpuSnapshot() {
  return { machine: machineCpu(), self: processCpu(process.pid), load: loadavg(), mono: monoNs() };
}

/**
 * CPU used over a window, in cores (1.0 = one core busy the whole window): the machine's (from
 * /proc/stat, every process on it), each child's (its own /proc/self/stat, CLI processes it
 * waited for included) and the rest, "others": other people's work on the shared machine.
 */
function cpuUse(a, b, children) {
  if (!a.machine || !b.machine) return null;
  const ncpu = os.cpus().length;
  const total = b.machine.total - a.machine.total;
  if (total <= 0) return null;
  const cores = (ticks) => Math.round(((ticks * ncpu) / total) * 100) / 100;
  const out = { machineBusy: cores(b.machine.busy - a.machine.busy), steal: cores(b.machine.steal - a.machine.steal) };
  let ours = b.self - a.self;
  for (const [name, ticks] of Object.entries(children)) {
    out[name] = cores(ticks || 0);
    ours += ticks || 0;
  }
  out.others = Math.max(0, cores(b.machine.busy - a.machine.busy - ours));
  return out;
}

async function runPhase(o, phase) {
  const dir = path.join(o.out, "work", phase);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "index.idx");
  const result = { phase, description: PHASE_TEXT[phase] };

  // Pass 1: reader (+ writer).
  await buildIndex(o, file);
  const reader = spawnChild("reader.js");
  reader.send({ type: "init", idx: o.idx, path: file, n: o.n, seed: o.seed, batch: o.batch, clock: o.clock,
    slowNs: o.slowUs * 1000, roundGets: 1024, roundBatches: 16, rngSeed: 99 });
  const ready = await nextMessage(reader, "ready");
  result.readerOpened = ready.info;
  let writer = null;
  const writerInit = { type: "init", idx: o.idx, path: file, workDir: dir, n: o.n, seed: o.seed, writer: phase,
    maxEntries: o.maxEntries, slowOpNs: 100_000 };
  if (phase !== "none") {
    writer = spawnChild("writer.js");
    if (o.nice !== null) os.setPriority(writer.pid, o.nice);
    writer.send(writerInit);
    await nextMessage(writer, "ready");
  }
  if (o.nice !== null) os.setPriority(reader.pid, o.nice);
  const before = cpuSnapshot();
  result.uptimeBefore = uptime();
  const endNs = monoNs() + o.seconds * 1e9;
  const readerDone = nextMessage(reader, "result");
  const writerDone = writer ? nextMessage(writer, "result") : Promise.resolve(null);
  reader.send({ type: "go", endNs: String(endNs) });
  if (writer) writer.send({ type: "go", endNs: String(endNs) });
  const r = await readerDone;
  const mid = cpuSnapshot();
  const w = await writerDone;
  result.uptimeAfter = uptime();
  result.loadBefore = before.load;
  result.loadAfter = mid.load;
  result.cpu = cpuUse(before, mid, w ? { reader: r.cpuTicks, writer: w.cpuTicks } : { reader: r.cpuTicks });
  result.reader = r;
  result.writer = w;
  result.attribution = attribute(r, w);
  result.oddVsGc = oddWindowsVsGc(w);
  result.readerGcByKind = gcByKind(r.gc);
  result.writerGcByKind = w ? gcByKind(w.gc) : null;

  // Pass 2: writer + seq sampler (no reader, so neither competes with a third busy process).
  if (phase !== "none" && o.sampleSeconds > 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    await buildIndex(o, file);
    const sampler = spawnChild("sampler.js");
    if (o.nice !== null) os.setPriority(sampler.pid, o.nice);
    sampler.send({ type: "init", path: file, longNs: 100_000 });
    await nextMessage(sampler, "ready");
    const writer2 = spawnChild("writer.js");
    if (o.nice !== null) os.setPriority(writer2.pid, o.nice);
    writer2.send(writerInit);
    await nextMessage(writer2, "ready");
    const sBefore = cpuSnapshot();
    const end2 = monoNs() + o.sampleSeconds * 1e9;
    const sDone = nextMessage(sampler, "result");
    const wDone = nextMessage(writer2, "result");
    sampler.send({ type: "go", endNs: String(end2) });
    writer2.send({ type: "go", endNs: String(end2) });
    const s = await sDone;
    const sMid = cpuSnapshot();
    const w2 = await wDone;
    result.sampler = s;
    result.samplerWriter = { ops: w2.ops, ops_hist: w2.ops_hist, slowOps: w2.slowOps, gc: w2.gc, events: w2.events };
    result.samplerCpu = cpuUse(sBefore, sMid, { sampler: s.cpuTicks, writer: w2.cpuTicks });
    result.samplerLoad = sMid.load;
    result.samplerGc = matchOddRunsToGc(s, w2);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return result;
}

function uptime() {
  try {
    return execFileSync("uptime", { encoding: "utf8" }).trim();
  } catch {
    return `load average: ${loadavg().join(", ")}`;
  }
}

/**
 * Why each lookup of 1 ms or more was slow, as far as the counters tell:
 * - preempted: the reader's thread waited for a CPU (run-queue wait, /proc schedstat) at least
 *   half as long as the lookup took, in the round of lookups that held it;
 * - reader GC: a GC pause of the reader overlapped it;
 * - otherwise it ran: spinning on an odd seq, following a replaced file, faulting pages in.
 * Each is also marked when it overlapped a long writer operation (a rewrite, a CLI process).
 */
function attribute(r, w) {
  const gcs = r.gc || [];
  const events = w ? w.events : [];
  const odd = w && w.seqOdd ? w.seqOdd.long : [];
  const out = {};
  for (const [name, min] of [["ge1ms", 1e6], ["ge5ms", 5e6], ["ge100us", 1e5]]) {
    const a = { total: 0, preempted: 0, followed: 0, oddSeq: 0, readerGc: 0, blocked: 0, ran: 0, duringWriterOp: 0, ranDuringWriterOp: 0, dropped: r.slowDropped };
    for (const s of r.slow) {
      if (s.ns < min) continue;
      a.total++;
      const gc = gcs.some(([t, d]) => t < s.t + s.ns && t + d > s.t);
      const pre = s.roundWaitNs >= 0.5 * s.ns;
      const inOdd = odd.some(([t, d]) => t < s.t + s.ns && t + d > s.t);
      const during = events.some((e) => e.t < s.t + s.ns && e.t + e.ns > s.t);
      if (pre) a.preempted++;
      else if (s.followed) a.followed++;
      else if (inOdd) a.oddSeq++;
      else if (gc) a.readerGc++;
      else if (s.roundSwitches > 0) a.blocked++;
      else a.ran++;
      if (during) a.duringWriterOp++;
      if (!pre && !s.followed && !gc && !inOdd && during) a.ranDuringWriterOp++; // blocked or ran
    }
    out[name] = a;
  }
  // The slowest few, with what the counters say.
  out.slowest = [...r.slow].sort((x, y) => y.ns - x.ns).slice(0, 10).map((s) => ({
    ms: round(s.ns / 1e6, 3), kind: s.kind, followed: s.followed, roundWaitMs: round(s.roundWaitNs / 1e6, 3), roundCpuMs: round(s.roundCpuNs / 1e6, 3),
    roundWallMs: round(s.roundWallNs / 1e6, 3),
    readerGc: gcs.some(([t, d]) => t < s.t + s.ns && t + d > s.t),
    oddSeqMs: (() => {
      const o = odd.find(([t, d]) => t < s.t + s.ns && t + d > s.t);
      return o ? round(o[1] / 1e6, 3) : null;
    })(),
    writerOp: (events.find((e) => e.t < s.t + s.ns && e.t + e.ns > s.t) || {}).op || null,
  }));
  return out;
}

/** The probe's odd windows of 100 µs or more: how many a writer GC pause overlapped (API writers). */
function oddWindowsVsGc(w) {
  if (!w || !w.seqOdd) return null;
  const gcs = w.gc || [];
  const slowOps = (w.slowOps && w.slowOps.list) || [];
  let withGc = 0;
  let preempted = 0;
  for (const [t, d] of w.seqOdd.long) {
    const op = slowOps.find(([ot, od]) => ot <= t && ot + od >= t + d * 0.5);
    if (op && op[2] >= 0.5 * d) preempted++;
    else if (gcs.some(([gt, gd]) => gt < t + d && gt + gd > t)) withGc++;
  }
  const big = gcs.filter((g) => g[1] >= 100_000);
  const bigInOdd = big.filter(([gt, gd]) => w.seqOdd.long.some(([t, d]) => t < gt + gd && t + d > gt)).length;
  return { long: w.seqOdd.long.length, preempted, withGc, writerGcGe100us: big.length, writerGcGe100usInOdd: bigInOdd };
}

/**
 * Why seq stayed odd for 100 µs or more (by the sampler's lower bound: two samples saw the same
 * odd value that far apart): a GC pause of the writer overlapped it, or the writer's thread
 * waited for a CPU (its set loop's schedstat, batch of 64 operations) at least half that long,
 * or neither (the writer ran: page faults on the mapping, checksums...).
 */
function matchOddRunsToGc(s, w) {
  const gcs = w.gc || [];
  const slowOps = (w.slowOps && w.slowOps.list) || [];
  const classes = { total: 0, writerGc: 0, writerPreempted: 0, ran: 0, noWriterOpMatched: 0 };
  const ge1ms = { total: 0, writerGc: 0, writerPreempted: 0, ran: 0, noWriterOpMatched: 0 };
  const examples = [];
  for (const [t, up, lo] of s.long) {
    if (lo < 100_000) continue;
    const gcHit = gcs.find(([gt, gd]) => gt < t + up && gt + gd > t);
    const gc = gcHit !== undefined;
    const op = slowOps.find(([ot, od]) => ot < t + up && ot + od > t);
    let cls;
    if (op && op[2] >= 0.5 * lo) cls = "writerPreempted";
    else if (gc) cls = "writerGc";
    else if (op) cls = "ran";
    else cls = "noWriterOpMatched";
    classes.total++;
    classes[cls]++;
    if (lo >= 1e6) {
      ge1ms.total++;
      ge1ms[cls]++;
    }
    if (examples.length < 10 || lo >= 1e6) {
      examples.push({ oddLowerUs: round(lo / 1e3, 1), oddUpperUs: round(up / 1e3, 1), cls,
        writerGcUs: gc ? round(gcHit[1] / 1e3, 1) : null, writerGcKind: gc ? GC_KINDS[gcHit[2]] || gcHit[2] : null,
        writerOpUs: op ? round(op[1] / 1e3, 1) : null, writerWaitUs: op ? round(op[2] / 1e3, 1) : null, writerMinorFaults: op ? op[3] : null });
    }
  }
  const gcNs = gcs.map((g) => g[1]).sort((a, b) => a - b);
  // Writer GC pauses of 100 µs or more, and how many of them fell while seq was odd (inside an
  // operation's bracket, by an odd run the sampler timed): GC can only start where the code
  // allocates or checks for interrupts, so this says where the writer allocates.
  const bigGcs = gcs.filter((g) => g[1] >= 100_000);
  const inBracket = bigGcs.filter(([gt, gd]) => s.long.some(([t, up]) => t < gt + gd && t + up > gt)).length;
  return {
    writerGcGe100us: bigGcs.length, writerGcGe100usWhileOdd: inBracket,
    ge100us: classes, ge1ms, examples: examples.slice(0, 40), writerGcByKind: gcByKind(gcs),
    writerGcPauses: gcs.length,
    writerGcMaxMs: gcNs.length ? round(gcNs[gcNs.length - 1] / 1e6, 3) : 0,
    writerGcP50Ms: gcNs.length ? round(gcNs[Math.floor(gcNs.length / 2)] / 1e6, 3) : 0,
  };
}

/** PerformanceEntry detail.kind of a GC (perf_hooks constants). */
const GC_KINDS = { 1: "minor (scavenge)", 2: "major (mark-compact)", 4: "incremental marking", 8: "weak callbacks" };

/** Count and total and max pause by GC kind. */
function gcByKind(gcs) {
  const out = {};
  for (const [, d, k] of gcs || []) {
    const name = GC_KINDS[k] || String(k);
    const e = (out[name] ??= { count: 0, totalMs: 0, maxMs: 0 });
    e.count++;
    e.totalMs = round(e.totalMs + d / 1e6, 3);
    e.maxMs = Math.max(e.maxMs, round(d / 1e6, 3));
  }
  return out;
}

function round(x, d) {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

function fmtNs(ns) {
  if (ns === undefined || ns === null || Number.isNaN(ns)) return "-";
  if (ns < 1000) return `${Math.round(ns)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(ns < 1e4 ? 2 : 1)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

function fmtInt(n) {
  return Math.round(n).toLocaleString("en-US");
}

function report(o, meta, results) {
  const L = [];
  L.push(`## ${o.label}: n = ${fmtInt(o.n)}, ${o.seconds} s a phase, clock ${o.clock}${o.nice !== null ? `, bench processes at nice ${o.nice}` : ""}`);
  L.push("");
  L.push(`${meta.date}, node ${process.version}, ${os.cpus().length} CPUs; idx at ${o.idx}; format written: ${meta.format}`);
  L.push("");
  const head = "| phase | writer ops | lookups | p50 | p99 | p99.9 | p99.99 | max | >= 100 µs | >= 1 ms | >= 5 ms | load 1m before/after | CPU others |";
  const sep = "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |";
  for (const [kind, title] of [["get", "`get`, one key per timed call"], ["getMany", `\`getMany\`, ${o.batch} keys per timed call`]]) {
    L.push(`### ${title}`);
    L.push("");
    L.push(head);
    L.push(sep);
    for (const r of results) {
      const s = r.reader[kind].summary;
      L.push(`| ${r.description} | ${r.writer ? fmtInt(r.writer.ops) : "-"} | ${fmtInt(s.n)} | ${fmtNs(s.p50)} | ${fmtNs(s.p99)} | ${fmtNs(s.p999)} | ${fmtNs(s.p9999)} | ${fmtNs(s.max)} | ${fmtInt(s.ge100us)} | ${fmtInt(s.ge1ms)} | ${fmtInt(s.ge5ms)} | ${r.loadBefore[0]} / ${r.loadAfter[0]} | ${r.cpu ? r.cpu.others.toFixed(2) : "-"} |`);
    }
    L.push("");
  }
  L.push("Percentiles are bucket upper bounds (at most 6.25% above the true value). \"CPU others\": cores busy with processes other than");
  L.push("this bench's (from /proc/stat), averaged over the window. Reader clock overhead (empty timed region, p50): " +
    results.map((r) => fmtNs(r.reader.clockOverhead.summary.p50)).join(", ") + ".");
  L.push("");
  L.push("### Lookups that moved to a new file");
  L.push("");
  L.push("| phase | get calls that followed | p50 | max | getMany calls that followed | p50 | max |");
  L.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of results) {
    const f = r.reader.followGet.summary;
    const g = r.reader.followMany.summary;
    L.push(`| ${r.phase} | ${fmtInt(f.n)} | ${fmtNs(f.p50)} | ${f.n ? fmtNs(f.max) : "-"} | ${fmtInt(g.n)} | ${fmtNs(g.p50)} | ${g.n ? fmtNs(g.max) : "-"} |`);
  }
  L.push("");
  L.push("A call during which the index reinstalled its get(): it followed a replaced file (stat, open, map, validate the");
  L.push("header) or raised its reach (a version 2 bound on probes that inserts can raise).");
  L.push("");
  L.push("### Lookups of 1 ms or more (get and getMany together): why");
  L.push("");
  L.push("| phase | >= 1 ms | preempted | followed | odd seq | reader GC | blocked | ran | ...blocked or ran, during a writer op >= 1 ms | >= 5 ms | preempted | followed | odd seq | reader GC | blocked | ran |");
  L.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of results) {
    const a = r.attribution.ge1ms;
    const b = r.attribution.ge5ms;
    const bl = (x) => (x.blocked === undefined ? "-" : x.blocked);
    L.push(`| ${r.phase} | ${a.total} | ${a.preempted} | ${a.followed} | ${a.oddSeq} | ${a.readerGc} | ${bl(a)} | ${a.ran} | ${a.ranDuringWriterOp} | ${b.total} | ${b.preempted} | ${b.followed} | ${b.oddSeq} | ${b.readerGc} | ${bl(b)} | ${b.ran} |`);
  }
  L.push("");
  L.push("In this order: preempted: the reader's thread waited for a CPU (schedstat run-queue delay) for at least half the");
  L.push("lookup's time in the round that held it; followed: the call moved the reader to a replaced file (the table above);");
  L.push("odd seq: it overlapped a window of 100 µs or more in which the writer held seq");
  L.push("odd (the probe below): the reader spun, waiting for the writer; reader GC: a GC pause of the reader overlapped it;");
  L.push("blocked: none of these, and the thread was switched out during the round (it slept in the kernel: a lock, I/O);");
  L.push("ran: none of these and never switched out (the guest saw it on a CPU the whole time: spinning, page faults, or its");
  L.push("virtual CPU stolen by the host). Last column group: the same for 5 ms or more.");
  L.push("");
  L.push("### How long the writer keeps seq odd per operation (in-writer probe, same window as the reader)");
  L.push("");
  L.push("| phase | timed in | operations | p50 | p99 | p99.9 | max | >= 100 µs | >= 1 ms | >= 5 ms | >= 100 µs: writer preempted / writer GC | writer GCs >= 100 µs: inside an odd window / all | retire marks |");
  L.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |");
  for (const r of results) {
    if (!r.writer || !r.writer.seqOdd) continue;
    const q = r.writer.seqOdd;
    const h = q.hist.summary;
    const g = r.oddVsGc;
    const api = q.where === "writer process";
    L.push(`| ${r.phase} | ${q.where}${api ? "" : ` (${q.processes})`} | ${fmtInt(h.n)} | ${fmtNs(h.p50)} | ${fmtNs(h.p99)} | ${fmtNs(h.p999)} | ${fmtNs(h.max)} | ${fmtInt(h.ge100us)} | ${fmtInt(h.ge1ms)} | ${fmtInt(h.ge5ms)} | ${api ? `${g.preempted} / ${g.withGc}` : "-"} | ${api ? `${g.writerGcGe100usInOdd} / ${g.writerGcGe100us}` : "-"} | ${q.retires.length} |`);
  }
  L.push("");
  L.push("Timed from the store of the odd seq to the store of the even one, in the writer, by wrapping Atomics.store");
  L.push("(bench/latency/seqprobe.js; idx unchanged). Writer preempted: its thread waited for a CPU at least half the window");
  L.push("(schedstat per 64 operations, set loop only); writer GC: else a GC pause of the writer overlapped it.");
  L.push("");
  const sampled = results.filter((r) => r.sampler);
  if (sampled.length) {
    L.push(`### How long seq stays odd per operation (writer + pread sampler, ${o.sampleSeconds} s a phase)`);
    L.push("");
    L.push("| phase | writer ops | ops seen odd | ops unseen (odd < their gap) | unseen: gap p99 | odd p50 | odd p99 | odd p99.9 | odd max (lower bound) | >= 100 µs | >= 1 ms | >= 5 ms | >= 100 µs: writer preempted / writer GC / ran | writer GCs >= 100 µs: while odd / all | retire -> rename max | load 1m | CPU others |");
    L.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |");
    for (const r of sampled) {
      const s = r.sampler;
      const u = s.oddUpper.summary;
      const lo = s.oddLower.summary;
      const c = r.samplerGc.ge100us;
      L.push(`| ${r.phase} | ${fmtInt(r.samplerWriter.ops)} | ${fmtInt(s.oddSeen)} | ${fmtInt(s.unseenOps)} | ${s.unseenGap.n ? fmtNs(s.unseenGap.summary.p99) : "-"} | ${fmtNs(u.p50)} | ${fmtNs(u.p99)} | ${fmtNs(u.p999)} | ${lo.n ? fmtNs(lo.max) : "-"} | ${fmtInt(lo.ge100us)} | ${fmtInt(lo.ge1ms)} | ${fmtInt(lo.ge5ms)} | ${c.writerPreempted} / ${c.writerGc} / ${c.ran + c.noWriterOpMatched} | ${r.samplerGc.writerGcGe100usWhileOdd} / ${r.samplerGc.writerGcGe100us} | ${s.retireToRename.n ? fmtNs(s.retireToRename.max) : "-"} | ${r.samplerLoad[0]} | ${r.samplerCpu ? r.samplerCpu.others.toFixed(2) : "-"} |`);
    }
    L.push("");
    L.push("Odd p50/p99/p99.9: upper bounds per operation seen odd (from the sample before its odd seq was first seen to the");
    L.push("sample after it was last seen). Max and the >= columns: lower bounds (two samples saw the same odd seq that far");
    L.push("apart), so they are certain. Unseen operations went odd and even between two samples. Causes of the odd runs of");
    L.push("100 µs or more: the writer thread waited for a CPU at least half that long (schedstat, set loop only); else a GC");
    L.push("pause of the writer overlapped it; else it ran. Writer GCs while odd: GC pauses of 100 µs or more that fell inside");
    L.push("an odd run of 100 µs or more, of all such pauses. A retired file's seq stays odd for good (§11.4) and is not counted;");
    L.push("\"retire -> rename\": how long the old file was retired before the path named the new one (readers do not wait then).");
    L.push("");
  }
  L.push("### Writer operations");
  L.push("");
  L.push("| phase | ops | p50 | p99 | max | ops >= 100 µs (set loop) | of those: writer GC / preempted | writer GC pauses (max) | writer CPU | file at end |");
  L.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const r of results) {
    if (!r.writer) continue;
    const h = r.writer.ops_hist.summary;
    const info = r.reader.finalInfo || {};
    L.push(`| ${r.phase} | ${fmtInt(r.writer.ops)} | ${fmtNs(h.p50)} | ${fmtNs(h.p99)} | ${fmtNs(h.max)} | ${r.phase === "set" ? fmtInt(r.writer.slowOps.count) : "-"} | ${r.phase === "set" ? `${fmtInt(r.writer.slowOps.withGc)} / ${fmtInt(r.writer.slowOps.preempted)}` : "-"} | ${r.writer.gc.length} (${fmtNs(Math.max(0, ...r.writer.gc.map((g) => g[1])))}) | ${r.cpu ? r.cpu.writer.toFixed(2) : "-"} | ${info.count !== undefined ? `${fmtInt(info.count)} entries, v${info.version}` : "-"} |`);
  }
  L.push("");
  return L.join("\n");
}

/** The figures that decide the question, one row per phase and package, side by side. */
function comparison(o, sides) {
  const L = [];
  L.push(`## Side by side: ${sides.map((s) => s.label).join(" vs ")}`);
  L.push("");
  L.push("Each phase ran for each package in turn, under the same load (A B, then B A). Not preempted: lookups of 1 ms or");
  L.push("more (5 ms or more) that the reader did not spend waiting for a CPU: the ones idx can be blamed for.");
  L.push("");
  L.push("| phase | package | get p99.9 | get p99.99 | get max | getMany p99.9 | >= 1 ms | >= 5 ms | >= 1 ms not preempted | >= 5 ms not preempted | seq odd p99.9 | seq odd max | seq odd >= 1 ms | follow p50 / max | load 1m | CPU others |");
  L.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |");
  for (let i = 0; i < sides[0].results.length; i++) {
    for (const side of sides) {
      const r = side.results[i];
      const g = r.reader.get.summary;
      const m = r.reader.getMany.summary;
      const a1 = r.attribution.ge1ms;
      const a5 = r.attribution.ge5ms;
      const q = r.writer && r.writer.seqOdd ? r.writer.seqOdd.hist.summary : null;
      const f = r.reader.followGet;
      const fm = r.reader.followMany;
      const follows = new Histogram().merge(Histogram.fromJSON(f)).merge(Histogram.fromJSON(fm));
      L.push(`| ${r.phase} | ${side.label} | ${fmtNs(g.p999)} | ${fmtNs(g.p9999)} | ${fmtNs(g.max)} | ${fmtNs(m.p999)} | ${fmtInt(g.ge1ms + m.ge1ms)} | ${fmtInt(g.ge5ms + m.ge5ms)} | ${a1.total - a1.preempted} | ${a5.total - a5.preempted} | ${q && q.n ? fmtNs(q.p999) : "-"} | ${q && q.n ? fmtNs(q.max) : "-"} | ${q && q.n ? fmtInt(q.ge1ms) : "-"} | ${follows.n ? `${fmtNs(follows.quantile(0.5))} / ${fmtNs(follows.max)} (${follows.n})` : "-"} | ${r.loadAfter[0]} | ${r.cpu ? r.cpu.others.toFixed(2) : "-"} |`);
    }
  }
  L.push("");
  return L.join("\n");
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  fs.mkdirSync(o.out, { recursive: true });
  const meta = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, uptimeStart: uptime() };
  const sides = o.sides.map((s) => ({ ...s, format: "?", results: [] }));
  console.error(`latency: ${sides.map((s) => `${s.label} (${s.dir})`).join(", ")}; n=${o.n}, phases ${o.phases.join(",")}, ${o.seconds} s each (+${o.sampleSeconds} s sampler)`);
  console.error(`  ${meta.uptimeStart}`);
  for (let p = 0; p < o.phases.length; p++) {
    const phase = o.phases[p];
    const order = p % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      const t0 = Date.now();
      const r = await runPhase({ ...o, idx: side.dir, label: side.label }, phase);
      if (r.readerOpened && r.readerOpened.version) side.format = r.readerOpened.version;
      const g = r.reader.get.summary;
      console.error(`  ${phase.padEnd(12)} ${side.label.padEnd(12)} get p99.9 ${fmtNs(g.p999)} max ${fmtNs(g.max)} >=1ms ${g.ge1ms} >=5ms ${g.ge5ms}; load ${r.loadAfter.join(" ")} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      side.results.push(r);
    }
  }
  meta.uptimeEnd = uptime();
  const parts = sides.map((side) => report({ ...o, idx: side.dir, label: side.label }, { ...meta, format: side.format }, side.results));
  if (sides.length > 1) parts.unshift(comparison(o, sides));
  const md = parts.join("\n");
  const name = sides.map((s) => s.label).join("-vs-").replace(/[^A-Za-z0-9@._-]/g, "_");
  const base = path.join(o.out, `latency-${name}`);
  const { sides: _s, idxs: _i, labels: _l, ...options } = o;
  fs.writeFileSync(`${base}.json`, JSON.stringify({ options, meta, sides }, null, 1));
  fs.writeFileSync(`${base}.md`, `${md}\n`);
  console.log(md);
  console.error(`latency: wrote ${base}.json and ${base}.md`);
  fs.rmSync(path.join(o.out, "work"), { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
