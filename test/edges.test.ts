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
import { IdIndex, IdWriter, IdxError, build, copyIndex } from "../src/index";
import { DIST_INDEX, requireFreshBuild, runIdx } from "./helpers/cli";
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

function copyIndexSync(source: string, target: string): void {
  copyIndex(source, target, { sync: false, verify: false });
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

const ROOT_USER = process.getuid?.() === 0;

describe.runIf(ADDON && ROOT_USER)("7. a deploy that cannot retire the old file says so, and readers still follow the rename", () => {
  it("idx cp by a user who may not write a 0444 index: exit 0, a warning naming the file, and a reader on the new file within the watcher's delay", async () => {
    const { chmodSync, chownSync, mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { spawnSync } = await import("node:child_process");
    const sub = mkdtempSync(join(tmpdir(), "idx-nobody-"));
    chmodSync(sub, 0o777);
    const path = join(sub, "live.idx");
    await build([[1, 10]], path, { sync: false });
    chmodSync(path, 0o444); // root's, read-only: nobody may not open it for writing
    const source = join(sub, "new.idx");
    await build([[1, 11]], source, { sync: false });
    chownSync(source, 65534, 65534);
    const r = IdIndex.open(path);
    try {
      expect(r.get(1)).toBe(10);
      const run = spawnSync(process.execPath, [join(__dirname, "..", "bin", "idx.js"), "cp", source, path], { uid: 65534, gid: 65534, encoding: "utf8" });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/warning: .*live\.idx: replaced, but the old index could not be marked retired \(cannot open the old index for writing: permission denied/);
      expect(run.stderr).toMatch(/follow the new file within about 100 ms/);
      const until = Date.now() + 2000;
      while (r.get(1) !== 11 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(r.get(1)).toBe(11);
    } finally {
      r.close();
      (await import("node:fs")).rmSync(sub, { recursive: true, force: true });
    }
  });
});

describe.runIf(ADDON)("4. a process reads its own writes: a reader beside a writer in one process never answers from a retired file", () => {
  it("compact, get, compact, set, get: the set is seen at once, 2,000 times in a row (two replacements within the follow interval)", async () => {
    const path = fresh("ryw");
    await build(pairs(0, 1000, (k) => k), path, { sync: false });
    const w = IdWriter.open(path, { sync: false });
    const r = IdIndex.open(path);
    try {
      let stale = 0;
      for (let t = 0; t < 2000; t++) {
        w.compact();
        r.get(1);
        w.compact();
        w.set(7, t);
        if (r.get(7) !== t) stale++;
      }
      expect(stale).toBe(0);
      w.clear();
      expect(r.size).toBe(0);
      w.set(3, 30);
      expect([r.get(3), r.size]).toEqual([30, 1]);
    } finally {
      r.close();
      w.close();
    }
  });
});

describe.runIf(ADDON)("5. a file truncated, appended to or rewritten in place never gives an answer it does not hold", () => {
  it("truncated to 0 bytes: every get, getMany and size throws ERR_IDX_CORRUPT (key 0 -> 0 was answered from zero pages)", async () => {
    const path = fresh("trunc");
    await build(pairs(1, 1001, (k) => k + 5), path, { sync: false });
    const r = IdIndex.open(path);
    try {
      expect(r.get(5)).toBe(10);
      truncateSync(path, 0);
      const keys = new Uint32Array(200); // key 0 throughout: the zero pages' slot 0 holds hash 0
      const values = new Uint32Array(200);
      for (let i = 0; i < 50; i++) {
        expect(() => r.get(0)).toThrow(expect.objectContaining({ code: "ERR_IDX_CORRUPT" }) as never);
        expect(() => r.getMany(keys, values)).toThrow(expect.objectContaining({ code: "ERR_IDX_CORRUPT" }) as never);
        expect(() => r.size).toThrow(expect.objectContaining({ code: "ERR_IDX_CORRUPT" }) as never);
      }
    } finally {
      r.close();
    }
  });

  it("appended to: once noticed, every lookup throws (it flipped between throwing and answering)", async () => {
    const path = fresh("append");
    await build(pairs(1, 1001, (k) => k + 5), path, { sync: false });
    const r = IdIndex.open(path);
    try {
      writeFileSync(path, Buffer.alloc(64, 7), { flag: "a" });
      await new Promise((resolve) => setTimeout(resolve, 300)); // the watcher's 100 ms, with room
      let answered = 0;
      let thrown = 0;
      const until = Date.now() + 300;
      while (Date.now() < until) {
        try {
          r.get(5);
          answered++;
        } catch (e) {
          expect((e as IdxError).code).toBe("ERR_IDX_CORRUPT");
          thrown++;
        }
      }
      expect(answered).toBe(0);
      expect(thrown).toBeGreaterThan(0);
    } finally {
      r.close();
    }
  });

  it("rewritten in place with another layout: the next lookup notices (header checksum word), before the watcher could", async () => {
    const path = fresh("rewrite");
    await build(pairs(0, 1000, (k) => 3 * k), path, { sync: false });
    const other = fresh("rewrite-new");
    await build(pairs(0, 3000, (k) => 7 * k + 1), other, { sync: false });
    const r = IdIndex.open(path);
    try {
      expect(r.get(500)).toBe(1500);
      copyFileSync(other, path); // truncates and writes in place: same inode
      // No pause: the watcher has not looked yet. Every key of both maps answers new or throws.
      for (let k = 0; k < 1000; k++) {
        try {
          expect(r.get(k)).toBe(7 * k + 1);
        } catch (e) {
          expect((e as IdxError).code).toBe("ERR_IDX_CORRUPT");
        }
      }
      expect(r.get(2500)).toBe(7 * 2500 + 1);
    } finally {
      r.close();
    }
  });
});

describe.runIf(ADDON)("5. an iteration (and dump) across a replaced or rewritten file", () => {
  it("a file renamed over mid-iteration: the iteration goes on in the new file past the last entry it gave, each key once", async () => {
    const path = fresh("iter-mv");
    await build(pairs(0, 20_000, (k) => 3 * k), path, { sync: false });
    const next = fresh("iter-mv-new");
    await build(pairs(0, 30_000, (k) => 7 * k + 1), next, { sync: false });
    const r = IdIndex.open(path);
    try {
      const seen = new Map<number, number>();
      let i = 0;
      for (const [k, v] of r) {
        expect(seen.has(k), `key ${k} given twice`).toBe(false);
        seen.set(k, v);
        if (++i === 5000) {
          renameSync(next, path);
          const until = Date.now() + 1000;
          while (r.get(25_000) === undefined && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10)); // the watcher, then a follow
        }
      }
      for (const [k, v] of seen) expect(v === 3 * k || v === 7 * k + 1, `key ${k} -> ${v}`).toBe(true);
      expect(seen.size).toBeGreaterThan(20_000); // went on in the larger new file
    } finally {
      r.close();
    }
  });

  it("a file rewritten in place mid-iteration: the iteration goes on in the complete new file (or throws while it is incomplete), never gives the old layout's bytes", async () => {
    const path = fresh("iter-cp");
    await build(pairs(0, 20_000, (k) => 3 * k), path, { sync: false });
    const other = fresh("iter-cp-new");
    await build(pairs(0, 5_000, (k) => 7 * k + 1), other, { sync: false });
    const r = IdIndex.open(path);
    try {
      const seen = new Set<number>();
      let i = 0;
      let fresh7 = 0;
      for (const [k, v] of r) {
        expect(seen.has(k), `key ${k} given twice`).toBe(false);
        seen.add(k);
        expect(v === 3 * k || v === 7 * k + 1, `key ${k} -> ${v}`).toBe(true);
        if (v === 7 * k + 1) fresh7++;
        if (++i === 3000) copyFileSync(other, path); // smaller, truncated and rewritten in place, complete on return
      }
      expect(fresh7).toBeGreaterThan(0);
      const truncated = fresh("iter-trunc");
      await build(pairs(0, 20_000, (k) => 3 * k), truncated, { sync: false });
      const t = IdIndex.open(truncated);
      let j = 0;
      expect(() => {
        for (const [k, v] of t) {
          expect(v).toBe(3 * k);
          if (++j === 3000) truncateSync(truncated, 4096); // no valid index at the path: nothing more to give
        }
      }).toThrow(expect.objectContaining({ code: "ERR_IDX_CORRUPT" }) as never);
      t.close();
    } finally {
      r.close();
    }
  });
});

describe.runIf(ADDON)("8, 9. a writer killed mid-operation, or a replacer killed before its rename, leaves readers fast once the lock shows it dead", () => {
  const fixtures = join(__dirname, "..", "fixtures");

  async function slowPaths(path: string, keys: number[], lookups = 20_000): Promise<{ first: number; after: number; answers: (number | undefined)[] }> {
    const { slowPathCount } = await import("../src/reader/reader");
    const r = IdIndex.open(path);
    try {
      const answers = keys.map((k) => r.get(k));
      const start = Date.now();
      while (Date.now() - start < 20) for (const k of keys) r.get(k); // past the 5 ms and the lock test
      const first = slowPathCount.lookups;
      for (let i = 0; i < lookups; i++) r.get(keys[i % keys.length]);
      const values = new Uint32Array(256);
      const batch = Uint32Array.from({ length: 256 }, (_, i) => keys[i % keys.length]);
      for (let i = 0; i < 100; i++) r.getMany(batch, values);
      return { first, after: slowPathCount.lookups - first, answers };
    } finally {
      r.close();
    }
  }

  it("interrupted.idx (seq odd, a dirty block, no writer): answers as verify reads it, and no lookup takes the slow path after the first", async () => {
    const path = fresh("interrupted");
    copyFileSync(join(fixtures, "interrupted.idx"), path);
    const clean = fresh("edited");
    copyFileSync(join(fixtures, "edited.idx"), clean);
    const want = IdIndex.open(clean);
    // Keys it holds, and keys it does not whose probe ends before the reach (one that runs out
    // of reach takes the slow path to read the reach cell again, writer or not).
    const keys = [...want.keys(), 2, 3];
    const wanted = keys.map((k) => want.get(k));
    want.close();
    const { answers, after } = await slowPaths(path, keys);
    expect(answers).toEqual(wanted);
    expect(after).toBe(0);
    const info = runIdx(["info", path]);
    expect(info.stdout).toMatch(/state\s+a writer stopped in the middle of an operation/);
  });

  it("retired.idx still at its path (its replacer died): the same", async () => {
    const path = fresh("retired");
    copyFileSync(join(fixtures, "retired.idx"), path);
    const keys = [6, 40, 58, 108, 122, 145, 33, 35, 45, 50, 0, 4294967295, 2, 3];
    const { after } = await slowPaths(path, keys);
    expect(after).toBe(0);
    expect(runIdx(["verify", path]).stdout).toMatch(/still the file at its path/);
  });

  it("a live writer that holds the lock is not taken for dead (a stopped writer keeps its lock), until it dies", async () => {
    const path = fresh("held");
    copyFileSync(join(fixtures, "interrupted.idx"), path);
    const { spawn } = await import("node:child_process");
    const holder = spawn("flock", ["-x", "-o", path, "sleep", "30"], { stdio: "ignore" });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const { slowPathCount } = await import("../src/reader/reader");
      const started = Date.now();
      const clean = IdIndex.open(join(fixtures, "edited.idx"));
      const [k, v] = clean.entries().next().value as [number, number];
      clean.close();
      const r = IdIndex.open(path); // reads the header under the same rule: it waits for the writer
      expect(r.get(k)).toBe(v);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900); // STOPPED_MS: a live writer is waited on
      const before = slowPathCount.lookups;
      for (let i = 0; i < 100; i++) expect(r.get(k)).toBe(v); // then two probes that agree, each time
      expect(slowPathCount.lookups - before).toBe(100);
      holder.kill("SIGKILL");
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (let i = 0; i < 100; i++) r.get(k); // the next lock test finds it free: dead
      const after = slowPathCount.lookups;
      for (let i = 0; i < 1000; i++) expect(r.get(k)).toBe(v);
      expect(slowPathCount.lookups - after).toBe(0);
      r.close();
    } finally {
      holder.kill("SIGKILL");
    }
  });
});

