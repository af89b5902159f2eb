/**
 * IdWriter: keeps an index current in place while other processes read it (spec/FORMAT.md §11).
 *
 * - One writer at a time across processes (lock.ts).
 * - set and delete change the mapped file in place. Each operation is bracketed by the header's
 *   seq word (odd while under way) so readers retry a probe it overlapped, records the blocks it
 *   touches as dirty, and rewrites their checksums and the header cells when done: O(one block).
 * - Growing, compacting and clearing write a new file beside the old one and rename it over it;
 *   the old file is first marked retired, which tells its readers to follow the path.
 * - Durable after flush() or close(); a kill -9 at any point leaves a file that opens, passes
 *   verify and holds each key's value from before or after the interrupted operation.
 */
import * as nodePath from "node:path";
import { inspect } from "node:util";
import { IdxError, ioError } from "./errors";
import {
  BLOCK_BYTES, EMPTY_HASH, ESCAPED_KEY, H, HEADER_BYTES, MAX_DIRTY_BLOCKS, SLOTS_PER_BLOCK,
  SLOT_BYTES, SLOT_WORDS, STATE_COUNT_MASK, STATE_ESCAPED, STATE_RETIRED, VERSION_MINOR, W,
  Header, buildCapacity, checkSentinel, dirtyWord, readHeader,
} from "./format";
import { hash32, homeSlot, unhash32 } from "./hash";
import { mapFile, releaseMapping, syncMapping } from "./mmap";
import { SlotEditor, findSlot } from "./table";
import { WriterLock } from "./lock";
import { PairBuffer } from "./pairs";
import { encodeIndex, writeChecksums } from "./encode";
import { HeaderCells } from "./cells";
import {
  commitTempFile, discardTempFile, installTempFile, removeStaleTempFiles, writeTempFile,
} from "./atomic-file";
import { IdIndex } from "./reader";

export interface WriterOptions {
  /** Create an empty index when the file does not exist (default true). */
  create?: boolean;
  /** Wait this many milliseconds for another writer to finish (default 0: fail at once). */
  wait?: number;
  /** fsync new files and flushes (default true). Off only for throwaway files in tests. */
  sync?: boolean;
}

/** Anything update() and equals() take. */
export type PairsLike =
  | Iterable<readonly [number, number]>
  | ReadonlyMap<number, number>
  | { keys: ArrayLike<number>; values: ArrayLike<number> }
  | IdIndex
  | IdWriter;

/** §11.5: the writer grows when entries pass 9/10 of the home slots... */
const MAX_LOAD_NUM = 9;
const MAX_LOAD_DEN = 10;
/** ...into a table at 3/4 load, so the next growth is a third of the entries away. */
export function growCapacity(entries: number): number {
  return Math.max(1, Math.ceil((entries * 4) / 3) + 1);
}
/** update() with more pairs than this share of the entries rebuilds instead of inserting one by one. */
const BULK_SHARE = 4;
const BULK_MIN = 4096;

export class IdWriter implements Iterable<[number, number]> {
  readonly path: string;
  #lock: WriterLock | null;
  readonly #sync: boolean;
  #buffer: Buffer | null = null;
  #header: Uint32Array = new Uint32Array(0);
  #cells!: HeaderCells;
  #editor!: SlotEditor;
  #capacity = 1;
  #slotCount = 0;

  private constructor(path: string, lock: WriterLock, sync: boolean) {
    this.path = path;
    this.#lock = lock;
    this.#sync = sync;
  }

  /**
   * Opens `path` for writing, creating an empty index if it does not exist (unless
   * `create: false`). Takes the writer lock; repairs what a killed writer left (§11.6).
   * @throws IdxError ERR_IDX_LOCKED (another writer; names it), ERR_IDX_UNSUPPORTED_VERSION
   *   (a newer format, major or minor), the open errors of IdIndex.open, ERR_IDX_IO.
   */
  static open(path: string, options: WriterOptions = {}): IdWriter {
    const sync = options.sync ?? true;
    let lock = WriterLock.acquire(path, { wait: options.wait });
    while (lock === null) {
      if (options.create === false) {
        throw ioError("open the index", path, Object.assign(new Error("missing"), { code: "ENOENT" }),
          "Create it with `idx build`, or open it with create: true.");
      }
      lock = createEmpty(path, sync) ?? WriterLock.acquire(path, { wait: options.wait });
    }
    const writer = new IdWriter(path, lock, sync);
    try {
      removeStaleTempFiles(path);
      writer.#attach();
      writer.#recover();
      return writer;
    } catch (e) {
      writer.#detach();
      throw e;
    }
  }

