/**
 * Spec §16: keys and values of 64 bits. The hash and its vectors, the exact home slot up to
 * 2^40, the writer widening (and what readers and iterations beside it see), the builder's
 * choice of widths, text and binary input, dump, info, and the count's high word.
 */
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { IdIndex, IdWriter, build, buildFromBinary, buildFromText, verify } from "../src/index";
import {
  CELL_ENTRIES, CELL_ENTRIES_HIGH, ESCAPED_KEY, ESCAPED_KEY_64, LAYOUT_V2, cellCheck, fileBytes, headerChecksumV3, layoutFor, readHeader, writeHeader,
} from "../src/core/format";
import { hash32, hash64, homeSlot, unhash32, unhash64 } from "../src/core/hash";
import { hashRecordsJs, hashScatterRecordsJs, hashSortRecordsJs, recordBucketBits, sortBucketJs, sortRecordsJs } from "../src/core/encode";
import { Id } from "../src/core/keys";
import { PairBuffer, PairCollector, splitWordsJs } from "../src/core/pairs";
import { BinaryPairParser, PairParser } from "../src/core/parse";
import { nativeAddon } from "../src/os/native";
import { spawnSync } from "node:child_process";
import { BIN, requireFreshBuild } from "./helpers/cli";
import { errorOf } from "./helpers/errors";
import { rng } from "./helpers/keys";
import { ADDON, makeTempDir, removeTempDirs, tempFilesIn } from "./helpers/tmp";

afterAll(removeTempDirs);
const NO_SYNC = { sync: false } as const;
const MAX_U64 = 2n ** 64n - 1n;

/** An id as the API gives it back: a number up to 2^53 - 1, a bigint above. */
function norm(x: bigint | number): Id {
  return typeof x === "bigint" && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x;
}

/** The §16.3 test-vector table, read from the spec. */
function specVectors64(): { key: bigint; hash: bigint; homes: [number, number][] }[] {
  const spec = readFileSync(join(__dirname, "..", "spec", "FORMAT.md"), "utf8");
  const section = spec.slice(spec.indexOf("### 16.3"), spec.indexOf("### 16.4"));
  const header = section.split("\n").find((l) => l.startsWith("| key |"))!;
  const capacities = [...header.matchAll(/capacity (\d+)/g)].map((m) => Number(m[1]));
  return section.split("\n").filter((l) => /^\| \d+ \| 0x/.test(l)).map((l) => {
    const cells = l.split("|").slice(1, -1).map((c) => c.trim());
    return { key: BigInt(cells[0]), hash: BigInt(cells[1]), homes: capacities.map((c, i) => [c, Number(cells[2 + i])] as [number, number]) };
  });
}

describe("§16.3 hash64: the spec's vectors, a bijection, the escaped key", () => {
  const vectors = specVectors64();
  it("the spec lists vectors for the edge keys (0, 2^32 - 1, 2^32, 2^53 - 1, 2^53, 2^64 - 1, the escaped key)", () => {
    const keys = vectors.map((v) => v.key);
    for (const k of [0n, 4294967295n, 4294967296n, 9007199254740991n, 9007199254740992n, MAX_U64, ESCAPED_KEY_64]) expect(keys).toContain(k);
  });
  for (const v of vectors) {
    it(`key ${v.key} -> 0x${v.hash.toString(16)} -> homes ${v.homes.map((h) => h[1]).join(", ")}`, () => {
      expect(hash64(v.key)).toBe(v.hash);
      expect(unhash64(v.hash)).toBe(v.key);
      for (const [capacity, home] of v.homes) expect(homeSlot(Number(v.hash >> 32n), capacity)).toBe(home);
    });
  }
  it("round-trips random keys, and only the escaped key hashes to EMPTY", () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (k) => unhash64(hash64(k)) === k && (hash64(k) === MAX_U64) === (k === ESCAPED_KEY_64)));
    expect(hash64(ESCAPED_KEY_64)).toBe(MAX_U64);
  });
});

describe("§16.2 the escaped key through the reader of each version 3 layout (its get takes the slow path)", () => {
  const dir = makeTempDir("idx-wide-escaped-");
  for (const [keyBits, valueBits] of [[64, 32], [64, 64], [32, 64]] as const) {
    it(`${keyBits}/${valueBits}: get, getOr and has of the escaped key, present and absent, beside other keys`, async () => {
      const escaped = keyBits === 64 ? ESCAPED_KEY_64 : BigInt(ESCAPED_KEY);
      const value = valueBits === 64 ? (1n << 60n) + 3n : 0xfffffff0n;
      const asGiven = (v: bigint): Id => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
      const withIt = join(dir, `with-${keyBits}-${valueBits}.idx`);
      const without = join(dir, `without-${keyBits}-${valueBits}.idx`);
      // The other keys hash low, so that the slot the escaped key's hash (all ones) would probe
      // from, the last home slot, is empty: a probe for that hash must not take it for the key's.
      const low = keyBits === 64 ? [unhash64(5n), unhash64(6n << 32n)] : [BigInt(unhash32(5)), BigInt(unhash32(6))];
      const keys = new BigUint64Array([escaped, ...low]);
      const values = new BigUint64Array([value, 7n, 9n]);
      await build({ keys, values }, withIt, { ...NO_SYNC, keyBits, valueBits });
      await build({ keys: keys.subarray(1), values: values.subarray(1) }, without, { ...NO_SYNC, keyBits, valueBits });
      const a = IdIndex.open<Id, Id>(withIt);
      const b = IdIndex.open<Id, Id>(without);
      try {
        for (const key of [escaped, asGiven(escaped)]) {
          expect([a.get(key), a.has(key), a.getOr(key, -1)]).toEqual([asGiven(value), true, asGiven(value)]);
          expect([b.get(key), b.has(key), b.getOr(key, -1)]).toEqual([undefined, false, -1]);
        }
        expect([a.get(low[0]), b.get(low[1]), a.has(low[1]), b.getOr(4n, -1)]).toEqual([7, 9, true, -1]);
      } finally {
        a.close();
        b.close();
      }
    });
  }
});

