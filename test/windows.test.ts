/**
 * Files past 2 GiB are read through several overlapping windows (core/slots.ts). These tests
 * shrink the windows to 1,024 slots (IDX_WINDOW_SLOTS) so that files of kilobytes take every
 * path a 40 GB file takes: lookups in each window, probes that cross a window's overlap (a run
 * longer than the overlap), iteration, dump, verify, and a writer shifting runs across window
 * boundaries.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { readHeader } from "../src/core/format";
import { BytesFile, regionOf } from "../src/os/mapping";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdIndex, IdWriter, build, verify } from "../src/index";
import { hash64, homeSlot, unhash64 } from "../src/core/hash";
import { Id, idFromWord } from "../src/core/keys";
import { requireFreshBuild, runIdx } from "./helpers/cli";
import { MAX_U32, specHash, specUnhash } from "./helpers/keys";
import { makeTempDir, removeTempDirs } from "./helpers/tmp";

let dir: string;
let saved: string | undefined;
const WINDOW = 1024;

beforeAll(() => {
  requireFreshBuild();
  dir = makeTempDir("idx-windows-");
  saved = process.env.IDX_WINDOW_SLOTS;
  process.env.IDX_WINDOW_SLOTS = String(WINDOW);
});
afterAll(() => {
  if (saved === undefined) delete process.env.IDX_WINDOW_SLOTS;
  else process.env.IDX_WINDOW_SLOTS = saved;
  removeTempDirs();
});

/**
 * `n` keys spread over the domain, plus a crowd of `crowd` keys whose hashes share the home slot
 * just before a window boundary, so that their run crosses it by more than the overlap.
 */
function keysWithCrowd(n: number, crowd: number): { map: Map<number, number>; crowdKeys: number[] } {
  const map = new Map<number, number>();
  for (let i = 0; i < n; i++) map.set((i * 2654435761 + 7) >>> 0, i);
  const capacity = Math.ceil(((n + crowd) * 8) / 7);
  const boundary = 3 * WINDOW - 4;
  const h0 = Math.ceil((boundary * 2 ** 32) / capacity);
  const crowdKeys: number[] = [];
  for (let i = 0; i < crowd; i++) {
    const k = specUnhash(h0 + i);
    crowdKeys.push(k);
    map.set(k, MAX_U32 - i);
  }
  expect(homeSlot(specHash(crowdKeys[crowd - 1]), capacity)).toBe(boundary);
  return { map, crowdKeys };
}

function expectAnswers(ix: IdIndex, map: Map<number, number>, absent: number[]): void {
  for (const [k, v] of map) if (ix.get(k) !== v) throw new Error(`get(${k}) = ${ix.get(k)}, not ${v}`);
  for (const k of absent) if (!map.has(k) && ix.get(k) !== undefined) throw new Error(`get(${k}) found an absent key`);
  const keys = Uint32Array.from([...map.keys(), ...absent]);
  const values = new Uint32Array(keys.length);
  const found = new Uint8Array(keys.length);
  ix.getMany(keys, values, found);
  for (let i = 0; i < keys.length; i++) {
    const expected = map.get(keys[i]);
    if (expected === undefined ? found[i] !== 0 : found[i] !== 1 || values[i] !== expected) {
      throw new Error(`getMany: key ${keys[i]} -> ${found[i] ? values[i] : "absent"}, not ${expected}`);
    }
  }
}

