/**
 * The reader's hot loops: get() over one window or several, and getMany's chunk of keys, each
 * a §5.3 probe bounded by the reach between two loads of seq (§11.7). They decide nothing
 * when the check fails: get() hands the key to the reader's slow path, and a chunk reports that
 * it must be answered key by key. Nothing here allocates.
 */
import { EMPTY_HASH, SLOT_WORDS, STATE_ESCAPED, W_ESCAPED, W_ESCAPED_HIGH, W_SEQ, W_STATE } from "../core/format";
import { Id } from "../core/keys";
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
const ABSENT = -1;
/** getOr's mark for the escaped key, found in the header (§5.1). */
const ESCAPED_FOUND = -3;

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
  /**
   * `closure` is the number the reader gave the get that failed: a get kept from a mapping the
   * reader has let go reads zeros or another file, and its probe is worth nothing.
   */
  slowGet(hash: number, s1: number, s2: number, value: number | undefined, undecided: boolean, closure: number): number | undefined;
}

/**
 * What a get's fast check compares besides seq (spec §11.7): `idWord` is the index of a header
 * word and `id` its value at open: the header checksum, which a file rewritten in place with
 * another layout changes (or, when that is 0, another nonzero word of the fixed header: the zero
 * pages over a released mapping must never pass). `dead` is a seq value the reader treats as
 * even (its writer died), or -1. `closure` numbers the get, for the slow path.
 */
export interface FastCheck {
  idWord: number;
  id: number;
  dead: number;
  closure: number;
}

/** 2^-32, 2^-21, 2^-16: exact scalings of a double. */
const INV_2_32 = 1 / 4294967296;
const INV_2_21 = 1 / 2097152;
const INV_2_16 = 1 / 65536;

/**
 * §4's home slot, floor(hash * capacity / 2^32), for the get of a one-window file (capacity
 * at most 2^28), with no Math.floor and no division (they cost a get a long chain of float
 * instructions). `>>> 0` truncates a double below 2^32, which for a non-negative one is floor.
 * `| 0` truncates as well for a result below 2^31, and gives V8 an int32 (no range check).
 * - capacity <= 2^21: hash * capacity < 2^53 is exact, so one scaled multiply is.
 * - else: capacity = c1 * 2^11 + c0, and floor((hash * c1 + floor(hash * c0 / 2^11)) / 2^21)
 *   equals it (an integer added inside a floor passes through), with every step exact:
 *   hash * c1 < 2^49, hash * c0 < 2^43.
 * Equal to core/hash.ts homeSlot for every hash (test/lookups.test.ts checks both).
 */
export function homeFunction(capacity: number): (hash: number) => number {
  if (capacity <= 2 ** 21) {
    const scale = capacity * INV_2_32;
    return (hash) => (hash * scale) | 0;
  }
  if (capacity > 2 ** 28) throw new RangeError(`a one-window home slot takes a capacity of at most 2^28, not ${capacity}`);
  const c1 = Math.floor(capacity / 2048);
  const c0 = (capacity % 2048) / 2048;
  return (hash) => ((hash * c1 + ((hash * c0) >>> 0)) * INV_2_21) | 0;
}

/**
 * The get of a file held in one window (at most SEGMENT_SLOTS slots). A named factory so that
 * the hot loop has a name in profiles and editors. The probe of §5.3 checks the reach bound
 * only while the slot's hash is still smaller (most lookups decide at the home slot), and the
 * whole fast check is one compare per fact: seq unchanged and even (or the dead writer's), the
 * file's identity word, the reach not used up. It must stay small: V8 inlines it into the
 * caller's loop only under its inlining budget (test/inlining.test.ts).
 */
