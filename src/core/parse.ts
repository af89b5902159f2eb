/**
 * The input of `idx build` and `idx put`, parsed as bytes. Text: one `key value` pair a line,
 * separated by a tab, spaces or a comma; blank lines and lines starting with # are skipped;
 * CRLF is accepted; numbers are decimal, 0 to 18446744073709551615 (spec §16: a number above
 * 4294967295 makes its column 64-bit). Binary (--binary): little-endian integers, key then
 * value, each 4 or 8 bytes as the widths say (8 bytes a pair for 32/32).
 */
import { IdxError } from "./errors";
import { Id, idOf } from "./keys";
import { PairBuffer } from "./pairs";

/**
 * The addon's parseLines (native/build.c): the same grammar over whole lines, in C. result =
 * [count after, lines consumed, status (0 done, 1 bad line at offset, 2 columns full), offset].
 */
export type LineParser = (
  buf: Uint8Array, start: number, end: number, keys: Uint32Array, values: Uint32Array, count: number, result: Float64Array,
) => void;

const TAB = 9, LF = 10, CR = 13, SPACE = 32, HASH = 35, COMMA = 44, ZERO = 48, NINE = 57, TILDE = 126;
const MAX_U32 = 0xffffffff;
const TWO_32 = 4294967296;
const EMPTY = new Uint8Array(0);
/**
 * A line still without its end past this many bytes is refused: no pair needs it, and holding it
 * would make a build's memory follow its input (a binary file, /dev/zero). Chunks are at most this
 * long (1 MiB reads), so a line this long always reaches the check.
 */
export const MAX_LINE = 1 << 20;

/**
 * Feeds chunks of text to a PairBuffer. Lines may span chunks. Throws IdxError ERR_IDX_PARSE
 * naming `source` and the line for the first bad line.
 */
export class PairParser {
  /** Lines consumed so far (1-based number of the last complete line). */
  line = 0;
  readonly source: string;
  readonly #out: PairBuffer;
  #carry: Uint8Array = EMPTY;
  readonly #nativeResult = new Float64Array(4);
  readonly #native: LineParser | null;

  readonly #onFull: (() => boolean) | undefined;

  /**
   * `native`: the addon's parser, or null for the JS one (same lines, same errors). `onFull`,
   * called when `out` is full, may empty it (a builder spilling to disk); if not, `out` grows.
   */
  constructor(source: string, out: PairBuffer, native: LineParser | null = null, onFull?: () => boolean) {
    this.source = source;
    this.#out = out;
    this.#native = native;
    this.#onFull = onFull;
  }

