import { copyFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { IdIndex, IdWriter, IdxError, build, verify } from "../src/index";
import { OFF, fixHeaderChecksum } from "./helpers/bytes";
import { MAX_U32, SPEC_ESCAPED_KEY, rng, structuredKeySets } from "./helpers/keys";
import { makeTempDir, removeTempDirs, tempFilesIn, ADDON } from "./helpers/tmp";
import { errorOf } from "./helpers/errors";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { EDITS } = require("../fixtures/edits.js") as { EDITS: [string, number, number?][] };

afterAll(removeTempDirs);
const fixtures = join(__dirname, "..", "fixtures");
const NO_SYNC = { sync: false } as const;

function expectSameMap(w: IdWriter | IdIndex, model: Map<number, number>): void {
  expect(w.size).toBe(model.size);
  const seen = new Map<number, number>();
  for (const [k, v] of w) {
    expect(seen.has(k)).toBe(false);
    seen.set(k, v);
  }
  expect(seen).toEqual(model);
  for (const [k, v] of model) expect(w.get(k)).toBe(v);
}


describe.runIf(ADDON)("§11.3 model: random set/delete/update/reopen/compact sequences agree with a Map", () => {
  const pool = (() => {
    const sets = structuredKeySets(60, 9);
    const keys = new Set<number>([0, 1, MAX_U32, MAX_U32 - 1, SPEC_ESCAPED_KEY]);
    for (const list of Object.values(sets)) for (const k of list) keys.add(k);
    return [...keys];
  })();
  const key = fc.constantFrom(...pool);
  const value = fc.oneof(fc.constantFrom(0, 1, MAX_U32), fc.integer({ min: 0, max: MAX_U32 }));
  const op = fc.oneof(
    { weight: 8, arbitrary: fc.tuple(fc.constant("set" as const), key, value) },
    { weight: 4, arbitrary: fc.tuple(fc.constant("delete" as const), key) },
    { weight: 1, arbitrary: fc.tuple(fc.constant("update" as const), fc.array(fc.tuple(key, value), { maxLength: 40 })) },
    { weight: 1, arbitrary: fc.tuple(fc.constant("reopen" as const)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant("compact" as const)) },
  );

  it("holds after every operation, and the file verifies at the end", () => {
    const dir = makeTempDir("idx-writer-model-");
    let run = 0;
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const path = join(dir, `m${run++}.idx`);
        const model = new Map<number, number>();
        let w = IdWriter.open(path, NO_SYNC);
        try {
          for (const o of ops) {
            switch (o[0]) {
              case "set":
                w.set(o[1], o[2]);
                model.set(o[1], o[2]);
                break;
              case "delete":
                expect(w.delete(o[1])).toBe(model.delete(o[1]));
                break;
              case "update":
                w.update(o[1]);
                for (const [k, v] of o[1]) model.set(k, v);
                break;
              case "reopen":
                w.close();
                w = IdWriter.open(path, NO_SYNC);
                break;
              case "compact":
                w.compact();
                break;
            }
            expect(w.size).toBe(model.size);
          }
          expectSameMap(w, model);
        } finally {
          w.close();
        }
        const report = verify(path);
        expect(report.problems).toEqual([]);
        expect(report.interrupted).toBe(false);
        const ix = IdIndex.open(path);
        expectSameMap(ix, model);
        ix.close();
      }),
      { numRuns: 60, seed: 4242 },
    );
  });
});