export function makeGet(slow: SlowPath, header: Uint32Array, slots: Uint32Array, capacity: number, reachWords: number, check: FastCheck) {
  const homeAt = homeFunction(capacity);
  /**
   * §5.3 from the home slot: the word index of the slot holding `hash`, ABSENT, or UNDECIDED
   * when the scan used up the reach (the bound is checked only while the slot's hash is still
   * smaller: most lookups decide at the home slot). Indexes stay int32 (`| 0`, `<< 1`), so V8
   * adds no overflow checks.
   */
  const find = (hash: number): number => {
    let i = homeAt(hash) << 1;
    let word = slots[i];
    if (word < hash) {
      const limit = i + reachWords;
      do {
        i = (i + WORDS) | 0;
        if (i > limit) return NOT_DECIDED;
        word = slots[i];
      } while (word < hash);
    }
    return word === hash ? i : ABSENT;
  };
  return lookupsOver(slow, header, find, (i) => slots[i | 1], check);
}

/**
 * get and getOr over `find` (a one-window or a windowed probe), with the fast check of §11.7
 * around it: seq unchanged and even (or the dead writer's), the file's identity word, the reach
 * not used up. Anything else goes to the reader's slow path.
 */
function lookupsOver(
  slow: SlowPath, header: Uint32Array, find: (hash: number) => number, valueAt: (i: number) => number, check: FastCheck,
) {
  const { idWord, id, dead, closure } = check;
  const get = (key: number): number | undefined => {
    if (typeof key !== "number" || (key >>> 0) !== key) return otherKey(get, key, undefined);
    const hash = hashOf(key);
    const s1 = loadSeq(header);
    let i = ABSENT;
    let value: number | undefined;
    if (hash !== EMPTY) {
      i = find(hash);
      if (i >= 0) value = valueAt(i);
    } else if ((header[STATE] & ESCAPED) !== 0) {
      value = header[ESCAPED_VALUE];
    }
    const s2 = loadSeq(header);
    if (s1 === s2 && ((s1 & 1) === 0 || s1 === dead) && header[idWord] === id && i !== NOT_DECIDED) return value;
    return slow.slowGet(hash, s1, s2, value, i === NOT_DECIDED, closure);
  };
  /**
   * get(key) ?? fallback, as its own closure: with a number fallback the answer is a number in
   * every case, which V8 keeps unboxed in the caller (get's number | undefined must be boxed,
   * which for a value of 2^31 or more is a heap number).
   */
  const getOr = <T>(key: number, fallback: T): number | T => {
    if (typeof key !== "number" || (key >>> 0) !== key) return otherKey(get, key, fallback);
    const hash = hashOf(key);
    const s1 = loadSeq(header);
    let i = ABSENT;
    let value: number | T = fallback;
    if (hash !== EMPTY) {
      i = find(hash);
      if (i >= 0) value = valueAt(i);
    } else if ((header[STATE] & ESCAPED) !== 0) {
      i = ESCAPED_FOUND;
      value = header[ESCAPED_VALUE];
    }
    const s2 = loadSeq(header);
    if (s1 === s2 && ((s1 & 1) === 0 || s1 === dead) && header[idWord] === id && i !== NOT_DECIDED) return value;
    const answer = slow.slowGet(hash, s1, s2, i >= 0 || i === ESCAPED_FOUND ? (value as number) : undefined, i === NOT_DECIDED, closure);
    return answer === undefined ? fallback : answer;
  };
  return { get, getOr };
}

/**
 * get(key) ?? fallback for a key that is not a uint32 number: a bigint is the same key as its
 * number (spec §16); the rest are absent. Out of the get closures (a closure of theirs made the
 * inlined getOr 7 instructions longer on its hot path).
 */
function otherKey<T>(get: (key: number) => number | undefined, key: unknown, fallback: T): number | T {
  if (typeof key !== "bigint" || key < 0n || key > 0xffffffffn) return fallback;
  const value = get(Number(key));
  return value === undefined ? fallback : value;
}

