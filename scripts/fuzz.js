#!/usr/bin/env node
/**
 * The long fuzz of damaged files (test/helpers/fuzz.js; npm test runs 750 cases):
 *   node scripts/fuzz.js [CASES] [SEED]     (default 20000 cases, seed 1)
 * Prints how many cases fell in each class, and every violation (there must be none).
 */
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { fuzz } = require("../test/helpers/fuzz.js");

const cases = Number(process.argv[2] ?? 20000);
const seed = Number(process.argv[3] ?? 1);
const dist = path.join(__dirname, "..", "dist", "idx.js");
const { build } = require(dist);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "idx-fuzz-"));
(async () => {
  const good = path.join(dir, "good.idx");
  await build(Array.from({ length: 3000 }, (_, i) => [(i * 2654435761) >>> 0, i]), good, { sync: false });
  const started = Date.now();
  const all = {};
  const violations = [];
  for (let done = 0, s = seed; done < cases; done += 1000, s++) {
    const r = fuzz(dist, good, dir, Math.min(1000, cases - done), s);
    for (const [k, v] of Object.entries(r.classes)) all[k] = (all[k] || 0) + v;
    violations.push(...r.violations);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const rows = Object.entries(all).sort((a, b) => b[1] - a[1]);
  console.log(`${cases} mutated files (seeds ${seed}..), ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  console.log("| class | cases |\n|---|---:|");
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
  console.log(`\nviolations: ${violations.length}`);
  for (const v of violations.slice(0, 50)) console.log(`  ${v}`);
  process.exitCode = violations.length ? 1 : 0;
})();
