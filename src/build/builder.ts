/**
 * Gathers a build's pairs and writes the index. Up to `memoryPairs` pairs (32 Mi by default:
 * 0.82 GB at the peak of the sort, bench/MEMORY.md) are built in memory: hashed, sorted, placed
 * (core/encode.ts). Past that they go to a Spill (spill.ts) as they come. Either way the file is
 * byte-identical to an in-memory build of the same map (spec §7), and replaces the target by
 * replace.ts: the writer lock, the retire mark, a rename.
 */
import * as fs from "node:fs";
import { checkOptions, checkPath, describeValue, invalid } from "../core/args";
import { ioError } from "../core/errors";
import { Accelerator, JS_ACCELERATOR, ScatteredRecords, encodeIndex, scatteredRecordsOf } from "../core/encode";
import { Layout, Width, buildCapacity, layoutFor, readHeader, sizeOf } from "../core/format";
import { PairBuffer, PairCollector } from "../core/pairs";
import { TempFile, throwIfAborted, writeTarget, writeTempFile, writeTempFileWith } from "../os/atomic-file";
import { TableFileWriter } from "../os/table-file";
import { nativeAddon } from "../os/native";
import { installTemp, refuseToReplace } from "../replace";
import type { BuildOptions, BuildResult } from "./api";
import { refuseInput } from "./input";
import { Spill } from "./spill";

const DEFAULT_MEMORY_PAIRS = 32 * 1024 * 1024;
/** Where the addon's columns stop doubling (spillIfFull), and the most words the addon's words() makes. */
const JUMP_PAIRS = 1 << 20;
const MAX_WORDS = 2 ** 30;