/**
 * makeGet for a file of several windows (past SEGMENT_SLOTS slots: 2 GiB of slots). The home
 * slot as a window and a slot in it, exactly, for a capacity up to 2^33: capacity = c1 * 2^16 +
 * c0, t = hash * c1 + floor(hash * c0 / 2^16) (< 2^50, exact), home = floor(t / 2^16), so the
 * window is floor(t / 2^(16 + shift)) and the slot in it the rest. A probe that could run past
 * the window's overlap (the window's own slots plus OVERLAP_SLOTS, core/slots.ts) takes the slow
 * path, which walks across windows: the loop itself checks no window bound.
 */
export function makeWindowedGet(
  slow: SlowPath, header: Uint32Array, windows: readonly Uint32Array[], windowSlots: number, capacity: number, reachWords: number,
  check: FastCheck,
) {
  const c1 = Math.floor(capacity / 65536);
  const c0 = (capacity % 65536) / 65536;
  const windowUnit = 65536 * windowSlots;
  const toWindow = 1 / windowUnit;
  const lastWindow = windows.length - 1;
  /** find's answer: the word index in window k, as k * WINDOW_CODE + index (exact below 2^53). */
  const find = (hash: number): number => {
    const t = hash * c1 + ((hash * c0) >>> 0);
    const k = (t * toWindow) >>> 0;
    const slots = windows[k];
    let i = (((t - k * windowUnit) * INV_2_16) >>> 0) << 1;
    const limit = i + reachWords;
    if (limit >= slots.length && k !== lastWindow) return NOT_DECIDED; // could cross into the next window
    let word = slots[i];
    if (word < hash) {
      do {
        i = (i + WORDS) | 0;
        if (i > limit) return NOT_DECIDED;
        word = slots[i];
      } while (word < hash);
    }
    return word === hash ? k * WINDOW_CODE + i : ABSENT;
  };
  const valueAt = (code: number): number => {
    const k = Math.floor(code / WINDOW_CODE);
    return windows[k][(code - k * WINDOW_CODE) | 1];
  };
  return lookupsOver(slow, header, find, valueAt, check);
}

/** A windowed find's code for window k and word index i: k * 2^31 + i (a window has < 2^31 words). */
const WINDOW_CODE = 2 ** 31;

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

// ---- version 3 (§16): 12- and 16-byte slots, keys and values of 32 or 64 bits ----

/** §16.3's round constants, as module-level consts (see above). */
const R1 = 0x9e3779b9;
const R2 = 0x85ebca77;
const R3 = 0xc2b2ae3d;
const R4 = 0x27d4eb2f;
const MAX_KEY = 0xffffffffffffffffn;
const TWO_32 = 4294967296;
/** Values of 64 bits above 2^53 - 1 come back as bigints (keys.ts): their high word is 2^21 or more. */
const SAFE_HIGH = 2097152;

/** Where a get of a version 3 file goes when its fast check fails (reader.ts). */
export interface WideSlowPath {
  /** As SlowPath.slowGet, with the hash word as its two halves (high 0 for 32-bit keys). */
  slowGetWide(low: number, high: number, keyBits: 32 | 64, s1: number, s2: number, value: Id | undefined, undecided: boolean, closure: number): Id | undefined;
}

/**
 * A bigint key's halves into halves[0] (low) and halves[1] (high), through a BigUint64Array
 * (nothing allocated); false when it is not a key (outside 0..2^64 - 1, or not a bigint). Out of
 * the get closures, which it would push past V8's inlining budget.
 */
function bigintHalves(key: unknown, halves: Uint32Array, big: BigUint64Array): boolean {
  if (typeof key !== "bigint" || key < 0n || key > MAX_KEY) return false;
  big[0] = key;
  return true;
}

/**
 * get and getOr of a version 3 file (§16), over one window or several. Keys are numbers (safe
 * integers) or bigints; anything else, or a key wider than the file's keys, is absent. A number
 * key is split into its 32-bit halves with integer operations, the hash is computed on them and
 * the hash word compared as two uint32 halves (high first), so the loop stays in int32: no
 * bigint is made unless a value is above 2^53 - 1 (keys.ts), and a bigint key is read through a
 * BigUint64Array (nothing allocated). One closure a key width: each stays small enough for V8 to
 * inline into the caller's loop.
 */
