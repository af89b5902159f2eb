/**
 * Writes a version 2 index file (spec §7 layout) from entries that arrive sorted by hash, in
 * bounded memory: slots are placed into a buffer, written in order, and each 4 KiB block's
 * checksum is taken as it is written; the checksums and the header follow at the end. Used by
 * a writer's rehash (the slots of the old file are already sorted) and by the streaming build.
 */
import * as fs from "node:fs";
import { crc32 } from "../core/crc32";
import { ioError } from "../core/errors";
import { checkSize } from "../core/encode";
import {
  BLOCK_BYTES, CHECKSUM_BYTES, LAYOUT_V2, SLOT_BYTES, SLOT_WORDS, SLOTS_PER_BLOCK, SPILL_SLOTS, blockCount, fileBytes,
  writeHeader,
} from "../core/format";
import { Placer, fillEmpty } from "../core/table";

/** Slots per write: 1 MiB. */
const BUFFER_SLOTS = 1 << 17;

export class TableFileWriter {
  readonly path: string;
  readonly #fd: number;
  readonly #placer: Placer;
  readonly #buffer = new Uint32Array(BUFFER_SLOTS * SLOT_WORDS);
  readonly #bytes = new Uint8Array(this.#buffer.buffer);
  /** Slots written to the file so far (all before placer.next). */
  #written = 0;
  /** Slots of the buffer filled (the buffer holds slots #written ..). */
  #filled = 0;
  #checksums = new Uint32Array(1024);

  /** `path` names the index `fd` will become (a temp file beside it), for messages. The file is written from offset 0. */
  constructor(fd: number, path: string, capacity: number) {
    this.#fd = fd;
    this.path = path;
    this.#placer = new Placer(capacity);
  }

  get entries(): number {
    return this.#placer.entries;
  }

  /** Places hashes[from..to) (strictly increasing, above every hash added before, none EMPTY). */
  add(hashes: Uint32Array, values: Uint32Array, from: number, to: number): void {
    let j = from;
    while (j < to) {
      const out = this.#buffer.subarray(this.#filled * SLOT_WORDS);
      const [placed, slots] = this.#placer.place(hashes, values, j, to, out);
      j += placed;
      this.#filled += slots;
      if (this.#filled === BUFFER_SLOTS) this.#flush(BUFFER_SLOTS);
    }
  }

  /**
   * Ends the table (§7 steps 5 to 7): spill slots, checksums, header. Returns the file's size.
   * @throws IdxError ERR_IDX_TOO_LARGE past the format's limit, ERR_IDX_IO when writing fails.
   */
  finish(escaped: number | undefined): { slotCount: number; fileBytes: number; reach: number } {
    const capacity = this.#placer.capacity;
    const slotCount = this.#placer.slotCount(SPILL_SLOTS);
    checkSize(LAYOUT_V2, slotCount, this.#placer.entries, this.path);
    let next = this.#written + this.#filled;
    while (next < slotCount) {
      const n = Math.min(slotCount - next, BUFFER_SLOTS - this.#filled);
      fillEmpty(this.#buffer, this.#filled * SLOT_WORDS, (this.#filled + n) * SLOT_WORDS);
      this.#filled += n;
      next += n;
      if (this.#filled === BUFFER_SLOTS) this.#flush(BUFFER_SLOTS);
    }
    this.#flush(this.#filled, true);
    const blocks = blockCount(slotCount);
    const sums = Buffer.from(this.#checksums.buffer, 0, blocks * CHECKSUM_BYTES);
    this.#write(sums, LAYOUT_V2.headerBytes + slotCount * SLOT_BYTES);
    const header = Buffer.alloc(LAYOUT_V2.headerBytes);
    writeHeader(header, {
      capacity, slotCount, entries: this.#placer.entries, escapedPresent: escaped !== undefined,
      escapedValue: escaped ?? 0, reach: this.#placer.reach,
    });
    this.#write(header, 0);
    return { slotCount, fileBytes: fileBytes(LAYOUT_V2, slotCount), reach: this.#placer.reach };
  }

  /** Writes the first `slots` buffered slots (whole blocks, or everything at the end). */
  #flush(slots: number, last = false): void {
    const whole = last ? slots : Math.floor(slots / SLOTS_PER_BLOCK) * SLOTS_PER_BLOCK;
    if (whole === 0) return;
    const firstBlock = this.#written / SLOTS_PER_BLOCK;
    const blocks = Math.ceil(whole / SLOTS_PER_BLOCK);
    if (this.#checksums.length < firstBlock + blocks) {
      const grown = new Uint32Array(Math.max(this.#checksums.length * 2, firstBlock + blocks));
      grown.set(this.#checksums);
      this.#checksums = grown;
    }
    for (let b = 0; b < blocks; b++) {
      const start = b * BLOCK_BYTES;
      this.#checksums[firstBlock + b] = crc32(this.#bytes.subarray(start, Math.min(start + BLOCK_BYTES, whole * SLOT_BYTES)));
    }
    this.#write(this.#bytes.subarray(0, whole * SLOT_BYTES), LAYOUT_V2.headerBytes + this.#written * SLOT_BYTES);
    this.#buffer.copyWithin(0, whole * SLOT_WORDS, slots * SLOT_WORDS);
    this.#written += whole;
    this.#filled = slots - whole;
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