describe.runIf(ADDON)("§11.3, §11.5 growth, deletion and slot reuse", () => {
  it("grows from empty to 50,000 entries in place and by rehash, and stays valid", () => {
    const path = join(makeTempDir("idx-writer-grow-"), "g.idx");
    const w = IdWriter.open(path, NO_SYNC);
    const model = new Map<number, number>();
    const r = rng(11);
    for (let i = 0; i < 50_000; i++) {
      const k = i % 3 === 0 ? i * 4096 : r();
      w.set(k, i);
      model.set(k, i);
    }
    expectSameMap(w, model);
    w.close();
    expect(verify(path).ok).toBe(true);
    // Growth leaves the table at 3/4 load at most 1/3 of entries ago: under 12 bytes an entry.
    expect(statSync(path).size / model.size).toBeLessThan(12);
  });

  it("reuses deleted slots: set/delete churn over many distinct keys keeps the file size bounded", () => {
    const path = join(makeTempDir("idx-writer-churn-"), "c.idx");
    const w = IdWriter.open(path, NO_SYNC);
    for (let i = 0; i < 1000; i++) w.set(i, i);
    const size = statSync(path).size;
    const r = rng(5);
    const live = new Map<number, number>();
    for (let i = 0; i < 1000; i++) live.set(i, i);
    let largest = size;
    for (let round = 0; round < 20_000; round++) {
      if (round % 500 === 0) largest = Math.max(largest, statSync(path).size);
      const k = 1_000_000 + round;
      w.set(k, round);
      live.set(k, round);
      const victims = [...live.keys()];
      const victim = victims[r() % victims.length];
      expect(w.delete(victim)).toBe(true);
      live.delete(victim);
    }
    // 20 times more inserts than live entries; a table that never reused slots would be 20x larger.
    expect(Math.max(largest, statSync(path).size)).toBeLessThanOrEqual(size * 1.1);
    expectSameMap(w, live);
    w.close();
    const report = verify(path);
    expect(report.ok).toBe(true);
    expect(report.tombstones).toBe(0);
  });

  it("delete returns whether the key was there, for slot keys and the escaped key", () => {
    const path = join(makeTempDir("idx-writer-del-"), "d.idx");
    const w = IdWriter.open(path, NO_SYNC);
    expect(w.delete(5)).toBe(false);
    expect(w.delete(SPEC_ESCAPED_KEY)).toBe(false);
    w.set(5, 50).set(SPEC_ESCAPED_KEY, MAX_U32).set(0, 0).set(MAX_U32, 1);
    expect(w.get(SPEC_ESCAPED_KEY)).toBe(MAX_U32);
    expect(w.delete(5)).toBe(true);
    expect(w.delete(5)).toBe(false);
    expect(w.delete(SPEC_ESCAPED_KEY)).toBe(true);
    expect(w.has(SPEC_ESCAPED_KEY)).toBe(false);
    expect(w.delete(-1)).toBe(false);
    expectSameMap(w, new Map([[0, 0], [MAX_U32, 1]]));
    w.close();
  });

  it("compact rewrites the file into exactly the bytes a build of the same pairs gives", async () => {
    const dir = makeTempDir("idx-writer-compact-");
    const path = join(dir, "c.idx");
    const w = IdWriter.open(path, NO_SYNC);
    const model = new Map<number, number>();
    for (let i = 0; i < 3000; i++) {
      w.set(i * 7, i);
      model.set(i * 7, i);
    }
    for (let i = 0; i < 3000; i += 3) {
      w.delete(i * 7);
      model.delete(i * 7);
    }
    w.compact();
    w.close();
    const built = join(dir, "b.idx");
    await build(model, built, NO_SYNC);
    expect(readFileSync(path).equals(readFileSync(built))).toBe(true);
  });
});

