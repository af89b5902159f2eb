/** idx get: keys from the command line (read, not mapped) or from stdin (mapped, in batches). */
import type { IdIndex } from "../reader/reader";
import { FileLookup } from "../os/file-lookup";
import { IdxError } from "../core/errors";
import { parseUint32, uint32Problem } from "../core/parse";
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
    const key = parseUint32(text);
    if (key === null) {
      throw new IdxError("ERR_IDX_INVALID_ARGUMENT", `key ${quote(text)} (argument ${i + 2}) ${uint32Problem(text.slice(0, 64))}`, {
        hint: "Keys are decimal integers from 0 to 4294967295.",
      });
    }
    return key;
  });
  if (keys.length === 0) {
    const { IdIndex } = require("../reader/reader") as typeof import("../reader/reader");
    const ix = IdIndex.open(file);
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
async function answerStdin(ix: IdIndex): Promise<number> {
  const keys = new Uint32Array(BATCH);
  const values = new Uint32Array(BATCH);
  const found = new Uint8Array(BATCH);
  const kinds = new Int8Array(BATCH); // 1 = key, SKIPPED = blank or comment
  let n = 0;
  let line = 0;
  let missing = 0;
  let carry = "";

  const flush = async () => {
    ix.getMany(keys.subarray(0, n), values, found);
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
    keys[n] = key === SKIPPED ? 0 : key;
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

const KEY_HINT = "Give one decimal key (0 to 4294967295) per line.";

/** What is wrong with a line of stdin that is not a key (read as latin1: one char a byte). */
function badKeyLine(text: string): string {
  const bytes = Buffer.from(text, "latin1");
  if (text.length > MAX_KEY_LINE) {
    return `the line is over ${MAX_KEY_LINE} bytes long, and a key needs at most 10 digits: ${quote(bytes.toString("utf8"))}`;
  }
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text) || text.startsWith("\xef\xbb\xbf")) {
    const { describeBadLine } = require("../core/parse") as typeof import("../core/parse");
    return describeBadLine(bytes).replace(" (for binary pairs, pass --binary)", "").replace("text pairs", "keys, one per line");
  }
  return `key ${quote(bytes.toString("utf8").trim())} ${uint32Problem(text.slice(0, 64))}`;
}

function isDirectory(fd: number): boolean {
  try {
    return require("node:fs").fstatSync(fd).isDirectory();
  } catch {
    return false;
  }
}

/** A key, SKIPPED for a blank or # line, or null when the line is not a key. */
function parseKeyLine(text: string): number | null {
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
  return key <= 0xffffffff ? key : null;
}
