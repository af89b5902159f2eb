/**
 * Nothing a caller or a damaged file can do crashes the process, corrupts memory or launders
 * bad data (issue 10): arguments checked the same way on every path, close() that lets go at
 * once, a writer that refuses to build on damage, probes bounded by the file, and iteration of
 * a writer that is being changed.
 */
import { spawnSync } from "node:child_process";
import { closeSync, copyFileSync, openSync, readFileSync, writeFileSync, writeSync, ftruncateSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdIndex, IdWriter, IdxError, build, buildFromText, verify } from "../src/index";
import { OFF, fixHeaderChecksum, writeCell, withBitFlipped } from "./helpers/bytes";
import { requireFreshBuild } from "./helpers/cli";
import { errorOf } from "./helpers/errors";
import { ADDON, makeTempDir, removeTempDirs } from "./helpers/tmp";

const NO_SYNC = { sync: false } as const;
let dir: string;
let small: string;
let large: string;

beforeAll(async () => {
  requireFreshBuild();
  dir = makeTempDir("idx-hardening-");
  small = join(dir, "small.idx");
  await build(Array.from({ length: 1000 }, (_, i) => [i, i + 1] as [number, number]), small, NO_SYNC);
  large = join(dir, "large.idx");
  const keys = new Uint32Array(100_000).map((_, i) => i);
  await build({ keys, values: keys.map((k) => k * 2) }, large, NO_SYNC);
});
afterAll(removeTempDirs);

function expectInvalid(f: () => unknown, naming: string): IdxError {
  const e = errorOf(f);
  expect(e, `expected ERR_IDX_INVALID_ARGUMENT naming ${naming}`).toBeInstanceOf(IdxError);
  expect(e.code).toBe("ERR_IDX_INVALID_ARGUMENT");
  expect(e.message).toContain(naming);
  return e;
}

