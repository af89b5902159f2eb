/**
 * Byte-level surgery on version 2 index images: bit flips, and header edits with the header
 * checksum fixed up afterwards. The offsets are spec/FORMAT.md §2 and §3 written out again (the
 * magic at 0, the version at 8 and 10, the header checksum at 12, slots from byte 128, the size
 * formula of §2); the checksum's coverage comes from src/core/format.ts, the spec in code.
 */
import { headerChecksumV2 } from "../../src/core/format";

export const OFF = {
  major: 8,
  minor: 10,
  /** The first header byte after the magic and the version: covered by a checksum. */
  afterVersion: 12,
  headerChecksum: 12,
  capacity: 16,
  slotCount: 24,
  state: 32,
  escaped: 40,
  seq: 48,
  entries: 56,
  reach: 64,
  dirtyFirst: 72,
  dirtyCount: 80,
  slots: 128,
} as const;

/**
 * A copy of `bytes` in its own 8-byte-aligned memory (Buffer.from(small) may come from the
 * shared pool at an odd offset, which typed-array views over it would reject).
 */
export function ownCopy(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(bytes.length);
  out.set(bytes);
  return out;
}

/** A copy of `bytes` with bit `bit` (0 = least significant bit of byte 0) inverted. */
export function withBitFlipped(bytes: Uint8Array, bit: number): Buffer {
  const out = ownCopy(bytes);
  out[bit >>> 3] ^= 1 << (bit & 7);
  return out;
}

/** Rewrites the header checksum after an edit of the fixed header fields. */
export function fixHeaderChecksum(bytes: Buffer): Buffer {
  bytes.writeUInt32LE(headerChecksumV2(bytes), OFF.headerChecksum);
  return bytes;
}

/** Stores a cell (§3): its word, and the CRC-32 of its offset and word. */
export function writeCell(bytes: Buffer, offset: number, word: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(offset, 0);
  b.writeUInt32LE(word >>> 0, 4);
  bytes.writeUInt32LE(word >>> 0, offset);
  bytes.writeUInt32LE(require("node:zlib").crc32(b), offset + 4);
  return bytes;
}

/** slotCount from the file size alone: fileBytes = 128 + 8 s + 4 ceil(s / 512) (spec §2). */
export function slotCountOf(fileBytes: number): number {
  for (let s = Math.floor((fileBytes - 128) / 8); s > 0; s--) {
    if (128 + 8 * s + 4 * Math.ceil(s / 512) === fileBytes) return s;
  }
  throw new Error(`no slot count gives a ${fileBytes}-byte file`);
}

/** 89 50 4E 47 0D 0A 1A 0A, then an IHDR chunk: the start of a real PNG file. */
export const PNG_HEADER = Buffer.from(
  "89504e470d0a1a0a0000000d4948445200000001000000010806000000" + "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082",
  "hex",
);
