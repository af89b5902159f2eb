/**
 * Rehash (spec/FORMAT.md §11.5): a writer's table rewritten into a new file at a new capacity,
 * streamed in slot order (the slots are already sorted by hash, so nothing is sorted and memory
 * stays bounded at any size); replace.ts then swaps it in (§11.4, §11.1). The entries come from the slots, never from the header's
 * count, and every block is checked against its checksum as it is read: a writer does not
 * carry damage into a new file.
 */
import { Problems, blockBytes, checkBlocks, checkTable, storedChecksum } from "../core/checks";
import { crc32 } from "../core/crc32";
import { IdxError } from "../core/errors";
import { Header, SLOT_WORDS, SLOTS_PER_BLOCK, hex8 } from "../core/format";
import { SlotRegion } from "../core/slots";
import { NO_PREVIOUS, isEntry } from "../core/table";
import { TempFile, writeTempFileWith } from "../os/atomic-file";
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
    const bytes = blockBytes(region, b);
    const actual = crc32(bytes);
    const stored = storedChecksum(checksums, b);
    if (actual !== stored) {
      throw new IdxError("ERR_IDX_CHECKSUM",
        `block ${b} fails its checksum (stored 0x${hex8(stored)}, computed 0x${hex8(actual)}); the index was not rewritten`, {
          path, hint: "Run `idx verify` to see all damage; recover what is readable with `idx dump` and rebuild.",
        });
    }
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
