/**
 * Rules of spec/FORMAT.md that a stranger writing a reader or an in-place writer had to guess
 * (issue 21), pinned by the bytes idx leaves: §11.2 steps 2 and 4 (which cells an operation
 * stores, dirtyFirst kept), §11.3 (the 9/10 load rule, the escaped key not counted; an overwrite
 * with the same value), §14 (version 1 clears its whole dirty cell).
 */
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { IdIndex, IdWriter, build } from "../src/index";
import { ESCAPED_KEY } from "../src/core/format";
import { ADDON, makeTempDir, removeTempDirs } from "./helpers/tmp";

afterAll(removeTempDirs);

const fixtures = join(__dirname, "..", "fixtures");
const word = (b: Buffer, offset: number) => b.readUInt32LE(offset);

describe.runIf(ADDON)("§11.2 and §11.3: the cells an operation stores", () => {
  it("dirtyFirst keeps its word after an operation; dirtyCount goes back to 0", () => {
    const dir = makeTempDir();
    const path = join(dir, "blocks.idx");
    copyFileSync(join(fixtures, "blocks.idx"), path);
    const ix = IdIndex.open(path);
    const keys = [...ix.keys()];
    ix.close();
    // A key whose slot is in a later block: its overwrite names that block.
    const w = IdWriter.open(path, { create: false, sync: false });
    let k = -1;
    for (const key of keys) {
      w.set(key, 1);
      if (word(readFileSync(path), 72) > 0) {
        k = key;
        break;
      }
    }
    w.close();
    expect(k).toBeGreaterThanOrEqual(0);
    const after = readFileSync(path);
    expect(word(after, 72)).toBeGreaterThan(0); // dirtyFirst: the block of the last slot-changing operation
    expect(word(after, 80)).toBe(0);
  });

  it("an overwrite with the value it has is no operation; a set of the escaped key always is one", () => {
    const dir = makeTempDir();
    const path = join(dir, "edited.idx");
    copyFileSync(join(fixtures, "edited.idx"), path);
    const before = readFileSync(path);
    const w = IdWriter.open(path, { create: false, sync: false });
    w.set(6, 7); // edited.idx holds 6 -> 7
    expect(readFileSync(path).equals(before)).toBe(true);
    w.set(ESCAPED_KEY, 9); // and 857579651 -> 9
    w.close();
    const after = readFileSync(path);
    expect(word(after, 48)).toBe(word(before, 48) + 2);
    // Nothing else changed: no dirty cells, no entries cell, no slot, no checksum.
    expect(Buffer.concat([after.subarray(0, 48), after.subarray(56)]).equals(Buffer.concat([before.subarray(0, 48), before.subarray(56)]))).toBe(true);
  });

  it("the 9/10 rule counts the entries cell (the escaped key takes no slot) and grows only when exceeded", async () => {
    const dir = makeTempDir();
    const path = join(dir, "load.idx");
    // 8 entries in slots: capacity ceil(64/7) = 10; and the escaped key in the header.
    const pairs: [number, number][] = [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5], [6, 6], [7, 7], [8, 8], [ESCAPED_KEY, 9]];
    await build(pairs, path, { sync: false });
    const capacity = () => Number(readFileSync(path).readBigUInt64LE(16));
    expect(capacity()).toBe(10);
    const w = IdWriter.open(path, { create: false, sync: false });
    w.set(9, 9); // 10 x 9 = 90, not above 9 x 10: in place (9 slot entries, 10 live)
    expect(capacity()).toBe(10);
    w.set(10, 10); // 10 x 10 = 100 > 90: grows to ceil(4 x 10 / 3) + 1 = 15 first
    w.close();
    expect(capacity()).toBe(15);
  });
});

describe.runIf(ADDON)("§14: a version 1 operation clears its whole dirty cell", () => {
  it("v1/edited.idx after a delete that shifts: the dirty cell's word is 0", () => {
    const dir = makeTempDir();
    const path = join(dir, "v1.idx");
    copyFileSync(join(fixtures, "v1", "edited.idx"), path);
    const w = IdWriter.open(path, { create: false, sync: false });
    expect(w.delete(108)).toBe(true);
    w.close();
    const after = readFileSync(path);
    expect(after.readUInt16LE(8)).toBe(1);
    expect(word(after, 56)).toBe(0);
  });
});

describe("§15 the exit statuses the spec summarizes are src/cli/io.ts's", () => {
  it("0, 1, 2 and the signals' 129, 130, 143", async () => {
    const io = await import("../src/cli/io");
    const spec = readFileSync(join(__dirname, "..", "spec", "FORMAT.md"), "utf8");
    const table = spec.slice(spec.indexOf("## 15."), spec.indexOf("## 16."));
    const statuses = [...table.matchAll(/^\| ([0-9, ]+) \|/gm)].flatMap((m) => m[1].split(", ").map(Number));
    expect(statuses).toEqual([io.EXIT_OK, io.EXIT_NOT_FOUND, io.EXIT_ERROR, ...Object.values(io.EXIT_SIGNAL)]);
    expect(io.EXIT_DAMAGED).toBe(io.EXIT_NOT_FOUND);
    expect(io.EXIT_USAGE).toBe(io.EXIT_ERROR);
  });
});
