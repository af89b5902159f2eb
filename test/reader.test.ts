/**
 * The read path against a Map model: get/has/getMany/iteration/size for structured and random
 * key sets; the full uint32 domain and the escaped key; close(); info(); and open()'s refusal
 * of every file that is not an intact index, with typed errors naming the file.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ESCAPED_KEY, IdIndex, IdxError, VERSION_MAJOR, VERSION_MINOR, build, verify } from "../src/index";
import { OFF, PNG_HEADER, fixHeaderChecksum, ownCopy, withBitFlipped } from "./helpers/bytes";
import { MAX_U32, SPEC_ESCAPED_KEY, missesFor, specHash, specUnhash, structuredKeySets, withValues } from "./helpers/keys";
import { expectIndexMatches } from "./helpers/model";
import { makeTempDir, removeTempDirs } from "./helpers/tmp";
import { homeSlot } from "../src/core/hash";
import { homeFunction, homeIn, makeGet, makeWindowedGet } from "../src/reader/lookups";

let dir: string;
let seq = 0;
beforeAll(() => {
  dir = makeTempDir("idx-reader-");
});
afterAll(removeTempDirs);

const fresh = (name = "ix") => join(dir, `${name}-${seq++}.idx`);

async function buildOpen(pairs: Iterable<readonly [number, number]>): Promise<{ ix: IdIndex; path: string }> {
  const path = fresh();
  await build(pairs, path, { sync: false });
  return { ix: IdIndex.open(path), path };
}

/** Expects `fn` to throw an IdxError with `code` whose message names `path`. */
function expectIdxError(fn: () => unknown, code: string | string[], path?: string): IdxError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, "expected an IdxError to be thrown").toBeInstanceOf(IdxError);
  const e = error as IdxError;
  if (Array.isArray(code)) expect(code).toContain(e.code);
  else expect(e.code).toBe(code);
  if (path !== undefined) expect(e.message).toContain(path);
  return e;
}

describe("model: structured key sets answer exactly like a Map", () => {
  for (const n of [1, 2, 7, 8, 9, 100, 3000]) {
    const sets = structuredKeySets(n, n);
    for (const [name, keys] of Object.entries(sets)) {
      it(`${name} (n=${n})`, async () => {
        const map = new Map(withValues(keys, n));
        const { ix, path } = await buildOpen(map);
        expectIndexMatches(ix, map, missesFor(map, 300, n));
        ix.close();
        const report = verify(path);
        expect(report.problems).toEqual([]);
        expect(report.ok).toBe(true);
        expect(report.entries).toBe(map.size);
      });
    }
  }

  it("a dense cluster at the last home slot spills past the home range and stays findable", async () => {
    // 64 keys whose hashes all map to the last home slot: their run must continue in the
    // spill slots after it, and every miss aimed between them must still be a miss.
    const keys = Array.from({ length: 64 }, (_, i) => specUnhash(0xfffffffe - 2 * i));
    const map = new Map(withValues(keys, 9));
    const misses = Array.from({ length: 64 }, (_, i) => specUnhash(0xfffffffe - 2 * i - 1));
    const { ix, path } = await buildOpen(map);
    expectIndexMatches(ix, map, [...misses, ...missesFor(map)]);
    ix.close();
    expect(verify(path).ok).toBe(true);
  });
});

describe("model: random pair lists answer exactly like a Map (property)", () => {
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: MAX_U32 }) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 300 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }).map((i) => (i << 24) >>> 0) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 400 }).map((i) => specUnhash(0x7fffff00 + i)) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 100 }).map((i) => specUnhash(0xfffffffe - i)) },
    { weight: 1, arbitrary: fc.constantFrom(0, 1, MAX_U32, MAX_U32 - 1, SPEC_ESCAPED_KEY) },
  );
  const value = fc.oneof(fc.integer({ min: 0, max: MAX_U32 }), fc.constantFrom(0, MAX_U32));

  it("for lists of up to 400 pairs mixing random, small, high-bit, clustered and edge keys", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(key, value), { maxLength: 400 }), fc.array(key, { maxLength: 50 }), async (pairs, probes) => {
        const map = new Map(pairs);
        const misses = [...new Set([...probes, ...missesFor(map, 50)])].filter((k) => !map.has(k));
        const { ix } = await buildOpen(pairs);
        try {
          expectIndexMatches(ix, map, misses);
        } finally {
          ix.close();
        }
      }),
      { numRuns: 80 },
    );
  });
});

