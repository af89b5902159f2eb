"use strict";
/**
 * A seeded fuzz of damaged index files: mutate an intact index, then open, read, iterate,
 * verify and write it, and classify what happened. Shared by test/fuzz.test.ts (a few hundred
 * cases, seconds) and scripts/fuzz.js (as many as asked, with the class counts printed).
 * Nothing may crash, hang, answer a non-uint32, throw anything but an IdxError, or let a writer
 * turn a file that verify rejects into one it accepts.
 */
const fs = require("node:fs");
const path = require("node:path");
const { rng } = require("./spec.js");

/** Cell offsets and the fixed fields of a version 2 header (spec §3). */
const CELLS = [32, 40, 48, 56, 64, 72, 80, 88];

function cell(bytes, offset, word) {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(offset, 0);
  b.writeUInt32LE(word >>> 0, 4);
  bytes.writeUInt32LE(word >>> 0, offset);
  bytes.writeUInt32LE(require("node:zlib").crc32(b), offset + 4);
}

function fixHeader(bytes) {
  if (bytes.length < 32) return;
  const fixed = Buffer.concat([bytes.subarray(0, 12), bytes.subarray(16, 32)]);
  bytes.writeUInt32LE(require("node:zlib").crc32(fixed), 12);
}

/** One mutation of `good`, chosen by `r`; returns [kind, bytes]. */
function mutate(good, r) {
  const b = Buffer.from(good);
  const pick = r() % 9;
  const at = () => r() % b.length;
  switch (pick) {
    case 0: { const n = 1 + (r() % 4); for (let i = 0; i < n; i++) { const p = at(); b[p] ^= 1 << (r() % 8); } return ["bit flips", b]; }
    case 1: { const p = at(); const n = 1 + (r() % 64); for (let i = p; i < Math.min(b.length, p + n); i++) b[i] = r() & 0xff; return ["random bytes", b]; }
    case 2: return ["truncated", b.subarray(0, r() % b.length)];
    case 3: return ["appended", Buffer.concat([b, Buffer.alloc(1 + (r() % 100), r() & 0xff)])];
    case 4: { // a header field set to a hostile value, checksum fixed so open must judge it
      const field = [16, 20, 24, 28][r() % 4];
      b.writeUInt32LE([0, 1, 0xffffffff, r(), b.readUInt32LE(field) + 1][r() % 5] >>> 0, field);
      fixHeader(b); return ["header field (checksum fixed)", b];
    }
    case 5: { // a cell set to a hostile value with a valid check
      const off = CELLS[r() % CELLS.length];
      cell(b, off, [0, 1, 0xffffffff, 0x7fffffff, r(), b.readUInt32LE(off) + 1][r() % 6]);
      return ["cell (check fixed)", b];
    }
    case 6: { // two slots swapped: out of order, checksums stale
      const slots = Math.floor((b.length - 128) / 8) - 1;
      const x = 128 + 8 * (r() % slots), y = 128 + 8 * (r() % slots);
      const t = Buffer.from(b.subarray(x, x + 8)); b.copy(b, x, y, y + 8); t.copy(b, y); return ["slots swapped", b];
    }
    case 7: { const p = 128 + (r() % Math.max(1, b.length - 128)); b.fill(0, p, Math.min(b.length, p + 8 * (1 + (r() % 600)))); return ["zeroed run", b]; }
    default: { const p = 128 + (r() % Math.max(1, b.length - 128)); b.fill(0xff, p, Math.min(b.length, p + 8 * (1 + (r() % 50)))); return ["emptied run", b]; }
  }
}

/**
 * Runs `cases` mutations of `goodPath` (an index built by the caller) with seed `seed` in
 * `dir`, using the package at `dist`. Returns { classes: {name: count}, violations: [...] }.
 */
function fuzz(dist, goodPath, dir, cases, seed) {
  const { IdIndex, IdWriter, IdxError, verify } = require(dist);
  const good = fs.readFileSync(goodPath);
  const r = rng(seed);
  const classes = {};
  const violations = [];
  const count = (name) => (classes[name] = (classes[name] || 0) + 1);
  const isAnswer = (v) => v === undefined || (typeof v === "number" && v >>> 0 === v);
  const file = path.join(dir, "fuzz.idx");
  for (let c = 0; c < cases; c++) {
    const [kind, bytes] = mutate(good, r);
    fs.writeFileSync(file, bytes);
    const where = `case ${c} (${kind})`;
    const typed = (e, what) => {
      if (!(e instanceof IdxError)) violations.push(`${where}: ${what} threw ${e && e.stack ? e.stack.split("\n")[0] : String(e)}`);
      return e && e.code;
    };
    let before;
    try {
      before = verify(file);
    } catch (e) {
      count(`verify threw ${typed(e, "verify")}`);
      continue;
    }
    let ix;
    try {
      ix = IdIndex.open(file);
    } catch (e) {
      count(`${kind}: refused at open (${typed(e, "open")})`);
      if (before.ok) violations.push(`${where}: open refused a file verify accepts`);
      continue;
    }
    try {
      for (let k = 0; k < 60; k++) {
        const key = (r() % 3 === 0) ? r() : k * 13;
        const v = ix.get(key);
        if (!isAnswer(v)) violations.push(`${where}: get(${key}) = ${v}`);
        if (typeof ix.has(key) !== "boolean") violations.push(`${where}: has not boolean`);
      }
      const keys = Uint32Array.from({ length: 300 }, (_, i) => (i % 2 ? r() : i * 7));
      const hits = ix.getMany(keys, new Uint32Array(keys.length), new Uint8Array(keys.length));
      if (!(hits >= 0 && hits <= keys.length)) violations.push(`${where}: getMany hits ${hits}`);
      let n = 0;
      const limit = bytes.length / 8 + 2;
      for (const [k, v] of ix) if (!isAnswer(k) || !isAnswer(v) || ++n > limit) { violations.push(`${where}: iteration`); break; }
      void ix.size;
      void ix.info();
      count(`${kind}: opened, verify ${before.ok ? "ok" : "reports damage"}`);
    } catch (e) {
      count(`${kind}: a read threw ${typed(e, "a read")}`);
    } finally {
      ix.close();
    }
    // The writer: it may refuse, or apply the changes; it may never launder damage.
    let w;
    try {
      w = IdWriter.open(file, { sync: false, create: false });
    } catch (e) {
      count(`writer refused at open (${typed(e, "writer open")})`);
      continue;
    }
    let wrote = true;
    try {
      for (let k = 0; k < 20; k++) {
        if (k % 3 === 2) w.delete(k * 13);
        else w.set((r() % 2) ? r() : k * 13, r());
      }
      if (r() % 4 === 0) w.compact();
    } catch (e) {
      wrote = false;
      count(`writer refused a change (${typed(e, "a write")})`);
    } finally {
      try { w.close(); } catch (e) { typed(e, "writer close"); }
    }
    const after = verify(file);
    if (!before.ok && after.ok && !before.interrupted) {
      violations.push(`${where}: the writer laundered damage (verify failed before: ${before.problems[0].message.split("\n")[0]}; passes after)`);
    }
    if (wrote) count(`writer applied its changes; verify ${after.ok ? "ok" : "still reports damage"}`);
  }
  return { classes, violations };
}

module.exports = { fuzz, mutate };