export function makeWideGet(
  slow: WideSlowPath, header: Uint32Array, windows: readonly Uint32Array[], windowSlots: number, capacity: number, reach: number,
  check: FastCheck, keyBits: 32 | 64, valueBits: 32 | 64,
) {
  const sw = (keyBits + valueBits) / 32; // §16.1: 12- or 16-byte slots
  const valueOffset = keyBits / 32;
  const reachWords = reach * sw;
  const wideValues = valueBits === 64;
  const halves = new Uint32Array(2);
  const big = new BigUint64Array(halves.buffer);
  const valueHalves = new Uint32Array(2);
  const valueBig = new BigUint64Array(valueHalves.buffer);
  /** One bigint, read through the 64-bit view of the halves (BigInt(high) << 32n | BigInt(low)
   * made three: a 64/64 get of a random value cost 769 instructions, 2.5x a 64/32 get). */
  const bigintOf = (low: number, high: number): bigint => {
    valueHalves[0] = low;
    valueHalves[1] = high;
    return valueBig[0];
  };
  const find = windows.length === 1 ? wideFind(windows[0], capacity, reachWords, sw, keyBits === 64) : wideWindowedFind(windows, windowSlots, capacity, reachWords, sw, keyBits === 64);
  const first = windows[0];
  const valueAt = (code: number): Id => {
    let slots = first;
    let i = code + valueOffset;
    if (code >= WINDOW_CODE) {
      const k = Math.floor(code / WINDOW_CODE);
      slots = windows[k];
      i -= k * WINDOW_CODE;
    }
    if (!wideValues) return slots[i];
    const high = slots[i + 1];
    return high < SAFE_HIGH ? high * TWO_32 + slots[i] : bigintOf(slots[i], high);
  };
  const escapedValue = (): Id => {
    if (!wideValues) return header[ESCAPED_VALUE];
    const high = header[ESCAPED_HIGH];
    return high < SAFE_HIGH ? high * TWO_32 + header[ESCAPED_VALUE] : bigintOf(header[ESCAPED_VALUE], high);
  };
  const { idWord, id, dead, closure } = check;
  /** The probe and the fast check of §11.7 for the hash word (low, high); the slow path past it. */
  const lookup = (low: number, high: number): Id | undefined => {
    const s1 = loadSeq(header);
    let i = ABSENT;
    let value: Id | undefined;
    if (low !== EMPTY || high !== (keyBits === 64 ? EMPTY : 0)) {
      i = find(low, high);
      if (i >= 0) value = valueAt(i);
    } else if ((header[STATE] & ESCAPED) !== 0) {
      value = escapedValue();
    }
    const s2 = loadSeq(header);
    if (s1 === s2 && ((s1 & 1) === 0 || s1 === dead) && header[idWord] === id && i !== NOT_DECIDED) return value;
    return slow.slowGetWide(low, high, keyBits, s1, s2, value, i === NOT_DECIDED, closure);
  };
  /** §16.3's hash64 of the key halves (int32s: no heap number between get and here), then lookup. */
  const lookup64 = (lo: number, hi: number): Id | undefined => {
    lo >>>= 0;
    hi >>>= 0;
    lo = (lo ^ hashOf((hi ^ R1) >>> 0)) >>> 0;
    hi = (hi ^ hashOf((lo ^ R2) >>> 0)) >>> 0;
    lo = (lo ^ hashOf((hi ^ R3) >>> 0)) >>> 0;
    hi = (hi ^ hashOf((lo ^ R4) >>> 0)) >>> 0;
    return lookup(lo, hi);
  };
  let get: (key: Id) => Id | undefined;
  if (keyBits === 64) {
    get = (key) => {
      if (typeof key === "number") {
        // The halves of a safe integer, exactly; anything else fails the check on hi.
        const lo = key >>> 0;
        const hi = (key - lo) * INV_2_32;
        if ((hi >>> 0) !== hi || hi >= SAFE_HIGH) return undefined;
        return lookup64(lo | 0, hi | 0);
      }
      return bigintHalves(key, halves, big) ? lookup64(halves[0] | 0, halves[1] | 0) : undefined;
    };
  } else {
    get = (key) => {
      if (typeof key === "number") return (key >>> 0) === key ? lookup(hashOf(key), 0) : undefined;
      return bigintHalves(key, halves, big) && halves[1] === 0 ? lookup(hashOf(halves[0]), 0) : undefined;
    };
  }
  const getOr = <T>(key: Id, fallback: T): Id | T => {
    const value = get(key);
    return value === undefined ? fallback : value;
  };
  return { get, getOr };
}

