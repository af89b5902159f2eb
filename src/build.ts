/**
 * Pairs (iterables, Maps, columns, text) -> a new index file, atomically (encode.ts lays out
 * the bytes). The build takes the writer lock, so it never replaces an index under a writer,
 * and marks the old file retired so that its readers follow the path to the new one.
 */
import * as fs from "node:fs";
import { IdxError, ioError } from "./errors";
import { H, HEADER_BYTES, STATE_COUNT_MASK } from "./format";
import { PairBuffer } from "./pairs";
import { PairParser } from "./parse";
import { encodeIndex } from "./encode";
import { replaceFile, throwIfAborted } from "./atomic-file";


/** Anything build() takes: [key, value] pairs (sync or async), a Map, or two parallel columns. */
export type PairSource =
  | Iterable<readonly [number, number]>
  | AsyncIterable<readonly [number, number]>
  | ReadonlyMap<number, number>
  | { keys: ArrayLike<number>; values: ArrayLike<number> };

export interface BuildProgress {
  phase: "read" | "sort" | "write";
  /** Pairs read so far. */
  pairs: number;
  /** Input bytes read so far (text input only). */
  bytes?: number;
  /** Input size in bytes when known (a file). */
  totalBytes?: number;
}

export interface BuildOptions {
  /** Abort the build; the target is left as it was and no temp file remains. */
  signal?: AbortSignal;
  /** Called now and then while reading, and once per later phase. */
  onProgress?: (progress: BuildProgress) => void;
  /** fsync the new file and its directory before returning (default true). */
  sync?: boolean;
}

export interface BuildResult {
  path: string;
  /** Distinct keys in the index. */
  count: number;
  /** Pairs read, duplicates included. */
  pairs: number;
  capacity: number;
  slotCount: number;
  fileBytes: number;
}

/**
 * Builds an index at `path` from `pairs`. Duplicate keys: the last one wins, as in a Map built
 * from the same pairs. The file appears only when complete and synced.
 * @throws IdxError ERR_IDX_INVALID_ARGUMENT (a key or value that is not a uint32),
 *   ERR_IDX_TOO_LARGE, ERR_IDX_IO, ERR_IDX_INTERRUPTED.
 */
export async function build(pairs: PairSource, path: string, options: BuildOptions = {}): Promise<BuildResult> {
  const buffer = await collect(pairs, options, path);
  return writeIndex(buffer, path, options);
}

/**
 * Builds an index at `path` from text pairs (see parse.ts for the syntax): a file path, or a
 * stream such as process.stdin. `name` is what error messages call the input.
 * @throws IdxError ERR_IDX_PARSE (a bad line: file, line number and what is wrong), and as build().
 */
