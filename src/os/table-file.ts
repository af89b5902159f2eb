/**
 * Writes an index file (spec §7 layout; version 2, or version 3 for 64-bit widths, §16) from
 * entries that arrive sorted by hash, in bounded memory: slots are placed into a buffer, written
 * in order, and each 4 KiB block's checksum is taken as it is written (with the addon, both on a
 * thread of its own while the next buffer fills: native/writeback.c); the checksums and the
 * header follow at the end. Used by a writer's rehash (the slots of the old file are already
 * sorted) and by the builds, in memory and spilled.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { ioError } from "../core/errors";
import { blockChecksumsJs, checkSize } from "../core/encode";
import { CHECKSUM_BYTES, LAYOUT_V2, Layout, SPILL_SLOTS, blockCount, fileBytes, writeHeader } from "../core/format";
import { Word, high32, low32 } from "../core/slots";
import { Placer, fillEmpty, fillEmptyWide } from "../core/table";
import { WriteBehind, nativeAddon } from "./native";

/** Slots per write: 1 MiB of 8-byte slots, 1.5 or 2 MiB of version 3 ones. */
const BUFFER_SLOTS = 1 << 17;

export class TableFileWriter {
  readonly path: string;
  readonly layout: Layout;
  readonly #fd: number;
  readonly #placer: Placer;
  /** The addon, when it is loaded: its placement loop for version 3 slots, and its threads that write the file while the next slots are placed. */
  readonly #addon = nativeAddon();
  readonly #slotWords: number;
  /**
   * Where slots are placed: with the addon, two arrays from its words(), one filled while the
   * other's bytes are written behind (writeBehind); else one, written in place by fs.writeSync.
   */
  readonly #buffers: Uint32Array[];
  /** The buffers as bytes. */
  readonly #views: Uint8Array[];
  /** Each buffer's blocks' checksums, as its write takes them (with the addon). */
  readonly #sums: Uint32Array[];
  /** The write under way from each buffer, if any, and the blocks it checksums. */
  readonly #pending: ({ handle: WriteBehind; firstBlock: number; blocks: number } | null)[] = [null, null];
  #current = 0;
  #buffer: Uint32Array;
  #bytes: Uint8Array;
  /** Slots written to the file, or being written, so far (all before placer.next). */
  #written = 0;
  /** Slots of the buffer filled (the buffer holds slots #written ..). */
  #filled = 0;
  /** The checksums so far, as the file holds them (little-endian). */
  #checksums = new Uint8Array(4096);

  /**
   * `path` names the index `fd` will become (a temp file beside it), for messages. The file is
   * written from offset 0, in `layout` (version 2 by default; layoutFor() gives version 3's).
   */
  constructor(fd: number, path: string, capacity: number, layout: Layout = LAYOUT_V2) {
    this.#fd = fd;
    this.path = path;
    this.layout = layout;
    this.#placer = new Placer(capacity);
    this.#slotWords = layout.slotWords;
    const words = BUFFER_SLOTS * layout.slotWords;
    const addon = this.#addon;
    this.#buffers = addon !== null ? [addon.words(words, true), addon.words(words, true)] : [new Uint32Array(words)];
    const blocks = Math.ceil(BUFFER_SLOTS / layout.slotsPerBlock);
    this.#sums = addon !== null ? [addon.words(blocks), addon.words(blocks)] : [];
    this.#views = this.#buffers.map((b) => new Uint8Array(b.buffer, 0, words * 4));
    this.#buffer = this.#buffers[0];
    this.#bytes = this.#views[0];
  }

  get entries(): number {
    return this.#placer.entries;
  }

