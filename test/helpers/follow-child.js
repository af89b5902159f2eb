"use strict";
/**
 * node follow-child.js DIST INDEX KEYS DURATION_MS, one JSON line out. A reader that looks keys
 * up in one synchronous loop (the event loop never turns, so only the addon's watcher thread
 * and the lookups themselves can notice a replaced file) while the test replaces INDEX.
 * The old map is k -> 3k, the new one k -> 7k + 1 (k < KEYS). Reports absolute times (Date.now())
 * of the first new answer and the last old one, answers that are neither (wrong), absences, and
 * IdxError codes thrown.
 */
const fs = require("node:fs");
const [dist, path, keysText, durationText] = process.argv.slice(2);
const { IdIndex } = require(dist);
const keys = Number(keysText);
const ix = IdIndex.open(path);
const report = { firstNew: null, lastOld: null, lastAbsent: null, lastError: null, wrong: [], absent: 0, errors: {}, lookups: 0, endedNew: 0 };
fs.writeSync(1, "ready\n");
const end = Date.now() + Number(durationText);
let k = 0;
while (Date.now() < end) {
  for (let i = 0; i < 256; i++) {
    k = (k + 7919) % keys;
    report.lookups++;
    let v;
    try {
      v = ix.get(k);
    } catch (e) {
      const code = e && e.code ? e.code : String(e);
      report.errors[code] = (report.errors[code] || 0) + 1;
      report.lastError = Date.now();
      continue;
    }
    if (v === 3 * k) report.lastOld = Date.now();
    else if (v === 7 * k + 1) {
      if (report.firstNew === null) report.firstNew = Date.now();
    } else if (v === undefined) {
      report.absent++;
      report.lastAbsent = Date.now();
    } else if (report.wrong.length < 10) report.wrong.push([k, v]);
  }
}
// After the loop: every key answered from the new map?
for (let j = 0; j < keys; j++) {
  try {
    if (ix.get(j) === 7 * j + 1) report.endedNew++;
  } catch {
    // counted as not new
  }
}
fs.writeSync(1, JSON.stringify(report) + "\n");
