/**
 * Pairs (iterables, Maps, columns, async chunks, text, binary) -> a new index file, atomically,
 * in bounded memory whatever the number of pairs.
 *
 * Up to `memoryPairs` pairs (32 M by default, about 1.1 GB at the peak of the sort) are built in
 * memory: hashed, sorted, placed (core/encode.ts). Past that the pairs are spilled as they come:
 * hashed and written, grouped by the hash's top byte, to 256 temp files beside the target, in
 * input order within each (so "the last value wins" still holds). Then each group, in hash
 * order, is read back, sorted and deduplicated (once to count the entries, which fixes the
 * capacity, and again to place them), and its slots are written in order by
 * os/table-file.ts. A group larger than `memoryPairs` is split on disk by the next byte of the
 * hash. The file is byte-identical to an in-memory build of the same map (spec §7).
 *
 * The new file replaces the target by replace.ts: the writer lock, the retire mark, a rename.
 * Temp files are removed on every exit path; a killed build's by the next writer or build.
 */
import * as fs from "node:fs";
import * as nodePath from "node:path";
import { checkOptions, checkPath, describeValue, invalid } from "./core/args";
import { Accelerator, GROUPS, JS_ACCELERATOR, encodeIndex } from "./core/encode";
import { IdxError, ioError } from "./core/errors";
import { CELL_ENTRIES, CELL_STATE, STATE_ESCAPED, buildCapacity } from "./core/format";
import { PairBuffer, PairCollector, isColumns } from "./core/pairs";
import { BinaryPairParser, PairParser } from "./core/parse";
import {
  TempFile, registerTemp, removeStaleTempFiles, tempPathFor, throwIfAborted, unregisterTemp, writeTarget, writeTempFile, writeTempFileWith,
} from "./os/atomic-file";
import { nativeAddon } from "./os/native";
import { TableFileWriter } from "./os/table-file";
import { installTemp, refuseToReplace } from "./replace";

/**
 * Anything build() takes: [key, value] pairs (sync or async), a Map, two parallel columns, or
 * an async iterable of column chunks ({ keys, values } objects, pairs in order).
 */
export type PairSource =
  | Iterable<readonly [number, number]>
  | AsyncIterable<readonly [number, number] | { keys: ArrayLike<number>; values: ArrayLike<number> }>
  | ReadonlyMap<number, number>
  | { keys: ArrayLike<number>; values: ArrayLike<number> };

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
  /** Pairs held in memory before spilling to temp files (default 32 M). */
  memoryPairs?: number;
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

const DEFAULT_MEMORY_PAIRS = 32 * 1024 * 1024;

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
 * stream such as process.stdin. `name` is what error messages call the input.
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
 * Builds an index at `path` from binary pairs: little-endian uint32s, key then value, 8 bytes a
 * pair (what `idx dump --binary` writes), from a file path or a stream.
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
      : new BinaryPairParser(name, builder.buffer, spill);
    await readChunks(input, path, name, options, builder, (chunk) => parser.write(chunk), text);
    parser.end();
    return await builder.finish();
  } finally {
    builder.dispose();
  }
}

