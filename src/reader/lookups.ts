/**
 * The reader's hot loops: get() over one window or several, and getMany's chunk of keys, each
 * a §5.3 probe bounded by the reach between two loads of seq (§11.7). They decide nothing
 * when the check fails: get() hands the key to the reader's slow path, and a chunk reports that
 * it must be answered key by key. Nothing here allocates.
 */
import { EMPTY_HASH, SLOT_WORDS, STATE_ESCAPED, W_ESCAPED, W_SEQ, W_STATE } from "../core/format";
import { Id } from "../core/keys";
import { ROUND_1, ROUND_2, ROUND_3, ROUND_4, hash32, homeSlot } from "../core/hash";
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
/** How many slots from home a scan reads with no bound check, where the reach and the region allow (scanOf). */
const NEAR_SLOTS = 4;

/**
 * Whether a scan may read the NEAR_SLOTS slots from home unchecked: they are within the reach
 * (§5.3: no more than reach + 1 slots) and within the slot region, from the last home slot too.
 */
function nearSlotsReadable(reachWords: number, capacity: number, slotCount: number): boolean {
  return reachWords >= (NEAR_SLOTS - 1) * WORDS && slotCount >= capacity + NEAR_SLOTS - 1;
}

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

/** 2^-32, 2^-16: exact scalings of a double. */
const INV_2_32 = 1 / 4294967296;
const INV_2_16 = 1 / 65536;

/**
 * §4's home slot, floor(hash * capacity / 2^32), for the get of a one-window file (capacity
 * at most 2^28), with no Math.floor and no division (they cost a get a long chain of float
 * instructions). `>>> 0` truncates a double below 2^32, which for a non-negative one is floor.
 * `| 0` truncates as well for a result below 2^31, and gives V8 an int32 (no range check).
 * - capacity <= 2^21: hash * capacity < 2^53 is exact, so one scaled multiply is.
 * - else one multiply as well, hash * (capacity / 2^32), which rounds the exact quotient q to 53
 *   bits: below 2^28 it is off by at most 2^-26, so its truncation is floor(q) unless q's
 *   fraction is within 2^-26 of 1 (rounding may then reach the next integer). That fraction is
 *   the product's low 32 bits over 2^32, which Math.imul gives exactly: for the top 2^16 of
 *   them (fraction above 1 - 2^-16) the home comes from exactHome. At 10 M entries this took the
 *   get's home from 22 instructions (three multiplies, three conversions in a chain) to 9.
 * homeIn is the rule: in a caller's loop specialized to one reader its capacity is a constant,
 * and up to 2^21 the guard (a multiply, a shift, a compare, a branch) goes with the first compare;
 * homeFunction a closure of it, without the guard where one multiply is exact. Equal to
 * core/hash.ts homeSlot for every hash (test/reader.test.ts checks all three).
 */
export function homeFunction(capacity: number): (hash: number) => number {
  const scale = capacity * INV_2_32;
  if (capacity <= ONE_MULTIPLY_CAPACITY) return (hash) => (hash * scale) | 0;
  checkHomeInCapacity(capacity);
  return (hash) => homeIn(hash, capacity, scale);
}

/** homeIn's domain: a capacity of at most 2^28 (past it the one multiply is off by more than its guard allows). */
function checkHomeInCapacity(capacity: number): void {
  if (capacity > 2 ** 28) throw new RangeError(`a one-window home slot takes a capacity of at most 2^28, not ${capacity}`);
}

/** The home slot of homeFunction's comment for any capacity up to 2^28, given scale = capacity / 2^32. */
export function homeIn(hash: number, capacity: number, scale: number): number {
  return capacity > ONE_MULTIPLY_CAPACITY && (Math.imul(hash, capacity) >>> 16) === NEAR_NEXT ? exactHome(hash, capacity) | 0 : (hash * scale) | 0;
}

/** The largest capacity whose product with any hash is below 2^53: one multiply is exact (homeFunction). */
const ONE_MULTIPLY_CAPACITY = 2 ** 21;

/** The top 16 bits of a product's low word when its quotient by 2^32 may round up to the next integer (homeFunction). */
const NEAR_NEXT = 0xffff;

/**
 * floor(hash * capacity / 2^32) with every step exact, for a capacity up to 2^33: capacity =
 * c1 * 2^16 + c0, t = hash * c1 + floor(hash * c0 / 2^16) (< 2^50; an integer added inside a
 * floor passes through), home = floor(t / 2^16).
 */
