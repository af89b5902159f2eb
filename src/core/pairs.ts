/**
 * Key/value pairs as the API takes them (iterables of [key, value], Maps, parallel columns),
 * checked once here and gathered into growable uint32 columns: the builder's and the writer's
 * input. Keys and values wider than 32 bits (spec §16) put their high words in columns of
 * their own, made at the first such pair: 32-bit input costs what it did.
 */
import { describeValue, invalid } from "./args";
import { Width } from "./format";
import { MAX_U64 } from "./keys";

/** A growable pair of uint32 columns (the low words), and high-word columns once needed. */
export class PairBuffer {
  keys: Uint32Array;
  values: Uint32Array;
  /** The keys' and values' high words: null while every one so far fits 32 bits. */
  keysHigh: Uint32Array | null = null;
  valuesHigh: Uint32Array | null = null;
  length = 0;

  /**
   * `limit`: the most pairs it grows to (a builder spills when the buffer holds that many).
   * `alloc`: makes a zeroed column (a builder passes the addon's, in huge pages).
   * `split`: splitWordsJs, or the addon's (a builder's).
   */
  constructor(
    initialCapacity = 1 << 16,
    readonly limit = Infinity,
    readonly alloc: (n: number) => Uint32Array = (n) => new Uint32Array(n),
    readonly split: typeof splitWordsJs = splitWordsJs,
  ) {
    this.keys = alloc(initialCapacity);
    this.values = alloc(initialCapacity);
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

  /** Appends a pair given as 32-bit halves; makes the high columns it needs. */
  pushWide(keyLow: number, keyHigh: number, valueLow: number, valueHigh: number): void {
    if (this.length === this.keys.length) this.grow();
    const i = this.length;
    if (keyHigh !== 0 && this.keysHigh === null) this.keysHigh = this.alloc(this.keys.length);
    if (valueHigh !== 0 && this.valuesHigh === null) this.valuesHigh = this.alloc(this.keys.length);
    this.keys[i] = keyLow;
    this.values[i] = valueLow;
    if (this.keysHigh !== null) this.keysHigh[i] = keyHigh;
    if (this.valuesHigh !== null) this.valuesHigh[i] = valueHigh;
    this.length = i + 1;
  }

  /** The narrowest widths that hold every key and every value so far (§16.5). */
  get keyBits(): Width {
    return this.keysHigh === null ? 32 : 64;
  }

  get valueBits(): Width {
    return this.valuesHigh === null ? 32 : 64;
  }

  /** Pair i's key and value as the API gives them back: a number when safe, else a bigint. */
  keyAt(i: number): number | bigint {
    return wordOf(this.keys[i], this.keysHigh === null ? 0 : this.keysHigh[i]);
  }

  valueAt(i: number): number | bigint {
    return wordOf(this.values[i], this.valuesHigh === null ? 0 : this.valuesHigh[i]);
  }

  /** All columns at the new capacity, or none (an allocation that fails leaves them as they were). */
  #resize(capacity: number): void {
    const keys = this.#resized(this.keys, capacity);
    const values = this.#resized(this.values, capacity);
    const keysHigh = this.keysHigh === null ? null : this.#resized(this.keysHigh, capacity);
    const valuesHigh = this.valuesHigh === null ? null : this.#resized(this.valuesHigh, capacity);
    this.keys = keys;
    this.values = values;
    this.keysHigh = keysHigh;
    this.valuesHigh = valuesHigh;
  }

  #resized(a: Uint32Array, capacity: number): Uint32Array {
    const b = this.alloc(capacity);
    b.set(a.subarray(0, this.length));
    return b;
  }
}

/** A number below 2^53, a bigint above. */
function wordOf(low: number, high: number): number | bigint {
  return high < 2 ** 21 ? high * 2 ** 32 + low : (BigInt(high) << 32n) | BigInt(low);
}

