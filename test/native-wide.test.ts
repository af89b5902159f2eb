/**
 * The addon's version 3 loops (native/lookup.c getManyWide and formatPairsWide, spec §16) over
 * files the TS writer made in all three width combinations (64/32, 32/64, 64/64), called
 * directly on a mapping (the JS reader does not read version 3 yet), against a Map model and an
 * independent probe of the file's bytes written from the spec: answers, hits, stops, the dump's
 * text across calls, and every refusal a hostile caller can provoke. Last, the same files through
 * IdIndex (src/reader), whose getMany and dump call these two.
 */
import { closeSync, copyFileSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdIndex, IdWriter } from "../src/index";
import { Mapping, headerOf, openMapping } from "../src/os/mapping";
import { NativeAddon, requireNativeAddon } from "../src/os/native";
import { SPEC_ESCAPED_KEY, rng, specHash } from "./helpers/keys";
import { ADDON, makeTempDir, removeTempDirs } from "./helpers/tmp";

type Width = 32 | 64;

const MAX32 = 0xffffffffn;
const MAX64 = 0xffffffffffffffffn;
const ESCAPED64 = 12140293084747745066n;
const HEADER = 128;
/** §16.1: packed slots, the hash word then the value: 12 bytes (64/32, 32/64) or 16 (64/64). */
const slotBytes = (keyBits: number, valueBits: number) => (keyBits + valueBits) / 8;

