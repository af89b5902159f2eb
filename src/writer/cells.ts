/**
 * Stores into the header cells of a mapped file (spec/FORMAT.md §3, §14): each cell is its word
 * and its check, written together in one 8-byte store so that no crash can leave them apart.
 * The two versions keep the entry count and the dirty range differently; this class is where
 * that difference lives for the writer.
 */
import {
  CELL_DIRTY_COUNT, CELL_DIRTY_FIRST, CELL_DIRTY_V1, CELL_ENTRIES, CELL_ESCAPED, CELL_REACH, CELL_SEQ, CELL_STATE,
  DIRTY_V1_FIRST_BITS, DIRTY_V1_FIRST_MASK, Layout, STATE_ESCAPED, STATE_RETIRED, STATE_V1_COUNT_MASK, W_ENTRIES,
  W_ESCAPED, W_REACH, W_SEQ, W_STATE, dirtyWordV1,
} from "../core/format";
import { Mapping } from "../os/mapping";
import { NativeAddon } from "../os/native";

export class HeaderCells {
  readonly words: Uint32Array;
  readonly #addon: NativeAddon;
  readonly #id: number;
  readonly #v1: boolean;

  /** `words` views the mapped header; stores go through the addon (nothing allocated). */
  constructor(words: Uint32Array, layout: Layout, addon: NativeAddon, mapping: Mapping) {
    this.words = words;
    this.#addon = addon;
    this.#id = mapping.id;
    this.#v1 = layout.major === 1;
  }

  /** The cell at `offset` := word, with its check, in one 8-byte store (the check computed in C). */
  write(offset: number, word: number): void {
    this.#addon.storeCell(this.#id, offset, word | 0);
  }

  get seq(): number {
    return this.words[W_SEQ];
  }

  get escapedPresent(): boolean {
    return (this.words[W_STATE] & STATE_ESCAPED) !== 0;
  }

  get escapedValue(): number {
    return this.words[W_ESCAPED];
  }

  get retired(): boolean {
    return (this.words[W_STATE] & STATE_RETIRED) !== 0;
  }

  /** Entries in slots (the escaped key not counted). */
  get entries(): number {
    if (!this.#v1) return this.words[W_ENTRIES];
    return (this.words[W_STATE] & STATE_V1_COUNT_MASK) - (this.escapedPresent ? 1 : 0);
  }

  /** The reach readers probe with (version 1 records none: undefined). */
  get reach(): number | undefined {
    return this.#v1 ? undefined : this.words[W_REACH];
  }

  get dirty(): { first: number; count: number } {
    if (this.#v1) {
      const w = this.words[CELL_DIRTY_V1 / 4];
      return { first: w & DIRTY_V1_FIRST_MASK, count: w >>> DIRTY_V1_FIRST_BITS };
    }
    return { first: this.words[CELL_DIRTY_FIRST / 4], count: this.words[CELL_DIRTY_COUNT / 4] };
  }

  /** §11.2 step 2 and step 5: seq + 1. */
  bumpSeq(): void {
    this.write(CELL_SEQ, (this.seq + 1) >>> 0);
  }

  /** A fresh odd seq, one no reader has seen (§11.4, §11.6). */
  freshOddSeq(): void {
    this.write(CELL_SEQ, (this.seq + ((this.seq & 1) === 1 ? 2 : 1)) >>> 0);
  }

  /** §11.2 step 1: first the first block, then the count, so a crash between leaves no range. */
  setDirty(first: number, count: number): void {
    if (this.#v1) {
      this.write(CELL_DIRTY_V1, dirtyWordV1(first, count));
      return;
    }
    this.write(CELL_DIRTY_FIRST, first);
    this.write(CELL_DIRTY_COUNT, count);
  }

  clearDirty(): void {
    this.write(this.#v1 ? CELL_DIRTY_V1 : CELL_DIRTY_COUNT, 0);
  }

  /** §11.2 step 1: a larger reach, before any entry moves further from its home (version 2). */
  raiseReach(reach: number): void {
    if (!this.#v1 && reach > this.words[W_REACH]) this.write(CELL_REACH, reach);
  }

  /** The entry count after an insert or delete in slots (§11.2 step 3). */
  setEntries(entries: number): void {
    if (this.#v1) this.#writeState(entries + (this.escapedPresent ? 1 : 0), this.escapedPresent, this.retired);
    else this.write(CELL_ENTRIES, entries);
  }

  /** §11.3: the escaped key set: its value first, then the state. */
  setEscaped(value: number): void {
    const wasPresent = this.escapedPresent;
    this.write(CELL_ESCAPED, value);
    if (!wasPresent) this.#writeState(this.entries + 1, true, this.retired);
  }

  /** §11.3: the escaped key deleted: the state first, then its value cell back to 0. */
  clearEscaped(): void {
    this.#writeState(this.entries, false, this.retired);
    this.write(CELL_ESCAPED, 0);
  }

  /** §11.4: RETIRED, then a fresh odd seq that sends readers to their slow path. */
  retire(): void {
    this.#writeState(this.entries + (this.escapedPresent ? 1 : 0), this.escapedPresent, true);
    this.freshOddSeq();
  }

  /** Takes RETIRED back (a swap that did not happen, §11.6). Seq is the caller's. */
  unretire(): void {
    this.#writeState(this.entries + (this.escapedPresent ? 1 : 0), this.escapedPresent, false);
  }

  /** The state cell: `count` (version 1 only: the live entries, escaped key included) and bits. */
  #writeState(count: number, escaped: boolean, retired: boolean): void {
    const bits = (escaped ? STATE_ESCAPED : 0) | (retired ? STATE_RETIRED : 0);
    this.write(CELL_STATE, ((this.#v1 ? count : 0) | bits) >>> 0);
  }
}