describe.runIf(ADDON)("the dict-like surface", () => {
  it("update takes pairs, Maps, columns, an IdIndex and an IdWriter; later pairs win", async () => {
    const dir = makeTempDir("idx-writer-update-");
    const other = join(dir, "other.idx");
    await build(new Map([[100, 1], [101, 2]]), other, NO_SYNC);
    const w = IdWriter.open(join(dir, "u.idx"), NO_SYNC);
    w.update([[1, 1], [2, 2], [1, 10]]);
    w.update(new Map([[3, 3]]));
    w.update({ keys: Uint32Array.of(4, 5), values: Uint32Array.of(40, 50) });
    const ix = IdIndex.open(other);
    w.update(ix);
    ix.close();
    const w2 = IdWriter.open(join(dir, "u2.idx"), NO_SYNC);
    w2.set(200, 7);
    w.update(w2);
    expectSameMap(w, new Map([[1, 10], [2, 2], [3, 3], [4, 40], [5, 50], [100, 1], [101, 2], [200, 7]]));
    expect(w.equals(new Map([...w]))).toBe(true);
    expect(w.equals(new Map([[1, 10]]))).toBe(false);
    expect(w2.equals([[200, 7]])).toBe(true);
    w2.close();
    w.close();
  });

  it("a large update is merged into a new file, with the same result as setting each pair", () => {
    const dir = makeTempDir("idx-writer-bulk-");
    const a = IdWriter.open(join(dir, "a.idx"), NO_SYNC);
    const b = IdWriter.open(join(dir, "b.idx"), NO_SYNC);
    const pairs: [number, number][] = Array.from({ length: 20_000 }, (_, i) => [(i * 2654435761) >>> 0, i]);
    pairs.push([pairs[0][0], 99], [SPEC_ESCAPED_KEY, 5]);
    a.set(1, 1);
    b.set(1, 1);
    a.update(pairs);
    for (const [k, v] of pairs) b.set(k, v);
    expect(a.equals(b)).toBe(true);
    expect(a.get(pairs[0][0])).toBe(99);
    a.close();
    b.close();
    expect(verify(join(dir, "a.idx")).ok).toBe(true);
  });

  it("clear empties the index; copyTo writes a compacted copy elsewhere and leaves this one", async () => {
    const dir = makeTempDir("idx-writer-clear-");
    const w = IdWriter.open(join(dir, "c.idx"), NO_SYNC);
    w.update([[1, 1], [2, 2], [SPEC_ESCAPED_KEY, 3]]);
    w.copyTo(join(dir, "copy.idx"));
    const built = join(dir, "built.idx");
    await build([[1, 1], [2, 2], [SPEC_ESCAPED_KEY, 3]], built, NO_SYNC);
    expect(readFileSync(join(dir, "copy.idx")).equals(readFileSync(built))).toBe(true);
    expect(errorOf(() => w.copyTo(join(dir, "c.idx"))).code).toBe("ERR_IDX_INVALID_ARGUMENT");
    w.clear();
    expect(w.size).toBe(0);
    expect([...w]).toEqual([]);
    w.set(9, 9);
    expectSameMap(w, new Map([[9, 9]]));
    w.close();
    expect(tempFilesIn(dir)).toEqual([]);
  });

  it("toString and util.inspect name the file and show entries", () => {
    const w = IdWriter.open(join(makeTempDir("idx-writer-str-"), "s.idx"), NO_SYNC);
    w.set(42, 7);
    expect(String(w)).toMatch(/IdWriter\(.*s\.idx, 1 entries\)/);
    expect(inspect(w)).toContain("42 => 7");
    w.close();
    expect(String(w)).toContain("closed");
  });

  it("refuses keys and values that are not integers from 0 to 2^64 - 1 (or are numbers past 2^53 - 1) with ERR_IDX_INVALID_ARGUMENT, changing nothing", () => {
    const w = IdWriter.open(join(makeTempDir("idx-writer-bad-"), "b.idx"), NO_SYNC);
    w.set(1, 1);
    const bad: unknown[][] = [[-1, 1], [1.5, 1], [2 ** 53, 1], [1, -1], [1, 2 ** 64], [NaN, 1], [-1n, 1], [2n ** 64n, 1], [1, 2n ** 64n], ["1", 1], [1, Infinity]];
    for (const [k, v] of bad) {
      expect(errorOf(() => w.set(k as number, v as number)).code).toBe("ERR_IDX_INVALID_ARGUMENT");
    }
    expect(errorOf(() => w.set(2 ** 53, 1)).message).toContain("9007199254740992n");
    expect(errorOf(() => w.update([[1, 2], [3, -4]])).code).toBe("ERR_IDX_INVALID_ARGUMENT");
    expect(errorOf(() => w.update([[1, 2], [2n ** 64n, 4]])).code).toBe("ERR_IDX_INVALID_ARGUMENT");
    expectSameMap(w, new Map([[1, 1]]));
    expect([w.keyBits, w.valueBits]).toEqual([32, 32]);
    w.close();
  });

  it("after close every method throws ERR_IDX_CLOSED, and the lock is free for the next writer", () => {
    const path = join(makeTempDir("idx-writer-closed-"), "x.idx");
    const w = IdWriter.open(path, NO_SYNC);
    w.set(1, 2);
    w.close();
    w.close(); // twice is fine
    for (const f of [() => w.get(1), () => w.set(1, 1), () => w.delete(1), () => w.size, () => [...w], () => w.flush()]) {
      expect(errorOf(f).code).toBe("ERR_IDX_CLOSED");
    }
    const again = IdWriter.open(path, NO_SYNC);
    expect(again.get(1)).toBe(2);
    again.close();
  });

  it("a second writer in the same process is refused while the first holds the index", () => {
    const path = join(makeTempDir("idx-writer-lock-"), "l.idx");
    const w = IdWriter.open(path, NO_SYNC);
    const e = errorOf(() => IdWriter.open(path, NO_SYNC));
    expect(e.code).toBe("ERR_IDX_LOCKED");
    expect(e.message).toContain(`process ${process.pid}`);
    w.close();
  });

  it("open with create: false refuses a missing file", () => {
    const e = errorOf(() => IdWriter.open(join(makeTempDir("idx-writer-nofile-"), "none.idx"), { create: false }));
    expect(e.code).toBe("ERR_IDX_IO");
  });
});

