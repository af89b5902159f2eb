/**
 * IdIndex: a read-only view of an index file, probed in place through a shared mapping.
 * open() is O(1): it maps the file and validates the header against the file size, nothing more.
 *
 * A writer in another process may change the file while it is mapped here (spec/FORMAT.md §11).
 * Each lookup reads the header's seq word before and after its probe (core/protocol.ts), so
 * answers are never torn. When the file is replaced (a writer's grow or compact, a build, idx
 * cp, or a plain mv, rm and rebuild, or cp over it), the next lookup here notices and follows
 * the path to the new file (§11.7, §11.8).
 */
import * as fs from "node:fs";
import { checkPath, checkUint32, checkUint32Array, checkUint8Array, describeValue, invalid } from "../core/args";
import { IdxError } from "../core/errors";
import {
  CELL_ENTRIES_HIGH, Header, Layout, SLOT_WORDS, STATE_ESCAPED, STATE_RETIRED, STATE_V1_COUNT_MASK,
  W_ENTRIES, W_ESCAPED, W_ESCAPED_HIGH, W_REACH, W_SEQ, W_STATE, checkSentinel, sentinelBytes, slotOffset,
} from "../core/format";
import { MAX_LINE, formatEntries, formatEntry } from "../core/dump";
import { unhash32 } from "../core/hash";
import { Id, KeysGiven, escapedKeyOf, hashOfKey, idFromWord, idOf, keyOfHash, widthOf } from "../core/keys";
import { FOLLOW_EVERY_MS, LOCK_TEST_EVERY_MS, NO_DEAD_SEQ, ProtocolReader, StallClock, quietRead, settle } from "../core/protocol";
import { SlotRegion, Word, hashAtWord } from "../core/slots";
import { UNDECIDED, findSlot, isEntry, measureReach } from "../core/table";
import { FilePath } from "../os/file-path";
import { writerHoldsLockAt } from "../os/lock";
import { Mapping, headerOf, headerWordsOf, openMapping, regionOf } from "../os/mapping";
import { CHUNK, NativeAddon, nativeAddon, replacementCount } from "../os/native";
import { VerifyReport, verifyMapping } from "../verify";
import { IndexInfo, describeHeader } from "./info";
import { FastCheck, makeGet, makeWideGet, makeWindowedGet, probeChunk } from "./lookups";

const EMPTY_WORDS = new Uint32Array(0);
/**
 * probeChunk's scratch, one pair for every reader: a chunk is probed to its end within one
 * synchronous call, and a worker has its own module. One pair a reader was 768 bytes of
 * external memory at every open, which V8 keeps counting until a full collection.
 */
const CHUNK_HASHES = new Uint32Array(CHUNK);
const CHUNK_HOMES = new Float64Array(CHUNK);

/** Slots an iteration copies at a time (at most a window, and aligned to one). */
const ITER_SLOTS = 4096;

/** A hash word from the addon (a bigint) as the region compares it: a number for 32-bit keys. */
function idOfHashWord(word: bigint, keyBits: 32 | 64): Word {
  return keyBits === 32 ? Number(word) : word;
}

function chunkEnd(s: number, region: SlotRegion): number {
  const step = Math.min(ITER_SLOTS, region.windowSlots);
  return Math.min(s - (s % step) + step, region.slotCount);
}

/**
 * Slots from-1 .. to-1 of `region` (an empty slot for slot -1), region.slotWords words a slot:
 * slot -1's hash word is the previous hash of §5.1 for slot `from`.
 */
function copySlots(region: SlotRegion, from: number, to: number): Uint32Array {
  const sw = region.slotWords;
  const copy = new Uint32Array((to - from + 1) * sw);
  if (from === 0) {
    region.slotWordsOf(region.empty, 0).forEach((w, j) => (copy[j] = w));
  } else {
    const k = region.windowOf(from - 1);
    const i = region.wordOf(from - 1);
    copy.set(region.windows[k].subarray(i, i + sw), 0);
  }
  const k = region.windowOf(from);
  const base = k * region.windowSlots;
  copy.set(region.windows[k].subarray((from - base) * sw, (to - base) * sw), sw);
  return copy;
}

/** Whether two reads of the file hold the same bytes (quietRead's second look). */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const bytes = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return a.byteLength === b.byteLength && Buffer.compare(bytes(a), bytes(b)) === 0;
}

function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/** How often a reader without the addon (a copy) looks at its path for changes. */
const COPY_WATCH_MS = 100;
/** §14: a version 1 file records no reach; probes run this far before the reader measures it. */
const V1_FIRST_REACH = 4096;

/**
 * A reader dropped without close() lets go of its mapping when it is collected. The registry
 * holds the reader's holder, never the reader, so it does not keep it alive.
 */
interface MappingHolder {
  mapping: Mapping | null;
}
const dropped = new FinalizationRegistry<MappingHolder>((holder) => holder.mapping?.release());

/** What only IdIndex.open passes to the constructor: `new IdIndex()` would be half built. */
const OPENING = Symbol("IdIndex.open");

/** Slow-path lookups of this process, for tests of the paths that must stay fast. @internal */
export const slowPathCount = { lookups: 0 };

/**
 * K and V are what the index gives back: numbers for a file of 32-bit widths (the default);
 * declare `Id` (number | bigint) for a file with a 64-bit width, whose ids above 2^53 - 1 come
 * back as bigints (spec §16: nothing is ever rounded).
 */