describe("§16.4 home(h) is exact for every version 3 capacity (below 2^40)", () => {
  it("matches exact integer arithmetic across the capacity range", () => {
    const caps = [1, 2, 1000, 2 ** 21, 2 ** 28, 2 ** 33, 2 ** 37 - 1, 2 ** 37, 2 ** 37 + 1, 123456789012, 2 ** 39 + 12345, 2 ** 40 - 9, 2 ** 40 - 1];
    const hashes = [0, 1, 0xfff, 0x1000, 0xfffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
    for (let i = 0; i < 500; i++) hashes.push(hash32(i));
    for (const c of caps) for (const h of hashes) expect(homeSlot(h, c)).toBe(Number((BigInt(h) * BigInt(c)) >> 32n));
  });
});

describe("§16.2 the header: widths under the checksum, the count's and the escaped value's high words", () => {
  it("writeHeader then readHeader gives back every field, for each version 3 layout, a count past 2^32 included", () => {
    for (const [kb, vb] of [[64, 32], [32, 64], [64, 64]] as const) {
      const layout = layoutFor(kb, vb);
      const bytes = new Uint8Array(128);
      const slotCount = 2 ** 34;
      const entries = kb === 64 ? 2 ** 33 + 5 : 2 ** 32 - 1;
      writeHeader(bytes, { capacity: 2 ** 34 - 8, slotCount, entries, escapedPresent: true, escapedValue: 7, escapedHigh: vb === 64 ? 9 : 0, reach: 3, layout });
      const h = readHeader(bytes, fileBytes(layout, slotCount), "x");
      expect([h.major, h.keyBits, h.valueBits, h.entries, h.escapedHigh, h.reach]).toEqual([3, kb, vb, entries, vb === 64 ? 9 : 0, 3]);
      // The widths are under the header checksum: a flipped width is a checksum error, not a misread.
      const flipped = bytes.slice();
      flipped[96] = kb === 64 ? 32 : 64;
      expect(errorOf(() => readHeader(flipped, fileBytes(layout, slotCount), "x")).code).toBe("ERR_IDX_CHECKSUM");
      // ... unless the checksum is fixed too: then rule 6a names the widths.
      const both = bytes.slice();
      both[96] = 32;
      both[97] = 32;
      new DataView(both.buffer).setUint32(12, headerChecksumV3(both), true);
      expect(errorOf(() => readHeader(both, 1 << 20, "x")).message).toContain("widths 32 and 32");
    }
  });
  it("the count's high word is a cell at 112 (its check covers it), and 120 is a reserved cell", () => {
    const bytes = new Uint8Array(128);
    writeHeader(bytes, { capacity: 7, slotCount: 16, entries: 3, escapedPresent: false, escapedValue: 0, reach: 0, layout: layoutFor(64, 32) });
    const v = new DataView(bytes.buffer);
    expect(v.getUint32(CELL_ENTRIES, true)).toBe(3);
    expect(v.getUint32(CELL_ENTRIES_HIGH + 4, true)).toBe(cellCheck(CELL_ENTRIES_HIGH, 0));
    v.setUint32(CELL_ENTRIES_HIGH, 1, true);
    expect(errorOf(() => readHeader(bytes, fileBytes(layoutFor(64, 32), 16), "x")).code).toBe("ERR_IDX_CHECKSUM");
  });
  it("a 32/32 map is still a version 2 file, byte for byte (the version 2 layout is unchanged)", async () => {
    const dir = makeTempDir("idx-wide-v2-");
    const pairs: [number, number][] = Array.from({ length: 1000 }, (_, i) => [i * 7919, i]);
    await build(pairs, join(dir, "a.idx"), NO_SYNC);
    await build(pairs, join(dir, "b.idx"), { ...NO_SYNC, keyBits: 32, valueBits: 32 });
    const a = readFileSync(join(dir, "a.idx"));
    expect(a.readUInt16LE(8)).toBe(2);
    expect(a.equals(readFileSync(join(dir, "b.idx")))).toBe(true);
    expect(layoutFor(32, 32)).toBe(LAYOUT_V2);
  });
});

describe.runIf(ADDON)("§16.5 the writer widens, and agrees with a Map through it", () => {
  const key = fc.oneof(
    fc.integer({ min: 0, max: 50 }),
    fc.constantFrom(0, 4294967295, 4294967296, ESCAPED_KEY, 9007199254740991),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(norm),
    fc.constantFrom(ESCAPED_KEY_64, MAX_U64),
  );
  const value = fc.oneof(fc.integer({ min: 0, max: 4294967295 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(norm), fc.constantFrom(0, MAX_U64, 2 ** 53 - 1, 2n ** 53n));
  const op = fc.oneof(
    fc.tuple(fc.constant("set" as const), key, value),
    fc.tuple(fc.constant("delete" as const), key, fc.constant(0)),
    fc.tuple(fc.constant("update" as const), fc.array(fc.tuple(key, value), { maxLength: 12 }), fc.constant(0)),
    fc.tuple(fc.constant("compact" as const), fc.constant(0), fc.constant(0)),
  );
  it("random set/delete/update/compact sequences over keys and values of every width", () => {
    const dir = makeTempDir("idx-wide-model-");
    let run = 0;
    fc.assert(fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const path = join(dir, `m${run++}.idx`);
      const w = IdWriter.open<Id, Id>(path, NO_SYNC);
      const model = new Map<Id, Id>();
      try {
        for (const [kind, a, b] of ops) {
          if (kind === "set") {
            w.set(a as Id, b as Id);
            model.set(a as Id, b as Id);
          } else if (kind === "delete") {
            expect(w.delete(a as Id)).toBe(model.delete(a as Id));
          } else if (kind === "update") {
            w.update(a as [Id, Id][]);
            for (const [k, v] of a as [Id, Id][]) model.set(k, v);
          } else {
            w.compact();
          }
        }
        const wideKeys = [...model.keys()].some((k) => typeof k === "bigint" || k > 4294967295);
        const wideValues = [...model.values()].some((v) => typeof v === "bigint" || v > 4294967295);
        if (wideKeys) expect(w.keyBits).toBe(64);
        if (wideValues) expect(w.valueBits).toBe(64);
        expect(w.size).toBe(model.size);
        expect(new Map(w)).toEqual(model);
        for (const [k, v] of model) expect(w.get(k)).toBe(v);
        const ix = IdIndex.open<Id, Id>(path);
        expect(ix.size).toBe(model.size);
        expect(new Map(ix)).toEqual(model);
        for (const [k, v] of model) expect(ix.get(k)).toBe(v);
        expect(ix.verify().ok).toBe(true);
        expect(w.equals(model)).toBe(true);
        ix.close();
      } finally {
        w.close();
      }
    }), { numRuns: 60 });
  });

  it("widening keys keeps every pair (the 32-bit escaped key becomes a key like any other) and readers follow", () => {
    const path = join(makeTempDir("idx-wide-keys-"), "w.idx");
    const w = IdWriter.open<Id, Id>(path, NO_SYNC);
    const model = new Map<Id, Id>();
    for (let i = 0; i < 3000; i++) {
      w.set(i * 104729, i);
      model.set(i * 104729, i);
    }
    w.set(ESCAPED_KEY, 1);
    model.set(ESCAPED_KEY, 1);
    const ix = IdIndex.open<Id, Id>(path);
    expect([ix.keyBits, ix.valueBits]).toEqual([32, 32]);
    w.set(2n ** 63n, 5);
    model.set(2n ** 63n, 5);
    expect([w.keyBits, w.valueBits]).toEqual([64, 32]);
    for (const [k, v] of model) expect(ix.get(k)).toBe(v);
    expect([ix.keyBits, ix.valueBits]).toEqual([64, 32]);
    expect(readFileSync(path).readUInt16LE(8)).toBe(3);
    w.set(1, 2n ** 64n - 1n);
    model.set(1, MAX_U64);
    expect(ix.get(1)).toBe(MAX_U64);
    expect(ix.info()).toMatchObject({ keyBits: 64, valueBits: 64, version: "3.0", count: model.size });
    ix.close();
    w.close();
  });

  it("a value or key out of range is refused with ERR_IDX_INVALID_ARGUMENT, the index unchanged", () => {
    const path = join(makeTempDir("idx-wide-bad-"), "w.idx");
    const w = IdWriter.open<Id, Id>(path, NO_SYNC);
    w.set(1, 1);
    const before = readFileSync(path);
    for (const [k, v] of [[2n ** 64n, 1], [1, 2n ** 64n], [-1n, 1], [1, 2 ** 53], [2 ** 64, 1], [1.5, 1]] as [Id, Id][]) {
      expect(errorOf(() => w.set(k, v)).code).toBe("ERR_IDX_INVALID_ARGUMENT");
    }
    expect(errorOf(() => w.update([[5n, 5n], [2n ** 64n, 1n]])).code).toBe("ERR_IDX_INVALID_ARGUMENT");
    expect(readFileSync(path).equals(before)).toBe(true);
    expect([w.keyBits, w.valueBits]).toEqual([32, 32]);
    w.close();
  });

  it("an iteration of the writer (and of a reader) across a widening of the keys gives each entry present throughout exactly once", () => {
    const dir = makeTempDir("idx-wide-iter-");
    for (const widenAfter of [0, 1, 700, 2000]) {
      const path = join(dir, `w${widenAfter}.idx`);
      const w = IdWriter.open<Id, Id>(path, NO_SYNC);
      const model = new Map<Id, Id>();
      for (let i = 0; i < 2000; i++) {
        w.set(i, i);
        model.set(i, i);
      }
      w.set(ESCAPED_KEY, 3);
      model.set(ESCAPED_KEY, 3);
      const ix = IdIndex.open<Id, Id>(path);
      const fromWriter = new Map<Id, Id>();
      const fromReader = new Map<Id, Id>();
      const readerIt = ix.entries();
      const take = (into: Map<Id, Id>, [k, v]: [Id, Id]) => {
        expect(into.has(k), `${k} given twice`).toBe(false);
        into.set(k, v);
      };
      let n = 0;
      for (const pair of w) {
        take(fromWriter, pair);
        const r = readerIt.next();
        if (!r.done) take(fromReader, r.value);
        if (n++ === widenAfter) w.set(2n ** 40n, 1);
      }
      for (let r = readerIt.next(); !r.done; r = readerIt.next()) take(fromReader, r.value);
      expect(w.keyBits).toBe(64);
      for (const [k, v] of model) {
        expect(fromWriter.get(k)).toBe(v);
        expect(fromReader.get(k)).toBe(v);
      }
      ix.close();
      w.close();
    }
  });
});

describe("§16.5 the builder chooses the narrowest widths, or those asked for", () => {
  const cases: [string, [Id, Id][], { keyBits?: 32 | 64; valueBits?: 32 | 64 }, number, [number, number]][] = [
    ["32/32", [[1, 2], [4294967295, 4294967295]], {}, 2, [32, 32]],
    ["a key past 2^32 - 1", [[1, 2], [4294967296, 3]], {}, 3, [64, 32]],
    ["a value past 2^32 - 1", [[1, 2n ** 63n]], {}, 3, [32, 64]],
    ["both", [[MAX_U64, MAX_U64]], {}, 3, [64, 64]],
    ["asked for 64-bit keys", [[1, 2]], { keyBits: 64 }, 3, [64, 32]],
    ["asked for 64-bit values", [[1, 2]], { valueBits: 64 }, 3, [32, 64]],
  ];
  for (const [name, pairs, options, major, widths] of cases) {
    it(`${name}: version ${major}, ${widths.join("/")}`, async () => {
      const path = join(makeTempDir("idx-wide-build-"), "b.idx");
      await build(pairs, path, { ...NO_SYNC, ...options });
      const bytes = readFileSync(path);
      expect(bytes.readUInt16LE(8)).toBe(major);
      const ix = IdIndex.open<Id, Id>(path);
      expect([ix.keyBits, ix.valueBits]).toEqual(widths);
      for (const [k, v] of pairs) expect(ix.get(k)).toBe(norm(BigInt(v)));
      ix.close();
    });
  }

  it("options.keyBits must be 32 or 64", async () => {
    await expect(build([[1, 2]], join(makeTempDir("idx-wide-opt-"), "b.idx"), { keyBits: 48 as 64 })).rejects.toMatchObject({ code: "ERR_IDX_INVALID_ARGUMENT" });
  });

  for (const [kb, vb] of [[64, 32], [32, 64], [64, 64]] as const) {
    it(`${kb}/${vb}: a spilled build (pieces, groups, a widening part way) is byte-identical to one in memory, and to a writer's compact`, async () => {
      const dir = makeTempDir("idx-wide-spill-");
      const r = rng(kb * 7 + vb);
      const pairs: [Id, Id][] = [];
      for (let i = 0; i < 30000; i++) {
        const k = kb === 64 && i > 5000 ? norm(r64(r)) : r() % 20000;
        const v = vb === 64 && i > 20000 ? norm(r64(r)) : r();
        pairs.push([k, v]);
      }
      pairs.push([kb === 64 ? ESCAPED_KEY_64 : ESCAPED_KEY, 11], [ESCAPED_KEY, 12]);
      await build(pairs, join(dir, "mem.idx"), NO_SYNC);
      await build(pairs, join(dir, "spill.idx"), { ...NO_SYNC, memoryPairs: 1024 });
      const mem = readFileSync(join(dir, "mem.idx"));
      expect(readFileSync(join(dir, "spill.idx")).equals(mem)).toBe(true);
      expect(verify(join(dir, "mem.idx")).ok).toBe(true);
      expect(tempFilesIn(dir)).toEqual([]);
      const model = new Map<Id, Id>(pairs.map(([k, v]) => [k, v]));
      const ix = IdIndex.open<Id, Id>(join(dir, "mem.idx"));
      expect([ix.keyBits, ix.valueBits]).toEqual([kb, vb]);
      expect(new Map(ix)).toEqual(model);
      ix.close();
      if (ADDON) {
        const w = IdWriter.open<Id, Id>(join(dir, "spill.idx"), NO_SYNC);
        w.set(pairs[0][0], 1);
        w.set(pairs[0][0], pairs[0][1] === 1 ? 2 : pairs[0][1]);
        w.set(pairs[0][0], model.get(pairs[0][0])!);
        w.compact();
        w.close();
        expect(readFileSync(join(dir, "spill.idx")).equals(mem)).toBe(true);
      }
    });
  }

  it("bytes an entry at the builder's load (§16.1): at most 13.8 for 64/32 and 32/64 (12-byte slots), 18.4 for 64/64", async () => {
    const dir = makeTempDir("idx-wide-size-");
    const r = rng(5);
    for (const [kb, vb, most] of [[64, 32, 13.8], [32, 64, 13.8], [64, 64, 18.4]] as const) {
      const n = 200000;
      const keys = new BigUint64Array(n);
      const values = new BigUint64Array(n);
      for (let i = 0; i < n; i++) {
        keys[i] = kb === 64 ? r64(r) : BigInt(r());
        values[i] = vb === 64 ? r64(r) : BigInt(r());
      }
      const result = await build({ keys, values }, join(dir, `${kb}-${vb}.idx`), { ...NO_SYNC, keyBits: kb, valueBits: vb });
      expect(result.fileBytes / result.count).toBeLessThanOrEqual(most);
      // Hundreds of checksum blocks, each of 256 slots (§16.1): verify reads every one.
      const report = verify(join(dir, `${kb}-${vb}.idx`));
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
    }
  });

  it("columns of BigUint64Array keys and values are read without a bigint each, and agree with pairs", async () => {
    const dir = makeTempDir("idx-wide-cols-");
    const keys = new BigUint64Array([1n, 2n ** 40n, MAX_U64, 7n]);
    const values = new BigUint64Array([5n, 6n, 2n ** 60n, 8n]);
    await build({ keys, values }, join(dir, "c.idx"), NO_SYNC);
    await build([...keys].map((k, i) => [k, values[i]] as [bigint, bigint]), join(dir, "p.idx"), NO_SYNC);
    expect(readFileSync(join(dir, "c.idx")).equals(readFileSync(join(dir, "p.idx")))).toBe(true);
    // BigUint64Array columns whose numbers all fit 32 bits still give the narrowest file: 32/32.
    await build({ keys: new BigUint64Array([1n, 2n, 4294967295n]), values: new BigUint64Array([3n, 4n, 5n]) }, join(dir, "n.idx"), NO_SYNC);
    expect(readFileSync(join(dir, "n.idx")).readUInt16LE(8)).toBe(2);
    // ... and one wide number among many narrow ones, part way, widens the whole file.
    const many = new BigUint64Array(100000).map((_, i) => BigInt(i));
    many[70000] = 2n ** 40n;
    await build({ keys: many, values: new Uint32Array(many.length) }, join(dir, "w.idx"), { ...NO_SYNC, memoryPairs: 4096 });
    const ix = IdIndex.open<Id, Id>(join(dir, "w.idx"));
    expect([ix.keyBits, ix.size, ix.get(2n ** 40n), ix.get(69999)]).toEqual([64, 100000, 0, 0]);
    ix.close();
  });
});

describe("§7 an in-memory version 3 build sorts and places its records a group (of their hash's top bits) at a time", () => {
  // The builder places each group as it sorts it, at the capacity for every record; a key given
  // twice shrinks the count, and the file is written again: the bytes must be those of the map.
  const n = 60_000; // 16 groups (recordBucketBits)
  const keyOf = (i: number) => (BigInt(i) << 33n) | 5n;
  const groupOf = (key: bigint) => Number(hash64(key) >> 60n);
  const firstIn = (group: number) => {
    for (let i = 0; ; i++) if (groupOf(keyOf(i)) === group) return i;
  };
  const cases: [string, number[]][] = [
    ["no key twice", []],
    ["a key twice in the first group", [firstIn(0)]],
    ["a key twice in the last group (15 groups placed before it)", [firstIn(15)]],
    ["keys twice in several groups, one three times", [firstIn(3), firstIn(9), firstIn(9), firstIn(14)]],
  ];
  for (const [name, again] of cases) {
    for (const escaped of [false, true]) {
      it(`${name}${escaped ? ", and the escaped key twice" : ""}: the bytes of the map, last value winning`, async () => {
        const dir = makeTempDir("idx-wide-groups-");
        const keys: bigint[] = [];
        const values: bigint[] = [];
        const map = new Map<bigint, bigint>();
        const add = (k: bigint, v: bigint) => {
          keys.push(k);
          values.push(v);
          map.set(k, v);
        };
        for (let i = 0; i < n; i++) add(keyOf(i), BigInt(i) << 34n);
        if (escaped) {
          add(ESCAPED_KEY_64, 1n);
          add(ESCAPED_KEY_64, 2n);
        }
        again.forEach((i, j) => add(keyOf(i), BigInt(j + 1)));
        const result = await build({ keys: BigUint64Array.from(keys), values: BigUint64Array.from(values) }, join(dir, "pairs.idx"), NO_SYNC);
        await build([...map], join(dir, "map.idx"), NO_SYNC);
        expect(result.count).toBe(map.size);
        expect(readFileSync(join(dir, "pairs.idx")).equals(readFileSync(join(dir, "map.idx")))).toBe(true);
        expect(verify(join(dir, "pairs.idx")).ok).toBe(true);
        const ix = IdIndex.open<Id, Id>(join(dir, "pairs.idx"));
        for (const i of again) expect(ix.get(keyOf(i))).toBe(Number(map.get(keyOf(i))));
        if (escaped) expect(ix.get(ESCAPED_KEY_64)).toBe(2);
        ix.close();
      });
    }
  }
});

describe("PairCollector.addColumns copies columns as add() takes pairs", () => {
  /** The pairs a collector gathered, through any number of spills: [key words, value words] each. */
  function gather(feed: (c: PairCollector) => void, capacity: number, spillAt: number): number[][] {
    const got: number[][] = [];
    const out = new PairBuffer(capacity);
    const drain = (): void => {
      for (let i = 0; i < out.length; i++) {
        got.push([out.keys[i], out.keysHigh?.[i] ?? 0, out.values[i], out.valuesHigh?.[i] ?? 0]);
      }
      out.length = 0;
    };
    const c = new PairCollector("x.idx", out, () => {
      if (out.length < spillAt) return false;
      drain();
      return true;
    });
    feed(c);
    drain();
    return got;
  }

  it("wide and narrow columns, high words first seen part way, through growth and spills", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(40), fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (chunks, capacity, spillAt, seed) => {
          const r = rng(seed);
          const made = chunks.map(([n, wideKeys, wideValues, highKeys, highValues]) => {
            const word = (wide: boolean, high: boolean): bigint => (high && wide && r() % 3 === 0 ? BigInt(r() + 1) << 32n : 0n) | BigInt(r());
            const keys = wideKeys ? BigUint64Array.from({ length: n }, () => word(true, highKeys)) : Uint32Array.from({ length: n }, () => r());
            const values = wideValues ? BigUint64Array.from({ length: n }, () => word(true, highValues)) : Uint32Array.from({ length: n }, () => r());
            return { keys, values };
          });
          const byColumns = gather((c) => made.forEach((m) => c.addColumns(m)), capacity, spillAt);
          const byPairs = gather((c) => made.forEach((m) => m.keys.forEach((k, i) => c.add(k, m.values[i]))), capacity, spillAt);
          expect(byColumns).toEqual(byPairs);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("§16.5 text and binary input at every width", () => {
  it("text: decimal numbers up to 18446744073709551615; one more is a parse error naming the line", async () => {
    const dir = makeTempDir("idx-wide-text-");
    const ok = join(dir, "ok.txt");
    writeFileSync(ok, "1\t2\n18446744073709551615 18446744073709551615\n9007199254740993,3\n# comment\n00000000000000000000000004\t5\n");
    await buildFromText(ok, join(dir, "ok.idx"), NO_SYNC);
    const ix = IdIndex.open<Id, Id>(join(dir, "ok.idx"));
    expect([ix.get(1), ix.get(MAX_U64), ix.get(9007199254740993n), ix.get(4)]).toEqual([2, MAX_U64, 3, 5]);
    ix.close();
    const bad = join(dir, "bad.txt");
    writeFileSync(bad, "1\t2\n3\t18446744073709551616\n");
    const e = await buildFromText(bad, join(dir, "bad.idx"), NO_SYNC).catch((x) => x);
    expect(e.code).toBe("ERR_IDX_PARSE");
    expect(e.line).toBe(2);
    expect(e.message).toContain("is over 18446744073709551615");
  });
  it("a PairBuffer whose allocation fails part way keeps every column as it was (none grown, so no write past one is lost)", () => {
    let calls = 0;
    let failAt = Infinity;
    const out = new PairBuffer(4, Infinity, (n) => {
      if (++calls === failAt) throw new Error("ENOMEM");
      return new Uint32Array(n);
    });
    for (let i = 0; i < 4; i++) out.pushWide(i, 1, i, 2);
    const before = [out.keys, out.values, out.keysHigh, out.valuesHigh];
    failAt = calls + 3; // the third of the four new columns
    expect(() => out.reserve(64)).toThrow("ENOMEM");
    expect([out.keys, out.values, out.keysHigh, out.valuesHigh]).toEqual(before);
    expect([out.keys.length, out.keysHigh!.length, out.valuesHigh!.length]).toEqual([4, 4, 4]);
    failAt = Infinity;
    out.reserve(64);
    expect([out.keys.length, out.values.length, out.keysHigh!.length, out.valuesHigh!.length]).toEqual([64, 64, 64, 64]);
    expect(Array.from({ length: 4 }, (_, i) => [out.keyAt(i), out.valueAt(i)])).toEqual([0, 1, 2, 3].map((i) => [2 ** 32 + i, 2 * 2 ** 32 + i]));
  });
  it("the JS and the addon's text parsers agree on lines mixing 32- and 64-bit numbers", () => {
    const text = new TextEncoder().encode("1 2\n4294967296 3\n5 6\n7 18446744073709551615\n8 9\n");
    const parse = (native: boolean) => {
      const out = new PairBuffer();
      const addon = native ? nativeAddon() : null;
      const p = new PairParser("t", out, addon?.parseLines ?? null);
      p.write(text);
      p.end();
      return Array.from({ length: out.length }, (_, i) => [out.keyAt(i), out.valueAt(i)]);
    };
    const expected = [[1, 2], [4294967296, 3], [5, 6], [7, MAX_U64], [8, 9]];
    expect(parse(false)).toEqual(expected);
    if (ADDON) expect(parse(true)).toEqual(expected);
  });
  for (const [kb, vb] of [[32, 32], [64, 32], [32, 64], [64, 64]] as const) {
    it(`binary at ${kb}/${vb}: dump --binary writes pairs at the file's widths, and build --binary with those widths reads them back`, async () => {
      const dir = makeTempDir("idx-wide-bin-");
      const pairs: [Id, Id][] = [[0, 1], [kb === 64 ? MAX_U64 : 4294967295, vb === 64 ? 2n ** 63n + 1n : 7], [3, 4]];
      await build(pairs, join(dir, "a.idx"), { ...NO_SYNC, keyBits: kb, valueBits: vb });
      const dumped = await runCli(["dump", "--binary", join(dir, "a.idx")]);
      expect(dumped.status).toBe(0);
      expect(dumped.stdoutBytes.length).toBe(3 * (kb + vb) / 8);
      writeFileSync(join(dir, "pairs.bin"), dumped.stdoutBytes);
      await buildFromBinary(join(dir, "pairs.bin"), join(dir, "b.idx"), { ...NO_SYNC, keyBits: kb, valueBits: vb });
      expect(readFileSync(join(dir, "b.idx")).equals(readFileSync(join(dir, "a.idx")))).toBe(true);
      const cli = await runCli(["build", "--binary", "--key-bits", String(kb), "--value-bits", String(vb), join(dir, "pairs.bin"), "-o", join(dir, "c.idx")]);
      expect(cli.status).toBe(0);
      expect(readFileSync(join(dir, "c.idx")).equals(readFileSync(join(dir, "a.idx")))).toBe(true);
    });
  }
  it("binary input whose length is not a whole number of pairs at its widths names the pair size", () => {
    const p = new BinaryPairParser("x", new PairBuffer(), undefined, 64, 32);
    p.write(new Uint8Array(13));
    expect(() => p.end()).toThrow(/not a whole number of 12-byte pairs/);
  });
  it("PairCollector keeps 32-bit input in its uint32 columns (no high columns)", () => {
    const c = new PairCollector("x");
    c.addSync([[1, 2], [3, 4]]);
    expect([c.out.keysHigh, c.out.valuesHigh]).toEqual([null, null]);
    c.addSync([[5n, 6]]);
    expect([c.out.keysHigh, c.out.valuesHigh]).toEqual([null, null]);
    c.addSync([[2 ** 40, 6]]);
    expect(c.out.keyBits).toBe(64);
    expect(c.out.keyAt(3)).toBe(2 ** 40);
  });
});

describe("§16 the command line", () => {
  it("build picks the widths, info shows them (and --json has keyBits and valueBits), get and set take 64-bit numbers", async () => {
    const dir = makeTempDir("idx-wide-cli-");
    const input = join(dir, "p.txt");
    writeFileSync(input, "1\t2\n18446744073709551615\t5\n");
    expect((await runCli(["build", input, "-o", join(dir, "a.idx")])).status).toBe(0);
    const info = JSON.parse((await runCli(["info", "--json", join(dir, "a.idx")])).stdout);
    expect([info.keyBits, info.valueBits, info.version]).toEqual([64, 32, "3.0"]);
    expect((await runCli(["info", join(dir, "a.idx")])).stdout).toContain("64-bit keys, 32-bit values");
    expect((await runCli(["get", join(dir, "a.idx"), "18446744073709551615", "1", "2"])).stdout).toBe("5\n2\n\n");
    expect((await runCli(["get", join(dir, "a.idx"), "18446744073709551616"])).status).toBe(2);
    if (ADDON) {
      expect((await runCli(["set", join(dir, "a.idx"), "1", "18446744073709551615"])).status).toBe(0);
      expect((await runCli(["get", join(dir, "a.idx"), "1"])).stdout).toBe("18446744073709551615\n");
      expect(JSON.parse((await runCli(["info", "--json", join(dir, "a.idx")])).stdout).valueBits).toBe(64);
      const stdin = await runCli(["get", join(dir, "a.idx")], { input: "1\n18446744073709551615\n3\n" });
      expect(stdin.stdout).toBe("18446744073709551615\n5\n\n");
    }
    expect((await runCli(["build", input, "-o", join(dir, "b.idx"), "--key-bits", "48"])).status).toBe(2);
    const v32 = join(dir, "v32.idx");
    expect((await runCli(["build", input, "-o", v32, "--value-bits", "64"])).status).toBe(0);
    expect(JSON.parse((await runCli(["info", "--json", v32])).stdout).valueBits).toBe(64);
  });
});

describe.runIf(ADDON)("§16.4 a table of more than 2^32 - 1 entries counts them with the entriesHigh cell", () => {
  it("size and info read entries + entriesHigh * 2^32 (a sparse file of 2^33 + 8 slots, opened O(1))", () => {
    const path = join(makeTempDir("idx-wide-count-"), "big.idx");
    const layout = layoutFor(64, 32);
    const slotCount = 2 ** 33 + 8;
    const header = new Uint8Array(128);
    const entries = 2 ** 32 + 17;
    writeHeader(header, { capacity: 2 ** 33, slotCount, entries, escapedPresent: false, escapedValue: 0, reach: 0, layout });
    const size = fileBytes(layout, slotCount);
    const fd = openSync(path, "w");
    try {
      writeSync(fd, header, 0, 128, 0);
      writeSync(fd, new Uint8Array(12).fill(0xff, 0, 8), 0, 12, 128 + 12 * (slotCount - 1));
      writeSync(fd, new Uint8Array(4), 0, 4, size - 4);
    } finally {
      closeSync(fd);
    }
    const ix = IdIndex.open(path);
    expect(ix.size).toBe(entries);
    expect(ix.info().count).toBe(entries);
    ix.close();
  });
});

/** `idx ARGS...` (the built CLI), with its stdout as bytes too (dump --binary). */
function runCli(args: string[], options: { input?: string } = {}): { status: number | null; stdout: string; stderr: string; stdoutBytes: Buffer } {
  requireFreshBuild();
  const r = spawnSync(process.execPath, [BIN, ...args], { input: options.input ?? "", timeout: 60_000, env: { ...process.env, IDX_DEBUG: "" } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout.toString("utf8"), stderr: r.stderr.toString("utf8"), stdoutBytes: r.stdout };
}

function r64(r: () => number): bigint {
  return (BigInt(r()) << 32n) | BigInt(r());
}

describe.runIf(ADDON)("§16 the addon's record loops agree with their JS twins (core/encode.ts)", () => {
  it("hashRecords and sortRecords give the same records, escaped key and order, for both key widths", () => {
    const addon = nativeAddon()!;
    const r = rng(99);
    for (const keyBits of [32, 64] as const) {
      for (const n of [0, 1, 7, 5000]) {
        const keys = Uint32Array.from({ length: n }, () => (r() % 50 === 0 ? ESCAPED_KEY : r() % 3000));
        const keysHigh = keyBits === 64 ? Uint32Array.from({ length: n }, () => (r() % 2 === 0 ? 0 : r())) : null;
        if (keyBits === 64 && n > 3) {
          keys[3] = Number(ESCAPED_KEY_64 & 0xffffffffn);
          keysHigh![3] = Number(ESCAPED_KEY_64 >> 32n);
        }
        const values = Uint32Array.from({ length: n }, () => r());
        const valuesHigh = Uint32Array.from({ length: n }, () => r());
        const outC = new Uint32Array(4 * n + 4);
        const outJs = new Uint32Array(4 * n + 4);
        const resC = new Float64Array(4);
        const resJs = new Float64Array(4);
        addon.hashRecords(keys, keysHigh, values, valuesHigh, 0, n, keyBits, outC, resC);
        hashRecordsJs(keys, keysHigh, values, valuesHigh, 0, n, keyBits, outJs, resJs);
        expect(Array.from(resC)).toEqual(Array.from(resJs));
        expect(outC).toEqual(outJs);
        const m = resC[0];
        const scratchC = new Uint32Array(4 * m + 4);
        const scratchJs = new Uint32Array(4 * m + 4);
        const sortedC = addon.sortRecords(outC, m, keyBits === 64 ? 1 : 0, scratchC) === 0 ? outC : scratchC;
        const sortedJs = sortRecordsJs(outJs, m, keyBits === 64 ? 1 : 0, scratchJs) === 0 ? outJs : scratchJs;
        expect(sortedC.subarray(0, 4 * m)).toEqual(sortedJs.subarray(0, 4 * m));
      }
    }
  });

  /** hashSortRecords by the addon and by its JS twin: the same result and the same records kept. */
  function sameHashSort(keys: Uint32Array, keysHigh: Uint32Array | null, values: Uint32Array, valuesHigh: Uint32Array | null, keyBits: 32 | 64): number {
    const addon = nativeAddon()!;
    const n = keys.length;
    const outC = new Uint32Array(4 * n + 4);
    const outJs = new Uint32Array(4 * n + 4);
    const resC = new Float64Array(4);
    const resJs = new Float64Array(4);
    addon.hashSortRecords(keys, keysHigh, values, valuesHigh, n, keyBits, outC, resC);
    hashSortRecordsJs(keys, keysHigh, values, valuesHigh, n, keyBits, outJs, resJs);
    expect(Array.from(resC)).toEqual(Array.from(resJs));
    const kept = resC[0];
    for (let i = 0; i < 4 * kept; i++) if (outC[i] !== outJs[i]) expect([i, outC[i]]).toEqual([i, outJs[i]]);
    // The builder's route: hashScatterRecords, then sortBucket a group at a time (addon and twins).
    const sizesOf: Uint32Array[] = [];
    for (const [scatter, sortBucket] of [[addon.hashScatterRecords, addon.sortBucket], [hashScatterRecordsJs, sortBucketJs]] as const) {
      const out = new Uint32Array(4 * n + 4);
      const res = new Float64Array(5);
      const sizes = new Uint32Array(2048).fill(7);
      scatter(keys, keysHigh, values, valuesHigh, n, keyBits, out, res, false, sizes);
      expect(Array.from(res.subarray(1, 4))).toEqual(Array.from(resC.subarray(1, 4)));
      expect(res[4]).toBe(recordBucketBits(n));
      const groups = 2 ** res[4];
      expect(sizes.subarray(0, groups).reduce((a, b) => a + b, 0)).toBe(res[0]);
      sizesOf.push(sizes.slice(0, groups));
      const scratch = new Uint32Array(4 * n + 4);
      const joined: number[] = [];
      for (let d = 0, at = 0; d < groups; at += sizes[d], d++) {
        const k = sortBucket(out, at, sizes[d], keyBits, res[4], scratch);
        for (let i = 4 * at; i < 4 * (at + k); i++) joined.push(out[i]);
      }
      expect(joined.length).toBe(4 * kept);
      for (let i = 0; i < 4 * kept; i++) if (joined[i] !== outC[i]) expect([i, joined[i]]).toEqual([i, outC[i]]);
    }
    expect(sizesOf[0]).toEqual(sizesOf[1]);
    return kept;
  }

  it("hashSortRecords keeps the same records as hashRecords, sortRecords and keepLastOfEqualRecords: duplicates, escaped keys, both widths", () => {
    const r = rng(7);
    for (const keyBits of [32, 64] as const) {
      // 200,000 pairs: buckets of ~100 records, past the insertion sort's 32, and many duplicates.
      for (const n of [0, 1, 31, 5000, 200_000]) {
        const keys = Uint32Array.from({ length: n }, () => (r() % 97 === 0 ? ESCAPED_KEY : r() % (n / 2 + 1)));
        const keysHigh = keyBits === 64 ? Uint32Array.from({ length: n }, () => r() % 2) : null;
        if (keyBits === 64 && n > 3) {
          keys[3] = Number(ESCAPED_KEY_64 & 0xffffffffn);
          keysHigh![3] = Number(ESCAPED_KEY_64 >> 32n);
        }
        const values = Uint32Array.from({ length: n }, () => r());
        for (const valuesHigh of [null, Uint32Array.from({ length: n }, () => r())]) {
          const kept = sameHashSort(keys, keysHigh, values, valuesHigh, keyBits);
          if (n === 200_000) expect(kept).toBeLessThan(n * 0.7);
        }
        if (keyBits === 64) sameHashSort(keys, null, values, null, 64);
      }
    }
  });

  it("hashSortRecords sorts hashes crafted to share their top bits (a bucket's insertion sort gives up; LSD sorts it)", () => {
    const r = rng(11);
    for (const keyBits of [32, 64] as const) {
      // Hashes that agree in all but their low 12 bits, in falling order, some twice: one bucket of
      // 6,000 records that the two LSD passes over the next 22 bits leave in falling order, for
      // 64-bit keys (the 21 bits under a 32-bit hash's top 11 are all those passes sort).
      const n = 6000;
      const keys = new Uint32Array(n);
      const keysHigh = keyBits === 64 ? new Uint32Array(n) : null;
      for (let i = 0; i < n; i++) {
        const low = 4095 - ((i * 7) % 4096);
        if (keyBits === 32) {
          keys[i] = unhash32(((0x5a5a5 << 12) | low) >>> 0);
        } else {
          const k = unhash64((0x1234_5678_9abc_d000n & ~0xfffn) | BigInt(low));
          keys[i] = Number(k & 0xffffffffn);
          keysHigh![i] = Number(k >> 32n);
        }
      }
      const values = Uint32Array.from({ length: n }, () => r());
      expect(sameHashSort(keys, keysHigh, values, null, keyBits)).toBe(4096);
    }
  });

  it("splitWords splits a BigUint64Array's words as splitWordsJs does, and refuses ranges past its arrays", () => {
    const addon = nativeAddon()!;
    const r = rng(3);
    const words = Uint32Array.from({ length: 2 * 1000 }, () => r());
    for (const [from, n, at] of [[0, 1000, 0], [17, 500, 3], [999, 1, 0], [5, 0, 9]]) {
      for (const withHigh of [false, true]) {
        const [lowC, lowJs] = [new Uint32Array(1003).fill(7), new Uint32Array(1003).fill(7)];
        const [highC, highJs] = withHigh ? [new Uint32Array(1003).fill(9), new Uint32Array(1003).fill(9)] : [null, null];
        addon.splitWords(words, from, n, lowC, highC, at);
        splitWordsJs(words, from, n, lowJs, highJs, at);
        expect(lowC).toEqual(lowJs);
        expect(highC).toEqual(highJs);
        if (n > 0) expect([lowC[at], highC?.[at + n - 1]]).toEqual([words[2 * from], withHigh ? words[2 * (from + n - 1) + 1] : undefined]);
      }
    }
    for (const args of [
      [words, 999, 2, new Uint32Array(2), null, 0], // past the words
      [words, 0, 10, new Uint32Array(9), null, 0], // past low
      [words, 0, 10, new Uint32Array(10), new Uint32Array(9), 0], // past high
      [words, 0, 10, new Uint32Array(12), null, 3], // at + n past low
      [new Float64Array(4), 0, 1, new Uint32Array(1), null, 0],
      [words, -1, 1, new Uint32Array(1), null, 0],
    ] as const) {
      let error: { code?: string } | undefined;
      try {
        addon.splitWords(...(args as unknown as Parameters<typeof addon.splitWords>));
      } catch (e) {
        error = e as { code?: string };
      }
      expect(error?.code).toBe("ERR_IDX_INVALID_ARGUMENT");
    }
  });

  it("discard gives a words() array's pages back (it reads as zeros after), and refuses any other array", () => {
    const addon = nativeAddon()!;
    const big = addon.words(2 << 20).fill(7); // 8 MiB: mapped memory
    addon.discard(big);
    expect([big.length, big.some((w) => w !== 0)]).toEqual([2 << 20, false]);
    const small = addon.words(100).fill(7); // from malloc: left as it is
    addon.discard(small);
    expect(small.every((w) => w === 7)).toBe(true);
    for (const other of [new Uint32Array(2 << 20), big.subarray(1024), new Float64Array(big.buffer), new Uint8Array(8), 5, undefined, {}]) {
      let error: { code?: string } | undefined;
      try {
        addon.discard(other as Uint32Array);
      } catch (e) {
        error = e as { code?: string };
      }
      expect(error?.code).toBe("ERR_IDX_INVALID_ARGUMENT");
    }
  });

  it("hashSortRecords with release gives the same records and gives the columns' pages back (words() columns only)", () => {
    const addon = nativeAddon()!;
    const n = 3 << 20; // 12 MiB a column: mapped memory, several of release's 2 MiB steps
    const make = (): Uint32Array[] => {
      const cols = [addon.words(n), addon.words(n), addon.words(n), addon.words(n)];
      const r2 = rng(5);
      for (const c of cols) for (let i = 0; i < n; i++) c[i] = r2();
      for (let i = 0; i < n; i++) cols[1][i] &= 7; // high key words: duplicates among the keys
      return cols;
    };
    const [kl, kh, vl, vh] = make();
    const kept = new Uint32Array(4 * n);
    const resKept = new Float64Array(4);
    addon.hashSortRecords(kl, kh, vl, vh, n, 64, kept, resKept);
    expect(kh.some((w) => w !== 0)).toBe(true); // without release the columns stay
    const cols = make();
    const out = addon.words(4 * n, true);
    const res = new Float64Array(4);
    addon.hashSortRecords(cols[0], cols[1], cols[2], cols[3], n, 64, out, res, true);
    expect(Array.from(res)).toEqual(Array.from(resKept));
    const bytes = (a: Uint32Array, words: number): Buffer => Buffer.from(a.buffer, a.byteOffset, words * 4);
    expect(bytes(out, 4 * res[0]).equals(bytes(kept, 4 * resKept[0]))).toBe(true);
    // Every whole page of each column went back (reads as zeros); at most the last page's words stay.
    for (const c of cols) expect(c.subarray(0, n - 1024).some((w) => w !== 0)).toBe(false);
    // Small columns (from malloc, as discard() leaves them) are not given back: the keys' column
    // holds their hashes (the count pass leaves them there for the scatter), the values' stays.
    const small = [addon.words(1000).fill(3), addon.words(1000).fill(4)];
    addon.hashSortRecords(small[0], null, small[1], null, 1000, 32, addon.words(4000, true), res, true);
    expect([small[0].every((w) => w === hash32(3)), small[1].every((w) => w === 4), res[0]]).toEqual([true, true, 1]);
    // 64-bit keys with no high column have no room for the hashes: the scatter hashes again.
    const narrow = make();
    const narrowKept = new Uint32Array(4 * n);
    addon.hashSortRecords(narrow[0].slice(), null, narrow[2], null, n, 64, narrowKept, resKept);
    const narrowOut = addon.words(4 * n, true);
    addon.hashSortRecords(narrow[0], null, narrow[2], null, n, 64, narrowOut, res, true);
    expect(Array.from(res)).toEqual(Array.from(resKept));
    expect(bytes(narrowOut, 4 * res[0]).equals(bytes(narrowKept, 4 * resKept[0]))).toBe(true);
    let error: { code?: string; message?: string } | undefined;
    try {
      addon.hashSortRecords(new Uint32Array(4), null, addon.words(4), null, 4, 64, new Uint32Array(16), res, true);
    } catch (e) {
      error = e as { code?: string };
    }
    expect([error?.code, error?.message]).toEqual(["ERR_IDX_INVALID_ARGUMENT", "hashSortRecords: with release, the columns must be whole arrays from words()"]);
    let wordsError: { code?: string } | undefined;
    try {
      addon.words(4, 1 as unknown as boolean);
    } catch (e) {
      wordsError = e as { code?: string };
    }
    expect(wordsError?.code).toBe("ERR_IDX_INVALID_ARGUMENT");
  });

  it("the build's loops refuse arrays over a SharedArrayBuffer (another thread could change them between two passes)", () => {
    // Without the check, a worker rewriting the keys during hashSortRecords made its scatter
    // write past the records (tried: the four words after them were overwritten).
    const addon = nativeAddon()!;
    const n = 1000;
    const sharedWords = (length: number): Uint32Array => new Uint32Array(new SharedArrayBuffer(4 * length));
    const res = new Float64Array(4);
    const calls: [string, () => unknown][] = [
      ["keysLow", () => addon.hashSortRecords(sharedWords(n), null, new Uint32Array(n), null, n, 32, new Uint32Array(4 * n), res)],
      ["valuesHigh", () => addon.hashSortRecords(new Uint32Array(n), null, new Uint32Array(n), sharedWords(n), n, 64, new Uint32Array(4 * n), res)],
      ["out", () => addon.hashSortRecords(new Uint32Array(n), null, new Uint32Array(n), null, n, 64, sharedWords(4 * n), res)],
      ["records", () => addon.sortRecords(sharedWords(4 * n), n, 1, null)],
      ["keys", () => addon.hashSort(sharedWords(n), new Uint32Array(n), n, res)],
      ["low", () => addon.splitWords(new Uint32Array(2 * n), 0, n, sharedWords(n), null, 0)],
    ];
    for (const [name, call] of calls) {
      let error: { code?: string; message?: string } | undefined;
      try {
        call();
      } catch (e) {
        error = e as { code?: string; message?: string };
      }
      expect([error?.code, error?.message?.endsWith(`${name} must not be over a SharedArrayBuffer`)]).toEqual(["ERR_IDX_INVALID_ARGUMENT", true]);
    }
    // The same calls over plain arrays pass.
    addon.hashSortRecords(new Uint32Array(n), null, new Uint32Array(n), null, n, 32, new Uint32Array(4 * n), res);
    expect(res[0]).toBe(1);
  });

  it("build() takes a user's columns over a SharedArrayBuffer (splitWords reads them once)", async () => {
    const dir = makeTempDir("idx-wide-shared-");
    const n = 5000;
    const keys = new BigUint64Array(new SharedArrayBuffer(8 * n));
    const values = new BigUint64Array(new SharedArrayBuffer(8 * n));
    for (let i = 0; i < n; i++) {
      keys[i] = (BigInt(i) << 33n) | 7n;
      values[i] = BigInt(i) * 3n;
    }
    await build({ keys, values }, join(dir, "s.idx"), NO_SYNC);
    await build({ keys: BigUint64Array.from(keys), values: BigUint64Array.from(values) }, join(dir, "p.idx"), NO_SYNC);
    expect(readFileSync(join(dir, "s.idx")).equals(readFileSync(join(dir, "p.idx")))).toBe(true);
    const ix = IdIndex.open<Id, Id>(join(dir, "s.idx"));
    expect([ix.size, ix.get((4999n << 33n) | 7n)]).toEqual([n, 14997]);
    ix.close();
  });

  it("hashSortRecords refuses a key wider than 32-bit keys, and columns shorter than n", () => {
    const addon = nativeAddon()!;
    const out = new Uint32Array(16);
    const res = new Float64Array(4);
    const thrown = (f: () => unknown): { code?: string; message: string } => {
      try {
        f();
      } catch (e) {
        return e as { code?: string; message: string };
      }
      throw new Error("nothing thrown");
    };
    const wider = thrown(() => addon.hashSortRecords(new Uint32Array([1, 2]), new Uint32Array([0, 1]), new Uint32Array(2), null, 2, 32, out, res));
    expect([wider.code, wider.message]).toEqual(["ERR_IDX_INVALID_ARGUMENT", "hashSortRecords: key 1 is wider than 32 bits"]);
    for (const bad of [
      () => addon.hashSortRecords(new Uint32Array(2), null, new Uint32Array(1), null, 2, 64, out, res), // values short
      () => addon.hashSortRecords(new Uint32Array(5), null, new Uint32Array(5), null, 5, 64, out, res), // out short
      () => addon.hashSortRecords(new Uint32Array(2), new Uint32Array(1), new Uint32Array(2), null, 2, 64, out, res), // keysHigh short
      () => addon.hashSortRecords(new Uint32Array(2), null, new Uint32Array(2), null, 2, 48, out, res), // keyBits
      () => addon.hashSortRecords(new Float64Array(2) as never, null, new Uint32Array(2), null, 2, 64, out, res),
      () => addon.hashSortRecords(new Uint32Array(2), null, new Uint32Array(2), null, 2, 64, out, new Float64Array(3)),
      () => addon.hashSortRecords(out.subarray(6, 8), null, new Uint32Array(2), null, 2, 64, out, res), // out overlaps the keys
      () => addon.hashSortRecords(new Uint32Array(2), null, new Uint32Array(2), out.subarray(0, 2), 2, 64, out, res), // ... the values' high words
    ]) {
      expect(thrown(bad).code).toBe("ERR_IDX_INVALID_ARGUMENT");
    }
  });

  it("hashScatterRecords and sortBucket refuse short sizes, results and scratch, ranges past the records, overlaps, and bad widths", () => {
    const addon = nativeAddon()!;
    const records = new Uint32Array(400);
    const thrown = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return `${(e as { code?: string }).code}: ${(e as Error).message}`;
      }
      return "nothing thrown";
    };
    const scatter = (sizes: Uint32Array, result: Float64Array, out = records) =>
      () => addon.hashScatterRecords(new Uint32Array(10), null, new Uint32Array(10), null, 10, 64, out, result, false, sizes);
    expect(thrown(scatter(new Uint32Array(2047), new Float64Array(5)))).toMatch(/^ERR_IDX_INVALID_ARGUMENT: hashScatterRecords: sizes must hold 2048 words/);
    expect(thrown(scatter(new Uint32Array(2048), new Float64Array(4)))).toMatch(/result 5/);
    expect(thrown(scatter(new Uint32Array(2048), new Float64Array(5), new Uint32Array(39)))).toMatch(/out 4n words/);
    expect(thrown(scatter(new Uint32Array(new SharedArrayBuffer(8192)), new Float64Array(5)))).toMatch(/sizes must not be over a SharedArrayBuffer/);
    expect(thrown(scatter(new Uint32Array(2048), new Float64Array(5)))).toBe("nothing thrown");
    const sort = (from: number, count: number, keyBits: number, bits: number, scratch: Uint32Array) => () => addon.sortBucket(records, from, count, keyBits, bits, scratch);
    expect(thrown(sort(0, 100, 64, 4, new Uint32Array(400)))).toBe("nothing thrown");
    for (const bad of [
      sort(1, 100, 64, 4, new Uint32Array(400)), // past the records
      sort(0, 100, 64, 4, new Uint32Array(399)), // scratch short
      sort(0, 100, 48, 4, new Uint32Array(400)), // keyBits
      sort(0, 100, 64, 12, new Uint32Array(400)), // bucketBits
      sort(0, 50, 64, 4, records.subarray(100, 300)), // scratch overlaps the bucket
      sort(-1, 5, 64, 4, new Uint32Array(400)),
      () => addon.sortBucket(new Uint32Array(new SharedArrayBuffer(16)), 0, 1, 64, 4, new Uint32Array(4)),
    ]) {
      expect(thrown(bad)).toMatch(/^ERR_IDX_INVALID_ARGUMENT: sortBucket/);
    }
    expect(addon.sortBucket(records, 0, 0, 32, 4, new Uint32Array(0))).toBe(0);
  });
});
