/**
 * IdIndex: a read-only view of an index file, probed in place through a shared mapping.
 * open() is O(1): it maps the file and validates the header against the file size, nothing more.
 *
 * A writer in another process may change the file while it is mapped here (spec/FORMAT.md
 * §11). Each lookup reads the header's seq word before and after its probe and retries when a
 * write overlapped it, so answers are never torn. When a writer replaces the file (grow,
 * compact, build), it marks the old one retired; the next lookup here notices and follows the
 * path to the new file.
 */
import * as fs from "node:fs";
import { IdxError } from "./errors";
import {
  EMPTY_HASH, ESCAPED_KEY, HEADER_BYTES, Header, SLOT_BYTES, SLOT_WORDS, STATE_COUNT_MASK,
  STATE_ESCAPED, STATE_RETIRED, W, checkSentinel, readHeader,
} from "./format";
import { hash32, homeSlot, unhash32 } from "./hash";
import { mapFile, releaseMapping } from "./mmap";
import { findFrom, findSlot } from "./table";
import { VerifyReport, verifyMapped } from "./verify";
import { StallClock } from "./stall";
import { NativeAddon, nativeAddon } from "./native";

/** What `idx info` prints: the header's numbers and what they mean for size. */
export interface IndexInfo {
  path: string;
  version: string;
  /** Live entries. */
  count: number;
  /** Home slots (the range of the slot mapping). */
  capacity: number;
  /** All slots, spill slots included. */
  slotCount: number;
  /** count / capacity. */
  load: number;
  fileBytes: number;
  /** fileBytes / count; null for an empty index. */
  bytesPerEntry: number | null;
  /** Writer operations since the file was written (even when no write is under way). */
  seq: number;
}

const EMPTY_WORDS = new Uint32Array(0);
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/** How often a reader of a retired file looks at the path for its replacement. */
const FOLLOW_EVERY_MS = 1;

/**
 * What get() uses, as module-level consts: V8 folds these into the lookup code, but not tsc's
 * CommonJS reads of an import (a property of the exporting module's `exports`, written twice).
 * With the same in table.ts, a get at 10 M entries went from 107 to 81 ns (bench/RESULTS.md).
 */
const SEQ = W.seq;
const STATE = W.state;
const ESCAPED_VALUE = W.escapedValue;
const EMPTY = EMPTY_HASH;
const ESCAPED = STATE_ESCAPED;
const hashOf = hash32;
const probe = findSlot;

/**
 * §11.7: the seq word, read before and after a probe. The probe's own loads must not move
 * across these two. On x86 (TSO) the CPU keeps loads in order, and V8 emits typed-array loads in
 * program order and never merges two loads of a word a store could change in between, so a
 * plain load does it. Elsewhere (arm64 reorders loads) it takes Atomics.load, which costs a
 * third of a cached lookup on x86.
 */
const loadSeq: (header: Uint32Array) => number =
  process.arch === "x64" || process.arch === "ia32"
    ? (header) => header[SEQ]
    : (header) => Atomics.load(header, SEQ);

const RETRY = 0;
const ACCEPT = 1;
const CONFIRM = 2;
type Verdict = typeof RETRY | typeof ACCEPT | typeof CONFIRM;

/** Keys per seq check in getMany. */
const CHUNK = 64;

export class IdIndex implements Iterable<[number, number]> {
  /** The path the index was opened from. */
  readonly path: string;
  #buffer: Buffer | null = null;
  #header: Uint32Array = EMPTY_WORDS;
  #slots: Uint32Array = EMPTY_WORDS;
  #capacity = 1;
  #inode = 0;
  readonly #stall = new StallClock();
  #lastFollow = 0;
  readonly #chunkHashes = new Uint32Array(CHUNK);
  readonly #chunkHomes = new Int32Array(CHUNK);
  readonly #nativeResult = new Float64Array(2);
  /** Where getMany leaves the words it loads ahead, so the loads are not optimized away. */
  #touched = 0;

  private constructor(path: string) {
    this.path = path;
  }