/** Streams `input` (a path or an async iterable of bytes) into `consume`, honouring the signal. */
async function readChunks(
  input: string | AsyncIterable<Uint8Array>, path: string, name: string, options: BuildOptions,
  builder: IndexBuilder, consume: (chunk: Uint8Array) => void, text = false,
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
      if (bytes === 0 && totalBytes !== undefined && builder.buffer.length > 0) {
        // Size the columns once from the first chunk's density, rather than doubling.
        builder.reserve(Math.ceil(((totalBytes / chunk.length) * builder.buffer.length) * 1.05));
      }
      bytes += chunk.length;
      if (options.onProgress && bytes - reported >= 1 << 24) {
        reported = bytes;
        options.onProgress({ phase: "read", pairs: builder.pairs, bytes, totalBytes });
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

/** A group of spilled pairs: a temp file of (hash, value) pairs whose hashes share their top `bits`. */
interface Group {
  file: string | null;
  pairs: number;
  /** Bits of the hash the group's pairs share (8 for a first-level group, up to 32). */
  bits: number;
  /** Entries after dedupe, counted in the first pass. */
  unique?: number;
}

/** Gathers pairs, spills them past the memory budget, and writes the index. */
class IndexBuilder {
  readonly path: string;
  readonly buffer: PairBuffer;
  readonly #options: BuildOptions;
  readonly #memoryPairs: number;
  readonly #accel: Accelerator;
  /** First-level groups, created at the first spill. */
  #groups: Group[] | null = null;
  #fds: number[] = [];
  #escaped: number | undefined;
  #pairs = 0;
  #tempBytes = 0;
  #peakTempBytes = 0;
  readonly #temps = new Set<string>();

  /** `input`: the file the pairs come from, if any (refused when it is the target itself). */
  constructor(path: string, options: BuildOptions, input?: unknown) {
    checkPath("path", path);
    const o = checkOptions<BuildOptions>("options", options);
    if (o.signal !== undefined && (o.signal === null || typeof o.signal !== "object" || typeof o.signal.aborted !== "boolean" || typeof o.signal.addEventListener !== "function")) {
      throw invalid(`options.signal must be an AbortSignal, not ${describeValue(o.signal)}`, path);
    }
    if (o.onProgress !== undefined && typeof o.onProgress !== "function") throw invalid(`options.onProgress must be a function, not ${describeValue(o.onProgress)}`, path);
    for (const flag of ["sync", "force"] as const) {
      if (o[flag] !== undefined && typeof o[flag] !== "boolean") throw invalid(`options.${flag} must be a boolean, not ${describeValue(o[flag])}`, path);
    }
    if (o.wait !== undefined && (typeof o.wait !== "number" || !(o.wait >= 0))) throw invalid(`options.wait must be milliseconds (0 or more), not ${describeValue(o.wait)}`, path);
    const memoryPairs = o.memoryPairs ?? DEFAULT_MEMORY_PAIRS;
    if (!Number.isInteger(memoryPairs) || memoryPairs < 1024 || memoryPairs > 2 ** 31) {
      throw invalid(`options.memoryPairs must be a whole number from 1024 to 2^31, not ${describeValue(o.memoryPairs)}`, path);
    }
    path = writeTarget(path);
    this.path = path;
    this.#options = options;
    this.#memoryPairs = memoryPairs;
    this.#accel = nativeAddon() ?? JS_ACCELERATOR;
    this.buffer = new PairBuffer(Math.min(1 << 16, memoryPairs));
    if (input !== undefined) refuseOwnInput(input, (options as { name?: string }).name, path, "building would replace the pairs with their index");
    refuseToReplace(path, options.force ?? false);
  }

  /** Pairs taken so far. */
  get pairs(): number {
    return this.#pairs + this.buffer.length;
  }

  /** A collector that checks each pair and spills when the buffer is full. */
  collector(): PairCollector {
    return new PairCollector(this.path, this.buffer, () => this.spillIfFull());
  }

  reserve(pairs: number): void {
    this.buffer.reserve(Math.min(pairs, this.#memoryPairs));
  }

  /** Spills the buffer to the groups once it holds memoryPairs pairs; true if it did. */
  spillIfFull(): boolean {
    if (this.buffer.length < this.#memoryPairs) return false;
    this.#spill();
    return true;
  }

  #spill(): void {
    const n = this.buffer.length;
    if (n === 0) return;
    throwIfAborted(this.#options.signal, this.path);
    if (this.#groups === null) this.#openGroups();
    const out = new Uint32Array(2 * n);
    const counts = new Uint32Array(GROUPS);
    const escaped = new Float64Array(2);
    this.#accel.scatterPairs(this.buffer.keys, this.buffer.values, n, out, counts, escaped);
    if (escaped[0] === 1) this.#escaped = escaped[1];
    let at = 0;
    for (let g = 0; g < GROUPS; g++) {
      const c = counts[g];
      if (c > 0) this.#append(this.#fds[g], this.#groups![g], out.subarray(2 * at, 2 * (at + c)));
      at += c;
    }
    this.#pairs += n;
    this.buffer.length = 0;
  }

  #openGroups(): void {
    removeStaleTempFiles(this.path);
    this.#groups = [];
    for (let g = 0; g < GROUPS; g++) {
      const file = this.#newTemp();
      this.#fds.push(this.#openTemp(file));
      this.#groups.push({ file, pairs: 0, bits: 8 });
    }
  }

  #newTemp(): string {
    const file = tempPathFor(this.path);
    registerTemp(file);
    this.#temps.add(file);
    return file;
  }

  #openTemp(file: string): number {
    try {
      return fs.openSync(file, "wx+", 0o600);
    } catch (e) {
      throw ioError(`create a temp file in ${nodePath.dirname(this.path)}`, this.path, e, "Check that the output directory exists and is writable.");
    }
  }

  #append(fd: number, group: Group, words: Uint32Array): void {
    const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
    let done = 0;
    try {
      while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, null);
    } catch (e) {
      throw ioError("write a temp file of the build", this.path, e, "Free some disk space beside the output (a large build needs about 8 bytes a pair there for a while) and try again.");
    }
    group.pairs += words.length / 2;
    this.#tempBytes += bytes.length;
    this.#peakTempBytes = Math.max(this.#peakTempBytes, this.#tempBytes);
  }

  #removeTemp(file: string): void {
    try {
      this.#tempBytes -= fs.statSync(file).size;
      fs.unlinkSync(file);
    } catch {
      // gone already
    }
    unregisterTemp(file);
    this.#temps.delete(file);
  }

  async finish(): Promise<BuildResult> {
    const options = this.#options;
    throwIfAborted(options.signal, this.path);
    options.onProgress?.({ phase: "sort", pairs: this.pairs });
    let temp: TempFile;
    let header: { count: number; capacity: number; slotCount: number; fileBytes: number };
    if (this.#groups === null) {
      const n = this.buffer.length;
      const image = encodeIndex(this.buffer.keys, this.buffer.values, n, this.path, buildCapacity, this.#accel);
      this.#pairs = n;
      // Let a signal that arrived while sorting abort before any file is created.
      await new Promise<void>((resolve) => setImmediate(resolve));
      throwIfAborted(options.signal, this.path);
      options.onProgress?.({ phase: "write", pairs: this.#pairs });
      temp = writeTempFile(this.path, image, options.sync ?? true);
      header = headerOfImage(image);
    } else {
      this.#spill();
      for (const fd of this.#fds) fs.closeSync(fd);
      this.#fds = [];
      const leaves = await this.#leaves();
      const entries = leaves.reduce((sum, g) => sum + (g.unique ?? 0), 0);
      options.onProgress?.({ phase: "write", pairs: this.#pairs });
      const capacity = buildCapacity(entries);
      let finished!: { slotCount: number; fileBytes: number };
      temp = writeTempFileWith(this.path, options.sync ?? true, (fd) => {
        const writer = new TableFileWriter(fd, this.path, capacity);
        for (const leaf of leaves) {
          const { hashes, values, unique } = this.#sortGroup(leaf);
          writer.add(hashes, values, 0, unique);
          // Placed: its temp file goes now, so the build's temp files and the growing output
          // together stay near the size of the spilled pairs.
          this.#removeTemp(leaf.file!);
          throwIfAborted(options.signal, this.path);
        }
        finished = writer.finish(this.#escaped);
      });
      header = { count: entries + (this.#escaped === undefined ? 0 : 1), capacity, slotCount: finished.slotCount, fileBytes: finished.fileBytes };
    }
    await installTemp(temp, this.path, options);
    return { path: this.path, pairs: this.#pairs, ...header, tempBytes: this.#peakTempBytes };
  }

  /**
   * The groups, in hash order, each small enough to sort in memory (a larger one is split on
   * disk by its next hash byte), with their entry counts: the first pass.
   */
  async #leaves(): Promise<Group[]> {
    const leaves: Group[] = [];
    const visit = async (group: Group): Promise<void> => {
      if (group.pairs === 0) {
        if (group.file) this.#removeTemp(group.file);
        return;
      }
      if (group.pairs > this.#memoryPairs && group.bits < 32) {
        for (const child of this.#split(group)) await visit(child);
        return;
      }
      throwIfAborted(this.#options.signal, this.path);
      group.unique = this.#sortGroup(group).unique;
      leaves.push(group);
      await new Promise<void>((resolve) => setImmediate(resolve)); // let a signal in
    };
    for (const group of this.#groups!) await visit(group);
    return leaves;
  }

  /** Splits a group's file into 256 by the next byte of the hash, in bounded pieces. */
  #split(group: Group): Group[] {
    const children: Group[] = [];
    const fds: number[] = [];
    for (let g = 0; g < GROUPS; g++) {
      const file = this.#newTemp();
      fds.push(this.#openTemp(file));
      children.push({ file, pairs: 0, bits: group.bits + 8 });
    }
    const shift = 32 - group.bits - 8;
    const piece = Math.min(group.pairs, this.#memoryPairs);
    const input = new Uint32Array(2 * piece);
    const out = new Uint32Array(2 * piece);
    const counts = new Uint32Array(GROUPS);
    const fd = fs.openSync(group.file!, "r");
    try {
      for (let done = 0; done < group.pairs; ) {
        const n = Math.min(piece, group.pairs - done);
        readWords(fd, input, n * 2, done * 8, this.path);
        this.#accel.scatterHashed(input, n, shift, out, counts);
        let at = 0;
        for (let g = 0; g < GROUPS; g++) {
          if (counts[g] > 0) this.#append(fds[g], children[g], out.subarray(2 * at, 2 * (at + counts[g])));
          at += counts[g];
        }
        done += n;
      }
    } finally {
      fs.closeSync(fd);
      for (const f of fds) fs.closeSync(f);
    }
    this.#removeTemp(group.file!);
    return children;
  }

  /** A leaf group read back, sorted by hash and deduplicated (the last value of each key wins). */
  #sortGroup(group: Group): { hashes: Uint32Array; values: Uint32Array; unique: number } {
    if (group.bits === 32 && group.pairs > this.#memoryPairs) return this.#lastOfOneHash(group);
    const n = group.pairs;
    const pairs = new Uint32Array(2 * n);
    const fd = fs.openSync(group.file!, "r");
    try {
      readWords(fd, pairs, 2 * n, 0, this.path);
    } finally {
      fs.closeSync(fd);
    }
    const hashes = new Uint32Array(n);
    const values = new Uint32Array(n);
    const result = new Float64Array(1);
    this.#accel.sortHashed(pairs, n, hashes, values, result);
    return { hashes, values, unique: result[0] };
  }

  /**
   * A group whose pairs all have one hash (one key given more often than memoryPairs): its value
   * is the last one, read in pieces rather than sorted.
   */
  #lastOfOneHash(group: Group): { hashes: Uint32Array; values: Uint32Array; unique: number } {
    const piece = new Uint32Array(2 * Math.min(group.pairs, 1 << 20));
    const fd = fs.openSync(group.file!, "r");
    let hash = 0;
    let value = 0;
    try {
      for (let done = 0; done < group.pairs; ) {
        const n = Math.min(piece.length / 2, group.pairs - done);
        readWords(fd, piece, 2 * n, done * 8, this.path);
        hash = piece[2 * n - 2];
        value = piece[2 * n - 1];
        done += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    return { hashes: Uint32Array.of(hash), values: Uint32Array.of(value), unique: 1 };
  }

  /** Removes what the build left: temp files and open descriptors (on success, error or abort). */
  dispose(): void {
    for (const fd of this.#fds) {
      try { fs.closeSync(fd); } catch { /* closed */ }
    }
    this.#fds = [];
    for (const file of [...this.#temps]) this.#removeTemp(file);
  }
}

function readWords(fd: number, into: Uint32Array, words: number, position: number, path: string): void {
  const bytes = new Uint8Array(into.buffer, into.byteOffset, words * 4);
  let done = 0;
  try {
    while (done < bytes.length) {
      const n = fs.readSync(fd, bytes, done, bytes.length - done, position + done);
      if (n === 0) throw new Error("a temp file of the build is shorter than what was written to it");
      done += n;
    }
  } catch (e) {
    throw ioError("read a temp file of the build", path, e);
  }
}

function headerOfImage(image: Uint8Array): { count: number; capacity: number; slotCount: number; fileBytes: number } {
  const v = new DataView(image.buffer, image.byteOffset, 128);
  return {
    count: v.getUint32(CELL_ENTRIES, true) + ((v.getUint32(CELL_STATE, true) & STATE_ESCAPED) !== 0 ? 1 : 0),
    capacity: v.getUint32(16, true) + v.getUint32(20, true) * 2 ** 32,
    slotCount: v.getUint32(24, true) + v.getUint32(28, true) * 2 ** 32,
    fileBytes: image.length,
  };
}

/**
 * Refuses an input that is the file `target` names (`consequence` says what would happen), and a
 * directory given as a stream (stdin): reads of one end at once, as if it held no pairs. `input`
 * is a path, or a stream that may carry its descriptor (process.stdin, fs.ReadStream).
 * @internal
 */
export function refuseOwnInput(input: unknown, name: string | undefined, target: string, consequence: string): void {
  const fd = typeof input === "string" ? null : (input as { fd?: unknown } | null)?.fd;
  const label = name ?? (typeof input === "string" ? input : "<stdin>");
  let a: fs.Stats, b: fs.Stats;
  try {
    if (typeof input === "string") a = fs.statSync(input);
    else if (typeof fd === "number") a = fs.fstatSync(fd);
    else return;
  } catch {
    return; // reading it will say what is wrong
  }
  if (typeof input !== "string" && a.isDirectory()) {
    throw new IdxError("ERR_IDX_IO", "cannot read the input: is a directory (EISDIR)", { path: label, hint: "Give a file of pairs." });
  }
  try {
    b = fs.statSync(target);
  } catch {
    return;
  }
  if (a.dev === b.dev && a.ino === b.ino) {
    throw invalid(`the input ${label} is the output itself: ${consequence}`, target, "Write the index to another file.");
  }
}