/** §16.3's hash64, written out again from the spec over the spec's fmix32 (test/helpers/spec.js). */
function specHash64(key: bigint): bigint {
  let hi = Number(key >> 32n);
  let lo = Number(key & MAX32);
  lo = (lo ^ specHash((hi ^ 0x9e3779b9) >>> 0)) >>> 0;
  hi = (hi ^ specHash((lo ^ 0x85ebca77) >>> 0)) >>> 0;
  lo = (lo ^ specHash((hi ^ 0xc2b2ae3d) >>> 0)) >>> 0;
  hi = (hi ^ specHash((lo ^ 0x27d4eb2f) >>> 0)) >>> 0;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** A key's hash word at a key width, or null for a key wider than the width. */
function hashAt(key: bigint, keyBits: Width): bigint | null {
  if (keyBits === 64) return specHash64(key);
  return key > MAX32 ? null : BigInt(specHash(Number(key)));
}

const emptyOf = (keyBits: Width): bigint => (keyBits === 64 ? MAX64 : MAX32);
const escapedOf = (keyBits: Width): bigint => (keyBits === 64 ? ESCAPED64 : BigInt(SPEC_ESCAPED_KEY));

/** A seeded source of u64s, spread over magnitudes (small, below 2^32, below 2^53, any). */
function u64s(seed: number): () => bigint {
  const r = rng(seed);
  return () => {
    const word = (BigInt(r()) << 32n) | BigInt(r());
    switch (r() % 4) {
      case 0: return word & 0xffffn;
      case 1: return word & MAX32;
      case 2: return word & ((1n << 53n) - 1n);
      default: return word;
    }
  };
}

/** A mapped version 3 file as the addon's calls take it. */
interface Table {
  path: string;
  mapping: Mapping;
  id: number;
  capacity: number;
  slotCount: number;
  reach: number;
  fileId: number;
  keyBits: Width;
  valueBits: Width;
}

function openTable(path: string): Table {
  const mapping = openMapping(path, {});
  const h = headerOf(mapping, path);
  expect(h.major).toBe(3);
  const fileId = new DataView(mapping.bytes(0, HEADER).slice().buffer).getUint32(12, true);
  return {
    path, mapping, id: mapping.id, capacity: h.capacity, slotCount: h.slotCount, reach: h.reach, fileId,
    keyBits: h.keyBits, valueBits: h.valueBits,
  };
}

/** What a probe of the file's bytes answers (§5.3, §16): the value, undefined, or "undecided". */
function refProbe(bytes: Buffer, t: Table, key: bigint, reach: number): bigint | undefined | "undecided" {
  const h = hashAt(key, t.keyBits);
  if (h === null) return undefined;
  if (h === emptyOf(t.keyBits)) {
    const escaped = (bytes.readUInt32LE(32) & (1 << 28)) !== 0;
    if (!escaped) return undefined;
    return BigInt(bytes.readUInt32LE(40)) | (t.valueBits === 64 ? BigInt(bytes.readUInt32LE(88)) << 32n : 0n);
  }
  const slot = slotBytes(t.keyBits, t.valueBits);
  const v = t.keyBits / 8;
  const hashWord = (s: number) => (t.keyBits === 64 ? bytes.readBigUInt64LE(HEADER + slot * s) : BigInt(bytes.readUInt32LE(HEADER + slot * s)));
  const valueWord = (s: number) => (t.valueBits === 64 ? bytes.readBigUInt64LE(HEADER + slot * s + v) : BigInt(bytes.readUInt32LE(HEADER + slot * s + v)));
  let s = Number((BigInt(Number(t.keyBits === 64 ? h >> 32n : h)) * BigInt(t.capacity)) >> 32n);
  const last = Math.min(s + reach, t.slotCount - 1);
  let word = hashWord(s);
  while (word < h && s < last) word = hashWord(++s);
  if (word === h) return valueWord(s);
  return word < h ? "undecided" : undefined;
}

const COMBOS: [Width, Width][] = [[64, 32], [32, 64], [64, 64]];

/** The model of a file of these widths: random pairs, the edges, and the escaped key. */
function modelOf(keyBits: Width, valueBits: Width, n: number, seed: number): Map<bigint, bigint> {
  const key = u64s(seed);
  const value = u64s(seed + 1000);
  const keyMask = keyBits === 64 ? MAX64 : MAX32;
  const valueMask = valueBits === 64 ? MAX64 : MAX32;
  const model = new Map<bigint, bigint>();
  while (model.size < n) model.set(key() & keyMask, value() & valueMask);
  model.set(0n, 17n);
  model.set(keyMask, valueMask); // 2^64 - 1 (or 2^32 - 1) -> the largest value: widens a 32/64 file
  model.set(escapedOf(keyBits), valueBits === 64 ? 0xfedcba9876543210n : 0xabcdef01n);
  if (keyBits === 64) model.set(1n << 40n, 5n);
  if (valueBits === 64) model.set(1n, 1n << 63n);
  return model;
}

function writeFile(path: string, model: Map<bigint, bigint>, keyBits: Width, valueBits: Width): void {
  const w = IdWriter.open<bigint | number, bigint | number>(path, { sync: false });
  try {
    w.update({ keys: [...model.keys()], values: [...model.values()] });
    expect([w.keyBits, w.valueBits, w.size]).toEqual([keyBits, valueBits, model.size]);
  } finally {
    w.close();
  }
}

/** Keys to ask: every key of the model, absent ones, the edges and both escaped keys, shuffled. */
function queriesOf(model: Map<bigint, bigint>, seed: number): bigint[] {
  const more = u64s(seed);
  const keys = [...model.keys()];
  for (let i = 0; i < 2000; i++) {
    const k = more();
    if (!model.has(k)) keys.push(k);
  }
  keys.push(0n, MAX32, MAX32 + 1n, MAX64, MAX64 - 1n, ESCAPED64, BigInt(SPEC_ESCAPED_KEY), 1n << 40n);
  const r = rng(seed + 7);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = r() % (i + 1);
    [keys[i], keys[j]] = [keys[j], keys[i]];
  }
  return keys;
}

/** The model's answer for a key asked of a file of keyBits: a wider key is absent. */
function expected(model: Map<bigint, bigint>, keyBits: Width, key: bigint): bigint | undefined {
  return keyBits === 32 && key > MAX32 ? undefined : model.get(key);
}

interface Call {
  keys: Uint32Array | BigUint64Array;
  values: Uint32Array | BigUint64Array;
  found: Uint8Array | null;
  missing: number | bigint;
  result: Float64Array;
}

/**
 * getManyWide over keys[from..to), with outputs prefilled so that writes outside it show. The
 * reach is the whole table unless given: a miss may use up the file's own reach (see the reach test).
 */
function getMany(addon: NativeAddon, t: Table, keys: bigint[], options: {
  wideKeys: boolean; found: boolean; missing: bigint; from: number; to: number; reach?: number; dead?: number; fileId?: number;
}): Call {
  const n = keys.length;
  const call: Call = {
    keys: options.wideKeys ? BigUint64Array.from(keys) : Uint32Array.from(keys, Number),
    values: t.valueBits === 64 ? new BigUint64Array(n).fill(0x5a5an) : new Uint32Array(n).fill(0x5a5a),
    found: options.found ? new Uint8Array(n).fill(7) : null,
    missing: t.valueBits === 64 ? options.missing : Number(options.missing),
    result: new Float64Array(2),
  };
  addon.getManyWide(t.id, t.capacity, t.slotCount, options.reach ?? t.slotCount - 1, options.dead ?? -1, options.fileId ?? t.fileId,
    t.keyBits, t.valueBits, call.keys, call.values, call.found, call.missing, options.from, options.to, call.result);
  return call;
}