describe("the whole uint32 domain", () => {
  it("treats 0, 4294967295 and the escaped key as ordinary keys and values", async () => {
    expect(ESCAPED_KEY).toBe(SPEC_ESCAPED_KEY);
    expect(specHash(ESCAPED_KEY)).toBe(0xffffffff);
    const pairs: [number, number][] = [
      [0, MAX_U32],
      [MAX_U32, 0],
      [ESCAPED_KEY, MAX_U32],
      [1, ESCAPED_KEY],
    ];
    const map = new Map(pairs);
    const { ix } = await buildOpen(pairs);
    expectIndexMatches(ix, map, [2, MAX_U32 - 1, ESCAPED_KEY - 1, ESCAPED_KEY + 1]);
    ix.close();
  });

  it("stores value 0 for the escaped key and tells it apart from absence", async () => {
    const { ix } = await buildOpen([[ESCAPED_KEY, 0], [5, 0]]);
    expect(ix.get(ESCAPED_KEY)).toBe(0);
    expect(ix.has(ESCAPED_KEY)).toBe(true);
    const values = new Uint32Array(3).fill(9);
    const found = new Uint8Array(3);
    expect(ix.getMany(Uint32Array.of(ESCAPED_KEY, 6, 5), values, found)).toBe(2);
    expect([...found]).toEqual([1, 0, 1]);
    expect([...values]).toEqual([0, 0, 0]);
    ix.close();
  });

  it("reports the escaped key as absent when it was not built in", async () => {
    const { ix } = await buildOpen([[1, 1], [ESCAPED_KEY - 1, 2], [ESCAPED_KEY + 1, 3]]);
    expect(ix.get(ESCAPED_KEY)).toBeUndefined();
    expect(ix.has(ESCAPED_KEY)).toBe(false);
    const values = new Uint32Array(1);
    const found = new Uint8Array(1).fill(1);
    expect(ix.getMany(Uint32Array.of(ESCAPED_KEY), values, found, 77)).toBe(0);
    expect(found[0]).toBe(0);
    expect(values[0]).toBe(77);
    expect([...ix.keys()]).not.toContain(ESCAPED_KEY);
    ix.close();
  });

  it("answers 'absent' for numbers that are not uint32, never the value of a wrapped key", async () => {
    // 2^32 wraps to 0, -1 to 4294967295, 2^32+5 to 5, 1.5 truncates to 1: none may match.
    const { ix } = await buildOpen([[0, 10], [MAX_U32, 20], [5, 30], [1, 40]]);
    for (const k of [2 ** 32, -1, 2 ** 32 + 5, 1.5, -0.5, NaN, Infinity, -Infinity, 2 ** 53]) {
      expect(ix.get(k), `get(${k})`).toBeUndefined();
      expect(ix.has(k), `has(${k})`).toBe(false);
    }
    ix.close();
  });
});

