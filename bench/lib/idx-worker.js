"use strict";
/**
 * The idx side of the benchmark, one mode a process: node idx-worker.js '<json spec>'.
 *   build    buildFromText(tsv, out) timed in-process
 *   open     IdIndex.open + first get, the first in this process (cold) and again (warm)
 *   lookups  get and getMany loops over the query files, medians of spec.reps
 *   share    one of N concurrent readers: touch every key, wait for "go", report smaps
 */
const { ROOT_DIR, dataset, median, nowNs, msSince, readU32, smapsRollup, smapsOf, report, warmUp, timeReps } = require("./common");
const path = require("node:path");

const spec = JSON.parse(process.argv[2]);
const idx = require(process.env.IDX_ROOT || ROOT_DIR); // the package's main, as a user requires it

function getLoop(ix, keys) {
  let sum = 0, found = 0;
  for (let i = 0; i < keys.length; i++) {
    const v = ix.get(keys[i]);
    if (v !== undefined) {
      sum = (sum + v) | 0;
      found++;
    }
  }
  return { sum: sum >>> 0, found };
}

function manyLoop(ix, kc, vc, fc) {
  let found = 0;
  for (let c = 0; c < kc.length; c++) found += ix.getMany(kc[c], vc[c], fc[c]);
  return found;
}

function chunks(arr, batch) {
  const out = [];
  for (let i = 0; i < arr.length; i += batch) out.push(arr.subarray(i, Math.min(arr.length, i + batch)));
  return out;
}

async function main() {
  if (spec.mode === "build") {
    const t0 = nowNs();
    const r = await idx.buildFromText(spec.tsv, spec.out, spec.sync === false ? { sync: false } : {});
    const ms = msSince(t0);
    report({ ms, count: r.count, fileBytes: r.fileBytes, rss: process.memoryUsage().rss });
    return;
  }
  if (spec.mode === "open") {
    // Garbage collections during the first open + get, and the external bytes V8 counts:
    // a mapping counted as external memory can make V8 collect.
    const { PerformanceObserver, performance } = require("node:perf_hooks");
    const gcs = [];
    const obs = new PerformanceObserver((list) => gcs.push(...list.getEntries()));
    obs.observe({ entryTypes: ["gc"] });
    const ext0 = process.memoryUsage().external;
    const p0 = performance.now();
    const t0 = nowNs();
    const ix = idx.IdIndex.open(spec.file);
    const v = ix.get(spec.key);
    const coldMs = msSince(t0);
    const p1 = performance.now();
    const externalDelta = process.memoryUsage().external - ext0;
    const warm = [];
    for (let r = 0; r < 21; r++) {
      const t = nowNs();
      const j = idx.IdIndex.open(spec.file);
      j.get(spec.key);
      warm.push(msSince(t));
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    obs.disconnect();
    const during = gcs.filter((e) => e.startTime >= p0 && e.startTime <= p1);
    report({
      coldMs, warmMs: median(warm), value: v, externalDelta,
      gcCount: during.length, gcMs: during.reduce((s, e) => s + e.duration, 0),
    });
    return;
  }
  if (spec.mode === "lookups") {
    const ix = idx.IdIndex.open(spec.file);
    const out = {};
    for (const [name, file] of Object.entries(spec.queries)) {
      const keys = readU32(file);
      const values = new Uint32Array(keys.length);
      const found = new Uint8Array(keys.length);
      const kc = chunks(keys, spec.batch), vc = chunks(values, spec.batch), fc = chunks(found, spec.batch);
      // warm-up: JIT tiers, page faults, caches
      const warm = warmUp(() => getLoop(ix, keys)) + warmUp(() => manyLoop(ix, kc, vc, fc));
      const g = timeReps(spec.reps, keys.length, () => getLoop(ix, keys));
      const m = timeReps(spec.reps, keys.length, () => manyLoop(ix, kc, vc, fc));
      let manySum = 0, manyFoundFlags = 0;
      for (let i = 0; i < keys.length; i++) {
        manySum = (manySum + values[i]) | 0;
        manyFoundFlags += found[i];
      }
      out[name] = {
        getNs: median(g.ns), getSum: g.last.sum, getFound: g.last.found,
        manyNs: median(m.ns), manySum: manySum >>> 0, manyFound: m.last, manyFoundFlags,
        getRuns: g.ns, manyRuns: m.ns, warmPasses: warm, discarded: g.discarded + m.discarded,
      };
    }
    report(out);
    return;
  }
  if (spec.mode === "share") {
    const before = smapsRollup();
    const ix = idx.IdIndex.open(spec.file);
    const ds = dataset(spec.kind, spec.n);
    let sum = 0, found = 0;
    for (let i = 0; i < spec.n; i++) {
      const v = ix.get(ds.key(i));
      if (v !== undefined) {
        sum = (sum + v) | 0;
        found++;
      }
    }
    report({ ready: true, found, sum: sum >>> 0 });
    process.stdin.once("data", () => {
      // `ix` must stay reachable until now: once collected, its mapping is unmapped.
      if (ix.closed) throw new Error("closed");
      const after = smapsRollup();
      const mapping = smapsOf(spec.file);
      report({ before, after, mapping });
      process.exit(0);
    });
    return;
  }
  throw new Error(`unknown mode ${spec.mode}`);
}

main().catch((e) => {
  process.stderr.write(`${e && e.stack || e}\n`);
  process.exit(1);
});