  /** Places hashes[from..to) (strictly increasing, above every hash added before, none EMPTY): version 2. */
  add(hashes: Uint32Array, values: Uint32Array, from: number, to: number): void {
    if (this.#slotWords !== 2) throw new RangeError("add() writes 8-byte slots: use addRecords() for a version 3 file");
    let j = from;
    while (j < to) {
      const out = this.#buffer.subarray(this.#filled * 2);
      const [placed, slots] = this.#placer.place(hashes, values, j, to, out);
      j += placed;
      this.#filled += slots;
      if (this.#filled === BUFFER_SLOTS) this.#flush(BUFFER_SLOTS);
    }
  }

  /**
   * Places records[from..to) (each an entry as four words, hash low and high, value low and high: Placer.placeRecords;
   * strictly increasing hashes, above every hash added before, none EMPTY): version 3.
   */
  addRecords(records: Uint32Array, from: number, to: number): void {
    if (this.layout.major !== 3) throw new RangeError("addRecords() writes version 3 slots: use add() for a version 2 file");
    const sw = this.#slotWords;
    let j = from;
    while (j < to) {
      const out = this.#buffer.subarray(this.#filled * sw);
      const [placed, slots] = this.#placer.placeRecords(records, j, to, out, this.layout, this.#addon?.placeRecords);
      j += placed;
      this.#filled += slots;
      if (this.#filled === BUFFER_SLOTS) this.#flush(BUFFER_SLOTS);
    }
  }

  /**
   * Ends the table (§7 steps 5 to 7): spill slots, checksums, header, with the escaped key's
   * value if it is present (a number, or a bigint for 64-bit values). Returns the file's size.
   * @throws IdxError ERR_IDX_TOO_LARGE past the format's limit, ERR_IDX_IO when writing fails.
   */
  finish(escaped: Word | undefined): { slotCount: number; fileBytes: number; reach: number } {
    const layout = this.layout;
    const capacity = this.#placer.capacity;
    const slotCount = this.#placer.slotCount(SPILL_SLOTS);
    checkSize(layout, slotCount, this.#placer.entries, this.path);
    const sw = this.#slotWords;
    let next = this.#written + this.#filled;
    while (next < slotCount) {
      const n = Math.min(slotCount - next, BUFFER_SLOTS - this.#filled);
      if (sw === 2) fillEmpty(this.#buffer, this.#filled * sw, (this.#filled + n) * sw);
      else fillEmptyWide(this.#buffer, this.#filled * sw, (this.#filled + n) * sw, layout);
      this.#filled += n;
      next += n;
      if (this.#filled === BUFFER_SLOTS) this.#flush(BUFFER_SLOTS);
    }
    this.#flush(this.#filled, true);
    this.#wait(0);
    this.#wait(1);
    const blocks = blockCount(slotCount, layout.slotsPerBlock);
    const sums = this.#checksums.subarray(0, blocks * CHECKSUM_BYTES);
    this.#write(sums, layout.headerBytes + slotCount * layout.slotBytes);
    const header = Buffer.alloc(layout.headerBytes);
    writeHeader(header, {
      capacity, slotCount, entries: this.#placer.entries, escapedPresent: escaped !== undefined,
      escapedValue: escaped === undefined ? 0 : low32(escaped), escapedHigh: escaped === undefined ? 0 : high32(escaped),
      reach: this.#placer.reach, layout,
    });
    this.#write(header, 0);
    return { slotCount, fileBytes: fileBytes(layout, slotCount), reach: this.#placer.reach };
  }

  /**
   * Gives up the file: waits for the writes under way (their errors do not matter now), so that
   * the caller may truncate it and write it again.
   */
  abandon(): void {
    for (const i of [0, 1]) {
      try {
        this.#wait(i);
      } catch {
        // the file is being given up
      }
    }
  }

  /** Writes the first `slots` buffered slots (whole blocks, or everything at the end). */
  #flush(slots: number, last = false): void {
    const perBlock = this.layout.slotsPerBlock;
    const slotBytes = this.layout.slotBytes;
    const whole = last ? slots : Math.floor(slots / perBlock) * perBlock;
    if (whole === 0) return;
    const firstBlock = this.#written / perBlock;
    const blocks = Math.ceil(whole / perBlock);
    if (this.#checksums.length < (firstBlock + blocks) * CHECKSUM_BYTES) {
      const grown = new Uint8Array(Math.max(this.#checksums.length * 2, (firstBlock + blocks) * CHECKSUM_BYTES));
      grown.set(this.#checksums);
      this.#checksums = grown;
    }
    const position = this.layout.headerBytes + this.#written * slotBytes;
    const sw = this.#slotWords;
    if (this.#addon === null) {
      blockChecksumsJs(this.#bytes.subarray(0, whole * slotBytes), this.layout.blockBytes,
        this.#checksums.subarray(firstBlock * CHECKSUM_BYTES, (firstBlock + blocks) * CHECKSUM_BYTES));
      this.#write(this.#bytes.subarray(0, whole * slotBytes), position);
      this.#buffer.copyWithin(0, whole * sw, slots * sw);
    } else {
      // The checksums and the write on the addon's thread; the slots after the whole blocks
      // start the other buffer, once that one's own write is done.
      const c = this.#current;
      const handle = this.#addon.writeBehind(this.#fd, this.#buffer, whole * slotBytes, position, this.layout.blockBytes, this.#sums[c]);
      this.#pending[c] = { handle, firstBlock, blocks };
      const next = 1 - c;
      this.#wait(next);
      this.#buffers[next].set(this.#buffer.subarray(whole * sw, slots * sw));
      this.#current = next;
      this.#buffer = this.#buffers[next];
      this.#bytes = this.#views[next];
    }
    this.#written += whole;
    this.#filled = slots - whole;
  }

  /**
   * Waits for buffer i's write, if one is under way, and takes its blocks' checksums.
   * @throws IdxError ERR_IDX_IO when the write failed.
   */
  #wait(i: number): void {
    const pending = this.#pending[i];
    if (pending === null) return;
    this.#pending[i] = null;
    const errno = this.#addon!.writeBehindWait(pending.handle);
    if (errno !== 0) throw ioError("write the new index", this.path, errnoError(errno), "Free some disk space and try again; the old index is unchanged.");
    const sums = new Uint8Array(this.#sums[i].buffer, 0, pending.blocks * CHECKSUM_BYTES);
    this.#checksums.set(sums, pending.firstBlock * CHECKSUM_BYTES);
  }

  #write(bytes: Uint8Array, position: number): void {
    let done = 0;
    try {
      while (done < bytes.length) done += fs.writeSync(this.#fd, bytes, done, bytes.length - done, position + done);
    } catch (e) {
      throw ioError("write the new index", this.path, e, "Free some disk space and try again; the old index is unchanged.");
    }
  }
}

/** An errno from the addon as the error Node would have thrown (its code names it: ENOSPC). */
function errnoError(errno: number): NodeJS.ErrnoException {
  const name = Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
  return Object.assign(new Error(`${name}: write failed`), { code: name, errno: -errno, syscall: "write" });
}
