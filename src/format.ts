/**
 * The file layout of spec/FORMAT.md in code: constants, sizes, and the header's encode and
 * validate. Knows nothing of files or mapping; works on bytes it is given.
 */
import { crc32 } from "./crc32";
import { IdxError } from "./errors";
import { unhash32 } from "./hash";

/** §2. "\x89IDX\r\n\x1a\n": the high byte and CR LF / ^Z catch 7-bit and newline-mangling transfers. */
export const MAGIC: Uint8Array = Uint8Array.of(0x89, 0x49, 0x44, 0x58, 0x0d, 0x0a, 0x1a, 0x0a);
export const VERSION_MAJOR = 1;
export const VERSION_MINOR = 0;

export const HEADER_BYTES = 64;
export const SLOT_BYTES = 8;
/** Words (uint32) per slot: the hash word, then the value word. */
export const SLOT_WORDS = 2;
/** §6. Each checksum covers this many bytes of the slot region. */
export const BLOCK_BYTES = 4096;
export const SLOTS_PER_BLOCK = BLOCK_BYTES / SLOT_BYTES;
export const CHECKSUM_BYTES = 4;

/** §5. The hash word of a slot that holds nothing; it compares above every real hash. */
export const EMPTY_HASH = 0xffffffff;
/** The one key whose hash is EMPTY_HASH; it lives in the header (§3), never in a slot. */
export const ESCAPED_KEY = unhash32(EMPTY_HASH);

/** §3 flags. */
export const FLAG_ESCAPED_PRESENT = 1;

/** §7. The builder's load limit: capacity = ceil(entries * 8 / 7), at least 1. */
export const BUILD_LOAD_NUM = 7;
export const BUILD_LOAD_DEN = 8;
/** §7. Slots past the last occupied one (the last is the scan sentinel; the rest are headroom). */
export const SPILL_SLOTS = 8;

/** §8. v1 files are mapped whole by readers; the reference binding maps at most 2^31 - 1 bytes. */
export const MAX_FILE_BYTES = 2 ** 31 - 1;

/** Byte offsets of the header fields (§3). */
export const H = {
  magic: 0,
  major: 8,
  minor: 10,
  flags: 12,
  capacity: 16,
  slotCount: 20,
  count: 24,
  tombstones: 28,
  escapedValue: 32,
  seq: 36,
  dirtyFirstBlock: 40,
  dirtyBlockCount: 44,
  reserved: 48,
  headerChecksum: 60,
} as const;

export interface Header {
  major: number;
  minor: number;
  flags: number;
  /** Home slots: the range of the slot mapping. */
  capacity: number;
  /** All slots, including the spill slots after the home range. */
  slotCount: number;
  /** Live entries, the escaped key included. */
  count: number;
  /** Slots that repeat the hash of the slot before them (deleted entries, §5). */
  tombstones: number;
  escapedValue: number;
  seq: number;
  dirtyFirstBlock: number;
  dirtyBlockCount: number;
}

export function blockCount(slotCount: number): number {
  return Math.ceil((slotCount * SLOT_BYTES) / BLOCK_BYTES);
}

export function checksumsOffset(slotCount: number): number {
  return HEADER_BYTES + slotCount * SLOT_BYTES;
}

export function fileBytes(slotCount: number): number {
  return checksumsOffset(slotCount) + blockCount(slotCount) * CHECKSUM_BYTES;
}

/** The largest slot count whose file fits in MAX_FILE_BYTES. */
export const MAX_SLOT_COUNT = (() => {
  // fileBytes(s) ~ 64 + s * (8 + 4/512): start just above the solution and step down.
  let s = Math.ceil(((MAX_FILE_BYTES - HEADER_BYTES) * SLOTS_PER_BLOCK) / (BLOCK_BYTES + CHECKSUM_BYTES)) + 1;
  while (fileBytes(s) > MAX_FILE_BYTES) s--;
  return s;
})();

/** §7. The capacity the builder gives `n` slot entries. */
export function buildCapacity(n: number): number {
  return Math.max(1, Math.ceil((n * BUILD_LOAD_DEN) / BUILD_LOAD_NUM));
}

export function headerChecksum(header: Uint8Array): number {
  return crc32(header.subarray(0, H.headerChecksum));
}

