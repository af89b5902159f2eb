/**
 * The full check of spec/FORMAT.md §9.2 over an index in memory: the header's reserved fields,
 * every block checksum and every table invariant of §5.2. O(file size). Pure: verify.ts and the
 * writer bring the bytes.
 */
import { crc32 } from "./crc32";
import {
  CELL_ENTRIES_HIGH, CELL_ESCAPED_HIGH, CELL_STATE, CHECKSUM_BYTES, Header, STATE_ESCAPED, STATE_RETIRED, STATE_V1_COUNT_MASK,
  VERSION_MINOR, blockCount, checksumsOffset, hex8, slotOffset,
} from "./format";
import { SlotRegion, Word, hashAtWord } from "./slots";
import { isEntry, isTombstone } from "./table";

export interface Problem {
  /** Byte offset in the file where the problem is. */
  offset: number;
  message: string;
}

/** Collects problems, at most `max`; returns false once full (the caller may stop looking). */
export class Problems {
  readonly list: Problem[] = [];
  constructor(readonly max = 20) {}
  add(offset: number, message: string): boolean {
    if (this.list.length < this.max) this.list.push({ offset, message });
    return this.list.length < this.max;
  }
  get full(): boolean {
    return this.list.length >= this.max;
  }
}

/** §9.2: a writer stopped between recording its dirty blocks and clearing them. */
export function isInterrupted(h: Header): boolean {
  return h.dirtyCount > 0;
}

/** The header's escaped value in full (§16.2: the escaped cell and, for 64-bit values, escapedHigh). */
export function escapedValueOf(h: Header): Word {
  return h.valueBits === 64 ? (BigInt(h.escapedHigh) << 32n) | BigInt(h.escapedValue) : h.escapedValue;
}

function isDirty(h: Header, block: number): boolean {
  return h.dirtyCount > 0 && block >= h.dirtyFirst && block < h.dirtyFirst + h.dirtyCount;
}

/** Reserved bytes, bits and cells: checked only against the minor that reserves them (§10). */
export function checkReserved(header: Uint8Array, h: Header, problems: Problems): void {
  if (h.minor !== VERSION_MINOR) return;
  const [from, to] = h.layout.reserved;
  for (let o = from; o < to; o++) {
    if (header[o] !== 0) {
      problems.add(o, `reserved header byte at offset ${o} is ${header[o]}, not 0`);
      break;
    }
  }
  const allowed = (h.major === 1 ? STATE_V1_COUNT_MASK : 0) | STATE_ESCAPED | STATE_RETIRED;
  if ((h.stateWord & ~allowed) !== 0) problems.add(CELL_STATE, `reserved state bits set: 0x${hex8(h.stateWord)}`);
  if (h.reservedCell !== 0) {
    problems.add(h.layout.reservedCellOffset, `the reserved cell's word is 0x${hex8(h.reservedCell)}, not 0`);
  }
  // §16.2, §16.7: the high words a narrow width leaves unused.
  if (h.escapedHigh !== 0 && h.valueBits === 32) {
    problems.add(CELL_ESCAPED_HIGH, `the escapedHigh cell's word is 0x${hex8(h.escapedHigh)}, but values are 32-bit`);
  }
  if (h.entries > 0xffffffff && h.keyBits === 32) {
    problems.add(CELL_ENTRIES_HIGH, `the entriesHigh cell counts ${Math.floor(h.entries / 2 ** 32)} x 2^32 entries, but keys are 32-bit`);
  }
}

/** The bytes of block `b` of a region (a block never straddles two windows: both are block-aligned). */
export function blockBytes(region: SlotRegion, b: number): Uint8Array {
  const perBlock = region.slotsPerBlock;
  const slotBytes = region.slotWords * 4;
  const first = b * perBlock;
  const k = region.windowOf(first);
  const w = region.windows[k];
  const start = (first - k * region.windowSlots) * slotBytes;
  const end = Math.min(start + perBlock * slotBytes, (region.slotCount - k * region.windowSlots) * slotBytes);
  return new Uint8Array(w.buffer, w.byteOffset + start, end - start);
}

/** The stored checksum of block `b`, from the checksum region's bytes. */
export function storedChecksum(checksums: Uint8Array, b: number): number {
  const o = b * CHECKSUM_BYTES;
  return (checksums[o] | (checksums[o + 1] << 8) | (checksums[o + 2] << 16) | (checksums[o + 3] << 24)) >>> 0;
}

/**
 * §6.1: every block's checksum against its bytes, except dirty blocks (§6.2). Returns the first
 * bad block, or -1.
 */
