/**
 * Gathers a build's pairs and writes the index. Up to `memoryPairs` pairs (32 Mi by default:
 * 0.82 GB at the peak of the sort, bench/MEMORY.md) are built in memory: hashed, sorted, placed
 * (core/encode.ts). Past that they go to a Spill (spill.ts) as they come. Either way the file is
 * byte-identical to an in-memory build of the same map (spec §7), and replaces the target by
 * replace.ts: the writer lock, the retire mark, a rename.
 */
import { checkOptions, checkPath, describeValue, invalid } from "../core/args";
import { Accelerator, JS_ACCELERATOR, encodeIndex } from "../core/encode";
import { buildCapacity, readHeader, sizeOf } from "../core/format";
import { PairBuffer, PairCollector } from "../core/pairs";
import { TempFile, throwIfAborted, writeTarget, writeTempFile } from "../os/atomic-file";
import { nativeAddon } from "../os/native";
import { installTemp, refuseToReplace } from "../replace";
import type { BuildOptions, BuildResult } from "./api";
import { refuseInput } from "./input";
import { Spill } from "./spill";

const DEFAULT_MEMORY_PAIRS = 32 * 1024 * 1024;

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
    this.buffer = new PairBuffer(Math.min(1 << 16, memoryPairs), memoryPairs);
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

  /** Spills the buffer once it holds memoryPairs pairs; true if it did. */
  spillIfFull(): boolean {
    if (this.buffer.length < this.#memoryPairs) return false;
    this.#spillBuffer();
    return true;
  }

  #spillBuffer(): void {
    if (this.buffer.length === 0) return;
    throwIfAborted(this.#options.signal, this.path);
    this.#spill ??= new Spill(this.path, this.buffer, this.#memoryPairs, this.#accel, this.#options.signal);
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
    if (this.#spill === null) {
      pairs = this.buffer.length;
      const image = encodeIndex(this.buffer.keys, this.buffer.values, pairs, this.path, buildCapacity, this.#accel);
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

  /** Removes what the build left: temp files and open descriptors (on success, error or abort). */
  dispose(): void {
    this.#spill?.dispose();
  }
}