describe("the get's home slot (reader/lookups.ts) is §4's, for every capacity a get takes", () => {
  /** Hashes whose product with `capacity` has the low 32 bits `t` for t in [from, to) (capacity odd). */
  const hashesWithLow = (capacity: number, from: number, to: number): number[] => {
    let inv = 1n;
    for (let i = 0; i < 6; i++) inv = (inv * (2n - BigInt(capacity) * inv)) & 0xffffffffn; // capacity^-1 mod 2^32
    const out: number[] = [];
    for (let t = from; t < to; t++) out.push(Number((BigInt(t) * inv) & 0xffffffffn));
    return out;
  };
  const exact = (hash: number, capacity: number): number => Number((BigInt(hash) * BigInt(capacity)) >> 32n);
  const edges = [0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1];

  it("one window: homeFunction and homeIn equal homeSlot at the edges, at random, and where one multiply rounds up to the next slot", () => {
    let roundedUp = 0;
    for (const capacity of [1, 2, 1023, 2 ** 21, 2 ** 21 + 1, 3_000_017, 11_443_201, 2 ** 28 - 3, 2 ** 28 - 1, 2 ** 28]) {
      const home = homeFunction(capacity);
      const random = Array.from({ length: 20_000 }, (_, i) => specHash(i * 2654435761));
      // The top 2^16 low words take the exact path; the 2^16 below them must not need it.
      const near = capacity % 2 === 1 ? hashesWithLow(capacity, 2 ** 32 - 2 ** 17, 2 ** 32) : [];
      for (const hash of [...edges, ...random, ...near]) {
        const want = exact(hash, capacity);
        const inline = homeIn(hash, capacity, capacity / 2 ** 32);
        if (home(hash) !== want || inline !== want || homeSlot(hash, capacity) !== want) {
          expect.fail(`capacity ${capacity}, hash ${hash}: ${home(hash)}, ${inline}, want ${want}`);
        }
        if (Math.floor(hash * (capacity / 2 ** 32)) !== want) roundedUp++;
      }
    }
    expect(roundedUp).toBeGreaterThan(0); // one multiply alone is wrong for some: the guard is needed
    expect(() => homeFunction(2 ** 28 + 1)).toThrow(RangeError);
  });

  it("several windows: the window and the slot in it for capacities up to 2^33", () => {
    const slots = 1 << 10;
    for (const capacity of [2 ** 28 + 1, 343_597_385, 1_143_480_001, 2 ** 33 - 3, 2 ** 33 - 1]) {
      // A get over stand-in windows of 2^10 slots, each holding only the home slot's hash:
      // find reports the window and word it probed (or NOT_DECIDED past a window's end).
      const windowSlots = 2 ** Math.ceil(Math.log2(capacity / 64)); // 64 to 128 windows
      const count = Math.ceil((capacity + 64) / windowSlots);
      const probes: Array<[number, number]> = [];
      const windows = Array.from({ length: count }, (_, k) => new Proxy(new Uint32Array(2 * slots), {
        get(target, prop) {
          if (prop === "length") return 2 * windowSlots + 2 * 64;
          if (typeof prop === "string" && /^\d+$/.test(prop)) {
            probes.push([k, Number(prop)]);
            return 0xffffffff;
          }
          return Reflect.get(target, prop);
        },
      }) as unknown as Uint32Array);
      const header = new Uint32Array(32);
      const slow = { slowGet: () => undefined };
      const { get } = makeWindowedGet(slow, header, windows, windowSlots, capacity, 2 * 64, { idWord: 3, id: 0, dead: -1, closure: 0 });
      const near = hashesWithLow(capacity, 2 ** 32 - 2 ** 16 - 2000, 2 ** 32);
      for (const hash of [...edges.slice(0, -1), ...near]) {
        probes.length = 0;
        get(specUnhash(hash));
        const want = exact(hash, capacity);
        const [k, word] = probes[0];
        if (k * windowSlots + word / 2 !== want) expect.fail(`capacity ${capacity}, hash ${hash}: window ${k} word ${word}, want slot ${want}`);
      }
    }
    expect(() => makeWindowedGet({ slowGet: () => undefined }, new Uint32Array(32), [], 3000, 2 ** 30, 64, { idWord: 3, id: 0, dead: -1, closure: 0 })).toThrow(RangeError);
  });
});

/**
 * A version 2 slot array of `slotCount` empty slots filled by `fill`, a view of it that records
 * the last word index read (reads.last, the largest since it was reset to -1), and a header
 * whose identity word 3 is 0x5eed, for makeGet's tests.
 */
