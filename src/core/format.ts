/**
 * The file layout of spec/FORMAT.md in code: both header versions (§3, §14), sizes, limits, and
 * the header's encode and validate. Works on bytes it is given; knows nothing of files.
 */
import { crc32 } from "./crc32";
import { IdxError, IdxErrorCode } from "./errors";
import { unhash32 } from "./hash";

/** §3. "\x89IDX\r\n\x1a\n": the high byte and CR LF / ^Z catch 7-bit and newline-mangling transfers. */
export const MAGIC: Uint8Array = Uint8Array.of(0x89, 0x49, 0x44, 0x58, 0x0d, 0x0a, 0x1a, 0x0a);
/** The version this code writes for 32-bit keys and values (§10); 3 when a width is 64 (§16). */
export const VERSION_MAJOR = 2;
export const VERSION_MAJOR_WIDE = 3;
export const VERSION_MINOR = 0;

/** Version 1 and 2 slots (§2); version 3's are layout.slotBytes (§16.1). */
export const SLOT_BYTES = 8;
/** Words (uint32) per slot: the hash word, then the value word. */
export const SLOT_WORDS = 2;
/** §6. Each checksum covers this many bytes of the slot region. */
export const BLOCK_BYTES = 4096;
export const SLOTS_PER_BLOCK = BLOCK_BYTES / SLOT_BYTES;
export const CHECKSUM_BYTES = 4;

/** §5.1. The hash word of a slot that holds nothing; it compares above every real hash. */
export const EMPTY_HASH = 0xffffffff;
/** The one key whose hash is EMPTY_HASH; it lives in the header (§3), never in a slot. */
export const ESCAPED_KEY = unhash32(EMPTY_HASH);
/** §16.1, §16.3: the same for 64-bit keys. */
export const EMPTY_HASH_64 = 0xffffffffffffffffn;
export const ESCAPED_KEY_64 = 12140293084747745066n;

/** A key or value width (§16.1). */
export type Width = 32 | 64;

/** §3 state cell bits, the same in both versions. */
export const STATE_ESCAPED = 1 << 28;
export const STATE_RETIRED = 1 << 29;

/** §7. The builder's load limit: capacity = ceil(entries * 8 / 7), at least 1. */
export const BUILD_LOAD_NUM = 7;
export const BUILD_LOAD_DEN = 8;
/** §7. Slots past the last occupied one (the last is the scan sentinel; the rest are headroom). */
export const SPILL_SLOTS = 8;

/**
 * Byte offsets of the cells every version has at the same place (§3): a reader's hot path reads
 * only these, so one lookup routine (and the addon's, and any other language's) serves both.
 */
export const CELL_STATE = 32;
export const CELL_ESCAPED = 40;
export const CELL_SEQ = 48;
/** Version 2's other cells (§3). */
export const CELL_ENTRIES = 56;
export const CELL_REACH = 64;
export const CELL_DIRTY_FIRST = 72;
export const CELL_DIRTY_COUNT = 80;
export const CELL_RESERVED = 88;
/** Version 1's dirty cell (§14): first block in the low 20 bits, block count in the high 12. */
export const CELL_DIRTY_V1 = 56;
export const DIRTY_V1_FIRST_BITS = 20;
export const DIRTY_V1_FIRST_MASK = (1 << DIRTY_V1_FIRST_BITS) - 1;
export const DIRTY_V1_MAX_BLOCKS = 0xfff;
/** Version 1's state cell keeps the count in its low 28 bits (§14). */
export const STATE_V1_COUNT_MASK = 0x0fffffff;

/** Word (uint32) indexes of the hot cells' words, for typed-array access to a mapped header. */
export const W_STATE = CELL_STATE / 4;
export const W_ESCAPED = CELL_ESCAPED / 4;
export const W_SEQ = CELL_SEQ / 4;
export const W_ENTRIES = CELL_ENTRIES / 4;
export const W_REACH = CELL_REACH / 4;

