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
  CELL_ESCAPED, CELL_ESCAPED_HIGH, CELL_REACH, CELL_SEQ, CELL_STATE, Header, MAGIC, MAX_HEADER_BYTES,
  STATE_ESCAPED, STATE_RETIRED, checkSentinel, readHeader, sentinelBytes, slotOffset,
} from "../core/format";
import { homeSlot } from "../core/hash";
import { Id, emptyHashOf, hashOfKey, idFromWord, widthOf } from "../core/keys";
import { Word, hashAtWord } from "../core/slots";
import {
  FOLLOW_EVERY_MS, LOCK_TEST_EVERY_MS, NO_DEAD_SEQ, ProtocolReader, SeqSource, StallClock, quiet, settle, stableHeader,
} from "../core/protocol";
import { isEntry } from "../core/table";
import { writerGoneOn } from "./lock";
import { openRegularFile } from "./mapping";

/** Slots read per pread: one 512-byte window holds a whole probe run at the builder's load. */
const WINDOW_SLOTS = 64;

/** How FileLookup reads the file: readFully, or (tests) a scripted writer's view of it. */
export type ReadAt = (fd: number, into: Uint8Array, position: number, length: number, path: string) => void;

export class FileLookup {
  readonly path: string;
  readonly #readAt: ReadAt;
  #fd: number;
  #header: Header;
  #ino: number;
  #dev: number;
  #reach: number;
  /** The header checksum word at open: a rewrite in place with another layout changes it (§11.8). */
  #id: number;
  #dead = NO_DEAD_SEQ;
  #lastFollow = -Infinity;
  #lastLockTest = -Infinity;
  readonly #window = new Uint32Array(WINDOW_SLOTS * 4);
  readonly #bytes = new Uint8Array(this.#window.buffer);
  readonly #word = new Uint32Array(1);
  readonly #head = new Uint32Array(16);
  readonly #headBytes = new Uint8Array(this.#head.buffer);
  readonly #wordBytes = new Uint8Array(this.#word.buffer);
  readonly #clock = new StallClock();
  readonly #protocol: ProtocolReader;

