/**
 * IdWriter: keeps an index current in place while other processes read it (spec/FORMAT.md §11),
 * with the surface of a Map. The spec's seams are modules of their own: the lock (os/lock.ts),
 * the operation bracket (operation.ts), recovery (recovery.ts), rehash and swap (rehash.ts).
 * This class holds them together and checks what callers pass.
 *
 * Durable after flush() or close(); a kill -9 at any point leaves a file that opens, passes
 * verify and holds each key's value from before or after the interrupted operation.
 */
import * as nodePath from "node:path";
import { Problems, checkReserved } from "../core/checks";
import { checkMillis, checkOptions, checkPath, describeValue, invalid } from "../core/args";
import { JS_ACCELERATOR, SortedRecords, sortedRecordsOf } from "../core/encode";
import { IdxError, ioError } from "../core/errors";
import {
  DIRTY_V1_MAX_BLOCKS, Header, Layout, MAX_HEADER_BYTES, MAX_LOAD_DEN, MAX_LOAD_NUM, VERSION_MINOR, Width, buildCapacity,
  checkSentinel, growCapacity, sentinelBytes, layoutFor, readHeader, slotOffset,
} from "../core/format";
import { HeaderCells } from "../core/cells";
import { Id, KeysGiven, checkId, escapedKeyOf, hashOfKey, idFromWord, idOf, keyOfHash, valueWordOf, widthOf } from "../core/keys";
import { PairBuffer, PairCollector, isColumns } from "../core/pairs";
import { Word, hashAtWord, high32, low32 } from "../core/slots";
import { InsertPlan, SlotEditor, findSlot, isEmpty, runProblem } from "../core/table";
import { TempFile, commitTempFile, discardTempFile, removeStaleTempFiles, writeTarget, writeTempFileWith } from "../os/atomic-file";
import { MappedCellStore } from "../os/cell-stores";
import { FilePath } from "../os/file-path";
import { WriterLock } from "../os/lock";
import { Mapping, headerWordsOf, openMapping, regionOf } from "../os/mapping";
import { nativeAddon, requireNativeAddon } from "../os/native";
import { TableFileWriter } from "../os/table-file";
import { ReplaceOutcome, installTempFile, refuseToReplace, swapIn } from "../replace";
import { OperationBracket, checksumRegion, damaged, lostUnderWriter } from "./operation";
import { MappingStores } from "./stores";
import { needsRecovery, recover } from "./recovery";
import { SortedBatch, rehashInto, rehashIntoWide, widenKeysInto } from "./rehash";

export interface WriterOptions {
  /** Create an empty index when the file does not exist (default true). */
  create?: boolean;
  /** Wait this many milliseconds for another writer to finish (default 0: fail at once). */
  wait?: number;
  /** fsync new files and flushes (default true). Off only for throwaway files in tests. */
  sync?: boolean;
}

/**
 * Anything update() and equals() take: pairs (a Map, an IdIndex or IdWriter included) or
 * columns. Keys and values are numbers (safe integers) or bigints below 2^64 (spec §16).
 */
export type PairsLike =
  | Iterable<readonly [Id, Id]>
  | ReadonlyMap<Id, Id>
  | { keys: ArrayLike<Id>; values: ArrayLike<Id> };

export interface CopyToOptions {
  /** Replace the target even if it is not an idx index (default false). */
  force?: boolean;
  /** Wait this many ms for a writer of the target to finish (default 0). */
  wait?: number;
}

/** update() with more pairs than this share of the entries rewrites the file instead. */
const BULK_SHARE = 4;
const BULK_MIN = 4096;

const inspectSymbol: unique symbol = Symbol.for("nodejs.util.inspect.custom") as never;

/** What only IdWriter.open passes to the constructor: `new IdWriter()` would be half built. */
const OPENING = Symbol("IdWriter.open");

/**
 * Thrown inside an operation whose rehash found a new index at the path (a rename that took no
 * lock): nothing was changed; the operation starts again on the file now at the path.
 */
const DISPLACED = Symbol("displaced");

/**
 * K and V are what the index gives back: numbers for a file of 32-bit widths (the default);
 * declare `Id` (number | bigint) for a width of 64 bits, whose ids above 2^53 - 1 come back as
 * bigints (spec §16; a number is never rounded).
 */
