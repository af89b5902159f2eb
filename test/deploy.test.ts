/**
 * Deploying a new index under a live reader, however it is done (spec §11.8): the reader never
 * dies, never answers a value the key did not hold in the old or the new index, and follows to
 * the new index within a bounded delay, even in a synchronous loop that never lets the event
 * loop turn. The reader is another process (follow-child.js) looking keys up the whole time.
 */
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, renameSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "../src/index";
import { DIST_INDEX, requireFreshBuild, runIdx } from "./helpers/cli";
import { makeTempDir, removeTempDirs, ADDON } from "./helpers/tmp";

const KEYS = 200_000;
const child = join(__dirname, "helpers", "follow-child.js");
let dir: string;
let oldIndex: string;
let newIndex: string;
/** The new map in the old one's layout (same size), and the old map in a larger file. */
let sameSizeIndex: string;
let oldBigIndex: string;

interface Report {
  firstNew: number | null;
  lastOld: number | null;
  lastAbsent: number | null;
  lastError: number | null;
  wrong: [number, number][];
  absent: number;
  errors: Record<string, number>;
  lookups: number;
  endedNew: number;
}

beforeAll(async () => {
  requireFreshBuild();
  dir = makeTempDir("idx-deploy-");
  const keys = new Uint32Array(KEYS).map((_, i) => i);
  oldIndex = join(dir, "old.idx");
  newIndex = join(dir, "new.idx");
  await build({ keys, values: keys.map((k) => 3 * k) }, oldIndex, { sync: false });
  // A different size, so a copy in place changes the layout under the reader.
  const more = new Uint32Array(KEYS + 50_000).map((_, i) => i);
  await build({ keys: more, values: more.map((k) => (k < KEYS ? 7 * k + 1 : 0)) }, newIndex, { sync: false });
  sameSizeIndex = join(dir, "same.idx");
  await build({ keys, values: keys.map((k) => 7 * k + 1) }, sameSizeIndex, { sync: false });
  oldBigIndex = join(dir, "old-big.idx");
  const most = new Uint32Array(KEYS + 100_000).map((_, i) => i);
  await build({ keys: most, values: most.map((k) => 3 * k) }, oldBigIndex, { sync: false });
});
afterAll(removeTempDirs);

/**
 * Starts a reader of a fresh copy of the old index, runs `replace(path)` 300 ms into its loop,
 * and returns the reader's report with the time the replacement finished.
 */
async function readWhile(
  name: string, replace: (path: string) => void | Promise<void>, durationMs = 2500, from = oldIndex,
): Promise<{ r: Report; at: number; exit: number | null; signal: string | null }> {
  const path = join(dir, `${name}.idx`);
  copyFileSync(from, path);
  const proc = spawn(process.execPath, [child, DIST_INDEX, path, String(KEYS), String(durationMs)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout.on("data", (d) => (out += d));
  proc.stderr.on("data", (d) => (err += d));
  while (!out.includes("ready\n")) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 300));
  await replace(path);
  const at = Date.now();
  const [exit, signal] = await new Promise<[number | null, string | null]>((resolve) => proc.on("exit", (c, s) => resolve([c, s])));
  expect(err).toBe("");
  const line = out.split("\n").find((l) => l.startsWith("{"));
  expect(line, `reader died (exit ${exit}, ${signal})`).toBeDefined();
  return { r: JSON.parse(line!), at, exit, signal };
}

function expectFollowed(r: Report, at: number, within: number): void {
  expect(r.wrong).toEqual([]);
  expect(r.firstNew, "the reader never answered from the new index").not.toBeNull();
  expect(r.endedNew).toBe(KEYS);
  // Old answers stop once the new file is in place, within the watcher's delay.
  expect(r.lastOld === null || r.lastOld <= at + within, `old answers ${r.lastOld! - at} ms after the replacement`).toBe(true);
}

