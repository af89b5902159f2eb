/** Byte-level surgery on index images: flips, header edits with a fixed-up header checksum. */
import { crc32 } from "node:zlib";

/** Header field offsets, from the table in spec/FORMAT.md §3 (not from src/). */
export const OFF = {
  major: 8,
  minor: 10,
  flags: 12,
  capacity: 16,
  slotCount: 20,
  count: 24,
  headerChecksum: 60,
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

/** Rewrites the header checksum: CRC-32 of bytes 0..59, little-endian at 60. */
export function fixHeaderChecksum(bytes: Buffer): Buffer {
  bytes.writeUInt32LE(crc32(bytes.subarray(0, OFF.headerChecksum)), OFF.headerChecksum);
  return bytes;
}

/** 89 50 4E 47 0D 0A 1A 0A, then an IHDR chunk: the start of a real PNG file. */
export const PNG_HEADER = Buffer.from(
  "89504e470d0a1a0a0000000d4948445200000001000000010806000000" + "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082",
  "hex",
);
