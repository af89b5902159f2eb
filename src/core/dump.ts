/**
 * Entries as text lines or binary pairs, for `idx dump` (the addon's formatPairs and
 * formatPairsWide compute the same text; the tests compare them). Pure: works on slot words it
 * is given. Binary pairs are at the file's widths (§16): the key, then the value, each a
 * little-endian u32 or u64.
 */
import { LAYOUT_V2, Layout } from "./format";
import { keyOfHash } from "./keys";
import { Word, hashAtWord } from "./slots";
import { isEntry } from "./table";

/** The longest line: 20 digits, a tab, 20 digits, a newline (10 and 10 for 32-bit widths). */
export const MAX_LINE = 42;

/** What formatEntries needs of a layout: the slot's words and the two widths. */
export type DumpLayout = Pick<Layout, "slotWords" | "valueOffset" | "keyBits" | "valueBits">;

/**
 * Writes "key\tvalue\n" for each entry of words[from..to) (word indexes, a slot each
 * layout.slotWords) into `out` while a line still fits, or, `binary`, the key and value at the
 * layout's widths. `previous` is the hash word of the slot before `from`; entries whose hash
 * is not above `after` are skipped (a reader that followed a new file goes on past the last one
 * it gave; -1: none). Returns [next word index, bytes written, hash word of the last slot read,
 * hash of the last entry written or -1].
 */
export function formatEntries(
  words: Uint32Array, from: number, to: number, previous: Word, out: Uint8Array, binary: boolean, after: Word = -1,
  layout: DumpLayout = LAYOUT_V2,
): [number, number, Word, Word] {
  let n = 0;
  let i = from;
  let lastEntry: Word = -1;
  const sw = layout.slotWords;
  const wideKeys = layout.keyBits === 64;
  const wideValues = layout.valueBits === 64;
  const empty = hashAtWord(EMPTY_WORDS, 0, wideKeys);
  const room = out.length - (binary ? 16 : MAX_LINE);
  for (; i < to && n <= room; i += sw) {
    const hash = sw === 2 ? words[i] : hashAtWord(words, i, wideKeys);
    if (isEntry(previous, hash, empty) && hash > after) {
      lastEntry = hash;
      if (sw === 2) {
        n = putEntry(out, n, keyOfHash(hash, 32), words[i + 1], binary, layout);
      } else {
        const v = layout.valueOffset;
        const value = wideValues ? hashAtWord(words, i + v, true) : words[i + v];
        n = putEntry(out, n, keyOfHash(hash, layout.keyBits), value, binary, layout);
      }
    }
    previous = hash;
  }
  return [i, n, previous, lastEntry];
}

const EMPTY_WORDS = Uint32Array.of(0xffffffff, 0xffffffff);

/** One entry (the escaped key's) in the same form. */
export function formatEntry(key: Word, value: Word, out: Uint8Array, binary: boolean, layout: DumpLayout = LAYOUT_V2): number {
  return putEntry(out, 0, key, value, binary, layout);
}

function putEntry(out: Uint8Array, n: number, key: Word, value: Word, binary: boolean, layout: DumpLayout): number {
  if (binary) {
    n = putUint(out, n, key, layout.keyBits);
    return putUint(out, n, value, layout.valueBits);
  }
  n = putDecimal(out, n, key);
  out[n++] = 9;
  n = putDecimal(out, n, value);
  out[n++] = 10;
  return n;
}

/** x as a little-endian u32 or u64 at `at`. */
function putUint(out: Uint8Array, at: number, x: Word, bits: 32 | 64): number {
  const low = typeof x === "number" ? x % 4294967296 : Number(x & 0xffffffffn);
  at = putUint32(out, at, low);
  if (bits === 32) return at;
  const high = typeof x === "number" ? Math.floor(x / 4294967296) : Number(x >> 32n);
  return putUint32(out, at, high);
}

function putUint32(out: Uint8Array, at: number, x: number): number {
  out[at] = x & 0xff;
  out[at + 1] = (x >>> 8) & 0xff;
  out[at + 2] = (x >>> 16) & 0xff;
  out[at + 3] = x >>> 24;
  return at + 4;
}

function putDecimal(out: Uint8Array, at: number, x: Word): number {
  if (typeof x === "bigint") {
    const text = x.toString();
    for (let j = 0; j < text.length; j++) out[at + j] = text.charCodeAt(j);
    return at + text.length;
  }
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