describe("every public function checks its arguments the same way on every path", () => {
  it("getMany refuses arrays of the wrong kind, below and above the batch the addon takes (64 keys)", () => {
    const ix = IdIndex.open(large);
    try {
      for (const n of [1, 63, 64, 5000]) {
        const keys = new Uint32Array(n).map((_, i) => i);
        const wrongArrays: unknown[] = [
          new Uint8Array(n * 4), Buffer.alloc(n * 4), new Uint16Array(n * 2), new Int32Array(n), new Float64Array(n),
          new BigInt64Array(n), Array.from(keys), null, "keys", 42,
        ];
        for (const wrong of wrongArrays) {
          expectInvalid(() => ix.getMany(wrong as Uint32Array, new Uint32Array(n)), "keys");
          expectInvalid(() => ix.getMany(keys, wrong as Uint32Array), "values");
        }
        // Keys may be 64-bit (spec §16: those above the file's 32-bit keys are absent); values
        // are the file's width: 32-bit here.
        expectInvalid(() => ix.getMany(keys, new BigUint64Array(n) as unknown as Uint32Array), "values");
        const wideKeys = new BigUint64Array(n).map((_, i) => (i % 2 === 0 ? BigInt(i) : 2n ** 40n + BigInt(i)));
        const values = new Uint32Array(n);
        const found = new Uint8Array(n);
        ix.getMany(wideKeys, values, found);
        for (let i = 0; i < n; i++) expect(found[i] === 1).toBe(i % 2 === 0 && ix.has(i));
        for (const wrong of [new Uint32Array(n), new Int8Array(n), Buffer.alloc(n).buffer, [1]]) {
          expectInvalid(() => ix.getMany(keys, new Uint32Array(n), wrong as Uint8Array), "found");
        }
        expectInvalid(() => ix.getMany(keys, new Uint32Array(n - 1)), "values");
        expectInvalid(() => ix.getMany(keys, new Uint32Array(n), new Uint8Array(n - 1)), "found");
        for (const missing of [-1, 1.5, 2 ** 32, "0", Number.NaN]) {
          expectInvalid(() => ix.getMany(keys, new Uint32Array(n), undefined, missing as number), "missing");
        }
      }
      expectInvalid(() => (ix.getMany as () => number)(), "keys");
    } finally {
      ix.close();
    }
  });

  it("get and has answer as a Map would for anything that is not a uint32: undefined and false", () => {
    const ix = IdIndex.open(small);
    try {
      for (const key of ["1", 1.5, -1, 2 ** 32, 2 ** 53, -1n, 2n ** 32n, 2n ** 64n, Number.NaN, undefined, null, {}, [1], Symbol("k"), () => 1]) {
        expect(ix.get(key as number), String(typeof key)).toBeUndefined();
        expect(ix.has(key as number)).toBe(false);
      }
      expect(ix.get(1)).toBe(2);
      expect(ix.get(1n)).toBe(2); // a key is a number or a bigint (spec §16): 1n is the key 1
      expect(ix.get(-0)).toBe(1); // -0 is the key 0, as for a Map
    } finally {
      ix.close();
    }
  });

  it.runIf(ADDON)("the writer: set refuses what get cannot find; delete answers false like Map.delete", () => {
    const path = join(dir, "w-args.idx");
    copyFileSync(small, path);
    const w = IdWriter.open(path, NO_SYNC);
    try {
      for (const key of ["1", 1.5, -1, 2 ** 53, -1n, 2n ** 64n, Number.NaN, undefined, null]) {
        expectInvalid(() => w.set(key as number, 1), "key");
        expectInvalid(() => w.set(1, key as number), "value");
        expect(w.delete(key as number)).toBe(false);
        expect(w.get(key as number)).toBeUndefined();
      }
      expectInvalid(() => w.update([[1, 2], ["3", 4]] as unknown as [number, number][]), "pair #1");
      expect(w.get(1)).toBe(2); // update checked every pair before changing anything
      expectInvalid(() => w.update(42 as unknown as Map<number, number>), "pairs");
      expectInvalid(() => w.forEach(7 as unknown as () => void), "callback");
      expectInvalid(() => w.copyTo(undefined as unknown as string), "path");
    } finally {
      w.close();
    }
  });

  it("paths and options: IdIndex.open, IdWriter.open, build, verify", async () => {
    for (const bad of [undefined, null, 1, "", "a\0b", {}]) {
      expectInvalid(() => IdIndex.open(bad as string), "path");
      expectInvalid(() => IdWriter.open(bad as string), "path");
      expectInvalid(() => verify(bad as string), "path");
      await expect(build([[1, 1]], bad as string)).rejects.toMatchObject({ code: "ERR_IDX_INVALID_ARGUMENT" });
    }
    expectInvalid(() => IdWriter.open(join(dir, "o.idx"), { wait: -1 }), "wait");
    expectInvalid(() => IdWriter.open(join(dir, "o.idx"), { create: "yes" as unknown as boolean }), "create");
    expectInvalid(() => IdWriter.open(join(dir, "o.idx"), 5 as unknown as object), "options");
    await expect(build([[1, 1]], join(dir, "b.idx"), { memoryPairs: 10 })).rejects.toMatchObject({ code: "ERR_IDX_INVALID_ARGUMENT" });
    await expect(build("pairs" as unknown as [number, number][], join(dir, "b.idx"))).rejects.toMatchObject({ code: "ERR_IDX_INVALID_ARGUMENT" });
    await expect(buildFromText(12 as unknown as string, join(dir, "b.idx"))).rejects.toMatchObject({ code: "ERR_IDX_INVALID_ARGUMENT" });
  });

  it("the addon checks every argument itself: wrong types and lengths throw, never crash (a child process tries them all)", () => {
    const script = `
      const path = require("node:path");
      const { addonCandidates } = require(path.join(${JSON.stringify(join(__dirname, "..", "dist", "os", "native.js"))}));
      const fs = require("node:fs");
      const file = addonCandidates().find((f) => fs.existsSync(f));
      const a = require(file);
      const values = [undefined, null, -1, 2 ** 40, 1.5, NaN, "x", 1n, {}, [], new Uint8Array(3), new Uint16Array(3),
        new Uint32Array(0), new Uint32Array(3), new Float64Array(1), Buffer.alloc(2), new ArrayBuffer(8), () => 0, true];
      let calls = 0, threw = 0;
      for (const name of Object.keys(a)) {
        if (typeof a[name] !== "function" || name === "constants" || name === "arena") continue;
        for (let arity = 0; arity <= 12; arity++) {
          for (let trial = 0; trial < 60; trial++) {
            const args = Array.from({ length: arity }, (_, i) => values[(trial * 7 + i * 13 + arity) % values.length]);
            calls++;
            try { a[name](...args); } catch { threw++; }
          }
        }
      }
      process.stdout.write(JSON.stringify({ calls, threw }));
    `;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 60_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const { calls, threw } = JSON.parse(r.stdout);
    expect(calls).toBeGreaterThan(5000);
    expect(threw).toBeGreaterThan(calls * 0.9);
  });
});

