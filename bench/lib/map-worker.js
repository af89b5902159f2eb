"use strict";
/**
 * The JS Map peer, one mode a process: node map-worker.js '<json spec>'.
 *   build    read + parse the TSV + Map.set every pair, timed
 *   lookups  the same build (untimed), then Map.get loops over the query files
 */
const fs = require("node:fs");
const { median, nowNs, msSince, readU32, parseTsv, report, warmUp, timeReps } = require("./common");

const spec = JSON.parse(process.argv[2]);

function load(tsv) {
  const { keys, values, n } = parseTsv(fs.readFileSync(tsv));
  const map = new Map();
  for (let i = 0; i < n; i++) map.set(keys[i], values[i]);
  return map;
}

function getLoop(map, keys) {
  let sum = 0, found = 0;
  for (let i = 0; i < keys.length; i++) {
    const v = map.get(keys[i]);
    if (v !== undefined) {
      sum = (sum + v) | 0;
      found++;
    }
  }
  return { sum: sum >>> 0, found };
}

if (spec.mode === "build") {
  const t0 = nowNs();
  const map = load(spec.tsv);
  const ms = msSince(t0);
  report({ ms, count: map.size, heapUsed: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss });
} else if (spec.mode === "lookups") {
  const map = load(spec.tsv);
  const out = {};
  for (const [name, file] of Object.entries(spec.queries)) {
    const keys = readU32(file);
    const warm = warmUp(() => getLoop(map, keys));
    const g = timeReps(spec.reps, keys.length, () => getLoop(map, keys));
    out[name] = { getNs: median(g.ns), getSum: g.last.sum, getFound: g.last.found, getRuns: g.ns, warmPasses: warm, discarded: g.discarded };
  }
  report(out);
} else {
  throw new Error(`unknown mode ${spec.mode}`);
}
