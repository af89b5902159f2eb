/**
 * A build past its memory budget. The pairs are spilled as they come: hashed and written,
 * grouped by the hash's top byte, to up to 256 temp files beside the target, in input order
 * within each (so "the last value wins" still holds). Then each group, in hash order, is read
 * back, sorted and deduplicated (once to count the entries, which fixes the capacity, and again
 * to place them), and its slots are written in order by os/table-file.ts. A group larger than
 * `memoryPairs` is split on disk by the next byte of the hash. The file is byte-identical to an
 * in-memory build of the same map (spec §7).
 *
 * Bounded whatever the number of pairs, whatever the speed of the CPU and the disk:
 * - descriptors: a group's file is opened only to append a full buffer to it, or to read it
 *   back, and closed at once; at most two are open at a time (a group being split, and one of
 *   its parts), besides the input and the output.
 * - memory: besides the columns (memoryPairs pairs, which the sort reuses for its output once
 *   the last pairs are spilled), every buffer is allocated once: a fixed piece for hashing and
 *   grouping, 32 KiB a group for appends, and the sort's input, sized to the largest group (at
 *   most memoryPairs pairs). A typed array allocated per spill or per group is garbage the
 *   collector reclaims late on a busy machine: that made a build's peak grow with its size.
 *   Writes are synchronous: the input is not read further until they are done.
 *
 * A version 3 build (§16: a 64-bit key or value width) spills slot records of four words
 * (the hash word's two, the value's two) where version 2 spills (hash, value) pairs, grouped by
 * the top byte of the wider hash, sorted by core/encode.ts's record sort; its groups are read
 * back half as large (memoryPairs / 2), as a record and its sort's scratch take twice the
 * memory. A build that meets a wider pair after it spilled rewrites its groups at the new
 * widths once (widen()).
 *
 * Temp files are removed on every exit path; a killed build's by the next writer or build.
 */
import * as fs from "node:fs";
import {
  Accelerator, GROUPS, keepLastOfEqualRecords, recordsOfSpilled, scatterRecords, scatterRecordsBy, sortRecordsByHash,
} from "../core/encode";
import { ESCAPED_KEY, Layout, Width, buildCapacity, layoutFor } from "../core/format";
import { hash64Into } from "../core/hash";
import { PairBuffer } from "../core/pairs";
import { Word, high32, low32 } from "../core/slots";
import { TempFile, removeStaleTempFiles, throwIfAborted, writeTempFileWith } from "../os/atomic-file";
import { TableFileWriter } from "../os/table-file";
import { TempFiles } from "./temp-files";

/** Pairs hashed and grouped at a time: 8 MiB of (hash, value) words. */
const PIECE_PAIRS = 1 << 20;
/** Words a group gathers before they are appended to its file: 32 KiB, one write. */
const GROUP_BUFFER_WORDS = 1 << 13;

/** A group of spilled pairs: a temp file of records (hash, value) whose hashes share their top `bits`. */
interface Group {
  /** Created at the group's first write. */
  file: string | null;
  /** Pairs in the group, those still in its buffer included. */
  pairs: number;
  /** Bits of the hash the group's pairs share (8 for a first-level group, up to the hash's 32 or 64). */
  bits: number;
  /** Entries after dedupe, counted in the first pass. */
  unique?: number;
}

interface Header {
  count: number;
  capacity: number;
  slotCount: number;
  fileBytes: number;
}

