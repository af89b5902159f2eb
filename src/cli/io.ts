/**
 * What every command shares: exit codes (one per meaning, whatever the command), printing errors
 * the one way the CLI prints them, writing to stdout when stdout may be closed or full, and the
 * CLI's words for what the library's hints say in API terms.
 */
import { IdxError } from "../core/errors";

export const EXIT_OK = 0;
/** A key was not there (get, del), or the index is damaged (verify). */
export const EXIT_NOT_FOUND = 1;
export const EXIT_DAMAGED = 1;
/** A usage error, bad input, or a file that cannot be read or is not a valid index. */
export const EXIT_ERROR = 2;
export const EXIT_USAGE = 2;
/** 128 + the signal's number, as a shell reports a process the signal ended. */
export const EXIT_SIGNAL: Record<string, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

/** A command-line mistake: printed with a pointer to --help, exit 2. */
export class UsageError extends Error {
  constructor(message: string, readonly command?: string) {
    super(message);
  }
}

/** Standard output failed (full disk, closed): the command's output is incomplete. */
export class OutputError extends Error {
  readonly errno: NodeJS.ErrnoException;

  constructor(errno: NodeJS.ErrnoException) {
    super(`cannot write to standard output: ${describeWriteError(errno)}`);
    this.errno = errno;
  }
}

function describeWriteError(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case "ENOSPC": return "no space left on device (ENOSPC)";
    case "EIO": return "input/output error (EIO)";
    case "EBADF": return "it is closed (EBADF)";
    case "EDQUOT": return "disk quota exceeded (EDQUOT)";
    case "EFBIG": return "file too large (EFBIG)";
    default: return e.code ?? e.message;
  }
}

/**
 * A deploy that replaced an index it could not mark retired (spec §11.8): says so on stderr, as
 * a warning (the command still succeeded).
 */
export function warnNotRetired(target: string, outcome: { replaced: boolean; retired: boolean; why?: string }): void {
  if (!outcome.replaced || outcome.retired || outcome.why === undefined) return;
  writeErr(
    `idx: warning: ${target}: replaced, but the old index could not be marked retired (${outcome.why.replace(/^.*?: cannot /, "cannot ")}).\n` +
    "Readers that watch the path (idx, idxmap) follow the new file within about 100 ms; any other reader keeps the old one until it reopens the path.\n",
  );
}

/** What to do about an IdxError, said with the CLI's flags rather than the API's options. */
function cliHint(e: IdxError, command: string | undefined): string | undefined {
  switch (e.code) {
    case "ERR_IDX_LOCKED":
      // Run with --wait already: the library's hint (after the message's first line) says how long it waited.
      if (/\nWaited /.test(e.message)) return e.message.slice(e.message.indexOf("\nWaited ") + 1);
      return `Wait for it to finish, or run this with --wait MS to wait for it${command ? ` (idx ${command} --wait 5000 ...)` : ""}.`;
    case "ERR_IDX_NOT_AN_INDEX":
      return /so it was not replaced/.test(e.message) ? "Check the output path; to replace that file anyway, pass --force." : undefined;
    case "ERR_IDX_NO_ADDON":
      if (process.env.IDX_NO_NATIVE) return "IDX_NO_NATIVE is set, which turns the addon off: unset it to write in place.";
      return "Reading, building, verifying and dumping work without it; writing in place does not. Reinstall idx on a supported platform, or with a C compiler, make and Python on the PATH (npm rebuild idxmap).";
    default:
      return undefined;
  }
}

/** One or two plain lines on stderr, never a stack (unless IDX_DEBUG is set). Returns the exit code. */
export function printError(e: unknown, command?: string): number {
  if (e instanceof UsageError) {
    writeErr(`idx: ${e.message}\nTry 'idx ${e.command ? `${e.command} ` : ""}--help'.\n`);
    return EXIT_USAGE;
  }
  if (e instanceof OutputError) {
    if (e.errno.code === "EPIPE") return EXIT_OK; // the reader of our output went away (| head)
    writeErr(`idx: ${e.message}\n`);
    return EXIT_ERROR;
  }
  if (e instanceof IdxError) {
    const hint = cliHint(e, command);
    const [what] = e.message.split("\n");
    writeErr(`idx: ${hint ? `${what}\n${hint}` : e.message}\n`);
    if (process.env.IDX_DEBUG) writeErr(`${e.stack}\n`);
    if (e.code === "ERR_IDX_INTERRUPTED") return EXIT_SIGNAL.SIGINT;
    return EXIT_ERROR;
  }
  const message = e instanceof Error ? e.message : String(e);
  writeErr(`idx: unexpected error: ${message}\nThis is a bug in idx; rerun with IDX_DEBUG=1 for details.\n`);
  if (process.env.IDX_DEBUG && e instanceof Error) writeErr(`${e.stack}\n`);
  return EXIT_ERROR;
}

