/**
 * The only module that maps files (through the addon, native/mapping.c), or, without the addon,
 * reads them into memory instead. Readers of the same file share one mapping: opening an index
 * that is already open in this thread costs no mapping, so a process may hold any number of
 * IdIndex objects over a few files without nearing the kernel's limit on mappings.
 */
import * as fs from "node:fs";
import * as nodePath from "node:path";
import { checkPath } from "../core/args";
import { IdxError, ioError } from "../core/errors";
import {
  CELL_SEQ, CELL_STATE, Header, Layout, MAGIC, MAX_HEADER_BYTES, STATE_RETIRED, readHeader, slotOffset,
  snapshotHeader,
} from "../core/format";
import { NO_DEAD_SEQ, SeqSource, StallClock, quietRead, stableHeader, untestedSeq } from "../core/protocol";
import { SEGMENT_SLOTS, SlotRegion, segmentSlots, windowCount, windowEnd } from "../core/slots";
import { writerHolds, writerHoldsLockAt } from "./lock";
import { NativeAddon, nativeAddon } from "./native";

export interface Mapping {
  /** True when the bytes are the file's own pages, so a writer's stores show; false for a copy. */
  readonly live: boolean;
  /** The file's size when it was opened. */
  readonly size: number;
  readonly dev: number;
  readonly ino: number;
  /** The addon's mapping id (0 for a copy): for the addon's loops over it. */
  readonly id: number;
  /** A view of the file's bytes offset .. offset+length-1 (at most 3 GiB at a time). */
  bytes(offset: number, length: number): Uint8Array;
  /** 0 intact; 1 its path names another file now; 2 the file was lost or rewritten in place. */
  state(): 0 | 1 | 2;
  /** Writes a writable mapping's dirty pages to the file and waits: durable on return. */
  sync(path: string): void;
  /**
   * Lets go of the mapping; views of it read zeros (or nothing) from here on. `deferred` hands
   * the unmapping to the addon's thread: a reader following a replaced file does it inside a
   * lookup, and unmapping the last mapping of a deleted file costs milliseconds.
   */
  release(deferred?: boolean): void;
}

export interface MapOptions {
  writable?: boolean;
  /** Read-ahead for scans (verify, dump) instead of the single pages lookups touch. */
  sequential?: boolean;
  /** Share with (and let the watcher watch for) other readers of this file in this thread. */
  shared?: boolean;
}

const MAX_ATTEMPTS = 3;

class NativeMapping implements Mapping {
  readonly live = true;
  #released = false;
  refs = 1;
  key: string | null = null;

  constructor(
    readonly addon: NativeAddon,
    readonly id: number,
    readonly size: number,
    readonly dev: number,
    readonly ino: number,
  ) {}

  bytes(offset: number, length: number): Uint8Array {
    if (length === 0) return new Uint8Array(0);
    let view: [ArrayBuffer, number];
    try {
      view = this.addon.window(this.id, offset, length);
    } catch (e) {
      // Out of memory for the ArrayBuffer V8 makes over the mapping, or a mapping released
      // meanwhile: the caller's open or lookup fails with an IdxError, never a bare one.
      throw new IdxError("ERR_IDX_IO", `cannot view bytes ${offset}..${offset + length - 1} of the mapped index: ${(e as Error).message}`, { cause: e });
    }
    const [ab, byteOffset] = view;
    return new Uint8Array(ab, byteOffset, length);
  }

  state(): 0 | 1 | 2 {
    return this.#released ? 2 : this.addon.state(this.id);
  }

  sync(path: string): void {
    try {
      this.addon.sync(this.id);
    } catch (e) {
      throw ioError("sync the index to disk", path, e);
    }
  }

