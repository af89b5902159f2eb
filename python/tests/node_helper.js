"use strict";
/**
 * The Node side of idxmap's cross tests: runs the idx package (dist/index.js, what users load)
 * on files the Python tests give it, and prints one JSON line.
 *
 *   node node_helper.js DIST COMMAND ARGS...
 *
 *   hash KEYS.bin CAP...          {hashes, unhashes, homes: {cap: [...]}} of each key
 *   build PAIRS.bin OUT.idx...    builds each OUT from its pairs (last wins), {counts}
 *   dump INDEX OUT.bin...         every pair of each INDEX in iteration order into its OUT.bin,
 *                                 {counts}
 *   check INDEX PAIRS.bin MISSES.bin...
 *                                 get/has/getMany/iteration/size/verify of each INDEX against
 *                                 its pairs and misses, [{ok, errors}]
 *   open FILE...                  [{ok, code, message}] of IdIndex.open for each file
 *   verify FILE...                [report] of verify() for each file
 *   parse OUT TEXT...             buildFromText of each TEXT file into OUT: [{ok, code, message}]
 *   writer INDEX SEED KEYS SECONDS
 *                                 an IdWriter changing INDEX for SECONDS (sets, deletes,
 *                                 growth, compaction); see python/tests/test_concurrency.py
 *   hold INDEX [WAIT_MS]          opens an IdWriter on INDEX (waiting up to WAIT_MS for
 *                                 another writer), prints "locked", waits for a line on stdin,
 *                                 closes
 *   reader INDEX KEYS SECONDS     reads INDEX for SECONDS beside a writer that tags every value
 *                                 with its key (writer_helper.py churn): get, getMany and
 *                                 iteration; every value must be one the key held, its
 *                                 generation never going back; {ok, checked, errors}
 *   ops INDEX OPS.json [PROGRESS] applies the operations of OPS.json to INDEX with an IdWriter
 *                                 (sync off): ["set", k, v], ["del", k], ["update", [[k, v],
 *                                 ...]], ["compact"], ["clear"], ["reopen"], a number past
 *                                 2^53 as a decimal string; {ok, size}. With
 *                                 PROGRESS, the operations done so far are counted in its first
 *                                 8 bytes; with IDXMAP_KILL_AT=N in the environment, the process
 *                                 SIGKILLs itself right after the writer's Nth store (a cell, a
 *                                 slot, a value, a checksum, through the addon; a rename), as
 *                                 writer_helper.py does
 *   kill-during INDEX OPS.json    as ops, but never closes the writer: the caller kills it
 *                                 (prints "started" first, "done" after the last operation)
 *
 * .bin files are little-endian uint32 words: key, value, key, value, ... (KEYS/MISSES: keys).
 */
const fs = require("node:fs");
const path = require("node:path");

const [dist, command, ...args] = process.argv.slice(2);
const idx = require(path.join(dist, "index.js"));

function words(file) {
  const raw = fs.readFileSync(file);
  return new Uint32Array(raw.buffer, raw.byteOffset, raw.length / 4).slice();
}

function writeWords(file, u32) {
  fs.writeFileSync(file, Buffer.from(u32.buffer, u32.byteOffset, u32.byteLength));
}

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms) => Atomics.wait(sleepCell, 0, 0, ms);

/** mulberry32 (as test/helpers/spec.js). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * The values the writer gives key k: its generation g (< 2^20) under a 12-bit tag of the key,
 * so a reader can tell a value the key held from anything else (another key's value, a torn
 * slot, a stale reach).
 */
function tagOf(k) {
  return (Math.imul(k, 2654435761) >>> 20) & 0xfff;
}
function valueOf(k, g) {
  return ((tagOf(k) << 20) | (g & 0xfffff)) >>> 0;
}

function check(indexPath, pairsPath, missesPath) {
  const pairs = words(pairsPath);
  const misses = words(missesPath);
  const ix = idx.IdIndex.open(indexPath);
  const errors = [];
  const n = pairs.length / 2;
  const expected = new Map();
  for (let i = 0; i < n; i++) expected.set(pairs[2 * i], pairs[2 * i + 1]);
  if (ix.size !== expected.size) errors.push(`size ${ix.size}, expected ${expected.size}`);
  const keys = new Uint32Array(expected.size + misses.length);
  let j = 0;
  for (const [k, v] of expected) {
    keys[j++] = k;
    if (ix.get(k) !== v && errors.length < 10) errors.push(`get(${k}) = ${ix.get(k)}, expected ${v}`);
  }
  for (const k of misses) {
    keys[j++] = k;
    if (ix.has(k) && errors.length < 10) errors.push(`has(${k}) for a miss`);
  }
  const values = new Uint32Array(keys.length);
  const found = new Uint8Array(keys.length);
  ix.getMany(keys, values, found);
  for (let i = 0; i < keys.length && errors.length < 20; i++) {
    const want = i < expected.size ? expected.get(keys[i]) : undefined;
    if ((want === undefined) !== (found[i] === 0) || (want !== undefined && values[i] !== want)) {
      errors.push(`getMany key ${keys[i]}: ${values[i]}/${found[i]}, expected ${want}`);
    }
  }
  let iterated = 0;
  for (const [k, v] of ix) {
    iterated++;
    if (expected.get(k) !== v && errors.length < 20) errors.push(`iteration yields [${k}, ${v}]`);
  }
  if (iterated !== expected.size) errors.push(`iteration yields ${iterated} entries`);
  const report = ix.verify();
  if (!report.ok) errors.push(`verify: ${JSON.stringify(report.problems.slice(0, 3))}`);
  ix.close();
  return { ok: errors.length === 0, errors };
}