  /**
   * Maps `path` and validates its header against the file size: O(1), no slot is decoded.
   * @throws IdxError ERR_IDX_IO (cannot open or map), ERR_IDX_NOT_AN_INDEX (empty or foreign
   *   file), ERR_IDX_TRUNCATED, ERR_IDX_UNSUPPORTED_VERSION (newer major), ERR_IDX_CHECKSUM
   *   (header), ERR_IDX_CORRUPT (header fields), ERR_IDX_TOO_LARGE.
   */
  static open(path: string): IdIndex {
    if (!LITTLE_ENDIAN) {
      throw new IdxError("ERR_IDX_IO", "idx maps its little-endian slots directly and needs a little-endian CPU", { path });
    }
    const ix = new IdIndex(path);
    ix.#attach();
    return ix;
  }

  /** Maps the file now at `path` in place of the current mapping. */
  #attach(): void {
    let header!: Header;
    const { buffer, inode } = mapFile(this.path, false, "random", (mapped, fd) => {
      header = readHeader(mapped.buffer, mapped.size, this.path);
      // Read, not loaded from the mapping: touching the file's far end would map its pages
      // into this process (a whole large folio) for one word.
      const last = Buffer.alloc(4);
      fs.readSync(fd, last, 0, 4, HEADER_BYTES + (header.slotCount - 1) * SLOT_BYTES);
      checkSentinel(last.readUInt32LE(0), this.path);
    });
    releaseMapping(this.#buffer);
    this.#buffer = buffer;
    this.#capacity = header.capacity;
    this.#inode = inode;
    this.#header = new Uint32Array(buffer.buffer, buffer.byteOffset, HEADER_BYTES / 4);
    this.#slots = new Uint32Array(buffer.buffer, buffer.byteOffset + HEADER_BYTES, header.slotCount * SLOT_WORDS);
    this.#installLookups();
  }

  /** Live entries. */
  get size(): number {
    this.#check();
    for (;;) {
      const header = this.#header;
      const seq = Atomics.load(header, W.seq);
      const count = header[W.state] & STATE_COUNT_MASK;
      if ((Atomics.load(header, W.seq) === seq && (seq & 1) === 0) || this.#settle(seq) !== RETRY) return count;
    }
  }

  /**
   * The value stored for `key`, or undefined. Allocates nothing itself (a value of 2^31 or more
   * is a heap number in V8 unless the call is inlined; getMany never allocates).
   *
   * A closure over the current mapping rather than a method: a method reaching the mapping
   * through private fields measured nearly twice as slow per lookup at 10 M entries (spec §11.7
   * and bench/RESULTS.md); the closure is rebuilt when the index follows a replaced file.
   */
  declare readonly get: (key: number) => number | undefined;

  /** True when `key` is in the index. */
  declare readonly has: (key: number) => boolean;

  /** Installs get and has for the current mapping (or, closed, ones that throw). */
  #installLookups(): void {
    let get: (key: number) => number | undefined;
    if (this.#buffer === null) {
      get = () => this.#closed();
    } else {
      const header = this.#header;
      const slots = this.#slots;
      const capacity = this.#capacity;
      get = (key: number): number | undefined => {
        if ((key >>> 0) !== key) return undefined;
        const hash = hashOf(key);
        const seq = loadSeq(header);
        let value: number | undefined;
        if (hash !== EMPTY) {
          const i = probe(slots, capacity, hash);
          if (i >= 0) value = slots[i + 1];
        } else if ((header[STATE] & ESCAPED) !== 0) {
          value = header[ESCAPED_VALUE];
        }
        if (loadSeq(header) === seq && (seq & 1) === 0) return value;
        return this.#getSlow(hash, seq, value);
      };
    }
    const has = (key: number): boolean => this.get(key) !== undefined;
    // Non-writable own properties: V8 treats them as constants at call sites until replaced.
    Object.defineProperty(this, "get", { value: get, writable: false, configurable: true, enumerable: false });
    Object.defineProperty(this, "has", { value: has, writable: false, configurable: true, enumerable: false });
  }