/** Parallel columns: keys[i] maps to values[i] (a BigUint64Array for 64-bit ones, §16). */
export interface Columns {
  keys: ArrayLike<number | bigint>;
  values: ArrayLike<number | bigint>;
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
    const out = this.out;
    if (typeof key === "number" && (key >>> 0) === key && typeof value === "number" && (value >>> 0) === value && out.keysHigh === null && out.valuesHigh === null) {
      if (out.length === out.keys.length) this.onFull?.();
      out.push(key, value);
    } else {
      const k = halvesOf(key);
      const v = halvesOf(value);
      if (k === null || v === null) {
        const bad = k !== null ? `value ${describeValue(value)}` : `key ${describeValue(key)}`;
        throw invalid(`pair #${this.#at}: ${bad} is not an integer from 0 to ${MAX_U64} (a number up to 2^53 - 1, or a bigint)`, this.path);
      }
      if (out.length === out.keys.length) this.onFull?.();
      out.pushWide(k[0], k[1], v[0], v[1]);
    }
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
    const keyWords = wordsOf(keys);
    const valueWords = wordsOf(values);
    if (keyWords !== null && valueWords !== null) return this.#addWords(keyWords, keys instanceof BigUint64Array, valueWords, values instanceof BigUint64Array, keys.length);
    for (let i = 0; i < keys.length; i++) this.add(keys[i], values[i]);
  }

  /**
   * Columns that are Uint32Arrays or BigUint64Arrays, read as uint32 words (a BigUint64Array's
   * element as its low and high word): every element is a key or value, and no bigint is made.
   */
  #addWords(keys: Uint32Array, wideKeys: boolean, values: Uint32Array, wideValues: boolean, n: number): void {
    const out = this.out;
    let i = 0;
    while (i < n) {
      if (out.length === out.keys.length && !this.onFull?.()) out.grow();
      let end = Math.min(n, i + (out.keys.length - out.length));
      // A first high word: pushWide below makes the column (a narrow input never gets one).
      if (wideKeys && out.keysHigh === null) end = firstHighWord(keys, i, end);
      if (wideValues && out.valuesHigh === null) end = firstHighWord(values, i, end);
      // Column by column, with no per-pair width checks (a 64/32 build of 10 M pairs spent 60 ms
      // more in one loop that wrote all four); a wide one by the addon's splitWords in a build.
      const at = out.length;
      copyColumn(keys, wideKeys, i, end, out.keys, out.keysHigh, at, out.split);
      copyColumn(values, wideValues, i, end, out.values, out.valuesHigh, at, out.split);
      out.length = at + (end - i);
      i = end;
      if (i < n && out.length < out.keys.length) {
        out.pushWide(wideKeys ? keys[2 * i] : keys[i], wideKeys ? keys[2 * i + 1] : 0, wideValues ? values[2 * i] : values[i], wideValues ? values[2 * i + 1] : 0);
        i++;
      }
    }
    this.#at += n;
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

/** The first of elements from..end whose high word is not 0 (end if none); words: a BigUint64Array's. */
function firstHighWord(words: Uint32Array, from: number, end: number): number {
  for (let i = from; i < end; i++) if (words[2 * i + 1] !== 0) return i;
  return end;
}

/**
 * Elements start..end of a column into `low` and `high` (when not null) from `at`: a
 * BigUint64Array's (as its words) when `wide`, else a Uint32Array's (whose high words are 0).
 */
function copyColumn(
  from: Uint32Array, wide: boolean, start: number, end: number, low: Uint32Array, high: Uint32Array | null, at: number, split: typeof splitWordsJs,
): void {
  if (wide) return split(from, start, end - start, low, high, at);
  low.set(from.subarray(start, end), at);
  high?.fill(0, at, at + (end - start));
}

/** Elements from..from+n of a BigUint64Array, as its uint32 words, into low[at..] and high[at..] (high null: low words only). */
export function splitWordsJs(words: Uint32Array, from: number, n: number, low: Uint32Array, high: Uint32Array | null, at: number): void {
  for (let i = 0; i < n; i++) low[at + i] = words[2 * (from + i)];
  if (high !== null) for (let i = 0; i < n; i++) high[at + i] = words[2 * (from + i) + 1];
}

/** An unsigned integer below 2^64 as [low, high] 32-bit words, or null. */
function halvesOf(v: unknown): [number, number] | null {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v) || v < 0) return null;
    return [v % 2 ** 32, Math.floor(v / 2 ** 32)];
  }
  if (typeof v === "bigint") {
    if (v < 0n || v > MAX_U64) return null;
    return [Number(v & 0xffffffffn), Number(v >> 32n)];
  }
  return null;
}

/** A column's elements as uint32 words, when it is a Uint32Array or a BigUint64Array (on a little-endian CPU). */
function wordsOf(column: unknown): Uint32Array | null {
  if (column instanceof Uint32Array) return column;
  if (column instanceof BigUint64Array) return new Uint32Array(column.buffer, column.byteOffset, column.length * 2);
  return null;
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
