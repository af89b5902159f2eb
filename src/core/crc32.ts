/**
 * CRC-32 (ISO-HDLC, zlib's), spec/FORMAT.md §1. Short inputs (the 60 bytes of header an open
 * checks) are computed here, four bits at a time from a 16-entry table written out below:
 * opening an index must not load zlib, which costs more than the open itself, nor build a
 * 256-entry table, which in a process's first open (run by the interpreter) took 0.17 ms.
 * Long inputs (4 KiB blocks) use zlib's native code.
 */
let native: ((data: Uint8Array) => number) | undefined;

const NATIVE_FROM = 512;

/** NIBBLE[n] = the CRC-32 register after shifting n through four steps of the reflected 0xEDB88320. */
const NIBBLE = Int32Array.of(
  0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
  0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
);

export function crc32(data: Uint8Array): number {
  if (data.length >= NATIVE_FROM) {
    native ??= (require("node:zlib") as typeof import("node:zlib")).crc32;
    return native(data);
  }
  let c = -1;
  for (let i = 0; i < data.length; i++) {
    c ^= data[i];
    c = NIBBLE[c & 15] ^ (c >>> 4);
    c = NIBBLE[c & 15] ^ (c >>> 4);
  }
  return (c ^ -1) >>> 0;
}
