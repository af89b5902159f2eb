/** idx get: keys from the command line (read, not mapped) or from stdin (mapped, in batches). */
import type { IdIndex } from "../reader/reader";
import { FileLookup } from "../os/file-lookup";
import { IdxError } from "../core/errors";
import { Id } from "../core/keys";
import { idProblem, parseId } from "../core/parse";
import { EXIT_NOT_FOUND, EXIT_OK, UsageError, quote, writeOut } from "./io";

export async function run(args: string[]): Promise<number> {
  // No parseArgs here: a key like -1 must be reported as a bad key, not an unknown option.
  const positionals = args.filter((a) => a !== "--");
  const end = args.indexOf("--");
  const option = (end < 0 ? args : args.slice(0, end)).find((a) => a.startsWith("-") && a !== "--" && !/^-[0-9.]+$/.test(a));
  if (option !== undefined) throw new UsageError(`unknown option ${quote(option)}`, "get");
  if (positionals.length === 0) throw new UsageError("get needs an index file", "get");
  const [file, ...keyArgs] = positionals;
  const keys = keyArgs.map((text, i) => {
    const key = parseId(text);
    if (key === null) {
      throw new IdxError("ERR_IDX_INVALID_ARGUMENT", `key ${quote(text)} (argument ${i + 2}) ${idProblem(text.slice(0, 64))}`, {
        hint: "Keys are decimal integers from 0 to 18446744073709551615.",
      });
    }
    return key;
  });
  if (keys.length === 0) {
    const { IdIndex } = require("../reader/reader") as typeof import("../reader/reader");
    const ix = IdIndex.open<Id, Id>(file);
    try {
      return (await answerStdin(ix)) ? EXIT_NOT_FOUND : EXIT_OK;
    } finally {
      ix.close();
    }
  }

  // A few keys from the command line: read, don't map (see os/file-lookup.ts).
  const ix = FileLookup.open(file);
  let missing = 0;
  let lines: string[];
  try {
    lines = keys.map((k) => {
      const v = ix.get(k);
      if (v === undefined) missing++;
      return v === undefined ? "" : `${v}\n`;
    });
  } finally {
    ix.close();
  }
  // One key: a missing key prints nothing. Several: an empty line keeps output aligned with input.
  await writeOut(keys.length === 1 ? lines[0] : lines.map((l) => l || "\n").join(""), true);
  return missing ? EXIT_NOT_FOUND : EXIT_OK;
}

const CR = 13, SPACE = 32, TAB = 9, HASH = 35, ZERO = 48, NINE = 57;
const BATCH = 1 << 16;
/** A longer line is refused however the input was cut into reads, so output line i always answers input line i. */
const MAX_KEY_LINE = 1024;
/** Marks an input line that is not a key (blank or #): it gets an empty output line. */
const SKIPPED = -1;

/**
 * Keys from stdin, one per line, answered in batches through getMany. Returns the number of
 * missing keys. A line that is not a key stops with an error naming it.
 */