/** Checks a call's answers for keys[from..stop) against `answer`, and that nothing else was written. */
function expectAnswers(call: Call, keys: bigint[], from: number, stop: number, to: number, missing: bigint,
  answer: (k: bigint) => bigint | undefined): number {
  const wrong: string[] = [];
  let hits = 0;
  for (let i = 0; i < keys.length; i++) {
    const got = BigInt(call.values[i]);
    const flag = call.found === null ? null : call.found[i];
    if (i < from || i >= to) {
      if (got !== 0x5a5an || (flag !== null && flag !== 7)) wrong.push(`index ${i} outside ${from}..${to} was written`);
      continue;
    }
    if (i >= stop) continue; // the chunk it stopped in may have been written: the caller asks again
    const want = answer(keys[i]);
    if (want !== undefined) hits++;
    if (got !== (want ?? missing)) wrong.push(`key ${keys[i]}: ${got}, expected ${want ?? `missing ${missing}`}`);
    if (flag !== null && flag !== (want === undefined ? 0 : 1)) wrong.push(`key ${keys[i]}: found ${flag}`);
  }
  expect(wrong.slice(0, 10)).toEqual([]);
  return hits;
}

/** expectAnswers over the whole of a call's keys (every index answered). */
function expectAnswersFrom(call: Call, keys: bigint[], missing: bigint, answer: (k: bigint) => bigint | undefined): number {
  const wrong: string[] = [];
  let hits = 0;
  keys.forEach((k, i) => {
    const want = answer(k);
    if (want !== undefined) hits++;
    if (BigInt(call.values[i]) !== (want ?? missing)) wrong.push(`key ${k}: ${call.values[i]}, expected ${want ?? `missing ${missing}`}`);
    if (call.found !== null && call.found[i] !== (want === undefined ? 0 : 1)) wrong.push(`key ${k}: found ${call.found[i]}`);
  });
  expect(wrong.slice(0, 10)).toEqual([]);
  return hits;
}

/** An error the addon threw: ERR_IDX_INVALID_ARGUMENT, its message matching `message`. */
function expectInvalid(f: () => unknown, message: RegExp): void {
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error, `expected ${message} to be thrown`).toBeInstanceOf(Error);
  expect((error as { code?: string }).code).toBe("ERR_IDX_INVALID_ARGUMENT");
  expect((error as Error).message).toMatch(message);
}

let dir: string;
beforeAll(() => {
  dir = makeTempDir("idx-native-wide-");
});
afterAll(removeTempDirs);

describe("the test's own hash64 (from the spec) agrees with §16.3's vectors", () => {
  it("keys 0, 2^32 - 1, 2^64 - 1 and the escaped key", () => {
    expect(specHash64(0n)).toBe(0x1da68f5adb2b2683n);
    expect(specHash64(4294967295n)).toBe(0xcf47b1d9ad1aacb2n);
    expect(specHash64(MAX64)).toBe(0x21c02abe7e92712dn);
    expect(specHash64(ESCAPED64)).toBe(MAX64);
  });
});