describe.runIf(ADDON)("§11.4, §11.7 an open reader in this process sees writes at once and follows swaps", () => {
  it("sees in-place sets and deletes, then follows a grow and a compact", async () => {
    const path = join(makeTempDir("idx-writer-follow-"), "f.idx");
    await build([[1, 1]], path, NO_SYNC);
    const ix = IdIndex.open(path);
    const w = IdWriter.open(path, NO_SYNC);
    w.set(2, 2);
    expect(ix.get(2)).toBe(2);
    w.delete(1);
    expect(ix.has(1)).toBe(false);
    const model = new Map<number, number>([[2, 2]]);
    for (let i = 10; i < 5000; i++) {
      w.set(i, i); // grows several times
      model.set(i, i);
    }
    expectSameMap(ix, model);
    w.compact();
    expectSameMap(ix, model);
    w.set(MAX_U32, 0);
    expect(ix.get(MAX_U32)).toBe(0);
    w.close();
    ix.close();
  });
});

describe.runIf(ADDON)("§13 fixtures: in-place edits and an interrupted write", () => {
  it("replaying the edits on cluster.idx gives edited.idx byte for byte", () => {
    const path = join(makeTempDir("idx-writer-edits-"), "e.idx");
    copyFileSync(join(fixtures, "cluster.idx"), path);
    const w = IdWriter.open(path, { create: false, sync: false });
    for (const [op, key, value] of EDITS) {
      if (op === "set") w.set(key, value!);
      else w.delete(key);
    }
    w.close();
    expect(readFileSync(path).equals(readFileSync(join(fixtures, "edited.idx")))).toBe(true);
  });

  const editedMap = (() => {
    const m = new Map<number, number>();
    for (const line of readFileSync(join(fixtures, "cluster.tsv"), "utf8").split("\n")) {
      if (!line || line.startsWith("#")) continue;
      const [k, v] = line.split("\t").map(Number);
      m.set(k, v);
    }
    for (const [op, key, value] of EDITS) {
      if (op === "set") m.set(key, value!);
      else m.delete(key);
    }
    return m;
  })();

  it("edited.idx reads back as the edited map and verifies", () => {
    const ix = IdIndex.open(join(fixtures, "edited.idx"));
    expectSameMap(ix, editedMap);
    ix.close();
    const report = verify(join(fixtures, "edited.idx"));
    expect(report.ok).toBe(true);
    expect(report.interrupted).toBe(false);
  });

  it("interrupted.idx (a writer killed mid-insert) opens, reads the same map and passes verify", () => {
    const path = join(fixtures, "interrupted.idx");
    const report = verify(path);
    expect(report.problems).toEqual([]);
    expect(report.interrupted).toBe(true);
    expect(report.tombstones).toBe(1);
    const ix = IdIndex.open(path);
    expectSameMap(ix, editedMap);
    ix.close();
  });

  it("the next writer repairs it: no tombstone, clean checksums, same map", () => {
    const path = join(makeTempDir("idx-writer-recover-"), "r.idx");
    copyFileSync(join(fixtures, "interrupted.idx"), path);
    const w = IdWriter.open(path, { create: false, sync: false });
    expectSameMap(w, editedMap);
    w.close();
    const report = verify(path);
    expect(report.problems).toEqual([]);
    expect(report.interrupted).toBe(false);
    expect(report.tombstones).toBe(0);
  });
});

describe.runIf(ADDON)("§10 version policy for writers", () => {
  it("a newer minor version is read, but not written", () => {
    const path = join(makeTempDir("idx-writer-minor-"), "m.idx");
    const bytes = Buffer.from(readFileSync(join(fixtures, "cluster.idx")));
    bytes.writeUInt16LE(1, OFF.minor);
    fixHeaderChecksum(bytes);
    writeFileSync(path, bytes);
    const ix = IdIndex.open(path);
    expect(ix.get(6)).toBe(600);
    ix.close();
    expect(errorOf(() => IdWriter.open(path, NO_SYNC)).code).toBe("ERR_IDX_UNSUPPORTED_VERSION");
  });
});