async function main() {
  switch (command) {
    case "hash": {
      const keys = words(args[0]);
      const caps = args.slice(1).map(Number);
      const hashes = Array.from(keys, (k) => idx.hash32(k));
      const homes = {};
      for (const c of caps) homes[c] = hashes.map((h) => idx.homeSlot(h, c));
      out({ hashes, unhashes: hashes.map((h) => idx.unhash32(h)), homes });
      return;
    }
    case "build": {
      // PAIRS OUT [PAIRS OUT ...]
      const counts = [];
      for (let a = 0; a < args.length; a += 2) {
        const w = words(args[a]);
        const keys = new Uint32Array(w.length / 2);
        const values = new Uint32Array(w.length / 2);
        for (let i = 0; i < keys.length; i++) {
          keys[i] = w[2 * i];
          values[i] = w[2 * i + 1];
        }
        counts.push((await idx.build({ keys, values }, args[a + 1], { sync: false })).count);
      }
      out({ counts });
      return;
    }
    case "dump": {
      // INDEX OUT [INDEX OUT ...]
      const counts = [];
      for (let a = 0; a < args.length; a += 2) {
        const ix = idx.IdIndex.open(args[a]);
        const pairs = [];
        for (const [k, v] of ix) pairs.push(k, v);
        ix.close();
        writeWords(args[a + 1], Uint32Array.from(pairs));
        counts.push(pairs.length / 2);
      }
      out({ counts });
      return;
    }
    case "check": {
      // INDEX PAIRS MISSES [INDEX PAIRS MISSES ...]
      const results = [];
      for (let a = 0; a < args.length; a += 3) results.push(check(args[a], args[a + 1], args[a + 2]));
      out(results);
      return;
    }
    case "open": {
      out(args.map((file) => {
        try {
          const ix = idx.IdIndex.open(file);
          const size = ix.size;
          ix.close();
          return { ok: true, size };
        } catch (e) {
          return { ok: false, code: e.code, message: e.message };
        }
      }));
      return;
    }
    case "verify": {
      out(args.map((file) => {
        try {
          return idx.verify(file);
        } catch (e) {
          return { ok: false, code: e.code, message: e.message };
        }
      }));
      return;
    }
    case "parse": {
      // OUT TEXT... : builds each text file into OUT; the error of each bad one
      const results = [];
      for (const file of args.slice(1)) {
        try {
          await idx.buildFromText(file, args[0], { sync: false });
          results.push({ ok: true });
        } catch (e) {
          results.push({ ok: false, code: e.code, message: e.message });
        }
      }
      out(results);
      return;
    }
    case "writer": {
      const [file, seedText, keysText, secondsText] = args;
      const r = rng(Number(seedText));
      const keyCount = Number(keysText);
      // Stable keys are set at the start and never deleted; churn keys come and go, and their
      // insertions make the table grow (a rehash into a new file, the old one retired).
      const stable = Array.from({ length: keyCount }, (_, i) => (i * 2654435761 + 7) >>> 0);
      const churn = Array.from({ length: keyCount * 4 }, (_, i) => (i * 40503 + 0x9e3779b9) >>> 0);
      const gen = new Map();
      const w = idx.IdWriter.open(file, { sync: false });
      const inode0 = fs.statSync(file).ino;
      let ops = 0, swaps = 0, compactions = 0, lastIno = inode0;
      const started = Date.now();
      const live = new Set();
      try {
        while (Date.now() - started < Number(secondsText) * 1000) {
          const pick = r() % 100;
          if (pick < 45) {
            const k = stable[r() % stable.length];
            const g = (gen.get(k) ?? 0) + 1;
            gen.set(k, g);
            w.set(k, valueOf(k, g));
          } else if (pick < 75) {
            const k = churn[r() % churn.length];
            const g = (gen.get(k) ?? 0) + 1;
            gen.set(k, g);
            w.set(k, valueOf(k, g));
            live.add(k);
          } else if (pick < 99) {
            const k = churn[r() % churn.length];
            if (live.has(k)) {
              w.delete(k);
              live.delete(k);
            }
          } else if (r() % 20 === 0) {
            w.compact();
            compactions++;
          }
          ops++;
          const ino = (ops & 63) === 0 ? fs.statSync(file).ino : lastIno;
          if (ino !== lastIno) {
            swaps++;
            lastIno = ino;
          }
          if ((ops & 255) === 0) sleep(1);
        }
      } finally {
        w.close();
      }
      out({ ok: true, ops, swaps, compactions, size: live.size + stable.length });
      return;
    }
    case "ops":
    case "kill-during": {
      const [file, opsFile, progressFile] = args;
      // A number past 2^53 comes as a string (JSON numbers are doubles here): a bigint.
      const id = (x) => (typeof x === "string" ? BigInt(x) : x);
      const ops = JSON.parse(fs.readFileSync(opsFile, "utf8"));
      const killAt = Number(process.env.IDXMAP_KILL_AT ?? 0);
      let stores = 0;
      if (killAt > 0) {
        const counted = (obj, name) => {
          const real = obj[name];
          obj[name] = function (...a) {
            const r = real.apply(this, a);
            if (++stores === killAt) process.kill(process.pid, "SIGKILL");
            return r;
          };
        };
        const addon = require(path.join(dist, "os", "native.js")).nativeAddon();
        for (const name of ["storeCell", "store8", "store4", "copy8"]) counted(addon, name);
        counted(fs, "renameSync");
      }
      const progress = progressFile ? fs.openSync(progressFile, "r+") : null;
      const done = Buffer.alloc(8);
      let w = idx.IdWriter.open(file, { sync: false });
      if (command === "kill-during") process.stdout.write("started\n");
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i];
        switch (op[0]) {
          case "set": w.set(id(op[1]), id(op[2])); break;
          case "del": w.delete(id(op[1])); break;
          case "update": w.update(op[1].map(([k, v]) => [id(k), id(v)])); break;
          case "compact": w.compact(); break;
          case "clear": w.clear(); break;
          case "reopen": w.close(); w = idx.IdWriter.open(file, { sync: false }); break;
          default: throw new Error(`unknown op ${op[0]}`);
        }
        if (progress !== null) {
          done.writeBigUInt64LE(BigInt(i + 1));
          fs.writeSync(progress, done, 0, 8, 0);
        }
      }
      if (command === "kill-during") {
        process.stdout.write("done\n");
        await new Promise(() => {}); // until killed
      }
      const size = w.size;
      w.close();
      out({ ok: true, size, stores });
      return;
    }
    case "reader": {
      const [file, keysText, secondsText] = args;
      const keyCount = Number(keysText);
      const stable = Array.from({ length: keyCount }, (_, i) => (i * 2654435761 + 7) >>> 0);
      const churn = Array.from({ length: keyCount * 4 }, (_, i) => (i * 40503 + 0x9e3779b9) >>> 0);
      const all = Uint32Array.from([...stable, ...churn]);
      const gen = new Map();
      const errors = [];
      let checked = 0;
      const see = (k, v, mustExist) => {
        checked++;
        if (v === undefined) {
          if (mustExist && errors.length < 10) errors.push(`key ${k} missing`);
          return;
        }
        if (v >>> 20 !== tagOf(k)) {
          if (errors.length < 10) errors.push(`key ${k} = ${v}: not a value it ever held`);
          return;
        }
        const g = v & 0xfffff;
        if (g < (gen.get(k) ?? 0) && errors.length < 10) errors.push(`key ${k} went back from ${gen.get(k)} to ${g}`);
        gen.set(k, g);
      };
      const ix = idx.IdIndex.open(file);
      const values = new Uint32Array(all.length);
      const found = new Uint8Array(all.length);
      const started = Date.now();
      let rounds = 0;
      while (Date.now() - started < Number(secondsText) * 1000) {
        rounds++;
        for (let i = rounds % 7; i < stable.length; i += 7) see(stable[i], ix.get(stable[i]), true);
        for (let i = rounds % 11; i < churn.length; i += 11) see(churn[i], ix.get(churn[i]), false);
        ix.getMany(all, values, found);
        for (let i = 0; i < all.length; i++) see(all[i], found[i] ? values[i] : undefined, i < stable.length);
        if (rounds % 5 === 0) for (const [k, v] of ix) if (v >>> 20 !== tagOf(k) && errors.length < 10) errors.push(`iteration: ${k} = ${v}`);
      }
      ix.close();
      out({ ok: errors.length === 0, checked, rounds, errors });
      return;
    }
    case "hold": {
      const w = idx.IdWriter.open(args[0], { sync: false, wait: Number(args[1] ?? 0) });
      process.stdout.write("locked\n");
      await new Promise((resolve) => process.stdin.once("data", resolve));
      w.close();
      process.stdout.write("closed\n");
      process.exit(0);
      return;
    }
    default:
      throw new Error(`unknown command ${command}`);
  }
}

main().catch((e) => {
  out({ ok: false, error: `${e && e.code ? e.code + ": " : ""}${e && e.message}` });
  process.exitCode = 1;
});
