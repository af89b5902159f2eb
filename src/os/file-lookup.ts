/**
 * Lookups by reading the file (pread) instead of mapping it. For a process that asks a few
 * questions and exits (`idx get FILE KEY`), mapping costs more than answering: loading the
 * addon alone takes longer than a lookup here, which is three small reads. Same validation as
 * IdIndex.open, same probe (spec/FORMAT.md §5.3, bounded by the reach), same protocol beside a
 * writer (§11.7, core/protocol.ts). Needs no addon.
 */
import * as fs from "node:fs";
import { IdxError, ioError } from "../core/errors";
import {
  CELL_ESCAPED, CELL_REACH, CELL_SEQ, CELL_STATE, EMPTY_HASH, Header, MAGIC, MAX_HEADER_BYTES, SLOT_BYTES, SLOT_WORDS,
  STATE_ESCAPED, STATE_RETIRED, checkSentinel, readHeader, slotOffset,
} from "../core/format";
import { hash32, homeSlot } from "../core/hash";
import { FOLLOW_EVERY_MS, ProtocolReader, StallClock, quiet, settle, stableHeader } from "../core/protocol";
import { NO_PREVIOUS, isEntry } from "../core/table";
import { openRegularFile } from "./mapping";

/** Slots read per pread: one 512-byte window holds a whole probe run at the builder's load. */
const WINDOW_SLOTS = 64;

export class FileLookup {
  readonly path: string;
  #fd: number;
  #header: Header;
  #ino: number;
  #dev: number;
  #reach: number;
  #lastFollow = -Infinity;
  readonly #window = new Uint32Array(WINDOW_SLOTS * SLOT_WORDS);
  readonly #bytes = new Uint8Array(this.#window.buffer);
  readonly #word = new Uint32Array(1);
  readonly #wordBytes = new Uint8Array(this.#word.buffer);
  readonly #clock = new StallClock();
  readonly #protocol: ProtocolReader;

  private constructor(path: string, fd: number, header: Header, stat: fs.Stats) {
    this.path = path;
    this.#fd = fd;
    this.#header = header;
    this.#ino = stat.ino;
    this.#dev = stat.dev;
    this.#reach = header.reach;
    this.#protocol = {
      seq: () => this.#read(CELL_SEQ),
      retired: () => (this.#read(CELL_STATE) & STATE_RETIRED) !== 0,
      follow: () => this.#follow(),
    };
  }