export class IdWriter<K extends Id = number, V extends Id = number> implements Iterable<[K, V]> {
  readonly #file: FilePath;
  #lock: WriterLock | null;
  readonly #sync: boolean;
  readonly #wait: number;
  #mapping: Mapping | null = null;
  #layout!: Layout;
  #headerWords!: Uint32Array;
  /** The header checksum word at attach: a file rewritten in place under the writer has another. */
  #fixedChecksum = 0;
  #cells!: HeaderCells;
  #editor!: SlotEditor;
  #bracket!: OperationBracket;
  #checksums!: Uint8Array;
  #capacity = 1;
  #slotCount = 0;
  /** Changes when the table moves to a new file: iterators look up their place again. */
  #generation = 0;

  private constructor(opening: symbol, path: string, lock: WriterLock, sync: boolean, wait: number) {
    if (opening !== OPENING) {
      throw invalid("IdWriter has no public constructor: open one with IdWriter.open(path)");
    }
    this.#file = new FilePath(path);
    this.#lock = lock;
    this.#sync = sync;
    this.#wait = wait;
  }

  /** The path the writer was opened with (the file a symlink named, if it was one). */
  get path(): string {
    return this.#file.given;
  }

  /**
   * Opens `path` for writing, creating an empty index if it does not exist (unless `create` is
   * false). Takes the writer lock; repairs what a killed writer left (§11.6).
   * @throws IdxError ERR_IDX_INVALID_ARGUMENT (bad path or options), ERR_IDX_LOCKED (another
   *   writer; names it), ERR_IDX_UNSUPPORTED_VERSION (a newer format, major or minor),
   *   ERR_IDX_NO_ADDON (writing needs the addon), ERR_IDX_CHECKSUM (recovery met damage), the
   *   open errors of IdIndex.open, ERR_IDX_IO.
   */
  static open<K extends Id = number, V extends Id = number>(path: string, options?: WriterOptions): IdWriter<K, V> {
    checkPath("path", path);
    path = writeTarget(path);
    const o = checkOptions<WriterOptions>("options", options);
    if (o.create !== undefined && typeof o.create !== "boolean") throw invalid(`options.create must be a boolean, not ${describeValue(o.create)}`, path);
    if (o.sync !== undefined && typeof o.sync !== "boolean") throw invalid(`options.sync must be a boolean, not ${describeValue(o.sync)}`, path);
    const wait = o.wait === undefined ? 0 : checkMillis("options.wait", o.wait);
    const sync = o.sync ?? true;
    requireNativeAddon("writing an index");
    let lock = WriterLock.acquire(path, { wait });
    while (lock === null) {
      if (o.create === false) {
        throw ioError("open the index", path, Object.assign(new Error("missing"), { code: "ENOENT" }),
          "Build it first, or let the writer create it.");
      }
      lock = createEmpty(path, sync) ?? WriterLock.acquire(path, { wait });
    }
    const writer = new IdWriter<K, V>(OPENING, path, lock, sync, wait);
    try {
      removeStaleTempFiles(path);
      writer.#attachAndRecover();
      return writer;
    } catch (e) {
      writer.#detach();
      throw e;
    }
  }

