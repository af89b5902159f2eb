/**
 * idx's own addon (native/*.c): file mappings, flock(2) for the writer lock, and the loops JS
 * cannot make fast (batch lookup with software prefetch, dump's formatting, the builder's parse,
 * sort and placement). Loaded on first use, from a prebuilt binary for this platform or from a
 * local build, and checked: every format constant it was compiled with must equal ours.
 *
 * Without it (no binary for this platform, install scripts not run, IDX_NO_NATIVE set), idx
 * runs its JavaScript paths: the same answers and bytes, but opening an index reads the whole
 * file into memory (a reader reads it again when the file changes, every 100 ms while the event
 * loop turns), and in-place writing is refused (there is no lock that a killed writer
 * releases). One line on stderr says so, once per process.
 */
import * as fs from "node:fs";
import * as nodePath from "node:path";
import { IdxError } from "../core/errors";
import {
  CELL_ESCAPED, CELL_ESCAPED_HIGH, CELL_REACH, CELL_SEQ, CELL_STATE, EMPTY_HASH, EMPTY_HASH_64, LAYOUT_V1, LAYOUT_V2,
  MAX_SLOT_COUNT_V3, STATE_ESCAPED, STATE_RETIRED, Width, layoutFor,
} from "../core/format";
import { ROUND_1, ROUND_2, ROUND_3, ROUND_4, hash32, hash64, homeSlot, homeSlot64, unhash32, unhash64 } from "../core/hash";
import type { Accelerator } from "../core/encode";
import type { PlaceRecords } from "../core/table";

/** Keys per seq check in getMany, on both paths. */
export const CHUNK = 64;

