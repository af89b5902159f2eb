"use strict";
/**
 * The reader process: maps the index with IdIndex.open and times lookups one by one until the
 * orchestrator's deadline, in rounds of `roundGets` single get() calls of random present keys
 * (each timed alone) and `roundBatches` getMany calls of `batch` random present keys (each call
 * timed). Between rounds (never inside a timed call) it reads its thread's scheduler counters,
 * so each slow lookup can be told apart: waiting for a CPU (preempted) or running (spinning on
 * an odd seq, faulting pages in, following a replaced file...). GC pauses are observed too.
 *
 * Protocol (IPC): parent sends {type:"init", ...}; child answers {type:"ready"} once the index
 * is open and warm; parent sends {type:"go", endNs}; child answers {type:"result", ...}.
 */
const { PerformanceObserver } = require("node:perf_hooks");
const { Histogram } = require("./hist");
const { SchedStat, keyOf, loadIdx, makeRandom, monoNs, perfToMono, processCpu, reportErrors, yieldNow } = require("./common");

const send = (m) => process.send(m, () => process.exit(0));
reportErrors("reader");

const MAX_SLOW = 20000;

let ix;
let opts;

process.on("message", (m) => {
  if (m.type === "init") init(m);
  else if (m.type === "go") run(m).catch((e) => process.emit("uncaughtException", e));
});

function init(m) {
  opts = m;
  const idx = loadIdx(m.idx);
  ix = idx.IdIndex.open(m.path);
  const n = m.n;
  // Warm: every page of the file once (getMany over all keys), then the lookup code into its
  // optimized tiers, untimed.
  const all = new Uint32Array(Math.min(n, 1 << 16));
  const values = new Uint32Array(all.length);
  for (let base = 0; base < n; base += all.length) {
    const len = Math.min(all.length, n - base);
    for (let i = 0; i < len; i++) all[i] = keyOf(base + i, m.seed);
    ix.getMany(all.subarray(0, len), values.subarray(0, len));
  }
  const rnd = makeRandom(12345);
  let sink = 0;
  for (let i = 0; i < 2_000_000; i++) sink ^= ix.get(keyOf(rnd() % n, m.seed)) | 0;
  const keys = new Uint32Array(m.batch);
  const out = new Uint32Array(m.batch);
  for (let i = 0; i < 20000; i++) {
    for (let j = 0; j < keys.length; j++) keys[j] = keyOf(rnd() % n, m.seed);
    ix.getMany(keys, out);
  }
  process.send({ type: "ready", sink, size: ix.size, info: safeInfo() });
}

function safeInfo() {
  try {
    return ix.info();
  } catch (e) {
    return { error: String(e) };
  }
}

