/**
 * verify(): an intact index is ok; every single flipped bit anywhere in a small index is
 * reported; files of the wrong size or kind are reported, not thrown; and a damaged file never
 * makes a reader crash or hang.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ESCAPED_KEY, IdIndex, IdxError, build, verify } from "../src/index";
import { verifyBytes } from "../src/verify";
import { OFF, PNG_HEADER, fixHeaderChecksum, ownCopy, slotCountOf, withBitFlipped } from "./helpers/bytes";
import { rng, withValues } from "./helpers/keys";
import { makeTempDir, removeTempDirs } from "./helpers/tmp";

let dir: string;
let seq = 0;
/** 50 keys plus the escaped key: a few hundred bytes, one block, every region present. */
let small: Buffer;
let smallPath: string;
let smallMap: Map<number, number>;
/** About 3000 entries: several 4 KiB checksum blocks, the last one short. */
let multi: Buffer;
let multiPath: string;

beforeAll(async () => {
  dir = makeTempDir("idx-verify-");
  smallMap = new Map(withValues([...Array.from({ length: 50 }, (_, i) => (i * 2654435761) >>> 0), ESCAPED_KEY], 2));
  smallPath = join(dir, "small.idx");
  await build(smallMap, smallPath, { sync: false });
  small = readFileSync(smallPath);
  multiPath = join(dir, "multi.idx");
  await build(withValues(Array.from({ length: 3000 }, (_, i) => i * 3), 4), multiPath, { sync: false });
  multi = readFileSync(multiPath);
});
afterAll(removeTempDirs);

function variant(bytes: Uint8Array, name = "v"): string {
  const path = join(dir, `${name}-${seq++}.idx`);
  writeFileSync(path, bytes);
  return path;
}

describe("intact indexes", () => {
  it("are ok, with no problems and the right entry count", () => {
    for (const [path, count] of [[smallPath, 51], [multiPath, 3000]] as const) {
      const report = verify(path);
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.entries).toBe(count);
    }
  });

  it("the small fixture really is small and the multi-block one really has several blocks", () => {
    expect(small.length).toBeLessThan(4096);
    expect(multi.length).toBeGreaterThan(2 * 4096 + OFF.slots);
  });

  it("an empty index is ok", async () => {
    const path = join(dir, "empty.idx");
    await build([], path, { sync: false });
    const report = verify(path);
    expect(report.ok).toBe(true);
    expect(report.entries).toBe(0);
  });

  it("ix.verify() agrees with verify(path)", () => {
    const ix = IdIndex.open(smallPath);
    const report = ix.verify();
    expect(report.ok).toBe(true);
    expect(report.entries).toBe(51);
    ix.close();
  });
});

describe("every single flipped bit is caught", () => {
  function expectDamaged(bytes: Buffer, what: string, wrong: string[]): void {
    const report = verifyBytes(bytes, "flipped.idx");
    if (report.ok) wrong.push(`${what}: verify says ok`);
    else if (report.problems.length === 0) wrong.push(`${what}: not ok but no problem listed`);
    else {
      for (const p of report.problems) {
        if (!(Number.isInteger(p.offset) && p.offset >= 0 && p.offset < bytes.length)) wrong.push(`${what}: problem offset ${p.offset} outside the file`);
        if (typeof p.message !== "string" || p.message.length === 0) wrong.push(`${what}: empty problem message`);
      }
    }
  }

  it("in a small index: every bit of every byte (header, slots, checksums)", () => {
    expect(verifyBytes(ownCopy(small), "small.idx").ok).toBe(true);
    const wrong: string[] = [];
    for (let bit = 0; bit < small.length * 8; bit++) {
      expectDamaged(withBitFlipped(small, bit), `byte ${bit >>> 3} bit ${bit & 7}`, wrong);
    }
    expect(wrong.slice(0, 20)).toEqual([]);
  });

  it("in a multi-block index: every bit of the header and checksums, the edges of every block, and a random sample", () => {
    expect(verifyBytes(ownCopy(multi), "multi.idx").ok).toBe(true);
    const slotCount = slotCountOf(multi.length);
    const checksumsAt = OFF.slots + 8 * slotCount;
    const bytes = new Set<number>();
    for (let b = 0; b < OFF.slots; b++) bytes.add(b);
    for (let b = checksumsAt; b < multi.length; b++) bytes.add(b);
    for (let block = OFF.slots; block < checksumsAt; block += 4096) {
      for (const d of [0, 1, 4, 7, 4088, 4095, 4096, 4097]) if (block + d < checksumsAt && block + d >= OFF.slots) bytes.add(block + d);
    }
    for (const d of [1, 2, 3, 4, 5, 8]) bytes.add(checksumsAt - d);
    const r = rng(99);
    for (let i = 0; i < 400; i++) bytes.add(OFF.slots + (r() % (checksumsAt - OFF.slots)));
    const wrong: string[] = [];
    for (const byte of bytes) {
      for (let bit = 0; bit < 8; bit++) expectDamaged(withBitFlipped(multi, byte * 8 + bit), `byte ${byte} bit ${bit}`, wrong);
    }
    expect(wrong.slice(0, 20)).toEqual([]);
  });

  it("through real files: verify(path) reports flips in the header, a hash word, a value word, the escaped value and a checksum", () => {
    const slotCount = slotCountOf(small.length);
    const checksumsAt = OFF.slots + 8 * slotCount;
    const places: [string, number][] = [
      ["magic", 0],
      ["major", OFF.major],
      ["minor", OFF.minor],
      ["header checksum", OFF.headerChecksum],
      ["capacity", OFF.capacity + 1],
      ["slot count", OFF.slotCount],
      ["state cell", OFF.state],
      ["entries cell check", OFF.entries + 7],
      ["reach cell", OFF.reach],
      ["dirty count cell", OFF.dirtyCount + 5],
      ["reserved cell", 88],
      ["reserved bytes", 100],
      ["slot 0 hash word", OFF.slots],
      ["slot 0 value word", OFF.slots + 4],
      ["a middle slot", OFF.slots + 8 * (slotCount >> 1) + 2],
      ["the sentinel slot", OFF.slots + 8 * (slotCount - 1)],
      ["the last value word", checksumsAt - 1],
      ["block checksum", checksumsAt],
      ["last byte", small.length - 1],
    ];
    for (const [what, byte] of places) {
      for (const bit of [0, 7]) {
        const path = variant(withBitFlipped(small, byte * 8 + bit), "flip");
        const report = verify(path);
        expect(report.ok, `${what} (byte ${byte} bit ${bit})`).toBe(false);
        expect(report.problems.length).toBeGreaterThan(0);
      }
    }
  });

  it("through real files: ix.verify() on an opened damaged index reports it", () => {
    const path = variant(withBitFlipped(small, (OFF.slots + 8 * 3 + 4) * 8), "flip-open");
    const ix = IdIndex.open(path);
    expect(ix.verify().ok).toBe(false);
    ix.close();
  });
});