describe("reading through windows of 1,024 slots", () => {
  it("20,000 entries over 22 windows, and a run of 700 crossing a window boundary by more than the overlap", async () => {
    const { map, crowdKeys } = keysWithCrowd(20_000, 700);
    const path = join(dir, "read.idx");
    await build(map, path, { sync: false });
    const header = readHeader(readFileSync(path), statSync(path).size, path);
    const region = regionOf(new BytesFile(readFileSync(path)), header.layout, header.slotCount);
    expect(region.windows.length).toBe(Math.ceil(header.slotCount / WINDOW)); // the windows really are small
    const ix = IdIndex.open(path);
    try {
      expect(ix.info().reach).toBeGreaterThan(WINDOW / 4); // longer than the overlap: the slow path crosses
      expectAnswers(ix, map, Array.from({ length: 2000 }, (_, i) => (i * 7919 + 3) >>> 0));
      for (const k of crowdKeys) expect(ix.get(k)).toBe(map.get(k));
      expect(new Map(ix)).toEqual(map);
      expect(ix.verify().ok).toBe(true);
    } finally {
      ix.close();
    }
    expect(verify(path).ok).toBe(true);
    const dumped = runIdx(["dump", path], { env: { IDX_WINDOW_SLOTS: String(WINDOW), IDX_NO_NATIVE: "1" } }).stdout;
    expect(dumped.trimEnd().split("\n").length).toBe(map.size);
  });

  it.runIf(!process.env.IDX_NO_NATIVE)("a writer shifts runs across window boundaries (inserts and deletes in the crowd), and readers keep up", async () => {
    const { map, crowdKeys } = keysWithCrowd(3000, 500);
    const path = join(dir, "write.idx");
    await build(map, path, { sync: false });
    const ix = IdIndex.open(path);
    const w = IdWriter.open(path, { sync: false });
    try {
      // More keys into the crowd (each insert shifts the tail across the boundary), then deletes.
      const h0 = specHash(crowdKeys[0]);
      for (let i = 0; i < 300; i++) {
        const k = specUnhash(h0 + 500 + i);
        w.set(k, i);
        map.set(k, i);
      }
      for (let i = 0; i < 500; i += 3) {
        expect(w.delete(crowdKeys[i])).toBe(true);
        map.delete(crowdKeys[i]);
      }
      expectAnswers(ix, map, crowdKeys.filter((_, i) => i % 3 === 0));
      expect(verify(path).ok).toBe(true);
      w.compact();
      expectAnswers(ix, map, []);
      expect(verify(path).ok).toBe(true);
    } finally {
      w.close();
      ix.close();
    }
  });
});

/**
 * Version 3 (§16): 12-byte slots and 64-bit hash words through windows of 1,024 slots. The
 * crowd's hashes share their high half (the home slot comes from it: §16.3), so their run
 * starts just before a window boundary and crosses it by more than the overlap.
 */
