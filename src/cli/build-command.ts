/** idx build: pairs (text or binary, a file or stdin) -> an index, atomically, in bounded memory. */
import { BuildProgress, buildFromBinary, buildFromText } from "../build/api";
import { stdinChunks } from "../build/input";
import { IdxError } from "../core/errors";
import { removePendingTempFiles } from "../os/atomic-file";
import { EXIT_OK, EXIT_SIGNAL, UsageError, WIDTH_OPTIONS, parseCommandArgs, plural, waitOption, widthOptions, writeErr } from "./io";

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("build", args, {
    output: { type: "string", short: "o" },
    binary: { type: "boolean" },
    force: { type: "boolean", short: "f" },
    wait: { type: "string" },
    quiet: { type: "boolean", short: "q" },
    ...WIDTH_OPTIONS,
  });
  const [keyBits, valueBits] = widthOptions("build", values);
  if (positionals.length === 0) throw new UsageError("build needs an input file (or - for stdin)", "build");
  if (positionals.length > 1) throw new UsageError(`build takes one input, got ${positionals.length}: ${positionals.join(" ")}`, "build");
  if (!values.output) throw new UsageError("build needs an output file: -o OUT", "build");
  const input = positionals[0];
  const output = values.output as string;
  if (output === "-") throw new UsageError("build writes the index to a file, not to standard output: -o OUT", "build");
  const wait = waitOption("build", values.wait);

  // Ctrl-C, SIGTERM, SIGHUP: abort at the next safe point (the target stays as it was, temp
  // files are removed) and exit 128 + the signal; a second signal exits at once.
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      removePendingTempFiles();
      process.exit(EXIT_SIGNAL[signal]);
    }
    received = signal;
    controller.abort(signal);
  };
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) process.on(s, onSignal);
  process.on("exit", removePendingTempFiles);

  const progress = process.stderr.isTTY && !values.quiet ? new ProgressLine() : undefined;
  const started = process.hrtime.bigint();
  try {
    const options = {
      name: input === "-" ? "<stdin>" : input,
      signal: controller.signal,
      wait,
      force: values.force === true,
      keyBits,
      valueBits,
      onProgress: progress && ((p: BuildProgress) => progress.update(p)),
    };
    const source = input === "-" ? stdinChunks() : input;
    const result = values.binary ? await buildFromBinary(source, output, options) : await buildFromText(source, output, options);
    progress?.clear();
    if (!values.quiet) {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const perEntry = result.count ? ` (${(result.fileBytes / result.count).toFixed(2)} bytes/entry)` : "";
      writeErr(
        `built ${output}: ${plural(result.count, "entry", "entries")} from ${plural(result.pairs, "pair", "pairs")}, ` +
        `${result.fileBytes} bytes${perEntry} in ${seconds.toFixed(2)} s\n`,
      );
    }
    return EXIT_OK;
  } catch (e) {
    if (e instanceof IdxError && e.code === "ERR_IDX_INTERRUPTED" && received !== undefined) {
      progress?.clear();
      writeErr(`idx: ${e.message.split("\n")[0]}\n`);
      const status = EXIT_SIGNAL[received];
      // A read the signal could not cancel (a named pipe's open waits in a worker thread) would
      // keep the process alive: exit anyway once the rest has finished (an unref'd timer).
      setTimeout(() => process.exit(status), 200).unref();
      return status;
    }
    throw e;
  } finally {
    progress?.clear();
    for (const s of signals) process.off(s, onSignal);
  }
}

/** One self-overwriting line on a terminal's stderr. */
class ProgressLine {
  #shown = false;
  readonly #started = Date.now();

  update(p: BuildProgress): void {
    let text: string;
    if (p.phase === "read") {
      const mb = (p.bytes ?? 0) / 1e6;
      const rate = mb / Math.max(0.001, (Date.now() - this.#started) / 1000);
      const pct = p.totalBytes ? ` ${Math.floor((100 * (p.bytes ?? 0)) / p.totalBytes)}%` : "";
      text = `reading:${pct} ${p.pairs} pairs, ${mb.toFixed(0)} MB (${rate.toFixed(0)} MB/s)`;
    } else {
      text = p.phase === "sort" ? `sorting ${p.pairs} pairs` : "writing the index";
    }
    writeErr(`\r\x1b[K${text}`);
    this.#shown = true;
  }

  clear(): void {
    if (this.#shown) writeErr("\r\x1b[K");
    this.#shown = false;
  }
}