export interface NativeAddon {
  /** The format's numbers as the addon was compiled (64-bit words as bigints): see expectedConstants. */
  constants(): Record<string, number | bigint>;
  /** Returns 0, or the errno (EWOULDBLOCK when another process holds the lock). */
  flock(fd: number, operation: 0 | 1 | 2, wait: boolean): number;
  map(fd: number, size: number, writable: boolean, sequential: boolean): number;
  window(id: number, offset: number, length: number): [ArrayBuffer, number];
  /** deferred: the unmapping runs on the addon's thread (following a replaced file inside a lookup). */
  release(id: number, deferred?: boolean): void;
  sync(id: number): void;
  /** 0 intact, 1 its path names another file now, 2 the file was lost or rewritten in place. */
  state(id: number): 0 | 1 | 2;
  watch(id: number, path: string): void;
  arena(): number;
  /** How many files this process renamed a new index over; bump counts one more first. */
  replacements(bump: boolean): number;
  /**
   * The writer's stores (native/write.c), int32 arguments only (nothing to allocate inside an
   * operation): a word position is (hi, lo) = (index >> 30, index & (2^30 - 1)) from the file's start.
   */
  store8(id: number, hi: number, lo: number, word0: number, word1: number): void;
  store4(id: number, hi: number, lo: number, word: number): void;
  /** A header cell: its word and its check (computed in C), in one 8-byte store. */
  storeCell(id: number, offset: number, word: number): void;
  copy8(id: number, toHi: number, toLo: number, fromHi: number, fromLo: number): void;
  /** A version 3 slot of `words` words (3 or 4), stored whole with one 16-byte store (spec §16.6). */
  storeSlot(id: number, hi: number, lo: number, words: number, word0: number, word1: number, word2: number, word3: number): void;
  copySlot(id: number, toHi: number, toLo: number, fromHi: number, fromLo: number, words: number): void;
  /** One 8-byte store at a 4-byte-aligned word position (a 64-bit value of a 12-byte slot). */
  store8u(id: number, hi: number, lo: number, word0: number, word1: number): void;
  /** CRC-32 of `words` words from a position, as an int32 (>>> 0 for the uint32). */
  crc(id: number, hi: number, lo: number, words: number): number;
  /** Makes `words` words from a position present and writable, changing nothing. */
  touch(id: number, hi: number, lo: number, words: number): void;
  /**
   * dead: a seq value to treat as even (-1 for none); fileId: the header checksum word the
   * reader read at open (spec §11.7). Stops before a chunk whose seq or fileId check fails.
   */
  getMany(
    id: number, headerBytes: number, capacity: number, slotCount: number, reach: number, dead: number, fileId: number,
    keys: Uint32Array, values: Uint32Array, found: Uint8Array | null, missing: number, from: number, to: number,
    result: Float64Array,
  ): void;
  /** Entries whose hash is not above `after` (-1: none) are skipped; result[3] is the last hash written (-1: none). */
  formatPairs(
    id: number, headerBytes: number, capacity: number, slotCount: number, fromSlot: number, previousHash: number,
    after: number, out: Uint8Array, result: Float64Array,
  ): void;
  /**
   * getMany for a version 3 file (spec §16; native/lookup.c), whose header is 128 bytes and
   * slots 16: the same chunks of CHUNK keys between seq loads, the same stops (a write
   * overlapped, the identity word `fileId` changed, a probe used up `reach`), result[0] = hits,
   * result[1] = the index it stopped at (to when done). keyBits and valueBits are the file's
   * (32 or 64, not both 32). `keys` may be either array for either key width: a key above a
   * file's 32-bit keys is absent. `values` and `missing` have the file's value width: a
   * Uint32Array and a uint32 number for 32-bit values, a BigUint64Array and a bigint for 64-bit.
   * @throws ERR_IDX_INVALID_ARGUMENT for anything else, arrays too short for from..to or sharing
   *   memory, or a table that does not fit the mapping.
   */
  getManyWide(
    id: number, capacity: number, slotCount: number, reach: number, dead: number, fileId: number, keyBits: Width,
    valueBits: Width, keys: Uint32Array | BigUint64Array, values: Uint32Array | BigUint64Array, found: Uint8Array | null,
    missing: number | bigint, from: number, to: number, result: Float64Array,
  ): void;
  /**
   * formatPairs for a version 3 file: "key\tvalue\n" lines (decimal) for the entries of slots
   * fromSlot.. in order, into `out` while the next whole line fits (a line of 64-bit keys and
   * values is at most 42 bytes). `marks` (at least 3) is read and written, to carry a dump
   * across calls: marks[0] is the hash word of the slot before fromSlot (EMPTY_HASH or
   * EMPTY_HASH_64 for none) and becomes that of the last slot read; when marks[1] is 1n, entries
   * whose hash is <= marks[2] are skipped (a dump following a replaced file, §5.5); each entry
   * written sets marks[1] = 1n and marks[2] = its hash. A caller that formats the same slots again
   * (a chunk a write overlapped) passes the marks it had before. result = [the next slot to
   * format, bytes written].
   */
  formatPairsWide(
    id: number, capacity: number, slotCount: number, keyBits: Width, valueBits: Width, fromSlot: number,
    marks: BigUint64Array, out: Uint8Array, result: Float64Array,
  ): void;
  hashSort: Accelerator["hashSort"];
  placeSorted: Accelerator["placeSorted"];
  scatterPairs: Accelerator["scatterPairs"];
  scatterHashed: Accelerator["scatterHashed"];
  sortHashed: Accelerator["sortHashed"];
  hashRecords: Accelerator["hashRecords"];
  sortRecords: Accelerator["sortRecords"];
  hashSortRecords: Accelerator["hashSortRecords"];
  hashScatterRecords: Accelerator["hashScatterRecords"];
  sortBucket: Accelerator["sortBucket"];
  splitWords: Accelerator["splitWords"];
  discard: Accelerator["discard"];
  words: Accelerator["words"];
  blockChecksums: Accelerator["blockChecksums"];
  placeRecords: PlaceRecords;
  /**
   * Starts writing bytes 0..bytes of `words` to `fd` at `position`, on a thread of its own
   * (native/writeback.c); with sums, the thread first puts each blockBytes block's checksum there
   * (as blockChecksums). words and sums are arrays from words(), left alone until the wait.
   */
  writeBehind(fd: number, words: Uint32Array, bytes: number, position: number, blockBytes: number, sums: Uint32Array | null): WriteBehind;
  /** Waits for a writeBehind: 0 when every byte was written, else the errno of the write that failed. */
  writeBehindWait(handle: WriteBehind): number;
  parseLines(buf: Uint8Array, start: number, end: number, keys: Uint32Array, values: Uint32Array, count: number, result: Float64Array): void;
}

/** A write under way (writeBehind). */
export type WriteBehind = { readonly __writeBehind: unique symbol };