  /** Maps the locked file and repairs what a killed writer left (§11.6). */
  #attachAndRecover(): void {
    this.#attach();
    if (needsRecovery(this.#cells)) {
      recover(this.#cells, this.#editor, this.#bracket, this.#readHeader(), this.#checksums, this.path);
      if (this.#sync) this.#mapping!.sync(this.path);
    }
  }

  #attach(): void {
    let layout!: Layout;
    let capacity = 0;
    let slotCount = 0;
    const mapping = openMapping(this.#file.now, { writable: true }, (m) => {
      const header = readHeader(m.bytes(0, Math.min(m.size, MAX_HEADER_BYTES)), m.size, this.path);
      if (header.minor > VERSION_MINOR) {
        throw new IdxError("ERR_IDX_UNSUPPORTED_VERSION",
          `uses format version ${header.major}.${header.minor}; this idx reads it but writes only ${header.major}.${VERSION_MINOR} files`,
          { path: this.path, hint: "Upgrade idx to change it, or rebuild it with this version." });
      }
      checkSentinel(m.bytes(slotOffset(header.layout, header.slotCount - 1), sentinelBytes(header.layout)), header.layout, this.path);
      // Reserved bits and bytes set in a file of this minor are damage: a writer would clear them.
      const problems = new Problems(1);
      checkReserved(m.bytes(0, header.layout.headerBytes), header, problems);
      if (problems.list.length > 0) throw damaged(this.path, `${problems.list[0].message}, so it is not written`);
      layout = header.layout;
      capacity = header.capacity;
      slotCount = header.slotCount;
    });
    try {
      const addon = requireNativeAddon("writing an index");
      const region = regionOf(mapping, layout, slotCount);
      const stores = new MappingStores(addon, mapping, layout);
      region.useStores(stores);
      const words = headerWordsOf(mapping, layout);
      this.#cells = new HeaderCells(new MappedCellStore(words, addon, mapping), layout);
      this.#headerWords = words;
      this.#fixedChecksum = words[layout.checksumOffset / 4];
      this.#checksums = checksumRegion(mapping, layout, slotCount);
      this.#editor = new SlotEditor(region, capacity);
      this.#bracket = new OperationBracket(this.#cells, stores, this.#checksums, layout, slotCount, mapping, this.path);
      // The watcher notices a rename over the path (mv) or a change of size under the writer.
      addon.watch(mapping.id, nodePath.resolve(this.#file.now));
    } catch (e) {
      mapping.release();
      throw e;
    }
    this.#mapping?.release();
    this.#mapping = mapping;
    this.#layout = layout;
    this.#capacity = capacity;
    this.#slotCount = slotCount;
    this.#generation++;
  }

  #detach(): void {
    this.#mapping?.release();
    this.#mapping = null;
    this.#lock?.release();
    this.#lock = null;
  }

  /**
   * Before anything is read or changed: the writer's file must still be the index at its path.
   * A file truncated or rewritten in place under the writer is refused (its last change may be
   * lost; nothing is built on it). A new index put at the path by a rename that took no lock
   * (mv, rsync) is followed: the writer takes that file's lock and goes on there, so no change
   * goes into the file the deploy replaced, and no second writer works beside this one. A
   * change looks at the path every time (one stat); a read relies on the watcher, which
   * notices a rename within about 100 ms.
   */
  #current(changing: boolean): void {
    const m = this.#mapping;
    if (m === null) this.#closed();
    const state = m.state();
    if (state === 2 || this.#headerWords[this.#layout.checksumOffset / 4] !== this.#fixedChecksum) throw lostUnderWriter(this.path);
    if (state === 1 || (changing && !this.#lock!.stillAt(this.#file.now))) this.#follow();
  }

  /** Moves the writer to the file now at its path (see #current). */
  #follow(): void {
    const lock = WriterLock.acquire(this.#file.now, { wait: this.#wait });
    if (lock === null) {
      throw new IdxError("ERR_IDX_IO", "the index was removed from its path while this writer had it open, so nothing was changed", {
        path: this.path, hint: "Put an index back at the path (or let a new writer create one), then open the writer again.",
      });
    }
    this.#lock!.release();
    this.#lock = lock;
    try {
      this.#attachAndRecover();
    } catch (e) {
      this.#detach();
      throw e;
    }
  }

  /** Runs a change on the current file; starts it again if a rehash found the file replaced. */
  #changing<T>(change: () => T): T {
    for (;;) {
      this.#current(true);
      try {
        const result = change();
        this.#stillWhole();
        return result;
      } catch (e) {
        if (e !== DISPLACED) throw this.#explain(e);
      }
    }
  }

  /** Runs a read of the current file: a file lost under it meanwhile gives no answer. */
  #reading<T>(read: () => T): T {
    this.#current(false);
    try {
      const result = read();
      this.#stillWhole();
      return result;
    } catch (e) {
      throw this.#explain(e);
    }
  }

  /** A load that faulted (the file shrank under the writer) read zeros: nothing it saw stands. */
  #stillWhole(): void {
    if (this.#mapping !== null && this.#mapping.state() === 2) throw lostUnderWriter(this.path);
  }

  /** Whatever went wrong while the file was lost under the writer is that, not how it showed. */
  #explain(e: unknown): unknown {
    return this.#mapping !== null && this.#mapping.state() === 2 && !(e instanceof IdxError && e.code === "ERR_IDX_CORRUPT") ? lostUnderWriter(this.path, e) : e;
  }

