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

/** §3 state cell bits. */
export const STATE_COUNT_MASK = 0x0fffffff;
export const STATE_ESCAPED = 1 << 28;
export const STATE_RETIRED = 1 << 29;
export const STATE_RESERVED_BITS = 0xc0000000;
/** §3 dirty cell: first block in the low 20 bits, block count in the high 12. */
export const DIRTY_FIRST_BITS = 20;
export const DIRTY_FIRST_MASK = (1 << DIRTY_FIRST_BITS) - 1;
export const MAX_DIRTY_BLOCKS = 0xfff;

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
  capacity: 12,
  slotCount: 16,
  reserved: 20,
  headerChecksum: 28,
  /** The four cells: a u32 word and its check, each stored with one 8-byte write. */
  stateCell: 32,
  escapedCell: 40,
  seqCell: 48,
  dirtyCell: 56,
} as const;

/** Word indexes (uint32) of the cells' words, for typed-array access to a mapped header. */
export const W = {
  state: H.stateCell / 4,
  escapedValue: H.escapedCell / 4,
  seq: H.seqCell / 4,
  dirty: H.dirtyCell / 4,
} as const;

export const CELL_OFFSETS = [H.stateCell, H.escapedCell, H.seqCell, H.dirtyCell] as const;

export interface Header {
  major: number;
  minor: number;
  /** Home slots: the range of the slot mapping. */
  capacity: number;
  /** All slots, including the spill slots after the home range. */
  slotCount: number;
  /** Live entries, the escaped key included. */
  count: number;
  escapedPresent: boolean;
  /** A newer file has replaced this one at its path (§11.4). */
  retired: boolean;
  escapedValue: number;
  /** Writer sequence: odd while an operation is under way (§11.2). */
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

/** §3: CRC-32 of the fixed fields, bytes 0..27. */
export function headerChecksum(header: Uint8Array): number {
  return crc32(header.subarray(0, H.headerChecksum));
}

const cellScratch = new Uint8Array(8);
const cellScratchView = new DataView(cellScratch.buffer);

/** §3: a cell's check is the CRC-32 of its offset and its word, both as u32 LE. */
export function cellCheck(offset: number, word: number): number {
  cellScratchView.setUint32(0, offset, true);
  cellScratchView.setUint32(4, word >>> 0, true);
  return crc32(cellScratch);
}

export function stateWord(count: number, escapedPresent: boolean, retired: boolean): number {
  return (count | (escapedPresent ? STATE_ESCAPED : 0) | (retired ? STATE_RETIRED : 0)) >>> 0;
}

export function dirtyWord(first: number, blocks: number): number {
  return blocks === 0 ? 0 : ((first | (blocks << DIRTY_FIRST_BITS)) >>> 0);
}

/** Encodes a header (fixed fields, checksum and the four cells) into the first 64 bytes of `out`. */
export function writeHeader(out: Uint8Array, h: Header): void {
  const v = new DataView(out.buffer, out.byteOffset, HEADER_BYTES);
  out.fill(0, 0, HEADER_BYTES);
  out.set(MAGIC, H.magic);
  v.setUint16(H.major, h.major, true);
  v.setUint16(H.minor, h.minor, true);
  v.setUint32(H.capacity, h.capacity, true);
  v.setUint32(H.slotCount, h.slotCount, true);
  v.setUint32(H.headerChecksum, headerChecksum(out), true);
  const cells: [number, number][] = [
    [H.stateCell, stateWord(h.count, h.escapedPresent, h.retired)],
    [H.escapedCell, h.escapedValue],
    [H.seqCell, h.seq],
    [H.dirtyCell, dirtyWord(h.dirtyFirstBlock, h.dirtyBlockCount)],
  ];
  for (const [offset, word] of cells) {
    v.setUint32(offset, word, true);
    v.setUint32(offset + 4, cellCheck(offset, word), true);
  }
}

/**
 * A private copy of a header that a writer may be changing: each cell is read with one 8-byte
 * load, as it is written with one 8-byte store, so no cell is seen half old and half new.
 */
function snapshotHeader(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(HEADER_BYTES);
  copy.set(bytes.subarray(0, H.stateCell));
  if ((bytes.byteOffset & 7) !== 0) {
    copy.set(bytes.subarray(H.stateCell, HEADER_BYTES), H.stateCell); // not a mapping: nobody writes it
    return copy;
  }
  const cells = new BigUint64Array(bytes.buffer, bytes.byteOffset + H.stateCell, CELL_OFFSETS.length);
  const out = new BigUint64Array(copy.buffer, H.stateCell, CELL_OFFSETS.length);
  for (let i = 0; i < CELL_OFFSETS.length; i++) out[i] = Atomics.load(cells, i);
  return copy;
}

export function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/**
 * Reads and validates the header of a file of `size` bytes whose first bytes are `bytes`
 * (at least min(size, HEADER_BYTES) of them). Applies every open-time rule of §9 in order and
 * throws an IdxError naming `path` for the first one broken. Touches nothing past the header.
 */
export function readHeader(mapped: Uint8Array, size: number, path: string): Header {
  const bytes = size >= HEADER_BYTES ? snapshotHeader(mapped) : mapped;
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
    fail("ERR_IDX_CHECKSUM", `header checksum mismatch (stored 0x${hex8(stored)}, computed 0x${hex8(actual)})`,
      "The header bytes changed after they were written; rebuild the index from its source pairs.");
  }
  for (const offset of CELL_OFFSETS) {
    const word = v.getUint32(offset, true);
    const check = v.getUint32(offset + 4, true);
    if (check !== cellCheck(offset, word)) {
      fail("ERR_IDX_CHECKSUM", `header cell at offset ${offset} fails its check (word 0x${hex8(word)}, check 0x${hex8(check)})`,
        "The header bytes changed after they were written; rebuild the index from its source pairs.");
    }
  }
  const state = v.getUint32(H.stateCell, true);
  const dirty = v.getUint32(H.dirtyCell, true);
  const h: Header = {
    major,
    minor,
    capacity: v.getUint32(H.capacity, true),
    slotCount: v.getUint32(H.slotCount, true),
    count: state & STATE_COUNT_MASK,
    escapedPresent: (state & STATE_ESCAPED) !== 0,
    retired: (state & STATE_RETIRED) !== 0,
    escapedValue: v.getUint32(H.escapedCell, true),
    seq: v.getUint32(H.seqCell, true),
    dirtyFirstBlock: dirty & DIRTY_FIRST_MASK,
    dirtyBlockCount: dirty >>> DIRTY_FIRST_BITS,
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
  if (h.count > h.slotCount - 1 + (h.escapedPresent ? 1 : 0)) corrupt(`count ${h.count} does not fit in ${h.slotCount} slots`);
  const blocks = blockCount(h.slotCount);
  if (h.dirtyFirstBlock + h.dirtyBlockCount > blocks) {
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