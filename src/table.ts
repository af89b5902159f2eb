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
import { EMPTY_HASH, SLOT_WORDS } from "./format";
import { homeSlot } from "./hash";

/**
 * §5.3. The word index of the slot holding `hash`, or -1. The scan stops at the first hash
 * word >= `hash`: an equal one is the entry, a larger one (or EMPTY_HASH) proves absence.
 * A damaged table can make it answer wrongly, never loop: each step moves forward and the
 * typed array ends.
 */
export function findSlot(slots: Uint32Array, capacity: number, hash: number): number {
  let i = homeSlot(hash, capacity) * SLOT_WORDS;
  let word = slots[i];
  while (word < hash) {
    i += SLOT_WORDS;
    word = slots[i];
  }
  return word === hash ? i : -1;
}

/**
 * §7. Where the builder puts n entries whose hashes are strictly increasing: each one at its
 * home slot or right after the previous entry, whichever is later. Returns the slot count
 * the table needs (last occupied slot + 1 + SPILL_SLOTS is left to the caller).
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