async function run(m) {
  const n = opts.n;
  const seed = opts.seed;
  const slowNs = opts.slowNs;
  const roundGets = opts.roundGets;
  const roundBatches = opts.roundBatches;
  const useHrtime = opts.clock === "hrtime";
  const getHist = new Histogram();
  const manyHist = new Histogram();
  // Calls during which get() was reinstalled: the index followed a replaced file (or raised its
  // reach, a version 2 file's bound on probes, which a writer's inserts can raise).
  const followGet = new Histogram();
  const followMany = new Histogram();
  let lastGet = ix.get;
  const rnd = makeRandom(opts.rngSeed >>> 0 || 777);
  const keys = new Uint32Array(opts.batch);
  const values = new Uint32Array(opts.batch);
  const found = new Uint8Array(opts.batch);
  const sched = new SchedStat();
  const haveSched = sched.read();
  // Slow lookups: [start mono ns, duration ns, kind (0 get, 1 getMany), round's run-queue wait ns,
  // round's CPU ns, round's wall ns, 1 if the call followed a replaced file, times the thread was
  // switched in during the round (0: it never left the CPU, as the guest kernel sees it)]
  const W = 8;
  const slow = new Float64Array(MAX_SLOW * W);
  let slowCount = 0;
  let slowDropped = 0;
  let missing = 0;
  let manyMissing = 0;
  const offset = perfToMono();

  // The reader's own GC pauses, as the timeline reports them.
  const gcs = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push([e.startTime * 1e6 + offset, e.duration * 1e6, e.detail ? e.detail.kind : 0]);
  });
  observer.observe({ entryTypes: ["gc"] });

  // The clock's own cost: an empty timed region.
  const overhead = new Histogram();
  for (let i = 0; i < 100000; i++) {
    if (useHrtime) {
      const t0 = process.hrtime.bigint();
      overhead.add(Number(process.hrtime.bigint() - t0));
    } else {
      const t0 = performance.now();
      overhead.add((performance.now() - t0) * 1e6);
    }
  }

  const endNs = Number(m.endNs);
  const cpuStart = processCpu(process.pid);
  const startNs = monoNs();
  let rounds = 0;
  let waitTotal = 0;
  let cpuTotal = 0;
  let lastYield = startNs;
  let roundStartSlow = 0;
  let cpu0 = sched.cpu;
  let wait0 = sched.wait;
  let slices0 = sched.slices;
  let wall0 = performance.now();
  for (;;) {
    roundStartSlow = slowCount;
    for (let r = 0; r < roundGets; r++) {
      const k = keyOf(rnd() % n, seed);
      let d;
      let t0mono;
      if (useHrtime) {
        const t0 = process.hrtime.bigint();
        const v = ix.get(k);
        const t1 = process.hrtime.bigint();
        if (v === undefined) missing++;
        d = Number(t1 - t0);
        if (d >= slowNs) t0mono = Number(t0);
      } else {
        const t0 = performance.now();
        const v = ix.get(k);
        const t1 = performance.now();
        if (v === undefined) missing++;
        d = (t1 - t0) * 1e6;
        if (d >= slowNs) t0mono = t0 * 1e6 + offset;
      }
      getHist.add(d);
      let followed = 0;
      if (ix.get !== lastGet) {
        lastGet = ix.get;
        followGet.add(d);
        followed = 1;
      }
      if (d >= slowNs) {
        if (slowCount < MAX_SLOW) {
          const o = slowCount++ * W;
          slow[o] = t0mono;
          slow[o + 1] = d;
          slow[o + 2] = 0;
          slow[o + 6] = followed;
        } else slowDropped++;
      }
    }
    for (let r = 0; r < roundBatches; r++) {
      for (let j = 0; j < keys.length; j++) keys[j] = keyOf(rnd() % n, seed);
      let d;
      let t0mono;
      let hits;
      if (useHrtime) {
        const t0 = process.hrtime.bigint();
        hits = ix.getMany(keys, values, found);
        const t1 = process.hrtime.bigint();
        d = Number(t1 - t0);
        if (d >= slowNs) t0mono = Number(t0);
      } else {
        const t0 = performance.now();
        hits = ix.getMany(keys, values, found);
        const t1 = performance.now();
        d = (t1 - t0) * 1e6;
        if (d >= slowNs) t0mono = t0 * 1e6 + offset;
      }
      if (hits !== keys.length) manyMissing += keys.length - hits;
      manyHist.add(d);
      let followed = 0;
      if (ix.get !== lastGet) {
        lastGet = ix.get;
        followMany.add(d);
        followed = 1;
      }
      if (d >= slowNs) {
        if (slowCount < MAX_SLOW) {
          const o = slowCount++ * W;
          slow[o] = t0mono;
          slow[o + 1] = d;
          slow[o + 2] = 1;
          slow[o + 6] = followed;
        } else slowDropped++;
      }
    }
    rounds++;
    // Scheduler counters for the round just done (outside every timed call).
    if (haveSched) {
      sched.read();
      const wall = (performance.now() - wall0) * 1e6;
      const dc = sched.cpu - cpu0;
      const dw = sched.wait - wait0;
      cpuTotal += dc;
      waitTotal += dw;
      for (let s = roundStartSlow; s < slowCount; s++) {
        slow[s * W + 3] = dw;
        slow[s * W + 4] = dc;
        slow[s * W + 5] = wall;
        slow[s * W + 7] = sched.slices - slices0;
      }
      cpu0 = sched.cpu;
      wait0 = sched.wait;
      slices0 = sched.slices;
    }
    const now = monoNs();
    if (now >= endNs) break;
    if (now - lastYield > 20e6) {
      // Let the GC observer's callbacks run; this pause is outside every timed call.
      await yieldNow();
      lastYield = monoNs();
      if (haveSched) sched.read();
      cpu0 = sched.cpu;
      wait0 = sched.wait;
      slices0 = sched.slices;
    }
    wall0 = performance.now();
  }
  const stopNs = monoNs();
  const cpuTicks = processCpu(process.pid) - cpuStart;
  await yieldNow();
  await new Promise((resolve) => setTimeout(resolve, 5));
  observer.disconnect();
  const slowList = [];
  for (let s = 0; s < slowCount; s++) {
    const o = s * W;
    slowList.push({ t: slow[o], ns: slow[o + 1], kind: slow[o + 2] === 0 ? "get" : "getMany", roundWaitNs: slow[o + 3], roundCpuNs: slow[o + 4], roundWallNs: slow[o + 5], followed: slow[o + 6] === 1, roundSwitches: slow[o + 7] });
  }
  let finalInfo;
  try {
    finalInfo = ix.info();
  } catch (e) {
    finalInfo = { error: String(e) };
  }
  send({
    type: "result",
    startNs, stopNs, rounds, cpuTicks,
    clock: opts.clock,
    clockOverhead: overhead.toJSON(),
    get: getHist.toJSON(),
    getMany: manyHist.toJSON(),
    followGet: followGet.toJSON(),
    followMany: followMany.toJSON(),
    missing, manyMissing,
    slow: slowList, slowDropped,
    gc: gcs.filter((g) => g[0] + g[1] >= startNs && g[0] <= stopNs),
    sched: haveSched ? { cpuNs: cpuTotal, waitNs: waitTotal } : null,
    finalInfo,
  });
}