function exactHome(hash: number, capacity: number): number {
  const c1 = Math.floor(capacity / 65536);
  const c0 = (capacity % 65536) / 65536;
  return Math.floor((hash * c1 + ((hash * c0) >>> 0)) * INV_2_16);
}

/**
 * get, getOr and has of a file held in one window (at most SEGMENT_SLOTS slots). They must stay
 * small: V8 inlines them into the caller's loop only under its inlining budget
 * (test/inlining.test.ts). And a loop of lookups is as fast as the CPU can run on from one key's
 * slot load into the next keys' while the first misses: so the hot path holds the probe, the
 * value and the fast check of §11.7 and nothing else (the escaped key and a probe that used up
 * its reach leave it at once, for escapedIn and the reader's slow path), and the scan of the
 * four slots from home suits the table's size (scanOf). bench/INSTRUCTIONS.md counts the
 * instructions (callgrind), bench/GET.md times them. The fast check is written out in each
 * lookup, one-window and windowed: as a function of its own it took the one-window getOr to 886
 * of the 870 bytecodes test/inlining.test.ts allows (the windowed getOr to 870).
 *
 * Each closure only passes its key to a module-level function, with `t`: everything the lookup
 * reads, in one object of one shape. Where a caller's loop has only ever seen this reader's
 * closure, V8 inlines it with `t` as a constant and folds `t`'s fields into the code (the
 * slots' address, the capacity). Where it has seen two (two readers, or one reader's closures
 * before and after it followed a replaced file: that makes new ones), V8 inlines the
 * closure's code for whichever it is given, and reads `t` from it: one object, whose shape
 * tells V8 what each field holds. Closures that read each value from their own scope instead
 * (a const of the factory each: a check that it is initialized, and one of what it holds, a
 * number or a boolean, at every read) made such a loop's get 4.2-4.5x the C floor at 10 M
 * entries where the loop of one reader's was 2.2-2.5x (1 M: 3.6-4.6x, 1.9-2.3x); over `t`,
 * 2.3-2.4x and 2.0-2.2x (1 M: 2.6-3.1x, 2.0-2.4x). (`get-ratio.js --idx DIST`, the shared-loop
 * row, three runs of each build.)
 */
export function makeGet(
  slow: SlowPath, header: Uint32Array, slots: Uint32Array, capacity: number, reachWords: number, check: FastCheck,
  countPastBytes = COUNT_PAST_BYTES,
) {
  checkHomeInCapacity(capacity);
  const t: OneWindow = {
    header,
    slots,
    capacity: capacity | 0,
    scale: capacity * INV_2_32,
    reachWords: reachWords | 0,
    scan: scanOf(reachWords, capacity, slots, countPastBytes),
    idWord: check.idWord | 0,
    id: check.id | 0,
    dead: deadWord(check.dead),
    closure: check.closure | 0,
    slow,
  };
  const get = (key: number): number | undefined => getIn(t, key);
  const getOr = <T>(key: number, fallback: T): number | T => getOrIn(t, key, fallback);
  const has = (key: number): boolean => hasIn(t, key);
  /** A reach (in words) the reader raised, or the seq of a writer it found dead, into these same lookups. */
  const retune = (words: number, dead: number): void => {
    t.reachWords = words | 0;
    t.scan = scanOf(words, capacity, slots, countPastBytes);
    t.dead = deadWord(dead);
  };
  return { get, getOr, has, retune };
}

/** FastCheck's dead as the lookups compare it: an int32 (`| 0`), 0 (even) for none. */
function deadWord(dead: number): number {
  return dead === -1 ? 0 : dead | 0;
}

/** get of a one-window file (makeGet). */
function getIn(t: OneWindow, key: number): number | undefined {
  if (typeof key !== "number" || (key >>> 0) !== key) return otherKeyIn(t, key);
  const hash = hashOf(key);
  if (hash === EMPTY) return escapedIn(t);
  const s1 = loadSeq(t.header);
  const i = findIn(t, hash);
  if (i < 0) return slowIn(t, hash, s1, s1, undefined, true, undefined);
  const value = t.slots[i] === hash ? t.slots[i | 1] : undefined;
  const s2 = loadSeq(t.header);
  if (s1 === s2 && ((s1 & 1) === 0 || (s1 | 0) === t.dead) && (t.header[t.idWord] | 0) === t.id) return value;
  return slowIn(t, hash, s1, s2, value, false, undefined);
}

