#!/usr/bin/env node
// npm run demo: what idx is for, in one minute. Builds an index of 2 million ID pairs once,
// then shows what every later run pays: opening, looking up, and memory, next to a Map.
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { IdIndex, buildFromText } = require("..");

const N = Number(process.env.IDX_DEMO_N || 2_000_000);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "idx-demo-"));
const tsv = path.join(work, "pairs.tsv");
const file = path.join(work, "ids.idx");
const bin = path.join(__dirname, "..", "bin", "idx.js");

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
const say = (s = "") => console.log(s);

function randomPairs() {
  // A fixed-seed generator: the same demo every run. Keys are spread over the whole uint32 range.
  let x = 0x2545f491;
  const next = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
  const keys = new Uint32Array(N);
  const lines = [];
  let chunk = "";
  for (let i = 0; i < N; i++) {
    keys[i] = next();
    chunk += `${keys[i]}\t${i}\n`;
    if (chunk.length > 1 << 20) { lines.push(chunk); chunk = ""; }
  }
  lines.push(chunk);
  fs.writeFileSync(tsv, lines.join(""));
  return keys;
}

async function main() {
  say(`idx demo: a map from ${N.toLocaleString("en-US")} IDs to IDs, kept in one file.\n`);
  const keys = randomPairs();
  say(`1. The input: ${path.basename(tsv)}, ${N.toLocaleString("en-US")} lines of "key<TAB>value", ${mb(fs.statSync(tsv).size)}.`);

  let t0 = process.hrtime.bigint();
  const built = await buildFromText(tsv, file);
  const buildMs = ms(t0);
  say(`2. Build it once (buildFromText, what \`idx build pairs.tsv -o ids.idx\` runs): ${(buildMs / 1000).toFixed(2)} s.`);
  say(`   The index is ${mb(built.fileBytes)}: ${(built.fileBytes / built.count).toFixed(2)} bytes per entry.\n`);

  t0 = process.hrtime.bigint();
  const ix = IdIndex.open(file);
  const first = ix.get(keys[0]);
  const openUs = ms(t0) * 1000;
  t0 = process.hrtime.bigint();
  const again = IdIndex.open(file);
  again.get(keys[0]);
  const againUs = ms(t0) * 1000;
  again.close();
  say(`3. Every later run opens it instead of rebuilding: IdIndex.open + first get took ${openUs.toFixed(0)} µs`);
  say(`   the first time in this process (setting up), ${againUs.toFixed(0)} µs the next time (get(${keys[0]}) = ${first}).`);
  say(`   Nothing is loaded or parsed; the file is mapped and probed in place.\n`);

  const probe = new Uint32Array(1_000_000);
  for (let i = 0; i < probe.length; i++) probe[i] = keys[(i * 7919) % N];
  let sum = 0;
  for (let i = 0; i < 200_000; i++) sum += ix.get(probe[i]) ?? 0; // warm up the JIT
  t0 = process.hrtime.bigint();
  for (let i = 0; i < probe.length; i++) sum += ix.get(probe[i]) ?? 0;
  const getNs = (ms(t0) * 1e6) / probe.length;
  const out = new Uint32Array(probe.length);
  const found = new Uint8Array(probe.length);
  ix.getMany(probe, out, found);
  t0 = process.hrtime.bigint();
  const hits = ix.getMany(probe, out, found);
  const manyNs = (ms(t0) * 1e6) / probe.length;
  say(`4. Lookups: ${getNs.toFixed(0)} ns per get, ${manyNs.toFixed(0)} ns per key with getMany (${hits.toLocaleString("en-US")} of ${probe.length.toLocaleString("en-US")} found).\n`);

  // What the same job costs with a Map: every process must read the pairs and build it again.
  if (global.gc) global.gc();
  const heapBefore = process.memoryUsage().heapUsed;
  t0 = process.hrtime.bigint();
  const map = new Map();
  const text = fs.readFileSync(tsv, "latin1");
  let start = 0;
  while (start < text.length) {
    const tab = text.indexOf("\t", start);
    const nl = text.indexOf("\n", tab);
    map.set(Number(text.slice(start, tab)), Number(text.slice(tab + 1, nl)));
    start = nl + 1;
  }
  const mapMs = ms(t0);
  if (global.gc) global.gc();
  const mapBytes = process.memoryUsage().heapUsed - heapBefore;
  say(`5. The same pairs in a JS Map: ${(mapMs / 1000).toFixed(2)} s to rebuild in every process, about ${mb(mapBytes)} of heap`);
  say(`   in each of them (${(mapBytes / map.size).toFixed(0)} bytes per entry); a Map also stops near 16.7 M entries.`);
  say(`   An idx file is shared: every process that maps it reads one copy in the page cache.\n`);
  sum += map.size;

  // The fastest of 5 runs of each, taken in turn: one run of either varies by more than idx's part.
  let r, cliMs = Infinity, nodeMs = Infinity;
  for (let i = 0; i < 5; i++) {
    t0 = process.hrtime.bigint();
    r = spawnSync(process.execPath, [bin, "get", file, String(keys[1])], { encoding: "utf8" });
    cliMs = Math.min(cliMs, ms(t0));
    t0 = process.hrtime.bigint();
    spawnSync(process.execPath, ["-e", "0"]);
    nodeMs = Math.min(nodeMs, ms(t0));
  }
  say(`6. From a shell script, a new process answers at once:`);
  say(`   $ idx get ${path.basename(file)} ${keys[1]}\n   ${r.stdout.trim()}`);
  say(`   (${cliMs.toFixed(0)} ms, the best of 5 runs; \`node -e 0\`, which does nothing, takes ${nodeMs.toFixed(0)} ms:`);
  say(`   nearly all of it is starting node)\n`);

  ix.close();
  fs.rmSync(work, { recursive: true, force: true });
  say(`Done. Next: README.md for the CLI and API, spec/FORMAT.md for the file format.`);
  if (sum < 0) console.log(sum);
}

main().catch((e) => {
  console.error(`demo failed: ${e.message}`);
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(1);
});
