/**
 * The slot region in memory: one Uint32Array of words (hash, value, hash, value, ...) for every
 * file up to SEGMENT_SLOTS slots, and overlapping windows of that many slots past it.
 *
 * Why windows: a typed array holds at most 2^32 elements on Node 20 (16 GiB of words), and
 * indexes below 2^31 keep V8's fast integer paths; a version 2 file may hold 2^33 slots (§8).
 * Window k starts at slot k * SEGMENT_SLOTS and runs OVERLAP_SLOTS past the next window's start,
 * so a probe of at most reach + 1 slots (§5.3) that starts in window k stays inside it whenever
 * reach < OVERLAP_SLOTS; a longer one takes the slow path that walks across windows.
 */
import { SLOT_WORDS } from "./format";

export const SEGMENT_SLOTS = 2 ** 28;
export const OVERLAP_SLOTS = 2 ** 17;

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

/**
 * How a writer stores into slots, when a region's memory is a mapping it writes: each store one
 * aligned 8-byte write (a value alone, 4 bytes), made without allocating (see native/write.c).
 */
export interface SlotStores {
  store(s: number, hash: number, value: number): void;
  copy(to: number, from: number): void;
  storeValue(s: number, value: number): void;
}

export class SlotRegion {
  readonly slotCount: number;
  /**
   * Slots a window starts apart: SEGMENT_SLOTS, or a smaller power of two (at least a block of
   * 512 slots, so no checksum block straddles two windows) for tests of files past 2 GiB.
   */
  readonly windowSlots: number;
  /** windows[k] holds slots k * windowSlots .. windowEnd(slotCount, k, windowSlots) - 1. */
  readonly windows: readonly Uint32Array[];
  readonly #wide: (BigUint64Array | undefined)[] = [];
  #stores: SlotStores | null = null;

  constructor(slotCount: number, windows: readonly Uint32Array[], windowSlots = SEGMENT_SLOTS) {
    if (windowSlots < 512 || (windowSlots & (windowSlots - 1)) !== 0 || windowSlots > SEGMENT_SLOTS) {
      throw new RangeError(`windows must be a power of two of 512 to ${SEGMENT_SLOTS} slots, not ${windowSlots}`);
    }
    if (windows.length !== windowCount(slotCount, windowSlots)) {
      throw new RangeError(`a region of ${slotCount} slots needs ${windowCount(slotCount, windowSlots)} windows, got ${windows.length}`);
    }
    for (let k = 0; k < windows.length; k++) {
      const slots = windowEnd(slotCount, k, windowSlots) - k * windowSlots;
      if (windows[k].length !== slots * SLOT_WORDS) {
        throw new RangeError(`window ${k} must hold ${slots} slots, holds ${windows[k].length / SLOT_WORDS}`);
      }
    }
    this.slotCount = slotCount;
    this.windowSlots = windowSlots;
    this.windows = windows;
  }

  /** A region held in one array (every file of at most SEGMENT_SLOTS slots). */
  static of(words: Uint32Array): SlotRegion {
    return new SlotRegion(words.length / SLOT_WORDS, [words]);
  }

  /** Routes the stores below through `stores` (a writer's mapping). */
  useStores(stores: SlotStores): void {
    this.#stores = stores;
  }

  /** The window holding slot `s` as its own (not in its overlap). */
  windowOf(s: number): number {
    return s < this.windowSlots ? 0 : Math.floor(s / this.windowSlots);
  }

  hashWord(s: number): number {
    const k = this.windowOf(s);
    return this.windows[k][(s - k * this.windowSlots) * SLOT_WORDS];
  }

  valueWord(s: number): number {
    const k = this.windowOf(s);
    return this.windows[k][(s - k * this.windowSlots) * SLOT_WORDS + 1];
  }

  /** Stores (hash, value) into slot `s` in one 8-byte write; hash is the low word (little-endian). */
  storeSlot(s: number, hash: number, value: number): void {
    if (this.#stores !== null) return this.#stores.store(s, hash, value);
    const k = this.windowOf(s);
    Atomics.store(this.#wideOf(k), s - k * this.windowSlots, (BigInt(value >>> 0) << 32n) | BigInt(hash >>> 0));
  }

  /** Stores slot `to` := slot `from` (adjacent slots) in one 8-byte write. */
  copySlot(to: number, from: number): void {
    if (this.#stores !== null) return this.#stores.copy(to, from);
    const k = this.windowOf(to < from ? to : from);
    const wide = this.#wideOf(k);
    const base = k * this.windowSlots;
    Atomics.store(wide, to - base, Atomics.load(wide, from - base));
  }

  /** Stores slot `s`'s value word alone (one 4-byte write): an overwrite in place (§11.3). */
  storeValue(s: number, value: number): void {
    if (this.#stores !== null) return this.#stores.storeValue(s, value);
    const k = this.windowOf(s);
    Atomics.store(this.windows[k], (s - k * this.windowSlots) * SLOT_WORDS + 1, value);
  }

  #wideOf(k: number): BigUint64Array {
    let wide = this.#wide[k];
    if (wide === undefined) {
      const w = this.windows[k];
      wide = new BigUint64Array(w.buffer, w.byteOffset, w.length / SLOT_WORDS);
      this.#wide[k] = wide;
    }
    return wide;
  }

  /**
   * Calls `visit(words, from, to, base)` for each window's own slots in order (from and to are
   * word indexes into `words`; base is the slot number of words[0]), so a scan of every slot
   * is plain loops over arrays, each slot visited once.
   */
  forEachRun(visit: (words: Uint32Array, from: number, to: number, base: number) => void): void {
    for (let k = 0; k < this.windows.length; k++) {
      const base = k * this.windowSlots;
      const own = Math.min(this.slotCount, base + this.windowSlots) - base;
      visit(this.windows[k], 0, own * SLOT_WORDS, base);
    }
  }
}
