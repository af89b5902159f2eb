/**
 * The reader's hot loops: get() over one window or several, and getMany's chunk of keys, each
 * a §5.3 probe bounded by the reach between two loads of seq (§11.7). They decide nothing
 * when the check fails: get() hands the key to the reader's slow path, and a chunk reports that
 * it must be answered key by key. Nothing here allocates.
 */
import { EMPTY_HASH, SLOT_WORDS, STATE_ESCAPED, W_ESCAPED, W_SEQ, W_STATE } from "../core/format";
import { hash32, homeSlot } from "../core/hash";
import { UNDECIDED, findFrom } from "../core/table";

/**
 * Module-level consts: V8 folds these into the lookup code, but not tsc's CommonJS reads of an
 * import (a property of the exporting module's `exports`, written twice). With the same in
 * core/table.ts, a get at 10 M entries went from 107 to 81 ns.
 */
const SEQ = W_SEQ;
const STATE = W_STATE;
const ESCAPED_VALUE = W_ESCAPED;
const EMPTY = EMPTY_HASH;
const ESCAPED = STATE_ESCAPED;
const WORDS = SLOT_WORDS;
const NOT_DECIDED = UNDECIDED;
const hashOf = hash32;
const homeOf = homeSlot;
const probe = findFrom;

/**
 * §11.7: the seq word, read before and after a probe. The probe's own loads must not move
 * across these two. On x86 (TSO) the CPU keeps loads in order, and V8 emits typed-array loads in
 * program order and never merges two loads of a word a store could change in between, so a
 * plain load does it. Elsewhere (arm64 reorders loads) it takes Atomics.load, which costs a
 * third of a cached lookup on x86.
 */
const loadSeq: (header: Uint32Array) => number =
  process.arch === "x64" || process.arch === "ia32"
    ? (header) => header[SEQ]
    : (header) => Atomics.load(header, SEQ);

/** Where a get goes when its fast check fails: a write overlapped it, the file was retired, or the reach ran out. */
export interface SlowPath {
  slowGet(hash: number, s1: number, s2: number, value: number | undefined, undecided: boolean): number | undefined;
}

/**
 * What a get's fast check compares besides seq (spec §11.7): `idWord` is the word index of the
 * header checksum and `id` its value at open (a file rewritten in place with another layout has
 * another); `dead` is a seq value the reader treats as even (its writer died), or -1.
 */
export interface FastCheck {
  idWord: number;
  id: number;
  dead: number;
}

/**
 * A named factory so that the hot loop has a name in profiles and editors. `live[0]` is 1 while
 * the closure's mapping is the reader's: a get kept from before the reader followed a replaced
 * file (or closed) reads a released mapping, whose pages may be zeros that look like a quiet
 * file with key 0 in slot 0; it must take the slow path and probe again in the current file.
 */
export function makeGet(slow: SlowPath, live: Uint8Array, header: Uint32Array, slots: Uint32Array, capacity: number, reachWords: number, check: FastCheck) {
  const { idWord, id, dead } = check;
  return (key: number): number | undefined => {
    if (typeof key !== "number" || (key >>> 0) !== key) return undefined;
    const hash = hashOf(key);
    const s1 = loadSeq(header);
    let value: number | undefined;
    let i = -1;
    if (hash !== EMPTY) {
      const home = homeOf(hash, capacity) * WORDS;
      i = probe(slots, home, home + reachWords, hash);
      if (i >= 0) value = slots[i + 1];
    } else if ((header[STATE] & ESCAPED) !== 0) {
      value = header[ESCAPED_VALUE];
    }
    const s2 = loadSeq(header);
    if (s1 === s2 && ((s1 & 1) === 0 || s1 === dead) && header[idWord] === id && i !== NOT_DECIDED && live[0] === 1) return value;
    return slow.slowGet(hash, s1, s2, value, i === NOT_DECIDED || live[0] !== 1);
  };
}

/** makeGet for a file of several windows (past SEGMENT_SLOTS slots: 2 GiB of slots). */
export function makeWindowedGet(
  slow: SlowPath, live: Uint8Array, header: Uint32Array, windows: readonly Uint32Array[], windowSlots: number, capacity: number, reachWords: number,
  check: FastCheck,
) {
  const { idWord, id, dead } = check;
  return (key: number): number | undefined => {
    if (typeof key !== "number" || (key >>> 0) !== key) return undefined;
    const hash = hashOf(key);
    const s1 = loadSeq(header);
    let value: number | undefined;
    let i = -1;
    if (hash !== EMPTY) {
      const home = homeOf(hash, capacity);
      const k = Math.floor(home / windowSlots);
      const slots = windows[k];
      const local = (home - k * windowSlots) * WORDS;
      // A probe that could run past this window's overlap takes the slow path (it crosses).
      i = local + reachWords < slots.length || k === windows.length - 1 ? probe(slots, local, local + reachWords, hash) : NOT_DECIDED;
      if (i >= 0) value = slots[i + 1];
    } else if ((header[STATE] & ESCAPED) !== 0) {
      value = header[ESCAPED_VALUE];
    }
    const s2 = loadSeq(header);
    if (s1 === s2 && ((s1 & 1) === 0 || s1 === dead) && header[idWord] === id && i !== NOT_DECIDED && live[0] === 1) return value;
    return slow.slowGet(hash, s1, s2, value, i === NOT_DECIDED || live[0] !== 1);
  };
}

/** Where probeChunk leaves the words it loads ahead, so that the loads are not optimized away. */
export let touchedWords = 0;

/**
 * getMany's JS loop over keys[base, end) of a one-window file, with one seq check for the whole
 * chunk rather than one per key (two loads of seq cost as much as a probe). Returns the keys
 * found, or -1 when a write overlapped the chunk or a probe used up its reach: the caller then
 * answers the chunk key by key, so a busy writer cannot starve it. `hashes` and `homes` are
 * scratch of at least end - base entries.
 */
export function probeChunk(
  header: Uint32Array, slots: Uint32Array, capacity: number, reachWords: number, check: FastCheck,
  keys: Uint32Array, values: Uint32Array, found: Uint8Array | undefined, missing: number, base: number, end: number,
  hashes: Uint32Array, homes: Float64Array,
): number {
  const seq = loadSeq(header);
  if ((seq & 1) !== 0 && seq !== check.dead) return -1;
  // First the hashes and home slots of the whole chunk, loading each home slot: these loads do
  // not depend on each other, so the CPU overlaps their cache misses (JS has no prefetch
  // instruction). Then the probes, which find their lines in cache.
  let touched = 0;
  for (let k = base; k < end; k++) {
    const hash = hashOf(keys[k]);
    const home = homeOf(hash, capacity) * WORDS;
    hashes[k - base] = hash;
    homes[k - base] = home;
    touched ^= slots[home];
  }
  touchedWords = touched;
  let hits = 0;
  for (let k = base; k < end; k++) {
    const hash = hashes[k - base];
    let value = missing;
    let hit = 0;
    if (hash === EMPTY) {
      if ((header[STATE] & ESCAPED) !== 0) {
        value = header[ESCAPED_VALUE];
        hit = 1;
      }
    } else {
      const home = homes[k - base];
      const i = probe(slots, home, home + reachWords, hash);
      if (i >= 0) {
        value = slots[i + 1];
        hit = 1;
      } else if (i === NOT_DECIDED) {
        return -1;
      }
    }
    values[k] = value;
    if (found !== undefined) found[k] = hit;
    hits += hit;
  }
  return loadSeq(header) === seq && header[check.idWord] === check.id ? hits : -1;
}
