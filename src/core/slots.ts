/**
 * The slot region in memory: one Uint32Array of words for every file up to a window's slots,
 * and overlapping windows past it. A slot is two words (hash, value: versions 1 and 2), or
 * version 3's packed hash word and value (§16.1): three words (64/32: hash low, hash high,
 * value; 32/64: hash, value low, value high) or four (64/64).
 *
 * Why windows: a typed array holds at most 2^32 elements on Node 20 (16 GiB of words), the
 * addon makes views of at most 3 GiB, and indexes below 2^31 keep V8's fast integer paths; a
 * file may hold 2^33 slots (§8), or 2^40 (§16.4). A window is the largest power of two of slots
 * in 2 GiB: 2^28 slots of 8 bytes, 2^27 of 12 or 16.
 * Window k starts at slot k * windowSlots and runs OVERLAP_SLOTS past the next window's start,
 * so a probe of at most reach + 1 slots (§5.3) that starts in window k stays inside it whenever
 * reach < OVERLAP_SLOTS; a longer one takes the slow path that walks across windows.
 *
 * Hashes and values are numbers, or bigints where their width is 64 bits: `<` and `===` compare
 * both exactly, so the table's rules (core/table.ts) are written once for every width.
 */
import { EMPTY_HASH, EMPTY_HASH_64, LAYOUT_V2, Layout, SLOT_WORDS } from "./format";
import { homeSlot } from "./hash";

export const SEGMENT_BYTES = 2 ** 31;
export const SEGMENT_SLOTS = SEGMENT_BYTES / 8;
export const OVERLAP_SLOTS = 2 ** 17;

/** A window's slots for a layout: the largest power of two of them in 2 GiB. */
export function segmentSlots(layout: Layout): number {
  return 2 ** Math.floor(Math.log2(SEGMENT_BYTES / layout.slotBytes));
}

/** How far windows of `windowSlots` overlap: OVERLAP_SLOTS, or a quarter of a smaller window. */
export function overlapFor(windowSlots: number): number {
  return Math.min(OVERLAP_SLOTS, windowSlots / 4);
}

/** How many windows a region of `slotCount` slots has, and where window k ends (exclusive). */
export function windowCount(slotCount: number, windowSlots = SEGMENT_SLOTS): number {
  return Math.max(1, Math.ceil(slotCount / windowSlots));
}

export function windowEnd(slotCount: number, k: number, windowSlots = SEGMENT_SLOTS): number {
  return Math.min(slotCount, (k + 1) * windowSlots + overlapFor(windowSlots));
}

/** A hash word or a value: a number, or a bigint where its width is 64 bits. */
export type Word = number | bigint;

/**
 * How a writer stores into slots, when a region's memory is a mapping it writes: each store one
 * write of the whole slot (one store instruction; a value alone, one store of its width), made
 * without allocating (see native/write.c). The words come split into uint32s, low first,
 * before the operation's bracket opens (§11.2: nothing allocates inside it).
 */
export interface SlotStores {
  store(s: number, words: ArrayLike<number>): void;
  copy(to: number, from: number): void;
  storeValue(s: number, low: number, high: number): void;
}

export class SlotRegion {
  readonly slotCount: number;
  /**
   * Slots a window starts apart: 2 GiB of slots, or a smaller power of two (at least a block, so
   * no checksum block straddles two windows) for tests of files past 2 GiB.
   */
  readonly windowSlots: number;
  /** windows[k] holds slots k * windowSlots .. windowEnd(slotCount, k, windowSlots) - 1. */
  readonly windows: readonly Uint32Array[];
  /** uint32 words a slot: 2, 3 or 4 (§16.1), and the word the value starts at. */
  readonly slotWords: 2 | 3 | 4;
  readonly valueOffset: 1 | 2;
  /** Slots a checksum block (§6, §16.1). */
  readonly slotsPerBlock: number;
  /** The hash word is 64 bits (a bigint here), the value is 64 bits (a bigint here). */
  readonly wideKeys: boolean;
  readonly wideValues: boolean;
  /** §5.1: the hash word of an empty slot, at the key width. */
  readonly empty: Word;
  readonly #wide: (BigUint64Array | undefined)[] = [];
  #stores: SlotStores | null = null;

  constructor(slotCount: number, windows: readonly Uint32Array[], windowSlots = SEGMENT_SLOTS, layout: Layout = LAYOUT_V2) {
    if (windowSlots < layout.slotsPerBlock || (windowSlots & (windowSlots - 1)) !== 0 || windowSlots > segmentSlots(layout)) {
      throw new RangeError(`windows must be a power of two of ${layout.slotsPerBlock} to ${segmentSlots(layout)} slots, not ${windowSlots}`);
    }
    if (windows.length !== windowCount(slotCount, windowSlots)) {
      throw new RangeError(`a region of ${slotCount} slots needs ${windowCount(slotCount, windowSlots)} windows, got ${windows.length}`);
    }
    for (let k = 0; k < windows.length; k++) {
      const slots = windowEnd(slotCount, k, windowSlots) - k * windowSlots;
      if (windows[k].length !== slots * layout.slotWords) {
        throw new RangeError(`window ${k} must hold ${slots} slots, holds ${windows[k].length / layout.slotWords}`);
      }
    }
    this.slotCount = slotCount;
    this.windowSlots = windowSlots;
    this.windows = windows;
    this.slotWords = layout.slotWords;
    this.valueOffset = layout.valueOffset;
    this.slotsPerBlock = layout.slotsPerBlock;
    this.wideKeys = layout.keyBits === 64;
    this.wideValues = layout.valueBits === 64;
    this.empty = this.wideKeys ? EMPTY_HASH_64 : EMPTY_HASH;
  }