export class Spill {
  readonly #path: string;
  readonly #columns: PairBuffer;
  readonly #memoryPairs: number;
  readonly #accel: Accelerator;
  readonly #signal: { readonly aborted: boolean } | undefined;
  /** The file's layout: version 2's (hash, value) pairs, or version 3's four-word records. */
  #layout: Layout;
  /** Words a spilled record: 2 or 4. */
  #words: 2 | 4;
  /** The most pairs a group sorted in memory has: memoryPairs, half that for records. */
  #leafPairs: number;
  /** First-level groups. */
  #groups: Group[] = [];
  /** The 256 groups being filled: the first-level ones, or the parts of a group being split. */
  #filling: Group[];
  readonly #buffers = new Uint32Array(GROUPS * GROUP_BUFFER_WORDS);
  readonly #buffered = new Uint32Array(GROUPS);
  readonly #counts = new Uint32Array(GROUPS);
  readonly #escapedResult = new Float64Array(2);
  readonly #sortResult = new Float64Array(1);
  readonly #piecePairs: number;
  /** Records, grouped: the output of a scatter. */
  #grouped: Uint32Array;
  /** A piece of a group's file being split, or the input of a group's sort: sized once the groups are known. */
  #readBuffer: Uint32Array | null = null;
  /** Version 3: the sort's scratch, as large as #readBuffer, and where the sorted records of the last group are. */
  #sortScratch: Uint32Array | null = null;
  #sorted: Uint32Array | null = null;
  #escaped: Word | undefined;
  #pairs = 0;
  readonly #files: TempFiles;

  /**
   * `path`: the index being built (temp files go beside it). `columns`: the builder's buffer,
   * whose pairs come to add(); once the last are spilled, the sort writes its output there.
   */
  constructor(
    path: string, columns: PairBuffer, memoryPairs: number, accel: Accelerator, signal: { readonly aborted: boolean } | undefined,
    keyBits: Width = 32, valueBits: Width = 32,
  ) {
    this.#path = path;
    this.#columns = columns;
    this.#memoryPairs = memoryPairs;
    this.#accel = accel;
    this.#signal = signal;
    this.#piecePairs = Math.min(PIECE_PAIRS, memoryPairs);
    this.#layout = layoutFor(keyBits, valueBits);
    this.#words = this.#layout.major === 3 ? 4 : 2;
    this.#leafPairs = this.#words === 4 ? memoryPairs / 2 : memoryPairs;
    this.#grouped = accel.words(this.#words * this.#piecePairs);
    this.#groups = newGroups(8);
    this.#filling = this.#groups;
    this.#files = new TempFiles(path);
    this.#files.recordBytes = this.#words * 4;
    removeStaleTempFiles(path);
  }

  get keyBits(): Width {
    return this.#layout.keyBits;
  }

  get valueBits(): Width {
    return this.#layout.valueBits;
  }

  /** Pairs spilled so far. */
  get pairs(): number {
    return this.#pairs;
  }

  /** Bytes of temp files the build needed at most. */
  get peakTempBytes(): number {
    return this.#files.peakBytes;
  }

