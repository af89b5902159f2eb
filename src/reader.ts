/**
 * IdIndex: a read-only view of an index file, probed in place through a shared mapping.
 * open() is O(1): it maps the file and validates the header against the file size, nothing more.
 */
import { IdxError } from "./errors";
import {
  EMPTY_HASH, ESCAPED_KEY, FLAG_ESCAPED_PRESENT, H, HEADER_BYTES, Header, SLOT_BYTES, SLOT_WORDS,
  checkSentinel, readHeader,
} from "./format";
import { hash32, unhash32 } from "./hash";
import { mapFile } from "./mmap";
import { findSlot } from "./table";
import type { VerifyReport } from "./verify";

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
  /** Deleted slots not yet reused. */
  tombstones: number;
  /** count / capacity. */
  load: number;
  fileBytes: number;
  /** fileBytes / count; null for an empty index. */
  bytesPerEntry: number | null;
}

const EMPTY_SLOTS = new Uint32Array(0);
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;



export class IdIndex implements Iterable<[number, number]> {
  /** The path the index was opened from. */
  readonly path: string;
  #buffer: Buffer | null;
  #header: Uint32Array;
  #slots: Uint32Array;
  #capacity: number;
  #slotCount: number;

  private constructor(path: string, buffer: Buffer, header: Header) {
    this.path = path;
    this.#buffer = buffer;
    this.#capacity = header.capacity;
    this.#slotCount = header.slotCount;
    this.#header = new Uint32Array(buffer.buffer, buffer.byteOffset, HEADER_BYTES / 4);
    this.#slots = new Uint32Array(buffer.buffer, buffer.byteOffset + HEADER_BYTES, header.slotCount * SLOT_WORDS);
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
    const { buffer, size } = mapFile(path);
    const header = readHeader(buffer, size, path);
    checkSentinel(buffer.readUInt32LE(HEADER_BYTES + (header.slotCount - 1) * SLOT_BYTES), path);
    return new IdIndex(path, buffer, header);
  }

  /** Live entries. */
  get size(): number {
    this.#check();
    return this.#header[H.count / 4];
  }

  /** The value stored for `key`, or undefined. Allocates nothing. */
  get(key: number): number | undefined {
    if (this.#buffer === null) this.#closed();
    if ((key >>> 0) !== key) return undefined;
    const hash = hash32(key);
    if (hash === EMPTY_HASH) return this.#escaped();
    const i = findSlot(this.#slots, this.#capacity, hash);
    return i < 0 ? undefined : this.#slots[i + 1];
  }

  /** True when `key` is in the index. Allocates nothing. */
  has(key: number): boolean {
    if (this.#buffer === null) this.#closed();
    if ((key >>> 0) !== key) return false;
    const hash = hash32(key);
    if (hash === EMPTY_HASH) return (this.#header[H.flags / 4] & FLAG_ESCAPED_PRESENT) !== 0;
    return findSlot(this.#slots, this.#capacity, hash) >= 0;
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
    const slots = this.#slots;
    const capacity = this.#capacity;
    let hits = 0;
    for (let k = 0; k < n; k++) {
      const hash = hash32(keys[k]);
      let value = missing;
      let hit = 0;
      if (hash === EMPTY_HASH) {
        if ((this.#header[H.flags / 4] & FLAG_ESCAPED_PRESENT) !== 0) {
          value = this.#header[H.escapedValue / 4];
          hit = 1;
        }
      } else {
        const i = findSlot(slots, capacity, hash);
        if (i >= 0) {
          value = slots[i + 1];
          hit = 1;
        }
      }
      values[k] = value;
      if (found !== undefined) found[k] = hit;
      hits += hit;
    }
    return hits;
  }

  /** Every [key, value] pair, in slot order (by hash, not by key). */
  *entries(): IterableIterator<[number, number]> {
    this.#check();
    const header = this.#header;
    if ((header[H.flags / 4] & FLAG_ESCAPED_PRESENT) !== 0) yield [ESCAPED_KEY, header[H.escapedValue / 4]];
    const slots = this.#slots;
    let previous = EMPTY_HASH;
    for (let i = 0; i < slots.length; i += SLOT_WORDS) {
      const hash = slots[i];
      // A repeat of the previous hash is a tombstone (§5.4).
      if (hash !== EMPTY_HASH && hash !== previous) yield [unhash32(hash), slots[i + 1]];
      previous = hash;
      if (this.#buffer === null) return;
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
    const h = readHeader(this.#buffer!, this.#buffer!.length, this.path);
    return describe(this.path, h, this.#buffer!.length);
  }

  /**
   * The full check of §9.2: every checksum and every table invariant. Reads the whole file:
   * O(file size), unlike open().
   */
  verify(): VerifyReport {
    this.#check();
    // Loaded here: readers that never verify should not pay for it at startup.
    const { verifyMapped } = require("./verify") as typeof import("./verify");
    return verifyMapped(this.#buffer!, this.path);
  }

  /**
   * Releases the index. Later calls throw ERR_IDX_CLOSED. The mapping itself is returned to the
   * system when the garbage collector frees it.
   */
  close(): void {
    this.#buffer = null;
    this.#slots = EMPTY_SLOTS;
    this.#header = EMPTY_SLOTS;
  }

  get closed(): boolean {
    return this.#buffer === null;
  }

  toString(): string {
    return this.#buffer === null ? `IdIndex(${this.path}, closed)` : `IdIndex(${this.path}, ${this.size} entries)`;
  }

  #escaped(): number | undefined {
    const header = this.#header;
    return (header[H.flags / 4] & FLAG_ESCAPED_PRESENT) !== 0 ? header[H.escapedValue / 4] : undefined;
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
    tombstones: h.tombstones,
    load: h.count / h.capacity,
    fileBytes: size,
    bytesPerEntry: h.count === 0 ? null : size / h.count,
  };
}