  /** get() after a failed seq check: settle, and probe again until an answer stands. */
  #getSlow(hash: number, seq: number, value: number | undefined): number | undefined {
    for (;;) {
      const verdict = this.#settle(seq);
      if (verdict === ACCEPT || (verdict === CONFIRM && this.#lookup(hash) === value)) return value;
      const header = this.#header;
      seq = Atomics.load(header, W.seq);
      value = this.#lookup(hash);
      if (Atomics.load(header, W.seq) === seq && (seq & 1) === 0) return value;
    }
  }

  /** The probe of get(), without the seq check. */
  #lookup(hash: number): number | undefined {
    const header = this.#header;
    if (hash === EMPTY_HASH) return (header[W.state] & STATE_ESCAPED) !== 0 ? header[W.escapedValue] : undefined;
    const i = findSlot(this.#slots, this.#capacity, hash);
    return i < 0 ? undefined : this.#slots[i + 1];
  }

  /**
   * Looks up every key of `keys` in one call. `values[i]` receives the value of `keys[i]`, or
   * `missing` (default 0) when it is absent; since every uint32 is a valid value, pass `found`
   * to learn which keys were present (`found[i]` is 1 or 0). Returns the number found.
   * Allocates nothing.
   * @throws IdxError ERR_IDX_INVALID_ARGUMENT when `values` or `found` is shorter than `keys`.
   */
  getMany(keys: Uint32Array, values: Uint32Array, found?: Uint8Array, missing = 0): number {
    if (this.#buffer === null) this.#closed();
    const n = keys.length;
    if (values.length < n || (found !== undefined && found.length < n)) {
      throw new IdxError("ERR_IDX_INVALID_ARGUMENT",
        `getMany needs outputs at least as long as keys (${n}); got values ${values.length}` +
        (found === undefined ? "" : `, found ${found.length}`));
    }
    const native = n >= CHUNK ? nativeAddon() : null;
    if (native !== null) return this.#getManyNative(native, keys, values, found, missing);
    const hashes = this.#chunkHashes;
    const homes = this.#chunkHomes;
    let hits = 0;
    // One seq check per chunk of keys, not per key: two atomic loads cost as much as a probe.
    // A chunk that a write overlapped is answered again key by key, so a busy writer cannot
    // starve it.
    for (let base = 0; base < n; base += CHUNK) {
      const end = base + CHUNK < n ? base + CHUNK : n;
      const header = this.#header;
      const slots = this.#slots;
      const capacity = this.#capacity;
      const seq = loadSeq(header);
      if ((seq & 1) === 0) {
        // First the hashes and home slots of the whole chunk, loading each home slot: these
        // loads do not depend on each other, so the CPU overlaps their cache misses (JS has no
        // prefetch instruction). Then the probes, which find their lines in cache.
        let touched = 0;
        for (let k = base; k < end; k++) {
          const hash = hash32(keys[k]);
          const home = homeSlot(hash, capacity) * SLOT_WORDS;
          hashes[k - base] = hash;
          homes[k - base] = home;
          touched ^= slots[home];
        }
        this.#touched = touched;
        let chunkHits = 0;
        for (let k = base; k < end; k++) {
          const hash = hashes[k - base];
          let value = missing;
          let hit = 0;
          if (hash === EMPTY_HASH) {
            if ((header[W.state] & STATE_ESCAPED) !== 0) {
              value = header[W.escapedValue];
              hit = 1;
            }
          } else {
            const i = findFrom(slots, homes[k - base], hash);
            if (i >= 0) {
              value = slots[i + 1];
              hit = 1;
            }
          }
          values[k] = value;
          if (found !== undefined) found[k] = hit;
          chunkHits += hit;
        }
        if (loadSeq(header) === seq) {
          hits += chunkHits;
          continue;
        }
      }
      for (let k = base; k < end; k++) {
        const value = this.get(keys[k]);
        values[k] = value === undefined ? missing : value;
        if (found !== undefined) found[k] = value === undefined ? 0 : 1;
        if (value !== undefined) hits++;
      }
    }
    return hits;
  }

  /**
   * getMany through the addon, which probes with software prefetch. It stops before a chunk
   * that a write overlapped; that chunk is answered here key by key, and the addon resumes.
   */
  #getManyNative(native: NativeAddon, keys: Uint32Array, values: Uint32Array, found: Uint8Array | undefined, missing: number): number {
    const n = keys.length;
    const result = this.#nativeResult;
    let hits = 0;
    let from = 0;
    while (from < n) {
      native.getMany(this.#header, this.#slots, this.#capacity, keys, values, found ?? null, missing, from, n, result);
      hits += result[0];
      const stop = result[1];
      if (stop >= n) break;
      const end = stop + CHUNK < n ? stop + CHUNK : n;
      for (let k = stop; k < end; k++) {
        const value = this.get(keys[k]);
        values[k] = value === undefined ? missing : value;
        if (found !== undefined) found[k] = value === undefined ? 0 : 1;
        if (value !== undefined) hits++;
      }
      from = end;
    }
    return hits;
  }

  /**
   * The slow path of a lookup whose seq check failed: RETRY to probe again, ACCEPT its answer,
   * or CONFIRM it by probing once more. A changed seq means a write overlapped the probe:
   * retry. An odd seq that does not change for STALL_MS means the writer stopped
   * mid-operation (killed, or descheduled): every state between two of its stores is a valid
   * table (§11.3), so an answer that a second probe repeats is right. A retired file is
   * followed to its replacement.
   */
  #settle(seq: number): Verdict {
    const header = this.#header;
    if ((header[W.state] & STATE_RETIRED) !== 0 && this.#follow()) return RETRY;
    const now = Atomics.load(header, W.seq);
    if (now !== seq) return RETRY;
    if ((seq & 1) === 0) return ACCEPT;
    if ((header[W.state] & STATE_RETIRED) !== 0) return ACCEPT; // final: no writer touches a retired file
    return this.#stall.expired(seq) ? CONFIRM : RETRY;
  }

  /** Maps the file that replaced this one, if the path names another file now. */
  #follow(): boolean {
    const t = performance.now();
    if (t - this.#lastFollow < FOLLOW_EVERY_MS) return false;
    this.#lastFollow = t;
    let inode: number;
    try {
      inode = fs.statSync(this.path).ino;
    } catch {
      return false; // no replacement yet (or the path was removed): keep answering from this file
    }
    if (inode === this.#inode) return false;
    try {
      this.#attach();
    } catch {
      return false; // the replacement is not readable yet: keep the retired file, try again later
    }
    return true;
  }

  /**
   * Every [key, value] pair, in slot order (by hash, not by key). Not a snapshot: while a writer
   * changes the index, an entry it moves may be seen twice or not at all.
   */
  *entries(): IterableIterator<[number, number]> {
    this.#check();
    if ((this.#header[W.state] & STATE_RETIRED) !== 0) this.#follow();
    const header = this.#header;
    if ((header[W.state] & STATE_ESCAPED) !== 0) yield [ESCAPED_KEY, header[W.escapedValue]];
    const slots = this.#slots;
    let previous = EMPTY_HASH;
    for (let i = 0; i < slots.length; i += SLOT_WORDS) {
      const hash = slots[i];
      // A repeat of the previous hash is a tombstone (§5.1).
      if (hash !== EMPTY_HASH && hash !== previous) yield [unhash32(hash), slots[i + 1]];
      previous = hash;
      if (this.#buffer === null) this.#closed();
    }
  }

  *keys(): IterableIterator<number> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): IterableIterator<number> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[number, number]> {
    return this.entries();
  }

  forEach(callback: (value: number, key: number, index: IdIndex) => void): void {
    for (const [key, value] of this.entries()) callback(value, key, this);
  }

  /** The header's numbers, as `idx info` prints them. */
  info(): IndexInfo {
    this.#check();
    return describe(this.path, readHeader(this.#buffer!, this.#buffer!.length, this.path), this.#buffer!.length);
  }

  /**
   * The full check of spec/FORMAT.md §9.2: every checksum and every table invariant. Reads the
   * whole file: O(file size), unlike open().
   */
  verify(): VerifyReport {
    this.#check();
    return verifyMapped(this.#buffer!, this.path);
  }

  /**
   * Releases the index. Later calls throw ERR_IDX_CLOSED. The mapping itself is returned to the
   * system when the garbage collector frees it.
   */
  close(): void {
    releaseMapping(this.#buffer);
    this.#buffer = null;
    this.#slots = EMPTY_WORDS;
    this.#header = EMPTY_WORDS;
    this.#installLookups();
  }

  get closed(): boolean {
    return this.#buffer === null;
  }

  toString(): string {
    return this.#buffer === null ? `IdIndex(${this.path}, closed)` : `IdIndex(${this.path}, ${this.size} entries)`;
  }

  #check(): void {
    if (this.#buffer === null) this.#closed();
  }

  #closed(): never {
    throw new IdxError("ERR_IDX_CLOSED", "the index is closed", { path: this.path, hint: "Open it again with IdIndex.open()." });
  }
}

export function describe(path: string, h: Header, size: number): IndexInfo {
  return {
    path,
    version: `${h.major}.${h.minor}`,
    count: h.count,
    capacity: h.capacity,
    slotCount: h.slotCount,
    load: h.count / h.capacity,
    fileBytes: size,
    bytesPerEntry: h.count === 0 ? null : size / h.count,
    seq: h.seq,
  };
}