describe("version 3 (64-bit keys) through windows of 1,024 slots", () => {
  function wideKeysWithCrowd(n: number, crowd: number): { map: Map<Id, Id>; crowdKeys: Id[] } {
    const map = new Map<Id, Id>();
    for (let i = 0; i < n; i++) map.set(BigInt(i) * 0x9e3779b97f4a7c15n & 0xffffffffffffffffn, i);
    const capacity = Math.ceil(((n + crowd) * 8) / 7);
    const boundary = 3 * WINDOW - 4;
    const high = BigInt(Math.ceil((boundary * 2 ** 32) / capacity));
    const crowdKeys: Id[] = [];
    for (let i = 0; i < crowd; i++) {
      const k = unhash64((high << 32n) | BigInt(i + 1));
      crowdKeys.push(idFromWord(k));
      map.set(idFromWord(k), 2n ** 40n + BigInt(i));
    }
    const normalized = new Map<Id, Id>([...map].map(([k, v]) => [idFromWord(typeof k === "bigint" ? k : BigInt(k)), idFromWord(typeof v === "bigint" ? v : BigInt(v))]));
    return { map: normalized, crowdKeys };
  }

  function expectWideAnswers(ix: IdIndex<Id, Id>, map: Map<Id, Id>, absent: bigint[]): void {
    for (const [k, v] of map) if (ix.get(k) !== v) throw new Error(`get(${k}) = ${ix.get(k)}, not ${v}`);
    for (const k of absent) if (!map.has(idFromWord(k)) && ix.get(k) !== undefined) throw new Error(`get(${k}) found an absent key`);
    const keys = BigUint64Array.from([...[...map.keys()].map((k) => BigInt(k)), ...absent]);
    const values = ix.valueBits === 64 ? new BigUint64Array(keys.length) : new Uint32Array(keys.length);
    const found = new Uint8Array(keys.length);
    ix.getMany(keys, values as BigUint64Array, found);
    for (let i = 0; i < keys.length; i++) {
      const expected = map.get(idFromWord(keys[i]));
      if (expected === undefined ? found[i] !== 0 : found[i] !== 1 || BigInt(values[i]) !== BigInt(expected)) {
        throw new Error(`getMany: key ${keys[i]} -> ${found[i] ? values[i] : "absent"}, not ${expected}`);
      }
    }
  }

  it("20,000 entries of 64/64 over windows, a run of 700 crossing a boundary: get, getMany, iteration, dump, verify", async () => {
    const { map, crowdKeys } = wideKeysWithCrowd(20_000, 700);
    const path = join(dir, "wide-read.idx");
    await build(map, path, { sync: false });
    const header = readHeader(readFileSync(path), statSync(path).size, path);
    expect([header.keyBits, header.valueBits]).toEqual([64, 64]);
    const region = regionOf(new BytesFile(readFileSync(path)), header.layout, header.slotCount);
    expect(region.windows.length).toBe(Math.ceil(header.slotCount / WINDOW));
    const ix = IdIndex.open<Id, Id>(path);
    try {
      expect(ix.info().reach).toBeGreaterThan(WINDOW / 4);
      expectWideAnswers(ix, map, Array.from({ length: 2000 }, (_, i) => BigInt(i) * 0x5851f42d4c957f2dn + 3n & 0xffffffffffffffffn));
      for (const k of crowdKeys) expect(ix.get(k)).toBe(map.get(k));
      expect(new Map(ix)).toEqual(map);
      expect(ix.verify().ok).toBe(true);
    } finally {
      ix.close();
    }
    const dumped = runIdx(["dump", path], { env: { IDX_WINDOW_SLOTS: String(WINDOW), IDX_NO_NATIVE: "1" } }).stdout;
    expect(dumped.trimEnd().split("\n").length).toBe(map.size);
  });

  it.runIf(!process.env.IDX_NO_NATIVE)("a writer shifts 12-byte slots across window boundaries, widens the values, and readers keep up", async () => {
    const { map, crowdKeys } = wideKeysWithCrowd(3000, 500);
    for (const k of map.keys()) map.set(k, 7); // 32-bit values: a 64/32 file, 12-byte slots
    const path = join(dir, "wide-write.idx");
    await build(map, path, { sync: false });
    expect(readHeader(readFileSync(path), statSync(path).size, path).slotCount * 12 + 128).toBeLessThan(statSync(path).size);
    const ix = IdIndex.open<Id, Id>(path);
    const w = IdWriter.open<Id, Id>(path, { sync: false });
    try {
      const first = BigInt(crowdKeys[0]);
      const high = hash64(first) >> 32n;
      for (let i = 0; i < 300; i++) {
        const k = idFromWord(unhash64((high << 32n) | BigInt(600 + i)));
        w.set(k, i);
        map.set(k, i);
      }
      for (let i = 0; i < 500; i += 3) {
        expect(w.delete(crowdKeys[i])).toBe(true);
        map.delete(crowdKeys[i]);
      }
      expectWideAnswers(ix, map, crowdKeys.filter((_, i) => i % 3 === 0).map((k) => BigInt(k)));
      expect(verify(path).ok).toBe(true);
      w.set(crowdKeys[1], 2n ** 63n); // the values widen: a 64/64 file replaces this one
      map.set(crowdKeys[1], 2n ** 63n);
      expect(ix.valueBits).toBe(64);
      expectWideAnswers(ix, map, []);
      expect(verify(path).ok).toBe(true);
    } finally {
      w.close();
      ix.close();
    }
  });
});