  /** Validates `path` exactly as IdIndex.open does. Throws the same IdxErrors. */
  static open(path: string): FileLookup {
    const { fd, stat } = openRegularFile(path, false);
    try {
      const n = Math.min(stat.size, MAX_HEADER_BYTES);
      const read = () => {
        const head = new Uint8Array(MAX_HEADER_BYTES);
        readFully(fd, head, 0, n, path);
        return head;
      };
      const seqOf = () => {
        const word = new Uint8Array(4);
        readFully(fd, word, CELL_SEQ, 4, path);
        return new DataView(word.buffer).getUint32(0, true);
      };
      let head = read();
      if (n >= CELL_SEQ + 4 && MAGIC.every((b, i) => head[i] === b)) head = stableHeader(read, seqOf);
      const header = readHeader(head, stat.size, path);
      const last = new Uint8Array(4);
      readFully(fd, last, slotOffset(header.layout, header.slotCount - 1), 4, path);
      checkSentinel(new DataView(last.buffer).getUint32(0, true), path);
      return new FileLookup(path, fd, header, stat);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  get(key: number): number | undefined {
    const hash = hash32(key);
    const s1 = this.#read(CELL_SEQ);
    const value = this.#probe(hash);
    const s2 = this.#read(CELL_SEQ);
    if (quiet(s1, s2)) return value;
    return settle(this.#protocol, () => this.#probe(hash), s1, s2, value, this.#clock);
  }

  #probe(hash: number): number | undefined {
    if (hash === EMPTY_HASH) {
      const state = this.#read(CELL_STATE);
      return (state & STATE_ESCAPED) !== 0 ? this.#read(CELL_ESCAPED) : undefined;
    }
    for (;;) {
      const answer = this.#scan(hash);
      if (answer !== UNDECIDED) return answer;
      // The scan used up its reach: a writer may have raised it since (version 2), or the file
      // records none (version 1: measured, once, by reading the slots).
      const h = this.#header;
      const reach = h.major === 2 ? Math.min(this.#read(CELL_REACH), h.slotCount - 1) : measureReachOf(this.#fd, h, this.path);
      if (reach <= this.#reach) return undefined;
      this.#reach = reach;
    }
  }

  /** §5.3 by pread: the value, undefined for absent, or UNDECIDED when the reach ran out. */
  #scan(hash: number): number | undefined | typeof UNDECIDED {
    const h = this.#header;
    let slot = homeSlot(hash, h.capacity);
    const last = Math.min(slot + this.#reach, h.slotCount - 1);
    for (;;) {
      const n = Math.min(WINDOW_SLOTS, last - slot + 1);
      readFully(this.#fd, this.#bytes, slotOffset(h.layout, slot), n * SLOT_BYTES, this.path);
      const w = this.#window;
      for (let i = 0; i < n * SLOT_WORDS; i += SLOT_WORDS) {
        if (w[i] < hash) continue;
        return w[i] === hash ? w[i + 1] : undefined;
      }
      slot += n;
      if (slot > last) return UNDECIDED;
    }
  }

  /** One header word, read from the file now. */
  #read(offset: number): number {
    readFully(this.#fd, this.#wordBytes, offset, 4, this.path);
    return this.#word[0];
  }

  /** §11.7 follow(): opens the file now at the path, if it is another one than ours. */
  #follow(): boolean {
    const t = performance.now();
    if (t - this.#lastFollow < FOLLOW_EVERY_MS) return false;
    this.#lastFollow = t;
    let next: FileLookup;
    try {
      const st = fs.statSync(this.path);
      if (st.ino === this.#ino && st.dev === this.#dev) return false;
      next = FileLookup.open(this.path);
    } catch {
      return false; // no replacement yet, or not readable yet: keep answering from this file
    }
    fs.closeSync(this.#fd);
    this.#fd = next.#fd;
    this.#header = next.#header;
    this.#ino = next.#ino;
    this.#dev = next.#dev;
    this.#reach = next.#reach;
    return true;
  }

  close(): void {
    fs.closeSync(this.#fd);
  }
}

const UNDECIDED = Symbol("undecided");

/** §14: the largest slot - home over a version 1 file's entries, read in 1 MiB pieces. */
function measureReachOf(fd: number, h: Header, path: string): number {
  const piece = new Uint32Array((1 << 20) / 4);
  const bytes = new Uint8Array(piece.buffer);
  let reach = 0;
  let previous = NO_PREVIOUS;
  for (let first = 0; first < h.slotCount; first += piece.length / SLOT_WORDS) {
    const n = Math.min(piece.length / SLOT_WORDS, h.slotCount - first);
    readFully(fd, bytes, slotOffset(h.layout, first), n * SLOT_BYTES, path);
    for (let i = 0; i < n; i++) {
      const hash = piece[i * SLOT_WORDS];
      if (isEntry(previous, hash)) reach = Math.max(reach, first + i - homeSlot(hash, h.capacity));
      previous = hash;
    }
  }
  return Math.min(reach + 1, h.slotCount - 1);
}

/** Reads exactly `length` bytes at `position`, or throws: a file shorter than its header says. */
export function readFully(fd: number, into: Uint8Array, position: number, length: number, path: string): void {
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = fs.readSync(fd, into, done, length - done, position + done);
    } catch (e) {
      throw ioError("read the index", path, e);
    }
    if (n === 0) throw new IdxError("ERR_IDX_TRUNCATED", "is shorter than its header says (was it cut short while being read?)", { path });
    done += n;
  }
}