describe.runIf(ADDON)("10. a writer whose file is truncated or rewritten in place refuses with an IdxError", () => {
  it("truncated: get, size and set throw ERR_IDX_CORRUPT, never a TypeError or a wrong answer", async () => {
    const path = fresh("w-trunc");
    await build(pairs(0, 5000, (k) => k), path, { sync: false });
    const w = IdWriter.open(path, { sync: false });
    try {
      truncateSync(path, 4096);
      for (const f of [() => w.get(4000), () => w.size, () => w.set(6000, 1), () => w.delete(10), () => w.get(4000)]) {
        expect(f).toThrow(expect.objectContaining({ code: "ERR_IDX_CORRUPT" }) as never);
      }
    } finally {
      w.close();
    }
  });

  it("rewritten in place with another layout: the writer refuses before it changes anything", async () => {
    const path = fresh("w-rewrite");
    await build(pairs(0, 1000, (k) => k), path, { sync: false });
    const other = fresh("w-other");
    await build(pairs(0, 3000, (k) => k + 1), other, { sync: false });
    const w = IdWriter.open(path, { sync: false });
    try {
      copyFileSync(other, path);
      expect(() => w.set(5, 5)).toThrow(expect.objectContaining({ code: "ERR_IDX_CORRUPT" }) as never);
      expect(readFileSync(path).equals(readFileSync(other))).toBe(true);
    } finally {
      try {
        w.close();
      } catch {
        // flushing a lost mapping may fail; the file is not ours any more
      }
    }
  });
});

