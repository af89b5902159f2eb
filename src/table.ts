/**
 * The hash table of spec/FORMAT.md §5 over a plain Uint32Array of slot words (hash, value,
 * hash, value, ...). Knows nothing of files, headers or mapping.
 *
 * Invariants a table keeps (and verify checks):
 *  - the hash words of non-empty slots never decrease from slot to slot;
 *  - every entry sits at or after its home slot, with no empty slot between home and entry;
 *  - a slot whose hash equals the previous slot's hash is a tombstone: the first slot of a
 *    run of equal hashes holds the entry;
 *  - the last slot is empty, so a scan always stops inside the table.
 */
import { EMPTY_HASH as EMPTY_HASH_EXPORT, SLOT_WORDS as SLOT_WORDS_EXPORT } from "./format";
import { homeSlot as homeSlotExport } from "./hash";

// Module-level copies of the imports, for the probe loops. tsc's CommonJS output reads an
// import as a property of the exporting module's `exports` on every use, and V8 cannot fold
// that property into a constant (tsc writes every export twice, first as undefined); it does
// fold a module-level const. findFrom runs inlined in IdIndex.get (see reader.ts).
const EMPTY_HASH = EMPTY_HASH_EXPORT;
const SLOT_WORDS = SLOT_WORDS_EXPORT;
const homeSlot = homeSlotExport;

/**
 * §5.3. The word index of the slot holding `hash`, or -1. The scan stops at the first hash
 * word >= `hash`: an equal one is the entry, a larger one (or EMPTY_HASH) proves absence.
 * A damaged table can make it answer wrongly, never loop: each step moves forward and the
 * typed array ends.
 */
export function findSlot(slots: Uint32Array, capacity: number, hash: number): number {
  return findFrom(slots, homeSlot(hash, capacity) * SLOT_WORDS, hash);
}

/** findSlot from a home slot already computed: word index `i` of the home slot. */
export function findFrom(slots: Uint32Array, i: number, hash: number): number {
  let word = slots[i];
  while (word < hash) {
    i += SLOT_WORDS;
    word = slots[i];
  }
  return word === hash ? i : -1;
}

/**
 * §7. Where the builder puts n entries whose hashes are strictly increasing: each one at its
 * home slot or right after the previous entry, whichever is later. Returns the slot after the
 * last entry (0 for none); the caller adds the spill slots.
 */
export function placedEnd(hashes: Uint32Array, n: number, capacity: number): number {
  let next = 0;
  for (let j = 0; j < n; j++) {
    const home = homeSlot(hashes[j], capacity);
    next = (home > next ? home : next) + 1;
  }
  return next;
}

/** Writes the entries (sorted, unique hashes) and fills every other slot with EMPTY (hash, 0). */
export function placeSorted(
  slots: Uint32Array,
  hashes: Uint32Array,
  values: Uint32Array,
  n: number,
  capacity: number,
): void {
  let next = 0;
  for (let j = 0; j < n; j++) {
    const hash = hashes[j];
    const home = homeSlot(hash, capacity);
    let pos = home > next ? home : next;
    for (; next < pos; next++) {
      slots[next * SLOT_WORDS] = EMPTY_HASH;
      slots[next * SLOT_WORDS + 1] = 0;
    }
    slots[pos * SLOT_WORDS] = hash;
    slots[pos * SLOT_WORDS + 1] = values[j];
    next = pos + 1;
  }
  const total = slots.length / SLOT_WORDS;
  for (; next < total; next++) {
    slots[next * SLOT_WORDS] = EMPTY_HASH;
    slots[next * SLOT_WORDS + 1] = 0;
  }
}

/** True when slot `s` holds a live entry (not empty, not a tombstone). */
export function isLive(slots: Uint32Array, s: number): boolean {
  const word = slots[s * SLOT_WORDS];
  return word !== EMPTY_HASH && (s === 0 || slots[(s - 1) * SLOT_WORDS] !== word);
}

/**
 * The in-place edits of §11.3, as sequences of whole-slot stores. Each store is one atomic
 * 8-byte write (hash word and value word together), and every state between two stores is a
 * valid table whose lookups answer as before or as after the edit: a writer killed at any point
 * leaves a table that reads correctly. Readers in other processes still see a write overlap
 * their probe through the header's seq word, and retry.
 */
export class SlotEditor {
  readonly words: Uint32Array;
  readonly #slots64: BigUint64Array;
  readonly capacity: number;
  readonly slotCount: number;

  constructor(words: Uint32Array, capacity: number) {
    this.words = words;
    this.#slots64 = new BigUint64Array(words.buffer, words.byteOffset, words.length / SLOT_WORDS);
    this.capacity = capacity;
    this.slotCount = words.length / SLOT_WORDS;
  }

  /** Stores slot `to` := slot `from` in one write. */
  #copy(to: number, from: number): void {
    Atomics.store(this.#slots64, to, this.#slots64[from]);
  }

  /** Stores (hash, value) into slot `s` in one write; hash is the low word (little-endian). */
  store(s: number, hash: number, value: number): void {
    Atomics.store(this.#slots64, s, (BigInt(value) << 32n) | BigInt(hash));
  }

  /**
   * Where inserting `hash` (absent from the table) must go: the slot `at` it takes and the first
   * empty slot `end` at or after it; the entries in at..end-1 each move one slot right.
   * Returns null when that would take the last slot, the scan sentinel: the table must grow.
   */
  planInsert(hash: number): { at: number; end: number } | null {
    const w = this.words;
    let at = homeSlot(hash, this.capacity);
    while (w[at * SLOT_WORDS] < hash) at++;
    let end = at;
    while (w[end * SLOT_WORDS] !== EMPTY_HASH) end++;
    return end >= this.slotCount - 1 ? null : { at, end };
  }

  /**
   * Inserts per a plan: shifts at..end-1 right from the far end, so that each entry is copied
   * before its old slot is overwritten (a reader or a crash sees it at least once, never not at
   * all), then stores the new entry.
   */
  insert(plan: { at: number; end: number }, hash: number, value: number): void {
    for (let s = plan.end; s > plan.at; s--) this.#copy(s, s - 1);
    this.store(plan.at, hash, value);
  }

  /**
   * Removes the entry in slot `s` by backward shift: each following entry that may sit one slot
   * earlier (its home is at or before that slot) moves left, and the slot where the run ends
   * becomes empty. No tombstone is left, so deleted slots are free for the next insert at once.
   * Returns the last slot written.
   */
  remove(s: number): number {
    const w = this.words;
    let cur = s;
    for (;;) {
      const next = cur + 1;
      const hash = w[next * SLOT_WORDS];
      if (hash === EMPTY_HASH || homeSlot(hash, this.capacity) > cur) break;
      this.#copy(cur, next);
      cur = next;
    }
    this.store(cur, EMPTY_HASH, 0);
    return cur;
  }
}
