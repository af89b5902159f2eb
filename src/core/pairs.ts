/**
 * Key/value pairs as the API takes them (iterables of [key, value], Maps, parallel columns),
 * checked once here and gathered into growable uint32 columns: the builder's and the writer's
 * input.
 */
import { describeValue, invalid } from "./args";

/** A growable pair of uint32 columns. */
export class PairBuffer {
  keys: Uint32Array;
  values: Uint32Array;
  length = 0;

  /** `limit`: the most pairs it grows to (a builder spills when the buffer holds that many). */
  constructor(initialCapacity = 1 << 16, readonly limit = Infinity) {
    this.keys = new Uint32Array(initialCapacity);
    this.values = new Uint32Array(initialCapacity);
  }

  push(key: number, value: number): void {
    if (this.length === this.keys.length) this.grow();
    this.keys[this.length] = key;
    this.values[this.length] = value;
    this.length++;
  }

  /** Makes room for `capacity` pairs in all, so that a known-size input is not copied as it grows. */
  reserve(capacity: number): void {
    capacity = Math.min(capacity, this.limit);
    if (capacity > this.keys.length) this.#resize(capacity);
  }

  /** Doubles the room, up to the limit (for writers that fill the columns directly and set `length`). */
  grow(): void {
    // A full buffer at its limit is emptied by its owner before it takes another pair: a write
    // past the end of a typed array would be lost without a word.
    if (this.keys.length >= this.limit) throw new Error(`PairBuffer: full at its limit of ${this.limit} pairs`);
    this.#resize(Math.min(this.limit, Math.max(16, this.keys.length * 2)));
  }

  #resize(capacity: number): void {
    const keys = new Uint32Array(capacity);
    const values = new Uint32Array(capacity);
    keys.set(this.keys.subarray(0, this.length));
    values.set(this.values.subarray(0, this.length));
    this.keys = keys;
    this.values = values;
  }
}

/** Parallel columns: keys[i] maps to values[i]. */
export interface Columns {
  keys: ArrayLike<number>;
  values: ArrayLike<number>;
}

/**
 * Checks each pair as it arrives and appends it to `out`; `path` names the index in messages.
 * `onFull`, called when `out` is full, may empty it (a builder spilling to disk); if it does
 * not, `out` grows.
 */
export class PairCollector {
  #at = 0;

  constructor(
    readonly path: string,
    readonly out: PairBuffer = new PairBuffer(),
    readonly onFull?: () => boolean,
  ) {}

  add(key: unknown, value: unknown): void {
    const keyOk = typeof key === "number" && (key >>> 0) === key;
    const valueOk = typeof value === "number" && (value >>> 0) === value;
    if (!keyOk || !valueOk) {
      const bad = keyOk ? `value ${describeValue(value)}` : `key ${describeValue(key)}`;
      throw invalid(`pair #${this.#at}: ${bad} is not an integer from 0 to 4294967295`, this.path);
    }
    const out = this.out;
    if (out.length === out.keys.length) this.onFull?.();
    out.push(key as number, value as number);
    this.#at++;
  }

  /** One element of an iterable of pairs. */
  addPair(pair: unknown): void {
    if (!Array.isArray(pair) || pair.length < 2) {
      throw invalid(`pair #${this.#at} is not a [key, value] array (it is ${describeValue(pair)})`, this.path);
    }
    this.add(pair[0], pair[1]);
  }

  addColumns(columns: Columns): void {
    const { keys, values } = columns;
    if (!isLength(keys?.length) || !isLength(values?.length)) {
      throw invalid(`columns must be { keys, values }, two arrays of numbers (their lengths are ${describeValue(keys?.length)} and ${describeValue(values?.length)})`, this.path);
    }
    if (keys.length !== values.length) throw invalid(`keys (${keys.length}) and values (${values.length}) differ in length`, this.path);
    if (this.onFull === undefined) this.out.reserve(this.out.length + keys.length);
    for (let i = 0; i < keys.length; i++) this.add(keys[i], values[i]);
  }

  /** Any synchronous source: an iterable of pairs (a Map, an IdIndex, an IdWriter) or columns. */
  addSync(source: unknown): void {
    if (source instanceof PairBuffer) {
      return this.addColumns({ keys: source.keys.subarray(0, source.length), values: source.values.subarray(0, source.length) });
    }
    if (isColumns(source)) return this.addColumns(source);
    if (source === null || typeof source !== "object" || !(Symbol.iterator in source)) {
      const kind = source !== null && typeof source === "object" && Symbol.asyncIterator in source ? "an async iterable (only build() takes one)" : describeValue(source);
      throw invalid(`pairs must be an iterable of [key, value], a Map, or { keys, values }, not ${kind}`, this.path);
    }
    for (const pair of source as Iterable<unknown>) this.addPair(pair);
  }
}

/** A length columns may have: a whole number of at most 2^32 (a table holds no more entries). */
function isLength(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 2 ** 32;
}

/** { keys, values } columns rather than an iterable of pairs. */
export function isColumns(p: unknown): p is Columns {
  if (p === null || typeof p !== "object" || Symbol.iterator in p || Symbol.asyncIterator in p) return false;
  const c = p as { keys?: unknown; values?: unknown };
  return typeof c.keys === "object" && c.keys !== null && typeof c.values === "object" && c.values !== null;
}