/** Bytes 0..7: the magic; bytes 8..11: major and minor, as u16 each (both versions). */
export const MAJOR_OFFSET = 8;
export const MINOR_OFFSET = 10;
/** The first bytes a reader reads to tell the version (§9.1 rule 3). */
export const VERSION_BYTES = 12;
/** The first bytes no writer changes in place (magic, version, checksum, capacity, slot count). */
export const FIXED_BYTES = CELL_STATE;

/** What differs between the header versions and widths (§3, §14, §16). */
export interface Layout {
  readonly major: 1 | 2 | 3;
  /** The header's size: slots start here. */
  readonly headerBytes: number;
  readonly maxSlotCount: number;
  /** Every cell's offset, in order. */
  readonly cells: readonly number[];
  /** Where the header checksum, capacity and slot count are, and their widths (bytes). */
  readonly checksumOffset: number;
  readonly capacityOffset: number;
  readonly slotCountOffset: number;
  readonly countBytes: 4 | 8;
  /** Reserved bytes [from, to): zero in minor 0, verify checks them (§3, §14, §16.2). */
  readonly reserved: readonly [number, number];
  /** The reserved cell, whose word is 0 in minor 0 (§3: 88; §16.2: 120), or -1 (version 1). */
  readonly reservedCellOffset: number;
  /**
   * The slots (§2, §16.1): bytes and uint32 words a slot, the word the value starts at (after
   * the hash word's one or two), slots and bytes a checksum block (§6).
   */
  readonly slotBytes: 8 | 12 | 16;
  readonly slotWords: 2 | 3 | 4;
  readonly valueOffset: 1 | 2;
  readonly slotsPerBlock: number;
  readonly blockBytes: number;
  readonly keyBits: Width;
  readonly valueBits: Width;
}

export const LAYOUT_V2: Layout = {
  major: 2,
  headerBytes: 128,
  maxSlotCount: 2 ** 33,
  cells: [CELL_STATE, CELL_ESCAPED, CELL_SEQ, CELL_ENTRIES, CELL_REACH, CELL_DIRTY_FIRST, CELL_DIRTY_COUNT, CELL_RESERVED],
  checksumOffset: 12,
  capacityOffset: 16,
  slotCountOffset: 24,
  countBytes: 8,
  reserved: [96, 128],
  reservedCellOffset: CELL_RESERVED,
  slotBytes: SLOT_BYTES,
  slotWords: SLOT_WORDS,
  valueOffset: 1,
  slotsPerBlock: SLOTS_PER_BLOCK,
  blockBytes: BLOCK_BYTES,
  keyBits: 32,
  valueBits: 32,
};

export const LAYOUT_V1: Layout = {
  major: 1,
  headerBytes: 64,
  maxSlotCount: 268173559,
  cells: [CELL_STATE, CELL_ESCAPED, CELL_SEQ, CELL_DIRTY_V1],
  checksumOffset: 28,
  capacityOffset: 12,
  slotCountOffset: 16,
  countBytes: 4,
  reserved: [20, 28],
  reservedCellOffset: -1,
  slotBytes: SLOT_BYTES,
  slotWords: SLOT_WORDS,
  valueOffset: 1,
  slotsPerBlock: SLOTS_PER_BLOCK,
  blockBytes: BLOCK_BYTES,
  keyBits: 32,
  valueBits: 32,
};

/**
 * §16.2: the widths, in bytes version 2 reserves (under the header checksum); the escaped
 * value's high word in version 2's reserved cell; the count's high word and a reserved cell in
 * the last 16 bytes, outside the bytes the header checksum covers.
 */
export const KEY_BITS_OFFSET = 96;
export const VALUE_BITS_OFFSET = 97;
export const CELL_ESCAPED_HIGH = CELL_RESERVED;
export const W_ESCAPED_HIGH = CELL_ESCAPED_HIGH / 4;
export const CELL_ENTRIES_HIGH = 112;
export const CELL_RESERVED_V3 = 120;
/** §16.4: version 3's slot limit (16 TiB of slots). */
export const MAX_SLOT_COUNT_V3 = 2 ** 40;

