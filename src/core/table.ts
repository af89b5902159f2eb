/**
 * The hash table of spec/FORMAT.md §5 over slot words (hash, value, hash, value, ...): what a
 * slot is (§5.1), the probe (§5.3), the builder's placement (§7) and the in-place edits
 * (§11.3). Every slot rule lives here and nowhere else. Knows nothing of files or headers.
 */
import { EMPTY_HASH as EMPTY_HASH_EXPORT, SLOT_WORDS as SLOT_WORDS_EXPORT } from "./format";
import { homeSlot as homeSlotExport } from "./hash";
import { SlotRegion, Word, hashAtWord } from "./slots";

// Module-level copies of the imports, for the probe loops. tsc's CommonJS output reads an
// import as a property of the exporting module's `exports` on every use, and V8 cannot fold
// that property into a constant (tsc writes every export twice, first as undefined); it does
// fold a module-level const. With the same in reader/lookups.ts, a get at 10 M entries went from 107
// to 81 ns (bench/RESULTS.md).
const EMPTY_HASH = EMPTY_HASH_EXPORT;
const SLOT_WORDS = SLOT_WORDS_EXPORT;
const homeSlot = homeSlotExport;

// ---- §5.1 slot states ----

/**
 * The hash word a slot's predecessor has when it has none (slot 0): EMPTY, which no entry equals,
 * so "entry" and "tombstone" below need no special case for slot 0.
 */
export const NO_PREVIOUS = EMPTY_HASH;

/** §5.1: a slot whose hash word is EMPTY (of the key width: `empty`) holds nothing. */
export function isEmpty(hash: Word, empty: Word = EMPTY_HASH): boolean {
  return hash === empty;
}

/**
 * §5.1: a slot is an entry when it is not empty and does not repeat its predecessor's hash.
 * `previousHash` of slot 0 is NO_PREVIOUS (for 64-bit keys, `empty`: no entry equals it).
 */
export function isEntry(previousHash: Word, hash: Word, empty: Word = EMPTY_HASH): boolean {
  return hash !== empty && hash !== previousHash;
}

/** §5.1: a tombstone repeats its predecessor's (non-empty) hash word. */
export function isTombstone(previousHash: Word, hash: Word, empty: Word = EMPTY_HASH): boolean {
  return hash !== empty && hash === previousHash;
}

// ---- §5.3 the probe ----

/** findFrom's answer when the scan used its whole reach without deciding (see below). */
export const UNDECIDED = -2;

/**
 * §5.3 from word index `i` (a home slot) with `limit` = the word index of the last slot the
 * probe may read (home + reach, capped at the last slot). Returns the word index of the slot
 * holding `hash`, -1 when the table proves it absent, or UNDECIDED when the scan reached `limit`
 * with a smaller hash word: absent if the caller's reach is current, otherwise worth a retry
 * with the larger reach a writer has stored since.
 *
 * Runs inlined in IdIndex.get. The bound costs one compare per slot (about 1 ns a lookup,
 * measured); it is what keeps a damaged table from being scanned to its end.
 */
export function findFrom(words: Uint32Array, i: number, limit: number, hash: number): number {
  let word = words[i];
  while (word < hash && i < limit) {
    i += SLOT_WORDS;
    word = words[i];
  }
  if (word === hash) return i;
  return word < hash ? UNDECIDED : -1;
}

/**
 * §5.3 over a whole region (any number of windows): the slot holding `hash`, -1 when absent,
 * UNDECIDED when the scan used up `reach`. For the writer and for readers' slow paths.
 */
export function findSlot(region: SlotRegion, capacity: number, reach: number, hash: Word): number {
  const home = region.homeOf(hash, capacity);
  const last = Math.min(home + reach, region.slotCount - 1);
  if (region.windows.length === 1 && typeof hash === "number" && region.slotWords === SLOT_WORDS) {
    const i = findFrom(region.windows[0], home * SLOT_WORDS, last * SLOT_WORDS, hash);
    return i < 0 ? i : i / SLOT_WORDS;
  }
  let s = home;
  let word = region.hashAt(s);
  while (word < hash && s < last) word = region.hashAt(++s);
  if (word === hash) return s;
  return word < hash ? UNDECIDED : -1;
}

