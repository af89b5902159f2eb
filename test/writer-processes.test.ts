/**
 * The writer across processes (spec/FORMAT.md §3, §5, §11): readers in other processes during
 * in-place writes, grows and compacts; kill -9 of a writer at any point; two writers at once;
 * a grow that cannot write its new file; the `idx set/del/put/compact` commands seen by an open
 * reader. Child processes load the compiled package (dist/); this process runs src/.
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync, openSync, closeSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ESCAPED_KEY, IdIndex, IdWriter, IdxError, build, verify } from "../src/index";
import { BIN, ROOT, expectPlainError, requireFreshBuild, runIdx } from "./helpers/cli";
import { MAX_U32, missesFor, rng } from "./helpers/keys";
import { expectIndexMatches } from "./helpers/model";
import { makeTempDir, removeTempDirs, tempFilesIn, ADDON } from "./helpers/tmp";
import { errorOf } from "./helpers/errors";

const DIST = join(ROOT, "dist");
const WRITER = join(__dirname, "helpers", "writer-child.js");
const READER = join(__dirname, "helpers", "reader-history-child.js");

type Pairs = [number, number][];
interface Step { op: "set" | "del" | "update" | "compact"; k?: number; v?: number; i?: number; pairs?: Pairs; bulk?: boolean }
interface Plans {
  encodeValue(index: number, version: number): number;
  historyPlan(o: { seed: number; keyCount: number; ops: number }): {
    keys: number[]; initial: Pairs; steps: Step[]; final: Map<number, number>;
  };
  crashPlan(seed: number): { keys: number[]; initial: Map<number, number>; steps: Step[] };
  applyStep(model: Map<number, number>, step: Step): void;
  stepKeys(step: Step): number[];
}
const plans = createRequire(join(__dirname, "helpers", "index.js"))("./writer-plans.js") as Plans;

let dir: string;
beforeAll(() => {
  requireFreshBuild();
  dir = makeTempDir("idx-writer-proc-");
});
afterAll(removeTempDirs);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A child process with its output collected, and a way to wait for a line of it. */
class Proc {
  readonly child: ChildProcess;
  readonly exit: Promise<Exit>;
  exited = false;
  stdout = "";
  stderr = "";
  #listeners: (() => void)[] = [];

