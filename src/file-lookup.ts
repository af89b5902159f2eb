/**
 * Lookups by reading the file (pread) instead of mapping it. For a process that asks a few
 * questions and exits (`idx get FILE KEY`), mapping costs more than answering: loading the
 * native mmap binding alone takes over a millisecond, while a lookup here is three small reads.
 * Same validation as IdIndex.open, same probe (spec/FORMAT.md §5.3), same guard against a
 * concurrent writer (§11.7): the seq word is read before and after each probe.
 */
import * as fs from "node:fs";
import { openIndexFile } from "./index-file";
import {
  EMPTY_HASH, H, HEADER_BYTES, Header, SLOT_BYTES, SLOT_WORDS, STATE_ESCAPED, STATE_RETIRED,
  checkSentinel, readHeader,
} from "./format";
import { hash32, homeSlot } from "./hash";
import { StallClock } from "./stall";

/** Slots read per pread: one 512-byte window holds a whole probe run at the builder's load. */
const WINDOW_SLOTS = 64;

export class FileLookup {
  readonly path: string;
  #fd: number;
  #header: Header;
  readonly #window = new Uint32Array(WINDOW_SLOTS * SLOT_WORDS);
  readonly #bytes = new Uint8Array(this.#window.buffer);
  readonly #word = new Uint32Array(1);
  readonly #wordBytes = new Uint8Array(this.#word.buffer);
  readonly #stall = new StallClock();

  private constructor(path: string, fd: number, header: Header) {
    this.path = path;
    this.#fd = fd;
    this.#header = header;
  }

  /** Validates `path` exactly as IdIndex.open does. Throws the same IdxErrors. */
  static open(path: string): FileLookup {
    const { fd, stat } = openIndexFile(path, false);
    try {
      const head = new Uint8Array(HEADER_BYTES);
      fs.readSync(fd, head, 0, HEADER_BYTES, 0);
      const header = readHeader(head, stat.size, path);
      const last = new Uint8Array(4);
      fs.readSync(fd, last, 0, 4, HEADER_BYTES + (header.slotCount - 1) * SLOT_BYTES);
      checkSentinel(new DataView(last.buffer).getUint32(0, true), path);
      return new FileLookup(path, fd, header);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  get(key: number): number | undefined {
    for (;;) {
      const seq = this.#read(H.seqCell);
      const value = this.#probe(key);
      const after = this.#read(H.seqCell);
      if (after === seq && (seq & 1) === 0) return value;
      if (after !== seq) continue;
      if ((this.#read(H.stateCell) & STATE_RETIRED) !== 0) {
        if (this.#reopen()) continue;
        return value; // no replacement at the path yet; a retired file no longer changes
      }
      // A writer stalled mid-operation: answer from the table as it stands, if it holds still.
      if (this.#stall.expired(seq) && this.#probe(key) === value) return value;
    }
  }

  #probe(key: number): number | undefined {
    const hash = hash32(key);
    if (hash === EMPTY_HASH) {
      const state = this.#read(H.stateCell);
      return (state & STATE_ESCAPED) !== 0 ? this.#read(H.escapedCell) : undefined;
    }
    const h = this.#header;
    let slot = homeSlot(hash, h.capacity);
    for (;;) {
      const n = Math.min(WINDOW_SLOTS, h.slotCount - slot);
      fs.readSync(this.#fd, this.#bytes, 0, n * SLOT_BYTES, HEADER_BYTES + slot * SLOT_BYTES);
      const w = this.#window;
      for (let i = 0; i < n * SLOT_WORDS; i += SLOT_WORDS) {
        if (w[i] < hash) continue;
        return w[i] === hash ? w[i + 1] : undefined;
      }
      slot += n;
      // The sentinel (checked at open) is EMPTY, so a scan ends before the last slot is passed.
      if (slot >= h.slotCount) return undefined;
    }
  }

  /** One header word, read from the file now. */
  #read(offset: number): number {
    fs.readSync(this.#fd, this.#wordBytes, 0, 4, offset);
    return this.#word[0];
  }

  /** Opens the file now at the path, if it is another one than ours. */
  #reopen(): boolean {
    let next: FileLookup;
    try {
      if (fs.statSync(this.path).ino === fs.fstatSync(this.#fd).ino) return false;
      next = FileLookup.open(this.path);
    } catch {
      return false;
    }
    fs.closeSync(this.#fd);
    this.#fd = next.#fd;
    this.#header = next.#header;
    return true;
  }

  close(): void {
    fs.closeSync(this.#fd);
  }
}
