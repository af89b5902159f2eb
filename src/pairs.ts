/** A growable pair of uint32 columns: the builder's input, filled by the parser or an iterable. */
export class PairBuffer {
  keys: Uint32Array;
  values: Uint32Array;
  length = 0;

  constructor(initialCapacity = 1 << 16) {
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
    if (capacity > this.keys.length) this.#resize(capacity);
  }

  /** Doubles the room (for writers that fill the columns directly and set `length`). */
  grow(): void {
    this.#resize(Math.max(16, this.keys.length * 2));
  }

  #resize(capacity: number): void {
    const keys = new Uint32Array(capacity);
    const values = new Uint32Array(capacity);
    keys.set(this.keys);
    values.set(this.values);
    this.keys = keys;
    this.values = values;
  }
}
