/** What `idx info` prints: the header's numbers and what they mean for size. */
import { Header, sizeOf } from "../core/format";

export interface IndexInfo {
  path: string;
  version: string;
  /** The key and value widths in bits (spec §16): 32 or 64. */
  keyBits: 32 | 64;
  valueBits: 32 | 64;
  /** Live entries. */
  count: number;
  /** Home slots (the range of the slot mapping). */
  capacity: number;
  /** All slots, spill slots included. */
  slotCount: number;
  /** count / capacity. */
  load: number;
  fileBytes: number;
  /** fileBytes / count; null for an empty index. */
  bytesPerEntry: number | null;
  /** Writer operations since the file was written (seq / 2). */
  writes: number;
  /** No lookup reads more than reach + 1 slots; null for a version 1 file, which records none. */
  reach: number | null;
  /** "mapped" (the addon: shared pages, live) or "copied" (no addon: read whole at open). */
  access: "mapped" | "copied";
  /**
   * A writer stopped in the middle of an operation (seq odd or dirty blocks) and no writer has
   * opened the index since: the next one repairs it (spec §11.6).
   */
  interrupted: boolean;
  /** Marked retired (spec §11.4) but still the file at its path: its replacer stopped before its rename. */
  retired: boolean;
}

/** @internal */
export function describeHeader(path: string, h: Header, size: number, access: "mapped" | "copied"): IndexInfo {
  const count = sizeOf(h);
  return {
    path,
    version: `${h.major}.${h.minor}`,
    keyBits: h.keyBits,
    valueBits: h.valueBits,
    count,
    capacity: h.capacity,
    slotCount: h.slotCount,
    load: count / h.capacity,
    fileBytes: size,
    bytesPerEntry: count === 0 ? null : size / count,
    writes: Math.floor(h.seq / 2),
    reach: h.major === 1 ? null : h.reach,
    access,
    interrupted: (h.seq & 1) === 1 && !h.retired || h.dirtyCount > 0,
    retired: h.retired,
  };
}
