/**
 * spec §11.7 kept in one place and checked everywhere it is copied: the addon's header offsets
 * and constants against src/core (a drifted copy is refused at load), and the addon's batch
 * lookup following the protocol (a retired file, a reach a writer raised) as get() does.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdIndex, IdWriter, build } from "../src/index";
import { ADDON_FUNCTIONS, constantsMismatch, engine, expectedConstants, missingFunction, requireNativeAddon } from "../src/os/native";
import { NO_DEAD_SEQ, ProtocolReader, StallClock, quiet, settle } from "../src/core/protocol";
import { requireFreshBuild, runIdx } from "./helpers/cli";
import { specUnhash } from "./helpers/keys";
import { makeTempDir, removeTempDirs } from "./helpers/tmp";

const native = !process.env.IDX_NO_NATIVE;
let dir: string;

beforeAll(() => {
  requireFreshBuild();
  dir = makeTempDir("idx-protocol-");
});
afterAll(removeTempDirs);

describe.runIf(native)("the addon's copy of the format is checked against src/core when it loads", () => {
  it("the addon in use was compiled with exactly the constants src/core has (cells, bits, sizes, the hash, the slot mapping)", () => {
    expect(engine().native).toBe(true);
    expect(constantsMismatch(requireNativeAddon("this test").constants())).toBeNull();
  });

  it("the addon has every function idx calls, and one built from older sources (a function missing) is named", () => {
    const addon = requireNativeAddon("this test") as unknown as Record<string, unknown>;
    expect(missingFunction(addon)).toBeNull();
    expect(Object.keys(addon).filter((k) => typeof addon[k] === "function").sort()).toEqual([...ADDON_FUNCTIONS].sort());
    const { sortHashed: _gone, ...older } = addon;
    expect(missingFunction(older)).toBe("sortHashed");
  });

  it("a drifted constant is named: the seq cell pointed at a reserved word (issue 9's example), a bit, the hash", () => {
    const good = expectedConstants();
    expect(constantsMismatch({ ...good, cellSeq: 80 })).toMatch(/^cellSeq is 80 in the addon, 48 in idx/);
    expect(constantsMismatch({ ...good, stateRetired: 1 << 30 })).toMatch(/^stateRetired/);
    expect(constantsMismatch({ ...good, hashOf1: 1 })).toMatch(/^hashOf1/);
    expect(constantsMismatch({ ...good, homeOf4294967295In4908534053: 0 })).toMatch(/^homeOf/);
    const { cellSeq: _gone, ...missing } = good;
    expect(constantsMismatch(missing)).toMatch(/^cellSeq is undefined/);
  });
});

describe.runIf(native)("getMany through the addon (64 keys or more) follows the protocol as get() does", () => {
  it("on a file replaced by idx build (retired), the next getMany answers from the new file", async () => {
    const path = join(dir, "retired.idx");
    const keys = new Uint32Array(5000).map((_, i) => i);
    await build({ keys, values: keys.map((k) => k + 1) }, path);
    const ix = IdIndex.open(path);
    const values = new Uint32Array(keys.length);
    expect(ix.getMany(keys, values)).toBe(5000);
    expect(values[4999]).toBe(5000);
    const pairs = join(dir, "new.tsv");
    require("node:fs").writeFileSync(pairs, Array.from(keys, (k) => `${k}\t${k + 7}`).join("\n"));
    expect(runIdx(["build", pairs, "-o", path, "-q"]).status).toBe(0);
    expect(ix.getMany(keys, values)).toBe(5000);
    expect(values[0]).toBe(7);
    expect(values[4999]).toBe(5006);
    ix.close();
  });

  it("finds keys a writer placed further from home than the reach the reader opened with", async () => {
    const path = join(dir, "reach.idx");
    await build(Array.from({ length: 1000 }, (_, i) => [i, i] as [number, number]), path);
    const ix = IdIndex.open(path);
    const reachBefore = ix.info().reach!;
    // 300 keys whose hashes share one home slot: each insert moves the run's tail further.
    const crowd = Array.from({ length: 300 }, (_, i) => specUnhash(0x80000000 + i));
    const w = IdWriter.open(path, { sync: false });
    for (const k of crowd) w.set(k, k % 1000);
    const reachAfter = IdIndex.open(path).info().reach!;
    expect(reachAfter).toBeGreaterThan(reachBefore + 100);
    const keys = Uint32Array.from(crowd);
    const values = new Uint32Array(keys.length);
    const found = new Uint8Array(keys.length);
    expect(ix.getMany(keys, values, found)).toBe(crowd.length);
    for (let i = 0; i < crowd.length; i++) expect(values[i]).toBe(crowd[i] % 1000);
    for (const k of crowd) expect(ix.get(k)).toBe(k % 1000);
    w.close();
    ix.close();
  });

  it("a reach a writer raised in place goes into the lookups the reader has: the same functions answer", async () => {
    // 2,000 pairs, 200 deleted and 150 keys of one home slot set in their place: the file is
    // not replaced (no growth), its reach rises by about 150.
    const path = join(dir, "reach-in-place.idx");
    await build(Array.from({ length: 2000 }, (_, i) => [i, i] as [number, number]), path);
    const ix = IdIndex.open(path);
    const { reach: reachBefore, capacity } = ix.info();
    const lookups = [ix.get, ix.getOr, ix.has];
    const crowd = Array.from({ length: 150 }, (_, i) => specUnhash(0x80000000 + i));
    const w = IdWriter.open(path, { sync: false });
    for (let i = 0; i < 200; i++) w.delete(i);
    for (const k of crowd) w.set(k, k % 1000);
    for (const k of crowd) expect([ix.get(k), ix.getOr(k, -1), ix.has(k)]).toEqual([k % 1000, k % 1000, true]);
    for (let i = 0; i < 2000; i++) expect(ix.get(i)).toBe(i < 200 ? undefined : i);
    const after = ix.info();
    expect(after.capacity).toBe(capacity);
    expect(after.reach!).toBeGreaterThan(reachBefore! + 100);
    // lookups.ts retune: a caller's loop compiled for these functions keeps them (new ones
    // would make its call site one that has seen two readers, which V8 cannot fold a reader into).
    expect(ix.get === lookups[0] && ix.getOr === lookups[1] && ix.has === lookups[2]).toBe(true);
    w.close();
    ix.close();
  });
});

describe("§11.7 settle(): the protocol's decisions, on a scripted reader", () => {
  /** A reader whose seq loads return `seqs` in turn (the last one from then on). */
  function scripted(seqs: number[], options: { diverted?: boolean; follows?: boolean; gone?: boolean } = {}) {
    let i = 0;
    let followed = 0;
    let tests = 0;
    let dead = NO_DEAD_SEQ;
    const reader: ProtocolReader = {
      seq: () => seqs[Math.min(i++, seqs.length - 1)],
      dead: () => dead,
      writerGone: () => {
        tests++;
        return options.gone ?? false;
      },
      markDead: (seq) => (dead = seq),
      diverted: () => options.diverted ?? false,
      follow: () => {
        followed++;
        return (options.follows ?? false) && followed === 1;
      },
    };
    return { reader, followed: () => followed, lockTests: () => tests, dead: () => dead };
  }

  it("an even seq unchanged across the probe is an answer at once; an odd one only when it is the dead writer's", () => {
    expect(quiet(4, 4)).toBe(true);
    expect(quiet(4, 6)).toBe(false);
    expect(quiet(5, 5)).toBe(false);
    expect(quiet(5, 5, 5)).toBe(true);
    expect(quiet(5, 7, 5)).toBe(false);
  });

  it("a changed seq means a write overlapped: probe again, until a quiet probe", () => {
    const { reader } = scripted([6, 8, 8]);
    let probes = 0;
    expect(settle(reader, () => ++probes, 4, 6, 0, new StallClock())).toBe(2);
  });

  it("a retired file with no replacement yet answers as it stands, without waiting", () => {
    const { reader, followed } = scripted([7, 7], { diverted: true });
    expect(settle(reader, () => 99, 7, 7, 42, new StallClock())).toBe(42);
    expect(followed()).toBe(1);
  });

  it("a retired file whose replacement is there: follow, and probe the new file", () => {
    const { reader } = scripted([2, 2], { diverted: true, follows: true });
    expect(settle(reader, () => 5, 7, 7, 42, new StallClock())).toBe(5);
  });

  it("an odd seq held 5 ms with the lock free is a dead writer: its seq is dead, and the next probe answers", () => {
    const { reader, lockTests, dead } = scripted([9]);
    (reader as { writerGone: () => boolean }).writerGone = () => true;
    const started = performance.now();
    let probes = 0;
    expect(settle(reader, () => ++probes, 9, 9, 0, new StallClock())).toBeGreaterThan(0);
    expect(performance.now() - started).toBeGreaterThanOrEqual(5);
    expect(dead()).toBe(9);
    void lockTests;
  });

  it("an odd seq under a held lock (a live writer the scheduler stopped) is waited on: no answer before 1 s, then two probes that agree", () => {
    const { reader, lockTests, dead } = scripted([9], { gone: false });
    const started = performance.now();
    let probes = 0;
    expect(settle(reader, () => (++probes, 3), 9, 9, 3, new StallClock())).toBe(3);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
    expect(dead()).toBe(NO_DEAD_SEQ);
    expect(lockTests()).toBeGreaterThanOrEqual(2); // at 5 ms, then every 100 ms
    expect(lockTests()).toBeLessThanOrEqual(12);
  });

  it("once a stopped writer is decided, later lookups of that seq answer without pausing (a stopped writer slowed every lookup for good)", () => {
    let pauses = 0;
    const clock = new StallClock((ms) => {
      pauses++;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    });
    const { reader } = scripted([9]);
    expect(settle(reader, () => 3, 9, 9, 3, clock)).toBe(3); // waits out the second, pausing
    expect(pauses).toBeGreaterThan(0);
    const before = pauses;
    for (let i = 0; i < 1000; i++) expect(settle(scripted([9]).reader, () => 3, 9, 9, 3, clock)).toBe(3);
    expect(pauses).toBe(before);
  });
});
