/** What every command shares: printing errors the one way the CLI prints them, and exit codes. */
import { IdxError } from "../core/errors";

export const EXIT_OK = 0;
export const EXIT_NOT_FOUND = 1;
export const EXIT_DAMAGED = 1;
export const EXIT_ERROR = 2;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

/** A command-line mistake: printed with a pointer to --help, exit 2. */
export class UsageError extends Error {
  constructor(message: string, readonly command?: string) {
    super(message);
  }
}

/** One or two plain lines on stderr, never a stack (unless IDX_DEBUG is set). */
export function printError(e: unknown): number {
  if (e instanceof UsageError) {
    process.stderr.write(`idx: ${e.message}\nTry 'idx ${e.command ? `${e.command} ` : ""}--help'.\n`);
    return EXIT_USAGE;
  }
  if (e instanceof IdxError) {
    process.stderr.write(`idx: ${e.message}\n`);
    if (process.env.IDX_DEBUG) process.stderr.write(`${e.stack}\n`);
    return e.code === "ERR_IDX_INTERRUPTED" ? EXIT_INTERRUPTED : EXIT_ERROR;
  }
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`idx: unexpected error: ${message}\nThis is a bug in idx; rerun with IDX_DEBUG=1 for details.\n`);
  if (process.env.IDX_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  return EXIT_ERROR;
}

let stdoutGuarded = false;

/**
 * Writes to stdout, waiting when the pipe is full. `direct` writes to fd 1 without creating
 * process.stdout, whose stream machinery costs a millisecond of startup; for short output.
 */
export function writeOut(text: string, direct = false): Promise<void> | void {
  if (direct) {
    try {
      require("node:fs").writeSync(1, text);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EPIPE") return; // the reader of our output went away (`| head`): not an error
      if (code !== "EAGAIN") throw e;
    }
  }
  if (!stdoutGuarded) {
    stdoutGuarded = true;
    process.stdout.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") process.exit(process.exitCode ?? EXIT_OK);
      throw e;
    });
  }
  if (!process.stdout.write(text)) {
    return new Promise((resolve) => process.stdout.once("drain", resolve));
  }
}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** parseArgs with the CLI's conventions: strict, and mistakes become UsageErrors. */
export function parseCommandArgs(
  command: string,
  args: string[],
  options: Record<string, { type: "string" | "boolean"; short?: string }>,
): ParsedArgs {
  try {
    const { parseArgs } = require("node:util") as typeof import("node:util");
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: values as ParsedArgs["values"], positionals };
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ""), command);
  }
}