  /** Parses every complete line of `chunk` (with what was left of the previous chunk). */
  write(chunk: Uint8Array): void {
    let start = 0;
    if (this.#carry.length > 0) {
      const nl = chunk.indexOf(LF);
      if (this.#carry.length + (nl < 0 ? chunk.length : nl) > MAX_LINE) {
        throw this.#tooLong(concat(this.#carry.subarray(0, EXAMINED), chunk.subarray(0, EXAMINED)));
      }
      if (nl < 0) {
        this.#carry = concat(this.#carry, chunk);
        return;
      }
      const joined = concat(this.#carry, chunk.subarray(0, nl + 1));
      this.#carry = EMPTY;
      this.#parse(joined, 0, joined.length);
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(LF);
    if (last < start) {
      this.#carry = copyOf(chunk, start);
    } else {
      this.#parse(chunk, start, last + 1);
      if (last + 1 < chunk.length) this.#carry = copyOf(chunk, last + 1);
    }
    if (this.#carry.length > MAX_LINE) throw this.#tooLong(this.#carry);
  }

  /** Parses the last line, which may lack a newline. */
  end(): void {
    if (this.#carry.length > 0) {
      const last = concat(this.#carry, Uint8Array.of(LF));
      this.#carry = EMPTY;
      this.#parse(last, 0, last.length);
    }
  }

  /** `buf[start..end)` holds whole lines, the last one ending in LF. */
  #parse(buf: Uint8Array, start: number, end: number): void {
    const native = this.#native;
    if (native !== null && !(buf.buffer instanceof ArrayBuffer)) {
      // A chunk over a SharedArrayBuffer, which another thread may write while the addon scans
      // it (its scans stop at an LF it checked once): the addon takes a copy.
      buf = buf.slice(start, end);
      end -= start;
      start = 0;
    }
    if (native !== null) {
      // The same grammar in C: the addon parses and fills the columns; errors come back here.
      const out = this.#out;
      const result = this.#nativeResult;
      let pos = start;
      for (;;) {
        const before = out.length;
        native(buf, pos, end, out.keys, out.values, out.length, result);
        out.length = result[0];
        // The addon fills the low words: pairs it adds to columns that went 64-bit have high words 0.
        out.keysHigh?.fill(0, before, out.length);
        out.valuesHigh?.fill(0, before, out.length);
        this.line += result[1];
        if (result[2] === 0) return;
        pos = result[3];
        if (result[2] === 2) {
          if (!this.#onFull?.()) out.grow();
          continue;
        }
        // A line the addon refuses may hold a number above 2^32 - 1 (§16): the JS parser takes
        // it, and the rest of these lines, or names what is wrong with it.
        break;
      }
      this.#parseJs(buf, pos, end);
      return;
    }
    this.#parseJs(buf, start, end);
  }

  #parseJs(buf: Uint8Array, start: number, end: number): void {
    const out = this.#out;
    let line = this.line;
    let i = start;
    while (i < end) {
      line++;
      const lineStart = i;
      let c = buf[i];
      while (c === SPACE || c === TAB) c = buf[++i];
      if (c === LF || (c === CR && buf[i + 1] === LF) || c === HASH) {
        i = buf.indexOf(LF, i) + 1;
        continue;
      }
      // Each number as two exact halves, low and high 32 bits (a double holds only 53).
      let key = 0;
      let keyHigh = 0;
      const keyStart = i;
      while (c >= ZERO && c <= NINE) {
        key = key * 10 + (c - ZERO);
        const carry = Math.floor(key / TWO_32);
        key -= carry * TWO_32;
        keyHigh = keyHigh * 10 + carry;
        c = buf[++i];
      }
      const keyDigits = i - keyStart;
      let separated = false;
      while (c === SPACE || c === TAB) { c = buf[++i]; separated = true; }
      if (c === COMMA) {
        c = buf[++i];
        separated = true;
        while (c === SPACE || c === TAB) c = buf[++i];
      }
      let value = 0;
      let valueHigh = 0;
      const valueStart = i;
      while (c >= ZERO && c <= NINE) {
        value = value * 10 + (c - ZERO);
        const carry = Math.floor(value / TWO_32);
        value -= carry * TWO_32;
        valueHigh = valueHigh * 10 + carry;
        c = buf[++i];
      }
      const valueDigits = i - valueStart;
      while (c === SPACE || c === TAB) c = buf[++i];
      if (c === CR) c = buf[++i];
      // A high half past 2^32 - 1 is a number past 2^64 - 1 (it only grows: it never comes back).
      if (c !== LF || keyDigits === 0 || valueDigits === 0 || !separated || keyHigh > MAX_U32 || valueHigh > MAX_U32) {
        this.line = line;
        throw this.#diagnose(buf, lineStart, buf.indexOf(LF, lineStart));
      }
      if (out.length === out.keys.length) this.#onFull?.();
      if (keyHigh === 0 && valueHigh === 0 && out.keysHigh === null && out.valuesHigh === null) out.push(key, value);
      else out.pushWide(key, keyHigh, value, valueHigh);
      i++;
    }
    this.line = line;
  }

  /** The line after the last complete one has passed MAX_LINE bytes without ending. */
  #tooLong(head: Uint8Array): IdxError {
    this.line++;
    const text = head.subarray(0, EXAMINED);
    const what = encodingProblem(text, true) ??
      `the line is over ${MAX_LINE} bytes long, and a pair needs a few dozen: ${JSON.stringify(new TextDecoder().decode(text.subarray(0, SHOWN)))}...`;
    return new IdxError("ERR_IDX_PARSE", what, {
      path: this.source,
      line: this.line,
      hint: LINE_HINT,
    });
  }

  /** The slow path: says precisely what is wrong with the line buf[start..end). */
  #diagnose(buf: Uint8Array, start: number, end: number): IdxError {
    const fail = (what: string) =>
      new IdxError("ERR_IDX_PARSE", what, {
        path: this.source,
        line: this.line,
        hint: LINE_HINT,
      });
    return fail(describeBadLine(buf.subarray(start, end < 0 ? buf.length : end)));
  }
}

const LINE_HINT = "Each line must be `KEY VALUE` (tab, spaces or a comma between), both decimal integers from 0 to 18446744073709551615.";

/**
 * Binary input this long at its start is examined for text: enough to hold many lines of pairs,
 * and to hold a NUL byte from the pairs of any ID below 2^24 (every fourth byte).
 */
export const TEXT_PROBE_BYTES = 4096;

/**
 * Binary pairs, as `idx dump --binary` writes them, fed in chunks of any length to a
 * PairBuffer. `onFull`, as PairParser's, may empty the buffer when it is full.
 *
 * Any bytes whose length is a multiple of 8 parse as pairs, so a text file would be read as
 * nonsense pairs. Input that is plainly text is refused: its first TEXT_PROBE_BYTES bytes (all
 * of it, when shorter) are printable ASCII (0x20-0x7E), tabs, CRs and LFs, with at least one LF.
 * Real pairs of small IDs hold NUL bytes, and pairs of large ones would need 512 pairs in a row
 * whose every byte is one of those, and a line end among them.
 */
export class BinaryPairParser {
  readonly source: string;
  readonly #out: PairBuffer;
  readonly #onFull: (() => boolean) | undefined;
  #bytes = 0;
  /** Bytes a pair: the key's and the value's (4 or 8 each). */
  readonly #keyBytes: number;
  readonly #pairBytes: number;
  readonly #carry = new Uint8Array(16);
  #carried = 0;
  /** The start of the input, while it may still be text (null once a byte says it is not). */
  #probe: Uint8Array | null = new Uint8Array(TEXT_PROBE_BYTES);
  #probed = 0;
  #lineEnd = false;