/** §16.1: version 3's checksum block is 256 slots, whatever their size. */
export const SLOTS_PER_BLOCK_V3 = 256;

function layoutV3(keyBits: Width, valueBits: Width): Layout {
  const slotBytes = ((keyBits + valueBits) / 8) as 12 | 16;
  return {
    ...LAYOUT_V2,
    major: 3,
    maxSlotCount: MAX_SLOT_COUNT_V3,
    cells: [...LAYOUT_V2.cells, CELL_ENTRIES_HIGH, CELL_RESERVED_V3],
    reserved: [VALUE_BITS_OFFSET + 1, CELL_ENTRIES_HIGH],
    reservedCellOffset: CELL_RESERVED_V3,
    slotBytes,
    slotWords: (slotBytes / 4) as 3 | 4,
    valueOffset: (keyBits / 32) as 1 | 2,
    slotsPerBlock: SLOTS_PER_BLOCK_V3,
    blockBytes: SLOTS_PER_BLOCK_V3 * slotBytes,
    keyBits,
    valueBits,
  };
}

const LAYOUTS_V3: Record<string, Layout> = {
  "64/32": layoutV3(64, 32),
  "32/64": layoutV3(32, 64),
  "64/64": layoutV3(64, 64),
};

/** The layout of a file with these widths: version 2 for 32/32 (§16: byte for byte), else 3. */
export function layoutFor(keyBits: Width, valueBits: Width): Layout {
  return keyBits === 32 && valueBits === 32 ? LAYOUT_V2 : LAYOUTS_V3[`${keyBits}/${valueBits}`];
}

/** The most header bytes any version has: what a reader reads before it knows the version. */
export const MAX_HEADER_BYTES = LAYOUT_V2.headerBytes;

export interface Header {
  layout: Layout;
  major: number;
  minor: number;
  /** Home slots: the range of the slot mapping. */
  capacity: number;
  /** All slots, including the spill slots after the home range. */
  slotCount: number;
  /** Entries in slots (the escaped key is not counted). */
  entries: number;
  escapedPresent: boolean;
  /** A newer file has replaced this one at its path (§11.4). */
  retired: boolean;
  escapedValue: number;
  /** Writer sequence: odd while an operation is under way (§11.2). */
  seq: number;
  /** §5.3: no entry sits further than this from its home. Version 1: slotCount - 1 (unknown). */
  reach: number;
  dirtyFirst: number;
  /** Blocks an interrupted operation was changing; 0 when none. */
  dirtyCount: number;
  /** The state cell's word as stored, for verify's reserved-bit rule. */
  stateWord: number;
  /** The reserved cell's word (layout.reservedCellOffset; 0 for version 1). */
  reservedCell: number;
  /** §16.2: the escaped value's high word (0 but in version 3). */
  escapedHigh: number;
  /** §16: the widths (32 and 32 for versions 1 and 2). */
  keyBits: Width;
  valueBits: Width;
}

/** Live entries: the slots' entries and the escaped key. */
export function sizeOf(h: Header): number {
  return h.entries + (h.escapedPresent ? 1 : 0);
}

/** §6.1: checksum blocks of a slot region (512 slots a block, 256 for version 3's). */
export function blockCount(slotCount: number, slotsPerBlock = SLOTS_PER_BLOCK): number {
  return Math.ceil(slotCount / slotsPerBlock);
}

export function checksumsOffset(layout: Layout, slotCount: number): number {
  return layout.headerBytes + slotCount * layout.slotBytes;
}

/** §2, §16.1: the exact size of a file with `slotCount` slots. */
export function fileBytes(layout: Layout, slotCount: number): number {
  return checksumsOffset(layout, slotCount) + blockCount(slotCount, layout.slotsPerBlock) * CHECKSUM_BYTES;
}

/** §7. The capacity the builder gives `n` slot entries. */
export function buildCapacity(n: number): number {
  return Math.max(1, Math.ceil((n * BUILD_LOAD_DEN) / BUILD_LOAD_NUM));
}

/** §11.5: a writer grows into a table at 3/4 load, so the next growth is a third of the entries away. */
export function growCapacity(entries: number): number {
  return Math.max(1, Math.ceil((entries * 4) / 3) + 1);
}