/** stderr, synchronously; if even stderr is gone there is nobody left to tell. */
export function writeErr(text: string): void {
  try {
    require("node:fs").writeSync(2, text);
  } catch {
    // stderr closed or full
  }
}

let streamBroken: NodeJS.ErrnoException | null = null;
let guarded = false;

/**
 * Writes to stdout, waiting while the pipe is full. `direct` writes to fd 1 without creating
 * process.stdout, whose stream machinery costs a millisecond of startup; for short output.
 * @throws OutputError when stdout fails (EPIPE included: the caller stops, exit 0).
 */
export function writeOut(text: string | Uint8Array, direct = false): Promise<void> | void {
  if (direct) {
    const fs = require("node:fs") as typeof import("node:fs");
    const data = typeof text === "string" ? Buffer.from(text) : text;
    let off = 0;
    for (let tries = 0; off < data.length; ) {
      try {
        off += fs.writeSync(1, data, off, data.length - off);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        // A non-blocking stdout (a pipe Node set up): fall back to the stream, which waits.
        if (err.code === "EAGAIN" && tries++ < 1) return writeOut(data.subarray(off));
        throw new OutputError(err);
      }
    }
    return;
  }
  if (streamBroken) throw new OutputError(streamBroken);
  if (!guarded) {
    guarded = true;
    process.stdout.on("error", (e: NodeJS.ErrnoException) => {
      streamBroken = e;
    });
  }
  const out = process.stdout;
  if (out.write(text)) return;
  return new Promise((resolve, reject) => {
    const done = () => {
      out.off("drain", done);
      out.off("error", fail);
      if (streamBroken) reject(new OutputError(streamBroken));
      else resolve();
    };
    const fail = () => done();
    out.on("drain", done);
    out.on("error", fail);
  });
}

/** Waits until everything written to stdout has been handed to the system (or failed). */
export function finishOut(): Promise<void> {
  if (!guarded) return Promise.resolve();
  return new Promise((resolve, reject) => {
    process.stdout.write("", () => (streamBroken ? reject(new OutputError(streamBroken)) : resolve()));
  });
}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * parseArgs with the CLI's conventions: strict, mistakes become UsageErrors, and an argument
 * like -1 stays where it is as a (bad) number, positional or option value, not an unknown option.
 */
export function parseCommandArgs(
  command: string,
  args: string[],
  options: Record<string, { type: "string" | "boolean"; short?: string }>,
): ParsedArgs {
  const held = new Map<string, string>();
  const masked = args.map((a, i) => {
    if (!/^-[0-9.]/.test(a)) return a;
    const stand = `\u0000${i}`;
    held.set(stand, a);
    return stand;
  });
  const restore = <T>(v: T): T => (typeof v === "string" ? ((held.get(v) ?? v) as T) : v);
  try {
    const { parseArgs } = require("node:util") as typeof import("node:util");
    const { values, positionals } = parseArgs({ args: masked, options, allowPositionals: true, strict: true });
    const restored: ParsedArgs["values"] = {};
    for (const [k, v] of Object.entries(values)) restored[k] = restore(v as string | boolean | undefined);
    return { values: restored, positionals: positionals.map(restore) };
  } catch (e) {
    const message = (e as Error).message.replace(/\. To specify a positional argument.*$/s, "");
    // parseArgs' words, begun in lower case as every other message of idx.
    throw new UsageError(shorten(message.charAt(0).toLowerCase() + message.slice(1), 200), command);
  }
}

/** --wait MS, as a number of milliseconds. */
export function waitOption(command: string, wait: unknown): number {
  if (wait === undefined) return 0;
  const ms = Number(wait);
  if (typeof wait !== "string" || !/^[0-9]+(\.[0-9]+)?$/.test(wait) || !Number.isFinite(ms)) {
    throw new UsageError(`--wait takes a number of milliseconds, not ${quote(String(wait))}`, command);
  }
  return ms;
}

/** --key-bits and --value-bits (spec §16): the parseArgs options. */
export const WIDTH_OPTIONS = {
  "key-bits": { type: "string" },
  "value-bits": { type: "string" },
} as const;

/** --key-bits and --value-bits as widths: 32 (the default) or 64. */
export function widthOptions(command: string, values: Record<string, unknown>): [32 | 64, 32 | 64] {
  const width = (name: string): 32 | 64 => {
    const text = values[name];
    if (text === undefined || text === "32") return 32;
    if (text === "64") return 64;
    throw new UsageError(`--${name} takes 32 or 64, not ${quote(String(text))}`, command);
  };
  return [width("key-bits"), width("value-bits")];
}

/** `text` in quotes, cut to a readable length, with what was cut said. */
export function quote(text: string, max = 40): string {
  return JSON.stringify(shorten(text, max));
}

export function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}... (${text.length - max} more characters)`;
}

/** "1 entry", "2 entries". */
export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