function watchedTable(slotCount: number, fill: (slots: Uint32Array) => void) {
  const slots = new Uint32Array(slotCount * 2);
  for (let s = 0; s < slotCount; s++) slots[2 * s] = 0xffffffff;
  fill(slots);
  const reads = { last: -1 };
  const watched = new Proxy(slots, {
    get(target, prop) {
      if (typeof prop === "string" && /^\d+$/.test(prop)) reads.last = Math.max(reads.last, Number(prop));
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const header = new Uint32Array(32);
  header[3] = 0x5eed;
  return { slots, watched, header, reads };
}

describe("the one-window get's scan (reader/lookups.ts makeGet): every stop, at every reach", () => {
  // A table of capacity 64 (home = hash >>> 26) whose slots HOME.. hold one run of RUN entries,
  // all of home HOME, the first hash 2^26 * HOME + 10 and the rest 10 apart, then EMPTY to the
  // sentinel. Each lookup of an entry, of the hashes just below and above each, and of one past
  // the run is checked against §5.3 done by hand, at each reach: within it the answer, past it
  // the slow path (told the probe is undecided) and never a read of a slot past home + reach. At
  // a reach of 3 or more the scan reads the four slots from home with no bound check (NEAR_SLOTS).
  const CAPACITY = 64;
  const HOME = 5;
  const RUN = 12;
  const slotCount = CAPACITY + 8;
  const first = HOME * 2 ** 26 + 10;
  const hashes = Array.from({ length: RUN }, (_, d) => first + 10 * d);

  // Both scans of the four (lookups.ts scanOf): with a branch on each, and counted (a table past
  // countPastBytes, here any).
  for (const reach of [0, 1, 2, 3, 4, 5, 8, 11, 20]) for (const scan of ["branches", "count"] as const) {
    it(`reach ${reach}, the four slots from home scanned by ${scan}`, () => {
      const { slots, watched, header, reads } = watchedTable(slotCount, (t) => hashes.forEach((h, d) => t.set([h, 1000 + d], 2 * (HOME + d))));
      const slowCalls: Array<[number, boolean]> = [];
      const slow = {
        slowGet: (hash: number, _s1: number, _s2: number, _value: number | undefined, undecided: boolean) => {
          slowCalls.push([hash, undecided]);
          return -7;
        },
      };
      const check = { idWord: 3, id: 0x5eed, dead: -1, closure: 0 };
      const { get, getOr, has } = makeGet(slow, header, watched, CAPACITY, reach * 2, check, scan === "count" ? 0 : Infinity);
      const probed = [...hashes.flatMap((h) => [h - 1, h, h + 1]), first + 10 * RUN];
      for (const hash of probed) {
        expect(homeSlot(hash, CAPACITY)).toBe(HOME);
        // §5.3 by hand: the first slot from home whose hash is not smaller, within the reach.
        let stop = HOME;
        while (stop < HOME + reach && slots[2 * stop] < hash) stop++;
        const undecided = slots[2 * stop] < hash;
        const want = undecided ? -7 : slots[2 * stop] === hash ? slots[2 * stop + 1] : undefined;
        for (const [name, answer, expected] of [
          ["get", () => get(specUnhash(hash)), want],
          ["getOr", () => getOr(specUnhash(hash), -1), want ?? -1],
          ["has", () => has(specUnhash(hash)), want !== undefined],
        ] as const) {
          reads.last = -1;
          slowCalls.length = 0;
          const got = answer();
          if (got !== expected) expect.fail(`${name} of hash ${hash} at reach ${reach}: ${got}, want ${expected}`);
          expect(slowCalls, `${name} of hash ${hash}: the slow path`).toEqual(undecided ? [[hash, true]] : []);
          expect(reads.last, `${name} of hash ${hash}: the last word read`).toBeLessThanOrEqual(2 * (HOME + reach) + 1);
        }
      }
    });
  }
});

describe("the one-window get near the end of the slot region", () => {
  it("a region that ends with the sentinel right after the last home slot: no word past it is read, at any reach", () => {
    // Capacity 64, slot count 65 (no spill slot but the sentinel): the last home slot, 63, holds
    // an entry; a lookup there must not read four slots from home when only two are left.
    const CAPACITY = 64;
    const slotCount = CAPACITY + 1;
    const hash = 63 * 2 ** 26 + 7;
    for (const reach of [1, 3, 4, 64]) for (const countPastBytes of [Infinity, 0]) {
      const { slots, watched, header, reads } = watchedTable(slotCount, (t) => t.set([hash, 4242], 2 * 63));
      const check = { idWord: 3, id: 0x5eed, dead: -1, closure: 0 };
      const { get, has } = makeGet({ slowGet: () => -7 }, header, watched, CAPACITY, reach * 2, check, countPastBytes);
      for (const [h, want] of [[hash, 4242], [hash + 1, undefined], [hash - 1, undefined]] as const) {
        reads.last = -1;
        expect(get(specUnhash(h)), `reach ${reach}, hash ${h}`).toBe(want);
        expect(has(specUnhash(h))).toBe(want !== undefined);
        expect(reads.last, `reach ${reach}, hash ${h}: the last word read`).toBeLessThan(slots.length);
      }
    }
  });
});

describe("getMany", () => {
  it("fills values and found for each key, returns the hits, and uses `missing` for absent keys", async () => {
    const { ix } = await buildOpen([[1, 0], [2, MAX_U32], [3, 33]]);
    const keys = Uint32Array.of(1, 4, 2, 3, 0, 3, MAX_U32);
    const values = new Uint32Array(keys.length).fill(5);
    const found = new Uint8Array(keys.length).fill(5);
    expect(ix.getMany(keys, values, found)).toBe(4);
    expect([...values]).toEqual([0, 0, MAX_U32, 33, 0, 33, 0]);
    expect([...found]).toEqual([1, 0, 1, 1, 0, 1, 0]);
    const values2 = new Uint32Array(keys.length);
    expect(ix.getMany(keys, values2, undefined, 12345)).toBe(4);
    expect([...values2]).toEqual([0, 12345, MAX_U32, 33, 12345, 33, 12345]);
    ix.close();
  });

  it("accepts empty keys and longer outputs", async () => {
    const { ix } = await buildOpen([[1, 1]]);
    expect(ix.getMany(new Uint32Array(0), new Uint32Array(0))).toBe(0);
    const values = new Uint32Array(4).fill(9);
    expect(ix.getMany(Uint32Array.of(1, 2), values, new Uint8Array(10))).toBe(1);
    expect([...values.subarray(0, 2)]).toEqual([1, 0]);
    ix.close();
  });

  it("refuses outputs shorter than the keys with ERR_IDX_INVALID_ARGUMENT", async () => {
    const { ix } = await buildOpen([[1, 1]]);
    expectIdxError(() => ix.getMany(Uint32Array.of(1, 2, 3), new Uint32Array(2)), "ERR_IDX_INVALID_ARGUMENT");
    expectIdxError(() => ix.getMany(Uint32Array.of(1, 2, 3), new Uint32Array(3), new Uint8Array(2)), "ERR_IDX_INVALID_ARGUMENT");
    ix.close();
  });
});

describe("close()", () => {
  it("makes every later use throw ERR_IDX_CLOSED", async () => {
    const { ix, path } = await buildOpen([[1, 1], [2, 2], [ESCAPED_KEY, 3]]);
    ix.close();
    const uses: [string, () => unknown][] = [
      ["get", () => ix.get(1)],
      ["get(escaped)", () => ix.get(ESCAPED_KEY)],
      ["has", () => ix.has(1)],
      ["has(escaped)", () => ix.has(ESCAPED_KEY)],
      ["size", () => ix.size],
      ["getMany", () => ix.getMany(Uint32Array.of(1), new Uint32Array(1))],
      ["for..of", () => [...ix]],
      ["entries", () => [...ix.entries()]],
      ["keys", () => [...ix.keys()]],
      ["values", () => [...ix.values()]],
      ["forEach", () => ix.forEach(() => undefined)],
      ["info", () => ix.info()],
      ["verify", () => ix.verify()],
    ];
    for (const [what, use] of uses) {
      const e = expectIdxError(use, "ERR_IDX_CLOSED");
      expect(e.message, what).toContain(path);
    }
  });

  it("makes an iteration that was under way throw ERR_IDX_CLOSED, not end early as if complete", async () => {
    const { ix } = await buildOpen(Array.from({ length: 100 }, (_, i) => [i, i] as [number, number]));
    const iterator = ix.entries();
    expect(iterator.next().done).toBe(false);
    ix.close();
    expectIdxError(() => iterator.next(), "ERR_IDX_CLOSED");
  });

  it("Symbol.dispose closes it (`using ix = IdIndex.open(...)`)", async () => {
    const { ix } = await buildOpen([[1, 1]]);
    ix[Symbol.dispose]();
    expect(ix.closed).toBe(true);
    expectIdxError(() => ix.get(1), "ERR_IDX_CLOSED");
  });

  it("closes only that handle: another open of the same file keeps working", async () => {
    const { ix, path } = await buildOpen([[1, 10]]);
    const other = IdIndex.open(path);
    ix.close();
    expect(other.get(1)).toBe(10);
    expect(other.size).toBe(1);
    other.close();
  });
});

describe("info()", () => {
  it("describes the file: version, count, capacity, load, fileBytes, bytesPerEntry", async () => {
    for (const n of [1, 10, 1000]) {
      const pairs = Array.from({ length: n }, (_, i) => [i * 3, i] as [number, number]);
      const { ix, path } = await buildOpen(pairs);
      const info = ix.info();
      const size = statSync(path).size;
      expect(info.version).toBe(`${VERSION_MAJOR}.${VERSION_MINOR}`);
      expect(VERSION_MAJOR).toBe(2);
      expect(info.count).toBe(n);
      expect(info.count).toBe(ix.size);
      expect(info.fileBytes).toBe(size);
      expect(info.capacity).toBeGreaterThanOrEqual(n);
      expect(info.load).toBeCloseTo(n / info.capacity, 12);
      expect(info.load).toBeLessThanOrEqual(1);
      expect(info.bytesPerEntry).toBeCloseTo(size / n, 12);
      ix.close();
    }
  });
});

describe("open() refuses what is not an intact index, with a typed error naming the file", () => {
  let good: Buffer;
  let goodPath: string;
  beforeAll(async () => {
    goodPath = fresh("good");
    await build(withValues([...Array.from({ length: 50 }, (_, i) => i * 7919), ESCAPED_KEY], 1), goodPath, { sync: false });
    good = readFileSync(goodPath);
  });

  function writeVariant(bytes: Uint8Array, name = "variant"): string {
    const path = fresh(name);
    writeFileSync(path, bytes);
    return path;
  }

  it("opens the intact file (the fixture every refusal below is made from)", () => {
    const ix = IdIndex.open(goodPath);
    expect(ix.size).toBe(51);
    ix.close();
  });

  it("a missing file: ERR_IDX_IO", () => {
    const path = join(dir, "does-not-exist.idx");
    expectIdxError(() => IdIndex.open(path), "ERR_IDX_IO", path);
  });

  it("a directory: an IdxError", () => {
    const path = join(dir, `a-dir-${seq++}`);
    mkdirSync(path);
    expectIdxError(() => IdIndex.open(path), ["ERR_IDX_IO", "ERR_IDX_NOT_AN_INDEX"], path);
  });

  it("an empty file: ERR_IDX_NOT_AN_INDEX", () => {
    const path = writeVariant(new Uint8Array(0), "empty");
    expectIdxError(() => IdIndex.open(path), "ERR_IDX_NOT_AN_INDEX", path);
  });

  it("foreign files (text, PNG, one byte, 128+ bytes of zeros or 0xFF): ERR_IDX_NOT_AN_INDEX", () => {
    const foreign: [string, Uint8Array][] = [
      ["text", Buffer.from("1\t2\n3\t4\n".repeat(40))],
      ["png", PNG_HEADER],
      ["one-byte", Uint8Array.of(0x41)],
      ["zeros", new Uint8Array(good.length)],
      ["ones", new Uint8Array(good.length).fill(0xff)],
      ["idx-magic-lowercase", Buffer.concat([Buffer.from("\x89idx\r\n\x1a\n", "latin1"), good.subarray(8)])],
      ["newline-mangled", Buffer.concat([good.subarray(0, 4), Buffer.from("\n\x1a\n"), good.subarray(8)])],
    ];
    for (const [name, bytes] of foreign) {
      const path = writeVariant(bytes, name);
      expectIdxError(() => IdIndex.open(path), "ERR_IDX_NOT_AN_INDEX", path);
    }
  });

  it("a file truncated at every length from 0 to size-1: refused (empty as not-an-index, the rest as truncated)", () => {
    const wrong: string[] = [];
    const path = fresh("truncated");
    for (let length = 0; length < good.length; length++) {
      writeFileSync(path, good.subarray(0, length));
      try {
        const ix = IdIndex.open(path);
        ix.close();
        wrong.push(`length ${length}: opened`);
      } catch (e) {
        const expected = length === 0 ? "ERR_IDX_NOT_AN_INDEX" : "ERR_IDX_TRUNCATED";
        if (!(e instanceof IdxError)) wrong.push(`length ${length}: ${String(e)}`);
        else if (e.code !== expected) wrong.push(`length ${length}: ${e.code}, expected ${expected}`);
        else if (!e.message.includes(path)) wrong.push(`length ${length}: message does not name the file`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("a multi-block file truncated at block boundaries and near its end: ERR_IDX_TRUNCATED", async () => {
    const big = fresh("big");
    await build(Array.from({ length: 3000 }, (_, i) => [i, i] as [number, number]), big, { sync: false });
    const bytes = readFileSync(big);
    const lengths = [OFF.slots, OFF.slots + 1, 4096 + OFF.slots, 4096 * 2 + OFF.slots, 4096 * 2 + OFF.slots - 1, bytes.length - 4, bytes.length - 1];
    for (const length of lengths) {
      const path = writeVariant(bytes.subarray(0, length), "big-cut");
      expectIdxError(() => IdIndex.open(path), "ERR_IDX_TRUNCATED", path);
    }
  });

  it("a file with bytes appended: ERR_IDX_CORRUPT (spec §9.1 rule 8)", () => {
    for (const extra of [Uint8Array.of(0), Uint8Array.of(0xff, 0xff, 0xff, 0xff), new Uint8Array(4096), good]) {
      const path = writeVariant(Buffer.concat([good, extra]), "appended");
      expectIdxError(() => IdIndex.open(path), "ERR_IDX_CORRUPT", path);
    }
  });

  it("a newer major version (header checksum fixed): ERR_IDX_UNSUPPORTED_VERSION", () => {
    for (const major of [4, 5, 0xffff]) {
      const bytes = ownCopy(good);
      bytes.writeUInt16LE(major, OFF.major);
      fixHeaderChecksum(bytes);
      const path = writeVariant(bytes, `major${major}`);
      const e = expectIdxError(() => IdIndex.open(path), "ERR_IDX_UNSUPPORTED_VERSION", path);
      expect(e.message).toContain(String(major));
    }
  });

  it("the major-version test edits are real: with major set back to 2 and the checksum fixed, the file opens", () => {
    const bytes = ownCopy(good);
    bytes.writeUInt16LE(3, OFF.major);
    fixHeaderChecksum(bytes);
    bytes.writeUInt16LE(2, OFF.major);
    fixHeaderChecksum(bytes);
    expect(bytes.equals(good)).toBe(true);
    const ix = IdIndex.open(writeVariant(bytes, "major1"));
    expect(ix.size).toBe(51);
    ix.close();
  });

  it("a newer major version is refused before its checksum or other fields are judged (spec §9.1, §10)", () => {
    // A newer major may lay out its header differently: nothing after the version means anything to v2.
    const bytes = ownCopy(good);
    bytes.fill(0xab, OFF.afterVersion, OFF.slots);
    bytes.writeUInt16LE(4, OFF.major);
    const path = writeVariant(bytes, "major4-odd");
    expectIdxError(() => IdIndex.open(path), "ERR_IDX_UNSUPPORTED_VERSION", path);
  });

  it("major version 0 (header checksum fixed): ERR_IDX_CORRUPT", () => {
    const bytes = ownCopy(good);
    bytes.writeUInt16LE(0, OFF.major);
    fixHeaderChecksum(bytes);
    const path = writeVariant(bytes, "major0");
    expectIdxError(() => IdIndex.open(path), "ERR_IDX_CORRUPT", path);
  });

  it("a header whose checksum does not match: ERR_IDX_CHECKSUM", () => {
    // Every header byte from the minor version to the last cell is covered by a checksum (spec
    // §6.1; the reserved bytes after the cells are verify's, and open() ignores them).
    for (let byte = OFF.minor; byte < 96; byte++) {
      for (const bit of [0, 5]) {
        const path = writeVariant(withBitFlipped(good, byte * 8 + bit), "badcrc");
        const e = expectIdxError(() => IdIndex.open(path), "ERR_IDX_CHECKSUM", path);
        expect(e.message, `byte ${byte} bit ${bit}`).toContain(path);
      }
    }
  });

  it("a newer minor version (checksum fixed) opens and reads correctly (spec §10)", () => {
    const bytes = ownCopy(good);
    bytes.writeUInt16LE(7, OFF.minor);
    fixHeaderChecksum(bytes);
    const path = writeVariant(bytes, "minor7");
    const ix = IdIndex.open(path);
    const expected = readMap(goodPath);
    expect(new Map(ix)).toEqual(expected);
    for (const [k, v] of expected) expect(ix.get(k)).toBe(v);
    ix.close();
  });

  it("validates the header only: damaged slots still open, and verify() reports them", () => {
    const bytes = ownCopy(good);
    bytes[OFF.slots + 4] ^= 0x01; // the value word of slot 0
    const path = writeVariant(bytes, "slotdamage");
    const ix = IdIndex.open(path);
    const report = ix.verify();
    expect(report.ok).toBe(false);
    expect(report.problems.length).toBeGreaterThan(0);
    ix.close();
  });
});

/** The map of an index file, read through a separate handle. */
function readMap(path: string): Map<number, number> {
  const ix = IdIndex.open(path);
  try {
    return new Map(ix);
  } finally {
    ix.close();
  }
}
