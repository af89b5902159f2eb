#!/usr/bin/env node
"use strict";
/**
 * Machine instructions a lookup, counted by valgrind's callgrind: the figure that this shared
 * VM's noise cannot move (get-ratio.js's times swing by a third between hours; these counts
 * agree within 5% between runs). It is one part of a lookup's time, to read beside
 * get-ratio.js's: a loop of lookups overlaps its cache misses as far as the CPU can run on
 * from one key to the next, which more instructions hinder and a guessed branch can stop (the
 * count of four slots without a branch added instructions to the C floor and took 0.62-0.69x of
 * its time at 10 M entries; to idx's get 23 a hit at 1 M, where it took 1.13-1.31x the time,
 * and 0.83-0.89x at 10 M on misses and a mix: src/reader/lookups.ts scanOf).
 *
 * Each figure is (instructions of a process that runs the loop 30 times - of one that runs it
 * 10 times) / (20 x the keys a loop): startup, the file's open and the compiles cancel out. The
 * loop is the one a user writes (get-ratio.js's), compiled by V8 as a whole (not on-stack
 * replaced) before it is counted (--allow-natives-syntax), in one thread (--single-threaded).
 * The C floor is bench/floor/inproc.c's loop of single lookups, over the same file and keys.
 *
 *   node bench/get-instructions.js [--n 1000000] [--keys 200000] [--queries hits,misses]
 *                                  [--idx DIST] [--before DIST] [--json FILE]
 *
 * --before DIST counts that build of idx (a dist/idx.js) beside this one. Needs valgrind
 * (Debian: apt-get install valgrind). Writes bench/INSTRUCTIONS.md unless --json is given.
 */
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { BENCH_DIR, ROOT_DIR, helpText } = require("./lib/common");
const { floorModule, runMeta } = require("./lib/floor");
const { indexOf, queriesOf } = require("./lib/ratio-data");

const LOOPS = {
  get: "const v = ix.get(keys[i]); if (v !== undefined) { sum = (sum + v) | 0; hits++; }",
  getOr: "const v = ix.getOr(keys[i], -1); if (v !== -1) { sum = (sum + v) | 0; hits++; }",
  has: "if (ix.has(keys[i])) hits++;",
};
const FEW = 10;
const MANY = 30;

/** In the child: run `what`'s loop `reps` times after compiling it, under callgrind. */
function child([what, dist, file, n, kind, count, reps]) {
  const keys = queriesOf(Number(n), kind, Number(count));
  let loop;
  if (what === "c") {
    const floor = floorModule();
    const id = floor.open(file);
    loop = () => floor.single(id, keys)[1];
  } else {
    const ix = require(dist).IdIndex.open(file);
    const body = LOOPS[what];
    loop = new Function("ix", "keys", `return function loop() { let sum = 0, hits = 0; for (let i = 0; i < keys.length; i++) { ${body} } return hits + sum * 0; }`)(ix, keys);
    // V8's own order for a hot loop: feedback, then the whole function optimized (no OSR).
    for (let i = 0; i < 3; i++) loop();
    new Function("f", "%PrepareFunctionForOptimization(f); f(); %OptimizeFunctionOnNextCall(f); f();")(loop);
  }
  let hits = 0;
  for (let i = 0; i < Number(reps); i++) hits += loop();
  process.stdout.write(`${hits}\n`);
}

function parseArgs(argv) {
  const o = { n: 1_000_000, keys: 200_000, queries: ["hits", "misses"], idx: path.join(ROOT_DIR, "dist", "idx.js"), before: null, json: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === "--n") o.n = Number(next());
    else if (a === "--keys") o.keys = Number(next());
    else if (a === "--queries") o.queries = next().split(",");
    else if (a === "--idx") o.idx = path.resolve(next());
    else if (a === "--before") o.before = path.resolve(next());
    else if (a === "--json") o.json = path.resolve(next());
    else if (a === "--help" || a === "-h") {
      console.log(helpText(__filename));
      process.exit(0);
    } else throw new Error(`unknown option ${a} (try --help)`);
  }
  if (!Number.isSafeInteger(o.n) || o.n < 1 || !Number.isSafeInteger(o.keys) || o.keys < 1) throw new Error("--n and --keys take positive integers");
  return o;
}