describe("close() lets go at once, and opening many indexes works or fails with an IdxError", () => {
  it("100,000 open + get + close in one synchronous loop", () => {
    for (let i = 0; i < 100_000; i++) {
      const ix = IdIndex.open(small);
      if (ix.get(7) !== 8) throw new Error(`wrong answer at ${i}`);
      ix.close();
    }
  });

  it("100,000 readers of one file open at once (they share one mapping; without the addon, 2,000 copies)", () => {
    const all: IdIndex[] = [];
    const n = ADDON ? 100_000 : 2000;
    try {
      for (let i = 0; i < n; i++) all.push(IdIndex.open(small));
      expect(all[n - 1].get(999)).toBe(1000);
    } finally {
      for (const ix of all) ix.close();
    }
  });

  it.runIf(ADDON)("a get function kept after close() cannot crash the process or answer from freed pages: it throws ERR_IDX_CLOSED", () => {
    const ix = IdIndex.open(large);
    const get = ix.get;
    expect(get(5)).toBe(10);
    ix.close();
    for (let k = 0; k < 1000; k++) expect(errorOf(() => get(k)).code, `key ${k}`).toBe("ERR_IDX_CLOSED");
    expect(() => ix.get(5)).toThrow(IdxError);
  });

  it.runIf(ADDON)("a writer that rehashes 45 times keeps none of the replaced files mapped", () => {
    const path = join(dir, "grow.idx");
    const w = IdWriter.open(path, NO_SYNC);
    try {
      for (let round = 0; round < 45; round++) w.compact();
      const mapped = readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes("grow.idx"));
      expect(mapped.filter((l) => l.endsWith("(deleted)"))).toEqual([]);
      expect(mapped.length).toBeLessThanOrEqual(1);
    } finally {
      w.close();
    }
  });
});

describe.runIf(ADDON)("the writer never builds on damage (issue 10: it must not launder a flipped bit)", () => {
  function damagedCopy(name: string, byteOffset: number): string {
    const path = join(dir, name);
    writeFileSync(path, withBitFlipped(readFileSync(large), byteOffset * 8 + 3));
    return path;
  }

  it("a set in a damaged block is refused with ERR_IDX_CHECKSUM naming the block; the file is unchanged and still fails verify", () => {
    const valueOfSlot100 = OFF.slots + 8 * 100 + 4;
    const path = damagedCopy("flip-value.idx", valueOfSlot100);
    const before = readFileSync(path);
    expect(verify(path).ok).toBe(false);
    const w = IdWriter.open(path, NO_SYNC);
    try {
      // Keys whose slots share block 0 with slot 100: any of the first few hundred entries.
      const ix = IdIndex.open(path);
      const sameBlock = [...ix].slice(0, 300).map(([k]) => k);
      ix.close();
      let refused = 0;
      for (const k of sameBlock.slice(0, 20)) {
        const e = errorOf(() => w.set(k, 12345));
        if (e instanceof IdxError && e.code === "ERR_IDX_CHECKSUM") {
          expect(e.message).toContain("block 0");
          refused++;
        }
      }
      expect(refused).toBe(20);
      expect(errorOf(() => w.compact()).code).toBe("ERR_IDX_CHECKSUM");
    } finally {
      w.close();
    }
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(verify(path).ok).toBe(false);
  });

  it("an empty slot made to look like an entry (more entries than the count): growing and compacting are refused, not a crash", () => {
    const emptySlotHash = findEmptySlot(readFileSync(large));
    const path = damagedCopy("flip-empty.idx", emptySlotHash);
    const w = IdWriter.open(path, NO_SYNC);
    try {
      const e = errorOf(() => w.compact());
      expect(e).toBeInstanceOf(IdxError);
      expect(e.code).toBe("ERR_IDX_CHECKSUM");
      const grow = errorOf(() => w.update(Array.from({ length: 60_000 }, (_, i) => [1e6 + i, 1] as [number, number])));
      expect(grow.code).toBe("ERR_IDX_CHECKSUM");
    } finally {
      w.close();
    }
  });
});