/**
 * get(key) ?? fallback, as a lookup of its own: with a number fallback the answer is a number in
 * every case, which V8 keeps unboxed in the caller (get's number | undefined must be boxed,
 * which for a value of 2^31 or more is a heap number).
 */
function getOrIn<T>(t: OneWindow, key: number, fallback: T): number | T {
  if (typeof key !== "number" || (key >>> 0) !== key) return orElse(otherKeyIn(t, key), fallback);
  const hash = hashOf(key);
  if (hash === EMPTY) return orElse(escapedIn(t), fallback);
  const s1 = loadSeq(t.header);
  const i = findIn(t, hash);
  if (i < 0) return slowIn(t, hash, s1, s1, undefined, true, fallback);
  const found = t.slots[i] === hash;
  const value = found ? t.slots[i | 1] : fallback;
  const s2 = loadSeq(t.header);
  if (s1 === s2 && ((s1 & 1) === 0 || (s1 | 0) === t.dead) && (t.header[t.idWord] | 0) === t.id) return value;
  return slowIn(t, hash, s1, s2, found ? (value as number) : undefined, false, fallback);
}

/**
 * get(key) !== undefined, as a lookup of its own that makes nothing: a get's value of 2^31 or more
 * is a heap number, which a has() over get made and dropped (1.6x the C floor against 2.0x).
 */
function hasIn(t: OneWindow, key: number): boolean {
  if (typeof key !== "number" || (key >>> 0) !== key) return otherKeyIn(t, key) !== undefined;
  const hash = hashOf(key);
  if (hash === EMPTY) return escapedIn(t) !== undefined;
  const s1 = loadSeq(t.header);
  const i = findIn(t, hash);
  if (i < 0) return slowIn(t, hash, s1, s1, undefined, true, undefined) !== undefined;
  const found = t.slots[i] === hash;
  const s2 = loadSeq(t.header);
  if (s1 === s2 && ((s1 & 1) === 0 || (s1 | 0) === t.dead) && (t.header[t.idWord] | 0) === t.id) return found;
  return slowIn(t, hash, s1, s2, found ? 1 : undefined, false, undefined) !== undefined;
}

/**
 * The reader's slow path for a lookup whose fast check failed, `?? fallback`: one call out of
 * line, which keeps the lookups' bytecode (V8's inlining budget) short.
 */
function slowIn<T>(t: OneWindow | Windows, hash: number, s1: number, s2: number, value: number | undefined, undecided: boolean, fallback: T): number | T {
  const answer = t.slow.slowGet(hash, s1, s2, value, undecided, t.closure);
  return answer === undefined ? fallback : answer;
}

/**
 * getIn for a key that is not a uint32 number: a bigint is the same key as its number (spec
 * §16); the rest are absent. Out of the lookups (in one, it made the inlined getOr 7
 * instructions longer on its hot path).
 */
function otherKeyIn(t: OneWindow, key: unknown): number | undefined {
  if (typeof key !== "bigint" || key < 0n || key > 0xffffffffn) return undefined;
  return getIn(t, Number(key));
}

/**
 * What a one-window lookup reads (makeGet): one object of one shape, made only by makeGet's
 * literal, each field always of one kind (integers made int32 with `| 0`, which V8 keeps
 * untagged; a double; two Uint32Arrays; the slow path): a field that once held another kind
 * would make V8 check every read of it. The reach, the scan and the dead writer's seq change in
 * place (retune), so that a raised reach leaves a caller's loop with the lookups it was compiled
 * for: new ones would make its call site one that has seen two readers (makeGet's comment).
 */
interface OneWindow {
  readonly header: Uint32Array;
  readonly slots: Uint32Array;
  readonly capacity: number;
  /** capacity / 2^32 */
  readonly scale: number;
  reachWords: number;
  /** How findIn reads the four slots from home: SCAN_CHECKED, SCAN_BRANCHES or SCAN_COUNT (scanOf). */
  scan: number;
  readonly idWord: number;
  /** FastCheck's id and dead as int32s (`| 0`), compared with a word `| 0`; dead 0 (even) for none (deadWord). */
  readonly id: number;
  dead: number;
  readonly closure: number;
  readonly slow: SlowPath;
}

/** findIn's scans of the four slots from home (OneWindow.scan). */
const SCAN_CHECKED = 0;
const SCAN_BRANCHES = 1;
const SCAN_COUNT = 2;

