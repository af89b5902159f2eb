"use strict";
/**
 * The installed package's smoke test, as a user's CommonJS script: copied by
 * scripts/pack-test.js into a temp project that installed the tarball, and run there under each
 * Node (and under qemu for arm64). Builds an index, opens it, get, getMany of 10,000 keys, an
 * IdWriter set/delete/grow, verify; then times open + first get once warm. Prints one JSON line:
 * what it measured, and which addon file the process loaded (from process.report).
 *
 *   node smoke.cjs [--expect-native | --expect-js]
 */
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { IdIndex, IdWriter, build, verify, IdxError } = require("idxmap");

function pairsOf(n, seed) {
  const keys = new Uint32Array(n);
  const values = new Uint32Array(n);
  let x = seed >>> 0;
  const seen = new Set();
  for (let i = 0; i < n; ) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    if (seen.has(x)) continue;
    seen.add(x);
    keys[i] = x;
    values[i] = (x ^ 0x9e3779b9) >>> 0;
    i++;
  }
  return { keys, values };
}

async function main() {
  const expect = process.argv[2] ?? "--expect-native";
  const dir = fs.mkdtempSync(path.join(process.cwd(), "smoke-"));
  const file = path.join(dir, "s.idx");
  const n = 20_000;
  const { keys, values } = pairsOf(n, 42);
  await build({ keys, values }, file);

  const ix = IdIndex.open(file);
  const info = ix.info();
  assert.equal(ix.size, n);
  assert.equal(ix.get(keys[123]), values[123]);
  assert.equal(ix.has(keys[0]), true);

  // getMany: 10,000 keys, every other one absent.
  const m = 10_000;
  const ask = new Uint32Array(m);
  const want = new Uint32Array(m);
  for (let i = 0; i < m; i++) {
    if (i % 2 === 0) { ask[i] = keys[i]; want[i] = values[i]; } else { ask[i] = (keys[i] ^ 1) >>> 0; }
  }
  const got = new Uint32Array(m);
  const found = new Uint8Array(m);
  ix.getMany(ask, got, found);
  let hits = 0;
  for (let i = 0; i < m; i++) {
    const isIn = ix.has(ask[i]);
    assert.equal(found[i], isIn ? 1 : 0, `found[${i}]`);
    if (isIn) { hits++; assert.equal(got[i], ix.get(ask[i])); }
    if (i % 2 === 0) assert.equal(got[i], want[i]);
  }
  ix.close();

  // IdWriter: set, delete, and enough sets to grow the table (a new file renamed into place).
  let writer = null;
  if (info.access === "mapped") {
    const wfile = path.join(dir, "w.idx");
    const w = IdWriter.open(wfile, { sync: false });
    w.set(1, 2).set(3, 4);
    assert.equal(w.delete(1), true);
    assert.equal(w.delete(1), false);
    const before = fs.statSync(wfile).size;
    for (let i = 0; i < 5000; i++) w.set(keys[i], values[i]);
    assert.equal(w.get(keys[4999]), values[4999]);
    assert.equal(w.size, 5001);
    w.close();
    const after = fs.statSync(wfile).size;
    assert.ok(after > before, `the writer grew the file (${before} -> ${after} bytes)`);
    const wr = verify(wfile);
    assert.equal(wr.ok, true, JSON.stringify(wr.problems));
    const r = IdIndex.open(wfile);
    assert.equal(r.get(3), 4);
    assert.equal(r.get(1), undefined);
    r.close();
    writer = { grewFrom: before, grewTo: after, entries: wr.entries };
  }
  const report = verify(file);
  assert.equal(report.ok, true);

  try {
    IdIndex.open(path.join(dir, "missing.idx"));
    assert.fail("open of a missing file");
  } catch (e) {
    assert.ok(e instanceof IdxError, String(e));
  }

  // Open + first get, once warm: the README's figure is 0.06 ms on the project's machine. 100
  // rounds to warm up, then 3 runs of 100; the figure is the best run's median, so that a burst
  // of other work on a shared machine does not count as idx's time (the worst run is shown too).
  const runs = [];
  for (let round = 0, i = 0; round < 4; round++) {
    const times = [];
    for (let j = 0; j < 100; j++, i++) {
      const t0 = process.hrtime.bigint();
      const r = IdIndex.open(file);
      const v = r.get(keys[i]);
      const t1 = process.hrtime.bigint();
      r.close();
      if (v !== values[i]) throw new Error("wrong value in the timing loop");
      times.push(Number(t1 - t0) / 1e6);
      // Let the event loop turn now and then: closed mappings are released by the collector.
      if (j % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
    }
    times.sort((x, y) => x - y);
    if (round > 0) runs.push({ median: times[50], min: times[0] });
  }
  runs.sort((x, y) => x.median - y.median);

  const addons = (process.report.getReport().sharedObjects || []).filter((f) => /idx(_native)?\.node$/.test(f));
  const result = {
    node: process.version,
    arch: process.arch,
    access: info.access,
    addon: addons.map((f) => path.relative(process.cwd(), f)),
    getManyHits: hits,
    writer,
    openGetMedianMs: Number(runs[0].median.toFixed(4)),
    openGetMinMs: Number(runs[0].min.toFixed(4)),
    openGetWorstRunMedianMs: Number(runs[runs.length - 1].median.toFixed(4)),
  };
  fs.rmSync(dir, { recursive: true, force: true });
  if (expect === "--expect-native") {
    assert.equal(info.access, "mapped", "the prebuilt addon did not load");
    assert.equal(addons.length, 1, "one addon file loaded");
  } else {
    assert.equal(info.access, "copied");
    assert.equal(addons.length, 0);
  }
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