function findEmptySlot(bytes: Buffer): number {
  for (let s = 10; ; s++) if (bytes.readUInt32LE(OFF.slots + 8 * s) === 0xffffffff) return OFF.slots + 8 * s;
}

describe("§5.3 probing is bounded by the file: a damaged table costs at most reach + 1 slots a lookup", () => {
  it("a 1 GiB file of zeros behind a valid header (reach 0) answers 20,000 lookups at once", () => {
    const path = join(dir, "zeros.idx");
    const slotCount = 2 ** 27;
    const capacity = slotCount - 8;
    const header = Buffer.alloc(128);
    Buffer.from([0x89, 0x49, 0x44, 0x58, 0x0d, 0x0a, 0x1a, 0x0a]).copy(header);
    header.writeUInt16LE(2, 8);
    header.writeUInt32LE(capacity, 16);
    header.writeUInt32LE(slotCount, 24);
    fixHeaderChecksum(header);
    for (const off of [32, 40, 48, 56, 64, 72, 80, 88]) writeCell(header, off, 0);
    const fd = openSync(path, "w");
    writeSync(fd, header, 0, 128, 0);
    ftruncateSync(fd, 128 + 8 * slotCount + 4 * (slotCount / 512));
    const sentinel = Buffer.alloc(8);
    sentinel.writeUInt32LE(0xffffffff, 0);
    writeSync(fd, sentinel, 0, 8, 128 + 8 * (slotCount - 1));
    closeSync(fd);
    const ix = IdIndex.open(path);
    try {
      // Unbounded, each of these would scan a quarter of a billion slots (over a second each).
      for (let k = 1; k < 10_000; k++) expect(ix.get(k)).toBeUndefined();
      const keys = new Uint32Array(10_000).map((_, i) => i + 1);
      const found = new Uint8Array(keys.length);
      expect(ix.getMany(keys, new Uint32Array(keys.length), found)).toBe(0);
    } finally {
      ix.close();
    }
  });
});

describe.runIf(ADDON)("iterating a writer while changing it behaves as iterating a Map does", () => {
  it("set 0..999, then delete each key while iterating: none remain (issue 10: 274 remained)", () => {
    const w = IdWriter.open(join(dir, "iter-delete.idx"), NO_SYNC);
    try {
      for (let k = 0; k < 1000; k++) w.set(k, k);
      let visited = 0;
      for (const [k] of w) {
        w.delete(k);
        visited++;
      }
      expect(visited).toBe(1000);
      expect(w.size).toBe(0);
    } finally {
      w.close();
    }
  });

  it("every entry present throughout is visited exactly once, whatever is set, deleted or rehashed meanwhile (property)", () => {
    const path = join(dir, "iter-prop.idx");
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 300 }),
        fc.array(fc.tuple(fc.constantFrom("set", "set", "del", "del", "compact", "bulk"), fc.integer({ min: 0, max: 3000 })), { maxLength: 40 }),
        (initial, ops) => {
          const w = IdWriter.open(path, NO_SYNC);
          try {
            w.clear();
            for (const k of initial) w.set(k, k);
            const throughout = new Set(initial);
            const seen = new Map<number, number>();
            let i = 0;
            for (const [k] of w) {
              seen.set(k, (seen.get(k) ?? 0) + 1);
              if (i >= ops.length) continue;
              const [op, key] = ops[i++];
              if (op === "set") w.set(key, 1);
              else if (op === "del") {
                if (w.delete(key)) throughout.delete(key);
              } else if (op === "compact") w.compact();
              else w.update(Array.from({ length: 5000 }, (_, j) => [10_000 + j * 7 + key, 0] as [number, number]));
            }
            for (const [k, n] of seen) if (n !== 1) return false;
            for (const k of throughout) if (!seen.has(k)) return false;
            return true;
          } finally {
            w.close();
          }
        },
      ),
      { numRuns: 30, seed: 4242 },
    );
  });
});



