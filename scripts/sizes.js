#!/usr/bin/env node
// Bytes per entry on disk after build, across sizes: shows there is no power-of-two sawtooth.
// Usage: node scripts/sizes.js [maxEntries]   (builds in memory; writes nothing)
"use strict";
const { encodeIndex } = require("../dist/core/encode.js");

const max = Number(process.argv[2] || 10_000_000);
const sizes = [1, 10, 100, 1000, 10_000, 100_000, 2 ** 20 - 1, 2 ** 20, 2 ** 20 + 1, 1_000_000, 1_500_000,
  3_000_000, 2 ** 22 + 1, 7_000_000, 10_000_000, 2 ** 24 + 1].filter((n) => n <= max).sort((a, b) => a - b);
console.log("| entries | file bytes | bytes/entry |\n|---:|---:|---:|");
for (const n of sizes) {
  const keys = new Uint32Array(n);
  // An odd multiplier makes i -> key a bijection: n distinct keys spread over the uint32 range.
  for (let i = 0; i < n; i++) keys[i] = Math.imul(i, 0x9e3779b1) >>> 0;
  const file = encodeIndex(keys, new Uint32Array(n), n);
  // spec §3: the entries cell (offset 56), plus the escaped key if the state cell says so.
  const count = file.readUInt32LE(56) + ((file.readUInt32LE(32) >>> 28) & 1);
  console.log(`| ${count.toLocaleString("en-US")} | ${file.length.toLocaleString("en-US")} | ${(file.length / count).toFixed(3)} |`);
}