  /** A region held in one array (every file of at most one window of slots). */
  static of(words: Uint32Array, layout: Layout = LAYOUT_V2): SlotRegion {
    return new SlotRegion(words.length / layout.slotWords, [words], segmentSlots(layout), layout);
  }

  /** Routes the stores below through `stores` (a writer's mapping). */
  useStores(stores: SlotStores): void {
    this.#stores = stores;
  }

  /** The window holding slot `s` as its own (not in its overlap). */
  windowOf(s: number): number {
    return s < this.windowSlots ? 0 : Math.floor(s / this.windowSlots);
  }

  /** The word index of slot `s` in its window `windowOf(s)`. */
  wordOf(s: number): number {
    return (s - this.windowOf(s) * this.windowSlots) * this.slotWords;
  }

  /** The hash word's low 32 bits (all of it for 32-bit keys). */
  hashWord(s: number): number {
    return this.windows[this.windowOf(s)][this.wordOf(s)];
  }

  /** The value's low 32 bits (all of it for 32-bit values). */
  valueWord(s: number): number {
    return this.windows[this.windowOf(s)][this.wordOf(s) + this.valueOffset];
  }

  /** The hash word, whole. */
  hashAt(s: number): Word {
    const w = this.windows[this.windowOf(s)];
    const i = this.wordOf(s);
    return this.wideKeys ? (BigInt(w[i + 1]) << 32n) | BigInt(w[i]) : w[i];
  }

  /** The value, whole. */
  valueAt(s: number): Word {
    const w = this.windows[this.windowOf(s)];
    const i = this.wordOf(s) + this.valueOffset;
    return this.wideValues ? (BigInt(w[i + 1]) << 32n) | BigInt(w[i]) : w[i];
  }

  /** §4, §16.3: the home slot of a hash word of this region's width. */
  homeOf(hash: Word, capacity: number): number {
    return typeof hash === "bigint" ? homeSlot(Number(hash >> 32n), capacity) : homeSlot(hash, capacity);
  }

  /** The words a slot holding (hash, value) stores, low first: what SlotStores.store takes. */
  slotWordsOf(hash: Word, value: Word, into: number[] = new Array<number>(this.slotWords)): number[] {
    const v = this.valueOffset;
    into[0] = low32(hash);
    if (this.wideKeys) into[1] = high32(hash);
    into[v] = low32(value);
    if (this.wideValues) into[v + 1] = high32(value);
    return into;
  }

  /** Stores (hash, value), split by slotWordsOf, into slot `s` with one whole-slot write. */
  storeSlot(s: number, words: ArrayLike<number>): void {
    if (this.#stores !== null) return this.#stores.store(s, words);
    const w = this.windows[this.windowOf(s)];
    const i = this.wordOf(s);
    if (this.slotWords === SLOT_WORDS) {
      Atomics.store(this.#wideOf(this.windowOf(s)), i / 2, (BigInt(words[1] >>> 0) << 32n) | BigInt(words[0] >>> 0));
      return;
    }
    for (let j = 0; j < this.slotWords; j++) w[i + j] = words[j];
  }

  /** Stores slot `to` := slot `from` (adjacent slots) with one whole-slot write. */
  copySlot(to: number, from: number): void {
    if (this.#stores !== null) return this.#stores.copy(to, from);
    const k = this.windowOf(to < from ? to : from);
    const base = k * this.windowSlots;
    if (this.slotWords === SLOT_WORDS) {
      const wide = this.#wideOf(k);
      Atomics.store(wide, to - base, Atomics.load(wide, from - base));
      return;
    }
    const w = this.windows[k];
    w.copyWithin((to - base) * this.slotWords, (from - base) * this.slotWords, (from - base + 1) * this.slotWords);
  }

  /** Stores slot `s`'s value alone (one write of its width): an overwrite in place (§11.3). */
  storeValue(s: number, low: number, high: number): void {
    if (this.#stores !== null) return this.#stores.storeValue(s, low, high);
    const w = this.windows[this.windowOf(s)];
    const i = this.wordOf(s) + this.valueOffset;
    Atomics.store(w, i, low);
    if (this.wideValues) Atomics.store(w, i + 1, high);
  }

  #wideOf(k: number): BigUint64Array {
    let wide = this.#wide[k];
    if (wide === undefined) {
      const w = this.windows[k];
      wide = new BigUint64Array(w.buffer, w.byteOffset, w.length / 2);
      this.#wide[k] = wide;
    }
    return wide;
  }

  /**
   * Calls `visit(words, from, to, base)` for each window's own slots in order (from and to are
   * word indexes into `words`, a slot each slotWords; base is the slot number of words[0]), so
   * a scan of every slot is plain loops over arrays, each slot visited once.
   */
  forEachRun(visit: (words: Uint32Array, from: number, to: number, base: number) => void): void {
    for (let k = 0; k < this.windows.length; k++) {
      const base = k * this.windowSlots;
      const own = Math.min(this.slotCount, base + this.windowSlots) - base;
      visit(this.windows[k], 0, own * this.slotWords, base);
    }
  }
}

/** The hash word of the slot at word index `i` of `words`: a number, or a bigint for 64-bit keys. */
export function hashAtWord(words: Uint32Array, i: number, wideKeys: boolean): Word {
  return wideKeys ? (BigInt(words[i + 1]) << 32n) | BigInt(words[i]) : words[i];
}

/** The low and high 32 bits of a hash word, value or key (a number: a safe integer). */
export function low32(x: Word): number {
  return typeof x === "number" ? x % 2 ** 32 : Number(x & 0xffffffffn);
}

export function high32(x: Word): number {
  return typeof x === "number" ? Math.floor(x / 2 ** 32) : Number(x >> 32n);
}
