/**
 * Entries as text lines or binary pairs, for `idx dump` (the addon's formatPairs computes the
 * same text; the tests compare them). Pure: works on slot words it is given.
 */
import { SLOT_WORDS } from "./format";
import { unhash32 } from "./hash";
import { isEntry } from "./table";

/** The longest line: 10 digits, a tab, 10 digits, a newline. */
export const MAX_LINE = 22;

/**
 * Writes "key\tvalue\n" for each entry of words[from..to) (word indexes, a slot each two) into
 * `out` while a line still fits, or, `binary`, the key and value as little-endian uint32s.
 * `previous` is the hash word of the slot before `from`; entries whose hash is not above
 * `after` are skipped (a reader that followed a new file goes on past the last one it gave).
 * Returns [next word index, bytes written, hash word of the last slot read, hash of the last
 * entry written or -1].
 */
export function formatEntries(
  words: Uint32Array, from: number, to: number, previous: number, out: Uint8Array, binary: boolean, after = -1,
): [number, number, number, number] {
  let n = 0;
  let i = from;
  let lastEntry = -1;
  const room = out.length - (binary ? 8 : MAX_LINE);
  for (; i < to && n <= room; i += SLOT_WORDS) {
    const hash = words[i];
    if (isEntry(previous, hash) && hash > after) {
      const key = unhash32(hash);
      const value = words[i + 1];
      lastEntry = hash;
      if (binary) {
        n = putUint32(out, n, key);
        n = putUint32(out, n, value);
      } else {
        n = putDecimal(out, n, key);
        out[n++] = 9;
        n = putDecimal(out, n, value);
        out[n++] = 10;
      }
    }
    previous = hash;
  }
  return [i, n, previous, lastEntry];
}

/** One entry (the escaped key's) in the same form. */
export function formatEntry(key: number, value: number, out: Uint8Array, binary: boolean): number {
  if (binary) return putUint32(out, putUint32(out, 0, key), value);
  let n = putDecimal(out, 0, key);
  out[n++] = 9;
  n = putDecimal(out, n, value);
  out[n++] = 10;
  return n;
}

function putUint32(out: Uint8Array, at: number, x: number): number {
  out[at] = x & 0xff;
  out[at + 1] = (x >>> 8) & 0xff;
  out[at + 2] = (x >>> 16) & 0xff;
  out[at + 3] = x >>> 24;
  return at + 4;
}

function putDecimal(out: Uint8Array, at: number, x: number): number {
  if (x === 0) {
    out[at] = 48;
    return at + 1;
  }
  let digits = 0;
  for (let y = x; y > 0; y = Math.floor(y / 10)) digits++;
  for (let i = at + digits - 1; i >= at; i--) {
    out[i] = 48 + (x % 10);
    x = Math.floor(x / 10);
  }
  return at + digits;
}
