/**
 * Writes behind (native/writeback.c): a new index's slots go to the file on a thread of the
 * addon's while the next ones are placed. The bytes and block checksums it writes against the
 * JS twins', every refusal a hostile caller can provoke, a descriptor closed under it, a handle
 * dropped unwaited, and what a user sees when the disk fills during a build or a grow: a typed
 * error, the old index as it was, no temp file left.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { IdIndex, IdWriter, IdxError, build } from "../src/index";
import { blockChecksumsJs } from "../src/core/encode";
import { LAYOUT_V2 } from "../src/core/format";
import { NativeAddon, requireNativeAddon } from "../src/os/native";
import { TableFileWriter } from "../src/os/table-file";
import { ADDON, makeTempDir, removeTempDirs, tempFilesIn } from "./helpers/tmp";

afterAll(removeTempDirs);

const NO_SYNC = { sync: false } as const;

function randomWords(addon: NativeAddon, n: number, seed: number): Uint32Array {
  const w = addon.words(n, true);
  let x = seed;
  for (let i = 0; i < n; i++) w[i] = x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  return w;
}

describe.runIf(ADDON)("writeBehind: the bytes, the checksums, the refusals", () => {
  const addon = ADDON ? requireNativeAddon("this test") : (null as unknown as NativeAddon);

  it("writes bytes 0..n of the words at the position, and each block's checksum as blockChecksumsJs takes it", () => {
    const dir = makeTempDir();
    const words = randomWords(addon, 40_000, 7);
    const bytes = new Uint8Array(words.buffer);
    for (const [n, position, blockBytes] of [[0, 0, 4096], [1, 3, 4096], [4096, 128, 4096], [4097, 0, 4096], [160_000, 5_000_000, 4092], [99_999, 1, 100]]) {
      const file = join(dir, `w-${n}-${position}`);
      const fd = openSync(file, "w+");
      const sums = addon.words(Math.ceil(n / blockBytes) + 1);
      sums.fill(0xdeadbeef);
      const handle = addon.writeBehind(fd, words, n, position, blockBytes, sums);
      closeSync(fd); // the thread writes through its own descriptor
      expect(addon.writeBehindWait(handle)).toBe(0);
      expect(addon.writeBehindWait(handle)).toBe(0); // a second wait answers the same
      const written = readFileSync(file);
      expect(written.length).toBe(n === 0 ? 0 : position + n);
      expect(Buffer.compare(written.subarray(position), bytes.subarray(0, n))).toBe(0);
      const want = new Uint8Array(4 * Math.ceil(n / blockBytes));
      blockChecksumsJs(bytes.subarray(0, n), blockBytes, want);
      expect(Buffer.from(sums.buffer, 0, want.length).equals(want)).toBe(true);
      expect(sums[want.length / 4]).toBe(0xdeadbeef); // nothing past the last block
    }
    const fd = openSync(join(dir, "no-sums"), "w+");
    expect(addon.writeBehindWait(addon.writeBehind(fd, words, 64, 0, 0, null))).toBe(0);
    closeSync(fd);
    expect(readFileSync(join(dir, "no-sums")).equals(Buffer.from(bytes.subarray(0, 64)))).toBe(true);
  });

  it("answers the errno of a write that fails (a pipe has no positions: ESPIPE)", () => {
    const dir = makeTempDir();
    const fifo = join(dir, "fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const fd = openSync(fifo, "r+"); // read and write: the open does not wait for a reader
    try {
      expect(addon.writeBehindWait(addon.writeBehind(fd, randomWords(addon, 16, 1), 64, 0, 4096, null))).toBe(constants.errno.ESPIPE);
      // A TableFileWriter over it: the error comes at a later flush or at finish, typed.
      const writer = new TableFileWriter(fd, join(dir, "x.idx"), 1 << 20, LAYOUT_V2);
      const hashes = new Uint32Array(300_000).map((_, i) => i * 4096 + 1);
      const values = new Uint32Array(300_000);
      let caught: unknown;
      try {
        writer.add(hashes, values, 0, hashes.length);
        writer.finish(undefined);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(IdxError);
      expect((caught as IdxError).code).toBe("ERR_IDX_IO");
      expect((caught as Error).message).toMatch(/cannot write the new index: ESPIPE/);
    } finally {
      closeSync(fd);
    }
  });

  it("refuses arrays that are not words() arrays, short sums, overlaps, bytes past the words, bad descriptors and handles", () => {
    const dir = makeTempDir();
    const fd = openSync(join(dir, "r"), "w+");
    const words = addon.words(1024);
    const sums = addon.words(4);
    const call = (...a: unknown[]) => () => (addon.writeBehind as (...x: unknown[]) => unknown)(...a);
    try {
      expect(call(fd, new Uint32Array(1024), 4096, 0, 4096, null)).toThrow(/words must be a whole Uint32Array from words\(\)/);
      expect(call(fd, words.subarray(1), 16, 0, 4096, null)).toThrow(/words must be a whole Uint32Array from words\(\)/);
      expect(call(fd, new Uint8Array(words.buffer), 16, 0, 4096, null)).toThrow(/words must be/);
      expect(call(fd, words, 4096, 0, 4096, new Uint32Array(4))).toThrow(/sums must be null or a whole Uint32Array from words\(\)/);
      expect(call(fd, words, 4097, 0, 4096, null)).toThrow(/bytes past the words/);
      expect(call(fd, words, 4096, 0, 1024, sums.subarray(1))).toThrow(/sums must be/);
      expect(call(fd, words, 4096, 0, 1000, sums)).toThrow(/sums hold a word for each block/);
      expect(call(fd, words, 4096, 0, 0, sums)).toThrow(/blockBytes must be at least 1/);
      expect(call(fd, words, 4096, 0, 4096, words)).toThrow(/sums must not overlap the bytes/);
      expect(call(-1, words, 16, 0, 4096, null)).toThrow(/bad fd -1/);
      expect(call(fd, words, -1, 0, 4096, null)).toThrow(/bytes/);
      expect(call(fd, words, 16, 2 ** 53, 4096, null)).toThrow(/position/);
      expect(call(fd, words, 16, 0.5, 4096, null)).toThrow(/position/);
      expect(call("3", words, 16, 0, 4096, null)).toThrow(/fd/);
      const closed = openSync(join(dir, "c"), "w");
      closeSync(closed);
      expect(call(closed, words, 16, 0, 4096, null)).toThrow(/cannot duplicate fd/);
      const wait = (h: unknown) => () => (addon.writeBehindWait as (x: unknown) => number)(h);
      for (const h of [undefined, null, 1, {}, words, addon.map]) expect(wait(h)).toThrow(/handle must be one writeBehind returned/);
    } finally {
      closeSync(fd);
    }
  });

  it("a handle dropped without a wait is joined when it is collected, and the bytes are in the file", () => {
    const dir = makeTempDir();
    const file = join(dir, "dropped");
    const script = `
      const { requireNativeAddon } = require(${JSON.stringify(join(__dirname, "..", "dist", "os", "native.js"))});
      const fs = require("node:fs");
      const addon = requireNativeAddon("test");
      const fd = fs.openSync(${JSON.stringify(file)}, "w+");
      for (let i = 0; i < 50; i++) {
        const w = addon.words(1 << 18, true);
        w.fill(i + 1);
        addon.writeBehind(fd, w, w.length * 4, 0, 4096, addon.words(256));
      }
      fs.closeSync(fd);
      globalThis.gc();
      setTimeout(() => { globalThis.gc(); process.stdout.write("done"); }, 10);
    `;
    const r = spawnSync(process.execPath, ["--expose-gc", "-e", script], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("done");
    expect(readFileSync(file).length).toBe(1 << 20);
  });

  it("worker threads terminated with writes under way: no crash, and every byte they started is in the file", () => {
    const dir = makeTempDir();
    const native = JSON.stringify(join(__dirname, "..", "dist", "os", "native.js"));
    const script = `
      const { Worker } = require("node:worker_threads");
      const code = \`
        const addon = require(${native}).requireNativeAddon("test");
        const fs = require("node:fs");
        const { workerData, parentPort } = require("node:worker_threads");
        const fd = fs.openSync(workerData, "w+");
        for (let i = 0; i < 20; i++) {
          const w = addon.words(1 << 18, true);
          w.fill(i + 1);
          addon.writeBehind(fd, w, w.length * 4, i * (1 << 20), 4096, addon.words(256));
        }
        parentPort.postMessage("started");
        setInterval(() => {}, 1000);
      \`;
      let done = 0;
      for (let k = 0; k < 5; k++) {
        const w = new Worker(code, { eval: true, workerData: ${JSON.stringify(dir)} + "/w" + k });
        w.on("message", () => w.terminate().then(() => { if (++done === 5) process.stdout.write("terminated"); }));
      }
    `;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
    expect([r.status, r.stderr, r.stdout]).toEqual([0, "", "terminated"]);
    for (let k = 0; k < 5; k++) {
      const bytes = readFileSync(join(dir, `w${k}`));
      expect(bytes.length).toBe(20 << 20);
      for (let i = 0; i < 20; i++) expect(bytes.readUInt32LE(i << 20)).toBe(i + 1);
    }
  });
});

/**
 * A tmpfs of its own under the test's temp directory, to fill. Null where this machine will not
 * mount one (mounting takes root): the tests below then skip.
 */