  // ---- reading ----

  /** Live entries. */
  get size(): number {
    return this.#reading(() => this.#cells.entries + (this.#cells.escapedPresent ? 1 : 0));
  }

  /** The key widths (§16): 32 or 64 bits. A writer widens them when a change needs it. */
  get keyBits(): Width {
    this.#check();
    return this.#layout.keyBits;
  }

  get valueBits(): Width {
    this.#check();
    return this.#layout.valueBits;
  }

  /**
   * The value of `key` (a number, or a bigint above 2^53 - 1), or undefined: also for anything
   * that is not a key (not an integer below 2^64, or a number past 2^53 - 1), as a Map answers.
   */
  get(key: K | Id): V | undefined {
    return this.#reading(() => {
      const k = idOf(key);
      if (k === null || widthOf(k) > this.#layout.keyBits) return undefined;
      const hash = hashOfKey(k, this.#layout.keyBits);
      if (hash === this.#editor.region.empty) return this.#cells.escapedPresent ? idFromWord(this.#cells.escapedValue) as V : undefined;
      const s = this.#find(hash);
      return s < 0 ? undefined : idFromWord(this.#editor.region.valueAt(s)) as V;
    });
  }

  has(key: K | Id): boolean {
    return this.get(key) !== undefined;
  }

  /** The slot holding `hash`, or -1. The writer holds the lock: nothing moves under it. */
  #find(hash: Word): number {
    const s = findSlot(this.#editor.region, this.#capacity, this.#reach(), hash);
    return s < 0 ? -1 : s;
  }

  /** The reach to probe with: the header's (version 2), or every slot (version 1 records none). */
  #reach(): number {
    return this.#cells.reach ?? this.#slotCount - 1;
  }

  /**
   * Every [key, value] pair: the escaped key first, then by hash (not by key). Changing the
   * writer while iterating behaves as it does for a Map: an entry present throughout is
   * visited exactly once, a deleted one is not visited after its deletion, and one added later
   * is visited if its hash comes after the place the iteration has reached.
   */
  *entries(): IterableIterator<[K, V]> {
    this.#current(false);
    let keyBits = this.#layout.keyBits;
    const escapedGiven = this.#cells.escapedPresent;
    if (escapedGiven) yield [escapedKeyOf(keyBits) as K, idFromWord(this.#cells.escapedValue) as V];
    let after: Word = -1; // the hash of the last entry yielded
    let slot = 0; // where to look next, while the table has not moved
    let generation = this.#generation;
    // The keys were widened during the iteration (§16.5): the new file orders keys by another
    // hash, so the iteration starts over in it and skips the keys it gave before.
    const given = new KeysGiven();
    for (;;) {
      this.#current(false);
      const region = this.#editor.region;
      if (this.#layout.keyBits !== keyBits) {
        given.mark(keyBits, after, escapedGiven);
        keyBits = this.#layout.keyBits;
        after = -1;
        slot = 0;
        generation = this.#generation;
      } else if (generation !== this.#generation || (after !== -1 && region.hashAt(slot - 1) !== after)) {
        // The table changed under the iteration: find the place again by hash.
        generation = this.#generation;
        slot = after === -1 ? 0 : region.homeOf(after, this.#capacity);
      }
      let found = -1;
      for (; slot < this.#slotCount; slot++) {
        const hash = region.hashAt(slot);
        if (!isEmpty(hash, region.empty) && hash > after) {
          found = slot;
          break;
        }
      }
      this.#stillWhole();
      if (found < 0) return;
      const hash = region.hashAt(found);
      const value = region.valueAt(found);
      after = hash;
      slot = found + 1;
      const key = keyOfHash(hash, keyBits);
      if (given.any && given.has(key)) continue;
      yield [key as K, idFromWord(value) as V];
    }
  }

  *keys(): IterableIterator<K> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): IterableIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  forEach(callback: (value: V, key: K, writer: IdWriter<K, V>) => void): void {
    if (typeof callback !== "function") throw invalid(`callback must be a function, not ${describeValue(callback)}`, this.path);
    for (const [key, value] of this.entries()) callback(value, key, this);
  }

  /** True when `other` (a Map, an IdIndex, an IdWriter, pairs or columns) holds exactly the same pairs. */
  equals(other: PairsLike): boolean {
    this.#current(false);
    const lookup = asLookup(other, this.path);
    if (lookup.size !== this.size) return false;
    for (const [key, value] of this.entries()) if (lookup.get(key) !== value) return false;
    return true;
  }

  // ---- writing in place ----

  /**
   * Sets `key` to `value` (insert or overwrite). Readers see it at once; durable after flush().
   * May grow the table, or widen it (a key or value above 2^32 - 1 in a file of 32-bit ones,
   * spec §16.5): a new file renamed over the old one.
   * @throws IdxError ERR_IDX_INVALID_ARGUMENT (not an integer from 0 to 2^64 - 1, or a number
   *   past 2^53 - 1), ERR_IDX_CHECKSUM (the block it would change is damaged: nothing changed),
   *   ERR_IDX_TOO_LARGE, ERR_IDX_IO (growing failed; the index is unchanged).
   */
  set(key: K | Id, value: V | Id): this {
    this.#check();
    const k = checkId("key", key, this.path);
    const v = checkId("value", value, this.path);
    this.#changing(() => this.#set(k, v));
    return this;
  }

  #set(key: Id, value: Id): void {
    const layout = this.#layout;
    if (widthOf(key) > layout.keyBits || widthOf(value) > layout.valueBits) {
      const pair = new PairBuffer(1);
      pair.pushWide(low32(key), high32(key), low32(value), high32(value));
      this.#widen(pair);
      return;
    }
    const hash = hashOfKey(key, layout.keyBits);
    const word = valueWordOf(value, layout.valueBits);
    if (hash === this.#editor.region.empty) this.#setEscaped(word);
    else this.#setHash(hash, word);
  }

  #setEscaped(value: Word): void {
    const cells = this.#cells;
    const low = low32(value);
    const high = high32(value);
    this.#bracket.run(0, -1, 0, () => cells.setEscaped(low, high));
  }

  /** Sets the entry of `hash` (not EMPTY) to `value`, both at the file's widths. */
  #setHash(hash: Word, value: Word): void {
    const found = this.#find(hash);
    if (found >= 0) {
      const region = this.#editor.region;
      if (region.valueAt(found) !== value) {
        const low = low32(value);
        const high = high32(value);
        this.#bracket.run(found, found, 0, () => region.storeValue(found, low, high));
      }
      return;
    }
    // A rehash below moves the writer to a new file: nothing of the old one is kept past it.
    if ((this.#cells.entries + 1) * MAX_LOAD_DEN > this.#capacity * MAX_LOAD_NUM) this.#rehash(growCapacity, 1);
    let plan = this.#plan(hash);
    if (plan === null) {
      // The run reached the sentinel, not the load limit: a fresh layout at the same capacity
      // lays out new spill slots; grow only if that is not enough.
      const capacity = this.#capacity;
      this.#rehash(() => capacity, 0);
      plan = this.#plan(hash);
      if (plan === null) {
        this.#rehash(growCapacity, 1);
        plan = this.#plan(hash);
        if (plan === null) throw new IdxError("ERR_IDX_CORRUPT", "no room for an insert after growing the table", { path: this.path });
      }
    }
    const p = plan;
    this.#checkRun(p.at, p.end);
    const cells = this.#cells;
    const editor = this.#editor;
    const entries = cells.entries;
    const words = editor.region.slotWordsOf(hash, value);
    this.#bracket.run(p.at, p.end, p.reach, () => {
      editor.insert(p, words);
      cells.setEntries(entries + 1);
    });
  }

  /** Removes `key`; returns whether it was there (false for anything that is not a key). */
  delete(key: K | Id): boolean {
    this.#check();
    const k = idOf(key);
    if (k === null) return false;
    return this.#changing(() => this.#delete(k));
  }

  #delete(key: Id): boolean {
    const keyBits = this.#layout.keyBits;
    if (widthOf(key) > keyBits) return false;
    const hash = hashOfKey(key, keyBits);
    const cells = this.#cells;
    if (hash === this.#editor.region.empty) {
      if (!cells.escapedPresent) return false;
      this.#bracket.run(0, -1, 0, () => cells.clearEscaped());
      return true;
    }
    const s = this.#find(hash);
    if (s < 0) return false;
    const last = this.#editor.shiftEnd(s);
    this.#checkRun(s, last);
    const entries = cells.entries;
    this.#bracket.run(s, last, 0, () => {
      this.#editor.remove(s, last);
      cells.setEntries(entries - 1);
    });
    return true;
  }

  /** Refuses to shift slots first..last of a table that breaks §5.2 there (nothing is changed). */
  #checkRun(first: number, last: number): void {
    const problem = runProblem(this.#editor.region, this.#capacity, this.#reach(), first, last);
    if (problem !== null) throw damaged(this.path, `${problem}, so the index was not changed`);
  }

  /** The header as it is now (the writer holds the lock: nothing else changes it). */
  #readHeader(): Header {
    const m = this.#mapping!;
    return readHeader(m.bytes(0, this.#layout.headerBytes), m.size, this.path);
  }

  /** Where an insert goes, or null when it must rehash first (sentinel, or a dirty range v1 cannot name). */
  #plan(hash: Word): InsertPlan | null {
    const plan = this.#editor.planInsert(hash, this.#cells.reach ?? 0);
    if (plan === null) return null;
    const perBlock = this.#layout.slotsPerBlock;
    const blocks = Math.floor(plan.end / perBlock) - Math.floor(plan.at / perBlock) + 1;
    return this.#layout.major === 1 && blocks > DIRTY_V1_MAX_BLOCKS ? null : plan;
  }

  /**
   * Sets every pair of `pairs` (later pairs win). A large batch (more than a quarter of the
   * entries) is merged into a new file renamed over the old one, which is faster than
   * inserting in place; a small one is applied in place, key by key in hash order (a key given
   * twice is written once, with its last value), after growing the table once if it must.
   * Every pair is checked, and the table grown, before anything changes.
   */
  update(pairs: PairsLike): this {
    this.#check();
    const collector = new PairCollector(this.path);
    collector.addSync(pairs);
    this.#changing(() => this.#update(collector));
    return this;
  }

  #update(collector: PairCollector): void {
    const batch = collector.out;
    const layout = this.#layout;
    if (batch.keyBits > layout.keyBits || batch.valueBits > layout.valueBits) return this.#widen(batch);
    if (layout.major === 3) return this.#updateWide(batch);
    // By hash, a key given twice kept once with its last value, as a build keeps it: a value a
    // later pair overrides is never written, so no reader (and no kill -9) ever sees it.
    const sorted = new Float64Array(3);
    (nativeAddon() ?? JS_ACCELERATOR).hashSort(batch.keys, batch.values, batch.length, sorted);
    const hashes = batch.keys;
    const values = batch.values;
    const n = sorted[0];
    const escaped = sorted[1] === 1 ? sorted[2] : undefined;
    if (batch.length > Math.max(BULK_MIN, this.size / BULK_SHARE)) {
      const merged: SortedBatch = { hashes, values, length: n };
      if (escaped !== undefined) merged.escaped = escaped;
      this.#rehash(growCapacity, 0, merged);
      return;
    }
    // Grow once, first, for every key that is new: a growth that fails (a full disk) then
    // leaves the index as it was, not with part of the batch in it.
    let fresh = 0;
    for (let i = 0; i < n; i++) if (this.#find(hashes[i]) < 0) fresh++;
    if ((this.#cells.entries + fresh) * MAX_LOAD_DEN > this.#capacity * MAX_LOAD_NUM) this.#rehash(growCapacity, fresh);
    for (let i = 0; i < n; i++) this.#setHash(hashes[i], values[i]);
    if (escaped !== undefined) this.#setEscaped(escaped);
  }

  /** update() of a version 3 file (§16), whose widths hold every pair: as above, by slot records. */
  #updateWide(batch: PairBuffer): void {
    const layout = this.#layout;
    const sorted = sortedRecordsOf(batch, layout.keyBits, nativeAddon() ?? JS_ACCELERATOR);
    if (batch.length > Math.max(BULK_MIN, this.size / BULK_SHARE)) {
      this.#rehash(growCapacity, 0, undefined, sorted);
      return;
    }
    const { records, length: n, escaped } = sorted;
    const wideKeys = layout.keyBits === 64;
    const wideValues = layout.valueBits === 64;
    const hashes: Word[] = [];
    for (let i = 0; i < n; i++) hashes.push(hashAtWord(records, 4 * i, wideKeys));
    let fresh = 0;
    for (let i = 0; i < n; i++) if (this.#find(hashes[i]) < 0) fresh++;
    if ((this.#cells.entries + fresh) * MAX_LOAD_DEN > this.#capacity * MAX_LOAD_NUM) this.#rehash(growCapacity, fresh);
    for (let i = 0; i < n; i++) {
      const value = wideValues ? hashAtWord(records, 4 * i + 2, true) : records[4 * i + 2];
      this.#setHash(hashes[i], value);
    }
    if (escaped !== undefined) this.#setEscaped(valueWordOf(idFromWord(escaped), layout.valueBits));
  }

  /**
   * §16.5: rewrites the table with the widths that hold `pairs` too (never narrower than the
   * file's), with the pairs set in it (a later one wins), into a new version 3 file swapped in as
   * a growth is. At the same capacity unless the pairs push the load past the writer's limit.
   */
  #widen(pairs: PairBuffer): void {
    const old = this.#layout;
    const keyBits: Width = pairs.keyBits > old.keyBits ? pairs.keyBits : old.keyBits;
    const valueBits: Width = pairs.valueBits > old.valueBits ? pairs.valueBits : old.valueBits;
    const layout = layoutFor(keyBits, valueBits);
    const capacity = this.#capacity;
    const capacityFor = (n: number) => (n * MAX_LOAD_DEN > capacity * MAX_LOAD_NUM ? growCapacity(n) : capacity);
    const target = this.#file.now;
    const region = this.#editor.region;
    const header = this.#readHeader();
    this.#replace(keyBits !== old.keyBits
      ? widenKeysInto(target, region, this.#checksums, header, layout, capacityFor, this.#sync, pairs)
      : rehashIntoWide(target, region, this.#checksums, header, layout, capacityFor, this.#sync, sortedRecordsOf(pairs, keyBits, nativeAddon() ?? JS_ACCELERATOR)));
  }

  /** Removes every entry (a new, empty file renamed over the old one). */
  clear(): void {
    this.#changing(() => {
      const target = this.#file.now;
      const layout = layoutFor(this.#layout.keyBits, this.#layout.valueBits);
      this.#replace(writeTempFileWith(target, this.#sync, (fd) => new TableFileWriter(fd, target, 1, layout).finish(undefined)));
    });
  }

  /**
   * Rehashes now into the builder's layout (spec §7): the file becomes byte-identical to
   * `idx build` of the same pairs, as small as the builder makes it.
   */
  compact(): void {
    this.#changing(() => this.#rehash(buildCapacity, 0));
  }

  /**
   * Writes the entries, compacted, to a new index at `path` (atomically, as a build does: an
   * index there is retired and replaced); this one is unchanged. A file at `path` that is not
   * an idx index (text, a named pipe, a device) is refused unless `force` is set.
   * @throws IdxError ERR_IDX_INVALID_ARGUMENT (this index's own path, bad options),
   *   ERR_IDX_NOT_AN_INDEX (the target is another kind of file), ERR_IDX_LOCKED, ERR_IDX_IO.
   */
  copyTo(path: string, options?: CopyToOptions): ReplaceOutcome {
    this.#check();
    checkPath("path", path);
    const o = checkOptions<CopyToOptions>("options", options);
    if (o.force !== undefined && typeof o.force !== "boolean") throw invalid(`options.force must be a boolean, not ${describeValue(o.force)}`, path);
    const wait = o.wait === undefined ? undefined : checkMillis("options.wait", o.wait);
    path = writeTarget(path);
    this.#current(true);
    if (samePath(path, this.#file.now) || this.#lock!.stillAt(path)) {
      throw invalid("copyTo needs another path than the index's own", path, "Use compact() to rewrite the index in place.");
    }
    refuseToReplace(path, o.force ?? false);
    return installTempFile(this.#rehashed(path, buildCapacity), path, this.#sync, wait);
  }

  /** Makes every change so far durable: returns once the mapped pages are on disk. */
  flush(): void {
    this.#check();
    if (this.#sync) this.#mapping!.sync(this.path);
  }

  #closed(): never {
    throw new IdxError("ERR_IDX_CLOSED", "the writer is closed", { path: this.path, hint: "Open it again with IdWriter.open()." });
  }

  /** flush(), then releases the writer lock. Later calls throw ERR_IDX_CLOSED. */
  close(): void {
    if (this.#mapping === null) return;
    try {
      this.flush();
    } finally {
      this.#detach();
    }
  }

  /** close(): `using w = IdWriter.open(path)` flushes and closes it at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }

  get closed(): boolean {
    return this.#mapping === null;
  }

  toString(): string {
    return this.#mapping === null ? `IdWriter(${this.path}, closed)` : `IdWriter(${this.path}, ${this.size} entries)`;
  }

  [inspectSymbol](_depth: number, options: { stylize: (s: string, style: string) => string }): string {
    if (this.#mapping === null) return `IdWriter(${this.path}) <closed>`;
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

  /**
   * Rewrites the table (merged with `batch`, or `records` in a version 3 file) into a new file
   * with `capacityFor(entries + extra)` home slots and the same widths, in place of this one.
   */
  #rehash(capacityFor: (entries: number) => number, extra: number, batch?: SortedBatch, records?: SortedRecords): void {
    this.#replace(this.#rehashed(this.#file.now, (entries) => capacityFor(entries + extra), batch, records));
  }

  /** The table, merged as #rehash says, in a new temp file beside `target`, at the file's widths. */
  #rehashed(target: string, capacityFor: (entries: number) => number, batch?: SortedBatch, records?: SortedRecords): TempFile {
    const header = this.#readHeader();
    const region = this.#editor.region;
    if (this.#layout.major === 3) {
      return rehashIntoWide(target, region, this.#checksums, header, this.#layout, capacityFor, this.#sync, records);
    }
    return rehashInto(target, region, this.#checksums, header, capacityFor, this.#sync, batch);
  }

  /**
   * §11.4: the new file in place of the old, the lock passed on, the new file mapped. If the
   * path names another file now (see #current), nothing is renamed: DISPLACED.
   */
  #replace(temp: TempFile): void {
    const lock = swapIn(temp, this.#file.now, this.#cells, this.#lock!, this.#sync);
    if (lock === null) throw DISPLACED;
    this.#lock = lock;
    this.#attach();
  }

  #check(): void {
    if (this.#mapping === null) this.#closed();
  }
}

function samePath(a: string, b: string): boolean {
  return nodePath.resolve(a) === nodePath.resolve(b);
}

/**
 * What equals() compares against: get(key) for each of this index's keys (numbers when safe,
 * bigints above), answering values the same way. An IdIndex or IdWriter answers so already; a
 * Map is asked for a number key as a bigint too (a Map<bigint, ...> holds 5n, not 5); pairs
 * and columns are gathered into a Map of such keys first.
 */
function asLookup(other: unknown, path: string): { size: number; get(key: Id): Id | undefined } {
  const o = other as { size?: unknown; get?: unknown };
  if (other instanceof Map) {
    return {
      size: other.size,
      get: (key) => {
        const v = other.get(key) ?? (typeof key === "number" ? other.get(BigInt(key)) : undefined);
        return v === undefined ? undefined : idOf(v) ?? NaN;
      },
    };
  }
  if (o !== null && typeof o === "object" && typeof o.size === "number" && typeof o.get === "function" && !isColumns(o)) {
    return other as { size: number; get(key: Id): Id | undefined };
  }
  const collector = new PairCollector(path);
  collector.addSync(other);
  const map = new Map<Id, Id>();
  const out = collector.out;
  for (let i = 0; i < out.length; i++) map.set(out.keyAt(i), out.valueAt(i));
  return map;
}

/**
 * Creates an empty index at `path` and returns its lock, or null if another process created
 * one first (then the caller locks that one).
 */
function createEmpty(path: string, sync: boolean): WriterLock | null {
  const temp = writeTempFileWith(path, sync, (fd) => new TableFileWriter(fd, path, 1).finish(undefined));
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

