/**
 * Rehash (spec/FORMAT.md §11.5): a writer's table rewritten into a new file at a new capacity,
 * streamed in slot order (the slots are already sorted by hash, so nothing is sorted and memory
 * stays bounded at any size); replace.ts then swaps it in (§11.4, §11.1). The entries come from the slots, never from the header's
 * count, and every block is checked against its checksum as it is read: a writer does not
 * carry damage into a new file.
 */
import { Problems, blockBytes, checkBlocks, checkTable, escapedValueOf, storedChecksum } from "../core/checks";
import { crc32 } from "../core/crc32";
import { IdxError } from "../core/errors";
import { SortedRecords, compareRecordHashes, keepLastOfEqualRecords, sortRecordsByHash } from "../core/encode";
import { ESCAPED_KEY, ESCAPED_KEY_64, Header, Layout, SLOT_WORDS, SLOTS_PER_BLOCK, hex8 } from "../core/format";
import { hash64Into, unhash32 } from "../core/hash";
import { bigOf } from "../core/keys";
import { SlotRegion, Word, hashAtWord, high32, low32 } from "../core/slots";
import { NO_PREVIOUS, getRecord, isEntry } from "../core/table";
import { TempFile, writeTempFileWith } from "../os/atomic-file";
import { PairBuffer } from "../core/pairs";
import { TableFileWriter } from "../os/table-file";
import { damaged } from "./operation";

/** Entries to merge into the table: hashes sorted and distinct, with their values (a later pair's). */
export interface SortedBatch {
  hashes: Uint32Array;
  values: Uint32Array;
  length: number;
  /** The escaped key's value, if the batch sets it. */
  escaped?: number;
}

const NO_BATCH: SortedBatch = { hashes: new Uint32Array(0), values: new Uint32Array(0), length: 0 };
const CHUNK = 1 << 16;

/**
 * Calls `visit(hashes, values, n)` with the table's entries in slot order, in chunks, after
 * checking each block's checksum (the file holds no dirty blocks after recovery).
 */
function forEachEntryChunk(region: SlotRegion, checksums: Uint8Array, path: string, visit: (h: Uint32Array, v: Uint32Array, n: number) => void): void {
  const hashes = new Uint32Array(CHUNK);
  const values = new Uint32Array(CHUNK);
  let n = 0;
  let previous = NO_PREVIOUS;
  const blocks = Math.ceil(region.slotCount / SLOTS_PER_BLOCK);
  for (let b = 0; b < blocks; b++) {
    const bytes = checkedBlock(region, checksums, b, path);
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    for (let i = 0; i < words.length; i += SLOT_WORDS) {
      const hash = words[i];
      if (isEntry(previous, hash)) {
        hashes[n] = hash;
        values[n] = words[i + 1];
        if (++n === CHUNK) {
          visit(hashes, values, n);
          n = 0;
        }
      }
      previous = hash;
    }
  }
  if (n > 0) visit(hashes, values, n);
}

/**
 * The entries of the table merged with `batch` (the batch's value wins), in hash order, in
 * chunks. Calls `visit` with each chunk; returns nothing.
 */
function forEachMerged(
  region: SlotRegion, checksums: Uint8Array, path: string, batch: SortedBatch,
  visit: (h: Uint32Array, v: Uint32Array, n: number) => void,
): void {
  if (batch.length === 0) return forEachEntryChunk(region, checksums, path, visit);
  const outH = new Uint32Array(CHUNK * 2);
  const outV = new Uint32Array(CHUNK * 2);
  let j = 0; // next batch entry
  forEachEntryChunk(region, checksums, path, (h, v, n) => {
    let o = 0;
    for (let i = 0; i < n; i++) {
      while (j < batch.length && batch.hashes[j] < h[i]) {
        outH[o] = batch.hashes[j];
        outV[o++] = batch.values[j++];
        if (o >= CHUNK) {
          visit(outH, outV, o);
          o = 0;
        }
      }
      if (j < batch.length && batch.hashes[j] === h[i]) {
        outH[o] = h[i];
        outV[o++] = batch.values[j++];
      } else {
        outH[o] = h[i];
        outV[o++] = v[i];
      }
      if (o >= CHUNK) {
        visit(outH, outV, o);
        o = 0;
      }
    }
    if (o > 0) visit(outH, outV, o);
  });
  if (j < batch.length) visit(batch.hashes.subarray(j, batch.length), batch.values.subarray(j, batch.length), batch.length - j);
}

/**
 * The whole check of §9.2 (checksums and every invariant of §5.2) before a rehash, which reads
 * every slot anyway: a table that breaks a rule is not carried into a new file that would pass.
 */