function smallDisk(bytes: number): { dir: string; unmount: () => void } | null {
  const dir = join(makeTempDir(), "disk");
  mkdirSync(dir);
  if (spawnSync("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir], { stdio: "ignore" }).status !== 0) return null;
  // Lazily: a mapping a failed test left open must not keep it mounted.
  return { dir, unmount: () => spawnSync("umount", ["-l", dir]) };
}

const canMount = (() => {
  const disk = smallDisk(1 << 20);
  disk?.unmount();
  return disk !== null;
})();

describe.runIf(canMount)("a disk that fills during a build or a grow (a tmpfs of 8 MiB)", () => {
  function pairsOf(n: number, wide: boolean) {
    const keys = wide ? new BigUint64Array(n) : new Uint32Array(n);
    const values = wide ? new BigUint64Array(n) : new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      if (wide) {
        (keys as BigUint64Array)[i] = (BigInt(i) << 33n) | 5n;
        (values as BigUint64Array)[i] = BigInt(i) << 40n;
      } else {
        (keys as Uint32Array)[i] = Math.imul(i, 2654435761) >>> 0;
        (values as Uint32Array)[i] = i;
      }
    }
    return { keys, values };
  }

  for (const [name, wide, options] of [
    ["32/32, in memory", false, {}],
    ["64/64, in memory", true, {}],
    ["64/64, spilled", true, { memoryPairs: 100_000 }],
  ] as const) {
    it(`${name}: ERR_IDX_IO naming ENOSPC, the old index as it was, no temp file`, async () => {
      const disk = smallDisk(8 << 20)!;
      try {
        const path = join(disk.dir, "ids.idx");
        await build(new Map([[1, 2], [3, 4]]), path, NO_SYNC);
        const before = readFileSync(path);
        const error = await build(pairsOf(1_000_000, wide), path, { ...NO_SYNC, force: true, ...options }).then(() => null, (e: unknown) => e);
        expect(error).toBeInstanceOf(IdxError);
        expect((error as IdxError).code).toBe("ERR_IDX_IO");
        expect((error as Error).message).toMatch(/no space left on device \(ENOSPC\)/);
        expect(readFileSync(path).equals(before)).toBe(true);
        expect(tempFilesIn(disk.dir)).toEqual([]);
        expect(readdirSync(disk.dir)).toEqual(["ids.idx"]);
        const ix = IdIndex.open(path);
        expect(ix.get(3)).toBe(4);
        ix.close();
      } finally {
        disk.unmount();
      }
    });
  }

  it.runIf(ADDON)("a grow that fills the disk: ERR_IDX_IO, and the writer's index keeps every entry set before", async () => {
    const disk = smallDisk(8 << 20)!;
    try {
      const path = join(disk.dir, "ids.idx");
      await build(new Map([[1n << 40n, 5]]), path, NO_SYNC);
      const w = IdWriter.open(path, NO_SYNC);
      let error: unknown = null;
      let set = 0;
      try {
        for (let i = 0; i < 2_000_000; i++, set++) w.set((BigInt(i) << 24n) | 3n, i * 4096);
      } catch (e) {
        error = e;
      } finally {
        w.close();
      }
      expect(error).toBeInstanceOf(IdxError);
      expect((error as IdxError).code).toBe("ERR_IDX_IO");
      expect((error as Error).message).toMatch(/no space left on device \(ENOSPC\)/);
      expect(set).toBeGreaterThan(1000);
      expect(tempFilesIn(disk.dir)).toEqual([]);
      const ix = IdIndex.open<bigint, number>(path);
      try {
        expect(ix.size).toBe(set + 1);
        for (const i of [0, 1, Math.floor(set / 2), set - 1]) expect(ix.get((BigInt(i) << 24n) | 3n)).toBe(i * 4096);
        expect(ix.get(1n << 40n)).toBe(5);
      } finally {
        ix.close();
      }
    } finally {
      disk.unmount();
    }
  });
});