  constructor(args: string[]) {
    this.child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, IDX_DEBUG: "" } });
    this.child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      this.stdout += d;
      for (const f of this.#listeners) f();
    });
    this.child.stderr!.setEncoding("utf8").on("data", (d: string) => (this.stderr += d));
    this.exit = new Promise((resolve, reject) => {
      this.child.on("error", reject);
      this.child.on("close", (code, signal) => {
        this.exited = true;
        for (const f of this.#listeners) f();
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  /** Resolves with the match once stdout matches `re`; rejects if the process exits first. */
  waitFor(re: RegExp): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const test = () => {
        const m = this.stdout.match(re);
        if (m) resolve(m);
        else if (this.exited) reject(new Error(`exited before printing ${re}: ${this.stdout} ${this.stderr}`));
        else return;
        this.#listeners = this.#listeners.filter((f) => f !== test);
      };
      this.#listeners.push(test);
      test();
    });
  }

  /** The last JSON line it printed. */
  json<T = Record<string, unknown>>(): T {
    const lines = this.stdout.trim().split("\n").filter((l) => l.startsWith("{"));
    if (lines.length === 0) throw new Error(`no JSON result: stdout ${this.stdout} stderr ${this.stderr}`);
    return JSON.parse(lines[lines.length - 1]) as T;
  }
}


/** Everything an index yields by iteration, each key once. */
function contents(ix: IdIndex): Map<number, number> {
  const seen = new Map<number, number>();
  for (const [k, v] of ix) {
    if (seen.has(k)) throw new Error(`iteration yields key ${k} twice`);
    seen.set(k, v);
  }
  return seen;
}

// ---------------------------------------------------------------------------------------------

describe.runIf(ADDON)("1. readers in other processes while one writer sets, deletes, grows and compacts", () => {
  const SEED = 1;
  const KEYS = 5000;
  const OPS = 30000;
  interface ReaderResult {
    ok: boolean; mode: string; lookups: number; intermediate: number; opens: number; capacities: number[];
    lookupErrors: string[]; headerErrors: string[]; finalErrors: string[];
  }
  let writerResult: { ok: boolean; steps: number; swaps: number; size: number; errors: string[] };
  let writerExit: Exit;
  let readers: ReaderResult[];
  let readerExits: Exit[];
  let index: string;
  let initialInode: number;
  /** Held open until the checks: the file system cannot reuse the first file's inode meanwhile. */
  let initialFd: number;
  const plan = plans.historyPlan({ seed: SEED, keyCount: KEYS, ops: OPS });

  beforeAll(async () => {
    index = join(dir, "history.idx");
    const done = join(dir, "history.done");
    await build(plan.initial.map(([i, v]) => [plan.keys[i], plans.encodeValue(i, v)] as [number, number]), index);
    initialInode = statSync(index).ino;
    initialFd = openSync(index, "r");
    // Three readers open the index once, before the writer starts, and never again; a fourth
    // opens it again and again while the writer works.
    const procs = [1, 2, 3, 4].map((id) =>
      new Proc([...(id === 4 ? ["--expose-gc"] : []), READER, DIST, index, done, String(SEED), String(KEYS), String(OPS), String(id), id === 4 ? "reopen" : "once"]));
    try {
      await Promise.all(procs.map((p) => p.waitFor(/^ready$/m)));
      const writer = new Proc([WRITER, DIST, "history", index, String(SEED), String(KEYS), String(OPS)]);
      writerExit = await writer.exit;
      writerResult = writer.json();
    } finally {
      writeFileSync(done, "");
    }
    readerExits = await Promise.all(procs.map((p) => p.exit));
    readers = procs.map((p) => p.json<ReaderResult>());
  });

  it("the writer applied the whole plan (sets, deletes, small and bulk updates, a compact), growing from 8 entries", () => {
    expect(writerExit.stderr).toBe("");
    expect(writerResult.errors).toEqual([]);
    expect(writerExit.code).toBe(0);
    expect(writerResult.steps).toBe(plan.steps.length);
    expect(plan.steps.some((s) => s.op === "update" && s.pairs!.length > 4096)).toBe(true);
    expect(plan.steps.some((s) => s.op === "compact")).toBe(true);
    // It grew: the file at the path is another file, and the writer saw it change several times.
    expect(statSync(index).ino).not.toBe(initialInode);
    closeSync(initialFd);
    expect(writerResult.swaps).toBeGreaterThan(1);
    const report = verify(index);
    expect(report.problems).toEqual([]);
    expect(report.interrupted).toBe(false);
    const ix = IdIndex.open(index);
    expect(contents(ix)).toEqual(plan.final);
    ix.close();
  });

  it("every get/has/getMany answer is a state the key held (never another key's value, never a value it never had) and never goes back", () => {
    for (const [n, r] of readers.entries()) {
      expect(readerExits[n].stderr).toBe("");
      expect(r.lookupErrors, `reader ${n + 1} (${r.mode})`).toEqual([]);
      expect(r.lookups).toBeGreaterThan(0);
    }
    // The reads really overlapped the writes: readers saw states between the first and the last.
    for (const r of readers) expect(r.intermediate, r.mode).toBeGreaterThan(0);
    expect(plan.keys.slice(0, 3)).toEqual([0, MAX_U32, ESCAPED_KEY]);
  });

  it("after the writer finished, each reader opened once before it answers exactly the final map, from the current file", () => {
    for (const [n, r] of readers.entries()) {
      expect(r.finalErrors, `reader ${n + 1} (${r.mode})`).toEqual([]);
    }
    for (const r of readers.filter((x) => x.mode === "once")) {
      expect(r.capacities.length, "capacities the reader saw while following the swaps").toBeGreaterThan(1);
    }
  });

  it("IdIndex.open() and info() in other processes never fail while the writer works (§3: a cell's word and check are stored together)", () => {
    for (const [n, r] of readers.entries()) {
      expect(r.headerErrors, `reader ${n + 1} (${r.mode})`).toEqual([]);
      expect(readerExits[n].code).toBe(0);
    }
    expect(readers[3].opens).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe.runIf(ADDON)("2. kill -9 of a writer at any point", () => {
  const RUNS = 20;

  interface Outcome { killed: boolean; inFlight: string; interrupted: boolean; tombstones: number; tempFiles: number }

  /** One run: build, start the writer child, SIGKILL it after `delay` ms, check everything. */
  async function killedRun(run: number, delay: number): Promise<Outcome> {
    const sub = makeTempDir(`idx-kill-${run}-`);
    const index = join(sub, "k.idx");
    const log = join(sub, "progress.log");
    const seed = run + 1;
    const plan = plans.crashPlan(seed);
    await build(plan.initial, index);

    const child = new Proc([WRITER, DIST, "crash", index, log, String(seed)]);
    await child.waitFor(/^started$/m);
    await sleep(delay);
    child.child.kill("SIGKILL");
    const exit = await child.exit;
    const where = `run ${run} (seed ${seed}, killed after ${delay} ms)`;
    expect(exit.stderr, where).toBe("");

    // What the writer had done: every step up to the last "E" line; the step after it may be in flight.
    const lines = readFileSync(log, "utf8").split("\n").filter(Boolean);
    let lastBegun = -1;
    let lastEnded = -1;
    for (const line of lines) {
      const [tag, n] = line.split(" ");
      if (tag === "B") lastBegun = Number(n);
      else if (tag === "E") lastEnded = Number(n);
    }
    const finished = lines[lines.length - 1] === "C";
    const before = new Map(plan.initial);
    for (let n = 0; n <= lastEnded; n++) plans.applyStep(before, plan.steps[n]);
    const inFlight = lastBegun > lastEnded ? plan.steps[lastBegun] : null;
    const after = new Map(before);
    if (inFlight) plans.applyStep(after, inFlight);
    const flightKeys = new Set(inFlight ? plans.stepKeys(inFlight) : []);
    const label = inFlight ? `${inFlight.op}${inFlight.op === "update" ? (inFlight.bulk ? " (bulk)" : " (in place)") : ""}` : finished ? "finished" : "between steps";

    // The file opens and verifies as it was left, before any writer repairs it.
    const tempFiles = tempFilesIn(sub).length;
    const report = verify(index);
    expect(report.problems, `${where}: verify, in flight: ${label}`).toEqual([]);
    expect(report.ok).toBe(true);
    const ix = IdIndex.open(index);
    const observed = new Map<number, number>();
    const wrong: string[] = [];
    const universe = new Set<number>([...plan.keys, ...before.keys(), ...after.keys()]);
    let sawBefore = 0;
    let sawAfter = 0;
    for (const k of universe) {
      const got = ix.get(k);
      if (got !== undefined) observed.set(k, got);
      const b = before.get(k);
      if (got === b) {
        if (flightKeys.has(k) && after.get(k) !== b) sawBefore++;
        continue;
      }
      if (flightKeys.has(k) && got === after.get(k)) {
        sawAfter++;
        continue;
      }
      wrong.push(`key ${k}: ${got}, expected ${b}${flightKeys.has(k) ? ` or ${after.get(k)}` : ""}`);
      if (wrong.length > 10) break;
    }
    expect(wrong, `${where}, in flight: ${label}`).toEqual([]);
    if (inFlight?.op === "update" && inFlight.bulk) {
      // A bulk update is one swap of files: all of it or none of it.
      expect(sawBefore === 0 || sawAfter === 0, `${where}: a bulk update half applied (${sawBefore} before, ${sawAfter} after)`).toBe(true);
    }
    expect(contents(ix)).toEqual(observed);
    ix.close();

    // The next writer repairs what is left (§11.6) and removes the dead writer's temp file.
    const w = IdWriter.open(index);
    w.close();
    expect(tempFilesIn(sub), where).toEqual([]);
    const repaired = verify(index);
    expect(repaired.problems, where).toEqual([]);
    expect(repaired.interrupted).toBe(false);
    expect(repaired.retired).toBe(false);
    expect(repaired.tombstones).toBe(0);
    expect(repaired.entries).toBe(observed.size);
    const ix2 = IdIndex.open(index);
    expect(ix2.size).toBe(observed.size);
    expect(contents(ix2)).toEqual(observed);
    ix2.close();
    return { killed: !finished, inFlight: label, interrupted: report.interrupted, tombstones: report.tombstones, tempFiles };
  }

  it(`${RUNS} runs killed 1-200 ms into set/delete/update/grow/compact: each file opens, verifies, holds before-or-after values, and recovers`, async () => {
    const r = rng(20240);
    const outcomes: Outcome[] = [];
    for (let run = 0; run < RUNS; run++) outcomes.push(await killedRun(run, 1 + (r() % 200)));
    const tally: Record<string, number> = {};
    for (const o of outcomes) tally[o.inFlight] = (tally[o.inFlight] ?? 0) + 1;
    const left = {
      interrupted: outcomes.filter((o) => o.interrupted).length,
      withTombstones: outcomes.filter((o) => o.tombstones > 0).length,
      withTempFile: outcomes.filter((o) => o.tempFiles > 0).length,
    };
    console.info(`kill -9 runs by step in flight: ${JSON.stringify(tally)}; files left: ${JSON.stringify(left)}`);
    // Not vacuous: most runs were killed before the writer finished its plan, and some left a
    // file mid-operation (odd seq, dirty blocks or tombstones) or a temp file for recovery.
    expect(outcomes.filter((o) => o.killed).length).toBeGreaterThanOrEqual(RUNS / 2);
    expect(left.interrupted + left.withTempFile).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe.runIf(ADDON)("3. two writers at once", () => {
  const valueOf = (k: number) => k + 1;

  it("a second writer is refused with ERR_IDX_LOCKED naming the holder's pid (API and `idx set`, exit 2); with wait it gets the index once the first closes, across a grow; nothing is lost", async () => {
    const index = join(dir, "two.idx");
    const initial = new Map<number, number>(Array.from({ length: 50 }, (_, i) => [1_000_000 + i, i] as [number, number]));
    await build(initial, index);

    const holder = new Proc([WRITER, DIST, "hold", index, "1000", "300"]);
    const [, pidText] = await holder.waitFor(/^locked (\d+)$/m);
    const pid = Number(pidText);
    expect(pid).toBe(holder.child.pid);
    const names = new RegExp(`\\b${pid}\\b`);

    const e = errorOf(() => IdWriter.open(index));
    expect(e.code).toBe("ERR_IDX_LOCKED");
    expect(e.message).toMatch(names);
    const refused = runIdx(["set", index, "5", "6"]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(names);
    expectPlainError(refused, 3);

    // Two writers that wait: one through the API in another process, one through the CLI.
    const apiWaiter = new Proc([WRITER, DIST, "wait", index, "5000", "200", "30000"]);
    const cliWaiter = new Proc([BIN, "set", "--wait", "30000", index, "777", "778"]);
    await apiWaiter.waitFor(/^waiting$/m);
    await sleep(300); // let both reach their lock wait; correctness does not depend on it
    // Neither can have the index while the holder has it.
    expect(apiWaiter.stdout).not.toMatch(/acquired/);
    expect(cliWaiter.exited, `idx set --wait: ${cliWaiter.stderr}`).toBe(false);

    // The holder writes 300 more new keys (the table grows: the lock passes to a new file), closes.
    holder.child.stdin!.write("release\n");
    const held = await holder.exit;
    expect(held.stderr).toBe("");
    expect(held.stdout).toMatch(/^closed$/m);
    const [api, cli] = await Promise.all([apiWaiter.exit, cliWaiter.exit]);
    expect(api.stderr).toBe("");
    expect(apiWaiter.json()).toEqual({ ok: true });
    expect(cli.stderr).toBe("");
    expect(cli.code).toBe(0);

    const expected = new Map(initial);
    for (let k = 1000; k < 1600; k++) expected.set(k, valueOf(k));
    for (let k = 5000; k < 5200; k++) expected.set(k, valueOf(k));
    expected.set(777, 778);
    const report = verify(index);
    expect(report.problems).toEqual([]);
    const ix = IdIndex.open(index);
    expect(ix.get(5)).toBeUndefined(); // the refused `idx set` changed nothing
    expect(contents(ix)).toEqual(expected);
    ix.close();
    expect(tempFilesIn(dir)).toEqual([]);
  });

  it("a lock left by a SIGKILLed writer does not block the next writer (API or `idx set` without --wait), and its writes are there", async () => {
    const sub = makeTempDir("idx-killed-holder-");
    const index = join(sub, "killed.idx");
    await build([[1, 1]], index);
    const holder = new Proc([WRITER, DIST, "hold", index, "1000", "100"]);
    await holder.waitFor(/^locked \d+$/m);
    expect(errorOf(() => IdWriter.open(index)).code).toBe("ERR_IDX_LOCKED");
    holder.child.kill("SIGKILL");
    const exit = await holder.exit;
    expect(exit.signal).toBe("SIGKILL");

    const w = IdWriter.open(index); // no wait
    for (let k = 1000; k < 1100; k++) expect(w.get(k)).toBe(valueOf(k));
    w.set(2, 2);
    w.close();
    const cli = runIdx(["set", index, "3", "3"]);
    expect(cli.stderr).toBe("");
    expect(cli.status).toBe(0);

    const expected = new Map<number, number>([[1, 1], [2, 2], [3, 3]]);
    for (let k = 1000; k < 1100; k++) expected.set(k, valueOf(k));
    expect(verify(index).problems).toEqual([]);
    const ix = IdIndex.open(index);
    expect(contents(ix)).toEqual(expected);
    ix.close();
    expect(tempFilesIn(sub)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe.runIf(ADDON)("4. a grow that cannot write its new file (file-size limit)", () => {
  it("leaves the old index whole, verifying, with exactly the map from before the grow, and no temp file", async () => {
    const sub = makeTempDir("idx-efbig-");
    const index = join(sub, "full.idx");
    const initial = new Map<number, number>(Array.from({ length: 7000 }, (_, i) => [(i * 2654435761) >>> 0, i] as [number, number]));
    await build(initial, index);
    const oldBytes = statSync(index).size;
    // ulimit -f counts 1024-byte blocks: room for the index as built, not for a grown one.
    const limitBlocks = Math.ceil(oldBytes / 1024) + 1;
    const FROM = 3_000_000_000;
    const r = spawnSync("bash", ["-c", `ulimit -f ${limitBlocks}; exec "$0" "$@"`, process.execPath, WRITER, DIST, "fill", index, String(FROM), "3000"], {
      cwd: ROOT, encoding: "utf8", timeout: 60_000,
    });
    expect(r.error).toBeUndefined();

    const expected = new Map(initial);
    if (r.signal !== null) {
      // Killed by SIGXFSZ instead of getting EFBIG: the in-place sets before it are in the file,
      // but we do not know how many; the old file must still open and verify, and the next
      // writer must remove the temp file.
      expect(r.signal).toBe("SIGXFSZ");
      expect(verify(index).problems).toEqual([]);
      IdWriter.open(index).close();
      expect(tempFilesIn(sub)).toEqual([]);
      return;
    }
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout.trim()) as {
      inserted: number; setError: { code: string; message: string } | null;
      updateError: { code: string; message: string } | string | null; overwriteError: unknown; closeError: unknown;
    };
    // Sets went in place until one needed a grow, which failed with ERR_IDX_IO (EFBIG).
    expect(out.inserted).toBeGreaterThan(0);
    expect(out.inserted).toBeLessThan(3000);
    expect(out.setError?.code).toBe("ERR_IDX_IO");
    expect(out.setError?.message).toMatch(/EFBIG|too large/i);
    // A bulk update (a new, larger file) fails the same way.
    expect((out.updateError as { code: string }).code).toBe("ERR_IDX_IO");
    for (let k = FROM; k < FROM + out.inserted; k++) expected.set(k, (k ^ 0x5a5a5a5a) >>> 0);
    // The index is unchanged by the failures: no temp file, and the writer still works in place.
    expect(tempFilesIn(sub)).toEqual([]);
    expect(out.overwriteError).toBeNull();
    expect(out.closeError).toBeNull();
    expected.set(FROM, 7);
    expect(statSync(index).size).toBe(oldBytes);

    const report = verify(index);
    expect(report.problems).toEqual([]);
    expect(report.interrupted).toBe(false);
    expect(report.retired).toBe(false);
    const ix = IdIndex.open(index);
    expect(ix.size).toBe(expected.size);
    expect(contents(ix)).toEqual(expected);
    ix.close();

    // The next writer (no file-size limit) grows it.
    const w = IdWriter.open(index);
    w.set(FROM + 5000, 1);
    expected.set(FROM + 5000, 1);
    for (let k = FROM + 5001; k < FROM + 5400; k++) {
      w.set(k, 2);
      expected.set(k, 2);
    }
    w.close();
    expect(statSync(index).size).toBeGreaterThan(oldBytes);
    expect(verify(index).problems).toEqual([]);
    const ix2 = IdIndex.open(index);
    expect(contents(ix2)).toEqual(expected);
    ix2.close();
    expect(tempFilesIn(sub)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe.runIf(ADDON)("5. idx set/del/put/compact in another process, seen at once by a reader open here", () => {
  it("each change is visible to the same IdIndex right after the command returns, across in-place edits, a bulk merge, a grow and a compact", async () => {
    const sub = makeTempDir("idx-cli-rt-");
    const index = join(sub, "cli.idx");
    const model = new Map<number, number>(Array.from({ length: 200 }, (_, i) => [(i * 40503 + 11) >>> 0, i] as [number, number]));
    await build(model, index);
    const ix = IdIndex.open(index);
    const idx = (...args: string[]) => {
      const res = runIdx(args);
      expect(res.stderr, `idx ${args.join(" ")}`).not.toMatch(/^idx: /m);
      return res.status;
    };
    const expectKey = (k: number) => expect(ix.get(k), `key ${k}`).toBe(model.get(k));

    // set: insert, overwrite, the edge keys and values, the escaped key.
    for (const [k, v] of [[42, 4242], [42, 7], [0, MAX_U32], [MAX_U32, 0], [ESCAPED_KEY, 99], [ESCAPED_KEY, 0]] as [number, number][]) {
      expect(idx("set", index, String(k), String(v))).toBe(0);
      model.set(k, v);
      expectKey(k);
      expect(ix.has(k)).toBe(true);
      expect(ix.size).toBe(model.size);
    }
    // del: a slot key, the escaped key, and a missing key (exit 1, nothing changes).
    for (const k of [42, ESCAPED_KEY, (3 * 40503 + 11) >>> 0]) {
      expect(idx("del", index, String(k))).toBe(0);
      model.delete(k);
      expect(ix.get(k)).toBeUndefined();
      expect(ix.has(k)).toBe(false);
      expect(ix.size).toBe(model.size);
    }
    const missingDel = runIdx(["del", index, "42"]);
    expect(missingDel.status).toBe(1);
    expect(missingDel.stderr).toBe(`idx: ${index}: not there, so not deleted: 1 key (42)\n`);
    expectIndexMatches(ix, model, missesFor(model, 100));

    // put, small: applied in place, pair by pair.
    const small: [number, number][] = Array.from({ length: 20 }, (_, i) => [7_000_000 + i, i * 3]);
    small.push([0, 123]);
    writeFileSync(join(sub, "small.tsv"), small.map(([k, v]) => `${k}\t${v}\n`).join(""));
    expect(idx("put", index, join(sub, "small.tsv"), "-q")).toBe(0);
    for (const [k, v] of small) model.set(k, v);
    for (const [k] of small) expectKey(k);

    // put, large: merged into a new file renamed over this one; the reader follows.
    const inodeBefore = statSync(index).ino;
    const large: [number, number][] = Array.from({ length: 6000 }, (_, i) => [(i * 2654435761 + 5) >>> 0, MAX_U32 - i]);
    writeFileSync(join(sub, "large.tsv"), large.map(([k, v]) => `${k} ${v}\n`).join(""));
    expect(idx("put", index, join(sub, "large.tsv"), "-q")).toBe(0);
    expect(statSync(index).ino).not.toBe(inodeBefore);
    for (const [k, v] of large) model.set(k, v);
    expect(ix.get(large[0][0])).toBe(large[0][1]);
    expect(ix.size).toBe(model.size);
    expectIndexMatches(ix, model, missesFor(model, 100));

    // compact: a new file again; then a put of new keys in place that makes it grow.
    const inodeCompact = statSync(index).ino;
    expect(idx("compact", index, "-q")).toBe(0);
    expect(statSync(index).ino).not.toBe(inodeCompact);
    expect(ix.size).toBe(model.size);
    expectKey(0);
    const capacityCompacted = ix.info().capacity;
    const grow: [number, number][] = Array.from({ length: 1500 }, (_, i) => [8_000_000 + i, i]);
    writeFileSync(join(sub, "grow.tsv"), grow.map(([k, v]) => `${k} ${v}\n`).join(""));
    expect(idx("put", index, join(sub, "grow.tsv"), "-q")).toBe(0);
    for (const [k, v] of grow) model.set(k, v);
    expectKey(8_000_000 + 1499);
    expect(ix.info().capacity).toBeGreaterThan(capacityCompacted);
    expectIndexMatches(ix, model, missesFor(model, 100));
    ix.close();
    expect(verify(index).problems).toEqual([]);
    expect(tempFilesIn(sub)).toEqual([]);
  });
});

describe.runIf(ADDON)("4. iterating a reader while another process moves entries", () => {
  it("never yields a pair its key never held (a slot read half before and half after a write)", async () => {
    const path = join(makeTempDir("idx-iter-torn-"), "it.idx");
    const value = (k: number) => (k * 2 + 1) >>> 0;
    const keys = new Uint32Array(50_000).map((_, i) => i);
    await build({ keys, values: keys.map(value) }, path, { sync: false });
    // Inserts and deletes shift runs of slots back and forth, 2 seconds long.
    const script = `const { IdWriter } = require(${JSON.stringify(DIST)});
      const w = IdWriter.open(${JSON.stringify(path)}, { sync: false });
      const end = Date.now() + 2000;
      process.stdout.write("ready\\n");
      while (Date.now() < end) for (let i = 0; i < 5000; i++) {
        const k = 1e6 + ((Math.random() * 40000) | 0);
        if (w.has(k)) w.delete(k); else w.set(k, (k * 2 + 1) >>> 0);
      }
      w.close();`;
    const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise((resolve) => child.stdout!.once("data", resolve));
    const exited = new Promise((resolve) => child.on("exit", resolve));
    const ix = IdIndex.open(path);
    let seen = 0;
    const torn: [number, number][] = [];
    let running = true;
    void exited.then(() => (running = false));
    while (running) {
      for (const [k, v] of ix) {
        seen++;
        if (v !== value(k) && torn.length < 5) torn.push([k, v]);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    ix.close();
    expect(torn).toEqual([]);
    expect(seen).toBeGreaterThan(1_000_000);
  });
});

describe.runIf(ADDON)("6. a reader beside a writer in another process whose renames come a millisecond after its retire marks", () => {
  it("answers every get from a file that holds it, and never calls a replaced file rewritten in place", async () => {
    // §11.4 marks the old file retired, then renames the new one over it. A reader that looked
    // at the path between the two (same file: keep answering) and then, within its once-a-
    // millisecond limit, met the watcher's zero page over the moved file's header, threw
    // ERR_IDX_CORRUPT "being rewritten in place" (a Python writer, slower between the two, beside
    // a Node reader: about one 2.5 s run in ten). The child here waits 1 ms before each rename.
    // It takes the watcher looking while the reader releases a mapping every few ms: it used to
    // set its 100 ms deadline anew at each release, and then never looked (this test passed).
    const path = join(makeTempDir("idx-compact-follow-"), "c.idx");
    const value = (k: number) => (k * 3 + 1) >>> 0;
    const keys = new Uint32Array(2_000).map((_, i) => i * 7);
    await build({ keys, values: keys.map(value) }, path, { sync: false });
    const script = `const fs = require("node:fs");
      const rename = fs.renameSync;
      fs.renameSync = (a, b) => { const t = process.hrtime.bigint(); while (process.hrtime.bigint() - t < 1000000n); return rename(a, b); };
      const { IdWriter } = require(${JSON.stringify(DIST)});
      const w = IdWriter.open(${JSON.stringify(path)}, { sync: false });
      const end = Date.now() + 3000;
      process.stdout.write("ready\\n");
      let n = 0;
      while (Date.now() < end) { w.compact(); n++; }
      w.close();
      process.stdout.write(n + "\\n");`;
    const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise((resolve) => child.stdout!.once("data", resolve));
    let compactions = "";
    child.stdout!.on("data", (d: Buffer) => (compactions += d.toString()));
    const exited = new Promise((resolve) => child.on("exit", resolve));
    const ix = IdIndex.open(path);
    let running = true;
    void exited.then(() => (running = false));
    const errors: string[] = [];
    let asked = 0;
    const r = rng(17);
    while (running) {
      for (let i = 0; i < 2000; i++) {
        const k = keys[r() % keys.length];
        asked++;
        try {
          const v = ix.get(k);
          if (v !== value(k) && errors.length < 5) errors.push(`get(${k}) = ${v}`);
        } catch (e) {
          if (errors.length < 5) errors.push(String(e));
        }
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    ix.close();
    expect(errors).toEqual([]);
    expect(Number(compactions.trim())).toBeGreaterThan(50); // 265 to 1,000 in 3 s here, by load
    expect(asked).toBeGreaterThan(100_000);
  });
});
