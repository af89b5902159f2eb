/**
 * Keys and values as the API takes and gives them (spec §16): a key or value is an unsigned
 * integer below 2^64, passed as a number (a safe integer) or a bigint. What the index gives back
 * is a number while it is a safe integer (at most 2^53 - 1) and a bigint above, so that no
 * answer is ever rounded: every value of a file of 32-bit values is a number. Hash words of a
 * width: a number for 32-bit keys, a bigint for 64-bit keys (core/slots.ts Word).
 */
import { describeValue, invalid } from "./args";
import { EMPTY_HASH, EMPTY_HASH_64, ESCAPED_KEY, ESCAPED_KEY_64, Width } from "./format";
import { hash32, hash64, unhash32, unhash64 } from "./hash";
import { Word } from "./slots";

export const MAX_U32 = 0xffffffff;
export const MAX_U64 = 0xffffffffffffffffn;

/** A key or value as the API gives it back: a number when safe, a bigint above. */
export type Id = number | bigint;

/**
 * The unsigned integer `v` is, as a number when it fits one exactly (below 2^53) or a bigint,
 * or null when it is not a key or value at all: a negative, fractional or unsafe number (a
 * number above 2^53 - 1 may already have been rounded), a bigint outside 0..2^64 - 1, or not a
 * number or bigint.
 */
export function idOf(v: unknown): Id | null {
  if (typeof v === "number") return Number.isSafeInteger(v) && v >= 0 ? v : null;
  if (typeof v === "bigint") {
    if (v < 0n || v > MAX_U64) return null;
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  return null;
}

/** The narrowest width (§16.5) that holds `id`. */
export function widthOf(id: Id): Width {
  return typeof id === "number" ? (id <= MAX_U32 ? 32 : 64) : 64;
}

/** An id as the API gives it back (see the module comment): from a 64-bit word. */
export function idFromWord(w: Word): Id {
  return typeof w === "number" ? w : w <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(w) : w;
}

/** The id as a bigint (for 64-bit arithmetic that must be exact). */
export function bigOf(id: Id): bigint {
  return typeof id === "bigint" ? id : BigInt(id);
}

/** The hash word of a key at a key width (§4, §16.3); the key must fit the width. */
export function hashOfKey(key: Id, keyBits: Width): Word {
  return keyBits === 32 ? hash32(Number(key)) : hash64(bigOf(key));
}

/** The key a hash word of a width stands for (§4, §16.3). */
export function keyOfHash(hash: Word, keyBits: Width): Id {
  return keyBits === 32 ? unhash32(Number(hash)) : idFromWord(unhash64(hash as bigint));
}

/** §5.1, §16.1: the hash word of an empty slot at a key width. */
export function emptyHashOf(keyBits: Width): Word {
  return keyBits === 32 ? EMPTY_HASH : EMPTY_HASH_64;
}

/** A value as a word of a value width: a number for 32 bits, a bigint for 64. */
export function valueWordOf(value: Id, valueBits: Width): Word {
  return valueBits === 32 ? Number(value) : bigOf(value);
}

/** The escaped key of a key width (§5.1, §16.3): the one key whose hash is EMPTY. */
export function escapedKeyOf(keyBits: Width): Id {
  return keyBits === 32 ? ESCAPED_KEY : ESCAPED_KEY_64;
}

/**
 * `v` as a key or value (see idOf), or an ERR_IDX_INVALID_ARGUMENT naming `name`: what was
 * passed, and for a number past 2^53 - 1, that it may be rounded already and to pass a bigint.
 */
export function checkId(name: string, v: unknown, path?: string): Id {
  const id = idOf(v);
  if (id !== null) return id;
  if (typeof v === "number" && Number.isInteger(v) && v > Number.MAX_SAFE_INTEGER && v <= 2 ** 64) {
    throw invalid(`${name} ${v} is above 2^53 - 1, where a number may already be rounded`, path,
      `Pass it as a bigint: ${BigInt(v)}n is what this number holds now.`);
  }
  throw invalid(`${name} must be an integer from 0 to ${MAX_U64} (a number up to 2^53 - 1, or a bigint), not ${describeValue(v)}`, path);
}

/**
 * §5.5 across files of another key width: an iteration goes on in a file that replaced its
 * own past the last hash it gave, which works because every file keeps its slots in hash order,
 * but a file whose keys are hashed at another width (§16.5) orders them differently. There
 * the iteration starts over and skips the keys it gave before: those that fit an earlier
 * file's key width and whose hash at that width was at most the hash it had reached there (or
 * that file's escaped key, if it gave it).
 */
export class KeysGiven {
  readonly #marks: { keyBits: Width; after: Word; escaped: boolean }[] = [];

  /** The iteration leaves a file of `keyBits` keys having given every hash up to `after` (-1: none). */
  mark(keyBits: Width, after: Word, escapedGiven: boolean): void {
    this.#marks.push({ keyBits, after, escaped: escapedGiven });
  }

  get any(): boolean {
    return this.#marks.length > 0;
  }

  has(key: Id): boolean {
    for (const m of this.#marks) {
      if (widthOf(key) > m.keyBits) continue;
      const hash = hashOfKey(key, m.keyBits);
      if (hash === emptyHashOf(m.keyBits) ? m.escaped : hash <= m.after) return true;
    }
    return false;
  }
}
