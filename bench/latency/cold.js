#!/usr/bin/env node
"use strict";
/**
 * Why does one `idx set` in a new process keep seq odd for so long? Each run is a new process
 * (the seq probe loaded first) that opens an IdWriter on a built index and does three sets of
 * present keys with new values: key A, key B (elsewhere in the table), key A again. It prints
 * each set's odd window (probe) and the page faults its call took. Variants:
 *   cold   the three sets are the first this process runs
 *   warm   first three sets on a scratch index in the same process (the code has run; the
 *          target's pages have not been written by this process), then the three on the target
 *   cli    `idx set FILE KEY VALUE`, the command line (one set a process)
 *
 *   node bench/latency/cold.js [--idx DIR] [--n N] [--runs R]
 */
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { keyOf, valueOf } = require("./common");

const PROBE = path.join(__dirname, "seqprobe.js");


function child(mode, idxDir, file, scratch, n) {
  const probe = require("./seqprobe").install();
  const idx = require(path.resolve(idxDir));
  const a = keyOf(7, 1);
  const b = keyOf(Math.floor(n / 2) + 3, 1);
  const out = { windows: [], faults: [], callUs: [] };
  const three = (w, value) => {
    for (const k of [a, b, a]) {
      const f0 = process.resourceUsage().minorPageFault;
      const before = probe.hist.n;
      const t0 = performance.now();
      w.set(k, value++);
      const t1 = performance.now();
      out.faults.push(process.resourceUsage().minorPageFault - f0);
      out.callUs.push(Math.round((t1 - t0) * 1e4) / 10);
      // The window this set opened: the histogram's newest sample is its max when it is the only one.
      out.windows.push(probe.hist.n > before ? lastWindow(probe) : null);
    }
    return value;
  };
  if (mode === "warm") {
    const s = idx.IdWriter.open(scratch);
    three(s, 1000);
    s.close();
    out.windows.length = 0;
    out.faults.length = 0;
    out.callUs.length = 0;
  }
  const w = idx.IdWriter.open(file);
  three(w, (Date.now() % 1e6) * 4);
  w.close();
  process.stdout.write(JSON.stringify(out));
}

/** The most recent odd window in µs: the probe keeps a histogram, so track the sum instead. */
let lastSum = 0;
function lastWindow(probe) {
  const d = probe.hist.sum - lastSum;
  lastSum = probe.hist.sum;
  return Math.round(d / 100) / 10;
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const idxDir = path.resolve(opt("--idx", path.join(__dirname, "..", "..")));
  const n = Number(opt("--n", 1_000_000));
  const runs = Number(opt("--runs", 15));
  const idx = require(idxDir);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "idx-cold-"));
  const file = path.join(dir, "index.idx");
  const scratch = path.join(dir, "scratch.idx");
  const keys = new Uint32Array(n);
  const values = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    keys[i] = keyOf(i, 1);
    values[i] = valueOf(i);
  }
  await idx.build({ keys, values }, file);
  await idx.build({ keys: keys.subarray(0, 1000), values: values.subarray(0, 1000) }, scratch);
  const results = {};
  for (const mode of ["cold", "warm", "cli"]) results[mode] = [];
  for (let r = 0; r < runs; r++) {
    for (const mode of ["cold", "warm", "cli"]) {
      if (mode === "cli") {
        const probeFile = path.join(dir, "probe.jsonl");
        fs.rmSync(probeFile, { force: true });
        const res = spawnSync(process.execPath, ["-r", PROBE, path.join(idxDir, "bin", "idx.js"), "set", file, String(keyOf(11, 1)), String(r + 1)], {
          env: { ...process.env, IDX_LATENCY_SEQ_PROBE: probeFile }, encoding: "utf8",
        });
        if (res.status !== 0) throw new Error(res.stderr);
        const j = JSON.parse(fs.readFileSync(probeFile, "utf8").trim());
        results.cli.push({ windows: [Math.round(j.hist.sum / 100) / 10] });
      } else {
        const res = spawnSync(process.execPath, [__filename, "--child", mode, idxDir, file, scratch, String(n)], { encoding: "utf8" });
        if (res.status !== 0) throw new Error(res.stderr);
        results[mode].push(JSON.parse(res.stdout));
      }
    }
  }
  const med = (xs) => {
    const s = xs.filter((x) => x !== null).sort((p, q) => p - q);
    return s.length ? s[Math.floor(s.length / 2)] : null;
  };
  const max = (xs) => Math.max(...xs.filter((x) => x !== null));
  console.log(`idx at ${idxDir}, n = ${n}, ${runs} new processes per variant; load ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  console.log("");
  console.log("| variant | set | odd window median | max | set() call median | minor faults in the call (median) |");
  console.log("| --- | --- | ---: | ---: | ---: | ---: |");
  for (const mode of ["cold", "warm"]) {
    ["1st (key A)", "2nd (key B)", "3rd (key A again)"].forEach((label, i) => {
      const w = results[mode].map((x) => x.windows[i]);
      const c = results[mode].map((x) => x.callUs[i]);
      const f = results[mode].map((x) => x.faults[i]);
      console.log(`| ${mode} | ${label} | ${med(w)} µs | ${max(w)} µs | ${med(c)} µs | ${med(f)} |`);
    });
  }
  const cw = results.cli.map((x) => x.windows[0]);
  console.log(`| cli | idx set | ${med(cw)} µs | ${max(cw)} µs | - | - |`);
  fs.rmSync(dir, { recursive: true, force: true });
  return results;
}

if (process.argv[2] === "--child") {
  child(process.argv[3], process.argv[4], process.argv[5], process.argv[6], Number(process.argv[7]));
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
