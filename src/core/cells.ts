/**
 * The header cells of spec/FORMAT.md §3 and §14 as a writer changes them: each cell is its word
 * and its check, stored together in one 8-byte store so that no crash can leave them apart. The
 * two versions keep the entry count and the dirty range differently; this class is where that
 * difference lives. Pure: the bytes are reached through a CellStore (os/cell-stores.ts has one
 * over a writable mapping, through the addon, and one over a file descriptor, with pwrite).
 */
import {
  CELL_DIRTY_COUNT, CELL_DIRTY_FIRST, CELL_DIRTY_V1, CELL_ENTRIES, CELL_ENTRIES_HIGH, CELL_ESCAPED, CELL_ESCAPED_HIGH, CELL_REACH, CELL_SEQ,
  CELL_STATE, DIRTY_V1_FIRST_BITS, DIRTY_V1_FIRST_MASK, Layout, STATE_ESCAPED, STATE_RETIRED, STATE_V1_COUNT_MASK,
  dirtyWordV1,
} from "./format";
import { Word } from "./slots";

/** Where the cells are: loads and stores of whole cells at their byte offsets (§3). */
export interface CellStore {
  /** The word of the cell at `offset`, loaded now. */
  load(offset: number): number;
  /** The cell at `offset` := `word` and its check, in one 8-byte store. */
  store(offset: number, word: number): void;
}

/** §11.4, §11.6: a seq no reader has seen, odd: `seq + 1` if even, `seq + 2` if odd. */
export function freshOddSeq(seq: number): number {
  return (seq + ((seq & 1) === 1 ? 2 : 1)) >>> 0;
}

/** §11.4: the state word of a retired file: as it was, plus RETIRED (every other bit kept). */
export function retiredState(state: number): number {
  return (state | STATE_RETIRED) >>> 0;
}

export class HeaderCells {
  readonly #store: CellStore;
  readonly #v1: boolean;
  readonly #v3: boolean;
  /** §16.2: the escaped key's value has a high word (64-bit values). */
  readonly #wideValues: boolean;

  constructor(store: CellStore, layout: Layout) {
    this.#store = store;
    this.#v1 = layout.major === 1;
    this.#v3 = layout.major === 3;
    this.#wideValues = layout.valueBits === 64;
  }

  get seq(): number {
    return this.#store.load(CELL_SEQ);
  }

  get state(): number {
    return this.#store.load(CELL_STATE);
  }

  get escapedPresent(): boolean {
    return (this.state & STATE_ESCAPED) !== 0;
  }

  /** The escaped key's value: a number, or a bigint for 64-bit values (§16.2). */
  get escapedValue(): Word {
    const low = this.#store.load(CELL_ESCAPED);
    return this.#wideValues ? (BigInt(this.#store.load(CELL_ESCAPED_HIGH)) << 32n) | BigInt(low) : low;
  }

  get retired(): boolean {
    return (this.state & STATE_RETIRED) !== 0;
  }

  /** Entries in slots (the escaped key not counted). */
  get entries(): number {
    if (this.#v3) return this.#store.load(CELL_ENTRIES) + this.#store.load(CELL_ENTRIES_HIGH) * 2 ** 32;
    if (!this.#v1) return this.#store.load(CELL_ENTRIES);
    return (this.state & STATE_V1_COUNT_MASK) - (this.escapedPresent ? 1 : 0);
  }

  /** The reach readers probe with (version 1 records none: undefined). */
  get reach(): number | undefined {
    return this.#v1 ? undefined : this.#store.load(CELL_REACH);
  }

  get dirty(): { first: number; count: number } {
    if (this.#v1) {
      const w = this.#store.load(CELL_DIRTY_V1);
      return { first: w & DIRTY_V1_FIRST_MASK, count: w >>> DIRTY_V1_FIRST_BITS };
    }
    return { first: this.#store.load(CELL_DIRTY_FIRST), count: this.#store.load(CELL_DIRTY_COUNT) };
  }

  /** §11.2 steps 1 and 5: seq + 1. */
  bumpSeq(): void {
    this.#store.store(CELL_SEQ, (this.seq + 1) >>> 0);
  }

  /** A fresh odd seq, one no reader has seen (§11.4, §11.6). */
  freshOddSeq(): void {
    this.#store.store(CELL_SEQ, freshOddSeq(this.seq));
  }

  /** §11.2 step 2: first the first block, then the count, so a crash between leaves no range. */
  setDirty(first: number, count: number): void {
    if (this.#v1) {
      this.#store.store(CELL_DIRTY_V1, dirtyWordV1(first, count));
      return;
    }
    this.#store.store(CELL_DIRTY_FIRST, first);
    this.#store.store(CELL_DIRTY_COUNT, count);
  }

  /** §11.2 step 4: dirtyCount 0 (dirtyFirst keeps its word: with no blocks it means nothing). */
  clearDirty(): void {
    this.#store.store(this.#v1 ? CELL_DIRTY_V1 : CELL_DIRTY_COUNT, 0);
  }

  /** §11.2 step 2: a larger reach, before any entry moves further from its home (version 2). */
  raiseReach(reach: number): void {
    if (!this.#v1 && reach > this.#store.load(CELL_REACH)) this.#store.store(CELL_REACH, reach);
  }

  /** The entry count after an insert or delete in slots (§11.2 step 3). */
  setEntries(entries: number): void {
    if (this.#v1) return this.#writeState(entries + (this.escapedPresent ? 1 : 0), this.escapedPresent, this.retired);
    this.#store.store(CELL_ENTRIES, entries % 2 ** 32);
    // §16.2: the high word only when it changes (a count crossing a multiple of 2^32).
    const high = Math.floor(entries / 2 ** 32);
    if (this.#v3 && this.#store.load(CELL_ENTRIES_HIGH) !== high) this.#store.store(CELL_ENTRIES_HIGH, high);
  }

  /** §11.3, §16.2: the escaped key set: its value first (low word, then high), then the state. */
  setEscaped(low: number, high = 0): void {
    const wasPresent = this.escapedPresent;
    this.#store.store(CELL_ESCAPED, low);
    if (this.#wideValues) this.#store.store(CELL_ESCAPED_HIGH, high);
    if (!wasPresent) this.#writeState(this.entries + 1, true, this.retired);
  }

  /** §11.3: the escaped key deleted: the state first, then its value cells back to 0. */
  clearEscaped(): void {
    this.#writeState(this.entries, false, this.retired);
    this.#store.store(CELL_ESCAPED, 0);
    if (this.#wideValues) this.#store.store(CELL_ESCAPED_HIGH, 0);
  }

  /** §11.4: RETIRED (every other bit kept), then a fresh odd seq that sends readers to their slow path. */
  retire(): void {
    this.#store.store(CELL_STATE, retiredState(this.state));
    this.freshOddSeq();
  }

  /** Takes RETIRED back (a swap that did not happen, §11.6). Seq is the caller's. */
  unretire(): void {
    this.#store.store(CELL_STATE, (this.state & ~STATE_RETIRED) >>> 0);
  }

  /** The state cell: `count` (version 1 only: the live entries, escaped key included) and bits. */
  #writeState(count: number, escaped: boolean, retired: boolean): void {
    const bits = (escaped ? STATE_ESCAPED : 0) | (retired ? STATE_RETIRED : 0);
    this.#store.store(CELL_STATE, ((this.#v1 ? count : 0) | bits) >>> 0);
  }
}
