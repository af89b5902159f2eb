/**
 * spec/FORMAT.md §13.1: the test vectors under fixtures/vectors/, each made by byte surgery
 * written from the spec (fixtures/vectors.js), each settling a rule a stranger's reader could
 * otherwise guess at; fixtures/vectors/expected.json says what each gives.
 */
import { copyFileSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { IdIndex, IdWriter, IdxError, verify } from "../src/index";
import { readHeader } from "../src/core/format";
import { runIdx } from "./helpers/cli";
import { ADDON, makeTempDir, removeTempDirs } from "./helpers/tmp";

afterAll(removeTempDirs);

const fixtures = join(__dirname, "..", "fixtures");
const dir = join(fixtures, "vectors");
const read = (name: string) => readFileSync(join(fixtures, name));

interface Expected {
  made: string;
  open: { code: string; message: string } | { size: number };
  verify?: { ok: boolean; interrupted: boolean; tombstones: number; entries: number };
  recovers?: boolean;
}
const expected = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8")) as Record<string, Expected | string>;
const vectors = Object.entries(expected).filter((e): e is [string, Expected] => typeof e[1] !== "string");

// eslint-disable-next-line @typescript-eslint/no-require-imports
const surgery = require("../fixtures/vectors.js") as {
  VECTORS: Record<string, (read: (name: string) => Buffer) => Buffer>;
  recoverBySpec(file: Buffer): Buffer;
};

describe("§13.1 test vectors: the files, the spec's list and expected.json agree", () => {
  it("§13.1 lists every vector on disk, and expected.json describes each", () => {
    const spec = readFileSync(join(__dirname, "..", "spec", "FORMAT.md"), "utf8");
    const table = spec.slice(spec.indexOf("### 13.1"), spec.indexOf("## 14."));
    const listed = [...table.matchAll(/^\| `vectors\/([a-z0-9]+)\.idx` \|/gm)].map((m) => m[1]).sort();
    const onDisk = readdirSync(dir).filter((f) => f.endsWith(".idx")).map((f) => f.slice(0, -4)).sort();
    expect(listed).toEqual(onDisk);
    expect(vectors.map(([name]) => name).sort()).toEqual(onDisk);
    expect(Object.keys(surgery.VECTORS).sort()).toEqual(onDisk);
  });
  for (const [name, make] of Object.entries(surgery.VECTORS)) {
    it(`vectors/${name}.idx is the surgery of fixtures/vectors.js, byte for byte`, () => {
      expect(make(read).equals(readFileSync(join(dir, `${name}.idx`)))).toBe(true);
    });
  }
});

describe("§13.1 test vectors: idx opens and verifies them as expected.json says", () => {
  for (const [name, e] of vectors) {
    const path = join(dir, `${name}.idx`);
    it(`vectors/${name}.idx (${e.made})`, () => {
      if ("code" in e.open) {
        let thrown: unknown;
        try {
          IdIndex.open(path).close();
        } catch (err) {
          thrown = err;
        }
        expect(thrown).toBeInstanceOf(IdxError);
        expect((thrown as IdxError).code).toBe(e.open.code);
        expect((thrown as IdxError).message.split("\n")[0]).toBe(`${path}: ${e.open.message}`);
        const report = verify(path);
        expect(report.ok).toBe(false);
        expect(report.problems[0].message).toBe(`${path}: ${e.open.message}`);
        return;
      }
      const ix = IdIndex.open(path);
      try {
        expect(ix.size).toBe(e.open.size);
      } finally {
        ix.close();
      }
      const report = verify(path);
      expect({ ok: report.ok, interrupted: report.interrupted, tombstones: report.tombstones, entries: report.entries }).toEqual(e.verify);
    });
  }
});

describe("§9.1 rules 7 and 8 compare the u64 fields exactly, and messages print them exactly", () => {
  const one = read("one.idx");
  it("capacity 2^64-2, slotCount 2^64-1: rule 7 passes, rule 8 refuses (too large), with the file's numbers", () => {
    const bytes = read("vectors/u64slots.idx");
    expect(bytes.readBigUInt64LE(16)).toBe(2n ** 64n - 2n);
    expect(bytes.readBigUInt64LE(24)).toBe(2n ** 64n - 1n);
    expect(() => readHeader(bytes, bytes.length, "x.idx")).toThrow(
      expect.objectContaining({ code: "ERR_IDX_TOO_LARGE", message: expect.stringContaining("x.idx: declares 18446744073709551615 slots, more than the 8589934592 a version 2 file can hold") }));
  });
  it("no number a double rounds appears in a message: 2^64-1 and 2^64-2 stay apart", () => {
    for (const name of ["u64slots", "u64order", "u64exact"]) {
      const bytes = read(`vectors/${name}.idx`);
      try {
        readHeader(bytes, bytes.length, "x.idx");
        expect.unreachable();
      } catch (err) {
        expect((err as Error).message).not.toMatch(/18446744073709552000|9007199254740992\b/);
      }
    }
  });
  it("slotCount 2^33 + 1 is too large, 2^33 is not (then the size rule)", () => {
    const at = (slots: bigint) => {
      const b = Buffer.from(one);
      b.writeBigUInt64LE(slots, 24);
      const { crc32 } = require("node:zlib") as { crc32(b: Uint8Array): number };
      b.writeUInt32LE(crc32(Buffer.concat([b.subarray(0, 12), b.subarray(16, 32)])), 12);
      try {
        readHeader(b, b.length, "x.idx");
        return "ok";
      } catch (err) {
        return (err as IdxError).code;
      }
    };
    expect(at(2n ** 33n + 1n)).toBe("ERR_IDX_TOO_LARGE");
    expect(at(2n ** 33n)).toBe("ERR_IDX_TRUNCATED");
  });
});

describe.runIf(ADDON)("§11.6 recovery leaves exactly the bytes the spec says", () => {
  for (const [name, e] of vectors) {
    if (e.recovers === undefined) continue;
    it(`vectors/${name}.idx: ${e.recovers ? "repaired to the spec's bytes" : "refused, unchanged"}`, () => {
      const work = makeTempDir();
      const path = join(work, `${name}.idx`);
      copyFileSync(join(dir, `${name}.idx`), path);
      const before = readFileSync(path);
      if (!e.recovers) {
        expect(() => IdWriter.open(path, { create: false, sync: false })).toThrow(IdxError);
        expect(readFileSync(path).equals(before)).toBe(true);
        return;
      }
      IdWriter.open(path, { create: false, sync: false }).close();
      const after = readFileSync(path);
      expect(after.equals(surgery.recoverBySpec(before))).toBe(true);
      // dirtyFirst keeps its word (§11.2 step 4); the file is whole again.
      expect(after.readUInt32LE(72)).toBe(before.readUInt32LE(72));
      const report = verify(path);
      expect(report.ok && !report.interrupted && !report.writerStopped).toBe(true);
    });
  }
  it("interrupted.idx: its tombstone removed, the rest as the spec says", () => {
    const work = makeTempDir();
    const path = join(work, "interrupted.idx");
    copyFileSync(join(fixtures, "interrupted.idx"), path);
    const before = readFileSync(path);
    IdWriter.open(path, { create: false, sync: false }).close();
    expect(readFileSync(path).equals(surgery.recoverBySpec(before))).toBe(true);
  });
});

describe("§15 exit statuses: a header refused as too large is damage, for verify and cp alike", () => {
  it("idx verify and idx cp of vectors/u64slots.idx exit 1, printing the file's numbers", () => {
    const work = makeTempDir();
    const path = join(dir, "u64slots.idx");
    const v = runIdx(["verify", path]);
    expect(v.status).toBe(1);
    expect(v.stderr).toContain("declares 18446744073709551615 slots");
    const c = runIdx(["cp", path, join(work, "copy.idx")]);
    expect(c.status).toBe(1);
    expect(c.stderr).toContain("declares 18446744073709551615 slots");
    expect(runIdx(["info", path]).status).toBe(2);
  });
});
