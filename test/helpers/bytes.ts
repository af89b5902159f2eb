/**
 * Byte-level surgery on index images: bit flips, and header edits with the header checksum
 * fixed up afterwards. Only the parts of the layout the spec promises to keep across versions
 * are hard-coded here (the magic at 0, the major version at 8, the minor at 10, slots from
 * byte 64, the size formula of §2); the header checksum's place and coverage come from
 * src/format.ts, the spec in code.
 */
import { H, headerChecksum } from "../../src/format";

export const OFF = {
  major: 8,
  minor: 10,
  /** The first header byte after the magic and the version: covered by a checksum. */
  afterVersion: 12,
  slots: 64,
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
  bytes.writeUInt32LE(headerChecksum(bytes), H.headerChecksum);
  return bytes;
}

/** slotCount from the file size alone: fileBytes = 64 + 8 s + 4 ceil(s / 512) (spec §2). */
export function slotCountOf(fileBytes: number): number {
  for (let s = Math.floor((fileBytes - 64) / 8); s > 0; s--) {
    if (64 + 8 * s + 4 * Math.ceil(s / 512) === fileBytes) return s;
  }
  throw new Error(`no slot count gives a ${fileBytes}-byte file`);
}

/** 89 50 4E 47 0D 0A 1A 0A, then an IHDR chunk: the start of a real PNG file. */
export const PNG_HEADER = Buffer.from(
  "89504e470d0a1a0a0000000d4948445200000001000000010806000000" + "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082",
  "hex",
);