  private constructor(path: string, fd: number, header: Header, stat: fs.Stats, readAt: ReadAt) {
    this.path = path;
    this.#readAt = readAt;
    this.#fd = fd;
    this.#header = header;
    this.#ino = stat.ino;
    this.#dev = stat.dev;
    this.#reach = header.reach;
    this.#id = this.#read(header.layout.checksumOffset);
    this.#protocol = {
      seq: () => this.#read(CELL_SEQ),
      dead: () => this.#dead,
      writerGone: () => writerGoneOn(this.#fd),
      markDead: (seq) => (this.#dead = seq),
      diverted: () => (this.#read(CELL_STATE) & STATE_RETIRED) !== 0 || this.#rewritten(),
      follow: () => this.#follow(),
    };
  }

  /**
   * Validates `path` exactly as IdIndex.open does. Throws the same IdxErrors. `readAt` is how
   * lookups read the file (tests pass a scripted writer's view). @internal
   */
  static open(path: string, readAt: ReadAt = readFully): FileLookup {
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
      if (n >= CELL_SEQ + 4 && MAGIC.every((b, i) => head[i] === b)) {
        let dead = NO_DEAD_SEQ;
        const file: SeqSource = { seq: seqOf, dead: () => dead, writerGone: () => writerGoneOn(fd), markDead: (s) => (dead = s) };
        head = stableHeader(read, file);
      }
      const header = readHeader(head, stat.size, path);
      const last = new Uint8Array(sentinelBytes(header.layout));
      readFully(fd, last, slotOffset(header.layout, header.slotCount - 1), last.length, path);
      checkSentinel(last, header.layout, path);
      return new FileLookup(path, fd, header, stat, readAt);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** The value of `key` (a number, or a bigint above 2^53 - 1: spec §16), or undefined. */
  get(key: Id): Id | undefined {
    const s1 = this.#read(CELL_SEQ);
    const value = this.#probe(key);
    // The seq and the header checksum word in one read (§11.7: both beside the probe's end).
    const from = this.#header.layout.checksumOffset;
    this.#readAt(this.#fd, this.#headBytes, from, CELL_SEQ + 4 - from, this.path);
    const s2 = this.#head[(CELL_SEQ - from) / 4];
    if (quiet(s1, s2, this.#dead) && this.#head[0] === this.#id) return value;
    return settle(this.#protocol, () => this.#probe(key), s1, s2, value, this.#clock);
  }

  /** §11.8: the header checksum word is not the one read at open: the file was rewritten in place. */
  #rewritten(): boolean {
    return this.#read(this.#header.layout.checksumOffset) !== this.#id;
  }

  /** §5.3 for `key` in the current file (whose widths may differ from the last one's). */
  #probe(key: Id): Id | undefined {
    const layout = this.#header.layout;
    if (widthOf(key) > layout.keyBits) return undefined;
    const hash = hashOfKey(key, layout.keyBits);
    if (hash === emptyHashOf(layout.keyBits)) {
      const state = this.#read(CELL_STATE);
      if ((state & STATE_ESCAPED) === 0) return undefined;
      const low = this.#read(CELL_ESCAPED);
      return layout.valueBits === 64 ? idFromWord((BigInt(this.#read(CELL_ESCAPED_HIGH)) << 32n) | BigInt(low)) : low;
    }
    for (;;) {
      const answer = this.#scan(hash);
      if (answer !== UNDECIDED) return answer;
      // The scan used up its reach: a writer may have raised it since (version 2), or the file
      // records none (version 1: measured, once, by reading the slots).
      const h = this.#header;
      const reach = h.major !== 1 ? Math.min(this.#read(CELL_REACH), h.slotCount - 1) : measureReachOf(this.#fd, h, this.path);
      if (reach <= this.#reach) return undefined;
      this.#reach = reach;
    }
  }

  /** §5.3 by pread: the value, undefined for absent, or UNDECIDED when the reach ran out. */
  #scan(hash: Word): Id | undefined | typeof UNDECIDED {
    const h = this.#header;
    const layout = h.layout;
    const wide = layout.keyBits === 64;
    let slot = typeof hash === "bigint" ? homeSlot(Number(hash >> 32n), h.capacity) : homeSlot(hash, h.capacity);
    const last = Math.min(slot + this.#reach, h.slotCount - 1);
    const sw = layout.slotWords;
    for (;;) {
      const n = Math.min(WINDOW_SLOTS, last - slot + 1);
      this.#readAt(this.#fd, this.#bytes, slotOffset(layout, slot), n * layout.slotBytes, this.path);
      const w = this.#window;
      for (let i = 0; i < n * sw; i += sw) {
        const word = hashAtWord(w, i, wide);
        if (word < hash) continue;
        if (word !== hash) return undefined;
        const v = i + layout.valueOffset;
        return layout.valueBits === 64 ? idFromWord(hashAtWord(w, v, true)) : w[v];
      }
      slot += n;
      if (slot > last) return UNDECIDED;
    }
  }

  /** One header word, read from the file now. */
  #read(offset: number): number {
    this.#readAt(this.#fd, this.#wordBytes, offset, 4, this.path);
    return this.#word[0];
  }

  /**
   * §11.7 follow(): opens the file now at the path, if it is another one than ours or ours was
   * rewritten in place (which never answers again: while the path holds no valid index, this
   * throws). A retired file still at its path whose lock nobody holds is the index (§11.4): its
   * seq is dead.
   */
  #follow(): boolean {
    const rewritten = this.#rewritten();
    const t = performance.now();
    if (!rewritten && t - this.#lastFollow < FOLLOW_EVERY_MS) return false;
    this.#lastFollow = t;
    let next: FileLookup;
    try {
      const st = fs.statSync(this.path);
      if (!rewritten && st.ino === this.#ino && st.dev === this.#dev) {
        if (t - this.#lastLockTest >= LOCK_TEST_EVERY_MS) {
          this.#lastLockTest = t;
          const seq = this.#read(CELL_SEQ);
          if (writerGoneOn(this.#fd)) this.#dead = seq;
        }
        return false;
      }
      next = FileLookup.open(this.path, this.#readAt);
    } catch (e) {
      if (!rewritten) return false; // no replacement yet, or not readable yet: keep answering from this file
      throw new IdxError("ERR_IDX_CORRUPT", "the index file was rewritten in place while it was being read, and cannot be reopened", {
        path: this.path, cause: e,
        hint: "Something wrote over the live file (cp over it, say). Deploy a new index with `idx cp NEW FILE` or a rename (mv).",
      });
    }
    fs.closeSync(this.#fd);
    this.#fd = next.#fd;
    this.#header = next.#header;
    this.#ino = next.#ino;
    this.#dev = next.#dev;
    this.#reach = next.#reach;
    this.#id = next.#id;
    this.#dead = next.#dead;
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
  let previous = 0xffffffff;
  for (let first = 0; first < h.slotCount; first += piece.length / 2) {
    const n = Math.min(piece.length / 2, h.slotCount - first);
    readFully(fd, bytes, slotOffset(h.layout, first), n * 8, path);
    for (let i = 0; i < n; i++) {
      const hash = piece[i * 2];
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