export class IndexBuilder {
  readonly path: string;
  readonly buffer: PairBuffer;
  readonly #options: BuildOptions;
  readonly #memoryPairs: number;
  readonly #accel: Accelerator;
  /** Created at the first spill. */
  #spill: Spill | null = null;

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
    for (const width of ["keyBits", "valueBits"] as const) {
      if (o[width] !== undefined && o[width] !== 32 && o[width] !== 64) throw invalid(`options.${width} must be 32 or 64, not ${describeValue(o[width])}`, path);
    }
    const memoryPairs = o.memoryPairs ?? DEFAULT_MEMORY_PAIRS;
    if (!Number.isInteger(memoryPairs) || memoryPairs < 1024 || memoryPairs > 2 ** 31) {
      throw invalid(`options.memoryPairs must be a whole number from 1024 to 2^31, not ${describeValue(o.memoryPairs)}`, path);
    }
    path = writeTarget(path);
    this.path = path;
    this.#options = options;
    this.#memoryPairs = memoryPairs;
    this.#accel = nativeAddon() ?? JS_ACCELERATOR;
    // Never more than memoryPairs: the buffer spills when it holds that many.
    const accel = this.#accel;
    this.buffer = new PairBuffer(Math.min(1 << 16, memoryPairs), memoryPairs, (n) => accel.words(n), accel.splitWords);
    if (input !== undefined) {
      refuseInput(input, (options as { name?: string }).name, path, {
        self: "building would replace the pairs with their index",
        noInput: "building from it would empty the index; give the pairs on stdin, or, to build an empty index, give an empty file",
      });
    }
    refuseToReplace(path, options.force ?? false);
  }

  /** Pairs taken so far. */
  get pairs(): number {
    return (this.#spill?.pairs ?? 0) + this.buffer.length;
  }

  /** A collector that checks each pair and spills when the buffer is full. */
  collector(): PairCollector {
    return new PairCollector(this.path, this.buffer, () => this.spillIfFull());
  }

  reserve(pairs: number): void {
    this.buffer.reserve(Math.min(pairs, this.#memoryPairs));
  }

  /**
   * The file's widths (spec §16.5): for keys and for values, 64 when an option asks for it or
   * any pair so far needs it, else 32.
   */
  #widths(): [Width, Width] {
    const o = this.#options;
    const b = this.buffer;
    const s = this.#spill;
    return [
      o.keyBits === 64 || b.keyBits === 64 || s?.keyBits === 64 ? 64 : 32,
      o.valueBits === 64 || b.valueBits === 64 || s?.valueBits === 64 ? 64 : 32,
    ];
  }

  /**
   * Called when the buffer is full: spills it once it holds memoryPairs pairs (half that for a
   * version 3 file, whose spilled records and their sort take twice the memory), else may grow
   * it; true when it has room now (else the caller grows it).
   */
  spillIfFull(): boolean {
    const [keyBits, valueBits] = this.#widths();
    const limit = keyBits === 32 && valueBits === 32 ? this.#memoryPairs : this.#memoryPairs / 2;
    if (this.buffer.length < limit) return this.#growAtOnce();
    this.#spillBuffer();
    return true;
  }

  /**
   * Past JUMP_PAIRS, the addon's columns grow to the most they may hold at once, rather than
   * doubling: they are mapped memory that takes pages only as they are written, and a 64/64
   * build of 10 M pairs spent a fifth of its time copying its four columns as they doubled (and
   * the kernel zeroing the pages of each copy). True when it grew them.
   */
  #growAtOnce(): boolean {
    const b = this.buffer;
    if (this.#accel === JS_ACCELERATOR || b.keys.length < JUMP_PAIRS || b.keys.length >= this.#memoryPairs) return false;
    try {
      b.reserve(Math.min(this.#memoryPairs, MAX_WORDS));
    } catch {
      return false; // no address space for it now (a strict overcommit limit): doubling asks for less
    }
    return b.keys.length > b.length;
  }

  #spillBuffer(): void {
    if (this.buffer.length === 0) return;
    throwIfAborted(this.#options.signal, this.path);
    const [keyBits, valueBits] = this.#widths();
    if (this.#spill === null) {
      this.#spill = new Spill(this.path, this.buffer, this.#memoryPairs, this.#accel, this.#options.signal, keyBits, valueBits);
    } else {
      this.#spill.widen(keyBits, valueBits);
    }
    this.#spill.add();
    this.buffer.length = 0;
  }

  async finish(): Promise<BuildResult> {
    const options = this.#options;
    throwIfAborted(options.signal, this.path);
    options.onProgress?.({ phase: "sort", pairs: this.pairs });
    let temp: TempFile;
    let header: { count: number; capacity: number; slotCount: number; fileBytes: number };
    let pairs: number;
    let tempBytes = 0;
    const [keyBits, valueBits] = this.#widths();
    if (this.#spill === null && (keyBits === 64 || valueBits === 64)) {
      // Version 3 (§16), in memory: the pairs as slot records, sorted, streamed to the file.
      pairs = this.buffer.length;
      const scattered = scatteredRecordsOf(this.buffer, keyBits, this.#accel, this.#accel !== JS_ACCELERATOR);
      this.#discardPairs();
      await new Promise<void>((resolve) => setImmediate(resolve));
      throwIfAborted(options.signal, this.path);
      options.onProgress?.({ phase: "write", pairs });
      const layout = layoutFor(keyBits, valueBits);
      let written!: ReturnType<typeof writeGroups>;
      temp = writeTempFileWith(this.path, options.sync ?? true, (fd) => {
        written = writeGroups(fd, this.path, scattered, layout, this.#accel);
      });
      header = {
        count: written.entries + (scattered.escaped === undefined ? 0 : 1), capacity: written.capacity,
        slotCount: written.slotCount, fileBytes: written.fileBytes,
      };
    } else if (this.#spill === null) {
      pairs = this.buffer.length;
      const image = encodeIndex(this.buffer.keys, this.buffer.values, pairs, this.path, buildCapacity, this.#accel);
      this.#discardPairs();
      // Let a signal that arrived while sorting abort before any file is created.
      await new Promise<void>((resolve) => setImmediate(resolve));
      throwIfAborted(options.signal, this.path);
      options.onProgress?.({ phase: "write", pairs });
      temp = writeTempFile(this.path, image, options.sync ?? true);
      const h = readHeader(image, image.length, this.path);
      header = { count: sizeOf(h), capacity: h.capacity, slotCount: h.slotCount, fileBytes: image.length };
    } else {
      this.#spillBuffer();
      const spill = this.#spill;
      pairs = spill.pairs;
      ({ temp, header } = await spill.writeIndex(options.sync ?? true, () => options.onProgress?.({ phase: "write", pairs })));
      tempBytes = spill.peakTempBytes;
    }
    await installTemp(temp, this.path, options);
    return { path: this.path, pairs, ...header, tempBytes };
  }

  /**
   * Once the pairs are in the image or the records: their columns' memory back to the system
   * now, not at the next full collection, so that the file's pages can reuse it (a 64/64 build
   * of 10 M pairs writes 183 MB of file with 160 MB of columns done with).
   */
  #discardPairs(): void {
    const b = this.buffer;
    for (const column of [b.keys, b.values, b.keysHigh, b.valuesHigh]) if (column !== null) this.#accel.discard(column);
    b.length = 0;
  }

  /** Removes what the build left: temp files and open descriptors (on success, error or abort). */
  dispose(): void {
    this.#spill?.dispose();
  }
}

/**
 * Writes a version 3 index to `fd` from records grouped by their hash's top bits: each group is
 * sorted (accel.sortBucket) and placed while it is still in cache, at the capacity for every
 * record, which holds while no group has a key twice. A group that has one changes the
 * capacity: the file is then written again from the start, from the groups as sorted.
 */
function writeGroups(fd: number, path: string, s: ScatteredRecords, layout: Layout, accel: Accelerator) {
  const keyBits = layout.keyBits;
  const largest = s.sizes.reduce((a, b) => Math.max(a, b), 0);
  const scratch = accel.words(Math.max(1, largest) * 4);
  const kept = new Uint32Array(s.sizes.length);
  let writer: TableFileWriter | null = new TableFileWriter(fd, path, buildCapacity(s.length), layout);
  let entries = 0;
  for (let d = 0, at = 0; d < s.sizes.length; at += s.sizes[d], d++) {
    kept[d] = accel.sortBucket(s.records, at, s.sizes[d], keyBits, s.bits, scratch);
    entries += kept[d];
    if (writer !== null && kept[d] < s.sizes[d]) {
      writer.abandon();
      writer = null;
    }
    writer?.addRecords(s.records, at, at + kept[d]);
  }
  if (writer === null) {
    try {
      fs.ftruncateSync(fd, 0);
    } catch (e) {
      throw ioError("write the new index", path, e, "Free some disk space and try again; the old index is unchanged.");
    }
    writer = new TableFileWriter(fd, path, buildCapacity(entries), layout);
    for (let d = 0, at = 0; d < s.sizes.length; at += s.sizes[d], d++) writer.addRecords(s.records, at, at + kept[d]);
  }
  return { ...writer.finish(s.escaped), entries, capacity: buildCapacity(entries) };
}