/**
 * The slot region, in bytes, past which findIn counts: a table larger than a server CPU's last
 * cache (32 MiB here) is mostly read from memory.
 */
const COUNT_PAST_BYTES = 32 * 2 ** 20;

/**
 * How findIn scans a table. Where the four slots from home are within the reach and the slot
 * region (nearSlotsReadable) it reads them unchecked, with a branch on each (SCAN_BRANCHES) or,
 * past COUNT_PAST_BYTES, counted without a branch (SCAN_COUNT); else one by one, each checked
 * against the reach (SCAN_CHECKED).
 *
 * A loop's exit branch can only guess where a scan stops (at 87.5% load a hit is 3.5 slots from
 * home on average: 20% at home, 72% within four), and while it guesses "further" the CPU runs
 * the same scan on. Counting (how many hold a smaller hash, up to the first that does not; each
 * compare a value, `&`-ed into the next) lets it run on into the next keys' loads while this
 * key's miss is out: worth it where each key's slots are a miss to memory, not where they are
 * in the cache and the guesses come back in a few cycles (makeGet's countPastBytes, for tests,
 * moves the line). Measured with `get-ratio.js --before` (builds of one scan or the other,
 * either as the earlier, two to six runs each), the count took, at 10 M entries (a 91 MB
 * region), has 0.88-0.95x the branches' time, getOr 0.74-0.85x and get 0.83-0.89x on misses
 * and a mix; at 1 M (9 MB) has 1.04-1.13x, getOr 1.20-1.27x, get 1.13-1.31x on hits and
 * 1.07-1.46x on misses and a mix.
 */
function scanOf(reachWords: number, capacity: number, slots: Uint32Array, countPastBytes: number): number {
  if (!nearSlotsReadable(reachWords, capacity, slots.length / WORDS)) return SCAN_CHECKED;
  return slots.byteLength > countPastBytes ? SCAN_COUNT : SCAN_BRANCHES;
}

/**
 * §5.3 from the home slot: the word index of the slot the scan stops at (the first whose hash
 * is not smaller), or NOT_DECIDED when it used up the reach. The four slots from home as
 * t.scan says (scanOf); past them, or all of them with SCAN_CHECKED, a loop that checks the
 * bound (only while the slot's hash is still smaller). In a caller's loop that V8 specialized
 * to one reader, `t.scan` is a constant and only its scan is compiled. Indexes stay int32
 * (`| 0`, `<< 1`), so V8 adds no overflow checks.
 */
function findIn(t: OneWindow, hash: number): number {
  const slots = t.slots;
  let i = homeIn(hash, t.capacity, t.scale) << 1;
  const limit = (i + t.reachWords) | 0; // both below 2^29 (one window): an int32, which V8 adds with no overflow check
  const scan = t.scan;
  if (scan === SCAN_COUNT) {
    const c0 = ((slots[i] < hash) as unknown as number) | 0;
    const c1 = c0 & ((slots[i + 2] < hash) as unknown as number);
    const c2 = c1 & ((slots[i + 4] < hash) as unknown as number);
    const c3 = c2 & ((slots[i + 6] < hash) as unknown as number);
    const stop = (i + ((c0 + c1 + c2 + c3) << 1)) | 0;
    if (c3 === 0) return stop;
    i = (stop - WORDS) | 0; // the fourth slot, whose hash is smaller: the loop goes on from the next
  } else if (slots[i] >= hash) {
    return i;
  } else if (scan === SCAN_BRANCHES) {
    if (slots[i + 2] >= hash) return i + 2;
    if (slots[i + 4] >= hash) return i + 4;
    if (slots[i + 6] >= hash) return i + 6;
    i = (i + 6) | 0;
  }
  do {
    i = (i + WORDS) | 0;
    if (i > limit) return NOT_DECIDED;
  } while (slots[i] < hash);
  return i;
}

/** `value ?? fallback`, out of line: the lookups' rare paths share it, and it keeps their bytecode short. */
function orElse<T>(value: number | undefined, fallback: T): number | T {
  return value === undefined ? fallback : value;
}

/**
 * The escaped key's lookup (§5.3: the state word, then the escaped word) with the fast check of
 * §11.7, for a get whose key hashes to EMPTY: one key in 2^32, kept off the hot path (and
 * reading `t` as the lookups do: a writer found dead since (retune) is dead here too).
 */