async function answerStdin(ix: IdIndex<Id, Id>): Promise<number> {
  // Keys as 64-bit words (low and high uint32 words, as a BigUint64Array holds them): a file of
  // 32-bit keys is asked with the low words (a key past 2^32 - 1 is not in it), a file of
  // 64-bit keys with the BigUint64Array, and values come back in the array of the file's width.
  const keyWords = new Uint32Array(2 * BATCH);
  const keys64 = new BigUint64Array(keyWords.buffer);
  const keys32 = new Uint32Array(BATCH);
  const values32 = new Uint32Array(BATCH);
  let values64: BigUint64Array | null = null;
  const found = new Uint8Array(BATCH);
  const kinds = new Int8Array(BATCH); // 1 = key, SKIPPED = blank or comment
  let n = 0;
  let line = 0;
  let missing = 0;
  let carry = "";

  /** Asks the index for keys 0..n-1; returns the values' array (of the width the file had). */
  const ask = (): Uint32Array | BigUint64Array => {
    for (;;) {
      const wideValues = ix.valueBits === 64;
      const values = wideValues ? (values64 ??= new BigUint64Array(BATCH)) : values32;
      try {
        if (ix.keyBits === 64) {
          ix.getMany(keys64.subarray(0, n), values as BigUint64Array, found);
        } else {
          for (let i = 0; i < n; i++) keys32[i] = keyWords[2 * i];
          ix.getMany(keys32.subarray(0, n), values as Uint32Array, found);
          for (let i = 0; i < n; i++) if (keyWords[2 * i + 1] !== 0) found[i] = 0; // wider than the file's keys
        }
        return values;
      } catch (e) {
        // A writer widened the values while the batch ran: ask again with the wider array.
        if (!(e instanceof IdxError && e.code === "ERR_IDX_INVALID_ARGUMENT" && (ix.valueBits === 64) !== wideValues)) throw e;
      }
    }
  };

  const flush = async () => {
    const values = ask();
    let out = "";
    for (let i = 0; i < n; i++) {
      if (kinds[i] === SKIPPED) {
        out += "\n";
        continue;
      }
      if (found[i]) out += `${values[i]}\n`;
      else {
        out += "\n";
        missing++;
      }
    }
    n = 0;
    await writeOut(out);
  };

  const take = async (text: string) => {
    line++;
    const key = text.length > MAX_KEY_LINE ? null : parseKeyLine(text);
    if (key === null) {
      await flush();
      throw new IdxError("ERR_IDX_INVALID_ARGUMENT", badKeyLine(text), { path: "<stdin>", line, hint: KEY_HINT });
    }
    kinds[n] = key === SKIPPED ? SKIPPED : 1;
    keys64[n] = key === SKIPPED ? 0n : BigInt(key);
    n++;
    if (n === BATCH) await flush();
  };

  if (isDirectory(0)) {
    throw new IdxError("ERR_IDX_IO", "cannot read the keys: standard input is a directory (EISDIR)", {
      path: "<stdin>", hint: "Give a file of keys, one per line.",
    });
  }
  process.stdin.setEncoding("latin1");
  for await (const chunk of process.stdin as AsyncIterable<string>) {
    const text = carry + chunk;
    let start = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
      await take(text.slice(start, nl));
      start = nl + 1;
    }
    carry = text.slice(start);
    if (carry.length > MAX_KEY_LINE) await take(carry); // throws: report it now, not at 50 MB
  }
  if (carry.length > 0) await take(carry);
  await flush();
  return missing;
}

const KEY_HINT = "Give one decimal key (0 to 18446744073709551615) per line.";

/** What is wrong with a line of stdin that is not a key (read as latin1: one char a byte). */
function badKeyLine(text: string): string {
  const bytes = Buffer.from(text, "latin1");
  if (text.length > MAX_KEY_LINE) {
    return `the line is over ${MAX_KEY_LINE} bytes long, and a key needs at most 20 digits: ${quote(bytes.toString("utf8"))}`;
  }
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text) || text.startsWith("\xef\xbb\xbf")) {
    const { describeBadLine } = require("../core/parse") as typeof import("../core/parse");
    return describeBadLine(bytes).replace(" (for binary pairs, pass --binary)", "").replace("text pairs", "keys, one per line");
  }
  return `key ${quote(bytes.toString("utf8").trim())} ${idProblem(text.slice(0, 64))}`;
}

function isDirectory(fd: number): boolean {
  try {
    return require("node:fs").fstatSync(fd).isDirectory();
  } catch {
    return false;
  }
}

/** A key (0 to 2^64 - 1), SKIPPED for a blank or # line, or null when the line is not a key. */
function parseKeyLine(text: string): Id | null {
  let i = 0;
  let end = text.length;
  while (i < end && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
  while (end > i && (text.charCodeAt(end - 1) === SPACE || text.charCodeAt(end - 1) === TAB || text.charCodeAt(end - 1) === CR)) end--;
  if (i === end || text.charCodeAt(i) === HASH) return SKIPPED;
  let key = 0;
  for (let j = i; j < end; j++) {
    const c = text.charCodeAt(j);
    if (c < ZERO || c > NINE) return null;
    key = key * 10 + (c - ZERO);
  }
  if (key <= 0xffffffff) return key;
  return parseId(text.slice(i, end));
}
