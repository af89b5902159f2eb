/**
 * The build API: pairs (iterables, Maps, columns, async chunks, text, binary) -> a new index
 * file, atomically, in bounded memory whatever the number of pairs. builder.ts gathers the
 * pairs and writes the file; input.ts reads text and binary input; spill.ts sorts what does not
 * fit in memory through temp files.
 */
import { describeValue, invalid } from "../core/args";
import { Id } from "../core/keys";
import { isColumns } from "../core/pairs";
import { BinaryPairParser, PairParser } from "../core/parse";
import { throwIfAborted } from "../os/atomic-file";
import { nativeAddon } from "../os/native";
import { IndexBuilder } from "./builder";
import { readChunks } from "./input";

/**
 * Anything build() takes: [key, value] pairs (sync or async), a Map, two parallel columns, or
 * an async iterable of column chunks ({ keys, values } objects, pairs in order).
 */
export type PairSource =
  | Iterable<readonly [Id, Id]>
  | AsyncIterable<readonly [Id, Id] | { keys: ArrayLike<Id>; values: ArrayLike<Id> }>
  | ReadonlyMap<Id, Id>
  | { keys: ArrayLike<Id>; values: ArrayLike<Id> };

export interface BuildProgress {
  phase: "read" | "sort" | "write";
  /** Pairs read so far. */
  pairs: number;
  /** Input bytes read so far (text and binary input). */
  bytes?: number;
  /** Input size in bytes when known (a file). */
  totalBytes?: number;
}

/** An AbortSignal (or anything shaped like one): what build() needs of it. */
export interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

export interface BuildOptions {
  /** Abort the build (an AbortSignal); the target is left as it was and no temp file remains. */
  signal?: AbortSignalLike;
  /** Called now and then while reading, and once per later phase. */
  onProgress?: (progress: BuildProgress) => void;
  /** fsync the new file and its directory before returning (default true). */
  sync?: boolean;
  /** Wait this many ms for a writer of the target to finish (default 0: fail at once). */
  wait?: number;
  /** Replace the target even if it is not an idx index (default false: refuse). */
  force?: boolean;
  /** Pairs held in memory before spilling to temp files (default 32 M; half for 64-bit widths). */
  memoryPairs?: number;
  /**
   * The key width in bits (spec §16): 64 makes the keys 64-bit even if every key fits 32 bits.
   * By default (32) the narrowest width that holds every key: a key above 2^32 - 1 makes it 64.
   */
  keyBits?: 32 | 64;
  /** The value width, as keyBits for values. */
  valueBits?: 32 | 64;
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
  /** Bytes of temp files the build needed at most (0 when it ran in memory). */
  tempBytes: number;
}

/**
 * Builds an index at `path` from `pairs`. Duplicate keys: the last one wins, as in a Map built
 * from the same pairs. The file appears only when complete and synced.
 * @throws IdxError ERR_IDX_INVALID_ARGUMENT (a pair that is not two uint32s, bad options),
 *   ERR_IDX_NOT_AN_INDEX (the target is another kind of file; pass force), ERR_IDX_TOO_LARGE,
 *   ERR_IDX_IO, ERR_IDX_LOCKED, ERR_IDX_INTERRUPTED.
 */
export async function build(pairs: PairSource, path: string, options: BuildOptions = {}): Promise<BuildResult> {
  const builder = new IndexBuilder(path, options);
  try {
    const collector = builder.collector();
    if (pairs !== null && typeof pairs === "object" && Symbol.asyncIterator in pairs && !isColumns(pairs)) {
      let n = 0;
      for await (const item of pairs as AsyncIterable<unknown>) {
        if (Array.isArray(item)) collector.addPair(item);
        else if (isColumns(item)) collector.addColumns(item);
        else throw invalid(`item #${n} of the pairs is neither a [key, value] array nor a { keys, values } chunk (it is ${describeValue(item)})`, path);
        if ((++n & 0xff) === 0) throwIfAborted(options.signal, path);
      }
    } else {
      if (pairs === null || typeof pairs !== "object") {
        throw invalid(`build takes pairs (an iterable of [key, value], a Map, or { keys, values }), not ${describeValue(pairs)}`, path);
      }
      collector.addSync(pairs);
    }
    return await builder.finish();
  } finally {
    builder.dispose();
  }
}

/**
 * Builds an index at `path` from text pairs (core/parse.ts has the syntax): a file path, or a
 * stream such as process.stdin. `name` is what error messages call the input. A file is read
 * into one buffer; a stream's chunks are its own (Node's streams allocate one a chunk, which the
 * collector may free late on a busy machine), so for a large input give a path.
 * @throws IdxError ERR_IDX_PARSE (a bad line: file, line number and what is wrong), and as build().
 */
export function buildFromText(
  input: string | AsyncIterable<Uint8Array>,
  path: string,
  options: BuildOptions & { name?: string } = {},
): Promise<BuildResult> {
  return buildFromStream(input, path, options, true);
}

/**
 * Builds an index at `path` from binary pairs: little-endian integers, key then value, at the
 * widths options.keyBits and options.valueBits give (32 each by default: 8 bytes a pair), as
 * `idx dump --binary` writes a file of those widths, from a file path or a stream.
 * @throws IdxError ERR_IDX_PARSE (the input's length is not a multiple of 8), and as build().
 */
export function buildFromBinary(
  input: string | AsyncIterable<Uint8Array>,
  path: string,
  options: BuildOptions & { name?: string } = {},
): Promise<BuildResult> {
  return buildFromStream(input, path, options, false);
}

async function buildFromStream(
  input: string | AsyncIterable<Uint8Array>,
  path: string,
  options: BuildOptions & { name?: string },
  text: boolean,
): Promise<BuildResult> {
  const builder = new IndexBuilder(path, options, input);
  try {
    const name = options.name ?? (typeof input === "string" ? input : "<stdin>");
    const spill = () => builder.spillIfFull();
    const parser = text
      ? new PairParser(name, builder.buffer, nativeAddon()?.parseLines ?? null, spill)
      : new BinaryPairParser(name, builder.buffer, spill, options.keyBits ?? 32, options.valueBits ?? 32);
    await readChunks(input, path, name, options, builder, (chunk) => parser.write(chunk), text);
    parser.end();
    return await builder.finish();
  } finally {
    builder.dispose();
  }
}
