#!/usr/bin/env node
"use strict";
/**
 * Builds of n rows (bench/lib/wide-data.js, as bench/wide.js builds them) at 32/32, 64/32 and
 * 64/64, each in a fresh process of its own, in rounds of one of each (and of --before's idx
 * too, when given, alternately with this one): wall time, user and system CPU, peak RSS.
 * bench/wide.js times its builds in one process, after each other; this is what one `build()`
 * in a new process costs, as a script that builds one index and exits sees it.
 *
 *   node bench/build-fresh.js [--n 10000000] [--rounds 8] [--before DIST] [--json FILE]
 *
 * Each child makes its columns, collects the garbage, then times `build()` alone
 * (`process.cpuUsage`, `process.resourceUsage().maxRSS`: the whole process, columns included).
 * Ratios are medians of per-round ratios. Writes bench/BUILD-FRESH.md (or --json FILE).
 */
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { ROOT_DIR, WORK_DIR, median } = require("./lib/common");
const { runMeta } = require("./lib/floor");
const { allColumns, chunks } = require("./lib/wide-data");

const LAYOUTS = ["32/32", "64/32", "64/64"];

function parseArgs(argv) {
  const o = { n: 10_000_000, rounds: 8, before: null, json: null, child: null, dist: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--n") o.n = Number(String(argv[++i]).replace(/_/g, ""));
    else if (a === "--rounds") o.rounds = Number(argv[++i]);
    else if (a === "--before") o.before = path.resolve(argv[++i]);
    else if (a === "--json") o.json = path.resolve(argv[++i]);
    else if (a === "--child") o.child = argv[++i];
    else if (a === "--dist") o.dist = path.resolve(argv[++i]);
    else if (a === "--help" || a === "-h") {
      console.log(require("./lib/common").helpText(__filename));
      process.exit(0);
    } else throw new Error(`unknown option ${a} (try --help)`);
  }
  if (!Number.isInteger(o.n) || o.n < 1 || !Number.isInteger(o.rounds) || o.rounds < 1) throw new Error("--n and --rounds take whole numbers of at least 1");
  return o;
}

const opt = parseArgs(process.argv.slice(2));

/** In the child: one build of `layout` with the idx at `dist`; prints its figures as JSON. */
async function child(layout, dist) {
  const idx = require(dist);
  const all = allColumns(opt.n, layout);
  require("node:v8").setFlagsFromString("--expose-gc");
  require("node:vm").runInNewContext("gc")();
  const file = path.join(WORK_DIR, `build-fresh-${process.pid}.idx`);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  try {
    await idx.build(chunks(all), file, { sync: false, keyBits: layout === "32/32" ? 32 : 64, valueBits: layout === "64/64" ? 64 : 32 });
  } finally {
    fs.rmSync(file, { force: true });
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ seconds, user: c.user / 1e6, system: c.system / 1e6, rssMb: process.resourceUsage().maxRSS / 1024 }) + "\n");
}

function runChild(layout, dist) {
  const r = spawnSync(process.execPath, [__filename, "--n", String(opt.n), "--child", layout, "--dist", dist], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`build of ${layout} with ${dist} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

function main() {
  fs.mkdirSync(WORK_DIR, { recursive: true });
  const meta = runMeta("build-fresh.js");
  const idxs = [["now", path.join(ROOT_DIR, "dist", "idx.js")]];
  if (opt.before) idxs.push(["before", opt.before]);
  const runs = {};
  for (const [name] of idxs) for (const layout of LAYOUTS) runs[`${name} ${layout}`] = [];
  for (let r = 0; r < opt.rounds; r++) {
    for (let j = 0; j < LAYOUTS.length; j++) {
      const layout = LAYOUTS[(r + j) % LAYOUTS.length];
      for (const [name, dist] of r % 2 === 0 ? idxs : [...idxs].reverse()) {
        const x = runChild(layout, dist);
        runs[`${name} ${layout}`].push(x);
        process.stderr.write(`[build-fresh] ${name} ${layout}: ${x.seconds.toFixed(2)} s (user ${x.user.toFixed(2)}, system ${x.system.toFixed(2)}), ${x.rssMb.toFixed(0)} MB\n`);
      }
    }
  }
  const f2 = (x) => x.toFixed(2);
  const lines = [`## n = ${opt.n.toLocaleString("en-US")}`, "", `- Command: \`${meta.command}\``, `- Date: ${meta.date}; idx ${meta.commit}; node ${process.version}; ${meta.cpu}`, ""];
  lines.push("| idx | widths | build s | user CPU s | system CPU s (min-max) | peak RSS MB | / its 32-bit build's pairs a second | / its 32-bit build's user CPU |");
  lines.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const [name] of idxs) {
    const narrow = runs[`${name} 32/32`];
    for (const layout of LAYOUTS) {
      const x = runs[`${name} ${layout}`];
      const sys = x.map((y) => y.system);
      const ratio = (k) => (layout === "32/32" ? "" : `${median(x.map((y, i) => narrow[i][k] / y[k])).toFixed(2)}x`);
      lines.push(
        `| ${name} | ${layout} | ${f2(median(x.map((y) => y.seconds)))} | ${f2(median(x.map((y) => y.user)))} | ${f2(Math.min(...sys))}-${f2(Math.max(...sys))} | ` +
          `${median(x.map((y) => y.rssMb)).toFixed(0)} | ${ratio("seconds")} | ${ratio("user")} |`,
      );
    }
  }
  if (opt.before) {
    lines.push("", "Now against before, median of per-round ratios of build time: " + LAYOUTS.map((l) => `${l} ${median(runs[`now ${l}`].map((y, i) => y.seconds / runs[`before ${l}`][i].seconds)).toFixed(2)}x`).join(", ") + ".");
  }
  lines.push("", `Each build in a fresh process, ${opt.rounds} rounds of one of each, the layouts in rotating order; medians. Peak RSS is the process's: the benchmark's own columns (n rows of the layout) are in it.`, "");
  const text = lines.join("\n");
  process.stdout.write(text + "\n");
  if (opt.json) fs.writeFileSync(opt.json, JSON.stringify({ meta, opt, runs }, null, 2));
  else fs.writeFileSync(path.join(__dirname, "BUILD-FRESH.md"), "# Builds in fresh processes\n\nWritten by `node bench/build-fresh.js`. How: see the script's header.\n\n" + text);
}

if (opt.child) {
  child(opt.child, opt.dist).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main();
}