describe("a second hostile pass over the API", () => {
  it.runIf(ADDON)("a reader's iterator that meets a replaced file goes on in the new one: no made-up pair, no early end", async () => {
    const path = join(makeTempDir("idx-iter-follow-"), "r.idx");
    await build(Array.from({ length: 1000 }, (_, i) => [i + 1, 7] as [number, number]), path, NO_SYNC);
    const ix = IdIndex.open(path);
    const w = IdWriter.open(path, NO_SYNC);
    const seen = new Map<number, number>();
    let visited = 0;
    for (const [k, v] of ix) {
      visited++;
      seen.set(k, v);
      if (visited === 10) w.compact(); // a new file renamed over the path
      ix.get(k); // a lookup moves the reader to it
    }
    w.close();
    expect([...seen].filter(([k, v]) => v !== 7 || k < 1 || k > 1000)).toEqual([]);
    expect(visited).toBeGreaterThanOrEqual(1000 - 10);
    ix.close();
  });

  it.runIf(ADDON)("a get kept from before the reader followed a replaced file answers from the new file, key 0 included", async () => {
    const path = join(makeTempDir("idx-kept-get-"), "k.idx");
    await build(Array.from({ length: 1000 }, (_, i) => [i, i + 1] as [number, number]), path, NO_SYNC);
    const ix = IdIndex.open(path);
    const { get, has } = ix;
    await build(Array.from({ length: 1000 }, (_, i) => [i, i + 2] as [number, number]), path, NO_SYNC);
    expect(ix.get(5)).toBe(7); // follows; the old mapping is let go, its pages read as zeros
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Key 0 hashes to 0: in zeroed pages it looked present with value 0 in a quiet file.
    const wrong = Array.from({ length: 1000 }, (_, k) => k).filter((k) => get(k) !== k + 2);
    expect(wrong).toEqual([]);
    expect(has(999)).toBe(true);
    ix.close();
    expect(errorOf(() => get(0)).code).toBe("ERR_IDX_CLOSED");
  });

  it("an iterator whose reader was closed after the escaped key throws ERR_IDX_CLOSED", async () => {
    const { ESCAPED_KEY } = await import("../src/index");
    const path = join(makeTempDir("idx-iter-close-"), "e.idx");
    await build([[ESCAPED_KEY, 5], [1, 2], [3, 4]], path, NO_SYNC);
    const ix = IdIndex.open(path);
    const it = ix.entries();
    expect(it.next().value).toEqual([ESCAPED_KEY, 5]);
    ix.close();
    expect(errorOf(() => it.next()).code).toBe("ERR_IDX_CLOSED");
  });

  it("copyIndex checks its options as build does: a string wait or force is refused, nothing replaced", async () => {
    const { copyIndex } = await import("../src/index");
    const sub = makeTempDir("idx-copy-opts-");
    const notes = join(sub, "notes.txt");
    writeFileSync(notes, "precious");
    expectInvalid(() => copyIndex(small, notes, { force: "false" as never }), "options.force");
    expectInvalid(() => copyIndex(small, join(sub, "x.idx"), { wait: "100" as never }), "options.wait");
    expectInvalid(() => copyIndex(small, join(sub, "x.idx"), { verify: "no" as never }), "options.verify");
    expect(readFileSync(notes, "utf8")).toBe("precious");
  });

  it("getMany with values (or found) sharing memory with keys answers as get does, on the JS and the native path", () => {
    const ix = IdIndex.open(small);
    for (const n of [10, 63, 64, 200]) {
      const buf = new Uint32Array(n + 1).map((_, i) => i);
      const want = Array.from(buf.subarray(0, n), (k) => ix.get(k) ?? 0);
      expect(ix.getMany(buf.subarray(0, n), buf.subarray(1, n + 1)), `n=${n}`).toBe(n);
      expect(Array.from(buf.subarray(1, n + 1)), `n=${n}`).toEqual(want);
      const same = new Uint32Array(n).map((_, i) => i + 500);
      const wantSame = Array.from(same, (k) => ix.get(k) ?? 9);
      ix.getMany(same, same, undefined, 9);
      expect(Array.from(same), `values over keys, n=${n}`).toEqual(wantSame);
      // found over values would overwrite answers with flags (issue 17): refused, nothing written.
      const keys = new Uint32Array(n).map((_, i) => i);
      const values = new Uint32Array(n).fill(7);
      expect(() => ix.getMany(keys, values, new Uint8Array(values.buffer, 0, n)), `found over values, n=${n}`)
        .toThrow(expect.objectContaining({ code: "ERR_IDX_INVALID_ARGUMENT" }) as never);
      expect(Array.from(values)).toEqual(new Array(n).fill(7));
    }
    ix.close();
  });

  it("aborting a build that waits on a named pipe nobody writes rejects at once with ERR_IDX_INTERRUPTED", async () => {
    const sub = makeTempDir("idx-fifo-abort-");
    const fifo = join(sub, "in.fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const controller = new AbortController();
    const pending = buildFromText(fifo, join(sub, "t.idx"), { signal: controller.signal }).catch((e) => e);
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    const e = await Promise.race([pending, new Promise((resolve) => setTimeout(() => resolve("still waiting"), 3000))]);
    expect((e as IdxError).code).toBe("ERR_IDX_INTERRUPTED");
  });

  it("buildFromBinary refuses chunks that are not bytes instead of reading their length as bytes; text takes strings", async () => {
    const { buildFromBinary } = await import("../src/index");
    const sub = makeTempDir("idx-chunks-");
    const chunks = async function* () { yield new Uint32Array([1, 2, 300, 400]); };
    const e = await buildFromBinary(chunks() as never, join(sub, "b.idx")).catch((x) => x);
    expect(e).toBeInstanceOf(IdxError);
    expect(e.code).toBe("ERR_IDX_INVALID_ARGUMENT");
    expect(e.message).toContain("chunk #0 of the input is a Uint32Array");
    const strings = async function* () { yield "1 2\n3 "; yield "4\n"; };
    await buildFromText(strings() as never, join(sub, "t.idx"), NO_SYNC);
    expect(new Map(IdIndex.open(join(sub, "t.idx")))).toEqual(new Map([[1, 2], [3, 4]]));
  });

  it.runIf(ADDON)("update() writes a key given many times once, with its last value: no reader or kill -9 meets one in between", async () => {
    const path = join(makeTempDir("idx-update-dup-"), "u.idx");
    await build(Array.from({ length: 1000 }, (_, i) => [i, i] as [number, number]), path, NO_SYNC);
    const writes = () => {
      const ix = IdIndex.open(path);
      const n = ix.info().writes;
      ix.close();
      return n;
    };
    const w = IdWriter.open(path, NO_SYNC);
    const before = writes();
    w.update({ keys: new Uint32Array(200).fill(5000), values: new Uint32Array(200).map((_, i) => 1000 + i) });
    expect(writes() - before).toBe(1); // one insert, not 200
    expect(w.get(5000)).toBe(1199);
    w.update([[7, 1], [8, 2], [7, 3]]);
    expect([w.get(7), w.get(8)]).toEqual([3, 2]);
    w.close();
  });

  it("a dangling symlink as the target is replaced by the index, not waited on for ever (build, cp, writer)", async () => {
    const { copyIndex } = await import("../src/index");
    const { lstatSync, symlinkSync } = await import("node:fs");
    const sub = makeTempDir("idx-dangling-");
    const targets = ["b.idx", "c.idx", ...(ADDON ? ["w.idx"] : [])].map((n) => join(sub, n));
    for (const t of targets) symlinkSync(join(sub, "nowhere.idx"), t);
    await build([[1, 2]], targets[0], NO_SYNC);
    copyIndex(small, targets[1], NO_SYNC);
    if (ADDON) IdWriter.open(targets[2], NO_SYNC).set(1, 2).close();
    for (const t of targets) {
      expect(lstatSync(t).isFile(), t).toBe(true);
      expect(verify(t).ok).toBe(true);
    }
  });

  it.runIf(ADDON)("update() and build() refuse columns with impossible lengths, and name an async iterable, with IdxErrors", async () => {
    const path = join(makeTempDir("idx-columns-"), "c.idx");
    await build([[1, 2]], path, NO_SYNC);
    const w = IdWriter.open(path, NO_SYNC);
    for (const length of [1e12, -1, 1.5, NaN]) {
      expectInvalid(() => w.update({ keys: { length }, values: { length } } as never), "their lengths are");
      const e = await build({ keys: { length }, values: { length } } as never, path, NO_SYNC).catch((x) => x);
      expect(e.code).toBe("ERR_IDX_INVALID_ARGUMENT");
    }
    expectInvalid(() => w.update((async function* () {})() as never), "an async iterable (only build() takes one)");
    expect(w.size).toBe(1);
    w.close();
  });

  it.runIf(ADDON)("a writer opened through a symlink grows into the file the link names; the link stays a link", async () => {
    const { lstatSync, symlinkSync } = await import("node:fs");
    const sub = makeTempDir("idx-writer-link-");
    await build([[1, 1]], join(sub, "v1.idx"), NO_SYNC);
    const link = join(sub, "current.idx");
    symlinkSync("v1.idx", link);
    const w = IdWriter.open(link, NO_SYNC);
    for (let k = 0; k < 5000; k++) w.set(k, k);
    w.close();
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    const ix = IdIndex.open(join(sub, "v1.idx"));
    expect(ix.size).toBe(5000);
    ix.close();
  });
});

describe.runIf(ADDON)("an index opened by a relative path stays that file after process.chdir()", () => {
  it("a reader follows the file it opened, not one of the same name in the new directory; a writer grows it in place", async () => {
    const { mkdirSync } = await import("node:fs");
    const sub = makeTempDir("idx-chdir-");
    const a = join(sub, "a");
    const b = join(sub, "b");
    mkdirSync(a);
    mkdirSync(b);
    await build([[1, 1]], join(a, "ids.idx"), NO_SYNC);
    await build([[1, 999]], join(b, "ids.idx"), NO_SYNC);
    const before = readFileSync(join(b, "ids.idx"));
    const home = process.cwd();
    try {
      process.chdir(a);
      const ix = IdIndex.open("ids.idx");
      const w = IdWriter.open("ids.idx", NO_SYNC);
      process.chdir(b);
      for (let k = 2; k < 5000; k++) w.set(k, k); // grows: new files renamed over a/ids.idx
      expect(ix.get(1)).toBe(1);
      expect(ix.get(4999)).toBe(4999);
      w.close();
      await build([[1, 2]], join(a, "ids.idx"), NO_SYNC);
      await new Promise((resolve) => setTimeout(resolve, 20)); // past the reader's follow throttle (§11.7)
      expect(ix.get(1)).toBe(2);
      ix.close();
    } finally {
      process.chdir(home);
    }
    expect(readFileSync(join(b, "ids.idx")).equals(before)).toBe(true);
  });
});

describe("the addon's platform folder", () => {
  it("is musl's only when the running node's ELF interpreter is musl's, whatever loaders are installed", async () => {
    const { platformTag } = await import("../src/os/native");
    if (process.platform !== "linux") return;
    // PT_INTERP read from the program headers (the loader only looks for the path's text).
    const elf = readFileSync(process.execPath);
    const phoff = Number(elf.readBigUInt64LE(0x20));
    const phentsize = elf.readUInt16LE(0x36);
    let interp = "(none)";
    for (let i = 0; i < elf.readUInt16LE(0x38); i++) {
      const ph = phoff + i * phentsize;
      if (elf.readUInt32LE(ph) !== 3) continue;
      const offset = Number(elf.readBigUInt64LE(ph + 8));
      interp = elf.toString("latin1", offset, offset + Number(elf.readBigUInt64LE(ph + 32)) - 1);
    }
    expect(platformTag().endsWith("-musl"), interp).toBe(interp.includes("/ld-musl-"));
    expect(platformTag().startsWith(`linux-${process.arch}`)).toBe(true);
  });
});
