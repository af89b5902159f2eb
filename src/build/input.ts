/**
 * Text and binary input of a build, and of `idx put`: a file or a stream read in chunks, with
 * an abort that does not wait for the next chunk (a file and the CLI's stdin into one reused
 * buffer); and the inputs refused before anything is read (the output itself, stdin that is a
 * directory, closed or /dev/null).
 */
import * as fs from "node:fs";
import * as net from "node:net";
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
    stream = fileChunks(input);
  } else if (input !== null && typeof input === "object" && Symbol.asyncIterator in input) {
    stream = input;
    // A stream over a file (stdin redirected from one) has a size too: for the columns' size.
    const fd = (input as { fd?: unknown }).fd;
    try {
      const st = typeof fd === "number" ? fs.fstatSync(fd) : null;
      if (st?.isFile()) totalBytes = st.size;
    } catch {
      // reading it will say what is wrong
    }
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

/** Bytes a read of an input file asks for. */
const CHUNK_BYTES = 1 << 20;

/**
 * The chunks of a file, each read into the same buffer: the consumer is done with a chunk before
 * it asks for the next. (fs.createReadStream allocates a buffer per chunk: garbage that the
 * collector reclaims late when the CPU is busy, so that a build's memory grew with its input.)
 * Reads are asynchronous, so that a named pipe's open or read waits without blocking, and a
 * signal gets in.
 */
export async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  const fd = await new Promise<number>((resolve, reject) => fs.open(path, "r", (e, fd) => (e ? reject(e) : resolve(fd))));
  try {
    yield* descriptorChunks(fd);
  } finally {
    fs.close(fd, () => {});
  }
}

/**
 * Standard input for a command, read into one buffer that each chunk reuses, as fileChunks reads
 * a file: process.stdin's stream allocates a buffer per chunk (64 KiB from a pipe), which the
 * collector frees late, so that `cat pairs | idx build -` held garbage the size of its input. A
 * redirected file is read from descriptor 0 itself; a pipe or socket through a socket that reads
 * into the buffer (not by a plain read, which waits in a thread of libuv's pool that nothing
 * cancels and that a process waits for before it exits: Ctrl-C would wait for the writer). A
 * terminal, whose input is small, through process.stdin. Carries `fd` for the checks of
 * refuseInput and the size of a redirected file.
 */
export function stdinChunks(): AsyncIterable<Uint8Array> & { readonly fd: number } {
  let st: fs.Stats | null = null;
  try {
    st = fs.fstatSync(0);
  } catch {
    // closed: refuseInput says so
  }
  return {
    fd: 0,
    [Symbol.asyncIterator]: () => {
      if (st?.isFile()) return descriptorChunks(0);
      if (st?.isFIFO() || st?.isSocket()) return socketChunks(0);
      return (process.stdin as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    },
  };
}

/**
 * The chunks of a pipe or socket `fd`, read by libuv into one buffer (net.Socket's onread): the
 * socket pauses after each chunk and resumes when the next is asked for, when the consumer is
 * done with the buffer.
 */
function socketChunks(fd: number): AsyncIterableIterator<Uint8Array> & { destroy(error?: Error): void } {
  const buffer = new Uint8Array(CHUNK_BYTES);
  let ready = 0; // bytes of `buffer` read and not yet handed out
  let ended = false;
  let failed: Error | null = null;
  let waiter: { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (e: Error) => void } | null = null;
  const settle = () => {
    if (waiter === null) return;
    const w = waiter;
    if (ready > 0) {
      const n = ready;
      ready = 0;
      waiter = null;
      w.resolve({ value: buffer.subarray(0, n), done: false });
    } else if (failed !== null) {
      waiter = null;
      w.reject(failed);
    } else if (ended) {
      waiter = null;
      w.resolve({ value: undefined, done: true });
    }
  };
  const options: net.SocketConstructorOpts & { onread: net.OnReadOpts } = {
    fd,
    readable: true,
    writable: false,
    onread: {
      buffer,
      callback: (n: number) => {
        ready = n;
        settle();
        return false; // pause until the next chunk is asked for
      },
    },
  };
  const socket = new net.Socket(options);
  socket.on("end", () => {
    ended = true;
    settle();
  });
  socket.on("error", (e) => {
    failed = e;
    settle();
  });
  const finish = (error?: Error) => {
    ended = true;
    socket.destroy(error);
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      return new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
        waiter = { resolve, reject };
        settle();
        if (waiter !== null) socket.resume();
      });
    },
    async return() {
      finish();
      return { value: undefined, done: true };
    },
    destroy: finish,
  };
}

/** Chunks read from `fd` at its offset into one buffer, which each chunk reuses. */
async function* descriptorChunks(fd: number): AsyncGenerator<Uint8Array> {
  const buffer = new Uint8Array(CHUNK_BYTES);
  for (;;) {
    const n = await new Promise<number>((resolve, reject) => {
      fs.read(fd, buffer, 0, CHUNK_BYTES, null, (e, bytesRead) => (e ? reject(e) : resolve(bytesRead)));
    });
    if (n === 0) return;
    yield buffer.subarray(0, n);
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
