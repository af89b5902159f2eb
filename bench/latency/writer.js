"use strict";
/**
 * The writer process of one phase. Each writer runs its operation in a loop from the
 * orchestrator's "go" until its deadline, timing every operation (a CLI process from spawn to
 * exit, an API call from call to return), and reports the per-operation histogram, the long
 * operations with their start times (to line up with the reader's slow lookups), and its GC
 * pauses (a GC inside an operation's bracket keeps seq odd).
 *
 * Writers:
 *   set          IdWriter.set in a tight loop, alternating a present key and a new one (the new
 *                ones make the table grow now and then: a rewrite and rename)
 *   cli-set      `idx set FILE KEY VALUE`, a new process each time, alternating present and new keys
 *   update       IdWriter.update of batches of 30% of the entries (2/3 new keys): each rewrites the file
 *   cli-put      `idx put FILE PAIRS.tsv` of text files of 30% of the entries (2/3 new keys): each rewrites
 *   compact      `idx compact FILE`, a new process each time
 *   api-compact  IdWriter.compact in a loop
 */
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { PerformanceObserver } = require("node:perf_hooks");
const { Histogram } = require("./hist");
const { SchedStat, keyOf, loadIdx, makeRandom, monoNs, perfToMono, processCpu, reportErrors, yieldNow } = require("./common");

const send = (m) => process.send(m, () => process.exit(0));
reportErrors("writer");
const seqProbe = require("./seqprobe");
seqProbe.install(); // before idx is loaded: times each operation's odd seq in this process

/** Operations at least this long are listed one by one (with their start) in the result. */
const EVENT_NS = 1_000_000;
const MAX_EVENTS = 20000;

let opts;
let idx;
let prepared;

process.on("message", (m) => {
  if (m.type === "init") init(m);
  else if (m.type === "go") run(m).catch((e) => process.emit("uncaughtException", e));
});

function init(m) {
  opts = m;
  idx = loadIdx(m.idx);
  prepared = {};
  if (m.writer === "set" || m.writer === "update" || m.writer === "api-compact") {
    prepared.w = idx.IdWriter.open(m.path);
  }
  process.send({ type: "ready" });
}

function cli(args) {
  // Each CLI process loads the seq probe first (node -r) and appends its odd-seq times to a file.
  const r = spawnSync(process.execPath, ["-r", path.join(__dirname, "seqprobe.js"), path.join(opts.idx, "bin", "idx.js"), ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, IDX_LATENCY_SEQ_PROBE: path.join(opts.workDir, "seqprobe.jsonl") },
  });
  if (r.status !== 0) throw new Error(`idx ${args.join(" ")}: exit ${r.status ?? r.signal}: ${r.stderr}`);
}

