#!/usr/bin/env node
"use strict";
/**
 * What does the lookup that follows a replaced file cost, and where does it go? One reader
 * process holds an index (every page touched, as a busy reader's would be); `idx compact`
 * replaces the file (a new process, run to completion); then the reader's next get() follows
 * the path to the new file, and is timed alone, as are the next few. Variants:
 *   last     the reader is the last holder of the old file (the usual case: the writer has
 *            closed it), so letting go of its mapping drops the deleted file's last reference
 *   held     another descriptor of the old file stays open in this process across the lookup
 *            (closed after, timed apart): the lookup only unmaps; the kernel frees the deleted
 *            file (its page cache and its blocks) at that close instead
 *
 *   node bench/latency/follow.js [--idx DIR] [--n N] [--runs R]
 */
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { keyOf, valueOf } = require("./common");

async function main() {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const idxDir = path.resolve(opt("--idx", path.join(__dirname, "..", "..")));
  const n = Number(opt("--n", 1_000_000));
  const runs = Number(opt("--runs", 10));
  const idx = require(idxDir);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "idx-follow-"));
  const file = path.join(dir, "index.idx");
  const keys = new Uint32Array(n);
  const values = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    keys[i] = keyOf(i, 1);
    values[i] = valueOf(i);
  }
  await idx.build({ keys, values }, file);
  const ix = idx.IdIndex.open(file);
  const out = new Uint32Array(keys.length);
  const warm = () => ix.getMany(keys, out); // every page of the current file, mapped in this process
  const k = keys[12345];
  const rows = [];
  for (let r = 0; r < runs; r++) {
    for (const variant of ["last", "held"]) {
      warm();
      for (let i = 0; i < 1000; i++) ix.get(keys[i]);
      const held = variant === "held" ? fs.openSync(file, "r") : null;
      const c = spawnSync(process.execPath, [path.join(idxDir, "bin", "idx.js"), "compact", file]);
      if (c.status !== 0) throw new Error(String(c.stderr));
      const f0 = process.resourceUsage().minorPageFault;
      const t0 = process.hrtime.bigint();
      const v = ix.get(k);
      const t1 = process.hrtime.bigint();
      const faults = process.resourceUsage().minorPageFault - f0;
      let next = 0;
      for (let i = 0; i < 10; i++) {
        const a = process.hrtime.bigint();
        ix.get(keys[i * 7919]);
        const b = process.hrtime.bigint();
        next = Math.max(next, Number(b - a));
      }
      let closeUs = null;
      if (held !== null) {
        const a = process.hrtime.bigint();
        fs.closeSync(held);
        closeUs = Number(process.hrtime.bigint() - a) / 1e3;
      }
      if (v !== values[12345]) throw new Error("wrong answer after follow");
      rows.push({ variant, followUs: Number(t1 - t0) / 1e3, faults, nextMaxUs: next / 1e3, closeUs });
      // Let a deferred release (a collected old mapping) happen before the next run.
      await new Promise((res) => setTimeout(res, 20));
    }
  }
  const med = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
  };
  const f = (x) => (x === null || x === undefined ? "-" : x >= 1000 ? `${(x / 1000).toFixed(2)} ms` : `${x.toFixed(1)} µs`);
  console.log(`idx at ${idxDir}, n = ${n}, ${runs} runs per variant; load ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  console.log("");
  console.log("| variant | lookup that follows: median | min | max | its minor faults (median) | next 10 lookups: max (median) | close of the held old file: median | max |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const variant of ["last", "held"]) {
    const rs = rows.filter((x) => x.variant === variant);
    const fu = rs.map((x) => x.followUs);
    const cl = rs.map((x) => x.closeUs).filter((x) => x !== null);
    console.log(`| ${variant} | ${f(med(fu))} | ${f(Math.min(...fu))} | ${f(Math.max(...fu))} | ${med(rs.map((x) => x.faults))} | ${f(med(rs.map((x) => x.nextMaxUs)))} | ${cl.length ? f(med(cl)) : "-"} | ${cl.length ? f(Math.max(...cl)) : "-"} |`);
  }
  ix.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