function escapedIn(t: OneWindow | Windows): number | undefined {
  const header = t.header;
  const s1 = loadSeq(header);
  const value = (header[STATE] & ESCAPED) !== 0 ? header[ESCAPED_VALUE] : undefined;
  const s2 = loadSeq(header);
  if (s1 === s2 && ((s1 & 1) === 0 || (s1 | 0) === t.dead) && (header[t.idWord] | 0) === t.id) return value;
  return t.slow.slowGet(EMPTY, s1, s2, value, false, t.closure);
}

/**
 * makeGet for a file of several windows (past SEGMENT_SLOTS slots: 2 GiB of slots), in
 * makeGet's shape: closures that pass their key, with `t`, to module-level functions
 * (findWindowed).
 */
export function makeWindowedGet(
  slow: SlowPath, header: Uint32Array, windows: readonly Uint32Array[], windowSlots: number, capacity: number, reachWords: number,
  check: FastCheck,
) {
  if (!Number.isInteger(Math.log2(windowSlots))) throw new RangeError(`windows of a power of two of slots, not ${windowSlots}`);
  const lastWindow = windows.length - 1;
  const slotCount = lastWindow * windowSlots + windows[lastWindow].length / WORDS;
  const t: Windows = {
    header,
    windows,
    windowSlots: windowSlots | 0,
    toWindow: 1 / windowSlots,
    lastWindow: lastWindow | 0,
    capacity,
    capacityLow: capacity | 0,
    scale: capacity * INV_2_32,
    reachWords: Math.min(reachWords, MAX_REACH_WORDS),
    near: nearSlotsReadable(reachWords, capacity, slotCount) ? 1 : 0,
    idWord: check.idWord | 0,
    id: check.id | 0,
    dead: deadWord(check.dead),
    closure: check.closure | 0,
    slow,
  };
  const get = (key: number): number | undefined => windowedGetIn(t, key);
  const getOr = <T>(key: number, fallback: T): number | T => windowedGetOrIn(t, key, fallback);
  const has = (key: number): boolean => windowedHasIn(t, key);
  /** makeGet's retune. */
  const retune = (words: number, dead: number): void => {
    t.reachWords = Math.min(words, MAX_REACH_WORDS);
    t.near = nearSlotsReadable(words, capacity, slotCount) ? 1 : 0;
    t.dead = deadWord(dead);
  };
  return { get, getOr, has, retune };
}

/**
 * What a windowed lookup reads (makeWindowedGet), one object of one shape as OneWindow is. The
 * capacity (up to 2^33) twice: as a number, for exactHome, and as its low 32 bits (int32), for
 * Math.imul, which takes no more.
 */
interface Windows {
  readonly header: Uint32Array;
  readonly windows: readonly Uint32Array[];
  readonly windowSlots: number;
  /** 1 / windowSlots */
  readonly toWindow: number;
  readonly lastWindow: number;
  readonly capacity: number;
  readonly capacityLow: number;
  readonly scale: number;
  reachWords: number;
  /** 1 where the four slots from home are within the reach and the region (and then within the window: findWindowed), else 0. */
  near: number;
  readonly idWord: number;
  readonly id: number;
  dead: number;
  readonly closure: number;
  readonly slow: SlowPath;
}

/**
 * getIn of a windowed file. findWindowed answers a code for the slot holding the hash, ABSENT,
 * or NOT_DECIDED; the escaped key and an undecided probe leave the hot path at once, which keeps
 * each lookup short enough for V8 to inline with its probe into the caller's loop (getOr with
 * the counting find was not: 1.3x its time at 300 M entries).
 */
function windowedGetIn(t: Windows, key: number): number | undefined {
  if (typeof key !== "number" || (key >>> 0) !== key) return otherKeyWindowed(t, key);
  const hash = hashOf(key);
  if (hash === EMPTY) return escapedIn(t);
  const s1 = loadSeq(t.header);
  const i = findWindowed(t, hash);
  if (i === NOT_DECIDED) return slowIn(t, hash, s1, s1, undefined, true, undefined);
  const value = i >= 0 ? valueWindowed(t, i) : undefined;
  const s2 = loadSeq(t.header);
  if (s1 === s2 && ((s1 & 1) === 0 || (s1 | 0) === t.dead) && (t.header[t.idWord] | 0) === t.id) return value;
  return slowIn(t, hash, s1, s2, value, false, undefined);
}