export class IdIndex<K extends Id = number, V extends Id = number> implements Iterable<[K, V]> {
  readonly #holder: MappingHolder = { mapping: null };
  #mapping: Mapping | null = null;
  #header: Uint32Array = EMPTY_WORDS;
  #region: SlotRegion = SlotRegion.of(EMPTY_WORDS.subarray(0, 0));
  #layout!: Layout;
  readonly #file: FilePath;
  /** Numbers the get closures: a get kept from before the current one probed a file let go. */
  #closure = 0;
  #closedLookup: (() => never) | undefined;
  #capacity = 1;
  #slotCount = 0;
  #reach = 0;
  #v1Measured: { reach: number; seq: number } | null = null;
  #dev = 0;
  #ino = 0;
  /** The header checksum word (its index and its value at open): §11.7's check against a rewrite in place. */
  #idWord = 0;
  #id = 0;
  /** A seq value this reader treats as even: its writer died mid-operation (§11.7). */
  #dead = NO_DEAD_SEQ;
  #fast: FastCheck = { idWord: 0, id: 0, dead: NO_DEAD_SEQ, closure: 0 };
  /** Sets a raised reach and a dead writer's seq into the installed lookups (lookups.ts), or null: they must be made anew. */
  #retune: ((reachWords: number, dead: number) => void) | null = null;
  /** Changes whenever the reader maps another file: a batch answers from one file. */
  #generation = 0;
  readonly #clock = new StallClock();
  #lastFollow = -Infinity;
  #lastLockTest = -Infinity;
  /** This process's replacements count when the reader last looked at its path (§11.7 following). */
  #seenReplacements = -1;
  /** Why the lost file has no answer, until the path holds a valid index again. */
  #lostError: unknown = null;
  readonly #protocol: ProtocolReader;
  readonly #nativeResult = new Float64Array(2);

  private constructor(opening: symbol, path: string) {
    if (opening !== OPENING) throw invalid("IdIndex has no public constructor: open one with IdIndex.open(path)");
    this.#file = new FilePath(path);
    this.#protocol = {
      seq: () => Atomics.load(this.#header, W_SEQ),
      dead: () => this.#dead,
      writerGone: () => this.#mapping!.live && writerHoldsLockAt(this.#file.now, this.#dev, this.#ino) === false,
      markDead: (seq) => this.#markDead(seq),
      diverted: () => this.#diverted(),
      follow: () => this.#follow(),
    };
  }

  /** The path the index was opened from. */
  get path(): string {
    return this.#file.given;
  }

  /**
   * Maps `path` and validates its header against the file size: O(1), no slot is decoded.
   * Without the addon it reads the whole file instead (O(file)); see README, Troubleshooting.
   * @throws IdxError ERR_IDX_INVALID_ARGUMENT (path not a string), ERR_IDX_IO (cannot open or
   *   map), ERR_IDX_NOT_AN_INDEX (empty or foreign file), ERR_IDX_TRUNCATED,
   *   ERR_IDX_UNSUPPORTED_VERSION (newer major), ERR_IDX_CHECKSUM (header), ERR_IDX_CORRUPT
   *   (header fields), ERR_IDX_TOO_LARGE.
   */
  static open<K extends Id = number, V extends Id = number>(path: string): IdIndex<K, V> {
    checkPath("path", path);
    if (!LITTLE_ENDIAN) {
      throw new IdxError("ERR_IDX_IO", "idx reads its little-endian slots in place and needs a little-endian CPU", { path });
    }
    const ix = new IdIndex<K, V>(OPENING, path);
    ix.#attach();
    dropped.register(ix, ix.#holder, ix.#holder);
    if (!ix.#mapping!.live) ix.#watchCopy();
    return ix;
  }

  /** Maps the file now at `path` in place of the current mapping. */
  #attach(): void {
    let header!: Header;
    let deadAtOpen = NO_DEAD_SEQ;
    const mapping = openMapping(this.#file.now, { shared: true }, (m, fd) => {
      header = headerOf(m, this.path, (seq) => (deadAtOpen = seq));
      // Read, not loaded from the mapping: touching the file's far end would map its pages
      // into this process (a whole large folio) for one word. (A copy has no descriptor left.)
      const at = slotOffset(header.layout, header.slotCount - 1);
      const n = sentinelBytes(header.layout);
      const last = fd >= 0 ? Buffer.alloc(n) : Buffer.from(m.bytes(at, n));
      if (fd >= 0) fs.readSync(fd, last, 0, n, at);
      checkSentinel(last, header.layout, this.path);
    });
    let words: Uint32Array;
    let region: SlotRegion;
    try {
      words = headerWordsOf(mapping, header.layout);
      region = regionOf(mapping, header.layout, header.slotCount);
    } catch (e) {
      mapping.release();
      throw e;
    }
    this.#mapping?.release(true); // following a replaced file, inside a lookup: unmapped off this thread
    this.#mapping = mapping;
    this.#holder.mapping = mapping;
    this.#layout = header.layout;
    this.#capacity = header.capacity;
    this.#slotCount = header.slotCount;
    this.#reach = header.major === 1 ? Math.min(V1_FIRST_REACH, header.slotCount - 1) : header.reach;
    this.#v1Measured = null;
    this.#dev = mapping.dev;
    this.#ino = mapping.ino;
    this.#header = words;
    this.#region = region;
    this.#idWord = header.layout.checksumOffset / 4;
    this.#id = words[this.#idWord];
    // A copy (no addon) never changes: its seq, odd or not, is quiet. A writer found dead while
    // the header was read (§11.7) stays dead.
    this.#dead = !mapping.live && (header.seq & 1) === 1 ? header.seq : deadAtOpen;
    this.#lostError = null;
    this.#generation++;
    this.#installLookups();
  }