  /** Spills the columns' pairs (all of them: the caller then empties the columns). */
  add(): void {
    const { keys, values, length: n } = this.#columns;
    const grouped = this.#grouped;
    for (let at = 0; at < n; at += this.#piecePairs) {
      const m = Math.min(this.#piecePairs, n - at);
      if (this.#words === 4) {
        const escaped = scatterRecords(this.#columns, at, m, this.#layout.keyBits, grouped, this.#counts, this.#accel);
        if (escaped !== undefined) this.#escaped = escaped;
      } else {
        const escaped = this.#escapedResult;
        this.#accel.scatterPairs(keys.subarray(at, at + m), values.subarray(at, at + m), m, grouped, this.#counts, escaped);
        if (escaped[0] === 1) this.#escaped = escaped[1];
      }
      this.#appendGrouped();
    }
    this.#pairs += n;
  }

  /**
   * The spill goes on at wider widths (§16.5: never narrower): the groups spilled so far are
   * read back a piece at a time and spilled again as records of the new widths (hashed anew
   * when the keys widen, which regroups them), in order, so the last value of a key still wins.
   */
  widen(keyBits: Width, valueBits: Width): void {
    const old = this.#layout;
    if (keyBits === old.keyBits && valueBits === old.valueBits) return;
    this.#flushAll();
    const oldWords = this.#words;
    const oldGroups = this.#groups;
    const rekey = keyBits !== old.keyBits;
    this.#layout = layoutFor(keyBits, valueBits);
    this.#words = 4;
    this.#files.recordBytes = 16;
    this.#leafPairs = this.#memoryPairs / 2;
    this.#grouped = new Uint32Array(4 * this.#piecePairs);
    this.#groups = newGroups(8);
    this.#filling = this.#groups;
    const input = new Uint32Array(oldWords * this.#piecePairs);
    const records = new Uint32Array(4 * this.#piecePairs);
    const halves = new Uint32Array(2);
    const hashBits = keyBits;
    for (const group of oldGroups) {
      if (group.file === null) continue;
      const fd = this.#files.openForReading(group.file);
      try {
        for (let done = 0; done < group.pairs; ) {
          const n = Math.min(this.#piecePairs, group.pairs - done);
          this.#files.read(fd, input, n * oldWords, done * oldWords * 4);
          recordsOfSpilled(input, n, oldWords, rekey, records);
          scatterRecordsBy(records, n, hashBits, 0, this.#grouped, this.#counts);
          this.#appendGrouped();
          done += n;
        }
      } finally {
        fs.closeSync(fd);
      }
      this.#files.remove(group.file);
    }
    if (rekey && this.#escaped !== undefined) {
      // The 32-bit keys' escaped key is a key like any other among 64-bit keys.
      hash64Into(0, ESCAPED_KEY, halves);
      const value = this.#escaped;
      records.set([halves[0], halves[1], low32(value), high32(value)]);
      this.#escaped = undefined;
      scatterRecordsBy(records, 1, hashBits, 0, this.#grouped, this.#counts);
      this.#appendGrouped();
    }
  }

  /** Appends the runs of #grouped, as #counts says, to the groups being filled. */
  #appendGrouped(): void {
    const counts = this.#counts;
    let at = 0;
    for (let g = 0; g < GROUPS; g++) {
      const c = counts[g];
      if (c > 0) this.#append(g, this.#grouped.subarray(this.#words * at, this.#words * (at + c)));
      at += c;
    }
  }

  /** Appends records' words to group g of #filling, through its buffer. */
  #append(g: number, words: Uint32Array): void {
    const base = g * GROUP_BUFFER_WORDS;
    let buffered = this.#buffered[g];
    if (buffered + words.length > GROUP_BUFFER_WORDS) {
      this.#flush(g);
      buffered = 0;
      if (words.length >= GROUP_BUFFER_WORDS) {
        this.#write(this.#filling[g], words);
        this.#filling[g].pairs += words.length / this.#words;
        return;
      }
    }
    this.#buffers.set(words, base + buffered);
    this.#buffered[g] = buffered + words.length;
    this.#filling[g].pairs += words.length / this.#words;
  }

  #flush(g: number): void {
    const n = this.#buffered[g];
    if (n === 0) return;
    const base = g * GROUP_BUFFER_WORDS;
    this.#write(this.#filling[g], this.#buffers.subarray(base, base + n));
    this.#buffered[g] = 0;
  }

  #flushAll(): void {
    for (let g = 0; g < GROUPS; g++) this.#flush(g);
  }

  /**
   * Writes the index from the spilled pairs into a temp file beside the target: the first pass
   * counts the entries (the capacity), the second places them. `onWrite` is called between.
   */
  async writeIndex(sync: boolean, onWrite: () => void): Promise<{ temp: TempFile; header: Header }> {
    this.#flushAll();
    const leaves = await this.#leaves();
    const entries = leaves.reduce((sum, g) => sum + (g.unique ?? 0), 0);
    onWrite();
    const capacity = buildCapacity(entries);
    let finished!: { slotCount: number; fileBytes: number };
    const temp = writeTempFileWith(this.#path, sync, (fd) => {
      const writer = new TableFileWriter(fd, this.#path, capacity, this.#layout);
      for (const leaf of leaves) {
        const unique = this.#sortGroup(leaf);
        if (this.#words === 4) writer.addRecords(this.#sorted!, 0, unique);
        else writer.add(this.#columns.keys, this.#columns.values, 0, unique);
        // Placed: its temp file goes now, so the build's temp files and the growing output
        // together stay near the size of the spilled pairs.
        this.#files.remove(leaf.file!);
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
    // Every leaf is a first-level group or a part of one, and at most memoryPairs pairs (but for
    // one hash given more often, which is read in pieces): the sort's input is sized once.
    const largest = this.#groups.reduce((max, g) => Math.max(max, g.pairs), 0);
    const words = this.#words * Math.max(this.#piecePairs, Math.min(largest, this.#leafPairs));
    this.#readBuffer = this.#accel.words(words);
    if (this.#words === 4) this.#sortScratch = this.#accel.words(words);
    const leaves: Group[] = [];
    const hashBits = this.#layout.keyBits;
    const visit = async (group: Group): Promise<void> => {
      if (group.pairs === 0) return;
      if (group.pairs > this.#leafPairs && group.bits < hashBits) {
        for (const part of this.#split(group)) await visit(part);
        return;
      }
      throwIfAborted(this.#signal, this.#path);
      group.unique = this.#sortGroup(group);
      leaves.push(group);
      await new Promise<void>((resolve) => setImmediate(resolve)); // let a signal in
    };
    for (const group of this.#groups) await visit(group);
    return leaves;
  }

  /** Splits a group's file into up to 256 by the next byte of the hash, a piece at a time. */
  #split(group: Group): Group[] {
    const parts = newGroups(group.bits + 8);
    this.#filling = parts;
    const w = this.#words;
    const input = this.#readBuffer!;
    const piece = Math.min(this.#piecePairs, input.length / w);
    const fd = this.#files.openForReading(group.file!);
    try {
      for (let done = 0; done < group.pairs; ) {
        const n = Math.min(piece, group.pairs - done);
        this.#files.read(fd, input, n * w, done * w * 4);
        if (w === 4) scatterRecordsBy(input, n, this.#layout.keyBits, group.bits, this.#grouped, this.#counts);
        else this.#accel.scatterHashed(input, n, 32 - group.bits - 8, this.#grouped, this.#counts);
        this.#appendGrouped();
        done += n;
      }
      this.#flushAll();
    } finally {
      fs.closeSync(fd);
    }
    this.#files.remove(group.file!);
    return parts;
  }

  /**
   * A leaf group read back, sorted by hash and deduplicated (the last value of each key wins),
   * into the columns. Returns the number of entries.
   */
  #sortGroup(group: Group): number {
    const { keys, values } = this.#columns;
    const pairs = this.#readBuffer!;
    const w = this.#words;
    if (group.bits === this.#layout.keyBits && group.pairs > this.#leafPairs) {
      // One hash given more often than fits: its value is the last one, read in pieces.
      const piece = pairs.length / w;
      const fd = this.#files.openForReading(group.file!);
      try {
        for (let done = 0; done < group.pairs; ) {
          const n = Math.min(piece, group.pairs - done);
          this.#files.read(fd, pairs, w * n, done * w * 4);
          if (w === 4) {
            this.#sorted = this.#sortScratch!;
            this.#sorted.set(pairs.subarray(4 * n - 4, 4 * n));
          } else {
            keys[0] = pairs[2 * n - 2];
            values[0] = pairs[2 * n - 1];
          }
          done += n;
        }
      } finally {
        fs.closeSync(fd);
      }
      return 1;
    }
    const n = group.pairs;
    const fd = this.#files.openForReading(group.file!);
    try {
      this.#files.read(fd, pairs, w * n, 0);
    } finally {
      fs.closeSync(fd);
    }
    if (w === 4) {
      this.#sorted = sortRecordsByHash(pairs, n, this.#layout.keyBits === 64, this.#sortScratch!, this.#accel);
      return keepLastOfEqualRecords(this.#sorted, n);
    }
    this.#accel.sortHashed(pairs, n, keys, values, this.#sortResult);
    return this.#sortResult[0];
  }

  /** Removes the temp files (on success, error or abort). */
  dispose(): void {
    this.#files.dispose();
  }

  /** Appends words to the group's file (created at its first write). */
  #write(group: Group, words: Uint32Array): void {
    group.file = this.#files.append(group.file, words);
  }
}

function newGroups(bits: number): Group[] {
  const groups: Group[] = [];
  for (let g = 0; g < GROUPS; g++) groups.push({ file: null, pairs: 0, bits });
  return groups;
}