/** The escaped key's value's high word (§16.2). */
const ESCAPED_HIGH = W_ESCAPED_HIGH;

/**
 * §5.3 over one window of version 3 slots (§16.1: `sw` words each): the word index of the slot
 * holding the hash word (low, high), ABSENT, or NOT_DECIDED when the reach ran out. The home
 * slot comes from the high half for 64-bit keys (§16.3), from the only one for 32-bit keys.
 */
function wideFind(slots: Uint32Array, capacity: number, reachWords: number, sw: number, wideKeys: boolean) {
  const homeAt = homeFunction(capacity);
  if (wideKeys) return (low: number, high: number): number => scan64(slots, (homeAt(high) * sw) | 0, reachWords, low, high, sw);
  return (low: number): number => scan32(slots, (homeAt(low) * sw) | 0, reachWords, low, sw);
}

/**
 * From word index i, while the slot's 64-bit hash word is below (low, high), compared high
 * half first: the slot's index if it holds it, ABSENT, or NOT_DECIDED past i + reachWords.
 */
function scan64(slots: Uint32Array, i: number, reachWords: number, low: number, high: number, sw: number): number {
  let wh = slots[i + 1];
  let wl = slots[i];
  if (wh < high || (wh === high && wl < low)) {
    const limit = i + reachWords;
    do {
      i = (i + sw) | 0;
      if (i > limit) return NOT_DECIDED;
      wh = slots[i + 1];
      wl = slots[i];
    } while (wh < high || (wh === high && wl < low));
  }
  return wh === high && wl === low ? i : ABSENT;
}

/** scan64 for 32-bit hash words (the 32/64 layout). */
function scan32(slots: Uint32Array, i: number, reachWords: number, hash: number, sw: number): number {
  let word = slots[i];
  if (word < hash) {
    const limit = i + reachWords;
    do {
      i = (i + sw) | 0;
      if (i > limit) return NOT_DECIDED;
      word = slots[i];
    } while (word < hash);
  }
  return word === hash ? i : ABSENT;
}

/**
 * wideFind for a file of several windows (past 2^27 slots): the home slot exactly (hash.ts
 * homeSlot: a capacity up to 2^40), then its window and the slot in it. A probe that could run
 * past the window's overlap takes the slow path, as makeWindowedGet's does.
 */
function wideWindowedFind(windows: readonly Uint32Array[], windowSlots: number, capacity: number, reachWords: number, sw: number, wideKeys: boolean) {
  const lastWindow = windows.length - 1;
  return (low: number, high: number): number => {
    const home = homeOf(wideKeys ? high : low, capacity);
    const k = Math.floor(home / windowSlots);
    const slots = windows[k];
    const i = (home - k * windowSlots) * sw;
    if (i + reachWords >= slots.length && k !== lastWindow) return NOT_DECIDED;
    const found = wideKeys ? scan64(slots, i, reachWords, low, high, sw) : scan32(slots, i, reachWords, low, sw);
    return found >= 0 ? k * WINDOW_CODE + found : found;
  };
}
