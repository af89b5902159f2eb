/**
 * build(): every kind of pair source, last-wins duplicates exactly like `new Map(pairs)`,
 * canonical bytes, refusal of bad arguments with typed errors, and atomic replacement.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ESCAPED_KEY, IdIndex, IdxError, build, buildFromBinary, buildFromText, verify } from "../src/index";
import { chunksOf } from "./helpers/chunks";
import { MAX_U32, SPEC_ESCAPED_KEY, rng, specUnhash } from "./helpers/keys";
import { expectIndexMatches } from "./helpers/model";
import { makeTempDir, removeTempDirs, tempFilesIn } from "./helpers/tmp";

let dir: string;
let seq = 0;
beforeAll(() => {
  dir = makeTempDir("idx-build-");
});
afterAll(removeTempDirs);

const fresh = (name = "out") => join(dir, `${name}-${seq++}.idx`);

async function bytesOf(source: Parameters<typeof build>[0]): Promise<Buffer> {
  const out = fresh();
  await build(source, out, { sync: false });
  return readFileSync(out);
}

function openMap(path: string): Map<number, number> {
  const ix = IdIndex.open(path);
  try {
    return new Map(ix);
  } finally {
    ix.close();
  }
}

const samplePairs: [number, number][] = [
  [0, 0],
  [4294967295, 4294967295],
  [1, 4294967295],
  [4294967295 - 1, 0],
  [SPEC_ESCAPED_KEY, 77],
  [123456789, 987654321],
  [2 ** 31, 2 ** 31],
];

describe("pair sources", () => {
  it("ESCAPED_KEY is the key the spec names (857579651)", () => {
    expect(ESCAPED_KEY).toBe(SPEC_ESCAPED_KEY);
  });

  it("takes an array, a Map, typed-array columns, plain-array columns, a generator and an async generator alike", async () => {
    const map = new Map(samplePairs);
    const keys = Uint32Array.from(samplePairs.map(([k]) => k));
    const values = Uint32Array.from(samplePairs.map(([, v]) => v));
    function* gen() {
      yield* samplePairs;
    }
    async function* agen() {
      for (const p of samplePairs) {
        await Promise.resolve();
        yield p;
      }
    }
    const reference = await bytesOf(samplePairs);
    const sources: [string, Parameters<typeof build>[0]][] = [
      ["Map", map],
      ["Uint32Array columns", { keys, values }],
      ["Float64Array columns", { keys: Float64Array.from(keys), values: Float64Array.from(values) }],
      ["plain-array columns", { keys: [...keys], values: [...values] }],
      ["generator", gen()],
      ["async generator", agen()],
      ["map.entries()", map.entries()],
      ["Set of pairs", new Set(samplePairs)],
    ];
    for (const [what, source] of sources) {
      const out = fresh();
      await build(source, out, { sync: false });
      expect(readFileSync(out).equals(reference), what).toBe(true);
      expect(openMap(out), what).toEqual(map);
    }
  });

  it("does not modify the caller's columns or pairs", async () => {
    const keys = Uint32Array.from([5, 4, 3, SPEC_ESCAPED_KEY, 5]);
    const values = Uint32Array.from([1, 2, 3, 4, 5]);
    const keysCopy = keys.slice();
    const valuesCopy = values.slice();
    await bytesOf({ keys, values });
    expect(keys).toEqual(keysCopy);
    expect(values).toEqual(valuesCopy);
    const pairs: [number, number][] = [[9, 1], [8, 2], [9, 3]];
    const pairsCopy = JSON.parse(JSON.stringify(pairs));
    await bytesOf(pairs);
    expect(pairs).toEqual(pairsCopy);
  });

  it("builds an empty index from an empty source", async () => {
    for (const source of [[], new Map(), { keys: new Uint32Array(0), values: new Uint32Array(0) }]) {
      const out = fresh();
      await build(source as Parameters<typeof build>[0], out, { sync: false });
      const ix = IdIndex.open(out);
      expect(ix.size).toBe(0);
      expect([...ix]).toEqual([]);
      expect(ix.get(0)).toBeUndefined();
      expect(ix.get(ESCAPED_KEY)).toBeUndefined();
      ix.close();
      expect(verify(out).ok).toBe(true);
    }
  });

  it("builds an index holding only the escaped key, and the escaped key with value 0 and 2^32-1", async () => {
    for (const value of [0, 1, MAX_U32]) {
      const out = fresh();
      await build([[ESCAPED_KEY, value]], out, { sync: false });
      const ix = IdIndex.open(out);
      expectIndexMatches(ix, new Map([[ESCAPED_KEY, value]]), [0, 1, MAX_U32, ESCAPED_KEY - 1, ESCAPED_KEY + 1]);
      ix.close();
      expect(verify(out).ok).toBe(true);
    }
  });
});

describe("duplicates and canonical bytes", () => {
  it("resolves duplicates last-wins, exactly as new Map(pairs), the escaped key included", async () => {
    const pairs: [number, number][] = [
      [1, 1], [ESCAPED_KEY, 5], [0, 9], [1, 2], [ESCAPED_KEY, 0], [0, 4294967295], [1, 0], [MAX_U32, 3], [MAX_U32, 3],
    ];
    const out = fresh();
    await build(pairs, out, { sync: false });
    const ix = IdIndex.open(out);
    expectIndexMatches(ix, new Map(pairs), [2, 3, MAX_U32 - 1]);
    ix.close();
  });

  it("gives the same bytes for the same input, every time", async () => {
    const r = rng(11);
    const pairs: [number, number][] = Array.from({ length: 3000 }, () => [r(), r()]);
    const a = await bytesOf(pairs);
    const b = await bytesOf(pairs);
    const c = await bytesOf(pairs);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(true);
  });

  it("gives the same bytes for the same map in any order and with any duplicates (property)", async () => {
    const key = fc.oneof(
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: MAX_U32 }),
      fc.constantFrom(0, MAX_U32, ESCAPED_KEY),
    );
    const value = fc.oneof(fc.integer({ min: 0, max: MAX_U32 }), fc.constantFrom(0, MAX_U32));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(key, value), { maxLength: 200 }), fc.integer(), async (pairs, seed) => {
        const map = new Map(pairs);
        const reference = await bytesOf(map);
        // The same map, shuffled, each entry preceded by a decoy value for the same key.
        const r = rng(seed);
        const entries = [...map].sort(() => (r() & 1 ? 1 : -1));
        const noisy: [number, number][] = [];
        for (const [k, v] of entries) {
          if (r() & 1) noisy.push([k, (v + 1) >>> 0]);
          noisy.push([k, v]);
        }
        expect((await bytesOf(pairs)).equals(reference)).toBe(true);
        expect((await bytesOf(noisy)).equals(reference)).toBe(true);
        expect((await bytesOf(entries.reverse())).equals(reference)).toBe(true);
        const out = fresh();
        await build(pairs, out, { sync: false });
        const ix = IdIndex.open(out);
        expectIndexMatches(ix, map, []);
        ix.close();
      }),
      { numRuns: 60 },
    );
  });

  it("gives the same bytes from text as from pairs", async () => {
    const r = rng(5);
    const pairs: [number, number][] = Array.from({ length: 2000 }, (_, i) => [i % 3 === 0 ? r() : i, r()]);
    pairs.push([ESCAPED_KEY, 1], [0, 0], [MAX_U32, MAX_U32]);
    const text = pairs.map(([k, v]) => `${k}\t${v}`).join("\n");
    const out = fresh();
    await buildFromText(chunksOf(text, 4096), out, { sync: false });
    expect(readFileSync(out).equals(await bytesOf(pairs))).toBe(true);
  });
});

describe("bad arguments", () => {
  /** The build must reject with `code`, leave an existing output byte-identical and no temp file. */
  async function expectRefused(source: unknown, code: string): Promise<IdxError> {
    const sub = makeTempDir("idx-build-bad-");
    const out = join(sub, "target.idx");
    await build([[1, 1]], out, { sync: false });
    const before = readFileSync(out);
    const e = await build(source as Parameters<typeof build>[0], out, { sync: false }).catch((x: unknown) => x);
    expect(e, `source ${String(source)}`).toBeInstanceOf(IdxError);
    expect((e as IdxError).code).toBe(code);
    expect(readFileSync(out).equals(before)).toBe(true);
    expect(tempFilesIn(sub)).toEqual([]);
    return e as IdxError;
  }

  const badNumbers: [string, number][] = [
    ["-1", -1],
    ["1.5", 1.5],
    ["2^53 (a number that may be rounded)", 2 ** 53],
    ["NaN", NaN],
    ["Infinity", Infinity],
  ];
  for (const [what, n] of badNumbers) {
    it(`refuses a key or value of ${what} with ERR_IDX_INVALID_ARGUMENT`, async () => {
      await expectRefused([[1, 2], [n, 3]], "ERR_IDX_INVALID_ARGUMENT");
      await expectRefused([[1, 2], [3, n]], "ERR_IDX_INVALID_ARGUMENT");
      await expectRefused(new Map([[n, 3]]), "ERR_IDX_INVALID_ARGUMENT");
      await expectRefused({ keys: Float64Array.of(1, n), values: Float64Array.of(1, 2) }, "ERR_IDX_INVALID_ARGUMENT");
    });
  }

  it("refuses a string key with ERR_IDX_INVALID_ARGUMENT", async () => {
    await expectRefused([["5", 1]], "ERR_IDX_INVALID_ARGUMENT");
  });

  it("refuses a pair that is not a [key, value] array with ERR_IDX_INVALID_ARGUMENT", async () => {
    await expectRefused([[1, 2], 3], "ERR_IDX_INVALID_ARGUMENT");
    await expectRefused([[1]], "ERR_IDX_INVALID_ARGUMENT");
    await expectRefused([null], "ERR_IDX_INVALID_ARGUMENT");
  });

  it("refuses columns of different lengths with ERR_IDX_INVALID_ARGUMENT", async () => {
    await expectRefused({ keys: Uint32Array.of(1, 2), values: Uint32Array.of(1) }, "ERR_IDX_INVALID_ARGUMENT");
  });

  it("refuses BigInt keys and values outside 0..2^64 - 1 with an IdxError, not a TypeError", async () => {
    await expectRefused([[2n ** 64n, 2]], "ERR_IDX_INVALID_ARGUMENT");
    await expectRefused([[1, -1n]], "ERR_IDX_INVALID_ARGUMENT");
  });

  it("refuses a source that is not pairs at all (a number, null) with an IdxError, not a TypeError", async () => {
    await expectRefused(42, "ERR_IDX_INVALID_ARGUMENT");
    await expectRefused(null, "ERR_IDX_INVALID_ARGUMENT");
  });

  it("refuses an output in a missing directory with ERR_IDX_IO naming the path", async () => {
    const out = join(dir, "no", "such", "dir", "x.idx");
    const e = await build([[1, 1]], out, { sync: false }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(IdxError);
    expect((e as IdxError).code).toBe("ERR_IDX_IO");
    expect((e as IdxError).message).toContain(out);
  });

  it("refuses an output path that is a directory with ERR_IDX_IO, leaving it and its contents alone", async () => {
    const sub = makeTempDir("idx-build-outdir-");
    const target = join(sub, "a-directory");
    mkdirSync(target);
    const e = await build([[1, 1]], target, { sync: false }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(IdxError);
    expect((e as IdxError).code).toBe("ERR_IDX_IO");
    expect(statSync(target).isDirectory()).toBe(true);
    expect(tempFilesIn(sub)).toEqual([]);
  });

  it("stops with ERR_IDX_INTERRUPTED for an already-aborted signal, touching nothing", async () => {
    const sub = makeTempDir("idx-build-abort-");
    const out = join(sub, "target.idx");
    await build([[1, 1]], out, { sync: false });
    const before = readFileSync(out);
    const e = await build([[2, 2]], out, { signal: AbortSignal.abort(), sync: false }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(IdxError);
    expect((e as IdxError).code).toBe("ERR_IDX_INTERRUPTED");
    expect(readFileSync(out).equals(before)).toBe(true);
    expect(tempFilesIn(sub)).toEqual([]);
  });

  it("stops with ERR_IDX_INTERRUPTED when the signal aborts while an async source is read, creating nothing", async () => {
    const sub = makeTempDir("idx-build-abort-async-");
    const out = join(sub, "never.idx");
    const controller = new AbortController();
    async function* pairs(): AsyncGenerator<[number, number]> {
      for (let i = 0; i < 300_000; i++) {
        if (i === 1000) controller.abort();
        yield [i, i];
      }
    }
    const e = await build(pairs(), out, { signal: controller.signal, sync: false }).catch((x: unknown) => x);
    expect((e as IdxError).code).toBe("ERR_IDX_INTERRUPTED");
    expect(existsSync(out)).toBe(false);
    expect(tempFilesIn(sub)).toEqual([]);
  });
});

describe("replacing an existing index", () => {
  it("replaces the file atomically: an index opened before follows to the new map (spec §11.4), a new open sees it too", async () => {
    const sub = makeTempDir("idx-build-replace-");
    const out = join(sub, "live.idx");
    const oldMap = new Map(Array.from({ length: 5000 }, (_, i) => [i, i * 2] as [number, number]));
    const newMap = new Map(Array.from({ length: 3000 }, (_, i) => [i + 2500, MAX_U32 - i] as [number, number]));
    await build(oldMap, out);
    const before = IdIndex.open(out);
    expectIndexMatches(before, oldMap, [5000, 6000, MAX_U32]);
    await build(newMap, out);
    const after = IdIndex.open(out);
    if (after.info().access === "copied") {
      // Without the addon a reader holds a copy, which its timer reads again within 100 ms.
      for (let i = 0; i < 100 && before.get(2500) !== newMap.get(2500); i++) await new Promise((r) => setTimeout(r, 20));
    }
    expectIndexMatches(before, newMap, [0, 1, 2499, 5500]);
    expectIndexMatches(after, newMap, [0, 1, 2499, 5500]);
    before.close();
    after.close();
    expect(verify(out).ok).toBe(true);
    expect(tempFilesIn(sub)).toEqual([]);
  });

  it("keeps the permission bits of the file it replaces", async () => {
    const sub = makeTempDir("idx-build-mode-");
    const out = join(sub, "private.idx");
    await build([[1, 1]], out, { sync: false });
    chmodSync(out, 0o600);
    await build([[2, 2]], out, { sync: false });
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(openMap(out)).toEqual(new Map([[2, 2]]));
    // Exactly, not reduced by the umask (022 would take group write away).
    chmodSync(out, 0o664);
    await build([[3, 3]], out, { sync: false });
    expect(statSync(out).mode & 0o777).toBe(0o664);
  });

  it("gives a new index the mode any new file gets: 0666 less the umask", async () => {
    const out = join(makeTempDir("idx-build-newmode-"), "new.idx");
    await build([[1, 1]], out, { sync: false });
    const umask = process.umask(0o022);
    process.umask(umask);
    expect(statSync(out).mode & 0o777).toBe(0o666 & ~umask);
  });
});

describe("bounded memory: past memoryPairs, pairs are spilled by hash to temp files, with the same bytes", () => {
  const MEM = 1024;

  it("50,000 pairs with duplicates across spills and the escaped key twice: the bytes of an in-memory build", async () => {
    const sub = makeTempDir("idx-spill-");
    const pairs: [number, number][] = [];
    for (let i = 0; i < 50_000; i++) pairs.push([(i * 2654435761) % 30_011 >>> 0, i]);
    pairs.push([SPEC_ESCAPED_KEY, 1], [5, 5], [SPEC_ESCAPED_KEY, 2]);
    const spilled = join(sub, "spilled.idx");
    const inMemory = join(sub, "memory.idx");
    const r = await build(pairs, spilled, { sync: false, memoryPairs: MEM });
    await build(pairs, inMemory, { sync: false });
    expect(r.tempBytes).toBeGreaterThan(50_000 * 8 * 0.9);
    expect(readFileSync(spilled).equals(readFileSync(inMemory))).toBe(true);
    expect(r.pairs).toBe(pairs.length);
    expect(tempFilesIn(sub)).toEqual([]);
  });

  it("a hash group larger than memoryPairs is split on disk by the next byte; one key given 5,000 times keeps its last value", async () => {
    const sub = makeTempDir("idx-spill-split-");
    const pairs: [number, number][] = [];
    for (let i = 0; i < 6000; i++) pairs.push([specUnhash((0x12000000 + i * 97) >>> 0), i]); // one top byte
    for (let i = 0; i < 5000; i++) pairs.push([7, i]); // one hash, 5,000 times
    const spilled = join(sub, "split.idx");
    const inMemory = join(sub, "memory.idx");
    await build(pairs, spilled, { sync: false, memoryPairs: MEM });
    await build(pairs, inMemory, { sync: false });
    expect(readFileSync(spilled).equals(readFileSync(inMemory))).toBe(true);
    expect(openMap(spilled).get(7)).toBe(4999);
    expect(tempFilesIn(sub)).toEqual([]);
  });

  it("text and binary input spill the same way, and a bad line after a spill leaves the target and no temp file", async () => {
    const sub = makeTempDir("idx-spill-text-");
    const lines = Array.from({ length: 20_000 }, (_, i) => `${(i * 40503) >>> 0}\t${i}`);
    const text = join(sub, "pairs.tsv");
    writeFileSync(text, lines.join("\n") + "\n");
    const bin = Buffer.alloc(20_000 * 8);
    lines.forEach((l, i) => {
      const [k, v] = l.split("\t").map(Number);
      bin.writeUInt32LE(k, 8 * i);
      bin.writeUInt32LE(v, 8 * i + 4);
    });
    const binFile = join(sub, "pairs.bin");
    writeFileSync(binFile, bin);
    const a = join(sub, "a.idx");
    const b = join(sub, "b.idx");
    const c = join(sub, "c.idx");
    await buildFromText(text, a, { sync: false, memoryPairs: MEM });
    await buildFromBinary(binFile, b, { sync: false, memoryPairs: MEM });
    await buildFromText(text, c, { sync: false });
    expect(readFileSync(a).equals(readFileSync(c))).toBe(true);
    expect(readFileSync(b).equals(readFileSync(c))).toBe(true);
    const bad = join(sub, "bad.tsv");
    writeFileSync(bad, lines.join("\n") + "\nnot a pair\n");
    const before = readFileSync(a);
    await expect(buildFromText(bad, a, { sync: false, memoryPairs: MEM })).rejects.toMatchObject({ code: "ERR_IDX_PARSE", line: 20_001 });
    expect(readFileSync(a).equals(before)).toBe(true);
    expect(tempFilesIn(sub)).toEqual([]);
  });

  it("an async iterable of column chunks (the API's stream) spills and gives the same bytes", async () => {
    const sub = makeTempDir("idx-spill-chunks-");
    async function* chunks() {
      for (let c = 0; c < 20; c++) {
        const keys = new Uint32Array(1000).map((_, i) => (c * 1000 + i) * 7);
        yield { keys, values: keys.map((k) => k + 1) };
      }
    }
    const spilled = join(sub, "chunks.idx");
    const r = await build(chunks(), spilled, { sync: false, memoryPairs: MEM });
    expect(r.count).toBe(20_000);
    const flat: [number, number][] = [];
    for (let i = 0; i < 20_000; i++) flat.push([i * 7, i * 7 + 1]);
    const reference = join(sub, "flat.idx");
    await build(flat, reference, { sync: false });
    expect(readFileSync(spilled).equals(readFileSync(reference))).toBe(true);
  });

  it("an abort while spilling leaves the target untouched and no temp file", async () => {
    const sub = makeTempDir("idx-spill-abort-");
    const target = join(sub, "t.idx");
    await build([[1, 1]], target, { sync: false });
    const before = readFileSync(target);
    const controller = new AbortController();
    async function* slow() {
      for (let c = 0; c < 100; c++) {
        if (c === 10) controller.abort();
        yield { keys: new Uint32Array(1000).map((_, i) => c * 1000 + i), values: new Uint32Array(1000) };
      }
    }
    await expect(build(slow(), target, { sync: false, memoryPairs: MEM, signal: controller.signal })).rejects.toMatchObject({ code: "ERR_IDX_INTERRUPTED" });
    expect(readFileSync(target).equals(before)).toBe(true);
    expect(tempFilesIn(sub)).toEqual([]);
  });
});

describe("columns past a million pairs (the addon's columns grow to their limit at once)", () => {
  it("3 M pairs in chunks, keys 32-bit for the first 1.5 M and 64-bit after, values widening at 2 M: every pair, the bytes of a spilled build", async () => {
    const sub = makeTempDir("idx-jump-");
    const n = 3_000_000;
    const CHUNK = 250_000;
    const keyOf = (i: number) => (i < 1_500_000 ? Math.imul(i, 2654435761) >>> 0 : 2 ** 32 + i * 7);
    const valueOf = (i: number) => (i < 2_000_000 ? i : 2 ** 40 + i);
    async function* chunks() {
      for (let at = 0; at < n; at += CHUNK) {
        const keys = new BigUint64Array(CHUNK);
        const values = new BigUint64Array(CHUNK);
        for (let j = 0; j < CHUNK; j++) {
          keys[j] = BigInt(keyOf(at + j));
          values[j] = BigInt(valueOf(at + j));
        }
        yield { keys, values };
      }
    }
    const inMemory = join(sub, "memory.idx");
    const spilled = join(sub, "spilled.idx");
    const r = await build(chunks(), inMemory, { sync: false });
    const s = await build(chunks(), spilled, { sync: false, memoryPairs: 1 << 20 });
    expect([r.pairs, r.count, r.tempBytes]).toEqual([n, n, 0]);
    expect(s.tempBytes).toBeGreaterThan(0);
    expect(readFileSync(inMemory).equals(readFileSync(spilled))).toBe(true);
    const ix = IdIndex.open(inMemory);
    try {
      expect([ix.keyBits, ix.valueBits]).toEqual([64, 64]);
      for (const i of [0, 1, 1_048_575, 1_048_576, 1_048_577, 1_499_999, 1_500_000, 1_999_999, 2_000_000, 2_097_152, n - 1]) {
        expect(ix.get(keyOf(i)), `pair ${i}`).toBe(valueOf(i));
      }
    } finally {
      ix.close();
    }
    expect(tempFilesIn(sub)).toEqual([]);
  }, 60_000);
});
