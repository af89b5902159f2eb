/**
 * CRC-32 (ISO-HDLC, zlib's), spec/FORMAT.md §1. Short inputs (the 60-byte header) use a table
 * in JS so that opening an index does not load zlib, which costs more than the open itself;
 * long inputs (4 KiB blocks) use zlib's native code.
 */
let table: Int32Array | undefined;
let native: ((data: Uint8Array) => number) | undefined;

const NATIVE_FROM = 512;

export function crc32(data: Uint8Array): number {
  if (data.length >= NATIVE_FROM) {
    native ??= (require("node:zlib") as typeof import("node:zlib")).crc32;
    return native(data);
  }
  const t = (table ??= makeTable());
  let c = -1;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

function makeTable(): Int32Array {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
}
