/**
 * Stores into the header cells of a mapped file (spec/FORMAT.md §3): each cell is its word and
 * its check, written together in one 8-byte store so that no crash can leave them apart.
 */
import { H, HEADER_BYTES, STATE_RETIRED, W, cellCheck, readHeader } from "./format";
import { mapFile } from "./mmap";

/** Views of a mapped header: its words, and its 8-byte cells. */
export class HeaderCells {
  readonly words: Uint32Array;
  readonly #cells: BigUint64Array;

  constructor(file: Buffer) {
    this.words = new Uint32Array(file.buffer, file.byteOffset, HEADER_BYTES / 4);
    this.#cells = new BigUint64Array(file.buffer, file.byteOffset, HEADER_BYTES / 8);
  }

  write(offset: number, word: number): void {
    Atomics.store(this.#cells, offset / 8, (BigInt(cellCheck(offset, word)) << 32n) | BigInt(word >>> 0));
  }

  /**
   * §11.4: marks the file retired. The odd seq sends readers to their slow path, where they see
   * the mark and look at the path for the new file; no writer touches a retired file again.
   */
  retire(): void {
    this.write(H.stateCell, (this.words[W.state] | STATE_RETIRED) >>> 0);
    this.write(H.seqCell, (this.words[W.seq] | 1) >>> 0);
  }
}

/**
 * Marks the index at `path` retired, if it is one, so its readers follow the path to the file
 * about to replace it (a build or copy over an existing index). The caller holds the writer lock.
 */
export function retireFile(path: string): void {
  let file: Buffer;
  try {
    file = mapFile(path, true).buffer;
    readHeader(file, file.length, path);
  } catch {
    return; // nothing there, or not an index: no reader can be following it
  }
  new HeaderCells(file).retire();
}
