/**
 * The full check of spec/FORMAT.md §9.2 on a file: maps it, and runs core/checks.ts over the
 * header, every block checksum and every table invariant. O(file size); open() does none of it.
 */
import { Problem, Problems, TableScan, checkBlocks, checkReserved, checkTable, isInterrupted } from "./core/checks";
import { IdxError } from "./core/errors";
import { CELL_SEQ, Header, MAX_HEADER_BYTES, blockCount, checksumsOffset, snapshotHeader } from "./core/format";
import { StallClock, quietRead } from "./core/protocol";
import { BytesFile, MappedSeq, Mapping, headerOf, openMapping, regionOf } from "./os/mapping";

export type VerifyProblem = Problem;

export interface VerifyReport {
  ok: boolean;
  path: string;
  /** The format version, when the header could be read. */
  version?: string;
  /** What is wrong, first problems first; at most 20 of them. */
  problems: VerifyProblem[];
  /** Live entries found by the scan (escaped key included). */
  entries: number;
  /** Slots that repeat their predecessor: left by a writer stopped mid-operation (§5.1). */
  tombstones: number;
  /** A writer stopped mid-operation: its blocks' checksums and the count may lag (§9.2). */
  interrupted: boolean;
  /** Blocks that writer was changing; their checksums are not compared. */
  dirtyBlocks: number;
  /** Marked retired (§11.4): a newer file replaced it, or was about to. */
  retired: boolean;
  /** A writer stopped mid-operation (seq odd, or dirty blocks): the next writer repairs it (§11.6). */
  writerStopped: boolean;
}

/**
 * What verify learns, for the writer (recovery and rehash refuse to build on damage).
 * @internal
 */
export interface VerifyDetail {
  report: VerifyReport;
  header?: Header;
  scan?: TableScan;
  /** The first block whose checksum fails (outside the dirty blocks), or -1. */
  firstBadBlock: number;
}

/** Maps `path` and checks all of it. Never throws for a bad file: problems are reported. */
export function verifyFile(path: string): VerifyReport {
  let mapping: Mapping;
  try {
    mapping = openMapping(path, { sequential: true });
  } catch (e) {
    if (e instanceof IdxError && e.code !== "ERR_IDX_IO" && e.code !== "ERR_IDX_INVALID_ARGUMENT" && e.code !== "ERR_IDX_NO_ADDON") {
      return failed(path, e).report;
    }
    throw e;
  }
  try {
    return verifyMapping(mapping, path);
  } finally {
    mapping.release();
  }
}

function failed(path: string, e: IdxError): VerifyDetail {
  return {
    report: {
      ok: false, path, problems: [{ offset: e.offset ?? 0, message: e.message.split("\n")[0] }],
      entries: 0, tombstones: 0, interrupted: false, dirtyBlocks: 0, retired: false, writerStopped: false,
    },
    firstBadBlock: -1,
  };
}

/**
 * Checks a mapped file. A writer working on it meanwhile can make a check fail that would pass
 * a moment later; a failed check during which the file changed is run again, up to 3 times.
 */
/** @internal */
export function verifyMapping(mapping: Mapping, path: string): VerifyReport {
  return verifyDetail(mapping, path).report;
}

/**
 * Checks a file image held in memory.
 * @internal
 */
export function verifyBytes(bytes: Uint8Array, path: string): VerifyReport {
  return verifyMapping(new BytesFile(bytes), path);
}

/** @internal */
export function verifyDetail(mapping: Mapping, path: string): VerifyDetail {
  if (!mapping.live || mapping.size < CELL_SEQ + 4) return verifyOnce(mapping, path);
  // Between seq loads that show no write (spec §11.7): a check a writer overlapped could fail
  // where the file is whole, or pass counts from two states. A busy writer gets 3 tries.
  const b = mapping.bytes(0, CELL_SEQ + 4);
  return quietRead(() => verifyOnce(mapping, path), new MappedSeq(new Uint32Array(b.buffer, b.byteOffset, b.length / 4), path, mapping), {
    retired: (detail) => detail.report.retired,
    clock: new StallClock(),
    attempts: 3,
    busy: (detail) => {
      detail.report.problems.push({ offset: CELL_SEQ, message: "the index changed while it was being verified (a writer is working on it); verify again when it is done" });
      detail.report.ok = false;
      return detail;
    },
  });
}

function verifyOnce(mapping: Mapping, path: string): VerifyDetail {
  let header: Header;
  let headerBytes: Uint8Array;
  try {
    headerBytes = snapshotHeader(mapping.bytes(0, Math.min(mapping.size, MAX_HEADER_BYTES)));
    header = headerOf(mapping, path);
  } catch (e) {
    if (e instanceof IdxError) return failed(path, e);
    throw e;
  }
  const problems = new Problems();
  const region = regionOf(mapping, header.layout, header.slotCount);
  const checksums = mapping.bytes(checksumsOffset(header.layout, header.slotCount), blockCount(header.slotCount, header.layout.slotsPerBlock) * 4);
  checkReserved(headerBytes, header, problems);
  const firstBadBlock = checkBlocks(region, checksums, header, problems);
  const scan = checkTable(region, header, problems);
  return {
    report: {
      ok: problems.list.length === 0,
      path,
      version: `${header.major}.${header.minor}`,
      problems: problems.list,
      entries: scan.entries + (header.escapedPresent ? 1 : 0),
      tombstones: scan.tombstones,
      interrupted: isInterrupted(header),
      dirtyBlocks: header.dirtyCount,
      retired: header.retired,
      writerStopped: ((header.seq & 1) === 1 && !header.retired) || header.dirtyCount > 0,
    },
    header,
    scan,
    firstBadBlock,
  };
}

