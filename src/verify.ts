/**
 * The full check of spec/FORMAT.md §9.2: the header, every block checksum and every table
 * invariant. O(file size); open() does none of this.
 */
import { crc32 } from "./crc32";
import { IdxError } from "./errors";
import {
  BLOCK_BYTES, CHECKSUM_BYTES, EMPTY_HASH, H, HEADER_BYTES, Header, SLOT_BYTES, SLOT_WORDS,
  STATE_RESERVED_BITS, VERSION_MINOR, blockCount, checksumsOffset, hex8, readHeader,
} from "./format";
import { homeSlot } from "./hash";
import { mapFile } from "./mmap";

export interface VerifyProblem {
  /** Byte offset in the file where the problem is. */
  offset: number;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  path: string;
  /** What is wrong, first problems first; at most MAX_PROBLEMS of them. */
  problems: VerifyProblem[];
  /** The header, when it could be read. */
  header?: Header;
  /** Live entries found by the scan (escaped key included). */
  entries: number;
  /** Slots that repeat their predecessor: left by a writer stopped mid-operation (§5.1). */
  tombstones: number;
  /** A writer stopped mid-operation: its blocks' checksums and the count may lag (§11.3). */
  interrupted: boolean;
  /** Blocks that writer was changing; their checksums are not compared. */
  dirtyBlocks: number;
  /** A newer file replaced this one at its path (§11.4). */
  retired: boolean;
}

const MAX_PROBLEMS = 20;

/** Maps `path` and checks all of it. Never throws for a bad file: problems are reported. */
export function verifyFile(path: string): VerifyReport {
  let buffer: Buffer;
  try {
    buffer = mapFile(path, false, "sequential").buffer;
  } catch (e) {
    if (e instanceof IdxError && e.code !== "ERR_IDX_IO") return failed(path, e);
    throw e;
  }
  return verifyMapped(buffer, path);
}

function failed(path: string, e: IdxError): VerifyReport {
  return {
    ok: false, path, problems: [{ offset: e.offset ?? 0, message: e.message }],
    entries: 0, tombstones: 0, interrupted: false, dirtyBlocks: 0, retired: false,
  };
}

/**
 * Checks a mapped file. A writer working on it meanwhile can make a check fail that would pass
 * a moment later; a failed check during which the file changed is run again, up to 3 times.
 */
export function verifyMapped(file: Buffer, path: string): VerifyReport {
  for (let attempt = 1; ; attempt++) {
    const before = seqOf(file);
    const report = verifyOnce(file, path);
    if (report.ok || seqOf(file) === before) return report;
    if (attempt === 3) {
      report.problems.push({ offset: H.seqCell, message: "the index changed while it was being verified (a writer is working on it); verify again when it is done" });
      return report;
    }
  }
}

function seqOf(file: Buffer): number {
  if (file.length < HEADER_BYTES) return 0;
  if ((file.byteOffset & 3) !== 0) return file.readUInt32LE(H.seqCell);
  return Atomics.load(new Uint32Array(file.buffer, file.byteOffset, HEADER_BYTES / 4), H.seqCell / 4);
}

function verifyOnce(file: Buffer, path: string): VerifyReport {
  let header: Header;
  try {
    header = readHeader(file, file.length, path);
  } catch (e) {
    if (e instanceof IdxError) return failed(path, e);
    throw e;
  }
  const problems: VerifyProblem[] = [];
  const report = (offset: number, message: string): boolean => {
    if (problems.length < MAX_PROBLEMS) problems.push({ offset, message });
    return problems.length < MAX_PROBLEMS;
  };
  const interrupted = (header.seq & 1) === 1 || header.dirtyBlockCount > 0;

  checkHeaderFields(file, header, report);
  checkBlocks(file, header, report);
  const scan = checkTable(file, header, interrupted, report);

  return {
    ok: problems.length === 0,
    path,
    problems,
    header,
    entries: scan.entries,
    tombstones: scan.tombstones,
    interrupted,
    dirtyBlocks: header.dirtyBlockCount,
    retired: header.retired,
  };
}