  release(deferred = false): void {
    if (this.#released || --this.refs > 0) return;
    this.#released = true;
    if (this.key !== null && shared.get(this.key) === this) shared.delete(this.key);
    this.addon.release(this.id, deferred);
  }
}

/**
 * No addon: the file's bytes read into memory at open, whole, between two reads of seq that show
 * no write under way (spec §11.7), so the header and the slots belong together. The copy never
 * changes: a reader of it treats its seq as quiet.
 */
class CopiedFile implements Mapping {
  readonly live = false;
  readonly id = 0;
  #data: Buffer | null;

  constructor(
    fd: number,
    readonly size: number,
    readonly dev: number,
    readonly ino: number,
    readonly path: string,
  ) {
    if (size > COPY_MAX_BYTES) {
      throw new IdxError("ERR_IDX_TOO_LARGE", `is ${size} bytes; without the native addon an index is read into memory whole, and this one does not fit a buffer`, {
        path, hint: "Install idxmap where its addon loads (npm rebuild idxmap), which maps the file instead.",
      });
    }
    const seqOf = () => (size >= CELL_SEQ + 4 ? readAt(fd, CELL_SEQ, 4, path).readUInt32LE(0) : 0);
    // The lock test without flock: /proc/locks (Linux), which a killed writer's lock leaves at once.
    const file = untestedSeq(seqOf);
    file.writerGone = () => writerHolds(ino) === false;
    this.#data = quietRead(() => readAt(fd, 0, size, path), file, {
      retired: (copy) => copy.length >= CELL_SEQ && (copy.readUInt32LE(CELL_STATE) & STATE_RETIRED) !== 0,
      clock: new StallClock(),
      same: (a, b) => a.equals(b),
      attempts: COPY_ATTEMPTS,
      busy: () => {
        throw new IdxError("ERR_IDX_IO", `was changed by a writer during every one of ${COPY_ATTEMPTS} attempts to read it whole`, {
          path, hint: "Without the native addon a reader reads a copy of the whole file; install idxmap where its addon loads (npm rebuild idxmap), or read it when the writer is idle.",
        });
      },
    });
    fs.closeSync(fd);
  }

  bytes(offset: number, length: number): Uint8Array {
    if (this.#data === null) throw new IdxError("ERR_IDX_CLOSED", "the index is closed", { path: this.path });
    return this.#data.subarray(offset, offset + length);
  }

  state(): 0 {
    return 0;
  }

  sync(): void {
    // Nothing to write: a copy is never written back.
  }

  release(): void {
    this.#data = null;
  }
}

/** A copy is one Buffer. */
const COPY_MAX_BYTES = 2 ** 32 - 1;
const COPY_ATTEMPTS = 20;

function readAt(fd: number, position: number, length: number, path: string): Buffer {
  const out = Buffer.allocUnsafeSlow(length);
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = fs.readSync(fd, out, done, Math.min(length - done, 1 << 30), position + done);
    } catch (e) {
      throw ioError("read the index", path, e);
    }
    if (n === 0) throw new IdxError("ERR_IDX_TRUNCATED", "is shorter than when it was opened (it changed while being read)", { path });
    done += n;
  }
  return out;
}

/**
 * Bytes already in memory, seen as a file: an empty file (mmap cannot map 0 bytes, and the open
 * rules refuse it before anything is read), and images verified in memory.
 */
export class BytesFile implements Mapping {
  readonly live = false;
  readonly id = 0;
  readonly dev = 0;
  readonly ino = 0;
  readonly size: number;

  constructor(readonly data: Uint8Array) {
    this.size = data.length;
  }

  bytes(offset: number, length: number): Uint8Array {
    return this.data.subarray(offset, offset + length);
  }

  state(): 0 {
    return 0;
  }

  sync(): void {}

  release(): void {}
}

/** Readers' mappings by path, file and size; each released when its last reader lets go. */
const shared = new Map<string, NativeMapping>();