/**
 * The largest `s - home(hash)` over the entries of a region: the reach a version 1 file does not
 * record (§14), measured. O(slots).
 */
export function measureReach(region: SlotRegion, capacity: number): number {
  let reach = 0;
  let previous: Word = region.empty;
  const sw = region.slotWords;
  region.forEachRun((words, from, to, base) => {
    for (let i = from; i < to; i += sw) {
      const hash = hashAtWord(words, i, region.wideKeys);
      if (isEntry(previous, hash, region.empty)) {
        const d = base + i / sw - region.homeOf(hash, capacity);
        if (d > reach) reach = d;
      }
      previous = hash;
    }
  });
  return reach;
}

// ---- §7 placement ----

/**
 * §7 step 4, streamed: entries arrive sorted by hash (strictly increasing), in as many calls
 * as the caller likes; each goes to its home slot or right after the previous entry, whichever
 * is later. `place` returns how many slots of `out` it filled (entries and the empty slots
 * before them), so a caller can write the table in order, chunk by chunk, in bounded memory.
 */
export class Placer {
  readonly capacity: number;
  /** The next slot to fill: after the last entry placed so far. */
  next = 0;
  /** The largest `slot - home` so far (§3 reach). */
  reach = 0;
  /** Entries placed so far. */
  entries = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /**
   * Places hashes[from..to) (with their values) into `out`, whose word 0 is slot `this.next`.
   * Stops early when `out` is full (after filling it, so a gap wider than `out` still makes
   * progress); returns [entries placed, slots written].
   */
  place(hashes: Uint32Array, values: Uint32Array, from: number, to: number, out: Uint32Array): [number, number] {
    const capacity = this.capacity;
    const room = out.length / SLOT_WORDS;
    const start = this.next;
    let next = start;
    let reach = this.reach;
    let j = from;
    for (; j < to; j++) {
      const hash = hashes[j];
      const home = homeSlot(hash, capacity);
      const pos = home > next ? home : next;
      if (pos - start >= room) {
        fillEmpty(out, (next - start) * SLOT_WORDS, room * SLOT_WORDS);
        next = start + room;
        break;
      }
      for (let s = next; s < pos; s++) {
        out[(s - start) * SLOT_WORDS] = EMPTY_HASH;
        out[(s - start) * SLOT_WORDS + 1] = 0;
      }
      out[(pos - start) * SLOT_WORDS] = hash;
      out[(pos - start) * SLOT_WORDS + 1] = values[j];
      if (pos - home > reach) reach = pos - home;
      next = pos + 1;
    }
    this.next = next;
    this.reach = reach;
    this.entries += j - from;
    return [j - from, next - start];
  }

  /**
   * place() for version 3 slots (§16.1): `records` holds each entry as four words (hash low,
   * hash high, value low, value high; a 32-bit hash or value's high word 0), sorted by hash,
   * written to `out` as slots of `layout`; the home slot comes from the hash's high word
   * (64-bit keys, §16.3) or its only one (32-bit keys). Returns [entries placed, slots
   * written], as place().
   */
  placeRecords(records: Uint32Array, from: number, to: number, out: Uint32Array, layout: SlotShape, native?: PlaceRecords): [number, number] {
    if (native !== undefined) {
      const r = placeResult;
      native(out, records, from, to, this.capacity, this.next, this.reach, layout.keyBits, layout.valueBits, r);
      const start = this.next;
      this.next = r[2];
      this.reach = r[3];
      this.entries += r[0];
      return [r[0], this.next - start];
    }
    const capacity = this.capacity;
    const sw = layout.slotWords;
    const wideKeys = layout.keyBits === 64;
    const room = Math.floor(out.length / sw);
    const start = this.next;
    let next = start;
    let reach = this.reach;
    let j = from;
    for (; j < to; j++) {
      const home = homeSlot(records[4 * j + (wideKeys ? 1 : 0)], capacity);
      const pos = home > next ? home : next;
      if (pos - start >= room) {
        fillEmptyWide(out, (next - start) * sw, room * sw, layout);
        next = start + room;
        break;
      }
      fillEmptyWide(out, (next - start) * sw, (pos - start) * sw, layout);
      putRecord(records, j, out, (pos - start) * sw, layout);
      if (pos - home > reach) reach = pos - home;
      next = pos + 1;
    }
    this.next = next;
    this.reach = reach;
    this.entries += j - from;
    return [j - from, next - start];
  }

