/**
 * The edges where a write could be lost or an answer be false (issue 17): a writer open while a
 * new index is deployed with mv, a copy to a path that is not an index, a reader in the same
 * process as the writer, an index rewritten in place under its reader, a batch across a deploy.
 * Each case fails on the code before its fix.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkfifoSync, readFileSync, renameSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdIndex, IdWriter, IdxError, build } from "../src/index";
import { BIN, requireFreshBuild, runIdx } from "./helpers/cli";
import { ADDON, makeTempDir, removeTempDirs } from "./helpers/tmp";

let dir: string;
let n = 0;
beforeAll(() => {
  requireFreshBuild();
  dir = makeTempDir("idx-edges-");
});
afterAll(removeTempDirs);

function fresh(name: string): string {
  return join(dir, `${name}-${n++}.idx`);
}

/** Pairs k -> f(k) for k in [from, to). */
function pairs(from: number, to: number, f: (k: number) => number): [number, number][] {
  return Array.from({ length: to - from }, (_, i) => [from + i, f(from + i)]);
}

function mkfifo(path: string): void {
  // Node has no mkfifo: the system's, inside the test's own directory.
  execFileSync("mkfifo", [path]);
}
void mkfifoSync;

describe.runIf(ADDON)("1. a writer open while a new index is deployed with mv follows it: no write is lost or undone", () => {
  it("the writer's next set goes into the deployed file, a second writer is kept out, and growth never renames the old data back", async () => {
    const path = fresh("mv");
    await build(pairs(1000, 1100, (k) => k), path, { sync: false });
    const deployed = fresh("deployed");
    await build([[5, 55], [8, 80]], deployed, { sync: false });
    const w = IdWriter.open(path, { sync: false });
    try {
      renameSync(deployed, path);
      w.set(6, 600);
      // The writer holds the deployed file now: another writer waits for it.
      const other = runIdx(["set", path, "7", "700"]);
      expect(other.status).toBe(2);
      expect(other.stderr).toMatch(/is being written by process/);
      for (let k = 100; k < 300; k++) w.set(k, k); // grows more than once
      expect(w.get(5)).toBe(55);
      expect(w.get(1000)).toBeUndefined();
    } finally {
      w.close();
    }
    const r = IdIndex.open(path);
    try {
      expect([r.get(5), r.get(6), r.get(8), r.get(1000), r.get(150), r.size]).toEqual([55, 600, 80, undefined, 150, 203]);
    } finally {
      r.close();
    }
  });

  it("a writer that only reads follows within the watcher's delay", async () => {
    const path = fresh("mv-read");
    await build([[1, 10]], path, { sync: false });
    const deployed = fresh("deployed-read");
    await build([[1, 11], [2, 22]], deployed, { sync: false });
    const w = IdWriter.open(path, { sync: false });
    try {
      renameSync(deployed, path);
      const until = Date.now() + 2000;
      while (w.get(2) !== 22 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect([w.get(1), w.get(2), w.size]).toEqual([11, 22, 2]);
    } finally {
      w.close();
    }
  });

  it("a writer whose path is removed refuses to change anything, with an IdxError", async () => {
    const path = fresh("rm");
    await build([[1, 10]], path, { sync: false });
    const w = IdWriter.open(path, { sync: false });
    try {
      renameSync(path, `${path}.moved`);
      expect(() => w.set(2, 20)).toThrow(expect.objectContaining({ code: "ERR_IDX_IO" }) as never);
    } finally {
      w.close();
    }
  });
});

describe.runIf(ADDON)("2. IdWriter.copyTo replaces only what a build would", () => {
  it("refuses a text file, a named pipe and a device node unless forced, and leaves them as they were", async () => {
    const path = fresh("copy-src");
    await build([[1, 10]], path, { sync: false });
    const text = join(dir, "notes.txt");
    writeFileSync(text, "not an index\n");
    const fifo = join(dir, "pipe");
    mkfifo(fifo);
    const device = join(dir, "null-device");
    execFileSync("mknod", [device, "c", "1", "3"]);
    const w = IdWriter.open(path, { sync: false });
    try {
      for (const target of [text, fifo, device]) {
        expect(() => w.copyTo(target)).toThrow(expect.objectContaining({ code: "ERR_IDX_NOT_AN_INDEX" }) as never);
      }
      expect(readFileSync(text, "utf8")).toBe("not an index\n");
      expect(statSync(fifo).isFIFO()).toBe(true);
      expect(statSync(device).isCharacterDevice()).toBe(true);
      w.copyTo(text, { force: true });
      const copy = IdIndex.open(text);
      expect(copy.get(1)).toBe(10);
      copy.close();
      expect(() => w.copyTo(path)).toThrow(IdxError);
      expect(() => w.copyTo(fresh("x"), { force: "yes" as never })).toThrow(expect.objectContaining({ code: "ERR_IDX_INVALID_ARGUMENT" }) as never);
    } finally {
      w.close();
    }
  });
});

void copyFileSync;
void existsSync;
void truncateSync;
void BIN;
