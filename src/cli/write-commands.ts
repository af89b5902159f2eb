/** idx set, del, put, compact: the in-place writer from the command line. */
import * as fs from "node:fs";
import { IdWriter } from "../writer/writer";
import { IdxError, ioError } from "../core/errors";
import { PairBuffer } from "../core/pairs";
import { PairParser, parseUint32, uint32Problem } from "../core/parse";
import { EXIT_NOT_FOUND, EXIT_OK, UsageError, parseCommandArgs } from "./io";

const WRITER_OPTIONS = {
  wait: { type: "string" },
  quiet: { type: "boolean", short: "q" },
} as const;

function openWriter(command: string, file: string, wait: unknown, create = true): IdWriter {
  let ms = 0;
  if (wait !== undefined) {
    ms = Number(wait);
    if (!Number.isFinite(ms) || ms < 0) throw new UsageError(`--wait takes milliseconds, not ${JSON.stringify(wait)}`, command);
  }
  return IdWriter.open(file, { wait: ms, create });
}

function uint32Arg(what: string, text: string): number {
  const n = parseUint32(text);
  if (n === null) {
    throw new IdxError("ERR_IDX_INVALID_ARGUMENT", `${what} ${JSON.stringify(text)} ${uint32Problem(text)}`, {
      hint: "Keys and values are decimal integers from 0 to 4294967295.",
    });
  }
  return n;
}

/** Positionals, with arguments like -1 kept as (bad) numbers rather than taken for options. */
function split(command: string, args: string[]) {
  const numeric = args.filter((a) => /^-[0-9]/.test(a));
  const { values, positionals } = parseCommandArgs(command, args.filter((a) => !/^-[0-9]/.test(a)), WRITER_OPTIONS);
  return { values, positionals: [...positionals, ...numeric] };
}

export async function runSet(args: string[]): Promise<number> {
  const { values, positionals } = split("set", args);
  if (positionals.length !== 3) throw new UsageError("set takes FILE KEY VALUE", "set");
  const [file, keyText, valueText] = positionals;
  const key = uint32Arg("key", keyText);
  const value = uint32Arg("value", valueText);
  const w = openWriter("set", file, values.wait);
  try {
    w.set(key, value);
  } finally {
    w.close();
  }
  return EXIT_OK;
}

export async function runDel(args: string[]): Promise<number> {
  const { values, positionals } = split("del", args);
  if (positionals.length < 2) throw new UsageError("del takes FILE KEY...", "del");
  const [file, ...keyTexts] = positionals;
  const keys = keyTexts.map((k) => uint32Arg("key", k));
  const w = openWriter("del", file, values.wait, false);
  let missing = 0;
  try {
    for (const key of keys) if (!w.delete(key)) missing++;
  } finally {
    w.close();
  }
  return missing ? EXIT_NOT_FOUND : EXIT_OK;
}

export async function runPut(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("put", args, WRITER_OPTIONS);
  if (positionals.length !== 2) throw new UsageError("put takes FILE PAIRS (PAIRS may be - for stdin)", "put");
  const [file, input] = positionals;
  // Parse everything first: a bad line changes nothing.
  const pairs = new PairBuffer();
  const name = input === "-" ? "<stdin>" : input;
  const parser = new PairParser(name, pairs);
  const stream = input === "-" ? process.stdin : fs.createReadStream(input, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream as AsyncIterable<Uint8Array>) parser.write(chunk);
  } catch (e) {
    if (e instanceof IdxError) throw e;
    throw ioError("read the input", name, e, "Check the path of the pairs file.");
  }
  parser.end();
  const w = openWriter("put", file, values.wait);
  try {
    const before = w.size;
    w.update(pairs);
    if (!values.quiet) process.stderr.write(`put ${pairs.length} pairs into ${file}: ${before} -> ${w.size} entries\n`);
  } finally {
    w.close();
  }
  return EXIT_OK;
}

export async function runCompact(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("compact", args, WRITER_OPTIONS);
  if (positionals.length !== 1) throw new UsageError("compact takes one index file", "compact");
  const file = positionals[0];
  const size = () => fs.statSync(file).size;
  const w = openWriter("compact", file, values.wait, false);
  try {
    const before = size();
    w.compact();
    if (!values.quiet) process.stderr.write(`compacted ${file}: ${w.size} entries, ${before} -> ${size()} bytes\n`);
  } finally {
    w.close();
  }
  return EXIT_OK;
}