  #attach(): void {
    let header!: Header;
    const { buffer } = mapFile(this.path, true, "random", ({ buffer, size }) => {
      header = readHeader(buffer, size, this.path);
      if (header.minor > VERSION_MINOR) {
        throw new IdxError("ERR_IDX_UNSUPPORTED_VERSION",
          `uses format version ${header.major}.${header.minor}; this idx reads it but writes only ${header.major}.${VERSION_MINOR} files`,
          { path: this.path, hint: "Upgrade idx to change it, or rebuild it with this version." });
      }
      checkSentinel(buffer.readUInt32LE(HEADER_BYTES + (header.slotCount - 1) * SLOT_BYTES), this.path);
    });
    releaseMapping(this.#buffer);
    this.#buffer = buffer;
    this.#capacity = header.capacity;
    this.#slotCount = header.slotCount;
    this.#cells = new HeaderCells(buffer);
    this.#header = this.#cells.words;
    const words = new Uint32Array(buffer.buffer, buffer.byteOffset + HEADER_BYTES, header.slotCount * SLOT_WORDS);
    this.#editor = new SlotEditor(words, header.capacity);
  }

  #detach(): void {
    releaseMapping(this.#buffer);
    this.#buffer = null;
    this.#lock?.release();
    this.#lock = null;
  }

  // ---- reading ----

  get size(): number {
    this.#check();
    return this.#header[W.state] & STATE_COUNT_MASK;
  }