/** Instructions callgrind counted in one child run. */
function instructions(args) {
  const flags = ["--tool=callgrind", "--callgrind-out-file=/dev/null", process.execPath, "--allow-natives-syntax", "--single-threaded"];
  const r = spawnSync("valgrind", [...flags, __filename, "--child", ...args.map(String)], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`valgrind: ${r.error.message} (Debian: apt-get install valgrind)`);
  const m = /Collected : (\d+)/.exec(r.stderr);
  if (r.status !== 0 || m === null) throw new Error(`valgrind ${args.join(" ")} failed (status ${r.status}):\n${r.stderr.slice(-2000)}`);
  return { ir: Number(m[1]), hits: Number(r.stdout.trim()) };
}

/** Instructions a lookup of `what` (a loop name, or "c"). */
function perLookup(what, dist, file, o, kind) {
  const few = instructions([what, dist, file, o.n, kind, o.keys, FEW]);
  const many = instructions([what, dist, file, o.n, kind, o.keys, MANY]);
  return { perKey: (many.ir - few.ir) / ((MANY - FEW) * o.keys), hits: many.hits / MANY };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  floorModule(); // compiled here, not inside a counted child
  const file = await indexOf(require(o.idx), o.n);
  const builds = [["idx", o.idx], ...(o.before ? [["before", o.before]] : [])];
  const rows = [];
  for (const kind of o.queries) {
    const c = perLookup("c", null, file, o, kind);
    const row = { queries: kind, c: c.perKey, hits: c.hits };
    for (const [label, dist] of builds) {
      for (const what of Object.keys(LOOPS)) {
        const r = perLookup(what, dist, file, o, kind);
        if (r.hits !== c.hits) throw new Error(`${label} ${what}: ${r.hits} hits a loop, the C floor ${c.hits}`);
        row[`${label} ${what}`] = r.perKey;
      }
    }
    rows.push(row);
    process.stderr.write(`${kind}: ${JSON.stringify(row)}\n`);
  }
  const meta = runMeta("get-instructions.js");
  if (o.json) {
    fs.writeFileSync(o.json, JSON.stringify({ meta, n: o.n, keys: o.keys, rows }, null, 2));
    return;
  }
  const columns = Object.keys(rows[0]).filter((k) => k !== "queries" && k !== "c" && k !== "hits");
  const lines = [
    "# Instructions a lookup (callgrind)",
    "",
    `Written by \`node bench/get-instructions.js\`; how: see the script's header.`,
    "",
    `- Command: \`${meta.command}\``,
    `- Date: ${meta.date}; idx ${meta.commit}; node ${process.version}; ${meta.cpu}`,
    `- File: bench/work/ratio-random-${o.n}.idx (${o.n.toLocaleString("en-US")} pairs); ${o.keys.toLocaleString("en-US")} keys a loop`,
    "",
    "Machine instructions a lookup, the caller's loop included (and its ratio to the C floor's loop of single lookups).",
    "",
    `| queries | C single | ${columns.join(" | ")} |`,
    `| --- | ---: | ${columns.map(() => "---:").join(" | ")} |`,
    ...rows.map((r) => `| ${r.queries} | ${r.c.toFixed(1)} | ${columns.map((k) => `${r[k].toFixed(1)} (${(r[k] / r.c).toFixed(2)}x)`).join(" | ")} |`),
    "",
  ];
  fs.writeFileSync(path.join(BENCH_DIR, "INSTRUCTIONS.md"), lines.join("\n"));
  console.log(lines.join("\n"));
}

if (process.argv[2] === "--child") child(process.argv.slice(3));
else main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