  /** §11.7 "A writer that died": probes bracketed by `seq` are quiet from now on. */
  #markDead(seq: number): void {
    if (this.#dead === seq) return;
    this.#dead = seq;
    this.#retuneLookups();
  }

  /**
   * The reach or the dead writer's seq changed, on the same mapping: into the lookups installed
   * (a caller's loop keeps the functions it was compiled for), else new ones (a version 3 file's).
   */
  #retuneLookups(): void {
    if (this.#retune === null) return this.#installLookups();
    this.#retune(this.#reach * SLOT_WORDS, this.#dead);
    this.#fast = { ...this.#fast, dead: this.#dead };
  }

  /** The file may no longer be the index at its path: retired, replaced, rewritten or lost (§11.7, §11.8). */
  #diverted(): boolean {
    const header = this.#header;
    return (header[W_STATE] & STATE_RETIRED) !== 0 || header[this.#idWord] !== this.#id || this.#mapping!.state() !== 0;
  }

  /** Live entries. */
  get size(): number {
    this.#check();
    const count = () => {
      if (this.#mapping === null) this.#closed();
      const state = this.#header[W_STATE];
      const escaped = (state & STATE_ESCAPED) !== 0 ? 1 : 0;
      // Version 1 counts the escaped key in the state word; version 2 keeps slot entries apart,
      // and version 3 adds the count's high word (§16.2).
      if (this.#layout.major === 1) return state & STATE_V1_COUNT_MASK;
      const high = this.#layout.major === 3 ? this.#header[CELL_ENTRIES_HIGH / 4] * 2 ** 32 : 0;
      return this.#header[W_ENTRIES] + high + escaped;
    };
    const s1 = Atomics.load(this.#header, W_SEQ);
    const answer = count();
    return settle(this.#protocol, count, s1, Atomics.load(this.#header, W_SEQ), answer, this.#clock);
  }

  /**
   * The value stored for `key`, or undefined when it is absent, and for anything that is not an
   * integer from 0 to 4294967295 (no such key can be in the index: a Map answers the same).
   * Allocates nothing itself (a value of 2^31 or more is a heap number in V8 unless the call is
   * inlined; getMany never allocates).
   *
   * A closure over the current mapping rather than a method: a method reaching the mapping
   * through private fields measured nearly twice as slow per lookup at 10 M entries; the
   * closure is rebuilt when the index follows a replaced file, so call it as `ix.get(key)`.
   */
  declare readonly get: (key: K | Id) => V | undefined;

  /** True when `key` is in the index (false for anything that is not a uint32, as get). */
  declare readonly has: (key: K | Id) => boolean;

  /**
   * The value stored for `key`, or `fallback` when it is absent (or not a uint32), as
   * `get(key) ?? fallback`. With a number fallback (`getOr(key, -1)`: no uint32 is -1) the
   * answer is always a number, which V8 keeps unboxed in the caller's loop: no heap number for
   * values of 2^31 or more, and no undefined check.
   */
  declare readonly getOr: <T>(key: K | Id, fallback: T) => V | T;

  /**
   * The key and value widths (spec §16): 32 or 64 bits, of the file now at the path (a writer
   * that widened it replaced it: the reader follows first).
   */
  get keyBits(): 32 | 64 {
    this.#check();
    this.#followIfReplaced();
    return this.#layout.keyBits;
  }

  get valueBits(): 32 | 64 {
    this.#check();
    this.#followIfReplaced();
    return this.#layout.valueBits;
  }

  /** Installs get and has for the current mapping (or, closed, ones that throw). */
  #installLookups(): void {
    let get: (key: never) => Id | undefined;
    let getOr: <T>(key: never, fallback: T) => Id | T;
    let has: (key: never) => boolean;
    this.#retune = null;
    if (this.#mapping === null) {
      // Closed: every call says so (one function, made once).
      const closed = (this.#closedLookup ??= () => this.#closed());
      for (const name of ["get", "has", "getOr"]) Object.defineProperty(this, name, { value: closed, writable: false, configurable: true, enumerable: false });
      return;
    }
    const idWord = this.#identityWord();
    const check = (this.#fast = { idWord, id: this.#header[idWord], dead: this.#dead, closure: ++this.#closure });
    if (this.#layout.major === 3) {
      const region = this.#region;
      ({ get, getOr, has } = makeWideGet(this, this.#header, region.windows, region.windowSlots, this.#capacity, this.#reach, check,
        this.#layout.keyBits, this.#layout.valueBits));
    } else if (this.#region.windows.length === 1) {
      ({ get, getOr, has, retune: this.#retune } = makeGet(this, this.#header, this.#region.windows[0], this.#capacity, this.#reach * SLOT_WORDS, check));
    } else {
      ({ get, getOr, has, retune: this.#retune } = makeWindowedGet(this, this.#header, this.#region.windows, this.#region.windowSlots, this.#capacity, this.#reach * SLOT_WORDS, check));
    }
    // Non-writable own properties: V8 treats them as constants at call sites until replaced.
    Object.defineProperty(this, "get", { value: get, writable: false, configurable: true, enumerable: false });
    Object.defineProperty(this, "has", { value: has, writable: false, configurable: true, enumerable: false });
    Object.defineProperty(this, "getOr", { value: getOr, writable: false, configurable: true, enumerable: false });
  }

  /**
   * get() after its fast check failed: a write overlapped the probe, the file was retired, the
   * probe used up the reach it had (a writer may have raised it since), or the get was kept
   * from a mapping this reader has let go (`undecided`: probe again here).
   * @internal
   */
  slowGet(hash: number, s1: number, s2: number, value: number | undefined, undecided: boolean, closure: number): number | undefined {
    return this.#slowGet(unhash32(hash), s1, s2, value, undecided, closure) as number | undefined;
  }

  /**
   * slowGet for a version 3 file (lookups.ts makeWideGet): the hash word as two halves, at the
   * key width `keyBits` the get used. The slow path works from the key, not the hash: the file
   * it follows to may have other widths, whose hash of the key differs (§16.5).
   * @internal
   */
  slowGetWide(low: number, high: number, keyBits: 32 | 64, s1: number, s2: number, value: Id | undefined, undecided: boolean, closure: number): Id | undefined {
    const key = keyBits === 32 ? unhash32(low) : keyOfHash((BigInt(high) << 32n) | BigInt(low), 64);
    return this.#slowGet(key, s1, s2, value, undecided, closure);
  }

  #slowGet(key: Id, s1: number, s2: number, value: Id | undefined, undecided: boolean, closure: number): Id | undefined {
    if (this.#mapping === null) this.#closed();
    slowPathCount.lookups++;
    if (undecided || closure !== this.#closure) {
      s1 = Atomics.load(this.#header, W_SEQ);
      value = this.#probe(key);
      s2 = Atomics.load(this.#header, W_SEQ);
    }
    return settle(this.#protocol, () => this.#probe(key), s1, s2, value, this.#clock);
  }

  /** §5.3 for `key` on the current file, with no seq check; raises the reach it probes with when it must. */
  #probe(key: Id): Id | undefined {
    const header = this.#header;
    if (this.#mapping === null) this.#closed();
    const region = this.#region;
    const keyBits = this.#layout.keyBits;
    if (widthOf(key) > keyBits) return undefined;
    const hash = hashOfKey(key, keyBits);
    if (hash === region.empty) {
      if ((header[W_STATE] & STATE_ESCAPED) === 0) return undefined;
      return this.#layout.valueBits === 64 ? idFromWord((BigInt(header[W_ESCAPED_HIGH]) << 32n) | BigInt(header[W_ESCAPED])) : header[W_ESCAPED];
    }
    for (;;) {
      const s = findSlot(region, this.#capacity, this.#reach, hash);
      if (s >= 0) return idFromWord(region.valueAt(s));
      if (s !== UNDECIDED || !this.#raiseReach()) return undefined;
    }
  }

  /**
   * A probe used up its reach: take the larger one a writer stored since (version 2), or
   * measure the entries (version 1, §14). True when the reach grew.
   */
  #raiseReach(): boolean {
    const last = this.#slotCount - 1;
    let reach: number;
    if (this.#layout.major !== 1) {
      reach = Math.min(this.#header[W_REACH], last);
    } else {
      const seq = Atomics.load(this.#header, W_SEQ);
      if (this.#v1Measured === null) this.#v1Measured = { reach: measureReach(this.#region, this.#capacity), seq };
      // Each operation since moves an entry at most one slot further (seq counts two per operation).
      const since = ((seq - this.#v1Measured.seq) >>> 0) / 2;
      reach = Math.min(last, this.#v1Measured.reach + Math.ceil(since) + 1);
    }
    if (reach <= this.#reach) return false;
    this.#reach = reach;
    this.#retuneLookups();
    return true;
  }

  /**
   * Without the addon the index is a copy read at open, which no writer's change reaches. A timer
   * (which does not keep the process alive) looks at the path every COPY_WATCH_MS and reads the
   * file again when it changed: a copy follows while the event loop turns.
   */
  #watchCopy(): void {
    const ref = new WeakRef(this);
    const seen = (st: fs.Stats) => `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    let last = "";
    try {
      last = seen(fs.statSync(this.#file.now));
    } catch {
      // checked again on the first tick
    }
    const timer = setInterval(() => {
      const ix = ref.deref();
      if (ix === undefined || ix.#mapping === null) {
        clearInterval(timer);
        return;
      }
      let now: string;
      try {
        now = seen(fs.statSync(ix.#file.now));
      } catch {
        return;
      }
      if (now === last) return;
      try {
        ix.#attach();
        last = now;
      } catch {
        // not readable yet (being written): the next tick tries again
      }
    }, COPY_WATCH_MS);
    timer.unref();
  }

  /** Before a whole-file read (iteration, info, verify): the current file, if it was replaced. */
  #followIfReplaced(): void {
    if ((this.#header[W_STATE] & STATE_RETIRED) !== 0 || this.#mapping!.state() !== 0) {
      this.#lastFollow = -Infinity;
      this.#follow();
    }
  }

  /**
   * §11.7 follow(): maps the file now at the path, when the path names another file (retired
   * by §11.4, or renamed over, §11.8), or this mapping was lost (truncated) or its file was
   * rewritten in place. Looks at most once a millisecond, unless this process replaced a file
   * since it last looked (so it reads its own writes), or the watcher has just marked the mapping
   * moved. A lost, moved or rewritten file never answers (a moved one has the watcher's zero page
   * over its header and first slots): while the path holds no valid index, this throws. A
   * retired file still at its path whose lock nobody holds (its renamer died) is the index: its
   * seq is dead.
   */
  #follow(): boolean {
    const mapping = this.#mapping!;
    // The header before the state: the watcher raises the state before it maps its zero page
    // over the header, so a header changed under a state still 0 is the file's own change.
    const changed = this.#header[this.#idWord] !== this.#id;
    const state = mapping.state();
    const lost = state !== 0 || changed;
    const t = performance.now();
    const replacements = mapping.live ? replacementCount() : 0;
    // Marked moved by the watcher since the last look (a rename over the path, seen within the
    // millisecond): look now, rather than call a replaced file rewritten (a Python writer's
    // compactions beside a reader met this about once in ten 2.5 s runs). Once: a look that
    // failed leaves its error, thrown until the next.
    const moved = state === 1 && this.#lostError === null;
    if (t - this.#lastFollow < FOLLOW_EVERY_MS && replacements === this.#seenReplacements && !moved) {
      if (lost) throw this.#lostError ?? lostError(this.path, "it is being rewritten in place");
      return false;
    }
    this.#lastFollow = t;
    this.#seenReplacements = replacements;
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(this.#file.now);
    } catch {
      st = undefined;
    }
    if (st === undefined) {
      if (lost) throw (this.#lostError = lostError(this.path, "the path no longer exists"));
      return false; // no replacement yet: keep answering from this file, which no longer changes
    }
    if (!lost && state === 0 && st.ino === this.#ino && st.dev === this.#dev) {
      if (mapping.live && (this.#header[W_STATE] & STATE_RETIRED) !== 0 && t - this.#lastLockTest >= LOCK_TEST_EVERY_MS) {
        this.#lastLockTest = t;
        const seq = Atomics.load(this.#header, W_SEQ);
        if (writerHoldsLockAt(this.#file.now, this.#dev, this.#ino) === false) this.#markDead(seq);
      }
      return false;
    }
    try {
      this.#attach();
    } catch (e) {
      // The new file is not readable yet (a copy still being written): keep the old one if it
      // is intact, else say why there is no answer.
      if (lost) throw (this.#lostError = e instanceof IdxError ? lostError(this.path, e.message, e) : e);
      return false;
    }
    return true;
  }

  /**
   * Looks up every key of `keys` in one call. `values[i]` receives the value of `keys[i]`, or
   * `missing` (default 0) when it is absent; since every number is a valid value, pass `found`
   * to learn which keys were present (`found[i]` is 1 or 0). Returns the number found.
   * Allocates nothing, unless `values` or `found` shares memory with `keys` (allowed: the keys
   * are then copied first).
   *
   * Keys are a Uint32Array, or a BigUint64Array (for 64-bit keys; a key wider than the file's
   * keys is absent). Values are a Uint32Array when the index's values are 32-bit, a
   * BigUint64Array when they are 64-bit (`valueBits`; spec §16), and `missing` fits them.
   * @throws IdxError ERR_IDX_INVALID_ARGUMENT when `keys` or `values` is not such an array
   *   (values of the wrong width included: a writer that widened the values meanwhile makes
   *   a Uint32Array the wrong one), `found` not a Uint8Array, either output shorter than
   *   `keys`, or `missing` not a value.
   */
  getMany(keys: Uint32Array | BigUint64Array, values: Uint32Array, found?: Uint8Array, missing?: number): number;
  getMany(keys: Uint32Array | BigUint64Array, values: BigUint64Array, found?: Uint8Array, missing?: number | bigint): number;
  getMany(keys: Uint32Array | BigUint64Array, values: Uint32Array | BigUint64Array, found?: Uint8Array, missing: number | bigint = 0): number {
    this.#check();
    if (!(keys instanceof BigUint64Array)) checkUint32Array("keys", keys, 0, this.path);
    const n = keys.length;
    if (found !== undefined) checkUint8Array("found", found, n, this.path);
    const miss = this.#checkValues(values, n, missing);
    if (found !== undefined && overlaps(values, found)) {
      throw invalid("found and values must not share memory (each answer would overwrite another)", this.path,
        "Give found its own Uint8Array: new Uint8Array(keys.length).");
    }
    // An output sharing memory with `keys` would overwrite keys not yet answered, or needed
    // again when a chunk a write overlapped is answered anew: answer from a copy of them.
    if (overlaps(keys, values) || (found !== undefined && overlaps(keys, found))) keys = keys.slice();
    // §11.7 "A batch": every answer from one file. A follow part way starts it again.
    for (;;) {
      const generation = this.#generation;
      const hits = this.#layout.major !== 3 && keys instanceof Uint32Array
        ? this.#getManyOnce(keys, values as Uint32Array, found, miss as number)
        : this.#getManyWide(keys, values, found, miss);
      if (this.#generation === generation) return hits;
      this.#check();
      this.#checkValues(values, n, missing);
    }
  }

  /** `values` is the array of the file's value width, long enough; `missing` a value of it (as the array holds it). */
  #checkValues(values: unknown, n: number, missing: unknown): number | bigint {
    const wide = this.#layout.valueBits === 64;
    if (!wide && !(values instanceof Uint32Array)) {
      checkUint32Array("values", values, n, this.path);
    }
    if (wide && !(values instanceof BigUint64Array)) {
      throw invalid(`values must be a BigUint64Array: this index's values are 64-bit (spec §16), not ${describeValue(values)}`, this.path,
        "Allocate new BigUint64Array(keys.length); valueBits says the width.");
    }
    const length = (values as Uint32Array | BigUint64Array).length;
    if (length < n) throw invalid(`values holds ${length} elements, fewer than the ${n} keys`, this.path);
    if (!wide) return checkUint32("missing", missing, this.path);
    const m = idOf(missing);
    if (m === null) throw invalid(`missing must be an integer from 0 to 18446744073709551615 (a number up to 2^53 - 1, or a bigint), not ${describeValue(missing)}`, this.path);
    return BigInt(m);
  }

  /**
   * getMany of a version 3 file, or with BigUint64Array keys: through the addon's loop with
   * prefetch (as #getManyNative), else key by key.
   */
  #getManyWide(keys: Uint32Array | BigUint64Array, values: Uint32Array | BigUint64Array, found: Uint8Array | undefined, missing: number | bigint): number {
    const n = keys.length;
    const native = n >= CHUNK && this.#mapping!.live && this.#layout.major === 3 ? nativeAddon() : null;
    if (native === null) return this.#getManyKeyByKey(keys, values, found, missing, 0, n);
    const result = this.#nativeResult;
    let hits = 0;
    let from = 0;
    const generation = this.#generation;
    const layout = this.#layout;
    while (from < n) {
      native.getManyWide(this.#mapping!.id, this.#capacity, this.#slotCount, this.#reach, this.#dead, this.#id, layout.keyBits, layout.valueBits,
        keys, values, found ?? null, missing, from, n, result);
      hits += result[0];
      const stop = result[1];
      if (stop >= n) break;
      const end = stop + CHUNK < n ? stop + CHUNK : n;
      hits += this.#getManyKeyByKey(keys, values, found, missing, stop, end);
      if (this.#generation !== generation) return hits; // followed: the caller starts again
      from = end;
    }
    return hits;
  }

  /** keys[from..to) by get(), into values of either width. */
  #getManyKeyByKey(keys: Uint32Array | BigUint64Array, values: Uint32Array | BigUint64Array, found: Uint8Array | undefined, missing: number | bigint, from: number, to: number): number {
    let hits = 0;
    const get = this.get as (key: Id) => Id | undefined;
    const generation = this.#generation;
    for (let k = from; k < to && this.#generation === generation; k++) {
      const value = get(keys[k]);
      if (values instanceof BigUint64Array) values[k] = value === undefined ? (missing as bigint) : BigInt(value);
      else values[k] = value === undefined ? (missing as number) : (value as number);
      if (found !== undefined) found[k] = value === undefined ? 0 : 1;
      if (value !== undefined) hits++;
    }
    return hits;
  }

  #getManyOnce(keys: Uint32Array, values: Uint32Array, found: Uint8Array | undefined, missing: number): number {
    const n = keys.length;
    const native = n >= CHUNK && this.#mapping!.live ? nativeAddon() : null;
    if (native !== null) return this.#getManyNative(native, keys, values, found, missing);
    if (this.#region.windows.length > 1) return this.#getManyKeyByKey(keys, values, found, missing, 0, n);
    let hits = 0;
    const generation = this.#generation;
    for (let base = 0; base < n; base += CHUNK) {
      const end = base + CHUNK < n ? base + CHUNK : n;
      const chunk = probeChunk(this.#header, this.#region.windows[0], this.#capacity, this.#reach * SLOT_WORDS, this.#fastCheck(),
        keys, values, found, missing, base, end, CHUNK_HASHES, CHUNK_HOMES);
      if (this.#generation !== generation) return hits; // followed: the caller starts again
      hits += chunk >= 0 ? chunk : this.#getManyKeyByKey(keys, values, found, missing, base, end);
    }
    return hits;
  }

  /**
   * getMany through the addon, which probes with software prefetch. It stops before a chunk
   * that a write overlapped or whose probe used up its reach; that chunk is answered here key
   * by key (through the protocol, which follows a retired file), and the addon resumes.
   */
  #getManyNative(native: NativeAddon, keys: Uint32Array, values: Uint32Array, found: Uint8Array | undefined, missing: number): number {
    const n = keys.length;
    const result = this.#nativeResult;
    let hits = 0;
    let from = 0;
    const generation = this.#generation;
    while (from < n) {
      const m = this.#mapping!;
      native.getMany(m.id, this.#layout.headerBytes, this.#capacity, this.#slotCount, this.#reach, this.#dead, this.#id, keys, values,
        found ?? null, missing, from, n, result);
      hits += result[0];
      const stop = result[1];
      if (stop >= n) break;
      const end = stop + CHUNK < n ? stop + CHUNK : n;
      hits += this.#getManyKeyByKey(keys, values, found, missing, stop, end);
      if (this.#generation !== generation) return hits; // followed: the caller starts again
      from = end;
    }
    return hits;
  }

  /**
   * Every [key, value] pair, in slot order (by hash, not by key): the escaped key first. Not a
   * snapshot: while a writer changes the index, an entry it moves may be seen twice or not at
   * all (spec §5.5). When the index is replaced meanwhile (a writer's grow, a deploy), the
   * iteration goes on in the new file past the last entry it gave (slots are in hash order in
   * every file): each entry of the new file with a larger hash, once; in a new file of another
   * key width, from its start, skipping the keys given before (core/keys.ts KeysGiven). A file
   * rewritten in place or lost under it never gives another entry: the iteration throws
   * ERR_IDX_CORRUPT.
   */
  *entries(): IterableIterator<[K, V]> {
    this.#check();
    this.#followIfReplaced();
    const given = new KeysGiven();
    let escapedGiven = false;
    const escaped = this.#escapedEntry();
    if (escaped !== null) {
      escapedGiven = true;
      yield escaped as [K, V];
      if (this.#mapping === null) this.#closed();
    }
    let region = this.#region;
    let keyBits = this.#layout.keyBits;
    let after: Word = -1; // the hash of the last entry given
    for (let s = 0; s < region.slotCount; ) {
      const end = chunkEnd(s, region);
      // Slots s-1 .. end-1, copied between seq loads that show no write under way (§11.7): a
      // slot is never read half before and half after a write moves or empties it.
      const copy = this.#readQuietly(() => copySlots(region, s, end), sameBytes);
      let moved = this.#diverted() && this.#follow(); // replaced (or lost, which throws): nothing of that copy is given
      if (!moved) {
        const sw = region.slotWords;
        const wide = region.wideKeys;
        const wideValues = region.wideValues;
        for (let j = 1; j <= end - s; j++) {
          const hash = hashAtWord(copy, j * sw, wide);
          if (!isEntry(hashAtWord(copy, (j - 1) * sw, wide), hash, region.empty) || hash <= after) continue;
          after = hash;
          const key = keyOfHash(hash, keyBits);
          if (given.any && given.has(key)) continue;
          const v = j * sw + region.valueOffset;
          yield [key as K, idFromWord(wideValues ? hashAtWord(copy, v, true) : copy[v]) as V];
          // The caller ran: it may have closed the reader, or a lookup may have moved it to a
          // file that replaced this one. Go on in the new file past this entry.
          if (this.#mapping === null) this.#closed();
          if (this.#region !== region) {
            moved = true;
            break;
          }
        }
      }
      if (!moved) {
        s = end;
        continue;
      }
      region = this.#region;
      if (this.#layout.keyBits === keyBits) {
        s = after === -1 ? 0 : region.homeOf(after, this.#capacity);
        continue;
      }
      // Another key width: start over in the new file, past what was given.
      given.mark(keyBits, after, escapedGiven);
      keyBits = this.#layout.keyBits;
      after = -1;
      s = 0;
      const escaped = this.#escapedEntry();
      escapedGiven = escaped !== null && !given.has(escaped[0]);
      if (escapedGiven) {
        yield escaped as [K, V];
        if (this.#mapping === null) this.#closed();
      }
    }
  }

  /** The escaped key and its value (§5.1, §16.2), when the current file holds it. */
  #escapedEntry(): [Id, Id] | null {
    const header = this.#header;
    if ((header[W_STATE] & STATE_ESCAPED) === 0) return null;
    const low = header[W_ESCAPED];
    const value = this.#layout.valueBits === 64 ? idFromWord((BigInt(header[W_ESCAPED_HIGH]) << 32n) | BigInt(low)) : low;
    return [escapedKeyOf(this.#layout.keyBits), value];
  }

  /** quietRead (§11.7) of the current file, with this reader's stall clock. */
  #readQuietly<T>(read: () => T, same: (a: T, b: T) => boolean): T {
    const header = this.#header;
    return quietRead(read, this.#protocol, { retired: () => (header[W_STATE] & STATE_RETIRED) !== 0, clock: this.#clock, same });
  }

  /**
   * The header word the get closures compare with its value at open (lookups.ts FastCheck): the
   * header checksum (§11.7, §11.8), or, in the one file in 2^32 whose checksum is 0, a nonzero
   * word of the fixed header, so that the zero pages over a released mapping never pass.
   */
  #identityWord(): number {
    const header = this.#header;
    const layout = this.#layout;
    if (header[this.#idWord] !== 0) return this.#idWord;
    if (header[layout.slotCountOffset / 4] !== 0) return layout.slotCountOffset / 4;
    if (header[layout.capacityOffset / 4] !== 0) return layout.capacityOffset / 4;
    return 0; // the magic: never 0
  }

  /** What the fast paths compare besides an even seq (lookups.ts); made anew with the lookups, its dead kept by #retuneLookups. */
  #fastCheck(): FastCheck {
    return this.#fast;
  }

  /**
   * The entries, as dump prints them: text lines ("key\tvalue\n") or binary pairs at the file's
   * widths, in chunks of about 1 MiB, through the addon's formatting when it maps the file (a
   * 10 M-entry dump in about a second). Not a snapshot, and across a replaced file, as
   * entries() (a dump that meets another key width goes on with entries()).
   * @internal
   */
  *exportChunks(binary: boolean): IterableIterator<Uint8Array> {
    this.#check();
    this.#followIfReplaced();
    const out = new Uint8Array(1 << 20);
    const layout = this.#layout;
    const escaped = this.#escapedEntry();
    if (escaped !== null) yield out.slice(0, formatEntry(escaped[0], escaped[1], out, binary, layout));
    const result = new Float64Array(4);
    const marks = new BigUint64Array(3);
    let after: Word = -1; // the hash of the last entry given
    let previous: Word = this.#region.empty;
    for (let slot = 0; slot < this.#slotCount; ) {
      const mapping = this.#mapping!;
      const native = !binary && mapping.live ? nativeAddon() : null;
      const region = this.#region;
      // Each chunk formatted between seq loads that show no write (see #readQuietly).
      const chunk = this.#readQuietly(() => {
        if (native !== null && layout.major !== 3) {
          native.formatPairs(mapping.id, layout.headerBytes, this.#capacity, this.#slotCount, slot, previous as number, after as number, out, result);
          return { next: result[0], bytes: out.slice(0, result[1]), last: result[2] as Word, lastEntry: result[3] as Word };
        }
        if (native !== null) {
          marks[0] = BigInt(previous);
          marks[1] = after === -1 ? 0n : 1n;
          marks[2] = after === -1 ? 0n : BigInt(after);
          native.formatPairsWide(mapping.id, this.#capacity, this.#slotCount, layout.keyBits, layout.valueBits, slot, marks, out, result);
          const last = idOfHashWord(marks[0], layout.keyBits);
          return { next: result[0], bytes: out.slice(0, result[1]), last, lastEntry: marks[1] === 0n ? -1 : idOfHashWord(marks[2], layout.keyBits) };
        }
        const end = chunkEnd(slot, region);
        const copy = copySlots(region, slot, end);
        const sw = region.slotWords;
        const [i, bytes, last, lastEntry] = formatEntries(copy, sw, copy.length, hashAtWord(copy, 0, region.wideKeys), out, binary, after, layout);
        return { next: slot + (i - sw) / sw, bytes: out.slice(0, bytes), last, lastEntry };
      }, (a, b) => a.next === b.next && sameBytes(a.bytes, b.bytes));
      if (this.#diverted() && this.#follow()) {
        if (this.#layout.keyBits !== layout.keyBits || this.#layout.valueBits !== layout.valueBits) {
          // Another layout: the rest of the dump as entries() gives it, skipping what was given.
          yield* this.#exportRest(layout, after, escaped !== null, binary, out);
          return;
        }
        slot = after === -1 ? 0 : this.#region.homeOf(after, this.#capacity);
        previous = slot === 0 ? this.#region.empty : this.#region.hashAt(slot - 1);
        continue;
      }
      slot = chunk.next;
      previous = chunk.last;
      if (chunk.lastEntry !== -1) after = chunk.lastEntry;
      yield chunk.bytes;
      this.#check();
    }
  }

  /**
   * A dump that met a file of other widths: the new file's entries not given yet, formatted at
   * the widths the dump started with (a binary dump's records keep one size; a value or key
   * that no longer fits them ends the dump with ERR_IDX_CORRUPT rather than a wrong record).
   */
  *#exportRest(layout: Layout, after: Word, escapedGiven: boolean, binary: boolean, out: Uint8Array): IterableIterator<Uint8Array> {
    const given = new KeysGiven();
    given.mark(layout.keyBits, after, escapedGiven);
    let n = 0;
    for (const [key, value] of this.entries()) {
      if (given.has(key)) continue;
      if (widthOf(key) > layout.keyBits || widthOf(value) > layout.valueBits) {
        throw new IdxError("ERR_IDX_CORRUPT", `the index was replaced during the dump by one with wider keys or values (${this.#layout.keyBits}/${this.#layout.valueBits} bits), which the pairs already written at ${layout.keyBits}/${layout.valueBits} bits cannot hold`, {
          path: this.path, hint: "Dump it again.",
        });
      }
      if (n + MAX_LINE > out.length) {
        yield out.slice(0, n);
        n = 0;
      }
      n += formatEntry(key, value, out.subarray(n), binary, layout);
    }
    if (n > 0) yield out.slice(0, n);
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

  forEach(callback: (value: V, key: K, index: IdIndex<K, V>) => void): void {
    if (typeof callback !== "function") throw invalid(`callback must be a function, not ${describeValue(callback)}`, this.path);
    for (const [key, value] of this.entries()) callback(value, key, this);
  }

  /** The header's numbers, as `idx info` prints them. O(1). */
  info(): IndexInfo {
    return this.#ofCurrentFile((m) => describeHeader(this.path, headerOf(m, this.path), m.size, m.live ? "mapped" : "copied"));
  }

  /**
   * `read` of the current file: followed first if it was replaced, and again if it was replaced
   * (or lost) while `read` ran, whose result then stands for nothing (it may have read the zero
   * page the watcher maps over a replaced file's header).
   */
  #ofCurrentFile<T>(read: (m: Mapping) => T): T {
    for (;;) {
      this.#check();
      this.#followIfReplaced();
      const m = this.#mapping!;
      let result: T;
      try {
        result = read(m);
      } catch (e) {
        if (m.state() === 0) throw e;
        continue;
      }
      if (m.state() === 0 || this.#mapping !== m) return result;
    }
  }

  /**
   * The full check of spec/FORMAT.md §9.2: every checksum and every table invariant. Reads the
   * whole file: O(file size), unlike open().
   */
  verify(): VerifyReport {
    return this.#ofCurrentFile((m) => verifyMapping(m, this.path));
  }

  /**
   * Releases the index and its mapping now: the file is let go (its disk space, if it was
   * deleted, comes back once no other reader holds it). Later calls throw ERR_IDX_CLOSED.
   */
  close(): void {
    this.#mapping?.release();
    this.#mapping = null;
    this.#holder.mapping = null;
    dropped.unregister(this.#holder);
    this.#header = EMPTY_WORDS;
    this.#region = SlotRegion.of(EMPTY_WORDS.subarray(0, 0));
    this.#installLookups();
  }

  /** close(): `using ix = IdIndex.open(path)` closes it at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }

  get closed(): boolean {
    return this.#mapping === null;
  }

  toString(): string {
    return this.#mapping === null ? `IdIndex(${this.path}, closed)` : `IdIndex(${this.path}, ${this.size} entries)`;
  }

  #check(): void {
    if (this.#mapping === null) this.#closed();
  }

  #closed(): never {
    throw new IdxError("ERR_IDX_CLOSED", "the index is closed", { path: this.path, hint: "Open it again with IdIndex.open()." });
  }
}

function lostError(path: string, why: string, cause?: unknown): IdxError {
  return new IdxError("ERR_IDX_CORRUPT", `the index file was truncated or rewritten in place while it was open, and cannot be reopened: ${why}`, {
    path, cause,
    hint: "Something wrote over the live file (cp over it, say). Deploy a new index with `idx cp NEW FILE` or a rename (mv), which readers follow.",
  });
}