/** What the addon must have been compiled with: the spec's numbers as src/core has them. */
export function expectedConstants(): Record<string, number | bigint> {
  return {
    emptyHash: EMPTY_HASH,
    stateEscaped: STATE_ESCAPED,
    stateRetired: STATE_RETIRED,
    cellState: CELL_STATE,
    cellEscaped: CELL_ESCAPED,
    cellSeq: CELL_SEQ,
    cellReachV2: CELL_REACH,
    headerV1: LAYOUT_V1.headerBytes,
    headerV2: LAYOUT_V2.headerBytes,
    checksumV1: LAYOUT_V1.checksumOffset,
    checksumV2: LAYOUT_V2.checksumOffset,
    maxSlotsV2: LAYOUT_V2.maxSlotCount,
    chunk: CHUNK,
    hashOf1: hash32(1),
    unhashOfEmpty: unhash32(EMPTY_HASH),
    homeOf4294967295In4908534053: homeSlot(hash32(4294967295), 4908534053),
    homeOfEmptyIn8589934591: homeSlot(EMPTY_HASH, 8589934591),
    headerV3: layoutFor(64, 64).headerBytes,
    slotBytes64x32: layoutFor(64, 32).slotBytes,
    slotBytes32x64: layoutFor(32, 64).slotBytes,
    slotBytes64x64: layoutFor(64, 64).slotBytes,
    slotsPerBlockV3: layoutFor(64, 64).slotsPerBlock,
    cellEscapedHigh: CELL_ESCAPED_HIGH,
    maxSlotsV3: MAX_SLOT_COUNT_V3,
    emptyHash64: EMPTY_HASH_64,
    round1: ROUND_1,
    round2: ROUND_2,
    round3: ROUND_3,
    round4: ROUND_4,
    hash64Of1: hash64(1n),
    hash64OfMax: hash64(0xffffffffffffffffn),
    unhash64OfEmpty: unhash64(EMPTY_HASH_64),
    home64Of18446744073709551614In8589934591: homeSlot64(Number(hash64(0xfffffffffffffffen) >> 32n), 8589934591),
    homeOfEmptyIn1099511627775: homeSlot64(EMPTY_HASH, 2 ** 40 - 1),
    homeOf4067499563In637433271445: homeSlot64(4067499563, 637433271445),
  };
}

/** Null when the addon's constants equal ours; else what differs, for the message. */
export function constantsMismatch(actual: Record<string, number | bigint>): string | null {
  const expected = expectedConstants();
  for (const [name, value] of Object.entries(expected)) {
    if (actual[name] !== value) return `${name} is ${actual[name]} in the addon, ${value} in idx`;
  }
  return null;
}

let addon: NativeAddon | null | undefined;
let addonFile: string | null = null;
let whyNot = "";
let warned = false;

/** The package's root: dist/os/native.js and the bundle dist/idx.js both sit below it. */
function packageRoot(): string {
  for (let dir = __dirname, i = 0; i < 4; i++, dir = nodePath.dirname(dir)) {
    if (fs.existsSync(nodePath.join(dir, "package.json"))) return dir;
  }
  return nodePath.join(__dirname, "..");
}

/**
 * linux-x64, linux-x64-musl, darwin-arm64...: the prebuilds/ folder for this platform. musl is
 * told by the dynamic loader the running node names in its ELF header (PT_INTERP, in the
 * binary's first page): musl's loader installed beside glibc (Debian's musl package) does not
 * make a glibc node musl. process.report would tell too, at a cost of milliseconds. A node
 * without an interpreter (static) falls back to whether musl's loader is installed.
 */
export function platformTag(): string {
  return `${process.platform}-${process.arch}${process.platform === "linux" && isMusl() ? "-musl" : ""}`;
}