/** getOrIn of a windowed file. */
function windowedGetOrIn<T>(t: Windows, key: number, fallback: T): number | T {
  if (typeof key !== "number" || (key >>> 0) !== key) return orElse(otherKeyWindowed(t, key), fallback);
  const hash = hashOf(key);
  if (hash === EMPTY) return orElse(escapedIn(t), fallback);
  const s1 = loadSeq(t.header);
  const i = findWindowed(t, hash);
  if (i === NOT_DECIDED) return slowIn(t, hash, s1, s1, undefined, true, fallback);
  const value = i >= 0 ? valueWindowed(t, i) : fallback;
  const s2 = loadSeq(t.header);
  if (s1 === s2 && ((s1 & 1) === 0 || (s1 | 0) === t.dead) && (t.header[t.idWord] | 0) === t.id) return value;
  return slowIn(t, hash, s1, s2, i >= 0 ? (value as number) : undefined, false, fallback);
}

/** hasIn of a windowed file. */
function windowedHasIn(t: Windows, key: number): boolean {
  if (typeof key !== "number" || (key >>> 0) !== key) return otherKeyWindowed(t, key) !== undefined;
  const hash = hashOf(key);
  if (hash === EMPTY) return escapedIn(t) !== undefined;
  const s1 = loadSeq(t.header);
  const i = findWindowed(t, hash);
  if (i === NOT_DECIDED) return slowIn(t, hash, s1, s1, undefined, true, undefined) !== undefined;
  const s2 = loadSeq(t.header);
  if (s1 === s2 && ((s1 & 1) === 0 || (s1 | 0) === t.dead) && (t.header[t.idWord] | 0) === t.id) return i >= 0;
  return slowIn(t, hash, s1, s2, i >= 0 ? 1 : undefined, false, undefined) !== undefined;
}

/** otherKeyIn of a windowed file. */
function otherKeyWindowed(t: Windows, key: unknown): number | undefined {
  if (typeof key !== "bigint" || key < 0n || key > 0xffffffffn) return undefined;
  return windowedGetIn(t, Number(key));
}

/**
 * findIn for a file of several windows: the code of the slot holding the hash (WINDOW_CODE),
 * ABSENT, or NOT_DECIDED. The home slot as homeFunction computes it, for a capacity up to 2^33:
 * hash * (capacity / 2^32), off by at most 2^-21 below 2^33, so that only a product whose low
 * 32 bits are in their top 2^16 takes exactHome. Its window is the quotient by windowSlots (a
 * power of two: the multiply by its inverse and the difference are exact) and the slot in it
 * the rest. A probe that could run past the window's overlap (the window's own slots plus
 * OVERLAP_SLOTS, core/slots.ts) takes the slow path, which walks across windows: the loop itself
 * checks no window bound. The four slots from home are counted without a branch (findIn's
 * SCAN_COUNT: a windowed file is past 2 GiB of slots); one return and one loop, which keeps this
 * find short enough for getOr to inline with it.
 */
function findWindowed(t: Windows, hash: number): number {
  const home = (Math.imul(hash, t.capacityLow) >>> 16) === NEAR_NEXT ? exactHome(hash, t.capacity) : hash * t.scale;
  const k = (home * t.toWindow) >>> 0;
  const slots = t.windows[k];
  let i = ((home - k * t.windowSlots) >>> 0) << 1;
  const limit = (i + t.reachWords) | 0; // below 2^29 + 2^30 (MAX_REACH_WORDS): an int32, with no overflow check
  if (limit >= slots.length && k !== t.lastWindow) return NOT_DECIDED; // could cross into the next window
  let more: number;
  if (t.near !== 0) {
    const c0 = ((slots[i] < hash) as unknown as number) | 0;
    const c1 = c0 & ((slots[i + 2] < hash) as unknown as number);
    const c2 = c1 & ((slots[i + 4] < hash) as unknown as number);
    more = c2 & ((slots[i + 6] < hash) as unknown as number);
    i = (i + ((c0 + c1 + c2) << 1)) | 0; // the stop, or (more) the fourth slot, whose hash is smaller
  } else {
    more = ((slots[i] < hash) as unknown as number) | 0;
  }
  if (more !== 0) {
    do {
      i = (i + WORDS) | 0;
      if (i > limit) return NOT_DECIDED;
    } while (slots[i] < hash);
  }
  return slots[i] === hash ? k * WINDOW_CODE + i : ABSENT;
}

/** The value of the slot of a findWindowed code. */
function valueWindowed(t: Windows, code: number): number {
  const k = Math.floor(code / WINDOW_CODE);
  return t.windows[k][(code - k * WINDOW_CODE) | 1];
}