/** §11.3: a writer rehashes before entries pass 9/10 of the home slots. */
export const MAX_LOAD_NUM = 9;
export const MAX_LOAD_DEN = 10;

const cellScratch = new Uint8Array(8);
const cellScratchView = new DataView(cellScratch.buffer);

/** §3: a cell's check is the CRC-32 of its offset and its word, both as u32 LE. */
export function cellCheck(offset: number, word: number): number {
  cellScratchView.setUint32(0, offset, true);
  cellScratchView.setUint32(4, word >>> 0, true);
  return crc32(cellScratch);
}

/** §3 (version 2): CRC-32 of bytes 0..11 followed by bytes 16..31. */
export function headerChecksumV2(header: Uint8Array): number {
  const fixed = new Uint8Array(FIXED_BYTES - 4);
  const at = LAYOUT_V2.checksumOffset;
  fixed.set(header.subarray(0, at), 0);
  fixed.set(header.subarray(at + 4, FIXED_BYTES), at);
  return crc32(fixed);
}

/** §16.2 (version 3): CRC-32 of bytes 0..11, 16..31 and 96..111. */
export function headerChecksumV3(header: Uint8Array): number {
  const at = LAYOUT_V2.checksumOffset;
  const fixed = new Uint8Array(FIXED_BYTES - 4 + (CELL_ENTRIES_HIGH - KEY_BITS_OFFSET));
  fixed.set(header.subarray(0, at), 0);
  fixed.set(header.subarray(at + 4, FIXED_BYTES), at);
  fixed.set(header.subarray(KEY_BITS_OFFSET, CELL_ENTRIES_HIGH), FIXED_BYTES - 4);
  return crc32(fixed);
}

/** §14 (version 1): CRC-32 of bytes 0..27. */
export function headerChecksumV1(header: Uint8Array): number {
  return crc32(header.subarray(0, LAYOUT_V1.checksumOffset));
}

export function stateWord(escapedPresent: boolean, retired: boolean, v1Count?: number): number {
  return ((v1Count ?? 0) | (escapedPresent ? STATE_ESCAPED : 0) | (retired ? STATE_RETIRED : 0)) >>> 0;
}

/** §14: version 1's packed dirty word. */
export function dirtyWordV1(first: number, blocks: number): number {
  return blocks === 0 ? 0 : ((first | (blocks << DIRTY_V1_FIRST_BITS)) >>> 0);
}

export interface NewHeader {
  capacity: number;
  slotCount: number;
  entries: number;
  escapedPresent: boolean;
  /** The escaped key's value: its low 32 bits, and (64-bit values, §16.2) its high 32. */
  escapedValue: number;
  escapedHigh?: number;
  reach: number;
  /** LAYOUT_V2 (the default) or a version 3 layout of layoutFor(). */
  layout?: Layout;
}

/** §7 step 7: the header of a freshly written file (version 2, or 3: §16.2), into the first 128 bytes of `out`. */
export function writeHeader(out: Uint8Array, h: NewHeader): void {
  const layout = h.layout ?? LAYOUT_V2;
  const v = new DataView(out.buffer, out.byteOffset, layout.headerBytes);
  out.fill(0, 0, layout.headerBytes);
  out.set(MAGIC, 0);
  v.setUint16(MAJOR_OFFSET, layout.major, true);
  v.setUint16(MINOR_OFFSET, VERSION_MINOR, true);
  setUint64(v, layout.capacityOffset, h.capacity);
  setUint64(v, layout.slotCountOffset, h.slotCount);
  if (layout.major === 3) {
    out[KEY_BITS_OFFSET] = layout.keyBits;
    out[VALUE_BITS_OFFSET] = layout.valueBits;
  }
  v.setUint32(layout.checksumOffset, layout.major === 3 ? headerChecksumV3(out) : headerChecksumV2(out), true);
  const words: [number, number][] = [
    [CELL_STATE, stateWord(h.escapedPresent, false)],
    [CELL_ESCAPED, h.escapedValue],
    [CELL_SEQ, 0],
    [CELL_ENTRIES, h.entries % 2 ** 32],
    [CELL_REACH, h.reach],
    [CELL_DIRTY_FIRST, 0],
    [CELL_DIRTY_COUNT, 0],
    [CELL_RESERVED, layout.major === 3 ? h.escapedHigh ?? 0 : 0],
  ];
  if (layout.major === 3) words.push([CELL_ENTRIES_HIGH, Math.floor(h.entries / 2 ** 32)], [CELL_RESERVED_V3, 0]);
  for (const [offset, word] of words) {
    v.setUint32(offset, word >>> 0, true);
    v.setUint32(offset + 4, cellCheck(offset, word), true);
  }
}

