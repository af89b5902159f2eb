/** idx set, del, put, compact: the in-place writer from the command line. */
import * as fs from "node:fs";
import { IdxError, ioError } from "../core/errors";
import { PairBuffer } from "../core/pairs";
import { Id } from "../core/keys";
import { BinaryPairParser, PairParser, idProblem, parseId } from "../core/parse";
import { nativeAddon } from "../os/native";
import { IdWriter } from "../writer/writer";
import { fileChunks, refuseInput, stdinChunks } from "../build/input";
import { EXIT_NOT_FOUND, EXIT_OK, UsageError, WIDTH_OPTIONS, parseCommandArgs, plural, quote, waitOption, widthOptions, writeErr } from "./io";

const WRITER_OPTIONS = {
  wait: { type: "string" },
  quiet: { type: "boolean", short: "q" },
} as const;

function openWriter(command: string, file: string, wait: unknown, create = true): IdWriter<Id, Id> {
  try {
    return IdWriter.open(file, { wait: waitOption(command, wait), create });
  } catch (e) {
    if (e instanceof IdxError && e.code === "ERR_IDX_IO" && !create && !fs.existsSync(file)) {
      throw new IdxError("ERR_IDX_IO", "cannot open the index: no such file or directory (ENOENT)", {
        path: file, hint: "Build it first with `idx build PAIRS -o FILE` (or create it with `idx set FILE KEY VALUE`).",
      });
    }
    throw e;
  }
}

function idArg(what: string, text: string): Id {
  const n = parseId(text);
  if (n === null) {
    throw new IdxError("ERR_IDX_INVALID_ARGUMENT", `${what} ${quote(text)} ${idProblem(text.slice(0, 64))}`, {
      hint: "Keys and values are decimal integers from 0 to 18446744073709551615.",
    });
  }
  return n;
}

export async function runSet(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("set", args, WRITER_OPTIONS);
  if (positionals.length !== 3) throw new UsageError("set takes FILE KEY VALUE", "set");
  const [file, keyText, valueText] = positionals;
  const key = idArg("key", keyText);
  const value = idArg("value", valueText);
  const w = openWriter("set", file, values.wait);
  try {
    w.set(key, value);
  } finally {
    w.close();
  }
  return EXIT_OK;
}

export async function runDel(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("del", args, WRITER_OPTIONS);
  if (positionals.length < 2) throw new UsageError("del takes FILE KEY...", "del");
  const [file, ...keyTexts] = positionals;
  const keys = keyTexts.map((k) => idArg("key", k));
  const w = openWriter("del", file, values.wait, false);
  const missing: Id[] = [];
  try {
    for (const key of keys) if (!w.delete(key)) missing.push(key);
  } finally {
    w.close();
  }
  if (missing.length > 0) {
    const shown = missing.slice(0, 10).join(", ") + (missing.length > 10 ? `, and ${missing.length - 10} more` : "");
    writeErr(`idx: ${file}: not there, so not deleted: ${plural(missing.length, "key", "keys")} (${shown})\n`);
  }
  return missing.length ? EXIT_NOT_FOUND : EXIT_OK;
}

export async function runPut(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("put", args, { ...WRITER_OPTIONS, ...WIDTH_OPTIONS, binary: { type: "boolean" } });
  const [keyBits, valueBits] = widthOptions("put", values);
  if (!values.binary && (values["key-bits"] !== undefined || values["value-bits"] !== undefined)) {
    throw new UsageError("--key-bits and --value-bits give the widths of --binary input (text says its own)", "put");
  }
  if (positionals.length !== 2) throw new UsageError("put takes FILE PAIRS (PAIRS may be - for stdin)", "put");
  const [file, input] = positionals;
  const name = input === "-" ? "<stdin>" : input;
  const stream = input === "-" ? stdinChunks() : fileChunks(input);
  refuseInput(input === "-" ? stream : input, name, file, {
    self: "putting them would write the index into itself",
    noInput: "give the pairs on stdin",
  });
  // Read everything first: a bad line changes nothing.
  const pairs = new PairBuffer();
  try {
    const parser = values.binary ? new BinaryPairParser(name, pairs, undefined, keyBits, valueBits) : new PairParser(name, pairs, nativeAddon()?.parseLines ?? null);
    for await (const chunk of stream) parser.write(chunk);
    parser.end();
  } catch (e) {
    if (e instanceof IdxError) throw e;
    throw ioError("read the input", name, e, "Check the path of the pairs file.");
  }
  const w = openWriter("put", file, values.wait);
  try {
    const before = w.size;
    w.update(pairs);
    if (!values.quiet) writeErr(`put ${plural(pairs.length, "pair", "pairs")} into ${file}: ${before} -> ${plural(w.size, "entry", "entries")}\n`);
  } finally {
    w.close();
  }
  return EXIT_OK;
}

export async function runCompact(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("compact", args, WRITER_OPTIONS);
  if (positionals.length !== 1) throw new UsageError("compact takes one index file", "compact");
  const file = positionals[0];
  const w = openWriter("compact", file, values.wait, false);
  try {
    const before = fs.statSync(file).size;
    w.compact();
    if (!values.quiet) writeErr(`compacted ${file}: ${plural(w.size, "entry", "entries")}, ${before} -> ${fs.statSync(file).size} bytes\n`);
  } finally {
    w.close();
  }
  return EXIT_OK;
}