  get(key: number): number | undefined {
    this.#check();
    if ((key >>> 0) !== key) return undefined;
    const hash = hash32(key);
    if (hash === EMPTY_HASH) return this.#escapedPresent() ? this.#header[W.escapedValue] : undefined;
    const words = this.#editor.words;
    const i = findSlot(words, this.#capacity, hash);
    return i < 0 ? undefined : words[i + 1];
  }

  has(key: number): boolean {
    return this.get(key) !== undefined;
  }

  /** Every [key, value] pair, in slot order (by hash, not by key). */
  *entries(): IterableIterator<[number, number]> {
    this.#check();
    if (this.#escapedPresent()) yield [ESCAPED_KEY, this.#header[W.escapedValue]];
    const words = this.#editor.words;
    for (let i = 0; i < words.length; i += SLOT_WORDS) {
      if (words[i] !== EMPTY_HASH) yield [unhash32(words[i]), words[i + 1]];
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

  forEach(callback: (value: number, key: number, writer: IdWriter) => void): void {
    for (const [key, value] of this.entries()) callback(value, key, this);
  }

  /** True when `other` holds exactly the same key -> value pairs. */
  equals(other: PairsLike): boolean {
    this.#check();
    const lookup = asLookup(other);
    if (lookup.size !== this.size) return false;
    for (const [key, value] of this.entries()) if (lookup.get(key) !== value) return false;
    return true;
  }

  // ---- writing in place ----

  /**
   * Sets `key` to `value` (insert or overwrite). Readers see it at once; durable after flush().
   * May grow the table: a new file renamed over the old one.
   * @throws IdxError ERR_IDX_INVALID_ARGUMENT (not a uint32), ERR_IDX_TOO_LARGE, ERR_IDX_IO
   *   (growing failed; the index is unchanged).
   */
  set(key: number, value: number): this {
    this.#check();
    checkUint32("key", key, this.path);
    checkUint32("value", value, this.path);
    const hash = hash32(key);
    if (hash === EMPTY_HASH) {
      this.#begin(0, -1);
      this.#writeCell(H.escapedCell, value);
      this.#writeState(this.size + (this.#escapedPresent() ? 0 : 1), true);
      this.#end(0, -1);
      return this;
    }
    const words = this.#editor.words;
    const found = findSlot(words, this.#capacity, hash);
    if (found >= 0) {
      if (words[found + 1] === value) return this;
      const s = found / SLOT_WORDS;
      this.#begin(s, s);
      Atomics.store(words, found + 1, value);
      this.#end(s, s);
      return this;
    }
    const slotEntries = this.size - (this.#escapedPresent() ? 1 : 0);
    if ((slotEntries + 1) * MAX_LOAD_DEN > this.#capacity * MAX_LOAD_NUM) this.#rehash(growCapacity, 1);
    let plan = this.#plan(hash);
    if (plan === null) {
      // The run reached the sentinel, not the load limit: a fresh layout at the same capacity
      // lays out new spill slots; grow only if that is not enough.
      const capacity = this.#capacity;
      this.#rehash(() => capacity, 0);
      plan = this.#plan(hash);
      if (plan === null) {
        this.#rehash(growCapacity, 1);
        plan = this.#plan(hash)!;
      }
    }
    this.#begin(plan.at, plan.end);
    this.#editor.insert(plan, hash, value);
    this.#writeState(this.size + 1, this.#escapedPresent());
    this.#end(plan.at, plan.end);
    return this;
  }

  /** Removes `key`; returns whether it was there. Its slot is free for the next insert at once. */
  delete(key: number): boolean {
    this.#check();
    if ((key >>> 0) !== key) return false;
    const hash = hash32(key);
    if (hash === EMPTY_HASH) {
      if (!this.#escapedPresent()) return false;
      this.#begin(0, -1);
      this.#writeState(this.size - 1, false);
      this.#writeCell(H.escapedCell, 0);
      this.#end(0, -1);
      return true;
    }
    const words = this.#editor.words;
    const found = findSlot(words, this.#capacity, hash);
    if (found < 0) return false;
    const s = found / SLOT_WORDS;
    const last = this.#shiftEnd(s);
    this.#begin(s, last);
    this.#editor.remove(s);
    this.#writeState(this.size - 1, this.#escapedPresent());
    this.#end(s, last);
    return true;
  }

  #plan(hash: number): { at: number; end: number } | null {
    const plan = this.#editor.planInsert(hash);
    return plan === null || blocksSpanned(plan.at, plan.end) > MAX_DIRTY_BLOCKS ? null : plan;
  }

  /** The last slot a backward shift from `s` writes (see SlotEditor.remove). */
  #shiftEnd(s: number): number {
    const words = this.#editor.words;
    let cur = s;
    for (;;) {
      const hash = words[(cur + 1) * SLOT_WORDS];
      if (hash === EMPTY_HASH || homeSlot(hash, this.#capacity) > cur) return cur;
      cur++;
    }
  }

  /**
   * Sets every pair of `pairs` (later pairs win). A large batch (more than a quarter of the
   * entries) is merged into a new file renamed over the old one, which is faster than
   * inserting in place; a small one is applied in place, pair by pair.
   */
  update(pairs: PairsLike): this {
    this.#check();
    const batch = collectPairs(pairs, this.path);
    if (batch.length > Math.max(BULK_MIN, this.size / BULK_SHARE)) {
      const merged = new PairBuffer(this.size + batch.length);
      for (const [k, v] of this.entries()) merged.push(k, v);
      for (let i = 0; i < batch.length; i++) merged.push(batch.keys[i], batch.values[i]);
      this.#replace(encodeIndex(merged.keys, merged.values, merged.length, this.path, growCapacity));
      return this;
    }
    for (let i = 0; i < batch.length; i++) this.set(batch.keys[i], batch.values[i]);
    return this;
  }

  /** Removes every entry (a new, empty file renamed over the old one). */
  clear(): void {
    this.#check();
    this.#replace(encodeIndex(new Uint32Array(0), new Uint32Array(0), 0, this.path));
  }

  /**
   * Rehashes now into the builder's layout (spec §7): the file becomes byte-identical to
   * `idx build` of the same pairs, as small as the builder makes it.
   */
  compact(): void {
    this.#check();
    this.#rehash(buildCapacity, 0);
  }

  /** Writes the entries, compacted, to a new index at `path` (atomically); this one is unchanged. */
  copyTo(path: string): void {
    this.#check();
    const { keys, values, n } = this.#columns();
    if (nodePath.resolve(path) === nodePath.resolve(this.path)) {
      throw new IdxError("ERR_IDX_INVALID_ARGUMENT", "copyTo needs another path than the index's own", {
        path, hint: "Use compact() to rewrite the index in place.",
      });
    }
    const image = encodeIndex(keys, values, n, path);
    const temp = writeTempFile(path, image, this.#sync);
    const newLock = WriterLock.ofNewFile(temp.path, temp.fd);
    try {
      installTempFile(temp, path, this.#sync);
    } catch (e) {
      discardTempFile(temp);
      throw e;
    } finally {
      newLock.release();
    }
  }

  /** Makes every change so far durable: returns once the mapped pages are on disk. */
  flush(): void {
    this.#check();
    if (this.#sync) syncMapping(this.#buffer!, this.path);
  }

  /** flush(), then releases the writer lock. Later calls throw ERR_IDX_CLOSED. */
  close(): void {
    if (this.#buffer === null) return;
    try {
      this.flush();
    } finally {
      this.#detach();
    }
  }

  get closed(): boolean {
    return this.#buffer === null;
  }

  toString(): string {
    return this.#buffer === null ? `IdWriter(${this.path}, closed)` : `IdWriter(${this.path}, ${this.size} entries)`;
  }

  [inspect.custom](_depth: number, options: { stylize: (s: string, style: string) => string }): string {
    if (this.#buffer === null) return `IdWriter(${this.path}) <closed>`;
    const shown: string[] = [];
    for (const [k, v] of this.entries()) {
      if (shown.length === 10) {
        shown.push(`... ${this.size - 10} more`);
        break;
      }
      shown.push(`${options.stylize(String(k), "number")} => ${options.stylize(String(v), "number")}`);
    }
    return `IdWriter(${this.size}) [${this.path}] { ${shown.join(", ")} }`;
  }

  // ---- the operation protocol (§11.2) ----

  /** Opens an operation on slots first..last (none when last < first): dirty blocks, then odd seq. */
  #begin(first: number, last: number): void {
    if (last >= first) {
      const b = Math.floor(first / SLOTS_PER_BLOCK);
      this.#writeCell(H.dirtyCell, dirtyWord(b, Math.floor(last / SLOTS_PER_BLOCK) - b + 1));
    }
    this.#writeCell(H.seqCell, (this.#header[W.seq] + 1) >>> 0);
  }

  /** Closes it: checksums of the touched blocks, then clean dirty cell, then even seq. */
  #end(first: number, last: number): void {
    if (last >= first) {
      const b = Math.floor(first / SLOTS_PER_BLOCK);
      writeChecksums(this.#buffer!, this.#slotCount, b, Math.floor(last / SLOTS_PER_BLOCK) - b + 1);
      this.#writeCell(H.dirtyCell, 0);
    }
    this.#writeCell(H.seqCell, (this.#header[W.seq] + 1) >>> 0);
  }

  #writeCell(offset: number, word: number): void {
    this.#cells.write(offset, word);
  }

  #writeState(count: number, escapedPresent: boolean, retired = false): void {
    this.#writeCell(H.stateCell, (count | (escapedPresent ? STATE_ESCAPED : 0) | (retired ? STATE_RETIRED : 0)) >>> 0);
  }

  #escapedPresent(): boolean {
    return (this.#header[W.state] & STATE_ESCAPED) !== 0;
  }

  /** Rewrites the table into a new file with `capacityFor(entries + extra)` home slots. */
  #rehash(capacityFor: (entries: number) => number, extra: number): void {
    const { keys, values, n } = this.#columns();
    this.#replace(encodeIndex(keys, values, n, this.path, (entries) => capacityFor(entries + extra)));
  }

  #columns(): { keys: Uint32Array; values: Uint32Array; n: number } {
    const n = this.size;
    const keys = new Uint32Array(n);
    const values = new Uint32Array(n);
    let i = 0;
    for (const [k, v] of this.entries()) {
      keys[i] = k;
      values[i++] = v;
    }
    return { keys, values, n: i };
  }

  /**
   * Swaps in a new file image (§11.4): written and synced beside the old file and locked, the old
   * one marked retired, then renamed over it; the lock passes to the new file. If the rename
   * fails the mark is taken back and the old index stays as it was.
   */
  #replace(image: Uint8Array): void {
    const temp = writeTempFile(this.path, image, this.#sync);
    const newLock = WriterLock.ofNewFile(temp.path, temp.fd);
    try {
      this.#retire();
      commitTempFile(temp, this.path, this.#sync);
    } catch (e) {
      discardTempFile(temp);
      newLock.release();
      if (this.#header[W.state] & STATE_RETIRED) this.#unretire();
      throw e;
    }
    this.#lock!.release();
    this.#lock = newLock;
    this.#attach();
  }

  #retire(): void {
    this.#cells.retire();
    if (this.#sync) syncMapping(this.#buffer!, this.path);
  }

  #unretire(): void {
    this.#writeState(this.size, this.#escapedPresent(), false);
    this.#writeCell(H.seqCell, (this.#header[W.seq] + 1) >>> 0);
  }

  /**
   * §11.6: repairs what a writer killed mid-operation left: the retired mark of a swap that
   * never happened, slots repeated by an unfinished shift, a count that lags, stale checksums.
   */
  #recover(): void {
    const h = readHeader(this.#buffer!, this.#buffer!.length, this.path);
    const interrupted = (h.seq & 1) === 1 || h.dirtyBlockCount > 0 || h.retired;
    if (!interrupted) return;
    // A fresh odd seq: readers stalled on the dead writer's odd seq see a change and wait again.
    this.#writeCell(H.seqCell, (h.seq + 1 + (h.seq & 1)) >>> 0);
    const words = this.#editor.words;
    let entries = 0;
    for (let s = 0; s < this.#slotCount; s++) {
      const hash = words[s * SLOT_WORDS];
      if (hash === EMPTY_HASH) continue;
      // A repeat of the previous slot is a leftover of an unfinished shift: remove it the way a
      // delete removes an entry, then look at this slot again.
      if (s > 0 && hash === words[(s - 1) * SLOT_WORDS]) {
        this.#editor.remove(s);
        s--;
        continue;
      }
      entries++;
    }
    writeChecksums(this.#buffer!, this.#slotCount, 0, Math.ceil((this.#slotCount * SLOT_BYTES) / BLOCK_BYTES));
    this.#writeState(entries + (h.escapedPresent ? 1 : 0), h.escapedPresent, false);
    this.#writeCell(H.dirtyCell, 0);
    this.#writeCell(H.seqCell, (this.#header[W.seq] + 1) >>> 0);
    if (this.#sync) syncMapping(this.#buffer!, this.path);
  }

  #check(): void {
    if (this.#buffer === null) {
      throw new IdxError("ERR_IDX_CLOSED", "the writer is closed", { path: this.path, hint: "Open it again with IdWriter.open()." });
    }
  }
}

function blocksSpanned(first: number, last: number): number {
  return Math.floor(last / SLOTS_PER_BLOCK) - Math.floor(first / SLOTS_PER_BLOCK) + 1;
}

function checkUint32(what: string, n: number, path: string): void {
  if ((n >>> 0) !== n) {
    throw new IdxError("ERR_IDX_INVALID_ARGUMENT", `${what} ${String(n)} is not an integer from 0 to 4294967295`, { path });
  }
}

function asLookup(other: PairsLike): { size: number; get(key: number): number | undefined } {
  if (other instanceof IdIndex || other instanceof IdWriter || other instanceof Map) return other;
  const map = new Map<number, number>();
  const batch = collectPairs(other, "<pairs>");
  for (let i = 0; i < batch.length; i++) map.set(batch.keys[i], batch.values[i]);
  return map;
}

/** The pairs as columns, validated; later pairs win when applied in order. */
function collectPairs(pairs: PairsLike, path: string): PairBuffer {
  if (pairs instanceof PairBuffer) return pairs;
  const out = new PairBuffer();
  const add = (key: unknown, value: unknown, at: number) => {
    if (typeof key !== "number" || (key >>> 0) !== key || typeof value !== "number" || (value >>> 0) !== value) {
      throw new IdxError("ERR_IDX_INVALID_ARGUMENT",
        `pair #${at} (${String(key)}, ${String(value)}) is not two integers from 0 to 4294967295`, { path });
    }
    out.push(key, value);
  };
  if (!(Symbol.iterator in pairs)) {
    const { keys, values } = pairs as { keys: ArrayLike<number>; values: ArrayLike<number> };
    if (keys.length !== values.length) {
      throw new IdxError("ERR_IDX_INVALID_ARGUMENT", `keys (${keys.length}) and values (${values.length}) differ in length`, { path });
    }
    for (let i = 0; i < keys.length; i++) add(keys[i], values[i], i);
    return out;
  }
  let at = 0;
  for (const pair of pairs as Iterable<readonly [number, number]>) {
    add(pair?.[0], pair?.[1], at++);
  }
  return out;
}

/**
 * Creates an empty index at `path` and returns its lock, or null if another process created
 * one first (then the caller locks that one).
 */
function createEmpty(path: string, sync: boolean): WriterLock | null {
  const temp = writeTempFile(path, encodeIndex(new Uint32Array(0), new Uint32Array(0), 0, path), sync);
  const lock = WriterLock.ofNewFile(temp.path, temp.fd);
  try {
    if (commitTempFile(temp, path, sync, true)) return lock;
    discardTempFile(temp);
  } catch (e) {
    lock.release();
    throw e;
  }
  lock.release();
  return null;
}