function setUint64(v: DataView, offset: number, n: number): void {
  v.setUint32(offset, n % 2 ** 32, true);
  v.setUint32(offset + 4, Math.floor(n / 2 ** 32), true);
}

/**
 * A u64 header field, exactly (§9.1 rules 7 and 8 compare them as integers: a double rounds
 * 2^64 - 1 and 2^64 - 2 to the same number): a number below 2^53, where a double is exact, a
 * bigint from there (JavaScript compares and prints a bigint and a number exactly). Opening
 * stays free of bigint allocations for every file the format allows.
 */
function getCount(v: DataView, offset: number, bytes: 4 | 8): number | bigint {
  const low = v.getUint32(offset, true);
  const high = bytes === 4 ? 0 : v.getUint32(offset + 4, true);
  return high < 2 ** 21 ? low + high * 2 ** 32 : BigInt(low) | (BigInt(high) << 32n);
}

/**
 * A private copy of a header that a writer may be changing: each cell is read with one 8-byte
 * load, as it is written with one 8-byte store, so no cell is seen half old and half new.
 */
export function snapshotHeader(bytes: Uint8Array): Uint8Array {
  const n = Math.min(bytes.length, MAX_HEADER_BYTES);
  const copy = new Uint8Array(MAX_HEADER_BYTES);
  copy.set(bytes.subarray(0, Math.min(n, CELL_STATE)));
  if (n <= CELL_STATE) return copy;
  const cells = Math.floor((n - CELL_STATE) / 8);
  if ((bytes.byteOffset & 7) !== 0 || cells === 0) {
    copy.set(bytes.subarray(CELL_STATE, n), CELL_STATE); // not a mapping: nobody writes it
    return copy;
  }
  const from = new BigUint64Array(bytes.buffer, bytes.byteOffset + CELL_STATE, cells);
  const to = new BigUint64Array(copy.buffer, CELL_STATE, cells);
  for (let i = 0; i < cells; i++) to[i] = Atomics.load(from, i);
  copy.set(bytes.subarray(CELL_STATE + cells * 8, n), CELL_STATE + cells * 8);
  return copy;
}

export function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

const REBUILD = "Rebuild the index from its source pairs (or restore a good copy).";
const CUT_SHORT = "The file was cut short (an interrupted copy or download); rebuild it or copy it again.";

/**
 * Applies the open-time rules of §9.1 (1 to 9; rule 10, the sentinel, reads a slot: see
 * checkSentinel) to a file of `size` bytes whose first bytes are `bytes` (at least
 * min(size, 128) of them; a live mapping's header should go through snapshotHeader first).
 * Throws an IdxError naming `path` for the first rule broken.
 */