/**
 * Opens `path` and maps it (or reads it, without the addon). `check` runs with the mapping and
 * the still-open descriptor, for validation that should read the file rather than fault pages
 * in; if it throws, the mapping is released and the error passes through, unless the watcher
 * marked the mapping meanwhile (the path was renamed over, or the file changed): then the path
 * is opened again, as when the file changes size between fstat and the mapping.
 * @throws IdxError ERR_IDX_IO (cannot open, not a regular file, cannot map), or what `check` throws.
 */
export function openMapping(path: string, options: MapOptions, check?: (m: Mapping, fd: number) => void): Mapping {
  const writable = options.writable ?? false;
  for (let attempt = 1; ; attempt++) {
    const { fd, stat } = openRegularFile(path, writable);
    let mapping: Mapping | undefined;
    try {
      const addon = nativeAddon();
      if (stat.size === 0) {
        mapping = new BytesFile(new Uint8Array(0));
        check?.(mapping, fd);
        fs.closeSync(fd);
        return mapping;
      }
      if (addon === null) {
        if (writable) throw new IdxError("ERR_IDX_NO_ADDON", "writing an index needs idx's native addon", { path });
        mapping = new CopiedFile(fd, stat.size, stat.dev, stat.ino, path); // reads it whole, closes fd
        check?.(mapping, -1);
        return mapping;
      }
      mapping = mapNative(addon, path, fd, stat, options);
      check?.(mapping, fd);
      fs.closeSync(fd);
      return mapping;
    } catch (e) {
      // The watcher marked the new mapping while `check` read it: the path names another file
      // now (its zero page may be what `check` refused), or the file changed. Open the path again.
      const superseded = mapping !== undefined && mapping.state() !== 0;
      mapping?.release();
      closeQuietly(fd);
      if ((e as { code?: string }).code !== "EAGAIN" && !superseded) throw e;
      if (attempt < MAX_ATTEMPTS) continue; // it changed between fstat and the mapping, or under the check
      throw new IdxError("ERR_IDX_IO", `the file changed while it was being opened, ${MAX_ATTEMPTS} times in a row: something is writing it in place`, {
        path, cause: e,
        hint: "Wait for the copy or write to finish. To deploy a new index under live readers, use `idx cp NEW FILE` or a rename (mv), never cp over it.",
      });
    }
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // closed already (an empty file's path closes it before its check runs)
  }
}

function mapNative(addon: NativeAddon, path: string, fd: number, stat: fs.Stats, options: MapOptions): NativeMapping {
  const key = options.shared && !options.writable
    ? `${nodePath.resolve(path)}\0${stat.dev}\0${stat.ino}\0${stat.size}\0${options.sequential ? 1 : 0}`
    : null;
  if (key !== null) {
    const existing = shared.get(key);
    if (existing !== undefined && existing.state() === 0) {
      existing.refs++;
      return existing;
    }
  }
  let id: number;
  try {
    id = addon.map(fd, stat.size, options.writable ?? false, options.sequential ?? false);
  } catch (e) {
    if ((e as { code?: string }).code === "EAGAIN") throw e;
    throw ioError("map the index into memory", path, e, (e as { code?: string }).code === "ENOMEM"
      ? "Each open index file is a mapping, and the kernel allows a limited number (vm.max_map_count): close indexes you no longer use."
      : undefined);
  }
  const mapping = new NativeMapping(addon, id, stat.size, stat.dev, stat.ino);
  if (key !== null) {
    mapping.key = key;
    shared.set(key, mapping);
    addon.watch(id, nodePath.resolve(path));
  }
  return mapping;
}

/**
 * Opens `path` and checks it is a regular file. The caller owns the descriptor.
 * @throws IdxError ERR_IDX_IO naming the path (missing, unreadable, a directory...).
 */