export function refuseDamage(region: SlotRegion, checksums: Uint8Array, header: Header, path: string): void {
  const problems = new Problems(1);
  if (checkBlocks(region, checksums, header, problems) >= 0) {
    throw new IdxError("ERR_IDX_CHECKSUM", `${problems.list[0].message}; the index was not rewritten`, {
      path, offset: problems.list[0].offset,
      hint: "Run `idx verify` to see all damage; recover what is readable with `idx dump` and rebuild.",
    });
  }
  checkTable(region, header, problems);
  if (problems.list.length > 0) throw damaged(path, `${problems.list[0].message}; the index was not rewritten`);
}

/**
 * Writes the table (merged with `batch`) into a new version 2 file beside `target`, at the
 * capacity `capacityFor(entries)` gives. Two passes over the slots: one counts (the capacity
 * depends on the count), one places. Returns the temp file, complete and synced.
 */
export function rehashInto(
  target: string, region: SlotRegion, checksums: Uint8Array, header: Header,
  capacityFor: (entries: number) => number, sync: boolean, batch: SortedBatch = NO_BATCH,
): TempFile {
  refuseDamage(region, checksums, header, target);
  let entries = 0;
  forEachMerged(region, checksums, target, batch, (_h, _v, n) => {
    entries += n;
  });
  const escaped = batch.escaped ?? (header.escapedPresent ? header.escapedValue : undefined);
  return writeTempFileWith(target, sync, (fd) => {
    const writer = new TableFileWriter(fd, target, capacityFor(entries));
    forEachMerged(region, checksums, target, batch, (h, v, n) => writer.add(h, v, 0, n));
    writer.finish(escaped);
  });
}

// ---- version 3 (§16): 16-byte slots, and widening ----

const NO_RECORDS: SortedRecords = { records: new Uint32Array(0), length: 0 };

/**
 * Calls `visit(records, n)` with the table's entries in slot order, as four-word records
 * (hash low, high, value low, high: core/table.ts getRecord), in chunks, after checking each
 * block's checksum: from a table of any version and widths.
 */
function forEachRecordChunk(region: SlotRegion, checksums: Uint8Array, path: string, visit: (records: Uint32Array, n: number) => void): void {
  const records = new Uint32Array(CHUNK * 4);
  const sw = region.slotWords;
  let n = 0;
  let previous: Word = region.empty;
  const blocks = Math.ceil(region.slotCount / region.slotsPerBlock);
  const shape = { slotWords: sw, valueOffset: region.valueOffset, keyBits: region.wideKeys ? 64 : 32, valueBits: region.wideValues ? 64 : 32 } as const;
  for (let b = 0; b < blocks; b++) {
    const bytes = checkedBlock(region, checksums, b, path);
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    for (let i = 0; i < words.length; i += sw) {
      const hash = hashAtWord(words, i, region.wideKeys);
      if (isEntry(previous, hash, region.empty)) {
        getRecord(words, i, shape, records, n);
        if (++n === CHUNK) {
          visit(records, n);
          n = 0;
        }
      }
      previous = hash;
    }
  }
  if (n > 0) visit(records, n);
}

/** A block's bytes after its checksum was checked: a writer carries no damage into a new file. */
function checkedBlock(region: SlotRegion, checksums: Uint8Array, b: number, path: string): Uint8Array {
  const bytes = blockBytes(region, b);
  const actual = crc32(bytes);
  const stored = storedChecksum(checksums, b);
  if (actual !== stored) {
    throw new IdxError("ERR_IDX_CHECKSUM",
      `block ${b} fails its checksum (stored 0x${hex8(stored)}, computed 0x${hex8(actual)}); the index was not rewritten`, {
        path, hint: "Run `idx verify` to see all damage; recover what is readable with `idx dump` and rebuild.",
      });
  }
  return bytes;
}