describe.runIf(ADDON)("getManyWide and formatPairsWide on version 3 files", () => {
  let addon: NativeAddon;
  const files = new Map<string, { path: string; model: Map<bigint, bigint>; queries: bigint[] }>();
  const open: Table[] = [];
  const table = (path: string): Table => {
    const t = openTable(path);
    open.push(t);
    return t;
  };

  beforeAll(() => {
    addon = requireNativeAddon("these tests");
    for (const [keyBits, valueBits] of COMBOS) {
      const name = `${keyBits}/${valueBits}`;
      const path = join(dir, `wide-${keyBits}-${valueBits}.idx`);
      const model = modelOf(keyBits, valueBits, 3000, keyBits + valueBits);
      writeFile(path, model, keyBits, valueBits);
      files.set(name, { path, model, queries: queriesOf(model, keyBits * 3 + valueBits) });
    }
  });
  afterAll(() => {
    for (const t of open.splice(0)) t.mapping.release();
  });

  for (const [keyBits, valueBits] of COMBOS) {
    const name = `${keyBits}/${valueBits}`;

    describe(`keys ${keyBits} bits, values ${valueBits} bits`, () => {
      it("the file is what the model says, by the test's own probe of its bytes", () => {
        const { path, model, queries } = files.get(name)!;
        const t = table(path);
        expect([t.keyBits, t.valueBits]).toEqual([keyBits, valueBits]);
        // Runs long enough that the batch loop's eight-slot scan without bound checks is taken
        // (probe.h idx_wide_scan: a reach of 8 or more), and, below in the reach loop, not.
        expect(t.reach).toBeGreaterThanOrEqual(8);
        const bytes = readFileSync(path);
        const wrong = queries.filter((k) => refProbe(bytes, t, k, t.slotCount - 1) !== expected(model, keyBits, k));
        expect(wrong.slice(0, 5)).toEqual([]);
        // Within the file's reach every present key is found (§5.2 invariant 4); a miss may use
        // the reach up (undecided: the batch loop stops there, a writer may have raised it).
        const beyond = queries.filter((k) => {
          const got = refProbe(bytes, t, k, t.reach);
          return got !== expected(model, keyBits, k) && !(got === "undecided" && expected(model, keyBits, k) === undefined);
        });
        expect(beyond.slice(0, 5)).toEqual([]);
      });

      it("answers every key (BigUint64Array keys) as the model: present, absent, wider than the file's keys, 0, 2^64 - 1, the escaped key", () => {
        const { path, model, queries } = files.get(name)!;
        const t = table(path);
        for (const found of [true, false]) {
          for (const missing of [0n, valueBits === 64 ? MAX64 : MAX32, 123456789n]) {
            const call = getMany(addon, t, queries, { wideKeys: true, found, missing, from: 0, to: queries.length });
            expect(call.result[1]).toBe(queries.length);
            const hits = expectAnswers(call, queries, 0, queries.length, queries.length, missing, (k) => expected(model, keyBits, k));
            expect(call.result[0]).toBe(hits);
          }
        }
        expect(expected(model, keyBits, escapedOf(keyBits))).toBeDefined();
      });

      it("answers Uint32Array keys as the same keys widened", () => {
        const { path, model, queries } = files.get(name)!;
        const t = table(path);
        const narrow = queries.filter((k) => k <= MAX32);
        expect(narrow.length).toBeGreaterThan(1000);
        const call = getMany(addon, t, narrow, { wideKeys: false, found: true, missing: 9n, from: 0, to: narrow.length });
        expect(call.result[1]).toBe(narrow.length);
        expect(call.result[0]).toBe(expectAnswers(call, narrow, 0, narrow.length, narrow.length, 9n, (k) => model.get(k)));
      });

      it("answers only keys[from..to), for ranges that end inside chunks and at their edges", () => {
        const { path, model, queries } = files.get(name)!;
        const t = table(path);
        const n = queries.length;
        expect(n % 64).not.toBe(0);
        const ranges: [number, number][] = [[0, 0], [0, 1], [0, 63], [0, 64], [0, 65], [64, 128], [13, n - 7], [n - 1, n], [n, n], [100, 101]];
        for (const [from, to] of ranges) {
          for (const wideKeys of [true, false]) {
            const keys = wideKeys ? queries : queries.map((k) => k & MAX32);
            const call = getMany(addon, t, keys, { wideKeys, found: true, missing: 3n, from, to });
            expect(call.result[1], `${from}..${to}`).toBe(to);
            expect(call.result[0]).toBe(expectAnswers(call, keys, from, to, to, 3n, (k) => expected(model, keyBits, k)));
          }
        }
      });

      it("stops before the first chunk when the identity word is not fileId, or seq is odd and not the dead writer's", () => {
        const { path, model, queries } = files.get(name)!;
        const copy = join(dir, `odd-${keyBits}-${valueBits}.idx`);
        copyFileSync(path, copy);
        const t = table(copy);
        const all = { wideKeys: true, found: true, missing: 0n, from: 100, to: queries.length };
        let call = getMany(addon, t, queries, { ...all, fileId: (t.fileId ^ 1) >>> 0 });
        expect([...call.result]).toEqual([0, 100]);
        // A writer mid-operation: seq odd in the file, seen through the mapping.
        const fd = openSync(copy, "r+");
        try {
          writeSync(fd, Uint32Array.of(7), 0, 4, 48);
          call = getMany(addon, t, queries, all);
          expect([...call.result]).toEqual([0, 100]);
          call = getMany(addon, t, queries, { ...all, dead: 9 });
          expect([...call.result]).toEqual([0, 100]);
          call = getMany(addon, t, queries, { ...all, dead: 7 });
          expect(call.result[1]).toBe(queries.length);
          expect(call.result[0]).toBe(expectAnswers(call, queries, 100, queries.length, queries.length, 0n, (k) => expected(model, keyBits, k)));
        } finally {
          closeSync(fd);
        }
      });

      it("stops before the first chunk whose probe used up a reach smaller than the file's (undecided)", () => {
        const { path, model, queries } = files.get(name)!;
        const t = table(path);
        const bytes = readFileSync(path);
        const from = 3;
        let stood = 0;
        for (let reach = 0; reach <= t.reach; reach++) {
          const firstUndecided = queries.findIndex((k, i) => i >= from && refProbe(bytes, t, k, reach) === "undecided");
          const stop = firstUndecided < 0 ? queries.length : from + Math.floor((firstUndecided - from) / 64) * 64;
          const call = getMany(addon, t, queries, { wideKeys: true, found: true, missing: 0n, from, to: queries.length, reach });
          expect(call.result[1], `reach ${reach}`).toBe(stop);
          expect(call.result[0]).toBe(expectAnswers(call, queries, from, stop, queries.length, 0n, (k) => expected(model, keyBits, k)));
          if (stop > from) stood++;
        }
        expect(stood).toBeGreaterThan(0); // some reach let whole chunks stand before the stop
      });

      it("a key set and deleted in place: the escaped key's value from the header, then absent", () => {
        const { model } = files.get(name)!;
        const path = join(dir, `escaped-${keyBits}-${valueBits}.idx`);
        writeFile(path, model, keyBits, valueBits);
        const escaped = escapedOf(keyBits);
        const keys = [escaped, 0n, escaped, 1n << 40n];
        const value = valueBits === 64 ? 0x123456789abcdef0n : 0x9abcdef0n;
        const w = IdWriter.open<bigint | number, bigint | number>(path, { sync: false });
        try {
          w.set(escaped, value);
          let t = table(path);
          let call = getMany(addon, t, keys, { wideKeys: true, found: true, missing: 1n, from: 0, to: keys.length });
          expect(call.result[0]).toBe(expectAnswers(call, keys, 0, 4, 4, 1n, (k) => (k === escaped ? value : expected(model, keyBits, k))));
          w.delete(escaped);
          t = table(path);
          call = getMany(addon, t, keys, { wideKeys: true, found: true, missing: 1n, from: 0, to: keys.length });
          expect(call.result[0]).toBe(expectAnswers(call, keys, 0, 4, 4, 1n, (k) => (k === escaped ? undefined : expected(model, keyBits, k))));
        } finally {
          w.close();
        }
      });

      it("formatPairsWide: the whole dump, across calls with small outputs, is the model's pairs in slot (hash) order", () => {
        const { path, model } = files.get(name)!;
        const t = table(path);
        const escaped = escapedOf(keyBits);
        const entries = [...model].filter(([k]) => k !== escaped).map(([k, v]) => ({ hash: hashAt(k, keyBits)!, k, v }));
        entries.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
        const want = entries.map((e) => `${e.k}\t${e.v}\n`).join("");
        const longest = (keyBits === 64 ? 20 : 10) + (valueBits === 64 ? 20 : 10) + 2;
        for (const size of [longest, 42, 43, 61, 100, 4096, 1 << 20]) {
          const { text, calls, marks } = dump(addon, t, size, [emptyOf(keyBits), 0n, 0n]);
          expect(text, `out of ${size} bytes`).toBe(want);
          if (size <= 100) expect(calls).toBeGreaterThan(model.size / 4);
          expect([...marks]).toEqual([emptyOf(keyBits), 1n, entries[entries.length - 1].hash]);
        }
      });

      it("formatPairsWide skips entries whose hash is <= marks[2] when marks[1] is 1, and only then", () => {
        const { path, model } = files.get(name)!;
        const t = table(path);
        const escaped = escapedOf(keyBits);
        const hashes = [...model.keys()].filter((k) => k !== escaped).map((k) => hashAt(k, keyBits)!).sort((a, b) => (a < b ? -1 : 1));
        const after = hashes[1000];
        const full = dump(addon, t, 4096, [emptyOf(keyBits), 0n, after]).text.split("\n").filter((l) => l !== "");
        expect(full.length).toBe(hashes.length);
        const skipped = dump(addon, t, 100, [emptyOf(keyBits), 1n, after]).text.split("\n").filter((l) => l !== "");
        expect(skipped).toEqual(full.slice(1001));
        const none = dump(addon, t, 100, [emptyOf(keyBits), 1n, emptyOf(keyBits)]);
        expect(none.text).toBe("");
        expect([...none.marks]).toEqual([emptyOf(keyBits), 1n, emptyOf(keyBits)]);
      });

      it("a tombstone (a slot repeating its predecessor's hash) is neither dumped nor answered; marks[0] decides for fromSlot", () => {
        const { path, model } = files.get(name)!;
        const copy = join(dir, `tombstone-${keyBits}-${valueBits}.idx`);
        copyFileSync(path, copy);
        const bytes = readFileSync(copy);
        const t = table(copy);
        const slot = slotBytes(keyBits, valueBits);
        const hashWord = (s: number) => (keyBits === 64 ? bytes.readBigUInt64LE(HEADER + slot * s) : BigInt(bytes.readUInt32LE(HEADER + slot * s)));
        let s = 1;
        while (!(hashWord(s) !== emptyOf(keyBits) && hashWord(s + 1) === emptyOf(keyBits))) s++;
        const fd = openSync(copy, "r+");
        try {
          // The tombstone: slot s + 1 repeats slot s's hash field, with another value.
          writeSync(fd, bytes, HEADER + slot * s, keyBits / 8, HEADER + slot * (s + 1));
          writeSync(fd, Buffer.from(BigUint64Array.of(99n).buffer), 0, valueBits / 8, HEADER + slot * (s + 1) + keyBits / 8);
        } finally {
          closeSync(fd);
        }
        const before = dump(addon, t, 4096, [emptyOf(keyBits), 0n, 0n]).text;
        expect(before.split("\n").length - 1).toBe(model.size - 1);
        const key = [...model.keys()].find((k) => hashAt(k, keyBits) === hashWord(s))!;
        const call = getMany(addon, t, [key], { wideKeys: true, found: true, missing: 0n, from: 0, to: 1 });
        expect([call.result[0], BigInt(call.values[0])]).toEqual([1, model.get(key)]);
        // From slot s + 1: with slot s's hash as marks[0], the tombstone is not an entry; with EMPTY it is.
        expect(dump(addon, t, 4096, [hashWord(s), 0n, 0n], s + 1).text).toBe(dump(addon, t, 4096, [emptyOf(keyBits), 0n, 0n], s + 2).text);
        expect(dump(addon, t, 4096, [emptyOf(keyBits), 0n, 0n], s + 1).text.split("\n")[0]).toBe(`${key}\t99`);
      });

      it("through IdIndex: getMany (BigUint64Array keys) and the dump's text, which run these two, answer as the model", () => {
        const { path, model, queries } = files.get(name)!;
        const ix = IdIndex.open<bigint | number, bigint | number>(path);
        // Counted, to show the reader took the addon's path.
        const calls = { getManyWide: 0, formatPairsWide: 0 };
        const { getManyWide, formatPairsWide } = addon;
        addon.getManyWide = (...args) => (calls.getManyWide++, getManyWide.apply(addon, args));
        addon.formatPairsWide = (...args) => (calls.formatPairsWide++, formatPairsWide.apply(addon, args));
        try {
          const n = queries.length;
          const keys = BigUint64Array.from(queries);
          const found = new Uint8Array(n);
          const values = valueBits === 64 ? new BigUint64Array(n) : new Uint32Array(n);
          const hits = valueBits === 64
            ? ix.getMany(keys, values as BigUint64Array, found, 5n)
            : ix.getMany(keys, values as Uint32Array, found, 5);
          const call: Call = { keys, values, found, missing: 5n, result: Float64Array.of(hits, n) };
          expect(hits).toBe(expectAnswersFrom(call, queries, 5n, (k) => expected(model, keyBits, k)));
          const escaped = escapedOf(keyBits);
          const entries = [...model].filter(([k]) => k !== escaped).sort(([a], [b]) => {
            const ha = hashAt(a, keyBits)!;
            const hb = hashAt(b, keyBits)!;
            return ha < hb ? -1 : ha > hb ? 1 : 0;
          });
          const text = Buffer.concat([...ix.exportChunks(false)]).toString();
          expect(text).toBe([[escaped, model.get(escaped)!], ...entries].map(([k, v]) => `${k}\t${v}\n`).join(""));
          expect(calls.getManyWide).toBeGreaterThan(0);
          expect(calls.formatPairsWide).toBeGreaterThan(0);
        } finally {
          addon.getManyWide = getManyWide;
          addon.formatPairsWide = formatPairsWide;
          ix.close();
        }
      });

      it("refuses, as ERR_IDX_INVALID_ARGUMENT, every argument of the wrong kind, range or size", () => {
        const { path } = files.get(name)!;
        const t = table(path);
        const n = 100;
        const keys = new BigUint64Array(n);
        const values = valueBits === 64 ? new BigUint64Array(n) : new Uint32Array(n);
        const missing = valueBits === 64 ? 0n : 0;
        const result = new Float64Array(2);
        type Args = Parameters<NativeAddon["getManyWide"]>;
        const good: Args = [t.id, t.capacity, t.slotCount, t.reach, -1, t.fileId, keyBits, valueBits, keys, values, null, missing, 0, n, result];
        const call = (change: Partial<Record<number, unknown>>) => () => {
          const args = [...good] as unknown[];
          for (const [i, v] of Object.entries(change)) args[Number(i)] = v;
          (addon.getManyWide as (...a: unknown[]) => void)(...args);
        };
        call({})();
        expect(result[1]).toBe(n);
        for (const bad of [new Float64Array(n), new Int32Array(n), new BigInt64Array(n), [1, 2], 5n, null]) {
          expectInvalid(call({ 8: bad }), /getManyWide: keys must be a Uint32Array or a BigUint64Array/);
        }
        const wrongValues = valueBits === 64 ? [new Uint32Array(n), new BigInt64Array(n), new Float64Array(n)] : [new BigUint64Array(n), new Int32Array(n)];
        for (const bad of wrongValues) {
          expectInvalid(call({ 9: bad }), new RegExp(`values \\(for ${valueBits}-bit values\\) must be a ${valueBits === 64 ? "BigUint64Array" : "Uint32Array"}`));
        }
        const short = valueBits === 64 ? new BigUint64Array(n - 1) : new Uint32Array(n - 1);
        expectInvalid(call({ 9: short }), /from 0 and to 100 must satisfy/);
        expectInvalid(call({ 10: new Uint8Array(n - 1) }), /from 0 and to 100 must satisfy/);
        expectInvalid(call({ 10: new Uint32Array(n) }), /found must be a Uint8Array/);
        expectInvalid(call({ 14: new Float64Array(1) }), /result needs 2 elements/);
        expectInvalid(call({ 13: n + 1 }), /must satisfy/);
        expectInvalid(call({ 12: 5, 13: 4 }), /must satisfy/);
        expectInvalid(call({ 12: -1 }), /from must be a whole number/);
        // Outputs sharing memory with the keys or with each other.
        const buf = new ArrayBuffer(16 * n + 64);
        const overValues = valueBits === 64 ? new BigUint64Array(buf, 8, n) : new Uint32Array(buf, 4, n);
        expectInvalid(call({ 8: new BigUint64Array(buf, 0, n), 9: overValues }), /must not share memory/);
        expectInvalid(call({ 9: overValues, 10: new Uint8Array(buf, 16, n) }), /must not share memory/);
        expectInvalid(call({ 8: new BigUint64Array(buf, 0, n), 14: new Float64Array(buf, 8, 2) }), /must not share memory/);
        expectInvalid(call({ 8: new Uint32Array(buf, 0, n), 10: new Uint8Array(buf, 396, n) }), /must not share memory/);
        // Widths.
        for (const [k, v] of [[32, 32], [16, 64], [64, 128], ["64", 64], [64, 0]]) {
          expectInvalid(call({ 6: k, 7: v }), /keyBits|valueBits/);
        }
        if (valueBits === 64) {
          for (const bad of [-1n, 1n << 64n, 5, "5", null]) expectInvalid(call({ 11: bad }), /missing \(for 64-bit values\) must be a bigint from 0n to 18446744073709551615n/);
        } else {
          for (const bad of [-1, 2 ** 32, 1.5, 5n, NaN]) expectInvalid(call({ 11: bad }), /missing \(for 32-bit values\) must be a (whole )?number/);
        }
        // The table against the mapping, and the protocol's numbers.
        expectInvalid(call({ 1: t.slotCount }), /capacity \d+ must be below slotCount/);
        expectInvalid(call({ 2: t.slotCount * 2 }), /a version 3 table of \d+ slots needs \d+ bytes, more than the \d+ the mapping holds/);
        expectInvalid(call({ 1: 2 ** 40, 2: 2 ** 40 + 1 }), /slotCount must be a whole number from 2 to 1099511627776/);
        expectInvalid(call({ 2: 2 ** 40 }), /more than the \d+ the mapping holds/);
        expectInvalid(call({ 3: t.slotCount }), /reach must be a whole number/);
        expectInvalid(call({ 4: -2 }), /dead must be/);
        expectInvalid(call({ 5: 2 ** 32 }), /fileId must be/);
        expectInvalid(call({ 0: 987654 }), /getManyWide: mapping 987654 is not open/);
      });

      it("formatPairsWide refuses marks, out and result of the wrong kind or size, bad widths and slots", () => {
        const { path } = files.get(name)!;
        const t = table(path);
        const result = new Float64Array(2);
        type Args = Parameters<NativeAddon["formatPairsWide"]>;
        const marks = BigUint64Array.of(emptyOf(keyBits), 0n, 0n);
        const good: Args = [t.id, t.capacity, t.slotCount, keyBits, valueBits, 0, marks, new Uint8Array(100), result];
        const call = (change: Partial<Record<number, unknown>>) => () => {
          const args = [...good] as unknown[];
          for (const [i, v] of Object.entries(change)) args[Number(i)] = v;
          (addon.formatPairsWide as (...a: unknown[]) => void)(...args);
        };
        call({})();
        marks.set([emptyOf(keyBits), 0n, 0n]);
        for (const bad of [new Float64Array(3), new BigInt64Array(3), [0n, 0n, 0n], null]) expectInvalid(call({ 6: bad }), /marks must be a BigUint64Array/);
        expectInvalid(call({ 6: new BigUint64Array(2) }), /marks needs 3 elements/);
        expectInvalid(call({ 6: BigUint64Array.of(0n, 2n, 0n) }), /marks must hold/);
        if (keyBits === 32) {
          expectInvalid(call({ 6: BigUint64Array.of(MAX32 + 1n, 0n, 0n) }), /marks must hold a hash word of 32-bit keys/);
          expectInvalid(call({ 6: BigUint64Array.of(0n, 1n, MAX32 + 1n) }), /marks must hold/);
        }
        expectInvalid(call({ 7: new Uint32Array(100) }), /out must be a Uint8Array/);
        expectInvalid(call({ 8: new Float64Array(1) }), /result 2/);
        const buf = new ArrayBuffer(256);
        expectInvalid(call({ 6: new BigUint64Array(buf, 0, 3), 7: new Uint8Array(buf, 16, 100) }), /must not share memory/);
        expectInvalid(call({ 7: new Uint8Array(buf, 0, 100), 8: new Float64Array(buf, 96, 2) }), /must not share memory/);
        expectInvalid(call({ 5: t.slotCount + 1 }), /fromSlot must be a whole number/);
        expectInvalid(call({ 5: 0.5 }), /fromSlot must be a whole number/);
        for (const [k, v] of [[32, 32], [8, 64], [64, 33]]) expectInvalid(call({ 3: k, 4: v }), /keyBits|valueBits/);
        expectInvalid(call({ 2: t.slotCount * 2 }), /more than the \d+ the mapping holds/);
        expectInvalid(call({ 1: 0 }), /capacity must be a whole number/);
        expect([...marks]).toEqual([emptyOf(keyBits), 0n, 0n]); // no refusal changed them
      });
    });
  }
});

/** formatPairsWide from `fromSlot` to the end, in calls of `size` bytes of out; checks each call's output is whole lines. */
function dump(addon: NativeAddon, t: Table, size: number, marks0: bigint[], fromSlot = 0) {
  const out = new Uint8Array(size);
  const marks = BigUint64Array.from(marks0);
  const result = new Float64Array(2);
  const decoder = new TextDecoder();
  let text = "";
  let calls = 0;
  for (let slot = fromSlot; slot < t.slotCount; calls++) {
    addon.formatPairsWide(t.id, t.capacity, t.slotCount, t.keyBits, t.valueBits, slot, marks, out, result);
    expect(result[0]).toBeGreaterThan(slot);
    const chunk = decoder.decode(out.subarray(0, result[1]));
    expect(chunk === "" || chunk.endsWith("\n")).toBe(true);
    expect(chunk.length).toBeLessThanOrEqual(size);
    text += chunk;
    slot = result[0];
  }
  return { text, calls, marks };
}