describe.runIf(ADDON)("§11.8 a reader in a synchronous loop follows a replaced index, however it was replaced", () => {
  it("mv of a new file over it (as rsync does): within the watcher's delay", async () => {
    const { r, at, exit } = await readWhile("mv", (path) => {
      const staged = join(dir, "staged-mv.idx");
      copyFileSync(newIndex, staged);
      renameSync(staged, path);
    });
    expect(exit).toBe(0);
    expectFollowed(r, at, 600);
    expect(r.absent).toBe(0);
    expect(r.errors).toEqual({});
  });

  it("rm, then idx build at the path: within the watcher's delay", async () => {
    const { r, at, exit } = await readWhile("rm-build", (path) => {
      unlinkSync(path);
      const pairs = join(dir, "rm-build.tsv");
      writeFileSync(pairs, Array.from({ length: KEYS }, (_, k) => `${k}\t${7 * k + 1}`).join("\n") + "\n");
      expect(runIdx(["build", pairs, "-o", path, "-q"]).status).toBe(0);
    });
    expect(exit).toBe(0);
    expectFollowed(r, at, 600);
    expect(r.wrong).toEqual([]);
  });

  it("idx build over an index this process may not write (mode 0444: it cannot be marked retired)", async () => {
    const { r, at, exit } = await readWhile("readonly", (path) => {
      chmodSync(path, 0o444);
      expect(runIdx(["cp", newIndex, path, "--no-verify"]).status).toBe(0);
    });
    expect(exit).toBe(0);
    expectFollowed(r, at, 600);
  });

  it("idx cp: the old file is retired, so the reader follows at its next lookup", async () => {
    const { r, at, exit } = await readWhile("cp", (path) => {
      expect(runIdx(["cp", newIndex, path]).status).toBe(0);
    });
    expect(exit).toBe(0);
    expectFollowed(r, at, 100);
    expect(r.absent).toBe(0);
    expect(r.errors).toEqual({});
  });
});

describe.runIf(ADDON)("§11.8 a file truncated or rewritten under a reader does not kill it", () => {
  // While the copy runs, a lookup answers from the old bytes, from the complete new ones, or
  // throws ERR_IDX_CORRUPT (issue 17: keys both indexes hold were answered absent).
  for (const [name, source, from] of [
    ["cp-same", () => sameSizeIndex, () => oldIndex],
    ["cp-bigger", () => newIndex, () => oldIndex],
    ["cp-smaller", () => sameSizeIndex, () => oldBigIndex],
  ] as const) {
    it(`${name}: cp over it (truncate, then write in place): no SIGBUS, no wrong or missing answer, and the new index once the copy is done`, async () => {
      const { r, at, exit, signal } = await readWhile(name, (path) => {
        copyFileSync(source(), path); // the same inode, truncated and rewritten
      }, 2500, from());
      expect(signal).toBeNull();
      expect(exit).toBe(0);
      expectFollowed(r, at, 600);
      expect(r.absent).toBe(0);
      for (const code of Object.keys(r.errors)) expect(code).toBe("ERR_IDX_CORRUPT");
    });
  }

  it("truncated to 0 bytes: lookups throw IdxError (never crash), and a new index at the path is followed", async () => {
    const { r, at, exit, signal } = await readWhile("truncate", async (path) => {
      truncateSync(path, 0);
      await new Promise((res) => setTimeout(res, 400));
      const staged = join(dir, "staged-truncate.idx");
      copyFileSync(newIndex, staged);
      renameSync(staged, path);
    });
    expect(signal).toBeNull();
    expect(exit).toBe(0);
    expect(Object.keys(r.errors).length, "no lookup threw while the file was empty").toBeGreaterThan(0);
    for (const code of Object.keys(r.errors)) expect(code).toMatch(/^ERR_IDX_/);
    expectFollowed(r, at, 600);
  });

  it("truncated to half its size: the same", async () => {
    const { r, exit, signal } = await readWhile("truncate-half", async (path) => {
      truncateSync(path, 1_000_000);
      await new Promise((res) => setTimeout(res, 300));
      const staged = join(dir, "staged-half.idx");
      copyFileSync(newIndex, staged);
      renameSync(staged, path);
    });
    expect(signal).toBeNull();
    expect(exit).toBe(0);
    expect(r.wrong).toEqual([]);
    expect(r.endedNew).toBe(KEYS);
  });
});