/** forEachRecordChunk merged with `batch` (the batch's record wins on an equal hash), in hash order. */
function forEachMergedRecords(
  region: SlotRegion, checksums: Uint8Array, path: string, batch: SortedRecords, visit: (records: Uint32Array, n: number) => void,
): void {
  if (batch.length === 0) return forEachRecordChunk(region, checksums, path, visit);
  const out = new Uint32Array(CHUNK * 2 * 4);
  let j = 0;
  forEachRecordChunk(region, checksums, path, (r, n) => {
    let o = 0;
    const flush = () => {
      if (o >= CHUNK) {
        visit(out, o);
        o = 0;
      }
    };
    for (let i = 0; i < n; i++) {
      while (j < batch.length && compareRecordHashes(batch.records, j, r, i) < 0) {
        out.set(batch.records.subarray(4 * j, 4 * j + 4), 4 * o++);
        j++;
        flush();
      }
      if (j < batch.length && compareRecordHashes(batch.records, j, r, i) === 0) {
        out.set(batch.records.subarray(4 * j, 4 * j + 4), 4 * o++);
        j++;
      } else {
        out.set(r.subarray(4 * i, 4 * i + 4), 4 * o++);
      }
      flush();
    }
    if (o > 0) visit(out, o);
  });
  if (j < batch.length) visit(batch.records.subarray(4 * j, 4 * batch.length), batch.length - j);
}

/**
 * rehashInto for a version 3 `layout` (§16): the table's entries, merged with `batch`, in
 * 16-byte slots; from a table of any version whose key width is the layout's (a wider value
 * width only pads: the hashes and their order stay). Streams, as rehashInto does.
 */
export function rehashIntoWide(
  target: string, region: SlotRegion, checksums: Uint8Array, header: Header, layout: Layout,
  capacityFor: (entries: number) => number, sync: boolean, batch: SortedRecords = NO_RECORDS,
): TempFile {
  if (region.wideKeys !== (layout.keyBits === 64)) throw new RangeError("rehashIntoWide keeps the key width: use widenKeysInto");
  refuseDamage(region, checksums, header, target);
  let entries = 0;
  forEachMergedRecords(region, checksums, target, batch, (_r, n) => {
    entries += n;
  });
  const escaped = batch.escaped ?? (header.escapedPresent ? escapedValueOf(header) : undefined);
  return writeTempFileWith(target, sync, (fd) => {
    const writer = new TableFileWriter(fd, target, capacityFor(entries), layout);
    forEachMergedRecords(region, checksums, target, batch, (r, n) => writer.addRecords(r, 0, n));
    writer.finish(escaped);
  });
}

/**
 * §16.5: a table of 32-bit keys rewritten with 64-bit keys: every key hashed again with hash64,
 * which orders them anew, so the entries are gathered and sorted in memory (16 bytes an entry,
 * twice), with the pairs of `extra` (a later one wins), and written to a version 3 file.
 */
export function widenKeysInto(
  target: string, region: SlotRegion, checksums: Uint8Array, header: Header, layout: Layout,
  capacityFor: (entries: number) => number, sync: boolean, extra: PairBuffer,
): TempFile {
  refuseDamage(region, checksums, header, target);
  let records = new Uint32Array(Math.max(4, (header.entries + extra.length + 2) * 4));
  let n = 0;
  const keyHalves = new Uint32Array(2);
  const hashHalves = new Uint32Array(2);
  const add = (keyLow: number, keyHigh: number, valueLow: number, valueHigh: number) => {
    if ((n + 1) * 4 > records.length) {
      const grown = new Uint32Array(records.length * 2);
      grown.set(records);
      records = grown;
    }
    hash64Into(keyHigh, keyLow, hashHalves);
    records[4 * n] = hashHalves[0];
    records[4 * n + 1] = hashHalves[1];
    records[4 * n + 2] = valueLow;
    records[4 * n + 3] = valueHigh;
    n++;
  };
  let escaped: Word | undefined;
  const escapedKey = ESCAPED_KEY_64;
  const addPair = (key: Word, value: Word) => {
    if (bigOf(key) === escapedKey) {
      escaped = value;
      return;
    }
    keyHalves[0] = low32(key);
    keyHalves[1] = high32(key);
    add(keyHalves[0], keyHalves[1], low32(value), high32(value));
  };
  forEachRecordChunk(region, checksums, target, (r, count) => {
    for (let i = 0; i < count; i++) addPair(unhash32(r[4 * i]), r[4 * i + 3] === 0 ? r[4 * i + 2] : (BigInt(r[4 * i + 3]) << 32n) | BigInt(r[4 * i + 2]));
  });
  if (header.escapedPresent) addPair(ESCAPED_KEY, escapedValueOf(header));
  for (let i = 0; i < extra.length; i++) addPair(extra.keyAt(i), extra.valueAt(i));
  const sorted = sortRecordsByHash(records, n, true);
  const unique = keepLastOfEqualRecords(sorted, n);
  return writeTempFileWith(target, sync, (fd) => {
    const writer = new TableFileWriter(fd, target, capacityFor(unique), layout);
    writer.addRecords(sorted, 0, unique);
    writer.finish(escaped);
  });
}