/** Encodes a header (with its checksum) into the first HEADER_BYTES of `out`. */
export function writeHeader(out: Uint8Array, h: Header): void {
  const v = new DataView(out.buffer, out.byteOffset, HEADER_BYTES);
  out.fill(0, 0, HEADER_BYTES);
  out.set(MAGIC, H.magic);
  v.setUint16(H.major, h.major, true);
  v.setUint16(H.minor, h.minor, true);
  v.setUint32(H.flags, h.flags, true);
  v.setUint32(H.capacity, h.capacity, true);
  v.setUint32(H.slotCount, h.slotCount, true);
  v.setUint32(H.count, h.count, true);
  v.setUint32(H.tombstones, h.tombstones, true);
  v.setUint32(H.escapedValue, h.escapedValue, true);
  v.setUint32(H.seq, h.seq, true);
  v.setUint32(H.dirtyFirstBlock, h.dirtyFirstBlock, true);
  v.setUint32(H.dirtyBlockCount, h.dirtyBlockCount, true);
  v.setUint32(H.headerChecksum, headerChecksum(out), true);
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/**
 * Reads and validates the header of a file of `size` bytes whose first bytes are `bytes`
 * (at least min(size, HEADER_BYTES) of them). Applies every open-time rule of §9 in order and
 * throws an IdxError naming `path` for the first one broken. Touches nothing past the header.
 */
export function readHeader(bytes: Uint8Array, size: number, path: string): Header {
  const fail = (code: ConstructorParameters<typeof IdxError>[0], what: string, hint: string): never => {
    throw new IdxError(code, what, { path, hint });
  };
  if (size === 0) {
    fail("ERR_IDX_NOT_AN_INDEX", "is empty (0 bytes), not an idx index",
      "Build one with `idx build PAIRS -o FILE`; an interrupted copy can also leave an empty file.");
  }
  const magicSeen = bytes.subarray(0, Math.min(size, MAGIC.length));
  for (let i = 0; i < magicSeen.length; i++) {
    if (magicSeen[i] !== MAGIC[i]) {
      fail("ERR_IDX_NOT_AN_INDEX", `is not an idx index (it starts with ${hex(magicSeen)}, not the idx magic ${hex(MAGIC)})`,
        "Check the path: this looks like another kind of file.");
    }
  }
  if (size < HEADER_BYTES) {
    fail("ERR_IDX_TRUNCATED", `is truncated: ${size} bytes, shorter than the ${HEADER_BYTES}-byte header`,
      "The file was cut short (an interrupted copy or download); rebuild it or copy it again.");
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const major = v.getUint16(H.major, true);
  const minor = v.getUint16(H.minor, true);
  if (major > VERSION_MAJOR) {
    fail("ERR_IDX_UNSUPPORTED_VERSION", `uses format version ${major}.${minor}; this idx reads major version ${VERSION_MAJOR} only`,
      "Upgrade idx to open it, or rebuild the index with this version.");
  }
  if (major !== VERSION_MAJOR) {
    fail("ERR_IDX_CORRUPT", `has format version ${major}.${minor}, which no idx has written`,
      "The header is damaged; rebuild the index from its source pairs.");
  }
  const stored = v.getUint32(H.headerChecksum, true);
  const actual = headerChecksum(bytes);
  if (stored !== actual) {
    fail("ERR_IDX_CHECKSUM", `header checksum mismatch (stored 0x${stored.toString(16).padStart(8, "0")}, computed 0x${actual.toString(16).padStart(8, "0")})`,
      "The header bytes changed after they were written; rebuild the index from its source pairs.");
  }
  const h: Header = {
    major,
    minor,
    flags: v.getUint32(H.flags, true),
    capacity: v.getUint32(H.capacity, true),
    slotCount: v.getUint32(H.slotCount, true),
    count: v.getUint32(H.count, true),
    tombstones: v.getUint32(H.tombstones, true),
    escapedValue: v.getUint32(H.escapedValue, true),
    seq: v.getUint32(H.seq, true),
    dirtyFirstBlock: v.getUint32(H.dirtyFirstBlock, true),
    dirtyBlockCount: v.getUint32(H.dirtyBlockCount, true),
  };
  const corrupt = (what: string): never =>
    fail("ERR_IDX_CORRUPT", `has an invalid header: ${what}`, "Rebuild the index from its source pairs.");
  if (h.capacity < 1) corrupt("capacity is 0");
  if (h.slotCount <= h.capacity) corrupt(`slot count ${h.slotCount} is not above capacity ${h.capacity}`);
  if (h.slotCount > MAX_SLOT_COUNT) {
    fail("ERR_IDX_TOO_LARGE", `declares ${h.slotCount} slots, more than the ${MAX_SLOT_COUNT} a version ${VERSION_MAJOR} file can hold`,
      "The header is damaged or the file was written by an incompatible tool; rebuild it.");
  }
  const expected = fileBytes(h.slotCount);
  if (size < expected) {
    fail("ERR_IDX_TRUNCATED", `is truncated: ${size} bytes, but its header describes ${expected}`,
      "The file was cut short (an interrupted copy or download); rebuild it or copy it again.");
  }
  if (size > expected) {
    fail("ERR_IDX_CORRUPT", `is ${size} bytes, but its header describes ${expected} (${size - expected} bytes too many)`,
      "Something was appended to the file; rebuild it or copy it again.");
  }
  const escaped = h.flags & FLAG_ESCAPED_PRESENT ? 1 : 0;
  if (h.tombstones >= h.slotCount) corrupt(`${h.tombstones} tombstones in ${h.slotCount} slots`);
  if (h.count > h.slotCount - 1 - h.tombstones + escaped) corrupt(`count ${h.count} does not fit in ${h.slotCount} slots`);
  const blocks = blockCount(h.slotCount);
  if (h.dirtyBlockCount > blocks || h.dirtyFirstBlock > blocks - h.dirtyBlockCount) {
    corrupt(`dirty block range ${h.dirtyFirstBlock}+${h.dirtyBlockCount} is outside the ${blocks} blocks`);
  }
  return h;
}

/** §9.1 rule 9: the lookup loop stops inside the table only because the last slot is empty. */
export function checkSentinel(lastHashWord: number, path: string): void {
  if (lastHashWord !== EMPTY_HASH) {
    throw new IdxError("ERR_IDX_CORRUPT", `its last slot is not empty (hash word 0x${lastHashWord.toString(16)})`, {
      path, hint: "The table is damaged; rebuild the index from its source pairs.",
    });
  }
}