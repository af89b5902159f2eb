/**
 * A build past its memory budget. The pairs are spilled as they come: hashed and written,
 * grouped by the hash's top byte, to 256 temp files beside the target, in input order within
 * each (so "the last value wins" still holds). Then each group, in hash order, is read back,
 * sorted and deduplicated (once to count the entries, which fixes the capacity, and again to
 * place them), and its slots are written in order by os/table-file.ts. A group larger than
 * `memoryPairs` is split on disk by the next byte of the hash. The file is byte-identical to an
 * in-memory build of the same map (spec §7).
 *
 * Temp files are removed on every exit path; a killed build's by the next writer or build.
 */
import * as fs from "node:fs";
import * as nodePath from "node:path";
import { Accelerator, GROUPS } from "../core/encode";
import { ioError } from "../core/errors";
import { buildCapacity } from "../core/format";
import {
  TempFile, registerTemp, removeStaleTempFiles, tempPathFor, throwIfAborted, unregisterTemp, writeTempFileWith,
} from "../os/atomic-file";
import { TableFileWriter } from "../os/table-file";

/** A group of spilled pairs: a temp file of (hash, value) pairs whose hashes share their top `bits`. */
interface Group {
  file: string | null;
  pairs: number;
  /** Bits of the hash the group's pairs share (8 for a first-level group, up to 32). */
  bits: number;
  /** Entries after dedupe, counted in the first pass. */
  unique?: number;
}

export class Spill {
  readonly #path: string;
  readonly #memoryPairs: number;
  readonly #accel: Accelerator;
  readonly #signal: { readonly aborted: boolean } | undefined;
  /** First-level groups. */
  readonly #groups: Group[] = [];
  #fds: number[] = [];
  #escaped: number | undefined;
  #pairs = 0;
  #tempBytes = 0;
  #peakTempBytes = 0;
  readonly #temps = new Set<string>();

  /** `path`: the index being built (temp files go beside it). */
  constructor(path: string, memoryPairs: number, accel: Accelerator, signal: { readonly aborted: boolean } | undefined) {
    this.#path = path;
    this.#memoryPairs = memoryPairs;
    this.#accel = accel;
    this.#signal = signal;
  }

  #openGroups(): void {
    removeStaleTempFiles(this.#path);
    for (let g = 0; g < GROUPS; g++) {
      const file = this.#newTemp();
      this.#fds.push(this.#openTemp(file));
      this.#groups.push({ file, pairs: 0, bits: 8 });
    }
  }

  /** Pairs spilled so far. */
  get pairs(): number {
    return this.#pairs;
  }

  /** Bytes of temp files the build needed at most. */
  get peakTempBytes(): number {
    return this.#peakTempBytes;
  }

  /** Spills keys[0..n), values[0..n). */
  add(keys: Uint32Array, values: Uint32Array, n: number): void {
    if (this.#groups.length === 0) this.#openGroups();
    const out = new Uint32Array(2 * n);
    const counts = new Uint32Array(GROUPS);
    const escaped = new Float64Array(2);
    this.#accel.scatterPairs(keys, values, n, out, counts, escaped);
    if (escaped[0] === 1) this.#escaped = escaped[1];
    let at = 0;
    for (let g = 0; g < GROUPS; g++) {
      const c = counts[g];
      if (c > 0) this.#append(this.#fds[g], this.#groups[g], out.subarray(2 * at, 2 * (at + c)));
      at += c;
    }
    this.#pairs += n;
  }

  #newTemp(): string {
    const file = tempPathFor(this.#path);
    registerTemp(file);
    this.#temps.add(file);
    return file;
  }

  #openTemp(file: string): number {
    try {
      return fs.openSync(file, "wx+", 0o600);
    } catch (e) {
      throw ioError(`create a temp file in ${nodePath.dirname(this.#path)}`, this.#path, e, "Check that the output directory exists and is writable.");
    }
  }

  #append(fd: number, group: Group, words: Uint32Array): void {
    const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
    let done = 0;
    try {
      while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, null);
    } catch (e) {
      throw ioError("write a temp file of the build", this.#path, e, "Free some disk space beside the output (a large build needs about 8 bytes a pair there for a while) and try again.");
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

  /**
   * Writes the index from the spilled pairs into a temp file beside the target: the first pass
   * counts the entries (the capacity), the second places them. `onWrite` is called between.
   */
  async writeIndex(sync: boolean, onWrite: () => void): Promise<{ temp: TempFile; header: { count: number; capacity: number; slotCount: number; fileBytes: number } }> {
    for (const fd of this.#fds) fs.closeSync(fd);
    this.#fds = [];
    const leaves = await this.#leaves();
    const entries = leaves.reduce((sum, g) => sum + (g.unique ?? 0), 0);
    onWrite();
    const capacity = buildCapacity(entries);
    let finished!: { slotCount: number; fileBytes: number };
    const temp = writeTempFileWith(this.#path, sync, (fd) => {
      const writer = new TableFileWriter(fd, this.#path, capacity);
      for (const leaf of leaves) {
        const { hashes, values, unique } = this.#sortGroup(leaf);
        writer.add(hashes, values, 0, unique);
        // Placed: its temp file goes now, so the build's temp files and the growing output
        // together stay near the size of the spilled pairs.
        this.#removeTemp(leaf.file!);
        throwIfAborted(this.#signal, this.#path);
      }
      finished = writer.finish(this.#escaped);
    });
    const count = entries + (this.#escaped === undefined ? 0 : 1);
    return { temp, header: { count, capacity, slotCount: finished.slotCount, fileBytes: finished.fileBytes } };
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
      throwIfAborted(this.#signal, this.#path);
      group.unique = this.#sortGroup(group).unique;
      leaves.push(group);
      await new Promise<void>((resolve) => setImmediate(resolve)); // let a signal in
    };
    for (const group of this.#groups) await visit(group);
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
        readWords(fd, input, n * 2, done * 8, this.#path);
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
      readWords(fd, pairs, 2 * n, 0, this.#path);
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
        readWords(fd, piece, 2 * n, done * 8, this.#path);
        hash = piece[2 * n - 2];
        value = piece[2 * n - 1];
        done += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    return { hashes: Uint32Array.of(hash), values: Uint32Array.of(value), unique: 1 };
  }

  /** Removes the temp files and closes the descriptors (on success, error or abort). */
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