/**
 * The reach, in words, of a windowed probe or a version 3 file's: a reach read from a file of
 * up to 2^33 slots (2^40 for version 3) may be past int32, which `t.reachWords` must not be (V8
 * would check every read of the field), nor a scan's limit (a window's word index, below 2^29,
 * plus this: `| 0` with no overflow check). A probe that runs this far (2^28 slots or more)
 * goes to the slow path, which walks any reach.
 */
const MAX_REACH_WORDS = 2 ** 30;

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
const ROUNDS = new Uint32Array([ROUND_1, ROUND_2, ROUND_3, ROUND_4]);
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
 * get, getOr and has of a version 3 file (§16), over one window or several. Keys are numbers (safe
 * integers) or bigints; anything else, or a key wider than the file's keys, is absent. A number
 * key is split into its 32-bit halves with integer operations, the hash is computed on them and
 * the hash word compared as two uint32 halves (high first), so the loop stays in int32: no
 * bigint is made unless a value is above 2^53 - 1 (keys.ts), and a bigint key is read through a
 * BigUint64Array (nothing allocated). One closure a key width and a value width: the whole get,
 * with its probe, stays inside V8's budget for inlining it into the caller's loop
 * (test/inlining.test.ts).
 */
export function makeWideGet(
  slow: WideSlowPath, header: Uint32Array, windows: readonly Uint32Array[], windowSlots: number, capacity: number, reach: number,
  check: FastCheck, keyBits: 32 | 64, valueBits: 32 | 64,
) {
  const sw = (keyBits + valueBits) / 32; // §16.1: 12- or 16-byte slots
  const reachWords = Math.min(reach * sw, MAX_REACH_WORDS); // an int32 for the scans (a longer probe goes to the slow path)
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
  const valueAt = windows.length === 1 ? wideValue(windows[0], keyBits / 32, valueBits, valueHalves, valueBig) : wideWindowedValue(windows, keyBits, valueBits, bigintOf);
  const { idWord, id, dead, closure } = check;
  const slowGet = (low: number, high: number, s1: number, s2: number, value: Id | undefined, undecided: boolean) =>
    slow.slowGetWide(low, high, keyBits, s1, s2, value, undecided, closure);
  const getOf = (valueOf: (i: number) => Id) => {
    const lookup = wideLookup(header, find, valueOf, keyBits === 64 ? EMPTY : 0, idWord, id, dead, slowGet);
    return keyBits === 64 ? wideGet64(lookup, halves, big) : wideGet32(lookup, halves, big);
  };
  const get = getOf(valueAt);
  return { get, getOr: wideGetOr(get), has: hasOver(getOf(present)) };
}

/**
 * A found key's "value" for a version 3 file's has(): a get over it answers 1 or undefined, so
 * has() makes nothing (a get's 64-bit value above 2^53 is a bigint, which a has() written as
 * get(key) !== undefined made and dropped).
 */
const present = (): number => 1;

/** has() over a get that answers `present` for a key it finds. */
function hasOver(presence: (key: never) => unknown) {
  const has = (key: never): boolean => presence(key) !== undefined;
  return has;
}

/** get(key) ?? fallback over a wide get. */
function wideGetOr(get: (key: Id) => Id | undefined) {
  const getOr = <T>(key: Id, fallback: T): Id | T => {
    const value = get(key);
    return value === undefined ? fallback : value;
  };
  return getOr;
}

/*
 * The parts of the wide get, each made by a function of its own: what a closure takes from its
 * maker's parameters it reads with no check that it is initialized yet, as it must a const of
 * the same scope (V8's hole checks: bytecode that counts against the inlining budget).
 */

/** The probe and the fast check of §11.7 for the hash word (low, high); the slow path past it. */
function wideLookup(
  header: Uint32Array, find: (low: number, high: number) => number, valueAt: (i: number) => Id, emptyHigh: number,
  idWord: number, id: number, dead: number,
  slowGet: (low: number, high: number, s1: number, s2: number, value: Id | undefined, undecided: boolean) => Id | undefined,
) {
  return (low: number, high: number): Id | undefined => {
    const s1 = loadSeq(header);
    // The escaped key's hash word is in no slot: its get takes the slow path, which reads the
    // header (bytecode the other keys' gets do not carry inside the inlining budget).
    const i = low !== EMPTY || high !== emptyHigh ? find(low, high) : NOT_DECIDED;
    const value = i >= 0 ? valueAt(i) : undefined;
    const s2 = loadSeq(header);
    if (s1 === s2 && ((s1 & 1) === 0 || s1 === dead) && header[idWord] === id && i !== NOT_DECIDED) return value;
    return slowGet(low, high, s1, s2, value, i === NOT_DECIDED);
  };
}