function isMusl(): boolean {
  try {
    const fd = fs.openSync(process.execPath, "r");
    try {
      const head = Buffer.alloc(4096);
      const text = head.subarray(0, fs.readSync(fd, head, 0, head.length, 0)).toString("latin1");
      if (text.includes("/ld-musl-")) return true;
      if (text.includes("/ld-linux")) return false;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // An unreadable node binary: the loader's file decides.
  }
  const machine = process.arch === "x64" ? "x86_64" : process.arch === "arm64" ? "aarch64" : process.arch;
  return fs.existsSync(`/lib/ld-musl-${machine}.so.1`);
}

/**
 * Where the addon may be, in the order tried: a local build first (npm install compiled it),
 * then the prebuilt binary for this platform, then on Linux the other libc's (should the guess
 * be wrong, a binary of the wrong libc fails to load, with an error, and the next is tried).
 */
export function addonCandidates(root = packageRoot()): string[] {
  const tag = platformTag();
  const candidates = [nodePath.join(root, "build", "Release", "idx_native.node"), nodePath.join(root, "prebuilds", tag, "idx.node")];
  if (process.platform === "linux") {
    candidates.push(nodePath.join(root, "prebuilds", tag.endsWith("-musl") ? tag.slice(0, -5) : `${tag}-musl`, "idx.node"));
  }
  return candidates;
}

/** Every function idx calls on the addon: a binary built from older sources may lack one. */
export const ADDON_FUNCTIONS = [
  "constants", "flock", "map", "window", "release", "sync", "state", "watch", "arena", "replacements", "getMany", "formatPairs", "hashRecords", "sortRecords", "words", "placeRecords", "hashSortRecords", "splitWords", "discard",
  "blockChecksums", "getManyWide", "formatPairsWide",
  "hashSort", "placeSorted", "scatterPairs", "scatterHashed", "sortHashed", "parseLines", "store8", "storeCell", "store4", "copy8",
  "storeSlot", "copySlot", "store8u",
  "crc", "touch", "writeBehind", "writeBehindWait", "hashScatterRecords", "sortBucket",
] as const;

/** Null when the addon has every function idx calls; else the first missing one. */
export function missingFunction(addon: Record<string, unknown>): string | null {
  for (const name of ADDON_FUNCTIONS) if (typeof addon[name] !== "function") return name;
  return null;
}

function load(): NativeAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.env.IDX_NO_NATIVE) {
    whyNot = "IDX_NO_NATIVE is set";
    return null;
  }
  const tried: string[] = [];
  for (const file of addonCandidates()) {
    if (!fs.existsSync(file)) continue;
    let loaded: NativeAddon;
    try {
      loaded = require(file) as NativeAddon;
    } catch (e) {
      tried.push(`${file}: ${(e as Error).message.split("\n")[0]}`);
      continue;
    }
    const lacking = missingFunction(loaded as unknown as Record<string, unknown>);
    if (lacking !== null) {
      tried.push(`${file} was built from older sources (it has no ${lacking}); rebuild it`);
      continue;
    }
    const mismatch = constantsMismatch(loaded.constants());
    if (mismatch !== null) {
      tried.push(`${file} was built from other sources (${mismatch}); rebuild it`);
      continue;
    }
    addon = loaded;
    addonFile = file;
    return addon;
  }
  whyNot = tried.length > 0 ? tried.join("; ") : `no binary for ${platformTag()} and no local build`;
  return null;
}

/** The addon, or null (then the caller takes its JS path; see the module comment). */
export function nativeAddon(): NativeAddon | null {
  const a = load();
  // Said once, when the addon was expected and is not there; IDX_NO_NATIVE is a choice, not news.
  if (a === null && !warned && !process.env.IDX_NO_NATIVE) {
    warned = true;
    process.stderr.write(
      `idx: native addon not available (${whyNot}); using the JavaScript paths: opening reads the whole file into ` +
      "memory (read again when it changes, every 100 ms), and in-place writing is off. See README, Troubleshooting.\n",
    );
  }
  return a;
}

/** The addon, for what cannot be done without it (the writer lock). */
export function requireNativeAddon(what: string): NativeAddon {
  const a = load();
  if (a === null) {
    throw new IdxError("ERR_IDX_NO_ADDON", `${what} needs idx's native addon, which is not available here (${whyNot})`, {
      hint: process.env.IDX_NO_NATIVE
        ? "IDX_NO_NATIVE is set, which turns the addon off: unset it."
        : "Install idxmap on a platform it ships a binary for, or let npm build it (needs a C compiler, make and Python 3): npm rebuild idxmap.",
    });
  }
  return a;
}

let jsReplacements = 0;

/**
 * Counts a file replaced by this process (spec §11.7, following: a reader that finds its file
 * retired looks at the path at once when this count moved). Process-wide through the addon,
 * so worker threads see each other's replacements.
 */
export function noteReplaced(): void {
  const a = load();
  if (a !== null) a.replacements(true);
  else jsReplacements++;
}

/** How many files this process has replaced so far (see noteReplaced). */
export function replacementCount(): number {
  const a = load();
  return a !== null ? a.replacements(false) : jsReplacements;
}

/** Which paths this process uses, for `idx info` and bug reports. */
export function engine(): { native: boolean; detail: string } {
  const a = load();
  return a === null ? { native: false, detail: `JavaScript (${whyNot})` } : { native: true, detail: `native addon ${addonFile}` };
}