describe("files that are not intact indexes are reported, not thrown", () => {
  it("truncated at every length: not ok", () => {
    const path = join(dir, "cut.idx");
    const wrong: number[] = [];
    for (let length = 0; length < small.length; length++) {
      writeFileSync(path, small.subarray(0, length));
      const report = verify(path);
      if (report.ok || report.problems.length === 0) wrong.push(length);
    }
    expect(wrong).toEqual([]);
  });

  it("appended to, empty, text, PNG, newer major: not ok with a problem naming the file", () => {
    const newer = ownCopy(small);
    newer.writeUInt16LE(3, OFF.major);
    fixHeaderChecksum(newer);
    const cases: [string, Uint8Array][] = [
      ["appended", Buffer.concat([small, Buffer.from([0])])],
      ["empty", new Uint8Array(0)],
      ["text", Buffer.from("1 2\n3 4\n")],
      ["png", PNG_HEADER],
      ["newer", newer],
    ];
    for (const [what, bytes] of cases) {
      const path = variant(bytes, what);
      const report = verify(path);
      expect(report.ok, what).toBe(false);
      expect(report.problems.length, what).toBeGreaterThan(0);
      expect(report.problems.map((p) => p.message).join("\n"), what).toContain(path);
    }
  });

  it("a missing file: an IdxError ERR_IDX_IO, or a report that is not ok", () => {
    const path = join(dir, "missing.idx");
    let report: ReturnType<typeof verify> | undefined;
    try {
      report = verify(path);
    } catch (e) {
      expect(e).toBeInstanceOf(IdxError);
      expect((e as IdxError).code).toBe("ERR_IDX_IO");
      expect((e as IdxError).message).toContain(path);
      return;
    }
    expect(report.ok).toBe(false);
  });
});

describe("a damaged file never crashes or hangs a reader", () => {
  it("for a sample of flipped bits in every region: open() refuses with an IdxError, or every read returns a uint32 or undefined", () => {
    const keys = [...smallMap.keys()];
    const probes = Uint32Array.from([...keys, 0, 1, 2, 3, 0xffffffff, ESCAPED_KEY - 1]);
    const slotCount = slotCountOf(small.length);
    const r = rng(5);
    const bits = new Set<number>();
    for (let b = 0; b < OFF.slots * 8; b += 3) bits.add(b);
    for (let i = 0; i < 300; i++) bits.add(r() % (small.length * 8));
    const path = join(dir, "damaged-reader.idx");
    const wrong: string[] = [];
    const isAnswer = (v: unknown) => v === undefined || (typeof v === "number" && (v as number) >>> 0 === v);
    for (const bit of bits) {
      writeFileSync(path, withBitFlipped(small, bit));
      let ix: IdIndex;
      try {
        ix = IdIndex.open(path);
      } catch (e) {
        if (!(e instanceof IdxError)) wrong.push(`bit ${bit}: open threw ${String(e)}`);
        continue;
      }
      try {
        for (const k of probes) {
          if (!isAnswer(ix.get(k))) wrong.push(`bit ${bit}: get(${k}) = ${ix.get(k)}`);
          if (typeof ix.has(k) !== "boolean") wrong.push(`bit ${bit}: has(${k}) not boolean`);
        }
        const values = new Uint32Array(probes.length);
        const hits = ix.getMany(probes, values, new Uint8Array(probes.length));
        if (!(hits >= 0 && hits <= probes.length)) wrong.push(`bit ${bit}: getMany hits ${hits}`);
        let n = 0;
        for (const [k, v] of ix) {
          if (!isAnswer(k) || !isAnswer(v) || ++n > slotCount + 1) {
            wrong.push(`bit ${bit}: iteration out of bounds`);
            break;
          }
        }
      } catch (e) {
        wrong.push(`bit ${bit}: read threw ${String(e)}`);
      } finally {
        ix.close();
      }
    }
    expect(wrong.slice(0, 20)).toEqual([]);
  });
});
