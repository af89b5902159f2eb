/**
 * Pairs -> a new index file, atomically. The layout is canonical: entries are sorted by hash
 * and placed in order (spec/FORMAT.md §7), so the same map always gives the same bytes,
 * whatever order or duplicates the input had.
 */
import * as fs from "node:fs";
import { crc32 } from "./crc32";
import { IdxError, ioError } from "./errors";
import {
  BLOCK_BYTES, CHECKSUM_BYTES, EMPTY_HASH, FLAG_ESCAPED_PRESENT, H, HEADER_BYTES, MAX_FILE_BYTES,
  MAX_SLOT_COUNT, SLOT_WORDS, SPILL_SLOTS, VERSION_MAJOR, VERSION_MINOR, blockCount,
  buildCapacity, checksumsOffset, fileBytes, writeHeader,
} from "./format";
import { hash32 } from "./hash";
import { PairBuffer } from "./pairs";
import { PairParser } from "./parse";
import { placeSorted, placedEnd } from "./table";
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
  let bytes = 0;
  let reported = 0;
  for await (const chunk of stream) {
    throwIfAborted(options.signal, path);
    parser.write(chunk);
    bytes += chunk.length;
    if (options.onProgress && bytes - reported >= 1 << 24) {
      reported = bytes;
      options.onProgress({ phase: "read", pairs: buffer.length, bytes, totalBytes });
    }
  }
  parser.end();
  return writeIndex(buffer, path, options);
}

async function collect(pairs: PairSource, options: BuildOptions, path: string): Promise<PairBuffer> {
  const out = new PairBuffer();
  const add = (key: number, value: number, at: number) => {
    if ((key >>> 0) !== key || (value >>> 0) !== value) {
      const bad = (key >>> 0) !== key ? `key ${String(key)}` : `value ${String(value)}`;
      throw new IdxError("ERR_IDX_INVALID_ARGUMENT", `pair #${at}: ${bad} is not an integer from 0 to 4294967295`, { path });
    }
    out.push(key, value);
  };
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
    count: header.getUint32(H.count, true),
    pairs: pairs.length,
    capacity: header.getUint32(H.capacity, true),
    slotCount: header.getUint32(H.slotCount, true),
    fileBytes: bytes.length,
  };
}

/**
 * The complete file image for the first `n` pairs of the columns: a pure function of the map
 * they describe (last value wins per key). `keys` is overwritten with hashes.
 * @throws IdxError ERR_IDX_TOO_LARGE when the file would exceed the format's limit.
 */
export function encodeIndex(keys: Uint32Array, values: Uint32Array, n: number, path = "<memory>"): Buffer {
  // Hash in place; the escaped key (whose hash is EMPTY_HASH) goes to the header, not a slot.
  const hashes = keys;
  let escaped: number | undefined;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const hash = hash32(keys[i]);
    if (hash === EMPTY_HASH) {
      escaped = values[i];
      continue;
    }
    hashes[m] = hash;
    values[m] = values[i];
    m++;
  }
  const [sortedHashes, sortedValues] = sortByHash(hashes, values, m);
  const unique = keepLastOfEqualRuns(sortedHashes, sortedValues, m);

  const capacity = buildCapacity(unique);
  const slotCount = Math.max(capacity, placedEnd(sortedHashes, unique, capacity)) + SPILL_SLOTS;
  if (slotCount > MAX_SLOT_COUNT) {
    throw new IdxError("ERR_IDX_TOO_LARGE",
      `${unique} entries need a ${fileBytes(slotCount)}-byte file; a version ${VERSION_MAJOR} index is at most ${MAX_FILE_BYTES} bytes (about ${Math.floor((MAX_SLOT_COUNT - SPILL_SLOTS) * BUILD_FILL)} entries)`,
      { path, hint: "Split the keys across several indexes (by key range, for example)." });
  }
  const file = Buffer.alloc(fileBytes(slotCount));
  const slots = new Uint32Array(file.buffer, file.byteOffset + HEADER_BYTES, slotCount * SLOT_WORDS);
  placeSorted(slots, sortedHashes, sortedValues, unique, capacity);
  writeChecksums(file, slotCount, 0, blockCount(slotCount));
  writeHeader(file, {
    major: VERSION_MAJOR,
    minor: VERSION_MINOR,
    flags: escaped === undefined ? 0 : FLAG_ESCAPED_PRESENT,
    capacity,
    slotCount,
    count: unique + (escaped === undefined ? 0 : 1),
    tombstones: 0,
    escapedValue: escaped ?? 0,
    seq: 0,
    dirtyFirstBlock: 0,
    dirtyBlockCount: 0,
  });
  return file;
}

const BUILD_FILL = 7 / 8;

/** Recomputes the checksums of blocks [first, first + count) of the file image. */
export function writeChecksums(file: Uint8Array, slotCount: number, first: number, count: number): void {
  const slotsEnd = checksumsOffset(slotCount);
  const view = new DataView(file.buffer, file.byteOffset, file.length);
  for (let b = first; b < first + count; b++) {
    const start = HEADER_BYTES + b * BLOCK_BYTES;
    const end = Math.min(start + BLOCK_BYTES, slotsEnd);
    view.setUint32(slotsEnd + b * CHECKSUM_BYTES, crc32(file.subarray(start, end)), true);
  }
}

const RADIX_BITS = 11;
const RADIX = 1 << RADIX_BITS;
const RADIX_MASK = RADIX - 1;

/**
 * LSD radix sort of (hash, value) by hash, 11 bits a pass. Stable, which is what makes "the
 * last duplicate wins" hold after sorting. Returns the arrays holding the result.
 */
export function sortByHash(hashes: Uint32Array, values: Uint32Array, n: number): [Uint32Array, Uint32Array] {
  let srcH = hashes, srcV = values;
  let dstH = new Uint32Array(n), dstV = new Uint32Array(n);
  const counts = new Uint32Array(RADIX);
  for (let shift = 0; shift < 32; shift += RADIX_BITS) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(srcH[i] >>> shift) & RADIX_MASK]++;
    let sum = 0;
    for (let d = 0; d < RADIX; d++) {
      const c = counts[d];
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const h = srcH[i];
      const pos = counts[(h >>> shift) & RADIX_MASK]++;
      dstH[pos] = h;
      dstV[pos] = srcV[i];
    }
    [srcH, dstH] = [dstH, srcH];
    [srcV, dstV] = [dstV, srcV];
  }
  return [srcH, srcV];
}

/** Compacts sorted (hash, value) so each hash appears once, with its last value. Returns the count. */
function keepLastOfEqualRuns(hashes: Uint32Array, values: Uint32Array, n: number): number {
  let w = 0;
  for (let i = 0; i < n; i++) {
    if (i + 1 < n && hashes[i + 1] === hashes[i]) continue;
    hashes[w] = hashes[i];
    values[w] = values[i];
    w++;
  }
  return w;
}