export function checkBlocks(region: SlotRegion, checksums: Uint8Array, h: Header, problems: Problems): number {
  const blocks = blockCount(h.slotCount, h.layout.slotsPerBlock);
  const base = checksumsOffset(h.layout, h.slotCount);
  let firstBad = -1;
  for (let b = 0; b < blocks; b++) {
    if (isDirty(h, b)) continue;
    const stored = storedChecksum(checksums, b);
    const bytes = blockBytes(region, b);
    const actual = crc32(bytes);
    if (stored !== actual) {
      if (firstBad < 0) firstBad = b;
      const start = slotOffset(h.layout, b * h.layout.slotsPerBlock);
      if (!problems.add(base + b * CHECKSUM_BYTES,
        `block ${b} (bytes ${start}..${start + bytes.length - 1}) fails its checksum: stored 0x${hex8(stored)}, computed 0x${hex8(actual)}`)) break;
    }
  }
  return firstBad;
}

export interface TableScan {
  /** Entries in slots. */
  entries: number;
  tombstones: number;
  /** The largest slot - home over the entries. */
  reach: number;
}

/** Every invariant of §5.2 over the slots; empty slots hold value 0. */
export function checkTable(region: SlotRegion, h: Header, problems: Problems): TableScan {
  const interrupted = isInterrupted(h);
  const at = (s: number) => slotOffset(h.layout, s);
  const sw = region.slotWords;
  const vw = region.valueOffset; // the value's first word
  const wideKeys = region.wideKeys;
  const wideValues = region.wideValues;
  const empty = region.empty;
  const perBlock = h.layout.slotsPerBlock;
  let entries = 0;
  let tombstones = 0;
  let reach = 0;
  let previous: Word = empty; // hash word of the previous slot (none before slot 0)
  let lastEntry: Word = -1; // hash of the last entry, for order across empty slots
  let lastEmptySlot = -1;
  region.forEachRun((words, from, to, base) => {
    if (problems.full) return;
    for (let i = from; i < to; i += sw) {
      const s = base + i / sw;
      const hash = hashAtWord(words, i, wideKeys);
      if (hash === empty) {
        lastEmptySlot = s;
        const value = words[i + vw];
        const high = wideValues ? words[i + vw + 1] : 0;
        if ((value !== 0 || high !== 0) &&
          !problems.add(at(s) + vw * 4, `empty slot ${s} has value ${wideValues ? (BigInt(high) << 32n) | BigInt(value) : value} (must be 0)`)) return;
      } else if (isTombstone(previous, hash, empty)) {
        tombstones++;
        if (!interrupted) {
          if (!problems.add(at(s), `slot ${s} repeats the hash of slot ${s - 1}, but no write was interrupted`)) return;
        } else if (!isDirty(h, Math.floor(s / perBlock))) {
          if (!problems.add(at(s), `slot ${s} repeats the hash of slot ${s - 1} outside the blocks the interrupted write was changing`)) return;
        } else if (tombstones > 1) {
          if (!problems.add(at(s), `slot ${s} is a second repeated slot; an interrupted write leaves at most one`)) return;
        }
      } else if (isEntry(previous, hash, empty)) {
        entries++;
        if (lastEntry !== -1 && hash <= lastEntry &&
          !problems.add(at(s), `slot ${s} hash 0x${hexWord(hash)} is not above the previous entry's 0x${hexWord(lastEntry)}: slots must be sorted by hash`)) return;
        const home = region.homeOf(hash, h.capacity);
        if (home > s && !problems.add(at(s), `slot ${s} holds an entry whose home slot is ${home}, after it`)) return;
        if (home <= lastEmptySlot && !problems.add(at(s), `slot ${s} is unreachable: empty slot ${lastEmptySlot} lies between it and its home slot ${home}`)) return;
        if (s - home > reach) reach = s - home;
        if (h.major >= 2 && s - home > h.reach &&
          !problems.add(at(s), `slot ${s} is ${s - home} slots from its home, beyond the header's reach ${h.reach}`)) return;
        lastEntry = hash;
      }
      previous = hash;
    }
  });
  if (region.hashAt(h.slotCount - 1) !== empty) problems.add(at(h.slotCount - 1), "the last slot is not empty");
  const countOff = Math.abs(entries - h.entries);
  if (countOff > (interrupted ? 1 : 0)) {
    problems.add(h.major === 1 ? CELL_STATE : 56, `header count is ${h.entries} entries in slots but the table holds ${entries}`);
  }
  return { entries, tombstones, reach };
}

function hexWord(w: Word): string {
  return typeof w === "number" ? hex8(w) : w.toString(16).padStart(16, "0");
}