  /** `keyBits`, `valueBits`: the width of each key and value in the input (§16), 32 by default. */
  constructor(source: string, out: PairBuffer, onFull?: () => boolean, keyBits: 32 | 64 = 32, valueBits: 32 | 64 = 32) {
    this.source = source;
    this.#out = out;
    this.#onFull = onFull;
    this.#keyBytes = keyBits / 8;
    this.#pairBytes = (keyBits + valueBits) / 8;
  }

  write(chunk: Uint8Array): void {
    if (this.#probe !== null) this.#probeText(chunk);
    this.#bytes += chunk.length;
    const size = this.#pairBytes;
    let at = 0;
    if (this.#carried > 0) {
      const take = Math.min(size - this.#carried, chunk.length);
      this.#carry.set(chunk.subarray(0, take), this.#carried);
      this.#carried += take;
      at = take;
      if (this.#carried < size) return;
      this.#take(new DataView(this.#carry.buffer), 0, 1);
      this.#carried = 0;
    }
    const whole = Math.floor((chunk.length - at) / size);
    this.#take(new DataView(chunk.buffer, chunk.byteOffset + at, whole * size), 0, whole);
    this.#onFull?.();
    at += whole * size;
    if (at < chunk.length) {
      this.#carry.set(chunk.subarray(at));
      this.#carried = chunk.length - at;
    }
  }

  /** Appends the `count` pairs of `view` from pair `first`. */
  #take(view: DataView, first: number, count: number): void {
    const out = this.#out;
    const size = this.#pairBytes;
    if (size === 8) {
      for (let i = first; i < first + count; i++) {
        if (out.length === out.keys.length && !this.#onFull?.()) out.grow();
        if (out.keysHigh !== null || out.valuesHigh !== null) {
          out.pushWide(view.getUint32(8 * i, true), 0, view.getUint32(8 * i + 4, true), 0);
          continue;
        }
        out.keys[out.length] = view.getUint32(8 * i, true);
        out.values[out.length] = view.getUint32(8 * i + 4, true);
        out.length++;
      }
      return;
    }
    const kb = this.#keyBytes;
    for (let i = first; i < first + count; i++) {
      if (out.length === out.keys.length && !this.#onFull?.()) out.grow();
      const o = size * i;
      const keyHigh = kb === 8 ? view.getUint32(o + 4, true) : 0;
      const valueHigh = size - kb === 8 ? view.getUint32(o + kb + 4, true) : 0;
      out.pushWide(view.getUint32(o, true), keyHigh, view.getUint32(o + kb, true), valueHigh);
    }
  }

  /** @throws IdxError ERR_IDX_PARSE when the input is text, or its length is not a whole number of pairs. */
  end(): void {
    if (this.#probe !== null) this.#refuseText();
    if (this.#carried === 0) return;
    const size = this.#pairBytes;
    throw new IdxError("ERR_IDX_PARSE", `is ${this.#bytes} bytes long, not a whole number of ${size}-byte pairs (${this.#carried} bytes left over)`, {
      path: this.source,
      hint: size === 8
        ? "Binary input is pairs of little-endian uint32s, key then value: its length is a multiple of 8 (for 64-bit keys or values, say --key-bits 64 or --value-bits 64)."
        : `Binary input at these widths is a little-endian ${this.#keyBytes * 8}-bit key then a ${(size - this.#keyBytes) * 8}-bit value: its length is a multiple of ${size}.`,
    });
  }

  /** Examines the part of `chunk` that falls in the first TEXT_PROBE_BYTES bytes of the input. */
  #probeText(chunk: Uint8Array): void {
    const probe = this.#probe!;
    const n = Math.min(chunk.length, TEXT_PROBE_BYTES - this.#probed);
    for (let i = 0; i < n; i++) {
      const c = chunk[i];
      if (c === LF) this.#lineEnd = true;
      else if ((c < SPACE || c > TILDE) && c !== TAB && c !== CR) {
        this.#probe = null;
        return;
      }
    }
    probe.set(chunk.subarray(0, n), this.#probed);
    this.#probed += n;
    if (this.#probed === TEXT_PROBE_BYTES) this.#refuseText();
  }

  /** The probe is complete (or the input ended) with nothing but text in it. */
  #refuseText(): void {
    const probe = this.#probe!.subarray(0, this.#probed);
    this.#probe = null;
    if (!this.#lineEnd) return;
    const shown = JSON.stringify(new TextDecoder().decode(probe.subarray(0, SHOWN)));
    throw new IdxError("ERR_IDX_PARSE", `looks like text, not binary pairs: its first ${probe.length} bytes are printable ASCII with line ends (${shown}${probe.length > SHOWN ? "..." : ""})`, {
      path: this.source,
      hint: "For text pairs, drop --binary (buildFromText in the API). Binary input is pairs of little-endian integers, key then value, 4 bytes each (8 with --key-bits 64 or --value-bits 64).",
    });
  }
}

/** How much of a bad line a message examines and shows: a 50 MB line gives a short message. */
const SHOWN = 60;
const EXAMINED = 256;

/** What is wrong with one line of text input (`line` without its LF), for a message. */
export function describeBadLine(line: Uint8Array): string {
  const head = line.subarray(0, EXAMINED);
  const problem = encodingProblem(head, line.length > EXAMINED);
  if (problem !== null) return problem;
  let text = new TextDecoder("utf-8", { fatal: false }).decode(head);
  if (text.endsWith("\r")) text = text.slice(0, -1);
  const cut = line.length > EXAMINED;
  const shown = cut || text.length > SHOWN ? `${text.slice(0, SHOWN)}... (${line.length} bytes in all)` : text;
  const fields = text.trim().split(/\s*,\s*|[ \t]+/);
  const at = ` in ${JSON.stringify(shown)}`;
  const names = ["key", "value"];
  for (let f = 0; f < Math.min(fields.length, 2); f++) {
    const field = fields[f];
    // The last field seen may be cut short by EXAMINED: a long run of digits is over the limit anyway.
    const problem = numberProblem(field);
    if (problem) return `${names[f]} ${quoteField(field, cut && f === fields.length - 1)} ${problem}${at}`;
  }
  if (fields.length < 2) return `missing value${at}`;
  if (fields.length > 2) return `extra field ${quoteField(fields[2], false)} after the value${at}`;
  return `cannot parse the line${at}`;
}

/** A byte order mark, binary data or bytes that are not UTF-8 at the start of a line, or null. */
function encodingProblem(head: Uint8Array, cut: boolean): string | null {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) {
    return "the line starts with a UTF-8 byte order mark (bytes EF BB BF), which idx does not skip; save the input without it";
  }
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
    return "the input starts with a UTF-16 byte order mark: idx reads UTF-8 (or ASCII) text; save the input as UTF-8";
  }
  for (let i = 0; i < head.length; i++) {
    const c = head[i];
    if (c === 0 || (c < 0x20 && c !== TAB && c !== CR) || c === 0x7f) {
      return `the line holds binary data (byte 0x${c.toString(16).padStart(2, "0")} at column ${i + 1}): this does not look like text pairs (for binary pairs, pass --binary)`;
    }
  }
  // A multi-byte character cut at the end of `head` is not an error.
  const text = new TextDecoder("utf-8", { fatal: false }).decode(cut ? head.subarray(0, Math.max(0, head.length - 3)) : head);
  if (text.includes("\ufffd")) return "the line holds bytes that are not UTF-8 text: this does not look like text pairs (for binary pairs, pass --binary)";
  return null;
}

function quoteField(field: string, cut: boolean): string {
  return field.length > 24 || cut ? `${JSON.stringify(field.slice(0, 24))}...` : JSON.stringify(field);
}

function numberProblem(field: string): string | null {
  if (field === "") return "is empty";
  if (/^[0-9]+$/.test(field)) return BigInt(field) > 0xffffffffffffffffn ? "is over 18446744073709551615" : null;
  if (/^-[0-9]+(\.[0-9]*)?$/.test(field)) return "is negative";
  if (/^[+-]?[0-9]*\.[0-9]+$|^[+-]?[0-9]+\.[0-9]*$/.test(field)) return "is a fraction";
  if (/^[+-]?[0-9.]+e[+-]?[0-9]+$/i.test(field)) return "is in exponent notation; write it out in decimal";
  if (/^0x[0-9a-f]+$/i.test(field)) return "is hexadecimal; idx reads decimal only";
  if (/^\+[0-9]+$/.test(field)) return "has a sign; write it without +";
  return "is not a decimal number";
}

/**
 * chunk[from..] as new bytes: the caller may reuse its chunk (a build's reads share one buffer),
 * and a Buffer's slice() is a view, not a copy.
 */
function copyOf(chunk: Uint8Array, from: number): Uint8Array {
  return Uint8Array.prototype.slice.call(chunk, from);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Parses one key or value given as decimal text (a CLI argument), 0 to 2^64 - 1: a number up
 * to 2^53 - 1, a bigint above (keys.ts); null when it is not one.
 */
export function parseId(text: string): Id | null {
  if (!/^[0-9]+$/.test(text)) return null;
  if (text.length < 16) return Number(text);
  return idOf(BigInt(text));
}

/** Why `text` is not a decimal key or value, for messages. */
export function idProblem(text: string): string {
  return numberProblem(text.trim()) ?? "is not a decimal number";
}