  /** Where the entries so far end, without writing: advances as place() would. */
  skip(hashes: Uint32Array, from: number, to: number): void {
    const capacity = this.capacity;
    let next = this.next;
    let reach = this.reach;
    for (let j = from; j < to; j++) {
      const home = homeSlot(hashes[j], capacity);
      const pos = home > next ? home : next;
      if (pos - home > reach) reach = pos - home;
      next = pos + 1;
    }
    this.next = next;
    this.reach = reach;
    this.entries += to - from;
  }

  /** §7 step 5: the slot count once every entry is placed. */
  slotCount(spill: number): number {
    return Math.max(this.capacity, this.next) + spill;
  }
}

/** The addon's placeRecords (native/build.c): Placer.placeRecords's loop, in C. */
export type PlaceRecords = (
  out: Uint32Array, records: Uint32Array, from: number, to: number, capacity: number, next: number, reach: number,
  keyBits: number, valueBits: number, result: Float64Array,
) => void;

const placeResult = new Float64Array(4);

/** What version 3's slot code needs of a layout (§16.1). */
export type SlotShape = { readonly slotWords: number; readonly valueOffset: number; readonly keyBits: 32 | 64; readonly valueBits: 32 | 64 };

/** Fills words[from..to) (word indexes) with empty version 3 slots (§16.1): EMPTY at the key width, value 0. */
export function fillEmptyWide(words: Uint32Array, from: number, to: number, layout: SlotShape): void {
  words.fill(0, from, to);
  const hashWords = layout.keyBits / 32;
  for (let i = from; i < to; i += layout.slotWords) {
    words[i] = EMPTY_HASH;
    if (hashWords === 2) words[i + 1] = EMPTY_HASH;
  }
}

/** Record j of `records` (four words: hash low, high, value low, high) as a slot of `layout` at out[at..]. */
export function putRecord(records: Uint32Array, j: number, out: Uint32Array, at: number, layout: SlotShape): void {
  out[at] = records[4 * j];
  if (layout.keyBits === 64) out[at + 1] = records[4 * j + 1];
  const v = at + layout.valueOffset;
  out[v] = records[4 * j + 2];
  if (layout.valueBits === 64) out[v + 1] = records[4 * j + 3];
}

/** The slot at words[at..] of `layout` as record j of `records` (the inverse of putRecord). */
export function getRecord(words: Uint32Array, at: number, layout: SlotShape, records: Uint32Array, j: number): void {
  records[4 * j] = words[at];
  records[4 * j + 1] = layout.keyBits === 64 ? words[at + 1] : 0;
  const v = at + layout.valueOffset;
  records[4 * j + 2] = words[v];
  records[4 * j + 3] = layout.valueBits === 64 ? words[v + 1] : 0;
}

/** Fills words[from..to) (word indexes) with empty slots. */
export function fillEmpty(words: Uint32Array, from: number, to: number): void {
  for (let i = from; i < to; i += SLOT_WORDS) {
    words[i] = EMPTY_HASH;
    words[i + 1] = 0;
  }
}

/**
 * What is wrong with slots first..last (inclusive) by §5.2, or null: every entry sits at or
 * after its home and within `reach` of it, and entries are in strictly increasing order
 * (from the last entry before `first`). A writer checks the run it is about to shift: editing a damaged table would make
 * the damage permanent.
 */
