"use strict";
/**
 * A separate reader process for test/processes.test.ts. Loads the compiled package (dist/), so
 * it tests what users run.
 *
 *   node check-index-child.js DIST_INDEX check INDEX EXPECTED.bin MISSES.bin
 *     Opens INDEX and checks size, get/has of every expected pair and every miss, getMany with
 *     found flags, iteration and ix.verify(). Prints one JSON line; exit 0 when all is right.
 *
 *   node check-index-child.js DIST_INDEX consistent INDEX A.bin B.bin OPENS
 *     Opens INDEX OPENS times while another process replaces it with map A or map B (same keys)
 *     again and again. An open reader follows each replacement (spec §11.4), so one pass may
 *     see both maps; every answer must be the key's value in A or in B, never anything else,
 *     and the file must never fail to open.
 *
 * .bin files are little-endian uint32 words: key, value, key, value, ... (misses: keys only).
 */
const fs = require("node:fs");

function words(path) {
  const raw = fs.readFileSync(path);
  const out = new Uint32Array(raw.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = raw.readUInt32LE(i * 4);
  return out;
}

function check(IdIndex, indexPath, expectedPath, missesPath) {
  const pairs = words(expectedPath);
  const misses = words(missesPath);
  const errors = [];
  const ix = IdIndex.open(indexPath);
  const n = pairs.length / 2;
  if (ix.size !== n) errors.push(`size ${ix.size}, expected ${n}`);
  const keys = new Uint32Array(n + misses.length);
  for (let i = 0; i < n; i++) {
    const k = pairs[2 * i], v = pairs[2 * i + 1];
    keys[i] = k;
    if (ix.get(k) !== v) errors.push(`get(${k}) = ${ix.get(k)}, expected ${v}`);
    if (!ix.has(k)) errors.push(`has(${k}) false`);
    if (errors.length > 10) break;
  }
  for (let i = 0; i < misses.length; i++) {
    const k = misses[i];
    keys[n + i] = k;
    if (ix.get(k) !== undefined) errors.push(`get(${k}) = ${ix.get(k)} for a miss`);
    if (ix.has(k)) errors.push(`has(${k}) true for a miss`);
  }
  const values = new Uint32Array(keys.length);
  const found = new Uint8Array(keys.length);
  const hits = ix.getMany(keys, values, found);
  if (hits !== n) errors.push(`getMany hits ${hits}, expected ${n}`);
  for (let i = 0; i < keys.length && errors.length < 20; i++) {
    const expectFound = i < n ? 1 : 0;
    const expectValue = i < n ? pairs[2 * i + 1] : 0;
    if (found[i] !== expectFound || values[i] !== expectValue) errors.push(`getMany[${i}] key ${keys[i]}: ${values[i]}/${found[i]}`);
  }
  let iterated = 0;
  const expected = new Map();
  for (let i = 0; i < n; i++) expected.set(pairs[2 * i], pairs[2 * i + 1]);
  for (const [k, v] of ix) {
    iterated++;
    if (expected.get(k) !== v) {
      errors.push(`iteration yields [${k}, ${v}]`);
      break;
    }
  }
  if (iterated !== n) errors.push(`iteration yields ${iterated} entries, expected ${n}`);
  const report = ix.verify();
  if (!report.ok) errors.push(`verify: ${JSON.stringify(report.problems.slice(0, 3))}`);
  ix.close();
  return { ok: errors.length === 0, pid: process.pid, checked: keys.length, errors: errors.slice(0, 20) };
}

function consistent(IdIndex, indexPath, aPath, bPath, opens) {
  const a = words(aPath);
  const b = words(bPath);
  const n = a.length / 2;
  const keys = new Uint32Array(n);
  for (let i = 0; i < n; i++) keys[i] = a[2 * i];
  const values = new Uint32Array(n);
  const found = new Uint8Array(n);
  const seen = { a: 0, b: 0 };
  const errors = [];
  for (let round = 0; round < opens && errors.length === 0; round++) {
    const ix = IdIndex.open(indexPath);
    try {
      if (ix.size !== n) errors.push(`open ${round}: size ${ix.size}`);
      ix.getMany(keys, values, found);
      for (let i = 0; i < n; i++) {
        if (found[i] !== 1 || (values[i] !== a[2 * i + 1] && values[i] !== b[2 * i + 1])) {
          errors.push(`open ${round}: key ${keys[i]} = ${values[i]} (found ${found[i]}), in neither map`);
          break;
        }
      }
      seen[values[0] === a[1] ? "a" : "b"]++;
    } finally {
      ix.close();
    }
  }
  return { ok: errors.length === 0, pid: process.pid, seen, errors };
}

function main() {
  const [distIndex, mode, ...args] = process.argv.slice(2);
  const { IdIndex } = require(distIndex);
  let result;
  try {
    result = mode === "check" ? check(IdIndex, ...args) : consistent(IdIndex, args[0], args[1], args[2], Number(args[3]));
  } catch (e) {
    result = { ok: false, pid: process.pid, errors: [`threw ${e && e.code ? e.code + ": " : ""}${e && e.message}`] };
  }
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exitCode = result.ok ? 0 : 1;
}

main();