describe("13. objects are whole: no half-built readers or writers, no assignable path", () => {
  it("new IdIndex() and new IdWriter() throw an IdxError that says to use open()", () => {
    const Index = IdIndex as unknown as new (p: string) => unknown;
    const Writer = IdWriter as unknown as new (p: string) => unknown;
    expect(() => new Index("x.idx")).toThrow(/IdIndex\.open/);
    expect(() => new Writer("x.idx")).toThrow(/IdWriter\.open/);
    try {
      new Index("x.idx");
    } catch (e) {
      expect((e as IdxError).code).toBe("ERR_IDX_INVALID_ARGUMENT");
    }
  });

  it("ix.path cannot be assigned", async () => {
    const path = fresh("path");
    await build([[1, 2]], path, { sync: false });
    const ix = IdIndex.open(path);
    expect(() => {
      (ix as { path: string }).path = "elsewhere";
    }).toThrow(TypeError);
    expect(ix.path).toBe(path);
    ix.close();
  });
});

describe.runIf(ADDON)("6. one getMany answers every key from one file, whatever deploys meanwhile", () => {
  const child = join(__dirname, "helpers", "batch-child.js");

  for (const how of ["idx cp", "mv", "a symlink flip"] as const) {
    it(`${how}: no batch mixes the old and the new file`, async () => {
      const { spawn } = await import("node:child_process");
      const { symlinkSync, unlinkSync } = await import("node:fs");
      const KEYS = 20_000;
      const a = fresh("batch-a");
      const b = fresh("batch-b");
      await build(pairs(0, KEYS, (k) => 3 * k), a, { sync: false });
      await build(pairs(0, KEYS, (k) => 7 * k + 1), b, { sync: false });
      const path = fresh("batch");
      if (how === "a symlink flip") symlinkSync(a, path);
      else copyFileSync(a, path);
      const proc = spawn(process.execPath, [child, DIST_INDEX, path, String(KEYS), "3000"], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      proc.stdout.on("data", (d) => (out += d));
      proc.stderr.on("data", (d) => (err += d));
      while (!out.includes("ready\n")) await new Promise((r) => setTimeout(r, 10));
      const stop = Date.now() + 2500;
      for (let i = 0; Date.now() < stop; i++) {
        const next = i % 2 === 0 ? b : a;
        if (how === "idx cp") {
          copyIndexSync(next, path);
        } else if (how === "mv") {
          const staged = `${path}.staged`;
          copyFileSync(next, staged);
          renameSync(staged, path);
        } else {
          const link = `${path}.link`;
          symlinkSync(next, link);
          renameSync(link, path);
        }
        await new Promise((r) => setTimeout(r, 15));
      }
      await new Promise((resolve) => proc.on("exit", resolve));
      expect(err).toBe("");
      const report = JSON.parse(out.split("\n").find((l) => l.startsWith("{"))!);
      expect(report.mixed, JSON.stringify(report)).toBe(0);
      expect(report.other).toBe(0);
      expect(report.old + report.new).toBe(report.batches);
      expect(report.new).toBeGreaterThan(0);
      void unlinkSync;
    });
  }
});
