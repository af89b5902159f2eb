"use strict";
/**
 * node batch-child.js DIST INDEX KEYS DURATION_MS, one JSON line out. Answers all KEYS keys in
 * one getMany call, again and again, while the test deploys two maps in turn at INDEX (k -> 3k
 * and k -> 7k + 1). Every batch must hold one map's answers throughout (spec §11.7 "A batch");
 * reports how many were old, new, mixed (a violation), and the IdxError codes thrown.
 */
const fs = require("node:fs");
const [dist, path, keysText, durationText] = process.argv.slice(2);
const { IdIndex } = require(dist);
const n = Number(keysText);
const keys = new Uint32Array(n).map((_, i) => i);
const values = new Uint32Array(n);
const ix = IdIndex.open(path);
const report = { batches: 0, old: 0, new: 0, mixed: 0, other: 0, errors: {} };
fs.writeSync(1, "ready\n");
const end = Date.now() + Number(durationText);
while (Date.now() < end) {
  try {
    ix.getMany(keys, values);
  } catch (e) {
    const code = e && e.code ? e.code : String(e);
    report.errors[code] = (report.errors[code] || 0) + 1;
    continue;
  }
  report.batches++;
  let old = 0;
  let fresh = 0;
  for (let k = 0; k < n; k++) {
    if (values[k] === 3 * k) old++;
    else if (values[k] === 7 * k + 1) fresh++;
  }
  if (old === n) report.old++;
  else if (fresh === n) report.new++;
  else if (old + fresh === n) report.mixed++;
  else report.other++;
}
fs.writeSync(1, JSON.stringify(report) + "\n");