/**
 * The get of 64-bit keys: the key's halves, then §16.3's hash64 of them, all in int32s, written
 * into get itself (as a function of its own, the tree of calls passed V8's inlining budget).
 */
function wideGet64(lookup: (low: number, high: number) => Id | undefined, halves: Uint32Array, big: BigUint64Array) {
  const get = (key: Id): Id | undefined => {
    let lo: number;
    let hi: number;
    if (typeof key === "number") {
      // The halves of a safe integer, exactly; anything else fails the check on the high one.
      lo = key >>> 0;
      hi = (key - lo) * INV_2_32;
      if ((hi >>> 0) !== hi || hi >= SAFE_HIGH) return undefined;
    } else {
      if (!bigintHalves(key, halves, big)) return undefined;
      lo = halves[0];
      hi = halves[1];
    }
    // Two rounds a pass: four written out are twice the bytecode.
    // hash32 takes any int32's bits; the halves are uint32 again for the compare with a slot.
    for (let r = 0; r < 4; r += 2) {
      lo ^= hashOf(hi ^ ROUNDS[r]);
      hi ^= hashOf(lo ^ ROUNDS[r + 1]);
    }
    return lookup(lo >>> 0, hi >>> 0);
  };
  return get;
}

/** The get of 32-bit keys in a version 3 file (32/64). */
function wideGet32(lookup: (low: number, high: number) => Id | undefined, halves: Uint32Array, big: BigUint64Array) {
  const get = (key: Id): Id | undefined => {
    if (typeof key === "number") return (key >>> 0) === key ? lookup(hashOf(key), 0) : undefined;
    return bigintHalves(key, halves, big) && halves[1] === 0 ? lookup(hashOf(halves[0]), 0) : undefined;
  };
  return get;
}

/**
 * The value of the slot at word index i of a one-window file: a number, or above 2^53 - 1 a
 * bigint (keys.ts). One closure a value width, so that each is a few bytecodes where it is inlined.
 */
function wideValue(slots: Uint32Array, at: number, valueBits: 32 | 64, valueHalves: Uint32Array, valueBig: BigUint64Array) {
  if (valueBits === 32) return (i: number): Id => slots[i + at];
  return (i: number): Id => {
    const low = slots[i + at];
    const high = slots[i + at + 1];
    if (high < SAFE_HIGH) return high * TWO_32 + low;
    // bigintOf, written out: a call of its own costs the get's inlining budget what this does.
    valueHalves[0] = low;
    valueHalves[1] = high;
    return valueBig[0];
  };
}

/** wideValue for a file of several windows: i is a windowed find's code (WINDOW_CODE). */
function wideWindowedValue(windows: readonly Uint32Array[], keyBits: 32 | 64, valueBits: 32 | 64, bigintOf: (low: number, high: number) => bigint) {
  const at = keyBits / 32;
  return (code: number): Id => {
    const k = Math.floor(code / WINDOW_CODE);
    const slots = windows[k];
    const i = code - k * WINDOW_CODE + at;
    if (valueBits === 32) return slots[i];
    const high = slots[i + 1];
    return high < SAFE_HIGH ? high * TWO_32 + slots[i] : bigintOf(slots[i], high);
  };
}


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
  // One loop for the home slot and the rest: a check before the loop and the same in it cost
  // the 64-bit get 40 bytecodes of its inlining budget. Below 2^29 + 2^30: an int32, no overflow check.
  const limit = (i + reachWords) | 0;
  for (;;) {
    const wh = slots[i + 1];
    if (wh >= high) {
      if (wh !== high) return ABSENT;
      const wl = slots[i];
      if (wl >= low) return wl === low ? i : ABSENT;
    }
    i = (i + sw) | 0;
    if (i > limit) return NOT_DECIDED;
  }
}

/** scan64 for 32-bit hash words (the 32/64 layout). */
function scan32(slots: Uint32Array, i: number, reachWords: number, hash: number, sw: number): number {
  let word = slots[i];
  if (word < hash) {
    const limit = (i + reachWords) | 0;
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