export function runProblem(region: SlotRegion, capacity: number, reach: number, first: number, last: number): string | null {
  const empty = region.empty;
  let previous = first > 0 ? region.hashAt(first - 1) : empty;
  let lastEntry: Word = previous === empty ? -1 : previous;
  for (let s = first; s <= last && s < region.slotCount; s++) {
    const hash = region.hashAt(s);
    if (isEntry(previous, hash, empty)) {
      if (lastEntry !== -1 && hash <= lastEntry) return `slot ${s} is out of hash order`;
      const home = region.homeOf(hash, capacity);
      if (home > s) return `slot ${s} holds an entry whose home slot ${home} is after it`;
      if (s - home > reach) return `slot ${s} is ${s - home} slots from its home, beyond the header's reach ${reach}`;
      lastEntry = hash;
    } else if (isTombstone(previous, hash, empty)) {
      return `slot ${s} repeats the slot before it, but no write was interrupted`;
    }
    previous = hash;
  }
  return null;
}

// ---- §11.3 in-place edits ----

/** Where an insert goes: slot `at` takes the new entry; at..end-1 each move one slot right. */
export interface InsertPlan {
  at: number;
  end: number;
  /** The reach the table needs once the entries have moved (§11.3). */
  reach: number;
}

/**
 * The in-place edits of §11.3, as sequences of whole-slot stores. Each store is one atomic
 * 8-byte write (hash word and value word together), and every state between two stores is a
 * valid table whose lookups answer as before or as after the edit: a writer killed at any point
 * leaves a table that reads correctly. Readers in other processes still see a write overlap
 * their probe through the header's seq word, and retry.
 */
export class SlotEditor {
  readonly region: SlotRegion;
  readonly capacity: number;
  readonly slotCount: number;

  constructor(region: SlotRegion, capacity: number) {
    this.region = region;
    this.capacity = capacity;
    this.slotCount = region.slotCount;
  }

  /**
   * Where inserting `hash` (absent from the table) must go, and the reach the table needs after
   * it (`reach` is the current one). Returns null when that would take the last slot, the scan
   * sentinel: the table must be rehashed.
   */
  planInsert(hash: Word, reach: number): InsertPlan | null {
    const r = this.region;
    const last = this.slotCount - 1;
    const home = r.homeOf(hash, this.capacity);
    let at = home;
    // Bounded by the last slot: it is empty in a sound table, but a table damaged since it was
    // opened must not send the scan past the region (a rehash then refuses the damage).
    while (at < last && r.hashAt(at) < hash) at++;
    let end = at;
    let needed = Math.max(reach, at - home);
    for (let h = r.hashAt(end); !isEmpty(h, r.empty) && end < last; h = r.hashAt(++end)) {
      const moved = end + 1 - r.homeOf(h, this.capacity);
      if (moved > needed) needed = moved;
    }
    return end >= last ? null : { at, end, reach: needed };
  }

  /**
   * Inserts per a plan: shifts at..end-1 right from the far end, so that each entry is copied
   * before its old slot is overwritten (a reader or a crash sees it at least once, never not at
   * all), then stores the new entry, whose words (region.slotWordsOf) the caller split before
   * the operation's bracket opened.
   */
  insert(plan: InsertPlan, words: ArrayLike<number>): void {
    for (let s = plan.end; s > plan.at; s--) this.region.copySlot(s, s - 1);
    this.region.storeSlot(plan.at, words);
  }

  /** The last slot a removal from `s` writes: where its backward shift ends (§5.4). */
  shiftEnd(s: number): number {
    const r = this.region;
    let cur = s;
    for (;;) {
      if (cur + 1 >= this.slotCount) return cur; // only a damaged table has no empty last slot
      const hash = r.hashAt(cur + 1);
      if (isEmpty(hash, r.empty) || r.homeOf(hash, this.capacity) > cur) return cur;
      cur++;
    }
  }

  /**
   * Removes the entry (or tombstone) in slot `s` by backward shift up to `last` (shiftEnd(s)):
   * each following entry that may sit one slot earlier moves left, and slot `last` becomes
   * empty. No marker is left, so deleted slots are free for the next insert at once.
   */
  remove(s: number, last: number): void {
    for (let cur = s; cur < last; cur++) this.region.copySlot(cur, cur + 1);
    this.region.storeSlot(last, this.#emptyWords);
  }

  /** An empty slot's words (§5.1, §16.1): EMPTY at the key width, everything else zero. */
  get #emptyWords(): number[] {
    return (this.#empty ??= this.region.slotWordsOf(this.region.empty, 0));
  }

  #empty: number[] | undefined;
}
