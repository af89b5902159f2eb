/**
 * The operation bracket of spec/FORMAT.md §11.2 around an in-place change of a mapped file:
 * odd seq, dirty blocks and reach, the change, checksums, even seq. Readers wait while seq is
 * odd (§11.7), so nothing slow runs inside: every store and CRC is an addon call with int32
 * arguments (writer/stores.ts: nothing allocated, so no garbage collection starts in there), and
 * the pages the operation writes are made present and writable before seq goes odd (a first
 * write to a page costs a page fault, about 100 us). Before it opens, the blocks about to change
 * are checked against their stored checksums: rewriting a checksum over damage would make it
 * permanent.
 */
import { storedChecksum } from "../core/checks";
import { IdxError } from "../core/errors";
import { CHECKSUM_BYTES, Layout, blockCount, checksumsOffset, hex8, slotOffset } from "../core/format";
import { Mapping } from "../os/mapping";
import { HeaderCells } from "../core/cells";
import { MappingStores } from "./stores";

export class OperationBracket {
  readonly #cells: HeaderCells;
  readonly #stores: MappingStores;
  readonly #checksums: Uint8Array;
  readonly #layout: Layout;
  readonly #slotCount: number;
  readonly #mapping: Mapping;
  readonly #path: string;

  constructor(cells: HeaderCells, stores: MappingStores, checksums: Uint8Array, layout: Layout, slotCount: number, mapping: Mapping, path: string) {
    this.#cells = cells;
    this.#stores = stores;
    this.#checksums = checksums;
    this.#layout = layout;
    this.#slotCount = slotCount;
    this.#mapping = mapping;
    this.#path = path;
  }

  /**
   * Runs `edit`, which changes slots first..last (none when last < first) and cells, inside the
   * bracket. `reach` is the reach the table needs once it is done (§11.3).
   * @throws IdxError ERR_IDX_CHECKSUM (a block about to change is damaged; nothing changed),
   *   ERR_IDX_CORRUPT (the file was truncated or replaced in place under the writer).
   */
  run(first: number, last: number, reach: number, edit: () => void): void {
    if (this.#mapping.state() === 2) throw lostUnderWriter(this.#path);
    const cells = this.#cells;
    const perBlock = this.#layout.slotsPerBlock;
    const blockFirst = Math.floor(first / perBlock);
    const blockLast = last >= first ? Math.floor(last / perBlock) : blockFirst - 1;
    for (let b = blockFirst; b <= blockLast; b++) this.checkBlock(b);
    const stores = this.#stores;
    stores.touchAt(0, this.#layout.headerBytes / 4);
    if (blockLast >= blockFirst) {
      stores.touchAt(this.#slotWord(first), (last - first + 1) * this.#layout.slotWords);
      stores.touchAt(this.#checksumWord(blockFirst), blockLast - blockFirst + 1);
    }
    try {
      // Every store of the operation, cells included, lies between the odd and the even seq: a
      // reader that reads the same even seq before and after reading the header saw no change.
      cells.bumpSeq();
      if (blockLast >= blockFirst) {
        cells.setDirty(blockFirst, blockLast - blockFirst + 1);
        cells.raiseReach(reach);
      }
      edit();
      for (let b = blockFirst; b <= blockLast; b++) this.writeChecksum(b);
      if (blockLast >= blockFirst) cells.clearDirty();
      cells.bumpSeq();
    } catch (e) {
      // The mapping went away under the writer (the file was truncated): say that, not how.
      if (this.#mapping.state() === 2) throw lostUnderWriter(this.#path, e);
      throw e;
    }
    // A store that faulted went to the zero pages put over a lost mapping, not to the file.
    if (this.#mapping.state() === 2) throw lostUnderWriter(this.#path);
  }

  /** Throws ERR_IDX_CHECKSUM when block b's bytes do not match its stored checksum. */
  checkBlock(b: number): void {
    const actual = this.#stores.crcAt(this.#slotWord(b * this.#layout.slotsPerBlock), this.#blockWords(b));
    const stored = storedChecksum(this.#checksums, b);
    if (actual !== stored) {
      const offset = slotOffset(this.#layout, b * this.#layout.slotsPerBlock);
      throw new IdxError("ERR_IDX_CHECKSUM",
        `block ${b} (bytes from ${offset}) fails its checksum (stored 0x${hex8(stored)}, computed 0x${hex8(actual)}): the slots changed after they were written, so the index was not changed`,
        { path: this.#path, offset,
          hint: "Run `idx verify` to see all damage. Recover what is readable with `idx dump FILE > pairs.tsv`, check it, and rebuild with `idx build pairs.tsv -o FILE`." });
    }
  }

  writeChecksum(b: number): void {
    const stores = this.#stores;
    stores.store4At(this.#checksumWord(b), stores.crcAt(this.#slotWord(b * this.#layout.slotsPerBlock), this.#blockWords(b)));
  }

  #slotWord(s: number): number {
    return this.#layout.headerBytes / 4 + s * this.#layout.slotWords;
  }

  #checksumWord(b: number): number {
    return checksumsOffset(this.#layout, this.#slotCount) / 4 + b;
  }

  #blockWords(b: number): number {
    const blockWords = this.#layout.blockBytes / 4;
    return Math.min(blockWords, this.#slotCount * this.#layout.slotWords - b * blockWords);
  }
}

/** The checksum region of a mapped file, as bytes. */
export function checksumRegion(mapping: Mapping, layout: Layout, slotCount: number): Uint8Array {
  return mapping.bytes(checksumsOffset(layout, slotCount), blockCount(slotCount, layout.slotsPerBlock) * CHECKSUM_BYTES);
}

export function lostUnderWriter(path: string, cause?: unknown): IdxError {
  return new IdxError("ERR_IDX_CORRUPT", "the index file was truncated or rewritten in place while it was open for writing; the last change may be lost", {
    path, cause, hint: "Something wrote over the live file. Check it with `idx verify`, rebuild it if it is damaged, and open the writer again.",
  });
}

/** The table breaks a rule of §5.2 where the writer was about to change it: it changes nothing. */
export function damaged(path: string, what: string): IdxError {
  return new IdxError("ERR_IDX_CORRUPT", `the table is damaged: ${what}`, {
    path, hint: "Run `idx verify` to see all damage. Recover what is readable with `idx dump FILE > pairs.tsv`, check it, and rebuild with `idx build pairs.tsv -o FILE`.",
  });
}