export function openRegularFile(path: string, writable: boolean): { fd: number; stat: fs.Stats } {
  checkPath("the path", path);
  let fd: number;
  try {
    // Non-blocking: opening a named pipe for reading would wait for a writer to appear. It is
    // refused below; a regular file reads the same either way.
    fd = fs.openSync(path, (writable ? fs.constants.O_RDWR : fs.constants.O_RDONLY) | fs.constants.O_NONBLOCK);
  } catch (e) {
    throw ioError("open the index", path, e, "Check the path and its permissions.");
  }
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    throw ioError("read the index", path, e);
  }
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw new IdxError("ERR_IDX_IO", "cannot read the index: it is not a regular file", { path, hint: "Pass the path of an index file." });
  }
  return { fd, stat };
}

/**
 * The slot region of a mapped file as core/slots.ts views it: one window, or several past 2 GiB.
 * IDX_WINDOW_SLOTS (a power of two from 1024) makes windows that small, so that tests reach the
 * paths of files past 2 GiB with files of kilobytes.
 */
export function regionOf(mapping: Mapping, layout: Layout, slotCount: number): SlotRegion {
  const windowSlots = Math.min(windowSlotsForTests() ?? SEGMENT_SLOTS, segmentSlots(layout));
  const windows: Uint32Array[] = [];
  for (let k = 0; k < windowCount(slotCount, windowSlots); k++) {
    const slots = windowEnd(slotCount, k, windowSlots) - k * windowSlots;
    const bytes = mapping.bytes(slotOffset(layout, k * windowSlots), slots * layout.slotBytes);
    windows.push(new Uint32Array(bytes.buffer, bytes.byteOffset, slots * layout.slotWords));
  }
  return new SlotRegion(slotCount, windows, windowSlots, layout);
}

function windowSlotsForTests(): number | undefined {
  const text = process.env.IDX_WINDOW_SLOTS;
  if (!text) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1024 || (n & (n - 1)) !== 0 || n > SEGMENT_SLOTS) {
    throw new IdxError("ERR_IDX_INVALID_ARGUMENT", `IDX_WINDOW_SLOTS must be a power of two from 1024 to ${SEGMENT_SLOTS}, not ${text}`);
  }
  return n;
}

/** The header of a mapped file as uint32 words (cells read and stored in place). */
export function headerWordsOf(mapping: Mapping, layout: Layout): Uint32Array {
  const bytes = mapping.bytes(0, layout.headerBytes);
  return new Uint32Array(bytes.buffer, bytes.byteOffset, layout.headerBytes / 4);
}

/**
 * The header of a mapped file, validated (§9.1 rules 1 to 9). A file another process may be
 * writing is read between two loads of seq (§11.7 "The header"), so that its cells belong
 * together; a foreign or short file is read once.
 */
export function headerOf(mapping: Mapping, path: string, onDead?: (seq: number) => void): Header {
  const view = mapping.bytes(0, Math.min(mapping.size, MAX_HEADER_BYTES));
  const read = () => snapshotHeader(view);
  let bytes = read();
  if (mapping.live && view.length >= CELL_SEQ + 4 && MAGIC.every((b, i) => bytes[i] === b)) {
    const file = new MappedSeq(new Uint32Array(view.buffer, view.byteOffset, (CELL_SEQ + 4) / 4), path, mapping);
    bytes = stableHeader(read, file);
    if (onDead !== undefined && file.dead() !== NO_DEAD_SEQ) onDead(file.dead());
  }
  return readHeader(bytes, mapping.size, path);
}

/** The seq of a mapped file, with the lock test of §11.7 through its path. */
export class MappedSeq implements SeqSource {
  #dead = NO_DEAD_SEQ;

  /** `words` views at least the header's first CELL_SEQ + 4 bytes. */
  constructor(readonly words: Uint32Array, readonly path: string, readonly mapping: Mapping) {}

  seq(): number {
    return Atomics.load(this.words, CELL_SEQ / 4);
  }

  dead(): number {
    return this.#dead;
  }

  writerGone(): boolean {
    return writerHoldsLockAt(this.path, this.mapping.dev, this.mapping.ino) === false;
  }

  markDead(seq: number): void {
    this.#dead = seq;
  }
}
