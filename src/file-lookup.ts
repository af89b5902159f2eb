/**
 * Lookups by reading the file (pread) instead of mapping it. For a process that asks a few
 * questions and exits (`idx get FILE KEY`), mapping costs more than answering: loading the
 * native mmap binding alone takes over a millisecond, while a lookup here is three small reads.
 * Same validation as IdIndex.open, same probe (spec/FORMAT.md §5.3). Meant for one-shot
 * lookups: it does not follow writers (§11) the way IdIndex does.
 */
import * as fs from "node:fs";
import { IdxError, ioError } from "./errors";
import {
  EMPTY_HASH, HEADER_BYTES, Header, SLOT_BYTES, SLOT_WORDS, checkSentinel, readHeader,
} from "./format";
import { hash32, homeSlot } from "./hash";

/** Slots read per pread: one 512-byte window holds a whole probe run at the builder's load. */
const WINDOW_SLOTS = 64;

export class FileLookup {
  readonly #fd: number;
  readonly #header: Header;
  readonly #window = new Uint32Array(WINDOW_SLOTS * SLOT_WORDS);
  readonly #bytes = new Uint8Array(this.#window.buffer);

  private constructor(fd: number, header: Header) {
    this.#fd = fd;
    this.#header = header;
  }

  /** Validates `path` exactly as IdIndex.open does. Throws the same IdxErrors. */
  static open(path: string): FileLookup {
    let fd: number;
    try {
      fd = fs.openSync(path, "r");
    } catch (e) {
      throw ioError("open the index", path, e, "Check the path and its permissions.");
    }
    try {
      const stat = fs.fstatSync(fd);
      if (!stat.isFile()) {
        throw new IdxError("ERR_IDX_IO", "cannot read the index: it is not a regular file", { path, hint: "Pass the path of an index file." });
      }
      const size = stat.size;
      const head = new Uint8Array(HEADER_BYTES);
      fs.readSync(fd, head, 0, HEADER_BYTES, 0);
      const header = readHeader(head, size, path);
      const last = new Uint8Array(4);
      fs.readSync(fd, last, 0, 4, HEADER_BYTES + (header.slotCount - 1) * SLOT_BYTES);
      checkSentinel(new DataView(last.buffer).getUint32(0, true), path);
      return new FileLookup(fd, header);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  get(key: number): number | undefined {
    const h = this.#header;
    const hash = hash32(key);
    if (hash === EMPTY_HASH) return h.escapedPresent ? h.escapedValue : undefined;
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

  close(): void {
    fs.closeSync(this.#fd);
  }
}
