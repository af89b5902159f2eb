/**
 * Pairs (iterables, Maps, columns, text) -> a new index file, atomically (encode.ts lays out
 * the bytes). The build takes the writer lock, so it never replaces an index under a writer,
 * and marks the old file retired so that its readers follow the path to the new one.
 */
import * as fs from "node:fs";
import { checkPath, describeValue, invalid } from "./core/args";
import { encodeIndex } from "./core/encode";
import { IdxError, ioError } from "./core/errors";
import { CELL_ENTRIES, CELL_STATE, STATE_ESCAPED } from "./core/format";
import { PairBuffer, PairCollector, isColumns } from "./core/pairs";
import { PairParser } from "./core/parse";
import { throwIfAborted } from "./os/atomic-file";
import { nativeAddon } from "./os/native";
import { replaceFile } from "./replace";


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
  const parser = new PairParser(name, buffer, nativeAddon()?.parseLines ?? null);
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
  const collector = new PairCollector(path);
  if (pairs !== null && typeof pairs === "object" && Symbol.asyncIterator in pairs && !isColumns(pairs)) {
    let n = 0;
    for await (const pair of pairs as AsyncIterable<unknown>) {
      collector.addPair(pair);
      if ((++n & 0xffff) === 0) throwIfAborted(options.signal, path);
    }
    return collector.out;
  }
  if (pairs === null || typeof pairs !== "object") {
    throw invalid(`build takes pairs (an iterable of [key, value], a Map, or { keys, values }), not ${describeValue(pairs)}`, path);
  }
  collector.addSync(pairs);
  return collector.out;
}

async function writeIndex(pairs: PairBuffer, path: string, options: BuildOptions): Promise<BuildResult> {
  throwIfAborted(options.signal, path);
  options.onProgress?.({ phase: "sort", pairs: pairs.length });
  const bytes = encodeIndex(pairs.keys, pairs.values, pairs.length, path, undefined, nativeAddon() ?? undefined);
  // Let a signal that arrived while sorting abort before any file is created.
  await new Promise<void>((resolve) => setImmediate(resolve));
  throwIfAborted(options.signal, path);
  options.onProgress?.({ phase: "write", pairs: pairs.length });
  await replaceFile(path, bytes, options);
  const header = new DataView(bytes.buffer, bytes.byteOffset, 128);
  return {
    path,
    count: header.getUint32(CELL_ENTRIES, true) + ((header.getUint32(CELL_STATE, true) & STATE_ESCAPED) !== 0 ? 1 : 0),
    pairs: pairs.length,
    capacity: header.getUint32(16, true) + header.getUint32(20, true) * 2 ** 32,
    slotCount: header.getUint32(24, true) + header.getUint32(28, true) * 2 ** 32,
    fileBytes: bytes.length,
  };
}