export async function buildFromText(
  input: string | AsyncIterable<Uint8Array>,
  path: string,
  options: BuildOptions & { name?: string } = {},
): Promise<BuildResult> {
  const name = options.name ?? (typeof input === "string" ? input : "<stdin>");
  const buffer = new PairBuffer();
  const parser = new PairParser(name, buffer);
  let totalBytes: number | undefined;
  let stream: AsyncIterable<Uint8Array>;
  if (typeof input === "string") {
    try {
      const st = fs.statSync(input);
      if (st.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
      totalBytes = st.size;
    } catch (e) {
      throw ioError("read the input", input, e, "Check the path of the pairs file.");
    }
    stream = fs.createReadStream(input, { highWaterMark: 1 << 20 });
  } else {
    stream = input;
  }
  // An abort must not wait for the next chunk: at a terminal that may never come.
  const destroyable = stream as { destroy?: (error: Error) => void };
  const onAbort = () => destroyable.destroy?.(new IdxError("ERR_IDX_INTERRUPTED", "interrupted; the index was not changed", { path }));
  options.signal?.addEventListener("abort", onAbort, { once: true });
  let bytes = 0;
  let reported = 0;
  try {
    for await (const chunk of stream) {
      throwIfAborted(options.signal, path);
      parser.write(chunk);
      if (bytes === 0 && totalBytes !== undefined && buffer.length > 0) {
        // Size the columns once from the first chunk's line length, rather than doubling.
        buffer.reserve(Math.ceil(((totalBytes / chunk.length) * buffer.length) * 1.05));
      }
      bytes += chunk.length;
      if (options.onProgress && bytes - reported >= 1 << 24) {
        reported = bytes;
        options.onProgress({ phase: "read", pairs: buffer.length, bytes, totalBytes });
      }
    }
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
  parser.end();
  return writeIndex(buffer, path, options);
}

async function collect(pairs: PairSource, options: BuildOptions, path: string): Promise<PairBuffer> {
  const out = new PairBuffer();
  if (typeof pairs !== "object" || pairs === null) {
    throw new IdxError("ERR_IDX_INVALID_ARGUMENT", `build takes pairs (an iterable of [key, value], a Map, or { keys, values }), not ${pairs === null ? "null" : typeof pairs}`, { path });
  }
  const add = (key: unknown, value: unknown, at: number) => {
    const keyOk = typeof key === "number" && (key >>> 0) === key;
    const valueOk = typeof value === "number" && (value >>> 0) === value;
    if (!keyOk || !valueOk) {
      const bad = keyOk ? `value ${String(value)}` : `key ${String(key)}`;
      throw new IdxError("ERR_IDX_INVALID_ARGUMENT", `pair #${at}: ${bad} is not an integer from 0 to 4294967295`, { path });
    }
    out.push(key as number, value as number);
  };
  if (!isColumns(pairs) && !(Symbol.iterator in pairs) && !(Symbol.asyncIterator in pairs)) {
    throw new IdxError("ERR_IDX_INVALID_ARGUMENT", "build takes pairs: an iterable of [key, value], a Map, or { keys, values }", { path });
  }
  if (isColumns(pairs)) {
    const { keys, values } = pairs;
    if (keys.length !== values.length) {
      throw new IdxError("ERR_IDX_INVALID_ARGUMENT", `keys (${keys.length}) and values (${values.length}) differ in length`, { path });
    }
    for (let i = 0; i < keys.length; i++) add(keys[i], values[i], i);
    return out;
  }
  let at = 0;
  const each = (pair: readonly [number, number]) => {
    if (!Array.isArray(pair) || pair.length < 2) {
      throw new IdxError("ERR_IDX_INVALID_ARGUMENT", `pair #${at} is not a [key, value] array`, { path });
    }
    add(pair[0], pair[1], at++);
  };
  if (Symbol.asyncIterator in pairs) {
    for await (const pair of pairs as AsyncIterable<readonly [number, number]>) {
      each(pair);
      if ((at & 0xffff) === 0) throwIfAborted(options.signal, path);
    }
  } else {
    for (const pair of pairs as Iterable<readonly [number, number]>) each(pair);
  }
  return out;
}

function isColumns(p: PairSource): p is { keys: ArrayLike<number>; values: ArrayLike<number> } {
  const c = p as { keys?: unknown; values?: unknown };
  return !(p instanceof Map) && !(Symbol.iterator in p) && !(Symbol.asyncIterator in p) &&
    typeof c.keys === "object" && c.keys !== null && typeof c.values === "object" && c.values !== null;
}

async function writeIndex(pairs: PairBuffer, path: string, options: BuildOptions): Promise<BuildResult> {
  throwIfAborted(options.signal, path);
  options.onProgress?.({ phase: "sort", pairs: pairs.length });
  const bytes = encodeIndex(pairs.keys, pairs.values, pairs.length, path);
  // Let a signal that arrived while sorting abort before any file is created.
  await new Promise<void>((resolve) => setImmediate(resolve));
  throwIfAborted(options.signal, path);
  options.onProgress?.({ phase: "write", pairs: pairs.length });
  await replaceFile(path, bytes, options);
  const header = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  return {
    path,
    count: header.getUint32(H.stateCell, true) & STATE_COUNT_MASK,
    pairs: pairs.length,
    capacity: header.getUint32(H.capacity, true),
    slotCount: header.getUint32(H.slotCount, true),
    fileBytes: bytes.length,
  };
}