async function run(m) {
  const endNs = Number(m.endNs);
  const n = opts.n;
  const seed = opts.seed;
  const rnd = makeRandom(4242);
  const hist = new Histogram();
  const events = [];
  const offset = perfToMono();
  const gcs = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push([e.startTime * 1e6 + offset, e.duration * 1e6, e.detail ? e.detail.kind : 0]);
  });
  observer.observe({ entryTypes: ["gc"] });
  // Slow operations of the tight set loop, to match against GC pauses and preemption:
  // [start mono, ns, run-queue wait ns of the batch of 64 ops that held it, minor faults of that batch]
  const slowOps = [];
  const sched = new SchedStat();
  const cpuStart = processCpu(process.pid);
  let ops = 0;
  let nextNew = n; // rows >= n are keys the build did not have
  let size = n;
  let lastYield = monoNs();
  const startNs = monoNs();
  const record = (t0, t1, label) => {
    const d = (t1 - t0) * 1e6;
    hist.add(d);
    ops++;
    if (d >= EVENT_NS && events.length < MAX_EVENTS) events.push({ t: t0 * 1e6 + offset, ns: d, op: label });
    return d;
  };

  switch (opts.writer) {
    case "set": {
      const w = prepared.w;
      sched.read();
      let faults = process.resourceUsage().minorPageFault;
      for (;;) {
        const wait0 = sched.wait;
        const batchSlow = slowOps.length;
        for (let i = 0; i < 64; i++) {
          const fresh = (ops & 1) === 1;
          const row = fresh ? nextNew++ : rnd() % n;
          const k = keyOf(row, seed);
          const v = rnd();
          const t0 = performance.now();
          w.set(k, v);
          const t1 = performance.now();
          const d = record(t0, t1, fresh ? "set new" : "set present");
          if (d >= opts.slowOpNs && slowOps.length < MAX_EVENTS) slowOps.push([t0 * 1e6 + offset, d, 0, 0]);
        }
        if (slowOps.length > batchSlow) {
          sched.read();
          const f = process.resourceUsage().minorPageFault;
          for (let j = batchSlow; j < slowOps.length; j++) {
            slowOps[j][2] = sched.wait - wait0;
            slowOps[j][3] = f - faults;
          }
          faults = f;
        } else if ((ops & 1023) === 0) {
          faults = process.resourceUsage().minorPageFault;
        }
        sched.read();
        const now = monoNs();
        if (now >= endNs) break;
        if (now - lastYield > 20e6) {
          await yieldNow();
          lastYield = monoNs();
        }
      }
      size = w.size;
      w.close();
      break;
    }
    case "cli-set": {
      while (monoNs() < endNs) {
        const fresh = (ops & 1) === 1;
        const row = fresh ? nextNew++ : rnd() % n;
        const t0 = performance.now();
        cli(["set", opts.path, String(keyOf(row, seed)), String(rnd())]);
        record(t0, performance.now(), fresh ? "idx set new" : "idx set present");
        if (fresh) size++;
        await yieldNow();
      }
      break;
    }
    case "update": {
      const w = prepared.w;
      while (monoNs() < endNs) {
        const { keys, values, added } = batchOf(size);
        const t0 = performance.now();
        w.update({ keys, values });
        record(t0, performance.now(), `update ${keys.length}`);
        size += added;
        await yieldNow();
      }
      w.close();
      break;
    }
    case "cli-put": {
      const file = path.join(opts.workDir, "put.tsv");
      while (monoNs() < endNs) {
        const { keys, values, added } = batchOf(size);
        let text = "";
        const lines = [];
        for (let i = 0; i < keys.length; i++) {
          lines.push(`${keys[i]}\t${values[i]}`);
          if (lines.length === 65536) {
            text += lines.join("\n") + "\n";
            lines.length = 0;
          }
        }
        text += lines.join("\n") + "\n";
        fs.writeFileSync(file, text);
        text = "";
        const t0 = performance.now();
        cli(["put", opts.path, file]);
        record(t0, performance.now(), `idx put ${keys.length}`);
        size += added;
        await yieldNow();
      }
      break;
    }
    case "compact": {
      while (monoNs() < endNs) {
        const t0 = performance.now();
        cli(["compact", opts.path]);
        record(t0, performance.now(), "idx compact");
        await yieldNow();
      }
      break;
    }
    case "api-compact": {
      const w = prepared.w;
      while (monoNs() < endNs) {
        const t0 = performance.now();
        w.compact();
        record(t0, performance.now(), "compact()");
        await yieldNow();
      }
      w.close();
      break;
    }
    default:
      throw new Error(`unknown writer ${opts.writer}`);
  }
  const stopNs = monoNs();

  /**
   * A batch of ceil(30%) of the entries: 2/3 new keys while the index is below maxEntries,
   * the rest (and all of it past maxEntries) present keys with new values. More than a quarter
   * of the entries, so update() and put rewrite the file instead of inserting in place.
   */
  function batchOf(entries) {
    const len = Math.ceil(entries * 0.3) + 1;
    const keys = new Uint32Array(len);
    const values = new Uint32Array(len);
    const fresh = entries < opts.maxEntries ? Math.ceil((len * 2) / 3) : 0;
    for (let i = 0; i < len; i++) {
      const row = i < fresh ? nextNew++ : rnd() % nextNew;
      keys[i] = keyOf(row, seed);
      values[i] = rnd();
    }
    return { keys, values, added: fresh };
  }

  await yieldNow();
  await new Promise((resolve) => setTimeout(resolve, 5));
  observer.disconnect();
  // Which slow operations a GC pause of this process overlapped.
  let slowWithGc = 0;
  let slowPreempted = 0;
  const overlap = (t, d) => gcs.some(([gt, gd]) => gt < t + d && gt + gd > t);
  for (const [t, d, wait] of slowOps) {
    if (overlap(t, d)) slowWithGc++;
    else if (wait >= 0.5 * d) slowPreempted++;
  }
  send({
    type: "result",
    startNs, stopNs, ops, size,
    cpuTicks: processCpu(process.pid) - cpuStart,
    ops_hist: hist.toJSON(),
    events,
    slowOps: { thresholdNs: opts.slowOpNs, count: slowOps.length, withGc: slowWithGc, preempted: slowPreempted, list: slowOps },
    gc: gcs.filter((g) => g[0] + g[1] >= startNs && g[0] <= stopNs),
    // How long each operation kept seq odd: in this process (API writers) or in the CLI processes.
    seqOdd: opts.writer.startsWith("cli-") || opts.writer === "compact"
      ? { where: "idx CLI processes", ...seqProbe.readFile(path.join(opts.workDir, "seqprobe.jsonl")) }
      : { where: "writer process", processes: 1, ...seqProbe.snapshot() },
  });
}
