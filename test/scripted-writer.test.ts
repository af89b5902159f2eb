/**
 * Every copy of the §11.7 protocol, against a scripted writer (issue 17, case 15): the mapped
 * reader's get, getOr and has, and its getMany chunk (src/reader/lookups.ts), the pread reader of `idx get`
 * (src/os/file-lookup.ts) and the addon's batch loops (native/probe.h: version 2's, and version
 * 3's in each of its shapes). In each, a writer
 * completes a delete at a chosen load in the middle of a probe: the backward shift moves the
 * key being looked up one slot left, over the slot the probe already read, and empties the slot
 * it reads next. The probe alone then answers "absent" for a key that was present before and
 * after the write; only the seq check makes the reader probe again. Each test fails when its
 * copy's check is removed (tried for each one by deleting it).
 */
import { spawnSync } from "node:child_process";
import { existsSync, openSync, closeSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "../src/index";
import { HeaderCells } from "../src/core/cells";
import { EMPTY_HASH, LAYOUT_V2, SLOT_WORDS, W_SEQ, slotOffset } from "../src/core/format";
import { homeSlot, unhash32 } from "../src/core/hash";
import { NO_DEAD_SEQ, ProtocolReader, StallClock, settle } from "../src/core/protocol";
import { SlotRegion } from "../src/core/slots";
import { findSlot } from "../src/core/table";
import { FileCellStore } from "../src/os/cell-stores";
import { FileLookup, readFully } from "../src/os/file-lookup";
import { makeGet, probeChunk } from "../src/reader/lookups";
import { makeTempDir, removeTempDirs } from "./helpers/tmp";

let dir: string;
beforeAll(() => {
  dir = makeTempDir("idx-scripted-");
});
afterAll(removeTempDirs);

// Keys j and k share home slot 1 of a table of capacity 4: j in slot 1, k in slot 2.
const CAPACITY = 4;
const HJ = 0x40000000 + 5;
const HK = HJ + 1;
const KJ = unhash32(HJ);
const KK = unhash32(HK);
const SLOT_COUNT = 12;
const ID_WORD = LAYOUT_V2.checksumOffset / 4;
const FILE_ID = 0x12345678;

/** A header and a slot array, and a proxy of the slots that runs `writer` at the load of word `at`. */
function table(at: number, writer: (header: Uint32Array, slots: Uint32Array) => void) {
  const header = new Uint32Array(LAYOUT_V2.headerBytes / 4);
  header[W_SEQ] = 2;
  header[ID_WORD] = FILE_ID;
  const slots = new Uint32Array(SLOT_COUNT * SLOT_WORDS);
  for (let s = 0; s < SLOT_COUNT; s++) slots[s * SLOT_WORDS] = EMPTY_HASH;
  expect([homeSlot(HJ, CAPACITY), homeSlot(HK, CAPACITY)]).toEqual([1, 1]);
  slots.set([HJ, 111, HK, 222], 1 * SLOT_WORDS);
  let acted = false;
  const scripted = new Proxy(slots, {
    get(target, prop) {
      if (!acted && prop === String(at)) {
        acted = true;
        writer(header, target);
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { header, slots, scripted, acted: () => acted };
}

/** The delete of j: seq odd, k shifted left over j, its old slot emptied, seq even. */
function deleteJ(header: Uint32Array, slots: Uint32Array): void {
  header[W_SEQ]++;
  slots.set([HK, 222], 1 * SLOT_WORDS);
  slots.set([EMPTY_HASH, 0], 2 * SLOT_WORDS);
  header[W_SEQ]++;
}

/** A reader over the same arrays whose slow path probes again with the real settle(). */
function slowPathOver(header: Uint32Array, slots: Uint32Array) {
  const region = SlotRegion.of(slots);
  const reader: ProtocolReader = {
    seq: () => header[W_SEQ],
    dead: () => NO_DEAD_SEQ,
    writerGone: () => false,
    markDead: () => {},
    diverted: () => header[ID_WORD] !== FILE_ID,
    follow: () => false,
  };
  const probe = (hash: number) => {
    const s = findSlot(region, CAPACITY, SLOT_COUNT - 1, hash);
    return s >= 0 ? region.valueWord(s) : undefined;
  };
  let calls = 0;
  return {
    slowGet(hash: number, s1: number, s2: number, value: number | undefined) {
      calls++;
      return settle(reader, () => probe(hash), s1, s2, value, new StallClock());
    },
    calls: () => calls,
  };
}

describe("§11.7 the mapped reader's get (lookups.ts makeGet) against a scripted writer", () => {
  // Each scan of lookups.ts scanOf: reach 1 checks the bound at each slot; at reach 4 the four
  // slots from home are read unchecked, with a branch on each or counted (a table past
  // countPastBytes, here any).
  for (const [reach, countPastBytes, scan] of [[1, Infinity, "checked"], [4, Infinity, "branches"], [4, 0, "count"]] as const) {
    it(`reach ${reach} (${scan}): a delete that completes in the middle of the probe sends it to the slow path, which finds the key`, () => {
      // Word 2 is slot 1's hash (j): the probe has read it when the writer acts; it reads slot 2 next.
      const { header, slots, scripted, acted } = table(2, deleteJ);
      const slow = slowPathOver(header, slots);
      const { get } = makeGet(slow, header, scripted, CAPACITY, reach * SLOT_WORDS, { idWord: ID_WORD, id: FILE_ID, dead: NO_DEAD_SEQ, closure: 1 }, countPastBytes);
      expect(get(KK)).toBe(222);
      expect(acted()).toBe(true);
      expect(slow.calls()).toBe(1);
    });

    it(`reach ${reach} (${scan}): getOr, the same`, () => {
      const { header, slots, scripted, acted } = table(2, deleteJ);
      const slow = slowPathOver(header, slots);
      const { getOr } = makeGet(slow, header, scripted, CAPACITY, reach * SLOT_WORDS, { idWord: ID_WORD, id: FILE_ID, dead: NO_DEAD_SEQ, closure: 1 }, countPastBytes);
      expect(getOr(KK, -1)).toBe(222);
      expect(acted()).toBe(true);
      expect(slow.calls()).toBe(1);
    });

    it(`reach ${reach} (${scan}): has, the same (its own copy of the check: it makes no value)`, () => {
      const { header, slots, scripted, acted } = table(2, deleteJ);
      const slow = slowPathOver(header, slots);
      const { has } = makeGet(slow, header, scripted, CAPACITY, reach * SLOT_WORDS, { idWord: ID_WORD, id: FILE_ID, dead: NO_DEAD_SEQ, closure: 1 }, countPastBytes);
      expect(has(KK)).toBe(true);
      expect(acted()).toBe(true);
      expect(slow.calls()).toBe(1);
    });

    for (const lookup of ["get", "has"] as const) {
      it(`reach ${reach} (${scan}): a file rewritten in place under ${lookup}'s probe (header checksum word changed, seq not) is not answered from`, () => {
        const { header, slots, scripted } = table(2, (h, s) => {
          h[ID_WORD] = FILE_ID ^ 1;
          s.set([HK, 999], 1 * SLOT_WORDS);
          s.set([EMPTY_HASH, 0], 2 * SLOT_WORDS);
        });
        const slow = slowPathOver(header, slots);
        const lookups = makeGet(slow, header, scripted, CAPACITY, reach * SLOT_WORDS, { idWord: ID_WORD, id: FILE_ID, dead: NO_DEAD_SEQ, closure: 1 }, countPastBytes);
        lookups[lookup](KK);
        expect(slow.calls()).toBe(1);
      });
    }

    it(`reach ${reach} (${scan}): with nothing written, the fast path answers (the test's table is sound)`, () => {
      const { header, slots } = table(-1, () => {});
      const slow = slowPathOver(header, slots);
      const { get, getOr, has } = makeGet(slow, header, slots, CAPACITY, reach * SLOT_WORDS, { idWord: ID_WORD, id: FILE_ID, dead: NO_DEAD_SEQ, closure: 1 }, countPastBytes);
      expect([get(KJ), get(KK), getOr(KJ, -1), getOr(12345, -1), has(KJ), has(KK), has(12345)]).toEqual([111, 222, 111, -1, true, true, false]);
      expect(slow.calls()).toBe(0);
    });
  }
});

describe("§11.7 the mapped reader's getMany chunk (lookups.ts probeChunk) against a scripted writer", () => {
  it("a delete during the chunk discards it (-1: answered key by key), rather than answer the key absent", () => {
    // The chunk loads every home slot ahead (word 2 first), then probes: act at the probe's load
    // of slot 2 (word 4), after slot 1 was read.
    let loads = 0;
    const { header, slots } = table(-1, () => {});
    const scripted = new Proxy(slots, {
      get(target, prop) {
        if (prop === "4" && ++loads === 1) deleteJ(header, target);
        return Reflect.get(target, prop);
      },
    });
    const keys = Uint32Array.of(KK);
    const values = new Uint32Array(1);
    const result = probeChunk(header, scripted, CAPACITY, 1 * SLOT_WORDS, { idWord: ID_WORD, id: FILE_ID, dead: NO_DEAD_SEQ, closure: 1 },
      keys, values, undefined, 0, 0, 1, new Uint32Array(64), new Float64Array(64));
    expect(loads).toBeGreaterThan(0);
    expect(result).toBe(-1);
  });
});

describe("§11.7 the pread reader of idx get (os/file-lookup.ts) against a scripted writer", () => {
  it("a read of the slots torn by a delete (j from before it, k's slot from after) is not answered from", async () => {
    const path = join(dir, "pread.idx");
    // Two keys whose hashes are adjacent share a home slot in the builder's table of 2 entries.
    await build([[KJ, 111], [KK, 222]], path, { sync: false });
    const slotsAt = slotOffset(LAYOUT_V2, 0);
    let armed = true;
    let torn = 0;
    const readAt = (fd: number, into: Uint8Array, position: number, length: number, p: string) => {
      readFully(fd, into, position, length, p);
      if (!armed || position !== slotOffset(LAYOUT_V2, homeSlot(HK, 3)) || length < 2 * 8) return;
      armed = false;
      torn++;
      // The writer deletes j now, in the file; the read got j's slot before it and k's after.
      const w = openSync(path, "r+");
      try {
        const cells = new HeaderCells(new FileCellStore(w, path), LAYOUT_V2);
        cells.bumpSeq();
        const slot = (hash: number, value: number) => Buffer.from(Uint32Array.of(hash, value).buffer);
        const jAt = slotOffset(LAYOUT_V2, homeSlot(HJ, 3));
        writeSync(w, slot(HK, 222), 0, 8, jAt);
        writeSync(w, slot(EMPTY_HASH, 0), 0, 8, jAt + 8);
        cells.bumpSeq();
        into.set(slot(EMPTY_HASH, 0), jAt + 8 - position); // the torn read: k's slot as it is now
      } finally {
        closeSync(w);
      }
    };
    void slotsAt;
    const lookup = FileLookup.open(path, readAt);
    try {
      expect(lookup.get(KK)).toBe(222);
      expect(torn).toBe(1);
    } finally {
      lookup.close();
    }
  });
});

const cc = ["cc", "gcc", "clang"].find((c) => spawnSync(c, ["--version"]).status === 0);

describe.runIf(cc !== undefined)("§11.7 the addon's batch loops (native/probe.h) against a scripted writer", () => {
  it("test/helpers/probe-harness.c: a delete (done, or still mid-operation) or a rewrite in place during a chunk discards it, in version 2's loop and in every shape of version 3's; a dead writer's odd seq does not", () => {
    const root = join(__dirname, "..");
    const out = join(dir, "probe-harness");
    const compiled = spawnSync(cc!, ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-I", join(root, "native"), join(__dirname, "helpers", "probe-harness.c"), "-o", out], { encoding: "utf8" });
    expect(compiled.status, compiled.stderr).toBe(0);
    expect(compiled.stderr).toBe("");
    expect(existsSync(out)).toBe(true);
    const run = spawnSync(out, [], { encoding: "utf8" });
    const layouts = ["v2", "64/32 u32 keys", "64/32 u64 keys", "32/64 u32 keys", "32/64 u64 keys", "64/64 u32 keys", "64/64 u64 keys"];
    for (const layout of layouts) {
      expect(run.stdout).toContain(`${layout} quiet table: stop 1, hits 1, value 222\n`);
      expect(run.stdout).toContain(`${layout} write overlapped: stop 0, hits 0`);
      expect(run.stdout).toContain(`${layout} write mid-operation: stop 0, hits 0`);
      expect(run.stdout).toContain(`${layout} rewritten in place: stop 0, hits 0`);
      expect(run.stdout).toContain(`${layout} second chunk overlapped: stop 64, hits 64`);
      expect(run.stdout).toContain(`${layout} odd seq: stop 0`);
      expect(run.stdout).toContain(`${layout} reach used up: stop 0`);
    }
    expect(run.stdout).not.toContain("WRONG");
    expect(run.status, run.stdout).toBe(0);
  });
});
