/** Checks an open index against the Map it should hold: every read the API offers. */
import { expect } from "vitest";
import type { IdIndex } from "../../src/index";

const MAX_SHOWN = 10;

function firstFew<T>(list: T[]): T[] {
  return list.slice(0, MAX_SHOWN);
}

/**
 * Asserts that `ix` answers exactly like `map`: size, get/has of every key, get/has of every
 * key in `misses` (keys not in the map), getMany with and without found flags, and iteration
 * (for..of, entries, keys, values, forEach) yielding exactly the map's entries once each.
 */
export function expectIndexMatches(ix: IdIndex, map: ReadonlyMap<number, number>, misses: readonly number[]): void {
  expect(ix.size).toBe(map.size);

  const wrong: string[] = [];
  for (const [k, v] of map) {
    const got = ix.get(k);
    if (got !== v) wrong.push(`get(${k}) = ${got}, expected ${v}`);
    if (ix.has(k) !== true) wrong.push(`has(${k}) = false for a present key`);
  }
  for (const k of misses) {
    if (map.has(k)) throw new Error(`test bug: miss ${k} is in the map`);
    const got = ix.get(k);
    if (got !== undefined) wrong.push(`get(${k}) = ${got} for an absent key`);
    if (ix.has(k) !== false) wrong.push(`has(${k}) = true for an absent key`);
  }
  expect(firstFew(wrong)).toEqual([]);

  // getMany: present and absent keys interleaved, so every position matters.
  const present = [...map.keys()];
  const all: number[] = [];
  for (let i = 0; i < Math.max(present.length, misses.length); i++) {
    if (i < misses.length) all.push(misses[i]);
    if (i < present.length) all.push(present[i]);
  }
  const keys = Uint32Array.from(all);
  const values = new Uint32Array(keys.length).fill(0xdeadbeef);
  const found = new Uint8Array(keys.length).fill(7);
  const hits = ix.getMany(keys, values, found);
  expect(hits).toBe(map.size);
  for (let i = 0; i < keys.length; i++) {
    const expected = map.get(keys[i]);
    const ok = expected === undefined ? found[i] === 0 && values[i] === 0 : found[i] === 1 && values[i] === expected;
    if (!ok) wrong.push(`getMany[${i}] key ${keys[i]}: value ${values[i]} found ${found[i]}, expected ${expected ?? "absent (0, 0)"}`);
  }
  const sentinel = 0xfeedf00d;
  const values2 = new Uint32Array(keys.length);
  expect(ix.getMany(keys, values2, undefined, sentinel)).toBe(map.size);
  for (let i = 0; i < keys.length; i++) {
    const expected = map.get(keys[i]) ?? sentinel;
    if (values2[i] !== expected) wrong.push(`getMany(missing=${sentinel})[${i}] key ${keys[i]}: ${values2[i]}, expected ${expected}`);
  }
  expect(firstFew(wrong)).toEqual([]);

  // Iteration: exactly the map's entries, each key once.
  const seen = new Map<number, number>();
  let yielded = 0;
  for (const [k, v] of ix) {
    yielded++;
    if (seen.has(k)) wrong.push(`iteration yields key ${k} twice`);
    seen.set(k, v);
  }
  expect(yielded).toBe(map.size);
  expect(firstFew(wrong)).toEqual([]);
  expect(seen).toEqual(new Map(map));
  expect([...ix.entries()]).toEqual([...ix]);
  expect([...ix.keys()]).toEqual([...ix].map(([k]) => k));
  expect([...ix.values()]).toEqual([...ix].map(([, v]) => v));
  const viaForEach: [number, number][] = [];
  ix.forEach((v, k, self) => {
    expect(self).toBe(ix);
    viaForEach.push([k, v]);
  });
  expect(viaForEach).toEqual([...ix]);
}