type Report = (offset: number, message: string) => boolean;

function checkHeaderFields(file: Buffer, h: Header, report: Report): void {
  // Bits and bytes a newer minor may define are only checked against the minor that reserves them.
  if (h.minor !== VERSION_MINOR) return;
  for (let o = H.reserved; o < H.headerChecksum; o++) {
    if (file[o] !== 0) {
      report(o, `reserved header byte at offset ${o} is ${file[o]}, not 0`);
      break;
    }
  }
  const state = file.readUInt32LE(H.stateCell);
  if ((state & STATE_RESERVED_BITS) !== 0) report(H.stateCell, `reserved state bits set: 0x${hex8(state)}`);
}

function checkBlocks(file: Buffer, h: Header, report: Report): void {
  const blocks = blockCount(h.slotCount);
  const slotsEnd = checksumsOffset(h.slotCount);
  for (let b = 0; b < blocks; b++) {
    if (b >= h.dirtyFirstBlock && b < h.dirtyFirstBlock + h.dirtyBlockCount) continue;
    const start = HEADER_BYTES + b * BLOCK_BYTES;
    const end = Math.min(start + BLOCK_BYTES, slotsEnd);
    const at = slotsEnd + b * CHECKSUM_BYTES;
    const stored = file.readUInt32LE(at);
    const actual = crc32(file.subarray(start, end));
    if (stored !== actual && !report(at, `block ${b} (bytes ${start}..${end - 1}) fails its checksum: stored 0x${hex8(stored)}, computed 0x${hex8(actual)}`)) return;
  }
}

function checkTable(file: Buffer, h: Header, interrupted: boolean, report: Report): { entries: number; tombstones: number } {
  const slots = new Uint32Array(file.buffer, file.byteOffset + HEADER_BYTES, h.slotCount * SLOT_WORDS);
  const at = (s: number) => HEADER_BYTES + s * SLOT_BYTES;
  let entries = h.escapedPresent ? 1 : 0;
  let tombstones = 0;
  let previous = EMPTY_HASH; // hash word of the previous slot
  let lastEntry = -1; // hash of the last entry, for order across empty slots
  let lastEmptySlot = -1;
  for (let s = 0; s < h.slotCount; s++) {
    const hash = slots[s * SLOT_WORDS];
    const value = slots[s * SLOT_WORDS + 1];
    if (hash === EMPTY_HASH) {
      lastEmptySlot = s;
      if (value !== 0 && !report(at(s) + 4, `empty slot ${s} has value ${value} (must be 0)`)) break;
    } else if (hash === previous) {
      tombstones++;
      if (!interrupted && !report(at(s), `slot ${s} repeats the hash of slot ${s - 1}, but no write was interrupted`)) break;
    } else {
      entries++;
      if (lastEntry >= 0 && hash <= lastEntry &&
        !report(at(s), `slot ${s} hash 0x${hex8(hash)} is not above the previous entry's 0x${hex8(lastEntry)}: slots must be sorted by hash`)) break;
      const home = homeSlot(hash, h.capacity);
      if (home > s && !report(at(s), `slot ${s} holds an entry whose home slot is ${home}, after it`)) break;
      if (home <= lastEmptySlot && !report(at(s), `slot ${s} is unreachable: empty slot ${lastEmptySlot} lies between it and its home slot ${home}`)) break;
      lastEntry = hash;
    }
    previous = hash;
  }
  if (slots[(h.slotCount - 1) * SLOT_WORDS] !== EMPTY_HASH) report(at(h.slotCount - 1), "the last slot is not empty");
  // An interrupted operation may have moved slots without updating the count: it is off by at most one.
  const countOff = Math.abs(entries - h.count);
  if (countOff > (interrupted ? 1 : 0)) report(H.stateCell, `header count is ${h.count} but the table holds ${entries} entries`);
  return { entries, tombstones };
}
