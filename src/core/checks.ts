/**
 * The full check of spec/FORMAT.md §9.2 over an index in memory: the header's reserved fields,
 * every block checksum and every table invariant of §5.2. O(file size). Pure: verify.ts and the
 * writer bring the bytes.
 */
import { crc32 } from "./crc32";
import {
  BLOCK_BYTES, CELL_RESERVED, CELL_STATE, CHECKSUM_BYTES, EMPTY_HASH, Header, SLOTS_PER_BLOCK, SLOT_WORDS,
  STATE_ESCAPED, STATE_RETIRED, STATE_V1_COUNT_MASK, VERSION_MINOR, blockCount, checksumsOffset, hex8, slotOffset,
} from "./format";
import { homeSlot } from "./hash";
import { SlotRegion } from "./slots";
import { isEntry, isTombstone, NO_PREVIOUS } from "./table";

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
  if (h.reservedCell !== 0) problems.add(CELL_RESERVED, `the reserved cell's word is 0x${hex8(h.reservedCell)}, not 0`);
}

/** The bytes of block `b` of a region (a block never straddles two windows: both are 512-slot aligned). */
export function blockBytes(region: SlotRegion, b: number): Uint8Array {
  const first = b * SLOTS_PER_BLOCK;
  const k = region.windowOf(first);
  const w = region.windows[k];
  const start = (first - k * region.windowSlots) * SLOT_WORDS * 4;
  const end = Math.min(start + BLOCK_BYTES, (region.slotCount - k * region.windowSlots) * SLOT_WORDS * 4);
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
  const blocks = blockCount(h.slotCount);
  const base = checksumsOffset(h.layout, h.slotCount);
  let firstBad = -1;
  for (let b = 0; b < blocks; b++) {
    if (isDirty(h, b)) continue;
    const stored = storedChecksum(checksums, b);
    const bytes = blockBytes(region, b);
    const actual = crc32(bytes);
    if (stored !== actual) {
      if (firstBad < 0) firstBad = b;
      const start = slotOffset(h.layout, b * SLOTS_PER_BLOCK);
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
  let entries = 0;
  let tombstones = 0;
  let reach = 0;
  let previous = NO_PREVIOUS; // hash word of the previous slot
  let lastEntry = -1; // hash of the last entry, for order across empty slots
  let lastEmptySlot = -1;
  region.forEachRun((words, from, to, base) => {
    if (problems.full) return;
    for (let i = from; i < to; i += SLOT_WORDS) {
      const s = base + i / SLOT_WORDS;
      const hash = words[i];
      if (hash === EMPTY_HASH) {
        lastEmptySlot = s;
        const value = words[i + 1];
        if (value !== 0 && !problems.add(at(s) + 4, `empty slot ${s} has value ${value} (must be 0)`)) return;
      } else if (isTombstone(previous, hash)) {
        tombstones++;
        if (!interrupted) {
          if (!problems.add(at(s), `slot ${s} repeats the hash of slot ${s - 1}, but no write was interrupted`)) return;
        } else if (!isDirty(h, Math.floor(s / SLOTS_PER_BLOCK))) {
          if (!problems.add(at(s), `slot ${s} repeats the hash of slot ${s - 1} outside the blocks the interrupted write was changing`)) return;
        } else if (tombstones > 1) {
          if (!problems.add(at(s), `slot ${s} is a second repeated slot; an interrupted write leaves at most one`)) return;
        }
      } else if (isEntry(previous, hash)) {
        entries++;
        if (lastEntry >= 0 && hash <= lastEntry &&
          !problems.add(at(s), `slot ${s} hash 0x${hex8(hash)} is not above the previous entry's 0x${hex8(lastEntry)}: slots must be sorted by hash`)) return;
        const home = homeSlot(hash, h.capacity);
        if (home > s && !problems.add(at(s), `slot ${s} holds an entry whose home slot is ${home}, after it`)) return;
        if (home <= lastEmptySlot && !problems.add(at(s), `slot ${s} is unreachable: empty slot ${lastEmptySlot} lies between it and its home slot ${home}`)) return;
        if (s - home > reach) reach = s - home;
        if (h.major === 2 && s - home > h.reach &&
          !problems.add(at(s), `slot ${s} is ${s - home} slots from its home, beyond the header's reach ${h.reach}`)) return;
        lastEntry = hash;
      }
      previous = hash;
    }
  });
  if (region.hashWord(h.slotCount - 1) !== EMPTY_HASH) problems.add(at(h.slotCount - 1), "the last slot is not empty");
  const countOff = Math.abs(entries - h.entries);
  if (countOff > (interrupted ? 1 : 0)) {
    problems.add(h.major === 1 ? CELL_STATE : 56, `header count is ${h.entries} entries in slots but the table holds ${entries}`);
  }
  return { entries, tombstones, reach };
}
