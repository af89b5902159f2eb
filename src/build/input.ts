/**
 * Text and binary input of a build, and of `idx put`: a file or a stream read in chunks, with
 * an abort that does not wait for the next chunk; and the inputs refused before anything is
 * read (the output itself, a directory on stdin).
 */
import * as fs from "node:fs";
import { checkPath, describeValue, invalid } from "../core/args";
import { IdxError, ioError } from "../core/errors";
import { throwIfAborted } from "../os/atomic-file";
import type { BuildOptions } from "./api";

/** What readChunks feeds and reports to: the builder. */
export interface ChunkSink {
  /** Pairs taken so far. */
  readonly pairs: number;
  /** Makes room for about `pairs` pairs in all (once, when the input's size is known). */
  reserve(pairs: number): void;
}

/** Streams `input` (a path or an async iterable of bytes) into `consume`, honouring the signal. */
export async function readChunks(
  input: string | AsyncIterable<Uint8Array>, path: string, name: string, options: BuildOptions,
  sink: ChunkSink, consume: (chunk: Uint8Array) => void, text = false,
): Promise<void> {
  let totalBytes: number | undefined;
  let stream: AsyncIterable<Uint8Array>;
  let pipe: string | null = null;
  if (typeof input === "string") {
    checkPath("input", input);
    try {
      const st = fs.statSync(input);
      if (st.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
      totalBytes = st.isFile() ? st.size : undefined;
      if (st.isFIFO()) pipe = input;
    } catch (e) {
      throw ioError("read the input", input, e, "Check the path of the pairs file.");
    }
    stream = fs.createReadStream(input, { highWaterMark: 1 << 20 });
  } else if (input !== null && typeof input === "object" && Symbol.asyncIterator in input) {
    stream = input;
  } else {
    throw invalid(`the input must be a file path or a stream of bytes, not ${describeValue(input)}`, path);
  }
  // An abort must not wait for the next chunk: at a terminal that may never come, and a named
  // pipe's open waits for a writer in a thread no destroy() reaches. So each chunk is raced
  // with the abort.
  const destroyable = stream as { destroy?: (error: Error) => void };
  let abortRead: (e: IdxError) => void = () => {};
  const aborted = new Promise<never>((_, reject) => (abortRead = reject));
  aborted.catch(() => {}); // settled for the race only
  const onAbort = () => {
    const e = new IdxError("ERR_IDX_INTERRUPTED", "interrupted; the index was not changed", { path });
    destroyable.destroy?.(e);
    abortRead(e);
    if (pipe !== null) releasePipeOpen(pipe);
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  let bytes = 0;
  let reported = 0;
  const chunks = (stream as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  let ended = false;
  try {
    throwIfAborted(options.signal, path);
    for (let n = 0; ; ) {
      const next = await Promise.race([chunks.next(), aborted]);
      if (next.done) {
        ended = true;
        break;
      }
      const item = next.value;
      throwIfAborted(options.signal, path);
      const chunk = asBytes(item, n++, path, text);
      consume(chunk);
      if (bytes === 0 && totalBytes !== undefined && sink.pairs > 0) {
        // Size the columns once from the first chunk's density, rather than doubling.
        sink.reserve(Math.ceil(((totalBytes / chunk.length) * sink.pairs) * 1.05));
      }
      bytes += chunk.length;
      if (options.onProgress && bytes - reported >= 1 << 24) {
        reported = bytes;
        options.onProgress({ phase: "read", pairs: sink.pairs, bytes, totalBytes });
      }
    }
  } catch (e) {
    if (e instanceof IdxError) throw e;
    throw ioError("read the input", name, e);
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    // As for-await would on an early exit: let the source close (not awaited: a pipe's open
    // may never finish).
    if (!ended) chunks.return?.()?.catch(() => {});
  }
}

/**
 * A named pipe's open for reading waits, in a thread of libuv's pool, until something opens it
 * for writing; nothing cancels it, and a process cannot even exit while it waits. Opening the
 * pipe for writing (which succeeds at once, since a reader is waiting) lets it finish.
 */
function releasePipeOpen(pipe: string): void {
  try {
    fs.closeSync(fs.openSync(pipe, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
  } catch {
    // no reader waiting (ENXIO): the open had finished
  }
}

/**
 * A chunk of input as bytes: a Uint8Array (a Buffer included) as it is; for text input, a string
 * (a stream with an encoding set) as its UTF-8. Anything else, a Uint32Array included, is
 * refused rather than read by its length as if it were bytes.
 */
function asBytes(item: unknown, n: number, path: string, text: boolean): Uint8Array {
  if (item instanceof Uint8Array) return item;
  if (typeof item === "string" && text) return Buffer.from(item, "utf8");
  throw invalid(`chunk #${n} of the input is ${describeValue(item)}, not bytes (a Uint8Array or Buffer)`, path,
    "Give the input as a stream of bytes; for pairs already in arrays, use build() with { keys, values }.");
}

/** What a command says when its input is refused. */
export interface InputRefusals {
  /** What reading the output itself would do: "building would replace the pairs with their index". */
  self: string;
  /** What to do when stdin holds nothing (closed or /dev/null): "give the pairs on stdin". */
  noInput: string;
}

/**
 * Refuses, before anything is read or changed, an input that cannot be what the caller meant:
 * - standard input that is closed or /dev/null. A shell's `<&-` closes descriptor 0, and Node
 *   reopens it as /dev/null at startup; either reads as an input with no pairs, and a build of
 *   it would silently replace the index with an empty one. (An empty file is a deliberate
 *   empty input, and stays allowed: it is how to build an empty index.)
 * - a directory given as a stream (stdin): reads of one end at once, as if it held no pairs.
 * - the file `target` names, by path or as stdin.
 * `input` is a path, or a stream that may carry its descriptor (process.stdin, fs.ReadStream).
 * @internal
 */
export function refuseInput(input: unknown, name: string | undefined, target: string, say: InputRefusals): void {
  const fd = typeof input === "string" ? null : (input as { fd?: unknown } | null)?.fd;
  const label = name ?? (typeof input === "string" ? input : "<stdin>");
  let a: fs.Stats, b: fs.Stats;
  try {
    if (typeof input === "string") a = fs.statSync(input);
    else if (typeof fd === "number") a = fs.fstatSync(fd);
    else return;
  } catch (e) {
    if (fd === 0 && (e as NodeJS.ErrnoException).code === "EBADF") throw noInput(label, say);
    return; // reading it will say what is wrong
  }
  if (fd === 0 && isDevNull(a)) throw noInput(label, say);
  if (typeof input !== "string" && a.isDirectory()) {
    throw new IdxError("ERR_IDX_IO", "cannot read the input: is a directory (EISDIR)", { path: label, hint: "Give a file of pairs." });
  }
  try {
    b = fs.statSync(target);
  } catch {
    return;
  }
  if (a.dev === b.dev && a.ino === b.ino) {
    throw invalid(`the input ${label} is the output itself: ${say.self}`, target, "Write the index to another file.");
  }
}

/** One line, the advice in it: what the user typed (`<&-`, `< /dev/null`) may not be a mistake to them. */
function noInput(label: string, say: InputRefusals): IdxError {
  return new IdxError("ERR_IDX_IO", `standard input is closed or /dev/null, so it holds no pairs: ${say.noInput}`, { path: label });
}

function isDevNull(st: fs.Stats): boolean {
  if (!st.isCharacterDevice()) return false;
  try {
    return st.rdev === fs.statSync("/dev/null").rdev;
  } catch {
    return false; // no /dev/null (Windows)
  }
}