export function readHeader(bytes: Uint8Array, size: number, path: string): Header {
  const fail = (code: IdxErrorCode, what: string, hint: string): never => {
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
  if (size < 12) fail("ERR_IDX_TRUNCATED", `is truncated: ${size} bytes, too short to hold the format version`, CUT_SHORT);
  const v = new DataView(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, MAX_HEADER_BYTES));
  const major = v.getUint16(MAJOR_OFFSET, true);
  const minor = v.getUint16(MINOR_OFFSET, true);
  if (major > VERSION_MAJOR_WIDE) {
    fail("ERR_IDX_UNSUPPORTED_VERSION", `uses format version ${major}.${minor}; this idx reads versions 1, 2 and 3 only`,
      "Upgrade idx to open it, or rebuild the index with this version.");
  }
  if (major === 0) fail("ERR_IDX_CORRUPT", `has format version ${major}.${minor}, which no idx has written`, `The header is damaged. ${REBUILD}`);
  // Version 3's cells and sizes are the same for every width (the widths are read below, once
  // the checksum has shown they are what was written).
  let layout = major === 1 ? LAYOUT_V1 : major === 3 ? LAYOUTS_V3["64/64"] : LAYOUT_V2;
  if (size < layout.headerBytes) {
    fail("ERR_IDX_TRUNCATED", `is truncated: ${size} bytes, shorter than the ${layout.headerBytes}-byte header of a version ${major} index`, CUT_SHORT);
  }
  const storedChecksum = v.getUint32(layout.checksumOffset, true);
  const actualChecksum = major === 1 ? headerChecksumV1(bytes) : major === 3 ? headerChecksumV3(bytes) : headerChecksumV2(bytes);
  if (storedChecksum !== actualChecksum) {
    fail("ERR_IDX_CHECKSUM", `header checksum mismatch (stored 0x${hex8(storedChecksum)}, computed 0x${hex8(actualChecksum)})`,
      `The header bytes changed after they were written. ${REBUILD}`);
  }
  for (const offset of layout.cells) {
    const word = v.getUint32(offset, true);
    const check = v.getUint32(offset + 4, true);
    if (check !== cellCheck(offset, word)) {
      fail("ERR_IDX_CHECKSUM", `header cell at offset ${offset} fails its check (word 0x${hex8(word)}, check 0x${hex8(check)})`,
        `The header bytes changed after they were written. ${REBUILD}`);
    }
  }
  if (major === 3) {
    // §16.7 rule 6a: the widths, under the checksum just checked.
    const keyBits = bytes[KEY_BITS_OFFSET];
    const valueBits = bytes[VALUE_BITS_OFFSET];
    if ((keyBits !== 32 && keyBits !== 64) || (valueBits !== 32 && valueBits !== 64) || (keyBits === 32 && valueBits === 32)) {
      fail("ERR_IDX_CORRUPT", `has an invalid header: key and value widths ${keyBits} and ${valueBits} bits (a version 3 file has 32 or 64 each, not both 32)`, REBUILD);
    }
    layout = layoutFor(keyBits as Width, valueBits as Width);
  }
  // §9.1 rules 7 and 8 on the u64 fields as integers, before anything uses them as numbers.
  const capacity = getCount(v, layout.capacityOffset, layout.countBytes);
  const slotCount = getCount(v, layout.slotCountOffset, layout.countBytes);
  const corrupt = (what: string): never => fail("ERR_IDX_CORRUPT", `has an invalid header: ${what}`, REBUILD);
  if (capacity < 1) corrupt("capacity is 0");
  if (slotCount <= capacity) corrupt(`slot count ${slotCount} is not above capacity ${capacity}`);
  if (slotCount > layout.maxSlotCount) {
    fail("ERR_IDX_TOO_LARGE", `declares ${slotCount} slots, more than the ${layout.maxSlotCount} a version ${major} file can hold`,
      `The header is damaged or the file was written by an incompatible tool. ${REBUILD}`);
  }
  const state = v.getUint32(CELL_STATE, true);
  const escapedPresent = (state & STATE_ESCAPED) !== 0;
  let h: Header;
  if (major === 1) {
    const dirty = v.getUint32(CELL_DIRTY_V1, true);
    const count = state & STATE_V1_COUNT_MASK;
    h = {
      layout, major, minor, capacity: Number(capacity), slotCount: Number(slotCount),
      entries: count - (escapedPresent ? 1 : 0), escapedPresent, retired: (state & STATE_RETIRED) !== 0,
      escapedValue: v.getUint32(CELL_ESCAPED, true), seq: v.getUint32(CELL_SEQ, true),
      reach: Number(slotCount) - 1,
      dirtyFirst: dirty & DIRTY_V1_FIRST_MASK, dirtyCount: dirty >>> DIRTY_V1_FIRST_BITS,
      stateWord: state, reservedCell: 0, escapedHigh: 0, keyBits: 32, valueBits: 32,
    };
  } else {
    const wide = major === 3;
    h = {
      layout, major, minor, capacity: Number(capacity), slotCount: Number(slotCount),
      entries: v.getUint32(CELL_ENTRIES, true) + (wide ? v.getUint32(CELL_ENTRIES_HIGH, true) * 2 ** 32 : 0),
      escapedPresent, retired: (state & STATE_RETIRED) !== 0,
      escapedValue: v.getUint32(CELL_ESCAPED, true), seq: v.getUint32(CELL_SEQ, true),
      reach: v.getUint32(CELL_REACH, true),
      dirtyFirst: v.getUint32(CELL_DIRTY_FIRST, true), dirtyCount: v.getUint32(CELL_DIRTY_COUNT, true),
      stateWord: state, reservedCell: v.getUint32(layout.reservedCellOffset, true),
      escapedHigh: wide ? v.getUint32(CELL_ESCAPED_HIGH, true) : 0, keyBits: layout.keyBits, valueBits: layout.valueBits,
    };
  }
  const expected = fileBytes(layout, h.slotCount);
  if (size < expected) fail("ERR_IDX_TRUNCATED", `is truncated: ${size} bytes, but its header describes ${expected}`, CUT_SHORT);
  if (size > expected) {
    fail("ERR_IDX_CORRUPT", `is ${size} bytes, but its header describes ${expected} (${size - expected} bytes too many)`,
      "Something was appended to the file; rebuild it or copy it again.");
  }
  if (major === 1) {
    if (h.entries > h.slotCount - 1 || h.entries < 0) {
      corrupt(`count ${state & STATE_V1_COUNT_MASK} does not fit in ${h.slotCount} slots`);
    }
    const dirty = v.getUint32(CELL_DIRTY_V1, true);
    if (h.dirtyCount === 0 && dirty !== 0) corrupt(`dirty cell 0x${hex8(dirty)} names a first block but no blocks`);
  } else {
    if (h.entries > h.slotCount - 1) corrupt(`${h.entries} entries do not fit in ${h.slotCount} slots`);
    if (h.reach > h.slotCount - 1) corrupt(`reach ${h.reach} is beyond the ${h.slotCount} slots`);
  }
  const blocks = blockCount(h.slotCount, layout.slotsPerBlock);
  if (h.dirtyCount > 0 && h.dirtyFirst + h.dirtyCount > blocks) {
    corrupt(`dirty block range ${h.dirtyFirst}+${h.dirtyCount} is outside the ${blocks} blocks`);
  }
  return h;
}

/** How many bytes of the last slot checkSentinel reads: its hash word at the key width (§16.7). */
export function sentinelBytes(layout: Layout): number {
  return layout.keyBits / 8;
}

/**
 * §9.1 rule 10: the lookup loop stops inside the table only because the last slot is empty.
 * `last` holds the last slot's hash word (sentinelBytes(layout) bytes, little-endian).
 */
export function checkSentinel(last: Uint8Array, layout: Layout, path: string): void {
  const v = new DataView(last.buffer, last.byteOffset, sentinelBytes(layout));
  const low = v.getUint32(0, true);
  const high = layout.keyBits === 64 ? v.getUint32(4, true) : EMPTY_HASH;
  if (low !== EMPTY_HASH || high !== EMPTY_HASH) {
    const word = layout.keyBits === 64 ? high.toString(16).padStart(8, "0") + low.toString(16).padStart(8, "0") : low.toString(16);
    throw new IdxError("ERR_IDX_CORRUPT", `its last slot is not empty (hash word 0x${word})`, {
      path, hint: `The table is damaged. ${REBUILD}`,
    });
  }
}

/** The file offset of slot `s`'s hash word. */
export function slotOffset(layout: Layout, s: number): number {
  return layout.headerBytes + s * layout.slotBytes;
}
